//! When the site's `[[report]]` entries run: pure logic over a clock given by the caller.
//!
//! A report runs at its local time of day (`at`) in the site's time zone on the days its
//! period starts: every day (`day`), Mondays (`week`), the 1st (`month`), the first day of a
//! quarter (`quarter`), 1 January (`year`). Daylight saving is handled per day: a local time
//! that does not exist (inside the spring-forward gap) runs at the first instant after the
//! gap, a local time that exists twice (fall back) runs at the first of the two; either way
//! once that day.
//!
//! A report is due when its latest scheduled instant at or before `now` is later than its
//! last run ([`due`]); a monitor that was stopped over one or more scheduled instants runs
//! the latest one once when it starts again (one catch-up run, not one per missed instant).
//! With no last run at all (a new site, or a new `[[report]]`), the latest scheduled instant
//! is due at once, so a new report appears at the first cycle.
//!
//! The last runs are kept in `[output] dir/.schedule.json` ([`State`]) so a restart neither
//! repeats nor forgets a run.
//!
//! ```
//! use chrono::{NaiveTime, TimeZone, Utc};
//! use examples::gateway::schedule::{due, scheduled_before};
//! use examples::site::ReportPeriod;
//!
//! let tz: chrono_tz::Tz = "Europe/Copenhagen".parse().unwrap();
//! let at = NaiveTime::from_hms_opt(0, 15, 0).unwrap();
//! let now = Utc.with_ymd_and_hms(2026, 6, 2, 8, 0, 0).unwrap();
//! // 00:15 local on 2 June (summer time, UTC+2) is 22:15 UTC on 1 June
//! let last = scheduled_before(ReportPeriod::Day, at, tz, now).unwrap();
//! assert_eq!(last, Utc.with_ymd_and_hms(2026, 6, 1, 22, 15, 0).unwrap());
//! assert_eq!(due(ReportPeriod::Day, at, tz, None, now), Some(last));
//! assert_eq!(due(ReportPeriod::Day, at, tz, Some(last), now), None);
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::site::ReportPeriod;

/// Whether a report of `period` runs on local date `d`.
fn runs_on(period: ReportPeriod, d: NaiveDate) -> bool {
    match period {
        ReportPeriod::Day => true,
        ReportPeriod::Week => d.weekday() == chrono::Weekday::Mon,
        ReportPeriod::Month => d.day() == 1,
        ReportPeriod::Quarter => d.day() == 1 && d.month0().is_multiple_of(3),
        ReportPeriod::Year => d.day() == 1 && d.month() == 1,
    }
}

/// The instant local time `at` on local date `d` happens in `tz`: the first one when it
/// happens twice, the end of the gap when it does not happen (the gap is at most a few
/// hours: the first local minute after `at` that exists).
pub fn local_instant(d: NaiveDate, at: NaiveTime, tz: Tz) -> Option<DateTime<Utc>> {
    let local = d.and_time(at);
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.with_timezone(&Utc)),
        LocalResult::None => (1..=24 * 60).find_map(|m| {
            match tz.from_local_datetime(&(local + Duration::minutes(m))) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
                    Some(t.with_timezone(&Utc))
                }
                LocalResult::None => None,
            }
        }),
    }
}

/// The latest scheduled instant of a report at or before `now` (looking back at most
/// 400 local days: every period runs at least once a year).
pub fn scheduled_before(
    period: ReportPeriod,
    at: NaiveTime,
    tz: Tz,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let today = now.with_timezone(&tz).date_naive();
    (0..400)
        .filter_map(|back| today.checked_sub_signed(Duration::days(back)))
        .filter(|d| runs_on(period, *d))
        .filter_map(|d| local_instant(d, at, tz))
        .find(|t| *t <= now)
}

/// The scheduled instant that is due at `now`, if any: the latest one at or before `now`
/// when the report has not run for it (`last_run` earlier, or never run).
pub fn due(
    period: ReportPeriod,
    at: NaiveTime,
    tz: Tz,
    last_run: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let latest = scheduled_before(period, at, tz, now)?;
    match last_run {
        Some(last) if last >= latest => None,
        _ => Some(latest),
    }
}

/// The last scheduled instant each report ran for, by report name; kept as JSON in the
/// output folder ([`State::path`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Report name -> the scheduled instant of its last run.
    pub last_run: BTreeMap<String, DateTime<Utc>>,
}

impl State {
    /// The state file in an output folder: `.schedule.json`.
    pub fn path(output_dir: &Path) -> PathBuf {
        output_dir.join(".schedule.json")
    }

