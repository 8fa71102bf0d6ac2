#!/usr/bin/env bash
# Job scheduler start lateness, pg_optimizer side by side with pg_cron, in one run.
#
# One cluster (BENCH_DIR /tmp/pg_optimizer-bench-sched, port 5489, socket /tmp, fsync off,
# max_worker_processes = 128, max_connections = 200). For each SYSTEM (pg_optimizer, then pg_cron),
# in turn: restart the cluster with shared_preload_libraries = that system's library alone (plus its
# own settings, written to bench_system.conf, which postgresql.conf includes last), wait for its
# scheduler process, then two phases of PHASE_SECONDS each:
#   idle  no other load
#   load  pgbench -c 4 -j 2 (TPC-B-like) on a separate database `pgb` (scale 10). -T is stretched
#         from PHASE_SECONDS to cover the whole measurement window plus the grace period, since the
#         window only starts at the next whole minute after scheduling.
# In each phase, JOBS jobs every minute ('* * * * *') and JOBS jobs every 10 seconds
# ('10 seconds'), all running the same command on both systems:
#   INSERT INTO bench_starts(system, phase, kind, job, started) VALUES (..., clock_timestamp())
# in database `bench`. The measurement window begins at the next whole minute after the jobs are
# scheduled and lasts PHASE_SECONDS (per kind, only whole periods: floor(PHASE_SECONDS/period)
# scheduled instants per job); after it the script waits GRACE_SECONDS for late starts, copies the
# system's own run records, unschedules everything and waits for runs still in flight.
#
# Lateness of a start = started - its scheduled instant:
#   minute jobs   started floored to the whole minute (both systems fire cron schedules at the
#                 start of the minute, in UTC; pg_cron: StartAllPendingRuns/ShouldRunTask in
#                 src/pg_cron.c, gmtime of the minute start). pg_cron's launcher loop
#                 (PgCronLauncherMain) sleeps in PollForTasks/WaitForLatch until the next minute
#                 start, at most MaxWait = 1 s at a time; it takes the time twice per iteration (main
#                 loop, then PollForTasks), and when a minute boundary falls between the two it
#                 sleeps a further full second, so some of its minutes start ~1 s late (seen under
#                 load). It then starts the due jobs one after another (ManageCronTask: insert into
#                 job_run_details, register the worker, WaitForBackgroundWorkerStartup, update).
#   10-s jobs     pg_optimizer: started floored to a multiple of 10 s since the Unix epoch (it
#                 aligns interval schedules that way).
#                 pg_cron: 1.4.2 (postgresql-15-cron) has no second schedules at all:
#                 cron_schedule_named (src/job_metadata.c) calls parse_cron_entry (src/entry.c),
#                 which accepts only 5-field cron expressions and @-macros, and '10 seconds' fails
#                 with "invalid schedule". The script probes for it (cron.schedule in a transaction
#                 that is rolled back); unsupported -> its 10-s rows print "unsupported", the compared
#                 phases run the minute jobs only (for both systems: the same load), pg_optimizer's
#                 10-s jobs get an extra idle phase of their own ("idle10s", not compared), and every
#                 ratio is computed over the minute jobs only (the output says so).
#                 Second schedules arrived in pg_cron 1.5.0 (TryParseInterval in
#                 src/job_metadata.c, '[1-59] seconds'), and they are NOT aligned to wall clock:
#                 StartAllPendingRuns (src/pg_cron.c) queues a run when
#                 currentTime - task->lastStartTime >= secondsInterval (only if none is pending),
#                 lastStartTime being the previous run's start (1.5: the launcher loop's time when
#                 it started the task; 1.6: GetCurrentTimestamp() once the worker/connection is up,
#                 the same value written to job_run_details.start_time); a new job's first run is
#                 immediate. So when a pg_cron with second schedules is installed, its scheduled
#                 instant for a 10-s start is the same job's previous `started` + 10 s. That
#                 previous `started` is a little later than pg_cron's lastStartTime, so this
#                 slightly understates pg_cron's lateness (conservative against pg_optimizer).
# Per system/phase/kind: starts, distinct (job, instant) pairs, expected starts, missed (expected
# minus distinct pairs, never below 0), p50/p99/max lateness in ms, failed runs (pg_optimizer:
# optimizer.job_runs status <> 'succeeded', which includes skipped; pg_cron: cron.job_run_details
# status = 'failed'), skipped runs (pg_optimizer: status = 'skipped'). A run record belongs to the
# window by its scheduled instant (pg_optimizer: scheduled_at; pg_cron has none, so its
# start_time, or end_time when it never started, floored like a start).
# Also cross-check lines: pg_optimizer's p50/p99 of started_at - scheduled_at in job_runs, and
# pg_cron's of job_run_details.start_time (minute jobs; set by the launcher once the worker is up).
# Summary: p99 ratio (pg_optimizer / pg_cron) per phase, then as the last line `ratio: X`, X = p99
# lateness of pg_optimizer / p99 lateness of pg_cron over all phases and kinds combined (n/a when
# a system was not run or has no starts).
#
# pg_cron settings: cron.database_name = 'bench', cron.use_background_workers = on,
# cron.log_run = on, cron.max_running_jobs = JOBS*2, capped at max_worker_processes - 1 (127): with
# background workers that GUC's maximum is max_worker_processes - 1 (_PG_init, src/pg_cron.c), and
# an out-of-range value in postgresql.conf would be dropped with a warning, leaving the default 5.
# pg_optimizer: pg_optimizer.max_running_jobs = JOBS*2. The effective values are printed.
#
# Needs the release build installed (make bench-scheduler does it) and pg_cron
# (postgresql-15-cron). Env: PHASE_SECONDS (300, at least 60), JOBS (100), GRACE_SECONDS (30),
# SYSTEMS ("pg_optimizer pg_cron"), ANALYZE_ONLY=1 (print the results of the last run again, from
# the cluster left in BENCH_DIR), BENCH_DIR (/tmp/pg_optimizer-bench-sched), BENCH_PORT (5489),
# BENCH_OUT (/tmp/pg_optimizer-bench-sched-out). Takes about 4 x (PHASE_SECONDS + 30..90 s) plus
# setup: ~25 minutes at the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
DIR=${BENCH_DIR:-/tmp/pg_optimizer-bench-sched}
PORT=${BENCH_PORT:-5489}
OUT=${BENCH_OUT:-/tmp/pg_optimizer-bench-sched-out}
PHASE_SECONDS=${PHASE_SECONDS:-300}
JOBS=${JOBS:-100}
GRACE=${GRACE_SECONDS:-30}
MAX_WORKERS=128
PHASES=(idle load)

