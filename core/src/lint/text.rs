//! Message text: fragments trimmed for findings, numbers in words, names for DDL.

/// Longest fragment in a finding, in characters.
pub(crate) const MAX_FRAGMENT_CHARS: usize = 200;

/// Trim whitespace and cut to at most [`MAX_FRAGMENT_CHARS`] characters (the last one an
/// ellipsis when cut).
pub(crate) fn trim_fragment(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() <= MAX_FRAGMENT_CHARS {
        return s.to_string();
    }
    let mut out: String = s.chars().take(MAX_FRAGMENT_CHARS - 1).collect();
    out.push('…');
    out
}

/// A number for a message: integers without decimals, small values with one or two.
pub(crate) fn num(x: f64) -> String {
    if !x.is_finite() {
        return "?".to_string();
    }
    let a = x.abs();
    if (x.fract() == 0.0 && a < 1e15) || a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 1.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// An identifier as SQL text: bare when it is a plain lower-case name, else double-quoted.
pub(crate) fn ident(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// Normalise an expression's text for comparison with an index expression: lower case, no
/// whitespace, parentheses or double quotes.
pub(crate) fn normalise_expression(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '(' | ')' | '"'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// [`normalise_expression`] without the casts PostgreSQL adds when it prints an index
/// expression (`lower((email)::text)`, `date_trunc('day'::text, ts)`).
pub(crate) fn normalise_without_text_casts(s: &str) -> String {
    let n = normalise_expression(s);
    n.replace("::charactervarying", "").replace("::text", "")
}

/// A table name's singular, for `<singular>_id` foreign-key names: categories -> category,
/// customers -> customer, address -> address.
pub(crate) fn singular(name: &str) -> String {
    if let Some(stem) = name.strip_suffix("ies") {
        format!("{stem}y")
    } else if name.ends_with("ss") {
        name.to_string()
    } else if let Some(stem) = name.strip_suffix('s') {
        stem.to_string()
    } else {
        name.to_string()
    }
}

/// A count with its noun in the right number: "1 call", "3 calls", "0.5 rows".
pub(crate) fn count(x: f64, one: &str, many: &str) -> String {
    let n = num(x);
    format!("{n} {}", if n == "1" { one } else { many })
}
