//! System parameters: the PNUs every ECL controller has, whatever the application, and
//! their encodings (identity, key, sensors, modes and status, alarms, date and time,
//! outputs, M-Bus meters).
//!
//! ```
//! use ecl_appkeys::system::{self, CircuitMode};
//!
//! assert_eq!(system::sensor_pnu(1)?.get(), 10201);
//! assert_eq!(system::decode_sensor(2153), Some(21.53));
//! assert_eq!(system::decode_sensor(19200), None, "192.00 degC: not connected");
//! assert_eq!(system::decode_sensor((-550i16) as u16), Some(-5.5));
//! assert_eq!(CircuitMode::from_raw(1)?, CircuitMode::Scheduled);
//! assert_eq!(system::mode_pnu(2)?.get(), 4202);
//! # Ok::<(), ecl_appkeys::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::firmware::Version;
use crate::pnu::Pnu;

/// Software build number (v1.00 = 2410, later versions higher).
pub const BUILD: Pnu = pnu(8);
/// Code number: the digits after `087H` (3020 = ECL 210, 230 V).
pub const CODE_NUMBER: Pnu = pnu(19);
/// Hardware revision: high byte an ASCII letter, low byte a number (0x4102 = `A2`).
pub const HARDWARE: Pnu = pnu(34);
/// Controller software version: high byte major, low byte minor (557 = 2.45).
pub const SOFTWARE: Pnu = pnu(35);
/// Serial number, high word (the low word is at 37).
pub const SERIAL_HIGH: Pnu = pnu(36);
/// Serial number, low word.
pub const SERIAL_LOW: Pnu = pnu(37);
/// The controller's Modbus address, 1-247 (takes effect at once).
pub const MODBUS_ADDRESS: Pnu = pnu(38);
/// RS-485 baud code: 9, 19 or 38 (×1000 baud, roughly: 9600, 19200, 38400).
pub const BAUD_CODE: Pnu = pnu(39);
/// Application key prefix letter (character code; 65 = `A`).
pub const KEY_PREFIX: Pnu = pnu(2060);
/// Application type number (266).
pub const KEY_TYPE: Pnu = pnu(2061);
/// Application sub-type (1 for `.1`).
pub const KEY_SUBTYPE: Pnu = pnu(2062);
/// Application key version: high byte major, low byte minor.
pub const KEY_VERSION: Pnu = pnu(2063);
/// Production date: high byte year − 2000, low byte ISO week.
pub const PRODUCTION: Pnu = pnu(2099);
/// Automatic summer-time changeover, 0/1.
pub const AUTO_SUMMER_TIME: Pnu = pnu(10198);
/// Alarm bitmask, alarms 17-32 (inferred from alarm 1 = PNU 1025 bit 0).
pub const ALARMS_HIGH: Pnu = pnu(1024);
/// Alarm bitmask, alarms 1-16 (alarm 1 = bit 0).
pub const ALARMS_LOW: Pnu = pnu(1025);
/// Status of alarm 1; alarm n is at 1039 + n (n = 1..=32).
pub const ALARM_STATUS_FIRST: Pnu = pnu(1040);
/// Clock: hour (0-23); minute, day, month and year follow (64046-64049).
pub const HOUR: Pnu = pnu(64045);
/// Clock: minute.
pub const MINUTE: Pnu = pnu(64046);
/// Clock: day of month.
pub const DAY: Pnu = pnu(64047);
/// Clock: month.
pub const MONTH: Pnu = pnu(64048);
/// Clock: year (2009-2099).
pub const YEAR: Pnu = pnu(64049);
/// Read-only output bitmask (from controller software 1.10): bits 0-5 triacs, 6-11 relays.
pub const OUTPUT_BITMASK: Pnu = pnu(3999);
/// M-Bus baud: 0 = 300, 1 = 600, 2 = 1200, 3 = 2400.
pub const MBUS_BAUD: Pnu = pnu(5997);
/// M-Bus command: 0 none, 1 init, 2 scan.
pub const MBUS_COMMAND: Pnu = pnu(5998);
/// M-Bus state: 0 reset, 1 init, 2 scanning, 3 idle.
pub const MBUS_STATE: Pnu = pnu(5999);
/// Value of PNU 10213 / 10216 when no ECA 30/31 is attached as HMI A / B.
pub const NO_ECA_ATTACHED: u16 = 19_200;
/// Raw sensor value from which an input reads "not connected" (192.00 degC).
pub const SENSOR_NOT_CONNECTED: i16 = 19_200;
/// The number of heat meters the controller's M-Bus master reads.
pub const METERS: u8 = 5;
/// PNUs between two meter blocks.
pub const METER_STRIDE: u16 = 50;

