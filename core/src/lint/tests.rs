//! Tests of the linter: every rule positive and negative, positions, parsing failures,
//! robustness and the workload (N+1) rule.

use std::collections::HashMap;

use sqlparser::tokenizer::Location;

use super::parse::Source;
use super::*;

/// A catalog from a map: tables by every name they may be written as, advised indexes by
/// (qualified table, expression).
#[derive(Default)]
struct FakeCatalog {
    tables: HashMap<String, TableFacts>,
    advised: HashMap<(String, String), String>,
}

impl Catalog for FakeCatalog {
    fn table(&self, name: &str) -> Option<TableFacts> {
        self.tables.get(name).cloned()
    }
    fn advised_index(&self, table: &str, expression: &str) -> Option<String> {
        self.advised
            .get(&(table.to_string(), expression.to_string()))
            .cloned()
    }
}

fn col(name: &str, type_name: &str, not_null: bool) -> ColumnFacts {
    ColumnFacts {
        name: name.to_string(),
        type_name: type_name.to_string(),
        not_null,
        avg_width: 8.0,
    }
}

fn table(name: &str, rows: f64, bytes: f64, columns: Vec<ColumnFacts>) -> TableFacts {
    TableFacts {
        name: format!("public.{name}"),
        columns,
        rows,
        avg_row_bytes: bytes,
        expression_indexes: Vec::new(),
    }
}

fn catalog() -> FakeCatalog {
    let mut orders = table(
        "orders",
        1_000_000.0,
        320.0,
        [
            ("id", "bigint", true),
            ("customer_id", "bigint", true),
            ("placed_at", "timestamp without time zone", true),
            ("status", "text", true),
            ("total", "numeric", true),
            ("currency", "text", true),
            ("shipping_address", "text", false),
            ("billing_address", "text", false),
            ("notes", "text", false),
            ("email", "character varying(200)", false),
            ("created_at", "timestamp with time zone", true),
            ("updated_at", "timestamp with time zone", true),
            ("discount", "numeric", false),
            ("tax", "numeric", false),
        ]
        .iter()
        .map(|(n, t, nn)| col(n, t, *nn))
        .collect(),
    );
    orders.expression_indexes = vec![(
        "orders_lower_email_idx".to_string(),
        "lower((email)::text)".to_string(),
    )];
    let customers = table(
        "customers",
        10_000.0,
        80.0,
        vec![
            col("id", "bigint", true),
            col("name", "text", true),
            col("email", "text", false),
            col("country", "text", false),
            col("created_at", "timestamp without time zone", true),
        ],
    );
    let users = table(
        "users",
        50_000.0,
        60.0,
        vec![
            col("id", "bigint", true),
            col("email", "text", true),
            col("name", "text", false),
            col("created_at", "timestamp without time zone", true),
        ],
    );
    let blocked = table(
        "blocked",
        100.0,
        8.0,
        vec![col("customer_id", "bigint", false)],
    );
    let vip = table("vip", 100.0, 8.0, vec![col("customer_id", "bigint", true)]);
    let mut c = FakeCatalog::default();
    for t in [orders, customers, users, blocked, vip] {
        let short = t.name.trim_start_matches("public.").to_string();
        c.tables.insert(t.name.clone(), t.clone());
        c.tables.insert(short, t);
    }
    c.advised.insert(
        (
            "public.users".to_string(),
            "date_trunc('week', created_at)".to_string(),
        ),
        "CREATE INDEX ON public.users (date_trunc('week', created_at))".to_string(),
    );
    c
}

fn facts(calls: f64, rows: f64, mean_ms: f64) -> StatementFacts {
    StatementFacts {
        queryid: 42,
        query: String::new(),
        example: None,
        calls,
        rows,
        total_ms: calls * mean_ms,
        mean_ms,
        calls_per_s: 1.0,
    }
}

/// Every finding names a documented rule.
fn check(findings: &[Finding]) {
    for f in findings {
        assert!(
            RULES.iter().any(|(id, _, _)| *id == f.rule),
            "undocumented rule {}",
            f.rule
        );
        assert!(f.fragment.chars().count() <= 200);
    }
}

fn lint_f(sql: &str, f: Option<&StatementFacts>) -> Vec<Finding> {
    let out = lint_sql(sql, f, &catalog()).unwrap_or_else(|u| panic!("{sql}: {}", u.message));
    check(&out);
    out
}

fn lint(sql: &str) -> Vec<Finding> {
    lint_f(sql, None)
}

fn only<'a>(findings: &'a [Finding], rule: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.rule == rule).collect()
}

fn one<'a>(findings: &'a [Finding], rule: &str) -> &'a Finding {
    let found = only(findings, rule);
    assert_eq!(found.len(), 1, "expected one {rule}: {findings:#?}");
    found[0]
}

fn none(findings: &[Finding], rule: &str) {
    assert!(
        only(findings, rule).is_empty(),
        "unexpected {rule}: {findings:#?}"
    );
}

// ---------------------------------------------------------------- types, positions, parsing

#[test]
fn severity_names_and_json() {
    assert_eq!(Severity::Info.as_str(), "info");
    assert_eq!(Severity::Warning.as_str(), "warning");
    assert_eq!(Severity::Critical.as_str(), "critical");
    assert_eq!(
        serde_json::to_string(&Severity::Critical).unwrap(),
        "\"critical\""
    );
    let f = Finding {
        queryid: Some(7),
        rule: "select_star",
        severity: Severity::Warning,
        fragment: "*".into(),
        position: 8,
        evidence: String::new(),
        rewrite: String::new(),
    };
    let json = serde_json::to_value(&f).unwrap();
    assert_eq!(json["severity"], "warning");
    assert_eq!(json["rule"], "select_star");
    assert_eq!(json["position"], 8);
}

