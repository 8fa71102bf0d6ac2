-- The anti-pattern linter over the recorded workload (issue 16): one row per finding, rules in
-- pg_optimizer_core::lint (optimizer.lint_rules() lists them), statements that do not parse
-- listed as rule 'parse_error' with the parser's message.
CREATE VIEW @extschema@.lint AS
SELECT * FROM @extschema@.lint_statements();
COMMENT ON VIEW @extschema@.lint IS
  'Anti-patterns in the recorded statements of this database (SELECT * on wide tables, unbounded results, leading-wildcard LIKE, non-sargable filters, N+1 ...): rule, severity, fragment and position, evidence, rewrite';
GRANT SELECT ON @extschema@.lint TO PUBLIC;
