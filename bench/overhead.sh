#!/usr/bin/env bash
# Hot-path cost of statement and predicate recording, side by side with pg_stat_statements and
# pg_qualstats, in one run.
#
# Primary figure: instructions per statement, counted by callgrind (repeatable, unlike wall clock
# on these machines). `postgres --single` runs, on pgbench_accounts & co. (scale 10, random
# constants, fixed seed), two pairs of statement files:
#   pk:   1,000 and 5,000 primary-key lookups (SELECT abalance FROM pgbench_accounts WHERE aid = N);
#         per statement = (total(5000) - total(1000)) / 4000
#   join: 200 and 1,000 3-table joins (accounts, branches, tellers) with filters and
#         ORDER BY .. LIMIT 5 (WHERE a.aid BETWEEN N AND N+20 AND t.tid = M);
#         per statement = (total(1000) - total(200)) / 800
# so start-up cancels out. A check file per statement file is appended to every run and prints what
# each configuration recorded (its cost is about the same in both runs of a pair, so it cancels out
# too; where a view or function is unusable it prints an error, or pg_qualstats_rows=0 when
# pg_qualstats is not preloaded, and single-user mode goes on).
# Configurations (all with COMMON_OPTS, plus their own EXTRA options):
#   none                     nothing preloaded
#   pg_stat_statements       pg_stat_statements
#   pgss+qualstats           pg_stat_statements and pg_qualstats, pg_qualstats.sample_rate = 1
#   pg_optimizer             pg_optimizer, statements only (predicate_sample_rate = 0), comparable
#                            with the figures measured before predicate capture existed
#   pg_optimizer+predicates  pg_optimizer, every statement's predicates (predicate_sample_rate = 1)
# Printed per file and configuration: both totals, per statement, added versus none, what was
# recorded. Then the summary: pk statements-only ratio (pg_optimizer / pg_stat_statements), pk
# ratio with predicates (acceptance: <= 1.5), join pg_optimizer+predicates versus pg_stat_statements
# + pg_qualstats, and as the last line `ratio: Z` = instructions pg_optimizer+predicates adds on
# the join file / instructions pg_stat_statements + pg_qualstats add on it. A ratio whose
# configurations were not run prints n/a.
# Secondary: pgbench -S TPS of none, pg_stat_statements, pgss+qualstats and
# pg_optimizer+predicates (same options), interleaved over ROUNDS rounds, medians (noisy: +-2x).
#
# Needs the release build installed (make bench does it) and pg_qualstats
# (postgresql-15-pg-qualstats). Env: ROUNDS (5), SECONDS_PER_RUN (10), SKIP_TPS=1 to skip the
# secondary figure, CONFIGS_ONLY="none pg_stat_statements ..." to run a subset of the
# configurations (default all), BENCH_DIR (/tmp/pg_optimizer-bench), BENCH_PORT (5488),
# BENCH_OUT (/tmp/pg_optimizer-bench-out).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
DIR=${BENCH_DIR:-/tmp/pg_optimizer-bench}
PORT=${BENCH_PORT:-5488}
OUT=${BENCH_OUT:-/tmp/pg_optimizer-bench-out}
ROUNDS=${ROUNDS:-5}
SECS=${SECONDS_PER_RUN:-10}

ALL_CONFIGS=(none pg_stat_statements pgss+qualstats pg_optimizer pg_optimizer+predicates)
TPS_ALL=(none pg_stat_statements pgss+qualstats pg_optimizer+predicates)
declare -A PRELOAD=(
    [none]=""
    [pg_stat_statements]="pg_stat_statements"
    [pgss+qualstats]="pg_stat_statements,pg_qualstats"
    [pg_optimizer]="pg_optimizer"
    [pg_optimizer+predicates]="pg_optimizer"
)
# Extra -c options per configuration (space-separated words, no quoting inside).
declare -A EXTRA=(
    [none]=""
    [pg_stat_statements]=""
    [pgss+qualstats]="-c pg_qualstats.sample_rate=1"
    [pg_optimizer]="-c pg_optimizer.predicate_sample_rate=0"
    [pg_optimizer+predicates]="-c pg_optimizer.predicate_sample_rate=1"
)
# Same settings for both extensions: top-level statements, no planning time, no saving.
COMMON_OPTS=(-c jit=off -c pg_stat_statements.save=off -c pg_optimizer.save=off)

# Statement files: name, statements in the small and the large run.
FILES=(pk join)
declare -A SMALL=([pk]=1000 [join]=200) LARGE=([pk]=5000 [join]=1000)

