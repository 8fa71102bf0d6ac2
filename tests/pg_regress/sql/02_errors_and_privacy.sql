-- Clear errors with hints; other users' texts hidden; reset revoked from PUBLIC.
CREATE EXTENSION IF NOT EXISTS pg_optimizer;
\set VERBOSITY default
SELECT * FROM optimizer.latency_histogram(12345);
SELECT * FROM optimizer.latency_histogram(NULL);

-- (a table of its own: column aliases are not part of a query id, so a marker alias would not do)
CREATE TABLE secret_text(v text);
INSERT INTO secret_text VALUES ('visible to the owner only');
SELECT v FROM secret_text WHERE v LIKE 'visible%';
CREATE ROLE regress_po_plain;
SET ROLE regress_po_plain;
SELECT DISTINCT query, queryid, example, example_params
  FROM optimizer.statements WHERE userid <> 'regress_po_plain'::regrole;
SELECT count(*) AS leaked FROM optimizer.statements WHERE query LIKE '%secret_text%' OR example LIKE '%visible%';
SELECT optimizer.reset();
RESET ROLE;
GRANT pg_read_all_stats TO regress_po_plain;
SET ROLE regress_po_plain;
SELECT count(*) > 0 AS sees_all FROM optimizer.statements WHERE query LIKE '%secret_text%';
RESET ROLE;
DROP ROLE regress_po_plain;

-- settings are reserved and typed
SET pg_optimizer.no_such_setting = 1;
SET pg_optimizer.sample_rate = 2;
SET pg_optimizer.track = 'sometimes';
SET pg_optimizer.max_statements = 10;
SELECT name, setting, context FROM pg_settings WHERE name LIKE 'pg_optimizer.%' ORDER BY name;
