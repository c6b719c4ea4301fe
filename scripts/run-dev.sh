#!/usr/bin/env bash
# The local stack in the foreground: demo data, then the API (uvicorn), the worker (arq) and a
# local SMTP sink that saves every mail to .devdata/mail/. `make run` calls this after
# `make install`, `scripts/dev-services.sh up` and the migrations.
#
# Ctrl-C (or SIGTERM) stops these three; PostgreSQL and Redis keep running so that the next
# `make run` / `make test` reuses them (`make stop` stops them). If one of the three dies once
# the stack is up, it alone is restarted (a log line says so), after 1 s, then 2, 4, … up to
# 30 s; after NANUM_RESTART_LIMIT restarts in a row (a child that ran for a minute starts a new
# row) the script gives up, stops the others and exits non-zero. A child dying while the stack
# starts is fatal at once. The worker itself rides out Redis and Postgres restarts
# (workers/worker.py), so this is for crashes and kills.
#
# Environment: BOOKING_PORT (8000); BOOKING_DATABASE_URL / BOOKING_REDIS_URL (default: the
# servers of scripts/dev-services.sh); NANUM_START_TIMEOUT (60 s for /healthz to answer);
# NANUM_RESTART_LIMIT (5).
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
RESTART_LIMIT=${NANUM_RESTART_LIMIT:-5}
RESTART_RESET_SECONDS=60

[[ -x $PY && -x $VENV/bin/uvicorn ]] || die "no complete $VENV: run \`make install\`"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
eval "$(bash scripts/dev-services.sh env)" # only fills the URLs that are not set
export BOOKING_DATABASE_URL BOOKING_REDIS_URL

log "loading demo data"
"$PY" -m booking demo-data

names=()
pids=()
cmds=()     # each child's command, quoted for eval (to restart it)
restarts=() # restarts in a row
started=()  # $SECONDS when it last started

# Each child runs in its own process group (set -m), so that stopping it stops all it spawned,
# and so that Ctrl-C reaches only this script, which then stops the children in order.
set -m
start() {
  local name=$1
  shift
  "$@" </dev/null &
  names+=("$name")
  pids+=("$!")
  cmds+=("$(printf '%q ' "$@")")
  restarts+=(0)
  started+=("$SECONDS")
  log "started $name (pid $!): $*"
}

# Start child $1 again with its command; it keeps its place in the arrays.
restart() {
  local i=$1
  eval "${cmds[$i]}" </dev/null &
  pids[i]=$!
  started[i]=$SECONDS
  log "restarted ${names[$i]} (pid $!)"
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
start worker "$PY" -m workers
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

# Sleep until a child dies (or a signal arrives: the traps above take over); restart it, up to
# RESTART_LIMIT times in a row.
while true; do
  dead="" rc=0
  wait -n -p dead "${pids[@]}" || rc=$?
  [[ -n $dead ]] || continue
  for i in "${!pids[@]}"; do
    [[ ${pids[$i]} == "$dead" ]] || continue
    if ((SECONDS - started[i] >= RESTART_RESET_SECONDS)); then restarts[i]=0; fi
    if ((restarts[i] >= RESTART_LIMIT)); then
      log "${names[$i]} (pid $dead) exited with status $rc after $RESTART_LIMIT restarts in a" \
        "row; giving up and stopping the others"
      unset "pids[$i]" "names[$i]"
      exit $((rc == 0 ? 1 : rc))
    fi
    restarts[i]=$((restarts[i] + 1))
    delay=$((1 << (restarts[i] - 1)))
    ((delay <= 30)) || delay=30
    log "${names[$i]} (pid $dead) exited with status $rc; restarting it in ${delay}s" \
      "(restart ${restarts[i]} of at most $RESTART_LIMIT in a row)"
    sleep "$delay" &
    wait $! || true
    restart "$i"
  done
done
