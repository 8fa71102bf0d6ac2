//! Workload compression: statements that plan alike are costed once. PostgreSQL gives each
//! IN-list length its own query id (`a IN ($1, $2)` and `a IN ($1, $2, $3)` differ), so an
//! application that builds IN lists fills the statement store with hundreds of query ids of one
//! shape; costing each would spend the advisor's planner calls on copies. Statements of one
//! shape (the same normalised text once placeholder numbers and the lengths of placeholder
//! lists are ignored) and one role are costed once, as the heaviest of them, with the summed
//! weight of all.

/// The shape of a normalised statement text: `$n` becomes `$`, a parenthesised or bracketed list
/// of placeholders only becomes one `$...`, and runs of white space become one space.
pub fn shape_key(query: &str) -> String {
    // 1. placeholders without their numbers, white space squashed
    let mut flat = String::with_capacity(query.len());
    let mut chars = query.chars().peekable();
    let mut space = false;
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !flat.is_empty() {
            flat.push(' ');
        }
        space = false;
        flat.push(c);
        if c == '$' {
            while chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                chars.next();
            }
        }
    }
    // 2. lists of placeholders only: "($, $, $)" -> "($...)", "[$,$]" -> "[$...]"
    let b = flat.as_bytes();
    let mut out = String::with_capacity(flat.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'(' || b[i] == b'[' {
            let close = if b[i] == b'(' { b')' } else { b']' };
            let mut j = i + 1;
            let mut items = 0;
            let mut ok = true;
            loop {
                while j < b.len() && b[j] == b' ' {
                    j += 1;
                }
                if j < b.len() && b[j] == b'$' {
                    items += 1;
                    j += 1;
                } else {
                    ok = false;
                    break;
                }
                while j < b.len() && b[j] == b' ' {
                    j += 1;
                }
                if j < b.len() && b[j] == b',' {
                    j += 1;
                    continue;
                }
                break;
            }
            if ok && items > 1 && j < b.len() && b[j] == close {
                out.push(b[i] as char);
                out.push_str("$...");
                out.push(close as char);
                i = j + 1;
                continue;
            }
        }
        // Copy one whole character (the text may hold multibyte ones).
        let ch = flat[i..].chars().next().expect("in range");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Groups of equal keys, in the order each key first appears; each group lists the indices of
/// its members in order.
pub fn groups<K: Eq + std::hash::Hash + Clone>(keys: &[K]) -> Vec<Vec<usize>> {
    let mut index: std::collections::HashMap<K, usize> = std::collections::HashMap::new();
    let mut out: Vec<Vec<usize>> = vec![];
    for (i, k) in keys.iter().enumerate() {
        match index.get(k) {
            Some(&g) => out[g].push(i),
            None => {
                index.insert(k.clone(), out.len());
                out.push(vec![i]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_lists_of_any_length_share_a_shape() {
        let a = shape_key("SELECT * FROM t WHERE a IN ($1, $2) AND b >= $3 ORDER BY c LIMIT $4");
        let b = shape_key("SELECT * FROM t WHERE a IN ($1, $2, $3, $4, $5)  AND b >= $6\n ORDER BY c LIMIT $7");
        assert_eq!(a, b);
        assert_eq!(a, "SELECT * FROM t WHERE a IN ($...) AND b >= $ ORDER BY c LIMIT $");
        assert_eq!(shape_key("SELECT $1 = ANY(ARRAY[$2,$3,$4])"), shape_key("SELECT $1 = ANY(ARRAY[$2, $3])"));
    }

    #[test]
    fn different_statements_keep_different_shapes() {
        // one item is not a list: a IN ($1) plans like a = $1, not like a list
        assert_ne!(shape_key("SELECT * FROM t WHERE a IN ($1)"), shape_key("SELECT * FROM t WHERE a IN ($1, $2)"));
        assert_ne!(shape_key("SELECT * FROM t WHERE a = $1"), shape_key("SELECT * FROM t WHERE b = $1"));
        // a list with a constant in it is not a placeholder list
        assert_ne!(shape_key("SELECT f($1, 'x')"), shape_key("SELECT f($1, $2)"));
        // function arguments of placeholders only collapse too, which is harmless: same function
        assert_eq!(shape_key("SELECT f($1, $2)"), "SELECT f($...)");
        // multibyte text survives
        assert_eq!(shape_key("SELECT 'café' FROM t WHERE a IN ($1,$2)"), "SELECT 'café' FROM t WHERE a IN ($...)");
        // unclosed lists and a bare $ do not confuse it
        assert_eq!(shape_key("SELECT ($1, $2"), "SELECT ($, $");
        assert_eq!(shape_key("$"), "$");
    }

    #[test]
    fn groups_in_first_appearance_order() {
        let keys = ["b", "a", "b", "c", "a"];
        assert_eq!(groups(&keys), vec![vec![0, 2], vec![1, 4], vec![3]]);
        assert!(groups::<&str>(&[]).is_empty());
    }
}
