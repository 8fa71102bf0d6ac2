//! Reads the advisor's inputs into [`model`](super::model) types: recorded statements and their
//! quals and sort keys (our stores, through the views), table and column statistics
//! (`pg_class`, `pg_stats`, `pg_stat_user_tables`) and existing indexes (`pg_index`).
//! Everything runs through SPI as the calling user, so a DBA sees what they may see.

use super::model::*;
use crate::whatif::plan::parse_param_log;
use pgrx::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A recorded statement as the advisor plans it. Texts are bytes in this database's encoding.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub queryid: u64,
    /// The role whose execution gave the example (the slowest): the statement is planned as it.
    pub userid: pg_sys::Oid,
    /// Normalised text (`$n` for constants).
    pub query: Vec<u8>,
    /// Text to plan: the example with real constants when there is a whole one.
    pub text: Vec<u8>,
    /// Values of the example's bound parameters (empty: none, or a generic plan).
    pub params: Vec<Option<Vec<u8>>>,
    /// The normalised text was cut at `pg_optimizer.max_text_bytes`: nothing whole to plan.
    pub truncated: bool,
    pub calls: f64,
    pub total_ms: f64,
    /// Rows returned or changed, all calls together.
    pub rows: f64,
}

fn spi_err(e: pgrx::spi::SpiError) -> String {
    e.to_string()
}

/// Statements of this database the caller may read, one per query id (users and nesting levels
/// merged), with their example. Utility statements and our own calls are left out. A cut
/// example is not used (the normalised text is planned instead, generically).
pub fn statements() -> Result<Vec<Recorded>, String> {
    let sql = "SELECT queryid, pg_catalog.convert_to(query, pg_catalog.getdatabaseencoding()),
                      pg_catalog.convert_to(example, pg_catalog.getdatabaseencoding()),
                      pg_catalog.convert_to(example_params, pg_catalog.getdatabaseencoding()),
                      calls, total_exec_time, rows, userid, query_truncated, example_truncated
                 FROM @extschema@.statements
                WHERE dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
                  AND queryid IS NOT NULL AND calls > 0 AND query !~* '^\\s*(explain|create|alter|drop|vacuum|analyze|copy|set|reset|show|begin|commit|rollback|prepare|execute|deallocate|truncate|grant|revoke|comment|cluster|reindex|refresh|lock|listen|notify|discard|checkpoint|do|call|end|start|savepoint|release|abort|fetch|move|close|declare|load|unlisten|security|reassign|import)\\M'
                  AND query !~ 'optimizer\\.'
                ORDER BY queryid, example_exec_time DESC NULLS LAST";
    let sql = sql.replace("@extschema@", "optimizer");
    let mut out: Vec<Recorded> = vec![];
    Spi::connect(|c| {
        for row in c.select(&sql, None, &[]).map_err(spi_err)? {
            let queryid = row.get::<i64>(1).map_err(spi_err)?.unwrap_or(0) as u64;
            let query: Vec<u8> = row.get(2).map_err(spi_err)?.unwrap_or_default();
            let example: Option<Vec<u8>> = row.get(3).map_err(spi_err)?;
            let params: Option<Vec<u8>> = row.get(4).map_err(spi_err)?;
            let calls = row.get::<i64>(5).map_err(spi_err)?.unwrap_or(0) as f64;
            let ms = row.get::<f64>(6).map_err(spi_err)?.unwrap_or(0.0);
            let rows = row.get::<i64>(7).map_err(spi_err)?.unwrap_or(0) as f64;
            let userid = row.get::<pg_sys::Oid>(8).map_err(spi_err)?.unwrap_or(pg_sys::InvalidOid);
            let truncated = row.get::<bool>(9).map_err(spi_err)?.unwrap_or(false);
            let example_truncated = row.get::<bool>(10).map_err(spi_err)?.unwrap_or(false);
            if let Some(last) = out.last_mut() {
                if last.queryid == queryid {
                    last.calls += calls;
                    last.total_ms += ms;
                    last.rows += rows;
                    continue;
                }
            }
            let (text, params) = match example {
                Some(e) if !e.is_empty() && !example_truncated && e != crate::pg::text::HIDDEN.as_bytes() => {
                    (e, params.map(|p| parse_param_log(&p)).unwrap_or_default())
                }
                _ => (query.clone(), vec![]),
            };
            out.push(Recorded { queryid, userid, query, text, params, truncated, calls, total_ms: ms, rows });
        }
        Ok::<_, String>(())
    })?;
    Ok(out)
}

