//! The partition worker: one request (`maintain`, `setup` or `undo`), then exit.

use super::catalog::{self, bound_sql, oid_arg, one, run, Child, ColType, Parent, Set};
use crate::error::caught_message;
use crate::pg::{identity, toplevel};
use pg_optimizer_core::handoff::{Outcome, Status, SLOT_BYTES};
use pg_optimizer_core::partitions::{self as core, Bound, Method, Pairs, Range, Retire, Span};
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;
use std::ffi::CString;

/// Most partitions one run creates for the rows of a default partition (more needs a DBA: a
/// wrong interval, or a stray value far away).
const RESCUE_LIMIT: usize = 10_000;
/// Most partitions one transaction creates (each takes a few locks).
const PER_TRANSACTION: usize = 50;
/// Attempts of a step that waits for a lock.
const ATTEMPTS: u32 = 3;

/// Why a step did not happen.
enum Failure {
    /// It waited `lock_timeout` for a lock, three times.
    Locked(String),
    Other(String),
}

impl Failure {
    fn message(&self) -> &str {
        match self {
            Failure::Locked(m) | Failure::Other(m) => m,
        }
    }
}

/// One action, for optimizer.partition_log.
struct Entry {
    action: &'static str,
    partition: Option<String>,
    rows: Option<i64>,
    detail: Option<String>,
}

struct Run {
    run_id: i64,
    caller: pg_sys::Oid,
    lock_timeout_ms: i64,
    /// The set being worked on: (parent oid, its name, its owner).
    current: (u32, String, u32),
    pending: Vec<Entry>,
    failed: Vec<String>,
}

impl Run {
    fn note(&mut self, action: &'static str, partition: Option<String>, rows: Option<i64>, detail: Option<String>) {
        if action == "failed" {
            self.failed.push(format!("{}: {}", self.current.1, detail.clone().unwrap_or_default()));
        }
        self.pending.push(Entry { action, partition, rows, detail });
    }

    /// Write the pending entries (as the worker, in a transaction of their own).
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let entries = std::mem::take(&mut self.pending);
        let (parent, name, owner) = self.current.clone();
        let run_id = self.run_id;
        book("recording partition work", || {
            for e in &entries {
                Spi::run_with_args(
                    "INSERT INTO optimizer.partition_log (run_id, parent, parent_name, owner, action, partition, rows, detail)
                     VALUES ($1, $2, $3, NULLIF($4, 0)::oid::regrole, $5, $6, $7, $8)",
                    &[
                        run_id.into(),
                        oid_arg(parent),
                        name.clone().into(),
                        oid_arg(owner),
                        e.action.into(),
                        e.partition.clone().into(),
                        e.rows.into(),
                        e.detail.clone().into(),
                    ],
                )
                .map_err(crate::error::spi_err)?;
            }
            Ok(())
        });
    }

    fn progress(&self, phase: &str, total: i64, moved: i64) {
        let (parent, name, owner) = self.current.clone();
        let run_id = self.run_id;
        book("recording partition progress", || {
            Spi::run_with_args(
                "INSERT INTO optimizer.partition_work (parent, parent_name, owner, run_id, phase, rows_total, rows_moved, pid)
                 VALUES ($1, $2, NULLIF($3, 0)::oid::regrole, $4, $5, $6, $7, pg_catalog.pg_backend_pid())
                 ON CONFLICT (parent) DO UPDATE SET run_id = EXCLUDED.run_id, phase = EXCLUDED.phase,
                        rows_total = EXCLUDED.rows_total, rows_moved = EXCLUDED.rows_moved, pid = EXCLUDED.pid,
                        updated_at = pg_catalog.clock_timestamp(),
                        started_at = CASE WHEN optimizer.partition_work.run_id = EXCLUDED.run_id
                                           AND optimizer.partition_work.phase = EXCLUDED.phase
                                          THEN optimizer.partition_work.started_at ELSE pg_catalog.clock_timestamp() END",
                &[oid_arg(parent), name.into(), oid_arg(owner), run_id.into(), phase.into(), total.into(), moved.into()],
            )
            .map_err(crate::error::spi_err)
        });
    }

    fn progress_done(&self) {
        let parent = self.current.0;
        book("recording partition progress", || {
            Spi::run_with_args("DELETE FROM optimizer.partition_work WHERE parent = $1", &[oid_arg(parent)]).map_err(crate::error::spi_err)
        });
    }
}

/// A transaction of bookkeeping, as the worker.
fn book<R>(what: &str, body: impl FnOnce() -> Result<R, String>) -> Option<R> {
    crate::scheduler::runner::txn(what, || identity::as_worker(body))
}

/// Run `body` in a transaction of its own (as whoever the process is now); an ERROR rolls it back
/// and comes back as a Failure (`Locked` for a lock timeout). A cancel or termination goes on.
fn step<R>(body: impl FnOnce() -> Result<R, String>) -> Result<R, Failure> {
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
    }
    let body = std::panic::AssertUnwindSafe(body);
    let r = PgTryBuilder::new(move || Ok(body()))
        .catch_others(|e| {
            if crate::pg::must_propagate(&e) {
                e.rethrow()
            }
            Err(classify(&e))
        })
        .execute();
    match r {
        Ok(Ok(v)) => unsafe {
            pg_sys::PopActiveSnapshot();
            pg_sys::CommitTransactionCommand();
            Ok(v)
        },
        Ok(Err(msg)) => {
            unsafe { pg_sys::AbortCurrentTransaction() };
            Err(Failure::Other(msg))
        }
        Err(f) => {
            unsafe { pg_sys::AbortCurrentTransaction() };
            Err(f)
        }
    }
}

