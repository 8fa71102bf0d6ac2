//! The scheduler from SQL: `next_run`, `run_job`, `run_in_worker`. (`schedule`, `unschedule`
//! and `alter_job` are SQL functions over `optimizer.jobs` in `src/sql/scheduler.sql`; row-level
//! security there keeps each role to its own jobs.)

use crate::api::statements::require_preloaded;
use crate::error::{invalid_argument, Result};
use crate::scheduler::{self, Errand, MAX_JOB_NAME};
use pg_optimizer_core::handoff::{Outcome, Request, SLOT_BYTES};
use pg_optimizer_core::schedule::{next_due, Schedule, Window};
use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

/// Seconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_UNIX_S: i64 = 946_684_800;

fn to_unix_s(t: TimestampWithTimeZone) -> i64 {
    let micros: i64 = t.into();
    micros.div_euclid(1_000_000) + PG_EPOCH_UNIX_S
}

/// Refuse to start one more job worker when this database already runs
/// `pg_optimizer.max_running_jobs` of them (a soft cap shared with the scheduler: it keeps any role
/// from filling `max_worker_processes` with manual runs).
pub(crate) fn check_capacity(what: &str) -> Result<()> {
    let running = crate::shmem::workers::runners_in(unsafe { pg_sys::MyDatabaseId }.to_u32()) as i64;
    let max = crate::gucs::max_running_jobs() as i64;
    if running >= max {
        return Err(ErrorReport::new(
            PgSqlErrorCode::ERRCODE_CONFIGURATION_LIMIT_EXCEEDED,
            format!("cannot start {what}: {running} job workers already run in this database (pg_optimizer.max_running_jobs = {max})"),
            "pg_optimizer",
        )
        .set_hint("Retry when a job has ended (optimizer.job_runs), or raise pg_optimizer.max_running_jobs."));
    }
    Ok(())
}

/// A run id for a run whose worker writes its own row (it is not waited for inside this
/// transaction, so the row cannot be written here).
pub(crate) fn next_run_id(caller: &'static str) -> Result<i64> {
    Spi::get_one::<i64>("SELECT pg_catalog.nextval('optimizer.job_runs_run_id_seq')")
        .map_err(|e| ErrorReport::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, e.to_string(), caller))
        .map(|id| id.unwrap_or(0))
}

fn interval_ms(i: &Interval) -> i64 {
    let micros = i.as_micros();
    (micros / 1000).clamp(0, i32::MAX as i128) as i64
}

/// The next time a job with this schedule (and start window) is due after `after`; NULL when a
/// cron pattern never matches again. Raises an error with a hint for a schedule or window that
/// does not parse: `optimizer.schedule` and `alter_job` validate with it.
#[pg_extern(stable, parallel_safe)]
fn next_run(
    schedule: &str,
    run_window: default!(Option<&str>, "NULL"),
    after: default!(Option<TimestampWithTimeZone>, "NULL"),
) -> Result<Option<TimestampWithTimeZone>> {
    let s = Schedule::parse(schedule).map_err(|e| {
        invalid_argument(
            format!("invalid schedule: {e}"),
            "Use an interval such as '10 seconds', '15 minutes', '1 hour', '1 day' (runs at multiples of it since midnight UTC), or 5 cron fields (minute hour day-of-month month day-of-week, UTC) such as '30 3 * * *'.",
        )
    })?;
    let w = run_window
        .map(Window::parse)
        .transpose()
        .map_err(|e| invalid_argument(format!("invalid run_window: {e}"), "Give start and end as HH:MM-HH:MM in UTC, such as '01:00-05:00' or '22:00-06:00'."))?;
    let after = match after {
        Some(t) => to_unix_s(t),
        None => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0),
    };
    Ok(next_due(&s, w.as_ref(), after).and_then(|t| TimestampWithTimeZone::try_from((t - PG_EPOCH_UNIX_S) * 1_000_000).ok()))
}

