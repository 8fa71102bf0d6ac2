//! The anti-pattern linter (see lib.rs): pure rules over sqlparser's AST (PostgreSQL dialect)
//! plus the numbers the server recorded for each statement and a few catalog facts.
//!
//! - `parse`: parsing (recursion-limited, never panics) and positions: spans to 1-based
//!   character offsets, fragments as written
//! - `scope`: the relations a SELECT/UPDATE/DELETE reads and column-name resolution
//! - `exprs`: small helpers over expressions (column references, literals, aggregates)
//! - `walk`: the AST walk that hands every query, SELECT and expression to the rules
//! - `rules`: the rules about one query or one SELECT
//! - `predicates`: the rules about filter predicates (WHERE, JOIN ON) and expressions
//! - `nplusone`: the rule that compares statements of a workload (N+1)
//! - `text`: number formatting and fragment trimming for messages
//!
//! Findings are ordered by severity (critical first), then queryid, then position.

use serde::Serialize;
use std::collections::HashMap;

mod exprs;
mod nplusone;
mod parse;
mod predicates;
mod rules;
mod scope;
mod text;
mod walk;

#[cfg(test)]
mod tests;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; rarely costly on its own.
    Info,
    /// Likely costly; fix when convenient.
    Warning,
    /// Costly at the recorded volume; fix first.
    Critical,
}

impl Severity {
    /// The lower-case name: "info", "warning" or "critical".
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// Sort rank: critical first.
    fn rank(&self) -> u8 {
        match self {
            Severity::Critical => 0,
            Severity::Warning => 1,
            Severity::Info => 2,
        }
    }
}

/// What the server recorded about one statement (all optional for lint_sql text that never ran).
#[derive(Clone, Debug, Default)]
pub struct StatementFacts {
    /// pg_stat_statements-style query id.
    pub queryid: i64,
    /// The normalised text.
    pub query: String,
    /// The text of one real execution (its constants as written), when recorded whole. The
    /// per-statement rules read it when it parses (a `LIKE '%son'` or `OFFSET 50000` is only
    /// seen there); the N+1 rule compares normalised texts.
    pub example: Option<String>,
    /// Executions.
    pub calls: f64,
    /// Rows returned or changed, all calls together.
    pub rows: f64,
    /// Total execution time, milliseconds.
    pub total_ms: f64,
    /// Mean execution time, milliseconds.
    pub mean_ms: f64,
    /// Calls per second over the statistics window.
    pub calls_per_s: f64,
}

/// Facts about a table the glue looked up in the catalog (the glue resolves the name as written).
#[derive(Clone, Debug, Default)]
pub struct TableFacts {
    /// Qualified name, for messages: public.orders.
    pub name: String,
    /// Columns in attnum order.
    pub columns: Vec<ColumnFacts>,
    /// pg_class.reltuples.
    pub rows: f64,
    /// Sum of pg_stats avg_width (0 when unknown).
    pub avg_row_bytes: f64,
    /// (index name, its key expression text as pg_get_indexdef prints it, e.g. "lower(email)").
    pub expression_indexes: Vec<(String, String)>,
}

/// One column of a table.
#[derive(Clone, Debug, Default)]
pub struct ColumnFacts {
    /// Column name.
    pub name: String,
    /// Type name as format_type prints it.
    pub type_name: String,
    /// The column is NOT NULL.
    pub not_null: bool,
    /// pg_stats avg_width (0 when unknown).
    pub avg_width: f64,
}

impl TableFacts {
    /// The column of that name, if the table has it.
    pub fn column(&self, name: &str) -> Option<&ColumnFacts> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Catalog lookups the rules may make; the glue implements it with SPI. `name` is the table name
/// as written in the SQL, possibly qualified (schema.table), unquoted identifiers lower-cased as
/// PostgreSQL folds them.
pub trait Catalog {
    /// Facts about the table, None when it is unknown (or not a table).
    fn table(&self, name: &str) -> Option<TableFacts>;
    /// An index the index advisor proposes for this table and expression, as DDL (None when unknown).
    fn advised_index(&self, _table: &str, _expression: &str) -> Option<String> {
        None
    }
}

/// Whether an index the advisor proposes (`ddl`, on `advised_table` as the advisor names it,
/// quoted and qualified) is on `table` (as the catalog names it: qualified or not) and has
/// `expression` as a key: names compared without quotes, case or spaces.
pub fn advice_serves(advised_table: &str, ddl: &str, table: &str, expression: &str) -> bool {
    let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace() && *c != '"').collect::<String>().to_lowercase();
    let last = |s: &str| squash(s).rsplit('.').next().unwrap_or_default().to_string();
    let (t, a) = (squash(table), squash(advised_table));
    let same_table = if t.contains('.') && a.contains('.') { t == a } else { last(table) == last(advised_table) };
    let expr = squash(expression);
    same_table && !expr.is_empty() && squash(ddl).contains(&format!("({expr})"))
}

/// One anti-pattern found in one statement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// The statement's queryid; None for lint_sql text.
    pub queryid: Option<i64>,
    /// Snake_case rule id (see [`RULES`]).
    pub rule: &'static str,
    /// How bad it is.
    pub severity: Severity,
    /// The offending fragment as written in the text (trimmed to <= 200 characters).
    pub fragment: String,
    /// 1-based character (not byte) offset of the fragment in the text, like PostgreSQL's error
    /// positions; 0 when unknown.
    pub position: usize,
    /// The numbers behind it, in words.
    pub evidence: String,
    /// The concrete rewrite or action.
    pub rewrite: String,
}

