//! Date and time types G, F, I and J of EN 13757-3 (annex A), with ISO 8601 text.

use core::fmt;

use serde::{Deserialize, Serialize};

/// A calendar date (type G, or the date part of types F and I).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Date {
    /// Full year, for example 2024.
    pub year: u16,
    /// Month, 1..=12.
    pub month: u8,
    /// Day of month, 1..=31.
    pub day: u8,
}

/// A time of day (type J, or the time part of types F and I).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimeOfDay {
    /// Hour, 0..=23.
    pub hour: u8,
    /// Minute, 0..=59.
    pub minute: u8,
    /// Second, 0..=59 (0 for type F, which has no seconds).
    pub second: u8,
}

/// A recurring date (types F and G with the year field 127, "every year", and optionally the
/// month field 15, "every month"), with the time of day for type F. It prints in the ISO 8601
/// forms without year: `--MM-DD`, `---DD`, followed by `Thh:mm:ss` when it has a time, so a
/// yearly due date of 1 January at midnight prints `--01-01T00:00:00`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Recurring {
    /// Month, 1..=12, or `None` for every month.
    pub month: Option<u8>,
    /// Day of month, 1..=31.
    pub day: u8,
    /// Time of day (type F).
    pub time: Option<TimeOfDay>,
}

impl fmt::Display for Recurring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.month {
            Some(m) => write!(f, "--{m:02}-{:02}", self.day)?,
            None => write!(f, "---{:02}", self.day)?,
        }
        match self.time {
            Some(t) => write!(f, "T{t}"),
            None => Ok(()),
        }
    }
}

/// The year field value meaning "every year".
const EVERY_YEAR: u8 = 127;
/// The month field value meaning "every month".
const EVERY_MONTH: u8 = 15;

/// A recurring date: year 127, month 1..=12 (a day valid in a leap year) or 15 (day 1..=31).
fn recurring(month: u8, day: u8, time: Option<TimeOfDay>) -> Option<Recurring> {
    let month = match month {
        EVERY_MONTH if (1..=31).contains(&day) => None,
        1..=12 if day >= 1 && day <= days_in_month(2000, month) => Some(month),
        _ => return None,
    };
    Some(Recurring { month, day, time })
}

/// A date, or a recurring date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum When<T> {
    At(T),
    Every(Recurring),
}

/// A date and time (type F or I). M-Bus times are the meter's local time: no time zone is
/// transmitted, only a summer-time flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DateTime {
    /// The date.
    pub date: Date,
    /// The time of day.
    pub time: TimeOfDay,
    /// The meter flagged the time as summer (daylight saving) time.
    pub summer_time: bool,
}

const fn is_leap(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

const fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    /// A date, if it exists in the Gregorian calendar.
    pub const fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        if month >= 1 && month <= 12 && day >= 1 && day <= days_in_month(year, month) {
            Some(Date { year, month, day })
        } else {
            None
        }
    }
}

impl TimeOfDay {
    /// A time of day, if its fields are in range.
    pub const fn new(hour: u8, minute: u8, second: u8) -> Option<TimeOfDay> {
        if hour < 24 && minute < 60 && second < 60 {
            Some(TimeOfDay {
                hour,
                minute,
                second,
            })
        } else {
            None
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}:{:02}", self.hour, self.minute, self.second)
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}T{}", self.date, self.time)
    }
}

/// The two-digit year of types G and I (and of type F without hundred-year bits): 00-80 are
/// 2000-2080, 81-99 are 1981-1999.
pub(crate) const fn century(year: u8) -> u16 {
    if year <= 80 {
        2000 + year as u16
    } else {
        1900 + year as u16
    }
}

/// The 7-bit year of types F, G and I: three bits in the low byte, four in the high one.
const fn year7(lo: u8, hi: u8) -> u8 {
    ((lo & 0xE0) >> 5) | ((hi & 0xF0) >> 1)
}

