-- Built-in maintenance actions: ANALYZE, VACUUM, REINDEX and REFRESH MATERIALIZED VIEW where the
-- statistics say they are due. Loaded after all other objects of the extension.
--
-- Every action is a plain function you can call by hand:
--
--     SELECT * FROM optimizer.analyze_stale(dry_run => true);   -- what it would do, and why
--     SELECT * FROM optimizer.analyze_stale();                  -- do it
--
-- and all of them return the same shape:
--
--     relation regclass   the table, materialized view or index acted on
--     command  text       the exact SQL statement (run it yourself if you prefer)
--     reason   text       why it is due
--     status   text       'would run' (dry run), 'done', 'failed: <message>' or 'skipped: <why>'
--
-- Functions run with the rights of the caller and only look at relations the caller may maintain
-- under the PostgreSQL 15 rules of the command (see may_maintain below), in the current database,
-- outside pg_catalog, information_schema, pg_toast and the temporary schemas of other sessions.
--
-- VACUUM and REINDEX CONCURRENTLY cannot run inside a transaction, so vacuum_needed and
-- reindex_bloated hand their commands to @extschema@.run_in_worker (a background worker running
-- as the calling role, one command at a time) and wait for the outcome. ANALYZE and REFRESH run
-- here, each in its own subtransaction, so one failure does not undo or stop the others. Set
-- lock_timeout before calling to avoid queueing behind long-held locks:
--
--     SET lock_timeout = '10s'; SELECT * FROM optimizer.analyze_stale();


-- ---------------------------------------------------------------------------------------------
-- Who may maintain what.
--
-- PostgreSQL 15 rules, per command:
--   analyze, vacuum    owner of the relation, or owner of the database for a non-shared
--                      relation, or superuser (vacuum_is_relation_owner)
--   reindex, refresh   owner of the index's table / of the materialized view, or superuser
--                      (the database owner is not enough for these in 15)
-- "Owner" includes membership in the owning role with its privileges (pg_has_role ... 'USAGE'),
-- and a superuser passes every pg_has_role test. An unknown action gives NULL.

CREATE FUNCTION @extschema@.may_maintain(relation regclass, action text, role name DEFAULT CURRENT_USER)
RETURNS boolean
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
             WHEN action IN ('analyze', 'vacuum') THEN
                  pg_catalog.pg_has_role(role, c.relowner, 'USAGE')
               OR (NOT c.relisshared
                   AND pg_catalog.pg_has_role(role, d.datdba, 'USAGE'))
             WHEN action IN ('reindex', 'refresh') THEN
                  pg_catalog.pg_has_role(role, c.relowner, 'USAGE')
           END
      FROM pg_catalog.pg_class c,
           pg_catalog.pg_database d
     WHERE c.oid = relation
       AND d.datname = pg_catalog.current_database()
$$;

COMMENT ON FUNCTION @extschema@.may_maintain(regclass, text, name) IS
  'Whether a role (default: the current user) may run a maintenance action (analyze, vacuum, reindex, refresh) on a relation, under the PostgreSQL 15 ownership rules of that command.';


-- ---------------------------------------------------------------------------------------------
-- analyze_stale: tables whose planner statistics are out of date.
--
-- A table (or materialized view, or partitioned table) is due when
--   * n_mod_since_analyze >= min_changed_rows and >= changed_fraction of its estimated rows, or
--   * it was never analyzed (no ANALYZE recorded and no statistics in pg_stats) but holds data, or
--   * the plans that scanned it misestimated rows: @extschema@.misestimates lists scans on it
--     whose geometric-mean q-error (mean_qerror) is >= misestimate_factor and which ran after the
--     table's last analyze. The q-error is max(estimate/actual, actual/estimate), so 10 means ten
--     times off in either direction. A partition's scans count for that partition.
-- Partitioned tables have no change counter of their own in 15 (autovacuum never analyzes them),
-- so only the "never analyzed" and misestimate rules apply to them; their partitions are
-- considered on their own, unless the partitioned table is due (its ANALYZE covers them).

CREATE FUNCTION @extschema@.analyze_stale(
    dry_run            boolean DEFAULT false,
    changed_fraction   real    DEFAULT 0.1,
    min_changed_rows   bigint  DEFAULT 1000,
    misestimate_factor real    DEFAULT 10)
RETURNS TABLE (relation regclass, command text, reason text, status text)
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    mis_rel       oid[]         := '{}';   -- misestimated relations ...
    mis_qerror    float8[]      := '{}';   -- ... their worst mean q-error
    mis_nodes     bigint[]      := '{}';   -- ... how many plan nodes
    mis_last_seen timestamptz[] := '{}';   -- ... when one of them last ran
    r             record;
