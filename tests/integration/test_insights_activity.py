"""Insight views over activity and configuration (src/sql/insights_activity.sql): connections,
blocking, replication, missing_fk_indexes, config_advice.

Each view: a clean server gives no row, a crafted problem gives its finding with the documented
severity, and a recommendation that is SQL is run and makes the finding go away. Thresholds are
constants of the views, so the session tests wait for real: an idle-in-transaction session is
'info' after 10 s (the view's lowest level), a lock wait is 'warning' after 5 s.
"""

import os
import shutil
import subprocess
import time

import pytest

from conftest import IS_ROOT, PG_BIN, Cluster, as_pg

PORT = 5652
FLUSH = "SELECT pg_stat_force_next_flush();"
VIEWS = ["connections", "blocking", "replication", "missing_fk_indexes", "config_advice"]


@pytest.fixture(scope="module")
def c():
    c = Cluster("insights-activity", PORT, {"pg_optimizer.scheduler": "off",
                                            "shared_buffers": "'256MB'", "random_page_cost": "1.1"})
    try:
        c.stop()
    except subprocess.CalledProcessError:
        pass
    c.init().start()
    c.psql("CREATE DATABASE app")
    c.psql("CREATE EXTENSION pg_optimizer", db="app")
    c.psql("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ins_plain') "
           "THEN CREATE ROLE ins_plain LOGIN; END IF; END $$;")
    yield c
    c.assert_healthy_log()
    c.stop()


def rows(c, view, cols="*", where="true", user="postgres"):
    return c.psql(f"SELECT {cols} FROM optimizer.{view} WHERE {where}", db="app", user=user)