fn classify(op_kind: &str, oprname: &str, negated: bool, type_name: &str, constants: &[String]) -> QualClass {
    if negated {
        return QualClass::Other;
    }
    let jsonb = type_name == "jsonb";
    let array = type_name.ends_with("[]");
    match op_kind {
        "boolean column" => QualClass::Eq,
        "is null" => QualClass::IsNull,
        "is not null" => QualClass::IsNotNull,
        "any" if oprname == "=" => QualClass::In,
        "op" => match oprname {
            "=" => QualClass::Eq,
            "<" | "<=" | ">" | ">=" => QualClass::Range,
            "~~" | "~~*" | "~" | "~*" => {
                let anchored = !constants.is_empty()
                    && constants.iter().all(|c| {
                        let c = c.trim_matches('\'');
                        if matches!(oprname, "~" | "~*") {
                            c.starts_with('^') && c.len() > 1
                        } else {
                            !c.starts_with('%') && !c.starts_with('_') && !c.is_empty()
                        }
                    });
                if anchored && oprname == "~~" { QualClass::LikePrefix } else { QualClass::Pattern }
            }
            "@>" | "<@" if jsonb => QualClass::JsonPath,
            "@?" | "@@" if jsonb => QualClass::JsonPath,
            "?" | "?|" | "?&" if jsonb => QualClass::JsonKey,
            "@>" | "<@" | "&&" if array => QualClass::ArrayOp,
            _ => QualClass::Other,
        },
        _ => QualClass::Other,
    }
}

