//! Planning a statement with and without hypothetical indexes.
//!
//! A [`Prepared`] statement is parsed, analysed and rewritten once (inside a subtransaction, so a statement
//! that no longer parses is reported, not fatal) into a memory context of its own. Each costing
//! plans a `copyObject` of it (the planner scribbles on its input) in a scratch context that is
//! reset afterwards; only numbers and OIDs leave. Plans are never executed.
//!
//! Parameters: a statement with `$n` and known values (an example's bound parameters) is planned
//! with those values as constants, like a custom plan; without values it gets the generic plan
//! (`boundParams = NULL`), which is what `PREPARE` + `force_generic_plan` costs.

use super::define::list_nodes;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::{CStr, CString};
use pg_optimizer_core::advisor::candidates::{group_prefix, GroupKey};

/// Costs of one plan.
#[derive(Clone, Debug, Default)]
pub struct Costed {
    pub startup: f64,
    pub total: f64,
    /// Hypothetical indexes the plan uses.
    pub used: Vec<pg_sys::Oid>,
    /// Of those, the ones some scan uses with a condition on a value of the outer rows (the inner
    /// side of a nested loop, a correlated sub-select): its cost repeats per outer row.
    pub parameterized: Vec<pg_sys::Oid>,
    /// Estimated outer rows of the parameterized nested loops: how many index probes (or other
    /// inner scans) the plan repeats per outer row.
    pub probes: f64,
    /// What those repeated inner scans cost in the plan: outer rows x the inner plan's total cost,
    /// summed over the parameterized nested loops.
    pub probe_cost: f64,
    /// Tables (relkind r, m, p) the plan reads, including through views.
    pub tables: Vec<pg_sys::Oid>,
    pub text: Option<String>,
}

/// What a statement reads, per table, at every level of its query tree.
pub struct Reads {
    /// The columns it reads from each table: sub-selects, `FROM` subqueries, CTEs and set
    /// operations included (an outer reference counts for the table it names); columns reached
    /// through a join alias count for the table behind it. `[0]` when some instance of the table
    /// needs whole rows or a system column (a whole-row reference, the row an UPDATE or DELETE
    /// changes): no index-only scan can serve that table.
    pub columns: Vec<(pg_sys::Oid, Vec<i16>)>,
    /// The GROUP BY (or DISTINCT) keys of every query level that an index of one table can present
    /// in order, in the written order: all keys when they are plain columns of one table that level
    /// reads (the aggregate reads groups as they come, without a hash table or a sort), else the
    /// leading keys of the first key's table (an incremental sort finishes the order).
    pub groups: Vec<(pg_sys::Oid, Vec<i16>)>,
}

/// An analysed statement, ready to be planned many times.
pub struct Prepared {
    cxt: pg_sys::MemoryContext,
    scratch: pg_sys::MemoryContext,
    queries: *mut pg_sys::List,
    params: pg_sys::ParamListInfo,
    text: CString,
    /// Parse analysis and every planning run as this role (see [`crate::pg::identity`]); None:
    /// as the caller (the caller's own query, `explain_with`).
    role: Option<Role>,
}

impl Drop for Prepared {
    fn drop(&mut self) {
        unsafe {
            // The scratch context is a child of `cxt`.
            if !self.cxt.is_null() {
                pg_sys::MemoryContextDelete(self.cxt);
            }
        }
    }
}

use crate::pg::in_subtransaction;
use crate::pg::identity::{run_as, Role};

unsafe fn new_context(name: &CStr) -> pg_sys::MemoryContext {
    unsafe {
        pg_sys::AllocSetContextCreateInternal(
            pg_sys::CurrentMemoryContext,
            name.as_ptr(),
            pg_sys::ALLOCSET_DEFAULT_MINSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
        )
    }
}

pub use pg_optimizer_core::params::parse_param_log;

impl Prepared {
    /// Parse and analyse `text` (one statement). `params`: values of `$1..$n` as text (None =
    /// NULL), or empty for a generic plan. Only SELECT, UPDATE, DELETE and INSERT ... SELECT
    /// with a plannable query are accepted; utility statements are refused with a reason.
    pub fn prepare(text: &str, params: &[Option<Vec<u8>>]) -> Result<Prepared, String> {
        Self::prepare_as(text.as_bytes(), params, None)
    }

