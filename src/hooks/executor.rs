//! ExecutorStart/Run/Finish/End: execution time, rows, buffer and WAL usage, the latency
//! histogram and the example. ExecutorStart asks for whole-query instrumentation (one
//! `Instrumentation` covering the run, as pg_stat_statements does, never per node); ExecutorEnd
//! records. Run and Finish only track the nesting depth.

use super::*;
use crate::stats::Usage;
use pgrx::PgSqlErrorCode;

static mut PREV_START: pg_sys::ExecutorStart_hook_type = None;
static mut PREV_RUN: pg_sys::ExecutorRun_hook_type = None;
static mut PREV_FINISH: pg_sys::ExecutorFinish_hook_type = None;
static mut PREV_END: pg_sys::ExecutorEnd_hook_type = None;

pub(super) fn init() {
    unsafe {
        PREV_START = pg_sys::ExecutorStart_hook;
        pg_sys::ExecutorStart_hook = Some(executor_start);
        PREV_RUN = pg_sys::ExecutorRun_hook;
        pg_sys::ExecutorRun_hook = Some(executor_run);
        PREV_FINISH = pg_sys::ExecutorFinish_hook;
        pg_sys::ExecutorFinish_hook = Some(executor_finish);
        PREV_END = pg_sys::ExecutorEnd_hook;
        pg_sys::ExecutorEnd_hook = Some(executor_end);
    }
}

#[inline]
unsafe fn queryid_of(qd: *mut pg_sys::QueryDesc) -> u64 {
    unsafe { (*(*qd).plannedstmt).queryId }
}

unsafe extern "C-unwind" fn executor_start(qd: *mut pg_sys::QueryDesc, eflags: i32) {
    unsafe {
        // Decided before the chained call: predicate capture must ask for row counts first. (An
        // error in the chained call aborts the (sub)transaction, whose callback forgets `qd`.)
        let mut recorded = false;
        let mut predicates = false;
        quietly("deciding sampling", || {
            let queryid = queryid_of(qd);
            decide_sample(Phase::Execute, queryid);
            // EXPLAIN without ANALYZE starts the executor but never runs it: nothing to record.
            recorded = eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as i32 == 0 && gate(queryid);
            predicates = recorded && predicates_sampled() && crate::capture::prepare(qd);
        });
        // The safety net: a plan with a hypothetical index must never run (one branch in sessions
        // that never defined one).
        if crate::whatif::any_defined() && eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as i32 == 0 {
            if let Some(oid) = crate::whatif::hypothetical_in_plan((*qd).plannedstmt) {
                refuse_hypothetical(oid);
            }
        }
        match PREV_START {
            Some(prev) => prev(qd, eflags),
            None => unguarded::standard_ExecutorStart(qd, eflags),
        }
        if !recorded {
            return;
        }
        quietly("setting up instrumentation", || {
            if predicates {
                crate::capture::instrument(qd);
            }
            if (*qd).totaltime.is_null() {
                let _cxt = crate::pg::MemoryContextGuard::switch_to((*(*qd).estate).es_query_cxt);
                (*qd).totaltime = pg_sys::InstrAlloc(1, pg_sys::InstrumentOption::INSTRUMENT_ALL as i32, false);
            }
        });
    }
}

/// Fail a statement whose plan reached execution with a hypothetical index: our own error, logged,
/// instead of the executor's "could not open relation".
#[pgrx::pg_guard]
unsafe extern "C-unwind" fn refuse_hypothetical(oid: pg_sys::Oid) {
    let name = crate::whatif::name_of(oid).unwrap_or_default();
    pgrx::log!("pg_optimizer: refused to execute a plan that uses hypothetical index {name} (OID {})", oid.to_u32());
    pgrx::ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("pg_optimizer: this plan uses hypothetical index {name} and cannot be executed"),
        "A hypothetical index is only for plain EXPLAIN. Run the statement again; if this repeats, drop the hypothetical indexes with optimizer.drop_hypothetical() and report it."
    );
}

