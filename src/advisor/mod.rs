//! The index advisor.
//!
//! Pure logic, unit-tested without a server: `model` (plain data), `candidates` (which indexes
//! could help, from our predicate and sort-key rows), `coverage` (what existing indexes already
//! serve; duplicates), `select` (Extend over the whole workload, with a cost cache),
//! `write_cost` (what an index costs on writes), `drop` (which indexes to drop), `explain` (DDL,
//! names and one-sentence reasons). `catalog` reads the catalogs, statistics and our stores into
//! the model; `run` ties them to the what-if planner (`crate::whatif`).

pub mod model;
pub mod select;
pub mod write_cost;
pub mod catalog;
pub mod coverage;
pub mod candidates;
pub mod drop;
pub mod explain;
pub mod run;