    /// [`Prepared::prepare`] as `role`: parse analysis and every later planning run as that role.
    pub fn prepare_as(text: &[u8], params: &[Option<Vec<u8>>], role: Option<Role>) -> Result<Prepared, String> {
        let ctext = CString::new(text).map_err(|_| "query text contains a NUL byte".to_string())?;
        unsafe {
            let cxt = new_context(c"pg_optimizer what-if statement");
            let scratch = {
                let old = pg_sys::MemoryContextSwitchTo(cxt);
                let s = new_context(c"pg_optimizer what-if plan");
                pg_sys::MemoryContextSwitchTo(old);
                s
            };
            let mut st = Prepared { cxt, scratch, queries: std::ptr::null_mut(), params: std::ptr::null_mut(), text: ctext, role };
            let ptext = st.text.as_ptr();
            let analysed = st.isolated(|| {
                let old = pg_sys::MemoryContextSwitchTo(cxt);
                let raws = list_nodes::<pg_sys::RawStmt>(pg_sys::pg_parse_query(ptext));
                if raws.len() != 1 {
                    pg_sys::MemoryContextSwitchTo(old);
                    return Err(format!("{} statements in the text; one is needed", raws.len()));
                }
                let mut types: *mut pg_sys::Oid = std::ptr::null_mut();
                let mut n: i32 = 0;
                let queries = analyse(raws[0], ptext, &mut types, &mut n);
                let bound = if params.is_empty() || n == 0 { std::ptr::null_mut() } else { bind(types, n, params) };
                pg_sys::MemoryContextSwitchTo(old);
                Ok((queries, bound))
            })??;
            st.queries = analysed.0;
            st.params = analysed.1;
            for q in list_nodes::<pg_sys::Query>(st.queries) {
                if (*q).commandType == pg_sys::CmdType::CMD_UTILITY {
                    return Err("utility statements have no plan to cost".into());
                }
            }
            Ok(st)
        }
    }

    /// Run `body` in a subtransaction, as the statement's role when it has one.
    fn isolated<R>(&self, body: impl FnOnce() -> R) -> Result<R, String> {
        match &self.role {
            Some(role) => run_as(role, body),
            None => in_subtransaction(body),
        }
    }

    /// What the statement reads, from one walk of its query tree at every level (see [`Reads`]).
    pub fn reads(&self) -> Reads {
        let mut walk = ColumnWalk { stack: vec![], found: vec![], groups: vec![] };
        unsafe {
            for q in list_nodes::<pg_sys::Query>(self.queries) {
                if (*q).resultRelation > 0 {
                    // The changed rows are fetched from the heap whatever the indexes.
                    let rte = list_nodes::<pg_sys::RangeTblEntry>((*q).rtable)[(*q).resultRelation as usize - 1];
                    walk.add((*rte).relid, 0);
                }
                column_walker(q as *mut pg_sys::Node, &mut walk as *mut ColumnWalk as *mut std::ffi::c_void);
            }
        }
        Reads {
            columns: walk
                .found
                .into_iter()
                .map(|(rel, cols)| if cols.contains(&0) { (rel, vec![0]) } else { (rel, cols.into_iter().collect()) })
                .collect(),
            groups: walk.groups,
        }
    }

    /// For an UPDATE: the table and the columns its SET list assigns (what decides whether an
    /// index costs the table its HOT updates).
    pub fn updated_columns(&self) -> Option<(pg_sys::Oid, Vec<i16>)> {
        unsafe {
            for q in list_nodes::<pg_sys::Query>(self.queries) {
                if (*q).commandType != pg_sys::CmdType::CMD_UPDATE || (*q).resultRelation <= 0 {
                    continue;
                }
                let rte = list_nodes::<pg_sys::RangeTblEntry>((*q).rtable)[(*q).resultRelation as usize - 1];
                #[cfg(any(feature = "pg13", feature = "pg14", feature = "pg15"))]
                let set = (*rte).updatedCols;
                #[cfg(not(any(feature = "pg13", feature = "pg14", feature = "pg15")))]
                let set = {
                    let infos = list_nodes::<pg_sys::RTEPermissionInfo>((*q).rteperminfos);
                    match (*rte).perminfoindex as usize {
                        0 => std::ptr::null_mut(),
                        i => (*infos[i - 1]).updatedCols,
                    }
                };
                let cols = attnums(set).into_iter().filter(|&a| a > 0).collect();
                return Some(((*rte).relid, cols));
            }
            None
        }
    }

