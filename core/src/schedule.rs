//! Job schedules, as plain arithmetic: the scheduler worker (`src/workers/scheduler.rs`) asks
//! these functions when each job is due.
//!
//! A schedule is an interval (`'15 minutes'`, `'30 s'`, `'1 hour'`) or a 5-field cron pattern
//! (minute, hour, day of month, month, day of week, in UTC; `@hourly`-style nicknames too),
//! parsed by the `croner` crate with vixie-cron semantics: when both day fields are restricted, a
//! day matching either one matches. Times are Unix seconds (UTC).
//!
//! An interval is aligned to the clock: `'15 minutes'` runs at :00, :15, :30 and :45, `'10 s'` at
//! every multiple of 10 seconds since the Unix epoch, so runs do not drift with start-up times.
//! A [`Window`] (`'22:00-06:00'`, UTC) restricts the times a job may start at.
//!
//! [`Clock`] keeps one job's next due time and coalesces occurrences missed while busy; what the
//! scheduler does with a due occurrence (run it, or record it skipped while the previous run is
//! alive) is in `src/workers/scheduler.rs`.

use chrono::{DateTime, Utc};
use croner::parser::{CronParser, Seconds};
use croner::Cron;

/// When a job runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    /// Every this many seconds (at least 1), at the multiples of it since the Unix epoch.
    Every(i64),
    /// At the times a 5-field cron pattern names.
    Cron(Box<Cron>),
}

/// Longest interval accepted: a year.
const MAX_INTERVAL_S: i64 = 366 * 86_400;

impl Schedule {
    /// Parse an interval or a cron pattern. The error says what was expected.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("an empty schedule".into());
        }
        if let Some(secs) = parse_interval(t)? {
            return Ok(Schedule::Every(secs));
        }
        let parser = CronParser::builder().seconds(Seconds::Disallowed).build();
        parser.parse(t).map(|c| Schedule::Cron(Box::new(c))).map_err(|e| {
            format!("\"{t}\" is neither an interval (\"15 minutes\") nor a 5-field cron pattern (\"*/5 * * * *\"): {e}")
        })
    }

    /// The first time strictly after `after` (Unix seconds) at which the job is due. None when a
    /// cron pattern never matches again.
    pub fn next_after(&self, after: i64) -> Option<i64> {
        match self {
            Schedule::Every(secs) => after.div_euclid(*secs).checked_add(1)?.checked_mul(*secs),
            Schedule::Cron(c) => {
                let t: DateTime<Utc> = DateTime::from_timestamp(after, 0)?;
                c.find_next_occurrence(&t, false).ok().map(|n| n.timestamp())
            }
        }
    }
}

/// `N unit` with unit one of second(s)/s/sec, minute(s)/min/m, hour(s)/h, day(s)/d, or a bare
/// number of seconds. Ok(None): not an interval (maybe a cron pattern).
fn parse_interval(t: &str) -> Result<Option<i64>, String> {
    let digits = t.bytes().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return Ok(None);
    }
    let rest = t[digits..].trim();
    let unit = match rest.to_ascii_lowercase().as_str() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        // Digits then something else: a cron pattern such as "5 * * * *".
        _ => return Ok(None),
    };
    let n: i64 = t[..digits].parse().map_err(|_| format!("\"{t}\": the number is too large"))?;
    let secs = n.checked_mul(unit).filter(|&s| (1..=MAX_INTERVAL_S).contains(&s));
    secs.map(Some).ok_or_else(|| format!("\"{t}\": an interval must be between 1 second and 366 days"))
}

/// Times of day (UTC) a job may start at: `HH:MM-HH:MM`, start inclusive, end exclusive; a
/// window whose end is before its start wraps past midnight (`22:00-06:00`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Minutes after midnight.
    start: i64,
    end: i64,
}

impl Window {
    pub fn parse(text: &str) -> Result<Window, String> {
        let bad = || format!("\"{}\" is not a window of the form HH:MM-HH:MM (UTC), such as 22:00-06:00", text.trim());
        let (a, b) = text.trim().split_once('-').ok_or_else(bad)?;
        let minute = |t: &str| -> Option<i64> {
            let (h, m) = t.trim().split_once(':')?;
            let (h, m): (i64, i64) = (h.trim().parse().ok()?, m.trim().parse().ok()?);
            ((0..=24).contains(&h) && (0..60).contains(&m) && h * 60 + m <= 1440).then_some(h * 60 + m)
        };
        let (start, end) = (minute(a).ok_or_else(bad)?, minute(b).ok_or_else(bad)?);
        if start == end {
            return Err(format!("\"{}\": the window is empty (start and end are equal)", text.trim()));
        }
        Ok(Window { start, end })
    }

    /// Whether a job may start at `t` (Unix seconds).
    pub fn contains(&self, t: i64) -> bool {
        let m = t.rem_euclid(86_400) / 60;
        if self.start < self.end {
            (self.start..self.end).contains(&m)
        } else {
            m >= self.start || m < self.end
        }
    }

