//! Rotation schedules of secrets: `RotationRules` (`AutomaticallyAfterDays`, or a `rate()` or
//! `cron()` `ScheduleExpression`, and a `Duration`), their validation, and when the next rotation
//! window closes (`NextRotationDate`). Pure functions, table-tested.
//!
//! See the Secrets Manager reference, §8 "Rotation". What kinko decides where AWS doesn't say:
//! - `NextRotationDate` is the last second of the next rotation window ("the next rotation is
//!   scheduled to occur on or before this date"): AWS shows e.g. `23:59:59` UTC for a schedule in
//!   days, whose window is the whole UTC day.
//! - `AutomaticallyAfterDays` N and `rate(N days)`: the window is the UTC day N days after the
//!   last rotation (or, before the first one, after rotation was configured).
//! - `rate(N hours)` (N from 4 to 23): windows start every N hours from midnight UTC, each day
//!   anew; the next window is the first that starts after the last rotation.
//! - `cron(...)`: the next time the expression matches after the last rotation. The default window
//!   is one hour when the expression names more than one hour of a day, else the rest of the day.
//! - A `Duration` is 1 to 24 hours and must end before the next UTC day and before the next window.
//! - AWS's exact messages for a malformed expression or duration are not recorded; these texts are
//!   kinko's.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime, Time};

use crate::Timestamp;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// How far ahead a cron expression is searched for its next match (years of days).
const CRON_HORIZON_DAYS: i64 = 366 * 8;

/// `RotationRules`, as stored and shown by DescribeSecret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RotationRules {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatically_after_days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
}

/// A secret's rotation configuration (RotateSecret), kept when rotation is turned off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationConfig {
    /// `RotationEnabled`: RotateSecret turns it on, CancelRotateSecret off.
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<RotationRules>,
    /// When RotateSecret last configured rotation: a schedule's start before its first rotation.
    pub configured_date: Timestamp,
    /// The last rotation run started (by RotateSecret or the scheduler), while its version may
    /// still be pending: what the scheduler's retries of a rotation left unfinished go by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<RotationAttempt>,
}

/// A rotation run started, and how many times its version has been tried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationAttempt {
    /// The version the run rotates to (its `ClientRequestToken`).
    pub token: String,
    /// When the latest run for it started.
    pub started: Timestamp,
    /// Runs started for this version, the first included.
    pub count: u32,
}

/// How many runs the scheduler gives one rotation (the first included) before leaving it
/// unfinished for the user to see, as AWS retries a failed rotation "several times".
pub const MAX_ROTATION_ATTEMPTS: u32 = 5;
/// How long after a run started the scheduler takes its version, still pending, for a run that
/// ended unfinished (failed, or cut by a restart) and runs it again. Longer than a run can last:
/// four steps of at most a function's longest timeout (15 minutes) each.
pub const ROTATION_RETRY_AFTER_MS: i64 = 2 * HOUR_MS;

/// Why `RotationRules` are refused (InvalidParameterException).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    /// AWS's text (quoted in public issues).
    #[error("You cannot specify both rotation frequency and schedule expression together.")]
    Both,
    #[error("You must specify either AutomaticallyAfterDays or ScheduleExpression in RotationRules.")]
    Neither,
    #[error("Invalid schedule expression {expression}: {why}")]
    Expression { expression: String, why: String },
    #[error("Invalid rotation window duration {duration}: {why}")]
    Duration { duration: String, why: String },
}

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// `AutomaticallyAfterDays` or `rate(N days)`.
    Days(i64),
    /// `rate(N hours)`.
    Hours(i64),
    Cron(Box<Cron>),
}

impl RotationRules {
    /// The schedule these rules describe, validated as RotateSecret validates them.
    pub fn schedule(&self) -> Result<Schedule, RulesError> {
        let schedule = match (self.automatically_after_days, self.schedule_expression.as_deref()) {
            (Some(_), Some(_)) => return Err(RulesError::Both),
            (None, None) => return Err(RulesError::Neither),
            (Some(days), None) => Schedule::Days(days),
            (None, Some(e)) => parse_expression(e)?,
        };
        if let Some(d) = &self.duration {
            window_hours(&schedule, Some(d))?;
        }
        Ok(schedule)
    }

