//! Partition arithmetic: the bounds, names and decisions of a partition set, as plain data, and
//! the text of the DDL that makes them (quoting included). `src/partitions` reads the catalogs,
//! asks this module what to do, and runs it as the table's owner.
//!
//! A range partition set is a sequence of consecutive spans of its control column:
//! - by time: spans of whole hours, days, weeks (ISO, from Monday), months, quarters or years,
//!   or of N of any of them (`'2 hours'`, `'3 months'`). Spans of a day or more follow the
//!   calendar of the set's time zone: their bounds are local date-times, which the SQL side turns
//!   into `timestamptz` with `AT TIME ZONE` (so a daily partition is a local day, 23 or 25 hours
//!   long across a daylight-saving change). Spans shorter than a day follow UTC, where every hour
//!   exists exactly once.
//! - by integer: spans of `step` values, `[k * step, (k + 1) * step)`.
//!
//! Every span is aligned: time spans to the start of their unit (multiples of N counted from
//! 1970-01-01 for N > 1), integer spans to multiples of `step`. So the partition of any value is
//! known without looking at the others, and two runs never disagree on a bound.

use chrono::{Datelike, Duration, Months, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// The unit of a time span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

/// How a range partition set divides its control column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Span {
    /// `n` units of time.
    Time { unit: Unit, n: u32 },
    /// `step` integer values.
    Integer { step: i64 },
}

/// Longest time span accepted, in units (10 years of months, 100 years, ...).
const MAX_N: u32 = 1000;

impl Span {
    /// Parse `'daily'`, `'hourly'`, `'weekly'`, `'monthly'`, `'quarterly'`, `'yearly'`, or `N unit`
    /// (`'2 hours'`, `'7 days'`, `'3 months'`, `'1 year'`), or a plain positive integer step for
    /// an integer control column (`'100000'`).
    pub fn parse(text: &str, integer_column: bool) -> Result<Span, String> {
        let t = text.trim().to_ascii_lowercase();
        if integer_column {
            return match t.parse::<i64>() {
                Ok(step) if step > 0 => Ok(Span::Integer { step }),
                _ => Err(format!("\"{}\": an integer control column takes a positive integer step, such as '100000'", text.trim())),
            };
        }
        let word = |unit| Ok(Span::Time { unit, n: 1 });
        match t.as_str() {
            "hourly" => return word(Unit::Hour),
            "daily" => return word(Unit::Day),
            "weekly" => return word(Unit::Week),
            "monthly" => return word(Unit::Month),
            "quarterly" => return word(Unit::Quarter),
            "yearly" => return word(Unit::Year),
            _ => {}
        }
        let bad = || {
            format!(
                "\"{}\" is not a partition interval: use hourly, daily, weekly, monthly, quarterly, yearly, or N hours/days/weeks/months/years",
                text.trim()
            )
        };
        let (n, unit) = t.split_once(char::is_whitespace).ok_or_else(bad)?;
        let n: u32 = n.parse().map_err(|_| bad())?;
        let unit = match unit.trim() {
            "hour" | "hours" => Unit::Hour,
            "day" | "days" => Unit::Day,
            "week" | "weeks" => Unit::Week,
            "month" | "months" => Unit::Month,
            "quarter" | "quarters" => Unit::Quarter,
            "year" | "years" => Unit::Year,
            _ => return Err(bad()),
        };
        if n == 0 || n > MAX_N {
            return Err(format!("\"{}\": the count must be between 1 and {MAX_N}", text.trim()));
        }
        // 24 hours is a (UTC) day of hours, not a local day: say which one is meant.
        if unit == Unit::Hour && n % 24 == 0 {
            return Err(format!("\"{}\": use '{} days' (local days) instead of whole days in hours", text.trim(), n / 24));
        }
        Ok(Span::Time { unit, n })
    }
}

/// A bound of a range partition: a local (or, for hourly spans, UTC) date-time, or an integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bound {
    Time(NaiveDateTime),
    Integer(i64),
}

impl Bound {
    /// The bound as SQL literal text (without the time zone, which the caller applies).
    pub fn literal(&self) -> String {
        match self {
            Bound::Time(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
            Bound::Integer(v) => v.to_string(),
        }
    }
}

/// One partition: `[from, to)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Range {
    pub from: Bound,
    pub to: Bound,
}

