"""Partition sets against a real preloaded server: every partitioning kind, create-ahead across
month and year boundaries in a time zone, rows rescued from the default partition, retention,
online conversion of a 1M-row table under a concurrent writer, quoting, overlapping runs, a long
reader on the default partition, hostile owners, the index lifecycle, undo, and the built-in job.

The scheduler is off in this cluster: the tests call maintain_partitions themselves (and run the
built-in job with run_job), so no background run overlaps theirs."""

import os
import re
import subprocess
import threading
import time

import pytest

from conftest import PG_BIN, Cluster

PORT = 5645


@pytest.fixture(scope="module")
def pg():
    c = Cluster("partitions", PORT, {"pg_optimizer.scheduler": "off", "max_worker_processes": "16"}).init().start()
    c.psql("CREATE DATABASE app")
    c.psql("CREATE EXTENSION pg_optimizer", db="app")
    yield c
    c.stop()


def sql(c, text, user="postgres"):
    return c.psql(text, db="app", user=user)


def val(c, text, user="postgres"):
    return c.value(text, db="app", user=user)


def actions(rows):
    """{action: (partition, rows, detail)} of a partition_table/maintain_partitions result."""
    return {r[1]: (r[2], r[3], r[4]) for r in rows}


def children(c, parent):
    return [r[0] for r in sql(c, f"SELECT partition::text FROM optimizer.partitions WHERE parent = '{parent}'::regclass ORDER BY 1")]


def where_rows_are(c, table):
    return dict((r[0], int(r[1])) for r in sql(c, f"SELECT tableoid::regclass::text, count(*) FROM {table} GROUP BY 1"))


# -- every kind ---------------------------------------------------------------------------------

def test_range_by_time_converts_a_plain_table_and_keeps_its_shape(pg):
    sql(pg, """
        CREATE ROLE reader;
        CREATE TABLE ev (id bigserial, at timestamptz NOT NULL, kind text DEFAULT 'click' CHECK (kind <> ''),
                         PRIMARY KEY (id, at));
        CREATE INDEX ev_kind ON ev (kind);
        GRANT SELECT ON ev TO reader;
        COMMENT ON TABLE ev IS 'events';
        INSERT INTO ev (at, kind) SELECT now() - (g % 30) * interval '1 day', 'k' || g % 7 FROM generate_series(1, 30000) g;
    """)
    out = actions(sql(pg, "SELECT * FROM optimizer.partition_table('ev', 'at', 'daily', premake => 5, batch_rows => 4000)"))
    assert "converted" in out and "rescued" in out and "created" in out, out
    assert int(out["rescued"][1]) == 30000
    assert val(pg, "SELECT count(*) FROM ev") == "30000"
    assert val(pg, "SELECT count(*) FROM ONLY ev_default") == "0"
    assert val(pg, "SELECT relkind FROM pg_class WHERE oid = 'ev'::regclass") == "p"
    # 30 days of rows, today and 5 ahead: 35 partitions plus the default.
    assert val(pg, "SELECT count(*) FROM optimizer.partitions WHERE parent = 'ev'::regclass AND NOT is_default") == "35"
    # Defaults, constraints, indexes (with their names), grants, the sequence all carried over.
    assert val(pg, "INSERT INTO ev (at) VALUES (now()) RETURNING kind") == "click"
    with pytest.raises(AssertionError, match="violates check constraint"):
        sql(pg, "INSERT INTO ev (at, kind) VALUES (now(), '')")
    idx = [r[0] for r in sql(pg, "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 'ev'::regclass ORDER BY 1")]
    assert idx == ["ev_kind", "ev_pkey"], idx
    assert val(pg, "SELECT count(*) FROM pg_index i JOIN pg_inherits h ON h.inhrelid = i.indrelid "
                   "WHERE h.inhparent = 'ev'::regclass") == str(2 * 36)
    assert val(pg, "SELECT has_table_privilege('reader', 'ev', 'SELECT')") == "t"
    newest = children(pg, "ev")[-2]
    assert val(pg, f"SELECT has_table_privilege('reader', '{newest}', 'SELECT')") == "t"
    assert val(pg, "SELECT pg_get_serial_sequence('ev', 'id') IS NOT NULL") == "t"
    assert val(pg, "SELECT obj_description('ev'::regclass)") == "events"
    assert val(pg, "SELECT count(*) FROM optimizer.partition_sets WHERE parent = 'ev'::regclass") == "1"


