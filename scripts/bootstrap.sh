# Sourced by scripts/run and scripts/test: make sure .venv holds Slipway's dependencies, and that
# the dashboard is built.
#   bootstrap_venv [EXTRA]   installs the project (with the optional extra, e.g. "test")
#   build_dashboard          builds frontend/dist with npm when its sources changed
# Dependencies are reinstalled only when pyproject.toml changes, so a second start is instant.

SLIPWAY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SLIPWAY_VENV="${SLIPWAY_VENV:-$SLIPWAY_ROOT/.venv}"

say() { printf 'slipway: %s\n' "$*" >&2; }

as_root_install() {
  # Installs Debian packages when we may (root with apt-get); otherwise says what is missing.
  # apt's own chatter (and needrestart's, which complains on a closed terminal) goes to a log
  # that is shown only when the install fails.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing with apt-get: $*"
    local log status=0
    log="$(mktemp)"
    { apt-get update -qq && NEEDRESTART_SUSPEND=1 DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq "$@"; } >"$log" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
      say "apt-get could not install $* (exit $status):"
      tail -n 20 "$log" >&2
    fi
    rm -f "$log"
    return "$status"
  else
    say "missing: $*; install it with: sudo apt-get install $*"
    return 1
  fi
}

find_python() {
  for candidate in "${PYTHON:-}" python3 python3.13 python3.12 python3.11; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  say "Python 3.11 or newer is required (set PYTHON=/path/to/python3.11)"
  return 1
}

bootstrap_venv() {
  local extra="${1:-}" python spec stamp
  if [ ! -x "$SLIPWAY_VENV/bin/python" ]; then
    python="$(find_python)" || return 1
    say "creating $SLIPWAY_VENV"
    if ! "$python" -m venv "$SLIPWAY_VENV" >/dev/null 2>&1; then
      rm -rf "$SLIPWAY_VENV"
      # Debian ships venv support separately from python3.
      as_root_install python3-venv || return 1
      "$python" -m venv "$SLIPWAY_VENV" || return 1
    fi
  fi
  spec="$SLIPWAY_ROOT"
  [ -n "$extra" ] && spec="$SLIPWAY_ROOT[$extra]"
  stamp="$SLIPWAY_VENV/.installed-${extra:-base}"
  if [ ! -f "$stamp" ] || [ "$SLIPWAY_ROOT/pyproject.toml" -nt "$stamp" ]; then
    say "installing Python dependencies${extra:+ ($extra)} into $SLIPWAY_VENV"
    "$SLIPWAY_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
      --editable "$spec" 2>&1 | grep -v "^WARNING: Location" >&2 || true
    "$SLIPWAY_VENV/bin/python" -W ignore -c "import tornado, psycopg, pgserver, docker, socketio, acme, dns.asyncresolver" || {
      say "dependency installation failed (see pip's messages above)"; return 1; }
    if [ "$extra" = test ]; then
      "$SLIPWAY_VENV/bin/python" -W ignore -c "import pytest, pytest_tornado, pytest_timeout, aiohttp" || {
        say "test dependency installation failed"; return 1; }
    fi
    touch "$stamp"
  fi
}

# build_dashboard: build frontend/dist when it is missing or older than its sources, running
# `npm ci` first when node_modules is missing or older than package-lock.json. Returns 1 (after
# saying why) when Node and npm are missing or a step fails. One build at a time per checkout.
build_dashboard() {
  if ! have_node; then
    say "Node.js 20+ and npm are needed to build the dashboard; install them and run again"
    return 1
  fi
  (
    cd "$SLIPWAY_ROOT/frontend" || exit 1
    if command -v flock >/dev/null; then
      exec 9>"$SLIPWAY_VENV/.dashboard-build.lock" && flock 9
    fi
    if [ ! -f node_modules/.package-lock.json ] ||
       [ package-lock.json -nt node_modules/.package-lock.json ]; then
      say "installing the dashboard's npm packages (npm ci)"
      npm ci --no-audit --no-fund --loglevel=error >&2 || { say "npm ci failed"; exit 1; }
    fi
    if [ ! -f dist/index.html ] || [ -n "$(dashboard_sources_newer_than dist/index.html)" ]; then
      say "building the dashboard (npm run build)"
      npm run --silent build >&2 || { say "the dashboard build failed"; exit 1; }
    fi
  )
}

have_node() {
  command -v node >/dev/null && command -v npm >/dev/null
}

# The first dashboard source newer than $1 (empty when the build is up to date); run in frontend/.
dashboard_sources_newer_than() {
  local sources=(src index.html package.json package-lock.json vite.config.ts tsconfig.json)
  [ -d public ] && sources+=(public)
  find "${sources[@]}" -newer "$1" -print -quit 2>/dev/null
}