ALL_SYSTEMS=(pg_optimizer pg_cron)
declare -A EXT=([pg_optimizer]=pg_optimizer [pg_cron]=pg_cron)
declare -A SCHEDULE_FN=([pg_optimizer]=optimizer.schedule [pg_cron]=cron.schedule)
declare -A UNSCHEDULE_FN=([pg_optimizer]=optimizer.unschedule [pg_cron]=cron.unschedule)
CRON_MAX_RUNNING=$(( JOBS * 2 < MAX_WORKERS - 1 ? JOBS * 2 : MAX_WORKERS - 1 ))
declare -A CONF=(
    [pg_optimizer]="shared_preload_libraries = 'pg_optimizer'
pg_optimizer.max_running_jobs = $(( JOBS * 2 ))"
    [pg_cron]="shared_preload_libraries = 'pg_cron'
cron.database_name = 'bench'
cron.use_background_workers = on
cron.max_running_jobs = $CRON_MAX_RUNNING
cron.log_run = on"
)
declare -A SHOW_GUCS=(
    [pg_optimizer]="pg_optimizer.max_running_jobs"
    [pg_cron]="cron.use_background_workers cron.max_running_jobs cron.log_run cron.database_name"
)

[[ $PHASE_SECONDS =~ ^[0-9]+$ ]] && [ "$PHASE_SECONDS" -ge 60 ] || { echo "PHASE_SECONDS must be >= 60" >&2; exit 2; }
[[ $JOBS =~ ^[0-9]+$ ]] && [ "$JOBS" -ge 1 ] || { echo "JOBS must be >= 1" >&2; exit 2; }
declare -A WANT=()
for s in ${SYSTEMS:-${ALL_SYSTEMS[*]}}; do
    [ -n "${EXT[$s]+set}" ] || { echo "unknown system '$s' (known: ${ALL_SYSTEMS[*]})" >&2; exit 2; }
    WANT[$s]=1
