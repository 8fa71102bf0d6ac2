"""Predicate capture against real preloaded servers: exact counts under concurrency, sampling,
eviction, persistence across restarts (and a corrupt file), privacy of query ids and constants,
errors mid-statement, EXPLAIN ANALYZE / auto_explain coexistence, parallel workers, foreign scans,
and no effect on the statement statistics.

Queries against the views are recorded too: every assertion filters by the test's own tables."""

import os
import re
import subprocess

import pytest

from conftest import PG_BIN, Cluster

PORT = 5491          # the shared "pred" cluster
EVICT_PORT = 5492    # max_predicates = 100
CORRUPT_PORT = 5493  # its predicate file gets corrupted


def new_cluster(name, port, conf=None):
    """A new cluster (a server left running in its directory by an interrupted run is stopped first)."""
    c = Cluster(name, port, conf)
    try:
        c.stop()
    except subprocess.CalledProcessError:
        pass
    return setup_app(c.init().start())


def setup_app(c):
    c.psql("CREATE DATABASE app")
    c.psql("CREATE EXTENSION pg_optimizer", db="app")
    return c


@pytest.fixture(scope="session")
def pred_cluster():
    c = new_cluster("pred", PORT)
    yield c
    c.stop()


@pytest.fixture
def pc(pred_cluster):
    """The pred cluster with predicates and statements reset before the test."""
    pred_cluster.psql("SELECT optimizer.reset_predicates(); SELECT optimizer.reset();", db="app")
    return pred_cluster


def table(c, name, cols, rows_sql, extra=""):
    c.psql(f"DROP TABLE IF EXISTS {name} CASCADE; CREATE TABLE {name}({cols}); "
           f"INSERT INTO {name} {rows_sql}; {extra} ANALYZE {name};", db="app")


def entries(c, tbl, cols, where="true", user="postgres", order="1"):
    return c.psql(f"SELECT {cols} FROM optimizer.predicate_entries WHERE table_name = '{tbl}' AND ({where}) "
                  f"ORDER BY {order}", db="app", user=user)


def preds(c, tbl, cols, where="true", user="postgres", order="1"):
    return c.psql(f"SELECT {cols} FROM optimizer.predicates WHERE table_name = '{tbl}' AND ({where}) "
                  f"ORDER BY {order}", db="app", user=user)


def psql_session(c, sql, user="postgres"):
    """Run a script in one session without stopping at errors; return (stdout, stderr)."""
    p = subprocess.run([f"{PG_BIN}/psql", "-X", "-q", "-At", "-F", "\t", "-h", "/tmp", "-p", str(c.port),
                        "-U", user, "-d", "app"], input=sql, capture_output=True, text=True)
    return p.stdout, p.stderr


# ---------------------------------------------------------------------------------------------
# 1. Exact counts under concurrency


def test_concurrent_pgbench_counts_exactly(pc, tmp_path):
    c = pc
    table(c, "pgb", "id int PRIMARY KEY, v int", "SELECT g, g % 100 FROM generate_series(1, 10000) g")
    script = tmp_path / "pred.sql"
    script.write_text("\\set k random(1, 100)\n"
                      "SELECT * FROM pgb WHERE id = :k;\n"
                      "SELECT count(*) FROM pgb WHERE v < :k;\n")
    os.chmod(tmp_path, 0o755)
    os.chmod(script, 0o644)
    c.pgbench("app", "-n", "-f", str(script), "-c", "4", "-j", "4", "-t", "250")
    rows = preds(c, "pgb", "columns, operator, kind, place, compared_to, executions, constant_executions, "
                           "parameter_executions, array_length(queryids, 1)")
    assert rows == [
        ["{id}", "=", "index", "index cond", "value", "1000", "1000", "0", "1"],
        ["{v}", "<", "filter", "filter", "value", "1000", "1000", "0", "1"],
    ], rows
    # every execution counted its rows: the id lookup finds exactly one row each time, and the
    # filter sees all 10000 rows each time (kept + removed)
    assert preds(c, "pgb", "avg_rows, avg_rows_filtered", "kind = 'index'") == [["1", "0"]]
    assert preds(c, "pgb", "avg_rows + avg_rows_filtered", "kind = 'filter'") == [["10000"]]
    assert entries(c, "pgb", "node, counts[1], counts[2], figures[1]", "kind = 'scan'") == [
        ["Index Scan", "1000", "1000", "1000"],
        ["Seq Scan", "1000", "1000", "1000"],
    ]
    # prepared statements: every session plans 5 custom plans (constants) and then runs the
    # generic plan (a bind parameter)
    c.psql("SELECT optimizer.reset_predicates()", db="app")
    c.pgbench("app", "-n", "-M", "prepared", "-f", str(script), "-c", "4", "-j", "4", "-t", "250")
    rows = preds(c, "pgb", "columns, kind, executions, constant_executions, parameter_executions")
    assert rows == [["{id}", "index", "1000", "20", "980"], ["{v}", "filter", "1000", "20", "980"]], rows
    c.assert_healthy_log()


