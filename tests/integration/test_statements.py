"""Statement statistics against real preloaded servers: counts, nesting, errors, sampling,
eviction, restarts, concurrency, hook chaining with pg_stat_statements, and the not-preloaded case."""

import os
import re
import subprocess
import time

import pytest

from conftest import Cluster


def markers(c, *names, db="app"):
    """Tables to tell statements apart: column aliases and comments are not part of a query id."""
    c.psql("".join(f"DROP TABLE IF EXISTS {n}; CREATE TABLE {n}(v int);" for n in names), db=db)


def stmt(c, where, cols="calls", db="app"):
    return c.psql(f"SELECT {cols} FROM optimizer.statements WHERE {where}", db=db)


def test_counts_match_executed_statements(fresh):
    c = fresh
    c.psql("DROP TABLE IF EXISTS items; CREATE TABLE items(id int primary key, name text)", db="app")
    sql = ["INSERT INTO items VALUES (%d, 'n%d');" % (i, i) for i in range(40)]
    sql += ["SELECT name FROM items WHERE id = %d;" % (i % 7) for i in range(30)]
    sql += ["UPDATE items SET name = 'x' WHERE id < %d;" % (5 + i) for i in range(3)]
    c.psql("\n".join(sql), db="app")
    assert stmt(c, "query = 'INSERT INTO items VALUES ($1, $2)'", "calls, rows") == [["40", "40"]]
    assert stmt(c, "query = 'SELECT name FROM items WHERE id = $1'", "calls, rows") == [["30", "30"]]
    # 5 + 6 + 7 rows updated
    assert stmt(c, "query = 'UPDATE items SET name = $1 WHERE id < $2'", "calls, rows") == [["3", "18"]]
    # times, blocks and WAL are filled in
    row = stmt(c, "query = 'INSERT INTO items VALUES ($1, $2)'",
               "total_exec_time > 0, min_exec_time <= max_exec_time, wal_records > 0, wal_bytes > 0, "
               "shared_blks_hit + shared_blks_read > 0, first_seen <= last_seen, "
               "(SELECT sum(x) FROM unnest(latency_histogram) x) = calls")
    assert row == [["t"] * 7]
    c.assert_healthy_log()


def test_concurrent_sessions_count_exactly(fresh, tmp_path):
    c = fresh
    c.psql("DROP TABLE IF EXISTS counters; CREATE TABLE counters(id int primary key, n int);"
           "INSERT INTO counters SELECT g, 0 FROM generate_series(1, 10) g", db="app")
    script = tmp_path / "bench.sql"
    script.write_text("\\set id random(1, 10)\n"
                      "UPDATE counters SET n = n + 1 WHERE id = :id;\n"
                      "SELECT n FROM counters WHERE id = :id;\n")
    os.chmod(tmp_path, 0o755)
    os.chmod(script, 0o644)
    c.pgbench("app", "-n", "-c", "4", "-j", "2", "-t", "250", "-f", str(script))
    assert stmt(c, "query = 'UPDATE counters SET n = n + $1 WHERE id = $2'") == [["1000"]]
    assert stmt(c, "query = 'SELECT n FROM counters WHERE id = $1'") == [["1000"]]
    assert c.value("SELECT sum(n) FROM counters", db="app") == "1000"
    c.assert_healthy_log()


NESTED_FN = """
CREATE OR REPLACE FUNCTION nested_work(k int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE r int;
BEGIN
  SELECT count(*) INTO r FROM generate_series(1, k) AS nested_marker;
  RETURN r;
END $$;
"""


def test_nested_statements_with_track_all(fresh):
    c = fresh
    c.psql(NESTED_FN, db="app")
    c.psql("SET pg_optimizer.track = 'all';" + "SELECT nested_work(3);" * 4, db="app")
    top = stmt(c, "query = 'SELECT nested_work($1)'", "calls, toplevel")
    nested = stmt(c, "query LIKE '%nested_marker%' AND NOT toplevel", "calls")
    assert top == [["4", "t"]]
    assert nested == [["4"]]
    # with track = top the nested statement is not recorded
    c.psql("SELECT optimizer.reset()", db="app")
    c.psql("SET pg_optimizer.track = 'top';" + "SELECT nested_work(3);" * 4, db="app")
    assert stmt(c, "query LIKE '%nested_marker%'") == []
    assert stmt(c, "query = 'SELECT nested_work($1)'") == [["4"]]
    c.assert_healthy_log()


