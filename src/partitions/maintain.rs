//! Maintenance of one partition set: create ahead, move rows out of the default partition,
//! retire, in short transactions as the table's owner (see `super` for the protocol).

use super::catalog::{self, bound_sql, one, run, Child, ColType, Parent, Set};
use super::work::{as_owner, book, step, top, with_retries, Failure, Run, ATTEMPTS};
use pg_optimizer_core::partitions::{self as core, Bound, Method, Range, Retire, Span};
use pgrx::prelude::*;

/// Most partitions one run creates for the rows of a default partition (more needs a DBA: a
/// wrong interval, or a stray value far away).
pub(super) const RESCUE_LIMIT: usize = 10_000;
/// Most partitions one transaction creates (each takes a few locks).
const PER_TRANSACTION: usize = 50;

pub(super) fn maintain_all(r: &mut Run, parent: Option<u32>) -> Result<(), String> {
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
pub(super) fn span_of(set: &Set, t: ColType) -> Result<Span, String> {
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
pub(super) fn maintain(r: &mut Run, set: &Set, start_from: Option<Bound>) -> Result<(), String> {
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

/// Without a default partition: drop it once empty.
pub(super) fn drop_empty_default(r: &mut Run, set: &Set) {
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