/// Quals and sort keys the recorded statements ran, per statement and scan.
pub fn quals_and_sorts(queryids: &BTreeSet<u64>) -> Result<(Vec<Qual>, Vec<SortKey>), String> {
    let sql = "SELECT e.queryid, e.kind, e.place, e.op_kind, e.negated, e.or_group IS NOT NULL,
                      e.root_relid, e.attnums, e.expression, op.oprname::text,
                      e.rhs_relid, e.rhs_attnums, e.counts[1], e.counts[4], e.counts[5],
                      e.constants::text[], e.node_sig, e.position, e.nulls_first, e.under_limit,
                      pg_catalog.format_type(a.atttypid, NULL), e.indexid IS NOT NULL,
                      (SELECT pg_catalog.format_type(b.atttypid, NULL) FROM pg_catalog.pg_attribute b
                        WHERE b.attrelid = e.rhs_relid AND b.attnum = e.rhs_attnums[1]),
                      COALESCE(ao.amopstrategy = 5, false)
                 FROM optimizer.predicate_entries e
                 LEFT JOIN pg_catalog.pg_operator op ON op.oid = e.effective_opno
                 LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = e.root_relid AND a.attnum = e.attnums[1]
                 LEFT JOIN pg_catalog.pg_amop ao ON e.kind = 'sort' AND ao.amopopr = e.opno AND ao.amopmethod = 403
                WHERE e.kind IN ('qual', 'join', 'sort') AND e.queryid IS NOT NULL AND e.root_relid IS NOT NULL";
    let mut quals = vec![];
    let mut sorts = vec![];
    Spi::connect(|c| {
        for row in c.select(sql, None, &[]).map_err(spi_err)? {
            let queryid = row.get::<i64>(1).map_err(spi_err)?.unwrap_or(0) as u64;
            if !queryids.contains(&queryid) {
                continue;
            }
            let kind: String = row.get(2).map_err(spi_err)?.unwrap_or_default();
            let place: String = row.get(3).map_err(spi_err)?.unwrap_or_default();
            let op_kind: String = row.get(4).map_err(spi_err)?.unwrap_or_default();
            let negated: bool = row.get(5).map_err(spi_err)?.unwrap_or(false);
            let in_or: bool = row.get(6).map_err(spi_err)?.unwrap_or(false);
            let relid = u32::from(row.get::<pg_sys::Oid>(7).map_err(spi_err)?.unwrap_or(pg_sys::InvalidOid));
            let attnums: Vec<i16> = row.get(8).map_err(spi_err)?.unwrap_or_default();
            let expr: Option<String> = row.get(9).map_err(spi_err)?;
            let oprname: String = row.get(10).map_err(spi_err)?.unwrap_or_default();
            let rhs_relid = row.get::<pg_sys::Oid>(11).map_err(spi_err)?.map(u32::from);
            let rhs_attnums: Vec<i16> = row.get(12).map_err(spi_err)?.unwrap_or_default();
            let executions = row.get::<i64>(13).map_err(spi_err)?.unwrap_or(0) as f64;
            let consts = row.get::<i64>(14).map_err(spi_err)?.unwrap_or(0) as f64;
            let params = row.get::<i64>(15).map_err(spi_err)?.unwrap_or(0) as f64;
            let constants: Vec<Option<String>> = row.get(16).map_err(spi_err)?.unwrap_or_default();
            let scan = row.get::<i64>(17).map_err(spi_err)?.unwrap_or(0) as u64;
            let position = row.get::<i32>(18).map_err(spi_err)?.unwrap_or(0) as i16;
            let nulls_first: bool = row.get(19).map_err(spi_err)?.unwrap_or(false);
            let under_limit: bool = row.get(20).map_err(spi_err)?.unwrap_or(false);
            let type_name: String = row.get(21).map_err(spi_err)?.unwrap_or_default();
            let index_cond: bool = row.get(22).map_err(spi_err)?.unwrap_or(false);
            let rhs_type: String = row.get(23).map_err(spi_err)?.unwrap_or_default();
            let desc: bool = row.get(24).map_err(spi_err)?.unwrap_or(false);
            let column = match (&expr, attnums.first()) {
                (Some(e), _) => KeyExpr::Expr(e.clone()),
                (None, Some(&a)) if a > 0 => KeyExpr::Column(a),
                _ => continue,
            };
            if kind == "sort" {
                sorts.push(SortKey { queryid, relid, position, column, desc, nulls_first, under_limit });
                continue;
            }
            if attnums.len() > 1 && expr.is_none() {
                continue;
            }
            let constants: Vec<String> = constants.into_iter().flatten().collect();
            let join = kind == "join" || place == "hash cond" || place == "merge cond" || place.starts_with("nested loop");
            let class = classify(&op_kind, &oprname, negated, &type_name, &constants);
            let const_share = if consts + params > 0.0 { consts / (consts + params) } else { 0.0 };
            let base = Qual {
                queryid,
                relid,
                column,
                class,
                operator: oprname.clone(),
                join,
                in_or,
                index_cond: index_cond && place == "index cond",
                executions,
                const_share,
                constants,
                scan,
            };
            // A join clause can be served from either side: record the other side too.
            if let (true, Some(r), Some(&a)) = (join, rhs_relid, rhs_attnums.first()) {
                if a > 0 && class == QualClass::Eq {
                    let other = Qual {
                        relid: r,
                        column: KeyExpr::Column(a),
                        class: classify(&op_kind, &oprname, negated, &rhs_type, &[]),
                        index_cond: false,
                        constants: vec![],
                        scan: scan ^ 0x9e37_79b9_7f4a_7c15,
                        ..base.clone()
                    };
                    quals.push(other);
                }
            }
            quals.push(base);
        }
        Ok::<_, String>(())
    })?;
    Ok((quals, sorts))
}

/// Seconds the statistics window covers: since this database's statistics were reset, or since
/// the server started. Write rates and index scan counts are per this window.
pub fn stats_window_seconds() -> Result<f64, String> {
    Ok(Spi::get_one::<f64>(
        "SELECT EXTRACT(epoch FROM now() - COALESCE(
                  (SELECT stats_reset FROM pg_catalog.pg_stat_database WHERE datname = pg_catalog.current_database()),
                  pg_catalog.pg_postmaster_start_time()))::float8",
    )
    .map_err(spi_err)?
    .unwrap_or(0.0))
}

