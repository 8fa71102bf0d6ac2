#!/usr/bin/env bash
# optimizer.health() on 10,000 tables, side by side with PgHero's checks, in one run.
#
# One cluster (BENCH_DIR /tmp/ibench-insights, port 5730, socket /tmp, fsync off, autovacuum off so
# nothing runs beside the timed calls, jit off), shared_preload_libraries = 'pg_optimizer,
# pg_stat_statements' (PgHero's query stats read pg_stat_statements, so it is loaded for its query
# to run) with pg_optimizer.scheduler = off, max_locks_per_transaction = 1024 (a check that calls
# pg_relation_size() on every relation holds an AccessShareLock on each until the end of its
# transaction: 10,000 tables + 20,000 indexes; the default 64 x 100 slots is far too few).
# Database `bench`:
#   t_00001 .. t_<TABLES>  (id int PRIMARY KEY, a int, b text), an index on (a), ROWS rows each,
#                          created BATCH at a time inside DO blocks
#   every 1000th t_ table  a second, identical index on (a): a duplicate for both sides to find
#   bloat_1 .. bloat_<BLOAT>  BLOAT_ROWS rows, index on (a); 90% deleted and not vacuumed (dead rows,
#                          bloated heap and index)
#   bloat_1                also an invalid index (a failed CREATE UNIQUE INDEX CONCURRENTLY)
#   seq_1                  (id serial PRIMARY KEY): its sequence set to 2,100,000,000 (98% of int)
# then ANALYZE, and a little workload so the query checks have statements to report (a few
# pg_sleep(0.15) calls, repeated seq scans and primary-key lookups on some tables).
#
# The two sides, each in a fresh psql session with \timing (the statements only, not connecting):
#   ours     SELECT * FROM optimizer.health();
#   PgHero   the SQL PgHero (github.com/ankane/pghero, lib/pghero/methods/*.rb) sends for the same
#            areas, transcribed verbatim with its binds filled in as its dashboard does (defaults:
#            long_running_query_sec 60, unused_index_bytes 10 MB, index_bloat_bytes 100 MB,
#            autovacuum_freeze_max_age read by SHOW = 200,000,000), as one psql script; its time is
#            the sum of the script's statements. PgHero's Ruby-side post-processing (duplicate
#            detection over the `indexes` rows, the invalid-index filter, sequence danger over the
#            three sequence queries, slow-query filtering) costs nothing here: PgHero's side is
#            timed on SQL only, which favours it.
#   area           ours (views health() reads)                  PgHero (methods)
#   queries        slow_queries                                 query_stats_readable?, current_query_stats
#   indexes        index_insights (invalid_indexes,             indexes (-> invalid_indexes, duplicate_indexes),
#                  duplicate_indexes, unused_indexes), index_bloat, running_queries (invalid "creating" test),
#                  missing_fk_indexes                           unused_indexes, index_bloat, invalid_constraints
#   vacuum         vacuum_health, table_bloat                   maintenance_info, autovacuum_danger, vacuum_progress,
#                                                               autovacuum_settings, vacuum_settings
#   wraparound     wraparound_risk, sequence_exhaustion         transaction_id_danger, sequences (3 queries)
#   cache          cache_hit                                    index_hit_rate, table_hit_rate
#   connections    connections, blocking                        long_running_queries, connection_states,
#                                                               total_connections, blocked_queries
#   replication    replication                                  replica?, replication_slots, replication_lag,
#                                                               replicating?
#   configuration  config_advice                                settings (15 SHOWs)
#   statistics     stale_statistics, statistics_advice          (maintenance_info: last_analyze, counted above)
# Views not installed are skipped by health() (the output lists which exist).
# RUNS rounds, alternating order (odd rounds ours first, even rounds PgHero first). Printed: per-run
# times, per side the median and the total, PgHero's median per check, and (3 extra sessions, not
# part of the ratio) our median per view as health() runs them.
#
# Locks: in one session, BEGIN; SELECT * FROM optimizer.health(); then pg_locks for this backend
# grouped by locktype and mode; ROLLBACK (the same for PgHero's script, for comparison). Any relation
# lock other than AccessShareLock is named (e.g. RowExclusiveLock on sequences, which reading
# pg_sequences.last_value takes in PostgreSQL 15).
#
# Last line: `ratio: X`, X = our median / PgHero's median (4 decimals; n/a if a side failed). A
# PgHero session cut at STATEMENT_TIMEOUT counts with the time it took until then, a lower bound
# (marked >=); the ratio is then an upper bound, and the line before it says so.
# The whole output is also written to BENCH_LAST (bench/insights.last.txt); each session's psql
# output to BENCH_OUT.
#
# Needs the release build installed (make bench-insights does it) and pg_stat_statements
# (postgresql-contrib). Env: TABLES (10000), BATCH (500), ROWS (5), BLOAT (5), BLOAT_ROWS (100000),
# RUNS (10), REUSE=1 (keep a cluster already built by an earlier run: skip setup), KEEP=1 (leave the
# cluster running at the end), BENCH_DIR (/tmp/ibench-insights), BENCH_PORT (5730), BENCH_OUT
# (/tmp/ibench-insights-out), BENCH_LAST (bench/insights.last.txt), STATEMENT_TIMEOUT (120s: after
# setup, every statement is cut there; a side that fails once is skipped in later runs). About 3-6 minutes at the
# defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
DIR=${BENCH_DIR:-/tmp/ibench-insights}
PORT=${BENCH_PORT:-5730}
OUT=${BENCH_OUT:-/tmp/ibench-insights-out}
LAST=${BENCH_LAST:-bench/insights.last.txt}
TABLES=${TABLES:-10000}
BATCH=${BATCH:-500}
ROWS=${ROWS:-5}
BLOAT=${BLOAT:-5}
BLOAT_ROWS=${BLOAT_ROWS:-100000}
RUNS=${RUNS:-10}
for v in TABLES BATCH ROWS BLOAT BLOAT_ROWS RUNS; do
    [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -ge 1 ] || { echo "$v must be a positive integer" >&2; exit 2; }
