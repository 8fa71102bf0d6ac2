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
