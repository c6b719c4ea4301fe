#!/usr/bin/env bash
# What the browser tests (tests/web) drive: Debian's Chromium (Playwright's own browser download
# is not used) and a Korean system font, so that screenshots of names outside the interface's
# own typeface subset are legible. Called by `make test`.
set -euo pipefail
LOG_TAG=browser
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
[[ -d /usr/share/fonts/truetype/nanum ]] || missing+=(fonts-nanum)
((${#missing[@]} == 0)) || apt_install "${missing[@]}"
