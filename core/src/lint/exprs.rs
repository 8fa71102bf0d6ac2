//! Small helpers over sqlparser expressions: names as PostgreSQL folds them, column
//! references, literals, placeholders and aggregates.

use std::ops::ControlFlow;

use sqlparser::ast::{
    visit_expressions, visit_expressions_mut, Expr, Function, FunctionArg, FunctionArgExpr,
    FunctionArguments, GroupByExpr, Ident, ObjectName, ObjectNamePart, Select, SelectItem, Value,
};

/// A column as written: optional qualifier (alias, table or schema.table) and the name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ColRef {
    /// The qualifier, folded: `o` in `o.id`, `public.orders` in `public.orders.id`.
    pub qualifier: Option<String>,
    /// The column name, folded.
    pub column: String,
}

/// An identifier as PostgreSQL folds it: unquoted lower-cased, quoted kept.
pub(crate) fn ident_name(id: &Ident) -> String {
    if id.quote_style.is_some() {
        id.value.clone()
    } else {
        id.value.to_lowercase()
    }
}

/// An object name, folded, parts joined with dots.
pub(crate) fn object_name(name: &ObjectName) -> String {
    name.0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(id) => ident_name(id),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Parentheses removed.
pub(crate) fn unnest(mut e: &Expr) -> &Expr {
    while let Expr::Nested(inner) = e {
        e = inner;
    }
    e
}

/// The expression is a bare column reference (within parentheses or not).
pub(crate) fn col_ref(e: &Expr) -> Option<ColRef> {
    match unnest(e) {
        Expr::Identifier(id) => Some(ColRef {
            qualifier: None,
            column: ident_name(id),
        }),
        Expr::CompoundIdentifier(ids) if ids.len() >= 2 => Some(ColRef {
            qualifier: Some(
                ids[..ids.len() - 1]
                    .iter()
                    .map(ident_name)
                    .collect::<Vec<_>>()
                    .join("."),
            ),
            column: ident_name(&ids[ids.len() - 1]),
        }),
        _ => None,
    }
}

/// Column references anywhere in the expression, and whether it holds a subquery.
pub(crate) fn col_refs(e: &Expr) -> (Vec<ColRef>, bool) {
    let mut refs = Vec::new();
    let mut subquery = false;
    let _ = visit_expressions(e, |x| {
        match x {
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => {
                if let Some(r) = col_ref(x) {
                    refs.push(r);
                }
            }
            Expr::Subquery(_) | Expr::Exists { .. } => subquery = true,
            Expr::In {
                target: sqlparser::ast::InTarget::Subquery(_),
                ..
            } => subquery = true,
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    (refs, subquery)
}

/// No column and no subquery: a value the statement is given (literal, placeholder, now()).
pub(crate) fn is_constant(e: &Expr) -> bool {
    let (refs, subquery) = col_refs(e);
    refs.is_empty() && !subquery
}

/// A numeric literal's value (a leading minus allowed).
pub(crate) fn number(e: &Expr) -> Option<f64> {
    match unnest(e) {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        Expr::UnaryOp {
            op: sqlparser::ast::UnaryOperator::Minus,
            expr,
        } => number(expr).map(|x| -x),
        _ => None,
    }
}

/// A string literal's text, through casts (`'%x'::text`).
pub(crate) fn string(e: &Expr) -> Option<&str> {
    match unnest(e) {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s)
            | Value::EscapedStringLiteral(s)
            | Value::UnicodeStringLiteral(s)
            | Value::NationalStringLiteral(s) => Some(s),
            Value::DollarQuotedString(d) => Some(&d.value),
            _ => None,
        },
        Expr::Cast { expr, .. } => string(expr),
        _ => None,
    }
}

/// A `$n` placeholder (through casts: `$1::int`).
pub(crate) fn is_placeholder(e: &Expr) -> bool {
    match unnest(e) {
        Expr::Value(v) => matches!(v.value, Value::Placeholder(_)),
        Expr::Cast { expr, .. } => is_placeholder(expr),
        _ => false,
    }
}

/// A function's name, folded, without schema.
pub(crate) fn function_name(f: &Function) -> String {
    f.name
        .0
        .last()
        .map(|p| match p {
            ObjectNamePart::Identifier(id) => ident_name(id),
            other => other.to_string().to_lowercase(),
        })
        .unwrap_or_default()
}

/// Aggregate functions whose result is one row per group.
const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "array_agg",
    "string_agg",
    "json_agg",
    "jsonb_agg",
    "json_object_agg",
    "jsonb_object_agg",
    "bool_and",
    "bool_or",
    "every",
    "bit_and",
    "bit_or",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "variance",
    "var_pop",
    "var_samp",
    "percentile_cont",
    "percentile_disc",
    "mode",
];

/// A plain aggregate call (not a window function).
pub(crate) fn is_aggregate(f: &Function) -> bool {
    f.over.is_none() && AGGREGATES.contains(&function_name(f).as_str())
}

/// `count(*)` or `count(<constant>)`: counts rows.
pub(crate) fn is_count_rows(e: &Expr) -> bool {
    let Expr::Function(f) = unnest(e) else {
        return false;
    };
    if function_name(f) != "count" || f.over.is_some() || f.filter.is_some() {
        return false;
    }
    match &f.args {
        FunctionArguments::List(list) => {
            list.duplicate_treatment.is_none()
                && list.args.len() == 1
                && match &list.args[0] {
                    FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => true,
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => number(x).is_some(),
                    _ => false,
                }
        }
        _ => false,
    }
}

/// The SELECT has no GROUP BY.
pub(crate) fn no_group_by(select: &Select) -> bool {
    matches!(&select.group_by, GroupByExpr::Expressions(v, _) if v.is_empty())
}

/// The SELECT returns exactly one row: aggregates in the select list, no GROUP BY.
pub(crate) fn is_single_row_aggregate(select: &Select) -> bool {
    if !no_group_by(select) {
        return false;
    }
    select.projection.iter().any(|item| {
        let e = match item {
            SelectItem::UnnamedExpr(e) => e,
            SelectItem::ExprWithAlias { expr, .. } => expr,
            _ => return false,
        };
        let mut found = false;
        let _ = visit_expressions(e, |x| {
            if let Expr::Function(f) = x {
                if is_aggregate(f) {
                    found = true;
                }
            }
            ControlFlow::<()>::Continue(())
        });
        found
    })
}

/// A copy of the expression with column qualifiers removed (`o.email` -> `email`), as an
/// index expression names its columns.
pub(crate) fn unqualified(e: &Expr) -> Expr {
    let mut copy = e.clone();
    let _ = visit_expressions_mut(&mut copy, |x| {
        if let Expr::CompoundIdentifier(ids) = x {
            if let Some(last) = ids.last().cloned() {
                *x = Expr::Identifier(last);
            }
        }
        ControlFlow::<()>::Continue(())
    });
    copy
}

/// Functions whose result changes between calls or transactions: no expression index.
const VOLATILE: &[&str] = &[
    "now",
    "random",
    "clock_timestamp",
    "statement_timestamp",
    "transaction_timestamp",
    "timeofday",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtime",
    "localtimestamp",
    "nextval",
    "age",
    "gen_random_uuid",
];

/// The expression calls a function that cannot be indexed (time- or call-dependent).
pub(crate) fn calls_volatile(e: &Expr) -> bool {
    let mut found = false;
    let _ = visit_expressions(e, |x| {
        if let Expr::Function(f) = x {
            if VOLATILE.contains(&function_name(f).as_str()) {
                found = true;
            }
        }
        ControlFlow::<()>::Continue(())
    });
    found
}
