//! When a publication runs: the Hager schedules (daily, weekly on a weekday, monthly on a day
//! of the month, at a local time), the Legrand connector's day-of-month and hour with `*`
//! wildcards, and "send now" (no schedule: only on demand).
//!
//! All times are wall-clock times in the site's time zone. The next run is the first instant
//! **strictly after** a given instant at which the site's wall clock *reaches or passes* a
//! scheduled wall time for the first time:
//!
//! - **spring forward** (a scheduled time in the skipped hour, e.g. 02:30 on 2026-03-29 in
//!   Europe/Paris): the run happens once, at the end of the gap, when the clock jumps
//!   (03:00 CEST, 01:00 UTC); several scheduled times in the gap all run at that instant;
//! - **fall back** (a scheduled time in the repeated hour, e.g. 02:30 on 2026-10-25): the run
//!   happens once, at the first occurrence (02:30 CEST, 00:30 UTC), not again an hour later;
//! - **monthly on day 29, 30 or 31**: in a shorter month the run happens on its last day (a
//!   monthly export is never skipped). The Legrand day field is a plain match instead: day 31
//!   only runs in months that have a 31st, as on the product.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use reports::publish::schedule::Schedule;
//!
//! // Hager: weekly on Monday at 06:30, site in Paris.
//! let s: Schedule = toml::from_str(r#"kind = "weekly"
//! weekday = "mon"
//! at = "06:30""#).unwrap();
//! let tz = chrono_tz::Europe::Paris;
//! let t = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap(); // a Friday
//! assert_eq!(s.next_after(t, tz), Some(Utc.with_ymd_and_hms(2026, 5, 4, 4, 30, 0).unwrap()));
//!
//! // Legrand: every day at 01:00 and "send now" (never by itself).
//! let l: Schedule = toml::from_str(r#"kind = "legrand"
//! day = "*"
//! hour = 1"#).unwrap();
//! assert_eq!(l.next_after(t, tz), Some(Utc.with_ymd_and_hms(2026, 5, 1, 23, 0, 0).unwrap()));
//! assert_eq!(Schedule::Now.next_after(t, tz), None);
//! ```

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::PublishError;

/// A local time of day, `HH:MM` (00:00 to 23:59) in configuration files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeOfDay {
    hour: u8,
    minute: u8,
}

impl TimeOfDay {
    /// `hour:minute`.
    ///
    /// # Errors
    /// [`PublishError::Config`] when `hour` > 23 or `minute` > 59.
    pub fn new(hour: u8, minute: u8) -> Result<Self, PublishError> {
        if hour > 23 || minute > 59 {
            return Err(PublishError::Config {
                field: "at".into(),
                message: format!("expected a time 00:00 to 23:59, found {hour:02}:{minute:02}"),
            });
        }
        Ok(Self { hour, minute })
    }

    /// The hour (0-23).
    #[must_use]
    pub fn hour(self) -> u8 {
        self.hour
    }

    /// The minute (0-59).
    #[must_use]
    pub fn minute(self) -> u8 {
        self.minute
    }
}

impl std::str::FromStr for TimeOfDay {
    type Err = PublishError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PublishError::Config {
            field: "at".into(),
            message: format!("expected a time HH:MM (00:00 to 23:59), found {s:?}"),
        };
        let (h, m) = s.split_once(':').ok_or_else(bad)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(bad());
        }
        let h: u8 = h.parse().map_err(|_| bad())?;
        let m: u8 = m.parse().map_err(|_| bad())?;
        Self::new(h, m).map_err(|_| bad())
    }
}

impl TryFrom<String> for TimeOfDay {
    type Error = PublishError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<TimeOfDay> for String {
    fn from(t: TimeOfDay) -> Self {
        t.to_string()
    }
}

impl std::fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

/// A day of the week, `mon` to `sun` in configuration files (as `%dow` prints it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    /// The chrono weekday.
    #[must_use]
    pub fn to_chrono(self) -> chrono::Weekday {
        match self {
            Self::Mon => chrono::Weekday::Mon,
            Self::Tue => chrono::Weekday::Tue,
            Self::Wed => chrono::Weekday::Wed,
            Self::Thu => chrono::Weekday::Thu,
            Self::Fri => chrono::Weekday::Fri,
            Self::Sat => chrono::Weekday::Sat,
            Self::Sun => chrono::Weekday::Sun,
        }
    }
}