fn classify(e: &pg_sys::panic::CaughtError) -> Failure {
    let msg = caught_message(e);
    match e {
        pg_sys::panic::CaughtError::PostgresError(r) if r.sql_error_code() == PgSqlErrorCode::ERRCODE_LOCK_NOT_AVAILABLE => {
            Failure::Locked(msg)
        }
        _ => Failure::Other(msg),
    }
}

/// A statement at the top level (DETACH ... CONCURRENTLY, which refuses a transaction block).
fn top(sql: &str) -> Result<u64, Failure> {
    let text = CString::new(sql).map_err(|_| Failure::Other("a zero byte in a statement".into()))?;
    let r = PgTryBuilder::new(|| Ok(unsafe { toplevel::execute(&text) }))
        .catch_others(|e| {
            if crate::pg::must_propagate(&e) {
                e.rethrow()
            }
            Err(classify(&e))
        })
        .execute();
    if r.is_err() {
        toplevel::abort_all();
    }
    r
}

/// `attempt` up to three times while it fails on a lock, sleeping 0.5 s then 1 s between.
fn with_retries<R>(mut attempt: impl FnMut() -> Result<R, Failure>) -> Result<R, Failure> {
    let mut k = 0;
    loop {
        match attempt() {
            Err(Failure::Locked(_)) if k + 1 < ATTEMPTS => {
                k += 1;
                sleep_ms(500 * k as i64);
            }
            other => return other,
        }
    }
}

fn sleep_ms(ms: i64) {
    unsafe {
        pg_sys::WaitLatch(
            pg_sys::MyLatch,
            (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH) as i32,
            ms as std::ffi::c_long,
            pg_sys::PG_WAIT_EXTENSION,
        );
        pg_sys::ResetLatch(pg_sys::MyLatch);
    }
    pg_sys::check_for_interrupts!();
}

fn set_lock_timeout(ms: i64) {
    let v = CString::new(format!("{ms}ms")).unwrap();
    identity::set_session(c"lock_timeout", &v);
}

/// The worker's entry point (from `workers::runner`).
pub fn run_errand(handle: u32) {
    let Some((req, bytes)) = (unsafe { crate::scheduler::runner::take_request(handle, "partition work") }) else { return };
    crate::scheduler::runner::set_application_name(&format!("partitions {}", req.label));
    let pairs = Pairs::decode(&req.commands);
    let mut r = Run {
        run_id: pairs.get("run_id").and_then(|v| v.parse().ok()).unwrap_or(0),
        caller: pg_sys::Oid::from(req.role),
        lock_timeout_ms: pairs.get("lock_timeout_ms").and_then(|v| v.parse().ok()).unwrap_or_else(crate::gucs::partition_lock_timeout_ms),
        current: (0, String::new(), 0),
        pending: vec![],
        failed: vec![],
    };
    let started = unsafe { pg_sys::GetCurrentTimestamp() };
    let outcome = match req.label.as_str() {
        "maintain" => maintain_all(&mut r, pairs.get("parent").and_then(|v| v.parse().ok()).filter(|&p: &u32| p != 0)),
        "setup" => setup(&mut r, &pairs),
        "undo" => undo(&mut r, pairs.get("parent").and_then(|v| v.parse().ok()).unwrap_or(0)),
        other => Err(format!("unknown partition request \"{other}\"")),
    };
    let message = match &outcome {
        Ok(()) if r.failed.is_empty() => String::new(),
        Ok(()) => r.failed.join("; "),
        Err(m) => m.clone(),
    };
    let status = if outcome.is_ok() && r.failed.is_empty() { Status::Succeeded } else { Status::Failed };
    let off = req.slot_offset(0);
    if off + SLOT_BYTES <= bytes.len() {
        Outcome { status, rows: 0, started, ended: unsafe { pg_sys::GetCurrentTimestamp() }, message }.write(&mut bytes[off..off + SLOT_BYTES]);
    }
}

/// May the caller act on tables of `owner`? (Superusers, and members with its privileges.)
fn may_act(caller: pg_sys::Oid, owner: u32) -> bool {
    unsafe { pg_sys::has_privs_of_role(caller, pg_sys::Oid::from(owner)) }
}

/// Run `work` as `owner`, holding the set's advisory lock; back to the worker afterwards.
fn as_owner(r: &mut Run, set: &Set, work: impl FnOnce(&mut Run) -> Result<(), String>) -> Result<(), String> {
    r.current = (set.parent, format!("{}.{}", set.schema, set.name), set.owner);
    if !may_act(r.caller, set.owner) {
        r.note("skipped", None, None, Some("you do not have the privileges of the table's owner".into()));
        r.flush();
        return Ok(());
    }
    let role = match step(|| identity::prepare_for_process(pg_sys::Oid::from(set.owner)).map_err(|e| e.to_string())) {
        Ok(role) => role,
        Err(f) => {
            r.note("failed", None, None, Some(f.message().to_string()));
            r.flush();
            return Ok(());
        }
    };
    // Progress left by a run that was interrupted (its caller cancelled, its worker ended).
    r.progress_done();
    identity::become_prepared(&role);
    set_lock_timeout(r.lock_timeout_ms);
    let key = set.parent as i64;
    let locked = step(|| {
        Ok(one("SELECT pg_catalog.pg_try_advisory_lock(1886352244, $1::int4)::text", &[((key as u32) as i32).into()])?.as_deref()
            == Some("true"))
    });
    let result = match locked {
        Ok(true) => {
            let out = work(r);
            let _ = step(|| run(&format!("SELECT pg_catalog.pg_advisory_unlock(1886352244, {})", key as u32 as i32)));
            out
        }
        Ok(false) => {
            r.note("skipped", None, None, Some("another run is working on this partition set".into()));
            Ok(())
        }
        Err(f) => Err(f.message().to_string()),
    };
    identity::leave_for_process();
    identity::set_session(c"pg_optimizer.enabled", c"off");
    if let Err(m) = &result {
        r.note("failed", None, None, Some(m.clone()));
    }
    r.flush();
    let status = if result.is_ok() { "succeeded" } else { "failed" };
    let msg = result.as_ref().err().cloned();
    let parent = r.current.0;
    book("recording a partition set's run", || {
        Spi::run_with_args(
            "UPDATE optimizer.partition_sets SET last_run_at = pg_catalog.now(), last_status = $2, last_message = $3 WHERE parent = $1::oid",
            &[oid_arg(parent), status.into(), msg.into()],
        )
        .map_err(crate::error::spi_err)
    });
    Ok(())
}

