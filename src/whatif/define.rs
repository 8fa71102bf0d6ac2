//! `CREATE INDEX ...` text to a [`Spec`]: everything the planner needs to know of an index, held as
//! Rust data (OIDs, attnums, flags, and expressions and predicates as `nodeToString` text at
//! varno 1), so nothing points into a memory context that goes away.
//!
//! The statement goes through PostgreSQL's own parser and `transformIndexStmt`, then each column
//! is resolved the way `DefineIndex` does: attribute by name, operator class with `ResolveOpClass`,
//! collation, ordering (refused for methods that cannot order), INCLUDE columns as plain names.
//! Expressions and the predicate are constant-folded and canonicalised as the relcache does for a
//! real index (`RelationGetIndexExpressions` / `RelationGetIndexPredicate`).

use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::{CStr, CString};

unsafe extern "C-unwind" {
    // Not in pgrx 0.18's bindings (parser/parse_utilcmd.h).
    fn transformIndexStmt(relid: pg_sys::Oid, stmt: *mut pg_sys::IndexStmt, query_string: *const std::ffi::c_char) -> *mut pg_sys::IndexStmt;
}

/// The four access methods we cost: the core's one enum for them.
pub use pg_optimizer_core::advisor::model::Method as Am;

/// One index as the planner sees it (see `IndexOptInfo`).
#[derive(Clone, Debug)]
pub struct Spec {
    pub relid: pg_sys::Oid,
    pub am: Am,
    pub amoid: pg_sys::Oid,
    pub nkey: usize,
    /// Per column (keys then INCLUDE): attnum, 0 for an expression.
    pub keys: Vec<i16>,
    /// Per column: type, typmod, collation (for the index target list and sizes).
    pub types: Vec<(pg_sys::Oid, i32, pg_sys::Oid)>,
    /// Per key column.
    pub opfamily: Vec<pg_sys::Oid>,
    pub opcintype: Vec<pg_sys::Oid>,
    pub collation: Vec<pg_sys::Oid>,
    pub reverse: Vec<bool>,
    pub nulls_first: Vec<bool>,
    /// Expressions (a List, nodeToString, varno 1), in key order.
    pub exprs: Option<CString>,
    /// Predicate (implicit-AND List, nodeToString, varno 1).
    pub pred: Option<CString>,
    pub unique: bool,
    pub fillfactor: Option<f64>,
    pub pages_per_range: Option<f64>,
}

