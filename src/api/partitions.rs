//! Partition sets from SQL: `optimizer.partition_request`, the one entry point behind
//! `partition_table`, `maintain_partitions` and `undo_partitioning` (SQL wrappers in
//! `src/sql/partitions.sql` give them named arguments and regclass types). It checks what it can
//! here, with errors a DBA can act on, then hands the work to a partition worker (`partitions`),
//! relays its progress as NOTICEs and returns what it did, one row per parent and action.

use crate::api::jobs::{check_capacity, next_run_id};
use crate::api::statements::require_preloaded;
use crate::error::{invalid_argument, Result};
use crate::partitions::catalog::ColType;
use crate::scheduler::{self, Errand};
use pg_optimizer_core::handoff::{Outcome, Request, Status, SLOT_BYTES};
use pg_optimizer_core::partitions::{Method, Pairs, Retire, Span};
use pgrx::datum::DatumWithOid;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;


fn err(code: PgSqlErrorCode, message: String, hint: &str) -> ErrorReport {
    ErrorReport::new(code, message, "pg_optimizer").set_hint(hint.to_string())
}

fn spi(e: pgrx::spi::SpiError) -> ErrorReport {
    ErrorReport::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, e.to_string(), "pg_optimizer")
}

/// The first column of the first row (None: no row, or NULL).
fn text(sql: &str, args: &[DatumWithOid]) -> Result<Option<String>> {
    crate::partitions::catalog::one(sql, args).map_err(|e| ErrorReport::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, e, "pg_optimizer"))
}

/// Start, watch and report one partition request.
#[pg_extern(volatile, parallel_unsafe, name = "partition_request")]
fn partition_request(op: &str, target: Option<pg_sys::Oid>, settings: default!(Vec<Option<String>>, "'{}'")) -> Result<
    TableIterator<
    'static,
    (
        name!(parent_table, Option<pg_sys::Oid>),
        name!(action, String),
        name!(partition, Option<String>),
        name!(rows, Option<i64>),
        name!(detail, Option<String>),
    ),
>,
> {
    let parent = target;
    require_preloaded()?;
    let mut pairs = Pairs::decode(&settings.into_iter().flatten().collect::<Vec<_>>());
    if unsafe { pg_sys::RecoveryInProgress() } {
        if op == "maintain" {
            pgrx::notice!("pg_optimizer: this server is a standby: partition maintenance runs on the primary");
            return Ok(TableIterator::new(vec![]));
        }
        return Err(err(PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION, "cannot change partitioning on a standby".into(), "Run it on the primary."));
    }
    match op {
        "setup" => check_setup(parent.ok_or_else(|| invalid_argument("parent must not be null".into(), "Name the table."))?, &mut pairs)?,
        "maintain" => {
            let visible = text(
                "SELECT count(*)::text FROM optimizer.partition_sets s WHERE ($1 IS NULL OR s.parent = $1) AND (s.enabled OR $1 IS NOT NULL)
                    AND pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = s.parent), 'USAGE')",
                &[parent.into()],
            )?;
            if visible.as_deref() == Some("0") {
                if let Some(p) = parent {
                    return Err(not_a_set(p));
                }
                return Ok(TableIterator::new(vec![]));
            }
        }
        "undo" => {
            let p = parent.ok_or_else(|| invalid_argument("parent must not be null".into(), "Name the table."))?;
            let mine = text(
                "SELECT pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = s.parent), 'USAGE')::text
                   FROM optimizer.partition_sets s WHERE s.parent = $1",
                &[p.into()],
            )?;
            match mine.as_deref() {
                None => return Err(not_a_set(p)),
                Some("false") => return Err(not_owner(p)),
                _ => {}
            }
        }
        other => return Err(invalid_argument(format!("unknown partition request \"{other}\""), "Use partition_table, maintain_partitions or undo_partitioning.")),
    }
    pairs.set("parent", parent.map(|p| p.to_u32()).unwrap_or(0));
    let run_id = next_run_id("partition_request")?;
    pairs.set("run_id", run_id);
    // The caller's setting (the worker would read only the server's).
    pairs.set("lock_timeout_ms", crate::gucs::partition_lock_timeout_ms());
    check_capacity("a partition worker")?;
    let outcome = hand_off(op, pairs.encode(), run_id)?;
    let rows = results(run_id)?;
    if outcome.status != Status::Succeeded && rows.iter().all(|r| r.1 == "failed" || r.1 == "skipped") && op != "maintain" {
        let msg = if outcome.message.is_empty() { "the partition worker failed (see the server log)".to_string() } else { outcome.message };
        return Err(err(PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, msg, "Nothing was changed unless optimizer.partition_log says otherwise."));
    }
    Ok(TableIterator::new(rows))
}

