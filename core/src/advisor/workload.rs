//! A recorded workload as a portable document: what `optimizer.export_workload()` writes and
//! `optimizer.import_workload()` reads, so that one server's workload (a standby's reads, a
//! production server's statements) can be advised on another.
//!
//! Nothing in it is an OID: tables are named by schema and name, columns by name, roles by name;
//! the importing server resolves them in its own catalog. Query ids are decimal strings (a 64-bit
//! value does not fit a JavaScript number). Shape version 1 (`format` = `pg_optimizer.workload`):
//!
//! ```json
//! { "format": "pg_optimizer.workload", "version": 1,
//!   "exported_at": "2026-12-01 18:30:00+00", "database": "app", "server_version": "15.18",
//!   "extension_version": "0.4.0", "system_identifier": "7301...", "in_recovery": true,
//!   "window_seconds": 3600.0,
//!   "statements": [ { "queryid": "-42", "role": "app", "query": "SELECT ... $1",
//!                     "example": "SELECT ... 42", "params": ["42", null], "truncated": false,
//!                     "calls": 10, "total_ms": 1.5, "rows": 10 } ],
//!   "predicates": [ { "queryid": "-42", "schema": "public", "table": "orders", "column": "a",
//!                     "expression": null, "class": "eq", "operator": "=", "join": false,
//!                     "in_or": false, "index_cond": false, "executions": 10, "const_share": 0.0,
//!                     "constants": ["42"], "scan": "123" } ],
//!   "sort_keys": [ { "queryid": "-42", "schema": "public", "table": "orders", "position": 1,
//!                    "column": "placed_at", "expression": null, "desc": true,
//!                    "nulls_first": true, "under_limit": true } ],
//!   "tables": [ { "schema": "public", "table": "orders", "inserts": 0, "updates": 0,
//!                 "hot_updates": 0, "deletes": 0, "vacuums": 0 } ] }
//! ```
//! `calls`, `total_ms`, `rows` and the table counters are totals over `window_seconds` (the
//! exporting server's statistics window); the importer scales them to its own window.

use super::model::QualClass;
use serde::{Deserialize, Serialize};

/// The `format` of a workload document.
pub const FORMAT: &str = "pg_optimizer.workload";
/// The shape version this code writes and reads.
pub const VERSION: u32 = 1;

/// A whole workload document.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    pub format: String,
    pub version: u32,
    #[serde(default)]
    pub exported_at: String,
    #[serde(default)]
    pub database: String,
    #[serde(default)]
    pub server_version: String,
    #[serde(default)]
    pub extension_version: String,
    #[serde(default)]
    pub system_identifier: String,
    #[serde(default)]
    pub in_recovery: bool,
    pub window_seconds: f64,
    #[serde(default)]
    pub statements: Vec<WStatement>,
    #[serde(default)]
    pub predicates: Vec<WPredicate>,
    #[serde(default)]
    pub sort_keys: Vec<WSortKey>,
    #[serde(default)]
    pub tables: Vec<WTable>,
}

/// One statement (users merged: the role is the one whose execution gave the example).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WStatement {
    pub queryid: String,
    pub role: String,
    pub query: String,
    #[serde(default)]
    pub example: Option<String>,
    #[serde(default)]
    pub params: Vec<Option<String>>,
    #[serde(default)]
    pub truncated: bool,
    pub calls: f64,
    pub total_ms: f64,
    #[serde(default)]
    pub rows: f64,
}

/// One recorded qual: a column (or an expression) of a table, how the statement uses it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WPredicate {
    pub queryid: String,
    pub schema: String,
    pub table: String,
    #[serde(default)]
    pub column: Option<String>,
    #[serde(default)]
    pub expression: Option<String>,
    pub class: String,
    pub operator: String,
    #[serde(default)]
    pub join: bool,
    #[serde(default)]
    pub in_or: bool,
    #[serde(default)]
    pub index_cond: bool,
    #[serde(default)]
    pub executions: f64,
    #[serde(default)]
    pub const_share: f64,
    #[serde(default)]
    pub constants: Vec<String>,
    #[serde(default)]
    pub scan: String,
}

