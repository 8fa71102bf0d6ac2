//! The relations one SELECT (or UPDATE/DELETE) reads, with the catalog's facts, and the
//! resolution of column references to them.

use sqlparser::ast::{Expr, JoinConstraint, JoinOperator, Spanned, TableFactor, TableWithJoins};
use sqlparser::tokenizer::Span;

use super::exprs::{ident_name, object_name, ColRef};
use super::{Catalog, TableFacts};

/// How a relation is joined to the relations before it in its FROM item.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum JoinKind {
    /// The first relation of a FROM item (after a comma, or the only one).
    First,
    /// An inner join with a condition (`JOIN .. ON/USING`, NATURAL JOIN).
    Inner(Option<Expr>),
    /// A LEFT (or RIGHT/FULL) outer join with its condition.
    Outer(Option<Expr>),
    /// An explicit CROSS JOIN (or a join without condition).
    Cross,
    /// Anything else (APPLY, semi/anti joins of other dialects).
    Other,
}

/// One relation of a FROM clause.
#[derive(Clone, Debug)]
pub(crate) struct Relation {
    /// The table's name as written and folded (schema.table), for base tables.
    pub table: Option<String>,
    /// The alias, folded.
    pub alias: Option<String>,
    /// Which comma-separated FROM item it belongs to (0-based).
    pub item: usize,
    /// How it is joined.
    pub join: JoinKind,
    /// The catalog's facts (base tables the catalog knows).
    pub facts: Option<TableFacts>,
    /// The table factor's span.
    pub span: Span,
    /// The table factor as sqlparser prints it (`orders AS o`), for rewrites.
    pub text: String,
}

impl Relation {
    /// A base table (not a subquery, function or VALUES).
    pub(crate) fn is_base(&self) -> bool {
        self.table.is_some()
    }

    /// The name its columns are qualified with: the alias, else the table's last name part.
    pub(crate) fn visible(&self) -> String {
        match (&self.alias, &self.table) {
            (Some(a), _) => a.clone(),
            (None, Some(t)) => t.rsplit('.').next().unwrap_or(t).to_string(),
            (None, None) => String::new(),
        }
    }

    /// The name for messages: the catalog's qualified name, else as written.
    pub(crate) fn display_name(&self) -> String {
        match (&self.facts, &self.table) {
            (Some(f), _) if !f.name.is_empty() => f.name.clone(),
            (_, Some(t)) => t.clone(),
            _ => self.visible(),
        }
    }
}

/// The relations of one FROM clause.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scope {
    /// In the order written.
    pub relations: Vec<Relation>,
    /// Number of comma-separated FROM items.
    pub items: usize,
}

impl Scope {
    /// The scope of FROM items, looking each base table up in the catalog once.
    pub(crate) fn new(from: &[TableWithJoins], catalog: &dyn Catalog) -> Scope {
        let mut scope = Scope::default();
        for (item, twj) in from.iter().enumerate() {
            scope.add_item(twj, item, JoinKind::First, catalog);
        }
        scope.items = from.len();
        scope
    }

    fn add_item(
        &mut self,
        twj: &TableWithJoins,
        item: usize,
        first: JoinKind,
        catalog: &dyn Catalog,
    ) {
        self.add_factor(&twj.relation, item, first, catalog);
        for join in &twj.joins {
            let kind = match &join.join_operator {
                JoinOperator::Join(c) | JoinOperator::Inner(c) | JoinOperator::StraightJoin(c) => {
                    match c {
                        JoinConstraint::None => JoinKind::Cross,
                        JoinConstraint::On(e) => JoinKind::Inner(Some(e.clone())),
                        _ => JoinKind::Inner(None),
                    }
                }
                JoinOperator::Left(c)
                | JoinOperator::LeftOuter(c)
                | JoinOperator::Right(c)
                | JoinOperator::RightOuter(c)
                | JoinOperator::FullOuter(c) => match c {
                    JoinConstraint::On(e) => JoinKind::Outer(Some(e.clone())),
                    _ => JoinKind::Outer(None),
                },
                JoinOperator::CrossJoin(JoinConstraint::None) => JoinKind::Cross,
                JoinOperator::CrossJoin(JoinConstraint::On(e)) => JoinKind::Inner(Some(e.clone())),
                _ => JoinKind::Other,
            };
            self.add_factor(&join.relation, item, kind, catalog);
        }
    }

    fn add_factor(
        &mut self,
        factor: &TableFactor,
        item: usize,
        join: JoinKind,
        catalog: &dyn Catalog,
    ) {
        let (table, alias) = match factor {
            TableFactor::Table {
                name, alias, args, ..
            } => {
                let table = if args.is_none() {
                    Some(object_name(name))
                } else {
                    None
                };
                (table, alias.as_ref().map(|a| ident_name(&a.name)))
            }
            TableFactor::NestedJoin {
                table_with_joins,
                alias: None,
            } => {
                self.add_item(table_with_joins, item, join, catalog);
                return;
            }
            TableFactor::Derived { alias, .. }
            | TableFactor::TableFunction { alias, .. }
            | TableFactor::Function { alias, .. }
            | TableFactor::UNNEST { alias, .. }
            | TableFactor::NestedJoin { alias, .. } => {
                (None, alias.as_ref().map(|a| ident_name(&a.name)))
            }
            _ => (None, None),
        };
        let facts = table.as_deref().and_then(|t| catalog.table(t));
        self.relations.push(Relation {
            table,
            alias,
            item,
            join,
            facts,
            span: factor.span(),
            text: factor.to_string(),
        });
    }

    /// The relation a qualifier names: its alias, else its table name (last part or whole).
    pub(crate) fn by_qualifier(&self, qualifier: &str) -> Option<usize> {
        if let Some(i) = self
            .relations
            .iter()
            .position(|r| r.alias.as_deref() == Some(qualifier))
        {
            return Some(i);
        }
        self.relations.iter().position(|r| {
            r.alias.is_none()
                && r.table.as_deref().is_some_and(|t| {
                    t == qualifier
                        || t.rsplit('.').next() == Some(qualifier)
                        || qualifier.rsplit('.').next() == Some(t)
                })
        })
    }

    /// The relation a column belongs to: by qualifier, else the only relation, else the only
    /// relation that may have it (the catalog knows it has the column, or does not know it).
    pub(crate) fn resolve(&self, col: &ColRef) -> Option<usize> {
        if let Some(q) = &col.qualifier {
            return self.by_qualifier(q);
        }
        if self.relations.len() == 1 {
            return Some(0);
        }
        let candidates: Vec<usize> = self
            .relations
            .iter()
            .enumerate()
            .filter(|(_, r)| match &r.facts {
                Some(f) => f.column(&col.column).is_some(),
                None => true,
            })
            .map(|(i, _)| i)
            .collect();
        (candidates.len() == 1).then(|| candidates[0])
    }

    /// The catalog's facts about a column, when its relation and the column are known.
    pub(crate) fn column_facts(&self, col: &ColRef) -> Option<(&Relation, &super::ColumnFacts)> {
        let r = &self.relations[self.resolve(col)?];
        let c = r.facts.as_ref()?.column(&col.column)?;
        Some((r, c))
    }
}
