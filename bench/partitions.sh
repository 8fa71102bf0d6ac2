#!/usr/bin/env bash
# Partition maintenance, pg_optimizer side by side with pg_partman, in one run.
#
# One cluster (BENCH_DIR /tmp/pbench-partitions, port 5700, socket /tmp, TimeZone UTC, fsync off,
# autovacuum off so nothing runs beside the timed calls), shared_preload_libraries = 'pg_optimizer'
# with pg_optimizer.scheduler = off: neither system does anything on its own (pg_partman's
# background worker is not loaded; our built-in 'maintain_partitions' job never runs). Database
# `bench` holds two tables, alike in columns, primary key (id, ts), index (user_id, ts) and rows:
#   partman_events  pg_partman (4.x): partman.create_parent('public.partman_events', 'ts', 'native',
#                   'daily', p_premake := PREMAKE, p_start_partition := today - PAST_DAYS days),
#                   then part_config.retention = 'PAST_DAYS days', retention_keep_table = false,
#                   retention_keep_index = false (infinite_time_partitions stays false, its default:
#                   premaking follows the newest row, which is today here since rows arrive daily)
#   ours_events     optimizer.partition_table('ours_events', 'ts', 'daily', premake => PREMAKE,
#                   retention => 'PAST_DAYS days', start_from => today - PAST_DAYS days)
# Both are created empty as PARTITION BY RANGE (ts) and handed to their system; each then has
# PAST_DAYS + 1 + PREMAKE daily children (334 + 1 + 30 = 365 at the defaults) and a default
# partition. Then ROWS_PER_DAY rows for each past day (the same rows in both) are loaded.
# Retention equals the past span so that every simulated day retires exactly one old child (a
# child goes when its upper bound is older than now() - retention, in both systems) while one new
# child is premade: the set stays at 365.
#
# Simulated time: libfaketime on the postmaster (LD_PRELOAD, FAKETIME_TIMESTAMP_FILE holding an
# offset "+<seconds>", FAKETIME_CACHE_DURATION = 1, FAKETIME_DONT_FAKE_MONOTONIC = 1,
# NO_FAKE_STAT = 1). Advancing a day rewrites the file and waits FAKETIME_SETTLE (2.2) seconds,
# past the cache; every backend and background worker forked afterwards (and those running) sees
# the new clock. libfaketime's wrappers of the blocking waits (select, poll, epoll_wait ...) clear
# its "fake" flag for the duration of the call, and PostgreSQL 15's postmaster forks background
# workers from its signal handler while it sits in select(): such a child inherits the flag and
# keeps the REAL clock for life (seen here: backends faked, workers of optimizer.run_in_worker
# not). So a small shim, compiled here with cc and preloaded before libfaketime, passes those six
# waits straight to libc (libfaketime only scales their timeouts, and only with a speed-up
# factor, which is not used). The clock is checked every simulated day before anything is timed:
# a new backend's now(), and, where optimizer.run_in_worker exists, a background worker's now(),
# must both be the real time + the offset (the run stops otherwise). psql (the timing side) runs
# without libfaketime.
#
# Each simulated day d = 1..DAYS: advance the clock to +d days; insert ROWS_PER_DAY rows for the new
# day (the same rows into both tables); CHECKPOINT; then each system's maintenance call, each in a
# fresh psql session (as a cron job or our scheduler's job worker would run it), timed by psql's
# \timing (the call only, not the connection):
#   pg_partman    SELECT partman.run_maintenance();
#   pg_optimizer  SELECT * FROM optimizer.maintain_partitions();
# in alternating order (odd days ours first, even days pg_partman first). After both, each set's
# children are summarised (count, first and last day, days missing in between) and the two sets'
# bounds compared: both systems must do the same work (one child created, one retired per day).
# Printed: per-day times, per system the total and the median per call, and the ratio.
#
# Then the default-partition case, on the state after the last day: DEFAULT_ROWS rows dated
# AHEAD_DAYS days ahead (beyond the premade range, so no child holds them: they land in each
# table's default partition) are inserted through each parent; the clock moves on by
# AHEAD_DAYS - PREMAKE days, so that maintenance must now create the child for that day (and catch
# up the days skipped). Each system's call is run once (timed, not part of the ratio) and what it
# did is printed: pg_partman's error (ATTACH PARTITION of the new child fails while the default
# holds rows for it, and the whole run_maintenance() rolls back, retention included, and will fail
# the same way every run: pg_partman 4.x takes the newest row of the default as "current" and
# premakes from there); pg_optimizer's action rows ('rescued' with the row count), and the check
# that nothing was lost: count(*) afterwards = count(*) before minus the rows of the days its
# retention retired on the way (no more, no less), the default partition is empty and a regular
# child holds the DEFAULT_ROWS rows. pg_partman's manual remedy (partman.partition_data_time on the
# parent, then run_maintenance() again) is run and shown as well, with the days it leaves without
# a child (partition_data_time creates only the child the rows need; run_maintenance then premakes
# after the newest child, so the days in between stay missing and their rows would go to the
# default again).
#
# Last line: `ratio: X`, X = pg_optimizer's total / pg_partman's total over the DAYS daily calls
# (n/a when a system was not run or one of its daily calls failed). Acceptance: ratio <= 1.0 and
# the default-partition case handled by pg_optimizer (rows rescued, nothing lost).
# The whole output is also written to BENCH_LAST (bench/partitions.last.txt); each call's psql
# output to BENCH_OUT.
#
# Needs the release build installed (make bench-partitions does it), pg_partman
# (postgresql-15-partman), libfaketime and a C compiler. Env: DAYS (30), PAST_DAYS (334),
# PREMAKE (30), ROWS_PER_DAY (1000), AHEAD_DAYS (40), DEFAULT_ROWS (5000), SYSTEMS
# ("pg_partman pg_optimizer"), FAKETIME_SETTLE (2.2), BENCH_DIR (/tmp/pbench-partitions),
# BENCH_PORT (5700), BENCH_OUT (/tmp/pbench-partitions-out), BENCH_LAST
# (bench/partitions.last.txt). About 2 minutes at the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
DIR=${BENCH_DIR:-/tmp/pbench-partitions}
PORT=${BENCH_PORT:-5700}
OUT=${BENCH_OUT:-/tmp/pbench-partitions-out}
LAST=${BENCH_LAST:-bench/partitions.last.txt}
DAYS=${DAYS:-30}
PAST_DAYS=${PAST_DAYS:-334}
PREMAKE=${PREMAKE:-30}
ROWS_PER_DAY=${ROWS_PER_DAY:-1000}
AHEAD_DAYS=${AHEAD_DAYS:-40}
DEFAULT_ROWS=${DEFAULT_ROWS:-5000}
SETTLE=${FAKETIME_SETTLE:-2.2}
RETENTION="$PAST_DAYS days"

