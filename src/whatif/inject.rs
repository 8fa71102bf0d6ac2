//! Injection: `get_relation_info_hook` adds an `IndexOptInfo` for every hypothetical index in
//! scope to the relation the planner looks at (partition leaves get the parent's definition rebuilt
//! by column name), and `explain_get_index_name_hook` names the fake OIDs.

use super::define::{self, Am, Spec};
use super::estimate::estimate;
use super::registry::{ephemeral, leaf_spec, names, registry};
use super::scope::{Scope, COSTING_SET, SCOPE};
use pgrx::pg_sys;
use pgrx::prelude::*;

unsafe extern "C-unwind" {
    // Not in pgrx 0.18's bindings (rewrite/rewriteManip.h, catalog/partition.h).
    fn ChangeVarNodes(node: *mut pg_sys::Node, old_varno: i32, new_varno: i32, sublevels_up: i32);
    fn get_partition_ancestors(relid: pg_sys::Oid) -> *mut pg_sys::List;
}

static mut PREV_RELINFO: pg_sys::get_relation_info_hook_type = None;
static mut PREV_INDEX_NAME: pg_sys::explain_get_index_name_hook_type = None;

/// Install both hooks, chaining the previous ones.
pub(super) fn init() {
    unsafe {
        PREV_RELINFO = pg_sys::get_relation_info_hook;
        pg_sys::get_relation_info_hook = Some(relation_info);
        PREV_INDEX_NAME = pg_sys::explain_get_index_name_hook;
        pg_sys::explain_get_index_name_hook = Some(index_name);
    }
}

