//! When hypothetical indexes are visible: inside a costing call of ours, or a plain EXPLAIN, at
//! the planner depth the scope names; closed on every exit, on (sub)transaction abort, and a
//! safety net at ExecutorStart for any plan that would still carry one.

use super::define;
use super::registry::{ephemeral, is_hypothetical, registry};
use pgrx::pg_sys;
use std::ffi::CStr;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Scope {
    Off,
    /// Every registered index, at this planner depth (EXPLAIN).
    Explain(i32),
    /// The ephemeral set, at this planner depth (costing calls).
    Costing(i32),
}

pub(super) static mut SCOPE: Scope = Scope::Off;
/// The subtransaction the open scope belongs to: its abort (or an outer one's) closes the scope.
static mut SCOPE_SUBXACT: pg_sys::SubTransactionId = 0;
pub(super) static mut COSTING_SET: Vec<pg_sys::Oid> = Vec::new();

/// Register the transaction and subtransaction callbacks that close a scope on abort.
pub(super) fn init() {
    unsafe {
        pg_sys::RegisterXactCallback(Some(on_xact), std::ptr::null_mut());
        pg_sys::RegisterSubXactCallback(Some(on_subxact), std::ptr::null_mut());
    }
}

/// A subtransaction that aborts (ROLLBACK TO, a PL/pgSQL EXCEPTION block, psql's
/// ON_ERROR_ROLLBACK) closes a scope opened inside it: the statement that opened it failed, and
/// whatever runs next in the transaction must plan without hypothetical indexes. Plain function:
/// it only compares and resets statics.
unsafe extern "C-unwind" fn on_subxact(
    event: pg_sys::SubXactEvent::Type,
    my_subid: pg_sys::SubTransactionId,
    _parent: pg_sys::SubTransactionId,
    _arg: *mut std::ffi::c_void,
) {
    unsafe {
        if event == pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB && SCOPE != Scope::Off && my_subid <= SCOPE_SUBXACT {
            SCOPE = Scope::Off;
        }
    }
}

/// Runs at every transaction end, so it is a plain function (no error boundary to set up): it only
/// resets statics and drops Rust values, which cannot raise.
unsafe extern "C-unwind" fn on_xact(event: pg_sys::XactEvent::Type, _arg: *mut std::ffi::c_void) {
    if event == pg_sys::XactEvent::XACT_EVENT_ABORT || event == pg_sys::XactEvent::XACT_EVENT_PARALLEL_ABORT {
        unsafe { SCOPE = Scope::Off };
        ephemeral().clear();
    }
}

/// Run `body` with the hypothetical indexes `set` (registered or ephemeral) visible at planner
/// depth `nesting() + 1`: the planner `body` is about to call. Closed on every exit.
pub fn with_costing_scope<R>(set: &[pg_sys::Oid], body: impl FnOnce() -> R) -> R {
    struct Close(Scope, pg_sys::SubTransactionId, Vec<pg_sys::Oid>);
    impl Drop for Close {
        fn drop(&mut self) {
            unsafe {
                SCOPE = self.0;
                SCOPE_SUBXACT = self.1;
                COSTING_SET = std::mem::take(&mut self.2);
            }
        }
    }
    let _close = unsafe { Close(SCOPE, SCOPE_SUBXACT, std::mem::replace(&mut *(&raw mut COSTING_SET), set.to_vec())) };
    unsafe {
        SCOPE = Scope::Costing(crate::pg::nesting::planning_level());
        SCOPE_SUBXACT = crate::pg::unguarded::GetCurrentSubTransactionId();
    }
    body()
}

