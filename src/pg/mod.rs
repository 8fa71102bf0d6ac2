//! FFI glue shared by every feature that calls into PostgreSQL from a SQL function: internal
//! subtransactions, running code as another role, re-raising what must not be swallowed, memory
//! context guards, and texts in the reading database's encoding.

pub mod identity;
pub mod list;
pub mod nesting;
pub mod text;
pub mod toplevel;
#[allow(clashing_extern_declarations)]
pub(crate) mod unguarded;

use pgrx::pg_sys;
use pgrx::prelude::*;

static mut RNG: u64 = 0;

/// A backend-local pseudo-random number (xorshift64*, seeded from the pid and the clock).
pub(crate) fn random_u64() -> u64 {
    unsafe {
        if RNG == 0 {
            RNG = (pg_sys::MyProcPid as u64).wrapping_mul(0x9E3779B97F4A7C15)
                ^ (unguarded::GetCurrentStatementStartTimestamp() as u64)
                | 1;
        }
        RNG ^= RNG >> 12;
        RNG ^= RNG << 25;
        RNG ^= RNG >> 27;
        RNG.wrapping_mul(0x2545F4914F6CDD1D)
    }
}

/// The current statement's start time (TimestampTz).
#[inline]
pub(crate) fn statement_start() -> i64 {
    unsafe { unguarded::GetCurrentStatementStartTimestamp() }
}

/// The privacy rule of every view over our stores, as a test of an entry's user id: the caller's
/// own entries, or everyone's for a superuser or a member of pg_read_all_stats.
pub fn visible_to_caller() -> impl Fn(u32) -> bool {
    let (all, me) = unsafe {
        let me = pg_sys::GetUserId();
        (pg_sys::superuser() || pg_sys::has_privs_of_role(me, pg_sys::Oid::from(pg_sys::ROLE_PG_READ_ALL_STATS)), me.to_u32())
    };
    move |userid| all || userid == me
}

/// PostgreSQL errors reach the user as PostgreSQL raised them, never with a Rust backtrace in
/// DETAIL. pgrx captures one (`Backtrace::capture()`) for every PostgreSQL error that crosses
/// Rust code whenever `RUST_BACKTRACE` is set in the server's environment, and prints it in
/// DETAIL. `RUST_LIB_BACKTRACE=0` turns captured backtraces off (panics still print theirs to the
/// server log under `RUST_BACKTRACE`), unless the DBA set `RUST_LIB_BACKTRACE` on purpose. Called
/// first in `_PG_init`, single-threaded, before anything can capture.
pub fn no_backtraces_in_errors() {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
}

/// Run `body` in an internal subtransaction: an ERROR inside rolls it back and comes back as
/// `Err(message)`; the caller's memory context and resource owner are restored either way. A
/// cancel, statement timeout or termination is not an answer: it is re-raised.
pub fn in_subtransaction<R>(body: impl FnOnce() -> R) -> Result<R, String> {
    unsafe {
        let cxt = pg_sys::CurrentMemoryContext;
        let owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(cxt);
        let body = std::panic::AssertUnwindSafe(body);
        let r = PgTryBuilder::new(move || {
            let r = body();
            pg_sys::ReleaseCurrentSubTransaction();
            pg_sys::MemoryContextSwitchTo(cxt);
            pg_sys::CurrentResourceOwner = owner;
            Ok(r)
        })
        .catch_others(|e| {
            pg_sys::MemoryContextSwitchTo(cxt);
            pg_sys::RollbackAndReleaseCurrentSubTransaction();
            pg_sys::MemoryContextSwitchTo(cxt);
            pg_sys::CurrentResourceOwner = owner;
            Err(e)
        })
        .execute();
        match r {
            Ok(v) => Ok(v),
            Err(e) if must_propagate(&e) => e.rethrow(),
            Err(e) => Err(crate::error::caught_message(&e)),
        }
    }
}

/// Whether a caught error must go on to PostgreSQL whatever our code wanted to do with it: a
/// query cancel or statement timeout (57014), an administrator's termination or shutdown (class
/// 57), anything above ERROR.
pub fn must_propagate(e: &pg_sys::panic::CaughtError) -> bool {
    use pg_sys::panic::CaughtError::*;
    match e {
        PostgresError(r) => {
            r.level() > pgrx::PgLogLevel::ERROR || {
                let code = r.sql_error_code() as i32;
                // SQLSTATE class 57 (operator intervention): 57014, 57P01..57P05.
                pgrx::PgSqlErrorCode::ERRCODE_OPERATOR_INTERVENTION as i32 & 0xFFF == code & 0xFFF
            }
        }
        _ => false,
    }
}

/// Raise a caught error again, from a frame without pgrx's boundary (a hook): the boundary here
/// turns it back into a PostgreSQL error at its level and SQLSTATE.
#[pg_guard]
pub unsafe extern "C-unwind" fn raise_caught(e: *mut pg_sys::panic::CaughtError) -> ! {
    let e = unsafe { Box::from_raw(e) };
    e.rethrow()
}

/// The current memory context, switched for the life of the guard (restored on unwind too).
pub struct MemoryContextGuard(pg_sys::MemoryContext);

impl MemoryContextGuard {
    /// # Safety
    /// `cxt` must be a valid memory context that outlives the guard.
    pub unsafe fn switch_to(cxt: pg_sys::MemoryContext) -> MemoryContextGuard {
        unsafe { MemoryContextGuard(pg_sys::MemoryContextSwitchTo(cxt)) }
    }
}

impl Drop for MemoryContextGuard {
    fn drop(&mut self) {
        unsafe { pg_sys::CurrentMemoryContext = self.0 };
    }
}

/// The first column of the first row of a read-only query. `Spi::get_one` (and its kin) run the
/// query as an update, which marks the transaction as writing and so assigns it a transaction ID:
/// an error on a standby ("cannot assign TransactionIds during recovery") and an ID used up on a
/// primary. Read paths (the advisor, the linter, the report, export_workload) use this instead.
pub fn read_one<T: FromDatum + IntoDatum>(sql: &str, args: &[pgrx::datum::DatumWithOid]) -> Result<Option<T>, pgrx::spi::SpiError> {
    Spi::connect(|c| c.select(sql, Some(1), args)?.first().get_one::<T>())
}

/// Rows of a read-only query with every column as text (the queries cast what they select).
pub fn text_rows(sql: &str, args: &[pgrx::datum::DatumWithOid]) -> Result<Vec<Vec<Option<String>>>, String> {
    Spi::connect(|c| {
        let t = c.select(sql, None, args).map_err(crate::error::spi_err)?;
        let n = t.columns().map_err(crate::error::spi_err)?;
        let mut out = vec![];
        for r in t {
            let mut row = Vec::with_capacity(n);
            for i in 1..=n {
                row.push(r.get::<String>(i).map_err(crate::error::spi_err)?);
            }
            out.push(row);
        }
        Ok(out)
    })
}
