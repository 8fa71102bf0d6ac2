//! Drop advice for existing indexes (docs/research/advisor-selection.md §5): invalid, duplicate,
//! prefix-redundant and unused indexes, never a protected one (primary key, unique, constraint,
//! replica identity, extension member, attached partition, catalog). Pure: the catalog layer
//! supplies the indexes and our own `idx_scan` snapshots, and confirms redundancy with a what-if
//! hide before reporting.

use super::coverage::{self, Redundancy};
use super::model::*;

/// What we observed of one existing index's use.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct IndexUsage {
    pub oid: Oid,
    /// Scans over the observation window (`idx_scan` deltas of our snapshots, a decrease counted
    /// as a reset by the caller).
    pub scans: i64,
    /// How long we have watched this index's `idx_scan`, in days (the window starts at the later
    /// of the index's first-seen date and our first snapshot).
    pub days_observed: f64,
    /// Writes per second to the table (rows inserted plus non-HOT updates), for the reason text.
    pub writes_per_s: f64,
}

/// Thresholds of the drop rules.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DropSettings {
    /// An index with no scan for at least this many observed days is unused.
    pub unused_days: f64,
}

impl Default for DropSettings {
    fn default() -> Self {
        DropSettings { unused_days: 14.0 }
    }
}

/// Why an index should go.
#[derive(Clone, Debug, PartialEq)]
pub enum DropReason {
    /// Not scanned during `days` observed days.
    Unused { days: f64 },
    /// Same keys and stored columns as index `of`.
    Duplicate { of: Oid },
    /// Leading prefix of index `of`.
    Prefix { of: Oid },
    /// `NOT indisvalid` (a failed concurrent build) and not being built now.
    Invalid,
}

/// One index to drop.
#[derive(Clone, Debug, PartialEq)]
pub struct DropAdvice {
    /// Position in the `existing` slice given to [`advise`].
    pub index: usize,
    pub reason: DropReason,
    /// Bytes freed (the index's size).
    pub bytes: f64,
}

/// Never dropped (§2.3).
/// Never dropped: constraint, primary key, replica identity and valid unique indexes. An invalid
/// unique index (a failed `CREATE UNIQUE INDEX CONCURRENTLY`) enforces nothing reliable and goes.
fn protected(def: &IndexDef) -> bool {
    def.protected || def.primary || (def.unique && def.valid)
}

/// Days of observation when the index is droppable as unused: valid, not protected, zero scans
/// for at least `unused_days`. Indexes without usage data are never called unused.
fn unused_days(def: &IndexDef, usage: &[IndexUsage], s: &DropSettings) -> Option<f64> {
    if protected(def) || !def.valid || def.building {
        return None;
    }
    let u = usage.iter().find(|u| u.oid == def.oid)?;
    (u.scans == 0 && u.days_observed >= s.unused_days).then_some(u.days_observed)
}

