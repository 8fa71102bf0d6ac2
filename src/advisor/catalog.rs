//! Reads the advisor's inputs into [`model`](super::model) types: recorded statements and their
//! quals and sort keys (snapshots of our stores, typed, under the views' privacy rule), table and
//! column statistics (`pg_class`, `pg_stats`, `pg_stat_user_tables`) and existing indexes
//! (`pg_index`), the catalog facts through SPI as the calling user, so a DBA sees what they may.

use crate::error::spi_err;
use super::model::*;
use super::robust;
use crate::stats::predicates::{Kind, OpKind, Place, PredRecord, F_COMMUTED, F_NEGATED, F_NULLS_FIRST, F_OR_MEMBER, F_UNDER_LIMIT};
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

/// Statements of this database the caller may read, one per query id (users and nesting levels
/// merged), with the example of the slowest execution, read from the statement store under the
/// views' privacy rule. Our own statements are left out (they read only our views and catalogs);
/// utility statements go when they are parsed (their command type has no plan). A cut example is
/// not used (the normalised text is planned instead, generically).
pub fn statements() -> Result<Vec<Recorded>, String> {
    let db = unsafe { pg_sys::MyDatabaseId }.to_u32();
    let visible = crate::pg::visible_to_caller();
    let mut snaps = crate::shmem::snapshot(|k| k.dbid == db && visible(k.userid));
    // By query id; within one, the slowest example first (the one planned).
    let example_ms = |s: &crate::shmem::Snapshot| if s.example.is_empty() { f64::NEG_INFINITY } else { s.counters.example_ms };
    snaps.sort_by(|x, y| (x.key.queryid as i64).cmp(&(y.key.queryid as i64)).then(example_ms(y).total_cmp(&example_ms(x))));
    let mut out: Vec<Recorded> = vec![];
    for s in snaps {
        let c = &s.counters;
        if c.exec.count == 0 || s.text.windows(OUR_SCHEMA.len()).any(|w| w == OUR_SCHEMA) {
            continue;
        }
        let (calls, ms, rows) = (c.exec.count as f64, c.exec.total, c.usage.rows as f64);
        if let Some(last) = out.last_mut() {
            if last.queryid == s.key.queryid {
                last.calls += calls;
                last.total_ms += ms;
                last.rows += rows;
                continue;
            }
        }
        let query = crate::pg::text::to_current(&s.text, s.encoding).0;
        let (text, params) = if !s.example.is_empty() && !s.example_truncated {
            let example = crate::pg::text::to_current(&s.example, s.encoding).0;
            let split = s.example_stmt_len.min(example.len());
            (example[..split].to_vec(), parse_param_log(&example[split..]))
        } else {
            (query.clone(), vec![])
        };
        out.push(Recorded {
            queryid: s.key.queryid,
            userid: pg_sys::Oid::from(s.key.userid),
            query,
            text,
            params,
            truncated: s.text_truncated,
            calls,
            total_ms: ms,
            rows,
        });
    }
    Ok(out)
}

/// Statements whose text names our schema are our own (the views read the catalogs).
const OUR_SCHEMA: &[u8] = b"optimizer.";

