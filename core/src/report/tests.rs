//! Tests of the renderers. `sample_page_is_small_and_written_on_request` also writes the sample
//! page to `$REPORT_HTML_OUT` (and the text to `$REPORT_TEXT_OUT`) when set: that is how
//! scripts/check_report.py and the integration test get a page to open. Likewise
//! `hostile_text_is_escaped_everywhere` writes its page (markup, a script and an image URL in
//! the document's texts) to `$REPORT_HOSTILE_HTML_OUT`.

use serde_json::{json, Value};

use super::fmt::{count, cut, duration, ms_axis, shorten, width, wrap};
use super::svg::{BAR_AREA, CHART_W};
use super::*;

const HOSTILE: &str = r#"</svg><script>alert(1)</script> "'&"#;

/// A document with every section, as the extension writes it.
fn full_doc() -> Value {
    json!({
        "format": "pg_optimizer.report", "version": 1,
        "generated_at": "2026-12-01T18:30:00Z", "database": "app", "server_version": "15.18",
        "extension_version": "0.4.0", "window_seconds": 5400.0,
        "health": [
            {"area": "queries", "status": "warning", "findings": 3,
             "top_finding": "slow_queries: 2 statements over 100 ms mean",
             "top_action": "SELECT optimizer.advise()"},
            {"area": "indexes", "status": "critical", "findings": 1,
             "top_finding": "unused_indexes: orders_note_idx never scanned", "top_action": "DROP INDEX orders_note_idx"},
            {"area": "vacuum", "status": "ok", "findings": 0, "top_finding": null, "top_action": null},
            {"area": "config", "status": "info", "findings": 1, "top_finding": "work_mem is the default", "top_action": null}
        ],
        "findings": [
            {"insight": "slow_queries", "severity": "warning", "evidence": "mean 150 ms over 1,200 calls", "recommendation": "run the advisor"},
            {"insight": "unused_indexes", "severity": "critical", "evidence": "orders_note_idx: 0 scans, 120 MB", "recommendation": "drop it"},
            {"insight": "slow_queries", "severity": "critical", "evidence": "p99 3 s", "recommendation": "look at the plan"},
            {"insight": "settings", "severity": "info", "evidence": "work_mem 4MB", "recommendation": "raise work_mem"}
        ],
        "statements": [
            {"queryid": "-1288553865006972821", "query": "SELECT * FROM orders WHERE customer_id = $1",
             "calls": 1200, "total_ms": 180000.0, "mean_ms": 150.0, "p95_ms": 400.0, "p99_ms": 3000.0, "rows": 1200,
             "time_share": 0.75,
             "histogram": [
                {"lower_ms": 0.0, "upper_ms": 0.1, "calls": 0}, {"lower_ms": 0.1, "upper_ms": 1.0, "calls": 10},
                {"lower_ms": 1.0, "upper_ms": 10.0, "calls": 200}, {"lower_ms": 10.0, "upper_ms": 100.0, "calls": 500},
                {"lower_ms": 100.0, "upper_ms": 1000.0, "calls": 450}, {"lower_ms": 1000.0, "upper_ms": 10000.0, "calls": 40},
                {"lower_ms": 10000.0, "upper_ms": null, "calls": 0}]},
            {"queryid": "4242", "query": "UPDATE customers SET seen = now() WHERE id = $1",
             "calls": 5000, "total_ms": 60000.0, "mean_ms": 12.0, "p95_ms": 30.0, "p99_ms": 45.0, "rows": 5000,
             "time_share": 0.25,
             "histogram": [{"lower_ms": 1.0, "upper_ms": 10.0, "calls": 3000},
                           {"lower_ms": 10.0, "upper_ms": 100.0, "calls": 1999},
                           {"lower_ms": 100.0, "upper_ms": null, "calls": 1}]}
        ],
        "tables": [
            {"table": "public.orders", "table_bytes": 1048576, "index_bytes": 524288, "rows": 10000,
             "indexes": [{"index": "public.orders_pkey", "bytes": 262144, "scans": 12},
                         {"index": "public.orders_note_idx", "bytes": 262144, "scans": 0}]},
            {"table": "public.customers", "table_bytes": 10485760, "index_bytes": 0, "rows": 50000, "indexes": []}
        ],
        "advice": {"format": "pg_optimizer.index_advice", "version": 1, "statements": 12, "candidates": 30,
                   "planner_calls": 200, "workload_cost_before": 1000.0, "workload_cost_after": 200.0,
                   "actions": [
                       {"action": "create", "ddl": "CREATE INDEX orders_customer_id_idx ON public.orders (customer_id)",
                        "table": "public.orders", "index": "orders_customer_id_idx", "bytes": 123456,
                        "benefit_share": 0.8, "queryids": ["123", "456"], "reason": "serves the orders lookups"},
                       {"action": "drop", "ddl": "DROP INDEX public.orders_note_idx", "table": "public.orders",
                        "index": "orders_note_idx", "bytes": 1, "benefit_share": null, "queryids": [],
                        "reason": "never scanned"},
                       {"action": "note", "ddl": null, "table": null, "index": null, "bytes": null,
                        "benefit_share": null, "queryids": ["789"], "reason": "statement 789 has no sargable predicate"}]},
        "lint": {"statements": 40, "parsed": 39,
                 "findings": [{"queryid": "123", "query": "SELECT * FROM orders", "rule": "select_star",
                               "severity": "warning", "fragment": "*", "position": 8,
                               "evidence": "all 14 columns fetched", "rewrite": "SELECT id, total FROM orders"}],
                 "unparsed": [{"queryid": "999", "query": "SELEC 1", "message": "sql parser error: Expected statement"}]}
    })
}

