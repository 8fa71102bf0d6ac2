//! The rules about one query (`large_offset`, `unbounded_result`) and one SELECT
//! (`select_star`, `implicit_cross_join`, `distinct_over_join`, the select-list form of
//! `count_for_existence`); a SELECT's WHERE and JOIN ON go to `predicates`.

use sqlparser::ast::{
    BinaryOperator, Distinct, Expr, LimitClause, OrderByKind, OrderBySort, Query, Select,
    SelectItem, SelectItemQualifiedWildcardKind, SetExpr, Spanned, Value,
};
use sqlparser::tokenizer::Span;

use super::exprs::{
    col_refs, is_count_rows, is_placeholder, is_single_row_aggregate, no_group_by, number,
    object_name, unnest,
};
use super::predicates;
use super::scope::{JoinKind, Relation, Scope};
use super::text::{ident, num, singular};
use super::walk::Ctx;
use super::Severity;

/// `select_star`: a table is wide from this many columns...
pub(crate) const WIDE_COLUMNS: usize = 10;
/// ... or this many bytes per row (sum of pg_stats avg_width).
pub(crate) const WIDE_ROW_BYTES: f64 = 200.0;
/// `select_star` is a warning from this many rows per call.
pub(crate) const STAR_MANY_ROWS_PER_CALL: f64 = 100.0;
/// `unbounded_result`: warning from this many rows per call...
pub(crate) const UNBOUNDED_WARNING_ROWS: f64 = 1000.0;
/// ... critical from this many.
pub(crate) const UNBOUNDED_CRITICAL_ROWS: f64 = 100_000.0;
/// `large_offset`: warning from this literal OFFSET...
pub(crate) const OFFSET_WARNING: f64 = 1000.0;
/// ... critical from this one.
pub(crate) const OFFSET_CRITICAL: f64 = 100_000.0;
/// `distinct_over_join` is a warning from this mean time (ms).
pub(crate) const DISTINCT_SLOW_MS: f64 = 100.0;

/// Rules about one query: `large_offset` (any query), `unbounded_result` (the top level).
pub(crate) fn query(ctx: &mut Ctx, q: &Query, top: bool) {
    large_offset(ctx, q);
    if top {
        unbounded_result(ctx, q);
    }
}

/// Rules about one SELECT; `top` when it produces the statement's result.
pub(crate) fn select(ctx: &mut Ctx, s: &Select, top: bool) {
    let scope = Scope::new(&s.from, ctx.catalog);
    if top {
        select_star(ctx, s, &scope);
    }
    count_in_select_list(ctx, s);
    implicit_cross_join(ctx, s, &scope);
    distinct_over_join(ctx, s, &scope);
    if let Some(w) = &s.selection {
        predicates::where_clause(ctx, &scope, w);
    }
    for r in &scope.relations {
        if let JoinKind::Inner(Some(on)) | JoinKind::Outer(Some(on)) = &r.join {
            predicates::join_condition(ctx, &scope, on);
        }
    }
}

/// `large_offset` — OFFSET with a literal >= [`OFFSET_WARNING`] (warning; >= [`OFFSET_CRITICAL`]
/// critical) or a `$n` placeholder (info: the cost grows with the page number). Rewrite: keyset
/// pagination on the ORDER BY keys.
fn large_offset(ctx: &mut Ctx, q: &Query) {
    let Some(LimitClause::LimitOffset {
        offset: Some(offset),
        ..
    }) = &q.limit_clause
    else {
        return;
    };
    let value = &offset.value;
    let (severity, evidence) = if let Some(n) = number(value) {
        if n < OFFSET_WARNING {
            return;
        }
        let severity = if n >= OFFSET_CRITICAL {
            Severity::Critical
        } else {
            Severity::Warning
        };
        (
            severity,
            format!("OFFSET {}: every call reads and throws away {} rows before the first one it returns", num(n), num(n)),
        )
    } else if is_placeholder(value) {
        (
            Severity::Info,
            "OFFSET paging: cost grows with the page number (page n reads and throws away all rows of the pages before it)".to_string(),
        )
    } else {
        return;
    };
    let at = match ctx.src.range(value.span()) {
        Some((s, e)) => {
            let start = ctx.src.keyword_before(s, "offset").unwrap_or(s);
            ctx.src.fragment_range(start, e)
        }
        None => ctx.src.find_text(&format!("OFFSET {value}")),
    };
    let rewrite = keyset_rewrite(q);
    let evidence = ctx.with_numbers(evidence);
    ctx.push("large_offset", severity, at, evidence, rewrite);
}

