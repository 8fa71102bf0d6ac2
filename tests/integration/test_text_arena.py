"""The shared text arena under pressure: many long statements from concurrent sessions in a
`text_memory` far smaller than their texts, so the arena is compacted (and entries evicted) while
other backends append texts and examples. Every text that survives must be exactly the statement it
belongs to, and the texts of a clean restart too."""

import re
import subprocess
import threading

import pytest

from conftest import PG_BIN
from test_predicates import new_cluster

PORT = 5497
SESSIONS = 4
PER_SESSION = 300


@pytest.fixture(scope="module")
def arena():
    c = new_cluster("arena", PORT, {"pg_optimizer.text_memory": "1MB", "pg_optimizer.max_statements": "400",
                                    "pg_optimizer.max_text_bytes": "64kB"})
    c.psql("CREATE TABLE arena_t (v int); INSERT INTO arena_t SELECT generate_series(1, 100)", db="app")
    yield c
    c.assert_healthy_log()
    c.stop()


def statement(k, session):
    """k constants in an IN list: a query id of its own per k (PostgreSQL 15 jumbles each
    constant), a text of about 8 bytes per constant, an example whose numbers say who ran it."""
    return "SELECT count(*) FROM arena_t WHERE v IN (" + ", ".join(str(session * 100000 + i) for i in range(k)) + ")"


def run_session(port, session, ks, errors):
    sql = "".join(statement(k, session) + ";\n" for k in ks)
    p = subprocess.run([f"{PG_BIN}/psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "/tmp", "-p", str(port),
                        "-U", "postgres", "-d", "app"], input=sql, capture_output=True, text=True)
    if p.returncode != 0:
        errors.append(p.stderr)


def check_texts(c):
    """Every text and example is exactly its statement's, or (flagged as cut) a prefix of it."""
    rows = c.psql("SELECT query, example, query_truncated, example_truncated FROM optimizer.statements "
                  "WHERE query LIKE 'SELECT count(*) FROM arena_t WHERE v IN (%'", db="app")
    assert len(rows) > 50, len(rows)
    whole = 0
    for query, example, qcut, ecut in rows:
        if qcut == "t":
            assert query.startswith("SELECT count(*) FROM arena_t WHERE v IN ($1, $2, "), query[:200]
            continue
        n = query.count("$")
        assert query == "SELECT count(*) FROM arena_t WHERE v IN (" + ", ".join(f"${i}" for i in range(1, n + 1)) + ")", query[:200]
        # An example is stored only whole: when the arena cannot take it, the previous one stays
        # (or none, if it never had room).
        assert ecut == "f", example[-100:]
        if example == "":
            continue
        m = re.match(r"SELECT count\(\*\) FROM arena_t WHERE v IN \((\d+)00000, ", example)
        assert m, example[:200]
        assert example == statement(n, int(m.group(1))), example[-200:]
        whole += 1
    assert whole > 50, whole
    return len(rows)


def test_compaction_under_concurrent_appends_keeps_every_text_intact(arena):
    c = arena
    c.psql("SELECT optimizer.reset()", db="app")
    # Each session runs every k in its own order: the same statements are recorded by several
    # sessions at once (examples replaced under their feet) while new entries keep the arena full.
    ks = list(range(20, 20 + PER_SESSION * 4, 4))
    errors = []
    threads = [threading.Thread(target=run_session, args=(PORT, s + 1, ks[s::2] + ks[::-1], errors)) for s in range(SESSIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [], errors
    info = c.psql("SELECT text_memory_bytes, text_bytes_used, text_compactions, evictions FROM optimizer.statements_info", db="app")[0]
    size, used, compactions = int(info[0]), int(info[1]), int(info[2])
    # Premise: the live texts alone do not fit (300 statements of 20 to 1,216 constants: about
    # 3.5 kB of normalised text and 5 kB of example each on average, 2.5 MB): whatever the timing,
    # the arena was compacted.
    assert size == 1024 * 1024 and compactions > 0 and 0 < used <= size, info
    check_texts(c)
    # A clean restart saves and loads the same texts.
    before = c.psql("SELECT queryid, md5(query), md5(example) FROM optimizer.statements WHERE query LIKE '%arena_t%' ORDER BY 1", db="app")
    c.restart()
    after = c.psql("SELECT queryid, md5(query), md5(example) FROM optimizer.statements WHERE query LIKE '%arena_t%' ORDER BY 1", db="app")
    assert after == before and len(after) > 50
    check_texts(c)


def test_a_text_longer_than_the_limit_is_cut_at_a_character_boundary_and_flagged(arena):
    c = arena
    c.psql("SELECT optimizer.reset()", db="app")
    words = ", ".join(f"'zürich-{i}'" for i in range(12000))  # ~160 kB (normalised ~85 kB), over the 64 kB limit
    c.psql(f"SELECT count(*) FROM arena_t WHERE v::text IN ({words})", db="app")
    row = c.psql("SELECT octet_length(query), octet_length(example), query_truncated, example_truncated, "
                 "example LIKE 'SELECT count(*) FROM arena_t WHERE v::text IN (''zürich-0'', %' "
                 "FROM optimizer.statements WHERE query LIKE '%v::text IN%'", db="app")
    assert len(row) == 1, row
    qlen, elen, qcut, ecut, starts = row[0]
    # Cut at 64 kB or just below it (never inside the two bytes of a 'ü'); psql read it as UTF-8.
    assert 65536 - 2 <= int(qlen) <= 65536 and 65536 - 2 <= int(elen) <= 65536, row
    assert (qcut, ecut, starts) == ("t", "t", "t"), row
