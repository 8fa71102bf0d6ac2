//! Hypothetical indexes: our own what-if engine (no HypoPG).
//!
//! An index defined by `CREATE INDEX` text is kept as Rust data ([`define::Spec`]) with a fake OID
//! below `FirstNormalObjectId` that no `pg_class` row uses. `get_relation_info_hook` adds an
//! `IndexOptInfo` for it to the relation the planner is looking at, filled exactly like
//! `get_relation_info` fills a real one, with a size estimated from table statistics
//! ([`size`]). The planner then costs it like any index.
//!
//! **Scope.** Injection happens only inside a scope we open ourselves, and only at the planner
//! depth that scope names, so planning nested in functions never sees hypothetical indexes:
//! - a costing call ([`plan::cost`], used by `explain_with` and the advisor), whose plans are read
//!   and thrown away, never executed;
//! - a plain `EXPLAIN` (not ANALYZE, not EXPLAIN EXECUTE) in a session that created hypothetical
//!   indexes, when `pg_optimizer.hypothetical_explain` is on. EXPLAIN without ANALYZE starts the
//!   executor in EXPLAIN_ONLY mode, which never opens an index.
//!
//! The scope is closed on every exit, and by a transaction-abort callback as a second net.
//! Partitioned tables: the index is defined once on the parent; each leaf that reaches the hook
//! gets its own spec built from the same text against the leaf (columns by name, as
//! `DefineIndex` does for partitions), memoised per leaf.

pub mod define;
pub mod plan;
pub use pg_optimizer_core::size;

use define::{Am, Spec};
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::collections::HashMap;
use std::ffi::{CStr, CString};

unsafe extern "C-unwind" {
    // Not in pgrx 0.18's bindings (rewrite/rewriteManip.h, catalog/partition.h).
    fn ChangeVarNodes(node: *mut pg_sys::Node, old_varno: i32, new_varno: i32, sublevels_up: i32);
    fn get_partition_ancestors(relid: pg_sys::Oid) -> *mut pg_sys::List;
}

/// A hypothetical index.
pub struct Hypo {
    pub oid: pg_sys::Oid,
    pub name: String,
    pub relid: pg_sys::Oid,
    pub ddl: CString,
    pub spec: Spec,
    /// Leaf partition -> its spec (None: the leaf cannot carry it, e.g. a foreign table).
    children: HashMap<pg_sys::Oid, Option<Spec>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scope {
    Off,
    /// Every registered index, at this planner depth (EXPLAIN).
    Explain(i32),
    /// The ephemeral set, at this planner depth (costing calls).
    Costing(i32),
}

static mut REGISTRY: Vec<Hypo> = Vec::new();
static mut EPHEMERAL: Vec<Hypo> = Vec::new();
static mut SCOPE: Scope = Scope::Off;
/// The subtransaction the open scope belongs to: its abort (or an outer one's) closes the scope.
static mut SCOPE_SUBXACT: pg_sys::SubTransactionId = 0;
static mut COSTING_SET: Vec<pg_sys::Oid> = Vec::new();
/// Names of fake OIDs, kept after the index is dropped so a plan printed later still reads well.
static mut NAMES: Option<HashMap<u32, CString>> = None;
static mut NEXT_OID: u32 = pg_sys::FirstNormalObjectId - 1;
static mut EVER_DEFINED: bool = false;
static mut PREV_RELINFO: pg_sys::get_relation_info_hook_type = None;
static mut PREV_INDEX_NAME: pg_sys::explain_get_index_name_hook_type = None;

#[allow(static_mut_refs)]
fn registry() -> &'static mut Vec<Hypo> {
    unsafe { &mut REGISTRY }
}
#[allow(static_mut_refs)]
fn ephemeral() -> &'static mut Vec<Hypo> {
    unsafe { &mut EPHEMERAL }
}
#[allow(static_mut_refs)]
fn names() -> &'static mut HashMap<u32, CString> {
    unsafe { NAMES.get_or_insert_with(HashMap::new) }
}

