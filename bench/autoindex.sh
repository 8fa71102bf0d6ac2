#!/usr/bin/env bash
# Auto-indexing under an app-like load: the same pgbench run before and after pg_optimizer builds the
# missing indexes on its own (pg_optimizer.autoindex = 'apply').
#
# One cluster (BENCH_DIR /tmp/abench-autoindex, port 5720, socket /tmp), shared_preload_libraries =
# 'pg_optimizer', pg_optimizer.scheduler = on, fsync/synchronous_commit/full_page_writes off (as the
# other benches), shared_buffers 1GB (the ~0.6 GB of data fits, as an app's working set would),
# max_wal_size 4GB, jit off, autovacuum on (its default), max_worker_processes = 16 and
# max_parallel_workers_per_gather = 0 (2 cores and 4 busy clients leave no CPU for parallel scans;
# the worker slots stay free for the scheduler, its job runners and the index builds).
# Autoindex settings (MODE=apply), in postgresql.conf because the built-in jobs read them there:
#   pg_optimizer.autoindex = 'apply', autoindex_window = '' (always open),
#   autoindex_verify_min_calls = 50, autoindex_verify_max_wait = '60s', autoindex_min_benefit = 1;
#   every other autoindex_* setting at its default (3 indexes per run, 2 per table, 20% improvement
#   to keep an index, roll back on a 50% write regression).
#
# Database `bench`: users (id PK, email, country, created_at), orders (id PK, user_id, status,
# created_at, total), order_items (id PK, order_id, product_id, qty, price), events (id PK, user_id,
# kind, created_at, payload), with foreign keys orders.user_id -> users, order_items.order_id ->
# orders, events.user_id -> users, and no index but the primary keys. USERS (200,000) users, ORDERS
# (1,000,000) orders with a uniformly random user, ITEMS_PER_ORDER (2) items each, EVENTS
# (2,000,000) events with a uniformly random user over the last 90 days (orders over 365 days),
# loaded in time order; then VACUUM (FREEZE, ANALYZE) and CHECKPOINT, so that the first minute does
# not pay for hint bits or a checkpoint of the load.
#
# pgbench (simple protocol, -c CLIENTS 4, -j THREADS 2, -T DURATION 180, --progress 10, one log line
# per transaction), five scripts with weights, each one transaction (random ids uniform):
#   dashboard   35  a user's last 10 orders (orders WHERE user_id = ? ORDER BY created_at DESC LIMIT 10)
#                   and last 30 days of events (events WHERE user_id = ? AND created_at >= now() - 30 days
#                   ORDER BY created_at DESC LIMIT 20)
#   order_page  20  an order by id, its items (order_items WHERE order_id = ?)
#   login       15  users WHERE email = ?, then INSERT an event for that user
#   place_order 10  BEGIN; INSERT an order (RETURNING id), 2 items, an event; COMMIT
#   ship        20  UPDATE orders SET status = 'shipped' WHERE id = ?
# Without indexes, every read but the order by id is a sequential scan of 0.2 to 2 million rows.
#
# Timeline (MODE=apply): once the data is loaded, the statement and predicate statistics are reset;
# the script waits for second ALIGN (2) of a whole minute (UTC), sets the built-in jobs'
# schedules, autoindex_run RUN_SCHEDULE ('1 minute': at every whole minute) and autoindex_verify
# VERIFY_SCHEDULE ('10 seconds'), and starts pgbench. So the first minute of the run is the workload
# as it is before anything is built (what the advisor learns from); autoindex_run first fires ~58 s
# in, starts its CREATE INDEX CONCURRENTLY builds, and fires again every minute; autoindex_verify
# settles and verifies the builds every 10 s. (Before that, during the load, both jobs are parked
# on '1 day' so that they do not run on the loading statements.) Changing a job's schedule restarts
# its clock at that moment, so the first run is the next whole minute, not a catch-up run.
#
# Per minute of the run (from pgbench's per-transaction log, by completion time, minute 0 starting
# with the first transaction): transactions per second and the p50/p95 latency. Then the rows of
# optimizer.index_actions (seconds after the start, action, status, table, index, before/after as
# recorded), the autoindex job runs, the indexes that exist at the end besides the primary keys
# (and whether autoindex made them), the statements' calls and mean times, pgbench's own summary
# (with the number of failed transactions). Last line: `ratio: X`, X = TPS of the last minute /
# TPS of the first minute, 2 decimals; n/a when a client transaction failed or a client aborted
# (the computed figure is printed on the line before). Acceptance: ratio >= 3, zero failures.
#
# MODE=none and MODE=manual run the same workload without autoindex (pg_optimizer.autoindex = off
# where the setting exists), MODE=manual with the four obvious indexes created by hand after the
# load (orders (user_id, created_at), order_items (order_id), events (user_id, created_at), users
# (email)): the floor and the ceiling of the apply run. They do not wait for a whole minute, and
# their output goes to /tmp/abench-autoindex-MODE.last.txt instead of bench/autoindex.last.txt.
#
# Needs the release build with auto-indexing installed (make bench-autoindex does it); without
# optimizer.autoindex_run, or if pg_optimizer.autoindex does not read 'apply', it stops before the
# load with `ratio: n/a`. Env: MODE (apply), DURATION (180, a multiple of 60, at least 120),
# CLIENTS (4), THREADS (2), USERS (200000), ORDERS (1000000), ITEMS_PER_ORDER (2), EVENTS
# (2000000), RUN_SCHEDULE ('1 minute'), VERIFY_SCHEDULE ('10 seconds'), ALIGN (2), BENCH_DIR
# (/tmp/abench-autoindex), BENCH_PORT (5720), BENCH_OUT (/tmp/abench-autoindex-out), BENCH_LAST
# (bench/autoindex.last.txt). About 4 to 5 minutes at the defaults (load ~15 s, up to 1 min of
# waiting for the whole minute, 3 min of pgbench).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
MODE=${MODE:-apply}
DIR=${BENCH_DIR:-/tmp/abench-autoindex}
PORT=${BENCH_PORT:-5720}
OUT=${BENCH_OUT:-/tmp/abench-autoindex-out}
if [ "$MODE" = apply ]; then LAST=${BENCH_LAST:-bench/autoindex.last.txt}; else LAST=${BENCH_LAST:-/tmp/abench-autoindex-$MODE.last.txt}; fi
DURATION=${DURATION:-180}
CLIENTS=${CLIENTS:-4}
THREADS=${THREADS:-2}
USERS=${USERS:-200000}
ORDERS=${ORDERS:-1000000}
ITEMS_PER_ORDER=${ITEMS_PER_ORDER:-2}
EVENTS=${EVENTS:-2000000}
RUN_SCHEDULE=${RUN_SCHEDULE:-1 minute}
VERIFY_SCHEDULE=${VERIFY_SCHEDULE:-10 seconds}
ALIGN=${ALIGN:-2}