# ---------------------------------------------------------------------------------------------
# 2. Sampling


def test_sample_rate_zero_records_nothing_and_one_records_all(pc):
    c = pc
    table(c, "sampled_off", "id int, v int", "SELECT g, g % 4 FROM generate_series(1, 200) g")
    table(c, "sampled_on", "id int, v int", "SELECT g, g % 4 FROM generate_series(1, 200) g")
    c.psql("SET pg_optimizer.predicate_sample_rate = 0;"
           + "SELECT count(*) FROM sampled_off WHERE v = 1;" * 20
           + "SET pg_optimizer.predicate_sample_rate = 1;"
           + "SELECT count(*) FROM sampled_on WHERE v = 1;" * 20, db="app")
    assert entries(c, "sampled_off", "kind") == []
    assert preds(c, "sampled_on", "columns, operator, executions, avg_rows, avg_rows_filtered") == [
        ["{v}", "=", "20", "50", "150"]]
    # the statements themselves were all recorded, sampled for predicates or not
    assert c.psql("SELECT query, calls FROM optimizer.statements WHERE query LIKE 'SELECT count(*) FROM sampled_%' "
                  "ORDER BY 1", db="app") == [
        ["SELECT count(*) FROM sampled_off WHERE v = $1", "20"],
        ["SELECT count(*) FROM sampled_on WHERE v = $1", "20"]]
    # the rate is superuser-only
    c.psql("DROP ROLE IF EXISTS rate_user; CREATE ROLE rate_user LOGIN", db="app")
    c.psql("SET pg_optimizer.predicate_sample_rate = 0", db="app", user="rate_user", check=False)
    assert "permission denied" in c.last_stderr


# ---------------------------------------------------------------------------------------------
# 3. Eviction


def test_eviction_keeps_the_store_bounded():
    c = new_cluster("pred-evict", EVICT_PORT, {"pg_optimizer.max_predicates": 100})
    try:
        cols = ", ".join(f"c{j} int" for j in range(10))
        c.psql("".join(f"CREATE TABLE ev{i}({cols}); INSERT INTO ev{i} SELECT "
                       + ", ".join(["g"] * 10) + " FROM generate_series(1, 5) g;" for i in range(30)), db="app")
        # 300 distinct statements (30 tables x 10 columns): each a scan entry and a qual entry
        c.psql("".join(f"SELECT c{j} FROM ev{i} WHERE c{j} = 1;" for i in range(30) for j in range(10)), db="app")
        cap, n, evictions = c.psql("SELECT capacity, entries, evictions FROM optimizer.predicates_info", db="app")[0]
        assert cap == "100"
        assert int(n) <= 100
        assert int(evictions) > 0
        assert int(c.value("SELECT count(*) FROM optimizer.predicate_entries", db="app")) <= 100
        # recording goes on after evictions: a new statement gets its entries, counted exactly
        c.psql("SELECT c3 FROM ev0 WHERE c3 > 2 AND c4 < 100;" * 3, db="app")
        assert c.psql("SELECT columns, operator, executions, avg_rows FROM optimizer.predicates "
                      "WHERE table_name = 'ev0' AND operator <> '=' ORDER BY 1", db="app") == [
            ["{c3}", ">", "3", "3"], ["{c4}", "<", "3", "3"]]
        # concurrent churn over the 300 statements while entries are evicted under the sessions
        script = os.path.join(c.dir, "churn.sql")
        with open(script, "w") as f:
            f.write("\\set t random(0, 29)\n\\set k random(0, 9)\nSELECT c:k FROM ev:t WHERE c:k = 1;\n")
        os.chmod(script, 0o644)
        c.pgbench("app", "-n", "-M", "simple", "-c", "4", "-j", "4", "-t", "400", "-f", script)
        n2, evictions2 = c.psql("SELECT entries, evictions FROM optimizer.predicates_info", db="app")[0]
        assert int(n2) <= 100
        assert int(evictions2) > int(evictions)
        c.assert_healthy_log()
    finally:
        c.stop()


