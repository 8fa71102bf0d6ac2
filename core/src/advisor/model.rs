//! Plain data the advisor reasons over (no `pg_sys`). `catalog.rs` fills it from the catalogs,
//! `pg_stats` and our own stores; the pure modules (`candidates`, `coverage`, `select`,
//! `write_cost`, `drop`, `explain`) only read it.

use std::collections::BTreeMap;

pub type Oid = u32;

/// Index access methods the advisor proposes. Existing indexes of other methods keep their
/// `am` name in [`IndexDef::am`] and `method = None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    Btree,
    Hash,
    Brin,
    Gin,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Btree => "btree",
            Method::Hash => "hash",
            Method::Brin => "brin",
            Method::Gin => "gin",
        }
    }
    pub fn from_name(am: &str) -> Option<Method> {
        match am {
            "btree" => Some(Method::Btree),
            "hash" => Some(Method::Hash),
            "brin" => Some(Method::Brin),
            "gin" => Some(Method::Gin),
            _ => None,
        }
    }
}

/// An index key: a column (attnum >= 1) or an expression (deparsed SQL over the table's columns,
/// as `pg_get_indexdef` or our predicate store prints it).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyExpr {
    Column(i16),
    Expr(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub expr: KeyExpr,
    pub desc: bool,
    pub nulls_first: bool,
    /// A non-default operator class (`jsonb_path_ops`, `gin_trgm_ops`, `text_pattern_ops`), or
    /// `None` for the type's default class of the method.
    pub opclass: Option<String>,
    /// A non-default collation name, or `None` for the column's own.
    pub collation: Option<String>,
}

impl Key {
    pub fn column(attnum: i16) -> Key {
        Key { expr: KeyExpr::Column(attnum), desc: false, nulls_first: false, opclass: None, collation: None }
    }
}

/// An index: an existing one (`oid != 0`) or a candidate (`oid == 0`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IndexDef {
    pub oid: Oid,
    pub relid: Oid,
    /// Existing: the index's name. Candidate: empty until `explain` names it.
    pub name: String,
    pub am: String,
    pub method: Option<Method>,
    pub keys: Vec<Key>,
    /// INCLUDE columns (attnums).
    pub include: Vec<i16>,
    /// Partial-index predicate, SQL text over the table's columns, or `None`.
    pub predicate: Option<String>,
    pub unique: bool,
    /// Existing only: primary key, unique/exclusion constraint, referenced by a constraint
    /// (`pg_constraint.conindid`), replica identity, extension member, partition of a partitioned
    /// index, or on a system catalog: never dropped, never reported as redundant.
    pub protected: bool,
    pub primary: bool,
    /// Existing only: `indisvalid AND indisready AND indislive`.
    pub valid: bool,
    /// Existing only: being built right now (in `pg_stat_progress_create_index`).
    pub building: bool,
    /// Bytes: real size for existing indexes, estimate for candidates.
    pub bytes: f64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ColumnStats {
    pub attnum: i16,
    pub name: String,
    /// `format_type` of the column, e.g. `integer`, `jsonb`, `text[]`.
    pub type_name: String,
    /// Average width in bytes (`pg_stats.avg_width`, else the type's).
    pub width: f64,
    pub null_frac: f64,
    /// Distinct non-null values, as an absolute count (negative `pg_stats.n_distinct` already
    /// multiplied by the row count); 0 when unknown.
    pub n_distinct: f64,
    /// `pg_stats.correlation`, 0 when unknown.
    pub correlation: f64,
    /// Most common values as text with their frequencies.
    pub mcv: Vec<(String, f64)>,
    /// The column's collation is C (or the type is not collatable): LIKE 'x%' can use a plain
    /// btree.
    pub c_collation: bool,
}

/// Writes per second since the statistics window began (`pg_stat_user_tables` deltas).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WriteRates {
    pub inserts: f64,
    pub updates: f64,
    pub hot_updates: f64,
    pub deletes: f64,
    pub vacuums: f64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableInfo {
    pub relid: Oid,
    /// The owning role: candidate indexes are defined and sized as it (see `pg::identity`).
    pub owner: Oid,
    /// Schema-qualified and quoted, ready for DDL: `"sales"."order items"`.
    pub qualified_name: String,
    /// Bare table name (unquoted), used to build index names.
    pub name: String,
    pub rows: f64,
    pub pages: f64,
    /// `relallvisible / relpages`.
    pub all_visible_frac: f64,
    pub partitioned: bool,
    pub columns: Vec<ColumnStats>,
    pub writes: WriteRates,
    /// Columns changed by recorded UPDATEs, with the rows those UPDATEs changed (for HOT loss);
    /// empty when unknown.
    pub updated_columns: BTreeMap<i16, f64>,
    pub existing: Vec<IndexDef>,
    /// Installed extensions that add operator classes the advisor may use (`pg_trgm`).
    pub has_pg_trgm: bool,
}

