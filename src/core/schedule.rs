//! When a subscription's brief is due: `HH:MM` or a cron expression in an IANA timezone,
//! with podbrief's own daylight-saving rules.
//!
//! * A local time that does not exist that day (spring forward) runs at the first instant after
//!   the gap.
//! * A local time that happens twice (fall back) runs once, at its first occurrence.
//!
//! The `cron` crate evaluates expressions here on naive local wall-clock times only; turning those
//! into instants is done by [`resolve_local`], which applies the rules above.

use std::str::FromStr;

use chrono::{
    DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;

/// Why a schedule or timezone was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScheduleError {
    /// Neither `HH:MM` nor a valid cron expression.
    #[error(
        "{0:?} is not a time of day (HH:MM, e.g. 08:00) or a cron expression (e.g. \"0 30 7 * * Mon-Fri\")"
    )]
    BadSchedule(String),
    /// Not a zone of the IANA database.
    #[error("timezone {0:?} is not an IANA zone (e.g. Europe/Berlin, America/New_York, UTC)")]
    BadTimezone(String),
}

/// A parsed schedule, keeping the text it was read from (what the store keeps and chats show).
#[derive(Debug, Clone)]
pub struct Schedule {
    text: String,
    rule: Rule,
}

/// What a schedule means.
#[derive(Debug, Clone)]
enum Rule {
    /// Every day at this local time.
    Daily(NaiveTime),
    /// A 6- or 7-field cron expression (seconds first), evaluated on local wall-clock time.
    Cron(Box<cron::Schedule>),
}

impl Schedule {
    /// Parses `HH:MM` (or `H:MM`) or a cron expression.
    pub fn parse(s: &str) -> Result<Schedule, ScheduleError> {
        let s = s.trim();
        let fields = s.split_whitespace().count();
        let rule = if let Some(t) = parse_hhmm(s) {
            Rule::Daily(t)
        } else if (6..=7).contains(&fields)
            && let Ok(c) = cron::Schedule::from_str(s)
        {
            Rule::Cron(Box::new(c))
        } else {
            return Err(ScheduleError::BadSchedule(s.to_string()));
        };
        Ok(Schedule {
            text: s.to_string(),
            rule,
        })
    }

    /// Every day at `hour:minute` (a time of day that does not exist is midnight).
    pub fn daily(hour: u32, minute: u32) -> Schedule {
        let t = NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or_default();
        Schedule {
            text: t.format("%H:%M").to_string(),
            rule: Rule::Daily(t),
        }
    }

    /// The schedule as written (trimmed): `HH:MM` or the cron expression.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether it is one time every day (rather than a cron expression).
    pub fn is_daily(&self) -> bool {
        matches!(self.rule, Rule::Daily(_))
    }

    /// The first occurrence strictly after `after`, in `tz`.
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local_after = after.with_timezone(&tz).naive_local();
        match &self.rule {
            Rule::Daily(t) => {
                // Look from the day before (an instant resolved across a gap can land on a
                // later local day) up to a few days on.
                let start = local_after.date().pred_opt()?;
                (0..4)
                    .filter_map(|d| start.checked_add_signed(Duration::days(d)))
                    .map(|date: NaiveDate| resolve_local(tz, date.and_time(*t)))
                    .find(|at| *at > after)
            }
            Rule::Cron(c) => {
                // Naive local times in order, as if the wall clock were UTC.
                let from = Utc.from_utc_datetime(&(local_after - Duration::hours(4)));
                c.after(&from)
                    .take(100_000)
                    .map(|naive| resolve_local(tz, naive.naive_utc()))
                    .find(|at| *at > after)
            }
        }
    }
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Schedule, ScheduleError> {
        Schedule::parse(s)
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Schedule) -> bool {
        self.text == other.text
    }
}

/// An IANA timezone, parsed; shown (and stored) by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone(pub Tz);

impl Zone {
    /// Coordinated Universal Time.
    pub const UTC: Zone = Zone(Tz::UTC);

    /// Parses an IANA timezone name.
    pub fn parse(s: &str) -> Result<Zone, ScheduleError> {
        parse_timezone(s).map(Zone)
    }

    /// The zone's IANA name.
    pub fn as_str(&self) -> &'static str {
        self.0.name()
    }

    /// The zone, for chrono.
    pub fn tz(&self) -> Tz {
        self.0
    }
}

impl FromStr for Zone {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Zone, ScheduleError> {
        Zone::parse(s)
    }
}

impl std::fmt::Display for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses `HH:MM` or `H:MM` (24-hour clock).
pub fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    let (h, m) = s.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let h: u32 = h.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    NaiveTime::from_hms_opt(h, m, 0)
}

/// Parses an IANA timezone name.
pub fn parse_timezone(s: &str) -> Result<Tz, ScheduleError> {
    s.trim()
        .parse::<Tz>()
        .map_err(|_| ScheduleError::BadTimezone(s.to_string()))
}

