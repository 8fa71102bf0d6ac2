//! DDL text, index names and one-sentence reasons for the advisor's output
//! (docs/research/advisor-selection.md §6). Pure string building: every identifier is
//! double-quoted with `"` doubled, every literal single-quoted with `'` doubled, index names stay
//! within `NAMEDATALEN - 1` (63) bytes.

use super::drop::DropReason;
use super::model::*;

/// Longest identifier PostgreSQL keeps (`NAMEDATALEN - 1`).
const MAX_IDENT_BYTES: usize = 63;

/// `"s"` with embedded `"` doubled, always quoted (safe for any name, keeps case).
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `'s'` with embedded `'` doubled. Like PostgreSQL's `quote_literal`, a value containing a
/// backslash becomes an `E'...'` literal with the backslashes doubled, so the text means the same
/// whatever `standard_conforming_strings` says.
pub fn quote_literal(s: &str) -> String {
    let body = s.replace('\'', "''");
    if s.contains('\\') {
        format!("E'{}'", body.replace('\\', "\\\\"))
    } else {
        format!("'{body}'")
    }
}

/// An index name the way `ChooseIndexName` builds it: `table_col1_col2_suffix` (`expr` for an
/// expression key). Longer than 63 bytes, it is cut on a character boundary and ends with
/// `_<8 hex digits of a hash of the full name>_suffix`, so two long names that share their first
/// bytes still differ and the same input always gives the same name.
pub fn index_name(table: &str, keys: &[String], suffix: &str) -> String {
    let mut parts: Vec<&str> = vec![table];
    parts.extend(keys.iter().map(String::as_str));
    if !suffix.is_empty() {
        parts.push(suffix);
    }
    let full = parts.join("_");
    if full.len() <= MAX_IDENT_BYTES {
        return full;
    }
    let hash = format!("{:08x}", crate::hash::fnv1a32(full.as_bytes()));
    let tail = if suffix.is_empty() { format!("_{hash}") } else { format!("_{hash}_{suffix}") };
    let head = truncate_on_char_boundary(&full, MAX_IDENT_BYTES.saturating_sub(tail.len()));
    format!("{head}{tail}")
}

fn truncate_on_char_boundary(s: &str, max_bytes: usize) -> &str {
    if s.len() <= max_bytes {
        return s;
    }
    let mut end = max_bytes;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The column's name, or `#<attnum>` when the table does not list it (should not happen).
fn column_name(table: &TableInfo, attnum: i16) -> String {
    table.column(attnum).map(|c| c.name.clone()).unwrap_or_else(|| format!("#{attnum}"))
}

/// An operator class name is emitted as written when it is a plain (possibly schema-qualified)
/// lower-case name such as `jsonb_path_ops` or `public.gin_trgm_ops`, else quoted.
fn opclass_sql(opclass: &str) -> String {
    let plain = !opclass.is_empty()
        && opclass
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
    if plain {
        opclass.to_string()
    } else {
        quote_ident(opclass)
    }
}

/// `NULLS FIRST` / `NULLS LAST` when it is not the default for the direction (ASC → LAST,
/// DESC → FIRST), else `None`.
fn nulls_clause(key: &Key) -> Option<&'static str> {
    match (key.desc, key.nulls_first) {
        (false, true) => Some("NULLS FIRST"),
        (true, false) => Some("NULLS LAST"),
        _ => None,
    }
}

/// One key of a `CREATE INDEX` column list: quoted column or parenthesised expression, then
/// `COLLATE "x"`, the operator class, `DESC`, and the NULLS order when not the default.
pub fn key_sql(key: &Key, table: &TableInfo) -> String {
    let mut out = match &key.expr {
        KeyExpr::Column(attnum) => quote_ident(&column_name(table, *attnum)),
        KeyExpr::Expr(text) => format!("({text})"),
    };
    if let Some(collation) = &key.collation {
        out.push_str(&format!(" COLLATE {}", quote_ident(collation)));
    }
    if let Some(opclass) = &key.opclass {
        out.push(' ');
        out.push_str(&opclass_sql(opclass));
    }
    push_order(&mut out, key);
    out
}