#[test]
fn rules_are_documented_once_each() {
    assert_eq!(RULES.len(), 12);
    for (i, (id, _, desc)) in RULES.iter().enumerate() {
        assert!(!desc.is_empty());
        assert!(
            RULES[i + 1..].iter().all(|(other, _, _)| other != id),
            "{id} twice"
        );
    }
}

#[test]
fn line_column_to_character_offset() {
    let src = Source::new("é\nab\n\nxÿz");
    let at = |line, column| src.offset(Location { line, column });
    assert_eq!(at(1, 1), Some(0));
    assert_eq!(at(1, 2), Some(1)); // the newline after é (one character, two bytes)
    assert_eq!(at(2, 1), Some(2));
    assert_eq!(at(2, 2), Some(3));
    assert_eq!(at(3, 1), Some(5)); // the empty line
    assert_eq!(at(4, 2), Some(7)); // ÿ
    assert_eq!(at(4, 4), Some(9)); // just past the end
    assert_eq!(at(4, 5), None);
    assert_eq!(at(9, 1), None);
    assert_eq!(at(0, 0), None);
    assert_eq!(src.slice(6, 9), "xÿz");
}

#[test]
fn position_counts_characters_not_bytes() {
    let out = lint("SELECT 'héé' AS x, id FROM users WHERE name LIKE '%son'");
    let f = one(&out, "leading_wildcard_like");
    assert_eq!(f.fragment, "name LIKE '%son'");
    assert_eq!(f.position, 40);
}

#[test]
fn position_on_a_later_line() {
    let out = lint("SELECT id\nFROM users\nWHERE name LIKE '%x'");
    let f = one(&out, "leading_wildcard_like");
    assert_eq!(f.position, 28);
    assert_eq!(f.fragment, "name LIKE '%x'");
}

#[test]
fn positions_are_in_the_whole_text_of_several_statements() {
    let out = lint("SELECT 1; SELECT * FROM orders;");
    let f = one(&out, "select_star");
    assert_eq!(f.position, 18);
    assert_eq!(f.fragment, "*");
}

#[test]
fn unparsed_text_returns_the_parsers_message() {
    let err = lint_sql("SELEC id FROM t", None, &catalog()).unwrap_err();
    assert_eq!(err.queryid, None);
    assert!(!err.message.is_empty());
    let f = facts(1.0, 1.0, 1.0);
    let err = lint_sql("SELECT FROM WHERE (", Some(&f), &catalog()).unwrap_err();
    assert_eq!(err.queryid, Some(42));
    assert!(
        err.message.contains("Expected") || err.message.contains("xpected"),
        "{}",
        err.message
    );
}

#[test]
fn empty_text_and_trailing_semicolons() {
    assert!(lint("").is_empty());
    assert!(lint("  ;  ").is_empty());
    assert!(lint("SELECT id FROM users WHERE id = $1;").is_empty());
}

/// Run a test body on a thread with a large stack (64 MB): the inputs at the nesting limits
/// need under 2 MB in the release build a backend runs (8 MB of stack), but debug builds,
/// which tests use, need several times more than the test harness's 2 MB threads.
fn with_backend_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn deep_nesting_is_refused_before_parsing() {
    with_backend_stack(|| {
        let parens = format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000));
        let err = lint_sql(&parens, None, &catalog()).unwrap_err();
        assert!(err.message.contains("nested too deeply"), "{}", err.message);
        let subqueries = format!(
            "SELECT * FROM orders WHERE id IN {}",
            "(SELECT id FROM orders WHERE id IN ".repeat(200)
        );
        assert!(lint_sql(&subqueries, None, &catalog()).is_err());
        let chain = format!(
            "SELECT id FROM users WHERE {}",
            (0..3000)
                .map(|i| format!("name = ${i}"))
                .collect::<Vec<_>>()
                .join(" OR ")
        );
        let err = lint_sql(&chain, None, &catalog()).unwrap_err();
        assert!(err.message.contains("nested too deeply"), "{}", err.message);
        let huge = format!("SELECT {}", vec!["1"; 30_000].join(" + "));
        assert!(lint_sql(&huge, None, &catalog())
            .unwrap_err()
            .message
            .contains("too long"));
    });
}

#[test]
fn nesting_estimate() {
    let tokens = |sql: &str| {
        sqlparser::tokenizer::Tokenizer::new(&sqlparser::dialect::PostgreSqlDialect {}, sql)
            .tokenize()
            .unwrap()
    };
    assert_eq!(super::parse::nesting(&tokens("SELECT a, b FROM t")), 0);
    assert_eq!(super::parse::nesting(&tokens("SELECT a + b + c")), 2);
    assert_eq!(super::parse::nesting(&tokens("SELECT a + b, c + d")), 1);
    assert_eq!(super::parse::nesting(&tokens("SELECT f(g(x))")), 50);
    assert_eq!(
        super::parse::nesting(&tokens("SELECT 1 WHERE x IN (SELECT y)")),
        50
    );
    assert_eq!(
        super::parse::nesting(&tokens("SELECT 1 WHERE x = (SELECT y) AND z")),
        51
    );
    assert_eq!(
        super::parse::nesting(&tokens("SELECT CASE WHEN a = 1 THEN 2 END")),
        26
    );
}

