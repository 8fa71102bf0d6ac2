//! Hypothetical indexes: our own what-if engine (no HypoPG).
//!
//! An index defined by `CREATE INDEX` text is kept as Rust data ([`define::Spec`]) with a fake OID
//! below `FirstNormalObjectId` that no `pg_class` row uses. `get_relation_info_hook` adds an
//! `IndexOptInfo` for it to the relation the planner is looking at, filled exactly like
//! `get_relation_info` fills a real one, with a size estimated from table statistics
//! ([`size`]). The planner then costs it like any index.
//!
//! **Scope.** Injection happens only inside a scope we open ourselves, and only at the planner
//! depth that scope names, so planning nested in functions never sees hypothetical indexes:
//! - a costing call ([`plan::cost`], used by `explain_with` and the advisor), whose plans are read
//!   and thrown away, never executed;
//! - a plain `EXPLAIN` (not ANALYZE, not EXPLAIN EXECUTE) in a session that created hypothetical
//!   indexes, when `pg_optimizer.hypothetical_explain` is on. EXPLAIN without ANALYZE starts the
//!   executor in EXPLAIN_ONLY mode, which never opens an index.
//!
//! The scope is closed on every exit, and by a transaction-abort callback as a second net.
//! Partitioned tables: the index is defined once on the parent; each leaf that reaches the hook
//! gets its own spec built from the same text against the leaf (columns by name, as
//! `DefineIndex` does for partitions), memoised per leaf.


pub mod define;
pub mod plan;
pub use pg_optimizer_core::size;

mod estimate;
mod inject;
mod registry;
mod scope;

pub use estimate::{estimate, estimate_on};
pub use registry::{any_defined, clear_ephemeral, create, drop, find, is_hypothetical, leaf_spec, list, name_of, Hypo};
pub use scope::{close_explain, hypothetical_in_plan, open_explain, with_costing_scope};

/// Install the planner hooks and the abort callbacks. Called once from `_PG_init`.
pub fn init() {
    inject::init();
    scope::init();
}
