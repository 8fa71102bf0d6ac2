//! Write cost of an index, in planner cost units per second (docs/research/advisor-selection.md §4).
//!
//! Core PostgreSQL never costs index maintenance (ModifyTable costs what its subpath costs), so
//! this is our model, in the planner's units so that it can be set against what-if benefits:
//!
//! ```text
//! c_row(I)   = cpu_index_tuple_cost + ceil(log2(max(N,2)))·cpu_operator_cost + random_page_cost·miss(I)
//!              (× keys per row for GIN; 0 for BRIN, which summarises at VACUUM)
//! miss(I)    = (1 − |corr(lead column)|) · (1 − cache_frac)
//! cache_frac = min(1, shared_buffers_pages / (table pages + Σ index pages))
//! Pen(I)     = factor · ( sel_pred·(ins + upd − hot)·c_row(I)
//!                       + hot·p_block(I)·(Σ_{J existing} c_row(J) + sel_pred·c_row(I) + c_heap)
//!                       + vac·pages(I)·seq_page_cost )
//! c_heap     = random_page_cost · (1 − cache_frac)
//! ```
//! Rates (`ins`, `upd`, `hot`, `vac`) are per second, from [`WriteRates`]. Deletes cost nothing
//! at delete time; VACUUM pays for them (the last term).
//!
//! `p_block(I)`, the share of updated rows whose UPDATE changes a column of `I` not already in
//! another index, comes from [`TableInfo::updated_columns`] (rows per column):
//! `min(1, Σ_{c ∈ cols(I) − indexed} rows_c / max_c rows_c)`. The denominator is the busiest
//! column's row count, a lower bound of all updated rows, so the share errs high (on the safe
//! side); it is exact when one column (say `updated_at`) changes in every UPDATE. An index with
//! an expression key or a predicate counts as blocking (`p_block = 1`): we do not parse the
//! expression's columns. When `updated_columns` is empty (not recorded yet) `p_block = 0`: the
//! HOT term is then missing and the penalty is a lower bound.

use super::model::*;

/// PostgreSQL's block size.
pub const PAGE_BYTES: f64 = 8192.0;

/// Keys per row assumed for a GIN index when the caller has no estimate (jsonb documents of
/// about ten keys; trigram indexes have about the string's length).
pub const DEFAULT_GIN_KEYS_PER_ROW: f64 = 10.0;

/// Planner cost settings and the penalty scale.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CostParams {
    /// `cpu_index_tuple_cost` (0.005).
    pub cpu_index_tuple_cost: f64,
    /// `cpu_operator_cost` (0.0025).
    pub cpu_operator_cost: f64,
    /// `random_page_cost` (4).
    pub random_page_cost: f64,
    /// `seq_page_cost` (1).
    pub seq_page_cost: f64,
    /// `shared_buffers` in pages (default 16384 = 128 MB).
    pub shared_buffers_pages: f64,
    /// `pg_optimizer.advisor_write_cost_factor` (1): scales every penalty.
    pub factor: f64,
}

impl Default for CostParams {
    fn default() -> Self {
        CostParams {
            cpu_index_tuple_cost: 0.005,
            cpu_operator_cost: 0.0025,
            random_page_cost: 4.0,
            seq_page_cost: 1.0,
            shared_buffers_pages: 16384.0,
            factor: 1.0,
        }
    }
}

/// Share of the table and its indexes that fits in shared buffers:
/// `min(1, shared_buffers_pages / (table_pages + index_pages_total))`, 1 for an empty relation.
pub fn cache_frac(table_pages: f64, index_pages_total: f64, p: &CostParams) -> f64 {
    let total = table_pages.max(0.0) + index_pages_total.max(0.0);
    if total <= 0.0 {
        return 1.0;
    }
    (p.shared_buffers_pages.max(0.0) / total).min(1.0)
}

