-- Partition sets with integer ranges, lists and hashes (time-based names depend on the day the
-- test runs: tests/integration/test_partitions.py covers those), and the errors with their hints.
SET client_min_messages = warning;
-- The hourly built-in run must not overlap the calls below.
SELECT enabled FROM optimizer.alter_job('maintain_partitions', enabled => false);
CREATE TABLE readings (id bigint NOT NULL, sensor text NOT NULL, v numeric, CHECK (v >= 0));
CREATE INDEX readings_sensor ON readings (sensor);
INSERT INTO readings SELECT g, 's' || (g % 3), g / 10.0 FROM generate_series(1, 25000) g;
-- A plain table converted online: its rows move out of the default partition in batches.
SELECT parent_table, action, partition, rows, detail
  FROM optimizer.partition_table('readings', 'id', '10000', premake => 1, retention => '15000', batch_rows => 5000);
SELECT partition, is_default, bound, in_retention FROM optimizer.partitions ORDER BY partition::text;
SELECT count(*), min(id), max(id) FROM readings;
SELECT indexrelid::regclass FROM pg_index WHERE indrelid = 'readings'::regclass ORDER BY 1;
-- A row far ahead lands in the default partition; maintenance gives it its partition and
-- retention follows the largest value.
INSERT INTO readings VALUES (95000, 's1', 1);
SELECT parent_table, action, partition, rows, detail FROM optimizer.maintain_partitions('readings');
SELECT count(*) FROM ONLY readings_default;
SELECT partition FROM optimizer.partitions WHERE NOT is_default ORDER BY partition::text;
SELECT control, method, "interval", premake, retention, with_default FROM optimizer.partition_sets;

-- List and hash.
CREATE TABLE tickets (id int NOT NULL, queue text NOT NULL);
INSERT INTO tickets SELECT g, (ARRAY['billing', 'Tech Support', 'sales'])[1 + g % 3] FROM generate_series(1, 300) g;
SELECT parent_table, action, partition, rows, detail FROM optimizer.partition_table('tickets', 'queue', method => 'list');
SELECT tableoid::regclass, count(*) FROM tickets GROUP BY 1 ORDER BY 1;
CREATE TABLE sessions (id int PRIMARY KEY, v text);
INSERT INTO sessions SELECT g, 'x' FROM generate_series(1, 100) g;
SELECT parent_table, action, partition, rows, detail FROM optimizer.partition_table('sessions', 'id', method => 'hash', modulus => 3);
SELECT count(*) FROM sessions;
SELECT count(*) FROM pg_inherits WHERE inhparent = 'sessions'::regclass;

-- Errors, each with a hint; nothing changes.
CREATE TABLE plain (id int NOT NULL, name text, at timestamptz NOT NULL);
SELECT * FROM optimizer.partition_table('readings', 'id', '10');
SELECT * FROM optimizer.partition_table('plain', 'nope', 'daily');
SELECT * FROM optimizer.partition_table('plain', 'name', 'daily');
SELECT * FROM optimizer.partition_table('plain', 'at', 'fortnightly');
SELECT * FROM optimizer.partition_table('plain', 'id', method => 'hash');
SELECT * FROM optimizer.partition_table('plain', 'id', '100', premake => -1);
SELECT * FROM optimizer.partition_table('plain', 'at', 'daily', retention => 'soon');
SELECT * FROM optimizer.partition_table('plain', 'at', 'daily', time_zone => 'Nowhere/Land');
SELECT * FROM optimizer.partition_table('plain', 'name', method => 'list', "interval" => 'daily');
SELECT * FROM optimizer.maintain_partitions('plain');
SELECT * FROM optimizer.undo_partitioning('plain');
CREATE VIEW plain_names AS SELECT name FROM plain;
SELECT * FROM optimizer.partition_table('plain', 'id', '100');
SELECT relkind FROM pg_class WHERE oid = 'plain'::regclass;

-- Undo.
SELECT parent_table, action, partition, rows, detail FROM optimizer.undo_partitioning('tickets');
SELECT relkind, (SELECT count(*) FROM tickets) FROM pg_class WHERE oid = 'tickets'::regclass;
SELECT count(*) FROM optimizer.partition_sets;