unsafe extern "C-unwind" fn executor_run(
    qd: *mut pg_sys::QueryDesc,
    direction: pg_sys::ScanDirection::Type,
    count: u64,
    execute_once: bool,
) {
    unsafe {
        nested_or(
            || match PREV_RUN {
                Some(prev) => prev(qd, direction, count, execute_once),
                None => unguarded::standard_ExecutorRun(qd, direction, count, execute_once),
            },
            || cancelled(qd),
        )
    }
}

/// ExecutorRun raised an error. A statement cancelled (statement_timeout or a user's cancel) never
/// reaches ExecutorEnd, so without this the statements that run too long to finish, the ones an
/// index is most needed for, would leave no trace. For SQLSTATE 57014 only, the execution so far
/// is recorded: a call with its time until the cancel and its example, and the predicates of the
/// partial run (leader's counts). The error is copied, the error state flushed so our recording
/// runs normally, and the very same error re-thrown.
unsafe fn cancelled(qd: *mut pg_sys::QueryDesc) {
    unsafe {
        let top = nesting() == 0;
        if !top || (*qd).totaltime.is_null() || (*qd).estate.is_null() || unguarded::geterrcode() != PgSqlErrorCode::ERRCODE_QUERY_CANCELED as i32 {
            return;
        }
        pg_sys::MemoryContextSwitchTo((*(*qd).estate).es_query_cxt);
        let edata = unguarded::CopyErrorData();
        unguarded::FlushErrorState();
        let predicates = crate::capture::take(qd);
        let queryid = queryid_of(qd);
        let mut recorded = false;
        quietly("recording a cancelled execution", || {
            recorded = gate(queryid);
            if recorded {
                let tt = (*qd).totaltime;
                if !instr_zero(&(*tt).starttime) {
                    pg_sys::InstrStopNode(tt, 0.0);
                }
                record(qd, queryid);
            }
        });
        if recorded && predicates {
            quietly("recording predicates of a cancelled execution", || {
                crate::capture::record(qd, unguarded::GetUserId(), queryid)
            });
        }
        unguarded::ReThrowError(edata);
    }
}

#[inline]
fn instr_zero(t: &pg_sys::instr_time) -> bool {
    #[cfg(any(feature = "pg13", feature = "pg14", feature = "pg15"))]
    {
        t.tv_sec == 0 && t.tv_nsec == 0
    }
    #[cfg(not(any(feature = "pg13", feature = "pg14", feature = "pg15")))]
    {
        t.ticks == 0
    }
}

unsafe extern "C-unwind" fn executor_finish(qd: *mut pg_sys::QueryDesc) {
    unsafe {
        nested(|| match PREV_FINISH {
            Some(prev) => prev(qd),
            None => unguarded::standard_ExecutorFinish(qd),
        })
    }
}

unsafe extern "C-unwind" fn executor_end(qd: *mut pg_sys::QueryDesc) {
    unsafe {
        let predicates = crate::capture::take(qd);
        if !(*qd).totaltime.is_null() {
            let mut recorded = false;
            quietly("recording an execution", || {
                crate::gucs::inject_cancel_in_bookkeeping();
                let queryid = queryid_of(qd);
                recorded = gate(queryid);
                if recorded {
                    record(qd, queryid)
                }
            });
            if recorded && predicates {
                quietly("recording predicates", || {
                    crate::capture::record(qd, unguarded::GetUserId(), queryid_of(qd))
                });
            }
        }
        match PREV_END {
            Some(prev) => prev(qd),
            None => unguarded::standard_ExecutorEnd(qd),
        }
    }
}

/// instr_time to milliseconds, across the representations of PostgreSQL 13-17.
#[inline]
pub(crate) fn instr_ms(t: &pg_sys::instr_time) -> f64 {
    #[cfg(any(feature = "pg13", feature = "pg14", feature = "pg15"))]
    {
        t.tv_sec as f64 * 1000.0 + t.tv_nsec as f64 / 1_000_000.0
    }
    #[cfg(not(any(feature = "pg13", feature = "pg14", feature = "pg15")))]
    {
        t.ticks as f64 / 1_000_000.0
    }
}