/// Table, column and index facts for `relids` (plain and partitioned tables, matviews); write
/// rates are per second of `window_s` (see [`stats_window_seconds`]).
pub fn tables(relids: &[u32], window_s: f64) -> Result<Vec<TableInfo>, String> {
    let mut out = vec![];
    let has_trgm = Spi::get_one::<bool>("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_trgm')")
        .map_err(spi_err)?
        .unwrap_or(false);
    let window_s = window_s.max(1.0);
    Spi::connect(|c| {
        for &relid in relids {
            let oid = pg_sys::Oid::from(relid);
            let args = vec![unsafe { pgrx::datum::DatumWithOid::new(oid, pg_sys::OIDOID) }];
            let head = c
                .select(
                    "SELECT '\"' || replace(n.nspname, '\"', '\"\"') || '\".\"' || replace(c.relname, '\"', '\"\"') || '\"', c.relname::text,
                            GREATEST(c.reltuples, 0)::float8, c.relpages::float8,
                            CASE WHEN c.relpages > 0 THEN c.relallvisible::float8 / c.relpages ELSE 0 END, c.relkind = 'p',
                            COALESCE(s.n_tup_ins, 0)::float8, COALESCE(s.n_tup_upd, 0)::float8, COALESCE(s.n_tup_hot_upd, 0)::float8,
                            COALESCE(s.n_tup_del, 0)::float8, COALESCE(s.vacuum_count + s.autovacuum_count, 0)::float8, c.relowner
                       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                       LEFT JOIN pg_catalog.pg_stat_user_tables s ON s.relid = c.oid
                      WHERE c.oid = $1",
                    None,
                    &args,
                )
                .map_err(spi_err)?;
            let Some(h) = head.into_iter().next() else { continue };
            let mut t = TableInfo {
                relid,
                qualified_name: h.get(1).map_err(spi_err)?.unwrap_or_default(),
                name: h.get(2).map_err(spi_err)?.unwrap_or_default(),
                rows: h.get(3).map_err(spi_err)?.unwrap_or(0.0),
                pages: h.get(4).map_err(spi_err)?.unwrap_or(0.0),
                all_visible_frac: h.get(5).map_err(spi_err)?.unwrap_or(0.0),
                partitioned: h.get(6).map_err(spi_err)?.unwrap_or(false),
                has_pg_trgm: has_trgm,
                owner: h.get::<pg_sys::Oid>(12).map_err(spi_err)?.map_or(0, |o| o.to_u32()),
                ..Default::default()
            };
            let w = |i: usize| -> Result<f64, String> { Ok(h.get::<f64>(i).map_err(spi_err)?.unwrap_or(0.0) / window_s) };
            t.writes = WriteRates { inserts: w(7)?, updates: w(8)?, hot_updates: w(9)?, deletes: w(10)?, vacuums: w(11)? };
            if t.partitioned {
                // Sizes of a partitioned table are its leaves'.
                let sums = c
                    .select(
                        "SELECT COALESCE(sum(GREATEST(c.reltuples, 0)), 0)::float8, COALESCE(sum(c.relpages), 0)::float8
                           FROM pg_catalog.pg_partition_tree($1) p JOIN pg_catalog.pg_class c ON c.oid = p.relid WHERE p.isleaf",
                        None,
                        &args,
                    )
                    .map_err(spi_err)?;
                if let Some(r) = sums.into_iter().next() {
                    t.rows = r.get(1).map_err(spi_err)?.unwrap_or(0.0);
                    t.pages = r.get(2).map_err(spi_err)?.unwrap_or(0.0);
                }
            }
            for r in c
                .select(
                    "SELECT a.attnum, a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod),
                            COALESCE(s.avg_width, pg_catalog.pg_column_size(NULL::int), 8)::float8,
                            COALESCE(s.null_frac, 0)::float8, COALESCE(s.n_distinct, 0)::float8, COALESCE(s.correlation, 0)::float8,
                            s.most_common_vals::text::text[], s.most_common_freqs::float8[],
                            a.attcollation = 0 OR a.attcollation = 950
                       FROM pg_catalog.pg_attribute a
                       LEFT JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
                       LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                       LEFT JOIN pg_catalog.pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname
                                                      AND s.attname = a.attname AND s.inherited = (c.relkind = 'p')
                      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
                      ORDER BY a.attnum",
                    None,
                    &args,
                )
                .map_err(spi_err)?
            {
                let nd: f64 = r.get(6).map_err(spi_err)?.unwrap_or(0.0);
                let null_frac: f64 = r.get(5).map_err(spi_err)?.unwrap_or(0.0);
                let vals: Vec<Option<String>> = r.get(8).map_err(spi_err)?.unwrap_or_default();
                let freqs: Vec<Option<f64>> = r.get(9).map_err(spi_err)?.unwrap_or_default();
                t.columns.push(ColumnStats {
                    attnum: r.get::<i16>(1).map_err(spi_err)?.unwrap_or(0),
                    name: r.get(2).map_err(spi_err)?.unwrap_or_default(),
                    type_name: r.get(3).map_err(spi_err)?.unwrap_or_default(),
                    width: r.get(4).map_err(spi_err)?.unwrap_or(8.0),
                    null_frac,
                    n_distinct: if nd < 0.0 { -nd * t.rows * (1.0 - null_frac) } else { nd },
                    correlation: r.get(7).map_err(spi_err)?.unwrap_or(0.0),
                    mcv: vals.into_iter().zip(freqs).filter_map(|(v, f)| Some((v?, f?))).collect(),
                    c_collation: r.get(10).map_err(spi_err)?.unwrap_or(false),
                });
            }
            t.existing = indexes_of(c, oid)?;
            out.push(t);
        }
        Ok::<_, String>(())
    })?;
    Ok(out)
}

