-- Insights: what is wrong, how bad, and what to run. Every insight view returns only findings (a
-- clean database gives no row) and ends with the same three columns:
--     severity        'info' | 'warning' | 'critical'
--     evidence        the numbers behind it
--     recommendation  the SQL to run where there is one, else what to do
-- optimizer.health() sums them up per area. The views read the catalogs, the statistics views and
-- our stores only: no lock stronger than AccessShareLock.
--
-- This file: slow_queries, unused_indexes, duplicate_indexes, invalid_indexes (the last three
-- are the index advisor's drop rules, one implementation: optimizer.index_findings(), rated once
-- in optimizer.index_insights), and
-- health(). src/sql/insights_storage.sql and insights_activity.sql hold the others.
--
-- slow_queries   queries only (not utility statements, not calls of pg_optimizer's own functions
--                and views), top level, this database;
--                info: at least 10% of the database's statement time (and 1 s in all);
--                warning: mean >= 100 ms, or >= 25% of the time; critical: mean >= 1 s or
--                p99 >= 5 s. Regressing statements (optimizer.regressions) say so.
-- unused_indexes info; warning over 100 MB. duplicate_indexes warning. invalid_indexes warning
--                (critical over 1 GB: it is written on every change and never read).

CREATE VIEW @extschema@.slow_queries AS
WITH s AS (
    SELECT st.queryid, st.username, st.query, st.calls, st.total_exec_time, st.mean_exec_time,
           st.p95_exec_time, st.p99_exec_time, st.rows,
           st.total_exec_time / NULLIF(sum(st.total_exec_time) OVER (), 0) AS share
      FROM @extschema@.statements st
     WHERE st.dbid = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
       AND st.toplevel AND st.calls > 0
       -- queries, not utility statements (a slow CREATE INDEX or VACUUM is not a query to tune)
       AND st.query ~* '^\s*(WITH|SELECT|INSERT|UPDATE|DELETE|MERGE|VALUES|TABLE)\M'
       -- nor calls of pg_optimizer itself (the advisor and these views are not the workload)
       AND st.query !~ '\m@extschema@\.'
), f AS (
    SELECT s.*,
           CASE WHEN s.mean_exec_time >= 1000 OR s.p99_exec_time >= 5000 THEN 'critical'
                WHEN s.mean_exec_time >= 100 OR s.share >= 0.25 THEN 'warning'
                ELSE 'info' END AS severity,
           (SELECT r.mean_ms_now / NULLIF(r.mean_ms_baseline, 0) FROM @extschema@.regressions r
             WHERE r.queryid = s.queryid LIMIT 1) AS regression
      FROM s
     WHERE s.mean_exec_time >= 100 OR (s.share >= 0.10 AND s.total_exec_time >= 1000)
)
SELECT f.queryid,
       f.username,
       f.query,
       f.calls,
       pg_catalog.round(f.total_exec_time::numeric, 1)   AS total_ms,
       pg_catalog.round(f.mean_exec_time::numeric, 3)    AS mean_ms,
       pg_catalog.round(f.p95_exec_time::numeric, 3)     AS p95_ms,
       pg_catalog.round(f.p99_exec_time::numeric, 3)     AS p99_ms,
       pg_catalog.round((100 * f.share)::numeric, 1)     AS time_share_pct,
       f.severity,
       pg_catalog.format('%s calls, mean %s ms, p95 %s ms, p99 %s ms, %s%% of this database''s statement time%s',
                         f.calls, pg_catalog.round(f.mean_exec_time::numeric, 1), pg_catalog.round(f.p95_exec_time::numeric, 1),
                         pg_catalog.round(f.p99_exec_time::numeric, 1), pg_catalog.round((100 * f.share)::numeric, 1),
                         CASE WHEN f.regression IS NOT NULL
                              THEN pg_catalog.format('; regressing: %sx its baseline', pg_catalog.round(f.regression::numeric, 1)) ELSE '' END)
                                                          AS evidence,
       pg_catalog.format('SELECT * FROM @extschema@.index_advice() WHERE %s = ANY (queryids);  -- then EXPLAIN (ANALYZE, BUFFERS) the example in optimizer.statements', f.queryid)
                                                          AS recommendation
  FROM f
 ORDER BY f.total_exec_time DESC;