    /// When the next rotation window after `base` opens: the scheduler rotates from then on.
    /// `None` for rules that don't parse.
    pub fn next_window_start(&self, base: Timestamp) -> Option<Timestamp> {
        next_window_start(&self.schedule().ok()?, base)
    }

    /// The last moment of the next rotation window after `base` (the last rotation, or when
    /// rotation was configured). `None` for rules that don't parse.
    pub fn next_rotation_date(&self, base: Timestamp) -> Option<Timestamp> {
        let schedule = self.schedule().ok()?;
        let start = next_window_start(&schedule, base)?;
        let hours = window_hours(&schedule, self.duration.as_deref()).ok()?;
        let length = match hours {
            Some(h) => h * HOUR_MS,
            // The rest of the UTC day the window starts in.
            None => start.start_of_day().millis() + DAY_MS - start.millis(),
        };
        Some(start.plus_millis(length - 1000))
    }
}

fn expression_error(expression: &str, why: impl Into<String>) -> RulesError {
    RulesError::Expression {
        expression: expression.to_owned(),
        why: why.into(),
    }
}

fn parse_expression(e: &str) -> Result<Schedule, RulesError> {
    if let Some(inner) = e.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
        let mut parts = inner.split_whitespace();
        let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(expression_error(e, "a rate is rate(<number> hours|days)"));
        };
        let n: i64 = n
            .parse()
            .map_err(|_| expression_error(e, "the rate's value must be a positive number"))?;
        return match unit {
            "hour" | "hours" if (4..=23).contains(&n) => Ok(Schedule::Hours(n)),
            "hour" | "hours" => Err(expression_error(e, "a rate in hours must be from 4 to 23 hours")),
            "day" | "days" if (1..=1000).contains(&n) => Ok(Schedule::Days(n)),
            "day" | "days" => Err(expression_error(e, "a rate in days must be from 1 to 1000 days")),
            _ => Err(expression_error(e, "the rate's unit must be hours or days")),
        };
    }
    if let Some(inner) = e.strip_prefix("cron(").and_then(|r| r.strip_suffix(')')) {
        return Cron::parse(inner)
            .map(|c| Schedule::Cron(Box::new(c)))
            .map_err(|why| expression_error(e, why));
    }
    Err(expression_error(e, "it must be a rate() or cron() expression"))
}

/// The window's length in hours, or `None` for the rest of the day; checks `duration`.
fn window_hours(schedule: &Schedule, duration: Option<&str>) -> Result<Option<i64>, RulesError> {
    let Some(d) = duration else {
        return Ok(match schedule {
            Schedule::Days(_) => None,
            Schedule::Hours(_) => Some(1),
            Schedule::Cron(c) if c.hours.iter().filter(|h| **h).count() > 1 => Some(1),
            Schedule::Cron(_) => None,
        });
    };
    let bad = |why: &str| RulesError::Duration {
        duration: d.to_owned(),
        why: why.to_owned(),
    };
    let hours: i64 = d
        .strip_suffix('h')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| bad("it must be a number of hours, such as 3h"))?;
    if !(1..=24).contains(&hours) {
        return Err(bad("it must be from 1 to 24 hours"));
    }
    match schedule {
        Schedule::Days(_) => {}
        Schedule::Hours(n) => {
            if hours > *n {
                return Err(bad("the window must end before the next rotation window starts"));
            }
        }
        Schedule::Cron(c) => {
            let hours_of_day: Vec<i64> = (0..24).filter(|h| c.hours[*h as usize]).collect();
            for pair in hours_of_day.windows(2) {
                if pair[0] + hours > pair[1] {
                    return Err(bad("the window must end before the next rotation window starts"));
                }
            }
            if let Some(last) = hours_of_day.last()
                && last + hours > 24
            {
                return Err(bad("the window must end before the next UTC day"));
            }
        }
    }
    Ok(Some(hours))
}