/// One Legrand schedule field: `*` (every value) or one number, written `"*"`, `"6"` or `6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "FieldRepr", into = "FieldRepr")]
pub enum Field {
    /// `*`: every day / every hour.
    Any,
    /// One value.
    Is(u8),
}

impl Field {
    fn matches(self, v: u32) -> bool {
        match self {
            Self::Any => true,
            Self::Is(x) => u32::from(x) == v,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum FieldRepr {
    Num(u8),
    Text(String),
}

impl TryFrom<FieldRepr> for Field {
    type Error = String;
    fn try_from(r: FieldRepr) -> Result<Self, String> {
        match r {
            FieldRepr::Num(n) => Ok(Self::Is(n)),
            FieldRepr::Text(s) if s.trim() == "*" => Ok(Self::Any),
            FieldRepr::Text(s) => s
                .trim()
                .parse()
                .map(Self::Is)
                .map_err(|_| format!("expected \"*\" or a number, found {s:?}")),
        }
    }
}

impl From<Field> for FieldRepr {
    fn from(f: Field) -> Self {
        match f {
            Field::Any => Self::Text("*".into()),
            Field::Is(n) => Self::Num(n),
        }
    }
}

/// When a publication runs. In TOML: `kind = "daily" | "weekly" | "monthly" | "legrand" | "now"`
/// with the fields of that kind. Deserialized values are checked ([`Schedule::check`] runs
/// inside `Deserialize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "snake_case",
    deny_unknown_fields,
    try_from = "ScheduleRepr",
    into = "ScheduleRepr"
)]
pub enum Schedule {
    /// Hager: every day at `at`.
    Daily {
        /// Local time.
        at: TimeOfDay,
    },
    /// Hager: every week on `weekday` at `at`.
    Weekly {
        /// Day of the week.
        weekday: Weekday,
        /// Local time.
        at: TimeOfDay,
    },
    /// Hager: every month on `day` (1-31; the last day of shorter months) at `at`.
    Monthly {
        /// Day of the month, 1 to 31.
        day: u8,
        /// Local time.
        at: TimeOfDay,
    },
    /// Legrand connector: on day-of-month `day` (1-31 or `*`) at hour `hour` (0-23 or `*`),
    /// minute 0.
    Legrand {
        /// Day of the month or `*`.
        day: Field,
        /// Hour or `*`.
        hour: Field,
    },
    /// No schedule: the publication runs only when asked ("send now").
    Now,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum ScheduleRepr {
    Daily { at: TimeOfDay },
    Weekly { weekday: Weekday, at: TimeOfDay },
    Monthly { day: u8, at: TimeOfDay },
    Legrand { day: Field, hour: Field },
    Now,
}

impl TryFrom<ScheduleRepr> for Schedule {
    type Error = PublishError;
    fn try_from(r: ScheduleRepr) -> Result<Self, PublishError> {
        let s = match r {
            ScheduleRepr::Daily { at } => Self::Daily { at },
            ScheduleRepr::Weekly { weekday, at } => Self::Weekly { weekday, at },
            ScheduleRepr::Monthly { day, at } => Self::Monthly { day, at },
            ScheduleRepr::Legrand { day, hour } => Self::Legrand { day, hour },
            ScheduleRepr::Now => Self::Now,
        };
        s.check()?;
        Ok(s)
    }
}

impl From<Schedule> for ScheduleRepr {
    fn from(s: Schedule) -> Self {
        match s {
            Schedule::Daily { at } => Self::Daily { at },
            Schedule::Weekly { weekday, at } => Self::Weekly { weekday, at },
            Schedule::Monthly { day, at } => Self::Monthly { day, at },
            Schedule::Legrand { day, hour } => Self::Legrand { day, hour },
            Schedule::Now => Self::Now,
        }
    }
}

/// Days searched ahead before giving up (a Legrand day 31 recurs within 62 days).
const HORIZON_DAYS: i64 = 400;

impl Schedule {
    /// Check the ranges (day 1-31, hour 0-23).
    ///
    /// # Errors
    /// [`PublishError::Config`] naming the field.
    pub fn check(&self) -> Result<(), PublishError> {
        let cfg = |field: &str, message: String| {
            Err(PublishError::Config {
                field: field.into(),
                message,
            })
        };
        match *self {
            Self::Monthly { day, .. } if !(1..=31).contains(&day) => cfg(
                "day",
                format!("expected a day of the month 1 to 31, found {day}"),
            ),
            Self::Legrand {
                day: Field::Is(d), ..
            } if !(1..=31).contains(&d) => cfg(
                "day",
                format!("expected \"*\" or a day of the month 1 to 31, found {d}"),
            ),
            Self::Legrand {
                hour: Field::Is(h), ..
            } if h > 23 => cfg(
                "hour",
                format!("expected \"*\" or an hour 0 to 23, found {h}"),
            ),
            _ => Ok(()),
        }
    }