fn not_a_set(p: pg_sys::Oid) -> ErrorReport {
    err(
        PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
        format!("{} is not a partition set you may manage", rel_name(p)),
        "See optimizer.partition_sets; optimizer.partition_table makes one.",
    )
}

fn not_owner(p: pg_sys::Oid) -> ErrorReport {
    err(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!("must be the owner of table {}", rel_name(p)),
        "Partitioning runs as the table's owner: call it as the owner (or a member of the owning role).",
    )
}

fn rel_name(p: pg_sys::Oid) -> String {
    crate::pg::read_one::<String>("SELECT $1::regclass::text", &[p.into()]).ok().flatten().unwrap_or_else(|| p.to_u32().to_string())
}

/// Check a partition_table call; fill in the defaults the worker needs.
fn check_setup(parent: pg_sys::Oid, pairs: &mut Pairs) -> Result<()> {
    let info = Spi::connect(|c| {
        let t = c
            .select(
                "SELECT c.relkind::text, c.relispartition, c.relpersistence::text, pg_catalog.pg_has_role(c.relowner, 'USAGE'),
                        EXISTS (SELECT 1 FROM optimizer.partition_sets s WHERE s.parent = c.oid), c.relrowsecurity, c.reloftype <> 0
                   FROM pg_catalog.pg_class c WHERE c.oid = $1",
                None,
                &[parent.into()],
            )?
            .first();
        Ok::<_, pgrx::spi::SpiError>((
            t.get::<String>(1)?,
            t.get::<bool>(2)?,
            t.get::<String>(3)?,
            t.get::<bool>(4)?,
            t.get::<bool>(5)?,
            t.get::<bool>(6)?,
            t.get::<bool>(7)?,
        ))
    })
    .map_err(spi)?;
    let (Some(kind), Some(is_partition), Some(persistence), Some(owner), Some(managed), Some(rls), Some(typed)) = info else {
        return Err(err(PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE, "the table does not exist".into(), "Name an existing table."));
    };
    let name = rel_name(parent);
    if !owner {
        return Err(not_owner(parent));
    }
    if managed {
        return Err(err(
            PgSqlErrorCode::ERRCODE_DUPLICATE_OBJECT,
            format!("{name} is already a partition set"),
            "Change its settings in optimizer.partition_sets, or call optimizer.undo_partitioning first.",
        ));
    }
    if !(kind == "r" || kind == "p") || is_partition {
        return Err(err(
            PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
            format!("{name} is not a table that can be partitioned (a partition, a view, or another kind of relation)"),
            "Name an ordinary table or a partitioned parent.",
        ));
    }
    if persistence != "p" {
        return Err(err(PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED, format!("{name} is temporary or unlogged"), "Partition sets are logged, permanent tables."));
    }
    let method = Method::parse(pairs.get("method").unwrap_or("range")).map_err(|m| invalid_argument(m, "method is range, list or hash."))?;
    let control = pairs.get("control").unwrap_or("").to_string();
    let typ = text(
        "SELECT pg_catalog.format_type(a.atttypid, NULL) || CASE WHEN a.attgenerated <> '' THEN ' generated' ELSE '' END
           FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1 AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
        &[parent.into(), control.clone().into()],
    )?
    .ok_or_else(|| {
        err(PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN, format!("column \"{control}\" of {name} does not exist"), "control names the column to partition by.")
    })?;
    if typ.ends_with(" generated") {
        return Err(invalid_argument(format!("column \"{control}\" is generated"), "Partition by a stored column."));
    }
    let col_type = ColType::of(&typ);
    match method {
        Method::Range => {
            if !(col_type.is_time() || col_type == ColType::Integer) {
                return Err(invalid_argument(
                    format!("range partition sets need a time or integer control column; \"{control}\" is {typ}"),
                    "Use method => 'list' or 'hash' for other types.",
                ));
            }
            let interval = pairs.get("interval").unwrap_or("");
            let span = Span::parse(interval, col_type == ColType::Integer)
                .map_err(|m| invalid_argument(m, "interval is 'daily', 'monthly', '3 months' ... for a time column, or a step such as '100000' for an integer column."))?;
            if col_type == ColType::Date && matches!(span, Span::Time { unit: pg_optimizer_core::partitions::Unit::Hour, .. }) {
                return Err(invalid_argument(format!("\"{control}\" is a date: hourly partitions cannot divide it"), "Use daily or longer."));
            }
        }
        Method::List | Method::Hash => {
            if pairs.get("interval").is_some() || pairs.get("retention").is_some() || pairs.get("start_from").is_some() {
                return Err(invalid_argument(
                    format!("interval, retention and start_from apply to range partition sets, not {}", method.as_str()),
                    "Leave them out.",
                ));
            }
        }
    }
    if method == Method::Hash {
        let m: i64 = pairs.get("modulus").and_then(|v| v.parse().ok()).unwrap_or(0);
        if !(1..=1024).contains(&m) {
            return Err(invalid_argument("a hash partition set needs modulus between 1 and 1024".into(), "For example modulus => 8."));
        }
    } else if pairs.get("modulus").is_some() {
        return Err(invalid_argument("modulus applies to hash partition sets".into(), "Leave it out, or use method => 'hash'."));
    }
    let premake: i64 = pairs.get("premake").and_then(|v| v.parse().ok()).unwrap_or(4);
    if !(0..=1000).contains(&premake) {
        return Err(invalid_argument("premake must be between 0 and 1000".into(), "It is the number of future partitions kept ahead."));
    }
    let batch: i64 = pairs.get("batch_rows").and_then(|v| v.parse().ok()).unwrap_or(10_000);
    if batch < 1 {
        return Err(invalid_argument("batch_rows must be positive".into(), "It is about how many rows one transaction moves."));
    }
    if let Some(ret) = pairs.get("retention") {
        let ok = if col_type == ColType::Integer {
            ret.trim().parse::<i64>().map(|v| v > 0).unwrap_or(false)
        } else {
            let ok = crate::pg::in_subtransaction(|| text("SELECT ($1::interval > '0'::interval)::text", &[ret.into()]).ok().flatten());
            ok.ok().flatten().as_deref() == Some("true")
        };
        if !ok {
            return Err(invalid_argument(
                format!("retention \"{ret}\" is not a positive {}", if col_type == ColType::Integer { "count of values" } else { "interval" }),
                "For example retention => '90 days' (time) or '1000000' (integer).",
            ));
        }
    }
    let action = Retire::parse(pairs.get("retention_action").unwrap_or("drop")).map_err(|m| invalid_argument(m, "retention_action is drop, detach or archive."))?;
    if action == Retire::Archive {
        let schema = pairs.get("archive_schema").unwrap_or("").to_string();
        let can = text("SELECT pg_catalog.has_schema_privilege(n.oid, 'CREATE')::text FROM pg_catalog.pg_namespace n WHERE n.nspname = $1", &[schema.clone().into()])?;
        if can.as_deref() != Some("true") {
            return Err(invalid_argument(
                format!("archive_schema \"{schema}\" does not exist or you cannot create in it"),
                "retention_action => 'archive' moves retired partitions to archive_schema: name a schema you may create tables in.",
            ));
        }
    }
    let tz = match pairs.get("time_zone") {
        Some(tz) => tz.to_string(),
        None => text("SELECT pg_catalog.current_setting('TimeZone')", &[])?.unwrap_or_else(|| "UTC".into()),
    };
    let tz_ok = crate::pg::in_subtransaction(|| text("SELECT (pg_catalog.now() AT TIME ZONE $1)::text", &[tz.clone().into()]).ok().flatten().is_some())
        .unwrap_or(false);
    if !tz_ok {
        return Err(invalid_argument(format!("time zone \"{tz}\" is not known"), "Use a name from pg_timezone_names, such as 'UTC' or 'Europe/Paris'."));
    }
    if pairs.get("time_zone").is_none() {
        pairs.set("time_zone", &tz);
    }
    if kind == "r" {
        check_convertible(parent, &name, &control, rls, typed)?;
    }
    Ok(())
}