/// When the first rotation window after `base` starts.
fn next_window_start(schedule: &Schedule, base: Timestamp) -> Option<Timestamp> {
    match schedule {
        Schedule::Days(n) => Some(base.start_of_day().plus_days(*n)),
        Schedule::Hours(n) => {
            let day = base.start_of_day();
            (1..)
                .map(|k| k * n)
                .take_while(|h| *h < 24)
                .map(|h| day.plus_millis(h * HOUR_MS))
                .find(|t| *t > base)
                .or(Some(day.plus_days(1)))
        }
        Schedule::Cron(c) => c.next_after(base),
    }
}

/// A `cron(Minutes Hours Day-of-month Month Day-of-week Year)` expression, in UTC, as Secrets
/// Manager accepts it: Minutes `0`, Year `*`, exactly one of the day fields `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    hours: [bool; 24],
    months: [bool; 13],
    day_of_month: Option<Vec<DayOfMonth>>,
    day_of_week: Option<Vec<DayOfWeek>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DayOfMonth {
    Days([bool; 32]),
    /// `L`: the last day of the month.
    Last,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DayOfWeek {
    /// Indexed 1 (Sunday) to 7 (Saturday).
    Days([bool; 8]),
    /// `<day>L`: the last such weekday of the month.
    Last(u8),
    /// `<day>#n`: the nth such weekday of the month.
    Nth(u8, u8),
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn value(s: &str, names: &[&str], first: i64) -> Option<i64> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
        return Some(first + i as i64);
    }
    s.parse().ok()
}

/// One comma-separated list of `*`, `n`, `a-b`, each optionally `/step`, over `min..=max`.
fn set(field: &str, min: i64, max: i64, names: &[&str], what: &str) -> Result<Vec<i64>, String> {
    let bad = || format!("invalid {what} field {field}");
    let mut out = Vec::new();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, s.parse::<i64>().ok().filter(|s| *s > 0).ok_or_else(bad)?),
            None => (item, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                value(a, names, min).ok_or_else(bad)?,
                value(b, names, min).ok_or_else(bad)?,
            )
        } else {
            let v = value(range, names, min).ok_or_else(bad)?;
            (v, if item.contains('/') { max } else { v })
        };
        if lo < min || hi > max || lo > hi {
            return Err(bad());
        }
        out.extend((lo..=hi).step_by(usize::try_from(step).map_err(|_| bad())?));
    }
    Ok(out)
}

impl Cron {
    /// Parses the inside of `cron(...)`.
    pub fn parse(inner: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = inner.split_whitespace().collect();
        let [minutes, hours, dom, month, dow, year] = fields.as_slice() else {
            return Err(
                "a cron expression has six fields: minutes hours day-of-month month day-of-week year".into(),
            );
        };
        if *minutes != "0" {
            return Err("the minutes field must be 0".into());
        }
        if *year != "*" {
            return Err("the year field must be *".into());
        }
        let mut hour_set = [false; 24];
        for h in set(hours, 0, 23, &[], "hours")? {
            hour_set[h as usize] = true;
        }
        let mut months = [false; 13];
        for m in set(month, 1, 12, &MONTHS, "month")? {
            months[m as usize] = true;
        }
        let (day_of_month, day_of_week) = match (*dom == "?", *dow == "?") {
            (true, false) => (None, Some(Self::weekdays(dow)?)),
            (false, true) => (Some(Self::days(dom)?), None),
            _ => return Err("exactly one of the day-of-month and day-of-week fields must be ?".into()),
        };
        Ok(Cron {
            hours: hour_set,
            months,
            day_of_month,
            day_of_week,
        })
    }

