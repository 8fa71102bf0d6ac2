//! Predicate, join, sort-key and scan statistics as plain data (no `pg_sys`): what one entry of
//! the predicate store describes ([`PredDesc`]), what it counts ([`PredCounters`]), its signature,
//! the estimate-error arithmetic, the constant-sample reservoir and the on-disk dump.
//!
//! One store holds four kinds of entry, all keyed by (userid, dbid, queryid, signature):
//! * `Scan`: one per scan or join node shape: estimated vs actual rows (misestimates);
//! * `Qual`: one per qual of a scan (or a single-relation qual evaluated at a join);
//! * `Join`: one per join clause, both sides' columns;
//! * `Sort`: one per sort key of a Sort / IncrementalSort node.
//!
//! The signature is a hash of the [`PredDesc`] bytes: relation, columns, operator, where the qual
//! ran and the class of its other side, never constant values, so a statement's custom and generic
//! plans, and every constant a query is run with, share one entry.

pub use crate::hash::hash64;

/// Hash key. Every byte is a named field, so keys hash and compare as bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash, zerocopy::IntoBytes, zerocopy::FromBytes, zerocopy::Immutable, zerocopy::KnownLayout)]
pub struct PredKey {
    pub userid: u32,
    pub dbid: u32,
    pub queryid: u64,
    pub sig: u64,
}

/// Which kind of entry.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Scan = 1,
    Qual = 2,
    Join = 3,
    Sort = 4,
}

/// Where a qual ran.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    None = 0,
    Filter = 1,
    IndexCond = 2,
    JoinFilter = 3,
    HashCond = 4,
    MergeCond = 5,
    TidCond = 6,
    Remote = 7,
    /// `col = $n` inside the inner side of a nested loop: the join clause ran as an index
    /// condition (or filter) of a parameterised scan.
    NestLoopIndexCond = 8,
    NestLoopFilter = 9,
}

/// The shape of the qual.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    None = 0,
    /// `col op x`
    Op = 1,
    /// `col op ANY(array)`, `col IN (...)`
    Any = 2,
    /// `col op ALL(array)`, `col NOT IN (...)`
    All = 3,
    IsNull = 4,
    IsNotNull = 5,
    IsTrue = 6,
    IsNotTrue = 7,
    IsFalse = 8,
    IsNotFalse = 9,
    IsUnknown = 10,
    IsNotUnknown = 11,
    /// A bare boolean column (`WHERE flag`); `WHERE NOT flag` is this, negated.
    BoolColumn = 12,
    /// Anything else that mentions columns of one relation (a function call, a row comparison).
    Other = 13,
}

/// What the other side of the qual is.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rhs {
    None = 0,
    /// A constant or a bind parameter: a value known when the statement starts.
    Value = 1,
    /// A column of the same relation.
    Column = 2,
    /// A column of another relation (join).
    JoinColumn = 3,
    /// Computed at run time (a sub-select, an expression over other nodes' output).
    Computed = 4,
}

/// The plan node the entry comes from.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    Other = 0,
    SeqScan = 1,
    IndexScan = 2,
    IndexOnlyScan = 3,
    BitmapIndexScan = 4,
    BitmapHeapScan = 5,
    TidScan = 6,
    TidRangeScan = 7,
    ForeignScan = 8,
    CustomScan = 9,
    SampleScan = 10,
    NestLoop = 11,
    HashJoin = 12,
    MergeJoin = 13,
    Sort = 14,
    IncrementalSort = 15,
}

pub const F_NEGATED: u8 = 1;
/// The column was on the right of the operator as written (`5 < col`).
pub const F_COMMUTED: u8 = 2;
/// The column side is an expression over the columns listed (`lower(email)`).
pub const F_EXPR: u8 = 4;
/// Part of an OR: `or_group` identifies the OR.
pub const F_OR_MEMBER: u8 = 8;
/// Sort key: a LIMIT sat above the sort.
pub const F_UNDER_LIMIT: u8 = 16;
/// Sort key: NULLS FIRST.
pub const F_NULLS_FIRST: u8 = 32;
/// The scanned relation is a partition of `root_relid`.
pub const F_PARTITION: u8 = 64;
/// Sort key: already sorted on arrival (IncrementalSort's presorted prefix).
pub const F_PRESORTED: u8 = 128;

