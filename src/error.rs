//! One error type for the SQL surface. Each variant maps to a SQLSTATE, a message and a hint, so a
//! DBA in psql learns what went wrong and what to do. Hooks and workers never raise: they log.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::PgSqlErrorCode;

#[derive(Debug, Clone, PartialEq)]
pub enum OptimizerError {
    /// The library was not in shared_preload_libraries when the server started.
    NotPreloaded,
    /// No statement with that query id is visible to the caller.
    UnknownQueryId(i64),
}

impl OptimizerError {
    fn parts(&self) -> (PgSqlErrorCode, String, String) {
        match self {
            OptimizerError::NotPreloaded => (
                PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                "pg_optimizer must be loaded via shared_preload_libraries".into(),
                "Add pg_optimizer to shared_preload_libraries in postgresql.conf and restart the server.".into(),
            ),
            OptimizerError::UnknownQueryId(q) => (
                PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
                format!("no recorded statement has queryid {q}"),
                "Pick a queryid from optimizer.statements; it may have been evicted or reset.".into(),
            ),
        }
    }
}

impl std::fmt::Display for OptimizerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.parts().1)
    }
}

impl From<OptimizerError> for ErrorReport {
    #[track_caller]
    fn from(e: OptimizerError) -> ErrorReport {
        let (code, message, hint) = e.parts();
        ErrorReport::new(code, message, "pg_optimizer").set_hint(hint)
    }
}

pub type Result<T> = std::result::Result<T, ErrorReport>;

/// An invalid argument of a SQL function (SQLSTATE 22023), with a hint.
pub fn invalid_argument(message: String, hint: &str) -> ErrorReport {
    ErrorReport::new(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, message, "pg_optimizer").set_hint(hint.to_string())
}

/// The message of an SPI failure (for the `Result<_, String>` of catalog reads and job bookkeeping).
pub(crate) fn spi_err(e: pgrx::spi::SpiError) -> String {
    e.to_string()
}

/// The message of an error caught at pgrx's boundary (a PostgreSQL ERROR or a Rust panic).
pub(crate) fn caught_message(e: &pgrx::pg_sys::panic::CaughtError) -> String {
    use pgrx::pg_sys::panic::CaughtError::*;
    match e {
        PostgresError(r) | ErrorReport(r) | RustPanic { ereport: r, .. } => r.message().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_a_hint_and_sqlstate() {
        for e in [OptimizerError::NotPreloaded, OptimizerError::UnknownQueryId(42)] {
            let (code, msg, hint) = e.parts();
            assert!(!msg.is_empty() && !hint.is_empty());
            assert_ne!(code, PgSqlErrorCode::ERRCODE_INTERNAL_ERROR);
        }
        assert!(OptimizerError::UnknownQueryId(42).to_string().contains("42"));
    }
}