fn epoch_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()
}

/// Months since 1970-01 of a date.
fn month_index(d: NaiveDate) -> i64 {
    (d.year() as i64 - 1970) * 12 + d.month0() as i64
}

fn month_start(index: i64) -> Option<NaiveDate> {
    let y = 1970 + index.div_euclid(12);
    let m = index.rem_euclid(12) as u32 + 1;
    NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, 1)
}

impl Span {
    /// The partition holding `value` (a time for a time span, an integer for an integer span).
    pub fn range_of(&self, value: Bound) -> Option<Range> {
        match (*self, value) {
            (Span::Integer { step }, Bound::Integer(v)) => {
                let from = v.div_euclid(step).checked_mul(step)?;
                Some(Range { from: Bound::Integer(from), to: Bound::Integer(from.checked_add(step)?) })
            }
            (Span::Time { unit, n }, Bound::Time(t)) => {
                let from = self.floor_time(unit, n, t)?;
                Some(Range { from: Bound::Time(from), to: Bound::Time(self.add_spans(from, 1)?) })
            }
            _ => None,
        }
    }

    fn floor_time(&self, unit: Unit, n: u32, t: NaiveDateTime) -> Option<NaiveDateTime> {
        let n = n as i64;
        let midnight = |d: NaiveDate| d.and_time(NaiveTime::MIN);
        Some(match unit {
            Unit::Hour => {
                let hours = (t.date() - epoch_day()).num_days() * 24 + t.hour() as i64;
                midnight(epoch_day()) + Duration::hours(hours.div_euclid(n) * n)
            }
            Unit::Day => {
                let days = (t.date() - epoch_day()).num_days();
                midnight(epoch_day() + Duration::days(days.div_euclid(n) * n))
            }
            Unit::Week => {
                // 1970-01-05 is a Monday.
                let monday = NaiveDate::from_ymd_opt(1970, 1, 5)?;
                let weeks = (t.date() - monday).num_days().div_euclid(7);
                midnight(monday + Duration::days(weeks.div_euclid(n) * n * 7))
            }
            Unit::Month | Unit::Quarter | Unit::Year => {
                let per = match unit {
                    Unit::Month => 1,
                    Unit::Quarter => 3,
                    _ => 12,
                } * n;
                let m = month_index(t.date());
                midnight(month_start(m.div_euclid(per) * per)?)
            }
        })
    }

    /// `from` moved by `k` spans (k may be negative).
    fn add_spans(&self, from: NaiveDateTime, k: i64) -> Option<NaiveDateTime> {
        let Span::Time { unit, n } = *self else { return None };
        let n = n as i64 * k;
        match unit {
            Unit::Hour => from.checked_add_signed(Duration::hours(n)),
            Unit::Day => from.checked_add_signed(Duration::days(n)),
            Unit::Week => from.checked_add_signed(Duration::days(7 * n)),
            Unit::Month | Unit::Quarter | Unit::Year => {
                let months = n * match unit {
                    Unit::Month => 1,
                    Unit::Quarter => 3,
                    _ => 12,
                };
                if months >= 0 {
                    from.checked_add_months(Months::new(u32::try_from(months).ok()?))
                } else {
                    from.checked_sub_months(Months::new(u32::try_from(-months).ok()?))
                }
            }
        }
    }

    /// The partition `k` spans after `r` (before it when negative).
    pub fn shift(&self, r: Range, k: i64) -> Option<Range> {
        match (*self, r.from) {
            (Span::Integer { step }, Bound::Integer(f)) => {
                let from = f.checked_add(step.checked_mul(k)?)?;
                Some(Range { from: Bound::Integer(from), to: Bound::Integer(from.checked_add(step)?) })
            }
            (Span::Time { .. }, Bound::Time(f)) => {
                let from = self.add_spans(f, k)?;
                Some(Range { from: Bound::Time(from), to: Bound::Time(self.add_spans(from, 1)?) })
            }
            _ => None,
        }
    }