def test_range_by_integer_list_and_hash(pg):
    sql(pg, """
        CREATE TABLE n (id bigint NOT NULL, v text);
        INSERT INTO n SELECT g, 'v' FROM generate_series(1, 95000) g;
        CREATE TABLE orders (id bigint NOT NULL, region text NOT NULL);
        INSERT INTO orders SELECT g, (ARRAY['eu', 'us', 'Asia Pacific'])[1 + g % 3] FROM generate_series(1, 3000) g;
        CREATE TABLE h (id int PRIMARY KEY, v text);
        INSERT INTO h SELECT g, 'v' FROM generate_series(1, 1000) g;
    """)
    out = actions(sql(pg, "SELECT * FROM optimizer.partition_table('n', 'id', '10000', premake => 2, with_default => false)"))
    assert int(out["rescued"][1]) == 95000 and out["retired"][0] == "n_default", out
    assert where_rows_are(pg, "n")["n_p90000"] == 5001
    assert "n_p110000" in children(pg, "n") and "n_default" not in children(pg, "n")

    sql(pg, "SELECT * FROM optimizer.partition_table('orders', 'region', method => 'list')")
    placed = where_rows_are(pg, "orders")
    assert placed["orders_p_eu"] == 1000 and placed["orders_p_us"] == 1000, placed
    assert any(k.startswith("orders_p_asia_pacific_") for k in placed), placed
    # A new value lands in the default, and maintenance gives it its own partition.
    sql(pg, "INSERT INTO orders VALUES (9999, 'mars')")
    assert actions(sql(pg, "SELECT * FROM optimizer.maintain_partitions('orders')"))["rescued"][0] == "orders_p_mars"

    out = actions(sql(pg, "SELECT * FROM optimizer.partition_table('h', 'id', method => 'hash', modulus => 4)"))
    assert out["converted"][1] == "1000", out
    assert len(where_rows_are(pg, "h")) == 4 and sum(where_rows_are(pg, "h").values()) == 1000
    assert val(pg, "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 'h'::regclass") == "h_pkey"


def test_an_existing_partitioned_table_is_registered_and_filled_ahead(pg):
    sql(pg, "CREATE TABLE native (at date NOT NULL, v int) PARTITION BY RANGE (at)")
    out = actions(sql(pg, "SELECT * FROM optimizer.partition_table('native', 'at', 'weekly', premake => 3)"))
    assert "registered" in out and out["created"][1] == "0", out
    kids = children(pg, "native")
    assert "native_default" in kids and len(kids) == 5, kids
    with pytest.raises(AssertionError, match="already partitioned by range, not list"):
        sql(pg, "CREATE TABLE native2 (at date NOT NULL) PARTITION BY RANGE (at); "
                "SELECT * FROM optimizer.partition_table('native2', 'at', method => 'list')")


def test_bad_arguments_say_what_to_do(pg):
    sql(pg, "CREATE TABLE plain (id int NOT NULL, at timestamptz NOT NULL, name text)")
    for call, msg in [
        ("'plain', 'nope', 'daily'", 'column "nope"'),
        ("'plain', 'at', 'fortnightly'", "hourly, daily"),
        ("'plain', 'name', 'daily'", "time or integer control column"),
        ("'plain', 'at', 'daily', retention => 'forever'", "not a positive interval"),
        ("'plain', 'id', method => 'hash'", "modulus between"),
        ("'plain', 'at', 'daily', retention_action => 'archive', archive_schema => 'nowhere'", "archive_schema"),
        ("'plain', 'at', 'daily', time_zone => 'Mars/Olympus'", "time zone"),
    ]:
        p = subprocess.run([f"{PG_BIN}/psql", "-X", "-h", "/tmp", "-p", str(PORT), "-U", "postgres", "-d", "app", "-c",
                            f"SELECT * FROM optimizer.partition_table({call})"], capture_output=True, text=True)
        assert p.returncode != 0 and msg in p.stderr and "HINT" in p.stderr, (call, p.stderr)
    # Nothing changed.
    assert val(pg, "SELECT relkind FROM pg_class WHERE oid = 'plain'::regclass") == "r"
    sql(pg, "CREATE TABLE pk_only (id int PRIMARY KEY, at timestamptz NOT NULL)")
    with pytest.raises(AssertionError, match="do not include \"at\""):
        sql(pg, "SELECT * FROM optimizer.partition_table('pk_only', 'at', 'daily')")