done
RUN_SYSTEMS=(); for s in "${ALL_SYSTEMS[@]}"; do [ -n "${WANT[$s]:-}" ] && RUN_SYSTEMS+=("$s"); done

PSQL=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK_DIR" -p "$PORT" -U postgres)
sql() { "${PSQL[@]}" -At -d bench "$@"; }   # unaligned, tuples only, in database bench
now() { date +%s.%N; }
sleep_until() { # epoch seconds
    local d; d=$(awk -v t="$1" -v n="$(now)" 'BEGIN { d = t - n; printf "%.3f", (d > 0 ? d : 0) }')
    sleep "$d"
}

PGBENCH_PID=
cleanup() {
    [ -n "$PGBENCH_PID" ] && kill "$PGBENCH_PID" 2>/dev/null || true
    stop_cluster "$DIR"
}
trap cleanup EXIT

# restart SYSTEM|none: stop, write bench_system.conf for that system (none: nothing preloaded), start.
restart() {
    stop_cluster "$DIR"
    if [ "$1" = none ]; then
        echo "shared_preload_libraries = ''"
    else
        echo "${CONF[$1]}"
    fi | as_pg tee "$DIR/bench_system.conf" >/dev/null
    if ! start_cluster "$DIR" "$PORT"; then
        echo "server did not start with $1; end of $DIR/server.log:" >&2
        tail -n 30 "$DIR/server.log" >&2
        exit 1
    fi
}

# setup: a fresh cluster with the databases and the result tables, nothing preloaded.
setup() {
    rm -rf "$OUT"; mkdir -p "$OUT"; chmod 777 "$OUT"
    echo "==> setting up the cluster ($DIR, port $PORT): databases bench and pgb (pgbench scale 10)"
    stop_cluster "$DIR"; rm -rf "$DIR"
    # start_cluster writes shared_preload_libraries = 'pg_optimizer' into postgresql.conf; the lines
    # below come after it, and bench_system.conf (included last) sets the library of each run.
    start_cluster "$DIR" "$PORT" "shared_preload_libraries = ''" "fsync = off" "synchronous_commit = off" \
        "full_page_writes = off" "max_worker_processes = $MAX_WORKERS" "max_connections = 200" \
        "jit = off" "log_min_messages = warning" "include_if_exists = 'bench_system.conf'"
    "${PSQL[@]}" -d postgres -c "CREATE DATABASE bench" -c "CREATE DATABASE pgb"
    "$PG_BIN/pgbench" -h "$SOCK_DIR" -p "$PORT" -U postgres -i -s 10 -q pgb > "$OUT/pgbench-init.log" 2>&1
    sql <<'SQL'
CREATE TABLE bench_starts (system text, phase text, kind text, job text, started timestamptz);
-- one row per job scheduled; handle = what the schedule function returned (pg_cron: the jobid)
CREATE TABLE bench_jobs (system text, phase text, kind text, job text, handle text);
-- one row per system/phase/kind: its window, whether the kind was supported, how scheduled
-- instants are derived ('epoch': started floored to the period since the epoch; 'after_previous':
-- the job's previous start + period)
CREATE TABLE bench_phases (system text, phase text, kind text, period int, jobs int,
    phase_seconds int, w0 timestamptz, supported bool, rule text, tps numeric);
-- the systems' own run records, copied before unscheduling
CREATE TABLE bench_runs (system text, phase text, kind text, job text, scheduled_at timestamptz,
    started_at timestamptz, ended_at timestamptz, status text);
SQL
}

if [ "${ANALYZE_ONLY:-0}" = 1 ]; then
    [ -f "$DIR/PG_VERSION" ] || { echo "ANALYZE_ONLY=1: no cluster in $DIR" >&2; exit 2; }
    echo "==> ANALYZE_ONLY=1: results of the last run kept in $DIR"
    restart none
    RUN_SYSTEMS=()
else
    setup
fi

# wait_scheduler SYSTEM: wait (up to 60 s) for the system's scheduler process.
wait_scheduler() {
    local cond n i
    case $1 in
        pg_cron) cond="backend_type = 'pg_cron launcher'" ;;
        # its launcher starts one scheduler per database with the extension, probing every 2 s
        # for 30 s after a CREATE EXTENSION (src/workers/launcher.rs)
        pg_optimizer) cond="backend_type ILIKE 'pg_optimizer%scheduler' AND datname = 'bench'" ;;
    esac
    for i in $(seq 1 60); do
        n=$(sql -c "SELECT count(*) FROM pg_stat_activity WHERE $cond")
        if [ "$n" -gt 0 ]; then sleep 2; return 0; fi
        sleep 1
    done
    echo "  warning: no $1 scheduler process seen in pg_stat_activity after 60 s; going on" >&2
}

