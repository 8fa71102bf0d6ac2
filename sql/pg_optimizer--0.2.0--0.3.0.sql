-- pg_optimizer 0.2.0 -> 0.3.0. Released with 0.3.0: never edit (a test checks its checksum); the
-- next release chains a new file after it.
--
-- What changes: the job scheduler (tables jobs and job_runs, schedule / unschedule / alter_job /
-- run_job / run_in_worker / next_run, view job_status), the built-in maintenance actions
-- (analyze_stale, vacuum_needed, reindex_bloated, refresh_matviews and the matviews registry) and
-- the statement history (statement_history, statement_trends, regressions, snapshot_statements).
-- Nothing that exists in 0.2.0 changes.

\echo Use "ALTER EXTENSION pg_optimizer UPDATE TO '0.3.0'" to load this file. \quit

CREATE FUNCTION @extschema@."next_run"(
	"schedule" TEXT, /* & str */
	"run_window" TEXT DEFAULT NULL, /* Option < & str > */
	"after" timestamp with time zone DEFAULT NULL /* Option < TimestampWithTimeZone > */
) RETURNS timestamp with time zone /* Result < Option < TimestampWithTimeZone > > */
STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'next_run_wrapper';

CREATE FUNCTION @extschema@."run_job"(
	"job_name" TEXT, /* & str */
	"wait" bool DEFAULT false /* bool */
) RETURNS bigint /* Result < i64 > */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'run_job_wrapper';

CREATE FUNCTION @extschema@."run_in_worker"(
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
AS 'MODULE_PATHNAME', 'run_in_worker_wrapper';

-- Jobs and their runs (src/scheduler, src/workers). Each database with the extension has its own
-- scheduler, which runs the jobs of its own optimizer.jobs. Row-level security keeps every role
-- to its own jobs and runs; superusers see and manage all of them.

CREATE TABLE @extschema@.jobs (
    name text PRIMARY KEY CHECK (pg_catalog.length(name) BETWEEN 1 AND 90 AND name !~ '[[:cntrl:]]'),
    -- an interval ('10 seconds', '15 minutes', '1 day': at multiples of it since midnight UTC) or
    -- 5 cron fields in UTC ('30 3 * * *'); the CHECK raises an error with a hint for anything else
    schedule text NOT NULL,
    command text NOT NULL,
    database name NOT NULL DEFAULT pg_catalog.current_database(),
    owner regrole NOT NULL DEFAULT (CURRENT_USER::text::regrole),
    enabled boolean NOT NULL DEFAULT true,
    run_window text,
    timeout interval NOT NULL DEFAULT '1 hour' CHECK (timeout > '0'::interval),
    lock_timeout interval NOT NULL DEFAULT '10 seconds' CHECK (lock_timeout >= '0'::interval),
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    builtin boolean NOT NULL DEFAULT false,
    CONSTRAINT jobs_schedule_check
        CHECK (@extschema@.next_run(schedule, run_window, '2000-01-01') IS DISTINCT FROM '-infinity'::timestamptz)
);
COMMENT ON TABLE @extschema@.jobs IS 'pg_optimizer jobs: what runs when, as whom (optimizer.schedule, alter_job, unschedule)';

CREATE TABLE @extschema@.job_runs (
    run_id bigserial PRIMARY KEY,
    job text NOT NULL,
    source text NOT NULL DEFAULT 'schedule' CHECK (source IN ('schedule', 'run_job', 'run_in_worker')),
    -- when it was due (run_job: when it was asked for); lateness = started_at - scheduled_at
    scheduled_at timestamptz NOT NULL,
    started_at timestamptz,
    ended_at timestamptz,
    status text NOT NULL CHECK (status IN ('starting', 'running', 'succeeded', 'failed', 'timed out', 'skipped')),
    rows bigint,
    message text,
    pid integer,
    owner regrole
);
CREATE INDEX job_runs_job ON @extschema@.job_runs (job, run_id);
CREATE INDEX job_runs_scheduled_at ON @extschema@.job_runs (scheduled_at);
COMMENT ON TABLE @extschema@.job_runs IS 'pg_optimizer job runs, kept pg_optimizer.job_history_days days';

ALTER TABLE @extschema@.jobs ENABLE ROW LEVEL SECURITY;
CREATE POLICY jobs_of_their_owner ON @extschema@.jobs
    USING (pg_catalog.pg_get_userbyid(owner) = CURRENT_USER)
    WITH CHECK (pg_catalog.pg_get_userbyid(owner) = CURRENT_USER AND NOT builtin);
ALTER TABLE @extschema@.job_runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY runs_of_their_owner ON @extschema@.job_runs FOR SELECT
    USING (pg_catalog.pg_get_userbyid(owner) = CURRENT_USER);
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.jobs TO PUBLIC;
GRANT SELECT ON @extschema@.job_runs TO PUBLIC;
GRANT USAGE ON SEQUENCE @extschema@.job_runs_run_id_seq TO PUBLIC;
-- pg_dump keeps the jobs users defined (the built-in ones come with the extension).
SELECT pg_catalog.pg_extension_config_dump('@extschema@.jobs', 'WHERE NOT builtin');

-- Built-in: statement history every pg_optimizer.snapshot_interval (the scheduler keeps this
-- schedule equal to the setting; 0 turns it off).
INSERT INTO @extschema@.jobs (name, schedule, command, owner, builtin, timeout)
VALUES ('statement_history', '300 seconds', 'SELECT @extschema@.snapshot_statements()', CURRENT_USER::text::regrole, true, '10 minutes');

CREATE FUNCTION @extschema@.schedule(
    job_name text,
    schedule text,
    command text,
    owner regrole DEFAULT NULL,
    enabled boolean DEFAULT true,
    run_window text DEFAULT NULL,
    timeout interval DEFAULT '1 hour',
    lock_timeout interval DEFAULT '10 seconds',
    database name DEFAULT NULL
) RETURNS @extschema@.jobs
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    me regrole := CURRENT_USER::text::regrole;
    j @extschema@.jobs;
BEGIN
    IF job_name IS NULL OR schedule IS NULL OR command IS NULL THEN
        RAISE EXCEPTION 'job_name, schedule and command must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'SELECT optimizer.schedule(''nightly-analyze'', ''30 3 * * *'', ''ANALYZE'');';
    END IF;
    owner := coalesce(owner, me);
    IF owner <> me AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = CURRENT_USER) THEN
        RAISE EXCEPTION 'only a superuser may schedule a job that runs as another role (%)', owner
            USING ERRCODE = 'insufficient_privilege', HINT = 'Leave owner out: the job runs as you.';
    END IF;
    IF database IS NOT NULL AND database <> pg_catalog.current_database() THEN
        RAISE EXCEPTION 'jobs run in the database that defines them, not in "%"', database
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Install pg_optimizer in that database and schedule the job there: each database has its own scheduler.';
    END IF;
    PERFORM @extschema@.next_run(schedule, run_window);
    BEGIN
        INSERT INTO @extschema@.jobs AS t (name, schedule, command, database, owner, enabled, run_window, timeout, lock_timeout)
        VALUES (job_name, schedule, command, pg_catalog.current_database(), owner, coalesce(enabled, true), run_window,
                coalesce(timeout, '1 hour'), coalesce(lock_timeout, '10 seconds'))
        ON CONFLICT (name) DO UPDATE
           SET schedule = EXCLUDED.schedule, command = EXCLUDED.command, owner = EXCLUDED.owner,
               enabled = EXCLUDED.enabled, run_window = EXCLUDED.run_window, timeout = EXCLUDED.timeout,
               lock_timeout = EXCLUDED.lock_timeout
        RETURNING t.* INTO j;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'a job named "%" exists and belongs to another role', job_name
            USING ERRCODE = 'duplicate_object', HINT = 'Choose another name.';
    END;
    RETURN j;
