//! Insights computed in Rust (most insights are SQL views: src/sql/insights*.sql): the linter's
//! inputs from this server (`lint`) and the report's JSON document (`report`). The rules and the
//! rendering are pure, in `pg_optimizer_core::{lint, report}`.

pub mod lint;
pub mod report;