    /// A partition's name suffix: `p2026_12_01`, `p2026_12_01_13` (hours), `p2026w49` (weeks),
    /// `p2026_12` (months), `p2026q4` (quarters), `p2026` (years), `p100000` / `pm100000`
    /// (integers; m for minus).
    pub fn suffix(&self, r: &Range) -> String {
        match (*self, r.from) {
            (Span::Integer { .. }, Bound::Integer(v)) => {
                if v < 0 {
                    format!("pm{}", v.unsigned_abs())
                } else {
                    format!("p{v}")
                }
            }
            (Span::Time { unit, .. }, Bound::Time(t)) => match unit {
                Unit::Hour => t.format("p%Y_%m_%d_%H").to_string(),
                Unit::Day => t.format("p%Y_%m_%d").to_string(),
                Unit::Week => {
                    let w = t.date().iso_week();
                    format!("p{}w{:02}", w.year(), w.week())
                }
                Unit::Month => t.format("p%Y_%m").to_string(),
                Unit::Quarter => format!("p{}q{}", t.year(), t.month0() / 3 + 1),
                Unit::Year => format!("p{}", t.year()),
            },
            _ => "p".to_string(),
        }
    }
}

/// PostgreSQL's longest identifier, in bytes (NAMEDATALEN - 1).
pub const MAX_IDENTIFIER: usize = 63;

/// `<parent>_<suffix>`, within 63 bytes: a long parent name is cut at a character boundary and
/// given 8 hex digits of its hash, so two long parents never share a partition name.
pub fn partition_name(parent: &str, suffix: &str) -> String {
    let whole = format!("{parent}_{suffix}");
    if whole.len() <= MAX_IDENTIFIER {
        return whole;
    }
    let tag = format!("{:08x}", crate::hash::fnv1a32(parent.as_bytes()));
    let room = MAX_IDENTIFIER - suffix.len() - tag.len() - 2;
    let mut cut = room.min(parent.len());
    while !parent.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{tag}_{suffix}", &parent[..cut])
}

/// The partitions to create so that the one holding `now` and the `premake` after it exist (and,
/// with `back > 0`, that many before it), given the starts of those that exist. In order.
pub fn to_create(span: &Span, now: Bound, premake: u32, back: u32, existing: &[Bound]) -> Vec<Range> {
    let Some(current) = span.range_of(now) else { return vec![] };
    (-(back as i64)..=premake as i64)
        .filter_map(|k| span.shift(current, k))
        .filter(|r| !existing.contains(&r.from))
        .collect()
}

/// The partitions to retire: those that ended at or before `cutoff` (the oldest value kept), never
/// the newest partition and never the one holding `now`. `existing` in any order.
pub fn to_retire(span: &Span, now: Bound, cutoff: Bound, existing: &[Range]) -> Vec<Range> {
    let current = span.range_of(now);
    let newest = existing.iter().map(|r| r.from).max();
    let mut out: Vec<Range> = existing
        .iter()
        .filter(|r| r.to <= cutoff && Some(r.from) != newest && current.map(|c| c.from) != Some(r.from))
        .copied()
        .collect();
    out.sort();
    out
}

/// The partitions rows found in the default partition need, from the smallest and largest
/// value of the control column there (at most `limit`; None: more than that, which needs a DBA).
pub fn to_rescue(span: &Span, min: Bound, max: Bound, existing: &[Bound], limit: usize) -> Option<Vec<Range>> {
    let first = span.range_of(min)?;
    let last = span.range_of(max)?;
    let mut out = vec![];
    let mut r = first;
    loop {
        if !existing.contains(&r.from) {
            if out.len() == limit {
                return None;
            }
            out.push(r);
        }
        if r.from >= last.from {
            return Some(out);
        }
        r = span.shift(r, 1)?;
    }
}

/// How a partition set divides its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Range,
    List,
    Hash,
}

impl Method {
    pub fn parse(text: &str) -> Result<Method, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "range" => Ok(Method::Range),
            "list" => Ok(Method::List),
            "hash" => Ok(Method::Hash),
            other => Err(format!("\"{other}\" is not a partitioning method: use range, list or hash")),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Range => "range",
            Method::List => "list",
            Method::Hash => "hash",
        }
    }
    /// `pg_partitioned_table.partstrat`.
    pub fn from_strategy(c: char) -> Option<Method> {
        match c {
            'r' => Some(Method::Range),
            'l' => Some(Method::List),
            'h' => Some(Method::Hash),
            _ => None,
        }
    }
}