    /// Whether the local wall time `w` (whole minutes) is a scheduled time.
    #[must_use]
    pub fn matches_wall_time(&self, w: NaiveDateTime) -> bool {
        let (d, h, m) = (w.date(), w.hour_u32(), w.minute_u32());
        let at_ok = |at: TimeOfDay| h == u32::from(at.hour) && m == u32::from(at.minute);
        match *self {
            Self::Daily { at } => at_ok(at),
            Self::Weekly { weekday, at } => d.weekday() == weekday.to_chrono() && at_ok(at),
            Self::Monthly { day, at } => {
                d.day() == u32::from(day).min(days_in_month(d)) && at_ok(at)
            }
            Self::Legrand { day, hour } => day.matches(d.day()) && hour.matches(h) && m == 0,
            Self::Now => false,
        }
    }

    /// The scheduled wall times on local date `d`, in order.
    fn times_on(&self, d: NaiveDate) -> Vec<(u32, u32)> {
        let at = |t: TimeOfDay| vec![(u32::from(t.hour), u32::from(t.minute))];
        match *self {
            Self::Daily { at: t } => at(t),
            Self::Weekly { weekday, at: t } if d.weekday() == weekday.to_chrono() => at(t),
            Self::Monthly { day, at: t } if d.day() == u32::from(day).min(days_in_month(d)) => {
                at(t)
            }
            Self::Legrand { day, hour } if day.matches(d.day()) => match hour {
                Field::Any => (0..24).map(|h| (h, 0)).collect(),
                Field::Is(h) => vec![(u32::from(h), 0)],
            },
            _ => Vec::new(),
        }
    }