pub fn init() {
    unsafe {
        PREV_RELINFO = pg_sys::get_relation_info_hook;
        pg_sys::get_relation_info_hook = Some(relation_info);
        PREV_INDEX_NAME = pg_sys::explain_get_index_name_hook;
        pg_sys::explain_get_index_name_hook = Some(index_name);
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

/// A fake OID: counts down from `FirstNormalObjectId - 1`, skipping any OID a relation uses.
fn next_oid() -> pg_sys::Oid {
    unsafe {
        loop {
            let candidate = NEXT_OID;
            NEXT_OID = if NEXT_OID <= pg_sys::FirstGenbkiObjectId { pg_sys::FirstNormalObjectId - 1 } else { NEXT_OID - 1 };
            let oid = pg_sys::Oid::from(candidate);
            let taken = registry().iter().chain(ephemeral().iter()).any(|h| h.oid == oid);
            if !taken && pg_sys::get_rel_name(oid).is_null() {
                return oid;
            }
        }
    }
}

/// Whether `oid` is one of our fake index OIDs (live or dropped in this session).
pub fn is_hypothetical(oid: pg_sys::Oid) -> bool {
    names().contains_key(&u32::from(oid))
}

/// Define a hypothetical index from `CREATE INDEX` text. `keep`: add it to the session registry
/// (else to the ephemeral set of the current costing call).
pub fn create(ddl: &str, keep: bool) -> &'static Hypo {
    unsafe {
        let (stmt, relid) = define::parse(ddl);
        let given = if (*stmt).idxname.is_null() { None } else { Some(CStr::from_ptr((*stmt).idxname).to_string_lossy().into_owned()) };
        let cddl = CString::new(ddl).unwrap();
        let spec = define::build(stmt, relid, &cddl);
        let oid = next_oid();
        EVER_DEFINED = true;
        let table = CStr::from_ptr(pg_sys::get_rel_name(relid)).to_string_lossy().into_owned();
        let name = format!("<{}>{}", u32::from(oid), given.unwrap_or_else(|| default_name(&table, &spec)));
        names().insert(u32::from(oid), CString::new(name.clone()).unwrap());
        let h = Hypo { oid, name, relid, ddl: cddl, spec, children: HashMap::new() };
        let list = if keep { registry() } else { ephemeral() };
        list.push(h);
        list.last().unwrap()
    }
}

/// The name `CREATE INDEX` would choose for an unnamed index: the advisor's one builder (cut to
/// 63 bytes with a hash, like the final names it proposes).
fn default_name(table: &str, spec: &Spec) -> String {
    let keys: Vec<String> = spec
        .keys
        .iter()
        .take(spec.nkey)
        .map(|&k| {
            if k == 0 {
                "expr".into()
            } else {
                unsafe { CStr::from_ptr(pg_sys::get_attname(spec.relid, k, false)).to_string_lossy().into_owned() }
            }
        })
        .collect();
    pg_optimizer_core::advisor::text::index_name(table, &keys, "idx")
}

/// The spec of an index defined on a partitioned table, rebuilt from its text against one leaf
/// (columns by name, as `DefineIndex` does for partitions).
pub fn leaf_spec(ddl: &CStr, leaf: pg_sys::Oid) -> Spec {
    unsafe {
        let (stmt, _) = define::parse(&ddl.to_string_lossy());
        define::build(stmt, leaf, ddl)
    }
}

/// A registered or ephemeral hypothetical index by OID.
pub fn find(oid: pg_sys::Oid) -> Option<&'static Hypo> {
    registry().iter().chain(ephemeral().iter()).find(|h| h.oid == oid)
}

pub fn list() -> &'static [Hypo] {
    registry()
}

/// Drop one registered index (true if it existed), or all of them (`None`; returns how many).
pub fn drop(oid: Option<pg_sys::Oid>) -> usize {
    let r = registry();
    let before = r.len();
    match oid {
        Some(o) => r.retain(|h| h.oid != o),
        None => r.clear(),
    }
    before - r.len()
}