case $MODE in apply|none|manual) ;; *) echo "MODE must be apply, none or manual" >&2; exit 2 ;; esac
for v in DURATION CLIENTS THREADS USERS ORDERS ITEMS_PER_ORDER EVENTS; do
    [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -ge 1 ] || { echo "$v must be a positive integer" >&2; exit 2; }
done
[[ $ALIGN =~ ^[0-9]+$ ]] && [ "$ALIGN" -lt 50 ] || { echo "ALIGN must be 0..49" >&2; exit 2; }
[ $(( DURATION % 60 )) = 0 ] && [ "$DURATION" -ge 120 ] || { echo "DURATION must be a multiple of 60, at least 120" >&2; exit 2; }
MINUTES=$(( DURATION / 60 ))

exec > >(tee "$LAST") 2>&1
TEE_PID=$!

PSQL=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK_DIR" -p "$PORT" -U postgres)
sql() { "${PSQL[@]}" -At -d bench "$@"; }   # unaligned, tuples only, in database bench
table() { "${PSQL[@]}" -d bench -P footer=off "$@"; }
now() { date +%s.%N; }

PGBENCH_PID=
cleanup() {
    [ -n "$PGBENCH_PID" ] && kill "$PGBENCH_PID" 2>/dev/null || true
    stop_cluster "$DIR"
    exec >&- 2>&-
    wait "$TEE_PID" 2>/dev/null || true
}
trap cleanup EXIT

