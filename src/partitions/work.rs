//! The partition worker: it takes one request (`maintain`, `setup` or `undo`) and exits. Here:
//! its log and progress, its transactions (`step`, `top`), the lock retries, and becoming each
//! table's owner under the set's advisory lock (`as_owner`).

use super::catalog::{oid_arg, one, run, Set};
use crate::error::caught_message;
use crate::pg::{identity, toplevel};
use pg_optimizer_core::handoff::{Outcome, Status, SLOT_BYTES};
use pg_optimizer_core::partitions::Pairs;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;
use std::ffi::CString;

/// Attempts of a step that waits for a lock.
pub(super) const ATTEMPTS: u32 = 3;

/// Why a step did not happen.
pub(super) enum Failure {
    /// It waited `lock_timeout` for a lock, three times.
    Locked(String),
    Other(String),
}

impl Failure {
    pub(super) fn message(&self) -> &str {
        match self {
            Failure::Locked(m) | Failure::Other(m) => m,
        }
    }
}

/// One action, for optimizer.partition_log.
struct Entry {
    action: &'static str,
    partition: Option<String>,
    rows: Option<i64>,
    detail: Option<String>,
}

pub(super) struct Run {
    run_id: i64,
    caller: pg_sys::Oid,
    lock_timeout_ms: i64,
    /// The set being worked on: (parent oid, its name, its owner).
    pub(super) current: (u32, String, u32),
    pending: Vec<Entry>,
    failed: Vec<String>,
}

impl Run {
    pub(super) fn note(&mut self, action: &'static str, partition: Option<String>, rows: Option<i64>, detail: Option<String>) {
        if action == "failed" {
            self.failed.push(format!("{}: {}", self.current.1, detail.clone().unwrap_or_default()));
        }
        self.pending.push(Entry { action, partition, rows, detail });
    }

    /// Write the pending entries (as the worker, in a transaction of their own).
    pub(super) fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let entries = std::mem::take(&mut self.pending);
        let (parent, name, owner) = self.current.clone();
        let run_id = self.run_id;
        book("recording partition work", || {
            for e in &entries {
                Spi::run_with_args(
                    "INSERT INTO optimizer.partition_log (run_id, parent, parent_name, owner, action, partition, rows, detail)
                     VALUES ($1, $2, $3, NULLIF($4, 0)::oid::regrole, $5, $6, $7, $8)",
                    &[
                        run_id.into(),
                        oid_arg(parent),
                        name.clone().into(),
                        oid_arg(owner),
                        e.action.into(),
                        e.partition.clone().into(),
                        e.rows.into(),
                        e.detail.clone().into(),
                    ],
                )
                .map_err(crate::error::spi_err)?;
            }
            Ok(())
        });
    }

    pub(super) fn progress(&self, phase: &str, total: i64, moved: i64) {
        let (parent, name, owner) = self.current.clone();
        let run_id = self.run_id;
        book("recording partition progress", || {
            Spi::run_with_args(
                "INSERT INTO optimizer.partition_work (parent, parent_name, owner, run_id, phase, rows_total, rows_moved, pid)
                 VALUES ($1, $2, NULLIF($3, 0)::oid::regrole, $4, $5, $6, $7, pg_catalog.pg_backend_pid())
                 ON CONFLICT (parent) DO UPDATE SET run_id = EXCLUDED.run_id, phase = EXCLUDED.phase,
                        rows_total = EXCLUDED.rows_total, rows_moved = EXCLUDED.rows_moved, pid = EXCLUDED.pid,
                        updated_at = pg_catalog.clock_timestamp(),
                        started_at = CASE WHEN optimizer.partition_work.run_id = EXCLUDED.run_id
                                           AND optimizer.partition_work.phase = EXCLUDED.phase
                                          THEN optimizer.partition_work.started_at ELSE pg_catalog.clock_timestamp() END",
                &[oid_arg(parent), name.into(), oid_arg(owner), run_id.into(), phase.into(), total.into(), moved.into()],
            )
            .map_err(crate::error::spi_err)
        });
    }

    pub(super) fn progress_done(&self) {
        let parent = self.current.0;
        book("recording partition progress", || {
            Spi::run_with_args("DELETE FROM optimizer.partition_work WHERE parent = $1", &[oid_arg(parent)]).map_err(crate::error::spi_err)
        });
    }
}