pub fn clear_ephemeral() {
    ephemeral().clear();
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

/// The display name of a hypothetical index (`<oid>name`).
pub fn name_of(oid: pg_sys::Oid) -> Option<String> {
    names().get(&u32::from(oid)).map(|c| c.to_string_lossy().into_owned())
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

/// Whether this session has ever defined a hypothetical index (one load: the executor's safety
/// net costs nothing in sessions that never did).
#[inline]
pub fn any_defined() -> bool {
    unsafe { EVER_DEFINED }
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
                    let l = get_partition_ancestors(relid);
                    (0..if l.is_null() { 0 } else { (*l).length as usize }).map(|i| (*(*l).elements.add(i)).oid_value).collect()
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

/// Per-column statistics for size estimates: (width, null fraction, distinct values).
unsafe fn column_stats(relid: pg_sys::Oid, attnum: i16, typ: pg_sys::Oid, typmod: i32, rows: f64) -> size::Col {
    unsafe {
        let fallback = pg_sys::get_typavgwidth(typ, typmod) as f64;
        let mut col = size::Col { width: fallback, null_frac: 0.0, n_distinct: 0.0, key: true };
        if attnum <= 0 {
            return col;
        }
        for inh in [false, true] {
            let tup = pg_sys::SearchSysCache3(
                pg_sys::SysCacheIdentifier::STATRELATTINH as i32,
                pg_sys::Datum::from(relid),
                pg_sys::Datum::from(attnum),
                pg_sys::Datum::from(inh),
            );
            if tup.is_null() {
                continue;
            }
            let data = (*tup).t_data;
            let st = (data as *mut u8).add((*data).t_hoff as usize) as *const pg_sys::FormData_pg_statistic;
            col.null_frac = (*st).stanullfrac as f64;
            if (*st).stawidth > 0 {
                col.width = (*st).stawidth as f64;
            }
            let d = (*st).stadistinct as f64;
            col.n_distinct = if d < 0.0 { -d * rows * (1.0 - col.null_frac) } else { d };
            pg_sys::ReleaseSysCache(tup);
            break;
        }
        col
    }
}

/// Elements per row and distinct elements (0 = unknown) for a GIN column: from array element
/// statistics when there are some, else a guess from the average width (jsonb: one key or value
/// per 8 bytes; text: one trigram per byte).
unsafe fn gin_entries(relid: pg_sys::Oid, attnum: i16, typ: pg_sys::Oid, width: f64) -> (f64, f64) {
    unsafe {
        if attnum > 0 && pg_sys::get_element_type(typ) != pg_sys::InvalidOid {
            let tup = pg_sys::SearchSysCache3(
                pg_sys::SysCacheIdentifier::STATRELATTINH as i32,
                pg_sys::Datum::from(relid),
                pg_sys::Datum::from(attnum),
                pg_sys::Datum::from(false),
            );
            if !tup.is_null() {
                let mut slot: pg_sys::AttStatsSlot = std::mem::zeroed();
                let (mut avg, mut distinct) = (None, 0.0);
                if pg_sys::get_attstatsslot(&mut slot, tup, pg_sys::STATISTIC_KIND_DECHIST as i32, pg_sys::InvalidOid, pg_sys::ATTSTATSSLOT_NUMBERS as i32) {
                    if slot.nnumbers > 0 {
                        avg = Some(*slot.numbers.add(slot.nnumbers as usize - 1) as f64);
                    }
                    pg_sys::free_attstatsslot(&mut slot);
                }
                let mut slot: pg_sys::AttStatsSlot = std::mem::zeroed();
                if pg_sys::get_attstatsslot(&mut slot, tup, pg_sys::STATISTIC_KIND_MCELEM as i32, pg_sys::InvalidOid, pg_sys::ATTSTATSSLOT_VALUES as i32) {
                    // Fewer common elements than the statistics target kept: they are all of them.
                    distinct = slot.nvalues as f64;
                    pg_sys::free_attstatsslot(&mut slot);
                }
                pg_sys::ReleaseSysCache(tup);
                if let Some(a) = avg {
                    return (a.max(1.0), distinct);
                }
            }
            return ((width / 8.0).max(1.0), 0.0);
        }
        if typ == pg_sys::JSONBOID {
            ((width / 8.0).max(1.0), 0.0)
        } else {
            ((width + 2.0).max(1.0), 0.0)
        }
    }
}

/// Whether a btree on `spec` deduplicates: every key's operator class has an `equalimage`
/// support function (proc 4) that returns true for its type and collation, as `_bt_allequalimage`
/// decides at build time.
unsafe fn dedup_allowed(spec: &Spec) -> bool {
    unsafe {
        (0..spec.nkey).all(|i| {
            let proc = pg_sys::get_opfamily_proc(spec.opfamily[i], spec.opcintype[i], spec.opcintype[i], 4);
            proc != pg_sys::InvalidOid
                && pg_sys::OidFunctionCall1Coll(proc, spec.collation[i], pg_sys::Datum::from(spec.opcintype[i])).value() != 0
        })
    }
}

/// Size of `spec` on a relation of `rows` tuples and `heap_pages` pages.
pub unsafe fn estimate(spec: &Spec, rows: f64, heap_pages: f64) -> size::Estimate {
    unsafe {
        let mut cols: Vec<size::Col> = spec
            .keys
            .iter()
            .zip(spec.types.iter())
            .enumerate()
            .map(|(i, (&k, &(t, tm, _)))| size::Col { key: i < spec.nkey, ..column_stats(spec.relid, k, t, tm, rows) })
            .collect();
        let rows_indexed = rows * if spec.pred.is_some() { partial_fraction(spec) } else { 1.0 };
        match spec.am {
            Am::Btree => size::btree(&cols, rows_indexed, spec.unique, spec.fillfactor.unwrap_or(90.0), dedup_allowed(spec)),
            Am::Hash => size::hash(&cols[0], rows_indexed, spec.fillfactor.unwrap_or(75.0)),
            Am::Brin => size::brin(&cols, heap_pages, spec.pages_per_range.unwrap_or(128.0), rows),
            Am::Gin => {
                let c = cols.remove(0);
                let (e, distinct) = gin_entries(spec.relid, spec.keys[0], spec.types[0].0, c.width);
                let entry_width = if spec.types[0].0 == pg_sys::TEXTOID { 4.0 } else { 8.0 };
                size::gin(&c, rows_indexed, e, distinct, entry_width)
            }
        }
    }
}

unsafe extern "C-unwind" {
    fn find_all_inheritors(parent: pg_sys::Oid, lockmode: pg_sys::LOCKMODE, numparents: *mut *mut pg_sys::List) -> *mut pg_sys::List;
}

/// Size estimate of one hypothetical index on table `relid` (summed over the leaves of a
/// partitioned table): (bytes, tuples, tree height, leaves).
pub fn estimate_on(h: &Hypo) -> (i64, f64, i32, i32) {
    unsafe {
        let leaves: Vec<pg_sys::Oid> = if pg_sys::get_rel_relkind(h.relid) as u8 == b'p' {
            let l = find_all_inheritors(h.relid, pg_sys::AccessShareLock as _, std::ptr::null_mut());
            (0..(*l).length as usize)
                .map(|i| (*(*l).elements.add(i)).oid_value)
                .filter(|&o| pg_sys::get_rel_relkind(o) as u8 == b'r')
                .collect()
        } else {
            vec![h.relid]
        };
        let (mut bytes, mut tuples, mut height) = (0.0, 0.0, -1);
        for &leaf in &leaves {
            let spec = if leaf == h.relid { h.spec.clone() } else { leaf_spec(&h.ddl, leaf) };
            let rel = pg_sys::table_open(leaf, pg_sys::AccessShareLock as _);
            let (mut pages, mut reltuples, mut allvis) = (0u32, 0.0f64, 0.0f64);
            pg_sys::estimate_rel_size(rel, std::ptr::null_mut(), &mut pages, &mut reltuples, &mut allvis);
            pg_sys::table_close(rel, pg_sys::AccessShareLock as _);
            let e = estimate(&spec, reltuples, pages as f64);
            bytes += e.bytes();
            tuples += e.tuples;
            height = height.max(e.tree_height);
        }
        (bytes as i64, tuples, height, if pg_sys::get_rel_relkind(h.relid) as u8 == b'p' { leaves.len() as i32 } else { 0 })
    }
}

/// Fraction of rows a partial index keeps: the clauses' selectivity from the column
/// statistics, through a minimal planner set up for this one table.
unsafe fn partial_fraction(spec: &Spec) -> f64 {
    unsafe {
        let Some(pred) = &spec.pred else { return 1.0 };
        plan::selectivity(spec.relid, pred).clamp(0.0, 1.0)
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
