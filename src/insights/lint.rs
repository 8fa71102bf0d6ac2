//! The linter's inputs from this server: the recorded statements (with their numbers) and the
//! catalog facts its rules ask for (`pg_optimizer_core::lint::Catalog`), read through SPI as the
//! calling user.

use crate::error::spi_err;
use pg_optimizer_core::lint::{Catalog, ColumnFacts, StatementFacts, TableFacts};
use pgrx::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;

/// This database's recorded queries the caller may read (not utility statements), one per query
/// id (users and nesting levels merged), not pg_optimizer's own, with the slowest execution's text as the example;
/// `calls_per_s` over the time it ran (first to last seen, at least a second: the rate of a
/// loop, however long ago it ran).
pub fn statements() -> Result<Vec<StatementFacts>, String> {
    let mut out = vec![];
    Spi::connect(|c| {
        for r in c
            .select(
                "SELECT s.queryid, min(s.query), sum(s.calls)::float8, sum(s.rows)::float8, sum(s.total_exec_time)::float8,
                        GREATEST(EXTRACT(epoch FROM max(s.last_seen) - min(s.first_seen))::float8, 1),
                        (pg_catalog.array_agg(s.example ORDER BY s.example_exec_time DESC NULLS LAST)
                           FILTER (WHERE s.example IS NOT NULL AND s.example <> '' AND NOT s.example_truncated))[1]
                   FROM optimizer.statements s
                  WHERE s.dbid = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
                    AND s.calls > 0 AND s.query !~ '\\moptimizer\\.'
                    -- queries, not utility statements (VACUUM, COPY, DDL: nothing to lint)
                    AND s.query ~* '^[\\s(]*(WITH|SELECT|INSERT|UPDATE|DELETE|MERGE|VALUES|TABLE)\\M'
                  GROUP BY s.queryid
                  ORDER BY sum(s.total_exec_time) DESC, s.queryid",
                None,
                &[],
            )
            .map_err(spi_err)?
        {
            let calls: f64 = r.get(3).map_err(spi_err)?.unwrap_or(0.0);
            let total_ms: f64 = r.get(5).map_err(spi_err)?.unwrap_or(0.0);
            let seconds: f64 = r.get(6).map_err(spi_err)?.unwrap_or(1.0);
            out.push(StatementFacts {
                queryid: r.get(1).map_err(spi_err)?.unwrap_or(0),
                query: r.get(2).map_err(spi_err)?.unwrap_or_default(),
                example: r.get(7).map_err(spi_err)?,
                calls,
                rows: r.get(4).map_err(spi_err)?.unwrap_or(0.0),
                total_ms,
                mean_ms: if calls > 0.0 { total_ms / calls } else { 0.0 },
                calls_per_s: calls / seconds.max(1.0),
            });
        }
        Ok::<_, String>(())
    })?;
    Ok(out)
}

/// Catalog facts by table name as written (resolved with the caller's search_path, else a
/// table of that name if there is only one in the database), looked up once per name; and the
/// advisor's proposed indexes, when a caller ran it (the report does: a lint finding on a
/// function-wrapped column then points to the index the advice proposes).
#[derive(Default)]
pub struct SpiCatalog {
    tables: RefCell<HashMap<String, Option<TableFacts>>>,
    /// (table as the advisor names it, CREATE INDEX DDL) of the advice's creates.
    pub advised: Vec<(String, String)>,
}

impl Catalog for SpiCatalog {
    fn advised_index(&self, table: &str, expression: &str) -> Option<String> {
        self.advised
            .iter()
            .find(|(t, ddl)| pg_optimizer_core::lint::advice_serves(t, ddl, table, expression))
            .map(|(_, ddl)| ddl.clone())
    }

    fn table(&self, name: &str) -> Option<TableFacts> {
        if let Some(t) = self.tables.borrow().get(name) {
            return t.clone();
        }
        let t = lookup(name).unwrap_or_else(|e| {
            pgrx::debug1!("pg_optimizer: lint: table {name}: {e}");
            None
        });
        self.tables.borrow_mut().insert(name.to_string(), t.clone());
        t
    }
}

