//! Jobs: the scheduler's SQL glue (which jobs exist, their runs in `optimizer.job_runs`) and the
//! execution of one run. The schedule arithmetic is pure (`pg_optimizer_core::schedule`); the
//! processes that call this are in `workers`.
//!
//! # Who runs what, as whom
//! * A database's **scheduler** (a background worker connected as the bootstrap superuser) reads
//!   `optimizer.jobs`, decides with `core::schedule`, writes a `starting` (or `skipped`) row to
//!   `optimizer.job_runs`, commits, and starts one **runner** worker per run. It runs no job SQL.
//! * A **runner** marks its row `running`, becomes the job's owner for the rest of its life
//!   (`pg::identity::become_for_process`: `SECURITY_RESTRICTED_OPERATION`, the owner's
//!   search_path), arms the job's timeout, sets its lock_timeout, runs the command at the top
//!   level (`pg::toplevel`), then comes back to the superuser with every setting reset and records
//!   the outcome. A runner that dies without recording is marked failed by its scheduler; runs
//!   left `starting`/`running` by a crash are marked failed when a scheduler starts.
//! * `optimizer.run_in_worker(commands)` hands commands to a runner through a dynamic shared
//!   memory segment (`core::handoff`) and waits: the way a SQL function can VACUUM.

pub mod jobs;
pub mod runner;

use pgrx::bgworkers::{BackgroundWorkerBuilder, BgWorkerStartTime, DynamicBackgroundWorker};
use pgrx::pg_sys;

/// What a runner is started for (carried in `bgw_extra` as text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Errand {
    /// A scheduled run whose `starting` row exists.
    Scheduled { db: u32, run_id: i64 },
    /// `optimizer.run_job(name)`: the runner writes its row (run id allocated by the caller).
    Manual { db: u32, run_id: i64, job: String },
    /// `optimizer.run_in_worker(...)`: commands in a DSM segment; with a run id, the caller does
    /// not wait and the runner records the run in `optimizer.job_runs` itself.
    Commands { db: u32, handle: u32, run_id: Option<i64> },
    /// Partition work (`src/partitions`): its request in a DSM segment, the caller waits.
    Partitions { db: u32, handle: u32 },
}

impl Errand {
    pub fn encode(&self) -> String {
        match self {
            Errand::Scheduled { db, run_id } => format!("S {db} {run_id}"),
            Errand::Manual { db, run_id, job } => format!("M {db} {run_id} {job}"),
            Errand::Commands { db, handle, run_id: None } => format!("C {db} {handle}"),
            Errand::Commands { db, handle, run_id: Some(r) } => format!("D {db} {handle} {r}"),
            Errand::Partitions { db, handle } => format!("P {db} {handle}"),
        }
    }

    pub fn decode(s: &str) -> Option<Errand> {
        let mut it = s.splitn(4, ' ');
        let kind = it.next()?;
        let db = it.next()?.parse().ok()?;
        let n = it.next()?;
        Some(match kind {
            "S" => Errand::Scheduled { db, run_id: n.parse().ok()? },
            "M" => Errand::Manual { db, run_id: n.parse().ok()?, job: it.next()?.to_string() },
            "C" => Errand::Commands { db, handle: n.parse().ok()?, run_id: None },
            "D" => Errand::Commands { db, handle: n.parse().ok()?, run_id: Some(it.next()?.parse().ok()?) },
            "P" => Errand::Partitions { db, handle: n.parse().ok()? },
            _ => return None,
        })
    }

    pub fn db(&self) -> u32 {
        match self {
            Errand::Scheduled { db, .. }
            | Errand::Manual { db, .. }
            | Errand::Commands { db, .. }
            | Errand::Partitions { db, .. } => *db,
        }
    }
}

/// Longest job name that fits a runner's `bgw_extra` (128 bytes) with its header.
pub const MAX_JOB_NAME: usize = 96;

fn runner_builder(errand: &Errand, label: &str) -> BackgroundWorkerBuilder {
    let name: String = format!("pg_optimizer job {label}").chars().take(90).collect();
    BackgroundWorkerBuilder::new(&name)
        .set_type("pg_optimizer job")
        .set_library("pg_optimizer")
        .set_function("pg_optimizer_runner_main")
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(None)
        .set_extra(&errand.encode())
        .set_notify_pid(unsafe { pg_sys::MyProcPid })
}

/// Start a runner; its start and exit are signalled to this process (its latch is set).
/// Err: no background worker slot is free.
pub fn start_runner(errand: &Errand, label: &str) -> Result<DynamicBackgroundWorker, String> {
    runner_builder(errand, label).load_dynamic().map_err(|_| no_slot_message())
}

/// Start a runner from a SQL function and wait until it exits. If the wait is interrupted (a
/// cancel, a statement timeout), the runner is told to stop too before the error goes on.
pub fn run_and_wait(errand: &Errand, label: &str) -> Result<(), String> {
    run_and_watch(errand, label, &mut || {})
}

/// [`run_and_wait`], calling `tick` about every half second while the runner works (to relay its
/// progress).
pub fn run_and_watch(errand: &Errand, label: &str, tick: &mut dyn FnMut()) -> Result<(), String> {
    let mut bgw: pg_sys::BackgroundWorker = (&runner_builder(errand, label)).into();
    let mut handle: *mut pg_sys::BackgroundWorkerHandle = std::ptr::null_mut();
    if !unsafe { pg_sys::RegisterDynamicBackgroundWorker(&mut bgw, &mut handle) } {
        return Err(no_slot_message());
    }
    let tick = std::panic::AssertUnwindSafe(tick);
    pgrx::PgTryBuilder::new(move || unsafe {
        let tick = tick;
        loop {
            let mut pid: pg_sys::pid_t = 0;
            if pg_sys::GetBackgroundWorkerPid(handle, &mut pid) == pg_sys::BgwHandleStatus::BGWH_STOPPED {
                break;
            }
            pg_sys::WaitLatch(
                pg_sys::MyLatch,
                (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH) as i32,
                500,
                pg_sys::PG_WAIT_EXTENSION,
            );
            pg_sys::ResetLatch(pg_sys::MyLatch);
            pg_sys::check_for_interrupts!();
            (tick.0)();
        }
    })
    .catch_others(|e| {
        unsafe { pg_sys::TerminateBackgroundWorker(handle) };
        e.rethrow()
    })
    .execute();
    Ok(())
}

/// The message when a worker cannot be started.
pub fn no_slot_message() -> String {
    let max = unsafe { pg_sys::max_worker_processes };
    format!("no background worker slot is free (max_worker_processes = {max})")
}

#[cfg(test)]
mod tests {
    use super::Errand;

    #[test]
    fn errands_round_trip_through_bgw_extra() {
        for e in [
            Errand::Scheduled { db: 5, run_id: 42 },
            Errand::Manual { db: 16384, run_id: 7, job: "nightly vacuum".into() },
            Errand::Commands { db: 1, handle: 4_000_000_000, run_id: None },
            Errand::Commands { db: 1, handle: 7, run_id: Some(99) },
            Errand::Partitions { db: 3, handle: 12 },
        ] {
            assert!(e.encode().len() <= 128 - super::MAX_JOB_NAME + 96);
            assert_eq!(Errand::decode(&e.encode()), Some(e));
        }
        assert_eq!(Errand::decode("X 1 2"), None);
        assert_eq!(Errand::decode("S x 2"), None);
    }
}
