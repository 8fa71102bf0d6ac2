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

use super::*;
use crate::stats::predicates::{
    decode, encode, PredCounters, PredDesc, PredKey, PredRecord, EXPR_BYTES,
};

#[repr(C)]
pub struct PEntry {
    key: PredKey,
    lock: AtomicU32,
    expr_len: u32,
    generation: u64,
    desc: PredDesc,
    counters: PredCounters,
    expr: [u8; EXPR_BYTES],
}

static mut PTAB: *mut pg_sys::HTAB = std::ptr::null_mut();

const FILE: &str = "pg_stat/pg_optimizer_predicates.stat";
const TMP: &str = "pg_stat/pg_optimizer_predicates.stat.tmp";

pub(super) fn shmem_size() -> usize {
    unsafe { pg_sys::hash_estimate_size(gucs::max_predicates() as std::ffi::c_long, std::mem::size_of::<PEntry>()) }
}

/// Attach to (or create) the table; called from the statement store's startup under the
/// AddinShmemInitLock.
pub(super) unsafe fn startup(capacity: usize) {
    unsafe {
        let mut info: pg_sys::HASHCTL = std::mem::zeroed();
        info.keysize = std::mem::size_of::<PredKey>();
        info.entrysize = std::mem::size_of::<PEntry>();
        let n = capacity as std::ffi::c_long;
        PTAB = pg_sys::ShmemInitHash(
            c"pg_optimizer predicates".as_ptr(),
            n,
            n,
            &mut info,
            (pg_sys::HASH_ELEM | pg_sys::HASH_BLOBS) as i32,
        );
    }
}

fn shared() -> LwGuard {
    unsafe { LwGuard::acquire((*HEADER).pred_lock, pg_sys::LWLockMode::LW_SHARED) }
}

fn exclusive() -> LwGuard {
    unsafe { LwGuard::acquire((*HEADER).pred_lock, pg_sys::LWLockMode::LW_EXCLUSIVE) }
}

unsafe fn expr_of<'a>(e: *mut PEntry) -> &'a [u8] {
    unsafe { &(&(*e).expr)[..((*e).expr_len as usize).min(EXPR_BYTES)] }
}

#[inline]
unsafe fn lock_of<'a>(e: *mut PEntry) -> &'a AtomicU32 {
    unsafe { &*(&raw const (*e).lock) }
}

// ---------------------------------------------------------------------------------------------
// Backend-local cache

#[derive(Clone, Copy)]
struct Slot {
    key: PredKey,
    entry: *mut PEntry,
    generation: u64,
}

const SLOTS: usize = 2048;
static mut CACHE: [Slot; SLOTS] =
    [Slot { key: PredKey { userid: 0, dbid: 0, queryid: 0, sig: 0 }, entry: std::ptr::null_mut(), generation: 0 }; SLOTS];

#[inline]
fn slot_of(k: &PredKey) -> usize {
    let h = k.sig ^ k.queryid.rotate_left(17) ^ ((k.userid as u64) << 32) ^ k.dbid as u64;
    (h ^ (h >> 31)) as usize & (SLOTS - 1)
}

#[inline]
fn cache_get(k: &PredKey) -> Option<(*mut PEntry, u64)> {
    unsafe {
        let s = &*(&raw const CACHE[slot_of(k)]);
        (s.generation != 0 && s.key == *k).then_some((s.entry, s.generation))
    }
}

#[inline]
fn cache_put(k: &PredKey, entry: *mut PEntry, generation: u64) {
    unsafe { *(&raw mut CACHE[slot_of(k)]) = Slot { key: *k, entry, generation } }
}

#[inline]
fn cache_forget(k: &PredKey) {
    unsafe {
        let s = &mut *(&raw mut CACHE[slot_of(k)]);
        if s.key == *k {
            s.generation = 0;
        }
    }
}

/// A located entry: element and the generation it had when found.
#[derive(Clone, Copy)]
pub struct Handle {
    entry: *mut PEntry,
    generation: u64,
}