    /// Plan with the current scope (see [`super::with_costing_scope`]). `explain`: also return
    /// the EXPLAIN text. `check_permissions`: raise an error if the caller may not read a table.
    pub fn plan(&self, explain: bool, check_permissions: bool) -> Result<Costed, String> {
        unsafe {
            let queries = self.queries;
            let text = self.text.as_ptr();
            let params = self.params;
            let scratch = self.scratch;
            let r = self.isolated(|| {
                let old = pg_sys::MemoryContextSwitchTo(scratch);
                let mut c = Costed::default();
                for q in list_nodes::<pg_sys::Query>(queries) {
                    let copy = pg_sys::copyObjectImpl(q as *const std::ffi::c_void) as *mut pg_sys::Query;
                    let p = pg_sys::planner(copy, text, pg_sys::CURSOR_OPT_PARALLEL_OK as i32, params);
                    if check_permissions {
                        pg_sys::ExecCheckRTPerms((*p).rtable, true);
                    }
                    c.startup += (*(*p).planTree).startup_cost;
                    c.total += (*(*p).planTree).total_cost;
                    collect_indexes(p, &mut c);
                    for oid in crate::pg::list::oids((*p).relationOids) {
                        let k = pg_sys::get_rel_relkind(oid) as u8;
                        if matches!(k, b'r' | b'm' | b'p') && !c.tables.contains(&oid) {
                            c.tables.push(oid);
                        }
                    }
                    if explain {
                        let t = explain_text(p, text, params);
                        c.text = Some(match c.text.take() {
                            Some(prev) => prev + "\n" + &t,
                            None => t,
                        });
                    }
                }
                pg_sys::MemoryContextSwitchTo(old);
                c
            });
            pg_sys::MemoryContextReset(scratch);
            r
        }
    }
}

/// State of [`column_walker`]: the queries around the node being walked (outermost first), the
/// columns found so far by table, and the grouping keys found (see [`Reads`]).
struct ColumnWalk {
    stack: Vec<*mut pg_sys::Query>,
    found: Vec<(pg_sys::Oid, std::collections::BTreeSet<i16>)>,
    groups: Vec<(pg_sys::Oid, Vec<i16>)>,
}

impl ColumnWalk {
    /// Column `attnum` of table `rel` is read; 0 (or a system column) means the whole row.
    fn add(&mut self, rel: pg_sys::Oid, attnum: i16) {
        let attnum = attnum.max(0);
        match self.found.iter_mut().find(|(r, _)| *r == rel) {
            Some((_, c)) => {
                c.insert(attnum);
            }
            None => self.found.push((rel, [attnum].into())),
        }
    }

    /// The GROUP BY keys of `q` (else its DISTINCT keys) that an index of one table can present in
    /// order: all of them when they are columns of one table, else the leading ones of the first
    /// key's table (core `candidates::group_prefix`). A key through a join alias counts as the
    /// column it stands for.
    unsafe fn group(&mut self, q: *const pg_sys::Query) {
        unsafe {
            let clause = if !(*q).groupClause.is_null() { (*q).groupClause } else { (*q).distinctClause };
            if clause.is_null() || !(*q).groupingSets.is_null() || (*q).hasDistinctOn {
                return;
            }
            let rtes = list_nodes::<pg_sys::RangeTblEntry>((*q).rtable);
            let tles = list_nodes::<pg_sys::TargetEntry>((*q).targetList);
            // A plain column of this level, through join aliases: (range table index, attnum).
            let column = |e: *const pg_sys::Node| -> GroupKey {
                let mut e = e;
                loop {
                    if e.is_null() || (*e).type_ != pg_sys::NodeTag::T_Var {
                        return None;
                    }
                    let v = e as *const pg_sys::Var;
                    if (*v).varlevelsup != 0 || (*v).varattno <= 0 || (*v).varno < 1 {
                        return None;
                    }
                    let &rte = rtes.get((*v).varno as usize - 1)?;
                    match (*rte).rtekind {
                        pg_sys::RTEKind::RTE_RELATION => return Some(((*v).varno as u32, (*v).varattno)),
                        pg_sys::RTEKind::RTE_JOIN => {
                            let aliases = list_nodes::<pg_sys::Node>((*rte).joinaliasvars);
                            e = *aliases.get((*v).varattno as usize - 1)?;
                        }
                        _ => return None,
                    }
                }
            };
            let keys: Vec<GroupKey> = list_nodes::<pg_sys::SortGroupClause>(clause)
                .into_iter()
                .map(|sgc| {
                    tles.iter()
                        .find(|&&t| (*t).ressortgroupref == (*sgc).tleSortGroupRef)
                        .and_then(|&tle| column((*tle).expr as *const pg_sys::Node))
                })
                .collect();
            if let Some((varno, keys)) = group_prefix(&keys) {
                let relid = (*rtes[varno as usize - 1]).relid;
                if !self.groups.iter().any(|(r, k)| *r == relid && *k == keys) {
                    self.groups.push((relid, keys));
                }
            }
        }
    }

