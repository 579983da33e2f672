//! Weekly schedules in a named time zone, with holidays.
//!
//! A rule with a schedule raises only inside one of its windows. Windows are local wall-clock
//! times (`from` inclusive, `to` exclusive, `"24:00"` for the end of the day) on chosen
//! weekdays; holiday dates (local) are closed all day. Across a daylight-saving change the
//! windows follow the wall clock: on the spring-forward day a window that opens inside the
//! skipped hour opens when the clock jumps; on the fall-back day the repeated hour belongs to
//! the window twice.

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc,
    Weekday,
};
use chrono_tz::Tz;

/// One weekly window: on `days`, from `from` (inclusive) to `to` (exclusive), local time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Weekdays, bit 0 = Monday .. bit 6 = Sunday.
    days: u8,
    /// Seconds after local midnight, inclusive.
    from: u32,
    /// Seconds after local midnight, exclusive (86 400 = end of day).
    to: u32,
}

impl Window {
    /// A window on `days` from `from` to `to` (`"HH:MM"` or `"HH:MM:SS"`, `to` may be `"24:00"`).
    /// `days` are `mon`..`sun`, or `weekdays`, `weekend`, `all`; an empty list means every day.
    ///
    /// ```
    /// let w = alarms::Window::new(&["weekdays"], "07:00", "17:30")?;
    /// assert!(w.applies_on(chrono::Weekday::Tue));
    /// assert!(!w.applies_on(chrono::Weekday::Sun));
    /// # Ok::<(), String>(())
    /// ```
    pub fn new(days: &[&str], from: &str, to: &str) -> Result<Window, String> {
        let mut mask = 0u8;
        for d in days {
            mask |= day_mask(d)?;
        }
        if days.is_empty() {
            mask = 0x7f;
        }
        let from_s = parse_clock(from)?;
        let to_s = parse_clock(to)?;
        if from_s >= 86_400 {
            return Err(format!("expected a start before 24:00, found {from:?}"));
        }
        if to_s <= from_s {
            return Err(format!(
                "the window ends before it starts: from {from:?} to {to:?} (split a window across midnight in two)"
            ));
        }
        Ok(Window {
            days: mask,
            from: from_s,
            to: to_s,
        })
    }

    /// Whether the window applies on this weekday.
    pub fn applies_on(&self, day: Weekday) -> bool {
        self.days & (1 << day.num_days_from_monday()) != 0
    }

    fn contains(&self, day: Weekday, secs: u32) -> bool {
        self.applies_on(day) && secs >= self.from && secs < self.to
    }
}

fn day_mask(d: &str) -> Result<u8, String> {
    Ok(match d.trim().to_ascii_lowercase().as_str() {
        "mon" | "monday" => 1,
        "tue" | "tuesday" => 2,
        "wed" | "wednesday" => 4,
        "thu" | "thursday" => 8,
        "fri" | "friday" => 16,
        "sat" | "saturday" => 32,
        "sun" | "sunday" => 64,
        "weekdays" => 0x1f,
        "weekend" => 0x60,
        "all" => 0x7f,
        _ => {
            return Err(format!(
                "expected a day (mon, tue, wed, thu, fri, sat, sun, weekdays, weekend, all), found {d:?}"
            ));
        }
    })
}

/// `"HH:MM"` or `"HH:MM:SS"` as seconds after midnight; `"24:00"` is 86 400.
fn parse_clock(text: &str) -> Result<u32, String> {
    let bad = || format!("expected a local time \"HH:MM\" (00:00 to 24:00), found {text:?}");
    let parts: Vec<&str> = text.trim().split(':').collect();
    if parts.len() < 2 || parts.len() > 3 {
        return Err(bad());
    }
    let num = |s: &str, max: u32| -> Result<u32, String> {
        if s.len() != 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<u32>().ok().filter(|v| *v <= max).ok_or_else(bad)
    };
    let h = num(parts[0], 24)?;
    let m = num(parts[1], 59)?;
    let s = if parts.len() == 3 {
        num(parts[2], 59)?
    } else {
        0
    };
    let total = h * 3600 + m * 60 + s;
    if total > 86_400 {
        return Err(bad());
    }
    Ok(total)
}