BEGIN
    IF dry_run IS NULL OR changed_fraction IS NULL OR min_changed_rows IS NULL
       OR misestimate_factor IS NULL THEN
        RAISE EXCEPTION 'analyze_stale: arguments must not be NULL'
              USING ERRCODE = 'null_value_not_allowed';
    END IF;

    -- Misestimates come from the shared predicate store: reading it needs the library preloaded.
    -- Without it, carry on with the change counters alone.
    BEGIN
        SELECT COALESCE(pg_catalog.array_agg(m.rel), '{}'),
               COALESCE(pg_catalog.array_agg(m.qerror), '{}'),
               COALESCE(pg_catalog.array_agg(m.nodes), '{}'),
               COALESCE(pg_catalog.array_agg(m.last_seen), '{}')
          INTO mis_rel, mis_qerror, mis_nodes, mis_last_seen
          FROM (SELECT pg_catalog.to_regclass(COALESCE(e.partition_name, e.table_name))::oid AS rel,
                       pg_catalog.max(e.mean_qerror) AS qerror,
                       pg_catalog.count(*)           AS nodes,
                       pg_catalog.max(e.last_seen)   AS last_seen
                  FROM @extschema@.misestimates e
                 WHERE e.mean_qerror >= misestimate_factor
                 GROUP BY 1) m
         WHERE m.rel IS NOT NULL;
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'analyze_stale: misestimates not available (%), using change counts only', SQLERRM;
    END;

    FOR r IN
        WITH mis AS (
            SELECT * FROM ROWS FROM (pg_catalog.unnest(mis_rel), pg_catalog.unnest(mis_qerror),
                                     pg_catalog.unnest(mis_nodes), pg_catalog.unnest(mis_last_seen))
                     AS m(rel, qerror, nodes, last_seen)
        ), t AS (
            SELECT c.oid,
                   c.relkind,
                   GREATEST(c.reltuples, 0)::bigint                         AS est_rows,
                   COALESCE(s.n_mod_since_analyze, 0)                        AS changed,
                   GREATEST(s.last_analyze, s.last_autoanalyze)             AS analyzed_at,
                   -- Never analyzed: nothing in the activity statistics (which a stats reset
                   -- clears) and nothing in pg_stats (which it does not).
                   (s.last_analyze IS NULL AND s.last_autoanalyze IS NULL
                    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stats ps
                                     WHERE ps.schemaname = n.nspname AND ps.tablename = c.relname))
                                                                             AS never_analyzed
              FROM pg_catalog.pg_class c
              JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              LEFT JOIN pg_catalog.pg_stat_all_tables s ON s.relid = c.oid
             WHERE c.relkind IN ('r', 'm', 'p')
               AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
               AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
               AND (n.nspname NOT LIKE 'pg\_temp\_%' OR n.oid = pg_catalog.pg_my_temp_schema())
               AND @extschema@.may_maintain(c.oid, 'analyze')
        ), due AS (
            SELECT t.*,
                   -- Rows in a never analyzed table (of all its partitions for a partitioned
                   -- one), from the catalog and the activity statistics: pg_relation_size or
                   -- pg_partition_tree would lock the tables and wait behind their users.
                   CASE WHEN t.never_analyzed THEN
                        (WITH RECURSIVE tree(relid) AS (
                              SELECT t.oid
                              UNION ALL
                              SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN tree ON i.inhparent = tree.relid
                              WHERE t.relkind = 'p')
                         SELECT pg_catalog.sum(GREATEST(pc.reltuples, ps.n_live_tup, ps.n_mod_since_analyze,
                                                        CASE WHEN pc.relpages > 0 THEN 1 END, 0))::bigint
                           FROM tree
                           JOIN pg_catalog.pg_class pc ON pc.oid = tree.relid
                           LEFT JOIN pg_catalog.pg_stat_all_tables ps ON ps.relid = tree.relid
                          WHERE pc.relkind IN ('r', 'm'))
                   END                                                       AS unanalyzed_rows,
                   (t.changed >= min_changed_rows
                    AND t.changed >= changed_fraction * t.est_rows)          AS changed_enough,
                   m.qerror, m.nodes
              FROM t
              LEFT JOIN mis m
                ON m.rel = t.oid
               AND m.last_seen > COALESCE(t.analyzed_at, '-infinity')
        )
        SELECT d.oid::regclass                                               AS rel,
               pg_catalog.format('ANALYZE %s', d.oid::regclass)              AS cmd,
               pg_catalog.concat_ws('; ',
                   CASE WHEN d.unanalyzed_rows > 0 THEN
                        pg_catalog.format('never analyzed (about %s rows)', d.unanalyzed_rows) END,
                   CASE WHEN d.changed_enough AND COALESCE(d.unanalyzed_rows, 0) = 0 THEN
                        pg_catalog.format('%s rows changed since last analyze (%s)',
                                          d.changed,
                                          CASE WHEN d.est_rows > 0
                                               THEN pg_catalog.format('%s%% of %s',
                                                        pg_catalog.round(100.0 * d.changed / d.est_rows),
                                                        d.est_rows)
                                               ELSE 'table was estimated empty' END) END,
                   CASE WHEN d.qerror IS NOT NULL THEN
                        pg_catalog.format('row estimates off by %sx (mean q-error) in %s plan node(s) since last analyze',
                                          pg_catalog.round(d.qerror::numeric, 1), d.nodes) END
               )                                                             AS why
          FROM due d
         WHERE (d.unanalyzed_rows > 0 OR d.changed_enough OR d.qerror IS NOT NULL)
           -- ANALYZE of a partitioned table analyzes its partitions too: leave out partitions
           -- of a partitioned table that is itself on the list
           AND NOT EXISTS (SELECT 1
                             FROM pg_catalog.pg_partition_ancestors(d.oid) AS anc(relid)
                             JOIN due a ON a.oid = anc.relid
                            WHERE a.oid <> d.oid
                              AND (a.unanalyzed_rows > 0 OR a.changed_enough OR a.qerror IS NOT NULL))
         ORDER BY d.unanalyzed_rows > 0 DESC NULLS LAST,   -- never analyzed first
                  d.changed::float8 / GREATEST(d.est_rows, 1) DESC,
                  d.qerror DESC NULLS LAST,
                  d.oid::regclass::text
    LOOP
        relation := r.rel;
        command  := r.cmd;
        reason   := r.why;
        IF dry_run THEN
            status := 'would run';
        ELSE
            BEGIN
                EXECUTE r.cmd;
                status := 'done';
            EXCEPTION WHEN OTHERS THEN
                status := 'failed: ' || SQLERRM;
            END;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$fn$;

