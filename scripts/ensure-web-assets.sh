#!/usr/bin/env bash
# The pages' front-end packages and built assets: npm (from apt when missing), `npm ci` from the
# committed package-lock.json (no install scripts run), then `python -m booking.web.build_assets`
# (KRDS CSS and icons, htmx, Swagger UI, the Pretendard GOV subset; fingerprinted, gzip + br).
# Called by `make install`; a second run with nothing changed does nothing.
set -euo pipefail
LOG_TAG=web-assets
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO"
PY=${1:-$REPO/.venv/bin/python}

command -v npm >/dev/null 2>&1 || apt_install npm
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  log "npm ci (locked front-end packages: krds-uiux, htmx.org, swagger-ui-dist)"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2
  touch node_modules/.package-lock.json
fi
stamp=booking/web/static/build/manifest.json
sources=(node_modules/.package-lock.json booking/web/assets.py booking/web/static/src booking/web/templates booking/web/translations)
if [[ -f $stamp ]] && [[ -z $(find "${sources[@]}" -newer "$stamp" -print -quit) ]]; then
  exit 0
fi
PYTHONPATH="$REPO" "$PY" -m booking.web.build_assets