# ---------------------------------------------------------------------------------------------
# 4. Persistence


ENTRY_COLS = ("kind, node, place, op_kind, rhs, column_names, expression, queryid, sig, counts, figures, "
              "constants, first_seen, last_seen")


def test_clean_restart_keeps_predicates(pc):
    c = pc
    table(c, "persisted", "id int PRIMARY KEY, v int, s text",
          "SELECT g, g % 10, 'k' || g FROM generate_series(1, 1000) g")
    c.psql("SELECT * FROM persisted WHERE id = 7;" * 4
           + "SELECT count(*) FROM persisted WHERE v = 3 AND s LIKE 'k1%';" * 5
           + "SELECT * FROM persisted ORDER BY v DESC, s LIMIT 3;" * 2, db="app")
    before = entries(c, "persisted", ENTRY_COLS, order="sig")
    assert len(before) >= 7, before
    assert preds(c, "persisted", "columns, operator, executions, avg_rows") == [
        ["{id}", "=", "4", "1"], ["{s}", "~~", "5", "11"], ["{v}", "=", "5", "11"]]
    since = len(c.log())
    c.restart()
    after = entries(c, "persisted", ENTRY_COLS, order="sig")
    assert after == before
    # this restart loaded every saved entry (not just: some start of this cluster logged "loaded")
    loaded = re.findall(r"pg_optimizer: loaded (\d+) of (\d+) predicate entries from pg_stat/pg_optimizer_predicates\.stat",
                        c.log()[since:])
    assert len(loaded) == 1 and loaded[0][0] == loaded[0][1] and int(loaded[0][0]) >= len(before), loaded
    assert not os.path.exists(os.path.join(c.dir, "pg_stat", "pg_optimizer_predicates.stat"))
    # counting goes on in the restored entries
    c.psql("SELECT * FROM persisted WHERE id = 8", db="app")
    assert preds(c, "persisted", "executions", "columns = '{id}'") == [["5"]]
    assert c.psql("SELECT sort_key, position, direction, executions, under_limit FROM optimizer.sort_keys "
                  "WHERE table_name = 'persisted' ORDER BY position", db="app") == [
        ["v", "1", "DESC", "2", "t"], ["s", "2", "ASC", "2", "t"]]
    c.assert_healthy_log()


def test_corrupt_predicates_file_is_ignored():
    c = new_cluster("pred-corrupt", CORRUPT_PORT)
    try:
        table(c, "before_corruption", "v int", "SELECT generate_series(1, 10)")
        c.psql("SELECT v FROM before_corruption WHERE v > 5", db="app")
        assert entries(c, "before_corruption", "kind, counts[1]", order="1") == [["qual", "1"], ["scan", "1"]]
        c.stop()
        path = os.path.join(c.dir, "pg_stat", "pg_optimizer_predicates.stat")
        assert os.path.exists(path)
        assert os.path.getsize(path) > 64
        with open(path, "r+b") as f:
            f.seek(40)
            f.write(b"garbage!")
        c.start()
        assert "pg_optimizer: ignoring pg_stat/pg_optimizer_predicates.stat: checksum mismatch" in c.log()
        assert entries(c, "before_corruption", "kind") == []
        # the statement store has its own file, which was fine
        assert c.value("SELECT calls FROM optimizer.statements WHERE query = "
                       "'SELECT v FROM before_corruption WHERE v > $1'", db="app") == "1"
        # and recording goes on
        c.psql("SELECT v FROM before_corruption WHERE v > 5", db="app")
        assert entries(c, "before_corruption", "kind, counts[1], figures[2]") == [["qual", "1", "5"],
                                                                                  ["scan", "1", "5"]]
        c.assert_healthy_log()
    finally:
        c.stop()