    fn days(field: &str) -> Result<Vec<DayOfMonth>, String> {
        field
            .split(',')
            .map(|item| {
                if item.eq_ignore_ascii_case("L") {
                    return Ok(DayOfMonth::Last);
                }
                let mut days = [false; 32];
                for d in set(item, 1, 31, &[], "day-of-month")? {
                    days[d as usize] = true;
                }
                Ok(DayOfMonth::Days(days))
            })
            .collect()
    }

    fn weekdays(field: &str) -> Result<Vec<DayOfWeek>, String> {
        let bad = || format!("invalid day-of-week field {field}");
        let weekday = |s: &str| {
            value(s, &WEEKDAYS, 1)
                .filter(|d| (1..=7).contains(d))
                .map(|d| d as u8)
                .ok_or_else(bad)
        };
        field
            .split(',')
            .map(|item| {
                if let Some((day, n)) = item.split_once('#') {
                    let n: u8 = n.parse().ok().filter(|n| (1..=5).contains(n)).ok_or_else(bad)?;
                    return Ok(DayOfWeek::Nth(weekday(day)?, n));
                }
                if item.len() > 1
                    && let Some(day) = item.strip_suffix(['L', 'l'])
                {
                    return Ok(DayOfWeek::Last(weekday(day)?));
                }
                if item.eq_ignore_ascii_case("L") {
                    return Ok(DayOfWeek::Last(7));
                }
                let mut days = [false; 8];
                for d in set(item, 1, 7, &WEEKDAYS, "day-of-week")? {
                    days[d as usize] = true;
                }
                Ok(DayOfWeek::Days(days))
            })
            .collect()
    }

    fn matches_day(&self, date: Date) -> bool {
        if !self.months[usize::from(u8::from(date.month()))] {
            return false;
        }
        let last_day = time::util::days_in_month(date.month(), date.year());
        let day = date.day();
        if let Some(items) = &self.day_of_month {
            return items.iter().any(|i| match i {
                DayOfMonth::Last => day == last_day,
                DayOfMonth::Days(d) => d[usize::from(day)],
            });
        }
        let weekday = date.weekday().number_from_sunday();
        self.day_of_week.iter().flatten().any(|i| match i {
            DayOfWeek::Days(d) => d[usize::from(weekday)],
            DayOfWeek::Last(w) => *w == weekday && day + 7 > last_day,
            DayOfWeek::Nth(w, n) => *w == weekday && (day - 1) / 7 + 1 == *n,
        })
    }

