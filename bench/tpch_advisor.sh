#!/usr/bin/env bash
# TPC-H index-advisor benchmark matrix (issue 17): the advisors under the server's default
# random_page_cost (4) and under 1.1, at a 1024 MB budget and at a tight one; same data, same
# server settings, same 22 queries (bench/tpch/qNN.sql, the spec templates with the validation
# parameters; Q11's fraction is set to 0.0001 / SF). Design and sources:
# docs/research/advisor-tpch.md. The matrix was fixed before its first run.
#
# Arms (all start from the primary keys only; every other index in schema public is dropped first):
#   a  none: no index beyond the primary keys (reference; NOT a peer; run at the cost settings of
#      A_RPCS, default 4, for the plan check below)
#   b  pg_qualstats 2.0.4: pg_qualstats_index_advisor(min_filter => 1000, min_selectivity => 30)
#      on the quals recorded by the recording pass; its "indexes" list in its own order;
#      planner calls 0. Not in the default ARMS: in every earlier run it was 4.5x slower than c
#      (Q17 and Q20 time out), so it was never the best peer; ARMS=a,b,c,d adds it to every cell.
#   c  supabase index_advisor's approach on Debian's HypoPG (bench/tpch/single_column_advisor.sql,
#      our own code): per query, one EXPLAIN without and one with a hypothetical btree on every
#      eligible column; keep the indexes the plan uses; union ranked by total cost improvement;
#      planner calls = the EXPLAINs (2 per query). Run once per cost setting within the largest
#      budget: the tight budget is its real size, so its indexes are the same in every cell.
#   d  pg_optimizer: SELECT ddl, estimated_bytes, planner_calls FROM
#      optimizer.index_advice(budget_mb => BUDGET) WHERE action = 'create' ORDER BY benefit DESC
#      (fails with a clear message when the installed build lacks the function); once per cell.
# Every arm's indexes are built in the advisor's order while the running total of real sizes
# (pg_relation_size) stays within the budget: an index whose estimated size (HypoPG for b and c,
# the advisor's own for d) exceeds the remaining budget is skipped, and one whose real size turns
# out not to fit is dropped again; a DDL line repeated in the advice, and an index identical to one
# already there (the primary keys included), are not kept either; all of it is reported. Then
# CHECKPOINT, pg_prewarm of every table and index, and REPS timed passes.
#
# The matrix: for each random_page_cost of RPCS (ALTER SYSTEM + reload), a recording pass, then
# a (if that cost is in A_RPCS), c, and per budget of BUDGETS the cell's b and d. A budget is a
# number of MB or `tight`: arm c's real size in the same run at the same cost, rounded up to
# the MB.
#
# Recording pass (once per cost setting, after both recorders are reset and with the primary
# keys only): the 22 queries with statement_timeout = TIMEOUT_S and pg_qualstats.sample_rate = 1,
# pg_optimizer.track = top, sample_rate = 1, predicate_sample_rate = 1 (set in that session only).
# Every other session (set-up, advisors, index builds, timed passes) runs with
# pg_qualstats.enabled = off and pg_optimizer.track = none, sample_rate = 0,
# predicate_sample_rate = 0 (postgresql.conf), so the workload both b and d see is the 22 queries
# of that pass only: the bench's own catalog and temp-table queries stay out (with track = top and
# sample_rate = 0, pg_optimizer still creates a 0-call entry for every statement with constants,
# and index_advice plans those), and one arm's timed passes do not feed a later arm's advisor
# (with c's indexes Q17 and Q20 complete, and pg_optimizer would keep their examples).
# pg_stat_statements stays on throughout; no advisor reads it.
#
# Timed passes: one `psql -X` session per repetition, `\timing on`, results to /dev/null, `\echo`
# markers and :SQLSTATE after each query, parsed from stdout. SQLSTATE 57014 or a time >=
# TIMEOUT_S counts as TIMEOUT_S; any other error fails the bench. SKIP_TIMEOUT_REPS=1: a query that
# timed out in repetition 1 is not run again in that arm, its timeout is reused. Per query the
# median over REPS; an arm's total is the sum of the 22 medians.
#
# Printed per arm: the indexes (DDL), estimated and real sizes, total against the budget, advisor
# wall-clock ms, planner calls, the 22 medians and the total. Then per cost setting a per-query
# table of every arm and cell; a summary of the arms; the plan check (at a cost setting where a
# ran: each query whose EXPLAIN, after d's timed passes, uses one of d's new indexes, with
# median(d) / median(a) against 1.5); the cells, each with ratio = total(d) / total(best peer of
# the cell), "best peer" = the faster of b and c (a EXCLUDED), and its target (0.85; 0.90 at the
# tight budget), with a control column: (q01 + q13)(d) / (q01 + q13)(peer), two queries that scan
# whole tables in every arm, so it shows how far the machine's speed drifted between the two arms
# (printed only: it changes no total and no ratio); and as the last line `ratio: X`, the worst
# cell's ratio (`n/a` without d or without a peer).
#
# Needs: postgresql-15, postgresql-15-hypopg, postgresql-15-pg-qualstats, contrib, python3-venv
# (tpchgen-cli 4.0.0 from PyPI is installed into BENCH_DIR/venv), and pg_optimizer installed
# (scripts/install.sh). Takes the whole machine: do not run it beside another benchmark, and do not
# edit this file while it runs (bash reads it as it goes).
# Env (defaults): SF (1), RPCS (4,1.1), BUDGETS (1024,tight), A_RPCS (4), ARMS (a,c,d), REPS (3),
# TIMEOUT_S (60), BENCH_DIR (/tmp/pgopt_tpch; data cached there per SF), PORT (5481),
# SKIP_TIMEOUT_REPS (1), KEEP (0; 1 leaves the server running at the end and prints how to
# connect). Every timed pass runs with all tables and indexes prewarmed in shared_buffers, the case
# PostgreSQL's documentation gives for a random_page_cost near seq_page_cost (1.1); 4 is the
# server's default, what a DBA who never tuned it runs.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

