// SQL-level tests of predicate capture. Statements run through SPI are nested inside the test
// function, so each test records with track = all; each test uses its own tables, so the rows
// asserted are exactly the ones its statements produced.

fn pred_setup() {
    Spi::run("SET pg_optimizer.track = 'all'").unwrap();
    Spi::run("SET pg_optimizer.predicate_sample_rate = 1").unwrap();
    Spi::run("SET max_parallel_workers_per_gather = 0").unwrap();
}

/// The predicates of one table, one line each, in a stable order.
fn quals_of(table: &str) -> String {
    Spi::get_one_with_args::<String>(
        "SELECT string_agg(format('%s %s %s/%s %s x%s', columns, operator, kind, place, coalesce(compared_to, '-'),
                                  executions) || coalesce(' ' || join_table || join_columns::text, ''),
                           '; ' ORDER BY columns::text COLLATE \"C\", operator COLLATE \"C\", kind, place, executions)
           FROM optimizer.predicates WHERE table_name = $1",
        &[table.into()],
    )
    .unwrap()
    .unwrap_or_default()
}

fn one_f64(sql: &str) -> f64 {
    Spi::get_one::<f64>(sql).unwrap().unwrap()
}

#[pg_test]
fn seq_scan_filter_counts_rows_like_explain_analyze() {
    pred_setup();
    Spi::run("CREATE TABLE p_seq AS SELECT g AS a, g % 10 AS b FROM generate_series(1, 1000) g").unwrap();
    Spi::run("ANALYZE p_seq").unwrap();
    for _ in 0..3 {
        Spi::run("SELECT count(*) FROM p_seq WHERE b = 5").unwrap();
    }
    assert_eq!(quals_of("p_seq"), "{b} = filter/filter value x3");
    // 100 rows returned, 900 removed by the filter, per execution (as EXPLAIN ANALYZE shows)
    assert_eq!(one_f64("SELECT avg_rows FROM optimizer.predicates WHERE table_name = 'p_seq'"), 100.0);
    assert_eq!(one_f64("SELECT avg_rows_filtered FROM optimizer.predicates WHERE table_name = 'p_seq'"), 900.0);
    assert_eq!(one_f64("SELECT selectivity FROM optimizer.predicates WHERE table_name = 'p_seq'"), 0.1);
    let consts = Spi::get_one::<Vec<String>>("SELECT constants FROM optimizer.predicates WHERE table_name = 'p_seq'")
        .unwrap()
        .unwrap();
    assert_eq!(consts, vec!["5".to_string()]);
}

#[pg_test]
fn nothing_is_recorded_at_sample_rate_zero() {
    pred_setup();
    Spi::run("SET pg_optimizer.predicate_sample_rate = 0").unwrap();
    Spi::run("CREATE TABLE p_off(a int)").unwrap();
    Spi::run("SELECT * FROM p_off WHERE a = 1").unwrap();
    assert_eq!(quals_of("p_off"), "");
    Spi::run("SET pg_optimizer.predicate_sample_rate = 1").unwrap();
    Spi::run("SELECT * FROM p_off WHERE a = 1").unwrap();
    assert_eq!(quals_of("p_off"), "{a} = filter/filter value x1");
}

