-- The statement store seen through SQL: normalisation, counting, examples, the view's shape.
CREATE EXTENSION pg_optimizer;
SELECT capacity, max_text_bytes FROM optimizer.statements_info;
-- the statement above is in the store (CREATE EXTENSION is not: the database was not watched
-- when it started); after the reset nothing but statements on our views is left
SELECT optimizer.reset() AS removed;
SELECT count(*) AS left_over, (SELECT evictions FROM optimizer.statements_info) AS evictions
  FROM optimizer.statements WHERE query NOT LIKE '%optimizer%';

-- every kind of constant becomes $n
SELECT 1 AS one, 'two' AS two, 3.5 AS three;
SELECT 4 AS one, 'five' AS two, 6.5 AS three;
SELECT -7 AS neg, E'esc\'d' AS esc, $$dollar$$ AS dol, B'101' AS bits, 1e3 AS sci;
SELECT x FROM generate_series(1, 3) x WHERE x IN (1, 2) ORDER BY x LIMIT 2;
SELECT 'multi'
       'line' AS continued, interval '1 day' AS typed, true AS bool, NULL::int AS nul;
-- a prepared statement keeps its parameters; its constants continue the numbering
PREPARE q(int) AS SELECT $1 + 10 AS plus;
EXECUTE q(32);
-- two statements in one message are two entries
SELECT 'first' AS a \; SELECT 'second' AS b;

SELECT query, calls, rows, toplevel
  FROM optimizer.statements
 WHERE query NOT LIKE '%optimizer%' AND query NOT LIKE 'PREPARE%'
 ORDER BY query COLLATE "C";

-- the example keeps the real values of the slowest execution
SELECT example, example_params FROM optimizer.statements WHERE query LIKE '%plus%';
SELECT example FROM optimizer.statements WHERE query LIKE '%generate_series%';

-- the histogram accounts for every call
SELECT count(*) AS buckets, sum(calls) AS calls, max(cumulative_fraction) AS cumulative
  FROM optimizer.latency_histogram((SELECT queryid FROM optimizer.statements WHERE query LIKE 'SELECT $1 AS one%'));
SELECT bucket, range, lower_ms, upper_ms FROM optimizer.latency_histogram((SELECT queryid FROM optimizer.statements WHERE query LIKE 'SELECT $1 AS one%')) WHERE bucket IN (1, 2, 9, 17);

-- reset by query id
SELECT optimizer.reset(queryid => (SELECT queryid FROM optimizer.statements WHERE query LIKE '%plus%'));
SELECT count(*) FROM optimizer.statements WHERE query LIKE '%plus%';

\d optimizer.statements
\d optimizer.statements_info
