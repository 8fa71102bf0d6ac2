//! What partition maintenance reads: a set's configuration, its parent's columns, grants and
//! partitions (with their bounds as local date-times or integers), and the default partition's
//! contents. Every read runs inside a transaction of the partition worker, as the table's owner.

use crate::error::spi_err;
use pg_optimizer_core::partitions::{self as core, Bound, Method, Range, Retire, Span};
use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;

/// Rows of `sql` with every column as text (the queries cast what they select).
pub use crate::pg::text_rows as rows;

/// One text value (None: no row or NULL).
pub fn one(sql: &str, args: &[DatumWithOid]) -> Result<Option<String>, String> {
    Ok(rows(sql, args)?.into_iter().next().and_then(|r| r.into_iter().next().flatten()))
}

/// Run a statement; the rows it processed.
pub fn run(sql: &str) -> Result<u64, String> {
    Spi::connect_mut(|c| c.update(sql, None, &[]).map(|t| t.len() as u64)).map_err(spi_err)
}

pub fn oid_arg(oid: u32) -> DatumWithOid<'static> {
    unsafe { DatumWithOid::new(pg_sys::Oid::from(oid), pg_sys::OIDOID) }
}

/// The type of a control column, as partition maintenance handles it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColType {
    Timestamptz,
    Timestamp,
    Date,
    Integer,
    /// Any other type: list and hash partitioning only.
    Other,
}

impl ColType {
    pub fn of(typname: &str) -> ColType {
        match typname {
            "timestamp with time zone" => ColType::Timestamptz,
            "timestamp without time zone" => ColType::Timestamp,
            "date" => ColType::Date,
            "bigint" | "integer" | "smallint" => ColType::Integer,
            _ => ColType::Other,
        }
    }
    pub fn is_time(self) -> bool {
        matches!(self, ColType::Timestamptz | ColType::Timestamp | ColType::Date)
    }
}

/// A partition set's configuration (a row of optimizer.partition_sets) and its parent.
#[derive(Clone, Debug)]
pub struct Set {
    pub parent: u32,
    pub schema: String,
    pub name: String,
    pub owner: u32,
    pub control: String,
    pub method: Method,
    pub interval: Option<String>,
    pub premake: u32,
    pub retention: Option<String>,
    pub retire: Retire,
    pub archive_schema: Option<String>,
    pub time_zone: String,
    pub with_default: bool,
    pub batch_rows: u64,
    pub modulus: Option<u32>,
    /// range: also create from the partition holding this value (partition_table only).
    pub start_from: Option<String>,
}

impl Set {
    pub fn qualified(&self) -> String {
        core::qualified(&self.schema, &self.name)
    }
}

const SET_COLUMNS: &str = "s.parent::oid::text, n.nspname::text, c.relname::text, c.relowner::oid::text, s.control, s.method,
       s.\"interval\", s.premake::text, s.retention, s.retention_action, s.archive_schema::text, s.time_zone,
       s.with_default::text, s.batch_rows::text, s.modulus::text";

fn set_of(r: &[Option<String>]) -> Result<Set, String> {
    let t = |i: usize| r.get(i).cloned().flatten();
    let num = |i: usize| t(i).and_then(|v| v.parse::<u64>().ok());
    Ok(Set {
        parent: num(0).unwrap_or(0) as u32,
        schema: t(1).unwrap_or_default(),
        name: t(2).unwrap_or_default(),
        owner: num(3).unwrap_or(0) as u32,
        control: t(4).unwrap_or_default(),
        method: Method::parse(&t(5).unwrap_or_default())?,
        interval: t(6),
        premake: num(7).unwrap_or(0) as u32,
        retention: t(8),
        retire: Retire::parse(&t(9).unwrap_or_else(|| "drop".into()))?,
        archive_schema: t(10),
        time_zone: t(11).unwrap_or_else(|| "UTC".into()),
        with_default: t(12).as_deref() == Some("true"),
        batch_rows: num(13).unwrap_or(10_000).max(1),
        modulus: num(14).map(|m| m as u32),
        start_from: None,
    })
}

