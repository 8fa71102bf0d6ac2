//! Query text normalisation: replace each constant the core query jumbler found with `$n`, so that
//! one entry stands for all executions that differ only in constants.
//!
//! The jumbler reports where each constant starts (`JumbleState.clocations`) but not where it ends;
//! [`token_len`] lexes the one token found there with PostgreSQL's rules for literals (numbers,
//! '...' strings with '' and continuation lines, E'...' / B'...' / X'...' / N'...' / U&'...',
//! $tag$...$tag$ dollar quotes, a leading minus sign) and for words (`TRUE`, `NULL`, type names).
//! Works on bytes: the server encoding need not be UTF-8, and every byte we look for is ASCII.

/// The byte range of one statement in a (possibly multi-statement) source string, with leading and
/// trailing white space trimmed. `location < 0` means the whole string; `len <= 0` means "to the end".
pub fn statement_range(text: &[u8], location: i32, len: i32) -> (usize, usize) {
    let mut start = if location >= 0 { (location as usize).min(text.len()) } else { 0 };
    let mut end = if location >= 0 && len > 0 {
        (start + len as usize).min(text.len())
    } else {
        text.len()
    };
    while start < end && text[start].is_ascii_whitespace() {
        start += 1;
    }
    while end > start && text[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    (start, end)
}

#[inline]
fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

#[inline]
fn is_ident_cont(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// Skip white space and comments (`-- ...` and nested `/* ... */`) from `pos`.
fn skip_space(s: &[u8], mut pos: usize) -> usize {
    loop {
        while pos < s.len() && s[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if s[pos..].starts_with(b"--") {
            while pos < s.len() && s[pos] != b'\n' {
                pos += 1;
            }
        } else if s[pos..].starts_with(b"/*") {
            let mut depth = 0usize;
            while pos < s.len() {
                if s[pos..].starts_with(b"/*") {
                    depth += 1;
                    pos += 2;
                } else if s[pos..].starts_with(b"*/") {
                    depth -= 1;
                    pos += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    pos += 1;
                }
            }
        } else {
            return pos;
        }
    }
}

/// End of a quoted literal whose opening quote is at `pos`. `backslash` says whether `\` escapes
/// (E'' strings, or any string with standard_conforming_strings off). Adjacent literals separated
/// by white space containing a newline are one literal in SQL.
fn quoted_end(s: &[u8], mut pos: usize, backslash: bool) -> Option<usize> {
    debug_assert_eq!(s[pos], b'\'');
    loop {
        pos += 1;
        loop {
            if pos >= s.len() {
                return None;
            }
            match s[pos] {
                b'\\' if backslash => pos += 2,
                b'\'' => {
                    if pos + 1 < s.len() && s[pos + 1] == b'\'' {
                        pos += 2;
                    } else {
                        pos += 1;
                        break;
                    }
                }
                _ => pos += 1,
            }
        }
        // continuation: 'foo'\n'bar'
        let mut p = pos;
        let mut newline = false;
        while p < s.len() && s[p].is_ascii_whitespace() {
            newline |= s[p] == b'\n' || s[p] == b'\r';
            p += 1;
        }
        if newline && p < s.len() && s[p] == b'\'' {
            pos = p;
            continue;
        }
        return Some(pos);
    }
}

/// End of a dollar-quoted string starting at `pos` (`$$...$$` or `$tag$...$tag$`).
fn dollar_end(s: &[u8], pos: usize) -> Option<usize> {
    let mut p = pos + 1;
    if p < s.len() && is_ident_start(s[p]) {
        while p < s.len() && is_ident_cont(s[p]) && s[p] != b'$' {
            p += 1;
        }
    }
    if p >= s.len() || s[p] != b'$' {
        return None;
    }
    let tag = &s[pos..=p];
    let body = p + 1;
    s[body..].windows(tag.len()).position(|w| w == tag).map(|i| body + i + tag.len())
}

fn number_end(s: &[u8], mut pos: usize) -> Option<usize> {
    let start = pos;
    if pos < s.len() && s[pos] == b'.' {
        pos += 1;
    }
    if pos >= s.len() || !s[pos].is_ascii_digit() {
        return None;
    }
    while pos < s.len() {
        let b = s[pos];
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' {
            // "1..5" is not one number; a dot followed by a dot ends it
            if b == b'.' && pos + 1 < s.len() && s[pos + 1] == b'.' {
                break;
            }
            // exponent sign: 1e-5, 2.5E+3
            if (b == b'e' || b == b'E')
                && pos + 2 < s.len()
                && (s[pos + 1] == b'+' || s[pos + 1] == b'-')
                && s[pos + 2].is_ascii_digit()
                && !s[start..pos].iter().any(|c| c.is_ascii_alphabetic())
            {
                pos += 2;
                continue;
            }
            pos += 1;
        } else {
            break;
        }
    }
    Some(pos)
}

/// Length in bytes of the constant token starting at `pos`, or None when nothing we recognise
/// as a constant starts there (the caller then leaves the text as it is).
pub fn token_len(s: &[u8], pos: usize, standard_conforming_strings: bool) -> Option<usize> {
    if pos >= s.len() {
        return None;
    }
    let b = s[pos];
    let end = match b {
        b'-' => {
            let p = skip_space(s, pos + 1);
            number_end(s, p)
        }
        b'0'..=b'9' | b'.' => number_end(s, pos),
        b'\'' => quoted_end(s, pos, !standard_conforming_strings),
        b'$' => dollar_end(s, pos),
        b'e' | b'E' if s.get(pos + 1) == Some(&b'\'') => quoted_end(s, pos + 1, true),
        b'b' | b'B' | b'x' | b'X' | b'n' | b'N' if s.get(pos + 1) == Some(&b'\'') => {
            quoted_end(s, pos + 1, !standard_conforming_strings)
        }
        b'u' | b'U' if s.get(pos + 1) == Some(&b'&') && s.get(pos + 2) == Some(&b'\'') => {
            quoted_end(s, pos + 2, false)
        }
        b'"' => {
            // a quoted identifier cannot be a constant, but be exact about its extent anyway
            let mut p = pos + 1;
            loop {
                if p >= s.len() {
                    break None;
                }
                if s[p] == b'"' {
                    if s.get(p + 1) == Some(&b'"') {
                        p += 2;
                        continue;
                    }
                    break Some(p + 1);
                }
                p += 1;
            }
        }
        _ if is_ident_start(b) => {
            let mut p = pos + 1;
            while p < s.len() && is_ident_cont(s[p]) {
                p += 1;
            }
            Some(p)
        }
        _ => None,
    }?;
    if end > pos {
        Some(end - pos)
    } else {
        None
    }
}

/// Replace the constants at `locations` (byte offsets into `text`, any order, duplicates allowed)
/// with `$first_param`, `$first_param+1`, ... Returns the new text and how many were replaced.
pub fn normalize(
    text: &[u8],
    locations: &[usize],
    first_param: i32,
    standard_conforming_strings: bool,
) -> (Vec<u8>, usize) {
    let mut locs: Vec<usize> = locations.iter().copied().filter(|&l| l < text.len()).collect();
    locs.sort_unstable();
    locs.dedup();
    let mut out = Vec::with_capacity(text.len() + 8);
    let mut last = 0usize;
    let mut n = first_param.max(1);
    let mut replaced = 0usize;
    for loc in locs {
        if loc < last {
            continue; // inside a constant we already replaced
        }
        let Some(len) = token_len(text, loc, standard_conforming_strings) else {
            continue;
        };
        out.extend_from_slice(&text[last..loc]);
        out.push(b'$');
        out.extend_from_slice(n.to_string().as_bytes());
        n += 1;
        replaced += 1;
        last = loc + len;
    }
    out.extend_from_slice(&text[last..]);
    (out, replaced)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(q: &str, needles: &[&str]) -> String {
        // locate each needle (in order, non-overlapping) to build the location list
        let mut locs = Vec::new();
        let mut from = 0;
        for n in needles {
            let at = q[from..].find(n).unwrap() + from;
            locs.push(at);
            from = at + n.len();
        }
        String::from_utf8(normalize(q.as_bytes(), &locs, 1, true).0).unwrap()
    }

    #[test]
    fn numbers_and_strings() {
        assert_eq!(norm("SELECT 1, 2.5, 'a''b'", &["1", "2.5", "'a"]), "SELECT $1, $2, $3");
        assert_eq!(norm("select * from t where x = 1e-5 and y = .5", &["1e", ".5"]), "select * from t where x = $1 and y = $2");
        assert_eq!(norm("select 0x1F, 1_000_000", &["0x", "1_"]), "select $1, $2");
    }

    #[test]
    fn negative_numbers() {
        assert_eq!(norm("select -5, - 7.5 + 1", &["-5", "- 7", "1"]), "select $1, $2 + $3");
    }

    #[test]
    fn special_strings() {
        assert_eq!(norm(r"select E'it\'s', B'101', X'ff', N'n', U&'d\0061'", &["E'", "B'", "X'", "N'", "U&"]), "select $1, $2, $3, $4, $5");
        assert_eq!(norm("select $$a'b$$, $fn$x$$y$fn$", &["$$", "$fn"]), "select $1, $2");
        assert_eq!(norm("select 'foo'\n  'bar' as c", &["'foo"]), "select $1 as c");
        // without a newline the second literal is separate (and a syntax error in SQL; still lex one)
        assert_eq!(token_len(b"'a' 'b'", 0, true), Some(3));
    }

    #[test]
    fn backslashes_depend_on_standard_conforming_strings() {
        // standard strings: 'a\' is complete; with backslash escapes the quote is escaped and the
        // literal runs to the next quote: 'a\' || '
        let q = br"'a\' || 'b'";
        assert_eq!(token_len(q, 0, true), Some(4));
        assert_eq!(token_len(q, 0, false), Some(9));
    }

    #[test]
    fn words_and_params() {
        assert_eq!(norm("select true, null where a = $1", &["true", "null"]), "select $1, $2 where a = $1");
        // the caller passes highest_extern_param_id + 1 so constants do not collide with params
        let (out, n) = normalize(b"select $1 + 5", &[12], 2, true);
        assert_eq!((String::from_utf8(out).unwrap(), n), ("select $1 + $2".to_string(), 1));
    }

    #[test]
    fn duplicates_unknown_and_out_of_range() {
        let (out, n) = normalize(b"select 1", &[7, 7, 100], 1, true);
        assert_eq!((out.as_slice(), n), (b"select $1".as_slice(), 1));
        // nothing recognisable at the location: left alone
        let (out, n) = normalize(b"select (1)", &[7], 1, true);
        assert_eq!((out.as_slice(), n), (b"select (1)".as_slice(), 0));
        assert_eq!(token_len(b"'unterminated", 0, true), None);
        assert_eq!(token_len(b"$$unterminated", 0, true), None);
    }

    #[test]
    fn utf8_and_comments() {
        assert_eq!(norm("select 'zürich' /* c */, -- x\n 3", &["'z", "3"]), "select $1 /* c */, -- x\n $2");
        assert_eq!(token_len("- /* c */ 4".as_bytes(), 0, true), Some(11));
    }

    #[test]
    fn statement_ranges() {
        let q = b"select 1;  select 2 ;";
        assert_eq!(statement_range(q, 0, 8), (0, 8));
        assert_eq!(statement_range(q, 9, 11), (11, 19));
        assert_eq!(statement_range(q, -1, 0), (0, q.len()));
        assert_eq!(statement_range(b"  x  ", 0, 0), (2, 3));
        assert_eq!(statement_range(b"x", 5, 3), (1, 1));
    }
}
