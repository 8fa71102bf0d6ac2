//! Hooks into query processing, written directly against `pg_sys::*_hook` and chained to the
//! previous hook (or the standard function).
//!
//! Every hook follows one shape: do our work only when recording is on for this statement
//! ([`gate`]), always call the previous hook (or the standard function), and run our own
//! bookkeeping inside [`quietly`], which logs a failure and lets the user's query go on.
//!
//! Errors of the user's statement pass through us untouched. The chained call is made through
//! unguarded declarations inside [`nested`], a Rust rendering of `PG_TRY { ... } PG_CATCH {
//! restore the nesting depth; PG_RE_THROW(); }`: PostgreSQL's own ErrorData is re-thrown, with its
//! CONTEXT, cursor position and constraint/table/column fields. (pgrx's FFI boundary would catch
//! the error and raise a copy holding only message, detail, hint and SQLSTATE, plus a Rust
//! backtrace in DETAIL when RUST_BACKTRACE is set.) That is why these hook functions are plain
//! `extern "C-unwind"` functions, not `#[pg_guard]`: no Rust panic can leave them (everything of
//! ours runs in `quietly`), and at the chained call their frames hold nothing with a destructor,
//! so a longjmp may pass over them.

mod analyze;
mod executor;
mod planner;
mod utility;

use crate::gucs::{self, Track};
use crate::shmem;
use pgrx::pg_sys;
use std::sync::atomic::Ordering;

/// Install every hook. Called once from `_PG_init` while preloading.
pub fn init() {
    unsafe {
        #[cfg(not(feature = "pg13"))]
        pg_sys::EnableQueryId();
    }
    analyze::init();
    planner::init();
    executor::init();
    utility::init();
}

pub(crate) use crate::pg::nesting::{nested, nested_or, nesting};
pub(crate) use crate::pg::unguarded;
use crate::pg::random_u64;

// ---------------------------------------------------------------------------------------------
// Sampling: decided once per top-level statement; nested statements follow it.

static mut SAMPLED: bool = true;
/// Whether the current top-level statement's plans are walked for predicates (drawn with the
/// statement decision, at `predicate_sample_rate`).
static mut PREDICATES_SAMPLED: bool = true;
/// The decisions made while planning a top-level statement, reused by its execution.
static mut PLANNED_DECISION: Option<(u64, bool, bool)> = None;

fn next_random() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

fn draw(rate: f64) -> bool {
    if rate >= 1.0 {
        true
    } else if rate <= 0.0 {
        false
    } else {
        next_random() < rate
    }
}

/// Where a top-level decision is being made.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Phase {
    Plan,
    Execute,
    Utility,
}

/// At a top-level entry point: decide (or reuse the planning decision) and remember it.
#[inline]
pub(crate) fn decide_sample(phase: Phase, queryid: u64) {
    if nesting() != 0 {
        return;
    }
    unsafe {
        let (d, p) = match (phase, (*&raw mut PLANNED_DECISION).take()) {
            (Phase::Execute, Some((q, d, p))) if q == queryid => (d, p),
            _ => (draw(gucs::raw::sample_rate()), draw(gucs::raw::predicate_sample_rate())),
        };
        if phase == Phase::Plan {
            PLANNED_DECISION = Some((queryid, d, p));
        }
        SAMPLED = d;
        PREDICATES_SAMPLED = p;
    }
}

// ---------------------------------------------------------------------------------------------
// Is this database watched? Only databases where the extension is installed.


struct DbCheck {
    epoch: u64,
    checked_at: i64,
    enabled: bool,
    valid: bool,
}
static mut DB: DbCheck = DbCheck { epoch: 0, checked_at: 0, enabled: false, valid: false };

/// Re-check a negative answer this often (µs): covers a CREATE EXTENSION committed after
/// another backend's re-check.
const RECHECK_NEGATIVE_US: i64 = 5_000_000;
/// ... and a positive one this often.
const RECHECK_POSITIVE_US: i64 = 60_000_000;

pub(crate) fn extension_changed() {
    unsafe {
        let p = shmem::extension_epoch();
        if !p.is_null() {
            (*p).fetch_add(1, Ordering::Relaxed);
        }
        DB.valid = false;
        // A database may have gained or lost the extension: its scheduler starts or stops.
        shmem::workers::wake_launcher();
    }
}

/// The shared count of extension DDL (bumped by any backend running CREATE/ALTER/DROP EXTENSION,
/// so the others re-check whether their database is watched).
fn epoch() -> u64 {
    let p = shmem::extension_epoch();
    if p.is_null() {
        0
    } else {
        unsafe { (*p).load(Ordering::Relaxed) }
    }
}

