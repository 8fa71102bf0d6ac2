//! How far to trust a planned saving when the statement's recorded row estimates were badly
//! wrong (issue 17, item 3).
//!
//! The what-if planner prices a new index with the same row estimates that priced the recorded
//! plan. When the executor saw many more rows than the planner expected, a plan built on those
//! estimates runs slower than priced: a nested loop into an index repeats its inner scan once per
//! outer row (more outer rows than expected: more loops), and an index scan fetches one heap page
//! per row it returns (more rows than expected: more random reads). Overestimates are not
//! discounted: they make index plans look dearer than they are, which errs on the side of no
//! index.
//!
//! The rule, per statement and per planned configuration: for each new index the plan uses,
//! - as the inner side of a join or a correlated sub-select (its scan condition reads a value of
//!   the outer rows): the statement's worst underestimate on any join or scan node,
//! - as a plain scan: the worst underestimate on a scan node of the index's table,
//!
//! gives a trust `1 / (1 + log10(under / 10))` from 10x on (below 10x: 1), at least
//! [`MIN_TRUST`]; the plan's trust is the lowest over the indexes it uses.
//!
//! A second rule needs no misestimate: the repeated inner scans of parameterized nested loops that
//! a plan adds over the plan without new indexes are priced [`PROBE_PRICE`] times what the planner
//! says ([`reprice_probes`]): with the data in memory, PostgreSQL's default costs price such a probe
//! (an index descent and a few heap rows) below what it takes against a hash join's sequential
//! reads. The factor 2 is a judgment, not a measured constant. (Q3's slowdown under a new index on
//! `orders(o_orderdate)` turned out to be another matter: the probes were there without it too, and
//! the index made them arrive out of `lineitem`'s physical order. This rule does not cover that.)
//!
//! [`counted_cost`] applies both: the probes first (a plan's cost as repriced), then the trust to
//! what is left of the saving against the statement's cost without new indexes. A cost rise is
//! never scaled down.

use std::collections::BTreeMap;

/// Underestimates below this factor (actual rows / estimated rows) are trusted as they are: the
/// same 10x that `optimizer.misestimates` reports.
pub const MISESTIMATE_FACTOR: f64 = 10.0;
/// The least trust a planned saving keeps, however wrong the estimates were: a correlated
/// sub-select that runs for minutes without an index still gains most from one.
pub const MIN_TRUST: f64 = 0.25;

/// What the recorded plans of one statement say about its row estimates: underestimate factors
/// (actual / estimated rows per loop; 1 when the estimate was right or too high).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Estimates {
    /// Per table: the worst underestimate of a scan node on it.
    pub scans: BTreeMap<u32, f64>,
    /// The worst underestimate of any node (joins included).
    pub worst: f64,
}

impl Estimates {
    /// Adds one recorded node: `table` for a scan (None for a join or another node), its average
    /// estimated and actual rows per loop.
    pub fn add(&mut self, table: Option<u32>, estimated: f64, actual: f64) {
        let under = underestimate(estimated, actual);
        if let Some(t) = table {
            let e = self.scans.entry(t).or_insert(1.0);
            *e = e.max(under);
        }
        self.worst = self.worst.max(under);
    }
}

impl Estimates {
    /// Takes the worse of each figure of `other` (the statements of one shape share them).
    pub fn merge(&mut self, other: &Estimates) {
        for (&t, &u) in &other.scans {
            let x = self.scans.entry(t).or_insert(1.0);
            *x = x.max(u);
        }
        self.worst = self.worst.max(other.worst);
    }
}

/// `actual / estimated` when the planner expected fewer rows, else 1. An estimate below one row
/// counts as one (the planner never plans for less).
pub fn underestimate(estimated: f64, actual: f64) -> f64 {
    if !(estimated.is_finite() && actual.is_finite()) {
        return 1.0;
    }
    (actual / estimated.max(1.0)).max(1.0)
}

/// Trust in a saving priced with estimates that were `under` times too low.
pub fn trust_of(under: f64) -> f64 {
    if !(under > MISESTIMATE_FACTOR) {
        return 1.0;
    }
    (1.0 / (1.0 + (under / MISESTIMATE_FACTOR).log10())).max(MIN_TRUST)
}