/// `c_row`: cost of inserting one entry into an index on a table of `rows_in_table` rows whose
/// leading key has physical correlation `lead_correlation`. GIN inserts `gin_keys_per_row`
/// entries per row; BRIN costs nothing per row. Not scaled by `factor` (see [`penalty`]).
pub fn row_cost(
    rows_in_table: f64,
    lead_correlation: f64,
    cache_frac: f64,
    gin_keys_per_row: Option<f64>,
    brin: bool,
    p: &CostParams,
) -> f64 {
    if brin {
        return 0.0;
    }
    let descent = rows_in_table.max(2.0).log2().ceil() * p.cpu_operator_cost;
    let miss = (1.0 - lead_correlation.abs().min(1.0)) * (1.0 - cache_frac.clamp(0.0, 1.0));
    let one = p.cpu_index_tuple_cost + descent + p.random_page_cost * miss;
    match gin_keys_per_row {
        Some(k) => one * k.max(0.0),
        None => one,
    }
}

fn is_method(def: &IndexDef, m: Method) -> bool {
    def.method == Some(m) || Method::from_name(&def.am) == Some(m)
}

fn same_index(a: &IndexDef, b: &IndexDef) -> bool {
    a.oid != 0 && a.oid == b.oid
}

/// The table's existing indexes other than `def` itself.
fn others<'t>(def: &'t IndexDef, table: &'t TableInfo) -> impl Iterator<Item = &'t IndexDef> + 't {
    table.existing.iter().filter(move |e| !same_index(def, e))
}

/// Columns of an index (keys and INCLUDE), or `None` when it has an expression key or a
/// predicate (columns unknown without parsing).
fn columns(def: &IndexDef) -> Option<Vec<i16>> {
    if def.predicate.is_some() {
        return None;
    }
    let mut cols = Vec::new();
    for k in &def.keys {
        match k.expr {
            KeyExpr::Column(a) => cols.push(a),
            KeyExpr::Expr(_) => return None,
        }
    }
    cols.extend(&def.include);
    cols.sort_unstable();
    cols.dedup();
    Some(cols)
}

fn lead_correlation(def: &IndexDef, table: &TableInfo) -> f64 {
    match def.keys.first().map(|k| &k.expr) {
        Some(KeyExpr::Column(a)) => table.column(*a).map_or(0.0, |c| c.correlation),
        _ => 0.0,
    }
}

/// `c_row` of an index of `table` (method, lead correlation from the catalog data).
fn index_row_cost(def: &IndexDef, table: &TableInfo, cf: f64, gin_keys: Option<f64>, p: &CostParams) -> f64 {
    let gin = is_method(def, Method::Gin).then(|| gin_keys.unwrap_or(DEFAULT_GIN_KEYS_PER_ROW));
    row_cost(table.rows, lead_correlation(def, table), cf, gin, is_method(def, Method::Brin), p)
}

/// Share of updated rows that change a column of `def` no other index of the table has (see the
/// module documentation): `0` when no per-column update data is recorded, `1` for expression or
/// partial indexes, else `min(1, Σ rows_c / max rows_c)`.
pub fn p_block(def: &IndexDef, table: &TableInfo) -> f64 {
    let busiest = table.updated_columns.values().copied().fold(0.0, f64::max);
    if busiest <= 0.0 {
        return 0.0;
    }
    let Some(cols) = columns(def) else { return 1.0 };
    let indexed: Vec<i16> = others(def, table).filter_map(columns).flatten().collect();
    let rows: f64 =
        cols.iter().filter(|c| !indexed.contains(c)).filter_map(|c| table.updated_columns.get(c)).sum();
    (rows / busiest).min(1.0)
}

/// Page count of an index from its size in bytes.
pub fn pages(bytes: f64) -> f64 {
    (bytes / PAGE_BYTES).ceil().max(0.0)
}

fn sel_pred(def: &IndexDef, pred_selectivity: f64) -> f64 {
    if def.predicate.is_some() {
        pred_selectivity.clamp(0.0, 1.0)
    } else {
        1.0
    }
}

/// The terms [`penalty`] and [`drop_saving`] both start from, for index `def` of `index_pages`
/// pages beside the table's other indexes.
struct Shared {
    /// Share of rows the index holds (partial indexes).
    sel: f64,
    /// Cost of one entry in `def`.
    c: f64,
    /// Non-HOT updates per second.
    non_hot: f64,
    /// Cost of one entry in each of the other indexes, summed.
    c_others: f64,
    /// Cost of the heap page a non-HOT update writes.
    c_heap: f64,
}

