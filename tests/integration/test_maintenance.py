"""Maintenance actions and statement history on a real preloaded server: analyze_stale,
vacuum_needed, reindex_bloated (through run_in_worker), the materialized view registry and
refresh_matviews, who may maintain what, and statement_history / statement_trends / regressions
with their NOTIFY alert.

Autovacuum is off and the built-in snapshot job is off (pg_optimizer.snapshot_interval = 0) so
that nothing but the test touches the tables' statistics or the history. Activity statistics are
flushed explicitly (pg_stat_force_next_flush, in the session that did the work) before they are
read."""

import json
import re

import pytest

from test_predicates import new_cluster, psql_session

PORT = 5625


@pytest.fixture(scope="module")
def m():
    c = new_cluster("maintenance", PORT, {"autovacuum": "off", "pg_optimizer.snapshot_interval": "0"})
    c.psql("DO $$ BEGIN "
           "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'maint_other') THEN CREATE ROLE maint_other LOGIN; "
           "END IF; "
           "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hist_user') THEN CREATE ROLE hist_user LOGIN; "
           "END IF; END $$;")
    c.psql("CREATE SCHEMA maint_other_s AUTHORIZATION maint_other", db="app")
    yield c
    c.assert_healthy_log()
    c.stop()


FLUSH = "SELECT pg_stat_force_next_flush();"


def run(c, call, where="true", user="postgres", cols="relation::text, command, reason, status"):
    """Rows of `SELECT ... FROM optimizer.<call>` (relation as text: unqualified for public)."""
    return c.psql(f"SELECT {cols} FROM optimizer.{call} WHERE {where}", db="app", user=user)


def on(rel):
    return f"relation::text = '{rel}'"


# ---------------------------------------------------------------------------------------------
# analyze_stale


def test_never_analyzed_table_is_listed_then_analyzed(m):
    c = m
    c.psql("DROP TABLE IF EXISTS ana_t; CREATE TABLE ana_t (id int, v text);"
           "INSERT INTO ana_t SELECT g, md5(g::text) FROM generate_series(1, 20000) g;" + FLUSH, db="app")
    assert run(c, "analyze_stale(dry_run => true)", on("ana_t")) == [
        ["ana_t", "ANALYZE public.ana_t", "never analyzed (about 20000 rows)", "would run"]]
    # a dry run does nothing
    assert c.value("SELECT last_analyze IS NULL FROM pg_stat_user_tables WHERE relname = 'ana_t'", db="app") == "t"

    assert run(c, "analyze_stale()", on("ana_t"), cols="command, status") == [["ANALYZE public.ana_t", "done"]]
    assert c.value("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'ana_t'",
                   db="app") == "t"
    assert c.value("SELECT reltuples FROM pg_class WHERE relname = 'ana_t'", db="app") == "20000"
    assert c.value("SELECT count(*) FROM pg_stats WHERE tablename = 'ana_t'", db="app") == "2"
    assert run(c, "analyze_stale(true)", on("ana_t")) == []


def test_changed_rows_make_a_table_stale_by_both_thresholds(m):
    c = m
    c.psql("DROP TABLE IF EXISTS chg_t; CREATE TABLE chg_t (id int, v int);"
           "INSERT INTO chg_t SELECT g, g FROM generate_series(1, 20000) g;" + FLUSH + "ANALYZE chg_t;", db="app")
    assert run(c, "analyze_stale(true)", on("chg_t")) == []
    c.psql("UPDATE chg_t SET v = v + 1 WHERE id <= 10000;" + FLUSH, db="app")
    assert run(c, "analyze_stale(true)", on("chg_t"), cols="reason, status") == [
        ["10000 rows changed since last analyze (50% of 20000)", "would run"]]
    # each threshold on its own keeps it off the list
    assert run(c, "analyze_stale(true, changed_fraction => 0.6)", on("chg_t")) == []
    assert run(c, "analyze_stale(true, min_changed_rows => 10001)", on("chg_t")) == []
    assert run(c, "analyze_stale()", on("chg_t"), cols="status") == [["done"]]
    assert run(c, "analyze_stale(true)", on("chg_t")) == []


