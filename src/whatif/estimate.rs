//! Sizes of hypothetical indexes from the table's statistics (the arithmetic is the core's
//! `size`): per column width, null fraction and distinct values, GIN entries, btree deduplication,
//! a partial index's share of the rows, summed over a partitioned table's leaves.

use super::define::{Am, Spec};
use super::registry::{leaf_spec, Hypo};
use super::{plan, size};
use pgrx::pg_sys;

/// Per-column statistics for size estimates: (width, null fraction, distinct values).
unsafe fn column_stats(relid: pg_sys::Oid, attnum: i16, typ: pg_sys::Oid, typmod: i32, rows: f64) -> size::Col {
    unsafe {
        let fallback = pg_sys::get_typavgwidth(typ, typmod) as f64;
        let mut col = size::Col { width: fallback, null_frac: 0.0, n_distinct: 0.0, key: true };
        if attnum <= 0 {
            return col;
        }
        for inh in [false, true] {
            let tup = pg_sys::SearchSysCache3(
                pg_sys::SysCacheIdentifier::STATRELATTINH as i32,
                pg_sys::Datum::from(relid),
                pg_sys::Datum::from(attnum),
                pg_sys::Datum::from(inh),
            );
            if tup.is_null() {
                continue;
            }
            let data = (*tup).t_data;
            let st = (data as *mut u8).add((*data).t_hoff as usize) as *const pg_sys::FormData_pg_statistic;
            col.null_frac = (*st).stanullfrac as f64;
            if (*st).stawidth > 0 {
                col.width = (*st).stawidth as f64;
            }
            let d = (*st).stadistinct as f64;
            col.n_distinct = if d < 0.0 { -d * rows * (1.0 - col.null_frac) } else { d };
            pg_sys::ReleaseSysCache(tup);
            break;
        }
        col
    }
}

/// Elements per row and distinct elements (0 = unknown) for a GIN column: from array element
/// statistics when there are some, else a guess from the average width (jsonb: one key or value
/// per 8 bytes; text: one trigram per byte).
unsafe fn gin_entries(relid: pg_sys::Oid, attnum: i16, typ: pg_sys::Oid, width: f64) -> (f64, f64) {
    unsafe {
        if attnum > 0 && pg_sys::get_element_type(typ) != pg_sys::InvalidOid {
            let tup = pg_sys::SearchSysCache3(
                pg_sys::SysCacheIdentifier::STATRELATTINH as i32,
                pg_sys::Datum::from(relid),
                pg_sys::Datum::from(attnum),
                pg_sys::Datum::from(false),
            );
            if !tup.is_null() {
                let mut slot: pg_sys::AttStatsSlot = std::mem::zeroed();
                let (mut avg, mut distinct) = (None, 0.0);
                if pg_sys::get_attstatsslot(&mut slot, tup, pg_sys::STATISTIC_KIND_DECHIST as i32, pg_sys::InvalidOid, pg_sys::ATTSTATSSLOT_NUMBERS as i32) {
                    if slot.nnumbers > 0 {
                        avg = Some(*slot.numbers.add(slot.nnumbers as usize - 1) as f64);
                    }
                    pg_sys::free_attstatsslot(&mut slot);
                }
                let mut slot: pg_sys::AttStatsSlot = std::mem::zeroed();
                if pg_sys::get_attstatsslot(&mut slot, tup, pg_sys::STATISTIC_KIND_MCELEM as i32, pg_sys::InvalidOid, pg_sys::ATTSTATSSLOT_VALUES as i32) {
                    // Fewer common elements than the statistics target kept: they are all of them.
                    distinct = slot.nvalues as f64;
                    pg_sys::free_attstatsslot(&mut slot);
                }
                pg_sys::ReleaseSysCache(tup);
                if let Some(a) = avg {
                    return (a.max(1.0), distinct);
                }
            }
            return ((width / 8.0).max(1.0), 0.0);
        }
        if typ == pg_sys::JSONBOID {
            ((width / 8.0).max(1.0), 0.0)
        } else {
            ((width + 2.0).max(1.0), 0.0)
        }
    }
}