done

exec > >(tee "$LAST") 2>&1
TEE_PID=$!

PSQL=("$PG_BIN/psql" -X -q -h "$SOCK_DIR" -p "$PORT" -U postgres)
sql() { "${PSQL[@]}" -v ON_ERROR_STOP=1 -At -d bench "$@"; }

cleanup() {
    [ -n "${KEEP:-}" ] || stop_cluster "$DIR"
    exec >&- 2>&-
    wait "$TEE_PID" 2>/dev/null || true
}
trap cleanup EXIT

T0=$(date +%s)
elapsed() { echo "$(( $(date +%s) - T0 )) s"; }

# ---- the cluster ----
reuse=0
if [ -n "${REUSE:-}" ] && [ -f "$DIR/PG_VERSION" ]; then
    start_cluster "$DIR" "$PORT" 2>/dev/null || [ -f "$DIR/postmaster.pid" ]
    [ "$(sql -d bench -c "SELECT to_regclass('public.bench_ready') IS NOT NULL" 2>/dev/null || true)" = t ] && reuse=1
fi
if [ "$reuse" = 0 ]; then
    stop_cluster "$DIR"
    rm -rf "$DIR"
    echo "==> cluster $DIR, port $PORT"
    start_cluster "$DIR" "$PORT" "shared_preload_libraries = 'pg_optimizer,pg_stat_statements'" \
        "pg_optimizer.scheduler = off" "fsync = off" "synchronous_commit = off" "full_page_writes = off" \
        "autovacuum = off" "jit = off" "max_locks_per_transaction = 1024" "shared_buffers = 512MB" \
        "max_wal_size = 4GB" "checkpoint_timeout = 30min" "log_min_messages = warning" \
        "pg_stat_statements.track = top"
    "${PSQL[@]}" -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE bench"
else
    echo "==> cluster $DIR, port $PORT (REUSE: kept from an earlier run, setup skipped)"
fi
rm -rf "$OUT"; mkdir -p "$OUT"; chmod 777 "$OUT"

if [ "$reuse" = 0 ]; then
    sql -c "CREATE EXTENSION pg_optimizer" -c "CREATE EXTENSION pg_stat_statements"
    echo "==> creating $TABLES tables ($BATCH per transaction), $ROWS rows each"
    for (( lo = 1; lo <= TABLES; lo += BATCH )); do
        hi=$(( lo + BATCH - 1 )); [ "$hi" -gt "$TABLES" ] && hi=$TABLES
        sql <<SQL
DO \$\$
DECLARE t text;
BEGIN
    FOR i IN $lo..$hi LOOP
        t := format('t_%s', lpad(i::text, 5, '0'));
        EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, a int, b text)', t);
        EXECUTE format('CREATE INDEX %I ON %I (a)', t || '_a', t);
        IF i % 1000 = 0 THEN
            EXECUTE format('CREATE INDEX %I ON %I (a)', t || '_a_dup', t);
        END IF;
        EXECUTE format('INSERT INTO %I SELECT g, g %% 3, md5(g::text) FROM generate_series(1, $ROWS) g', t);
    END LOOP;
END \$\$;
SQL
    done
    echo "    done ($(elapsed))"
    echo "==> $BLOAT bloated tables ($BLOAT_ROWS rows, 90% deleted), an invalid index, a sequence near its end"
    for (( i = 1; i <= BLOAT; i++ )); do
        sql <<SQL
