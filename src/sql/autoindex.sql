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