ALL_SYSTEMS=(pg_partman pg_optimizer)
declare -A TABLE=([pg_partman]=partman_events [pg_optimizer]=ours_events)
declare -A CALL=(
    [pg_partman]="SELECT partman.run_maintenance();"
    [pg_optimizer]="SELECT * FROM optimizer.maintain_partitions();"
)

for v in DAYS PAST_DAYS PREMAKE ROWS_PER_DAY AHEAD_DAYS DEFAULT_ROWS; do
    [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -ge 1 ] || { echo "$v must be a positive integer" >&2; exit 2; }
done
[ "$AHEAD_DAYS" -gt "$PREMAKE" ] || { echo "AHEAD_DAYS must exceed PREMAKE" >&2; exit 2; }
declare -A WANT=()
for s in ${SYSTEMS:-${ALL_SYSTEMS[*]}}; do
    [ -n "${TABLE[$s]+set}" ] || { echo "unknown system '$s' (known: ${ALL_SYSTEMS[*]})" >&2; exit 2; }
    WANT[$s]=1
done
RUN_SYSTEMS=(); for s in "${ALL_SYSTEMS[@]}"; do [ -n "${WANT[$s]:-}" ] && RUN_SYSTEMS+=("$s"); done

exec > >(tee "$LAST") 2>&1
TEE_PID=$!

PSQL=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK_DIR" -p "$PORT" -U postgres)
sql() { "${PSQL[@]}" -At -d bench "$@"; }   # unaligned, tuples only, in database bench
AUX=$DIR-aux                                 # the offset file and the shim (the data dir stays initdb's)
RC_FILE=$AUX/faketime.rc

cleanup() {
    stop_cluster "$DIR"
    exec >&- 2>&-
    wait "$TEE_PID" 2>/dev/null || true
}
trap cleanup EXIT

