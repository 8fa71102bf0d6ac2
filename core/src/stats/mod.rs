//! Statement statistics as plain data: counters, the latency histogram, Welford's running
//! variance, percentile estimates and eviction order. No `pg_sys` here: everything is unit-tested
//! with plain `#[test]`. The shared-memory store (`crate::shmem`) keeps these structs verbatim.

pub mod dump;
pub mod histogram;
pub mod normalize;
pub mod persist;
pub mod predicates;

pub use histogram::{Histogram, BUCKET_BOUNDS_MS, N_BUCKETS};

/// Running time statistics in milliseconds: count, total, min, max, and Welford's mean and M2
/// (sum of squared deviations), which stay accurate where `sum of squares - square of sum` loses
/// every digit (many calls of nearly equal duration).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, zerocopy::IntoBytes, zerocopy::FromBytes, zerocopy::Immutable, zerocopy::KnownLayout)]
pub struct TimeStats {
    pub count: i64,
    pub total: f64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub m2: f64,
}

impl TimeStats {
    #[inline]
    pub fn add(&mut self, ms: f64) {
        self.count += 1;
        self.total += ms;
        if self.count == 1 {
            self.min = ms;
            self.max = ms;
            self.mean = ms;
            self.m2 = 0.0;
            return;
        }
        if ms < self.min {
            self.min = ms;
        }
        if ms > self.max {
            self.max = ms;
        }
        let delta = ms - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (ms - self.mean);
    }

    /// Population standard deviation (what pg_stat_statements reports), 0 for fewer than 2 values.
    pub fn stddev(&self) -> f64 {
        if self.count > 1 {
            (self.m2 / self.count as f64).sqrt()
        } else {
            0.0
        }
    }

    /// Combine two independent summaries (Chan et al.'s parallel form of Welford's algorithm).
    pub fn merge(&mut self, other: &TimeStats) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        let n1 = self.count as f64;
        let n2 = other.count as f64;
        let n = n1 + n2;
        let delta = other.mean - self.mean;
        self.mean += delta * n2 / n;
        self.m2 += other.m2 + delta * delta * n1 * n2 / n;
        self.count += other.count;
        self.total += other.total;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }
}

/// Block and WAL usage of one execution (or the sum of many).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, zerocopy::IntoBytes, zerocopy::FromBytes, zerocopy::Immutable, zerocopy::KnownLayout)]
pub struct Usage {
    pub rows: i64,
    pub shared_blks_hit: i64,
    pub shared_blks_read: i64,
    pub shared_blks_dirtied: i64,
    pub shared_blks_written: i64,
    pub local_blks_hit: i64,
    pub local_blks_read: i64,
    pub local_blks_dirtied: i64,
    pub local_blks_written: i64,
    pub temp_blks_read: i64,
    pub temp_blks_written: i64,
    pub blk_read_time: f64,
    pub blk_write_time: f64,
    pub wal_records: i64,
    pub wal_fpi: i64,
    pub wal_bytes: u64,
}

impl Usage {
    #[inline]
    pub fn accumulate(&mut self, o: &Usage) {
        self.rows += o.rows;
        self.shared_blks_hit += o.shared_blks_hit;
        self.shared_blks_read += o.shared_blks_read;
        self.shared_blks_dirtied += o.shared_blks_dirtied;
        self.shared_blks_written += o.shared_blks_written;
        self.local_blks_hit += o.local_blks_hit;
        self.local_blks_read += o.local_blks_read;
        self.local_blks_dirtied += o.local_blks_dirtied;
        self.local_blks_written += o.local_blks_written;
        self.temp_blks_read += o.temp_blks_read;
        self.temp_blks_written += o.temp_blks_written;
        self.blk_read_time += o.blk_read_time;
        self.blk_write_time += o.blk_write_time;
        self.wal_records += o.wal_records;
        self.wal_fpi += o.wal_fpi;
        self.wal_bytes += o.wal_bytes;
    }
}

