//! A database's scheduler: every tick, reload the jobs, run the due ones (one runner each), skip
//! the due ones whose previous run is alive, notice runners that died, prune the history.
//!
//! It sleeps until the next time a run is to be started (at most a second, so job changes are
//! seen within one) and wakes early when a runner starts or stops (their `bgw_notify_pid` is this
//! process). A run is started `LEAD_S` before it is due, unless its job's previous run is still
//! alive: that one is decided at the due time (skipped if the run is alive then).

use super::{now_s, wait};
use crate::gucs;
use crate::pg::identity;
use crate::scheduler::runner::txn;
use crate::scheduler::{jobs, start_runner, Errand};
use crate::shmem::workers as shared;
use pg_optimizer_core::schedule::{Clock, Schedule, Window};
use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerStatus, DynamicBackgroundWorker};
use pgrx::prelude::*;
use std::collections::HashMap;

const PRUNE_EVERY_S: f64 = 60.0;
/// A run's worker is started this long before the run is due: it forks, connects, claims its row
/// and resolves its owner ahead, then waits for the time (`scheduler::runner`).
const LEAD_S: f64 = 1.0;
/// A run that could not get a worker slot is retried this long, then recorded as failed.
const START_RETRY_S: f64 = 30.0;

struct Tracked {
    schedule_text: String,
    window_text: Option<String>,
    clock: Clock,
}

struct Running {
    job: String,
    worker: DynamicBackgroundWorker,
}

struct Pending {
    run_id: i64,
    job: String,
    since: f64,
}

