//! pg_optimizer's pure core: everything that reasons without a server, tested with plain
//! `cargo test -p pg_optimizer_core` (no PostgreSQL, no pgrx). The extension crate (`pg_optimizer`)
//! is glue around it: it fills these types from shared memory and the catalogs, and gives the
//! advisor the real planner as its cost model.
//!
//! - `stats`   statement and predicate statistics as plain data: counters, histogram, Welford,
//!             eviction order, query-text normalisation, the dump formats
//! - `hash`    the hash functions (stable FNV-1a for files and index names; a fast word hash)
//! - `params`  bound parameter values in PostgreSQL's log format, parsed back
//! - `schedule` job schedules (clock-aligned intervals, 5-field cron, start windows) and each
//!             job's next due time: the scheduler's arithmetic
//! - `handoff` the byte layout of commands handed to a job runner and of its per-command results
//! - `partitions` partition arithmetic: aligned time and integer spans, bounds, names within 63
//!             bytes, what to create ahead, retire, or rescue from a default partition
//!             and the quoted DDL text of partition management
//! - `size`    index size estimates (btree, hash, BRIN, GIN) from column statistics
//! - `advisor` the index advisor's model, candidates, coverage, Extend selection, write cost, drop
//!             rules, DDL and reasons
//! - `lint`    the anti-pattern linter: rules over sqlparser's AST and each statement's numbers
//! - `report`  the report (text and one self-contained HTML page with inline SVG charts), rendered
//!             from its JSON document

pub mod advisor;
pub mod handoff;
pub mod hash;
pub mod lint;
pub mod params;
pub mod partitions;
pub mod report;
pub mod schedule;
pub mod size;
pub mod stats;
