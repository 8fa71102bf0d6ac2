#!/usr/bin/env bash
# Fuzz tier: sqlsmith against a private preloaded cluster (track = all, every statement and every
# plan sampled), with two concurrent sessions that define hypothetical indexes and run the advisor.
# Fails on a server crash, a `could not open relation with OID`, or any log line of ours at WARNING
# or above (scripts/fuzz_report.py reads the server's csvlog).
#
#   scripts/fuzz.sh [QUERIES]     default 5000 (the CI tier, `make fuzz-ci`, ~1.5 minutes); `make fuzz` runs 20000
#
# Environment: FUZZ_SEED (sqlsmith's seed, default 1), FUZZ_PORT (default 5600), FUZZ_DIR (data
# directory, default /tmp/pg_optimizer-fuzz-$FUZZ_PORT; its csvlog and the artefacts in $FUZZ_DIR-out
# stay after the run), FUZZ_CATALOG=1 (let sqlsmith query pg_catalog and information_schema too),
# FUZZ_TIME_LIMIT (seconds before sqlsmith is stopped, default 60 + QUERIES / 4).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

QUERIES=${1:-${FUZZ_QUERIES:-5000}}
SEED=${FUZZ_SEED:-1}
PORT=${FUZZ_PORT:-5600}
DIR=${FUZZ_DIR:-/tmp/pg_optimizer-fuzz-$PORT}
OUT=$DIR-out
TIME_LIMIT=${FUZZ_TIME_LIMIT:-$((60 + QUERIES / 4))}
DB=fuzz
SO=/usr/lib/postgresql/$PG_MAJOR/lib/pg_optimizer.so

command -v sqlsmith >/dev/null || { echo "fuzz: sqlsmith is not installed (scripts/prereqs.sh installs it)" >&2; exit 2; }
[ -f "$SO" ] || { echo "fuzz: $SO is missing (scripts/install.sh)" >&2; exit 2; }