CREATE TABLE bloat_$i (id int PRIMARY KEY, a int, b text);
CREATE INDEX bloat_${i}_a ON bloat_$i (a);
INSERT INTO bloat_$i SELECT g, g % 1000, md5(g::text) FROM generate_series(1, $BLOAT_ROWS) g;
DELETE FROM bloat_$i WHERE id % 10 <> 0;
SQL
    done
    # fails on the duplicate values of a and leaves bloat_1_a_uniq INVALID
    "${PSQL[@]}" -d bench -c "CREATE UNIQUE INDEX CONCURRENTLY bloat_1_a_uniq ON bloat_1 (a)" >/dev/null 2>&1 || true
    sql <<'SQL'
CREATE TABLE seq_1 (id serial PRIMARY KEY, note text);
SELECT setval('seq_1_id_seq', 2100000000);
INSERT INTO seq_1 (note) VALUES ('near the end');
SQL
    echo "==> ANALYZE"
    sql -c "ANALYZE"
    echo "    done ($(elapsed))"
    echo "==> workload for the query checks"
    sql >/dev/null <<'SQL'
SELECT pg_sleep(0.15) FROM generate_series(1, 4);
SQL
    for i in $(seq 1 30); do echo "SELECT count(*) FROM bloat_1 WHERE b = 'x';"; echo "SELECT count(*) FROM bloat_2 WHERE b LIKE '%$i%';"; done | sql >/dev/null
    for i in $(seq 1 200); do printf "SELECT * FROM t_%05d WHERE id = 1;\n" "$i"; done | sql >/dev/null
    sql -c "CREATE TABLE bench_ready ()"
    sleep 1   # statistics flushed by the sessions that ended
    echo "    done ($(elapsed))"
fi

