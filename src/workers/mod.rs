//! The background processes: thin loops over the `scheduler` module.
//!
//! * `launcher`  one static worker (started after recovery: never on a standby): finds the
//!               databases to serve, starts one scheduler per database, restarts it with back-off
//! * `scheduler` one per database: decides which jobs are due, records runs, starts runners
//! * `runner`    one per running job (or `run_in_worker` call): runs it, records it, exits
//!
//! Signals: SIGHUP sets a flag (the loop reloads the configuration). SIGTERM, while a loop
//! waits on its latch, ends the process quietly (a shutdown logs no FATAL per worker); at any
//! other time it is PostgreSQL's `die` (processed at the next interrupt check, so a worker blocked
//! in a query still leaves). A job runner always uses `die`: terminating it cancels its job.
//! Postmaster death ends the wait. None of them exists in binary-upgrade mode.

pub mod launcher;
pub mod runner;
pub mod scheduler;

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, BgWorkerStartTime, SignalWakeFlags};
use pgrx::pg_sys;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The loop is waiting on its latch: SIGTERM may end the process quietly.
static IN_WAIT: AtomicBool = AtomicBool::new(false);
static TERMINATE: AtomicBool = AtomicBool::new(false);

unsafe extern "C-unwind" fn on_sigterm(signal: std::ffi::c_int) {
    if IN_WAIT.load(Ordering::SeqCst) {
        TERMINATE.store(true, Ordering::SeqCst);
        unsafe { pg_sys::SetLatch(pg_sys::MyLatch) };
    } else {
        unsafe { postgres_die(signal) };
    }
}

/// Register the launcher (in `_PG_init`, while preloading).
pub fn init() {
    if unsafe { pg_sys::IsBinaryUpgrade } {
        return;
    }
    BackgroundWorkerBuilder::new("pg_optimizer launcher")
        .set_type("pg_optimizer launcher")
        .set_library("pg_optimizer")
        .set_function("pg_optimizer_launcher_main")
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(Some(Duration::from_secs(5)))
        .load();
}

// PostgreSQL's SIGTERM handler for backends (pgrx wraps `die` as a Rust function; a signal
// handler must be the C symbol).
unsafe extern "C-unwind" {
    #[link_name = "die"]
    fn postgres_die(signal: std::ffi::c_int);
}

/// Common start of every worker: SIGTERM as described above (`quiet_exit`: the launcher and the
/// schedulers; a runner always `die`s), a flag on SIGHUP, signals unblocked; exit at once in
/// binary-upgrade mode.
fn start_signals(quiet_exit: bool) {
    unsafe {
        pg_sys::pqsignal(pg_sys::SIGTERM as i32, Some(if quiet_exit { on_sigterm } else { postgres_die }));
    }
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP);
    if unsafe { pg_sys::IsBinaryUpgrade } {
        unsafe { pg_sys::proc_exit(0) };
    }
}

/// Wait on the latch up to `ms`; then handle interrupts (SIGTERM ends the process here, with
/// `exit_code`) and a pending configuration reload. True if the configuration was reloaded.
fn wait(ms: i64, exit_code: i32) -> bool {
    unsafe {
        IN_WAIT.store(true, Ordering::SeqCst);
        if TERMINATE.load(Ordering::SeqCst) {
            pg_sys::proc_exit(exit_code);
        }
        pg_sys::WaitLatch(
            pg_sys::MyLatch,
            (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH) as i32,
            ms.clamp(0, 60_000) as std::ffi::c_long,
            pg_sys::PG_WAIT_EXTENSION,
        );
        pg_sys::ResetLatch(pg_sys::MyLatch);
        if TERMINATE.load(Ordering::SeqCst) {
            pg_sys::proc_exit(exit_code);
        }
        IN_WAIT.store(false, Ordering::SeqCst);
        pg_sys::check_for_interrupts!();
        if BackgroundWorker::sighup_received() {
            pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP);
            return true;
        }
        false
    }
}

/// Wall-clock time, Unix seconds.
fn now_s() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}
