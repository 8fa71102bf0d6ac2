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

/// Executions chosen for predicate capture whose ExecutorEnd has not run yet: QueryDesc address
/// and the subtransaction that started it. Nested executions and open cursors can overlap. An
/// execution that fails never reaches ExecutorEnd: the (sub)transaction-abort callbacks drop it, so
/// a later QueryDesc at the same address is never mistaken for a chosen one.
const PENDING: usize = 16;
static mut PENDING_QDS: [(usize, u32); PENDING] = [(0, 0); PENDING];
static mut NEXT_PENDING: usize = 0;

fn remember(qd: *mut pg_sys::QueryDesc) {
    unsafe {
        let subid = crate::pg::unguarded::GetCurrentSubTransactionId();
        let ring = &mut *(&raw mut PENDING_QDS);
        if let Some(free) = ring.iter_mut().find(|s| s.0 == 0) {
            *free = (qd as usize, subid);
        } else {
            ring[NEXT_PENDING % PENDING] = (qd as usize, subid);
            NEXT_PENDING = NEXT_PENDING.wrapping_add(1);
        }
    }
}

/// Whether `qd` was chosen (and forget it). Called at every ExecutorEnd.
pub fn take(qd: *mut pg_sys::QueryDesc) -> bool {
    unsafe {
        let ring = &mut *(&raw mut PENDING_QDS);
        match ring.iter_mut().find(|s| s.0 == qd as usize) {
            Some(s) => {
                *s = (0, 0);
                true
            }
            None => false,
        }
    }
}

/// Drop the executions started in subtransaction `from` or later (all, for 0).
fn drop_pending(from: u32) {
    unsafe {
        for s in (*(&raw mut PENDING_QDS)).iter_mut() {
            if s.0 != 0 && s.1 >= from {
                *s = (0, 0);
            }
        }
    }
}

unsafe extern "C-unwind" fn on_xact(event: pg_sys::XactEvent::Type, _arg: *mut std::ffi::c_void) {
    if event == pg_sys::XactEvent::XACT_EVENT_ABORT || event == pg_sys::XactEvent::XACT_EVENT_PARALLEL_ABORT {
        drop_pending(0);
    }
}

unsafe extern "C-unwind" fn on_subxact(
    event: pg_sys::SubXactEvent::Type,
    my_subid: pg_sys::SubTransactionId,
    _parent: pg_sys::SubTransactionId,
    _arg: *mut std::ffi::c_void,
) {
    if event == pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB {
        drop_pending(my_subid);
    }
}

/// Called from `_PG_init`: forget failed executions at (sub)transaction abort.
pub fn init() {
    unsafe {
        pg_sys::RegisterXactCallback(Some(on_xact), std::ptr::null_mut());
        pg_sys::RegisterSubXactCallback(Some(on_subxact), std::ptr::null_mut());
    }
}

/// Before the chained ExecutorStart of a sampled statement. Returns whether `qd` was chosen.
pub unsafe fn prepare(qd: *mut pg_sys::QueryDesc) -> bool {
    unsafe {
        let ps = (*qd).plannedstmt;
        if ps.is_null() || (*ps).commandType == pg_sys::CmdType::CMD_UTILITY {
            return false;
        }
        if (*ps).parallelModeNeeded {
            (*qd).instrument_options |= pg_sys::InstrumentOption::INSTRUMENT_ROWS as i32;
        }
        remember(qd);
        true
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
        let _cxt = crate::pg::MemoryContextGuard::switch_to((*(*qd).estate).es_query_cxt);
        walk::instrument_tree((*qd).planstate);
    }
}

/// In ExecutorEnd, before the chained call, for a QueryDesc [`take`] said was chosen.
pub unsafe fn record(qd: *mut pg_sys::QueryDesc, userid: pg_sys::Oid, queryid: u64) {
    unsafe {
        if (*qd).planstate.is_null() || (*qd).estate.is_null() {
            return;
        }
        walk::record_tree(qd, userid, queryid);
    }
}

/// Test support: the node kinds the walk visits in a synthetic executed tree, a CustomScanState
/// whose `custom_ps` holds a SeqScanState and a node of a kind the walk does not know, after
/// giving it row instrumentation as a sampled statement would.
#[cfg(any(test, feature = "pg_test"))]
pub unsafe fn walk_tags_of_synthetic_custom_tree() -> Vec<&'static str> {
    unsafe {
        use pgrx::pg_sys::NodeTag;
        unsafe fn state<S, P>(state_tag: NodeTag, plan_tag: NodeTag) -> *mut pg_sys::PlanState {
            unsafe {
                let plan = pg_sys::palloc0(std::mem::size_of::<P>()) as *mut pg_sys::Plan;
                (*plan).type_ = plan_tag;
                let ps = pg_sys::palloc0(std::mem::size_of::<S>()) as *mut pg_sys::PlanState;
                (*ps).type_ = state_tag;
                (*ps).plan = plan;
                ps
            }
        }
        let custom = state::<pg_sys::CustomScanState, pg_sys::CustomScan>(NodeTag::T_CustomScanState, NodeTag::T_CustomScan);
        let seq = state::<pg_sys::SeqScanState, pg_sys::SeqScan>(NodeTag::T_SeqScanState, NodeTag::T_SeqScan);
        let odd = state::<pg_sys::WindowAggState, pg_sys::WindowAgg>(NodeTag::T_WindowAggState, NodeTag::T_WindowAgg);
        let mut l = pg_sys::lappend(std::ptr::null_mut(), seq as *mut std::ffi::c_void);
        l = pg_sys::lappend(l, odd as *mut std::ffi::c_void);
        (*(custom as *mut pg_sys::CustomScanState)).custom_ps = l;
        walk::instrument_tree(custom);
        assert!(!(*custom).instrument.is_null() && !(*seq).instrument.is_null() && (*odd).instrument.is_null());
        walk::visit_kinds(custom)
    }
}

/// A sampled constant as text, through its type's output function. None if the type is gone.
pub fn render_constant(s: &crate::stats::predicates::ConstSample) -> Option<String> {
    if s.isnull != 0 {
        return Some("NULL".into());
    }
    unsafe {
        let typid = pg_sys::Oid::from(s.typid);
        let exists = pg_sys::SearchSysCacheExists(
            pg_sys::SysCacheIdentifier::TYPEOID as i32,
            pg_sys::Datum::from(typid),
            pg_sys::Datum::from(0),
            pg_sys::Datum::from(0),
            pg_sys::Datum::from(0),
        );
        if !exists {
            return None;
        }
        let mut out_fn = pg_sys::InvalidOid;
        let mut is_varlena = false;
        pg_sys::getTypeOutputInfo(typid, &mut out_fn, &mut is_varlena);
        let datum = if s.byval != 0 {
            pg_sys::Datum::from(u64::from_ne_bytes(s.data[..8].try_into().ok()?) as usize)
        } else {
            let len = (s.len as usize).min(crate::stats::predicates::SAMPLE_BYTES);
            let buf = pg_sys::palloc0(len.max(8)) as *mut u8;
            std::ptr::copy_nonoverlapping(s.data.as_ptr(), buf, len);
            pg_sys::Datum::from(buf)
        };
        let c = pg_sys::OidOutputFunctionCall(out_fn, datum);
        if c.is_null() {
            return None;
        }
        Some(std::ffi::CStr::from_ptr(c).to_string_lossy().into_owned())
    }
}
