//! Candidate indexes from our recorded quals and sort keys, by rule
//! (docs/research/advisor-selection.md §1). Per scan of a table: equality keys ordered by
//! estimated selectivity, then one range key or the ORDER BY keys; their prefixes as Extend's
//! widening chain; single-column building blocks; INCLUDE, partial, expression, GIN and BRIN
//! variants. Candidates an existing index already serves are dropped silently (§2.1).
//!
//! Pure: everything comes from [`TableInfo`], [`Statement`], [`Qual`] and [`SortKey`]; sizes are
//! left at 0 for the what-if engine.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use super::coverage;
use super::text::{quote_ident, quote_literal};
use super::model::*;

/// Thresholds of the generation rules.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Most key columns in a B-tree candidate.
    pub max_key_columns: usize,
    /// Tables with fewer rows (`reltuples`) get no candidate.
    pub min_rows: f64,
    /// Tables with fewer pages (`relpages`) get no candidate.
    pub min_pages: f64,
    /// Most INCLUDE columns of a covering candidate.
    pub include_max_columns: usize,
    /// Largest summed `avg_width` (bytes) of the INCLUDE columns.
    pub include_max_width: f64,
    /// Smallest `relallvisible / relpages` for a covering candidate (index-only scans need it).
    pub include_min_all_visible: f64,
    /// Largest frequency of the constant of a partial-index predicate.
    pub partial_max_freq: f64,
    /// Largest `n_distinct` of a partial-index predicate column (low cardinality).
    pub partial_max_distinct: f64,
    /// Smallest table (pages) for a BRIN candidate (131072 pages = 1 GB).
    pub brin_min_pages: f64,
    /// Smallest `|pg_stats.correlation|` of a BRIN column.
    pub brin_min_correlation: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_key_columns: 3,
            min_rows: 1000.0,
            min_pages: 8.0,
            include_max_columns: 4,
            include_max_width: 64.0,
            include_min_all_visible: 0.5,
            partial_max_freq: 0.2,
            partial_max_distinct: 20.0,
            brin_min_pages: 131072.0,
            brin_min_correlation: 0.9,
        }
    }
}

/// Equality selectivity when nothing is known (PostgreSQL's `DEFAULT_EQ_SEL`).
const DEFAULT_EQ_SEL: f64 = 0.005;
/// An `IN` list / `= ANY` is assumed to hold this many values.
const IN_LIST_VALUES: f64 = 3.0;
/// A partial predicate needs a literal constant in at least this share of executions.
const PARTIAL_MIN_CONST_SHARE: f64 = 0.95;
/// `col IS NOT NULL` becomes a partial predicate when at least this share of rows is NULL.
const PARTIAL_MIN_NULL_FRAC: f64 = 0.5;
/// A column whose MCVs (plus NULLs) cover this share of rows is low-cardinality.
const LOW_CARDINALITY_MCV_SHARE: f64 = 0.95;
/// Trigram patterns need at least this many non-wildcard characters.
const TRGM_MIN_CHARS: usize = 3;
/// Function names whose presence makes an expression unusable as an index key (not IMMUTABLE).
/// The catalog layer checks `contain_mutable_functions` for real; this catches the common ones.
const NOT_IMMUTABLE: &[&str] = &[
    "now()",
    "random(",
    "clock_timestamp",
    "statement_timestamp",
    "transaction_timestamp",
    "timeofday",
    "current_time",
    "current_date",
    "localtime",
    "nextval(",
    "currval(",
    "txid_current",
    "gen_random_uuid",
    "uuid_generate",
];

/// Candidate indexes for `tables` from the recorded `quals` and `sorts` of `statements`,
/// deduplicated, without those an existing valid index serves, sorted by table then definition
/// (so a prefix comes before its widenings). `extends` links `(a,b)` to `(a)`, `(a,b,c)` to
/// `(a,b)` and a covering candidate to the same keys without INCLUDE; it is `None` when that
/// candidate is not in the list (for instance because an existing index serves it).
pub fn generate(
    tables: &[TableInfo],
    statements: &[Statement],
    quals: &[Qual],
    sorts: &[SortKey],
    s: &Settings,
) -> Vec<Candidate> {
    let uses = column_uses(quals);
    let mut drafts = Drafts::default();
    for table in tables.iter().filter(|t| t.rows >= s.min_rows && t.pages >= s.min_pages) {
        let table_quals: Vec<&Qual> =
            quals.iter().filter(|q| q.relid == table.relid && usable_qual(q)).collect();
        let table_sorts: Vec<&SortKey> = sorts.iter().filter(|k| k.relid == table.relid).collect();
        let ctx = TableCtx { table, statements, uses: &uses, s };
        for scan in scans(&table_quals, &table_sorts) {
            ctx.scan_candidates(&scan, &mut drafts);
        }
        ctx.single_candidates(&table_quals, &mut drafts);
        ctx.group_candidates(&mut drafts);
        ctx.gin_candidates(&table_quals, &mut drafts);
        ctx.brin_candidates(&table_quals, &mut drafts);
    }
    drafts.add_prefixes();
    drafts.finish(tables)
}

// ---------------------------------------------------------------------------------------------
// Inputs: usable quals, scans, statement counts

fn usable_expr(expr: &KeyExpr) -> bool {
    match expr {
        KeyExpr::Column(attnum) => *attnum > 0,
        KeyExpr::Expr(text) => looks_immutable(text),
    }
}

/// False when the expression calls a well-known non-immutable function (an index on it is refused).
fn looks_immutable(expr: &str) -> bool {
    let lower = expr.to_ascii_lowercase();
    !NOT_IMMUTABLE.iter().any(|f| lower.contains(f))
}

fn usable_qual(q: &Qual) -> bool {
    q.class != QualClass::Other && usable_expr(&q.column)
}

/// Distinct statements using each (table, column or expression) in a usable qual.
fn column_uses(quals: &[Qual]) -> BTreeMap<(Oid, KeyExpr), usize> {
    let mut sets: BTreeMap<(Oid, KeyExpr), BTreeSet<u64>> = BTreeMap::new();
    for q in quals.iter().filter(|q| usable_qual(q)) {
        sets.entry((q.relid, q.column.clone())).or_default().insert(q.queryid);
    }
    sets.into_iter().map(|(k, v)| (k, v.len())).collect()
}

/// The quals of one scan node of one statement on one table, and the statement's ORDER BY keys
/// usable on this table.
struct Scan<'a> {
    queryid: u64,
    quals: Vec<&'a Qual>,
    sort: Vec<&'a SortKey>,
}

/// Scans of one table: one per (statement, scan id), plus one without quals for a statement that
/// only sorts this table.
fn scans<'a>(quals: &[&'a Qual], sorts: &[&'a SortKey]) -> Vec<Scan<'a>> {
    let mut groups: BTreeMap<(u64, u64), Vec<&'a Qual>> = BTreeMap::new();
    for q in quals {
        groups.entry((q.queryid, q.scan)).or_default().push(q);
    }
    let mut by_statement: BTreeMap<u64, Vec<&'a SortKey>> = BTreeMap::new();
    for k in sorts {
        by_statement.entry(k.queryid).or_default().push(k);
    }
    let order = |queryid: u64| {
        by_statement.get(&queryid).map(|keys| usable_order(keys)).unwrap_or_default()
    };
    let mut out: Vec<Scan<'a>> = groups
        .into_iter()
        .map(|((queryid, _), quals)| Scan { queryid, quals, sort: order(queryid) })
        .collect();
    for &queryid in by_statement.keys() {
        if !out.iter().any(|scan| scan.queryid == queryid) {
            out.push(Scan { queryid, quals: Vec::new(), sort: order(queryid) });
        }
    }
    out
}

/// The ORDER BY keys an index on this table can deliver: contiguous from position 1 (a sort led
/// by another table's column gives nothing) and under a LIMIT.
fn usable_order<'a>(keys: &[&'a SortKey]) -> Vec<&'a SortKey> {
    let mut keys = keys.to_vec();
    keys.sort_by_key(|k| k.position);
    keys.dedup_by_key(|k| k.position);
    if keys.first().is_none_or(|k| k.position != 1 || !k.under_limit) {
        return Vec::new();
    }
    let contiguous = keys
        .iter()
        .enumerate()
        .take_while(|(i, k)| usize::try_from(k.position).ok() == Some(i + 1))
        .count();
    keys.truncate(contiguous);
    if keys.iter().any(|k| !usable_expr(&k.column)) {
        return Vec::new();
    }
    keys
}

