//! PostgreSQL functions declared without pgrx's error-boundary wrapper: ones that cannot raise
//! (so the hot path pays no `sigsetjmp` for them) and the standard functions our hooks chain to
//! (whose errors must reach PostgreSQL untouched; see `crate::hooks`).

use pgrx::pg_sys::*;
use std::ffi::{c_char, c_int};
unsafe extern "C-unwind" {
    pub fn GetUserId() -> Oid;
    pub fn GetCurrentStatementStartTimestamp() -> i64;
    pub fn GetCurrentSubTransactionId() -> SubTransactionId;
    pub fn pg_re_throw() -> !;
    pub fn ReThrowError(edata: *mut ErrorData) -> !;
    pub fn CopyErrorData() -> *mut ErrorData;
    pub fn FlushErrorState();
    pub fn geterrcode() -> c_int;
    pub fn standard_planner(parse: *mut Query, query_string: *const c_char, cursor_options: c_int, bound_params: ParamListInfo) -> *mut PlannedStmt;
    pub fn standard_ExecutorStart(qd: *mut QueryDesc, eflags: c_int);
    pub fn standard_ExecutorRun(qd: *mut QueryDesc, direction: ScanDirection::Type, count: u64, execute_once: bool);
    pub fn standard_ExecutorFinish(qd: *mut QueryDesc);
    pub fn standard_ExecutorEnd(qd: *mut QueryDesc);
    #[cfg(feature = "pg13")]
    pub fn standard_ProcessUtility(pstmt: *mut PlannedStmt, query_string: *const c_char, context: ProcessUtilityContext::Type, params: ParamListInfo, query_env: *mut QueryEnvironment, dest: *mut DestReceiver, qc: *mut QueryCompletion);
    #[cfg(not(feature = "pg13"))]
    pub fn standard_ProcessUtility(pstmt: *mut PlannedStmt, query_string: *const c_char, read_only_tree: bool, context: ProcessUtilityContext::Type, params: ParamListInfo, query_env: *mut QueryEnvironment, dest: *mut DestReceiver, qc: *mut QueryCompletion);
}
