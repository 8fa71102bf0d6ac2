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

mod drafts;
mod elements;
mod inputs;
mod stats;
mod table;

use drafts::*;
use elements::*;
use inputs::*;
use stats::*;
use table::*;

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
pub(super) const DEFAULT_EQ_SEL: f64 = 0.005;
/// An `IN` list / `= ANY` is assumed to hold this many values.
pub(super) const IN_LIST_VALUES: f64 = 3.0;
/// A partial predicate needs a literal constant in at least this share of executions.
pub(super) const PARTIAL_MIN_CONST_SHARE: f64 = 0.95;
/// `col IS NOT NULL` becomes a partial predicate when at least this share of rows is NULL.
pub(super) const PARTIAL_MIN_NULL_FRAC: f64 = 0.5;
/// A column whose MCVs (plus NULLs) cover this share of rows is low-cardinality.
pub(super) const LOW_CARDINALITY_MCV_SHARE: f64 = 0.95;
/// Trigram patterns need at least this many non-wildcard characters.
pub(super) const TRGM_MIN_CHARS: usize = 3;
/// Function names whose presence makes an expression unusable as an index key (not IMMUTABLE).
/// The catalog layer checks `contain_mutable_functions` for real; this catches the common ones.
pub(super) const NOT_IMMUTABLE: &[&str] = &[
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


#[cfg(test)]
mod tests;

/// One GROUP BY (or DISTINCT) key as the query tree gives it: a plain column of a table of the
/// query level (`(range table index, attnum)`), or anything else (an expression, a column of a
/// sub-select or function, a system column).
pub type GroupKey = Option<(u32, i16)>;

/// The keys an index can present in order for a grouping: the written keys up to the first that
/// is not a plain column of the first key's table. All keys of one table is the whole grouping
/// (the aggregate reads groups as they come); a shorter prefix lets an incremental sort finish the
/// order per group of the prefix instead of sorting or hashing everything (PostgreSQL 13+), when
/// the keys span tables (`GROUP BY l_orderkey, o_orderdate`). Repeated columns count once.
/// `None` when the first key is not a plain column.
pub fn group_prefix(keys: &[GroupKey]) -> Option<(u32, Vec<i16>)> {
    let (rel, _) = (*keys.first()?)?;
    let mut cols: Vec<i16> = Vec::new();
    for k in keys {
        match k {
            Some((r, a)) if *r == rel && *a > 0 => {
                if !cols.contains(a) {
                    cols.push(*a);
                }
            }
            _ => break,
        }
    }
    (!cols.is_empty()).then_some((rel, cols))
}
