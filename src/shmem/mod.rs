//! The shared-memory stores: statements (here) and predicates (`predicates`), each a
//! [`table::Table`] (one generic table: lookup, cache, insertion, eviction, snapshots, resets),
//! and the text arena of the statements.
//!
//! # Layout
//! A small [`Header`] (`ShmemInitStruct`) with each table's shared state, a dynahash table
//! (`ShmemInitHash`) of `pg_optimizer.max_statements` fixed-size [`Entry`]s (and one of
//! `pg_optimizer.max_predicates` predicate entries), and the text arena: one region of
//! `pg_optimizer.text_memory` bytes holding every normalised query text and every example, of any
//! length up to `pg_optimizer.max_text_bytes` each. An entry holds a [`Span`] (offset, length, cut
//! or not) for each, and the server encoding its texts are in. Dynahash never moves or frees an
//! element's memory, so a pointer to an element stays a valid address for the life of the server;
//! whether it still holds the same statement is what the generation number says.
//!
//! # The text arena
//! Texts are appended at the arena's top (a lock-free bump of an atomic offset, by a backend
//! holding the LWLock in either mode) and never change once written. A text that is replaced (a
//! slower example) or whose entry goes becomes garbage; when an append does not fit, the arena is
//! compacted under the exclusive LWLock (live texts slid down in offset order, spans rewritten).
//! Nobody reads a text without holding the LWLock, so nobody sees one move. If a text still does
//! not fit after compaction (and, for a new entry, after an eviction round), it is cut to the room
//! left and flagged; the advisor never plans a cut text.
//!
//! # Lock protocol (both tables; implemented once, in `table`)
//! * One named LWLock per table (tranche `pg_optimizer`) guards the table's *membership*: shared to look up
//!   or read, exclusive to insert, evict or reset. Query texts are written once, at insertion,
//!   under the exclusive lock, and are immutable afterwards.
//! * Each entry has its own spinlock guarding its counters, generation and example. It is held for
//!   a few dozen instructions: no call into PostgreSQL, no allocation, nothing that can fail.
//! * The hot path (a statement whose entry this backend has seen before) takes **no LWLock**: a
//!   backend-local direct-mapped cache maps the key to (element pointer, generation); under the
//!   entry spinlock the generation is compared and the counters updated. Eviction and reset set an
//!   element's generation to 0 under its spinlock (while holding the exclusive LWLock) before
//!   removing it, and every new entry takes a fresh generation from the header, so a stale cache
//!   slot can never write into a reused element: it misses and takes the slow path.
//! * Slow path (first sight in this backend, or a cache miss): shared LWLock + hash lookup; if
//!   absent, exclusive LWLock, evict the least-used ~5% if full, insert. Texts are normalised and
//!   clipped *before* any lock is taken.
//! * A new slowest execution stores its example under the shared LWLock: append to the arena,
//!   copy, then publish the span under the entry spinlock (or leave it as garbage if a slower one
//!   got there first). Only when the arena is full does it take the exclusive LWLock to compact.
//! * Lock order: LWLock, then at most one entry spinlock. Never the reverse. The two tables'
//!   LWLocks are never held together.
//!
//! # Persistence
//! The postmaster writes each table to `pg_stat/` at clean shutdown and reads it back at start
//! (see `persist`; both files share the frame of `stats::dump`); a file that fails its checks is
//! logged and ignored.

pub mod persist;
pub mod predicates;
pub mod table;
pub mod workers;

use crate::gucs;
use crate::stats::{self, Counters, Usage};
use pgrx::pg_sys;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use table::{Handle, Head, Inserted, Table};

/// Hash key. Every byte is a named field (no implicit padding: the IntoBytes derive proves it), so
/// keys compare and hash as bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, zerocopy::IntoBytes, zerocopy::Immutable)]
pub struct Key {
    pub userid: u32,
    pub dbid: u32,
    pub queryid: u64,
    pub toplevel: bool,
    _pad: [u8; 7],
}

impl Key {
    #[inline]
    pub fn new(userid: pg_sys::Oid, dbid: pg_sys::Oid, queryid: u64, toplevel: bool) -> Key {
        Key { userid: userid.to_u32(), dbid: dbid.to_u32(), queryid, toplevel, _pad: [0; 7] }
    }
}

/// Where one text lives in the arena.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Span {
    off: u64,
    len: u32,
    /// The text was longer than the limit (or than the room in the arena) and was cut.
    truncated: bool,
    _pad: [u8; 3],
}

