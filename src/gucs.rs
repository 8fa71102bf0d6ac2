//! Every `pg_optimizer.*` setting: private statics and typed getters. The hot path reads the raw
//! value behind the setting (`raw`) to skip pgrx's per-read thread check; SQL-facing code uses the
//! getters.

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::prelude::*;
use std::ffi::CString;

/// Which statements are recorded: `top` (statements issued by clients; default), `all` (also
/// statements run inside functions and procedures), `none`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PostgresGucEnum)]
pub enum Track {
    #[name = c"none"]
    None,
    #[name = c"top"]
    Top,
    #[name = c"all"]
    All,
}

/// A fault to inject, for tests only: `none` (default) or `cancel_in_bookkeeping` (the recording
/// of an execution at ExecutorEnd receives a query cancel, as if `pg_cancel_backend` arrived while
/// our code ran).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PostgresGucEnum)]
pub enum Fault {
    #[name = c"none"]
    None,
    #[name = c"cancel_in_bookkeeping"]
    CancelInBookkeeping,
}
static INJECT_FAULT: GucSetting<Fault> = GucSetting::<Fault>::new(Fault::None);

/// What auto-indexing does: `off`, `advise` (default: record what it would do), `apply` (build,
/// verify, roll back).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PostgresGucEnum)]
pub enum AutoIndex {
    #[name = c"off"]
    Off,
    #[name = c"advise"]
    Advise,
    #[name = c"apply"]
    Apply,
}
// Auto-indexing (read by src/sql/autoindex.sql with current_setting). Superuser-settable: the
// built-in jobs read the server's values, a superuser may try others in a session.
/// Default advise.
static AUTOINDEX: GucSetting<AutoIndex> = GucSetting::<AutoIndex>::new(AutoIndex::Advise);
/// Hours of the day builds may start, server time zone (`01:00-05:00`); empty (default): any time.
static AUTOINDEX_WINDOW: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// Most builds one run starts. Default 3.
static AUTOINDEX_MAX_INDEXES_PER_RUN: GucSetting<i32> = GucSetting::<i32>::new(3);
/// Most live auto-created indexes per table. Default 2.
static AUTOINDEX_MAX_INDEXES_PER_TABLE: GucSetting<i32> = GucSetting::<i32>::new(2);
/// Most space all live auto-created indexes take together (MB). Default 10 GB.
static AUTOINDEX_MAX_TOTAL_SIZE_MB: GucSetting<i32> = GucSetting::<i32>::new(10 * 1024);
/// Smallest share of the workload cost (percent) an index must save to be built. Default 5.
static AUTOINDEX_MIN_BENEFIT: GucSetting<f64> = GucSetting::<f64>::new(5.0);
/// Percent of the data directory's disk kept free after a build (counted at twice the estimated
/// size). Default 10.
static AUTOINDEX_FREE_DISK_RESERVE: GucSetting<i32> = GucSetting::<i32>::new(10);
/// Calls of the targeted statements after a build before it is verified. Default 100.
static AUTOINDEX_VERIFY_MIN_CALLS: GucSetting<i32> = GucSetting::<i32>::new(100);
/// Verify anyway this long after the build (s). Default 1 day.
static AUTOINDEX_VERIFY_MAX_WAIT_S: GucSetting<i32> = GucSetting::<i32>::new(86_400);
/// Percent the targeted statements' mean time must drop for the index to stay. Default 20.
static AUTOINDEX_MIN_IMPROVEMENT: GucSetting<f64> = GucSetting::<f64>::new(20.0);
/// Percent the table's writes may slow down before the index is rolled back. Default 50.
static AUTOINDEX_MAX_WRITE_REGRESSION: GucSetting<f64> = GucSetting::<f64>::new(50.0);
/// Also apply drop advice (unused and duplicate indexes). Default off.
static AUTOINDEX_DROP: GucSetting<bool> = GucSetting::<bool>::new(false);
/// How long an index must have been advised for dropping before it is dropped (s). Default 7 days.
static AUTOINDEX_DROP_GRACE_S: GucSetting<i32> = GucSetting::<i32>::new(7 * 86_400);

