//! The workload that travels: `export_workload()` (this server's recorded workload as a JSON
//! document) and `import_workload(document, source)` (stores one in
//! `optimizer.imported_workloads`, for `index_advice(sources => ...)`). The shape:
//! `pg_optimizer_core::advisor::workload`.

use crate::advisor::workload::{self, LOCAL};
use crate::error::{invalid_argument, Result};
use pg_optimizer_core::advisor::workload as doc;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{JsonB, PgSqlErrorCode};

/// This database's recorded workload that the caller may read (statements with their examples,
/// predicates, sort keys, table write counters), as a versioned JSON document. Works on a
/// standby (it only reads).
#[pg_extern(volatile, parallel_unsafe)]
fn export_workload() -> Result<JsonB> {
    crate::api::statements::require_preloaded()?;
    let w = workload::export().map_err(|m| ErrorReport::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, format!("export_workload failed: {m}"), "pg_optimizer"))?;
    let v = serde_json::to_value(&w).map_err(|e| ErrorReport::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, format!("export_workload failed: {e}"), "pg_optimizer"))?;
    Ok(JsonB(v))
}

/// Store a document written by `export_workload()` under `source` (replacing the caller's
/// earlier import of that name; another role's import of the same name is its own). Returns what it holds. `index_advice(sources => ARRAY['local',
/// source])` then advises this server's workload and the imported one together.
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::type_complexity)]
fn import_workload(
    document: Option<JsonB>,
    source: Option<String>,
) -> Result<
    TableIterator<
        'static,
        (
            name!(source, String),
            name!(database, String),
            name!(exported_at, String),
            name!(statements, i32),
            name!(predicates, i32),
            name!(sort_keys, i32),
            name!(tables, i32),
            name!(roles_missing, i32),
            name!(roles_not_held, i32),
        ),
    >,
> {
    let hint_source = "source names the imported workload in optimizer.imported_workloads (1 to 63 bytes, not 'local'), e.g. 'standby1'.";
    let source = source.ok_or_else(|| invalid_argument("source must not be NULL".into(), hint_source))?;
    if source.is_empty() || source.len() > 63 || source == LOCAL {
        return Err(invalid_argument(format!("\"{source}\" cannot name an imported workload"), hint_source));
    }
    let document = document.ok_or_else(|| invalid_argument("document must not be NULL".into(), "Pass what optimizer.export_workload() returned on the other server."))?;
    let text = document.0.to_string();
    let w = doc::parse(&text).map_err(|e| invalid_argument(format!("cannot import this document: {e}"), "Pass what optimizer.export_workload() returned on the other server (shape version 1)."))?;
    // Who the statements ran as, against this server's roles and the importer's privileges.
    let (mut missing, mut not_held) = (0, 0);
    let me = unsafe { pg_sys::GetUserId() };
    for s in &w.statements {
        let role = workload::role_oid(&s.role);
        if role == pg_sys::InvalidOid {
            missing += 1;
        } else if !unsafe { pg_sys::has_privs_of_role(me, role) } {
            not_held += 1;
        }
    }
    Spi::run_with_args(
        "DELETE FROM optimizer.imported_workloads WHERE source = $1 AND imported_by = CURRENT_USER::text::regrole",
        &[source.clone().into()],
    )
    .map_err(internal)?;
    Spi::run_with_args(
        "INSERT INTO optimizer.imported_workloads (source, database, exported_at, server_version, in_recovery, document)
         VALUES ($1, $2, NULLIF($3, '')::timestamptz, $4, $5, $6::jsonb)",
        &[
            source.clone().into(),
            w.database.clone().into(),
            w.exported_at.clone().into(),
            w.server_version.clone().into(),
            w.in_recovery.into(),
            text.into(),
        ],
    )
    .map_err(internal)?;
    if not_held > 0 {
        pgrx::notice!(
            "{not_held} statement(s) of \"{source}\" ran as roles whose privileges you do not hold: index_advice will not plan them (it plans a statement as its role, and only if its importer could)"
        );
    }
    Ok(TableIterator::once((
        source,
        w.database.clone(),
        w.exported_at.clone(),
        w.statements.len() as i32,
        w.predicates.len() as i32,
        w.sort_keys.len() as i32,
        w.tables.len() as i32,
        missing,
        not_held,
    )))
}

fn internal(e: pgrx::spi::SpiError) -> ErrorReport {
    ErrorReport::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, format!("import_workload failed: {e}"), "pg_optimizer")
}
