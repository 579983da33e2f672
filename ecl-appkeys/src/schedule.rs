//! Schedules: the weekly (daily comfort periods) and holiday schedules of a circuit.
//!
//! **Weekly schedule registers** (one source, live-tested on an ECL 310 with A237.1): circuit
//! c's Monday period 1 start is PNU 3000 + 100 c + 10 (3110, 3210; 3310 for circuit 3 is
//! inferred), a day is 10 PNUs further (Monday first), and each day holds 3 comfort periods
//! as start/stop pairs (6 PNUs), in HHMM (`630` = 06:30, `2400` = the end of the day). A
//! zero-length period is disabled; this crate writes a disabled period as 2400/2400, the
//! controller's own default.
//!
//! **Holiday schedule**: the ECL's own holiday-programme PNUs are not public, so a holiday
//! (comfort, constant reduced or frost protection for a date range) is applied through the
//! circuit's mode register (PNU 4200 + c): [`Holiday::mode_on`] says the mode for a date and
//! [`Holiday::writes_on`] the register writes (back to "scheduled" after the range).
//!
//! ```
//! use ecl_appkeys::schedule::{WeeklySchedule, Period};
//!
//! let mut week = WeeklySchedule::default();
//! week.monday = vec![Period::parse("06:00", "08:30")?, Period::parse("16:00", "22:00")?];
//! let regs = week.encode(1)?;                          // 42 (PNU, HHMM) pairs
//! assert_eq!(regs[0], (ecl_appkeys::Pnu::new(3110)?, 600));
//! assert_eq!(regs[1].1, 830);
//! assert_eq!(regs[4].1, regs[5].1, "period 3 disabled: zero length");
//! let raw: Vec<u16> = regs.iter().map(|(_, v)| *v).collect();
//! assert_eq!(WeeklySchedule::decode(1, &raw)?, week);
//! # Ok::<(), ecl_appkeys::Error>(())
//! ```

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::pnu::Pnu;
use crate::system::{CircuitMode, mode_pnu};

/// Comfort periods per day.
pub const PERIODS_PER_DAY: usize = 3;
/// Registers per day (3 start/stop pairs).
pub const REGISTERS_PER_DAY: u16 = 6;
/// PNUs between two days.
pub const DAY_STRIDE: u16 = 10;
/// The HHMM value of a disabled period's start and stop.
pub const DISABLED: u16 = 2400;

/// A time of day in HHMM, 00:00 to 24:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HhMm(u16);

impl HhMm {
    /// From hours and minutes; 24:00 is the end of the day.
    pub fn new(hour: u8, minute: u8) -> Result<Self, Error> {
        Self::from_raw(u16::from(hour) * 100 + u16::from(minute)).map_err(|_| {
            Error::InvalidArgument {
                what: "time of day",
                expected: "00:00 to 24:00",
                found: format!("{hour:02}:{minute:02}"),
            }
        })
    }

    /// From the register value (HHMM, up to 2400, minutes below 60).
    pub fn from_raw(raw: u16) -> Result<Self, Error> {
        if raw <= 2400 && raw % 100 < 60 {
            Ok(HhMm(raw))
        } else {
            Err(Error::InvalidArgument {
                what: "HHMM",
                expected: "0 to 2400 with minutes below 60",
                found: raw.to_string(),
            })
        }
    }

    /// The register value.
    pub fn raw(self) -> u16 {
        self.0
    }

    /// Minutes since midnight (1440 for 24:00).
    pub fn minutes(self) -> u16 {
        self.0 / 100 * 60 + self.0 % 100
    }
}

impl std::fmt::Display for HhMm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 100, self.0 % 100)
    }
}

impl std::str::FromStr for HhMm {
    type Err = Error;
    /// Parses `06:30` (or `6:30`, `24:00`).
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::InvalidArgument {
            what: "time of day",
            expected: "HH:MM from 00:00 to 24:00",
            found: format!("{s:?}"),
        };
        let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
        let n = |x: &str| {
            (!x.is_empty() && x.len() <= 2 && x.bytes().all(|c| c.is_ascii_digit()))
                .then(|| x.parse::<u8>().ok())
                .flatten()
        };
        if m.len() != 2 {
            return Err(bad());
        }
        HhMm::new(n(h).ok_or_else(bad)?, n(m).ok_or_else(bad)?).map_err(|_| bad())
    }
}

