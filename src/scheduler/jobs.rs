//! The SQL of jobs and runs, in the scheduler's and the runners' transactions (as the bootstrap
//! superuser, with search_path pinned to `pg_catalog, pg_temp`: every name here is qualified).

use crate::error::spi_err;
use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pg_optimizer_core::schedule::{Schedule, Window};

/// A job as the scheduler needs it.
#[derive(Clone, Debug)]
pub struct Job {
    pub name: String,
    pub schedule_text: String,
    pub window_text: Option<String>,
    pub schedule: Result<Schedule, String>,
    pub window: Result<Option<Window>, String>,
    pub enabled: bool,
    pub builtin: bool,
    /// Unix seconds.
    pub created: i64,
}

/// Whether this database has a usable pg_optimizer (installed, at a version with jobs).
pub fn extension_ready() -> bool {
    Spi::get_one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_optimizer')
            AND pg_catalog.to_regclass('optimizer.jobs') IS NOT NULL
            AND pg_catalog.to_regclass('optimizer.job_runs') IS NOT NULL",
    )
    .ok()
    .flatten()
    .unwrap_or(false)
}

/// The jobs of this database.
pub fn load() -> Result<Vec<Job>, String> {
    Spi::connect(|c| {
        let mut out = vec![];
        for r in c
            .select(
                "SELECT name, schedule, run_window, enabled, builtin,
                        pg_catalog.date_part('epoch', created_at)::float8
                   FROM optimizer.jobs WHERE database = pg_catalog.current_database() OR builtin",
                None,
                &[],
            )
            .map_err(spi_err)?
        {
            let schedule_text: String = r.get(2).map_err(spi_err)?.unwrap_or_default();
            let window_text: Option<String> = r.get(3).map_err(spi_err)?;
            out.push(Job {
                name: r.get(1).map_err(spi_err)?.unwrap_or_default(),
                schedule: Schedule::parse(&schedule_text),
                window: window_text.as_deref().map(Window::parse).transpose(),
                schedule_text,
                window_text,
                enabled: r.get(4).map_err(spi_err)?.unwrap_or(false),
                builtin: r.get(5).map_err(spi_err)?.unwrap_or(false),
                created: r.get::<f64>(6).map_err(spi_err)?.unwrap_or(0.0) as i64,
            });
        }
        Ok(out)
    })
}

/// Keep the built-in `statement_history` job's schedule equal to `pg_optimizer.snapshot_interval`.
pub fn sync_snapshot_job(interval_s: i64) -> Result<(), String> {
    if interval_s <= 0 {
        return Ok(());
    }
    let text = format!("{interval_s} seconds");
    Spi::run_with_args(
        "UPDATE optimizer.jobs SET schedule = $1 WHERE name = 'statement_history' AND builtin AND schedule <> $1",
        &[text.into()],
    )
    .map_err(spi_err)
}

/// Runs left `starting`/`running` by a process that is gone (a crash, a restart, a killed
/// worker): failed, with what happened. Returns how many.
pub fn fail_interrupted() -> Result<i64, String> {
    Spi::get_one::<i64>(
        "WITH gone AS (
            UPDATE optimizer.job_runs r SET status = 'failed', ended_at = pg_catalog.now(),
                   message = 'interrupted: the server restarted or the job''s worker died before it finished'
             WHERE r.status IN ('starting', 'running')
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a
                                WHERE a.pid = r.pid AND a.backend_type = 'pg_optimizer job')
             RETURNING 1)
         SELECT pg_catalog.count(*) FROM gone",
    )
    .map_err(spi_err)
    .map(|n| n.unwrap_or(0))
}

/// Runs of this database still `starting`/`running` with a live worker (after a scheduler
/// restart): (run id, job, pid).
pub fn live_runs() -> Result<Vec<(i64, String, i32)>, String> {
    Spi::connect(|c| {
        let mut out = vec![];
        for r in c
            .select(
                "SELECT run_id, job, pid FROM optimizer.job_runs WHERE status IN ('starting', 'running') AND pid IS NOT NULL",
                None,
                &[],
            )
            .map_err(spi_err)?
        {
            out.push((
                r.get(1).map_err(spi_err)?.unwrap_or(0),
                r.get(2).map_err(spi_err)?.unwrap_or_default(),
                r.get(3).map_err(spi_err)?.unwrap_or(0),
            ));
        }
        Ok(out)
    })
}