/// Find the entry for `key`, creating it from `make` (description and expression text, built
/// before any lock) if it does not exist. None when the store is missing or full beyond repair.
#[inline]
pub fn find_or_create(key: &PredKey, make: impl FnOnce() -> (PredDesc, Vec<u8>)) -> Option<Handle> {
    if !available() {
        return None;
    }
    if let Some((entry, generation)) = cache_get(key) {
        return Some(Handle { entry, generation });
    }
    find_or_create_slow(key, make)
}

#[cold]
fn find_or_create_slow(key: &PredKey, make: impl FnOnce() -> (PredDesc, Vec<u8>)) -> Option<Handle> {
    unsafe {
        {
            let _g = shared();
            let e = pg_sys::hash_search(PTAB, key as *const PredKey as *const c_void, pg_sys::HASHACTION::HASH_FIND, std::ptr::null_mut()) as *mut PEntry;
            if !e.is_null() {
                let generation = {
                    let _s = Spin::lock(lock_of(e));
                    (*e).generation
                };
                if generation != 0 {
                    cache_put(key, e, generation);
                    return Some(Handle { entry: e, generation });
                }
            }
        }
        let (desc, expr) = make();
        let counters = PredCounters::new(pg_sys::GetCurrentTimestamp());
        let _g = exclusive();
        let (e, generation) = insert_locked(key, &desc, &counters, &expr);
        if e.is_null() {
            return None;
        }
        cache_put(key, e, generation);
        Some(Handle { entry: e, generation })
    }
}

unsafe fn insert_locked(key: &PredKey, desc: &PredDesc, counters: &PredCounters, expr: &[u8]) -> (*mut PEntry, u64) {
    unsafe {
        let h = &*HEADER;
        let mut found = false;
        let existing = pg_sys::hash_search(PTAB, key as *const PredKey as *const c_void, pg_sys::HASHACTION::HASH_FIND, &mut found) as *mut PEntry;
        if !existing.is_null() {
            return (existing, (*existing).generation);
        }
        while pg_sys::hash_get_num_entries(PTAB) as usize >= h.pred_capacity {
            if evict_locked() == 0 {
                break;
            }
        }
        let e = pg_sys::hash_search(PTAB, key as *const PredKey as *const c_void, pg_sys::HASHACTION::HASH_ENTER_NULL, &mut found) as *mut PEntry;
        if e.is_null() {
            return (e, 0);
        }
        let generation = h.next_generation.fetch_add(1, Ordering::Relaxed);
        let expr = &expr[..expr.len().min(EXPR_BYTES)];
        let _s = Spin::lock(lock_of(e));
        (*e).desc = *desc;
        (*e).counters = *counters;
        (*e).expr_len = expr.len() as u32;
        (&mut (*e).expr)[..expr.len()].copy_from_slice(expr);
        (*e).generation = generation;
        (e, generation)
    }
}

/// Remove the least-used ~5% (exclusive lock held). Returns how many went.
unsafe fn evict_locked() -> usize {
    unsafe {
        let mut all: Vec<(f64, i64, usize)> = Vec::with_capacity((*HEADER).pred_capacity);
        let mut ptrs: Vec<*mut PEntry> = Vec::with_capacity((*HEADER).pred_capacity);
        for_each(|e| {
            let _s = Spin::lock(lock_of(e));
            let c = &mut (*e).counters;
            c.usage *= stats::USAGE_DECAY;
            all.push((c.usage, c.last_seen, ptrs.len()));
            ptrs.push(e);
        });
        let victims = stats::eviction_victims(all);
        for &v in &victims {
            remove_locked(ptrs[v]);
        }
        (*HEADER).pred_evictions.fetch_add(victims.len() as u64, Ordering::Relaxed);
        victims.len()
    }
}

unsafe fn remove_locked(e: *mut PEntry) {
    unsafe {
        let key = {
            let _s = Spin::lock(lock_of(e));
            (*e).generation = 0;
            (*e).key
        };
        pg_sys::hash_search(PTAB, &key as *const PredKey as *const c_void, pg_sys::HASHACTION::HASH_REMOVE, std::ptr::null_mut());
    }
}

