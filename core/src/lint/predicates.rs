//! The rules about filter predicates — WHERE of SELECT/UPDATE/DELETE and JOIN ON:
//! `or_across_columns`, `leading_wildcard_like`, `function_on_filtered_column`,
//! `not_in_subquery`, `large_in_list` — and about any expression: the subquery form of
//! `count_for_existence`.

use sqlparser::ast::{
    BinaryOperator, CastKind, DataType, Expr, FromTable, InTarget, Query, SelectItem, SetExpr,
    Spanned, Statement, UnaryOperator, UpdateTableFromKind,
};

use super::exprs::{
    calls_volatile, col_ref, col_refs, function_name, is_constant, is_count_rows, is_placeholder,
    no_group_by, number, string, unnest, unqualified, ColRef,
};
use super::rules::{existence_test, push_count_for_existence, select_one};
use super::scope::Scope;
use super::text::{ident, normalise_expression, normalise_without_text_casts, num};
use super::walk::Ctx;
use super::Severity;

/// `or_across_columns` is a warning from this many calls...
pub(crate) const OR_HOT_CALLS: f64 = 10_000.0;
/// ... or this mean time (ms).
pub(crate) const OR_SLOW_MS: f64 = 100.0;
/// `large_in_list`: warning from this many items...
pub(crate) const IN_LIST_WARNING: usize = 100;
/// ... critical from this many.
pub(crate) const IN_LIST_CRITICAL: usize = 1000;

/// UPDATE and DELETE: their WHERE, over the tables they read.
pub(crate) fn statement(ctx: &mut Ctx, s: &Statement) {
    match s {
        Statement::Update(u) => {
            let mut from = vec![u.table.clone()];
            if let Some(UpdateTableFromKind::AfterSet(v) | UpdateTableFromKind::BeforeSet(v)) =
                &u.from
            {
                from.extend(v.iter().cloned());
            }
            if let Some(w) = &u.selection {
                let scope = Scope::new(&from, ctx.catalog);
                where_clause(ctx, &scope, w);
            }
        }
        Statement::Delete(d) => {
            let mut from = match &d.from {
                FromTable::WithFromKeyword(v) | FromTable::WithoutKeyword(v) => v.clone(),
            };
            if let Some(using) = &d.using {
                from.extend(using.iter().cloned());
            }
            if let Some(w) = &d.selection {
                let scope = Scope::new(&from, ctx.catalog);
                where_clause(ctx, &scope, w);
            }
        }
        _ => {}
    }
}

/// A WHERE clause: its top-level OR, and every leaf predicate.
pub(crate) fn where_clause(ctx: &mut Ctx, scope: &Scope, w: &Expr) {
    or_across_columns(ctx, scope, w);
    for leaf in leaves(w) {
        leaf_rules(ctx, scope, leaf);
    }
}

/// A JOIN ON condition: every leaf predicate.
pub(crate) fn join_condition(ctx: &mut Ctx, scope: &Scope, on: &Expr) {
    for leaf in leaves(on) {
        leaf_rules(ctx, scope, leaf);
    }
}

/// Any expression, wherever it is: the subquery form of `count_for_existence`.
pub(crate) fn expression(ctx: &mut Ctx, e: &Expr) {
    count_subquery_for_existence(ctx, e);
}

/// The leaf predicates of a boolean expression (through AND, OR, NOT, parentheses, IS TRUE).
fn leaves(e: &Expr) -> Vec<&Expr> {
    let mut out = Vec::new();
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        match x {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::And | BinaryOperator::Or,
                right,
            } => {
                stack.push(right);
                stack.push(left);
            }
            Expr::Nested(inner)
            | Expr::UnaryOp {
                op: UnaryOperator::Not,
                expr: inner,
            }
            | Expr::IsTrue(inner)
            | Expr::IsFalse(inner)
            | Expr::IsNotTrue(inner)
            | Expr::IsNotFalse(inner) => stack.push(inner),
            other => out.push(other),
        }
    }
    out
}

/// The rules about one leaf predicate of a WHERE or JOIN ON.
fn leaf_rules(ctx: &mut Ctx, scope: &Scope, e: &Expr) {
    leading_wildcard_like(ctx, scope, e);
    function_on_filtered_column(ctx, scope, e);
    not_in_subquery(ctx, scope, e);
    large_in_list(ctx, scope, e);
}

