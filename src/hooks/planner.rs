//! planner: planning time, when `pg_optimizer.track_planning` is on. Planning counts as a nesting
//! level, so statements the planner runs (e.g. while folding SQL functions) are nested ones.

use super::*;
use std::time::Instant;

static mut PREV: pg_sys::planner_hook_type = None;

pub(super) fn init() {
    unsafe {
        PREV = pg_sys::planner_hook;
        pg_sys::planner_hook = Some(planner);
    }
}

unsafe extern "C-unwind" fn planner(
    parse: *mut pg_sys::Query,
    query_string: *const std::ffi::c_char,
    cursor_options: i32,
    bound_params: pg_sys::ParamListInfo,
) -> *mut pg_sys::PlannedStmt {
    unsafe {
        let call = || match PREV {
            Some(prev) => prev(parse, query_string, cursor_options, bound_params),
            None => unguarded::standard_planner(parse, query_string, cursor_options, bound_params),
        };
        let queryid = (*parse).queryId;
        let mut tracked = false;
        if gucs::raw::track_planning() && !query_string.is_null() {
            quietly("deciding on sampling", || {
                decide_sample(Phase::Plan, queryid);
                tracked = gate(queryid);
            });
        }
        if !tracked {
            return nested(call);
        }
        let start = Instant::now();
        let result = nested(call);
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        quietly("recording planning time", || {
            let key = key_for(queryid);
            let now = unguarded::GetCurrentStatementStartTimestamp();
            shmem::record_planning(&key, ms, now, || statement_text(query_string, (*parse).stmt_location, (*parse).stmt_len));
        });
        result
    }
}