/// Run a job now, in its own worker, as its owner (not the caller), with its timeouts, recorded
/// in `optimizer.job_runs` (trigger 'run_job'). Returns the run id. With `wait => true`, returns
/// when the run has ended. The job must be committed and visible to the caller (its owner, or a
/// superuser); a job whose previous run is still going is refused.
#[pg_extern(volatile, parallel_unsafe)]
fn run_job(job_name: &str, wait: default!(bool, false)) -> Result<i64> {
    require_preloaded()?;
    let visible = Spi::get_one_with_args::<bool>("SELECT EXISTS (SELECT 1 FROM optimizer.jobs WHERE name = $1)", &[job_name.into()])
        .map_err(|e| ErrorReport::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, e.to_string(), "run_job"))?
        .unwrap_or(false);
    if !visible || job_name.len() > MAX_JOB_NAME {
        return Err(ErrorReport::new(PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT, format!("no job named \"{job_name}\""), "run_job")
            .set_hint("SELECT name FROM optimizer.jobs lists the jobs you may run: your own, or every job for a superuser."));
    }
    let busy = Spi::get_two_with_args::<i64, i32>(
        "SELECT r.run_id, r.pid FROM optimizer.job_runs r
          WHERE r.job = $1 AND r.status IN ('starting', 'running')
            AND EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.pid = r.pid AND a.backend_type = 'pg_optimizer job')
          LIMIT 1",
        &[job_name.into()],
    );
    if let Ok((Some(run), pid)) = busy {
        return Err(ErrorReport::new(
            PgSqlErrorCode::ERRCODE_OBJECT_IN_USE,
            format!("job \"{job_name}\" is still running (run {run})"),
            "run_job",
        )
        .set_hint(format!("Wait for it to end, or cancel it with SELECT pg_cancel_backend({}).", pid.unwrap_or(0))));
    }
    check_capacity(&format!("job \"{job_name}\""))?;
    let run_id = next_run_id("run_job")?;
    let errand = Errand::Manual { db: unsafe { pg_sys::MyDatabaseId }.to_u32(), run_id, job: job_name.to_string() };
    let started = if wait {
        scheduler::run_and_wait(&errand, job_name)
    } else {
        scheduler::start_runner(&errand, job_name).map(|_| ())
    };
    started.map_err(|why| {
        ErrorReport::new(PgSqlErrorCode::ERRCODE_INSUFFICIENT_RESOURCES, format!("cannot start job \"{job_name}\": {why}"), "run_job")
            .set_hint("Raise max_worker_processes (restart needed), or retry when fewer jobs run.")
    })?;
    Ok(run_id)
}

/// Run commands that cannot run inside a function or a transaction block (VACUUM, REINDEX
/// CONCURRENTLY, CREATE INDEX CONCURRENTLY) at the top level of a background worker, as the
/// calling role (under SECURITY_RESTRICTED_OPERATION), one after the other, each under the
/// timeouts. A failed command does not stop the next.
///
/// `wait => true` (default): returns one row per command with its outcome; cancelling the call
/// stops the worker. `wait => false`: returns as soon as the worker has the commands, one row per
/// command with status 'started' and the run id; the run is recorded in `optimizer.job_runs`
/// under `label`. Use it for CONCURRENTLY commands: they wait for every transaction with an older
/// snapshot to end, including the caller's, so waiting for them would wait for itself.
#[pg_extern(volatile, strict, parallel_unsafe)]
fn run_in_worker(
    commands: Vec<Option<String>>,
    statement_timeout: default!(Interval, "'1 hour'"),
    lock_timeout: default!(Interval, "'10 seconds'"),
    wait: default!(bool, true),
    label: default!(&str, "'run_in_worker'"),
) -> Result<
    TableIterator<
        'static,
        (
            name!(command, String),
            name!(status, String),
            name!(rows, Option<i64>),
            name!(message, Option<String>),
            name!(duration_ms, Option<f64>),
            name!(run_id, Option<i64>),
        ),
    >,
> {
    hand_to_worker(unsafe { pg_sys::GetUserId() }, commands, statement_timeout, lock_timeout, wait, label)
}

/// [`run_in_worker`] as another role the caller holds the privileges of (a superuser: any role):
/// the way a job or auto-indexing builds an index as the table's owner, never with its own rights.
#[pg_extern(volatile, strict, parallel_unsafe)]
fn run_in_worker_as(
    role: pg_sys::Oid,
    commands: Vec<Option<String>>,
    statement_timeout: default!(Interval, "'1 hour'"),
    lock_timeout: default!(Interval, "'10 seconds'"),
    wait: default!(bool, true),
    label: default!(&str, "'run_in_worker'"),
) -> Result<
    TableIterator<
        'static,
        (
            name!(command, String),
            name!(status, String),
            name!(rows, Option<i64>),
            name!(message, Option<String>),
            name!(duration_ms, Option<f64>),
            name!(run_id, Option<i64>),
        ),
    >,
> {
    require_preloaded()?;
    if unsafe { pg_sys::GetUserNameFromId(role, true) }.is_null() {
        return Err(invalid_argument(format!("role with OID {} does not exist", role.to_u32()), "Pass an existing role (regrole)."));
    }
    if !unsafe { pg_sys::has_privs_of_role(pg_sys::GetUserId(), role) } {
        return Err(ErrorReport::new(PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE, "permission denied to run commands as that role", "run_in_worker_as")
            .set_hint("Only a member of the role (with its privileges), or a superuser, may run commands as it."));
    }
    hand_to_worker(role, commands, statement_timeout, lock_timeout, wait, label)
}

