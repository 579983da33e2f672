//! The recording interval: which live readings are stored.
//!
//! Each point has its recording interval: a catalogue service's own
//! (`recording_interval_min`), else the site's `[poll] record` (M-Bus meters, ECL
//! parameters); [`Recorder::for_site`] builds that map.

use std::collections::HashMap;
use std::time::Duration;

use modbus_devices::poll::Cycle;

use crate::site::Site;

fn seconds(interval: Duration) -> i64 {
    i64::try_from(interval.as_secs()).unwrap_or(i64::MAX).max(1)
}

/// Keeps a point's reading at the first cycle of each of its recording intervals, the
/// intervals aligned to the wall clock (UTC): with 15 min, the first good reading at or
/// after :00, :15, :30 and :45 of each hour.
///
/// ```
/// use std::time::Duration;
/// use examples::gateway::record::Recorder;
///
/// let mut r = Recorder::new(Duration::from_secs(900));
/// r.set_interval("main/energy", Duration::from_secs(300));
/// assert_eq!(r.interval("main/energy"), Duration::from_secs(300));
/// assert_eq!(r.interval("hm1/energy"), Duration::from_secs(900));
/// ```
#[derive(Debug)]
pub struct Recorder {
    default_s: i64,
    intervals: HashMap<String, i64>,
    last: HashMap<String, i64>,
}

impl Recorder {
    /// A recorder storing every point at `interval` (whole seconds, at least 1) until
    /// [`Recorder::set_interval`] gives a point its own.
    pub fn new(interval: Duration) -> Recorder {
        Recorder {
            default_s: seconds(interval),
            intervals: HashMap::new(),
            last: HashMap::new(),
        }
    }

    /// The site's recorder: each `[[device]]` service at its catalogue recording interval,
    /// every other point (M-Bus meters, ECL parameters) at `[poll] record`. `every`
    /// replaces them all with one interval (tests and demos, where minutes are too long to
    /// watch).
    pub fn for_site(site: &Site, every: Option<Duration>) -> Recorder {
        let mut recorder = Recorder::new(every.unwrap_or(site.poll.record));
        if every.is_some() {
            return recorder;
        }
        for d in &site.devices {
            let Some(product) = site.catalogue().get(&d.product) else {
                continue;
            };
            for s in &product.services {
                recorder.set_interval(
                    format!("{}/{}", d.name, s.id),
                    Duration::from_secs(u64::from(s.recording_interval_min) * 60),
                );
            }
        }
        recorder
    }

    /// Give `point` (`device/service`) its own recording interval (whole seconds, at least
    /// 1).
    pub fn set_interval(&mut self, point: impl Into<String>, interval: Duration) {
        self.intervals.insert(point.into(), seconds(interval));
    }

    /// The recording interval of `point`.
    pub fn interval(&self, point: &str) -> Duration {
        let s = self.intervals.get(point).copied().unwrap_or(self.default_s);
        Duration::from_secs(u64::try_from(s).unwrap_or(1))
    }