impl Serialize for HhMm {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HhMm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One comfort period: start before stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// Comfort starts.
    pub start: HhMm,
    /// Comfort stops.
    pub stop: HhMm,
}

impl Period {
    /// A period; refuses a stop at or before the start (a zero-length period is "no
    /// period": leave it out).
    pub fn new(start: HhMm, stop: HhMm) -> Result<Self, Error> {
        if stop <= start {
            return Err(Error::InvalidArgument {
                what: "comfort period",
                expected: "a stop after the start",
                found: format!("{start}-{stop}"),
            });
        }
        Ok(Period { start, stop })
    }

    /// From `HH:MM` texts.
    pub fn parse(start: &str, stop: &str) -> Result<Self, Error> {
        Period::new(start.parse()?, stop.parse()?)
    }
}

/// A circuit's weekly schedule: up to 3 comfort periods per weekday.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs, reason = "the fields are the weekdays")]
pub struct WeeklySchedule {
    #[serde(default)]
    pub monday: Vec<Period>,
    #[serde(default)]
    pub tuesday: Vec<Period>,
    #[serde(default)]
    pub wednesday: Vec<Period>,
    #[serde(default)]
    pub thursday: Vec<Period>,
    #[serde(default)]
    pub friday: Vec<Period>,
    #[serde(default)]
    pub saturday: Vec<Period>,
    #[serde(default)]
    pub sunday: Vec<Period>,
}

/// The first schedule PNU of circuit `circuit` (Monday, period 1 start): 3000 + 100 c + 10.
pub fn schedule_base(circuit: u8) -> Result<Pnu, Error> {
    if !(1..=3).contains(&circuit) {
        return Err(Error::InvalidArgument {
            what: "circuit",
            expected: "a circuit 1, 2 or 3",
            found: circuit.to_string(),
        });
    }
    Pnu::new(3010 + 100 * u16::from(circuit))
}

/// The PNU of a period boundary: `day` 0 = Monday .. 6 = Sunday, `period` 0..3.
pub fn period_pnu(circuit: u8, day: u8, period: u8, stop: bool) -> Result<Pnu, Error> {
    if day > 6 || usize::from(period) >= PERIODS_PER_DAY {
        return Err(Error::InvalidArgument {
            what: "schedule slot",
            expected: "a day 0..=6 and a period 0..=2",
            found: format!("day {day}, period {period}"),
        });
    }
    let base = schedule_base(circuit)?.get();
    Pnu::new(base + DAY_STRIDE * u16::from(day) + 2 * u16::from(period) + u16::from(stop))
}

/// The schedule PNUs of circuit `circuit`, in register order (day by day, start/stop).
pub fn schedule_pnus(circuit: u8) -> Result<Vec<Pnu>, Error> {
    let mut out = Vec::with_capacity(42);
    for day in 0..7u8 {
        for period in 0..3u8 {
            out.push(period_pnu(circuit, day, period, false)?);
            out.push(period_pnu(circuit, day, period, true)?);
        }
    }
    Ok(out)
}

const DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

impl WeeklySchedule {
    /// The periods of day `day` (0 = Monday).
    pub fn day(&self, day: usize) -> &[Period] {
        self.days().get(day).map_or(&[], |p| p.as_slice())
    }

    fn days(&self) -> [&Vec<Period>; 7] {
        [
            &self.monday,
            &self.tuesday,
            &self.wednesday,
            &self.thursday,
            &self.friday,
            &self.saturday,
            &self.sunday,
        ]
    }

    fn days_mut(&mut self) -> [&mut Vec<Period>; 7] {
        [
            &mut self.monday,
            &mut self.tuesday,
            &mut self.wednesday,
            &mut self.thursday,
            &mut self.friday,
            &mut self.saturday,
            &mut self.sunday,
        ]
    }

