//! Unit tests of candidate generation: every rule on small hand-built tables and workloads.

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

#[test]
fn group_prefix_of_one_table_is_every_key() {
    assert_eq!(group_prefix(&[Some((1, 3)), Some((1, 1))]), Some((1, vec![3, 1])));
    // A repeated column counts once.
    assert_eq!(group_prefix(&[Some((1, 3)), Some((1, 3)), Some((1, 2))]), Some((1, vec![3, 2])));
}

#[test]
fn group_prefix_across_tables_stops_at_the_first_other_table() {
    // GROUP BY l_orderkey, o_orderdate, o_shippriority: lineitem's l_orderkey only.
    assert_eq!(group_prefix(&[Some((3, 1)), Some((2, 5)), Some((2, 8))]), Some((3, vec![1])));
    // Back to the first table after another one: still only the prefix.
    assert_eq!(group_prefix(&[Some((1, 1)), Some((1, 2)), Some((2, 1)), Some((1, 4))]), Some((1, vec![1, 2])));
    // An expression ends the prefix too.
    assert_eq!(group_prefix(&[Some((1, 1)), None, Some((1, 2))]), Some((1, vec![1])));
}

#[test]
fn group_prefix_needs_a_leading_column() {
    assert_eq!(group_prefix(&[]), None);
    assert_eq!(group_prefix(&[None, Some((1, 1))]), None);
    assert_eq!(group_prefix(&[Some((1, 0))]), None);
    assert_eq!(group_prefix(&[Some((1, -2)), Some((1, 1))]), None);
}