fn shared(def: &IndexDef, table: &TableInfo, index_pages: f64, pred_selectivity: f64, gin_keys_per_row: Option<f64>, p: &CostParams) -> Shared {
    let other_pages: f64 = others(def, table).map(|e| pages(e.bytes)).sum();
    let cf = cache_frac(table.pages, other_pages + index_pages, p);
    let r = &table.writes;
    Shared {
        sel: sel_pred(def, pred_selectivity),
        c: index_row_cost(def, table, cf, gin_keys_per_row, p),
        non_hot: (r.updates - r.hot_updates).max(0.0),
        c_others: others(def, table).map(|e| index_row_cost(e, table, cf, None, p)).sum(),
        c_heap: p.random_page_cost * (1.0 - cf),
    }
}

/// `Pen(I)`: write cost per second of adding candidate `def` (`index_pages` pages) to `table`.
/// `pred_selectivity` is the share of rows a partial index holds (ignored unless
/// `def.predicate` is set); `gin_keys_per_row` the entries per row of a GIN index
/// ([`DEFAULT_GIN_KEYS_PER_ROW`] when `None`; ignored for other methods).
pub fn penalty(
    def: &IndexDef,
    table: &TableInfo,
    index_pages: f64,
    pred_selectivity: f64,
    gin_keys_per_row: Option<f64>,
    p: &CostParams,
) -> f64 {
    let Shared { sel, c, non_hot, c_others, c_heap } = shared(def, table, index_pages, pred_selectivity, gin_keys_per_row, p);
    let r = &table.writes;
    let entries = sel * (r.inserts.max(0.0) + non_hot) * c;
    let hot_loss = r.hot_updates.max(0.0) * p_block(def, table) * (c_others + sel * c + c_heap);
    let vacuum = r.vacuums.max(0.0) * index_pages.max(0.0) * p.seq_page_cost;
    p.factor * (entries + hot_loss + vacuum)
}

