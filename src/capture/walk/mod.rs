//! The plan walk: which nodes get row counting, and what each executed node tells us.
//!
//! Our own walk over `PlanState` (explicit stack, depth-capped), not `planstate_tree_walker`: it
//! needs to know each edge (a LIMIT above a Sort, a nested loop's parameters before its inner
//! side), and it reads `List` cells directly instead of paying a guarded FFI call per node.
//! Children: init plans, left and right trees, Append/MergeAppend/BitmapAnd/BitmapOr members,
//! SubqueryScan's subplan, CustomScan's `custom_ps`, sub plans; each sub plan once.
//!
//! Vars are resolved to (relation, column) the way ruleutils does for EXPLAIN: `OUTER_VAR` and
//! `INNER_VAR` through the child's target list, `INDEX_VAR` through an index-only scan's
//! `indextlist` (or a foreign/custom scan's scan tlist), a subquery scan through its subplan, a
//! partition to its partitioned root through `PlannedStmt.appendRelations` (with the column
//! mapping), and a nested loop's `PARAM_EXEC` through its `nestParams` to the outer column: an
//! inner index condition `col = $1` is recorded as the join clause it is.
//!
//! Nothing here touches the catalogs on the steady path (OIDs and attnums only; names are
//! resolved by the views). Only when an entry is created for an expression is its text deparsed.

//!
//! Files: `tree` (node access and the walk), `resolve` (Vars to columns), `record` (what each node
//! adds to the store), `sample` (constants kept as samples).

mod record;
mod resolve;
mod sample;
mod tree;

use crate::shmem::predicates as store;
use crate::stats::predicates::*;
use pgrx::pg_sys::{self, NodeTag};
use resolve::*;
use sample::*;
use tree::*;

pub(super) use record::record_tree;
pub(super) use tree::instrument_tree;
#[cfg(any(test, feature = "pg_test"))]
pub(super) use tree::visit_kinds;