def test_misestimated_scans_make_a_table_stale(m):
    c = m
    # v was unique when analyzed; now every row has v = 1: "v = 1" is estimated at ~1 row and
    # returns 10000
    c.psql("DROP TABLE IF EXISTS mis_t; CREATE TABLE mis_t (id int, v int);"
           "INSERT INTO mis_t SELECT g, g FROM generate_series(1, 10000) g;" + FLUSH + "ANALYZE mis_t;"
           "UPDATE mis_t SET v = 1;" + FLUSH, db="app")
    c.psql("SELECT count(*) FROM mis_t WHERE v = 1;" * 3, db="app")
    no_change_rule = "min_changed_rows => 1000000000"
    rows = run(c, f"analyze_stale(true, {no_change_rule})", on("mis_t"), cols="command, reason, status")
    assert len(rows) == 1, rows
    assert rows[0][0] == "ANALYZE public.mis_t" and rows[0][2] == "would run"
    assert re.fullmatch(r"row estimates off by [\d.]+x \(mean q-error\) in \d+ plan node\(s\) since last analyze",
                        rows[0][1]), rows
    # a higher bar than the q-error leaves it out
    assert run(c, f"analyze_stale(true, {no_change_rule}, misestimate_factor => 1e9)", on("mis_t")) == []
    assert run(c, f"analyze_stale({no_change_rule})", on("mis_t"), cols="status") == [["done"]]
    # the misestimate was seen before this analyze: not a reason any more
    assert run(c, f"analyze_stale(true, {no_change_rule})", on("mis_t")) == []


def test_analyze_stale_refuses_null_arguments(m):
    c = m
    c.psql("SELECT * FROM optimizer.analyze_stale(NULL)", db="app", check=False)
    assert "must not be NULL" in c.last_stderr


# ---------------------------------------------------------------------------------------------
# vacuum_needed


def test_dead_rows_are_vacuumed_in_a_worker(m):
    c = m
    c.psql("DROP TABLE IF EXISTS vac_t; CREATE TABLE vac_t (id int, v int);"
           "INSERT INTO vac_t SELECT g, g FROM generate_series(1, 20000) g;" + FLUSH + "VACUUM ANALYZE vac_t;"
           "DELETE FROM vac_t WHERE id % 2 = 0;" + FLUSH, db="app")
    assert run(c, "vacuum_needed(dry_run => true)", on("vac_t")) == [
        ["vac_t", "VACUUM public.vac_t", "10000 dead rows (50% of 20000)", "would run"]]
    assert run(c, "vacuum_needed(true, dead_fraction => 0.6)", on("vac_t")) == []
    assert run(c, "vacuum_needed(true, min_dead_rows => 10001)", on("vac_t")) == []

    before = c.value("SELECT coalesce(vacuum_count, 0) FROM pg_stat_user_tables WHERE relname = 'vac_t'", db="app")
    assert run(c, "vacuum_needed()", on("vac_t"), cols="command, status") == [["VACUUM public.vac_t", "done"]]
    assert c.psql("SELECT vacuum_count > %s, n_dead_tup FROM pg_stat_user_tables WHERE relname = 'vac_t'" % before,
                  db="app") == [["t", "0"]]
    assert run(c, "vacuum_needed(true)", on("vac_t")) == []


