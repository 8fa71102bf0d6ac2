//! pg_optimizer: the database watches its own workload and tunes itself.
//!
//! The module list is the table of contents:
//! - `gucs`    every `pg_optimizer.*` setting
//! - `error`   the error type of the SQL surface (SQLSTATE + hint)
//! - `pg`      FFI glue: internal subtransactions, running code as another role (`pg::identity`),
//!             the nesting count and PG_TRY (`pg::nesting`), texts in the reader's encoding
//! - `stats`   re-exported from the pure core crate (`core/`, `pg_optimizer_core`): counters,
//!             histogram, Welford, eviction order, normalisation, dump formats
//! - `shmem`   the shared-memory statement store: lock protocol, lookup, eviction, dump/load
//! - `hooks`   post_parse_analyze, planner, executor and utility hooks that feed the stores
//! - `capture` the executed-plan walk: quals, join clauses, sort keys, estimate errors
//! - `whatif`  hypothetical indexes: definition, injection into the planner, sizes, costing
//! - `advisor` the index advisor: catalog reads and the run; its pure logic is the core's
//! - `scheduler` jobs: their SQL, the execution of one run (as its owner), the runner hand-off
//! - `partitions` partition sets: create ahead, retention, default-partition rescue, online
//!             conversion and its undo, run by a worker as each table's owner
//! - `insights` the linter's inputs (statements, catalog facts) and the report's JSON document;
//!             the rules and the rendering are the core's (most insights are SQL views)
//! - `workers` the background processes: launcher, one scheduler per database, job runners
//! - `api`     every SQL function; the views over them are in `src/sql/`
//!
//! **Layers only look down** (`scripts/check_layers.py`, run by `make unit`, enforces it):
//! `pg_optimizer_core` (pure) -> `pg`, `gucs`, `error` (FFI glue, settings, errors) -> `shmem`
//! (stores) -> `capture` (the plan walk) and `whatif` -> `hooks` -> `advisor`, `scheduler`, `partitions`,
//! `insights` ->
//! `workers` -> `api`. A module
//! uses only modules of its own layer or below; the hooks own the nesting count and pass depths
//! down (`pg::nesting` documents the protocol).

use pgrx::prelude::*;

pub mod api;
pub mod error;
pub mod gucs;
pub mod hooks;
pub mod pg;
pub mod capture;
pub mod shmem;
pub use pg_optimizer_core::stats;
pub mod whatif;
pub mod advisor;
pub mod scheduler;
pub mod partitions;
pub mod insights;
pub mod workers;

::pgrx::pg_module_magic!(name, version);

// Views over the raw functions, then the scheduler's tables, the maintenance actions, partition
// sets, auto-indexing, the statement history (which reads the views) and the insights, in that
// order.
extension_sql_file!(
    "sql/views.sql",
    name = "views",
    requires = [statements_raw, statements_info_raw, predicates_raw, predicates_info_raw, hypothetical_indexes_raw, reset, reset_predicates]
);
extension_sql_file!("sql/scheduler.sql", name = "scheduler", requires = ["views", next_run, run_job, run_in_worker]);
extension_sql_file!("sql/maintenance.sql", name = "maintenance", requires = ["scheduler"]);
extension_sql_file!("sql/partitions.sql", name = "partitions", requires = ["scheduler", partition_request]);
extension_sql_file!("sql/partition_advice.sql", name = "partition_advice", requires = ["views", "partitions"]);
extension_sql_file!("sql/indexes.sql", name = "indexes", requires = ["scheduler", "maintenance", run_in_worker_as]);
extension_sql_file!("sql/autoindex.sql", name = "autoindex", requires = ["indexes", "views", autoindex_candidates, disk_space]);
extension_sql_file!("sql/history.sql", name = "history", requires = ["views", "scheduler", "maintenance"]);
// Insights read the views, the statement history (regressions) and the maintenance rules; health()
// sums them up last.
extension_sql_file!("sql/insights_storage.sql", name = "insights_storage", requires = ["maintenance"]);
extension_sql_file!("sql/insights_statistics.sql", name = "insights_statistics", requires = ["views"]);
extension_sql_file!("sql/insights_activity.sql", name = "insights_activity", requires = ["views"]);
// The workload that travels, and the linter (the report is a function: nothing to create).
extension_sql_file!("sql/workload.sql", name = "workload", requires = ["views"]);
extension_sql_file!("sql/lint.sql", name = "lint", requires = ["views", lint_statements]);
extension_sql_file!("sql/insights.sql", name = "insights", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    pg::no_backtraces_in_errors();
    // Settings, shared memory, hooks and workers exist only when preloaded (postmaster-level
    // settings cannot be defined later); without that the SQL functions answer with an error and
    // a hint.
    if unsafe { !pg_sys::process_shared_preload_libraries_in_progress } {
        return;
    }
    gucs::init();
    shmem::init();
    hooks::init();
    capture::init();
    whatif::init();
    workers::init();
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    // One file per concern; include! keeps them inside the `tests` schema module.
    include!("tests/statements.rs");
    include!("tests/predicates.rs");
    include!("tests/whatif.rs");
    include!("tests/advisor.rs");
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec!["shared_preload_libraries='pg_optimizer'", "pg_optimizer.max_statements=1000"]
    }
}