/// ` DESC` and the NULLS order when not the direction's default.
fn push_order(out: &mut String, key: &Key) {
    if key.desc {
        out.push_str(" DESC");
    }
    if let Some(nulls) = nulls_clause(key) {
        out.push(' ');
        out.push_str(nulls);
    }
}

/// `CREATE INDEX [CONCURRENTLY] "name" ON "schema"."table" USING am (keys) [INCLUDE (...)]
/// [WHERE (predicate)]`, without a trailing semicolon.
///
/// PostgreSQL refuses `CONCURRENTLY` on a partitioned table (`indexcmds.c`), so for one the
/// statement is emitted without it even when `concurrently` is true: it then locks the partitions
/// against writes while it builds. The lock-free route is [`create_index_call`], which the
/// advisor's advice gives for partitioned tables.
pub fn create_ddl(def: &IndexDef, table: &TableInfo, name: &str, concurrently: bool) -> String {
    let am = def.method.map(|m| m.name().to_string()).unwrap_or_else(|| def.am.clone());
    let keys: Vec<String> = def.keys.iter().map(|k| key_sql(k, table)).collect();
    let mut out = String::from("CREATE ");
    if def.unique {
        out.push_str("UNIQUE ");
    }
    out.push_str("INDEX ");
    if concurrently && !table.partitioned {
        out.push_str("CONCURRENTLY ");
    }
    out.push_str(&format!(
        "{} ON {} USING {} ({})",
        quote_ident(name),
        table.qualified_name,
        am,
        keys.join(", ")
    ));
    if !def.include.is_empty() {
        let include: Vec<String> =
            def.include.iter().map(|&a| quote_ident(&column_name(table, a))).collect();
        out.push_str(&format!(" INCLUDE ({})", include.join(", ")));
    }
    if let Some(predicate) = &def.predicate {
        out.push_str(&format!(" WHERE ({predicate})"));
    }
    out
}

/// For a partitioned table, the call of `optimizer.create_index` that builds the index without
/// blocking writes (an index `ON ONLY` the parent, a concurrent build on every partition, each
/// attached; `src/sql/indexes.sql`): the one path the advisor and auto-indexing share. Plain
/// columns go by name (`create_index` quotes them); a column with a collation, an operator class
/// or an order, and an expression, go as parenthesised key text.
pub fn create_index_call(def: &IndexDef, table: &TableInfo, name: &str) -> String {
    let am = def.method.map(|m| m.name().to_string()).unwrap_or_else(|| def.am.clone());
    let keys: Vec<String> = def
        .keys
        .iter()
        .map(|k| {
            let text = match &k.expr {
                KeyExpr::Column(a) => {
                    let col = column_name(table, *a);
                    let quoted = quote_ident(&col);
                    let full = key_sql(k, table);
                    if full == quoted {
                        col
                    } else {
                        format!("({quoted}){}", &full[quoted.len()..])
                    }
                }
                KeyExpr::Expr(_) => key_sql(k, table),
            };
            quote_literal(&text)
        })
        .collect();
    let mut out = format!(
        "SELECT * FROM optimizer.create_index({}, ARRAY[{}], method => {}",
        quote_literal(&table.qualified_name),
        keys.join(", "),
        quote_literal(&am)
    );
    if !def.include.is_empty() {
        let include: Vec<String> = def.include.iter().map(|&a| quote_literal(&column_name(table, a))).collect();
        out.push_str(&format!(", include => ARRAY[{}]", include.join(", ")));
    }
    if let Some(predicate) = &def.predicate {
        out.push_str(&format!(", predicate => {}", quote_literal(predicate)));
    }
    out.push_str(&format!(", index_name => {}", quote_literal(name)));
    if def.unique {
        out.push_str(", is_unique => true");
    }
    out.push(')');
    out
}