/// The keyset pagination advice for a query, with its ORDER BY keys when it has some.
fn keyset_rewrite(q: &Query) -> String {
    let keys: Vec<(String, bool)> = match q.order_by.as_ref().map(|o| &o.kind) {
        Some(OrderByKind::Expressions(list)) => list
            .iter()
            .map(|o| {
                (
                    o.expr.to_string(),
                    matches!(o.options.sort, Some(OrderBySort::Desc)),
                )
            })
            .collect(),
        _ => Vec::new(),
    };
    if keys.is_empty() {
        return "keyset pagination: ORDER BY a unique key, remember the last key of each page and ask for the next one with WHERE (sort_key) > ($last_seen) ORDER BY sort_key LIMIT n instead of OFFSET".to_string();
    }
    let names: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
    let list = names.join(", ");
    let all_desc = keys.iter().all(|(_, d)| *d);
    let mixed = keys.iter().any(|(_, d)| *d) && !all_desc;
    let cmp = if all_desc { "<" } else { ">" };
    let (lhs, rhs) = if names.len() == 1 {
        (list.clone(), "$last_seen".to_string())
    } else {
        (format!("({list})"), "($last_seen...)".to_string())
    };
    let mut text = format!(
        "keyset pagination: remember the last row's {lhs} and fetch the next page with WHERE {lhs} {cmp} {rhs} ORDER BY {} LIMIT n instead of OFFSET (the ORDER BY keys must identify a row; add the primary key last if they do not)",
        q.order_by.as_ref().map(|o| o.to_string().trim_start_matches("ORDER BY ").to_string()).unwrap_or(list.clone())
    );
    if mixed {
        text.push_str("; with mixed ASC/DESC keys compare key by key instead of as one row value");
    }
    text
}

/// The query has a LIMIT (not LIMIT ALL/NULL) or FETCH.
fn has_limit(q: &Query) -> bool {
    if q.fetch.is_some() {
        return true;
    }
    match &q.limit_clause {
        Some(LimitClause::LimitOffset { limit: Some(l), .. }) => {
            !matches!(unnest(l), Expr::Value(v) if v.value == Value::Null)
        }
        Some(LimitClause::OffsetCommaLimit { .. }) => true,
        _ => false,
    }
}

