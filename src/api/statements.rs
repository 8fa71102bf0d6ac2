//! Statement statistics: the functions behind `optimizer.statements`,
//! `optimizer.statements_info`, `optimizer.latency_histogram()` and `optimizer.reset()`.
//!
//! Privacy, as pg_stat_statements: every row is visible, but the query text, the example and the
//! query id of another user's statement show as `<insufficient privilege>` / NULL unless the
//! reader is superuser or a member of `pg_read_all_stats`.

use crate::pg::text::{to_current, DbText};
use crate::error::{OptimizerError, Result};
use crate::shmem::{self, Snapshot};
use crate::stats::histogram::{bucket_label, bucket_range};
use crate::stats::N_BUCKETS;
use pgrx::prelude::*;

pub use crate::pg::text::HIDDEN;

pub(crate) fn require_preloaded() -> Result<()> {
    if shmem::available() {
        Ok(())
    } else {
        Err(OptimizerError::NotPreloaded.into())
    }
}

fn visible_filter() -> impl Fn(&shmem::Key) -> bool {
    let visible = crate::pg::visible_to_caller();
    move |k: &shmem::Key| visible(k.userid)
}

pub(crate) fn tstz(t: i64) -> Option<TimestampWithTimeZone> {
    if t == 0 {
        None
    } else {
        TimestampWithTimeZone::try_from(t).ok()
    }
}


/// The columns of one row of `statements_raw`, in its order.
#[allow(clippy::type_complexity)]
fn row(
    s: Snapshot,
    visible: bool,
) -> (
    pg_sys::Oid,
    pg_sys::Oid,
    bool,
    Option<i64>,
    DbText,
    Option<DbText>,
    Option<DbText>,
    Option<TimestampWithTimeZone>,
    Option<TimestampWithTimeZone>,
    Vec<i64>,
    Vec<Option<f64>>,
    Vec<i64>,
    bool,
    bool,
) {
    let c = &s.counters;
    let u = &c.usage;
    let counts = vec![
        c.exec.count,
        c.plan.count,
        u.rows,
        u.shared_blks_hit,
        u.shared_blks_read,
        u.shared_blks_dirtied,
        u.shared_blks_written,
        u.local_blks_hit,
        u.local_blks_read,
        u.local_blks_dirtied,
        u.local_blks_written,
        u.temp_blks_read,
        u.temp_blks_written,
        u.wal_records,
        u.wal_fpi,
        u.wal_bytes as i64,
    ];
    let (e, p) = (&c.exec, &c.plan);
    let q = |x: f64| c.hist.quantile(x, e.min, e.max);
    let times = vec![
        Some(e.total),
        (e.count > 0).then_some(e.min),
        (e.count > 0).then_some(e.max),
        (e.count > 0).then_some(e.mean),
        (e.count > 0).then_some(e.stddev()),
        Some(p.total),
        (p.count > 0).then_some(p.min),
        (p.count > 0).then_some(p.max),
        (p.count > 0).then_some(p.mean),
        (p.count > 0).then_some(p.stddev()),
        Some(u.blk_read_time),
        Some(u.blk_write_time),
        q(0.5),
        q(0.95),
        q(0.99),
        (!s.example.is_empty()).then_some(c.example_ms),
    ];
    let text = |b: &[u8]| to_current(b, s.encoding);
    let (example, params) = if !visible || s.example.is_empty() {
        (if visible { None } else { Some(DbText::from(HIDDEN)) }, if visible { None } else { Some(DbText::from(HIDDEN)) })
    } else {
        let (stmt, prm) = s.example.split_at(s.example_stmt_len.min(s.example.len()));
        (Some(text(stmt)), (!prm.is_empty()).then(|| text(prm)))
    };
    (
        pg_sys::Oid::from(s.key.userid),
        pg_sys::Oid::from(s.key.dbid),
        s.key.toplevel,
        visible.then_some(s.key.queryid as i64),
        if visible { text(&s.text) } else { DbText::from(HIDDEN) },
        example,
        params,
        tstz(c.first_seen),
        tstz(c.last_seen),
        counts,
        times,
        c.hist.counts.to_vec(),
        s.text_truncated,
        s.example_truncated,
    )
}