/// Master switch. Default on. Off stops all recording; the stores and views stay.
static ENABLED: GucSetting<bool> = GucSetting::<bool>::new(true);
/// Default `top`.
static TRACK: GucSetting<Track> = GucSetting::<Track>::new(Track::Top);
/// Record utility statements (DDL, VACUUM, COPY, ...). Default on, as pg_stat_statements.
static TRACK_UTILITY: GucSetting<bool> = GucSetting::<bool>::new(true);
/// Record planning time. Default off: timing every planner call costs two clock reads.
static TRACK_PLANNING: GucSetting<bool> = GucSetting::<bool>::new(false);
/// Capacity of the statement store (entries). Default 5000, as pg_stat_statements. Postmaster.
static MAX_STATEMENTS: GucSetting<i32> = GucSetting::<i32>::new(5000);
/// Largest value `pg_optimizer.max_text_bytes` accepts; a saved text longer than this is corrupt.
pub const MAX_TEXT_BYTES_LIMIT: i32 = 16 * 1_048_576;
/// Bytes kept of each normalised query text and of each example: whole texts up to 1 MB by
/// default (longer ones are cut, flagged, and never planned). Postmaster.
static MAX_TEXT_BYTES: GucSetting<i32> = GucSetting::<i32>::new(1_048_576);
/// Shared memory for the texts of all statements (kB). Default 32 MB: about 16 kB of text and
/// example per statement at the default 5000 statements. Postmaster.
static TEXT_MEMORY_KB: GucSetting<i32> = GucSetting::<i32>::new(32 * 1024);
/// Keep the slowest execution's real constants / parameter values. Default on.
static CAPTURE_EXAMPLES: GucSetting<bool> = GucSetting::<bool>::new(true);
/// Fraction of top-level statements recorded, decided once per top-level statement. Default 1.
static SAMPLE_RATE: GucSetting<f64> = GucSetting::<f64>::new(1.0);
/// Fraction of recorded top-level statements whose plans are walked for predicates, joins, sort
/// keys and estimates (with row counting on their scan and join nodes). Default 1.
static PREDICATE_SAMPLE_RATE: GucSetting<f64> = GucSetting::<f64>::new(1.0);
/// Capacity of the predicate store (entries). Default 20000. Postmaster.
static MAX_PREDICATES: GucSetting<i32> = GucSetting::<i32>::new(20000);
/// Keep a small sample of the constants and parameter values each qual ran with. Default on.
static CAPTURE_CONSTANTS: GucSetting<bool> = GucSetting::<bool>::new(true);
/// Save statistics at clean shutdown and load them at start. Default on.
static SAVE: GucSetting<bool> = GucSetting::<bool>::new(true);

