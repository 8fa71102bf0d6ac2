//! Parsing (PostgreSQL dialect, recursion-limited, never panics) and positions: sqlparser's
//! line/column spans mapped to 1-based character offsets into the original text, and fragments
//! cut from the text as written.

use sqlparser::ast::Statement;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Location, Span, Token, Tokenizer};

use super::text::trim_fragment;

/// The parser's nesting limit (sqlparser's default): deeper texts are reported as unparsed.
pub(crate) const RECURSION_LIMIT: usize = 50;

/// Most tokens of a text we lint (parsing cost).
pub(crate) const MAX_TOKENS: usize = 50_000;

/// Most nesting a text may have, in units of [`nesting`]: one per operator in a chain, 25 per
/// parenthesis or CASE, 50 per subquery. sqlparser parses `a OR b OR ...` without recursing
/// but builds one nested node per operator, and every walk over the tree (ours, printing,
/// cloning, dropping) recurses once per level; subqueries and calls cost the parser more stack
/// per level (its own recursion limit, [`RECURSION_LIMIT`], also bounds those). Measured on the
/// release build: texts at this limit need less than 2 MB of stack (a backend has 8 MB);
/// debug builds need several times more.
pub(crate) const MAX_NESTING: usize = 1_000;

/// Units of [`MAX_NESTING`] per parenthesis or CASE level.
const PAREN_UNITS: usize = 25;
/// Units of [`MAX_NESTING`] per subquery level (a parenthesis followed by SELECT, WITH, VALUES).
const SUBQUERY_UNITS: usize = 50;

/// An estimate of how deep the parsed tree and the parser's recursion go, from the tokens:
/// the most, over the text, of the open parentheses/CASEs (and subqueries) plus the operators
/// chained at each open level (a comma ends a chain).
pub(crate) fn nesting(tokens: &[Token]) -> usize {
    // Per open level: (its own units, operators chained in it so far).
    let mut stack: Vec<(usize, usize)> = vec![(0, 0)];
    let mut total = 0usize;
    let mut max = 0usize;
    let significant: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    for (i, t) in significant.iter().enumerate() {
        let keyword = match t {
            Token::Word(w) => Some(w.keyword),
            _ => None,
        };
        match (t, keyword) {
            (Token::LParen, _) => {
                let sub = matches!(
                    significant.get(i + 1),
                    Some(Token::Word(w)) if matches!(w.keyword, Keyword::SELECT | Keyword::WITH | Keyword::VALUES)
                );
                let units = if sub { SUBQUERY_UNITS } else { PAREN_UNITS };
                stack.push((units, 0));
                total += units;
            }
            (_, Some(Keyword::CASE)) => {
                stack.push((PAREN_UNITS, 0));
                total += PAREN_UNITS;
            }
            // Close the innermost level (the top level never closes).
            (Token::RParen, _) | (_, Some(Keyword::END)) if stack.len() > 1 => {
                if let Some((units, ops)) = stack.pop() {
                    total = total.saturating_sub(units + ops);
                }
            }
            (Token::Comma, _) => {
                if let Some(top) = stack.last_mut() {
                    total = total.saturating_sub(top.1);
                    top.1 = 0;
                }
            }
            _ if is_operator(t) => {
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                    total += 1;
                }
            }
            _ => {}
        }
        max = max.max(total);
    }
    max
}

/// A token that joins two operands into one more level of the tree.
fn is_operator(t: &Token) -> bool {
    match t {
        Token::Word(w) => matches!(w.keyword, Keyword::AND | Keyword::OR),
        Token::DoubleEq
        | Token::Eq
        | Token::Neq
        | Token::Lt
        | Token::Gt
        | Token::LtEq
        | Token::GtEq
        | Token::Plus
        | Token::Minus
        | Token::Mul
        | Token::Div
        | Token::Mod
        | Token::StringConcat
        | Token::DoubleColon
        | Token::Ampersand
        | Token::Pipe
        | Token::Caret
        | Token::Sharp
        | Token::Tilde
        | Token::TildeAsterisk
        | Token::Arrow
        | Token::LongArrow => true,
        _ => false,
    }
}

