#!/usr/bin/env bash
# Tools the benchmarks drive the API with: wrk (HTTP load generator, C, from Debian's packages).
set -euo pipefail
LOG_TAG=bench-tools
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v wrk >/dev/null 2>&1 || apt_install wrk