impl Span {
    const EMPTY: Span = Span { off: 0, len: 0, truncated: false, _pad: [0; 3] };
}

#[repr(C)]
pub struct Entry {
    head: Head<Key>,
    /// The server encoding of the database the texts came from (`pg_enc`).
    encoding: i32,
    counters: Counters,
    text: Span,
    /// Guarded by the entry spinlock (a slower execution replaces it).
    example: Span,
    example_stmt_len: u32,
}

#[repr(C)]
struct Header {
    /// The statement table (lock, capacity, generations, evictions, reset time, median usage).
    statements: table::Shared,
    /// The predicate table (see `predicates`).
    predicates: table::Shared,
    /// Bumped on CREATE/ALTER/DROP EXTENSION so backends re-check whether their database is watched.
    extension_epoch: AtomicU64,
    max_text: usize,
    /// The text arena: start, size, first free byte (bumped atomically under the LWLock in any
    /// mode; reset only under the exclusive lock), bytes of dead texts, compactions so far.
    arena: *mut u8,
    arena_size: usize,
    arena_top: AtomicU64,
    arena_garbage: AtomicU64,
    compactions: AtomicU64,
}

static mut HEADER: *mut Header = std::ptr::null_mut();

/// The statement entries, as a [`table::Kind`].
pub struct Statements;

unsafe impl table::Kind for Statements {
    type Key = Key;
    type Entry = Entry;
    const NAME: &'static std::ffi::CStr = c"pg_optimizer statements";
    unsafe fn usage<'a>(e: *mut Entry) -> (&'a mut f64, i64, i64) {
        let c = unsafe { &mut (*e).counters };
        let (calls, last_seen) = (c.calls(), c.last_seen);
        (&mut c.usage_score, calls, last_seen)
    }
    fn evicted(shared: &mut table::Shared, survivors: Vec<f64>) {
        shared.median_usage = stats::median_usage(survivors);
    }
    unsafe fn release(e: *mut Entry) {
        unsafe {
            let (text, example) = {
                let _s = Table::<Statements, 1024>::spin(e);
                let spans = ((*e).text, (*e).example);
                (*e).text = Span::EMPTY;
                (*e).example = Span::EMPTY;
                spans
            };
            arena_free(text);
            arena_free(example);
        }
    }
}

static mut STATEMENTS: Table<Statements, 1024> = Table::unattached();

/// The statement table.
#[allow(static_mut_refs)]
#[inline]
fn statements() -> &'static mut Table<Statements, 1024> {
    unsafe { &mut STATEMENTS }
}
static mut PREV_SHMEM_STARTUP: pg_sys::shmem_startup_hook_type = None;
#[cfg(not(any(feature = "pg13", feature = "pg14")))]
static mut PREV_SHMEM_REQUEST: pg_sys::shmem_request_hook_type = None;

const TRANCHE: &std::ffi::CStr = c"pg_optimizer";

fn shmem_size() -> usize {
    let header = (std::mem::size_of::<Header>() + 63) & !63;
    header + table::size_of::<Statements>(gucs::max_statements()) + gucs::text_memory_bytes() + predicates::shmem_size()
        + workers::size()
}

/// Called from `_PG_init` while preloading: ask for shared memory and the lock, and hook startup.
pub fn init() {
    unsafe {
        #[cfg(any(feature = "pg13", feature = "pg14"))]
        request_shmem();
        #[cfg(not(any(feature = "pg13", feature = "pg14")))]
        {
            PREV_SHMEM_REQUEST = pg_sys::shmem_request_hook;
            pg_sys::shmem_request_hook = Some(shmem_request);
        }
        PREV_SHMEM_STARTUP = pg_sys::shmem_startup_hook;
        pg_sys::shmem_startup_hook = Some(shmem_startup);
    }
}

unsafe fn request_shmem() {
    unsafe {
        pg_sys::RequestAddinShmemSpace(shmem_size());
        pg_sys::RequestNamedLWLockTranche(TRANCHE.as_ptr(), 2);
    }
}

