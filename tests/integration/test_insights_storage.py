"""Storage insights (src/sql/insights_storage.sql): table_bloat, index_bloat, stale_statistics,
vacuum_health, wraparound_risk, cache_hit, sequence_exhaustion.

Each test works in a database of its own (created and dropped by the test), so that one test's
tables, dead rows or block reads never show up in another's views. autovacuum is off for the
server (so that nothing but the test analyzes, vacuums or freezes), except while a test turns it
on, and shared_buffers is small (16MB) so that a 100 MB table cannot be cached.

For each view: a crafted problem gives its finding, with its severity, and its recommendation
(run it when it is SQL) makes the finding go away; a clean database gives none."""

import re
import subprocess

import pytest

from conftest import PG_BIN, Cluster

PORT = 5650
VIEWS = ["table_bloat", "index_bloat", "stale_statistics", "vacuum_health", "wraparound_risk", "cache_hit",
         "sequence_exhaustion"]
FLUSH = "SELECT pg_stat_force_next_flush();"


@pytest.fixture(scope="module")
def c():
    cl = Cluster("insights-storage", PORT, {"autovacuum": "off", "shared_buffers": "16MB",
                                            "pg_optimizer.scheduler": "off"})
    try:
        cl.stop()
    except subprocess.CalledProcessError:
        pass
    cl.init().start()
    yield cl
    cl.assert_healthy_log()
    cl.stop()


def newdb(c, name):
    c.psql(f"DROP DATABASE IF EXISTS {name}")
    c.psql(f"CREATE DATABASE {name}")
    c.psql("CREATE EXTENSION pg_optimizer", db=name)
    return name


def dropdb(c, name):
    c.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def rows(c, db, view, cols="*", where="true"):
    return c.psql(f"SELECT {cols} FROM optimizer.{view} WHERE {where}", db=db)


def one(c, db, view, cols, where="true"):
    r = rows(c, db, view, cols, where)
    assert len(r) == 1, r
    return r[0]


# ---------------------------------------------------------------------------------------------


def test_clean_database_has_no_findings(c):
    db = newdb(c, "clean")
    c.psql("CREATE TABLE t (id serial PRIMARY KEY, v text);"
           "INSERT INTO t (v) SELECT md5(g::text) FROM generate_series(1, 5000) g;" + FLUSH +
           "VACUUM ANALYZE t;", db=db)
    for v in VIEWS:
        assert rows(c, db, v) == [], v
    # everyone may read them
    c.psql("DROP ROLE IF EXISTS storage_reader; CREATE ROLE storage_reader LOGIN")
    for v in VIEWS:
        assert c.psql(f"SELECT count(*) FROM optimizer.{v}", db=db, user="storage_reader") == [["0"]], v
    dropdb(c, db)


def test_mass_update_bloats_table_and_index(c):
    db = newdb(c, "bloat")
    c.psql("CREATE TABLE b (id int PRIMARY KEY, v int, pad text) WITH (autovacuum_enabled = false);"
           "INSERT INTO b SELECT g, g, repeat('x', 20) FROM generate_series(1, 1000000) g;" + FLUSH +
           "VACUUM ANALYZE b;"
           # every row gets a new version (and a new key in b_pkey): the table and the index double
           "UPDATE b SET id = id + 2000000;" + FLUSH + "ANALYZE b;", db=db)
    # before VACUUM: half of the table is dead rows, and VACUUM is what to run
    tb = one(c, db, "table_bloat", "table_name, bloat_pct, severity, recommendation")
    assert tb[0] == "b" and 45 <= float(tb[1]) <= 55 and tb[2] == "warning", tb
    assert tb[3].startswith("VACUUM (ANALYZE) b;"), tb
    c.psql(tb[3], db=db)
    # after it the space is free but still allocated: VACUUM FULL (or pg_repack)
    tb = one(c, db, "table_bloat", "table_name, table_bytes, bloat_bytes, bloat_pct, severity, evidence, recommendation")
    assert tb[0] == "b" and 45 <= float(tb[3]) <= 55 and tb[4] == "warning", tb
    assert tb[6].startswith("VACUUM (FULL, ANALYZE) b;") and "pg_repack" in tb[6], tb
    assert re.match(r"\d+ MB of \d+ MB \(50%\) estimated wasted", tb[5]), tb

    ib = one(c, db, "index_bloat", "index_name, table_name, index_bytes, bloat_bytes, bloat_pct, severity, recommendation")
    assert ib[:2] == ["b_pkey", "b"] and 45 <= float(ib[4]) <= 55 and ib[5] == "warning", ib
    assert ib[6] == "REINDEX INDEX CONCURRENTLY b_pkey;"
    # the same index reindex_bloated would rebuild
    assert c.psql("SELECT relation::text FROM optimizer.reindex_bloated(dry_run => true)", db=db) == [["b_pkey"]]

    # How close the estimate is to what pgstattuple measures (reading every page). Measured on
    # PostgreSQL 15, 8 kB blocks: table estimate 60 235 776 bytes (50.0 %) vs pgstattuple
    # free_space 60 029 864 (49.8 %) after the VACUUM; index estimate 22 544 384 bytes (2 752
    # pages) vs 2 741 deleted pages (22 454 272 bytes) with leaf density 90.06 %: within 0.5 %.
    # A freshly loaded copy of the table is estimated at exactly its size (7 353 pages).
    c.psql("CREATE EXTENSION IF NOT EXISTS pgstattuple", db=db)
    table_len, free = map(int, c.psql("SELECT table_len, free_space + dead_tuple_len FROM pgstattuple('b')", db=db)[0])
    assert abs(int(tb[2]) - free) < 0.05 * table_len, (tb, table_len, free)
    deleted = int(c.value("SELECT (deleted_pages + empty_pages) * 8192 FROM pgstatindex('b_pkey')", db=db))
    assert abs(int(ib[3]) - deleted) < 0.05 * int(ib[2]), (ib, deleted)

    c.psql(ib[6], db=db)
    assert rows(c, db, "index_bloat") == []
    c.psql(tb[6], db=db)
    assert rows(c, db, "table_bloat") == []
    assert rows(c, db, "index_bloat") == []
    dropdb(c, db)