/// Type G (2 bytes, LSB first). `None` if the date is not a valid calendar date (for example
/// the all-zero "no date").
#[cfg(test)]
pub(crate) fn decode_g(b: [u8; 2]) -> Option<Date> {
    match decode_g_when(b)? {
        When::At(d) => Some(d),
        When::Every(_) => None,
    }
}

/// Type G, recurring dates included.
pub(crate) fn decode_g_when(b: [u8; 2]) -> Option<When<Date>> {
    let year = year7(b[0], b[1]);
    let (month, day) = (b[1] & 0x0F, b[0] & 0x1F);
    if year == EVERY_YEAR {
        return recurring(month, day, None).map(When::Every);
    }
    if year > 99 {
        return None;
    }
    Date::new(century(year), month, day).map(When::At)
}

/// Type F (4 bytes, LSB first). `None` if flagged invalid (IV bit) or out of range.
#[cfg(test)]
pub(crate) fn decode_f(b: [u8; 4]) -> Option<DateTime> {
    match decode_f_when(b)? {
        When::At(d) => Some(d),
        When::Every(_) => None,
    }
}

/// Type F, recurring dates included.
pub(crate) fn decode_f_when(b: [u8; 4]) -> Option<When<DateTime>> {
    if b[0] & 0x80 != 0 {
        return None;
    }
    let year = year7(b[2], b[3]);
    if year == EVERY_YEAR {
        let time = TimeOfDay::new(b[1] & 0x1F, b[0] & 0x3F, 0)?;
        return recurring(b[3] & 0x0F, b[2] & 0x1F, Some(time)).map(When::Every);
    }
    if year > 99 {
        return None;
    }
    let hundred = (b[1] >> 5) & 0x03;
    let full = if hundred == 0 {
        century(year)
    } else {
        1900 + 100 * hundred as u16 + year as u16
    };
    Some(When::At(DateTime {
        date: Date::new(full, b[3] & 0x0F, b[2] & 0x1F)?,
        time: TimeOfDay::new(b[1] & 0x1F, b[0] & 0x3F, 0)?,
        summer_time: b[1] & 0x80 != 0,
    }))
}

/// Type I (6 bytes, LSB first). `None` if flagged invalid (IV bit) or out of range.
pub(crate) fn decode_i(b: [u8; 6]) -> Option<DateTime> {
    if b[0] & 0x80 != 0 {
        return None;
    }
    let year = year7(b[3], b[4]);
    if year > 99 {
        return None;
    }
    Some(DateTime {
        date: Date::new(century(year), b[4] & 0x0F, b[3] & 0x1F)?,
        time: TimeOfDay::new(b[2] & 0x1F, b[1] & 0x3F, b[0] & 0x3F)?,
        summer_time: b[1] & 0x80 != 0,
    })
}

/// Type J (3 bytes, LSB first).
pub(crate) fn decode_j(b: [u8; 3]) -> Option<TimeOfDay> {
    TimeOfDay::new(b[2] & 0x1F, b[1] & 0x3F, b[0] & 0x3F)
}

/// The two-digit year and whether it is representable without hundred-year bits.
const fn two_digit(year: u16) -> Option<u8> {
    if year >= 1981 && year <= 2080 {
        Some((year % 100) as u8)
    } else {
        None
    }
}

const fn put_year7(year: u8, lo: &mut u8, hi: &mut u8) {
    *lo |= (year & 0x07) << 5;
    *hi |= (year & 0x78) << 1;
}

impl Date {
    /// Encodes as type G. Only years 1981..=2080 are representable.
    pub const fn to_type_g(self) -> Option<[u8; 2]> {
        let Some(y) = two_digit(self.year) else {
            return None;
        };
        let mut b = [self.day & 0x1F, self.month & 0x0F];
        let (lo, hi) = b.split_at_mut(1);
        put_year7(y, &mut lo[0], &mut hi[0]);
        Some(b)
    }
}

