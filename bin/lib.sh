# Shared helpers for bin/run and bin/test: find Python, keep .venv installed, probe services.
# Source it from bash (`. bin/lib.sh`); it defines functions and a few variables, nothing runs.

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_DIR="${VENV_DIR:-$ROOT_DIR/.venv}"
VENV_PY="$VENV_DIR/bin/python"
MIN_PYTHON="3.12"
# Where a pyenv installation may keep its versions (tests override this list).
PYTHON_SEARCH_ROOTS="${PYTHON_SEARCH_ROOTS-${PYENV_ROOT:-} $HOME/.pyenv /root/.pyenv}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Print the path of a working Python >= 3.12, or fail naming the fix.
python_find() {
    local candidate path root
    local check="import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)"
    if [ -n "${PYTHON:-}" ]; then
        "$PYTHON" -c "$check" 2>/dev/null && { echo "$PYTHON"; return 0; }
        die "PYTHON=$PYTHON is not a working Python >= $MIN_PYTHON."
    fi
    # A pyenv shim answers `command -v` but refuses to run a version that is not selected,
    # so every candidate is run, not just looked up.
    for candidate in python3.14 python3.13 python3.12 python3; do
        path="$(command -v "$candidate" 2>/dev/null)" || continue
        "$path" -c "$check" >/dev/null 2>&1 && { echo "$path"; return 0; }
    done
    if command -v pyenv >/dev/null 2>&1; then
        PYTHON_SEARCH_ROOTS="$(pyenv root 2>/dev/null) $PYTHON_SEARCH_ROOTS"
    fi
    for root in $PYTHON_SEARCH_ROOTS; do
        # Newest first: 3.19 … 3.12, then patch releases in reverse version order.
        for path in $(ls -d "$root"/versions/3.1[2-9]* 2>/dev/null | sort -rV); do
            path="$path/bin/python3"
            [ -x "$path" ] && "$path" -c "$check" >/dev/null 2>&1 && { echo "$path"; return 0; }
        done
    done
    die "no Python >= $MIN_PYTHON found (tried python3.14, python3.13, python3.12, python3 on PATH \
and pyenv versions under: ${PYTHON_SEARCH_ROOTS:-none}). Install one (e.g. \
\`apt-get install python3.13\`, \`pyenv install 3.13\`) or point PYTHON=/path/to/python3.13 at it."
}

# The lock files venv_ensure installs from (make lock writes them from pyproject.toml).
LOCK_RUNTIME="$ROOT_DIR/requirements/runtime.txt"
LOCK_DEV="$ROOT_DIR/requirements/dev.txt"

# The stamp records which pyproject.toml and lock files (by hash) and which extras were installed.
install_wanted() {
    local extras="$1" digest
    digest="$(cat "$ROOT_DIR/pyproject.toml" "$LOCK_RUNTIME" "$LOCK_DEV" 2>/dev/null \
        | sha256sum | cut -d' ' -f1)"
    echo "$digest $extras"
}

# Return 0 when .venv already holds what `extras` ("runtime" or "dev") needs.
install_is_current() {
    local extras="$1" stamp="$VENV_DIR/.install-stamp" have
    [ -x "$VENV_PY" ] && [ -f "$stamp" ] || return 1
    "$VENV_PY" -c "import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)" \
        >/dev/null 2>&1 || return 1
    have="$(cat "$stamp")"
    [ "$have" = "$(install_wanted "$extras")" ] && return 0
    # An install with the dev extras also serves the runtime.
    [ "$extras" = runtime ] && [ "$have" = "$(install_wanted dev)" ] && return 0
    return 1
}

# Run the venv's pip quietly, leaving out the warnings about this machine's absent local indexes.
pip_run() {
    local status
    "$VENV_PY" -m pip --disable-pip-version-check "$@" 2>&1 \
        | { grep -v "^WARNING: Location 'file:.*' is ignored" || true; } >&2
    status=${PIPESTATUS[0]}
    return "$status"
}