/// The hook itself: called for every relation of every plan, so the common case (no scope open)
/// is a load and a branch, without an error boundary. Like the query hooks (decisions §1), this
/// frame holds nothing with a destructor, so an error in the chained hook may longjmp over it.
unsafe extern "C-unwind" fn relation_info(root: *mut pg_sys::PlannerInfo, relid: pg_sys::Oid, inhparent: bool, rel: *mut pg_sys::RelOptInfo) {
    unsafe {
        if let Some(prev) = PREV_RELINFO {
            prev(root, relid, inhparent, rel);
        }
        if SCOPE != Scope::Off && !inhparent {
            relation_info_scoped(relid, rel);
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn relation_info_scoped(relid: pg_sys::Oid, rel: *mut pg_sys::RelOptInfo) {
    unsafe {
        let depth = match SCOPE {
            Scope::Off => return,
            Scope::Explain(d) | Scope::Costing(d) => d,
        };
        if crate::pg::nesting::nesting() != depth {
            return;
        }
        let explain = matches!(SCOPE, Scope::Explain(_));
        #[allow(static_mut_refs)]
        let set = &COSTING_SET;
        let mut ancestors: Option<Vec<pg_sys::Oid>> = None;
        for h in registry().iter_mut().chain(ephemeral().iter_mut()) {
            if !explain && !set.contains(&h.oid) {
                continue;
            }
            if h.relid == relid {
                inject(rel, h.oid, &h.spec);
                continue;
            }
            if pg_sys::get_rel_relkind(h.relid) as u8 != b'p' {
                continue;
            }
            let anc = ancestors.get_or_insert_with(|| {
                if pg_sys::get_rel_relispartition(relid) {
                    crate::pg::list::oids(get_partition_ancestors(relid))
                } else {
                    vec![]
                }
            });
            if !anc.contains(&h.relid) {
                continue;
            }
            let ddl = h.ddl.clone();
            let child = h.children.entry(relid).or_insert_with(|| {
                if pg_sys::get_rel_relkind(relid) as u8 != b'r' {
                    return None;
                }
                Some(leaf_spec(&ddl, relid))
            });
            if let Some(spec) = child {
                inject(rel, h.oid, spec);
            }
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn index_name(oid: pg_sys::Oid) -> *const std::ffi::c_char {
    unsafe {
        if let Some(n) = names().get(&u32::from(oid)) {
            return pg_sys::pstrdup(n.as_ptr());
        }
        match PREV_INDEX_NAME {
            Some(prev) => prev(oid),
            None => std::ptr::null(),
        }
    }
}

/// Build the `IndexOptInfo` for `spec` on `rel` (in the planner's memory context) and add it.
unsafe fn inject(rel: *mut pg_sys::RelOptInfo, oid: pg_sys::Oid, spec: &Spec) {
    unsafe {
        let ncol = spec.keys.len();
        let nkey = spec.nkey;
        let info = pg_sys::palloc0(std::mem::size_of::<pg_sys::IndexOptInfo>()) as *mut pg_sys::IndexOptInfo;
        (*info).type_ = pg_sys::NodeTag::T_IndexOptInfo;
        (*info).indexoid = oid;
        (*info).reltablespace = (*rel).reltablespace;
        (*info).rel = rel;
        (*info).ncolumns = ncol as i32;
        (*info).nkeycolumns = nkey as i32;
        (*info).relam = spec.amoid;

        let arr = |n: usize, sz: usize| pg_sys::palloc0(n.max(1) * sz);
        let indexkeys = arr(ncol, 4) as *mut i32;
        let canreturn = arr(ncol, 1) as *mut bool;
        let opfamily = arr(nkey, 4) as *mut pg_sys::Oid;
        let opcintype = arr(nkey, 4) as *mut pg_sys::Oid;
        let collations = arr(nkey, 4) as *mut pg_sys::Oid;
        for i in 0..ncol {
            *indexkeys.add(i) = spec.keys[i] as i32;
            // btree can return every column; hash, BRIN and GIN none.
            *canreturn.add(i) = spec.am == Am::Btree;
        }
        for i in 0..nkey {
            *opfamily.add(i) = spec.opfamily[i];
            *opcintype.add(i) = spec.opcintype[i];
            *collations.add(i) = spec.collation[i];
        }
        (*info).indexkeys = indexkeys;
        (*info).canreturn = canreturn;
        (*info).opfamily = opfamily;
        (*info).opcintype = opcintype;
        (*info).indexcollations = collations;
        // Never NULL: gincostestimate reads it.
        (*info).opclassoptions = arr(ncol, 8) as *mut *mut pg_sys::bytea;
        if spec.am == Am::Btree {
            let reverse = arr(nkey, 1) as *mut bool;
            let nulls = arr(nkey, 1) as *mut bool;
            for i in 0..nkey {
                *reverse.add(i) = spec.reverse[i];
                *nulls.add(i) = spec.nulls_first[i];
            }
            (*info).sortopfamily = opfamily;
            (*info).reverse_sort = reverse;
            (*info).nulls_first = nulls;
        }

        let routine = pg_sys::GetIndexAmRoutineByAmId(spec.amoid, false);
        (*info).amcanorderbyop = (*routine).amcanorderbyop;
        (*info).amoptionalkey = (*routine).amoptionalkey;
        (*info).amsearcharray = (*routine).amsearcharray;
        (*info).amsearchnulls = (*routine).amsearchnulls;
        (*info).amcanparallel = (*routine).amcanparallel;
        (*info).amhasgettuple = (*routine).amgettuple.is_some();
        (*info).amhasgetbitmap = (*routine).amgetbitmap.is_some();
        (*info).amcanmarkpos = (*routine).ammarkpos.is_some() && (*routine).amrestrpos.is_some();
        #[cfg(any(feature = "pg13", feature = "pg14", feature = "pg15"))]
        {
            (*info).amcostestimate = std::mem::transmute::<pg_sys::amcostestimate_function, Option<unsafe extern "C-unwind" fn()>>((*routine).amcostestimate);
        }
        #[cfg(not(any(feature = "pg13", feature = "pg14", feature = "pg15")))]
        {
            (*info).amcostestimate = (*routine).amcostestimate;
        }

        let varno = (*rel).relid as i32;
        if let Some(e) = &spec.exprs {
            let node = pg_sys::stringToNode(e.as_ptr()) as *mut pg_sys::Node;
            if varno != 1 {
                ChangeVarNodes(node, 1, varno, 0);
            }
            (*info).indexprs = node as *mut pg_sys::List;
        }
        if let Some(p) = &spec.pred {
            let node = pg_sys::stringToNode(p.as_ptr()) as *mut pg_sys::Node;
            if varno != 1 {
                ChangeVarNodes(node, 1, varno, 0);
            }
            (*info).indpred = node as *mut pg_sys::List;
        }
        // The index's target list (index-only scans read it), as build_index_tlist makes it.
        let mut tlist: *mut pg_sys::List = std::ptr::null_mut();
        let exprs = define::list_nodes::<pg_sys::Node>((*info).indexprs);
        let mut next_expr = exprs.into_iter();
        for i in 0..ncol {
            let (typ, typmod, coll) = spec.types[i];
            let expr = if spec.keys[i] != 0 {
                pg_sys::makeVar(varno as _, spec.keys[i], typ, typmod, coll, 0) as *mut pg_sys::Expr
            } else {
                next_expr.next().unwrap_or(std::ptr::null_mut()) as *mut pg_sys::Expr
            };
            let tle = pg_sys::makeTargetEntry(expr, (i + 1) as i16, std::ptr::null_mut(), false);
            tlist = pg_sys::lappend(tlist, tle as *mut std::ffi::c_void);
        }
        (*info).indextlist = tlist;

        let est = estimate(spec, (*rel).tuples, (*rel).pages as f64);
        (*info).pages = est.pages.min(u32::MAX as f64) as pg_sys::BlockNumber;
        (*info).tuples = if spec.pred.is_some() { est.tuples.max(1.0) } else { (*rel).tuples };
        (*info).tree_height = est.tree_height;
        (*info).unique = spec.unique;
        (*info).immediate = true;
        (*info).hypothetical = true;
        (*rel).indexlist = pg_sys::lcons(info as *mut std::ffi::c_void, (*rel).indexlist);
    }
}
