"""Predicate capture over many plan shapes: nothing breaks, nothing is logged as skipped, and the
walk finds the quals it should in the odd corners (CTEs, sub-selects, window functions, set
operations, LATERAL, MERGE, cursors, TID scans, GIN/GiST/BRIN/hash indexes, partition-wise joins,
runtime pruning, PL/pgSQL, parallel plans)."""

import pytest

from conftest import Cluster

SETUP = """
CREATE EXTENSION pg_optimizer;
CREATE TABLE s_a (id int PRIMARY KEY, g int, v int, t text, tags int[], r int4range, doc jsonb,
                  ts timestamptz, flag bool);
INSERT INTO s_a SELECT i, i % 10, i % 97, 'txt' || i, ARRAY[i % 5, i % 7], int4range(i, i + 10),
                       jsonb_build_object('k', i % 3), now() - i * interval '1 min', i % 2 = 0
  FROM generate_series(1, 20000) i;
CREATE INDEX s_a_g ON s_a (g, v);
CREATE INDEX s_a_tags ON s_a USING gin (tags);
CREATE INDEX s_a_r ON s_a USING gist (r);
CREATE INDEX s_a_ts ON s_a USING brin (ts);
CREATE INDEX s_a_t ON s_a USING hash (t);
CREATE INDEX s_a_lower ON s_a (lower(t));
CREATE TABLE s_b (id int PRIMARY KEY, a_id int, w int);
INSERT INTO s_b SELECT i, i % 20000 + 1, i % 13 FROM generate_series(1, 40000) i;
CREATE TABLE s_p (k int, d date, v int) PARTITION BY RANGE (d);
CREATE TABLE s_p1 PARTITION OF s_p FOR VALUES FROM ('2026-01-01') TO ('2026-04-01');
CREATE TABLE s_p2 PARTITION OF s_p FOR VALUES FROM ('2026-04-01') TO ('2026-07-01');
CREATE TABLE s_p3 PARTITION OF s_p FOR VALUES FROM ('2026-07-01') TO ('2027-01-01')
  PARTITION BY LIST (k);
CREATE TABLE s_p3a PARTITION OF s_p3 FOR VALUES IN (1, 2, 3);
CREATE TABLE s_p3b PARTITION OF s_p3 DEFAULT;
INSERT INTO s_p SELECT i % 10, date '2026-01-01' + i % 360, i FROM generate_series(1, 5000) i;
CREATE TABLE s_q (k int, d date, w int) PARTITION BY RANGE (d);
CREATE TABLE s_q1 PARTITION OF s_q FOR VALUES FROM ('2026-01-01') TO ('2026-07-01');
CREATE TABLE s_q2 PARTITION OF s_q FOR VALUES FROM ('2026-07-01') TO ('2027-01-01');
INSERT INTO s_q SELECT i % 10, date '2026-01-01' + i % 360, i FROM generate_series(1, 3000) i;
CREATE TABLE s_empty (x int);
CREATE MATERIALIZED VIEW s_mv AS SELECT g, count(*) AS n FROM s_a WHERE v > 3 GROUP BY g;
CREATE FUNCTION s_count(lim int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint := 0; r record;
BEGIN
  FOR r IN SELECT id FROM s_a WHERE v = lim LOOP n := n + 1; END LOOP;
  SELECT count(*) INTO n FROM s_b WHERE w = lim AND a_id > n;
  RETURN n;
END $$;
VACUUM ANALYZE;
"""

