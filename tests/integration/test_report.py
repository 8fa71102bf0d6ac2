"""The linter on a real workload, the report (text, JSON against its documented shape, HTML in
headless Chromium), and the workload that travels: exported on a streaming standby, imported on
the primary, advised together."""

import json
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import PG_BIN, Cluster, as_pg

PORT = 5660
STANDBY_PORT = 5661
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "output")
SCHEMAS = os.path.join(ROOT, "docs", "schemas")


@pytest.fixture(scope="module")
def c():
    cl = Cluster("report", PORT, {"pg_optimizer.track_planning": "on", "wal_level": "replica",
                                  "max_wal_senders": "4"}).init().start()
    cl.psql("CREATE DATABASE app")
    cl.psql("CREATE EXTENSION pg_optimizer", db="app")
    cl.psql("""CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, note text,
                                       c1 int, c2 int, c3 int, c4 int, c5 int, c6 int, c7 int);
               INSERT INTO customers SELECT g, 'customer ' || g, 'c' || g || '@example.com', repeat('x', 50),
                                            g, g, g, g, g, g, g FROM generate_series(1, 2000) g;
               CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers,
                                    placed_at timestamptz NOT NULL, amount numeric NOT NULL);
               INSERT INTO orders SELECT g, 1 + g % 2000, timestamptz '2026-01-01' + g * interval '1 minute', g % 100
                 FROM generate_series(1, 20000) g;
               ANALYZE customers, orders;""", db="app")
    yield cl
    cl.stop()


def n_plus_one_loop(c, parents=4, per_parent=50):
    """A client loop: fetch a page of orders, then each order's customer, one statement each."""
    script = []
    for p in range(parents):
        lo = 1000 + p * per_parent
        script.append(f"SELECT id, customer_id FROM orders WHERE id > {lo} AND id <= {lo + per_parent};")
        for i in range(per_parent):
            script.append(f"SELECT * FROM customers WHERE id = {1 + (lo + i + 1) % 2000};")
    c.psql("\n".join(script), db="app")


def test_lint_finds_n_plus_one_from_a_client_loop(c):
    c.psql("SELECT optimizer.reset()", db="app")
    n_plus_one_loop(c)
    rows = c.psql("SELECT queryid, query, rule, severity, fragment, position, evidence, rewrite FROM optimizer.lint "
                  "WHERE rule = 'n_plus_one'", db="app")
    assert len(rows) == 1, rows
    queryid, query, _, severity, fragment, position, evidence, rewrite = rows[0]
    assert query.startswith("SELECT * FROM customers WHERE id = $1"), query
    assert severity in ("warning", "critical") and "id" in fragment and int(position) > 0, rows[0]
    parent = c.value("SELECT queryid FROM optimizer.statements WHERE query LIKE 'SELECT id, customer_id FROM orders%'", db="app")
    assert parent in evidence and "200" in evidence, evidence
    assert rewrite, rows[0]
    # The same statements without the loop's shape: a child called far more often than the parent
    # returns rows is not N+1.
    c.psql("SELECT optimizer.reset()", db="app")
    c.psql("SELECT id, customer_id FROM orders WHERE id > 5000 AND id <= 5010;" +
           "".join(f"SELECT * FROM customers WHERE id = {i};" for i in range(1, 201)), db="app")
    assert c.psql("SELECT * FROM optimizer.lint WHERE rule = 'n_plus_one'", db="app") == []