stop_cluster "$DIR"
rm -rf "$DIR" "$OUT"
mkdir -p "$OUT"
RUN_FLAG=$OUT/running
pids=()
cleanup() {
    rm -f "$RUN_FLAG"
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    stop_cluster "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Every statement recorded (nested ones too) and every plan walked; small stores so that eviction
# runs under the load; a csvlog with SQLSTATEs and source locations (ours are .rs files).
# pgrx puts a Rust backtrace in the DETAIL of an error that crosses our code: it tells who raised it
export RUST_BACKTRACE=1
start_cluster "$DIR" "$PORT" \
    "fsync = off" "jit = off" "temp_file_limit = '512MB'" \
    "pg_optimizer.track = 'all'" "pg_optimizer.sample_rate = 1" "pg_optimizer.predicate_sample_rate = 1" \
    "pg_optimizer.track_planning = on" "pg_optimizer.max_statements = 1000" "pg_optimizer.max_predicates = 5000" \
    "logging_collector = on" "log_destination = 'stderr,csvlog'" "log_directory = 'log'" \
    "log_min_messages = warning" "log_min_error_statement = warning" "log_error_verbosity = verbose" \
    "log_line_prefix = '%m [%p] %a %u@%d '" "restart_after_crash = on"
so_before=$(stat -c '%Y %s' "$SO")

psql_as() { # psql_as USER DB [psql args...]: quiet, no psqlrc
    local user=$1 db=$2; shift 2
    "$PG_BIN/psql" -X -q -h "$SOCK_DIR" -p "$PORT" -U "$user" -d "$db" "$@"
}

echo "==> fuzz: cluster on port $PORT ($DIR), schema and data in database $DB"
psql_as postgres postgres -v ON_ERROR_STOP=1 <<SQL
CREATE ROLE fuzz LOGIN;
GRANT pg_read_all_stats TO fuzz;
ALTER ROLE fuzz SET statement_timeout = '1s';
CREATE DATABASE $DB OWNER fuzz;
SQL
psql_as postgres "$DB" -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION pg_optimizer;
-- sqlsmith may call these at random: resets racing with recording and with the advisor
GRANT EXECUTE ON FUNCTION optimizer.reset(oid, oid, bigint), optimizer.reset_predicates(oid, bigint) TO fuzz;
SQL
psql_as fuzz "$DB" -v ON_ERROR_STOP=1 <<'SQL'
SET statement_timeout = 0;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE customers (
    id int PRIMARY KEY, name text NOT NULL, email text, country char(2), balance numeric(12,2),
    created_at timestamptz, active boolean, tags text[], mood mood);
CREATE TABLE orders (
    id bigint PRIMARY KEY, customer_id int REFERENCES customers, status text, amount numeric,
    ordered_at timestamp, shipped_on date, items int[], note varchar(200));
CREATE TABLE events (
    id bigserial PRIMARY KEY, kind text, payload jsonb, at timestamptz, took interval, ip inet,
    uid uuid, score float8, during tstzrange, body tsvector);
CREATE TABLE measurements (city_id int NOT NULL, logdate date NOT NULL, peaktemp int, unitsales numeric)
    PARTITION BY RANGE (logdate);
CREATE TABLE measurements_2024q1 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2024-04-01');
CREATE TABLE measurements_2024q2 PARTITION OF measurements FOR VALUES FROM ('2024-04-01') TO ('2024-07-01');
CREATE TABLE measurements_rest PARTITION OF measurements DEFAULT;
CREATE TABLE kv (k text, v bytea, r int4range, x xml, n smallint, money_col money);

INSERT INTO customers
SELECT i, 'customer ' || i, CASE WHEN i % 10 <> 0 THEN 'c' || i || '@example.com' END,
       (ARRAY['FR','DE','US','JP','BR'])[1 + i % 5], (i * 37 % 10000) / 100.0,
       timestamptz '2023-01-01' + i * interval '3 hours', i % 3 <> 0,
       CASE WHEN i % 7 = 0 THEN ARRAY['vip'] ELSE ARRAY['std', 'n' || i % 4] END,
       (ARRAY['sad','ok','happy']::mood[])[1 + i % 3]
FROM generate_series(1, 2000) i;
INSERT INTO orders
SELECT i, 1 + (i * 7919) % 2000, (ARRAY['open','paid','shipped','done'])[1 + i % 4], (i % 500) + 0.99,
       timestamp '2024-01-01' + i * interval '17 minutes',
       CASE WHEN i % 4 >= 2 THEN date '2024-01-02' + i / 200 END,
       ARRAY[i % 13, i % 17], repeat('x', i % 40)
FROM generate_series(1, 20000) i;
INSERT INTO events (kind, payload, at, took, ip, uid, score, during, body)
SELECT (ARRAY['click','view','buy'])[1 + i % 3],
       jsonb_build_object('kind', (ARRAY['click','view','buy'])[1 + i % 3], 'n', i, 'tags', jsonb_build_array(i % 5, 'a')),
       timestamptz '2024-01-01' + i * interval '1 minute', i * interval '1 ms', ('10.0.' || i % 256 || '.' || i % 200)::inet,
       md5(i::text)::uuid, i / 7.0,
       tstzrange(timestamptz '2024-01-01' + i * interval '1 minute', timestamptz '2024-01-01' + (i + 5) * interval '1 minute'),
       to_tsvector('english', 'event number ' || i || ' of kind ' || (ARRAY['click','view','buy'])[1 + i % 3])
FROM generate_series(1, 10000) i;
INSERT INTO measurements
SELECT 1 + i % 50, date '2024-01-01' + i % 300, (i * 13) % 40, (i % 1000) / 10.0
FROM generate_series(1, 15000) i;
INSERT INTO kv
SELECT 'k' || i, decode(md5(i::text), 'hex'), int4range(i, i + 10), ('<a>' || i || '</a>')::xml, (i % 100)::smallint, (i * 1.25)::money
FROM generate_series(1, 1000) i;

CREATE INDEX ON orders (customer_id);
CREATE INDEX ON orders (status, ordered_at);
CREATE INDEX ON orders (ordered_at) WHERE status = 'open';
CREATE INDEX ON customers (lower(email));
CREATE INDEX ON events USING gin (payload);
CREATE INDEX ON events USING brin (at);
CREATE INDEX ON events USING gist (during);
CREATE INDEX ON measurements (logdate);
CREATE INDEX ON kv USING hash (k);
CREATE VIEW order_totals AS
    SELECT c.id, c.name, c.country, count(o.id) AS orders, sum(o.amount) AS total
    FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id, c.name, c.country;
CREATE MATERIALIZED VIEW daily_sales AS
    SELECT ordered_at::date AS day, count(*) AS n, sum(amount) AS amount FROM orders GROUP BY 1;
CREATE FUNCTION orders_of(cid int) RETURNS bigint LANGUAGE sql STABLE
    AS 'SELECT count(*) FROM orders WHERE customer_id = cid';
SQL
psql_as postgres "$DB" -v ON_ERROR_STOP=1 -c "ANALYZE"

# Session A: hypothetical indexes, plain EXPLAIN with them, a failing EXPLAIN inside a SAVEPOINT
# followed by real queries (which must never see them), prepared statements, explain_with, drops.
hypos=(
    "CREATE INDEX ON orders (customer_id, ordered_at)"
    "CREATE INDEX ON orders (status) WHERE status <> 'done'"
    "CREATE INDEX ON orders (amount DESC NULLS LAST) INCLUDE (customer_id)"
    "CREATE INDEX ON customers (lower(email))"
    "CREATE INDEX ON customers USING hash (country)"
    "CREATE INDEX ON events USING gin (payload jsonb_path_ops)"
    "CREATE INDEX ON events USING brin (at)"
    "CREATE INDEX ON measurements (city_id, logdate)"
    "CREATE INDEX ON customers USING gin (tags)"
    "CREATE INDEX ON orders (shipped_on)"
)
queries=(
    "SELECT * FROM orders WHERE customer_id = %s AND ordered_at > timestamp '2024-03-01'"
    "SELECT count(*) FROM orders WHERE status = 'open' AND customer_id > %s"
    "SELECT id, customer_id FROM orders WHERE customer_id <> %s ORDER BY amount DESC NULLS LAST LIMIT 5"
    "SELECT * FROM customers WHERE lower(email) = 'c' || %s || '@example.com'"
    "SELECT * FROM customers WHERE country = 'FR' AND id > %s"
    "SELECT count(*) FROM events WHERE payload @> '{\"kind\": \"click\"}' AND id > %s"
    "SELECT count(*) FROM events WHERE at BETWEEN timestamptz '2024-01-02' AND timestamptz '2024-01-03' + %s * interval '1 minute'"
    "SELECT * FROM measurements WHERE city_id = %s AND logdate >= date '2024-02-01'"
    "SELECT id FROM customers WHERE tags @> ARRAY['vip'] AND id > %s"
    "SELECT c.name, o.amount FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.shipped_on = date '2024-03-01' + %s"
)
session_a() {
    local i=0 k n q
    while [ -e "$RUN_FLAG" ] && [ $i -lt 100000 ]; do
        k=$((i % 10)); n=$((1 + i % 97))
        q() { printf "${queries[$(( ($1) % 10 ))]}" "$2"; }
        h() { printf "%s" "${hypos[$(( ($1) % 10 ))]}" | sed "s/'/''/g"; }
        {
            echo "SELECT indexname FROM optimizer.hypothetical_index('$(h $k)');"
            echo "SELECT indexname FROM optimizer.hypothetical_index('$(h $((k + 3)))');"
            echo "EXPLAIN (COSTS OFF) $(q $k $n);"
            echo "EXPLAIN $(q $((k + 3)) $n);"
            echo "BEGIN;"
            echo "SELECT indexname FROM optimizer.hypothetical_index('$(h $((k + 5)))');"
            echo "SAVEPOINT s;"
            # fails while planning, inside our hypothetical scope (constant folding of 1/0)
            echo "EXPLAIN $(q $k "1/0");"
            echo "ROLLBACK TO SAVEPOINT s;"
            echo "$(q $k $n);"
            echo "EXPLAIN $(q $((k + 5)) $n);"
            [ $((i % 3)) = 0 ] && echo "SELECT count(*) FROM orders WHERE amount / (customer_id - customer_id) > 0;"
            [ $((i % 2)) = 0 ] && echo "COMMIT;" || echo "ROLLBACK;"
            echo "PREPARE p(int) AS $(q $((k + 3)) '$1');"
            echo "EXECUTE p($n); EXECUTE p($((n + 1)));"
            echo "EXPLAIN EXECUTE p($n);"
            echo "DEALLOCATE p;"
            echo "SELECT orders_of($n);"
            echo "SELECT used FROM optimizer.explain_with('$(q $((k + 1)) $n | sed "s/'/''/g")', ARRAY['$(h $((k + 1)))']);"
            echo "SELECT count(*) FROM optimizer.hypothetical_indexes;"
            echo "SELECT optimizer.drop_hypothetical(indexrelid) FROM optimizer.hypothetical_indexes ORDER BY indexrelid LIMIT 1;"
            [ $((i % 4)) = 1 ] && echo "SET pg_optimizer.hypothetical_explain = off; EXPLAIN $(q $k $n); RESET pg_optimizer.hypothetical_explain;"
            [ $((i % 5)) = 4 ] || echo "SELECT optimizer.drop_hypothetical();"
        } | PGAPPNAME=fuzz_a psql_as fuzz "$DB" >/dev/null 2>>"$OUT/session_a.err" || true
        i=$((i + 1))
    done
    echo "$i" >"$OUT/session_a.iterations"
}