/// The relation the columns of an expression belong to: Some(Some(i)) for one relation,
/// Some(None) when unqualified columns cannot be placed, None when they belong to several
/// relations or a qualifier names none of ours (an outer query's column): not our matter.
fn table_for(scope: &Scope, refs: &[ColRef]) -> Option<Option<usize>> {
    let mut found: Option<usize> = None;
    for r in refs {
        match scope.resolve(r) {
            Some(i) => {
                if found.is_some_and(|f| f != i) {
                    return None;
                }
                found = Some(i);
            }
            None if r.qualifier.is_some() => return None,
            None => {}
        }
    }
    Some(found)
}

/// A relation's name for messages and DDL, and its row estimate in words (" (~1000 rows)").
fn table_words(scope: &Scope, rel: Option<usize>) -> (String, String) {
    match rel.map(|i| &scope.relations[i]) {
        Some(r) if r.is_base() => {
            let rows = r
                .facts
                .as_ref()
                .map(|f| format!(" (~{} rows)", num(f.rows.max(0.0))))
                .unwrap_or_default();
            (r.display_name(), rows)
        }
        _ => ("<table>".to_string(), String::new()),
    }
}

/// The literal a LIKE pattern starts with: the pattern itself, or the leftmost operand of a
/// `||` concatenation (`'%' || $1`).
fn leading_literal(mut e: &Expr) -> Option<&str> {
    loop {
        match unnest(e) {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::StringConcat,
                ..
            } => e = left,
            other => return string(other),
        }
    }
}

/// `leading_wildcard_like` — LIKE/ILIKE (or `~~`/`~~*`) whose pattern is a literal starting
/// with `%` or `_` (warning): no B-tree index can serve it. A `$n` pattern is unknown: no
/// finding; NOT LIKE neither (it rarely filters much). Rewrite: a pg_trgm GIN index, or
/// full-text search.
fn leading_wildcard_like(ctx: &mut Ctx, scope: &Scope, e: &Expr) {
    let (target, pattern, op) = match e {
        Expr::Like {
            negated: false,
            any: false,
            expr,
            pattern,
            ..
        } => (expr, pattern, "LIKE"),
        Expr::ILike {
            negated: false,
            any: false,
            expr,
            pattern,
            ..
        } => (expr, pattern, "ILIKE"),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::PGLikeMatch,
            right,
        } => (left, right, "~~"),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::PGILikeMatch,
            right,
        } => (left, right, "~~*"),
        _ => return,
    };
    let Some(lit) = leading_literal(pattern) else {
        return;
    };
    if !(lit.starts_with('%') || lit.starts_with('_')) {
        return;
    }
    let (refs, _) = col_refs(target);
    if refs.is_empty() {
        return;
    }
    let Some(rel) = table_for(scope, &refs) else {
        return;
    };
    let (table, rows) = table_words(scope, rel);
    let key = match col_ref(target) {
        Some(c) => ident(&c.column),
        None => format!("({})", unqualified(unnest(target))),
    };
    let evidence = ctx.with_numbers(format!(
        "the {op} pattern '{lit}' starts with a wildcard: a B-tree index on {key} cannot serve it, so every row of {table}{rows} is read and matched"
    ));
    let rewrite = format!(
        "CREATE EXTENSION IF NOT EXISTS pg_trgm; CREATE INDEX ON {table} USING gin ({key} gin_trgm_ops) serves {op} with any pattern of 3+ characters; or full-text search (to_tsvector(...) @@ plainto_tsquery($1)) for words"
    );
    let at = ctx.src.fragment(e.span(), &e.to_string());
    ctx.push(
        "leading_wildcard_like",
        Severity::Warning,
        at,
        evidence,
        rewrite,
    );
}

/// Arithmetic operators a wrapped column may sit under.
fn is_arithmetic(op: &BinaryOperator) -> bool {
    matches!(
        op,
        BinaryOperator::Plus
            | BinaryOperator::Minus
            | BinaryOperator::Multiply
            | BinaryOperator::Divide
            | BinaryOperator::Modulo
            | BinaryOperator::StringConcat
    )
}