fail() { echo "$*"; echo "ratio: n/a"; exit 1; }

# ---- the cluster ----
AUTOINDEX_CONF=()
if [ "$MODE" = apply ]; then
    AUTOINDEX_CONF=("pg_optimizer.autoindex = 'apply'" "pg_optimizer.autoindex_window = ''"
        "pg_optimizer.autoindex_verify_min_calls = 50" "pg_optimizer.autoindex_verify_max_wait = '60s'"
        "pg_optimizer.autoindex_min_benefit = 1")
fi
echo "==> cluster $DIR, port $PORT, MODE=$MODE"
stop_cluster "$DIR"
rm -rf "$DIR" "$OUT"
mkdir -p "$OUT"; chmod 777 "$OUT"
# start_cluster writes shared_preload_libraries = 'pg_optimizer' first
if ! start_cluster "$DIR" "$PORT" "pg_optimizer.scheduler = on" "fsync = off" "synchronous_commit = off" \
        "full_page_writes = off" "shared_buffers = '1GB'" "max_wal_size = '4GB'" "jit = off" \
        "max_worker_processes = 16" "max_parallel_workers_per_gather = 0" "log_min_messages = warning" \
        "${AUTOINDEX_CONF[@]}"; then
    echo "server did not start; end of $DIR/server.log:"; tail -n 30 "$DIR/server.log"
    fail "no cluster"
fi
"${PSQL[@]}" -d postgres -c "CREATE DATABASE bench"
sql -c "CREATE EXTENSION pg_optimizer"
echo "  $(sql -c "SELECT format('PostgreSQL %s, pg_optimizer %s, %s cores',
    current_setting('server_version'), (SELECT extversion FROM pg_extension WHERE extname = 'pg_optimizer'), '$(nproc)')")"
