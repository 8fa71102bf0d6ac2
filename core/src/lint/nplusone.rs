//! `n_plus_one`, the rule that compares statements of a workload: a cheap single-row lookup
//! called about once per row another statement returned, and keyed by a column that statement
//! selects.

use sqlparser::ast::{BinaryOperator, Expr, SelectItem, SetExpr, Spanned, Statement};

use super::exprs::{col_ref, is_placeholder, object_name, unnest};
use super::parse::Source;
use super::rules::conjuncts;
use super::scope::Scope;
use super::text::{count, ident, num, singular};
use super::{Catalog, Finding, Severity, StatementFacts};

/// The child returns at most this many rows per call...
pub(crate) const CHILD_MAX_ROWS_PER_CALL: f64 = 1.5;
/// ... in at most this mean time (ms)...
pub(crate) const CHILD_MAX_MEAN_MS: f64 = 5.0;
/// ... with at least this many calls...
pub(crate) const CHILD_MIN_CALLS: f64 = 100.0;
/// ... at this rate (calls per second) or more.
pub(crate) const CHILD_MIN_CALLS_PER_S: f64 = 1.0;
/// The parent returns at least this many rows per call.
pub(crate) const PARENT_MIN_ROWS_PER_CALL: f64 = 5.0;
/// The child's calls are within this factor of the parent's rows (0.5x to 2x).
pub(crate) const CALLS_ROWS_FACTOR: f64 = 2.0;
/// Critical from this child rate (calls per second).
pub(crate) const CRITICAL_CALLS_PER_S: f64 = 100.0;

/// A point lookup: `SELECT ... FROM t WHERE col = $n [AND col2 = $m ...]`.
struct Lookup<'s> {
    /// The table as written (folded).
    table: String,
    /// The filter columns, folded.
    columns: Vec<String>,
    /// The WHERE predicate.
    predicate: &'s Expr,
    /// The statement, for the rewrite.
    statement: &'s Statement,
}

/// The statement as a point lookup, if it is one.
fn lookup(statements: &[Statement]) -> Option<Lookup<'_>> {
    let [statement @ Statement::Query(q)] = statements else {
        return None;
    };
    let SetExpr::Select(s) = q.body.as_ref() else {
        return None;
    };
    let [twj] = s.from.as_slice() else {
        return None;
    };
    if !twj.joins.is_empty() {
        return None;
    }
    let sqlparser::ast::TableFactor::Table {
        name, args: None, ..
    } = &twj.relation
    else {
        return None;
    };
    let predicate = s.selection.as_ref()?;
    let mut columns = Vec::new();
    for c in conjuncts(predicate) {
        let Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } = c
        else {
            return None;
        };
        let col = if is_placeholder(right) {
            col_ref(left)?
        } else if is_placeholder(left) {
            col_ref(right)?
        } else {
            return None;
        };
        columns.push(col.column);
    }
    Some(Lookup {
        table: object_name(name),
        columns,
        predicate,
        statement,
    })
}

/// The parent's output column names, each with the relation (visible name) it comes from.
fn outputs(statements: &[Statement], catalog: &dyn Catalog) -> Option<Vec<(String, String)>> {
    let [Statement::Query(q)] = statements else {
        return None;
    };
    let SetExpr::Select(s) = q.body.as_ref() else {
        return None;
    };
    let scope = Scope::new(&s.from, catalog);
    let mut out = Vec::new();
    let visible = |c: &super::exprs::ColRef| {
        scope
            .resolve(c)
            .map(|i| scope.relations[i].visible())
            .unwrap_or_default()
    };
    for item in &s.projection {
        match item {
            SelectItem::UnnamedExpr(e) => {
                if let Some(c) = col_ref(e) {
                    out.push((c.column.clone(), visible(&c)));
                }
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                let v = col_ref(expr).map(|c| visible(&c)).unwrap_or_default();
                out.push((super::exprs::ident_name(alias), v));
            }
            SelectItem::Wildcard(_) => {
                for r in &scope.relations {
                    if let Some(f) = &r.facts {
                        out.extend(f.columns.iter().map(|c| (c.name.clone(), r.visible())));
                    }
                }
            }
            SelectItem::QualifiedWildcard(
                sqlparser::ast::SelectItemQualifiedWildcardKind::ObjectName(n),
                _,
            ) => {
                if let Some(r) = scope
                    .by_qualifier(&object_name(n))
                    .map(|i| &scope.relations[i])
                {
                    if let Some(f) = &r.facts {
                        out.extend(f.columns.iter().map(|c| (c.name.clone(), r.visible())));
                    }
                }
            }
            _ => {}
        }
    }
    Some(out)
}

/// The child's numbers make it a cheap, frequent single-row lookup.
fn cheap_and_frequent(f: &StatementFacts) -> bool {
    f.calls >= CHILD_MIN_CALLS
        && f.rows / f.calls <= CHILD_MAX_ROWS_PER_CALL
        && f.mean_ms <= CHILD_MAX_MEAN_MS
        && f.calls_per_s >= CHILD_MIN_CALLS_PER_S
}

/// The parent column that carries the child's key: `<child table>_id`, `<singular>_id`, or the
/// child's filter column itself. (matched parent column, its relation, the child column).
fn key_match(child: &Lookup, outputs: &[(String, String)]) -> Option<(String, String, String)> {
    let last = child
        .table
        .rsplit('.')
        .next()
        .unwrap_or(&child.table)
        .to_string();
    let fk_names = [format!("{}_id", singular(&last)), format!("{last}_id")];
    let child_key = |name: &str| {
        if child.columns.iter().any(|c| c == name) {
            name.to_string()
        } else if child.columns.iter().any(|c| c == "id") {
            "id".to_string()
        } else {
            child.columns[0].clone()
        }
    };
    for fk in &fk_names {
        if let Some((n, r)) = outputs.iter().find(|(n, _)| n == fk) {
            return Some((n.clone(), r.clone(), child_key(fk)));
        }
    }
    outputs
        .iter()
        .find(|(n, _)| child.columns.contains(n))
        .map(|(n, r)| (n.clone(), r.clone(), n.clone()))
}

