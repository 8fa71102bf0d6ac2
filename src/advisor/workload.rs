//! The recorded workload as a portable document (shape: `pg_optimizer_core::advisor::workload`):
//! [`export`] writes this server's, [`imported`] reads documents stored by
//! `optimizer.import_workload()` back into the advisor's inputs, names resolved in this
//! server's catalog.
//!
//! Identity: an imported statement is planned as the local role of the same name, under the same
//! rule as a local one (the caller must hold that role's privileges), and only if the role that
//! imported the document holds them too: a document's claim that a statement ran as a role is
//! believed only as far as its importer could have run it. Expression keys of a document are
//! not used (their text would go into index DDL); constants are quoted as literals. A role that
//! does not exist here, a table or column that does not, leave the statement (or the qual) out,
//! with a note.

use super::catalog::{self, Recorded};
use super::model::*;
use crate::error::spi_err;
use pg_optimizer_core::advisor::workload::{self as doc, WPredicate, WSortKey, WStatement, WTable, Workload};
use pgrx::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::{CStr, CString};

/// The name of this server's own workload among the sources of `index_advice(sources => ...)`.
pub const LOCAL: &str = "local";

/// This database's recorded workload the caller may read (the advisor's own inputs), as a document.
pub fn export() -> Result<Workload, String> {
    let recorded = catalog::statements()?;
    let queryids: BTreeSet<u64> = recorded.iter().map(|r| r.queryid).collect();
    let (quals, sorts) = catalog::quals_and_sorts(&catalog::predicate_records(&queryids))?;
    let window = catalog::stats_window_seconds()?.max(1.0);
    let mut names = Names::default();
    let statements = recorded
        .iter()
        .map(|r| WStatement {
            queryid: (r.queryid as i64).to_string(),
            role: role_name(r.userid).unwrap_or_default(),
            query: String::from_utf8_lossy(&r.query).into_owned(),
            example: (r.text != r.query).then(|| String::from_utf8_lossy(&r.text).into_owned()),
            params: r.params.iter().map(|p| p.as_ref().map(|v| String::from_utf8_lossy(v).into_owned())).collect(),
            truncated: r.truncated,
            calls: r.calls,
            total_ms: r.total_ms,
            rows: r.rows,
        })
        .collect();
    let mut predicates = vec![];
    for q in &quals {
        let Some((schema, table)) = names.table(q.relid) else { continue };
        let (column, expression) = key_names(q.relid, &q.column);
        predicates.push(WPredicate {
            queryid: (q.queryid as i64).to_string(),
            schema,
            table,
            column,
            expression,
            class: doc::class_name(q.class).to_string(),
            operator: q.operator.clone(),
            join: q.join,
            in_or: q.in_or,
            index_cond: q.index_cond,
            executions: q.executions,
            const_share: q.const_share,
            constants: q.constants.clone(),
            scan: q.scan.to_string(),
        });
    }
    let mut sort_keys = vec![];
    for s in &sorts {
        let Some((schema, table)) = names.table(s.relid) else { continue };
        let (column, expression) = key_names(s.relid, &s.column);
        sort_keys.push(WSortKey {
            queryid: (s.queryid as i64).to_string(),
            schema,
            table,
            position: s.position,
            column,
            expression,
            desc: s.desc,
            nulls_first: s.nulls_first,
            under_limit: s.under_limit,
        });
    }
    let tables = write_counters()?;
    let (server_version, system_identifier, in_recovery, database, exported_at) = server_facts()?;
    Ok(Workload {
        format: doc::FORMAT.into(),
        version: doc::VERSION,
        exported_at,
        database,
        server_version,
        extension_version: env!("CARGO_PKG_VERSION").into(),
        system_identifier,
        in_recovery,
        window_seconds: window,
        statements,
        predicates,
        sort_keys,
        tables,
    })
}

