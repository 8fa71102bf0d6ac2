//! Raw node access, which nodes count rows, and the walk over the executed plan tree.

use super::*;

// ---------------------------------------------------------------------------------------------
// Raw node access

#[inline]
pub(super) unsafe fn tag<T>(n: *const T) -> NodeTag {
    unsafe { *(n as *const NodeTag) }
}

pub(super) use crate::pg::list::{iter as list_iter, len as list_len, nth};

/// Strip binary-compatible relabelling and COLLATE.
pub(super) unsafe fn strip(mut e: *mut pg_sys::Node) -> *mut pg_sys::Node {
    unsafe {
        for _ in 0..8 {
            if e.is_null() {
                break;
            }
            match tag(e) {
                NodeTag::T_RelabelType => e = (*(e as *mut pg_sys::RelabelType)).arg as *mut pg_sys::Node,
                NodeTag::T_CollateExpr => e = (*(e as *mut pg_sys::CollateExpr)).arg as *mut pg_sys::Node,
                _ => break,
            }
        }
        e
    }
}

pub(super) fn node_kind(t: NodeTag) -> NodeKind {
    match t {
        NodeTag::T_SeqScan => NodeKind::SeqScan,
        NodeTag::T_SampleScan => NodeKind::SampleScan,
        NodeTag::T_IndexScan => NodeKind::IndexScan,
        NodeTag::T_IndexOnlyScan => NodeKind::IndexOnlyScan,
        NodeTag::T_BitmapIndexScan => NodeKind::BitmapIndexScan,
        NodeTag::T_BitmapHeapScan => NodeKind::BitmapHeapScan,
        NodeTag::T_TidScan => NodeKind::TidScan,
        NodeTag::T_TidRangeScan => NodeKind::TidRangeScan,
        NodeTag::T_ForeignScan => NodeKind::ForeignScan,
        NodeTag::T_CustomScan => NodeKind::CustomScan,
        NodeTag::T_NestLoop => NodeKind::NestLoop,
        NodeTag::T_HashJoin => NodeKind::HashJoin,
        NodeTag::T_MergeJoin => NodeKind::MergeJoin,
        NodeTag::T_Sort => NodeKind::Sort,
        NodeTag::T_IncrementalSort => NodeKind::IncrementalSort,
        _ => NodeKind::Other,
    }
}

/// Nodes whose rows we count: scans and joins.
pub(super) fn counted_kind(k: NodeKind) -> bool {
    !matches!(k, NodeKind::Other | NodeKind::Sort | NodeKind::IncrementalSort)
}

pub(super) fn is_join(k: NodeKind) -> bool {
    matches!(k, NodeKind::NestLoop | NodeKind::HashJoin | NodeKind::MergeJoin)
}

/// Most pending nodes the walk keeps; a plan wider than this is walked in part.
pub(super) const MAX_STACK: usize = 1024;

pub(super) struct SmallStack {
    pub(super) small: [(*mut pg_sys::PlanState, bool); 32],
    pub(super) n: usize,
    pub(super) spill: Vec<(*mut pg_sys::PlanState, bool)>,
}

impl SmallStack {
    #[inline]
    pub(super) fn push(&mut self, x: (*mut pg_sys::PlanState, bool)) {
        if self.n < self.small.len() {
            self.small[self.n] = x;
            self.n += 1;
        } else if self.spill.len() < MAX_STACK {
            self.spill.push(x);
        }
    }
    #[inline]
    pub(super) fn pop(&mut self) -> Option<(*mut pg_sys::PlanState, bool)> {
        if let Some(x) = self.spill.pop() {
            Some(x)
        } else if self.n > 0 {
            self.n -= 1;
            Some(self.small[self.n])
        } else {
            None
        }
    }
}