#[test]
fn just_under_the_limits_is_linted() {
    with_backend_stack(|| {
        // A 450-term OR chain (899 operators), a 950-deep + chain, 15 nested subqueries (the
        // parser's own limit), 30 nested calls.
        let long_or = format!(
            "SELECT id FROM users WHERE {}",
            (0..450)
                .map(|i| format!("name = ${i}"))
                .collect::<Vec<_>>()
                .join(" OR ")
        );
        assert!(lint_sql(&long_or, None, &catalog()).is_ok());
        let long_sum = format!(
            "SELECT id FROM users WHERE id + {} = $1",
            vec!["1"; 950].join(" + ")
        );
        one(
            &lint_sql(&long_sum, None, &catalog()).unwrap(),
            "function_on_filtered_column",
        );
        let nested = format!(
            "SELECT id FROM orders WHERE id IN {}($1){}",
            "(SELECT id FROM orders WHERE id IN ".repeat(15),
            ")".repeat(15)
        );
        if let Err(e) = lint_sql(&nested, None, &catalog()) {
            panic!("{}", e.message);
        }
        let calls = format!(
            "SELECT id FROM users WHERE {}email{} = $1",
            "lower(".repeat(30),
            ")".repeat(30)
        );
        one(
            &lint_sql(&calls, None, &catalog()).unwrap(),
            "function_on_filtered_column",
        );
    });
}

#[test]
fn garbage_never_panics() {
    let pieces = [
        "SELECT", "(", ")", "'", "\"", "$1", "*", ",", "FROM", "orders", "WHERE", "NOT", "IN",
        "LIKE", "'%x'", "::", "date", ";", "OFFSET", "JOIN", "ON", "=", "OR", "é", "\u{0}", "--",
        "/*", "$$", "count(", "DISTINCT", "CROSS", "LIMIT", "9e999", "\n", "CASE", "END", "WITH",
        "x AS (",
    ];
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut parsed = 0;
    for _ in 0..3000 {
        let mut text = String::new();
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let n = (seed >> 59) as usize + 1;
        for _ in 0..n {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            text.push_str(pieces[(seed >> 33) as usize % pieces.len()]);
            text.push(' ');
        }
        if lint_sql(&text, None, &catalog()).is_ok() {
            parsed += 1;
        }
    }
    // Most random texts do not parse; some do (and are linted).
    assert!(parsed > 0 && parsed < 3000, "{parsed}");
}

#[test]
fn findings_are_ordered_by_severity_then_position() {
    let list = (1..=1200)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("SELECT * FROM orders WHERE id IN ({list}) AND notes LIKE '%x'");
    let out = lint(&sql);
    assert_eq!(out[0].rule, "large_in_list");
    assert_eq!(out[0].severity, Severity::Critical);
    let ranks: Vec<u8> = out.iter().map(|f| f.severity.rank()).collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{out:#?}");
    let warnings: Vec<usize> = out
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .map(|f| f.position)
        .collect();
    assert!(warnings.windows(2).all(|w| w[0] <= w[1]));
    assert!(out.iter().all(|f| f.queryid.is_none()));
}

// ---------------------------------------------------------------- select_star

#[test]
fn select_star_on_a_wide_table() {
    let out = lint("SELECT * FROM orders WHERE id = $1");
    let f = one(&out, "select_star");
    assert_eq!(f.severity, Severity::Info);
    assert_eq!((f.position, f.fragment.as_str()), (8, "*"));
    assert!(
        f.evidence.contains("public.orders has 14 columns"),
        "{}",
        f.evidence
    );
    assert!(
        f.rewrite.contains("SELECT id, customer_id, placed_at"),
        "{}",
        f.rewrite
    );

    let many = facts(10.0, 5000.0, 3.0);
    let out = lint_f(
        "SELECT * FROM orders WHERE status = $1 LIMIT 1000",
        Some(&many),
    );
    let f = one(&out, "select_star");
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.queryid, Some(42));
    assert!(f.evidence.contains("500 rows per call"), "{}", f.evidence);
}

#[test]
fn select_star_qualified() {
    let out = lint("SELECT o.*, c.name FROM orders o JOIN customers c ON c.id = o.customer_id");
    let f = one(&out, "select_star");
    assert_eq!(f.fragment, "o.*");
    assert_eq!(f.position, 8);
    assert!(f.rewrite.contains("o.customer_id"), "{}", f.rewrite);
}

#[test]
fn select_star_negative() {
    none(
        &lint("SELECT * FROM customers WHERE id = $1"),
        "select_star",
    ); // narrow
    none(&lint("SELECT * FROM nowhere WHERE id = $1"), "select_star"); // unknown table
    none(&lint("SELECT id, status FROM orders"), "select_star");
    none(
        &lint("SELECT id FROM customers c WHERE EXISTS (SELECT * FROM orders o WHERE o.customer_id = c.id)"),
        "select_star",
    );
    none(&lint("SELECT count(*) FROM orders"), "select_star");
}

// ---------------------------------------------------------------- unbounded_result

#[test]
fn unbounded_result_by_rows_per_call() {
    let sql = "SELECT id, status FROM orders WHERE placed_at > $1";
    let f5k = facts(10.0, 50_000.0, 40.0);
    let out = lint_f(sql, Some(&f5k));
    let f = one(&out, "unbounded_result");
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.position, 1);
    assert_eq!(f.fragment, sql);
    assert!(f.evidence.contains("5000 rows per call"), "{}", f.evidence);
    assert!(f.rewrite.contains("LIMIT"));

    let f200k = facts(10.0, 2_000_000.0, 900.0);
    assert_eq!(
        one(&lint_f(sql, Some(&f200k)), "unbounded_result").severity,
        Severity::Critical
    );
}

