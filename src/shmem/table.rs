//! One fixed-capacity shared-memory hash table, generic over the kind of entry it holds: the
//! statement store and the predicate store are both a `Table` (the lock protocol at the top of
//! `shmem/mod.rs` is this file's).
//!
//! A store describes its entries with [`Kind`]: the key, the entry (a `repr(C)` struct that
//! starts with a [`Head`]), the size and hash of the backend-local cache, and its eviction policy.
//! The table does the rest: lookup through the cache (no LWLock once a backend has seen an
//! entry), insertion and eviction of the least-used ~5% under the exclusive lock, counter updates
//! under the entry's spinlock with the generation check, iteration, snapshots and resets.

use super::{LwGuard, Spin};
use crate::stats;
use pgrx::pg_sys;
use std::ffi::{c_void, CStr};
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};

/// What every entry starts with. Eviction and reset set `generation` to 0 under the spinlock
/// before the element leaves the table; every new entry takes a fresh one, so a stale cache slot
/// can never write into a reused element.
#[repr(C)]
pub struct Head<K> {
    pub key: K,
    pub lock: AtomicU32,
    pub generation: u64,
}

/// A kind of entry.
///
/// # Safety
/// `Entry` must be `repr(C)` and start with a `Head<Key>`; `Key` must be valid when zeroed (its
/// bytes, hashed by dynahash and by the cache, have no padding: `IntoBytes` proves it).
pub unsafe trait Kind: 'static {
    type Key: Copy + PartialEq + zerocopy::IntoBytes + zerocopy::Immutable;
    type Entry;
    /// The dynahash's name in shared memory.
    const NAME: &'static CStr;
    /// The entry's usage score (which eviction decays, one rule for every store:
    /// `stats::decayed_usage`), its executions so far and when it was last seen. Read under the
    /// entry's spinlock.
    unsafe fn usage<'a>(e: *mut Self::Entry) -> (&'a mut f64, i64, i64);
    /// After an eviction round (exclusive lock held), with the survivors' usages.
    fn evicted(_shared: &mut Shared, _survivors: Vec<f64>) {}
    /// An entry leaves the table (exclusive lock held, its generation already 0): release what it
    /// holds outside the element.
    unsafe fn release(_e: *mut Self::Entry) {}
}

/// The table's state in shared memory (in the stores' header).
#[repr(C)]
pub struct Shared {
    lock: *mut pg_sys::LWLock,
    pub capacity: usize,
    next_generation: AtomicU64,
    evictions: AtomicU64,
    stats_reset: AtomicI64,
    /// Usage score new entries may start with (median after the last eviction). Exclusive lock.
    pub median_usage: f64,
}

impl Shared {
    pub fn new(lock: *mut pg_sys::LWLock, capacity: usize, now: i64) -> Shared {
        Shared {
            lock,
            capacity,
            next_generation: AtomicU64::new(1),
            evictions: AtomicU64::new(0),
            stats_reset: AtomicI64::new(now),
            median_usage: stats::USAGE_PER_CALL,
        }
    }
}

/// A located entry: its element and the generation it had when found.
pub struct Handle<K: Kind> {
    pub entry: *mut K::Entry,
    pub generation: u64,
}

impl<K: Kind> Clone for Handle<K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K: Kind> Copy for Handle<K> {}

struct Slot<K: Kind> {
    key: K::Key,
    entry: *mut K::Entry,
    generation: u64,
}

/// What an insertion found.
pub enum Inserted<K: Kind> {
    /// A new element, initialised.
    New(Handle<K>),
    /// The key was there already (another backend got there first); nothing initialised.
    Existing(Handle<K>),
    /// No element could be had.
    Full,
}

/// The backend's view of one table: the dynahash, its shared state, and a direct-mapped cache of
/// key -> (element, generation). Lives in a `static mut` per store, zeroed until attached.
pub struct Table<K: Kind, const N: usize> {
    htab: *mut pg_sys::HTAB,
    shared: *mut Shared,
    cache: [Slot<K>; N],
}