WORKLOAD = r"""
SET pg_optimizer.track = 'all';
WITH m AS MATERIALIZED (SELECT * FROM s_a WHERE g = 3) SELECT count(*) FROM m WHERE v < 50;
WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 50) SELECT count(*) FROM c JOIN s_a ON s_a.id = c.n;
SELECT id, rank() OVER (PARTITION BY g ORDER BY v DESC) FROM s_a WHERE v BETWEEN 10 AND 12 ORDER BY 2, 1 LIMIT 5;
SELECT id FROM s_a WHERE g = 1 UNION ALL SELECT a_id FROM s_b WHERE w = 2 LIMIT 10;
SELECT id FROM s_a WHERE g = 1 INTERSECT SELECT a_id FROM s_b WHERE w = 2;
SELECT a.id, l.w FROM s_a a, LATERAL (SELECT w FROM s_b b WHERE b.a_id = a.id ORDER BY w LIMIT 1) l WHERE a.v = 5 LIMIT 20;
SELECT count(*) FROM s_a a WHERE EXISTS (SELECT 1 FROM s_b b WHERE b.a_id = a.id AND b.w = 3);
SELECT count(*) FROM s_a a WHERE NOT EXISTS (SELECT 1 FROM s_b b WHERE b.a_id = a.id);
SELECT count(*) FROM s_a WHERE id IN (SELECT a_id FROM s_b WHERE w = 4);
SELECT count(*) FROM s_a WHERE id NOT IN (SELECT a_id FROM s_b WHERE w = 4);
SELECT id, (SELECT max(w) FROM s_b WHERE s_b.a_id = s_a.id) FROM s_a WHERE v = 7 LIMIT 5;
SELECT count(*) FROM s_a WHERE v = (SELECT max(w) FROM s_b);
SELECT g, v, count(*) FROM s_a WHERE flag GROUP BY GROUPING SETS ((g), (v), ()) HAVING count(*) > 1 ORDER BY 1, 2 LIMIT 5;
SELECT DISTINCT ON (g) g, v FROM s_a WHERE NOT flag ORDER BY g, v DESC;
SELECT * FROM (VALUES (1), (2)) v(x) JOIN s_a ON s_a.id = v.x;
SELECT count(*) FROM generate_series(1, 100) s JOIN s_a ON s_a.id = s;
SELECT count(*) FROM s_a WHERE tags @> ARRAY[3];
SELECT count(*) FROM s_a WHERE r && int4range(100, 120);
SELECT count(*) FROM s_a WHERE ts > now() - interval '2 hours';
SELECT count(*) FROM s_a WHERE t = 'txt77';
SELECT count(*) FROM s_a WHERE lower(t) = 'txt88';
SELECT count(*) FROM s_a WHERE doc @> '{"k": 1}' AND doc ->> 'k' = '1';
SELECT count(*) FROM s_a WHERE t ILIKE 'TXT1%' OR t ~ '^txt2[0-9]$';
SELECT count(*) FROM s_a WHERE (g, v) > (5, 50);
SELECT count(*) FROM s_a WHERE v IN (SELECT unnest(ARRAY[1, 2, 3]));
SELECT count(*) FROM s_a WHERE v = ANY (ARRAY(SELECT generate_series(1, 40)));
SELECT count(*) FROM s_a WHERE id = ANY ('{1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20}'::int[]);
SELECT * FROM s_a WHERE ctid = '(0,1)';
SELECT count(*) FROM s_a WHERE ctid < '(2,0)';
SELECT count(*) FROM s_a TABLESAMPLE SYSTEM (10) REPEATABLE (1) WHERE v > 50;
SELECT count(*) FROM s_empty WHERE x = 1;
SELECT count(*) FROM s_p WHERE d >= '2026-05-01' AND k = 2;
SET enable_partitionwise_join = on;
SELECT count(*) FROM s_p p JOIN s_q q ON q.d = p.d AND q.k = p.k WHERE p.v < 100;
RESET enable_partitionwise_join;
PREPARE s_pp(date) AS SELECT count(*) FROM s_p WHERE d = $1;
SET plan_cache_mode = force_generic_plan;
EXECUTE s_pp('2026-02-01');
EXECUTE s_pp('2026-08-01');
RESET plan_cache_mode;
SELECT count(*) FROM s_mv WHERE n > 10;
REFRESH MATERIALIZED VIEW s_mv;
INSERT INTO s_empty SELECT v FROM s_a WHERE g = 9 AND v < 3;
INSERT INTO s_b VALUES (1, 1, 1) ON CONFLICT (id) DO UPDATE SET w = s_b.w + 1 WHERE s_b.w < 100;
UPDATE s_b SET w = w + 1 FROM s_a WHERE s_a.id = s_b.a_id AND s_a.v = 96;
DELETE FROM s_empty USING s_a WHERE s_a.id = s_empty.x AND s_a.g = 9 RETURNING s_empty.x;
MERGE INTO s_empty e USING (SELECT id FROM s_a WHERE v = 1 LIMIT 3) s ON e.x = s.id
  WHEN MATCHED THEN DELETE WHEN NOT MATCHED THEN INSERT VALUES (s.id);
SELECT * FROM s_a WHERE g = 4 AND v = 4 FOR UPDATE;
BEGIN;
DECLARE s_cur SCROLL CURSOR FOR SELECT id FROM s_a WHERE v = 9 ORDER BY id;
FETCH 3 FROM s_cur;
FETCH BACKWARD 1 FROM s_cur;
MOVE LAST IN s_cur;
CLOSE s_cur;
COMMIT;
SELECT s_count(5);
DO $$ BEGIN PERFORM count(*) FROM s_b WHERE w = 6; END $$;
COPY (SELECT id FROM s_a WHERE v = 11 LIMIT 3) TO STDOUT;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM s_a WHERE v = 12;
SET enable_hashjoin = off; SET enable_mergejoin = off;
SELECT count(*) FROM s_a a JOIN s_b b ON b.a_id = a.id WHERE a.g = 2 AND b.w < 3;
RESET enable_hashjoin; RESET enable_mergejoin;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SELECT g, count(*) FROM s_a WHERE v % 3 = 0 GROUP BY g ORDER BY g;
SELECT count(*) FROM s_a a JOIN s_b b ON b.a_id = a.id WHERE b.w = 5;
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
SELECT a.g, count(*) FROM s_a a LEFT JOIN s_b b ON b.a_id = a.id AND b.w > 10 WHERE b.id IS NULL GROUP BY a.g ORDER BY 1 LIMIT 3;
SELECT count(*) FROM s_a a FULL JOIN s_b b ON b.a_id = a.id WHERE coalesce(a.v, b.w) = 3;
"""


