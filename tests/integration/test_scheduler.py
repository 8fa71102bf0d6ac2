"""The job scheduler on real preloaded clusters: jobs run on time, overlapping runs are skipped,
timeouts cancel, jobs run as their owner (never with more rights), history survives a killed
worker and a server crash, a SIGHUP storm changes nothing, a standby does nothing, the history is
bounded, worker-slot exhaustion is logged and retried, the extension's DDL starts and stops the
scheduler."""

import os
import signal
import subprocess
import time

import pytest

from conftest import PG_BIN, Cluster, as_pg
from test_hardening import CRASH_MARKERS, crash_free, sqlstate

PORT = 5630
CRASH_PORT = 5631
PRIMARY_PORT = 5632
STANDBY_PORT = 5633
SLOTS_PORT = 5634
UPGRADE_OLD_PORT = 5635
UPGRADE_NEW_PORT = 5636
CONF = {"pg_optimizer.snapshot_interval": "0", "max_worker_processes": "24"}


def wait_for(what, check, timeout=20.0, every=0.2):
    deadline = time.time() + timeout
    while True:
        v = check()
        if v:
            return v
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


def fresh_cluster(name, port, conf=None, dbs=("app",)):
    c = Cluster(f"sched-{name}", port, {**CONF, **(conf or {})})
    try:
        c.stop("immediate")
    except subprocess.CalledProcessError:
        pass
    c.init().start()
    for db in dbs:
        c.psql(f"CREATE DATABASE {db}")
        c.psql("CREATE EXTENSION pg_optimizer", db=db)
    return c


def workers(c, kind):
    """pids of our workers of one kind ('launcher', 'scheduler', 'job'), with their database."""
    return c.psql(f"SELECT pid, coalesce(datname, '') FROM pg_stat_activity WHERE backend_type = 'pg_optimizer {kind}' ORDER BY pid")


def runs(c, job, db="app", where="true"):
    return c.psql(
        "SELECT run_id, status, coalesce(message, ''), "
        "coalesce(extract(epoch FROM started_at - scheduled_at)::float8, -1), extract(epoch FROM scheduled_at)::float8, "
        "coalesce(extract(epoch FROM started_at)::float8, 0), coalesce(extract(epoch FROM ended_at)::float8, 0), "
        f"coalesce(rows, -1), coalesce(owner::text, '') FROM optimizer.job_runs WHERE job = '{job}' AND {where} ORDER BY run_id", db=db)


def scheduler_up(c, db="app"):
    return wait_for(f"the scheduler of {db}", lambda: [w for w in workers(c, "scheduler") if w[1] == db])


@pytest.fixture(scope="module")
def sc():
    c = fresh_cluster("main", PORT)
    scheduler_up(c)
    c.psql("CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; GRANT CREATE ON SCHEMA public TO alice, bob;", db="app")
    yield c
    crash_free(c)
    c.stop()


# -- running on time ---------------------------------------------------------------------------

def test_a_job_runs_on_its_schedule_within_two_seconds(sc):
    c = sc
    c.psql("CREATE TABLE ticks (t timestamptz DEFAULT clock_timestamp(), who text DEFAULT current_user)", db="app")
    c.psql("SELECT optimizer.schedule('tick', '2 seconds', 'INSERT INTO ticks DEFAULT VALUES')", db="app")
    done = wait_for("three runs", lambda: len([r for r in runs(c, "tick") if r[1] == "succeeded"]) >= 3 and runs(c, "tick"))
    c.psql("SELECT optimizer.unschedule('tick')", db="app")
    for run_id, status, msg, late, due, *_ in done:
        if status == "succeeded":
            assert 0 <= float(late) < 2.0, (run_id, late)
            # Intervals are aligned to the clock: every due time is a multiple of 2 s.
            assert float(due) % 2 == 0, due
    ok = [r for r in done if r[1] == "succeeded"]
    assert int(c.value("SELECT count(*) FROM ticks", db="app")) >= len(ok)
    assert len({r[4] for r in done}) == len(done), "one run per due time"
    # The job's statement is workload and recorded; the scheduler's and runners' bookkeeping is not.
    assert int(c.value("SELECT coalesce(sum(calls), 0) FROM optimizer.statements WHERE query = 'INSERT INTO ticks DEFAULT VALUES'",
                       db="app")) >= len(ok)
    assert c.value("SELECT count(*) FROM optimizer.statements WHERE query LIKE '%FROM optimizer.jobs WHERE database%' "
                   "OR query LIKE 'UPDATE optimizer.job_runs%' OR query LIKE 'INSERT INTO optimizer.job_runs%'", db="app") == "0"


