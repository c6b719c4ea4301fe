#!/usr/bin/env bash
# Create the project virtualenv and put a pinned uv into it.
#   usage: scripts/ensure-venv.sh VENV_DIR UV_VERSION
# Installs Debian's python3-venv when `python3 -m venv` cannot work (fresh Debian).
set -euo pipefail
LOG_TAG=venv
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

venv=${1:?usage: ensure-venv.sh VENV_DIR UV_VERSION}
uv_version=${2:?usage: ensure-venv.sh VENV_DIR UV_VERSION}
python=${PYTHON3:-python3}

command -v "$python" >/dev/null 2>&1 || die "$python not found: install Python 3.11 or newer"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  die "$("$python" -V 2>&1) is too old: Nanum needs Python 3.11 or newer"

if [[ ! -x $venv/bin/python || ! -x $venv/bin/pip ]]; then
  # A failed `python3 -m venv` leaves a half-made folder behind: start clean each time.
  rm -rf "$venv"
  if ! "$python" -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    # Debian splits venv/ensurepip out of the interpreter package.
    apt_install python3-venv
    "$python" -m venv "$venv" || die "'$python -m venv $venv' still fails"
  fi
  log "created $venv ($("$venv/bin/python" -V 2>&1))"
fi

if [[ "$("$venv/bin/uv" --version 2>/dev/null)" != "uv $uv_version"* ]]; then
  log "installing uv==$uv_version into $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "uv==$uv_version"
fi