/// A document of the size the page is meant for: 10 statements (30 buckets each), 20 tables
/// (5 indexes each), 100 insight findings, 30 actions, 60 lint findings, long texts.
fn big_doc() -> Value {
    let long_query = |i: usize| {
        format!(
            "SELECT o.id, o.total, c.name, c.email FROM public.orders o JOIN public.customers c ON c.id = o.customer_id \
             WHERE o.created_at > now() - interval '{i} days' AND o.status IN ('open', 'paid') ORDER BY o.created_at DESC LIMIT 50"
        )
    };
    let statements: Vec<Value> = (0..10usize)
        .map(|i| {
            let histogram: Vec<Value> = (0..30)
                .map(|b| {
                    let lo = 0.01 * 2f64.powi(b);
                    let hi = if b == 29 { Value::Null } else { json!(0.01 * 2f64.powi(b + 1)) };
                    json!({"lower_ms": if b == 0 { 0.0 } else { lo }, "upper_ms": hi, "calls": (b as usize * (i + 1) * 7) % 101})
                })
                .collect();
            json!({"queryid": format!("{}", -1288553865006972821i64 + i as i64), "query": long_query(i),
                   "calls": 1000 * (i + 1), "total_ms": 5000.0 / (i + 1) as f64, "mean_ms": 1.5, "p95_ms": 4.0,
                   "p99_ms": 9.0, "rows": 50 * i, "histogram": histogram})
        })
        .collect();
    let tables: Vec<Value> = (0..20)
        .map(|i| {
            let indexes: Vec<Value> = (0..5)
                .map(|j| json!({"index": format!("public.t{i}_col{j}_idx"), "bytes": 8192 * (j + 1) * (i + 1), "scans": j * 10}))
                .collect();
            json!({"table": format!("public.table_with_a_rather_long_name_number_{i}"),
                   "table_bytes": 1u64 << (10 + i), "index_bytes": (1u64 << (9 + i)) + 8192, "rows": 1000 * i,
                   "indexes": indexes})
        })
        .collect();
    let insights = [
        "slow_queries",
        "unused_indexes",
        "table_bloat",
        "stale_statistics",
        "settings",
    ];
    let sev = ["info", "warning", "critical", "ok"];
    let findings: Vec<Value> = (0..100)
        .map(|i| {
            json!({"insight": insights[i % insights.len()], "severity": sev[i % sev.len()],
                   "evidence": format!("finding {i}: relation public.table_{i} has 12% dead tuples over 24 h; last vacuum 3 days ago"),
                   "recommendation": "VACUUM (ANALYZE) the table and lower autovacuum_vacuum_scale_factor for it"})
        })
        .collect();
    let actions: Vec<Value> = (0..30)
        .map(|i| {
            json!({"action": if i % 3 == 0 { "drop" } else { "create" },
                   "ddl": format!("CREATE INDEX CONCURRENTLY t{i}_a_b_idx ON public.table_{i} USING btree (a, b) INCLUDE (c)"),
                   "table": format!("public.table_{i}"), "index": format!("t{i}_a_b_idx"), "bytes": 100000 * i,
                   "benefit_share": 1.0 / (i + 1) as f64, "queryids": ["1", "2", "3"],
                   "reason": "serves 3 statements' equality predicates and their sort"})
        })
        .collect();
    let lint_findings: Vec<Value> = (0..60)
        .map(|i| {
            json!({"queryid": format!("{i}"), "query": long_query(i), "rule": "select_star", "severity": "warning",
                   "fragment": "*", "position": 8, "evidence": "fetches every column of a 40-column table",
                   "rewrite": "SELECT o.id, o.total FROM public.orders o"})
        })
        .collect();
    let mut doc = full_doc();
    doc["statements"] = json!(statements);
    doc["tables"] = json!(tables);
    doc["findings"] = json!(findings);
    doc["advice"]["actions"] = json!(actions);
    doc["lint"]["findings"] = json!(lint_findings);
    doc
}

