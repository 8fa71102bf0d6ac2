"""Insights (src/sql/insights.sql): slow_queries, the index views that share the advisor's drop
rules, and health(). Each view finds its crafted problem and nothing on a clean database."""

import re
import subprocess

import pytest

from conftest import PG_BIN, Cluster

PORT = 5655


@pytest.fixture(scope="module")
def pg():
    c = Cluster("insights", PORT, {"pg_optimizer.scheduler": "off"}).init().start()
    c.psql("CREATE DATABASE app")
    c.psql("CREATE EXTENSION pg_optimizer", db="app")
    yield c
    c.stop()


def sql(c, text, user="postgres"):
    return c.psql(text, db="app", user=user)


def test_a_clean_database_has_no_findings(pg):
    for v in ["slow_queries", "unused_indexes", "duplicate_indexes", "invalid_indexes"]:
        assert sql(pg, f"SELECT * FROM optimizer.{v}") == [], v
    rows = sql(pg, "SELECT area, status FROM optimizer.health()")
    assert [r[0] for r in rows] == ["queries", "indexes", "vacuum", "wraparound", "cache", "connections",
                                    "replication", "configuration", "statistics"]
    assert {r[1] for r in rows[:2]} == {"ok"}, rows


def test_slow_queries_names_the_slow_statement(pg):
    sql(pg, "SELECT optimizer.reset()")
    sql(pg, "SELECT pg_sleep(0.15); SELECT pg_sleep(0.15);")
    rows = sql(pg, "SELECT query, calls, severity, evidence, recommendation FROM optimizer.slow_queries")
    assert rows and rows[0][0] == "SELECT pg_sleep($1)" and rows[0][1] == "2" and rows[0][2] == "warning", rows
    assert re.search(r"mean 1[5-9]\d\.\d ms", rows[0][3]) and "index_advice" in rows[0][4], rows
    # The recommendation runs.
    sql(pg, rows[0][4].split(";")[0])


def test_duplicate_invalid_and_unused_indexes(pg):
    sql(pg, """CREATE TABLE t (id int PRIMARY KEY, a int, b int);
               INSERT INTO t SELECT g, g % 100, g FROM generate_series(1, 10000) g;
               INSERT INTO t VALUES (10001, 1, 1);
               CREATE INDEX t_a ON t (a); CREATE INDEX t_a_again ON t (a); CREATE INDEX t_a_b ON t (a, b);""")
    # A failed concurrent build leaves an invalid index.
    p = subprocess.run([f"{PG_BIN}/psql", "-X", "-h", "/tmp", "-p", str(PORT), "-U", "postgres", "-d", "app", "-c",
                        "CREATE UNIQUE INDEX CONCURRENTLY t_b_unique ON t (b)"], capture_output=True, text=True)
    assert p.returncode != 0 and "could not create unique index" in p.stderr
    inv = sql(pg, "SELECT index_name, severity, recommendation FROM optimizer.invalid_indexes")
    assert inv == [["t_b_unique", "warning", 'DROP INDEX CONCURRENTLY "public"."t_b_unique"']], inv
    dup = sql(pg, "SELECT index_name, covered_by, severity FROM optimizer.duplicate_indexes ORDER BY 1")
    assert [d[0] for d in dup] and all(d[2] == "warning" for d in dup), dup
    assert {d[0] for d in dup} <= {"t_a", "t_a_again"} and len(dup) >= 1, dup
    # The same rules as the advisor's drop advice.
    advised = {r[0] for r in sql(pg, "SELECT index_name FROM optimizer.index_advice() WHERE action = 'drop'")}
    listed = {r[0] for r in sql(pg, "SELECT index_name::text FROM optimizer.invalid_indexes UNION ALL "
                                    "SELECT index_name::text FROM optimizer.duplicate_indexes")}
    assert listed <= advised, (listed, advised)
    # health() reads the three through one index_insights read, invalid first, each under its name.
    h = {r[0]: r for r in sql(pg, "SELECT area, status, findings, top_finding FROM optimizer.health()")}
    assert h["indexes"][3].startswith("invalid_indexes: INVALID"), h["indexes"]
    assert int(h["indexes"][2]) >= len(inv) + len(dup), h["indexes"]
    assert sorted(r[0] for r in sql(pg, "SELECT DISTINCT insight FROM optimizer.index_insights")) == \
        ["duplicate_indexes", "invalid_indexes"]
    # Unused: not scanned for advisor_unused_days (0 here: every index never scanned).
    unused = sql(pg, "SET pg_optimizer.advisor_unused_days = 0; SELECT index_name::text, severity FROM optimizer.unused_indexes")
    assert ["t_a_b", "info"] in unused or any(u[0] == "t_a_b" for u in unused), unused
    # The recommendation runs, and the finding is gone.
    sql(pg, "DROP INDEX CONCURRENTLY \"public\".\"t_b_unique\"")
    assert sql(pg, "SELECT * FROM optimizer.invalid_indexes") == []
    h = {r[0]: r for r in sql(pg, "SELECT area, status, findings, top_finding, top_action FROM optimizer.health()")}
    assert h["indexes"][1] == "warning" and int(h["indexes"][2]) >= 1 and h["indexes"][4].startswith("DROP INDEX"), h["indexes"]


def test_health_takes_no_lock_stronger_than_access_share(pg):
    sql(pg, "CREATE TABLE s (id serial PRIMARY KEY, v text); INSERT INTO s (v) VALUES ('x'); ANALYZE s;")
    rows = sql(pg, """BEGIN;
                      SELECT count(*) FROM optimizer.health();
                      SELECT locktype, mode, relation::regclass::text FROM pg_locks
                       WHERE pid = pg_backend_pid() AND locktype = 'relation' AND mode <> 'AccessShareLock';
                      ROLLBACK;""")
    assert rows == [["9"]], rows
