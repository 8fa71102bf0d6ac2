#!/usr/bin/env bash
# Golden-file tests: PostgreSQL's pg_regress against a private preloaded cluster.
# (`cargo pgrx regress` cannot run as root with pgrx 0.18.)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
DIR=/tmp/pg_optimizer-regress
PORT=${REGRESS_PORT:-5487}
rm -rf "$DIR"
trap 'stop_cluster "$DIR"' EXIT
start_cluster "$DIR" "$PORT" "pg_optimizer.max_statements = 500"
work=$(mktemp -d /tmp/pg_optimizer-regress-in.XXXXXX)
cp -r tests/pg_regress/sql tests/pg_regress/expected "$work"/
[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$work"
# pg_regress --use-existing does not create the database itself
"$PG_BIN/psql" -X -q -h "$SOCK_DIR" -p "$PORT" -U postgres -d postgres -c "CREATE DATABASE pg_optimizer_regress"
tests=$(cd tests/pg_regress/sql && ls *.sql | sed 's/\.sql$//' | sort)
status=0
as_pg "/usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/test/regress/pg_regress" \
    --use-existing --host="$SOCK_DIR" --port="$PORT" --user=postgres \
    --inputdir="$work" --outputdir="$work" --dbname=pg_optimizer_regress $tests || status=$?
if [ $status -ne 0 ]; then
    cat "$work/regression.diffs" 2>/dev/null || true
    mkdir -p tests/pg_regress/results && cp "$work"/results/*.out tests/pg_regress/results/ 2>/dev/null || true
fi
rm -rf "$work"
exit $status