/// The enabled sets (all of them, or the one of `parent`) whose parent still exists.
pub fn sets(parent: Option<u32>) -> Result<Vec<Set>, String> {
    let sql = format!(
        "SELECT {SET_COLUMNS}
           FROM optimizer.partition_sets s
           JOIN pg_catalog.pg_class c ON c.oid = s.parent
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE ($1 = 0 OR s.parent = $1::oid) AND (s.enabled OR $1 <> 0)
          ORDER BY n.nspname, c.relname"
    );
    rows(&sql, &[(parent.unwrap_or(0) as i64).into()])?.iter().map(|r| set_of(r)).collect()
}

/// The parent of a set as the catalogs describe it now.
#[derive(Clone, Debug)]
pub struct Parent {
    /// How it is partitioned (None: a plain table).
    pub strategy: Option<Method>,
    pub col_type: ColType,
    /// The columns rows move with (not generated, not dropped), quoted, in order.
    pub columns: Vec<String>,
    /// `GRANT <privilege> ON {} TO <grantee>` for each privilege on the parent that its owner
    /// did not grant to itself (`{}` takes the partition).
    pub grants: Vec<String>,
    pub children: Vec<Child>,
    pub default: Option<Child>,
}

#[derive(Clone, Debug)]
pub struct Child {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    pub bound: String,
    pub detach_pending: bool,
    /// A range partition's bounds in the set's terms (local date-times or integers).
    pub range: Option<Range>,
}

impl Child {
    pub fn qualified(&self) -> String {
        core::qualified(&self.schema, &self.name)
    }
}

/// The SQL of `expr` (a control column value) as the text core::parse_bound reads: a local
/// date-time in the set's time zone, or an integer.
pub fn local_text(expr: &str, t: ColType, tz: &str) -> String {
    match t {
        ColType::Timestamptz => format!("pg_catalog.to_char(({expr}) AT TIME ZONE {}, 'YYYY-MM-DD HH24:MI:SS')", core::literal(tz)),
        ColType::Timestamp => format!("pg_catalog.to_char({expr}, 'YYYY-MM-DD HH24:MI:SS')"),
        ColType::Date => format!("pg_catalog.to_char({expr}, 'YYYY-MM-DD')"),
        _ => format!("({expr})::text"),
    }
}

/// A bound as a SQL expression of the control column's type.
pub fn bound_sql(b: &Bound, t: ColType, tz: &str) -> String {
    match (b, t) {
        (Bound::Integer(v), _) => v.to_string(),
        (Bound::Time(_), ColType::Timestamptz) => {
            format!("(pg_catalog.timezone({}, {}::timestamp))", core::literal(tz), core::literal(&b.literal()))
        }
        (Bound::Time(d), ColType::Date) => format!("{}::date", core::literal(&d.format("%Y-%m-%d").to_string())),
        (Bound::Time(_), _) => format!("{}::timestamp", core::literal(&b.literal())),
    }
}

/// The time zone a set's spans follow: its own for a day or more, UTC for hours (every hour
/// exists once in UTC).
pub fn span_zone(set: &Set, span: Option<&Span>) -> String {
    match span {
        Some(Span::Time { unit: core::Unit::Hour, .. }) => "UTC".into(),
        _ => set.time_zone.clone(),
    }
}