def test_next_run_knows_intervals_cron_and_windows(sc):
    c = sc
    q = lambda s, w, at: c.value(f"SET TimeZone = 'UTC'; SELECT optimizer.next_run('{s}', {w}, '{at}')", db="app")
    assert q("*/5 * * * *", "NULL", "2026-12-01 10:01:00+00") == "2026-12-01 10:05:00+00"
    assert q("0 3 * * 0", "NULL", "2026-12-01 10:00:00+00") == "2026-12-06 03:00:00+00"
    assert q("15 minutes", "NULL", "2026-12-01 10:07:00+00") == "2026-12-01 10:15:00+00"
    assert q("10 seconds", "'22:00-06:00'", "2026-12-01 10:00:00+00") == "2026-12-01 22:00:00+00"
    state, out = sqlstate(c, "SELECT optimizer.schedule('x', 'every tuesday', 'SELECT 1')", "app")
    assert state == "22023" and "HINT" in out and "cron" in out, out
    state, out = sqlstate(c, "SELECT optimizer.schedule('x', '1 hour', 'SELECT 1', run_window => '25:00-26:00')", "app")
    assert state == "22023" and "HH:MM-HH:MM" in out, out
    # A direct insert is checked the same way.
    state, out = sqlstate(c, "INSERT INTO optimizer.jobs (name, schedule, command) VALUES ('x', 'soon', 'SELECT 1')", "app")
    assert state == "22023", out


def test_an_overlapping_run_is_skipped_not_queued(sc):
    c = sc
    c.psql("SELECT optimizer.schedule('slow', '1 second', 'SELECT pg_sleep(2.5)')", db="app")
    rows = wait_for("two skips and a success",
                    lambda: (lambda rs: len([r for r in rs if r[1] == "skipped"]) >= 2
                             and len([r for r in rs if r[1] == "succeeded"]) >= 1 and rs)(runs(c, "slow")), timeout=15)
    c.psql("SELECT optimizer.unschedule('slow')", db="app")
    skipped = [r for r in rows if r[1] == "skipped"]
    assert all(r[2].startswith("skipped: still running (run ") for r in skipped), skipped
    # Runs that ran never overlapped.
    ran = sorted((float(r[5]), float(r[6])) for r in rows if r[1] == "succeeded")
    for (s1, e1), (s2, _) in zip(ran, ran[1:]):
        assert s2 >= e1, ran


def test_a_job_past_its_timeout_is_cancelled_and_recorded(sc):
    c = sc
    c.psql("SELECT optimizer.schedule('sleepy', '1 hour', 'SELECT pg_sleep(60)', timeout => '1 second')", db="app")
    run_id = c.value("SELECT optimizer.run_job('sleepy', wait => true)", db="app")
    status, msg, started, ended, src = c.psql(
        "SELECT status, message, extract(epoch FROM started_at), extract(epoch FROM ended_at), source "
        f"FROM optimizer.job_runs WHERE run_id = {run_id}", db="app")[0]
    assert (status, src) == ("timed out", "run_job"), msg
    assert "statement timeout" in msg
    assert 0.9 < float(ended) - float(started) < 10
    assert workers(c, "job") == []
    c.psql("SELECT optimizer.unschedule('sleepy')", db="app")


def test_lock_timeout_applies_to_the_job(sc):
    c = sc
    c.psql("CREATE TABLE locked (v int); INSERT INTO locked VALUES (1)", db="app")
    holder = subprocess.Popen([f"{PG_BIN}/psql", "-X", "-h", "/tmp", "-p", str(c.port), "-U", "postgres", "-d", "app"],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
                              env=dict(os.environ, PGAPPNAME="lock_holder"))
    holder.stdin.write("BEGIN; LOCK TABLE locked IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(30);\n")
    holder.stdin.flush()
    try:
        wait_for("the lock", lambda: c.value("SELECT count(*) FROM pg_locks l JOIN pg_class r ON r.oid = l.relation "
                                             "WHERE r.relname = 'locked' AND l.mode = 'AccessExclusiveLock' AND l.granted", db="app") == "1")
        c.psql("SELECT optimizer.schedule('blocked', '1 hour', 'UPDATE locked SET v = 2', lock_timeout => '500ms')", db="app")
        run_id = c.value("SELECT optimizer.run_job('blocked', wait => true)", db="app")
        status, msg = c.psql(f"SELECT status, message FROM optimizer.job_runs WHERE run_id = {run_id}", db="app")[0]
        assert status == "failed" and "lock timeout" in msg, (status, msg)
    finally:
        holder.kill()
        c.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'lock_holder'", db="app")
        c.psql("SELECT optimizer.unschedule('blocked')", db="app")


