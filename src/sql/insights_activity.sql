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