impl TableInfo {
    pub fn column(&self, attnum: i16) -> Option<&ColumnStats> {
        self.columns.iter().find(|c| c.attnum == attnum)
    }
}

/// How a qual uses its column, from the operator (see docs/research/advisor-selection.md §1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QualClass {
    /// btree strategy 3, or a bare boolean column.
    Eq,
    /// `= ANY(array)` / `IN (...)`.
    In,
    /// btree strategies 1, 2, 4, 5.
    Range,
    IsNull,
    IsNotNull,
    /// LIKE/ILIKE/regex with a left-anchored constant (`'abc%'`).
    LikePrefix,
    /// LIKE/ILIKE/regex that is not left-anchored (`'%abc%'`): trigram GIN.
    Pattern,
    /// jsonb `@> <@ @? @@` (jsonb_path_ops can serve).
    JsonPath,
    /// jsonb `? ?| ?&` (only jsonb_ops serves).
    JsonKey,
    /// array `&& @> <@`.
    ArrayOp,
    /// `<>`, NOT, or anything no index helps.
    Other,
}

/// One recorded qual on one table, as one row of `optimizer.predicates` gives it.
#[derive(Clone, Debug, PartialEq)]
pub struct Qual {
    pub queryid: u64,
    pub relid: Oid,
    pub column: KeyExpr,
    pub class: QualClass,
    /// Operator name as written with the column on the left (`=`, `<`, `@>`, `~~`).
    pub operator: String,
    /// A join clause (the other side is a column of another table, or a nested-loop parameter).
    pub join: bool,
    /// Member of an OR group (BitmapOr or a filter `a OR b`).
    pub in_or: bool,
    /// Already an index condition of an existing index in the recorded plan.
    pub index_cond: bool,
    pub executions: f64,
    /// Share of executions whose right-hand side was a literal constant (not `$n`).
    pub const_share: f64,
    /// Sampled constants (text), at most a few.
    pub constants: Vec<String>,
    /// Groups the quals of one scan node of one statement.
    pub scan: u64,
}

/// One recorded sort key, from `optimizer.sort_keys`.
#[derive(Clone, Debug, PartialEq)]
pub struct SortKey {
    pub queryid: u64,
    pub relid: Oid,
    /// 1-based position in the ORDER BY.
    pub position: i16,
    pub column: KeyExpr,
    pub desc: bool,
    pub nulls_first: bool,
    pub under_limit: bool,
}

/// A recorded statement the advisor can cost.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Statement {
    pub queryid: u64,
    /// Executions per second over the window (or raw calls: only ratios matter).
    pub weight: f64,
    pub tables: Vec<Oid>,
    /// Per table: every column the statement references (for INCLUDE / index-only scans).
    pub columns: BTreeMap<Oid, Vec<i16>>,
    /// GROUP BY (or DISTINCT) keys that are all columns of one table: (table, key columns).
    pub groups: Vec<(Oid, Vec<i16>)>,
}

/// A proposed index with its provenance.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub def: IndexDef,
    /// Statements whose quals or sort keys produced it.
    pub queryids: Vec<u64>,
    pub kind: CandidateKind,
    /// For Extend: the candidate this one widens by one key (index into the candidate list).
    pub extends: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CandidateKind {
    /// Single column (Extend's building block).
    Single,
    /// Equality keys then one range key.
    EqRange,
    /// Equality keys then the sort keys.
    EqSort,
    /// Join column.
    Join,
    /// With INCLUDE columns for an index-only scan.
    Covering,
    /// With a WHERE predicate from a constant qual.
    Partial,
    /// On an expression.
    Expression,
    /// GIN for containment, key existence, array overlap or trigram match.
    Gin,
    /// BRIN on a large, physically ordered column.
    Brin,
    /// Hash for equality only.
    Hash,
    /// The GROUP BY / DISTINCT keys, for an aggregate that reads groups in index order.
    Group,
}