# -- time ---------------------------------------------------------------------------------------

def test_create_ahead_crosses_months_and_years_in_the_sets_time_zone(pg):
    sql(pg, """CREATE TABLE ny (at timestamptz NOT NULL, v int);
               INSERT INTO ny VALUES (now(), 1)""")
    sql(pg, "SELECT * FROM optimizer.partition_table('ny', 'at', 'monthly', premake => 14, "
            "time_zone => 'America/New_York', start_from => '2025-11-15')")
    rows = sql(pg, """
        SELECT c.relname, (substring(optimizer_bound from 'FROM \\(''([^'']*)''') ::timestamptz AT TIME ZONE 'America/New_York')::text,
               (substring(optimizer_bound from 'TO \\(''([^'']*)''') ::timestamptz AT TIME ZONE 'America/New_York')::text
          FROM (SELECT p.partition::oid AS oid, p.bound AS optimizer_bound FROM optimizer.partitions p
                 WHERE p.parent = 'ny'::regclass AND NOT p.is_default) x JOIN pg_class c ON c.oid = x.oid
         ORDER BY 2""")
    names = [r[0] for r in rows]
    assert "ny_p2025_11" in names and "ny_p2025_12" in names and "ny_p2026_01" in names, names
    for name, lo, hi in rows:
        # Every bound is local midnight on the first of a month, whatever the offset that day.
        assert lo.endswith("-01 00:00:00") and hi.endswith("-01 00:00:00"), (name, lo, hi)
    for a, b in zip(rows, rows[1:]):
        assert a[2] == b[1], ("contiguous", a, b)
    # 14 months ahead of the current one exist.
    assert len([r for r in rows if r[1] > val(pg, "SELECT (date_trunc('month', now() AT TIME ZONE 'America/New_York'))::text")]) >= 14


# -- the default partition ----------------------------------------------------------------------

def test_rows_in_the_default_partition_are_rescued_with_counts_unchanged(pg):
    sql(pg, """CREATE TABLE fut (at timestamptz NOT NULL, v int);
               SELECT count(*) FROM optimizer.partition_table('fut', 'at', 'daily', premake => 2);
               INSERT INTO fut SELECT now() + interval '20 days' + g * interval '1 minute', g FROM generate_series(1, 500) g;
               INSERT INTO fut SELECT now() - interval '400 days', g FROM generate_series(1, 7) g;""")
    before = val(pg, "SELECT count(*) FROM fut")
    assert val(pg, "SELECT count(*) FROM ONLY fut_default") == "507"
    out = sql(pg, "SELECT * FROM optimizer.maintain_partitions('fut')")
    rescued = [r for r in out if r[1] == "rescued"]
    assert rescued and sum(int(r[3]) for r in rescued) == 507, out
    assert val(pg, "SELECT count(*) FROM fut") == before
    assert val(pg, "SELECT count(*) FROM ONLY fut_default") == "0"
    assert val(pg, "SELECT sum(v) FROM fut") == str(sum(range(1, 501)) + sum(range(1, 8)))


def test_retention_keeps_the_newest_and_never_the_last_one(pg):
    sql(pg, """CREATE TABLE ret (id bigint NOT NULL, v text);
               INSERT INTO ret SELECT g, 'v' FROM generate_series(1, 100000) g;
               CREATE INDEX ret_v ON ret (v);""")
    # partition_table makes one maintenance pass: retention applies at once.
    out = actions(sql(pg, "SELECT * FROM optimizer.partition_table('ret', 'id', '10000', premake => 2, retention => '1')"))
    assert out["retired"][2] == "9 partitions", out
    kids = children(pg, "ret")
    assert "ret_p90000" in kids and "ret_p100000" in kids and "ret_p120000" in kids and "ret_p0" not in kids, kids
    assert val(pg, "SELECT min(id) FROM ret") == "90000"
    # The parent's indexes stay valid.
    assert val(pg, "SELECT bool_and(indisvalid) FROM pg_index WHERE indrelid = 'ret'::regclass") == "t"
    # A retention past every value never takes the partition holding the newest rows or the newest one.
    sql(pg, "UPDATE optimizer.partition_sets SET retention = '1' WHERE parent = 'ret'::regclass; DELETE FROM ret WHERE id < 100000")
    sql(pg, "SELECT * FROM optimizer.maintain_partitions('ret')")
    assert "ret_p100000" in children(pg, "ret") and "ret_p120000" in children(pg, "ret")
    assert val(pg, "SELECT in_retention FROM optimizer.partitions WHERE partition = 'ret_p120000'::regclass") == "t"