def test_old_transaction_ids_get_vacuum_freeze_first(m):
    c = m
    c.psql("DROP TABLE IF EXISTS frz_t; CREATE TABLE frz_t (id int);"
           "INSERT INTO frz_t SELECT generate_series(1, 100);" + FLUSH, db="app")
    c.psql("SELECT txid_current();" * 3, db="app")   # age(relfrozenxid) >= 3
    rows = run(c, "vacuum_needed(true, freeze_age => 2)", on("frz_t"), cols="command, reason, status")
    assert len(rows) == 1 and rows[0][0] == "VACUUM (FREEZE) public.frz_t" and rows[0][2] == "would run", rows
    assert re.match(r"transaction ID age \d+ >= 2", rows[0][1]), rows
    # tables over the age come before the ones with only dead rows
    kinds = [r[0].startswith("VACUUM (FREEZE)") for r in run(c, "vacuum_needed(true, freeze_age => 2)",
                                                             cols="command")]
    assert kinds == sorted(kinds, reverse=True), kinds
    age = int(c.value("SELECT age(relfrozenxid) FROM pg_class WHERE relname = 'frz_t'", db="app"))
    assert run(c, "vacuum_needed(freeze_age => 2)", on("frz_t"), cols="status") == [["done"]]
    assert int(c.value("SELECT age(relfrozenxid) FROM pg_class WHERE relname = 'frz_t'", db="app")) < age


# ---------------------------------------------------------------------------------------------
# reindex_bloated


def bloated_index(c):
    # ids in order: leaf pages filled to the btree fillfactor; deleting 9 rows in 10 then leaves
    # every leaf page 1/10 full, and VACUUM only empties pages it can delete (none here)
    c.psql("DROP TABLE IF EXISTS bloat_t; CREATE TABLE bloat_t (id int PRIMARY KEY, pad int);"
           "INSERT INTO bloat_t SELECT g, g FROM generate_series(1, 200000) g;" + FLUSH +
           "DELETE FROM bloat_t WHERE id % 10 <> 0;" + FLUSH + "VACUUM ANALYZE bloat_t;", db="app")
    return int(c.value("SELECT pg_relation_size('bloat_t_pkey')", db="app"))


MB = 1048576


def test_bloated_index_is_listed_with_its_estimate(m):
    c = m
    size = bloated_index(c)
    rows = run(c, f"reindex_bloated(dry_run => true, min_bloat_bytes => {MB})", on("bloat_t_pkey"),
               cols="command, reason, status")
    assert len(rows) == 1, rows
    assert rows[0][0] == "REINDEX INDEX CONCURRENTLY public.bloat_t_pkey" and rows[0][2] == "would run", rows
    pct = int(re.fullmatch(r"estimated bloat .+ of .+ \((\d+)%\)", rows[0][1]).group(1))
    assert 80 <= pct <= 95, rows          # 90% of the entries are gone
    # the thresholds
    assert run(c, f"reindex_bloated(true, bloat_fraction => 0.97, min_bloat_bytes => {MB})", on("bloat_t_pkey")) == []
    assert run(c, f"reindex_bloated(true, min_bloat_bytes => {size})", on("bloat_t_pkey")) == []
    # a freshly built index is not bloated
    c.psql("DROP TABLE IF EXISTS tidy_t; CREATE TABLE tidy_t (id int PRIMARY KEY);"
           "INSERT INTO tidy_t SELECT generate_series(1, 200000); VACUUM ANALYZE tidy_t;", db="app")
    assert run(c, "reindex_bloated(true, min_bloat_bytes => 0)", on("tidy_t_pkey")) == []


def test_size_cap_skips_the_index_and_says_so(m):
    c = m
    bloated_index(c)
    for call in (f"reindex_bloated(true, min_bloat_bytes => {MB}, max_index_bytes => {MB})",
                 f"reindex_bloated(min_bloat_bytes => {MB}, max_index_bytes => {MB})"):
        rows = run(c, call, on("bloat_t_pkey"), cols="reason, status")
        assert len(rows) == 1, rows
        assert "larger than max_index_bytes (1024 kB)" in rows[0][0], rows
        assert rows[0][1].startswith("skipped: index size") and "max_index_bytes" in rows[0][1], rows
    # nothing was rebuilt
    assert int(c.value("SELECT pg_relation_size('bloat_t_pkey')", db="app")) > 2 * MB


