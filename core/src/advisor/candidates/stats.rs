//! Statistics helpers: selectivity, value frequency, types, literals and operator classes.

use super::*;

// ---------------------------------------------------------------------------------------------
// Statistics helpers

pub(super) fn is_eq_class(class: QualClass) -> bool {
    matches!(class, QualClass::Eq | QualClass::In | QualClass::IsNull)
}

pub(super) fn is_range_class(class: QualClass) -> bool {
    matches!(class, QualClass::Range | QualClass::LikePrefix)
}

/// Share of rows equal to one unknown value: `1 / n_distinct`, or the default.
pub(super) fn per_value_selectivity(col: &ColumnStats) -> f64 {
    if col.n_distinct > 0.0 {
        1.0 / col.n_distinct
    } else {
        DEFAULT_EQ_SEL
    }
}

/// Share of rows equal to `value`: its MCV frequency, else the non-MCV rows spread evenly over the
/// non-MCV distinct values.
pub(super) fn value_frequency(col: &ColumnStats, value: &str) -> f64 {
    if let Some((_, freq)) = col.mcv.iter().find(|(v, _)| v == value) {
        return *freq;
    }
    if col.n_distinct <= 0.0 {
        return DEFAULT_EQ_SEL;
    }
    let mcv_share: f64 = col.mcv.iter().map(|(_, f)| f).sum();
    let rest = (1.0 - col.null_frac - mcv_share).max(0.0);
    rest / (col.n_distinct - col.mcv.len() as f64).max(1.0)
}

pub(super) fn low_cardinality(col: &ColumnStats, s: &Settings) -> bool {
    let mcv_share: f64 = col.mcv.iter().map(|(_, f)| f).sum();
    (col.n_distinct > 0.0 && col.n_distinct <= s.partial_max_distinct)
        || (!col.mcv.is_empty() && mcv_share + col.null_frac >= LOW_CARDINALITY_MCV_SHARE)
}

/// Base type name, lower-case, without modifiers: `character varying(20)` → `character varying`.
pub(super) fn base_type(type_name: &str) -> String {
    type_name.split('(').next().unwrap_or("").trim().to_ascii_lowercase()
}

pub(super) fn text_like(type_name: &str) -> bool {
    !type_name.ends_with("[]")
        && matches!(
            base_type(type_name).as_str(),
            "" | "text"
                | "character varying"
                | "varchar"
                | "character"
                | "char"
                | "bpchar"
                | "name"
                | "citext"
        )
}

/// `'value'` for a text-like column, `'value'::type` otherwise.
pub(super) fn literal_for(value: &str, type_name: &str) -> String {
    if text_like(type_name) {
        quote_literal(value)
    } else {
        format!("{}::{}", quote_literal(value), type_name)
    }
}

/// B-tree operator class for left-anchored LIKE on a collation other than C.
pub(super) fn pattern_opclass_for(type_name: &str) -> &'static str {
    match base_type(type_name).as_str() {
        "character varying" | "varchar" => "varchar_pattern_ops",
        "character" | "char" | "bpchar" => "bpchar_pattern_ops",
        _ => "text_pattern_ops",
    }
}

/// The pattern has fewer than 3 characters that are not wildcards or regex syntax in every
/// sampled constant (trigram indexes cannot search on it).
pub(super) fn short_pattern(q: &Qual) -> bool {
    let literal_chars = |p: &str| p.chars().filter(|c| !"%_\\.*+?^$()[]{}|".contains(*c)).count();
    !q.constants.is_empty() && q.constants.iter().all(|c| literal_chars(c) < TRGM_MIN_CHARS)
}

pub(super) fn plain_key(expr: KeyExpr) -> Key {
    Key { expr, desc: false, nulls_first: false, opclass: None, collation: None }
}

/// Kind of a one-key B-tree candidate.
pub(super) fn single_kind(expr: &KeyExpr, join: bool) -> CandidateKind {
    if join {
        CandidateKind::Join
    } else if matches!(expr, KeyExpr::Expr(_)) {
        CandidateKind::Expression
    } else {
        CandidateKind::Single
    }
}

/// A B-tree scanned backward serves the fully inverted order: all-DESC key lists become ASC
/// (NULLS order inverted too); mixed directions stay.
pub(super) fn normalize_directions(mut keys: Vec<Key>) -> Vec<Key> {
    if !keys.is_empty() && keys.iter().all(|k| k.desc) {
        for k in &mut keys {
            k.desc = false;
            k.nulls_first = !k.nulls_first;
        }
    }
    keys
}