# CONFIGS_ONLY selects a subset, kept in the canonical order.
declare -A WANT=()
for c in ${CONFIGS_ONLY:-${ALL_CONFIGS[*]}}; do
    [ -n "${PRELOAD[$c]+set}" ] || { echo "unknown configuration '$c' (known: ${ALL_CONFIGS[*]})" >&2; exit 2; }
    WANT[$c]=1
done
CONFIGS=(); for c in "${ALL_CONFIGS[@]}"; do [ -n "${WANT[$c]:-}" ] && CONFIGS+=("$c"); done
TPS_CONFIGS=(); for c in "${TPS_ALL[@]}"; do [ -n "${WANT[$c]:-}" ] && TPS_CONFIGS+=("$c"); done

rm -rf "$OUT"; mkdir -p "$OUT"; chmod 777 "$OUT"
trap 'stop_cluster "$DIR"' EXIT

echo "==> preparing a scale-10 pgbench database"
stop_cluster "$DIR"; rm -rf "$DIR"
start_cluster "$DIR" "$PORT" "shared_preload_libraries = 'pg_optimizer,pg_stat_statements,pg_qualstats'" "jit = off"
"$PG_BIN/psql" -X -q -h "$SOCK_DIR" -p "$PORT" -U postgres -d postgres -c "CREATE DATABASE bench"
"$PG_BIN/pgbench" -h "$SOCK_DIR" -p "$PORT" -U postgres -i -s 10 -q bench >/dev/null 2>&1
"$PG_BIN/psql" -X -q -h "$SOCK_DIR" -p "$PORT" -U postgres -d bench \
    -c "CREATE EXTENSION pg_optimizer" -c "CREATE EXTENSION pg_stat_statements" \
    -c "CREATE EXTENSION pg_qualstats" -c "VACUUM ANALYZE"
stop_cluster "$DIR"

python3 - "$OUT" <<'PY'
import random, sys
out = sys.argv[1]
for n in (1000, 5000):
    rnd = random.Random(20261123)
    with open(f"{out}/pk_{n}.sql", "w") as f:
        for _ in range(n):
            f.write(f"SELECT abalance FROM pgbench_accounts WHERE aid = {rnd.randint(1, 1000000)}\n")
for n in (200, 1000):
    rnd = random.Random(20261124)
    with open(f"{out}/join_{n}.sql", "w") as f:
        for _ in range(n):
            a, t = rnd.randint(1, 999980), rnd.randint(1, 100)
            f.write("SELECT a.aid, a.abalance, t.tbalance, b.bbalance FROM pgbench_accounts a"
                    " JOIN pgbench_branches b ON b.bid = a.bid JOIN pgbench_tellers t ON t.bid = b.bid"
                    f" WHERE a.aid BETWEEN {a} AND {a + 20} AND t.tid = {t}"
                    " ORDER BY a.abalance DESC LIMIT 5\n")
PY
# Check files, one per statement file: what each configuration recorded for that file's statements.
# Every line runs in every configuration; those that cannot (view of an extension not loaded) print
# an error and single-user mode goes on. The predicate counts come first, before the check queries
# themselves could be recorded.
declare -A LIKE=([pk]='SELECT abalance FROM pgbench_accounts%'
                 [join]='SELECT a.aid, a.abalance, t.tbalance, b.bbalance FROM pgbench_accounts a JOIN%')
for f in "${FILES[@]}"; do
    cat > "$OUT/check_$f.sql" <<SQL