def test_bloated_index_is_rebuilt_concurrently_and_shrinks(m):
    """REINDEX INDEX CONCURRENTLY waits for every older snapshot, the caller's included, so
    reindex_bloated() hands it to a worker it does not wait for: the row says 'started', the
    outcome is a run of 'reindex_bloated' in optimizer.job_runs."""
    import time
    c = m
    before = bloated_index(c)
    old_oid = c.value("SELECT 'bloat_t_pkey'::regclass::oid", db="app")
    rows = c.psql(f"SELECT relation::text, status FROM optimizer.reindex_bloated(min_bloat_bytes => {MB}) "
                  "WHERE relation::text = 'bloat_t_pkey'", db="app")
    assert len(rows) == 1 and rows[0][1].startswith("started: running as run "), rows
    run_id = re.search(r"run (\d+)", rows[0][1]).group(1)
    deadline = time.time() + 60
    while True:
        done = c.psql(f"SELECT job, status, message FROM optimizer.job_runs WHERE run_id = {run_id} "
                      "AND status NOT IN ('starting', 'running')", db="app")
        if done:
            break
        assert time.time() < deadline, "the reindex run did not end"
        time.sleep(0.2)
    assert done == [["reindex_bloated", "succeeded", "1 command(s) succeeded"]], done
    new_oid = c.value("SELECT 'bloat_t_pkey'::regclass::oid", db="app")
    assert new_oid != old_oid, (old_oid, new_oid)   # the rebuilt index
    after = int(c.value("SELECT pg_relation_size('bloat_t_pkey')", db="app"))
    assert after < before / 4, (before, after)
    assert c.value("SELECT indisvalid FROM pg_index WHERE indexrelid = 'bloat_t_pkey'::regclass", db="app") == "t"
    assert run(c, f"reindex_bloated(true, min_bloat_bytes => {MB})", on("bloat_t_pkey")) == []


# ---------------------------------------------------------------------------------------------
# materialized views


def test_matviews_refresh_concurrently_only_when_possible(m):
    c = m
    c.psql("DROP TABLE IF EXISTS mv_base CASCADE; CREATE TABLE mv_base (id int PRIMARY KEY, v int);"
           "INSERT INTO mv_base SELECT g, g FROM generate_series(1, 100) g;"
           "CREATE MATERIALIZED VIEW mv_uniq AS SELECT id, v FROM mv_base;"
           "CREATE UNIQUE INDEX mv_uniq_id ON mv_uniq (id);"
           "CREATE MATERIALIZED VIEW mv_plain AS SELECT id, v FROM mv_base;"
           "CREATE MATERIALIZED VIEW mv_partial AS SELECT id, v FROM mv_base;"
           "CREATE UNIQUE INDEX ON mv_partial (id) WHERE id > 0;"
           "CREATE MATERIALIZED VIEW mv_empty AS SELECT id FROM mv_base WITH NO DATA;"
           "CREATE UNIQUE INDEX ON mv_empty (id);"
           "SELECT optimizer.register_matview('mv_uniq'), optimizer.register_matview('mv_plain'),"
           "       optimizer.register_matview('mv_partial'), optimizer.register_matview('mv_empty');", db="app")
    assert c.psql("SELECT matview::text, registered_by::text FROM optimizer.matviews ORDER BY 1", db="app") == [
        ["mv_empty", "postgres"], ["mv_partial", "postgres"], ["mv_plain", "postgres"], ["mv_uniq", "postgres"]]
    rows = run(c, "refresh_matviews(dry_run => true)", cols="relation::text, command, reason, status")
    assert rows == [
        ["mv_empty", "REFRESH MATERIALIZED VIEW public.mv_empty",
         "not concurrently: not populated yet (WITH NO DATA)", "would run"],
        ["mv_partial", "REFRESH MATERIALIZED VIEW public.mv_partial",
         "not concurrently: no valid unique index on plain columns without WHERE", "would run"],
        ["mv_plain", "REFRESH MATERIALIZED VIEW public.mv_plain",
         "not concurrently: no valid unique index on plain columns without WHERE", "would run"],
        ["mv_uniq", "REFRESH MATERIALIZED VIEW CONCURRENTLY public.mv_uniq",
         "concurrently: populated, with unique index public.mv_uniq_id", "would run"],
    ], rows

    c.psql("INSERT INTO mv_base SELECT g, g FROM generate_series(101, 150) g", db="app")
    filenode = "SELECT pg_relation_filenode('%s')"
    uniq_before, plain_before = (c.value(filenode % v, db="app") for v in ("mv_uniq", "mv_plain"))
    assert run(c, "refresh_matviews()", cols="relation::text, status") == [
        ["mv_empty", "done"], ["mv_partial", "done"], ["mv_plain", "done"], ["mv_uniq", "done"]]
    for v in ("mv_uniq", "mv_plain", "mv_partial", "mv_empty"):
        assert c.value(f"SELECT count(*) FROM {v}", db="app") == "150", v
    # CONCURRENTLY applies the difference in place; a plain REFRESH swaps in a new heap
    assert c.value(filenode % "mv_uniq", db="app") == uniq_before
    assert c.value(filenode % "mv_plain", db="app") != plain_before