/// `DROP INDEX CONCURRENTLY <name>`; the argument is already schema-qualified and quoted. An index
/// of a partitioned table cannot be dropped concurrently (PostgreSQL refuses): plain `DROP INDEX`,
/// which locks the table and its partitions while it runs.
pub fn drop_ddl(schema_qualified_index_name_quoted: &str, partitioned: bool) -> String {
    if partitioned {
        format!("DROP INDEX {schema_qualified_index_name_quoted}")
    } else {
        format!("DROP INDEX CONCURRENTLY {schema_qualified_index_name_quoted}")
    }
}

/// Readable key names, unquoted: the column name or the expression text, then ` DESC` and the
/// NULLS order when not the default (`["tenant_id", "created_at DESC", "lower(email)"]`).
pub fn columns_text(def: &IndexDef, table: &TableInfo) -> Vec<String> {
    def.keys
        .iter()
        .map(|key| {
            let mut out = match &key.expr {
                KeyExpr::Column(attnum) => column_name(table, *attnum),
                KeyExpr::Expr(text) => text.clone(),
            };
            push_order(&mut out, key);
            out
        })
        .collect()
}

/// The key parts of an index name, as `ChooseIndexColumnNames` makes them: the column name, or
/// `expr` for an expression; no direction.
pub fn name_columns(def: &IndexDef, table: &TableInfo) -> Vec<String> {
    def.keys
        .iter()
        .map(|key| match &key.expr {
            KeyExpr::Column(attnum) => column_name(table, *attnum),
            KeyExpr::Expr(_) => "expr".to_string(),
        })
        .collect()
}

/// Readable names of the INCLUDE columns, unquoted.
pub fn include_text(def: &IndexDef, table: &TableInfo) -> Vec<String> {
    def.include.iter().map(|&a| column_name(table, a)).collect()
}

/// Bytes the way `pg_size_pretty` prints them: `8000 bytes`, `16 kB`, `1536 kB`, `12 MB`.
pub fn size_pretty(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    const LIMIT: f64 = 10.0 * 1024.0;
    let bytes = bytes.max(0.0);
    if bytes < LIMIT {
        return format!("{} bytes", bytes.round());
    }
    let mut value = bytes / 1024.0;
    let mut unit = 0;
    while value.round() >= LIMIT && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{} {}", value.round(), UNITS[unit])
}

/// Facts a create reason may mention. Fields a template does not use may stay at their defaults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CreateFacts {
    /// Bare table name.
    pub table: String,
    /// Key names, as [`columns_text`] gives them.
    pub columns: Vec<String>,
    /// INCLUDE column names, as [`include_text`] gives them.
    pub include: Vec<String>,
    /// Partial-index predicate text.
    pub predicate: Option<String>,
    /// Statements the index helps.
    pub statements: usize,
    /// Rows the helped statements read per call today (scan or filter input).
    pub rows_per_call: f64,
    /// Drop-one benefit / workload cost before, 0..1; 0 leaves the "saves" clause out.
    pub benefit_share: f64,
    /// LIMIT of the ORDER BY the index serves, when known.
    pub limit: Option<f64>,
    /// `relallvisible / relpages` of the table.
    pub all_visible_frac: f64,
    /// Share of the table's rows the partial predicate keeps, 0..1.
    pub predicate_frac: f64,
    /// `pg_stats.correlation` of the BRIN column.
    pub correlation: f64,
    /// Outer rows per call of the nested loop a join index serves.
    pub outer_rows: f64,
    /// Operator class of a GIN key (`jsonb_path_ops`, `gin_trgm_ops`) or `None` for the default.
    pub opclass: Option<String>,
}

fn statements_text(n: usize) -> String {
    if n == 1 {
        "1 statement".to_string()
    } else {
        format!("{n} statements")
    }
}

/// A count, rounded, without decimals.
fn count_text(x: f64) -> String {
    format!("{}", x.max(0.0).round())
}

fn percent_text(frac: f64) -> String {
    format!("{:.1}%", frac * 100.0)
}

fn saves_clause(share: f64) -> String {
    if share > 0.0 {
        format!("; saves {} of workload cost.", percent_text(share))
    } else {
        ".".to_string()
    }
}

fn gin_what(opclass: Option<&str>) -> &'static str {
    match opclass {
        Some("gin_trgm_ops") => "'%...%' pattern matches",
        Some("jsonb_path_ops") => "jsonb containment",
        _ => "containment, key existence and overlap",
    }
}