SF=${SF:-1}
RPCS=${RPCS:-4,1.1}
BUDGETS=${BUDGETS:-1024,tight}
A_RPCS=${A_RPCS:-4}
REPS=${REPS:-3}
TIMEOUT_S=${TIMEOUT_S:-60}
ARMS=${ARMS:-a,c,d}
BENCH_DIR=${BENCH_DIR:-/tmp/pgopt_tpch}
PORT=${PORT:-5481}
SKIP_TIMEOUT_REPS=${SKIP_TIMEOUT_REPS:-1}
KEEP=${KEEP:-0}

TPCHGEN_VERSION=4.0.0
SRC=bench/tpch
DATA=$BENCH_DIR/data/tpchgen-$TPCHGEN_VERSION-sf$SF
PGDATA_DIR=$BENCH_DIR/cluster
RUN=$BENCH_DIR/run
QDIR=$RUN/queries
TIMEOUT_MS=$((TIMEOUT_S * 1000))
QIDS=(01 02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19 20 21 22)
ALL_ARMS=(a b c d)
declare -A ARM_DESC=(
    [a]="none (primary keys only)"
    [b]="pg_qualstats_index_advisor(min_filter => 1000, min_selectivity => 30)"
    [c]="single-column HypoPG what-if (supabase index_advisor's approach)"
    [d]="pg_optimizer: optimizer.index_advice(budget_mb => ...)"
)

# die MESSAGE: fatal, also from inside $(...) (it signals the main shell, which exits 1)
die() {
    echo "ERROR: $*" >&2
    [ "${BASHPID:-$$}" = "$$" ] || kill -TERM "$$"
    exit 1
}
trap 'exit 1' TERM
trap 'echo "ERROR: exit status $? at line $LINENO: $BASH_COMMAND" >&2' ERR
now_ms() { date +%s%3N; }
# fmt_s MS: seconds with 1 decimal; fmt_mb BYTES: MB with 1 decimal
fmt_s() { awk -v v="$1" 'BEGIN { printf "%.1f", v / 1000 }'; }
fmt_mb() { awk -v v="$1" 'BEGIN { printf "%.1f", v / 1048576 }'; }

if ! [[ $SF =~ ^[0-9]+([.][0-9]+)?$ ]] || ! awk -v s="$SF" 'BEGIN { exit !(s > 0) }'; then
    die "SF must be a positive number, not '$SF'"