COMMENT ON VIEW @extschema@.slow_queries IS
  'Statements slow on average or taking a large share of the database''s time, with percentiles and regressions';

-- The three index views are filters of one view over one call of index_findings(), so health()
-- reads them all at the cost of one.
CREATE VIEW @extschema@.index_insights AS
SELECT CASE f.kind WHEN 'unused' THEN 'unused_indexes' WHEN 'invalid' THEN 'invalid_indexes'
                   ELSE 'duplicate_indexes' END                             AS insight,
       f.indexrelid::regclass AS index_name, f.relid::regclass AS table_name,
       f.other_index AS covered_by, f.kind = 'prefix' AS is_prefix, f.bytes,
       pg_catalog.pg_size_pretty(f.bytes) AS size, f.scans,
       CASE f.kind
            WHEN 'unused'  THEN CASE WHEN f.bytes > 100 * 1024 * 1024 THEN 'warning' ELSE 'info' END
            WHEN 'invalid' THEN CASE WHEN f.bytes > 1024 * 1024 * 1024 THEN 'critical' ELSE 'warning' END
            ELSE 'warning' END                                              AS severity,
       f.reason AS evidence, f.ddl AS recommendation
  FROM @extschema@.index_findings() f;
COMMENT ON VIEW @extschema@.index_insights IS
  'The index advisor''s drop findings rated: what unused_indexes, duplicate_indexes and invalid_indexes list (column insight names which)';

CREATE VIEW @extschema@.unused_indexes AS
SELECT i.index_name, i.table_name, i.bytes, i.size, i.scans, i.severity, i.evidence, i.recommendation
  FROM @extschema@.index_insights i
 WHERE i.insight = 'unused_indexes';
COMMENT ON VIEW @extschema@.unused_indexes IS
  'Indexes not scanned for pg_optimizer.advisor_unused_days (never those of constraints): the index advisor''s drop rule';

CREATE VIEW @extschema@.duplicate_indexes AS
SELECT i.index_name, i.table_name, i.covered_by, i.is_prefix, i.bytes, i.size,
       i.severity, i.evidence, i.recommendation
  FROM @extschema@.index_insights i
 WHERE i.insight = 'duplicate_indexes';
COMMENT ON VIEW @extschema@.duplicate_indexes IS
  'Indexes another index makes redundant (same keys, or a leading prefix of it): the index advisor''s drop rule';

CREATE VIEW @extschema@.invalid_indexes AS
SELECT i.index_name, i.table_name, i.bytes, i.size, i.severity, i.evidence, i.recommendation
  FROM @extschema@.index_insights i
 WHERE i.insight = 'invalid_indexes';
COMMENT ON VIEW @extschema@.invalid_indexes IS
  'Invalid indexes (a failed concurrent build) not being built now: written on every change, never read';

GRANT SELECT ON @extschema@.slow_queries, @extschema@.index_insights, @extschema@.unused_indexes, @extschema@.duplicate_indexes,
                @extschema@.invalid_indexes TO PUBLIC;