/// A statement the parser could not read, with the parser's message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Unparsed {
    /// The statement's queryid; None for lint_sql text.
    pub queryid: Option<i64>,
    /// The parser's message.
    pub message: String,
}

/// The result of linting a recorded workload.
pub struct WorkloadLint {
    /// All findings, ordered by severity, queryid, position.
    pub findings: Vec<Finding>,
    /// The statements the parser could not read, with its message.
    pub unparsed: Vec<(StatementFacts, Unparsed)>,
    /// How many statements were parsed (and linted).
    pub parsed: usize,
    /// Per query id, the text its own findings' positions point into: the example when it
    /// parses, else the normalised text. (`n_plus_one` compares normalised texts: its findings
    /// point into the normalised text.)
    pub linted: HashMap<i64, String>,
}

/// The rules, for documentation: (rule id, severity, one-line description). The severity is the
/// usual one; several rules raise or lower it with the numbers (see each rule's doc comment).
pub const RULES: &[(&str, Severity, &str)] = &[
    (
        "select_star",
        Severity::Info,
        "SELECT * on a wide table (>= 10 columns or >= 200 bytes per row); warning at >= 100 rows per call",
    ),
    (
        "unbounded_result",
        Severity::Warning,
        "top-level SELECT without LIMIT returning >= 1000 rows per call; critical at >= 100000",
    ),
    (
        "leading_wildcard_like",
        Severity::Warning,
        "LIKE/ILIKE pattern literal starting with % or _: no B-tree index can serve it",
    ),
    (
        "function_on_filtered_column",
        Severity::Warning,
        "function, cast or arithmetic around a filtered column: an index on the column cannot serve it",
    ),
    (
        "or_across_columns",
        Severity::Info,
        "WHERE a = x OR b = y over different columns; warning at >= 10000 calls or >= 100 ms mean",
    ),
    (
        "not_in_subquery",
        Severity::Warning,
        "NOT IN (SELECT ...): wrong with NULLs and never planned as an anti-join; info when the column is NOT NULL",
    ),
    (
        "large_offset",
        Severity::Warning,
        "OFFSET >= 1000 (critical at >= 100000; info for OFFSET $n): the skipped rows are still read",
    ),
    (
        "implicit_cross_join",
        Severity::Warning,
        "comma-separated tables with no predicate linking them; info for an unlinked explicit CROSS JOIN",
    ),
    (
        "large_in_list",
        Severity::Warning,
        "IN list with >= 100 items; critical at >= 1000",
    ),
    (
        "count_for_existence",
        Severity::Warning,
        "count(*) compared with 0 or 1 to test existence: EXISTS stops at the first row",
    ),
    (
        "distinct_over_join",
        Severity::Info,
        "SELECT DISTINCT over a join selecting one side only; warning at >= 100 ms mean",
    ),
    (
        "n_plus_one",
        Severity::Warning,
        "a cheap single-row lookup called once per row of another statement; critical at >= 100 calls/s",
    ),
];

/// Lint one statement text (several ;-separated statements are linted one by one).
pub fn lint_sql(
    text: &str,
    facts: Option<&StatementFacts>,
    catalog: &dyn Catalog,
) -> Result<Vec<Finding>, Unparsed> {
    let queryid = facts.map(|f| f.queryid);
    let statements = parse::parse(text).map_err(|message| Unparsed { queryid, message })?;
    let mut findings = walk::lint_statements(text, &statements, facts, catalog);
    sort_findings(&mut findings);
    Ok(findings)
}

/// Lint a recorded workload: every statement, plus the rules that compare statements (N+1).
pub fn lint_workload(statements: &[StatementFacts], catalog: &dyn Catalog) -> WorkloadLint {
    let mut findings = Vec::new();
    let mut unparsed = Vec::new();
    let mut parsed = Vec::new();
    let mut linted = HashMap::new();
    // Statements read only through their example (normalised text the parser refuses, such as
    // `extract($1 from ...)`): linted, counted as parsed, not compared by the N+1 rule.
    let mut by_example = 0;
    for facts in statements {
        // The example when it parses (real constants), else the normalised text.
        let example = facts
            .example
            .as_deref()
            .filter(|e| !e.trim().is_empty())
            .and_then(|e| parse::parse(e).ok().map(|a| (e, a)));
        match parse::parse(&facts.query) {
            Err(_) if example.is_some() => {
                let (text, example_asts) = example.as_ref().expect("checked");
                findings.extend(walk::lint_statements(text, example_asts, Some(facts), catalog));
                linted.insert(facts.queryid, text.to_string());
                by_example += 1;
            }
            Ok(asts) => {
                match &example {
                    Some((text, example_asts)) => {
                        findings.extend(walk::lint_statements(text, example_asts, Some(facts), catalog));
                        linted.insert(facts.queryid, text.to_string());
                    }
                    None => {
                        findings.extend(walk::lint_statements(&facts.query, &asts, Some(facts), catalog));
                        linted.insert(facts.queryid, facts.query.clone());
                    }
                }
                parsed.push((facts, asts));
            }
            Err(message) => unparsed.push((
                facts.clone(),
                Unparsed {
                    queryid: Some(facts.queryid),
                    message,
                },
            )),
        }
    }
    findings.extend(nplusone::find(&parsed, catalog));
    sort_findings(&mut findings);
    WorkloadLint {
        findings,
        unparsed,
        parsed: parsed.len() + by_example,
        linted,
    }
}

/// Severity (critical first), then queryid, then position; stable otherwise.
fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        a.severity
            .rank()
            .cmp(&b.severity.rank())
            .then(a.queryid.cmp(&b.queryid))
            .then(a.position.cmp(&b.position))
    });
}