/// How many times its planned cost a probe that a plan adds is counted at.
pub const PROBE_PRICE: f64 = 2.0;

/// Why a saving was discounted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Why {
    /// Rows this many times above the estimate.
    Misestimate(f64),
    /// This many more estimated nested-loop probes than without new indexes.
    Probes(f64),
}

/// What to add to a plan's cost for the probes it adds: `(PROBE_PRICE - 1)` times the planned cost
/// of the inner scans of its parameterized nested loops beyond the statement's plan without new
/// indexes (`base_probe_cost`); 0 when it adds none.
pub fn reprice_probes(base_probe_cost: f64, probe_cost: f64) -> f64 {
    let added = probe_cost - base_probe_cost;
    if added > 0.0 && added.is_finite() { (PROBE_PRICE - 1.0) * added } else { 0.0 }
}

/// The cost to count for a plan priced at `planned`, when the statement costs `base` without new
/// indexes, its added probes cost `extra` more ([`reprice_probes`]) and its saving is trusted at
/// `trust` ([`plan_trust`]).
pub fn counted_cost(base: f64, planned: f64, extra: f64, trust: f64) -> f64 {
    discounted(base, planned + extra, trust)
}

/// One planned configuration of a statement, judged: the cost to count, and when a saving was
/// discounted, why (the larger of the two effects) and the share of the planned saving kept.
/// `base`, `base_probes`, `base_probe_cost`: the statement without new indexes; `planned`,
/// `probes`, `probe_cost`: with the configuration; `uses`: the new indexes its plan uses.
#[allow(clippy::too_many_arguments)]
pub fn assess(
    base: f64,
    base_probes: f64,
    base_probe_cost: f64,
    planned: f64,
    probes: f64,
    probe_cost: f64,
    uses: &[Use],
    e: &Estimates,
) -> (f64, Option<(Why, f64)>) {
    let (trust, under) = plan_trust(uses, e);
    let extra = reprice_probes(base_probe_cost, probe_cost);
    let cost = counted_cost(base, planned, extra, trust);
    if !(cost > planned && planned < base) {
        return (cost, None);
    }
    let by_trust = cost - (planned + extra).min(cost);
    let why = if extra >= by_trust { Why::Probes(probes - base_probes) } else { Why::Misestimate(under) };
    (cost, Some((why, kept_share(base, planned, cost))))
}

/// The share of the planned saving that [`counted_cost`] kept (1 when nothing was discounted, 0
/// or below when nothing was left).
pub fn kept_share(base: f64, planned: f64, counted: f64) -> f64 {
    if planned >= base { 1.0 } else { (base - counted) / (base - planned) }
}

/// One new index a planned configuration uses: its table, and whether its scan condition reads
/// a value of the outer rows (a nested loop's inner side, a correlated sub-select).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Use {
    pub table: u32,
    pub parameterized: bool,
}

/// The trust of a plan that uses the new indexes `uses`, and the underestimate behind it (1 when
/// fully trusted).
pub fn plan_trust(uses: &[Use], e: &Estimates) -> (f64, f64) {
    let under = uses
        .iter()
        .map(|u| if u.parameterized { e.worst } else { e.scans.get(&u.table).copied().unwrap_or(1.0) })
        .fold(1.0, f64::max);
    (trust_of(under), under)
}

