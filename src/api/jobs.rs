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
    let run_id = Spi::get_one::<i64>("SELECT pg_catalog.nextval('optimizer.job_runs_run_id_seq')")
        .map_err(|e| ErrorReport::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, e.to_string(), "run_job"))?
        .unwrap_or(0);
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
/// timeouts; waits for them and returns one row per command. A failed command does not stop the
/// next. Cancelling the call stops the worker.
#[pg_extern(volatile, strict, parallel_unsafe)]
fn run_in_worker(
    commands: Vec<Option<String>>,
    statement_timeout: default!(Interval, "'1 hour'"),
    lock_timeout: default!(Interval, "'10 seconds'"),
) -> Result<
    TableIterator<
        'static,
        (name!(command, String), name!(status, String), name!(rows, i64), name!(message, Option<String>), name!(duration_ms, f64)),
    >,
> {
    require_preloaded()?;
    let commands: Vec<String> = commands.into_iter().flatten().collect();
    if commands.is_empty() {
        return Ok(TableIterator::new(vec![]));
    }
    let req = Request {
        role: unsafe { pg_sys::GetUserId() }.to_u32(),
        statement_timeout_ms: interval_ms(&statement_timeout),
        lock_timeout_ms: interval_ms(&lock_timeout),
        commands,
    };
    let size = req.segment_size();
    let outcomes = unsafe {
        let seg = pg_sys::dsm_create(size, 0);
        let bytes = std::slice::from_raw_parts_mut(pg_sys::dsm_segment_address(seg) as *mut u8, size);
        req.write(bytes).map_err(|e| ErrorReport::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, e, "run_in_worker"))?;
        let errand = Errand::Commands { db: pg_sys::MyDatabaseId.to_u32(), handle: pg_sys::dsm_segment_handle(seg) };
        scheduler::run_and_wait(&errand, "run_in_worker").map_err(|why| {
            ErrorReport::new(PgSqlErrorCode::ERRCODE_INSUFFICIENT_RESOURCES, format!("cannot start a worker: {why}"), "run_in_worker")
                .set_hint("Raise max_worker_processes (restart needed), or retry when fewer jobs run.")
        })?;
        let out: Vec<Outcome> = (0..req.commands.len())
            .map(|i| {
                let off = req.slot_offset(i);
                Outcome::read(&bytes[off..off + SLOT_BYTES])
            })
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| ErrorReport::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, e, "run_in_worker"))?;
        pg_sys::dsm_detach(seg);
        out
    };
    let rows: Vec<_> = req
        .commands
        .into_iter()
        .zip(outcomes)
        .map(|(c, o)| {
            let ms = if o.ended > o.started { (o.ended - o.started) as f64 / 1000.0 } else { 0.0 };
            let message = (!o.message.is_empty()).then_some(o.message);
            (c, o.status.as_str().to_string(), o.rows, message, ms)
        })
        .collect();
    Ok(TableIterator::new(rows))
}