/// What retention does with a partition past the retention period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retire {
    /// Detach and drop it.
    Drop,
    /// Detach it and leave it as a table of its own.
    Detach,
    /// Detach it and move it to the archive schema.
    Archive,
}

impl Retire {
    pub fn parse(text: &str) -> Result<Retire, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "drop" => Ok(Retire::Drop),
            "detach" => Ok(Retire::Detach),
            "archive" => Ok(Retire::Archive),
            other => Err(format!("\"{other}\" is not a retention action: use drop, detach or archive")),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Retire::Drop => "drop",
            Retire::Detach => "detach",
            Retire::Archive => "archive",
        }
    }
}

/// A double-quoted identifier (always quoted: exact whatever the case or keyword).
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `"schema"."name"`.
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

/// A string literal (standard_conforming_strings: only quotes are doubled).
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The name suffix of a list partition for `value`: `p_<value>` when the value is a plain lower
/// case word, else a cleaned-up prefix of it with 8 hex digits of its hash (two values never share
/// a name, whatever their case or punctuation).
pub fn list_suffix(value: &str) -> String {
    let clean: String = value
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .take(24)
        .collect();
    if clean == value && !clean.is_empty() {
        format!("p_{clean}")
    } else {
        format!("p_{clean}_{:08x}", crate::hash::fnv1a32(value.as_bytes()))
    }
}

/// The name suffix of hash partition `remainder`.
pub fn hash_suffix(remainder: u32) -> String {
    format!("h{remainder}")
}