# ---------------------------------------------------------------------------------------------
# 5. Privacy


def test_other_users_see_no_queryids_or_constants(pc):
    c = pc
    c.psql("DO $$ BEGIN "
           "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pred_a') THEN CREATE ROLE pred_a LOGIN; END IF; "
           "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pred_b') THEN CREATE ROLE pred_b LOGIN; END IF; "
           "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pred_stats') THEN CREATE ROLE pred_stats LOGIN; "
           "END IF; END $$; GRANT pg_read_all_stats TO pred_stats;", db="app")
    table(c, "private_t", "id int, v int", "SELECT g, g FROM generate_series(1, 100) g",
          "GRANT SELECT ON private_t TO pred_a, pred_b, pred_stats;")
    # different target lists: different query ids
    c.psql("SELECT id FROM private_t WHERE v = 42;", db="app", user="pred_a")
    c.psql("SELECT v FROM private_t WHERE v = 77;", db="app", user="pred_b")
    qa = c.value("SELECT queryid FROM optimizer.statements WHERE query = 'SELECT id FROM private_t WHERE v = $1'",
                 db="app")
    qb = c.value("SELECT queryid FROM optimizer.statements WHERE query = 'SELECT v FROM private_t WHERE v = $1'",
                 db="app")
    assert qa != qb
    cols = "userid::regrole::text, kind, coalesce(queryid::text, 'NULL'), coalesce(constants::text, 'NULL')"
    # B: A's entries are listed, without query id and constants; B's own are complete
    assert entries(c, "private_t", cols, user="pred_b", order="1, 2") == [
        ["pred_a", "qual", "NULL", "NULL"], ["pred_a", "scan", "NULL", "NULL"],
        ["pred_b", "qual", qb, "{77}"], ["pred_b", "scan", qb, "NULL"]]
    assert preds(c, "private_t", "executions, constants, queryids", user="pred_b") == [["2", "{77}", f"{{{qb}}}"]]
    # A sees the mirror image
    assert entries(c, "private_t", cols, where="kind = 'qual'", user="pred_a") == [
        ["pred_a", "qual", qa, "{42}"], ["pred_b", "qual", "NULL", "NULL"]]
    # pg_read_all_stats and superusers see everything
    full = [["pred_a", "qual", qa, "{42}"], ["pred_b", "qual", qb, "{77}"]]
    assert entries(c, "private_t", cols, where="kind = 'qual'", user="pred_stats") == full
    assert entries(c, "private_t", cols, where="kind = 'qual'") == full
    assert preds(c, "private_t", "executions, constants, array_length(queryids, 1)", user="pred_stats") == [
        ["2", "{42,77}", "2"]]
    # resetting is not for them
    c.psql("SELECT optimizer.reset_predicates()", db="app", user="pred_b", check=False)
    assert "permission denied" in c.last_stderr


# ---------------------------------------------------------------------------------------------
# 6. Errors


def test_error_mid_statement_records_nothing_for_it(pc):
    c = pc
    table(c, "err_t", "id int, d int", "SELECT g, CASE WHEN g = 500 THEN 0 ELSE 1 END FROM generate_series(1, 1000) g")
    table(c, "after_err", "id int", "SELECT generate_series(1, 1000)")
    since = len(c.log())
    # 20 failing statements (more than the 16 pending executions remembered), each one failing
    # after scanning 499 rows; then statements that complete
    out, err = psql_session(c, "SELECT count(*) FROM err_t WHERE 10 / d > 0;\n" * 20
                            + "SELECT count(*) FROM after_err WHERE id > 100;\n" * 3)
    assert err.count("division by zero") == 20, err
    assert out.split() == ["900"] * 3
    assert entries(c, "err_t", "kind") == []
    assert entries(c, "after_err", "kind, node, counts[1], counts[2], figures[2], figures[3]") == [
        ["qual", "Seq Scan", "3", "3", "2700", "300"], ["scan", "Seq Scan", "3", "3", "2700", "300"]]
    # the same in one transaction with savepoints
    out, err = psql_session(c, "BEGIN;\n" + "SAVEPOINT s; SELECT count(*) FROM err_t WHERE 10 / d > 0;\n"
                            "ROLLBACK TO SAVEPOINT s;\n" * 3 + "SELECT count(*) FROM after_err WHERE id > 100;\nCOMMIT;\n")
    assert err.count("division by zero") == 3, err
    assert out.split() == ["900"]
    assert entries(c, "err_t", "kind") == []
    assert preds(c, "after_err", "executions, avg_rows, avg_rows_filtered") == [["4", "900", "100"]]
    c.assert_healthy_log(since)