    /// A Var of the query `varlevelsup` levels out: a table column is recorded; a join alias
    /// column comes back as what it stands for, with the level to walk it at.
    unsafe fn var(&mut self, v: *const pg_sys::Var) -> Option<(usize, Vec<*mut pg_sys::Node>)> {
        unsafe {
            let up = (*v).varlevelsup as usize;
            if up >= self.stack.len() || (*v).varno < 1 {
                return None;
            }
            let level = self.stack.len() - 1 - up;
            let rtes = list_nodes::<pg_sys::RangeTblEntry>((*self.stack[level]).rtable);
            let &rte = rtes.get((*v).varno as usize - 1)?;
            let attnum = (*v).varattno;
            match (*rte).rtekind {
                pg_sys::RTEKind::RTE_RELATION => {
                    self.add((*rte).relid, attnum);
                    None
                }
                pg_sys::RTEKind::RTE_JOIN => {
                    let aliases = list_nodes::<pg_sys::Node>((*rte).joinaliasvars);
                    let exprs = if attnum > 0 { aliases.get(attnum as usize - 1).copied().into_iter().collect() } else { aliases };
                    Some((level, exprs))
                }
                _ => None,
            }
        }
    }
}

/// Walks a query tree (the node and everything below it) for [`Prepared::reads`].
#[pg_guard]
unsafe extern "C-unwind" fn column_walker(node: *mut pg_sys::Node, cxt: *mut std::ffi::c_void) -> bool {
    unsafe {
        if node.is_null() {
            return false;
        }
        let walk = cxt as *mut ColumnWalk;
        match (*node).type_ {
            pg_sys::NodeTag::T_Query => {
                let q = node as *mut pg_sys::Query;
                (*walk).group(q);
                (*walk).stack.push(q);
                // Join alias lists name every column of both sides: only the ones a Var uses count.
                let r = pg_sys::query_tree_walker(q, Some(column_walker), cxt, pg_sys::QTW_IGNORE_JOINALIASES as i32);
                (*walk).stack.pop();
                r
            }
            pg_sys::NodeTag::T_Var => {
                if let Some((level, exprs)) = (*walk).var(node as *const pg_sys::Var) {
                    // A join alias column: what it stands for, read at the level of that query.
                    let saved = (*walk).stack.split_off(level + 1);
                    for e in exprs {
                        column_walker(e, cxt);
                    }
                    (*walk).stack.extend(saved);
                }
                false
            }
            _ => pg_sys::expression_tree_walker(node, Some(column_walker), cxt),
        }
    }
}

/// The attribute numbers in a column set built the way `updatedCols` is (offset by
/// `FirstLowInvalidHeapAttributeNumber`); system columns come out negative.
unsafe fn attnums(set: *const pg_sys::Bitmapset) -> Vec<i16> {
    let mut out = vec![];
    let mut m = -1;
    loop {
        m = unsafe { pg_sys::bms_next_member(set, m) };
        if m < 0 {
            return out;
        }
        out.push((m + pg_sys::FirstLowInvalidHeapAttributeNumber) as i16);
    }
}

#[cfg(any(feature = "pg15", feature = "pg16", feature = "pg17"))]
unsafe fn analyse(raw: *mut pg_sys::RawStmt, text: *const std::ffi::c_char, types: &mut *mut pg_sys::Oid, n: &mut i32) -> *mut pg_sys::List {
    unsafe { pg_sys::pg_analyze_and_rewrite_varparams(raw, text, types, n, std::ptr::null_mut()) }
}

#[cfg(any(feature = "pg13", feature = "pg14"))]
unsafe fn analyse(raw: *mut pg_sys::RawStmt, text: *const std::ffi::c_char, types: &mut *mut pg_sys::Oid, n: &mut i32) -> *mut pg_sys::List {
    unsafe {
        let q = pg_sys::parse_analyze_varparams(raw, text, types, n);
        pg_sys::pg_rewrite_query(q)
    }
}

