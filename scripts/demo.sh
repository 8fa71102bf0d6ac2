#!/usr/bin/env bash
# The demo: a private preloaded cluster with pg_optimizer, a short pgbench workload plus a few
# statements of our own, then what pg_optimizer recorded (statements, predicates, sort keys,
# misestimates) and what the index advisor makes of it. The cluster keeps running afterwards.
#   scripts/demo.sh        start (or reuse) the demo cluster and run the workload
#   scripts/demo.sh stop   stop it
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
DIR=${DEMO_DIR:-/tmp/pg_optimizer-demo}
PORT=${DEMO_PORT:-5499}
PSQL=("$PG_BIN/psql" -X -q -h "$SOCK_DIR" -p "$PORT" -U postgres)

if [ "${1:-}" = stop ]; then
    stop_cluster "$DIR"
    echo "demo cluster stopped ($DIR)"
    exit 0
fi

stop_cluster "$DIR"
start_cluster "$DIR" "$PORT" "pg_optimizer.track_planning = on"
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS demo" -c "CREATE DATABASE demo"
"${PSQL[@]}" -d demo -c "CREATE EXTENSION pg_optimizer"

echo "==> sample workload: pgbench (scale 5, 2 clients, 15 s) and a few reporting queries"
"$PG_BIN/pgbench" -h "$SOCK_DIR" -p "$PORT" -U postgres -i -s 5 -q demo >/dev/null 2>&1
# The load's inserts are not the workload's writes (the advisor charges write cost from these).
"${PSQL[@]}" -d demo -c "SELECT pg_stat_reset()" >/dev/null
"$PG_BIN/pgbench" -h "$SOCK_DIR" -p "$PORT" -U postgres -c 2 -j 2 -T 15 demo 2>/dev/null | grep -E "^(number of transactions actually processed|tps)" || true
for bid in 1 2 3 4 5; do
    "${PSQL[@]}" -d demo -c "SELECT count(*), avg(abalance) FROM pgbench_accounts WHERE bid = $bid" >/dev/null
    "${PSQL[@]}" -d demo -c "SELECT aid, abalance FROM pgbench_accounts WHERE abalance > $((bid * 100)) ORDER BY abalance DESC LIMIT 5" >/dev/null
done
# An application's habits the linter should catch: a search with a leading wildcard, deep OFFSET
# paging, and a loop that fetches each account's branch one statement at a time (N+1).
"${PSQL[@]}" -d demo -c "SELECT aid, abalance FROM pgbench_accounts WHERE filler LIKE '%42%' LIMIT 10" >/dev/null
"${PSQL[@]}" -d demo -c "SELECT * FROM pgbench_history ORDER BY mtime DESC OFFSET 5000 LIMIT 20" >/dev/null
{
    echo "SELECT aid, bid FROM pgbench_accounts WHERE aid <= 150;"
    for aid in $(seq 1 150); do echo "SELECT * FROM pgbench_branches WHERE bid = $(( (aid - 1) / 100000 + 1 ));"; done
} | "${PSQL[@]}" -d demo >/dev/null

echo
echo "==> SELECT ... FROM optimizer.statements ORDER BY total_exec_time DESC LIMIT 10;"
"${PSQL[@]}" -d demo -P pager=off <<'SQL'
SELECT left(query, 60) AS query, calls,
       round(total_exec_time::numeric, 1) AS total_ms,
       round(mean_exec_time::numeric, 3) AS mean_ms,
       round(p95_exec_time::numeric, 3) AS p95_ms,
       rows, shared_blks_hit + shared_blks_read AS blocks
  FROM optimizer.statements
 WHERE dbname = 'demo'
 ORDER BY total_exec_time DESC
 LIMIT 10;
SQL
echo "==> the slowest execution of the most expensive statement, with its real values:"
"${PSQL[@]}" -d demo -P pager=off -c "SELECT example, example_params, round(example_exec_time::numeric, 3) AS example_ms FROM optimizer.statements WHERE dbname = 'demo' AND query LIKE 'UPDATE pgbench_accounts%'"
echo "==> latency histogram of that statement:"
"${PSQL[@]}" -d demo -P pager=off -c "SELECT range, calls, round(cumulative_fraction::numeric, 3) AS cumulative FROM optimizer.latency_histogram((SELECT queryid FROM optimizer.statements WHERE dbname = 'demo' AND query LIKE 'UPDATE pgbench_accounts%' LIMIT 1)) WHERE calls > 0"
"${PSQL[@]}" -d demo -P pager=off -c "SELECT * FROM optimizer.statements_info"
echo "==> what the workload filters and joins on, and where (optimizer.predicates):"
"${PSQL[@]}" -d demo -P pager=off <<'SQL'
SELECT table_name, columns, operator, kind, place, executions,
       round(avg_rows::numeric, 1) AS avg_rows, round(avg_rows_filtered::numeric) AS avg_filtered,
       round(selectivity::numeric, 5) AS selectivity, access_methods, constants
  FROM optimizer.predicates
 WHERE table_name LIKE 'pgbench%'
 ORDER BY executions DESC, table_name, columns::text;
