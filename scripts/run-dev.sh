#!/usr/bin/env bash
# The local stack in the foreground: demo data, then the API (uvicorn), the worker (arq) and a
# local SMTP sink that saves every mail to .devdata/mail/. `make run` calls this after
# `make install`, `scripts/dev-services.sh up` and the migrations.
#
# Ctrl-C (or SIGTERM) stops these three; PostgreSQL and Redis keep running so that the next
# `make run` / `make test` reuses them (`make stop` stops them). If one of the three dies, the
# others are stopped and the script exits non-zero.
#
# Environment: BOOKING_PORT (8000); BOOKING_DATABASE_URL / BOOKING_REDIS_URL (default: the
# servers of scripts/dev-services.sh); NANUM_START_TIMEOUT (60 s for /healthz to answer).
set -euo pipefail
LOG_TAG=run
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO"
VENV=$REPO/.venv
PY=$VENV/bin/python
PORT=${BOOKING_PORT:-8000}
URL=http://127.0.0.1:$PORT
MAIL_DIR=$REPO/.devdata/mail
START_TIMEOUT=${NANUM_START_TIMEOUT:-60}

[[ -x $PY && -x $VENV/bin/uvicorn && -x $VENV/bin/arq ]] || die "no complete $VENV: run \`make install\`"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
eval "$(bash scripts/dev-services.sh env)" # only fills the URLs that are not set
export BOOKING_DATABASE_URL BOOKING_REDIS_URL

log "loading demo data"
"$PY" -m booking demo-data

names=()
pids=()

# Each child runs in its own process group (set -m), so that stopping it stops all it spawned,
# and so that Ctrl-C reaches only this script, which then stops the children in order.
set -m
start() {
  local name=$1
  shift
  "$@" </dev/null &
  names+=("$name")
  pids+=("$!")
  log "started $name (pid $!): $*"
}

stop_children() {
  local i pid deadline=$((SECONDS + 10))
  ((${#pids[@]})) || return 0
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for i in "${!pids[@]}"; do
    pid=${pids[$i]}
    while kill -0 -- "-$pid" 2>/dev/null; do
      if ((SECONDS >= deadline)); then
        log "${names[$i]} (pid $pid) ignored SIGTERM for 10s: killing it"
        kill -KILL -- "-$pid" 2>/dev/null || true
        break
      fi
      sleep 0.1
    done
  done
  wait 2>/dev/null || true
  pids=()
}

on_exit() {
  local rc=$?
  trap - EXIT INT TERM HUP
  set +m # no job-status chatter while the children stop
  if ((${#pids[@]})); then
    log "stopping the API, the worker and the SMTP sink"
    stop_children
    log "PostgreSQL and Redis keep running for the next \`make run\`/\`make test\`;" \
      "\`make stop\` stops them"
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Exits non-zero, naming it, when one of the children has died.
check_children() {
  local i rc
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      rc=0
      wait "${pids[$i]}" 2>/dev/null || rc=$?
      log "${names[$i]} (pid ${pids[$i]}) exited with status $rc; stopping the others"
      exit $((rc == 0 ? 1 : rc))
    fi
  done
}

mkdir -p "$MAIL_DIR"
start smtp-sink "$PY" -m booking smtp-sink
start worker "$VENV/bin/arq" workers.settings.WorkerSettings
start api "$VENV/bin/uvicorn" booking.app:create_app --factory --host 127.0.0.1 --port "$PORT" \
  --loop uvloop --http httptools --no-access-log --no-proxy-headers

# Wait for the API, with Python's urllib (curl may be missing); no proxy for loopback.
api_healthy() {
  "$PY" -c '
import sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
opener.open(sys.argv[1], timeout=2).close()
' "$URL/healthz" 2>/dev/null
}
deadline=$((SECONDS + START_TIMEOUT))
until api_healthy; do
  check_children
  ((SECONDS < deadline)) || die "the API did not answer $URL/healthz within ${START_TIMEOUT}s"
  sleep 0.5
done

cat >&2 <<EOF

  Nanum is running
    Web pages      $URL/   (open in a browser; sign in as citizen@nanum.localhost, password above)
    API            $URL
    API docs       $URL/schema
    OpenAPI JSON   $URL/schema/openapi.json
    Mail           $MAIL_DIR/ (the SMTP sink saves every message as .eml)
    Database       $BOOKING_DATABASE_URL
    Redis          $BOOKING_REDIS_URL
    Demo accounts  printed above by \`python -m booking demo-data\`

  Ctrl-C stops the API, the worker and the SMTP sink. PostgreSQL and Redis keep running
  (reused next time); \`make stop\` stops them.

EOF

# Sleep until a child dies (or a signal arrives: the traps above take over).
while true; do
  dead="" rc=0
  wait -n -p dead "${pids[@]}" || rc=$?
  [[ -n $dead ]] || continue
  for i in "${!pids[@]}"; do
    if [[ ${pids[$i]} == "$dead" ]]; then
      log "${names[$i]} (pid $dead) exited with status $rc; stopping the others"
      unset "pids[$i]" "names[$i]"
    fi
  done
  exit $((rc == 0 ? 1 : rc))
done