#[cfg(not(any(feature = "pg13", feature = "pg14")))]
#[pgrx::pg_guard]
unsafe extern "C-unwind" fn shmem_request() {
    unsafe {
        if let Some(prev) = PREV_SHMEM_REQUEST {
            pg_sys::submodules::ffi::pg_guard_ffi_boundary(|| prev());
        }
        request_shmem();
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn shmem_startup() {
    unsafe {
        if let Some(prev) = PREV_SHMEM_STARTUP {
            pg_sys::submodules::ffi::pg_guard_ffi_boundary(|| prev());
        }
        let init_lock = &raw mut (*pg_sys::MainLWLockArray.add(21)).lock;
        pg_sys::LWLockAcquire(init_lock, pg_sys::LWLockMode::LW_EXCLUSIVE);
        let mut found = false;
        let header = pg_sys::ShmemInitStruct(
            c"pg_optimizer statements header".as_ptr(),
            std::mem::size_of::<Header>(),
            &mut found,
        ) as *mut Header;
        let arena_size = gucs::text_memory_bytes();
        let arena = pg_sys::ShmemInitStruct(c"pg_optimizer statement texts".as_ptr(), arena_size, &mut found) as *mut u8;
        if !found {
            let locks = pg_sys::GetNamedLWLockTranche(TRANCHE.as_ptr());
            let now = pg_sys::GetCurrentTimestamp();
            header.write(Header {
                statements: table::Shared::new(&raw mut (*locks).lock, gucs::max_statements(), now),
                predicates: table::Shared::new(&raw mut (*locks.add(1)).lock, gucs::max_predicates(), now),
                arena,
                arena_size,
                arena_top: AtomicU64::new(0),
                arena_garbage: AtomicU64::new(0),
                compactions: AtomicU64::new(0),
                extension_epoch: AtomicU64::new(0),
                max_text: gucs::max_text_bytes(),
            });
        }
        statements().attach(&raw mut (*header).statements);
        predicates::attach(&raw mut (*header).predicates);
        workers::attach();
        pg_sys::LWLockRelease(init_lock);
        HEADER = header;
        // The postmaster (or a single-user backend) owns the file: load now, save at exit.
        if !pg_sys::IsUnderPostmaster {
            pg_sys::on_shmem_exit(Some(persist::shutdown_callback), pg_sys::Datum::from(0));
            persist::load();
            predicates::load();
        }
    }
}

/// The shared counter of extension DDL (null when not preloaded).
pub fn extension_epoch() -> *const AtomicU64 {
    unsafe {
        if HEADER.is_null() {
            std::ptr::null()
        } else {
            &raw const (*HEADER).extension_epoch
        }
    }
}

/// The count of extension DDL so far (0 when not preloaded).
pub fn extension_epoch_value() -> u64 {
    let p = extension_epoch();
    if p.is_null() {
        0
    } else {
        unsafe { (*p).load(Ordering::Relaxed) }
    }
}

/// True when the store exists (the library was preloaded).
#[inline]
pub fn available() -> bool {
    unsafe { !HEADER.is_null() }
}

// ---------------------------------------------------------------------------------------------
// Spinlock and LWLock guards

pub(crate) struct Spin<'a>(&'a AtomicU32);

impl<'a> Spin<'a> {
    #[inline]
    fn lock(l: &'a AtomicU32) -> Spin<'a> {
        let mut spins = 0u32;
        while l.compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed).is_err() {
            while l.load(Ordering::Relaxed) != 0 {
                // The holder runs a few dozen instructions; if it was descheduled, give the CPU
                // back instead of burning our time slice (only ever under contention).
                spins += 1;
                if spins % 128 == 0 {
                    std::thread::yield_now();
                } else {
                    std::hint::spin_loop();
                }
            }
        }
        Spin(l)
    }
}

impl Drop for Spin<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.store(0, Ordering::Release);
    }
}

pub(crate) struct LwGuard(*mut pg_sys::LWLock);

impl LwGuard {
    unsafe fn acquire(l: *mut pg_sys::LWLock, mode: pg_sys::LWLockMode::Type) -> LwGuard {
        unsafe {
            pg_sys::LWLockAcquire(l, mode);
            LwGuard(l)
        }
    }
}

impl Drop for LwGuard {
    fn drop(&mut self) {
        unsafe { pg_sys::LWLockRelease(self.0) }
    }
}

// ---------------------------------------------------------------------------------------------
// Entry access

/// The bytes of `span` (caller holds the LWLock in some mode, so the arena does not move).
#[inline]
unsafe fn span_bytes<'a>(span: Span) -> &'a [u8] {
    unsafe { std::slice::from_raw_parts((*HEADER).arena.add(span.off as usize), span.len as usize) }
}

/// Reserve `len` bytes at the arena's top (caller holds the LWLock in some mode). None: full.
unsafe fn arena_alloc(len: usize) -> Option<u64> {
    unsafe {
        let h = &*HEADER;
        let mut top = h.arena_top.load(Ordering::Relaxed);
        loop {
            if top as usize + len > h.arena_size {
                return None;
            }
            match h.arena_top.compare_exchange_weak(top, top + len as u64, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Some(top),
                Err(now) => top = now,
            }
        }
    }
}