/// Existing indexes of one table, with their keys as the model needs them.
fn indexes_of(c: &pgrx::spi::SpiClient<'_>, relid: pg_sys::Oid) -> Result<Vec<IndexDef>, String> {
    let args = vec![unsafe { pgrx::datum::DatumWithOid::new(relid, pg_sys::OIDOID) }];
    let mut out = vec![];
    let rows = c
        .select(
            "SELECT i.indexrelid, ic.relname::text, am.amname::text, i.indnkeyatts::int,
                    string_to_array(i.indkey::text, ' ')::int2[],
                    string_to_array(i.indoption::text, ' ')::int2[],
                    ARRAY(SELECT CASE WHEN oc.opcdefault THEN NULL ELSE oc.opcname::text END
                            FROM unnest(string_to_array(i.indclass::text, ' ')::oid[]) WITH ORDINALITY u(o, n)
                            JOIN pg_catalog.pg_opclass oc ON oc.oid = u.o ORDER BY u.n),
                    ARRAY(SELECT pg_catalog.pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnkeyatts) k),
                    pg_catalog.pg_get_expr(i.indpred, i.indrelid, true),
                    i.indisunique, i.indisprimary,
                    i.indisprimary OR i.indisunique OR i.indisexclusion OR i.indisreplident
                      OR EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = i.indexrelid)
                      OR EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid AND d.deptype = 'e')
                      OR EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h WHERE h.inhrelid = i.indexrelid),
                    i.indisvalid AND i.indisready AND i.indislive,
                    EXISTS (SELECT 1 FROM pg_catalog.pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid),
                    pg_catalog.pg_relation_size(i.indexrelid)::float8
               FROM pg_catalog.pg_index i
               JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
               JOIN pg_catalog.pg_am am ON am.oid = ic.relam
              WHERE i.indrelid = $1
              ORDER BY i.indexrelid",
            None,
            &args,
        )
        .map_err(spi_err)?;
    for r in rows {
        let nkey = r.get::<i32>(4).map_err(spi_err)?.unwrap_or(0) as usize;
        let cols: Vec<i16> = r.get(5).map_err(spi_err)?.unwrap_or_default();
        let opts: Vec<i16> = r.get(6).map_err(spi_err)?.unwrap_or_default();
        let opclasses: Vec<Option<String>> = r.get(7).map_err(spi_err)?.unwrap_or_default();
        let defs: Vec<Option<String>> = r.get(8).map_err(spi_err)?.unwrap_or_default();
        let am: String = r.get(3).map_err(spi_err)?.unwrap_or_default();
        let keys = (0..nkey.min(cols.len()))
            .map(|k| {
                let opt = opts.get(k).copied().unwrap_or(0);
                Key {
                    expr: if cols[k] != 0 {
                        KeyExpr::Column(cols[k])
                    } else {
                        KeyExpr::Expr(defs.get(k).cloned().flatten().unwrap_or_default())
                    },
                    desc: opt & 1 != 0,
                    nulls_first: opt & 2 != 0,
                    opclass: opclasses.get(k).cloned().flatten(),
                    collation: None,
                }
            })
            .collect();
        out.push(IndexDef {
            oid: u32::from(r.get::<pg_sys::Oid>(1).map_err(spi_err)?.unwrap_or(pg_sys::InvalidOid)),
            relid: u32::from(relid),
            name: r.get(2).map_err(spi_err)?.unwrap_or_default(),
            method: Method::from_name(&am),
            am,
            keys,
            include: cols.iter().skip(nkey).copied().collect(),
            predicate: r.get(9).map_err(spi_err)?,
            unique: r.get(10).map_err(spi_err)?.unwrap_or(false),
            primary: r.get(11).map_err(spi_err)?.unwrap_or(false),
            protected: r.get(12).map_err(spi_err)?.unwrap_or(false),
            valid: r.get(13).map_err(spi_err)?.unwrap_or(false),
            building: r.get(14).map_err(spi_err)?.unwrap_or(false),
            bytes: r.get(15).map_err(spi_err)?.unwrap_or(0.0),
        });
    }
    Ok(out)
}

