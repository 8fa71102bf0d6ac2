//! One runner process: one scheduled or manual run of a job, or the commands of
//! `optimizer.run_in_worker`. It exits when done; nothing it becomes outlives it.

use super::{jobs, Errand};
use crate::error::caught_message;
use crate::pg::{identity, toplevel};
use pg_optimizer_core::handoff::{Outcome, Request, Status, SLOT_BYTES};
use pgrx::prelude::*;
use std::ffi::CString;

/// Run in a transaction with a snapshot; an ERROR is logged and the transaction aborted.
pub fn txn<R>(what: &str, body: impl FnOnce() -> Result<R, String>) -> Option<R> {
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
    }
    let body = std::panic::AssertUnwindSafe(body);
    let r = PgTryBuilder::new(move || Ok(body()))
        .catch_others(|e| {
            if crate::pg::must_propagate(&e) {
                e.rethrow()
            }
            Err(caught_message(&e))
        })
        .execute();
    match r {
        Ok(Ok(v)) => unsafe {
            pg_sys::PopActiveSnapshot();
            pg_sys::CommitTransactionCommand();
            Some(v)
        },
        // Our own error (no PostgreSQL ERROR was raised): the transaction is sound.
        Ok(Err(msg)) => {
            unsafe {
                pg_sys::PopActiveSnapshot();
                pg_sys::CommitTransactionCommand();
            }
            log!("pg_optimizer: {what}: {msg}");
            None
        }
        Err(msg) => {
            unsafe { pg_sys::AbortCurrentTransaction() };
            log!("pg_optimizer: {what}: {msg}");
            None
        }
    }
}

/// How a command (or a job) ended.
struct Ended {
    status: Status,
    rows: i64,
    message: Option<String>,
}

/// Run `sql` at the top level under a timeout; the caller has become the role already.
fn execute(sql: &str, timeout_ms: i64, lock_timeout_ms: i64) -> Ended {
    let Ok(text) = CString::new(sql) else {
        return Ended { status: Status::Failed, rows: 0, message: Some("the command contains a zero byte".into()) };
    };
    let lock = CString::new(format!("{}ms", lock_timeout_ms.max(0))).unwrap();
    identity::set_session(c"lock_timeout", &lock);
    // The job's statements are workload: recorded like any client's.
    identity::set_session(c"pg_optimizer.enabled", c"on");
    let (holdoff, cancel_holdoff) = unsafe { (pg_sys::InterruptHoldoffCount, pg_sys::QueryCancelHoldoffCount) };
    toplevel::arm_timeout(timeout_ms);
    let r = PgTryBuilder::new(|| Ok(unsafe { toplevel::execute(&text) }))
        .catch_others(|e| {
            // A termination (FATAL) ends the process as it should; the scheduler records it.
            if matches!(&e, pg_sys::panic::CaughtError::PostgresError(r) if r.level() > PgLogLevel::ERROR) {
                e.rethrow()
            }
            Err(caught_message(&e))
        })
        .execute();
    let timed_out = toplevel::clear_timeout();
    unsafe {
        pg_sys::InterruptHoldoffCount = holdoff;
        pg_sys::QueryCancelHoldoffCount = cancel_holdoff;
        pg_sys::QueryCancelPending = 0;
    }
    match r {
        Ok(rows) if toplevel::in_transaction_block() => {
            toplevel::abort_all();
            Ended {
                status: Status::Failed,
                rows: rows as i64,
                message: Some("the command left a transaction block open (BEGIN without COMMIT): rolled back".into()),
            }
        }
        Ok(rows) => Ended { status: Status::Succeeded, rows: rows as i64, message: None },
        Err(msg) => {
            toplevel::abort_all();
            // PostgreSQL consumes the timer's indicator when it raises the cancel; this runner's
            // timer is the only statement timeout here, so its message is the sign.
            let timed_out = timed_out || msg.contains("statement timeout");
            let status = if timed_out { Status::TimedOut } else { Status::Failed };
            let message = if timed_out { format!("{msg} (timeout: {timeout_ms} ms)") } else { msg };
            Ended { status, rows: 0, message: Some(message) }
        }
    }
}