/// The instant of a local wall-clock time: the earlier one when it happens twice, the first
/// instant after the gap when it does not exist.
pub fn resolve_local(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => {
            // Gaps are whole minutes long (at most a few hours): the first valid minute after the
            // missing time is where the gap ends.
            let minute_start = local
                .with_second(0)
                .and_then(|t| t.with_nanosecond(0))
                .unwrap_or(local);
            (1..=24 * 60)
                .map(|m| minute_start + Duration::minutes(m))
                .find_map(|t| match tz.from_local_datetime(&t) {
                    LocalResult::Single(x) => Some(x.with_timezone(&Utc)),
                    LocalResult::Ambiguous(a, _) => Some(a.with_timezone(&Utc)),
                    LocalResult::None => None,
                })
                .unwrap_or_else(|| Utc.from_utc_datetime(&local))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn daily_time_runs_at_local_time() {
        let s = Schedule::parse("08:00").unwrap();
        let tz: Tz = "Europe/Paris".parse().unwrap();
        assert_eq!(
            s.next_after(utc("2026-11-27T06:00:00Z"), tz).unwrap(),
            utc("2026-11-27T07:00:00Z")
        );
        assert_eq!(
            s.next_after(utc("2026-11-27T07:00:00Z"), tz).unwrap(),
            utc("2026-11-28T07:00:00Z")
        );
    }

    #[test]
    fn spring_forward_gap_runs_at_end_of_gap() {
        // 2026-03-08: New York skips 02:00-03:00.
        let s = Schedule::parse("02:30").unwrap();
        let tz: Tz = "America/New_York".parse().unwrap();
        let at = s.next_after(utc("2026-03-08T00:00:00Z"), tz).unwrap();
        assert_eq!(at, utc("2026-03-08T07:00:00Z")); // 03:00 EDT
    }

    #[test]
    fn fall_back_overlap_runs_once() {
        // 2026-11-01: New York repeats 01:00-02:00.
        let s = Schedule::parse("01:30").unwrap();
        let tz: Tz = "America/New_York".parse().unwrap();
        let first = s.next_after(utc("2026-11-01T00:00:00Z"), tz).unwrap();
        assert_eq!(first, utc("2026-11-01T05:30:00Z")); // 01:30 EDT
        let second = s.next_after(first, tz).unwrap();
        assert_eq!(second, utc("2026-11-02T06:30:00Z")); // next day, 01:30 EST
    }

    #[test]
    fn cron_expressions_follow_the_same_rules() {
        let s = Schedule::parse("0 30 2 * * *").unwrap();
        let tz: Tz = "America/New_York".parse().unwrap();
        let at = s.next_after(utc("2026-03-08T00:00:00Z"), tz).unwrap();
        assert_eq!(at, utc("2026-03-08T07:00:00Z"));
        let weekdays = Schedule::parse("0 30 7 * * Mon-Fri").unwrap();
        // 2026-11-28 is a Saturday: next run is Monday the 30th.
        let at = weekdays
            .next_after(utc("2026-11-27T12:00:00Z"), "UTC".parse().unwrap())
            .unwrap();
        assert_eq!(at, utc("2026-11-30T07:30:00Z"));
    }

    /// Every local day of 2026 gets exactly one run, at 08:00 local, across both DST changes.
    #[test]
    fn a_daily_time_runs_once_per_local_day_all_year() {
        for zone in [
            "America/New_York",
            "Europe/London",
            "Australia/Lord_Howe",
            "Asia/Kolkata",
        ] {
            let tz: Tz = zone.parse().unwrap();
            let s = Schedule::parse("08:00").unwrap();
            let mut at = utc("2025-12-31T12:00:00Z");
            let mut days = Vec::new();
            loop {
                at = s.next_after(at, tz).unwrap();
                let local = at.with_timezone(&tz);
                match local.format("%Y").to_string().as_str() {
                    "2025" => continue,
                    "2026" => {}
                    _ => break,
                }
                assert_eq!(local.format("%H:%M").to_string(), "08:00", "{zone} {local}");
                days.push(local.date_naive());
            }
            assert_eq!(days.len(), 365, "{zone}");
            assert!(
                days.windows(2)
                    .all(|w| w[1] - w[0] == chrono::Duration::days(1)),
                "{zone}"
            );
        }
    }

    #[test]
    fn half_hour_dst_gaps_and_overlaps() {
        // Lord Howe moves 30 minutes: 02:00 -> 02:30 on 2026-10-04, and 02:00 -> 01:30 on 2026-04-05.
        let tz: Tz = "Australia/Lord_Howe".parse().unwrap();
        let s = Schedule::parse("02:15").unwrap();
        let at = s.next_after(utc("2026-10-03T12:00:00Z"), tz).unwrap();
        assert_eq!(at.with_timezone(&tz).format("%H:%M").to_string(), "02:30");
        let s = Schedule::parse("01:45").unwrap();
        let first = s.next_after(utc("2026-04-04T12:00:00Z"), tz).unwrap();
        let second = s.next_after(first, tz).unwrap();
        assert_eq!(
            second - first,
            chrono::Duration::hours(24) + chrono::Duration::minutes(30)
        );
    }

    #[test]
    fn bad_input_is_named() {
        assert!(matches!(
            Schedule::parse("25:00"),
            Err(ScheduleError::BadSchedule(_))
        ));
        assert!(matches!(
            Schedule::parse("soon"),
            Err(ScheduleError::BadSchedule(_))
        ));
        assert_eq!(
            parse_timezone("Europe/Berln").unwrap_err().to_string(),
            "timezone \"Europe/Berln\" is not an IANA zone (e.g. Europe/Berlin, America/New_York, UTC)"
        );
    }
}
