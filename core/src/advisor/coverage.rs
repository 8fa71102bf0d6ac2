//! Whether an existing index already serves a candidate (docs/research/advisor-selection.md §2.1)
//! and which existing indexes are redundant next to another one (§2.2). Pure structural
//! comparison of [`IndexDef`]s: the catalog layer may confirm with `predicate_implied_by` and a
//! what-if hide; this layer is conservative (it may miss a coverage, never invent one).

use super::model::*;

/// The index's access method, from `method` or else its `am` name.
fn method_of(def: &IndexDef) -> Option<Method> {
    def.method.or_else(|| Method::from_name(&def.am))
}

/// Valid, ready and live, and not being built right now.
fn usable(def: &IndexDef) -> bool {
    def.valid && !def.building
}

/// Never dropped and never reported as redundant (§2.3).
fn protected(def: &IndexDef) -> bool {
    def.protected || def.primary || def.unique
}

/// Same indexed value: same column or expression, operator class and collation.
fn same_target(a: &Key, b: &Key) -> bool {
    a.expr == b.expr && a.opclass == b.opclass && a.collation == b.collation
}

/// `cand` is a key-by-key prefix of `existing` with the same directions, or all of them inverted
/// (a backward scan returns the inverted order, NULLS included).
fn btree_prefix(existing: &[Key], cand: &[Key]) -> bool {
    if cand.is_empty() || cand.len() > existing.len() {
        return false;
    }
    let pairs = || existing.iter().zip(cand.iter());
    if !pairs().all(|(e, c)| same_target(e, c)) {
        return false;
    }
    let same = pairs().all(|(e, c)| e.desc == c.desc && e.nulls_first == c.nulls_first);
    let inverted = pairs().all(|(e, c)| e.desc != c.desc && e.nulls_first != c.nulls_first);
    same || inverted
}

/// Attnums stored in the index: key columns and INCLUDE columns.
fn stored_columns(def: &IndexDef) -> Vec<i16> {
    let keys = def.keys.iter().filter_map(|k| match k.expr {
        KeyExpr::Column(a) => Some(a),
        KeyExpr::Expr(_) => None,
    });
    keys.chain(def.include.iter().copied()).collect()
}

fn include_within(existing: &IndexDef, include: &[i16]) -> bool {
    let stored = stored_columns(existing);
    include.iter().all(|a| stored.contains(a))
}

/// Byte position of the closing parenthesis matching the `(` at byte `open`, ignoring
/// parentheses inside quoted literals and identifiers.
fn matching_paren(s: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices().skip_while(|&(i, _)| i < open) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Collapses runs of whitespace and strips parentheses that wrap the whole text.
fn normalize(s: &str) -> String {
    let mut s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    while s.starts_with('(') && matching_paren(&s, 0) == Some(s.len() - 1) {
        s = s[1..s.len() - 1].trim().to_string();
    }
    s
}

/// The top-level `AND` conjuncts of a predicate, each normalised; nested ANDs inside
/// parentheses that wrap a whole conjunct are flattened too.
pub fn conjuncts(predicate: &str) -> Vec<String> {
    let s = normalize(predicate);
    let bytes = s.as_bytes();
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None => match b {
                b'\'' | b'"' => quote = Some(b),
                b'(' => depth += 1,
                b')' => depth = depth.saturating_sub(1),
                b' ' if depth == 0
                    && bytes.len() >= i + 5
                    && bytes[i..i + 5].eq_ignore_ascii_case(b" AND ") =>
                {
                    parts.push(s[start..i].to_string());
                    start = i + 5;
                    i += 5;
                    continue;
                }
                _ => {}
            },
        }
        i += 1;
    }
    parts.push(s[start..].to_string());
    if parts.len() == 1 {
        return parts;
    }
    parts.iter().flat_map(|p| conjuncts(p)).collect()
}

/// The existing predicate is implied by the candidate's: none at all, or every conjunct of it is
/// also a conjunct of the candidate's (identical predicates included).
fn predicate_covers(existing: Option<&str>, cand: Option<&str>) -> bool {
    match (existing, cand) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(e), Some(c)) => {
            let have = conjuncts(c);
            conjuncts(e).iter().all(|x| have.contains(x))
        }
    }
}

/// GIN defaults written out by name count as the default (`None`).
fn gin_opclass(opclass: &Option<String>) -> Option<&str> {
    match opclass.as_deref() {
        Some("jsonb_ops") | Some("array_ops") => None,
        other => other,
    }
}

