-- pg_optimizer 0.3.0 -> 0.4.0. Released with 0.4.0: never edit (a test checks its checksum); the
-- next release chains a new file after it.
--
-- What changes: partition sets (tables partition_sets, partition_log, partition_work; views
-- partitions and partition_progress; partition_table, maintain_partitions, undo_partitioning and
-- the built-in job maintain_partitions), partition_advice, create_index (the shared CONCURRENTLY
-- index path) and run_in_worker_as, and auto-indexing (index_actions, autoindex_run,
-- autoindex_verify and their built-in jobs), and the insights (health() and its views). Of what
-- exists in 0.3.0 two functions change: reindex_bloated reads its estimate from the new
-- index_bloat_estimates (shared with the view index_bloat), and index_advice takes `sources`
-- (imported workloads: import_workload, export_workload). New too: the linter (lint,
-- lint_sql, lint_rules, lint_coverage), index_advice_json and report.

\echo Use "ALTER EXTENSION pg_optimizer UPDATE TO '0.4.0'" to load this file. \quit

CREATE FUNCTION @extschema@."partition_request"(
	"op" TEXT, /* & str */
	"target" oid, /* Option < pg_sys :: Oid > */
	"settings" TEXT[] DEFAULT '{}' /* Vec < Option < String > > */
) RETURNS TABLE (
	"parent_table" oid,  /* Option < pg_sys :: Oid > */
	"action" TEXT,  /* String */
	"partition" TEXT,  /* Option < String > */
	"rows" bigint,  /* Option < i64 > */
	"detail" TEXT  /* Option < String > */
)
VOLATILE PARALLEL UNSAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'partition_request_wrapper';

CREATE FUNCTION @extschema@."run_in_worker_as"(
	"role" oid, /* pg_sys :: Oid */
	"commands" TEXT[], /* Vec < Option < String > > */
	"statement_timeout" interval DEFAULT '1 hour', /* Interval */
	"lock_timeout" interval DEFAULT '10 seconds', /* Interval */
	"wait" bool DEFAULT true, /* bool */
	"label" TEXT DEFAULT 'run_in_worker' /* & str */
) RETURNS TABLE (
	"command" TEXT,  /* String */
	"status" TEXT,  /* String */
	"rows" bigint,  /* Option < i64 > */
	"message" TEXT,  /* Option < String > */
	"duration_ms" double precision,  /* Option < f64 > */
	"run_id" bigint  /* Option < i64 > */
)
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'run_in_worker_as_wrapper';