#[inline]
pub(crate) fn usage_of(b: &pg_sys::BufferUsage, w: &pg_sys::WalUsage, rows: u64) -> Usage {
    Usage {
        rows: rows as i64,
        shared_blks_hit: b.shared_blks_hit,
        shared_blks_read: b.shared_blks_read,
        shared_blks_dirtied: b.shared_blks_dirtied,
        shared_blks_written: b.shared_blks_written,
        local_blks_hit: b.local_blks_hit,
        local_blks_read: b.local_blks_read,
        local_blks_dirtied: b.local_blks_dirtied,
        local_blks_written: b.local_blks_written,
        temp_blks_read: b.temp_blks_read,
        temp_blks_written: b.temp_blks_written,
        blk_read_time: instr_ms(&b.blk_read_time),
        blk_write_time: instr_ms(&b.blk_write_time),
        wal_records: w.wal_records,
        wal_fpi: w.wal_fpi,
        wal_bytes: w.wal_bytes,
    }
}

unsafe fn record(qd: *mut pg_sys::QueryDesc, queryid: u64) {
    unsafe {
        let tt = (*qd).totaltime;
        pg_sys::InstrEndLoop(tt);
        let ms = (*tt).total * 1000.0;
        let rows = if (*qd).estate.is_null() { 0 } else { (*(*qd).estate).es_processed };
        let usage = usage_of(&(*tt).bufusage, &(*tt).walusage, rows);
        let x = shmem::Execution { ms, usage: &usage, now: unguarded::GetCurrentStatementStartTimestamp() };
        let key = key_for(queryid);
        let ps = (*qd).plannedstmt;
        let text = || statement_text((*qd).sourceText, (*ps).stmt_location, (*ps).stmt_len);
        shmem::record_execution(&key, &x, text, || Some(example(qd)));
    }
}

/// Largest bound parameter (in bytes, as stored) whose value an example keeps. A larger one (a
/// big bytea or jsonb document) is never run through its output function on the hook path: the
/// example then keeps no parameter values at all, and the advisor plans the statement generically.
pub(crate) const EXAMPLE_PARAM_MAX_BYTES: usize = 4096;

/// The statement as it ran: its text with real constants, then its bound parameter values
/// (`$1 = '42', $2 = 'x'`), if any. Returns the bytes and the length of the statement part. The
/// store cuts (and flags) what exceeds `pg_optimizer.max_text_bytes`.
unsafe fn example(qd: *mut pg_sys::QueryDesc) -> (Vec<u8>, u32) {
    unsafe {
        let ps = (*qd).plannedstmt;
        let mut bytes = statement_text((*qd).sourceText, (*ps).stmt_location, (*ps).stmt_len);
        let stmt_len = bytes.len() as u32;
        let params = (*qd).params;
        // Parameters fetched through a hook (PL/pgSQL) are not in the array: leave them out.
        if !params.is_null() && (*params).numParams > 0 && (*params).paramFetch.is_none() && params_small(params) {
            let p = pg_sys::BuildParamLogString(params, std::ptr::null_mut(), EXAMPLE_PARAM_MAX_BYTES as i32);
            if !p.is_null() {
                bytes.extend_from_slice(std::ffi::CStr::from_ptr(p).to_bytes());
            }
        }
        (bytes, stmt_len)
    }
}

/// Whether every bound parameter is at most [`EXAMPLE_PARAM_MAX_BYTES`] as stored (checked from
/// the datum's header, without detoasting or formatting it).
unsafe fn params_small(params: pg_sys::ParamListInfo) -> bool {
    unsafe {
        let n = (*params).numParams as usize;
        (*params).params.as_slice(n).iter().all(|p| {
            if p.isnull || p.ptype == pg_sys::InvalidOid {
                return true;
            }
            match pg_sys::get_typlen(p.ptype) {
                -1 => pg_sys::toast_raw_datum_size(p.value) <= EXAMPLE_PARAM_MAX_BYTES,
                -2 => std::ffi::CStr::from_ptr(p.value.cast_mut_ptr()).to_bytes().len() <= EXAMPLE_PARAM_MAX_BYTES,
                _ => true,
            }
        })
    }
}