/// Maximum columns kept per side.
pub const MAX_COLS: usize = 4;

/// What one entry is. Fixed when the entry is created; the signature is its hash.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, zerocopy::IntoBytes, zerocopy::FromBytes, zerocopy::Immutable, zerocopy::KnownLayout)]
pub struct PredDesc {
    pub kind: u8,
    pub place: u8,
    pub op_kind: u8,
    pub rhs: u8,
    pub node: u8,
    pub flags: u8,
    /// Sort-key position (1-based); for quals, the number of list elements is a counter instead.
    pub position: u16,
    /// The relation scanned (a partition when the table is partitioned).
    pub relid: u32,
    /// The partitioned table at the top of the partition tree, else `relid`.
    pub root_relid: u32,
    /// Column numbers in `root_relid` (0 = unused slot; negative = system column).
    pub attnums: [i16; MAX_COLS],
    /// The operator as it ran (for a sort key: the sort operator). Commuted so that the column
    /// is on its left when PostgreSQL knows a commutator; see `F_COMMUTED`.
    pub opno: u32,
    /// For a join clause or a column-to-column qual: the other side.
    pub rhs_relid: u32,
    pub rhs_attnums: [i16; MAX_COLS],
    /// The index used by an index scan.
    pub indexid: u32,
    pub collation: u32,
    /// Identifies the OR a qual belongs to (with `F_OR_MEMBER`), else 0.
    pub or_group: u32,
    _pad: u32,
    /// The signature of the node's `Scan` entry (links quals to their scan).
    pub node_sig: u64,
    /// Hash of the column-side expression when `F_EXPR` (so two expressions over the same
    /// columns stay apart).
    pub expr_hash: u64,
}

impl PredDesc {
    pub fn new(kind: Kind, node: NodeKind) -> PredDesc {
        PredDesc { kind: kind as u8, node: node as u8, ..Default::default() }
    }

    fn bytes(&self) -> &[u8] {
        // Every byte is a field (explicit padding; the IntoBytes derive proves it).
        zerocopy::IntoBytes::as_bytes(self)
    }

    /// The signature: a 64-bit hash of every field.
    pub fn signature(&self) -> u64 {
        hash64(self.bytes())
    }

    /// Column numbers in use.
    pub fn columns(&self) -> impl Iterator<Item = i16> + '_ {
        self.attnums.iter().copied().take_while(|a| *a != 0)
    }

    pub fn rhs_columns(&self) -> impl Iterator<Item = i16> + '_ {
        self.rhs_attnums.iter().copied().take_while(|a| *a != 0)
    }
}

/// Column list from an iterator of attnums: the first `MAX_COLS` distinct ones, in order met.
pub fn column_set(attnums: impl IntoIterator<Item = i16>) -> [i16; MAX_COLS] {
    let mut out = [0i16; MAX_COLS];
    let mut n = 0;
    for a in attnums {
        if a == 0 || out[..n].contains(&a) {
            continue;
        }
        if n == MAX_COLS {
            break;
        }
        out[n] = a;
        n += 1;
    }
    out
}

/// Combine hashes (order matters).
pub fn hash_combine(a: u64, b: u64) -> u64 {
    hash64(&[a.to_le_bytes(), b.to_le_bytes()].concat())
}

/// The executed node's counters, for one execution.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NodeObs {
    /// Rows the node returned, all loops.
    pub rows: f64,
    /// Times the node was started (0: never executed).
    pub loops: f64,
    /// Rows removed by the node's filter (`nfiltered1`).
    pub removed: f64,
    /// Rows removed by an index recheck or a join's WHERE filter (`nfiltered2`).
    pub rechecked: f64,
    /// The planner's estimate of rows per loop.
    pub plan_rows: f64,
    /// Whether the counters above are real (the node was instrumented).
    pub counted: bool,
}

/// Ratio at which an estimate counts as a misestimate.
pub const MISESTIMATE_FACTOR: f64 = 10.0;