CREATE FUNCTION @extschema@."autoindex_candidates"(
	"budget_mb" INT DEFAULT NULL, /* Option < i32 > */
	"max_indexes_per_table" INT DEFAULT NULL /* Option < i32 > */
) RETURNS TABLE (
	"action" TEXT,  /* String */
	"relid" oid,  /* pg_sys :: Oid */
	"index_name" TEXT,  /* Option < String > */
	"build" TEXT,  /* Option < String > */
	"ddl" TEXT,  /* Option < String > */
	"estimated_bytes" bigint,  /* i64 */
	"workload_cost_before" double precision,  /* f64 */
	"workload_cost_after" double precision,  /* f64 */
	"benefit_share" double precision,  /* f64 */
	"queryids" bigint[],  /* Vec < i64 > */
	"reason" TEXT  /* String */
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'autoindex_candidates_wrapper';

CREATE FUNCTION @extschema@."disk_space"() RETURNS TABLE (
	"free_bytes" bigint,  /* i64 */
	"total_bytes" bigint  /* i64 */
)
STRICT VOLATILE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'disk_space_wrapper';

CREATE FUNCTION @extschema@."index_findings"() RETURNS TABLE (
	"kind" TEXT,  /* String */
	"indexrelid" oid,  /* pg_sys :: Oid */
	"relid" oid,  /* pg_sys :: Oid */
	"index_name" TEXT,  /* Option < String > */
	"table_name" TEXT,  /* Option < String > */
	"other_index" TEXT,  /* Option < String > */
	"bytes" bigint,  /* i64 */
	"scans" bigint,  /* i64 */
	"reason" TEXT,  /* String */
	"ddl" TEXT  /* Option < String > */
)
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'index_findings_wrapper';

CREATE FUNCTION @extschema@."export_workload"() RETURNS jsonb /* Result < JsonB > */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'export_workload_wrapper';

CREATE FUNCTION @extschema@."import_workload"(
	"document" jsonb, /* Option < JsonB > */
	"source" TEXT /* Option < String > */
) RETURNS TABLE (
	"source" TEXT,  /* String */
	"database" TEXT,  /* String */
	"exported_at" TEXT,  /* String */
	"statements" INT,  /* i32 */
	"predicates" INT,  /* i32 */
	"sort_keys" INT,  /* i32 */
	"tables" INT,  /* i32 */
	"roles_missing" INT,  /* i32 */
	"roles_not_held" INT  /* i32 */
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'import_workload_wrapper';

CREATE FUNCTION @extschema@."lint_statements"() RETURNS TABLE (
	"queryid" bigint,  /* Option < i64 > */
	"query" TEXT,  /* Option < String > */
	"rule" TEXT,  /* String */
	"severity" TEXT,  /* String */
	"fragment" TEXT,  /* Option < String > */
	"position" INT,  /* Option < i32 > */
	"evidence" TEXT,  /* String */
	"rewrite" TEXT  /* Option < String > */
)
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'lint_statements_wrapper';

CREATE FUNCTION @extschema@."lint_sql"(
	"sql" TEXT /* & str */
) RETURNS TABLE (
	"rule" TEXT,  /* String */
	"severity" TEXT,  /* String */
	"fragment" TEXT,  /* String */
	"position" INT,  /* i32 */
	"evidence" TEXT,  /* String */
	"rewrite" TEXT  /* String */
)
STRICT STABLE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'lint_sql_wrapper';

CREATE FUNCTION @extschema@."lint_coverage"() RETURNS TABLE (
	"statements" bigint,  /* i64 */
	"parsed" bigint,  /* i64 */
	"parsed_share" double precision,  /* Option < f64 > */
	"findings" bigint  /* i64 */
)
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'lint_coverage_wrapper';

CREATE FUNCTION @extschema@."lint_rules"() RETURNS TABLE (
	"rule" TEXT,  /* String */
	"severity" TEXT,  /* String */
	"description" TEXT  /* String */
)
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'lint_rules_wrapper';

CREATE FUNCTION @extschema@."index_advice_json"(
	"budget_mb" INT DEFAULT NULL, /* Option < i32 > */
	"sources" TEXT[] DEFAULT NULL /* :: std :: option :: Option < Vec < Option < String > > > */
) RETURNS jsonb /* Result < JsonB > */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'index_advice_json_wrapper';

CREATE FUNCTION @extschema@."report"(
	"format" TEXT DEFAULT 'text', /* Option < String > */
	"budget_mb" INT DEFAULT NULL /* Option < i32 > */
) RETURNS TEXT /* Result < String > */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'report_wrapper';

DROP FUNCTION @extschema@.index_advice(integer, integer, boolean);
CREATE FUNCTION @extschema@."index_advice"(
	"budget_mb" INT DEFAULT NULL, /* Option < i32 > */
	"max_indexes_per_table" INT DEFAULT NULL, /* Option < i32 > */
	"include_drops" bool DEFAULT true, /* bool */
	"sources" TEXT[] DEFAULT NULL /* :: std :: option :: Option < Vec < Option < String > > > */
) RETURNS TABLE (
	"action" TEXT,  /* String */
	"ddl" TEXT,  /* Option < String > */
	"table_name" TEXT,  /* Option < String > */
	"index_name" TEXT,  /* Option < String > */
	"columns" TEXT[],  /* Vec < String > */
	"include_columns" TEXT[],  /* Vec < String > */
	"method" TEXT,  /* Option < String > */
	"predicate" TEXT,  /* Option < String > */
	"estimated_bytes" bigint,  /* Option < i64 > */
	"estimated_size" TEXT,  /* Option < String > */
	"workload_cost_before" double precision,  /* Option < f64 > */
	"workload_cost_after" double precision,  /* Option < f64 > */
	"benefit" double precision,  /* Option < f64 > */
	"benefit_share" double precision,  /* Option < f64 > */
	"queryids" bigint[],  /* Vec < i64 > */
	"write_penalty" double precision,  /* Option < f64 > */
	"planner_calls" bigint,  /* i64 */
	"reason" TEXT  /* String */
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'index_advice_wrapper';

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

CREATE OR REPLACE FUNCTION @extschema@.reindex_bloated(
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

-- Partition sets (src/partitions): the configuration of each managed parent, every action taken,
-- and the progress of long moves. The work itself (creating ahead, retention, moving rows out of
-- a default partition, converting a plain table) runs in a background worker as the parent's
-- owner: optimizer.partition_table, optimizer.maintain_partitions and
-- optimizer.undo_partitioning start it and wait for it.
--
-- Row-level security keeps every role to the sets of the tables it owns (membership in the
-- owning role counts); superusers see all of them.

CREATE TABLE @extschema@.partition_sets (
    parent regclass PRIMARY KEY,
    control text NOT NULL,
    method text NOT NULL CHECK (method IN ('range', 'list', 'hash')),
    -- range: 'daily', '3 months', ... or an integer step; NULL for list and hash
    "interval" text,
    premake integer NOT NULL DEFAULT 4 CHECK (premake BETWEEN 0 AND 1000),
    -- time: an interval ('90 days'); integer: a count of values; NULL: keep everything
    retention text,
    retention_action text NOT NULL DEFAULT 'drop' CHECK (retention_action IN ('drop', 'detach', 'archive')),
    archive_schema name,
    time_zone text NOT NULL DEFAULT 'UTC',
    with_default boolean NOT NULL DEFAULT true,
    batch_rows integer NOT NULL DEFAULT 10000 CHECK (batch_rows > 0),
    modulus integer CHECK (modulus > 0),
    enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_run_at timestamptz,
    last_status text,
    last_message text
);
COMMENT ON TABLE @extschema@.partition_sets IS
  'pg_optimizer partition sets: one row per managed parent (optimizer.partition_table registers it; set enabled = false to pause its maintenance)';

CREATE TABLE @extschema@.partition_log (
    id bigserial PRIMARY KEY,
    run_id bigint NOT NULL,
    at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    parent oid NOT NULL,
    parent_name text NOT NULL,
    owner regrole,
    action text NOT NULL,
    partition text,
    rows bigint,
    detail text
);
CREATE INDEX partition_log_run ON @extschema@.partition_log (run_id);
CREATE INDEX partition_log_at ON @extschema@.partition_log (at);
COMMENT ON TABLE @extschema@.partition_log IS
  'Every action of partition management (created, rescued, moved, retired, deferred, failed ...), kept pg_optimizer.job_history_days days';

-- One row per parent being worked on (a conversion, or rows moving out of a default partition).
CREATE TABLE @extschema@.partition_work (
    parent oid PRIMARY KEY,
    parent_name text NOT NULL,
    owner regrole,
    run_id bigint NOT NULL,
    phase text NOT NULL,
    rows_total bigint NOT NULL DEFAULT 0,
    rows_moved bigint NOT NULL DEFAULT 0,
    started_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    pid integer
);

ALTER TABLE @extschema@.partition_sets ENABLE ROW LEVEL SECURITY;
CREATE POLICY sets_of_their_owner ON @extschema@.partition_sets
    USING (pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = parent), 'USAGE'));
ALTER TABLE @extschema@.partition_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY log_of_their_owner ON @extschema@.partition_log FOR SELECT
    USING (owner IS NOT NULL AND pg_catalog.pg_has_role(owner, 'USAGE'));
ALTER TABLE @extschema@.partition_work ENABLE ROW LEVEL SECURITY;
CREATE POLICY work_of_their_owner ON @extschema@.partition_work FOR SELECT
    USING (owner IS NOT NULL AND pg_catalog.pg_has_role(owner, 'USAGE'));
-- Owners may pause a set or change its settings; the worker registers sets (as the owner).
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.partition_sets TO PUBLIC;
GRANT SELECT ON @extschema@.partition_log, @extschema@.partition_work TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.partition_sets', '');

-- Whether a partition of a set is inside its retention (kept): true unless its whole range ended
-- at or before the cutoff (now minus the retention in the set's time zone; for an integer control
-- column, the largest value minus the retention), and never for the newest partition. The same
-- rule maintain_partitions applies.
CREATE FUNCTION @extschema@.partition_in_retention(parent regclass, partition regclass)
RETURNS boolean
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    s @extschema@.partition_sets;
    typ regtype;
    upper_lit text;
    expr text := pg_get_expr((SELECT c.relpartbound FROM pg_class c WHERE c.oid = partition), partition);
    kept boolean;
    is_newest boolean;
BEGIN
    SELECT * INTO s FROM @extschema@.partition_sets x WHERE x.parent = partition_in_retention.parent;
    IF s.parent IS NULL OR s.retention IS NULL OR s.method <> 'range' OR expr IS NULL OR expr = 'DEFAULT' THEN
        RETURN true;
    END IF;
    upper_lit := substring(expr FROM '\) TO \(''?([^'')]*)''?\)$');
    IF upper_lit IS NULL OR upper_lit IN ('MAXVALUE', 'MINVALUE') THEN
        RETURN true;
    END IF;
    SELECT a.atttypid::regtype INTO typ FROM pg_attribute a
     WHERE a.attrelid = s.parent AND a.attname = s.control AND NOT a.attisdropped;
    -- The newest partition is always kept.
    EXECUTE format($q$
        SELECT %L::%s >= max(substring(pg_get_expr(c.relpartbound, c.oid) FROM '\) TO \(''?([^'')]*)''?\)$')::%s)
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = $1 AND pg_get_expr(c.relpartbound, c.oid) ~ '^FOR VALUES FROM'
           AND pg_get_expr(c.relpartbound, c.oid) !~ 'MAXVALUE'$q$, upper_lit, typ, typ)
       INTO is_newest USING s.parent;
    IF is_newest THEN
        RETURN true;
    END IF;
    IF typ = 'timestamp with time zone'::regtype THEN
        kept := upper_lit::timestamptz > now() - s.retention::interval;
    ELSIF typ = 'timestamp without time zone'::regtype THEN
        kept := upper_lit::timestamp > (now() AT TIME ZONE s.time_zone) - s.retention::interval;
    ELSIF typ = 'date'::regtype THEN
        kept := upper_lit::date > (now() AT TIME ZONE s.time_zone) - s.retention::interval;
    ELSE
        EXECUTE format('SELECT %L::numeric > max(%I)::numeric - %L::numeric FROM %s', upper_lit, s.control, s.retention, s.parent)
           INTO kept;
    END IF;
    RETURN coalesce(kept, true);
END
$fn$;

CREATE VIEW @extschema@.partitions WITH (security_barrier) AS
WITH RECURSIVE tree AS (
    SELECT s.parent::oid AS root, i.inhrelid AS relid, 1 AS level
      FROM @extschema@.partition_sets s
      JOIN pg_catalog.pg_inherits i ON i.inhparent = s.parent
    UNION ALL
    SELECT t.root, i.inhrelid, t.level + 1
      FROM tree t JOIN pg_catalog.pg_inherits i ON i.inhparent = t.relid
)
SELECT t.root::regclass                                          AS parent,
       t.relid::regclass                                         AS partition,
       t.level,
       pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' AS is_default,
       pg_catalog.pg_get_expr(c.relpartbound, c.oid)             AS bound,
       CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END   AS rows_estimate,
       pg_catalog.pg_total_relation_size(c.oid)                  AS bytes,
       pg_catalog.pg_size_pretty(pg_catalog.pg_total_relation_size(c.oid)) AS size,
       CASE WHEN s.retention IS NULL OR s.method <> 'range'
                 OR pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' THEN true
            ELSE @extschema@.partition_in_retention(s.parent, c.oid) END AS in_retention
  FROM tree t
  JOIN pg_catalog.pg_class c ON c.oid = t.relid
  JOIN @extschema@.partition_sets s ON s.parent = t.root
 ORDER BY t.root, pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', c.relname;
COMMENT ON VIEW @extschema@.partitions IS
  'Every partition of every partition set you may see: bound, rows estimate, size, whether it is inside retention';

CREATE VIEW @extschema@.partition_progress AS
SELECT w.parent::regclass                                             AS parent,
       w.phase,
       w.rows_moved,
       GREATEST(w.rows_total - w.rows_moved, 0)                        AS rows_left,
       CASE WHEN w.updated_at > w.started_at
            THEN pg_catalog.round((w.rows_moved / EXTRACT(epoch FROM w.updated_at - w.started_at))::numeric, 1) END
                                                                       AS rows_per_second,
       CASE WHEN w.rows_moved > 0 AND w.updated_at > w.started_at
            THEN pg_catalog.make_interval(secs => pg_catalog.round(
                   (GREATEST(w.rows_total - w.rows_moved, 0) * EXTRACT(epoch FROM w.updated_at - w.started_at)
                    / w.rows_moved)::numeric, 1)::float8) END          AS eta,
       w.started_at,
       w.updated_at,
       w.pid,
       w.run_id
  FROM @extschema@.partition_work w;
COMMENT ON VIEW @extschema@.partition_progress IS
  'Long partition work in progress (a conversion, rows moving out of a default partition): rows moved, rows left, rate, estimated time left';

GRANT SELECT ON @extschema@.partitions, @extschema@.partition_progress TO PUBLIC;

-- Built-in: partition maintenance every hour (a no-op without partition sets).
INSERT INTO @extschema@.jobs (name, schedule, command, owner, builtin, timeout)
VALUES ('maintain_partitions', '1 hour', 'SELECT count(*) FROM @extschema@.maintain_partitions()',
        CURRENT_USER::text::regrole, true, '1 hour');

-- ---------------------------------------------------------------------------------------------
-- The API: each call hands its work to a partition worker (running as the table's owner) and
-- waits; what it did comes back one row per parent and action (and is kept in partition_log).

CREATE FUNCTION @extschema@.partition_setting(key text, value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT key || '=' || pg_catalog.replace(pg_catalog.replace(value, E'\\', E'\\\\'), E'\n', E'\\n') $$;

CREATE FUNCTION @extschema@.partition_table(
    parent regclass,
    control text,
    "interval" text DEFAULT NULL,
    premake integer DEFAULT 4,
    retention text DEFAULT NULL,
    method text DEFAULT 'range',
    modulus integer DEFAULT NULL,
    with_default boolean DEFAULT true,
    retention_action text DEFAULT 'drop',
    archive_schema name DEFAULT NULL,
    time_zone text DEFAULT NULL,
    batch_rows integer DEFAULT 10000,
    start_from text DEFAULT NULL
) RETURNS TABLE(parent_table regclass, action text, partition text, rows bigint, detail text)
LANGUAGE sql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT r.parent_table::regclass, r.action, r.partition, r.rows, r.detail
  FROM @extschema@.partition_request('setup', parent::oid, pg_catalog.array_remove(ARRAY[
        @extschema@.partition_setting('control', control),
        @extschema@.partition_setting('interval', "interval"),
        @extschema@.partition_setting('premake', premake::text),
        @extschema@.partition_setting('retention', retention),
        @extschema@.partition_setting('method', method),
        @extschema@.partition_setting('modulus', modulus::text),
        @extschema@.partition_setting('with_default', with_default::text),
        @extschema@.partition_setting('retention_action', retention_action),
        @extschema@.partition_setting('archive_schema', archive_schema::text),
        @extschema@.partition_setting('time_zone', time_zone),
        @extschema@.partition_setting('batch_rows', batch_rows::text),
        @extschema@.partition_setting('start_from', start_from)], NULL)) AS r
$fn$;
COMMENT ON FUNCTION @extschema@.partition_table(regclass, text, text, integer, text, text, integer, boolean, text, name, text, integer, text) IS
  'Make a table a partition set (range by time or integer, list, hash), converting a plain table online; runs as the table''s owner and reports what it did';

CREATE FUNCTION @extschema@.maintain_partitions(parent regclass DEFAULT NULL)
RETURNS TABLE(parent_table regclass, action text, partition text, rows bigint, detail text)
LANGUAGE sql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT r.parent_table::regclass, r.action, r.partition, r.rows, r.detail
  FROM @extschema@.partition_request('maintain', parent::oid) AS r
$fn$;
COMMENT ON FUNCTION @extschema@.maintain_partitions(regclass) IS
  'Create partitions ahead, move rows out of default partitions, apply retention: for one set or every enabled set you own (a no-op on a standby)';

CREATE FUNCTION @extschema@.undo_partitioning(parent regclass)
RETURNS TABLE(parent_table regclass, action text, partition text, rows bigint, detail text)
LANGUAGE sql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT r.parent_table::regclass, r.action, r.partition, r.rows, r.detail
  FROM @extschema@.partition_request('undo', parent::oid) AS r
$fn$;
COMMENT ON FUNCTION @extschema@.undo_partitioning(regclass) IS
  'Turn a partition set back into a plain table of the same name, with its rows, indexes, constraints and grants (writers wait while the rows are copied)';

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

-- create_index: build an index without blocking writes, on a plain table or on a partitioned one
-- (any depth), and leave nothing INVALID behind when the build fails. The index advisor's DDL for
-- partitioned tables and automatic indexing use it; a DBA can call it by hand:
--
--     SELECT * FROM optimizer.create_index('sales.orders', ARRAY['customer_id', 'created_at']);
--     SELECT * FROM optimizer.create_index('"Weird Table"', ARRAY['Col A', '(lower("Col B"))'],
--                                          include => ARRAY['id'], predicate => '"Col A" > 0');
--
-- What runs, all of it in ONE background worker (@extschema@.run_in_worker_as, as the table's
-- owner, whose privileges the caller holds (never as the caller: a superuser's call, or
-- auto-indexing's, runs the owner's index expressions with the owner's rights),
-- every statement on its own at the top level, each command under lock_timeout and
-- statement_timeout; label 'create_index'):
--
--   plain table (or matview, or a single partition):
--       CREATE [UNIQUE] INDEX CONCURRENTLY name ON tbl USING method (...) [INCLUDE (...)] [WHERE (...)]
--
--   partitioned table:
--       BEGIN;  CREATE INDEX name ON ONLY parent ...               (INVALID until complete)
--               CREATE INDEX midname ON ONLY mid ...                (each partitioned child)
--               ALTER INDEX name ATTACH PARTITION midname; ...
--       COMMIT;
--       then for every leaf partition, one after the other:
--               CREATE INDEX CONCURRENTLY leafname ON leaf ...;
--               ALTER INDEX <its parent's index> ATTACH PARTITION leafname
--       and, when a leaf already has an equivalent valid index (plain key columns, no predicate,
--       default operator classes, collations and order, not backing a constraint, not attached
--       elsewhere), that index is attached instead of building another one, at the very end,
--       all in one transaction:  BEGIN; ALTER INDEX ... ATTACH PARTITION existing; ... COMMIT
--   After the last attach PostgreSQL marks the parent index valid by itself. Partitions created
--   or attached later get the index from PostgreSQL (CREATE TABLE ... PARTITION OF, ATTACH
--   PARTITION), from the moment the ON ONLY index exists.
--
-- Why the caller does not wait: CREATE INDEX CONCURRENTLY waits for every transaction whose
-- snapshot is older than its own to end, the caller's included. A function waiting for its worker
-- holds such a snapshot for as long as it waits, so the build would wait for the caller and the
-- caller for the build, until lock_timeout breaks the tie and the build fails (leaving an INVALID
-- index). So create_index hands the commands over (run_in_worker(..., wait => false)) and returns
-- at once: one row per index, status 'started', and a last summary row; run_id says where the
-- outcome is recorded:
--
--     SELECT status, message FROM optimizer.job_runs WHERE run_id = <run_id>;
--       succeeded  the index exists and is valid (pg_index.indisvalid, checked by the last step)
--       failed     it was not created; the message lists the steps that failed and their errors,
--                  and ends with what was removed (or, if something could not be removed, what
--                  to drop by hand)
--
-- Call it on its own (autocommit): the builds wait for the calling transaction to end (at most
-- lock_timeout), and cannot see what it has not committed. lock_timeout also bounds the waits of
-- CREATE INDEX CONCURRENTLY for older transactions (PostgreSQL waits for them as for locks): a
-- transaction older than the build that runs longer than lock_timeout makes it fail, cleanly.
--
-- Failure and clean-up. The commands are guarded so that the first failure stops the rest: each
-- build starts with `SELECT @extschema@.create_index_step('claim', ...)`, which checks that the
-- step before it left a valid, attached index and that the names it is about to use are free, and
-- remembers them (in a setting of the worker's session) as made by this run; a failed claim fails
-- the command, so its CREATE INDEX never runs. At the end, whatever happened:
--   'settle'  (a function, so it cannot drop concurrently) renames each unattached leaf index of
--             this run that is not part of a valid result (the INVALID one a failed concurrent
--             build leaves, or a valid one whose attach failed) to create_index_failed_<run>, and,
--             when the index is not complete, drops the ON ONLY indexes of this run with a plain
--             DROP INDEX (that also drops the leaf indexes already attached to them; PostgreSQL
--             locks every partition for a moment to drop a partitioned index);
--   SET lock_timeout = 0; DROP INDEX CONCURRENTLY IF EXISTS <schema>.create_index_failed_<run>
--             (per schema; a no-op when nothing failed; its waits block no reads or writes, so it
--             waits up to statement_timeout rather than give up and leave the INVALID index);
--   'finish'  checks that the index is valid and that nothing of this run is left INVALID; when
--             not, it fails with the details, so the run ends 'failed'.
-- Only indexes this run made are ever dropped: names are claimed only while free, and an
-- existing index attached by the reuse step is never dropped (the parent index is then left
-- INVALID and 'finish' says so).


-- ---------------------------------------------------------------------------------------------
-- create_index_step: the guard, clean-up and check steps of a create_index run. Called only by
-- the commands create_index hands to its worker, in that worker's session; by hand it does
-- nothing useful (it only acts on indexes claimed in the same session).
--
--   create_index_step('claim',  run, after, names)   after: the index the previous step should have
--                                                    left (NULL for the first step); names: the
--                                                    indexes this step creates ('"schema"."name"')
--   create_index_step('settle', run, top, reused)    reused: existing leaf indexes the run attaches
--   create_index_step('finish', run, top)

CREATE FUNCTION @extschema@.create_index_step(step text, run text, index text DEFAULT NULL, names text[] DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    setting   text;
    claimed   text[];
    doomed    text;
    top       oid;
    ok        boolean;
    r         record;
    n         text;
    done      text[] := '{}';
    leftovers text[] := '{}';
    drops     text[] := '{}';
BEGIN
    IF run IS NULL OR run !~ '^[0-9a-f]{12}$' THEN
        RAISE EXCEPTION 'create_index_step: not a create_index run: %', COALESCE(run, 'NULL')
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    setting := 'optimizer_create_index.run_' || run;
    doomed  := 'create_index_failed_' || run;
    claimed := COALESCE(NULLIF(pg_catalog.current_setting(setting, true), '')::text[], '{}');

    IF step = 'claim' THEN
        IF index IS NOT NULL THEN
            -- The previous step must have left its index: valid and attached for a leaf index,
            -- present for the ON ONLY ones (they become valid only at the end).
            SELECT c.relkind, c.relispartition, x.indisvalid, x.indisready INTO r
              FROM pg_catalog.pg_class c
              JOIN pg_catalog.pg_index x ON x.indexrelid = c.oid
             WHERE c.oid = pg_catalog.to_regclass(index);
            IF NOT FOUND OR NOT (index = ANY (claimed))
               OR (r.relkind = 'i' AND NOT (r.indisvalid AND r.indisready AND r.relispartition)) THEN
                RAISE EXCEPTION 'skipped: an earlier step of this create_index run did not succeed'
                      USING ERRCODE = 'object_not_in_prerequisite_state';
            END IF;
        END IF;
        FOREACH n IN ARRAY COALESCE(names, '{}') LOOP
            IF pg_catalog.to_regclass(n) IS NOT NULL THEN
                RAISE EXCEPTION 'not run: % exists already (it was created after create_index chose the name)', n
                      USING ERRCODE = 'duplicate_table';
            END IF;
        END LOOP;
        PERFORM pg_catalog.set_config(setting, (claimed || COALESCE(names, '{}'))::text, false);
        RETURN pg_catalog.format('claimed %s', COALESCE(pg_catalog.array_to_string(names, ', '), ''));
    END IF;

    IF step NOT IN ('settle', 'finish') THEN
        RAISE EXCEPTION 'create_index_step: unknown step %', COALESCE(step, 'NULL')
              USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- Is the result there: the index of this run, valid (a partitioned index is valid once
    -- every partition has a valid index attached)?
    top := pg_catalog.to_regclass(index);
    SELECT COALESCE(index = ANY (claimed) AND x.indisvalid AND x.indisready, false) INTO ok
      FROM pg_catalog.pg_index x WHERE x.indexrelid = top;
    ok := COALESCE(ok, false);

    IF step = 'settle' THEN
        -- Leaf indexes of this run that are not attached anywhere and not part of a valid result:
        -- renamed for the DROP INDEX CONCURRENTLY commands that follow (a function cannot drop
        -- concurrently). Attached ones go with their partitioned index below.
        FOR r IN
            SELECT u.name, c.oid, c.relnamespace, x.indisvalid
              FROM pg_catalog.unnest(claimed) AS u(name)
              JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(u.name)
              JOIN pg_catalog.pg_index x ON x.indexrelid = c.oid
             WHERE c.relkind = 'i' AND NOT c.relispartition
               AND (NOT ok OR NOT x.indisvalid)
        LOOP
            BEGIN
                IF EXISTS (SELECT 1 FROM pg_catalog.pg_class d
                            WHERE d.relnamespace = r.relnamespace AND d.relname = doomed) THEN
                    -- a second one in the same schema (cannot happen with one failure per run)
                    EXECUTE pg_catalog.format('DROP INDEX %s', r.name);
                    done := done || pg_catalog.format('dropped %s', r.name);
                ELSE
                    EXECUTE pg_catalog.format('ALTER INDEX %s RENAME TO %I', r.name, doomed);
                    done := done || pg_catalog.format('%s renamed to %I to be dropped concurrently', r.name, doomed);
                END IF;
            EXCEPTION WHEN OTHERS THEN
                done := done || pg_catalog.format('could not remove %s: %s', r.name, SQLERRM);
            END;
        END LOOP;

        IF NOT ok THEN
            -- The ON ONLY indexes of this run that hang under no other: DROP INDEX, which also
            -- drops what is attached to them. Not when an existing index the run attached is
            -- among those (dropping it would drop the user's index).
            FOR r IN
                SELECT u.name, c.oid
                  FROM pg_catalog.unnest(claimed) AS u(name)
                  JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(u.name)
                 WHERE c.relkind = 'I' AND NOT c.relispartition
            LOOP
                IF EXISTS (WITH RECURSIVE below(relid) AS (
                               SELECT r.oid
                               UNION ALL
                               SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN below b ON i.inhparent = b.relid)
                           SELECT 1 FROM below b
                            WHERE b.relid IN (SELECT pg_catalog.to_regclass(e)
                                                FROM pg_catalog.unnest(COALESCE(names, '{}')) AS e)) THEN
                    done := done || pg_catalog.format('kept %s: an existing index is attached to it', r.name);
                    CONTINUE;
                END IF;
                FOR attempt IN 1..3 LOOP
                    BEGIN
                        EXECUTE pg_catalog.format('DROP INDEX %s', r.name);
                        done := done || pg_catalog.format('dropped %s', r.name);
                        EXIT;
                    EXCEPTION WHEN lock_not_available THEN
                        -- lock_timeout: wait a moment and try again, three times in all
                        IF attempt = 3 THEN
                            done := done || pg_catalog.format('could not drop %s: %s', r.name, SQLERRM);
                            EXIT;
                        END IF;
                        PERFORM pg_catalog.pg_sleep(attempt);
                    END;
                END LOOP;
            END LOOP;
        END IF;
        RETURN CASE WHEN ok THEN pg_catalog.format('%s is valid', index) ELSE pg_catalog.format('%s was not created', index) END
               || COALESCE('; ' || NULLIF(pg_catalog.array_to_string(done, '; '), ''), '');
    END IF;

    -- finish: what of this run is still there and should not be.
    FOR r IN
        SELECT u.name, c.relkind, x.indisvalid
          FROM pg_catalog.unnest(claimed) AS u(name)
          JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(u.name)
          JOIN pg_catalog.pg_index x ON x.indexrelid = c.oid
         WHERE NOT ok OR NOT x.indisvalid
        UNION ALL
        SELECT pg_catalog.format('%I.%I', s.nspname, c.relname), c.relkind, x.indisvalid
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace
          JOIN pg_catalog.pg_index x ON x.indexrelid = c.oid
         WHERE c.relname = doomed
    LOOP
        leftovers := leftovers || (r.name || CASE WHEN r.indisvalid THEN '' ELSE ' (INVALID)' END);
        drops := drops || CASE WHEN r.relkind = 'I' THEN pg_catalog.format('DROP INDEX %s;', r.name)
                               ELSE pg_catalog.format('DROP INDEX CONCURRENTLY %s;', r.name) END;
    END LOOP;

    IF ok AND pg_catalog.cardinality(leftovers) = 0 THEN
        RETURN pg_catalog.format('%s is valid', index);
    ELSIF ok THEN
        RAISE EXCEPTION 'index % was created, but could not remove: %', index, pg_catalog.array_to_string(leftovers, ', ')
              USING ERRCODE = 'object_not_in_prerequisite_state',
                    HINT = 'Drop them: ' || pg_catalog.array_to_string(drops, ' ');
    ELSIF pg_catalog.cardinality(leftovers) = 0 THEN
        RAISE EXCEPTION 'index % was not created; nothing this run built is left', index
              USING ERRCODE = 'object_not_in_prerequisite_state',
                    HINT = 'The failed steps above say why.';
    ELSE
        RAISE EXCEPTION 'index % was not created, and could not remove: %', index, pg_catalog.array_to_string(leftovers, ', ')
              USING ERRCODE = 'object_not_in_prerequisite_state',
                    HINT = 'Drop them (the failed steps above say why): ' || pg_catalog.array_to_string(drops, ' ');
    END IF;
END
$fn$;

COMMENT ON FUNCTION @extschema@.create_index_step(text, text, text, text[]) IS
  'Internal: the guard (claim), clean-up (settle) and check (finish) steps of a create_index() run, called by the commands it hands to its background worker.';


-- ---------------------------------------------------------------------------------------------
-- create_index_start: the body of create_index() (PL/pgSQL cannot give a parameter the name of a
-- result column, and create_index has both an index_name parameter and an index_name column).
-- Plans everything, checks everything it can before anything starts, then hands the commands to
-- one background worker and returns.

CREATE FUNCTION @extschema@.create_index_start(
    target            regclass,
    key_columns       text[],
    method            text,
    include_columns   text[],
    predicate         text,
    wanted_name       text,
    is_unique         boolean,
    lock_timeout      interval,
    statement_timeout interval)
RETURNS TABLE (index_name text, on_table text, status text, message text, duration_ms float8, run_id bigint)
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t0          timestamptz := pg_catalog.clock_timestamp();
    run         text := pg_catalog.substr(pg_catalog.md5(pg_catalog.random()::text || pg_catalog.clock_timestamp()::text
                                                         || pg_catalog.pg_backend_pid()::text), 1, 12);
    doomed      text;
    root        record;
    am_oid      oid;
    incl        text[] := COALESCE(include_columns, '{}');
    col         text;
    frag        text;
    verbatim    text[] := '{}';
    plain_keys  boolean := true;
    key_sql     text[] := '{}';
    key_names   text[] := '{}';
    spec        text;          -- ' USING am (keys) [INCLUDE (...)] [WHERE (...)]'
    uniq        text := CASE WHEN is_unique THEN 'UNIQUE ' ELSE '' END;
    s           text;
    depth       int;
    ch          text;
    path        text;
    node        record;
    base        text;
    nm          text;
    suffix      text;
    planned     text[] := '{}';   -- '"schema"."name"' of every index this run creates
    -- the plan, one entry per partitioned table / leaf, in order
    p_rel       oid[]  := '{}';
    p_kind      text[] := '{}';   -- 'plain' | 'parent' | 'mid' | 'leaf' | 'reuse'
    p_index     text[] := '{}';   -- qualified index name
    p_table     text[] := '{}';   -- qualified table name
    p_ddl       text[] := '{}';
    reused      text[] := '{}';
    schemas     text[] := '{}';   -- schemas of the leaf indexes (for the concurrent drops)
    existing    text;
    k           int;
    after       text;
    first_cmd   text;
    cmds        text[] := '{}';
    top         text;
    w_run       bigint;
    nbuild      int := 0;
BEGIN
    -- ---- arguments ------------------------------------------------------------------------
    IF target IS NULL OR key_columns IS NULL OR method IS NULL OR is_unique IS NULL
       OR lock_timeout IS NULL OR statement_timeout IS NULL THEN
        RAISE EXCEPTION 'create_index: target, columns, method, is_unique and the timeouts must not be NULL'
              USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF lock_timeout < interval '0' OR statement_timeout < interval '0' THEN
        RAISE EXCEPTION 'create_index: timeouts must not be negative'
              USING ERRCODE = 'invalid_parameter_value', HINT = '0 means no timeout.';
    END IF;

    SELECT c.oid, c.relname, c.relkind, c.relpersistence, c.relowner, c.relnamespace, n.nspname,
           pg_catalog.format('%I.%I', n.nspname, c.relname) AS qname
      INTO root
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = target;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'create_index: relation with OID % does not exist', target::oid
              USING ERRCODE = 'undefined_table';
    END IF;
    IF root.relkind NOT IN ('r', 'p', 'm') THEN
        RAISE EXCEPTION 'create_index: % is not a table or materialized view', target
              USING ERRCODE = 'wrong_object_type';
    END IF;
    IF root.nspname IN ('pg_catalog', 'pg_toast', 'information_schema') THEN
        RAISE EXCEPTION 'create_index: % is a system table', target
              USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF root.relpersistence = 't' THEN
        RAISE EXCEPTION 'create_index: % is a temporary table', target
              USING ERRCODE = 'feature_not_supported',
                    HINT = 'The build runs in a background worker, which cannot see temporary tables: use CREATE INDEX.';
    END IF;

    SELECT a.oid INTO am_oid FROM pg_catalog.pg_am a WHERE a.amname = method AND a.amtype = 'i';
    IF am_oid IS NULL THEN
        RAISE EXCEPTION 'create_index: index access method "%" does not exist', method
              USING ERRCODE = 'undefined_object',
                    HINT = 'One of: ' || (SELECT pg_catalog.string_agg(a.amname::text, ', ' ORDER BY a.amname)
                                            FROM pg_catalog.pg_am a WHERE a.amtype = 'i') || '.';
    END IF;
    IF is_unique AND NOT pg_catalog.pg_indexam_has_property(am_oid, 'can_unique') THEN
        RAISE EXCEPTION 'create_index: access method "%" does not support unique indexes', method
              USING ERRCODE = 'feature_not_supported';
    END IF;
    IF pg_catalog.cardinality(incl) > 0 AND NOT pg_catalog.pg_indexam_has_property(am_oid, 'can_include') THEN
        RAISE EXCEPTION 'create_index: access method "%" does not support included columns', method
              USING ERRCODE = 'feature_not_supported';
    END IF;
    IF pg_catalog.cardinality(key_columns) = 0 THEN
        RAISE EXCEPTION 'create_index: columns must name at least one column or expression'
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_catalog.cardinality(key_columns) > 1 AND NOT pg_catalog.pg_indexam_has_property(am_oid, 'can_multi_col') THEN
        RAISE EXCEPTION 'create_index: access method "%" does not support multicolumn indexes', method
              USING ERRCODE = 'feature_not_supported';
    END IF;

    -- Key columns: a column name (quoted here), or '(' expression ')' [opclass] [ASC|DESC] ...
    -- used as written. Included columns: names.
    FOREACH col IN ARRAY key_columns LOOP
        IF col IS NULL OR col = '' THEN
            RAISE EXCEPTION 'create_index: columns must not contain NULL or empty names'
                  USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF pg_catalog.left(pg_catalog.ltrim(col), 1) = '(' THEN
            plain_keys := false;
            verbatim   := verbatim || col;
            key_sql    := key_sql || pg_catalog.btrim(col);
            key_names  := key_names || 'expr'::text;
        ELSE
            key_sql   := key_sql || pg_catalog.quote_ident(col);
            key_names := key_names || col;
        END IF;
    END LOOP;
    FOREACH col IN ARRAY key_columns || incl LOOP
        IF col IS NULL OR col = '' THEN
            RAISE EXCEPTION 'create_index: include must not contain NULL or empty names'
                  USING ERRCODE = 'invalid_parameter_value';
        END IF;
        CONTINUE WHEN pg_catalog.left(pg_catalog.ltrim(col), 1) = '(';
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                        WHERE a.attrelid = target AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped) THEN
            RAISE EXCEPTION 'create_index: column "%" of % does not exist', col, target
                  USING ERRCODE = 'undefined_column',
                        HINT = 'Give column names as they are (no quotes): ''Col A'', not ''"Col A"''; an expression starts with ''(''.';
        END IF;
    END LOOP;
    IF predicate IS NOT NULL THEN
        IF pg_catalog.btrim(predicate) = '' THEN
            RAISE EXCEPTION 'create_index: predicate must not be empty' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        verbatim := verbatim || predicate;
        plain_keys := false;   -- no reuse of existing indexes for partial indexes
    END IF;

    -- Expressions and the predicate go into the commands as written. They must stay inside
    -- their parentheses: outside quoted literals and quoted names, no ';', no comment, no
    -- dollar quote, and balanced parentheses.
    FOREACH frag IN ARRAY verbatim LOOP
        s := pg_catalog.regexp_replace(frag, $re$[Ee]'(?:[^'\\]|\\.|'')*'|'(?:[^']|'')*'|"(?:[^"]|"")*"$re$, ' ', 'g');
        IF s ~ '[;''"$]' OR pg_catalog.strpos(s, '--') > 0 OR pg_catalog.strpos(s, '/*') > 0 THEN
            RAISE EXCEPTION 'create_index: expression or predicate not accepted: %', frag
                  USING ERRCODE = 'syntax_error',
                        HINT = 'Write one SQL expression: no ";", comments or dollar quotes, quotes closed.';
        END IF;
        depth := 0;
        FOREACH ch IN ARRAY pg_catalog.regexp_split_to_array(s, '') LOOP
            depth := depth + CASE ch WHEN '(' THEN 1 WHEN ')' THEN -1 ELSE 0 END;
            EXIT WHEN depth < 0;
        END LOOP;
        IF depth <> 0 THEN
            RAISE EXCEPTION 'create_index: unbalanced parentheses in %', frag
                  USING ERRCODE = 'syntax_error';
        END IF;
    END LOOP;

    spec := pg_catalog.format(' USING %I (%s)', method, pg_catalog.array_to_string(key_sql, ', '));
    IF pg_catalog.cardinality(incl) > 0 THEN
        spec := spec || pg_catalog.format(' INCLUDE (%s)',
                    (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(i), ', ' ORDER BY o)
                       FROM pg_catalog.unnest(incl) WITH ORDINALITY AS u(i, o)));
    END IF;
    IF predicate IS NOT NULL THEN
        spec := spec || pg_catalog.format(' WHERE (%s)', pg_catalog.btrim(predicate));
    END IF;

    IF wanted_name IS NOT NULL AND (wanted_name = '' OR pg_catalog.octet_length(wanted_name) > 63) THEN
        RAISE EXCEPTION 'create_index: index_name must have 1 to 63 bytes'
              USING ERRCODE = 'invalid_name';
    END IF;
    IF wanted_name IS NOT NULL AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                                            WHERE c.relnamespace = root.relnamespace AND c.relname = wanted_name) THEN
        RAISE EXCEPTION 'create_index: relation "%" already exists in schema "%"', wanted_name, root.nspname
              USING ERRCODE = 'duplicate_table',
                    HINT = 'Choose another index_name, or leave it out for a generated one.';
    END IF;

    -- ---- the tables: the target and, for a partitioned one, its whole partition tree --------
    -- (from pg_inherits: no lock is taken on any of them here)
    FOR node IN
        WITH RECURSIVE tree(relid, parent, level, path) AS (
            SELECT target::oid, NULL::oid, 0, ARRAY[]::text[] COLLATE "C"
            UNION ALL
            SELECT i.inhrelid, i.inhparent, t.level + 1, t.path || (c.relname::text COLLATE "C")
              FROM tree t
              JOIN pg_catalog.pg_inherits i ON i.inhparent = t.relid
              JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
             WHERE root.relkind = 'p'
        )
        SELECT t.relid, t.parent, t.level, c.relname, c.relkind, c.relowner, c.relnamespace, n.nspname,
               pg_catalog.format('%I.%I', n.nspname, c.relname) AS qname
          FROM tree t
          JOIN pg_catalog.pg_class c ON c.oid = t.relid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         ORDER BY t.level > 0, c.relkind <> 'p', t.level, t.path
    LOOP
        -- The caller must own every table (membership in the owning role counts).
        IF NOT pg_catalog.pg_has_role(CURRENT_USER, node.relowner, 'USAGE') THEN
            RAISE EXCEPTION 'permission denied to create an index on %', node.relid::regclass
                  USING ERRCODE = 'insufficient_privilege',
                        HINT = CASE WHEN node.level = 0
                                    THEN pg_catalog.format('Only the owner of %s (role %s), a member of that role, or a superuser may index it; run it as that role (SET ROLE %s).',
                                                           node.relid::regclass, node.relowner::regrole, node.relowner::regrole)
                                    ELSE pg_catalog.format('Partition %s of %s is owned by role %s: every partition must be owned by you (or a role you are a member of).',
                                                           node.relid::regclass, target, node.relowner::regrole)
                               END;
        END IF;
        IF node.relkind NOT IN ('r', 'p', 'm') THEN
            RAISE EXCEPTION 'create_index: partition % of % is a foreign table', node.relid::regclass, target
                  USING ERRCODE = 'wrong_object_type',
                        HINT = 'Foreign partitions cannot have indexes: a concurrent build per partition is not possible here; use CREATE INDEX on the parent (it skips them, for a non-unique index).';
        END IF;

        -- A unique index on a partitioned table must contain every partition key column, at
        -- every level, as a plain key column (PostgreSQL's rule, checked here rather than later).
        IF is_unique AND node.relkind = 'p' THEN
            IF EXISTS (SELECT 1 FROM pg_catalog.pg_partitioned_table pt
                        WHERE pt.partrelid = node.relid
                          AND (pt.partexprs IS NOT NULL
                               OR EXISTS (SELECT 1
                                            FROM pg_catalog.unnest(pt.partattrs::int2[]) AS k(attnum)
                                            JOIN pg_catalog.pg_attribute a ON a.attrelid = node.relid AND a.attnum = k.attnum
                                           WHERE NOT (a.attname::text = ANY (key_columns))))) THEN
                RAISE EXCEPTION 'create_index: a unique index on % must contain its partition key columns', node.relid::regclass
                      USING ERRCODE = 'feature_not_supported',
                            DETAIL = pg_catalog.format('%s is partitioned by %s.', node.relid::regclass,
                                                       pg_catalog.pg_get_partkeydef(node.relid)),
                            HINT = 'Add every partition key column (of the table and of its partitioned partitions) to columns; a key with an expression cannot be in a unique index.';
            END IF;
        END IF;

        -- A name: the one given (for the target), else <table>_<columns>_idx within 63 bytes,
        -- then _idx1, _idx2, ... until one is free in the schema and in this run.
        nm := NULL;
        IF node.level = 0 AND wanted_name IS NOT NULL THEN
            nm := wanted_name;
        ELSE
            base := node.relname || '_' || pg_catalog.array_to_string(key_names, '_');
            FOR i IN 0..9999 LOOP
                suffix := CASE WHEN i = 0 THEN '_idx' ELSE '_idx' || i END;
                s := base;
                WHILE pg_catalog.octet_length(s || suffix) > 63 LOOP
                    s := pg_catalog.left(s, -1);
                END LOOP;
                s := s || suffix;
                IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.relnamespace = node.relnamespace AND c.relname = s)
                   AND NOT (pg_catalog.format('%I.%I', node.nspname, s) = ANY (planned))
                   AND s <> 'create_index_failed_' || run THEN
                    nm := s;
                    EXIT;
                END IF;
            END LOOP;
        END IF;

        -- A leaf with an equivalent valid index of its own: attach that one. Only for plain key
        -- columns without a predicate, and only what PostgreSQL's ATTACH accepts for certain:
        -- same access method, uniqueness, columns (by name) and INCLUDE columns in order,
        -- default operator classes, collations and order, not attached to another index, not
        -- backing a constraint.
        existing := NULL;
        IF node.level > 0 AND node.relkind IN ('r', 'm') AND plain_keys THEN
            SELECT pg_catalog.format('%I.%I', xn.nspname, xc.relname) INTO existing
              FROM pg_catalog.pg_index x
              JOIN pg_catalog.pg_class xc ON xc.oid = x.indexrelid
              JOIN pg_catalog.pg_namespace xn ON xn.oid = xc.relnamespace
             WHERE x.indrelid = node.relid
               AND x.indisvalid AND x.indisready AND x.indislive
               AND NOT xc.relispartition
               AND xc.relam = am_oid
               AND x.indisunique = is_unique
               AND x.indnkeyatts = pg_catalog.cardinality(key_columns)
               AND x.indnatts = pg_catalog.cardinality(key_columns) + pg_catalog.cardinality(incl)
               AND x.indexprs IS NULL AND x.indpred IS NULL
               AND (SELECT pg_catalog.array_agg(k.attnum ORDER BY k.o) FROM pg_catalog.unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, o))
                   = (SELECT pg_catalog.array_agg(a.attnum ORDER BY u.o)
                        FROM pg_catalog.unnest(key_columns || incl) WITH ORDINALITY AS u(name, o)
                        JOIN pg_catalog.pg_attribute a ON a.attrelid = node.relid AND a.attname = u.name
                                                      AND a.attnum > 0 AND NOT a.attisdropped)
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(x.indoption::int2[]) AS o(opt) WHERE o.opt <> 0)
               AND NOT EXISTS (SELECT 1
                                 FROM pg_catalog.unnest(x.indclass::oid[]) WITH ORDINALITY AS k(opc, o)
                                 JOIN pg_catalog.pg_opclass oc ON oc.oid = k.opc
                                WHERE k.o <= x.indnkeyatts AND NOT oc.opcdefault)
               AND NOT EXISTS (SELECT 1
                                 FROM ROWS FROM (pg_catalog.unnest(x.indcollation::oid[]), pg_catalog.unnest(x.indkey::int2[]))
                                      WITH ORDINALITY AS k(coll, attnum, o)
                                 JOIN pg_catalog.pg_attribute a ON a.attrelid = node.relid AND a.attnum = k.attnum
                                WHERE k.o <= x.indnkeyatts AND k.coll <> a.attcollation)
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint pc WHERE pc.conindid = x.indexrelid)
               AND NOT (is_unique AND pg_catalog.pg_get_indexdef(x.indexrelid) LIKE '% NULLS NOT DISTINCT %')
             ORDER BY xc.relname
             LIMIT 1;
        END IF;

        p_rel   := p_rel || node.relid;
        p_table := p_table || node.qname;
        IF existing IS NOT NULL THEN
            p_kind  := p_kind || 'reuse'::text;
            p_index := p_index || existing;
            p_ddl   := p_ddl || pg_catalog.format('ALTER INDEX %s ATTACH PARTITION %s',
                                                  p_index[pg_catalog.array_position(p_rel, node.parent)], existing);
            reused  := reused || existing;
            CONTINUE;
        END IF;
        p_index := p_index || pg_catalog.format('%I.%I', node.nspname, nm);
        planned := planned || pg_catalog.format('%I.%I', node.nspname, nm);
        IF node.relkind = 'p' THEN
            p_kind := p_kind || CASE WHEN node.level = 0 THEN 'parent' ELSE 'mid' END;
            p_ddl  := p_ddl || (pg_catalog.format('CREATE %sINDEX %I ON ONLY %s', uniq, nm, node.qname) || spec
                                || CASE WHEN node.level > 0
                                        THEN pg_catalog.format('; ALTER INDEX %s ATTACH PARTITION %I.%I',
                                                               p_index[pg_catalog.array_position(p_rel, node.parent)],
                                                               node.nspname, nm)
                                        ELSE '' END);
        ELSE
            p_kind  := p_kind || CASE WHEN node.level = 0 THEN 'plain' ELSE 'leaf' END;
            p_ddl   := p_ddl || (pg_catalog.format('CREATE %sINDEX CONCURRENTLY %I ON %s', uniq, nm, node.qname) || spec
                                 || CASE WHEN node.level > 0
                                         THEN pg_catalog.format('; ALTER INDEX %s ATTACH PARTITION %I.%I',
                                                                p_index[pg_catalog.array_position(p_rel, node.parent)],
                                                                node.nspname, nm)
                                         ELSE '' END);
            schemas := schemas || node.nspname::text;
            nbuild  := nbuild + 1;
        END IF;
    END LOOP;

    top := p_index[1];

    -- ---- check the definition now rather than in the worker ----------------------------------
    -- The what-if engine parses and analyses the statement like CREATE INDEX (columns, types,
    -- operator classes, expressions, predicate) without building anything, under the search_path
    -- the worker will use (the table owner's own; see src/pg/identity.rs).
    IF method IN ('btree', 'hash', 'brin', 'gin') THEN
        DECLARE
            hypo      oid;
            role_path text;
            st        text;
            msg       text;
            hint      text;
        BEGIN
            SELECT pg_catalog.substr(x.c, 13) INTO role_path
              FROM (SELECT pg_catalog.unnest(d.setconfig) AS c,
                           CASE WHEN d.setdatabase <> 0 AND d.setrole <> 0 THEN 1
                                WHEN d.setrole <> 0 THEN 2 WHEN d.setdatabase <> 0 THEN 3 ELSE 4 END AS prio
                      FROM pg_catalog.pg_db_role_setting d
                     WHERE d.setdatabase IN (0, (SELECT db.oid FROM pg_catalog.pg_database db
                                                  WHERE db.datname = pg_catalog.current_database()))
                       AND d.setrole IN (0, root.relowner)) x
             WHERE x.c LIKE 'search_path=%'
             ORDER BY x.prio LIMIT 1;
            -- The owner's path, "$user" being the owner (the worker builds as the owner).
            role_path := pg_catalog.regexp_replace(COALESCE(role_path, '"$user", public'), '"?\$user"?',
                                                   pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(root.relowner)), 'g');
            PERFORM pg_catalog.set_config('search_path', role_path || ', pg_temp', true);
            SELECT h.indexrelid INTO hypo
              FROM @extschema@.hypothetical_index(pg_catalog.format('CREATE %sINDEX ON %s', uniq, root.qname) || spec) AS h;
            PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
            PERFORM @extschema@.drop_hypothetical(hypo);
        EXCEPTION
            WHEN feature_not_supported THEN
                NULL;   -- something the what-if engine does not model: the real build decides
            WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
                RAISE EXCEPTION 'create_index: %', msg
                      USING ERRCODE = st,
                            DETAIL = pg_catalog.format('The index would be: CREATE %sINDEX ON %s%s', uniq, root.qname, spec),
                            HINT = COALESCE(NULLIF(hint, '') || ' ', '')
                                   || 'Names in expressions are resolved with the table owner''s own search_path; schema-qualify them to be sure.';
        END;
    END IF;

    IF pg_catalog.transaction_timestamp() <> pg_catalog.statement_timestamp() THEN
        RAISE WARNING 'create_index: called inside a transaction block'
              USING DETAIL = 'The concurrent builds wait for this transaction to end (at most lock_timeout) and do not see what it has not committed.',
                    HINT = 'Call create_index on its own, outside BEGIN ... COMMIT.';
    END IF;

    -- ---- the commands --------------------------------------------------------------------------
    doomed := 'create_index_failed_' || run;
    after := NULL;
    -- partitioned: every ON ONLY index and its attach, in one transaction (all or nothing)
    IF root.relkind = 'p' THEN
        first_cmd := pg_catalog.format('SELECT @extschema@.create_index_step(%L, %L, NULL, %L); BEGIN',
                                       'claim', run,
                                       (SELECT pg_catalog.array_agg(p_index[i] ORDER BY i)
                                          FROM pg_catalog.generate_subscripts(p_kind, 1) AS i
                                         WHERE p_kind[i] IN ('parent', 'mid'))::text);
        FOR k IN 1 .. pg_catalog.cardinality(p_kind) LOOP
            CONTINUE WHEN p_kind[k] NOT IN ('parent', 'mid');
            first_cmd := first_cmd || '; ' || p_ddl[k];
        END LOOP;
        cmds := cmds || (first_cmd || '; COMMIT');
        after := top;
    END IF;
    -- each leaf (or the plain table): claim, build concurrently, attach
    FOR k IN 1 .. pg_catalog.cardinality(p_kind) LOOP
        CONTINUE WHEN p_kind[k] NOT IN ('plain', 'leaf');
        cmds := cmds || (pg_catalog.format('SELECT @extschema@.create_index_step(%L, %L, %L, %L); ',
                                           'claim', run, after, ARRAY[p_index[k]]::text)
                         || p_ddl[k]);
        after := p_index[k];
    END LOOP;
    -- existing equivalent leaf indexes: attached last, all in one transaction
    IF pg_catalog.cardinality(reused) > 0 THEN
        first_cmd := pg_catalog.format('SELECT @extschema@.create_index_step(%L, %L, %L, NULL); BEGIN', 'claim', run, after);
        FOR k IN 1 .. pg_catalog.cardinality(p_kind) LOOP
            CONTINUE WHEN p_kind[k] <> 'reuse';
            first_cmd := first_cmd || '; ' || p_ddl[k];
        END LOOP;
        cmds := cmds || (first_cmd || '; COMMIT');
    END IF;
    -- verify; remove what a failure left
    cmds := cmds || pg_catalog.format('SELECT @extschema@.create_index_step(%L, %L, %L, %L)', 'settle', run, top, reused::text);
    FOR s IN SELECT DISTINCT u.nsp FROM pg_catalog.unnest(schemas) AS u(nsp) ORDER BY 1 LOOP
        -- Waiting here blocks no reads or writes (only other DDL and VACUUM of the table), and
        -- giving up would leave the INVALID index: wait up to statement_timeout, not lock_timeout.
        cmds := cmds || pg_catalog.format('SET lock_timeout = 0; DROP INDEX CONCURRENTLY IF EXISTS %I.%I', s, doomed);
    END LOOP;
    cmds := cmds || pg_catalog.format('SELECT @extschema@.create_index_step(%L, %L, %L)', 'finish', run, top);

    -- ---- hand them over ------------------------------------------------------------------------
    -- wait => false: see the top of this file (a waiting caller would block its own builds).
    SELECT w.run_id INTO w_run
      FROM @extschema@.run_in_worker_as(root.relowner, cmds,
                                     statement_timeout => create_index_start.statement_timeout,
                                     lock_timeout      => create_index_start.lock_timeout,
                                     wait              => false,
                                     label             => 'create_index') AS w
     LIMIT 1;

    FOR k IN 1 .. pg_catalog.cardinality(p_kind) LOOP
        index_name  := p_index[k];
        on_table    := p_table[k];
        status      := 'started';
        message     := CASE p_kind[k]
                            WHEN 'reuse' THEN 'existing equivalent index, to be attached: ' || p_ddl[k]
                            ELSE p_ddl[k] END;
        duration_ms := NULL;
        run_id      := w_run;
        RETURN NEXT;
    END LOOP;
    index_name  := top;
    on_table    := root.qname;
    status      := 'started';
    message     := pg_catalog.format('run %s (job create_index): %s%s concurrent build(s)%s, in a background worker; '
                                     'when it ends, SELECT status, message FROM @extschema@.job_runs WHERE run_id = %s '
                                     '(succeeded: %s is valid; failed: it was not created, and the message says why and names anything that could not be removed)',
                                     w_run,
                                     CASE WHEN root.relkind = 'p'
                                          THEN pg_catalog.format('%s ON ONLY index(es), ', pg_catalog.cardinality(planned) - nbuild)
                                          ELSE '' END,
                                     nbuild,
                                     CASE WHEN pg_catalog.cardinality(reused) > 0
                                          THEN pg_catalog.format(', %s existing index(es) attached', pg_catalog.cardinality(reused))
                                          ELSE '' END,
                                     w_run, top);
    duration_ms := EXTRACT(epoch FROM pg_catalog.clock_timestamp() - t0) * 1000;
    run_id      := w_run;
    RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION @extschema@.create_index_start(regclass, text[], text, text[], text, text, boolean, interval, interval) IS
  'The body of create_index(); call create_index().';


CREATE FUNCTION @extschema@.create_index(
    target            regclass,
    columns           text[],
    method            text     DEFAULT 'btree',
    include           text[]   DEFAULT NULL,
    predicate         text     DEFAULT NULL,
    index_name        text     DEFAULT NULL,
    is_unique         boolean  DEFAULT false,
    lock_timeout      interval DEFAULT '10 seconds',
    statement_timeout interval DEFAULT '1 hour')
RETURNS TABLE (index_name text, on_table text, status text, message text, duration_ms float8, run_id bigint)
LANGUAGE sql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT * FROM @extschema@.create_index_start($1, $2, $3, $4, $5, $6, $7, $8, $9)
$fn$;

COMMENT ON FUNCTION @extschema@.create_index(regclass, text[], text, text[], text, text, boolean, interval, interval) IS
  'Build an index without blocking writes: CREATE INDEX CONCURRENTLY on a plain table; on a partitioned one an ON ONLY index, a concurrent build on every leaf and ATTACH PARTITION. Runs in a background worker as you (you must own the tables) and returns at once with its run_id: the outcome is in optimizer.job_runs. A failed build leaves no INVALID index behind.';

-- Auto-indexing: apply the index advisor's advice, verify that each index helped the statements it
-- was built for, and roll back those that did not. Every step is recorded in
-- optimizer.index_actions, its intent before the DDL and its outcome after.
--
--   pg_optimizer.autoindex = off | advise | apply   (default advise: record only)
--
-- autoindex_run() (built-in job, every 30 minutes; builds start only inside
-- pg_optimizer.autoindex_window):
--   * settles what earlier runs started (see autoindex_settle);
--   * takes index_advice's create advice that saves at least autoindex_min_benefit percent of the
--     workload cost, best first, within autoindex_max_indexes_per_run, autoindex_max_indexes_per_table
--     (live auto-created indexes), autoindex_max_total_size (all live auto-created indexes) and the
--     free-disk reserve (autoindex_free_disk_reserve percent of the disk left free after a build
--     counted at twice the estimated size);
--   * records each as an action with its before-metrics: the targeted statements' calls and total
--     time, the table's write statements' calls and total time, the planner costs;
--   * apply mode: builds it through optimizer.create_index (CREATE INDEX CONCURRENTLY, on a
--     partitioned table ON ONLY + a concurrent build per partition + ATTACH; as the table's owner
--     under SECURITY_RESTRICTED_OPERATION, in a background worker; a failed build leaves no
--     INVALID index). It does not wait for the build (a concurrent build waits for its caller's
--     transaction): the action stays 'building' until autoindex_settle sees its run end.
--     advise mode: the action is 'would create' (the same advice is recorded once; later runs only
--     update last_seen).
--   * never widens (same leading keys, more keys or INCLUDE columns) an index it built, unless
--     autoindex_drop is on (whose drop advice then removes the narrower one);
--   * never builds an index whose action is building, created or verified, nor one rolled back in
--     the last 7 days, nor one create_index refused in the last day; a failed build (cancelled,
--     timed out) is tried again by the next run.
--   * with pg_optimizer.autoindex_drop = on, applies drop advice (unused and duplicate indexes; the
--     advisor never proposes constraint indexes) once the same index has been advised for dropping
--     for autoindex_drop_grace.
--
-- autoindex_verify() (built-in job, every 5 minutes): settles, then for each created index whose
-- targeted statements have run autoindex_verify_min_calls times since the build (or after
-- autoindex_verify_max_wait), compares their mean time since the build with the mean before it,
-- crediting only the statements whose executed plans used the index (optimizer.predicate_entries
-- records the index of every index scan). It keeps the index ('verified') when they got faster by
-- at least autoindex_min_improvement percent, unless the table's writes slowed down by more than
-- autoindex_max_write_regression percent and that extra write time outweighs the read time the
-- index saved (a per-call mean alone is noisy: the "before" writes ran beside the scans the index
-- removes); otherwise it drops it (CONCURRENTLY, as the owner) and records 'rolled back' with the
-- numbers.
--
-- Both run nothing on a standby, and only a superuser (the built-in jobs' owner) may call them.

CREATE TABLE @extschema@.index_actions (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    action text NOT NULL CHECK (action IN ('create', 'drop')),
    mode text NOT NULL CHECK (mode IN ('advise', 'apply')),
    status text NOT NULL CHECK (status IN ('would create', 'would drop', 'drop candidate', 'skipped', 'building', 'created',
                                           'failed', 'verified', 'rolling back', 'rolled back', 'dropping', 'dropped')),
    relid oid NOT NULL,
    table_name text NOT NULL,
    owner regrole,
    index_name text NOT NULL,
    -- what runs: the create_index call (creates), DROP INDEX [CONCURRENTLY] (drops and roll-backs)
    ddl text NOT NULL,
    reason text,
    queryids bigint[] NOT NULL DEFAULT '{}',
    estimated_bytes bigint,
    -- {"statements": [{"queryid", "calls", "total_ms"}...], "writes": {...}, "cost_before", "cost_after"}
    before jsonb,
    -- the same at the build's end (the baseline of the verification), then the verdict's figures
    after jsonb,
    run_id bigint,
    built_at timestamptz,
    decided_at timestamptz,
    last_seen timestamptz NOT NULL DEFAULT pg_catalog.now(),
    message text
);
CREATE INDEX index_actions_open ON @extschema@.index_actions (status) WHERE status IN ('building', 'created', 'rolling back', 'dropping', 'drop candidate');
COMMENT ON TABLE @extschema@.index_actions IS
  'pg_optimizer auto-indexing: every action (intent before the DDL, outcome after: created, failed, verified, rolled back, dropped) with the statements it targeted and their before/after figures';
ALTER TABLE @extschema@.index_actions ENABLE ROW LEVEL SECURITY;
CREATE POLICY actions_of_their_owner ON @extschema@.index_actions FOR SELECT
    USING (owner IS NOT NULL AND pg_catalog.pg_has_role(owner, 'USAGE'));
GRANT SELECT ON @extschema@.index_actions TO PUBLIC;

-- The calls and total time of statements (summed over users), and of the table's write
-- statements (INSERT INTO / UPDATE / DELETE FROM the table, by their text).
CREATE FUNCTION @extschema@.autoindex_figures(queryids bigint[], relid oid)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
WITH q AS (
    SELECT s.queryid, sum(s.calls)::bigint AS calls, sum(s.total_exec_time) AS total_ms
      FROM @extschema@.statements s
     WHERE s.queryid = ANY (queryids) AND s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
     GROUP BY s.queryid
), t AS (
    SELECT c.relname, n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = relid
), w AS (
    SELECT sum(s.calls)::bigint AS calls, sum(s.total_exec_time) AS total_ms
      FROM @extschema@.statements s, t
     WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND s.query ~* ('^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(("?' || regexp_replace(t.nspname, '(\W)', '\\\1', 'g')
                       || '"?)\.)?"?' || regexp_replace(t.relname, '(\W)', '\\\1', 'g') || '"?(\s|$|\()')
)
SELECT jsonb_build_object(
    'statements', COALESCE((SELECT jsonb_agg(jsonb_build_object('queryid', q.queryid, 'calls', q.calls, 'total_ms', q.total_ms)
                                             ORDER BY q.queryid) FROM q), '[]'::jsonb),
    'writes', (SELECT jsonb_build_object('calls', COALESCE(w.calls, 0), 'total_ms', COALESCE(w.total_ms, 0)) FROM w),
    'at', now())
$fn$;

-- Whether the current time is inside pg_optimizer.autoindex_window ('HH:MM-HH:MM', server time
-- zone, may wrap midnight; empty: always).
CREATE FUNCTION @extschema@.autoindex_in_window(at timestamptz DEFAULT pg_catalog.now())
RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    w text := coalesce(current_setting('pg_optimizer.autoindex_window', true), '');
    lo time;
    hi time;
    t time := at::time;
BEGIN
    IF btrim(w) = '' THEN
        RETURN true;
    END IF;
    IF w !~ '^\s*\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2}\s*$' THEN
        RAISE EXCEPTION 'pg_optimizer.autoindex_window "%" is not a window', w
              USING ERRCODE = 'invalid_parameter_value', HINT = 'Use HH:MM-HH:MM in the server''s time zone, such as 01:00-05:00, or empty for any time.';
    END IF;
    lo := btrim(split_part(w, '-', 1))::time;
    hi := btrim(split_part(w, '-', 2))::time;
    RETURN CASE WHEN lo <= hi THEN t >= lo AND t < hi ELSE t >= lo OR t < hi END;
END
$fn$;

-- Move actions whose worker run ended to their outcome: building -> created / failed,
-- rolling back -> rolled back, dropping -> dropped (a failed drop is retried by autoindex_verify).
CREATE FUNCTION @extschema@.autoindex_settle()
RETURNS TABLE(action_id bigint, action text, table_name text, index_name text, status text, detail text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    a @extschema@.index_actions;
    r record;
    ix oid;
BEGIN
    FOR a IN SELECT * FROM @extschema@.index_actions x
              WHERE x.status IN ('building', 'rolling back', 'dropping') ORDER BY x.id FOR UPDATE LOOP
        SELECT j.status, j.message INTO r FROM @extschema@.job_runs j WHERE j.run_id = a.run_id;
        CONTINUE WHEN r.status IS NULL OR r.status IN ('starting', 'running');
        ix := to_regclass(format('%I.%I', (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                             WHERE c.oid = a.relid), a.index_name));
        IF a.status = 'building' THEN
            IF r.status = 'succeeded' AND ix IS NOT NULL THEN
                UPDATE @extschema@.index_actions x
                   SET status = 'created', built_at = now(), after = @extschema@.autoindex_figures(a.queryids, a.relid),
                       message = format('built, %s', pg_size_pretty(pg_relation_size(ix)))
                 WHERE x.id = a.id;
                status := 'created';
            ELSE
                UPDATE @extschema@.index_actions x SET status = 'failed', decided_at = now(), message = r.message WHERE x.id = a.id;
                status := 'failed';
            END IF;
        ELSIF a.status = 'rolling back' THEN
            IF ix IS NULL THEN
                UPDATE @extschema@.index_actions x SET status = 'rolled back', decided_at = now() WHERE x.id = a.id;
                status := 'rolled back';
            ELSE
                UPDATE @extschema@.index_actions x SET status = 'created', message = 'the roll-back failed and is retried: ' || r.message
                 WHERE x.id = a.id;
                status := 'created';
            END IF;
        ELSE
            UPDATE @extschema@.index_actions x
               SET status = CASE WHEN ix IS NULL THEN 'dropped' ELSE 'failed' END, decided_at = now(),
                   message = CASE WHEN ix IS NULL THEN x.message ELSE r.message END
             WHERE x.id = a.id;
            status := CASE WHEN ix IS NULL THEN 'dropped' ELSE 'failed' END;
        END IF;
        action_id := a.id; action := a.action; table_name := a.table_name; index_name := a.index_name;
        detail := (SELECT x.message FROM @extschema@.index_actions x WHERE x.id = a.id);
        RETURN NEXT;
    END LOOP;
END
$fn$;

-- Start a DROP INDEX of an action's index as the table's owner (CONCURRENTLY unless the index
-- belongs to a partitioned table), without waiting; the run id.
CREATE FUNCTION @extschema@.autoindex_start_drop(relid oid, index_name text, label text)
RETURNS TABLE(run_id bigint, ddl text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t record;
BEGIN
    SELECT c.relowner, c.relkind, n.nspname INTO t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = relid;
    ddl := format(CASE WHEN t.relkind = 'p' THEN 'DROP INDEX %I.%I' ELSE 'DROP INDEX CONCURRENTLY %I.%I' END, t.nspname, index_name);
    SELECT w.run_id INTO run_id FROM @extschema@.run_in_worker_as(t.relowner, ARRAY[ddl], wait => false, label => label) w LIMIT 1;
    RETURN NEXT;
END
$fn$;

CREATE FUNCTION @extschema@.autoindex_run()
RETURNS TABLE(action_id bigint, action text, table_name text, index_name text, status text, detail text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    run_mode text := current_setting('pg_optimizer.autoindex');
    max_run int := current_setting('pg_optimizer.autoindex_max_indexes_per_run')::int;
    max_table int := current_setting('pg_optimizer.autoindex_max_indexes_per_table')::int;
    max_total bigint := pg_size_bytes(current_setting('pg_optimizer.autoindex_max_total_size'));
    min_benefit float8 := current_setting('pg_optimizer.autoindex_min_benefit')::float8;
    reserve_pct int := current_setting('pg_optimizer.autoindex_free_disk_reserve')::int;
    drop_on boolean := current_setting('pg_optimizer.autoindex_drop')::boolean;
    grace interval := current_setting('pg_optimizer.autoindex_drop_grace')::interval;
    c record;
    t record;
    disk record;
    started int := 0;
    run_bytes bigint := 0;
    live_bytes bigint;
    per_table int;
    existing @extschema@.index_actions;
    new_id bigint;
    w_run bigint;
    why text;
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = CURRENT_USER) THEN
        RAISE EXCEPTION 'autoindex_run: must be superuser' USING ERRCODE = 'insufficient_privilege',
              HINT = 'The built-in job autoindex_run runs it; pg_optimizer.autoindex says what it does.';
    END IF;
    IF run_mode = 'off' THEN
        RETURN;
    END IF;
    IF pg_is_in_recovery() THEN
        RAISE NOTICE 'pg_optimizer: this server is a standby: auto-indexing runs on the primary';
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM @extschema@.autoindex_settle();
    IF NOT @extschema@.autoindex_in_window() THEN
        RAISE NOTICE 'pg_optimizer: outside pg_optimizer.autoindex_window (%): no build starts', current_setting('pg_optimizer.autoindex_window');
        RETURN;
    END IF;
    SELECT * INTO disk FROM @extschema@.disk_space();
    SELECT COALESCE(sum(pg_relation_size(to_regclass(format('%I.%I', n.nspname, a.index_name)))), 0) INTO live_bytes
      FROM @extschema@.index_actions a JOIN pg_class cl ON cl.oid = a.relid JOIN pg_namespace n ON n.oid = cl.relnamespace
     WHERE a.action = 'create' AND a.status IN ('building', 'created', 'verified');

    FOR c IN SELECT * FROM @extschema@.autoindex_candidates() x ORDER BY x.benefit_share DESC NULLS LAST LOOP
        SELECT cl.relowner, cl.relkind, format('%I.%I', n.nspname, cl.relname) AS qname INTO t
          FROM pg_class cl JOIN pg_namespace n ON n.oid = cl.relnamespace WHERE cl.oid = c.relid;
        CONTINUE WHEN NOT FOUND;
        IF c.action = 'drop' THEN
            CONTINUE WHEN NOT drop_on;
            SELECT * INTO existing FROM @extschema@.index_actions a
             WHERE a.action = 'drop' AND a.relid = c.relid AND a.index_name = c.index_name
               AND a.status IN ('drop candidate', 'would drop', 'dropping') ORDER BY a.id DESC LIMIT 1;
            IF existing.id IS NULL THEN
                INSERT INTO @extschema@.index_actions (action, mode, status, relid, table_name, owner, index_name, ddl, reason, estimated_bytes)
                VALUES ('drop', run_mode, CASE WHEN run_mode = 'apply' THEN 'drop candidate' ELSE 'would drop' END, c.relid, t.qname,
                        t.relowner::regrole, c.index_name, c.ddl, c.reason, c.estimated_bytes)
                RETURNING id INTO new_id;
                action_id := new_id; action := 'drop'; table_name := t.qname; index_name := c.index_name;
                status := CASE WHEN run_mode = 'apply' THEN 'drop candidate' ELSE 'would drop' END;
                detail := format('advised since now; dropped after %s if still advised', grace);
                RETURN NEXT;
            ELSE
                UPDATE @extschema@.index_actions a SET last_seen = now() WHERE a.id = existing.id;
                IF run_mode = 'apply' AND existing.status = 'drop candidate' AND now() - existing.at >= grace THEN
                    SELECT d.run_id INTO w_run FROM @extschema@.autoindex_start_drop(c.relid, c.index_name, 'autoindex drop') d;
                    UPDATE @extschema@.index_actions a SET status = 'dropping', run_id = w_run WHERE a.id = existing.id;
                    action_id := existing.id; action := 'drop'; table_name := t.qname; index_name := c.index_name;
                    status := 'dropping'; detail := format('advised for dropping since %s; run %s', existing.at, w_run);
                    RETURN NEXT;
                END IF;
            END IF;
            CONTINUE;
        END IF;
        -- create
        CONTINUE WHEN c.benefit_share * 100 < min_benefit OR c.build IS NULL;
        why := NULL;
        IF EXISTS (SELECT 1 FROM @extschema@.index_actions a
                    WHERE a.action = 'create' AND a.relid = c.relid AND a.ddl = c.build
                      AND (a.status IN ('building', 'created', 'verified', 'rolling back')
                           OR (a.status = 'rolled back' AND a.decided_at > now() - interval '7 days')
                           -- refused before it started (not a failed build, which is retried at once)
                           OR (a.status = 'failed' AND a.run_id IS NULL AND a.decided_at > now() - interval '1 day'))) THEN
            CONTINUE;
        END IF;
        -- A widening (same leading keys, more keys or INCLUDE) of an index auto-indexing built here
        -- would leave two: only with autoindex_drop on, whose drop advice then removes the old one.
        IF NOT drop_on AND EXISTS (
            SELECT 1 FROM @extschema@.index_actions a
             WHERE a.action = 'create' AND a.relid = c.relid AND a.status IN ('building', 'created', 'verified')
               AND position(rtrim(substring(a.ddl FROM 'ARRAY\[([^]]*)\]'), ']') IN substring(c.build FROM 'ARRAY\[([^]]*)\]')) = 1) THEN
            CONTINUE;
        END IF;
        SELECT count(*) INTO per_table FROM @extschema@.index_actions a
         WHERE a.action = 'create' AND a.relid = c.relid AND a.status IN ('building', 'created', 'verified');
        IF started >= max_run THEN
            why := format('pg_optimizer.autoindex_max_indexes_per_run (%s) reached', max_run);
        ELSIF per_table >= max_table THEN
            why := format('%s already has %s auto-created index(es) (pg_optimizer.autoindex_max_indexes_per_table)', t.qname, per_table);
        ELSIF live_bytes + run_bytes + c.estimated_bytes > max_total THEN
            why := format('auto-created indexes would take %s (pg_optimizer.autoindex_max_total_size = %s)',
                          pg_size_pretty(live_bytes + run_bytes + c.estimated_bytes), current_setting('pg_optimizer.autoindex_max_total_size'));
        ELSIF disk.free_bytes - 2 * (run_bytes + c.estimated_bytes) < disk.total_bytes * reserve_pct / 100 THEN
            why := format('not enough free disk: %s free, %s needed (twice the estimate) with %s%% of %s kept free',
                          pg_size_pretty(disk.free_bytes), pg_size_pretty(2 * c.estimated_bytes), reserve_pct, pg_size_pretty(disk.total_bytes));
        END IF;
        -- The same advice already recorded (advise run_mode, or skipped): note that it was seen again.
        SELECT * INTO existing FROM @extschema@.index_actions a
         WHERE a.action = 'create' AND a.relid = c.relid AND a.ddl = c.build
           AND a.status = CASE WHEN why IS NOT NULL THEN 'skipped' WHEN run_mode = 'advise' THEN 'would create' ELSE '-' END
         ORDER BY a.id DESC LIMIT 1;
        IF existing.id IS NOT NULL THEN
            UPDATE @extschema@.index_actions a SET last_seen = now(), message = COALESCE(why, a.message) WHERE a.id = existing.id;
            CONTINUE;
        END IF;
        INSERT INTO @extschema@.index_actions (action, mode, status, relid, table_name, owner, index_name, ddl, reason, queryids,
                                               estimated_bytes, before, message)
        VALUES ('create', run_mode,
                CASE WHEN why IS NOT NULL THEN 'skipped' WHEN run_mode = 'apply' THEN 'building' ELSE 'would create' END,
                c.relid, t.qname, t.relowner::regrole, c.index_name, c.build, c.reason, c.queryids, c.estimated_bytes,
                @extschema@.autoindex_figures(c.queryids, c.relid)
                    || jsonb_build_object('cost_before', c.workload_cost_before, 'cost_after', c.workload_cost_after,
                                          'benefit_share', c.benefit_share),
                why)
        RETURNING id INTO new_id;
        action_id := new_id; action := 'create'; table_name := t.qname; index_name := c.index_name;
        IF why IS NOT NULL THEN
            status := 'skipped'; detail := why;
        ELSIF run_mode = 'advise' THEN
            status := 'would create'; detail := c.reason;
        ELSE
            -- The intent is committed with the job's transaction; the build starts now in a worker.
            BEGIN
                EXECUTE 'SELECT max(r.run_id) FROM (' || c.build || ') r' INTO w_run;
                UPDATE @extschema@.index_actions a SET run_id = w_run WHERE a.id = new_id;
                started := started + 1;
                run_bytes := run_bytes + c.estimated_bytes;
                status := 'building';
                detail := format('run %s: %s', w_run, c.build);
            EXCEPTION WHEN OTHERS THEN
                -- Refused before anything started (create_index checks the definition): record it.
                GET STACKED DIAGNOSTICS why = MESSAGE_TEXT;
                UPDATE @extschema@.index_actions a SET status = 'failed', decided_at = now(), message = why WHERE a.id = new_id;
                status := 'failed';
                detail := why;
            END;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$fn$;

CREATE FUNCTION @extschema@.autoindex_verify()
RETURNS TABLE(action_id bigint, action text, table_name text, index_name text, status text, detail text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    min_calls bigint := current_setting('pg_optimizer.autoindex_verify_min_calls')::bigint;
    max_wait interval := current_setting('pg_optimizer.autoindex_verify_max_wait')::interval;
    min_improvement float8 := current_setting('pg_optimizer.autoindex_min_improvement')::float8;
    max_write float8 := current_setting('pg_optimizer.autoindex_max_write_regression')::float8;
    a @extschema@.index_actions;
    now_fig jsonb;
    ix oid;
    ixs oid[];
    st record;
    calls_after bigint;
    calls_all bigint;
    ms_after float8;
    ms_before_weighted float8;
    used int;
    improvement float8;
    write_change float8;
    write_extra_ms float8;
    verdict text;
    why text;
    w_run bigint;
    figures jsonb;
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = CURRENT_USER) THEN
        RAISE EXCEPTION 'autoindex_verify: must be superuser' USING ERRCODE = 'insufficient_privilege',
              HINT = 'The built-in job autoindex_verify runs it.';
    END IF;
    IF current_setting('pg_optimizer.autoindex') = 'off' OR pg_is_in_recovery() THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM @extschema@.autoindex_settle();
    FOR a IN SELECT * FROM @extschema@.index_actions x WHERE x.action = 'create' AND x.status = 'created' ORDER BY x.id LOOP
        ix := to_regclass(format('%I.%I', (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                             WHERE c.oid = a.relid), a.index_name));
        IF ix IS NULL THEN
            UPDATE @extschema@.index_actions x SET status = 'rolled back', decided_at = now(),
                   message = 'the index was dropped by someone else' WHERE x.id = a.id;
            CONTINUE;
        END IF;
        -- The index and its partitions' indexes (plans scan those of a partitioned table).
        WITH RECURSIVE tree(oid) AS (SELECT ix UNION ALL SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.oid)
        SELECT array_agg(tree.oid) INTO ixs FROM tree;
        now_fig := @extschema@.autoindex_figures(a.queryids, a.relid);
        -- Per targeted statement: calls and time since the build, whether its plans used the index.
        calls_after := 0; calls_all := 0; ms_after := 0; ms_before_weighted := 0; used := 0;
        FOR st IN
            SELECT (b->>'queryid')::bigint AS queryid,
                   (b->>'calls')::bigint AS calls_before, (b->>'total_ms')::float8 AS ms_before,
                   COALESCE((m->>'calls')::bigint, 0) AS calls_built, COALESCE((m->>'total_ms')::float8, 0) AS ms_built,
                   COALESCE((n->>'calls')::bigint, 0) AS calls_now, COALESCE((n->>'total_ms')::float8, 0) AS ms_now
              FROM jsonb_array_elements(a.before->'statements') b
              LEFT JOIN jsonb_array_elements(a.after->'statements') m ON m->>'queryid' = b->>'queryid'
              LEFT JOIN jsonb_array_elements(now_fig->'statements') n ON n->>'queryid' = b->>'queryid'
        LOOP
            CONTINUE WHEN st.calls_before <= 0 OR st.calls_now - st.calls_built <= 0;
            calls_all := calls_all + (st.calls_now - st.calls_built);
            CONTINUE WHEN NOT EXISTS (SELECT 1 FROM @extschema@.predicate_entries e
                                       WHERE e.queryid = st.queryid AND e.indexid = ANY (ixs) AND e.last_seen >= a.built_at);
            used := used + 1;
            calls_after := calls_after + (st.calls_now - st.calls_built);
            ms_after := ms_after + (st.ms_now - st.ms_built);
            ms_before_weighted := ms_before_weighted + (st.calls_now - st.calls_built) * st.ms_before / st.calls_before;
        END LOOP;
        -- Not yet enough evidence: wait (unless waited long enough).
        IF calls_all < min_calls AND now() - a.built_at < max_wait THEN
            CONTINUE;
        END IF;
        improvement := CASE WHEN ms_before_weighted > 0 THEN 100 * (1 - ms_after / ms_before_weighted) END;
        write_change := CASE WHEN (a.after->'writes'->>'calls')::bigint > 0 AND (a.before->'writes'->>'calls')::bigint > 0
                                  AND (now_fig->'writes'->>'calls')::bigint - (a.after->'writes'->>'calls')::bigint >= 20
                             THEN 100 * ((((now_fig->'writes'->>'total_ms')::float8 - (a.after->'writes'->>'total_ms')::float8)
                                          / ((now_fig->'writes'->>'calls')::bigint - (a.after->'writes'->>'calls')::bigint))
                                         / NULLIF((a.before->'writes'->>'total_ms')::float8 / (a.before->'writes'->>'calls')::bigint, 0) - 1) END;
        -- The writes' extra time since the build, at the mean before it.
        write_extra_ms := CASE WHEN write_change IS NOT NULL
                               THEN ((now_fig->'writes'->>'total_ms')::float8 - (a.after->'writes'->>'total_ms')::float8)
                                    * write_change / (100 + write_change) END;
        IF used = 0 THEN
            verdict := 'rolling back';
            why := format('no targeted statement''s executed plan used the index (%s calls since the build)', calls_all);
        ELSIF write_change IS NOT NULL AND write_change > max_write AND write_extra_ms > ms_before_weighted - ms_after THEN
            verdict := 'rolling back';
            why := format('the table''s writes got %s%% slower (pg_optimizer.autoindex_max_write_regression = %s), '
                          'costing %s ms more since the build than the %s ms it saved the reads',
                          round(write_change::numeric, 1), max_write, round(write_extra_ms::numeric, 1),
                          round((ms_before_weighted - ms_after)::numeric, 1));
        ELSIF improvement IS NULL OR improvement < min_improvement THEN
            verdict := 'rolling back';
            why := format('the statements that use it got %s%% faster, less than pg_optimizer.autoindex_min_improvement = %s%%',
                          COALESCE(round(improvement::numeric, 1), 0), min_improvement);
        ELSE
            verdict := 'verified';
            why := format('%s statement(s) that use it: mean %s ms before, %s ms after (%s%% faster) over %s calls',
                          used, round((ms_before_weighted / calls_after)::numeric, 3), round((ms_after / calls_after)::numeric, 3),
                          round(improvement::numeric, 1), calls_after);
        END IF;
        figures := jsonb_build_object('statements', now_fig->'statements', 'writes', now_fig->'writes', 'at', now(),
                                      'build', a.after, 'calls_after', calls_all, 'calls_using_it', calls_after,
                                      'mean_ms_before', CASE WHEN calls_after > 0 THEN ms_before_weighted / calls_after END,
                                      'mean_ms_after', CASE WHEN calls_after > 0 THEN ms_after / calls_after END,
                                      'improvement_pct', improvement, 'write_change_pct', write_change,
                                      'write_extra_ms', write_extra_ms, 'statements_using_it', used);
        IF verdict = 'verified' THEN
            UPDATE @extschema@.index_actions x SET status = 'verified', decided_at = now(), after = figures, message = why WHERE x.id = a.id;
        ELSE
            SELECT d.run_id INTO w_run FROM @extschema@.autoindex_start_drop(a.relid, a.index_name, 'autoindex rollback') d;
            UPDATE @extschema@.index_actions x SET status = 'rolling back', run_id = w_run, after = figures, message = why WHERE x.id = a.id;
        END IF;
        action_id := a.id; action := 'create'; table_name := a.table_name; index_name := a.index_name;
        status := verdict; detail := why;
        RETURN NEXT;
    END LOOP;
END
$fn$;

REVOKE ALL ON FUNCTION @extschema@.autoindex_run(), @extschema@.autoindex_verify(), @extschema@.autoindex_settle(),
                       @extschema@.autoindex_start_drop(oid, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.disk_space() FROM PUBLIC;

-- Built-in: the loop. Both are no-ops with pg_optimizer.autoindex = off; builds start only inside
-- pg_optimizer.autoindex_window.
INSERT INTO @extschema@.jobs (name, schedule, command, owner, builtin, timeout)
VALUES ('autoindex_run', '30 minutes', 'SELECT count(*) FROM @extschema@.autoindex_run()', CURRENT_USER::text::regrole, true, '30 minutes'),
       ('autoindex_verify', '5 minutes', 'SELECT count(*) FROM @extschema@.autoindex_verify()', CURRENT_USER::text::regrole, true, '10 minutes');

-- Storage and housekeeping insights (issue 15): table_bloat, index_bloat, stale_statistics,
-- vacuum_health, wraparound_risk, cache_hit, sequence_exhaustion.
--
-- Every view lists findings only (a clean database gives no row) and ends with
--     severity text        'info' | 'warning' | 'critical'
--     evidence text        the numbers behind the finding
--     recommendation text  the SQL to run (SQL comments after it are advice), else advice text
-- They read the catalogs and the cumulative statistics only (pg_class, pg_stats, pg_stat_*,
-- pg_statio_*, pg_sequence and each sequence's own row): no table or index is read, no lock
-- above AccessShareLock is taken. (Not pg_sequences: its pg_sequence_last_value() opens each
-- sequence with RowExclusiveLock.)
-- Objects of the current database only. Sizes come from pg_class.relpages (as of the last
-- VACUUM / ANALYZE / CREATE INDEX), not from pg_relation_size, which would lock.
--
-- Thresholds (constants in the views) and severities:
--
-- table_bloat      Statistics-based estimate (the ioguix / PgHero method, not n_dead_tup): the
--                  expected heap size is reltuples rows of
--                      4 (line pointer) + MAXALIGN(23 + null bitmap) + MAXALIGN(sum over columns
--                      of (1 - null_frac) * (avg_width + alignment padding before the column))
--                  bytes each, packed into floor((block_size - 24) * fillfactor/100 / row) rows
--                  per page; bloat = relpages - expected pages (so dead rows not yet vacuumed
--                  count as waste). The padding is approximated from the unpadded offsets (short
--                  varlenas unaligned), and TOAST is left out (avg_width is the in-line width).
--                  Checked against pgstattuple: a table half dead after a mass update, 50.0 %
--                  estimated vs 49.8 % free; freshly loaded tables (pgbench_accounts, a table of
--                  7 mixed columns with nulls) 0 % vs 1.3-1.4 %; the worst case seen, narrow
--                  mixed-alignment columns (smallint, bigint, bool, bigint, int, timestamptz,
--                  short text), 6.5 % vs 0.4 %. Tables whose columns lack statistics (never
--                  analyzed) are left out: see stale_statistics.
--                  Listed when bloat >= 20 % and >= 10 MB.
--                  info     >= 20 % and >= 10 MB
--                  warning  >= 30 % and >= 10 MB
--                  critical >= 50 % and >= 1 GB
--                  Recommendation: VACUUM (ANALYZE) when >= 20 % of the rows are dead (n_dead_tup:
--                  the space is not even reusable yet), else VACUUM (FULL, ANALYZE) (ACCESS
--                  EXCLUSIVE lock for the rewrite) or, online, pg_repack.
-- index_bloat      The estimate of reindex_bloated (maintenance.sql: index_bloat_estimates, one
--                  implementation): btree only, the
--                  same exclusions, listed with reindex_bloated's defaults (bloat >= 30 % of the
--                  index and >= 10 MB), so a row here is an index reindex_bloated() would rebuild
--                  (if you may: the view lists every index, the function only yours).
--                  warning  >= 30 % and >= 10 MB
--                  critical >= 50 % and >= 1 GB
--                  Recommendation: REINDEX INDEX CONCURRENTLY (over 10 GB reindex_bloated skips it:
--                  said in the evidence).
-- stale_statistics The criteria of analyze_stale with its defaults, except the misestimate rule
--                  (it needs the preloaded library's shared memory, a view cannot fall back):
--                  never analyzed (no (auto)analyze recorded and nothing in pg_stats) but holding
--                  rows, or n_mod_since_analyze >= 1000 and >= 10 % of reltuples. Partitions of a
--                  partitioned table that is listed are left out (its ANALYZE covers them), and so
--                  are tables that belong to an extension (analyze_stale does not leave them out:
--                  on a fresh install it would list optimizer.jobs, 4 rows never analyzed).
--                  info     changed >= 1000 rows and >= 10 %
--                  warning  never analyzed with rows, or changed >= 50 % (or estimated empty)
--                  (no critical)
--                  Recommendation: ANALYZE.
-- vacuum_health    Tables and materialized views (not temporary ones), with
--                  dead    n_dead_tup >= 1000 and >= 20 % of n_live_tup + n_dead_tup
--                          (vacuum_needed's defaults)
--                  behind  n_dead_tup >= 1000 and above the table's own autovacuum trigger
--                          autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor * reltuples
--                          (reloptions first, then the settings), and either autovacuum is off
--                          (autovacuum = off, track_counts = off or autovacuum_enabled = false on
--                          the table) or no autovacuum in the last hour, and no VACUUM running on
--                          it now: autovacuum should have run but has not
--                  old     n_dead_tup >= 1000 and no (auto)vacuum for 7 days (or never)
--                  critical dead and behind with autovacuum off (nothing will clean it up)
--                  warning  dead, or behind
--                  info     old only
--                  Recommendation: VACUUM (ANALYZE); with autovacuum off for the table, ALTER
--                  TABLE ... RESET (autovacuum_enabled); with autovacuum on but behind, per-table
--                  settings (lower scale factor, cost delay).
-- wraparound_risk  The current database (datfrozenxid / datminmxid) and every table, system
--                  catalogs and temporary tables included (age of relfrozenxid of the table or
--                  its TOAST table, whichever is older, and mxid_age(relminmxid)):
--                  info     age >= 150 000 000 (vacuum_needed's freeze_age default, which is also
--                           the default vacuum_freeze_table_age)
--                  warning  age >= autovacuum_freeze_max_age (XIDs) or
--                           autovacuum_multixact_freeze_max_age (multixacts): the table's reloption
--                           when lower, as autovacuum does. Anti-wraparound autovacuum is due.
--                  critical age >= 1 500 000 000 (the hard stop is 2^31 = 2 147 483 648)
--                  Recommendation: VACUUM (FREEZE, VERBOSE) table; for the database row, the
--                  whole database.
-- cache_hit        The current database (pg_stat_database), tables (heap + TOAST,
--                  pg_statio_all_tables) and indexes (pg_statio_all_indexes) whose buffer hit
--                  ratio hits / (hits + reads) is below 99 %, with at least 10 000 blocks
--                  (80 MB at 8 kB) requested and 1 000 read since the statistics were reset.
--                  warning  < 99 %
--                  critical < 95 %  (< 90 % for the database)
--                  Recommendation: a bigger shared_buffers for the database; for a table mostly
--                  read by sequential scans, an index (optimizer.index_advice); else advice.
-- sequence_exhaustion  Sequences (that you may read: others have no last_value in pg_sequences),
--                  non-cycling, and the columns they feed (identity, serial / OWNED BY, or any
--                  DEFAULT nextval(...)): last_value against the smaller of the sequence's
--                  maximum and the column type's (so an int4 column fed by a bigint sequence is
--                  measured against 2^31 - 1); descending sequences against their minimum.
--                  warning  >= 75 % used
--                  critical >= 90 % used
--                  Recommendation: ALTER TABLE ... ALTER COLUMN ... TYPE bigint (rewrites the table)
--                  and/or ALTER SEQUENCE ... AS bigint / NO MAXVALUE.


-- ---------------------------------------------------------------------------------------------
-- table_bloat

CREATE VIEW @extschema@.table_bloat AS
WITH const AS (
    SELECT pg_catalog.current_setting('block_size')::numeric                 AS bs,
           COALESCE((SELECT ci.max_data_alignment
                       FROM pg_catalog.pg_control_init() ci), 8)::numeric     AS maxalign
), tbl AS (
    SELECT c.oid, n.nspname, c.relname, c.relpages, c.reltuples, c.relnatts,
           COALESCE((SELECT pg_catalog.substring(o, '^fillfactor=(\d+)$')::numeric
                       FROM pg_catalog.unnest(c.reloptions) AS o
                      WHERE o LIKE 'fillfactor=%'), 100)                      AS fillfactor
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     CROSS JOIN const k
     WHERE c.relkind IN ('r', 'm')
       -- at least 10 MB: a smaller table cannot waste the 10 MB a finding needs, so the 10,000
       -- small tables of a big schema never reach the pg_stats join below
       AND c.relpages::numeric * k.bs >= 10485760
       AND c.reltuples >= 0                     -- -1: never vacuumed or analyzed
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
       AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
       AND (n.nspname NOT LIKE 'pg\_temp\_%' OR n.oid = pg_catalog.pg_my_temp_schema())
), cols AS (
    -- one row per column, in order, with the bytes it takes on average and its alignment:
    -- fixed-length types and long varlenas are aligned (typalign), short varlenas (1-byte
    -- header, avg_width < 127) are not
    SELECT t.oid, a.attnum, ps.null_frac, ps.avg_width,
           ((1 - ps.null_frac) * ps.avg_width)::numeric                       AS bytes,
           CASE WHEN a.attlen = -1 AND ps.avg_width < 127 THEN 1
                ELSE CASE a.attalign WHEN 'd' THEN 8 WHEN 'i' THEN 4 WHEN 's' THEN 2 ELSE 1 END
           END::numeric                                                       AS align
      FROM tbl t
      JOIN pg_catalog.pg_attribute a
        ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_catalog.pg_stats ps
        ON ps.schemaname = t.nspname AND ps.tablename = t.relname AND ps.attname = a.attname
       AND NOT ps.inherited
), offsets AS (
    SELECT c.*,
           COALESCE(pg_catalog.sum(c.bytes) OVER (PARTITION BY c.oid ORDER BY c.attnum
                                                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
                                                                              AS offs
      FROM cols c
), padded AS (
    -- padding before each column, from the unpadded offset of the columns before it (an
    -- approximation: it ignores their own padding), weighted by how often it is not null
    SELECT o.*,
           (1 - COALESCE(o.null_frac, 0))::numeric
           * (pg_catalog.ceil(o.offs / o.align) * o.align - o.offs)           AS pad
      FROM offsets o
), width AS (
    SELECT p.oid,
           pg_catalog.sum(p.bytes + p.pad)                                    AS data_bytes,
           pg_catalog.max(p.null_frac) > 0                                    AS has_nulls
      FROM padded p
     GROUP BY p.oid
    HAVING pg_catalog.count(*) = pg_catalog.count(p.avg_width)               -- statistics for every column
), est AS (
    SELECT t.*, k.bs,
           t.relpages::numeric * k.bs                                         AS table_bytes,
           pg_catalog.ceil(t.reltuples::numeric / GREATEST(1, pg_catalog.floor(
               (k.bs - 24) * t.fillfactor / 100
               / (4 + pg_catalog.ceil((23 + CASE WHEN w.has_nulls THEN pg_catalog.ceil(t.relnatts / 8.0) ELSE 0 END)
                                      / k.maxalign) * k.maxalign
                    + pg_catalog.ceil(w.data_bytes / k.maxalign) * k.maxalign))))
                                                                              AS expected_pages
      FROM tbl t
      JOIN width w ON w.oid = t.oid
     CROSS JOIN const k
), bloat AS (
    SELECT e.*,
           (GREATEST(e.relpages - e.expected_pages, 0) * e.bs)::bigint        AS bloat_bytes,
           GREATEST(e.relpages - e.expected_pages, 0) / e.relpages            AS bloat_ratio,
           COALESCE(s.n_dead_tup, 0)                                          AS dead,
           COALESCE(s.n_live_tup, 0)                                          AS live,
           GREATEST(s.last_vacuum, s.last_autovacuum)                         AS vacuumed_at
      FROM est e
      LEFT JOIN pg_catalog.pg_stat_all_tables s ON s.relid = e.oid
)
SELECT b.oid::regclass                                                        AS table_name,
       b.table_bytes::bigint                                                  AS table_bytes,
       b.bloat_bytes,
       pg_catalog.round(100 * b.bloat_ratio, 1)                               AS bloat_pct,
       CASE WHEN b.bloat_ratio >= 0.5 AND b.bloat_bytes >= 1073741824 THEN 'critical'
            WHEN b.bloat_ratio >= 0.3 THEN 'warning'
            ELSE 'info' END                                                   AS severity,
       pg_catalog.format('%s of %s (%s%%) estimated wasted: %s rows would fit in %s pages, the table has %s; %s dead rows (n_dead_tup); last vacuum: %s',
           pg_catalog.pg_size_pretty(b.bloat_bytes), pg_catalog.pg_size_pretty(b.table_bytes),
           pg_catalog.round(100 * b.bloat_ratio), b.reltuples::bigint, b.expected_pages, b.relpages,
           b.dead,
           COALESCE(pg_catalog.date_trunc('second', pg_catalog.now() - b.vacuumed_at)::text || ' ago', 'never'))
                                                                              AS evidence,
       CASE WHEN b.dead >= 0.2 * GREATEST(b.live + b.dead, 1)
            THEN pg_catalog.format('VACUUM (ANALYZE) %s;  -- %s%% of the rows are dead: vacuum first, then check again',
                                   b.oid::regclass,
                                   pg_catalog.round(100.0 * b.dead / GREATEST(b.live + b.dead, 1)))
            ELSE pg_catalog.format('VACUUM (FULL, ANALYZE) %s;  -- rewrites the table under an ACCESS EXCLUSIVE lock; online alternative: pg_repack --table=%s',
                                   b.oid::regclass, b.oid::regclass)
       END                                                                    AS recommendation
  FROM bloat b
 WHERE b.bloat_ratio >= 0.2
   AND b.bloat_bytes >= 10485760
 ORDER BY b.bloat_bytes DESC, b.oid;

COMMENT ON VIEW @extschema@.table_bloat IS
  'Tables whose estimated wasted space (from pg_stats and pg_class: average row width and fillfactor) is at least 20% and 10 MB, with the VACUUM / VACUUM FULL to run.';


-- ---------------------------------------------------------------------------------------------
-- index_bloat: the estimate of reindex_bloated (one function: index_bloat_estimates).

CREATE VIEW @extschema@.index_bloat AS
SELECT b.indexrelid::regclass                                                 AS index_name,
       b.indrelid::regclass                                                   AS table_name,
       b.index_bytes::bigint                                                  AS index_bytes,
       b.bloat_bytes::bigint                                                  AS bloat_bytes,
       pg_catalog.round(100 * b.bloat_ratio, 1)                               AS bloat_pct,
       CASE WHEN b.bloat_ratio >= 0.5 AND b.bloat_bytes >= 1073741824 THEN 'critical'
            ELSE 'warning' END                                                AS severity,
       pg_catalog.format('estimated bloat %s of %s (%s%%): %s entries would fit in %s pages, the index has %s%s',
           pg_catalog.pg_size_pretty(b.bloat_bytes), pg_catalog.pg_size_pretty(b.index_bytes),
           pg_catalog.round(100 * b.bloat_ratio), b.reltuples::bigint, b.expected_pages, b.relpages,
           CASE WHEN b.index_bytes > 10737418240
                THEN '; larger than 10 GB: reindex_bloated() skips it by default (max_index_bytes)'
                ELSE '' END)                                                  AS evidence,
       pg_catalog.format('REINDEX INDEX CONCURRENTLY %s;', b.indexrelid::regclass)
                                                                              AS recommendation
  FROM @extschema@.index_bloat_estimates(10485760) b
 WHERE b.bloat_ratio >= 0.3
   AND b.bloat_bytes >= 10485760
 ORDER BY b.bloat_bytes DESC, b.indexrelid;

COMMENT ON VIEW @extschema@.index_bloat IS
  'Btree indexes whose estimated bloat (the estimate of reindex_bloated, from pg_stats and pg_class) is at least 30% and 10 MB, with the REINDEX INDEX CONCURRENTLY to run.';


-- ---------------------------------------------------------------------------------------------
-- stale_statistics: analyze_stale's change and never-analyzed rules.

CREATE VIEW @extschema@.stale_statistics AS
WITH RECURSIVE t AS (
    SELECT c.oid,
           c.relkind,
           GREATEST(c.reltuples, 0)::bigint                                   AS est_rows,
           COALESCE(s.n_mod_since_analyze, 0)                                 AS changed,
           s.last_analyze,
           s.last_autoanalyze,
           -- no analyze recorded, and nothing in pg_stats (which a statistics reset does not
           -- clear), looked up only for those tables and one by one (OFFSET 0 keeps the
           -- planner from building all of pg_stats)
           CASE WHEN s.last_analyze IS NULL AND s.last_autoanalyze IS NULL
                THEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stats ps
                                  WHERE ps.schemaname = n.nspname AND ps.tablename = c.relname OFFSET 0)
                ELSE false END                                                AS never_analyzed,
           GREATEST(c.reltuples, s.n_live_tup, s.n_mod_since_analyze,
                    CASE WHEN c.relpages > 0 THEN 1 END, 0)::bigint          AS some_rows
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_catalog.pg_stat_all_tables s ON s.relid = c.oid
     WHERE c.relkind IN ('r', 'm', 'p')
       -- tables of extensions (this one's small job list included) are their authors' business
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e
                        WHERE e.classid = 'pg_catalog.pg_class'::regclass AND e.objid = c.oid
                          AND e.deptype = 'e')
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
       AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
       AND (n.nspname NOT LIKE 'pg\_temp\_%' OR n.oid = pg_catalog.pg_my_temp_schema())
), tree(root, relid) AS (
    -- every partitioned table with all its descendants
    SELECT t.oid, t.oid FROM t WHERE t.relkind = 'p'
    UNION ALL
    SELECT tree.root, i.inhrelid
      FROM tree JOIN pg_catalog.pg_inherits i ON i.inhparent = tree.relid
), due AS (
    SELECT t.*,
           CASE WHEN t.never_analyzed AND t.relkind = 'p' THEN
                     (SELECT pg_catalog.sum(l.some_rows) FROM tree
                        JOIN t l ON l.oid = tree.relid AND l.relkind IN ('r', 'm')
                       WHERE tree.root = t.oid)
                WHEN t.never_analyzed THEN t.some_rows
           END::bigint                                                        AS unanalyzed_rows,
           (t.relkind <> 'p' AND t.changed >= 1000 AND t.changed >= 0.1 * t.est_rows) AS changed_enough
      FROM t
), listed AS (
    SELECT d.* FROM due d WHERE d.unanalyzed_rows > 0 OR d.changed_enough
)
SELECT l.oid::regclass                                                        AS table_name,
       l.est_rows                                                             AS estimated_rows,
       l.changed                                                              AS n_mod_since_analyze,
       l.last_analyze,
       l.last_autoanalyze,
       CASE WHEN l.unanalyzed_rows > 0 OR l.changed >= 0.5 * l.est_rows THEN 'warning'
            ELSE 'info' END                                                   AS severity,
       CASE WHEN l.unanalyzed_rows > 0
            THEN pg_catalog.format('never analyzed (about %s rows)%s', l.unanalyzed_rows,
                                   CASE WHEN l.relkind = 'p'
                                        THEN ' in its partitions; autovacuum never analyzes a partitioned table'
                                        ELSE '' END)
            ELSE pg_catalog.format('%s rows changed since last analyze (%s); last analyze: %s, last autoanalyze: %s',
                                   l.changed,
                                   CASE WHEN l.est_rows > 0
                                        THEN pg_catalog.format('%s%% of %s', pg_catalog.round(100.0 * l.changed / l.est_rows), l.est_rows)
                                        ELSE 'table was estimated empty' END,
                                   COALESCE(pg_catalog.date_trunc('second', pg_catalog.now() - l.last_analyze)::text || ' ago', 'never'),
                                   COALESCE(pg_catalog.date_trunc('second', pg_catalog.now() - l.last_autoanalyze)::text || ' ago', 'never'))
       END                                                                    AS evidence,
       pg_catalog.format('ANALYZE %s;', l.oid::regclass)                      AS recommendation
  FROM listed l
 -- ANALYZE of a partitioned table analyzes its partitions too
 WHERE NOT EXISTS (SELECT 1 FROM tree JOIN listed p ON p.oid = tree.root
                    WHERE tree.relid = l.oid AND tree.root <> l.oid)
 ORDER BY l.unanalyzed_rows > 0 DESC NULLS LAST,
          l.changed::float8 / GREATEST(l.est_rows, 1) DESC,
          l.oid::regclass::text;

COMMENT ON VIEW @extschema@.stale_statistics IS
  'Tables never analyzed but holding rows, or with at least 1000 rows and 10% changed since their last analyze (the rules of analyze_stale), with the ANALYZE to run.';


-- ---------------------------------------------------------------------------------------------
-- vacuum_health

CREATE VIEW @extschema@.vacuum_health AS
WITH settings AS (
    SELECT pg_catalog.current_setting('autovacuum')::boolean
           AND pg_catalog.current_setting('track_counts')::boolean           AS av_on,
           pg_catalog.current_setting('autovacuum_vacuum_threshold')::numeric AS av_base,
           pg_catalog.current_setting('autovacuum_vacuum_scale_factor')::numeric AS av_scale
), t AS (
    SELECT c.oid,
           GREATEST(c.reltuples, 0)                                           AS reltuples,
           COALESCE(s.n_dead_tup, 0)                                          AS dead,
           COALESCE(s.n_live_tup, 0)                                          AS live,
           s.last_vacuum, s.last_autovacuum,
           GREATEST(s.last_vacuum, s.last_autovacuum)                         AS vacuumed_at,
           r.enabled, r.base, r.scale,
           p.pid IS NOT NULL                                                  AS vacuum_running
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_catalog.pg_stat_all_tables s ON s.relid = c.oid
      LEFT JOIN pg_catalog.pg_stat_progress_vacuum p ON p.relid = c.oid
      CROSS JOIN LATERAL (
          SELECT pg_catalog.max(pg_catalog.substring(o, '^autovacuum_enabled=(.*)$'))::boolean               AS enabled,
                 pg_catalog.max(pg_catalog.substring(o, '^autovacuum_vacuum_threshold=(.*)$'))::numeric     AS base,
                 pg_catalog.max(pg_catalog.substring(o, '^autovacuum_vacuum_scale_factor=(.*)$'))::numeric  AS scale
            FROM pg_catalog.unnest(c.reloptions) AS o) AS r
     WHERE c.relkind IN ('r', 'm')
       AND c.relpersistence <> 't'
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
       AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
       AND n.nspname NOT LIKE 'pg\_temp\_%'
       AND COALESCE(s.n_dead_tup, 0) >= 1000
), f AS (
    SELECT t.*,
           k.av_on AND COALESCE(t.enabled, true)                              AS av_enabled,
           k.av_on                                                            AS av_global,
           COALESCE(t.base, k.av_base)                                        AS eff_base,
           COALESCE(t.scale, k.av_scale)                                      AS eff_scale,
           COALESCE(t.base, k.av_base) + COALESCE(t.scale, k.av_scale) * t.reltuples AS av_threshold,
           t.dead::float8 / NULLIF(t.live + t.dead, 0)                        AS dead_ratio
      FROM t CROSS JOIN settings k
), c AS (
    SELECT f.*,
           (f.dead >= 0.2 * (f.live + f.dead))                                AS dead_enough,
           (f.dead > f.av_threshold AND NOT f.vacuum_running
            AND (NOT f.av_enabled
                 OR COALESCE(f.last_autovacuum, '-infinity') < pg_catalog.now() - interval '1 hour'))
                                                                              AS behind,
           COALESCE(f.vacuumed_at, '-infinity') < pg_catalog.now() - interval '7 days' AS old
      FROM f
)
SELECT c.oid::regclass                                                        AS table_name,
       c.dead                                                                 AS n_dead_tup,
       c.live                                                                 AS n_live_tup,
       c.av_threshold::bigint                                                 AS autovacuum_threshold,
       c.last_vacuum,
       c.last_autovacuum,
       CASE WHEN c.dead_enough AND c.behind AND NOT c.av_enabled THEN 'critical'
            WHEN c.dead_enough OR c.behind THEN 'warning'
            ELSE 'info' END                                                   AS severity,
       pg_catalog.concat_ws('; ',
           pg_catalog.format('%s dead rows (%s%% of %s)', c.dead,
                             pg_catalog.round((100 * COALESCE(c.dead_ratio, 0))::numeric), c.live + c.dead),
           pg_catalog.format('autovacuum triggers at %s dead rows (%s + %s x %s rows)',
                             c.av_threshold::bigint, c.eff_base, c.eff_scale, c.reltuples::bigint),
           CASE WHEN NOT c.av_global THEN 'autovacuum is off for the server (autovacuum or track_counts)'
                WHEN NOT c.av_enabled THEN 'autovacuum is off for this table (autovacuum_enabled = false)'
                WHEN c.behind THEN 'autovacuum should have run but has not in the last hour' END,
           pg_catalog.format('last vacuum: %s, last autovacuum: %s',
                             COALESCE(pg_catalog.date_trunc('second', pg_catalog.now() - c.last_vacuum)::text || ' ago', 'never'),
                             COALESCE(pg_catalog.date_trunc('second', pg_catalog.now() - c.last_autovacuum)::text || ' ago', 'never')))
                                                                              AS evidence,
       pg_catalog.format('VACUUM (ANALYZE) %s;', c.oid::regclass)
       || CASE WHEN NOT c.av_global
               THEN '  -- autovacuum is off for the whole server: ALTER SYSTEM SET autovacuum = on; SELECT pg_catalog.pg_reload_conf();'
               WHEN NOT c.av_enabled
               THEN pg_catalog.format(' ALTER TABLE %s RESET (autovacuum_enabled);', c.oid::regclass)
               WHEN c.behind
               THEN pg_catalog.format(' ALTER TABLE %s SET (autovacuum_vacuum_scale_factor = %s, autovacuum_vacuum_cost_delay = 1);  -- autovacuum sooner and faster on this table; also look for long transactions holding back cleanup',
                                      c.oid::regclass, LEAST(c.eff_scale, 0.05))
               ELSE '' END                                                    AS recommendation
  FROM c
 WHERE c.dead_enough OR c.behind OR c.old
 ORDER BY CASE WHEN c.dead_enough AND c.behind AND NOT c.av_enabled THEN 0
               WHEN c.dead_enough OR c.behind THEN 1 ELSE 2 END,
          c.dead DESC, c.oid;

COMMENT ON VIEW @extschema@.vacuum_health IS
  'Tables with many dead rows, past their own autovacuum threshold without autovacuum running, or not vacuumed for a week, with the VACUUM or autovacuum settings to apply.';


-- ---------------------------------------------------------------------------------------------
-- wraparound_risk

CREATE VIEW @extschema@.wraparound_risk AS
WITH settings AS (
    SELECT pg_catalog.current_setting('autovacuum_freeze_max_age')::bigint            AS xid_max,
           pg_catalog.current_setting('autovacuum_multixact_freeze_max_age')::bigint  AS mxid_max
), objs AS (
    SELECT 'database'::text                                                   AS object_type,
           pg_catalog.quote_ident(d.datname)                                   AS object_name,
           NULL::regclass                                                     AS rel,
           pg_catalog.age(d.datfrozenxid)::bigint                             AS xid_age,
           pg_catalog.mxid_age(d.datminmxid)::bigint                          AS mxid_age,
           k.xid_max, k.mxid_max,
           NULL::text                                                         AS xid_from
      FROM pg_catalog.pg_database d CROSS JOIN settings k
     WHERE d.datname = pg_catalog.current_database()
    UNION ALL
    SELECT 'table', c.oid::regclass::text, c.oid::regclass,
           GREATEST(pg_catalog.age(c.relfrozenxid), pg_catalog.age(tc.relfrozenxid))::bigint,
           pg_catalog.mxid_age(c.relminmxid)::bigint,
           LEAST(k.xid_max, r.xid_max), LEAST(k.mxid_max, r.mxid_max),
           CASE WHEN pg_catalog.age(tc.relfrozenxid) > pg_catalog.age(c.relfrozenxid)
                THEN 'its TOAST table ' || tc.oid::regclass::text END
      FROM pg_catalog.pg_class c
      LEFT JOIN pg_catalog.pg_class tc ON tc.oid = c.reltoastrelid
      CROSS JOIN settings k
      CROSS JOIN LATERAL (
          SELECT pg_catalog.max(pg_catalog.substring(o, '^autovacuum_freeze_max_age=(.*)$'))::bigint           AS xid_max,
                 pg_catalog.max(pg_catalog.substring(o, '^autovacuum_multixact_freeze_max_age=(.*)$'))::bigint AS mxid_max
            FROM pg_catalog.unnest(c.reloptions) AS o) AS r
     WHERE c.relkind IN ('r', 'm')
       AND c.relfrozenxid <> '0'::xid
), graded AS (
    SELECT o.*,
           CASE WHEN GREATEST(o.xid_age, o.mxid_age) >= 1500000000 THEN 'critical'
                WHEN o.xid_age >= o.xid_max OR o.mxid_age >= o.mxid_max THEN 'warning'
                WHEN GREATEST(o.xid_age, o.mxid_age) >= 150000000 THEN 'info'
           END                                                                AS severity
      FROM objs o
)
SELECT g.object_type,
       g.object_name,
       g.xid_age,
       g.mxid_age,
       g.severity,
       pg_catalog.format('transaction ID age %s (%s%% of autovacuum_freeze_max_age %s, %s%% of the 2^31 limit)%s; multixact ID age %s (autovacuum_multixact_freeze_max_age %s)',
           g.xid_age, pg_catalog.round(100.0 * g.xid_age / g.xid_max), g.xid_max,
           pg_catalog.round(100.0 * g.xid_age / 2147483648, 1),
           COALESCE(' from ' || g.xid_from, ''),
           g.mxid_age, g.mxid_max)                                            AS evidence,
       CASE WHEN g.object_type = 'database'
            THEN 'VACUUM (FREEZE, VERBOSE);  -- the whole database; or freeze first the tables listed here, oldest first'
            WHEN g.rel::text LIKE 'pg\_temp\_%' AND NOT EXISTS (
                     SELECT 1 FROM pg_catalog.pg_class c
                      WHERE c.oid = g.rel AND c.relnamespace = pg_catalog.pg_my_temp_schema())
            THEN 'temporary table of another session: only that session can vacuum it; end the session (pg_terminate_backend) to drop it'
            ELSE pg_catalog.format('VACUUM (FREEZE, VERBOSE) %s;', g.rel)
       END                                                                    AS recommendation
  FROM graded g
 WHERE g.severity IS NOT NULL
 ORDER BY GREATEST(g.xid_age, g.mxid_age) DESC, g.object_type, g.object_name;

COMMENT ON VIEW @extschema@.wraparound_risk IS
  'The database and tables whose oldest transaction or multixact ID is old (150 million, autovacuum_freeze_max_age, 1.5 billion of the 2^31 limit), with the VACUUM (FREEZE) to run.';


-- ---------------------------------------------------------------------------------------------
-- cache_hit

CREATE VIEW @extschema@.cache_hit AS
WITH objs AS (
    SELECT 'database'::text                                                   AS object_type,
           pg_catalog.quote_ident(d.datname)                                   AS object_name,
           NULL::oid                                                          AS relid,
           d.blks_hit                                                         AS hits,
           d.blks_read                                                        AS reads,
           NULL::bigint AS seq_scan, NULL::bigint AS idx_scan
      FROM pg_catalog.pg_stat_database d
     WHERE d.datname = pg_catalog.current_database()
    UNION ALL
    SELECT 'table', s.relid::regclass::text, s.relid,
           COALESCE(s.heap_blks_hit, 0) + COALESCE(s.toast_blks_hit, 0),
           COALESCE(s.heap_blks_read, 0) + COALESCE(s.toast_blks_read, 0),
           t.seq_scan, t.idx_scan
      FROM pg_catalog.pg_statio_all_tables s
      LEFT JOIN pg_catalog.pg_stat_all_tables t ON t.relid = s.relid
     WHERE s.schemaname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
       AND s.schemaname NOT LIKE 'pg\_toast\_temp\_%'
       AND s.schemaname NOT LIKE 'pg\_temp\_%'
    UNION ALL
    SELECT 'index', s.indexrelid::regclass::text, s.indexrelid,
           s.idx_blks_hit, s.idx_blks_read, NULL, NULL
      FROM pg_catalog.pg_statio_all_indexes s
     WHERE s.schemaname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
       AND s.schemaname NOT LIKE 'pg\_toast\_temp\_%'
       AND s.schemaname NOT LIKE 'pg\_temp\_%'
), rated AS (
    SELECT o.*, o.hits::numeric / (o.hits + o.reads) AS ratio
      FROM objs o
     WHERE o.hits + o.reads >= 10000
       AND o.reads >= 1000
)
SELECT r.object_type,
       r.object_name,
       r.hits                                                                 AS blks_hit,
       r.reads                                                                AS blks_read,
       pg_catalog.round(100 * r.ratio, 2)                                     AS hit_pct,
       CASE WHEN r.ratio < CASE WHEN r.object_type = 'database' THEN 0.90 ELSE 0.95 END THEN 'critical'
            ELSE 'warning' END                                                AS severity,
       pg_catalog.format('%s%% of %s block requests found in shared buffers (%s hits, %s reads from disk or OS cache, %s)%s; shared_buffers = %s',
           pg_catalog.round(100 * r.ratio, 2), r.hits + r.reads, r.hits, r.reads,
           pg_catalog.pg_size_pretty(r.reads * pg_catalog.current_setting('block_size')::bigint),
           CASE WHEN r.object_type = 'table'
                THEN pg_catalog.format('; %s sequential and %s index scans', r.seq_scan, COALESCE(r.idx_scan, 0))
                ELSE '' END,
           pg_catalog.current_setting('shared_buffers'))                      AS evidence,
       CASE WHEN r.object_type = 'database'
            THEN pg_catalog.format('ALTER SYSTEM SET shared_buffers = %L;  -- twice the current size, then restart the server; about 25%% of RAM is the usual ceiling; look at the tables and indexes listed here first',
                                   pg_catalog.pg_size_pretty(2 * pg_catalog.pg_size_bytes(pg_catalog.current_setting('shared_buffers'))))
            WHEN r.object_type = 'table' AND r.seq_scan > COALESCE(r.idx_scan, 0)
            THEN pg_catalog.format('SELECT * FROM @extschema@.index_advice();  -- %s is read mostly by sequential scans: an index may avoid reading all of it; else a bigger shared_buffers',
                                   r.object_name)
            WHEN r.object_type = 'table'
            THEN 'working set larger than the cache: a bigger shared_buffers, or fewer / narrower rows read per query (see optimizer.statements by shared_blks_read)'
            ELSE 'index larger than the cache can hold: check it is used (pg_stat_all_indexes.idx_scan) and not bloated (optimizer.index_bloat), else a bigger shared_buffers'
       END                                                                    AS recommendation
  FROM rated r
 WHERE r.ratio < 0.99
 ORDER BY r.reads DESC, r.object_type, r.object_name;

COMMENT ON VIEW @extschema@.cache_hit IS
  'The database, tables and indexes whose shared buffer hit ratio is below 99% (with at least 10000 block requests and 1000 reads), with what to change.';


-- ---------------------------------------------------------------------------------------------
-- sequence_exhaustion

-- A sequence's last value (NULL before its first nextval, or without the privilege to read it),
-- read from the sequence itself under AccessShareLock (pg_sequences' pg_sequence_last_value()
-- would take RowExclusiveLock).
CREATE FUNCTION @extschema@.insights_sequence_last_value(seq regclass)
RETURNS bigint
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v bigint;
BEGIN
    IF NOT pg_catalog.has_sequence_privilege(seq, 'SELECT') THEN
        RETURN NULL;
    END IF;
    EXECUTE pg_catalog.format('SELECT CASE WHEN is_called THEN last_value END FROM %s', seq) INTO v;
    RETURN v;
END
$fn$;

CREATE VIEW @extschema@.sequence_exhaustion AS
WITH fed AS (
    -- columns fed by a sequence: identity and OWNED BY (serial) ...
    SELECT d.objid AS seqid, d.refobjid AS tableid, d.refobjsubid::smallint AS attnum
      FROM pg_catalog.pg_depend d
     WHERE d.classid = 'pg_catalog.pg_class'::regclass
       AND d.refclassid = 'pg_catalog.pg_class'::regclass
       AND d.deptype IN ('a', 'i')
       AND d.refobjsubid > 0
    UNION
    -- ... and any DEFAULT nextval('...')
    SELECT d.refobjid, ad.adrelid, ad.adnum
      FROM pg_catalog.pg_depend d
      JOIN pg_catalog.pg_attrdef ad ON ad.oid = d.objid
     WHERE d.classid = 'pg_catalog.pg_attrdef'::regclass
       AND d.refclassid = 'pg_catalog.pg_class'::regclass
), seqs AS (
    SELECT x.* FROM (
        SELECT c.oid AS seqid, s.seqtypid::regtype AS seq_type,
               @extschema@.insights_sequence_last_value(c.oid) AS last_value,
               s.seqmin AS min_value, s.seqmax AS max_value, s.seqincrement AS increment_by
          FROM pg_catalog.pg_sequence s
          JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE NOT s.seqcycle
           AND n.nspname NOT LIKE 'pg\_temp\_%') x
     WHERE x.last_value IS NOT NULL
), uses AS (
    SELECT q.*, f.tableid, a.attname, a.atttypid,
           CASE a.atttypid WHEN 'pg_catalog.int2'::regtype THEN 32767
                           WHEN 'pg_catalog.int4'::regtype THEN 2147483647 END::numeric   AS col_max,
           CASE a.atttypid WHEN 'pg_catalog.int2'::regtype THEN -32768
                           WHEN 'pg_catalog.int4'::regtype THEN -2147483648 END::numeric  AS col_min
      FROM seqs q
      LEFT JOIN fed f ON f.seqid = q.seqid
      LEFT JOIN pg_catalog.pg_attribute a
        ON a.attrelid = f.tableid AND a.attnum = f.attnum AND NOT a.attisdropped
), measured AS (
    SELECT u.*,
           CASE WHEN u.increment_by > 0 THEN LEAST(u.max_value, COALESCE(u.col_max, u.max_value))
                ELSE GREATEST(u.min_value, COALESCE(u.col_min, u.min_value)) END        AS limit_value,
           CASE WHEN u.increment_by > 0
                THEN u.col_max IS NOT NULL AND u.col_max < u.max_value
                ELSE u.col_min IS NOT NULL AND u.col_min > u.min_value END              AS column_limits,
           -- the column type's limit comes first (or together with the sequence's)
           CASE WHEN u.increment_by > 0
                THEN u.col_max IS NOT NULL AND u.col_max <= u.max_value
                ELSE u.col_min IS NOT NULL AND u.col_min >= u.min_value END             AS column_binds
      FROM uses u
), used AS (
    SELECT m.*,
           CASE WHEN m.increment_by > 0
                THEN CASE WHEN m.limit_value > 0 AND m.last_value > 0 THEN m.last_value / m.limit_value END
                ELSE CASE WHEN m.limit_value < 0 AND m.last_value < 0 THEN m.last_value / m.limit_value END
           END                                                                AS used_ratio
      FROM measured m
)
SELECT u.seqid::regclass                                                      AS sequence_name,
       u.tableid::regclass                                                    AS table_name,
       u.attname                                                              AS column_name,
       COALESCE(u.atttypid, u.seq_type)::regtype                              AS data_type,
       u.last_value,
       u.limit_value::bigint                                                  AS limit_value,
       pg_catalog.round(100 * u.used_ratio, 2)                                AS used_pct,
       CASE WHEN u.used_ratio >= 0.9 THEN 'critical' ELSE 'warning' END       AS severity,
       pg_catalog.format('%s is at %s of %s (%s%% used, %s values left)%s',
           u.seqid::regclass, u.last_value, u.limit_value, pg_catalog.round(100 * u.used_ratio, 2),
           pg_catalog.abs(u.limit_value - u.last_value),
           CASE WHEN u.column_limits
                THEN pg_catalog.format('; the limit is the %s column %s.%I (sequence is %s, max %s)',
                                       u.atttypid::regtype, u.tableid::regclass, u.attname, u.seq_type,
                                       CASE WHEN u.increment_by > 0 THEN u.max_value ELSE u.min_value END)
                WHEN u.attname IS NOT NULL
                THEN pg_catalog.format('; feeds %s.%I (%s)', u.tableid::regclass, u.attname, u.atttypid::regtype)
                ELSE '' END)                                                  AS evidence,
       pg_catalog.concat_ws(' ',
           CASE WHEN u.column_binds
                THEN pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I TYPE bigint;', u.tableid::regclass, u.attname) END,
           CASE WHEN u.column_limits THEN NULL       -- the sequence has room beyond the column
                WHEN u.seq_type <> 'pg_catalog.int8'::regtype
                THEN pg_catalog.format('ALTER SEQUENCE %s AS bigint;', u.seqid::regclass)
                WHEN u.increment_by > 0 AND u.max_value < 9223372036854775807
                THEN pg_catalog.format('ALTER SEQUENCE %s NO MAXVALUE;', u.seqid::regclass)
                WHEN u.increment_by < 0 AND u.min_value > -9223372036854775808
                THEN pg_catalog.format('ALTER SEQUENCE %s NO MINVALUE;', u.seqid::regclass) END,
           CASE WHEN u.column_binds
                THEN ' -- ALTER COLUMN ... TYPE rewrites the table and its indexes under an ACCESS EXCLUSIVE lock; plan it (or migrate to a new bigint column) before it runs out' END)
                                                                              AS recommendation
  FROM used u
 WHERE u.used_ratio >= 0.75
 ORDER BY u.used_ratio DESC, u.seqid, u.tableid, u.attname;

COMMENT ON VIEW @extschema@.sequence_exhaustion IS
  'Sequences, and the integer columns they feed, that used at least 75% of their range (of the column type when smaller), with the ALTER to run.';


GRANT SELECT ON @extschema@.table_bloat, @extschema@.index_bloat, @extschema@.stale_statistics,
                @extschema@.vacuum_health, @extschema@.wraparound_risk, @extschema@.cache_hit,
                @extschema@.sequence_exhaustion TO PUBLIC;

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

-- Insights (issue 15), activity and configuration: sessions, lock waits, replication, foreign
-- keys without an index, and server settings. Loaded after views.sql (uses optimizer.statements
-- and optimizer.predicate_entries).
--
-- Every view returns findings only (a healthy server gives no row) and ends with
--     severity       'info' | 'warning' | 'critical'
--     evidence       the numbers and the sessions / statements involved
--     recommendation the SQL to run where there is one, else advice text
-- They read catalogs and pg_stat_* views only (no lock above AccessShareLock, no table scan).
-- Other users' query texts are hidden by pg_stat_activity itself for readers without
-- pg_read_all_stats; the views add no visibility of their own.
--
-- Thresholds (constants in the views):
--
-- optimizer.connections (all client backends of the server, the caller's own session excluded)
--   kind 'connections'         client connections in use vs max_connections -
--                              superuser_reserved_connections: > 80% warning, > 95% critical.
--   kind 'idle in transaction' a session idle in transaction (now() - state_change):
--                              > 10 s info, > 1 min warning, > 15 min critical; its transaction's
--                              age counts too (rule below), the worse of the two wins.
--                              (The 10 s info level exists so that short stalls are visible; the
--                              1 min / 15 min levels are the ones to alert on.)
--   kind 'long transaction'    an active or waiting session whose transaction is open
--                              (now() - xact_start) > 5 min warning, > 1 h critical.
--   Recommendation: SELECT pg_catalog.pg_terminate_backend(pid) (pg_cancel_backend for an active
--   one); when idle_in_transaction_session_timeout is off, a trailing comment gives the ALTER
--   SYSTEM line that sets it.
--
-- optimizer.blocking (one row per blocked session and blocker, pg_blocking_pids)
--   waiting (since pg_locks.waitstart, else state_change): > 1 s info, > 5 s warning,
--   > 1 min critical. Recommendation: pg_terminate_backend(blocker) when the blocker is idle in
--   transaction, else pg_cancel_backend(blocker).
--
-- optimizer.replication
--   kind 'standby' (pg_stat_replication): bytes behind (current WAL position - replay_lsn) or
--   replay_lag: > 16 MB or > 10 s info, > 1 GB or > 1 min warning, > 10 GB or > 15 min critical;
--   a walsender not 'streaming' is info.
--   kind 'slot' (pg_replication_slots): WAL held back (current position - restart_lsn):
--   > 1 GB or inactive warning; > 10 GB or wal_status 'lost' / 'unreserved' critical;
--   wal_status 'extended' (holds more than max_wal_size) info.
--   The current position is pg_current_wal_lsn() on a primary and the last received (else
--   replayed) position on a standby, so the view works in recovery.
--   Recommendation: SELECT pg_catalog.pg_drop_replication_slot('name') for an inactive slot.
--
-- optimizer.missing_fk_indexes (current database; a foreign key whose referencing columns are
-- not the leading columns, in any order, of a valid non-partial index), listed only when
--   (a) the referenced table had deletes or updates (pg_stat_user_tables n_tup_del + n_tup_upd),
--   (b) the recorded workload filters or joins on the referencing columns (predicate_entries), or
--   (c) the referencing table has > 10,000 rows.
--   critical: (a) and (c); warning: (a) alone, or (b) and (c); info: the rest.
--   Recommendation: CREATE INDEX CONCURRENTLY ON table (columns); (plain CREATE INDEX for a
--   partitioned table, where CONCURRENTLY is not supported).
--
-- optimizer.config_advice (only settings where a change is advised). The machine's memory is read
-- from /proc/meminfo when the caller may read server files (superuser or pg_read_server_files);
-- otherwise memory is unknown and only relative rules apply.
--   shared_buffers        memory known: < 10% of RAM warning, < 15% info, > 40% info; suggest 25%.
--                         unknown: still the 128MB default, info.
--   effective_cache_size  memory known: < 25% of RAM warning, < 50% info, > 90% warning;
--                         suggest 75%. Always: < 2 x shared_buffers info (suggest 3 x).
--   work_mem              statements in optimizer.statements wrote temp files: info (warning when
--                         they wrote >= 1 GB in all); suggest the largest spill per execution
--                         rounded up to a power of two MB (at least 4 x the current value), capped
--                         at 25% of RAM / max_connections when memory is known.
--                         work_mem x max_connections > RAM: warning, suggest RAM / 4 / connections.
--   maintenance_work_mem  memory known, RAM >= 4 GB and < RAM / 32 (and < 1 GB): info;
--                         suggest min(RAM / 16, 1 GB).
--   max_wal_size          checkpoints requested (pg_stat_bgwriter.checkpoints_req) >= 5 and
--                         > 20% of all checkpoints: info, > 50%: warning; suggest 4 x, >= 1 GB.
--   checkpoint_completion_target  < 0.9: info, suggest 0.9.
--   random_page_cost      > 2 with a buffer hit ratio >= 99% over >= 100,000 block reads in this
--                         database: info, suggest 1.1.
--   autovacuum            off: warning.
--   autovacuum_vacuum_cost_limit / autovacuum_max_workers / autovacuum_naptime: tables of this
--                         database past their autovacuum threshold whose last vacuum is > 1 day
--                         old (or never): >= 10 tables info (cost limit -> 4 x, naptime > 1min ->
--                         1min), >= 3 x autovacuum_max_workers and >= 10: max_workers -> 2 x.
--   Recommendation: one statement, ALTER SYSTEM SET name = 'value'; with a comment saying to
--   reload (SELECT pg_catalog.pg_reload_conf();) or restart. (ALTER SYSTEM cannot share a
--   multi-statement query string, so recommendations are single statements plus comments.)


-- ---------------------------------------------------------------------------------------------
-- Helpers.

-- The machine's total memory in bytes from /proc/meminfo, or NULL when the caller may not read
-- server files or the file is not there (not Linux). Runs with the caller's rights.
CREATE FUNCTION @extschema@.insights_machine_memory()
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    info text;
BEGIN
    IF NOT (pg_catalog.pg_has_role(current_user, 'pg_read_server_files', 'MEMBER')
            AND pg_catalog.has_function_privilege('pg_catalog.pg_read_file(text, bigint, bigint, boolean)',
                                                  'EXECUTE')) THEN
        RETURN NULL;
    END IF;
    -- dynamic SQL: a static call would be permission-checked for every caller at plan time
    EXECUTE 'SELECT pg_catalog.pg_read_file($1, 0, 65536, true)' INTO info USING '/proc/meminfo'::text;
    RETURN ((pg_catalog.regexp_match(info, 'MemTotal:\s+(\d+)\s*kB'))[1])::bigint * 1024;
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION @extschema@.insights_machine_memory() IS
  'Total memory of the machine in bytes (MemTotal of /proc/meminfo), NULL when the caller may not read server files or it is not available.';

-- A byte count as a setting value ALTER SYSTEM accepts: whole GB when exact, else MB (>= 1MB).
CREATE FUNCTION @extschema@.insights_size_setting(bytes numeric)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN bytes >= 1073741824 AND bytes % 1073741824 = 0
                THEN (bytes / 1073741824)::bigint || 'GB'
                ELSE GREATEST(pg_catalog.round(bytes / 1048576), 1)::bigint || 'MB' END
$$;

COMMENT ON FUNCTION @extschema@.insights_size_setting(numeric) IS
  'A byte count as a memory setting value (whole GB when exact, else MB).';


-- ---------------------------------------------------------------------------------------------
-- connections: connection use, sessions idle in transaction, long transactions.

CREATE VIEW @extschema@.connections AS
WITH s AS (
    SELECT a.*,
           pg_catalog.now() - a.state_change AS idle_for,
           pg_catalog.now() - a.xact_start   AS xact_age
      FROM pg_catalog.pg_stat_activity a
     WHERE a.backend_type = 'client backend'
       AND a.pid <> pg_catalog.pg_backend_pid()
), lim AS (
    SELECT pg_catalog.current_setting('max_connections')::int
           - pg_catalog.current_setting('superuser_reserved_connections')::int AS usable,
           pg_catalog.current_setting('max_connections')::int AS max_conn,
           pg_catalog.current_setting('superuser_reserved_connections')::int AS reserved,
           pg_catalog.current_setting('idle_in_transaction_session_timeout') AS iit_timeout
), used AS (
    SELECT pg_catalog.count(*) + 1 AS n,   -- + this session
           pg_catalog.count(*) FILTER (WHERE s.state = 'idle') AS idle,
           pg_catalog.count(*) FILTER (WHERE s.state LIKE 'idle in transaction%') AS idle_in_xact
      FROM s
), findings AS (
    SELECT 'connections'::text AS kind, NULL::int AS pid, NULL::text AS username, NULL::text AS database,
           NULL::interval AS duration, NULL::timestamptz AS xact_start, NULL::text AS state, NULL::text AS query,
           CASE WHEN u.n > 0.95 * l.usable THEN 'critical' ELSE 'warning' END AS severity,
           pg_catalog.format('%s of %s usable connections in use (%s%%; max_connections %s - %s superuser reserved); %s idle, %s idle in transaction',
                             u.n, l.usable, pg_catalog.round(100.0 * u.n / GREATEST(l.usable, 1)),
                             l.max_conn, l.reserved, u.idle, u.idle_in_xact) AS evidence,
           CASE WHEN u.idle > u.n / 2
                THEN 'Most connections are idle: put a connection pooler (e.g. PgBouncer in transaction mode) in front of the server, or lower the clients'' pool sizes.'
                ELSE pg_catalog.format('Use a connection pooler, or raise the limit: ALTER SYSTEM SET max_connections = %s;  -- takes effect after a restart',
                                       GREATEST(l.max_conn * 3 / 2, u.n + l.reserved + 10))
           END AS recommendation
      FROM used u, lim l
     WHERE u.n > 0.80 * l.usable
    UNION ALL
    SELECT 'idle in transaction', s.pid, s.usename::text, s.datname::text, s.idle_for, s.xact_start, s.state, s.query,
           CASE WHEN s.idle_for > interval '15 minutes' OR s.xact_age > interval '1 hour' THEN 'critical'
                WHEN s.idle_for > interval '1 minute' OR s.xact_age > interval '5 minutes' THEN 'warning'
                ELSE 'info' END,
           pg_catalog.format('pid %s (user %s, database %s, %s) idle in transaction for %s, transaction open for %s; it holds its locks and keeps VACUUM from removing rows deleted since it began; last statement: %s',
                             s.pid, s.usename, s.datname,
                             COALESCE(NULLIF(s.application_name, ''), 'no application_name'),
                             pg_catalog.date_trunc('second', s.idle_for), pg_catalog.date_trunc('second', s.xact_age),
                             COALESCE(s.query, '(not visible)')),
           pg_catalog.format('SELECT pg_catalog.pg_terminate_backend(%s);', s.pid)
           || CASE WHEN l.iit_timeout IN ('0', '0ms')
                   THEN '  -- to prevent it: ALTER SYSTEM SET idle_in_transaction_session_timeout = ''5min''; SELECT pg_catalog.pg_reload_conf();'
                   ELSE '' END
      FROM s, lim l
     WHERE s.state LIKE 'idle in transaction%'
       AND (s.idle_for > interval '10 seconds' OR s.xact_age > interval '5 minutes')
    UNION ALL
    SELECT 'long transaction', s.pid, s.usename::text, s.datname::text, s.xact_age, s.xact_start, s.state, s.query,
           CASE WHEN s.xact_age > interval '1 hour' THEN 'critical' ELSE 'warning' END,
           pg_catalog.format('pid %s (user %s, database %s) has had a transaction open for %s (since %s), state %s%s; current statement: %s',
                             s.pid, s.usename, s.datname, pg_catalog.date_trunc('second', s.xact_age),
                             pg_catalog.date_trunc('second', s.xact_start), s.state,
                             CASE WHEN s.wait_event_type IS NOT NULL
                                  THEN pg_catalog.format(' (waiting on %s: %s)', s.wait_event_type, s.wait_event) ELSE '' END,
                             COALESCE(s.query, '(not visible)')),
           pg_catalog.format('SELECT pg_catalog.pg_cancel_backend(%s);  -- or pg_terminate_backend(%s) to end the session',
                             s.pid, s.pid)
      FROM s
     WHERE s.state IS DISTINCT FROM 'idle' AND s.state NOT LIKE 'idle in transaction%'
       AND s.xact_age > interval '5 minutes'
)
SELECT kind, pid, username, database, duration, xact_start, state, query,
       severity, evidence, recommendation
  FROM findings
 ORDER BY CASE severity WHEN 'critical' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END, duration DESC NULLS FIRST;

COMMENT ON VIEW @extschema@.connections IS
  'Connection use near max_connections, sessions idle in transaction and long-open transactions, with the pg_terminate_backend / timeout SQL to fix them.';


-- ---------------------------------------------------------------------------------------------
-- blocking: who waits on a lock held (or queued for) by whom.

CREATE VIEW @extschema@.blocking AS
WITH w AS (
    SELECT a.*, b.blocking_pid
      FROM pg_catalog.pg_stat_activity a,
           LATERAL pg_catalog.unnest(pg_catalog.pg_blocking_pids(a.pid)) AS b(blocking_pid)
     WHERE a.wait_event_type = 'Lock'
), f AS (
    SELECT w.pid                                         AS blocked_pid,
           w.usename::text                               AS blocked_user,
           w.datname::text                               AS database,
           w.query                                       AS blocked_query,
           w.blocking_pid,
           bl.usename::text                              AS blocking_user,
           bl.state                                      AS blocking_state,
           bl.query                                      AS blocking_query,
           pg_catalog.now() - bl.xact_start              AS blocking_xact_age,
           bl.wait_event_type = 'Lock'                   AS blocker_also_waits,
           l.locktype                                    AS lock_type,
           l.mode                                        AS lock_mode,
           CASE WHEN l.relation IS NOT NULL
                 AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
                THEN l.relation::pg_catalog.regclass::text
                WHEN l.relation IS NOT NULL THEN 'oid ' || l.relation || ' of another database' END AS relation,
           pg_catalog.now() - COALESCE(l.waitstart, w.state_change, w.query_start) AS waiting
      FROM w
      LEFT JOIN pg_catalog.pg_stat_activity bl ON bl.pid = w.blocking_pid
      LEFT JOIN LATERAL (SELECT k.locktype, k.mode, k.database, k.relation, k.waitstart
                           FROM pg_catalog.pg_locks k
                          WHERE k.pid = w.pid AND NOT k.granted
                          LIMIT 1) l ON true
)
SELECT blocked_pid, blocked_user, database, blocked_query, blocking_pid, blocking_user, blocking_state,
       blocking_query, lock_type, lock_mode, relation, waiting,
       CASE WHEN waiting > interval '1 minute' THEN 'critical'
            WHEN waiting > interval '5 seconds' THEN 'warning'
            ELSE 'info' END AS severity,
       pg_catalog.format('pid %s (user %s) has waited %s for %s%s, blocked by pid %s (user %s, %s%s%s); blocked statement: "%s"; blocking session''s statement: "%s"',
                         blocked_pid, blocked_user, pg_catalog.date_trunc('second', waiting) ,
                         COALESCE(lock_mode, 'a lock'),
                         CASE WHEN relation IS NOT NULL THEN ' on ' || relation
                              WHEN lock_type IS NOT NULL THEN ' (' || lock_type || ')' ELSE '' END,
                         blocking_pid, COALESCE(blocking_user, '?'), COALESCE(blocking_state, 'state unknown'),
                         CASE WHEN blocking_xact_age IS NOT NULL
                              THEN ', transaction open for ' || pg_catalog.date_trunc('second', blocking_xact_age) ELSE '' END,
                         CASE WHEN blocker_also_waits THEN ', itself waiting on a lock: look for its blocker' ELSE '' END,
                         COALESCE(blocked_query, '(not visible)'), COALESCE(blocking_query, '(not visible)')) AS evidence,
       CASE WHEN blocking_state LIKE 'idle in transaction%'
            THEN pg_catalog.format('SELECT pg_catalog.pg_terminate_backend(%s);', blocking_pid)
            ELSE pg_catalog.format('SELECT pg_catalog.pg_cancel_backend(%s);  -- if that is not enough: SELECT pg_catalog.pg_terminate_backend(%s);',
                                   blocking_pid, blocking_pid)
       END AS recommendation
  FROM f
 WHERE waiting > interval '1 second'
 ORDER BY waiting DESC, blocked_pid, blocking_pid;

COMMENT ON VIEW @extschema@.blocking IS
  'Sessions waiting on a lock, with the session blocking them (pg_blocking_pids), the lock, how long, both statements, and the pg_cancel_backend / pg_terminate_backend SQL for the blocker.';


-- ---------------------------------------------------------------------------------------------
-- replication: standbys behind, replication slots holding WAL.

CREATE VIEW @extschema@.replication AS
WITH pos AS (
    -- pg_current_wal_lsn() fails during recovery: on a standby use what it received / replayed
    SELECT CASE WHEN pg_catalog.pg_is_in_recovery()
                THEN COALESCE(pg_catalog.pg_last_wal_receive_lsn(), pg_catalog.pg_last_wal_replay_lsn())
                ELSE pg_catalog.pg_current_wal_lsn() END AS lsn,
           pg_catalog.pg_is_in_recovery() AS in_recovery
), standby AS (
    SELECT r.*,
           pg_catalog.pg_wal_lsn_diff(p.lsn, r.replay_lsn) AS behind,
           p.in_recovery
      FROM pg_catalog.pg_stat_replication r, pos p
), standby_f AS (
    SELECT 'standby'::text AS kind,
           COALESCE(NULLIF(s.application_name, ''), s.client_addr::text, 'pid ' || s.pid) AS name,
           s.pid, s.state, true AS active, NULL::text AS wal_status,
           s.write_lag, s.flush_lag, s.replay_lag,
           s.behind AS bytes_behind,
           CASE WHEN s.behind > 10737418240 OR s.replay_lag > interval '15 minutes' THEN 'critical'
                WHEN s.behind > 1073741824 OR s.replay_lag > interval '1 minute' THEN 'warning'
                ELSE 'info' END AS severity,
           pg_catalog.format('standby %s (%s, sync %s): state %s, %s behind%s; lag write %s, flush %s, replay %s',
                             COALESCE(NULLIF(s.application_name, ''), 'pid ' || s.pid),
                             COALESCE(s.client_addr::text, 'local'), s.sync_state, s.state,
                             COALESCE(pg_catalog.pg_size_pretty(s.behind), 'unknown (not visible)'),
                             CASE WHEN s.in_recovery THEN ' (cascading, relative to the WAL received here)' ELSE '' END,
                             COALESCE(s.write_lag::text, '-'), COALESCE(s.flush_lag::text, '-'),
                             COALESCE(s.replay_lag::text, '-')) AS evidence,
           CASE WHEN s.state <> 'streaming' AND s.behind IS NOT DISTINCT FROM 0
                THEN 'The standby is not streaming yet (' || s.state || '): check its log if it stays so.'
                WHEN s.write_lag > interval '10 seconds' OR s.flush_lag > s.write_lag * 10
                THEN 'The standby receives or flushes WAL slowly: check the network and the standby''s disk.'
                ELSE 'The standby replays WAL slowly: check its I/O and long queries on it (max_standby_streaming_delay, hot_standby_feedback).'
           END AS recommendation
      FROM standby s
     WHERE s.state <> 'streaming'
        OR s.behind > 16777216
        OR s.replay_lag > interval '10 seconds'
), slot AS (
    SELECT sl.*,
           pg_catalog.pg_wal_lsn_diff(p.lsn, sl.restart_lsn) AS held
      FROM pg_catalog.pg_replication_slots sl, pos p
), slot_f AS (
    SELECT 'slot'::text, s.slot_name::text, s.active_pid, NULL::text, s.active, s.wal_status,
           NULL::interval, NULL::interval, NULL::interval,
           s.held,
           CASE WHEN s.wal_status IN ('lost', 'unreserved') OR s.held > 10737418240 THEN 'critical'
                WHEN NOT s.active OR s.held > 1073741824 THEN 'warning'
                ELSE 'info' END,
           pg_catalog.format('%s slot %s%s is %s; it holds %s of WAL (wal_status %s%s)%s',
                             s.slot_type, s.slot_name,
                             CASE WHEN s.database IS NOT NULL THEN ' (database ' || s.database || ', plugin ' || s.plugin || ')' ELSE '' END,
                             CASE WHEN s.active THEN 'active (pid ' || s.active_pid || ')' ELSE 'inactive' END,
                             CASE WHEN s.restart_lsn IS NULL THEN 'none yet' ELSE pg_catalog.pg_size_pretty(s.held) END,
                             COALESCE(s.wal_status, 'unknown'),
                             CASE WHEN s.safe_wal_size IS NOT NULL
                                  THEN ', ' || pg_catalog.pg_size_pretty(s.safe_wal_size) || ' more before it is invalidated' ELSE '' END,
                             CASE WHEN s.xmin IS NOT NULL OR s.catalog_xmin IS NOT NULL
                                  THEN '; it also keeps VACUUM from removing rows (xmin ' || COALESCE(s.xmin::text, '-')
                                       || ', catalog_xmin ' || COALESCE(s.catalog_xmin::text, '-') || ')' ELSE '' END),
           CASE WHEN NOT s.active OR s.wal_status = 'lost'
                THEN pg_catalog.format('SELECT pg_catalog.pg_drop_replication_slot(%L);', s.slot_name)
                ELSE 'Its consumer is connected but behind: check the standby or logical consumer; set max_slot_wal_keep_size to bound the WAL a slot may hold.'
           END
      FROM slot s
     WHERE NOT s.active
        OR s.wal_status IN ('lost', 'unreserved', 'extended')
        OR s.held > 1073741824
)
SELECT * FROM standby_f
UNION ALL
SELECT * FROM slot_f;

COMMENT ON VIEW @extschema@.replication IS
  'Standbys that lag (bytes behind, write/flush/replay lag) and replication slots that are inactive or hold much WAL, with pg_drop_replication_slot for an abandoned slot; works on a standby too.';


-- ---------------------------------------------------------------------------------------------
-- missing_fk_indexes: foreign keys without an index on the referencing columns, where it matters.

CREATE VIEW @extschema@.missing_fk_indexes AS
WITH fk AS (
    SELECT c.oid, c.conname, c.conrelid, c.confrelid, c.conkey,
           r.relkind, r.relnamespace,
           -- reltuples once analyzed or vacuumed (n_live_tup may count a batch twice around ANALYZE)
           CASE WHEN r.reltuples >= 0 THEN r.reltuples
                ELSE pg_catalog.pg_stat_get_live_tuples(c.conrelid) END::bigint AS table_rows
      FROM pg_catalog.pg_constraint c
      JOIN pg_catalog.pg_class r ON r.oid = c.conrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
     WHERE c.contype = 'f'
       AND c.conparentid = 0
       AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname !~ '^pg_(toast|temp_)'
       AND NOT EXISTS (
             SELECT 1
               FROM pg_catalog.pg_index i
              WHERE i.indrelid = c.conrelid
                AND i.indisvalid
                AND i.indpred IS NULL
                AND (i.indkey::int2[])[0:pg_catalog.array_length(c.conkey, 1) - 1] @> c.conkey)
), work AS (
    -- recorded quals and join clauses on the referencing tables' columns (either side of a join)
    SELECT x.relid, x.attnum, pg_catalog.sum(x.executions)::bigint AS executions
      FROM (SELECT e.root_relid AS relid, a.n AS attnum, e.counts[1] AS executions
              FROM @extschema@.predicate_entries e, pg_catalog.unnest(e.attnums) AS a(n)
             WHERE e.kind IN ('qual', 'join')
            UNION ALL
            SELECT e.rhs_relid, a.n, e.counts[1]
              FROM @extschema@.predicate_entries e, pg_catalog.unnest(e.rhs_attnums) AS a(n)
             WHERE e.kind IN ('qual', 'join') AND e.rhs_relid IS NOT NULL) x
     WHERE x.relid IN (SELECT fk.conrelid FROM fk)
     GROUP BY x.relid, x.attnum
), f AS (
    SELECT fk.*,
           (SELECT pg_catalog.array_agg(a.attname::text ORDER BY k.i)
              FROM pg_catalog.unnest(fk.conkey) WITH ORDINALITY AS k(n, i)
              JOIN pg_catalog.pg_attribute a ON a.attrelid = fk.conrelid AND a.attnum = k.n) AS cols,
           -- pg_stat_user_tables' counters, read directly (that view aggregates over all of pg_class)
           pg_catalog.pg_stat_get_tuples_deleted(fk.confrelid) AS ref_deletes,
           pg_catalog.pg_stat_get_tuples_updated(fk.confrelid) AS ref_updates,
           COALESCE((SELECT pg_catalog.max(w.executions) FROM work w
                      WHERE w.relid = fk.conrelid AND w.attnum = fk.conkey[1]), 0) AS workload_executions
      FROM fk
)
SELECT f.conrelid::pg_catalog.regclass::text AS table_name,
       f.conname::text                        AS constraint_name,
       f.cols                                 AS columns,
       f.confrelid::pg_catalog.regclass::text AS referenced_table,
       f.ref_deletes                          AS referenced_deletes,
       f.ref_updates                          AS referenced_updates,
       f.table_rows,
       f.workload_executions,
       CASE WHEN f.ref_deletes + f.ref_updates > 0 AND f.table_rows > 10000 THEN 'critical'
            WHEN f.ref_deletes + f.ref_updates > 0
              OR (f.workload_executions > 0 AND f.table_rows > 10000) THEN 'warning'
            ELSE 'info' END AS severity,
       pg_catalog.concat_ws('; ',
           pg_catalog.format('no index on %s starts with (%s) of foreign key %I to %s',
                             f.conrelid::pg_catalog.regclass, pg_catalog.array_to_string(f.cols, ', '),
                             f.conname, f.confrelid::pg_catalog.regclass),
           CASE WHEN f.ref_deletes + f.ref_updates > 0
                THEN pg_catalog.format('%s had %s rows deleted and %s updated (since statistics reset): each deleted or re-keyed row makes the foreign key check scan %s',
                                       f.confrelid::pg_catalog.regclass, f.ref_deletes, f.ref_updates,
                                       f.conrelid::pg_catalog.regclass) END,
           CASE WHEN f.workload_executions > 0
                THEN pg_catalog.format('the recorded workload filters or joins on %s in %s executions',
                                       f.cols[1], f.workload_executions) END,
           CASE WHEN f.table_rows > 10000
                THEN pg_catalog.format('%s has about %s rows', f.conrelid::pg_catalog.regclass, f.table_rows) END
       ) AS evidence,
       pg_catalog.format('CREATE INDEX %sON %s (%s);',
                         CASE WHEN f.relkind = 'p' THEN '' ELSE 'CONCURRENTLY ' END,
                         f.conrelid::pg_catalog.regclass,
                         (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(c), ', ' ORDER BY i)
                            FROM pg_catalog.unnest(f.cols) WITH ORDINALITY AS u(c, i))) AS recommendation
  FROM f
 WHERE f.ref_deletes + f.ref_updates > 0
    OR f.workload_executions > 0
    OR f.table_rows > 10000
 ORDER BY CASE WHEN f.ref_deletes + f.ref_updates > 0 AND f.table_rows > 10000 THEN 1
               WHEN f.ref_deletes + f.ref_updates > 0 OR (f.workload_executions > 0 AND f.table_rows > 10000) THEN 2
               ELSE 3 END,
          f.table_rows DESC, 1, 2;

COMMENT ON VIEW @extschema@.missing_fk_indexes IS
  'Foreign keys with no index on their referencing columns, listed only when the referenced table gets deletes/updates, the workload filters or joins on the columns, or the table is large; with the CREATE INDEX CONCURRENTLY to run.';


-- ---------------------------------------------------------------------------------------------
-- config_advice: settings against the machine's memory and the recorded workload.

CREATE VIEW @extschema@.config_advice AS
WITH m AS (
    SELECT @extschema@.insights_machine_memory()::numeric AS ram
), s AS (
    SELECT ps.name, ps.setting, ps.context,
           CASE WHEN ps.unit ~ 'B$'
                THEN ps.setting::numeric * pg_catalog.pg_size_bytes(CASE WHEN ps.unit ~ '^[0-9]' THEN ps.unit ELSE '1' || ps.unit END)
           END AS bytes
      FROM pg_catalog.pg_settings ps
     WHERE ps.name IN ('shared_buffers', 'effective_cache_size', 'work_mem', 'maintenance_work_mem',
                       'max_wal_size', 'checkpoint_completion_target', 'random_page_cost', 'autovacuum',
                       'autovacuum_vacuum_cost_limit', 'vacuum_cost_limit', 'autovacuum_naptime',
                       'autovacuum_max_workers', 'max_connections')
), g AS (
    SELECT pg_catalog.max(bytes) FILTER (WHERE name = 'shared_buffers')        AS shared_buffers,
           pg_catalog.max(bytes) FILTER (WHERE name = 'effective_cache_size')  AS effective_cache_size,
           pg_catalog.max(bytes) FILTER (WHERE name = 'work_mem')              AS work_mem,
           pg_catalog.max(bytes) FILTER (WHERE name = 'maintenance_work_mem')  AS maintenance_work_mem,
           pg_catalog.max(bytes) FILTER (WHERE name = 'max_wal_size')          AS max_wal_size,
           pg_catalog.max(setting::float8) FILTER (WHERE name = 'checkpoint_completion_target') AS cct,
           pg_catalog.max(setting::float8) FILTER (WHERE name = 'random_page_cost') AS random_page_cost,
           pg_catalog.max(setting) FILTER (WHERE name = 'autovacuum')          AS autovacuum,
           pg_catalog.max(setting::int) FILTER (WHERE name = 'autovacuum_vacuum_cost_limit') AS av_cost_limit,
           pg_catalog.max(setting::int) FILTER (WHERE name = 'vacuum_cost_limit') AS cost_limit,
           pg_catalog.max(setting::int) FILTER (WHERE name = 'autovacuum_naptime') AS naptime,
           pg_catalog.max(setting::int) FILTER (WHERE name = 'autovacuum_max_workers') AS av_workers,
           pg_catalog.max(setting::int) FILTER (WHERE name = 'max_connections') AS max_connections
      FROM s
), t AS (
    -- temp files written by the recorded statements
    SELECT pg_catalog.count(*) FILTER (WHERE st.temp_blks_written > 0) AS statements,
           COALESCE(pg_catalog.sum(st.temp_blks_written), 0)::numeric
             * pg_catalog.current_setting('block_size')::numeric AS total_bytes,
           COALESCE(pg_catalog.max(st.temp_blks_written::numeric / NULLIF(st.calls, 0)), 0)
             * pg_catalog.current_setting('block_size')::numeric AS peak_bytes,
           (pg_catalog.array_agg(pg_catalog.format('queryid %s (%s calls, %s temp written): %s', st.queryid, st.calls,
                                                   pg_catalog.pg_size_pretty(st.temp_blks_written * pg_catalog.current_setting('block_size')::numeric),
                                                   pg_catalog.left(COALESCE(st.query, '(not visible)'), 200))
                                 ORDER BY st.temp_blks_written DESC)
              FILTER (WHERE st.temp_blks_written > 0))[1:3] AS top
      FROM @extschema@.statements st
), cp AS (
    SELECT b.checkpoints_req::numeric AS req, b.checkpoints_timed::numeric AS timed, b.stats_reset
      FROM pg_catalog.pg_stat_bgwriter b
), hits AS (
    SELECT d.blks_hit::numeric AS hit, d.blks_read::numeric AS rd
      FROM pg_catalog.pg_stat_database d
     WHERE d.datname = pg_catalog.current_database()
), av AS (
    -- tables past their autovacuum threshold (global settings; per-table options not considered)
    -- and not vacuumed for a day
    SELECT pg_catalog.count(*) AS due, COALESCE(pg_catalog.sum(u.n_dead_tup), 0) AS dead
      FROM pg_catalog.pg_stat_user_tables u
      JOIN pg_catalog.pg_class c ON c.oid = u.relid
     WHERE u.n_dead_tup > pg_catalog.current_setting('autovacuum_vacuum_threshold')::float8
                          + pg_catalog.current_setting('autovacuum_vacuum_scale_factor')::float8 * GREATEST(c.reltuples, 0)
       AND COALESCE(GREATEST(u.last_autovacuum, u.last_vacuum), '-infinity') < pg_catalog.now() - interval '1 day'
), memtxt AS (
    SELECT CASE WHEN m.ram IS NULL
                THEN 'machine memory unknown (reading /proc/meminfo needs superuser or pg_read_server_files)'
                ELSE 'machine memory ' || pg_catalog.pg_size_pretty(m.ram) END AS txt
      FROM m
), c AS (
    -- shared_buffers
    SELECT 'shared_buffers'::text AS setting,
           CASE WHEN m.ram IS NULL THEN NULL::numeric ELSE pg_catalog.round(m.ram * 0.25 / 1048576) * 1048576 END AS suggested_bytes,
           NULL::text AS suggested_text,
           CASE WHEN m.ram IS NULL THEN CASE WHEN g.shared_buffers <= 134217728 THEN 'info' END
                WHEN g.shared_buffers < 0.10 * m.ram THEN 'warning'
                WHEN g.shared_buffers < 0.15 * m.ram OR g.shared_buffers > 0.40 * m.ram THEN 'info'
           END AS severity,
           CASE WHEN m.ram IS NULL
                THEN pg_catalog.format('shared_buffers is %s (the default); %s: about 25%% of the machine''s memory is the usual size',
                                       pg_catalog.pg_size_pretty(g.shared_buffers), x.txt)
                ELSE pg_catalog.format('shared_buffers is %s, %s%% of %s; about 25%% is the usual size',
                                       pg_catalog.pg_size_pretty(g.shared_buffers),
                                       pg_catalog.round(100 * g.shared_buffers / m.ram, 1), x.txt)
           END AS evidence
      FROM g, m, memtxt x
    UNION ALL
    -- effective_cache_size against memory
    SELECT 'effective_cache_size', pg_catalog.round(m.ram * 0.75 / 1048576) * 1048576, NULL,
           CASE WHEN g.effective_cache_size < 0.25 * m.ram OR g.effective_cache_size > 0.90 * m.ram THEN 'warning'
                WHEN g.effective_cache_size < 0.50 * m.ram THEN 'info' END,
           pg_catalog.format('effective_cache_size is %s, %s%% of %s; 50-75%% (shared_buffers plus the OS cache) lets the planner value index scans correctly',
                             pg_catalog.pg_size_pretty(g.effective_cache_size),
                             pg_catalog.round(100 * g.effective_cache_size / m.ram, 1), x.txt)
      FROM g, m, memtxt x
     WHERE m.ram IS NOT NULL
    UNION ALL
    -- effective_cache_size against shared_buffers (memory unknown or not)
    SELECT 'effective_cache_size', g.shared_buffers * 3, NULL,
           CASE WHEN g.effective_cache_size < 2 * g.shared_buffers THEN 'info' END,
           pg_catalog.format('effective_cache_size (%s) is less than twice shared_buffers (%s): it should count the OS cache too',
                             pg_catalog.pg_size_pretty(g.effective_cache_size), pg_catalog.pg_size_pretty(g.shared_buffers))
      FROM g
    UNION ALL
    -- work_mem against the temp files of the recorded statements
    SELECT 'work_mem',
           LEAST(GREATEST(4 * g.work_mem,
                          pg_catalog.power(2, pg_catalog.ceil(pg_catalog.log(2, GREATEST(t.peak_bytes / 1048576, 1)::numeric)))::numeric * 1048576),
                 COALESCE(pg_catalog.floor(m.ram * 0.25 / g.max_connections / 1048576) * 1048576, 'Infinity'::numeric)),
           NULL,
           CASE WHEN t.statements > 0 THEN CASE WHEN t.total_bytes >= 1073741824 THEN 'warning' ELSE 'info' END END,
           pg_catalog.format('work_mem is %s; %s recorded statement(s) wrote %s of temporary files (up to %s per execution): %s',
                             pg_catalog.pg_size_pretty(g.work_mem), t.statements, pg_catalog.pg_size_pretty(t.total_bytes),
                             pg_catalog.pg_size_pretty(pg_catalog.round(t.peak_bytes)), pg_catalog.array_to_string(t.top, '; '))
             || CASE WHEN m.ram IS NOT NULL
                     THEN pg_catalog.format('; capped at 25%% of %s over %s connections', pg_catalog.pg_size_pretty(m.ram), g.max_connections)
                     ELSE '' END
      FROM g, t, m
    UNION ALL
    -- work_mem against memory
    SELECT 'work_mem', pg_catalog.floor(m.ram * 0.25 / g.max_connections / 1048576) * 1048576, NULL,
           CASE WHEN g.work_mem * g.max_connections > m.ram THEN 'warning' END,
           pg_catalog.format('work_mem %s x max_connections %s = %s, more than %s (and one query may use work_mem several times)',
                             pg_catalog.pg_size_pretty(g.work_mem), g.max_connections,
                             pg_catalog.pg_size_pretty(g.work_mem * g.max_connections), x.txt)
      FROM g, m, memtxt x
     WHERE m.ram IS NOT NULL
    UNION ALL
    SELECT 'maintenance_work_mem', LEAST(pg_catalog.round(m.ram / 16 / 1048576) * 1048576, 1073741824), NULL,
           CASE WHEN m.ram >= 4294967296 AND g.maintenance_work_mem < m.ram / 32
                 AND g.maintenance_work_mem < 1073741824 THEN 'info' END,
           pg_catalog.format('maintenance_work_mem is %s with %s: VACUUM, CREATE INDEX and autovacuum (autovacuum_work_mem %s) work in smaller batches than they could',
                             pg_catalog.pg_size_pretty(g.maintenance_work_mem), x.txt,
                             pg_catalog.current_setting('autovacuum_work_mem'))
      FROM g, m, memtxt x
     WHERE m.ram IS NOT NULL
    UNION ALL
    SELECT 'max_wal_size', GREATEST(4 * g.max_wal_size, 1073741824), NULL,
           CASE WHEN cp.req >= 5 AND cp.req > 0.5 * (cp.req + cp.timed) THEN 'warning'
                WHEN cp.req >= 5 AND cp.req > 0.2 * (cp.req + cp.timed) THEN 'info' END,
           pg_catalog.format('%s of %s checkpoints (%s%%) were requested (WAL reached max_wal_size %s, or CHECKPOINT was run) rather than timed (checkpoint_timeout %s), since %s: frequent checkpoints mean more full-page writes and I/O',
                             cp.req, cp.req + cp.timed, pg_catalog.round(100 * cp.req / NULLIF(cp.req + cp.timed, 0)),
                             pg_catalog.pg_size_pretty(g.max_wal_size), pg_catalog.current_setting('checkpoint_timeout'),
                             COALESCE(pg_catalog.date_trunc('second', cp.stats_reset)::text, 'statistics reset'))
      FROM g, cp
    UNION ALL
    SELECT 'checkpoint_completion_target', NULL, '0.9',
           CASE WHEN g.cct < 0.9 THEN 'info' END,
           pg_catalog.format('checkpoint_completion_target is %s: spreading checkpoint writes over 90%% of the interval smooths I/O', g.cct)
      FROM g
    UNION ALL
    SELECT 'random_page_cost', NULL, '1.1',
           CASE WHEN g.random_page_cost > 2 AND h.hit + h.rd >= 100000 AND h.hit >= 0.99 * (h.hit + h.rd) THEN 'info' END,
           pg_catalog.format('random_page_cost is %s but %s%% of %s block reads in this database were found in shared_buffers: random reads rarely reach the disk (or it is an SSD), so index scans are cheaper than the planner assumes',
                             g.random_page_cost, pg_catalog.round(100 * h.hit / NULLIF(h.hit + h.rd, 0), 2), h.hit + h.rd)
      FROM g, hits h
    UNION ALL
    SELECT 'autovacuum', NULL, 'on',
           CASE WHEN g.autovacuum = 'off' THEN 'warning' END,
           pg_catalog.format('autovacuum is off; %s table(s) of this database are past their vacuum threshold (%s dead rows): dead rows accumulate and transaction ID wraparound is only prevented by emergency vacuums',
                             av.due, av.dead)
      FROM g, av
    UNION ALL
    SELECT 'autovacuum_vacuum_cost_limit', NULL,
           (4 * CASE WHEN g.av_cost_limit = -1 THEN g.cost_limit ELSE g.av_cost_limit END)::text,
           CASE WHEN g.autovacuum = 'on' AND av.due >= 10 THEN 'info' END,
           pg_catalog.format('%s table(s) of this database are past their autovacuum threshold and not vacuumed for a day (%s dead rows); autovacuum works at a cost limit of %s',
                             av.due, av.dead, CASE WHEN g.av_cost_limit = -1 THEN g.cost_limit ELSE g.av_cost_limit END)
      FROM g, av
    UNION ALL
    SELECT 'autovacuum_naptime', NULL, '1min',
           CASE WHEN g.autovacuum = 'on' AND av.due >= 10 AND g.naptime > 60 THEN 'info' END,
           pg_catalog.format('%s table(s) are past their autovacuum threshold and not vacuumed for a day; autovacuum_naptime is %s s',
                             av.due, g.naptime)
      FROM g, av
    UNION ALL
    SELECT 'autovacuum_max_workers', NULL, (2 * g.av_workers)::text,
           CASE WHEN g.autovacuum = 'on' AND av.due >= GREATEST(10, 3 * g.av_workers) THEN 'info' END,
           pg_catalog.format('%s table(s) are past their autovacuum threshold and not vacuumed for a day, for %s autovacuum workers',
                             av.due, g.av_workers)
      FROM g, av
), best AS (
    SELECT DISTINCT ON (c.setting) c.*
      FROM c
     WHERE c.severity IS NOT NULL
     ORDER BY c.setting, CASE c.severity WHEN 'critical' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END
), v AS (
    SELECT b.setting,
           pg_catalog.current_setting(b.setting) AS current,
           COALESCE(b.suggested_text, @extschema@.insights_size_setting(b.suggested_bytes)) AS suggested,
           b.severity, b.evidence, b.suggested_bytes
      FROM best b
)
SELECT v.setting, v.current, v.suggested, v.severity, v.evidence,
       pg_catalog.format('ALTER SYSTEM SET %I = %L;', v.setting, v.suggested)
       || CASE WHEN ps.context = 'postmaster' THEN '  -- takes effect after a restart'
               ELSE '  -- then: SELECT pg_catalog.pg_reload_conf();' END AS recommendation
  FROM v
  JOIN pg_catalog.pg_settings ps ON ps.name = v.setting
 WHERE v.suggested IS NOT NULL
   AND v.suggested IS DISTINCT FROM v.current
   -- a memory suggestion no larger than the current value is no advice (e.g. a capped work_mem)
   AND NOT (v.setting = 'work_mem' AND v.suggested_bytes IS NOT NULL
            AND v.suggested_bytes <= (SELECT g.work_mem FROM g) AND v.evidence NOT LIKE '%x max_connections%')
 ORDER BY CASE v.severity WHEN 'critical' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END, v.setting;

COMMENT ON VIEW @extschema@.config_advice IS
  'Memory, WAL, checkpoint, planner and autovacuum settings that should change, judged against the machine''s memory (when readable) and the recorded workload, with the ALTER SYSTEM line to run.';


GRANT SELECT ON @extschema@.connections, @extschema@.blocking, @extschema@.replication,
                @extschema@.missing_fk_indexes, @extschema@.config_advice TO PUBLIC;

-- Imported workloads (issue 16): documents written by optimizer.export_workload() on another
-- server (a standby's reads, production's statements on a staging copy), stored by
-- optimizer.import_workload(document, source) and advised with
-- optimizer.index_advice(sources => ARRAY['local', '<source>']).
--
-- Each row belongs to the role that imported it: row-level security shows a role its own
-- imports (and those of roles whose privileges it holds); superusers see all. The advisor reads
-- them as the caller, so it advises only what the caller may see, and plans each imported
-- statement as the local role of the same name only if both the caller and the importer hold
-- that role's privileges (src/advisor/workload.rs).

CREATE TABLE @extschema@.imported_workloads (
    source          text        NOT NULL CHECK (source <> '' AND source <> 'local' AND pg_catalog.octet_length(source) <= 63),
    imported_by     regrole     NOT NULL DEFAULT CURRENT_USER::text::regrole,
    imported_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    database        text,
    exported_at     timestamptz,
    server_version  text,
    in_recovery     boolean,
    document        jsonb       NOT NULL,
    PRIMARY KEY (source, imported_by)
);
COMMENT ON TABLE @extschema@.imported_workloads IS
  'Workloads exported on other servers (optimizer.export_workload) and imported here, for index_advice(sources => ...); each role sees its own';

ALTER TABLE @extschema@.imported_workloads ENABLE ROW LEVEL SECURITY;
CREATE POLICY imports_of_their_importer ON @extschema@.imported_workloads
    USING (pg_catalog.pg_has_role(CURRENT_USER, imported_by, 'USAGE'))
    WITH CHECK (imported_by = CURRENT_USER::text::regrole);
GRANT SELECT, INSERT, DELETE ON @extschema@.imported_workloads TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.imported_workloads', '');

-- The anti-pattern linter over the recorded workload (issue 16): one row per finding, rules in
-- pg_optimizer_core::lint (optimizer.lint_rules() lists them), statements that do not parse
-- listed as rule 'parse_error' with the parser's message.
CREATE VIEW @extschema@.lint AS
SELECT * FROM @extschema@.lint_statements();
COMMENT ON VIEW @extschema@.lint IS
  'Anti-patterns in the recorded statements of this database (SELECT * on wide tables, unbounded results, leading-wildcard LIKE, non-sargable filters, N+1 ...): rule, severity, fragment and position, evidence, rewrite';
GRANT SELECT ON @extschema@.lint TO PUBLIC;

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