#[test]
fn unbounded_result_negative() {
    let f5k = facts(10.0, 50_000.0, 40.0);
    none(
        &lint_f(
            "SELECT id FROM orders WHERE placed_at > $1 LIMIT $2",
            Some(&f5k),
        ),
        "unbounded_result",
    );
    none(
        &lint_f("SELECT id FROM orders FETCH FIRST 10 ROWS ONLY", Some(&f5k)),
        "unbounded_result",
    );
    none(
        &lint_f("SELECT count(*) FROM orders", Some(&f5k)),
        "unbounded_result",
    );
    none(&lint("SELECT id FROM orders"), "unbounded_result"); // no numbers
    let small = facts(10.0, 500.0, 1.0);
    none(
        &lint_f("SELECT id FROM orders WHERE placed_at > $1", Some(&small)),
        "unbounded_result",
    );
    none(
        &lint_f(
            "UPDATE orders SET status = $1 WHERE placed_at < $2",
            Some(&f5k),
        ),
        "unbounded_result",
    );
}

// ---------------------------------------------------------------- leading_wildcard_like

#[test]
fn leading_wildcard_like_positive() {
    let out = lint("SELECT id FROM customers WHERE name LIKE '%son'");
    let f = one(&out, "leading_wildcard_like");
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!((f.position, f.fragment.as_str()), (32, "name LIKE '%son'"));
    assert!(
        f.rewrite
            .contains("CREATE INDEX ON public.customers USING gin (name gin_trgm_ops)"),
        "{}",
        f.rewrite
    );
    assert!(f.evidence.contains("~10000 rows"), "{}", f.evidence);

    let out = lint("SELECT id FROM customers WHERE email ILIKE '_a%' AND country = $1");
    one(&out, "leading_wildcard_like");
    let out = lint("SELECT id FROM customers WHERE lower(name) LIKE '%' || $1 || '%'");
    let f = one(&out, "leading_wildcard_like");
    assert!(
        f.rewrite.contains("((lower(name)) gin_trgm_ops)"),
        "{}",
        f.rewrite
    );
    one(
        &lint("DELETE FROM customers WHERE name LIKE '%test%'"),
        "leading_wildcard_like",
    );
}

#[test]
fn leading_wildcard_like_negative() {
    none(
        &lint("SELECT id FROM customers WHERE name LIKE 'son%'"),
        "leading_wildcard_like",
    );
    none(
        &lint("SELECT id FROM customers WHERE name LIKE $1"),
        "leading_wildcard_like",
    );
    none(
        &lint("SELECT id FROM customers WHERE name NOT LIKE '%x'"),
        "leading_wildcard_like",
    );
    none(
        &lint("SELECT id FROM customers WHERE name = '%x'"),
        "leading_wildcard_like",
    );
}

// ---------------------------------------------------------------- function_on_filtered_column

#[test]
fn function_on_column_expression_index_rewrite() {
    let out = lint("SELECT id FROM users WHERE lower(email) = $1");
    let f = one(&out, "function_on_filtered_column");
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!((f.position, f.fragment.as_str()), (28, "lower(email) = $1"));
    assert_eq!(
        f.rewrite,
        "CREATE INDEX ON public.users ((lower(email))) lets the planner use an index for this predicate (the expression must be IMMUTABLE)"
    );
    assert!(f.evidence.contains("lower()"), "{}", f.evidence);
}

#[test]
fn function_on_column_served_by_an_expression_index() {
    let out = lint("SELECT o.id FROM orders o WHERE LOWER( o.email ) = $1");
    let f = one(&out, "function_on_filtered_column");
    assert_eq!(f.severity, Severity::Info);
    assert!(
        f.evidence
            .contains("served by index orders_lower_email_idx"),
        "{}",
        f.evidence
    );
}

#[test]
fn function_on_column_cast_to_date_gets_a_range() {
    let out = lint("SELECT id FROM users WHERE created_at::date = $1");
    let f = one(&out, "function_on_filtered_column");
    assert_eq!(f.fragment, "created_at::date = $1");
    assert!(
        f.rewrite
            .contains("created_at >= $1 AND created_at < $1 + interval '1 day'"),
        "{}",
        f.rewrite
    );
    let out = lint("SELECT id FROM users WHERE $1 < date(created_at)");
    let f = one(&out, "function_on_filtered_column");
    assert!(
        f.rewrite.contains("created_at >= $1 + interval '1 day'"),
        "{}",
        f.rewrite
    );
}

#[test]
fn function_on_column_advised_index_and_arithmetic() {
    let out = lint("SELECT id FROM users WHERE date_trunc('week', created_at) = $1");
    let f = one(&out, "function_on_filtered_column");
    assert!(
        f.rewrite
            .starts_with("the index advisor proposes: CREATE INDEX"),
        "{}",
        f.rewrite
    );

    let out = lint("SELECT id FROM users WHERE id + 1 = $2");
    let f = one(&out, "function_on_filtered_column");
    assert!(f.rewrite.ends_with("id = $2 - 1"), "{}", f.rewrite);

    let out = lint("SELECT id FROM users WHERE now() - created_at > interval '1 day'");
    let f = one(&out, "function_on_filtered_column");
    assert!(
        f.rewrite.contains("created_at < now() - INTERVAL '1 day'"),
        "{}",
        f.rewrite
    );

    let out = lint("SELECT c.id FROM customers c JOIN orders o ON o.customer_id = c.id AND o.placed_at::date = $1");
    one(&out, "function_on_filtered_column");

    let out = lint("UPDATE users SET name = $1 WHERE lower(email) = $2");
    let f = one(&out, "function_on_filtered_column");
    assert_eq!((f.position, f.fragment.as_str()), (34, "lower(email) = $2"));
}