/// The q-error of an estimate: `max(e/a, a/e)` with both sides at least 1 row, so 1 is exact and
/// 10 means ten times off in either direction. None when the node never ran.
pub fn q_error(plan_rows: f64, rows: f64, loops: f64) -> Option<f64> {
    if loops <= 0.0 {
        return None;
    }
    let est = plan_rows.max(1.0);
    let act = (rows / loops).max(1.0);
    Some(if est > act { est / act } else { act / est })
}

/// Bytes of a constant kept per sample.
pub const SAMPLE_BYTES: usize = 32;
/// Samples kept per entry.
pub const SAMPLES: usize = 4;

/// One constant (or bound parameter) a qual ran with, as raw datum bytes: rendered to text with
/// the type's output function when read.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, zerocopy::IntoBytes, zerocopy::FromBytes, zerocopy::Immutable, zerocopy::KnownLayout)]
pub struct ConstSample {
    pub typid: u32,
    pub len: u16,
    pub byval: u8,
    pub isnull: u8,
    pub data: [u8; SAMPLE_BYTES],
}

/// Everything counted for one entry.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Default, zerocopy::IntoBytes, zerocopy::FromBytes, zerocopy::Immutable, zerocopy::KnownLayout)]
pub struct PredCounters {
    /// Executions of a statement in which this entry's node ran (or was at least started).
    pub executions: i64,
    /// Executions where the node was instrumented (the row figures below cover these).
    pub counted: i64,
    pub loops: f64,
    pub rows: f64,
    pub removed: f64,
    pub rechecked: f64,
    /// Sum over counted executions of `plan_rows * loops`.
    pub est_rows: f64,
    /// q-error statistics over counted executions that ran the node.
    pub qerr_n: i64,
    pub qerr_log_sum: f64,
    pub qerr_max: f64,
    pub qerr_min: f64,
    /// Executions whose q-error reached [`MISESTIMATE_FACTOR`].
    pub misestimated: i64,
    /// Executions where the other side was a constant / a bind parameter.
    pub n_const: i64,
    pub n_param: i64,
    /// Sum of IN-list / array lengths (over executions where it was known), and how many.
    pub list_len_sum: f64,
    pub list_n: i64,
    /// Sort keys: executions under a LIMIT, and the sum of the bounds used.
    pub limit_n: i64,
    pub limit_sum: f64,
    pub first_seen: i64,
    pub last_seen: i64,
    /// Eviction credit.
    pub usage: f64,
    pub samples_seen: i64,
    pub samples: [ConstSample; SAMPLES],
}

impl PredCounters {
    pub fn new(now: i64) -> Self {
        PredCounters { first_seen: now, last_seen: now, ..Default::default() }
    }

    /// Add one execution of the node.
    #[inline]
    pub fn record(&mut self, o: &NodeObs, now: i64) {
        self.executions += 1;
        self.usage += 1.0;
        if now > self.last_seen {
            self.last_seen = now;
        }
        if !o.counted {
            return;
        }
        self.counted += 1;
        self.loops += o.loops;
        self.rows += o.rows;
        self.removed += o.removed;
        self.rechecked += o.rechecked;
        self.est_rows += o.plan_rows * o.loops;
        if let Some(q) = q_error(o.plan_rows, o.rows, o.loops) {
            if self.qerr_n == 0 || q < self.qerr_min {
                self.qerr_min = q;
            }
            if q > self.qerr_max {
                self.qerr_max = q;
            }
            self.qerr_n += 1;
            self.qerr_log_sum += q.ln();
            if q >= MISESTIMATE_FACTOR {
                self.misestimated += 1;
            }
        }
    }

    /// Geometric mean of the q-error.
    pub fn qerr_mean(&self) -> Option<f64> {
        (self.qerr_n > 0).then(|| (self.qerr_log_sum / self.qerr_n as f64).exp())
    }

    /// Offer a sample to the reservoir; `random` is a uniformly random number. Each value seen
    /// has the same chance, `SAMPLES / seen`, of being kept.
    #[inline]
    pub fn offer_sample(&mut self, s: &ConstSample, random: u64) {
        self.samples_seen += 1;
        let seen = self.samples_seen as u64;
        if seen <= SAMPLES as u64 {
            self.samples[(seen - 1) as usize] = *s;
        } else {
            let j = random % seen;
            if j < SAMPLES as u64 {
                self.samples[j as usize] = *s;
            }
        }
    }