/// What [`arena_put`] may do when a text does not fit.
#[derive(Clone, Copy, PartialEq)]
enum Room {
    /// Nothing: None (any lock mode).
    AsIs,
    /// Compact the arena first (exclusive lock, and the caller holds no span that no entry
    /// references yet: compaction keeps only referenced texts).
    Compact,
    /// Compact, then cut what still does not fit to the room left (None only when not a byte
    /// fits). For a new entry's text, which must have one.
    CompactAndCut,
}

/// Append `bytes` (`cut`: it was already cut at the limit) and return its span, the caller
/// holding the LWLock in some mode; when it does not fit, see [`Room`].
unsafe fn arena_put(bytes: &[u8], cut: bool, room: Room) -> Option<Span> {
    unsafe {
        let h = &*HEADER;
        let mut len = bytes.len();
        let mut off = arena_alloc(len);
        if off.is_none() && room != Room::AsIs && h.arena_garbage.load(Ordering::Relaxed) > 0 {
            compact_locked();
            off = arena_alloc(len);
        }
        let mut truncated = cut;
        if off.is_none() && room == Room::CompactAndCut {
            // Whatever room is left, cut at a character boundary.
            let room = h.arena_size.saturating_sub(h.arena_top.load(Ordering::Relaxed) as usize);
            len = clip(bytes, room).len();
            truncated = true;
            off = if len > 0 { arena_alloc(len) } else { None };
        }
        let off = off?;
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), h.arena.add(off as usize), len);
        Some(Span { off, len: len as u32, truncated, _pad: [0; 3] })
    }
}

/// A text is no longer referenced.
#[inline]
unsafe fn arena_free(span: Span) {
    unsafe {
        if span.len > 0 {
            (*HEADER).arena_garbage.fetch_add(span.len as u64, Ordering::Relaxed);
        }
    }
}

/// Slide every live text down over the garbage (exclusive lock held: no reader, no writer).
unsafe fn compact_locked() {
    unsafe {
        let h = &*HEADER;
        let mut spans: Vec<*mut Span> = Vec::with_capacity(2 * h.statements.capacity);
        statements().for_each(|e| {
            if (*e).head.generation == 0 {
                return;
            }
            for s in [&raw mut (*e).text, &raw mut (*e).example] {
                if (*s).len > 0 {
                    spans.push(s);
                }
            }
        });
        spans.sort_unstable_by_key(|&s| (*s).off);
        let mut top = 0u64;
        for s in spans {
            if (*s).off != top {
                std::ptr::copy(h.arena.add((*s).off as usize), h.arena.add(top as usize), (*s).len as usize);
                (*s).off = top;
            }
            top += (*s).len as u64;
        }
        h.arena_top.store(top, Ordering::Release);
        h.arena_garbage.store(0, Ordering::Relaxed);
        h.compactions.fetch_add(1, Ordering::Relaxed);
    }
}

#[inline]
unsafe fn entry_lock<'a>(e: *mut Entry) -> Spin<'a> {
    unsafe { Table::<Statements, 1024>::spin(e) }
}

/// Cut `bytes` to at most `limit` bytes without splitting a multibyte character.
pub fn clip(bytes: &[u8], limit: usize) -> &[u8] {
    if bytes.len() <= limit {
        return bytes;
    }
    let n = unsafe { pg_sys::pg_mbcliplen(bytes.as_ptr() as *const _, bytes.len() as i32, limit as i32) };
    &bytes[..(n.max(0) as usize).min(limit)]
}

// ---------------------------------------------------------------------------------------------
// Lookup and insertion

/// Whether this backend already knows the entry for `key` (then nothing needs normalising).
#[inline]
pub fn is_known(key: &Key) -> bool {
    statements().cached(key).is_some()
}

/// How a new entry starts its eviction credit.
#[derive(Clone, Copy, PartialEq)]
pub enum Start {
    /// Created before the statement ran (parse analysis, planning): it starts at the median
    /// usage so it survives until its execution is counted.
    BeforeExecution,
    /// Created by the execution being recorded: it starts at zero and earns its credit per call.
    ByExecution,
}

