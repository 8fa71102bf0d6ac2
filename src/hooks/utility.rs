//! ProcessUtility: utility statements (DDL, VACUUM, COPY, ...) when `pg_optimizer.track_utility`
//! is on. EXECUTE, PREPARE and DEALLOCATE are left to the executor hooks (the prepared statement
//! itself is what is recorded) and do not add a nesting level. Extension DDL tells every backend
//! to re-check whether its database is watched.

use super::*;
use std::time::Instant;

static mut PREV: pg_sys::ProcessUtility_hook_type = None;

pub(super) fn init() {
    unsafe {
        PREV = pg_sys::ProcessUtility_hook;
        pg_sys::ProcessUtility_hook = Some(process_utility);
    }
}

#[inline]
unsafe fn tag(node: *mut pg_sys::Node) -> pg_sys::NodeTag {
    unsafe { (*node).type_ }
}

#[cfg(feature = "pg13")]
macro_rules! chain {
    ($pstmt:expr, $qs:expr, $ro:expr, $ctx:expr, $params:expr, $env:expr, $dest:expr, $qc:expr) => {
        match PREV {
            Some(prev) => prev($pstmt, $qs, $ctx, $params, $env, $dest, $qc),
            None => unguarded::standard_ProcessUtility($pstmt, $qs, $ctx, $params, $env, $dest, $qc),
        }
    };
}
#[cfg(not(feature = "pg13"))]
macro_rules! chain {
    ($pstmt:expr, $qs:expr, $ro:expr, $ctx:expr, $params:expr, $env:expr, $dest:expr, $qc:expr) => {
        match PREV {
            Some(prev) => prev($pstmt, $qs, $ro, $ctx, $params, $env, $dest, $qc),
            None => unguarded::standard_ProcessUtility($pstmt, $qs, $ro, $ctx, $params, $env, $dest, $qc),
        }
    };
}

/// The database a statement needs without other sessions, if any: let our workers leave it.
unsafe fn release_database_of(node: *mut pg_sys::Node, t: pg_sys::NodeTag) {
    unsafe {
        let name: *const std::ffi::c_char = if t == pg_sys::NodeTag::T_DropdbStmt {
            (*(node as *mut pg_sys::DropdbStmt)).dbname
        } else if t == pg_sys::NodeTag::T_RenameStmt
            && (*(node as *mut pg_sys::RenameStmt)).renameType == pg_sys::ObjectType::OBJECT_DATABASE
        {
            (*(node as *mut pg_sys::RenameStmt)).subname
        } else if t == pg_sys::NodeTag::T_CreatedbStmt {
            let mut template = std::ptr::null();
            for def in crate::pg::list::iter::<pg_sys::DefElem>((*(node as *mut pg_sys::CreatedbStmt)).options) {
                if std::ffi::CStr::from_ptr((*def).defname).to_bytes() == b"template" && !(*def).arg.is_null() {
                    template = pg_sys::defGetString(def) as *const std::ffi::c_char;
                }
            }
            template
        } else {
            return;
        };
        if name.is_null() {
            return;
        }
        let oid = pg_sys::get_database_oid(name, true);
        if oid != pg_sys::InvalidOid {
            crate::shmem::workers::release_database(oid.to_u32());
        }
    }
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C-unwind" fn process_utility(
    pstmt: *mut pg_sys::PlannedStmt,
    query_string: *const std::ffi::c_char,
    #[cfg(not(feature = "pg13"))] read_only_tree: bool,
    context: pg_sys::ProcessUtilityContext::Type,
    params: pg_sys::ParamListInfo,
    query_env: *mut pg_sys::QueryEnvironment,
    dest: *mut pg_sys::DestReceiver,
    qc: *mut pg_sys::QueryCompletion,
) {
    unsafe {
        #[cfg(feature = "pg13")]
        let read_only_tree = false;
        let node = (*pstmt).utilityStmt;
        let t = tag(node);
        let delegated = t == pg_sys::NodeTag::T_ExecuteStmt
            || t == pg_sys::NodeTag::T_PrepareStmt
            || t == pg_sys::NodeTag::T_DeallocateStmt;
        let extension_ddl = t == pg_sys::NodeTag::T_CreateExtensionStmt
            || t == pg_sys::NodeTag::T_AlterExtensionStmt
            || (t == pg_sys::NodeTag::T_DropStmt
                && (*(node as *mut pg_sys::DropStmt)).removeType == pg_sys::ObjectType::OBJECT_EXTENSION);

        if delegated {
            chain!(pstmt, query_string, read_only_tree, context, params, query_env, dest, qc);
            return;
        }
        // DROP DATABASE, CREATE DATABASE ... TEMPLATE and ALTER DATABASE ... RENAME wait for the
        // database's other sessions to end: ask its scheduler to leave first. (The tag test keeps
        // `quietly`'s set-up off every other utility statement.)
        if t == pg_sys::NodeTag::T_DropdbStmt || t == pg_sys::NodeTag::T_CreatedbStmt || t == pg_sys::NodeTag::T_RenameStmt {
            quietly("releasing a database from its scheduler", || release_database_of(node, t));
        }
        let queryid = match (*pstmt).queryId {
            0 => recall_utility_id(node, (*pstmt).stmt_location),
            id => id,
        };
        // Decided before the statement runs: a DROP EXTENSION removes what `gate` looks at. The
        // location is copied too (the statement may change its tree); the query string itself
        // outlives the call. Nothing held here has a destructor: an error longjmps over us.
        let mut key = None;
        let (loc, len) = ((*pstmt).stmt_location, (*pstmt).stmt_len);
        quietly("deciding on sampling", || {
            decide_sample(Phase::Utility, queryid);
            if gucs::raw::track_utility() && gate(queryid) {
                key = Some(key_for(queryid));
            }
        });
        let buf0 = pg_sys::pgBufferUsage;
        let wal0 = pg_sys::pgWalUsage;
        let start = Instant::now();
        // A plain EXPLAIN may plan with this session's hypothetical indexes. The scope closes on
        // every exit: here on success and on error, and by `whatif`'s (sub)transaction-abort
        // callbacks as a second net.
        let mut hypothetical = false;
        // The utility call and then the planner each add one nesting level.
        quietly("opening the hypothetical-index scope", || hypothetical = crate::whatif::open_explain(node, nesting() + 2));
        let close = || {
            if hypothetical {
                crate::whatif::close_explain();
            }
        };
        nested_or(|| chain!(pstmt, query_string, read_only_tree, context, params, query_env, dest, qc), close);
        close();
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        if extension_ddl {
            extension_changed();
        }
        if let Some(key) = key {
            quietly("recording a utility statement", || {
                let b = diff_buffers(&*&raw const pg_sys::pgBufferUsage, &buf0);
                let w = diff_wal(&*&raw const pg_sys::pgWalUsage, &wal0);
                let rows = if qc.is_null() { 0 } else { rows_of(&*qc) };
                let usage = super::executor::usage_of(&b, &w, rows);
                let x = shmem::Execution { ms, usage: &usage, now: unguarded::GetCurrentStatementStartTimestamp() };
                // Built only when needed: a new entry's text, or the example of a new slowest run.
                let text = || statement_text(query_string, loc, len);
                let example = || {
                    let t = text();
                    let n = t.len() as u32;
                    Some((t, n))
                };
                shmem::record_execution(&key, &x, text, example);
            });
        }
    }
}