def session(c, user="postgres"):
    """A psql session kept open; feed it with s.stdin.write(...); s.stdin.flush()."""
    return subprocess.Popen([f"{PG_BIN}/psql", "-X", "-Atq", "-h", "/tmp", "-p", str(c.port), "-U", user, "-d", "app"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def send(s, sql):
    s.stdin.write(sql + "\n")
    s.stdin.flush()


def pid_of(c, marker):
    """pid of the session whose current or last query contains marker."""
    for _ in range(100):
        r = c.psql(f"SELECT pid FROM pg_stat_activity WHERE query LIKE '%{marker}%' AND pid <> pg_backend_pid()",
                   db="app")
        if r:
            return int(r[0][0])
        time.sleep(0.1)
    raise AssertionError(f"no session running {marker}")


def close(*sessions):
    for s in sessions:
        try:
            s.stdin.close()
        except Exception:
            pass
        try:
            s.wait(timeout=10)
        except subprocess.TimeoutExpired:
            s.kill()


def run_rec(c, rec):
    """Run a recommendation as one query string (psql -c), the way a tool would send it."""
    p = subprocess.run([f"{PG_BIN}/psql", "-X", "-v", "ON_ERROR_STOP=1", "-h", "/tmp", "-p", str(c.port),
                        "-U", "postgres", "-d", "app", "-c", rec], capture_output=True, text=True)
    assert p.returncode == 0 and "ERROR" not in p.stderr, (rec, p.stderr)


def reload(c, setting, value):
    c.psql("SELECT pg_reload_conf()")
    for _ in range(50):
        if c.value(f"SHOW {setting}", db="app") == value:
            return
        time.sleep(0.1)
    raise AssertionError(f"{setting} did not become {value}")


# ---------------------------------------------------------------------------------------------
# Clean server: no findings (config_advice: none that do not depend on the machine's memory).


def test_clean_server_has_no_findings(c):
    c.psql("SELECT optimizer.reset(); SELECT pg_stat_reset_shared('bgwriter');", db="app")
    c.psql("CREATE TABLE clean_p (id int PRIMARY KEY); CREATE TABLE clean_c (id int, p int REFERENCES clean_p);"
           "CREATE INDEX ON clean_c (p);"
           "CREATE TABLE clean_p2 (id int PRIMARY KEY);"
           "CREATE TABLE clean_c2 (id int, p int REFERENCES clean_p2);"   # no index, but nothing makes it matter
           "INSERT INTO clean_p SELECT generate_series(1, 100); INSERT INTO clean_c SELECT g, g FROM generate_series(1, 50) g;"
           "INSERT INTO clean_p2 SELECT generate_series(1, 100);"
           "INSERT INTO clean_c2 SELECT g, g FROM generate_series(1, 50) g;"
           "DELETE FROM clean_p WHERE id > 90;" + FLUSH, db="app")
    for v in ["connections", "blocking", "replication", "missing_fk_indexes"]:
        assert rows(c, v) == [], v
    # a plain user: memory unknown, only relative rules, nothing to advise on this server
    assert rows(c, "config_advice", user="ins_plain") == []
    # a superuser reads /proc/meminfo: only the memory-sized settings may be advised
    for setting, _cur, _sug, _sev, evidence, _rec in rows(c, "config_advice"):
        assert setting in ("shared_buffers", "effective_cache_size", "maintenance_work_mem"), setting
        assert "machine memory" in evidence


def test_every_view_works_for_a_plain_user(c):
    for v in VIEWS:
        c.psql(f"SELECT * FROM optimizer.{v}", db="app", user="ins_plain")


# ---------------------------------------------------------------------------------------------
# connections


def test_idle_in_transaction_session(c):
    s = session(c)
    try:
        send(s, "BEGIN; SELECT 'iit_marker' FROM pg_class LIMIT 1;")
        pid = pid_of(c, "iit_marker")
        time.sleep(3)
        assert rows(c, "connections", where=f"pid = {pid}") == []   # 3 s: below every threshold
        time.sleep(8.5)
        r = rows(c, "connections", "kind, username, database, state, query, severity, evidence, recommendation",
                 f"pid = {pid}")
        assert len(r) == 1, r
        kind, user, db, state, query, severity, evidence, rec = r[0]
        assert (kind, user, db, state, severity) == ("idle in transaction", "postgres", "app",
                                                      "idle in transaction", "info")
        assert "iit_marker" in query and "iit_marker" in evidence and f"pid {pid}" in evidence
        assert rec == (f"SELECT pg_catalog.pg_terminate_backend({pid});  -- to prevent it: ALTER SYSTEM SET "
                       "idle_in_transaction_session_timeout = '5min'; SELECT pg_catalog.pg_reload_conf();")
        # the recommendation is runnable: it ends the session and the finding
        run_rec(c, rec)
        for _ in range(50):
            if not rows(c, "connections", where=f"pid = {pid}"):
                break
            time.sleep(0.1)
        assert rows(c, "connections", where=f"pid = {pid}") == []
    finally:
        close(s)


def test_connection_use_near_the_limit(c):
    # max_connections 100 - 3 reserved = 97 usable: 80% is 77.6; open enough sessions to pass it
    target = 97 * 82 // 100 + 1   # sessions in use incl. the one reading the view: > 80%, < 95%
    have = int(c.value("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'", db="app"))
    opened = [session(c) for _ in range(target - have - 1)]
    try:
        for s in opened:
            send(s, "SELECT 'conn_marker';")
        for _ in range(100):
            if int(c.value("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'",
                           db="app")) >= target - 1:
                break
            time.sleep(0.1)
        r = rows(c, "connections", "severity, evidence, recommendation", "kind = 'connections'")
        assert len(r) == 1 and r[0][0] == "warning", r
        assert "of 97 usable connections in use" in r[0][1]
        assert "pooler" in r[0][2]
    finally:
        close(*opened)


# ---------------------------------------------------------------------------------------------
# blocking


def test_blocked_session(c):
    c.psql("DROP TABLE IF EXISTS blk; CREATE TABLE blk (id int); INSERT INTO blk VALUES (1);", db="app")
    holder = session(c)
    waiter = session(c)
    try:
        send(holder, "BEGIN; LOCK TABLE blk IN ACCESS EXCLUSIVE MODE; SELECT 'holder_marker';")
        hpid = pid_of(c, "holder_marker")
        send(waiter, "SELECT count(*), 'waiter_marker' FROM blk;")
        wpid = pid_of(c, "waiter_marker")
        time.sleep(6)
        r = rows(c, "blocking", "blocked_pid, blocking_pid, blocked_user, blocking_state, lock_mode, relation, "
                                "severity, evidence, recommendation")
        assert len(r) == 1, r
        bpid, blpid, user, bstate, mode, rel, severity, evidence, rec = r[0]
        assert (int(bpid), int(blpid), user, bstate, mode, rel, severity) == (
            wpid, hpid, "postgres", "idle in transaction", "AccessShareLock", "blk", "warning")
        assert "waiter_marker" in evidence and "holder_marker" in evidence
        assert rec == f"SELECT pg_catalog.pg_terminate_backend({hpid});"
        run_rec(c, rec)
        assert waiter.stdout.readline().strip() == "1|waiter_marker"   # the waiter got its lock
        assert rows(c, "blocking") == []
    finally:
        close(holder, waiter)


# ---------------------------------------------------------------------------------------------
# replication


def test_inactive_replication_slot(c):
    c.psql("SELECT pg_create_physical_replication_slot('ins_slot', immediately_reserve => true);"
           "CREATE TABLE slot_wal AS SELECT g FROM generate_series(1, 10000) g;", db="app")
    r = rows(c, "replication", "kind, name, active, severity, evidence, recommendation")
    assert len(r) == 1, r
    kind, name, active, severity, evidence, rec = r[0]
    assert (kind, name, active, severity) == ("slot", "ins_slot", "f", "warning")
    assert "inactive" in evidence and "of WAL" in evidence
    assert rec == "SELECT pg_catalog.pg_drop_replication_slot('ins_slot');"
    run_rec(c, rec)
    assert rows(c, "replication") == []


def test_replication_view_works_on_a_standby(c):
    """A standby from pg_basebackup: pg_current_wal_lsn() would fail there; the view must not."""
    sdir = "/tmp/pg_optimizer-it-insights-activity-standby"
    sock = sdir + "-sock"
    for d in (sdir, sock):
        shutil.rmtree(d, ignore_errors=True)
    os.makedirs(sock)
    if IS_ROOT:
        shutil.chown(sock, "postgres", "postgres")
    subprocess.run(as_pg([f"{PG_BIN}/pg_basebackup", "-h", "/tmp", "-p", str(PORT), "-U", "postgres",
                          "-D", sdir, "-R", "-X", "stream"]), check=True, capture_output=True)
    # same port number, own socket directory (no TCP): no second port needed
    with open(os.path.join(sdir, "postgresql.conf"), "a") as f:
        f.write(f"unix_socket_directories = '{sock}'\n")
    subprocess.run(as_pg([f"{PG_BIN}/pg_ctl", "-D", sdir, "-l", sdir + "/server.log", "-w", "-t", "60", "start"]),
                   check=True, capture_output=True)
    try:
        def sb(sql):
            p = subprocess.run([f"{PG_BIN}/psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", sock, "-p", str(PORT),
                                "-U", "postgres", "-d", "app"], input=sql, capture_output=True, text=True)
            assert p.returncode == 0, p.stderr
            return p.stdout.strip()
        assert sb("SELECT pg_is_in_recovery()") == "t"
        assert sb("SELECT count(*) FROM optimizer.replication") == "0"
        # on the primary the streaming standby is fine: no finding
        time.sleep(1)
        assert rows(c, "replication") == []
    finally:
        subprocess.run(as_pg([f"{PG_BIN}/pg_ctl", "-D", sdir, "-m", "fast", "stop"]), capture_output=True)
        shutil.rmtree(sdir, ignore_errors=True)
        shutil.rmtree(sock, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# missing_fk_indexes


def test_fk_without_index_under_deletes(c):
    c.psql("CREATE TABLE fk_parent (id int PRIMARY KEY);"
           "CREATE TABLE fk_child (id int, parent_id int REFERENCES fk_parent ON DELETE CASCADE, \"Odd\" int);"
           "INSERT INTO fk_parent SELECT generate_series(1, 1000);"
           "INSERT INTO fk_child SELECT g, g, g FROM generate_series(1, 500) g;" + FLUSH, db="app")
    assert rows(c, "missing_fk_indexes", where="table_name = 'fk_child'") == []   # nothing makes it matter yet
    c.psql("DELETE FROM fk_parent WHERE id > 900;" + FLUSH, db="app")
    r = rows(c, "missing_fk_indexes", "table_name, constraint_name, columns, referenced_table, referenced_deletes, "
                                      "severity, evidence, recommendation", "table_name = 'fk_child'")
    assert len(r) == 1, r
    *ident, evidence, rec = r[0]
    assert ident == ["fk_child", "fk_child_parent_id_fkey", "{parent_id}", "fk_parent", "100", "warning"]
    assert "fk_parent had 100 rows deleted" in evidence
    assert rec == "CREATE INDEX CONCURRENTLY ON fk_child (parent_id);"
    run_rec(c, rec)
    assert rows(c, "missing_fk_indexes", where="table_name = 'fk_child'") == []


def test_fk_without_index_large_table_and_workload(c):
    c.psql("CREATE TABLE fk_p2 (a int, b int, PRIMARY KEY (a, b));"
           "CREATE TABLE \"Fk Big\" (id int, \"B col\" int, a_col int, FOREIGN KEY (a_col, \"B col\") REFERENCES fk_p2);"
           "CREATE INDEX ON \"Fk Big\" (a_col);"          # only one of the two columns: does not count
           "INSERT INTO fk_p2 SELECT g, g FROM generate_series(1, 100) g;"
           "INSERT INTO \"Fk Big\" SELECT g, g % 100 + 1, g % 100 + 1 FROM generate_series(1, 20000) g;"
           "ANALYZE \"Fk Big\", fk_p2;"
           "SELECT count(*) FROM \"Fk Big\" WHERE a_col = 5 AND \"B col\" = 5;" + FLUSH, db="app")
    r = rows(c, "missing_fk_indexes", "columns, table_rows, workload_executions, severity, evidence, recommendation",
             "table_name = '\"Fk Big\"'")
    assert len(r) == 1, r
    cols, nrows, execs, severity, evidence, rec = r[0]
    assert (cols, nrows, severity) == ('{a_col,"B col"}', "20000", "warning")
    assert int(execs) >= 1 and "recorded workload filters or joins on a_col" in evidence
    assert rec == 'CREATE INDEX CONCURRENTLY ON "Fk Big" (a_col, "B col");'
    run_rec(c, rec)
    assert rows(c, "missing_fk_indexes", where="table_name = '\"Fk Big\"'") == []


# ---------------------------------------------------------------------------------------------
# config_advice


def test_tiny_work_mem_with_sorts_spilling(c):
    c.psql("SELECT optimizer.reset()", db="app")
    c.psql("ALTER SYSTEM SET work_mem = '64kB'")
    reload(c, "work_mem", "64kB")
    try:
        c.psql("SELECT count(*) FROM (SELECT g FROM generate_series(1, 200000) g ORDER BY random()) s", db="app")
        r = rows(c, "config_advice", "current, suggested, severity, evidence, recommendation", "setting = 'work_mem'")
        assert len(r) == 1, r
        cur, sug, severity, evidence, rec = r[0]
        assert (cur, severity) == ("64kB", "info")
        assert "wrote" in evidence and "generate_series" in evidence
        assert rec == f"ALTER SYSTEM SET work_mem = '{sug}';  -- then: SELECT pg_catalog.pg_reload_conf();"
        run_rec(c, rec)
        reload(c, "work_mem", sug)
        c.psql("SELECT optimizer.reset()", db="app")
        c.psql("SELECT count(*) FROM (SELECT g FROM generate_series(1, 200000) g ORDER BY random()) s", db="app")
        assert rows(c, "config_advice", where="setting = 'work_mem'") == []   # no more spill
    finally:
        c.psql("ALTER SYSTEM RESET work_mem; SELECT pg_reload_conf();")


def test_small_max_wal_size_with_requested_checkpoints(c):
    c.psql("SELECT pg_stat_reset_shared('bgwriter')")
    c.psql("ALTER SYSTEM SET max_wal_size = '32MB'")
    reload(c, "max_wal_size", "32MB")
    try:
        c.psql("CREATE TABLE walgen (x text); INSERT INTO walgen SELECT repeat('x', 500) FROM generate_series(1, 300000);"
               "DROP TABLE walgen;", db="app")
        for _ in range(100):
            if int(c.value("SELECT checkpoints_req FROM pg_stat_bgwriter")) >= 5:
                break
            time.sleep(0.1)
        r = rows(c, "config_advice", "current, suggested, severity, evidence, recommendation", "setting = 'max_wal_size'")
        assert len(r) == 1, r
        cur, sug, severity, evidence, rec = r[0]
        assert (cur, sug, severity) == ("32MB", "1GB", "warning")
        assert "checkpoints" in evidence and "requested" in evidence
        assert rec == "ALTER SYSTEM SET max_wal_size = '1GB';  -- then: SELECT pg_catalog.pg_reload_conf();"
        run_rec(c, rec)
        reload(c, "max_wal_size", "1GB")
        c.psql("SELECT pg_stat_reset_shared('bgwriter')")
        assert rows(c, "config_advice", where="setting = 'max_wal_size'") == []
    finally:
        c.psql("ALTER SYSTEM RESET max_wal_size; SELECT pg_reload_conf();")


def test_relative_rules_without_memory(c):
    """A plain user cannot read /proc/meminfo: effective_cache_size below 2 x shared_buffers and autovacuum
    off are still advised."""
    c.psql("SELECT optimizer.reset()", db="app")   # earlier tests' statements spilled to temp files
    c.psql("ALTER SYSTEM SET effective_cache_size = '256MB'; ALTER SYSTEM SET autovacuum = off;")
    reload(c, "effective_cache_size", "256MB")
    reload(c, "autovacuum", "off")
    try:
        r = rows(c, "config_advice", "setting, suggested, severity, evidence, recommendation", user="ins_plain")
        assert [x[:3] for x in r] == [["autovacuum", "on", "warning"], ["effective_cache_size", "768MB", "info"]], r
        assert r[0][3].startswith("autovacuum is off; ")
        assert r[0][4] == "ALTER SYSTEM SET autovacuum = 'on';  -- then: SELECT pg_catalog.pg_reload_conf();"
        assert r[1][3:] == [
            "effective_cache_size (256 MB) is less than twice shared_buffers (256 MB): it should count the OS cache too",
            "ALTER SYSTEM SET effective_cache_size = '768MB';  -- then: SELECT pg_catalog.pg_reload_conf();"]
        run_rec(c, r[0][4])                # as a superuser: the recommendations run and clear the advice
        run_rec(c, r[1][4])
        reload(c, "autovacuum", "on")
        reload(c, "effective_cache_size", "768MB")
        assert rows(c, "config_advice", user="ins_plain") == []
    finally:
        c.psql("ALTER SYSTEM RESET effective_cache_size; ALTER SYSTEM RESET autovacuum; SELECT pg_reload_conf();")
