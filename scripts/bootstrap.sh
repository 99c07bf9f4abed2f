# Sourced by scripts/run and scripts/test: make sure .venv holds Slipway's dependencies.
#   bootstrap_venv [EXTRA]   installs the project (with the optional extra, e.g. "test")
# Dependencies are reinstalled only when pyproject.toml changes, so a second start is instant.

SLIPWAY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SLIPWAY_VENV="${SLIPWAY_VENV:-$SLIPWAY_ROOT/.venv}"

say() { printf 'slipway: %s\n' "$*" >&2; }

as_root_install() {
  # Installs Debian packages when we may (root with apt-get); otherwise says what is missing.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing $* with apt-get"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
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
    "$SLIPWAY_VENV/bin/python" -W ignore -c "import tornado, psycopg, pgserver, docker, socketio" || {
      say "dependency installation failed (see pip's messages above)"; return 1; }
    if [ "$extra" = test ]; then
      "$SLIPWAY_VENV/bin/python" -W ignore -c "import pytest, pytest_tornado, aiohttp" || {
        say "test dependency installation failed"; return 1; }
    fi
    touch "$stamp"
  fi
}