/// Weekly windows in a time zone, plus closed holiday dates.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    tz: Tz,
    windows: Vec<Window>,
    holidays: BTreeSet<NaiveDate>,
}

impl Schedule {
    /// A schedule in the IANA time zone `time_zone` (e.g. `"Europe/Copenhagen"`).
    ///
    /// ```
    /// use alarms::{Schedule, Window};
    /// use chrono::{NaiveDate, TimeZone, Utc};
    /// let s = Schedule::new(
    ///     "Europe/Copenhagen",
    ///     vec![Window::new(&["weekdays"], "07:00", "17:00").unwrap()],
    ///     vec![NaiveDate::from_ymd_opt(2024, 12, 24).unwrap()],
    /// ).unwrap();
    /// // Monday 2024-03-04 08:00 local = 07:00 UTC (winter time).
    /// assert!(s.contains(Utc.with_ymd_and_hms(2024, 3, 4, 7, 0, 0).unwrap()));
    /// assert!(!s.contains(Utc.with_ymd_and_hms(2024, 3, 4, 5, 59, 0).unwrap()));
    /// ```
    pub fn new(
        time_zone: &str,
        windows: Vec<Window>,
        holidays: Vec<NaiveDate>,
    ) -> Result<Schedule, String> {
        let tz = crate::tz::parse_tz(time_zone)?;
        if windows.is_empty() {
            return Err("expected at least one window, found none".into());
        }
        Ok(Schedule {
            tz,
            windows,
            holidays: holidays.into_iter().collect(),
        })
    }

    /// The schedule's time zone.
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// Whether `t` lies inside a window (and not on a holiday).
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        let local = t.with_timezone(&self.tz);
        if self.holidays.contains(&local.date_naive()) {
            return false;
        }
        let day = local.weekday();
        let secs = local.num_seconds_from_midnight();
        self.windows.iter().any(|w| w.contains(day, secs))
    }

    /// The first instant at or after `t` inside the schedule (`None` if there is none within
    /// 400 days, e.g. every window falls on holidays).
    ///
    /// ```
    /// use alarms::{Schedule, Window};
    /// use chrono::{TimeZone, Utc};
    /// let s = Schedule::new("UTC", vec![Window::new(&[], "08:00", "16:00").unwrap()], vec![]).unwrap();
    /// let t = Utc.with_ymd_and_hms(2024, 1, 1, 20, 0, 0).unwrap();
    /// assert_eq!(s.next_open(t), Some(Utc.with_ymd_and_hms(2024, 1, 2, 8, 0, 0).unwrap()));
    /// ```
    pub fn next_open(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.contains(t) {
            return Some(t);
        }
        let start = t.with_timezone(&self.tz).date_naive();
        let mut starts: Vec<u32> = Vec::new();
        for offset in 0..=400 {
            let date = start.checked_add_signed(Duration::days(offset))?;
            if self.holidays.contains(&date) {
                continue;
            }
            starts.clear();
            starts.extend(
                self.windows
                    .iter()
                    .filter(|w| w.applies_on(date.weekday()))
                    .map(|w| w.from),
            );
            starts.sort_unstable();
            for &from in &starts {
                let Some(candidate) = first_instant_at_or_after(self.tz, date, from) else {
                    continue;
                };
                if candidate >= t && self.contains(candidate) {
                    return Some(candidate);
                }
            }
        }
        None
    }
}

/// The first UTC instant whose local time is at or after `date` + `secs` (the earlier one of
/// a repeated hour; the end of the gap for a skipped hour).
pub(crate) fn first_instant_at_or_after(
    tz: Tz,
    date: NaiveDate,
    secs: u32,
) -> Option<DateTime<Utc>> {
    let base: NaiveDateTime = date.and_hms_opt(0, 0, 0)?;
    let mut local = base.checked_add_signed(Duration::seconds(i64::from(secs)))?;
    // A gap lasts at most a few hours; step a minute at a time (cold path).
    for _ in 0..(24 * 60) {
        match tz.from_local_datetime(&local) {
            LocalResult::Single(t) => return Some(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(a, b) => return Some(a.min(b).with_timezone(&Utc)),
            LocalResult::None => {
                // Move to the next whole minute.
                let into_minute = i64::from(local.second());
                local = local.checked_add_signed(Duration::seconds(60 - into_minute))?;
            }
        }
    }
    None
}