/// The runner's work for its errand.
pub fn run(errand: &Errand) {
    match errand {
        Errand::Scheduled { run_id, .. } => run_job(*run_id, None),
        Errand::Manual { run_id, job, .. } => run_job(*run_id, Some(job)),
        Errand::Commands { handle, run_id, .. } => run_commands(*handle, *run_id),
        // The partition worker's errand is run by `workers::runner` (partitions sit beside us).
        Errand::Partitions { .. } => log!("pg_optimizer: a partition errand reached the job runner"),
    }
}

pub fn set_application_name(job: &str) {
    if let Ok(name) = CString::new(format!("pg_optimizer job {job}")) {
        identity::set_session(c"application_name", &name);
    }
}

fn run_job(run_id: i64, manual: Option<&str>) {
    // A scheduled run's row may be a few milliseconds from being committed.
    if manual.is_none() {
        for _ in 0..500 {
            if txn("reading a job run", || Ok(jobs::run_exists(run_id))) == Some(true) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
            pg_sys::check_for_interrupts!();
        }
    }
    let claimed = txn("starting a job run", || match manual {
        None => jobs::claim_scheduled(run_id),
        Some(job) => jobs::claim_manual(run_id, job).map(|s| s.map(|s| (s, 0))),
    });
    let Some(Some((spec, due_ms))) = claimed else {
        // Never claimed: a scheduler restart already settled it, or the job was dropped.
        txn("recording a job run", || jobs::settle_unstarted(run_id, "failed", "the job no longer exists"));
        return;
    };
    set_application_name(&spec.job);
    // Resolve the owner now (it reads the catalogs), switch to it only when the job starts.
    let owner = txn("resolving the job's owner", || Ok(identity::prepare_for_process(spec.owner).map_err(|e| e.to_string())));
    // A scheduled run is started ahead of its time (the fork and the set-up are paid before it):
    // wait for the due time, then start, unless the job was disabled or removed meanwhile.
    if manual.is_none() {
        wait_until_ms(due_ms);
        match txn("starting a job run", || jobs::start_scheduled(run_id)) {
            Some(true) => {}
            Some(false) => {
                txn("recording a job run", || {
                    jobs::settle_unstarted(run_id, "skipped", "skipped: the job was disabled or removed before its time")
                });
                return;
            }
            None => {
                txn("recording a job run", || jobs::settle_unstarted(run_id, "failed", "the run could not be started (see the server log)"));
                return;
            }
        }
    }
    let ended = match owner {
        Some(Ok(b)) => {
            identity::become_prepared(&b);
            execute(&spec.command, spec.timeout_ms, spec.lock_timeout_ms)
        }
        Some(Err(why)) => Ended { status: Status::Failed, rows: 0, message: Some(format!("not run: {why}")) },
        None => Ended { status: Status::Failed, rows: 0, message: Some("not run: its owner could not be resolved".into()) },
    };
    identity::leave_for_process();
    identity::set_session(c"pg_optimizer.enabled", c"off");
    let status = ended.status.as_str();
    if txn("recording a job run", || jobs::finish(run_id, status, Some(ended.rows), ended.message.as_deref())).is_none() {
        log!("pg_optimizer: job \"{}\" run {run_id} ended ({status}) but could not be recorded", spec.job);
    }
}

/// Sleep on the latch until the wall clock reaches `due_ms` (Unix milliseconds); interrupts
/// (a termination) are processed meanwhile.
fn wait_until_ms(due_ms: i64) {
    loop {
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(due_ms);
        let left = due_ms - now_ms;
        if left <= 0 {
            return;
        }
        unsafe {
            pg_sys::WaitLatch(
                pg_sys::MyLatch,
                (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH) as i32,
                left.min(60_000) as std::ffi::c_long,
                pg_sys::PG_WAIT_EXTENSION,
            );
            pg_sys::ResetLatch(pg_sys::MyLatch);
        }
        pg_sys::check_for_interrupts!();
    }
}