/// A row of `run_in_worker`: command, status, rows, message, duration_ms, run_id.
type WorkerRow = (String, String, Option<i64>, Option<String>, Option<f64>, Option<i64>);

fn hand_to_worker(
    role: pg_sys::Oid,
    commands: Vec<Option<String>>,
    statement_timeout: Interval,
    lock_timeout: Interval,
    wait: bool,
    label: &str,
) -> Result<TableIterator<'static, WorkerRow>> {
    require_preloaded()?;
    let commands: Vec<String> = commands.into_iter().flatten().collect();
    if commands.is_empty() {
        return Ok(TableIterator::new(vec![]));
    }
    if label.is_empty() || label.len() > MAX_JOB_NAME {
        return Err(invalid_argument(format!("label must have 1 to {MAX_JOB_NAME} bytes"), "Name the run as a job would be named."));
    }
    let req = Request {
        role: role.to_u32(),
        label: label.to_string(),
        statement_timeout_ms: interval_ms(&statement_timeout),
        lock_timeout_ms: interval_ms(&lock_timeout),
        commands,
    };
    let no_worker = |why: String| {
        ErrorReport::new(PgSqlErrorCode::ERRCODE_INSUFFICIENT_RESOURCES, format!("cannot start a worker: {why}"), "run_in_worker")
            .set_hint("Raise max_worker_processes (restart needed), or retry when fewer jobs run.")
    };
    let internal = |e: String| ErrorReport::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, e, "run_in_worker");
    check_capacity("a worker")?;
    let size = req.segment_size();
    let db = unsafe { pg_sys::MyDatabaseId }.to_u32();
    unsafe {
        let seg = pg_sys::dsm_create(size, 0);
        let base = pg_sys::dsm_segment_address(seg) as *mut u8;
        let bytes = std::slice::from_raw_parts_mut(base, size);
        req.write(bytes).map_err(internal)?;
        let handle = pg_sys::dsm_segment_handle(seg);
        if !wait {
            let run_id = next_run_id("run_in_worker")?;
            let worker = scheduler::start_runner(&Errand::Commands { db, handle, run_id: Some(run_id) }, label).map_err(no_worker)?;
            // Wait only until the worker holds the request (the segment goes with this call).
            let taken = &*(base.add(Request::TAKEN_OFFSET) as *const std::sync::atomic::AtomicU32);
            while taken.load(std::sync::atomic::Ordering::Acquire) == 0 {
                if matches!(worker.pid(), Err(pgrx::bgworkers::BackgroundWorkerStatus::Stopped)) {
                    return Err(internal("the worker exited before it took the commands (see the server log)".into()));
                }
                pg_sys::WaitLatch(
                    pg_sys::MyLatch,
                    (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH) as i32,
                    10,
                    pg_sys::PG_WAIT_EXTENSION,
                );
                pg_sys::ResetLatch(pg_sys::MyLatch);
                pg_sys::check_for_interrupts!();
            }
            // The worker maps the segment on its own now: let ours go (else the transaction's end
            // warns of a leaked segment).
            pg_sys::dsm_detach(seg);
            let msg = format!("running as run {run_id}: see optimizer.job_runs");
            let rows: Vec<_> =
                req.commands.into_iter().map(|c| (c, "started".to_string(), None, Some(msg.clone()), None, Some(run_id))).collect();
            return Ok(TableIterator::new(rows));
        }
        scheduler::run_and_wait(&Errand::Commands { db, handle, run_id: None }, label).map_err(no_worker)?;
        let outcomes: Vec<Outcome> = (0..req.commands.len())
            .map(|i| {
                let off = req.slot_offset(i);
                Outcome::read(&bytes[off..off + SLOT_BYTES])
            })
            .collect::<std::result::Result<_, _>>()
            .map_err(internal)?;
        pg_sys::dsm_detach(seg);
        let rows: Vec<_> = req
            .commands
            .into_iter()
            .zip(outcomes)
            .map(|(c, o)| {
                let ms = if o.ended > o.started { (o.ended - o.started) as f64 / 1000.0 } else { 0.0 };
                let message = (!o.message.is_empty()).then_some(o.message);
                (c, o.status.as_str().to_string(), Some(o.rows), message, Some(ms), None)
            })
            .collect();
        Ok(TableIterator::new(rows))
    }
}