#[pg_test]
fn index_cond_filter_and_index_only_scan() {
    pred_setup();
    Spi::run("CREATE TABLE p_idx AS SELECT g AS a, g % 7 AS b, 'x' || g AS c FROM generate_series(1, 5000) g").unwrap();
    Spi::run("CREATE INDEX p_idx_a ON p_idx (a)").unwrap();
    Spi::run("ANALYZE p_idx").unwrap();
    Spi::run("SET enable_seqscan = off; SET enable_bitmapscan = off").unwrap();
    Spi::run("SELECT c FROM p_idx WHERE a < 100 AND b = 3").unwrap();
    // an index-only scan: the index condition's column comes through the index target list
    Spi::run("SELECT a FROM p_idx WHERE 10 > a").unwrap();
    assert_eq!(quals_of("p_idx"), "{a} < index/index cond value x2; {b} = filter/filter value x1");
    let nodes = Spi::get_one::<String>(
        "SELECT string_agg(DISTINCT node, ',') FROM optimizer.predicate_entries WHERE table_name = 'p_idx' AND kind = 'qual'",
    )
    .unwrap()
    .unwrap();
    assert_eq!(nodes, "Index Only Scan,Index Scan");
    // a filter written with the column on the right is stored commuted and shown column-first
    Spi::run("SELECT count(*) FROM p_idx WHERE 4 < b").unwrap();
    let commuted = Spi::get_one::<String>(
        "SELECT string_agg(operator, ',') FROM optimizer.predicate_entries e
           JOIN optimizer.predicates p ON p.table_name = e.table_name AND p.columns = e.column_names
          WHERE e.table_name = 'p_idx' AND e.commuted AND p.operator <> '='",
    )
    .unwrap();
    assert_eq!(commuted.as_deref(), Some(">"));
    // the index is named on the scan entries
    let idx = Spi::get_one::<String>(
        "SELECT string_agg(DISTINCT indexid::regclass::text, ',') FROM optimizer.predicate_entries WHERE table_name = 'p_idx'",
    )
    .unwrap();
    assert_eq!(idx.as_deref(), Some("p_idx_a"));
}

#[pg_test]
fn bitmap_or_keeps_its_members_together() {
    pred_setup();
    Spi::run("CREATE TABLE p_bor AS SELECT g AS a, g % 100 AS b FROM generate_series(1, 10000) g").unwrap();
    Spi::run("CREATE INDEX ON p_bor (a); CREATE INDEX ON p_bor (b)").unwrap();
    Spi::run("ANALYZE p_bor").unwrap();
    Spi::run("SET enable_seqscan = off; SET enable_indexscan = off").unwrap();
    Spi::run("SELECT count(*) FROM p_bor WHERE a = 5 OR b = 7").unwrap();
    let nodes = Spi::get_one::<String>(
        "SELECT string_agg(DISTINCT node, ',') FROM optimizer.predicate_entries WHERE table_name = 'p_bor' AND kind = 'qual'",
    )
    .unwrap();
    assert_eq!(nodes.as_deref(), Some("Bitmap Index Scan"));
    assert_eq!(quals_of("p_bor"), "{a} = index/index cond value x1; {b} = index/index cond value x1");
    let groups = Spi::get_one::<i64>(
        "SELECT count(DISTINCT or_group) FROM optimizer.predicate_entries WHERE table_name = 'p_bor' AND kind = 'qual'",
    )
    .unwrap();
    assert_eq!(groups, Some(1));
    let in_or = Spi::get_one::<i64>("SELECT count(*) FROM optimizer.predicates WHERE table_name = 'p_bor' AND in_or").unwrap();
    assert_eq!(in_or, Some(2));
}