COMMENT ON FUNCTION @extschema@.analyze_stale(boolean, real, bigint, real) IS
  'ANALYZE the tables whose statistics are stale: many rows changed since the last analyze, never analyzed, or recorded row misestimates. dry_run => true only lists them.';


-- ---------------------------------------------------------------------------------------------
-- vacuum_needed: tables with many dead rows, or close to transaction ID wraparound.
--
-- A table or materialized view is due when
--   * n_dead_tup >= min_dead_rows and >= dead_fraction of (n_live_tup + n_dead_tup): VACUUM, or
--   * the age of its oldest unfrozen transaction ID (relfrozenxid, of the table or of its TOAST
--     table) or multixact ID (relminmxid) is >= freeze_age: VACUUM (FREEZE).
-- Most urgent first: the ones over freeze_age by age, then by dead fraction.
-- Temporary tables are left out: the background worker cannot see them.

CREATE FUNCTION @extschema@.vacuum_needed(
    dry_run       boolean DEFAULT false,
    dead_fraction real    DEFAULT 0.2,
    min_dead_rows bigint  DEFAULT 1000,
    freeze_age    bigint  DEFAULT 150000000)
RETURNS TABLE (relation regclass, command text, reason text, status text)
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    rels     regclass[];
    cmds     text[];
    reasons  text[];
    w_status text[];
    w_msg    text[];
    w_error  text;