def test_errors_leave_nesting_correct(fresh):
    c = fresh
    c.psql("""CREATE OR REPLACE FUNCTION boom() RETURNS int LANGUAGE plpgsql AS $$
              BEGIN PERFORM count(*) FROM pg_class; RAISE EXCEPTION 'boom'; END $$;""", db="app")
    markers(c, "after_exec_error", "after_plan_error", "after_utility_error", "after_do_error")
    # one session: errors in execution (nested), in planning (constant folding), in a utility
    # statement and in a nested function; every statement after them must still be top level
    sql = """
    SET pg_optimizer.track = 'top';
    SELECT boom();
    SELECT v FROM after_exec_error;
    SELECT 1/0;
    SELECT v FROM after_plan_error;
    CREATE TABLE pg_class_dup (LIKE no_such_table);
    SELECT v FROM after_utility_error;
    DO $$ BEGIN PERFORM boom(); END $$;
    SELECT v FROM after_do_error;
    """
    p = subprocess.run([f"/usr/lib/postgresql/15/bin/psql", "-X", "-q", "-At", "-h", "/tmp", "-p", str(c.port),
                        "-U", "postgres", "-d", "app"], input=sql, capture_output=True, text=True)
    assert "boom" in p.stderr and "division by zero" in p.stderr
    for marker in ("after_exec_error", "after_plan_error", "after_utility_error", "after_do_error"):
        assert stmt(c, f"query = 'SELECT v FROM {marker}'", "calls, toplevel") == [["1", "t"]], marker
    c.assert_healthy_log()


def test_planning_and_utility_tracking(fresh):
    c = fresh
    c.psql("SELECT relname FROM pg_class WHERE relname = 'pg_proc' /* plan_me */;" * 3, db="app")
    assert stmt(c, "query LIKE '%plan_me%'", "plans, calls, total_plan_time > 0") == [["3", "3", "t"]]
    c.psql("CREATE TABLE util_on(a int); SET pg_optimizer.track_utility = off; CREATE TABLE util_off(a int);",
           db="app")
    assert stmt(c, "query = 'CREATE TABLE util_on(a int)'") == [["1"]]
    assert stmt(c, "query LIKE '%util_off%'") == []
    c.psql("DROP TABLE util_on, util_off", db="app")


def test_example_is_the_slowest_execution(fresh):
    c = fresh
    c.psql("SELECT pg_sleep(0.01); SELECT pg_sleep(0.25); SELECT pg_sleep(0.05);", db="app")
    row = stmt(c, "query = 'SELECT pg_sleep($1)'", "calls, example, example_exec_time >= 250, max_exec_time >= 250")
    assert row == [["3", "SELECT pg_sleep(0.25)", "t", "t"]]


def test_sampling(fresh):
    c = fresh
    markers(c, "never_sampled", "half_sampled")
    c.psql("SET pg_optimizer.sample_rate = 0;" + "SELECT v FROM never_sampled;" * 50, db="app")
    assert stmt(c, "query = 'SELECT v FROM never_sampled'", "coalesce(sum(calls), 0)") == [["0"]]
    c.psql("SET pg_optimizer.sample_rate = 0.5;" + "SELECT v FROM half_sampled;" * 2000, db="app")
    n = int(stmt(c, "query = 'SELECT v FROM half_sampled'")[0][0])
    # binomial(2000, 0.5): mean 1000, sd 22; outside 850..1150 has probability < 1e-10
    assert 850 <= n <= 1150, n


def test_database_without_extension_is_not_recorded(fresh):
    c = fresh
    c.psql("DROP DATABASE IF EXISTS other; CREATE DATABASE other")
    markers(c, "in_other_db", db="other")
    c.psql("SELECT v FROM in_other_db;" * 3, db="other")
    assert c.value("SELECT count(*) FROM optimizer.statements WHERE query = 'SELECT v FROM in_other_db'", db="app") == "0"
    # installing the extension there starts recording in the same session
    c.psql("CREATE EXTENSION pg_optimizer; SELECT v FROM in_other_db;", db="other")
    assert c.value("SELECT sum(calls) FROM optimizer.statements WHERE query = 'SELECT v FROM in_other_db'", db="app") == "1"