fn maintain_all(r: &mut Run, parent: Option<u32>) -> Result<(), String> {
    let sets = step(|| catalog::sets(parent)).map_err(|f| f.message().to_string())?;
    for set in sets {
        as_owner(r, &set, |r| maintain(r, &set, None))?;
    }
    let days = crate::gucs::job_history_days();
    book("pruning the partition log", || {
        Spi::run_with_args(
            "DELETE FROM optimizer.partition_log WHERE at < pg_catalog.now() - pg_catalog.make_interval(days => $1)",
            &[(days as i32).into()],
        )
        .map_err(crate::error::spi_err)?;
        // Sets whose table was dropped.
        Spi::run("DELETE FROM optimizer.partition_sets s WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = s.parent)")
            .map_err(crate::error::spi_err)
    });
    Ok(())
}

/// The span of a range set.
fn span_of(set: &Set, t: ColType) -> Result<Span, String> {
    Span::parse(set.interval.as_deref().unwrap_or(""), t == ColType::Integer)
}

/// One partition to make: its name suffix, its bound clause, and the rows of the default
/// partition that belong to it.
struct Target {
    suffix: String,
    bound: String,
    filter: String,
    rows: u64,
}

fn describe(p: &Parent, set: &Set) -> String {
    format!("{} {} by {}", set.method.as_str(), if p.default.is_some() { "with a default partition" } else { "without a default partition" }, set.control)
}

/// Create ahead, move rows out of the default partition, apply retention.
fn maintain(r: &mut Run, set: &Set, start_from: Option<Bound>) -> Result<(), String> {
    let tz0 = set.time_zone.clone();
    // Detaches left pending by an interrupted DETACH ... CONCURRENTLY.
    let p = step(|| catalog::parent(set.parent, set.owner, &set.control, &tz0)).map_err(|f| f.message().to_string())?;
    if p.strategy != Some(set.method) {
        return Err(format!("{} is no longer partitioned by {} ({})", set.qualified(), set.method.as_str(), describe(&p, set)));
    }
    for c in p.children.iter().filter(|c| c.detach_pending) {
        let sql = format!("ALTER TABLE {} DETACH PARTITION {} FINALIZE", set.qualified(), c.qualified());
        match with_retries(|| top(&sql)) {
            Ok(_) => r.note("finalized", Some(c.name.clone()), None, Some("an interrupted detach was completed".into())),
            Err(f) => r.note(if matches!(f, Failure::Locked(_)) { "deferred" } else { "failed" }, Some(c.name.clone()), None, Some(f.message().into())),
        }
    }
    match set.method {
        Method::Range => maintain_range(r, set, start_from)?,
        Method::List => maintain_list(r, set, &p)?,
        Method::Hash => maintain_hash(r, set, &p)?,
    }
    r.flush();
    Ok(())
}

fn maintain_range(r: &mut Run, set: &Set, start_from: Option<Bound>) -> Result<(), String> {
    let tz0 = set.time_zone.clone();
    let p = step(|| catalog::parent(set.parent, set.owner, &set.control, &tz0)).map_err(|f| f.message().to_string())?;
    let span = span_of(set, p.col_type)?;
    let tz = catalog::span_zone(set, Some(&span));
    let p = if tz != tz0 { step(|| catalog::parent(set.parent, set.owner, &set.control, &tz)).map_err(|f| f.message().to_string())? } else { p };
    let t = p.col_type;
    let existing: Vec<Bound> = p.children.iter().filter_map(|c| c.range.map(|r| r.from)).collect();
    let now = step(|| catalog::now(set, t, &tz)).map_err(|f| f.message().to_string())?;
    // Rows in the default partition: the partitions they need, with their rows.
    let mut wanted: Vec<(Range, u64)> = vec![];
    if let Some(def) = &p.default {
        if let Some((min, max)) = step(|| catalog::default_span(set, def, t, &tz)).map_err(|f| f.message().to_string())? {
            match core::to_rescue(&span, min, max, &existing, RESCUE_LIMIT) {
                Some(need) => {
                    let counts = step(|| catalog::default_counts(set, def, t, &tz, &need)).map_err(|f| f.message().to_string())?;
                    wanted.extend(need.into_iter().zip(counts));
                }
                None => r.note(
                    "failed",
                    Some(def.name.clone()),
                    None,
                    Some(format!(
                        "the default partition holds values from {} to {}: more than {RESCUE_LIMIT} partitions of '{}'; move them by hand or choose a longer interval",
                        min.literal(),
                        max.literal(),
                        set.interval.as_deref().unwrap_or("")
                    )),
                ),
            }
        }
    }
    // Partitions ahead (and back to start_from).
    if let Some(now) = now.or(start_from) {
        let back = match start_from.and_then(|s| span.range_of(s)) {
            Some(first) => {
                let mut k = 0u32;
                let mut cur = span.range_of(now);
                while let Some(c) = cur {
                    if c.from <= first.from || k >= RESCUE_LIMIT as u32 {
                        break;
                    }
                    k += 1;
                    cur = span.shift(c, -1);
                }
                k
            }
            None => 0,
        };
        for rg in core::to_create(&span, now, set.premake, back, &existing) {
            if !wanted.iter().any(|(w, _)| w.from == rg.from) {
                wanted.push((rg, 0));
            }
        }
    }
    wanted.sort_by_key(|(rg, _)| rg.from);
    let col = core::ident(&set.control);
    let targets: Vec<(Target, u64)> = wanted
        .iter()
        .map(|(rg, n)| {
            let (lo, hi) = (bound_sql(&rg.from, t, &tz), bound_sql(&rg.to, t, &tz));
            (
                Target {
                    suffix: span.suffix(rg),
                    bound: format!("FOR VALUES FROM ({lo}) TO ({hi})"),
                    filter: format!("{col} >= {lo} AND {col} < {hi}"),
                    rows: *n,
                },
                *n,
            )
        })
        .collect();
    make_all(r, set, &p, targets)?;
    // Retention.
    if set.retention.is_some() {
        let p = step(|| catalog::parent(set.parent, set.owner, &set.control, &tz)).map_err(|f| f.message().to_string())?;
        let now = now.or(step(|| catalog::now(set, t, &tz)).map_err(|f| f.message().to_string())?);
        if let (Some(now), Some(cutoff)) = (now, step(|| catalog::cutoff(set, t, &tz, now)).map_err(|f| f.message().to_string())?) {
            let ranges: Vec<Range> = p.children.iter().filter_map(|c| c.range).collect();
            for gone in core::to_retire(&span, now, cutoff, &ranges) {
                if let Some(c) = p.children.iter().find(|c| c.range == Some(gone)) {
                    retire(r, set, &p, c);
                }
            }
        }
    }
    Ok(())
}