/// A `starting` row for a due run; its run id.
pub fn insert_starting(c: &mut SpiClient<'_>, job: &str, due: i64) -> Result<Option<i64>, String> {
    let args: Vec<DatumWithOid> = vec![job.into(), (due as f64).into()];
    let r = c
        .update(
            "INSERT INTO optimizer.job_runs (job, scheduled_at, status, owner, source)
             SELECT name, pg_catalog.to_timestamp($2), 'starting', owner, 'schedule'
               FROM optimizer.jobs WHERE name = $1 RETURNING run_id",
            None,
            &args,
        )
        .map_err(spi_err)?;
    // No row: the job was removed since it was read.
    if r.is_empty() {
        return Ok(None);
    }
    r.first().get_one::<i64>().map_err(spi_err)
}

/// A `skipped` row: the job was due and `why`.
pub fn insert_skipped(c: &mut SpiClient<'_>, job: &str, due: i64, why: &str) -> Result<(), String> {
    let args: Vec<DatumWithOid> = vec![job.into(), (due as f64).into(), why.into()];
    c.update(
        "INSERT INTO optimizer.job_runs (job, scheduled_at, status, owner, source, message, ended_at)
         SELECT name, pg_catalog.to_timestamp($2), 'skipped', owner, 'schedule', $3, pg_catalog.now()
           FROM optimizer.jobs WHERE name = $1",
        None,
        &args,
    )
    .map_err(spi_err)?;
    Ok(())
}

/// Change a row that never got going (`starting`) to `status` with `message`.
pub fn settle_unstarted(run_id: i64, status: &str, message: &str) -> Result<(), String> {
    Spi::run_with_args(
        "UPDATE optimizer.job_runs SET status = $2, message = $3, ended_at = pg_catalog.now()
          WHERE run_id = $1 AND status IN ('starting', 'running')",
        &[run_id.into(), status.into(), message.into()],
    )
    .map_err(spi_err)
}

/// Drop runs older than the history bound (never a run still going).
pub fn prune(days: i64) -> Result<(), String> {
    Spi::run_with_args(
        "DELETE FROM optimizer.job_runs
          WHERE scheduled_at < pg_catalog.now() - pg_catalog.make_interval(days => $1)
            AND status NOT IN ('starting', 'running')",
        &[(days as i32).into()],
    )
    .map_err(spi_err)
}

/// What a runner needs to run its job.
pub struct RunSpec {
    pub job: String,
    pub command: String,
    pub owner: pg_sys::Oid,
    pub timeout_ms: i64,
    pub lock_timeout_ms: i64,
}

const SPEC_SQL: &str = "SELECT j.name, j.command, j.owner::oid,
        (pg_catalog.date_part('epoch', j.timeout) * 1000)::int8,
        (pg_catalog.date_part('epoch', j.lock_timeout) * 1000)::int8
   FROM optimizer.jobs j WHERE j.name = $1";

fn spec_of(job: &str) -> Result<Option<RunSpec>, String> {
    Spi::connect(|c| {
        let args: Vec<DatumWithOid> = vec![job.into()];
        let rows = c.select(SPEC_SQL, Some(1), &args).map_err(spi_err)?;
        if rows.is_empty() {
            return Ok(None);
        }
        let r = rows.first();
        Ok(Some(RunSpec {
            job: r.get(1).map_err(spi_err)?.unwrap_or_default(),
            command: r.get(2).map_err(spi_err)?.unwrap_or_default(),
            owner: r.get(3).map_err(spi_err)?.unwrap_or(pg_sys::InvalidOid),
            timeout_ms: r.get(4).map_err(spi_err)?.unwrap_or(0),
            lock_timeout_ms: r.get(5).map_err(spi_err)?.unwrap_or(0),
        }))
    })
}

