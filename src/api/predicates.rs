//! Predicate statistics: the functions behind `optimizer.predicates`, `optimizer.sort_keys`,
//! `optimizer.misestimates` and `optimizer.predicates_info`, and `optimizer.reset_predicates()`.
//!
//! Privacy, as for statements: every entry of the current database is listed (tables, columns and
//! operators are schema facts the reader could see in the catalogs anyway), but the query id and
//! the sampled constants of another user's statement are NULL, and its deparsed expression (which
//! keeps the statement's literals) reads `<insufficient privilege>`, unless the reader is
//! superuser or a member of `pg_read_all_stats`. Other databases' entries are never returned:
//! their OIDs would be read with this database's catalogs.

use super::statements::{require_preloaded, tstz, HIDDEN};
use crate::error::{OptimizerError, Result};
use crate::shmem::predicates as store;
use crate::stats::predicates::*;
use pgrx::prelude::*;

/// The label of a stored discriminant, from a table of (variant as u8, label).
fn label(v: u8, table: &[(u8, &'static str)]) -> Option<&'static str> {
    table.iter().find(|(x, _)| *x == v).map(|(_, l)| *l)
}

const KINDS: &[(u8, &str)] =
    &[(Kind::Scan as u8, "scan"), (Kind::Qual as u8, "qual"), (Kind::Join as u8, "join"), (Kind::Sort as u8, "sort")];

const PLACES: &[(u8, &str)] = &[
    (Place::Filter as u8, "filter"),
    (Place::IndexCond as u8, "index cond"),
    (Place::JoinFilter as u8, "join filter"),
    (Place::HashCond as u8, "hash cond"),
    (Place::MergeCond as u8, "merge cond"),
    (Place::TidCond as u8, "tid cond"),
    (Place::Remote as u8, "remote"),
    (Place::NestLoopIndexCond as u8, "nested loop index cond"),
    (Place::NestLoopFilter as u8, "nested loop filter"),
];

const OP_KINDS: &[(u8, &str)] = &[
    (OpKind::Op as u8, "op"),
    (OpKind::Any as u8, "any"),
    (OpKind::All as u8, "all"),
    (OpKind::IsNull as u8, "is null"),
    (OpKind::IsNotNull as u8, "is not null"),
    (OpKind::IsTrue as u8, "is true"),
    (OpKind::IsNotTrue as u8, "is not true"),
    (OpKind::IsFalse as u8, "is false"),
    (OpKind::IsNotFalse as u8, "is not false"),
    (OpKind::IsUnknown as u8, "is unknown"),
    (OpKind::IsNotUnknown as u8, "is not unknown"),
    (OpKind::BoolColumn as u8, "boolean column"),
    (OpKind::Other as u8, "other"),
];

const RHS: &[(u8, &str)] = &[
    (Rhs::Value as u8, "value"),
    (Rhs::Column as u8, "column"),
    (Rhs::JoinColumn as u8, "join column"),
    (Rhs::Computed as u8, "computed"),
];

const NODES: &[(u8, &str)] = &[
    (NodeKind::SeqScan as u8, "Seq Scan"),
    (NodeKind::IndexScan as u8, "Index Scan"),
    (NodeKind::IndexOnlyScan as u8, "Index Only Scan"),
    (NodeKind::BitmapIndexScan as u8, "Bitmap Index Scan"),
    (NodeKind::BitmapHeapScan as u8, "Bitmap Heap Scan"),
    (NodeKind::TidScan as u8, "Tid Scan"),
    (NodeKind::TidRangeScan as u8, "Tid Range Scan"),
    (NodeKind::ForeignScan as u8, "Foreign Scan"),
    (NodeKind::CustomScan as u8, "Custom Scan"),
    (NodeKind::SampleScan as u8, "Sample Scan"),
    (NodeKind::NestLoop as u8, "Nested Loop"),
    (NodeKind::HashJoin as u8, "Hash Join"),
    (NodeKind::MergeJoin as u8, "Merge Join"),
    (NodeKind::Sort as u8, "Sort"),
    (NodeKind::IncrementalSort as u8, "Incremental Sort"),
];

fn oid_or_null(o: u32) -> Option<pg_sys::Oid> {
    (o != 0).then(|| pg_sys::Oid::from(o))
}

fn cols(a: impl Iterator<Item = i16>) -> Option<Vec<i16>> {
    let v: Vec<i16> = a.collect();
    (!v.is_empty()).then_some(v)
}


/// One row per entry of the predicate store (all kinds), counters packed in arrays. The views
/// `optimizer.predicates`, `optimizer.sort_keys` and `optimizer.misestimates` name and aggregate
/// them.
///
/// `counts`: executions, counted executions, misestimated executions, constant executions,
/// parameter executions, list executions, limited executions, q-error samples.
/// `figures`: loops, rows, rows removed by filter, rows removed by recheck, estimated rows,
/// q-error geometric mean, q-error max, q-error min, list length sum, limit sum.
#[pg_extern(volatile, parallel_safe)]
fn predicates_raw() -> Result<TableIterator<'static, (
    name!(userid, pg_sys::Oid),
    name!(dbid, pg_sys::Oid),
    name!(queryid, Option<i64>),
    name!(kind, String),
    name!(node, String),
    name!(place, Option<String>),
    name!(op_kind, Option<String>),
    name!(rhs, Option<String>),
    name!(relid, Option<pg_sys::Oid>),
    name!(root_relid, Option<pg_sys::Oid>),
    name!(attnums, Option<Vec<i16>>),
    name!(expression, Option<String>),
    name!(opno, Option<pg_sys::Oid>),
    name!(negated, bool),
    name!(commuted, bool),
    name!(or_group, Option<i64>),
    name!(rhs_relid, Option<pg_sys::Oid>),
    name!(rhs_attnums, Option<Vec<i16>>),
    name!(indexid, Option<pg_sys::Oid>),
    name!(position, i32),
    name!(nulls_first, bool),
    name!(under_limit, bool),
    name!(presorted, bool),
    name!(partition, bool),
    name!(collation, Option<pg_sys::Oid>),
    name!(node_sig, i64),
    name!(sig, i64),
    name!(counts, Vec<i64>),
    name!(figures, Vec<Option<f64>>),
    name!(constants, Option<Vec<Option<String>>>),
    name!(first_seen, Option<TimestampWithTimeZone>),
    name!(last_seen, Option<TimestampWithTimeZone>),
)>> {
    require_preloaded()?;
    let may_see = crate::pg::visible_to_caller();
    // This database's entries only: type, relation and operator OIDs mean something only here,
    // and a constant is rendered with this database's output functions.
    let db = unsafe { pg_sys::MyDatabaseId }.to_u32();
    let rows: Vec<_> = store::snapshot(|k| k.dbid == db)
        .into_iter()
        .map(|r| {
            let visible = may_see(r.key.userid);
            let d = &r.desc;
            let c = &r.counters;
            let f = d.flags;
            let counts = vec![c.executions, c.counted, c.misestimated, c.n_const, c.n_param, c.list_n, c.limit_n, c.qerr_n];
            let figures = vec![
                Some(c.loops),
                Some(c.rows),
                Some(c.removed),
                Some(c.rechecked),
                Some(c.est_rows),
                c.qerr_mean(),
                (c.qerr_n > 0).then_some(c.qerr_max),
                (c.qerr_n > 0).then_some(c.qerr_min),
                Some(c.list_len_sum),
                Some(c.limit_sum),
            ];
            let constants = (visible && c.samples_seen > 0).then(|| c.held_samples().iter().map(crate::capture::render_constant).collect());
            let expr = r.expr();
            (
                pg_sys::Oid::from(r.key.userid),
                pg_sys::Oid::from(r.key.dbid),
                visible.then_some(r.key.queryid as i64),
                label(d.kind, KINDS).unwrap_or("unknown").to_string(),
                label(d.node, NODES).unwrap_or("Other").to_string(),
                label(d.place, PLACES).map(str::to_string),
                label(d.op_kind, OP_KINDS).map(str::to_string),
                label(d.rhs, RHS).map(str::to_string),
                oid_or_null(d.relid),
                oid_or_null(d.root_relid),
                cols(d.columns()),
                // A deparsed expression keeps the statement's literals: hidden like its constants.
                (!expr.is_empty()).then(|| if visible { String::from_utf8_lossy(expr).into_owned() } else { HIDDEN.to_string() }),
                oid_or_null(d.opno),
                f & F_NEGATED != 0,
                f & F_COMMUTED != 0,
                (f & F_OR_MEMBER != 0).then_some(d.or_group as i64),
                oid_or_null(d.rhs_relid),
                cols(d.rhs_columns()),
                oid_or_null(d.indexid),
                d.position as i32,
                f & F_NULLS_FIRST != 0,
                f & F_UNDER_LIMIT != 0,
                f & F_PRESORTED != 0,
                f & F_PARTITION != 0,
                oid_or_null(d.collation),
                d.node_sig as i64,
                r.key.sig as i64,
                counts,
                figures,
                constants,
                tstz(c.first_seen),
                tstz(c.last_seen),
            )
        })
        .collect();
    Ok(TableIterator::new(rows))
}

/// Capacity and state of the predicate store.
#[pg_extern(volatile, parallel_safe)]
fn predicates_info_raw() -> Result<
    TableIterator<
        'static,
        (
            name!(capacity, i64),
            name!(entries, i64),
            name!(evictions, i64),
            name!(stats_reset, Option<TimestampWithTimeZone>),
        ),
    >,
> {
    require_preloaded()?;
    let i = store::info().ok_or(OptimizerError::NotPreloaded)?;
    Ok(TableIterator::once((i.capacity as i64, i.entries as i64, i.evictions as i64, tstz(i.stats_reset))))
}

/// Forget recorded predicates. With no arguments: everything (and restart the eviction count and
/// `stats_reset`); each argument narrows it (NULL = any). Returns how many entries were removed.
/// Revoked from PUBLIC at install.
#[pg_extern(volatile, parallel_unsafe)]
fn reset_predicates(
    dbid: default!(Option<pg_sys::Oid>, "NULL"),
    queryid: default!(Option<i64>, "NULL"),
) -> Result<i64> {
    require_preloaded()?;
    let all = dbid.is_none() && queryid.is_none();
    let n = store::reset(all, |k| {
        dbid.is_none_or(|d| d.to_u32() == k.dbid) && queryid.is_none_or(|q| q as u64 == k.queryid)
    });
    Ok(n as i64)
}