def test_matview_registry_checks_and_privileges(m):
    c = m
    c.psql("DROP TABLE IF EXISTS reg_base CASCADE; CREATE TABLE reg_base (id int);"
           "CREATE MATERIALIZED VIEW reg_mv AS SELECT id FROM reg_base;", db="app")
    c.psql("SELECT optimizer.register_matview('reg_base')", db="app", check=False)
    assert "is not a materialized view" in c.last_stderr and "HINT" in c.last_stderr
    # another role may read the registry but not register what it does not own, nor write it
    c.psql("SELECT optimizer.register_matview('reg_mv')", db="app", user="maint_other", check=False)
    assert "permission denied to register" in c.last_stderr and "HINT" in c.last_stderr
    c.psql("INSERT INTO optimizer.matviews (matview) VALUES ('reg_mv')", db="app", user="maint_other", check=False)
    assert "violates row-level security policy" in c.last_stderr
    # ... not even from a job's worker, whose session user is the bootstrap superuser
    out = c.psql("SELECT status, message FROM optimizer.run_in_worker(ARRAY['SELECT optimizer.register_matview(''reg_mv'')'])",
                 db="app", user="maint_other")
    assert out[0][0] == "failed" and "permission denied to register" in out[0][1], out
    c.psql("SELECT optimizer.register_matview('reg_mv')", db="app")
    # a direct DELETE by another role removes nothing
    assert c.psql("DELETE FROM optimizer.matviews RETURNING matview", db="app", user="maint_other") == []
    assert c.value("SELECT count(*) FROM optimizer.matviews WHERE matview = 'reg_mv'::regclass", db="app") == "1"
    # nor refresh it through the function
    assert run(c, "refresh_matviews(true)", user="maint_other") == []
    c.psql("SELECT optimizer.unregister_matview('reg_mv')", db="app", user="maint_other", check=False)
    assert "permission denied to unregister" in c.last_stderr
    # its owner registers its own
    c.psql("CREATE MATERIALIZED VIEW maint_other_s.own_mv AS SELECT 1 AS x;"
           "SELECT optimizer.register_matview('maint_other_s.own_mv');", db="app", user="maint_other")
    assert c.value("SELECT registered_by::text FROM optimizer.matviews WHERE matview = 'maint_other_s.own_mv'::regclass",
                   db="app") == "maint_other"
    assert run(c, "refresh_matviews()", user="maint_other") == [
        ["maint_other_s.own_mv", "REFRESH MATERIALIZED VIEW maint_other_s.own_mv",
         "not concurrently: no valid unique index on plain columns without WHERE", "done"]]
    # unregistering: true once, then false
    assert c.value("SELECT optimizer.unregister_matview('reg_mv')", db="app") == "t"
    assert c.value("SELECT optimizer.unregister_matview('reg_mv')", db="app") == "f"
    # a dropped view's entry can still be removed by its OID, by whoever registered it
    oid = c.value("SELECT 'maint_other_s.own_mv'::regclass::oid", db="app")
    c.psql("DROP MATERIALIZED VIEW maint_other_s.own_mv", db="app", user="maint_other")
    assert c.value(f"SELECT optimizer.unregister_matview({oid})", db="app", user="maint_other") == "t"


