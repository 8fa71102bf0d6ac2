//! The launcher: one scheduler per served database, restarted with back-off.
//!
//! Served databases: those named in `pg_optimizer.databases`, or (empty, the default) every
//! database that accepts connections and is not a template, probed by starting its scheduler,
//! which exits at once and says so (`shmem::workers::mark_absent`) where the extension is not
//! installed. Absent databases are probed again every 5 minutes, and every 2 seconds for 30
//! seconds after any `CREATE/ALTER/DROP EXTENSION` in the cluster (the utility hook wakes us).
//! The launcher itself reads only the shared catalog `pg_database` and runs no SQL.

use crate::gucs;
use crate::shmem::workers::{self as shared, MAX_DATABASES};
use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, BackgroundWorkerStatus, BgWorkerStartTime, DynamicBackgroundWorker};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;
use std::collections::HashMap;

const REPROBE_S: f64 = 300.0;
const DDL_PROBE_WINDOW_S: f64 = 30.0;
const DDL_PROBE_EVERY_S: f64 = 2.0;
/// A scheduler that ran this long before it exited starts its back-off afresh.
const HEALTHY_RUN_S: f64 = 600.0;
const MAX_BACKOFF_S: f64 = 300.0;
const NO_SLOT_RETRY_S: f64 = 2.0;
/// Exit code on SIGTERM: 1, so that the postmaster starts the launcher again (after its restart
/// time) when it was terminated on its own, not in a shutdown.
const EXIT_CODE: i32 = 1;