def test_run_job_checks_and_waits(sc):
    c = sc
    c.psql("CREATE TABLE manual (v int)", db="app")
    c.psql("SELECT optimizer.schedule('manual', '0 0 1 1 *', 'INSERT INTO manual VALUES (1); INSERT INTO manual VALUES (2)')", db="app")
    run_id = c.value("SELECT optimizer.run_job('manual', wait => true)", db="app")
    assert c.psql(f"SELECT status, rows, source FROM optimizer.job_runs WHERE run_id = {run_id}", db="app") == [["succeeded", "1", "run_job"]]
    assert c.value("SELECT sum(v) FROM manual", db="app") == "3"
    state, out = sqlstate(c, "SELECT optimizer.run_job('no such job')", "app")
    assert state == "42704" and "HINT" in out, out
    c.psql("SELECT optimizer.schedule('long', '0 0 1 1 *', 'SELECT pg_sleep(20)')", db="app")
    c.psql("SELECT optimizer.run_job('long')", db="app")
    wait_for("the long run", lambda: runs(c, "long", where="status = 'running'"))
    state, out = sqlstate(c, "SELECT optimizer.run_job('long')", "app")
    assert state == "55006" and "pg_cancel_backend" in out, out
    # The job's worker names itself.
    assert c.value("SELECT application_name FROM pg_stat_activity WHERE backend_type = 'pg_optimizer job'", db="app") == "pg_optimizer job long"
    # Manual runs count against pg_optimizer.max_running_jobs too (no role fills max_worker_processes).
    c.psql("ALTER SYSTEM SET pg_optimizer.max_running_jobs = 1; SELECT pg_reload_conf()")
    try:
        wait_for("the setting", lambda: c.value("SHOW pg_optimizer.max_running_jobs", db="app") == "1")
        state, out = sqlstate(c, "SELECT * FROM optimizer.run_in_worker(ARRAY['SELECT 1'])", "app", user="alice")
        assert state == "53400" and "max_running_jobs" in out, out
    finally:
        c.psql("ALTER SYSTEM RESET pg_optimizer.max_running_jobs; SELECT pg_reload_conf()")
    c.psql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE backend_type = 'pg_optimizer job'", db="app")
    final = wait_for("the cancelled run", lambda: runs(c, "long", where="status NOT IN ('running', 'starting')"))
    assert final[0][1] == "failed" and "canceling statement due to user request" in final[0][2], final
    c.psql("SELECT optimizer.unschedule('long'); SELECT optimizer.unschedule('manual')", db="app")


def test_statements_that_refuse_transactions_run_in_jobs_and_in_run_in_worker(sc):
    c = sc
    c.psql("CREATE TABLE churn AS SELECT g AS v FROM generate_series(1, 10000) g; DELETE FROM churn WHERE v % 2 = 0; "
           "CREATE INDEX churn_v ON churn (v)", db="app")
    c.psql("SELECT optimizer.schedule('maint', '0 0 1 1 *', 'VACUUM churn; REINDEX INDEX CONCURRENTLY churn_v')", db="app")
    # Not wait => true: REINDEX CONCURRENTLY waits for every older snapshot, the waiter's too.
    run_id = c.value("SELECT optimizer.run_job('maint')", db="app")
    done = wait_for("the maintenance run", lambda: c.psql(
        f"SELECT status, coalesce(message, '') FROM optimizer.job_runs WHERE run_id = {run_id} AND status NOT IN ('starting', 'running')", db="app"))
    assert done == [["succeeded", ""]], done
    assert c.value("SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'churn'", db="app") != "0"
    # run_in_worker without waiting: the run is recorded under its label.
    rows = c.psql("SELECT status, run_id FROM optimizer.run_in_worker(ARRAY['REINDEX INDEX CONCURRENTLY churn_v', 'SELECT 1/0'], "
                  "wait => false, label => 'reindex_churn')", db="app")
    assert [r[0] for r in rows] == ["started", "started"] and rows[0][1] == rows[1][1], rows
    done = wait_for("the detached run", lambda: c.psql(
        f"SELECT job, source, status, message FROM optimizer.job_runs WHERE run_id = {rows[0][1]} AND status NOT IN ('starting', 'running')", db="app"))
    assert done[0][:3] == ["reindex_churn", "run_in_worker", "failed"], done
    assert "1 of 2 command(s) did not succeed; SELECT 1/0: failed: division by zero" == done[0][3], done
    rows = c.psql("SELECT command, status, coalesce(message, '') FROM optimizer.run_in_worker("
                  "ARRAY['VACUUM churn', 'SELECT 1/0', 'SELECT pg_sleep(10)'], statement_timeout => '1s')", db="app")
    assert [r[:2] for r in rows] == [["VACUUM churn", "succeeded"], ["SELECT 1/0", "failed"], ["SELECT pg_sleep(10)", "timed out"]], rows
    assert rows[1][2] == "division by zero"
    # A BEGIN without COMMIT is rolled back and reported.
    c.psql("SELECT optimizer.schedule('open', '0 0 1 1 *', 'BEGIN; INSERT INTO churn VALUES (-1)')", db="app")
    run_id = c.value("SELECT optimizer.run_job('open', wait => true)", db="app")
    assert c.psql(f"SELECT status, message FROM optimizer.job_runs WHERE run_id = {run_id}", db="app") == \
        [["failed", "the command left a transaction block open (BEGIN without COMMIT): rolled back"]]
    assert c.value("SELECT count(*) FROM churn WHERE v = -1", db="app") == "0"
    c.psql("SELECT optimizer.unschedule('maint'); SELECT optimizer.unschedule('open')", db="app")