impl TimeOfDay {
    /// Encodes as type J.
    pub const fn to_type_j(self) -> [u8; 3] {
        [self.second & 0x3F, self.minute & 0x3F, self.hour & 0x1F]
    }
}

impl DateTime {
    /// Encodes as type F (seconds are dropped). Years 1981..=1999 and 2000..=2299 are
    /// representable; 2000 and later are written with hundred-year bits.
    pub const fn to_type_f(self) -> Option<[u8; 4]> {
        let (hundred, y) = if self.date.year >= 1981 && self.date.year <= 1999 {
            (0u8, (self.date.year - 1900) as u8)
        } else if self.date.year >= 2000 && self.date.year <= 2299 {
            (
                ((self.date.year - 1900) / 100) as u8,
                (self.date.year % 100) as u8,
            )
        } else {
            return None;
        };
        let mut b = [
            self.time.minute & 0x3F,
            (self.time.hour & 0x1F) | (hundred << 5) | if self.summer_time { 0x80 } else { 0 },
            self.date.day & 0x1F,
            self.date.month & 0x0F,
        ];
        let (lo, hi) = b.split_at_mut(3);
        put_year7(y, &mut lo[2], &mut hi[0]);
        Some(b)
    }

    /// Encodes as type I (with seconds). Only years 1981..=2080 are representable.
    pub const fn to_type_i(self) -> Option<[u8; 6]> {
        let Some(y) = two_digit(self.date.year) else {
            return None;
        };
        let mut b = [
            self.time.second & 0x3F,
            (self.time.minute & 0x3F) | if self.summer_time { 0x80 } else { 0 },
            self.time.hour & 0x1F,
            self.date.day & 0x1F,
            self.date.month & 0x0F,
            0,
        ];
        let (lo, hi) = b.split_at_mut(4);
        put_year7(y, &mut lo[3], &mut hi[0]);
        Some(b)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn type_g_examples() {
        // 31.12.2013: day 31, month 12, year 13 = 0b0001101
        assert_eq!(decode_g([0xBF, 0x1C]).unwrap().to_string(), "2013-12-31");
        assert_eq!(decode_g([0, 0]), None);
    }

    #[test]
    fn type_f_examples() {
        // 2012-07-10 15:25 from the EDC corpus frame: 19 0F 8A 17
        assert_eq!(
            decode_f([0x19, 0x0F, 0x8A, 0x17]).unwrap().to_string(),
            "2012-07-10T15:25:00"
        );
        // IV bit set
        assert_eq!(decode_f([0x99, 0x0F, 0x8A, 0x17]), None);
        // year 127: every year, 1 January 00:00 (Landis+Gyr due date)
        let every = decode_f_when([0x00, 0x00, 0xE1, 0xF1]).unwrap();
        assert!(matches!(every, When::Every(r) if r.to_string() == "--01-01T00:00:00"));
        let every = decode_g_when([0xE0 | 15, 0xF0 | 15]).unwrap();
        assert!(matches!(every, When::Every(r) if r.to_string() == "---15"));
    }

    #[test]
    fn round_trips() {
        let dt = DateTime {
            date: Date::new(2031, 2, 28).unwrap(),
            time: TimeOfDay::new(23, 59, 58).unwrap(),
            summer_time: true,
        };
        assert_eq!(decode_i(dt.to_type_i().unwrap()), Some(dt));
        let f = decode_f(dt.to_type_f().unwrap()).unwrap();
        assert_eq!(
            (f.date, f.time.hour, f.time.minute, f.time.second),
            (dt.date, 23, 59, 0)
        );
        assert_eq!(decode_g(dt.date.to_type_g().unwrap()), Some(dt.date));
        assert_eq!(decode_j(dt.time.to_type_j()), Some(dt.time));
        assert!(Date::new(2023, 2, 29).is_none());
        assert!(Date::new(2024, 2, 29).is_some());
    }
}