/// A plain EXPLAIN (not ANALYZE) in a session that created hypothetical indexes plans with them.
/// Default on. Off: only `explain_with` and the advisor see them.
static HYPOTHETICAL_EXPLAIN: GucSetting<bool> = GucSetting::<bool>::new(true);
/// Storage the index advisor may spend on new indexes, MB. Default 1024.
static ADVISOR_BUDGET_MB: GucSetting<i32> = GucSetting::<i32>::new(1024);
/// Most new indexes the advisor proposes per table. Default 5 (the write-cost model is the main
/// brake; this is a safety net).
static ADVISOR_MAX_PER_TABLE: GucSetting<i32> = GucSetting::<i32>::new(5);
/// Most planner calls one advisor run's search makes before it stops and reports what it has.
/// Default 1,000,000: a safety net behind `advisor_max_seconds`, the cap that binds by default.
static ADVISOR_MAX_PLANNER_CALLS: GucSetting<i32> = GucSetting::<i32>::new(1_000_000);
/// Seconds an advisor run's search may take (default 30): the default cap is a time budget, as a
/// planner call costs from 0.01 to several ms depending on the statement.
static ADVISOR_MAX_SECONDS: GucSetting<f64> = GucSetting::<f64>::new(30.0);
/// Smallest share of the current workload cost one advisor step (a new or widened index) must
/// save, percent. Default 0.5.
static ADVISOR_MIN_BENEFIT_PCT: GucSetting<f64> = GucSetting::<f64>::new(0.5);
/// Multiplier on the modelled cost of maintaining an index on writes. Default 1.
static ADVISOR_WRITE_COST_FACTOR: GucSetting<f64> = GucSetting::<f64>::new(1.0);
/// How far a statement's measured time may re-weight its planner cost (advisor::select::time_factors):
/// its ms per cost unit over the workload's median, clamped to [1/x, x]. 1 = planner cost alone.
/// Default 10.
static ADVISOR_TIME_CALIBRATION: GucSetting<f64> = GucSetting::<f64>::new(10.0);
/// An index never scanned while watched this many days is advised for dropping. Default 14.
static ADVISOR_UNUSED_DAYS: GucSetting<i32> = GucSetting::<i32>::new(14);

/// Run the launcher, schedulers and jobs. Default on. Off: the launcher stops every scheduler
/// (jobs stay in optimizer.jobs); on again starts them. Sighup.
static SCHEDULER: GucSetting<bool> = GucSetting::<bool>::new(true);
/// Databases with a scheduler: a comma-separated list of names, or empty (default) for every
/// database where the extension is installed (found by a short probe of each database that
/// accepts connections and is not a template). Sighup.
static DATABASES: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// Longest lock wait of each step of partition maintenance (ms). Default 2 s; a step is tried
/// three times, then deferred to the next run. User.
static PARTITION_LOCK_TIMEOUT_MS: GucSetting<i32> = GucSetting::<i32>::new(2000);
/// Most jobs running at once per database (each is one background worker). Default 4. Sighup.
static MAX_RUNNING_JOBS: GucSetting<i32> = GucSetting::<i32>::new(4);
/// Days of optimizer.job_runs kept. Default 7. Sighup.
static JOB_HISTORY_DAYS: GucSetting<i32> = GucSetting::<i32>::new(7);
/// Seconds between snapshots of optimizer.statements into optimizer.statement_history (the
/// built-in job `statement_history`). Default 300; 0 turns the job off. Sighup.
static SNAPSHOT_INTERVAL_S: GucSetting<i32> = GucSetting::<i32>::new(300);
/// Days of optimizer.statement_history kept. Default 7. Sighup.
static STATEMENT_HISTORY_DAYS: GucSetting<i32> = GucSetting::<i32>::new(7);
/// The recent window optimizer.statement_trends compares with the older history, seconds.
/// Default 3600. User-settable.
static TREND_WINDOW_S: GucSetting<i32> = GucSetting::<i32>::new(3600);