def test_cancelling_run_in_worker_stops_its_worker(sc):
    c = sc
    state, out = sqlstate(c, "SET statement_timeout = '1s'; SELECT * FROM optimizer.run_in_worker(ARRAY['SELECT pg_sleep(60)'])", "app")
    assert state == "57014", out
    wait_for("the worker to stop", lambda: workers(c, "job") == [], timeout=5)


def test_a_start_window_holds_a_job_back(sc):
    c = sc
    # A window that opens two hours from now.
    c.psql("SELECT optimizer.schedule('windowed', '1 second', 'SELECT 1', run_window => "
           "to_char(now() AT TIME ZONE 'UTC' + interval '2 hours', 'HH24:MI') || '-' || "
           "to_char(now() AT TIME ZONE 'UTC' + interval '3 hours', 'HH24:MI'))", db="app")
    time.sleep(3)
    assert runs(c, "windowed") == []
    nxt = float(c.value("SELECT extract(epoch FROM next_run - now()) FROM optimizer.job_status WHERE name = 'windowed'", db="app"))
    assert 3600 < nxt <= 7200, nxt
    c.psql("SELECT optimizer.unschedule('windowed')", db="app")


# -- identity and privileges -------------------------------------------------------------------

def test_jobs_run_as_their_owner_and_never_with_more_rights(sc, tmp_path):
    c = sc
    marker = f"/tmp/pg_optimizer_sched_pwned_{os.getpid()}"
    if os.path.exists(marker):
        os.remove(marker)
    # alice's IMMUTABLE function calls a VOLATILE one that writes a file through COPY TO PROGRAM:
    # only a superuser (or pg_execute_server_program) may.
    c.psql(f"""
        CREATE TABLE alice_t (who text, sess text);
        ALTER TABLE alice_t OWNER TO alice;
        SET ROLE alice;
        CREATE FUNCTION public.alice_volatile() RETURNS int LANGUAGE plpgsql AS $$
          BEGIN EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch {marker}'''; RETURN 1; END $$;
        CREATE FUNCTION public.alice_immutable() RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT public.alice_volatile()';
        SELECT optimizer.schedule('alice_whoami', '0 0 1 1 *', 'INSERT INTO alice_t VALUES (current_user, session_user)');
        SELECT optimizer.schedule('alice_pwn', '0 0 1 1 *', 'SELECT public.alice_immutable()');
        SELECT optimizer.schedule('alice_role', '0 0 1 1 *', 'SET ROLE postgres; COPY (SELECT 1) TO PROGRAM ''touch {marker}''');
        SELECT optimizer.schedule('alice_reset', '0 0 1 1 *', 'RESET ROLE; COPY (SELECT 1) TO PROGRAM ''touch {marker}''');
        SELECT optimizer.schedule('alice_auth', '0 0 1 1 *', 'SET SESSION AUTHORIZATION postgres');
        """, db="app")
    for job in ("alice_whoami", "alice_pwn", "alice_role", "alice_reset", "alice_auth"):
        c.psql(f"SELECT optimizer.run_job('{job}', wait => true)", db="app", user="alice")
    assert c.psql("SELECT who FROM alice_t", db="app") == [["alice"]]
    got = {r[0]: r[1:] for r in c.psql("SELECT job, status, message, owner::text FROM optimizer.job_runs WHERE job LIKE 'alice%'", db="app")}
    assert got["alice_whoami"][0] == "succeeded" and got["alice_whoami"][2] == "alice"
    for job in ("alice_pwn", "alice_role", "alice_reset", "alice_auth"):
        assert got[job][0] == "failed", (job, got[job])
    assert "pg_execute_server_program" in got["alice_pwn"][1] or "permission denied" in got["alice_pwn"][1], got["alice_pwn"]
    assert got["alice_role"][1].startswith("cannot set parameter \"role\""), got["alice_role"]
    # run_in_worker runs as the caller, with no more rights either.
    rows = c.psql(f"SELECT status, message FROM optimizer.run_in_worker(ARRAY['COPY (SELECT 1) TO PROGRAM ''touch {marker}''', "
                  "'INSERT INTO alice_t VALUES (current_user, session_user)'])", db="app", user="alice")
    assert rows[0][0] == "failed" and rows[1][0] == "succeeded", rows
    assert c.psql("SELECT who FROM alice_t ORDER BY who", db="app") == [["alice"], ["alice"]]
    assert not os.path.exists(marker), "a job ran alice's code with a superuser's rights"


