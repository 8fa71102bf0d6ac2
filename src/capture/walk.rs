//! The plan walk: which nodes get row counting, and what each executed node tells us.
//!
//! Our own walk over `PlanState` (explicit stack, depth-capped), not `planstate_tree_walker`: it
//! needs to know each edge (a LIMIT above a Sort, a nested loop's parameters before its inner
//! side), and it reads `List` cells directly instead of paying a guarded FFI call per node.
//! Children: init plans, left and right trees, Append/MergeAppend/BitmapAnd/BitmapOr members,
//! SubqueryScan's subplan, CustomScan's `custom_ps`, sub plans; each sub plan once.
//!
//! Vars are resolved to (relation, column) the way ruleutils does for EXPLAIN: `OUTER_VAR` and
//! `INNER_VAR` through the child's target list, `INDEX_VAR` through an index-only scan's
//! `indextlist` (or a foreign/custom scan's scan tlist), a subquery scan through its subplan, a
//! partition to its partitioned root through `PlannedStmt.appendRelations` (with the column
//! mapping), and a nested loop's `PARAM_EXEC` through its `nestParams` to the outer column: an
//! inner index condition `col = $1` is recorded as the join clause it is.
//!
//! Nothing here touches the catalogs on the steady path (OIDs and attnums only; names are
//! resolved by the views). Only when an entry is created for an expression is its text deparsed.

use crate::shmem::predicates as store;
use crate::stats::predicates::*;
use pgrx::pg_sys::{self, NodeTag};

// ---------------------------------------------------------------------------------------------
// Raw node access

#[inline]
unsafe fn tag<T>(n: *const T) -> NodeTag {
    unsafe { *(n as *const NodeTag) }
}

#[inline]
unsafe fn list_len(l: *mut pg_sys::List) -> usize {
    if l.is_null() {
        0
    } else {
        unsafe { (*l).length.max(0) as usize }
    }
}

#[inline]
unsafe fn nth<T>(l: *mut pg_sys::List, i: usize) -> *mut T {
    unsafe { (*(*l).elements.add(i)).ptr_value as *mut T }
}

unsafe fn list_iter<T>(l: *mut pg_sys::List) -> impl Iterator<Item = *mut T> {
    let n = unsafe { list_len(l) };
    (0..n).map(move |i| unsafe { nth::<T>(l, i) })
}