def test_stale_statistics(c):
    db = newdb(c, "stale")
    c.psql("CREATE TABLE s (id int, v int);"
           "INSERT INTO s SELECT g, g FROM generate_series(1, 20000) g;" + FLUSH, db=db)
    r = one(c, db, "stale_statistics", "table_name, severity, evidence, recommendation")
    assert r == ["s", "warning", "never analyzed (about 20000 rows)", "ANALYZE s;"], r
    # analyze_stale agrees (it also lists the extension's own optimizer.jobs, which the view leaves out)
    assert c.psql("SELECT command FROM optimizer.analyze_stale(dry_run => true) "
                  "WHERE relation::text NOT LIKE 'optimizer.%'", db=db) == [["ANALYZE public.s"]]
    c.psql(r[3], db=db)
    assert rows(c, db, "stale_statistics") == []

    # 15 % changed: info; 60 %: warning
    c.psql("UPDATE s SET v = v + 1 WHERE id <= 3000;" + FLUSH, db=db)
    r = one(c, db, "stale_statistics", "n_mod_since_analyze, severity, evidence, recommendation")
    assert r[:2] == ["3000", "info"], r
    assert r[2].startswith("3000 rows changed since last analyze (15% of 20000); last analyze: "), r
    assert c.psql("SELECT count(*) FROM optimizer.analyze_stale(dry_run => true) WHERE relation = 's'::regclass",
                  db=db) == [["1"]]
    c.psql("UPDATE s SET v = v + 1 WHERE id > 11000;" + FLUSH, db=db)
    assert one(c, db, "stale_statistics", "n_mod_since_analyze, severity") == ["12000", "warning"]
    c.psql(r[3], db=db)
    assert rows(c, db, "stale_statistics") == []
    # below 1000 changed rows: not listed, whatever the fraction
    c.psql("CREATE TABLE small (id int); INSERT INTO small SELECT generate_series(1, 100); ANALYZE small;"
           "UPDATE small SET id = id + 1;" + FLUSH, db=db)
    assert rows(c, db, "stale_statistics") == []
    dropdb(c, db)