/// Find the entry for `key`, creating it with the text `make_text` returns if it does not exist.
/// `make_text` runs before any lock is taken. Returns None only when the store is missing.
#[inline]
pub fn find_or_create(key: &Key, start: Start, make_text: impl FnOnce() -> Vec<u8>) -> Option<Handle<Statements>> {
    if !available() {
        return None;
    }
    if let Some(h) = statements().lookup(key) {
        return Some(h);
    }
    create(key, start, make_text)
}

#[cold]
fn create(key: &Key, start: Start, make_text: impl FnOnce() -> Vec<u8>) -> Option<Handle<Statements>> {
    unsafe {
        let text = make_text();
        let clipped = clip(&text, (*HEADER).max_text);
        let cut = clipped.len() < text.len();
        let _g = statements().exclusive();
        insert_locked(key, clipped, cut, pg_sys::GetDatabaseEncoding(), Init::Fresh { now: pg_sys::GetCurrentTimestamp(), start })
    }
}

/// What a new entry starts with.
enum Init<'a> {
    /// Empty counters created at `now`, with the eviction credit `Start` says.
    Fresh { now: i64, start: Start },
    /// Counters and example (with the length of its statement part and whether it was cut)
    /// from a saved file.
    Restore { counters: &'a Counters, example: &'a [u8], example_stmt_len: u32, example_cut: bool },
}