def test_roles_manage_only_their_own_jobs(sc):
    c = sc
    c.psql("SELECT optimizer.schedule('alice_job', '1 hour', 'SELECT 1')", db="app", user="alice")
    state, out = sqlstate(c, "SELECT optimizer.schedule('as_alice', '1 hour', 'SELECT 1', owner => 'alice')", "app", user="bob")
    assert state == "42501" and "superuser" in out, out
    state, out = sqlstate(c, "INSERT INTO optimizer.jobs (name, schedule, command, owner) VALUES ('sneaky', '1 hour', 'SELECT 1', 'postgres')",
                          "app", user="bob")
    assert state == "42501", out
    state, out = sqlstate(c, "INSERT INTO optimizer.jobs (name, schedule, command, builtin) VALUES ('sneaky', '1 hour', 'SELECT 1', true)",
                          "app", user="bob")
    assert state == "42501", out
    # bob sees none of alice's jobs or runs, cannot change, run, take over or drop them.
    assert c.value("SELECT count(*) FROM optimizer.jobs", db="app", user="bob") == "0"
    assert c.value("SELECT count(*) FROM optimizer.job_runs", db="app", user="bob") == "0"
    assert c.psql("UPDATE optimizer.jobs SET command = 'SELECT 2' RETURNING name", db="app", user="bob") == []
    state, _ = sqlstate(c, "SELECT optimizer.run_job('alice_job')", "app", user="bob")
    assert state == "42704"
    state, out = sqlstate(c, "SELECT optimizer.schedule('alice_job', '1 hour', 'SELECT 2')", "app", user="bob")
    assert state == "42710" and "another role" in out, out
    assert c.value("SELECT optimizer.unschedule('alice_job')", db="app", user="bob") == "f"
    assert c.value("SELECT command FROM optimizer.jobs WHERE name = 'alice_job'", db="app") == "SELECT 1"
    # A superuser may schedule for another role; the built-in job cannot be dropped.
    c.psql("SELECT optimizer.schedule('for_bob', '1 hour', 'SELECT 1', owner => 'bob')", db="app")
    assert c.value("SELECT count(*) FROM optimizer.jobs", db="app", user="bob") == "1"
    state, out = sqlstate(c, "SELECT optimizer.unschedule('statement_history')", "app")
    assert state == "55000" and "enabled => false" in out, out


# -- signals, standby, history bound -----------------------------------------------------------

def test_a_sighup_storm_changes_nothing(sc):
    c = sc
    c.psql("CREATE TABLE hup (t timestamptz DEFAULT clock_timestamp())", db="app")
    c.psql("SELECT optimizer.schedule('hup', '1 second', 'INSERT INTO hup SELECT clock_timestamp() FROM pg_sleep(0.3)')", db="app")
    wait_for("a first run", lambda: runs(c, "hup", where="status = 'succeeded'"))
    before = workers(c, "scheduler") + workers(c, "launcher")
    end = time.time() + 6
    n = 0
    while time.time() < end:
        pids = [int(p) for p, _ in workers(c, "scheduler") + workers(c, "launcher") + workers(c, "job")]
        for p in pids:
            try:
                os.kill(p, signal.SIGHUP)
                n += 1
            except ProcessLookupError:
                pass
        c.psql("SELECT pg_reload_conf()", db="app")
        time.sleep(0.05)
    assert n > 50
    c.psql("SELECT optimizer.alter_job('hup', enabled => false)", db="app")
    wait_for("the last run", lambda: not runs(c, "hup", where="status IN ('starting', 'running')"))
    c.psql("SELECT optimizer.unschedule('hup')", db="app")
    rows = runs(c, "hup")
    assert len(rows) >= 5
    # (The run started ahead for the next due time sees the job disabled: skipped, and says why.)
    odd = [r for r in rows if r[1] != "succeeded" and r[2] != "skipped: the job was disabled or removed before its time"]
    assert odd == [], odd
    assert workers(c, "scheduler") + workers(c, "launcher") == before, "a worker restarted"
    assert len({r[4] for r in rows}) == len(rows)


def test_job_history_stays_within_its_bound(sc):
    c = sc
    c.psql("INSERT INTO optimizer.job_runs (job, scheduled_at, status) VALUES "
           "('old', now() - interval '10 days', 'succeeded'), ('recent', now() - interval '2 days', 'succeeded')", db="app")
    c.psql("ALTER SYSTEM SET pg_optimizer.job_history_days = 3; SELECT pg_reload_conf()")
    try:
        wait_for("the prune", lambda: c.value("SELECT count(*) FROM optimizer.job_runs WHERE job = 'old'", db="app") == "0")
        assert c.value("SELECT count(*) FROM optimizer.job_runs WHERE job = 'recent'", db="app") == "1"
        assert c.value("SELECT min(scheduled_at) > now() - interval '3 days' FROM optimizer.job_runs", db="app") == "t"
    finally:
        c.psql("ALTER SYSTEM RESET pg_optimizer.job_history_days; SELECT pg_reload_conf()")