const fn pnu(n: u16) -> Pnu {
    match Pnu::const_new(n) {
        Some(p) => p,
        None => panic!("PNU 0"),
    }
}

/// PNU of input S`input` (1..=16): 10200 + input.
pub fn sensor_pnu(input: u8) -> Result<Pnu, Error> {
    checked(input, 1..=16, "sensor input", "an input 1..=16 (S1..S16)")
        .map(|i| pnu(10_200 + u16::from(i)))
}

/// Temperature of a raw sensor register in degC (0.01 degC, signed); `None` for a sensor
/// that is not connected (192.00 degC and above).
pub fn decode_sensor(raw: u16) -> Option<f64> {
    let v = raw as i16;
    (v < SENSOR_NOT_CONNECTED).then(|| f64::from(v) / 100.0)
}

/// The operating-mode PNU of circuit `circuit` (1..=3): 4200 + circuit.
pub fn mode_pnu(circuit: u8) -> Result<Pnu, Error> {
    checked(circuit, 1..=3, "circuit", "a circuit 1, 2 or 3").map(|c| pnu(4200 + u16::from(c)))
}

/// The status PNU of circuit `circuit` (1..=3): 4210 + circuit.
pub fn status_pnu(circuit: u8) -> Result<Pnu, Error> {
    checked(circuit, 1..=3, "circuit", "a circuit 1, 2 or 3").map(|c| pnu(4210 + u16::from(c)))
}

/// The status PNU of alarm `n` (1..=32): 1039 + n.
pub fn alarm_status_pnu(n: u8) -> Result<Pnu, Error> {
    checked(n, 1..=32, "alarm", "an alarm number 1..=32").map(|n| pnu(1039 + u16::from(n)))
}

/// State PNU of triac `n` (1..=6): 3999 + n.
pub fn triac_pnu(n: u8) -> Result<Pnu, Error> {
    checked(n, 1..=6, "triac", "a triac 1..=6").map(|n| pnu(3999 + u16::from(n)))
}

/// State PNU of relay `n` (1..=6): 4005 + n.
pub fn relay_pnu(n: u8) -> Result<Pnu, Error> {
    checked(n, 1..=6, "relay", "a relay 1..=6").map(|n| pnu(4005 + u16::from(n)))
}

/// Output-override PNU of relay `n` (1..=6): 4065 + n (writable, see [`OutputOverride`]).
pub fn override_pnu(n: u8) -> Result<Pnu, Error> {
    checked(n, 1..=6, "relay", "a relay 1..=6").map(|n| pnu(4065 + u16::from(n)))
}

/// First PNU of meter `n`'s block (1..=5): 6000 + 50 (n − 1). Its primary M-Bus address is
/// at the base; the other offsets are not public (see [`MeterLayout`]).
pub fn meter_base(n: u8) -> Result<Pnu, Error> {
    checked(n, 1..=METERS, "meter", "a meter 1..=5")
        .map(|n| pnu(6000 + METER_STRIDE * u16::from(n - 1)))
}

fn checked(
    n: u8,
    range: std::ops::RangeInclusive<u8>,
    what: &'static str,
    expected: &'static str,
) -> Result<u8, Error> {
    if range.contains(&n) {
        Ok(n)
    } else {
        Err(Error::InvalidArgument {
            what,
            expected,
            found: n.to_string(),
        })
    }
}