#[test]
fn function_on_column_negative() {
    none(
        &lint("SELECT id FROM users WHERE email = lower($1)"),
        "function_on_filtered_column",
    );
    none(
        &lint("SELECT id FROM users WHERE id = $1::bigint"),
        "function_on_filtered_column",
    );
    none(
        &lint("SELECT lower(email) FROM users WHERE id = $1"),
        "function_on_filtered_column",
    );
    none(
        &lint("SELECT status FROM orders GROUP BY status HAVING count(*) > $1"),
        "function_on_filtered_column",
    );
    none(
        &lint("SELECT o.id FROM orders o JOIN customers c ON lower(o.email) = lower(c.email)"),
        "function_on_filtered_column",
    );
}

// ---------------------------------------------------------------- or_across_columns

#[test]
fn or_across_columns_positive() {
    let sql = "SELECT id FROM users WHERE email = $1 OR name = $2";
    let f = one(&lint(sql), "or_across_columns").clone();
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(
        (f.position, f.fragment.as_str()),
        (28, "email = $1 OR name = $2")
    );
    assert!(f.rewrite.contains("UNION"), "{}", f.rewrite);
    let hot = facts(20_000.0, 20_000.0, 0.5);
    assert_eq!(
        one(&lint_f(sql, Some(&hot)), "or_across_columns").severity,
        Severity::Warning
    );
    let slow = facts(10.0, 10.0, 150.0);
    assert_eq!(
        one(&lint_f(sql, Some(&slow)), "or_across_columns").severity,
        Severity::Warning
    );
    one(
        &lint("SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id WHERE (c.email = $1 OR o.status IN ($2, $3))"),
        "or_across_columns",
    );
}

#[test]
fn or_across_columns_negative() {
    none(
        &lint("SELECT id FROM users WHERE email = $1 OR email = $2"),
        "or_across_columns",
    );
    none(
        &lint("SELECT id FROM users WHERE id = $1 AND (email = $2 OR name = $3)"),
        "or_across_columns",
    );
    none(
        &lint("SELECT id FROM users WHERE email = $1 OR created_at > $2 + name"),
        "or_across_columns",
    );
    none(
        &lint("SELECT id FROM users WHERE email = $1"),
        "or_across_columns",
    );
}

// ---------------------------------------------------------------- not_in_subquery

#[test]
fn not_in_subquery_nullable_column() {
    let out = lint("SELECT id FROM customers WHERE id NOT IN (SELECT customer_id FROM blocked)");
    let f = one(&out, "not_in_subquery");
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.position, 32);
    assert_eq!(f.fragment, "id NOT IN (SELECT customer_id FROM blocked)");
    assert!(
        f.evidence
            .contains("public.blocked.customer_id is nullable"),
        "{}",
        f.evidence
    );
    assert_eq!(
        f.rewrite,
        "NOT EXISTS (SELECT 1 FROM blocked WHERE blocked.customer_id = customers.id): planned as an anti-join, and right with NULLs"
    );
}

#[test]
fn not_in_subquery_not_null_and_unknown() {
    let out = lint("SELECT id FROM customers WHERE id NOT IN (SELECT customer_id FROM vip WHERE customer_id > $1)");
    let f = one(&out, "not_in_subquery");
    assert_eq!(f.severity, Severity::Info);
    assert!(f.evidence.contains("NOT NULL"), "{}", f.evidence);
    assert!(
        f.rewrite
            .contains("WHERE customer_id > $1 AND vip.customer_id = customers.id"),
        "{}",
        f.rewrite
    );

    let out = lint("SELECT id FROM customers WHERE id NOT IN (SELECT x FROM elsewhere)");
    let f = one(&out, "not_in_subquery");
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.evidence.starts_with("if elsewhere.x can be NULL"),
        "{}",
        f.evidence
    );
}

#[test]
fn not_in_subquery_negative() {
    none(
        &lint("SELECT id FROM customers WHERE id IN (SELECT customer_id FROM blocked)"),
        "not_in_subquery",
    );
    none(
        &lint("SELECT id FROM customers WHERE id NOT IN ($1, $2)"),
        "not_in_subquery",
    );
    none(
        &lint("SELECT id FROM customers c WHERE NOT EXISTS (SELECT 1 FROM blocked b WHERE b.customer_id = c.id)"),
        "not_in_subquery",
    );
}

// ---------------------------------------------------------------- large_offset

#[test]
fn large_offset_literal_and_placeholder() {
    let out = lint("SELECT id FROM orders ORDER BY id LIMIT 20 OFFSET 5000");
    let f = one(&out, "large_offset");
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!((f.position, f.fragment.as_str()), (44, "OFFSET 5000"));
    assert!(
        f.rewrite
            .contains("WHERE id > $last_seen ORDER BY id LIMIT n"),
        "{}",
        f.rewrite
    );

    let out = lint("SELECT id FROM orders ORDER BY placed_at DESC LIMIT 20 OFFSET 200000");
    let f = one(&out, "large_offset");
    assert_eq!(f.severity, Severity::Critical);
    assert!(
        f.rewrite.contains("placed_at < $last_seen"),
        "{}",
        f.rewrite
    );

    let out = lint("SELECT id FROM orders ORDER BY id LIMIT $1 OFFSET $2");
    let f = one(&out, "large_offset");
    assert_eq!(f.severity, Severity::Info);
    assert!(f.evidence.contains("page number"));
}