/// Size of a table of `capacity` entries, for the shared-memory request.
pub fn size_of<K: Kind>(capacity: usize) -> usize {
    unsafe { pg_sys::hash_estimate_size(capacity as std::ffi::c_long, std::mem::size_of::<K::Entry>()) }
}

impl<K: Kind, const N: usize> Table<K, N> {
    /// A table not yet attached (every slot empty: generation 0).
    pub const fn unattached() -> Self {
        // SAFETY: null pointers, and slots whose key is zeroed (valid, see `Kind`) and whose
        // generation 0 marks them empty.
        unsafe { std::mem::zeroed() }
    }

    /// Attach to (or create) the dynahash; called under the AddinShmemInitLock at startup.
    pub unsafe fn attach(&mut self, shared: *mut Shared) {
        unsafe {
            let mut info: pg_sys::HASHCTL = std::mem::zeroed();
            info.keysize = std::mem::size_of::<K::Key>();
            info.entrysize = std::mem::size_of::<K::Entry>();
            let n = (*shared).capacity as std::ffi::c_long;
            self.htab = pg_sys::ShmemInitHash(K::NAME.as_ptr(), n, n, &mut info, (pg_sys::HASH_ELEM | pg_sys::HASH_BLOBS) as i32);
            self.shared = shared;
        }
    }

    #[inline]
    pub fn available(&self) -> bool {
        !self.shared.is_null()
    }

    #[inline]
    fn head(e: *mut K::Entry) -> *mut Head<K::Key> {
        e as *mut Head<K::Key>
    }

    /// The spinlock of an element.
    #[inline]
    pub(crate) unsafe fn spin<'a>(e: *mut K::Entry) -> Spin<'a> {
        unsafe { Spin::lock(&*(&raw const (*Self::head(e)).lock)) }
    }

    pub(crate) fn shared(&self) -> LwGuard {
        unsafe { LwGuard::acquire((*self.shared).lock, pg_sys::LWLockMode::LW_SHARED) }
    }

    pub(crate) fn exclusive(&self) -> LwGuard {
        unsafe { LwGuard::acquire((*self.shared).lock, pg_sys::LWLockMode::LW_EXCLUSIVE) }
    }

    /// The shared state (median usage, capacity); exclusive lock for writes.
    pub unsafe fn state(&self) -> &mut Shared {
        unsafe { &mut *self.shared }
    }

    // -----------------------------------------------------------------------------------------
    // The backend-local cache

    /// The cache slot of a key: its words folded (`hash::fold64`, the hot path's cheapest mix).
    #[inline]
    fn slot(key: &K::Key) -> usize {
        pg_optimizer_core::hash::fold64(zerocopy::IntoBytes::as_bytes(key)) as usize & (N - 1)
    }

    #[inline]
    pub fn cached(&self, key: &K::Key) -> Option<Handle<K>> {
        let s = &self.cache[Self::slot(key)];
        (s.generation != 0 && s.key == *key).then_some(Handle { entry: s.entry, generation: s.generation })
    }

    #[inline]
    fn remember(&mut self, key: &K::Key, h: Handle<K>) {
        self.cache[Self::slot(key)] = Slot { key: *key, entry: h.entry, generation: h.generation };
    }

    #[inline]
    pub fn forget(&mut self, key: &K::Key) {
        let s = &mut self.cache[Self::slot(key)];
        if s.key == *key {
            s.generation = 0;
        }
    }

    // -----------------------------------------------------------------------------------------
    // Lookup, insertion, eviction, removal

    /// The entry for `key`, from the cache or under the shared lock (then cached).
    #[inline]
    pub fn lookup(&mut self, key: &K::Key) -> Option<Handle<K>> {
        if let Some(h) = self.cached(key) {
            return Some(h);
        }
        self.lookup_shared(key)
    }