# seconds_supported SYSTEM: does the system accept '10 seconds'? pg_cron is probed (the probe is
# rolled back); pg_optimizer supports it by specification.
seconds_supported() {
    [ "$1" = pg_cron ] || { echo t; return; }
    if sql -c "BEGIN" -c "SELECT cron.schedule('bench_probe', '10 seconds', 'SELECT 1')" \
           -c "ROLLBACK" >/dev/null 2>"$OUT/probe.err"; then
        echo t
    else
        echo f
    fi
}

# in_flight SYSTEM PHASE: runs of the phase's jobs still starting or running
in_flight() {
    case $1 in
        pg_optimizer) sql -c "SELECT count(*) FROM optimizer.job_runs r JOIN bench_jobs j
            ON j.system = 'pg_optimizer' AND j.phase = '$2' AND j.job = r.job
            WHERE r.status IN ('starting', 'running')" ;;
        pg_cron) sql -c "SELECT count(*) FROM cron.job_run_details d JOIN bench_jobs j
            ON j.system = 'pg_cron' AND j.phase = '$2' AND j.handle = d.jobid::text
            WHERE d.status IN ('starting', 'running', 'connecting', 'sending')" ;;
    esac
}

# copy_runs SYSTEM PHASE: the system's run records of the phase's jobs into bench_runs
copy_runs() {
    case $1 in
        pg_optimizer) sql -c "INSERT INTO bench_runs SELECT j.system, j.phase, j.kind, j.job,
            r.scheduled_at, r.started_at, r.ended_at, r.status FROM optimizer.job_runs r
            JOIN bench_jobs j ON j.system = 'pg_optimizer' AND j.phase = '$2' AND j.job = r.job" ;;
        pg_cron) sql -c "INSERT INTO bench_runs SELECT j.system, j.phase, j.kind, j.job,
            NULL, d.start_time, d.end_time, d.status FROM cron.job_run_details d
            JOIN bench_jobs j ON j.system = 'pg_cron' AND j.phase = '$2' AND j.handle = d.jobid::text" ;;
    esac
}