/// Scan counts of every index on user tables (counted over the statistics window).
pub fn index_usage() -> Result<HashMap<u32, i64>, String> {
    let mut scans = HashMap::new();
    Spi::connect(|c| {
        for r in c.select("SELECT indexrelid, idx_scan FROM pg_catalog.pg_stat_user_indexes", None, &[]).map_err(spi_err)? {
            let oid = u32::from(r.get::<pg_sys::Oid>(1).map_err(spi_err)?.unwrap_or(pg_sys::InvalidOid));
            scans.insert(oid, r.get::<i64>(2).map_err(spi_err)?.unwrap_or(0));
        }
        Ok::<_, String>(())
    })?;
    Ok(scans)
}

/// Every user table with at least one index (for drop advice over the whole database).
pub fn tables_with_indexes() -> Result<Vec<u32>, String> {
    let mut out = vec![];
    Spi::connect(|c| {
        for r in c
            .select(
                "SELECT DISTINCT i.indrelid FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
                  WHERE c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
                    AND c.relnamespace::regnamespace::text NOT LIKE 'pg_toast%' AND c.relkind IN ('r', 'm', 'p')
                  ORDER BY 1",
                None,
                &[],
            )
            .map_err(spi_err)?
        {
            out.push(u32::from(r.get::<pg_sys::Oid>(1).map_err(spi_err)?.unwrap_or(pg_sys::InvalidOid)));
        }
        Ok::<_, String>(())
    })?;
    Ok(out)
}

/// Per statement and table, the columns the statement's quals and sort keys name (for INCLUDE).
pub fn columns_used(quals: &[Qual], sorts: &[SortKey]) -> BTreeMap<u64, BTreeMap<Oid, Vec<i16>>> {
    let mut m: BTreeMap<u64, BTreeMap<Oid, BTreeSet<i16>>> = BTreeMap::new();
    for (q, r, c) in quals.iter().map(|q| (q.queryid, q.relid, &q.column)).chain(sorts.iter().map(|s| (s.queryid, s.relid, &s.column))) {
        if let KeyExpr::Column(a) = c {
            m.entry(q).or_default().entry(r).or_default().insert(*a);
        }
    }
    m.into_iter().map(|(q, t)| (q, t.into_iter().map(|(r, s)| (r, s.into_iter().collect())).collect())).collect()
}