macro_rules! raw_enum {
    ($(#[$m:meta])* $name:ident, $expected:literal, { $($(#[$vm:meta])* $v:ident = $n:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vm])* $v),+
        }

        impl $name {
            /// Every value, in register order.
            pub const ALL: &'static [$name] = &[$($name::$v),+];

            /// The value of a raw register.
            pub fn from_raw(raw: u16) -> Result<Self, Error> {
                match raw {
                    $($n => Ok($name::$v),)+
                    _ => Err(Error::InvalidArgument { what: stringify!($name), expected: $expected, found: raw.to_string() }),
                }
            }

            /// The raw register value.
            pub fn raw(self) -> u16 {
                match self {
                    $($name::$v => $n),+
                }
            }
        }
    };
}

raw_enum!(
    /// A circuit's operating mode (PNU 4201-4203). Manual on any circuit puts every circuit
    /// in manual, disables the control loops and frost protection and blocks output override.
    CircuitMode, "0 (manual) to 4 (frost protection)", {
        /// 0: manual.
        Manual = 0,
        /// 1: scheduled (auto).
        Scheduled = 1,
        /// 2: constant comfort.
        Comfort = 2,
        /// 3: constant saving (setback).
        Saving = 3,
        /// 4: frost protection.
        FrostProtection = 4,
    }
);

raw_enum!(
    /// A circuit's status within its schedule (PNU 4211-4213).
    CircuitStatus, "0 (saving) to 3 (pre-saving)", {
        /// 0: saving (setback).
        Saving = 0,
        /// 1: pre-comfort (optimiser heating up).
        PreComfort = 1,
        /// 2: comfort.
        Comfort = 2,
        /// 3: pre-saving.
        PreSaving = 3,
    }
);

raw_enum!(
    /// A relay's output override (PNU 4066-4071; stays until released with `Auto`).
    /// One source, verified on hardware; another source labels 1 and 2 the other way round.
    OutputOverride, "0 (auto), 1 (forced off) or 2 (forced on)", {
        /// 0: automatic (the application drives it).
        Auto = 0,
        /// 1: forced off.
        ForcedOff = 1,
        /// 2: forced on.
        ForcedOn = 2,
    }
);

raw_enum!(
    /// M-Bus line speed (PNU 5997).
    MbusBaud, "0 (300) to 3 (2400)", {
        /// 300 baud (default).
        B300 = 0,
        /// 600 baud.
        B600 = 1,
        /// 1200 baud.
        B1200 = 2,
        /// 2400 baud (recommended with ECL Portal).
        B2400 = 3,
    }
);

raw_enum!(
    /// M-Bus command (PNU 5998).
    MbusCommand, "0 (none), 1 (init) or 2 (scan)", {
        /// No command.
        None = 0,
        /// Initialise (also stops a scan).
        Init = 1,
        /// Scan for meters (stops by itself after about 12 minutes).
        Scan = 2,
    }
);

raw_enum!(
    /// M-Bus state (PNU 5999). A "gateway" state exists in newer guides; its number is not
    /// public, so it reads as an error here.
    MbusState, "0 (reset) to 3 (idle)", {
        /// Reset.
        Reset = 0,
        /// Initialising.
        Init = 1,
        /// Scanning.
        Scanning = 2,
        /// Idle: collecting meter values.
        Idle = 3,
    }
);

/// The alarm numbers (1..=32) set in the bitmask PNUs 1024 (alarms 17-32) and 1025
/// (alarms 1-16; alarm 1 = bit 0).
pub fn active_alarms(pnu_1024: u16, pnu_1025: u16) -> Vec<u8> {
    let bits = (u32::from(pnu_1024) << 16) | u32::from(pnu_1025);
    (0u8..32)
        .filter(|b| bits & (1 << b) != 0)
        .map(|b| b + 1)
        .collect()
}

/// Whether an ECA 30/31 room unit is attached, from PNU 10213 (HMI A) or 10216 (HMI B).
pub fn eca_attached(raw: u16) -> bool {
    raw != NO_ECA_ATTACHED
}