const SECTION_IDS: [&str; 7] = [
    "health", "time", "latency", "sizes", "advice", "findings", "lint",
];

/// The `<svg ...>...</svg>` elements of `html` whose opening tag contains `class="{class}"`.
fn svgs<'a>(html: &'a str, class: &str) -> Vec<&'a str> {
    let open = format!("<svg class=\"{class}\"");
    html.match_indices(&open)
        .map(|(i, _)| {
            let end = html[i..].find("</svg>").expect("svg closed") + i + "</svg>".len();
            &html[i..end]
        })
        .collect()
}

/// The value of attribute `name` in each tag of `svg` that contains `marker`.
fn attr_of(svg: &str, marker: &str, name: &str) -> Vec<f64> {
    svg.split('<')
        .filter(|tag| tag.contains(marker))
        .map(|tag| {
            let key = format!(" {name}=\"");
            let at = tag.find(&key).unwrap_or_else(|| panic!("{name} in {tag}")) + key.len();
            let end = tag[at..].find('"').unwrap() + at;
            tag[at..end].parse::<f64>().unwrap()
        })
        .collect()
}

#[test]
fn pretty_bytes_matches_pg_size_pretty() {
    // PostgreSQL 15's regression expectations (dbsize.out) at every unit boundary.
    let cases: [(f64, &str); 14] = [
        (0.0, "0 bytes"),
        (1.0, "1 bytes"),
        (10239.0, "10239 bytes"),
        (10240.0, "10 kB"),
        (1048576.0, "1024 kB"),
        (10485247.0, "10239 kB"),
        (10485248.0, "10 MB"),
        (10736893951.0, "10239 MB"),
        (10736893952.0, "10 GB"),
        (10994579406847.0, "10239 GB"),
        (10994579406848.0, "10 TB"),
        (11258449312612352.0, "10 PB"), // its neighbour 11258449312612351 (10239 TB) is no f64
        (123456789012.0, "115 GB"),
        (1e18, "888 PB"),
    ];
    for (n, want) in cases {
        assert_eq!(pretty_bytes(n), want, "{n}");
        if n != 0.0 {
            assert_eq!(pretty_bytes(-n), format!("-{want}"), "-{n}");
        }
    }
    assert_eq!(
        pretty_bytes(1e30),
        "8192 PB",
        "saturates at i64::MAX like a bigint"
    );
    assert_eq!(pretty_bytes(f64::NAN), "?");
    assert_eq!(pretty_bytes(1535.6), "1536 bytes");
}