/// `unbounded_result` — the statement's top-level SELECT has no LIMIT/FETCH and returns at
/// least [`UNBOUNDED_WARNING_ROWS`] rows per call (warning; critical from
/// [`UNBOUNDED_CRITICAL_ROWS`]). Needs the recorded numbers; a SELECT of aggregates without GROUP BY returns one
/// row and never hits. Rewrite: LIMIT with keyset pagination.
fn unbounded_result(ctx: &mut Ctx, q: &Query) {
    if has_limit(q) {
        return;
    }
    if let SetExpr::Select(s) = q.body.as_ref() {
        if is_single_row_aggregate(s) {
            return;
        }
    }
    let (Some(rpc), Some(f)) = (ctx.rows_per_call(), ctx.ran()) else {
        return;
    };
    if rpc < UNBOUNDED_WARNING_ROWS {
        return;
    }
    let severity = if rpc >= UNBOUNDED_CRITICAL_ROWS {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let evidence = format!(
        "{} rows per call ({} rows over {} calls, {} ms mean) and no LIMIT: every row is sent to the client",
        num(rpc),
        num(f.rows),
        num(f.calls),
        num(f.mean_ms)
    );
    let rewrite = format!(
        "add LIMIT with keyset pagination ({}), or aggregate in SQL if the client only summarises the rows",
        keyset_rewrite(q)
    );
    let at = ctx.src.fragment(q.span(), &q.to_string());
    ctx.push("unbounded_result", severity, at, evidence, rewrite);
}

/// The table is wide: [`WIDE_COLUMNS`] columns or [`WIDE_ROW_BYTES`] bytes per row.
fn is_wide(r: &Relation) -> bool {
    r.facts
        .as_ref()
        .is_some_and(|f| f.columns.len() >= WIDE_COLUMNS || f.avg_row_bytes >= WIDE_ROW_BYTES)
}

/// `select_star` — `SELECT *` or `t.*` in the statement's result over a wide table (see
/// [`is_wide`]): info; warning from [`STAR_MANY_ROWS_PER_CALL`] rows per call. Tables the
/// catalog does not know give no finding. Rewrite: the table's columns, to keep those needed.
fn select_star(ctx: &mut Ctx, s: &Select, scope: &Scope) {
    for item in &s.projection {
        let (covered, span, shown): (Vec<&Relation>, Span, String) = match item {
            SelectItem::Wildcard(opts) => (
                scope.relations.iter().collect(),
                opts.wildcard_token.0.span,
                "*".to_string(),
            ),
            SelectItem::QualifiedWildcard(
                SelectItemQualifiedWildcardKind::ObjectName(name),
                opts,
            ) => {
                let Some(i) = scope.by_qualifier(&object_name(name)) else {
                    continue;
                };
                (
                    vec![&scope.relations[i]],
                    name.span().union(&opts.wildcard_token.0.span),
                    format!("{name}.*"),
                )
            }
            _ => continue,
        };
        let wide: Vec<&Relation> = covered.iter().copied().filter(|r| is_wide(r)).collect();
        if wide.is_empty() {
            continue;
        }
        let rpc = ctx.rows_per_call();
        let severity = if rpc.is_some_and(|r| r >= STAR_MANY_ROWS_PER_CALL) {
            Severity::Warning
        } else {
            Severity::Info
        };
        let widths: Vec<String> = wide
            .iter()
            .filter_map(|r| {
                let f = r.facts.as_ref()?;
                let mut w = format!("{} has {} columns", r.display_name(), f.columns.len());
                if f.avg_row_bytes > 0.0 {
                    w.push_str(&format!(", ~{} bytes per row", num(f.avg_row_bytes)));
                }
                Some(w)
            })
            .collect();
        let evidence = ctx.with_numbers(format!(
            "{}: every column is read, detoasted and sent whether the caller uses it or not",
            widths.join("; ")
        ));
        let qualify = scope.relations.len() > 1;
        let columns: Vec<String> = covered
            .iter()
            .map(|r| match &r.facts {
                Some(f) => f
                    .columns
                    .iter()
                    .map(|c| {
                        if qualify {
                            format!("{}.{}", ident(&r.visible()), ident(&c.name))
                        } else {
                            ident(&c.name)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                None => format!("{}.*", ident(&r.visible())),
            })
            .collect();
        let rewrite = format!(
            "name only the columns the caller needs instead of {shown}: SELECT {} (drop those it does not use)",
            columns.join(", ")
        );
        let at = ctx.src.fragment(span, &shown);
        ctx.push("select_star", severity, at, evidence, rewrite);
    }
}

/// For `count(*) <op> 0|1` (either side): Some(true) when it tests existence (`> 0`, `>= 1`,
/// `<> 0`), Some(false) for non-existence (`= 0`, `< 1`, `<= 0`); `is_count` says which
/// operand is the count.
pub(crate) fn existence_test(e: &Expr, is_count: impl Fn(&Expr) -> bool) -> Option<(bool, &Expr)> {
    let Expr::BinaryOp { left, op, right } = unnest(e) else {
        return None;
    };
    let (count, n, op) = if is_count(left) {
        (left.as_ref(), number(right)?, op.clone())
    } else if is_count(right) {
        let mirrored = match op {
            BinaryOperator::Gt => BinaryOperator::Lt,
            BinaryOperator::Lt => BinaryOperator::Gt,
            BinaryOperator::GtEq => BinaryOperator::LtEq,
            BinaryOperator::LtEq => BinaryOperator::GtEq,
            other => other.clone(),
        };
        (right.as_ref(), number(left)?, mirrored)
    } else {
        return None;
    };
    let exists = if n == 0.0 {
        match op {
            BinaryOperator::Gt | BinaryOperator::NotEq => true,
            BinaryOperator::Eq | BinaryOperator::LtEq => false,
            _ => return None,
        }
    } else if n == 1.0 {
        match op {
            BinaryOperator::GtEq => true,
            BinaryOperator::Lt => false,
            _ => return None,
        }
    } else {
        return None;
    };
    Some((exists, count))
}

/// `count_for_existence`, select-list form — `SELECT count(*) > 0 FROM t WHERE ...` (no GROUP
/// BY): warning. Rewrite: `SELECT EXISTS (SELECT 1 FROM t WHERE ...)`.
fn count_in_select_list(ctx: &mut Ctx, s: &Select) {
    if !no_group_by(s) || s.having.is_some() || s.projection.len() != 1 {
        return;
    }
    let e = match &s.projection[0] {
        SelectItem::UnnamedExpr(e) => e,
        SelectItem::ExprWithAlias { expr, .. } => expr,
        _ => return,
    };
    let Some((exists, _)) = existence_test(e, is_count_rows) else {
        return;
    };
    let mut inner = s.clone();
    inner.projection = select_one();
    push_count_for_existence(ctx, e, &format!("SELECT {}EXISTS ({inner})", if exists { "" } else { "NOT " }), "count(*)");
}

/// `SELECT 1`'s select list: what an EXISTS subquery needs.
pub(crate) fn select_one() -> Vec<SelectItem> {
    vec![SelectItem::UnnamedExpr(Expr::value(Value::Number("1".to_string(), false)))]
}

/// The `count_for_existence` finding at `e`, with its rewrite (`exists` is the EXISTS form to
/// run instead) and what counts (`count(*)`, `the subquery`).
pub(crate) fn push_count_for_existence(ctx: &mut Ctx, e: &Expr, exists: &str, what: &str) {
    let rewrite = format!("{exists}: it stops at the first matching row");
    let evidence = ctx.with_numbers(format!("{what} counts every matching row only to compare the total with 0"));
    let at = ctx.src.fragment(e.span(), &e.to_string());
    ctx.push("count_for_existence", Severity::Warning, at, evidence, rewrite);
}

/// Union-find over relation indexes.
struct Groups(Vec<usize>);

impl Groups {
    fn new(n: usize) -> Self {
        Groups((0..n).collect())
    }
    fn find(&mut self, mut i: usize) -> usize {
        while self.0[i] != i {
            self.0[i] = self.0[self.0[i]];
            i = self.0[i];
        }
        i
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.0[ra.max(rb)] = ra.min(rb);
        }
    }
}

/// Top-level AND conjuncts of a predicate (iteratively, parentheses removed).
pub(crate) fn conjuncts(e: &Expr) -> Vec<&Expr> {
    let mut out = Vec::new();
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        match unnest(x) {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::And,
                right,
            } => {
                stack.push(right);
                stack.push(left);
            }
            other => out.push(other),
        }
    }
    out
}

/// Link the relations each WHERE conjunct mentions; an unqualified column no relation can be
/// proven to own links everything (we cannot tell, so we do not report).
fn link_by_predicates(groups: &mut Groups, scope: &Scope, predicate: &Expr) {
    for c in conjuncts(predicate) {
        let (refs, _) = col_refs(c);
        let mut seen: Vec<usize> = Vec::new();
        for r in &refs {
            match scope.resolve(r) {
                Some(i) => seen.push(i),
                None if r.qualifier.is_none() => {
                    for i in 1..scope.relations.len() {
                        groups.union(0, i);
                    }
                }
                None => {}
            }
        }
        for w in seen.windows(2) {
            groups.union(w[0], w[1]);
        }
    }
}

/// A guess at the join condition between two tables from `<singular>_id` column names.
fn guess_join(a: &Relation, b: &Relation) -> String {
    let (va, vb) = (ident(&a.visible()), ident(&b.visible()));
    let has = |r: &Relation, c: &str| r.facts.as_ref().is_some_and(|f| f.column(c).is_some());
    let last = |r: &Relation| {
        r.table
            .as_deref()
            .map(|t| t.rsplit('.').next().unwrap_or(t).to_string())
            .unwrap_or_default()
    };
    let a_fk = format!("{}_id", singular(&last(a)));
    let b_fk = format!("{}_id", singular(&last(b)));
    if has(b, &a_fk) && has(a, "id") {
        format!("{vb}.{} = {va}.id", ident(&a_fk))
    } else if has(a, &b_fk) && has(b, "id") {
        format!("{va}.{} = {vb}.id", ident(&b_fk))
    } else {
        format!("{va}.<key> = {vb}.<key>")
    }
}

/// `implicit_cross_join` — FROM items separated by commas that no WHERE predicate links
/// (warning), or an explicit CROSS JOIN of a base table no predicate links (info). Only base
/// tables count: a subquery, function or LATERAL item may be linked through its arguments.
/// Rewrite: the join condition (guessed from `<table>_id` columns), or CROSS JOIN if meant.
fn implicit_cross_join(ctx: &mut Ctx, s: &Select, scope: &Scope) {
    let rels = &scope.relations;
    if rels.len() < 2 {
        return;
    }
    let mut groups = Groups::new(rels.len());
    let first_of_item = |item: usize| rels.iter().position(|r| r.item == item).unwrap_or(0);
    for (i, r) in rels.iter().enumerate() {
        if !r.is_base() {
            for j in 0..rels.len() {
                groups.union(i, j);
            }
        }
        match &r.join {
            JoinKind::First | JoinKind::Cross => {}
            _ => groups.union(i, first_of_item(r.item)),
        }
    }
    if let Some(w) = &s.selection {
        link_by_predicates(&mut groups, scope, w);
    }
    // Comma items: which items share a group.
    if scope.items >= 2 {
        let mut items = Groups::new(scope.items);
        for i in 0..rels.len() {
            for j in (i + 1)..rels.len() {
                if groups.find(i) == groups.find(j) {
                    items.union(rels[i].item, rels[j].item);
                }
            }
        }
        let mut parts: Vec<Vec<&Relation>> = Vec::new();
        let mut roots: Vec<usize> = Vec::new();
        for item in 0..scope.items {
            let root = items.find(item);
            let members = rels.iter().filter(|r| r.item == item);
            match roots.iter().position(|&x| x == root) {
                Some(p) => parts[p].extend(members),
                None => {
                    roots.push(root);
                    parts.push(members.collect());
                }
            }
        }
        if parts.len() >= 2 {
            let names: Vec<String> = parts
                .iter()
                .map(|p| {
                    p.iter()
                        .map(|r| r.display_name())
                        .collect::<Vec<_>>()
                        .join(" + ")
                })
                .collect();
            let rows: Option<Vec<f64>> = parts
                .iter()
                .map(|p| {
                    p.iter()
                        .map(|r| r.facts.as_ref().map(|f| f.rows.max(1.0)))
                        .product()
                })
                .collect();
            let mut evidence = format!(
                "no predicate links {}: every row of one is paired with every row of the other",
                names.join(" with ")
            );
            if let Some(rows) = rows {
                let words: Vec<String> = rows.iter().map(|r| num(*r)).collect();
                evidence.push_str(&format!(
                    " (~{} = {} row pairs)",
                    words.join(" x "),
                    num(rows.iter().product())
                ));
            }
            let evidence = ctx.with_numbers(evidence);
            let (Some(a), Some(b)) = (parts[0].first().copied(), parts[1].first().copied()) else {
                return;
            };
            let rewrite = format!(
                "join on the key that relates them: FROM {} JOIN {} ON {}; write CROSS JOIN if every combination is really wanted",
                a.text,
                b.text,
                guess_join(a, b)
            );
            let span = s
                .from
                .iter()
                .map(|t| t.span())
                .reduce(|x, y| x.union(&y))
                .unwrap_or(Span::empty());
            let fallback = s
                .from
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let at = ctx.src.fragment(span, &fallback);
            ctx.push(
                "implicit_cross_join",
                Severity::Warning,
                at,
                evidence,
                rewrite,
            );
        }
    }
    // Explicit CROSS JOINs of base tables.
    for (i, r) in rels.iter().enumerate() {
        if r.join != JoinKind::Cross || !r.is_base() {
            continue;
        }
        let before: Vec<usize> = (0..i).filter(|&j| rels[j].item == r.item).collect();
        if before.is_empty() || before.iter().any(|&j| groups.find(j) == groups.find(i)) {
            continue;
        }
        let left = &rels[before[0]];
        let mut evidence = format!(
            "{} CROSS JOIN {} with no predicate linking them: every row of one with every row of the other",
            left.display_name(),
            r.display_name()
        );
        if let (Some(a), Some(b)) = (&left.facts, &r.facts) {
            evidence.push_str(&format!(
                " (~{} x {} = {} row pairs)",
                num(a.rows.max(1.0)),
                num(b.rows.max(1.0)),
                num(a.rows.max(1.0) * b.rows.max(1.0))
            ));
        }
        let evidence = ctx.with_numbers(evidence);
        let rewrite = format!(
            "if the tables are related, join them on their key: JOIN {} ON {}; keep CROSS JOIN only when every combination is wanted",
            r.text,
            guess_join(left, r)
        );
        let at = match ctx.src.range(r.span) {
            Some((st, e)) => {
                let start = ctx
                    .src
                    .keyword_before(st, "join")
                    .map(|j| ctx.src.keyword_before(j, "cross").unwrap_or(j))
                    .unwrap_or(st);
                ctx.src.fragment_range(start, e)
            }
            None => ctx.src.find_text(&format!("CROSS JOIN {}", r.text)),
        };
        ctx.push("implicit_cross_join", Severity::Info, at, evidence, rewrite);
    }
}

/// The relations the select list reads; None when it cannot be told (`*`, subqueries,
/// unresolved columns).
fn projected_relations(s: &Select, scope: &Scope) -> Option<Vec<usize>> {
    let mut used: Vec<usize> = Vec::new();
    for item in &s.projection {
        match item {
            SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::ObjectName(n), _) => {
                used.push(scope.by_qualifier(&object_name(n))?)
            }
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                let (refs, subquery) = col_refs(e);
                if subquery {
                    return None;
                }
                for r in &refs {
                    used.push(scope.resolve(r)?);
                }
            }
            _ => return None,
        }
    }
    used.sort_unstable();
    used.dedup();
    Some(used)
}