/// The decoded identity of a controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The code number as printed (`087H3040`).
    pub code_number: String,
    /// The raw code (PNU 19).
    pub code: u16,
    /// Hardware revision (`A2`).
    pub hardware: String,
    /// Controller software version (PNU 35).
    pub software: Version,
    /// Software build (PNU 8).
    pub build: u16,
    /// Serial number (PNU 36-37).
    pub serial: u32,
    /// Production year and ISO week (PNU 2099), when the register is not 0.
    pub production: Option<(u16, u8)>,
}

/// The raw identity registers (PNU 8, 19, 34, 35, 36, 37, 2099).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RawIdentity {
    /// PNU 8.
    pub build: u16,
    /// PNU 19.
    pub code: u16,
    /// PNU 34.
    pub hardware: u16,
    /// PNU 35.
    pub software: u16,
    /// PNU 36.
    pub serial_high: u16,
    /// PNU 37.
    pub serial_low: u16,
    /// PNU 2099.
    pub production: u16,
}

impl RawIdentity {
    /// The identity registers from a lookup by PNU (e.g. over the responses of the reads
    /// [`identity_pnus`] needs); a missing one is [`Error::MissingRegister`].
    pub fn from_fn(get: impl Fn(Pnu) -> Option<u16>) -> Result<Self, Error> {
        let r = |p: Pnu| get(p).ok_or(Error::MissingRegister(p));
        Ok(RawIdentity {
            build: r(BUILD)?,
            code: r(CODE_NUMBER)?,
            hardware: r(HARDWARE)?,
            software: r(SOFTWARE)?,
            serial_high: r(SERIAL_HIGH)?,
            serial_low: r(SERIAL_LOW)?,
            production: r(PRODUCTION)?,
        })
    }

    /// Decode.
    pub fn decode(&self) -> Identity {
        let [letter, number] = self.hardware.to_be_bytes();
        let hardware = if letter.is_ascii_alphanumeric() {
            format!("{}{number}", char::from(letter))
        } else {
            format!("{letter}.{number:02}")
        };
        let [year, week] = self.production.to_be_bytes();
        Identity {
            code_number: format!("087H{}", self.code),
            code: self.code,
            hardware,
            software: Version::from_raw(self.software),
            build: self.build,
            serial: (u32::from(self.serial_high) << 16) | u32::from(self.serial_low),
            production: (self.production != 0).then(|| (2000 + u16::from(year), week)),
        }
    }
}

/// The PNUs detection reads: identity and the key (8, 19, 34-37, 2060-2063, 2099).
pub fn identity_pnus() -> [Pnu; 11] {
    [
        BUILD,
        CODE_NUMBER,
        HARDWARE,
        SOFTWARE,
        SERIAL_HIGH,
        SERIAL_LOW,
        KEY_PREFIX,
        KEY_TYPE,
        KEY_SUBTYPE,
        KEY_VERSION,
        PRODUCTION,
    ]
}

/// The controller clock (PNU 64045-64049; seconds cannot be set, they reset to 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerTime {
    /// 2009-2099.
    pub year: u16,
    /// 1-12.
    pub month: u8,
    /// 1-31, valid for the month.
    pub day: u8,
    /// 0-23.
    pub hour: u8,
    /// 0-59.
    pub minute: u8,
}

impl ControllerTime {
    /// Decode hour, minute, day, month, year (PNU 64045-64049 in that order).
    pub fn decode(raw: [u16; 5]) -> Result<Self, Error> {
        let [hour, minute, day, month, year] = raw;
        let small = |v: u16, p: Pnu, expected| {
            u8::try_from(v).map_err(|_| Error::BadRegister {
                pnu: p,
                raw: v,
                expected,
            })
        };
        let t = ControllerTime {
            year,
            month: small(month, MONTH, "a month 1-12")?,
            day: small(day, DAY, "a day 1-31")?,
            hour: small(hour, HOUR, "an hour 0-23")?,
            minute: small(minute, MINUTE, "a minute 0-59")?,
        };
        t.check()?;
        Ok(t)
    }