# ---- libfaketime and the shim ----
FAKETIME_LIB=${FAKETIME_LIB:-$(dpkg -L libfaketime 2>/dev/null | grep '/libfaketime\.so\.1$' | head -n 1 || true)}
[ -n "$FAKETIME_LIB" ] && [ -f "$FAKETIME_LIB" ] || { echo "libfaketime not found (apt-get install libfaketime)" >&2; exit 2; }
CC=${CC:-$(command -v cc || command -v gcc || command -v clang || true)}
[ -n "$CC" ] || { echo "no C compiler (cc) for the libfaketime shim" >&2; exit 2; }

stop_cluster "$DIR"
rm -rf "$DIR" "$AUX" "$OUT"
mkdir -p "$AUX" "$OUT"; chmod 755 "$AUX"; chmod 777 "$OUT"
cat > "$AUX/waits.c" <<'EOF'
/* The blocking waits straight to libc, past libfaketime (see bench/partitions.sh). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
static void *libc(const char *name) {
    static void *h;
    if (!h) h = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    return dlsym(h, name);
}
#define PASS(ret, name, params, args, types) \
    ret name params { static ret (*f) types; if (!f) f = (ret (*) types) libc(#name); return f args; }
PASS(int, select, (int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t), (n, r, w, e, t),
     (int, fd_set *, fd_set *, fd_set *, struct timeval *))
PASS(int, pselect, (int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t, const sigset_t *m),
     (n, r, w, e, t, m), (int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *))
PASS(int, poll, (struct pollfd *p, nfds_t n, int t), (p, n, t), (struct pollfd *, nfds_t, int))
PASS(int, ppoll, (struct pollfd *p, nfds_t n, const struct timespec *t, const sigset_t *m), (p, n, t, m),
     (struct pollfd *, nfds_t, const struct timespec *, const sigset_t *))
PASS(int, epoll_wait, (int fd, struct epoll_event *ev, int n, int t), (fd, ev, n, t),
     (int, struct epoll_event *, int, int))
PASS(int, epoll_pwait, (int fd, struct epoll_event *ev, int n, int t, const sigset_t *m), (fd, ev, n, t, m),
     (int, struct epoll_event *, int, int, const sigset_t *))
EOF
"$CC" -O2 -shared -fPIC -o "$AUX/waits.so" "$AUX/waits.c" -ldl
chmod 755 "$AUX/waits.so"
echo "+0" > "$RC_FILE"; chmod 644 "$RC_FILE"

OFFSET_DAYS=0
# set_day N: the server clock becomes real time + N days (new and running processes, after SETTLE s).
set_day() {
    OFFSET_DAYS=$1
    echo "+$(( $1 * 86400 ))" > "$RC_FILE"
    sleep "$SETTLE"
}

start_faked() {
    as_pg env LD_PRELOAD="$AUX/waits.so $FAKETIME_LIB" FAKETIME_TIMESTAMP_FILE="$RC_FILE" \
        FAKETIME_CACHE_DURATION=1 FAKETIME_DONT_FAKE_MONOTONIC=1 NO_FAKE_STAT=1 \
        "$PG_BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -t 60 start >/dev/null
}

# ---- the cluster ----
echo "==> cluster $DIR, port $PORT; libfaketime $FAKETIME_LIB (offset file $RC_FILE) + shim $AUX/waits.so"
# start_cluster writes shared_preload_libraries = 'pg_optimizer' and starts it without libfaketime:
# stop it and start it again under libfaketime.
start_cluster "$DIR" "$PORT" "pg_optimizer.scheduler = off" "timezone = 'UTC'" "log_timezone = 'UTC'" \
    "fsync = off" "synchronous_commit = off" "full_page_writes = off" "autovacuum = off" "jit = off" \
    "max_locks_per_transaction = 256" "log_min_messages = warning"
stop_cluster "$DIR"
if ! start_faked; then
    echo "server did not start under libfaketime; end of $DIR/server.log:" >&2
    tail -n 30 "$DIR/server.log" >&2
    exit 1
fi
"${PSQL[@]}" -d postgres -c "CREATE DATABASE bench"

sql <<SQL
CREATE EXTENSION IF NOT EXISTS pg_optimizer;
CREATE SCHEMA partman;
CREATE EXTENSION pg_partman SCHEMA partman;
CREATE SEQUENCE event_id;
CREATE TABLE partman_events (id bigint NOT NULL, ts timestamptz NOT NULL, user_id int NOT NULL,
    kind text NOT NULL, payload text, PRIMARY KEY (id, ts)) PARTITION BY RANGE (ts);
CREATE INDEX partman_events_user_ts ON partman_events (user_id, ts);
CREATE TABLE ours_events (id bigint NOT NULL, ts timestamptz NOT NULL, user_id int NOT NULL,
    kind text NOT NULL, payload text, PRIMARY KEY (id, ts)) PARTITION BY RANGE (ts);
CREATE INDEX ours_events_user_ts ON ours_events (user_id, ts);
-- n rows with ts uniform in [lo, hi)
CREATE FUNCTION bench_rows(lo timestamptz, hi timestamptz, n bigint)
RETURNS TABLE (id bigint, ts timestamptz, user_id int, kind text, payload text)
LANGUAGE sql VOLATILE AS \$\$
    SELECT nextval('event_id'), lo + random() * (hi - lo), (random() * 10000)::int,
           (ARRAY['view', 'click', 'buy'])[1 + floor(random() * 3)::int], md5(random()::text)
      FROM generate_series(1, n)
\$\$;
-- the children of a partitioned table and their range bounds
CREATE FUNCTION bench_bounds(p regclass)
RETURNS TABLE (rel regclass, is_default boolean, lo timestamptz, hi timestamptz)
LANGUAGE sql STABLE AS \$\$
    SELECT c.oid::regclass, b = 'DEFAULT',
           substring(b FROM \$r\$FROM \('([^']*)'\)\$r\$)::timestamptz,
           substring(b FROM \$r\$TO \('([^']*)'\)\$r\$)::timestamptz
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid,
           LATERAL pg_get_expr(c.relpartbound, c.oid) b
     WHERE i.inhparent = p
\$\$;
-- rows in p's default partition (NULL: it has none)
CREATE FUNCTION bench_default_rows(p regclass) RETURNS bigint LANGUAGE plpgsql AS \$\$
DECLARE d regclass; n bigint;
BEGIN
    SELECT rel INTO d FROM bench_bounds(p) WHERE is_default;
    IF d IS NOT NULL THEN EXECUTE format('SELECT count(*) FROM ONLY %s', d) INTO n; END IF;
    RETURN n;
END \$\$;
-- the days between p's first and last child that have no child: "2027-01-31 .. 2027-02-08, ..."
CREATE FUNCTION bench_missing(p regclass) RETURNS text LANGUAGE sql STABLE AS \$\$
    SELECT string_agg(CASE WHEN a = b THEN a::text ELSE format('%s .. %s', a, b) END, ', ' ORDER BY a)
      FROM (SELECT min(d) AS a, max(d) AS b
              FROM (SELECT d, d - (row_number() OVER (ORDER BY d))::int AS g
                      FROM (SELECT generate_series(min(lo), max(lo), interval '1 day')::date AS d
                              FROM bench_bounds(p) WHERE NOT is_default
                            EXCEPT SELECT lo::date FROM bench_bounds(p) WHERE NOT is_default) m) x
             GROUP BY g) y
\$\$;
-- "365 children, 2026-01-01 .. 2026-12-31, 0 days missing, default 0 rows"
CREATE FUNCTION bench_span(p regclass) RETURNS text LANGUAGE sql AS \$\$
    SELECT format('%s children, %s .. %s, %s days missing%s, %s', count(*), min(lo)::date, max(lo)::date,
                  coalesce(max(lo)::date - min(lo)::date + 1 - count(*), 0),
                  coalesce(' (' || bench_missing(p) || ')', ''),
                  CASE WHEN bench_default_rows(p) IS NULL THEN 'no default' ELSE format('default %s rows', bench_default_rows(p)) END)
      FROM bench_bounds(p) WHERE NOT is_default
\$\$;
-- the bounds of a's children that b does not have, and the other way round
CREATE FUNCTION bench_diff(a regclass, b regclass) RETURNS text LANGUAGE sql STABLE AS \$\$
    SELECT CASE WHEN x.n = 0 AND y.n = 0 THEN 'same bounds'
                ELSE format('bounds differ: %s only in %s%s, %s only in %s%s', x.n, a, x.ex, y.n, b, y.ex) END
      FROM (SELECT count(*) AS n, coalesce(' (' || string_agg(lo::date::text, ', ' ORDER BY lo) FILTER (WHERE r <= 3) || ')', '') AS ex
              FROM (SELECT lo, row_number() OVER (ORDER BY lo) r FROM
                    (SELECT lo, hi FROM bench_bounds(a) WHERE NOT is_default
                     EXCEPT SELECT lo, hi FROM bench_bounds(b) WHERE NOT is_default) e) e2) x,
           (SELECT count(*) AS n, coalesce(' (' || string_agg(lo::date::text, ', ' ORDER BY lo) FILTER (WHERE r <= 3) || ')', '') AS ex
              FROM (SELECT lo, row_number() OVER (ORDER BY lo) r FROM
                    (SELECT lo, hi FROM bench_bounds(b) WHERE NOT is_default
                     EXCEPT SELECT lo, hi FROM bench_bounds(a) WHERE NOT is_default) e) e2) y
\$\$;
CREATE TABLE bench_calls (system text, day int, ms float8, ok boolean);
CREATE TABLE bench_clock (t timestamptz);
SQL

echo "  $(sql -c "SELECT format('PostgreSQL %s, pg_partman %s, pg_optimizer %s, pg_optimizer.scheduler = %s, TimeZone = %s',
    current_setting('server_version'),
    (SELECT extversion FROM pg_extension WHERE extname = 'pg_partman'),
    (SELECT extversion FROM pg_extension WHERE extname = 'pg_optimizer'),
    current_setting('pg_optimizer.scheduler'), current_setting('TimeZone'))")"
HAS_WORKER=$(sql -c "SELECT to_regproc('optimizer.run_in_worker') IS NOT NULL")
if [ -n "${WANT[pg_optimizer]:-}" ]; then
    ok=$(sql -c "SELECT to_regproc('optimizer.partition_table') IS NOT NULL AND to_regproc('optimizer.maintain_partitions') IS NOT NULL")
    if [ "$ok" != t ]; then
        echo "  pg_optimizer: optimizer.partition_table / optimizer.maintain_partitions do not exist in the" \
             "installed version: pg_optimizer NOT RUN (install the build with partitions first)"
        unset 'WANT[pg_optimizer]'
        RUN_SYSTEMS=(); for s in "${ALL_SYSTEMS[@]}"; do [ -n "${WANT[$s]:-}" ] && RUN_SYSTEMS+=("$s"); done
    fi
fi
[ ${#RUN_SYSTEMS[@]} -gt 0 ] || { echo "no system to run"; echo "ratio: n/a"; exit 1; }

# clock_check: a new backend (and a background worker, where run_in_worker exists) must be at real
# time + OFFSET_DAYS; prints "backend <time>[, worker <time>]".
clock_check() {
    local want=$(( OFFSET_DAYS * 86400 )) real backend worker="" line
    real=$(date +%s)
    backend=$(sql -c "SELECT extract(epoch FROM now())::bigint")
    line="backend $(date -u -d "@$backend" '+%F %T')"
    if [ $(( backend - real - want )) -gt 120 ] || [ $(( backend - real - want )) -lt -120 ]; then
        echo "clock check failed: a new backend is at $(date -u -d "@$backend" '+%F %T'), want real + $OFFSET_DAYS days" >&2
        exit 1
    fi
    if [ "$HAS_WORKER" = t ]; then
        worker=$(sql -c "TRUNCATE bench_clock" \
            -c "SELECT string_agg(status, ',') FROM optimizer.run_in_worker(ARRAY['INSERT INTO bench_clock SELECT now()'])" \
            -c "SELECT extract(epoch FROM t)::bigint FROM bench_clock" | tail -n 1)
        [[ $worker =~ ^[0-9]+$ ]] || { echo "clock check failed: no time from a background worker ($worker)" >&2; exit 1; }
        line+=", worker $(date -u -d "@$worker" '+%F %T')"
        if [ $(( worker - real - want )) -gt 120 ] || [ $(( worker - real - want )) -lt -120 ]; then
            echo "clock check failed: a background worker is at $(date -u -d "@$worker" '+%F %T'), want real + $OFFSET_DAYS days" >&2
            exit 1
        fi
    fi
    echo "$line"
}

# run_call SYSTEM TAG: the system's maintenance call in a fresh session, psql output in
# OUT/TAG-SYSTEM.log; sets CALL_MS (psql's \timing of the call) and CALL_OK (t/f).
run_call() {
    local log="$OUT/$2-$1.log" rc
    set +e
    printf '\\timing on\n%s\n' "${CALL[$1]}" | "${PSQL[@]}" -At -d bench > "$log" 2>&1
    rc=$?
    set -e
    CALL_MS=$(awk '/^Time: / { t = $2 } END { print t }' "$log")
    [ -n "$CALL_MS" ] || { echo "no timing from $1 ($2):" >&2; cat "$log" >&2; exit 1; }
    CALL_OK=t; [ "$rc" = 0 ] || CALL_OK=f
}

# actions LOG: "created 1, retired 1" from maintain_partitions' rows (parent|action|partition|rows|detail)
actions() {
    awk -F'|' 'NF >= 5 && $1 !~ /^(Time|NOTICE|ERROR|WARNING)/ { n[$2]++ }
        END { s = ""; for (a in n) s = s (s == "" ? "" : ", ") a " " n[a]; print (s == "" ? "nothing" : s) }' "$1"
}
first_error() { grep -m 1 'ERROR:' "$1" | sed 's/^.*ERROR: *//' || true; }