fn cstr(p: *const std::ffi::c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

pub(crate) unsafe fn list_nodes<T>(list: *mut pg_sys::List) -> Vec<*mut T> {
    unsafe { crate::pg::list::iter(list).collect() }
}

fn err(msg: String, hint: &str) -> ! {
    ereport!(ERROR, PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, msg, hint);
}

/// Parse `ddl` (one `CREATE INDEX` statement) and return the raw statement and the table's OID.
/// The table is locked AccessShare, as for planning.
pub unsafe fn parse(ddl: &str) -> (*mut pg_sys::IndexStmt, pg_sys::Oid) {
    unsafe {
        let c = CString::new(ddl).unwrap_or_else(|_| err("index definition contains a NUL byte".into(), "Pass plain SQL text."));
        let list = pg_sys::pg_parse_query(c.as_ptr());
        let raws = list_nodes::<pg_sys::RawStmt>(list);
        if raws.len() != 1 || (*(*raws[0]).stmt).type_ != pg_sys::NodeTag::T_IndexStmt {
            err(
                format!("not a single CREATE INDEX statement: {ddl}"),
                "Write it as you would create the index, e.g. CREATE INDEX ON orders (customer_id, created_at).",
            );
        }
        let stmt = (*raws[0]).stmt as *mut pg_sys::IndexStmt;
        let relid = pg_sys::RangeVarGetRelidExtended((*stmt).relation, pg_sys::AccessShareLock as _, 0, None, std::ptr::null_mut());
        (stmt, relid)
    }
}

/// Build the spec of `stmt` (a fresh raw statement: transformation modifies it) on table `relid`.
/// For a partition, `relid` is the leaf and columns are found by name, as `DefineIndex` does.
pub unsafe fn build(stmt: *mut pg_sys::IndexStmt, relid: pg_sys::Oid, ddl: &CStr) -> Spec {
    unsafe {
        let relkind = pg_sys::get_rel_relkind(relid) as u8;
        if ![b'r', b'm', b'p'].contains(&relkind) {
            err(
                format!("\"{}\" is not a table or materialized view", cstr(pg_sys::get_rel_name(relid))),
                "Hypothetical indexes go on tables, partitioned tables and materialized views.",
            );
        }
        if (*stmt).excludeOpNames != std::ptr::null_mut() || (*stmt).primary || (*stmt).isconstraint {
            err("constraints cannot be hypothetical".into(), "Use CREATE INDEX or CREATE UNIQUE INDEX.");
        }
        let amname = if (*stmt).accessMethod.is_null() { "btree".to_string() } else { cstr((*stmt).accessMethod) };
        let Some(am) = Am::from_name(&amname) else {
            err(format!("access method \"{amname}\" is not supported for hypothetical indexes"), "Use btree, hash, brin or gin.")
        };
        let amc = CString::new(amname.clone()).unwrap();
        let amoid = pg_sys::get_am_oid(amc.as_ptr(), false);
        let routine = pg_sys::GetIndexAmRoutineByAmId(amoid, false);

        let stmt = transformIndexStmt(relid, stmt, ddl.as_ptr());
        let params = list_nodes::<pg_sys::IndexElem>((*stmt).indexParams);
        let including = list_nodes::<pg_sys::IndexElem>((*stmt).indexIncludingParams);
        if params.len() > 1 && !(*routine).amcanmulticol {
            err(format!("access method \"{amname}\" does not support multicolumn indexes"), "Use one column, or btree.");
        }
        if !including.is_empty() && !(*routine).amcaninclude {
            err(format!("access method \"{amname}\" does not support included columns"), "INCLUDE works with btree.");
        }
        if (*stmt).unique && !(*routine).amcanunique {
            err(format!("access method \"{amname}\" does not support unique indexes"), "Use btree for UNIQUE.");
        }
        let mut spec = Spec {
            relid,
            am,
            amoid,
            nkey: params.len(),
            keys: vec![],
            types: vec![],
            opfamily: vec![],
            opcintype: vec![],
            collation: vec![],
            reverse: vec![],
            nulls_first: vec![],
            exprs: None,
            pred: None,
            unique: (*stmt).unique,
            fillfactor: None,
            pages_per_range: None,
        };
        let mut exprs: *mut pg_sys::List = std::ptr::null_mut();
        for (i, &elem) in params.iter().chain(including.iter()).enumerate() {
            let is_key = i < params.len();
            let (attnum, typ, typmod, coll) = column_of(elem, relid, &mut exprs);
            if !is_key {
                if attnum == 0 {
                    err("expressions are not supported in included columns".into(), "INCLUDE plain columns only.");
                }
                spec.keys.push(attnum);
                spec.types.push((typ, typmod, coll));
                continue;
            }
            spec.keys.push(attnum);
            spec.types.push((typ, typmod, coll));
            let opclass = pg_sys::ResolveOpClass((*elem).opclass, typ, amc.as_ptr(), amoid);
            spec.opfamily.push(pg_sys::get_opclass_family(opclass));
            spec.opcintype.push(pg_sys::get_opclass_input_type(opclass));
            let collation = if !(*elem).collation.is_null() {
                pg_sys::get_collation_oid((*elem).collation, false)
            } else if pg_sys::type_is_collatable(typ) {
                coll
            } else {
                pg_sys::InvalidOid
            };
            spec.collation.push(collation);
            let desc = (*elem).ordering == pg_sys::SortByDir::SORTBY_DESC;
            let ordered = (*elem).ordering != pg_sys::SortByDir::SORTBY_DEFAULT
                || (*elem).nulls_ordering != pg_sys::SortByNulls::SORTBY_NULLS_DEFAULT;
            if ordered && !(*routine).amcanorder {
                err(format!("access method \"{amname}\" does not support ASC/DESC/NULLS options"), "Drop the ordering options.");
            }
            spec.reverse.push(desc);
            spec.nulls_first.push(match (*elem).nulls_ordering {
                pg_sys::SortByNulls::SORTBY_NULLS_FIRST => true,
                pg_sys::SortByNulls::SORTBY_NULLS_LAST => false,
                _ => desc,
            });
        }
        if !exprs.is_null() {
            let folded = pg_sys::eval_const_expressions(std::ptr::null_mut(), exprs as *mut pg_sys::Node);
            pg_sys::fix_opfuncids(folded);
            spec.exprs = Some(CString::from(CStr::from_ptr(pg_sys::nodeToString(folded as *const _))));
        }
        if !(*stmt).whereClause.is_null() {
            let mut e = pg_sys::eval_const_expressions(std::ptr::null_mut(), (*stmt).whereClause) as *mut pg_sys::Expr;
            e = pg_sys::canonicalize_qual(e, false);
            pg_sys::fix_opfuncids(e as *mut pg_sys::Node);
            let list = pg_sys::make_ands_implicit(e);
            spec.pred = Some(CString::from(CStr::from_ptr(pg_sys::nodeToString(list as *const _))));
        }
        for def in list_nodes::<pg_sys::DefElem>((*stmt).options) {
            let name = cstr((*def).defname);
            let value = cstr(pg_sys::defGetString(def));
            let num: Option<f64> = value.parse().ok();
            match (name.as_str(), num) {
                ("fillfactor", Some(v)) if (10.0..=100.0).contains(&v) => spec.fillfactor = Some(v),
                ("pages_per_range", Some(v)) if v >= 1.0 => spec.pages_per_range = Some(v),
                ("deduplicate_items" | "fastupdate" | "gin_pending_list_limit" | "autosummarize", _) => {}
                _ => err(format!("unsupported index option \"{name}\" = \"{value}\""), "Supported: fillfactor, pages_per_range."),
            }
        }
        spec
    }
}

/// Resolve one index element: `(attnum, type, typmod, collation)`; expressions are appended to
/// `exprs` and get attnum 0.
unsafe fn column_of(elem: *mut pg_sys::IndexElem, relid: pg_sys::Oid, exprs: &mut *mut pg_sys::List) -> (i16, pg_sys::Oid, i32, pg_sys::Oid) {
    unsafe {
        if !(*elem).name.is_null() {
            let attnum = pg_sys::get_attnum(relid, (*elem).name);
            if attnum == pg_sys::InvalidAttrNumber as i16 {
                ereport!(
                    ERROR,
                    PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
                    format!("column \"{}\" does not exist", cstr((*elem).name)),
                    "Check the column name; quote it if it has capitals or spaces."
                );
            }
            if attnum < 0 {
                err("system columns cannot be indexed".into(), "Index a user column.");
            }
            let (mut typ, mut typmod, mut coll) = (pg_sys::InvalidOid, 0i32, pg_sys::InvalidOid);
            pg_sys::get_atttypetypmodcoll(relid, attnum, &mut typ, &mut typmod, &mut coll);
            return (attnum, typ, typmod, coll);
        }
        let expr = (*elem).expr;
        if (*expr).type_ == pg_sys::NodeTag::T_Var {
            let v = expr as *mut pg_sys::Var;
            if (*v).varattno > 0 {
                return ((*v).varattno, (*v).vartype, (*v).vartypmod, (*v).varcollid);
            }
        }
        if pg_sys::contain_mutable_functions(expr) {
            err("functions in index expression must be marked IMMUTABLE".into(), "Wrap the expression in an IMMUTABLE function, or index the column.");
        }
        *exprs = pg_sys::lappend(*exprs, expr as *mut std::ffi::c_void);
        (0, pg_sys::exprType(expr), pg_sys::exprTypmod(expr), pg_sys::exprCollation(expr))
    }
}