/// Usage credit an entry gets per execution; eviction removes the entries with the least.
pub const USAGE_PER_CALL: f64 = 1.0;
/// Every eviction pass multiplies all usage by this, so old popularity fades.
pub const USAGE_DECAY: f64 = 0.99;
/// Entries that were never executed (created at parse analysis, e.g. by a failed statement) fade
/// faster, as pg_stat_statements does with its "sticky" entries.
pub const USAGE_DECAY_UNEXECUTED: f64 = 0.5;
/// Fraction of the table an eviction pass frees.
pub const EVICT_FRACTION: f64 = 0.05;
/// ... and at least this many entries.
pub const EVICT_MIN: usize = 10;

/// Everything recorded about one statement.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, zerocopy::IntoBytes, zerocopy::FromBytes, zerocopy::Immutable, zerocopy::KnownLayout)]
pub struct Counters {
    pub exec: TimeStats,
    pub plan: TimeStats,
    pub usage: Usage,
    pub hist: Histogram,
    /// Execution time of the captured example (the slowest execution so far), ms.
    pub example_ms: f64,
    /// TimestampTz (microseconds since 2000-01-01) of entry creation and of the last execution.
    pub first_seen: i64,
    pub last_seen: i64,
    /// Eviction credit: grows with executions, decays at each eviction pass.
    pub usage_score: f64,
}

impl Counters {
    pub fn new(now: i64, initial_usage: f64) -> Self {
        Counters { first_seen: now, last_seen: now, usage_score: initial_usage, ..Default::default() }
    }

    /// Record one execution. Returns true when it is the slowest so far (the caller may then
    /// capture it as the example).
    #[inline]
    pub fn record_execution(&mut self, ms: f64, usage: &Usage, now: i64) -> bool {
        let slowest = self.exec.count == 0 || ms > self.exec.max;
        self.exec.add(ms);
        self.usage.accumulate(usage);
        self.hist.add(ms);
        self.usage_score += USAGE_PER_CALL;
        if now > self.last_seen {
            self.last_seen = now;
        }
        slowest
    }

    #[inline]
    pub fn record_planning(&mut self, ms: f64, now: i64) {
        self.plan.add(ms);
        if now > self.last_seen {
            self.last_seen = now;
        }
    }

    pub fn calls(&self) -> i64 {
        self.exec.count
    }
}

/// Choose which entries an eviction pass removes: the `max(EVICT_FRACTION * n, EVICT_MIN)`
/// entries with the lowest usage score (ties: the least recently seen first). Input: (usage,
/// last_seen, id). Returns the ids to remove, and decays nothing: see [`decayed_usage`].
pub fn eviction_victims(mut entries: Vec<(f64, i64, usize)>) -> Vec<usize> {
    let n = entries.len();
    if n == 0 {
        return Vec::new();
    }
    let want = ((n as f64 * EVICT_FRACTION).ceil() as usize).max(EVICT_MIN).min(n);
    entries.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    entries.truncate(want);
    entries.into_iter().map(|e| e.2).collect()
}

/// The usage score after one eviction pass.
pub fn decayed_usage(score: f64, calls: i64) -> f64 {
    if calls == 0 {
        score * USAGE_DECAY_UNEXECUTED
    } else {
        score * USAGE_DECAY
    }
}