// ---------------------------------------------------------------------------------------------
// Statistics helpers

fn is_eq_class(class: QualClass) -> bool {
    matches!(class, QualClass::Eq | QualClass::In | QualClass::IsNull)
}

fn is_range_class(class: QualClass) -> bool {
    matches!(class, QualClass::Range | QualClass::LikePrefix)
}

/// Share of rows equal to one unknown value: `1 / n_distinct`, or the default.
fn per_value_selectivity(col: &ColumnStats) -> f64 {
    if col.n_distinct > 0.0 {
        1.0 / col.n_distinct
    } else {
        DEFAULT_EQ_SEL
    }
}

/// Share of rows equal to `value`: its MCV frequency, else the non-MCV rows spread evenly over the
/// non-MCV distinct values.
fn value_frequency(col: &ColumnStats, value: &str) -> f64 {
    if let Some((_, freq)) = col.mcv.iter().find(|(v, _)| v == value) {
        return *freq;
    }
    if col.n_distinct <= 0.0 {
        return DEFAULT_EQ_SEL;
    }
    let mcv_share: f64 = col.mcv.iter().map(|(_, f)| f).sum();
    let rest = (1.0 - col.null_frac - mcv_share).max(0.0);
    rest / (col.n_distinct - col.mcv.len() as f64).max(1.0)
}

fn low_cardinality(col: &ColumnStats, s: &Settings) -> bool {
    let mcv_share: f64 = col.mcv.iter().map(|(_, f)| f).sum();
    (col.n_distinct > 0.0 && col.n_distinct <= s.partial_max_distinct)
        || (!col.mcv.is_empty() && mcv_share + col.null_frac >= LOW_CARDINALITY_MCV_SHARE)
}

/// Base type name, lower-case, without modifiers: `character varying(20)` → `character varying`.
fn base_type(type_name: &str) -> String {
    type_name.split('(').next().unwrap_or("").trim().to_ascii_lowercase()
}

fn text_like(type_name: &str) -> bool {
    !type_name.ends_with("[]")
        && matches!(
            base_type(type_name).as_str(),
            "" | "text"
                | "character varying"
                | "varchar"
                | "character"
                | "char"
                | "bpchar"
                | "name"
                | "citext"
        )
}

/// `'value'` for a text-like column, `'value'::type` otherwise.
fn literal_for(value: &str, type_name: &str) -> String {
    if text_like(type_name) {
        quote_literal(value)
    } else {
        format!("{}::{}", quote_literal(value), type_name)
    }
}

/// B-tree operator class for left-anchored LIKE on a collation other than C.
fn pattern_opclass_for(type_name: &str) -> &'static str {
    match base_type(type_name).as_str() {
        "character varying" | "varchar" => "varchar_pattern_ops",
        "character" | "char" | "bpchar" => "bpchar_pattern_ops",
        _ => "text_pattern_ops",
    }
}

/// The pattern has fewer than 3 characters that are not wildcards or regex syntax in every
/// sampled constant (trigram indexes cannot search on it).
fn short_pattern(q: &Qual) -> bool {
    let literal_chars = |p: &str| p.chars().filter(|c| !"%_\\.*+?^$()[]{}|".contains(*c)).count();
    !q.constants.is_empty() && q.constants.iter().all(|c| literal_chars(c) < TRGM_MIN_CHARS)
}

fn plain_key(expr: KeyExpr) -> Key {
    Key { expr, desc: false, nulls_first: false, opclass: None, collation: None }
}

/// Kind of a one-key B-tree candidate.
fn single_kind(expr: &KeyExpr, join: bool) -> CandidateKind {
    if join {
        CandidateKind::Join
    } else if matches!(expr, KeyExpr::Expr(_)) {
        CandidateKind::Expression
    } else {
        CandidateKind::Single
    }
}

/// A B-tree scanned backward serves the fully inverted order: all-DESC key lists become ASC
/// (NULLS order inverted too); mixed directions stay.
fn normalize_directions(mut keys: Vec<Key>) -> Vec<Key> {
    if !keys.is_empty() && keys.iter().all(|k| k.desc) {
        for k in &mut keys {
            k.desc = false;
            k.nulls_first = !k.nulls_first;
        }
    }
    keys
}

// ---------------------------------------------------------------------------------------------
// Key elements of one scan

/// An equality element: its column, estimated selectivity and provenance.
struct EqElem {
    expr: KeyExpr,
    selectivity: f64,
    uses: usize,
    /// Only `IN` / `= ANY` quals on it: an index scan with it on a later key is unordered.
    is_in: bool,
    join: bool,
    /// Every qual on it was already an index condition.
    proof: bool,
}

/// The range element chosen for a scan.
struct RangeElem {
    key: Key,
    bounds: usize,
    uses: usize,
    proof: bool,
}

/// One key list built from a scan.
struct Composite {
    keys: Vec<Key>,
    kind: CandidateKind,
    proof: bool,
}

/// Expressions fixed to one value by the scan (sort keys on them are no-ops).
fn fixed_exprs(eq: &[EqElem], extra: Option<&KeyExpr>) -> Vec<KeyExpr> {
    eq.iter().filter(|e| !e.is_in).map(|e| e.expr.clone()).chain(extra.cloned()).collect()
}

/// ORDER BY keys minus those fixed by equality, duplicates dropped, all-DESC normalised to ASC.
fn sort_keys(sort: &[&SortKey], fixed: &[KeyExpr]) -> Vec<Key> {
    let mut keys: Vec<Key> = Vec::new();
    for k in sort {
        if fixed.contains(&k.column) || keys.iter().any(|x| x.expr == k.column) {
            continue;
        }
        keys.push(Key { desc: k.desc, nulls_first: k.nulls_first, ..plain_key(k.column.clone()) });
    }
    normalize_directions(keys)
}

