-- Statistics insights (issue 15): statistics_advice().
--
-- optimizer.statistics_advice(max_candidates int DEFAULT 5) is a set-returning plpgsql FUNCTION,
-- not a view, because it verifies each candidate with the planner. Like the views it returns
-- findings only (a clean database gives no row) and ends with severity / evidence /
-- recommendation.
--
-- Candidates come from the recorded misestimates (optimizer.predicate_entries, kind 'scan', of
-- this database) of tables and materialized views:
--   * column groups: a scan with AND-ed comparison quals (=, <, <=, >, >= of the column against
--     a value, not in an OR, not negated) on >= 2 columns of the same table, whose rows were
--     misestimated by a factor >= 10 (recorded max q-error), and no statistics object on the
--     table covers those columns yet:
--         CREATE STATISTICS "t_a_b_stats" (dependencies, ndistinct, mcv) ON "a", "b" FROM "s"."t";
--   * skewed single columns: a scan whose only comparison qual is "c = value", misestimated by a
--     factor >= 10, where c has the default statistics target (attstattarget -1) and pg_stats
--     shows skew (the most common value is >= 10x as frequent as the least common one of the
--     MCV list, or the MCV list is full):
--         ALTER TABLE "s"."t" ALTER COLUMN "c" SET STATISTICS 1000;
--   One candidate per (table, columns): the statement with the largest q-error is the example.
--
-- Verification (the candidates with the largest q-error first, at most max_candidates per call):
--   * a probe `SELECT 1 FROM t WHERE a = 'x' AND b = 'y'` is built from the recorded quals and
--     their recorded constants (the first sampled constant of each qual, cast to the operator's
--     right-hand type, the operator schema-qualified), and EXPLAIN (FORMAT JSON) gives the
--     estimate before; the actual rows are the recorded ones (actual rows per loop, averaged);
--   * inside a BEGIN ... EXCEPTION block (a subtransaction): CREATE STATISTICS or ALTER COLUMN
--     SET STATISTICS 1000, ANALYZE t (those columns only), EXPLAIN again, then a private
--     exception (SQLSTATE PO015) rolls it all back. The statistics object, the target and the new
--     pg_statistic rows are gone afterwards. COST: one ANALYZE of the candidate columns per
--     verified candidate (a sample of 300 x target rows: 30,000 rows by default, 300,000 with
--     target 1000). Not rolled back (PostgreSQL updates them in place): pg_class.reltuples /
--     relpages of the table, refreshed as any ANALYZE does, and last_analyze / analyze_count in
--     pg_stat_user_tables. (The column list keeps ANALYZE from resetting the table's
--     n_mod_since_analyze, so autovacuum's ANALYZE is not delayed: checked.)
--   * error = max(estimate / actual, actual / estimate), both clamped to >= 1 row; reported only
--     when the error after is at least 1.5x smaller than before (MIN_GAIN).
--   SECURITY: planning runs code (operators' estimators, casts of the constants), so only
--   statements recorded for the calling role (current_user) are planned, and only on tables the
--   caller owns (membership in the owner role, what CREATE STATISTICS requires). Other candidates
--   are listed unverified (severity info) with the reason: "not verified: recorded for role X;
--   only X can verify it", "not verified: table owned by X", "not verified: the constants were
--   not recorded", "not verified: over the limit of N candidates per call".
--   Other roles' constants are hidden anyway (see optimizer.predicate_entries).
--
-- Severity:
--   warning  verified, error before >= 10 and error after at least 2x smaller
--   info     verified with a smaller improvement, or not verified (the reason is in evidence)
--
-- Thresholds: q-error >= 10 (MIN_QERROR), SET STATISTICS 1000 (NEW_TARGET), skew ratio 10,
-- improvement >= 1.5x (MIN_GAIN),
-- max_candidates 5 by default (<= 0: verify nothing, list candidates unverified).

CREATE FUNCTION @extschema@.statistics_advice(max_candidates int DEFAULT 5)
RETURNS TABLE(table_name regclass, columns text[], kind text, estimate_error_before float8,
              estimate_error_after float8, queryid bigint, severity text, evidence text,
              recommendation text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    MIN_QERROR  constant float8 := 10;
    NEW_TARGET  constant int := 1000;
    SKEW_RATIO  constant float8 := 10;
    MIN_GAIN    constant float8 := 1.5;
    me          oid := (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = current_user);
    c           record;
    verified    int := 0;
    probe       text;
    ddl         text;
    stxname     text;
    est_before  float8;
    est_after   float8;
    plan        json;
    actual      float8;
    why         text;
BEGIN
    FOR c IN
        WITH s AS (          -- misestimated scans of this database's tables
            SELECT e.userid, e.queryid, e.sig, e.root_relid AS relid,
                   e.figures[2] / NULLIF(e.figures[1], 0) AS actual_rows,
                   e.figures[5] / NULLIF(e.figures[1], 0) AS estimated_rows,
                   e.figures[7] AS max_qerror
              FROM @extschema@.predicate_entries e
             WHERE e.kind = 'scan' AND e.counts[3] > 0 AND e.figures[7] >= MIN_QERROR
               AND e.root_relid IS NOT NULL
        ), q AS (            -- their AND-ed comparison quals against a value
            SELECT s.userid, s.queryid, s.sig, s.relid, s.actual_rows, s.estimated_rows, s.max_qerror,
                   p.attnums[1] AS attnum, p.column_names[1] AS col, p.effective_opno AS opno,
                   op.oprname, op.oprright, opn.nspname AS oprnsp, p.constants[1] AS val
              FROM s
              JOIN @extschema@.predicate_entries p
                ON p.node_sig = s.sig AND p.queryid IS NOT DISTINCT FROM s.queryid AND p.userid = s.userid
              JOIN pg_catalog.pg_operator op ON op.oid = p.effective_opno
              JOIN pg_catalog.pg_namespace opn ON opn.oid = op.oprnamespace
             WHERE p.kind = 'qual' AND p.op_kind = 'op' AND p.rhs = 'value' AND NOT p.negated
               AND p.or_group IS NULL AND pg_catalog.cardinality(p.attnums) = 1
               AND p.column_names[1] IS NOT NULL
               AND op.oprname IN ('=', '<', '<=', '>', '>=')
        ), g AS (            -- one row per scan: its columns and probe quals
            SELECT q.userid, q.queryid, q.sig, q.relid, q.actual_rows, q.estimated_rows, q.max_qerror,
                   pg_catalog.array_agg(DISTINCT q.col ORDER BY q.col) AS cols,
                   pg_catalog.array_agg(DISTINCT q.attnum ORDER BY q.attnum) AS attnums,
                   pg_catalog.bool_and(q.oprname = '=') AS all_eq,
                   pg_catalog.bool_and(q.val IS NOT NULL) AS have_values,
                   pg_catalog.string_agg(pg_catalog.format('%I OPERATOR(%I.%s) %L::%s', q.col, q.oprnsp,
                                         q.oprname, q.val, pg_catalog.format_type(q.oprright, NULL)),
                                         ' AND ' ORDER BY q.col, q.oprname) AS where_clause
              FROM q
             GROUP BY q.userid, q.queryid, q.sig, q.relid, q.actual_rows, q.estimated_rows, q.max_qerror
        ), cand AS (
            SELECT g.*, cl.relowner,
                   CASE WHEN pg_catalog.cardinality(g.cols) >= 2 THEN 'create statistics'
                        ELSE 'set statistics' END AS ckind
              FROM g
              JOIN pg_catalog.pg_class cl ON cl.oid = g.relid AND cl.relkind IN ('r', 'm')
               AND cl.oid >= 16384::oid   -- not the system catalogs
             WHERE (pg_catalog.cardinality(g.cols) >= 2
                    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_statistic_ext x
                                     WHERE x.stxrelid = g.relid
                                       AND x.stxkeys::int2[] @> g.attnums::int2[]))
                OR (pg_catalog.cardinality(g.cols) = 1 AND g.all_eq
                    AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                                  JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace
                                  JOIN pg_catalog.pg_stats st
                                    ON st.schemaname = n.nspname AND st.tablename = cl.relname
                                   AND st.attname = a.attname
                                 WHERE a.attrelid = g.relid AND a.attnum = g.attnums[1]
                                   AND a.attstattarget = -1
                                   AND st.most_common_freqs IS NOT NULL
                                   AND (st.most_common_freqs[1] >= SKEW_RATIO *
                                          st.most_common_freqs[pg_catalog.cardinality(st.most_common_freqs)]
                                        OR pg_catalog.cardinality(st.most_common_freqs) >=
                                          pg_catalog.current_setting('default_statistics_target')::int)))
        )
        SELECT DISTINCT ON (cand.relid, cand.cols) cand.*
          FROM cand
         ORDER BY cand.relid, cand.cols, (cand.userid = me) DESC, cand.have_values DESC,
                  cand.max_qerror DESC
    LOOP
        table_name := c.relid::regclass;
        columns := c.cols;
        kind := c.ckind;
        queryid := c.queryid;
        actual := GREATEST(coalesce(c.actual_rows, 0), 1);
        estimate_error_before := NULL;
        estimate_error_after := NULL;
        IF c.ckind = 'create statistics' THEN
            stxname := pg_catalog.left(pg_catalog.format('%s_%s_stats',
                           (SELECT relname FROM pg_catalog.pg_class WHERE oid = c.relid),
                           pg_catalog.array_to_string(c.cols, '_')), 63);
            ddl := pg_catalog.format('CREATE STATISTICS %I.%I (dependencies, ndistinct, mcv) ON %s FROM %s',
                       (SELECT n.nspname FROM pg_catalog.pg_class k
                          JOIN pg_catalog.pg_namespace n ON n.oid = k.relnamespace WHERE k.oid = c.relid),
                       stxname,
                       (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(x), ', ') FROM pg_catalog.unnest(c.cols) x),
                       c.relid::regclass);
        ELSE
            ddl := pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I SET STATISTICS %s',
                       c.relid::regclass, c.cols[1], NEW_TARGET);
        END IF;
        recommendation := ddl || '; ' ||
            pg_catalog.format('ANALYZE %s (%s);', c.relid::regclass,
                (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(x), ', ') FROM pg_catalog.unnest(c.cols) x));

        why := CASE
            WHEN c.userid IS DISTINCT FROM me THEN
                pg_catalog.format('not verified: recorded for role %s; only %1$s can verify it',
                    coalesce((SELECT r.rolname::text FROM pg_catalog.pg_roles r WHERE r.oid = c.userid),
                             'oid ' || c.userid))
            WHEN NOT pg_catalog.pg_has_role(c.relowner, 'USAGE') THEN
                pg_catalog.format('not verified: table owned by %s; only its owner can create statistics',
                    (SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.oid = c.relowner))
            WHEN NOT c.have_values THEN 'not verified: the constants of its quals were not recorded'
            WHEN verified >= GREATEST(max_candidates, 0) THEN
                pg_catalog.format('not verified: over the limit of %s candidates per call', GREATEST(max_candidates, 0))
            END;

        IF why IS NULL THEN
            verified := verified + 1;
            probe := pg_catalog.format('SELECT 1 FROM %s WHERE %s', c.relid::regclass, c.where_clause);
            BEGIN
                EXECUTE 'EXPLAIN (FORMAT JSON) ' || probe INTO plan;
                est_before := (plan -> 0 -> 'Plan' ->> 'Plan Rows')::float8;
                EXECUTE ddl;
                EXECUTE pg_catalog.format('ANALYZE %s (%s)', c.relid::regclass,
                    (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(x), ', ') FROM pg_catalog.unnest(c.cols) x));
                EXECUTE 'EXPLAIN (FORMAT JSON) ' || probe INTO plan;
                est_after := (plan -> 0 -> 'Plan' ->> 'Plan Rows')::float8;
                RAISE EXCEPTION USING ERRCODE = 'PO015', MESSAGE = 'statistics_advice: roll back the trial';
            EXCEPTION
                WHEN SQLSTATE 'PO015' THEN NULL;   -- the trial is undone, the estimates are kept
                WHEN query_canceled THEN RAISE;
                WHEN OTHERS THEN
                    why := 'not verified: ' || SQLERRM;
            END;
        END IF;

        IF why IS NOT NULL THEN
            severity := 'info';
            evidence := pg_catalog.format('%s; recorded: estimated %s rows, actual %s (q-error up to %s) on %s',
                why, pg_catalog.round(coalesce(c.estimated_rows, 0)::numeric, 1),
                pg_catalog.round(coalesce(c.actual_rows, 0)::numeric, 1),
                pg_catalog.round(c.max_qerror::numeric, 1),
                pg_catalog.array_to_string(c.cols, ', '));
            RETURN NEXT;
            CONTINUE;
        END IF;

        est_before := GREATEST(coalesce(est_before, 1), 1);
        est_after := GREATEST(coalesce(est_after, 1), 1);
        estimate_error_before := GREATEST(est_before / actual, actual / est_before);
        estimate_error_after := GREATEST(est_after / actual, actual / est_after);
        -- no real improvement (e.g. a fresh ANALYZE already fixed the estimate): no finding
        CONTINUE WHEN estimate_error_after * MIN_GAIN > estimate_error_before;

        severity := CASE WHEN estimate_error_before >= MIN_QERROR
                          AND estimate_error_after * 2 <= estimate_error_before THEN 'warning' ELSE 'info' END;
        evidence := pg_catalog.format(
            '%s rows recorded (per loop) where %s were estimated; the probe "%s" is estimated at %s rows (error %sx) now, %s rows (error %sx, %sx better) with %s and ANALYZE (tried and rolled back)',
            pg_catalog.round(actual::numeric, 1), pg_catalog.round(coalesce(c.estimated_rows, 0)::numeric, 1),
            probe, est_before, pg_catalog.round(estimate_error_before::numeric, 1),
            est_after, pg_catalog.round(estimate_error_after::numeric, 1),
            pg_catalog.round((estimate_error_before / estimate_error_after)::numeric, 1),
            CASE c.ckind WHEN 'create statistics' THEN 'the statistics object'
                         ELSE 'statistics target ' || NEW_TARGET END);
        RETURN NEXT;
    END LOOP;
END
$fn$;

COMMENT ON FUNCTION @extschema@.statistics_advice(int) IS
  'CREATE STATISTICS for column groups and higher statistics targets for skewed columns behind recorded misestimates, each tried in a rolled-back subtransaction (one ANALYZE per candidate, at most max_candidates) and reported with the estimate error before and after';

GRANT EXECUTE ON FUNCTION @extschema@.statistics_advice(int) TO PUBLIC;