/// What an online conversion cannot carry: refuse it before anything changes.
fn check_convertible(parent: pg_sys::Oid, name: &str, control: &str, rls: bool, typed: bool) -> Result<()> {
    let refuse = |what: String, hint: &str| Err(err(PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED, format!("cannot convert {name}: {what}"), hint));
    if rls {
        return refuse("it has row-level security enabled".into(), "Disable it, convert, then enable it and create the policies on the partitioned table.");
    }
    if typed {
        return refuse("it is a typed table (OF type)".into(), "Convert it by hand.");
    }
    let checks: [(&str, &str, &str); 6] = [
        (
            "SELECT pg_catalog.string_agg(conname || ' on ' || conrelid::regclass::text, ', ') FROM pg_catalog.pg_constraint WHERE confrelid = $1 AND contype = 'f'",
            "other tables have foreign keys to it",
            "Drop those foreign keys, convert, then create them again on the partitioned table.",
        ),
        (
            "SELECT pg_catalog.string_agg(DISTINCT r.ev_class::regclass::text, ', ') FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
              WHERE d.refobjid = $1 AND d.classid = 'pg_catalog.pg_rewrite'::regclass AND r.ev_class <> $1",
            "views depend on it",
            "Drop those views, convert, then create them again.",
        ),
        (
            "SELECT pg_catalog.string_agg(tgname, ', ') FROM pg_catalog.pg_trigger WHERE tgrelid = $1 AND NOT tgisinternal",
            "it has triggers",
            "Drop the triggers, convert, then create them on the partitioned table.",
        ),
        (
            "SELECT pg_catalog.string_agg(coalesce(inhparent::regclass::text, '') || ' / ' || inhrelid::regclass::text, ', ') FROM pg_catalog.pg_inherits WHERE inhrelid = $1 OR inhparent = $1",
            "it takes part in table inheritance",
            "Partition sets cannot also use inheritance.",
        ),
        (
            "SELECT pg_catalog.string_agg(attname, ', ') FROM pg_catalog.pg_attribute WHERE attrelid = $1 AND attidentity <> '' AND NOT attisdropped",
            "it has identity columns",
            "Turn them into serial-like defaults (ALTER TABLE ... ALTER COLUMN ... DROP IDENTITY, then SET DEFAULT nextval(...)) first.",
        ),
        (
            "SELECT pg_catalog.string_agg(rulename, ', ') FROM pg_catalog.pg_rewrite WHERE ev_class = $1 AND rulename <> '_RETURN'",
            "it has rules",
            "Drop the rules first.",
        ),
    ];
    for (sql, what, hint) in checks {
        if let Some(list) = text(sql, &[parent.into()])? {
            return refuse(format!("{what} ({list})"), hint);
        }
    }
    let unique = text(
        "SELECT pg_catalog.string_agg(conname, ', ') FROM pg_catalog.pg_constraint c
          WHERE c.conrelid = $1 AND c.contype IN ('p', 'u', 'x')
            AND NOT (SELECT a.attnum FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1 AND a.attname = $2) = ANY (c.conkey)",
        &[parent.into(), control.into()],
    )?;
    if let Some(list) = unique {
        return refuse(
            format!("its primary key or unique constraints ({list}) do not include \"{control}\""),
            "A partitioned table's unique constraints must include the partition key: add the column to them (or drop them) first.",
        );
    }
    Ok(())
}

