//! Inputs: usable quals, the scans of a statement, how often each column is used.

use super::*;

// ---------------------------------------------------------------------------------------------
// Inputs: usable quals, scans, statement counts

pub(super) fn usable_expr(expr: &KeyExpr) -> bool {
    match expr {
        KeyExpr::Column(attnum) => *attnum > 0,
        KeyExpr::Expr(text) => looks_immutable(text),
    }
}

/// False when the expression calls a well-known non-immutable function (an index on it is refused).
pub(super) fn looks_immutable(expr: &str) -> bool {
    let lower = expr.to_ascii_lowercase();
    !NOT_IMMUTABLE.iter().any(|f| lower.contains(f))
}

pub(super) fn usable_qual(q: &Qual) -> bool {
    q.class != QualClass::Other && usable_expr(&q.column)
}

/// Distinct statements using each (table, column or expression) in a usable qual.
pub(super) fn column_uses(quals: &[Qual]) -> BTreeMap<(Oid, KeyExpr), usize> {
    let mut sets: BTreeMap<(Oid, KeyExpr), BTreeSet<u64>> = BTreeMap::new();
    for q in quals.iter().filter(|q| usable_qual(q)) {
        sets.entry((q.relid, q.column.clone())).or_default().insert(q.queryid);
    }
    sets.into_iter().map(|(k, v)| (k, v.len())).collect()
}

/// The quals of one scan node of one statement on one table, and the statement's ORDER BY keys
/// usable on this table.
pub(super) struct Scan<'a> {
    pub(super) queryid: u64,
    pub(super) quals: Vec<&'a Qual>,
    pub(super) sort: Vec<&'a SortKey>,
}

/// Scans of one table: one per (statement, scan id), plus one without quals for a statement that
/// only sorts this table.
pub(super) fn scans<'a>(quals: &[&'a Qual], sorts: &[&'a SortKey]) -> Vec<Scan<'a>> {
    let mut groups: BTreeMap<(u64, u64), Vec<&'a Qual>> = BTreeMap::new();
    for q in quals {
        groups.entry((q.queryid, q.scan)).or_default().push(q);
    }
    let mut by_statement: BTreeMap<u64, Vec<&'a SortKey>> = BTreeMap::new();
    for k in sorts {
        by_statement.entry(k.queryid).or_default().push(k);
    }
    let order = |queryid: u64| {
        by_statement.get(&queryid).map(|keys| usable_order(keys)).unwrap_or_default()
    };
    let mut out: Vec<Scan<'a>> = groups
        .into_iter()
        .map(|((queryid, _), quals)| Scan { queryid, quals, sort: order(queryid) })
        .collect();
    for &queryid in by_statement.keys() {
        if !out.iter().any(|scan| scan.queryid == queryid) {
            out.push(Scan { queryid, quals: Vec::new(), sort: order(queryid) });
        }
    }
    out
}

/// The ORDER BY keys an index on this table can deliver: contiguous from position 1 (a sort led
/// by another table's column gives nothing) and under a LIMIT.
pub(super) fn usable_order<'a>(keys: &[&'a SortKey]) -> Vec<&'a SortKey> {
    let mut keys = keys.to_vec();
    keys.sort_by_key(|k| k.position);
    keys.dedup_by_key(|k| k.position);
    if keys.first().is_none_or(|k| k.position != 1 || !k.under_limit) {
        return Vec::new();
    }
    let contiguous = keys
        .iter()
        .enumerate()
        .take_while(|(i, k)| usize::try_from(k.position).ok() == Some(i + 1))
        .count();
    keys.truncate(contiguous);
    if keys.iter().any(|k| !usable_expr(&k.column)) {
        return Vec::new();
    }
    keys
}
