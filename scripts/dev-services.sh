#!/usr/bin/env bash
# Local PostgreSQL and Redis for development and tests, kept under .devdata/ (git-ignored).
#
#   scripts/dev-services.sh up       install (apt-get, once) and start what is missing; idempotent
#   scripts/dev-services.sh down     stop the servers that live under .devdata/
#   scripts/dev-services.sh status   say what runs where
#   scripts/dev-services.sh env      print `export BOOKING_…_URL=…` lines, for eval
#
# A service whose URL is already in the environment (BOOKING_DATABASE_URL, BOOKING_REDIS_URL)
# is used as it is: nothing is installed or started for it. Each variable counts on its own.
#
# Settings (environment):
#   NANUM_PG_PORT=55432  NANUM_REDIS_PORT=56379   ports on 127.0.0.1 (the only address used)
#   NANUM_PG_FAST=1      synchronous_commit=off (tests, CI); takes effect when Postgres starts
#   NANUM_PG_BIN=DIR     PostgreSQL binaries to use (default: newest /usr/lib/postgresql/*/bin)
#   NANUM_SERVICES_TIMEOUT=60   seconds to wait for a server to answer
#
# PostgreSQL refuses to run as root: as root, its server runs as the system user nanum-pg
# (created on first use), which owns .devdata/pg. When nanum-pg cannot reach the checkout (it
# lies under a private folder such as /root), .devdata/pg is a link to
# /var/tmp/nanum-dev/<hash of the checkout path>/pg. Redis runs as the calling user.
set -euo pipefail
LOG_TAG=dev-services
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
DEVDATA=$REPO/.devdata

PG_PORT=${NANUM_PG_PORT:-55432}
REDIS_PORT=${NANUM_REDIS_PORT:-56379}
TIMEOUT=${NANUM_SERVICES_TIMEOUT:-60}
[[ $PG_PORT =~ ^[0-9]+$ && $REDIS_PORT =~ ^[0-9]+$ ]] ||
  die "NANUM_PG_PORT and NANUM_REDIS_PORT must be port numbers"

PG_MIN_VERSION=15
PG_OS_USER=nanum-pg # the unprivileged system user that runs postgres when we are root
DB_ROLE=nanum       # bootstrap superuser (tests need CREATE DATABASE / CREATE EXTENSION)
DB_NAME=nanum
# .devdata/pg, or where it links to (see prepare_pg_dir), and the paths inside it.
set_pg_dir() {
  PG_DIR=$1
  PG_DATA=$PG_DIR/data
  PG_RUN=$PG_DIR/run
  PG_LOG=$PG_DIR/postgres.log
  PG_INIT_DONE=$PG_DIR/.initdb-done
}
if [[ -L $DEVDATA/pg ]]; then set_pg_dir "$(readlink -f "$DEVDATA/pg")"; else set_pg_dir "$DEVDATA/pg"; fi

REDIS_DIR=$DEVDATA/redis
REDIS_PIDFILE=$REDIS_DIR/redis.pid
REDIS_LOG=$REDIS_DIR/redis.log

DATABASE_URL="postgresql://$DB_ROLE@127.0.0.1:$PG_PORT/$DB_NAME"
REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"

want_pg() { [[ -z ${BOOKING_DATABASE_URL:-} ]]; }
want_redis() { [[ -z ${BOOKING_REDIS_URL:-} ]]; }

# Wait until a command succeeds: wait_until SECONDS WHAT LOGFILE COMMAND...
wait_until() {
  local seconds=$1 what=$2 logfile=$3
  shift 3
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    ((SECONDS < deadline)) || die "$what did not answer within ${seconds}s; see $logfile"
    sleep 0.2
  done
}

# Take an exclusive lock on .devdata so that two `make test` runs do not start servers twice.
lock_devdata() {
  mkdir -p "$DEVDATA"
  chmod 0755 "$DEVDATA"
  command -v flock >/dev/null 2>&1 || return 0
  exec 9>>"$DEVDATA/.lock"
  flock -w 600 9 || die "another dev-services.sh holds $DEVDATA/.lock"
}

# ---------------------------------------------------------------- PostgreSQL

PG_BIN=""
PG_VERSION=""