def test_unsampled_statements_after_errors_record_nothing(pc):
    # A failed execution never reaches ExecutorEnd; a later QueryDesc at its address must not be
    # taken for one chosen for predicate capture.
    c = pc
    table(c, "err_t", "id int, d int", "SELECT g, CASE WHEN g = 500 THEN 0 ELSE 1 END FROM generate_series(1, 1000) g")
    table(c, "after_err_off", "id int", "SELECT generate_series(1, 1000)")
    out, err = psql_session(c, "SELECT count(*) FROM err_t WHERE 10 / d > 0;\n"
                            "SET pg_optimizer.predicate_sample_rate = 0;\n"
                            + "SELECT count(*) FROM after_err_off WHERE id > 100;\n" * 5)
    assert err.count("division by zero") == 1, err
    assert out.split() == ["900"] * 5
    assert entries(c, "err_t", "kind") == []
    # predicate_sample_rate = 0: nothing may be recorded for these five statements
    assert entries(c, "after_err_off", "kind, node, counts") == []


# ---------------------------------------------------------------------------------------------
# 7. EXPLAIN ANALYZE and auto_explain


TIMING = [(re.compile(r"actual time=[0-9.]+\.\.[0-9.]+ "), "actual time=T "),
          (re.compile(r"(Planning|Execution) Time: [0-9.]+ ms"), r"\1 Time: T ms")]


def strip_timing(lines):
    out = []
    for line in lines:
        for rx, rep in TIMING:
            line = rx.sub(rep, line)
        out.append(line)
    return out


EXPLAINED = [
    # seq scan filter, hash join, sort under limit
    "SELECT a.id, b.w FROM ea a JOIN eb b ON b.a_id = a.id WHERE a.v < 30 AND b.w % 3 = 0 ORDER BY b.w DESC LIMIT 20",
    # index scan with a filter, nested loop with a parameterised inner index scan
    "SELECT * FROM ea a JOIN eb b ON b.id = a.id WHERE a.id < 50 AND a.v <> 7",
    # bitmap scan and a node that never runs
    "SELECT count(*) FROM eb WHERE id IN (1, 5, 9, 700) AND w > 0",
    "SELECT * FROM ea a JOIN eb b ON b.id = a.id WHERE a.id < 0",
]


def test_explain_analyze_output_is_unchanged(pc):
    c = pc
    table(c, "ea", "id int PRIMARY KEY, v int", "SELECT g, g % 100 FROM generate_series(1, 2000) g")
    table(c, "eb", "id int PRIMARY KEY, a_id int, w int",
          "SELECT g, g % 2000 + 1, g % 17 FROM generate_series(1, 5000) g", "CREATE INDEX ON eb(a_id);")
    outputs = {}
    for rate in ("1", "0", "1"):  # the first pass warms the buffer cache
        sql = (f"SET pg_optimizer.predicate_sample_rate = {rate}; SET jit = off;"
               + "".join(f"EXPLAIN (ANALYZE, BUFFERS) {q};" for q in EXPLAINED))
        outputs[rate] = strip_timing(r[0] for r in c.psql(sql, db="app"))
    assert any("Hash Join" in l for l in outputs["1"]) and any("never executed" in l for l in outputs["1"])
    assert any("Rows Removed by Filter" in l for l in outputs["1"]), outputs["1"]
    assert outputs["0"] == outputs["1"]


