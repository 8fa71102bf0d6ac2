-- Jobs from psql: when schedules are due, what a bad schedule or window says, defining, changing
-- and removing jobs, the built-in job, and row-level security between roles.
SET TimeZone = 'UTC';
SELECT optimizer.next_run('*/5 * * * *', NULL, '2026-12-01 10:01:00+00') AS every_5_min;
SELECT optimizer.next_run('15 minutes', NULL, '2026-12-01 10:07:00+00') AS quarter_hours;
SELECT optimizer.next_run('1 day', NULL, '2026-12-01 10:07:00+00') AS daily_at_midnight;
SELECT optimizer.next_run('0 3 * * mon-fri', NULL, '2026-12-04 04:00:00+00') AS weekdays_friday_to_monday;
SELECT optimizer.next_run('10 seconds', '22:00-06:00', '2026-12-01 10:00:00+00') AS at_the_window;
SELECT optimizer.next_run('0 0 31 2 *', NULL, '2026-12-01 10:00:00+00') IS NULL AS never;
-- Refused, with what was expected.
SELECT optimizer.next_run('every tuesday');
SELECT optimizer.next_run('0 seconds');
SELECT optimizer.next_run('1 hour', '25:00-01:00');
-- Define, change, inspect.
SELECT name, schedule, command, owner, enabled, run_window, timeout, lock_timeout, builtin
  FROM optimizer.schedule('nightly', '30 3 * * *', 'VACUUM', run_window => '01:00-05:00');
SELECT name, schedule, enabled, run_window FROM optimizer.alter_job('nightly', schedule => '45 3 * * *', enabled => false);
SELECT name, run_window FROM optimizer.alter_job('nightly', run_window => '');
SELECT name, schedule, enabled, next_run, last_status FROM optimizer.job_status WHERE name = 'nightly';
SELECT optimizer.alter_job('nope', enabled => false);
SELECT optimizer.schedule('nightly', NULL, 'VACUUM');
SELECT optimizer.schedule('elsewhere', '1 hour', 'SELECT 1', database => 'postgres');
SELECT optimizer.schedule('bad', 'soon', 'SELECT 1');
-- The built-in job.
SELECT name, command, builtin FROM optimizer.jobs WHERE builtin ORDER BY name;
SELECT optimizer.unschedule('statement_history');
SELECT optimizer.alter_job('statement_history', schedule => '1 hour');
-- Roles see and manage only their own jobs; only a superuser schedules for another role.
CREATE ROLE regress_job_user;
SET ROLE regress_job_user;
SELECT optimizer.schedule('as_someone_else', '1 hour', 'SELECT 1', owner => 'postgres');
SELECT count(*) AS jobs_i_see FROM optimizer.jobs;
SELECT name, owner FROM optimizer.schedule('mine', '1 hour', 'SELECT 1');
SELECT name FROM optimizer.jobs;
SELECT optimizer.schedule('nightly', '1 hour', 'SELECT 1');
UPDATE optimizer.jobs SET owner = 'postgres' WHERE name = 'mine';
RESET ROLE;
SELECT name, owner, builtin FROM optimizer.jobs ORDER BY name;
SELECT optimizer.unschedule('mine') AS mine, optimizer.unschedule('nightly') AS nightly, optimizer.unschedule('nightly') AS again;
DROP ROLE regress_job_user;
-- The maintenance actions share one result shape.
SELECT pg_catalog.pg_get_function_result(p.oid) AS result, count(*)
  FROM pg_proc p WHERE p.pronamespace = 'optimizer'::regnamespace
   AND p.proname IN ('analyze_stale', 'vacuum_needed', 'reindex_bloated', 'refresh_matviews')
 GROUP BY 1;
