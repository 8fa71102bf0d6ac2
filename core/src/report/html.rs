//! The HTML page: inline `<style>`, the sections in order (header, health, time by statement,
//! latency histograms, table and index sizes, index advice, insight findings, lint), charts from
//! `svg`. No script and no URL: the only links are `#section` anchors. Every text from the
//! document goes through `esc` (long ones shortened first); long lists are capped so the page
//! stays small (about 200 kB for 10 statements, 20 tables and 100 findings).

use std::fmt::Write;

use super::fmt::{
    count, counted, cut, duration, escape_html as esc, ms, ms_axis, or_dash, pct, pretty_bytes,
    shorten,
};
use super::model::*;
use super::svg;

/// Statements in the time chart and the statements table.
const TOP_STATEMENTS: usize = 15;
/// Statements with a latency histogram.
const HISTOGRAMS: usize = 10;
/// Tables in the size chart and table.
const TABLES: usize = 30;
/// Indexes listed per table.
const INDEXES: usize = 40;
/// Rows of the advice, findings, lint and unparsed tables.
const ROWS: usize = 500;
/// Longest query in a table cell or a chart caption, and in a tooltip.
const QUERY_CELL: usize = 200;
const TOOLTIP: usize = 1000;
/// Longest free text (evidence, reason, DDL, rewrite).
const LONG_TEXT: usize = 4000;