END
$fn$;
COMMENT ON FUNCTION @extschema@.schedule(text, text, text, regrole, boolean, text, interval, interval, name)
    IS 'Schedule a job (or replace your job of that name); it runs as its owner';

CREATE FUNCTION @extschema@.unschedule(job_name text) RETURNS boolean
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    n integer;
BEGIN
    IF EXISTS (SELECT 1 FROM @extschema@.jobs t WHERE t.name = job_name AND t.builtin) THEN
        RAISE EXCEPTION 'job "%" is built in', job_name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Turn it off with SELECT optimizer.alter_job(''' || job_name || ''', enabled => false).';
    END IF;
    DELETE FROM @extschema@.jobs t WHERE t.name = job_name;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n > 0;
END
$fn$;
COMMENT ON FUNCTION @extschema@.unschedule(text) IS 'Remove a job (its history stays until pruned); false if there was none of yours';

CREATE FUNCTION @extschema@.alter_job(
    job_name text,
    schedule text DEFAULT NULL,
    command text DEFAULT NULL,
    owner regrole DEFAULT NULL,
    enabled boolean DEFAULT NULL,
    run_window text DEFAULT NULL,
    timeout interval DEFAULT NULL,
    lock_timeout interval DEFAULT NULL
) RETURNS @extschema@.jobs
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    j @extschema@.jobs;
BEGIN
    SELECT * INTO j FROM @extschema@.jobs t WHERE t.name = job_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no job named "%"', job_name
            USING ERRCODE = 'undefined_object', HINT = 'SELECT name FROM optimizer.jobs lists your jobs (all of them for a superuser).';
    END IF;
    IF owner IS NOT NULL AND owner <> j.owner
       AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = CURRENT_USER) THEN
        RAISE EXCEPTION 'only a superuser may make a job run as another role (%)', owner
            USING ERRCODE = 'insufficient_privilege', HINT = 'Leave owner out.';
    END IF;
    IF j.builtin AND (schedule IS NOT NULL OR command IS NOT NULL OR owner IS NOT NULL) AND j.name = 'statement_history' THEN
        RAISE EXCEPTION 'the schedule, command and owner of the built-in job "%" are fixed', j.name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Set pg_optimizer.snapshot_interval to change how often it runs, or pass enabled => false.';
    END IF;
    -- run_window: NULL keeps it, '' removes it.
    PERFORM @extschema@.next_run(coalesce(schedule, j.schedule), nullif(coalesce(run_window, j.run_window), ''));
    UPDATE @extschema@.jobs t
       SET schedule = coalesce(schedule, t.schedule), command = coalesce(command, t.command),
           owner = coalesce(owner, t.owner), enabled = coalesce(enabled, t.enabled),
           run_window = CASE WHEN run_window IS NULL THEN t.run_window ELSE nullif(run_window, '') END,
           timeout = coalesce(timeout, t.timeout), lock_timeout = coalesce(lock_timeout, t.lock_timeout)
     WHERE t.name = job_name
    RETURNING t.* INTO j;
    RETURN j;
