//! `partition_table` (register a partitioned table, or convert a plain one online) and
//! `undo_partitioning`, as the table's owner.

use super::catalog::{self, oid_arg, one, run, ColType, Parent, Set};
use super::maintain::{drop_empty_default, maintain, span_of};
use super::work::{as_owner, step, with_retries, Run};
use pg_optimizer_core::partitions::{self as core, Method, Pairs, Retire};
use pgrx::prelude::*;

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

pub(super) fn setup(r: &mut Run, pairs: &Pairs) -> Result<(), String> {
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

/// Copy the table `oid` (`schema`.`name`, its `columns` and `grants`) into a new table named
/// `new_name` that `create` makes (given its qualified name), then put the copy in its place, in
/// one transaction where readers go on and writers wait: the foreign keys, the table comment,
/// the grants, the owned sequences and the index names move to the copy, the table is dropped,
/// the copy takes its name, and `finish` runs with the copy's OID. Returns (that OID, rows).
fn copy_and_swap(
    schema: &str,
    name: &str,
    oid: u32,
    new_name: &str,
    p: &Parent,
    create: &dyn Fn(&str) -> Result<(), String>,
    finish: &mut dyn FnMut(u32) -> Result<(), String>,
) -> Result<(u32, u64), String> {
    let old = core::qualified(schema, name);
    let new = core::qualified(schema, new_name);
    let cols = p.columns.join(", ");
    with_retries(|| {
        step(|| {
            if catalog::exists(schema, new_name)? {
                return Err(format!("a relation named \"{new_name}\" already exists in schema \"{schema}\""));
            }
            run(&format!("LOCK TABLE {old} IN SHARE MODE"))?;
            create(&new)?;
            let rows = run(&format!("INSERT INTO {new} ({cols}) SELECT {cols} FROM {old}"))?;
            run(&format!("LOCK TABLE {old} IN ACCESS EXCLUSIVE MODE"))?;
            for sql in foreign_keys(oid, &new)?.into_iter().chain(table_comment(oid, &new)?).chain(owned_sequences(oid, &new)?) {
                run(&sql)?;
            }
            for g in &p.grants {
                run(&g.replace("{}", &new))?;
            }
            let new_oid: u32 = one("SELECT $1::regclass::oid::text", &[new.clone().into()])?.and_then(|v| v.parse().ok()).unwrap_or(0);
            let pairs = index_pairs(oid, new_oid)?;
            run(&format!("DROP TABLE {old}"))?;
            run(&format!("ALTER TABLE {new} RENAME TO {}", core::ident(name)))?;
            for (orig, copy) in pairs {
                run(&format!("ALTER INDEX {} RENAME TO {}", core::qualified(schema, &copy), core::ident(&orig)))?;
            }
            finish(new_oid)?;
            Ok((new_oid, rows))
        })
    })
    .map_err(|f| f.message().to_string())
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
    let schema = set.schema.clone();
    if set.method == Method::Hash {
        // No default partition to hold the rows meanwhile: one copy, readers go on, writers wait.
        let m = set.modulus.unwrap_or(0);
        let create = |twin: &str| -> Result<(), String> {
            run(&format!("CREATE TABLE {twin} (LIKE {old} INCLUDING ALL) PARTITION BY HASH ({col})"))?;
            for k in 0..m {
                let child = core::qualified(&schema, &core::partition_name(&set.name, &core::hash_suffix(k)));
                run(&format!("CREATE TABLE {child} PARTITION OF {twin} FOR VALUES WITH (MODULUS {m}, REMAINDER {k})"))?;
                for g in &grants {
                    run(&g.replace("{}", &child))?;
                }
            }
            Ok(())
        };
        let mut s2 = set.clone();
        let (new_oid, rows) = copy_and_swap(&set.schema, &set.name, oid, &twin_name, p, &create, &mut |new_oid| {
            s2.parent = new_oid;
            register(&s2)
        })?;
        set.parent = new_oid;
        r.current.0 = new_oid;
        r.note("converted", Some(set.name.clone()), Some(rows as i64), Some(format!("copied into {m} hash partitions")));
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


pub(super) fn undo(r: &mut Run, parent: u32) -> Result<(), String> {
    let sets = step(|| catalog::sets(Some(parent))).map_err(|f| f.message().to_string())?;
    let Some(set) = sets.into_iter().next() else {
        return Err("the table is not a partition set".into());
    };
    as_owner(r, &set, |r| {
        let tz = set.time_zone.clone();
        let p = step(|| catalog::parent(set.parent, set.owner, &set.control, &tz)).map_err(|f| f.message().to_string())?;
        let old = set.qualified();
        let plain_name = core::partition_name(&set.name, "unpartitioned");
        let oid = set.parent;
        let create = |plain: &str| run(&format!("CREATE TABLE {plain} (LIKE {old} INCLUDING ALL)")).map(|_| ());
        let (new_oid, moved) = copy_and_swap(&set.schema, &set.name, oid, &plain_name, &p, &create, &mut |_| {
            Spi::run_with_args("DELETE FROM optimizer.partition_sets WHERE parent = $1::oid", &[oid_arg(oid)]).map_err(crate::error::spi_err)
        })?;
        r.current.0 = new_oid;
        r.note("undone", Some(set.name.clone()), Some(moved as i64), Some(format!("{} is a plain table again", set.qualified())));
        Ok(())
    })
}