fi
for v in REPS TIMEOUT_S PORT; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not '${!v}'"
done
IFS=', ' read -ra RPC_LIST <<< "$RPCS"
IFS=', ' read -ra A_RPC_LIST <<< "$A_RPCS"
IFS=', ' read -ra BUDGET_LIST <<< "$BUDGETS"
[ ${#RPC_LIST[@]} -gt 0 ] || die "RPCS is empty"
[ ${#BUDGET_LIST[@]} -gt 0 ] || die "BUDGETS is empty"
for v in "${RPC_LIST[@]}" "${A_RPC_LIST[@]}"; do
    [[ $v =~ ^[0-9]+([.][0-9]+)?$ ]] || die "RPCS and A_RPCS take numbers (random_page_cost), not '$v'"
done
for v in "${BUDGET_LIST[@]}"; do
    [[ $v =~ ^[1-9][0-9]*$ || $v = tight ]] || die "BUDGETS takes MB or 'tight', not '$v'"
done
declare -A WANT=()
IFS=', ' read -ra _arms <<< "$ARMS"
for a in "${_arms[@]}"; do
    [ -n "${ARM_DESC[$a]+set}" ] || die "unknown arm '$a' in ARMS (known: a,b,c,d)"
    WANT[$a]=1
done
RUN_ARMS=(); for a in "${ALL_ARMS[@]}"; do [ -n "${WANT[$a]:-}" ] && RUN_ARMS+=("$a"); done
[ ${#RUN_ARMS[@]} -gt 0 ] || die "ARMS is empty"

PSQL=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK_DIR" -p "$PORT" -U postgres -d tpch)
sql() { "${PSQL[@]}" -At -c "$1" || die "SQL failed: $1"; }

T_START=$(now_ms)
SB=$(awk -v s="$SF" 'BEGIN { print (s >= 1) ? "4GB" : "512MB" }')
echo "==> TPC-H advisor bench matrix: SF $SF, random_page_cost ${RPC_LIST[*]}, budgets ${BUDGET_LIST[*]} (MB)," \
    "arms ${RUN_ARMS[*]} (a at random_page_cost ${A_RPC_LIST[*]}), REPS $REPS, timeout ${TIMEOUT_S}s," \
    "SKIP_TIMEOUT_REPS=$SKIP_TIMEOUT_REPS, shared_buffers $SB, BENCH_DIR $BENCH_DIR"

# ---------------------------------------------------------------------------------------------
# 1. Data (cached per SF and generator version), cluster, schema, load
mkdir -p "$BENCH_DIR"
if [ -f "$DATA/.complete" ]; then
    echo "==> data: cached in $DATA"
else
    venv=$BENCH_DIR/venv
    if [ "$("$venv/bin/tpchgen-cli" --version 2>/dev/null || true)" != "tpchgen-cli $TPCHGEN_VERSION" ]; then
        echo "==> installing tpchgen-cli $TPCHGEN_VERSION into $venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q "tpchgen-cli==$TPCHGEN_VERSION"
    fi
    echo "==> generating SF $SF csv into $DATA"
    t0=$(now_ms)
    rm -rf "$DATA"; mkdir -p "$DATA"
    "$venv/bin/tpchgen-cli" csv -s "$SF" -o "$DATA" -n "$(nproc)" --no-progress
    touch "$DATA/.complete"
    echo "  generated in $(fmt_s $(( $(now_ms) - t0 ))) s, $(du -sh "$DATA" | cut -f1)"
fi

# A reinstall of the extension during the run replaces the library under the running server,
# whose backends then crash: say so when that is what happened.
SO=$("$PG_BIN/pg_config" --pkglibdir 2>/dev/null || echo "/usr/lib/postgresql/$PG_MAJOR/lib")/pg_optimizer.so
SO_MTIME=$(stat -c %Y "$SO" 2>/dev/null || echo none)
cleanup() {
    local rc=$?
    if [ "$rc" != 0 ] && [ "$(stat -c %Y "$SO" 2>/dev/null || echo none)" != "$SO_MTIME" ]; then
        echo "NOTE: $SO was replaced during the run (a reinstall?); a server crash above is probably that" >&2
    fi
    if [ "$KEEP" = 1 ]; then
        echo "==> KEEP=1: server left running; connect with:"
        echo "    psql -h $SOCK_DIR -p $PORT -U postgres -d tpch"
        echo "    stop: runuser -u postgres -- $PG_BIN/pg_ctl -D $PGDATA_DIR -m fast stop"
    else
        stop_cluster "$PGDATA_DIR"
    fi
}
trap cleanup EXIT

rm -rf "$RUN"; mkdir -p "$QDIR"
# The queries as run and advised on: Q11's fraction is 0.0001 / SF (0.0001000000 at SF 1).
q11_fraction=$(awk -v s="$SF" 'BEGIN { printf "%.10f", 0.0001 / s }')
for q in "${QIDS[@]}"; do
    if [ "$q" = 11 ]; then
        grep -q '0\.0001000000' "$SRC/q11.sql" || die "$SRC/q11.sql: fraction 0.0001000000 not found"
        sed "s/0\.0001000000/$q11_fraction/" "$SRC/q11.sql" > "$QDIR/q11.sql"
    else
        cp "$SRC/q$q.sql" "$QDIR/q$q.sql"
    fi
done

echo "==> cluster in $PGDATA_DIR, port $PORT"
t0=$(now_ms)
stop_cluster "$PGDATA_DIR"; rm -rf "$PGDATA_DIR"
# Identical for every arm. fsync off: a throwaway cluster (load and index builds only; the timed
# queries are read-only, and a CHECKPOINT precedes every arm's passes).
start_cluster "$PGDATA_DIR" "$PORT" \
    "shared_preload_libraries = 'pg_stat_statements,pg_qualstats,pg_optimizer'" \
    "shared_buffers = $SB" "work_mem = 64MB" "maintenance_work_mem = 1GB" "jit = off" \
    "autovacuum = off" "max_parallel_workers_per_gather = 2" "max_wal_size = 4GB" \
    "wal_level = minimal" "max_wal_senders = 0" "random_page_cost = ${RPC_LIST[0]}" "fsync = off" \
    "pg_stat_statements.save = off" "pg_optimizer.save = off" \
    "pg_qualstats.enabled = off" "pg_optimizer.track = none" "pg_optimizer.sample_rate = 0" \
    "pg_optimizer.predicate_sample_rate = 0"
"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK_DIR" -p "$PORT" -U postgres -d postgres -c "CREATE DATABASE tpch"
{
    cat "$SRC/schema.sql"
    for t in region nation supplier customer part partsupp orders lineitem; do
        echo "\\copy $t from '$DATA/$t.csv' with (format csv, header match, freeze)"
    done
} > "$RUN/load.sql"
"${PSQL[@]}" -1 -f "$RUN/load.sql"
"${PSQL[@]}" -f "$SRC/pkeys.sql"
# Row counts: exact for the fixed-size tables, lineitem exact at SF 1 and within 1% otherwise.
while read -r t expect; do
    got=$(sql "select count(*) from $t")
    if [ "$t" = lineitem ] && [ "$SF" != 1 ]; then
        awk -v g="$got" -v e="$expect" 'BEGIN { exit !(g > 0.99 * e && g < 1.01 * e) }' \
            || die "lineitem has $got rows, expected about $expect"
    else
        [ "$got" = "$expect" ] || die "$t has $got rows, expected $expect"
    fi
done < <(awk -v s="$SF" 'BEGIN {
    printf "region 5\nnation 25\n";
    n = split("supplier 10000 customer 150000 part 200000 partsupp 800000 orders 1500000 lineitem 6001215", a, " ");
    for (i = 1; i < n; i += 2) printf "%s %d\n", a[i], a[i + 1] * s + 0.5 }')
"${PSQL[@]}" -c "CREATE EXTENSION pg_stat_statements" -c "CREATE EXTENSION pg_qualstats" \
    -c "CREATE EXTENSION hypopg" -c "CREATE EXTENSION pg_prewarm" -c "CREATE EXTENSION pg_optimizer"
"${PSQL[@]}" -f "$SRC/single_column_advisor.sql"
# The load's inserts are not the workload's writes: reset the table statistics, so pg_optimizer's
# write-cost model charges only what happens from now on (a DBA does the same after a bulk load;
# the other advisors do not read these counters).
"${PSQL[@]}" -c "SELECT pg_stat_reset()" >/dev/null
if [ -n "${WANT[d]:-}" ] && [ "$(sql "select count(*) from pg_proc where proname = 'index_advice' and pronamespace = to_regnamespace('optimizer')")" = 0 ]; then
    die "arm d: function optimizer.index_advice() is missing from the installed pg_optimizer" \
        "(extension version $(sql "select extversion from pg_extension where extname = 'pg_optimizer'")):" \
        "build and install the advisor (scripts/install.sh), or run without d (ARMS=a,b,c)"
fi
echo "  loaded in $(fmt_s $(( $(now_ms) - t0 ))) s:" \
    "$(sql "select string_agg(format('%s %s', relname, pg_size_pretty(pg_total_relation_size(oid))), ', ' order by pg_total_relation_size(oid) desc)
            from pg_class where relnamespace = 'public'::regnamespace and relkind = 'r'")"
echo "  settings: $(sql "select string_agg(name || '=' || setting || coalesce(unit, ''), ' ' order by name) from pg_settings
    where name in ('shared_buffers', 'work_mem', 'jit', 'autovacuum', 'max_parallel_workers_per_gather',
                   'random_page_cost', 'effective_cache_size', 'wal_level')")"

# ---------------------------------------------------------------------------------------------
# Passes. write_pass FILE PRELUDE QID...: one session; PRELUDE (SQL, may be empty) runs first
# with ON_ERROR_STOP on; then the queries with markers.
write_pass() {
    local f=$1 prelude=$2 q; shift 2
    {
        printf '%s\n' '\set ON_ERROR_STOP 1'
        [ -z "$prelude" ] || printf '%s\n' "$prelude"
        printf "set statement_timeout = '%ss';\n" "$TIMEOUT_S"
        printf '%s\n' '\set ON_ERROR_STOP 0' '\o /dev/null' '\timing on'
        for q in "$@"; do
            printf '%s\n' "\\echo @@q $q"
            cat "$QDIR/q$q.sql"
            printf '%s\n' '\echo @@s :SQLSTATE'
        done
    } > "$f"
}

# run_pass FILE LABEL QID...: runs FILE; sets PASS_MS[qid] (ms, TIMEOUT_MS for a timeout) and
# PASS_TO (the qids that timed out). Any other error, or output that does not parse, is fatal.
declare -A PASS_MS
PASS_TO=()
run_pass() {
    local f=$1 label=$2 rc=0 q t s n=0; shift 2
    local expect=("$@")
    PASS_MS=(); PASS_TO=()
    "$PG_BIN/psql" -X -q -h "$SOCK_DIR" -p "$PORT" -U postgres -d tpch -f "$f" \
        > "$f.stdout" 2> "$f.stderr" || rc=$?
    [ "$rc" = 0 ] || { cat "$f.stderr" >&2; die "$label: psql exited with $rc ($f)"; }
    while read -r q t s; do
        [ "$q" = "${expect[$n]:-}" ] || die "$label: expected q${expect[$n]:-<none>} in the output, got q$q ($f.stdout)"
        n=$((n + 1))
        if [ "$s" = 57014 ] || { [ "$t" != - ] && awk -v t="$t" -v m="$TIMEOUT_MS" 'BEGIN { exit !(t >= m) }'; }; then
            PASS_MS[$q]=$TIMEOUT_MS; PASS_TO+=("$q")
        elif [ "$s" != 00000 ]; then
            sed 's/^/    /' "$f.stderr" >&2
            die "$label: q$q failed with SQLSTATE $s (not a timeout); the bench stops"
        elif [ "$t" = - ]; then
            die "$label: no time printed for q$q ($f.stdout)"
        else
            PASS_MS[$q]=$t
        fi
    done < <(awk '/^@@q / { q = $2; t = "-"; next }
                  /^Time: / { t = $2; sub(/,/, ".", t); next }
                  /^@@s / { if (q == "") { print "? - ?"; next } print q, t, $2; q = "" }' "$f.stdout")
    [ "$n" = ${#expect[@]} ] || die "$label: $n of ${#expect[@]} queries reported ($f.stdout)"
}

# ---------------------------------------------------------------------------------------------
# 3. Arms
drop_indexes() {
    sql "do \$\$ declare r record; begin
        for r in select i.indexrelid::regclass as idx from pg_index i join pg_class t on t.oid = i.indrelid
                 where t.relnamespace = 'public'::regnamespace
                   and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid)
        loop execute format('drop index %s', r.idx); end loop; end \$\$"
    [ "$(sql "select count(*) from pg_index i join pg_class t on t.oid = i.indrelid where t.relnamespace = 'public'::regnamespace")" = 8 ] \
        || die "expected exactly the 8 primary keys after dropping the other indexes"
}

# timed_session SCRIPT: runs SCRIPT (one session); prints the first "Time:" (ms) on stdout
timed_session() {
    local out
    out=$("${PSQL[@]}" -f "$1") || die "advisor session $1 failed"
    awk '/^Time: / { t = $2; sub(/,/, ".", t); print t; exit }' <<< "$out"
}

# The query texts as one SQL array of dollar-quoted literals, without the trailing ';'.
query_array() {
    local q text sep=""
    printf 'array['
    for q in "${QIDS[@]}"; do
        text=$(< "$QDIR/q$q.sql")
        text=${text%;}
        # shellcheck disable=SC2016 # $q$ is an SQL dollar quote
        [[ $text != *'$q$'* ]] || die "q$q contains \$q\$"
        # shellcheck disable=SC2016
        printf '%s$q$%s$q$' "$sep" "$text"
        sep=$',\n'
    done
    printf ']'
}

declare -A ADV_MS PLANNER N_IDX REAL_BYTES EST_BYTES TOTAL_MS MED
BUILT=()        # names of the indexes build_indexes kept
ADVICE=""       # TSV file: ddl <tab> estimated bytes, in the order to build
advise() {
    local arm=$1 s
    s=$RUN/advisor_$arm.sql
    ADVICE=$RUN/advice_$arm.tsv
    : > "$ADVICE"
    case $arm in
    a)
        ADV_MS[$arm]=0; PLANNER[$arm]=0
        ;;
    b)
        cat > "$s" <<SQL
\\timing on
create temp table adv as select pg_qualstats_index_advisor(min_filter => 1000, min_selectivity => 30) as j;
\\timing off
\\pset format unaligned
\\pset tuples_only on
\\pset fieldsep '\\t'
\\o $ADVICE
select e.ddl, hypopg_relation_size(h.indexrelid)
from adv, json_array_elements_text(adv.j -> 'indexes') with ordinality as e(ddl, n),
     lateral hypopg_create_index(e.ddl) as h
order by e.n;
\\o $RUN/unoptimised_b.txt
select string_agg(u, '; ') from adv, json_array_elements_text(adv.j -> 'unoptimised') as u;
SQL
        ADV_MS[$arm]=$(timed_session "$s")
        PLANNER[$arm]=0
        echo "  unoptimised quals (no index AM): $(cat "$RUN/unoptimised_b.txt")"
        ;;
    c)
        {
            printf '%s\n' '\timing on'
            echo "create temp table adv as select * from bench.single_column_advisor($(query_array));"
            cat <<SQL
\\timing off
\\pset format unaligned
\\pset tuples_only on
\\pset fieldsep '\\t'
\\o $ADVICE
select indexdef, est_bytes from bench.single_column_ranking('adv');
\\o $RUN/ranking_c.txt
select format('%s  est %s MB  benefit %s', indexdef, round(est_bytes / 1048576.0, 1), round(benefit::numeric, 1))
from bench.single_column_ranking('adv');
\\o $RUN/perquery_c.txt
select format('q%s cost %s -> %s%s', lpad(qid::text, 2, '0'), round(min(cost_before)::numeric), round(min(cost_after)::numeric),
              coalesce('  uses ' || string_agg(indexdef, ', ' order by indexdef), ''))
from adv group by qid order by qid;
\\o $RUN/planner_c.txt
select count(distinct qid) * 2 from adv;
SQL
        } > "$s"
        ADV_MS[$arm]=$(timed_session "$s")
        PLANNER[$arm]=$(cat "$RUN/planner_c.txt")
        echo "  per query (planner cost without -> with all candidates; hypothetical indexes used):"
        sed 's/^/    /' "$RUN/perquery_c.txt"
        echo "  ranking (benefit = summed cost improvement, split evenly among a query's indexes):"
        sed 's/^/    /' "$RUN/ranking_c.txt"
        ;;
    d)
        cat > "$s" <<SQL
\\timing on
create temp table adv as select * from optimizer.index_advice(budget_mb => $BUDGET_MB) with ordinality as a;
\\timing off
\\pset format unaligned
\\pset tuples_only on
\\pset fieldsep '\\t'
\\o $ADVICE
select ddl, estimated_bytes from adv where action = 'create' order by benefit desc, ordinality;
\\o $RUN/planner_d.txt
select coalesce(max(planner_calls), 0) from adv;
\\o $RUN/other_d.txt
select concat_ws(' ', action, ddl, to_jsonb(adv) ->> 'reason', '(benefit ' || round(benefit::numeric, 1) || ')')
from adv where action <> 'create' order by ordinality;
SQL
        ADV_MS[$arm]=$(timed_session "$s")
        PLANNER[$arm]=$(cat "$RUN/planner_d.txt")
        if [ -s "$RUN/other_d.txt" ]; then
            echo "  other advice (not applied):"; sed 's/^/    /' "$RUN/other_d.txt"
        fi
        ;;
    esac
    [ -n "${ADV_MS[$arm]}" ] || die "arm $arm: no advisor time measured"
}

# build_indexes ARM: the advice in order, within the budget (real sizes), estimated size first
build_indexes() {
    local arm=$1 ddl est before new oid name real dup t0 remaining used=0 est_sum=0 n=0
    local -A seen=()
    BUILT=()
    while IFS=$'\t' read -r ddl est <&3; do
        [ -n "$ddl" ] || continue
        if [ -n "${seen[$ddl]:-}" ]; then
            echo "  - skip  $ddl  (repeats an earlier line of this advice)"
            continue
        fi
        seen[$ddl]=1
        [[ $est =~ ^[0-9]+$ ]] || die "arm $arm: no size estimate for: $ddl"
        remaining=$((BUDGET_BYTES - used))
        if [ "$est" -gt "$remaining" ]; then
            echo "  - skip  $ddl  (est $(fmt_mb "$est") MB > remaining $(fmt_mb "$remaining") MB)"
            continue
        fi
        before=$(sql "select coalesce(string_agg(indexrelid::text, ','), '') from pg_index")
        t0=$(now_ms)
        "${PSQL[@]}" -c "$ddl" || die "arm $arm: index build failed: $ddl"
        new=$(sql "select indexrelid from pg_index where indexrelid <> all ('{$before}'::oid[])")
        [ -n "$new" ] || { echo "  - no new index from: $ddl"; continue; }
        [ "$(wc -l <<< "$new")" = 1 ] || die "arm $arm: more than one new index after: $ddl"
        oid=$new
        name=$(sql "select $oid::regclass")
        real=$(sql "select pg_relation_size($oid)")
        # An index that an existing one already provides (same table, method, keys, INCLUDE
        # columns, opclasses, options, expressions and predicate; unique, or neither unique) only
        # spends budget: drop it again.
        dup=$(sql "select string_agg(o.indexrelid::regclass::text, ', ')
                   from pg_index n join pg_class nc on nc.oid = n.indexrelid,
                        pg_index o join pg_class oc on oc.oid = o.indexrelid
                   where n.indexrelid = $oid and o.indexrelid <> n.indexrelid and o.indrelid = n.indrelid
                     and oc.relam = nc.relam and o.indnkeyatts = n.indnkeyatts and o.indkey = n.indkey
                     and o.indclass = n.indclass and o.indoption = n.indoption
                     and o.indcollation = n.indcollation
                     and coalesce(o.indexprs::text, '') = coalesce(n.indexprs::text, '')
                     and coalesce(o.indpred::text, '') = coalesce(n.indpred::text, '')
                     and (o.indisunique or not n.indisunique)")
        if [ -n "$dup" ]; then
            sql "drop index $name"
            echo "  - drop  $ddl  (same index as $dup)"
            continue
        fi
        if [ $((used + real)) -gt "$BUDGET_BYTES" ]; then
            sql "drop index $name"
            echo "  - drop  $ddl  (real $(fmt_mb "$real") MB > remaining $(fmt_mb "$remaining") MB; est was $(fmt_mb "$est") MB)"
            continue
        fi
        used=$((used + real)); est_sum=$((est_sum + est)); n=$((n + 1))
        BUILT+=("$name")
        echo "  + $ddl  [$name]  est $(fmt_mb "$est") MB, real $(fmt_mb "$real") MB, build $(fmt_s $(( $(now_ms) - t0 ))) s"
    done 3< "$ADVICE"
    [ "$(sql "select count(*) from pg_index where not indisvalid")" = 0 ] || die "arm $arm: an invalid index is left"
    N_IDX[$arm]=$n; REAL_BYTES[$arm]=$used; EST_BYTES[$arm]=$est_sum
    echo "  indexes: $n built, real $(fmt_mb "$used") MB (estimated $(fmt_mb "$est_sum") MB) of budget $BUDGET_MB MB"
    if [ "$(sql "select count(*) from pg_index i join pg_class t on t.oid = i.indrelid
                 where t.relnamespace = 'public'::regnamespace and (i.indexprs is not null or i.indpred is not null)")" != 0 ]; then
        echo "  expression or partial index present: ANALYZE"
        sql "analyze" >/dev/null
    fi
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---------------------------------------------------------------------------------------------
# 4. The matrix: per random_page_cost, a recording pass, then the arms; per budget, the cells.
# record_pass: forgets what both recorders hold, then the 22 queries once with recording on.
record_pass() {
    echo "==> recording pass (pg_qualstats.sample_rate = 1; pg_optimizer.track = top, sample_rate = 1," \
        "predicate_sample_rate = 1; statement_timeout ${TIMEOUT_S}s)"
    local t0 rec_total=0 line="" q
    t0=$(now_ms)
    sql "select pg_qualstats_reset()" >/dev/null
    sql "select optimizer.reset(), optimizer.reset_predicates()" >/dev/null
    drop_indexes
    write_pass "$RUN/record.sql" "set pg_qualstats.enabled = on;
set pg_qualstats.sample_rate = 1;
set pg_optimizer.track = top;
set pg_optimizer.sample_rate = 1;
set pg_optimizer.predicate_sample_rate = 1;" "${QIDS[@]}"
    run_pass "$RUN/record.sql" "recording pass" "${QIDS[@]}"
    for q in "${QIDS[@]}"; do
        rec_total=$(awk -v a="$rec_total" -v b="${PASS_MS[$q]}" 'BEGIN { print a + b }')
        line+=" q$q=$(fmt_s "${PASS_MS[$q]}")"
    done
    echo "  times (s):$line"
    echo "  total $(fmt_s "$rec_total") s; timed out: ${PASS_TO[*]:-none}"
    echo "  recorded: pg_qualstats $(sql "select count(*) from pg_qualstats()") quals;" \
        "pg_optimizer $(sql "select count(*) from optimizer.statements") statements," \
        "$(sql "select count(*) from optimizer.predicates") predicates"
    echo "  ($(fmt_s $(( $(now_ms) - t0 ))) s)"
}

# run_arm ARM KEY: from the primary keys, the arm's advice built within BUDGET_MB, then REPS
# timed passes; sets TOTAL_MS[KEY], MED[KEY.qNN], USES[KEY.qNN] (the arm's new indexes each
# query's plan uses, from EXPLAIN after the passes).
declare -A USES
run_arm() {
    local arm=$1 key=$2 t_arm rep q m v line total
    echo "==> arm $arm [$key]: ${ARM_DESC[$arm]}"
    t_arm=$(now_ms)
    drop_indexes
    advise "$arm"
    echo "  advisor: $(awk -v v="${ADV_MS[$arm]}" 'BEGIN { printf "%.1f", v }') ms, planner calls ${PLANNER[$arm]}," \
        "$(grep -c . "$ADVICE" || true) indexes proposed"
    build_indexes "$arm"
    for v in ADV_MS PLANNER N_IDX REAL_BYTES EST_BYTES; do
        declare -n ref=$v; ref[$key]=${ref[$arm]}; unset -n ref
    done
    sql "checkpoint" >/dev/null
    echo "  prewarmed $(sql "select sum(pg_prewarm(oid)) from pg_class where relnamespace = 'public'::regnamespace and relkind in ('r', 'i')") blocks"
    declare -A VALS=()
    TO_REP1=()
    for rep in $(seq 1 "$REPS"); do
        torun=()
        for q in "${QIDS[@]}"; do
            if [ "$rep" -gt 1 ] && [ "$SKIP_TIMEOUT_REPS" = 1 ] && [[ " ${TO_REP1[*]} " == *" $q "* ]]; then
                VALS[$q]+=" $TIMEOUT_MS"
            else
                torun+=("$q")
            fi
        done
        if [ ${#torun[@]} -gt 0 ]; then
            write_pass "$RUN/pass_${arm}_$rep.sql" "" "${torun[@]}"
            run_pass "$RUN/pass_${arm}_$rep.sql" "arm $arm [$key] rep $rep" "${torun[@]}"
        else
            PASS_MS=(); PASS_TO=()
        fi
        rep_total=0
        for q in "${torun[@]}"; do
            VALS[$q]+=" ${PASS_MS[$q]}"
        done
        for q in "${QIDS[@]}"; do
            rep_total=$(awk -v a="$rep_total" -v b="${VALS[$q]##* }" 'BEGIN { print a + b }')
        done
        [ "$rep" = 1 ] && TO_REP1=("${PASS_TO[@]}")
        reused=""
        [ "$rep" -gt 1 ] && [ "$SKIP_TIMEOUT_REPS" = 1 ] && [ ${#TO_REP1[@]} -gt 0 ] && reused=" (reused from rep 1: ${TO_REP1[*]})"
        echo "  rep $rep: $(fmt_s "$rep_total") s; timed out: ${PASS_TO[*]:-none}$reused"
    done
    total=0
    echo "  medians (ms; T = timeout at ${TIMEOUT_S}s):"
    line=""
    for q in "${QIDS[@]}"; do
        m=$(median <<< "${VALS[$q]}")
        MED[$key.$q]=$m
        total=$(awk -v a="$total" -v b="$m" 'BEGIN { print a + b }')
        v=$(awk -v m="$m" -v t="$TIMEOUT_MS" 'BEGIN { if (m >= t) print "T"; else printf "%.1f", m }')
        line+=$(printf '  q%s %9s' "$q" "$v")
        if [ $((10#$q % 6)) = 0 ] || [ "$q" = 22 ]; then echo "   $line"; line=""; fi
    done
    unset VALS
    TOTAL_MS[$key]=$total
    # Which of the arm's new indexes each plan uses (EXPLAIN, same session settings as the passes).
    if [ ${#BUILT[@]} -gt 0 ]; then
        local f=$RUN/explain_$arm.sql name
        { for q in "${QIDS[@]}"; do printf '%s\n' "\\echo @@q $q" "explain"; cat "$QDIR/q$q.sql"; done; } > "$f"
        "${PSQL[@]}" -f "$f" > "$f.out" || die "arm $arm [$key]: EXPLAIN of the queries failed ($f)"
        for q in "${QIDS[@]}"; do
            USES[$key.$q]=""
            for name in "${BUILT[@]}"; do
                if awk -v q="$q" '/^@@q / { on = ($2 == q); next } on' "$f.out" | grep -Eq "(using|on) $name( |\$)"; then
                    USES[$key.$q]+="$name "
                fi
            done
        done
    fi
    echo "  total: $(awk -v t="$total" 'BEGIN { printf "%.3f", t / 1000 }') s  (arm took $(fmt_s $(( $(now_ms) - t_arm ))) s)"
}

set_budget() {
    BUDGET_MB=$1; BUDGET_BYTES=$((BUDGET_MB * 1024 * 1024))
    ARM_DESC[b]="pg_qualstats_index_advisor(min_filter => 1000, min_selectivity => 30), built within $BUDGET_MB MB"
    ARM_DESC[c]="single-column HypoPG what-if (supabase index_advisor's approach), built within $BUDGET_MB MB"
    ARM_DESC[d]="pg_optimizer: optimizer.index_advice(budget_mb => $BUDGET_MB)"
}

CELLS=()            # "rpc/budget_mb/label"
declare -A TIGHT_OF CELL_RATIO
for rpc in "${RPC_LIST[@]}"; do
    echo "==> random_page_cost = $rpc"
    sql "alter system set random_page_cost = '$rpc'" >/dev/null
    sql "select pg_reload_conf()" >/dev/null
    sleep 1
    [ "$(sql "show random_page_cost")" = "$rpc" ] || die "random_page_cost did not change to $rpc"
    record_pass
    max_mb=0
    for b in "${BUDGET_LIST[@]}"; do [ "$b" = tight ] || [ "$b" -le "$max_mb" ] || max_mb=$b; done
    if [ -n "${WANT[a]:-}" ] && [[ " ${A_RPC_LIST[*]} " == *" $rpc "* ]]; then
        set_budget "$max_mb"; run_arm a "$rpc/a"
    fi
    if [ -n "${WANT[c]:-}" ]; then
        # The single-column arm once per cost setting, within the largest budget; the tight budget
        # is its real size, so its indexes are the same in every cell (checked below).
        set_budget "$max_mb"; run_arm c "$rpc/c"
        TIGHT_OF[$rpc]=$(( (REAL_BYTES[$rpc/c] + 1048575) / 1048576 ))
        [ "${TIGHT_OF[$rpc]}" -ge 1 ] || TIGHT_OF[$rpc]=1
    fi
    for b in "${BUDGET_LIST[@]}"; do
        if [ "$b" = tight ]; then
            [ -n "${TIGHT_OF[$rpc]:-}" ] || die "the tight budget is arm c's real size: arm c must run (ARMS)"
            mb=${TIGHT_OF[$rpc]}; label="tight ${mb} MB"
        else
            mb=$b; label="$b MB"
            if [ -n "${TIGHT_OF[$rpc]:-}" ] && [ "$mb" -lt "${TIGHT_OF[$rpc]}" ]; then
                die "budget $mb MB is below arm c's real size (${TIGHT_OF[$rpc]} MB): arm c would need its own run per budget"
            fi
        fi
        cell="$rpc/$mb/$label"
        CELLS+=("$cell")
        set_budget "$mb"
        for arm in b d; do
            [ -n "${WANT[$arm]:-}" ] || continue
            run_arm "$arm" "$cell/$arm"
        done
    done
done

# ---------------------------------------------------------------------------------------------
# 5. Summary
echo "==> per-query medians (ms; T = timeout, counted as ${TIMEOUT_S}000 ms)"
for rpc in "${RPC_LIST[@]}"; do
    cols=(); hdr=$(printf '%-5s' "rpc $rpc")
    [ -n "${MED[$rpc/a.01]:-}" ] && { cols+=("$rpc/a"); hdr+=$(printf ' %12s' a); }
    [ -n "${MED[$rpc/c.01]:-}" ] && { cols+=("$rpc/c"); hdr+=$(printf ' %12s' c); }
    for cell in "${CELLS[@]}"; do
        [ "${cell%%/*}" = "$rpc" ] || continue
        mb=$(cut -d/ -f2 <<< "$cell")
        for arm in b d; do
            [ -n "${MED[$cell/$arm.01]:-}" ] || continue
            cols+=("$cell/$arm"); hdr+=$(printf ' %12s' "$arm@${mb}MB")
        done
    done
    echo "$hdr"
    for q in "${QIDS[@]}"; do
        row=$(printf '%-5s' "q$q")
        for k in "${cols[@]}"; do
            row+=$(awk -v m="${MED[$k.$q]}" -v t="$TIMEOUT_MS" 'BEGIN { if (m >= t) printf " %12s", "T"; else printf " %12.1f", m }')
        done
        echo "$row"
    done
done
echo "==> arms: SF $SF, $REPS rep(s), timeout ${TIMEOUT_S}s, SKIP_TIMEOUT_REPS=$SKIP_TIMEOUT_REPS; total = sum of the 22 per-query medians"
printf '%-26s %8s %9s %8s %12s %14s %10s\n' arm indexes real_MB est_MB advisor_ms planner_calls total_s
keys=()
for rpc in "${RPC_LIST[@]}"; do
    for k in "$rpc/a" "$rpc/c"; do [ -n "${TOTAL_MS[$k]:-}" ] && keys+=("$k"); done
    for cell in "${CELLS[@]}"; do
        [ "${cell%%/*}" = "$rpc" ] || continue
        for arm in b d; do [ -n "${TOTAL_MS[$cell/$arm]:-}" ] && keys+=("$cell/$arm"); done
    done
done
for k in "${keys[@]}"; do
    a=${k##*/}; r=${k%%/*}
    if [[ $k == */*/*/* ]]; then lbl="$a rpc $r, $(cut -d/ -f3 <<< "$k")"; else lbl="$a rpc $r"; fi
    printf '%-26s %8s %9s %8s %12s %14s %10s\n' "$lbl" "${N_IDX[$k]}" "$(fmt_mb "${REAL_BYTES[$k]}")" \
        "$(fmt_mb "${EST_BYTES[$k]}")" "$(awk -v v="${ADV_MS[$k]}" 'BEGIN { printf "%.1f", v }')" "${PLANNER[$k]}" \
        "$(awk -v t="${TOTAL_MS[$k]}" 'BEGIN { printf "%.3f", t / 1000 }')"
done

# The plan check: at a cost setting where arm a ran, no query whose plan uses one of d's new
# indexes may run more than 1.5x its median in arm a.
check_fail=0; checked=0
for cell in "${CELLS[@]}"; do
    rpc=${cell%%/*}
    [ -n "${TOTAL_MS[$cell/d]:-}" ] && [ -n "${TOTAL_MS[$rpc/a]:-}" ] || continue
    echo "==> plan check [rpc $rpc, $(cut -d/ -f3 <<< "$cell")]: queries using d's new indexes, median(d) / median(a) <= 1.5"
    for q in "${QIDS[@]}"; do
        [ -n "${USES[$cell/d.$q]:-}" ] || continue
        checked=$((checked + 1))
        r=$(awk -v d="${MED[$cell/d.$q]}" -v a="${MED[$rpc/a.$q]}" 'BEGIN { printf "%.2f", d / a }')
        verdict=ok
        awk -v r="$r" 'BEGIN { exit !(r > 1.5) }' && { verdict=FAIL; check_fail=$((check_fail + 1)); }
        printf '  q%s  d %9.1f ms  a %9.1f ms  %5sx  %-4s uses %s\n' "$q" "${MED[$cell/d.$q]}" "${MED[$rpc/a.$q]}" "$r" "$verdict" "${USES[$cell/d.$q]}"
    done
done
[ "$checked" = 0 ] || echo "plan check: $check_fail of $checked query plans above 1.5x arm a"

# Control: Q1 and Q13 read whole tables in every arm (no index changes their plans here), so the
# ratio of their medians between d and the peer shows how much the machine's speed drifted between
# the two arms (1.00 = none). Printed only; it does not change any total or ratio.
control() { awk -v x="${MED[$1.01]}" -v y="${MED[$1.13]}" 'BEGIN { print x + y }'; }
echo "==> cells (best peer = the faster of b and c in the cell; a is not a peer; control = (q01 + q13)(d) / (q01 + q13)(peer), machine drift)"
printf '%-24s %10s %10s %10s %8s %7s %-8s %s\n' cell d_total_s peer peer_total_s ratio target verdict control
worst=""
for cell in "${CELLS[@]}"; do
    rpc=${cell%%/*}
    [ -n "${TOTAL_MS[$cell/d]:-}" ] || continue
    best=""; best_arm=""; best_key=""
    for k in "$cell/b" "$rpc/c"; do
        [ -n "${TOTAL_MS[$k]:-}" ] || continue
        if [ -z "$best" ] || awk -v x="${TOTAL_MS[$k]}" -v y="$best" 'BEGIN { exit !(x < y) }'; then
            best=${TOTAL_MS[$k]}; best_arm=${k##*/}; best_key=$k
        fi
    done
    [ -n "$best" ] || continue
    r=$(awk -v x="${TOTAL_MS[$cell/d]}" -v y="$best" 'BEGIN { printf "%.3f", x / y }')
    CELL_RATIO[$cell]=$r
    target=0.85; [[ $(cut -d/ -f3 <<< "$cell") == tight* ]] && target=0.90
    verdict=met; awk -v r="$r" -v t="$target" 'BEGIN { exit !(r > t) }' && verdict="NOT met"
    ctrl=$(awk -v x="$(control "$cell/d")" -v y="$(control "$best_key")" 'BEGIN { printf "%.2f", x / y }')
    printf '%-24s %10.3f %10s %12.3f %8s %7s %-8s %s\n' "rpc $rpc, $(cut -d/ -f3 <<< "$cell")" \
        "$(awk -v t="${TOTAL_MS[$cell/d]}" 'BEGIN { print t / 1000 }')" "$best_arm" \
        "$(awk -v t="$best" 'BEGIN { print t / 1000 }')" "$r" "$target" "$verdict" "$ctrl"
    if [ -z "$worst" ] || awk -v x="$r" -v y="$worst" 'BEGIN { exit !(x > y) }'; then worst=$r; fi
done
echo "bench took $(fmt_s $(( $(now_ms) - T_START ))) s"
echo "ratio: ${worst:-n/a}"
