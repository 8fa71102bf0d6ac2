"""Statistics insights (src/sql/insights_statistics.sql): optimizer.statistics_advice().

A role runs a query filtering on two correlated columns (zip determines city) or on a skewed
column; the statement is recorded with a big misestimate; statistics_advice(), called by that
role, tries CREATE STATISTICS / SET STATISTICS in a rolled-back subtransaction and reports the
estimate error before and after; running the recommendation fixes the estimate. Another role's
statements are not planned. A clean database gives no row."""

import json
import subprocess

import pytest

from conftest import PG_BIN, Cluster

PORT = 5656
COLS = "table_name, columns, kind, estimate_error_before, estimate_error_after, queryid, severity, evidence, recommendation"


@pytest.fixture(scope="module")
def c():
    cl = Cluster("insights-statistics", PORT, {"autovacuum": "off", "pg_optimizer.scheduler": "off"})
    try:
        cl.stop()
    except subprocess.CalledProcessError:
        pass
    cl.init().start()
    yield cl
    cl.assert_healthy_log()
    cl.stop()


def newdb(c, name):
    c.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    c.psql(f"CREATE DATABASE {name}")
    c.psql("CREATE EXTENSION pg_optimizer", db=name)
    for role in ("alice", "bob"):
        c.psql(f"DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') "
               f"THEN CREATE ROLE {role} LOGIN; END IF; END$$")
    c.psql("GRANT CREATE ON SCHEMA public TO alice, bob", db=name)
    return name


def dropdb(c, name):
    c.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def advice(c, db, user="postgres", where="true"):
    return [dict(zip(COLS.split(", "), r)) for r in
            c.psql(f"SELECT {COLS} FROM optimizer.statistics_advice() WHERE {where}", db=db, user=user)]


def plan_rows(c, db, user, sql):
    out = c.psql(f"EXPLAIN (FORMAT JSON) {sql}", db=db, user=user)
    return float(json.loads("\n".join(r[0] for r in out))[0]["Plan"]["Plan Rows"])


def scan_rows(c, db, user, sql):
    """Estimated rows of the scan under the count(*) aggregate."""
    out = c.psql(f"EXPLAIN (FORMAT JSON) {sql}", db=db, user=user)
    p = json.loads("\n".join(r[0] for r in out))[0]["Plan"]
    while p.get("Plans"):
        p = p["Plans"][0]
    return float(p["Plan Rows"])


CITY_Q = "SELECT count(*) FROM addr WHERE city = 'city7' AND zip = 'zip7'"


def make_addr(c, db, owner="alice"):
    c.psql("CREATE TABLE addr (id int, city text, zip text);"
           "INSERT INTO addr SELECT i, 'city' || (i % 100), 'zip' || (i % 100) FROM generate_series(1, 100000) i;"
           "ANALYZE addr;", db=db, user=owner)
    assert c.psql(CITY_Q, db=db, user=owner) == [["1000"]]


# ---------------------------------------------------------------------------------------------

def test_clean_database_has_no_findings(c):
    db = newdb(c, "stats_clean")
    try:
        c.psql("CREATE TABLE t (a int, b int); INSERT INTO t SELECT i, i FROM generate_series(1, 1000) i; ANALYZE t;"
               "SELECT count(*) FROM t WHERE a = 5 AND b = 5;", db=db, user="alice")
        assert advice(c, db) == []
        assert advice(c, db, user="alice") == []
        assert advice(c, db, user="bob") == []
    finally:
        dropdb(c, db)