/// GIN / BRIN key compatibility: same target, and for GIN a `jsonb_ops` (default) existing key
/// also serves a `jsonb_path_ops` candidate (it supports a superset of the operators).
fn set_key_serves(method: Method, e: &Key, c: &Key) -> bool {
    if e.expr != c.expr || e.collation != c.collation {
        return false;
    }
    if method != Method::Gin {
        return e.opclass == c.opclass;
    }
    let (eo, co) = (gin_opclass(&e.opclass), gin_opclass(&c.opclass));
    eo == co || (eo.is_none() && co == Some("jsonb_path_ops"))
}

/// True when `existing` serves every scan `cand` could serve (§2.1), by structure alone (validity
/// is [`served`]'s business):
/// - same table and access method (a hash index never covers a B-tree candidate);
/// - predicate: `existing` has none, or its AND-conjuncts are all among the candidate's;
/// - B-tree: the candidate's keys are a prefix of the existing keys with the same column or
///   expression, operator class and collation, and directions all equal or all inverted; its
///   INCLUDE columns are stored in the existing index; a unique candidate needs a unique existing
///   index on exactly its keys;
/// - GIN / BRIN: every candidate key is among the existing keys (multicolumn GIN and BRIN serve
///   each of their columns alone), `jsonb_ops` covering `jsonb_path_ops`;
/// - hash: same single key.
pub fn covers(existing: &IndexDef, cand: &IndexDef) -> bool {
    if existing.relid != cand.relid || cand.keys.is_empty() {
        return false;
    }
    let (Some(em), Some(cm)) = (method_of(existing), method_of(cand)) else {
        return false;
    };
    if em != cm || !predicate_covers(existing.predicate.as_deref(), cand.predicate.as_deref()) {
        return false;
    }
    match em {
        Method::Btree => {
            btree_prefix(&existing.keys, &cand.keys)
                && include_within(existing, &cand.include)
                && (!cand.unique || (existing.unique && existing.keys.len() == cand.keys.len()))
        }
        Method::Hash => {
            existing.keys.len() == 1
                && cand.keys.len() == 1
                && same_target(&existing.keys[0], &cand.keys[0])
        }
        Method::Gin | Method::Brin => {
            cand.include.is_empty()
                && cand.keys.iter().all(|c| existing.keys.iter().any(|e| set_key_serves(em, e, c)))
        }
    }
}

/// The existing index (valid, not being built) whose key the candidate repeats: same table, same
/// method, the same key columns in the same order (direction and operator class included) and the
/// same predicate; the candidate differs only in INCLUDE columns or uniqueness (a near-duplicate,
/// like `(id) INCLUDE (name)` beside the primary key on `id`).
pub fn same_key<'e>(existing: &'e [IndexDef], cand: &IndexDef) -> Option<&'e IndexDef> {
    existing.iter().find(|e| {
        usable(e)
            && e.relid == cand.relid
            && !cand.keys.is_empty()
            && method_of(e).is_some()
            && method_of(e) == method_of(cand)
            && e.keys == cand.keys
            && e.predicate == cand.predicate
    })
}

/// Some existing index that is valid and not being built [`covers`] the candidate.
pub fn served(existing: &[IndexDef], cand: &IndexDef) -> bool {
    existing.iter().any(|e| usable(e) && covers(e, cand))
}

/// How an existing index is redundant next to another one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Redundancy {
    /// Same keys and same stored columns.
    Duplicate,
    /// Its keys are a leading prefix of the other's (or the same keys with fewer INCLUDE columns).
    Prefix,
}

/// INCLUDE columns that are not already key columns, sorted and deduplicated.
fn extra_include(def: &IndexDef) -> Vec<i16> {
    let keys: Vec<i16> = stored_columns(&IndexDef { include: Vec::new(), ..def.clone() });
    let mut extra: Vec<i16> = def.include.iter().copied().filter(|a| !keys.contains(a)).collect();
    extra.sort_unstable();
    extra.dedup();
    extra
}

fn normalized_predicate(def: &IndexDef) -> Option<String> {
    def.predicate.as_deref().map(normalize)
}

