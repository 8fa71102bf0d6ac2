//! The report's JSON document (shape version 1, rendered to text and HTML by
//! `pg_optimizer_core::report`) and the index advice as JSON, gathered from this database through
//! SPI as the calling user: what it may see, nothing more.
//!
//! ```text
//! { format: "pg_optimizer.report", version: 1, generated_at, database, server_version,
//!   extension_version, window_seconds,
//!   health:     [ {area, status, findings, top_finding, top_action} ]            optimizer.health()
//!   findings:   [ {insight, severity, evidence, recommendation} ]                every insight view
//!   statements: [ {queryid, query, calls, total_ms, mean_ms, p95_ms, p99_ms, rows, time_share,
//!                  histogram: [ {lower_ms, upper_ms, calls} ]} ]                 top 10 by time
//!   tables:     [ {table, table_bytes, index_bytes, rows, indexes: [ {index, bytes, scans} ]} ]
//!                                                                                top 20 by size
//!   advice:     the index_advice_json() document
//!   lint:       {statements, parsed, findings: [ {queryid, query, rule, severity, fragment,
//!                position, evidence, rewrite} ], unparsed: [ {queryid, query, message} ]} }
//! ```
//! Query ids are strings (64-bit values do not fit a JavaScript number).

use super::lint::{self, SpiCatalog};
use crate::advisor::run::{Action, Report};
use pgrx::pg_sys;
use serde_json::{json, Map, Value};

/// The advice of one advisor run as the `pg_optimizer.index_advice` document (version 1).
pub fn advice_json(r: &Report, budget_bytes: f64, sources: &[String]) -> Value {
    let first_create = r.rows.iter().find(|x| x.action == Action::Create);
    let actions: Vec<Value> = r
        .rows
        .iter()
        .map(|x| {
            let create = x.action == Action::Create;
            let sized = x.action != Action::Note;
            json!({
                "action": x.action.as_str(),
                "ddl": x.ddl,
                "build": x.build,
                "table": x.table_name,
                "index": x.index_name,
                "columns": x.columns,
                "include_columns": x.include,
                "method": x.method,
                "predicate": x.predicate,
                "bytes": sized.then_some(x.bytes.round() as i64),
                "cost_before": create.then_some(x.cost_before),
                "cost_after": create.then_some(x.cost_after),
                "benefit": create.then_some(x.benefit),
                "benefit_share": create.then_some(x.benefit_share),
                "write_penalty": sized.then_some(x.write_penalty),
                "drop_kind": x.drop_kind,
                "queryids": x.queryids.iter().map(|q| q.to_string()).collect::<Vec<_>>(),
                "reason": x.reason,
            })
        })
        .collect();
    json!({
        "format": "pg_optimizer.index_advice",
        "version": 1,
        "database": one_text("SELECT pg_catalog.current_database()::text"),
        "generated_at": one_text("SELECT pg_catalog.to_char(pg_catalog.now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"),
        "sources": if sources.is_empty() { vec!["local".to_string()] } else { sources.to_vec() },
        "budget_bytes": budget_bytes.round() as i64,
        "recorded": r.recorded,
        "statements": r.statements,
        "candidates": r.candidates,
        "planner_calls": r.planner_calls,
        "cache_hits": r.cache_hits,
        "capped": r.capped,
        "seconds": (r.seconds * 1000.0).round() / 1000.0,
        "workload_cost_before": first_create.map(|c| c.cost_before),
        "workload_cost_after": first_create.map(|c| c.cost_after),
        "actions": actions,
        "rejected": r.rejected,
    })
}