/// Parse a text into statements, or the parser's message. A trailing `;` is ignored.
pub(crate) fn parse(text: &str) -> Result<Vec<Statement>, String> {
    let body = text.trim_end().trim_end_matches(';');
    if body.trim().is_empty() {
        return Ok(Vec::new());
    }
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, body)
        .tokenize()
        .map_err(|e| e.to_string())?;
    let significant = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .count();
    if significant > MAX_TOKENS {
        return Err(format!(
            "statement too long to lint: {significant} tokens (at most {MAX_TOKENS})"
        ));
    }
    let depth = nesting(&tokens);
    if depth > MAX_NESTING {
        return Err(format!(
            "statement nested too deeply to lint: nesting {depth} (at most {MAX_NESTING}; an operator in a chain counts 1, a parenthesis or CASE {PAREN_UNITS}, a subquery {SUBQUERY_UNITS})"
        ));
    }
    // sqlparser should never panic, but a panic here must not take the caller down with it.
    let result = std::panic::catch_unwind(|| {
        Parser::new(&dialect)
            .with_recursion_limit(RECURSION_LIMIT)
            .try_with_sql(body)
            .and_then(|mut p| p.parse_statements())
            .map_err(|e| e.to_string())
    });
    match result {
        Ok(r) => r,
        Err(_) => Err("the SQL parser failed on this text".to_string()),
    }
}

/// The original text with a line index, to turn spans into character offsets and fragments.
pub(crate) struct Source<'a> {
    text: &'a str,
    /// Character offset of the first character of each line (line 1 first).
    line_starts: Vec<usize>,
    /// Byte offset of each character, plus the text's length at the end.
    char_bytes: Vec<usize>,
    chars: Vec<char>,
}

impl<'a> Source<'a> {
    /// Index a text.
    pub(crate) fn new(text: &'a str) -> Self {
        let mut line_starts = vec![0];
        let mut char_bytes = Vec::with_capacity(text.len() + 1);
        let mut chars = Vec::with_capacity(text.len());
        for (i, (b, c)) in text.char_indices().enumerate() {
            char_bytes.push(b);
            chars.push(c);
            if c == '\n' {
                line_starts.push(i + 1);
            }
        }
        char_bytes.push(text.len());
        Source {
            text,
            line_starts,
            char_bytes,
            chars,
        }
    }

    /// Number of characters.
    pub(crate) fn len(&self) -> usize {
        self.chars.len()
    }

    /// 0-based character offset of a location (line and column 1-based, as the tokenizer
    /// counts them: one column per character). None for the empty location or one outside
    /// the text.
    pub(crate) fn offset(&self, loc: Location) -> Option<usize> {
        if loc.line == 0 || loc.column == 0 {
            return None;
        }
        let start = *self.line_starts.get(usize::try_from(loc.line - 1).ok()?)?;
        let off = start.checked_add(usize::try_from(loc.column - 1).ok()?)?;
        (off <= self.len()).then_some(off)
    }