    /// The next run strictly after `t`, in the site's time zone `tz` (see the module doc for
    /// daylight-saving changes); `None` for [`Schedule::Now`] (and for a schedule that never
    /// matches within 400 days, which [`Schedule::check`] rules out).
    #[must_use]
    pub fn next_after(&self, t: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        if matches!(self, Self::Now) {
            return None;
        }
        let start = t.with_timezone(&tz).date_naive().pred_opt()?;
        for i in 0..HORIZON_DAYS {
            let d = start.checked_add_signed(Duration::days(i))?;
            let mut best: Option<DateTime<Utc>> = None;
            for (h, m) in self.times_on(d) {
                let w = d.and_hms_opt(h, m, 0)?;
                if let Some(x) = resolve(w, tz).filter(|x| *x > t) {
                    best = Some(best.map_or(x, |b| b.min(x)));
                }
            }
            if best.is_some() {
                return best;
            }
        }
        None
    }
}

/// The instant a wall time `w` happens in `tz`: the earlier one when it happens twice, the end
/// of the gap when it is skipped.
fn resolve(w: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&w) {
        LocalResult::Single(x) => Some(x.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => {
            // In a gap: the first wall minute after it (gaps are at most a day long).
            let mut n = w;
            for _ in 0..(2 * 24 * 60) {
                n = n.checked_add_signed(Duration::minutes(1))?;
                match tz.from_local_datetime(&n) {
                    LocalResult::Single(x) => return Some(x.with_timezone(&Utc)),
                    LocalResult::Ambiguous(a, b) => return Some(a.min(b).with_timezone(&Utc)),
                    LocalResult::None => {}
                }
            }
            None
        }
    }
}

fn days_in_month(d: NaiveDate) -> u32 {
    let (y, m) = (d.year(), d.month());
    let first_next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    };
    first_next
        .and_then(|f| f.pred_opt())
        .map_or(31, |l| l.day())
}

trait HourMinute {
    fn hour_u32(&self) -> u32;
    fn minute_u32(&self) -> u32;
}

impl HourMinute for NaiveDateTime {
    fn hour_u32(&self) -> u32 {
        chrono::Timelike::hour(self)
    }
    fn minute_u32(&self) -> u32 {
        chrono::Timelike::minute(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;
    use proptest::prelude::*;
    use std::collections::HashSet;

    const PARIS: Tz = chrono_tz::Europe::Paris;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn at(h: u8, m: u8) -> TimeOfDay {
        TimeOfDay::new(h, m).unwrap()
    }

    /// The definition, minute by minute: a run at UTC minute `m` when the wall clock passes a
    /// scheduled wall time between `m - 1 min` and `m` that it has not passed before.
    fn brute_force(
        s: &Schedule,
        t: DateTime<Utc>,
        tz: Tz,
        limit_days: i64,
    ) -> Option<DateTime<Utc>> {
        let floor = t.with_second(0).unwrap().with_nanosecond(0).unwrap();
        let mut m = floor - Duration::days(2);
        let mut fired: HashSet<NaiveDateTime> = HashSet::new();
        let mut prev = (m - Duration::minutes(1)).with_timezone(&tz).naive_local();
        let end = floor + Duration::days(limit_days);
        while m <= end {
            let now = m.with_timezone(&tz).naive_local();
            let mut w = prev + Duration::minutes(1);
            while w <= now {
                if s.matches_wall_time(w) && fired.insert(w) && m > t {
                    return Some(m);
                }
                w += Duration::minutes(1);
            }
            prev = prev.max(now);
            m += Duration::minutes(1);
        }
        None
    }

    #[test]
    fn spring_forward_runs_once_at_the_end_of_the_gap() {
        let s = Schedule::Daily { at: at(2, 30) };
        let t = utc(2026, 3, 28, 12, 0);
        // 02:30 does not exist on 2026-03-29: the clock jumps 02:00 CET -> 03:00 CEST (01:00 UTC).
        assert_eq!(s.next_after(t, PARIS), Some(utc(2026, 3, 29, 1, 0)));
        assert_eq!(
            s.next_after(utc(2026, 3, 29, 1, 0), PARIS),
            Some(utc(2026, 3, 30, 0, 30))
        );
        // Legrand every hour: hour 2 (skipped) and hour 3 (03:00 CEST) are the same instant.
        let l = Schedule::Legrand {
            day: Field::Any,
            hour: Field::Any,
        };
        assert_eq!(
            l.next_after(utc(2026, 3, 29, 0, 0), PARIS),
            Some(utc(2026, 3, 29, 1, 0))
        );
        assert_eq!(
            l.next_after(utc(2026, 3, 29, 1, 0), PARIS),
            Some(utc(2026, 3, 29, 2, 0))
        );
    }

    #[test]
    fn fall_back_runs_once_at_the_first_occurrence() {
        let s = Schedule::Daily { at: at(2, 30) };
        // 02:30 happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET): once, the first.
        assert_eq!(
            s.next_after(utc(2026, 10, 24, 12, 0), PARIS),
            Some(utc(2026, 10, 25, 0, 30))
        );
        assert_eq!(
            s.next_after(utc(2026, 10, 25, 0, 30), PARIS),
            Some(utc(2026, 10, 26, 1, 30))
        );
        let l = Schedule::Legrand {
            day: Field::Is(25),
            hour: Field::Any,
        };
        // Every hour on the 25th: 02:00 CEST (00:00 UTC), not 02:00 CET again (01:00 UTC),
        // then 03:00 CET (02:00 UTC).
        assert_eq!(
            l.next_after(utc(2026, 10, 24, 23, 0), PARIS),
            Some(utc(2026, 10, 25, 0, 0))
        );
        assert_eq!(
            l.next_after(utc(2026, 10, 25, 0, 0), PARIS),
            Some(utc(2026, 10, 25, 2, 0))
        );
    }

    #[test]
    fn monthly_on_the_31st_runs_on_the_last_day_of_shorter_months_legrand_skips_them() {
        let s = Schedule::Monthly {
            day: 31,
            at: at(6, 0),
        };
        assert_eq!(
            s.next_after(utc(2026, 4, 1, 0, 0), PARIS),
            Some(utc(2026, 4, 30, 4, 0))
        );
        assert_eq!(
            s.next_after(utc(2026, 2, 1, 0, 0), PARIS),
            Some(utc(2026, 2, 28, 5, 0))
        );
        let l = Schedule::Legrand {
            day: Field::Is(31),
            hour: Field::Is(6),
        };
        assert_eq!(
            l.next_after(utc(2026, 4, 1, 0, 0), PARIS),
            Some(utc(2026, 5, 31, 4, 0))
        );
    }

    #[test]
    fn configuration_is_parsed_and_checked_with_the_field_named() {
        let s: Schedule = toml::from_str("kind = \"monthly\"\nday = 15\nat = \"23:05\"").unwrap();
        assert_eq!(
            s,
            Schedule::Monthly {
                day: 15,
                at: at(23, 5)
            }
        );
        let l: Schedule = toml::from_str("kind = \"legrand\"\nday = \"*\"\nhour = \"7\"").unwrap();
        assert_eq!(
            l,
            Schedule::Legrand {
                day: Field::Any,
                hour: Field::Is(7)
            }
        );
        let back: Schedule = toml::from_str(&toml::to_string(&l).unwrap()).unwrap();
        assert_eq!(back, l);
        let now: Schedule = toml::from_str("kind = \"now\"").unwrap();
        assert_eq!(now, Schedule::Now);
        for (bad, what) in [
            ("kind = \"daily\"\nat = \"24:00\"", "24:00"),
            ("kind = \"daily\"\nat = \"6:30\"", "6:30"),
            ("kind = \"monthly\"\nday = 32\nat = \"06:00\"", "found 32"),
            ("kind = \"legrand\"\nday = \"*\"\nhour = 24", "found 24"),
            ("kind = \"legrand\"\nday = \"x\"\nhour = 1", "\"x\""),
            (
                "kind = \"weekly\"\nweekday = \"monday\"\nat = \"06:00\"",
                "monday",
            ),
            ("kind = \"daily\"\nat = \"06:00\"\nextra = 1", "extra"),
        ] {
            let e = toml::from_str::<Schedule>(bad).unwrap_err().to_string();
            assert!(e.contains(what), "{bad}: {e}");
        }
    }

    fn schedule() -> impl Strategy<Value = Schedule> {
        // Times biased to the small hours, where the clock changes.
        let time = (
            prop_oneof![0u8..5, 0u8..24],
            prop_oneof![Just(0u8), Just(30), 0u8..60],
        )
            .prop_map(|(h, m)| TimeOfDay::new(h, m).unwrap());
        let weekday = prop_oneof![
            Just(Weekday::Mon),
            Just(Weekday::Tue),
            Just(Weekday::Wed),
            Just(Weekday::Thu),
            Just(Weekday::Fri),
            Just(Weekday::Sat),
            Just(Weekday::Sun)
        ];
        let field =
            |max: u8, min: u8| prop_oneof![Just(Field::Any), (min..=max).prop_map(Field::Is)];
        prop_oneof![
            time.clone().prop_map(|at| Schedule::Daily { at }),
            (weekday, time.clone()).prop_map(|(weekday, at)| Schedule::Weekly { weekday, at }),
            (prop_oneof![20u8..=31, 1u8..=31], time)
                .prop_map(|(day, at)| Schedule::Monthly { day, at }),
            (
                prop_oneof![Just(Field::Is(25)), Just(Field::Is(29)), field(31, 1)],
                field(23, 0)
            )
                .prop_map(|(day, hour)| Schedule::Legrand { day, hour }),
        ]
    }

    /// Instants within a few days of Europe/Paris's 2026 clock changes (second-resolution).
    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        let spring = utc(2026, 3, 26, 0, 0).timestamp();
        let autumn = utc(2026, 10, 22, 0, 0).timestamp();
        let span: i64 = 6 * 86_400;
        (prop_oneof![Just(spring), Just(autumn)], 0..span)
            .prop_map(|(base, off)| DateTime::from_timestamp(base + off, 0).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
        #[test]
        fn next_run_equals_a_minute_by_minute_scan_across_paris_dst(s in schedule(), t in instant()) {
            let fast = s.next_after(t, PARIS);
            prop_assert!(fast.is_some());
            let slow = brute_force(&s, t, PARIS, 64);
            prop_assert_eq!(fast, slow, "{:?} after {}", s, t);
            // Also right after the computed run (the next one is a different run).
            let f = fast.unwrap();
            prop_assert_eq!(s.next_after(f, PARIS), brute_force(&s, f, PARIS, 64));
        }
    }
}