def test_archive_retention_detaches_concurrently(pg):
    sql(pg, """CREATE SCHEMA attic;
               CREATE TABLE arc (id bigint NOT NULL);
               INSERT INTO arc SELECT g FROM generate_series(1, 50000) g;
               SELECT count(*) FROM optimizer.partition_table('arc', 'id', '10000', premake => 1, retention => '15000',
                                                              retention_action => 'archive', archive_schema => 'attic',
                                                              with_default => false);""")
    assert val(pg, "SELECT string_agg(DISTINCT detail, ',') FROM optimizer.partition_log WHERE parent_name = 'public.arc' "
                   "AND action = 'retired' AND partition <> 'arc_default'") == "detached and moved to schema attic"
    assert val(pg, "SELECT count(*) FROM pg_tables WHERE schemaname = 'attic'") == "3"
    assert val(pg, "SELECT count(*) FROM attic.arc_p0") == "9999"
    # Now without a default partition: retention detaches CONCURRENTLY (two transactions at the
    # top level), and nothing is left pending.
    assert "arc_default" not in children(pg, "arc")
    sql(pg, "INSERT INTO arc SELECT g FROM generate_series(50001, 69999) g")
    out = actions(sql(pg, "SELECT * FROM optimizer.maintain_partitions('arc')"))
    assert out["retired"][2] == "2 partitions" and out["created"][0] == "arc_p70000", out
    assert val(pg, "SELECT count(*) FROM pg_tables WHERE schemaname = 'attic'") == "5"
    assert val(pg, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'arc'::regclass AND inhdetachpending") == "0"
    assert val(pg, "SELECT count(*) FROM arc") == str(69999 - 49999)


# -- online conversion under a writer --------------------------------------------------------------

def test_a_million_row_table_converts_online_while_a_writer_inserts(pg, tmp_path):
    sql(pg, """CREATE TABLE big (id bigserial, at timestamptz NOT NULL, payload text, PRIMARY KEY (id, at));
               INSERT INTO big (at, payload) SELECT now() - (g % 60) * interval '1 day' - interval '1 minute', md5(g::text)
                 FROM generate_series(1, 1000000) g;
               ANALYZE big;""")
    script = tmp_path / "w.sql"
    script.write_text("INSERT INTO big (at, payload) VALUES (now() - random() * interval '50 days', 'writer');\n")
    os.chmod(tmp_path, 0o755)
    os.chmod(script, 0o644)
    stop = {"done": False}
    seen_progress = []

    def watch():
        while not stop["done"]:
            r = pg.psql("SELECT rows_moved, rows_left FROM optimizer.partition_progress WHERE parent = 'big'::regclass",
                        db="app", check=False)
            if r:
                seen_progress.append(r[0])
            time.sleep(0.3)

    writer = subprocess.Popen([f"{PG_BIN}/pgbench", "-h", "/tmp", "-p", str(PORT), "-U", "postgres", "-n", "-c", "2",
                               "-T", "40", "-f", str(script), "app"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        time.sleep(1)
        p = subprocess.run([f"{PG_BIN}/psql", "-X", "-h", "/tmp", "-p", str(PORT), "-U", "postgres", "-d", "app", "-v",
                            "ON_ERROR_STOP=1", "-c",
                            "SELECT * FROM optimizer.partition_table('big', 'at', 'daily', premake => 3, batch_rows => 50000)"],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        out, err = writer.communicate(timeout=120)
    finally:
        stop["done"] = True
        watcher.join()
    assert writer.returncode == 0, err
    m = re.search(r"number of transactions actually processed: (\d+)", out)
    written = int(m.group(1))
    failed = re.search(r"number of failed transactions: (\d+)", out)
    assert failed is None or failed.group(1) == "0", out
    assert written > 0
    # No row lost, none twice, none left behind in the default partition.
    assert val(pg, "SELECT count(*) FROM big") == str(1000000 + written)
    assert val(pg, "SELECT count(DISTINCT id) FROM big") == str(1000000 + written)
    assert val(pg, "SELECT count(*) FROM ONLY big_default") == "0"
    # Progress was visible while it ran, as NOTICEs to the caller and in the view.
    assert "rows moved" in p.stderr, p.stderr
    assert seen_progress, "partition_progress never showed the move"
    assert val(pg, "SELECT count(*) FROM optimizer.partition_progress") == "0"


# -- quoting ------------------------------------------------------------------------------------

def test_identifiers_that_need_quoting(pg):
    sql(pg, '''CREATE SCHEMA "My Schema";
               CREATE TABLE "My Schema"."Event Log" ("When" timestamptz NOT NULL, "Who's" text);
               CREATE INDEX "Odd ""Index""" ON "My Schema"."Event Log" ("Who's");
               INSERT INTO "My Schema"."Event Log" SELECT now() - g * interval '1 day', 'x' FROM generate_series(0, 40) g;''')
    out = actions(sql(pg, """SELECT * FROM optimizer.partition_table('"My Schema"."Event Log"', 'When', 'weekly')"""))
    assert int(out["rescued"][1]) == 41, out
    assert val(pg, '''SELECT count(*) FROM "My Schema"."Event Log"''') == "41"
    assert val(pg, '''SELECT count(*) FROM pg_class WHERE relname = 'Odd "Index"' ''') == "1"
    assert int(val(pg, '''SELECT count(*) FROM optimizer.partitions WHERE parent = '"My Schema"."Event Log"'::regclass''')) > 6


# -- overlapping runs and locks -------------------------------------------------------------------

def test_overlapping_runs_one_skips(pg):
    sql(pg, "CREATE TABLE ov (at timestamptz NOT NULL); SELECT count(*) FROM optimizer.partition_table('ov', 'at', 'daily')")
    oid = val(pg, "SELECT 'ov'::regclass::oid::int")
    holder = subprocess.Popen([f"{PG_BIN}/psql", "-X", "-Atq", "-h", "/tmp", "-p", str(PORT), "-U", "postgres", "-d", "app"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        holder.stdin.write(f"SELECT pg_advisory_lock(1886352244, {oid});\n\\echo locked\n")
        holder.stdin.flush()
        assert holder.stdout.readline()  # the lock result
        time.sleep(0.5)
        out = actions(sql(pg, "SELECT * FROM optimizer.maintain_partitions('ov')"))
        assert out["skipped"][2] == "another run is working on this partition set", out
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    # Two real runs at once: both end, each partition exists once.
    sql(pg, "INSERT INTO ov SELECT now() + g * interval '1 day' FROM generate_series(5, 30) g")
    results = []
    threads = [threading.Thread(target=lambda: results.append(sql(pg, "SELECT * FROM optimizer.maintain_partitions('ov')")))
               for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(results) == 2
    assert val(pg, "SELECT count(*) FROM ONLY ov_default") == "0"
    assert val(pg, "SELECT count(*) FROM ov") == "26"


def test_a_long_reader_makes_maintenance_wait_at_most_lock_timeout_then_retry(pg):
    sql(pg, "CREATE TABLE lr (at timestamptz NOT NULL); SELECT count(*) FROM optimizer.partition_table('lr', 'at', 'daily', premake => 1)")
    sql(pg, "INSERT INTO lr VALUES (now() + interval '9 days')")
    reader = subprocess.Popen([f"{PG_BIN}/psql", "-X", "-Atq", "-h", "/tmp", "-p", str(PORT), "-U", "postgres", "-d", "app"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        reader.stdin.write("BEGIN;\nSELECT count(*) FROM lr_default;\n")
        reader.stdin.flush()
        assert reader.stdout.readline()
        time.sleep(0.3)
        out = actions(sql(pg, "SET pg_optimizer.partition_lock_timeout = '200ms'; SELECT * FROM optimizer.maintain_partitions('lr')"))
        assert "deferred" in out and "lock timeout" in out["deferred"][2], out
        assert "3 attempts" in out["deferred"][2]
        # The reader was never disturbed.
        reader.stdin.write("SELECT 42;\n")
        reader.stdin.flush()
    finally:
        reader.stdin.write("COMMIT;\n")
        reader.stdin.close()
        reader.wait(timeout=10)
    out = actions(sql(pg, "SELECT * FROM optimizer.maintain_partitions('lr')"))
    assert out["rescued"][1] == "1", out


# -- security -----------------------------------------------------------------------------------

def test_it_runs_as_the_tables_owner_never_as_the_caller(pg):
    marker = "/tmp/pg_optimizer-partitions-pwned"
    if os.path.exists(marker):
        os.remove(marker)
    sql(pg, f"""
        CREATE ROLE alice LOGIN; CREATE ROLE mallory LOGIN;
        CREATE SCHEMA alice AUTHORIZATION alice;
        GRANT USAGE ON SCHEMA alice TO mallory;
        SET ROLE alice;
        CREATE FUNCTION alice.evil() RETURNS void LANGUAGE plpgsql VOLATILE AS $$
        BEGIN EXECUTE 'COPY (SELECT current_user) TO PROGRAM ''cat > {marker}'''; END $$;
        CREATE TABLE alice.flag (armed boolean);
        INSERT INTO alice.flag VALUES (false);
        -- IMMUTABLE, but calls a VOLATILE function once armed.
        CREATE FUNCTION alice.ok(int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
        BEGIN IF $1 < 0 AND (SELECT armed FROM alice.flag) THEN PERFORM alice.evil(); END IF; RETURN true; END $$;
        CREATE TABLE alice.t (id bigint NOT NULL CHECK (alice.ok(id::int)), v text);
        INSERT INTO alice.t SELECT g, 'v' FROM generate_series(1, 30000) g;
        RESET ROLE;""")
    # The owner converts her own table without any special right.
    out = actions(sql(pg, "SELECT * FROM optimizer.partition_table('alice.t', 'id', '10000', premake => 1)", user="alice"))
    assert int(out["rescued"][1]) == 30000, out
    # Someone else may neither convert, maintain nor undo it.
    for call in ["optimizer.maintain_partitions('alice.t')", "optimizer.undo_partitioning('alice.t')"]:
        with pytest.raises(AssertionError, match="partition set you may manage|must be the owner"):
            sql(pg, f"SELECT * FROM {call}", user="mallory")
    sql(pg, "CREATE TABLE alice.u (id int NOT NULL); ALTER TABLE alice.u OWNER TO alice")
    with pytest.raises(AssertionError, match="must be the owner"):
        sql(pg, "SELECT * FROM optimizer.partition_table('alice.u', 'id', '10')", user="mallory")
    # A row that makes alice's IMMUTABLE check call her VOLATILE function: a superuser's
    # maintenance evaluates it as alice, who may not run programs.
    sql(pg, "INSERT INTO alice.t VALUES (-5, 'bad'); UPDATE alice.flag SET armed = true")
    assert val(pg, "SELECT count(*) FROM ONLY alice.t_default") == "1"
    out = sql(pg, "SELECT * FROM optimizer.maintain_partitions()")
    failed = [r for r in out if r[1] == "failed"]
    assert failed and ("permission denied" in failed[0][4] or "must be superuser" in failed[0][4]
                       or "pg_execute_server_program" in failed[0][4]), out
    assert not os.path.exists(marker), "the owner's function ran with the caller's rights"
    # mallory sees neither alice's set nor its log.
    assert val(pg, "SELECT count(*) FROM optimizer.partition_sets", user="mallory") == "0"
    assert val(pg, "SELECT count(*) FROM optimizer.partition_log", user="mallory") == "0"
    assert val(pg, "SELECT count(*) FROM optimizer.partition_sets", user="alice") == "1"


# -- indexes ------------------------------------------------------------------------------------

def test_an_index_on_the_parent_reaches_every_new_partition(pg):
    sql(pg, """CREATE TABLE ix (at timestamptz NOT NULL, k int);
               SELECT count(*) FROM optimizer.partition_table('ix', 'at', 'daily', premake => 1);
               CREATE INDEX ix_k ON ix (k);
               UPDATE optimizer.partition_sets SET premake = 4 WHERE parent = 'ix'::regclass;""")
    out = actions(sql(pg, "SELECT * FROM optimizer.maintain_partitions('ix')"))
    assert out["created"][2] == "3 partitions", out
    missing = val(pg, """SELECT count(*) FROM optimizer.partitions p WHERE p.parent = 'ix'::regclass
                          AND NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_inherits h ON h.inhrelid = i.indexrelid
                                           WHERE i.indrelid = p.partition AND h.inhparent = 'ix_k'::regclass)""")
    assert missing == "0"
    assert val(pg, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_k'::regclass") == "t"


# -- undo, the job, the views ----------------------------------------------------------------------

def test_undo_gives_back_a_plain_table(pg):
    sql(pg, """CREATE ROLE undo_reader;
               CREATE TABLE un (id bigserial, at timestamptz NOT NULL, PRIMARY KEY (id, at));
               CREATE INDEX un_at ON un (at);
               GRANT SELECT ON un TO undo_reader;
               INSERT INTO un (at) SELECT now() - g * interval '1 day' FROM generate_series(0, 20) g;
               SELECT count(*) FROM optimizer.partition_table('un', 'at', 'daily');""")
    out = actions(sql(pg, "SELECT * FROM optimizer.undo_partitioning('un')"))
    assert out["undone"][1] == "21", out
    assert val(pg, "SELECT relkind FROM pg_class WHERE oid = 'un'::regclass") == "r"
    assert val(pg, "SELECT count(*) FROM un") == "21"
    assert [r[0] for r in sql(pg, "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 'un'::regclass ORDER BY 1")] \
        == ["un_at", "un_pkey"]
    assert val(pg, "SELECT has_table_privilege('undo_reader', 'un', 'SELECT')") == "t"
    assert val(pg, "SELECT count(*) FROM pg_class WHERE relname LIKE 'un\\_p2%'") == "0"
    assert val(pg, "SELECT count(*) FROM optimizer.partition_sets WHERE parent::text = 'un'") == "0"
    assert val(pg, "INSERT INTO un (at) VALUES (now()) RETURNING id > 21") == "t"


def test_the_built_in_job_maintains_every_set(pg):
    assert sql(pg, "SELECT schedule, builtin FROM optimizer.jobs WHERE name = 'maintain_partitions'") == [["1 hour", "t"]]
    sql(pg, "INSERT INTO fut VALUES (now() + interval '33 days', 1)")
    sql(pg, "SELECT optimizer.run_job('maintain_partitions', wait => true)")
    assert val(pg, "SELECT status FROM optimizer.job_runs WHERE job = 'maintain_partitions' ORDER BY run_id DESC LIMIT 1") == "succeeded"
    assert val(pg, "SELECT count(*) FROM ONLY fut_default") == "0"
    assert pg.log().count("PANIC") == 0 and "terminated by signal" not in pg.log()


def test_index_advice_for_a_partition_set_uses_the_shared_concurrent_path(pg):
    sql(pg, """CREATE TABLE adv (at timestamptz NOT NULL, customer int, note text);
               INSERT INTO adv SELECT now() - (g % 10) * interval '1 day', g % 5000, md5(g::text) FROM generate_series(1, 100000) g;
               SELECT count(*) FROM optimizer.partition_table('adv', 'at', 'daily', premake => 1);
               ANALYZE adv;
               SELECT optimizer.reset();""")
    for k in range(30):
        sql(pg, f"SELECT count(*) FROM adv WHERE customer = {k * 7}")
    ddl = val(pg, "SELECT ddl FROM optimizer.index_advice() WHERE action = 'create' AND table_name = '\"public\".\"adv\"' LIMIT 1")
    assert ddl.startswith("SELECT * FROM optimizer.create_index('\"public\".\"adv\"', ARRAY['customer']"), ddl
    run_id = sql(pg, ddl)[0][5]
    deadline = time.time() + 60
    while val(pg, f"SELECT status FROM optimizer.job_runs WHERE run_id = {run_id}") in ("starting", "running"):
        assert time.time() < deadline
        time.sleep(0.3)
    assert val(pg, f"SELECT status FROM optimizer.job_runs WHERE run_id = {run_id}") == "succeeded"
    assert val(pg, "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                   "WHERE i.indrelid = 'adv'::regclass AND i.indisvalid") == "1"
    # Every partition has it, and a partition made later gets it too.
    sql(pg, "UPDATE optimizer.partition_sets SET premake = 3 WHERE parent = 'adv'::regclass")
    sql(pg, "SELECT * FROM optimizer.maintain_partitions('adv')")
    assert val(pg, """SELECT count(*) FROM optimizer.partitions p WHERE p.parent = 'adv'::regclass
                       AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = p.partition)""") == "0"