/// One recorded ORDER BY key.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WSortKey {
    pub queryid: String,
    pub schema: String,
    pub table: String,
    pub position: i16,
    #[serde(default)]
    pub column: Option<String>,
    #[serde(default)]
    pub expression: Option<String>,
    #[serde(default)]
    pub desc: bool,
    #[serde(default)]
    pub nulls_first: bool,
    #[serde(default)]
    pub under_limit: bool,
}

/// A table's write counters over the window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WTable {
    pub schema: String,
    pub table: String,
    #[serde(default)]
    pub inserts: f64,
    #[serde(default)]
    pub updates: f64,
    #[serde(default)]
    pub hot_updates: f64,
    #[serde(default)]
    pub deletes: f64,
    #[serde(default)]
    pub vacuums: f64,
}

/// The document's name for a qual class.
pub fn class_name(c: QualClass) -> &'static str {
    match c {
        QualClass::Eq => "eq",
        QualClass::In => "in",
        QualClass::Range => "range",
        QualClass::IsNull => "is_null",
        QualClass::IsNotNull => "is_not_null",
        QualClass::LikePrefix => "like_prefix",
        QualClass::Pattern => "pattern",
        QualClass::JsonPath => "json_path",
        QualClass::JsonKey => "json_key",
        QualClass::ArrayOp => "array_op",
        QualClass::Other => "other",
    }
}

/// A qual class from its document name (unknown names: `Other`, which no index is built for).
pub fn class_of(name: &str) -> QualClass {
    match name {
        "eq" => QualClass::Eq,
        "in" => QualClass::In,
        "range" => QualClass::Range,
        "is_null" => QualClass::IsNull,
        "is_not_null" => QualClass::IsNotNull,
        "like_prefix" => QualClass::LikePrefix,
        "pattern" => QualClass::Pattern,
        "json_path" => QualClass::JsonPath,
        "json_key" => QualClass::JsonKey,
        "array_op" => QualClass::ArrayOp,
        _ => QualClass::Other,
    }
}

/// Why a document cannot be read.
#[derive(Clone, Debug, PartialEq)]
pub enum BadDocument {
    NotJson(String),
    WrongFormat(String),
    WrongVersion(u32),
    BadWindow(f64),
    BadQueryId(String),
}

impl std::fmt::Display for BadDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadDocument::NotJson(m) => write!(f, "not a workload document: {m}"),
            BadDocument::WrongFormat(s) => write!(f, "format is \"{s}\", not \"{FORMAT}\""),
            BadDocument::WrongVersion(v) => write!(f, "shape version {v} is not supported (this release reads version {VERSION})"),
            BadDocument::BadWindow(w) => write!(f, "window_seconds must be a positive number, not {w}"),
            BadDocument::BadQueryId(q) => write!(f, "queryid \"{q}\" is not a 64-bit integer"),
        }
    }
}

/// Parse and check a document: its format, version, window and every query id.
pub fn parse(text: &str) -> Result<Workload, BadDocument> {
    let w: Workload = serde_json::from_str(text).map_err(|e| BadDocument::NotJson(e.to_string()))?;
    if w.format != FORMAT {
        return Err(BadDocument::WrongFormat(w.format));
    }
    if w.version != VERSION {
        return Err(BadDocument::WrongVersion(w.version));
    }
    if !(w.window_seconds.is_finite() && w.window_seconds > 0.0) {
        return Err(BadDocument::BadWindow(w.window_seconds));
    }
    let ids = w.statements.iter().map(|s| &s.queryid).chain(w.predicates.iter().map(|p| &p.queryid)).chain(w.sort_keys.iter().map(|s| &s.queryid));
    for q in ids {
        queryid_of(q)?;
    }
    Ok(w)
}