/// Parameter values as constants, converted by each parameter's input function.
unsafe fn bind(types: *mut pg_sys::Oid, n: i32, values: &[Option<Vec<u8>>]) -> pg_sys::ParamListInfo {
    unsafe {
        let list = pg_sys::makeParamList(n);
        let params = (*list).params.as_mut_slice(n as usize);
        for (i, p) in params.iter_mut().enumerate() {
            let mut typ = *types.add(i);
            if typ == pg_sys::InvalidOid || typ == pg_sys::UNKNOWNOID {
                typ = pg_sys::TEXTOID;
            }
            p.ptype = typ;
            p.pflags = pg_sys::PARAM_FLAG_CONST as u16;
            match values.get(i).cloned().flatten() {
                None => {
                    p.isnull = true;
                    p.value = pg_sys::Datum::from(0);
                }
                Some(v) => {
                    let (mut input, mut ioparam) = (pg_sys::InvalidOid, pg_sys::InvalidOid);
                    pg_sys::getTypeInputInfo(typ, &mut input, &mut ioparam);
                    let cv = CString::new(v).unwrap_or_default();
                    p.value = pg_sys::OidInputFunctionCall(input, cv.as_ptr() as *mut _, ioparam, -1);
                    p.isnull = false;
                }
            }
        }
        (*list).numParams = n;
        list
    }
}


/// Index OIDs of our hypothetical indexes anywhere in the plan (sub plans included).
unsafe fn collect_indexes(p: *mut pg_sys::PlannedStmt, c: &mut Costed) {
    let (out, parameterized) = (&mut c.used, &mut c.parameterized);
    unsafe {
        let mut stack: Vec<*mut pg_sys::Plan> = vec![(*p).planTree];
        stack.extend(list_nodes::<pg_sys::Plan>((*p).subplans));
        while let Some(plan) = stack.pop() {
            if plan.is_null() {
                continue;
            }
            use pg_sys::NodeTag::*;
            let idx = match (*plan).type_ {
                T_IndexScan => Some(((*(plan as *mut pg_sys::IndexScan)).indexid, (*(plan as *mut pg_sys::IndexScan)).indexqual)),
                T_IndexOnlyScan => {
                    Some(((*(plan as *mut pg_sys::IndexOnlyScan)).indexid, (*(plan as *mut pg_sys::IndexOnlyScan)).indexqual))
                }
                T_BitmapIndexScan => {
                    Some(((*(plan as *mut pg_sys::BitmapIndexScan)).indexid, (*(plan as *mut pg_sys::BitmapIndexScan)).indexqual))
                }
                _ => None,
            };
            if let Some((o, qual)) = idx {
                if super::is_hypothetical(o) {
                    if !out.contains(&o) {
                        out.push(o);
                    }
                    if !parameterized.contains(&o) && reads_exec_param(qual as *mut pg_sys::Node) {
                        parameterized.push(o);
                    }
                }
            }
            if (*plan).type_ == T_NestLoop
                && !(*(plan as *mut pg_sys::NestLoop)).nestParams.is_null()
                && !(*plan).lefttree.is_null()
                && !(*plan).righttree.is_null()
            {
                let loops = (*(*plan).lefttree).plan_rows;
                c.probes += loops;
                c.probe_cost += loops * (*(*plan).righttree).total_cost;
            }
            match (*plan).type_ {
                T_Append => stack.extend(list_nodes::<pg_sys::Plan>((*(plan as *mut pg_sys::Append)).appendplans)),
                T_MergeAppend => stack.extend(list_nodes::<pg_sys::Plan>((*(plan as *mut pg_sys::MergeAppend)).mergeplans)),
                T_BitmapAnd => stack.extend(list_nodes::<pg_sys::Plan>((*(plan as *mut pg_sys::BitmapAnd)).bitmapplans)),
                T_BitmapOr => stack.extend(list_nodes::<pg_sys::Plan>((*(plan as *mut pg_sys::BitmapOr)).bitmapplans)),
                T_SubqueryScan => stack.push((*(plan as *mut pg_sys::SubqueryScan)).subplan),
                T_CustomScan => stack.extend(list_nodes::<pg_sys::Plan>((*(plan as *mut pg_sys::CustomScan)).custom_plans)),
                _ => {}
            }
            stack.push((*plan).lefttree);
            stack.push((*plan).righttree);
        }
    }
}

