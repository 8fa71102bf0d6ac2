//! What the background workers share: where the launcher and each database's scheduler are (to
//! wake them), and which databases a probe found without the extension.
//!
//! One small `ShmemInitStruct` of fixed size. Every field is an atomic written by its one owner
//! (the launcher assigns slots; a scheduler fills its own slot) and read by anyone; nothing here
//! needs a lock. A stale `PGPROC` pointer (its process just exited) only sets a latch nobody waits
//! on, or wakes another process spuriously: latches tolerate both.

use pgrx::pg_sys;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicPtr, AtomicU32, Ordering};

/// Databases with a scheduler at once (a 65th gets a LOG line and no scheduler).
pub const MAX_DATABASES: usize = 64;

#[repr(C)]
pub struct Slot {
    dboid: AtomicU32,
    scheduler: AtomicPtr<pg_sys::PGPROC>,
    /// The last scheduler of this database found no usable extension there.
    absent: AtomicBool,
    /// A statement needs the database without other sessions (DROP DATABASE, CREATE DATABASE
    /// ... TEMPLATE it, ALTER DATABASE ... RENAME): the scheduler leaves, and the launcher starts
    /// nothing there until `held_until_ms` (Unix ms).
    leave: AtomicBool,
    held_until_ms: AtomicI64,
}

/// Job workers counted at once (beyond that they run uncounted).
const MAX_RUNNERS: usize = 1024;

#[repr(C)]
pub struct Shared {
    launcher: AtomicPtr<pg_sys::PGPROC>,
    slots: [Slot; MAX_DATABASES],
    /// The database of each live job worker (0: a free entry).
    runners: [AtomicU32; MAX_RUNNERS],
}

static mut SHARED: *mut Shared = std::ptr::null_mut();

pub(super) fn size() -> usize {
    std::mem::size_of::<Shared>()
}

/// In shmem_startup (under the add-in init lock).
pub(super) unsafe fn attach() {
    unsafe {
        let mut found = false;
        let p = pg_sys::ShmemInitStruct(c"pg_optimizer workers".as_ptr(), size(), &mut found) as *mut Shared;
        if !found {
            std::ptr::write_bytes(p as *mut u8, 0, size());
        }
        SHARED = p;
    }
}

fn shared() -> Option<&'static Shared> {
    unsafe { SHARED.as_ref() }
}

unsafe fn set_latch(p: *mut pg_sys::PGPROC) {
    if !p.is_null() {
        unsafe { pg_sys::SetLatch(&raw mut (*p).procLatch) };
    }
}

/// The launcher announces itself (null when it exits).
pub fn set_launcher(proc_: *mut pg_sys::PGPROC) {
    if let Some(s) = shared() {
        s.launcher.store(proc_, Ordering::Release);
    }
}

/// Wake the launcher (extension DDL somewhere: a database may have gained or lost the extension).
pub fn wake_launcher() {
    if let Some(s) = shared() {
        unsafe { set_latch(s.launcher.load(Ordering::Acquire)) };
    }
}

/// Launcher: give slot `i` to `dboid` (its scheduler registers there).
pub fn assign(i: usize, dboid: u32) {
    if let Some(s) = shared() {
        let slot = &s.slots[i];
        slot.absent.store(false, Ordering::Relaxed);
        slot.leave.store(false, Ordering::Relaxed);
        slot.scheduler.store(std::ptr::null_mut(), Ordering::Relaxed);
        slot.dboid.store(dboid, Ordering::Release);
    }
}

/// Launcher: whether the scheduler of slot `i` found no extension in its database.
pub fn absent(i: usize) -> bool {
    shared().is_some_and(|s| s.slots[i].absent.load(Ordering::Acquire))
}

/// Scheduler: this process serves slot `i` (null: it is leaving).
pub fn register_scheduler(i: usize, proc_: *mut pg_sys::PGPROC) {
    if let Some(s) = shared() {
        s.slots[i].scheduler.store(proc_, Ordering::Release);
    }
}

/// Scheduler: the extension is not (or no longer) usable in this database.
pub fn mark_absent(i: usize) {
    if let Some(s) = shared() {
        s.slots[i].absent.store(true, Ordering::Release);
    }
}

/// How long the launcher leaves a released database alone.
const HOLD_MS: i64 = 15_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A statement is about to need database `dboid` without other sessions: its scheduler leaves at
/// once and nothing of ours connects there for a few seconds.
pub fn release_database(dboid: u32) {
    if let Some(s) = shared() {
        for slot in &s.slots {
            if slot.dboid.load(Ordering::Acquire) == dboid {
                slot.held_until_ms.store(now_ms() + HOLD_MS, Ordering::Release);
                slot.leave.store(true, Ordering::Release);
                unsafe { set_latch(slot.scheduler.load(Ordering::Acquire)) };
            }
        }
    }
}

/// Scheduler: whether it must leave its database now.
pub fn leave_requested(i: usize) -> bool {
    shared().is_some_and(|s| s.slots[i].leave.load(Ordering::Acquire))
}

/// Launcher: whether slot `i`'s database is held (start nothing there yet).
pub fn held(i: usize) -> bool {
    shared().is_some_and(|s| s.slots[i].held_until_ms.load(Ordering::Acquire) > now_ms())
}

/// Wake the scheduler of database `dboid`, if it has one (a job changed or a run was asked for).
pub fn wake_scheduler(dboid: u32) {
    if let Some(s) = shared() {
        for slot in &s.slots {
            if slot.dboid.load(Ordering::Acquire) == dboid {
                unsafe { set_latch(slot.scheduler.load(Ordering::Acquire)) };
            }
        }
    }
}

/// A job worker counts itself in its database until it exits (`leave`, at process exit). Returns
/// its entry, or None when all are taken (it then runs uncounted).
pub fn count_runner(dboid: u32) -> Option<usize> {
    let s = shared()?;
    (0..MAX_RUNNERS).find(|&i| s.runners[i].compare_exchange(0, dboid, Ordering::AcqRel, Ordering::Relaxed).is_ok())
}

/// The job worker of entry `i` exits.
pub fn uncount_runner(i: usize) {
    if let Some(s) = shared() {
        s.runners[i].store(0, Ordering::Release);
    }
}

/// Live job workers of database `dboid` (the entries of workers that crashed are gone with the
/// shared memory the crash reinitialised).
pub fn runners_in(dboid: u32) -> usize {
    shared().map_or(0, |s| s.runners.iter().filter(|r| r.load(Ordering::Acquire) == dboid).count())
}