def test_the_statement_history_job_follows_its_setting(sc):
    c = sc
    c.psql("ALTER SYSTEM SET pg_optimizer.snapshot_interval = '7s'; SELECT pg_reload_conf()")
    try:
        wait_for("the synced schedule",
                 lambda: c.value("SELECT schedule FROM optimizer.jobs WHERE name = 'statement_history'", db="app") == "7 seconds")
        wait_for("a snapshot run", lambda: runs(c, "statement_history", where="status = 'succeeded'"), timeout=20)
        state, out = sqlstate(c, "SELECT optimizer.alter_job('statement_history', schedule => '1 hour')", "app")
        assert state == "55000" and "snapshot_interval" in out, out
    finally:
        c.psql("ALTER SYSTEM RESET pg_optimizer.snapshot_interval; SELECT pg_reload_conf()")


def test_the_scheduler_follows_the_extension(sc):
    c = sc
    c.psql("CREATE DATABASE later")
    time.sleep(2)
    assert not [w for w in workers(c, "scheduler") if w[1] == "later"]
    c.psql("CREATE EXTENSION pg_optimizer", db="later")
    scheduler_up(c, "later")
    c.psql("DROP EXTENSION pg_optimizer", db="later")
    wait_for("the scheduler to leave", lambda: not [w for w in workers(c, "scheduler") if w[1] == "later"], timeout=10)
    # Nothing holds the database: it can be dropped (the probes of the launcher come and go).
    wait_for("dropping the database", lambda: subprocess.run(
        [f"{PG_BIN}/psql", "-X", "-h", "/tmp", "-p", str(c.port), "-U", "postgres", "-d", "postgres", "-c", "DROP DATABASE later"],
        capture_output=True).returncode == 0, timeout=20, every=1)


def test_a_scheduler_never_holds_up_drop_rename_or_template_use_of_its_database(sc):
    c = sc
    for db in ("tmpl", "dropme"):
        c.psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        c.psql(f"CREATE DATABASE {db}")
        c.psql("CREATE EXTENSION pg_optimizer", db=db)
        scheduler_up(c, db)
    # Each statement waits for the database's other sessions: our scheduler leaves at once.
    c.psql("CREATE DATABASE fromtmpl TEMPLATE tmpl")
    c.psql("ALTER DATABASE tmpl RENAME TO tmpl2")
    c.psql("DROP DATABASE dropme")
    c.psql("DROP DATABASE fromtmpl WITH (FORCE); DROP DATABASE tmpl2 WITH (FORCE)")
    assert "being accessed by other users" not in c.log()


def test_a_terminated_scheduler_is_started_again(sc):
    c = sc
    before = scheduler_up(c)[0][0]
    since = len(c.log())
    c.psql(f"SELECT pg_terminate_backend({before})")
    after = wait_for("a new scheduler", lambda: [w for w in workers(c, "scheduler") if w[1] == "app" and w[0] != before], timeout=15)
    assert after
    assert 'the scheduler of database "app" exited; starting it again in 1 s' in c.log()[since:]
    # The jobs go on.
    c.psql("SELECT optimizer.schedule('again', '1 second', 'SELECT 1')", db="app")
    wait_for("a run", lambda: runs(c, "again", where="status = 'succeeded'"))
    c.psql("SELECT optimizer.unschedule('again')", db="app")


def test_the_settings_choose_the_databases_and_can_stop_everything(sc):
    c = sc
    try:
        c.psql("ALTER SYSTEM SET pg_optimizer.databases = 'postgres, nosuchdb'; SELECT pg_reload_conf()")
        wait_for("the app scheduler to stop", lambda: not [w for w in workers(c, "scheduler") if w[1] == "app"], timeout=15)
        c.psql("ALTER SYSTEM RESET pg_optimizer.databases; SELECT pg_reload_conf()")
        scheduler_up(c)
        c.psql("ALTER SYSTEM SET pg_optimizer.scheduler = off; SELECT pg_reload_conf()")
        wait_for("every scheduler to stop", lambda: workers(c, "scheduler") == [], timeout=15)
        assert workers(c, "launcher"), "the launcher waits for the setting to come back"
    finally:
        c.psql("ALTER SYSTEM RESET pg_optimizer.databases; ALTER SYSTEM RESET pg_optimizer.scheduler; SELECT pg_reload_conf()")
    scheduler_up(c)