    /// Whether every field is in range and the date exists.
    pub fn check(&self) -> Result<(), Error> {
        let bad = |pnu, raw: u16, expected| Err(Error::BadRegister { pnu, raw, expected });
        if !(2009..=2099).contains(&self.year) {
            return bad(YEAR, self.year, "a year 2009-2099");
        }
        if self.hour > 23 {
            return bad(HOUR, self.hour.into(), "an hour 0-23");
        }
        if self.minute > 59 {
            return bad(MINUTE, self.minute.into(), "a minute 0-59");
        }
        if !(1..=12).contains(&self.month) {
            return bad(MONTH, self.month.into(), "a month 1-12");
        }
        if !valid_date(self.year, self.month, self.day) {
            return bad(DAY, self.day.into(), "a day that exists in the month");
        }
        Ok(())
    }

    /// The register writes (PNU, value) setting the clock from `current` to `self`, in an
    /// order where the controller never sees a date that does not exist (it rejects those:
    /// change the day before the month when today's day is missing in the target month,
    /// watch 29 February). Unchanged fields are not written.
    pub fn writes_from(&self, current: &ControllerTime) -> Result<Vec<(Pnu, u16)>, Error> {
        self.check()?;
        let target = [
            (YEAR, self.year),
            (MONTH, u16::from(self.month)),
            (DAY, u16::from(self.day)),
        ];
        const ORDERS: [[usize; 3]; 6] = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        let order = ORDERS
            .iter()
            .find(|order| {
                let mut d = (current.year, current.month, current.day);
                order.iter().all(|&i| {
                    match i {
                        0 => d.0 = self.year,
                        1 => d.1 = self.month,
                        _ => d.2 = self.day,
                    }
                    valid_date(d.0, d.1, d.2)
                })
            })
            .ok_or(Error::InvalidArgument {
                what: "clock",
                expected: "a reachable date",
                found: format!("{}-{}-{}", self.year, self.month, self.day),
            })?;
        let now = [
            current.year,
            u16::from(current.month),
            u16::from(current.day),
        ];
        let mut writes: Vec<(Pnu, u16)> = order
            .iter()
            .filter(|&&i| now[i] != target[i].1)
            .map(|&i| target[i])
            .collect();
        if current.hour != self.hour {
            writes.push((HOUR, self.hour.into()));
        }
        writes.push((MINUTE, self.minute.into()));
        Ok(writes)
    }
}

fn valid_date(year: u16, month: u8, day: u8) -> bool {
    chrono::NaiveDate::from_ymd_opt(i32::from(year), u32::from(month), u32::from(day)).is_some()
}

/// One value of a heat meter's block, at `meter_base + offset`, as the caller knows it (the
/// offsets are in an appendix of the Danfoss communication description that is not public).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeterField {
    /// Id; the service is `meter{n}_{id}`.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Offset in the block, 1..=49 (0 is the primary address).
    pub offset: u16,
    /// Registers: 1 (u16) or 2 (u32, high word first).
    pub words: u16,
    /// Value = raw × scale.
    pub scale: f64,
    /// Unit of the value.
    pub unit: modbus_devices::Unit,
}

/// The layout of the five meter blocks beyond the primary address. Empty (unknown) by
/// default; a caller who has the offsets supplies them, and they join the served ranges of
/// controllers with an M-Bus port.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeterLayout {
    /// The fields, each present in every block.
    #[serde(default)]
    pub fields: Vec<MeterField>,
}

impl MeterLayout {
    /// No offsets known: only the primary address (base + 0) is read.
    pub fn unknown() -> Self {
        Self::default()
    }