/// What the imported documents add to the advisor's inputs.
#[derive(Default)]
pub struct Imported {
    pub statements: Vec<Recorded>,
    pub quals: Vec<Qual>,
    pub sorts: Vec<SortKey>,
    /// Write rates per second, per table, to add to the local ones.
    pub writes: HashMap<u32, WriteRates>,
    /// Statements left out, and why (one sentence each, with the source).
    pub notes: Vec<(u64, String)>,
}

/// Read the named sources (not `local`) the caller may see in `optimizer.imported_workloads`,
/// counts scaled to `local_window_s`. A named source that is not there is an error.
pub fn imported(sources: &[String], local_window_s: f64) -> Result<Imported, String> {
    let wanted: Vec<String> = sources.iter().filter(|s| s.as_str() != LOCAL).cloned().collect();
    let mut out = Imported::default();
    if wanted.is_empty() {
        return Ok(out);
    }
    let mut found: Vec<(String, pg_sys::Oid, String)> = vec![];
    Spi::connect(|c| {
        let rows = c
            .select(
                "SELECT source, imported_by::oid, document::text FROM optimizer.imported_workloads WHERE source = ANY($1) ORDER BY source",
                None,
                &[wanted.clone().into()],
            )
            .map_err(spi_err)?;
        for r in rows {
            found.push((
                r.get::<String>(1).map_err(spi_err)?.unwrap_or_default(),
                r.get::<pg_sys::Oid>(2).map_err(spi_err)?.unwrap_or(pg_sys::InvalidOid),
                r.get::<String>(3).map_err(spi_err)?.unwrap_or_default(),
            ));
        }
        Ok::<_, String>(())
    })?;
    for w in &wanted {
        if !found.iter().any(|f| &f.0 == w) {
            return Err(format!("no imported workload named \"{w}\" that you may read (see optimizer.imported_workloads)"));
        }
    }
    let mut names = Names::default();
    // A statement in several sources is one statement: its counts add up, its example and quals
    // are the first source's.
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for (source, importer, text) in found {
        let d = doc::parse(&text).map_err(|e| format!("imported workload \"{source}\": {e}"))?;
        let k = doc::scale(d.window_seconds, local_window_s);
        let mut kept: BTreeSet<u64> = BTreeSet::new();
        for s in &d.statements {
            let queryid = doc::queryid_of(&s.queryid).map_err(|e| e.to_string())?;
            let role = role_oid(&s.role);
            if role == pg_sys::InvalidOid {
                out.notes.push((queryid, format!("Statement {} of imported workload \"{source}\" is not planned: its role \"{}\" does not exist on this server.", queryid as i64, s.role)));
                continue;
            }
            if !unsafe { pg_sys::has_privs_of_role(importer, role) } {
                out.notes.push((
                    queryid,
                    format!("Statement {} of imported workload \"{source}\" is not planned: the role that imported it does not hold the privileges of \"{}\", the role it ran as.", queryid as i64, s.role),
                ));
                continue;
            }
            if let Some(&i) = seen.get(&queryid) {
                let r = &mut out.statements[i];
                r.calls += s.calls * k;
                r.total_ms += s.total_ms * k;
                r.rows += s.rows * k;
                continue;
            }
            let query = s.query.clone().into_bytes();
            let (text, params) = match &s.example {
                Some(e) => (e.clone().into_bytes(), s.params.iter().map(|p| p.as_ref().map(|v| v.clone().into_bytes())).collect()),
                None => (query.clone(), vec![]),
            };
            kept.insert(queryid);
            seen.insert(queryid, out.statements.len());
            out.statements.push(Recorded {
                queryid,
                userid: role,
                query,
                text,
                params,
                truncated: s.truncated,
                calls: s.calls * k,
                total_ms: s.total_ms * k,
                rows: s.rows * k,
            });
        }
        // Expression keys are left out: their text would be put into index DDL, defined and sized
        // as the table's owner and folded by the planner, and a document's text is not PostgreSQL's
        // own deparse of a recorded plan (a local expression is).
        let mut expressions: BTreeMap<u64, usize> = BTreeMap::new();
        for p in &d.predicates {
            let queryid = doc::queryid_of(&p.queryid).map_err(|e| e.to_string())?;
            if !kept.contains(&queryid) {
                continue;
            }
            if p.expression.is_some() {
                *expressions.entry(queryid).or_default() += 1;
                continue;
            }
            let Some(relid) = names.relid(&p.schema, &p.table) else { continue };
            let Some(column) = key_of(relid, &p.column) else { continue };
            out.quals.push(Qual {
                queryid,
                relid,
                column,
                class: doc::class_of(&p.class),
                operator: p.operator.clone(),
                join: p.join,
                in_or: p.in_or,
                index_cond: p.index_cond,
                executions: p.executions * k,
                const_share: p.const_share,
                constants: p.constants.clone(),
                scan: p.scan.parse().unwrap_or(0),
            });
        }
        for s in &d.sort_keys {
            let queryid = doc::queryid_of(&s.queryid).map_err(|e| e.to_string())?;
            if !kept.contains(&queryid) {
                continue;
            }
            if s.expression.is_some() {
                *expressions.entry(queryid).or_default() += 1;
                continue;
            }
            let Some(relid) = names.relid(&s.schema, &s.table) else { continue };
            let Some(column) = key_of(relid, &s.column) else { continue };
            out.sorts.push(SortKey { queryid, relid, position: s.position, column, desc: s.desc, nulls_first: s.nulls_first, under_limit: s.under_limit });
        }
        for (queryid, n) in expressions {
            out.notes.push((
                queryid,
                format!(
                    "Statement {} of imported workload \"{source}\": {n} expression key(s) left out (an imported expression's text is never put into index DDL); its plain columns are advised.",
                    queryid as i64
                ),
            ));
        }
        for t in &d.tables {
            let Some(relid) = names.relid(&t.schema, &t.table) else { continue };
            let w = out.writes.entry(relid).or_default();
            let per_s = 1.0 / d.window_seconds;
            w.inserts += t.inserts * per_s;
            w.updates += t.updates * per_s;
            w.hot_updates += t.hot_updates * per_s;
            w.deletes += t.deletes * per_s;
            w.vacuums += t.vacuums * per_s;
        }
    }
    Ok(out)
}