# Session B: the advisor and the views over the recorded workload, as a superuser.
session_b() {
    local i=0
    while [ -e "$RUN_FLAG" ] && [ $i -lt 10000 ]; do
        {
            echo "SET statement_timeout = '120s';"
            echo "SELECT count(*) FROM optimizer.index_advice();"
            echo "SELECT count(*), sum(calls) FROM optimizer.statements;"
            echo "SELECT count(*) FROM optimizer.predicates;"
            echo "SELECT count(*) FROM optimizer.sort_keys;"
            echo "SELECT count(*) FROM optimizer.misestimates;"
            echo "SELECT count(*) FROM optimizer.predicate_entries;"
            echo "SELECT * FROM optimizer.statements_info, optimizer.predicates_info;"
            [ $((i % 3)) = 2 ] && echo "SELECT length(optimizer.index_advice_report(64));"
        } | PGAPPNAME=fuzz_b psql_as postgres "$DB" >/dev/null 2>>"$OUT/session_b.err" || true
        i=$((i + 1))
        sleep 1
    done
    echo "$i" >"$OUT/session_b.iterations"
}

catalog=--exclude-catalog
[ "${FUZZ_CATALOG:-0}" = 1 ] && catalog=
echo "==> fuzz: sqlsmith, $QUERIES queries, seed $SEED${catalog:+, $catalog}, statement_timeout 1s; sessions A (hypothetical indexes) and B (advisor)"
touch "$RUN_FLAG"
session_a & pids+=($!)
session_b & pids+=($!)
start=$(date +%s)
status=0
timeout --signal=INT "$TIME_LIMIT" sqlsmith --target="host=$SOCK_DIR port=$PORT user=fuzz dbname=$DB" \
    --seed="$SEED" --max-queries="$QUERIES" --verbose $catalog 2>"$OUT/sqlsmith.err" &
