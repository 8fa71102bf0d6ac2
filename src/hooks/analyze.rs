//! post_parse_analyze: the first time this backend sees a statement with constants, create its
//! entry with the normalised text (constants replaced by `$n`). Later sightings cost one lookup
//! in the backend-local cache.

use super::*;
use crate::stats::normalize;

static mut PREV: pg_sys::post_parse_analyze_hook_type = None;

pub(super) fn init() {
    #[cfg(not(feature = "pg13"))]
    unsafe {
        PREV = pg_sys::post_parse_analyze_hook;
        pg_sys::post_parse_analyze_hook = Some(post_parse_analyze);
    }
}

#[cfg(not(feature = "pg13"))]
unsafe extern "C-unwind" fn post_parse_analyze(
    pstate: *mut pg_sys::ParseState,
    query: *mut pg_sys::Query,
    jstate: *mut pg_sys::JumbleState,
) {
    unsafe {
        if let Some(prev) = PREV {
            prev(pstate, query, jstate);
        }
        let queryid = (*query).queryId;
        if !(*query).utilityStmt.is_null() && queryid != 0 {
            remember_utility_id((*query).utilityStmt, (*query).stmt_location, queryid);
        }
        if jstate.is_null() || (*jstate).clocations_count <= 0 || queryid == 0 || !level_tracked() {
            return; // nothing to normalise: the entry is made at execution with the text as is
        }
        quietly("normalising a query text", || {
            if !database_watched() {
                return;
            }
            let key = key_for(queryid);
            if !shmem::is_known(&key) {
                shmem::find_or_create(&key, shmem::Start::BeforeExecution, || normalized_text(pstate, query, jstate));
            }
        });
    }
}

#[cfg(not(feature = "pg13"))]
unsafe fn normalized_text(
    pstate: *mut pg_sys::ParseState,
    query: *mut pg_sys::Query,
    jstate: *mut pg_sys::JumbleState,
) -> Vec<u8> {
    unsafe {
        let src = (*pstate).p_sourcetext;
        if src.is_null() {
            return Vec::new();
        }
        let bytes = std::ffi::CStr::from_ptr(src).to_bytes();
        let (s, e) = normalize::statement_range(bytes, (*query).stmt_location, (*query).stmt_len);
        let j = &*jstate;
        let locs: Vec<usize> = std::slice::from_raw_parts(j.clocations, j.clocations_count as usize)
            .iter()
            .filter(|l| l.location >= s as i32 && (l.location as usize) < e)
            .map(|l| l.location as usize - s)
            .collect();
        normalize::normalize(&bytes[s..e], &locs, j.highest_extern_param_id + 1, pg_sys::standard_conforming_strings).0
    }
}
