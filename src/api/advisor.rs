//! The index advisor from SQL: `index_advice(...)` (one row per recommendation) and
//! `index_advice_report(...)` (the same as readable text, with what the run did).

use crate::advisor::run::{self, Action, Options, Report};
use crate::error::{invalid_argument, Result};
use crate::gucs;
use pgrx::prelude::*;

pub(crate) fn options(budget_mb: Option<i32>, max_per_table: Option<i32>, drops: bool) -> Result<Options> {
    options_with_sources(budget_mb, max_per_table, drops, None)
}

/// Options, with the workloads to advise (`sources`: `local` and imported names; NULL: local).
pub(crate) fn options_with_sources(budget_mb: Option<i32>, max_per_table: Option<i32>, drops: bool, sources: Option<Vec<Option<String>>>) -> Result<Options> {
    let sources = match sources {
        None => None,
        Some(v) => {
            if v.is_empty() || v.iter().any(|s| s.as_deref().is_none_or(str::is_empty)) {
                return Err(invalid_argument(
                    "sources must name one workload or more, none of them NULL or empty".to_string(),
                    "Name 'local' (this server's) and imported workloads (optimizer.imported_workloads), e.g. sources => ARRAY['local', 'standby1'].",
                ));
            }
            let mut v: Vec<String> = v.into_iter().flatten().collect();
            v.sort();
            v.dedup();
            // Every imported name must be there (and readable by the caller: row-level security).
            let imported: Vec<String> = v.iter().filter(|s| s.as_str() != crate::advisor::workload::LOCAL).cloned().collect();
            if !imported.is_empty() {
                let found = crate::pg::read_one::<Vec<String>>(
                    "SELECT COALESCE(pg_catalog.array_agg(DISTINCT source), '{}') FROM optimizer.imported_workloads WHERE source = ANY($1)",
                    &[imported.clone().into()],
                )
                .ok()
                .flatten()
                .unwrap_or_default();
                if let Some(missing) = imported.iter().find(|s| !found.contains(s)) {
                    return Err(pgrx::pg_sys::panic::ErrorReport::new(
                        PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
                        format!("no imported workload named \"{missing}\""),
                        "pg_optimizer",
                    )
                    .set_hint("SELECT source, imported_by, exported_at FROM optimizer.imported_workloads lists the ones you may read; import one with optimizer.import_workload(document, source)."));
                }
            }
            Some(v)
        }
    };
    if let Some(b) = budget_mb.filter(|&b| b < 0) {
        return Err(invalid_argument(format!("budget_mb must be 0 or more, not {b}"), "budget_mb is the storage the new indexes may take, in MB; NULL uses pg_optimizer.advisor_budget_mb."));
    }
    if let Some(m) = max_per_table.filter(|&m| m < 0) {
        return Err(invalid_argument(
            format!("max_indexes_per_table must be 0 or more, not {m}"),
            "max_indexes_per_table caps the indexes proposed per table; NULL uses pg_optimizer.advisor_max_indexes_per_table.",
        ));
    }
    Ok(Options {
        budget_bytes: budget_mb.unwrap_or_else(gucs::advisor_budget_mb).max(0) as f64 * 1024.0 * 1024.0,
        max_per_table: max_per_table.map(|m| m.max(0) as usize).unwrap_or_else(gucs::advisor_max_per_table),
        max_planner_calls: gucs::advisor_max_planner_calls(),
        max_seconds: gucs::advisor_max_seconds(),
        min_benefit_pct: gucs::advisor_min_benefit_pct(),
        write_cost_factor: gucs::advisor_write_cost_factor(),
        time_calibration: gucs::advisor_time_calibration(),
        unused_days: gucs::advisor_unused_days(),
        drops,
        sources,
    })
}

