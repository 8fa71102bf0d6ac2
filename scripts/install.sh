#!/usr/bin/env bash
# Build and install the extension into the system PostgreSQL. PROFILE=release for an optimised build.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
args=(--pg-config /usr/bin/pg_config)
[ "${PROFILE:-debug}" = release ] && args+=(--release)
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