fn classify(op_kind: u8, oprname: &str, negated: bool, type_name: &str, constants: &[String]) -> QualClass {
    if negated {
        return QualClass::Other;
    }
    let jsonb = type_name == "jsonb";
    let array = type_name.ends_with("[]");
    match op_kind {
        k if k == OpKind::BoolColumn as u8 => QualClass::Eq,
        k if k == OpKind::IsNull as u8 => QualClass::IsNull,
        k if k == OpKind::IsNotNull as u8 => QualClass::IsNotNull,
        k if k == OpKind::Any as u8 && oprname == "=" => QualClass::In,
        k if k == OpKind::Op as u8 => match oprname {
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

/// The predicate store's entries of this database for `queryids`, under the views' privacy rule:
/// one snapshot, read by [`quals_and_sorts`] and [`estimates`].
pub fn predicate_records(queryids: &BTreeSet<u64>) -> Vec<PredRecord> {
    let db = unsafe { pg_sys::MyDatabaseId }.to_u32();
    let visible = crate::pg::visible_to_caller();
    crate::shmem::predicates::snapshot(|k| k.dbid == db && queryids.contains(&k.queryid) && visible(k.userid))
}

/// Quals and sort keys the recorded statements ran, per statement and scan, from
/// [`predicate_records`], matched on their stored kinds (operator names, types and sort
/// directions from the catalog caches).
pub fn quals_and_sorts(records: &[PredRecord]) -> Result<(Vec<Qual>, Vec<SortKey>), String> {
    let mut quals = vec![];
    let mut sorts = vec![];
    for r in records {
        let d = &r.desc;
        let kind = d.kind;
        if !(kind == Kind::Qual as u8 || kind == Kind::Join as u8 || kind == Kind::Sort as u8) || d.root_relid == 0 {
            continue;
        }
        let queryid = r.key.queryid;
        let relid = d.root_relid;
        let attnums: Vec<i16> = d.columns().collect();
        let expr = (!r.expr().is_empty()).then(|| String::from_utf8_lossy(r.expr()).into_owned());
        let column = match (&expr, attnums.first()) {
            (Some(e), _) => KeyExpr::Expr(e.clone()),
            (None, Some(&a)) if a > 0 => KeyExpr::Column(a),
            _ => continue,
        };
        let c = &r.counters;
        if kind == Kind::Sort as u8 {
            sorts.push(SortKey {
                queryid,
                relid,
                position: d.position as i16,
                column,
                desc: sorts_descending(d.opno),
                nulls_first: d.flags & F_NULLS_FIRST != 0,
                under_limit: d.flags & F_UNDER_LIMIT != 0,
            });
            continue;
        }
        if attnums.len() > 1 && expr.is_none() {
            continue;
        }
        let place = d.place;
        let negated = d.flags & F_NEGATED != 0;
        let oprname = operator_name(effective_operator(d.opno, d.flags & F_COMMUTED != 0));
        let constants: Vec<String> = c.held_samples().iter().filter_map(crate::capture::render_constant).collect();
        let join = kind == Kind::Join as u8
            || place == Place::HashCond as u8
            || place == Place::MergeCond as u8
            || place == Place::NestLoopIndexCond as u8
            || place == Place::NestLoopFilter as u8;
        let class = classify(d.op_kind, &oprname, negated, &column_type(relid, attnums.first().copied()), &constants);
        let (consts, params) = (c.n_const as f64, c.n_param as f64);
        let const_share = if consts + params > 0.0 { consts / (consts + params) } else { 0.0 };
        let base = Qual {
            queryid,
            relid,
            column,
            class,
            operator: oprname.clone(),
            join,
            in_or: d.flags & F_OR_MEMBER != 0,
            index_cond: d.indexid != 0 && place == Place::IndexCond as u8,
            executions: c.executions as f64,
            const_share,
            constants,
            scan: d.node_sig,
        };
        // A join clause can be served from either side: record the other side too.
        let rhs_attnum = d.rhs_columns().next();
        if let (true, true, Some(a)) = (join, d.rhs_relid != 0, rhs_attnum) {
            if a > 0 && class == QualClass::Eq {
                let other = Qual {
                    relid: d.rhs_relid,
                    column: KeyExpr::Column(a),
                    class: classify(d.op_kind, &oprname, negated, &column_type(d.rhs_relid, Some(a)), &[]),
                    index_cond: false,
                    constants: vec![],
                    scan: d.node_sig ^ 0x9e37_79b9_7f4a_7c15,
                    ..base.clone()
                };
                quals.push(other);
            }
        }
        quals.push(base);
    }
    Ok((quals, sorts))
}

/// Per recorded statement: the row estimates its plan nodes missed (the scan and join nodes of
/// [`predicate_records`]), for the advisor's discount (core `robust`).
pub fn estimates(records: &[PredRecord]) -> BTreeMap<u64, robust::Estimates> {
    let mut out: BTreeMap<u64, robust::Estimates> = BTreeMap::new();
    for r in records.iter().filter(|r| r.desc.kind == Kind::Scan as u8 && r.counters.counted > 0) {
        let table = (r.desc.root_relid != 0).then_some(r.desc.root_relid);
        out.entry(r.key.queryid).or_default().add(table, r.counters.est_rows, r.counters.rows);
    }
    out
}

/// The operator with the column on its left: its commutator when it was written the other way.
fn effective_operator(opno: u32, commuted: bool) -> pg_sys::Oid {
    let op = pg_sys::Oid::from(opno);
    if commuted {
        let com = unsafe { pg_sys::get_commutator(op) };
        if com != pg_sys::InvalidOid {
            return com;
        }
    }
    op
}

fn operator_name(op: pg_sys::Oid) -> String {
    unsafe {
        let n = pg_sys::get_opname(op);
        if n.is_null() { String::new() } else { std::ffi::CStr::from_ptr(n).to_string_lossy().into_owned() }
    }
}

/// The type of a column, as `format_type` names it ("" when there is none).
fn column_type(relid: u32, attnum: Option<i16>) -> String {
    unsafe {
        let Some(a) = attnum.filter(|&a| a > 0) else { return String::new() };
        let t = pg_sys::get_atttype(pg_sys::Oid::from(relid), a);
        if t == pg_sys::InvalidOid {
            return String::new();
        }
        std::ffi::CStr::from_ptr(pg_sys::format_type_be(t)).to_string_lossy().into_owned()
    }
}

/// Whether a sort operator sorts descending (it is a btree "greater than").
fn sorts_descending(opno: u32) -> bool {
    unsafe {
        let (mut family, mut intype, mut strategy) = (pg_sys::InvalidOid, pg_sys::InvalidOid, 0i16);
        pg_sys::get_ordering_op_properties(pg_sys::Oid::from(opno), &mut family, &mut intype, &mut strategy)
            && strategy == pg_sys::BTGreaterStrategyNumber as i16
    }
}

/// Seconds the statistics window covers: since this database's statistics were reset, or since
/// the server started. Write rates and index scan counts are per this window.
pub fn stats_window_seconds() -> Result<f64, String> {
    Ok(crate::pg::read_one::<f64>(
        "SELECT EXTRACT(epoch FROM now() - COALESCE(
                  (SELECT stats_reset FROM pg_catalog.pg_stat_database WHERE datname = pg_catalog.current_database()),
                  pg_catalog.pg_postmaster_start_time()))::float8",
        &[],
    )
    .map_err(spi_err)?
    .unwrap_or(0.0))
}

/// The columns of table `$1` (alias `a`) with their statistics (alias `s`, pg_stats' columns,
/// NULL without statistics): a lateral lookup kept apart (`OFFSET 0`), as joined flat the planner
/// builds all of pg_stats (100 ms on 10,000 tables) for each table read.
pub const COLUMNS_WITH_STATS: &str = "pg_catalog.pg_attribute a
       JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN LATERAL (SELECT s.* FROM pg_catalog.pg_stats s
                           WHERE s.schemaname = n.nspname AND s.tablename = c.relname
                             AND s.attname = a.attname AND s.inherited = (c.relkind = 'p')
                          OFFSET 0) s ON true
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped";

/// Table, column and index facts for `relids` (plain and partitioned tables, matviews); write
/// rates are per second of `window_s` (see [`stats_window_seconds`]).
pub fn tables(relids: &[u32], window_s: f64) -> Result<Vec<TableInfo>, String> {
    let mut out = vec![];
    let has_trgm = crate::pg::read_one::<bool>("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_trgm')", &[])
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
                    &format!(
                        "SELECT a.attnum, a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod),
                            COALESCE(s.avg_width, pg_catalog.pg_column_size(NULL::int), 8)::float8,
                            COALESCE(s.null_frac, 0)::float8, COALESCE(s.n_distinct, 0)::float8, COALESCE(s.correlation, 0)::float8,
                            s.most_common_vals::text::text[], s.most_common_freqs::float8[],
                            a.attcollation = 0 OR a.attcollation = 950
                       FROM {COLUMNS_WITH_STATS}
                      ORDER BY a.attnum"
                    ),
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
                    -- (an invalid unique index, left by a failed concurrent build, guarantees nothing)
                    i.indisprimary OR (i.indisunique AND i.indisvalid) OR i.indisexclusion OR i.indisreplident
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
    indexed_tables(true, false)
}

/// The tables with an index the drop rules may name: an invalid one, two sharing their leading
/// key column (duplicates and prefixes need that), or, when `unused_possible`, one never scanned.
/// A superset of what `drop::advise` can return, read in one query.
pub fn tables_with_drop_suspects(unused_possible: bool) -> Result<Vec<u32>, String> {
    indexed_tables(false, unused_possible)
}

/// User tables with an index: all of them, or only those with a drop suspect.
fn indexed_tables(all: bool, unused_possible: bool) -> Result<Vec<u32>, String> {
    let mut out = vec![];
    Spi::connect(|c| {
        for r in c
            .select(
                "SELECT DISTINCT i.indrelid FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
                  WHERE c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
                    AND c.relnamespace::regnamespace::text NOT LIKE 'pg_toast%' AND c.relkind IN ('r', 'm', 'p')
                    AND ($1
                         OR NOT (i.indisvalid AND i.indisready AND i.indislive)
                         OR EXISTS (SELECT 1 FROM pg_catalog.pg_index j
                                     WHERE j.indrelid = i.indrelid AND j.indexrelid <> i.indexrelid AND j.indkey[0] = i.indkey[0])
                         OR ($2 AND pg_catalog.pg_stat_get_numscans(i.indexrelid) = 0))
                  ORDER BY 1",
                None,
                &[all.into(), unused_possible.into()],
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