# -- crashes -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def crashy():
    c = fresh_cluster("crash", CRASH_PORT, {"restart_after_crash": "on"})
    scheduler_up(c)
    c.psql("CREATE TABLE beats (t timestamptz DEFAULT clock_timestamp())", db="app")
    c.psql("SELECT optimizer.schedule('beat', '1 second', 'INSERT INTO beats DEFAULT VALUES')", db="app")
    c.psql("SELECT optimizer.schedule('nap', '2 seconds', 'SELECT pg_sleep(60)')", db="app")
    yield c
    c.stop()


def history_is_consistent(c):
    """No run is left starting/running without a live worker; every run has an outcome or is live."""
    stale = c.psql("SELECT run_id, job, status FROM optimizer.job_runs r WHERE status IN ('starting', 'running') "
                   "AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.pid AND a.backend_type = 'pg_optimizer job') "
                   "AND scheduled_at < now() - interval '3 seconds'", db="app")
    assert stale == [], stale
    assert c.value("SELECT count(*) FROM optimizer.job_runs WHERE status IN ('succeeded', 'failed', 'timed out', 'skipped') "
                   "AND ended_at IS NULL", db="app") == "0"


@pytest.mark.parametrize("victim", ["scheduler", "job"])
def test_sigkill_of_a_worker_leaves_history_consistent_and_the_schedule_running(crashy, victim):
    c = crashy
    wait_for("a sleeping run", lambda: runs(c, "nap", where="status = 'running'"))
    pid = int([w for w in workers(c, victim)][0][0])
    since = len(c.log())
    os.kill(pid, signal.SIGKILL)
    # PostgreSQL treats it as a crash: every backend restarts.
    wait_for("crash recovery", lambda: "all server processes terminated; reinitializing" in c.log()[since:], timeout=30)
    wait_for("the server", lambda: subprocess.run([f"{PG_BIN}/pg_isready", "-h", "/tmp", "-p", str(c.port)]).returncode == 0, timeout=30)
    scheduler_up(c)
    mark = c.value("SELECT max(run_id) FROM optimizer.job_runs", db="app")
    wait_for("beats after the crash", lambda: runs(c, "beat", where=f"run_id > {mark} AND status = 'succeeded'"), timeout=15)
    interrupted = c.psql("SELECT count(*) FROM optimizer.job_runs WHERE job = 'nap' AND status = 'failed' AND message LIKE 'interrupted:%'", db="app")
    assert int(interrupted[0][0]) >= 1
    history_is_consistent(c)


def test_a_server_crash_leaves_history_consistent_and_the_schedule_running(crashy):
    c = crashy
    wait_for("a sleeping run", lambda: runs(c, "nap", where="status = 'running'"))
    running = {r[0] for r in runs(c, "nap", where="status = 'running'")}
    c.stop("immediate")
    c.start()
    scheduler_up(c)
    mark = c.value("SELECT max(run_id) FROM optimizer.job_runs", db="app")
    wait_for("beats after the restart", lambda: runs(c, "beat", where=f"run_id > {mark} AND status = 'succeeded'"), timeout=15)
    after = {r[0]: r[1:3] for r in runs(c, "nap")}
    for run_id in running:
        assert after[run_id][0] == "failed" and after[run_id][1].startswith("interrupted:"), after[run_id]
    assert "marked" in c.log() and "interrupted job run(s) failed" in c.log()
    history_is_consistent(c)


# -- standby -----------------------------------------------------------------------------------

def test_a_standby_does_nothing_until_promoted():
    p = fresh_cluster("primary", PRIMARY_PORT)
    s = Cluster("sched-standby", STANDBY_PORT)
    try:
        scheduler_up(p)
        p.psql("CREATE TABLE beats (t timestamptz DEFAULT clock_timestamp(), on_standby bool DEFAULT pg_is_in_recovery())", db="app")
        p.psql("SELECT optimizer.schedule('beat', '1 second', 'INSERT INTO beats DEFAULT VALUES')", db="app")
        wait_for("beats on the primary", lambda: runs(p, "beat", where="status = 'succeeded'"))
        import shutil
        shutil.rmtree(s.dir, ignore_errors=True)
        subprocess.run(as_pg([f"{PG_BIN}/pg_basebackup", "-h", "/tmp", "-p", str(p.port), "-U", "postgres", "-D", s.dir, "-R",
                              "-X", "stream", "-c", "fast"]), check=True, capture_output=True)
        with open(os.path.join(s.dir, "postgresql.conf"), "a") as f:
            f.write(f"port = {s.port}\n")
        # The copy holds the primary's log file: the standby's own log starts empty.
        os.remove(s.log_path)
        s.start()
        time.sleep(4)
        assert s.value("SELECT pg_is_in_recovery()") == "t"
        assert s.psql("SELECT backend_type FROM pg_stat_activity WHERE backend_type LIKE 'pg_optimizer%'") == []
        assert "pg_optimizer:" not in s.log() and "read-only transaction" not in s.log(), s.log()[-2000:]
        # Partition maintenance is a no-op on a standby (the built-in job only runs on the primary).
        assert s.psql("SELECT * FROM optimizer.maintain_partitions()", db="app") == []
        assert "standby" in s.last_stderr
        # So is auto-indexing, in apply mode too.
        assert s.psql("SET pg_optimizer.autoindex = apply; SELECT * FROM optimizer.autoindex_run()", db="app") == []
        assert "standby" in s.last_stderr
        assert s.psql("SET pg_optimizer.autoindex = apply; SELECT * FROM optimizer.autoindex_verify()", db="app") == []
        # The primary goes on; the standby only replays its history.
        p.stop()
        subprocess.run(as_pg([f"{PG_BIN}/pg_ctl", "-D", s.dir, "-w", "promote"]), check=True, capture_output=True)
        mark = s.value("SELECT max(run_id) FROM optimizer.job_runs", db="app")
        # After promotion the launcher starts, and the jobs run there.
        scheduler_up(s)
        wait_for("beats on the promoted server",
                 lambda: runs(s, "beat", where=f"run_id > {mark} AND status = 'succeeded'"), timeout=20)
        assert s.value("SELECT count(*) FROM beats WHERE on_standby", db="app") == "0"
        crash_free(s)
    finally:
        s.stop("immediate")
        p.stop("immediate")