SQL
echo "==> sort keys (optimizer.sort_keys) and estimates 10x off (optimizer.misestimates):"
"${PSQL[@]}" -d demo -P pager=off -c "SELECT table_name, sort_key, direction, nulls, under_limit, avg_limit, executions FROM optimizer.sort_keys WHERE table_name LIKE 'pgbench%'"
"${PSQL[@]}" -d demo -P pager=off -c "SELECT left(query, 50) AS query, node, table_name, columns, misestimated, round(estimated_rows::numeric) AS est_rows, round(actual_rows::numeric) AS actual_rows FROM optimizer.misestimates WHERE table_name LIKE 'pgbench%' ORDER BY misestimated DESC LIMIT 5"

echo "==> index advice for this workload (optimizer.index_advice_report()):"
"${PSQL[@]}" -d demo -At -c "SELECT optimizer.index_advice_report()"
echo "==> what-if: the planner with a hypothetical index (optimizer.explain_with):"
"${PSQL[@]}" -d demo -P pager=off -c "SELECT round(total_without::numeric) AS cost_without, round(total_with::numeric) AS cost_with, used FROM optimizer.explain_with('SELECT count(*), avg(abalance) FROM pgbench_accounts WHERE bid = 3', ARRAY['CREATE INDEX ON pgbench_accounts (bid) INCLUDE (abalance)'])"

echo "==> the built-in maintenance actions, dry run (what they would do, and why):"
"${PSQL[@]}" -d demo -P pager=off -c "SELECT 'analyze_stale' AS action, relation, reason FROM optimizer.analyze_stale(dry_run => true) UNION ALL SELECT 'vacuum_needed', relation, reason FROM optimizer.vacuum_needed(dry_run => true, min_dead_rows => 10) UNION ALL SELECT 'reindex_bloated', relation, reason FROM optimizer.reindex_bloated(dry_run => true, min_bloat_bytes => 0)"
echo "==> scheduling them as jobs (optimizer.schedule), then running each once now (optimizer.run_job):"
"${PSQL[@]}" -d demo -P pager=off <<'SQL'
SELECT name, schedule, run_window, owner FROM (
  SELECT (optimizer.schedule('analyze_stale',    '15 minutes', 'SELECT * FROM optimizer.analyze_stale()')).*
  UNION ALL
  SELECT (optimizer.schedule('vacuum_needed',    '1 hour',     'SELECT * FROM optimizer.vacuum_needed(min_dead_rows => 10)')).*
  UNION ALL
  SELECT (optimizer.schedule('reindex_bloated',  '30 3 * * *', 'SELECT * FROM optimizer.reindex_bloated()', run_window => '01:00-05:00')).*
  UNION ALL
  SELECT (optimizer.schedule('refresh_matviews', '10 minutes', 'SELECT * FROM optimizer.refresh_matviews()')).*) j;
SQL
for job in analyze_stale vacuum_needed reindex_bloated refresh_matviews statement_history statement_history; do
    "${PSQL[@]}" -d demo -At -c "SELECT optimizer.run_job('$job', wait => true)" >/dev/null
done
"${PSQL[@]}" -d demo -P pager=off -c "SELECT run_id, job, source, status, rows, round(extract(epoch FROM ended_at - started_at) * 1000) AS ms, message FROM optimizer.job_runs ORDER BY run_id"
"${PSQL[@]}" -d demo -P pager=off -c "SELECT name, schedule, next_run, last_status, last_duration FROM optimizer.job_status ORDER BY name"
echo "==> statement history (two snapshots just taken): optimizer.statement_trends"
"${PSQL[@]}" -d demo -P pager=off -c "SELECT left(query, 50) AS query, calls_now, round(mean_ms_now::numeric, 3) AS mean_ms_now, trend FROM optimizer.statement_trends ORDER BY calls_now DESC LIMIT 5"
echo "==> the database's health: optimizer.health()"
"${PSQL[@]}" -d demo -P pager=off -c "SELECT area, status, findings, left(top_finding, 70) AS top_finding, left(top_action, 60) AS top_action FROM optimizer.health()"
echo "==> anti-patterns in the recorded statements: optimizer.lint"
"${PSQL[@]}" -d demo -P pager=off -c "SELECT queryid, rule, severity, left(fragment, 40) AS fragment, position, left(evidence, 70) AS evidence FROM optimizer.lint ORDER BY array_position(ARRAY['critical', 'warning', 'info'], severity), queryid LIMIT 10"
echo "==> how much of the workload the linter parses"
"${PSQL[@]}" -d demo -P pager=off -c "SELECT * FROM optimizer.lint_coverage()"
REPORT=${DEMO_REPORT:-$DIR-report.html}
"${PSQL[@]}" -d demo -At -c "SELECT optimizer.report('html')" > "$REPORT"
echo "==> the report as one HTML page (optimizer.report('html')): $REPORT ($(wc -c < "$REPORT") bytes)"

cat <<EOT
The demo cluster is still running; its scheduler runs the jobs above on their schedules
(SELECT * FROM optimizer.job_runs ORDER BY run_id DESC).
  connect:  psql -h $SOCK_DIR -p $PORT -U postgres demo
  stop:     make demo-stop
EOT