#[inline]
fn database_watched() -> bool {
    unsafe {
        let now = unguarded::GetCurrentStatementStartTimestamp();
        let e = epoch();
        let age = now - DB.checked_at;
        if DB.valid
            && DB.epoch == e
            && age >= 0
            && age < if DB.enabled { RECHECK_POSITIVE_US } else { RECHECK_NEGATIVE_US }
        {
            return DB.enabled;
        }
        // Catalog access needs a live transaction; in an aborted one keep the old answer.
        if !pg_sys::IsTransactionState() {
            return DB.valid && DB.enabled;
        }
        // Never wait on a heavyweight lock here: if pg_extension is locked (VACUUM FULL, a
        // concurrent extension DDL holding more than a row lock), keep the old answer this time.
        let catalog = pg_sys::ExtensionRelationId;
        if !pg_sys::ConditionalLockRelationOid(catalog, pg_sys::AccessShareLock as pg_sys::LOCKMODE) {
            return DB.valid && DB.enabled;
        }
        let oid = pg_sys::get_extension_oid(c"pg_optimizer".as_ptr(), true);
        pg_sys::UnlockRelationOid(catalog, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        DB = DbCheck { epoch: e, checked_at: now, enabled: oid != pg_sys::InvalidOid, valid: true };
        DB.enabled
    }
}

// ---------------------------------------------------------------------------------------------
// Utility query ids, remembered from parse analysis. pg_stat_statements, when its hooks run
// before ours (loaded after us), zeroes `PlannedStmt.queryId` of utility statements before it
// calls down; parse analysis still shows us the id, so keep the last few and match them by parse
// tree and location.

#[derive(Clone, Copy)]
struct UtilityId {
    node: usize,
    location: i32,
    queryid: u64,
}
const UTILITY_IDS: usize = 8;
static mut RECENT_UTILITY: [UtilityId; UTILITY_IDS] = [UtilityId { node: 0, location: 0, queryid: 0 }; UTILITY_IDS];
static mut NEXT_UTILITY: usize = 0;

pub(crate) fn remember_utility_id(node: *mut pg_sys::Node, location: i32, queryid: u64) {
    unsafe {
        let slot = &mut *(&raw mut RECENT_UTILITY[NEXT_UTILITY % UTILITY_IDS]);
        *slot = UtilityId { node: node as usize, location, queryid };
        NEXT_UTILITY = NEXT_UTILITY.wrapping_add(1);
    }
}

/// Newest first: a later message's parse tree may reuse an earlier one's memory.
pub(crate) fn recall_utility_id(node: *mut pg_sys::Node, location: i32) -> u64 {
    unsafe {
        let recent = &*(&raw const RECENT_UTILITY);
        (1..=UTILITY_IDS)
            .map(|back| recent[NEXT_UTILITY.wrapping_sub(back) % UTILITY_IDS])
            .find(|u| u.node == node as usize && u.location == location && u.queryid != 0)
            .map_or(0, |u| u.queryid)
    }
}

// ---------------------------------------------------------------------------------------------
// The gate

/// Whether statements at the current nesting level are recorded at all: the settings, and never
/// in a parallel worker (its leader records the whole statement once, as pg_stat_statements does).
#[inline]
pub(crate) fn level_tracked() -> bool {
    if !gucs::raw::enabled() || !shmem::available() || unsafe { pg_sys::ParallelWorkerNumber } >= 0 {
        return false;
    }
    match gucs::raw::track() {
        Track::None => false,
        Track::Top => nesting() == 0,
        Track::All => true,
    }
}

/// Whether this statement is recorded: on, at a tracked level, sampled, with a query id, in a
/// database that has the extension.
#[inline]
pub(crate) fn gate(queryid: u64) -> bool {
    queryid != 0 && level_tracked() && unsafe { SAMPLED } && database_watched()
}

/// Whether a recorded statement's executed plan is also walked for predicates: drawn at
/// `predicate_sample_rate` (and the rate is not 0 now).
#[inline]
pub(crate) fn predicates_sampled() -> bool {
    (unsafe { PREDICATES_SAMPLED }) && gucs::raw::predicate_sample_rate() > 0.0
}

#[inline]
pub(crate) fn key_for(queryid: u64) -> shmem::Key {
    unsafe { shmem::Key::new(unguarded::GetUserId(), pg_sys::MyDatabaseId, queryid, nesting() == 0) }
}

/// Run our own bookkeeping; if it fails (a bug, or an error from a PostgreSQL function we
/// called), log it and go on: the user's statement must never fail because of us. Two things are
/// not ours to swallow: a query cancel, statement timeout or termination raised inside (it is
/// raised again, as the user's statement's error), and the state an error leaves behind without
/// a subtransaction (the memory context and the interrupt hold-off count are put back).
#[inline]
pub(crate) fn quietly<F: FnOnce()>(what: &str, f: F) {
    let (cxt, holdoff) = unsafe { (pg_sys::CurrentMemoryContext, pg_sys::InterruptHoldoffCount) };
    if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        unsafe {
            pg_sys::CurrentMemoryContext = cxt;
            pg_sys::InterruptHoldoffCount = holdoff;
        }
        let msg = match payload.downcast::<pg_sys::panic::CaughtError>() {
            Ok(e) if crate::pg::must_propagate(&e) => unsafe { crate::pg::raise_caught(Box::into_raw(e)) },
            Ok(e) => crate::error::caught_message(&e),
            Err(payload) => {
                if let Some(s) = payload.downcast_ref::<String>() {
                    s.clone()
                } else if let Some(s) = payload.downcast_ref::<&str>() {
                    s.to_string()
                } else {
                    "unknown failure".to_string()
                }
            }
        };
        pgrx::log!("pg_optimizer: {what} skipped: {msg}");
    }
}

/// The bytes of one statement inside a (possibly multi-statement) source string.
pub(crate) unsafe fn statement_text(source: *const std::ffi::c_char, location: i32, len: i32) -> Vec<u8> {
    if source.is_null() {
        return Vec::new();
    }
    let bytes = unsafe { std::ffi::CStr::from_ptr(source) }.to_bytes();
    let (s, e) = crate::stats::normalize::statement_range(bytes, location, len);
    bytes[s..e].to_vec()
}