/// Describe `relid` for a set whose control column is `control`.
pub fn parent(relid: u32, owner: u32, control: &str, tz: &str) -> Result<Parent, String> {
    let strategy = one("SELECT partstrat::text FROM pg_catalog.pg_partitioned_table WHERE partrelid = $1", &[oid_arg(relid)])?
        .and_then(|s| s.chars().next())
        .and_then(Method::from_strategy);
    let typ = one(
        "SELECT pg_catalog.format_type(a.atttypid, NULL) FROM pg_catalog.pg_attribute a
          WHERE a.attrelid = $1 AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
        &[oid_arg(relid), control.into()],
    )?
    .ok_or_else(|| format!("column \"{control}\" does not exist"))?;
    let col_type = ColType::of(&typ);
    let columns = rows(
        "SELECT a.attname::text FROM pg_catalog.pg_attribute a
          WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
          ORDER BY a.attnum",
        &[oid_arg(relid)],
    )?
    .into_iter()
    .filter_map(|r| r.into_iter().next().flatten())
    .map(|c| core::ident(&c))
    .collect();
    let grants = rows(
        "SELECT a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(r.rolname) END,
                a.is_grantable::text
           FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
           LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
          WHERE c.oid = $1 AND a.grantee <> $2",
        &[oid_arg(relid), oid_arg(owner)],
    )?
    .into_iter()
    .map(|r| {
        let t = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
        format!("GRANT {} ON {{}} TO {}{}", t(0), t(1), if t(2) == "true" { " WITH GRANT OPTION" } else { "" })
    })
    .collect();
    let mut children = vec![];
    let mut default = None;
    let mut literals: Vec<(usize, String, String)> = vec![];
    for r in rows(
        "SELECT c.oid::text, n.nspname::text, c.relname::text, pg_catalog.pg_get_expr(c.relpartbound, c.oid),
                i.inhdetachpending::text
           FROM pg_catalog.pg_inherits i
           JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE i.inhparent = $1
          ORDER BY c.relname",
        &[oid_arg(relid)],
    )? {
        let t = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
        let child = Child {
            oid: t(0).parse().unwrap_or(0),
            schema: t(1),
            name: t(2),
            bound: t(3),
            detach_pending: t(4) == "true",
            range: None,
        };
        if child.bound == "DEFAULT" {
            default = Some(child);
            continue;
        }
        if strategy == Some(Method::Range) {
            if let Some((lo, hi)) = core::range_bound_literals(&child.bound) {
                literals.push((children.len(), lo, hi));
            }
        }
        children.push(child);
    }
    // Range bounds as the set reads them (local date-times): one query for all.
    if !literals.is_empty() {
        let cast = match col_type {
            ColType::Timestamptz => "timestamptz",
            ColType::Timestamp => "timestamp",
            ColType::Date => "date",
            _ => "bigint",
        };
        let expr = local_text(&format!("x::{cast}"), col_type, tz);
        let all: Vec<String> = literals.iter().flat_map(|(_, lo, hi)| [lo.clone(), hi.clone()]).collect();
        let sql = format!("SELECT {expr} FROM pg_catalog.unnest($1::text[]) WITH ORDINALITY AS u(x, i) ORDER BY i");
        let local = rows(&sql, &[all.into()])?;
        let integer = col_type == ColType::Integer;
        for (k, (idx, _, _)) in literals.iter().enumerate() {
            let b = |j: usize| local.get(j).and_then(|r| r[0].as_deref()).and_then(|v| core::parse_bound(v, integer));
            if let (Some(from), Some(to)) = (b(2 * k), b(2 * k + 1)) {
                children[*idx].range = Some(Range { from, to });
            }
        }
    }
    Ok(Parent { strategy, col_type, columns, grants, children, default })
}

/// `now` for a set: the local date-time in its zone, or the largest value of an integer column
/// (None: the table is empty).
pub fn now(set: &Set, t: ColType, tz: &str) -> Result<Option<Bound>, String> {
    let integer = t == ColType::Integer;
    let sql = if integer {
        format!("SELECT max({})::text FROM {}", core::ident(&set.control), set.qualified())
    } else {
        format!("SELECT {}", local_text("pg_catalog.now()", ColType::Timestamptz, tz))
    };
    Ok(one(&sql, &[])?.and_then(|v| core::parse_bound(&v, integer)))
}

