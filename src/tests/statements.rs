// SQL-level tests of the statement store, run inside a preloaded test server. Statements run
// through SPI are nested inside the test function, so each test records with track = all.

use pgrx::prelude::*;

fn track_all() {
    Spi::run("SET pg_optimizer.track = 'all'").unwrap();
}

fn calls_like(pattern: &str) -> i64 {
    Spi::get_one_with_args::<i64>(
        "SELECT coalesce(sum(calls), 0)::bigint FROM optimizer.statements WHERE query LIKE $1",
        &[pattern.into()],
    )
    .unwrap()
    .unwrap()
}

#[pg_test]
fn store_is_sized_by_the_guc() {
    let cap = Spi::get_one::<i64>("SELECT capacity FROM optimizer.statements_info").unwrap();
    assert_eq!(cap, Some(1000));
}

#[pg_test]
fn constants_are_normalised_and_counted() {
    track_all();
    Spi::run("CREATE TABLE t_norm(a int, b text)").unwrap();
    for i in 0..5 {
        Spi::run(&format!("SELECT * FROM t_norm WHERE a = {i} AND b = 'x{i}'")).unwrap();
    }
    assert_eq!(calls_like("SELECT * FROM t_norm WHERE a = $1 AND b = $2"), 5);
    // the example is a real execution, with constants
    let ex = Spi::get_one::<String>(
        "SELECT example FROM optimizer.statements WHERE query = 'SELECT * FROM t_norm WHERE a = $1 AND b = $2'",
    )
    .unwrap()
    .unwrap();
    assert!(ex.starts_with("SELECT * FROM t_norm WHERE a = "), "{ex}");
    assert!(!ex.contains('$'), "{ex}");
}

#[pg_test]
fn histogram_sums_to_calls() {
    track_all();
    for _ in 0..7 {
        Spi::run("SELECT pg_catalog.now() /* hist */").unwrap();
    }
    let (qid, calls) = Spi::get_two::<i64, i64>(
        "SELECT queryid, calls FROM optimizer.statements WHERE query LIKE '%/* hist */%'",
    )
    .unwrap();
    let total = Spi::get_one_with_args::<i64>(
        "SELECT sum(calls)::bigint FROM optimizer.latency_histogram($1)",
        &[qid.unwrap().into()],
    )
    .unwrap();
    assert_eq!(total, calls);
    assert_eq!(calls, Some(7));
    let buckets = Spi::get_one_with_args::<i64>(
        "SELECT count(*) FROM optimizer.latency_histogram($1)",
        &[qid.unwrap().into()],
    )
    .unwrap();
    // Every bucket is listed, used or not: 17 of them (< 0.1 ms ... >= 10 s).
    assert_eq!(buckets, Some(17));
}

#[pg_test(error = "no recorded statement has queryid 42")]
fn unknown_queryid_is_a_clear_error() {
    Spi::run("SELECT * FROM optimizer.latency_histogram(42)").unwrap();
}

#[pg_test]
fn prepared_statement_example_has_parameters() {
    track_all();
    Spi::run("CREATE TABLE t_prep(a int)").unwrap();
    Spi::run("PREPARE p_ex(int) AS SELECT count(*) FROM t_prep WHERE a > $1").unwrap();
    Spi::run("EXECUTE p_ex(41)").unwrap();
    let (q, params) = Spi::get_two::<String, String>(
        "SELECT query, example_params FROM optimizer.statements WHERE query LIKE '%FROM t_prep WHERE a > $1%' AND calls > 0",
    )
    .unwrap();
    assert!(q.unwrap().contains("a > $1"));
    assert_eq!(params.as_deref(), Some("$1 = '41'"));
}

#[pg_test]
fn other_users_texts_are_hidden() {
    track_all();
    // Column aliases are not part of the query id: give the marker its own table.
    Spi::run("CREATE TABLE secret_marker(v int); INSERT INTO secret_marker VALUES (12345)").unwrap();
    Spi::run("SELECT v FROM secret_marker WHERE v = 12345").unwrap();
    Spi::run("CREATE ROLE po_reader").unwrap();
    Spi::run("SET ROLE po_reader").unwrap();
    let hidden = Spi::get_one::<i64>(
        "SELECT count(*) FROM optimizer.statements WHERE query = '<insufficient privilege>' AND queryid IS NULL",
    )
    .unwrap()
    .unwrap();
    let leaked = Spi::get_one::<i64>(
        "SELECT count(*) FROM optimizer.statements WHERE query LIKE '%secret_marker%' OR example LIKE '%12345%'",
    )
    .unwrap()
    .unwrap();
    Spi::run("RESET ROLE").unwrap();
    assert!(hidden > 0);
    assert_eq!(leaked, 0);
    // a member of pg_read_all_stats sees them
    Spi::run("GRANT pg_read_all_stats TO po_reader").unwrap();
    Spi::run("SET ROLE po_reader").unwrap();
    let seen = Spi::get_one::<i64>("SELECT count(*) FROM optimizer.statements WHERE query LIKE '%secret_marker%'")
        .unwrap()
        .unwrap();
    Spi::run("RESET ROLE").unwrap();
    assert!(seen > 0);
}

#[pg_test(error = "permission denied for function reset")]
fn reset_is_revoked_from_public() {
    Spi::run("CREATE ROLE po_nobody").unwrap();
    Spi::run("SET ROLE po_nobody").unwrap();
    Spi::run("SELECT optimizer.reset()").unwrap();
}

#[pg_test]
fn reset_by_queryid_removes_only_that_statement() {
    track_all();
    Spi::run("CREATE TABLE keep_me(a int); CREATE TABLE drop_me(a int)").unwrap();
    Spi::run("SELECT a FROM keep_me").unwrap();
    Spi::run("SELECT a FROM drop_me").unwrap();
    let qid = Spi::get_one::<i64>("SELECT queryid FROM optimizer.statements WHERE query = 'SELECT a FROM drop_me'")
        .unwrap()
        .unwrap();
    let removed = Spi::get_one_with_args::<i64>("SELECT optimizer.reset(queryid => $1)", &[qid.into()]).unwrap();
    assert_eq!(removed, Some(1));
    assert_eq!(calls_like("SELECT a FROM drop_me"), 0);
    assert!(calls_like("SELECT a FROM keep_me") >= 1);
}