# run_phase SYSTEM PHASE KINDS REPORTED: schedule JOBS jobs of each kind in KINDS ("minute",
# "10s"); record a phase row for each kind in REPORTED (supported = it ran).
run_phase() {
    local sys=$1 phase=$2 sec w0 w1 end t tps=NULL
    local kinds=($3) reported=($4) rule=epoch
    sec=f; [[ " ${kinds[*]} " == *" 10s "* ]] && sec=t
    [ "$sys" = pg_cron ] && rule=after_previous
    for kind in "${kinds[@]}"; do
        local spec="* * * * *"; [ "$kind" = 10s ] && spec="10 seconds"
        sql -c "INSERT INTO bench_jobs SELECT '$sys', '$phase', '$kind', name,
            ${SCHEDULE_FN[$sys]}(name, '$spec', format(
                'INSERT INTO bench_starts(system, phase, kind, job, started) VALUES (%L, %L, %L, %L, clock_timestamp())',
                '$sys', '$phase', '$kind', name))::text
            FROM (SELECT format('job%s_%s_%s', i, '$phase', '$kind') AS name
                  FROM generate_series(1, $JOBS) i) n"
    done
    # window: from the next whole minute, PHASE_SECONDS long
    w0=$(( ( $(date +%s) / 60 + 1 ) * 60 ))
    w1=$(( w0 + PHASE_SECONDS ))
    end=$(( w1 + GRACE ))
    if [ "$phase" = load ]; then
        t=$(( end - $(date +%s) + 1 ))
        "$PG_BIN/pgbench" -h "$SOCK_DIR" -p "$PORT" -U postgres -n -c 4 -j 2 -T "$t" pgb \
            > "$OUT/pgbench-$sys.log" 2>&1 &
        PGBENCH_PID=$!
    fi
    printf "  %-7s %d x %s, window %s .. %s UTC (+%d s grace)\n" "$phase" "$JOBS" "${kinds[*]}" \
        "$(date -u -d "@$w0" +%H:%M:%S)" "$(date -u -d "@$w1" +%H:%M:%S)" "$GRACE"
    sleep_until "$end"
    copy_runs "$sys" "$phase"
    sql -c "SELECT count(${UNSCHEDULE_FN[$sys]}(job)) FROM bench_jobs WHERE system = '$sys' AND phase = '$phase'" >/dev/null
    for t in $(seq 1 60); do
        [ "$(in_flight "$sys" "$phase")" = 0 ] && break
        sleep 1
    done
    [ "$(in_flight "$sys" "$phase")" = 0 ] || echo "  warning: runs of $sys/$phase still in flight after 60 s" >&2
    if [ -n "$PGBENCH_PID" ]; then
        wait "$PGBENCH_PID" || true
        PGBENCH_PID=
        tps=$(awk '/^tps/ { print $3; exit }' "$OUT/pgbench-$sys.log")
        [ -n "$tps" ] || tps=NULL
    fi
    sql -c "INSERT INTO bench_phases SELECT '$sys', '$phase', k, CASE k WHEN 'minute' THEN 60 ELSE 10 END,
        $JOBS, $PHASE_SECONDS, to_timestamp($w0), k = ANY(string_to_array('${kinds[*]}', ' ')),
        CASE WHEN k = '10s' THEN '$rule' ELSE 'epoch' END, $tps FROM unnest(string_to_array('${reported[*]}', ' ')) k"
}

# Both systems get the same load: the 10-second jobs run in the compared phases only if every
# system run supports them (pg_cron has them from 1.5). If pg_cron does not, pg_optimizer's
# 10-second jobs get a phase of their own (idle, not compared), so their lateness is measured too.
CRON_SECONDS=t
if [[ " ${RUN_SYSTEMS[*]} " == *" pg_cron "* ]]; then
    v=$(sql -c "SELECT default_version FROM pg_available_extensions WHERE name = 'pg_cron'")
    CRON_SECONDS=$(awk -v v="$v" 'BEGIN { split(v, a, /[.-]/); print (a[1] > 1 || (a[1] == 1 && a[2] >= 5)) ? "t" : "f" }')
    [ "$CRON_SECONDS" = t ] || echo "==> pg_cron $v has no second schedules: the compared phases run the minute jobs only"
fi
COMPARED="minute"; [ "$CRON_SECONDS" = t ] && COMPARED="minute 10s"
for sys in "${RUN_SYSTEMS[@]}"; do
    echo "==> $sys: restarting with shared_preload_libraries = '$sys'"
    restart "$sys"
    sql -c "CREATE EXTENSION IF NOT EXISTS ${EXT[$sys]}"
    settings="extension ${EXT[$sys]} $(sql -c "SELECT extversion FROM pg_extension WHERE extname = '${EXT[$sys]}'")"
    for g in ${SHOW_GUCS[$sys]}; do settings+=", $g = $(sql -c "SHOW $g")"; done
    echo "  $settings"
    wait_scheduler "$sys"
    if [ "$sys" = pg_cron ] && [ "$(seconds_supported pg_cron)" != "$CRON_SECONDS" ]; then
        echo "  warning: pg_cron's second schedules: probe and version disagree ($(head -n 1 "$OUT/probe.err"))" >&2
    fi
    for phase in "${PHASES[@]}"; do run_phase "$sys" "$phase" "$COMPARED" "minute 10s"; done
    if [ "$sys" = pg_optimizer ] && [ "$CRON_SECONDS" = f ]; then
        run_phase "$sys" idle10s "10s" "10s"
    fi