def test_other_users_see_no_texts(fresh):
    c = fresh
    c.psql("DROP ROLE IF EXISTS plain_user; CREATE ROLE plain_user LOGIN;"
           "GRANT CONNECT ON DATABASE app TO plain_user", db="app")
    markers(c, "private_marker")
    c.psql("SELECT v FROM private_marker WHERE v = 424242", db="app")
    rows = c.psql("SELECT query, queryid IS NULL, example FROM optimizer.statements WHERE userid <> "
                  "'plain_user'::regrole", db="app", user="plain_user")
    assert rows and all(r == ["<insufficient privilege>", "t", "<insufficient privilege>"] for r in rows)
    assert not c.psql("SELECT 1 FROM optimizer.statements WHERE query LIKE '%FROM private_marker%' "
                      "OR example LIKE '%424242%'", db="app", user="plain_user")
    own = c.psql("SELECT 7 AS mine; SELECT query FROM optimizer.statements WHERE query LIKE '%mine%'",
                 db="app", user="plain_user")
    assert ["SELECT $1 AS mine"] in own
    c.psql("SELECT optimizer.reset()", db="app", user="plain_user", check=False)
    assert "permission denied" in c.last_stderr


def test_clean_restart_keeps_statistics(fresh):
    c = fresh
    markers(c, "survives_restart")
    c.psql("SELECT v FROM survives_restart WHERE v > 5;" * 6, db="app")
    before = stmt(c, "query LIKE 'SELECT v FROM survives_restart%'", "queryid, calls, example, total_exec_time")
    assert before and before[0][1] == "6"
    since = len(c.log())
    c.restart()
    after = stmt(c, "query LIKE 'SELECT v FROM survives_restart%'", "queryid, calls, example, total_exec_time")
    assert after == before
    # this restart loaded every saved entry (not just: some start of this cluster logged "loaded")
    loaded = re.findall(r"pg_optimizer: loaded (\d+) of (\d+) statement entries", c.log()[since:])
    assert len(loaded) == 1 and loaded[0][0] == loaded[0][1] and int(loaded[0][0]) > 0, loaded
    # counting goes on in the restored entry
    c.psql("SELECT v FROM survives_restart WHERE v > 6", db="app")
    assert stmt(c, "query LIKE 'SELECT v FROM survives_restart%'")[0][0] == "7"
    c.assert_healthy_log()


@pytest.fixture
def crash_cluster():
    """A cluster of its own: this test crashes a backend on purpose."""
    c = Cluster("crash", 5486).init().start()
    c.psql("CREATE DATABASE app")
    c.psql("CREATE EXTENSION pg_optimizer", db="app")
    yield c
    c.stop()