/// Strip binary-compatible relabelling and COLLATE.
unsafe fn strip(mut e: *mut pg_sys::Node) -> *mut pg_sys::Node {
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

fn node_kind(t: NodeTag) -> NodeKind {
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
fn counted_kind(k: NodeKind) -> bool {
    !matches!(k, NodeKind::Other | NodeKind::Sort | NodeKind::IncrementalSort)
}

fn is_join(k: NodeKind) -> bool {
    matches!(k, NodeKind::NestLoop | NodeKind::HashJoin | NodeKind::MergeJoin)
}

/// Most pending nodes the walk keeps; a plan wider than this is walked in part.
const MAX_STACK: usize = 1024;

struct SmallStack {
    small: [(*mut pg_sys::PlanState, bool); 32],
    n: usize,
    spill: Vec<(*mut pg_sys::PlanState, bool)>,
}

impl SmallStack {
    #[inline]
    fn push(&mut self, x: (*mut pg_sys::PlanState, bool)) {
        if self.n < self.small.len() {
            self.small[self.n] = x;
            self.n += 1;
        } else if self.spill.len() < MAX_STACK {
            self.spill.push(x);
        }
    }
    #[inline]
    fn pop(&mut self) -> Option<(*mut pg_sys::PlanState, bool)> {
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
unsafe fn for_each_node(root: *mut pg_sys::PlanState, mut f: impl FnMut(*mut pg_sys::PlanState, bool)) {
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
pub(super) unsafe fn instrument_tree(root: *mut pg_sys::PlanState) {
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
pub(super) unsafe fn visit_kinds(root: *mut pg_sys::PlanState) -> Vec<&'static str> {
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
unsafe fn observe(ps: *mut pg_sys::PlanState) -> NodeObs {
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

// ---------------------------------------------------------------------------------------------
// Resolution

/// A base-table column: range-table index and column number.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Origin {
    rti: u32,
    att: i16,
}

/// A relation as stored: scanned relid, partition root and the column numbers in the root.
#[derive(Clone, Copy, Default)]
struct RelCols {
    relid: u32,
    root: u32,
    attnums: [i16; MAX_COLS],
    partition: bool,
}

/// What one side of an operator is.
#[derive(Clone, Copy)]
enum Side {
    /// Columns of one relation: a plain column (`expr` null) or an expression over them.
    Cols { rti: u32, atts: [i16; MAX_COLS], expr: *mut pg_sys::Node, hash: u64 },
    /// A constant, a bind parameter, or an expression over neither columns nor sub-selects.
    Value(Val),
    /// A nested loop's parameter: the outer side's column.
    Outer(Origin),
    /// Anything else: columns of several relations, sub-selects, run-time values.
    Computed,
}

#[derive(Clone, Copy)]
enum Val {
    Const(*mut pg_sys::Const),
    Extern(i32),
    Array(usize),
    Other,
}

struct Walk {
    stmt: *mut pg_sys::PlannedStmt,
    rtable: *mut pg_sys::List,
    params: pg_sys::ParamListInfo,
    base: PredKey,
    now: i64,
    capture: bool,
    nest: [(i32, Origin); 32],
    n_nest: usize,
    /// Children of a BitmapOr met so far (PlanState address, OR group): their index conditions
    /// are members of that OR.
    bitmap_or: Vec<(usize, u32)>,
    deparse_cxt: std::cell::Cell<*mut pg_sys::List>,
    or_counter: std::cell::Cell<u32>,
}

impl Walk {
    unsafe fn rte(&self, rti: u32) -> *mut pg_sys::RangeTblEntry {
        unsafe {
            if rti == 0 || rti as usize > list_len(self.rtable) {
                std::ptr::null_mut()
            } else {
                nth(self.rtable, rti as usize - 1)
            }
        }
    }

    unsafe fn var_origin(&self, plan: *mut pg_sys::Plan, varno: i32, att: i16, depth: u32) -> Option<Origin> {
        unsafe {
            if plan.is_null() || depth > 24 {
                return None;
            }
            match varno {
                pg_sys::OUTER_VAR => {
                    let child = outer_child(plan);
                    self.tle_origin(if child.is_null() { std::ptr::null_mut() } else { (*child).targetlist }, att, child, depth)
                }
                pg_sys::INNER_VAR => {
                    let child = (*plan).righttree;
                    self.tle_origin(if child.is_null() { std::ptr::null_mut() } else { (*child).targetlist }, att, child, depth)
                }
                pg_sys::INDEX_VAR => self.tle_origin(index_tlist(plan), att, plan, depth),
                v if v > 0 => {
                    let rte = self.rte(v as u32);
                    if rte.is_null() {
                        return None;
                    }
                    if (*rte).rtekind == pg_sys::RTEKind::RTE_RELATION {
                        return Some(Origin { rti: v as u32, att });
                    }
                    if tag(plan) == NodeTag::T_SubqueryScan && (*(plan as *mut pg_sys::Scan)).scanrelid == v as u32 {
                        let sub = (*(plan as *mut pg_sys::SubqueryScan)).subplan;
                        if !sub.is_null() {
                            return self.tle_origin((*sub).targetlist, att, sub, depth);
                        }
                    }
                    None
                }
                _ => None,
            }
        }
    }

    unsafe fn tle_origin(&self, tlist: *mut pg_sys::List, att: i16, plan: *mut pg_sys::Plan, depth: u32) -> Option<Origin> {
        unsafe {
            if att <= 0 || att as usize > list_len(tlist) {
                return None;
            }
            let tle: *mut pg_sys::TargetEntry = nth(tlist, att as usize - 1);
            let e = strip((*tle).expr as *mut pg_sys::Node);
            if !e.is_null() && tag(e) == NodeTag::T_Var {
                let v = e as *mut pg_sys::Var;
                if (*v).varlevelsup == 0 {
                    return self.var_origin(plan, (*v).varno, (*v).varattno, depth + 1);
                }
            }
            None
        }
    }

    /// The stored form of columns of range-table entry `rti`: the scanned relation, and the
    /// partitioned root with the column numbers translated to it.
    unsafe fn rel_cols(&self, rti: u32, atts: &[i16; MAX_COLS]) -> RelCols {
        unsafe {
            let rte = self.rte(rti);
            let relid = if rte.is_null() { 0 } else { (*rte).relid.to_u32() };
            let mut out = RelCols { relid, root: relid, attnums: *atts, partition: false };
            let appinfos = (*self.stmt).appendRelations;
            let mut cur = rti;
            for _ in 0..16 {
                let Some(ai) = list_iter::<pg_sys::AppendRelInfo>(appinfos).find(|a| !a.is_null() && (**a).child_relid == cur) else {
                    break;
                };
                if (*ai).parent_reloid == pg_sys::InvalidOid {
                    break; // UNION ALL, not a partition tree
                }
                for a in out.attnums.iter_mut() {
                    if *a > 0 {
                        *a = if (*a as i32) <= (*ai).num_child_cols && !(*ai).parent_colnos.is_null() {
                            *(*ai).parent_colnos.add(*a as usize - 1)
                        } else {
                            0
                        };
                    }
                }
                cur = (*ai).parent_relid;
                out.root = (*ai).parent_reloid.to_u32();
                out.partition = true;
            }
            // A column that does not exist in the root (0) ends the list there.
            if let Some(p) = out.attnums.iter().position(|a| *a == 0) {
                for a in out.attnums[p..].iter_mut() {
                    *a = 0;
                }
            }
            out
        }
    }

    /// Classify an expression seen in `plan`.
    unsafe fn side(&self, e: *mut pg_sys::Node, plan: *mut pg_sys::Plan) -> Side {
        unsafe {
            let e = strip(e);
            if e.is_null() {
                return Side::Computed;
            }
            match tag(e) {
                NodeTag::T_Var => {
                    let v = e as *mut pg_sys::Var;
                    if (*v).varlevelsup != 0 {
                        return Side::Computed;
                    }
                    match self.var_origin(plan, (*v).varno, (*v).varattno, 0) {
                        Some(o) => Side::Cols { rti: o.rti, atts: column_set([o.att]), expr: std::ptr::null_mut(), hash: 0 },
                        None => Side::Computed,
                    }
                }
                NodeTag::T_Const => Side::Value(Val::Const(e as *mut pg_sys::Const)),
                NodeTag::T_Param => {
                    let p = e as *mut pg_sys::Param;
                    if (*p).paramkind == pg_sys::ParamKind::PARAM_EXTERN {
                        Side::Value(Val::Extern((*p).paramid))
                    } else if (*p).paramkind == pg_sys::ParamKind::PARAM_EXEC {
                        match self.nest[..self.n_nest].iter().find(|(id, _)| *id == (*p).paramid) {
                            Some((_, o)) => Side::Outer(*o),
                            None => Side::Value(Val::Other), // an init plan's output: known at run time
                        }
                    } else {
                        Side::Computed
                    }
                }
                NodeTag::T_ArrayExpr => {
                    let mut scan = ExprScan::default();
                    self.scan_expr(e, plan, &mut scan, 0);
                    if scan.computed || scan.n > 0 {
                        Side::Computed
                    } else {
                        Side::Value(Val::Array(list_len((*(e as *mut pg_sys::ArrayExpr)).elements)))
                    }
                }
                _ => {
                    let mut scan = ExprScan::default();
                    self.scan_expr(e, plan, &mut scan, 0);
                    if scan.computed || scan.multi_rel {
                        Side::Computed
                    } else if scan.n == 0 {
                        Side::Value(Val::Other)
                    } else {
                        Side::Cols { rti: scan.rti, atts: column_set(scan.atts[..scan.n].iter().copied()), expr: e, hash: scan.hash }
                    }
                }
            }
        }
    }

    /// Collect the columns an expression uses and hash its shape (node kinds, functions,
    /// operators, columns; never constant values).
    unsafe fn scan_expr(&self, e: *mut pg_sys::Node, plan: *mut pg_sys::Plan, s: &mut ExprScan, depth: u32) {
        unsafe {
            if e.is_null() {
                return;
            }
            if depth > 32 {
                s.computed = true;
                return;
            }
            let t = tag(e);
            s.hash = hash_combine(s.hash, t as u64);
            macro_rules! args {
                ($l:expr) => {
                    for a in list_iter::<pg_sys::Node>($l) {
                        self.scan_expr(a, plan, s, depth + 1);
                    }
                };
            }
            match t {
                NodeTag::T_Var => {
                    let v = e as *mut pg_sys::Var;
                    match ((*v).varlevelsup == 0).then(|| self.var_origin(plan, (*v).varno, (*v).varattno, 0)).flatten() {
                        Some(o) => {
                            if s.n > 0 && s.rti != o.rti {
                                s.multi_rel = true;
                            }
                            s.rti = o.rti;
                            s.hash = hash_combine(s.hash, (o.att as u64) << 32 | o.rti as u64);
                            if !s.atts[..s.n].contains(&o.att) && s.n < MAX_COLS {
                                s.atts[s.n] = o.att;
                                s.n += 1;
                            }
                        }
                        None => s.computed = true,
                    }
                }
                NodeTag::T_Const => {}
                NodeTag::T_Param => {
                    if (*(e as *mut pg_sys::Param)).paramkind == pg_sys::ParamKind::PARAM_EXEC {
                        s.computed = true;
                    }
                }
                NodeTag::T_FuncExpr => {
                    let f = e as *mut pg_sys::FuncExpr;
                    s.hash = hash_combine(s.hash, (*f).funcid.to_u32() as u64);
                    args!((*f).args);
                }
                NodeTag::T_OpExpr | NodeTag::T_DistinctExpr | NodeTag::T_NullIfExpr => {
                    let o = e as *mut pg_sys::OpExpr;
                    s.hash = hash_combine(s.hash, (*o).opno.to_u32() as u64);
                    args!((*o).args);
                }
                NodeTag::T_ScalarArrayOpExpr => {
                    let o = e as *mut pg_sys::ScalarArrayOpExpr;
                    s.hash = hash_combine(s.hash, (*o).opno.to_u32() as u64);
                    args!((*o).args);
                }
                NodeTag::T_BoolExpr => args!((*(e as *mut pg_sys::BoolExpr)).args),
                NodeTag::T_CoalesceExpr => args!((*(e as *mut pg_sys::CoalesceExpr)).args),
                NodeTag::T_MinMaxExpr => args!((*(e as *mut pg_sys::MinMaxExpr)).args),
                NodeTag::T_RowExpr => args!((*(e as *mut pg_sys::RowExpr)).args),
                NodeTag::T_ArrayExpr => args!((*(e as *mut pg_sys::ArrayExpr)).elements),
                NodeTag::T_List => args!(e as *mut pg_sys::List),
                NodeTag::T_RelabelType => self.scan_expr((*(e as *mut pg_sys::RelabelType)).arg as _, plan, s, depth + 1),
                NodeTag::T_CoerceViaIO => {
                    s.hash = hash_combine(s.hash, (*(e as *mut pg_sys::CoerceViaIO)).resulttype.to_u32() as u64);
                    self.scan_expr((*(e as *mut pg_sys::CoerceViaIO)).arg as _, plan, s, depth + 1)
                }
                NodeTag::T_CollateExpr => self.scan_expr((*(e as *mut pg_sys::CollateExpr)).arg as _, plan, s, depth + 1),
                NodeTag::T_NullTest => self.scan_expr((*(e as *mut pg_sys::NullTest)).arg as _, plan, s, depth + 1),
                NodeTag::T_BooleanTest => self.scan_expr((*(e as *mut pg_sys::BooleanTest)).arg as _, plan, s, depth + 1),
                _ => s.computed = true,
            }
        }
    }

    /// Deparsed text of an expression (only when an entry is created).
    unsafe fn deparse(&self, e: *mut pg_sys::Node, plan: *mut pg_sys::Plan) -> Vec<u8> {
        unsafe {
            if e.is_null() {
                return Vec::new();
            }
            if self.deparse_cxt.get().is_null() {
                let n = list_len(self.rtable) as i32;
                let used = if n > 0 { pg_sys::bms_add_range(std::ptr::null_mut(), 1, n) } else { std::ptr::null_mut() };
                let names = pg_sys::select_rtable_names_for_explain(self.rtable, used);
                self.deparse_cxt.set(pg_sys::deparse_context_for_plan_tree(self.stmt, names));
            }
            let cxt = pg_sys::set_deparse_context_plan(self.deparse_cxt.get(), plan, std::ptr::null_mut());
            let s = pg_sys::deparse_expression(e, cxt, false, false);
            if s.is_null() {
                return Vec::new();
            }
            let bytes = std::ffi::CStr::from_ptr(s).to_bytes();
            crate::shmem::clip(bytes, EXPR_BYTES).to_vec()
        }
    }
}

#[derive(Default)]
struct ExprScan {
    rti: u32,
    atts: [i16; MAX_COLS],
    n: usize,
    multi_rel: bool,
    computed: bool,
    hash: u64,
}

unsafe fn outer_child(plan: *mut pg_sys::Plan) -> *mut pg_sys::Plan {
    unsafe {
        match tag(plan) {
            NodeTag::T_Append => {
                let l = (*(plan as *mut pg_sys::Append)).appendplans;
                if list_len(l) > 0 { nth(l, 0) } else { std::ptr::null_mut() }
            }
            NodeTag::T_MergeAppend => {
                let l = (*(plan as *mut pg_sys::MergeAppend)).mergeplans;
                if list_len(l) > 0 { nth(l, 0) } else { std::ptr::null_mut() }
            }
            _ => (*plan).lefttree,
        }
    }
}

unsafe fn index_tlist(plan: *mut pg_sys::Plan) -> *mut pg_sys::List {
    unsafe {
        match tag(plan) {
            NodeTag::T_IndexOnlyScan => (*(plan as *mut pg_sys::IndexOnlyScan)).indextlist,
            NodeTag::T_ForeignScan => (*(plan as *mut pg_sys::ForeignScan)).fdw_scan_tlist,
            NodeTag::T_CustomScan => (*(plan as *mut pg_sys::CustomScan)).custom_scan_tlist,
            _ => std::ptr::null_mut(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Recording

/// One executed node, as the quals of it see it.
struct Node {
    plan: *mut pg_sys::Plan,
    kind: NodeKind,
    obs: NodeObs,
    sig: u64,
    indexid: u32,
}

pub(super) unsafe fn record_tree(qd: *mut pg_sys::QueryDesc, userid: pg_sys::Oid, queryid: u64) {
    unsafe {
        let stmt = (*qd).plannedstmt;
        let mut w = Walk {
            stmt,
            rtable: (*stmt).rtable,
            params: (*qd).params,
            base: PredKey { userid: userid.to_u32(), dbid: pg_sys::MyDatabaseId.to_u32(), queryid, sig: 0 },
            now: crate::pg::statement_start(),
            capture: crate::gucs::raw::capture_constants(),
            nest: [(0, Origin { rti: 0, att: 0 }); 32],
            n_nest: 0,
            bitmap_or: Vec::new(),
            deparse_cxt: std::cell::Cell::new(std::ptr::null_mut()),
            or_counter: std::cell::Cell::new(0),
        };
        for_each_node((*qd).planstate, |ps, limit_above| w.node(ps, limit_above));
    }
}

impl Walk {
    unsafe fn node(&mut self, ps: *mut pg_sys::PlanState, limit_above: bool) {
        unsafe {
            let plan = (*ps).plan;
            if plan.is_null() {
                return;
            }
            let ptag = tag(plan);
            let kind = node_kind(ptag);
            if ptag == NodeTag::T_BitmapOr && tag(ps) == NodeTag::T_BitmapOrState {
                let bo = ps as *mut pg_sys::BitmapOrState;
                let group = (hash_combine(0x0b17_0a0d, (*plan).plan_node_id as u64) as u32).max(1);
                for i in 0..(*bo).nplans.max(0) as usize {
                    self.bitmap_or.push((*(*bo).bitmapplans.add(i) as usize, group));
                }
            }
            if kind == NodeKind::Other {
                return;
            }
            let obs = observe(ps);
            if kind == NodeKind::Sort || kind == NodeKind::IncrementalSort {
                self.sort_keys(ps, kind, limit_above);
                return;
            }
            if obs.counted && obs.loops == 0.0 {
                return; // never ran (pruned partition, branch a LIMIT never reached)
            }
            // The node's own entry: estimate vs actual.
            let mut d = PredDesc::new(Kind::Scan, kind);
            d.position = (*plan).plan_node_id.clamp(0, u16::MAX as i32) as u16;
            let mut indexid = 0u32;
            if !is_join(kind) {
                let rti = (*(plan as *mut pg_sys::Scan)).scanrelid;
                let rc = self.rel_cols(rti, &[0; MAX_COLS]);
                d.relid = rc.relid;
                d.root_relid = rc.root;
                if rc.partition {
                    d.flags |= F_PARTITION;
                }
                indexid = match ptag {
                    NodeTag::T_IndexScan => (*(plan as *mut pg_sys::IndexScan)).indexid.to_u32(),
                    NodeTag::T_IndexOnlyScan => (*(plan as *mut pg_sys::IndexOnlyScan)).indexid.to_u32(),
                    NodeTag::T_BitmapIndexScan => (*(plan as *mut pg_sys::BitmapIndexScan)).indexid.to_u32(),
                    _ => 0,
                };
                d.indexid = indexid;
            }
            let sig = d.signature();
            self.put(sig, &d, &obs, Vec::new, |_| {});
            let node = Node { plan, kind, obs, sig, indexid };
            let q = (*plan).qual;
            match ptag {
                NodeTag::T_SeqScan | NodeTag::T_SampleScan | NodeTag::T_BitmapHeapScan | NodeTag::T_CustomScan => {
                    self.quals(q, Place::Filter, &node)
                }
                NodeTag::T_IndexScan => {
                    self.quals((*(plan as *mut pg_sys::IndexScan)).indexqualorig, Place::IndexCond, &node);
                    self.quals(q, Place::Filter, &node);
                }
                NodeTag::T_IndexOnlyScan => {
                    self.quals((*(plan as *mut pg_sys::IndexOnlyScan)).indexqual, Place::IndexCond, &node);
                    self.quals(q, Place::Filter, &node);
                }
                NodeTag::T_BitmapIndexScan => {
                    let quals = (*(plan as *mut pg_sys::BitmapIndexScan)).indexqualorig;
                    match self.bitmap_or.iter().find(|(p, _)| *p == ps as usize) {
                        Some(&(_, group)) => {
                            for e in list_iter::<pg_sys::Node>(quals) {
                                self.qual(e, Place::IndexCond, &node, group, false, 0);
                            }
                        }
                        None => self.quals(quals, Place::IndexCond, &node),
                    }
                }
                NodeTag::T_TidScan => self.quals((*(plan as *mut pg_sys::TidScan)).tidquals, Place::TidCond, &node),
                NodeTag::T_TidRangeScan => {
                    self.quals((*(plan as *mut pg_sys::TidRangeScan)).tidrangequals, Place::TidCond, &node);
                    self.quals(q, Place::Filter, &node);
                }
                NodeTag::T_ForeignScan => {
                    self.quals(q, Place::Filter, &node);
                    self.quals((*(plan as *mut pg_sys::ForeignScan)).fdw_recheck_quals, Place::Remote, &node);
                }
                NodeTag::T_NestLoop => {
                    let nl = plan as *mut pg_sys::NestLoop;
                    // Map the parameters before the inner side is visited (it is below us).
                    for p in list_iter::<pg_sys::NestLoopParam>((*nl).nestParams) {
                        let v = (*p).paramval;
                        if v.is_null() || self.n_nest == self.nest.len() {
                            continue;
                        }
                        if let Some(o) = self.var_origin(plan, (*v).varno, (*v).varattno, 0) {
                            self.nest[self.n_nest] = ((*p).paramno, o);
                            self.n_nest += 1;
                        }
                    }
                    self.quals((*nl).join.joinqual, Place::JoinFilter, &node);
                    self.quals(q, Place::Filter, &node);
                }
                NodeTag::T_HashJoin => {
                    let hj = plan as *mut pg_sys::HashJoin;
                    self.quals((*hj).hashclauses, Place::HashCond, &node);
                    self.quals((*hj).join.joinqual, Place::JoinFilter, &node);
                    self.quals(q, Place::Filter, &node);
                }
                NodeTag::T_MergeJoin => {
                    let mj = plan as *mut pg_sys::MergeJoin;
                    self.quals((*mj).mergeclauses, Place::MergeCond, &node);
                    self.quals((*mj).join.joinqual, Place::JoinFilter, &node);
                    self.quals(q, Place::Filter, &node);
                }
                _ => {}
            }
        }
    }

    unsafe fn quals(&self, list: *mut pg_sys::List, place: Place, node: &Node) {
        unsafe {
            for e in list_iter::<pg_sys::Node>(list) {
                self.qual(e, place, node, 0, false, 0);
            }
        }
    }

    unsafe fn qual(&self, e: *mut pg_sys::Node, place: Place, node: &Node, or_group: u32, negated: bool, depth: u32) {
        unsafe {
            let e = strip(e);
            if e.is_null() || depth > 16 {
                return;
            }
            match tag(e) {
                NodeTag::T_BoolExpr => {
                    let b = e as *mut pg_sys::BoolExpr;
                    match (*b).boolop {
                        pg_sys::BoolExprType::AND_EXPR => {
                            for a in list_iter((*b).args) {
                                self.qual(a, place, node, or_group, negated, depth + 1);
                            }
                        }
                        pg_sys::BoolExprType::OR_EXPR => {
                            self.or_counter.set(self.or_counter.get() + 1);
                            let g = (hash_combine(node.sig, self.or_counter.get() as u64) as u32).max(1);
                            for a in list_iter((*b).args) {
                                self.qual(a, place, node, g, negated, depth + 1);
                            }
                        }
                        _ => {
                            if list_len((*b).args) == 1 {
                                self.qual(nth((*b).args, 0), place, node, or_group, !negated, depth + 1);
                            }
                        }
                    }
                }
                NodeTag::T_OpExpr if list_len((*(e as *mut pg_sys::OpExpr)).args) == 2 => {
                    let o = e as *mut pg_sys::OpExpr;
                    let q = Qual { opno: (*o).opno.to_u32(), coll: (*o).inputcollid.to_u32(), op_kind: OpKind::Op, place, or_group, negated };
                    self.binary(&q, nth((*o).args, 0), nth((*o).args, 1), node);
                }
                NodeTag::T_ScalarArrayOpExpr if list_len((*(e as *mut pg_sys::ScalarArrayOpExpr)).args) == 2 => {
                    let o = e as *mut pg_sys::ScalarArrayOpExpr;
                    let k = if (*o).useOr { OpKind::Any } else { OpKind::All };
                    let q = Qual { opno: (*o).opno.to_u32(), coll: (*o).inputcollid.to_u32(), op_kind: k, place, or_group, negated };
                    self.binary(&q, nth((*o).args, 0), nth((*o).args, 1), node);
                }
                NodeTag::T_NullTest => {
                    let t = e as *mut pg_sys::NullTest;
                    let k = if (*t).nulltesttype == pg_sys::NullTestType::IS_NULL { OpKind::IsNull } else { OpKind::IsNotNull };
                    let q = Qual { opno: 0, coll: 0, op_kind: k, place, or_group, negated };
                    self.unary(&q, (*t).arg as _, node);
                }
                NodeTag::T_BooleanTest => {
                    let t = e as *mut pg_sys::BooleanTest;
                    let k = match (*t).booltesttype {
                        pg_sys::BoolTestType::IS_TRUE => OpKind::IsTrue,
                        pg_sys::BoolTestType::IS_NOT_TRUE => OpKind::IsNotTrue,
                        pg_sys::BoolTestType::IS_FALSE => OpKind::IsFalse,
                        pg_sys::BoolTestType::IS_NOT_FALSE => OpKind::IsNotFalse,
                        pg_sys::BoolTestType::IS_UNKNOWN => OpKind::IsUnknown,
                        _ => OpKind::IsNotUnknown,
                    };
                    let q = Qual { opno: 0, coll: 0, op_kind: k, place, or_group, negated };
                    self.unary(&q, (*t).arg as _, node);
                }
                NodeTag::T_Var => {
                    let q = Qual { opno: 0, coll: 0, op_kind: OpKind::BoolColumn, place, or_group, negated };
                    self.unary(&q, e, node);
                }
                _ => {
                    let q = Qual { opno: 0, coll: 0, op_kind: OpKind::Other, place, or_group, negated };
                    self.unary(&q, e, node);
                }
            }
        }
    }

    /// A qual on one expression (IS NULL, a bare boolean column, a function call).
    unsafe fn unary(&self, q: &Qual, arg: *mut pg_sys::Node, node: &Node) {
        unsafe {
            let mut s = self.side(arg, node.plan);
            if let (Side::Computed, OpKind::Other) = (s, q.op_kind) {
                // A qual over several relations (or a sub-select): keep its columns when they all
                // belong to one relation, else it is not attributable.
                let mut scan = ExprScan::default();
                self.scan_expr(strip(arg), node.plan, &mut scan, 0);
                if scan.n == 0 || scan.multi_rel {
                    return;
                }
                s = Side::Cols { rti: scan.rti, atts: column_set(scan.atts[..scan.n].iter().copied()), expr: strip(arg), hash: scan.hash };
            }
            if let Side::Cols { .. } = s {
                self.emit_qual(q, &s, Rhs::None, None, node, false);
            }
        }
    }

    unsafe fn binary(&self, q: &Qual, l: *mut pg_sys::Node, r: *mut pg_sys::Node, node: &Node) {
        unsafe {
            let ls = self.side(l, node.plan);
            let rs = self.side(r, node.plan);
            match (ls, rs) {
                (Side::Cols { .. }, Side::Value(v)) => self.emit_qual(q, &ls, Rhs::Value, Some(v), node, false),
                (Side::Value(v), Side::Cols { .. }) => self.emit_qual(q, &rs, Rhs::Value, Some(v), node, true),
                (Side::Cols { rti: a, .. }, Side::Cols { rti: b, .. }) if a == b => {
                    self.emit_qual_cols(q, &ls, &rs, node)
                }
                (Side::Cols { .. }, Side::Cols { .. }) => self.emit_join(q, &ls, &rs, node, false),
                (Side::Cols { .. }, Side::Outer(o)) => self.emit_join(q, &ls, &outer_side(o), node, true),
                (Side::Outer(o), Side::Cols { .. }) => self.emit_join(q, &outer_side(o), &rs, node, true),
                (Side::Cols { .. }, Side::Computed) => self.emit_qual(q, &ls, Rhs::Computed, None, node, false),
                (Side::Computed, Side::Cols { .. }) => self.emit_qual(q, &rs, Rhs::Computed, None, node, true),
                _ => {}
            }
        }
    }

    /// Fill the column side of `d` (relation, partition root, columns, expression flag) from
    /// `side`; returns the expression to deparse if the entry is created (null for a column).
    unsafe fn set_column_side(&self, d: &mut PredDesc, side: &Side) -> *mut pg_sys::Node {
        unsafe {
            let Side::Cols { rti, atts, expr, hash } = *side else { return std::ptr::null_mut() };
            let rc = self.rel_cols(rti, &atts);
            d.relid = rc.relid;
            d.root_relid = rc.root;
            d.attnums = rc.attnums;
            if rc.partition {
                d.flags |= F_PARTITION;
            }
            if !expr.is_null() {
                d.flags |= F_EXPR;
                d.expr_hash = hash;
            }
            expr
        }
    }

    unsafe fn base_desc(&self, kind: Kind, q: &Qual, side: &Side, node: &Node) -> (PredDesc, *mut pg_sys::Node) {
        unsafe {
            let mut d = PredDesc::new(kind, node.kind);
            d.place = q.place as u8;
            d.op_kind = q.op_kind as u8;
            d.opno = q.opno;
            d.collation = q.coll;
            d.indexid = node.indexid;
            d.node_sig = node.sig;
            if q.negated {
                d.flags |= F_NEGATED;
            }
            if q.or_group != 0 {
                d.flags |= F_OR_MEMBER;
                d.or_group = q.or_group;
            }
            let expr = self.set_column_side(&mut d, side);
            (d, expr)
        }
    }

    unsafe fn emit_qual(&self, q: &Qual, col: &Side, rhs: Rhs, val: Option<Val>, node: &Node, commuted: bool) {
        unsafe {
            let (mut d, expr) = self.base_desc(Kind::Qual, q, col, node);
            d.rhs = rhs as u8;
            if commuted {
                d.flags |= F_COMMUTED;
            }
            let sig = d.signature();
            let plan = node.plan;
            let sample = val.and_then(|v| self.sample(v));
            let list_len = match val {
                Some(Val::Array(n)) => Some(n),
                Some(Val::Const(c)) if q.op_kind == OpKind::Any || q.op_kind == OpKind::All => const_array_len(c),
                _ => None,
            };
            let extern_param = matches!(val, Some(Val::Extern(_)));
            let is_const = matches!(val, Some(Val::Const(_)) | Some(Val::Array(_)));
            self.put(sig, &d, &node.obs, || self.deparse(expr, plan), |c| {
                if is_const {
                    c.n_const += 1;
                }
                if extern_param {
                    c.n_param += 1;
                }
                if let Some(n) = list_len {
                    c.list_len_sum += n as f64;
                    c.list_n += 1;
                }
                // (None when capture_constants is off)
                if let Some((s, r)) = &sample {
                    c.offer_sample(s, *r);
                }
            });
        }
    }

    unsafe fn emit_qual_cols(&self, q: &Qual, a: &Side, b: &Side, node: &Node) {
        unsafe {
            let (mut d, expr) = self.base_desc(Kind::Qual, q, a, node);
            d.rhs = Rhs::Column as u8;
            if let Side::Cols { rti, atts, .. } = *b {
                let rc = self.rel_cols(rti, &atts);
                d.rhs_relid = rc.root;
                d.rhs_attnums = rc.attnums;
            }
            let sig = d.signature();
            let plan = node.plan;
            let obs = node.obs;
            self.put(sig, &d, &obs, || self.deparse(expr, plan), |_| {});
        }
    }

    /// A join clause: both sides' columns, in a canonical order (so `a.x = b.y` and `b.y = a.x`
    /// are one entry). `via_param`: it ran inside a parameterised inner scan of a nested loop.
    unsafe fn emit_join(&self, q: &Qual, a: &Side, b: &Side, node: &Node, via_param: bool) {
        unsafe {
            let mut q = *q;
            if via_param {
                q.place = match q.place {
                    Place::IndexCond => Place::NestLoopIndexCond,
                    _ => Place::NestLoopFilter,
                };
            }
            let (Side::Cols { rti: ra, atts: aa, .. }, Side::Cols { rti: rb, atts: ab, .. }) = (*a, *b) else { return };
            let ca = self.rel_cols(ra, &aa);
            let cb = self.rel_cols(rb, &ab);
            let swap = (cb.root, cb.attnums) < (ca.root, ca.attnums);
            let (first, second) = if swap { (b, a) } else { (a, b) };
            let (fc, sc) = if swap { (cb, ca) } else { (ca, cb) };
            let _ = second;
            let (mut d, expr) = self.base_desc(Kind::Join, &q, first, node);
            d.relid = fc.relid;
            d.root_relid = fc.root;
            d.attnums = fc.attnums;
            d.rhs = Rhs::JoinColumn as u8;
            d.rhs_relid = sc.root;
            d.rhs_attnums = sc.attnums;
            if swap {
                d.flags |= F_COMMUTED;
            }
            let sig = d.signature();
            let plan = node.plan;
            let obs = node.obs;
            self.put(sig, &d, &obs, || self.deparse(expr, plan), |_| {});
        }
    }

    unsafe fn sort_keys(&self, ps: *mut pg_sys::PlanState, kind: NodeKind, limit_above: bool) {
        unsafe {
            let plan = (*ps).plan;
            let s = plan as *mut pg_sys::Sort;
            let n = (*s).numCols.max(0) as usize;
            let presorted = if kind == NodeKind::IncrementalSort { (*(plan as *mut pg_sys::IncrementalSort)).nPresortedCols.max(0) as usize } else { 0 };
            let bound = if kind == NodeKind::Sort {
                let st = ps as *mut pg_sys::SortState;
                (*st).bounded_Done.then_some((*st).bound_Done as f64)
            } else {
                None
            };
            // All keys of this sort share one group id.
            let mut group = 0u64;
            let mut descs: [PredDesc; 8] = [PredDesc::default(); 8];
            let mut exprs: [*mut pg_sys::Node; 8] = [std::ptr::null_mut(); 8];
            let n = n.min(descs.len());
            for i in 0..n {
                let resno = *(*s).sortColIdx.add(i);
                let tlist = (*plan).targetlist;
                let mut d = PredDesc::new(Kind::Sort, kind);
                d.position = (i + 1) as u16;
                d.opno = (*(*s).sortOperators.add(i)).to_u32();
                d.collation = (*(*s).collations.add(i)).to_u32();
                if *(*s).nullsFirst.add(i) {
                    d.flags |= F_NULLS_FIRST;
                }
                if limit_above {
                    d.flags |= F_UNDER_LIMIT;
                }
                if i < presorted {
                    d.flags |= F_PRESORTED;
                }
                if resno > 0 && (resno as usize) <= list_len(tlist) {
                    let tle: *mut pg_sys::TargetEntry = nth(tlist, resno as usize - 1);
                    let side = self.side((*tle).expr as *mut pg_sys::Node, plan);
                    if let Side::Cols { .. } = side {
                        exprs[i] = self.set_column_side(&mut d, &side);
                    } else {
                        d.rhs = Rhs::Computed as u8;
                        exprs[i] = (*tle).expr as *mut pg_sys::Node;
                    }
                }
                group = hash_combine(group, d.signature());
                descs[i] = d;
            }
            let obs = NodeObs { plan_rows: (*plan).plan_rows, ..Default::default() };
            for i in 0..n {
                let mut d = descs[i];
                d.node_sig = group;
                let sig = d.signature();
                let e = exprs[i];
                self.put(sig, &d, &obs, || self.deparse(e, plan), |c| {
                    if let Some(b) = bound {
                        c.limit_n += 1;
                        c.limit_sum += b;
                    }
                });
            }
        }
    }

    /// Record one observation of an entry: the node's counters, then `extra` (a few plain stores,
    /// under the entry's spinlock). `make_expr` runs only if the entry is new.
    unsafe fn put(
        &self,
        sig: u64,
        d: &PredDesc,
        obs: &NodeObs,
        make_expr: impl FnOnce() -> Vec<u8>,
        extra: impl FnOnce(&mut PredCounters),
    ) {
        let key = PredKey { sig, ..self.base };
        let now = self.now;
        let Some(h) = store::find_or_create(&key, || (*d, make_expr())) else { return };
        store::update(&key, h, |c| {
            c.record(obs, now);
            extra(c);
        });
    }

    /// A sample of a constant or bound parameter, and a random number for the reservoir.
    unsafe fn sample(&self, v: Val) -> Option<(ConstSample, u64)> {
        unsafe {
            if !self.capture {
                return None;
            }
            let s = match v {
                Val::Const(c) => datum_sample((*c).consttype.to_u32(), (*c).constlen, (*c).constbyval, (*c).constisnull, (*c).constvalue),
                Val::Extern(id) => {
                    let p = self.params;
                    if p.is_null() || (*p).paramFetch.is_some() || id < 1 || id > (*p).numParams {
                        return None;
                    }
                    let prm = &*(*p).params.as_ptr().add(id as usize - 1);
                    let (len, byval) = typlenbyval(prm.ptype);
                    datum_sample(prm.ptype.to_u32(), len as i32, byval, prm.isnull, prm.value)
                }
                _ => None,
            }?;
            Some((s, crate::pg::random_u64()))
        }
    }
}

fn outer_side(o: Origin) -> Side {
    Side::Cols { rti: o.rti, atts: column_set([o.att]), expr: std::ptr::null_mut(), hash: 0 }
}

#[derive(Clone, Copy)]
struct Qual {
    opno: u32,
    coll: u32,
    op_kind: OpKind,
    place: Place,
    or_group: u32,
    negated: bool,
}

/// Element count of a one-dimensional array constant with a plain 4-byte header.
unsafe fn const_array_len(c: *mut pg_sys::Const) -> Option<usize> {
    unsafe {
        if (*c).constisnull || (*c).constlen != -1 {
            return None;
        }
        let p = (*c).constvalue.cast_mut_ptr::<u8>();
        if p.is_null() || (*p & 0x03) != 0 {
            return None; // short, compressed or external header
        }
        let ndim = std::ptr::read_unaligned(p.add(4) as *const i32);
        if ndim == 0 {
            return Some(0);
        }
        if ndim != 1 {
            return None;
        }
        Some(std::ptr::read_unaligned(p.add(16) as *const i32).max(0) as usize)
    }
}

/// The bytes of a datum, if they fit a sample and are self-contained.
unsafe fn datum_sample(typid: u32, typlen: i32, byval: bool, isnull: bool, value: pg_sys::Datum) -> Option<ConstSample> {
    unsafe {
        let mut s = ConstSample { typid, len: 0, byval: byval as u8, isnull: isnull as u8, data: [0; SAMPLE_BYTES] };
        if isnull {
            return Some(s);
        }
        if byval {
            s.data[..8].copy_from_slice(&(value.value() as u64).to_ne_bytes());
            s.len = 8;
            return Some(s);
        }
        let p = value.cast_mut_ptr::<u8>() as *const u8;
        if p.is_null() {
            return None;
        }
        let len = match typlen {
            n if n > 0 => n as usize,
            -1 if cfg!(target_endian = "little") => {
                let b0 = *p;
                if b0 == 0x01 {
                    return None; // a TOAST pointer: not self-contained
                }
                if b0 & 0x01 == 0x01 {
                    (b0 >> 1) as usize
                } else {
                    (std::ptr::read_unaligned(p as *const u32) >> 2) as usize
                }
            }
            -2 => std::ffi::CStr::from_ptr(p as *const std::ffi::c_char).to_bytes().len() + 1,
            _ => return None,
        };
        if len == 0 || len > SAMPLE_BYTES {
            return None;
        }
        std::ptr::copy_nonoverlapping(p, s.data.as_mut_ptr(), len);
        s.len = len as u16;
        Some(s)
    }
}

/// `get_typlenbyval` through a tiny backend-local cache (bind parameters, per execution).
unsafe fn typlenbyval(typid: pg_sys::Oid) -> (i16, bool) {
    static mut CACHE: [(u32, i16, bool); 8] = [(0, 0, false); 8];
    unsafe {
        let cache = &mut *(&raw mut CACHE);
        let slot = (typid.to_u32() as usize) & 7;
        if cache[slot].0 == typid.to_u32() && typid != pg_sys::InvalidOid {
            return (cache[slot].1, cache[slot].2);
        }
        let mut len = 0i16;
        let mut byval = false;
        pg_sys::get_typlenbyval(typid, &mut len, &mut byval);
        cache[slot] = (typid.to_u32(), len, byval);
        (len, byval)
    }
}