pub fn init() {
    define_scheduler_gucs();
    define_autoindex_gucs();
    GucRegistry::define_bool_guc(
        c"pg_optimizer.hypothetical_explain",
        c"Plain EXPLAIN plans with this session's hypothetical indexes.",
        c"Never EXPLAIN ANALYZE or EXPLAIN EXECUTE, and never real execution.",
        &HYPOTHETICAL_EXPLAIN,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_optimizer.advisor_budget_mb",
        c"Storage the index advisor may spend on new indexes.",
        c"Also the default of index_advice(budget_mb => ...).",
        &ADVISOR_BUDGET_MB,
        0,
        i32::MAX,
        GucContext::Userset,
        GucFlags::UNIT_MB,
    );
    GucRegistry::define_int_guc(
        c"pg_optimizer.advisor_max_indexes_per_table",
        c"Most new indexes the advisor proposes per table.",
        c"",
        &ADVISOR_MAX_PER_TABLE,
        1,
        100,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_optimizer.advisor_max_planner_calls",
        c"Planner calls after which an advisor run stops and reports what it found.",
        c"",
        &ADVISOR_MAX_PLANNER_CALLS,
        10,
        10_000_000,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"pg_optimizer.advisor_max_seconds",
        c"Seconds after which an advisor run's search stops and reports what it found (the best of the round it stopped in included).",
        c"",
        &ADVISOR_MAX_SECONDS,
        0.01,
        86400.0,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"pg_optimizer.advisor_min_benefit_pct",
        c"Smallest share of the current workload cost, in percent, each new or widened index must save.",
        c"",
        &ADVISOR_MIN_BENEFIT_PCT,
        0.0,
        100.0,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"pg_optimizer.advisor_write_cost_factor",
        c"Multiplier on the modelled cost of maintaining an index on writes.",
        c"0 ignores writes; 2 counts them double.",
        &ADVISOR_WRITE_COST_FACTOR,
        0.0,
        1000.0,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"pg_optimizer.advisor_time_calibration",
        c"Most a statement's measured time per planner cost unit, against the workload's median, re-weights its cost in the index advisor.",
        c"1 weighs statements by planner cost alone; 10 lets one that ran 10x slower than its estimate count up to 10x.",
        &ADVISOR_TIME_CALIBRATION,
        1.0,
        1000.0,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_optimizer.advisor_unused_days",
        c"Days an index must go unscanned, while watched, before the advisor proposes dropping it.",
        c"",
        &ADVISOR_UNUSED_DAYS,
        0,
        36500,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"pg_optimizer.enabled",
        c"Record statement statistics.",
        c"Off stops all recording; recorded statistics remain readable.",
        &ENABLED,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"pg_optimizer.inject_fault",
        c"For tests only: inject a fault into pg_optimizer's own code.",
        c"cancel_in_bookkeeping: recording an execution receives a query cancel. Superuser only.",
        &INJECT_FAULT,
        GucContext::Suset,
        GucFlags::NO_SHOW_ALL,
    );
    GucRegistry::define_enum_guc(
        c"pg_optimizer.track",
        c"Which statements to record: top, all or none.",
        c"top records statements issued by clients; all also records statements nested in functions.",
        &TRACK,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"pg_optimizer.track_utility",
        c"Record utility statements (DDL, VACUUM, COPY, ...).",
        c"",
        &TRACK_UTILITY,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"pg_optimizer.track_planning",
        c"Record planning time.",
        c"Costs two clock reads per planned statement.",
        &TRACK_PLANNING,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_optimizer.max_statements",
        c"Maximum number of statements recorded.",
        c"When full, the least-used 5% are evicted. Needs a restart.",
        &MAX_STATEMENTS,
        100,
        1_000_000,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_optimizer.max_text_bytes",
        c"Longest normalised query text and longest example kept, in bytes.",
        c"Longer texts are cut at a character boundary and flagged (query_truncated, example_truncated); the advisor never plans a cut text. Needs a restart.",
        &MAX_TEXT_BYTES,
        256,
        MAX_TEXT_BYTES_LIMIT,
        GucContext::Postmaster,
        GucFlags::UNIT_BYTE,
    );
    GucRegistry::define_int_guc(
        c"pg_optimizer.text_memory",
        c"Shared memory for the query texts and examples of all recorded statements.",
        c"Texts take what they need, up to max_text_bytes each; when full, dead texts are compacted away, then the least-used statements evicted. Needs a restart.",
        &TEXT_MEMORY_KB,
        1024,
        1024 * 1024,
        GucContext::Postmaster,
        GucFlags::UNIT_KB,
    );
    GucRegistry::define_bool_guc(
        c"pg_optimizer.capture_examples",
        c"Keep the slowest execution of each statement with its real constants and parameters.",
        c"The index advisor plans statements with these values.",
        &CAPTURE_EXAMPLES,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"pg_optimizer.sample_rate",
        c"Fraction of top-level statements recorded.",
        c"Decided once per top-level statement; its nested statements follow that decision.",
        &SAMPLE_RATE,
        0.0,
        1.0,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"pg_optimizer.predicate_sample_rate",
        c"Fraction of recorded statements whose executed plans are walked for predicate statistics.",
        c"Decided once per top-level statement. 0 turns predicate capture off.",
        &PREDICATE_SAMPLE_RATE,
        0.0,
        1.0,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_optimizer.max_predicates",
        c"Maximum number of predicate, join, sort-key and scan entries recorded.",
        c"When full, the least-used 5% are evicted. Needs a restart.",
        &MAX_PREDICATES,
        100,
        10_000_000,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"pg_optimizer.capture_constants",
        c"Keep a sample of the constants and parameter values each predicate ran with.",
        c"Shown in optimizer.predicates to the statement's user and to pg_read_all_stats.",
        &CAPTURE_CONSTANTS,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"pg_optimizer.save",
        c"Save statistics at clean shutdown and reload them at start.",
        c"",
        &SAVE,
        GucContext::Sighup,
        GucFlags::default(),
    );
    unsafe {
        #[cfg(any(feature = "pg13", feature = "pg14"))]
        pg_sys::EmitWarningsOnPlaceholders(c"pg_optimizer".as_ptr());
        #[cfg(not(any(feature = "pg13", feature = "pg14")))]
        pg_sys::MarkGUCPrefixReserved(c"pg_optimizer".as_ptr());
    }
}