/// One sentence saying why to create a candidate of `kind`, with the facts filled in
/// (design §6 templates; the "saves" clause only when `benefit_share > 0`).
pub fn create_reason(kind: CandidateKind, f: &CreateFacts) -> String {
    let cols = f.columns.join(", ");
    let saves = saves_clause(f.benefit_share);
    match kind {
        CandidateKind::Single | CandidateKind::EqRange => format!(
            "Lets {} find {} rows by {} instead of reading {} rows per call{}",
            statements_text(f.statements),
            f.table,
            cols,
            count_text(f.rows_per_call),
            saves
        ),
        CandidateKind::EqSort => {
            let stop = match f.limit {
                Some(k) => format!("ORDER BY ... LIMIT {0} stops after {0} rows", count_text(k)),
                None => "ORDER BY ... LIMIT stops early".to_string(),
            };
            format!("Returns {} rows already ordered by {}, so {}{}", f.table, cols, stop, saves)
        }
        CandidateKind::Covering => format!(
            "Adds INCLUDE ({}) to {} ({}) so {} can use an index-only scan ({} of pages all-visible){}",
            f.include.join(", "),
            f.table,
            cols,
            statements_text(f.statements),
            percent_text(f.all_visible_frac),
            saves
        ),
        CandidateKind::Partial => format!(
            "Indexes only {} rows where {} ({} of the table), a constant {} always {} on{}",
            f.table,
            f.predicate.as_deref().unwrap_or("the predicate"),
            percent_text(f.predicate_frac),
            statements_text(f.statements),
            if f.statements == 1 { "filters" } else { "filter" },
            saves
        ),
        CandidateKind::Join => format!(
            "Lets each of {} outer rows find its {}.{} match by index{}",
            count_text(f.outer_rows),
            f.table,
            cols,
            saves
        ),
        CandidateKind::Expression => format!(
            "Lets {} search {} by {} (estimates use default selectivities until ANALYZE has run on the new index){}",
            statements_text(f.statements),
            f.table,
            cols,
            saves
        ),
        CandidateKind::Gin => format!(
            "Serves {} on {}.{}, which a B-tree cannot do{}",
            gin_what(f.opclass.as_deref()),
            f.table,
            cols,
            saves
        ),
        CandidateKind::Brin => format!(
            "Serves range conditions on {}.{}, a column that follows physical order (correlation {:.2}), with a tiny BRIN index{}",
            f.table, cols, f.correlation, saves
        ),
        CandidateKind::Hash => {
            format!("Serves equality on {}.{} with a hash index{}", f.table, cols, saves)
        }
        CandidateKind::Group => format!(
            "Returns {} rows in GROUP BY order ({}){}, so {} aggregate{} the groups as they come, without a hash table or a sort{}",
            f.table,
            cols,
            if f.include.is_empty() {
                String::new()
            } else {
                format!(" with INCLUDE ({}) for an index-only scan", f.include.join(", "))
            },
            statements_text(f.statements),
            if f.statements == 1 { "s" } else { "" },
            saves
        ),
    }
}

/// Facts a drop reason may mention.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DropFacts {
    /// Name of the index that makes this one redundant (Duplicate / Prefix).
    pub other: String,
    /// Size of the index to drop.
    pub bytes: f64,
    /// Write cost the index adds, planner cost units per hour (§4.3); 0 leaves it out.
    pub write_cost_per_hour: f64,
}

/// One sentence saying why to drop an index, with the facts filled in (design §5-§6).
pub fn drop_reason(reason: &DropReason, f: &DropFacts) -> String {
    let size = size_pretty(f.bytes);
    match reason {
        DropReason::Unused { days } => {
            let writes = if f.write_cost_per_hour > 0.0 {
                format!(" and ~{}/h of write cost", count_text(f.write_cost_per_hour))
            } else {
                String::new()
            };
            format!(
                "Not scanned for {} days (scans on standbys are not seen here); frees {}{}.",
                count_text(*days),
                size,
                writes
            )
        }
        DropReason::Duplicate { .. } => format!("Duplicate of {}; frees {}.", f.other, size),
        DropReason::Prefix { .. } => {
            format!("Leading prefix of {}, which serves the same scans; frees {}.", f.other, size)
        }
        DropReason::Invalid => concat!(
            "INVALID since a failed concurrent build, yet still updated on every write: ",
            "drop it, then recreate it (or use REINDEX INDEX CONCURRENTLY)."
        )
        .to_string(),
    }
}