BEGIN
    IF dry_run IS NULL OR dead_fraction IS NULL OR min_dead_rows IS NULL OR freeze_age IS NULL THEN
        RAISE EXCEPTION 'vacuum_needed: arguments must not be NULL'
              USING ERRCODE = 'null_value_not_allowed';
    END IF;

    WITH t AS (
        SELECT c.oid,
               COALESCE(s.n_dead_tup, 0)                             AS dead,
               COALESCE(s.n_live_tup, 0)                             AS live,
               GREATEST(pg_catalog.age(c.relfrozenxid),
                                   pg_catalog.age(tc.relfrozenxid))  AS xid_age,   -- greatest skips NULL
               pg_catalog.mxid_age(c.relminmxid)                     AS mxid_age
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN pg_catalog.pg_class tc ON tc.oid = c.reltoastrelid
          LEFT JOIN pg_catalog.pg_stat_all_tables s ON s.relid = c.oid
         WHERE c.relkind IN ('r', 'm')
           AND c.relpersistence <> 't'
           AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
           AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
           AND n.nspname NOT LIKE 'pg\_temp\_%'
           AND @extschema@.may_maintain(c.oid, 'vacuum')
    ), due AS (
        SELECT t.*,
               (t.xid_age >= freeze_age OR t.mxid_age >= freeze_age)     AS freeze,
               GREATEST(t.xid_age, t.mxid_age)                AS worst_age,
               t.dead::float8 / NULLIF(t.live + t.dead, 0)               AS dead_ratio,
               (t.dead >= min_dead_rows
                AND t.dead >= dead_fraction * (t.live + t.dead))         AS dead_enough
          FROM t
    )
    SELECT pg_catalog.array_agg(d.oid::regclass ORDER BY d.freeze DESC, d.worst_age DESC,
                                d.dead_ratio DESC NULLS LAST, d.oid::regclass::text),
           pg_catalog.array_agg(CASE WHEN d.freeze
                                     THEN pg_catalog.format('VACUUM (FREEZE) %s', d.oid::regclass)
                                     ELSE pg_catalog.format('VACUUM %s', d.oid::regclass) END
                                ORDER BY d.freeze DESC, d.worst_age DESC,
                                d.dead_ratio DESC NULLS LAST, d.oid::regclass::text),
           pg_catalog.array_agg(pg_catalog.concat_ws('; ',
                   CASE WHEN d.xid_age >= freeze_age THEN
                        pg_catalog.format('transaction ID age %s >= %s', d.xid_age, freeze_age) END,
                   CASE WHEN d.mxid_age >= freeze_age THEN
                        pg_catalog.format('multixact ID age %s >= %s', d.mxid_age, freeze_age) END,
                   CASE WHEN d.dead_enough THEN
                        pg_catalog.format('%s dead rows (%s%% of %s)', d.dead,
                                          pg_catalog.round((100 * d.dead_ratio)::numeric),
                                          d.live + d.dead) END)
                                ORDER BY d.freeze DESC, d.worst_age DESC,
                                d.dead_ratio DESC NULLS LAST, d.oid::regclass::text)
      INTO rels, cmds, reasons
      FROM due d
     WHERE d.freeze OR d.dead_enough;

    IF rels IS NULL THEN
        RETURN;
    END IF;

    IF NOT dry_run THEN
        -- One result row per command, in order. If the worker cannot be used at all, every
        -- command failed with that message.
        BEGIN
            SELECT pg_catalog.array_agg(w.status ORDER BY w.ordinality),
                   pg_catalog.array_agg(w.message ORDER BY w.ordinality)
              INTO w_status, w_msg
              FROM @extschema@.run_in_worker(cmds) WITH ORDINALITY AS w;
        EXCEPTION WHEN OTHERS THEN
            w_error := SQLERRM;
        END;
    END IF;

    RETURN QUERY
        SELECT u.rel, u.cmd, u.why,
               CASE WHEN dry_run             THEN 'would run'
                    WHEN w_error IS NOT NULL THEN 'failed: ' || w_error
                    WHEN w_status[u.i] = 'succeeded' THEN 'done'
                    WHEN w_status[u.i] IS NULL       THEN 'failed: no result from the background worker'
                    WHEN w_status[u.i] = 'not run'   THEN 'skipped: not run by the worker'
                                                          || COALESCE(' (' || w_msg[u.i] || ')', '')
                    ELSE 'failed: ' || COALESCE(NULLIF(pg_catalog.concat_ws(': ',
                             NULLIF(w_status[u.i], 'failed'), w_msg[u.i]), ''), 'no message')
               END
          FROM ROWS FROM (pg_catalog.unnest(rels), pg_catalog.unnest(cmds), pg_catalog.unnest(reasons))
               WITH ORDINALITY AS u(rel, cmd, why, i)
         ORDER BY u.i;
END
$fn$;

COMMENT ON FUNCTION @extschema@.vacuum_needed(boolean, real, bigint, bigint) IS
  'VACUUM the tables with many dead rows, VACUUM (FREEZE) the ones with old transaction or multixact IDs; most urgent first; runs in a background worker. dry_run => true only lists them.';


