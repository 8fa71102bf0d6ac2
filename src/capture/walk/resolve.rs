//! Vars resolved to base-table columns, the way EXPLAIN's ruleutils does.

use super::*;

// ---------------------------------------------------------------------------------------------
// Resolution

/// A base-table column: range-table index and column number.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Origin {
    pub(super) rti: u32,
    pub(super) att: i16,
}

/// A relation as stored: scanned relid, partition root and the column numbers in the root.
#[derive(Clone, Copy, Default)]
pub(super) struct RelCols {
    pub(super) relid: u32,
    pub(super) root: u32,
    pub(super) attnums: [i16; MAX_COLS],
    pub(super) partition: bool,
}

/// What one side of an operator is.
#[derive(Clone, Copy)]
pub(super) enum Side {
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
pub(super) enum Val {
    Const(*mut pg_sys::Const),
    Extern(i32),
    Array(usize),
    Other,
}

pub(super) struct Walk {
    pub(super) stmt: *mut pg_sys::PlannedStmt,
    pub(super) rtable: *mut pg_sys::List,
    pub(super) params: pg_sys::ParamListInfo,
    pub(super) base: PredKey,
    pub(super) now: i64,
    pub(super) capture: bool,
    pub(super) nest: [(i32, Origin); 32],
    pub(super) n_nest: usize,
    /// Children of a BitmapOr met so far (PlanState address, OR group): their index conditions
    /// are members of that OR.
    pub(super) bitmap_or: Vec<(usize, u32)>,
    pub(super) deparse_cxt: std::cell::Cell<*mut pg_sys::List>,
    pub(super) or_counter: std::cell::Cell<u32>,
}

impl Walk {
    pub(super) unsafe fn rte(&self, rti: u32) -> *mut pg_sys::RangeTblEntry {
        unsafe {
            if rti == 0 || rti as usize > list_len(self.rtable) {
                std::ptr::null_mut()
            } else {
                nth(self.rtable, rti as usize - 1)
            }
        }
    }

    pub(super) unsafe fn var_origin(&self, plan: *mut pg_sys::Plan, varno: i32, att: i16, depth: u32) -> Option<Origin> {
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

    pub(super) unsafe fn tle_origin(&self, tlist: *mut pg_sys::List, att: i16, plan: *mut pg_sys::Plan, depth: u32) -> Option<Origin> {
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
    pub(super) unsafe fn rel_cols(&self, rti: u32, atts: &[i16; MAX_COLS]) -> RelCols {
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
    pub(super) unsafe fn side(&self, e: *mut pg_sys::Node, plan: *mut pg_sys::Plan) -> Side {
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
    pub(super) unsafe fn scan_expr(&self, e: *mut pg_sys::Node, plan: *mut pg_sys::Plan, s: &mut ExprScan, depth: u32) {
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
    pub(super) unsafe fn deparse(&self, e: *mut pg_sys::Node, plan: *mut pg_sys::Plan) -> Vec<u8> {
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
pub(super) struct ExprScan {
    pub(super) rti: u32,
    pub(super) atts: [i16; MAX_COLS],
    pub(super) n: usize,
    pub(super) multi_rel: bool,
    pub(super) computed: bool,
    pub(super) hash: u64,
}

pub(super) unsafe fn outer_child(plan: *mut pg_sys::Plan) -> *mut pg_sys::Plan {
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

pub(super) unsafe fn index_tlist(plan: *mut pg_sys::Plan) -> *mut pg_sys::List {
    unsafe {
        match tag(plan) {
            NodeTag::T_IndexOnlyScan => (*(plan as *mut pg_sys::IndexOnlyScan)).indextlist,
            NodeTag::T_ForeignScan => (*(plan as *mut pg_sys::ForeignScan)).fdw_scan_tlist,
            NodeTag::T_CustomScan => (*(plan as *mut pg_sys::CustomScan)).custom_scan_tlist,
            _ => std::ptr::null_mut(),
        }
    }
}
