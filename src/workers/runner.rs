//! The runner's entry point: one job run (or `run_in_worker` call), then exit.

use crate::pg::identity;
use crate::scheduler::{runner, Errand};
use pgrx::bgworkers::BackgroundWorker;
use crate::shmem::workers as shared;
use pgrx::prelude::*;

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pg_optimizer_runner_main(_arg: pg_sys::Datum) {
    super::start_signals(false);
    let Some(errand) = Errand::decode(BackgroundWorker::get_extra()) else {
        log!("pg_optimizer: a job worker was started with an unreadable errand");
        return;
    };
    if let Some(entry) = shared::count_runner(errand.db()) {
        unsafe { pg_sys::before_shmem_exit(Some(uncount), pg_sys::Datum::from(entry)) };
    }
    BackgroundWorker::connect_worker_to_spi_by_oid(Some(pg_sys::Oid::from(errand.db())), None);
    identity::set_session(c"search_path", c"pg_catalog, pg_temp");
    // Our bookkeeping is not workload (the job's own statements are recorded: see runner::execute).
    identity::set_session(c"pg_optimizer.enabled", c"off");
    match errand {
        Errand::Partitions { handle, .. } => crate::partitions::work::run_errand(handle),
        _ => runner::run(&errand),
    }
}

unsafe extern "C-unwind" fn uncount(_code: i32, entry: pg_sys::Datum) {
    shared::uncount_runner(entry.value());
}