# Create .venv if needed and install the locked dependencies, then the project itself, when
# pyproject.toml or a lock file changed since last time.
venv_ensure() {
    local extras="${1:-runtime}" python lock="$LOCK_DEV" spec=".[dev]"
    [ "$extras" = runtime ] && { lock="$LOCK_RUNTIME"; spec="."; }
    install_is_current "$extras" && return 0
    [ -f "$lock" ] || die "${lock#"$ROOT_DIR/"} is missing: run \`make lock\`."
    mkdir -p "$VENV_DIR"
    # Several scripts may bootstrap the same checkout at once: install one at a time.
    exec 9>"$VENV_DIR/.install-lock"
    command -v flock >/dev/null 2>&1 && flock 9
    if ! install_is_current "$extras"; then
        if ! "$VENV_PY" -c "import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)" \
            >/dev/null 2>&1; then
            python="$(python_find)" || exit 1
            say "Creating $VENV_DIR with $python ($("$python" --version 2>&1))"
            "$python" -m venv --clear "$VENV_DIR" || die "could not create $VENV_DIR \
(on Debian: apt-get install python3-venv)."
            # --clear emptied the folder, lock file included: take the lock again.
            exec 9>"$VENV_DIR/.install-lock"
            command -v flock >/dev/null 2>&1 && flock 9
            pip_run install --quiet --upgrade pip || die "pip could not upgrade itself in $VENV_DIR."
        fi
        say "Installing ${lock#"$ROOT_DIR/"} and the project into $VENV_DIR: first run, or" \
            "pyproject.toml or the lock changed"
        # Every package at its locked version and hash; the project itself adds none.
        pip_run install --quiet --require-hashes -r "$lock" \
            || die "pip install -r ${lock#"$ROOT_DIR/"} failed (see above)."
        (cd "$ROOT_DIR" && pip_run install --quiet --no-deps -e "$spec") \
            || die "pip install --no-deps -e '$spec' failed (see above)."
        install_wanted "$extras" >"$VENV_DIR/.install-stamp"
    fi
    exec 9>&-
}

# Run the checks before the tests, each one even when an earlier one failed; return 1 when any
# failed. The same for bin/test and `make lint`.
lint_run() {
    local status=0
    say "ruff check"
    "$VENV_DIR/bin/ruff" check . || status=1
    say "ruff format --check"
    "$VENV_DIR/bin/ruff" format --check . || status=1
    say "mypy"
    "$VENV_DIR/bin/mypy" . || status=1
    say "lint-imports (the app layers in pyproject.toml)"
    "$VENV_DIR/bin/lint-imports" --no-cache || status=1
    return "$status"
}

# Return 0 when a Unicode TrueType font of invoices/pdf.py (FONT_CANDIDATES) is installed;
# without one the invoice PDFs fall back to Helvetica and lose ā č ē ģ ī ķ ļ ņ ū ą ć ę ł ń ś ź ż.
invoice_font_present() {
    [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] \
        || [ -f /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf ]
}

# Install the Debian packages named, when missing ones are given and we may (root with
# apt-get); otherwise say how. Never fails: $1 says what goes without them.
debs_install() {
    local without="$1"
    shift
    [ "$#" -gt 0 ] || return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "Installing Debian packages: $*"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
            && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                "$@" >/dev/null \
            || say "apt-get could not install $*: $without"
    elif command -v apt-get >/dev/null 2>&1; then
        say "Missing $*: run \`sudo apt-get install $*\`; $without"
    else
        say "Missing the Debian packages $* (or their equivalent here); $without"
    fi
}

# Return 0 when something accepts TCP connections on host:port.
port_open() {
    local host="$1" port="$2"
    (exec 3<>"/dev/tcp/$host/$port") >/dev/null 2>&1
}

# Wait up to $3 seconds (default 30) for host:port to accept connections.
port_wait() {
    local host="$1" port="$2" limit="${3:-30}" i
    for ((i = 0; i < limit * 5; i++)); do
        port_open "$host" "$port" && return 0
        sleep 0.2
    done
    return 1
}

# Print "host port" of a service URL (postgres://…, redis://…), default port given.
url_host_port() {
    "$VENV_PY" - "$1" "$2" <<'EOF'
import sys
from urllib.parse import urlsplit

parts = urlsplit(sys.argv[1])
print(parts.hostname or "", parts.port or sys.argv[2])
EOF
}

is_local_host() {
    case "$1" in 127.0.0.1 | localhost | ::1) return 0 ;; *) return 1 ;; esac
}

# Terminate a process and its descendants (by id), children first.
kill_tree() {
    local pid="$1" signal="${2:-TERM}" child
    for child in $(pgrep -P "$pid" 2>/dev/null); do
        kill_tree "$child" "$signal"
    done
    kill "-$signal" "$pid" 2>/dev/null || true
}
