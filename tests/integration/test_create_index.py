"""optimizer.create_index (src/sql/indexes.sql): the shared CONCURRENTLY index path, on a real
preloaded server.

NEEDS THE 0.4.0 BUILD: create_index is part of the extension from 0.4.0 on; this file does not
load src/sql/indexes.sql itself (against an older build every test fails with "function
optimizer.create_index(...) does not exist").

create_index hands its commands to one background worker (run_in_worker, wait => false) and
returns at once: one row per index with status 'started' and the run id, then a summary row. The
outcome is the run's row in optimizer.job_runs (label 'create_index'): 'succeeded' means the
index is valid, 'failed' that nothing of it is left. The tests wait for that row.

Covered: a plain table; a range-partitioned table with a list-partitioned child (ON ONLY indexes,
a concurrent build per leaf, each attached to its own parent's index, the root valid at the end);
partitions created or attached afterwards, and one created while the build runs, get the index
from PostgreSQL; a unique index over duplicate data (plain and partitioned) and a build that hits
lock_timeout leave no INVALID index anywhere; a non-owner (of the table or of one partition) is
refused with a hint before anything starts; identifiers that need quotes, an expression with an
operator class and DESC, INCLUDE and a predicate; an existing equivalent leaf index is attached
instead of built again; bad arguments are refused before anything starts."""

import os
import subprocess
import time

import pytest

from conftest import PG_BIN
from test_hardening import sqlstate
from test_predicates import new_cluster

PORT = 5641


@pytest.fixture(scope="module")
def ci():
    c = new_cluster("create-index", PORT, {"autovacuum": "off", "pg_optimizer.snapshot_interval": "0"})
    c.psql("DO $$ BEGIN "
           "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ci_owner') THEN CREATE ROLE ci_owner LOGIN; END IF; "
           "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ci_other') THEN CREATE ROLE ci_other LOGIN; END IF; "
           "END $$;")
    c.psql("GRANT CREATE ON SCHEMA public TO ci_owner", db="app")
    yield c
    c.assert_healthy_log()
    c.stop()


# ---------------------------------------------------------------------------------------------
# helpers


def wait_for(what, check, timeout=60.0, every=0.2):
    deadline = time.time() + timeout
    while True:
        v = check()
        if v:
            return v
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


def create_index(c, args, user="postgres"):
    """Call create_index(args); return (rows as dicts, run id). Every row says 'started' and
    carries the run id; the last one is the summary."""
    rows = c.psql(f"SELECT index_name, on_table, status, message, coalesce(duration_ms::text, ''), run_id "
                  f"FROM optimizer.create_index({args})", db="app", user=user)
    rows = [dict(zip(("index_name", "on_table", "status", "message", "duration_ms", "run_id"), r)) for r in rows]
    assert rows and all(r["status"] == "started" for r in rows), rows
    run_ids = {r["run_id"] for r in rows}
    assert len(run_ids) == 1 and rows[0]["run_id"] != "", rows
    assert f"job_runs WHERE run_id = {rows[0]['run_id']}" in rows[-1]["message"], rows[-1]
    return rows, int(rows[0]["run_id"])


def outcome(c, run_id, user="postgres"):
    """(status, message) of the run once it has ended."""
    row = wait_for(f"run {run_id}", lambda: c.psql(
        f"SELECT status, coalesce(message, '') FROM optimizer.job_runs "
        f"WHERE run_id = {run_id} AND status NOT IN ('starting', 'running')", db="app", user=user))
    assert len(row) == 1, row
    return row[0][0], row[0][1]


def indexes(c, where):
    """[index, valid, attached to (or ''), definition] of the indexes matching `where` (on pg_class c)."""
    return c.psql("SELECT c.oid::regclass::text, x.indisvalid, "
                  "coalesce((SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid), ''), "
                  "pg_get_indexdef(c.oid) "
                  "FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
                  f"WHERE {where} ORDER BY 1", db="app")