@pytest.fixture(scope="module")
def shapes():
    c = Cluster("shapes", 5495).init().start()
    c.psql("CREATE DATABASE app")
    c.psql(SETUP, db="app")
    yield c
    c.stop()


def test_many_plan_shapes_record_without_breaking(shapes):
    c = shapes
    since = len(c.log())
    c.psql("SELECT optimizer.reset_predicates()", db="app")
    c.psql(WORKLOAD, db="app")
    c.assert_healthy_log(since)
    rows = c.psql("SELECT table_name, kind, place, count(*) FROM optimizer.predicate_entries "
                  "WHERE table_name LIKE 's\\_%' GROUP BY 1, 2, 3", db="app")
    seen = {(r[0], r[1], r[2]) for r in rows}
    # every table the workload filtered is there, partitions under their roots
    tables = {r[0] for r in rows}
    for t in ("s_a", "s_b", "s_p", "s_q", "s_empty", "s_mv"):
        assert t in tables, (t, sorted(tables))
    assert not tables & {"s_p1", "s_p2", "s_p3", "s_p3a", "s_p3b", "s_q1", "s_q2"}, tables
    # places the walk must have reached
    for expected in [("s_a", "qual", "index cond"), ("s_a", "qual", "filter"), ("s_a", "qual", "tid cond"),
                     ("s_b", "qual", "filter"), ("s_a", "join", "hash cond")]:
        assert expected in seen, (expected, sorted(seen))
    assert any(k == "join" and p == "nested loop index cond" for (_, k, p) in seen), sorted(seen)
    # the sub-partitioned level maps to the top root too
    parts = c.psql("SELECT DISTINCT partition_name FROM optimizer.predicate_entries WHERE table_name = 's_p' "
                   "AND partition_name IS NOT NULL ORDER BY 1", db="app")
    assert {"s_p3a", "s_p3b"} & {r[0] for r in parts}, parts
    # index kinds: GIN, GiST, BRIN, hash and an expression index all served index conditions
    ops = {r[0] for r in c.psql(
        "SELECT operator FROM optimizer.predicates WHERE table_name = 's_a' AND kind = 'index'", db="app")}
    for op in ("@>", "&&", ">", "="):
        assert op in ops, (op, ops)
    expr = c.psql("SELECT expression FROM optimizer.predicates WHERE table_name = 's_a' AND expression IS NOT NULL",
                  db="app")
    assert ["lower(t)"] in expr, expr
    # a second pass counts the same entries again, exactly twice
    before = int(c.value("SELECT sum(counts[1]) FROM optimizer.predicate_entries WHERE table_name = 's_empty' "
                         "AND kind = 'scan'", db="app"))
    c.psql(WORKLOAD, db="app")
    c.assert_healthy_log(since)
    after = int(c.value("SELECT sum(counts[1]) FROM optimizer.predicate_entries WHERE table_name = 's_empty' "
                        "AND kind = 'scan'", db="app"))
    assert after == 2 * before, (before, after)