/// The whole report document; `advice` is the advice document (or null when it was not made).
pub fn document(advice: Value) -> Result<Value, String> {
    let mut d = Map::new();
    d.insert("format".into(), json!("pg_optimizer.report"));
    d.insert("version".into(), json!(1));
    let head = crate::pg::text_rows("SELECT pg_catalog.to_char(pg_catalog.now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                pg_catalog.current_database()::text, pg_catalog.current_setting('server_version'),
                (SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_optimizer'),
                EXTRACT(epoch FROM pg_catalog.now() - COALESCE(
                    (SELECT s.stats_reset FROM pg_catalog.pg_stat_database s WHERE s.datname = pg_catalog.current_database()),
                    pg_catalog.pg_postmaster_start_time()))::float8::text", &[])?;
    if let Some(h) = head.first() {
        d.insert("generated_at".into(), json!(h[0]));
        d.insert("database".into(), json!(h[1]));
        d.insert("server_version".into(), json!(h[2]));
        d.insert("extension_version".into(), json!(h[3]));
        d.insert("window_seconds".into(), num(&h[4]));
    }
    d.insert("health".into(), health()?);
    d.insert("findings".into(), findings()?);
    d.insert("statements".into(), statements()?);
    d.insert("tables".into(), tables()?);
    d.insert("lint".into(), lint_json(&advice)?);
    d.insert("advice".into(), advice);
    Ok(Value::Object(d))
}

fn health() -> Result<Value, String> {
    let r = crate::pg::text_rows("SELECT area, status, findings::text, top_finding, top_action FROM optimizer.health()", &[])?;
    Ok(Value::Array(
        r.into_iter()
            .map(|x| json!({"area": x[0], "status": x[1], "findings": num(&x[2]), "top_finding": x[3], "top_action": x[4]}))
            .collect(),
    ))
}

/// Every finding of the views health() sums up (`optimizer.insight_findings()`, health()'s own
/// list), statistics_advice's unverified candidates left out.
fn findings() -> Result<Value, String> {
    let r = crate::pg::text_rows("SELECT insight, severity, evidence, recommendation FROM optimizer.insight_findings() WHERE insight <> 'statistics_advice'", &[])?;
    Ok(Value::Array(
        r.into_iter().map(|x| json!({"insight": x[0], "severity": x[1], "evidence": x[2], "recommendation": x[3]})).collect(),
    ))
}

fn statements() -> Result<Value, String> {
    let top = crate::pg::text_rows("WITH s AS (
             SELECT s.queryid, min(s.query) AS query, sum(s.calls) AS calls, sum(s.total_exec_time) AS total_ms,
                    sum(s.rows) AS rows, max(s.p95_exec_time) AS p95, max(s.p99_exec_time) AS p99
               FROM optimizer.statements s
              WHERE s.dbid = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
                AND s.calls > 0 AND s.query !~ '\\moptimizer\\.'
              GROUP BY s.queryid
         )
         SELECT s.queryid::text, s.query, s.calls::text, s.total_ms::text, (s.total_ms / s.calls)::text,
                s.p95::text, s.p99::text, s.rows::text,
                (s.total_ms / NULLIF(sum(s.total_ms) OVER (), 0))::text
           FROM s ORDER BY s.total_ms DESC, s.queryid LIMIT 10", &[])?;
    let mut out = vec![];
    for x in top {
        let queryid = x[0].as_deref().unwrap_or("0").parse::<i64>().unwrap_or(0);
        let hist = crate::pg::text_rows(
            "SELECT lower_ms::text, upper_ms::text, calls::text FROM optimizer.latency_histogram($1) WHERE calls > 0 ORDER BY bucket",
            &[queryid.into()],
        )?;
        out.push(json!({
            "queryid": x[0], "query": x[1], "calls": num(&x[2]), "total_ms": num(&x[3]), "mean_ms": num(&x[4]),
            "p95_ms": num(&x[5]), "p99_ms": num(&x[6]), "rows": num(&x[7]), "time_share": num(&x[8]),
            "histogram": hist.into_iter().map(|h| json!({"lower_ms": num(&h[0]), "upper_ms": num(&h[1]), "calls": num(&h[2])})).collect::<Vec<_>>(),
        }));
    }
    Ok(Value::Array(out))
}

fn tables() -> Result<Value, String> {
    // Sizes from pg_class (no lock taken on the tables), of the relations the caller can see.
    let top = crate::pg::text_rows("WITH t AS (
             SELECT c.oid, c.relpages::numeric * pg_catalog.current_setting('block_size')::numeric AS table_bytes,
                    GREATEST(c.reltuples, 0) AS rows,
                    COALESCE((SELECT sum(i.relpages) FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
                               WHERE x.indrelid = c.oid), 0) * pg_catalog.current_setting('block_size')::numeric AS index_bytes
               FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'm')
                AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'optimizer')
                AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
         )
         SELECT t.oid::text, t.oid::regclass::text, t.table_bytes::bigint::text, t.index_bytes::bigint::text, t.rows::bigint::text
           FROM t ORDER BY t.table_bytes + t.index_bytes DESC, t.oid LIMIT 20", &[])?;
    let mut out = vec![];
    for x in top {
        let oid: u32 = x[0].as_deref().unwrap_or("0").parse().unwrap_or(0);
        let idx = crate::pg::text_rows(
            "SELECT x.indexrelid::regclass::text, (i.relpages::numeric * pg_catalog.current_setting('block_size')::numeric)::bigint::text,
                    pg_catalog.pg_stat_get_numscans(x.indexrelid)::text
               FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
              WHERE x.indrelid = $1 ORDER BY i.relpages DESC, 1",
            &[pg_sys::Oid::from(oid).into()],
        )?;
        out.push(json!({
            "table": x[1], "table_bytes": num(&x[2]), "index_bytes": num(&x[3]), "rows": num(&x[4]),
            "indexes": idx.into_iter().map(|i| json!({"index": i[0], "bytes": num(&i[1]), "scans": num(&i[2])})).collect::<Vec<_>>(),
        }));
    }
    Ok(Value::Array(out))
}