/// One row per recorded statement, counters packed in arrays; `optimizer.statements` unpacks
/// them into named columns.
#[pg_extern(volatile, parallel_safe)]
fn statements_raw() -> Result<TableIterator<'static, (
    name!(userid, pg_sys::Oid),
    name!(dbid, pg_sys::Oid),
    name!(toplevel, bool),
    name!(queryid, Option<i64>),
    name!(query, DbText),
    name!(example, Option<DbText>),
    name!(example_params, Option<DbText>),
    name!(first_seen, Option<TimestampWithTimeZone>),
    name!(last_seen, Option<TimestampWithTimeZone>),
    name!(counts, Vec<i64>),
    name!(times, Vec<Option<f64>>),
    name!(histogram, Vec<i64>),
    // New columns go last: a library serves an older SQL definition (fewer columns) until
    // ALTER EXTENSION ... UPDATE, as the result row is built for the caller's row type.
    name!(query_truncated, bool),
    name!(example_truncated, bool),
)>> {
    require_preloaded()?;
    let visible = crate::pg::visible_to_caller();
    let rows: Vec<_> = shmem::snapshot(|_| true)
        .into_iter()
        .map(|s| {
            let v = visible(s.key.userid);
            row(s, v)
        })
        .collect();
    Ok(TableIterator::new(rows))
}

/// Capacity and state of the statement store.
#[pg_extern(volatile, parallel_safe)]
fn statements_info_raw() -> Result<
    TableIterator<
        'static,
        (
            name!(capacity, i64),
            name!(entries, i64),
            name!(evictions, i64),
            name!(stats_reset, Option<TimestampWithTimeZone>),
            name!(max_text_bytes, i32),
            name!(text_memory_bytes, i64),
            name!(text_bytes_used, i64),
            name!(text_compactions, i64),
        ),
    >,
> {
    require_preloaded()?;
    let i = shmem::info().ok_or(OptimizerError::NotPreloaded)?;
    Ok(TableIterator::once((
        i.capacity as i64,
        i.entries as i64,
        i.evictions as i64,
        tstz(i.stats_reset),
        i.max_text as i32,
        i.text_memory as i64,
        i.text_bytes as i64,
        i.compactions as i64,
    )))
}

/// Latency distribution of one statement (all users, databases and nesting levels the caller may
/// see), one row per bucket of the log-scale histogram.
#[pg_extern(volatile, strict, parallel_safe)]
fn latency_histogram(
    queryid: i64,
) -> Result<
    TableIterator<
        'static,
        (
            name!(bucket, i32),
            name!(range, String),
            name!(lower_ms, f64),
            name!(upper_ms, Option<f64>),
            name!(calls, i64),
            name!(fraction, f64),
            name!(cumulative_fraction, f64),
        ),
    >,
> {
    require_preloaded()?;
    let visible = visible_filter();
    let snaps = shmem::snapshot(|k| k.queryid == queryid as u64 && visible(k));
    if snaps.is_empty() {
        return Err(OptimizerError::UnknownQueryId(queryid).into());
    }
    let mut h = crate::stats::Histogram::default();
    for s in &snaps {
        h.merge(&s.counters.hist);
    }
    let total = h.total().max(1) as f64;
    let mut cum = 0i64;
    let rows: Vec<_> = (0..N_BUCKETS)
        .map(|i| {
            let (lo, hi) = bucket_range(i);
            cum += h.counts[i];
            (
                i as i32 + 1,
                bucket_label(i),
                lo,
                hi.is_finite().then_some(hi),
                h.counts[i],
                h.counts[i] as f64 / total,
                cum as f64 / total,
            )
        })
        .collect();
    Ok(TableIterator::new(rows))
}

/// Forget recorded statements. With no arguments: everything, and restart the eviction count and
/// `stats_reset`. Each argument narrows it (NULL = any). Returns how many entries were removed.
/// Not strict: NULL arguments mean "any". Revoked from PUBLIC at install.
#[pg_extern(volatile, parallel_unsafe)]
fn reset(
    userid: default!(Option<pg_sys::Oid>, "NULL"),
    dbid: default!(Option<pg_sys::Oid>, "NULL"),
    queryid: default!(Option<i64>, "NULL"),
) -> Result<i64> {
    require_preloaded()?;
    let all = userid.is_none() && dbid.is_none() && queryid.is_none();
    let n = shmem::reset(all, |k| {
        userid.is_none_or(|u| u.to_u32() == k.userid)
            && dbid.is_none_or(|d| d.to_u32() == k.dbid)
            && queryid.is_none_or(|q| q as u64 == k.queryid)
    });
    Ok(n as i64)
}