/// Insert (or find) `key` while holding the exclusive lock. `text` is already clipped to the
/// limit (`cut`: it was longer); `encoding` is the encoding of its database.
unsafe fn insert_locked(key: &Key, text: &[u8], cut: bool, encoding: i32, init: Init) -> Option<Handle<Statements>> {
    unsafe {
        let h = &*HEADER;
        let t = statements();
        // The texts first (an eviction round may be needed to make room for them), then the
        // element, so a new element never sits in the table without its text.
        let mut text_span = arena_put(text, cut, Room::CompactAndCut);
        if text_span.is_none_or(|s| s.truncated && !cut) && t.evict_locked() > 0 {
            if let Some(s) = text_span.take() {
                arena_free(s);
            }
            compact_locked();
            text_span = arena_put(text, cut, Room::CompactAndCut);
        }
        let text_span = text_span.unwrap_or(Span { truncated: !text.is_empty(), ..Span::EMPTY });
        let (example_span, example_stmt_len) = match init {
            Init::Restore { example, example_stmt_len, example_cut, .. } if !example.is_empty() => {
                let ex = clip(example, h.max_text);
                // No compaction here: it would slide live texts over `text_span`, which no entry
                // references yet. (At start the arena holds only what was loaded.)
                match arena_put(ex, example_cut || ex.len() < example.len(), Room::AsIs) {
                    Some(sp) => (sp, example_stmt_len.min(sp.len)),
                    None => (Span::EMPTY, 0),
                }
            }
            _ => (Span::EMPTY, 0),
        };
        let usage = match init {
            Init::Fresh { start: Start::BeforeExecution, .. } => t.state().median_usage,
            _ => 0.0,
        };
        let inserted = t.insert_locked(key, |e| {
            (*e).encoding = encoding;
            (*e).text = text_span;
            (*e).example = example_span;
            (*e).example_stmt_len = example_stmt_len;
            (*e).counters = match init {
                Init::Restore { counters, .. } => *counters,
                Init::Fresh { now, .. } => Counters::new(now, usage),
            };
        });
        match inserted {
            Inserted::New(handle) => Some(handle),
            Inserted::Existing(handle) => {
                arena_free(text_span);
                arena_free(example_span);
                Some(handle)
            }
            Inserted::Full => {
                arena_free(text_span);
                arena_free(example_span);
                None
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Recording (hook path)

/// What one execution measured.
pub struct Execution<'a> {
    pub ms: f64,
    pub usage: &'a Usage,
    pub now: i64,
}

/// Add one execution to `key`'s entry. `make_text` supplies the text if the entry must be created
/// here; `make_example` is called (outside any lock) only when this execution is the slowest so
/// far and examples are captured, and returns (statement + parameters, statement length).
pub fn record_execution(
    key: &Key,
    x: &Execution,
    make_text: impl FnOnce() -> Vec<u8>,
    make_example: impl FnOnce() -> Option<(Vec<u8>, u32)>,
) {
    let Some(h) = find_or_create(key, Start::ByExecution, make_text) else { return };
    // Evicted under our feet: this execution is lost with the entry.
    let want_example = statements().update(key, h, |e| unsafe {
        (*e).counters.record_execution(x.ms, x.usage, x.now);
        gucs::raw::capture_examples() && ((*e).example.len == 0 || x.ms > (*e).counters.example_ms)
    });
    if want_example == Some(true) {
        if let Some((example, stmt_len)) = make_example() {
            store_example(h.entry, h.generation, x.ms, &example, stmt_len);
        }
    }
}

fn store_example(e: *mut Entry, gen: u64, ms: f64, example: &[u8], stmt_len: u32) {
    unsafe {
        let ex = clip(example, (*HEADER).max_text);
        let cut = ex.len() < example.len();
        // Whether this execution still beats the stored example (entry spinlock held).
        let wanted = |e: *mut Entry| (*e).head.generation == gen && ((*e).example.len == 0 || ms > (*e).counters.example_ms);
        let publish = |e: *mut Entry, span: Span| {
            let old = {
                let _s = entry_lock(e);
                if !wanted(e) {
                    None // a slower one got there first: ours is garbage
                } else {
                    let old = (*e).example;
                    (*e).example = span;
                    (*e).example_stmt_len = stmt_len.min(span.len);
                    (*e).counters.example_ms = ms;
                    Some(old)
                }
            };
            arena_free(old.unwrap_or(span));
        };
        {
            let _g = statements().shared();
            if let Some(span) = arena_put(ex, cut, Room::AsIs) {
                publish(e, span);
                return;
            }
        }
        // The arena is full: compact it (exclusively), if this execution is still the slowest.
        let _g = statements().exclusive();
        if !{
            let _s = entry_lock(e);
            wanted(e)
        } {
            return;
        }
        // An example that does not fit whole even then is not stored (the previous one stays):
        // a cut example is of no use to the advisor, and evicting statements for it is not worth it.
        if let Some(span) = arena_put(ex, cut, Room::Compact) {
            publish(e, span);
        }
    }
}

/// Add one planning to `key`'s entry.
pub fn record_planning(key: &Key, ms: f64, now: i64, make_text: impl FnOnce() -> Vec<u8>) {
    let Some(h) = find_or_create(key, Start::BeforeExecution, make_text) else { return };
    statements().update(key, h, |e| unsafe { (*e).counters.record_planning(ms, now) });
}

// ---------------------------------------------------------------------------------------------
// Reading, resetting

/// A consistent copy of one entry.
pub struct Snapshot {
    pub key: Key,
    pub counters: Counters,
    pub text: Vec<u8>,
    pub example: Vec<u8>,
    pub example_stmt_len: usize,
    /// The server encoding (`pg_enc`) of `text` and `example`.
    pub encoding: i32,
    pub text_truncated: bool,
    pub example_truncated: bool,
}

/// Copy every entry `keep` accepts. Under the shared lock no text moves, and a published text
/// never changes: the spans are read under the entry's spinlock, the bytes copied after it.
pub fn snapshot(keep: impl FnMut(&Key) -> bool) -> Vec<Snapshot> {
    if !available() {
        return Vec::new();
    }
    statements().snapshot(
        keep,
        |e| unsafe { ((*e).counters, (*e).text, (*e).example, (*e).example_stmt_len as usize, (*e).encoding) },
        |key, _, (counters, text, example, slen, encoding)| unsafe {
            Snapshot {
                key,
                counters,
                text: span_bytes(text).to_vec(),
                example: span_bytes(example).to_vec(),
                example_stmt_len: slen,
                encoding,
                text_truncated: text.truncated,
                example_truncated: example.truncated,
            }
        },
    )
}

pub struct Info {
    pub capacity: usize,
    pub entries: usize,
    pub evictions: u64,
    pub stats_reset: i64,
    pub max_text: usize,
    /// The text arena: size, bytes in use by live texts, compactions since start.
    pub text_memory: usize,
    pub text_bytes: u64,
    pub compactions: u64,
}

pub fn info() -> Option<Info> {
    if !available() {
        return None;
    }
    let (capacity, entries, evictions, stats_reset) = statements().info()?;
    unsafe {
        let h = &*HEADER;
        Some(Info {
            capacity,
            entries,
            evictions,
            stats_reset,
            max_text: h.max_text,
            text_memory: h.arena_size,
            text_bytes: h.arena_top.load(Ordering::Relaxed).saturating_sub(h.arena_garbage.load(Ordering::Relaxed)),
            compactions: h.compactions.load(Ordering::Relaxed),
        })
    }
}

/// Remove the entries `matches` accepts; with `all`, also restart the eviction count and the
/// reset time. Returns how many were removed.
pub fn reset(all: bool, matches: impl FnMut(&Key) -> bool) -> usize {
    statements().reset(all, matches)
}
