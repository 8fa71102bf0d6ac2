//! Size estimates for hypothetical indexes, from table statistics only (pure arithmetic).
//!
//! The planner charges an index scan by its pages (I/O) and, for btree, by its height (descent
//! CPU), so the estimates aim at what a fresh build of the real index would give:
//! - **btree**: leaf tuples of `MAXALIGN(header + key and INCLUDE widths)` plus a line pointer,
//!   leaves filled to the fill factor (90), NULLs shrinking the data; deduplication (PG13+) when the
//!   index is not unique, has no INCLUDE columns and the keys repeat (posting lists of 6-byte TIDs);
//!   internal levels of truncated pivots at 70% fill, climbed until one root page; plus the metapage.
//!   The height is returned too (HypoPG leaves it at -1, which makes hypothetical btrees cheaper
//!   than real ones on every descent).
//! - **hash**: 20-byte items in buckets sized by the fill factor (75), NULLs not indexed, rounded to
//!   the split-point allocation, plus bitmap and metapage.
//! - **BRIN**: one summary tuple per `pages_per_range` heap pages (min and max per column) plus the
//!   range map.
//! - **GIN**: entries per row (array elements from statistics, else a guess from the width: jsonb
//!   ~1 key or value per 8 bytes, trigrams ~1 per character) times ~2 bytes per compressed TID at 75%
//!   fill, plus one entry tuple per distinct key. Rougher than the others, and said so in the view.

pub const BLCKSZ: f64 = 8192.0;
const PAGE_HEADER: f64 = 24.0;
const BTREE_SPECIAL: f64 = 16.0;
const ITEM_ID: f64 = 4.0;
const TID: f64 = 6.0;

#[inline]
fn maxalign(x: f64) -> f64 {
    (x / 8.0).ceil() * 8.0
}

/// One index column as the estimate sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Col {
    /// Average width of a non-null value, bytes.
    pub width: f64,
    pub null_frac: f64,
    /// Distinct non-null values (absolute), 0 when unknown.
    pub n_distinct: f64,
    /// Part of the key (false: an INCLUDE column).
    pub key: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub pages: f64,
    pub tuples: f64,
    /// btree only; -1 for other methods.
    pub tree_height: i32,
}

impl Estimate {
    pub fn bytes(&self) -> f64 {
        self.pages * BLCKSZ
    }
}

/// btree: `rows` indexed (already scaled by a partial predicate), `unique` index, fill factor %,
/// `dedup`: every key's operator class allows deduplication (its `equalimage` support function
/// says so: not numeric, jsonb, floats, bpchar or nondeterministic collations).
pub fn btree(cols: &[Col], rows: f64, unique: bool, fillfactor: f64, dedup: bool) -> Estimate {
    let rows = rows.max(0.0);
    let any_null = cols.iter().any(|c| c.null_frac > 0.0);
    let header = if any_null { 16.0 } else { 8.0 };
    let data: f64 = cols.iter().map(|c| (1.0 - c.null_frac) * c.width).sum();
    let key_data: f64 = cols.iter().filter(|c| c.key).map(|c| (1.0 - c.null_frac) * c.width).sum();
    let tuple = maxalign(header + data);
    let leaf_room = (BLCKSZ - PAGE_HEADER - BTREE_SPECIAL) * fillfactor / 100.0;

    let has_include = cols.iter().any(|c| !c.key);
    let distinct_keys = cols
        .iter()
        .filter(|c| c.key)
        .map(|c| if c.n_distinct > 0.0 { c.n_distinct + if c.null_frac > 0.0 { 1.0 } else { 0.0 } } else { rows })
        .fold(1.0_f64, |a, d| (a * d).min(rows.max(1.0)));
    let per_key = if distinct_keys > 0.0 { rows / distinct_keys } else { 1.0 };
    let leaf_bytes = if dedup && !unique && !has_include && per_key > 1.5 {
        // Posting lists: one tuple (header + key) per group of TIDs, at most ~812 bytes of posting
        // tuple each (maxpostingsize at build time, nbtsort.c).
        let cap = ((812.0 - tuple) / TID).max(1.0);
        let tuples_per_group = (per_key / cap).ceil();
        distinct_keys * tuples_per_group * (tuple + ITEM_ID) + TID * rows
    } else {
        rows * (tuple + ITEM_ID)
    };
    let leaves = (leaf_bytes / leaf_room).ceil().max(1.0);

    // Internal levels: pivots hold the key columns (suffix-truncated) plus a heap TID when not
    // unique, 70% full.
    let pivot = maxalign(8.0 + key_data + if unique { 0.0 } else { TID }) + ITEM_ID;
    let fanout = ((BLCKSZ - PAGE_HEADER - BTREE_SPECIAL) * 0.70 / pivot).floor().max(2.0);
    let mut pages = leaves;
    let mut level = leaves;
    let mut height = 0;
    while level > 1.0 {
        level = (level / fanout).ceil();
        pages += level;
        height += 1;
    }
    Estimate { pages: pages + 1.0, tuples: rows, tree_height: height }
}

