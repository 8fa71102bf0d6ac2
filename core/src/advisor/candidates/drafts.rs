//! Collecting, deduplicating and filtering drafts into candidates.

use super::*;

// ---------------------------------------------------------------------------------------------
// Collecting, deduplicating, filtering

/// Canonical definition of a candidate: equal keys mean the same index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct DefKey {
    pub(super) relid: Oid,
    pub(super) method: Method,
    pub(super) keys: Vec<Key>,
    pub(super) include: Vec<i16>,
    pub(super) predicate: Option<String>,
}

impl DefKey {
    pub(super) fn new(
        relid: Oid,
        method: Method,
        keys: Vec<Key>,
        mut include: Vec<i16>,
        predicate: Option<String>,
    ) -> DefKey {
        let keys = if method == Method::Btree { normalize_directions(keys) } else { keys };
        include.sort_unstable();
        include.dedup();
        DefKey { relid, method, keys, include, predicate }
    }

    pub(super) fn to_def(&self) -> IndexDef {
        IndexDef {
            relid: self.relid,
            am: self.method.name().to_string(),
            method: Some(self.method),
            keys: self.keys.clone(),
            include: self.include.clone(),
            predicate: self.predicate.clone(),
            ..Default::default()
        }
    }

    /// The candidate this one widens: the same keys without INCLUDE, or one key fewer.
    pub(super) fn extended_from(&self) -> Option<DefKey> {
        if self.method != Method::Btree {
            None
        } else if !self.include.is_empty() {
            Some(DefKey { include: Vec::new(), ..self.clone() })
        } else if self.keys.len() >= 2 {
            let keys = self.keys[..self.keys.len() - 1].to_vec();
            Some(DefKey::new(self.relid, self.method, keys, Vec::new(), self.predicate.clone()))
        } else {
            None
        }
    }
}

pub(super) struct Draft {
    pub(super) kind: CandidateKind,
    pub(super) queryids: BTreeSet<u64>,
    /// Built only from quals that were all already index conditions.
    pub(super) proof: bool,
}

/// When one definition comes from several rules, the most specific kind names it.
pub(super) fn kind_rank(kind: CandidateKind) -> u8 {
    match kind {
        CandidateKind::Single => 0,
        CandidateKind::Join => 1,
        CandidateKind::EqRange => 2,
        CandidateKind::EqSort => 3,
        CandidateKind::Group => 3,
        CandidateKind::Hash => 4,
        CandidateKind::Brin => 5,
        CandidateKind::Gin => 6,
        CandidateKind::Expression => 7,
        CandidateKind::Covering => 8,
        CandidateKind::Partial => 9,
    }
}

pub(super) fn method_of(def: &IndexDef) -> Option<Method> {
    def.method.or_else(|| Method::from_name(&def.am))
}

pub(super) fn usable_existing(e: &IndexDef) -> bool {
    e.valid && !e.building
}

/// An existing index serves the candidate. For a partial candidate only an index with the same
/// predicate counts: a broader index (none, or fewer conjuncts) still reads the rows the
/// predicate would skip, which is the point of the partial index.
pub(super) fn already_served(existing: &[IndexDef], def: &IndexDef) -> bool {
    match &def.predicate {
        None => coverage::served(existing, def),
        Some(predicate) => {
            let mut want = coverage::conjuncts(predicate);
            want.sort();
            existing.iter().any(|e| {
                let mut have = e.predicate.as_deref().map(coverage::conjuncts).unwrap_or_default();
                have.sort();
                usable_existing(e) && have == want && coverage::covers(e, def)
            })
        }
    }
}

/// Runtime proof (§2.1): every qual behind the candidate already ran as an index condition, and an
/// existing usable B-tree holds all of the candidate's keys.
pub(super) fn proven_served(existing: &[IndexDef], def: &IndexDef) -> bool {
    def.include.is_empty()
        && def.predicate.is_none()
        && existing.iter().any(|e| {
            usable_existing(e)
                && e.relid == def.relid
                && method_of(e) == Some(Method::Btree)
                && def.keys.iter().all(|k| {
                    e.keys.iter().any(|x| {
                        x.expr == k.expr && x.opclass == k.opclass && x.collation == k.collation
                    })
                })
        })
}

#[derive(Default)]
pub(super) struct Drafts(BTreeMap<DefKey, Draft>);

impl Drafts {
    pub(super) fn add(
        &mut self,
        key: DefKey,
        kind: CandidateKind,
        queryids: impl IntoIterator<Item = u64>,
        proof: bool,
    ) {
        if key.keys.is_empty() {
            return;
        }
        match self.0.entry(key) {
            Entry::Vacant(v) => {
                v.insert(Draft { kind, queryids: queryids.into_iter().collect(), proof });
            }
            Entry::Occupied(mut o) => {
                let d = o.get_mut();
                if kind_rank(kind) > kind_rank(d.kind) {
                    d.kind = kind;
                }
                d.queryids.extend(queryids);
                d.proof &= proof;
            }
        }
    }

    /// Every multi-key B-tree candidate without INCLUDE gets its prefixes (same predicate), so
    /// Extend can reach it one key at a time.
    pub(super) fn add_prefixes(&mut self) {
        let bases: Vec<(DefKey, CandidateKind, BTreeSet<u64>, bool)> = self
            .0
            .iter()
            .filter(|(k, _)| k.method == Method::Btree && k.include.is_empty() && k.keys.len() >= 2)
            .map(|(k, d)| (k.clone(), d.kind, d.queryids.clone(), d.proof))
            .collect();
        for (key, kind, queryids, proof) in bases {
            for n in 1..key.keys.len() {
                let prefix = DefKey::new(
                    key.relid,
                    key.method,
                    key.keys[..n].to_vec(),
                    Vec::new(),
                    key.predicate.clone(),
                );
                let prefix_kind = if kind == CandidateKind::Partial {
                    CandidateKind::Partial
                } else if n == 1 {
                    single_kind(&prefix.keys[0].expr, false)
                } else {
                    kind
                };
                self.add(prefix, prefix_kind, queryids.iter().copied(), proof);
            }
        }
    }

    /// Drops served candidates, then numbers the rest in canonical order and links `extends`.
    pub(super) fn finish(self, tables: &[TableInfo]) -> Vec<Candidate> {
        let existing_of = |relid: Oid| -> &[IndexDef] {
            tables.iter().find(|t| t.relid == relid).map_or(&[], |t| t.existing.as_slice())
        };
        let kept: Vec<(DefKey, Draft)> = self
            .0
            .into_iter()
            .filter(|(key, draft)| {
                let def = key.to_def();
                let existing = existing_of(key.relid);
                let proven = draft.proof && proven_served(existing, &def);
                !proven && !already_served(existing, &def)
            })
            .collect();
        let position: BTreeMap<&DefKey, usize> =
            kept.iter().enumerate().map(|(i, (k, _))| (k, i)).collect();
        kept.iter()
            .map(|(key, draft)| Candidate {
                def: key.to_def(),
                queryids: draft.queryids.iter().copied().collect(),
                kind: draft.kind,
                extends: key.extended_from().and_then(|p| position.get(&p).copied()),
            })
            .collect()
    }
}