/// A transaction of bookkeeping, as the worker.
pub(super) fn book<R>(what: &str, body: impl FnOnce() -> Result<R, String>) -> Option<R> {
    crate::scheduler::runner::txn(what, || identity::as_worker(body))
}

/// Run `body` in a transaction of its own (as whoever the process is now); an ERROR rolls it back
/// and comes back as a Failure (`Locked` for a lock timeout). A cancel or termination goes on.
pub(super) fn step<R>(body: impl FnOnce() -> Result<R, String>) -> Result<R, Failure> {
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
            Err(classify(&e))
        })
        .execute();
    match r {
        Ok(Ok(v)) => unsafe {
            pg_sys::PopActiveSnapshot();
            pg_sys::CommitTransactionCommand();
            Ok(v)
        },
        Ok(Err(msg)) => {
            unsafe { pg_sys::AbortCurrentTransaction() };
            Err(Failure::Other(msg))
        }
        Err(f) => {
            unsafe { pg_sys::AbortCurrentTransaction() };
            Err(f)
        }
    }
}

pub(super) fn classify(e: &pg_sys::panic::CaughtError) -> Failure {
    let msg = caught_message(e);
    match e {
        pg_sys::panic::CaughtError::PostgresError(r) if r.sql_error_code() == PgSqlErrorCode::ERRCODE_LOCK_NOT_AVAILABLE => {
            Failure::Locked(msg)
        }
        _ => Failure::Other(msg),
    }
}

/// A statement at the top level (DETACH ... CONCURRENTLY, which refuses a transaction block).
pub(super) fn top(sql: &str) -> Result<u64, Failure> {
    let text = CString::new(sql).map_err(|_| Failure::Other("a zero byte in a statement".into()))?;
    let r = PgTryBuilder::new(|| Ok(unsafe { toplevel::execute(&text) }))
        .catch_others(|e| {
            if crate::pg::must_propagate(&e) {
                e.rethrow()
            }
            Err(classify(&e))
        })
        .execute();
    if r.is_err() {
        toplevel::abort_all();
    }
    r
}

/// `attempt` up to three times while it fails on a lock, sleeping 0.5 s then 1 s between.
pub(super) fn with_retries<R>(mut attempt: impl FnMut() -> Result<R, Failure>) -> Result<R, Failure> {
    let mut k = 0;
    loop {
        match attempt() {
            Err(Failure::Locked(_)) if k + 1 < ATTEMPTS => {
                k += 1;
                sleep_ms(500 * k as i64);
            }
            other => return other,
        }
    }
}

fn sleep_ms(ms: i64) {
    unsafe {
        pg_sys::WaitLatch(
            pg_sys::MyLatch,
            (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH) as i32,
            ms as std::ffi::c_long,
            pg_sys::PG_WAIT_EXTENSION,
        );
        pg_sys::ResetLatch(pg_sys::MyLatch);
    }
    pg_sys::check_for_interrupts!();
}

fn set_lock_timeout(ms: i64) {
    let v = CString::new(format!("{ms}ms")).unwrap();
    identity::set_session(c"lock_timeout", &v);
}