unsafe fn for_each(mut f: impl FnMut(*mut PEntry)) {
    unsafe {
        let mut status: pg_sys::HASH_SEQ_STATUS = std::mem::zeroed();
        pg_sys::hash_seq_init(&mut status, PTAB);
        loop {
            let e = pg_sys::hash_seq_search(&mut status) as *mut PEntry;
            if e.is_null() {
                break;
            }
            f(e);
        }
    }
}

/// Update the entry's counters under its spinlock. `f` must be a few plain stores: no calls into
/// PostgreSQL, no allocation. Returns false (and forgets the cached slot) if the entry was
/// evicted since it was found.
#[inline]
pub fn update(key: &PredKey, h: Handle, f: impl FnOnce(&mut PredCounters)) -> bool {
    unsafe {
        let _s = Spin::lock(lock_of(h.entry));
        if (*h.entry).generation != h.generation {
            drop(_s);
            cache_forget(key);
            return false;
        }
        f(&mut (*h.entry).counters);
        true
    }
}

// ---------------------------------------------------------------------------------------------
// Reading, resetting, persistence

/// A consistent copy of every entry `keep` accepts.
pub fn snapshot(mut keep: impl FnMut(&PredKey) -> bool) -> Vec<PredRecord> {
    let mut out = Vec::new();
    if !available() {
        return out;
    }
    unsafe {
        let _g = shared();
        for_each(|e| {
            let key = (*e).key;
            if !keep(&key) {
                return;
            }
            let (counters, generation) = {
                let _s = Spin::lock(lock_of(e));
                ((*e).counters, (*e).generation)
            };
            if generation != 0 {
                out.push(PredRecord::new(key, (*e).desc, counters, expr_of(e)));
            }
        });
    }
    out
}

pub struct PredInfo {
    pub capacity: usize,
    pub entries: usize,
    pub evictions: u64,
    pub stats_reset: i64,
}

pub fn info() -> Option<PredInfo> {
    if !available() {
        return None;
    }
    unsafe {
        let _g = shared();
        let h = &*HEADER;
        Some(PredInfo {
            capacity: h.pred_capacity,
            entries: pg_sys::hash_get_num_entries(PTAB) as usize,
            evictions: h.pred_evictions.load(Ordering::Relaxed),
            stats_reset: h.pred_reset.load(Ordering::Relaxed),
        })
    }
}

/// Remove the entries `matches` accepts; with `all` also restart the eviction count and reset
/// time. Returns how many were removed.
pub fn reset(all: bool, mut matches: impl FnMut(&PredKey) -> bool) -> usize {
    if !available() {
        return 0;
    }
    unsafe {
        let _g = exclusive();
        let mut victims = Vec::new();
        for_each(|e| {
            if matches(&(*e).key) {
                victims.push(e);
            }
        });
        for &e in &victims {
            remove_locked(e);
        }
        if all {
            (*HEADER).pred_evictions.store(0, Ordering::Relaxed);
            (*HEADER).pred_reset.store(pg_sys::GetCurrentTimestamp(), Ordering::Relaxed);
        }
        victims.len()
    }
}

/// Write the table to disk (postmaster, clean shutdown).
pub(super) fn save() {
    let records = unsafe {
        let mut v = Vec::new();
        for_each(|e| {
            if (*e).generation != 0 {
                v.push(PredRecord::new((*e).key, (*e).desc, (*e).counters, expr_of(e)));
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
            let mut loaded = 0usize;
            unsafe {
                let _g = exclusive();
                for r in &records {
                    if pg_sys::hash_get_num_entries(PTAB) as usize >= (*HEADER).pred_capacity {
                        break;
                    }
                    let (e, _) = insert_locked(&r.key, &r.desc, &r.counters, r.expr());
                    if !e.is_null() {
                        loaded += 1;
                    }
                }
            }
            pgrx::log!("pg_optimizer: loaded {loaded} of {} predicate entries from {FILE}", records.len());
        }
        Err(reason) => pgrx::log!("pg_optimizer: ignoring {FILE}: {reason}"),
    }
}
