//! A fixed, log-scale latency histogram: 17 buckets on a 1-2-5 series from < 0.1 ms to >= 10 s.
//! Fixed bounds keep it mergeable across entries and restarts, and cheap to update (a short scan
//! over 16 constants).

/// Upper bounds (exclusive) of the first 16 buckets, in milliseconds. Bucket 16 is ">= 10 s".
pub const BUCKET_BOUNDS_MS: [f64; 16] = [
    0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0,
    10000.0,
];
pub const N_BUCKETS: usize = BUCKET_BOUNDS_MS.len() + 1;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, zerocopy::IntoBytes, zerocopy::FromBytes, zerocopy::Immutable, zerocopy::KnownLayout)]
pub struct Histogram {
    pub counts: [i64; N_BUCKETS],
}

/// The bucket a duration falls in.
#[inline]
pub fn bucket_of(ms: f64) -> usize {
    // Most statements are fast: scanning from the bottom finds them in a few comparisons.
    let mut i = 0;
    while i < BUCKET_BOUNDS_MS.len() {
        if ms < BUCKET_BOUNDS_MS[i] {
            return i;
        }
        i += 1;
    }
    BUCKET_BOUNDS_MS.len()
}

/// Lower and upper bound of a bucket in ms (upper is +inf for the last).
pub fn bucket_range(i: usize) -> (f64, f64) {
    let lo = if i == 0 { 0.0 } else { BUCKET_BOUNDS_MS[i - 1] };
    let hi = if i < BUCKET_BOUNDS_MS.len() { BUCKET_BOUNDS_MS[i] } else { f64::INFINITY };
    (lo, hi)
}

/// A readable label: "< 0.1 ms", "0.1 - 0.2 ms", ..., ">= 10 s".
pub fn bucket_label(i: usize) -> String {
    fn fmt(ms: f64) -> String {
        if ms >= 1000.0 {
            format!("{} s", ms / 1000.0)
        } else {
            format!("{} ms", ms)
        }
    }
    let (lo, hi) = bucket_range(i);
    if i == 0 {
        format!("< {}", fmt(hi))
    } else if hi.is_infinite() {
        format!(">= {}", fmt(lo))
    } else {
        format!("{} - {}", fmt(lo), fmt(hi))
    }
}

impl Histogram {
    #[inline]
    pub fn add(&mut self, ms: f64) {
        self.counts[bucket_of(ms)] += 1;
    }

    pub fn total(&self) -> i64 {
        self.counts.iter().sum()
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += *b;
        }
    }

    /// Estimate the q-quantile (0 < q <= 1) in ms: find the bucket holding it and interpolate
    /// geometrically inside it (buckets are log-scale), clamped to the observed [min, max].
    pub fn quantile(&self, q: f64, min: f64, max: f64) -> Option<f64> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * total as f64).max(1.0);
        let mut seen = 0.0;
        for (i, &c) in self.counts.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let next = seen + c as f64;
            if next >= rank {
                let (lo, hi) = bucket_range(i);
                let lo = lo.max(min);
                let hi = if hi.is_infinite() { max } else { hi.min(max) };
                let frac = (rank - seen) / c as f64;
                let est = if lo > 0.0 && hi > lo {
                    lo * (hi / lo).powf(frac)
                } else {
                    lo + (hi - lo) * frac
                };
                return Some(est.clamp(min, max));
            }
            seen = next;
        }
        Some(max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_the_range() {
        assert_eq!(N_BUCKETS, 17);
        assert_eq!(bucket_of(0.0), 0);
        assert_eq!(bucket_of(0.05), 0);
        assert_eq!(bucket_of(0.1), 1);
        assert_eq!(bucket_of(0.15), 1);
        assert_eq!(bucket_of(0.99), 3);
        assert_eq!(bucket_of(1.0), 4);
        assert_eq!(bucket_of(9999.0), 15);
        assert_eq!(bucket_of(10_000.0), 16);
        assert_eq!(bucket_of(1e12), 16);
        assert_eq!(bucket_of(f64::NAN), 16);
    }

    #[test]
    fn ranges_and_labels() {
        assert_eq!(bucket_range(0), (0.0, 0.1));
        assert_eq!(bucket_range(4), (1.0, 2.0));
        assert!(bucket_range(16).1.is_infinite());
        assert_eq!(bucket_label(0), "< 0.1 ms");
        assert_eq!(bucket_label(1), "0.1 ms - 0.2 ms");
        assert_eq!(bucket_label(13), "1 s - 2 s");
        assert_eq!(bucket_label(16), ">= 10 s");
        // every bucket's range is contiguous with the next
        for i in 0..N_BUCKETS - 1 {
            assert_eq!(bucket_range(i).1, bucket_range(i + 1).0);
        }
    }

    #[test]
    fn add_merge_total() {
        let mut h = Histogram::default();
        for ms in [0.01, 0.3, 0.3, 15.0, 20000.0] {
            h.add(ms);
        }
        assert_eq!(h.total(), 5);
        assert_eq!(h.counts[0], 1);
        assert_eq!(h.counts[2], 2);
        assert_eq!(h.counts[7], 1);
        assert_eq!(h.counts[16], 1);
        let mut g = h;
        g.merge(&h);
        assert_eq!(g.total(), 10);
        assert_eq!(g.counts[2], 4);
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::default();
        assert_eq!(h.quantile(0.5, 0.0, 0.0), None);
        // 90 fast executions around 0.3 ms, 10 slow around 300 ms
        for _ in 0..90 {
            h.add(0.3);
        }
        for _ in 0..10 {
            h.add(300.0);
        }
        let p50 = h.quantile(0.5, 0.25, 320.0).unwrap();
        assert!((0.25..0.5).contains(&p50), "p50 {p50}");
        let p95 = h.quantile(0.95, 0.25, 320.0).unwrap();
        assert!((200.0..=320.0).contains(&p95), "p95 {p95}");
        let p100 = h.quantile(1.0, 0.25, 320.0).unwrap();
        assert!(p100 <= 320.0);
        // a single value: every quantile is that value
        let mut one = Histogram::default();
        one.add(42.0);
        assert_eq!(one.quantile(0.99, 42.0, 42.0), Some(42.0));
    }
}
