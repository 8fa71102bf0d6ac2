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