/// Attach the caller's segment, read its request and mark it taken (a caller that does not wait
/// may then let the segment go). The mapping stays for the life of this process.
///
/// # Safety
/// In a runner started with a segment handle.
pub unsafe fn take_request(handle: u32, what: &str) -> Option<(Request, &'static mut [u8])> {
    unsafe {
        if pg_sys::CurrentResourceOwner.is_null() {
            pg_sys::CurrentResourceOwner = pg_sys::ResourceOwnerCreate(std::ptr::null_mut(), c"pg_optimizer job".as_ptr());
        }
        let seg = pg_sys::dsm_attach(handle);
        if seg.is_null() {
            log!("pg_optimizer: {what}: the caller's segment is gone (it stopped waiting)");
            return None;
        }
        pg_sys::dsm_pin_mapping(seg);
        let base = pg_sys::dsm_segment_address(seg) as *mut u8;
        let len = pg_sys::dsm_segment_map_length(seg);
        let bytes = std::slice::from_raw_parts_mut(base, len);
        let req = match Request::read(bytes) {
            Ok(r) => r,
            Err(e) => {
                log!("pg_optimizer: {what}: {e}");
                return None;
            }
        };
        (*(base.add(Request::TAKEN_OFFSET) as *const std::sync::atomic::AtomicU32)).store(1, std::sync::atomic::Ordering::Release);
        Some((req, bytes))
    }
}

/// `run_in_worker`: run each command of the segment, write each outcome into it; when the caller
/// does not wait (`run_id`), also record the run in `optimizer.job_runs`.
fn run_commands(handle: u32, run_id: Option<i64>) {
    unsafe {
        let Some((req, bytes)) = take_request(handle, "run_in_worker") else { return };
        set_application_name(&req.label);
        if let Some(id) = run_id {
            txn("starting a run_in_worker run", || jobs::claim_detached(id, &req.label, pg_sys::Oid::from(req.role)));
        }
        let mut summary: Vec<String> = vec![];
        let (mut worst, mut total_rows) = (Status::Succeeded, 0i64);
        let became = txn("switching to the caller's role", || {
            Ok(identity::become_for_process(pg_sys::Oid::from(req.role)).map_err(|e| e.to_string()))
        });
        for (i, command) in req.commands.iter().enumerate() {
            let started = pg_sys::GetCurrentTimestamp();
            let ended = match &became {
                Some(Ok(_)) => execute(command, req.statement_timeout_ms, req.lock_timeout_ms),
                _ => Ended { status: Status::NotRun, rows: 0, message: Some("the calling role could not be resolved".into()) },
            };
            total_rows += ended.rows;
            if ended.status != Status::Succeeded {
                summary.push(format!("{command}: {}{}", ended.status.as_str(), ended.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()));
                if worst == Status::Succeeded || ended.status == Status::TimedOut {
                    worst = ended.status;
                }
            }
            let off = req.slot_offset(i);
            Outcome {
                status: ended.status,
                rows: ended.rows,
                started,
                ended: pg_sys::GetCurrentTimestamp(),
                message: ended.message.unwrap_or_default(),
            }
            .write(&mut bytes[off..off + SLOT_BYTES]);
        }
        identity::leave_for_process();
        identity::set_session(c"pg_optimizer.enabled", c"off");
        if let Some(id) = run_id {
            let n = req.commands.len();
            let message = if summary.is_empty() {
                format!("{n} command(s) succeeded")
            } else {
                format!("{} of {n} command(s) did not succeed; {}", summary.len(), summary.join("; "))
            };
            txn("recording a run_in_worker run", || jobs::finish(id, worst.as_str(), Some(total_rows), Some(&message)));
        }
    }
}