LIB="$("$PG_BIN/pg_config" --pkglibdir)/pg_optimizer.so"
# a debug build (the default of scripts/install.sh) carries .debug_info; PROFILE=release does not
if ! command -v readelf >/dev/null; then build="unknown (no readelf)"
elif readelf -S "$LIB" 2>/dev/null | grep -q '\.debug_info'; then build="debug (.debug_info present)"
else build="release (no .debug_info)"; fi
echo "  library $LIB: $build, installed $(date -u -r "$LIB" '+%F %T') UTC"
HAS_AUTOINDEX=$(sql -c "SELECT to_regproc('optimizer.autoindex_run') IS NOT NULL AND to_regproc('optimizer.autoindex_verify') IS NOT NULL
                               AND to_regclass('optimizer.index_actions') IS NOT NULL")
if [ "$MODE" = apply ]; then
    [ "$HAS_AUTOINDEX" = t ] || fail "optimizer.autoindex_run / autoindex_verify / index_actions do not exist in the installed pg_optimizer: install the build with auto-indexing first (make bench-autoindex does)"
    setting=$(sql -c "SELECT coalesce(current_setting('pg_optimizer.autoindex', true), '(undefined)')")
    [ "$setting" = apply ] || fail "pg_optimizer.autoindex reads '$setting', not 'apply' (see $DIR/server.log)"
    # park both jobs during the load (set again just before pgbench); fails if the jobs do not exist
    sql -c "SELECT optimizer.alter_job('autoindex_run', schedule => '1 day')" \
        -c "SELECT optimizer.alter_job('autoindex_verify', schedule => '1 day')" > "$OUT/park.log" 2>&1 \
        || { cat "$OUT/park.log"; fail "optimizer.alter_job on the built-in autoindex jobs failed"; }
    echo "  settings: $(sql -c "SELECT string_agg(format('%s = %s%s', name, setting, coalesce(unit, '')), ', ' ORDER BY name)
        FROM pg_settings WHERE name LIKE 'pg_optimizer.autoindex%' OR name IN ('pg_optimizer.scheduler', 'max_worker_processes')")"
else
    if [ "$(sql -c "SELECT count(*) FROM pg_settings WHERE name = 'pg_optimizer.autoindex'")" = 1 ]; then
        sql -c "ALTER SYSTEM SET pg_optimizer.autoindex = off" -c "SELECT pg_reload_conf()" >/dev/null
        echo "  pg_optimizer.autoindex = off (ALTER SYSTEM)"
    fi
fi

# ---- the data ----
echo "==> loading: $USERS users, $ORDERS orders, $(( ORDERS * ITEMS_PER_ORDER )) order items, $EVENTS events; primary keys only"
t=$(now)
sql > /dev/null <<SQL
SELECT setseed(0.14);
CREATE TABLE users (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, email text NOT NULL,
    country text NOT NULL, created_at timestamptz NOT NULL);
CREATE TABLE orders (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, user_id bigint NOT NULL,
    status text NOT NULL, created_at timestamptz NOT NULL, total numeric(10,2) NOT NULL);
CREATE TABLE order_items (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, order_id bigint NOT NULL,
    product_id int NOT NULL, qty int NOT NULL, price numeric(10,2) NOT NULL);
CREATE TABLE events (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, user_id bigint NOT NULL,
    kind text NOT NULL, created_at timestamptz NOT NULL, payload text);
INSERT INTO users
SELECT g, 'user' || g || '@example.com', (ARRAY['DE', 'FR', 'US', 'GB', 'JP', 'BR', 'IN', 'NL'])[1 + g % 8],
       now() - interval '730 days' * (1 - g::float8 / $USERS)
  FROM generate_series(1, $USERS) g;
INSERT INTO orders
SELECT g, 1 + floor(random() * $USERS)::bigint,
       (ARRAY['new', 'paid', 'shipped', 'delivered', 'delivered', 'delivered'])[1 + floor(random() * 6)::int],
       now() - interval '365 days' * (1 - g::float8 / $ORDERS), round((5 + random() * 295)::numeric, 2)
  FROM generate_series(1, $ORDERS) g;
INSERT INTO order_items
SELECT g, 1 + (g - 1) / $ITEMS_PER_ORDER, 1 + floor(random() * 10000)::int, 1 + floor(random() * 4)::int,
       round((1 + random() * 99)::numeric, 2)
  FROM generate_series(1, $ORDERS::bigint * $ITEMS_PER_ORDER) g;
INSERT INTO events
SELECT g, 1 + floor(random() * $USERS)::bigint,
       (ARRAY['view', 'view', 'view', 'click', 'click', 'search', 'login', 'order'])[1 + floor(random() * 8)::int],
       now() - interval '90 days' * (1 - g::float8 / $EVENTS), md5(g::text)
  FROM generate_series(1, $EVENTS) g;
SELECT setval(pg_get_serial_sequence(t, 'id'), n)
  FROM (VALUES ('users', $USERS::bigint), ('orders', $ORDERS), ('order_items', $ORDERS::bigint * $ITEMS_PER_ORDER),
               ('events', $EVENTS)) v(t, n);
ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users;
ALTER TABLE order_items ADD FOREIGN KEY (order_id) REFERENCES orders;
ALTER TABLE events ADD FOREIGN KEY (user_id) REFERENCES users;
SQL
sql -c "VACUUM (FREEZE, ANALYZE)" -c "CHECKPOINT"
echo "  loaded, vacuumed and analyzed in $(awk -v a="$t" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }') s:" \
     "$(sql -c "SELECT string_agg(format('%s %s', c, pg_size_pretty(pg_table_size(c))), ', ' ORDER BY c)
                  FROM unnest(ARRAY['users', 'orders', 'order_items', 'events']::regclass[]) c")"
if [ "$MODE" = manual ]; then
    echo "==> MODE=manual: the four obvious indexes, by hand"
    sql <<'SQL'
CREATE INDEX orders_user_id_created_at_idx ON orders (user_id, created_at);
CREATE INDEX order_items_order_id_idx ON order_items (order_id);
CREATE INDEX events_user_id_created_at_idx ON events (user_id, created_at);
CREATE INDEX users_email_idx ON users (email);
ANALYZE;
CHECKPOINT;
SQL
fi

# ---- the workload ----
W=$OUT/scripts
mkdir -p "$W"
cat > "$W/dashboard.sql" <<'EOF'
\set uid random(1, :nusers)
SELECT id, status, created_at, total FROM orders WHERE user_id = :uid ORDER BY created_at DESC LIMIT 10;
SELECT id, kind, created_at FROM events WHERE user_id = :uid AND created_at >= now() - interval '30 days' ORDER BY created_at DESC LIMIT 20;
EOF
cat > "$W/order_page.sql" <<'EOF'
\set oid random(1, :norders)
SELECT id, user_id, status, created_at, total FROM orders WHERE id = :oid;
SELECT product_id, qty, price FROM order_items WHERE order_id = :oid;
EOF
cat > "$W/login.sql" <<'EOF'
\set uid random(1, :nusers)
SELECT id AS login_id, country FROM users WHERE email = 'user:uid@example.com' \gset
INSERT INTO events (user_id, kind, created_at, payload) VALUES (:login_id, 'login', now(), md5(random()::text));
EOF
cat > "$W/place_order.sql" <<'EOF'
\set uid random(1, :nusers)
\set p1 random(1, 10000)
\set p2 random(1, 10000)
BEGIN;
INSERT INTO orders (user_id, status, created_at, total) VALUES (:uid, 'new', now(), 42.50) RETURNING id AS new_order \gset
INSERT INTO order_items (order_id, product_id, qty, price) VALUES (:new_order, :p1, 1, 12.50), (:new_order, :p2, 2, 15.00);
INSERT INTO events (user_id, kind, created_at, payload) VALUES (:uid, 'order', now(), md5(random()::text));
COMMIT;
EOF
cat > "$W/ship.sql" <<'EOF'
\set oid random(1, :norders)
UPDATE orders SET status = 'shipped' WHERE id = :oid;
EOF
chmod -R a+rX "$W"

if [ "$MODE" = apply ]; then
    n=0
    until [ "$(sql -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type ILIKE 'pg_optimizer%scheduler' AND datname = 'bench'")" -gt 0 ]; do
        n=$(( n + 1 )); [ "$n" -le 60 ] || fail "no pg_optimizer scheduler for database bench after 60 s (pg_optimizer.scheduler, max_worker_processes; see $DIR/server.log)"
        sleep 1
    done
fi
# the run starts from empty statistics
sql -c "SELECT optimizer.reset()" -c "SELECT optimizer.reset_predicates()" >/dev/null
if [ "$MODE" = apply ]; then
    s=$(date +%s); target=$(( s - s % 60 + ALIGN )); [ "$target" -gt "$s" ] || target=$(( target + 60 ))
    echo "==> waiting $(( target - s )) s for second $ALIGN of a whole minute (autoindex_run fires at whole minutes)"
    sleep "$(awk -v t="$target" -v n="$(now)" 'BEGIN { d = t - n; printf "%.3f", (d > 0 ? d : 0) }')"
    sql -c "SELECT optimizer.alter_job('autoindex_run', schedule => '$RUN_SCHEDULE')" \
        -c "SELECT optimizer.alter_job('autoindex_verify', schedule => '$VERIFY_SCHEDULE')" >/dev/null
    echo "  autoindex_run every '$RUN_SCHEDULE', autoindex_verify every '$VERIFY_SCHEDULE' from $(date -u '+%T') UTC"
fi
echo "==> pgbench -c $CLIENTS -j $THREADS -T $DURATION: dashboard@35 order_page@20 login@15 place_order@10 ship@20 (from $(date -u '+%T') UTC)"
START=$(now)
set +e
"$PG_BIN/pgbench" -h "$SOCK_DIR" -p "$PORT" -U postgres -n -c "$CLIENTS" -j "$THREADS" -T "$DURATION" -P 10 \
    -l --log-prefix="$OUT/txn" -D nusers="$USERS" -D norders="$ORDERS" \
    -f "$W/dashboard.sql@35" -f "$W/order_page.sql@20" -f "$W/login.sql@15" -f "$W/place_order.sql@10" \
    -f "$W/ship.sql@20" bench > "$OUT/pgbench.log" 2>&1 &
PGBENCH_PID=$!
# progress lines as they come
tail -n +1 -f "$OUT/pgbench.log" --pid="$PGBENCH_PID" | grep --line-buffered '^progress:' | sed -u 's/^/  /' &
TAIL_PID=$!
wait "$PGBENCH_PID"; PGBENCH_RC=$?
PGBENCH_PID=
wait "$TAIL_PID" 2>/dev/null
set -e

# ---- results ----
# per-transaction log: client_id transaction_no time_us script_no epoch_s epoch_us [...]; the
# completion time is epoch_s + epoch_us, minute 0 starts at the first transaction's start.
cat "$OUT"/txn.* > "$OUT/txn.all"
T0=$(awk '$3 ~ /^[0-9]+$/ { s = $5 + $6 / 1e6 - $3 / 1e6; if (t0 == "" || s < t0) t0 = s } END { printf "%.6f", t0 }' "$OUT/txn.all")
awk -v t0="$T0" -v m="$MINUTES" '$3 ~ /^[0-9]+$/ { i = int(($5 + $6 / 1e6 - t0) / 60); if (i >= 0 && i < m) print i, $3 }' "$OUT/txn.all" \
    | sort -k1,1n -k2,2n > "$OUT/minutes.txt"
LOG_FAILED=$(awk '$3 !~ /^[0-9]+$/ { n++ } END { print n + 0 }' "$OUT/txn.all")
# minute tps p50_ms p95_ms, one line per minute
awk '
    function flush() { if (n > 0) printf "%d %.2f %.3f %.3f\n", cur, n / 60, v[int(0.5 * n + 0.999999)] / 1000, v[int(0.95 * n + 0.999999)] / 1000 }
    $1 != cur { flush(); cur = $1; n = 0 }
    { v[++n] = $2 }
    END { flush() }' cur=-1 "$OUT/minutes.txt" > "$OUT/per_minute.txt"
echo "==> per minute (minute 0 starts with the first transaction; TPS = transactions completed / 60 s)"
printf "  %-14s %10s %10s %10s\n" minute TPS "p50 ms" "p95 ms"
for i in $(seq 0 $(( MINUTES - 1 ))); do
    line=$(awk -v i="$i" '$1 == i' "$OUT/per_minute.txt")
    [ -n "$line" ] || line="$i 0 - -"
    read -r _ tps p50 p95 <<< "$line"
    printf "  %-14s %10s %10s %10s\n" "$(( i * 60 ))-$(( i * 60 + 60 )) s" "$tps" "$p50" "$p95"
done
FIRST=$(awk '$1 == 0 { print $2 }' "$OUT/per_minute.txt"); FIRST=${FIRST:-0}
LASTM=$(awk -v i="$(( MINUTES - 1 ))" '$1 == i { print $2 }' "$OUT/per_minute.txt"); LASTM=${LASTM:-0}
FIRST_P95=$(awk '$1 == 0 { print $4 }' "$OUT/per_minute.txt")
LAST_P95=$(awk -v i="$(( MINUTES - 1 ))" '$1 == i { print $4 }' "$OUT/per_minute.txt")
echo "  first minute: ${FIRST} TPS, p95 ${FIRST_P95:-n/a} ms; last minute: ${LASTM} TPS, p95 ${LAST_P95:-n/a} ms"

echo "==> pgbench's summary (exit status $PGBENCH_RC)"
grep -v -E '^progress:' "$OUT/pgbench.log" | sed 's/^/  /'
FAILED=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$OUT/pgbench.log" | head -n 1)
ABORTED=$(grep -c 'aborted' "$OUT/pgbench.log" || true)

if [ "$HAS_AUTOINDEX" = t ]; then
    # builds still running when pgbench stopped: give autoindex_verify up to 30 s to settle them
    n=0
    while [ "$(sql -c "SELECT count(*) FROM optimizer.index_actions WHERE status = 'building'")" != 0 ] && [ "$n" -lt 30 ]; do
        sleep 1; n=$(( n + 1 ))
    done
    [ "$n" = 0 ] || echo "  (waited $n s after pgbench for builds in progress to settle)"
    echo "==> optimizer.index_actions (times in seconds after the first transaction: at = the run, built = the build settled, checked = the verification)"
    # the whole rows (before/after jsonb as recorded) go to OUT/index_actions.txt
    table -c "SELECT * FROM optimizer.index_actions ORDER BY id" > "$OUT/index_actions.txt"
    table -c "SELECT id, round(extract(epoch FROM at) - $T0) AS at, action, status, table_name, index_name,
                     round((before->>'benefit_share')::numeric * 100, 1) AS benefit_pct, pg_size_pretty(estimated_bytes) AS est_size,
                     round(extract(epoch FROM (after->'build'->>'at')::timestamptz) - $T0) AS built,
                     round(extract(epoch FROM (after->>'at')::timestamptz) - $T0) AS checked,
                     round((after->>'mean_ms_before')::numeric, 3) AS before_ms, round((after->>'mean_ms_after')::numeric, 3) AS after_ms,
                     after->>'calls_after' AS calls_after, round((after->>'write_change_pct')::numeric, 1) AS write_change_pct
                FROM optimizer.index_actions ORDER BY id"
    table -c "SELECT id, ddl, coalesce(message, '') AS message FROM optimizer.index_actions ORDER BY id"
    echo "==> runs of the autoindex jobs"
    table -c "SELECT job, status, count(*) AS runs, min(round(extract(epoch FROM started_at) - $T0)) AS first_s,
                     max(round(extract(epoch FROM started_at) - $T0)) AS last_s
                FROM optimizer.job_runs WHERE job LIKE 'autoindex%' AND started_at >= to_timestamp($START)
               GROUP BY 1, 2 ORDER BY 1, 2"
fi
echo "==> indexes at the end, besides the primary keys"
AUTO_COL="NULL::text"
[ "$HAS_AUTOINDEX" = t ] && AUTO_COL="(SELECT format('%s (action %s)', a.status, a.id) FROM optimizer.index_actions a
    WHERE a.index_name IN (i.indexrelid::regclass::text, c.relname) ORDER BY a.id DESC LIMIT 1)"