/// `a` is redundant next to `b`: both usable B-trees on one table with the same predicate, `a`'s
/// keys a prefix of `b`'s (directions equal or all inverted) and `a`'s INCLUDE columns stored in
/// `b`. Exact duplicates: the one with the higher oid is redundant, unless the other is protected.
fn redundancy(a: &IndexDef, b: &IndexDef) -> Option<Redundancy> {
    if a.relid != b.relid || normalized_predicate(a) != normalized_predicate(b) {
        return None;
    }
    if !btree_prefix(&b.keys, &a.keys) || !include_within(b, &a.include) {
        return None;
    }
    let duplicate = a.keys.len() == b.keys.len() && extra_include(a) == extra_include(b);
    if !duplicate {
        return Some(Redundancy::Prefix);
    }
    (protected(b) || a.oid > b.oid).then_some(Redundancy::Duplicate)
}

fn is_btree(def: &IndexDef) -> bool {
    method_of(def) == Some(Method::Btree)
}

/// Redundant existing B-tree indexes (§2.2) as `(redundant, covered_by, kind)` pairs of indexes
/// into `existing`. Only usable (valid, not building) indexes take part; a protected index
/// (primary, unique, constraint, ...) is never on the redundant side but may cover others;
/// different predicates are never redundant.
///
/// An index redundant next to several others appears once per covering index, the preferred one
/// first: duplicates before prefixes, then protected covering indexes, then more keys (the end of
/// a chain `(a)` ⊂ `(a,b)` ⊂ `(a,b,c)`), then more INCLUDE columns, then lower oid. The list is
/// sorted by the redundant index.
pub fn redundant(existing: &[IndexDef]) -> Vec<(usize, usize, Redundancy)> {
    let mut out = Vec::new();
    for (i, a) in existing.iter().enumerate() {
        if !usable(a) || !is_btree(a) || protected(a) {
            continue;
        }
        let mut found: Vec<(usize, Redundancy)> = existing
            .iter()
            .enumerate()
            .filter(|&(j, b)| j != i && usable(b) && is_btree(b))
            .filter_map(|(j, b)| redundancy(a, b).map(|r| (j, r)))
            .collect();
        found.sort_by_key(|&(j, r)| {
            let b = &existing[j];
            (
                r,
                !protected(b),
                std::cmp::Reverse(b.keys.len()),
                std::cmp::Reverse(b.include.len()),
                b.oid,
                j,
            )
        });
        out.extend(found.into_iter().map(|(j, r)| (i, j, r)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(att: i16) -> Key {
        Key::column(att)
    }

    fn desc(att: i16) -> Key {
        Key { desc: true, nulls_first: true, ..Key::column(att) }
    }

    fn idx(oid: Oid, method: Method, keys: Vec<Key>) -> IndexDef {
        IndexDef {
            oid,
            relid: 1,
            name: format!("i{oid}"),
            am: method.name().into(),
            method: Some(method),
            keys,
            valid: true,
            ..Default::default()
        }
    }

    fn bt(oid: Oid, atts: &[i16]) -> IndexDef {
        idx(oid, Method::Btree, atts.iter().map(|&a| key(a)).collect())
    }

    #[test]
    fn same_key_finds_the_index_a_candidate_only_widens() {
        let pk = IndexDef { primary: true, protected: true, unique: true, ..bt(1, &[1]) };
        let existing = vec![pk.clone(), bt(2, &[2, 3])];
        let widened = IndexDef { include: vec![4, 5], ..bt(0, &[1]) };
        assert_eq!(same_key(&existing, &widened).map(|e| e.oid), Some(1));
        assert_eq!(same_key(&existing, &bt(0, &[2, 3])).map(|e| e.oid), Some(2));
        // another key, another order, a direction, another method, a predicate: not the same key
        assert!(same_key(&existing, &bt(0, &[1, 2])).is_none());
        assert!(same_key(&existing, &bt(0, &[3, 2])).is_none());
        assert!(same_key(&existing, &idx(0, Method::Btree, vec![desc(1)])).is_none());
        assert!(same_key(&existing, &idx(0, Method::Hash, vec![key(1)])).is_none());
        assert!(same_key(&existing, &IndexDef { predicate: Some("a > 0".into()), ..bt(0, &[1]) }).is_none());
        // an invalid index is no index
        assert!(same_key(&[IndexDef { valid: false, ..pk }], &widened).is_none());
    }

    #[test]
    fn prefix_covers_and_not_the_reverse() {
        assert!(covers(&bt(1, &[1, 2]), &bt(0, &[1])));
        assert!(covers(&bt(1, &[1, 2]), &bt(0, &[1, 2])));
        assert!(!covers(&bt(1, &[1, 2]), &bt(0, &[2])));
        assert!(!covers(&bt(1, &[1]), &bt(0, &[1, 2])));
        let other_table = IndexDef { relid: 2, ..bt(1, &[1, 2]) };
        assert!(!covers(&other_table, &bt(0, &[1])));
    }

    #[test]
    fn backward_scan_covers_all_inverted_directions() {
        // (a, b) covers (a DESC) and (a DESC, b DESC), not (a, b DESC) nor (a DESC NULLS LAST)
        let e = bt(1, &[1, 2]);
        assert!(covers(&e, &idx(0, Method::Btree, vec![desc(1)])));
        assert!(covers(&e, &idx(0, Method::Btree, vec![desc(1), desc(2)])));
        assert!(!covers(&e, &idx(0, Method::Btree, vec![key(1), desc(2)])));
        let desc_nulls_last = Key { desc: true, nulls_first: false, ..key(1) };
        assert!(!covers(&e, &idx(0, Method::Btree, vec![desc_nulls_last])));
        // mixed existing (a, b DESC) covers inverted (a DESC, b)
        let mixed = idx(2, Method::Btree, vec![key(1), desc(2)]);
        assert!(covers(&mixed, &idx(0, Method::Btree, vec![desc(1), key(2)])));
    }

    #[test]
    fn partial_existing_covers_only_implied_candidates() {
        let mut e = bt(1, &[1]);
        e.predicate = Some("(status = 'done'::text)".into());
        assert!(!covers(&e, &bt(0, &[1])));
        let mut e2 = bt(2, &[1]);
        e2.predicate = Some("deleted_at IS NULL".into());
        let mut c = bt(0, &[1]);
        c.predicate = Some("((deleted_at IS NULL) AND (status = 'p'))".into());
        assert!(covers(&e2, &c));
        c.predicate = Some("status = 'p'".into());
        assert!(!covers(&e2, &c));
        // a non-partial existing index covers a partial candidate
        assert!(covers(&bt(3, &[1]), &c));
    }

    #[test]
    fn conjunct_split_respects_parens_and_quotes() {
        assert_eq!(conjuncts("(a = 1) AND ((b = 2 AND c = 3))"), vec!["a = 1", "b = 2", "c = 3"]);
        assert_eq!(
            conjuncts("(a = 1 OR b = 2) AND c = 'x AND y'"),
            vec!["a = 1 OR b = 2", "c = 'x AND y'"]
        );
        assert_eq!(conjuncts("  ( x IS   NULL )  "), vec!["x IS NULL"]);
        assert_eq!(conjuncts("(a) = (b)"), vec!["(a) = (b)"]);
    }

    #[test]
    fn unique_existing_covers_but_unique_candidate_needs_exact_unique() {
        let mut u = bt(1, &[1, 2]);
        u.unique = true;
        assert!(covers(&u, &bt(0, &[1])));
        let mut cand = bt(0, &[1]);
        cand.unique = true;
        assert!(!covers(&u, &cand));
        assert!(!covers(&bt(2, &[1]), &cand));
    }

    #[test]
    fn hash_covers_hash_only() {
        let h = idx(1, Method::Hash, vec![key(1)]);
        assert!(!covers(&h, &bt(0, &[1])));
        assert!(covers(&h, &idx(0, Method::Hash, vec![key(1)])));
        assert!(!covers(&bt(2, &[1]), &idx(0, Method::Hash, vec![key(1)])));
    }

    #[test]
    fn opclass_and_collation_must_match() {
        let pattern = Key { opclass: Some("text_pattern_ops".into()), ..key(1) };
        let e = idx(1, Method::Btree, vec![pattern.clone()]);
        // serves a LIKE-prefix candidate (same opclass), not a default-opclass one (ORDER BY, < >)
        assert!(covers(&e, &idx(0, Method::Btree, vec![pattern])));
        assert!(!covers(&e, &bt(0, &[1])));
        let c_coll = Key { collation: Some("C".into()), ..key(1) };
        assert!(!covers(&bt(2, &[1]), &idx(0, Method::Btree, vec![c_coll])));
    }

    #[test]
    fn include_must_be_stored_in_existing() {
        let mut cand = bt(0, &[1]);
        cand.include = vec![3];
        assert!(!covers(&bt(1, &[1, 2]), &cand));
        assert!(covers(&bt(2, &[1, 3]), &cand));
        let mut e = bt(3, &[1]);
        e.include = vec![3, 4];
        assert!(covers(&e, &cand));
    }

    #[test]
    fn gin_jsonb_ops_covers_path_ops_not_reverse() {
        let path = Key { opclass: Some("jsonb_path_ops".into()), ..key(5) };
        let ops = idx(1, Method::Gin, vec![key(5)]);
        let path_idx = idx(2, Method::Gin, vec![path.clone()]);
        assert!(covers(&ops, &idx(0, Method::Gin, vec![path])));
        assert!(!covers(&path_idx, &idx(0, Method::Gin, vec![key(5)])));
        // a multicolumn GIN serves each of its columns; a btree never serves a GIN candidate
        assert!(covers(
            &idx(3, Method::Gin, vec![key(6), key(5)]),
            &idx(0, Method::Gin, vec![key(5)])
        ));
        assert!(!covers(&bt(4, &[5]), &idx(0, Method::Gin, vec![key(5)])));
        assert!(covers(&idx(5, Method::Brin, vec![key(7)]), &idx(0, Method::Brin, vec![key(7)])));
    }

    #[test]
    fn served_ignores_invalid_and_building() {
        let mut invalid = bt(1, &[1]);
        invalid.valid = false;
        let mut building = bt(2, &[1]);
        building.building = true;
        assert!(!served(&[invalid.clone(), building], &bt(0, &[1])));
        assert!(served(&[invalid, bt(3, &[1, 2])], &bt(0, &[1])));
    }

    #[test]
    fn exact_duplicate_keeps_lower_oid() {
        let list = vec![bt(20, &[1, 2]), bt(10, &[1, 2])];
        assert_eq!(redundant(&list), vec![(0, 1, Redundancy::Duplicate)]);
        // inverted directions index the same thing
        let list = vec![bt(10, &[1]), idx(20, Method::Btree, vec![desc(1)])];
        assert_eq!(redundant(&list), vec![(1, 0, Redundancy::Duplicate)]);
    }

    #[test]
    fn protected_never_redundant_but_may_cover() {
        let mut pk = bt(30, &[1]);
        pk.primary = true;
        pk.protected = true;
        let list = vec![bt(10, &[1]), pk];
        // the plain index is the duplicate even with the lower oid
        assert_eq!(redundant(&list), vec![(0, 1, Redundancy::Duplicate)]);
        let mut uniq = bt(5, &[1]);
        uniq.unique = true;
        assert_eq!(redundant(&[uniq, bt(6, &[1, 2])]), vec![]);
    }

    #[test]
    fn prefix_redundancy_and_include_rule() {
        assert_eq!(redundant(&[bt(1, &[1]), bt(2, &[1, 2])]), vec![(0, 1, Redundancy::Prefix)]);
        // (a) INCLUDE (c) next to (a, b): c is not stored in the longer index → kept
        let mut inc = bt(1, &[1]);
        inc.include = vec![3];
        assert_eq!(redundant(&[inc.clone(), bt(2, &[1, 2])]), vec![]);
        // (a) INCLUDE (b) next to (a, b) → prefix
        inc.include = vec![2];
        assert_eq!(redundant(&[inc, bt(2, &[1, 2])]), vec![(0, 1, Redundancy::Prefix)]);
        // (a) next to (a) INCLUDE (c) → prefix (fewer stored columns)
        let mut wide = bt(3, &[1]);
        wide.include = vec![3];
        assert_eq!(redundant(&[bt(9, &[1]), wide]), vec![(0, 1, Redundancy::Prefix)]);
    }

    #[test]
    fn different_predicates_or_methods_not_redundant() {
        let mut partial = bt(1, &[1]);
        partial.predicate = Some("deleted_at IS NULL".into());
        assert_eq!(redundant(&[partial.clone(), bt(2, &[1, 2])]), vec![]);
        let mut p2 = bt(3, &[1, 2]);
        p2.predicate = Some("(deleted_at IS NULL)".into());
        assert_eq!(redundant(&[partial, p2]), vec![(0, 1, Redundancy::Prefix)]);
        let h = idx(4, Method::Hash, vec![key(1)]);
        assert_eq!(redundant(&[h, bt(5, &[1])]), vec![]);
        let mut invalid = bt(6, &[1, 2]);
        invalid.valid = false;
        assert_eq!(redundant(&[bt(7, &[1]), invalid]), vec![]);
    }

    #[test]
    fn chain_prefers_longest_cover() {
        let list = vec![bt(1, &[1]), bt(2, &[1, 2]), bt(3, &[1, 2, 3])];
        assert_eq!(
            redundant(&list),
            vec![
                (0, 2, Redundancy::Prefix),
                (0, 1, Redundancy::Prefix),
                (1, 2, Redundancy::Prefix)
            ]
        );
    }
}
