-- partition_advice: which large tables the recorded workload would have partitioned by range, on
-- which column and with which interval, and the evidence, measured with the planner.
--
--     SELECT * FROM optimizer.partition_advice();                        -- tables of 1 GB or more
--     SELECT * FROM optimizer.partition_advice(min_size => '200MB', min_share => 0.8);
--
-- One row per table:
--   * ordinary tables of the current database (not partitioned, not a partition, no inheritance,
--     not temporary, not an extension's, not in pg_catalog / information_schema) of at least
--     min_size (pg_total_relation_size), that the caller may SELECT from;
--   * the column: one plain column of type timestamptz, timestamp or date, or an integer column
--     that counts up (identity, serial default, or pg_stats correlation >= 0.9), on which at least
--     min_share of the table's recorded filtering statements have a range qual (<, <=, >, >=;
--     BETWEEN is two of them), each statement weighted by its executions; quals inside an OR are
--     not counted. The column with the largest share wins;
--   * the interval comes from the column's value span: pg_stats (histogram bounds and most common
--     values); without statistics, min() and max() through a btree index on the column, only when
--     EXPLAIN shows both ends read from the index (never a table scan); with neither, the row says
--     to ANALYZE and suggests nothing. Time: the coarsest of yearly, quarterly, monthly, weekly,
--     daily, hourly that gives at least 20 partitions over the span (so 20 to about 480; aligned
--     like date_trunc in the session's time zone, as partition_table does by default). Integers:
--     a 1-2-5 step giving 40 to 100;
--   * the evidence is planned, not guessed: an empty temporary table with the key column alone
--     (same name and type; pruning depends on nothing else, and no other column's type, default,
--     constraint or user code comes along, which LIKE could bring), partitioned by range with those
--     partitions over the span (at most 1000, the newest kept), the current period and 4 ahead of
--     it (premake; integers: 4 steps beyond the largest value) and a default partition, as
--     partition_table would leave it. Each recorded statement's quals on the column are rebuilt
--     with its sampled constants and planned with EXPLAIN on the clone; the partitions in the plan
--     are counted. The clone is dropped at the end, and on any error with the
--     subtransaction that made it (a read-only transaction gets the rows, with that reason).
--
-- Columns: table_name, column_name, suggested_interval (an interval word, or an integer step),
-- table_size, statements (filtering statements with a range qual on the column), range_share (their
-- share of the table's filtering statements, by executions), partitions (the clone's, default
-- included), evidence, suggested_call (a partition_table call, every name a quoted literal;
-- followed on the same line by '-- first: ...' when partition_table would refuse to convert the
-- table as it is: row-level security, a typed table, foreign keys to it, views on it, triggers,
-- identity columns, rules, unique constraints without the column; the same checks as
-- check_convertible in src/api/partitions.rs).
--
-- Evidence (jsonb array, the statements with the most executions first, at most 50) holds one
-- object per filtering statement of the table:
--   queryid, query (optimizer.statements; NULL or '<insufficient privilege>' as that view shows it),
--   executions, predicate (the quals as planned), partitions_scanned (the most any of its sampled
--   constant sets scans), partitions_total, samples (constant sets planned), reason (why it was not
--   measured, or a note; NULL otherwise).
-- The sampled constants of each qual are kept independently (a reservoir per qual), so a lower and
-- an upper bound are paired nearest-first: each lower bound with the smallest upper bound at or
-- above it, and each upper bound with the largest lower bound at or below it.
-- Equality and IN-list quals on the column are planned too (alone: they bound the scan). A
-- statement without recorded constants for the column (compared to now() - interval '1 day', an
-- IN list, whose values are not sampled, or constant capture off) is listed with
-- partitions_scanned NULL and the reason. A statement that filters the table without a qual on the
-- column scans every partition (planned once without a qual).
--
-- Runs with the rights of the caller and reads only what the caller may see: statements of other
-- users count only when the caller may read all statistics (their query ids are hidden otherwise),
-- and tables the caller cannot SELECT from are skipped. No user code runs: the clone has one column
-- of a built-in type, the planned quals use built-in btree operators (OID < 16384) and literals
-- cast to built-in types; min()/max() are read from the table only when it has no row-level
-- security, no index expression or predicate and no expression statistics (whose expressions the
-- planner would evaluate).

CREATE FUNCTION @extschema@.partition_advice(min_size text DEFAULT '1GB', min_share float8 DEFAULT 0.5)
RETURNS TABLE (table_name regclass, column_name text, suggested_interval text, table_size text,
               statements bigint, range_share float8, partitions int, evidence jsonb,
               suggested_call text)
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY INVOKER
AS $fn$
#variable_conflict use_column
DECLARE
    premake      constant int := 4;      -- partitions ahead of the newest value, as suggested
    max_parts    constant int := 1000;   -- cap on the clone's range partitions
    max_evidence constant int := 50;     -- statements planned per table
    max_samples  constant int := 8;      -- constant sets planned per statement
    clone        constant text := 'pg_optimizer_partition_advice';
    min_bytes    bigint;
    cand         record;
    typ          text;       -- the column's type as format_type writes it (built-in: keywords)
    is_time      boolean;
    is_date      boolean;
    work_typ     text;       -- the type partition bounds are computed in
    hist         text;
    mcv          text;
    lo           text;       -- value span, as text of the column's type
    hi           text;
    span         float8;     -- seconds (time) or values (integer)
    iv           record;
    no_span      text;       -- why no partitions could be laid out
    blockers     text;       -- what partition_table would refuse to convert
    iv_name      text;
    iv_unit      text;
    iv_step      text;
    int_step     numeric;
    typ_min      numeric;
    typ_max      numeric;
    froms        text[];
    tos          text[];
    n_parts      int;
    all_scanned  int;
    ev           jsonb;
    ev_item      jsonb;
    stmt         jsonb;
    qual         jsonb;
    c            text;
    lit          text;
    shown        text;
    k            float8;
    qtexts       jsonb;
    -- per statement
    lo_sql text[]; lo_txt text[]; lo_key float8[];
    hi_sql text[]; hi_txt text[]; hi_key float8[];
    pr_sql text[]; pr_txt text[];
    missing      boolean;    -- a qual on the column without recorded constants
    missing_list boolean;    -- an IN list on the column (never sampled)
    best_i       int;
    bi           int;
    scanned      int;
    max_scanned  int;
    plan         jsonb;
    reason       text;
    err          text;
    i            int;
    j            int;
BEGIN
    IF min_size IS NULL OR min_share IS NULL THEN
        RAISE EXCEPTION 'partition_advice: arguments must not be NULL'
              USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF min_share < 0 OR min_share > 1 OR min_share = 'NaN'::float8 THEN
        RAISE EXCEPTION 'partition_advice: min_share must be between 0 and 1, not %', min_share
              USING ERRCODE = 'invalid_parameter_value',
                    HINT = 'It is the share of a table''s filtering statements (weighted by executions) that must have a range qual on the column.';
    END IF;
    min_bytes := pg_catalog.pg_size_bytes(min_size);   -- '1GB', '500 MB', '1048576' (22023 otherwise)
    IF min_bytes < 0 THEN
        RAISE EXCEPTION 'partition_advice: min_size must not be negative'
              USING ERRCODE = 'invalid_parameter_value';
    END IF;

    FOR cand IN
        WITH q AS (   -- quals of statements the caller may see (others' query ids read NULL)
            SELECT e.root_relid AS relid, e.queryid, e.attnums, e.expression, e.op_kind, e.negated,
                   e.or_group, e.rhs, e.effective_opno AS opno, e.counts[1] AS executions, e.constants
              FROM @extschema@.predicate_entries e
             WHERE e.kind = 'qual' AND e.queryid IS NOT NULL AND e.root_relid IS NOT NULL
               AND e.rhs IS DISTINCT FROM 'join column'
               AND e.place IS DISTINCT FROM 'hash cond' AND e.place IS DISTINCT FROM 'merge cond'
        ), t AS (     -- candidate tables
            SELECT cl.oid AS relid, cl.relname, n.nspname, pg_catalog.pg_total_relation_size(cl.oid) AS bytes
              FROM pg_catalog.pg_class cl
              JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace
             WHERE cl.oid IN (SELECT q.relid FROM q)
               AND cl.relkind = 'r' AND NOT cl.relispartition AND cl.relpersistence <> 't'
               AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits inh
                                WHERE inh.inhrelid = cl.oid OR inh.inhparent = cl.oid)
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                                WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                  AND d.objid = cl.oid AND d.deptype = 'e')
               AND pg_catalog.has_table_privilege(cl.oid, 'SELECT')
        ), big AS (
            SELECT t.* FROM t WHERE t.bytes >= min_bytes
        ), s AS (     -- filtering statements per table, weighted by executions
            SELECT q.relid, q.queryid, pg_catalog.max(q.executions) AS weight
              FROM q JOIN big USING (relid)
             GROUP BY q.relid, q.queryid
        ), cq AS (    -- their quals on one plain column of a partitionable type, built-in btree operator
            SELECT q.relid, q.queryid, q.attnums[1] AS attnum, st.strategy, q.op_kind, o.oprname,
                   pg_catalog.format_type(o.oprright, NULL) AS rtype, q.constants
              FROM q JOIN big USING (relid)
              JOIN pg_catalog.pg_attribute a ON a.attrelid = q.relid AND a.attnum = q.attnums[1] AND NOT a.attisdropped
              JOIN pg_catalog.pg_operator o ON o.oid = q.opno
             CROSS JOIN LATERAL (
                   SELECT pg_catalog.min(ao.amopstrategy) AS strategy
                     FROM pg_catalog.pg_amop ao JOIN pg_catalog.pg_am am ON am.oid = ao.amopmethod
                    WHERE ao.amopopr = o.oid AND am.amname = 'btree' AND ao.amoppurpose = 's'
                      AND ao.amoplefttype = a.atttypid) st
             WHERE pg_catalog.cardinality(q.attnums) = 1 AND q.expression IS NULL
               AND NOT q.negated AND q.or_group IS NULL AND q.rhs IN ('value', 'computed')
               AND a.atttypid IN ('pg_catalog.timestamptz'::pg_catalog.regtype, 'pg_catalog.timestamp'::pg_catalog.regtype,
                                  'pg_catalog.date'::pg_catalog.regtype, 'pg_catalog.int2'::pg_catalog.regtype,
                                  'pg_catalog.int4'::pg_catalog.regtype, 'pg_catalog.int8'::pg_catalog.regtype)
               AND o.oid < 16384 AND st.strategy IS NOT NULL
               AND (q.op_kind = 'op' OR (q.op_kind = 'any' AND st.strategy = 3))
        ), rc AS (    -- statements with a range qual on a column
            SELECT DISTINCT cq.relid, cq.attnum, cq.queryid
              FROM cq WHERE cq.op_kind = 'op' AND cq.strategy IN (1, 2, 4, 5)
        ), col AS (
            SELECT rc.relid, rc.attnum, pg_catalog.count(*) AS n,
                   pg_catalog.sum(s.weight)::float8 / tot.weight AS share
              FROM rc JOIN s USING (relid, queryid)
              JOIN (SELECT s2.relid, pg_catalog.sum(s2.weight)::float8 AS weight FROM s s2 GROUP BY s2.relid) tot
                   USING (relid)
             WHERE tot.weight > 0
             GROUP BY rc.relid, rc.attnum, tot.weight
        ), best AS (
            SELECT DISTINCT ON (col.relid) col.relid, col.attnum, col.n, col.share, a.attname,
                   a.atttypid, pg_catalog.format_type(a.atttypid, a.atttypmod) AS typ
              FROM col
              JOIN big USING (relid)
              JOIN pg_catalog.pg_attribute a ON a.attrelid = col.relid AND a.attnum = col.attnum
             WHERE col.share >= min_share
               AND (a.atttypid NOT IN ('pg_catalog.int2'::pg_catalog.regtype, 'pg_catalog.int4'::pg_catalog.regtype,
                                       'pg_catalog.int8'::pg_catalog.regtype)
                    OR a.attidentity <> ''
                    OR EXISTS (SELECT 1 FROM pg_catalog.pg_attrdef ad
                                WHERE ad.adrelid = col.relid AND ad.adnum = col.attnum
                                  AND pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) LIKE 'nextval(%')
                    OR (SELECT ps.correlation FROM pg_catalog.pg_stats ps
                         WHERE ps.schemaname = big.nspname AND ps.tablename = big.relname
                           AND ps.attname = a.attname AND NOT ps.inherited) >= 0.9)
             ORDER BY col.relid, col.share DESC, col.n DESC, col.attnum
        )
        SELECT best.relid, big.nspname, big.relname, big.bytes, best.attnum, best.attname::text AS attname,
               best.atttypid, best.typ, best.n, best.share,
               (SELECT pg_catalog.jsonb_agg(x.item ORDER BY x.weight DESC, x.queryid)
                  FROM (SELECT s.weight, s.queryid,
                               pg_catalog.jsonb_build_object(
                                   'queryid', s.queryid, 'executions', s.weight,
                                   'quals', (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                                                        'strategy', cq.strategy, 'op_kind', cq.op_kind,
                                                        'oprname', cq.oprname, 'rtype', cq.rtype,
                                                        'constants', pg_catalog.to_jsonb(cq.constants)))
                                               FROM cq
                                              WHERE cq.relid = s.relid AND cq.queryid = s.queryid
                                                AND cq.attnum = best.attnum)) AS item
                          FROM s WHERE s.relid = best.relid
                         ORDER BY s.weight DESC, s.queryid
                         LIMIT max_evidence) x) AS stmts
          FROM best JOIN big USING (relid)
         ORDER BY big.bytes DESC, best.relid
    LOOP
        typ := cand.typ;
        is_date := cand.atttypid = 'pg_catalog.date'::pg_catalog.regtype;
        is_time := is_date OR cand.atttypid IN ('pg_catalog.timestamptz'::pg_catalog.regtype,
                                                'pg_catalog.timestamp'::pg_catalog.regtype);
        work_typ := CASE WHEN cand.atttypid = 'pg_catalog.timestamptz'::pg_catalog.regtype
                         THEN 'timestamp with time zone' WHEN is_time THEN 'timestamp without time zone'
                         ELSE 'numeric' END;

        -- Query texts of the statements listed, read once.
        SELECT pg_catalog.jsonb_object_agg(x.queryid::text, x.query) INTO qtexts
          FROM (SELECT DISTINCT ON (st.queryid) st.queryid, st.query
                  FROM @extschema@.statements st
                 WHERE st.dbid = (SELECT d.oid FROM pg_catalog.pg_database d
                                   WHERE d.datname = pg_catalog.current_database())
                   AND st.queryid IN (SELECT (e->>'queryid')::bigint
                                        FROM pg_catalog.jsonb_array_elements(cand.stmts) e)
                 ORDER BY st.queryid, st.toplevel DESC, st.calls DESC) x;

        -- 1. The value span: statistics first, then min()/max() through a btree index.
        lo := NULL; hi := NULL;
        SELECT ps.histogram_bounds::text, ps.most_common_vals::text INTO hist, mcv
          FROM pg_catalog.pg_stats ps
         WHERE ps.schemaname = cand.nspname AND ps.tablename = cand.relname
           AND ps.attname = cand.attname AND NOT ps.inherited;
        IF hist IS NOT NULL OR mcv IS NOT NULL THEN
            EXECUTE pg_catalog.format(
                'SELECT pg_catalog.min(v)::text, pg_catalog.max(v)::text
                   FROM pg_catalog.unnest(pg_catalog.array_cat($1::%1$s[], $2::%1$s[])) AS v
                  WHERE v IS NOT NULL %2$s',
                typ, CASE WHEN is_time THEN 'AND pg_catalog.isfinite(v)' ELSE '' END)
               INTO lo, hi USING hist, mcv;
        END IF;
        IF lo IS NULL
           AND NOT (SELECT cl.relrowsecurity FROM pg_catalog.pg_class cl WHERE cl.oid = cand.relid)
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index x
                            WHERE x.indrelid = cand.relid AND (x.indexprs IS NOT NULL OR x.indpred IS NOT NULL))
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_statistic_ext se
                            WHERE se.stxrelid = cand.relid AND se.stxexprs IS NOT NULL)
           AND EXISTS (SELECT 1 FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class ic ON ic.oid = x.indexrelid
                         JOIN pg_catalog.pg_am am ON am.oid = ic.relam
                        WHERE x.indrelid = cand.relid AND x.indkey[0] = cand.attnum
                          AND x.indisvalid AND am.amname = 'btree') THEN
            BEGIN
                lit := pg_catalog.format('SELECT pg_catalog.min(%1$I)::text, pg_catalog.max(%1$I)::text FROM ONLY %2$I.%3$I %4$s',
                                         cand.attname, cand.nspname, cand.relname,
                                         CASE WHEN is_time THEN pg_catalog.format('WHERE pg_catalog.isfinite(%I)', cand.attname) ELSE '' END);
                -- Only when the planner reads both ends from the index: never a scan of the table.
                EXECUTE 'EXPLAIN (FORMAT JSON, COSTS OFF) ' || lit INTO plan;
                IF NOT pg_catalog.jsonb_path_exists(plan, 'strict $.**."Node Type" ? (@ == "Seq Scan" || @ == "Bitmap Heap Scan")') THEN
                    EXECUTE lit INTO lo, hi;
                END IF;
            EXCEPTION WHEN OTHERS THEN
                lo := NULL; hi := NULL;
            END;
        END IF;

        table_name := cand.relid::pg_catalog.regclass;
        column_name := cand.attname;
        table_size := pg_catalog.pg_size_pretty(cand.bytes);
        statements := cand.n;
        range_share := pg_catalog.round(cand.share::numeric, 3)::float8;

        -- 2. The interval, and the clone's bounds (oldest first, at most max_parts kept, newest last):
        --    time: the periods over the span, and the current one with premake ahead of it (as
        --    partition_table makes them: ahead of now, not of the data); integers: the steps over
        --    the span and premake beyond the largest value.
        no_span := NULL;
        IF lo IS NULL OR hi IS NULL THEN
            no_span := pg_catalog.format('no statistics on %I to size partitions with: run ANALYZE %I.%I',
                                         cand.attname, cand.nspname, cand.relname);
        ELSE
            BEGIN
                IF is_time THEN
                    EXECUTE pg_catalog.format('SELECT EXTRACT(EPOCH FROM $2::%1$s)::float8 - EXTRACT(EPOCH FROM $1::%1$s)::float8', typ)
                       INTO span USING lo, hi;
                    FOR iv IN
                        SELECT v.name, v.unit, v.step, v.secs
                          FROM (VALUES (1, 'yearly', 'year', '1 year', 31557600.0),
                                       (2, 'quarterly', 'quarter', '3 months', 7889400.0),
                                       (3, 'monthly', 'month', '1 month', 2629800.0),
                                       (4, 'weekly', 'week', '1 week', 604800.0),
                                       (5, 'daily', 'day', '1 day', 86400.0),
                                       (6, 'hourly', 'hour', '1 hour', 3600.0)) AS v(ord, name, unit, step, secs)
                         WHERE NOT (is_date AND v.name = 'hourly')
                         ORDER BY v.ord
                    LOOP
                        iv_name := iv.name; iv_unit := iv.unit; iv_step := iv.step;
                        EXIT WHEN span / iv.secs >= 20;
                    END LOOP;
                    EXECUTE pg_catalog.format(
                        'SELECT pg_catalog.array_agg(pg_catalog.quote_literal(b::%1$s) ORDER BY b),
                                pg_catalog.array_agg(pg_catalog.quote_literal((b + $3::interval)::%1$s) ORDER BY b)
                           FROM (SELECT u.b
                                   FROM (SELECT pg_catalog.generate_series(pg_catalog.date_trunc($4, $1::%2$s),
                                                                           $2::%2$s, $3::interval) AS b
                                         UNION
                                         SELECT pg_catalog.generate_series(pg_catalog.date_trunc($4, pg_catalog.now()::%2$s),
                                                                           pg_catalog.now()::%2$s + $3::interval * $5,
                                                                           $3::interval)) AS u
                                  ORDER BY u.b DESC LIMIT $6) AS x',
                        typ, work_typ)
                       INTO froms, tos USING lo, hi, iv_step, iv_unit, premake, max_parts;
                ELSE
                    span := hi::numeric - lo::numeric;
                    -- A 1-2-5 step of at least span / 100: 40 to 100 partitions over the span.
                    int_step := 1;
                    WHILE int_step * 100 < span LOOP
                        IF int_step * 200 >= span THEN int_step := int_step * 2;
                        ELSIF int_step * 500 >= span THEN int_step := int_step * 5;
                        ELSE int_step := int_step * 10;
                        END IF;
                    END LOOP;
                    iv_name := int_step::text;
                    typ_max := CASE cand.atttypid WHEN 'pg_catalog.int2'::pg_catalog.regtype THEN 32767
                                                  WHEN 'pg_catalog.int4'::pg_catalog.regtype THEN 2147483647
                                                  ELSE 9223372036854775807 END;
                    typ_min := -typ_max - 1;
                    SELECT pg_catalog.array_agg(CASE WHEN b < typ_min THEN 'MINVALUE' ELSE b::text END ORDER BY b),
                           pg_catalog.array_agg(CASE WHEN b + int_step > typ_max THEN 'MAXVALUE' ELSE (b + int_step)::text END ORDER BY b)
                      INTO froms, tos
                      FROM (SELECT b FROM pg_catalog.generate_series(pg_catalog.floor(lo::numeric / int_step) * int_step,
                                                                     hi::numeric + int_step * premake, int_step) AS b
                             WHERE b <= typ_max
                             ORDER BY b DESC LIMIT max_parts) AS x;
                END IF;
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS err = MESSAGE_TEXT;
                no_span := pg_catalog.format('could not lay out partitions from %s to %s: %s', lo, hi, err);
            END;
        END IF;

        IF no_span IS NOT NULL THEN
            -- Nothing to size partitions with: say so, list the statements.
            suggested_interval := NULL;
            partitions := NULL;
            suggested_call := NULL;
            SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                       'queryid', e->'queryid', 'query', qtexts->(e->>'queryid'), 'executions', e->'executions',
                       'predicate', NULL, 'partitions_scanned', NULL, 'partitions_total', NULL, 'samples', 0,
                       'reason', no_span)
                       ORDER BY o)
              INTO evidence
              FROM pg_catalog.jsonb_array_elements(cand.stmts) WITH ORDINALITY AS x(e, o);
            RETURN NEXT;
            CONTINUE;
        END IF;

        n_parts := COALESCE(pg_catalog.cardinality(froms), 0) + 1;   -- and the default partition

        suggested_interval := iv_name;
        partitions := n_parts;
        suggested_call := pg_catalog.format('SELECT * FROM @extschema@.partition_table(%L, %L, %L, premake => %s);',
                                            pg_catalog.format('%I.%I', cand.nspname, cand.relname),
                                            cand.attname, iv_name, premake);
        -- What partition_table refuses to convert (the checks of src/api/partitions.rs,
        -- check_convertible), as a comment after the call: what to change first.
        SELECT pg_catalog.string_agg(b.what, '; ' ORDER BY b.ord) INTO blockers
          FROM (SELECT 1 AS ord, 'disable row-level security (enable it again after)' AS what
                  FROM pg_catalog.pg_class cl WHERE cl.oid = cand.relid AND cl.relrowsecurity
                UNION ALL
                SELECT 2, 'a typed table (OF type): convert it by hand'
                  FROM pg_catalog.pg_class cl WHERE cl.oid = cand.relid AND cl.reloftype <> 0
                UNION ALL
                SELECT 3, 'drop the foreign keys to it (' || pg_catalog.string_agg(pg_catalog.format('%I on %s', co.conname, co.conrelid::pg_catalog.regclass), ', ') || '), create them again after'
                  FROM pg_catalog.pg_constraint co WHERE co.confrelid = cand.relid AND co.contype = 'f'
                HAVING pg_catalog.count(*) > 0
                UNION ALL
                SELECT 4, 'drop the views on it (' || pg_catalog.string_agg(DISTINCT r.ev_class::pg_catalog.regclass::text, ', ') || '), create them again after'
                  FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
                 WHERE d.refobjid = cand.relid AND d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND r.ev_class <> cand.relid
                HAVING pg_catalog.count(*) > 0
                UNION ALL
                SELECT 5, 'drop its triggers (' || pg_catalog.string_agg(pg_catalog.quote_ident(tg.tgname), ', ') || '), create them again after'
                  FROM pg_catalog.pg_trigger tg WHERE tg.tgrelid = cand.relid AND NOT tg.tgisinternal
                HAVING pg_catalog.count(*) > 0
                UNION ALL
                SELECT 6, 'turn its identity columns (' || pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ') || ') into nextval() defaults'
                  FROM pg_catalog.pg_attribute a WHERE a.attrelid = cand.relid AND a.attidentity <> '' AND NOT a.attisdropped
                HAVING pg_catalog.count(*) > 0
                UNION ALL
                SELECT 7, 'drop its rules (' || pg_catalog.string_agg(pg_catalog.quote_ident(ru.rulename), ', ') || ')'
                  FROM pg_catalog.pg_rewrite ru WHERE ru.ev_class = cand.relid AND ru.rulename <> '_RETURN'
                HAVING pg_catalog.count(*) > 0
                UNION ALL
                SELECT 8, pg_catalog.format('add %I to %s (a partitioned table''s unique constraints include its key) or drop them',
                                            cand.attname, pg_catalog.string_agg(pg_catalog.quote_ident(co.conname), ', '))
                  FROM pg_catalog.pg_constraint co
                 WHERE co.conrelid = cand.relid AND co.contype IN ('p', 'u', 'x') AND NOT cand.attnum = ANY (co.conkey)
                HAVING pg_catalog.count(*) > 0) AS b;
        IF blockers IS NOT NULL THEN
            -- One line: a name with a line break must not end the comment.
            suggested_call := suggested_call || '  -- first: ' || pg_catalog.translate(blockers, E'\n\r', '  ');
        END IF;

        -- 3. The clone, and each statement planned on it.
        ev := '[]'::jsonb;
        BEGIN
            EXECUTE pg_catalog.format('CREATE TEMPORARY TABLE %I (%I %s) PARTITION BY RANGE (%I)',
                                      clone, cand.attname, cand.typ, cand.attname);
            FOR i IN 1 .. COALESCE(pg_catalog.cardinality(froms), 0) LOOP
                EXECUTE pg_catalog.format('CREATE TEMPORARY TABLE %I PARTITION OF pg_temp.%I FOR VALUES FROM (%s) TO (%s)',
                                          clone || '_' || i, clone, froms[i], tos[i]);
            END LOOP;
            EXECUTE pg_catalog.format('CREATE TEMPORARY TABLE %I PARTITION OF pg_temp.%I DEFAULT', clone || '_default', clone);

            -- Without a qual on the column, every partition.
            EXECUTE pg_catalog.format('EXPLAIN (FORMAT JSON, COSTS OFF) SELECT 1 FROM pg_temp.%I', clone) INTO plan;
            SELECT pg_catalog.count(DISTINCT r #>> '{}') INTO all_scanned
              FROM pg_catalog.jsonb_path_query(plan, 'strict $.**."Relation Name"') AS r
             WHERE r #>> '{}' <> clone;

            FOR stmt IN SELECT e FROM pg_catalog.jsonb_array_elements(cand.stmts) WITH ORDINALITY AS x(e, o) ORDER BY o LOOP
                lo_sql := '{}'; lo_txt := '{}'; lo_key := '{}';
                hi_sql := '{}'; hi_txt := '{}'; hi_key := '{}';
                pr_sql := '{}'; pr_txt := '{}';
                missing := false;
                missing_list := false;
                reason := NULL;
                max_scanned := NULL;
                best_i := NULL;
                BEGIN
                    IF pg_catalog.jsonb_typeof(stmt->'quals') IS DISTINCT FROM 'array' THEN
                        -- Filters the table, but not on this column.
                        ev_item := pg_catalog.jsonb_build_object(
                            'queryid', stmt->'queryid', 'query', qtexts->(stmt->>'queryid'),
                            'executions', stmt->'executions', 'predicate', NULL,
                            'partitions_scanned', all_scanned, 'partitions_total', n_parts, 'samples', 0,
                            'reason', pg_catalog.format('no qual on %I: every partition is scanned', cand.attname));
                        ev := ev || pg_catalog.jsonb_build_array(ev_item);
                        CONTINUE;
                    END IF;
                    FOR qual IN SELECT e FROM pg_catalog.jsonb_array_elements(stmt->'quals') AS e LOOP
                        IF pg_catalog.jsonb_typeof(qual->'constants') IS DISTINCT FROM 'array'
                           OR NOT EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements_text(qual->'constants') AS z(v)
                                           WHERE z.v IS NOT NULL AND z.v <> 'NULL') THEN
                            IF qual->>'op_kind' = 'any' THEN missing_list := true; ELSE missing := true; END IF;
                            CONTINUE;
                        END IF;
                        FOR c IN SELECT DISTINCT z.v FROM pg_catalog.jsonb_array_elements_text(qual->'constants') AS z(v)
                                  WHERE z.v IS NOT NULL AND z.v <> 'NULL' LOOP
                            IF qual->>'op_kind' = 'any' THEN
                                lit := pg_catalog.format('%L::%s[]', c, qual->>'rtype');
                                pr_sql := pr_sql || pg_catalog.format('%I OPERATOR(pg_catalog.=) ANY (%s)', cand.attname, lit);
                                pr_txt := pr_txt || pg_catalog.format('%I = ANY (%L)', cand.attname, c);
                                CONTINUE;
                            END IF;
                            lit := pg_catalog.format('%L::%s', c, qual->>'rtype');
                            shown := CASE WHEN NOT is_time AND c ~ '^-?[0-9]+$' THEN c   -- an integer as such
                                          WHEN qual->>'rtype' = typ THEN pg_catalog.quote_literal(c)
                                          ELSE lit END;
                            IF (qual->>'strategy')::int = 3 THEN
                                pr_sql := pr_sql || pg_catalog.format('%I OPERATOR(pg_catalog.=) %s', cand.attname, lit);
                                pr_txt := pr_txt || pg_catalog.format('%I = %s', cand.attname, shown);
                                CONTINUE;
                            END IF;
                            EXECUTE 'SELECT ' || CASE WHEN is_time THEN 'EXTRACT(EPOCH FROM ' || lit || ')::float8'
                                                      ELSE lit || '::float8' END
                               INTO k;
                            IF (qual->>'strategy')::int IN (4, 5) THEN
                                lo_sql := lo_sql || pg_catalog.format('%I OPERATOR(pg_catalog.%s) %s', cand.attname, qual->>'oprname', lit);
                                lo_txt := lo_txt || pg_catalog.format('%I %s %s', cand.attname, qual->>'oprname', shown);
                                lo_key := lo_key || k;
                            ELSE
                                hi_sql := hi_sql || pg_catalog.format('%I OPERATOR(pg_catalog.%s) %s', cand.attname, qual->>'oprname', lit);
                                hi_txt := hi_txt || pg_catalog.format('%I %s %s', cand.attname, qual->>'oprname', shown);
                                hi_key := hi_key || k;
                            END IF;
                        END LOOP;
                    END LOOP;

                    -- Constant sets: equality and IN lists alone (they bound the scan on their own);
                    -- otherwise lower and upper bounds paired nearest-first; otherwise open ranges.
                    IF pg_catalog.cardinality(pr_sql) = 0 THEN
                        IF pg_catalog.cardinality(lo_sql) > 0 AND pg_catalog.cardinality(hi_sql) > 0 THEN
                            FOR i IN 1 .. pg_catalog.cardinality(lo_sql) LOOP
                                bi := NULL;
                                FOR j IN 1 .. pg_catalog.cardinality(hi_sql) LOOP
                                    IF hi_key[j] >= lo_key[i] AND (bi IS NULL OR hi_key[j] < hi_key[bi]) THEN bi := j; END IF;
                                END LOOP;
                                IF bi IS NOT NULL AND NOT (lo_sql[i] || ' AND ' || hi_sql[bi]) = ANY (pr_sql) THEN
                                    pr_sql := pr_sql || (lo_sql[i] || ' AND ' || hi_sql[bi]);
                                    pr_txt := pr_txt || (lo_txt[i] || ' AND ' || hi_txt[bi]);
                                END IF;
                            END LOOP;
                            FOR j IN 1 .. pg_catalog.cardinality(hi_sql) LOOP
                                bi := NULL;
                                FOR i IN 1 .. pg_catalog.cardinality(lo_sql) LOOP
                                    IF lo_key[i] <= hi_key[j] AND (bi IS NULL OR lo_key[i] > lo_key[bi]) THEN bi := i; END IF;
                                END LOOP;
                                IF bi IS NOT NULL AND NOT (lo_sql[bi] || ' AND ' || hi_sql[j]) = ANY (pr_sql) THEN
                                    pr_sql := pr_sql || (lo_sql[bi] || ' AND ' || hi_sql[j]);
                                    pr_txt := pr_txt || (lo_txt[bi] || ' AND ' || hi_txt[j]);
                                END IF;
                            END LOOP;
                        END IF;
                        IF pg_catalog.cardinality(pr_sql) = 0 THEN
                            -- One side only (or no consistent pair): each bound alone, an open range.
                            pr_sql := lo_sql || hi_sql;
                            pr_txt := lo_txt || hi_txt;
                        END IF;
                    END IF;

                    FOR i IN 1 .. LEAST(pg_catalog.cardinality(pr_sql), max_samples) LOOP
                        EXECUTE pg_catalog.format('EXPLAIN (FORMAT JSON, COSTS OFF) SELECT 1 FROM pg_temp.%I WHERE %s',
                                                  clone, pr_sql[i])
                           INTO plan;
                        SELECT pg_catalog.count(DISTINCT r #>> '{}') INTO scanned
                          FROM pg_catalog.jsonb_path_query(plan, 'strict $.**."Relation Name"') AS r
                         WHERE r #>> '{}' <> clone;
                        IF max_scanned IS NULL OR scanned > max_scanned THEN
                            max_scanned := scanned;
                            best_i := i;
                        END IF;
                    END LOOP;

                    IF best_i IS NULL THEN
                        reason := pg_catalog.format('no recorded constants for its quals on %I (%s)', cand.attname,
                                  CASE WHEN missing THEN 'compared to a value computed at run time, such as now() - interval ''1 day'', '
                                                         'or constant capture is off'
                                       ELSE 'IN lists keep no sampled values' END);
                    ELSIF missing OR missing_list THEN
                        reason := pg_catalog.format('some of its quals on %I have no recorded constants (%s): planned with the others only',
                                  cand.attname,
                                  CASE WHEN missing THEN 'values computed at run time' ELSE 'IN lists' END);
                    ELSIF n_parts > max_parts THEN
                        reason := pg_catalog.format('planned on the newest %s partitions only: older values are in the default partition',
                                                    max_parts);
                    END IF;
                    ev_item := pg_catalog.jsonb_build_object(
                        'queryid', stmt->'queryid', 'query', qtexts->(stmt->>'queryid'),
                        'executions', stmt->'executions', 'predicate', pr_txt[best_i],
                        'partitions_scanned', max_scanned, 'partitions_total', n_parts,
                        'samples', LEAST(pg_catalog.cardinality(pr_sql), max_samples), 'reason', reason);
                EXCEPTION WHEN OTHERS THEN
                    GET STACKED DIAGNOSTICS err = MESSAGE_TEXT;
                    ev_item := pg_catalog.jsonb_build_object(
                        'queryid', stmt->'queryid', 'query', qtexts->(stmt->>'queryid'),
                        'executions', stmt->'executions', 'predicate', NULL,
                        'partitions_scanned', NULL, 'partitions_total', n_parts, 'samples', 0,
                        'reason', 'could not plan its recorded constants: ' || err);
                END;
                ev := ev || pg_catalog.jsonb_build_array(ev_item);
            END LOOP;

            EXECUTE pg_catalog.format('DROP TABLE pg_temp.%I', clone);
        EXCEPTION WHEN OTHERS THEN
            -- The subtransaction is gone, and the clone with it.
            GET STACKED DIAGNOSTICS err = MESSAGE_TEXT;
            SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                       'queryid', e->'queryid', 'query', qtexts->(e->>'queryid'), 'executions', e->'executions',
                       'predicate', NULL, 'partitions_scanned', NULL, 'partitions_total', n_parts, 'samples', 0,
                       'reason', 'could not build the partitioned clone to plan on: ' || err)
                       ORDER BY o)
              INTO ev
              FROM pg_catalog.jsonb_array_elements(cand.stmts) WITH ORDINALITY AS x(e, o);
        END;
        evidence := ev;
        RETURN NEXT;
    END LOOP;
END
$fn$;

COMMENT ON FUNCTION @extschema@.partition_advice(text, float8) IS
  'Large tables whose recorded statements mostly filter by a range on one time or serial column: the column, the interval, the partition_table call, and per statement how many partitions it would scan (planned on an empty partitioned clone with its recorded constants).';
