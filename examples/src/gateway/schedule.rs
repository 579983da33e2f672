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
        load_state(path, "report schedule")
    }

    /// Write the state file (through a temporary file renamed over it).
    ///
    /// # Errors
    /// The file system's.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        save_state(self, path)
    }
}

/// A publication whose files wait to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Since when (the scheduled instant, or when its report was written).
    pub since: DateTime<Utc>,
    /// Runs that failed since then.
    pub failures: u32,
    /// Not run again before this instant.
    pub retry_at: DateTime<Utc>,
}

/// When the site's `[[publication]]` entries with a destination run
/// ([`crate::gateway::publish`]): pure logic over a clock given by the caller, with its
/// state kept in `[output] dir/.publications.json` ([`Publications::path`]).
///
/// - With a `schedule` ([`reports::publish::schedule::Schedule`]): due at the first
///   scheduled instant after its last run (in the site's time zone, DST by the schedule's
///   own rules); a monitor stopped over several instants runs once when it starts again. A
///   publication seen for the first time starts from that moment (its next instant).
///   `kind = "now"` is never due by itself.
/// - Without a schedule: due after one of its reports was written
///   ([`Publications::report_written`]).
/// - A due publication is pending until a run succeeds; a failed run waits
///   `retry.delay(failures)` (the retry policy's backoff) before the next one.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use examples::gateway::schedule::Publications;
/// use examples::site::Site;
///
/// let text = examples::site::DEMO_TEXT.replace(
///     "keep = 7",
///     "keep = 7\nschedule = { kind = \"daily\", at = \"06:30\" }\n\
///      [publication.destination]\ntype = \"folder\"\npath = \"drop\"",
/// );
/// let site = Site::from_str("site.toml", &text).unwrap();
/// let tz = site.time_zone(); // Europe/Copenhagen
/// let mut state = Publications::default();
/// let start = Utc.with_ymd_and_hms(2026, 3, 28, 12, 0, 0).unwrap();
/// assert!(state.due(&site, start).is_empty()); // first seen: waits for 06:30
/// let at = Utc.with_ymd_and_hms(2026, 3, 29, 4, 30, 0).unwrap(); // 06:30 CEST (DST day)
/// assert!(state.due(&site, at - chrono::Duration::minutes(1)).is_empty());
/// assert_eq!(state.due(&site, at), vec!["export".to_string()]);
/// state.finished("export", true, &site.publications[0].retry, at);
/// assert!(state.due(&site, at).is_empty());
/// # let _ = tz;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publications {
    /// Publication name -> the instant its schedule was last handled.
    #[serde(default)]
    pub last_run: BTreeMap<String, DateTime<Utc>>,
    /// Publication name -> its waiting files.
    #[serde(default)]
    pub pending: BTreeMap<String, Pending>,
}

impl Publications {
    /// The state file in an output folder: `.publications.json`.
    pub fn path(output_dir: &Path) -> PathBuf {
        output_dir.join(".publications.json")
    }

    /// Read the state file; missing, unreadable or damaged is an empty state (logged).
    pub fn load(path: &Path) -> Publications {
        load_state(path, "publication")
    }

    /// Write the state file (through a temporary file renamed over it).
    ///
    /// # Errors
    /// The file system's.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        save_state(self, path)
    }

    fn mark(&mut self, name: &str, since: DateTime<Utc>) {
        self.pending.entry(name.to_string()).or_insert(Pending {
            since,
            failures: 0,
            retry_at: since,
        });
    }

    /// Report `report` was written at `now`: the publications naming it that have a
    /// destination and no schedule become pending.
    pub fn report_written(&mut self, site: &crate::site::Site, report: &str, now: DateTime<Utc>) {
        for p in &site.publications {
            if p.destination.is_some()
                && p.schedule.is_none()
                && p.reports.iter().any(|r| r == report)
            {
                self.mark(&p.name, now);
            }
        }
    }

    /// The publications to run at `now` (names, in site order): scheduled instants reached
    /// become pending, then the pending ones whose backoff is over are returned.
    pub fn due(&mut self, site: &crate::site::Site, now: DateTime<Utc>) -> Vec<String> {
        let tz = site.time_zone();
        let mut out = Vec::new();
        for p in site.publications.iter().filter(|p| p.destination.is_some()) {
            if let Some(schedule) = &p.schedule {
                let last = *self.last_run.entry(p.name.clone()).or_insert(now);
                if let Some(next) = schedule.next_after(last, tz)
                    && next <= now
                {
                    self.last_run.insert(p.name.clone(), now);
                    self.mark(&p.name, next);
                }
            }
            if self.pending.get(&p.name).is_some_and(|w| w.retry_at <= now) {
                out.push(p.name.clone());
            }
        }
        out
    }

    /// A run of `name` finished at `now`: delivered (`ok`) clears it, a failure waits
    /// `retry.delay(failures)`.
    pub fn finished(
        &mut self,
        name: &str,
        ok: bool,
        retry: &reports::publish::RetryPolicy,
        now: DateTime<Utc>,
    ) {
        if ok {
            self.pending.remove(name);
        } else if let Some(w) = self.pending.get_mut(name) {
            w.failures = w.failures.saturating_add(1);
            let wait = Duration::from_std(retry.delay(w.failures)).unwrap_or(Duration::MAX);
            w.retry_at = now
                .checked_add_signed(wait)
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
        }
    }
}

