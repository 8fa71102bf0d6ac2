//! Covering candidates that serve several statements at once, merged along a shared key prefix.

use super::candidates;
use super::model::*;
use std::collections::{BTreeSet, HashMap};

/// Covering indexes that serve several statements at once: for two btree candidates on one
/// table, neither partial, whose keys are one a prefix of the other and at least one of which has
/// INCLUDE columns, the longer keys with the union of everything else both read as INCLUDE
/// (within the covering limits of `rules`: `include_max_columns`, `include_max_width`). Extend can then replace either one by the merge when that pays
/// (coverage makes it a replacement, not an addition).
pub fn merge_covering(cands: &mut Vec<Candidate>, tables: &HashMap<u32, &TableInfo>, rules: &candidates::Settings) {
    let n = cands.len();
    let mut merged: Vec<Candidate> = vec![];
    for i in 0..n {
        for j in 0..n {
            let (a, b) = (&cands[i], &cands[j]);
            if i == j
                || a.def.relid != b.def.relid
                || a.def.method != Some(Method::Btree)
                || b.def.method != Some(Method::Btree)
                || a.def.predicate.is_some()
                || b.def.predicate.is_some()
                || (a.def.include.is_empty() && b.def.include.is_empty())
                || a.def.keys.len() < b.def.keys.len()
                || a.def.keys[..b.def.keys.len()] != b.def.keys[..]
            {
                continue;
            }
            let keys: BTreeSet<i16> = a.def.keys.iter().filter_map(|k| if let KeyExpr::Column(c) = k.expr { Some(c) } else { None }).collect();
            let include: BTreeSet<i16> =
                a.def.include.iter().chain(b.def.include.iter()).copied().filter(|c| !keys.contains(c)).collect();
            if include.len() <= a.def.include.len() || include.len() > rules.include_max_columns {
                continue;
            }
            let t = tables[&a.def.relid];
            let width: f64 = include.iter().map(|&c| t.column(c).map(|s| s.width).unwrap_or(8.0)).sum();
            if width > rules.include_max_width {
                continue;
            }
            let mut def = a.def.clone();
            def.include = include.into_iter().collect();
            if cands.iter().chain(merged.iter()).any(|c| c.def == def) {
                continue;
            }
            let mut queryids: Vec<u64> = a.queryids.iter().chain(b.queryids.iter()).copied().collect();
            queryids.sort_unstable();
            queryids.dedup();
            merged.push(Candidate { def, queryids, kind: CandidateKind::Covering, extends: None });
        }
    }
    cands.extend(merged);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn btree(keys: &[i16], include: &[i16]) -> Candidate {
        Candidate {
            def: IndexDef {
                relid: 1,
                am: "btree".into(),
                method: Some(Method::Btree),
                keys: keys.iter().map(|&k| Key::column(k)).collect(),
                include: include.to_vec(),
                ..Default::default()
            },
            queryids: vec![keys[0] as u64],
            kind: CandidateKind::Covering,
            extends: None,
        }
    }

    #[test]
    fn covering_candidates_merge_along_a_key_prefix() {
        let t = TableInfo {
            relid: 1,
            columns: (1..=6).map(|a| ColumnStats { attnum: a, width: 4.0, ..Default::default() }).collect(),
            ..Default::default()
        };
        let tables: HashMap<u32, &TableInfo> = HashMap::from([(1, &t)]);
        // (1) INCLUDE (2) and (1, 3) INCLUDE (4): merged into (1, 3) INCLUDE (2, 4).
        let mut c = vec![btree(&[1], &[2]), btree(&[1, 3], &[4]), btree(&[5], &[6])];
        merge_covering(&mut c, &tables, &candidates::Settings::default());
        assert_eq!(c.len(), 4);
        assert_eq!(c[3].def.keys, vec![Key::column(1), Key::column(3)]);
        assert_eq!(c[3].def.include, vec![2, 4]);
        assert_eq!(c[3].queryids, vec![1]);
        // Unrelated keys (5) never merge; a second pass adds nothing new.
        merge_covering(&mut c, &tables, &candidates::Settings::default());
        assert_eq!(c.len(), 4);
    }
}