/// Group consecutive items (each with its row count) into batches of about `batch_rows` rows: a
/// batch takes items while its total stays within `batch_rows`, and always at least one (the rows
/// of one partition move together: PostgreSQL cannot attach a partition while the default still
/// holds rows of its range). At most `max_items` per batch (the locks of one transaction).
pub fn batches<T: Clone>(items: &[(T, u64)], batch_rows: u64, max_items: usize) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = vec![];
    let mut cur: Vec<T> = vec![];
    let mut rows = 0u64;
    for (item, n) in items {
        if !cur.is_empty() && (rows + n > batch_rows || cur.len() >= max_items) {
            out.push(std::mem::take(&mut cur));
            rows = 0;
        }
        cur.push(item.clone());
        rows += n;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The spans from the one holding `from` up to and including the one holding `to`, capped at
/// `limit` (None past it).
pub fn spans_between(span: &Span, from: Bound, to: Bound, limit: usize) -> Option<Vec<Range>> {
    let mut r = span.range_of(from)?;
    let last = span.range_of(to)?;
    let mut out = vec![];
    while r.from <= last.from {
        if out.len() == limit {
            return None;
        }
        out.push(r);
        r = span.shift(r, 1)?;
    }
    Some(out)
}

/// Parse a bound as the catalogs and the SQL side print it: `2026-12-01 00:00:00` (a local
/// date-time, seconds optional, fractions ignored) or an integer.
pub fn parse_bound(text: &str, integer: bool) -> Option<Bound> {
    let t = text.trim();
    if integer {
        return t.parse::<i64>().ok().map(Bound::Integer);
    }
    let t = t.split('.').next()?;
    NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M"))
        .or_else(|_| NaiveDate::parse_from_str(t, "%Y-%m-%d").map(|d| d.and_time(NaiveTime::MIN)))
        .ok()
        .map(Bound::Time)
}

/// The two literals of a range partition's bound as `pg_get_expr(relpartbound)` prints it:
/// `FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('2026-12-02 00:00:00+00')` or
/// `FOR VALUES FROM (100) TO (200)`. None for MINVALUE/MAXVALUE, several columns, or anything else.
pub fn range_bound_literals(expr: &str) -> Option<(String, String)> {
    let rest = expr.strip_prefix("FOR VALUES FROM (")?;
    let (from, rest) = rest.split_once(") TO (")?;
    let to = rest.strip_suffix(')')?;
    let one = |v: &str| -> Option<String> {
        let v = v.trim();
        if v.contains("MINVALUE") || v.contains("MAXVALUE") {
            return None;
        }
        if let Some(q) = v.strip_prefix('\'') {
            let inner = q.strip_suffix('\'')?;
            if inner.contains('\'') {
                return None;
            }
            return Some(inner.to_string());
        }
        (!v.contains(',')).then(|| v.to_string())
    };
    Some((one(from)?, one(to)?))
}

/// A request handed to the partition worker, as `key=value` lines (values without newlines).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pairs(pub Vec<(String, String)>);

impl Pairs {
    pub fn set(&mut self, key: &str, value: impl ToString) {
        self.0.push((key.to_string(), value.to_string()));
    }
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
    pub fn encode(&self) -> Vec<String> {
        self.0.iter().map(|(k, v)| format!("{k}={}", v.replace('\\', "\\\\").replace('\n', "\\n"))).collect()
    }
    pub fn decode(lines: &[String]) -> Pairs {
        Pairs(
            lines
                .iter()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| {
                    let mut out = String::new();
                    let mut it = v.chars();
                    while let Some(c) = it.next() {
                        if c == '\\' {
                            match it.next() {
                                Some('n') => out.push('\n'),
                                Some(o) => out.push(o),
                                None => {}
                            }
                        } else {
                            out.push(c)
                        }
                    }
                    (k.to_string(), out)
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32) -> Bound {
        Bound::Time(NaiveDate::from_ymd_opt(y, mo, d).unwrap().and_hms_opt(h, 0, 0).unwrap())
    }
    fn day(y: i32, mo: u32, d: u32) -> Bound {
        at(y, mo, d, 0)
    }
    fn span(t: &str) -> Span {
        Span::parse(t, false).unwrap()
    }

    #[test]
    fn intervals_parse_and_say_what_was_expected() {
        assert_eq!(span("daily"), Span::Time { unit: Unit::Day, n: 1 });
        assert_eq!(span(" Monthly "), Span::Time { unit: Unit::Month, n: 1 });
        assert_eq!(span("3 months"), Span::Time { unit: Unit::Month, n: 3 });
        assert_eq!(span("2 hours"), Span::Time { unit: Unit::Hour, n: 2 });
        assert_eq!(span("1 week"), Span::Time { unit: Unit::Week, n: 1 });
        assert_eq!(Span::parse("100000", true), Ok(Span::Integer { step: 100_000 }));
        assert!(Span::parse("0", true).unwrap_err().contains("positive integer"));
        assert!(Span::parse("fortnightly", false).unwrap_err().contains("hourly, daily"));
        assert!(Span::parse("0 days", false).unwrap_err().contains("between 1 and"));
        assert!(Span::parse("48 hours", false).unwrap_err().contains("'2 days'"));
        assert!(Span::parse("daily", true).is_err());
    }

    #[test]
    fn months_quarters_and_years_cross_their_boundaries() {
        let m = span("monthly");
        let r = m.range_of(at(2026, 12, 31, 23)).unwrap();
        assert_eq!((r.from, r.to), (day(2026, 12, 1), day(2027, 1, 1)));
        assert_eq!(m.shift(r, 2).unwrap().from, day(2027, 2, 1));
        assert_eq!(m.shift(r, -12).unwrap().from, day(2025, 12, 1));
        // February of a leap year ends on the 29th.
        let feb = m.range_of(day(2028, 2, 29)).unwrap();
        assert_eq!((feb.from, feb.to), (day(2028, 2, 1), day(2028, 3, 1)));
        let q = span("quarterly").range_of(day(2026, 11, 15)).unwrap();
        assert_eq!((q.from, q.to), (day(2026, 10, 1), day(2027, 1, 1)));
        let y = span("yearly").range_of(day(2026, 6, 1)).unwrap();
        assert_eq!((y.from, y.to), (day(2026, 1, 1), day(2027, 1, 1)));
        // Multiples are aligned to 1970: 3-month spans start in January, April, July, October.
        assert_eq!(span("3 months").range_of(day(2026, 5, 20)).unwrap().from, day(2026, 4, 1));
    }

    #[test]
    fn days_weeks_and_hours_are_aligned() {
        let d = span("daily").range_of(at(2026, 12, 31, 23)).unwrap();
        assert_eq!((d.from, d.to), (day(2026, 12, 31), day(2027, 1, 1)));
        // ISO weeks start on Monday: 2026-12-01 is a Tuesday.
        let w = span("weekly").range_of(day(2026, 12, 1)).unwrap();
        assert_eq!((w.from, w.to), (day(2026, 11, 30), day(2026, 12, 7)));
        let h = span("2 hours").range_of(at(2026, 12, 1, 13)).unwrap();
        assert_eq!((h.from, h.to), (at(2026, 12, 1, 12), at(2026, 12, 1, 14)));
        // Before 1970 too.
        assert_eq!(span("daily").range_of(at(1969, 12, 31, 5)).unwrap().from, day(1969, 12, 31));
    }

    #[test]
    fn integer_spans_include_negative_values() {
        let s = Span::Integer { step: 1000 };
        assert_eq!(s.range_of(Bound::Integer(1999)).unwrap(), Range { from: Bound::Integer(1000), to: Bound::Integer(2000) });
        assert_eq!(s.range_of(Bound::Integer(-1)).unwrap().from, Bound::Integer(-1000));
        assert_eq!(s.suffix(&s.range_of(Bound::Integer(-1)).unwrap()), "pm1000");
        assert_eq!(s.range_of(Bound::Time(NaiveDateTime::MIN)), None);
        assert_eq!(s.range_of(Bound::Integer(i64::MAX)), None, "no span past the end of bigint");
    }

    #[test]
    fn names_fit_identifiers_and_stay_distinct() {
        let m = span("monthly");
        assert_eq!(m.suffix(&m.range_of(day(2026, 12, 5)).unwrap()), "p2026_12");
        assert_eq!(span("weekly").suffix(&span("weekly").range_of(day(2026, 12, 1)).unwrap()), "p2026w49");
        assert_eq!(span("quarterly").suffix(&span("quarterly").range_of(day(2026, 12, 1)).unwrap()), "p2026q4");
        assert_eq!(span("hourly").suffix(&span("hourly").range_of(at(2026, 12, 1, 7)).unwrap()), "p2026_12_01_07");
        assert_eq!(partition_name("events", "p2026_12"), "events_p2026_12");
        let a = partition_name(&"é".repeat(40), "p2026_12_01");
        let b = partition_name(&format!("{}x", "é".repeat(40)), "p2026_12_01");
        assert!(a.len() <= MAX_IDENTIFIER && b.len() <= MAX_IDENTIFIER, "{a} {b}");
        assert_ne!(a, b);
        assert!(a.ends_with("_p2026_12_01"));
    }

    #[test]
    fn premake_creates_only_what_is_missing() {
        let d = span("daily");
        let now = at(2026, 12, 30, 10);
        let existing = [day(2026, 12, 30), day(2026, 12, 31)];
        let made: Vec<Bound> = to_create(&d, now, 3, 1, &existing).into_iter().map(|r| r.from).collect();
        assert_eq!(made, vec![day(2026, 12, 29), day(2027, 1, 1), day(2027, 1, 2)]);
        assert!(to_create(&d, now, 1, 0, &existing).is_empty());
    }

    #[test]
    fn retention_keeps_the_newest_and_the_current_partition() {
        let m = span("monthly");
        let parts: Vec<Range> = (0..6).map(|k| m.shift(m.range_of(day(2026, 7, 1)).unwrap(), k).unwrap()).collect();
        // Keep from 2026-10-01: July, August and September go.
        let gone = to_retire(&m, day(2026, 12, 15), day(2026, 10, 1), &parts);
        assert_eq!(gone.iter().map(|r| r.from).collect::<Vec<_>>(), vec![day(2026, 7, 1), day(2026, 8, 1), day(2026, 9, 1)]);
        // A cutoff past everything never takes the newest or the current partition.
        let gone = to_retire(&m, day(2026, 11, 15), day(2030, 1, 1), &parts);
        assert!(!gone.iter().any(|r| r.from == day(2026, 12, 1) || r.from == day(2026, 11, 1)));
        assert_eq!(gone.len(), 4);
        assert!(to_retire(&m, day(2026, 12, 15), day(2030, 1, 1), &parts[5..]).is_empty(), "the last one stays");
    }

    #[test]
    fn rows_in_the_default_partition_get_the_partitions_they_need() {
        let d = span("daily");
        let need = to_rescue(&d, at(2026, 11, 28, 5), at(2026, 12, 1, 23), &[day(2026, 11, 29)], 10).unwrap();
        assert_eq!(need.iter().map(|r| r.from).collect::<Vec<_>>(), vec![day(2026, 11, 28), day(2026, 11, 30), day(2026, 12, 1)]);
        assert_eq!(to_rescue(&d, day(2020, 1, 1), day(2026, 1, 1), &[], 100), None, "too many for one run");
        assert_eq!(Bound::Integer(5).literal(), "5");
        assert_eq!(at(2026, 12, 1, 7).literal(), "2026-12-01 07:00:00");
    }

    #[test]
    fn quoting_and_names_of_list_and_hash_partitions() {
        assert_eq!(ident("Weird \"T\""), "\"Weird \"\"T\"\"\"");
        assert_eq!(qualified("s", "t"), "\"s\".\"t\"");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(list_suffix("paris"), "p_paris");
        assert_ne!(list_suffix("Paris"), list_suffix("paris"));
        assert!(list_suffix("Île de France").starts_with("p__le_de_france_"));
        assert_eq!(hash_suffix(3), "h3");
        assert_eq!(Method::parse(" HASH "), Ok(Method::Hash));
        assert!(Method::parse("interval").unwrap_err().contains("range, list or hash"));
        assert_eq!(Retire::parse("archive"), Ok(Retire::Archive));
        assert!(Retire::parse("truncate").is_err());
    }

    #[test]
    fn batches_keep_partitions_whole_and_bound_their_size() {
        let items = [("a", 4000u64), ("b", 4000), ("c", 4000), ("d", 25000), ("e", 0), ("f", 1)];
        let b = batches(&items, 10000, 100);
        assert_eq!(b, vec![vec!["a", "b"], vec!["c"], vec!["d"], vec!["e", "f"]]);
        let b = batches(&items, u64::MAX, 2);
        assert_eq!(b.len(), 3, "at most 2 partitions per transaction");
        assert!(batches::<&str>(&[], 10, 10).is_empty());
    }

    #[test]
    fn bounds_read_back_from_the_catalogs() {
        assert_eq!(
            range_bound_literals("FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('2026-12-02 00:00:00+00')"),
            Some(("2026-12-01 00:00:00+00".into(), "2026-12-02 00:00:00+00".into()))
        );
        assert_eq!(range_bound_literals("FOR VALUES FROM (100) TO (200)"), Some(("100".into(), "200".into())));
        assert_eq!(range_bound_literals("FOR VALUES FROM (MINVALUE) TO (5)"), None);
        assert_eq!(range_bound_literals("FOR VALUES FROM (1, 2) TO (3, 4)"), None);
        assert_eq!(range_bound_literals("DEFAULT"), None);
        assert_eq!(parse_bound("2026-12-01 07:00:00", false), Some(at(2026, 12, 1, 7)));
        assert_eq!(parse_bound("2026-12-01", false), Some(day(2026, 12, 1)));
        assert_eq!(parse_bound("2026-12-01 07:00:00.25", false), Some(at(2026, 12, 1, 7)));
        assert_eq!(parse_bound("-5", true), Some(Bound::Integer(-5)));
        assert_eq!(parse_bound("x", true), None);
        let d = span("daily");
        assert_eq!(spans_between(&d, day(2026, 12, 30), at(2027, 1, 1, 5), 10).unwrap().len(), 3);
        assert_eq!(spans_between(&d, day(2026, 1, 1), day(2026, 12, 31), 100), None);
    }

    #[test]
    fn requests_round_trip_as_lines() {
        let mut p = Pairs::default();
        p.set("control", "created at\nx\\y");
        p.set("premake", 30);
        let back = Pairs::decode(&p.encode());
        assert_eq!(back, p);
        assert_eq!(back.get("premake"), Some("30"));
        assert_eq!(back.get("missing"), None);
    }
}