done

# The analysis, in SQL. Rule 'after_previous' (pg_cron's 10-s jobs) applies only when supported.
ANALYSIS_VIEWS=$(cat <<'SQL'
CREATE TEMP VIEW ph AS
SELECT *, w0 + make_interval(secs => (phase_seconds / period) * period) AS w1,
       (phase_seconds / period) * jobs AS expected
FROM bench_phases;
CREATE TEMP VIEW lat AS
SELECT * , extract(epoch FROM started - instant) * 1000 AS ms
FROM (
    SELECT s.system, s.phase, s.kind, s.job, s.started, ph.w0, ph.w1,
           CASE WHEN ph.rule = 'after_previous'
                THEN lag(s.started) OVER (PARTITION BY s.system, s.phase, s.kind, s.job ORDER BY s.started)
                     + make_interval(secs => ph.period)
                ELSE to_timestamp(floor(extract(epoch FROM s.started) / ph.period) * ph.period) END AS instant
    FROM bench_starts s JOIN ph USING (system, phase, kind)
) x
WHERE instant >= w0 AND instant < w1;
CREATE TEMP VIEW runs AS
SELECT r.*, coalesce(r.scheduled_at,
        to_timestamp(floor(extract(epoch FROM coalesce(r.started_at, r.ended_at)) / ph.period) * ph.period)) AS instant
FROM bench_runs r JOIN ph USING (system, phase, kind);
CREATE TEMP VIEW runs_in AS
SELECT runs.* FROM runs JOIN ph USING (system, phase, kind) WHERE instant >= w0 AND instant < w1;
-- kinds every run system supported in every phase: the ratios use only those
CREATE TEMP VIEW kinds AS
SELECT kind FROM bench_phases GROUP BY kind HAVING bool_and(supported);
SQL
)

sql -c "SELECT format('==> results (lateness = start - scheduled instant, ms; window per phase: %s s, %s jobs per kind)',
    string_agg(DISTINCT phase_seconds::text, '/'), string_agg(DISTINCT jobs::text, '/')) FROM bench_phases"
"${PSQL[@]}" -d bench -P footer=off <<SQL
$ANALYSIS_VIEWS
SELECT ph.system, ph.phase, ph.kind,
       CASE WHEN NOT ph.supported THEN CASE ph.system WHEN 'pg_cron' THEN 'unsupported' ELSE 'not run' END
            ELSE coalesce(l.starts, 0)::text END AS starts,
       CASE WHEN ph.supported THEN ph.expected::text END AS expected,
       CASE WHEN ph.supported THEN greatest(ph.expected - coalesce(l.pairs, 0), 0)::text END AS missed,
       CASE WHEN ph.supported THEN round(l.p50::numeric, 1)::text END AS p50_ms,
       CASE WHEN ph.supported THEN round(l.p99::numeric, 1)::text END AS p99_ms,
       CASE WHEN ph.supported THEN round(l.mx::numeric, 1)::text END AS max_ms,
       CASE WHEN ph.supported THEN coalesce(r.failed, 0)::text END AS failed,
       CASE WHEN ph.system = 'pg_optimizer' THEN coalesce(r.skipped, 0)::text ELSE '-' END AS skipped,
       coalesce(round(ph.tps)::text, '-') AS pgbench_tps
FROM ph
LEFT JOIN (SELECT system, phase, kind, count(*) AS starts, count(DISTINCT (job, instant)) AS pairs,
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
                  percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99, max(ms) AS mx
           FROM lat GROUP BY 1, 2, 3) l USING (system, phase, kind)
