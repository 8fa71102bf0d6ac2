//! Run SQL text at the top level of a background worker, the way a client's simple query runs:
//! statements that refuse to run inside a transaction block or a function (VACUUM, REINDEX
//! CONCURRENTLY, CREATE INDEX CONCURRENTLY) work here, where SPI would refuse them.
//!
//! Each statement of the text commits on its own (psql's autocommit); `BEGIN ... COMMIT` groups
//! statements. The caller must not be in a transaction, and catches errors (an ERROR leaves the
//! transaction aborted: see [`abort_all`]). Only job runners call this, in a process that exits
//! after the job.

use pgrx::pg_sys;
use std::ffi::{c_int, CStr};

// utils/timeout.h has no bindings in pgrx 0.18. TimeoutId's order (STARTUP_PACKET, DEADLOCK,
// LOCK, STATEMENT, ...) is the same in PostgreSQL 13 to 17.
const STATEMENT_TIMEOUT: c_int = 3;
unsafe extern "C-unwind" {
    fn enable_timeout_after(id: c_int, delay_ms: c_int);
    fn disable_timeout(id: c_int, keep_indicator: bool);
    fn get_timeout_indicator(id: c_int, reset_indicator: bool) -> bool;
}

/// Cancel the work of this process `ms` milliseconds from now with "canceling statement due to
/// statement timeout" (0: no timeout). A bgworker has no per-statement timeout of its own: this
/// timer spans everything run until [`clear_timeout`].
pub fn arm_timeout(ms: i64) {
    if ms > 0 {
        unsafe { enable_timeout_after(STATEMENT_TIMEOUT, ms.min(i32::MAX as i64) as c_int) };
    }
}

/// Disarm the timer; true if it fired since it was armed.
pub fn clear_timeout() -> bool {
    unsafe {
        disable_timeout(STATEMENT_TIMEOUT, true);
        get_timeout_indicator(STATEMENT_TIMEOUT, true)
    }
}

/// Run every statement of `sql`; returns the rows processed by the last one.
///
/// # Safety
/// Outside any transaction, in a background worker connected to a database.
pub unsafe fn execute(sql: &CStr) -> u64 {
    unsafe {
        let ctx = pg_sys::AllocSetContextCreateExtended(
            pg_sys::TopMemoryContext,
            c"pg_optimizer job".as_ptr(),
            pg_sys::ALLOCSET_DEFAULT_MINSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
        );
        // now() is the start of each statement's transaction, as for a client's simple query.
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        let old = pg_sys::MemoryContextSwitchTo(ctx);
        let parsetrees = pg_sys::pg_parse_query(sql.as_ptr());
        pg_sys::MemoryContextSwitchTo(old);
        let mut rows = 0u64;
        let n = if parsetrees.is_null() { 0 } else { (*parsetrees).length };
        for i in 0..n {
            let raw = (*(*parsetrees).elements.add(i as usize)).ptr_value as *mut pg_sys::RawStmt;
            if i > 0 {
                pg_sys::SetCurrentStatementStartTimestamp();
                pg_sys::StartTransactionCommand();
            }
            pg_sys::check_for_interrupts!();
            let tag = pg_sys::CreateCommandTag((*raw).stmt);
            pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_RUNNING, sql.as_ptr());
            let snapshot = pg_sys::analyze_requires_snapshot(raw);
            if snapshot {
                pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
            }
            let old = pg_sys::MemoryContextSwitchTo(ctx);
            #[cfg(any(feature = "pg13", feature = "pg14"))]
            let queries = pg_sys::pg_analyze_and_rewrite(raw, sql.as_ptr(), std::ptr::null_mut(), 0, std::ptr::null_mut());
            #[cfg(not(any(feature = "pg13", feature = "pg14")))]
            let queries = pg_sys::pg_analyze_and_rewrite_fixedparams(raw, sql.as_ptr(), std::ptr::null(), 0, std::ptr::null_mut());
            let plans =
                pg_sys::pg_plan_queries(queries, sql.as_ptr(), pg_sys::CURSOR_OPT_PARALLEL_OK as c_int, std::ptr::null_mut());
            pg_sys::MemoryContextSwitchTo(old);
            if snapshot {
                pg_sys::PopActiveSnapshot();
            }
            pg_sys::check_for_interrupts!();
            let portal = pg_sys::CreatePortal(c"".as_ptr(), true, true);
            (*portal).visible = false;
            pg_sys::PortalDefineQuery(portal, std::ptr::null(), sql.as_ptr(), tag, plans, std::ptr::null_mut());
            pg_sys::PortalStart(portal, std::ptr::null_mut(), 0, std::ptr::null_mut());
            let mut format: i16 = 0;
            pg_sys::PortalSetResultFormat(portal, 1, &mut format);
            let dest = pg_sys::CreateDestReceiver(pg_sys::CommandDest::DestNone);
            let mut qc: pg_sys::QueryCompletion = std::mem::zeroed();
            pg_sys::PortalRun(portal, std::ffi::c_long::MAX, true, true, dest, dest, &mut qc);
            if let Some(destroy) = (*dest).rDestroy {
                destroy(dest);
            }
            pg_sys::PortalDrop(portal, false);
            rows = qc.nprocessed;
            // Commit this statement (inside BEGIN ... COMMIT, this only moves the block on).
            pg_sys::CommitTransactionCommand();
        }
        if n == 0 {
            pg_sys::CommitTransactionCommand();
        }
        pg_sys::MemoryContextDelete(ctx);
        rows
    }
}

/// Whether a transaction block is still open (the text began one and did not end it).
pub fn in_transaction_block() -> bool {
    unsafe { pg_sys::IsTransactionBlock() }
}

/// Abort whatever transaction state an error or an unfinished block left.
pub fn abort_all() {
    unsafe { pg_sys::AbortOutOfAnyTransaction() };
}
