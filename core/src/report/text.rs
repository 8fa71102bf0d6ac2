//! The plain-text report for psql, at most `WIDTH` columns wide (a DDL line longer than that is
//! left whole, so it can be copied): the header, then one titled section each for health, top
//! statements, latency histograms, table sizes, index advice, insight findings, lint findings
//! and unparsed statements, in the page's order. Tables have aligned columns: every column but
//! the last is cut with `…` to its width, the last takes the rest of the line and wraps.

use std::fmt::Write;

use super::fmt::{
    count, counted, cut, duration, ms, ms_axis, or_dash, pct, pretty_bytes, shorten, width, wrap,
};
use super::model::*;

/// The width of the text.
pub(crate) const WIDTH: usize = 100;
/// Spaces between columns.
const SEP: usize = 2;
/// The narrowest last column.
const MIN_LAST: usize = 20;
/// Statements listed, histograms drawn, tables listed, rows of the other lists.
const TOP_STATEMENTS: usize = 15;
const HISTOGRAMS: usize = 5;
const TABLES: usize = 30;
const ROWS: usize = 500;
/// Longest query shown (then wrapped), longest free text.
const QUERY: usize = 120;
const LONG_TEXT: usize = 2000;

/// A column: its heading, its widest width, whether its cells align right.
struct Col {
    head: &'static str,
    max: usize,
    right: bool,
}

const fn col(head: &'static str, max: usize) -> Col {
    Col {
        head,
        max,
        right: false,
    }
}

const fn num(head: &'static str, max: usize) -> Col {
    Col {
        head,
        max,
        right: true,
    }
}

/// `s` padded to `w` columns (cut first if wider), left or right aligned.
fn pad(s: &str, w: usize, right: bool) -> String {
    let s = cut(s, w);
    let fill = " ".repeat(w.saturating_sub(width(&s)));
    if right {
        format!("{fill}{s}")
    } else {
        format!("{s}{fill}")
    }
}

/// Appends `line` without trailing spaces.
fn push_line(out: &mut String, line: &str) {
    out.push_str(line.trim_end());
    out.push('\n');
}

/// An aligned table indented by `indent`. Every column but the last is as wide as its widest
/// cell or heading, up to its `max`, and its cells are cut (one line, whitespace collapsed). The
/// last column takes the rest of `WIDTH` (at least `MIN_LAST`) and wraps; a `\n` in its cell
/// starts a new line. No heading lines when every heading is empty.
fn table(out: &mut String, indent: usize, cols: &[Col], rows: &[Vec<String>]) {
    let n = cols.len();
    let mut widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let cells = rows
                .iter()
                .filter_map(|r| r.get(i))
                .map(|s| width(&shorten(s, c.max)));
            cells
                .chain(std::iter::once(width(c.head)))
                .max()
                .unwrap_or(0)
                .min(c.max)
        })
        .collect();
    let used: usize = widths[..n - 1].iter().sum::<usize>() + SEP * (n - 1) + indent;
    widths[n - 1] = WIDTH.saturating_sub(used).max(MIN_LAST);
    let lead = " ".repeat(indent);
    let sep = " ".repeat(SEP);
    let last_at = used;
    if cols.iter().any(|c| !c.head.is_empty()) {
        let heads: Vec<String> = cols
            .iter()
            .zip(&widths)
            .map(|(c, w)| pad(c.head, *w, c.right))
            .collect();
        push_line(out, &format!("{lead}{}", heads.join(&sep)));
        let rules: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        push_line(out, &format!("{lead}{}", rules.join(&sep)));
    }
    for r in rows {
        let cell = |i: usize| r.get(i).map(String::as_str).unwrap_or("");
        let firsts: Vec<String> = (0..n - 1)
            .map(|i| pad(&shorten(cell(i), cols[i].max), widths[i], cols[i].right))
            .collect();
        let lines = wrap(cell(n - 1), widths[n - 1]);
        let mut first = format!("{lead}{}", firsts.join(&sep));
        if n > 1 {
            first.push_str(&sep);
        }
        let last_right = cols[n - 1].right;
        first.push_str(&pad(&lines[0], widths[n - 1], last_right));
        push_line(out, &first);
        for l in &lines[1..] {
            push_line(out, &format!("{}{}", " ".repeat(last_at), l));
        }
    }
}