def test_correlated_columns_get_create_statistics_verified(c):
    db = newdb(c, "stats_corr")
    try:
        make_addr(c, db)
        before = scan_rows(c, db, "alice", CITY_Q)
        assert before < 100, before                       # independence assumption: ~10 rows of 1000
        rows = advice(c, db, user="alice")
        assert len(rows) == 1, rows
        r = rows[0]
        assert r["table_name"] == "addr" and r["columns"] == "{city,zip}" and r["kind"] == "create statistics"
        assert float(r["estimate_error_before"]) >= 10, r
        assert float(r["estimate_error_after"]) <= 2, r
        assert r["severity"] == "warning", r
        assert "tried and rolled back" in r["evidence"], r
        assert r["recommendation"].startswith("CREATE STATISTICS public.addr_city_zip_stats (dependencies, ndistinct, mcv) ON city, zip FROM public.addr;"), r
        # the trial left nothing behind
        assert c.psql("SELECT count(*) FROM pg_statistic_ext", db=db) == [["0"]]
        assert scan_rows(c, db, "alice", CITY_Q) == before
        # health-style callers see the same finding (superuser: not alice's statement, so unverified)
        su = advice(c, db)
        assert len(su) == 1 and su[0]["severity"] == "info", su
        assert su[0]["evidence"].startswith("not verified: recorded for role alice; only alice can verify it"), su
        assert su[0]["estimate_error_before"] == "", su
        # run the recommendation: the estimate is fixed
        c.psql(r["recommendation"], db=db, user="alice")
        after = scan_rows(c, db, "alice", CITY_Q)
        assert 500 <= after <= 2000, after
        # the statistics object now covers the columns: no more advice
        assert advice(c, db, user="alice") == []
    finally:
        dropdb(c, db)


def test_other_roles_statement_is_not_planned(c):
    db = newdb(c, "stats_other")
    try:
        make_addr(c, db)
        rows = advice(c, db, user="bob")
        assert len(rows) == 1, rows
        r = rows[0]
        assert r["severity"] == "info" and r["estimate_error_before"] == "" and r["estimate_error_after"] == "", r
        assert r["evidence"].startswith("not verified: recorded for role alice; only alice can verify it"), r
        # bob's own statement on alice's table: bob does not own it
        c.psql("GRANT SELECT ON addr TO bob", db=db, user="alice")
        c.psql("SELECT count(*) FROM addr WHERE city = 'city9' AND zip = 'zip9'", db=db, user="bob")
        c.psql("SELECT pg_sleep(0)", db=db, user="bob")
        rows = advice(c, db, user="bob")
        assert len(rows) == 1, rows
        assert rows[0]["evidence"].startswith("not verified: table owned by alice"), rows
        assert c.psql("SELECT count(*) FROM pg_statistic_ext", db=db) == [["0"]]
    finally:
        dropdb(c, db)


def test_skewed_column_gets_a_higher_statistics_target(c):
    db = newdb(c, "stats_skew")
    try:
        # 200 values with 400 rows each (80 % of the table) and 20,000 unique ones: the MCV list of
        # 100 keeps half of the frequent values; the others are estimated at a few rows.
        c.psql("CREATE TABLE skew (id int, v int);"
               "INSERT INTO skew SELECT i, CASE WHEN i <= 80000 THEN i % 200 ELSE i END FROM generate_series(1, 100000) i;"
               "ANALYZE skew;", db=db, user="alice")
        rare = c.psql("SELECT v FROM generate_series(0, 199) v WHERE v::text NOT IN "
                      "(SELECT unnest(most_common_vals::text::text[]) FROM pg_stats "
                      " WHERE tablename = 'skew' AND attname = 'v') LIMIT 1", db=db, user="alice")[0][0]
        q = f"SELECT count(*) FROM skew WHERE v = {rare}"
        assert c.psql(q, db=db, user="alice") == [["400"]]
        rows = advice(c, db, user="alice")
        assert len(rows) == 1, rows
        r = rows[0]
        assert r["kind"] == "set statistics" and r["columns"] == "{v}", r
        assert float(r["estimate_error_before"]) >= 10 and float(r["estimate_error_after"]) <= 2, r
        assert r["severity"] == "warning", r
        assert r["recommendation"] == "ALTER TABLE public.skew ALTER COLUMN v SET STATISTICS 1000; ANALYZE public.skew (v);", r
        assert c.psql("SELECT attstattarget FROM pg_attribute WHERE attrelid = 'skew'::regclass AND attname = 'v'",
                      db=db) == [["-1"]]
        c.psql(r["recommendation"], db=db, user="alice")
        assert 200 <= scan_rows(c, db, "alice", q) <= 800
        assert advice(c, db, user="alice") == []
    finally:
        dropdb(c, db)


def test_candidate_cap(c):
    db = newdb(c, "stats_cap")
    try:
        make_addr(c, db)
        rows = c.psql("SELECT severity, evidence FROM optimizer.statistics_advice(0)", db=db, user="alice")
        assert len(rows) == 1 and rows[0][0] == "info", rows
        assert rows[0][1].startswith("not verified: over the limit of 0 candidates per call"), rows
    finally:
        dropdb(c, db)
