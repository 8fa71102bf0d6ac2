"""Auto-indexing against a real preloaded server: a missing index is built in apply mode and
verified once its statement got faster; an index the statements do not use is rolled back; a build
cancelled mid-way leaves no INVALID index and the next run builds it; another role's table is
indexed as that role; a trojan function in an expression index never runs as a superuser; nothing
is built outside the window; advise mode changes nothing; writers see no error during builds;
drop advice is applied after its grace period.

The scheduler is off in this cluster: the tests call autoindex_run and autoindex_verify
themselves (as the built-in jobs would), so no background run interleaves with theirs."""

import os
import re
import subprocess
import time

import pytest

from conftest import PG_BIN, Cluster

PORT = 5646


@pytest.fixture(scope="module")
def pg():
    c = Cluster("autoindex", PORT, {"pg_optimizer.scheduler": "off", "max_worker_processes": "16",
                                    "pg_optimizer.autoindex": "apply", "pg_optimizer.autoindex_verify_min_calls": "50",
                                    "pg_optimizer.autoindex_min_benefit": "1"}).init().start()
    c.psql("CREATE DATABASE app")
    c.psql("CREATE EXTENSION pg_optimizer", db="app")
    yield c
    c.stop()


def sql(c, text, user="postgres"):
    return c.psql(text, db="app", user=user)


def val(c, text, user="postgres"):
    return c.value(text, db="app", user=user)


def run(c, fn="autoindex_run"):
    """{index_name: (status, detail)} of one call."""
    return {r[3]: (r[4], r[5]) for r in sql(c, f"SELECT * FROM optimizer.{fn}()")}


def settle(c, name, until=("created", "failed", "rolled back", "dropped"), timeout=60):
    deadline = time.time() + timeout
    while True:
        sql(c, "SELECT count(*) FROM optimizer.autoindex_settle()")
        s = val(c, f"SELECT status FROM optimizer.index_actions WHERE index_name = '{name}' ORDER BY id DESC LIMIT 1")
        if s in until:
            return s
        assert time.time() < deadline, f"{name} still {s}"
        time.sleep(0.3)


def loaded(c):
    """After a bulk load: forget it (its rows-per-second would count as the table's write rate)."""
    sql(c, "SELECT pg_stat_reset(); SELECT optimizer.reset();")


def workload(c, table, column, n, user="postgres", prefix=""):
    sql(c, prefix + "".join(f"SELECT count(*) FROM {table} WHERE {column} = {k * 7 % 5000};\n" for k in range(n)), user=user)


def no_invalid_index(c):
    return val(c, "SELECT count(*) FROM pg_index WHERE NOT indisvalid") == "0"


def test_a_missing_index_is_built_verified_and_kept(pg):
    sql(pg, """CREATE TABLE orders (id bigserial PRIMARY KEY, customer int, total numeric);
               INSERT INTO orders (customer, total) SELECT g % 5000, g FROM generate_series(1, 300000) g;
               ANALYZE orders;""")
    loaded(pg)
    workload(pg, "orders", "customer", 30)
    out = run(pg)
    assert out["orders_customer_idx"][0] == "building", out
    assert settle(pg, "orders_customer_idx") == "created"
    assert no_invalid_index(pg)
    # Intent and before-figures were recorded before the build.
    before = val(pg, "SELECT (before->'statements'->0->>'calls')::int FROM optimizer.index_actions WHERE index_name = 'orders_customer_idx'")
    assert int(before) >= 30
    # Not enough calls yet: no verdict.
    assert "orders_customer_idx" not in run(pg, "autoindex_verify")
    workload(pg, "orders", "customer", 60)
    out = run(pg, "autoindex_verify")
    assert out["orders_customer_idx"][0] == "verified", out
    mean_before, mean_after = map(float, sql(pg, """SELECT after->>'mean_ms_before', after->>'mean_ms_after'
                                                     FROM optimizer.index_actions WHERE index_name = 'orders_customer_idx'""")[0])
    assert mean_after < mean_before / 2, (mean_before, mean_after)
    assert val(pg, "SELECT count(*) FROM pg_indexes WHERE indexname = 'orders_customer_idx'") == "1"
    # The next run builds it again neither now nor later.
    assert "orders_customer_idx" not in run(pg)


def test_an_index_the_statements_do_not_use_is_rolled_back(pg):
    sql(pg, """CREATE TABLE visits (id bigserial PRIMARY KEY, page int, at timestamptz DEFAULT now());
               INSERT INTO visits (page) SELECT g % 4000 FROM generate_series(1, 200000) g;
               ANALYZE visits;""")
    loaded(pg)
    workload(pg, "visits", "page", 30)
    assert run(pg)["visits_page_idx"][0] == "building"
    assert settle(pg, "visits_page_idx") == "created"
    # The statement runs on, but its plans never use the index (it is no faster).
    workload(pg, "visits", "page", 60, prefix="SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off;\n")
    out = run(pg, "autoindex_verify")
    assert out["visits_page_idx"][0] == "rolling back", out
    assert "no targeted statement's executed plan used the index" in out["visits_page_idx"][1]
    assert settle(pg, "visits_page_idx") == "rolled back"
    assert val(pg, "SELECT count(*) FROM pg_indexes WHERE indexname = 'visits_page_idx'") == "0"
    # It is not built again at once.
    workload(pg, "visits", "page", 5)
    assert "visits_page_idx" not in run(pg)