#[test]
fn escape_html_escapes_all_five_and_controls() {
    assert_eq!(
        escape_html(r#"<a href="x">'&'</a>"#),
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
    );
    assert_eq!(
        escape_html("a\u{0}b\u{7}c\td\ne"),
        "a\u{FFFD}b\u{FFFD}c\td\ne"
    );
    assert_eq!(escape_html("é 漢字"), "é 漢字");
}

#[test]
fn hostile_text_is_escaped_everywhere() {
    let mut doc = full_doc();
    doc["database"] = json!(HOSTILE);
    doc["health"][0]["area"] = json!(HOSTILE);
    doc["health"][0]["top_action"] = json!(HOSTILE);
    doc["statements"][0]["query"] = json!(HOSTILE);
    doc["statements"][0]["queryid"] = json!(HOSTILE);
    doc["tables"][0]["table"] = json!(HOSTILE);
    doc["findings"][0]["insight"] = json!(HOSTILE);
    doc["findings"][0]["evidence"] = json!(HOSTILE);
    doc["advice"]["actions"][0]["ddl"] = json!(HOSTILE);
    doc["advice"]["actions"][0]["action"] = json!(HOSTILE);
    doc["lint"]["findings"][0]["query"] = json!(HOSTILE);
    doc["lint"]["findings"][0]["rewrite"] = json!(HOSTILE);
    doc["lint"]["unparsed"][0]["message"] = json!(HOSTILE);
    doc["advice"]["actions"][1]["reason"] =
        json!(r#"<img src="http://example.com/x.png"><style>@import url(x.css)</style>"#);
    let html = render_html(&doc);
    // For scripts/check_report.py: the same page must make no request and log nothing.
    if let Ok(path) = std::env::var("REPORT_HOSTILE_HTML_OUT") {
        std::fs::write(&path, &html).unwrap_or_else(|e| panic!("writing {path}: {e}"));
    }
    assert!(!html.contains("<img") && !html.contains("<style>@import"));
    assert!(
        !html.to_ascii_lowercase().contains("<script"),
        "a script tag got through"
    );
    assert!(!html.contains("alert(1)</"));
    assert!(!html.contains(r#""'&"#));
    let escaped = "&lt;/svg&gt;&lt;script&gt;alert(1)&lt;/script&gt; &quot;&#39;&amp;";
    // database (title, h1, meta), area, action, chart label and tooltip, table cells, captions...
    assert!(
        html.matches(escaped).count() >= 15,
        "{}",
        html.matches(escaped).count()
    );
    // inside SVG <text>: the time chart's label and the size chart's label
    let charts = svgs(&html, "chart");
    let (time, sizes) = (charts[0], charts[1]);
    assert!(time.contains(&format!(">#1 {escaped}</text>")), "{time}");
    assert!(sizes.contains(&format!(">{escaped}</text>")), "{sizes}");
    // no element was closed early: every <svg opens one closing </svg>
    assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
    assert_eq!(
        html.matches("<table").count(),
        html.matches("</table>").count()
    );
    // the text keeps the characters as they are (psql shows text, not markup)
    assert!(render_text(&doc).contains("alert(1)"));
}

#[test]
fn page_has_no_external_reference_and_no_script() {
    for doc in [full_doc(), big_doc()] {
        let html = render_html(&doc);
        let lower = html.to_ascii_lowercase();
        for bad in [
            "<script",
            "http://",
            "https://",
            "url(",
            "@import",
            "src=",
            "<link",
            "<img",
            "<iframe",
            "<object",
            "<embed",
            "xlink:",
            "srcset",
            "<base",
            "<meta http-equiv",
        ] {
            assert!(!lower.contains(bad), "page contains {bad}");
        }
        for (i, _) in html.match_indices("href=\"") {
            assert_eq!(&html[i + 6..i + 7], "#", "only in-page anchors");
        }
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<meta charset=\"utf-8\">"));
    }
}

#[test]
fn full_document_renders_every_section() {
    let html = render_html(&full_doc());
    for id in SECTION_IDS {
        assert!(
            html.contains(&format!("<section id=\"{id}\">")),
            "section {id}"
        );
    }
    assert!(
        !html.contains("Nothing to show"),
        "a section of the full document came out empty"
    );
    // header
    for s in [
        "app",
        "15.18",
        "0.4.0",
        "2026-12-01T18:30:00Z",
        "1 h 30 min",
    ] {
        assert!(html.contains(s), "header {s}");
    }
    // one tile per area, coloured by status
    assert_eq!(html.matches("<div class=\"tile st-").count(), 4);
    for st in ["warning", "critical", "ok", "info"] {
        assert!(
            html.contains(&format!("<div class=\"tile st-{st}\">")),
            "tile {st}"
        );
    }
    assert!(html.contains("3 findings") && html.contains("1 finding<"));
    // charts: one time chart, one size chart, two histograms
    assert_eq!(svgs(&html, "chart").len(), 2);
    assert_eq!(svgs(&html, "hist").len(), 2);
    assert!(html.contains("3.0 min · 75.0%"), "time note");
    // sizes
    assert!(html.contains("1024 kB") && html.contains("512 kB") && html.contains("10 MB"));
    assert!(html.contains("public.orders_note_idx"));
    // advice
    assert!(html.contains(
        "12 statements, 30 candidates, 200 planner calls; workload cost 1000 → 200 (-80.0%)"
    ));
    assert!(html.contains("CREATE INDEX orders_customer_id_idx ON public.orders (customer_id)"));
    assert!(html.contains("DROP INDEX public.orders_note_idx"));
    assert!(html.contains("121 kB") && html.contains("80.0%") && html.contains("123, 456"));
    assert!(html.contains("statement 789 has no sargable predicate"));
    // findings grouped: three groups, slow_queries' two findings together, critical first
    assert_eq!(html.matches("<tr class=\"group\">").count(), 3);
    let g = html.find(">slow_queries<span").unwrap();
    let p99 = html.find("p99 3 s").unwrap();
    let mean = html.find("mean 150 ms over").unwrap();
    assert!(
        g < p99 && p99 < mean,
        "critical before warning inside a group"
    );
    assert!(html.contains("<span class=\"badge st-critical\">critical</span>"));
    // lint and unparsed
    for s in [
        "select_star",
        "SELECT id, total FROM orders",
        "40 statements, 39 parsed, 1 finding, 1 not parsed",
        "sql parser error: Expected statement",
        "SELEC 1",
    ] {
        assert!(html.contains(s), "lint {s}");
    }
}

#[test]
fn missing_or_wrong_sections_do_not_panic() {
    let odd = [
        json!({}),
        Value::Null,
        json!([]),
        json!("report"),
        json!(42),
        json!({"health": "x", "findings": 1, "statements": {}, "tables": 5, "advice": [], "lint": "y",
               "window_seconds": "soon", "database": ["a"]}),
        json!({"health": [null, 1, {"status": 3, "findings": "many"}, {}],
               "findings": [{"severity": null}, "x"],
               "statements": [null, 1, {"query": 5, "total_ms": "abc", "histogram": "x"},
                              {"total_ms": -5.0, "histogram": [{"calls": "7"}, {}, 3]},
                              {"total_ms": 1e308, "time_share": 2.5, "histogram": [{"calls": 0}]}],
               "tables": [{"table_bytes": -1, "index_bytes": 1e300}, {"indexes": [1, {"bytes": "x"}]}, {}],
               "advice": {"actions": [null, {"action": 7, "queryids": "123", "bytes": -3}, {}], "statements": "n"},
               "lint": {"findings": {}, "unparsed": [{}]}}),
        json!({"advice": {}, "lint": {}}),
    ];
    for doc in &odd {
        let html = render_html(doc);
        let text = render_text(doc);
        for id in SECTION_IDS {
            assert!(
                html.contains(&format!("<section id=\"{id}\">")),
                "{id} missing for {doc}"
            );
        }
        assert!(html.ends_with("</html>\n"));
        assert!(text.contains("Health by area"));
        assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
    }
    // An empty document: every section says so, in both renderings.
    let html = render_html(&json!({}));
    assert_eq!(
        html.matches("Nothing to show").count(),
        SECTION_IDS.len(),
        "{html}"
    );
    assert!(html.contains("<dd>unknown</dd>"));
    let text = render_text(&Value::Null);
    assert_eq!(
        text.matches("Nothing to show").count(),
        SECTION_IDS.len(),
        "{text}"
    );
    // Wrong types read as absent, right ones still shown.
    let html = render_html(&odd[6]);
    assert!(html.contains("7 calls"), "numeric string read as a number");
    assert!(html.contains(">123<"), "one queryid string read as a list");
    assert!(html.contains("every statement parsed") || html.contains("1 not parsed"));
}

#[test]
fn bars_are_proportional_to_their_values() {
    let doc = json!({
        "statements": [{"queryid": "1", "query": "SELECT 1", "total_ms": 25.0},
                       {"queryid": "2", "query": "SELECT 2", "total_ms": 100.0},
                       {"queryid": "3", "query": "SELECT 3", "total_ms": 0.0}],
        "tables": [{"table": "a", "table_bytes": 300, "index_bytes": 100},
                   {"table": "b", "table_bytes": 200, "index_bytes": null}]
    });
    let html = render_html(&doc);
    let charts = svgs(&html, "chart");
    // largest first: 100 ms gets the whole area, 25 ms a quarter, 0 nothing
    assert_eq!(
        attr_of(charts[0], "class=\"bar-time\"", "width"),
        vec![BAR_AREA, BAR_AREA / 4.0, 0.0]
    );
    // stacked: a = 300 + 100 (the longest), b = 200 + 0
    let table = attr_of(charts[1], "class=\"seg-table\"", "width");
    let index = attr_of(charts[1], "class=\"seg-index\"", "width");
    assert_eq!(table[1..], [0.75 * BAR_AREA, 0.5 * BAR_AREA]); // [0] is the legend's swatch
    assert_eq!(index[1..], [0.25 * BAR_AREA, 0.0]);
    // the index segment starts where the table segment ends
    let x_index = attr_of(charts[1], "class=\"seg-index\"", "x");
    let x_table = attr_of(charts[1], "class=\"seg-table\"", "x");
    assert!((x_index[1] - (x_table[1] + 0.75 * BAR_AREA)).abs() < 0.11);
    // size computed: width and viewBox agree, height grows by row
    assert!(
        charts[0].contains(&format!(
            "width=\"{CHART_W:.1}\" height=\"80.0\" viewBox=\"0 0 {CHART_W:.1} 80.0\""
        )),
        "{}",
        charts[0]
    );
}

#[test]
fn histogram_has_one_bar_per_bucket() {
    let html = render_html(&full_doc());
    let hists = svgs(&html, "hist");
    assert_eq!(hists[0].matches("class=\"hbar\"").count(), 7);
    assert_eq!(hists[1].matches("class=\"hbar\"").count(), 3);
    // the tallest bar is the 500-call bucket; heights proportional
    let h = attr_of(hists[0], "class=\"hbar\"", "height");
    assert_eq!(h[0], 0.0);
    assert!((h[4] / h[3] - 0.9).abs() < 0.01, "{h:?}");
    // edge labels in milliseconds and seconds, the open end as ∞
    assert!(
        hists[0].contains(">0ms<") && hists[0].contains(">1s<") && hists[0].contains(">∞<"),
        "{}",
        hists[0]
    );
    // 30 buckets: labels thinned out, never cut into each other
    let big = render_html(&big_doc());
    let hist = svgs(&big, "hist")[0];
    assert_eq!(hist.matches("class=\"hbar\"").count(), 30);
    let labels = hist.matches("text-anchor=\"middle\"").count();
    assert!(labels > 3 && labels < 31, "{labels}");
}

#[test]
fn long_labels_are_cut_with_an_ellipsis() {
    let long = format!(
        "SELECT {} FROM t",
        (0..200)
            .map(|i| format!("col{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let doc = json!({"statements": [{"queryid": "7", "query": long, "total_ms": 3.0}],
                     "tables": [{"table": "x".repeat(300), "table_bytes": 1}]});
    let html = render_html(&doc);
    for chart in svgs(&html, "chart") {
        let at = chart.find("text-anchor=\"end\">").unwrap() + "text-anchor=\"end\">".len();
        let label = &chart[at..at + chart[at..].find("</text>").unwrap()];
        assert!(label.ends_with('…'), "{label}");
        // fits the 360 px label column at 7.4 px a character
        assert!(width(label) as f64 * 7.4 <= 360.0, "{label}");
        assert!(width(label) > 40);
    }
}

#[test]
fn text_rendering_has_the_health_table_first() {
    let text = render_text(&full_doc());
    let health = text.find("Health by area").unwrap();
    let statements = text.find("Top statements by total time").unwrap();
    let advice = text.find("Index advice").unwrap();
    let findings = text.find("Insight findings").unwrap();
    let lint = text.find("Lint findings").unwrap();
    assert!(health < statements && statements < advice && advice < findings && findings < lint);
    let lines: Vec<&str> = text.lines().collect();
    let head = lines
        .iter()
        .position(|l| l.starts_with("area "))
        .expect("health heading");
    assert!(lines[head].contains("status") && lines[head].contains("findings"));
    assert!(lines[head + 1].starts_with("----"));
    // columns aligned: each status word starts where the heading's does
    let col = lines[head].find("status").unwrap();
    let rows: Vec<&&str> = lines[head + 2..]
        .iter()
        .filter(|l| !l.starts_with(' '))
        .take(4)
        .collect();
    let words: Vec<&str> = rows
        .iter()
        .map(|l| l[col..].split_whitespace().next().unwrap())
        .collect();
    assert_eq!(words, ["warning", "critical", "ok", "info"]);
    assert!(text.contains("→ SELECT optimizer.advise()"));
    assert!(text.contains("CREATE INDEX orders_customer_id_idx ON public.orders (customer_id)"));
    assert!(text.contains("sql parser error: Expected statement"));
    for l in render_text(&big_doc()).lines() {
        assert!(
            width(l) <= 100 || l.trim_start().starts_with("CREATE INDEX"),
            "too wide: {l}"
        );
    }
}

#[test]
fn formatting_helpers() {
    assert_eq!(shorten("  a \n b  ", 10), "a b");
    assert_eq!(shorten("abcdef", 4), "abc…");
    assert_eq!(cut("漢字漢字", 5), "漢字…");
    assert_eq!(cut("abc", 0), "");
    assert_eq!(wrap("aaa bbb ccc", 7), ["aaa bbb", "ccc"]);
    assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
    assert_eq!(wrap("x\n→ y", 10), ["x", "→ y"]);
    assert_eq!(duration(30.0), "30 s");
    assert_eq!(duration(3600.0), "1 h");
    assert_eq!(duration(5400.0), "1 h 30 min");
    assert_eq!(duration(93784.0), "1 d 2 h");
    assert_eq!(count(10000.0), "10,000");
    assert_eq!(count(-1234567.0), "-1,234,567");
    assert_eq!(count(1.5), "1.50");
    assert_eq!(ms_axis(0.1), "0.1ms");
    assert_eq!(ms_axis(2500.0), "2.5s");
    assert_eq!(ms_axis(120000.0), "2min");
}

#[test]
fn sample_page_is_small_and_written_on_request() {
    let doc = big_doc();
    let html = render_html(&doc);
    assert!(html.len() < 1024 * 1024, "page is {} bytes", html.len());
    assert_eq!(svgs(&html, "hist").len(), 10);
    assert_eq!(html.matches("<tr class=\"group\">").count(), 5);
    let text = render_text(&doc);
    if let Ok(path) = std::env::var("REPORT_HTML_OUT") {
        std::fs::write(&path, &html).unwrap_or_else(|e| panic!("writing {path}: {e}"));
        eprintln!("wrote {path} ({} bytes)", html.len());
    }
    if let Ok(path) = std::env::var("REPORT_TEXT_OUT") {
        std::fs::write(&path, &text).unwrap_or_else(|e| panic!("writing {path}: {e}"));
    }
}