/// Called by the utility hook before an `EXPLAIN`: open the explain scope if this EXPLAIN should
/// see the registry, for the planner call at nesting level `planner_level` (the hook knows how
/// many levels it and the planner add). Returns whether it did (the caller then calls
/// [`close_explain`]).
pub unsafe fn open_explain(node: *mut pg_sys::Node, planner_level: i32) -> bool {
    unsafe {
        if registry().is_empty() || !crate::gucs::hypothetical_explain() || (*node).type_ != pg_sys::NodeTag::T_ExplainStmt {
            return false;
        }
        // EXPLAIN EXECUTE plans a cached statement (which a later EXECUTE would run), and EXPLAIN of
        // other utility statements (CREATE TABLE AS ...) is not ours: only plain queries.
        let e = node as *mut pg_sys::ExplainStmt;
        let q = (*e).query;
        if (*q).type_ != pg_sys::NodeTag::T_Query || (*(q as *mut pg_sys::Query)).commandType == pg_sys::CmdType::CMD_UTILITY {
            return false;
        }
        for opt in define::list_nodes::<pg_sys::DefElem>((*e).options) {
            let name = CStr::from_ptr((*opt).defname).to_bytes();
            if name == b"analyze" && ((*opt).arg.is_null() || pg_sys::defGetBoolean(opt)) {
                return false;
            }
        }
        SCOPE = Scope::Explain(planner_level);
        SCOPE_SUBXACT = crate::pg::unguarded::GetCurrentSubTransactionId();
        true
    }
}

pub fn close_explain() {
    unsafe { SCOPE = Scope::Off };
}

/// The first hypothetical index a plan would scan, if any: the safety net at ExecutorStart (a
/// plan that reaches real execution with one fails there, with our error, not in the executor).
pub unsafe fn hypothetical_in_plan(ps: *const pg_sys::PlannedStmt) -> Option<pg_sys::Oid> {
    unsafe fn plans(l: *mut pg_sys::List) -> impl Iterator<Item = *const pg_sys::Plan> {
        unsafe { define::list_nodes::<pg_sys::Plan>(l).into_iter().map(|p| p as *const _) }
    }
    fn extend(children: &mut Vec<*const pg_sys::Plan>, more: impl IntoIterator<Item = *const pg_sys::Plan>) -> Option<pg_sys::Oid> {
        children.extend(more);
        None
    }
    unsafe fn walk(p: *const pg_sys::Plan) -> Option<pg_sys::Oid> {
        unsafe {
            if p.is_null() {
                return None;
            }
            let mut children: Vec<*const pg_sys::Plan> = vec![(*p).lefttree as *const _, (*p).righttree as *const _];
            let index = match (*p).type_ {
                pg_sys::NodeTag::T_IndexScan => Some((*(p as *const pg_sys::IndexScan)).indexid),
                pg_sys::NodeTag::T_IndexOnlyScan => Some((*(p as *const pg_sys::IndexOnlyScan)).indexid),
                pg_sys::NodeTag::T_BitmapIndexScan => Some((*(p as *const pg_sys::BitmapIndexScan)).indexid),
                pg_sys::NodeTag::T_Append => extend(&mut children, plans((*(p as *const pg_sys::Append)).appendplans)),
                pg_sys::NodeTag::T_MergeAppend => extend(&mut children, plans((*(p as *const pg_sys::MergeAppend)).mergeplans)),
                pg_sys::NodeTag::T_BitmapAnd => extend(&mut children, plans((*(p as *const pg_sys::BitmapAnd)).bitmapplans)),
                pg_sys::NodeTag::T_BitmapOr => extend(&mut children, plans((*(p as *const pg_sys::BitmapOr)).bitmapplans)),
                pg_sys::NodeTag::T_SubqueryScan => extend(&mut children, [(*(p as *const pg_sys::SubqueryScan)).subplan as *const _]),
                pg_sys::NodeTag::T_CustomScan => extend(&mut children, plans((*(p as *const pg_sys::CustomScan)).custom_plans)),
                _ => None,
            };
            if let Some(oid) = index.filter(|&o| is_hypothetical(o)) {
                return Some(oid);
            }
            children.into_iter().find_map(|c| walk(c))
        }
    }
    unsafe {
        if ps.is_null() {
            return None;
        }
        walk((*ps).planTree).or_else(|| plans((*ps).subplans).find_map(|p| walk(p)))
    }
}