def nothing_invalid(c):
    """No INVALID index in the database, and no index create_index set aside to drop."""
    assert c.psql("SELECT x.indexrelid::regclass FROM pg_index x WHERE NOT x.indisvalid OR NOT x.indisready", db="app") == []
    assert c.psql("SELECT relname FROM pg_class WHERE relname LIKE 'create_index_failed_%'", db="app") == []


def runs(c):
    return int(c.value("SELECT count(*) FROM optimizer.job_runs WHERE job = 'create_index'", db="app"))


def background(c, sql, app):
    """Run `sql` in a psql session of its own, in the background, named `app`."""
    p = subprocess.Popen([f"{PG_BIN}/psql", "-X", "-q", "-At", "-h", "/tmp", "-p", str(c.port), "-U", "postgres",
                          "-d", "app"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=dict(os.environ, PGAPPNAME=app))
    p.stdin.write(sql)
    p.stdin.close()
    wait_for(f"session {app}", lambda: c.value(
        f"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}' AND query LIKE '%pg_sleep%'", db="app") == "1")
    return p


def stop_background(c, p, app):
    c.psql(f"SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = '{app}'", db="app")
    p.wait(timeout=30)


def job_waiting(c, query_like="%"):
    """The create_index worker waits for a lock (a transaction, or a table lock) in a command like `query_like`."""
    return c.value("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                   "WHERE NOT l.granted AND a.backend_type = 'pg_optimizer job' "
                   f"AND a.query LIKE '{query_like}'", db="app") != "0"


# ---------------------------------------------------------------------------------------------
# plain tables


def test_plain_table_gets_one_concurrent_build(ci):
    c = ci
    c.psql("DROP TABLE IF EXISTS plain_t; CREATE TABLE plain_t AS SELECT g AS id, g % 100 AS k, md5(g::text) AS v "
           "FROM generate_series(1, 50000) g", db="app")
    rows, run = create_index(c, "'plain_t', ARRAY['k'], include => ARRAY['v']")
    assert [(r["index_name"], r["on_table"], r["message"]) for r in rows[:-1]] == [
        ("public.plain_t_k_idx", "public.plain_t",
         "CREATE INDEX CONCURRENTLY plain_t_k_idx ON public.plain_t USING btree (k) INCLUDE (v)")]
    assert rows[-1]["index_name"] == "public.plain_t_k_idx" and float(rows[-1]["duration_ms"]) >= 0
    assert outcome(c, run)[0] == "succeeded"
    assert indexes(c, "x.indrelid = 'plain_t'::regclass") == [
        ["plain_t_k_idx", "t", "", "CREATE INDEX plain_t_k_idx ON public.plain_t USING btree (k) INCLUDE (v)"]]
    # The default name is taken now: the next one gets _idx1.
    rows, run = create_index(c, "'plain_t', ARRAY['k'], method => 'hash'")
    assert rows[0]["index_name"] == "public.plain_t_k_idx1"
    assert outcome(c, run)[0] == "succeeded"
    nothing_invalid(c)


def test_quoted_identifiers_expressions_include_and_predicate(ci):
    c = ci
    c.psql('DROP SCHEMA IF EXISTS "Odd Schema" CASCADE; CREATE SCHEMA "Odd Schema"; '
           'CREATE TABLE "Odd Schema"."Weird Table" ("Col A" int, "Col B" text, id int); '
           'INSERT INTO "Odd Schema"."Weird Table" SELECT g, \'X\' || g, g FROM generate_series(1, 20000) g', db="app")
    rows, run = create_index(c, "'\"Odd Schema\".\"Weird Table\"', "
                                "ARRAY['Col A', '(lower(\"Col B\")) text_pattern_ops DESC'], include => ARRAY['id'], "
                                "predicate => '\"Col A\" > 10 AND \"Col B\" <> '';x''', index_name => 'Odd Index'")
    assert rows[0]["index_name"] == '"Odd Schema"."Odd Index"'
    assert rows[0]["message"] == ('CREATE INDEX CONCURRENTLY "Odd Index" ON "Odd Schema"."Weird Table" USING btree '
                                  '("Col A", (lower("Col B")) text_pattern_ops DESC) INCLUDE (id) '
                                  'WHERE ("Col A" > 10 AND "Col B" <> \';x\')')
    assert outcome(c, run)[0] == "succeeded"
    assert indexes(c, "x.indrelid = '\"Odd Schema\".\"Weird Table\"'::regclass") == [
        ['"Odd Schema"."Odd Index"', "t", "",
         'CREATE INDEX "Odd Index" ON "Odd Schema"."Weird Table" USING btree ("Col A", lower("Col B") text_pattern_ops DESC) '
         'INCLUDE (id) WHERE (("Col A" > 10) AND ("Col B" <> \';x\'::text))']]
    # A generated name keeps the table's and the columns' names as they are ("expr" for an expression).
    rows, run = create_index(c, "'\"Odd Schema\".\"Weird Table\"', ARRAY['Col B', '(\"Col A\" + 1)']")
    assert rows[0]["index_name"] == '"Odd Schema"."Weird Table_Col B_expr_idx"'
    assert outcome(c, run)[0] == "succeeded"
    nothing_invalid(c)


def test_unique_index_over_duplicates_leaves_nothing_behind(ci):
    c = ci
    c.psql("DROP TABLE IF EXISTS dup_t; CREATE TABLE dup_t AS SELECT g AS id FROM generate_series(1, 20000) g; "
           "INSERT INTO dup_t VALUES (7)", db="app")
    rows, run = create_index(c, "'dup_t', ARRAY['id'], is_unique => true")
    assert rows[0]["message"] == "CREATE UNIQUE INDEX CONCURRENTLY dup_t_id_idx ON public.dup_t USING btree (id)"
    status, message = outcome(c, run)
    assert status == "failed", message
    assert 'could not create unique index "dup_t_id_idx"' in message, message
    assert message.endswith("index public.dup_t_id_idx was not created; nothing this run built is left"), message
    assert indexes(c, "x.indrelid = 'dup_t'::regclass") == []
    nothing_invalid(c)


def test_a_build_that_hits_lock_timeout_is_removed_once_it_can_be(ci):
    c = ci
    c.psql("DROP TABLE IF EXISTS busy_t; CREATE TABLE busy_t AS SELECT g AS id FROM generate_series(1, 1000) g", db="app")
    # A writer keeps its transaction open: the build waits for it, up to lock_timeout, and fails.
    writer = background(c, "BEGIN; INSERT INTO busy_t VALUES (0); SELECT pg_sleep(60); COMMIT;\n", "ci_writer")
    try:
        rows, run = create_index(c, "'busy_t', ARRAY['id'], lock_timeout => '1 second'")
        # The INVALID index it leaves is set aside, and its DROP INDEX CONCURRENTLY waits for the
        # writer (a wait that blocks nobody) instead of giving up after lock_timeout.
        wait_for("the clean-up to wait for the writer", lambda: job_waiting(c, "%DROP INDEX CONCURRENTLY IF EXISTS%"))
        set_aside = indexes(c, "c.relname LIKE 'create_index_failed_%'")
        assert len(set_aside) == 1 and set_aside[0][1] == "f", set_aside
    finally:
        stop_background(c, writer, "ci_writer")
    status, message = outcome(c, run)
    assert status == "failed" and "canceling statement due to lock timeout" in message, message
    assert message.endswith("nothing this run built is left"), message
    assert indexes(c, "x.indrelid = 'busy_t'::regclass") == []
    nothing_invalid(c)


# ---------------------------------------------------------------------------------------------
# partitioned tables

EVENTS = """
DROP TABLE IF EXISTS events;
CREATE TABLE events (id bigint, tenant int, created date, v text) PARTITION BY RANGE (created);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01') PARTITION BY LIST (tenant);
CREATE TABLE events_2025_t1 PARTITION OF events_2025 FOR VALUES IN (1);
CREATE TABLE events_2025_rest PARTITION OF events_2025 DEFAULT;
CREATE TABLE events_default PARTITION OF events DEFAULT;
INSERT INTO events SELECT g, g % 3, date '2024-01-01' + (g % 700), md5(g::text) FROM generate_series(1, 100000) g;
"""


def test_partitioned_table_builds_each_leaf_concurrently_and_attaches_it(ci):
    c = ci
    c.psql(EVENTS, db="app")
    rows, run = create_index(c, "'events', ARRAY['tenant', 'created']")
    assert [(r["index_name"], r["message"]) for r in rows[:-1]] == [
        ("public.events_tenant_created_idx",
         "CREATE INDEX events_tenant_created_idx ON ONLY public.events USING btree (tenant, created)"),
        ("public.events_2025_tenant_created_idx",
         "CREATE INDEX events_2025_tenant_created_idx ON ONLY public.events_2025 USING btree (tenant, created); "
         "ALTER INDEX public.events_tenant_created_idx ATTACH PARTITION public.events_2025_tenant_created_idx"),
        ("public.events_2024_tenant_created_idx",
         "CREATE INDEX CONCURRENTLY events_2024_tenant_created_idx ON public.events_2024 USING btree (tenant, created); "
         "ALTER INDEX public.events_tenant_created_idx ATTACH PARTITION public.events_2024_tenant_created_idx"),
        ("public.events_default_tenant_created_idx",
         "CREATE INDEX CONCURRENTLY events_default_tenant_created_idx ON public.events_default USING btree (tenant, created); "
         "ALTER INDEX public.events_tenant_created_idx ATTACH PARTITION public.events_default_tenant_created_idx"),
        ("public.events_2025_rest_tenant_created_idx",
         "CREATE INDEX CONCURRENTLY events_2025_rest_tenant_created_idx ON public.events_2025_rest USING btree (tenant, created); "
         "ALTER INDEX public.events_2025_tenant_created_idx ATTACH PARTITION public.events_2025_rest_tenant_created_idx"),
        ("public.events_2025_t1_tenant_created_idx",
         "CREATE INDEX CONCURRENTLY events_2025_t1_tenant_created_idx ON public.events_2025_t1 USING btree (tenant, created); "
         "ALTER INDEX public.events_2025_tenant_created_idx ATTACH PARTITION public.events_2025_t1_tenant_created_idx"),
    ]
    assert "2 ON ONLY index(es), 4 concurrent build(s)" in rows[-1]["message"], rows[-1]
    assert outcome(c, run) == ("succeeded", "8 command(s) succeeded")
    got = [r[:3] for r in indexes(c, "c.relname LIKE 'events%tenant_created_idx'")]
    assert got == [
        ["events_2024_tenant_created_idx", "t", "events_tenant_created_idx"],
        ["events_2025_rest_tenant_created_idx", "t", "events_2025_tenant_created_idx"],
        ["events_2025_t1_tenant_created_idx", "t", "events_2025_tenant_created_idx"],
        ["events_2025_tenant_created_idx", "t", "events_tenant_created_idx"],
        ["events_default_tenant_created_idx", "t", "events_tenant_created_idx"],
        ["events_tenant_created_idx", "t", ""],
    ], got
    # The planner uses it, through the partitions.
    plan = "\n".join(r[0] for r in c.psql("SET enable_seqscan = off; EXPLAIN (COSTS OFF) "
                                           "SELECT * FROM events WHERE tenant = 1 AND created = '2025-03-01'", db="app"))
    assert "events_2025_t1_tenant_created_idx" in plan, plan
    nothing_invalid(c)


def test_partitions_created_or_attached_later_get_the_parent_index(ci):
    c = ci
    if not c.psql("SELECT 1 FROM pg_class WHERE relname = 'events_tenant_created_idx'", db="app"):
        test_partitioned_table_builds_each_leaf_concurrently_and_attaches_it(ci)
    c.psql("CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');"
           "CREATE TABLE events_2027 (LIKE events);"
           "INSERT INTO events_2027 VALUES (1, 1, '2027-05-01', 'x');"
           "ALTER TABLE events DETACH PARTITION events_default;"
           "ALTER TABLE events ATTACH PARTITION events_2027 FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');"
           "ALTER TABLE events ATTACH PARTITION events_default DEFAULT;"
           "CREATE TABLE events_2025_t3 PARTITION OF events_2025 FOR VALUES IN (3);", db="app")
    got = indexes(c, "x.indrelid IN ('events_2026'::regclass, 'events_2027'::regclass, 'events_2025_t3'::regclass)")
    assert [r[:3] for r in got] == [
        ["events_2025_t3_tenant_created_idx", "t", "events_2025_tenant_created_idx"],
        ["events_2026_tenant_created_idx", "t", "events_tenant_created_idx"],
        ["events_2027_tenant_created_idx", "t", "events_tenant_created_idx"]], got
    assert got[2][3] == "CREATE INDEX events_2027_tenant_created_idx ON public.events_2027 USING btree (tenant, created)"
    assert c.value("SELECT indisvalid FROM pg_index WHERE indexrelid = 'events_tenant_created_idx'::regclass", db="app") == "t"


def test_a_partition_created_during_the_build_gets_the_index_too(ci):
    c = ci
    c.psql("DROP TABLE IF EXISTS grow; CREATE TABLE grow (id int, k int) PARTITION BY RANGE (id);"
           "CREATE TABLE grow_1 PARTITION OF grow FOR VALUES FROM (0) TO (100);"
           "CREATE TABLE grow_2 PARTITION OF grow FOR VALUES FROM (100) TO (200);"
           "INSERT INTO grow SELECT g, g FROM generate_series(0, 199) g", db="app")
    # An old snapshot holds the first leaf's concurrent build back (it waits for older snapshots).
    holder = background(c, "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM pg_class; "
                           "SELECT pg_sleep(60); COMMIT;\n", "ci_snapshot")
    try:
        rows, run = create_index(c, "'grow', ARRAY['k'], lock_timeout => '1 min'")
        wait_for("the first build to wait", lambda: job_waiting(c, "%CREATE INDEX CONCURRENTLY grow_1_k_idx%"))
        # Meanwhile the ON ONLY index exists: a new partition gets its own index, attached.
        c.psql("CREATE TABLE grow_3 PARTITION OF grow FOR VALUES FROM (200) TO (300)", db="app")
        assert [r[:3] for r in indexes(c, "x.indrelid = 'grow_3'::regclass")] == [["grow_3_k_idx", "t", "grow_k_idx"]]
        assert c.value("SELECT indisvalid FROM pg_index WHERE indexrelid = 'grow_k_idx'::regclass", db="app") == "f"
    finally:
        stop_background(c, holder, "ci_snapshot")
    assert outcome(c, run)[0] == "succeeded"
    assert [r[:3] for r in indexes(c, "c.relname LIKE 'grow%'")] == [
        ["grow_1_k_idx", "t", "grow_k_idx"], ["grow_2_k_idx", "t", "grow_k_idx"],
        ["grow_3_k_idx", "t", "grow_k_idx"], ["grow_k_idx", "t", ""]]
    nothing_invalid(c)


def test_a_failed_leaf_build_removes_every_index_of_the_run(ci):
    c = ci
    c.psql("DROP TABLE IF EXISTS uq; CREATE TABLE uq (id int, day date, tenant int) PARTITION BY RANGE (day);"
           "CREATE TABLE uq_a PARTITION OF uq FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');"
           "CREATE TABLE uq_b PARTITION OF uq FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');"
           "CREATE TABLE uq_c PARTITION OF uq FOR VALUES FROM ('2026-01-01') TO ('2027-01-01') PARTITION BY LIST (tenant);"
           "CREATE TABLE uq_c1 PARTITION OF uq_c FOR VALUES IN (1);"
           "INSERT INTO uq SELECT g, date '2024-01-01' + g % 1000, 1 FROM generate_series(1, 30000) g;"
           # a duplicate in the second leaf: the first leaf is built and attached before it fails
           "INSERT INTO uq VALUES (5, '2025-06-01', 1), (5, '2025-06-01', 1);", db="app")
    rows, run = create_index(c, "'uq', ARRAY['id', 'day', 'tenant'], is_unique => true")
    assert [r["index_name"] for r in rows[:-1]] == [
        "public.uq_id_day_tenant_idx", "public.uq_c_id_day_tenant_idx", "public.uq_a_id_day_tenant_idx",
        "public.uq_b_id_day_tenant_idx", "public.uq_c1_id_day_tenant_idx"]
    status, message = outcome(c, run)
    assert status == "failed", message
    assert 'could not create unique index "uq_b_id_day_tenant_idx"' in message, message
    # the rest was not even started
    assert "CREATE UNIQUE INDEX CONCURRENTLY uq_c1_id_day_tenant_idx ON public.uq_c1 USING btree (id, day, tenant); " \
           "ALTER INDEX public.uq_c_id_day_tenant_idx ATTACH PARTITION public.uq_c1_id_day_tenant_idx: failed: " \
           "skipped: an earlier step of this create_index run did not succeed" in message, message
    assert message.endswith("index public.uq_id_day_tenant_idx was not created; nothing this run built is left"), message
    assert indexes(c, "c.relname LIKE 'uq%'") == []
    nothing_invalid(c)


def test_an_existing_equivalent_leaf_index_is_attached_not_rebuilt(ci):
    c = ci
    c.psql("DROP TABLE IF EXISTS ru; CREATE TABLE ru (id int, k int, v text) PARTITION BY RANGE (id);"
           "CREATE TABLE ru_1 PARTITION OF ru FOR VALUES FROM (0) TO (1000);"
           "CREATE TABLE ru_2 PARTITION OF ru FOR VALUES FROM (1000) TO (2000);"
           "CREATE TABLE ru_3 PARTITION OF ru FOR VALUES FROM (2000) TO (3000);"
           "INSERT INTO ru SELECT g, g % 10, 'x' FROM generate_series(0, 2999) g;"
           "CREATE INDEX ru_2_mine ON ru_2 (k) INCLUDE (v);"     # equivalent: attached
           "CREATE INDEX ru_3_desc ON ru_3 (k DESC) INCLUDE (v);", db="app")   # not (DESC): left alone
    rows, run = create_index(c, "'ru', ARRAY['k'], include => ARRAY['v']")
    assert [(r["index_name"], r["message"]) for r in rows[:-1]] == [
        ("public.ru_k_idx", "CREATE INDEX ru_k_idx ON ONLY public.ru USING btree (k) INCLUDE (v)"),
        ("public.ru_1_k_idx", "CREATE INDEX CONCURRENTLY ru_1_k_idx ON public.ru_1 USING btree (k) INCLUDE (v); "
                              "ALTER INDEX public.ru_k_idx ATTACH PARTITION public.ru_1_k_idx"),
        ("public.ru_2_mine", "existing equivalent index, to be attached: "
                             "ALTER INDEX public.ru_k_idx ATTACH PARTITION public.ru_2_mine"),
        ("public.ru_3_k_idx", "CREATE INDEX CONCURRENTLY ru_3_k_idx ON public.ru_3 USING btree (k) INCLUDE (v); "
                              "ALTER INDEX public.ru_k_idx ATTACH PARTITION public.ru_3_k_idx"),
    ]
    assert outcome(c, run)[0] == "succeeded"
    assert [r[:3] for r in indexes(c, "c.relname LIKE 'ru%'")] == [
        ["ru_1_k_idx", "t", "ru_k_idx"], ["ru_2_mine", "t", "ru_k_idx"], ["ru_3_desc", "t", ""],
        ["ru_3_k_idx", "t", "ru_k_idx"], ["ru_k_idx", "t", ""]]
    nothing_invalid(c)


# ---------------------------------------------------------------------------------------------
# refusals: nothing starts


def test_only_the_owner_may_create_the_index(ci):
    c = ci
    c.psql("DROP TABLE IF EXISTS owned; CREATE TABLE owned (id int, at date) PARTITION BY RANGE (at);"
           "CREATE TABLE owned_1 PARTITION OF owned FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');"
           "CREATE TABLE owned_2 PARTITION OF owned FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');"
           "ALTER TABLE owned OWNER TO ci_owner; ALTER TABLE owned_1 OWNER TO ci_owner; ALTER TABLE owned_2 OWNER TO ci_owner;"
           "GRANT SELECT ON owned TO ci_other", db="app")
    before = runs(c)
    state, out = sqlstate(c, "SELECT * FROM optimizer.create_index('owned', ARRAY['id'])", "app", user="ci_other")
    assert state == "42501", out
    assert "permission denied to create an index on public.owned" in out, out
    assert "HINT:  Only the owner of public.owned (role ci_owner)" in out, out
    # One partition owned by someone else is enough to refuse, before anything is built.
    c.psql("ALTER TABLE owned_2 OWNER TO ci_other", db="app")
    state, out = sqlstate(c, "SELECT * FROM optimizer.create_index('owned', ARRAY['id'])", "app", user="ci_owner")
    assert state == "42501" and "Partition public.owned_2 of public.owned is owned by role ci_other" in out, out
    assert runs(c) == before
    assert indexes(c, "c.relname LIKE 'owned%'") == []
    # The owner may; the worker builds as the owner, and the owner sees the run.
    c.psql("ALTER TABLE owned_2 OWNER TO ci_owner", db="app")
    rows, run = create_index(c, "'owned', ARRAY['id']", user="ci_owner")
    assert outcome(c, run, user="ci_owner")[0] == "succeeded"
    assert c.psql("SELECT DISTINCT c.relowner::regrole::text FROM pg_class c WHERE c.relname LIKE 'owned%id_idx'",
                  db="app") == [["ci_owner"]]
    assert c.value(f"SELECT owner::text FROM optimizer.job_runs WHERE run_id = {run}", db="app") == "ci_owner"


@pytest.mark.parametrize("args, state, text", [
    ("'plain_t', ARRAY['nope']", "42703", 'column "nope" of public.plain_t does not exist'),
    ("'plain_t', ARRAY['\"k\"']", "42703", "Give column names as they are"),
    ("'plain_t', ARRAY['(k + 1); DROP TABLE plain_t; --']", "42601", "expression or predicate not accepted"),
    ("'plain_t', ARRAY['k'], predicate => 'k > 0) WHERE (true'", "42601", "unbalanced parentheses"),
    ("'plain_t', ARRAY['(no_such_function(k))']", "42883", "function no_such_function(integer) does not exist"),
    ("'plain_t', ARRAY['k'], method => 'bogus'", "42704", "One of: brin, btree, gin, gist, hash, spgist"),
    ("'plain_t', ARRAY['k'], method => 'hash', include => ARRAY['v']", "0A000", "does not support included columns"),
    ("'plain_t', ARRAY['k'], index_name => 'plain_t_k_idx'", "42P07", 'relation "plain_t_k_idx" already exists'),
    ("'plain_t', '{}'", "22023", "at least one column"),
    ("'pg_class', ARRAY['oid']", "42501", "is a system table"),
    ("'events', ARRAY['id'], is_unique => true", "0A000", "must contain its partition key columns"),
])
def test_bad_arguments_are_refused_before_anything_starts(ci, args, state, text):
    c = ci
    if not c.psql("SELECT 1 FROM pg_class WHERE relname = 'plain_t'", db="app"):
        test_plain_table_gets_one_concurrent_build(ci)
    if not c.psql("SELECT 1 FROM pg_class WHERE relname = 'events'", db="app"):
        c.psql(EVENTS, db="app")
    before = runs(c)
    got, out = sqlstate(c, f"SELECT * FROM optimizer.create_index({args})", "app")
    assert got == state and text in out, out
    assert runs(c) == before
    assert c.value("SELECT count(*) FROM plain_t", db="app") != "0"