/// The expression computes something from a column (function, cast, arithmetic...), so an
/// index on the bare column cannot serve a comparison with it.
fn is_wrapped(e: &Expr) -> bool {
    let e = unnest(e);
    let computed = match e {
        Expr::Function(f) => f.over.is_none() && !super::exprs::is_aggregate(f),
        Expr::Cast { .. }
        | Expr::Extract { .. }
        | Expr::Substring { .. }
        | Expr::Trim { .. }
        | Expr::Ceil { .. }
        | Expr::Floor { .. }
        | Expr::AtTimeZone { .. }
        | Expr::Collate { .. } => true,
        Expr::BinaryOp { op, .. } => is_arithmetic(op),
        _ => false,
    };
    if !computed {
        return false;
    }
    let (refs, subquery) = col_refs(e);
    !refs.is_empty() && !subquery
}

/// The same comparison with its operands swapped.
fn mirror(op: &BinaryOperator) -> BinaryOperator {
    match op {
        BinaryOperator::Lt => BinaryOperator::Gt,
        BinaryOperator::Gt => BinaryOperator::Lt,
        BinaryOperator::LtEq => BinaryOperator::GtEq,
        BinaryOperator::GtEq => BinaryOperator::LtEq,
        other => other.clone(),
    }
}

/// What a wrapped expression does to its column, in words.
fn wrapper_words(e: &Expr) -> String {
    match unnest(e) {
        Expr::Function(f) => format!("{}()", function_name(f)),
        Expr::Cast { data_type, .. } => format!("a cast to {data_type}"),
        Expr::BinaryOp { op, .. } => format!("arithmetic ({op})"),
        Expr::AtTimeZone { .. } => "AT TIME ZONE".to_string(),
        _ => "an expression".to_string(),
    }
}