/// Drop advice, at most one per index, in the order of `existing`. Priority: Invalid, then
/// Duplicate, then Prefix, then Unused.
///
/// A redundant index is only reported against a covering index that is not itself advised as
/// unused: with two identical indexes where one is scanned and the other is not, only the unscanned
/// one goes (as Unused), instead of both.
pub fn advise(existing: &[IndexDef], usage: &[IndexUsage], s: &DropSettings) -> Vec<DropAdvice> {
    let unused: Vec<Option<f64>> = existing.iter().map(|e| unused_days(e, usage, s)).collect();
    let pairs = coverage::redundant(existing);
    let mut out = Vec::new();
    for (i, def) in existing.iter().enumerate() {
        if protected(def) || def.building {
            continue;
        }
        let redundant_reason = || {
            pairs.iter().find(|&&(r, cover, _)| r == i && unused[cover].is_none()).map(
                |&(_, cover, kind)| {
                    let of = existing[cover].oid;
                    match kind {
                        Redundancy::Duplicate => DropReason::Duplicate { of },
                        Redundancy::Prefix => DropReason::Prefix { of },
                    }
                },
            )
        };
        let reason = if !def.valid {
            Some(DropReason::Invalid)
        } else {
            redundant_reason().or_else(|| unused[i].map(|days| DropReason::Unused { days }))
        };
        if let Some(reason) = reason {
            out.push(DropAdvice { index: i, reason, bytes: def.bytes });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bt(oid: Oid, atts: &[i16]) -> IndexDef {
        IndexDef {
            oid,
            relid: 1,
            name: format!("i{oid}"),
            am: "btree".into(),
            method: Some(Method::Btree),
            keys: atts.iter().map(|&a| Key::column(a)).collect(),
            valid: true,
            bytes: 8192.0 * f64::from(oid),
            ..Default::default()
        }
    }

    fn used(oid: Oid, scans: i64, days: f64) -> IndexUsage {
        IndexUsage { oid, scans, days_observed: days, writes_per_s: 1.0 }
    }

    #[test]
    fn unused_only_after_threshold() {
        let list = vec![bt(1, &[1]), bt(2, &[2]), bt(3, &[3])];
        let usage = vec![used(1, 0, 13.9), used(2, 0, 20.0), used(3, 5, 30.0)];
        assert_eq!(
            advise(&list, &usage, &DropSettings::default()),
            vec![DropAdvice {
                index: 1,
                reason: DropReason::Unused { days: 20.0 },
                bytes: 16384.0
            }]
        );
        // no usage data → never unused
        assert_eq!(advise(&list, &[], &DropSettings::default()), vec![]);
        // a lower threshold picks up the younger one
        let s = DropSettings { unused_days: 7.0 };
        assert_eq!(
            advise(&list, &usage, &s).iter().map(|a| a.index).collect::<Vec<_>>(),
            vec![0, 1]
        );
    }

    #[test]
    fn protected_indexes_never_dropped() {
        let mut pk = bt(1, &[1]);
        pk.primary = true;
        let mut uniq = bt(2, &[2]);
        uniq.unique = true;
        let mut constraint = bt(3, &[3]);
        constraint.protected = true;
        let mut invalid_protected = bt(4, &[4]);
        invalid_protected.protected = true;
        invalid_protected.valid = false;
        let mut failed_unique = bt(6, &[6]);
        failed_unique.unique = true;
        failed_unique.valid = false;
        let list = vec![pk, uniq, constraint, invalid_protected, bt(5, &[1]), failed_unique];
        let usage: Vec<IndexUsage> = (1..=5).map(|o| used(o, 0, 100.0)).collect();
        // only the plain duplicate of the primary key goes, and the unique index a failed
        // concurrent build left invalid (it backs no constraint)
        let advice = advise(&list, &usage, &DropSettings::default());
        assert_eq!(advice.len(), 2, "{advice:?}");
        assert_eq!(advice[0], DropAdvice { index: 4, reason: DropReason::Duplicate { of: 1 }, bytes: 40960.0 });
        assert_eq!((advice[1].index, advice[1].reason.clone()), (5, DropReason::Invalid));
    }

    #[test]
    fn duplicate_keeps_lower_oid_and_prefix_reported() {
        let list = vec![bt(7, &[1, 2]), bt(3, &[1, 2]), bt(4, &[1])];
        let advice = advise(&list, &[], &DropSettings::default());
        assert_eq!(
            advice,
            vec![
                DropAdvice { index: 0, reason: DropReason::Duplicate { of: 3 }, bytes: 57344.0 },
                DropAdvice { index: 2, reason: DropReason::Prefix { of: 3 }, bytes: 32768.0 },
            ]
        );
    }

    #[test]
    fn include_outside_longer_and_partial_are_kept() {
        let mut inc = bt(1, &[1]);
        inc.include = vec![3];
        let mut partial = bt(2, &[1]);
        partial.predicate = Some("x > 0".into());
        let list = vec![inc, partial, bt(3, &[1, 2])];
        assert_eq!(advise(&list, &[], &DropSettings::default()), vec![]);
    }

    #[test]
    fn invalid_dropped_unless_being_built() {
        let mut invalid = bt(1, &[1]);
        invalid.valid = false;
        let mut building = bt(2, &[2]);
        building.valid = false;
        building.building = true;
        let list = vec![invalid, building];
        let usage = vec![used(1, 0, 100.0), used(2, 0, 100.0)];
        assert_eq!(
            advise(&list, &usage, &DropSettings::default()),
            vec![DropAdvice { index: 0, reason: DropReason::Invalid, bytes: 8192.0 }]
        );
    }

    #[test]
    fn priority_duplicate_before_unused() {
        let list = vec![bt(1, &[1]), bt(2, &[1])];
        let usage = vec![used(1, 9, 30.0), used(2, 0, 30.0)];
        assert_eq!(
            advise(&list, &usage, &DropSettings::default()),
            vec![DropAdvice { index: 1, reason: DropReason::Duplicate { of: 1 }, bytes: 16384.0 }]
        );
    }

    #[test]
    fn redundant_not_reported_against_unused_cover() {
        // oid 1 is unused, oid 2 (its duplicate by oid) is scanned: drop only oid 1
        let list = vec![bt(1, &[1]), bt(2, &[1])];
        let usage = vec![used(1, 0, 30.0), used(2, 50, 30.0)];
        assert_eq!(
            advise(&list, &usage, &DropSettings::default()),
            vec![DropAdvice { index: 0, reason: DropReason::Unused { days: 30.0 }, bytes: 8192.0 }]
        );
        // (a) scanned, (a,b) unused: drop (a,b) as unused, keep (a)
        let list = vec![bt(3, &[1]), bt(4, &[1, 2])];
        let usage = vec![used(3, 10, 30.0), used(4, 0, 30.0)];
        assert_eq!(
            advise(&list, &usage, &DropSettings::default()),
            vec![DropAdvice {
                index: 1,
                reason: DropReason::Unused { days: 30.0 },
                bytes: 32768.0
            }]
        );
    }
}