pub(crate) fn advise(o: &Options) -> Result<Report> {
    crate::api::statements::require_preloaded()?;
    run::run(o).map_err(|m| {
        pgrx::pg_sys::panic::ErrorReport::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, format!("index advisor failed: {m}"), "pg_optimizer")
            .set_hint("Check the server log; the advisor reads optimizer.statements and optimizer.predicates, which need the extension preloaded.")
    })
}

/// Indexes to create (with the planner's evidence) and indexes to drop, for the recorded
/// workload of this database. `budget_mb` defaults to `pg_optimizer.advisor_budget_mb`;
/// `sources` names the workloads to advise together: `local` (this server's, the default) and
/// workloads imported with `import_workload`.
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::type_complexity)]
fn index_advice(
    budget_mb: default!(Option<i32>, "NULL"),
    max_indexes_per_table: default!(Option<i32>, "NULL"),
    include_drops: default!(bool, true),
    sources: default!(Option<Vec<Option<String>>>, "NULL"),
) -> Result<
    TableIterator<
        'static,
        (
            name!(action, String),
            name!(ddl, Option<String>),
            name!(table_name, Option<String>),
            name!(index_name, Option<String>),
            name!(columns, Vec<String>),
            name!(include_columns, Vec<String>),
            name!(method, Option<String>),
            name!(predicate, Option<String>),
            name!(estimated_bytes, Option<i64>),
            name!(estimated_size, Option<String>),
            name!(workload_cost_before, Option<f64>),
            name!(workload_cost_after, Option<f64>),
            name!(benefit, Option<f64>),
            name!(benefit_share, Option<f64>),
            name!(queryids, Vec<i64>),
            name!(write_penalty, Option<f64>),
            name!(planner_calls, i64),
            name!(reason, String),
        ),
    >,
> {
    let r = advise(&options_with_sources(budget_mb, max_indexes_per_table, include_drops, sources)?)?;
    let calls = r.planner_calls as i64;
    let rows: Vec<_> = r
        .rows
        .into_iter()
        .map(|x| {
            let create = x.action == Action::Create;
            let sized = x.action != Action::Note;
            (
                x.action.as_str().to_string(),
                x.ddl,
                x.table_name,
                x.index_name,
                x.columns,
                x.include,
                x.method,
                x.predicate,
                sized.then_some(x.bytes as i64),
                sized.then(|| crate::advisor::text::size_pretty(x.bytes)),
                create.then_some(x.cost_before),
                create.then_some(x.cost_after),
                create.then_some(x.benefit),
                create.then_some(x.benefit_share),
                x.queryids,
                sized.then_some(x.write_penalty),
                calls,
                x.reason,
            )
        })
        .collect();
    Ok(TableIterator::new(rows))
}

/// The advice for auto-indexing (`src/sql/autoindex.sql`): each create and drop with its table's
/// OID, the `optimizer.create_index` call that builds it (creates) or the DDL (drops), and the
/// evidence. The same run as `index_advice`.
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::type_complexity)]
fn autoindex_candidates(
    budget_mb: default!(Option<i32>, "NULL"),
    max_indexes_per_table: default!(Option<i32>, "NULL"),
) -> Result<
    TableIterator<
        'static,
        (
            name!(action, String),
            name!(relid, pg_sys::Oid),
            name!(index_name, Option<String>),
            name!(build, Option<String>),
            name!(ddl, Option<String>),
            name!(estimated_bytes, i64),
            name!(workload_cost_before, f64),
            name!(workload_cost_after, f64),
            name!(benefit_share, f64),
            name!(queryids, Vec<i64>),
            name!(reason, String),
        ),
    >,
> {
    let r = advise(&options(budget_mb, max_indexes_per_table, true)?)?;
    let rows: Vec<_> = r
        .rows
        .into_iter()
        .filter(|x| x.action == Action::Create || x.action == Action::Drop)
        .map(|x| {
            (
                x.action.as_str().to_string(),
                pg_sys::Oid::from(x.relid),
                x.index_name,
                x.build,
                x.ddl,
                x.bytes as i64,
                x.cost_before,
                x.cost_after,
                x.benefit_share,
                x.queryids,
                x.reason,
            )
        })
        .collect();
    Ok(TableIterator::new(rows))
}

