//! Auto-indexing's one native helper: the free space of the data directory's file system. The
//! loop itself (`autoindex_run`, `autoindex_verify`, `optimizer.index_actions`) is SQL in
//! `src/sql/autoindex.sql`, over `index_advice`'s candidates (`autoindex_candidates`) and
//! `create_index`.

use crate::error::Result;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

/// Free bytes (available to PostgreSQL's user) and total bytes of the file system holding the
/// data directory.
#[pg_extern(volatile, parallel_safe)]
fn disk_space() -> Result<TableIterator<'static, (name!(free_bytes, i64), name!(total_bytes, i64))>> {
    let dir = unsafe { std::ffi::CStr::from_ptr(pg_sys::DataDir) };
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(dir.as_ptr(), &mut st) } != 0 {
        return Err(ErrorReport::new(
            PgSqlErrorCode::ERRCODE_IO_ERROR,
            format!("could not read the free space of {}: {}", dir.to_string_lossy(), std::io::Error::last_os_error()),
            "pg_optimizer",
        ));
    }
    let unit = st.f_frsize as i64;
    Ok(TableIterator::once((st.f_bavail as i64 * unit, st.f_blocks as i64 * unit)))
}