-- The areas of health() and the insights each sums up, in order: the one list health() and
-- optimizer.report() read.
CREATE FUNCTION @extschema@.insight_areas()
RETURNS TABLE(n int, area text, insights text[])
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT * FROM (VALUES
        (1, 'queries',       ARRAY['slow_queries']),
        -- index_insights: invalid_indexes, duplicate_indexes and unused_indexes in one read
        (2, 'indexes',       ARRAY['index_insights', 'index_bloat', 'missing_fk_indexes']),
        (3, 'vacuum',        ARRAY['vacuum_health', 'table_bloat']),
        (4, 'wraparound',    ARRAY['wraparound_risk', 'sequence_exhaustion']),
        (5, 'cache',         ARRAY['cache_hit']),
        (6, 'connections',   ARRAY['connections', 'blocking']),
        (7, 'replication',   ARRAY['replication']),
        (8, 'configuration', ARRAY['config_advice']),
        (9, 'statistics',    ARRAY['stale_statistics', 'statistics_advice'])) AS x(n, area, insights)
    ORDER BY 1
$fn$;
COMMENT ON FUNCTION @extschema@.insight_areas() IS
  'The areas of health() and the insight views (and statistics_advice) each one sums up, in order';

-- Every finding of the insights of one area (NULL: all areas), area by area in insight_areas()
-- order, each insight's rows in its view's order. Insights not there (a partial install) are
-- skipped. statistics_advice is asked for its candidates without trials (0), so this stays
-- read-only and lock-light.
CREATE FUNCTION @extschema@.insight_findings(only_area text DEFAULT NULL)
RETURNS TABLE(area text, insight text, severity text, evidence text, recommendation text)
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    a record;
    v text;
    q text;
BEGIN
    FOR a IN SELECT * FROM @extschema@.insight_areas() x WHERE only_area IS NULL OR x.area = only_area LOOP
        FOREACH v IN ARRAY a.insights LOOP
            IF v = 'statistics_advice' THEN
                CONTINUE WHEN to_regprocedure('@extschema@.statistics_advice(integer)') IS NULL;
                q := 'SELECT ''statistics_advice'', severity, evidence, recommendation FROM @extschema@.statistics_advice(0)';
            ELSIF v = 'index_insights' THEN
                CONTINUE WHEN to_regclass('@extschema@.index_insights') IS NULL;
                -- invalid first, then duplicates, then unused: the order of the three views
                q := 'SELECT insight, severity, evidence, recommendation FROM @extschema@.index_insights'
                     ' ORDER BY array_position(ARRAY[''invalid_indexes'', ''duplicate_indexes'', ''unused_indexes''], insight)';
            ELSE
                CONTINUE WHEN to_regclass('@extschema@.' || quote_ident(v)) IS NULL;
                q := format('SELECT %s, severity, evidence, recommendation FROM @extschema@.%I', quote_literal(v), v);
            END IF;
            RETURN QUERY EXECUTE format('SELECT %s::text, x.i::text, x.s::text, x.e::text, x.r::text FROM (%s) x(i, s, e, r)',
                                        quote_literal(a.area), q);
        END LOOP;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION @extschema@.insight_findings(text) IS
  'Every finding of the insight views of one area of health() (NULL: all), with the view it comes from';

-- One row per area: its worst finding and what to do first.
CREATE FUNCTION @extschema@.health()
RETURNS TABLE(area text, status text, findings bigint, top_finding text, top_action text)
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    a record;
    r record;
    best int;
    rank int;
BEGIN
    FOR a IN SELECT * FROM @extschema@.insight_areas() LOOP
        area := a.area; status := 'ok'; findings := 0; top_finding := NULL; top_action := NULL; best := 0;
        FOR r IN SELECT * FROM @extschema@.insight_findings(a.area) LOOP
            findings := findings + 1;
            rank := CASE r.severity WHEN 'critical' THEN 3 WHEN 'warning' THEN 2 ELSE 1 END;
            IF rank > best THEN
                best := rank;
                status := r.severity;
                top_finding := r.insight || ': ' || r.evidence;
                top_action := r.recommendation;
            END IF;
        END LOOP;
        RETURN NEXT;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION @extschema@.health() IS
  'One row per area (queries, indexes, vacuum, wraparound, cache, connections, replication, configuration, statistics): its worst finding and the action to take first';