    /// Read the state file; a missing file is an empty state, an unreadable or damaged one
    /// is logged and also empty (the reports then run once more rather than never).
    pub fn load(path: &Path) -> State {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
                tracing::warn!(file = %path.display(), "report schedule state ignored: {e}");
                State::default()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => {
                tracing::warn!(file = %path.display(), "report schedule state unreadable: {e}");
                State::default()
            }
        }
    }

    /// Write the state file (through a temporary file renamed over it).
    ///
    /// # Errors
    /// The file system's.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn tz() -> Tz {
        "Europe/Copenhagen".parse().unwrap()
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    /// Every run of a daily report between `from` and `to`, checking `due` every minute
    /// the way the monitor does every cycle.
    fn runs(at: NaiveTime, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut last = Some(scheduled_before(ReportPeriod::Day, at, tz(), from).unwrap());
        let mut out = Vec::new();
        let mut now = from;
        while now < to {
            if let Some(t) = due(ReportPeriod::Day, at, tz(), last, now) {
                out.push(t);
                last = Some(t);
            }
            now += Duration::minutes(1);
        }
        out
    }

    #[test]
    fn spring_forward_day_runs_once() {
        // 29 March 2026: 02:00 CET -> 03:00 CEST in Copenhagen
        let got = runs(hm(0, 15), utc(2026, 3, 27, 12, 0), utc(2026, 3, 30, 12, 0));
        assert_eq!(
            got,
            vec![
                utc(2026, 3, 27, 23, 15), // 28 March 00:15 CET
                utc(2026, 3, 28, 23, 15), // 29 March 00:15 CET
                utc(2026, 3, 29, 22, 15), // 30 March 00:15 CEST
            ]
        );
        // a time inside the gap (02:30 does not exist on 29 March) runs at 03:00 CEST
        let got = runs(hm(2, 30), utc(2026, 3, 28, 12, 0), utc(2026, 3, 30, 12, 0));
        assert_eq!(got, vec![utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)]);
    }

    #[test]
    fn fall_back_day_runs_once() {
        // 25 October 2026: 03:00 CEST -> 02:00 CET in Copenhagen
        let got = runs(
            hm(0, 15),
            utc(2026, 10, 23, 12, 0),
            utc(2026, 10, 26, 12, 0),
        );
        assert_eq!(
            got,
            vec![
                utc(2026, 10, 23, 22, 15), // 24 October 00:15 CEST
                utc(2026, 10, 24, 22, 15), // 25 October 00:15 CEST
                utc(2026, 10, 25, 23, 15), // 26 October 00:15 CET
            ]
        );
        // 02:30 happens twice on 25 October: the report runs at the first, only
        let got = runs(
            hm(2, 30),
            utc(2026, 10, 24, 12, 0),
            utc(2026, 10, 26, 12, 0),
        );
        assert_eq!(
            got,
            vec![utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
        );
    }

    #[test]
    fn a_restart_catches_up_one_missed_run_and_not_twice() {
        let at = hm(0, 15);
        let ran = utc(2026, 5, 3, 22, 15); // 4 May 00:15 CEST
        // stopped for three days: at restart only the latest missed instant is due
        let restart = utc(2026, 5, 7, 9, 0);
        let d = due(ReportPeriod::Day, at, tz(), Some(ran), restart);
        assert_eq!(d, Some(utc(2026, 5, 6, 22, 15)));
        // once run, not again until the next day's instant
        assert_eq!(due(ReportPeriod::Day, at, tz(), d, restart), None);
        assert_eq!(
            due(ReportPeriod::Day, at, tz(), d, utc(2026, 5, 7, 22, 14)),
            None
        );
        assert_eq!(
            due(ReportPeriod::Day, at, tz(), d, utc(2026, 5, 7, 22, 15)),
            Some(utc(2026, 5, 7, 22, 15))
        );
        // never run: the latest instant is due at once
        assert_eq!(
            due(ReportPeriod::Day, at, tz(), None, restart),
            Some(utc(2026, 5, 6, 22, 15))
        );
    }

    #[test]
    fn weekly_monthly_quarterly_and_yearly_instants() {
        let at = hm(6, 0);
        let now = utc(2026, 5, 20, 12, 0); // a Wednesday
        let s = |p| scheduled_before(p, at, tz(), now).unwrap();
        assert_eq!(s(ReportPeriod::Week), utc(2026, 5, 18, 4, 0)); // Monday 06:00 CEST
        assert_eq!(s(ReportPeriod::Month), utc(2026, 5, 1, 4, 0));
        assert_eq!(s(ReportPeriod::Quarter), utc(2026, 4, 1, 4, 0));
        assert_eq!(s(ReportPeriod::Year), utc(2026, 1, 1, 5, 0)); // CET
        // exactly at the instant it is due
        let monday = utc(2026, 5, 18, 4, 0);
        assert_eq!(
            due(ReportPeriod::Week, at, tz(), None, monday),
            Some(monday)
        );
    }

    #[test]
    fn state_round_trips_and_a_damaged_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = State::path(dir.path());
        assert_eq!(State::load(&path), State::default());
        let mut s = State::default();
        s.last_run.insert("daily".into(), utc(2026, 5, 6, 22, 15));
        s.save(&path).unwrap();
        assert_eq!(State::load(&path), s);
        std::fs::write(&path, "{ not json").unwrap();
        assert_eq!(State::load(&path), State::default());
    }
}