/// Why a candidate that helps was not proposed: its write penalty exceeds its benefit (both in
/// planner cost units per hour).
pub fn rejected_reason(queryid: u64, write_cost_per_hour: f64, benefit_per_hour: f64) -> String {
    format!(
        "Helps {} but costs more in writes ({}/h) than it saves ({}/h).",
        queryid,
        count_text(write_cost_per_hour),
        count_text(benefit_per_hour)
    )
}

/// Note for a statement whose planner row estimates are off by `factor`.
pub fn misestimate_note(factor: f64) -> String {
    format!(
        "Planner estimates for this scan are off by {}x; verify with EXPLAIN ANALYZE.",
        count_text(factor)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(attnum: i16, name: &str) -> ColumnStats {
        ColumnStats {
            attnum,
            name: name.to_string(),
            type_name: "integer".into(),
            ..Default::default()
        }
    }

    fn table() -> TableInfo {
        TableInfo {
            relid: 10,
            qualified_name: format!("{}.{}", quote_ident("Sales"), quote_ident("Order Items")),
            name: "Order Items".into(),
            columns: vec![
                column(1, "tenant_id"),
                column(2, "status"),
                column(3, "total"),
                column(4, "we\"ird"),
            ],
            ..Default::default()
        }
    }

    fn btree(keys: Vec<Key>) -> IndexDef {
        IndexDef {
            relid: 10,
            am: "btree".into(),
            method: Some(Method::Btree),
            keys,
            ..Default::default()
        }
    }

    #[test]
    fn partitioned_tables_get_the_shared_concurrent_path() {
        let mut t = table();
        t.partitioned = true;
        let mut desc = Key::column(2);
        desc.desc = true;
        desc.nulls_first = true;
        let mut expr = Key::column(0);
        expr.expr = KeyExpr::Expr("lower(total::text)".into());
        let mut def = btree(vec![Key::column(1), desc, expr]);
        def.include = vec![4];
        def.predicate = Some("status = 'open'".into());
        assert_eq!(
            create_index_call(&def, &t, "Order Items_idx"),
            concat!(
                r#"SELECT * FROM optimizer.create_index('"Sales"."Order Items"', ARRAY['tenant_id', '("status") DESC', "#,
                r#"'(lower(total::text))'], method => 'btree', include => ARRAY['we"ird'], predicate => 'status = ''open''', "#,
                r#"index_name => 'Order Items_idx')"#
            )
        );
    }

    #[test]
    fn quoting_doubles_embedded_quotes() {
        assert_eq!(quote_ident("Order Items"), "\"Order Items\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal("a\\b'"), "E'a\\\\b'''");
        assert_eq!(table().qualified_name, "\"Sales\".\"Order Items\"");
    }

    #[test]
    fn short_index_name_is_kept() {
        let keys = vec!["tenant_id".to_string(), "status".to_string()];
        assert_eq!(index_name("orders", &keys, "idx"), "orders_tenant_id_status_idx");
        assert_eq!(index_name("orders", &[], "idx"), "orders_idx");
    }

    #[test]
    fn long_index_name_is_cut_to_63_bytes_with_hash() {
        let keys = vec![
            "a_very_long_column_name_number_one".to_string(),
            "another_long_column_name_two".to_string(),
        ];
        let name = index_name("some_rather_long_table_name", &keys, "idx");
        assert_eq!(name, "some_rather_long_table_name_a_very_long_column_nam_394c5369_idx");
        assert_eq!(name.len(), 63);
        // stable, and different for a different full name with the same head
        assert_eq!(name, index_name("some_rather_long_table_name", &keys, "idx"));
        let other = vec![keys[0].clone(), "another_long_column_name_three".to_string()];
        let name2 = index_name("some_rather_long_table_name", &other, "idx");
        assert_eq!(name2.len(), 63);
        assert_ne!(name, name2);
        let hash = &name[name.len() - 12..name.len() - 4];
        assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{hash}");
    }

    #[test]
    fn long_multibyte_name_cut_on_char_boundary() {
        let keys = vec!["ü".repeat(40)];
        let name = index_name("tëst", &keys, "idx");
        assert!(name.len() <= 63);
        assert!(name.ends_with("_idx"));
        assert!(name.starts_with("tëst_üü"));
    }

    #[test]
    fn key_sql_renders_options() {
        let t = table();
        assert_eq!(key_sql(&Key::column(1), &t), "\"tenant_id\"");
        let desc = Key { desc: true, nulls_first: true, ..Key::column(2) };
        assert_eq!(key_sql(&desc, &t), "\"status\" DESC");
        let desc_last = Key { desc: true, nulls_first: false, ..Key::column(2) };
        assert_eq!(key_sql(&desc_last, &t), "\"status\" DESC NULLS LAST");
        let asc_first = Key { nulls_first: true, ..Key::column(2) };
        assert_eq!(key_sql(&asc_first, &t), "\"status\" NULLS FIRST");
        let full = Key {
            expr: KeyExpr::Expr("lower(email)".into()),
            desc: false,
            nulls_first: false,
            opclass: Some("text_pattern_ops".into()),
            collation: Some("C".into()),
        };
        assert_eq!(key_sql(&full, &t), "(lower(email)) COLLATE \"C\" text_pattern_ops");
        assert_eq!(key_sql(&Key::column(4), &t), "\"we\"\"ird\"");
    }

    #[test]
    fn create_ddl_full() {
        let t = table();
        let mut def =
            btree(vec![Key::column(1), Key { desc: true, nulls_first: true, ..Key::column(2) }]);
        def.include = vec![3];
        def.predicate = Some("\"status\" = 'pending'".into());
        assert_eq!(
            create_ddl(&def, &t, "order_items_tenant_id_status_idx", true),
            "CREATE INDEX CONCURRENTLY \"order_items_tenant_id_status_idx\" ON \"Sales\".\"Order Items\" \
             USING btree (\"tenant_id\", \"status\" DESC) INCLUDE (\"total\") WHERE (\"status\" = 'pending')"
        );
        assert_eq!(
            create_ddl(&btree(vec![Key::column(1)]), &t, "x", false),
            "CREATE INDEX \"x\" ON \"Sales\".\"Order Items\" USING btree (\"tenant_id\")"
        );
    }

    #[test]
    fn create_ddl_partitioned_drops_concurrently() {
        let mut t = table();
        t.partitioned = true;
        assert_eq!(
            create_ddl(&btree(vec![Key::column(1)]), &t, "i", true),
            "CREATE INDEX \"i\" ON \"Sales\".\"Order Items\" USING btree (\"tenant_id\")"
        );
    }

    #[test]
    fn create_ddl_gin_with_opclass_and_unique_btree() {
        let t = table();
        let gin = IndexDef {
            relid: 10,
            am: "gin".into(),
            method: Some(Method::Gin),
            keys: vec![Key { opclass: Some("jsonb_path_ops".into()), ..Key::column(2) }],
            ..Default::default()
        };
        assert_eq!(
            create_ddl(&gin, &t, "g", true),
            "CREATE INDEX CONCURRENTLY \"g\" ON \"Sales\".\"Order Items\" USING gin (\"status\" jsonb_path_ops)"
        );
        let mut u = btree(vec![Key::column(1)]);
        u.unique = true;
        assert!(create_ddl(&u, &t, "u", false).starts_with("CREATE UNIQUE INDEX \"u\""));
        // an existing index of an AM the advisor does not propose keeps its am name
        let gist = IndexDef {
            relid: 10,
            am: "gist".into(),
            keys: vec![Key::column(1)],
            ..Default::default()
        };
        assert!(create_ddl(&gist, &t, "s", false).contains("USING gist (\"tenant_id\")"));
    }

    #[test]
    fn drop_ddl_text() {
        assert_eq!(
            drop_ddl("\"sales\".\"old idx\"", false),
            "DROP INDEX CONCURRENTLY \"sales\".\"old idx\""
        );
        assert_eq!(drop_ddl("\"sales\".\"old idx\"", true), "DROP INDEX \"sales\".\"old idx\"");
    }

    #[test]
    fn columns_and_include_text() {
        let t = table();
        let mut def = btree(vec![
            Key::column(1),
            Key { desc: true, nulls_first: true, ..Key::column(2) },
            Key { expr: KeyExpr::Expr("lower(email)".into()), ..Key::column(0) },
        ]);
        def.include = vec![3, 9];
        assert_eq!(columns_text(&def, &t), vec!["tenant_id", "status DESC", "lower(email)"]);
        assert_eq!(include_text(&def, &t), vec!["total", "#9"]);
        // Names take the column, or `expr`, without direction (as PostgreSQL names them).
        assert_eq!(name_columns(&def, &t), vec!["tenant_id", "status", "expr"]);
    }

    #[test]
    fn size_pretty_like_postgres() {
        assert_eq!(size_pretty(8192.0), "8192 bytes");
        assert_eq!(size_pretty(16384.0), "16 kB");
        assert_eq!(size_pretty(1_572_864.0), "1536 kB");
        assert_eq!(size_pretty(12.0 * 1024.0 * 1024.0), "12 MB");
        assert_eq!(size_pretty(10.0 * 1024.0 * 1024.0 * 1024.0), "10 GB");
    }

    #[test]
    fn every_create_template_renders() {
        let f = CreateFacts {
            table: "orders".into(),
            columns: vec!["tenant_id".into(), "created_at".into()],
            include: vec!["total".into()],
            predicate: Some("\"status\" = 'pending'".into()),
            statements: 2,
            rows_per_call: 120000.0,
            benefit_share: 0.234,
            limit: Some(20.0),
            all_visible_frac: 0.9,
            predicate_frac: 0.02,
            correlation: 0.987,
            outer_rows: 500.0,
            opclass: Some("jsonb_path_ops".into()),
        };
        let expect = [
            (CandidateKind::EqRange, "Lets 2 statements find orders rows by tenant_id, created_at instead of reading 120000 rows per call; saves 23.4% of workload cost."),
            (CandidateKind::EqSort, "Returns orders rows already ordered by tenant_id, created_at, so ORDER BY ... LIMIT 20 stops after 20 rows; saves 23.4% of workload cost."),
            (CandidateKind::Covering, "Adds INCLUDE (total) to orders (tenant_id, created_at) so 2 statements can use an index-only scan (90.0% of pages all-visible); saves 23.4% of workload cost."),
            (CandidateKind::Partial, "Indexes only orders rows where \"status\" = 'pending' (2.0% of the table), a constant 2 statements always filter on; saves 23.4% of workload cost."),
            (CandidateKind::Join, "Lets each of 500 outer rows find its orders.tenant_id, created_at match by index; saves 23.4% of workload cost."),
            (CandidateKind::Expression, "Lets 2 statements search orders by tenant_id, created_at (estimates use default selectivities until ANALYZE has run on the new index); saves 23.4% of workload cost."),
            (CandidateKind::Gin, "Serves jsonb containment on orders.tenant_id, created_at, which a B-tree cannot do; saves 23.4% of workload cost."),
            (CandidateKind::Brin, "Serves range conditions on orders.tenant_id, created_at, a column that follows physical order (correlation 0.99), with a tiny BRIN index; saves 23.4% of workload cost."),
            (CandidateKind::Hash, "Serves equality on orders.tenant_id, created_at with a hash index; saves 23.4% of workload cost."),
            (CandidateKind::Group, "Returns orders rows in GROUP BY order (tenant_id, created_at) with INCLUDE (total) for an index-only scan, so 2 statements aggregate the groups as they come, without a hash table or a sort; saves 23.4% of workload cost."),
        ];
        for (kind, text) in expect {
            assert_eq!(create_reason(kind, &f), text, "{kind:?}");
        }
    }

    #[test]
    fn create_template_without_optional_facts() {
        let f = CreateFacts {
            table: "t".into(),
            columns: vec!["x".into()],
            statements: 1,
            ..Default::default()
        };
        assert_eq!(
            create_reason(CandidateKind::Single, &f),
            "Lets 1 statement find t rows by x instead of reading 0 rows per call."
        );
        assert_eq!(
            create_reason(CandidateKind::EqSort, &f),
            "Returns t rows already ordered by x, so ORDER BY ... LIMIT stops early."
        );
        let trgm = CreateFacts { opclass: Some("gin_trgm_ops".into()), ..f.clone() };
        assert_eq!(
            create_reason(CandidateKind::Gin, &trgm),
            "Serves '%...%' pattern matches on t.x, which a B-tree cannot do."
        );
    }

    #[test]
    fn every_drop_template_renders() {
        let f = DropFacts {
            other: "orders_a_b_idx".into(),
            bytes: 16384.0,
            write_cost_per_hour: 120.4,
        };
        assert_eq!(
            drop_reason(&DropReason::Unused { days: 21.2 }, &f),
            "Not scanned for 21 days (scans on standbys are not seen here); frees 16 kB and ~120/h of write cost."
        );
        assert_eq!(
            drop_reason(&DropReason::Duplicate { of: 7 }, &f),
            "Duplicate of orders_a_b_idx; frees 16 kB."
        );
        assert_eq!(
            drop_reason(&DropReason::Prefix { of: 7 }, &f),
            "Leading prefix of orders_a_b_idx, which serves the same scans; frees 16 kB."
        );
        assert_eq!(
            drop_reason(&DropReason::Invalid, &f),
            "INVALID since a failed concurrent build, yet still updated on every write: drop it, then recreate it (or use REINDEX INDEX CONCURRENTLY)."
        );
        let quiet = DropFacts { write_cost_per_hour: 0.0, ..f };
        assert_eq!(
            drop_reason(&DropReason::Unused { days: 14.0 }, &quiet),
            "Not scanned for 14 days (scans on standbys are not seen here); frees 16 kB."
        );
    }

    #[test]
    fn rejected_and_misestimate_notes() {
        assert_eq!(
            rejected_reason(42, 300.4, 120.0),
            "Helps 42 but costs more in writes (300/h) than it saves (120/h)."
        );
        assert_eq!(
            misestimate_note(37.6),
            "Planner estimates for this scan are off by 38x; verify with EXPLAIN ANALYZE."
        );
    }
}

/// The reason's sentence for a proposed index with the same key as `existing` (its qualified,
/// quoted name: a near-duplicate): replace it where it can go, say why both stay where it cannot.
pub fn near_duplicate_note(existing: &str, protected: bool, bar_pct: f64) -> String {
    let ident = existing;
    if protected {
        format!(
            " It has the same key as {ident}, which it widens; {ident} enforces a constraint and stays, so both are kept: proposed because it saves at least {bar_pct:.0}% of the workload cost, the bar for a second index on one key."
        )
    } else {
        format!(
            " It has the same key as {ident}, which it widens: build it, then drop {ident} (DROP INDEX CONCURRENTLY {ident}), which it replaces. Proposed because it saves at least {bar_pct:.0}% of the workload cost, the bar for a second index on one key."
        )
    }
}

#[cfg(test)]
mod near_duplicate_note_tests {
    use super::*;

    #[test]
    fn names_the_index_and_says_whether_it_can_go() {
        let n = near_duplicate_note("\"public\".\"supplier_pkey\"", true, 5.0);
        assert!(n.contains("supplier_pkey") && n.contains("stays") && n.contains("5%") && !n.contains("DROP"), "{n}");
        let n = near_duplicate_note("\"s\".\"Orders By Day\"", false, 5.0);
        assert!(n.contains("DROP INDEX CONCURRENTLY \"s\".\"Orders By Day\""), "{n}");
    }
}
