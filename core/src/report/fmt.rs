//! Escaping and the formatting of numbers, sizes, durations and long texts, shared by the HTML
//! page, its SVG charts and the psql text.

use std::fmt::Write;

/// `s` safe anywhere in HTML text, in a quoted attribute value and in SVG `<text>`: `&` `<` `>`
/// `"` `'` become character references, and control characters other than tab, newline and
/// carriage return (not allowed in an HTML document) become U+FFFD.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A byte count the way PostgreSQL's `pg_size_pretty(bigint)` (15 and later) writes it: an
/// integer and one of `bytes`, `kB`, `MB`, `GB`, `TB`, `PB` (steps of 1024), a unit used while
/// the value is below 10240 of it, rounded half away from zero past bytes: `10239 bytes`,
/// `10 kB`, `1024 kB` (1 MiB), `10 MB`. `n` is rounded to a whole byte first; NaN and the
/// infinities, which are no size, give `?`.
pub fn pretty_bytes(n: f64) -> String {
    // (name, limit, half rounding, bits of the unit): PostgreSQL's size_pretty_units.
    const UNITS: [(&str, i128, bool, u32); 6] = [
        ("bytes", 10 * 1024, false, 0),
        ("kB", 20 * 1024 - 1, true, 10),
        ("MB", 20 * 1024 - 1, true, 20),
        ("GB", 20 * 1024 - 1, true, 30),
        ("TB", 20 * 1024 - 1, true, 40),
        ("PB", 20 * 1024 - 1, true, 50),
    ];
    if !n.is_finite() {
        return "?".to_string();
    }
    // `as` saturates at the i64 bounds, like a bigint.
    let mut size = n.round() as i64 as i128;
    for (i, &(name, limit, round, bits)) in UNITS.iter().enumerate() {
        let last = i + 1 == UNITS.len();
        if last || size.abs() < limit {
            if round {
                size = (size + if size < 0 { -1 } else { 1 }) / 2;
            }
            return format!("{size} {name}");
        }
        // One bit less when the next unit rounds (it keeps half units), one more when this one
        // did; division, not a shift, so negative values round like positive ones.
        let (_, _, next_round, next_bits) = UNITS[i + 1];
        let shift = next_bits - bits - u32::from(next_round) + u32::from(round);
        size /= 1i128 << shift;
    }
    unreachable!("the last unit always returns")
}

/// Display columns of one character: 2 for East Asian wide ones and most emoji, 0 for
/// combining marks and zero-width characters, else 1. An estimate (no Unicode tables), good
/// enough to keep columns aligned and labels inside their box.
fn char_width(c: char) -> usize {
    match c as u32 {
        0x0300..=0x036F | 0x200B..=0x200F | 0xFE00..=0xFE0F => 0,
        0x1100..=0x115F
        | 0x2E80..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

/// Display columns of `s` (see `char_width`).
pub(crate) fn width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// `s` on one line (every run of whitespace one space, trimmed), at most `max` columns wide: a
/// longer one is cut and ends with `…`.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    cut(&one_line, max)
}

/// `s` at most `max` columns wide, cut with a closing `…` when longer (nothing at all when
/// `max` is 0).
pub(crate) fn cut(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = char_width(c);
        if used + w > max - 1 {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// `s` wrapped to lines of at most `max` columns (at least 1): each line of `s` separately,
/// at spaces where possible, a word longer than a line broken inside.
pub(crate) fn wrap(s: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut lines = Vec::new();
    for para in s.lines() {
        let mut line = String::new();
        let mut used = 0;
        for word in para.split_whitespace() {
            let ww = width(word);
            if used > 0 && used + 1 + ww <= max {
                line.push(' ');
                line.push_str(word);
                used += 1 + ww;
                continue;
            }
            if used > 0 {
                lines.push(std::mem::take(&mut line));
                used = 0;
            }
            // `word` starts a line; break it while it is too long.
            for c in word.chars() {
                let w = char_width(c);
                if used + w > max && used > 0 {
                    lines.push(std::mem::take(&mut line));
                    used = 0;
                }
                line.push(c);
                used += w;
            }
        }
        lines.push(line);
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

/// `x` with few digits and no trailing zeros: `0`, `0.05`, `1.5`, `12.3`, `250`.
pub(crate) fn compact(x: f64) -> String {
    let a = x.abs();
    let decimals = if a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        4
    };
    let mut s = format!("{x:.decimals$}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".to_string();
    }
    s
}

/// A duration in milliseconds with its unit: `0.150 ms`, `12.3 ms`, `1.50 s`, `2.5 min`, `1.2 h`.
pub(crate) fn ms(v: f64) -> String {
    let a = v.abs();
    if a < 1.0 {
        format!("{v:.3} ms")
    } else if a < 10.0 {
        format!("{v:.2} ms")
    } else if a < 1000.0 {
        format!("{v:.1} ms")
    } else if a < 60_000.0 {
        format!("{:.2} s", v / 1000.0)
    } else if a < 3_600_000.0 {
        format!("{:.1} min", v / 60_000.0)
    } else {
        format!("{:.1} h", v / 3_600_000.0)
    }
}

/// A bucket bound in milliseconds, short for an axis: `0.1ms`, `10ms`, `2.5s`, `1min`, `2h`.
pub(crate) fn ms_axis(v: f64) -> String {
    let a = v.abs();
    if a >= 3_600_000.0 {
        format!("{}h", compact(v / 3_600_000.0))
    } else if a >= 60_000.0 {
        format!("{}min", compact(v / 60_000.0))
    } else if a >= 1000.0 {
        format!("{}s", compact(v / 1000.0))
    } else {
        format!("{}ms", compact(v))
    }
}

/// A share (0.523) as a percentage: `52.3%`.
pub(crate) fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// A count: a whole number with thousands separators (`10,000`), anything else with two
/// decimals.
pub(crate) fn count(n: f64) -> String {
    if n.fract() != 0.0 || n.abs() >= 1e15 {
        return format!("{n:.2}");
    }
    let digits = format!("{}", n.abs() as u64);
    let mut out = String::new();
    if n < 0.0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `n` things: `1 finding`, `3 findings`, `10,000 statements` (`word` takes an `s`).
pub(crate) fn counted(n: f64, word: &str) -> String {
    if n == 1.0 {
        format!("1 {word}")
    } else {
        format!("{} {word}s", count(n))
    }
}

/// A duration in seconds in its two largest units: `45 s`, `1 h`, `1 h 30 min`, `2 d 4 h`.
pub(crate) fn duration(seconds: f64) -> String {
    if seconds < 60.0 {
        return format!("{} s", compact(seconds));
    }
    let total = seconds.round() as u64;
    let parts = [
        (total / 86_400, "d"),
        (total % 86_400 / 3600, "h"),
        (total % 3600 / 60, "min"),
        (total % 60, "s"),
    ];
    let first = parts.iter().position(|(n, _)| *n > 0).unwrap_or(3);
    let mut out = String::new();
    for (n, unit) in parts[first..].iter().take(2) {
        if *n > 0 {
            if !out.is_empty() {
                out.push(' ');
            }
            let _ = write!(out, "{n} {unit}");
        }
    }
    out
}

/// An optional value formatted, or `-` when absent.
pub(crate) fn or_dash<T>(v: Option<T>, f: impl FnOnce(T) -> String) -> String {
    v.map(f).unwrap_or_else(|| "-".to_string())
}
