//! The shared-memory predicate store: scans, quals, join clauses and sort keys per statement
//! (see `stats::predicates` for what an entry holds).
//!
//! Same protocol as the statement store (top of `shmem/mod.rs`), with its own LWLock (the second
//! of the `pg_optimizer` tranche) and its own dynahash of `pg_optimizer.max_predicates` entries:
//! * membership under the LWLock (shared: look up, read; exclusive: insert, evict, reset); the
//!   description and expression text are written once, at insertion;
//! * counters under the entry's spinlock, held for a few dozen instructions;
//! * a backend-local direct-mapped cache of (key -> element, generation): an execution whose
//!   entries this backend has seen takes no LWLock at all; eviction and reset zero the generation
//!   under the spinlock before removal, so a stale slot misses instead of writing;
//! * lock order: the statement LWLock is never held with this one; LWLock, then one spinlock.
//!
//! Saved at clean shutdown to `pg_stat/pg_optimizer_predicates.stat`, loaded at start.

use super::table::{self, Handle, Inserted, Table};
use super::*;
use crate::stats::predicates::{
    decode, encode, PredCounters, PredDesc, PredKey, PredRecord, EXPR_BYTES,
};

#[repr(C)]
pub struct PEntry {
    head: Head<PredKey>,
    expr_len: u32,
    desc: PredDesc,
    counters: PredCounters,
    expr: [u8; EXPR_BYTES],
}

const FILE: &str = "pg_stat/pg_optimizer_predicates.stat";
const TMP: &str = "pg_stat/pg_optimizer_predicates.stat.tmp";

/// The predicate store's kind of entry: a [`PEntry`] under a [`PredKey`], named
/// `pg_optimizer predicates` in shared memory; its usage is the executions it counted.
pub struct Predicates;

unsafe impl table::Kind for Predicates {
    const NAME: &'static std::ffi::CStr = c"pg_optimizer predicates";
    type Entry = PEntry;
    type Key = PredKey;
    unsafe fn usage<'a>(e: *mut PEntry) -> (&'a mut f64, i64, i64) {
        unsafe { (&mut (*e).counters.usage, (*e).counters.executions, (*e).counters.last_seen) }
    }
}

static mut PREDICATES: Table<Predicates, 2048> = Table::unattached();

#[allow(static_mut_refs)]
#[inline]
fn predicates() -> &'static mut Table<Predicates, 2048> {
    unsafe { &mut PREDICATES }
}

pub(super) fn shmem_size() -> usize {
    table::size_of::<Predicates>(gucs::max_predicates())
}

/// Attach to (or create) the table; called from the stores' startup under the AddinShmemInitLock.
pub(super) unsafe fn attach(shared: *mut table::Shared) {
    unsafe { predicates().attach(shared) }
}

unsafe fn expr_of<'a>(e: *mut PEntry) -> &'a [u8] {
    unsafe { &(&(*e).expr)[..((*e).expr_len as usize).min(EXPR_BYTES)] }
}

/// A located entry.
pub type PHandle = Handle<Predicates>;

/// Find the entry for `key`, creating it from `make` (description and expression text, built
/// before any lock) if it does not exist. None when the store is missing or full beyond repair.
#[inline]
pub fn find_or_create(key: &PredKey, make: impl FnOnce() -> (PredDesc, Vec<u8>)) -> Option<PHandle> {
    if !available() {
        return None;
    }
    if let Some(h) = predicates().lookup(key) {
        return Some(h);
    }
    create(key, make)
}

#[cold]
fn create(key: &PredKey, make: impl FnOnce() -> (PredDesc, Vec<u8>)) -> Option<PHandle> {
    unsafe {
        let (desc, expr) = make();
        let counters = PredCounters::new(pg_sys::GetCurrentTimestamp());
        let _g = predicates().exclusive();
        insert_locked(key, &desc, &counters, &expr)
    }
}

unsafe fn insert_locked(key: &PredKey, desc: &PredDesc, counters: &PredCounters, expr: &[u8]) -> Option<PHandle> {
    unsafe {
        let expr = &expr[..expr.len().min(EXPR_BYTES)];
        match predicates().insert_locked(key, |e| {
            (*e).desc = *desc;
            (*e).counters = *counters;
            (*e).expr_len = expr.len() as u32;
            (&mut (*e).expr)[..expr.len()].copy_from_slice(expr);
        }) {
            Inserted::New(h) | Inserted::Existing(h) => Some(h),
            Inserted::Full => None,
        }
    }
}

/// Update the entry's counters under its spinlock. `f` must be a few plain stores: no calls into
/// PostgreSQL, no allocation. Returns false (and forgets the cached slot) if the entry was
/// evicted since it was found.
#[inline]
pub fn update(key: &PredKey, h: PHandle, f: impl FnOnce(&mut PredCounters)) -> bool {
    predicates().update(key, h, |e| unsafe { f(&mut (*e).counters) }).is_some()
}

// ---------------------------------------------------------------------------------------------
// Reading, resetting, persistence

/// A consistent copy of every entry `keep` accepts.
pub fn snapshot(keep: impl FnMut(&PredKey) -> bool) -> Vec<PredRecord> {
    if !available() {
        return Vec::new();
    }
    predicates().snapshot(keep, |e| unsafe { (*e).counters }, |key, e, counters| unsafe { PredRecord::new(key, (*e).desc, counters, expr_of(e)) })
}

pub struct PredInfo {
    pub capacity: usize,
    pub entries: usize,
    pub evictions: u64,
    pub stats_reset: i64,
}

pub fn info() -> Option<PredInfo> {
    let (capacity, entries, evictions, stats_reset) = predicates().info()?;
    Some(PredInfo { capacity, entries, evictions, stats_reset })
}

/// Remove the entries `matches` accepts; with `all` also restart the eviction count and reset
/// time. Returns how many were removed.
pub fn reset(all: bool, matches: impl FnMut(&PredKey) -> bool) -> usize {
    predicates().reset(all, matches)
}

/// Write the table to disk (postmaster, clean shutdown).
pub(super) fn save() {
    let records = unsafe {
        let mut v = Vec::new();
        predicates().for_each(|e| {
            if (*e).head.generation != 0 {
                v.push(PredRecord::new((*e).head.key, (*e).desc, (*e).counters, expr_of(e)));
            }
        });
        v
    };
    super::persist::write_file(FILE, TMP, &encode(&records), records.len(), "predicate");
}

/// Read the saved table (postmaster, start); a file that fails its checks is logged and ignored.
pub(super) fn load() {
    let Some(bytes) = super::persist::take_file(FILE) else { return };
    match decode(&bytes) {
        Ok(records) => {
            let loaded = predicates().fill(&records, |r| unsafe { insert_locked(&r.key, &r.desc, &r.counters, r.expr()).is_some() });
            pgrx::log!("pg_optimizer: loaded {loaded} of {} predicate entries from {FILE}", records.len());
        }
        Err(reason) => pgrx::log!("pg_optimizer: ignoring {FILE}: {reason}"),
    }
}