static mut SLOT: usize = 0;

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pg_optimizer_scheduler_main(arg: pg_sys::Datum) {
    super::start_signals(true);
    let slot = arg.value().min(shared::MAX_DATABASES - 1);
    let Ok(dboid) = BackgroundWorker::get_extra().parse::<u32>() else { return };
    BackgroundWorker::connect_worker_to_spi_by_oid(Some(pg_sys::Oid::from(dboid)), None);
    unsafe {
        SLOT = slot;
        shared::register_scheduler(slot, pg_sys::MyProc);
        pg_sys::before_shmem_exit(Some(leave_slot), pg_sys::Datum::from(0));
    }
    identity::set_session(c"search_path", c"pg_catalog, pg_temp");
    identity::set_session(c"application_name", c"pg_optimizer scheduler");
    // The scheduler's own queries are bookkeeping, not workload: not recorded.
    identity::set_session(c"pg_optimizer.enabled", c"off");
    // The launcher never runs on a standby; a scheduler still refuses to act during recovery.
    while unsafe { pg_sys::RecoveryInProgress() } {
        wait(5_000, 0);
    }
    if txn("checking for the extension", || Ok(jobs::extension_ready())) != Some(true) {
        shared::mark_absent(slot);
        return;
    }
    if let Some(n) = txn("settling interrupted runs", jobs::fail_interrupted) {
        if n > 0 {
            log!("pg_optimizer: marked {n} interrupted job run(s) failed");
        }
    }
    let mut orphans: Vec<(i64, String, i32)> = txn("reading live runs", jobs::live_runs).unwrap_or_default();
    txn("syncing the statement_history job", || jobs::sync_snapshot_job(gucs::snapshot_interval_s()));

    let started = now_s() as i64;
    let mut tracked: HashMap<String, Tracked> = HashMap::new();
    let mut running: HashMap<i64, Running> = HashMap::new();
    let mut pending: Vec<Pending> = vec![];
    let mut pruned_at = f64::MIN;
    let mut starved = false;
    loop {
        if shared::leave_requested(slot) {
            // DROP DATABASE (or the like) waits for us: leave at once; the launcher holds off.
            return;
        }
        let now = now_s();
        // Runners that exited: any row they left unfinished is failed.
        let stopped: Vec<i64> = running
            .iter()
            .filter(|(_, r)| matches!(r.worker.pid(), Err(BackgroundWorkerStatus::Stopped) | Err(BackgroundWorkerStatus::PostmasterDied)))
            .map(|(id, _)| *id)
            .collect();
        for id in &stopped {
            running.remove(id);
        }
        if !stopped.is_empty() {
            txn("settling finished runs", || {
                for id in &stopped {
                    jobs::settle_unstarted(*id, "failed", "the job's worker exited without recording an outcome (terminated, or it crashed)")?;
                }
                Ok(())
            });
        }
        orphans.retain(|(_, _, pid)| unsafe { !pg_sys::BackendPidGetProc(*pid).is_null() });

        let Some(all) = txn("reading jobs", jobs::load) else {
            if txn("checking for the extension", || Ok(jobs::extension_ready())) != Some(true) {
                shared::mark_absent(slot);
                return;
            }
            wait(1_000, 0);
            continue;
        };
        tracked.retain(|name, _| all.iter().any(|j| &j.name == name));
        let snapshot_off = gucs::snapshot_interval_s() <= 0;
        let mut due: Vec<(String, i64)> = vec![];
        let mut next_wake = now + 1.0;
        // Jobs whose previous run is alive, with what a skipped run says. Such a job is decided at
        // its due time; any other is started LEAD_S ahead (its worker waits for the time).
        // (Inserted from the weakest reason to the strongest: a running run's message wins.)
        let mut busy: HashMap<String, String> = HashMap::new();
        for p in &pending {
            busy.insert(p.job.clone(), format!("skipped: run {} is still waiting for a worker slot", p.run_id));
        }
        for (id, job, pid) in &orphans {
            busy.insert(job.clone(), format!("skipped: still running (run {id}, pid {pid})"));
        }
        for (id, r) in &running {
            let pid = r.worker.pid().map(|p| format!(", pid {p}")).unwrap_or_default();
            busy.insert(r.job.clone(), format!("skipped: still running (run {id}{pid})"));
        }
        for job in &all {
            let (Ok(schedule), Ok(window)) = (&job.schedule, &job.window) else { continue };
            if !job.enabled || (job.builtin && job.name == "statement_history" && snapshot_off) {
                tracked.remove(&job.name);
                continue;
            }
            let t = tracked.entry(job.name.clone()).or_insert_with(|| new_clock(job, schedule, window.as_ref(), started));
            if t.schedule_text != job.schedule_text || t.window_text != job.window_text {
                *t = new_clock(job, schedule, window.as_ref(), now as i64);
            }
            let lead = if busy.contains_key(&job.name) { 0.0 } else { LEAD_S };
            if let Some(at) = t.clock.take_due(schedule, window.as_ref(), (now + lead).floor() as i64) {
                due.push((job.name.clone(), at));
            }
            if let Some(n) = t.clock.next {
                next_wake = next_wake.min(n as f64 - lead);
            }
        }

        // Record each due run (or its skip) in one transaction, then start the runners.
        let max = gucs::max_running_jobs();
        let mut to_start: Vec<(i64, String)> = vec![];
        if !due.is_empty() {
            let mut deferred: Vec<(String, i64)> = vec![];
            let r = txn("recording due runs", || {
                Spi::connect_mut(|c| {
                    for (job, at) in &due {
                        if let Some(why) = busy.get(job) {
                            jobs::insert_skipped(c, job, *at, why)?;
                        } else if running.len() + pending.len() + to_start.len() >= max {
                            deferred.push((job.clone(), *at));
                        } else if let Some(id) = jobs::insert_starting(c, job, *at)? {
                            to_start.push((id, job.clone()));
                        }
                    }
                    Ok(())
                })
            });
            if r.is_none() {
                to_start.clear();
            }
            // At the limit of running jobs: due again next tick, still with its own time.
            for (job, at) in deferred {
                if let Some(t) = tracked.get_mut(&job) {
                    t.clock.next = Some(at);
                    next_wake = now + 0.1;
                }
            }
        }
        for (run_id, job) in to_start {
            pending.push(Pending { run_id, job, since: now });
        }
        // Start (or retry starting) runners.
        let mut still: Vec<Pending> = vec![];
        for p in pending.drain(..) {
            match start_runner(&Errand::Scheduled { db: dboid, run_id: p.run_id }, &p.job) {
                Ok(w) => {
                    running.insert(p.run_id, Running { job: p.job, worker: w });
                }
                Err(why) => {
                    if now - p.since > START_RETRY_S {
                        let msg = format!("not started: {why} for {START_RETRY_S} s");
                        txn("recording an unstarted run", || jobs::settle_unstarted(p.run_id, "failed", &msg));
                    } else {
                        // Once per shortage, not once per run.
                        if !starved {
                            log!("pg_optimizer: job \"{}\" run {} waits: {why}; retrying (raise max_worker_processes)", p.job, p.run_id);
                            starved = true;
                        }
                        still.push(p);
                    }
                }
            }
        }
        pending = still;
        if pending.is_empty() {
            starved = false;
        } else {
            next_wake = next_wake.min(now + 0.2);
        }
        if now - pruned_at >= PRUNE_EVERY_S {
            pruned_at = now;
            txn("pruning job history", || jobs::prune(gucs::job_history_days()));
        }
        let ms = ((next_wake - now_s()) * 1000.0).ceil() as i64;
        if wait(ms.max(1), 0) {
            // Reloaded: the history bound or the snapshot interval may have changed.
            txn("syncing the statement_history job", || jobs::sync_snapshot_job(gucs::snapshot_interval_s()));
            pruned_at = f64::MIN;
        }
    }
}

fn new_clock(job: &jobs::Job, schedule: &Schedule, window: Option<&Window>, since: i64) -> Tracked {
    // A new job is first due after its creation; a job known before this scheduler started
    // resumes at its next time (occurrences while no scheduler ran are not caught up).
    let since = since.max(job.created);
    Tracked { schedule_text: job.schedule_text.clone(), window_text: job.window_text.clone(), clock: Clock::starting(schedule, window, since) }
}

unsafe extern "C-unwind" fn leave_slot(_code: i32, _arg: pg_sys::Datum) {
    unsafe { shared::register_scheduler(SLOT, std::ptr::null_mut()) };
}