fn maintain_list(r: &mut Run, set: &Set, p: &Parent) -> Result<(), String> {
    let Some(def) = &p.default else { return Ok(()) };
    let values = step(|| catalog::default_values(set, def, RESCUE_LIMIT)).map_err(|f| f.message().to_string())?;
    if values.len() > RESCUE_LIMIT {
        r.note("failed", Some(def.name.clone()), None, Some(format!("the default partition holds more than {RESCUE_LIMIT} distinct values")));
        return Ok(());
    }
    let col = core::ident(&set.control);
    let targets = values
        .into_iter()
        .map(|(v, n)| {
            let lit = core::literal(&v);
            (Target { suffix: core::list_suffix(&v), bound: format!("FOR VALUES IN ({lit})"), filter: format!("{col} = {lit}"), rows: n }, n)
        })
        .collect();
    make_all(r, set, p, targets)
}

fn maintain_hash(r: &mut Run, set: &Set, p: &Parent) -> Result<(), String> {
    if !p.children.is_empty() {
        return Ok(());
    }
    let m = set.modulus.unwrap_or(0);
    if m == 0 {
        return Err("a hash partition set needs a modulus".into());
    }
    let targets = (0..m)
        .map(|k| {
            (Target { suffix: core::hash_suffix(k), bound: format!("FOR VALUES WITH (MODULUS {m}, REMAINDER {k})"), filter: String::new(), rows: 0 }, 0)
        })
        .collect();
    make_all(r, set, p, targets)
}

/// Make every target, in batches of about `batch_rows` rows moved per transaction.
fn make_all(r: &mut Run, set: &Set, p: &Parent, targets: Vec<(Target, u64)>) -> Result<(), String> {
    let total: u64 = targets.iter().map(|(t, _)| t.rows).sum();
    let indexed: Vec<(usize, u64)> = targets.iter().enumerate().map(|(i, (_, n))| (i, *n)).collect();
    let mut moved = 0u64;
    if total > 0 {
        r.progress("moving rows out of the default partition", total as i64, 0);
    }
    for batch in core::batches(&indexed, set.batch_rows, PER_TRANSACTION) {
        let chosen: Vec<&Target> = batch.iter().map(|&i| &targets[i].0).collect();
        match with_retries(|| step(|| make(set, p, &chosen))) {
            Ok(done) => {
                for (name, n) in done {
                    moved += n;
                    if n > 0 {
                        r.note("rescued", Some(name), Some(n as i64), Some(format!("{n} row{} moved out of the default partition", if n == 1 { "" } else { "s" })));
                    } else {
                        r.note("created", Some(name), Some(0), None);
                    }
                }
                if total > 0 {
                    r.progress("moving rows out of the default partition", total as i64, moved as i64);
                }
                r.flush();
            }
            Err(f) => {
                let names: Vec<String> = chosen.iter().map(|t| core::partition_name(&set.name, &t.suffix)).collect();
                let action = if matches!(f, Failure::Locked(_)) { "deferred" } else { "failed" };
                let detail = match &f {
                    Failure::Locked(m) => format!("{m} (after {ATTEMPTS} attempts; the next run tries again)"),
                    Failure::Other(m) => m.clone(),
                };
                r.note(action, Some(names.join(", ")), None, Some(detail));
                break;
            }
        }
    }
    if total > 0 {
        r.progress_done();
    }
    Ok(())
}