/// `distinct_over_join` — `SELECT DISTINCT` (not DISTINCT ON) over two or more relations
/// where the select list reads only one of them: the DISTINCT hides the join's fan-out (info;
/// warning from [`DISTINCT_SLOW_MS`] mean). Rewrite: a `WHERE EXISTS` semi-join, or dropping
/// an outer join that adds nothing.
fn distinct_over_join(ctx: &mut Ctx, s: &Select, scope: &Scope) {
    if !matches!(s.distinct, Some(Distinct::Distinct)) || scope.relations.len() < 2 {
        return;
    }
    let Some(used) = projected_relations(s, scope) else {
        return;
    };
    if used.len() != 1 {
        return;
    }
    let kept = &scope.relations[used[0]];
    let others: Vec<&Relation> = scope
        .relations
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != used[0])
        .map(|(_, r)| r)
        .collect();
    let other_names: Vec<String> = others.iter().map(|r| r.display_name()).collect();
    let severity = if ctx.ran().is_some_and(|f| f.mean_ms >= DISTINCT_SLOW_MS) {
        Severity::Warning
    } else {
        Severity::Info
    };
    let evidence = ctx.with_numbers(format!(
        "the select list reads only {} ({}); DISTINCT removes the duplicate rows the join to {} creates, after building and sorting or hashing all of them",
        ident(&kept.visible()),
        kept.display_name(),
        other_names.join(", ")
    ));
    let projection = s
        .projection
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let outer: Vec<&&Relation> = others
        .iter()
        .filter(|r| matches!(r.join, JoinKind::Outer(_)))
        .collect();
    let rewrite = if !outer.is_empty() {
        format!(
            "an outer join to {} whose columns are not selected only duplicates rows of {}: drop that join (and the DISTINCT if nothing else needs it)",
            outer.iter().map(|r| r.display_name()).collect::<Vec<_>>().join(", "),
            kept.display_name()
        )
    } else {
        let mut conditions: Vec<String> = scope
            .relations
            .iter()
            .filter_map(|r| match &r.join {
                JoinKind::Inner(Some(e)) => Some(e.to_string()),
                _ => None,
            })
            .collect();
        if let Some(w) = &s.selection {
            conditions.push(w.to_string());
        }
        let condition = if conditions.is_empty() {
            "<join condition>".to_string()
        } else {
            conditions.join(" AND ")
        };
        format!(
            "a semi-join instead of join + DISTINCT: SELECT {projection} FROM {} WHERE EXISTS (SELECT 1 FROM {} WHERE {condition})",
            kept.text,
            others.iter().map(|r| r.text.as_str()).collect::<Vec<_>>().join(", ")
        )
    };
    let token = s.select_token.0.span;
    let at = match (ctx.src.offset(token.start), ctx.src.offset(token.end)) {
        (Some(st), Some(e)) => {
            let end = ctx.src.keyword_after(e, "distinct").unwrap_or(e);
            ctx.src.fragment_range(st, end)
        }
        _ => ctx.src.find_text("SELECT DISTINCT"),
    };
    ctx.push("distinct_over_join", severity, at, evidence, rewrite);
}