/// The worker's entry point (from `workers::runner`).
pub fn run_errand(handle: u32) {
    let Some((req, bytes)) = (unsafe { crate::scheduler::runner::take_request(handle, "partition work") }) else { return };
    crate::scheduler::runner::set_application_name(&format!("partitions {}", req.label));
    let pairs = Pairs::decode(&req.commands);
    let mut r = Run {
        run_id: pairs.get("run_id").and_then(|v| v.parse().ok()).unwrap_or(0),
        caller: pg_sys::Oid::from(req.role),
        lock_timeout_ms: pairs.get("lock_timeout_ms").and_then(|v| v.parse().ok()).unwrap_or_else(crate::gucs::partition_lock_timeout_ms),
        current: (0, String::new(), 0),
        pending: vec![],
        failed: vec![],
    };
    let started = unsafe { pg_sys::GetCurrentTimestamp() };
    let outcome = match req.label.as_str() {
        "maintain" => super::maintain::maintain_all(&mut r, pairs.get("parent").and_then(|v| v.parse().ok()).filter(|&p: &u32| p != 0)),
        "setup" => super::convert::setup(&mut r, &pairs),
        "undo" => super::convert::undo(&mut r, pairs.get("parent").and_then(|v| v.parse().ok()).unwrap_or(0)),
        other => Err(format!("unknown partition request \"{other}\"")),
    };
    let message = match &outcome {
        Ok(()) if r.failed.is_empty() => String::new(),
        Ok(()) => r.failed.join("; "),
        Err(m) => m.clone(),
    };
    let status = if outcome.is_ok() && r.failed.is_empty() { Status::Succeeded } else { Status::Failed };
    let off = req.slot_offset(0);
    if off + SLOT_BYTES <= bytes.len() {
        Outcome { status, rows: 0, started, ended: unsafe { pg_sys::GetCurrentTimestamp() }, message }.write(&mut bytes[off..off + SLOT_BYTES]);
    }
}

/// May the caller act on tables of `owner`? (Superusers, and members with its privileges.)
fn may_act(caller: pg_sys::Oid, owner: u32) -> bool {
    unsafe { pg_sys::has_privs_of_role(caller, pg_sys::Oid::from(owner)) }
}

/// Run `work` as `owner`, holding the set's advisory lock; back to the worker afterwards.
pub(super) fn as_owner(r: &mut Run, set: &Set, work: impl FnOnce(&mut Run) -> Result<(), String>) -> Result<(), String> {
    r.current = (set.parent, format!("{}.{}", set.schema, set.name), set.owner);
    if !may_act(r.caller, set.owner) {
        r.note("skipped", None, None, Some("you do not have the privileges of the table's owner".into()));
        r.flush();
        return Ok(());
    }
    let role = match step(|| identity::prepare_for_process(pg_sys::Oid::from(set.owner)).map_err(|e| e.to_string())) {
        Ok(role) => role,
        Err(f) => {
            r.note("failed", None, None, Some(f.message().to_string()));
            r.flush();
            return Ok(());
        }
    };
    // Progress left by a run that was interrupted (its caller cancelled, its worker ended).
    r.progress_done();
    identity::become_prepared(&role);
    set_lock_timeout(r.lock_timeout_ms);
    let key = set.parent as i64;
    let locked = step(|| {
        Ok(one("SELECT pg_catalog.pg_try_advisory_lock(1886352244, $1::int4)::text", &[((key as u32) as i32).into()])?.as_deref()
            == Some("true"))
    });
    let result = match locked {
        Ok(true) => {
            let out = work(r);
            let _ = step(|| run(&format!("SELECT pg_catalog.pg_advisory_unlock(1886352244, {})", key as u32 as i32)));
            out
        }
        Ok(false) => {
            r.note("skipped", None, None, Some("another run is working on this partition set".into()));
            Ok(())
        }
        Err(f) => Err(f.message().to_string()),
    };
    identity::leave_for_process();
    identity::set_session(c"pg_optimizer.enabled", c"off");
    if let Err(m) = &result {
        r.note("failed", None, None, Some(m.clone()));
    }
    r.flush();
    let status = if result.is_ok() { "succeeded" } else { "failed" };
    let msg = result.as_ref().err().cloned();
    let parent = r.current.0;
    book("recording a partition set's run", || {
        Spi::run_with_args(
            "UPDATE optimizer.partition_sets SET last_run_at = pg_catalog.now(), last_status = $2, last_message = $3 WHERE parent = $1::oid",
            &[oid_arg(parent), status.into(), msg.into()],
        )
        .map_err(crate::error::spi_err)
    });
    Ok(())
}