/// One transaction: create each target as a table, move its rows out of the default partition,
/// attach it, grant what the parent grants. Returns each partition's name and rows moved.
fn make(set: &Set, p: &Parent, targets: &[&Target]) -> Result<Vec<(String, u64)>, String> {
    let parent = set.qualified();
    // With a default partition, writers are held off the parent for this transaction (readers go
    // on). ATTACH alone takes a lock writers do not wait for, and a writer that routed a row to
    // the default under the old partition bounds would then fail the default's new constraint.
    // The parent first, then (by ATTACH) the default: the order writers lock them in.
    if p.default.is_some() {
        run(&format!("LOCK TABLE {parent} IN SHARE ROW EXCLUSIVE MODE"))?;
    }
    let cols = p.columns.join(", ");
    let mut out = vec![];
    for t in targets {
        let name = core::partition_name(&set.name, &t.suffix);
        if catalog::exists(&set.schema, &name)? {
            return Err(format!("a relation named \"{name}\" already exists in schema \"{}\" and is not a partition of this set", set.schema));
        }
        let child = core::qualified(&set.schema, &name);
        run(&format!(
            "CREATE TABLE {child} (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED INCLUDING COMPRESSION)"
        ))?;
        let mut moved = 0;
        if let (Some(def), false) = (&p.default, t.filter.is_empty()) {
            {
                moved = one(
                    &format!(
                        "WITH m AS (DELETE FROM ONLY {} WHERE {} RETURNING {cols}), i AS (INSERT INTO {child} ({cols}) SELECT {cols} FROM m RETURNING 1)
                         SELECT count(*)::text FROM i",
                        def.qualified(),
                        t.filter
                    ),
                    &[],
                )?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            }
        }
        run(&format!("ALTER TABLE {parent} ATTACH PARTITION {child} {}", t.bound))?;
        for g in &p.grants {
            run(&g.replace("{}", &child))?;
        }
        out.push((name, moved));
    }
    Ok(out)
}

