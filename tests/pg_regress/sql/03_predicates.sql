-- Predicate capture seen through SQL: a small pgbench-like schema, the benchmark's 3-table join
-- with filters and ORDER BY ... LIMIT, and what the views say about it.
-- 01 and 02 filtered the store's views, so there is something to remove; nothing is left after
SELECT optimizer.reset_predicates() > 0 AS removed_some;
SELECT entries, evictions FROM optimizer.predicates_info;
SET max_parallel_workers_per_gather = 0;
CREATE TABLE branches (bid int PRIMARY KEY, bbalance int);
CREATE TABLE tellers (tid int PRIMARY KEY, bid int, tbalance int);
CREATE TABLE accounts (aid int PRIMARY KEY, bid int, abalance int, filler text);
INSERT INTO branches SELECT g, 0 FROM generate_series(1, 2) g;
INSERT INTO tellers SELECT g, (g - 1) / 10 + 1, 0 FROM generate_series(1, 20) g;
INSERT INTO accounts SELECT g, (g - 1) / 1000 + 1, g % 97, '' FROM generate_series(1, 2000) g;
ANALYZE branches, tellers, accounts;

-- the script: every statement three times with different constants
SELECT a.aid, a.abalance, t.tbalance, b.bbalance FROM accounts a JOIN branches b ON b.bid = a.bid
  JOIN tellers t ON t.bid = b.bid WHERE a.aid BETWEEN 10 AND 30 AND t.tid = 3 ORDER BY a.abalance DESC LIMIT 5;
SELECT a.aid, a.abalance, t.tbalance, b.bbalance FROM accounts a JOIN branches b ON b.bid = a.bid
  JOIN tellers t ON t.bid = b.bid WHERE a.aid BETWEEN 1500 AND 1520 AND t.tid = 15 ORDER BY a.abalance DESC LIMIT 5;
SELECT a.aid, a.abalance, t.tbalance, b.bbalance FROM accounts a JOIN branches b ON b.bid = a.bid
  JOIN tellers t ON t.bid = b.bid WHERE a.aid BETWEEN 700 AND 720 AND t.tid = 7 ORDER BY a.abalance DESC LIMIT 5;
SELECT abalance FROM accounts WHERE aid = 42;
SELECT abalance FROM accounts WHERE aid = 43;
SELECT abalance FROM accounts WHERE aid = 44;
UPDATE accounts SET abalance = abalance + 1 WHERE aid = 45;
SELECT count(*) FROM accounts WHERE filler IS NULL OR bid IN (1, 2);

-- every filter and join column of the script, with where it ran
SELECT table_name, columns, operator, kind, compared_to, join_table, join_columns, in_or, executions,
       avg_list_length
  FROM optimizer.predicates
 WHERE table_name IN ('accounts', 'branches', 'tellers')
 ORDER BY table_name, columns::text COLLATE "C", operator COLLATE "C", kind, executions;

-- the sort under the LIMIT
SELECT table_name, sort_key, position, direction, nulls, under_limit, executions, avg_limit
  FROM optimizer.sort_keys WHERE table_name = 'accounts';

-- constants are sampled (up to 4 per predicate and statement)
SELECT columns, operator, constants
  FROM optimizer.predicates WHERE table_name = 'accounts' AND operator = '=' AND kind = 'index';

-- settings
SELECT name, setting, context FROM pg_settings
 WHERE name IN ('pg_optimizer.predicate_sample_rate', 'pg_optimizer.max_predicates', 'pg_optimizer.capture_constants')
 ORDER BY name;
SELECT capacity FROM optimizer.predicates_info;

-- the reset is for privileged users only
CREATE ROLE pred_reader LOGIN;
SET ROLE pred_reader;
SELECT optimizer.reset_predicates();
RESET ROLE;
DROP ROLE pred_reader;
SELECT optimizer.reset_predicates(queryid => 0) AS removed_none;