/// Hand the request to a partition worker and wait, relaying its progress.
fn hand_off(op: &str, commands: Vec<String>, run_id: i64) -> Result<Outcome> {
    let req = Request { role: unsafe { pg_sys::GetUserId() }.to_u32(), label: op.to_string(), statement_timeout_ms: 0, lock_timeout_ms: 0, commands };
    let internal = |e: String| ErrorReport::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, e, "pg_optimizer");
    let size = req.segment_size();
    let db = unsafe { pg_sys::MyDatabaseId }.to_u32();
    unsafe {
        let seg = pg_sys::dsm_create(size, 0);
        let base = pg_sys::dsm_segment_address(seg) as *mut u8;
        let bytes = std::slice::from_raw_parts_mut(base, size);
        req.write(bytes).map_err(internal)?;
        let handle = pg_sys::dsm_segment_handle(seg);
        let mut last = 0i64;
        let mut last_at = std::time::Instant::now();
        let mut tick = || {
            if last_at.elapsed().as_millis() < 2000 {
                return;
            }
            last_at = std::time::Instant::now();
            if let Some((line, moved)) = progress(run_id) {
                if moved != last {
                    last = moved;
                    pgrx::notice!("{line}");
                }
            }
        };
        scheduler::run_and_watch(&Errand::Partitions { db, handle }, &format!("partitions {op}"), &mut tick).map_err(|why| {
            err(PgSqlErrorCode::ERRCODE_INSUFFICIENT_RESOURCES, format!("cannot start a partition worker: {why}"), "Raise max_worker_processes (restart needed), or retry when fewer jobs run.")
        })?;
        let off = req.slot_offset(0);
        let outcome = Outcome::read(&bytes[off..off + SLOT_BYTES]).map_err(internal)?;
        pg_sys::dsm_detach(seg);
        Ok(outcome)
    }
}

