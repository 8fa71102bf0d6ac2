#!/usr/bin/env bash
# Install what building and testing pg_optimizer needs, on Debian 12, as root or with sudo.
# Idempotent: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
PGRX_VERSION=0.18.0

# chromium: the HTML report's test renders the page headless (scripts/check_report.py)
pkgs="postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR postgresql-contrib-$PG_MAJOR libclang-dev clang pkg-config sudo valgrind sqlsmith chromium"
[ "${WITH_PEERS:-0}" = 1 ] && pkgs="$pkgs postgresql-$PG_MAJOR-pg-qualstats postgresql-$PG_MAJOR-hypopg postgresql-$PG_MAJOR-cron postgresql-$PG_MAJOR-partman faketime libfaketime python3-venv"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
    echo "==> installing Debian packages:$missing"
    maybe_sudo apt-get update -qq
    maybe_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

if [ "$(cargo pgrx --version 2>/dev/null | awk '{print $2}')" != "$PGRX_VERSION" ]; then
    echo "==> installing cargo-pgrx $PGRX_VERSION (about 8 minutes)"
    cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi

config="${PGRX_HOME:-$HOME/.pgrx}/config.toml"
if ! grep -q "pg$PG_MAJOR" "$config" 2>/dev/null; then
    echo "==> cargo pgrx init --pg$PG_MAJOR"
    cargo pgrx init --pg$PG_MAJOR /usr/bin/pg_config
fi

if ! python3 -m pytest --version >/dev/null 2>&1; then
    echo "==> installing pytest"
    # pip where it may install; Debian's package for a system python that refuses pip (PEP 668)
    python3 -m pip install -q pytest 2>/dev/null \
        || maybe_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pytest >/dev/null
fi

# The report's tests: jsonschema validates the JSON documents against docs/schemas; playwright
# drives Debian's chromium (its own browser download is never used: no `playwright install`).
if ! python3 -c "import jsonschema, playwright" >/dev/null 2>&1; then
    echo "==> installing jsonschema and playwright (Python)"
    python3 -m pip install -q jsonschema playwright 2>/dev/null \
        || maybe_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-jsonschema >/dev/null
fi