const STYLE: &str = r#"
:root{--ok:#2e7d32;--info:#1565c0;--warning:#a15c00;--critical:#c62828;--unknown:#616161;
--line:#d0d7de;--muted:#57606a;--fg:#1f2328}
*{box-sizing:border-box}
body{margin:0;background:#f6f7f9;color:var(--fg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif}
main{max-width:1100px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:24px;margin:0 0 8px}
h2{font-size:18px;margin:32px 0 12px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:20px 0 8px}
nav{margin:8px 0 0;font-size:13px}
nav a{color:var(--info);margin-right:14px;text-decoration:none}
dl.meta{display:flex;flex-wrap:wrap;gap:4px 28px;margin:0;color:var(--muted)}
dl.meta div{display:flex;gap:6px}
dl.meta dt{font-weight:600;color:var(--fg)}
dl.meta dd{margin:0}
.empty{color:var(--muted);font-style:italic}
.more,.summary{color:var(--muted);font-size:13px}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:12px}
.tile{background:#fff;border:1px solid var(--line);border-left:6px solid var(--unknown);
border-radius:6px;padding:10px 12px;min-width:0}
.tile.st-ok{border-left-color:var(--ok);background:#f1f8f2}
.tile.st-info{border-left-color:var(--info);background:#eef4fc}
.tile.st-warning{border-left-color:var(--warning);background:#fdf6e7}
.tile.st-critical{border-left-color:var(--critical);background:#fdeeee}
.tile h3{margin:0;display:flex;justify-content:space-between;align-items:center;gap:8px;
overflow-wrap:anywhere}
.tile .count{color:var(--muted);font-size:13px;margin-top:2px}
.tile .top{margin:6px 0 0;overflow-wrap:anywhere}
.tile code{display:block;margin-top:6px;white-space:pre-wrap;overflow-wrap:anywhere}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;
color:#fff;background:var(--unknown);white-space:nowrap}
.st-ok .badge,.badge.st-ok,.badge.act-create{background:var(--ok)}
.st-info .badge,.badge.st-info{background:var(--info)}
.st-warning .badge,.badge.st-warning{background:var(--warning)}
.st-critical .badge,.badge.st-critical,.badge.act-drop{background:var(--critical)}
.scroll{overflow-x:auto}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid var(--line);font-size:13px}
th,td{text-align:left;vertical-align:top;padding:6px 8px;border-bottom:1px solid #eaeef2;
overflow-wrap:break-word}
td.id{font-family:ui-monospace,SFMono-Regular,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12px}
thead th{background:#eef1f4;white-space:nowrap}
tbody tr:nth-child(even){background:#f6f8fa}
tr.group th{background:#e4e8ec;font-size:14px}
tr.group .n{font-weight:400;color:var(--muted);margin-left:8px}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
code,.sql{font-family:ui-monospace,SFMono-Regular,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12px}
.sql{white-space:pre-wrap;overflow-wrap:anywhere}
.chartbox{background:#fff;border:1px solid var(--line);border-radius:6px;padding:8px;
margin-bottom:12px;overflow:hidden}
svg.chart,svg.hist{display:block;max-width:100%;height:auto}
svg text{fill:var(--fg)}
rect.bar-time,rect.seg-table{fill:#4a78c2}
rect.seg-index{fill:#e0a030}
rect.hbar{fill:#6b8fd6}
line.axis,line.tick{stroke:#8c959f;stroke-width:1}
.hists{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:12px}
figure{margin:0;background:#fff;border:1px solid var(--line);border-radius:6px;padding:8px;min-width:0}
figcaption{font-size:12px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
figcaption .stats{display:block;color:var(--muted);white-space:normal}
"#;

/// The whole page.
pub(crate) fn render(r: &Report) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let title = match &r.header.database {
        Some(db) => format!("pg_optimizer report: {db}"),
        None => "pg_optimizer report".to_string(),
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        esc(&title)
    );
    header(&mut h, &title, &r.header);
    health(&mut h, &r.health);
    time_by_statement(&mut h, &r.statements);
    histograms(&mut h, &r.statements);
    sizes(&mut h, &r.tables);
    advice(&mut h, r.advice.as_ref());
    findings(&mut h, r);
    lint(&mut h, r.lint.as_ref());
    h.push_str("</main>\n</body>\n</html>\n");
    h
}

/// `<section id=..><h2>..</h2>`.
fn open(h: &mut String, id: &str, title: &str) {
    let _ = write!(h, "<section id=\"{id}\">\n<h2>{}</h2>\n", esc(title));
}

fn close(h: &mut String) {
    h.push_str("</section>\n");
}

/// The "nothing to show" line of an empty section.
fn empty(h: &mut String, what: &str) {
    let _ = writeln!(h, "<p class=\"empty\">Nothing to show: {}.</p>", esc(what));
}

/// The line under a capped list.
fn more(h: &mut String, shown: usize, total: usize, what: &str) {
    if total > shown {
        let _ = writeln!(
            h,
            "<p class=\"more\">{} more {what} not shown.</p>",
            total - shown
        );
    }
}

/// A text cell (`-` when absent).
fn td(h: &mut String, v: Option<&str>) {
    let _ = write!(
        h,
        "<td>{}</td>",
        esc(&v.map(|s| shorten(s, LONG_TEXT)).unwrap_or("-".into()))
    );
}

/// An identifier cell (queryid), monospace.
fn td_id(h: &mut String, v: Option<&str>) {
    let _ = write!(
        h,
        "<td class=\"id\">{}</td>",
        esc(&v.map(|s| shorten(s, 100)).unwrap_or("-".into()))
    );
}

/// A right-aligned number cell.
fn td_num(h: &mut String, v: String) {
    let _ = write!(h, "<td class=\"num\">{}</td>", esc(&v));
}

/// A SQL cell: monospace, whitespace kept (`text` already shortened), with a tooltip.
fn td_sql(h: &mut String, text: Option<String>, title: Option<&str>) {
    match (text, title) {
        (Some(t), Some(tip)) => {
            let _ = write!(
                h,
                "<td><code class=\"sql\" title=\"{}\">{}</code></td>",
                esc(&shorten(tip, TOOLTIP)),
                esc(&t)
            );
        }
        (Some(t), None) => {
            let _ = write!(h, "<td><code class=\"sql\">{}</code></td>", esc(&t));
        }
        (None, _) => h.push_str("<td>-</td>"),
    }
}

/// `s` on one line of at most `max` characters.
fn one_line(s: Option<&str>, max: usize) -> Option<String> {
    s.map(|s| shorten(s, max))
}

/// `s` with its line breaks, at most `LONG_TEXT` characters (DDL, rewrites).
fn block(s: Option<&str>) -> Option<String> {
    s.map(|s| cut(s.trim(), LONG_TEXT))
}

/// A severity badge.
fn badge(status: Status) -> String {
    format!("<span class=\"badge st-{0}\">{0}</span>", status.word())
}

/// `<table><thead>` with these headings, then `<tbody>`.
fn thead(h: &mut String, heads: &[&str]) {
    h.push_str("<div class=\"scroll\"><table>\n<thead><tr>");
    for t in heads {
        let _ = write!(h, "<th>{}</th>", esc(t));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
}

fn tfoot(h: &mut String) {
    h.push_str("</tbody>\n</table></div>\n");
}

fn header(h: &mut String, title: &str, hd: &Header) {
    let _ = write!(h, "<header>\n<h1>{}</h1>\n<dl class=\"meta\">", esc(title));
    let items = [
        ("Database", hd.database.clone()),
        ("Server", hd.server_version.clone()),
        ("pg_optimizer", hd.extension_version.clone()),
        ("Generated", hd.generated_at.clone()),
        ("Statistics window", hd.window_seconds.map(duration)),
    ];
    for (k, v) in items {
        let _ = write!(
            h,
            "<div><dt>{}</dt><dd>{}</dd></div>",
            esc(k),
            esc(&v
                .map(|s| shorten(&s, 200))
                .unwrap_or_else(|| "unknown".into()))
        );
    }
    h.push_str("</dl>\n<nav>");
    for (id, t) in [
        ("health", "Health"),
        ("time", "Time"),
        ("latency", "Latency"),
        ("sizes", "Sizes"),
        ("advice", "Index advice"),
        ("findings", "Findings"),
        ("lint", "Lint"),
    ] {
        let _ = write!(h, "<a href=\"#{id}\">{t}</a>");
    }
    h.push_str("</nav>\n</header>\n");
}

fn health(h: &mut String, areas: &[Health]) {
    open(h, "health", "Health by area");
    if areas.is_empty() {
        empty(h, "no health areas in the document");
    } else {
        h.push_str("<div class=\"tiles\">\n");
        for a in areas {
            let st = a.status.word();
            let _ = write!(
                h,
                "<div class=\"tile st-{st}\"><h3><span>{}</span>{}</h3>",
                esc(&shorten(a.area.as_deref().unwrap_or("(no area)"), 100)),
                badge(a.status)
            );
            let n = a.findings.map(|n| counted(n, "finding"));
            let _ = write!(
                h,
                "<div class=\"count\">{}</div>",
                esc(&n.unwrap_or("findings: unknown".into()))
            );
            if let Some(t) = &a.top_finding {
                let _ = write!(h, "<p class=\"top\">{}</p>", esc(&shorten(t, 400)));
            }
            if let Some(t) = &a.top_action {
                let _ = write!(h, "<code>{}</code>", esc(&shorten(t, 400)));
            }
            h.push_str("</div>\n");
        }
        h.push_str("</div>\n");
    }
    close(h);
}

/// A statement's name in a chart: its query, else its queryid.
fn statement_label(s: &Statement) -> String {
    match (&s.query, &s.queryid) {
        (Some(q), _) => shorten(q, QUERY_CELL),
        (None, Some(id)) => format!("queryid {id}"),
        (None, None) => "(no query)".to_string(),
    }
}

/// A statement's tooltip: queryid and the query.
fn statement_title(s: &Statement) -> String {
    let q = s
        .query
        .as_deref()
        .map(|q| shorten(q, TOOLTIP))
        .unwrap_or_default();
    match &s.queryid {
        Some(id) => format!("queryid {id}: {q}"),
        None => q,
    }
}

fn time_by_statement(h: &mut String, statements: &[Statement]) {
    open(h, "time", "Time by statement");
    let timed: Vec<&Statement> = statements
        .iter()
        .filter(|s| s.total_ms.is_some())
        .take(TOP_STATEMENTS)
        .collect();
    if timed.is_empty() {
        empty(h, "no statement with a total time");
    } else {
        let rows: Vec<svg::Row> = timed
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let total = s.total_ms.unwrap_or(0.0);
                let note = match s.time_share {
                    Some(sh) => format!("{} · {}", ms(total), pct(sh)),
                    None => ms(total),
                };
                svg::Row {
                    label: format!("#{} {}", i + 1, statement_label(s)),
                    title: format!("{} ({note})", statement_title(s)),
                    values: vec![total],
                    note,
                }
            })
            .collect();
        h.push_str("<div class=\"chartbox\">");
        h.push_str(&svg::hbars(
            "total time of the top statements",
            &rows,
            &["bar-time"],
            &[],
        ));
        h.push_str("</div>\n");
    }
    if !statements.is_empty() {
        thead(
            h,
            &[
                "#", "queryid", "calls", "total", "mean", "p95", "p99", "rows", "share", "query",
            ],
        );
        for (i, s) in statements.iter().take(TOP_STATEMENTS).enumerate() {
            h.push_str("<tr>");
            td_num(h, (i + 1).to_string());
            td_id(h, s.queryid.as_deref());
            td_num(h, or_dash(s.calls, count));
            td_num(h, or_dash(s.total_ms, ms));
            td_num(h, or_dash(s.mean_ms, ms));
            td_num(h, or_dash(s.p95_ms, ms));
            td_num(h, or_dash(s.p99_ms, ms));
            td_num(h, or_dash(s.rows, count));
            td_num(h, or_dash(s.time_share, pct));
            td_sql(
                h,
                one_line(s.query.as_deref(), QUERY_CELL),
                s.query.as_deref(),
            );
            h.push_str("</tr>\n");
        }
        tfoot(h);
        more(
            h,
            statements.len().min(TOP_STATEMENTS),
            statements.len(),
            "statements",
        );
    }
    close(h);
}

fn histograms(h: &mut String, statements: &[Statement]) {
    open(h, "latency", "Latency histograms");
    // (rank in the statements table, statement)
    let with: Vec<(usize, &Statement)> = statements
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.histogram.is_empty())
        .take(HISTOGRAMS)
        .collect();
    if with.is_empty() {
        empty(h, "no statement with a latency histogram");
        close(h);
        return;
    }
    h.push_str(
        "<p class=\"summary\">Calls per latency bucket; the buckets grow geometrically, so the \
         axis reads as a log scale.</p>\n<div class=\"hists\">\n",
    );
    for &(rank, s) in &with {
        let bars: Vec<svg::HistBar> = s
            .histogram
            .iter()
            .map(|b| svg::HistBar {
                lower: b.lower_ms.map(ms_axis).unwrap_or_else(|| "?".into()),
                title: format!("{}: {} calls", b.range(), count(b.calls)),
                calls: b.calls,
            })
            .collect();
        let drawn = bars.len().min(svg::HIST_MAX_BUCKETS);
        let end = match s.histogram[drawn - 1].upper_ms {
            Some(u) => ms_axis(u),
            None => "∞".to_string(),
        };
        let stats = format!(
            "{} calls · mean {} · p95 {} · p99 {}",
            or_dash(s.calls, count),
            or_dash(s.mean_ms, ms),
            or_dash(s.p95_ms, ms),
            or_dash(s.p99_ms, ms)
        );
        let _ = write!(
            h,
            "<figure><figcaption title=\"{}\"><code>{}</code><span class=\"stats\">{}</span></figcaption>",
            esc(&statement_title(s)),
            esc(&format!("#{} {}", rank + 1, statement_label(s))),
            esc(&stats)
        );
        h.push_str(&svg::histogram(
            &format!("latency of {}", statement_label(s)),
            &bars,
            &end,
        ));
        if bars.len() > drawn {
            let _ = write!(
                h,
                "<p class=\"more\">first {drawn} of {} buckets drawn</p>",
                bars.len()
            );
        }
        h.push_str("</figure>\n");
    }
    h.push_str("</div>\n");
    let total = statements
        .iter()
        .filter(|s| !s.histogram.is_empty())
        .count();
    more(h, with.len(), total, "histograms");
    close(h);
}

fn sizes(h: &mut String, tables: &[Table]) {
    open(h, "sizes", "Table and index sizes");
    if tables.is_empty() {
        empty(h, "no tables in the document");
        close(h);
        return;
    }
    let shown = &tables[..tables.len().min(TABLES)];
    let rows: Vec<svg::Row> = shown
        .iter()
        .map(|t| {
            let name = t.name.clone().unwrap_or_else(|| "(no name)".into());
            let note = format!(
                "{} + {}",
                or_dash(t.table_bytes, pretty_bytes),
                or_dash(t.index_bytes, pretty_bytes)
            );
            svg::Row {
                title: format!(
                    "{name}: table {}, indexes {}, {} rows",
                    or_dash(t.table_bytes, pretty_bytes),
                    or_dash(t.index_bytes, pretty_bytes),
                    or_dash(t.rows, count)
                ),
                label: name,
                values: vec![t.table_bytes.unwrap_or(0.0), t.index_bytes.unwrap_or(0.0)],
                note,
            }
        })
        .collect();
    h.push_str("<div class=\"chartbox\">");
    h.push_str(&svg::hbars(
        "table and index bytes per table",
        &rows,
        &["seg-table", "seg-index"],
        &[("seg-table", "table"), ("seg-index", "indexes")],
    ));
    h.push_str("</div>\n");
    thead(
        h,
        &[
            "table",
            "rows",
            "table size",
            "index size",
            "total",
            "indexes (size, scans)",
        ],
    );
    for t in shown {
        h.push_str("<tr>");
        td(h, t.name.as_deref());
        td_num(h, or_dash(t.rows, count));
        td_num(h, or_dash(t.table_bytes, pretty_bytes));
        td_num(h, or_dash(t.index_bytes, pretty_bytes));
        td_num(h, pretty_bytes(t.total_bytes()));
        h.push_str("<td>");
        if t.indexes.is_empty() {
            h.push('-');
        }
        for (i, ix) in t.indexes.iter().take(INDEXES).enumerate() {
            if i > 0 {
                h.push_str("<br>");
            }
            let _ = write!(
                h,
                "<code>{}</code> {}, {} scans",
                esc(&shorten(ix.name.as_deref().unwrap_or("(no name)"), 120)),
                esc(&or_dash(ix.bytes, pretty_bytes)),
                esc(&or_dash(ix.scans, count))
            );
        }
        if t.indexes.len() > INDEXES {
            let _ = write!(h, "<br>{} more", t.indexes.len() - INDEXES);
        }
        h.push_str("</td></tr>\n");
    }
    tfoot(h);
    more(h, shown.len(), tables.len(), "tables");
    close(h);
}

fn advice(h: &mut String, a: Option<&Advice>) {
    open(h, "advice", "Index advice");
    let Some(a) = a else {
        empty(h, "no index advice in the document");
        close(h);
        return;
    };
    let summary = a.summary();
    if !summary.is_empty() {
        let _ = writeln!(h, "<p class=\"summary\">{}</p>", esc(&summary));
    }
    if a.actions.is_empty() {
        empty(h, "the advisor proposes no action");
    } else {
        thead(
            h,
            &["action", "DDL", "size", "benefit", "reason", "queryids"],
        );
        for x in a.actions.iter().take(ROWS) {
            let act = x.action.as_deref().unwrap_or("?");
            let class = match act {
                "create" => "act-create",
                "drop" => "act-drop",
                _ => "act-other",
            };
            let _ = write!(
                h,
                "<tr><td><span class=\"badge {class}\">{}</span></td>",
                esc(&shorten(act, 40))
            );
            match (&x.ddl, &x.table, &x.index) {
                (Some(d), _, _) => td_sql(h, block(Some(d)), None),
                (None, t, i) if t.is_some() || i.is_some() => {
                    let on = [t.as_deref(), i.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" / ");
                    td(h, Some(&on));
                }
                _ => td(h, None),
            }
            td_num(h, or_dash(x.bytes, pretty_bytes));
            td_num(h, or_dash(x.benefit_share, pct));
            td(h, x.reason.as_deref());
            let ids = if x.queryids.is_empty() {
                None
            } else {
                Some(x.queryids.join(", "))
            };
            td(h, ids.as_deref());
            h.push_str("</tr>\n");
        }
        tfoot(h);
        more(h, a.actions.len().min(ROWS), a.actions.len(), "actions");
    }
    close(h);
}

fn findings(h: &mut String, r: &Report) {
    open(h, "findings", "Insight findings");
    if r.findings.is_empty() {
        empty(h, "no insight findings in the document");
        close(h);
        return;
    }
    h.push_str("<div class=\"scroll\"><table>\n<thead><tr><th>severity</th><th>evidence</th><th>recommendation</th></tr></thead>\n");
    let mut rows = 0;
    for (insight, list) in r.findings_by_insight() {
        if rows >= ROWS {
            break;
        }
        let n = counted(list.len() as f64, "finding");
        let _ = write!(
            h,
            "<tbody>\n<tr class=\"group\"><th colspan=\"3\">{}<span class=\"n\">{n}</span></th></tr>\n",
            esc(&shorten(&insight, 200))
        );
        for f in list.iter().take(ROWS - rows) {
            let _ = write!(h, "<tr><td>{}</td>", badge(f.severity));
            td(h, f.evidence.as_deref());
            td(h, f.recommendation.as_deref());
            h.push_str("</tr>\n");
            rows += 1;
        }
        h.push_str("</tbody>\n");
    }
    h.push_str("</table></div>\n");
    more(h, rows, r.findings.len(), "findings");
    close(h);
}

fn lint(h: &mut String, l: Option<&Lint>) {
    open(h, "lint", "Lint");
    let Some(l) = l else {
        empty(h, "no lint results in the document");
        close(h);
        return;
    };
    let _ = writeln!(h, "<p class=\"summary\">{}</p>", esc(&l.summary()));
    if l.findings.is_empty() {
        empty(h, "no lint findings");
    } else {
        thead(
            h,
            &[
                "rule", "severity", "query", "fragment", "evidence", "rewrite",
            ],
        );
        for f in l.findings.iter().take(ROWS) {
            h.push_str("<tr>");
            td(h, f.rule.as_deref());
            let _ = write!(h, "<td>{}</td>", badge(f.severity));
            let title = match (&f.queryid, &f.query) {
                (Some(id), Some(q)) => Some(format!("queryid {id}: {q}")),
                (Some(id), None) => Some(format!("queryid {id}")),
                (None, q) => q.clone(),
            };
            let query = f
                .query
                .clone()
                .or_else(|| f.queryid.as_ref().map(|id| format!("queryid {id}")));
            td_sql(h, one_line(query.as_deref(), 120), title.as_deref());
            td_sql(h, one_line(f.fragment.as_deref(), 120), None);
            td(h, f.evidence.as_deref());
            td_sql(h, block(f.rewrite.as_deref()), None);
            h.push_str("</tr>\n");
        }
        tfoot(h);
        more(
            h,
            l.findings.len().min(ROWS),
            l.findings.len(),
            "lint findings",
        );
    }
    h.push_str("<h3>Statements that did not parse</h3>\n");
    if l.unparsed.is_empty() {
        empty(h, "every statement parsed");
    } else {
        thead(h, &["queryid", "query", "parser message"]);
        for u in l.unparsed.iter().take(ROWS) {
            h.push_str("<tr>");
            td_id(h, u.queryid.as_deref());
            td_sql(
                h,
                one_line(u.query.as_deref(), QUERY_CELL),
                u.query.as_deref(),
            );
            td(h, u.message.as_deref());
            h.push_str("</tr>\n");
        }
        tfoot(h);
        more(
            h,
            l.unparsed.len().min(ROWS),
            l.unparsed.len(),
            "statements",
        );
    }
    close(h);
}