    /// The samples held.
    pub fn held_samples(&self) -> &[ConstSample] {
        &self.samples[..(self.samples_seen.max(0) as usize).min(SAMPLES)]
    }
}

// ---------------------------------------------------------------------------------------------
// Dump format

/// The frame of `stats::dump` (magic `PGOPTPRD`, the layout size is the record's); each record
/// is the raw `repr(C)` bytes of a [`PredRecord`] (key, desc, counters, expression text).
pub const MAGIC: &[u8; 8] = b"PGOPTPRD";
pub const VERSION: u32 = 1;
/// Bytes of deparsed expression text kept per entry.
pub const EXPR_BYTES: usize = 120;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, zerocopy::IntoBytes, zerocopy::FromBytes, zerocopy::Immutable, zerocopy::KnownLayout)]
pub struct PredRecord {
    pub key: PredKey,
    pub desc: PredDesc,
    pub counters: PredCounters,
    pub expr_len: u32,
    pub expr: [u8; EXPR_BYTES],
    _pad: [u8; 4],
}

impl PredRecord {
    pub fn new(key: PredKey, desc: PredDesc, counters: PredCounters, expr: &[u8]) -> PredRecord {
        let mut r = PredRecord { key, desc, counters, expr_len: 0, expr: [0; EXPR_BYTES], _pad: [0; 4] };
        let n = expr.len().min(EXPR_BYTES);
        r.expr[..n].copy_from_slice(&expr[..n]);
        r.expr_len = n as u32;
        r
    }

    pub fn expr(&self) -> &[u8] {
        &self.expr[..(self.expr_len as usize).min(EXPR_BYTES)]
    }
}

const RECORD_SIZE: usize = std::mem::size_of::<PredRecord>();

pub fn encode(records: &[PredRecord]) -> Vec<u8> {
    let mut out = super::dump::begin(MAGIC, VERSION, RECORD_SIZE, records.len() * RECORD_SIZE);
    for r in records {
        out.extend_from_slice(zerocopy::IntoBytes::as_bytes(r));
    }
    super::dump::finish(out, records.len() as u64)
}