/// The cost to count for a plan priced at `planned` when the statement costs `base` without new
/// indexes: the saving scaled by `trust`; a rise (or no change) as planned.
pub fn discounted(base: f64, planned: f64, trust: f64) -> f64 {
    if planned >= base || trust >= 1.0 {
        return planned;
    }
    base - trust * (base - planned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn underestimates_only() {
        assert_eq!(underestimate(100.0, 5000.0), 50.0);
        assert_eq!(underestimate(5000.0, 100.0), 1.0);
        // Below one estimated row counts as one.
        assert_eq!(underestimate(0.2, 30.0), 30.0);
        assert_eq!(underestimate(f64::NAN, 30.0), 1.0);
    }

    #[test]
    fn trust_falls_with_the_log_of_the_error_from_10x_and_has_a_floor() {
        assert_eq!(trust_of(1.0), 1.0);
        assert_eq!(trust_of(10.0), 1.0);
        assert!((trust_of(100.0) - 0.5).abs() < 1e-12);
        assert!((trust_of(1000.0) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(trust_of(1e9), MIN_TRUST);
        assert_eq!(trust_of(f64::NAN), 1.0);
    }

    #[test]
    fn a_nested_loop_inner_takes_the_worst_node_a_plain_scan_its_table() {
        let mut e = Estimates::default();
        e.add(Some(7), 1000.0, 900.0); // table 7: fine
        e.add(None, 50.0, 5000.0); // a join: 100x too low
        e.add(Some(8), 10.0, 1000.0); // table 8: 100x too low
        let plain7 = Use { table: 7, parameterized: false };
        let inner7 = Use { table: 7, parameterized: true };
        let plain8 = Use { table: 8, parameterized: false };
        assert_eq!(plan_trust(&[plain7], &e), (1.0, 1.0));
        assert_eq!(plan_trust(&[inner7], &e).1, 100.0);
        assert_eq!(plan_trust(&[plain8], &e).1, 100.0);
        assert_eq!(plan_trust(&[plain7, plain8], &e).0, 0.5);
        // No new index used: nothing to discount.
        assert_eq!(plan_trust(&[], &e), (1.0, 1.0));
    }

    #[test]
    fn overestimates_are_not_discounted() {
        let mut e = Estimates::default();
        e.add(Some(7), 100_000.0, 10.0);
        e.add(None, 50_000.0, 19.0);
        assert_eq!(plan_trust(&[Use { table: 7, parameterized: true }], &e), (1.0, 1.0));
    }

    #[test]
    fn the_saving_is_scaled_a_rise_is_not() {
        assert_eq!(discounted(1000.0, 200.0, 0.5), 600.0);
        assert_eq!(discounted(1000.0, 200.0, 1.0), 200.0);
        assert_eq!(discounted(1000.0, 1500.0, 0.5), 1500.0);
        assert_eq!(discounted(1000.0, 1000.0, 0.25), 1000.0);
    }
}

/// A discount smaller than this share of a saving is not worth a sentence (a plan that adds one
/// probe, say).
pub const NOTE_MIN_DISCOUNT: f64 = 0.1;

/// The sentence a create reason gets when savings it counts were discounted: per statement
/// (query id, why, share of the planned saving kept), at most three named; discounts under
/// [`NOTE_MIN_DISCOUNT`] are left out.
pub fn note(discounted: &[(i64, Why, f64)]) -> String {
    let discounted: Vec<&(i64, Why, f64)> = discounted.iter().filter(|d| d.2 <= 1.0 - NOTE_MIN_DISCOUNT).collect();
    if discounted.is_empty() {
        return String::new();
    }
    let named: Vec<String> = discounted
        .iter()
        .take(3)
        .map(|(q, why, kept)| {
            let what = match why {
                Why::Misestimate(under) => format!("its recorded plan read {under:.0}x the rows the planner expected"),
                Why::Probes(n) => format!(
                    "the new plan makes {n:.0} more index probes in nested loops, counted at {PROBE_PRICE:.0}x their planned cost"
                ),
            };
            format!("statement {q} counted at {:.0}% ({what})", 100.0 * kept.max(0.0))
        })
        .collect();
    let more = discounted.len().saturating_sub(3);
    format!(
        " Savings the planner's estimates may overstate are discounted: {}{}.",
        named.join(", "),
        if more > 0 { format!(" and {more} more") } else { String::new() }
    )
}

#[cfg(test)]
mod note_tests {
    use super::*;

    #[test]
    fn names_the_statements_and_the_reason() {
        assert_eq!(note(&[]), "");
        let n = note(&[(42, Why::Misestimate(2129.4), 0.3), (-7, Why::Probes(147_000.0), 0.5)]);
        assert!(n.contains("statement 42 counted at 30% (its recorded plan read 2129x the rows the planner expected)"), "{n}");
        assert!(
            n.contains("statement -7 counted at 50% (the new plan makes 147000 more index probes in nested loops, counted at 2x their planned cost)"),
            "{n}"
        );
        // A small discount is not said.
        assert_eq!(note(&[(5, Why::Probes(1.0), 0.96)]), "");
        assert!(note(&[(5, Why::Probes(1.0), 0.96), (6, Why::Probes(9e4), 0.4)]).contains("statement 6 counted at 40%"));
        let many: Vec<(i64, Why, f64)> = (0..5).map(|q| (q, Why::Probes(1e4), 0.5)).collect();
        assert!(note(&many).ends_with(" and 2 more."));
    }

    #[test]
    fn assess_says_the_larger_effect() {
        let mut e = Estimates::default();
        e.add(Some(3), 10.0, 1000.0); // 100x: trust 0.5
        let plain3 = [Use { table: 3, parameterized: false }];
        // Nothing to discount: as planned.
        assert_eq!(assess(1000.0, 0.0, 0.0, 400.0, 0.0, 0.0, &[], &e), (400.0, None));
        // The misestimate alone.
        assert_eq!(assess(1000.0, 0.0, 0.0, 400.0, 0.0, 0.0, &plain3, &e), (700.0, Some((Why::Misestimate(100.0), 0.5))));
        // Probes alone: 5,000 more probes costing 100 more, counted 100 more.
        assert_eq!(assess(1000.0, 10.0, 50.0, 400.0, 5010.0, 150.0, &[], &e), (500.0, Some((Why::Probes(5000.0), 5.0 / 6.0))));
        // Both, the probes larger: 1000 - 0.5 * (1000 - 900) = 950; 500 from probes, 50 from trust.
        let (c, why) = assess(1000.0, 0.0, 0.0, 400.0, 9000.0, 500.0, &plain3, &e);
        assert_eq!(c, 950.0);
        assert_eq!(why, Some((Why::Probes(9000.0), 50.0 / 600.0)));
        // A rise is never a discount.
        assert_eq!(assess(1000.0, 0.0, 0.0, 1200.0, 0.0, 0.0, &plain3, &e), (1200.0, None));
        // Merging shapes keeps the worse figures.
        let mut m = Estimates::default();
        m.add(Some(4), 10.0, 20.0);
        m.merge(&e);
        assert_eq!((m.scans[&3], m.scans[&4], m.worst), (100.0, 2.0, 100.0));
    }

    #[test]
    fn added_probes_count_at_twice_their_planned_cost() {
        assert_eq!(reprice_probes(0.0, 88_000.0), 88_000.0);
        // Probes the plan already made do not count, nor fewer probes.
        assert_eq!(reprice_probes(88_000.0, 88_000.0), 0.0);
        assert_eq!(reprice_probes(90_000.0, 10_000.0), 0.0);
        // TPC-H Q3 at random_page_cost 4: the hash join plan at 175,000, the probe plan at 164,000
        // with 88,000 in probes. Counted, the probe plan is a rise, so the index that led to it
        // saves nothing there.
        let counted = counted_cost(175_000.0, 164_000.0, reprice_probes(0.0, 88_000.0), 1.0);
        assert_eq!(counted, 252_000.0);
        assert!(kept_share(175_000.0, 164_000.0, counted) < 0.0);
        // A large saving survives: a correlated sub-select from 10^9 to 10^6 with 10^6 in probes.
        let c = counted_cost(1e9, 1e6, reprice_probes(0.0, 1e6), 1.0);
        assert_eq!(c, 2e6);
        assert!(kept_share(1e9, 1e6, c) > 0.99);
        // Both rules: the repriced saving is then trusted at half.
        assert_eq!(counted_cost(1000.0, 200.0, 100.0, 0.5), 650.0);
        assert_eq!(kept_share(1000.0, 200.0, 650.0), 350.0 / 800.0);
        assert_eq!(kept_share(1000.0, 1200.0, 1200.0), 1.0);
    }
}
