-- The index advisor seen through SQL: hypothetical indexes in EXPLAIN, explain_with, and the advice
-- for a small shop workload (tables under 30,000 rows, so ANALYZE reads every row and the planner's
-- costs, hence the advice, are the same on every run).
SET max_parallel_workers_per_gather = 0;
SET pg_optimizer.track = 'top';
-- planner cost alone: measured times would tie the advice to the machine's speed
SET pg_optimizer.advisor_time_calibration = 1;
-- (no autovacuum: a VACUUM counted after the statistics reset would add a write cost that depends
-- on when it ran)
CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL, country text)
  WITH (autovacuum_enabled = off);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL,
                     created_at timestamptz NOT NULL, total numeric)
  WITH (autovacuum_enabled = off);
INSERT INTO customers SELECT g, 'user' || g || '@example.com', (ARRAY['fr','de','us','jp'])[g % 4 + 1]
  FROM generate_series(1, 5000) g;
INSERT INTO orders SELECT g, g % 5000 + 1, CASE WHEN g % 100 = 0 THEN 'pending' ELSE 'shipped' END,
       timestamptz '2026-01-01' + g * interval '7 minutes', g % 500
  FROM generate_series(1, 30000) g;
CREATE INDEX orders_id_copy ON orders (id);
ANALYZE customers, orders;
-- the load's table counters reach shared statistics before the reset, not after it (where they
-- would count as the workload's writes)
SELECT pg_stat_force_next_flush();
SELECT pg_stat_reset();
SELECT relname, n_tup_ins, n_tup_upd, n_tup_del, vacuum_count + autovacuum_count AS vacuums
  FROM pg_stat_user_tables WHERE relname IN ('customers', 'orders') ORDER BY relname;
SELECT optimizer.reset() > 0 AS removed_statements, optimizer.reset_predicates() > 0 AS removed_predicates;
-- nothing of the load is left (the reset statement filtered nothing)
SELECT (SELECT count(*) FROM optimizer.statements WHERE query NOT LIKE '%optimizer%') AS statements,
       (SELECT entries FROM optimizer.predicates_info) AS predicates;

-- what-if: a hypothetical index is planned by EXPLAIN, never by execution
EXPLAIN (COSTS OFF) SELECT * FROM orders WHERE customer_id = 42;
SELECT indexname FROM optimizer.hypothetical_index('CREATE INDEX ON orders (customer_id, created_at DESC)');
EXPLAIN (COSTS OFF) SELECT * FROM orders WHERE customer_id = 42 ORDER BY created_at DESC LIMIT 5;
SELECT count(*) FROM orders WHERE customer_id = 42;
SELECT indexname, relation, am, estimated_size, tree_height FROM optimizer.hypothetical_indexes;
SELECT optimizer.drop_hypothetical();
SELECT total_with < total_without / 10 AS much_cheaper, used
  FROM optimizer.explain_with('SELECT * FROM orders WHERE status = ''pending'' ORDER BY created_at LIMIT 10',
                              ARRAY['CREATE INDEX ON orders (created_at) WHERE status = ''pending''']);

-- the workload: each statement a few times
SELECT * FROM orders WHERE customer_id = 42 ORDER BY created_at DESC LIMIT 5;
SELECT * FROM orders WHERE customer_id = 43 ORDER BY created_at DESC LIMIT 5;
SELECT * FROM orders WHERE customer_id = 44 ORDER BY created_at DESC LIMIT 5;
-- (one constant: the advisor plans the slowest execution's, which with two would depend on timing)
SELECT count(*) FROM orders WHERE status = 'pending' AND created_at > '2026-03-01';
SELECT count(*) FROM orders WHERE status = 'pending' AND created_at > '2026-03-01';
SELECT c.email, o.total FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.email = 'user7@example.com';
SELECT c.email, o.total FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.email = 'user8@example.com';
SELECT c.email, o.total FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.email = 'user9@example.com';

-- the advice: what to create, what to drop, why (the share of the workload cost each index saves
-- rounded to a whole percent, in its own column)
SELECT action, ddl, method, columns, include_columns, predicate, cardinality(queryids) AS statements,
       round(100 * benefit_share) AS saves_pct,
       regexp_replace(reason, 'saves [0-9.]+% of workload cost', 'saves N% of workload cost') AS reason
  FROM optimizer.index_advice()
 ORDER BY action, ddl;
SELECT planner_calls > 0 AS planned FROM optimizer.index_advice() LIMIT 1;