struct Db {
    name: String,
    slot: usize,
    worker: Option<DynamicBackgroundWorker>,
    started_at: f64,
    failures: u32,
    retry_at: f64,
    /// When a probe found no extension.
    absent_at: Option<f64>,
    /// A start failed for want of a worker slot (logged once per streak).
    starved: bool,
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pg_optimizer_launcher_main(_arg: pg_sys::Datum) {
    super::start_signals(true);
    BackgroundWorker::connect_worker_to_spi(None, None);
    shared::set_launcher(unsafe { pg_sys::MyProc });
    let named = gucs::databases();
    log!(
        "pg_optimizer: launcher started (databases: {})",
        if named.is_empty() { "every one with the extension".to_string() } else { named.join(", ") }
    );
    unsafe { pg_sys::before_shmem_exit(Some(forget_launcher), pg_sys::Datum::from(0)) };
    let mut dbs: HashMap<u32, Db> = HashMap::new();
    let mut epoch = crate::shmem::extension_epoch_value();
    let mut ddl_at = f64::MIN;
    let mut listed_at = f64::MIN;
    let mut full_log = false;
    loop {
        let now = super::now_s();
        let e = crate::shmem::extension_epoch_value();
        if e != epoch {
            epoch = e;
            ddl_at = now;
        }
        if !gucs::scheduler() {
            for db in dbs.values_mut() {
                if let Some(w) = db.worker.take() {
                    let _ = w.terminate();
                }
            }
            dbs.clear();
            super::wait(5_000, EXIT_CODE);
            continue;
        }
        if now - listed_at >= 10.0 || ddl_at == now {
            listed_at = now;
            let wanted = databases();
            dbs.retain(|oid, db| {
                let keep = wanted.iter().any(|(o, _)| o == oid);
                if !keep {
                    if let Some(w) = db.worker.take() {
                        let _ = w.terminate();
                    }
                }
                keep
            });
            for (oid, name) in wanted {
                if dbs.contains_key(&oid) {
                    continue;
                }
                let Some(slot) = (0..MAX_DATABASES).find(|s| !dbs.values().any(|d| d.slot == *s)) else {
                    if !full_log {
                        log!("pg_optimizer: more than {MAX_DATABASES} databases to serve; database \"{name}\" has no scheduler");
                        full_log = true;
                    }
                    continue;
                };
                dbs.insert(oid, Db { name, slot, worker: None, started_at: 0.0, failures: 0, retry_at: 0.0, absent_at: None, starved: false });
            }
        }
        let recent_ddl = now - ddl_at < DDL_PROBE_WINDOW_S;
        for (oid, db) in dbs.iter_mut() {
            tend(*oid, db, now, recent_ddl);
        }
        super::wait(1_000, EXIT_CODE);
    }
}

unsafe extern "C-unwind" fn forget_launcher(_code: i32, _arg: pg_sys::Datum) {
    shared::set_launcher(std::ptr::null_mut());
}

/// One database: notice its scheduler's exit, (re)start it when due.
fn tend(oid: u32, db: &mut Db, now: f64, recent_ddl: bool) {
    if let Some(w) = &db.worker {
        match w.pid() {
            Ok(_) | Err(BackgroundWorkerStatus::NotYetStarted) => return,
            Err(_) => {
                db.worker = None;
                if shared::absent(db.slot) {
                    db.absent_at = Some(now);
                    db.failures = 0;
                } else {
                    if now - db.started_at > HEALTHY_RUN_S {
                        db.failures = 0;
                    }
                    db.failures += 1;
                    let backoff = (2f64.powi(db.failures as i32 - 1)).min(MAX_BACKOFF_S);
                    db.retry_at = now + backoff;
                    log!("pg_optimizer: the scheduler of database \"{}\" exited; starting it again in {backoff} s", db.name);
                }
            }
        }
    }
    // A statement needs this database without sessions (DROP DATABASE, ...): start nothing.
    if shared::held(db.slot) {
        return;
    }
    if let Some(at) = db.absent_at {
        let since_probe = now - at;
        if !(since_probe >= REPROBE_S || (recent_ddl && since_probe >= DDL_PROBE_EVERY_S)) {
            return;
        }
    } else if now < db.retry_at {
        return;
    }
    shared::assign(db.slot, oid);
    let started = BackgroundWorkerBuilder::new(&format!("pg_optimizer scheduler {}", db.name).chars().take(90).collect::<String>())
        .set_type("pg_optimizer scheduler")
        .set_library("pg_optimizer")
        .set_function("pg_optimizer_scheduler_main")
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(None)
        .set_argument(Some(pg_sys::Datum::from(db.slot)))
        .set_extra(&oid.to_string())
        .set_notify_pid(unsafe { pg_sys::MyProcPid })
        .load_dynamic();
    match started {
        Ok(w) => {
            db.worker = Some(w);
            db.started_at = now;
            db.absent_at = None;
            db.starved = false;
        }
        Err(_) => {
            // Registering is cheap and a slot can free up any moment: retry soon, log once.
            let backoff = NO_SLOT_RETRY_S;
            db.retry_at = now + backoff;
            if !db.starved {
                db.starved = true;
                ErrorReport::new(
                    PgSqlErrorCode::ERRCODE_CONFIGURATION_LIMIT_EXCEEDED,
                    format!(
                        "pg_optimizer: cannot start the scheduler of database \"{}\": {}; retrying every {backoff} s",
                        db.name,
                        crate::scheduler::no_slot_message()
                    ),
                    "pg_optimizer launcher",
                )
                .set_hint("Raise max_worker_processes (restart needed): pg_optimizer uses 1 launcher, 1 scheduler per database and 1 worker per running job.")
                .report(PgLogLevel::LOG);
            }
        }
    }
}

/// (OID, name) of the databases to serve, read from `pg_database` (a shared catalog: no
/// database connection needed).
fn databases() -> Vec<(u32, String)> {
    let named = gucs::databases();
    let mut out = vec![];
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::GetTransactionSnapshot();
        let rel = pg_sys::table_open(pg_sys::DatabaseRelationId, pg_sys::AccessShareLock as i32);
        let scan = pg_sys::table_beginscan_catalog(rel, 0, std::ptr::null_mut());
        loop {
            let tup = pg_sys::heap_getnext(scan, pg_sys::ScanDirection::ForwardScanDirection);
            if tup.is_null() {
                break;
            }
            let data = (*tup).t_data;
            let form = (data as *mut u8).add((*data).t_hoff as usize) as *const pg_sys::FormData_pg_database;
            let name = std::ffi::CStr::from_ptr((*form).datname.data.as_ptr()).to_string_lossy().into_owned();
            // -2: a database whose DROP was interrupted (not connectable).
            let usable = (*form).datallowconn && !(*form).datistemplate && (*form).datconnlimit != -2;
            if usable && (named.is_empty() || named.contains(&name)) {
                out.push(((*form).oid.to_u32(), name));
            }
        }
        pg_sys::table_endscan(scan);
        pg_sys::table_close(rel, pg_sys::AccessShareLock as i32);
        pg_sys::CommitTransactionCommand();
    }
    out
}