/// Median of the usage scores that survive a pass: entries created before their statement ran
/// (at parse analysis) start there, so they are not evicted before their execution is counted.
/// Entries created by an execution start at zero and earn USAGE_PER_CALL per call.
pub fn median_usage(mut scores: Vec<f64>) -> f64 {
    if scores.is_empty() {
        return USAGE_PER_CALL;
    }
    scores.sort_by(|a, b| a.total_cmp(b));
    scores[scores.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(values: &[f64]) -> (f64, f64) {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        (mean, var.sqrt())
    }

    #[test]
    fn welford_matches_two_pass() {
        let values = [1.5, 2.25, 0.125, 9.0, 3.5, 3.5, 7.75, 0.5];
        let mut t = TimeStats::default();
        for v in values {
            t.add(v);
        }
        let (mean, sd) = naive(&values);
        assert_eq!(t.count, 8);
        assert!((t.mean - mean).abs() < 1e-12);
        assert!((t.stddev() - sd).abs() < 1e-12);
        assert_eq!(t.min, 0.125);
        assert_eq!(t.max, 9.0);
        assert!((t.total - values.iter().sum::<f64>()).abs() < 1e-12);
    }

    #[test]
    fn welford_is_stable_for_large_offsets() {
        // 1e9 ms +- 0.001: the naive sum-of-squares formula returns garbage here.
        let mut t = TimeStats::default();
        for i in 0..10_000 {
            t.add(1e9 + if i % 2 == 0 { 0.001 } else { -0.001 });
        }
        assert!((t.stddev() - 0.001).abs() < 1e-6, "stddev {}", t.stddev());
    }

    #[test]
    fn welford_single_value_and_empty() {
        let mut t = TimeStats::default();
        assert_eq!(t.stddev(), 0.0);
        t.add(4.0);
        assert_eq!(t.stddev(), 0.0);
        assert_eq!((t.min, t.max, t.mean), (4.0, 4.0, 4.0));
    }

    #[test]
    fn merge_equals_sequential() {
        let a_vals = [1.0, 2.0, 3.0, 10.0];
        let b_vals = [0.5, 8.0, 8.5];
        let (mut a, mut b, mut all) = (TimeStats::default(), TimeStats::default(), TimeStats::default());
        a_vals.iter().for_each(|v| a.add(*v));
        b_vals.iter().for_each(|v| b.add(*v));
        a_vals.iter().chain(b_vals.iter()).for_each(|v| all.add(*v));
        a.merge(&b);
        assert_eq!(a.count, all.count);
        assert!((a.mean - all.mean).abs() < 1e-12);
        assert!((a.m2 - all.m2).abs() < 1e-9);
        assert_eq!((a.min, a.max), (all.min, all.max));
        let mut empty = TimeStats::default();
        empty.merge(&all);
        assert_eq!(empty, all);
    }

    #[test]
    fn record_execution_reports_slowest() {
        let mut c = Counters::new(100, 1.0);
        let u = Usage { rows: 3, shared_blks_hit: 2, wal_bytes: 10, ..Default::default() };
        assert!(c.record_execution(5.0, &u, 200));
        assert!(!c.record_execution(4.0, &u, 150));
        assert!(c.record_execution(6.0, &u, 300));
        assert_eq!(c.calls(), 3);
        assert_eq!(c.usage.rows, 9);
        assert_eq!(c.usage.wal_bytes, 30);
        assert_eq!(c.last_seen, 300);
        assert_eq!(c.first_seen, 100);
        assert_eq!(c.hist.total(), 3);
        assert_eq!(c.usage_score, 4.0);
    }

    #[test]
    fn eviction_takes_least_used_five_percent() {
        let entries: Vec<_> = (0..1000).map(|i| ((1000 - i) as f64, i as i64, i)).collect();
        let v = eviction_victims(entries);
        assert_eq!(v.len(), 50);
        // the lowest usage are ids 951..=999 and 950 has usage 50
        let mut sorted = v.clone();
        sorted.sort();
        assert_eq!(sorted, (950..1000).collect::<Vec<_>>());
    }

    #[test]
    fn eviction_minimum_and_ties() {
        // 20 entries: 5% would be 1, the minimum is 10. Equal usage: the least recently seen go.
        let entries: Vec<_> = (0..20).map(|i| (1.0, 1000 - i as i64, i)).collect();
        let mut v = eviction_victims(entries);
        v.sort();
        assert_eq!(v, (10..20).collect::<Vec<_>>());
        assert!(eviction_victims(Vec::new()).is_empty());
        assert_eq!(eviction_victims(vec![(1.0, 0, 7)]), vec![7]);
    }

    #[test]
    fn decay_and_median() {
        assert_eq!(decayed_usage(100.0, 5), 99.0);
        assert_eq!(decayed_usage(100.0, 0), 50.0);
        assert_eq!(median_usage(vec![5.0, 1.0, 3.0]), 3.0);
        assert_eq!(median_usage(vec![]), USAGE_PER_CALL);
    }
}
