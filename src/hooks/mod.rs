//! Hooks into query processing, written directly against `pg_sys::*_hook` and chained to the
//! previous hook (or the standard function).
//!
//! Every hook follows one shape: do our work only when recording is on for this statement
//! ([`Gate`]), always call the previous hook, track the nesting depth with a drop guard
//! ([`Nest`]) so an error unwinding through us restores it, and run our own bookkeeping inside
//! [`quietly`], which logs a failure and lets the user's query go on.

mod analyze;
mod executor;
mod planner;
mod utility;

use crate::gucs::{self, Track};
use crate::shmem;
use pgrx::pg_sys;
use std::sync::atomic::{AtomicU64, Ordering};

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

/// Functions that cannot raise an error, declared without pgrx's error-boundary wrapper so the
/// hot path does not pay a `sigsetjmp` per call.
pub(crate) mod unguarded {
    unsafe extern "C" {
        pub fn GetUserId() -> pgrx::pg_sys::Oid;
        pub fn GetCurrentStatementStartTimestamp() -> i64;
    }
}

// ---------------------------------------------------------------------------------------------
// Nesting

static mut NESTING: i32 = 0;

/// Nesting depth of statement execution: 0 for a client's statement.
#[inline]
pub(crate) fn nesting() -> i32 {
    unsafe { NESTING }
}

/// Increments the nesting depth for its lifetime. An ERROR inside the chained call reaches us as
/// a Rust panic (pgrx's FFI boundary), unwinds through this guard, and is re-raised as the same
/// ERROR at our `#[pg_guard]` boundary: the depth is restored either way.
pub(crate) struct Nest(());

impl Nest {
    #[inline]
    pub(crate) fn enter() -> Nest {
        unsafe { NESTING += 1 };
        Nest(())
    }
}

impl Drop for Nest {
    #[inline]
    fn drop(&mut self) {
        unsafe { NESTING -= 1 };
    }
}

// ---------------------------------------------------------------------------------------------
// Sampling: decided once per top-level statement; nested statements follow it.

static mut SAMPLED: bool = true;
static mut RNG: u64 = 0;
/// The decision made while planning a top-level statement, reused by its execution.
static mut PLANNED_DECISION: Option<(u64, bool)> = None;

fn next_random() -> f64 {
    unsafe {
        if RNG == 0 {
            RNG = (pg_sys::MyProcPid as u64).wrapping_mul(0x9E3779B97F4A7C15)
                ^ (unguarded::GetCurrentStatementStartTimestamp() as u64)
                | 1;
        }
        // xorshift64*
        RNG ^= RNG >> 12;
        RNG ^= RNG << 25;
        RNG ^= RNG >> 27;
        let r = RNG.wrapping_mul(0x2545F4914F6CDD1D);
        (r >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn draw() -> bool {
    let rate = gucs::raw::sample_rate();
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
        let d = match (phase, (*&raw mut PLANNED_DECISION).take()) {
            (Phase::Execute, Some((q, d))) if q == queryid => d,
            _ => draw(),
        };
        if phase == Phase::Plan {
            PLANNED_DECISION = Some((queryid, d));
        }
        SAMPLED = d;
    }
}

// ---------------------------------------------------------------------------------------------
// Is this database watched? Only databases where the extension is installed.

/// Bumped by any backend that runs CREATE/ALTER/DROP EXTENSION, so others re-check.
static EXTENSION_EPOCH: AtomicU64 = AtomicU64::new(0);
static mut EPOCH_PTR: *const AtomicU64 = std::ptr::null();

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
    }
}

fn epoch() -> u64 {
    unsafe {
        if EPOCH_PTR.is_null() {
            let p = shmem::extension_epoch();
            EPOCH_PTR = if p.is_null() { &raw const EXTENSION_EPOCH } else { p };
        }
        (*EPOCH_PTR).load(Ordering::Relaxed)
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
        let oid = pg_sys::get_extension_oid(c"pg_optimizer".as_ptr(), true);
        DB = DbCheck { epoch: e, checked_at: now, enabled: oid != pg_sys::InvalidOid, valid: true };
        DB.enabled
    }
}

// ---------------------------------------------------------------------------------------------
// The gate

/// Whether statements at the current nesting level are recorded at all (GUCs only).
#[inline]
pub(crate) fn level_tracked() -> bool {
    if !gucs::raw::enabled() || !shmem::available() {
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

#[inline]
pub(crate) fn key_for(queryid: u64) -> shmem::Key {
    unsafe { shmem::Key::new(unguarded::GetUserId(), pg_sys::MyDatabaseId, queryid, nesting() == 0) }
}

/// Run our own bookkeeping; if it fails (a bug, or an error from a PostgreSQL function we
/// called), log it and go on: the user's statement must never fail because of us.
#[inline]
pub(crate) fn quietly<F: FnOnce()>(what: &str, f: F) {
    if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        let msg = if let Some(e) = payload.downcast_ref::<pg_sys::panic::CaughtError>() {
            match e {
                pg_sys::panic::CaughtError::PostgresError(r)
                | pg_sys::panic::CaughtError::ErrorReport(r)
                | pg_sys::panic::CaughtError::RustPanic { ereport: r, .. } => r.message().to_string(),
            }
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else if let Some(s) = payload.downcast_ref::<&str>() {
            s.to_string()
        } else {
            "unknown failure".to_string()
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