    #[cold]
    fn lookup_shared(&mut self, key: &K::Key) -> Option<Handle<K>> {
        unsafe {
            let _g = self.shared();
            let e = pg_sys::hash_search(self.htab, key as *const K::Key as *const c_void, pg_sys::HASHACTION::HASH_FIND, std::ptr::null_mut())
                as *mut K::Entry;
            if e.is_null() {
                return None;
            }
            let generation = {
                let _s = Self::spin(e);
                (*Self::head(e)).generation
            };
            (generation != 0).then(|| {
                let h = Handle { entry: e, generation };
                self.remember(key, h);
                h
            })
        }
    }

    /// Insert `key` (exclusive lock held): evict first if full, then `init` the new element under
    /// its spinlock (plain stores only) and give it a fresh generation. A new or existing entry
    /// is cached.
    pub unsafe fn insert_locked(&mut self, key: &K::Key, init: impl FnOnce(*mut K::Entry)) -> Inserted<K> {
        unsafe {
            let mut found = false;
            let k = key as *const K::Key as *const c_void;
            let existing = pg_sys::hash_search(self.htab, k, pg_sys::HASHACTION::HASH_FIND, &mut found) as *mut K::Entry;
            if !existing.is_null() {
                let h = Handle { entry: existing, generation: (*Self::head(existing)).generation };
                self.remember(key, h);
                return Inserted::Existing(h);
            }
            while pg_sys::hash_get_num_entries(self.htab) as usize >= (*self.shared).capacity {
                if self.evict_locked() == 0 {
                    break;
                }
            }
            let e = pg_sys::hash_search(self.htab, k, pg_sys::HASHACTION::HASH_ENTER_NULL, &mut found) as *mut K::Entry;
            if e.is_null() {
                return Inserted::Full;
            }
            let generation = (*self.shared).next_generation.fetch_add(1, Ordering::Relaxed);
            let _s = Self::spin(e);
            init(e);
            (*Self::head(e)).generation = generation;
            let h = Handle { entry: e, generation };
            self.remember(key, h);
            Inserted::New(h)
        }
    }

    /// Remove the least-used ~5% (exclusive lock held). Returns how many went.
    pub unsafe fn evict_locked(&mut self) -> usize {
        unsafe {
            let capacity = (*self.shared).capacity;
            let mut all: Vec<(f64, i64, usize)> = Vec::with_capacity(capacity);
            let mut ptrs: Vec<*mut K::Entry> = Vec::with_capacity(capacity);
            self.for_each(|e| {
                let _s = Self::spin(e);
                let (score, executions, last_seen) = K::usage(e);
                *score = stats::decayed_usage(*score, executions);
                all.push((*score, last_seen, ptrs.len()));
                ptrs.push(e);
            });
            let victims = stats::eviction_victims(all.clone());
            let mut removed = vec![false; ptrs.len()];
            for &v in &victims {
                removed[v] = true;
                self.remove_locked(ptrs[v]);
            }
            K::evicted(&mut *self.shared, all.iter().filter(|a| !removed[a.2]).map(|a| a.0).collect());
            (*self.shared).evictions.fetch_add(victims.len() as u64, Ordering::Relaxed);
            victims.len()
        }
    }

    /// Invalidate and remove one element (exclusive lock held).
    pub unsafe fn remove_locked(&mut self, e: *mut K::Entry) {
        unsafe {
            let key = {
                let _s = Self::spin(e);
                (*Self::head(e)).generation = 0;
                (*Self::head(e)).key
            };
            K::release(e);
            pg_sys::hash_search(self.htab, &key as *const K::Key as *const c_void, pg_sys::HASHACTION::HASH_REMOVE, std::ptr::null_mut());
        }
    }