SELECT count(*) AS pg_optimizer_predicates FROM optimizer.predicates
SELECT count(*) AS pg_qualstats_rows, sum(occurences) AS pg_qualstats_occurrences FROM pg_qualstats() WHERE queryid IN (SELECT queryid FROM pg_stat_statements WHERE query LIKE '${LIKE[$f]}')
SELECT calls AS pg_optimizer_calls FROM optimizer.statements WHERE query LIKE '${LIKE[$f]}'
SELECT calls AS pg_stat_statements_calls FROM pg_stat_statements WHERE query LIKE '${LIKE[$f]}'
SQL
done
chmod 644 "$OUT"/*.sql

instructions() { # config file n
    local cfg=$1 file=$2 n=$3 out="$OUT/callgrind.$1.$2.$3" extra
    read -ra extra <<< "${EXTRA[$cfg]}"
    as_pg valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$PG_BIN/postgres" --single -D "$DIR" -c shared_preload_libraries="${PRELOAD[$cfg]}" \
        "${COMMON_OPTS[@]}" ${extra[@]+"${extra[@]}"} \
        bench < <(cat "$OUT/${file}_$n.sql" "$OUT/check_$file.sql") > "$out.out" 2> "$out.log"
    awk '/^(summary|totals):/ {print $2; exit}' "$out"
}

# recorded OUTFILE: the check figures as name=value (single-user output: ` 1: name = "value"`)
recorded() {
    local r
    r=$(grep -oE '(pg_optimizer|pg_stat_statements|pg_qualstats)_[a-z_]+ = "[^"]*"' "$1" | sed -E 's/ = "(.*)"$/=\1/' | tr '\n' ' ' || true)
    echo "${r% }"
}

declare -A PER ADDED
for f in "${FILES[@]}"; do
    s=${SMALL[$f]} l=${LARGE[$f]}
    echo "==> callgrind: instructions per statement, $f file ($s vs $l statements, postgres --single)"
    for cfg in "${CONFIGS[@]}"; do
        a=$(instructions "$cfg" "$f" "$s")
        b=$(instructions "$cfg" "$f" "$l")
        PER[$f.$cfg]=$(( (b - a) / (l - s) ))
        rec=$(recorded "$OUT/callgrind.$cfg.$f.$l.out")
        printf "  %-24s total(%d)=%s total(%d)=%s  per statement=%s  recorded: %s\n" \
            "$cfg" "$s" "$a" "$l" "$b" "${PER[$f.$cfg]}" "${rec:-nothing}"
    done
    for cfg in "${CONFIGS[@]}"; do
        base=${PER[$f.none]:-} this=${PER[$f.$cfg]}
        if [ -n "$base" ]; then ADDED[$f.$cfg]=$(( this - base )); fi
    done
    line="  added per statement vs none:"
    for cfg in "${CONFIGS[@]}"; do line+=" $cfg=${ADDED[$f.$cfg]:-n/a}"; done
    echo "$line"
done

if [ "${SKIP_TPS:-0}" != 1 ] && [ ${#TPS_CONFIGS[@]} -gt 0 ]; then
    echo "==> pgbench -S TPS, $ROUNDS interleaved rounds of ${SECS}s, 2 clients"
    declare -A TPS
    for r in $(seq 1 "$ROUNDS"); do
        for cfg in "${TPS_CONFIGS[@]}"; do
            as_pg "$PG_BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w \
                -o "-c shared_preload_libraries='${PRELOAD[$cfg]}' ${COMMON_OPTS[*]} ${EXTRA[$cfg]}" start >/dev/null
            t=$("$PG_BIN/pgbench" -h "$SOCK_DIR" -p "$PORT" -U postgres -S -n -c 2 -j 2 -T "$SECS" bench 2>/dev/null \
                | awk '/^tps/ {print int($3)}')
            stop_cluster "$DIR"
            TPS[$cfg]="${TPS[$cfg]:-} $t"
            printf "  round %d %-24s %s tps\n" "$r" "$cfg" "$t"
        done
    done
    for cfg in "${TPS_CONFIGS[@]}"; do
        med=$(echo ${TPS[$cfg]} | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
        printf "  median %-24s %s tps\n" "$cfg" "$med"
    done
fi

# ratio X Y: X/Y with 3 decimals, n/a when either is missing or Y is 0
ratio() {
    if [ -z "$1" ] || [ -z "$2" ] || [ "$2" = 0 ]; then echo n/a; return; fi
    python3 -c "print(f'{$1 / $2:.3f}')"
}
pk_opt=${ADDED[pk.pg_optimizer]:-} pk_pred=${ADDED[pk.pg_optimizer+predicates]:-}
pk_pgss=${ADDED[pk.pg_stat_statements]:-}
join_pred=${ADDED[join.pg_optimizer+predicates]:-} join_qs=${ADDED[join.pgss+qualstats]:-}
echo "==> summary (instructions added per statement vs none)"
echo "pk: pg_optimizer (statements only) adds ${pk_opt:-n/a}, pg_stat_statements adds ${pk_pgss:-n/a}, ratio $(ratio "$pk_opt" "$pk_pgss")"
echo "pk: pg_optimizer with predicates adds ${pk_pred:-n/a}, pg_stat_statements adds ${pk_pgss:-n/a}, ratio $(ratio "$pk_pred" "$pk_pgss") (acceptance: <= 1.5)"
echo "join: pg_optimizer with predicates adds ${join_pred:-n/a}, pg_stat_statements + pg_qualstats add ${join_qs:-n/a}"
echo "ratio: $(ratio "$join_pred" "$join_qs")"
