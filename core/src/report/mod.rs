//! The report renderer: one JSON document (`pg_optimizer.report`, version 1) in, either one
//! self-contained HTML5 page (`render_html`) or plain text for psql (`render_text`) out.
//!
//! The document, every field optional (render what is there):
//!
//! ```text
//! { "format": "pg_optimizer.report", "version": 1,
//!   "generated_at", "database", "server_version", "extension_version": strings,
//!   "window_seconds": number,
//!   "health":     [ {area, status, findings, top_finding, top_action} ],
//!   "findings":   [ {insight, severity, evidence, recommendation} ],
//!   "statements": [ {queryid, query, calls, total_ms, mean_ms, p95_ms, p99_ms, rows, time_share,
//!                    histogram: [ {lower_ms, upper_ms (null: open), calls} ]} ],
//!   "tables":     [ {table, table_bytes, index_bytes, rows, indexes: [ {index, bytes, scans} ]} ],
//!   "advice":     {statements, candidates, planner_calls, workload_cost_before,
//!                  workload_cost_after, actions: [ {action, ddl, table, index, bytes,
//!                  benefit_share, queryids: [string], reason} ]},
//!   "lint":       {statements, parsed, findings: [ {queryid, query, rule, severity, fragment,
//!                  position, evidence, rewrite} ], unparsed: [ {queryid, query, message} ]} }
//! ```
//!
//! queryids are strings (64-bit values do not fit JavaScript numbers); a number is accepted too.
//! Statuses and severities: `ok`, `info`, `warning`, `critical`. A missing field, a `null` or a
//! value of the wrong type reads as absent (`model`), never as an error: the renderers show what
//! is there and a "nothing to show" line for an empty section.
//!
//! Files: `model` (the tolerant reading of the document), `fmt` (escaping, sizes, durations,
//! shortening), `svg` (the inline charts), `html` (the page), `text` (the psql text).
//!
//! The page has no `<script>`, no external URL of any kind (no fonts, images, links, `url(`,
//! `@import`, `src=`): it opens the same offline, from a mail attachment or a file share.
//! `scripts/check_report.py` proves that in headless Chromium (no console message, no request
//! besides the file itself).

mod fmt;
mod html;
mod model;
mod svg;
mod text;

#[cfg(test)]
mod tests;

pub use fmt::{escape_html, pretty_bytes};

use serde_json::Value;

/// The report as one self-contained HTML5 page: inline `<style>`, inline `<svg>` charts, no
/// script, no external resource. Every text of the document is HTML-escaped. Never panics,
/// whatever `doc` holds (`{}`, `null`, fields of the wrong type): absent sections render a
/// "nothing to show" line.
pub fn render_html(doc: &Value) -> String {
    html::render(&model::Report::read(doc))
}

/// The report as plain text for psql, readable at 100 columns: header, health table, top
/// statements, latency histograms, table sizes, index advice, insight findings, lint findings
/// and the statements that did not parse. Never panics, whatever `doc` holds.
pub fn render_text(doc: &Value) -> String {
    text::render(&model::Report::read(doc))
}