def test_corrupt_file_is_ignored_and_crash_does_not_reload(crash_cluster):
    c = crash_cluster
    markers(c, "before_corruption", "before_crash")
    c.psql("SELECT v FROM before_corruption", db="app")
    assert stmt(c, "query = 'SELECT v FROM before_corruption'") == [["1"]]
    c.stop()
    path = os.path.join(c.dir, "pg_stat", "pg_optimizer.stat")
    assert os.path.exists(path)
    with open(path, "r+b") as f:
        f.seek(40)
        f.write(b"garbage!")
    c.start()
    assert "ignoring pg_stat/pg_optimizer.stat: checksum mismatch" in c.log()
    assert c.value("SELECT entries FROM optimizer.statements_info", db="app") == "0"
    assert stmt(c, "query = 'SELECT v FROM before_corruption'") == []
    # a crashed backend: the postmaster reinitialises shared memory, writes nothing and loads
    # nothing stale; the server comes back and recording goes on
    c.psql("SELECT v FROM before_crash", db="app")
    assert stmt(c, "query = 'SELECT v FROM before_crash'") == [["1"]]
    victim = subprocess.Popen([f"/usr/lib/postgresql/15/bin/psql", "-X", "-h", "/tmp", "-p", str(c.port), "-U",
                               "postgres", "-d", "app", "-c", "SELECT pg_sleep(60) /* crash_victim */"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        pid = None
        for _ in range(100):
            rows = c.psql("SELECT pid FROM pg_stat_activity WHERE query LIKE '%crash_victim%' "
                          "AND pid <> pg_backend_pid()")
            if rows:
                pid = int(rows[0][0])
                break
            time.sleep(0.1)
        assert pid
        os.kill(pid, 9)
        victim.wait(timeout=30)
    finally:
        victim.kill()
    for _ in range(300):
        if subprocess.run([f"/usr/lib/postgresql/15/bin/pg_isready", "-h", "/tmp", "-p", str(c.port)],
                          capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    log = c.log()
    assert "terminated by signal 9" in log
    after_crash = log[log.rindex("terminated by signal 9"):]
    assert "loaded" not in after_crash
    assert stmt(c, "query = 'SELECT v FROM before_crash'") == []
    c.psql("SELECT v FROM before_crash", db="app")
    assert stmt(c, "query = 'SELECT v FROM before_crash'") == [["1"]]
    assert not os.path.exists(path)


def test_eviction_keeps_the_store_bounded():
    c = Cluster("evict", 5482, {"pg_optimizer.max_statements": 100}).init().start()
    try:
        c.psql("CREATE DATABASE app")
        c.psql("CREATE EXTENSION pg_optimizer", db="app")
        cols = ", ".join(f"c{j} int" for j in range(20))
        c.psql("".join(f"CREATE TABLE t{i}({cols});" for i in range(50)), db="app")
        # 1000 distinct statements (50 tables x 20 columns), the first 10 run often
        hot = "".join(f"SELECT c0 FROM t{i};" * 30 for i in range(10))
        distinct = "".join(f"SELECT c{j} FROM t{i};" for i in range(50) for j in range(20))
        c.psql(hot + distinct, db="app")
        cap, entries, evictions = c.psql("SELECT capacity, entries, evictions FROM optimizer.statements_info",
                                         db="app")[0]
        assert cap == "100"
        assert int(entries) <= 100
        assert int(evictions) > 0
        assert int(c.value("SELECT count(*) FROM optimizer.statements", db="app")) <= 100
        # the frequently run statements survived
        assert int(c.value("SELECT count(*) FROM optimizer.statements WHERE query LIKE 'SELECT c0 FROM t_' "
                           "AND calls >= 30", db="app")) >= 5
        # concurrent: 4 clients pick among the 1000 statements at random (pgbench substitutes the
        # table and column in simple mode) while entries are evicted and reset under them
        script = "/tmp/pg_optimizer-it-evict/churn.sql"
        with open(script, "w") as f:
            f.write("\\set t random(0, 49)\n\\set k random(0, 19)\nSELECT c:k FROM t:t;\n")
        reset = "/tmp/pg_optimizer-it-evict/reset.sql"
        with open(reset, "w") as f:
            f.write("SELECT optimizer.reset();\n")
        os.chmod(script, 0o644)
        os.chmod(reset, 0o644)
        c.pgbench("app", "-n", "-M", "simple", "-c", "4", "-j", "2", "-t", "1500", "-f", f"{script}@99",
                  "-f", f"{reset}@1")
        assert int(c.value("SELECT entries FROM optimizer.statements_info", db="app")) <= 100
        total = int(c.value("SELECT coalesce(sum(calls), 0) FROM optimizer.statements", db="app"))
        assert 0 < total <= 6000
        c.assert_healthy_log()
    finally:
        c.stop()


@pytest.mark.parametrize("order", ["pg_stat_statements,pg_optimizer", "pg_optimizer,pg_stat_statements"])
def test_same_counts_as_pg_stat_statements(order):
    port = 5483 if order.startswith("pg_stat") else 5484
    c = Cluster(f"pgss{port}", port, {"pg_optimizer.track_planning": "on",
                                      "pg_stat_statements.track_planning": "on"}, preload=order).init().start()
    try:
        c.psql("CREATE DATABASE app")
        c.psql("CREATE EXTENSION pg_stat_statements; CREATE EXTENSION pg_optimizer", db="app")
        c.pgbench("app", "-i", "-s", "1", "-q")
        c.psql("SELECT pg_stat_statements_reset(); SELECT optimizer.reset();", db="app")
        c.pgbench("app", "-c", "2", "-j", "2", "-t", "150")
        c.pgbench("app", "-c", "2", "-j", "2", "-t", "100", "-M", "prepared", "-S")
        c.psql(NESTED_FN + "SELECT nested_work(5); SELECT nested_work(6);"
               "SELECT count(*) FROM pgbench_accounts WHERE bid = 1;" * 3, db="app")
        # a parallel plan: the workers run the executor hooks too, but the statement counts once
        c.psql("SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;"
               "SET max_parallel_workers_per_gather = 2;"
               + "SELECT count(*) FROM pgbench_accounts WHERE abalance >= 0;" * 3, db="app")
        rows = c.psql("""
            WITH p AS (SELECT queryid, toplevel, sum(calls) AS calls, sum(plans) AS plans, sum(rows) AS rows
                         FROM pg_stat_statements
                        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'app') AND calls > 0
                          AND query NOT LIKE '%reset()%' GROUP BY 1, 2),
                 o AS (SELECT queryid, toplevel, sum(calls) AS calls, sum(plans) AS plans, sum(rows) AS rows
                         FROM optimizer.statements
                        WHERE dbname = 'app' AND calls > 0 AND query NOT LIKE '%reset()%' GROUP BY 1, 2)
            SELECT coalesce(p.queryid, o.queryid), p.calls, o.calls, p.plans, o.plans, p.rows, o.rows
              FROM p FULL JOIN o USING (queryid, toplevel)
             ORDER BY 1""", db="app")
        assert len(rows) >= 8, rows
        mismatched = [r for r in rows if r[1] != r[2] or r[3] != r[4] or r[5] != r[6]]
        assert not mismatched, mismatched
        c.assert_healthy_log()
    finally:
        c.stop()


def test_not_preloaded_gives_a_clear_error():
    c = Cluster("nopreload", 5485, preload=None).init().start()
    try:
        c.psql("CREATE EXTENSION pg_optimizer")
        c.psql("SELECT * FROM optimizer.statements", check=False)
        assert "pg_optimizer must be loaded via shared_preload_libraries" in c.last_stderr
        assert "HINT:" in c.last_stderr
        c.psql("SELECT optimizer.reset()", check=False)
        assert "shared_preload_libraries" in c.last_stderr
        c.assert_healthy_log()
    finally:
        c.stop()


def test_switches_and_text_bound(fresh):
    c = fresh
    markers(c, "switched_off", "track_none", "no_example")
    c.psql("SET pg_optimizer.enabled = off; SELECT v FROM switched_off;", db="app")
    c.psql("SET pg_optimizer.track = 'none'; SELECT v FROM track_none;", db="app")
    assert stmt(c, "query IN ('SELECT v FROM switched_off', 'SELECT v FROM track_none')") == []
    c.psql("SET pg_optimizer.capture_examples = off; SELECT v FROM no_example WHERE v = 7;", db="app")
    assert stmt(c, "query = 'SELECT v FROM no_example WHERE v = $1'", "calls, example IS NULL") == [["1", "t"]]
    # texts and examples are kept whole (up to max_text_bytes, 1 MB by default), multibyte
    # characters included; a cut one is flagged (test_hardening covers a small limit)
    long_list = ", ".join(f"'zürich-{i}'" for i in range(400))
    c.psql(f"SET pg_optimizer.capture_examples = on; SELECT v FROM no_example WHERE v::text IN ({long_list})", db="app")
    row = stmt(c, "query LIKE 'SELECT v FROM no_example WHERE v::text IN%'",
               "octet_length(query) > 2048, example = " + "'SELECT v FROM no_example WHERE v::text IN (" + long_list.replace("'", "''") + ")'"
               ", query_truncated, example_truncated")
    assert row == [["t", "t", "f", "f"]], row
    c.assert_healthy_log()


def test_example_with_many_parameters_keeps_the_statement(fresh):
    c = fresh
    n = 300
    types = ", ".join(["int"] * n)
    expr = " + ".join(f"${i}" for i in range(1, n + 1))
    args = ", ".join(str(100000 + i) for i in range(n))
    c.psql(f"PREPARE many({types}) AS SELECT {expr} AS total_of_many; EXECUTE many({args});", db="app")
    row = stmt(c, "query LIKE 'PREPARE many(%' AND calls > 0",
               "example LIKE 'PREPARE many%', example_params LIKE '$1 = ''100000'', $2 = %', "
               "example_params LIKE '%, $300 = ''100299''', example_truncated")
    assert row == [["t", "t", "t", "f"]], row


def test_parallel_query_counts_once(fresh):
    c = fresh
    c.psql("DROP TABLE IF EXISTS par; CREATE TABLE par AS SELECT g AS v FROM generate_series(1, 200000) g; "
           "ANALYZE par", db="app")
    setup = ("SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;"
             "SET max_parallel_workers_per_gather = 2;")
    plan = c.psql(setup + "EXPLAIN (ANALYZE, COSTS OFF) SELECT sum(v) FROM par WHERE v % 7 = 0", db="app")
    assert any("Workers Launched: 2" in r[0] for r in plan), plan
    c.psql("SELECT optimizer.reset()", db="app")
    c.psql(setup + "SELECT sum(v) FROM par WHERE v % 7 = 0;" * 3, db="app")
    assert stmt(c, "query = 'SELECT sum(v) FROM par WHERE v % $1 = $2'", "calls, rows") == [["3", "3"]]
    c.assert_healthy_log()
