-- pg_optimizer 0.1.0 -> 0.2.0. Released: never edit (a test checks its checksum); the next
-- release chains a new file after it.
--
-- What changes: statements_raw() returns query_truncated and example_truncated (texts are kept
-- whole, up to max_text_bytes, and flagged when cut), statements_info_raw() returns the text
-- arena's size, use and compactions; the views over them gain those columns. The hypothetical
-- indexes view becomes readable by PUBLIC (each session lists its own). Everything else keeps its
-- definition; the library serves both versions' function symbols.

\echo Use "ALTER EXTENSION pg_optimizer UPDATE TO '0.2.0'" to load this file. \quit

DROP VIEW @extschema@.misestimates;  -- reads optimizer.statements; recreated below, unchanged
DROP VIEW @extschema@.statements;
DROP VIEW @extschema@.statements_info;
DROP FUNCTION @extschema@.statements_raw();
DROP FUNCTION @extschema@.statements_info_raw();

CREATE FUNCTION @extschema@."statements_raw"() RETURNS TABLE (
	"userid" oid,  /* pg_sys :: Oid */
	"dbid" oid,  /* pg_sys :: Oid */
	"toplevel" bool,  /* bool */
	"queryid" bigint,  /* Option < i64 > */
	"query" text,  /* DbText */
	"example" text,  /* Option < DbText > */
	"example_params" text,  /* Option < DbText > */
	"first_seen" timestamp with time zone,  /* Option < TimestampWithTimeZone > */
	"last_seen" timestamp with time zone,  /* Option < TimestampWithTimeZone > */
	"counts" bigint[],  /* Vec < i64 > */
	"times" double precision[],  /* Vec < Option < f64 > > */
	"histogram" bigint[],  /* Vec < i64 > */
	"query_truncated" bool,  /* bool */
	"example_truncated" bool  /* bool */
)
STRICT VOLATILE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'statements_raw_wrapper';

CREATE FUNCTION @extschema@."statements_info_raw"() RETURNS TABLE (
	"capacity" bigint,  /* i64 */
	"entries" bigint,  /* i64 */
	"evictions" bigint,  /* i64 */
	"stats_reset" timestamp with time zone,  /* Option < TimestampWithTimeZone > */
	"max_text_bytes" INT,  /* i32 */
	"text_memory_bytes" bigint,  /* i64 */
	"text_bytes_used" bigint,  /* i64 */
	"text_compactions" bigint  /* i64 */
)
STRICT VOLATILE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'statements_info_raw_wrapper';

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
       s.query_truncated,
       s.example_truncated,
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

GRANT SELECT ON @extschema@.statements, @extschema@.statements_info TO PUBLIC;

CREATE VIEW @extschema@.misestimates AS
WITH e AS (SELECT * FROM @extschema@.predicate_entries)
SELECT s.queryid,
       (SELECT st.query FROM @extschema@.statements st
         WHERE st.queryid = s.queryid AND st.dbid = s.dbid LIMIT 1)  AS query,
       s.node,
       s.table_name,
       s.partition_name,
       s.indexid::pg_catalog.regclass::text                       AS index_name,
       (SELECT pg_catalog.array_agg(DISTINCT col)
          FROM e q, pg_catalog.unnest(q.column_names || q.rhs_column_names) AS col
         WHERE q.node_sig = s.sig AND q.queryid IS NOT DISTINCT FROM s.queryid
           AND q.userid = s.userid AND col IS NOT NULL)          AS columns,
       s.counts[2]                                                AS executions,
       s.counts[3]                                                AS misestimated,
       s.counts[3]::float8 / NULLIF(s.counts[8], 0)               AS misestimated_fraction,
       s.figures[5] / NULLIF(s.figures[1], 0)                     AS estimated_rows,
       s.figures[2] / NULLIF(s.figures[1], 0)                     AS actual_rows,
       s.figures[6]                                               AS mean_qerror,
       s.figures[7]                                               AS max_qerror,
       s.last_seen
  FROM e s
 WHERE s.kind = 'scan' AND s.counts[3] > 0;

COMMENT ON VIEW @extschema@.misestimates IS
  'Plan nodes whose actual rows per loop differed from the estimate by 10x or more in at least one execution: how often, by how much (q-error = max(estimate/actual, actual/estimate)), and the columns filtered or joined there.';

GRANT SELECT ON @extschema@.misestimates TO PUBLIC;

GRANT SELECT ON @extschema@.hypothetical_indexes TO PUBLIC;
