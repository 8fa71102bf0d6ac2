-- Views over the functions in src/api/. Loaded last (finalize) by extension_sql_file!.

CREATE VIEW @extschema@.statements AS
SELECT s.userid,
       r.rolname                AS username,
       s.dbid,
       d.datname                AS dbname,
       s.toplevel,
       s.queryid,
       s.query,
       s.counts[1]              AS calls,
       s.times[1]               AS total_exec_time,
       s.times[2]               AS min_exec_time,
       s.times[3]               AS max_exec_time,
       s.times[4]               AS mean_exec_time,
       s.times[5]               AS stddev_exec_time,
       s.times[13]              AS p50_exec_time,
       s.times[14]              AS p95_exec_time,
       s.times[15]              AS p99_exec_time,
       s.counts[2]              AS plans,
       s.times[6]               AS total_plan_time,
       s.times[7]               AS min_plan_time,
       s.times[8]               AS max_plan_time,
       s.times[9]               AS mean_plan_time,
       s.times[10]              AS stddev_plan_time,
       s.counts[3]              AS rows,
       s.counts[4]              AS shared_blks_hit,
       s.counts[5]              AS shared_blks_read,
       s.counts[6]              AS shared_blks_dirtied,
       s.counts[7]              AS shared_blks_written,
       s.counts[8]              AS local_blks_hit,
       s.counts[9]              AS local_blks_read,
       s.counts[10]             AS local_blks_dirtied,
       s.counts[11]             AS local_blks_written,
       s.counts[12]             AS temp_blks_read,
       s.counts[13]             AS temp_blks_written,
       s.times[11]              AS blk_read_time,
       s.times[12]              AS blk_write_time,
       s.counts[14]             AS wal_records,
       s.counts[15]             AS wal_fpi,
       s.counts[16]::numeric    AS wal_bytes,
       s.histogram              AS latency_histogram,
       s.example,
       s.example_params,
       s.times[16]              AS example_exec_time,
       s.first_seen,
       s.last_seen
  FROM @extschema@.statements_raw() AS s
  LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.userid
  LEFT JOIN pg_catalog.pg_database d ON d.oid = s.dbid;

COMMENT ON VIEW @extschema@.statements IS
  'One row per (user, database, query id, top level): counters since first_seen, latency percentiles from a log-scale histogram, and the slowest execution with its real values.';

CREATE VIEW @extschema@.statements_info AS
SELECT * FROM @extschema@.statements_info_raw();

COMMENT ON VIEW @extschema@.statements_info IS
  'Capacity of the statement store, entries in use, entries evicted since the last reset.';

GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;
GRANT SELECT ON @extschema@.statements, @extschema@.statements_info TO PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.reset(oid, oid, bigint) FROM PUBLIC;