/// Whether an expression reads an executor parameter (`PARAM_EXEC`): in a finished plan, a value
/// of the outer rows of a nested loop or of a correlated sub-select's outer query.
unsafe fn reads_exec_param(node: *mut pg_sys::Node) -> bool {
    #[pg_guard]
    unsafe extern "C-unwind" fn walker(node: *mut pg_sys::Node, cxt: *mut std::ffi::c_void) -> bool {
        unsafe {
            if node.is_null() {
                return false;
            }
            if (*node).type_ == pg_sys::NodeTag::T_Param
                && (*(node as *mut pg_sys::Param)).paramkind == pg_sys::ParamKind::PARAM_EXEC
            {
                return true;
            }
            pg_sys::expression_tree_walker(node, Some(walker), cxt)
        }
    }
    unsafe { !node.is_null() && walker(node, std::ptr::null_mut()) }
}

/// EXPLAIN (costs) text of a plan, through the executor's EXPLAIN_ONLY start, which never opens
/// an index (so hypothetical ones print by name) and checks permissions.
unsafe fn explain_text(p: *mut pg_sys::PlannedStmt, text: *const std::ffi::c_char, params: pg_sys::ParamListInfo) -> String {
    unsafe {
        let es = pg_sys::NewExplainState();
        (*es).costs = true;
        (*es).format = pg_sys::ExplainFormat::EXPLAIN_FORMAT_TEXT;
        pg_sys::ExplainBeginOutput(es);
        #[cfg(not(feature = "pg17"))]
        pg_sys::ExplainOnePlan(p, std::ptr::null_mut(), es, text, params, std::ptr::null_mut(), std::ptr::null(), std::ptr::null());
        #[cfg(feature = "pg17")]
        pg_sys::ExplainOnePlan(p, std::ptr::null_mut(), es, text, params, std::ptr::null_mut(), std::ptr::null(), std::ptr::null(), std::ptr::null());
        pg_sys::ExplainEndOutput(es);
        let s = CStr::from_ptr((*(*es).str_).data).to_string_lossy().into_owned();
        s.trim_end().to_string()
    }
}

/// Selectivity of an implicit-AND predicate list (nodeToString, varno 1) on `relid`: plan
/// `SELECT FROM ONLY t` with and without it and divide the row estimates. Cached per session.
pub unsafe fn selectivity(relid: pg_sys::Oid, pred: &CStr) -> f64 {
    use std::collections::HashMap;
    static mut CACHE: Option<HashMap<(u32, Vec<u8>), f64>> = None;
    unsafe {
        #[allow(static_mut_refs)]
        let cache = CACHE.get_or_insert_with(HashMap::new);
        let key = (u32::from(relid), pred.to_bytes().to_vec());
        if let Some(&s) = cache.get(&key) {
            return s;
        }
        let list = pg_sys::stringToNode(pred.as_ptr()) as *mut pg_sys::List;
        let expr = pg_sys::make_ands_explicit(list);
        let relname = pg_sys::get_rel_name(relid);
        let ctx = pg_sys::deparse_context_for(relname, relid);
        let where_ = CStr::from_ptr(pg_sys::deparse_expression(expr as *mut pg_sys::Node, ctx, false, false)).to_string_lossy().into_owned();
        let nsp = CStr::from_ptr(pg_sys::get_namespace_name(pg_sys::get_rel_namespace(relid))).to_string_lossy().into_owned();
        let rel = CStr::from_ptr(relname).to_string_lossy().into_owned();
        let table = format!("{}.{}", quote(&nsp), quote(&rel));
        let rows = |sql: String| -> Option<f64> {
            let st = Prepared::prepare(&sql, &[]).ok()?;
            let q = st.queries;
            let text = st.text.as_ptr();
            in_subtransaction(|| {
                let copy = pg_sys::copyObjectImpl(list_nodes::<pg_sys::Query>(q)[0] as *const _) as *mut pg_sys::Query;
                let p = pg_sys::planner(copy, text, 0, std::ptr::null_mut());
                (*(*p).planTree).plan_rows
            })
            .ok()
        };
        // The alias makes the deparsed column references (qualified by the table name) resolve.
        let all = rows(format!("SELECT FROM ONLY {table} AS {}", quote(&rel)));
        let some = rows(format!("SELECT FROM ONLY {table} AS {} WHERE {where_}", quote(&rel)));
        let s = match (all, some) {
            (Some(a), Some(s)) if a > 0.0 => (s / a).min(1.0),
            _ => 0.5,
        };
        cache.insert(key, s);
        s
    }
}

pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}