/// Table names by OID and OIDs by name, looked up once each.
#[derive(Default)]
struct Names {
    by_oid: HashMap<u32, Option<(String, String)>>,
    by_name: HashMap<(String, String), Option<u32>>,
}

impl Names {
    fn table(&mut self, relid: u32) -> Option<(String, String)> {
        self.by_oid
            .entry(relid)
            .or_insert_with(|| unsafe {
                let oid = pg_sys::Oid::from(relid);
                let rel = pg_sys::get_rel_name(oid);
                let nsp = pg_sys::get_namespace_name(pg_sys::get_rel_namespace(oid));
                if rel.is_null() || nsp.is_null() {
                    return None;
                }
                Some((CStr::from_ptr(nsp).to_string_lossy().into_owned(), CStr::from_ptr(rel).to_string_lossy().into_owned()))
            })
            .clone()
    }

    fn relid(&mut self, schema: &str, table: &str) -> Option<u32> {
        *self.by_name.entry((schema.to_string(), table.to_string())).or_insert_with(|| {
            let (s, t) = (CString::new(schema).ok()?, CString::new(table).ok()?);
            unsafe {
                let nsp = pg_sys::get_namespace_oid(s.as_ptr(), true);
                if nsp == pg_sys::InvalidOid {
                    return None;
                }
                let rel = pg_sys::get_relname_relid(t.as_ptr(), nsp);
                (rel != pg_sys::InvalidOid).then(|| rel.to_u32())
            }
        })
    }
}