    /// Visit every element (caller holds the LWLock in some mode).
    pub unsafe fn for_each(&self, mut f: impl FnMut(*mut K::Entry)) {
        unsafe {
            let mut status: pg_sys::HASH_SEQ_STATUS = std::mem::zeroed();
            pg_sys::hash_seq_init(&mut status, self.htab);
            loop {
                let e = pg_sys::hash_seq_search(&mut status) as *mut K::Entry;
                if e.is_null() {
                    break;
                }
                f(e);
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Updating, reading, resetting

    /// Run `f` on a located entry under its spinlock (plain stores only: no call into
    /// PostgreSQL, no allocation). False, and the cache slot forgotten, if the entry was evicted
    /// since it was found.
    #[inline]
    pub fn update<R>(&mut self, key: &K::Key, h: Handle<K>, f: impl FnOnce(*mut K::Entry) -> R) -> Option<R> {
        unsafe {
            let s = Self::spin(h.entry);
            if (*Self::head(h.entry)).generation != h.generation {
                drop(s);
                self.forget(key);
                return None;
            }
            Some(f(h.entry))
        }
    }

    /// Copy out every live entry `keep` accepts (shared lock): `copy` reads an element under its
    /// spinlock (plain loads only) and may finish outside it with `finish` (the lock held still
    /// keeps the element in place).
    pub fn snapshot<C, T>(&self, mut keep: impl FnMut(&K::Key) -> bool, copy: impl Fn(*mut K::Entry) -> C, mut finish: impl FnMut(K::Key, *mut K::Entry, C) -> T) -> Vec<T> {
        let mut out = Vec::new();
        if !self.available() {
            return out;
        }
        unsafe {
            let _g = self.shared();
            self.for_each(|e| {
                let key = (*Self::head(e)).key;
                if !keep(&key) {
                    return;
                }
                let (copied, generation) = {
                    let _s = Self::spin(e);
                    (copy(e), (*Self::head(e)).generation)
                };
                if generation != 0 {
                    out.push(finish(key, e, copied));
                }
            });
        }
        out
    }

    /// Remove the entries `matches` accepts; with `all`, also restart the eviction count, the
    /// reset time and the median usage. Returns how many were removed.
    pub fn reset(&mut self, all: bool, mut matches: impl FnMut(&K::Key) -> bool) -> usize {
        if !self.available() {
            return 0;
        }
        unsafe {
            let _g = self.exclusive();
            let mut victims = Vec::new();
            self.for_each(|e| {
                if matches(&(*Self::head(e)).key) {
                    victims.push(e);
                }
            });
            for &e in &victims {
                self.remove_locked(e);
            }
            if all {
                let s = &mut *self.shared;
                s.evictions.store(0, Ordering::Relaxed);
                s.stats_reset.store(pg_sys::GetCurrentTimestamp(), Ordering::Relaxed);
                s.median_usage = stats::USAGE_PER_CALL;
            }
            victims.len()
        }
    }

    /// (capacity, entries, evictions since the last full reset, time of that reset).
    pub fn info(&self) -> Option<(usize, usize, u64, i64)> {
        if !self.available() {
            return None;
        }
        unsafe {
            let _g = self.shared();
            let s = &*self.shared;
            Some((
                s.capacity,
                pg_sys::hash_get_num_entries(self.htab) as usize,
                s.evictions.load(Ordering::Relaxed),
                s.stats_reset.load(Ordering::Relaxed),
            ))
        }
    }

    /// Insert saved entries at start (postmaster, exclusive lock taken here), up to the capacity;
    /// `insert` returns whether it added one. Returns how many were added.
    pub fn fill<R>(&mut self, records: &[R], mut insert: impl FnMut(&R) -> bool) -> usize {
        unsafe {
            let _g = self.exclusive();
            let mut added = 0;
            for r in records {
                if pg_sys::hash_get_num_entries(self.htab) as usize >= (*self.shared).capacity {
                    break;
                }
                added += insert(r) as usize;
            }
            added
        }
    }
}
