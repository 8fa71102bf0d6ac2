//! Save the store at clean shutdown, load it at start. The byte format and its checks live in
//! `stats::persist` (pure, unit-tested); this file moves the bytes between disk and shared memory.
//! Runs only in the postmaster (or a single-user backend), never in a regular backend.

use super::*;
use crate::stats::persist::{decode, encode, Record, EXAMPLE_TRUNCATED, TEXT_TRUNCATED};

const FILE: &str = "pg_stat/pg_optimizer.stat";
const TMP: &str = "pg_stat/pg_optimizer.stat.tmp";

#[pgrx::pg_guard]
pub(super) unsafe extern "C-unwind" fn shutdown_callback(code: i32, _arg: pg_sys::Datum) {
    // Only at a clean exit, and only when asked to; never let a failure here crash the shutdown.
    if code != 0 || !gucs::save() || !available() {
        return;
    }
    if std::panic::catch_unwind(save).is_err() {
        pgrx::log!("pg_optimizer: could not save statement statistics");
    }
    if std::panic::catch_unwind(super::predicates::save).is_err() {
        pgrx::log!("pg_optimizer: could not save predicate statistics");
    }
}

fn save() {
    let mut records = Vec::new();
    unsafe {
        statements().for_each(|e| {
            if (*e).head.generation == 0 {
                return;
            }
            let k = (*e).head.key;
            records.push(Record {
                userid: k.userid,
                dbid: k.dbid,
                queryid: k.queryid,
                toplevel: k.toplevel,
                counters: (*e).counters,
                text: span_bytes((*e).text).to_vec(),
                example: span_bytes((*e).example).to_vec(),
                example_stmt_len: (*e).example_stmt_len,
                encoding: (*e).encoding,
                flags: if (*e).text.truncated { TEXT_TRUNCATED } else { 0 } | if (*e).example.truncated { EXAMPLE_TRUNCATED } else { 0 },
            });
        });
    }
    write_file(FILE, TMP, &encode(&records), records.len(), "statement");
}

/// Write `bytes` to `file` through `tmp` (fsync, then rename), and log the outcome.
pub(super) fn write_file(file: &str, tmp: &str, bytes: &[u8], entries: usize, what: &str) {
    let result = (|| -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(tmp, file)
    })();
    match result {
        Ok(()) => pgrx::log!("pg_optimizer: saved {entries} {what} entries to {file}"),
        Err(e) => {
            let _ = std::fs::remove_file(tmp);
            pgrx::log!("pg_optimizer: could not write {file}: {e}");
        }
    }
}

/// The saved file's bytes, if there is one; the file is removed (it describes the past: whatever
/// happens next, it must not be loaded twice).
pub(super) fn take_file(file: &str) -> Option<Vec<u8>> {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            pgrx::log!("pg_optimizer: could not read {file}: {e}; starting empty");
            return None;
        }
    };
    let _ = std::fs::remove_file(file);
    Some(bytes)
}

pub(super) fn load() {
    let Some(bytes) = take_file(FILE) else { return };
    let max_text = unsafe { (*HEADER).max_text };
    // A file from a server with a larger text limit is still good: texts are clipped on load.
    // Only a text longer than any setting allows means corruption.
    match decode(&bytes, gucs::MAX_TEXT_BYTES_LIMIT as usize) {
        Ok(records) => {
            let loaded = statements().fill(&records, |r| unsafe {
                let key = Key { userid: r.userid, dbid: r.dbid, queryid: r.queryid, toplevel: r.toplevel, _pad: [0; 7] };
                let text = clip(&r.text, max_text);
                let example_cut = r.flags & EXAMPLE_TRUNCATED != 0;
                let restore = Init::Restore { counters: &r.counters, example: &r.example, example_stmt_len: r.example_stmt_len, example_cut };
                insert_locked(&key, text, r.flags & TEXT_TRUNCATED != 0 || text.len() < r.text.len(), r.encoding, restore).is_some()
            });
            pgrx::log!("pg_optimizer: loaded {loaded} of {} statement entries from {FILE}", records.len());
        }
        Err(reason) => {
            pgrx::log!("pg_optimizer: ignoring {FILE}: {reason}");
        }
    }
}
