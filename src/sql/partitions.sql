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
