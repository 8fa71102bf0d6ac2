#!/usr/bin/env bash
# Build and install the extension into the system PostgreSQL. PROFILE=release for an optimised build.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
args=(--pg-config /usr/bin/pg_config)
[ "${PROFILE:-debug}" = release ] && args+=(--release)
# A running server maps the library: copying over it in place would crash it (SIGBUS). Move it
# aside first (the running processes keep the old file), then install a new one.
pkglib="$(pg_config --pkglibdir)"
if [ -f "$pkglib/pg_optimizer.so" ]; then
    maybe_sudo mv -f "$pkglib/pg_optimizer.so" "$pkglib/.pg_optimizer.so.previous"
    # A failed build puts the previous one back.
    trap '[ -f "$pkglib/pg_optimizer.so" ] || maybe_sudo mv -f "$pkglib/.pg_optimizer.so.previous" "$pkglib/pg_optimizer.so"' EXIT
fi
if [ "$(id -u)" = 0 ]; then
    cargo pgrx install "${args[@]}"
else
    cargo pgrx install "${args[@]}" --sudo
fi

# The frozen install scripts of earlier releases (sql/pg_optimizer--X.sql; cargo pgrx install copies
# only the upgrade scripts sql/pg_optimizer--A--B.sql): the upgrade test creates the previous
# version from them, then updates it.
sharedir="$(pg_config --sharedir)/extension"
for f in sql/pg_optimizer--*.sql; do
    case "$(basename "$f")" in
        pg_optimizer--*--*) ;;
        *) maybe_sudo install -m 644 "$f" "$sharedir/" ;;
    esac
done
