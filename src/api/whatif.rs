//! Hypothetical indexes from SQL: `hypothetical_index(ddl)`, the `hypothetical_indexes` view,
//! `drop_hypothetical(...)` and `explain_with(query, indexes)`.
//!
//! Hypothetical indexes belong to the session that created them (like HypoPG's), never reach
//! the catalogs and are never used by real execution.

use crate::api::statements::require_preloaded;
use crate::error::Result;
use crate::whatif::{self, plan};
use pgrx::prelude::*;

/// Define a hypothetical index from `CREATE INDEX` text. Returns its fake OID and its name.
#[pg_extern(volatile, strict, parallel_unsafe)]
fn hypothetical_index(ddl: &str) -> Result<TableIterator<'static, (name!(indexrelid, pg_sys::Oid), name!(indexname, String))>> {
    require_preloaded()?;
    let h = whatif::create(ddl, true);
    Ok(TableIterator::once((h.oid, h.name.clone())))
}

/// Rows of `optimizer.hypothetical_indexes`.
#[pg_extern(volatile, parallel_unsafe)]
fn hypothetical_indexes_raw() -> Result<TableIterator<
    'static,
    (
        name!(indexrelid, pg_sys::Oid),
        name!(indexname, String),
        name!(relid, pg_sys::Oid),
        name!(am, String),
        name!(definition, String),
        name!(estimated_bytes, i64),
        name!(estimated_tuples, f64),
        name!(tree_height, Option<i32>),
        name!(leaf_partitions, i32),
    ),
>> {
    require_preloaded()?;
    let rows: Vec<_> = whatif::list()
        .iter()
        .map(|h| {
            let (bytes, tuples, height, leaves) = whatif::estimate_on(h);
            let am = h.spec.am.name();
            (
                h.oid,
                h.name.clone(),
                h.relid,
                am.to_string(),
                h.ddl.to_string_lossy().into_owned(),
                bytes,
                tuples,
                (height >= 0).then_some(height),
                leaves,
            )
        })
        .collect();
    Ok(TableIterator::new(rows))
}

/// Forget one hypothetical index; false if this session has none with that OID.
#[pg_extern(volatile, strict, parallel_unsafe)]
fn drop_hypothetical(indexrelid: pg_sys::Oid) -> Result<bool> {
    require_preloaded()?;
    Ok(whatif::drop(Some(indexrelid)) == 1)
}

/// Forget every hypothetical index of this session; returns how many there were.
#[pg_extern(volatile, parallel_unsafe, name = "drop_hypothetical")]
fn drop_all_hypothetical() -> Result<i64> {
    require_preloaded()?;
    Ok(whatif::drop(None) as i64)
}

/// Plan `query` without and with the indexes in `indexes` (CREATE INDEX texts, used only for
/// this call) plus this session's hypothetical indexes. A query with `$n` gets its generic plan.
#[pg_extern(volatile, parallel_unsafe)]
fn explain_with(
    query: &str,
    indexes: default!(Vec<String>, "'{}'"),
) -> Result<
    TableIterator<
        'static,
        (
            name!(startup_without, f64),
            name!(total_without, f64),
            name!(startup_with, f64),
            name!(total_with, f64),
            name!(used, Vec<String>),
            name!(plan_without, String),
            name!(plan_with, String),
        ),
    >,
> {
    require_preloaded()?;
    whatif::clear_ephemeral();
    let result = (|| {
        let mut set: Vec<pg_sys::Oid> = whatif::list().iter().map(|h| h.oid).collect();
        for ddl in &indexes {
            set.push(whatif::create(ddl, false).oid);
        }
        let st = plan::Prepared::prepare(query, &[]).map_err(|m| bad_query(query, &m))?;
        let without = st.plan(true, true).map_err(|m| bad_query(query, &m))?;
        let with = whatif::with_costing_scope(&set, || st.plan(true, true)).map_err(|m| bad_query(query, &m))?;
        let used = with.used.iter().map(|&o| whatif::name_of(o).unwrap_or_default()).collect();
        Ok(TableIterator::once((
            without.startup,
            without.total,
            with.startup,
            with.total,
            used,
            without.text.unwrap_or_default(),
            with.text.unwrap_or_default(),
        )))
    })();
    whatif::clear_ephemeral();
    result
}

fn bad_query(query: &str, message: &str) -> pgrx::pg_sys::panic::ErrorReport {
    let q: String = query.chars().take(200).collect();
    pgrx::pg_sys::panic::ErrorReport::new(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, format!("cannot plan the query: {message}"), "pg_optimizer")
        .set_detail(format!("query: {q}"))
        .set_hint("Pass one SELECT, UPDATE, DELETE or INSERT statement; $1, $2 ... parameters are planned generically.")
}