#[pg_test]
fn and_or_not_in_lists_null_tests_booleans_and_like() {
    pred_setup();
    Spi::run(
        "CREATE TABLE p_ops AS SELECT g AS a, CASE WHEN g % 5 = 0 THEN NULL ELSE 'v' || g END AS s,
                g % 2 = 0 AS flag FROM generate_series(1, 1000) g",
    )
    .unwrap();
    Spi::run("ANALYZE p_ops").unwrap();
    Spi::run("SELECT count(*) FROM p_ops WHERE a IN (1, 2, 3) OR s IS NULL").unwrap();
    Spi::run("SELECT count(*) FROM p_ops WHERE a IN (4, 5, 6, 7, 8)").unwrap();
    Spi::run("SELECT count(*) FROM p_ops WHERE s IS NOT NULL AND flag").unwrap();
    Spi::run("SELECT count(*) FROM p_ops WHERE NOT flag AND NOT (a = 3)").unwrap();
    Spi::run("SELECT count(*) FROM p_ops WHERE s LIKE 'v1%'").unwrap();
    Spi::run("SELECT count(*) FROM p_ops WHERE a <> ALL ('{1,2}')").unwrap();
    assert_eq!(
        quals_of("p_ops"),
        "{a} <> filter/filter value x1; {a} <> ALL filter/filter value x1; {a} = ANY filter/filter value x1; \
         {a} = ANY filter/filter value x1; {flag} = false filter/filter - x1; {flag} = true filter/filter - x1; \
         {s} IS NOT NULL filter/filter - x1; {s} IS NULL filter/filter - x1; {s} ~~ filter/filter value x1"
    );
    // the OR keeps its members together; the AND-ed ones are not in an OR
    let in_or = Spi::get_one::<String>(
        "SELECT string_agg(operator, ',' ORDER BY operator) FROM optimizer.predicates WHERE table_name = 'p_ops' AND in_or",
    )
    .unwrap();
    assert_eq!(in_or.as_deref(), Some("= ANY,IS NULL"));
    // the list lengths are counted, not part of the identity
    let lens = Spi::get_one::<String>(
        "SELECT string_agg(avg_list_length::text, ',' ORDER BY avg_list_length) FROM optimizer.predicates
          WHERE table_name = 'p_ops' AND operator = '= ANY'",
    )
    .unwrap();
    assert_eq!(lens.as_deref(), Some("3,5"));
    // LIKE is served by btree only for left-anchored patterns (through its support function)
    let am = Spi::get_one::<Vec<String>>(
        "SELECT access_methods FROM optimizer.predicates WHERE table_name = 'p_ops' AND operator = '~~'",
    )
    .unwrap()
    .unwrap();
    assert_eq!(am, vec!["btree (left-anchored patterns)".to_string()]);
}

#[pg_test]
fn three_table_join_records_both_sides_for_every_join_method() {
    pred_setup();
    Spi::run("CREATE TABLE p_a AS SELECT g AS id, g % 50 AS b_id, g % 9 AS x FROM generate_series(1, 2000) g").unwrap();
    Spi::run("CREATE TABLE p_b AS SELECT g AS id, g % 5 AS c_id FROM generate_series(1, 50) g").unwrap();
    Spi::run("CREATE TABLE p_c AS SELECT g AS id, 'z' || g AS z FROM generate_series(1, 5) g").unwrap();
    Spi::run("CREATE INDEX ON p_a (b_id)").unwrap();
    Spi::run("ANALYZE p_a; ANALYZE p_b; ANALYZE p_c").unwrap();
    let q = "SELECT count(*) FROM p_a JOIN p_b ON p_b.id = p_a.b_id JOIN p_c ON p_c.id = p_b.c_id
              WHERE p_c.z = 'z3' AND p_a.x < 4";
    // hash joins
    Spi::run("SET enable_mergejoin = off; SET enable_nestloop = off").unwrap();
    Spi::run(q).unwrap();
    // merge joins
    Spi::run("SET enable_mergejoin = on; SET enable_hashjoin = off").unwrap();
    Spi::run(q).unwrap();
    // nested loops: the inner index scan's `b_id = $1` is the join clause p_a.b_id = p_b.id
    Spi::run("SET enable_nestloop = on; SET enable_mergejoin = off; SET enable_seqscan = off").unwrap();
    Spi::run("SET enable_bitmapscan = off").unwrap();
    Spi::run(q).unwrap();
    let joins = Spi::get_one::<String>(
        "SELECT string_agg(format('%s.%s=%s.%s %s', table_name, columns, join_table, join_columns, place), '; '
                           ORDER BY table_name, place)
           FROM optimizer.predicates WHERE kind = 'join' AND table_name IN ('p_a', 'p_b')",
    )
    .unwrap()
    .unwrap();
    for expected in [
        "p_a.{b_id}=p_b.{id} hash cond",
        "p_a.{b_id}=p_b.{id} merge cond",
        "p_a.{b_id}=p_b.{id} nested loop index cond",
        "p_b.{c_id}=p_c.{id} hash cond",
        "p_b.{c_id}=p_c.{id} merge cond",
    ] {
        assert!(joins.contains(expected), "missing {expected} in {joins}");
    }
    // the filters of all three runs, on both filtered tables
    let filters = Spi::get_one::<i64>(
        "SELECT sum(executions)::bigint FROM optimizer.predicates
          WHERE kind IN ('filter', 'index') AND table_name IN ('p_a', 'p_c') AND compared_to = 'value'",
    )
    .unwrap();
    assert_eq!(filters, Some(6));
}