    /// The text between two character offsets (clamped).
    pub(crate) fn slice(&self, start: usize, end: usize) -> &'a str {
        let end = end.min(self.len());
        let start = start.min(end);
        &self.text[self.char_bytes[start]..self.char_bytes[end]]
    }

    /// A span's character range [start, end), widened to balance parentheses the span leaves
    /// out (a subquery's or function call's closing parenthesis) and to take a trailing
    /// `::type` cast. None when the span is empty or outside the text.
    pub(crate) fn range(&self, span: Span) -> Option<(usize, usize)> {
        let start = self.offset(span.start)?;
        let end = self.offset(span.end)?;
        if end <= start {
            return None;
        }
        Some(self.widen(start, end))
    }

    /// Widen [start, end) to balanced parentheses and trailing casts.
    fn widen(&self, mut start: usize, mut end: usize) -> (usize, usize) {
        let (open, min) = self.depth(start, end);
        // Unmatched `)` inside: take the `(` just before the range.
        for _ in 0..(-min).max(0) {
            let mut i = start;
            while i > 0 && self.chars[i - 1].is_whitespace() {
                i -= 1;
            }
            if i > 0 && self.chars[i - 1] == '(' {
                start = i - 1;
            } else {
                break;
            }
        }
        // Unclosed `(` inside: take the `)` just after the range.
        for _ in 0..(open - min).max(0) {
            let mut i = end;
            while i < self.len() && self.chars[i].is_whitespace() {
                i += 1;
            }
            if i < self.len() && self.chars[i] == ')' {
                end = i + 1;
            } else {
                break;
            }
        }
        // Trailing casts: `::date`, `::timestamp(0)`, `::text[]`.
        while end + 1 < self.len() && self.chars[end] == ':' && self.chars[end + 1] == ':' {
            let mut i = end + 2;
            while i < self.len()
                && (self.chars[i].is_alphanumeric() || "_.\"[]".contains(self.chars[i]))
            {
                i += 1;
            }
            if i == end + 2 {
                break;
            }
            end = i;
        }
        (start, end)
    }

    /// Net parenthesis depth over [start, end) and its minimum, outside quotes.
    fn depth(&self, start: usize, end: usize) -> (i64, i64) {
        let (mut depth, mut min) = (0i64, 0i64);
        let mut quote: Option<char> = None;
        for &c in &self.chars[start..end] {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    '\'' | '"' => quote = Some(c),
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        min = min.min(depth);
                    }
                    _ => {}
                },
            }
        }
        (depth, min)
    }

    /// The fragment for a span: (1-based position, text as written, trimmed to <= 200
    /// characters). When the span is unknown, the first case-insensitive occurrence of
    /// `fallback` (e.g. the node printed by sqlparser); else position 0 and `fallback` itself.
    pub(crate) fn fragment(&self, span: Span, fallback: &str) -> (usize, String) {
        if let Some((start, end)) = self.range(span) {
            return (start + 1, trim_fragment(self.slice(start, end)));
        }
        self.find_text(fallback)
    }

    /// The fragment for an explicit character range.
    pub(crate) fn fragment_range(&self, start: usize, end: usize) -> (usize, String) {
        (start + 1, trim_fragment(self.slice(start, end)))
    }

    /// The first case-insensitive occurrence of `needle`: (1-based position, text as written);
    /// (0, needle) when absent.
    pub(crate) fn find_text(&self, needle: &str) -> (usize, String) {
        match self.find_ci(needle, 0) {
            Some(at) => {
                let n = needle.chars().count();
                (at + 1, trim_fragment(self.slice(at, at + n)))
            }
            None => (0, trim_fragment(needle)),
        }
    }

    /// Character offset of the first case-insensitive occurrence of `needle` at or after `from`.
    pub(crate) fn find_ci(&self, needle: &str, from: usize) -> Option<usize> {
        let needle: Vec<char> = needle.chars().flat_map(char::to_lowercase).collect();
        if needle.is_empty() || needle.len() > self.len() {
            return None;
        }
        (from..=self.len() - needle.len()).find(|&i| {
            needle
                .iter()
                .enumerate()
                .all(|(k, n)| self.chars[i + k].to_lowercase().eq(std::iter::once(*n)))
        })
    }

    /// If the keyword `kw` follows `from` (after whitespace), the offset just after it.
    pub(crate) fn keyword_after(&self, from: usize, kw: &str) -> Option<usize> {
        let mut i = from;
        while i < self.len() && self.chars[i].is_whitespace() {
            i += 1;
        }
        let n = kw.chars().count();
        if i + n > self.len() {
            return None;
        }
        let word = self.slice(i, i + n);
        let boundary = i + n == self.len() || !is_word_char(self.chars[i + n]);
        (word.eq_ignore_ascii_case(kw) && boundary).then_some(i + n)
    }

    /// If the keyword `kw` ends just before `to` (before whitespace), the offset of its start.
    pub(crate) fn keyword_before(&self, to: usize, kw: &str) -> Option<usize> {
        let mut i = to.min(self.len());
        while i > 0 && self.chars[i - 1].is_whitespace() {
            i -= 1;
        }
        let n = kw.chars().count();
        if i < n {
            return None;
        }
        let word = self.slice(i - n, i);
        let boundary = i == n || !is_word_char(self.chars[i - n - 1]);
        (word.eq_ignore_ascii_case(kw) && boundary).then_some(i - n)
    }
}

/// A character that continues an identifier or keyword.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}