    /// The first hour the expression matches strictly after `base`.
    pub fn next_after(&self, base: Timestamp) -> Option<Timestamp> {
        let first_day = base.to_offset_date_time().date();
        (0..CRON_HORIZON_DAYS).find_map(|offset| {
            let date = first_day.checked_add(time::Duration::days(offset))?;
            if !self.matches_day(date) {
                return None;
            }
            let midnight = OffsetDateTime::new_utc(date, Time::MIDNIGHT).unix_timestamp() * 1000;
            (0..24)
                .filter(|h| self.hours[*h as usize])
                .map(|h| Timestamp(midnight + h * HOUR_MS))
                .find(|t| *t > base)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        let t = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap();
        Timestamp(t.unix_timestamp() * 1000)
    }

    fn rules(days: Option<i64>, expr: Option<&str>, duration: Option<&str>) -> RotationRules {
        RotationRules {
            automatically_after_days: days,
            schedule_expression: expr.map(str::to_owned),
            duration: duration.map(str::to_owned),
        }
    }

    #[test]
    fn days_windows_are_whole_utc_days() {
        let r = rules(Some(30), None, None);
        assert_eq!(
            r.next_rotation_date(at("2026-05-10T10:00:00Z")),
            Some(at("2026-06-09T23:59:59Z"))
        );
        let r = rules(None, Some("rate(10 days)"), Some("2h"));
        assert_eq!(
            r.next_rotation_date(at("2026-05-10T10:00:00Z")),
            Some(at("2026-05-20T01:59:59Z"))
        );
    }

    #[test]
    fn hour_rates_start_every_n_hours_from_midnight() {
        let r = rules(None, Some("rate(4 hours)"), None);
        assert_eq!(
            r.next_rotation_date(at("2026-05-10T10:30:00Z")),
            Some(at("2026-05-10T12:59:59Z"))
        );
        let r = rules(None, Some("rate(10 hours)"), Some("3h"));
        assert_eq!(
            r.next_rotation_date(at("2026-05-10T21:00:00Z")),
            Some(at("2026-05-11T02:59:59Z"))
        );
        assert!(rules(None, Some("rate(3 hours)"), None).schedule().is_err());
        assert!(rules(None, Some("rate(4 hours)"), Some("5h")).schedule().is_err());
        assert!(rules(None, Some("rate(0 days)"), None).schedule().is_err());
        assert!(rules(None, Some("rate(2 weeks)"), None).schedule().is_err());
    }

    #[test]
    fn cron_schedules() {
        // 10:00 on the second Tuesday of February, May, August and November.
        let r = rules(None, Some("cron(0 10 ? FEB,MAY,AUG,NOV TUE#2 *)"), None);
        assert_eq!(
            r.next_rotation_date(at("2026-05-10T10:00:00Z")),
            Some(at("2026-05-12T23:59:59Z"))
        );
        // Every day at 08:00 and 16:00: one-hour windows.
        let r = rules(None, Some("cron(0 8,16 * * ? *)"), None);
        assert_eq!(
            r.next_rotation_date(at("2026-05-10T09:00:00Z")),
            Some(at("2026-05-10T16:59:59Z"))
        );
        // The last day of the month, and the last Friday.
        let r = rules(None, Some("cron(0 0 L * ? *)"), Some("4h"));
        assert_eq!(
            r.next_rotation_date(at("2026-02-01T00:00:00Z")),
            Some(at("2026-02-28T03:59:59Z"))
        );
        let r = rules(None, Some("cron(0 12 ? * 6L *)"), None);
        assert_eq!(
            r.next_rotation_date(at("2026-05-01T13:00:00Z")),
            Some(at("2026-05-29T23:59:59Z"))
        );
        let r = rules(None, Some("cron(0 12 ? * SUN *)"), None);
        assert_eq!(
            r.next_rotation_date(at("2026-05-10T13:00:00Z")),
            Some(at("2026-05-17T23:59:59Z"))
        );
        for bad in [
            "cron(30 10 * * ? *)",
            "cron(0 10 * * ? 2027)",
            "cron(0 10 * * * *)",
            "cron(0 10 ? * ? *)",
            "cron(0 25 * * ? *)",
            "cron(0 10 * *)",
            "cron(0 10 ? * MON#6 *)",
            "every day",
        ] {
            assert!(
                matches!(
                    rules(None, Some(bad), None).schedule(),
                    Err(RulesError::Expression { .. })
                ),
                "{bad}"
            );
        }
        // A window reaching the next day or the next window.
        assert!(
            rules(None, Some("cron(0 22 * * ? *)"), Some("3h"))
                .schedule()
                .is_err()
        );
        assert!(
            rules(None, Some("cron(0 8,10 * * ? *)"), Some("3h"))
                .schedule()
                .is_err()
        );
        assert!(
            rules(None, Some("cron(0 8,12 * * ? *)"), Some("3h"))
                .schedule()
                .is_ok()
        );
    }

    #[test]
    fn rules_name_exactly_one_schedule() {
        assert_eq!(
            rules(Some(1), Some("rate(1 days)"), None).schedule(),
            Err(RulesError::Both)
        );
        assert_eq!(rules(None, None, Some("2h")).schedule(), Err(RulesError::Neither));
        assert!(matches!(
            rules(Some(1), None, Some("25h")).schedule(),
            Err(RulesError::Duration { .. })
        ));
        assert_eq!(
            RulesError::Both.to_string(),
            "You cannot specify both rotation frequency and schedule expression together."
        );
    }
}
