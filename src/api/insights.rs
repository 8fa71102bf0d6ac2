//! The linter, the report and the advice as JSON from SQL: `lint_statements()` (behind the view
//! `optimizer.lint`), `lint_sql(text)`, `lint_rules()`, `index_advice_json(...)` and
//! `report(format)`.

use crate::api::advisor::{advise, options_with_sources};
use crate::error::{invalid_argument, Result};
use crate::insights::{lint, report};
use pg_optimizer_core::lint::{self as rules, Finding};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{JsonB, PgSqlErrorCode};

fn failed(what: &str, m: String) -> ErrorReport {
    ErrorReport::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, format!("{what} failed: {m}"), "pg_optimizer")
}

type LintRow = (Option<i64>, Option<String>, String, String, Option<String>, Option<i32>, String, Option<String>);

fn row(f: &Finding, query: Option<String>) -> LintRow {
    (f.queryid, query, f.rule.to_string(), f.severity.as_str().to_string(), Some(f.fragment.clone()), Some(f.position as i32), f.evidence.clone(), Some(f.rewrite.clone()))
}

/// Every recorded statement of this database the caller may read, linted: one row per finding,
/// and one `parse_error` row per statement the parser could not read (never hidden). `query` is
/// the text `position` points into: the slowest execution's text when it parses, else the
/// normalised text (always the normalised text for `n_plus_one`).
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::type_complexity)]
fn lint_statements() -> Result<
    TableIterator<
        'static,
        (
            name!(queryid, Option<i64>),
            name!(query, Option<String>),
            name!(rule, String),
            name!(severity, String),
            name!(fragment, Option<String>),
            name!(position, Option<i32>),
            name!(evidence, String),
            name!(rewrite, Option<String>),
        ),
    >,
> {
    crate::api::statements::require_preloaded()?;
    let stmts = lint::statements().map_err(|m| failed("lint", m))?;
    let w = rules::lint_workload(&stmts, &lint::SpiCatalog::default());
    let mut out: Vec<LintRow> = w.findings.iter().map(|f| row(f, lint::text_of(&w, &stmts, f))).collect();
    for (s, u) in &w.unparsed {
        out.push((Some(s.queryid), Some(s.query.clone()), "parse_error".into(), "info".into(), None, None, format!("not linted: {}", u.message), None));
    }
    Ok(TableIterator::new(out))
}

/// Lint SQL text that has not run (several statements separated by `;` are linted one by one).
/// A text the parser cannot read is an error with the parser's message.
#[pg_extern(stable, strict, parallel_unsafe)]
#[allow(clippy::type_complexity)]
fn lint_sql(
    sql: &str,
) -> Result<
    TableIterator<
        'static,
        (
            name!(rule, String),
            name!(severity, String),
            name!(fragment, String),
            name!(position, i32),
            name!(evidence, String),
            name!(rewrite, String),
        ),
    >,
> {
    let found = rules::lint_sql(sql, None, &lint::SpiCatalog::default()).map_err(|u| {
        ErrorReport::new(PgSqlErrorCode::ERRCODE_SYNTAX_ERROR, format!("lint_sql: cannot parse the text: {}", u.message), "pg_optimizer")
            .set_hint("The linter reads PostgreSQL's dialect as the sqlparser crate knows it; a statement PostgreSQL runs may still be beyond it.")
    })?;
    Ok(TableIterator::new(
        found.into_iter().map(|f| (f.rule.to_string(), f.severity.as_str().to_string(), f.fragment, f.position as i32, f.evidence, f.rewrite)).collect::<Vec<_>>(),
    ))
}

/// How much of the recorded workload the linter reads: statements, how many parse, the share.
#[pg_extern(volatile, parallel_unsafe)]
fn lint_coverage() -> Result<TableIterator<'static, (name!(statements, i64), name!(parsed, i64), name!(parsed_share, Option<f64>), name!(findings, i64))>> {
    crate::api::statements::require_preloaded()?;
    let stmts = lint::statements().map_err(|m| failed("lint", m))?;
    let w = rules::lint_workload(&stmts, &lint::SpiCatalog::default());
    let n = stmts.len() as i64;
    Ok(TableIterator::once((n, w.parsed as i64, (n > 0).then(|| w.parsed as f64 / n as f64), w.findings.len() as i64)))
}

/// The linter's rules: id, severity and what each finds.
#[pg_extern(immutable, parallel_safe)]
fn lint_rules() -> TableIterator<'static, (name!(rule, String), name!(severity, String), name!(description, String))> {
    TableIterator::new(rules::RULES.iter().map(|(r, s, d)| (r.to_string(), s.as_str().to_string(), d.to_string())).collect::<Vec<_>>())
}

/// `index_advice(...)` as one JSON document (shape `pg_optimizer.index_advice`, version 1).
#[pg_extern(volatile, parallel_unsafe)]
fn index_advice_json(budget_mb: default!(Option<i32>, "NULL"), sources: default!(Option<Vec<Option<String>>>, "NULL")) -> Result<JsonB> {
    let o = options_with_sources(budget_mb, None, true, sources)?;
    let r = advise(&o)?;
    Ok(JsonB(report::advice_json(&r, o.budget_bytes, o.sources.as_deref().unwrap_or(&[]))))
}

/// The report of this database: health, findings, top statements with latency histograms,
/// table and index sizes, the index advice and the lint findings, as `text` (for psql), `json`
/// (shape `pg_optimizer.report`, version 1) or `html` (one self-contained page, charts as inline
/// SVG: write it to a file and open it in a browser).
#[pg_extern(volatile, parallel_unsafe)]
fn report(format: default!(Option<String>, "'text'"), budget_mb: default!(Option<i32>, "NULL")) -> Result<String> {
    let format = format.unwrap_or_else(|| "text".into());
    if !matches!(format.as_str(), "text" | "json" | "html") {
        return Err(invalid_argument(format!("unknown report format \"{format}\""), "format is 'text', 'json' or 'html'."));
    }
    crate::api::statements::require_preloaded()?;
    let o = options_with_sources(budget_mb, None, true, None)?;
    let advice = report::advice_json(&advise(&o)?, o.budget_bytes, &[]);
    let doc = report::document(advice).map_err(|m| failed("report", m))?;
    Ok(match format.as_str() {
        "json" => serde_json::to_string_pretty(&doc).map_err(|e| failed("report", e.to_string()))?,
        "html" => pg_optimizer_core::report::render_html(&doc),
        _ => pg_optimizer_core::report::render_text(&doc),
    })
}