fn lookup(name: &str) -> Result<Option<TableFacts>, String> {
    Spi::connect(|c| {
        let found = c
            .select(
                "WITH named AS (
                     SELECT pg_catalog.to_regclass($1) AS oid
                 ), by_name AS (
                     SELECT c.oid FROM pg_catalog.pg_class c
                      WHERE c.relname = pg_catalog.regexp_replace($1, '^.*\\.', '') AND c.relkind IN ('r', 'p', 'm', 'v', 'f')
                        AND (pg_catalog.strpos($1, '.') = 0
                             OR c.relnamespace::regnamespace::text = pg_catalog.split_part($1, '.', 1))
                 )
                 SELECT COALESCE((SELECT n.oid FROM named n WHERE n.oid IS NOT NULL),
                                 (SELECT b.oid FROM by_name b WHERE (SELECT count(*) FROM by_name) = 1))",
                None,
                &[name.into()],
            )
            .map_err(spi_err)?;
        let Some(oid) = found.into_iter().next().and_then(|r| r.get::<pg_sys::Oid>(1).ok().flatten()) else {
            return Ok(None);
        };
        let head = c
            .select(
                "SELECT c.oid::regclass::text, GREATEST(c.reltuples, 0)::float8 FROM pg_catalog.pg_class c WHERE c.oid = $1",
                None,
                &[oid.into()],
            )
            .map_err(spi_err)?;
        let Some(h) = head.into_iter().next() else { return Ok(None) };
        let mut t = TableFacts { name: h.get(1).map_err(spi_err)?.unwrap_or_default(), rows: h.get(2).map_err(spi_err)?.unwrap_or(0.0), ..Default::default() };
        for r in c
            .select(
                &format!(
                    "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
                            COALESCE(s.avg_width, 0)::float8
                       FROM {}
                      ORDER BY a.attnum",
                    crate::advisor::catalog::COLUMNS_WITH_STATS
                ),
                None,
                &[oid.into()],
            )
            .map_err(spi_err)?
        {
            let col = ColumnFacts {
                name: r.get(1).map_err(spi_err)?.unwrap_or_default(),
                type_name: r.get(2).map_err(spi_err)?.unwrap_or_default(),
                not_null: r.get(3).map_err(spi_err)?.unwrap_or(false),
                avg_width: r.get(4).map_err(spi_err)?.unwrap_or(0.0),
            };
            t.avg_row_bytes += col.avg_width;
            t.columns.push(col);
        }
        for r in c
            .select(
                "SELECT i.indexrelid::regclass::text, pg_catalog.pg_get_indexdef(i.indexrelid, k.n::int, true)
                   FROM pg_catalog.pg_index i
                  CROSS JOIN LATERAL pg_catalog.generate_series(1, i.indnkeyatts) AS k(n)
                  WHERE i.indrelid = $1 AND i.indisvalid AND i.indkey[k.n - 1] = 0
                  ORDER BY 1, k.n",
                None,
                &[oid.into()],
            )
            .map_err(spi_err)?
        {
            t.expression_indexes.push((r.get(1).map_err(spi_err)?.unwrap_or_default(), r.get(2).map_err(spi_err)?.unwrap_or_default()));
        }
        Ok(Some(t))
    })
}

/// The text a finding's fragment and position point into (see `WorkloadLint::linted`).
pub fn text_of(w: &pg_optimizer_core::lint::WorkloadLint, stmts: &[StatementFacts], f: &pg_optimizer_core::lint::Finding) -> Option<String> {
    let q = f.queryid?;
    if f.rule != "n_plus_one" {
        if let Some(t) = w.linted.get(&q) {
            return Some(t.clone());
        }
    }
    stmts.iter().find(|s| s.queryid == q).map(|s| s.query.clone())
}