def test_lint_rules_on_recorded_statements_and_text(c):
    c.psql("SELECT optimizer.reset()", db="app")
    c.psql("""SELECT * FROM customers WHERE name LIKE '%42';
              SELECT id FROM customers WHERE lower(email) = 'c1@example.com';
              SELECT id FROM orders ORDER BY placed_at OFFSET 5000 LIMIT 10;""", db="app")
    got = {r[0]: r for r in c.psql("SELECT rule, query, fragment, position FROM optimizer.lint", db="app")}
    for rule in ("leading_wildcard_like", "function_on_filtered_column", "large_offset", "select_star"):
        assert rule in got, (rule, got)
    # The fragment is where the position says, in the recorded text (1-based characters).
    _, query, fragment, position = got["large_offset"]
    assert query[int(position) - 1:].startswith(fragment.split()[0]), got["large_offset"]
    # Text that never ran.
    rows = c.psql("SELECT rule, severity, fragment, position FROM optimizer.lint_sql("
                  "'SELECT o.id FROM orders o, customers c WHERE o.amount > 5')", db="app")
    assert any(r[0] == "implicit_cross_join" for r in rows), rows
    assert c.psql("SELECT * FROM optimizer.lint_sql('SELECT id FROM orders WHERE id = 1')", db="app") == []
    # Text the parser cannot read is an error with its message, never an empty answer.
    p = c.psql("SELECT * FROM optimizer.lint_sql('SELEKT nonsense ((')", db="app", check=False)
    assert p == [] and "cannot parse" in c.last_stderr and "HINT" in c.last_stderr, c.last_stderr
    # Every rule is documented.
    assert len(c.psql("SELECT * FROM optimizer.lint_rules()", db="app")) >= 12
    cov = c.psql("SELECT statements, parsed, parsed_share FROM optimizer.lint_coverage()", db="app")[0]
    assert int(cov[0]) >= 3 and int(cov[1]) <= int(cov[0]), cov


def test_read_paths_take_no_transaction_id(c):
    n_plus_one_loop(c, parents=1)
    got = c.psql("""BEGIN;
                    SELECT count(*) FROM optimizer.index_advice();
                    SELECT count(*) FROM optimizer.lint;
                    SELECT length(optimizer.export_workload()::text) > 0;
                    SELECT txid_current_if_assigned() IS NULL;
                    COMMIT;""", db="app")
    assert got[-1] == ["t"], got


def validate(doc, schema_file):
    import jsonschema
    with open(os.path.join(SCHEMAS, schema_file)) as f:
        jsonschema.Draft202012Validator(json.load(f)).validate(doc)


def test_report_json_follows_its_documented_shape(c):
    c.psql("SELECT optimizer.reset()", db="app")
    n_plus_one_loop(c, parents=2)
    c.psql("".join(f"SELECT id, amount FROM orders WHERE placed_at >= timestamptz '2026-01-05' + {i} * interval '1 hour' "
                   f"AND placed_at < timestamptz '2026-01-05' + {i} * interval '1 hour' + interval '10 minutes';" for i in range(20)), db="app")
    # A function-wrapped filter the advisor answers with an expression index.
    c.psql("".join(f"SELECT id FROM customers WHERE lower(email) = 'c{i}@example.com';" for i in range(1, 30)), db="app")
    doc = json.loads("\n".join("\t".join(r) for r in c.psql("SELECT optimizer.report('json')", db="app")))
    validate(doc, "report.v1.json")
    # The lint finding points to the index the advice proposes.
    exprs = [a for a in doc["advice"]["actions"] if a["action"] == "create" and "lower(email)" in (a["ddl"] or "")]
    wrapped = [f for f in doc["lint"]["findings"] if f["rule"] == "function_on_filtered_column"]
    assert exprs and wrapped, (doc["advice"]["actions"], doc["lint"]["findings"])
    assert wrapped[0]["rewrite"] == "the index advisor proposes: " + exprs[0]["ddl"], (wrapped[0], exprs[0])
    validate(doc["advice"], "index_advice.v1.json")
    assert [h["area"] for h in doc["health"]][0] == "queries"
    assert doc["statements"] and doc["statements"][0]["histogram"], doc["statements"][:1]
    assert any(t["table"] == "orders" for t in doc["tables"]), doc["tables"]
    assert any(f["rule"] == "n_plus_one" for f in doc["lint"]["findings"]), doc["lint"]
    advice = json.loads(c.value("SELECT optimizer.index_advice_json()", db="app"))
    validate(advice, "index_advice.v1.json")
    assert any(a["action"] == "create" and a["table"] and "placed_at" in a["ddl"] for a in advice["actions"]), advice["actions"]
    text = "\n".join(r[0] for r in c.psql("SELECT optimizer.report()", db="app"))
    assert "queries" in text and "n_plus_one" in text, text[:2000]
    c.psql("SELECT optimizer.report('pdf')", db="app", check=False)
    assert "unknown report format" in c.last_stderr and "HINT" in c.last_stderr, c.last_stderr