    /// Check: at most 3 periods a day, each with its stop after its start.
    pub fn check(&self) -> Result<(), Error> {
        for (name, periods) in DAY_NAMES.iter().zip(self.days()) {
            if periods.len() > PERIODS_PER_DAY {
                return Err(Error::InvalidArgument {
                    what: "weekly schedule",
                    expected: "at most 3 comfort periods a day",
                    found: format!("{} on {name}", periods.len()),
                });
            }
            if let Some(p) = periods.iter().find(|p| p.stop <= p.start) {
                return Err(Error::InvalidArgument {
                    what: "weekly schedule",
                    expected: "periods whose stop is after their start",
                    found: format!("{}-{} on {name}", p.start, p.stop),
                });
            }
        }
        Ok(())
    }

    /// The 42 register writes (PNU, HHMM) of circuit `circuit`, in register order; unused
    /// periods are written disabled (2400/2400).
    pub fn encode(&self, circuit: u8) -> Result<Vec<(Pnu, u16)>, Error> {
        self.check()?;
        let pnus = schedule_pnus(circuit)?;
        let mut values = Vec::with_capacity(42);
        for periods in self.days() {
            for i in 0..PERIODS_PER_DAY {
                match periods.get(i) {
                    Some(p) => values.extend([p.start.raw(), p.stop.raw()]),
                    None => values.extend([DISABLED, DISABLED]),
                }
            }
        }
        Ok(pnus.into_iter().zip(values).collect())
    }

    /// Decode the 42 registers of circuit `circuit` (register order, as
    /// [`schedule_pnus`]); zero-length periods are dropped, a period ending before it
    /// starts or a value that is not HHMM is [`Error::BadRegister`].
    pub fn decode(circuit: u8, raw: &[u16]) -> Result<Self, Error> {
        let pnus = schedule_pnus(circuit)?;
        if raw.len() != pnus.len() {
            return Err(Error::InvalidArgument {
                what: "schedule registers",
                expected: "42 values (7 days x 3 periods x start, stop)",
                found: raw.len().to_string(),
            });
        }
        let time = |i: usize| {
            HhMm::from_raw(raw[i]).map_err(|_| Error::BadRegister {
                pnu: pnus[i],
                raw: raw[i],
                expected: "an HHMM time up to 2400",
            })
        };
        let mut week = WeeklySchedule::default();
        for (d, periods) in week.days_mut().into_iter().enumerate() {
            for p in 0..PERIODS_PER_DAY {
                let i = d * 6 + p * 2;
                let (start, stop) = (time(i)?, time(i + 1)?);
                if start == stop {
                    continue;
                }
                if stop < start {
                    return Err(Error::BadRegister {
                        pnu: pnus[i + 1],
                        raw: raw[i + 1],
                        expected: "a stop time after the period's start",
                    });
                }
                periods.push(Period { start, stop });
            }
        }
        Ok(week)
    }
}

/// What a circuit does during a holiday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HolidayMode {
    /// Constant comfort.
    Comfort,
    /// Constant reduced (saving) temperature.
    Reduced,
    /// Frost protection.
    FrostProtection,
}

impl HolidayMode {
    /// The circuit mode that applies it.
    pub fn circuit_mode(self) -> CircuitMode {
        match self {
            HolidayMode::Comfort => CircuitMode::Comfort,
            HolidayMode::Reduced => CircuitMode::Saving,
            HolidayMode::FrostProtection => CircuitMode::FrostProtection,
        }
    }

    /// The holiday mode a circuit mode shows, if any.
    pub fn from_circuit_mode(mode: CircuitMode) -> Option<Self> {
        match mode {
            CircuitMode::Comfort => Some(HolidayMode::Comfort),
            CircuitMode::Saving => Some(HolidayMode::Reduced),
            CircuitMode::FrostProtection => Some(HolidayMode::FrostProtection),
            CircuitMode::Manual | CircuitMode::Scheduled => None,
        }
    }
}

/// A holiday: circuits held in one mode from `from` to `to` (local dates, inclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    /// The circuits (1..=3).
    pub circuits: Vec<u8>,
    /// First day.
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub to: NaiveDate,
    /// What the circuits do.
    pub mode: HolidayMode,
}

impl Holiday {
    /// Check: `from <= to`, circuits 1..=3.
    pub fn check(&self) -> Result<(), Error> {
        if self.to < self.from {
            return Err(Error::InvalidArgument {
                what: "holiday",
                expected: "from <= to",
                found: format!("{} to {}", self.from, self.to),
            });
        }
        for c in &self.circuits {
            mode_pnu(*c)?;
        }
        Ok(())
    }

