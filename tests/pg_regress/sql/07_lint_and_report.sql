-- The linter on text that never ran (optimizer.lint_sql), its rules, and the refusals of the
-- report, the advice's sources and the workload import: the texts a DBA reads, pinned.
CREATE TABLE lint_orders (id int PRIMARY KEY, customer_id int NOT NULL, note text,
                          placed_at timestamptz NOT NULL, c1 int, c2 int, c3 int, c4 int, c5 int, c6 int, c7 int);
CREATE TABLE lint_customers (id int PRIMARY KEY, name text);
SELECT rule, severity FROM optimizer.lint_rules() ORDER BY rule;
SELECT rule, severity, fragment, position FROM optimizer.lint_sql('SELECT id FROM lint_orders WHERE note LIKE ''%son''');
SELECT rule, severity, fragment, position FROM optimizer.lint_sql('SELECT id FROM lint_orders WHERE placed_at::date = ''2026-01-01''');
SELECT rule, severity, fragment, position FROM optimizer.lint_sql('SELECT o.id FROM lint_orders o, lint_customers c WHERE o.id > 5');
SELECT rule, severity, fragment, position FROM optimizer.lint_sql('SELECT id FROM lint_orders ORDER BY placed_at OFFSET 100000 LIMIT 10');
SELECT rule, severity, fragment, position FROM optimizer.lint_sql('SELECT id FROM lint_orders WHERE customer_id NOT IN (SELECT id FROM lint_customers)');
SELECT rule, severity, fragment, position FROM optimizer.lint_sql('SELECT (SELECT count(*) FROM lint_orders WHERE customer_id = 3) > 0');
-- clean text: no finding
SELECT * FROM optimizer.lint_sql('SELECT id, note FROM lint_orders WHERE id = 42');
-- refusals, each with a hint
\set VERBOSITY default
SELECT * FROM optimizer.lint_sql('SELEKT ((');
SELECT optimizer.report('pdf');
SELECT * FROM optimizer.index_advice(sources => ARRAY[]::text[]);
SELECT * FROM optimizer.index_advice(sources => ARRAY['local', NULL]);
SELECT * FROM optimizer.index_advice(sources => ARRAY['nowhere']);
SELECT * FROM optimizer.import_workload('{"format": "pg_optimizer.report", "version": 1}', 'x');
SELECT * FROM optimizer.import_workload('{"format": "pg_optimizer.workload", "version": 2, "window_seconds": 1}', 'x');
SELECT * FROM optimizer.import_workload('{"format": "pg_optimizer.workload", "version": 1, "window_seconds": 60}', 'local');
SELECT * FROM optimizer.import_workload('{"format": "pg_optimizer.workload", "version": 1, "window_seconds": 60}', NULL);
-- an empty workload imports, and is advised (nothing to propose)
SELECT source, statements, predicates, roles_missing FROM optimizer.import_workload('{"format": "pg_optimizer.workload", "version": 1, "window_seconds": 60}', 'empty');
SELECT action, count(*) FROM optimizer.index_advice(sources => ARRAY['empty']) GROUP BY 1;
SELECT source, imported_by, database FROM optimizer.imported_workloads;
DELETE FROM optimizer.imported_workloads WHERE source = 'empty';
DROP TABLE lint_orders, lint_customers;