/// Run `body` under a snapshot taken now (the worker's commits are visible even in a
/// REPEATABLE READ caller).
fn latest<R>(body: impl FnOnce() -> R) -> R {
    unsafe { pg_sys::PushActiveSnapshot(pg_sys::GetLatestSnapshot()) };
    let r = body();
    unsafe { pg_sys::PopActiveSnapshot() };
    r
}

/// The progress of the run's current move, as a NOTICE line (None: nothing moving).
fn progress(run_id: i64) -> Option<(String, i64)> {
    latest(|| {
        Spi::connect(|c| {
            let t = c
                .select(
                    "SELECT w.parent_name || ': ' || p.phase || ': ' || p.rows_moved || ' rows moved, ' || p.rows_left || ' left'
                            || COALESCE(' (' || p.rows_per_second || ' rows/s, about ' || pg_catalog.round(EXTRACT(epoch FROM p.eta)) || ' s left)', ''),
                            p.rows_moved
                       FROM optimizer.partition_progress p JOIN optimizer.partition_work w ON w.parent = p.parent::oid
                      WHERE p.run_id = $1 LIMIT 1",
                    None,
                    &[run_id.into()],
                )
                .ok()?;
            let r = t.into_iter().next()?;
            Some((r.get::<String>(1).ok()??, r.get::<i64>(2).ok()??))
        })
    })
}

type Row = (Option<pg_sys::Oid>, String, Option<String>, Option<i64>, Option<String>);

/// What the run did: one row per parent and action, in the order they happened.
fn results(run_id: i64) -> Result<Vec<Row>> {
    latest(|| {
        Spi::connect(|c| {
            let t = c.select(
                "SELECT parent, action,
                        CASE WHEN count(partition) <= 1 THEN min(partition)
                             ELSE min(partition) || ' .. ' || max(partition) END,
                        sum(rows)::bigint,
                        CASE WHEN count(*) > 1 AND action IN ('created', 'rescued', 'retired')
                             THEN count(*) || ' partitions' || COALESCE(', ' || NULLIF(sum(rows), 0) || ' rows moved', '')
                             ELSE pg_catalog.string_agg(DISTINCT detail, '; ') END
                   FROM optimizer.partition_log WHERE run_id = $1
                  GROUP BY parent, action ORDER BY min(id)",
                None,
                &[run_id.into()],
            )?;
            let mut out = vec![];
            for r in t {
                out.push((r.get::<pg_sys::Oid>(1)?, r.get::<String>(2)?.unwrap_or_default(), r.get::<String>(3)?, r.get::<i64>(4)?, r.get::<String>(5)?));
            }
            Ok::<_, pgrx::spi::SpiError>(out)
        })
    })
    .map_err(spi)
}
