//! Bound parameter values as PostgreSQL logs them (`$1 = '42', $2 = NULL`), which is how an
//! example keeps them: parsed back into values by number, as the bytes they were recorded in.

/// Parse `$1 = 'a', $2 = NULL, ...` (PostgreSQL's parameter log format) into values by number,
/// as the bytes they were recorded in (the database's encoding).
pub fn parse_param_log(s: &[u8]) -> Vec<Option<Vec<u8>>> {
    let mut out: Vec<Option<Vec<u8>>> = vec![];
    let b = s;
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == b' ' || b[i] == b',') {
            i += 1;
        }
        if i >= b.len() || b[i] != b'$' {
            break;
        }
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let Some(n) = std::str::from_utf8(&b[start..i]).ok().and_then(|d| d.parse::<usize>().ok()) else { break };
        while i < b.len() && (b[i] == b' ' || b[i] == b'=') {
            i += 1;
        }
        let value = if b[i..].starts_with(b"NULL") {
            i += 4;
            None
        } else if i < b.len() && b[i] == b'\'' {
            i += 1;
            let mut v = Vec::new();
            while i < b.len() {
                if b[i] == b'\'' {
                    if i + 1 < b.len() && b[i + 1] == b'\'' {
                        v.push(b'\'');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                v.push(b[i]);
                i += 1;
            }
            Some(v)
        } else {
            break;
        };
        if n == 0 {
            break;
        }
        if out.len() < n {
            out.resize(n, None);
        }
        out[n - 1] = value;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::parse_param_log;

    #[test]
    fn parameter_log_round_trip() {
        let v = |s: &str| Some(s.as_bytes().to_vec());
        assert_eq!(parse_param_log(b"$1 = '42', $2 = 'it''s', $3 = NULL"), vec![v("42"), v("it's"), None]);
        assert_eq!(parse_param_log(b""), Vec::<Option<Vec<u8>>>::new());
        assert_eq!(parse_param_log(b"$2 = 'x'"), vec![None, v("x")]);
        assert_eq!(parse_param_log(b"$1 = 'a, $2 = b'"), vec![v("a, $2 = b")]);
        // Bytes of another encoding (LATIN1 'caf\xe9') pass through untouched.
        assert_eq!(parse_param_log(b"$1 = 'caf\xe9'"), vec![Some(b"caf\xe9".to_vec())]);
    }
}