/// hash: one 20-byte item (tuple + line pointer) per non-null row; fill factor % (default 75).
pub fn hash(col: &Col, rows: f64, fillfactor: f64) -> Estimate {
    let indexed = (rows * (1.0 - col.null_frac)).max(0.0);
    let item = 20.0;
    let per_bucket = ((BLCKSZ * fillfactor / 100.0) / item).floor().max(10.0);
    let buckets_needed = (indexed / per_bucket).ceil().max(2.0);
    // A fresh build allocates a power of two of buckets (_hash_init).
    let buckets = buckets_needed.log2().ceil().exp2();
    // Every row of one value lands in one bucket: values repeated more than a page holds chain
    // overflow pages.
    let per_page = ((BLCKSZ - PAGE_HEADER - 16.0) / item).floor();
    let overflow = if col.n_distinct > 0.0 {
        let per_value = indexed / col.n_distinct;
        col.n_distinct * ((per_value / per_page).ceil() - 1.0).max(0.0)
    } else {
        0.0
    };
    let bitmaps = (overflow / (BLCKSZ * 8.0)).ceil().max(1.0);
    Estimate { pages: 1.0 + buckets + overflow + bitmaps, tuples: rows, tree_height: -1 }
}

/// BRIN minmax: `heap_pages` of the table, `pages_per_range` (default 128).
pub fn brin(cols: &[Col], heap_pages: f64, pages_per_range: f64, rows: f64) -> Estimate {
    let ranges = (heap_pages.max(1.0) / pages_per_range.max(1.0)).ceil();
    let revmap_items = ((BLCKSZ - PAGE_HEADER - 8.0) / 6.0).floor();
    let revmap = (ranges / revmap_items).ceil().max(1.0);
    let any_null = cols.iter().any(|c| c.null_frac > 0.0);
    let bitmap = if any_null { (2.0 * cols.len() as f64 / 8.0).ceil() } else { 0.0 };
    let tuple = maxalign(8.0 + bitmap + cols.iter().map(|c| 2.0 * c.width).sum::<f64>()) + ITEM_ID;
    let data = (ranges * tuple / (BLCKSZ - PAGE_HEADER - 8.0)).ceil().max(1.0);
    Estimate { pages: 1.0 + revmap + data, tuples: rows, tree_height: -1 }
}

