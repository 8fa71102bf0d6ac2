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