def test_html_report_renders_in_chromium_without_network(c):
    c.psql("SELECT optimizer.reset()", db="app")
    n_plus_one_loop(c, parents=2)
    c.psql("SELECT count(*) FROM orders WHERE amount = 7; SELECT name FROM customers WHERE name LIKE '%7';", db="app")
    os.makedirs(OUT, exist_ok=True)
    html_path = os.path.join(OUT, "report.html")
    p = subprocess.run([f"{PG_BIN}/psql", "-X", "-At", "-h", "/tmp", "-p", str(PORT), "-U", "postgres", "-d", "app",
                        "-c", "SELECT optimizer.report('html')", "-o", html_path], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    html = open(html_path).read()
    assert html.lstrip().lower().startswith("<!doctype html") and "<svg" in html and "<script" not in html.lower()
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", html.replace("http://www.w3.org/2000/svg", "")), "external URL"
    r = subprocess.run(["python3", os.path.join(ROOT, "scripts", "check_report.py"), html_path, OUT],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["console_errors"] == [] and result["height"] > 500, result
    assert os.path.getsize(os.path.join(OUT, "report.png")) > 10000


# -- the workload travels: a standby's reads advised on the primary ------------------------

def test_standby_workload_exported_imported_and_advised(c):
    s = Cluster("report-standby", STANDBY_PORT)
    try:
        c.psql("""CREATE TABLE events (id bigserial PRIMARY KEY, kind int NOT NULL, at timestamptz NOT NULL, payload text);
                  INSERT INTO events (kind, at, payload) SELECT g % 500, timestamptz '2026-01-01' + g * interval '1 second', 'p'
                    FROM generate_series(1, 200000) g;
                  ANALYZE events;
                  CREATE ROLE reporter LOGIN; GRANT SELECT ON events TO reporter;""", db="app")
        shutil.rmtree(s.dir, ignore_errors=True)
        subprocess.run(as_pg([f"{PG_BIN}/pg_basebackup", "-h", "/tmp", "-p", str(PORT), "-U", "postgres", "-D", s.dir, "-R",
                              "-X", "stream", "-c", "fast"]), check=True, capture_output=True)
        with open(os.path.join(s.dir, "postgresql.conf"), "a") as f:
            f.write(f"port = {STANDBY_PORT}\n")
        os.remove(s.log_path) if os.path.exists(s.log_path) else None
        s.start()
        deadline = time.time() + 30
        while time.time() < deadline and s.psql("SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming'", check=False) == []:
            time.sleep(0.5)
        assert s.value("SELECT pg_is_in_recovery()") == "t"
        # The read workload runs only on the standby (as reporter): the hooks record it there.
        s.psql("".join(f"SELECT count(*) FROM events WHERE kind = {k};" for k in range(1, 30)), db="app", user="reporter")
        standby_only = s.value("SELECT queryid FROM optimizer.statements WHERE query LIKE 'SELECT count(*) FROM events WHERE kind%'", db="app")
        # Read paths take no transaction ID (a standby has none to give): the advisor runs there too.
        s.psql("SELECT count(*) FROM optimizer.index_advice()", db="app")
        doc = s.value("SELECT optimizer.export_workload()", db="app")
        exported = json.loads(doc)
        validate(exported, "workload.v1.json")
        assert exported["in_recovery"] is True and any(st["queryid"] == standby_only for st in exported["statements"])
        assert any(p["table"] == "events" and p["column"] == "kind" for p in exported["predicates"]), exported["predicates"]
        # The primary never ran it: its own advice has nothing on events.kind.
        assert not any("kind" in (r[0] or "") for r in c.psql(
            "SELECT ddl FROM optimizer.index_advice() WHERE action = 'create'", db="app"))
        assert "$doc$" not in doc
        got = c.psql(f"SELECT * FROM optimizer.import_workload($doc${doc}$doc$::jsonb, 'standby1')", db="app")
        assert got[0][0] == "standby1" and int(got[0][3]) >= 1, got
        advice = c.psql("SELECT ddl, queryids FROM optimizer.index_advice(sources => ARRAY['local', 'standby1']) "
                        "WHERE action = 'create'", db="app")
        hit = [a for a in advice if "events" in a[0] and "kind" in a[0]]
        assert hit and standby_only in hit[0][1], advice
        # Only the imported source, by name; an unknown one is an error with a hint.
        assert c.psql("SELECT 1 FROM optimizer.index_advice(sources => ARRAY['standby1']) WHERE ddl LIKE '%events%kind%'", db="app")
        c.psql("SELECT * FROM optimizer.index_advice(sources => ARRAY['nope'])", db="app", check=False)
        assert "no imported workload named" in c.last_stderr, c.last_stderr
        # Identity: a role that does not hold reporter's privileges imports the same document;
        # its statements are not planned for it (nor as anyone else), they are noted.
        c.psql("CREATE ROLE outsider LOGIN")
        c.psql(f"SELECT * FROM optimizer.import_workload($doc${doc}$doc$::jsonb, 'mine')", db="app", user="outsider")
        assert "do not hold" in c.last_stderr, c.last_stderr
        notes = c.psql("SELECT reason FROM optimizer.index_advice(sources => ARRAY['mine']) WHERE action = 'note'",
                       db="app", user="outsider")
        assert any("reporter" in n[0] for n in notes), notes
        assert c.psql("SELECT 1 FROM optimizer.index_advice(sources => ARRAY['mine']) WHERE action = 'create'",
                      db="app", user="outsider") == []
        # An expression key's text in a document never reaches index DDL: that key is left out, noted.
        evil = json.loads(doc)
        evil["predicates"].append({"queryid": standby_only, "schema": "public", "table": "events", "column": None,
                                   "expression": "kind)) WHERE (pg_sleep(3) IS NULL", "class": "eq", "operator": "=",
                                   "executions": 1000, "constants": []})
        text = json.dumps(evil)
        c.psql(f"SELECT * FROM optimizer.import_workload($doc${text}$doc$::jsonb, 'evil')", db="app")
        rows = c.psql("SELECT action, coalesce(ddl, ''), reason FROM optimizer.index_advice(sources => ARRAY['evil'])", db="app")
        assert not any("pg_sleep" in r[1] for r in rows), rows
        assert any(r[0] == "note" and "expression key" in r[2] for r in rows), rows
        assert any(r[0] == "create" and "kind" in r[1] for r in rows), rows
        # A hostile import: outsider claims its statement ran as the superuser, the statement calls
        # outsider's IMMUTABLE function (the planner folds it: it would run as whoever plans it).
        # A superuser advising that source must not plan it as the superuser, nor as anyone.
        # (a warning, not a side effect in the database: the advisor plans in subtransactions it
        # rolls back)
        c.psql("""CREATE FUNCTION public.outsider_probe() RETURNS int LANGUAGE plpgsql IMMUTABLE AS
                  $f$ BEGIN RAISE WARNING 'outsider_probe ran as %', current_user; RETURN 1; END $f$;
                  ALTER FUNCTION public.outsider_probe() OWNER TO outsider;""", db="app")
        claim = json.loads(doc)
        st = next(x for x in claim["statements"] if x["queryid"] == standby_only)
        st.update(role="postgres", query="SELECT count(*) FROM events WHERE kind = public.outsider_probe()",
                  example=None, params=[])
        text = json.dumps(claim)
        c.psql(f"SELECT * FROM optimizer.import_workload($doc${text}$doc$::jsonb, 'claim')", db="app", user="outsider")
        got = c.psql("SELECT action, reason FROM optimizer.index_advice(sources => ARRAY['claim'])", db="app")
        assert "outsider_probe ran as" not in c.last_stderr, c.last_stderr
        assert any(r[0] == "note" and '"postgres"' in r[1] and "imported it" in r[1] for r in got), got
        assert not any(r[0] == "create" for r in got), got
        # Each role sees its own imports.
        assert c.psql("SELECT source FROM optimizer.imported_workloads ORDER BY 1", db="app", user="outsider") == [["claim"], ["mine"]]
        assert c.psql("SELECT source FROM optimizer.imported_workloads ORDER BY 1", db="app") == [["claim"], ["evil"], ["mine"], ["standby1"]]
    finally:
        s.stop("immediate")