# insert_rows LO HI N: the same N rows (ts in [LO, HI), SQL expressions) into every table run.
insert_rows() {
    local s ins=""
    for s in "${RUN_SYSTEMS[@]}"; do ins+="INSERT INTO ${TABLE[$s]} SELECT * FROM r;"$'\n'; done
    sql <<SQL
CREATE TEMP TABLE r AS SELECT * FROM bench_rows($1, $2, $3);
$ins
SQL
}

state() { # one line per system run: its children; then whether the bounds match
    local s
    for s in "${RUN_SYSTEMS[@]}"; do
        printf "      %-12s %s\n" "$s" "$(sql -c "SELECT bench_span('${TABLE[$s]}')")"
    done
    if [ ${#RUN_SYSTEMS[@]} = 2 ]; then
        echo "      $(sql -c "SELECT bench_diff('partman_events', 'ours_events')")"
    fi
}

# ---- the partition sets ----
START="date_trunc('day', now()) - interval '$PAST_DAYS days'"
echo "==> partition sets: daily, premake $PREMAKE, from $(sql -c "SELECT ($START)::date") (today - $PAST_DAYS days), retention '$RETENTION'"
if [ -n "${WANT[pg_partman]:-}" ]; then
    printf '\\timing on\n%s\n%s\n' \
        "SELECT partman.create_parent('public.partman_events', 'ts', 'native', 'daily', p_premake := $PREMAKE, p_start_partition := ($START)::text);" \
        "UPDATE partman.part_config SET retention = '$RETENTION', retention_keep_table = false, retention_keep_index = false WHERE parent_table = 'public.partman_events';" \
        | sql > "$OUT/setup-pg_partman.log" 2>&1 \
        || { echo "pg_partman's create_parent failed:"; cat "$OUT/setup-pg_partman.log"; exit 1; }
    echo "  pg_partman    create_parent: $(awk '/^Time: / { print $2 " ms"; exit }' "$OUT/setup-pg_partman.log")"
fi
if [ -n "${WANT[pg_optimizer]:-}" ]; then
    printf '\\timing on\n%s\n' \
        "SELECT * FROM optimizer.partition_table('ours_events', 'ts', 'daily', premake => $PREMAKE, retention => '$RETENTION', start_from => ($START)::text);" \
        | sql > "$OUT/setup-pg_optimizer.log" 2>&1 \
        || { echo "optimizer.partition_table failed:"; cat "$OUT/setup-pg_optimizer.log"; exit 1; }
    echo "  pg_optimizer  partition_table: $(awk '/^Time: / { print $2 " ms"; exit }' "$OUT/setup-pg_optimizer.log") ($(actions "$OUT/setup-pg_optimizer.log"))"
fi
echo "==> loading $ROWS_PER_DAY rows per day since then (the same rows into each table)"
sql -c "SELECT setseed(0.13)" >/dev/null
insert_rows "$START" "now()" "$ROWS_PER_DAY * ($PAST_DAYS + 1)"
sql -c "ANALYZE" -c "CHECKPOINT"
state

# ---- the simulated days ----
echo "==> $DAYS simulated days: each day the clock moves +1 day, $ROWS_PER_DAY rows arrive, then each system's maintenance call (fresh session, timed by psql)"
for d in $(seq 1 "$DAYS"); do
    set_day "$d"
    clock=$(clock_check)
    insert_rows "date_trunc('day', now())" "date_trunc('day', now()) + interval '1 day'" "$ROWS_PER_DAY"
    sql -c "CHECKPOINT"
    order=("${RUN_SYSTEMS[@]}")
    if [ $(( d % 2 )) = 1 ] && [ ${#order[@]} = 2 ]; then order=(pg_optimizer pg_partman); fi
    line=""
    for s in "${order[@]}"; do
        run_call "$s" "day$d"
        sql -c "INSERT INTO bench_calls VALUES ('$s', $d, $CALL_MS, '$CALL_OK')"
        what=""
        [ "$s" = pg_optimizer ] && what=" ($(actions "$OUT/day$d-$s.log"))"
        [ "$CALL_OK" = t ] || what=" FAILED: $(first_error "$OUT/day$d-$s.log")"
        line+="${line:+; }$(printf "%s %.1f ms%s" "$s" "$CALL_MS" "$what")"
    done
    printf "  day %2d (%s): %s\n" "$d" "$clock" "$line"
    state
done

# ---- the default-partition case ----
echo "==> default-partition case: $DEFAULT_ROWS rows dated today + $AHEAD_DAYS days (no child holds that day yet) into each parent"
TARGET="date_trunc('day', now()) + interval '$AHEAD_DAYS days'"
TARGET_DAY=$(sql -c "SELECT ($TARGET)::date")
insert_rows "$TARGET" "$TARGET + interval '1 day'" "$DEFAULT_ROWS"
declare -A BEFORE=()
for s in "${RUN_SYSTEMS[@]}"; do
    BEFORE[$s]=$(sql -c "SELECT count(*) FROM ${TABLE[$s]}")
    printf "  %-12s %s total rows; rows of %s are in: %s\n" "$s" "${BEFORE[$s]}" "$TARGET_DAY" \
        "$(sql -c "SELECT string_agg(format('%s (%s)', tableoid::regclass, n), ', ') FROM
            (SELECT tableoid, count(*) n FROM ${TABLE[$s]} WHERE ts >= '$TARGET_DAY' AND ts < '$TARGET_DAY'::date + 1 GROUP BY 1) x")"
done
# per day, the rows each table holds now (for the check that only retention removed rows)
sql -c "CREATE TABLE bench_before AS SELECT ts::date AS d, count(*) AS n FROM ours_events GROUP BY 1"
set_day $(( DAYS + AHEAD_DAYS - PREMAKE ))
echo "  clock +$(( AHEAD_DAYS - PREMAKE )) days ($(clock_check)): $TARGET_DAY is now today + $PREMAKE, so maintenance must create its child"
sql -c "CHECKPOINT"
for s in "${RUN_SYSTEMS[@]}"; do
    run_call "$s" default
    log="$OUT/default-$s.log"
    if [ "$s" = pg_partman ]; then
        if [ "$CALL_OK" = t ]; then
            echo "  pg_partman    run_maintenance() succeeded ($CALL_MS ms)"
        else
            echo "  pg_partman    run_maintenance() FAILED after $CALL_MS ms:"
            echo "      ERROR: $(first_error "$log")"
            grep -m 1 -o 'ALTER TABLE [^"]*ATTACH PARTITION[^"]*' "$log" | sed 's/^/      while: /' || true
            echo "      nothing else done either (the transaction rolled back, retention included); every later run fails the same way"
        fi
        echo "      partman.check_default(): $(sql -c "SELECT string_agg(format('%s %s rows', default_table, count), ', ') FROM partman.check_default()")"
        echo "      after:"; state | grep -E '^ +pg_partman '
        # pg_partman's manual remedy: move the default's rows into children, then maintenance again
        printf '\\timing on\n%s\n%s\n' \
            "SELECT partman.partition_data_time('public.partman_events', p_batch_count := $(( AHEAD_DAYS + 10 )));" \
            "SELECT partman.run_maintenance();" | sql > "$OUT/default-pg_partman-remedy.log" 2>&1 || true
        echo "      manual remedy: partman.partition_data_time('public.partman_events') moved $(sed -n 1p "$OUT/default-pg_partman-remedy.log") rows" \
             "($(awk '/^Time: / { print $2 " ms"; exit }' "$OUT/default-pg_partman-remedy.log")), then run_maintenance():" \
             "$(grep -q ERROR "$OUT/default-pg_partman-remedy.log" && echo "FAILED: $(first_error "$OUT/default-pg_partman-remedy.log")" \
                || awk '/^Time: / { t = $2 } END { print "ok (" t " ms)" }' "$OUT/default-pg_partman-remedy.log")"
        echo "      after the remedy:"; state | grep -E '^ +pg_partman '
    else
        if [ "$CALL_OK" = t ]; then
            echo "  pg_optimizer  maintain_partitions() ($CALL_MS ms), action rows: $(actions "$log")"
            grep -v -E '^(Time:|NOTICE|$)' "$log" | sed 's/^/      /'
        else
            echo "  pg_optimizer  maintain_partitions() FAILED after $CALL_MS ms: $(first_error "$log")"
        fi
        after=$(sql -c "SELECT count(*) FROM ours_events")
        # rows retention was due to drop: those of the days before the oldest child now kept
        kept=$(sql -c "SELECT coalesce(sum(n), 0) FROM bench_before
                        WHERE d >= (SELECT min(lo)::date FROM bench_bounds('ours_events') WHERE NOT is_default)")
        drows=$(sql -c "SELECT coalesce(bench_default_rows('ours_events')::text, 'no default')")
        held=$(sql -c "SELECT coalesce(string_agg(format('%s (%s)', tableoid::regclass, n), ', '), 'none') FROM
            (SELECT tableoid, count(*) n FROM ours_events WHERE ts >= '$TARGET_DAY' AND ts < '$TARGET_DAY'::date + 1 GROUP BY 1) x")
        held_ok=$(sql -c "SELECT count(*) = $DEFAULT_ROWS FROM ours_events WHERE ts >= '$TARGET_DAY' AND ts < '$TARGET_DAY'::date + 1
                           AND tableoid NOT IN (SELECT rel FROM bench_bounds('ours_events') WHERE is_default)")
        verdict=ok
        [ "$after" = "$kept" ] && [ "$drows" = 0 ] && [ "$held_ok" = t ] && [ "$CALL_OK" = t ] || verdict=NOT-OK
        echo "      count(*): ${BEFORE[$s]} before, $(( BEFORE[$s] - kept )) of them in the days retention retired, $after after" \
             "($([ "$after" = "$kept" ] && echo "nothing else lost" || echo "expected $kept"));" \
             "default partition $drows rows; rows of $TARGET_DAY in: $held => $verdict"
        echo "      after:"; state | grep -E '^ +pg_optimizer '
    fi
done

# ---- summary ----
echo "==> maintenance calls over the $DAYS simulated days (ms; each call in a fresh session, psql \\timing)"
"${PSQL[@]}" -d bench -P footer=off <<'SQL'
SELECT system, count(*) AS calls, count(*) FILTER (WHERE NOT ok) AS failed,
       round(sum(ms)::numeric, 1) AS total_ms,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms))::numeric, 1) AS median_ms,
       round(min(ms)::numeric, 1) AS min_ms, round(max(ms)::numeric, 1) AS max_ms
FROM bench_calls GROUP BY system ORDER BY system = 'pg_optimizer';
SQL
sql <<'SQL'
SELECT format('pg_partman total %s ms (median %s ms per call), pg_optimizer total %s ms (median %s ms per call)',
    coalesce(round(sum(ms) FILTER (WHERE system = 'pg_partman')::numeric, 1)::text, 'n/a'),
    coalesce(round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE system = 'pg_partman'))::numeric, 1)::text, 'n/a'),
    coalesce(round(sum(ms) FILTER (WHERE system = 'pg_optimizer')::numeric, 1)::text, 'n/a'),
    coalesce(round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE system = 'pg_optimizer'))::numeric, 1)::text, 'n/a'))
FROM bench_calls;
SELECT 'ratio: ' || coalesce((
    SELECT round((sum(ms) FILTER (WHERE system = 'pg_optimizer') / sum(ms) FILTER (WHERE system = 'pg_partman'))::numeric, 3)::text
      FROM bench_calls
    HAVING bool_and(ok) AND count(*) FILTER (WHERE system = 'pg_optimizer') > 0
       AND sum(ms) FILTER (WHERE system = 'pg_partman') > 0), 'n/a');
SQL