/// Rows reported for the utility statements that have a row count, as pg_stat_statements does.
fn rows_of(qc: &pg_sys::QueryCompletion) -> u64 {
    use pg_sys::CommandTag::*;
    match qc.commandTag {
        CMDTAG_COPY | CMDTAG_FETCH | CMDTAG_SELECT | CMDTAG_REFRESH_MATERIALIZED_VIEW => qc.nprocessed,
        _ => 0,
    }
}

fn diff_buffers(a: &pg_sys::BufferUsage, b: &pg_sys::BufferUsage) -> pg_sys::BufferUsage {
    let mut d = *a;
    d.shared_blks_hit -= b.shared_blks_hit;
    d.shared_blks_read -= b.shared_blks_read;
    d.shared_blks_dirtied -= b.shared_blks_dirtied;
    d.shared_blks_written -= b.shared_blks_written;
    d.local_blks_hit -= b.local_blks_hit;
    d.local_blks_read -= b.local_blks_read;
    d.local_blks_dirtied -= b.local_blks_dirtied;
    d.local_blks_written -= b.local_blks_written;
    d.temp_blks_read -= b.temp_blks_read;
    d.temp_blks_written -= b.temp_blks_written;
    d.blk_read_time = instr_sub(&a.blk_read_time, &b.blk_read_time);
    d.blk_write_time = instr_sub(&a.blk_write_time, &b.blk_write_time);
    d
}

fn instr_sub(a: &pg_sys::instr_time, b: &pg_sys::instr_time) -> pg_sys::instr_time {
    let mut d = *a;
    #[cfg(any(feature = "pg13", feature = "pg14", feature = "pg15"))]
    {
        d.tv_sec -= b.tv_sec;
        d.tv_nsec -= b.tv_nsec;
        if d.tv_nsec < 0 {
            d.tv_nsec += 1_000_000_000;
            d.tv_sec -= 1;
        }
    }
    #[cfg(not(any(feature = "pg13", feature = "pg14", feature = "pg15")))]
    {
        d.ticks -= b.ticks;
    }
    d
}

fn diff_wal(a: &pg_sys::WalUsage, b: &pg_sys::WalUsage) -> pg_sys::WalUsage {
    let mut d = *a;
    d.wal_records -= b.wal_records;
    d.wal_fpi -= b.wal_fpi;
    d.wal_bytes -= b.wal_bytes;
    d
}