    /// Check offsets (1..=49, the whole value inside the block), words, scales and ids.
    pub fn check(&self) -> Result<(), Error> {
        let mut ids = std::collections::BTreeSet::new();
        for f in &self.fields {
            let bad = |expected, found: String| Error::InvalidArgument {
                what: "meter field",
                expected,
                found,
            };
            if !ids.insert(f.id.as_str()) || f.id.is_empty() {
                return Err(bad("a unique, non-empty id", format!("{:?}", f.id)));
            }
            if !matches!(f.words, 1 | 2) {
                return Err(bad("1 or 2 words", format!("{}: {}", f.id, f.words)));
            }
            if f.offset == 0 || f.offset + f.words > METER_STRIDE {
                return Err(bad(
                    "an offset from 1 with the value inside the 50-PNU block",
                    format!("{}: offset {}, {} words", f.id, f.offset, f.words),
                ));
            }
            if !(f.scale.is_finite() && f.scale != 0.0) {
                return Err(bad(
                    "a finite non-zero scale",
                    format!("{}: {}", f.id, f.scale),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensors_decode_signed_hundredths_and_not_connected() {
        assert_eq!(decode_sensor(0), Some(0.0));
        assert_eq!(decode_sensor(19199), Some(191.99));
        assert_eq!(decode_sensor(19200), None);
        assert_eq!(decode_sensor(25000), None);
        assert_eq!(decode_sensor(0xFFFF), Some(-0.01));
        assert!(sensor_pnu(0).is_err() && sensor_pnu(17).is_err());
        assert_eq!(sensor_pnu(16).map(Pnu::get).ok(), Some(10216));
    }

    #[test]
    fn identity_decodes_the_documented_examples() {
        let id = RawIdentity {
            build: 2410,
            code: 3020,
            hardware: 16642,
            software: 557,
            serial_high: 1,
            serial_low: 2,
            production: 2563,
        }
        .decode();
        assert_eq!(id.code_number, "087H3020");
        assert_eq!(id.hardware, "A2");
        assert_eq!(id.software.to_string(), "2.45");
        assert_eq!(id.serial, 65538);
        assert_eq!(id.production, Some((2010, 3)));
    }

    #[test]
    fn alarms_bitmask_numbers() {
        assert_eq!(active_alarms(0, 1), [1]);
        assert_eq!(active_alarms(1, 0x8000), [16, 17]);
        assert_eq!(active_alarms(0x8000, 0), [32]);
        assert!(active_alarms(0, 0).is_empty());
    }

    #[test]
    fn clock_writes_never_pass_through_a_missing_date() {
        let t = |year, month, day| ControllerTime {
            year,
            month,
            day,
            hour: 10,
            minute: 0,
        };
        // 31 March -> 15 February: the day must change before the month.
        let w = t(2024, 2, 15)
            .writes_from(&t(2024, 3, 31))
            .unwrap_or_default();
        let pos = |p| w.iter().position(|(q, _)| *q == p);
        assert!(pos(DAY) < pos(MONTH), "{w:?}");
        // 15 February -> 31 March: the month first.
        let w = t(2024, 3, 31)
            .writes_from(&t(2024, 2, 15))
            .unwrap_or_default();
        let pos = |p| w.iter().position(|(q, _)| *q == p);
        assert!(pos(MONTH) < pos(DAY), "{w:?}");
        // 29 Feb 2024 -> 28 Feb 2023: day before year.
        let w = t(2023, 2, 28)
            .writes_from(&t(2024, 2, 29))
            .unwrap_or_default();
        let pos = |p| w.iter().position(|(q, _)| *q == p);
        assert!(pos(DAY) < pos(YEAR), "{w:?}");
        assert!(t(2023, 2, 29).writes_from(&t(2024, 2, 29)).is_err());
        assert!(
            ControllerTime::decode([10, 0, 31, 4, 2024]).is_err(),
            "31 April"
        );
        assert!(ControllerTime::decode([10, 0, 30, 4, 2024]).is_ok());
    }

    #[test]
    fn enums_round_trip_their_raw_values() {
        for m in CircuitMode::ALL {
            assert_eq!(CircuitMode::from_raw(m.raw()).ok(), Some(*m));
        }
        assert!(CircuitMode::from_raw(5).is_err());
        assert_eq!(
            OutputOverride::from_raw(2).ok(),
            Some(OutputOverride::ForcedOn)
        );
        assert!(MbusState::from_raw(4).is_err());
    }
}