/// `n_plus_one` — a child statement that is a point lookup (`WHERE col = $n [AND ...]` on one
/// table) returning <= [`CHILD_MAX_ROWS_PER_CALL`] rows per call in <= [`CHILD_MAX_MEAN_MS`] ms,
/// with >= [`CHILD_MIN_CALLS`] calls at >= [`CHILD_MIN_CALLS_PER_S`] per second; beside a parent
/// SELECT (another queryid) returning >= [`PARENT_MIN_ROWS_PER_CALL`] rows per call whose total
/// rows are within [`CALLS_ROWS_FACTOR`]x of the child's calls and that selects the key (a
/// column named like the child's filter column or `<child table>_id`, directly or by `*`).
/// Warning; critical from [`CRITICAL_CALLS_PER_S`] child calls per second. The finding is the
/// child's, its fragment the child's WHERE predicate.
pub(crate) fn find(
    parsed: &[(&StatementFacts, Vec<Statement>)],
    catalog: &dyn Catalog,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (child_facts, child_ast) in parsed {
        if !cheap_and_frequent(child_facts) {
            continue;
        }
        let Some(child) = lookup(child_ast) else {
            continue;
        };
        // The best parent: the closest rows-to-calls ratio.
        let mut best: Option<(f64, &StatementFacts, (String, String, String))> = None;
        for (parent_facts, parent_ast) in parsed {
            if parent_facts.queryid == child_facts.queryid
                || parent_facts.calls <= 0.0
                || parent_facts.rows / parent_facts.calls < PARENT_MIN_ROWS_PER_CALL
            {
                continue;
            }
            let ratio = child_facts.calls / parent_facts.rows;
            if !(1.0 / CALLS_ROWS_FACTOR..=CALLS_ROWS_FACTOR).contains(&ratio) {
                continue;
            }
            let Some(outs) = outputs(parent_ast, catalog) else {
                continue;
            };
            let Some(m) = key_match(&child, &outs) else {
                continue;
            };
            let distance = ratio.ln().abs();
            if best.as_ref().is_none_or(|(d, _, _)| distance < *d) {
                best = Some((distance, *parent_facts, m));
            }
        }
        let Some((_, parent, (parent_col, parent_rel, child_col))) = best else {
            continue;
        };
        let severity = if child_facts.calls_per_s >= CRITICAL_CALLS_PER_S {
            Severity::Critical
        } else {
            Severity::Warning
        };
        let evidence = format!(
            "{} returning {} per call ({} ms mean, {} calls/s), while statement {} returned {} over {} and selects {}: one lookup per row of it",
            count(child_facts.calls, "call", "calls"),
            count(child_facts.rows / child_facts.calls, "row", "rows"),
            num(child_facts.mean_ms),
            num(child_facts.calls_per_s),
            parent.queryid,
            count(parent.rows, "row", "rows"),
            count(parent.calls, "call", "calls"),
            parent_col
        );
        let table = ident_path(&child.table);
        let parent_side = if parent_rel.is_empty() {
            ident(&parent_col)
        } else {
            format!("{}.{}", ident(&parent_rel), ident(&parent_col))
        };
        let rewrite = format!(
            "fetch the rows in one query: join {table} to statement {}'s query (... JOIN {table} ON {table}.{} = {parent_side}), or collect the keys and run {} once",
            parent.queryid,
            ident(&child_col),
            batched(&child, &child_col)
        );
        let src = Source::new(&child_facts.query);
        let at = src.fragment(child.predicate.span(), &child.predicate.to_string());
        findings.push(Finding {
            queryid: Some(child_facts.queryid),
            rule: "n_plus_one",
            severity,
            fragment: at.1,
            position: at.0,
            evidence,
            rewrite,
        });
    }
    findings
}

/// A dotted name with each part quoted as needed.
fn ident_path(name: &str) -> String {
    name.split('.').map(ident).collect::<Vec<_>>().join(".")
}

/// The child statement with its key equality turned into `= ANY($n)`.
fn batched(child: &Lookup, key: &str) -> String {
    let mut statement = child.statement.clone();
    if let Statement::Query(q) = &mut statement {
        if let SetExpr::Select(s) = q.body.as_mut() {
            if let Some(w) = s.selection.take() {
                s.selection = Some(replace_key(w, key));
            }
        }
    }
    statement.to_string()
}

/// `key = $n` becomes `key = ANY($n)` in an AND of equalities.
fn replace_key(e: Expr, key: &str) -> Expr {
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => Expr::BinaryOp {
            left: Box::new(replace_key(*left, key)),
            op: BinaryOperator::And,
            right: Box::new(replace_key(*right, key)),
        },
        Expr::Nested(inner) => Expr::Nested(Box::new(replace_key(*inner, key))),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } => {
            let (col, value) = if is_placeholder(&right) {
                (left, right)
            } else {
                (right, left)
            };
            if col_ref(&col).is_some_and(|c| c.column == key) {
                Expr::AnyOp {
                    left: col,
                    compare_op: BinaryOperator::Eq,
                    right: Box::new(unnest(&value).clone()),
                    is_some: false,
                }
            } else {
                Expr::BinaryOp {
                    left: col,
                    op: BinaryOperator::Eq,
                    right: value,
                }
            }
        }
        other => other,
    }
}