/// A JSON state file: missing is the default state; unreadable or damaged is logged (as
/// `what` state) and also the default.
fn load_state<T: serde::de::DeserializeOwned + Default>(path: &Path, what: &str) -> T {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
            tracing::warn!(file = %path.display(), "{what} state ignored: {e}");
            T::default()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => T::default(),
        Err(e) => {
            tracing::warn!(file = %path.display(), "{what} state unreadable: {e}");
            T::default()
        }
    }
}

/// Write a JSON state file through a temporary file renamed over it.
fn save_state<T: Serialize>(state: &T, path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(state).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
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

    fn publication_site(extra: &str) -> crate::site::Site {
        let text = crate::site::DEMO_TEXT.replace(
            "keep = 7",
            &format!(
                "keep = 7\n{extra}\n[publication.destination]\ntype = \"folder\"\npath = \"drop\""
            ),
        );
        crate::site::Site::from_str("site.toml", &text).unwrap()
    }

    /// Every instant a publication is due, checking every minute like the monitor's cycles,
    /// each run succeeding.
    fn publication_runs(
        site: &crate::site::Site,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<DateTime<Utc>> {
        let mut state = Publications::default();
        let retry = site.publications[0].retry;
        let mut out = Vec::new();
        let mut now = from;
        while now < to {
            for name in state.due(site, now) {
                out.push(now);
                state.finished(&name, true, &retry, now);
            }
            now += Duration::minutes(1);
        }
        out
    }

    #[test]
    fn a_scheduled_publication_runs_at_its_next_instant_across_both_dst_changes() {
        // daily 02:30 in Copenhagen: spring forward (29 March, 02:30 does not exist) runs at
        // 03:00 CEST; fall back (25 October, 02:30 twice) runs once, at the first
        let site = publication_site("schedule = { kind = \"daily\", at = \"02:30\" }");
        let got = publication_runs(&site, utc(2026, 3, 28, 12, 0), utc(2026, 3, 30, 12, 0));
        assert_eq!(got, vec![utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)]);
        let got = publication_runs(&site, utc(2026, 10, 24, 12, 0), utc(2026, 10, 26, 12, 0));
        assert_eq!(
            got,
            vec![utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
        );
        // the same instants as the reports crate's schedule computes
        let s = site.publications[0].schedule.unwrap();
        assert_eq!(
            s.next_after(utc(2026, 10, 24, 12, 0), tz()),
            Some(utc(2026, 10, 25, 0, 30))
        );
    }

    #[test]
    fn weekly_and_now_schedules() {
        let site =
            publication_site("schedule = { kind = \"weekly\", weekday = \"mon\", at = \"06:00\" }");
        // from Wednesday 20 May 2026 to Wednesday 3 June: Mondays 25 May and 1 June
        let got = publication_runs(&site, utc(2026, 5, 20, 12, 0), utc(2026, 6, 3, 12, 0));
        assert_eq!(got, vec![utc(2026, 5, 25, 4, 0), utc(2026, 6, 1, 4, 0)]);
        let site = publication_site("schedule = { kind = \"now\" }");
        let got = publication_runs(&site, utc(2026, 5, 20, 12, 0), utc(2026, 5, 23, 12, 0));
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn a_stopped_monitor_runs_a_missed_publication_once_at_restart() {
        let site = publication_site("schedule = { kind = \"daily\", at = \"06:00\" }");
        let mut state = Publications::default();
        state
            .last_run
            .insert("export".into(), utc(2026, 5, 3, 4, 0));
        // three instants missed: one run now, none again until the next instant
        let restart = utc(2026, 5, 7, 9, 0);
        assert_eq!(state.due(&site, restart), vec!["export".to_string()]);
        state.finished("export", true, &site.publications[0].retry, restart);
        assert!(state.due(&site, restart + Duration::hours(1)).is_empty());
        assert_eq!(
            state.due(&site, utc(2026, 5, 8, 4, 0)),
            vec!["export".to_string()]
        );
    }

    #[test]
    fn without_a_schedule_a_written_report_makes_it_due_and_failures_back_off() {
        let site = publication_site(
            "retry = { attempts = 1, first_delay_ms = 60000, max_delay_ms = 240000 }",
        );
        let retry = site.publications[0].retry;
        let mut state = Publications::default();
        let t = utc(2026, 5, 7, 9, 0);
        assert!(state.due(&site, t).is_empty());
        state.report_written(&site, "other-report", t);
        assert!(state.due(&site, t).is_empty());
        state.report_written(&site, "daily-energy", t);
        assert_eq!(state.due(&site, t), vec!["export".to_string()]);
        // failed: waits 1 min, then 2, then 4, then 4 (max)
        let mut now = t;
        let mut waits = Vec::new();
        for _ in 0..4 {
            state.finished("export", false, &retry, now);
            let mut m = 0;
            loop {
                m += 1;
                if !state.due(&site, now + Duration::minutes(m)).is_empty() {
                    break;
                }
            }
            waits.push(m);
            now += Duration::minutes(m);
        }
        assert_eq!(waits, vec![1, 2, 4, 4]);
        assert_eq!(state.pending["export"].failures, 4);
        assert_eq!(state.pending["export"].since, t);
        // delivered: nothing pending, nothing due
        state.finished("export", true, &retry, now);
        assert!(state.pending.is_empty());
        assert!(state.due(&site, now + Duration::days(1)).is_empty());
        // the state survives a restart
        let dir = tempfile::tempdir().unwrap();
        state.report_written(&site, "daily-energy", now);
        let path = Publications::path(dir.path());
        state.save(&path).unwrap();
        assert_eq!(Publications::load(&path), state);
    }
}