def test_dead_rows_with_autovacuum_off(c):
    db = newdb(c, "vac")
    c.psql("CREATE TABLE v (id int, pad int) WITH (autovacuum_enabled = false);"
           "INSERT INTO v SELECT g, g FROM generate_series(1, 20000) g;" + FLUSH + "VACUUM ANALYZE v;"
           "DELETE FROM v WHERE id % 2 = 0;" + FLUSH, db=db)
    r = one(c, db, "vacuum_health", "table_name, n_dead_tup, autovacuum_threshold, severity, evidence, recommendation")
    assert r[:4] == ["v", "10000", "4050", "critical"], r
    assert r[4].startswith("10000 dead rows (50% of 20000); autovacuum triggers at 4050 dead rows (50 + 0.2 x 20000 rows); "
                           "autovacuum is off for the server"), r
    assert r[5].startswith("VACUUM (ANALYZE) v;  -- autovacuum is off for the whole server"), r
    # vacuum_needed agrees
    assert c.psql("SELECT command FROM optimizer.vacuum_needed(dry_run => true)", db=db) == [["VACUUM public.v"]]

    # autovacuum on for the server, off for the table: the table's setting is what is reported
    # (a day's naptime: the launcher does not get to this database during the test)
    c.psql("ALTER SYSTEM SET autovacuum = on; ALTER SYSTEM SET autovacuum_naptime = '1d'; SELECT pg_reload_conf();")
    try:
        c.psql("SELECT pg_sleep(0.5)")
        r = one(c, db, "vacuum_health", "severity, evidence, recommendation")
        assert r[0] == "critical" and "autovacuum is off for this table (autovacuum_enabled = false)" in r[1], r
        assert r[2] == "VACUUM (ANALYZE) v; ALTER TABLE v RESET (autovacuum_enabled);", r
        # autovacuum on for the table too, past its trigger and no autovacuum for an hour (never):
        # autovacuum is behind, a warning, with per-table settings to make it come sooner
        c.psql("ALTER TABLE v SET (autovacuum_enabled = true)", db=db)
        w = one(c, db, "vacuum_health", "severity, evidence, recommendation")
        assert w[0] == "warning" and "autovacuum should have run but has not in the last hour" in w[1], w
        assert w[2].startswith("VACUUM (ANALYZE) v; ALTER TABLE v SET (autovacuum_vacuum_scale_factor = 0.05, "
                               "autovacuum_vacuum_cost_delay = 1);  --"), w
        c.psql("ALTER TABLE v SET (autovacuum_enabled = false);" + w[2] + FLUSH, db=db)
        assert rows(c, db, "vacuum_health") == []
        c.psql("ALTER TABLE v RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_cost_delay);", db=db)
    finally:
        c.psql("ALTER SYSTEM RESET autovacuum; ALTER SYSTEM RESET autovacuum_naptime; SELECT pg_reload_conf();")
    c.psql("SELECT pg_sleep(0.5)")

    # fewer dead rows than 20 % but over the table's own autovacuum trigger: a warning
    c.psql("ALTER TABLE v SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 0);"
           "DELETE FROM v WHERE id <= 2000;" + FLUSH, db=db)
    r = one(c, db, "vacuum_health", "n_dead_tup, autovacuum_threshold, severity, recommendation")
    assert r[:3] == ["1000", "100", "warning"], r
    c.psql(r[3] + FLUSH, db=db)   # its comment is harmless
    assert rows(c, db, "vacuum_health") == []
    dropdb(c, db)


def test_wraparound_risk_with_a_lowered_per_table_freeze_max_age(c):
    # The server's autovacuum_freeze_max_age is 200 million (and needs a restart to change); the
    # per-table reloption can lower it to 100 000, which costs 100 000 transaction IDs (a second)
    # to pass. The database-level row and the 1.5 billion critical level cannot be reached cheaply:
    # a fresh cluster gives no row (test_clean_database_has_no_findings).
    db = newdb(c, "wrap")
    c.psql("CREATE TABLE w (id int) WITH (autovacuum_freeze_max_age = 100000);"
           "INSERT INTO w SELECT generate_series(1, 100); VACUUM (FREEZE) w;", db=db)
    assert rows(c, db, "wraparound_risk") == []
    c.psql("DO $$ BEGIN FOR i IN 1..100100 LOOP PERFORM pg_catalog.txid_current(); COMMIT; END LOOP; END $$", db=db)
    r = one(c, db, "wraparound_risk", "object_type, object_name, xid_age::bigint >= 100000, severity, evidence, recommendation")
    assert r[:4] == ["table", "w", "t", "warning"], r
    assert re.match(r"transaction ID age \d+ \(10\d% of autovacuum_freeze_max_age 100000, 0\.0% of the 2\^31 limit\)", r[4]), r
    assert r[5] == "VACUUM (FREEZE, VERBOSE) w;"
    # vacuum_needed with the same age limit lists it too
    assert c.psql("SELECT command FROM optimizer.vacuum_needed(dry_run => true, freeze_age => 100000) "
                  "WHERE relation = 'w'::regclass", db=db) == [["VACUUM (FREEZE) public.w"]]
    c.psql(r[5], db=db)
    assert rows(c, db, "wraparound_risk") == []
    dropdb(c, db)