# -- binary upgrade ----------------------------------------------------------------------------

def test_pg_upgrade_starts_no_worker_and_the_jobs_survive(tmp_path):
    old = fresh_cluster("upg-old", UPGRADE_OLD_PORT)
    new = Cluster("sched-upg-new", UPGRADE_NEW_PORT, CONF)
    work = "/tmp/pg_optimizer-it-sched-upg-work"
    try:
        scheduler_up(old)
        old.psql("CREATE TABLE beats (t timestamptz DEFAULT clock_timestamp())", db="app")
        old.psql("SELECT optimizer.schedule('beat', '1 second', 'INSERT INTO beats DEFAULT VALUES')", db="app")
        wait_for("beats", lambda: runs(old, "beat", where="status = 'succeeded'"))
        old.stop()
        new.init()
        import shutil
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        shutil.chown(work, "postgres", "postgres")
        p = subprocess.run(as_pg([f"{PG_BIN}/pg_upgrade", "--retain", "-b", PG_BIN, "-B", PG_BIN, "-d", old.dir, "-D", new.dir,
                                  "-p", str(UPGRADE_OLD_PORT), "-P", str(UPGRADE_NEW_PORT), "-U", "postgres"]),
                           cwd=work, capture_output=True, text=True)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
        # Both servers ran in binary-upgrade mode with the library preloaded: no launcher started.
        logs = ""
        for root, _, files in os.walk(os.path.join(new.dir, "pg_upgrade_output.d")):
            for f in files:
                if f.endswith(".log"):
                    with open(os.path.join(root, f), errors="replace") as fh:
                        logs += fh.read()
        assert "database system is ready" in logs or "ready to accept" in logs, "no server log retained"
        assert "pg_optimizer: launcher started" not in logs, logs[-3000:]
        # The upgraded cluster keeps its jobs and runs them.
        new.start()
        assert "pg_optimizer: launcher started" in new.log()
        scheduler_up(new)
        mark = new.value("SELECT max(run_id) FROM optimizer.job_runs", db="app")
        wait_for("beats after the upgrade", lambda: runs(new, "beat", where=f"run_id > {mark} AND status = 'succeeded'"))
        crash_free(new)
    finally:
        new.stop("immediate")
        old.stop("immediate")


# -- too few worker slots ----------------------------------------------------------------------

def test_too_few_worker_slots_are_logged_and_retried():
    # PostgreSQL's logical replication launcher, ours and one scheduler fill
    # max_worker_processes = 3: the other database's scheduler and every job worker wait for a
    # slot, and say so.
    c = fresh_cluster("slots", SLOTS_PORT, {"max_worker_processes": "3"}, dbs=("app", "app2"))
    try:
        wait_for("a scheduler", lambda: workers(c, "scheduler"), timeout=40)
        wait_for("the launcher's log line", lambda: "cannot start the scheduler of database" in c.log() and
                 "no background worker slot is free (max_worker_processes = 3)" in c.log(), timeout=20)
        assert "Raise max_worker_processes" in c.log()
        served = workers(c, "scheduler")[0][1]
        c.psql("SELECT optimizer.schedule('starved', '1 hour', 'SELECT 1')", db=served)
        state, out = sqlstate(c, "SELECT optimizer.run_job('starved')", served)
        assert state == "53000" and "max_worker_processes" in out, out
        # Still alive and retrying: the launcher and the scheduler are there.
        assert workers(c, "launcher") and workers(c, "scheduler")
        crash_free(c)
    finally:
        c.stop("immediate")