/// Whether a btree on `spec` deduplicates: every key's operator class has an `equalimage`
/// support function (proc 4) that returns true for its type and collation, as `_bt_allequalimage`
/// decides at build time.
unsafe fn dedup_allowed(spec: &Spec) -> bool {
    unsafe {
        (0..spec.nkey).all(|i| {
            let proc = pg_sys::get_opfamily_proc(spec.opfamily[i], spec.opcintype[i], spec.opcintype[i], 4);
            proc != pg_sys::InvalidOid
                && pg_sys::OidFunctionCall1Coll(proc, spec.collation[i], pg_sys::Datum::from(spec.opcintype[i])).value() != 0
        })
    }
}

/// Size of `spec` on a relation of `rows` tuples and `heap_pages` pages.
pub unsafe fn estimate(spec: &Spec, rows: f64, heap_pages: f64) -> size::Estimate {
    unsafe {
        let mut cols: Vec<size::Col> = spec
            .keys
            .iter()
            .zip(spec.types.iter())
            .enumerate()
            .map(|(i, (&k, &(t, tm, _)))| size::Col { key: i < spec.nkey, ..column_stats(spec.relid, k, t, tm, rows) })
            .collect();
        let rows_indexed = rows * if spec.pred.is_some() { partial_fraction(spec) } else { 1.0 };
        match spec.am {
            Am::Btree => size::btree(&cols, rows_indexed, spec.unique, spec.fillfactor.unwrap_or(90.0), dedup_allowed(spec)),
            Am::Hash => size::hash(&cols[0], rows_indexed, spec.fillfactor.unwrap_or(75.0)),
            Am::Brin => size::brin(&cols, heap_pages, spec.pages_per_range.unwrap_or(128.0), rows),
            Am::Gin => {
                let c = cols.remove(0);
                let (e, distinct) = gin_entries(spec.relid, spec.keys[0], spec.types[0].0, c.width);
                let entry_width = if spec.types[0].0 == pg_sys::TEXTOID { 4.0 } else { 8.0 };
                size::gin(&c, rows_indexed, e, distinct, entry_width)
            }
        }
    }
}

unsafe extern "C-unwind" {
    fn find_all_inheritors(parent: pg_sys::Oid, lockmode: pg_sys::LOCKMODE, numparents: *mut *mut pg_sys::List) -> *mut pg_sys::List;
}

/// Size estimate of one hypothetical index on table `relid` (summed over the leaves of a
/// partitioned table): (bytes, tuples, tree height, leaves).
pub fn estimate_on(h: &Hypo) -> (i64, f64, i32, i32) {
    unsafe {
        let leaves: Vec<pg_sys::Oid> = if pg_sys::get_rel_relkind(h.relid) as u8 == b'p' {
            crate::pg::list::oids(find_all_inheritors(h.relid, pg_sys::AccessShareLock as _, std::ptr::null_mut()))
                .into_iter()
                .filter(|&o| pg_sys::get_rel_relkind(o) as u8 == b'r')
                .collect()
        } else {
            vec![h.relid]
        };
        let (mut bytes, mut tuples, mut height) = (0.0, 0.0, -1);
        for &leaf in &leaves {
            let spec = if leaf == h.relid { h.spec.clone() } else { leaf_spec(&h.ddl, leaf) };
            let rel = pg_sys::table_open(leaf, pg_sys::AccessShareLock as _);
            let (mut pages, mut reltuples, mut allvis) = (0u32, 0.0f64, 0.0f64);
            pg_sys::estimate_rel_size(rel, std::ptr::null_mut(), &mut pages, &mut reltuples, &mut allvis);
            pg_sys::table_close(rel, pg_sys::AccessShareLock as _);
            let e = estimate(&spec, reltuples, pages as f64);
            bytes += e.bytes();
            tuples += e.tuples;
            height = height.max(e.tree_height);
        }
        (bytes as i64, tuples, height, if pg_sys::get_rel_relkind(h.relid) as u8 == b'p' { leaves.len() as i32 } else { 0 })
    }
}

/// Fraction of rows a partial index keeps: the clauses' selectivity from the column
/// statistics, through a minimal planner set up for this one table.
unsafe fn partial_fraction(spec: &Spec) -> f64 {
    unsafe {
        let Some(pred) = &spec.pred else { return 1.0 };
        plan::selectivity(spec.relid, pred).clamp(0.0, 1.0)
    }
}