/// Write cost per second saved by dropping existing index `def` of `table` (size from
/// `def.bytes`): its own entries and VACUUM scans, plus the non-HOT updates that become HOT,
/// `min(upd − hot, upd·p_block(def))`, which stop paying the other indexes' entries and the heap
/// page. Arguments as in [`penalty`].
pub fn drop_saving(
    def: &IndexDef,
    table: &TableInfo,
    pred_selectivity: f64,
    gin_keys_per_row: Option<f64>,
    p: &CostParams,
) -> f64 {
    let idx_pages = pages(def.bytes);
    let Shared { sel, c, non_hot, c_others, c_heap } = shared(def, table, idx_pages, pred_selectivity, gin_keys_per_row, p);
    let r = &table.writes;
    // An expression or partial index's columns are unknown: claim no HOT gain (a lower bound).
    let restore = if columns(def).is_some() { p_block(def, table) } else { 0.0 };
    let restored = non_hot.min(r.updates.max(0.0) * restore);
    let entries = sel * (r.inserts.max(0.0) + non_hot) * c;
    let hot_gain = restored * (c_others + c_heap);
    let vacuum = r.vacuums.max(0.0) * idx_pages * p.seq_page_cost;
    p.factor * (entries + hot_gain + vacuum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    fn btree(cols: &[i16]) -> IndexDef {
        IndexDef {
            am: "btree".into(),
            method: Some(Method::Btree),
            keys: cols.iter().map(|&c| Key::column(c)).collect(),
            ..IndexDef::default()
        }
    }

    fn existing(oid: Oid, cols: &[i16], pages: f64) -> IndexDef {
        IndexDef { oid, bytes: pages * PAGE_BYTES, valid: true, ..btree(cols) }
    }

    /// 1e6 rows, columns 1..=5 with correlation 0 except column 1 (1.0).
    fn table(pages: f64, writes: WriteRates) -> TableInfo {
        TableInfo {
            relid: 1,
            rows: 1e6,
            pages,
            columns: (1..=5)
                .map(|a| ColumnStats {
                    attnum: a,
                    correlation: if a == 1 { 1.0 } else { 0.0 },
                    ..ColumnStats::default()
                })
                .collect(),
            writes,
            ..TableInfo::default()
        }
    }

    #[test]
    fn row_cost_for_a_million_rows() {
        let p = CostParams::default();
        // 0.005 + ceil(log2 1e6) = 20 comparisons × 0.0025 + 4 × (1 − 0) × (1 − 0.5)
        assert!(close(row_cost(1e6, 0.0, 0.5, None, false, &p), 2.055));
        assert!(close(row_cost(1e6, 0.5, 0.5, None, false, &p), 1.055));
        assert!(close(row_cost(1e6, 0.0, 1.0, None, false, &p), 0.055));
        // Tiny tables descend at least one level.
        assert!(close(row_cost(0.0, 1.0, 1.0, None, false, &p), 0.0075));
    }

    #[test]
    fn correlated_lead_column_has_no_miss_term() {
        let p = CostParams::default();
        assert!(close(row_cost(1e6, 1.0, 0.0, None, false, &p), 0.055));
        assert!(close(row_cost(1e6, -1.0, 0.0, None, false, &p), 0.055));
    }

    #[test]
    fn gin_multiplies_by_keys_and_brin_is_free() {
        let p = CostParams::default();
        assert!(close(row_cost(1e6, 0.0, 0.5, Some(10.0), false, &p), 20.55));
        assert_eq!(row_cost(1e6, 0.0, 0.5, None, true, &p), 0.0);
        // A GIN candidate without an estimate uses the default keys per row.
        let t = table(10_000.0, WriteRates { inserts: 1.0, ..WriteRates::default() });
        let gin = IndexDef {
            am: "gin".into(),
            method: Some(Method::Gin),
            keys: vec![Key::column(2)],
            ..IndexDef::default()
        };
        assert!(close(penalty(&gin, &t, 0.0, 1.0, None, &p), 0.055 * DEFAULT_GIN_KEYS_PER_ROW));
        assert!(close(penalty(&gin, &t, 0.0, 1.0, Some(3.0), &p), 0.165));
    }

    #[test]
    fn cache_fraction() {
        let p = CostParams::default();
        assert_eq!(cache_frac(10_000.0, 6_384.0, &p), 1.0);
        assert_eq!(cache_frac(30_000.0, 2_768.0, &p), 0.5);
        assert_eq!(cache_frac(0.0, 0.0, &p), 1.0);
        let none = CostParams { shared_buffers_pages: 0.0, ..p };
        assert_eq!(cache_frac(100.0, 0.0, &none), 0.0);
    }

    #[test]
    fn penalty_inserts_non_hot_updates_and_vacuum() {
        let w =
            WriteRates { inserts: 100.0, updates: 50.0, hot_updates: 30.0, deletes: 1000.0, vacuums: 0.01 };
        let t = table(24_576.0, w);
        let p = CostParams::default();
        // cache_frac = 16384 / (24576 + 8192) = 0.5, c_row = 2.055; (100 + 20)·2.055 + 0.01·8192.
        let pen = penalty(&btree(&[2]), &t, 8192.0, 1.0, None, &p);
        assert!(close(pen, 246.6 + 81.92), "{pen}");
        // Correlated lead column: c_row = 0.055.
        assert!(close(penalty(&btree(&[1, 2]), &t, 8192.0, 1.0, None, &p), 120.0 * 0.055 + 81.92));
        // The factor scales everything.
        let p2 = CostParams { factor: 2.0, ..p };
        assert!(close(penalty(&btree(&[2]), &t, 8192.0, 1.0, None, &p2), 2.0 * (246.6 + 81.92)));
    }

    #[test]
    fn partial_index_scales_by_selectivity() {
        let w = WriteRates { inserts: 100.0, updates: 50.0, hot_updates: 30.0, deletes: 0.0, vacuums: 0.01 };
        let t = table(24_576.0, w);
        let p = CostParams::default();
        let partial = IndexDef { predicate: Some("status = 'p'".into()), ..btree(&[2]) };
        // Entries × 0.1; the caller's page count (already small) for VACUUM.
        assert!(close(penalty(&partial, &t, 8192.0, 0.1, None, &p), 24.66 + 81.92));
        // The selectivity is ignored for a full index.
        assert!(close(penalty(&btree(&[2]), &t, 8192.0, 0.1, None, &p), 246.6 + 81.92));
    }

    #[test]
    fn p_block_from_updated_columns() {
        let mut t = table(1000.0, WriteRates::default());
        assert_eq!(p_block(&btree(&[3]), &t), 0.0, "nothing recorded: 0");
        t.updated_columns = BTreeMap::from([(2, 1000.0), (3, 100.0), (4, 500.0)]);
        assert_eq!(p_block(&btree(&[3]), &t), 0.1);
        assert_eq!(p_block(&btree(&[3, 4]), &t), 0.6);
        assert_eq!(p_block(&btree(&[5]), &t), 0.0);
        assert_eq!(p_block(&IndexDef { include: vec![2], ..btree(&[5]) }, &t), 1.0);
        assert_eq!(p_block(&btree(&[2, 4]), &t), 1.0, "capped at 1");
        let expr = IndexDef {
            keys: vec![Key { expr: KeyExpr::Expr("lower(x)".into()), ..Key::column(1) }],
            ..btree(&[])
        };
        assert_eq!(p_block(&expr, &t), 1.0);
        let partial = IndexDef { predicate: Some("x IS NOT NULL".into()), ..btree(&[5]) };
        assert_eq!(p_block(&partial, &t), 1.0);
        // Column 3 already indexed: its updates are not HOT today, nothing more is lost.
        t.existing = vec![existing(10, &[3], 10.0)];
        assert_eq!(p_block(&btree(&[3, 4]), &t), 0.5);
        // The existing index itself: its other indexes do not cover column 3.
        assert_eq!(p_block(&t.existing[0].clone(), &t), 0.1);
    }

    #[test]
    fn hot_loss_in_penalty() {
        let w = WriteRates { inserts: 100.0, updates: 50.0, hot_updates: 30.0, deletes: 0.0, vacuums: 0.01 };
        let mut t = table(24_576.0, w);
        t.updated_columns = BTreeMap::from([(2, 1000.0), (3, 100.0)]);
        // Existing index of 0 pages on the correlated column 1: c_row 0.055, cache unchanged.
        t.existing = vec![existing(10, &[1], 0.0)];
        let p = CostParams::default();
        // p_block 0.1: 30·0.1·(0.055 + 2.055 + 4·0.5)
        let pen = penalty(&btree(&[3]), &t, 8192.0, 1.0, None, &p);
        assert!(close(pen, 246.6 + 3.0 * 4.11 + 81.92), "{pen}");
        // An index on a column no UPDATE changes keeps HOT.
        assert!(close(penalty(&btree(&[4]), &t, 8192.0, 1.0, None, &p), 246.6 + 81.92));
        // Updated columns unknown: no HOT term (documented lower bound).
        t.updated_columns.clear();
        assert!(close(penalty(&btree(&[3]), &t, 8192.0, 1.0, None, &p), 246.6 + 81.92));
    }

    #[test]
    fn dropping_an_index_restores_hot_in_the_saving() {
        // Every UPDATE changes column 3; index A on it makes them all non-HOT.
        let w = WriteRates { inserts: 0.0, updates: 100.0, hot_updates: 0.0, deletes: 0.0, vacuums: 0.0 };
        let mut t = table(32_568.0, w);
        t.updated_columns = BTreeMap::from([(3, 400.0)]);
        t.existing = vec![existing(10, &[3], 100.0), existing(11, &[5], 100.0)];
        let p = CostParams::default();
        // cache_frac = 16384 / (32568 + 200) = 0.5; c_row = 2.055 for both.
        let a = t.existing[0].clone();
        let b = t.existing[1].clone();
        // A: its entries 100·2.055, plus 100 updates become HOT: 100·(2.055 + 4·0.5).
        assert!(close(drop_saving(&a, &t, 1.0, None, &p), 205.5 + 405.5));
        // B: column 5 is never updated, nothing becomes HOT.
        assert!(close(drop_saving(&b, &t, 1.0, None, &p), 205.5));
        // With a second index on column 3, dropping A restores no HOT update.
        t.existing.push(existing(12, &[3, 4], 0.0));
        let with_c = drop_saving(&a, &t, 1.0, None, &p);
        assert!(close(with_c, 205.5), "{with_c}");
        // VACUUM term: pages of the index × rate.
        t.writes.vacuums = 0.5;
        t.existing.pop();
        assert!(close(drop_saving(&b, &t, 1.0, None, &p), 205.5 + 50.0));
    }

    #[test]
    fn pages_round_up() {
        assert_eq!(pages(0.0), 0.0);
        assert_eq!(pages(1.0), 1.0);
        assert_eq!(pages(8192.0 * 3.0), 3.0);
    }
}