/// The key lists of one scan: equality keys then the range key (`eq+range`), and equality keys
/// then the sort keys (`eq+sort`), each capped at `max` keys. No `eq+sort` when an `IN` key
/// would precede the sort keys (PG15 does not claim the order then) or the sort alone exceeds
/// the cap.
fn composites(
    eq: &[EqElem],
    range: Option<&RangeElem>,
    sort: &[Key],
    max: usize,
) -> Vec<Composite> {
    let mut out = Vec::new();
    let n = eq.len().min(max);
    let mut keys: Vec<Key> = eq[..n].iter().map(|e| plain_key(e.expr.clone())).collect();
    let mut proof = eq[..n].iter().all(|e| e.proof);
    if let Some(r) = range.filter(|_| keys.len() < max) {
        keys.push(r.key.clone());
        proof &= r.proof;
    }
    if !keys.is_empty() {
        let kind = if keys.len() == 1 {
            single_kind(&keys[0].expr, n == 1 && eq[0].join)
        } else {
            CandidateKind::EqRange
        };
        out.push(Composite { keys, kind, proof });
    }
    if !sort.is_empty() && sort.len() <= max {
        let n = eq.len().min(max - sort.len());
        if !eq[..n].iter().any(|e| e.is_in) {
            let mut keys: Vec<Key> = eq[..n].iter().map(|e| plain_key(e.expr.clone())).collect();
            keys.extend(sort.iter().cloned());
            out.push(Composite { keys, kind: CandidateKind::EqSort, proof: false });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Per-table generation

struct TableCtx<'a> {
    table: &'a TableInfo,
    statements: &'a [Statement],
    uses: &'a BTreeMap<(Oid, KeyExpr), usize>,
    s: &'a Settings,
}

impl TableCtx<'_> {
    fn column_of(&self, expr: &KeyExpr) -> Option<&ColumnStats> {
        match expr {
            KeyExpr::Column(attnum) => self.table.column(*attnum),
            KeyExpr::Expr(_) => None,
        }
    }

    fn uses_of(&self, expr: &KeyExpr) -> usize {
        self.uses.get(&(self.table.relid, expr.clone())).copied().unwrap_or(0)
    }

    fn def_key(
        &self,
        method: Method,
        keys: Vec<Key>,
        include: Vec<i16>,
        predicate: Option<String>,
    ) -> DefKey {
        DefKey::new(self.table.relid, method, keys, include, predicate)
    }

    /// Estimated share of rows an equality qual keeps (pg_stats, as PgHero's `row_estimates`).
    fn eq_selectivity(&self, q: &Qual) -> f64 {
        let Some(col) = self.column_of(&q.column) else {
            let base = DEFAULT_EQ_SEL;
            return if q.class == QualClass::In { base * IN_LIST_VALUES } else { base };
        };
        match q.class {
            QualClass::IsNull => col.null_frac,
            QualClass::In => (per_value_selectivity(col) * IN_LIST_VALUES).min(1.0),
            _ if q.constants.is_empty() => per_value_selectivity(col),
            _ => {
                let sum: f64 = q.constants.iter().map(|c| value_frequency(col, c)).sum();
                sum / q.constants.len() as f64
            }
        }
    }

    /// B-tree key for a qual's column: a pattern operator class for LIKE 'abc%' unless the
    /// column's collation is C.
    fn btree_key(&self, q: &Qual) -> Key {
        let mut key = plain_key(q.column.clone());
        if q.class == QualClass::LikePrefix {
            key.opclass = match &q.column {
                KeyExpr::Column(_) => {
                    let col = self.column_of(&q.column);
                    if col.is_some_and(|c| c.c_collation) {
                        None
                    } else {
                        Some(pattern_opclass_for(col.map_or("text", |c| &c.type_name)).to_string())
                    }
                }
                KeyExpr::Expr(_) => Some("text_pattern_ops".to_string()),
            };
        }
        key
    }

    /// Equality elements of a scan, most selective first, ties by more statements then by key.
    fn eq_elements(&self, quals: &[&Qual], skip: Option<&KeyExpr>) -> Vec<EqElem> {
        let mut by_expr: BTreeMap<KeyExpr, EqElem> = BTreeMap::new();
        for q in quals.iter().filter(|q| is_eq_class(q.class) && skip != Some(&q.column)) {
            let selectivity = self.eq_selectivity(q);
            let is_in = q.class == QualClass::In;
            match by_expr.entry(q.column.clone()) {
                Entry::Vacant(v) => {
                    v.insert(EqElem {
                        expr: q.column.clone(),
                        selectivity,
                        uses: self.uses_of(&q.column),
                        is_in,
                        join: q.join,
                        proof: q.index_cond,
                    });
                }
                Entry::Occupied(mut o) => {
                    let e = o.get_mut();
                    e.selectivity = e.selectivity.min(selectivity);
                    e.is_in &= is_in;
                    e.join |= q.join;
                    e.proof &= q.index_cond;
                }
            }
        }
        let mut elems: Vec<EqElem> = by_expr.into_values().collect();
        elems.sort_by(|a, b| {
            a.selectivity
                .total_cmp(&b.selectivity)
                .then(b.uses.cmp(&a.uses))
                .then_with(|| a.expr.cmp(&b.expr))
        });
        elems
    }

    /// The single best range element not already fixed by equality: most bounds (a BETWEEN
    /// counts two), then most statements, then key order.
    fn range_element(
        &self,
        quals: &[&Qual],
        eq: &[EqElem],
        skip: Option<&KeyExpr>,
    ) -> Option<RangeElem> {
        let mut by_key: BTreeMap<Key, RangeElem> = BTreeMap::new();
        let candidates = quals.iter().filter(|q| {
            is_range_class(q.class)
                && skip != Some(&q.column)
                && !eq.iter().any(|e| e.expr == q.column)
        });
        for q in candidates {
            let key = self.btree_key(q);
            let elem = by_key.entry(key.clone()).or_insert_with(|| RangeElem {
                key,
                bounds: 0,
                uses: self.uses_of(&q.column),
                proof: true,
            });
            elem.bounds += 1;
            elem.proof &= q.index_cond;
        }
        by_key.into_values().min_by(|a, b| {
            b.bounds.cmp(&a.bounds).then(b.uses.cmp(&a.uses)).then_with(|| a.key.cmp(&b.key))
        })
    }

    /// eq+range, eq+sort, their covering variants and the partial variants of one scan.
    fn scan_candidates(&self, scan: &Scan, d: &mut Drafts) {
        let quals: Vec<&Qual> = scan.quals.iter().copied().filter(|q| !q.in_or).collect();
        let eq = self.eq_elements(&quals, None);
        let range = self.range_element(&quals, &eq, None);
        let sort = sort_keys(&scan.sort, &fixed_exprs(&eq, None));
        for c in composites(&eq, range.as_ref(), &sort, self.s.max_key_columns) {
            if let Some(include) = self.include_columns(scan.queryid, &c.keys) {
                let key = self.def_key(Method::Btree, c.keys.clone(), include, None);
                d.add(key, CandidateKind::Covering, [scan.queryid], false);
            }
            d.add(
                self.def_key(Method::Btree, c.keys, Vec::new(), None),
                c.kind,
                [scan.queryid],
                c.proof,
            );
        }
        for q in &quals {
            if let Some(predicate) = self.partial_predicate(q) {
                self.partial_candidates(scan, &quals, q, predicate, d);
            }
        }
    }

    /// INCLUDE columns for an index-only scan of statement `queryid` with `keys` (§1.4): the
    /// columns it references minus the key columns, at most `include_max_columns`, narrow, none
    /// updated by recorded UPDATEs (an INCLUDE column blocks HOT like a key), and only on a table
    /// whose visibility map is mostly set.
    fn include_columns(&self, queryid: u64, keys: &[Key]) -> Option<Vec<i16>> {
        if self.table.all_visible_frac < self.s.include_min_all_visible {
            return None;
        }
        let statement = self.statements.iter().find(|st| st.queryid == queryid)?;
        let needed = statement.columns.get(&self.table.relid)?;
        let key_columns: Vec<i16> = keys
            .iter()
            .filter_map(|k| match k.expr {
                KeyExpr::Column(a) => Some(a),
                KeyExpr::Expr(_) => None,
            })
            .collect();
        let rest: BTreeSet<i16> =
            needed.iter().copied().filter(|a| *a > 0 && !key_columns.contains(a)).collect();
        if rest.is_empty() || rest.len() > self.s.include_max_columns {
            return None;
        }
        let mut width = 0.0;
        for a in &rest {
            width += self.table.column(*a)?.width;
            if self.table.updated_columns.get(a).is_some_and(|rows| *rows > 0.0) {
                return None;
            }
        }
        (width <= self.s.include_max_width).then(|| rest.into_iter().collect())
    }

    /// Partial-index predicate for a qual (§1.5): `col = 'rare constant'` on a low-cardinality
    /// column when the statement (almost) always writes that one literal; `col IS NOT NULL` when
    /// most rows are NULL; `col IS NULL` when few are.
    fn partial_predicate(&self, q: &Qual) -> Option<String> {
        let KeyExpr::Column(attnum) = q.column else { return None };
        let col = self.table.column(attnum)?;
        let ident = quote_ident(&col.name);
        match q.class {
            QualClass::IsNotNull => {
                (col.null_frac >= PARTIAL_MIN_NULL_FRAC).then(|| format!("{ident} IS NOT NULL"))
            }
            QualClass::IsNull => (col.null_frac > 0.0 && col.null_frac <= self.s.partial_max_freq)
                .then(|| format!("{ident} IS NULL")),
            QualClass::Eq => {
                let values: BTreeSet<&String> = q.constants.iter().collect();
                let value = *values.first()?;
                let eligible = q.const_share >= PARTIAL_MIN_CONST_SHARE
                    && values.len() == 1
                    && low_cardinality(col, self.s)
                    && value_frequency(col, value) <= self.s.partial_max_freq;
                eligible.then(|| format!("{ident} = {}", literal_for(value, &col.type_name)))
            }
            _ => None,
        }
    }

    /// Keys of the table's valid primary key, for a partial index with no other element.
    fn primary_key(&self) -> Option<Vec<Key>> {
        self.table
            .existing
            .iter()
            .find(|e| e.primary && e.valid && !e.keys.is_empty())
            .map(|e| e.keys.clone())
    }

    /// The scan's key lists without the predicate's column, under `WHERE predicate`; the primary
    /// key when nothing else is left.
    fn partial_candidates(
        &self,
        scan: &Scan,
        quals: &[&Qual],
        q: &Qual,
        predicate: String,
        d: &mut Drafts,
    ) {
        let skip = Some(&q.column);
        let eq = self.eq_elements(quals, skip);
        let range = self.range_element(quals, &eq, skip);
        let sort = sort_keys(&scan.sort, &fixed_exprs(&eq, skip));
        let mut lists: Vec<Vec<Key>> =
            composites(&eq, range.as_ref(), &sort, self.s.max_key_columns)
                .into_iter()
                .map(|c| c.keys)
                .collect();
        if eq.is_empty() && range.is_none() && sort.is_empty() {
            lists.extend(self.primary_key());
        }
        for keys in lists {
            let key = self.def_key(Method::Btree, keys, Vec::new(), Some(predicate.clone()));
            d.add(key, CandidateKind::Partial, [scan.queryid], false);
        }
    }

    /// One-column B-tree building blocks for every column used by an indexable qual (OR arms
    /// included), `Join` for join columns.
    fn single_candidates(&self, quals: &[&Qual], d: &mut Drafts) {
        for q in quals.iter().filter(|q| is_eq_class(q.class) || is_range_class(q.class)) {
            let key = self.def_key(Method::Btree, vec![self.btree_key(q)], Vec::new(), None);
            d.add(key, single_kind(&q.column, q.join), [q.queryid], q.index_cond);
        }
    }

    /// GROUP BY / DISTINCT keys of one table, in the written order: an aggregate can read the
    /// groups in index order (GroupAggregate, no hash table that spills, no sort). Only worth it as
    /// an index-only scan, so with the statement's other columns as INCLUDE, or not at all.
    fn group_candidates(&self, d: &mut Drafts) {
        for st in self.statements {
            for (_, cols) in st.groups.iter().filter(|(r, _)| *r == self.table.relid) {
                if cols.is_empty() || cols.len() > self.s.max_key_columns {
                    continue;
                }
                let keys: Vec<Key> = cols.iter().map(|&a| Key::column(a)).collect();
                let Some(needed) = st.columns.get(&self.table.relid) else { continue };
                let include = if needed.iter().all(|a| cols.contains(a)) {
                    Vec::new()
                } else {
                    match self.include_columns(st.queryid, &keys) {
                        Some(include) => include,
                        None => continue,
                    }
                };
                d.add(self.def_key(Method::Btree, keys, include, None), CandidateKind::Group, [st.queryid], false);
            }
        }
    }

    /// GIN (§1.7): jsonb `jsonb_path_ops` when only `@> @? @@` are used on the column, the default
    /// `jsonb_ops` once `? ?| ?&` appear; arrays with the default class; `gin_trgm_ops` for
    /// unanchored patterns when pg_trgm is installed and the pattern has 3+ literal characters.
    fn gin_candidates(&self, quals: &[&Qual], d: &mut Drafts) {
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        enum Family {
            Jsonb,
            Array,
            Trigram,
        }
        let mut groups: BTreeMap<(KeyExpr, Family), (BTreeSet<u64>, bool)> = BTreeMap::new();
        for q in quals {
            let family = match q.class {
                QualClass::JsonPath | QualClass::JsonKey => Family::Jsonb,
                QualClass::ArrayOp => Family::Array,
                QualClass::Pattern if self.table.has_pg_trgm && !short_pattern(q) => {
                    Family::Trigram
                }
                _ => continue,
            };
            let entry = groups.entry((q.column.clone(), family)).or_default();
            entry.0.insert(q.queryid);
            entry.1 |= q.class == QualClass::JsonKey;
        }
        for ((expr, family), (queryids, key_ops)) in groups {
            let opclass = match family {
                Family::Jsonb if !key_ops => Some("jsonb_path_ops".to_string()),
                Family::Trigram => Some("gin_trgm_ops".to_string()),
                _ => None,
            };
            let key = self.def_key(
                Method::Gin,
                vec![Key { opclass, ..plain_key(expr) }],
                Vec::new(),
                None,
            );
            d.add(key, CandidateKind::Gin, queryids, false);
        }
    }

    /// BRIN (§1.7) on a range-filtered column of a large table whose values follow the physical
    /// row order.
    fn brin_candidates(&self, quals: &[&Qual], d: &mut Drafts) {
        if self.table.pages < self.s.brin_min_pages {
            return;
        }
        let mut groups: BTreeMap<i16, BTreeSet<u64>> = BTreeMap::new();
        for q in quals.iter().filter(|q| q.class == QualClass::Range) {
            if let KeyExpr::Column(attnum) = q.column {
                groups.entry(attnum).or_default().insert(q.queryid);
            }
        }
        for (attnum, queryids) in groups {
            let correlated = self
                .table
                .column(attnum)
                .is_some_and(|c| c.correlation.abs() >= self.s.brin_min_correlation);
            if correlated {
                let key = self.def_key(Method::Brin, vec![Key::column(attnum)], Vec::new(), None);
                d.add(key, CandidateKind::Brin, queryids, false);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Collecting, deduplicating, filtering

/// Canonical definition of a candidate: equal keys mean the same index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct DefKey {
    relid: Oid,
    method: Method,
    keys: Vec<Key>,
    include: Vec<i16>,
    predicate: Option<String>,
}

impl DefKey {
    fn new(
        relid: Oid,
        method: Method,
        keys: Vec<Key>,
        mut include: Vec<i16>,
        predicate: Option<String>,
    ) -> DefKey {
        let keys = if method == Method::Btree { normalize_directions(keys) } else { keys };
        include.sort_unstable();
        include.dedup();
        DefKey { relid, method, keys, include, predicate }
    }

    fn to_def(&self) -> IndexDef {
        IndexDef {
            relid: self.relid,
            am: self.method.name().to_string(),
            method: Some(self.method),
            keys: self.keys.clone(),
            include: self.include.clone(),
            predicate: self.predicate.clone(),
            ..Default::default()
        }
    }

    /// The candidate this one widens: the same keys without INCLUDE, or one key fewer.
    fn extended_from(&self) -> Option<DefKey> {
        if self.method != Method::Btree {
            None
        } else if !self.include.is_empty() {
            Some(DefKey { include: Vec::new(), ..self.clone() })
        } else if self.keys.len() >= 2 {
            let keys = self.keys[..self.keys.len() - 1].to_vec();
            Some(DefKey::new(self.relid, self.method, keys, Vec::new(), self.predicate.clone()))
        } else {
            None
        }
    }
}

struct Draft {
    kind: CandidateKind,
    queryids: BTreeSet<u64>,
    /// Built only from quals that were all already index conditions.
    proof: bool,
}

/// When one definition comes from several rules, the most specific kind names it.
fn kind_rank(kind: CandidateKind) -> u8 {
    match kind {
        CandidateKind::Single => 0,
        CandidateKind::Join => 1,
        CandidateKind::EqRange => 2,
        CandidateKind::EqSort => 3,
        CandidateKind::Group => 3,
        CandidateKind::Hash => 4,
        CandidateKind::Brin => 5,
        CandidateKind::Gin => 6,
        CandidateKind::Expression => 7,
        CandidateKind::Covering => 8,
        CandidateKind::Partial => 9,
    }
}

fn method_of(def: &IndexDef) -> Option<Method> {
    def.method.or_else(|| Method::from_name(&def.am))
}

fn usable_existing(e: &IndexDef) -> bool {
    e.valid && !e.building
}

/// An existing index serves the candidate. For a partial candidate only an index with the same
/// predicate counts: a broader index (none, or fewer conjuncts) still reads the rows the
/// predicate would skip, which is the point of the partial index.
fn already_served(existing: &[IndexDef], def: &IndexDef) -> bool {
    match &def.predicate {
        None => coverage::served(existing, def),
        Some(predicate) => {
            let mut want = coverage::conjuncts(predicate);
            want.sort();
            existing.iter().any(|e| {
                let mut have = e.predicate.as_deref().map(coverage::conjuncts).unwrap_or_default();
                have.sort();
                usable_existing(e) && have == want && coverage::covers(e, def)
            })
        }
    }
}

/// Runtime proof (§2.1): every qual behind the candidate already ran as an index condition, and an
/// existing usable B-tree holds all of the candidate's keys.
fn proven_served(existing: &[IndexDef], def: &IndexDef) -> bool {
    def.include.is_empty()
        && def.predicate.is_none()
        && existing.iter().any(|e| {
            usable_existing(e)
                && e.relid == def.relid
                && method_of(e) == Some(Method::Btree)
                && def.keys.iter().all(|k| {
                    e.keys.iter().any(|x| {
                        x.expr == k.expr && x.opclass == k.opclass && x.collation == k.collation
                    })
                })
        })
}

#[derive(Default)]
struct Drafts(BTreeMap<DefKey, Draft>);

impl Drafts {
    fn add(
        &mut self,
        key: DefKey,
        kind: CandidateKind,
        queryids: impl IntoIterator<Item = u64>,
        proof: bool,
    ) {
        if key.keys.is_empty() {
            return;
        }
        match self.0.entry(key) {
            Entry::Vacant(v) => {
                v.insert(Draft { kind, queryids: queryids.into_iter().collect(), proof });
            }
            Entry::Occupied(mut o) => {
                let d = o.get_mut();
                if kind_rank(kind) > kind_rank(d.kind) {
                    d.kind = kind;
                }
                d.queryids.extend(queryids);
                d.proof &= proof;
            }
        }
    }

    /// Every multi-key B-tree candidate without INCLUDE gets its prefixes (same predicate), so
    /// Extend can reach it one key at a time.
    fn add_prefixes(&mut self) {
        let bases: Vec<(DefKey, CandidateKind, BTreeSet<u64>, bool)> = self
            .0
            .iter()
            .filter(|(k, _)| k.method == Method::Btree && k.include.is_empty() && k.keys.len() >= 2)
            .map(|(k, d)| (k.clone(), d.kind, d.queryids.clone(), d.proof))
            .collect();
        for (key, kind, queryids, proof) in bases {
            for n in 1..key.keys.len() {
                let prefix = DefKey::new(
                    key.relid,
                    key.method,
                    key.keys[..n].to_vec(),
                    Vec::new(),
                    key.predicate.clone(),
                );
                let prefix_kind = if kind == CandidateKind::Partial {
                    CandidateKind::Partial
                } else if n == 1 {
                    single_kind(&prefix.keys[0].expr, false)
                } else {
                    kind
                };
                self.add(prefix, prefix_kind, queryids.iter().copied(), proof);
            }
        }
    }

    /// Drops served candidates, then numbers the rest in canonical order and links `extends`.
    fn finish(self, tables: &[TableInfo]) -> Vec<Candidate> {
        let existing_of = |relid: Oid| -> &[IndexDef] {
            tables.iter().find(|t| t.relid == relid).map_or(&[], |t| t.existing.as_slice())
        };
        let kept: Vec<(DefKey, Draft)> = self
            .0
            .into_iter()
            .filter(|(key, draft)| {
                let def = key.to_def();
                let existing = existing_of(key.relid);
                let proven = draft.proof && proven_served(existing, &def);
                !proven && !already_served(existing, &def)
            })
            .collect();
        let position: BTreeMap<&DefKey, usize> =
            kept.iter().enumerate().map(|(i, (k, _))| (k, i)).collect();
        kept.iter()
            .map(|(key, draft)| Candidate {
                def: key.to_def(),
                queryids: draft.queryids.iter().copied().collect(),
                kind: draft.kind,
                extends: key.extended_from().and_then(|p| position.get(&p).copied()),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Oid = 100;

    fn col(attnum: i16, name: &str, n_distinct: f64) -> ColumnStats {
        ColumnStats {
            attnum,
            name: name.into(),
            type_name: "integer".into(),
            width: 4.0,
            n_distinct,
            ..Default::default()
        }
    }

    fn table(columns: Vec<ColumnStats>) -> TableInfo {
        TableInfo {
            relid: T,
            qualified_name: "\"public\".\"t\"".into(),
            name: "t".into(),
            rows: 1_000_000.0,
            pages: 10_000.0,
            all_visible_frac: 0.9,
            columns,
            ..Default::default()
        }
    }

    /// Columns 1..=6 named a..f with 1000 distinct values each, plus overrides.
    fn abc_table() -> TableInfo {
        table(
            ["a", "b", "c", "d", "e", "f"]
                .iter()
                .enumerate()
                .map(|(i, n)| col(i as i16 + 1, n, 1000.0))
                .collect(),
        )
    }

    fn qual(queryid: u64, attnum: i16, class: QualClass) -> Qual {
        Qual {
            queryid,
            relid: T,
            column: KeyExpr::Column(attnum),
            class,
            operator: "=".into(),
            join: false,
            in_or: false,
            index_cond: false,
            executions: 10.0,
            const_share: 0.0,
            constants: Vec::new(),
            scan: queryid * 10,
        }
    }

    fn sort(queryid: u64, position: i16, attnum: i16, desc: bool) -> SortKey {
        SortKey {
            queryid,
            relid: T,
            position,
            column: KeyExpr::Column(attnum),
            desc,
            nulls_first: desc,
            under_limit: true,
        }
    }

    fn run(tables: &[TableInfo], quals: &[Qual], sorts: &[SortKey]) -> Vec<String> {
        summary(&generate(tables, &[], quals, sorts, &Settings::default()))
    }

    fn key_text(k: &Key) -> String {
        let mut s = match &k.expr {
            KeyExpr::Column(a) => a.to_string(),
            KeyExpr::Expr(e) => e.clone(),
        };
        if k.desc {
            s.push_str(" DESC");
        }
        if k.nulls_first != k.desc {
            s.push_str(if k.nulls_first { " NF" } else { " NL" });
        }
        if let Some(o) = &k.opclass {
            s.push(' ');
            s.push_str(o);
        }
        s
    }

    /// `method(keys) [INCLUDE (..)] [WHERE ..] Kind [<-extends] [queryids]`
    fn summary(cands: &[Candidate]) -> Vec<String> {
        cands
            .iter()
            .map(|c| {
                let keys: Vec<String> = c.def.keys.iter().map(key_text).collect();
                let mut s = format!("{}({})", c.def.am, keys.join(","));
                if !c.def.include.is_empty() {
                    let inc: Vec<String> = c.def.include.iter().map(|a| a.to_string()).collect();
                    s.push_str(&format!(" INCLUDE ({})", inc.join(",")));
                }
                if let Some(p) = &c.def.predicate {
                    s.push_str(&format!(" WHERE {p}"));
                }
                s.push_str(&format!(" {:?}", c.kind));
                if let Some(e) = c.extends {
                    s.push_str(&format!(" <-{e}"));
                }
                s.push_str(&format!(" {:?}", c.queryids));
                s
            })
            .collect()
    }

    #[test]
    fn eq_then_range_ordered_by_selectivity() {
        // tenant_id = $1 AND status = $2 AND created_at > $3; status MCV 0.3, tenant 1/5000
        let mut t = table(vec![
            col(1, "tenant_id", 5000.0),
            col(2, "status", 5.0),
            col(3, "created_at", -1.0),
        ]);
        t.columns[1].mcv = vec![("shipped".into(), 0.3)];
        t.columns[1].type_name = "text".into();
        let mut status = qual(1, 2, QualClass::Eq);
        status.constants = vec!["shipped".into()];
        let quals = vec![status, qual(1, 1, QualClass::Eq), qual(1, 3, QualClass::Range)];
        assert_eq!(
            run(&[t], &quals, &[]),
            vec![
                "btree(1) Single [1]",
                "btree(1,2) EqRange <-0 [1]",
                "btree(1,2,3) EqRange <-1 [1]",
                "btree(2) Single [1]",
                "btree(3) Single [1]",
            ]
        );
    }

    #[test]
    fn equal_selectivity_ties_by_statement_count() {
        // statement 1: a = AND b =; statement 2: b = → b is shared, so it leads
        let quals =
            vec![qual(1, 1, QualClass::Eq), qual(1, 2, QualClass::Eq), qual(2, 2, QualClass::Eq)];
        assert_eq!(
            run(&[abc_table()], &quals, &[]),
            vec!["btree(1) Single [1]", "btree(2) Single [1, 2]", "btree(2,1) EqRange <-1 [1]"]
        );
    }

    #[test]
    fn is_null_selectivity_from_null_frac() {
        let mut t = abc_table();
        t.columns[1].null_frac = 0.0001; // b IS NULL keeps 0.01%, a = keeps 0.1%
        let quals = vec![qual(1, 1, QualClass::Eq), qual(1, 2, QualClass::IsNull)];
        // b leads; and a rare NULL also gives a partial index on the other element
        assert_eq!(
            run(&[t], &quals, &[]),
            vec![
                "btree(1) Single [1]",
                "btree(1) WHERE \"b\" IS NULL Partial [1]",
                "btree(2) Single [1]",
                "btree(2,1) EqRange <-2 [1]",
            ]
        );
    }

    #[test]
    fn two_ranges_give_one_range_key() {
        // a = $1 AND b > $2 AND c > $3 AND c < $4: c is bounded on both sides
        let quals = vec![
            qual(1, 1, QualClass::Eq),
            qual(1, 2, QualClass::Range),
            qual(1, 3, QualClass::Range),
            qual(1, 3, QualClass::Range),
        ];
        assert_eq!(
            run(&[abc_table()], &quals, &[]),
            vec![
                "btree(1) Single [1]",
                "btree(1,3) EqRange <-0 [1]",
                "btree(2) Single [1]",
                "btree(3) Single [1]"
            ]
        );
    }

    #[test]
    fn order_by_desc_limit_normalised_to_asc() {
        // user_id = $1 ORDER BY created_at DESC LIMIT 20 → (user_id, created_at)
        let quals = vec![qual(1, 1, QualClass::Eq)];
        let sorts = vec![sort(1, 1, 2, true)];
        assert_eq!(
            run(&[abc_table()], &quals, &sorts),
            vec!["btree(1) Single [1]", "btree(1,2) EqSort <-0 [1]"]
        );
    }

    #[test]
    fn mixed_directions_keep_desc() {
        // ORDER BY score DESC, id ASC LIMIT 50 → (score DESC, id); its prefix normalises to ASC
        let sorts = vec![sort(1, 1, 1, true), sort(1, 2, 2, false)];
        assert_eq!(
            run(&[abc_table()], &[], &sorts),
            vec!["btree(1) Single [1]", "btree(1 DESC,2) EqSort <-0 [1]"]
        );
    }

    #[test]
    fn nulls_first_kept() {
        let mut k = sort(1, 1, 2, false);
        k.nulls_first = true;
        let out = run(&[abc_table()], &[qual(1, 1, QualClass::Eq)], &[k]);
        assert_eq!(out, vec!["btree(1) Single [1]", "btree(1,2 NF) EqSort <-0 [1]"]);
    }

    #[test]
    fn range_and_sort_on_other_columns_give_both() {
        // a = $1 AND c > $2 ORDER BY b LIMIT 10 → (a, c) and (a, b)
        let quals = vec![qual(1, 1, QualClass::Eq), qual(1, 3, QualClass::Range)];
        let sorts = vec![sort(1, 1, 2, false)];
        assert_eq!(
            run(&[abc_table()], &quals, &sorts),
            vec![
                "btree(1) Single [1]",
                "btree(1,2) EqSort <-0 [1]",
                "btree(1,3) EqRange <-0 [1]",
                "btree(3) Single [1]",
            ]
        );
    }

    #[test]
    fn sort_led_by_other_table_or_without_limit_gives_nothing() {
        let quals = vec![qual(1, 1, QualClass::Eq)];
        // ORDER BY other.x, t.b: this table's key is at position 2
        assert_eq!(
            run(&[abc_table()], &quals, &[sort(1, 2, 2, false)]),
            vec!["btree(1) Single [1]"]
        );
        let mut no_limit = sort(1, 1, 2, false);
        no_limit.under_limit = false;
        assert_eq!(run(&[abc_table()], &quals, &[no_limit]), vec!["btree(1) Single [1]"]);
    }

    #[test]
    fn sort_key_fixed_by_equality_is_skipped() {
        // a = $1 ORDER BY a, b LIMIT 5 → (a, b)
        let quals = vec![qual(1, 1, QualClass::Eq)];
        let sorts = vec![sort(1, 1, 1, false), sort(1, 2, 2, false)];
        assert_eq!(
            run(&[abc_table()], &quals, &sorts),
            vec!["btree(1) Single [1]", "btree(1,2) EqSort <-0 [1]"]
        );
    }

    #[test]
    fn any_on_second_key_makes_no_sort_claim() {
        // b = $1 AND a = ANY($2) ORDER BY c LIMIT 10: (b, a) only, no key list with c
        let quals = vec![qual(1, 1, QualClass::In), qual(1, 2, QualClass::Eq)];
        let sorts = vec![sort(1, 1, 3, false)];
        assert_eq!(
            run(&[abc_table()], &quals, &sorts),
            vec!["btree(1) Single [1]", "btree(2) Single [1]", "btree(2,1) EqRange <-1 [1]"]
        );
    }

    #[test]
    fn five_equalities_capped_at_three_keys() {
        let mut t = abc_table();
        for (i, c) in t.columns.iter_mut().enumerate() {
            c.n_distinct = 10.0 * (i as f64 + 1.0); // f most selective, then e, d, ...
        }
        let quals: Vec<Qual> = (1..=5).map(|a| qual(1, a, QualClass::Eq)).collect();
        let out = generate(&[t], &[], &quals, &[], &Settings::default());
        let widest: Vec<String> = out
            .iter()
            .filter(|c| c.def.keys.len() == 3)
            .map(|c| summary(std::slice::from_ref(c))[0].clone())
            .collect();
        assert_eq!(widest, vec!["btree(5,4,3) EqRange <-5 [1]"]);
        assert!(out.iter().all(|c| c.def.keys.len() <= 3));
        assert_eq!(out.len(), 7); // 5 singles + (5,4) + (5,4,3)
    }

    #[test]
    fn or_arms_give_singles_only() {
        let mut a = qual(1, 1, QualClass::Eq);
        a.in_or = true;
        let mut b = qual(1, 2, QualClass::Range);
        b.in_or = true;
        assert_eq!(
            run(&[abc_table()], &[a, b], &[]),
            vec!["btree(1) Single [1]", "btree(2) Single [1]"]
        );
    }

    fn covering_input() -> (Vec<Qual>, Vec<Statement>) {
        let quals = vec![qual(1, 1, QualClass::Eq), qual(1, 2, QualClass::Range)];
        let stmt = Statement {
            queryid: 1,
            weight: 1.0,
            tables: vec![T],
            columns: [(T, vec![1, 2, 5, 4])].into_iter().collect(),
            groups: vec![],
        };
        (quals, vec![stmt])
    }

    #[test]
    fn covering_include_when_visible_and_narrow() {
        let (quals, stmts) = covering_input();
        let out = summary(&generate(&[abc_table()], &stmts, &quals, &[], &Settings::default()));
        assert_eq!(
            out,
            vec![
                "btree(1) Single [1]",
                "btree(1,2) EqRange <-0 [1]",
                "btree(1,2) INCLUDE (4,5) Covering <-1 [1]",
                "btree(2) Single [1]",
            ]
        );
    }

    #[test]
    fn group_by_keys_get_an_index_only_candidate_or_none() {
        // SELECT b, sum(d) FROM t GROUP BY b, and SELECT DISTINCT c FROM t (no quals at all).
        let st = |queryid: u64, cols: Vec<i16>, group: Vec<i16>| Statement {
            queryid,
            weight: 1.0,
            tables: vec![T],
            columns: [(T, cols)].into_iter().collect(),
            groups: vec![(T, group)],
        };
        let stmts = vec![st(1, vec![2, 4], vec![2]), st(2, vec![3], vec![3])];
        let out = summary(&generate(&[abc_table()], &stmts, &[], &[], &Settings::default()));
        assert_eq!(out, vec!["btree(2) INCLUDE (4) Group [1]", "btree(3) Group [2]"]);
        // Other columns too wide to include: a plain index would need the heap, so nothing.
        let mut wide = abc_table();
        wide.columns[3].width = 100.0;
        let out = summary(&generate(&[wide], &stmts[..1], &[], &[], &Settings::default()));
        assert!(out.is_empty(), "{out:?}");
        // Whole rows needed (no column list for the table): nothing.
        let mut whole = st(1, vec![], vec![2]);
        whole.columns.clear();
        assert!(generate(&[abc_table()], &[whole], &[], &[], &Settings::default()).is_empty());
    }

    #[test]
    fn no_covering_with_low_visibility_wide_or_updated_columns() {
        let (quals, stmts) = covering_input();
        let has_covering = |t: &TableInfo| {
            generate(std::slice::from_ref(t), &stmts, &quals, &[], &Settings::default())
                .iter()
                .any(|c| c.kind == CandidateKind::Covering)
        };
        assert!(has_covering(&abc_table()));
        let mut low_vm = abc_table();
        low_vm.all_visible_frac = 0.3;
        assert!(!has_covering(&low_vm));
        let mut wide = abc_table();
        wide.columns[4].width = 100.0;
        assert!(!has_covering(&wide));
        let mut updated = abc_table();
        updated.updated_columns.insert(4, 500.0);
        assert!(!has_covering(&updated));
    }

    fn status_table(type_name: &str) -> TableInfo {
        let mut t =
            table(vec![col(1, "id", -1.0), col(2, "status", 5.0), col(3, "created_at", -1.0)]);
        t.columns[1].type_name = type_name.into();
        t.columns[1].mcv = vec![("done".into(), 0.9), ("pending".into(), 0.02)];
        t
    }

    fn pending_qual(const_share: f64) -> Qual {
        let mut q = qual(1, 2, QualClass::Eq);
        q.const_share = const_share;
        q.constants = vec!["pending".into()];
        q
    }

    #[test]
    fn partial_index_for_rare_constant() {
        // WHERE status = 'pending' ORDER BY created_at LIMIT 100
        let sorts = vec![sort(1, 1, 3, false)];
        assert_eq!(
            run(&[status_table("text")], &[pending_qual(1.0)], &sorts),
            vec![
                "btree(2) Single [1]",
                "btree(2,3) EqSort <-0 [1]",
                "btree(3) WHERE \"status\" = 'pending' Partial [1]",
            ]
        );
    }

    #[test]
    fn partial_literal_cast_for_non_text_and_not_for_params() {
        let sorts = vec![sort(1, 1, 3, false)];
        let out = run(&[status_table("order_status")], &[pending_qual(1.0)], &sorts);
        assert!(
            out.contains(
                &"btree(3) WHERE \"status\" = 'pending'::order_status Partial [1]".to_string()
            ),
            "{out:?}"
        );
        // `status = $1` most of the time → no partial
        let out = run(&[status_table("text")], &[pending_qual(0.5)], &sorts);
        assert!(out.iter().all(|c| !c.contains("WHERE")), "{out:?}");
        // a frequent value → no partial
        let mut done = pending_qual(1.0);
        done.constants = vec!["done".into()];
        let out = run(&[status_table("text")], &[done], &sorts);
        assert!(out.iter().all(|c| !c.contains("WHERE")), "{out:?}");
    }

    #[test]
    fn partial_is_not_null_on_mostly_null_column_uses_primary_key() {
        let mut t = table(vec![col(1, "id", -1.0), col(2, "error", 10.0)]);
        t.columns[1].null_frac = 0.95;
        t.existing = vec![IndexDef {
            oid: 9,
            relid: T,
            name: "t_pkey".into(),
            am: "btree".into(),
            method: Some(Method::Btree),
            keys: vec![Key::column(1)],
            primary: true,
            protected: true,
            unique: true,
            valid: true,
            ..Default::default()
        }];
        assert_eq!(
            run(&[t], &[qual(1, 2, QualClass::IsNotNull)], &[]),
            vec!["btree(1) WHERE \"error\" IS NOT NULL Partial [1]"]
        );
    }

    #[test]
    fn join_column_only_on_the_side_without_index() {
        let orders = TableInfo {
            relid: 1,
            ..table(vec![col(1, "id", -1.0), col(2, "customer_id", 5000.0)])
        };
        let mut customers = TableInfo { relid: 2, ..table(vec![col(1, "id", -1.0)]) };
        customers.existing = vec![IndexDef {
            oid: 7,
            relid: 2,
            am: "btree".into(),
            keys: vec![Key::column(1)],
            primary: true,
            valid: true,
            ..Default::default()
        }];
        let mut o = qual(1, 2, QualClass::Eq);
        o.relid = 1;
        o.join = true;
        let mut c = qual(1, 1, QualClass::Eq);
        c.relid = 2;
        c.join = true;
        c.scan = 11;
        assert_eq!(run(&[orders, customers], &[o, c], &[]), vec!["btree(2) Join [1]"]);
    }

    fn jsonb_qual(queryid: u64, class: QualClass) -> Qual {
        qual(queryid, 2, class)
    }

    #[test]
    fn gin_jsonb_opclass_by_operators() {
        let out = run(&[abc_table()], &[jsonb_qual(1, QualClass::JsonPath)], &[]);
        assert_eq!(out, vec!["gin(2 jsonb_path_ops) Gin [1]"]);
        let out = run(
            &[abc_table()],
            &[jsonb_qual(1, QualClass::JsonPath), jsonb_qual(2, QualClass::JsonKey)],
            &[],
        );
        assert_eq!(out, vec!["gin(2) Gin [1, 2]"]);
        let out = run(&[abc_table()], &[jsonb_qual(3, QualClass::ArrayOp)], &[]);
        assert_eq!(out, vec!["gin(2) Gin [3]"]);
    }

    #[test]
    fn trigram_gin_only_with_pg_trgm_and_long_pattern() {
        let mut q = qual(1, 2, QualClass::Pattern);
        q.constants = vec!["%abc%".into()];
        let mut t = abc_table();
        assert_eq!(
            run(std::slice::from_ref(&t), std::slice::from_ref(&q), &[]),
            Vec::<String>::new()
        );
        t.has_pg_trgm = true;
        assert_eq!(
            run(std::slice::from_ref(&t), std::slice::from_ref(&q), &[]),
            vec!["gin(2 gin_trgm_ops) Gin [1]"]
        );
        q.constants = vec!["%ab%".into()];
        assert_eq!(run(&[t], &[q], &[]), Vec::<String>::new());
    }

    #[test]
    fn like_prefix_uses_pattern_ops_unless_c_collation() {
        let mut t = abc_table();
        t.columns[1].type_name = "text".into();
        let q = qual(1, 2, QualClass::LikePrefix);
        assert_eq!(
            run(std::slice::from_ref(&t), std::slice::from_ref(&q), &[]),
            vec!["btree(2 text_pattern_ops) Single [1]"]
        );
        t.columns[1].type_name = "character varying(40)".into();
        assert_eq!(
            run(std::slice::from_ref(&t), std::slice::from_ref(&q), &[]),
            vec!["btree(2 varchar_pattern_ops) Single [1]"]
        );
        t.columns[1].c_collation = true;
        assert_eq!(run(&[t], &[q], &[]), vec!["btree(2) Single [1]"]);
    }

    #[test]
    fn brin_on_large_correlated_table_only() {
        let mut t = abc_table();
        t.pages = 1_310_720.0; // 10 GB
        t.columns[2].correlation = -0.99;
        let q = qual(1, 3, QualClass::Range);
        assert_eq!(
            run(std::slice::from_ref(&t), std::slice::from_ref(&q), &[]),
            vec!["btree(3) Single [1]", "brin(3) Brin [1]"]
        );
        t.columns[2].correlation = 0.3;
        assert_eq!(
            run(std::slice::from_ref(&t), std::slice::from_ref(&q), &[]),
            vec!["btree(3) Single [1]"]
        );
        t.columns[2].correlation = 0.99;
        t.pages = 50_000.0;
        assert_eq!(run(&[t], &[q], &[]), vec!["btree(3) Single [1]"]);
    }

    #[test]
    fn expression_index_and_mutable_expression_rejected() {
        let mut q = qual(1, 0, QualClass::Eq);
        q.column = KeyExpr::Expr("lower(email)".into());
        assert_eq!(
            run(&[abc_table()], std::slice::from_ref(&q), &[]),
            vec!["btree(lower(email)) Expression [1]"]
        );
        q.column = KeyExpr::Expr("(created_at > now())".into());
        assert_eq!(run(&[abc_table()], &[q], &[]), Vec::<String>::new());
    }

    #[test]
    fn small_tables_and_other_quals_give_nothing() {
        let quals = vec![qual(1, 1, QualClass::Eq)];
        let mut few_rows = abc_table();
        few_rows.rows = 999.0;
        assert_eq!(run(&[few_rows], &quals, &[]), Vec::<String>::new());
        let mut few_pages = abc_table();
        few_pages.pages = 7.0;
        assert_eq!(run(&[few_pages], &quals, &[]), Vec::<String>::new());
        assert_eq!(run(&[abc_table()], &[qual(1, 1, QualClass::Other)], &[]), Vec::<String>::new());
        // quals on a table we have no information about
        let mut unknown = qual(1, 1, QualClass::Eq);
        unknown.relid = 999;
        assert_eq!(run(&[abc_table()], &[unknown], &[]), Vec::<String>::new());
    }

    fn existing_btree(oid: Oid, atts: &[i16]) -> IndexDef {
        IndexDef {
            oid,
            relid: T,
            am: "btree".into(),
            method: Some(Method::Btree),
            keys: atts.iter().map(|&a| Key::column(a)).collect(),
            valid: true,
            ..Default::default()
        }
    }

    #[test]
    fn candidates_served_by_existing_index_are_dropped() {
        // a = AND b = AND c > with existing (a, b): (a), (a,b) are served; (a,b,c) stays, unlinked
        let mut t = abc_table();
        t.columns[0].n_distinct = 10_000.0;
        t.columns[1].n_distinct = 100.0;
        t.existing = vec![existing_btree(5, &[1, 2])];
        let quals = vec![
            qual(1, 1, QualClass::Eq),
            qual(1, 2, QualClass::Eq),
            qual(1, 3, QualClass::Range),
        ];
        assert_eq!(
            run(std::slice::from_ref(&t), &quals, &[]),
            vec!["btree(1,2,3) EqRange [1]", "btree(2) Single [1]", "btree(3) Single [1]"]
        );
        // an invalid existing index serves nothing
        t.existing[0].valid = false;
        assert_eq!(run(&[t], &quals, &[]).len(), 5);
    }

    #[test]
    fn quals_already_index_conditions_are_silent() {
        // existing (b, a); a = and b = both ran as index conditions → nothing to propose
        let mut t = abc_table();
        t.existing = vec![existing_btree(5, &[2, 1])];
        let mut a = qual(1, 1, QualClass::Eq);
        a.index_cond = true;
        let mut b = qual(1, 2, QualClass::Eq);
        b.index_cond = true;
        assert_eq!(
            run(std::slice::from_ref(&t), &[a.clone(), b.clone()], &[]),
            Vec::<String>::new()
        );
        // another statement filters on a alone (not an index condition): (a) comes back
        let other = qual(2, 1, QualClass::Eq);
        assert_eq!(run(&[t], &[a, b, other], &[]), vec!["btree(1) Single [1, 2]"]);
    }

    #[test]
    fn duplicates_merge_queryids_and_keep_most_specific_kind() {
        // statement 3 joins on a, statements 1 and 2 filter on it
        let mut j = qual(3, 1, QualClass::Eq);
        j.join = true;
        let quals = vec![qual(2, 1, QualClass::Eq), j, qual(1, 1, QualClass::Eq)];
        assert_eq!(run(&[abc_table()], &quals, &[]), vec!["btree(1) Join [1, 2, 3]"]);
    }

    #[test]
    fn output_independent_of_input_order() {
        let mut quals = vec![
            qual(1, 1, QualClass::Eq),
            qual(1, 3, QualClass::Range),
            qual(2, 2, QualClass::Eq),
            qual(2, 4, QualClass::JsonPath),
            qual(3, 1, QualClass::Eq),
            qual(3, 2, QualClass::Eq),
        ];
        let sorts = vec![sort(2, 1, 5, true), sort(2, 2, 6, false)];
        let before = generate(&[abc_table()], &[], &quals, &sorts, &Settings::default());
        quals.reverse();
        let after = generate(&[abc_table()], &[], &quals, &sorts, &Settings::default());
        assert_eq!(before, after);
        // every extends link points at the same keys minus the last one
        for c in &before {
            if let Some(e) = c.extends {
                let parent = &before[e].def.keys;
                assert_eq!(parent.as_slice(), &c.def.keys[..c.def.keys.len() - 1]);
            }
        }
        assert!(before
            .iter()
            .all(|c| c.def.oid == 0 && c.def.bytes == 0.0 && c.def.name.is_empty()));
    }
}