END
$fn$;
COMMENT ON FUNCTION @extschema@.alter_job(text, text, text, regrole, boolean, text, interval, interval)
    IS 'Change a job; NULL arguments keep their value (run_window => '''' removes the window)';

-- One line per job: when it runs next and how its last run went.
CREATE VIEW @extschema@.job_status AS
SELECT j.name, j.schedule, j.run_window, j.enabled, j.owner,
       CASE WHEN j.enabled THEN @extschema@.next_run(j.schedule, j.run_window) END AS next_run,
       l.status AS last_status, l.started_at AS last_started, l.ended_at - l.started_at AS last_duration,
       l.message AS last_message,
       (SELECT pg_catalog.count(*) FROM @extschema@.job_runs r
         WHERE r.job = j.name AND r.status IN ('failed', 'timed out') AND r.scheduled_at > pg_catalog.now() - '1 day'::interval)
           AS failures_24h,
       (SELECT pg_catalog.count(*) FROM @extschema@.job_runs r
         WHERE r.job = j.name AND r.status = 'skipped' AND r.scheduled_at > pg_catalog.now() - '1 day'::interval)
           AS skipped_24h
  FROM @extschema@.jobs j
  LEFT JOIN LATERAL (SELECT r.* FROM @extschema@.job_runs r WHERE r.job = j.name AND r.status <> 'skipped'
                      ORDER BY r.run_id DESC LIMIT 1) l ON true;
GRANT SELECT ON @extschema@.job_status TO PUBLIC;

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
         WHERE ci.relkind = 'i'
           AND ci.relam = (SELECT am.oid FROM pg_catalog.pg_am am WHERE am.amname = 'btree')
           AND i.indisvalid AND i.indisready AND i.indislive
           AND NOT i.indisexclusion
           AND ci.relpages > 0
           AND ci.reltuples >= 0                -- -1: never vacuumed or analyzed
           AND ct.reltuples >= 0
           AND ct.relpersistence <> 't'
           AND nt.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
           AND nt.nspname NOT LIKE 'pg\_toast\_temp\_%'
           AND nt.nspname NOT LIKE 'pg\_temp\_%'
           AND @extschema@.may_maintain(ct.oid, 'reindex')
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
        SELECT x.*, w.data_bytes, k.bs,
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
    ), bloat AS (
        SELECT e.*,
               GREATEST(e.relpages - e.expected_pages, 0) * e.bs        AS bloat_bytes,
               GREATEST(e.relpages - e.expected_pages, 0) / e.relpages  AS bloat_ratio
          FROM est e
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
      FROM bloat b
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

-- Statement history: periodic snapshots of @extschema@.statements, kept as per-interval deltas,
-- so that trends and regressions can be seen. Loaded after all other objects of the extension.
--
-- A superuser job takes the snapshots, e.g. every 5 or 10 minutes:
--
--     SELECT optimizer.snapshot_statements();
--
-- and anyone may then read
--
--     optimizer.statement_trends   per statement: calls and mean time now vs before
--     optimizer.regressions        the statements that got at least twice as slow
--
-- each showing a user only their own statements (all of them to superusers and members of
-- pg_read_all_stats). New regressions are also announced with
-- NOTIFY pg_optimizer_alerts, '<json>' in the database the job runs in:
--
--     LISTEN pg_optimizer_alerts;
--
-- Settings (read when used; 7 days and 1 hour when unset or empty):
--   pg_optimizer.statement_history_days   days of history to keep
--   pg_optimizer.trend_window             what "now" means in the views (SET it per session to
--                                         look at another window); older history within
--                                         retention is the baseline
--   pg_optimizer.snapshot_interval        how often the built-in job takes a snapshot


-- ---------------------------------------------------------------------------------------------
-- Tables. Query ids and counters only: no query text is stored here. Nobody but the owner
-- may read them directly; the views below filter by user.

-- One row per statement and snapshot in which it ran: what happened since the previous snapshot
-- of that statement (deltas of the cumulative counters) and how long that interval was.
CREATE TABLE @extschema@.statement_history (
    snapshot_at         timestamptz      NOT NULL,
    interval_length     interval         NOT NULL,  -- the deltas cover (snapshot_at - interval_length, snapshot_at]
    userid              oid              NOT NULL,
    dbid                oid              NOT NULL,
    queryid             bigint           NOT NULL,
    toplevel            boolean          NOT NULL,
    calls               bigint           NOT NULL,
    total_exec_time     double precision NOT NULL,  -- milliseconds
    plans               bigint           NOT NULL,
    total_plan_time     double precision NOT NULL,  -- milliseconds
    rows                bigint           NOT NULL,
    shared_blks_hit     bigint           NOT NULL,
    shared_blks_read    bigint           NOT NULL,
    shared_blks_dirtied bigint           NOT NULL,
    shared_blks_written bigint           NOT NULL,
    temp_blks_read      bigint           NOT NULL,
    temp_blks_written   bigint           NOT NULL,
    blk_read_time       double precision NOT NULL,  -- milliseconds
    blk_write_time      double precision NOT NULL,  -- milliseconds
    wal_records         bigint           NOT NULL,
    wal_bytes           numeric          NOT NULL,
    PRIMARY KEY (userid, dbid, queryid, toplevel, snapshot_at)
);

-- Retention deletes and the "recent window" of the views go by time.
CREATE INDEX statement_history_snapshot_at_idx ON @extschema@.statement_history (snapshot_at);

COMMENT ON TABLE @extschema@.statement_history IS
  'Per statement and snapshot: calls, times, rows, blocks and WAL since the previous snapshot of that statement (deltas), and the length of that interval. Written by snapshot_statements().';

-- The cumulative counters seen by the last snapshot, per statement, so that the next delta is
-- one join away. first_seen tells a statement evicted and recorded again from the old one.
CREATE TABLE @extschema@.statement_history_last (
    userid              oid              NOT NULL,
    dbid                oid              NOT NULL,
    queryid             bigint           NOT NULL,
    toplevel            boolean          NOT NULL,
    snapshot_at         timestamptz      NOT NULL,
    first_seen          timestamptz,
    calls               bigint           NOT NULL,
    total_exec_time     double precision NOT NULL,
    plans               bigint           NOT NULL,
    total_plan_time     double precision NOT NULL,
    rows                bigint           NOT NULL,
    shared_blks_hit     bigint           NOT NULL,
    shared_blks_read    bigint           NOT NULL,
    shared_blks_dirtied bigint           NOT NULL,
    shared_blks_written bigint           NOT NULL,
    temp_blks_read      bigint           NOT NULL,
    temp_blks_written   bigint           NOT NULL,
    blk_read_time       double precision NOT NULL,
    blk_write_time      double precision NOT NULL,
    wal_records         bigint           NOT NULL,
    wal_bytes           numeric          NOT NULL,
    PRIMARY KEY (userid, dbid, queryid, toplevel)
);

COMMENT ON TABLE @extschema@.statement_history_last IS
  'Cumulative counters of each statement at the last snapshot (internal to snapshot_statements()).';

-- Statements already announced as regressing. An entry lasts as long as the regression: when
-- the statement leaves the regressions view, the entry goes and a later regression is new.
CREATE TABLE @extschema@.regression_alerts (
    userid     oid         NOT NULL,
    dbid       oid         NOT NULL,
    queryid    bigint      NOT NULL,
    toplevel   boolean     NOT NULL,
    alerted_at timestamptz NOT NULL,
    PRIMARY KEY (userid, dbid, queryid, toplevel)
);

COMMENT ON TABLE @extschema@.regression_alerts IS
  'Regressions already announced on channel pg_optimizer_alerts (internal to snapshot_statements()).';

REVOKE ALL ON TABLE @extschema@.statement_history, @extschema@.statement_history_last,
                    @extschema@.regression_alerts FROM PUBLIC;


-- ---------------------------------------------------------------------------------------------
-- statement_trends: per statement, the recent window against the older history.
--
--   calls_now, mean_ms_now            snapshots taken within the last pg_optimizer.trend_window
--   calls_baseline, mean_ms_baseline  older snapshots still within retention
--   calls_per_second                  calls_now over the time those snapshots cover (from the
--                                     start of the oldest one's interval to the last snapshot)
--   change_factor                     mean_ms_now / mean_ms_baseline
--   trend                             'new'         no calls in the baseline
--                                     'regressing'  change_factor >= 1.5
--                                     'improving'   change_factor <= 1/1.5
--                                     'stable'      in between
-- Only statements called in the recent window. The query text comes from
-- @extschema@.statements while the statement is still there (it hides other users' texts).
-- A user sees their own statements (or those of roles whose privileges they have); superusers
-- and members of pg_read_all_stats see all.

CREATE VIEW @extschema@.statement_trends WITH (security_barrier = true) AS
WITH settings AS (
    SELECT pg_catalog.now() - COALESCE(NULLIF(pg_catalog.current_setting('pg_optimizer.trend_window', true), '')::interval,
                                       interval '1 hour')                                   AS recent_from,
           pg_catalog.now() - COALESCE(NULLIF(pg_catalog.current_setting('pg_optimizer.statement_history_days', true), '')::numeric,
                                       7) * interval '1 day'                                AS retained_from
), recent AS (
    -- the statements called in the recent window (found through the snapshot_at index) that
    -- the reader may see ...
    SELECT DISTINCT h.userid, h.dbid, h.queryid, h.toplevel
      FROM @extschema@.statement_history h, settings s
     WHERE h.snapshot_at > s.recent_from
       AND (pg_catalog.pg_has_role(h.userid, 'USAGE')
            OR pg_catalog.pg_has_role('pg_read_all_stats'::name, 'USAGE'))
), h AS (
    -- ... and all their retained history (through the primary key)
    SELECT h.*, h.snapshot_at > s.recent_from AS recent
      FROM recent k
      JOIN @extschema@.statement_history h
        ON h.userid = k.userid AND h.dbid = k.dbid AND h.queryid = k.queryid AND h.toplevel = k.toplevel
     CROSS JOIN settings s
     WHERE h.snapshot_at >= s.retained_from
), agg AS (
    SELECT h.userid, h.dbid, h.queryid, h.toplevel,
           pg_catalog.sum(h.calls)           FILTER (WHERE h.recent)     AS calls_now,
           pg_catalog.sum(h.total_exec_time) FILTER (WHERE h.recent)     AS time_now,
           pg_catalog.sum(h.rows)            FILTER (WHERE h.recent)     AS rows_now,
           pg_catalog.min(h.snapshot_at - h.interval_length) FILTER (WHERE h.recent) AS covered_from,
           pg_catalog.sum(h.calls)           FILTER (WHERE NOT h.recent) AS calls_baseline,
           pg_catalog.sum(h.total_exec_time) FILTER (WHERE NOT h.recent) AS time_baseline
      FROM h
     GROUP BY h.userid, h.dbid, h.queryid, h.toplevel
), m AS (
    SELECT a.*,
           a.time_now / NULLIF(a.calls_now, 0)                AS mean_now,
           a.time_baseline / NULLIF(a.calls_baseline, 0)      AS mean_baseline
      FROM agg a
     WHERE a.calls_now > 0
)
SELECT m.userid,
       r.rolname                                              AS username,
       m.dbid,
       d.datname                                              AS dbname,
       m.queryid,
       m.toplevel,
       st.query,
       m.calls_now::bigint                                    AS calls_now,
       COALESCE(m.calls_baseline, 0)::bigint                  AS calls_baseline,
       m.calls_now::float8 / NULLIF(pg_catalog.date_part('epoch',
                (SELECT pg_catalog.max(l.snapshot_at) FROM @extschema@.statement_history l) - m.covered_from), 0)
                                                              AS calls_per_second,
       m.mean_now                                             AS mean_ms_now,
       m.mean_baseline                                        AS mean_ms_baseline,
       m.mean_now / NULLIF(m.mean_baseline, 0)                AS change_factor,
       m.rows_now::float8 / NULLIF(m.calls_now, 0)            AS rows_per_call_now,
       CASE WHEN COALESCE(m.calls_baseline, 0) = 0                  THEN 'new'
            WHEN m.mean_now / NULLIF(m.mean_baseline, 0) >= 1.5     THEN 'regressing'
            WHEN m.mean_now / NULLIF(m.mean_baseline, 0) <= 1 / 1.5 THEN 'improving'
            ELSE 'stable'
       END                                                    AS trend
  FROM m
  LEFT JOIN @extschema@.statements st
         ON st.userid = m.userid AND st.dbid = m.dbid AND st.queryid = m.queryid AND st.toplevel = m.toplevel
  LEFT JOIN pg_catalog.pg_roles r    ON r.oid = m.userid
  LEFT JOIN pg_catalog.pg_database d ON d.oid = m.dbid;

COMMENT ON VIEW @extschema@.statement_trends IS
  'Per statement called recently (pg_optimizer.trend_window, default 1 hour): calls and mean execution time now vs the older history, the change factor and a trend (new, regressing >= 1.5x, improving <= 1/1.5x, stable). Your own statements only, unless superuser or pg_read_all_stats.';


-- ---------------------------------------------------------------------------------------------
-- regressions: statements whose mean execution time at least doubled (change_factor >= 2) with
-- at least 20 calls in the recent window and 20 in the baseline (fewer calls are noise).
-- Costliest first: extra_ms_now = calls_now * (mean_ms_now - mean_ms_baseline), the time the
-- slowdown cost in the recent window.

CREATE VIEW @extschema@.regressions WITH (security_barrier = true) AS
SELECT t.*,
       t.calls_now * (t.mean_ms_now - t.mean_ms_baseline) AS extra_ms_now
  FROM @extschema@.statement_trends t
 WHERE t.change_factor >= 2        -- at least twice as slow
   AND t.calls_now >= 20           -- enough calls now ...
   AND t.calls_baseline >= 20      -- ... and before, for the means to mean something
 ORDER BY t.calls_now * (t.mean_ms_now - t.mean_ms_baseline) DESC;

COMMENT ON VIEW @extschema@.regressions IS
  'Statements at least twice as slow (mean) in the recent window as in the baseline, with at least 20 calls in each; costliest first (extra_ms_now = calls_now * (mean_ms_now - mean_ms_baseline)).';

GRANT SELECT ON @extschema@.statement_trends, @extschema@.regressions TO PUBLIC;


-- ---------------------------------------------------------------------------------------------
-- snapshot_statements: take a snapshot, expire old history, announce new regressions.
-- Returns the number of history rows written (statements called since the previous snapshot).
--
-- Delta of a counter = current - previous. When the statement is new, was evicted and recorded
-- again (first_seen changed), or a counter went down (reset), the delta is the current value:
-- everything counted since the entry (re)started. Statements gone from the store are forgotten.
-- Snapshots are serialized by a lock on statement_history_last (two at once would count the
-- same interval twice).
--
-- Alerts: for every statement that is in the regressions view and was not at the previous
-- snapshot, NOTIFY pg_optimizer_alerts with a JSON object
--   {"queryid", "userid", "dbid", "toplevel", "mean_now_ms", "mean_baseline_ms", "factor",
--    "calls_now", "calls_baseline", "query"}
-- (the query text is shortened to keep the payload under the 8000-byte NOTIFY limit). Delivered
-- when the calling transaction commits, to listeners in this database.
--
-- Meant for a superuser job: it reads every user's statements.

CREATE FUNCTION @extschema@.snapshot_statements()
RETURNS bigint
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE   -- no arguments
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_now     timestamptz := pg_catalog.now();
    v_days    numeric := COALESCE(NULLIF(pg_catalog.current_setting('pg_optimizer.statement_history_days', true), '')::numeric, 7);
    v_written bigint;
    v_alerts  bigint;
BEGIN
    IF v_days <= 0 THEN
        RAISE EXCEPTION 'pg_optimizer.statement_history_days must be positive, not %', v_days
              USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- Self-conflicting, and compatible with readers of the views.
    LOCK TABLE @extschema@.statement_history_last IN SHARE ROW EXCLUSIVE MODE;

    WITH cur AS (
        SELECT s.userid, s.dbid, s.queryid, s.toplevel, s.first_seen,
               COALESCE(s.calls, 0)               AS calls,
               COALESCE(s.total_exec_time, 0)     AS total_exec_time,
               COALESCE(s.plans, 0)               AS plans,
               COALESCE(s.total_plan_time, 0)     AS total_plan_time,
               COALESCE(s.rows, 0)                AS rows,
               COALESCE(s.shared_blks_hit, 0)     AS shared_blks_hit,
               COALESCE(s.shared_blks_read, 0)    AS shared_blks_read,
               COALESCE(s.shared_blks_dirtied, 0) AS shared_blks_dirtied,
               COALESCE(s.shared_blks_written, 0) AS shared_blks_written,
               COALESCE(s.temp_blks_read, 0)      AS temp_blks_read,
               COALESCE(s.temp_blks_written, 0)   AS temp_blks_written,
               COALESCE(s.blk_read_time, 0)       AS blk_read_time,
               COALESCE(s.blk_write_time, 0)      AS blk_write_time,
               COALESCE(s.wal_records, 0)         AS wal_records,
               COALESCE(s.wal_bytes, 0)           AS wal_bytes
          FROM @extschema@.statements s
         WHERE s.queryid IS NOT NULL          -- NULL: another user's statement we may not see
    ), d AS (
        SELECT c.*,
               l.snapshot_at AS prev_at,
               -- the entry (re)started since the last snapshot: take its counters whole
               (l.userid IS NULL
                OR c.first_seen IS DISTINCT FROM l.first_seen
                OR c.calls < l.calls)                       AS restarted,
               l.calls AS l_calls, l.total_exec_time AS l_total_exec_time, l.plans AS l_plans,
               l.total_plan_time AS l_total_plan_time, l.rows AS l_rows,
               l.shared_blks_hit AS l_shared_blks_hit, l.shared_blks_read AS l_shared_blks_read,
               l.shared_blks_dirtied AS l_shared_blks_dirtied, l.shared_blks_written AS l_shared_blks_written,
               l.temp_blks_read AS l_temp_blks_read, l.temp_blks_written AS l_temp_blks_written,
               l.blk_read_time AS l_blk_read_time, l.blk_write_time AS l_blk_write_time,
               l.wal_records AS l_wal_records, l.wal_bytes AS l_wal_bytes
          FROM cur c
          LEFT JOIN @extschema@.statement_history_last l
                 ON l.userid = c.userid AND l.dbid = c.dbid AND l.queryid = c.queryid AND l.toplevel = c.toplevel
    ), delta AS (
        -- per counter: the difference, or the current value when the entry restarted or this
        -- counter went down
        SELECT d.userid, d.dbid, d.queryid, d.toplevel,
               -- since the previous snapshot; for a (re)started entry since it started, if later
               v_now - LEAST(COALESCE(CASE WHEN d.restarted THEN GREATEST(d.first_seen, d.prev_at)
                                           ELSE d.prev_at END, v_now), v_now) AS interval_length,
               CASE WHEN d.restarted OR d.calls < d.l_calls THEN d.calls ELSE d.calls - d.l_calls END AS calls,
               CASE WHEN d.restarted OR d.total_exec_time < d.l_total_exec_time THEN d.total_exec_time ELSE d.total_exec_time - d.l_total_exec_time END AS total_exec_time,
               CASE WHEN d.restarted OR d.plans < d.l_plans THEN d.plans ELSE d.plans - d.l_plans END AS plans,
               CASE WHEN d.restarted OR d.total_plan_time < d.l_total_plan_time THEN d.total_plan_time ELSE d.total_plan_time - d.l_total_plan_time END AS total_plan_time,
               CASE WHEN d.restarted OR d.rows < d.l_rows THEN d.rows ELSE d.rows - d.l_rows END AS rows,
               CASE WHEN d.restarted OR d.shared_blks_hit < d.l_shared_blks_hit THEN d.shared_blks_hit ELSE d.shared_blks_hit - d.l_shared_blks_hit END AS shared_blks_hit,
               CASE WHEN d.restarted OR d.shared_blks_read < d.l_shared_blks_read THEN d.shared_blks_read ELSE d.shared_blks_read - d.l_shared_blks_read END AS shared_blks_read,
               CASE WHEN d.restarted OR d.shared_blks_dirtied < d.l_shared_blks_dirtied THEN d.shared_blks_dirtied ELSE d.shared_blks_dirtied - d.l_shared_blks_dirtied END AS shared_blks_dirtied,
               CASE WHEN d.restarted OR d.shared_blks_written < d.l_shared_blks_written THEN d.shared_blks_written ELSE d.shared_blks_written - d.l_shared_blks_written END AS shared_blks_written,
               CASE WHEN d.restarted OR d.temp_blks_read < d.l_temp_blks_read THEN d.temp_blks_read ELSE d.temp_blks_read - d.l_temp_blks_read END AS temp_blks_read,
               CASE WHEN d.restarted OR d.temp_blks_written < d.l_temp_blks_written THEN d.temp_blks_written ELSE d.temp_blks_written - d.l_temp_blks_written END AS temp_blks_written,
               CASE WHEN d.restarted OR d.blk_read_time < d.l_blk_read_time THEN d.blk_read_time ELSE d.blk_read_time - d.l_blk_read_time END AS blk_read_time,
               CASE WHEN d.restarted OR d.blk_write_time < d.l_blk_write_time THEN d.blk_write_time ELSE d.blk_write_time - d.l_blk_write_time END AS blk_write_time,
               CASE WHEN d.restarted OR d.wal_records < d.l_wal_records THEN d.wal_records ELSE d.wal_records - d.l_wal_records END AS wal_records,
               CASE WHEN d.restarted OR d.wal_bytes < d.l_wal_bytes THEN d.wal_bytes ELSE d.wal_bytes - d.l_wal_bytes END AS wal_bytes
          FROM d
    ), ins AS (
        INSERT INTO @extschema@.statement_history
               (snapshot_at, interval_length, userid, dbid, queryid, toplevel, calls, total_exec_time,
                plans, total_plan_time, rows, shared_blks_hit, shared_blks_read, shared_blks_dirtied,
                shared_blks_written, temp_blks_read, temp_blks_written, blk_read_time, blk_write_time,
                wal_records, wal_bytes)
        SELECT v_now, x.interval_length, x.userid, x.dbid, x.queryid, x.toplevel, x.calls, x.total_exec_time,
               x.plans, x.total_plan_time, x.rows, x.shared_blks_hit, x.shared_blks_read, x.shared_blks_dirtied,
               x.shared_blks_written, x.temp_blks_read, x.temp_blks_written, x.blk_read_time, x.blk_write_time,
               x.wal_records, x.wal_bytes
          FROM delta x
         WHERE x.calls > 0
        RETURNING 1
    ), upd AS (
        INSERT INTO @extschema@.statement_history_last AS l
               (userid, dbid, queryid, toplevel, snapshot_at, first_seen, calls, total_exec_time, plans,
                total_plan_time, rows, shared_blks_hit, shared_blks_read, shared_blks_dirtied,
                shared_blks_written, temp_blks_read, temp_blks_written, blk_read_time, blk_write_time,
                wal_records, wal_bytes)
        SELECT c.userid, c.dbid, c.queryid, c.toplevel, v_now, c.first_seen, c.calls, c.total_exec_time, c.plans,
               c.total_plan_time, c.rows, c.shared_blks_hit, c.shared_blks_read, c.shared_blks_dirtied,
               c.shared_blks_written, c.temp_blks_read, c.temp_blks_written, c.blk_read_time, c.blk_write_time,
               c.wal_records, c.wal_bytes
          FROM cur c
            ON CONFLICT (userid, dbid, queryid, toplevel) DO UPDATE
           SET snapshot_at = EXCLUDED.snapshot_at, first_seen = EXCLUDED.first_seen,
               calls = EXCLUDED.calls, total_exec_time = EXCLUDED.total_exec_time, plans = EXCLUDED.plans,
               total_plan_time = EXCLUDED.total_plan_time, rows = EXCLUDED.rows,
               shared_blks_hit = EXCLUDED.shared_blks_hit, shared_blks_read = EXCLUDED.shared_blks_read,
               shared_blks_dirtied = EXCLUDED.shared_blks_dirtied, shared_blks_written = EXCLUDED.shared_blks_written,
               temp_blks_read = EXCLUDED.temp_blks_read, temp_blks_written = EXCLUDED.temp_blks_written,
               blk_read_time = EXCLUDED.blk_read_time, blk_write_time = EXCLUDED.blk_write_time,
               wal_records = EXCLUDED.wal_records, wal_bytes = EXCLUDED.wal_bytes
    ), gone AS (
        DELETE FROM @extschema@.statement_history_last l
         WHERE NOT EXISTS (SELECT 1 FROM cur c
                            WHERE c.userid = l.userid AND c.dbid = l.dbid
                              AND c.queryid = l.queryid AND c.toplevel = l.toplevel)
    )
    SELECT pg_catalog.count(*) INTO v_written FROM ins;

    -- Retention.
    DELETE FROM @extschema@.statement_history h
     WHERE h.snapshot_at < v_now - v_days * interval '1 day';

    -- Regression episodes: end the ones no longer regressing, announce the new ones.
    WITH r AS MATERIALIZED (
        SELECT g.userid, g.dbid, g.queryid, g.toplevel, g.mean_ms_now, g.mean_ms_baseline,
               g.change_factor, g.calls_now, g.calls_baseline, g.query
          FROM @extschema@.regressions g
    ), ended AS (
        DELETE FROM @extschema@.regression_alerts a
         WHERE NOT EXISTS (SELECT 1 FROM r
                            WHERE r.userid = a.userid AND r.dbid = a.dbid
                              AND r.queryid = a.queryid AND r.toplevel = a.toplevel)
    ), started AS (
        INSERT INTO @extschema@.regression_alerts (userid, dbid, queryid, toplevel, alerted_at)
        SELECT r.userid, r.dbid, r.queryid, r.toplevel, v_now
          FROM r
         WHERE NOT EXISTS (SELECT 1 FROM @extschema@.regression_alerts a
                            WHERE r.userid = a.userid AND r.dbid = a.dbid
                              AND r.queryid = a.queryid AND r.toplevel = a.toplevel)
        ON CONFLICT DO NOTHING
        RETURNING userid, dbid, queryid, toplevel
    ), payload AS (
        SELECT pg_catalog.json_build_object(
                   'queryid', r.queryid, 'userid', r.userid::bigint, 'dbid', r.dbid::bigint, 'toplevel', r.toplevel,
                   'mean_now_ms', pg_catalog.round(r.mean_ms_now::numeric, 3),
                   'mean_baseline_ms', pg_catalog.round(r.mean_ms_baseline::numeric, 3),
                   'factor', pg_catalog.round(r.change_factor::numeric, 2),
                   'calls_now', r.calls_now, 'calls_baseline', r.calls_baseline,
                   'query', pg_catalog.left(r.query, 1000))::text AS full_text,
               pg_catalog.json_build_object(
                   'queryid', r.queryid, 'userid', r.userid::bigint, 'dbid', r.dbid::bigint, 'toplevel', r.toplevel,
                   'mean_now_ms', pg_catalog.round(r.mean_ms_now::numeric, 3),
                   'mean_baseline_ms', pg_catalog.round(r.mean_ms_baseline::numeric, 3),
                   'factor', pg_catalog.round(r.change_factor::numeric, 2),
                   'calls_now', r.calls_now, 'calls_baseline', r.calls_baseline,
                   'query', pg_catalog.left(r.query, 100))::text AS short_text
          FROM started s
          JOIN r ON r.userid = s.userid AND r.dbid = s.dbid AND r.queryid = s.queryid AND r.toplevel = s.toplevel
    )
    SELECT pg_catalog.count(*) INTO v_alerts
      FROM (SELECT pg_catalog.pg_notify('pg_optimizer_alerts',
                       CASE WHEN pg_catalog.octet_length(p.full_text) < 7900 THEN p.full_text
                            ELSE p.short_text END)
              FROM payload p) n;

    IF v_alerts > 0 THEN
        RAISE LOG 'pg_optimizer: % new statement regression(s) announced on pg_optimizer_alerts', v_alerts;
    END IF;
    RETURN v_written;
END
$fn$;

COMMENT ON FUNCTION @extschema@.snapshot_statements() IS
  'Record what each statement did since the previous snapshot into statement_history, expire history older than pg_optimizer.statement_history_days (default 7), and NOTIFY pg_optimizer_alerts of new regressions. For a superuser job; returns the history rows written.';

REVOKE ALL ON FUNCTION @extschema@.snapshot_statements() FROM PUBLIC;