sql <<'SQL'
SELECT format('database: %s tables (%s with a name t_*), %s indexes (%s invalid), size %s',
              count(*) FILTER (WHERE c.relkind = 'r'), count(*) FILTER (WHERE c.relkind = 'r' AND c.relname LIKE 't\_%'),
              count(*) FILTER (WHERE c.relkind = 'i'),
              (SELECT count(*) FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid
                 JOIN pg_namespace xn ON xn.oid = x.relnamespace WHERE xn.nspname = 'public' AND NOT i.indisvalid),
              pg_size_pretty(pg_database_size(current_database())))
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public';
SELECT format('pg_optimizer %s; pg_stat_statements %s; max_locks_per_transaction %s',
              (SELECT extversion FROM pg_extension WHERE extname = 'pg_optimizer'),
              (SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'),
              current_setting('max_locks_per_transaction'));
SQL
# every statement from here on is cut at STATEMENT_TIMEOUT (a side that hits it stops; PgHero's
# time until then is a lower bound of its time)
export PGOPTIONS="-c statement_timeout=${STATEMENT_TIMEOUT:-120s}"
VIEWS=(slow_queries index_insights index_bloat missing_fk_indexes
       vacuum_health table_bloat wraparound_risk sequence_exhaustion cache_hit connections blocking
       replication config_advice stale_statistics statistics_advice)
PRESENT=(); MISSING=()
for v in "${VIEWS[@]}"; do
    # statistics_advice is a function (health() calls statistics_advice(0)); the rest are views.
    if [ "$(sql -c "SELECT to_regclass('optimizer.$v') IS NOT NULL OR to_regprocedure('optimizer.$v(integer)') IS NOT NULL")" = t ]; then PRESENT+=("$v"); else MISSING+=("$v"); fi
done
echo "views health() reads: ${PRESENT[*]}"
echo "not installed (skipped by health()): ${MISSING[*]:-none}"

# ---- PgHero's SQL, as its dashboard, maintenance, queries and connections pages send it ----
PGHERO=$OUT/pghero.sql
cat > "$PGHERO" <<'SQL'
\echo @@ queries/query_stats_readable
SELECT * FROM pg_stat_statements LIMIT 1;
\echo @@ queries/current_query_stats
WITH query_stats AS (
  SELECT
    LEFT(query, 10000) AS query,
    queryid AS query_hash,
    rolname AS user,
    total_plan_time + total_exec_time AS total_time,
    calls
  FROM
    pg_stat_statements
  INNER JOIN
    pg_database ON pg_database.oid = pg_stat_statements.dbid
  INNER JOIN
    pg_roles ON pg_roles.oid = pg_stat_statements.userid
  WHERE
    calls > 0 AND
    pg_database.datname = current_database()
)
(
  SELECT
    query,
    query_hash,
    query_stats.user,
    total_time,
    calls
  FROM
    query_stats
  ORDER BY
    "total_time" DESC
  LIMIT 100
) UNION ALL (
  SELECT NULL, NULL, NULL, SUM(total_time), NULL FROM query_stats
);
\echo @@ indexes/indexes
SELECT
  schemaname AS schema,
  t.relname AS table,
  ix.relname AS name,
  regexp_replace(pg_get_indexdef(i.indexrelid), '^[^\(]*\((.*)\)$', '\1') AS columns,
  regexp_replace(pg_get_indexdef(i.indexrelid), '.* USING ([^ ]*) \(.*', '\1') AS using,
  indisunique AS unique,
  indisprimary AS primary,
  indisvalid AS valid,
  indexprs::text,
  indpred::text,
  pg_get_indexdef(i.indexrelid) AS definition
FROM
  pg_index i
INNER JOIN
  pg_class t ON t.oid = i.indrelid
INNER JOIN
  pg_class ix ON ix.oid = i.indexrelid
LEFT JOIN
  pg_stat_user_indexes ui ON ui.indexrelid = i.indexrelid
WHERE
  schemaname IS NOT NULL
ORDER BY
  1, 2;
\echo @@ indexes/running_queries
SELECT
  pid,
  state,
  application_name AS source,
  age(NOW(), COALESCE(query_start, xact_start)) AS duration,
  wait_event IS NOT NULL AS waiting,
  query,
  COALESCE(query_start, xact_start) AS started_at,
  EXTRACT(EPOCH FROM NOW() - COALESCE(query_start, xact_start)) * 1000.0 AS duration_ms,
  usename AS user,
  backend_type
FROM
  pg_stat_activity
WHERE
  state <> 'idle'
  AND pid <> pg_backend_pid()
  AND datname = current_database()
  AND query <> '<insufficient privilege>'
ORDER BY
  COALESCE(query_start, xact_start) DESC;
\echo @@ indexes/unused_indexes
SELECT
  schemaname AS schema,
  relname AS table,
  indexrelname AS index,
  pg_relation_size(i.indexrelid) AS size_bytes,
  idx_scan as index_scans
FROM
  pg_stat_user_indexes ui
INNER JOIN
  pg_index i ON ui.indexrelid = i.indexrelid
WHERE
  NOT indisunique
  AND idx_scan <= 0
  AND pg_relation_size(i.indexrelid) >= 10485760
ORDER BY
  pg_relation_size(i.indexrelid) DESC,
  relname ASC;
\echo @@ indexes/index_bloat
WITH btree_index_atts AS (
  SELECT
    nspname, relname, reltuples, relpages, indrelid, relam,
    regexp_split_to_table(indkey::text, ' ')::smallint AS attnum,
    indexrelid as index_oid
  FROM
    pg_index
  JOIN
    pg_class ON pg_class.oid = pg_index.indexrelid
  JOIN
    pg_namespace ON pg_namespace.oid = pg_class.relnamespace
  JOIN
    pg_am ON pg_class.relam = pg_am.oid
  WHERE
    pg_am.amname = 'btree'
),
index_item_sizes AS (
  SELECT
    i.nspname,
    i.relname,
    i.reltuples,
    i.relpages,
    i.relam,
    (quote_ident(s.schemaname) || '.' || quote_ident(s.tablename))::regclass AS starelid,
    a.attrelid AS table_oid, index_oid,
    current_setting('block_size')::numeric AS bs,
    /* MAXALIGN: 4 on 32bits, 8 on 64bits (and mingw32 ?) */
    CASE
      WHEN version() ~ 'mingw32' OR version() ~ '64-bit' THEN 8
      ELSE 4
    END AS maxalign,
    24 AS pagehdr,
    /* per tuple header: add index_attribute_bm if some cols are null-able */
    CASE WHEN max(coalesce(s.null_frac,0)) = 0
      THEN 2
      ELSE 6
    END AS index_tuple_hdr,
    /* data len: we remove null values save space using it fractionnal part from stats */
    sum( (1-coalesce(s.null_frac, 0)) * coalesce(s.avg_width, 2048) ) AS nulldatawidth
  FROM
    pg_attribute AS a
  JOIN
    pg_stats AS s ON (quote_ident(s.schemaname) || '.' || quote_ident(s.tablename))::regclass=a.attrelid AND s.attname = a.attname
  JOIN
    btree_index_atts AS i ON i.indrelid = a.attrelid AND a.attnum = i.attnum
  WHERE
    a.attnum > 0
  GROUP BY
    1, 2, 3, 4, 5, 6, 7, 8, 9
),
index_aligned AS (
  SELECT
    maxalign,
    bs,
    nspname,
    relname AS index_name,
    reltuples,
    relpages,
    relam,
    table_oid,
    index_oid,
    ( 2 +
      maxalign - CASE /* Add padding to the index tuple header to align on MAXALIGN */
        WHEN index_tuple_hdr%maxalign = 0 THEN maxalign
        ELSE index_tuple_hdr%maxalign
      END
    + nulldatawidth + maxalign - CASE /* Add padding to the data to align on MAXALIGN */
        WHEN nulldatawidth::integer%maxalign = 0 THEN maxalign
        ELSE nulldatawidth::integer%maxalign
      END
    )::numeric AS nulldatahdrwidth, pagehdr
  FROM
    index_item_sizes AS s1
),
otta_calc AS (
  SELECT
    bs,
    nspname,
    table_oid,
    index_oid,
    index_name,
    relpages,
    coalesce(
      ceil((reltuples*(4+nulldatahdrwidth))/(bs-pagehdr::float)) +
      CASE WHEN am.amname IN ('hash','btree') THEN 1 ELSE 0 END , 0 /* btree and hash have a metadata reserved block */
    ) AS otta
  FROM
    index_aligned AS s2
  LEFT JOIN
    pg_am am ON s2.relam = am.oid
),
raw_bloat AS (
  SELECT
    nspname,
    c.relname AS table_name,
    index_name,
    bs*(sub.relpages)::bigint AS totalbytes,
    CASE
      WHEN sub.relpages <= otta THEN 0
      ELSE bs*(sub.relpages-otta)::bigint END
      AS wastedbytes,
    CASE
      WHEN sub.relpages <= otta
      THEN 0 ELSE bs*(sub.relpages-otta)::bigint * 100 / (bs*(sub.relpages)::bigint) END
      AS realbloat,
    pg_relation_size(sub.table_oid) as table_bytes,
    stat.idx_scan as index_scans,
    stat.indexrelid
  FROM
    otta_calc AS sub
  JOIN
    pg_class AS c ON c.oid=sub.table_oid
  JOIN
    pg_stat_user_indexes AS stat ON sub.index_oid = stat.indexrelid
)
SELECT
  nspname AS schema,
  table_name AS table,
  index_name AS index,
  wastedbytes AS bloat_bytes,
  totalbytes AS index_bytes,
  pg_get_indexdef(rb.indexrelid) AS definition,
  indisprimary AS primary
FROM
  raw_bloat rb
INNER JOIN
  pg_index i ON i.indexrelid = rb.indexrelid
WHERE
  wastedbytes >= 104857600
ORDER BY
  wastedbytes DESC,
  index_name;
\echo @@ indexes/invalid_constraints
SELECT
  nsp.nspname AS schema,
  rel.relname AS table,
  con.conname AS name,
  fnsp.nspname AS referenced_schema,
  frel.relname AS referenced_table
FROM
  pg_catalog.pg_constraint con
INNER JOIN
  pg_catalog.pg_class rel ON rel.oid = con.conrelid
LEFT JOIN
  pg_catalog.pg_class frel ON frel.oid = con.confrelid
LEFT JOIN
  pg_catalog.pg_namespace nsp ON nsp.oid = con.connamespace
LEFT JOIN
  pg_catalog.pg_namespace fnsp ON fnsp.oid = frel.relnamespace
WHERE
  con.convalidated = 'f';
\echo @@ vacuum/maintenance_info
SELECT
  schemaname AS schema,
  relname AS table,
  last_vacuum,
  last_autovacuum,
  last_analyze,
  last_autoanalyze,
  n_dead_tup AS dead_rows,
  n_live_tup AS live_rows
FROM
  pg_stat_user_tables
ORDER BY
  1, 2;
\echo @@ vacuum/autovacuum_danger
SHOW autovacuum_freeze_max_age;
SELECT
  n.nspname AS schema,
  c.relname AS table,
  200000000 - GREATEST(AGE(c.relfrozenxid), AGE(t.relfrozenxid)) AS transactions_left
FROM
  pg_class c
INNER JOIN
  pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN
  pg_class t ON c.reltoastrelid = t.oid
WHERE
  c.relkind = 'r'
  AND (200000000 - GREATEST(AGE(c.relfrozenxid), AGE(t.relfrozenxid))) < 2000000
ORDER BY
 3, 1, 2;
\echo @@ vacuum/vacuum_progress
SELECT
  pid,
  phase
FROM
  pg_stat_progress_vacuum
WHERE
  datname = current_database();
\echo @@ vacuum/autovacuum_settings
SHOW autovacuum;
SHOW autovacuum_max_workers;
SHOW autovacuum_vacuum_cost_limit;
SHOW autovacuum_vacuum_scale_factor;
SHOW autovacuum_analyze_scale_factor;
SHOW vacuum_cost_limit;
\echo @@ wraparound/transaction_id_danger
SELECT
  n.nspname AS schema,
  c.relname AS table,
  2146483648 - GREATEST(AGE(c.relfrozenxid), AGE(t.relfrozenxid)) AS transactions_left
FROM
  pg_class c
INNER JOIN
  pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN
  pg_class t ON c.reltoastrelid = t.oid
WHERE
  c.relkind = 'r'
  AND (2146483648 - GREATEST(AGE(c.relfrozenxid), AGE(t.relfrozenxid))) < 1500000000
ORDER BY
 3, 1, 2;
\echo @@ wraparound/sequences
SELECT
  sn.nspname AS schema,
  s.relname AS sequence,
  n.nspname AS table_schema,
  c.relname AS table,
  attname AS column,
  format_type(a.atttypid, a.atttypmod) AS column_type,
  pg_get_expr(d.adbin, d.adrelid) AS default_value
FROM
  pg_catalog.pg_attribute a
INNER JOIN
  pg_catalog.pg_class c ON c.oid = a.attrelid
INNER JOIN
  pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN
  pg_catalog.pg_depend dep ON dep.refclassid = 'pg_catalog.pg_class'::regclass
  AND dep.refobjid = a.attrelid
  AND dep.refobjsubid = a.attnum
  AND dep.classid = 'pg_catalog.pg_class'::regclass
  AND dep.objsubid = 0
  AND dep.deptype IN ('i', 'a')
  AND dep.objid IN (SELECT oid FROM pg_class WHERE relkind = 'S')
LEFT JOIN
  pg_catalog.pg_class s ON s.oid = dep.objid
LEFT JOIN
  pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
LEFT JOIN
  pg_catalog.pg_attrdef d ON a.attrelid = d.adrelid
  AND a.attnum = d.adnum
  AND s.relkind IS NULL
WHERE
  NOT a.attisdropped
  AND a.attnum > 0
  AND (pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval%' OR s.relname IS NOT NULL)
  AND c.relpersistence <> 't';
SELECT
  n.nspname AS schema,
  c.relname AS sequence,
  has_sequence_privilege(c.oid, 'SELECT') AND (c.relpersistence <> 'u' OR NOT pg_is_in_recovery()) AS readable
FROM
  pg_class c
INNER JOIN
  pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE
  c.relkind = 'S'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema');
SELECT schemaname AS schema, sequencename AS sequence, COALESCE(last_value, start_value) AS last_value FROM pg_sequences;
\echo @@ cache/index_hit_rate
SELECT
  (sum(idx_blks_hit)) / nullif(sum(idx_blks_hit + idx_blks_read), 0) AS rate
FROM
  pg_statio_user_indexes;
\echo @@ cache/table_hit_rate
SELECT
  sum(heap_blks_hit) / nullif(sum(heap_blks_hit) + sum(heap_blks_read), 0) AS rate
FROM
  pg_statio_user_tables;
\echo @@ connections/long_running_queries
SELECT
  pid,
  state,
  application_name AS source,
  age(NOW(), COALESCE(query_start, xact_start)) AS duration,
  wait_event IS NOT NULL AS waiting,
  query,
  COALESCE(query_start, xact_start) AS started_at,
  EXTRACT(EPOCH FROM NOW() - COALESCE(query_start, xact_start)) * 1000.0 AS duration_ms,
  usename AS user,
  backend_type
FROM
  pg_stat_activity
WHERE
  state <> 'idle'
  AND pid <> pg_backend_pid()
  AND datname = current_database()
  AND NOW() - COALESCE(query_start, xact_start) > interval '60 seconds'
  AND query <> '<insufficient privilege>'
ORDER BY
  COALESCE(query_start, xact_start) DESC;
\echo @@ connections/connection_states
SELECT
  state,
  COUNT(*) AS connections
FROM
  pg_stat_activity
GROUP BY
  1
ORDER BY
  2 DESC, 1;
\echo @@ connections/total_connections
SELECT COUNT(*) FROM pg_stat_activity;
\echo @@ connections/blocked_queries
SELECT
  COALESCE(blockingl.relation::regclass::text,blockingl.locktype) as locked_item,
  blockeda.pid AS blocked_pid,
  blockeda.usename AS blocked_user,
  blockeda.query as blocked_query,
  age(now(), blockeda.query_start) AS blocked_duration,
  blockedl.mode as blocked_mode,
  blockinga.pid AS blocking_pid,
  blockinga.usename AS blocking_user,
  blockinga.state AS state_of_blocking_process,
  blockinga.query AS current_or_recent_query_in_blocking_process,
  age(now(), blockinga.query_start) AS blocking_duration,
  blockingl.mode as blocking_mode
FROM
  pg_catalog.pg_locks blockedl
LEFT JOIN
  pg_stat_activity blockeda ON blockedl.pid = blockeda.pid
LEFT JOIN
  pg_catalog.pg_locks blockingl ON blockedl.pid != blockingl.pid AND (
    blockingl.transactionid = blockedl.transactionid
    OR (blockingl.relation = blockedl.relation AND blockingl.locktype = blockedl.locktype)
  )
LEFT JOIN
  pg_stat_activity blockinga ON blockingl.pid = blockinga.pid AND blockinga.datid = blockeda.datid
WHERE
  NOT blockedl.granted
  AND blockeda.query <> '<insufficient privilege>'
  AND blockeda.datname = current_database()
ORDER BY
  blocked_duration DESC;
\echo @@ replication/replica
SELECT pg_is_in_recovery();
\echo @@ replication/replication_slots
SELECT
  slot_name,
  database,
  active
FROM pg_replication_slots;
\echo @@ replication/replication_lag
SELECT
  CASE
    WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE EXTRACT (EPOCH FROM NOW() - pg_last_xact_replay_timestamp())
  END
AS replication_lag;
\echo @@ replication/replicating
SELECT state FROM pg_stat_replication;
\echo @@ configuration/settings
SHOW max_connections;
SHOW shared_buffers;
SHOW effective_cache_size;
SHOW maintenance_work_mem;
SHOW checkpoint_completion_target;
SHOW wal_buffers;
SHOW default_statistics_target;
SHOW random_page_cost;
SHOW effective_io_concurrency;
SHOW work_mem;
SHOW huge_pages;
SHOW jit;
SHOW wal_compression;
SHOW min_wal_size;
SHOW max_wal_size;
SQL

# ---- one session: the script on stdin, \timing on, results to /dev/null unless $3 = show ----
session() {   # session NAME SQLFILE [show]
    local log=$OUT/$1.log
    { echo '\timing on'; [ "${3:-}" = show ] || echo '\o /dev/null'; cat "$2"; } \
        | "${PSQL[@]}" -v ON_ERROR_STOP=1 -d bench >"$log" 2>&1 || { echo "  $1 FAILED:"; tail -n 5 "$log" | sed 's/^/    /'; return 1; }
}
total_ms() { awk '/^Time: / { s += $2 } END { printf "%.3f", s }' "$1"; }
# "check<TAB>ms" per check (the @@ labels; statements before the first label count as "all")
per_check() { awk '/^@@ / { c = $2; next } /^Time: / { s[c == "" ? "all" : c] += $2 } END { for (k in s) printf "%s\t%.3f\n", k, s[k] }' "$1"; }

OURS=$OUT/ours.sql
echo 'SELECT * FROM optimizer.health();' > "$OURS"

echo
echo "==> optimizer.health() once (untimed output)"
"${PSQL[@]}" -d bench -c "SELECT area, status, findings, left(top_finding, 90) AS top_finding, left(top_action, 60) AS top_action FROM optimizer.health()" || true
echo "==> PgHero's checks once: rows per check"
if session pghero-show "$PGHERO" show; then
    awk '/^@@ / { c = $2; n[c] = 0; order[++k] = c; next } /^\([0-9]+ rows?\)$/ { gsub(/[()]/, "", $1); n[c] += $1 }
         END { line = ""; for (i = 1; i <= k; i++) line = line sprintf("%s %s; ", order[i], n[order[i]]); print "  " line }' \
        "$OUT/pghero-show.log" | fold -s -w 120
fi

# ---- the timed runs ----
echo
echo "==> $RUNS runs, alternating order, each side in a fresh psql session"
: > "$OUT/times.tsv"
fail_ours=0; fail_theirs=0; theirs_bound=0
for (( r = 1; r <= RUNS; r++ )); do
    if (( r % 2 )); then order=(ours pghero); else order=(pghero ours); fi
    line="  run $(printf '%2d' "$r"):"
    for s in "${order[@]}"; do
        if [ "$s" = ours ]; then
            if [ "$fail_ours" = 1 ]; then line+=" ours    skipped"; continue; fi
            if session "ours-$r" "$OURS"; then ms=$(total_ms "$OUT/ours-$r.log"); else ms=; fail_ours=1; fi
            line+=" ours $(printf '%10s' "${ms:-FAILED}") ms"
        else
            if [ "$fail_theirs" = 1 ]; then line+="  pghero    skipped"; continue; fi
            bound=
            if session "pghero-$r" "$PGHERO"; then ms=$(total_ms "$OUT/pghero-$r.log"); else
                ms=; fail_theirs=1
                # Cut at STATEMENT_TIMEOUT: what it took until then is a lower bound of its time.
                if grep -q "canceling statement due to statement timeout" "$OUT/pghero-$r.log"; then
                    ms=$(total_ms "$OUT/pghero-$r.log"); bound=">="; theirs_bound=1
                fi
            fi
            line+="  pghero $(printf '%12s' "${bound}${ms:-FAILED}") ms"
            per_check "$OUT/pghero-$r.log" | sed "s/^/$r\t/" >> "$OUT/pghero-checks.tsv"
        fi
        [ -n "$ms" ] && printf '%s\t%s\t%s\n' "$r" "$s" "$ms" >> "$OUT/times.tsv"
    done
    echo "$line  (${order[0]} first)"
done

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print ""; exit } if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
OURS_MED=$(awk -F'\t' '$2 == "ours" { print $3 }' "$OUT/times.tsv" | median)
THEIRS_MED=$(awk -F'\t' '$2 == "pghero" { print $3 }' "$OUT/times.tsv" | median)
OURS_TOT=$(awk -F'\t' '$2 == "ours" { s += $3 } END { printf "%.1f", s }' "$OUT/times.tsv")
THEIRS_TOT=$(awk -F'\t' '$2 == "pghero" { s += $3 } END { printf "%.1f", s }' "$OUT/times.tsv")
echo
echo "optimizer.health():   median ${OURS_MED:-n/a} ms, total ${OURS_TOT} ms over $RUNS runs"
echo "PgHero's checks (SQL): median ${THEIRS_MED:-n/a} ms, total ${THEIRS_TOT} ms over $RUNS runs"
if [ -s "$OUT/pghero-checks.tsv" ]; then
    echo "PgHero, median per check (ms):"
    cut -f2 "$OUT/pghero-checks.tsv" | awk '!seen[$0]++' | while read -r c; do
        printf '  %-36s %10s\n' "$c" "$(awk -F'\t' -v c="$c" '$2 == c { print $3 }' "$OUT/pghero-checks.tsv" | median)"
    done
fi

# ---- ours per view, as health() runs them (3 fresh sessions; not part of the ratio) ----
VIEWSQL=$OUT/ours-views.sql
: > "$VIEWSQL"
for v in "${PRESENT[@]}"; do
    if [ "$v" = statistics_advice ]; then src="optimizer.statistics_advice(0)"; else src="optimizer.$v"; fi
    printf '\\echo @@ %s\nSELECT severity, evidence, recommendation FROM %s;\n' "$v" "$src" >> "$VIEWSQL"
done
: > "$OUT/ours-views.tsv"
for r in 1 2 3; do
    session "ours-views-$r" "$VIEWSQL" && per_check "$OUT/ours-views-$r.log" | sed "s/^/$r\t/" >> "$OUT/ours-views.tsv" || true
done
if [ -s "$OUT/ours-views.tsv" ]; then
    echo "ours, median per view over 3 sessions (ms; the views health() reads, each in full):"
    for v in "${PRESENT[@]}"; do
        printf '  %-36s %10s\n' "$v" "$(awk -F'\t' -v c="$v" '$2 == c { print $3 }' "$OUT/ours-views.tsv" | median)"
    done
fi

# ---- locks ----
echo
echo "==> locks held at the end of the transaction (BEGIN; <checks>; pg_locks of this backend; ROLLBACK)"
LOCKQ="SELECT locktype, mode, count(*) FROM pg_locks WHERE pid = pg_backend_pid() GROUP BY 1, 2 ORDER BY 1, 2;
SELECT 'STRONGER: ' || mode || ' on ' || string_agg(coalesce(relation::regclass::text, relation::text), ', ' ORDER BY relation::regclass::text) AS stronger
  FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation' AND mode <> 'AccessShareLock' GROUP BY mode;"
for s in ours pghero; do
    f=$OURS; [ "$s" = pghero ] && f=$PGHERO
    {
        echo 'BEGIN;'; echo '\o /dev/null'; grep -v '^\\echo' "$f"; echo '\o'
        echo '\pset footer off'; echo "$LOCKQ"; echo 'ROLLBACK;'
    } | "${PSQL[@]}" -v ON_ERROR_STOP=1 -d bench -F ' ' -A >"$OUT/locks-$s.log" 2>&1 || echo "  $s: lock check FAILED ($(tail -n 1 "$OUT/locks-$s.log"))"
    label=$([ "$s" = ours ] && echo "optimizer.health()" || echo "PgHero's checks")
    echo "  $label:"
    grep -v '^STRONGER\|^stronger$' "$OUT/locks-$s.log" | sed 's/^/    /'
    if grep -q '^STRONGER: ' "$OUT/locks-$s.log"; then
        grep '^STRONGER: ' "$OUT/locks-$s.log" | sed 's/^STRONGER: /    relation lock stronger than AccessShareLock: /' | cut -c1-300
    else
        echo "    relation locks: AccessShareLock only"
    fi
done

echo
echo "elapsed $(elapsed)"
if [ "$fail_ours" = 0 ] && { [ "$fail_theirs" = 0 ] || [ "$theirs_bound" = 1 ]; } && [ -n "$OURS_MED" ] && [ -n "$THEIRS_MED" ] \
   && awk -v t="$THEIRS_MED" 'BEGIN { exit !(t > 0) }'; then
    if [ "$theirs_bound" = 1 ]; then
        echo "PgHero's side was cut at STATEMENT_TIMEOUT (${STATEMENT_TIMEOUT:-120s}): its time is a lower bound, so the ratio is an upper bound"
    fi
    echo "ratio: $(awk -v o="$OURS_MED" -v t="$THEIRS_MED" 'BEGIN { printf "%.4f", o / t }')"
else
    echo "ratio: n/a"
fi
