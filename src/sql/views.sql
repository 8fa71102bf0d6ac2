-- Views over the functions in src/api/ (loaded after them by extension_sql_file!).

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

GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;
GRANT SELECT ON @extschema@.statements, @extschema@.statements_info TO PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.reset(oid, oid, bigint) FROM PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- Predicates, join clauses, sort keys and estimates, from the executed plans.

CREATE VIEW @extschema@.predicate_entries AS
SELECT p.*,
       p.root_relid::pg_catalog.regclass::text AS table_name,
       CASE WHEN p.partition THEN p.relid::pg_catalog.regclass::text END AS partition_name,
       (SELECT pg_catalog.array_agg(a.attname::text ORDER BY k.i)
          FROM pg_catalog.unnest(p.attnums) WITH ORDINALITY AS k(n, i)
          LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = p.root_relid AND a.attnum = k.n) AS column_names,
       p.rhs_relid::pg_catalog.regclass::text AS rhs_table_name,
       (SELECT pg_catalog.array_agg(a.attname::text ORDER BY k.i)
          FROM pg_catalog.unnest(p.rhs_attnums) WITH ORDINALITY AS k(n, i)
          LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = p.rhs_relid AND a.attnum = k.n) AS rhs_column_names,
       -- The operator with the column on its left (the commutator when it was written the other way).
       CASE WHEN p.commuted AND o.oprcom <> 0 THEN o.oprcom ELSE o.oid END AS effective_opno
  FROM @extschema@.predicates_raw() AS p
  LEFT JOIN pg_catalog.pg_operator o ON o.oid = p.opno
 WHERE p.dbid = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database());

COMMENT ON VIEW @extschema@.predicate_entries IS
  'Every entry of the predicate store for this database (scans, quals, join clauses, sort keys), per statement, with names resolved; the other predicate views aggregate it.';

CREATE VIEW @extschema@.predicates AS
WITH e AS (
    SELECT x.*,
           CASE WHEN x.kind = 'join' OR x.place IN ('hash cond', 'merge cond') THEN 'join'
                WHEN x.place = 'index cond' THEN 'index'
                WHEN x.place = 'tid cond' THEN 'tid'
                WHEN x.place = 'remote' THEN 'remote'
                ELSE 'filter' END AS qual_kind,
           pg_catalog.concat_ws('|', x.root_relid, x.attnums, x.expression, x.effective_opno, x.op_kind,
                                x.negated, x.kind, x.place, x.rhs, x.rhs_relid, x.rhs_attnums,
                                x.or_group IS NOT NULL) AS qual_key
      FROM @extschema@.predicate_entries x
     WHERE x.kind IN ('qual', 'join')
), consts AS (
    SELECT e.qual_key, (pg_catalog.array_agg(DISTINCT c))[1:10] AS constants
      FROM e, pg_catalog.unnest(e.constants) AS c
     WHERE c IS NOT NULL
     GROUP BY e.qual_key
)
SELECT e.table_name,
       e.column_names                                         AS columns,
       e.expression,
       CASE WHEN e.op_kind = 'boolean column' THEN CASE WHEN e.negated THEN '= false' ELSE '= true' END
            ELSE CASE WHEN e.negated THEN 'NOT ' ELSE '' END ||
                 CASE e.op_kind
                      WHEN 'op'  THEN op.oprname::text
                      WHEN 'any' THEN op.oprname || ' ANY'
                      WHEN 'all' THEN op.oprname || ' ALL'
                      ELSE pg_catalog.upper(e.op_kind) END
       END                                                    AS operator,
       e.qual_kind                                            AS kind,
       e.place,
       e.rhs                                                  AS compared_to,
       e.rhs_table_name                                       AS join_table,
       e.rhs_column_names                                     AS join_columns,
       pg_catalog.bool_or(e.or_group IS NOT NULL)             AS in_or,
       pg_catalog.sum(e.counts[1])::bigint                    AS executions,
       pg_catalog.sum(e.figures[2]) / NULLIF(pg_catalog.sum(e.counts[2]), 0) AS avg_rows,
       pg_catalog.sum(e.figures[3]) / NULLIF(pg_catalog.sum(e.counts[2]), 0) AS avg_rows_filtered,
       CASE WHEN e.qual_kind = 'index'
            THEN pg_catalog.sum(e.figures[2]) / NULLIF(pg_catalog.sum(e.figures[1]) * pg_catalog.max(GREATEST(c.reltuples, 1)), 0)
            ELSE pg_catalog.sum(e.figures[2]) / NULLIF(pg_catalog.sum(e.figures[2]) + pg_catalog.sum(e.figures[3]), 0)
       END                                                    AS selectivity,
       pg_catalog.sum(e.figures[9]) / NULLIF(pg_catalog.sum(e.counts[6]), 0) AS avg_list_length,
       pg_catalog.sum(e.counts[4])::bigint                    AS constant_executions,
       pg_catalog.sum(e.counts[5])::bigint                    AS parameter_executions,
       pg_catalog.sum(e.figures[1]) / NULLIF(pg_catalog.sum(e.counts[2]), 0) AS avg_loops,
       pg_catalog.max(e.figures[7])                           AS max_qerror,
       (SELECT pg_catalog.array_agg(DISTINCT f.opfname::text)
          FROM pg_catalog.pg_amop ao JOIN pg_catalog.pg_opfamily f ON f.oid = ao.amopfamily
         WHERE ao.amopopr = e.effective_opno AND ao.amoppurpose = 's') AS operator_families,
       (SELECT pg_catalog.array_agg(DISTINCT am.amname::text)
          FROM pg_catalog.pg_amop ao JOIN pg_catalog.pg_am am ON am.oid = ao.amopmethod
         WHERE ao.amopopr = e.effective_opno AND ao.amoppurpose = 's')
       || CASE WHEN pg_catalog.bool_or(pr.prosupport::text IN ('textlike_support', 'texticlike_support'))
               THEN ARRAY['btree (left-anchored patterns)'] ELSE '{}'::text[] END
                                                              AS access_methods,
       k.constants,
       pg_catalog.array_agg(DISTINCT e.queryid) FILTER (WHERE e.queryid IS NOT NULL) AS queryids,
       pg_catalog.min(e.first_seen)                           AS first_seen,
       pg_catalog.max(e.last_seen)                            AS last_seen
  FROM e
  LEFT JOIN consts k USING (qual_key)
  LEFT JOIN pg_catalog.pg_operator op ON op.oid = e.effective_opno
  LEFT JOIN pg_catalog.pg_proc pr ON pr.oid = op.oprcode
  LEFT JOIN pg_catalog.pg_class c ON c.oid = e.root_relid
 GROUP BY e.qual_key, e.table_name, e.column_names, e.expression, e.negated, e.op_kind, op.oprname,
          e.qual_kind, e.place, e.rhs, e.rhs_table_name, e.rhs_column_names, e.effective_opno, k.constants;