LEFT JOIN (SELECT system, phase, kind,
                  count(*) FILTER (WHERE CASE system WHEN 'pg_cron' THEN status = 'failed'
                                                     ELSE status <> 'succeeded' END) AS failed,
                  count(*) FILTER (WHERE status = 'skipped') AS skipped
           FROM runs_in GROUP BY 1, 2, 3) r USING (system, phase, kind)
ORDER BY array_position(ARRAY['pg_optimizer', 'pg_cron'], ph.system),
         array_position(ARRAY['idle', 'load'], ph.phase), ph.period DESC;
SQL
echo "  (failed: pg_optimizer job_runs status <> 'succeeded', skipped included; pg_cron job_run_details status = 'failed')"

sql <<SQL
$ANALYSIS_VIEWS
SELECT format('pg_optimizer cross-check (job_runs started_at - scheduled_at): %s',
              coalesce(string_agg(format('%s/%s p50 %s ms p99 %s ms (%s runs)', phase, kind,
                  round(p50::numeric, 1), round(p99::numeric, 1), n), ', ' ORDER BY phase, kind), 'no runs'))
FROM (SELECT phase, kind, count(*) AS n,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - scheduled_at) * 1000) AS p50,
             percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - scheduled_at) * 1000) AS p99
      FROM runs_in WHERE system = 'pg_optimizer' AND started_at IS NOT NULL GROUP BY 1, 2) x
HAVING EXISTS (SELECT FROM bench_phases WHERE system = 'pg_optimizer');
SELECT format('pg_cron cross-check (job_run_details start_time - scheduled instant): %s',
              coalesce(string_agg(format('%s/%s p50 %s ms p99 %s ms (%s runs)', phase, kind,
                  round(p50::numeric, 1), round(p99::numeric, 1), n), ', ' ORDER BY phase, kind), 'no runs'))
FROM (SELECT phase, kind, count(*) AS n,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - instant) * 1000) AS p50,
             percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - instant) * 1000) AS p99
      FROM runs_in WHERE system = 'pg_cron' AND started_at IS NOT NULL AND kind = 'minute' GROUP BY 1, 2) x
HAVING EXISTS (SELECT FROM bench_phases WHERE system = 'pg_cron');
SELECT CASE WHEN count(*) = 2 THEN 'ratios over all kinds (minute and 10 s)'
            ELSE 'ratios over the minute jobs only: 10-second schedules are unsupported by the installed pg_cron' END
FROM kinds;
SQL

# p99 per system, per phase and combined, over the kinds in view `kinds`; then the ratios
sql <<SQL
$ANALYSIS_VIEWS
CREATE TEMP VIEW p99 AS
SELECT system, coalesce(phase, 'all') AS phase, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99
FROM lat WHERE kind IN (SELECT kind FROM kinds)
GROUP BY GROUPING SETS ((system, phase), (system));
SELECT format('%s: pg_optimizer p99 %s ms, pg_cron p99 %s ms, ratio %s', p.phase,
              coalesce(round(o.p99::numeric, 1)::text, 'n/a'), coalesce(round(c.p99::numeric, 1)::text, 'n/a'),
              CASE WHEN o.p99 IS NULL OR c.p99 IS NULL OR c.p99 = 0 THEN 'n/a'
                   ELSE round((o.p99 / c.p99)::numeric, 3)::text END)
FROM (VALUES ('idle', 1), ('load', 2), ('all', 3)) p(phase, ord)
LEFT JOIN p99 o ON o.system = 'pg_optimizer' AND o.phase = p.phase
LEFT JOIN p99 c ON c.system = 'pg_cron' AND c.phase = p.phase
ORDER BY p.ord;
SELECT 'ratio: ' || coalesce((SELECT round((o.p99 / c.p99)::numeric, 3)::text FROM p99 o, p99 c
    WHERE o.system = 'pg_optimizer' AND o.phase = 'all' AND c.system = 'pg_cron' AND c.phase = 'all'
      AND c.p99 > 0), 'n/a');
SQL