    /// The mode the holiday sets on `date`: its mode inside the range, `Scheduled` on the
    /// day after it ends (back to the weekly schedule), `None` otherwise (nothing to write).
    pub fn mode_on(&self, date: NaiveDate) -> Option<CircuitMode> {
        if (self.from..=self.to).contains(&date) {
            Some(self.mode.circuit_mode())
        } else if self.to.succ_opt() == Some(date) {
            Some(CircuitMode::Scheduled)
        } else {
            None
        }
    }

    /// The mode-register writes (PNU 4200 + c, raw mode) for `date`.
    pub fn writes_on(&self, date: NaiveDate) -> Result<Vec<(Pnu, u16)>, Error> {
        self.check()?;
        let Some(mode) = self.mode_on(date) else {
            return Ok(Vec::new());
        };
        self.circuits
            .iter()
            .map(|c| Ok((mode_pnu(*c)?, mode.raw())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hhmm_parses_and_bounds() {
        assert_eq!("06:30".parse::<HhMm>().map(HhMm::raw).ok(), Some(630));
        assert_eq!("24:00".parse::<HhMm>().map(HhMm::raw).ok(), Some(2400));
        for bad in ["24:01", "12:60", "1230", "6:3", "", "-1:00"] {
            assert!(bad.parse::<HhMm>().is_err(), "{bad}");
        }
        assert!(HhMm::from_raw(2401).is_err() && HhMm::from_raw(1260).is_err());
        assert_eq!(HhMm::from_raw(2400).map(HhMm::minutes).ok(), Some(1440));
    }

    #[test]
    fn pnus_follow_the_layout() {
        let p = |c, d, n, s| period_pnu(c, d, n, s).map(Pnu::get).ok();
        assert_eq!(p(1, 0, 0, false), Some(3110));
        assert_eq!(p(1, 0, 2, true), Some(3115));
        assert_eq!(p(1, 6, 2, true), Some(3175));
        assert_eq!(p(2, 1, 0, false), Some(3220));
        assert_eq!(p(3, 0, 0, false), Some(3310));
        assert!(period_pnu(1, 7, 0, false).is_err() && period_pnu(4, 0, 0, false).is_err());
    }

    #[test]
    fn decode_drops_zero_length_and_refuses_reversed() {
        let mut raw = vec![DISABLED; 42];
        raw[6] = 2330;
        raw[7] = 2330; // Tuesday period 1 zero-length (another way to disable)
        raw[12] = 700;
        raw[13] = 900; // Wednesday
        let week = WeeklySchedule::decode(1, &raw).unwrap_or_default();
        assert!(week.tuesday.is_empty());
        assert_eq!(
            week.wednesday,
            vec![Period::parse("07:00", "09:00").unwrap_or_else(|_| unreachable!())]
        );
        raw[13] = 600;
        assert!(matches!(
            WeeklySchedule::decode(1, &raw),
            Err(Error::BadRegister { raw: 600, .. })
        ));
        raw[13] = 961;
        assert!(WeeklySchedule::decode(1, &raw).is_err());
    }

    #[test]
    fn holiday_sets_and_restores_the_mode() {
        let d = |m, day| NaiveDate::from_ymd_opt(2025, m, day).unwrap_or_default();
        let h = Holiday {
            circuits: vec![1, 2],
            from: d(12, 24),
            to: d(12, 26),
            mode: HolidayMode::FrostProtection,
        };
        assert_eq!(h.mode_on(d(12, 23)), None);
        assert_eq!(h.mode_on(d(12, 24)), Some(CircuitMode::FrostProtection));
        assert_eq!(h.mode_on(d(12, 26)), Some(CircuitMode::FrostProtection));
        assert_eq!(h.mode_on(d(12, 27)), Some(CircuitMode::Scheduled));
        let w = h.writes_on(d(12, 25)).unwrap_or_default();
        assert_eq!(
            w.iter().map(|(p, v)| (p.get(), *v)).collect::<Vec<_>>(),
            [(4201, 4), (4202, 4)]
        );
        let bad = Holiday { to: d(12, 1), ..h };
        assert!(bad.check().is_err());
    }
}