smith=$!
pids+=($smith)
server_down=
while kill -0 $smith 2>/dev/null; do
    sleep 5
    if ! kill -0 "$(head -1 "$DIR/postmaster.pid" 2>/dev/null)" 2>/dev/null; then
        # the postmaster itself died (crash recovery keeps it alive): sqlsmith would retry forever
        server_down=1
        echo "fuzz: the server is down after $(( $(date +%s) - start )) s; stopping sqlsmith"
        kill -INT $smith 2>/dev/null || true
        break
    fi
    if [ $(( ($(date +%s) - start) % 60 )) -lt 5 ]; then
        done_q=$(grep -E '^[.eStC]+$' "$OUT/sqlsmith.err" 2>/dev/null | tr -d '\n' | wc -c || true)
        echo "    $(( $(date +%s) - start )) s: $done_q queries"
    fi
done
wait $smith || status=$?
elapsed=$(( $(date +%s) - start ))
rm -f "$RUN_FLAG"
# the sessions stop after their current iteration; an advisor run still going after 60 s is cancelled
for _ in $(seq 60); do kill -0 "${pids[0]}" 2>/dev/null || kill -0 "${pids[1]}" 2>/dev/null || break; sleep 1; done
psql_as postgres postgres -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name IN ('fuzz_a', 'fuzz_b')" >/dev/null || true
wait "${pids[@]:0:2}" 2>/dev/null || true
pids=()
[ $status = 0 ] || [ -n "$server_down" ] || echo "fuzz: sqlsmith exited with status $status (124: stopped at the time limit of $TIME_LIMIT s)"
so_after=$(stat -c '%Y %s' "$SO")
# Overwriting the library in place (cargo pgrx install) gives processes that map it a SIGBUS.
[ "$so_before" = "$so_after" ] || echo "fuzz: NOTE $SO was replaced during the run; a crash (signal 7, Bus error, above all) may come from the reinstall"

# What the stores hold after the run, and one last advisor run over the whole recorded workload.
psql_as postgres "$DB" -P footer=off <<'SQL' | tee "$OUT/stores.txt" || true
SET application_name = 'fuzz_b';
SET statement_timeout = '300s';
SELECT s.entries AS statements, s.evictions AS statement_evictions,
       p.entries AS predicates, p.evictions AS predicate_evictions,
       (SELECT sum(calls) FROM optimizer.statements) AS calls,
       (SELECT count(*) FROM optimizer.index_advice()) AS advice_rows
  FROM optimizer.statements_info s, optimizer.predicates_info p;
SQL
stop_cluster "$DIR"   # flushes the log
report_status=0
python3 scripts/fuzz_report.py --log-dir "$DIR/log" --sqlsmith "$OUT/sqlsmith.err" --out "$OUT" \
    --queries "$QUERIES" --seconds "$elapsed" \
    --iterations-a "$(cat "$OUT/session_a.iterations" 2>/dev/null || echo 0)" \
    --iterations-b "$(cat "$OUT/session_b.iterations" 2>/dev/null || echo 0)" || report_status=$?
if [ $report_status -ne 0 ]; then
    echo "fuzz: FAILED (server log: $DIR/log, artefacts: $OUT)"
    exit $report_status
fi
[ -z "$server_down" ] || { echo "fuzz: FAILED: the postmaster died (log: $DIR/log)"; exit 1; }
[ $status = 0 ] || { echo "fuzz: FAILED: sqlsmith did not finish its $QUERIES queries"; exit 1; }