/// Retire one partition per the set's retention action.
fn retire(r: &mut Run, set: &Set, p: &Parent, c: &Child) {
    let parent = set.qualified();
    let child = c.qualified();
    let concurrently = p.default.is_none() && cfg!(not(feature = "pg13"));
    let detached = if concurrently {
        with_retries(|| top(&format!("ALTER TABLE {parent} DETACH PARTITION {child} CONCURRENTLY")).map(|_| ()))
    } else {
        Ok(())
    };
    let finish = |detach_here: bool| -> Result<String, String> {
        if detach_here {
            run(&format!("ALTER TABLE {parent} DETACH PARTITION {child}"))?;
        }
        match set.retire {
            Retire::Drop => {
                run(&format!("DROP TABLE {child}"))?;
                Ok("dropped".into())
            }
            Retire::Detach => Ok("detached; the table is kept".into()),
            Retire::Archive => {
                let schema = set.archive_schema.clone().ok_or("retention_action 'archive' needs archive_schema")?;
                run(&format!("ALTER TABLE {child} SET SCHEMA {}", core::ident(&schema)))?;
                Ok(format!("detached and moved to schema {schema}"))
            }
        }
    };
    let result = detached.and_then(|_| with_retries(|| step(|| finish(!concurrently))));
    match result {
        Ok(how) => r.note("retired", Some(c.name.clone()), None, Some(how)),
        Err(f) => {
            let action = if matches!(f, Failure::Locked(_)) { "deferred" } else { "failed" };
            r.note(action, Some(c.name.clone()), None, Some(f.message().to_string()));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// partition_table and undo_partitioning

fn set_from(pairs: &Pairs) -> Result<Set, String> {
    let g = |k: &str| pairs.get(k).map(str::to_string);
    let num = |k: &str| pairs.get(k).and_then(|v| v.parse::<u64>().ok());
    Ok(Set {
        parent: num("parent").unwrap_or(0) as u32,
        schema: String::new(),
        name: String::new(),
        owner: 0,
        control: g("control").unwrap_or_default(),
        method: Method::parse(&g("method").unwrap_or_default())?,
        interval: g("interval"),
        premake: num("premake").unwrap_or(4) as u32,
        retention: g("retention"),
        retire: Retire::parse(&g("retention_action").unwrap_or_else(|| "drop".into()))?,
        archive_schema: g("archive_schema"),
        time_zone: g("time_zone").unwrap_or_else(|| "UTC".into()),
        with_default: g("with_default").as_deref() != Some("false"),
        batch_rows: num("batch_rows").unwrap_or(10_000).max(1),
        modulus: num("modulus").map(|m| m as u32),
        start_from: g("start_from"),
    })
}

/// Fill in the parent's schema, name and owner.
fn locate(set: &mut Set) -> Result<(), String> {
    let r = catalog::rows(
        "SELECT n.nspname::text, c.relname::text, c.relowner::oid::text FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1",
        &[oid_arg(set.parent)],
    )?;
    let row = r.into_iter().next().ok_or("the table no longer exists (was it created in a transaction that is still open? commit first)")?;
    set.schema = row[0].clone().unwrap_or_default();
    set.name = row[1].clone().unwrap_or_default();
    set.owner = row[2].as_deref().and_then(|v| v.parse().ok()).unwrap_or(0);
    Ok(())
}

fn setup(r: &mut Run, pairs: &Pairs) -> Result<(), String> {
    let mut set = set_from(pairs)?;
    step(|| locate(&mut set)).map_err(|f| f.message().to_string())?;
    let s2 = set.clone();
    as_owner(r, &s2, |r| {
        let tz = set.time_zone.clone();
        let p = step(|| catalog::parent(set.parent, set.owner, &set.control, &tz)).map_err(|f| f.message().to_string())?;
        let t = p.col_type;
        let start = match (&set.start_from, set.method) {
            (Some(v), Method::Range) => {
                let span = span_of(&set, t)?;
                let ztz = catalog::span_zone(&set, Some(&span));
                let expr = match t {
                    ColType::Integer => format!("({})::bigint::text", core::literal(v)),
                    ColType::Timestamptz => catalog::local_text(&format!("{}::timestamptz", core::literal(v)), t, &ztz),
                    ColType::Date => catalog::local_text(&format!("{}::date", core::literal(v)), t, &ztz),
                    _ => catalog::local_text(&format!("{}::timestamp", core::literal(v)), t, &ztz),
                };
                let text = step(|| one(&format!("SELECT {expr}"), &[])).map_err(|f| f.message().to_string())?;
                text.and_then(|x| core::parse_bound(&x, t == ColType::Integer))
            }
            _ => None,
        };
        match p.strategy {
            None => {
                convert(r, &mut set, &p)?;
                r.flush();
            }
            Some(m) if m == set.method => {
                let s3 = set.clone();
                step(|| register(&s3)).map_err(|f| f.message().to_string())?;
                r.note("registered", None, None, Some(format!("{} is managed as a {} partition set", set.qualified(), m.as_str())));
                if set.with_default && p.default.is_none() && m != Method::Hash {
                    let name = core::partition_name(&set.name, "default");
                    let q = core::qualified(&set.schema, &name);
                    let parent = set.qualified();
                    let grants = p.grants.clone();
                    with_retries(|| {
                        step(|| {
                            run(&format!("CREATE TABLE {q} (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED INCLUDING COMPRESSION)"))?;
                            run(&format!("ALTER TABLE {parent} ATTACH PARTITION {q} DEFAULT"))?;
                            for g in &grants {
                                run(&g.replace("{}", &q))?;
                            }
                            Ok(())
                        })
                    })
                    .map_err(|f| f.message().to_string())?;
                    r.note("created", Some(name), Some(0), Some("the default partition".into()));
                }
                r.flush();
            }
            Some(m) => {
                return Err(format!(
                    "{} is already partitioned by {}, not {}",
                    set.qualified(),
                    m.as_str(),
                    set.method.as_str()
                ))
            }
        }
        maintain(r, &set, start)?;
        if !set.with_default && set.method != Method::Hash {
            drop_empty_default(r, &set);
        }
        Ok(())
    })
}

/// Insert the set's row (as its owner: row-level security lets owners register their tables).
fn register(set: &Set) -> Result<(), String> {
    Spi::run_with_args(
        "INSERT INTO optimizer.partition_sets (parent, control, method, \"interval\", premake, retention, retention_action,
                archive_schema, time_zone, with_default, batch_rows, modulus)
         VALUES ($1::oid::regclass, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &[
            oid_arg(set.parent),
            set.control.clone().into(),
            set.method.as_str().into(),
            set.interval.clone().into(),
            (set.premake as i32).into(),
            set.retention.clone().into(),
            set.retire.as_str().into(),
            set.archive_schema.clone().into(),
            set.time_zone.clone().into(),
            set.with_default.into(),
            (set.batch_rows.min(i32::MAX as u64) as i32).into(),
            set.modulus.map(|m| m as i32).into(),
        ],
    )
    .map_err(crate::error::spi_err)
}

/// `ALTER TABLE ... ADD CONSTRAINT` for each foreign key of `relid` (`LIKE` copies none), to run
/// on `target`.
fn foreign_keys(relid: u32, target: &str) -> Result<Vec<String>, String> {
    Ok(catalog::rows(
        "SELECT pg_catalog.quote_ident(conname), pg_catalog.pg_get_constraintdef(oid) FROM pg_catalog.pg_constraint
          WHERE conrelid = $1 AND contype = 'f' AND conparentid = 0 ORDER BY conname",
        &[oid_arg(relid)],
    )?
    .into_iter()
    .map(|r| format!("ALTER TABLE {target} ADD CONSTRAINT {} {}", r[0].clone().unwrap_or_default(), r[1].clone().unwrap_or_default()))
    .collect())
}

/// `ALTER SEQUENCE ... OWNED BY` for each sequence owned by a column of `relid`, to `target`.
fn owned_sequences(relid: u32, target: &str) -> Result<Vec<String>, String> {
    Ok(catalog::rows(
        "SELECT d.objid::regclass::text, pg_catalog.quote_ident(a.attname)
           FROM pg_catalog.pg_depend d
           JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
          WHERE d.refobjid = $1 AND d.classid = 'pg_catalog.pg_class'::regclass AND d.deptype = 'a'
            AND (SELECT relkind FROM pg_catalog.pg_class WHERE oid = d.objid) = 'S'",
        &[oid_arg(relid)],
    )?
    .into_iter()
    .map(|r| format!("ALTER SEQUENCE {} OWNED BY {target}.{}", r[0].clone().unwrap_or_default(), r[1].clone().unwrap_or_default()))
    .collect())
}

/// `COMMENT ON TABLE` carrying `relid`'s comment to `target` (`LIKE` copies only the columns').
fn table_comment(relid: u32, target: &str) -> Result<Vec<String>, String> {
    Ok(one("SELECT pg_catalog.obj_description($1, 'pg_class')", &[oid_arg(relid)])?
        .map(|c| format!("COMMENT ON TABLE {target} IS {}", core::literal(&c)))
        .into_iter()
        .collect())
}

/// Pairs (index of `from`, index of `to`) with the same definition, by name.
fn index_pairs(from: u32, to: u32) -> Result<Vec<(String, String)>, String> {
    let def = "SELECT i.indexrelid, c.relname::text AS name,
                      pg_catalog.concat_ws('|', i.indisunique, i.indisprimary, i.indnkeyatts, c.relam, i.indclass::text,
                             i.indoption::text, i.indcollation::text,
                             (SELECT pg_catalog.string_agg(COALESCE(a.attname::text, '#'), ',' ORDER BY k.o)
                                FROM pg_catalog.unnest(i.indkey) WITH ORDINALITY k(n, o)
                                LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n),
                             pg_catalog.pg_get_expr(i.indexprs, i.indrelid), pg_catalog.pg_get_expr(i.indpred, i.indrelid)) AS d
                 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = ";
    let sql = format!(
        "SELECT DISTINCT ON (a.name) a.name, b.name FROM ({def} $1) a JOIN ({def} $2) b ON a.d = b.d ORDER BY a.name, b.name"
    );
    Ok(catalog::rows(&sql, &[oid_arg(from), oid_arg(to)])?
        .into_iter()
        .filter_map(|r| Some((r[0].clone()?, r[1].clone()?)))
        .collect())
}

/// Convert the plain table of `set` into a partitioned table of the same name.
fn convert(r: &mut Run, set: &mut Set, p: &Parent) -> Result<(), String> {
    let old = set.qualified();
    let oid = set.parent;
    let twin_name = core::partition_name(&set.name, "partitioned");
    let twin = core::qualified(&set.schema, &twin_name);
    let by = match set.method {
        Method::Range => "RANGE",
        Method::List => "LIST",
        Method::Hash => "HASH",
    };
    let col = core::ident(&set.control);
    let name = core::ident(&set.name);
    let grants = p.grants.clone();
    let cols = p.columns.join(", ");
    let schema = set.schema.clone();
    if set.method == Method::Hash {
        // One transaction: readers go on, writers wait for the copy.
        let m = set.modulus.unwrap_or(0);
        let base = set.name.clone();
        let mut s2 = set.clone();
        let new_oid = with_retries(|| {
            step(|| {
                if catalog::exists(&schema, &twin_name)? {
                    return Err(format!("a relation named \"{twin_name}\" already exists"));
                }
                run(&format!("LOCK TABLE {old} IN SHARE MODE"))?;
                run(&format!("CREATE TABLE {twin} (LIKE {old} INCLUDING ALL) PARTITION BY HASH ({col})"))?;
                for k in 0..m {
                    let child = core::qualified(&schema, &core::partition_name(&base, &core::hash_suffix(k)));
                    run(&format!("CREATE TABLE {child} PARTITION OF {twin} FOR VALUES WITH (MODULUS {m}, REMAINDER {k})"))?;
                    for g in &grants {
                        run(&g.replace("{}", &child))?;
                    }
                }
                for g in &grants {
                    run(&g.replace("{}", &twin))?;
                }
                let moved = run(&format!("INSERT INTO {twin} ({cols}) SELECT {cols} FROM ONLY {old}"))?;
                for fk in foreign_keys(oid, &twin)?.into_iter().chain(table_comment(oid, &twin)?) {
                    run(&fk)?;
                }
                run(&format!("LOCK TABLE {old} IN ACCESS EXCLUSIVE MODE"))?;
                let new_oid: u32 = one("SELECT $1::regclass::oid::text", &[twin.clone().into()])?.and_then(|v| v.parse().ok()).unwrap_or(0);
                for s in owned_sequences(oid, &twin)? {
                    run(&s)?;
                }
                let pairs = index_pairs(oid, new_oid)?;
                run(&format!("DROP TABLE {old}"))?;
                run(&format!("ALTER TABLE {twin} RENAME TO {name}"))?;
                for (orig, new) in pairs {
                    run(&format!("ALTER INDEX {} RENAME TO {}", core::qualified(&schema, &new), core::ident(&orig)))?;
                }
                s2.parent = new_oid;
                register(&s2)?;
                Ok((new_oid, moved))
            })
        })
        .map_err(|f| f.message().to_string())?;
        set.parent = new_oid.0;
        r.current.0 = new_oid.0;
        r.note("converted", Some(set.name.clone()), Some(new_oid.1 as i64), Some(format!("copied into {m} hash partitions")));
        return Ok(());
    }
    // Range and list: the table becomes the default partition of its partitioned twin.
    let def_name = core::partition_name(&set.name, "default");
    let def = core::qualified(&set.schema, &def_name);
    step(|| {
        for n in [&twin_name, &def_name] {
            if catalog::exists(&schema, n)? {
                return Err(format!("a relation named \"{n}\" already exists in schema \"{schema}\""));
            }
        }
        run(&format!("CREATE TABLE {twin} (LIKE {old} INCLUDING ALL) PARTITION BY {by} ({col})"))?;
        for fk in foreign_keys(oid, &twin)?.into_iter().chain(table_comment(oid, &twin)?) {
            run(&fk)?;
        }
        for g in &grants {
            run(&g.replace("{}", &twin))?;
        }
        Ok(())
    })
    .map_err(|f| f.message().to_string())?;
    let mut s2 = set.clone();
    let swapped = with_retries(|| {
        step(|| {
            run(&format!("LOCK TABLE {old} IN ACCESS EXCLUSIVE MODE"))?;
            let new_oid: u32 = one("SELECT $1::regclass::oid::text", &[twin.clone().into()])?.and_then(|v| v.parse().ok()).unwrap_or(0);
            run(&format!("ALTER TABLE {old} RENAME TO {}", core::ident(&def_name)))?;
            run(&format!("ALTER TABLE {twin} RENAME TO {name}"))?;
            run(&format!("ALTER TABLE {old} ATTACH PARTITION {def} DEFAULT"))?;
            for s in owned_sequences(oid, &old)? {
                run(&s)?;
            }
            s2.parent = new_oid;
            register(&s2)?;
            Ok(new_oid)
        })
    });
    let new_oid = match swapped {
        Ok(o) => o,
        Err(f) => {
            // Leave nothing behind.
            let _ = step(|| run(&format!("DROP TABLE IF EXISTS {twin}")));
            return Err(format!("{} (the table was not converted)", f.message()));
        }
    };
    set.parent = new_oid;
    r.current.0 = new_oid;
    r.note("converted", Some(set.name.clone()), None, Some(format!("the table is now the default partition {def_name}; its rows move out in batches")));
    // The parent's indexes take the table's index names (cosmetic: a failure is only noted).
    let renamed = step(|| {
        let pairs = catalog::rows(
            "SELECT pc.relname::text, cc.relname::text FROM pg_catalog.pg_inherits i
               JOIN pg_catalog.pg_class cc ON cc.oid = i.inhrelid
               JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent
               JOIN pg_catalog.pg_index x ON x.indexrelid = pc.oid
              WHERE x.indrelid = $1 AND (SELECT y.indrelid FROM pg_catalog.pg_index y WHERE y.indexrelid = cc.oid) = $2",
            &[oid_arg(new_oid), oid_arg(oid)],
        )?;
        for row in pairs {
            let (pn, cn) = (row[0].clone().unwrap_or_default(), row[1].clone().unwrap_or_default());
            let moved = core::partition_name(&cn, "default");
            run(&format!("ALTER INDEX {} RENAME TO {}", core::qualified(&schema, &cn), core::ident(&moved)))?;
            run(&format!("ALTER INDEX {} RENAME TO {}", core::qualified(&schema, &pn), core::ident(&cn)))?;
        }
        Ok(())
    });
    if let Err(f) = renamed {
        r.note("warning", None, None, Some(format!("the indexes keep generated names: {}", f.message())));
    }
    Ok(())
}

/// Without a default partition: drop it once empty.
fn drop_empty_default(r: &mut Run, set: &Set) {
    let tz = set.time_zone.clone();
    let Ok(p) = step(|| catalog::parent(set.parent, set.owner, &set.control, &tz)) else { return };
    let Some(def) = p.default else { return };
    let parent = set.qualified();
    let q = def.qualified();
    let done = with_retries(|| {
        step(|| {
            run(&format!("LOCK TABLE {q} IN ACCESS EXCLUSIVE MODE"))?;
            if one(&format!("SELECT 1::text FROM ONLY {q} LIMIT 1"), &[])?.is_some() {
                return Ok(false);
            }
            run(&format!("ALTER TABLE {parent} DETACH PARTITION {q}"))?;
            run(&format!("DROP TABLE {q}"))?;
            Ok(true)
        })
    });
    match done {
        Ok(true) => r.note("retired", Some(def.name.clone()), None, Some("the empty default partition was dropped (with_default => false)".into())),
        Ok(false) => r.note("kept", Some(def.name.clone()), None, Some("the default partition still holds rows no partition takes".into())),
        Err(f) => r.note("deferred", Some(def.name.clone()), None, Some(f.message().to_string())),
    }
    r.flush();
}

fn undo(r: &mut Run, parent: u32) -> Result<(), String> {
    let sets = step(|| catalog::sets(Some(parent))).map_err(|f| f.message().to_string())?;
    let Some(set) = sets.into_iter().next() else {
        return Err("the table is not a partition set".into());
    };
    as_owner(r, &set, |r| {
        let tz = set.time_zone.clone();
        let p = step(|| catalog::parent(set.parent, set.owner, &set.control, &tz)).map_err(|f| f.message().to_string())?;
        let old = set.qualified();
        let plain_name = core::partition_name(&set.name, "unpartitioned");
        let plain = core::qualified(&set.schema, &plain_name);
        let cols = p.columns.join(", ");
        let name = core::ident(&set.name);
        let schema = set.schema.clone();
        let grants = p.grants.clone();
        let oid = set.parent;
        let moved = with_retries(|| {
            step(|| {
                if catalog::exists(&schema, &plain_name)? {
                    return Err(format!("a relation named \"{plain_name}\" already exists"));
                }
                run(&format!("LOCK TABLE {old} IN SHARE MODE"))?;
                run(&format!("CREATE TABLE {plain} (LIKE {old} INCLUDING ALL)"))?;
                let n = run(&format!("INSERT INTO {plain} ({cols}) SELECT {cols} FROM {old}"))?;
                run(&format!("LOCK TABLE {old} IN ACCESS EXCLUSIVE MODE"))?;
                for fk in foreign_keys(oid, &plain)?.into_iter().chain(table_comment(oid, &plain)?) {
                    run(&fk)?;
                }
                for g in &grants {
                    run(&g.replace("{}", &plain))?;
                }
                for s in owned_sequences(oid, &plain)? {
                    run(&s)?;
                }
                let new_oid: u32 = one("SELECT $1::regclass::oid::text", &[plain.clone().into()])?.and_then(|v| v.parse().ok()).unwrap_or(0);
                let pairs = index_pairs(oid, new_oid)?;
                run(&format!("DROP TABLE {old}"))?;
                run(&format!("ALTER TABLE {plain} RENAME TO {name}"))?;
                for (orig, new) in pairs {
                    run(&format!("ALTER INDEX {} RENAME TO {}", core::qualified(&schema, &new), core::ident(&orig)))?;
                }
                Spi::run_with_args("DELETE FROM optimizer.partition_sets WHERE parent = $1::oid", &[oid_arg(oid)])
                    .map_err(crate::error::spi_err)?;
                Ok((n, new_oid))
            })
        })
        .map_err(|f| f.message().to_string())?;
        let (moved, new_oid) = moved;
        r.current.0 = new_oid;
        r.note("undone", Some(set.name.clone()), Some(moved as i64), Some(format!("{} is a plain table again", set.qualified())));
        Ok(())
    })
}
