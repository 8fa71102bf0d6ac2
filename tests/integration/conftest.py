"""Integration tests against real PostgreSQL clusters with pg_optimizer preloaded.

Each Cluster is a private data directory under /tmp with its own port and the socket in /tmp.
As root, initdb/pg_ctl run as the postgres OS user (PostgreSQL refuses root)."""

import os
import shutil
import subprocess
import time

import pytest

PG_MAJOR = os.environ.get("PG_MAJOR", "15")
PG_BIN = f"/usr/lib/postgresql/{PG_MAJOR}/bin"
IS_ROOT = os.geteuid() == 0


def as_pg(cmd):
    return (["runuser", "-u", "postgres", "--"] + cmd) if IS_ROOT else cmd


class Cluster:
    def __init__(self, name, port, conf=None, preload="pg_optimizer"):
        self.dir = f"/tmp/pg_optimizer-it-{name}"
        self.port = port
        self.conf = conf or {}
        self.preload = preload

    # -- lifecycle -------------------------------------------------------------------------
    def init(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        if IS_ROOT:
            shutil.chown(self.dir, "postgres", "postgres")
        subprocess.run(as_pg([f"{PG_BIN}/initdb", "-D", self.dir, "-U", "postgres", "--auth=trust", "--no-sync"]),
                       check=True, capture_output=True)
        lines = [f"port = {self.port}", "unix_socket_directories = '/tmp'", "listen_addresses = ''",
                 "fsync = off", "log_min_messages = log"]
        if self.preload:
            lines.append(f"shared_preload_libraries = '{self.preload}'")
        lines += [f"{k} = {v}" for k, v in self.conf.items()]
        with open(os.path.join(self.dir, "postgresql.conf"), "a") as f:
            f.write("\n".join(lines) + "\n")
        return self

    def pg_ctl(self, *args):
        subprocess.run(as_pg([f"{PG_BIN}/pg_ctl", "-D", self.dir, "-l", self.log_path, "-w", "-t", "60", *args]),
                       check=True, capture_output=True)

    @property
    def log_path(self):
        return os.path.join(self.dir, "server.log")

    def start(self):
        self.pg_ctl("start")
        return self

    def stop(self, mode="fast"):
        if os.path.exists(os.path.join(self.dir, "postmaster.pid")):
            self.pg_ctl("-m", mode, "stop")

    def restart(self):
        self.stop()
        self.start()

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    # -- SQL ---------------------------------------------------------------------------------
    def psql(self, sql, db="postgres", user="postgres", check=True):
        """Run SQL (one or more statements, one session); return rows as lists of strings."""
        p = subprocess.run([f"{PG_BIN}/psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                            "-h", "/tmp", "-p", str(self.port), "-U", user, "-d", db],
                           input=sql, capture_output=True, text=True)
        if check and p.returncode != 0:
            raise AssertionError(f"psql failed ({p.returncode}): {p.stderr}\nSQL: {sql[:500]}")
        self.last_stderr = p.stderr
        return [line.split("\t") for line in p.stdout.splitlines() if line != ""]

    def value(self, sql, db="postgres", user="postgres"):
        rows = self.psql(sql, db=db, user=user)
        assert len(rows) == 1 and len(rows[0]) == 1, rows
        return rows[0][0]

    def pgbench(self, db, *args):
        p = subprocess.run([f"{PG_BIN}/pgbench", "-h", "/tmp", "-p", str(self.port), "-U", "postgres", *args, db],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        return p.stdout

    def assert_healthy_log(self, since=0):
        """No backend crashed, no PANIC, no error raised by our hooks (in the log after `since`)."""
        log = self.log()[since:]
        for bad in ("PANIC", "terminated by signal", "server process (PID", "pg_optimizer: recording",
                    "pg_optimizer: normalising", "skipped:"):
            assert bad not in log, f"server log contains {bad!r}:\n{log[-3000:]}"


@pytest.fixture(scope="session")
def cluster():
    """The main cluster: pg_optimizer preloaded, extension installed in database `app`."""
    c = Cluster("main", 5481, {"pg_optimizer.track_planning": "on"}).init().start()
    c.psql("CREATE DATABASE app")
    c.psql("CREATE EXTENSION pg_optimizer", db="app")
    yield c
    c.stop()


@pytest.fixture
def fresh(cluster):
    """The main cluster with its statistics reset before the test."""
    cluster.psql("SELECT optimizer.reset()", db="app")
    return cluster