    /// The next time at or after `t` inside the window.
    fn next_open(&self, t: i64) -> i64 {
        if self.contains(t) {
            return t;
        }
        let day = t.div_euclid(86_400) * 86_400;
        let opens = day + self.start * 60;
        if opens >= t {
            opens
        } else {
            opens + 86_400
        }
    }
}

/// The first due time strictly after `after` that falls inside `window` (any time when None).
pub fn next_due(schedule: &Schedule, window: Option<&Window>, after: i64) -> Option<i64> {
    let mut t = schedule.next_after(after)?;
    let Some(w) = window else { return Some(t) };
    // Each step either lands inside the window or jumps to its next opening: a few steps a day.
    for _ in 0..2_000 {
        if w.contains(t) {
            return Some(t);
        }
        t = schedule.next_after(w.next_open(t) - 1)?;
    }
    None
}

/// One job's next due time, as the scheduler keeps it between ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    pub next: Option<i64>,
}

impl Clock {
    /// A job first considered at `since` is first due at its next time after it.
    pub fn starting(schedule: &Schedule, window: Option<&Window>, since: i64) -> Clock {
        Clock { next: next_due(schedule, window, since) }
    }

    /// The occurrence due at `now`, if any, and advance past it. Occurrences missed while the
    /// scheduler was busy are coalesced into the latest one (a job never runs twice in a row to
    /// catch up).
    pub fn take_due(&mut self, schedule: &Schedule, window: Option<&Window>, now: i64) -> Option<i64> {
        let mut due = self.next.filter(|&n| n <= now)?;
        let mut steps = 0;
        while let Some(n) = next_due(schedule, window, due).filter(|&n| n <= now) {
            due = n;
            steps += 1;
            if steps > 100_000 {
                break;
            }
        }
        self.next = next_due(schedule, window, due);
        Some(due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-01 10:00:00 UTC, a Tuesday.
    const T0: i64 = 1_796_119_200;

    fn ts(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap().timestamp()
    }

    fn next(pattern: &str, after: i64) -> i64 {
        Schedule::parse(pattern).unwrap().next_after(after).unwrap()
    }

    #[test]
    fn the_fixed_instant_is_what_it_says() {
        assert_eq!(ts(2026, 12, 1, 10, 0), T0);
    }

    #[test]
    fn intervals_in_every_unit() {
        assert_eq!(Schedule::parse("15 minutes"), Ok(Schedule::Every(900)));
        assert_eq!(Schedule::parse("30 s"), Ok(Schedule::Every(30)));
        assert_eq!(Schedule::parse("1 hour"), Ok(Schedule::Every(3600)));
        assert_eq!(Schedule::parse("2 days"), Ok(Schedule::Every(172_800)));
        assert_eq!(Schedule::parse("45"), Ok(Schedule::Every(45)));
        assert_eq!(Schedule::parse(" 10 Min "), Ok(Schedule::Every(600)));
        assert_eq!(Schedule::Every(900).next_after(T0), Some(T0 + 900));
        // Aligned to the clock, not to the previous start.
        assert_eq!(Schedule::Every(900).next_after(T0 + 7), Some(T0 + 900));
        assert_eq!(Schedule::Every(10).next_after(T0 + 19), Some(T0 + 20));
        assert_eq!(Schedule::Every(10).next_after(T0 + 20), Some(T0 + 30));
    }

    #[test]
    fn bad_schedules_say_what_was_expected() {
        assert!(Schedule::parse("0 seconds").unwrap_err().contains("between 1 second and 366 days"));
        assert!(Schedule::parse("400 days").unwrap_err().contains("between 1 second and 366 days"));
        assert!(Schedule::parse("").unwrap_err().contains("empty"));
        let e = Schedule::parse("every tuesday").unwrap_err();
        assert!(e.contains("neither an interval") && e.contains("5-field cron"), "{e}");
        // Six fields (seconds) are not cron syntax here.
        assert!(Schedule::parse("0 */5 * * * *").is_err());
        assert!(Schedule::parse("61 * * * *").is_err());
    }

    #[test]
    fn cron_steps_ranges_and_lists() {
        assert_eq!(next("*/5 * * * *", T0), T0 + 300);
        assert_eq!(next("*/5 * * * *", T0 + 1), T0 + 300);
        assert_eq!(next("0 * * * *", T0), T0 + 3600);
        assert_eq!(next("30 9-17 * * *", T0), ts(2026, 12, 1, 10, 30));
        assert_eq!(next("30 9-17 * * *", ts(2026, 12, 1, 17, 30)), ts(2026, 12, 2, 9, 30));
        assert_eq!(next("0 6,18 * * *", T0), ts(2026, 12, 1, 18, 0));
        assert_eq!(next("15 10 1 1 *", T0), ts(2027, 1, 1, 10, 15));
        assert_eq!(next("@hourly", T0), T0 + 3600);
        assert_eq!(next("@daily", T0), ts(2026, 12, 2, 0, 0));
    }

    #[test]
    fn days_of_the_week_and_either_day_field() {
        // Sunday (0 and 7 both name it) after Tuesday 2026-12-01.
        assert_eq!(next("0 3 * * 0", T0), ts(2026, 12, 6, 3, 0));
        assert_eq!(next("0 3 * * 7", T0), ts(2026, 12, 6, 3, 0));
        assert_eq!(next("0 3 * * mon-fri", ts(2026, 12, 4, 4, 0)), ts(2026, 12, 7, 3, 0));
        // vixie-cron: day of month 15 OR a Monday, whichever comes first.
        assert_eq!(next("0 0 15 * 1", T0), ts(2026, 12, 7, 0, 0));
        assert_eq!(next("0 0 15 * 1", ts(2026, 12, 14, 1, 0)), ts(2026, 12, 15, 0, 0));
    }

    #[test]
    fn a_job_is_first_due_after_it_is_considered_and_each_time_once() {
        let every = Schedule::Every(60);
        let mut c = Clock::starting(&every, None, T0);
        assert_eq!(c.take_due(&every, None, T0 + 30), None);
        assert_eq!(Clock::starting(&every, None, T0 + 10).next, Some(T0 + 60));
        assert_eq!(c.take_due(&every, None, T0 + 60), Some(T0 + 60));
        assert_eq!(c.take_due(&every, None, T0 + 61), None);
        assert_eq!(c.next, Some(T0 + 120));
        // A cron job is first due at its next time after its creation.
        let hourly = Schedule::parse("0 * * * *").unwrap();
        assert_eq!(Clock::starting(&hourly, None, T0 - 1).take_due(&hourly, None, T0), Some(T0));
        assert_eq!(Clock::starting(&hourly, None, T0).next, Some(T0 + 3600));
    }

    #[test]
    fn a_pattern_that_never_matches_is_never_due() {
        // February 31st parses, and no time ever matches it.
        let feb31 = Schedule::parse("0 0 31 2 *").unwrap();
        assert_eq!(feb31.next_after(T0), None);
        assert_eq!(Clock::starting(&feb31, None, T0).next, None);
    }

    #[test]
    fn windows_parse_wrap_and_say_what_was_expected() {
        let night = Window::parse("22:00-06:00").unwrap();
        assert!(night.contains(ts(2026, 12, 1, 23, 30)) && night.contains(ts(2026, 12, 1, 5, 59)));
        assert!(!night.contains(ts(2026, 12, 1, 6, 0)) && !night.contains(T0));
        let office = Window::parse(" 09:30 - 17:00 ").unwrap();
        assert!(office.contains(ts(2026, 12, 1, 9, 30)) && !office.contains(ts(2026, 12, 1, 17, 0)));
        assert!(Window::parse("0:00-24:00").unwrap().contains(ts(2026, 12, 1, 23, 59)));
        for bad in ["", "22-06", "25:00-01:00", "10:60-11:00", "10:00", "10:00-10:00", "a:b-c:d"] {
            assert!(Window::parse(bad).is_err(), "{bad}");
        }
        assert!(Window::parse("10:00").unwrap_err().contains("HH:MM-HH:MM"));
    }

    #[test]
    fn due_times_skip_to_the_next_opening_of_the_window() {
        let every10 = Schedule::Every(10);
        let night = Window::parse("22:00-06:00").unwrap();
        // 10:00 is outside: the next due time is 22:00 (a multiple of 10 s).
        assert_eq!(next_due(&every10, Some(&night), T0), Some(ts(2026, 12, 1, 22, 0)));
        assert_eq!(next_due(&every10, Some(&night), ts(2026, 12, 1, 22, 0)), Some(ts(2026, 12, 1, 22, 0) + 10));
        // The last slot before 06:00, then the next night.
        assert_eq!(next_due(&every10, Some(&night), ts(2026, 12, 2, 5, 59) + 50), Some(ts(2026, 12, 2, 22, 0)));
        let hourly = Schedule::parse("0 * * * *").unwrap();
        assert_eq!(next_due(&hourly, Some(&Window::parse("09:30-17:00").unwrap()), ts(2026, 12, 1, 17, 0)), Some(ts(2026, 12, 2, 10, 0)));
        assert_eq!(next_due(&hourly, None, T0), Some(T0 + 3600));
    }

    #[test]
    fn the_clock_runs_each_occurrence_once_and_coalesces_missed_ones() {
        let every10 = Schedule::Every(10);
        let mut c = Clock::starting(&every10, None, T0 + 3);
        assert_eq!(c.next, Some(T0 + 10));
        assert_eq!(c.take_due(&every10, None, T0 + 9), None);
        assert_eq!(c.take_due(&every10, None, T0 + 10), Some(T0 + 10));
        assert_eq!(c.take_due(&every10, None, T0 + 10), None);
        assert_eq!(c.next, Some(T0 + 20));
        // The scheduler was busy for 35 s: one run, for the latest occurrence.
        assert_eq!(c.take_due(&every10, None, T0 + 55), Some(T0 + 50));
        assert_eq!(c.next, Some(T0 + 60));
        let feb31 = Schedule::parse("0 0 31 2 *").unwrap();
        let mut never = Clock::starting(&feb31, None, T0);
        assert_eq!(never.take_due(&feb31, None, T0 + 10_000_000), None);
    }
}
