//! The key elements of one scan (equality, range, sort) and their composites.

use super::*;

// ---------------------------------------------------------------------------------------------
// Key elements of one scan

/// An equality element: its column, estimated selectivity and provenance.
pub(super) struct EqElem {
    pub(super) expr: KeyExpr,
    pub(super) selectivity: f64,
    pub(super) uses: usize,
    /// Only `IN` / `= ANY` quals on it: an index scan with it on a later key is unordered.
    pub(super) is_in: bool,
    pub(super) join: bool,
    /// Every qual on it was already an index condition.
    pub(super) proof: bool,
}

/// The range element chosen for a scan.
pub(super) struct RangeElem {
    pub(super) key: Key,
    pub(super) bounds: usize,
    pub(super) uses: usize,
    pub(super) proof: bool,
}

/// One key list built from a scan.
pub(super) struct Composite {
    pub(super) keys: Vec<Key>,
    pub(super) kind: CandidateKind,
    pub(super) proof: bool,
}

/// Expressions fixed to one value by the scan (sort keys on them are no-ops).
pub(super) fn fixed_exprs(eq: &[EqElem], extra: Option<&KeyExpr>) -> Vec<KeyExpr> {
    eq.iter().filter(|e| !e.is_in).map(|e| e.expr.clone()).chain(extra.cloned()).collect()
}

/// ORDER BY keys minus those fixed by equality, duplicates dropped, all-DESC normalised to ASC.
pub(super) fn sort_keys(sort: &[&SortKey], fixed: &[KeyExpr]) -> Vec<Key> {
    let mut keys: Vec<Key> = Vec::new();
    for k in sort {
        if fixed.contains(&k.column) || keys.iter().any(|x| x.expr == k.column) {
            continue;
        }
        keys.push(Key { desc: k.desc, nulls_first: k.nulls_first, ..plain_key(k.column.clone()) });
    }
    normalize_directions(keys)
}

/// The key lists of one scan: equality keys then the range key (`eq+range`), and equality keys
/// then the sort keys (`eq+sort`), each capped at `max` keys. No `eq+sort` when an `IN` key
/// would precede the sort keys (PG15 does not claim the order then) or the sort alone exceeds
/// the cap.
pub(super) fn composites(
    eq: &[EqElem],
    range: Option<&RangeElem>,
    sort: &[Key],
    max: usize,
) -> Vec<Composite> {
    let mut out = Vec::new();
    let n = eq.len().min(max);
    let mut keys: Vec<Key> = eq[..n].iter().map(|e| plain_key(e.expr.clone())).collect();
    let mut proof = eq[..n].iter().all(|e| e.proof);
    if let Some(r) = range.filter(|_| keys.len() < max) {
        keys.push(r.key.clone());
        proof &= r.proof;
    }
    if !keys.is_empty() {
        let kind = if keys.len() == 1 {
            single_kind(&keys[0].expr, n == 1 && eq[0].join)
        } else {
            CandidateKind::EqRange
        };
        out.push(Composite { keys, kind, proof });
    }
    if !sort.is_empty() && sort.len() <= max {
        let n = eq.len().min(max - sort.len());
        if !eq[..n].iter().any(|e| e.is_in) {
            let mut keys: Vec<Key> = eq[..n].iter().map(|e| plain_key(e.expr.clone())).collect();
            keys.extend(sort.iter().cloned());
            out.push(Composite { keys, kind: CandidateKind::EqSort, proof: false });
        }
    }
    out
}