/// The oldest value a set keeps (None: no retention, or an empty integer set).
pub fn cutoff(set: &Set, t: ColType, tz: &str, now: Option<Bound>) -> Result<Option<Bound>, String> {
    let Some(ret) = set.retention.as_deref() else { return Ok(None) };
    if t == ColType::Integer {
        let keep: i64 = ret.trim().parse().map_err(|_| format!("retention \"{ret}\" is not a count of values"))?;
        return Ok(match now {
            Some(Bound::Integer(max)) => Some(Bound::Integer(max.saturating_sub(keep))),
            _ => None,
        });
    }
    // now in the zone, minus the retention (calendar arithmetic on the local date-time).
    let v = one(
        "SELECT pg_catalog.to_char((pg_catalog.now() AT TIME ZONE $1) - $2::interval, 'YYYY-MM-DD HH24:MI:SS')",
        &[tz.into(), ret.into()],
    )?;
    Ok(v.and_then(|v| core::parse_bound(&v, false)))
}

/// The smallest and largest control values in the default partition (None: empty).
pub fn default_span(set: &Set, def: &Child, t: ColType, tz: &str) -> Result<Option<(Bound, Bound)>, String> {
    let col = core::ident(&set.control);
    let sql = format!(
        "SELECT {}, {} FROM ONLY {}",
        local_text(&format!("min({col})"), t, tz),
        local_text(&format!("max({col})"), t, tz),
        def.qualified()
    );
    let r = rows(&sql, &[])?;
    let integer = t == ColType::Integer;
    let b = |i: usize| r.first().and_then(|r| r[i].as_deref()).and_then(|v| core::parse_bound(v, integer));
    Ok(b(0).zip(b(1)))
}

/// Rows of the default partition in each of `ranges` (sorted by start).
pub fn default_counts(set: &Set, def: &Child, t: ColType, tz: &str, ranges: &[Range]) -> Result<Vec<u64>, String> {
    if ranges.is_empty() {
        return Ok(vec![]);
    }
    let mut thresholds: Vec<Bound> = ranges.iter().flat_map(|r| [r.from, r.to]).collect();
    thresholds.sort();
    thresholds.dedup();
    let arr = thresholds.iter().map(|b| bound_sql(b, t, tz)).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT pg_catalog.width_bucket({}, ARRAY[{arr}])::text, count(*)::text FROM ONLY {} GROUP BY 1",
        core::ident(&set.control),
        def.qualified()
    );
    let mut counts = vec![0u64; ranges.len()];
    for r in rows(&sql, &[])? {
        let bucket: usize = r[0].as_deref().and_then(|v| v.parse().ok()).unwrap_or(0);
        let n: u64 = r[1].as_deref().and_then(|v| v.parse().ok()).unwrap_or(0);
        if bucket == 0 || bucket > thresholds.len() {
            continue;
        }
        let start = thresholds[bucket - 1];
        if let Some(i) = ranges.iter().position(|r| r.from == start) {
            counts[i] += n;
        }
    }
    Ok(counts)
}

/// The distinct values of a list set's control column in its default partition, with their rows
/// (at most `limit` + 1 values, so the caller can tell there are more).
pub fn default_values(set: &Set, def: &Child, limit: usize) -> Result<Vec<(String, u64)>, String> {
    let sql = format!(
        "SELECT {col}::text, count(*)::text FROM ONLY {def} WHERE {col} IS NOT NULL GROUP BY 1 ORDER BY 1 LIMIT {}",
        limit + 1,
        col = core::ident(&set.control),
        def = def.qualified()
    );
    Ok(rows(&sql, &[])?
        .into_iter()
        .filter_map(|r| Some((r[0].clone()?, r[1].as_deref().and_then(|v| v.parse().ok()).unwrap_or(0))))
        .collect())
}

/// Whether a relation of that name exists in the schema.
pub fn exists(schema: &str, name: &str) -> Result<bool, String> {
    Ok(one(
        "SELECT 1::text FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relname = $2",
        &[schema.into(), name.into()],
    )?
    .is_some())
}