def test_auto_explain_together_with_predicate_capture(pc):
    c = pc
    table(c, "ae_t", "id int PRIMARY KEY, v int", "SELECT g, g % 10 FROM generate_series(1, 1000) g")
    since = len(c.log())
    out = c.psql("LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on;"
                 + "SELECT count(*) FROM ae_t WHERE v = 3;" * 4
                 + "SELECT v FROM ae_t WHERE id = 17;" * 2
                 + "SELECT v FROM ae_t WHERE id > 990 ORDER BY v DESC;", db="app")
    assert [r[0] for r in out] == ["100"] * 4 + ["7"] * 2 + ["9", "8", "7", "6", "5", "4", "3", "2", "1", "0"]
    log = c.log()[since:]
    assert log.count("Seq Scan on ae_t") >= 4 and "actual time=" in log, log[-2000:]
    assert preds(c, "ae_t", "columns, operator, kind, executions, avg_rows, avg_rows_filtered",
                 order="1, operator COLLATE \"C\"") == [
        ["{id}", "=", "index", "2", "1", "0"],
        ["{id}", ">", "index", "1", "10", "0"],
        ["{v}", "=", "filter", "4", "100", "900"]]
    c.assert_healthy_log(since)


# ---------------------------------------------------------------------------------------------
# 8. Parallel workers


PARALLEL = ("SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;"
            "SET max_parallel_workers_per_gather = 2; SET jit = off;")


def test_parallel_seq_scan_counts_worker_rows_once_per_execution(pc):
    c = pc
    table(c, "par_t", "v int", "SELECT generate_series(1, 100000)")
    plan = c.psql(PARALLEL + "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT count(*) FROM par_t WHERE v % 7 = 0",
                  db="app")
    assert any("Workers Launched: 2" in r[0] for r in plan), plan
    assert any("Parallel Seq Scan on par_t" in r[0] for r in plan), plan
    c.psql("SELECT optimizer.reset_predicates()", db="app")
    out = c.psql(PARALLEL + "SELECT count(*) FROM par_t WHERE v % 7 = 0;" * 3, db="app")
    assert out == [["14285"]] * 3
    # 100000 // 7 = 14285 rows kept, 85715 removed, in leader and workers together
    assert preds(c, "par_t", "expression, operator, executions, avg_rows, avg_rows_filtered") == [
        ["(v % 7)", "=", "3", "14285", "85715"]]
    assert entries(c, "par_t", "node, counts[1], counts[2], figures[2], figures[3]", "kind = 'scan'") == [
        ["Seq Scan", "3", "3", "42855", "257145"]]
    c.assert_healthy_log()


# ---------------------------------------------------------------------------------------------
# 9. Foreign scans


@pytest.mark.skipif(not os.path.exists(f"/usr/share/postgresql/{os.environ.get('PG_MAJOR', '15')}"
                                       "/extension/postgres_fdw.control"), reason="postgres_fdw not installed")
