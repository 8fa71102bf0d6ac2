#!/usr/bin/env bash
# The index advisor on a large recorded workload: 5,000 statements of 500 shapes, at its default
# planner-call cap and with the cap lifted, in one run.
#
# One cluster (BENCH_DIR /tmp/pg_optimizer-bench-scale, port 5667, socket /tmp, fsync off,
# autovacuum off, max_parallel_workers_per_gather = 0, pg_optimizer.max_statements = 10000 so the
# store holds every statement). Database `app`, five tables (ANALYZEd, statistics reset after the
# load so no write cost comes from it):
#   customers 100,000 rows   orders 200,000   events 300,000   products 20,000   tickets 100,000
# each with an id and six int columns of different cardinalities (10 to 20,000 distinct values).
# The workload, run once in one session: per table, 100 shapes
#   SELECT * FROM <t> WHERE <a> IN (<list>) [AND <b> >= <const>] ORDER BY <c> LIMIT 10
# over 10 (a, b) column pairs x with / without the range x 5 ORDER BY columns, each shape with IN
# lists of 1 to 10 items (PostgreSQL gives each list length its own query id): 500 shapes, 5,000
# query ids.
# Then optimizer.index_advice_json() twice, each in a fresh session, timed:
#   default  the default settings (advisor_max_seconds = 30, advisor_max_planner_calls = 1,000,000)
#   lifted   advisor_max_seconds = 86400, advisor_max_planner_calls = 10,000,000
# Printed: each run's time, planner calls, whether it stopped at the cap, the statements and
# shapes it costed, the workload cost before and after its indexes, and the indexes. Last line:
# `ratio: X`, X = the default run's workload cost after / the lifted run's (1 = the cap costs
# nothing; the target is <= 1.05 with the default run under 60 s).
# Needs the extension installed (make bench-advisor-scale installs the release build). About 5
# minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
DIR=${BENCH_DIR:-/tmp/pg_optimizer-bench-scale}
PORT=${BENCH_PORT:-5667}
OUT=${BENCH_OUT:-/tmp/pg_optimizer-bench-scale-out}
LAST=${BENCH_LAST:-bench/advisor_scale.last.txt}
PSQL=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK_DIR" -p "$PORT" -U postgres)
START=$(date +%s)

main() {
stop_cluster "$DIR"
rm -rf "$DIR" "$OUT"
mkdir -p "$OUT"
start_cluster "$DIR" "$PORT" "fsync = off" "autovacuum = off" "max_parallel_workers_per_gather = 0" \
    "pg_optimizer.max_statements = 10000" "jit = off"
trap 'stop_cluster "$DIR"' EXIT
"${PSQL[@]}" -d postgres -c "CREATE DATABASE app"
"${PSQL[@]}" -d app -c "CREATE EXTENSION pg_optimizer"

echo "==> five tables"
"${PSQL[@]}" -d app <<'SQL'
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('customers', 100000), ('orders', 200000), ('events', 300000),
                                   ('products', 20000), ('tickets', 100000)) AS x(name, n) LOOP
        EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, a int NOT NULL, b int NOT NULL, c int NOT NULL,
                                         d int NOT NULL, e int NOT NULL, f int NOT NULL)', t.name);
        EXECUTE format('INSERT INTO %I SELECT g, g %% 20000, (g * 7) %% 5000, (g * 13) %% 1000, (g * 17) %% 200,
                               (g * 19) %% 50, (g * 23) %% 10 FROM generate_series(1, %s) g', t.name, t.n);
        EXECUTE format('ANALYZE %I', t.name);
    END LOOP;
END
$$;
SELECT pg_stat_reset();
SELECT optimizer.reset();
SELECT optimizer.reset_predicates();
SQL

echo "==> the workload: 500 shapes x IN lists of 1 to 10 items"
python3 - "$OUT/workload.sql" <<'PY'
import sys
tables = ["customers", "orders", "events", "products", "tickets"]
# 20 filters per table: a IN list alone on each of the 6 columns, or with a range on another
# column (14 pairs); x 5 ORDER BY columns = 100 shapes per table, all different texts.
cols = ["a", "b", "c", "d", "e", "f"]
filters = [(a, None) for a in cols] + [("a", "b"), ("a", "c"), ("b", "c"), ("b", "d"), ("c", "d"), ("c", "e"), ("d", "e"),
                                       ("d", "f"), ("e", "a"), ("e", "f"), ("f", "a"), ("f", "c"), ("a", "e"), ("b", "f")]
orders = ["id", "a", "c", "e", "f"]
assert len(filters) == 20
with open(sys.argv[1], "w") as f:
    for t in tables:
        for a, b in filters:
            for o in orders:
                for n in range(1, 11):
                    items = ", ".join(str(k * 3 + 1) for k in range(n))
                    where = f"{a} IN ({items})" + (f" AND {b} >= 3" if b else "")
                    f.write(f"SELECT * FROM {t} WHERE {where} ORDER BY {o} LIMIT 10;\n")
PY
"${PSQL[@]}" -d app -o /dev/null -f "$OUT/workload.sql"
"${PSQL[@]}" -d app -At -c "SELECT count(DISTINCT queryid) FROM optimizer.statements WHERE query LIKE 'SELECT * FROM % WHERE % IN (%' AND dbid = (SELECT oid FROM pg_database WHERE datname = 'app')" \
    | sed 's/^/    statements recorded: /'

for run in default lifted; do
    set_cap=""
    [ "$run" = lifted ] && set_cap="SET pg_optimizer.advisor_max_planner_calls = 10000000; SET pg_optimizer.advisor_max_seconds = 86400;"
    s=$(date +%s.%N)
    "${PSQL[@]}" -d app -At -c "$set_cap" -c "SELECT optimizer.index_advice_json()" > "$OUT/$run.json"
    e=$(date +%s.%N)
    python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$s" "$e" > "$OUT/$run.seconds"
done

python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
res = {}
for run in ("default", "lifted"):
    d = json.load(open(f"{out}/{run}.json"))
    wall = float(open(f"{out}/{run}.seconds").read())
    creates = [a for a in d["actions"] if a["action"] == "create"]
    res[run] = (d, wall, creates)
    print(f"==> {run}: {wall:.1f} s wall ({d['seconds']:.1f} s in the advisor), {d['planner_calls']} planner calls, "
          f"{'STOPPED at the cap' if d['capped'] else 'not capped'}; {d['recorded']} statements costed as {d['statements']} shapes, "
          f"{d['candidates']} candidates")
    print(f"    workload cost per hour: {d['workload_cost_before']} -> {d['workload_cost_after']}")
    for a in creates:
        print(f"    {a['ddl']}")
    for a in d["actions"]:
        if a["action"] == "note" and "stopped" in a["reason"]:
            print(f"    note: {a['reason']}")
dd, dw, dc = res["default"]
ld, lw, lc = res["lifted"]
ok = dd["workload_cost_after"] is not None and ld["workload_cost_after"] is not None
print(f"default run under 60 s: {'yes' if dw < 60 else 'NO'} ({dw:.1f} s)")
print(f"ratio: {dd['workload_cost_after'] / ld['workload_cost_after']:.3f}" if ok else "ratio: n/a (a run proposed no index)")
PY
echo "elapsed $(( $(date +%s) - START )) s"
}

main 2>&1 | tee "$OUT.log"
cp "$OUT.log" "$LAST"