#[test]
fn large_offset_negative() {
    none(
        &lint("SELECT id FROM orders ORDER BY id LIMIT 20 OFFSET 40"),
        "large_offset",
    );
    none(
        &lint("SELECT id FROM orders ORDER BY id LIMIT 20"),
        "large_offset",
    );
}

// ---------------------------------------------------------------- implicit_cross_join

#[test]
fn implicit_cross_join_comma_without_link() {
    let out = lint("SELECT o.id FROM orders o, customers c WHERE o.status = $1");
    let f = one(&out, "implicit_cross_join");
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(
        (f.position, f.fragment.as_str()),
        (18, "orders o, customers c")
    );
    assert!(f.evidence.contains("1000000 x 10000"), "{}", f.evidence);
    assert!(
        f.rewrite.contains("ON o.customer_id = c.id"),
        "{}",
        f.rewrite
    );
    one(
        &lint("SELECT count(*) FROM orders, customers"),
        "implicit_cross_join",
    );
}

#[test]
fn implicit_cross_join_explicit_cross_join_is_info() {
    let out = lint("SELECT 1 FROM orders CROSS JOIN customers");
    let f = one(&out, "implicit_cross_join");
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(f.fragment, "CROSS JOIN customers");
    assert_eq!(f.position, 22);
}

#[test]
fn implicit_cross_join_negative() {
    none(
        &lint("SELECT o.id FROM orders o, customers c WHERE c.id = o.customer_id"),
        "implicit_cross_join",
    );
    none(
        &lint("SELECT 1 FROM orders CROSS JOIN customers WHERE customers.id = orders.customer_id"),
        "implicit_cross_join",
    );
    none(
        &lint("SELECT o.id FROM orders o, LATERAL jsonb_array_elements(o.notes::jsonb) e"),
        "implicit_cross_join",
    );
    none(
        &lint("SELECT * FROM a, b WHERE x = y"),
        "implicit_cross_join",
    ); // cannot tell
    none(
        &lint("SELECT id FROM orders o JOIN customers c ON c.id = o.customer_id"),
        "implicit_cross_join",
    );
    none(
        &lint(
            "SELECT o.id FROM orders o, customers c WHERE o.customer_id = c.id AND o.status = $1",
        ),
        "implicit_cross_join",
    );
}

// ---------------------------------------------------------------- large_in_list

fn in_list(n: usize) -> String {
    let list = (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("SELECT id, status FROM orders WHERE id IN ({list})")
}

#[test]
fn large_in_list_positive() {
    let out = lint(&in_list(150));
    let f = one(&out, "large_in_list");
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.position, 37);
    assert!(f.fragment.starts_with("id IN ($1, $2"));
    assert!(f.evidence.contains("150 placeholders"), "{}", f.evidence);
    assert!(
        f.rewrite.contains("id = ANY($1::bigint[])"),
        "{}",
        f.rewrite
    );
    assert_eq!(
        one(&lint(&in_list(1000)), "large_in_list").severity,
        Severity::Critical
    );

    let values = (0..120)
        .map(|i| format!("'v{i}'"))
        .collect::<Vec<_>>()
        .join(",");
    let out = lint(&format!("SELECT 1 FROM nowhere WHERE k NOT IN ({values})"));
    let f = one(&out, "large_in_list");
    assert!(f.rewrite.contains("k <> ALL($1::text[])"), "{}", f.rewrite);
}

#[test]
fn large_in_list_negative() {
    none(&lint(&in_list(99)), "large_in_list");
    none(
        &lint("SELECT id FROM orders WHERE id = ANY($1)"),
        "large_in_list",
    );
}

// ---------------------------------------------------------------- count_for_existence

#[test]
fn count_for_existence_subquery() {
    let out = lint(
        "SELECT c.id FROM customers c WHERE (SELECT count(*) FROM orders o WHERE o.customer_id = c.id) > 0",
    );
    let f = one(&out, "count_for_existence");
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.position, 36);
    assert_eq!(
        f.fragment,
        "(SELECT count(*) FROM orders o WHERE o.customer_id = c.id) > 0"
    );
    assert!(
        f.rewrite.starts_with("EXISTS (SELECT 1 FROM orders"),
        "{}",
        f.rewrite
    );

    let out = lint("SELECT c.id FROM customers c WHERE 0 = (SELECT count(*) FROM orders o WHERE o.customer_id = c.id)");
    let f = one(&out, "count_for_existence");
    assert!(
        f.rewrite.starts_with("NOT EXISTS (SELECT 1"),
        "{}",
        f.rewrite
    );
    let out =
        lint("SELECT CASE WHEN (SELECT count(1) FROM orders WHERE status = $1) >= 1 THEN 'y' END");
    one(&out, "count_for_existence");
}

#[test]
fn count_for_existence_select_list() {
    let out = lint("SELECT count(*) > 0 FROM orders WHERE customer_id = $1");
    let f = one(&out, "count_for_existence");
    assert!(
        f.rewrite
            .starts_with("SELECT EXISTS (SELECT 1 FROM orders WHERE customer_id = $1)"),
        "{}",
        f.rewrite
    );
}

#[test]
fn count_for_existence_negative() {
    none(
        &lint("SELECT count(*) FROM orders WHERE customer_id = $1"),
        "count_for_existence",
    );
    none(
        &lint("SELECT c.id FROM customers c WHERE (SELECT count(*) FROM orders o WHERE o.customer_id = c.id) > 5"),
        "count_for_existence",
    );
    none(
        &lint("SELECT customer_id FROM orders GROUP BY customer_id HAVING count(*) > 0"),
        "count_for_existence",
    );
    none(
        &lint("SELECT count(*) > 0 FROM orders GROUP BY customer_id"),
        "count_for_existence",
    );
}

