//! Every SQL-callable function, grouped by concern. Views over them live in `src/sql/`.

pub mod statements;
pub mod predicates;
pub mod whatif;
pub mod advisor;
pub mod jobs;
pub mod partitions;
pub mod autoindex;
pub mod workload;
pub mod insights;
