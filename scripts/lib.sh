# shellcheck shell=bash
# Helpers shared by the scripts in this folder. Source it; do not run it.

log() { printf '[%s] %s\n' "${LOG_TAG:-nanum}" "$*" >&2; }
die() { printf '[%s] error: %s\n' "${LOG_TAG:-nanum}" "$*" >&2; exit 1; }

# Run a command as root: directly when we are root, through sudo when it exists.
as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run '$*' (and sudo is not installed); run it as root once, then retry"
  fi
}

# Install Debian packages (apt-get update first). Waits for a dpkg lock held by another apt.
apt_install() {
  command -v apt-get >/dev/null 2>&1 ||
    die "apt-get not found: install $* by hand (this script only knows Debian/Ubuntu)"
  log "installing $* with apt-get (one-off)"
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600)
  local try
  for try in 1 2 3; do
    if as_root "${apt[@]}" update -q >&2; then break; fi
    [[ $try -lt 3 ]] || die "apt-get update failed (see above)"
    log "apt-get update failed (another apt running?); retrying in 10s"
    sleep 10
  done
  as_root "${apt[@]}" install -y --no-install-recommends "$@" >&2 ||
    die "apt-get install $* failed (see above)"
}