/// Runner, scheduled run: take the row (it stays `starting`, with this pid, until its due time);
/// its job and due time in Unix milliseconds (None: already settled, or its job was dropped).
pub fn claim_scheduled(run_id: i64) -> Result<Option<(RunSpec, i64)>, String> {
    // (A CTE: an UPDATE that matches nothing returns no row, which get_two would call an error.)
    let claimed = Spi::get_two_with_args::<String, f64>(
        "WITH u AS (UPDATE optimizer.job_runs SET pid = pg_catalog.pg_backend_pid()
                     WHERE run_id = $1 AND status = 'starting'
                     RETURNING job, pg_catalog.date_part('epoch', scheduled_at) * 1000 AS due_ms)
         SELECT (SELECT job FROM u), (SELECT due_ms FROM u)",
        &[run_id.into()],
    )
    .map_err(spi_err)?;
    match claimed {
        (Some(j), Some(due_ms)) => Ok(spec_of(&j)?.map(|spec| (spec, due_ms as i64))),
        _ => Ok(None),
    }
}

/// Runner, at the due time: the run starts, if its job is still there and enabled.
pub fn start_scheduled(run_id: i64) -> Result<bool, String> {
    Spi::get_one_with_args::<bool>(
        "WITH u AS (UPDATE optimizer.job_runs r SET status = 'running', started_at = pg_catalog.clock_timestamp()
                     WHERE r.run_id = $1 AND r.status = 'starting'
                       AND EXISTS (SELECT 1 FROM optimizer.jobs j WHERE j.name = r.job AND j.enabled)
                     RETURNING 1)
         SELECT EXISTS (SELECT 1 FROM u)",
        &[run_id.into()],
    )
    .map_err(spi_err)
    .map(|v| v.unwrap_or(false))
}

/// Whether the row of a scheduled run is visible yet (its scheduler commits it just before or
/// just after it starts the runner).
pub fn run_exists(run_id: i64) -> bool {
    Spi::get_one_with_args::<bool>("SELECT EXISTS (SELECT 1 FROM optimizer.job_runs WHERE run_id = $1)", &[run_id.into()])
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// Runner, `run_job()`: write its own `running` row.
pub fn claim_manual(run_id: i64, job: &str) -> Result<Option<RunSpec>, String> {
    let Some(spec) = spec_of(job)? else { return Ok(None) };
    Spi::run_with_args(
        "INSERT INTO optimizer.job_runs (run_id, job, scheduled_at, started_at, status, owner, source, pid)
         SELECT $1, name, pg_catalog.now(), pg_catalog.clock_timestamp(), 'running', owner, 'run_job', pg_catalog.pg_backend_pid()
           FROM optimizer.jobs WHERE name = $2",
        &[run_id.into(), job.into()],
    )
    .map_err(spi_err)?;
    Ok(Some(spec))
}

/// Runner, `run_in_worker(..., wait => false)`: write its own `running` row.
pub fn claim_detached(run_id: i64, label: &str, role: pg_sys::Oid) -> Result<(), String> {
    Spi::run_with_args(
        "INSERT INTO optimizer.job_runs (run_id, job, scheduled_at, started_at, status, owner, source, pid)
         VALUES ($1, $2, pg_catalog.now(), pg_catalog.clock_timestamp(), 'running', $3::regrole, 'run_in_worker', pg_catalog.pg_backend_pid())",
        &[run_id.into(), label.into(), role.into()],
    )
    .map_err(spi_err)
}

/// Runner: the outcome.
pub fn finish(run_id: i64, status: &str, rows: Option<i64>, message: Option<&str>) -> Result<(), String> {
    Spi::run_with_args(
        "UPDATE optimizer.job_runs SET status = $2, rows = $3, message = $4, ended_at = pg_catalog.clock_timestamp()
          WHERE run_id = $1",
        &[run_id.into(), status.into(), rows.into(), message.into()],
    )
    .map_err(spi_err)
}