/// Indexes the drop rules name (unused, duplicate, prefix of another, invalid), without planning
/// anything: the findings behind `optimizer.unused_indexes`, `duplicate_indexes` and
/// `invalid_indexes`, by the same rules as `index_advice`'s drops (one implementation).
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::type_complexity)]
fn index_findings() -> Result<
    TableIterator<
        'static,
        (
            name!(kind, String),
            name!(indexrelid, pg_sys::Oid),
            name!(relid, pg_sys::Oid),
            name!(index_name, Option<String>),
            name!(table_name, Option<String>),
            name!(other_index, Option<String>),
            name!(bytes, i64),
            name!(scans, i64),
            name!(reason, String),
            name!(ddl, Option<String>),
        ),
    >,
> {
    crate::api::statements::require_preloaded()?;
    let o = options(None, None, true)?;
    let rows = crate::advisor::run::drop_findings(&o).map_err(|m| {
        pgrx::pg_sys::panic::ErrorReport::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, format!("index findings failed: {m}"), "pg_optimizer")
    })?;
    Ok(TableIterator::new(rows.into_iter().map(|x| {
        (
            x.drop_kind.unwrap_or("unused").to_string(),
            pg_sys::Oid::from(x.index_oid),
            pg_sys::Oid::from(x.relid),
            x.index_name,
            x.table_name,
            x.other_index,
            x.bytes as i64,
            x.scans,
            x.reason,
            x.ddl,
        )
    })))
}

/// The advice as text: recommendations, then notes, rejected candidates and what the run did.
#[pg_extern(volatile, parallel_unsafe)]
fn index_advice_report(budget_mb: default!(Option<i32>, "NULL")) -> Result<String> {
    let o = options(budget_mb, None, true)?;
    let r = advise(&o)?;
    let mut s = String::new();
    let creates: Vec<_> = r.rows.iter().filter(|x| x.action == Action::Create).collect();
    let drops: Vec<_> = r.rows.iter().filter(|x| x.action == Action::Drop).collect();
    let notes: Vec<_> = r.rows.iter().filter(|x| x.action == Action::Note).collect();
    s += &format!(
        "Index advice for {} recorded statements{} (budget {} MB)\n",
        r.recorded,
        if r.statements < r.recorded { format!(", costed as {} shapes", r.statements) } else { String::new() },
        (o.budget_bytes / 1048576.0).round()
    );
    if let Some(c) = creates.first() {
        s += &format!("Workload cost: {:.0} -> {:.0} per hour ({:.1}% less)\n", c.cost_before, c.cost_after, 100.0 * (1.0 - c.cost_after / c.cost_before.max(1e-9)));
    }
    s += "\n";
    if creates.is_empty() {
        s += if r.capped {
            "No new index found before the search stopped (see the note below).\n"
        } else {
            "No new index pays for itself.\n"
        };
    }
    for (i, c) in creates.iter().enumerate() {
        s += &format!("{}. {};\n   {} ({}), helps queryids {:?}\n", i + 1, c.ddl.as_deref().unwrap_or(""), c.reason, crate::advisor::text::size_pretty(c.bytes), c.queryids);
    }
    for d in &drops {
        s += &format!("- {};\n   {}\n", d.ddl.as_deref().unwrap_or(""), d.reason);
    }
    for n in &notes {
        s += &format!("note: {}\n", n.reason);
    }
    for j in &r.rejected {
        s += &format!("rejected: {j}\n");
    }
    s += &format!(
        "\n{} candidates, {} planner calls, {} cache hits{}, {:.1} s\n",
        r.candidates,
        r.planner_calls,
        r.cache_hits,
        if r.capped { ", stopped by its cap (see the note)" } else { "" },
        r.seconds
    );
    Ok(s)
}