#[pg_test]
fn order_by_limit_records_sort_keys() {
    pred_setup();
    Spi::run("CREATE TABLE p_sort AS SELECT g AS a, g % 13 AS b, now() - g * interval '1 min' AS t FROM generate_series(1, 1000) g").unwrap();
    Spi::run("ANALYZE p_sort").unwrap();
    Spi::run("SELECT * FROM p_sort WHERE b = 2 ORDER BY t DESC NULLS LAST, a LIMIT 7").unwrap();
    Spi::run("SELECT * FROM p_sort ORDER BY b NULLS FIRST").unwrap();
    let keys = Spi::get_one::<String>(
        "SELECT string_agg(format('%s %s %s %s limit=%s under=%s', position, sort_key, direction, nulls, avg_limit,
                                  under_limit), '; ' ORDER BY under_limit DESC, position)
           FROM optimizer.sort_keys WHERE table_name = 'p_sort'",
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        keys,
        "1 t DESC NULLS LAST limit=7 under=t; 2 a ASC NULLS LAST limit=7 under=t; \
         1 b ASC NULLS FIRST limit= under=f"
    );
}

#[pg_test]
fn partitions_are_recorded_under_their_root_with_root_columns() {
    pred_setup();
    Spi::run("CREATE TABLE p_part (k int, d date, v int) PARTITION BY RANGE (d)").unwrap();
    Spi::run("CREATE TABLE p_part_1 PARTITION OF p_part FOR VALUES FROM ('2026-01-01') TO ('2026-07-01')").unwrap();
    // a partition with another column order
    Spi::run("CREATE TABLE p_part_2 (v int, d date, k int)").unwrap();
    Spi::run("ALTER TABLE p_part ATTACH PARTITION p_part_2 FOR VALUES FROM ('2026-07-01') TO ('2027-01-01')").unwrap();
    Spi::run("INSERT INTO p_part SELECT g, date '2026-01-01' + g % 360, g FROM generate_series(1, 1000) g").unwrap();
    Spi::run("ANALYZE p_part").unwrap();
    Spi::run("SELECT count(*) FROM p_part WHERE v = 5 AND d >= '2026-03-01'").unwrap();
    assert_eq!(quals_of("p_part"), "{d} >= filter/filter value x2; {v} = filter/filter value x2");
    let parts = Spi::get_one::<String>(
        "SELECT string_agg(DISTINCT partition_name, ',') FROM optimizer.predicate_entries WHERE table_name = 'p_part'",
    )
    .unwrap();
    assert_eq!(parts.as_deref(), Some("p_part_1,p_part_2"));
}