fn define_autoindex_gucs() {
    GucRegistry::define_enum_guc(
        c"pg_optimizer.autoindex",
        c"Auto-indexing: off, advise (record what it would do), apply (build, verify, roll back).",
        c"",
        &AUTOINDEX,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"pg_optimizer.autoindex_window",
        c"Hours of the day auto-indexing may start builds, server time zone, such as 01:00-05:00.",
        c"Empty: any time.",
        &AUTOINDEX_WINDOW,
        GucContext::Suset,
        GucFlags::default(),
    );
    let ints: [(&std::ffi::CStr, &std::ffi::CStr, &'static GucSetting<i32>, i32, i32, GucFlags); 7] = [
        (c"pg_optimizer.autoindex_max_indexes_per_run", c"Most index builds one auto-indexing run starts.", &AUTOINDEX_MAX_INDEXES_PER_RUN, 0, 1000, GucFlags::default()),
        (c"pg_optimizer.autoindex_max_indexes_per_table", c"Most live auto-created indexes per table.", &AUTOINDEX_MAX_INDEXES_PER_TABLE, 0, 1000, GucFlags::default()),
        (c"pg_optimizer.autoindex_max_total_size", c"Most space all live auto-created indexes take together.", &AUTOINDEX_MAX_TOTAL_SIZE_MB, 0, i32::MAX, GucFlags::UNIT_MB),
        (c"pg_optimizer.autoindex_free_disk_reserve", c"Percent of the data directory's disk kept free after a build (counted at twice the estimated size).", &AUTOINDEX_FREE_DISK_RESERVE, 0, 99, GucFlags::default()),
        (c"pg_optimizer.autoindex_verify_min_calls", c"Calls of the targeted statements after a build before it is verified.", &AUTOINDEX_VERIFY_MIN_CALLS, 1, i32::MAX, GucFlags::default()),
        (c"pg_optimizer.autoindex_verify_max_wait", c"Verify a build anyway this long after it.", &AUTOINDEX_VERIFY_MAX_WAIT_S, 1, i32::MAX, GucFlags::UNIT_S),
        (c"pg_optimizer.autoindex_drop_grace", c"How long an index must have been advised for dropping before auto-indexing drops it.", &AUTOINDEX_DROP_GRACE_S, 0, i32::MAX, GucFlags::UNIT_S),
    ];
    for (name, short, setting, min, max, flags) in ints {
        GucRegistry::define_int_guc(name, short, c"", setting, min, max, GucContext::Suset, flags);
    }
    let floats: [(&std::ffi::CStr, &std::ffi::CStr, &'static GucSetting<f64>); 3] = [
        (c"pg_optimizer.autoindex_min_benefit", c"Smallest share of the workload cost, in percent, an index must save to be built automatically.", &AUTOINDEX_MIN_BENEFIT),
        (c"pg_optimizer.autoindex_min_improvement", c"Percent the targeted statements' mean time must drop for an auto-created index to stay.", &AUTOINDEX_MIN_IMPROVEMENT),
        (c"pg_optimizer.autoindex_max_write_regression", c"Percent the table's writes may slow down before an auto-created index is rolled back.", &AUTOINDEX_MAX_WRITE_REGRESSION),
    ];
    for (name, short, setting) in floats {
        GucRegistry::define_float_guc(name, short, c"", setting, 0.0, 100_000.0, GucContext::Suset, GucFlags::default());
    }
    GucRegistry::define_bool_guc(
        c"pg_optimizer.autoindex_drop",
        c"Auto-indexing also drops unused and duplicate indexes (never constraint indexes), after the grace period.",
        c"",
        &AUTOINDEX_DROP,
        GucContext::Suset,
        GucFlags::default(),
    );
}

fn define_scheduler_gucs() {
    GucRegistry::define_bool_guc(
        c"pg_optimizer.scheduler",
        c"Run the job scheduler (launcher, one scheduler per database, one worker per running job).",
        c"Off stops the schedulers; jobs stay defined.",
        &SCHEDULER,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"pg_optimizer.databases",
        c"Databases with a job scheduler (comma-separated names).",
        c"Empty: every database where pg_optimizer is installed.",
        &DATABASES,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_optimizer.max_running_jobs",
        c"Most jobs running at once per database.",
        c"Each running job is a background worker: leave room in max_worker_processes.",
        &MAX_RUNNING_JOBS,
        1,
        1000,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_optimizer.job_history_days",
        c"Days of job runs kept in optimizer.job_runs.",
        c"",
        &JOB_HISTORY_DAYS,
        1,
        3650,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_optimizer.snapshot_interval",
        c"Interval between snapshots of optimizer.statements into optimizer.statement_history.",
        c"0 turns the built-in statement_history job off.",
        &SNAPSHOT_INTERVAL_S,
        0,
        86_400,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"pg_optimizer.statement_history_days",
        c"Days of optimizer.statement_history kept.",
        c"",
        &STATEMENT_HISTORY_DAYS,
        1,
        3650,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_optimizer.partition_lock_timeout",
        c"Longest wait for a lock in partition maintenance, per attempt.",
        c"A step that cannot get its lock in time is tried twice more, then left for the next run ('deferred').",
        &PARTITION_LOCK_TIMEOUT_MS,
        1,
        600_000,
        GucContext::Userset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"pg_optimizer.trend_window",
        c"Recent window optimizer.statement_trends compares with the older history.",
        c"",
        &TREND_WINDOW_S,
        60,
        30 * 86_400,
        GucContext::Userset,
        GucFlags::UNIT_S,
    );
}

pub fn scheduler() -> bool {
    SCHEDULER.get()
}
/// The configured database names (empty: discover).
pub fn databases() -> Vec<String> {
    DATABASES
        .get()
        .map(|c| c.to_string_lossy().split(',').map(|d| d.trim().to_string()).filter(|d| !d.is_empty()).collect())
        .unwrap_or_default()
}
pub fn max_running_jobs() -> usize {
    MAX_RUNNING_JOBS.get().max(1) as usize
}
pub fn job_history_days() -> i64 {
    JOB_HISTORY_DAYS.get() as i64
}
pub fn partition_lock_timeout_ms() -> i64 {
    PARTITION_LOCK_TIMEOUT_MS.get() as i64
}
pub fn snapshot_interval_s() -> i64 {
    SNAPSHOT_INTERVAL_S.get() as i64
}

/// Unchecked reads for the hook path (backend main thread only, like every hook).
/// The test-only fault of `pg_optimizer.inject_fault`: a query cancel arrives now (the interrupt
/// is processed as `CHECK_FOR_INTERRUPTS` would inside a PostgreSQL function we call).
#[inline]
pub fn inject_cancel_in_bookkeeping() {
    // The raw ordinal (0 = none, the only other value is this fault): one load and a branch on
    // every recorded execution.
    if unsafe { *INJECT_FAULT.as_ptr() } != 0 {
        unsafe {
            pg_sys::QueryCancelPending = 1;
            pg_sys::InterruptPending = 1;
            pg_sys::ProcessInterrupts();
        }
    }
}

pub mod raw {
    use super::*;
    #[inline(always)]
    pub fn enabled() -> bool {
        unsafe { *ENABLED.as_ptr() }
    }
    #[inline(always)]
    pub fn track() -> Track {
        use pgrx::guc::GucEnum;
        Track::from_ordinal(unsafe { *TRACK.as_ptr() })
    }
    #[inline(always)]
    pub fn track_utility() -> bool {
        unsafe { *TRACK_UTILITY.as_ptr() }
    }
    #[inline(always)]
    pub fn track_planning() -> bool {
        unsafe { *TRACK_PLANNING.as_ptr() }
    }
    #[inline(always)]
    pub fn capture_examples() -> bool {
        unsafe { *CAPTURE_EXAMPLES.as_ptr() }
    }
    #[inline(always)]
    pub fn sample_rate() -> f64 {
        unsafe { *SAMPLE_RATE.as_ptr() }
    }
    #[inline(always)]
    pub fn predicate_sample_rate() -> f64 {
        unsafe { *PREDICATE_SAMPLE_RATE.as_ptr() }
    }
    #[inline(always)]
    pub fn capture_constants() -> bool {
        unsafe { *CAPTURE_CONSTANTS.as_ptr() }
    }
}

pub fn max_statements() -> usize {
    MAX_STATEMENTS.get() as usize
}
pub fn max_text_bytes() -> usize {
    MAX_TEXT_BYTES.get() as usize
}
pub fn text_memory_bytes() -> usize {
    TEXT_MEMORY_KB.get() as usize * 1024
}
pub fn max_predicates() -> usize {
    MAX_PREDICATES.get() as usize
}
pub fn save() -> bool {
    SAVE.get()
}
pub fn hypothetical_explain() -> bool {
    unsafe { *HYPOTHETICAL_EXPLAIN.as_ptr() }
}
pub fn advisor_budget_mb() -> i32 {
    ADVISOR_BUDGET_MB.get()
}
pub fn advisor_max_per_table() -> usize {
    ADVISOR_MAX_PER_TABLE.get() as usize
}
pub fn advisor_max_planner_calls() -> usize {
    ADVISOR_MAX_PLANNER_CALLS.get() as usize
}
pub fn advisor_max_seconds() -> f64 {
    ADVISOR_MAX_SECONDS.get()
}
pub fn advisor_min_benefit_pct() -> f64 {
    ADVISOR_MIN_BENEFIT_PCT.get()
}
pub fn advisor_write_cost_factor() -> f64 {
    ADVISOR_WRITE_COST_FACTOR.get()
}
pub fn advisor_time_calibration() -> f64 {
    ADVISOR_TIME_CALIBRATION.get()
}
pub fn advisor_unused_days() -> f64 {
    ADVISOR_UNUSED_DAYS.get() as f64
}