def test_a_cancelled_build_leaves_nothing_invalid_and_the_next_run_builds_it(pg):
    sql(pg, """CREATE TABLE items (id bigserial PRIMARY KEY, sku int, qty int);
               INSERT INTO items (sku, qty) SELECT g % 3000, g FROM generate_series(1, 200000) g;
               ANALYZE items;""")
    loaded(pg)
    workload(pg, "items", "sku", 30)
    # An open transaction holds a snapshot: CREATE INDEX CONCURRENTLY waits for it, mid-build.
    holder = subprocess.Popen([f"{PG_BIN}/psql", "-X", "-Atq", "-h", "/tmp", "-p", str(PORT), "-U", "postgres", "-d", "app"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        holder.stdin.write("BEGIN ISOLATION LEVEL REPEATABLE READ;\nSELECT count(*) FROM orders;\n")
        holder.stdin.flush()
        assert holder.stdout.readline()
        assert run(pg)["items_sku_idx"][0] == "building"
        deadline = time.time() + 30
        while True:
            pids = sql(pg, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_optimizer job' "
                           "AND query LIKE '%CREATE INDEX CONCURRENTLY%items_sku_idx%' AND wait_event = 'virtualxid'")
            if pids:
                break
            assert time.time() < deadline, "the build never started"
            time.sleep(0.2)
        time.sleep(0.5)
        sql(pg, f"SELECT pg_cancel_backend({pids[0][0]})")
    finally:
        holder.stdin.write("COMMIT;\n")
        holder.stdin.close()
        holder.wait(timeout=10)
    assert settle(pg, "items_sku_idx") == "failed"
    assert "cancel" in val(pg, "SELECT message FROM optimizer.index_actions WHERE index_name = 'items_sku_idx'")
    assert no_invalid_index(pg)
    assert val(pg, "SELECT count(*) FROM pg_indexes WHERE tablename = 'items'") == "1"
    # The next run tries again and succeeds; one index, not two.
    assert run(pg)["items_sku_idx"][0] == "building"
    assert settle(pg, "items_sku_idx") == "created"
    assert val(pg, "SELECT count(*) FROM pg_indexes WHERE tablename = 'items'") == "2"
    assert no_invalid_index(pg)


def test_another_roles_table_is_indexed_as_that_role_and_its_trojan_never_runs_as_superuser(pg):
    marker = "/tmp/pg_optimizer-autoindex-pwned"
    if os.path.exists(marker):
        os.remove(marker)
    sql(pg, f"""
        CREATE ROLE carol LOGIN;
        CREATE SCHEMA carol AUTHORIZATION carol;
        SET ROLE carol;
        CREATE FUNCTION carol.evil() RETURNS void LANGUAGE plpgsql VOLATILE AS $$
        BEGIN EXECUTE 'COPY (SELECT current_user) TO PROGRAM ''cat > {marker}'''; END $$;
        -- IMMUTABLE, but calls the VOLATILE one whenever a superuser evaluates it.
        CREATE FUNCTION carol.norm(text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
        BEGIN
            IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN PERFORM carol.evil(); END IF;
            RETURN lower($1);
        END $$;
        CREATE TABLE carol.users (id bigserial PRIMARY KEY, email text DEFAULT carol.norm('X@Y'));
        INSERT INTO carol.users (email) SELECT 'User' || g || '@example.com' FROM generate_series(1, 100000) g;
        ANALYZE carol.users;
        RESET ROLE;""")
    loaded(pg)
    sql(pg, "".join(f"SELECT count(*) FROM carol.users WHERE carol.norm(email) = 'user{k}@example.com';\n" for k in range(30)),
        user="carol")
    out = run(pg)
    name = next((k for k, v in out.items() if k.startswith("users_")), None)
    assert name and out[name][0] == "building", out
    assert settle(pg, name) == "created"
    assert not os.path.exists(marker), "carol's function ran with a superuser's rights"
    # The build ran as carol (the run is hers), and the index is an expression index over her function.
    run_id = val(pg, f"SELECT run_id FROM optimizer.index_actions WHERE index_name = '{name}'")
    assert val(pg, f"SELECT owner::text FROM optimizer.job_runs WHERE run_id = {run_id}") == "carol"
    assert "norm" in val(pg, f"SELECT pg_get_indexdef('carol.{name}'::regclass)")
    # carol sees her action; another role does not.
    assert val(pg, "SELECT count(*) FROM optimizer.index_actions", user="carol") == "1"


def test_nothing_is_built_outside_the_window(pg):
    sql(pg, """CREATE TABLE late (id bigserial PRIMARY KEY, k int);
               INSERT INTO late (k) SELECT g % 2000 FROM generate_series(1, 100000) g; ANALYZE late;""")
    loaded(pg)
    workload(pg, "late", "k", 30)
    hour = int(val(pg, "SELECT extract(hour FROM now())"))
    closed = f"{(hour + 2) % 24:02d}:00-{(hour + 3) % 24:02d}:00"
    rows = sql(pg, f"SET pg_optimizer.autoindex_window = '{closed}'; SELECT * FROM optimizer.autoindex_run()")
    assert rows == [] and "outside pg_optimizer.autoindex_window" in pg.last_stderr
    assert val(pg, "SELECT count(*) FROM pg_indexes WHERE tablename = 'late'") == "1"
    opened = f"{hour:02d}:00-{(hour + 1) % 24:02d}:00"
    out = {r[3]: r[4] for r in sql(pg, f"SET pg_optimizer.autoindex_window = '{opened}'; SELECT * FROM optimizer.autoindex_run()")}
    assert out.get("late_k_idx") == "building", out
    assert settle(pg, "late_k_idx") == "created"


def test_advise_mode_changes_nothing(pg):
    sql(pg, """CREATE TABLE quiet (id bigserial PRIMARY KEY, k int);
               INSERT INTO quiet (k) SELECT g % 2000 FROM generate_series(1, 100000) g; ANALYZE quiet;""")
    loaded(pg)
    workload(pg, "quiet", "k", 30)
    for _ in range(2):
        out = {r[3]: r[4] for r in sql(pg, "SET pg_optimizer.autoindex = advise; SELECT * FROM optimizer.autoindex_run()")}
    assert val(pg, "SELECT count(*) FROM pg_indexes WHERE tablename = 'quiet'") == "1"
    # Recorded once, seen again.
    assert sql(pg, "SELECT status, last_seen > at FROM optimizer.index_actions WHERE index_name = 'quiet_k_idx'") == [["would create", "t"]]
    assert sql(pg, "SET pg_optimizer.autoindex = off; SELECT * FROM optimizer.autoindex_run()") == []


def test_writers_see_no_errors_during_builds(pg, tmp_path):
    sql(pg, """CREATE TABLE busy (id bigserial PRIMARY KEY, k int, v text);
               INSERT INTO busy (k, v) SELECT g % 3000, 'x' FROM generate_series(1, 300000) g; ANALYZE busy;""")
    loaded(pg)
    workload(pg, "busy", "k", 30)
    script = tmp_path / "w.sql"
    script.write_text("\\set k random(1, 3000)\nINSERT INTO busy (k, v) VALUES (:k, 'w');\nUPDATE busy SET v = 'u' WHERE id = :k;\n")
    os.chmod(tmp_path, 0o755)
    os.chmod(script, 0o644)
    writer = subprocess.Popen([f"{PG_BIN}/pgbench", "-h", "/tmp", "-p", str(PORT), "-U", "postgres", "-n", "-c", "2",
                               "-T", "12", "-f", str(script), "app"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    assert run(pg)["busy_k_idx"][0] == "building"
    assert settle(pg, "busy_k_idx") == "created"
    out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    failed = re.search(r"number of failed transactions: (\d+)", out)
    assert failed is None or failed.group(1) == "0", out
    assert no_invalid_index(pg)


def test_drop_advice_is_applied_after_its_grace_period(pg):
    sql(pg, """CREATE TABLE dup (id bigserial PRIMARY KEY, k int);
               INSERT INTO dup (k) SELECT g FROM generate_series(1, 10000) g;
               CREATE INDEX dup_k ON dup (k); CREATE INDEX dup_k_again ON dup (k); ANALYZE dup;""")
    loaded(pg)
    # Off by default.
    assert not [r for r in sql(pg, "SELECT * FROM optimizer.autoindex_run()") if r[1] == "drop"]
    out = [r for r in sql(pg, "SET pg_optimizer.autoindex_drop = on; SELECT * FROM optimizer.autoindex_run()") if r[1] == "drop"]
    assert out and out[0][4] == "drop candidate", out
    name = out[0][3]
    out = [r for r in sql(pg, "SET pg_optimizer.autoindex_drop = on; SET pg_optimizer.autoindex_drop_grace = 0; "
                              "SELECT * FROM optimizer.autoindex_run()") if r[1] == "drop"]
    assert out and out[0][4] == "dropping", out
    assert settle(pg, name) == "dropped"
    assert val(pg, "SELECT count(*) FROM pg_indexes WHERE tablename = 'dup'") == "2"
    assert pg.log().count("PANIC") == 0