/// A key as (column name, expression text).
fn key_names(relid: u32, key: &KeyExpr) -> (Option<String>, Option<String>) {
    match key {
        KeyExpr::Column(a) => unsafe {
            let n = pg_sys::get_attname(pg_sys::Oid::from(relid), *a, true);
            (if n.is_null() { None } else { Some(CStr::from_ptr(n).to_string_lossy().into_owned()) }, None)
        },
        KeyExpr::Expr(e) => (None, Some(e.clone())),
    }
}

/// A column key from its name, resolved in this catalog (None: the column is not there).
fn key_of(relid: u32, column: &Option<String>) -> Option<KeyExpr> {
    let c = CString::new(column.as_deref()?).ok()?;
    let a = unsafe { pg_sys::get_attnum(pg_sys::Oid::from(relid), c.as_ptr()) };
    (a > 0).then_some(KeyExpr::Column(a))
}

fn role_name(oid: pg_sys::Oid) -> Option<String> {
    let n = unsafe { pg_sys::GetUserNameFromId(oid, true) };
    (!n.is_null()).then(|| unsafe { CStr::from_ptr(n) }.to_string_lossy().into_owned())
}

/// The role of that name on this server (InvalidOid: none).
pub fn role_oid(name: &str) -> pg_sys::Oid {
    match CString::new(name) {
        Ok(c) => unsafe { pg_sys::get_role_oid(c.as_ptr(), true) },
        Err(_) => pg_sys::InvalidOid,
    }
}

/// The write counters of this database's tables that were written to (the statistics window's).
fn write_counters() -> Result<Vec<WTable>, String> {
    let mut out = vec![];
    Spi::connect(|c| {
        for r in c
            .select(
                "SELECT schemaname::text, relname::text, n_tup_ins::float8, n_tup_upd::float8, n_tup_hot_upd::float8, n_tup_del::float8,
                        (vacuum_count + autovacuum_count)::float8
                   FROM pg_catalog.pg_stat_user_tables
                  WHERE n_tup_ins + n_tup_upd + n_tup_del > 0
                  ORDER BY 1, 2",
                None,
                &[],
            )
            .map_err(spi_err)?
        {
            out.push(WTable {
                schema: r.get(1).map_err(spi_err)?.unwrap_or_default(),
                table: r.get(2).map_err(spi_err)?.unwrap_or_default(),
                inserts: r.get(3).map_err(spi_err)?.unwrap_or(0.0),
                updates: r.get(4).map_err(spi_err)?.unwrap_or(0.0),
                hot_updates: r.get(5).map_err(spi_err)?.unwrap_or(0.0),
                deletes: r.get(6).map_err(spi_err)?.unwrap_or(0.0),
                vacuums: r.get(7).map_err(spi_err)?.unwrap_or(0.0),
            });
        }
        Ok::<_, String>(())
    })?;
    Ok(out)
}

/// (server_version, system identifier (empty unless the caller may read pg_control_system()),
/// in recovery, database, now).
fn server_facts() -> Result<(String, String, bool, String, String), String> {
    Spi::connect(|c| {
        let r = c
            .select(
                "SELECT pg_catalog.current_setting('server_version'),
                        CASE WHEN pg_catalog.has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE')
                             THEN (SELECT system_identifier::text FROM pg_catalog.pg_control_system()) ELSE '' END,
                        pg_catalog.pg_is_in_recovery(), pg_catalog.current_database()::text,
                        pg_catalog.to_char(pg_catalog.now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                None,
                &[],
            )
            .map_err(spi_err)?;
        let r = r.into_iter().next().ok_or("no row")?;
        Ok((
            r.get(1).map_err(spi_err)?.unwrap_or_default(),
            r.get(2).map_err(spi_err)?.unwrap_or_default(),
            r.get(3).map_err(spi_err)?.unwrap_or(false),
            r.get(4).map_err(spi_err)?.unwrap_or_default(),
            r.get(5).map_err(spi_err)?.unwrap_or_default(),
        ))
    })
}
