//! The walk over one text's statements: every query, SELECT, UPDATE/DELETE and expression is
//! handed to the rules with the statement's numbers ([`Ctx`]).

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, Query, Select, Statement, Visit, Visitor};

use super::parse::Source;
use super::text::{count, num};
use super::{predicates, rules, Catalog, Finding, Severity, StatementFacts};

/// What the rules see besides the AST: the text, the statement's numbers, the catalog; and
/// where they put their findings.
pub(crate) struct Ctx<'a> {
    /// The original text, for positions and fragments.
    pub src: Source<'a>,
    /// The statement's recorded numbers, if any.
    pub facts: Option<&'a StatementFacts>,
    /// Catalog lookups.
    pub catalog: &'a dyn Catalog,
    /// Findings so far.
    pub findings: Vec<Finding>,
}

impl<'a> Ctx<'a> {
    /// A context for one text.
    pub(crate) fn new(
        text: &'a str,
        facts: Option<&'a StatementFacts>,
        catalog: &'a dyn Catalog,
    ) -> Self {
        Ctx {
            src: Source::new(text),
            facts,
            catalog,
            findings: Vec::new(),
        }
    }

    /// The facts, when the statement ran at least once.
    pub(crate) fn ran(&self) -> Option<&'a StatementFacts> {
        self.facts.filter(|f| f.calls > 0.0)
    }

    /// Rows per call, when known.
    pub(crate) fn rows_per_call(&self) -> Option<f64> {
        self.ran().map(|f| f.rows / f.calls)
    }

    /// The recorded numbers in words ("1200 calls, 3.5 ms mean, 12 rows per call"), or "".
    pub(crate) fn numbers(&self) -> String {
        match self.ran() {
            Some(f) => format!(
                "{}, {} ms mean, {} per call",
                count(f.calls, "call", "calls"),
                num(f.mean_ms),
                count(f.rows / f.calls, "row", "rows")
            ),
            None => String::new(),
        }
    }

    /// `evidence` followed by the recorded numbers, if any.
    pub(crate) fn with_numbers(&self, evidence: String) -> String {
        let n = self.numbers();
        if n.is_empty() {
            evidence
        } else {
            format!("{evidence}; {n}")
        }
    }

    /// Record a finding.
    pub(crate) fn push(
        &mut self,
        rule: &'static str,
        severity: Severity,
        at: (usize, String),
        evidence: String,
        rewrite: String,
    ) {
        self.findings.push(Finding {
            queryid: self.facts.map(|f| f.queryid),
            rule,
            severity,
            fragment: at.1,
            position: at.0,
            evidence,
            rewrite,
        });
    }
}

/// Lint parsed statements of one text (findings unsorted).
pub(crate) fn lint_statements(
    text: &str,
    statements: &[Statement],
    facts: Option<&StatementFacts>,
    catalog: &dyn Catalog,
) -> Vec<Finding> {
    let mut ctx = Ctx::new(text, facts, catalog);
    for statement in statements {
        let mut walker = Walker {
            ctx: &mut ctx,
            frames: Vec::new(),
            statement_is_query: matches!(statement, Statement::Query(_)),
            statements_seen: 0,
        };
        let _ = statement.visit(&mut walker);
    }
    ctx.findings
}

/// The visitor: keeps a stack of queries (is each the statement's top-level query?).
struct Walker<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    frames: Vec<bool>,
    statement_is_query: bool,
    statements_seen: usize,
}

impl Visitor for Walker<'_, '_> {
    type Break = ();

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<()> {
        self.statements_seen += 1;
        if self.statements_seen > 1 {
            // A statement inside the statement (EXPLAIN's, a rule's): not the top level.
            self.statement_is_query = false;
        }
        predicates::statement(self.ctx, statement);
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        let top = self.frames.is_empty() && self.statement_is_query;
        self.frames.push(top);
        rules::query(self.ctx, query, top);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.frames.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<()> {
        let top = self.frames.last().copied().unwrap_or(false);
        rules::select(self.ctx, select, top);
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        predicates::expression(self.ctx, expr);
        ControlFlow::Continue(())
    }
}