# ---------------------------------------------------------------------------------------------
# who may maintain what


def test_a_non_owner_sees_none_of_another_roles_relations(m):
    c = m
    c.psql("DROP TABLE IF EXISTS not_mine; CREATE TABLE not_mine (id int PRIMARY KEY);"
           "INSERT INTO not_mine SELECT generate_series(1, 5000);" + FLUSH, db="app")
    c.psql("DROP TABLE IF EXISTS maint_other_s.mine; CREATE TABLE maint_other_s.mine (id int PRIMARY KEY);"
           "INSERT INTO maint_other_s.mine SELECT generate_series(1, 5000);" + FLUSH, db="app", user="maint_other")
    calls = ["analyze_stale(true)", "vacuum_needed(true, freeze_age => 1)",
             "reindex_bloated(true, bloat_fraction => 0, min_bloat_bytes => 0)", "refresh_matviews(true)"]
    for call in calls:
        theirs = [r[0] for r in run(c, call, user="maint_other", cols="relation::text")]
        assert all(r.startswith("maint_other_s.") for r in theirs), (call, theirs)
    assert "maint_other_s.mine" in [r[0] for r in run(c, "analyze_stale(true)", user="maint_other",
                                                      cols="relation::text")]
    # the superuser sees both
    mine = [r[0] for r in run(c, "analyze_stale(true)", cols="relation::text")]
    assert "not_mine" in mine and "maint_other_s.mine" in mine, mine
    # and doing it as the other role touches only its own
    run(c, "analyze_stale()", user="maint_other")
    assert c.psql("SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables "
                  "WHERE relname IN ('not_mine', 'mine') ORDER BY 1", db="app") == [["mine", "t"], ["not_mine", "f"]]


# ---------------------------------------------------------------------------------------------
# statement history


PROBE = "SELECT trend_probe($1)"


def probe_calls(c, delay, n=30, user="postgres"):
    # A quoted literal: the same query id for 0 and 0.01 (an integer and a numeric constant would
    # be two statements).
    c.psql(f"SELECT trend_probe('{delay}');" * n, db="app", user=user)