/// A day-or-coarser truncation of a bare column: (column, interval unit). Casts to date,
/// `date(col)`, `date_trunc('<unit>', col)`.
fn truncation(e: &Expr) -> Option<(Expr, String)> {
    match unnest(e) {
        Expr::Cast {
            expr,
            data_type: DataType::Date,
            kind: CastKind::Cast | CastKind::DoubleColon,
            ..
        } => col_ref(expr).map(|_| ((**expr).clone(), "day".to_string())),
        Expr::Function(f) => {
            let args: Vec<&Expr> = match &f.args {
                sqlparser::ast::FunctionArguments::List(l) => l
                    .args
                    .iter()
                    .filter_map(|a| match a {
                        sqlparser::ast::FunctionArg::Unnamed(
                            sqlparser::ast::FunctionArgExpr::Expr(x),
                        ) => Some(x),
                        _ => None,
                    })
                    .collect(),
                _ => return None,
            };
            match (function_name(f).as_str(), args.as_slice()) {
                ("date", [c]) if col_ref(c).is_some() => Some(((*c).clone(), "day".to_string())),
                ("date_trunc", [unit, c]) if col_ref(c).is_some() => {
                    let u = string(unit)?.to_lowercase();
                    let ok = ["minute", "hour", "day", "week", "month", "quarter", "year"];
                    ok.contains(&u.as_str()).then(|| ((*c).clone(), u))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// A range predicate on the bare column for `trunc(col) <op> v`.
fn range_rewrite(col: &Expr, unit: &str, op: &BinaryOperator, v: &Expr) -> Option<String> {
    let next = format!("{v} + interval '1 {unit}'");
    Some(match op {
        BinaryOperator::Eq => format!("{col} >= {v} AND {col} < {next}"),
        BinaryOperator::GtEq => format!("{col} >= {v}"),
        BinaryOperator::Lt => format!("{col} < {v}"),
        BinaryOperator::Gt => format!("{col} >= {next}"),
        BinaryOperator::LtEq => format!("{col} < {next}"),
        _ => return None,
    })
}

/// For `col ± k <op> v` (or `k ± col`): the comparison with the bare column alone.
fn arithmetic_rewrite(wrapped: &Expr, op: &BinaryOperator, v: &Expr) -> Option<String> {
    let Expr::BinaryOp {
        left,
        op: arith,
        right,
    } = unnest(wrapped)
    else {
        return None;
    };
    let (l_col, r_col) = (col_ref(left).is_some(), col_ref(right).is_some());
    match arith {
        BinaryOperator::Plus if l_col && is_constant(right) => {
            Some(format!("{left} {op} {v} - {right}"))
        }
        BinaryOperator::Plus if r_col && is_constant(left) => {
            Some(format!("{right} {op} {v} - {left}"))
        }
        BinaryOperator::Minus if l_col && is_constant(right) => {
            Some(format!("{left} {op} {v} + {right}"))
        }
        BinaryOperator::Minus if r_col && is_constant(left) => {
            Some(format!("{right} {} {left} - {v}", mirror(op)))
        }
        _ => None,
    }
}

/// `function_on_filtered_column` — in WHERE/JOIN ON, a function call, cast or arithmetic
/// around a column compared (=, <, <=, >, >=, BETWEEN, IN list) with a value or another column
/// (warning): an index on the column cannot serve it. When the table has an expression index
/// on the same expression (text compared without case, whitespace, parentheses and the casts
/// PostgreSQL prints): info, "served by index X". Else the rewrite is, in order: the index
/// advisor's DDL (`Catalog::advised_index`, given the catalog's qualified table name); a
/// range predicate for day-or-coarser truncations (`ts::date`, `date(ts)`, `date_trunc`);
/// moving `±` arithmetic to the other side; for time-dependent expressions, comparing the bare
/// column; else an expression index `CREATE INDEX ON <table> ((<expr>))`.
fn function_on_filtered_column(ctx: &mut Ctx, scope: &Scope, e: &Expr) {
    let comparable = |x: &Expr| is_constant(x) || col_ref(x).is_some();
    let (wrapped, op, value): (&Expr, Option<BinaryOperator>, Option<&Expr>) = match e {
        Expr::BinaryOp { left, op, right }
            if matches!(
                op,
                BinaryOperator::Eq
                    | BinaryOperator::Lt
                    | BinaryOperator::LtEq
                    | BinaryOperator::Gt
                    | BinaryOperator::GtEq
            ) =>
        {
            if is_wrapped(left) && comparable(right) {
                (left.as_ref(), Some(op.clone()), Some(right.as_ref()))
            } else if is_wrapped(right) && comparable(left) {
                (right.as_ref(), Some(mirror(op)), Some(left.as_ref()))
            } else {
                return;
            }
        }
        Expr::Between {
            expr,
            negated: false,
            low,
            high,
        } if is_wrapped(expr) && comparable(low) && comparable(high) => (expr.as_ref(), None, None),
        Expr::In {
            expr,
            target: InTarget::List(list),
            negated: false,
            ..
        } if is_wrapped(expr) && list.iter().all(is_constant) => (expr.as_ref(), None, None),
        _ => return,
    };
    let (refs, _) = col_refs(wrapped);
    let Some(rel) = table_for(scope, &refs) else {
        // Columns of different relations (or an outer query's): not an index matter.
        return;
    };
    let (table, rows) = table_words(scope, rel);
    let expr = unqualified(unnest(wrapped));
    let expr_text = expr.to_string();
    let columns: Vec<String> = {
        let mut c: Vec<String> = refs.iter().map(|r| ident(&r.column)).collect();
        c.dedup();
        c
    };
    let at = ctx.src.fragment(e.span(), &e.to_string());
    let facts = rel.and_then(|i| scope.relations[i].facts.clone());
    // An expression index that serves it.
    if let Some(f) = &facts {
        let norm = normalise_expression(&expr_text);
        let loose = normalise_without_text_casts(&expr_text);
        if let Some((name, ix)) = f.expression_indexes.iter().find(|(_, ix)| {
            normalise_expression(ix) == norm || normalise_without_text_casts(ix) == loose
        }) {
            let evidence = ctx.with_numbers(format!(
                "{expr_text} on {table} is served by index {name} on ({ix})"
            ));
            let rewrite = format!("none needed: expression index {name} serves this predicate");
            ctx.push(
                "function_on_filtered_column",
                Severity::Info,
                at,
                evidence,
                rewrite,
            );
            return;
        }
    }
    let evidence = ctx.with_numbers(format!(
        "{} is wrapped in {}: an index on {} of {table}{rows} cannot serve the comparison, so the filter is applied row by row",
        columns.join(", "),
        wrapper_words(wrapped),
        columns.join(", ")
    ));
    let advised = match (&facts, rel) {
        (Some(f), _) if !f.name.is_empty() => ctx.catalog.advised_index(&f.name, &expr_text),
        (_, Some(i)) => scope.relations[i]
            .table
            .as_deref()
            .and_then(|t| ctx.catalog.advised_index(t, &expr_text)),
        _ => None,
    };
    let rewrite = if let Some(ddl) = advised {
        format!("the index advisor proposes: {ddl}")
    } else if let Some(r) = truncation(wrapped)
        .zip(op.as_ref().zip(value))
        .and_then(|((col, unit), (op, v))| range_rewrite(&col, &unit, op, v))
    {
        format!("compare the bare column with a range so an index on it serves: {r}")
    } else if let Some(r) = op
        .as_ref()
        .zip(value)
        .and_then(|(op, v)| arithmetic_rewrite(wrapped, op, v))
    {
        format!("move the arithmetic to the other side so an index on the column serves: {r}")
    } else if calls_volatile(wrapped) {
        "rewrite the predicate so the bare column is compared with a computed value (the expression depends on the current time, so no index can hold it)".to_string()
    } else {
        format!("CREATE INDEX ON {table} (({expr_text})) lets the planner use an index for this predicate (the expression must be IMMUTABLE)")
    };
    ctx.push(
        "function_on_filtered_column",
        Severity::Warning,
        at,
        evidence,
        rewrite,
    );
}

/// The outer side of NOT IN, qualified when it is a bare column we can place.
fn qualified_outer(scope: &Scope, e: &Expr) -> String {
    match col_ref(e) {
        Some(c) if c.qualifier.is_none() => match scope.resolve(&c) {
            Some(i) => format!(
                "{}.{}",
                ident(&scope.relations[i].visible()),
                ident(&c.column)
            ),
            None => e.to_string(),
        },
        _ => e.to_string(),
    }
}

/// `not_in_subquery` — `x NOT IN (SELECT c FROM ...)`. Warning when c may be NULL (nullable or
/// not known to the catalog): one NULL makes the predicate return no rows, and NOT IN is never
/// planned as an anti-join. Info when c is NOT NULL (the result is right; only the plan
/// suffers: a hashed subplan at best). Rewrite: `NOT EXISTS (SELECT 1 ... WHERE c = x)`.
fn not_in_subquery(ctx: &mut Ctx, scope: &Scope, e: &Expr) {
    let Expr::In {
        expr,
        target: InTarget::Subquery(q),
        negated: true,
        ..
    } = e
    else {
        return;
    };
    let at = ctx.src.fragment(e.span(), &e.to_string());
    let outer = qualified_outer(scope, expr);
    let plan = "NOT IN cannot be planned as an anti-join: at best a hashed subplan, re-run for every outer row once the subquery's result outgrows work_mem";
    let simple = match q.body.as_ref() {
        SetExpr::Select(s) if s.projection.len() == 1 && q.limit_clause.is_none() => Some(s),
        _ => None,
    };
    let Some(s) = simple else {
        let evidence = ctx.with_numbers(format!(
            "if the subquery can return NULL, NOT IN returns no rows at all; and {plan}"
        ));
        ctx.push(
            "not_in_subquery",
            Severity::Warning,
            at,
            evidence,
            format!("NOT EXISTS (SELECT 1 FROM ... WHERE <subquery column> = {outer})"),
        );
        return;
    };
    let inner_scope = Scope::new(&s.from, ctx.catalog);
    let item = match &s.projection[0] {
        SelectItem::UnnamedExpr(x) | SelectItem::ExprWithAlias { expr: x, .. } => Some(x),
        _ => None,
    };
    let inner_col = item.and_then(col_ref);
    let known = inner_col.as_ref().and_then(|c| inner_scope.column_facts(c));
    let inner_text = match (&inner_col, item) {
        (Some(c), _) if c.qualifier.is_none() => match inner_scope.resolve(c) {
            Some(i) => format!(
                "{}.{}",
                ident(&inner_scope.relations[i].visible()),
                ident(&c.column)
            ),
            None => ident(&c.column),
        },
        (_, Some(x)) => x.to_string(),
        _ => "<column>".to_string(),
    };
    let (severity, evidence) = match known {
        Some((r, c)) if c.not_null => (
            Severity::Info,
            format!(
                "{}.{} is NOT NULL, so the result is right, but {plan}",
                r.display_name(),
                ident(&c.name)
            ),
        ),
        Some((r, c)) => (
            Severity::Warning,
            format!(
                "{}.{} is nullable: one NULL in it makes NOT IN return no rows at all; and {plan}",
                r.display_name(),
                ident(&c.name)
            ),
        ),
        None => (
            Severity::Warning,
            format!("if {inner_text} can be NULL, one NULL makes NOT IN return no rows at all; and {plan}"),
        ),
    };
    let evidence = ctx.with_numbers(evidence);
    let from = s
        .from
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let mut condition = String::new();
    match &s.selection {
        Some(
            w @ Expr::BinaryOp {
                op: BinaryOperator::Or,
                ..
            },
        ) => condition = format!("({w}) AND "),
        Some(w) => condition = format!("{w} AND "),
        None => {}
    }
    condition.push_str(&format!("{inner_text} = {outer}"));
    let rewrite = format!("NOT EXISTS (SELECT 1 FROM {from} WHERE {condition}): planned as an anti-join, and right with NULLs");
    ctx.push("not_in_subquery", severity, at, evidence, rewrite);
}

/// The SQL type of an IN list's items: the column's, else from the literals.
fn list_type(scope: &Scope, expr: &Expr, list: &[Expr]) -> String {
    if let Some((_, c)) = col_ref(expr).and_then(|c| scope.column_facts(&c)) {
        if !c.type_name.is_empty() {
            return c.type_name.clone();
        }
    }
    let numbers: Vec<Option<f64>> = list.iter().map(number).collect();
    if numbers.iter().all(Option::is_some) {
        if list.iter().any(|x| x.to_string().contains('.')) {
            return "numeric".to_string();
        }
        return "bigint".to_string();
    }
    if list.iter().all(|x| string(x).is_some()) {
        return "text".to_string();
    }
    "<type>".to_string()
}

/// `large_in_list` — `IN (...)` or `NOT IN (...)` with >= [`IN_LIST_WARNING`] items
/// (warning; >= [`IN_LIST_CRITICAL`] critical), literals and placeholders alike. Rewrite: one
/// array parameter (`= ANY($1::type[])`), or a join to a VALUES list / temporary table.
fn large_in_list(ctx: &mut Ctx, scope: &Scope, e: &Expr) {
    let Expr::In {
        expr,
        target: InTarget::List(list),
        negated,
        ..
    } = e
    else {
        return;
    };
    let n = list.len();
    if n < IN_LIST_WARNING {
        return;
    }
    let severity = if n >= IN_LIST_CRITICAL {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let placeholders = list.iter().filter(|x| is_placeholder(x)).count();
    let what = if placeholders == n {
        format!("{n} placeholders")
    } else if placeholders == 0 {
        format!("{n} values")
    } else {
        format!("{n} items ({placeholders} placeholders)")
    };
    let evidence = ctx.with_numbers(format!(
        "IN list of {what}: parsing and planning grow with the list, and every list length is a different statement text and plan"
    ));
    let ty = list_type(scope, expr, list);
    let array = if *negated {
        format!("{expr} <> ALL($1::{ty}[])")
    } else {
        format!("{expr} = ANY($1::{ty}[])")
    };
    let rewrite = format!(
        "pass one array parameter: {array}; for very long lists join to a VALUES list or a temporary table"
    );
    let fallback = format!("{expr} {}IN (", if *negated { "NOT " } else { "" });
    let at = ctx.src.fragment(e.span(), &fallback);
    ctx.push("large_in_list", severity, at, evidence, rewrite);
}

/// The subquery is `SELECT count(*) FROM ...` (one row, no GROUP BY, HAVING or LIMIT).
fn count_subquery(e: &Expr) -> Option<&Query> {
    let Expr::Subquery(q) = unnest(e) else {
        return None;
    };
    let SetExpr::Select(s) = q.body.as_ref() else {
        return None;
    };
    let item = match s.projection.as_slice() {
        [SelectItem::UnnamedExpr(x)] | [SelectItem::ExprWithAlias { expr: x, .. }] => x,
        _ => return None,
    };
    (is_count_rows(item)
        && no_group_by(s)
        && s.having.is_none()
        && q.limit_clause.is_none()
        && q.fetch.is_none())
    .then_some(q)
}

/// `count_for_existence`, subquery form — `(SELECT count(*) FROM ...) > 0` (or `>= 1`, `<> 0`,
/// `= 0`, `< 1`, `<= 0`, either side) anywhere in the statement (warning). Rewrite:
/// `EXISTS (SELECT 1 FROM ...)` / `NOT EXISTS (...)`.
fn count_subquery_for_existence(ctx: &mut Ctx, e: &Expr) {
    let Some((exists, count)) = existence_test(e, |x| count_subquery(x).is_some()) else {
        return;
    };
    let Some(q) = count_subquery(count) else {
        return;
    };
    let mut inner = q.clone();
    if let SetExpr::Select(s) = inner.body.as_mut() {
        s.projection = select_one();
    }
    push_count_for_existence(ctx, e, &format!("{}EXISTS ({inner})", if exists { "" } else { "NOT " }), "the subquery");
}

/// The column a simple disjunct filters: `col = value` (either side) or `col IN (values)`.
fn disjunct_column(e: &Expr) -> Option<ColRef> {
    match unnest(e) {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } => match (col_ref(left), col_ref(right)) {
            (Some(c), None) if is_constant(right) => Some(c),
            (None, Some(c)) if is_constant(left) => Some(c),
            _ => None,
        },
        Expr::In {
            expr,
            target: InTarget::List(list),
            negated: false,
            ..
        } if list.iter().all(is_constant) => col_ref(expr),
        _ => None,
    }
}

/// `or_across_columns` — a WHERE that is, at its top, an OR of simple filters (`col = value`,
/// `col IN (values)`) over two or more different columns (info; warning from [`OR_HOT_CALLS`]
/// calls or [`OR_SLOW_MS`] mean): one index cannot serve it; the planner needs an index on
/// each column to BitmapOr them, else it reads the whole table. Rewrite: UNION of one query
/// per column.
fn or_across_columns(ctx: &mut Ctx, scope: &Scope, w: &Expr) {
    let top = unnest(w);
    if !matches!(
        top,
        Expr::BinaryOp {
            op: BinaryOperator::Or,
            ..
        }
    ) {
        return;
    }
    let mut disjuncts = Vec::new();
    let mut stack = vec![top];
    while let Some(x) = stack.pop() {
        match unnest(x) {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Or,
                right,
            } => {
                stack.push(right);
                stack.push(left);
            }
            other => disjuncts.push(other),
        }
    }
    let mut columns: Vec<(Option<usize>, Option<String>, String)> = Vec::new();
    for d in &disjuncts {
        let Some(c) = disjunct_column(d) else {
            return;
        };
        let rel = scope.resolve(&c);
        let key = (
            rel,
            if rel.is_none() {
                c.qualifier.clone()
            } else {
                None
            },
            c.column.clone(),
        );
        if !columns.contains(&key) {
            columns.push(key);
        }
    }
    if columns.len() < 2 {
        return;
    }
    let names: Vec<String> = columns
        .iter()
        .map(|(rel, q, c)| match (rel, q) {
            (Some(i), _) if scope.relations.len() > 1 => {
                format!("{}.{}", ident(&scope.relations[*i].visible()), ident(c))
            }
            (None, Some(q)) => format!("{q}.{}", ident(c)),
            _ => ident(c),
        })
        .collect();
    let hot = ctx
        .ran()
        .is_some_and(|f| f.calls >= OR_HOT_CALLS || f.mean_ms >= OR_SLOW_MS);
    let severity = if hot {
        Severity::Warning
    } else {
        Severity::Info
    };
    let (table, rows) = match columns
        .iter()
        .map(|(r, _, _)| *r)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [Some(i), rest @ ..] if rest.iter().all(|r| *r == Some(*i)) => table_words(scope, Some(*i)),
        _ => ("the tables".to_string(), String::new()),
    };
    let evidence = ctx.with_numbers(format!(
        "OR over {} different columns ({}): no single index serves it; without an index on each for a BitmapOr, all of {table}{rows} is read",
        columns.len(),
        names.join(", ")
    ));
    let branches: Vec<String> = disjuncts
        .iter()
        .map(|d| format!("SELECT ... WHERE {d}"))
        .collect();
    let rewrite = format!(
        "one query per column: {} (UNION ALL when the branches cannot return the same row), each served by its own index; or index every column ({}) so the planner can BitmapOr them",
        branches.join(" UNION "),
        names.join(", ")
    );
    let at = ctx.src.fragment(w.span(), &w.to_string());
    ctx.push("or_across_columns", severity, at, evidence, rewrite);
}