COMMENT ON VIEW @extschema@.predicates IS
  'One row per qual the workload ran (table, columns or expression, operator, where it ran, what it was compared to), summed over statements: executions, rows, rows filtered, selectivity, the index access methods that support the operator, sampled constants and the statements using it.';

CREATE VIEW @extschema@.sort_keys AS
SELECT s.table_name,
       COALESCE(s.expression, s.column_names[1], '(computed)')  AS sort_key,
       s.position,
       CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_amop ao
                          WHERE ao.amopopr = s.opno AND ao.amopstrategy = 5
                            AND ao.amopmethod = (SELECT oid FROM pg_catalog.pg_am WHERE amname = 'btree'))
            THEN 'DESC' ELSE 'ASC' END                           AS direction,
       CASE WHEN s.nulls_first THEN 'NULLS FIRST' ELSE 'NULLS LAST' END AS nulls,
       s.node,
       s.presorted,
       s.under_limit,
       pg_catalog.sum(s.counts[1])::bigint                       AS executions,
       pg_catalog.sum(s.figures[10]) / NULLIF(pg_catalog.sum(s.counts[7]), 0) AS avg_limit,
       pg_catalog.array_agg(DISTINCT s.queryid) FILTER (WHERE s.queryid IS NOT NULL) AS queryids,
       pg_catalog.max(s.last_seen)                               AS last_seen
  FROM @extschema@.predicate_entries s
 WHERE s.kind = 'sort'
 GROUP BY s.table_name, s.expression, s.column_names, s.position, s.opno, s.nulls_first, s.node,
          s.presorted, s.under_limit;

COMMENT ON VIEW @extschema@.sort_keys IS
  'Sort keys of Sort and Incremental Sort nodes: column or expression, position, direction, NULLS order, whether a LIMIT sat above and the average bound.';

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

CREATE VIEW @extschema@.predicates_info AS
SELECT * FROM @extschema@.predicates_info_raw();

COMMENT ON VIEW @extschema@.predicates_info IS
  'Capacity of the predicate store, entries in use, entries evicted since the last reset.';

GRANT SELECT ON @extschema@.predicate_entries, @extschema@.predicates, @extschema@.sort_keys,
                @extschema@.misestimates, @extschema@.predicates_info TO PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.reset_predicates(oid, bigint) FROM PUBLIC;

CREATE VIEW @extschema@.hypothetical_indexes AS
SELECT h.indexrelid,
       h.indexname,
       h.relid::regclass        AS relation,
       h.am,
       h.definition,
       h.estimated_bytes,
       pg_catalog.pg_size_pretty(h.estimated_bytes) AS estimated_size,
       h.estimated_tuples,
       h.tree_height,
       h.leaf_partitions
  FROM @extschema@.hypothetical_indexes_raw() AS h;

COMMENT ON VIEW @extschema@.hypothetical_indexes IS
  'This session''s hypothetical indexes with their estimated size (from table statistics: widths, null fractions, distinct values, fill factor; btree with deduplication and real tree height).';

-- Hypothetical indexes belong to the session that defined them: anyone may list their own.
GRANT SELECT ON @extschema@.hypothetical_indexes TO PUBLIC;
