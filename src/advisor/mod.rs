//! The index advisor in the server: `catalog` reads the catalogs, statistics and our stores into
//! the core's model; `run` ties the core's pure logic (`pg_optimizer_core::advisor`: candidates,
//! coverage, merge, Extend selection, write cost, drop rules, DDL and reasons) to the what-if
//! planner (`crate::whatif`) and to the identity helper (`crate::pg::identity`).

pub use pg_optimizer_core::advisor::{candidates, coverage, drop, merge, model, robust, select, text, write_cost};

pub mod catalog;
pub mod run;
pub mod workload;