# Pick the PostgreSQL binaries: those that made an existing data dir, else NANUM_PG_BIN, else
# the newest /usr/lib/postgresql/*/bin that is at least PG_MIN_VERSION.
find_pg_bin() {
  local dir ver
  if [[ -s $PG_DATA/PG_VERSION ]]; then
    ver=$(<"$PG_DATA/PG_VERSION")
    dir=${NANUM_PG_BIN:-/usr/lib/postgresql/$ver/bin}
    [[ -x $dir/postgres ]] || die "$PG_DATA was made by PostgreSQL $ver, whose binaries are" \
      "not in $dir: install postgresql-$ver, or \`make stop && rm -rf .devdata/pg\` to start afresh"
    PG_BIN=$dir PG_VERSION=$ver
    return 0
  fi
  if [[ -n ${NANUM_PG_BIN:-} ]]; then
    [[ -x $NANUM_PG_BIN/postgres ]] || die "NANUM_PG_BIN=$NANUM_PG_BIN has no postgres binary"
    PG_BIN=$NANUM_PG_BIN
    PG_VERSION=$("$PG_BIN/postgres" --version | awk '{ split($3, v, "."); print v[1] }')
    return 0
  fi
  PG_BIN="" PG_VERSION=0
  for dir in /usr/lib/postgresql/*/bin; do
    ver=${dir#/usr/lib/postgresql/}
    ver=${ver%/bin}
    [[ $ver =~ ^[0-9]+$ && -x $dir/initdb && -x $dir/pg_ctl && -x $dir/postgres ]] || continue
    if ((ver > PG_VERSION)); then PG_BIN=$dir PG_VERSION=$ver; fi
  done
  ((PG_VERSION >= PG_MIN_VERSION))
}

pg_has_btree_gist() {
  local sharedir
  sharedir=$("$PG_BIN/pg_config" --sharedir 2>/dev/null) || sharedir=/usr/share/postgresql/$PG_VERSION
  [[ -f $sharedir/extension/btree_gist.control ]]
}


# Run a PostgreSQL server-side binary: as nanum-pg when we are root, else as ourselves.
as_pg() {
  if [[ $EUID -ne 0 ]]; then
    "$@"
  elif command -v runuser >/dev/null 2>&1; then
    (cd / && runuser -u "$PG_OS_USER" -- "$@")
  else
    (cd / && su -s /bin/sh "$PG_OS_USER" -c "$(printf '%q ' "$@")")
  fi
}

# Own .devdata/pg with the user that will run postgres, and check that it can reach it.
prepare_pg_dir() {
  if [[ $EUID -eq 0 ]]; then
    if ! id -u "$PG_OS_USER" >/dev/null 2>&1; then
      log "creating system user $PG_OS_USER to run PostgreSQL (it refuses to run as root)"
      useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
        "$PG_OS_USER" || id -u "$PG_OS_USER" >/dev/null 2>&1 ||
        die "could not create system user $PG_OS_USER"
    fi
    # A checkout under a private folder (say /root, mode 700) is out of nanum-pg's reach:
    # keep the PostgreSQL files under /var/tmp instead, linked from .devdata/pg.
    if [[ ! -e $DEVDATA/pg ]] && ! as_pg test -x "$DEVDATA"; then
      local outside
      outside=/var/tmp/nanum-dev/$(printf '%s' "$REPO" | sha256sum | cut -c1-12)
      install -d -m 0755 /var/tmp/nanum-dev "$outside"
      ln -s "$outside/pg" "$DEVDATA/pg"
      set_pg_dir "$outside/pg"
      log "$PG_OS_USER cannot reach $DEVDATA: PostgreSQL files go to $PG_DIR" \
        "(linked from .devdata/pg)"
    fi
    mkdir -p "$PG_DIR"
    if [[ $(stat -c %U "$PG_DIR") != "$PG_OS_USER" ]]; then
      chown -R "$PG_OS_USER:" "$PG_DIR"
    fi
    as_pg test -w "$PG_DIR" -a -x "$PG_DIR" ||
      die "user $PG_OS_USER cannot reach $PG_DIR: make every parent directory of $REPO" \
        "traversable (chmod o+x), or set BOOKING_DATABASE_URL"
  elif mkdir -p "$PG_DIR" && [[ ! -O $PG_DIR ]]; then
    die "$PG_DIR belongs to $(stat -c %U "$PG_DIR"), not you: run as root, or" \
      "remove it (sudo rm -rf $PG_DIR) to start afresh"
  fi
}

# Write a file inside the data dir, owned by whoever runs postgres.
write_pg_file() {
  cat >"$1"
  if [[ $EUID -eq 0 ]]; then chown "$PG_OS_USER:" "$1"; fi
}

sql_quote() { printf "'%s'" "${1//\'/\'\'}"; }

write_pg_conf() {
  local socket_dir=$PG_RUN
  # A Unix socket path must fit in 107 bytes; with a long repo path, use TCP only.
  if ((${#PG_RUN} + ${#PG_PORT} + 11 > 107)); then socket_dir=""; fi
  mkdir -p "$PG_RUN"
  if [[ $EUID -eq 0 ]]; then chown "$PG_OS_USER:" "$PG_RUN"; fi
  {
    echo "# Written by scripts/dev-services.sh at every start: change that script, not this file."
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $PG_PORT"
    echo "unix_socket_directories = $(sql_quote "$socket_dir")"
    echo "max_connections = 300"
    echo "shared_buffers = 256MB"
    if [[ ${NANUM_PG_FAST:-} == 1 ]]; then
      echo "synchronous_commit = off # NANUM_PG_FAST=1; fsync stays on"
    fi
  } | write_pg_file "$PG_DATA/nanum.conf"
}

pg_initdb() {
  [[ -f $PG_INIT_DONE && -s $PG_DATA/PG_VERSION ]] && return 0
  as_pg rm -rf "$PG_DATA" # left over from an interrupted initdb, if anything
  local locale=C.UTF-8
  locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$' || locale=C
  local fast=()
  if [[ ${NANUM_PG_FAST:-} == 1 ]]; then fast=(--no-sync); fi
  log "initdb $PG_DATA (PostgreSQL $PG_VERSION, locale $locale)"
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" --auth=trust --username="$DB_ROLE" --encoding=UTF8 \
    --locale="$locale" "${fast[@]}" >"$PG_DIR/initdb.log" 2>&1 ||
    die "initdb failed; see $PG_DIR/initdb.log"
  echo "include_if_exists = 'nanum.conf'" >>"$PG_DATA/postgresql.conf"
  touch "$PG_INIT_DONE"
}

pg_running() {
  [[ -f $PG_DATA/postmaster.pid ]] && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}

pg_running_port() { sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null; }

pg_ready() {
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U "$DB_ROLE" -d postgres -t 2
}

psql_admin() {
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U "$DB_ROLE" -d postgres "$@"
}

pg_up() {
  prepare_pg_dir
  pg_initdb
  if pg_running; then
    local port
    port=$(pg_running_port)
    [[ $port == "$PG_PORT" ]] || die "the PostgreSQL of $PG_DATA is running on port $port, not" \
      "$PG_PORT: run \`scripts/dev-services.sh down\` first"
  else
    write_pg_conf
    log "starting PostgreSQL $PG_VERSION on 127.0.0.1:$PG_PORT (log: $PG_LOG)"
    # 9>&-: the server must not inherit (and so hold) the lock on .devdata.
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$TIMEOUT" -s start 9>&- ||
      die "PostgreSQL did not start; see $PG_LOG"
  fi
  wait_until "$TIMEOUT" "PostgreSQL on 127.0.0.1:$PG_PORT" "$PG_LOG" pg_ready
  if [[ $(psql_admin -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'") != 1 ]]; then
    log "creating database $DB_NAME owned by $DB_ROLE"
    psql_admin -c "CREATE DATABASE $DB_NAME OWNER $DB_ROLE"
  fi
  log "PostgreSQL ready: $DATABASE_URL"
}

pg_down() {
  if [[ ! -f $PG_INIT_DONE ]] || ! find_pg_bin || ! pg_running; then
    log "PostgreSQL of $PG_DATA is not running"
    return 0
  fi
  log "stopping PostgreSQL (port $(pg_running_port))"
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t "$TIMEOUT" -s stop ||
    die "PostgreSQL did not stop; see $PG_LOG"
}

pg_status() {
  if ! want_pg; then
    echo "postgres: external (BOOKING_DATABASE_URL is set)"
  elif [[ ! -f $PG_INIT_DONE ]] || ! find_pg_bin 2>/dev/null; then
    echo "postgres: not set up (run: scripts/dev-services.sh up)"
    return 1
  elif pg_running; then
    echo "postgres: running, PostgreSQL $PG_VERSION on 127.0.0.1:$(pg_running_port)" \
      "(data $PG_DATA, log $PG_LOG)"
  else
    echo "postgres: stopped (data $PG_DATA)"
    return 1
  fi
}

# ---------------------------------------------------------------- Redis

redis_ping() {
  [[ $(timeout 3 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
}

# The pid of the redis-server started from .devdata, if it still runs.
redis_our_pid() {
  local pid
  pid=$(cat "$REDIS_PIDFILE" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ && $(cat "/proc/$pid/comm" 2>/dev/null) == redis-server* ]] || return 1
  echo "$pid"
}

redis_up() {
  if ! redis_ping; then
    if redis_our_pid >/dev/null; then
      die "the Redis of $REDIS_DIR runs but does not answer on port $REDIS_PORT: run" \
        "\`scripts/dev-services.sh down\` first (log: $REDIS_LOG)"
    fi
    mkdir -p "$REDIS_DIR"
    log "starting Redis on 127.0.0.1:$REDIS_PORT (log: $REDIS_LOG)"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes \
      --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG" --dir "$REDIS_DIR" \
      --save "" --appendonly no 9>&- ||
      die "redis-server did not start; see $REDIS_LOG"
    wait_until "$TIMEOUT" "Redis on 127.0.0.1:$REDIS_PORT" "$REDIS_LOG" redis_ping
  fi
  log "Redis ready: $REDIS_URL"
}

redis_down() {
  local pid
  if ! pid=$(redis_our_pid); then
    log "Redis of $REDIS_DIR is not running"
    return 0
  fi
  log "stopping Redis (pid $pid)"
  timeout 10 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 ||
    kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    ((SECONDS < deadline)) || die "Redis (pid $pid) did not stop; see $REDIS_LOG"
    sleep 0.1
  done
}

redis_status() {
  local pid
  if ! want_redis; then
    echo "redis: external (BOOKING_REDIS_URL is set)"
  elif redis_ping; then
    if pid=$(redis_our_pid); then
      echo "redis: running on 127.0.0.1:$REDIS_PORT (pid $pid, log $REDIS_LOG)"
    else
      echo "redis: a Redis not started from $REDIS_DIR answers on 127.0.0.1:$REDIS_PORT"
    fi
  else
    echo "redis: stopped"
    return 1
  fi
}

# ---------------------------------------------------------------- main

have_redis() { command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; }

# Install (one apt-get run) the servers that are needed and missing.
ensure_installed() {
  local packages=()
  if want_pg && ! { find_pg_bin && pg_has_btree_gist; }; then
    packages+=(postgresql postgresql-contrib)
  fi
  if want_redis && ! have_redis; then packages+=(redis-server redis-tools); fi
  ((${#packages[@]} == 0)) || apt_install "${packages[@]}"
  if want_pg; then
    find_pg_bin || die "no PostgreSQL >= $PG_MIN_VERSION under /usr/lib/postgresql; install one" \
      "(or set NANUM_PG_BIN, or BOOKING_DATABASE_URL)"
    pg_has_btree_gist || die "PostgreSQL $PG_VERSION in $PG_BIN lacks the btree_gist extension" \
      "(package postgresql-contrib)"
  fi
  if want_redis; then have_redis || die "redis-server/redis-cli not found after apt-get"; fi
}

usage() {
  sed -n '2,8s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
  exit 2
}

cmd=${1:-}
case $cmd in
  up)
    if want_pg || want_redis; then
      lock_devdata
      ensure_installed
    fi
    if want_pg; then pg_up; else log "PostgreSQL: using BOOKING_DATABASE_URL as set"; fi
    if want_redis; then redis_up; else log "Redis: using BOOKING_REDIS_URL as set"; fi
    ;;
  down)
    # Stops only the servers that live under .devdata, whatever the environment says.
    [[ -d $DEVDATA ]] || exit 0
    lock_devdata
    pg_down
    redis_down
    log "stopped (data kept in $DEVDATA)"
    ;;
  status)
    rc=0
    pg_status || rc=1
    redis_status || rc=1
    exit "$rc"
    ;;
  env)
    if want_pg; then echo "export BOOKING_DATABASE_URL=$DATABASE_URL"; fi
    if want_redis; then echo "export BOOKING_REDIS_URL=$REDIS_URL"; fi
    ;;
  *) usage ;;
esac