def test_foreign_scan_through_postgres_fdw(pc):
    c = pc
    table(c, "fdw_a", "id int, v int", "SELECT g, g % 10 FROM generate_series(1, 100) g")
    table(c, "fdw_b", "id int, w int", "SELECT g, g % 4 FROM generate_series(1, 100) g")
    c.psql(f"""
        CREATE EXTENSION IF NOT EXISTS postgres_fdw;
        DROP SERVER IF EXISTS loopback CASCADE;
        CREATE SERVER loopback FOREIGN DATA WRAPPER postgres_fdw
            OPTIONS (host '/tmp', port '{c.port}', dbname 'app', use_remote_estimate 'true');
        CREATE USER MAPPING FOR postgres SERVER loopback OPTIONS (user 'postgres');
        CREATE FOREIGN TABLE ft_a (id int, v int) SERVER loopback OPTIONS (table_name 'fdw_a');
        CREATE FOREIGN TABLE ft_b (id int, w int) SERVER loopback OPTIONS (table_name 'fdw_b');
        CREATE OR REPLACE FUNCTION local_only(int) RETURNS bool LANGUAGE plpgsql AS
            $$ BEGIN RETURN $1 % 2 = 0; END $$;
    """, db="app")
    c.psql("SELECT optimizer.reset_predicates()", db="app")
    since = len(c.log())
    # v = 3 runs remotely; local_only() cannot be shipped and filters locally
    out = c.psql("SELECT count(*) FROM (SELECT id FROM ft_a WHERE v = 4 AND local_only(id / 10) OFFSET 0) s;" * 2,
                 db="app")
    assert out == [["5"], ["5"]]
    assert entries(c, "ft_a", "node, counts[1], figures[2], figures[3]", "kind = 'scan'") == [
        ["Foreign Scan", "2", "10", "10"]]
    # the local filter, and the pushed-down condition postgres_fdw keeps for rechecks
    assert entries(c, "ft_a", "node, place, op_kind, column_names, expression, counts[1], figures[2]",
                   "kind = 'qual'", order="2") == [
        ["Foreign Scan", "filter", "other", "{id}", "local_only((id / 10))", "2", "10"],
        ["Foreign Scan", "remote", "op", "{v}", "", "2", "10"]]
    assert preds(c, "ft_a", "operator, kind, place, compared_to, executions", order="2") == [
        ["OTHER", "filter", "filter", "", "2"], ["=", "remote", "remote", "value", "2"]]
    # a join of two foreign tables pushed down to the remote server
    plan = c.psql("EXPLAIN (VERBOSE, COSTS OFF) SELECT a.v, b.w FROM ft_a a JOIN ft_b b ON a.id = b.id "
                  "WHERE b.w = 1", db="app")
    assert any("Relations: (public.ft_a a) INNER JOIN (public.ft_b b)" in r[0] for r in plan), plan
    out = c.psql("SELECT count(*), sum(a.v) FROM (SELECT a.v FROM ft_a a JOIN ft_b b ON a.id = b.id "
                 "WHERE b.w = 1 OFFSET 0) a;", db="app")
    assert out == [["25", str(sum(i % 10 for i in range(1, 101) if i % 4 == 1))]]
    # the pushed-down join is one Foreign Scan node: its scan entry counts the 25 joined rows
    qid = c.value("SELECT queryid FROM optimizer.statements WHERE query LIKE 'SELECT count(*), sum(a.v) FROM "
                  "(SELECT a.v FROM ft_a a JOIN ft_b b%'", db="app")
    assert c.psql(f"SELECT node, counts[1], figures[2] FROM optimizer.predicate_entries WHERE queryid = {qid} "
                  "AND kind = 'scan'", db="app") == [["Foreign Scan", "1", "25"]]
    c.assert_healthy_log(since)


# ---------------------------------------------------------------------------------------------
# 10. Statement statistics are unaffected


def test_statement_counts_unaffected_by_predicate_capture(pc):
    c = pc
    table(c, "stmt_t", "id int PRIMARY KEY, v int", "SELECT g, g % 10 FROM generate_series(1, 1000) g")
    c.psql("SELECT count(*) FROM stmt_t;", db="app")  # hint bits, caches
    cols = "calls, plans, rows, shared_blks_hit + shared_blks_read"
    q = ("SELECT count(*) FROM stmt_t WHERE v = 3;" * 7 + "SELECT v FROM stmt_t WHERE id < 20 ORDER BY v;" * 3)
    got = {}
    for rate in ("0", "1"):
        c.psql("SELECT optimizer.reset(); SELECT optimizer.reset_predicates();", db="app")
        c.psql(f"SET pg_optimizer.predicate_sample_rate = {rate};" + q, db="app")
        got[rate] = c.psql(f"SELECT query, {cols} FROM optimizer.statements WHERE query LIKE '%FROM stmt_t WHERE%' "
                           "ORDER BY 1", db="app")
        n = len(entries(c, "stmt_t", "kind"))
        assert (n == 0) if rate == "0" else (n > 0)
    assert [r[:4] for r in got["1"]] == [["SELECT count(*) FROM stmt_t WHERE v = $1", "7", "0", "7"],
                                         ["SELECT v FROM stmt_t WHERE id < $1 ORDER BY v", "3", "0", "57"]]
    assert got["0"] == got["1"]