// ---------------------------------------------------------------- distinct_over_join

#[test]
fn distinct_over_join_positive() {
    let sql = "SELECT DISTINCT c.id, c.name FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.status = $1";
    let out = lint(sql);
    let f = one(&out, "distinct_over_join");
    assert_eq!(f.severity, Severity::Info);
    assert_eq!((f.position, f.fragment.as_str()), (1, "SELECT DISTINCT"));
    assert!(
        f.rewrite.starts_with(
            "a semi-join instead of join + DISTINCT: SELECT c.id, c.name FROM customers "
        ),
        "{}",
        f.rewrite
    );
    assert!(
        f.rewrite.contains("WHERE EXISTS (SELECT 1 FROM orders ")
            && f.rewrite
                .ends_with(" WHERE o.customer_id = c.id AND o.status = $1)"),
        "{}",
        f.rewrite
    );
    let slow = facts(100.0, 1000.0, 250.0);
    assert_eq!(
        one(&lint_f(sql, Some(&slow)), "distinct_over_join").severity,
        Severity::Warning
    );
}

#[test]
fn distinct_over_join_negative() {
    none(
        &lint(
            "SELECT DISTINCT c.id, o.status FROM customers c JOIN orders o ON o.customer_id = c.id",
        ),
        "distinct_over_join",
    );
    none(
        &lint("SELECT DISTINCT status FROM orders"),
        "distinct_over_join",
    );
    none(
        &lint("SELECT c.id FROM customers c JOIN orders o ON o.customer_id = c.id"),
        "distinct_over_join",
    );
    none(
        &lint(
            "SELECT DISTINCT ON (c.id) c.id FROM customers c JOIN orders o ON o.customer_id = c.id",
        ),
        "distinct_over_join",
    );
}

// ---------------------------------------------------------------- n_plus_one

fn stmt(
    queryid: i64,
    query: &str,
    calls: f64,
    rows: f64,
    mean_ms: f64,
    calls_per_s: f64,
) -> StatementFacts {
    StatementFacts {
        queryid,
        query: query.to_string(),
        example: None,
        calls,
        rows,
        total_ms: calls * mean_ms,
        mean_ms,
        calls_per_s,
    }
}

fn parent() -> StatementFacts {
    stmt(
        1,
        "SELECT id, customer_id FROM orders WHERE placed_at > $1",
        50.0,
        5000.0,
        12.0,
        0.5,
    )
}

#[test]
fn n_plus_one_positive() {
    let child = stmt(
        2,
        "SELECT * FROM customers WHERE id = $1",
        5000.0,
        5000.0,
        0.05,
        50.0,
    );
    let out = lint_workload(&[parent(), child], &catalog());
    check(&out.findings);
    assert_eq!(out.parsed, 2);
    assert!(out.unparsed.is_empty());
    let f = one(&out.findings, "n_plus_one");
    assert_eq!(f.queryid, Some(2));
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!((f.position, f.fragment.as_str()), (31, "id = $1"));
    assert!(f.evidence.contains("5000 calls"), "{}", f.evidence);
    assert!(
        f.evidence.contains("statement 1 returned 5000 rows"),
        "{}",
        f.evidence
    );
    assert!(f.evidence.contains("customer_id"), "{}", f.evidence);
    assert!(
        f.rewrite
            .contains("JOIN customers ON customers.id = orders.customer_id"),
        "{}",
        f.rewrite
    );
    assert!(
        f.rewrite
            .contains("SELECT * FROM customers WHERE id = ANY($1)"),
        "{}",
        f.rewrite
    );

    let hot = stmt(
        2,
        "SELECT * FROM customers WHERE id = $1",
        5000.0,
        5000.0,
        0.05,
        500.0,
    );
    let out = lint_workload(&[parent(), hot], &catalog());
    assert_eq!(
        one(&out.findings, "n_plus_one").severity,
        Severity::Critical
    );
}

#[test]
fn n_plus_one_negative() {
    // The counts do not match.
    let child = stmt(
        2,
        "SELECT * FROM customers WHERE id = $1",
        500.0,
        500.0,
        0.05,
        5.0,
    );
    none(
        &lint_workload(&[parent(), child], &catalog()).findings,
        "n_plus_one",
    );
    // The child returns many rows per call.
    let child = stmt(
        2,
        "SELECT * FROM customers WHERE id = $1",
        5000.0,
        50_000.0,
        0.05,
        50.0,
    );
    none(
        &lint_workload(&[parent(), child], &catalog()).findings,
        "n_plus_one",
    );
    // The child is not a point lookup.
    let child = stmt(
        2,
        "SELECT * FROM customers WHERE created_at > $1",
        5000.0,
        5000.0,
        0.05,
        50.0,
    );
    none(
        &lint_workload(&[parent(), child], &catalog()).findings,
        "n_plus_one",
    );
    // The parent does not select the key.
    let other = stmt(
        1,
        "SELECT status, total FROM orders WHERE placed_at > $1",
        50.0,
        5000.0,
        12.0,
        0.5,
    );
    let child = stmt(
        2,
        "SELECT * FROM customers WHERE id = $1",
        5000.0,
        5000.0,
        0.05,
        50.0,
    );
    none(
        &lint_workload(&[other, child], &catalog()).findings,
        "n_plus_one",
    );
    // A statement alone is not its own parent.
    let child = stmt(
        2,
        "SELECT * FROM customers WHERE id = $1",
        5000.0,
        5000.0,
        0.05,
        50.0,
    );
    none(&lint_workload(&[child], &catalog()).findings, "n_plus_one");
}