#[pg_test]
fn prepared_statement_custom_and_generic_plans_share_one_predicate() {
    pred_setup();
    Spi::run("CREATE TABLE p_prep AS SELECT g AS a FROM generate_series(1, 100) g").unwrap();
    Spi::run("PREPARE p_prep_q(int) AS SELECT * FROM p_prep WHERE a = $1").unwrap();
    Spi::run("SET plan_cache_mode = force_custom_plan").unwrap();
    Spi::run("EXECUTE p_prep_q(1)").unwrap();
    Spi::run("EXECUTE p_prep_q(2)").unwrap();
    Spi::run("SET plan_cache_mode = force_generic_plan").unwrap();
    Spi::run("EXECUTE p_prep_q(3)").unwrap();
    Spi::run("DEALLOCATE p_prep_q").unwrap();
    assert_eq!(quals_of("p_prep"), "{a} = filter/filter value x3");
    let (c, p) = Spi::get_two::<i64, i64>(
        "SELECT constant_executions, parameter_executions FROM optimizer.predicates WHERE table_name = 'p_prep'",
    )
    .unwrap();
    assert_eq!((c, p), (Some(2), Some(1)));
}

#[pg_test]
fn misestimates_name_the_columns() {
    pred_setup();
    Spi::run("CREATE TABLE p_mis AS SELECT g AS a, g AS b FROM generate_series(1, 5000) g").unwrap();
    Spi::run("ANALYZE p_mis").unwrap();
    // the statistics still say a is unique
    Spi::run("UPDATE p_mis SET a = 1").unwrap();
    Spi::run("SELECT count(*) FROM p_mis WHERE a = 1").unwrap();
    let (cols, mis) = Spi::get_two::<Vec<String>, i64>(
        "SELECT columns, misestimated FROM optimizer.misestimates WHERE table_name = 'p_mis' AND node = 'Seq Scan'",
    )
    .unwrap();
    assert_eq!(cols, Some(vec!["a".to_string()]));
    assert_eq!(mis, Some(1));
    let actual = one_f64("SELECT actual_rows FROM optimizer.misestimates WHERE table_name = 'p_mis' AND node = 'Seq Scan'");
    assert_eq!(actual, 5000.0);
}

#[pg_test]
fn expressions_keep_their_text() {
    pred_setup();
    Spi::run("CREATE TABLE p_expr AS SELECT 'V' || g AS s FROM generate_series(1, 100) g").unwrap();
    Spi::run("SELECT count(*) FROM p_expr WHERE lower(s) = 'v5'").unwrap();
    let (expr, cols) = Spi::get_two::<String, Vec<String>>(
        "SELECT expression, columns FROM optimizer.predicates WHERE table_name = 'p_expr'",
    )
    .unwrap();
    assert_eq!(expr.as_deref(), Some("lower(s)"));
    assert_eq!(cols, Some(vec!["s".to_string()]));
}

#[pg_test]
fn reset_predicates_and_info() {
    pred_setup();
    Spi::run("CREATE TABLE p_reset(a int)").unwrap();
    Spi::run("SELECT * FROM p_reset WHERE a = 1").unwrap();
    assert_ne!(quals_of("p_reset"), "");
    let cap = Spi::get_one::<i64>("SELECT capacity FROM optimizer.predicates_info").unwrap();
    assert_eq!(cap, Some(20000));
    // Only this statement's entries: a full reset would race with the tests running beside this
    // one (the golden file 03 covers the full reset, alone on its server).
    let qid = Spi::get_one::<i64>("SELECT DISTINCT queryid FROM optimizer.predicate_entries WHERE table_name = 'p_reset'")
        .unwrap()
        .unwrap();
    let removed = Spi::get_one_with_args::<i64>("SELECT optimizer.reset_predicates(queryid => $1)", &[qid.into()])
        .unwrap()
        .unwrap();
    // The scan and its qual.
    assert_eq!(removed, 2);
    assert_eq!(quals_of("p_reset"), "");
}

#[pg_test]
fn walk_visits_custom_scan_children_and_tolerates_unknown_nodes() {
    // A synthetic executed tree (no custom-scan provider ships with PostgreSQL): a CustomScanState
    // whose custom_ps holds a SeqScanState and a node of a tag the walk does not know.
    let tags = unsafe { crate::capture::walk_tags_of_synthetic_custom_tree() };
    assert_eq!(tags, vec!["CustomScan", "SeqScan", "unknown"]);
}