/// GIN: `entries_per_row` keys extracted from each non-null row, `distinct_entries` in the whole
/// index (0 = unknown: a tenth of all postings), `entry_width` bytes per key.
pub fn gin(col: &Col, rows: f64, entries_per_row: f64, distinct_entries: f64, entry_width: f64) -> Estimate {
    let non_null = rows * (1.0 - col.null_frac);
    let postings = non_null * entries_per_row.max(1.0);
    let distinct = if distinct_entries > 0.0 { distinct_entries.min(postings) } else { (postings / 10.0).max(1.0) };
    // Compressed TIDs: ~2 bytes each when a key's rows are dense, up to 4 for rare keys.
    let per_tid = if postings / distinct > 100.0 { 1.5 } else { 2.5 };
    let posting_bytes = postings * per_tid;
    let entry_bytes = distinct * (maxalign(8.0 + entry_width + 8.0) + ITEM_ID);
    let pages = ((posting_bytes + entry_bytes) / ((BLCKSZ - 32.0) * 0.75)).ceil().max(1.0);
    Estimate { pages: pages + 2.0, tuples: rows, tree_height: -1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(nd: f64) -> Col {
        Col { width: 4.0, null_frac: 0.0, n_distinct: nd, key: true }
    }

    #[test]
    fn unique_int_btree_matches_a_real_build() {
        // A real btree on 1e6 distinct int4 (PG15, fillfactor 90): 2745 pages, height 2.
        let e = btree(&[int(1e6)], 1e6, false, 90.0, true);
        let ratio = e.pages / 2745.0;
        assert!((0.9..1.1).contains(&ratio), "pages {}", e.pages);
        assert_eq!(e.tree_height, 2);
    }

    #[test]
    fn deduplication_shrinks_repeated_keys() {
        // 1e6 rows over 100 values: a real build is ~850 pages, a third of the unique case.
        let dup = btree(&[int(100.0)], 1e6, false, 90.0, true);
        let uniq = btree(&[int(1e6)], 1e6, false, 90.0, true);
        assert!(dup.pages < uniq.pages / 2.0, "{} vs {}", dup.pages, uniq.pages);
        // Unique indexes and INCLUDE columns never deduplicate.
        assert_eq!(btree(&[int(100.0)], 1e6, true, 90.0, true).pages, btree(&[int(1e6)], 1e6, true, 90.0, true).pages);
        let incl = [int(100.0), Col { key: false, ..int(0.0) }];
        assert!(btree(&incl, 1e6, false, 90.0, true).pages > 2.0 * dup.pages);
    }

    #[test]
    fn no_deduplication_when_an_operator_class_forbids_it() {
        let with = btree(&[int(100.0)], 1e6, false, 90.0, true);
        let without = btree(&[int(100.0)], 1e6, false, 90.0, false);
        assert_eq!(without.pages, btree(&[int(1e6)], 1e6, false, 90.0, true).pages);
        assert!(with.pages < without.pages / 2.0);
    }

    #[test]
    fn nulls_and_width_move_the_size() {
        let wide = Col { width: 40.0, null_frac: 0.0, n_distinct: 1e6, key: true };
        let nully = Col { null_frac: 0.9, ..wide };
        let w = btree(&[wide], 1e6, false, 90.0, true);
        let n = btree(&[nully], 1e6, false, 90.0, true);
        assert!(w.pages > 2.0 * btree(&[int(1e6)], 1e6, false, 90.0, true).pages);
        assert!(n.pages < w.pages);
        assert!(btree(&[int(1e6)], 1e6, false, 50.0, true).pages > btree(&[int(1e6)], 1e6, false, 90.0, true).pages);
    }

    #[test]
    fn tiny_tables_give_one_leaf_and_height_zero() {
        let e = btree(&[int(10.0)], 10.0, false, 90.0, true);
        assert_eq!(e.pages, 2.0);
        assert_eq!(e.tree_height, 0);
        assert_eq!(btree(&[int(0.0)], 0.0, false, 90.0, true).pages, 2.0);
    }

    #[test]
    fn hash_skips_nulls_and_rounds_buckets() {
        let e = hash(&int(1e6), 1e6, 75.0);
        // A real hash index on 1e6 distinct int4: 4,096 buckets plus a few pages.
        assert!((4096.0..4200.0).contains(&e.pages), "pages {}", e.pages);
        // 2e5 rows over 100 values (measured: 1,174 pages): 1,024 buckets plus overflow chains.
        let skew = hash(&int(100.0), 2e5, 75.0);
        assert!((1100.0..1500.0).contains(&skew.pages), "pages {}", skew.pages);
        let nully = hash(&Col { null_frac: 0.9, ..int(1e6) }, 1e6, 75.0);
        assert!(nully.pages < e.pages / 4.0);
    }

    #[test]
    fn brin_is_tiny_and_scales_with_ranges() {
        let e = brin(&[int(1e6)], 44248.0, 128.0, 1e7);
        assert!(e.pages < 10.0, "pages {}", e.pages);
        assert!(brin(&[int(1e6)], 44248.0, 16.0, 1e7).pages > e.pages);
    }

    #[test]
    fn gin_grows_with_entries_per_row() {
        let c = Col { width: 60.0, null_frac: 0.0, n_distinct: 0.0, key: true };
        let few = gin(&c, 1e5, 2.0, 1000.0, 8.0);
        let many = gin(&c, 1e5, 20.0, 1000.0, 8.0);
        assert!(many.pages > 5.0 * few.pages);
        assert_eq!(few.tree_height, -1);
    }
}