def test_regression_is_detected_and_announced_once(m):
    c = m
    c.psql("CREATE OR REPLACE FUNCTION trend_probe(s float8) RETURNS void LANGUAGE sql AS 'SELECT pg_sleep(s)'",
           db="app")
    # baseline: fast calls, snapshotted, then moved two hours back
    probe_calls(c, 0)
    c.psql("SELECT optimizer.snapshot_statements()", db="app")
    queryid = c.value(f"SELECT queryid FROM optimizer.statements WHERE query = '{PROBE}' AND userid = 10", db="app")
    mine = f"queryid = {queryid} AND userid = 10"
    assert c.psql(f"SELECT calls FROM optimizer.statement_history WHERE {mine}", db="app") == [["30"]]
    c.psql("UPDATE optimizer.statement_history SET snapshot_at = snapshot_at - interval '2 hours'", db="app")

    # now: the same statement, slower
    probe_calls(c, 0.01)
    out, err = psql_session(c, "LISTEN pg_optimizer_alerts;\nSELECT optimizer.snapshot_statements();\n")
    assert "ERROR" not in err, err
    # the history holds deltas: 30 calls in each interval, not 30 then 60
    assert c.psql(f"SELECT calls FROM optimizer.statement_history WHERE {mine} ORDER BY snapshot_at",
                  db="app") == [["30"], ["30"]]

    row = c.psql("SELECT query, calls_now, calls_baseline, trend, change_factor >= 2, mean_ms_now >= 10 "
                 f"FROM optimizer.statement_trends WHERE {mine}", db="app")
    assert row == [[PROBE, "30", "30", "regressing", "t", "t"]], row
    assert c.psql(f"SELECT queryid, extra_ms_now > 0 FROM optimizer.regressions WHERE {mine}",
                  db="app") == [[queryid, "t"]]

    notes = re.findall(r'Asynchronous notification "pg_optimizer_alerts" with payload "(.*)" received', out)
    alerts = [json.loads(n) for n in notes]
    probe = [a for a in alerts if str(a["queryid"]) == queryid]
    assert len(probe) == 1, out
    a = probe[0]
    assert a["query"] == PROBE and a["factor"] >= 2 and a["mean_now_ms"] > a["mean_baseline_ms"], a
    assert str(a["userid"]) == "10" and "dbid" in a, a

    # still regressing at the next snapshot: not announced again
    out, err = psql_session(c, "LISTEN pg_optimizer_alerts;\nSELECT optimizer.snapshot_statements();\n")
    assert queryid not in out, out
    assert c.value(f"SELECT count(*) FROM optimizer.regression_alerts WHERE {mine}", db="app") == "1"

    # once it is no longer in the recent window the episode ends
    c.psql("UPDATE optimizer.statement_history SET snapshot_at = snapshot_at - interval '2 hours'", db="app")
    c.psql("SELECT optimizer.snapshot_statements()", db="app")
    assert c.value(f"SELECT count(*) FROM optimizer.regression_alerts WHERE {mine}", db="app") == "0"
    assert c.psql(f"SELECT 1 FROM optimizer.statement_trends WHERE {mine}", db="app") == []


def test_history_shows_each_user_only_their_own_statements(m):
    c = m
    c.psql("CREATE OR REPLACE FUNCTION trend_probe(s float8) RETURNS void LANGUAGE sql AS 'SELECT pg_sleep(s)'",
           db="app")
    probe_calls(c, 0, n=3, user="hist_user")
    probe_calls(c, 0, n=3)
    c.psql("SELECT optimizer.snapshot_statements()", db="app")
    users = c.psql(f"SELECT DISTINCT username FROM optimizer.statement_trends WHERE query = '{PROBE}' ORDER BY 1",
                   db="app")
    assert users == [["hist_user"], ["postgres"]], users
    seen = c.psql("SELECT DISTINCT username FROM optimizer.statement_trends", db="app", user="hist_user")
    assert seen == [["hist_user"]], seen
    assert c.psql(f"SELECT query FROM optimizer.statement_trends WHERE query = '{PROBE}'", db="app",
                  user="hist_user") == [[PROBE]]
    c.psql("SELECT count(*) FROM optimizer.regressions", db="app", user="hist_user")
    for table in ("statement_history", "statement_history_last", "regression_alerts"):
        c.psql(f"SELECT count(*) FROM optimizer.{table}", db="app", user="hist_user", check=False)
        assert "permission denied" in c.last_stderr, table
    c.psql("SELECT optimizer.snapshot_statements()", db="app", user="hist_user", check=False)
    assert "permission denied for function snapshot_statements" in c.last_stderr
    # pg_read_all_stats sees everyone's
    c.psql("GRANT pg_read_all_stats TO hist_user", db="app")
    try:
        seen = c.psql(f"SELECT DISTINCT username FROM optimizer.statement_trends WHERE query = '{PROBE}' ORDER BY 1",
                      db="app", user="hist_user")
        assert seen == [["hist_user"], ["postgres"]], seen
    finally:
        c.psql("REVOKE pg_read_all_stats FROM hist_user", db="app")