/// Visit every PlanState once, parents before children: `f(node, limit_above)`.
pub(super) unsafe fn for_each_node(root: *mut pg_sys::PlanState, mut f: impl FnMut(*mut pg_sys::PlanState, bool)) {
    unsafe {
        // A small stack on the stack; deeper plans spill to the heap (no allocation per
        // statement for ordinary plans).
        let mut stack = SmallStack { small: [(std::ptr::null_mut(), false); 32], n: 0, spill: Vec::new() };
        let mut visited_subplans: Vec<i32> = Vec::new();
        let mut seen = 0usize;
        let push = |stack: &mut SmallStack, ps: *mut pg_sys::PlanState, lim: bool| {
            if !ps.is_null() {
                stack.push((ps, lim));
            }
        };
        push(&mut stack, root, false);
        while let Some((ps, limit_above)) = stack.pop() {
            seen += 1;
            if seen > 100_000 {
                break; // a cycle would be a bug; never loop forever in a hook
            }
            f(ps, limit_above);
            let plan = (*ps).plan;
            let ptag = if plan.is_null() { NodeTag::T_Invalid } else { tag(plan) };
            // A LIMIT passes its bound through these (ExecSetTupleBound).
            let child_limit = match ptag {
                NodeTag::T_Limit => true,
                NodeTag::T_Result | NodeTag::T_SubqueryScan | NodeTag::T_Append | NodeTag::T_MergeAppend | NodeTag::T_Gather | NodeTag::T_GatherMerge => limit_above,
                _ => false,
            };
            for l in [(*ps).initPlan, (*ps).subPlan] {
                for sps in list_iter::<pg_sys::SubPlanState>(l) {
                    if sps.is_null() || (*sps).planstate.is_null() || (*sps).subplan.is_null() {
                        continue;
                    }
                    let id = (*(*sps).subplan).plan_id;
                    if visited_subplans.contains(&id) {
                        continue;
                    }
                    visited_subplans.push(id);
                    push(&mut stack, (*sps).planstate, false);
                }
            }
            push(&mut stack, (*ps).righttree, child_limit);
            push(&mut stack, (*ps).lefttree, child_limit);
            let members: (*mut *mut pg_sys::PlanState, i32) = match tag(ps) {
                NodeTag::T_AppendState => ((*(ps as *mut pg_sys::AppendState)).appendplans, (*(ps as *mut pg_sys::AppendState)).as_nplans),
                NodeTag::T_MergeAppendState => ((*(ps as *mut pg_sys::MergeAppendState)).mergeplans, (*(ps as *mut pg_sys::MergeAppendState)).ms_nplans),
                NodeTag::T_BitmapAndState => ((*(ps as *mut pg_sys::BitmapAndState)).bitmapplans, (*(ps as *mut pg_sys::BitmapAndState)).nplans),
                NodeTag::T_BitmapOrState => ((*(ps as *mut pg_sys::BitmapOrState)).bitmapplans, (*(ps as *mut pg_sys::BitmapOrState)).nplans),
                _ => (std::ptr::null_mut(), 0),
            };
            if !members.0.is_null() {
                for i in (0..members.1.max(0) as usize).rev() {
                    push(&mut stack, *members.0.add(i), child_limit);
                }
            }
            match tag(ps) {
                NodeTag::T_SubqueryScanState => push(&mut stack, (*(ps as *mut pg_sys::SubqueryScanState)).subplan, child_limit),
                NodeTag::T_CustomScanState => {
                    let l = (*(ps as *mut pg_sys::CustomScanState)).custom_ps;
                    for i in (0..list_len(l)).rev() {
                        push(&mut stack, nth(l, i), false);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Give every scan and join node that has none a rows-only Instrumentation (current memory
/// context: the caller switches to the query's).
pub(crate) unsafe fn instrument_tree(root: *mut pg_sys::PlanState) {
    unsafe {
        for_each_node(root, |ps, _| {
            let plan = (*ps).plan;
            if plan.is_null() || !(*ps).instrument.is_null() || !counted_kind(node_kind(tag(plan))) {
                return;
            }
            #[cfg(feature = "pg13")]
            {
                (*ps).instrument = pg_sys::InstrAlloc(1, pg_sys::InstrumentOption::INSTRUMENT_ROWS as i32);
            }
            #[cfg(not(feature = "pg13"))]
            {
                (*ps).instrument = pg_sys::InstrAlloc(1, pg_sys::InstrumentOption::INSTRUMENT_ROWS as i32, (*ps).async_capable);
            }
        });
    }
}

/// Test support: the kind of every node visited, in order.
#[cfg(any(test, feature = "pg_test"))]
pub(crate) unsafe fn visit_kinds(root: *mut pg_sys::PlanState) -> Vec<&'static str> {
    let mut out = Vec::new();
    unsafe {
        for_each_node(root, |ps, _| {
            out.push(match node_kind(tag((*ps).plan)) {
                NodeKind::CustomScan => "CustomScan",
                NodeKind::SeqScan => "SeqScan",
                NodeKind::Other => "unknown",
                _ => "other",
            })
        });
    }
    out
}

/// The node's counters without finishing its loop (the executor's own ExecutorEnd does that):
/// rows and loops include a loop still running.
pub(super) unsafe fn observe(ps: *mut pg_sys::PlanState) -> NodeObs {
    unsafe {
        let plan_rows = (*(*ps).plan).plan_rows;
        let i = (*ps).instrument;
        if i.is_null() {
            return NodeObs { plan_rows, ..Default::default() };
        }
        let running = (*i).running;
        NodeObs {
            rows: (*i).ntuples + if running { (*i).tuplecount } else { 0.0 },
            loops: (*i).nloops + if running { 1.0 } else { 0.0 },
            removed: (*i).nfiltered1,
            rechecked: (*i).nfiltered2,
            plan_rows,
            counted: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack() -> SmallStack {
        SmallStack { small: [(std::ptr::null_mut(), false); 32], n: 0, spill: Vec::new() }
    }

    fn ps(i: usize) -> *mut pg_sys::PlanState {
        (i * 8) as *mut pg_sys::PlanState
    }

    #[test]
    fn the_stack_is_last_in_first_out_across_its_spill() {
        let mut s = stack();
        for i in 1..=40 {
            s.push((ps(i), i % 2 == 0));
        }
        for i in (1..=40).rev() {
            assert_eq!(s.pop(), Some((ps(i), i % 2 == 0)));
        }
        assert_eq!(s.pop(), None);
    }

    #[test]
    fn a_plan_wider_than_the_cap_is_walked_in_part() {
        let mut s = stack();
        for i in 1..=(32 + MAX_STACK + 10) {
            s.push((ps(i), false));
        }
        let mut n = 0;
        while s.pop().is_some() {
            n += 1;
        }
        assert_eq!(n, 32 + MAX_STACK);
    }

    #[test]
    fn scans_and_joins_count_rows_sorts_and_others_do_not() {
        assert_eq!(node_kind(NodeTag::T_IndexOnlyScan), NodeKind::IndexOnlyScan);
        assert_eq!(node_kind(NodeTag::T_Hash), NodeKind::Other);
        assert!(counted_kind(node_kind(NodeTag::T_SeqScan)) && counted_kind(node_kind(NodeTag::T_MergeJoin)));
        assert!(!counted_kind(node_kind(NodeTag::T_Sort)) && !counted_kind(node_kind(NodeTag::T_Agg)));
        assert!(is_join(node_kind(NodeTag::T_NestLoop)) && !is_join(node_kind(NodeTag::T_BitmapHeapScan)));
    }
}
