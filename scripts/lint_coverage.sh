#!/usr/bin/env bash
# How much of three workloads the linter reads (optimizer.lint_coverage()), and what it finds:
#   demo    the demo's workload: pgbench's TPC-B-like script at scale 5 and the demo's reporting
#           queries (scripts/demo.sh)
#   pgbench pgbench's three built-in scripts (tpcb-like, simple-update, select-only), 5 s each
#   tpch    the 22 TPC-H queries (bench/tpch/qNN.sql) on the empty TPC-H schema (the text is what
#           matters, not the data)
# Each in its own database of a private preloaded cluster (LINT_DIR /tmp/pg_optimizer-lint,
# port LINT_PORT 5665), recorded by pg_optimizer's hooks and linted as recorded. Needs the
# extension installed (make install). About a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
DIR=${LINT_DIR:-/tmp/pg_optimizer-lint}
PORT=${LINT_PORT:-5665}
PSQL=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK_DIR" -p "$PORT" -U postgres)
PGBENCH=("$PG_BIN/pgbench" -h "$SOCK_DIR" -p "$PORT" -U postgres)

stop_cluster "$DIR"
rm -rf "$DIR"
start_cluster "$DIR" "$PORT" "pg_optimizer.track = 'top'" "max_parallel_workers_per_gather = 0"
trap 'stop_cluster "$DIR"' EXIT
for db in demo pgbench tpch; do
    "${PSQL[@]}" -d postgres -c "CREATE DATABASE $db"
    "${PSQL[@]}" -d "$db" -c "CREATE EXTENSION pg_optimizer"
done

# demo
"${PGBENCH[@]}" -i -s 5 -q demo >/dev/null 2>&1
"${PSQL[@]}" -d demo -c "SELECT optimizer.reset(dbid => (SELECT oid FROM pg_database WHERE datname = current_database()))" >/dev/null
"${PGBENCH[@]}" -c 2 -j 2 -T 5 demo >/dev/null 2>&1
for bid in 1 2 3 4 5; do
    "${PSQL[@]}" -d demo -c "SELECT count(*), avg(abalance) FROM pgbench_accounts WHERE bid = $bid" >/dev/null
    "${PSQL[@]}" -d demo -c "SELECT aid, abalance FROM pgbench_accounts WHERE abalance > $((bid * 100)) ORDER BY abalance DESC LIMIT 5" >/dev/null
done

# pgbench's built-in scripts
"${PGBENCH[@]}" -i -s 1 -q pgbench >/dev/null 2>&1
"${PSQL[@]}" -d pgbench -c "SELECT optimizer.reset(dbid => (SELECT oid FROM pg_database WHERE datname = current_database()))" >/dev/null
for script in tpcb-like simple-update select-only; do
    "${PGBENCH[@]}" -b "$script" -c 1 -T 5 pgbench 2>&1 | grep -E "^(tps|number of failed|pgbench: error)" || true
done

# TPC-H
"${PSQL[@]}" -d tpch -f bench/tpch/schema.sql >/dev/null
"${PSQL[@]}" -d tpch -c "SELECT optimizer.reset(dbid => (SELECT oid FROM pg_database WHERE datname = current_database()))" >/dev/null
for q in $(seq -w 1 22); do
    "${PSQL[@]}" -d tpch -f "bench/tpch/q$q.sql" >/dev/null
done

for db in demo pgbench tpch; do
    echo "==> $db"
    "${PSQL[@]}" -d "$db" -P pager=off -c "SELECT statements, parsed, round(100 * parsed_share::numeric, 1) AS parsed_pct, findings FROM optimizer.lint_coverage()"
    "${PSQL[@]}" -d "$db" -P pager=off -c "SELECT rule, severity, count(*) AS findings FROM optimizer.lint GROUP BY 1, 2 ORDER BY 3 DESC, 1"
    "${PSQL[@]}" -d "$db" -P pager=off -c "SELECT queryid, left(query, 60) AS query, evidence FROM optimizer.lint WHERE rule = 'parse_error'"
done
