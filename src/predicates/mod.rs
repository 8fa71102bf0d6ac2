//! Predicate capture: what each executed plan filtered, joined and sorted on, and how far the
//! planner's row estimates were off.
//!
//! For a sampled statement (`pg_optimizer.predicate_sample_rate`, decided once per top-level
//! statement together with `sample_rate`), the executor hooks call:
//! 1. [`prepare`] before `ExecutorStart`: a plan that may run parallel workers gets row
//!    instrumentation on every node (`INSTRUMENT_ROWS`, no timing), because workers only count
//!    what `es_instrument` asks for;
//! 2. [`instrument`] after `ExecutorStart`: otherwise only the nodes we read (scans and joins) get
//!    a rows-only `Instrumentation`, before any of them runs. `ExecProcNodeFirst` then installs
//!    the counting wrapper on exactly those nodes. A node that already has one (EXPLAIN ANALYZE,
//!    auto_explain) is left alone.
//! 3. [`record`] in `ExecutorEnd`, before the chained call frees the executor state: walk the
//!    executed plan tree (`walk`) and add each scan, qual, join clause and sort key to the
//!    predicate store (`shmem::predicates`).
//!
//! Everything runs inside the hooks' `quietly`: a failure is logged and the query goes on.

mod walk;

use pgrx::pg_sys;

/// Executions (QueryDesc addresses) chosen for predicate capture whose ExecutorEnd has not run
/// yet. Nested executions and open cursors can overlap; an execution that ends in an error never
/// reaches ExecutorEnd, so a full ring drops its oldest slot.
const PENDING: usize = 16;
static mut PENDING_QDS: [usize; PENDING] = [0; PENDING];
static mut NEXT_PENDING: usize = 0;

fn remember(qd: *mut pg_sys::QueryDesc) {
    unsafe {
        let ring = &mut *(&raw mut PENDING_QDS);
        if let Some(free) = ring.iter_mut().find(|s| **s == 0) {
            *free = qd as usize;
        } else {
            ring[NEXT_PENDING % PENDING] = qd as usize;
            NEXT_PENDING = NEXT_PENDING.wrapping_add(1);
        }
    }
}

/// Whether `qd` was chosen (and forget it).
fn take(qd: *mut pg_sys::QueryDesc) -> bool {
    unsafe {
        let ring = &mut *(&raw mut PENDING_QDS);
        match ring.iter_mut().find(|s| **s == qd as usize) {
            Some(s) => {
                *s = 0;
                true
            }
            None => false,
        }
    }
}

/// Before the chained ExecutorStart of a sampled statement.
pub unsafe fn prepare(qd: *mut pg_sys::QueryDesc) {
    unsafe {
        let ps = (*qd).plannedstmt;
        if ps.is_null() || (*ps).commandType == pg_sys::CmdType::CMD_UTILITY {
            return;
        }
        if (*ps).parallelModeNeeded {
            (*qd).instrument_options |= pg_sys::InstrumentOption::INSTRUMENT_ROWS as i32;
        }
        remember(qd);
    }
}

/// After the chained ExecutorStart: rows-only instrumentation on the nodes we read.
pub unsafe fn instrument(qd: *mut pg_sys::QueryDesc) {
    unsafe {
        if (*qd).planstate.is_null() || (*qd).estate.is_null() {
            return;
        }
        if (*(*qd).estate).es_instrument & pg_sys::InstrumentOption::INSTRUMENT_ROWS as i32 != 0 {
            return; // every node already counts
        }
        let old = pg_sys::CurrentMemoryContext;
        pg_sys::CurrentMemoryContext = (*(*qd).estate).es_query_cxt;
        walk::instrument_tree((*qd).planstate);
        pg_sys::CurrentMemoryContext = old;
    }
}

/// In ExecutorEnd, before the chained call.
pub unsafe fn record(qd: *mut pg_sys::QueryDesc, userid: pg_sys::Oid, queryid: u64) {
    unsafe {
        if !take(qd) || (*qd).planstate.is_null() || (*qd).estate.is_null() {
            return;
        }
        walk::record_tree(qd, userid, queryid);
    }
}

/// Forget a QueryDesc that will not reach [`record`] (its start failed after [`prepare`]).
pub fn forget(qd: *mut pg_sys::QueryDesc) {
    take(qd);
}
