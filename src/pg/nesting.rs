//! Nesting depth of statement execution, and a Rust rendering of `PG_TRY ... PG_CATCH`.
//!
//! The protocol every layer relies on: the hooks raise the level by one around each chained call
//! (planner, ExecutorRun, ExecutorFinish, ProcessUtility) with [`nested`], and restore it on
//! success and on error. So a statement issued by a client runs at level 0, and a planner call
//! made now plans at [`planning_level`]. Hooks own the counting; code below them only reads it.

use super::unguarded;
use pgrx::pg_sys;

static mut NESTING: i32 = 0;

/// Nesting depth of statement execution: 0 for a client's statement. Raised around the chained
/// planner, ExecutorRun, ExecutorFinish and ProcessUtility calls by [`nested`].
#[inline]
pub(crate) fn nesting() -> i32 {
    unsafe { NESTING }
}

/// The level at which a planner call made now plans (the planner hook adds one).
#[inline]
pub(crate) fn planning_level() -> i32 {
    nesting() + 1
}

/// `PG_TRY { body } PG_CATCH { on_error(); PG_RE_THROW(); }`: the original error goes on to the
/// next handler. `body` must hold nothing with a destructor (it is skipped by the longjmp).
#[inline(always)]
pub(crate) unsafe fn try_rethrow<R>(body: impl FnOnce() -> R, on_error: impl FnOnce()) -> R {
    unsafe {
        let saved_stack = pg_sys::PG_exception_stack;
        let saved_context = pg_sys::error_context_stack;
        let mut result = std::mem::MaybeUninit::<R>::uninit();
        let jumped = cee_scape::call_with_sigsetjmp(false, |jbuf| {
            pg_sys::PG_exception_stack = jbuf as *const cee_scape::SigJmpBufFields as *mut pg_sys::sigjmp_buf;
            result.write(body());
            0
        });
        pg_sys::PG_exception_stack = saved_stack;
        pg_sys::error_context_stack = saved_context;
        if jumped != 0 {
            on_error();
            unguarded::pg_re_throw();
        }
        result.assume_init()
    }
}

/// Run `body` one nesting level deeper; the level is restored on success and on error.
#[inline(always)]
pub(crate) unsafe fn nested<R>(body: impl FnOnce() -> R) -> R {
    unsafe {
        NESTING += 1;
        let r = try_rethrow(body, || NESTING -= 1);
        NESTING -= 1;
        r
    }
}

/// [`nested`], calling `on_error` (at the restored depth) before the error goes on.
#[inline(always)]
pub(crate) unsafe fn nested_or<R>(body: impl FnOnce() -> R, on_error: impl FnOnce()) -> R {
    unsafe {
        NESTING += 1;
        let r = try_rethrow(body, || {
            NESTING -= 1;
            on_error()
        });
        NESTING -= 1;
        r
    }
}
