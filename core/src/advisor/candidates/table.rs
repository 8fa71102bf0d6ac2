//! Per-table generation: every rule applied to the scans of one table.

use super::*;

// ---------------------------------------------------------------------------------------------
// Per-table generation

pub(super) struct TableCtx<'a> {
    pub(super) table: &'a TableInfo,
    pub(super) statements: &'a [Statement],
    pub(super) uses: &'a BTreeMap<(Oid, KeyExpr), usize>,
    pub(super) s: &'a Settings,
}

impl TableCtx<'_> {
    pub(super) fn column_of(&self, expr: &KeyExpr) -> Option<&ColumnStats> {
        match expr {
            KeyExpr::Column(attnum) => self.table.column(*attnum),
            KeyExpr::Expr(_) => None,
        }
    }

    pub(super) fn uses_of(&self, expr: &KeyExpr) -> usize {
        self.uses.get(&(self.table.relid, expr.clone())).copied().unwrap_or(0)
    }

    pub(super) fn def_key(
        &self,
        method: Method,
        keys: Vec<Key>,
        include: Vec<i16>,
        predicate: Option<String>,
    ) -> DefKey {
        DefKey::new(self.table.relid, method, keys, include, predicate)
    }

    /// Estimated share of rows an equality qual keeps (pg_stats, as PgHero's `row_estimates`).
    pub(super) fn eq_selectivity(&self, q: &Qual) -> f64 {
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
    pub(super) fn btree_key(&self, q: &Qual) -> Key {
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
    pub(super) fn eq_elements(&self, quals: &[&Qual], skip: Option<&KeyExpr>) -> Vec<EqElem> {
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
    pub(super) fn range_element(
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
    pub(super) fn scan_candidates(&self, scan: &Scan, d: &mut Drafts) {
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
    pub(super) fn include_columns(&self, queryid: u64, keys: &[Key]) -> Option<Vec<i16>> {
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
    pub(super) fn partial_predicate(&self, q: &Qual) -> Option<String> {
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
    pub(super) fn primary_key(&self) -> Option<Vec<Key>> {
        self.table
            .existing
            .iter()
            .find(|e| e.primary && e.valid && !e.keys.is_empty())
            .map(|e| e.keys.clone())
    }

    /// The scan's key lists without the predicate's column, under `WHERE predicate`; the primary
    /// key when nothing else is left.
    pub(super) fn partial_candidates(
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
    pub(super) fn single_candidates(&self, quals: &[&Qual], d: &mut Drafts) {
        for q in quals.iter().filter(|q| is_eq_class(q.class) || is_range_class(q.class)) {
            let key = self.def_key(Method::Btree, vec![self.btree_key(q)], Vec::new(), None);
            d.add(key, single_kind(&q.column, q.join), [q.queryid], q.index_cond);
        }
    }

    /// GROUP BY / DISTINCT keys of one table, in the written order: an aggregate can read the
    /// groups in index order (GroupAggregate, no hash table that spills, no sort). Only worth it as
    /// an index-only scan, so with the statement's other columns as INCLUDE, or not at all.
    pub(super) fn group_candidates(&self, d: &mut Drafts) {
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
    pub(super) fn gin_candidates(&self, quals: &[&Qual], d: &mut Drafts) {
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
    pub(super) fn brin_candidates(&self, quals: &[&Qual], d: &mut Drafts) {
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