    /// The readings of `cycle` to store: each good point's first reading with a number in
    /// its interval (the interval of the cycle's start, each point with its own interval).
    /// The others are left out: failed reads, and text values (identification strings are
    /// not time series), so every selected reading is a sample for the store.
    pub fn select(&mut self, cycle: &Cycle) -> Cycle {
        let start = cycle.started.timestamp();
        let readings = cycle
            .readings
            .iter()
            .filter(|r| {
                r.quality == modbus_devices::Quality::Good
                    && r.value.as_ref().and_then(crate::pipeline::number).is_some()
            })
            .filter(|r| {
                let name = r.point();
                let every = self.intervals.get(&name).copied().unwrap_or(self.default_s);
                let slot = start.div_euclid(every);
                if self.last.get(&name) == Some(&slot) {
                    false
                } else {
                    self.last.insert(name, slot);
                    true
                }
            })
            .cloned()
            .collect();
        Cycle {
            number: cycle.number,
            started: cycle.started,
            finished: cycle.finished,
            readings,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::{TimeZone, Utc};
    use modbus_devices::{Quality, Reading, Value};

    fn reading(device: &str, t: chrono::DateTime<Utc>, quality: Quality) -> Reading {
        Reading {
            device: device.into(),
            service: "p".into(),
            value: (quality == Quality::Good).then_some(Value::Number(1.0)),
            unit: modbus_devices::Unit::W,
            timestamp: t,
            quality,
        }
    }

    fn cycle(h: u32, m: u32, s: u32, quality: Quality) -> Cycle {
        let t = Utc.with_ymd_and_hms(2026, 3, 1, h, m, s).unwrap();
        Cycle {
            number: 0,
            started: t,
            finished: t,
            readings: vec![reading("main", t, quality)],
        }
    }

    #[test]
    fn one_reading_per_wall_clock_interval() {
        let mut r = Recorder::new(std::time::Duration::from_secs(900));
        let kept = |r: &mut Recorder, h, m, s, q| r.select(&cycle(h, m, s, q)).readings.len();
        assert_eq!(kept(&mut r, 10, 14, 50, Quality::Good), 1);
        assert_eq!(kept(&mut r, 10, 14, 59, Quality::Good), 0);
        // a failed read at the start of an interval does not use it up
        assert_eq!(kept(&mut r, 10, 15, 0, Quality::NoAnswer), 0);
        assert_eq!(kept(&mut r, 10, 15, 10, Quality::Good), 1);
        assert_eq!(kept(&mut r, 10, 29, 59, Quality::Good), 0);
        assert_eq!(kept(&mut r, 10, 30, 0, Quality::Good), 1);
    }

    #[test]
    fn each_point_at_its_own_wall_clock_interval() {
        // "fast" at 5 min, "slow" at the default 15 min; a live cycle every minute for an hour
        let mut r = Recorder::new(Duration::from_secs(900));
        r.set_interval("fast/p", Duration::from_secs(300));
        let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 20).unwrap();
        let mut kept: HashMap<&str, Vec<String>> = HashMap::new();
        for minute in 0..60 {
            let t = t0 + chrono::Duration::minutes(minute);
            let c = Cycle {
                number: 0,
                started: t,
                finished: t,
                readings: vec![
                    reading("fast", t, Quality::Good),
                    reading("slow", t, Quality::Good),
                ],
            };
            for x in r.select(&c).readings {
                let who = if x.device == "fast" { "fast" } else { "slow" };
                kept.entry(who)
                    .or_default()
                    .push(x.timestamp.format("%H:%M").to_string());
            }
        }
        let fast: Vec<String> = (0..12).map(|i| format!("10:{:02}", i * 5)).collect();
        assert_eq!(kept["fast"], fast);
        assert_eq!(kept["slow"], ["10:00", "10:15", "10:30", "10:45"]);
    }

    #[test]
    fn catalogue_services_with_different_intervals_are_recorded_each_at_its_own() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("acme.toml"),
            r#"[[product]]
references = ["ACME-1"]
vendor = "Acme"
model = "M1"

[[product.service]]
id = "v"
name = "Voltage"
quantity = "voltage"
unit = "V"
category = "voltage"
register = { address = 0x0010, type = "u16", scale = 0.1 }
recording_interval_min = 5

[[product.service]]
id = "e"
name = "Energy"
quantity = "active_energy_import"
unit = "Wh"
category = "energy"
register = { address = 0x0020, type = "u32" }
recording_interval_min = 30
"#,
        )
        .unwrap();
        let site_file = dir.path().join("site.toml");
        std::fs::write(
            &site_file,
            "[site]\nname = \"t\"\ntime_zone = \"Europe/Copenhagen\"\n\n[catalogue]\nfiles = [\"acme.toml\"]\n\n[[bus]]\nname = \"lan\"\nkind = \"tcp\"\naddress = \"127.0.0.1:15020\"\n\n[[device]]\nname = \"m1\"\nproduct = \"ACME-1\"\nbus = \"lan\"\nunit = 1\n\n[poll]\nrecord = \"1min\"\n",
        )
        .unwrap();
        let site = Site::load(&site_file).unwrap();
        let mut r = Recorder::for_site(&site, None);
        assert_eq!(r.interval("m1/v"), Duration::from_secs(300));
        assert_eq!(r.interval("m1/e"), Duration::from_secs(1800));
        assert_eq!(r.interval("hm/energy"), Duration::from_secs(60));
        // a live cycle every 10 s for an hour, from 10:00:05 UTC
        let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 5).unwrap();
        let mut kept: HashMap<String, Vec<String>> = HashMap::new();
        for i in 0..360 {
            let t = t0 + chrono::Duration::seconds(10 * i);
            let mut v = reading("m1", t, Quality::Good);
            v.service = "v".into();
            let mut e = v.clone();
            e.service = "e".into();
            let c = Cycle {
                number: 0,
                started: t,
                finished: t,
                readings: vec![v, e],
            };
            for x in r.select(&c).readings {
                kept.entry(x.service.clone())
                    .or_default()
                    .push(x.timestamp.format("%H:%M:%S").to_string());
            }
        }
        let every_5: Vec<String> = (0..12).map(|i| format!("10:{:02}:05", i * 5)).collect();
        assert_eq!(kept["v"], every_5);
        assert_eq!(kept["e"], ["10:00:05", "10:30:05"]);
    }

    #[test]
    fn the_demo_site_records_catalogue_services_at_their_interval_and_the_rest_at_poll_record() {
        let text = crate::site::DEMO_TEXT.replace("record = \"15min\"", "record = \"1min\"");
        let site = Site::from_str("demo.toml", &text).unwrap();
        let r = Recorder::for_site(&site, None);
        // a catalogue service (the built-in catalogue gives 15 min)
        let d = &site.devices[0];
        let product = site.catalogue().get(&d.product).unwrap();
        let s = &product.services[0];
        assert_eq!(
            r.interval(&format!("{}/{}", d.name, s.id)),
            Duration::from_secs(u64::from(s.recording_interval_min) * 60)
        );
        assert_eq!(r.interval(&format!("{}/{}", d.name, s.id)).as_secs(), 900);
        // an M-Bus meter and an ECL parameter: [poll] record
        assert_eq!(r.interval("hm1/energy"), Duration::from_secs(60));
        assert_eq!(r.interval("ecl1/s1"), Duration::from_secs(60));
        // one interval for all when asked
        let r = Recorder::for_site(&site, Some(Duration::from_secs(2)));
        assert_eq!(
            r.interval(&format!("{}/{}", d.name, s.id)),
            Duration::from_secs(2)
        );
    }
}