-- ---------------------------------------------------------------------------------------------
-- reindex_bloated: btree indexes much larger than their contents need.
--
-- Bloat is estimated from the statistics alone (no page is read), the way the well-known
-- statistics-based btree bloat query (ioguix, pgsql-bloat-estimation) does it:
--
--   tuple bytes   = MAXALIGN( MAXALIGN(8-byte IndexTupleData [+ 4-byte null bitmap when a key
--                   column has nulls]) + sum over key and INCLUDE columns of
--                   (1 - null_frac) * avg_width )
--   tuples/page   = floor( (block_size - 24 page header - 16 btree special) * fillfactor/100
--                          / (tuple bytes + 4-byte line pointer) )
--   expected pages= 1 (metapage) + ceil( index reltuples / tuples per page )
--   bloat bytes   = (relpages - expected pages) * block_size
--
-- null_frac and avg_width come from pg_stats: of the table column, or, for an expression column,
-- of the index itself (ANALYZE stores those under the index's name). Internal pages are ignored
-- and deduplicated posting lists (PostgreSQL 13+) are counted as separate tuples, so the
-- estimate errs towards less bloat. Sizes are taken from pg_class (relpages, as of the last
-- VACUUM / ANALYZE / CREATE INDEX) so that no lock is taken on the indexes.
--
-- Left out: invalid or not-ready indexes, exclusion-constraint indexes (REINDEX CONCURRENTLY
-- cannot rebuild those), indexes of system catalogs and of temporary tables, indexes whose table
-- was never vacuumed or analyzed or whose columns have no statistics, and indexes over the
-- 'name' type (stored shorter than its avg_width says). Indexes over max_index_bytes are listed
-- as skipped, with the cap in the reason. Largest bloat first.
--
-- REINDEX CONCURRENTLY waits for every transaction of this database that holds a snapshot older
-- than its own, the caller's included: so the commands are handed to a background worker that
-- this function does not wait for (run_in_worker(..., wait => false)). Each returned row says
-- 'started: running as run N'; the outcome is recorded in optimizer.job_runs under the job name
-- 'reindex_bloated' (one run for all the commands, each command in its own transaction).

-- The estimate, shared by reindex_bloated() and the view optimizer.index_bloat: every btree index
-- not left out above that is at least min_bytes large (a smaller one cannot hold min_bytes of
-- bloat, so on a database of 10,000 small tables the pg_stats join below sees none of them).
CREATE FUNCTION @extschema@.index_bloat_estimates(min_bytes bigint)
RETURNS TABLE (indexrelid oid, indrelid oid, idx_schema name, idx_name name, relpages integer,
               reltuples real, index_bytes numeric, expected_pages numeric, bloat_bytes numeric,
               bloat_ratio numeric)
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
    WITH const AS (
        SELECT pg_catalog.current_setting('block_size')::numeric            AS bs,
               COALESCE((SELECT ci.max_data_alignment
                           FROM pg_catalog.pg_control_init() ci), 8)::numeric AS maxalign
    ), idx AS (
        SELECT i.indexrelid, i.indrelid, i.indnatts, i.indkey,
               ni.nspname  AS idx_schema, ci.relname AS idx_name,
               nt.nspname  AS tbl_schema, ct.relname AS tbl_name,
               ci.relpages, ci.reltuples,
               COALESCE((SELECT pg_catalog.substring(o, '^fillfactor=(\d+)$')::numeric
                           FROM pg_catalog.unnest(ci.reloptions) AS o
                          WHERE o LIKE 'fillfactor=%'), 90)                 AS fillfactor
          FROM pg_catalog.pg_index i
          JOIN pg_catalog.pg_class ci     ON ci.oid = i.indexrelid
          JOIN pg_catalog.pg_namespace ni ON ni.oid = ci.relnamespace
          JOIN pg_catalog.pg_class ct     ON ct.oid = i.indrelid
          JOIN pg_catalog.pg_namespace nt ON nt.oid = ct.relnamespace
         CROSS JOIN const k
         WHERE ci.relkind = 'i'
           AND ci.relam = (SELECT am.oid FROM pg_catalog.pg_am am WHERE am.amname = 'btree')
           AND i.indisvalid AND i.indisready AND i.indislive
           AND NOT i.indisexclusion
           AND ci.relpages > 0
           AND ci.relpages::numeric * k.bs >= min_bytes
           AND ci.reltuples >= 0                -- -1: never vacuumed or analyzed
           AND ct.reltuples >= 0
           AND ct.relpersistence <> 't'
           AND nt.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
           AND nt.nspname NOT LIKE 'pg\_toast\_temp\_%'
           AND nt.nspname NOT LIKE 'pg\_temp\_%'
    ), cols AS (
        -- one row per index column: key and INCLUDE columns alike (all are stored in the leaves)
        SELECT x.indexrelid, a.atttypid, ps.null_frac, ps.avg_width
          FROM idx x
         CROSS JOIN LATERAL pg_catalog.generate_series(1, x.indnatts) AS k(pos)
         CROSS JOIN LATERAL (SELECT x.indkey[k.pos - 1] = 0 AS is_expr) AS e   -- int2vector is 0-based
          JOIN pg_catalog.pg_attribute a
            ON a.attrelid = CASE WHEN e.is_expr THEN x.indexrelid ELSE x.indrelid END
           AND a.attnum   = CASE WHEN e.is_expr THEN k.pos ELSE x.indkey[k.pos - 1] END
          LEFT JOIN pg_catalog.pg_stats ps
            ON ps.schemaname = CASE WHEN e.is_expr THEN x.idx_schema ELSE x.tbl_schema END
           AND ps.tablename  = CASE WHEN e.is_expr THEN x.idx_name   ELSE x.tbl_name   END
           AND ps.attname    = a.attname
           AND NOT ps.inherited
    ), width AS (
        SELECT c.indexrelid,
               pg_catalog.sum(((1 - c.null_frac) * c.avg_width)::numeric) AS data_bytes,
               pg_catalog.max(c.null_frac) > 0                   AS has_nulls
          FROM cols c
         GROUP BY c.indexrelid
        HAVING pg_catalog.count(*) = pg_catalog.count(c.avg_width)            -- statistics for every column
           AND NOT pg_catalog.bool_or(c.atttypid = 'pg_catalog.name'::pg_catalog.regtype)
    ), est AS (
        SELECT x.indexrelid, x.indrelid, x.idx_schema, x.idx_name, x.relpages, x.reltuples, k.bs,
               x.relpages::numeric * k.bs AS index_bytes,
               1 + pg_catalog.ceil(x.reltuples::numeric / GREATEST(1, pg_catalog.floor(
                       (k.bs - 24 - 16) * x.fillfactor / 100
                       / (4 + pg_catalog.ceil(
                              (pg_catalog.ceil((8 + CASE WHEN w.has_nulls THEN 4 ELSE 0 END) / k.maxalign) * k.maxalign
                               + w.data_bytes) / k.maxalign) * k.maxalign))))
                                          AS expected_pages
          FROM idx x
          JOIN width w ON w.indexrelid = x.indexrelid
         CROSS JOIN const k
    )
    SELECT e.indexrelid, e.indrelid, e.idx_schema, e.idx_name, e.relpages, e.reltuples, e.index_bytes,
           e.expected_pages,
           GREATEST(e.relpages - e.expected_pages, 0) * e.bs        AS bloat_bytes,
           GREATEST(e.relpages - e.expected_pages, 0) / e.relpages  AS bloat_ratio
      FROM est e
$fn$;
COMMENT ON FUNCTION @extschema@.index_bloat_estimates(bigint) IS
  'The statistics-based btree bloat estimate of reindex_bloated() and optimizer.index_bloat, for the indexes of at least min_bytes';

CREATE FUNCTION @extschema@.reindex_bloated(
    dry_run         boolean DEFAULT false,
    bloat_fraction  real    DEFAULT 0.3,
    min_bloat_bytes bigint  DEFAULT 10485760,      -- 10 MB
    max_index_bytes bigint  DEFAULT 10737418240)   -- 10 GB
RETURNS TABLE (relation regclass, command text, reason text, status text)
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    rels     regclass[];
    names    text[];     -- qualified names: REINDEX CONCURRENTLY gives the index a new OID
    cmds     text[];
    reasons  text[];
    skips    text[];     -- why not, for the ones over the size cap
    todo     text[];
    w_status text[];
    w_msg    text[];
    w_error  text;
BEGIN
    IF dry_run IS NULL OR bloat_fraction IS NULL OR min_bloat_bytes IS NULL
       OR max_index_bytes IS NULL THEN
        RAISE EXCEPTION 'reindex_bloated: arguments must not be NULL'
              USING ERRCODE = 'null_value_not_allowed';
    END IF;

    WITH b AS (
        SELECT e.* FROM @extschema@.index_bloat_estimates(min_bloat_bytes) e
         WHERE @extschema@.may_maintain(e.indrelid, 'reindex')
    )
    SELECT pg_catalog.array_agg(b.indexrelid::regclass ORDER BY b.bloat_bytes DESC, b.indexrelid),
           pg_catalog.array_agg(pg_catalog.format('%I.%I', b.idx_schema, b.idx_name)
                                ORDER BY b.bloat_bytes DESC, b.indexrelid),
           pg_catalog.array_agg(pg_catalog.format('REINDEX INDEX CONCURRENTLY %s', b.indexrelid::regclass)
                                ORDER BY b.bloat_bytes DESC, b.indexrelid),
           pg_catalog.array_agg(pg_catalog.format('estimated bloat %s of %s (%s%%)%s',
                                    pg_catalog.pg_size_pretty(b.bloat_bytes),
                                    pg_catalog.pg_size_pretty(b.index_bytes),
                                    pg_catalog.round(100 * b.bloat_ratio),
                                    CASE WHEN b.index_bytes > max_index_bytes
                                         THEN pg_catalog.format('; larger than max_index_bytes (%s)',
                                                                pg_catalog.pg_size_pretty(max_index_bytes))
                                         ELSE '' END)
                                ORDER BY b.bloat_bytes DESC, b.indexrelid),
           pg_catalog.array_agg(CASE WHEN b.index_bytes > max_index_bytes
                                     THEN pg_catalog.format('skipped: index size %s exceeds max_index_bytes %s',
                                                            pg_catalog.pg_size_pretty(b.index_bytes),
                                                            pg_catalog.pg_size_pretty(max_index_bytes)) END
                                ORDER BY b.bloat_bytes DESC, b.indexrelid)
      INTO rels, names, cmds, reasons, skips
      FROM b
     WHERE b.bloat_ratio >= bloat_fraction
       AND b.bloat_bytes >= min_bloat_bytes;

    IF rels IS NULL THEN
        RETURN;
    END IF;

    -- The commands to run: the ones not skipped, in order.
    SELECT pg_catalog.array_agg(u.cmd ORDER BY u.i) INTO todo
      FROM ROWS FROM (pg_catalog.unnest(cmds), pg_catalog.unnest(skips)) WITH ORDINALITY AS u(cmd, skip, i)
     WHERE u.skip IS NULL;

    IF NOT dry_run AND todo IS NOT NULL THEN
        BEGIN
            SELECT pg_catalog.array_agg(w.status ORDER BY w.ordinality),
                   pg_catalog.array_agg(w.message ORDER BY w.ordinality)
              INTO w_status, w_msg
              FROM @extschema@.run_in_worker(todo, wait => false, label => 'reindex_bloated') WITH ORDINALITY AS w;
        EXCEPTION WHEN OTHERS THEN
            w_error := SQLERRM;
        END;
    END IF;

    -- Map the worker's results (one per command sent, same order) back to the indexes. A
    -- rebuilt index has a new OID under the old name: report that one.
    RETURN QUERY
        WITH u AS (
            SELECT v.*,
                   pg_catalog.count(*) FILTER (WHERE v.skip IS NULL) OVER (ORDER BY v.i) AS j
              FROM ROWS FROM (pg_catalog.unnest(rels), pg_catalog.unnest(names), pg_catalog.unnest(cmds),
                              pg_catalog.unnest(reasons), pg_catalog.unnest(skips))
                   WITH ORDINALITY AS v(rel, qname, cmd, why, skip, i)
        )
        SELECT CASE WHEN NOT dry_run AND u.skip IS NULL
                    THEN COALESCE(pg_catalog.to_regclass(u.qname), u.rel) ELSE u.rel END,
               u.cmd, u.why,
               CASE WHEN u.skip IS NOT NULL            THEN u.skip
                    WHEN dry_run                       THEN 'would run'
                    WHEN w_error IS NOT NULL           THEN 'failed: ' || w_error
                    WHEN w_status[u.j] = 'started'     THEN 'started: ' || w_msg[u.j]
                    WHEN w_status[u.j] = 'succeeded'   THEN 'done'
                    WHEN w_status[u.j] IS NULL         THEN 'failed: no result from the background worker'
                    WHEN w_status[u.j] = 'not run'     THEN 'skipped: not run by the worker'
                                                            || COALESCE(' (' || w_msg[u.j] || ')', '')
                    ELSE 'failed: ' || COALESCE(NULLIF(pg_catalog.concat_ws(': ',
                             NULLIF(w_status[u.j], 'failed'), w_msg[u.j]), ''), 'no message')
               END
          FROM u
         ORDER BY u.i;
END
$fn$;

COMMENT ON FUNCTION @extschema@.reindex_bloated(boolean, real, bigint, bigint) IS
  'REINDEX INDEX CONCURRENTLY the btree indexes whose estimated bloat (from pg_stats and pg_class) is at least bloat_fraction of their size and min_bloat_bytes; largest bloat first; runs in a background worker. dry_run => true only lists them.';


-- ---------------------------------------------------------------------------------------------
-- Materialized views to keep refreshed.
--
-- Anyone may read the list. A role registers (and unregisters) the materialized views it may
-- refresh (REFRESH needs ownership in 15); whoever registered a view that was dropped since may
-- unregister it. Row-level security enforces this for direct INSERT and DELETE too, and the
-- functions run with the caller's rights: the caller is always the current role, also inside a
-- job, whose worker's session user is the bootstrap superuser.

CREATE TABLE @extschema@.matviews (
    matview       regclass    PRIMARY KEY,
    registered_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    registered_by regrole     NOT NULL DEFAULT (CURRENT_USER::text::regrole)
);

COMMENT ON TABLE @extschema@.matviews IS
  'Materialized views refreshed by refresh_matviews(). Change it with register_matview() and unregister_matview().';

ALTER TABLE @extschema@.matviews ENABLE ROW LEVEL SECURITY;
CREATE POLICY matviews_read ON @extschema@.matviews FOR SELECT USING (true);
CREATE POLICY matviews_register ON @extschema@.matviews FOR INSERT
    WITH CHECK (pg_catalog.pg_get_userbyid(registered_by) = CURRENT_USER
                AND coalesce(@extschema@.may_maintain(matview, 'refresh'), false));
CREATE POLICY matviews_unregister ON @extschema@.matviews FOR DELETE
    USING (coalesce(@extschema@.may_maintain(matview, 'refresh'), false)
           OR pg_catalog.pg_has_role(registered_by, 'USAGE'));
REVOKE ALL ON TABLE @extschema@.matviews FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON TABLE @extschema@.matviews TO PUBLIC;

-- Registrations are user data: keep them in pg_dump output.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.matviews', '');


CREATE FUNCTION @extschema@.register_matview(matview regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE    -- STRICT: registering NULL does nothing
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    kind "char";
BEGIN
    SELECT c.relkind INTO kind FROM pg_catalog.pg_class c WHERE c.oid = register_matview.matview;
    IF kind IS DISTINCT FROM 'm' THEN
        RAISE EXCEPTION '% is not a materialized view', register_matview.matview
              USING ERRCODE = 'wrong_object_type',
                    HINT = 'Only materialized views can be registered; refresh_matviews() refreshes them.';
    END IF;
    IF NOT @extschema@.may_maintain(register_matview.matview, 'refresh') THEN
        RAISE EXCEPTION 'permission denied to register materialized view %', register_matview.matview
              USING ERRCODE = 'insufficient_privilege',
                    HINT = pg_catalog.format('Only the owner of the materialized view (or a member of role %s) or a superuser may register it.',
                                             (SELECT c.relowner::regrole FROM pg_catalog.pg_class c WHERE c.oid = register_matview.matview));
    END IF;

    INSERT INTO @extschema@.matviews AS m (matview, registered_by)
    VALUES (register_matview.matview, CURRENT_USER::text::regrole)
    ON CONFLICT ON CONSTRAINT matviews_pkey DO NOTHING;
    IF NOT FOUND THEN
        RAISE NOTICE 'materialized view % is already registered', register_matview.matview;
    END IF;
END
$fn$;

COMMENT ON FUNCTION @extschema@.register_matview(regclass) IS
  'Add a materialized view you own to the ones refresh_matviews() refreshes.';


CREATE FUNCTION @extschema@.unregister_matview(matview regclass)
RETURNS boolean
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE    -- STRICT: NULL in, NULL out
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    reg regrole;
BEGIN
    SELECT m.registered_by INTO reg FROM @extschema@.matviews m WHERE m.matview = unregister_matview.matview;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    -- An existing view: its owner may unregister it. A dropped one (regclass leaves no
    -- dependency, so the entry outlives it): whoever registered it.
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = unregister_matview.matview)
       THEN IF NOT @extschema@.may_maintain(unregister_matview.matview, 'refresh') THEN
                RAISE EXCEPTION 'permission denied to unregister materialized view %', unregister_matview.matview
                      USING ERRCODE = 'insufficient_privilege',
                            HINT = 'Only the owner of the materialized view or a superuser may unregister it.';
            END IF;
       ELSE IF NOT pg_catalog.pg_has_role(reg, 'USAGE') THEN
                RAISE EXCEPTION 'permission denied to unregister dropped materialized view %', unregister_matview.matview::oid
                      USING ERRCODE = 'insufficient_privilege',
                            HINT = pg_catalog.format('Only %s, who registered it, or a superuser may unregister it.', reg);
            END IF;
    END IF;

    DELETE FROM @extschema@.matviews m WHERE m.matview = unregister_matview.matview;
    RETURN FOUND;
END
$fn$;

COMMENT ON FUNCTION @extschema@.unregister_matview(regclass) IS
  'Remove a materialized view from the ones refresh_matviews() refreshes; false when it was not registered. A dropped one can be removed by its OID: unregister_matview(12345).';


-- refresh_matviews: REFRESH the registered materialized views the caller owns.
--
-- CONCURRENTLY (readers are not blocked) when the view is populated and has a valid unique
-- index on plain columns without a WHERE clause, as PostgreSQL requires; else a plain REFRESH,
-- which locks out readers meanwhile. Each in its own subtransaction. Registered views that were
-- dropped, or that the caller does not own, are left out.

CREATE FUNCTION @extschema@.refresh_matviews(dry_run boolean DEFAULT false)
RETURNS TABLE (relation regclass, command text, reason text, status text)
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
BEGIN
    IF dry_run IS NULL THEN
        RAISE EXCEPTION 'refresh_matviews: dry_run must not be NULL'
              USING ERRCODE = 'null_value_not_allowed';
    END IF;

    FOR r IN
        SELECT c.oid::regclass AS rel,
               c.relispopulated AS populated,
               (SELECT i.indexrelid::regclass
                  FROM pg_catalog.pg_index i
                 WHERE i.indrelid = c.oid
                   AND i.indisunique AND i.indisvalid AND i.indisready AND i.indislive
                   AND i.indimmediate
                   AND i.indpred IS NULL                 -- not partial
                   AND i.indexprs IS NULL                -- plain columns only
                   AND NOT (0 = ANY (i.indkey::int2[]))
                 ORDER BY i.indexrelid
                 LIMIT 1) AS uniq
          FROM @extschema@.matviews m
          JOIN pg_catalog.pg_class c ON c.oid = m.matview
         WHERE c.relkind = 'm'
           AND @extschema@.may_maintain(c.oid, 'refresh')
         ORDER BY c.oid::regclass::text
    LOOP
        relation := r.rel;
        IF r.populated AND r.uniq IS NOT NULL THEN
            command := pg_catalog.format('REFRESH MATERIALIZED VIEW CONCURRENTLY %s', r.rel);
            reason  := pg_catalog.format('concurrently: populated, with unique index %s', r.uniq);
        ELSE
            command := pg_catalog.format('REFRESH MATERIALIZED VIEW %s', r.rel);
            reason  := CASE WHEN NOT r.populated
                            THEN 'not concurrently: not populated yet (WITH NO DATA)'
                            ELSE 'not concurrently: no valid unique index on plain columns without WHERE'
                       END;
        END IF;
        IF dry_run THEN
            status := 'would run';
        ELSE
            BEGIN
                EXECUTE command;
                status := 'done';
            EXCEPTION WHEN OTHERS THEN
                status := 'failed: ' || SQLERRM;
            END;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$fn$;

COMMENT ON FUNCTION @extschema@.refresh_matviews(boolean) IS
  'REFRESH the registered materialized views you own: CONCURRENTLY when populated and a plain unique index allows it. dry_run => true only lists them.';