table -c "SELECT i.indrelid::regclass AS table_name, c.relname AS index_name, pg_get_indexdef(i.indexrelid) AS definition,
                 pg_size_pretty(pg_relation_size(i.indexrelid)) AS size, i.indisvalid AS valid,
                 $AUTO_COL AS autoindex_status
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
           WHERE i.indrelid IN ('users'::regclass, 'orders'::regclass, 'order_items'::regclass, 'events'::regclass)
             AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
           ORDER BY 1, 2"
KEPT=$(sql -c "SELECT count(*) FROM pg_index i WHERE i.indrelid IN ('users'::regclass, 'orders'::regclass, 'order_items'::regclass, 'events'::regclass)
                  AND i.indisvalid AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)")
echo "  $KEPT valid secondary indexes"
echo "==> statements of the run (optimizer.statements, calls >= 100)"
table -c "SELECT calls, round(mean_exec_time::numeric, 3) AS mean_ms, round(p95_exec_time::numeric, 3) AS p95_ms,
                 left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS query
            FROM optimizer.statements WHERE dbname = 'bench' AND calls >= 100 ORDER BY total_exec_time DESC"

echo "==> summary"
echo "  first minute ${FIRST} TPS (p95 ${FIRST_P95:-n/a} ms), last minute ${LASTM} TPS (p95 ${LAST_P95:-n/a} ms)," \
     "failed transactions ${FAILED:-unknown} (pgbench) / $LOG_FAILED (log), aborted clients $ABORTED, pgbench exit $PGBENCH_RC," \
     "$KEPT secondary indexes at the end"
R=$(awk -v a="$LASTM" -v b="$FIRST" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
if [ "$PGBENCH_RC" = 0 ] && [ "${FAILED:-x}" = 0 ] && [ "$LOG_FAILED" = 0 ] && [ "$ABORTED" = 0 ]; then
    echo "ratio: $R"
else
    echo "  last / first minute TPS = $R, but the run had failed transactions or aborted clients"
    echo "ratio: n/a"
fi