/// A section title, underlined.
fn title(out: &mut String, t: &str) {
    out.push('\n');
    push_line(out, t);
    push_line(out, &"=".repeat(width(t)));
}

/// The "nothing to show" line.
fn empty(out: &mut String, what: &str) {
    push_line(out, &format!("Nothing to show: {what}."));
}

/// The line under a capped list.
fn more(out: &mut String, shown: usize, total: usize, what: &str) {
    if total > shown {
        push_line(out, &format!("({} more {what} not shown)", total - shown));
    }
}

/// `s` wrapped to `WIDTH - indent`, each line indented.
fn para(out: &mut String, indent: usize, s: &str) {
    for l in wrap(s, WIDTH - indent) {
        push_line(out, &format!("{}{l}", " ".repeat(indent)));
    }
}

/// The whole text.
pub(crate) fn render(r: &Report) -> String {
    let mut out = String::with_capacity(16 * 1024);
    header(&mut out, &r.header);
    health(&mut out, &r.health);
    statements(&mut out, &r.statements);
    histograms(&mut out, &r.statements);
    sizes(&mut out, &r.tables);
    advice(&mut out, r.advice.as_ref());
    findings(&mut out, r);
    lint(&mut out, r.lint.as_ref());
    out
}

fn header(out: &mut String, h: &Header) {
    let t = match &h.database {
        Some(db) => format!("pg_optimizer report: {}", shorten(db, 70)),
        None => "pg_optimizer report".to_string(),
    };
    push_line(out, &t);
    let items = [
        ("server", h.server_version.clone()),
        ("pg_optimizer", h.extension_version.clone()),
        ("generated", h.generated_at.clone()),
        ("statistics window", h.window_seconds.map(duration)),
    ];
    let line = items
        .iter()
        .map(|(k, v)| {
            format!(
                "{k} {}",
                v.as_deref()
                    .map(|s| shorten(s, 60))
                    .unwrap_or("unknown".into())
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    para(out, 0, &line);
}

fn health(out: &mut String, areas: &[Health]) {
    title(out, "Health by area");
    if areas.is_empty() {
        return empty(out, "no health areas in the document");
    }
    let rows: Vec<Vec<String>> = areas
        .iter()
        .map(|a| {
            let mut top = a
                .top_finding
                .as_deref()
                .map(|s| shorten(s, LONG_TEXT))
                .unwrap_or("-".into());
            if let Some(act) = &a.top_action {
                top = format!("{top}\n→ {}", shorten(act, LONG_TEXT));
            }
            vec![
                a.area.clone().unwrap_or("(no area)".into()),
                a.status.word().to_string(),
                or_dash(a.findings, count),
                top,
            ]
        })
        .collect();
    let cols = [
        col("area", 24),
        col("status", 8),
        num("findings", 8),
        col("top finding → top action", 0),
    ];
    table(out, 0, &cols, &rows);
}

fn statements(out: &mut String, list: &[Statement]) {
    title(out, "Top statements by total time");
    if list.is_empty() {
        return empty(out, "no statements in the document");
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .take(TOP_STATEMENTS)
        .enumerate()
        .map(|(i, s)| {
            let id = s
                .queryid
                .as_deref()
                .map(|id| format!("queryid {id}"))
                .unwrap_or("queryid -".into());
            let q = s
                .query
                .as_deref()
                .map(|q| shorten(q, QUERY))
                .unwrap_or("-".into());
            vec![
                (i + 1).to_string(),
                or_dash(s.calls, count),
                or_dash(s.total_ms, ms),
                or_dash(s.mean_ms, ms),
                or_dash(s.p95_ms, ms),
                or_dash(s.p99_ms, ms),
                or_dash(s.time_share, pct),
                format!("{id}\n{q}"),
            ]
        })
        .collect();
    let cols = [
        num("#", 3),
        num("calls", 12),
        num("total", 10),
        num("mean", 10),
        num("p95", 10),
        num("p99", 10),
        num("share", 6),
        col("queryid / query", 0),
    ];
    table(out, 0, &cols, &rows);
    more(
        out,
        list.len().min(TOP_STATEMENTS),
        list.len(),
        "statements",
    );
}

fn histograms(out: &mut String, list: &[Statement]) {
    title(out, "Latency histograms (calls per bucket)");
    let with: Vec<&Statement> = list
        .iter()
        .filter(|s| !s.histogram.is_empty())
        .take(HISTOGRAMS)
        .collect();
    if with.is_empty() {
        return empty(out, "no statement with a latency histogram");
    }
    for s in &with {
        let name = match (&s.query, &s.queryid) {
            (Some(q), _) => shorten(q, WIDTH - 4),
            (None, Some(id)) => format!("queryid {id}"),
            (None, None) => "(no query)".into(),
        };
        out.push('\n');
        push_line(out, &format!("  {name}"));
        let max = s.histogram.iter().map(|b| b.calls).fold(0.0, f64::max);
        let rows: Vec<Vec<String>> = s
            .histogram
            .iter()
            .map(|b| {
                let label = match (b.lower_ms, b.upper_ms) {
                    (_, Some(u)) => format!("< {}", ms_axis(u)),
                    (Some(l), None) => format!("≥ {}", ms_axis(l)),
                    (None, None) => "?".into(),
                };
                let bar_w = 50.0;
                let n = if max > 0.0 {
                    (b.calls / max * bar_w).round() as usize
                } else {
                    0
                };
                let n = if n == 0 && b.calls > 0.0 { 1 } else { n };
                vec![label, count(b.calls), "#".repeat(n)]
            })
            .collect();
        table(out, 4, &[col("", 12), num("", 12), col("", 0)], &rows);
    }
    let total = list.iter().filter(|s| !s.histogram.is_empty()).count();
    more(out, with.len(), total, "histograms");
}

fn sizes(out: &mut String, tables: &[Table]) {
    title(out, "Table and index sizes (bar: # table, + indexes)");
    if tables.is_empty() {
        return empty(out, "no tables in the document");
    }
    let shown = &tables[..tables.len().min(TABLES)];
    let max = shown.iter().map(Table::total_bytes).fold(0.0, f64::max);
    // MIN_LAST wide, so the bar never wraps.
    const BAR: f64 = MIN_LAST as f64;
    let rows: Vec<Vec<String>> = shown
        .iter()
        .map(|t| {
            let scale = |v: Option<f64>| {
                if max > 0.0 {
                    (v.unwrap_or(0.0).max(0.0) / max * BAR).round() as usize
                } else {
                    0
                }
            };
            vec![
                t.name.clone().unwrap_or("(no name)".into()),
                or_dash(t.rows, count),
                or_dash(t.table_bytes, pretty_bytes),
                or_dash(t.index_bytes, pretty_bytes),
                pretty_bytes(t.total_bytes()),
                format!(
                    "{}{}",
                    "#".repeat(scale(t.table_bytes)),
                    "+".repeat(scale(t.index_bytes))
                ),
            ]
        })
        .collect();
    let cols = [
        col("table", 30),
        num("rows", 12),
        num("table", 9),
        num("indexes", 9),
        num("total", 9),
        col("", 0),
    ];
    table(out, 0, &cols, &rows);
    more(out, shown.len(), tables.len(), "tables");
}

fn advice(out: &mut String, a: Option<&Advice>) {
    title(out, "Index advice");
    let Some(a) = a else {
        return empty(out, "no index advice in the document");
    };
    let summary = a.summary();
    if !summary.is_empty() {
        para(out, 0, &summary);
    }
    if a.actions.is_empty() {
        return empty(out, "the advisor proposes no action");
    }
    for (i, x) in a.actions.iter().take(ROWS).enumerate() {
        let mut head = format!(
            "{:>3}. {}",
            i + 1,
            shorten(x.action.as_deref().unwrap_or("?"), 20)
        );
        let target = [x.table.as_deref(), x.index.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>();
        if !target.is_empty() {
            let _ = write!(head, " | {}", shorten(&target.join(" / "), 60));
        }
        if let Some(b) = x.bytes {
            let _ = write!(head, " | {}", pretty_bytes(b));
        }
        if let Some(b) = x.benefit_share {
            let _ = write!(head, " | benefit {}", pct(b));
        }
        out.push('\n');
        push_line(out, &cut(&head, WIDTH));
        if let Some(d) = &x.ddl {
            // Whole, one line each: DDL is for copying.
            for l in d.trim().lines().take(50) {
                push_line(out, &format!("     {}", cut(l, LONG_TEXT)));
            }
        }
        if let Some(r) = &x.reason {
            para(out, 5, &shorten(r, LONG_TEXT));
        }
        if !x.queryids.is_empty() {
            para(
                out,
                5,
                &format!("queryids: {}", shorten(&x.queryids.join(", "), LONG_TEXT)),
            );
        }
    }
    more(out, a.actions.len().min(ROWS), a.actions.len(), "actions");
}

fn findings(out: &mut String, r: &Report) {
    title(out, "Insight findings");
    if r.findings.is_empty() {
        return empty(out, "no insight findings in the document");
    }
    let mut shown = 0;
    for (insight, list) in r.findings_by_insight() {
        if shown >= ROWS {
            break;
        }
        out.push('\n');
        let n = counted(list.len() as f64, "finding");
        push_line(out, &format!("{} ({n})", shorten(&insight, 80)));
        let rows: Vec<Vec<String>> = list
            .iter()
            .take(ROWS - shown)
            .map(|f| {
                let mut text = f
                    .evidence
                    .as_deref()
                    .map(|s| shorten(s, LONG_TEXT))
                    .unwrap_or("-".into());
                if let Some(rec) = &f.recommendation {
                    text = format!("{text}\n→ {}", shorten(rec, LONG_TEXT));
                }
                vec![f.severity.word().to_string(), text]
            })
            .collect();
        shown += rows.len();
        table(out, 2, &[col("", 8), col("", 0)], &rows);
    }
    more(out, shown, r.findings.len(), "findings");
}

fn lint(out: &mut String, l: Option<&Lint>) {
    title(out, "Lint findings");
    let Some(l) = l else {
        return empty(out, "no lint results in the document");
    };
    para(out, 0, &l.summary());
    if l.findings.is_empty() {
        empty(out, "no lint findings");
    } else {
        let rows: Vec<Vec<String>> = l
            .findings
            .iter()
            .take(ROWS)
            .map(|f| {
                let mut text = format!(
                    "query: {}",
                    f.query
                        .as_deref()
                        .map(|q| shorten(q, 120))
                        .unwrap_or("-".into())
                );
                if let Some(fr) = &f.fragment {
                    let _ = write!(text, "\nfragment: {}", shorten(fr, 120));
                }
                if let Some(e) = &f.evidence {
                    let _ = write!(text, "\n{}", shorten(e, LONG_TEXT));
                }
                if let Some(rw) = &f.rewrite {
                    let _ = write!(text, "\nrewrite: {}", shorten(rw, LONG_TEXT));
                }
                vec![
                    f.rule.clone().unwrap_or("-".into()),
                    f.severity.word().to_string(),
                    f.queryid.clone().unwrap_or("-".into()),
                    text,
                ]
            })
            .collect();
        out.push('\n');
        table(
            out,
            0,
            &[
                col("rule", 22),
                col("severity", 8),
                col("queryid", 20),
                col("details", 0),
            ],
            &rows,
        );
        more(
            out,
            l.findings.len().min(ROWS),
            l.findings.len(),
            "lint findings",
        );
    }
    title(out, "Statements that did not parse");
    if l.unparsed.is_empty() {
        return empty(out, "every statement parsed");
    }
    let rows: Vec<Vec<String>> = l
        .unparsed
        .iter()
        .take(ROWS)
        .map(|u| {
            vec![
                u.queryid.clone().unwrap_or("-".into()),
                format!(
                    "{}\n{}",
                    u.query
                        .as_deref()
                        .map(|q| shorten(q, QUERY))
                        .unwrap_or("-".into()),
                    u.message
                        .as_deref()
                        .map(|m| shorten(m, LONG_TEXT))
                        .unwrap_or("-".into())
                ),
            ]
        })
        .collect();
    table(
        out,
        0,
        &[col("queryid", 20), col("query / parser message", 0)],
        &rows,
    );
    more(
        out,
        l.unparsed.len().min(ROWS),
        l.unparsed.len(),
        "statements",
    );
}
