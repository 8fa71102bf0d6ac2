//! The tolerant reading of the report document into plain structs that both renderers share.
//! A field that is missing, `null` or of the wrong type is `None` (or an empty list); an array
//! element that is not an object is skipped. Numbers are also read from numeric strings (a
//! 64-bit counter may come as text), texts also from numbers and booleans.

use std::fmt::Write;

use serde_json::Value;

use super::fmt::{compact, count, counted, ms_axis};

/// A health status or finding severity, worst last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Status {
    /// Missing or not one of the four known words.
    Unknown,
    Ok,
    Info,
    Warning,
    Critical,
}

impl Status {
    fn parse(s: Option<&str>) -> Status {
        match s.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            Some("ok") => Status::Ok,
            Some("info") => Status::Info,
            Some("warning") => Status::Warning,
            Some("critical") => Status::Critical,
            _ => Status::Unknown,
        }
    }

    /// The word shown, also the CSS class suffix (`st-<word>`).
    pub(crate) fn word(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Ok => "ok",
            Status::Info => "info",
            Status::Warning => "warning",
            Status::Critical => "critical",
        }
    }
}

/// `v[key]` when present and not `null`.
fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null())
}

/// A text: a string as is, a number or boolean as written.
fn text(v: &Value, key: &str) -> Option<String> {
    match field(v, key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A finite number: a JSON number, or a string that parses as one.
fn num(v: &Value, key: &str) -> Option<f64> {
    let x = match field(v, key)? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    x.is_finite().then_some(x)
}

/// The objects of the array `v[key]` (nothing when it is not an array).
fn objects<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    field(v, key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|x| x.is_object())
}

/// A list of ids: an array of strings or numbers (other elements skipped), or one string/number.
fn ids(v: &Value, key: &str) -> Vec<String> {
    let one = |x: &Value| match x {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match field(v, key) {
        Some(Value::Array(a)) => a.iter().filter_map(one).collect(),
        Some(x) => one(x).into_iter().collect(),
        None => Vec::new(),
    }
}

/// Who, where and when.
#[derive(Debug, Default)]
pub(crate) struct Header {
    pub database: Option<String>,
    pub server_version: Option<String>,
    pub extension_version: Option<String>,
    pub generated_at: Option<String>,
    pub window_seconds: Option<f64>,
}

/// One tile of the health overview.
#[derive(Debug)]
pub(crate) struct Health {
    pub area: Option<String>,
    pub status: Status,
    pub findings: Option<f64>,
    pub top_finding: Option<String>,
    pub top_action: Option<String>,
}

/// One insight finding.
#[derive(Debug)]
pub(crate) struct Finding {
    pub insight: Option<String>,
    pub severity: Status,
    pub evidence: Option<String>,
    pub recommendation: Option<String>,
}

/// One latency histogram bucket; `upper_ms` `None` is the open last bucket.
#[derive(Debug)]
pub(crate) struct Bucket {
    pub lower_ms: Option<f64>,
    pub upper_ms: Option<f64>,
    pub calls: f64,
}

/// One statement's numbers.
#[derive(Debug)]
pub(crate) struct Statement {
    pub queryid: Option<String>,
    pub query: Option<String>,
    pub calls: Option<f64>,
    pub total_ms: Option<f64>,
    pub mean_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub rows: Option<f64>,
    /// From the document, else `total_ms` over the sum of all statements' `total_ms`.
    pub time_share: Option<f64>,
    pub histogram: Vec<Bucket>,
}

/// One index of a table.
#[derive(Debug)]
pub(crate) struct Index {
    pub name: Option<String>,
    pub bytes: Option<f64>,
    pub scans: Option<f64>,
}

/// One table's sizes.
#[derive(Debug)]
pub(crate) struct Table {
    pub name: Option<String>,
    pub table_bytes: Option<f64>,
    pub index_bytes: Option<f64>,
    pub rows: Option<f64>,
    pub indexes: Vec<Index>,
}

impl Table {
    /// Table plus index bytes (absent parts count 0).
    pub fn total_bytes(&self) -> f64 {
        self.table_bytes.unwrap_or(0.0).max(0.0) + self.index_bytes.unwrap_or(0.0).max(0.0)
    }
}

/// One action of the index advice.
#[derive(Debug)]
pub(crate) struct Action {
    pub action: Option<String>,
    pub ddl: Option<String>,
    pub table: Option<String>,
    pub index: Option<String>,
    pub bytes: Option<f64>,
    pub benefit_share: Option<f64>,
    pub queryids: Vec<String>,
    pub reason: Option<String>,
}

/// The index advice.
#[derive(Debug)]
pub(crate) struct Advice {
    pub statements: Option<f64>,
    pub candidates: Option<f64>,
    pub planner_calls: Option<f64>,
    pub cost_before: Option<f64>,
    pub cost_after: Option<f64>,
    pub actions: Vec<Action>,
}

/// One lint finding.
#[derive(Debug)]
pub(crate) struct LintFinding {
    pub queryid: Option<String>,
    pub query: Option<String>,
    pub rule: Option<String>,
    pub severity: Status,
    pub fragment: Option<String>,
    pub evidence: Option<String>,
    pub rewrite: Option<String>,
}

/// A statement the linter could not parse.
#[derive(Debug)]
pub(crate) struct Unparsed {
    pub queryid: Option<String>,
    pub query: Option<String>,
    pub message: Option<String>,
}

/// The linter's output.
#[derive(Debug)]
pub(crate) struct Lint {
    pub statements: Option<f64>,
    pub parsed: Option<f64>,
    pub findings: Vec<LintFinding>,
    pub unparsed: Vec<Unparsed>,
}

/// The whole document as read. `statements` are sorted by `total_ms`, largest first (absent
/// last); `tables` by total bytes, largest first; everything else keeps the document's order.
#[derive(Debug)]
pub(crate) struct Report {
    pub header: Header,
    pub health: Vec<Health>,
    pub findings: Vec<Finding>,
    pub statements: Vec<Statement>,
    pub tables: Vec<Table>,
    pub advice: Option<Advice>,
    pub lint: Option<Lint>,
}

impl Report {
    /// Reads whatever `doc` holds; a non-object reads as an empty report.
    pub fn read(doc: &Value) -> Report {
        let header = Header {
            database: text(doc, "database"),
            server_version: text(doc, "server_version"),
            extension_version: text(doc, "extension_version"),
            generated_at: text(doc, "generated_at"),
            window_seconds: num(doc, "window_seconds"),
        };
        let health = objects(doc, "health")
            .map(|h| Health {
                area: text(h, "area"),
                status: Status::parse(field(h, "status").and_then(Value::as_str)),
                findings: num(h, "findings"),
                top_finding: text(h, "top_finding"),
                top_action: text(h, "top_action"),
            })
            .collect();
        let findings = objects(doc, "findings")
            .map(|f| Finding {
                insight: text(f, "insight"),
                severity: Status::parse(field(f, "severity").and_then(Value::as_str)),
                evidence: text(f, "evidence"),
                recommendation: text(f, "recommendation"),
            })
            .collect();
        let mut statements: Vec<Statement> = objects(doc, "statements")
            .map(|s| Statement {
                queryid: text(s, "queryid"),
                query: text(s, "query"),
                calls: num(s, "calls"),
                total_ms: num(s, "total_ms"),
                mean_ms: num(s, "mean_ms"),
                p95_ms: num(s, "p95_ms"),
                p99_ms: num(s, "p99_ms"),
                rows: num(s, "rows"),
                time_share: num(s, "time_share"),
                histogram: objects(s, "histogram")
                    .map(|b| Bucket {
                        lower_ms: num(b, "lower_ms"),
                        upper_ms: num(b, "upper_ms"),
                        calls: num(b, "calls").unwrap_or(0.0).max(0.0),
                    })
                    .collect(),
            })
            .collect();
        let sum: f64 = statements
            .iter()
            .filter_map(|s| s.total_ms)
            .filter(|t| *t > 0.0)
            .sum();
        for s in &mut statements {
            if s.time_share.is_none() && sum > 0.0 {
                s.time_share = s.total_ms.map(|t| t.max(0.0) / sum);
            }
        }
        // sort_by is stable: equal totals keep the document's order.
        statements.sort_by(|a, b| {
            let key = |s: &Statement| s.total_ms.unwrap_or(f64::NEG_INFINITY);
            key(b).total_cmp(&key(a))
        });
        let mut tables: Vec<Table> = objects(doc, "tables")
            .map(|t| Table {
                name: text(t, "table"),
                table_bytes: num(t, "table_bytes"),
                index_bytes: num(t, "index_bytes"),
                rows: num(t, "rows"),
                indexes: objects(t, "indexes")
                    .map(|i| Index {
                        name: text(i, "index"),
                        bytes: num(i, "bytes"),
                        scans: num(i, "scans"),
                    })
                    .collect(),
            })
            .collect();
        tables.sort_by(|a, b| b.total_bytes().total_cmp(&a.total_bytes()));
        let advice = field(doc, "advice")
            .filter(|a| a.is_object())
            .map(|a| Advice {
                statements: num(a, "statements"),
                candidates: num(a, "candidates"),
                planner_calls: num(a, "planner_calls"),
                cost_before: num(a, "workload_cost_before"),
                cost_after: num(a, "workload_cost_after"),
                actions: objects(a, "actions")
                    .map(|x| Action {
                        action: text(x, "action"),
                        ddl: text(x, "ddl"),
                        table: text(x, "table"),
                        index: text(x, "index"),
                        bytes: num(x, "bytes"),
                        benefit_share: num(x, "benefit_share"),
                        queryids: ids(x, "queryids"),
                        reason: text(x, "reason"),
                    })
                    .collect(),
            });
        let lint = field(doc, "lint").filter(|l| l.is_object()).map(|l| Lint {
            statements: num(l, "statements"),
            parsed: num(l, "parsed"),
            findings: objects(l, "findings")
                .map(|f| LintFinding {
                    queryid: text(f, "queryid"),
                    query: text(f, "query"),
                    rule: text(f, "rule"),
                    severity: Status::parse(field(f, "severity").and_then(Value::as_str)),
                    fragment: text(f, "fragment"),
                    evidence: text(f, "evidence"),
                    rewrite: text(f, "rewrite"),
                })
                .collect(),
            unparsed: objects(l, "unparsed")
                .map(|u| Unparsed {
                    queryid: text(u, "queryid"),
                    query: text(u, "query"),
                    message: text(u, "message"),
                })
                .collect(),
        });
        Report {
            header,
            health,
            findings,
            statements,
            tables,
            advice,
            lint,
        }
    }

    /// The insight findings grouped by insight: groups in order of first appearance, each
    /// group's findings worst first (stable otherwise).
    pub fn findings_by_insight(&self) -> Vec<(String, Vec<&Finding>)> {
        let mut groups: Vec<(String, Vec<&Finding>)> = Vec::new();
        for f in &self.findings {
            let name = f
                .insight
                .clone()
                .unwrap_or_else(|| "(no insight)".to_string());
            match groups.iter_mut().find(|(g, _)| *g == name) {
                Some((_, list)) => list.push(f),
                None => groups.push((name, vec![f])),
            }
        }
        for (_, list) in &mut groups {
            list.sort_by_key(|f| std::cmp::Reverse(f.severity));
        }
        groups
    }
}

impl Bucket {
    /// The bucket's range: `0.1ms – 1ms`, `≥ 10ms` for the open last one.
    pub fn range(&self) -> String {
        let lo = self.lower_ms.map(ms_axis).unwrap_or_else(|| "?".into());
        match self.upper_ms {
            Some(u) => format!("{lo} – {}", ms_axis(u)),
            None => format!("≥ {lo}"),
        }
    }
}

impl Advice {
    /// The advice's numbers as one sentence: `12 statements, 30 candidates, 200 planner calls;
    /// workload cost 1000 → 200 (-80.0%)` (absent numbers left out).
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        for (n, what) in [
            (self.statements, "statement"),
            (self.candidates, "candidate"),
            (self.planner_calls, "planner call"),
        ] {
            if let Some(n) = n {
                parts.push(counted(n, what));
            }
        }
        let mut s = parts.join(", ");
        if let (Some(before), Some(after)) = (self.cost_before, self.cost_after) {
            if !s.is_empty() {
                s.push_str("; ");
            }
            let _ = write!(s, "workload cost {} → {}", compact(before), compact(after));
            if before > 0.0 {
                let _ = write!(s, " ({:+.1}%)", (after - before) / before * 100.0);
            }
        }
        s
    }
}

impl Lint {
    /// `40 statements, 39 parsed, 1 finding, 1 not parsed` (absent numbers left out).
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(n) = self.statements {
            parts.push(counted(n, "statement"));
        }
        if let Some(n) = self.parsed {
            parts.push(format!("{} parsed", count(n)));
        }
        parts.push(counted(self.findings.len() as f64, "finding"));
        parts.push(format!("{} not parsed", self.unparsed.len()));
        parts.join(", ")
    }
}