#[test]
fn workload_keeps_unparsed_statements() {
    let bad = stmt(3, "SELEC nonsense", 10.0, 10.0, 1.0, 1.0);
    let good = stmt(
        4,
        "SELECT * FROM orders WHERE id = $1",
        10.0,
        10.0,
        1.0,
        1.0,
    );
    let out = lint_workload(&[bad, good], &catalog());
    assert_eq!(out.parsed, 1);
    assert_eq!(out.unparsed.len(), 1);
    assert_eq!(out.unparsed[0].0.queryid, 3);
    assert_eq!(out.unparsed[0].1.queryid, Some(3));
    assert!(!out.unparsed[0].1.message.is_empty());
    let f = one(&out.findings, "select_star");
    assert_eq!(f.queryid, Some(4));
}

#[test]
fn normalised_statements_parse() {
    for sql in [
        "SELECT $1::int[]",
        "INSERT INTO orders (id, status) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status RETURNING id",
        "SELECT id FROM orders WHERE status = $1 FOR UPDATE SKIP LOCKED LIMIT $2",
        "SELECT id FROM orders WHERE id IN ($1 /*, ... */)",
        "WITH recent AS (SELECT * FROM orders WHERE placed_at > now() - $1::interval) SELECT count(*) FROM recent",
        "SELECT o.id, c.name FROM orders o LEFT JOIN LATERAL (SELECT name FROM customers WHERE id = o.customer_id LIMIT $1) c ON true",
        "DELETE FROM orders USING customers c WHERE orders.customer_id = c.id AND c.country = $1",
        "UPDATE orders o SET status = $1 FROM customers c WHERE c.id = o.customer_id AND c.email ILIKE $2",
        "SELECT jsonb_agg(x) FILTER (WHERE x > $1) OVER (PARTITION BY y) FROM t",
        "BEGIN",
        "SET statement_timeout = $1",
        "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM orders WHERE notes LIKE '%x%'",
    ] {
        if let Err(e) = lint_sql(sql, None, &catalog()) {
            panic!("{sql}: {}", e.message);
        }
    }
}

#[test]
fn workload_lints_the_example_when_it_parses() {
    let c = catalog();
    // The normalised text hides the pattern and the offset; the example shows them.
    let mut s = stmt(7, "SELECT id FROM orders WHERE notes LIKE $1 ORDER BY id OFFSET $2", 10.0, 10.0, 1.0, 1.0);
    s.example = Some("SELECT id FROM orders WHERE notes LIKE '%son' ORDER BY id OFFSET 50000".into());
    let w = lint_workload(&[s.clone()], &c);
    let rules: Vec<&str> = w.findings.iter().map(|f| f.rule).collect();
    assert!(rules.contains(&"leading_wildcard_like") && rules.contains(&"large_offset"), "{rules:?}");
    let text = &w.linted[&7];
    assert_eq!(text, s.example.as_ref().unwrap());
    for f in &w.findings {
        let at: String = text.chars().skip(f.position - 1).take(f.fragment.chars().count()).collect();
        assert_eq!(at, f.fragment, "{f:?}");
    }
    // Without an example (or with one that does not parse) the normalised text is linted.
    s.example = Some("SELEKT ((".into());
    let w = lint_workload(&[s.clone()], &c);
    assert_eq!(w.linted[&7], s.query);
    assert!(!w.findings.iter().any(|f| f.rule == "leading_wildcard_like"), "{:?}", w.findings);
    assert_eq!(w.parsed, 1);
}

#[test]
fn workload_falls_back_to_the_example_when_the_normalised_text_does_not_parse() {
    let c = catalog();
    // PostgreSQL normalises extract(year FROM x) to extract($1 FROM x): not SQL any parser reads.
    let mut s = stmt(8, "SELECT extract($1 FROM placed_at) FROM orders WHERE notes LIKE $2", 10.0, 10.0, 1.0, 1.0);
    assert_eq!(lint_workload(&[s.clone()], &c).unparsed.len(), 1);
    s.example = Some("SELECT extract(year FROM placed_at) FROM orders WHERE notes LIKE '%x'".into());
    let w = lint_workload(&[s.clone()], &c);
    assert!(w.unparsed.is_empty() && w.parsed == 1, "{:?}", w.unparsed);
    assert!(w.findings.iter().any(|f| f.rule == "leading_wildcard_like"), "{:?}", w.findings);
    assert_eq!(w.linted[&8], s.example.unwrap());
}

#[test]
fn advice_serves_matches_table_and_expression() {
    let ddl = r#"CREATE INDEX CONCURRENTLY "customers_lower_idx" ON "public"."customers" USING btree ((lower(email)))"#;
    assert!(advice_serves(r#""public"."customers""#, ddl, "customers", "lower(email)"));
    assert!(advice_serves(r#""public"."customers""#, ddl, "public.customers", "LOWER( email )"));
    assert!(!advice_serves(r#""public"."customers""#, ddl, "other.customers", "lower(email)"));
    assert!(!advice_serves(r#""public"."customers""#, ddl, "orders", "lower(email)"));
    assert!(!advice_serves(r#""public"."customers""#, ddl, "customers", "upper(email)"));
    assert!(!advice_serves(r#""public"."customers""#, ddl, "customers", ""));
}
