#!/usr/bin/env bash
# Hot-path cost of statement recording, side by side with pg_stat_statements, in one run.
#
# Primary figure: instructions per statement, counted by callgrind (repeatable, unlike wall clock
# on these machines). `postgres --single` runs files of 1,000 and 5,000 primary-key lookups on
# pgbench_accounts (scale 10, random keys, fixed seed); (total(5000) - total(1000)) / 4000 is the
# cost of one statement, start-up cancelled out. Configurations: nothing preloaded,
# pg_stat_statements, pg_optimizer.
# Secondary: pgbench -S TPS, configurations interleaved over ROUNDS rounds, medians (noisy: +-2x).
# Last line: ratio = instructions pg_optimizer adds / instructions pg_stat_statements adds.
#
# Needs the release build installed (make bench does it). Env: ROUNDS (5), SECONDS_PER_RUN (10),
# SKIP_TPS=1 to skip the secondary figure.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
DIR=/tmp/pg_optimizer-bench
PORT=${BENCH_PORT:-5488}
OUT=${BENCH_OUT:-/tmp/pg_optimizer-bench-out}
ROUNDS=${ROUNDS:-5}
SECS=${SECONDS_PER_RUN:-10}
rm -rf "$OUT"; mkdir -p "$OUT"; chmod 777 "$OUT"
trap 'stop_cluster "$DIR"' EXIT

declare -A PRELOAD=([none]="" [pg_stat_statements]="pg_stat_statements" [pg_optimizer]="pg_optimizer")
# Same settings for both extensions: top-level statements, no planning time, no saving.
COMMON_OPTS=(-c jit=off -c pg_stat_statements.save=off -c pg_optimizer.save=off)
CONFIGS=(none pg_stat_statements pg_optimizer)

echo "==> preparing a scale-10 pgbench database"
stop_cluster "$DIR"; rm -rf "$DIR"
start_cluster "$DIR" "$PORT" "shared_preload_libraries = 'pg_optimizer,pg_stat_statements'" "jit = off"
"$PG_BIN/psql" -X -q -h "$SOCK_DIR" -p "$PORT" -U postgres -d postgres -c "CREATE DATABASE bench"
"$PG_BIN/pgbench" -h "$SOCK_DIR" -p "$PORT" -U postgres -i -s 10 -q bench >/dev/null 2>&1
"$PG_BIN/psql" -X -q -h "$SOCK_DIR" -p "$PORT" -U postgres -d bench \
    -c "CREATE EXTENSION pg_optimizer" -c "CREATE EXTENSION pg_stat_statements" -c "VACUUM ANALYZE"
stop_cluster "$DIR"

python3 - "$OUT" <<'PY'
import random, sys
out = sys.argv[1]
for n in (1000, 5000):
    rnd = random.Random(20261123)
    with open(f"{out}/pk_{n}.sql", "w") as f:
        for _ in range(n):
            f.write(f"SELECT abalance FROM pgbench_accounts WHERE aid = {rnd.randint(1, 1000000)}\n")
PY
# Appended to every run: shows that the statements were really recorded (its cost is the same in
# the 1,000 and 5,000 runs, so it cancels out).
cat > "$OUT/check.sql" <<'SQL'
SELECT calls AS pg_optimizer_calls FROM optimizer.statements WHERE query LIKE 'SELECT abalance FROM pgbench_accounts%'
SELECT calls AS pg_stat_statements_calls FROM pg_stat_statements WHERE query LIKE 'SELECT abalance FROM pgbench_accounts%'
SQL
chmod 644 "$OUT"/*.sql

instructions() { # config n
    local cfg=$1 n=$2 f="$OUT/callgrind.$1.$2"
    as_pg valgrind --tool=callgrind --callgrind-out-file="$f" \
        "$PG_BIN/postgres" --single -D "$DIR" -c shared_preload_libraries="${PRELOAD[$cfg]}" "${COMMON_OPTS[@]}" \
        bench < <(cat "$OUT/pk_$n.sql" "$OUT/check.sql") > "$f.out" 2> "$f.log"
    awk '/^(summary|totals):/ {print $2; exit}' "$f"
}

echo "==> callgrind: instructions per primary-key lookup (postgres --single)"
declare -A PER
for cfg in "${CONFIGS[@]}"; do
    a=$(instructions "$cfg" 1000)
    b=$(instructions "$cfg" 5000)
    PER[$cfg]=$(( (b - a) / 4000 ))
    recorded=$(grep -o '_calls = "[0-9]*"' "$OUT/callgrind.$cfg.5000.out" | tr -dc '0-9' || true)
    printf "  %-20s total(1000)=%s total(5000)=%s  per statement=%s  recorded calls=%s\n" \
        "$cfg" "$a" "$b" "${PER[$cfg]}" "${recorded:-none}"
done
add_pgss=$(( PER[pg_stat_statements] - PER[none] ))
add_opt=$(( PER[pg_optimizer] - PER[none] ))
echo "  added per statement: pg_stat_statements=$add_pgss pg_optimizer=$add_opt"

if [ "${SKIP_TPS:-0}" != 1 ]; then
    echo "==> pgbench -S TPS, $ROUNDS interleaved rounds of ${SECS}s, 2 clients"
    declare -A TPS
    for r in $(seq 1 "$ROUNDS"); do
        for cfg in "${CONFIGS[@]}"; do
            as_pg "$PG_BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -o "-c shared_preload_libraries='${PRELOAD[$cfg]}' ${COMMON_OPTS[*]}" start >/dev/null
            t=$("$PG_BIN/pgbench" -h "$SOCK_DIR" -p "$PORT" -U postgres -S -n -c 2 -j 2 -T "$SECS" bench 2>/dev/null \
                | awk '/^tps/ {print int($3)}')
            stop_cluster "$DIR"
            TPS[$cfg]="${TPS[$cfg]:-} $t"
            printf "  round %d %-20s %s tps\n" "$r" "$cfg" "$t"
        done
    done
    for cfg in "${CONFIGS[@]}"; do
        med=$(echo ${TPS[$cfg]} | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
        printf "  median %-20s %s tps\n" "$cfg" "$med"
    done
fi

python3 -c "print(f'ratio: {$add_opt / $add_pgss:.3f}')"