/// A query id from its decimal text (signed, as PostgreSQL shows it; or unsigned).
pub fn queryid_of(s: &str) -> Result<u64, BadDocument> {
    s.parse::<i64>().map(|v| v as u64).or_else(|_| s.parse::<u64>()).map_err(|_| BadDocument::BadQueryId(s.to_string()))
}

/// The factor that brings counts over the document's window to counts over `local_window_s`
/// (statement weights and write rates of the advisor are per local window).
pub fn scale(doc_window_s: f64, local_window_s: f64) -> f64 {
    if doc_window_s > 0.0 && local_window_s > 0.0 {
        local_window_s / doc_window_s
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Workload {
        Workload {
            format: FORMAT.into(),
            version: VERSION,
            window_seconds: 600.0,
            statements: vec![WStatement { queryid: "-42".into(), role: "app".into(), query: "SELECT 1".into(), calls: 3.0, total_ms: 1.0, ..Default::default() }],
            predicates: vec![WPredicate { queryid: "-42".into(), schema: "public".into(), table: "t".into(), column: Some("a".into()), class: "range".into(), operator: "<".into(), ..Default::default() }],
            ..Default::default()
        }
    }

    #[test]
    fn round_trip() {
        let d = doc();
        let text = serde_json::to_string(&d).unwrap();
        assert_eq!(parse(&text).unwrap(), d);
        assert!(text.contains("\"queryid\":\"-42\""), "{text}");
    }

    #[test]
    fn refuses_other_shapes() {
        assert!(matches!(parse("[1,2]"), Err(BadDocument::NotJson(_))));
        let mut d = doc();
        d.format = "pg_optimizer.report".into();
        assert_eq!(parse(&serde_json::to_string(&d).unwrap()), Err(BadDocument::WrongFormat("pg_optimizer.report".into())));
        let mut d = doc();
        d.version = 2;
        assert_eq!(parse(&serde_json::to_string(&d).unwrap()), Err(BadDocument::WrongVersion(2)));
        let mut d = doc();
        d.window_seconds = 0.0;
        assert_eq!(parse(&serde_json::to_string(&d).unwrap()), Err(BadDocument::BadWindow(0.0)));
        let mut d = doc();
        d.predicates[0].queryid = "12x".into();
        assert_eq!(parse(&serde_json::to_string(&d).unwrap()), Err(BadDocument::BadQueryId("12x".into())));
    }

    #[test]
    fn missing_optional_fields_default() {
        let w = parse(r#"{"format":"pg_optimizer.workload","version":1,"window_seconds":60,
                          "statements":[{"queryid":"18446744073709551615","role":"r","query":"SELECT 1","calls":1,"total_ms":2}]}"#)
        .unwrap();
        assert_eq!(w.statements[0].example, None);
        assert!(w.predicates.is_empty() && w.tables.is_empty());
        assert_eq!(queryid_of(&w.statements[0].queryid).unwrap(), u64::MAX);
        assert_eq!(queryid_of("-1").unwrap(), u64::MAX);
    }

    #[test]
    fn class_names_round_trip() {
        for c in [
            QualClass::Eq,
            QualClass::In,
            QualClass::Range,
            QualClass::IsNull,
            QualClass::IsNotNull,
            QualClass::LikePrefix,
            QualClass::Pattern,
            QualClass::JsonPath,
            QualClass::JsonKey,
            QualClass::ArrayOp,
            QualClass::Other,
        ] {
            assert_eq!(class_of(class_name(c)), c);
        }
        assert_eq!(class_of("nonsense"), QualClass::Other);
    }

    #[test]
    fn scale_brings_counts_to_the_local_window() {
        assert_eq!(scale(600.0, 3600.0), 6.0);
        assert_eq!(scale(0.0, 3600.0), 1.0);
    }
}