pub fn decode(bytes: &[u8]) -> Result<Vec<PredRecord>, String> {
    let super::dump::Opened { count, mut records, .. } = super::dump::open(bytes, MAGIC, &[VERSION], RECORD_SIZE)?;
    let count = count as usize;
    if records.remaining() != count.checked_mul(RECORD_SIZE).ok_or("bad count")? {
        return Err(format!("{} bytes of records for a count of {count}", records.remaining()));
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let chunk = records.take(RECORD_SIZE)?;
        // Any bit pattern is a valid record (the FromBytes derive proves it).
        let mut r = <PredRecord as zerocopy::FromBytes>::read_from_bytes(chunk).map_err(|_| "bad record".to_string())?;
        r.expr_len = r.expr_len.min(EXPR_BYTES as u32);
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::hash::hash64;
use super::*;

    fn qual(attnum: i16, opno: u32) -> PredDesc {
        let mut d = PredDesc::new(Kind::Qual, NodeKind::SeqScan);
        d.relid = 16384;
        d.root_relid = 16384;
        d.attnums = column_set([attnum]);
        d.opno = opno;
        d.place = Place::Filter as u8;
        d.op_kind = OpKind::Op as u8;
        d.rhs = Rhs::Value as u8;
        d
    }

    #[test]
    fn signature_depends_on_every_descriptive_field_only() {
        let a = qual(1, 96);
        assert_eq!(a.signature(), qual(1, 96).signature());
        assert_ne!(a.signature(), qual(2, 96).signature());
        assert_ne!(a.signature(), qual(1, 97).signature());
        let mut b = a;
        b.place = Place::IndexCond as u8;
        assert_ne!(a.signature(), b.signature());
        let mut c = a;
        c.flags |= F_NEGATED;
        assert_ne!(a.signature(), c.signature());
        let mut d = a;
        d.node_sig = 1;
        assert_ne!(a.signature(), d.signature());
    }

    #[test]
    fn hash_spreads_small_differences() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..10_000u32 {
            assert!(seen.insert(hash64(&i.to_le_bytes())));
        }
        assert_ne!(hash64(b""), hash64(&[0]));
        assert_ne!(hash_combine(1, 2), hash_combine(2, 1));
    }

    #[test]
    fn column_sets_are_distinct_bounded_and_ordered() {
        assert_eq!(column_set([3, 1, 3, 0, 2]), [3, 1, 2, 0]);
        assert_eq!(column_set([1, 2, 3, 4, 5, 6]), [1, 2, 3, 4]);
        assert_eq!(column_set([-1]), [-1, 0, 0, 0]);
        let d = qual(5, 96);
        assert_eq!(d.columns().collect::<Vec<_>>(), vec![5]);
    }

    #[test]
    fn q_error_is_symmetric_and_clamped() {
        assert_eq!(q_error(10.0, 100.0, 1.0), Some(10.0));
        assert_eq!(q_error(100.0, 10.0, 1.0), Some(10.0));
        assert_eq!(q_error(0.0, 0.0, 1.0), Some(1.0));
        assert_eq!(q_error(1.0, 50.0, 10.0), Some(5.0)); // per loop
        assert_eq!(q_error(5.0, 0.0, 0.0), None); // never ran
    }

    #[test]
    fn counters_accumulate_and_flag_misestimates() {
        let mut c = PredCounters::new(100);
        c.record(&NodeObs { rows: 1000.0, loops: 1.0, removed: 5.0, rechecked: 0.0, plan_rows: 10.0, counted: true }, 200);
        c.record(&NodeObs { rows: 10.0, loops: 1.0, removed: 0.0, rechecked: 1.0, plan_rows: 10.0, counted: true }, 150);
        c.record(&NodeObs { counted: false, ..Default::default() }, 300);
        assert_eq!((c.executions, c.counted), (3, 2));
        assert_eq!((c.rows, c.removed, c.rechecked, c.est_rows), (1010.0, 5.0, 1.0, 20.0));
        assert_eq!((c.qerr_n, c.misestimated, c.qerr_max, c.qerr_min), (2, 1, 100.0, 1.0));
        assert!((c.qerr_mean().unwrap() - 10.0).abs() < 1e-9);
        assert_eq!((c.first_seen, c.last_seen), (100, 300));
    }

    #[test]
    fn reservoir_keeps_the_first_then_a_uniform_sample() {
        let mut c = PredCounters::new(0);
        let s = |v: u8| ConstSample { typid: 23, len: 4, byval: 1, isnull: 0, data: [v; SAMPLE_BYTES] };
        for v in 0..3 {
            c.offer_sample(&s(v), 0);
        }
        assert_eq!(c.held_samples().len(), 3);
        // Uniformity: over many streams of 40 values, each value is kept about 4/40 of the time.
        let mut kept = [0u32; 40];
        let mut rng = 12345u64;
        for _ in 0..20_000 {
            let mut c = PredCounters::new(0);
            for v in 0..40u8 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                c.offer_sample(&s(v), rng);
            }
            for h in c.held_samples() {
                kept[h.data[0] as usize] += 1;
            }
        }
        for k in kept {
            let share = k as f64 / 20_000.0;
            assert!((share - 0.1).abs() < 0.02, "share {share}");
        }
    }

    #[test]
    fn dump_roundtrips_and_detects_damage() {
        let mut c = PredCounters::new(7);
        c.record(&NodeObs { rows: 3.0, loops: 1.0, plan_rows: 2.0, counted: true, ..Default::default() }, 9);
        let recs = vec![
            PredRecord::new(PredKey { userid: 10, dbid: 5, queryid: 42, sig: qual(1, 96).signature() }, qual(1, 96), c, b"lower(email)"),
            PredRecord::new(PredKey { userid: 10, dbid: 5, queryid: 43, sig: 1 }, qual(2, 97), PredCounters::new(1), b""),
        ];
        let bytes = encode(&recs);
        assert_eq!(decode(&bytes).unwrap(), recs);
        assert_eq!(decode(&bytes).unwrap()[0].expr(), b"lower(email)");
        for i in (0..bytes.len()).step_by(7) {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            assert!(decode(&bad).is_err(), "flip at {i} not detected");
        }
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode(&[]).is_err());
        assert_eq!(decode(&encode(&[])).unwrap(), vec![]);
    }
}