def test_cache_misses_on_a_table_larger_than_shared_buffers(c):
    db = newdb(c, "cache")
    c.psql("CREATE TABLE big (id int, pad text) WITH (autovacuum_enabled = false);"
           "INSERT INTO big SELECT g, repeat('y', 60) FROM generate_series(1, 1000000) g; VACUUM ANALYZE big;", db=db)
    c.psql("SELECT pg_stat_reset();", db=db)
    # sequential scans of a table over a quarter of shared_buffers go through a small ring buffer
    c.psql("SELECT count(*) FROM big;" * 3 + FLUSH, db=db)
    found = {r[0]: r for r in rows(c, db, "cache_hit", "object_type, object_name, blks_read::bigint > 20000, "
                                                       "hit_pct < 50, severity, evidence, recommendation")}
    assert set(found) == {"database", "table"}, found
    t = found["table"]
    assert t[1:5] == ["big", "t", "t", "critical"], t
    # (parallel workers count their own sequential scans)
    assert re.search(r"; \d+ sequential and 0 index scans; shared_buffers = 16MB$", t[5]), t
    assert t[6].startswith("SELECT * FROM optimizer.index_advice();"), t
    c.psql(t[6], db=db)
    d = found["database"]
    assert d[1:5] == ["cache", "t", "t", "critical"], d
    assert d[6].startswith("ALTER SYSTEM SET shared_buffers = '32 MB';"), d
    # the recommendation is valid (and takes effect only at a restart: undo it)
    c.psql(d[6] + " ALTER SYSTEM RESET shared_buffers;", db=db)
    c.psql("SELECT pg_stat_reset();", db=db)
    assert rows(c, db, "cache_hit") == []
    dropdb(c, db)


def test_sequences_near_their_maximum(c):
    db = newdb(c, "seq")
    c.psql("CREATE TABLE s1 (id serial PRIMARY KEY);"                                  # int4 sequence
           "SELECT setval('s1_id_seq', 1800000000);"                                   # 84 %
           "CREATE SEQUENCE big_seq;"                                                  # bigint sequence ...
           "CREATE TABLE s2 (id int DEFAULT nextval('big_seq'));"                      # ... feeding an int4
           "SELECT setval('big_seq', 2000000000);"                                     # 93 % of int4
           "CREATE SEQUENCE small_seq AS smallint;"
           "SELECT setval('small_seq', 32000);"                                        # 98 %
           "CREATE TABLE s4 (id int GENERATED ALWAYS AS IDENTITY, v int);"
           "SELECT setval(pg_get_serial_sequence('s4', 'id'), 1700000000);"            # 79 %
           "CREATE SEQUENCE fine_seq; SELECT setval('fine_seq', 1000000000);"          # bigint: 0 %
           "CREATE TABLE s5 (id serial); SELECT setval('s5_id_seq', 1500000000);"      # 70 %: not yet
           # descending smallint sequence feeding an int column: the sequence is the limit
           "CREATE SEQUENCE dsc AS smallint INCREMENT -1; SELECT setval('dsc', -30000);"
           "CREATE TABLE s6 (id int DEFAULT nextval('dsc'));"
           "CREATE SEQUENCE cyc AS smallint CYCLE; SELECT setval('cyc', 32000);", db=db)  # cycles: never runs out
    got = rows(c, db, "sequence_exhaustion", "sequence_name, table_name, column_name, data_type, used_pct, severity, "
                                             "evidence, recommendation")
    by = {r[0]: r for r in got}
    assert set(by) == {"s1_id_seq", "big_seq", "small_seq", "s4_id_seq", "dsc"}, got
    assert by["s1_id_seq"][1:6] == ["s1", "id", "integer", "83.82", "warning"]
    assert by["s1_id_seq"][7] == "ALTER TABLE s1 ALTER COLUMN id TYPE bigint; ALTER SEQUENCE s1_id_seq AS bigint;" \
        + "  -- ALTER COLUMN ... TYPE rewrites the table and its indexes under an ACCESS EXCLUSIVE lock; plan it " \
          "(or migrate to a new bigint column) before it runs out"
    assert by["big_seq"][1:6] == ["s2", "id", "integer", "93.13", "critical"]
    assert "the limit is the integer column s2.id (sequence is bigint" in by["big_seq"][6], by["big_seq"]
    assert by["big_seq"][7].startswith("ALTER TABLE s2 ALTER COLUMN id TYPE bigint;  --"), by["big_seq"]
    assert by["small_seq"][1:6] == ["", "", "smallint", "97.66", "critical"]
    assert by["small_seq"][7] == "ALTER SEQUENCE small_seq AS bigint;"
    assert by["s4_id_seq"][1:6] == ["s4", "id", "integer", "79.16", "warning"]
    assert by["dsc"][1:6] == ["s6", "id", "integer", "91.55", "critical"]
    assert by["dsc"][7] == "ALTER SEQUENCE dsc AS bigint;"
    for r in got:
        c.psql(r[7], db=db)
    assert rows(c, db, "sequence_exhaustion") == []
    # and the columns and sequences still work
    c.psql("INSERT INTO s1 DEFAULT VALUES; INSERT INTO s2 DEFAULT VALUES; INSERT INTO s4 (v) VALUES (1);"
           "SELECT nextval('small_seq'); INSERT INTO s6 DEFAULT VALUES;", db=db)
    dropdb(c, db)