/// The lint section: every recorded statement linted, with the workload rules (N+1), pointing
/// to the advice's indexes (`advice`: the index_advice document) where one serves a finding.
pub fn lint_json(advice: &Value) -> Result<Value, String> {
    let stmts = lint::statements()?;
    let mut catalog = SpiCatalog::default();
    if let Some(actions) = advice.get("actions").and_then(Value::as_array) {
        for a in actions.iter().filter(|a| a.get("action").and_then(Value::as_str) == Some("create")) {
            if let (Some(t), Some(d)) = (a.get("table").and_then(Value::as_str), a.get("ddl").and_then(Value::as_str)) {
                catalog.advised.push((t.to_string(), d.to_string()));
            }
        }
    }
    let w = pg_optimizer_core::lint::lint_workload(&stmts, &catalog);
    Ok(json!({
        "statements": stmts.len(),
        "parsed": w.parsed,
        "findings": w.findings.iter().map(|f| json!({
            "queryid": f.queryid.map(|q| q.to_string()), "query": lint::text_of(&w, &stmts, f), "rule": f.rule,
            "severity": f.severity.as_str(), "fragment": f.fragment, "position": f.position,
            "evidence": f.evidence, "rewrite": f.rewrite,
        })).collect::<Vec<_>>(),
        "unparsed": w.unparsed.iter().map(|(s, u)| json!({
            "queryid": s.queryid.to_string(), "query": s.query, "message": u.message,
        })).collect::<Vec<_>>(),
    }))
}

/// A number from its text (null when there is none).
fn num(s: &Option<String>) -> Value {
    s.as_deref().and_then(|t| t.parse::<f64>().ok()).filter(|f| f.is_finite()).map_or(Value::Null, |f| {
        if f.fract() == 0.0 && f.abs() < 9.0e15 {
            json!(f as i64)
        } else {
            json!(f)
        }
    })
}

fn one_text(sql: &str) -> Option<String> {
    crate::pg::read_one::<String>(sql, &[]).ok().flatten()
}

