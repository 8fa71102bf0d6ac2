//! The index advisor's pure logic: `model` (plain data), `candidates` (which indexes could help,
//! from the recorded predicates and sort keys), `coverage` (what existing indexes already serve;
//! duplicates), `merge` (covering candidates that serve several statements), `select` (Extend over
//! the whole workload, with a cost cache and an injected cost model), `write_cost` (what an index
//! costs on writes), `drop` (which indexes to drop), `text` (DDL, names and one-sentence
//! reasons), `workload` (the portable workload document of export_workload / import_workload),
//! `compress` (statements that plan alike are costed once), `robust` (how far to trust a saving
//! priced with row estimates that were badly wrong).

pub mod candidates;
pub mod compress;
pub mod coverage;
pub mod drop;
pub mod text;
pub mod merge;
pub mod model;
pub mod robust;
pub mod select;
pub mod workload;
pub mod write_cost;
