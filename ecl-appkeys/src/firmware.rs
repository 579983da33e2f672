//! Firmware rules (the Leanheat Monitor requirements), one typed verdict per rule.
//!
//! | rule | ok | will_update | unsupported |
//! |---|---|---|---|
//! | controller software (PNU 35) | 1.31 and newer | 1.11 up to 1.30 (the application key raises it to at least 1.30) | older than 1.11 |
//! | application key software (PNU 2063) | 1.04 and newer | - | older than 1.04 |
//! | ECA 30 remote, when present | 1.30 and newer | - | older than 1.30 |
//! | NOPRO OPR0020 firmware | R9 and newer | - | older than R9 |
//!
//! "1.11 up to 1.30" includes 1.30, as the requirement is written: a controller at 1.30
//! reports `will_update` (the key's update brings it to "at least 1.30"), 1.31 is `ok`.
//! Versions compare as (major, minor) numbers: 1.4 (minor 4) is older than 1.30.
//!
//! ```
//! use ecl_appkeys::firmware::{check, Versions, Version, Verdict};
//!
//! let v = Versions { controller: Some(Version::new(1, 20)), key: Some(Version::new(1, 8)), ..Versions::default() };
//! let checks = check(&v);
//! assert_eq!(checks[0].verdict, Verdict::WillUpdate);
//! assert_eq!(checks[1].verdict, Verdict::Ok);
//! assert_eq!(checks.len(), 2, "no ECA 30 and no OPR0020: those rules do not apply");
//! ```

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A major.minor version, as the controller stores it (high byte major, low byte minor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Version {
    /// Major.
    pub major: u8,
    /// Minor (printed with two digits: 1.04).
    pub minor: u8,
}

impl Version {
    /// `major.minor`.
    pub const fn new(major: u8, minor: u8) -> Self {
        Version { major, minor }
    }

    /// From a register: high byte major, low byte minor (557 = 2.45, 258 = 1.02).
    pub fn from_raw(raw: u16) -> Self {
        let [major, minor] = raw.to_be_bytes();
        Version { major, minor }
    }

    /// The register value.
    pub fn raw(self) -> u16 {
        u16::from_be_bytes([self.major, self.minor])
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:02}", self.major, self.minor)
    }
}

impl std::str::FromStr for Version {
    type Err = Error;

    /// Parses `1.30` (the minor as written: `1.4` is minor 4).
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::InvalidArgument {
            what: "version",
            expected: "major.minor with numbers 0-255 (1.30)",
            found: format!("{s:?}"),
        };
        let (a, b) = s.trim().split_once('.').ok_or_else(bad)?;
        let n = |x: &str| {
            if x.is_empty() || !x.bytes().all(|c| c.is_ascii_digit()) {
                None
            } else {
                x.parse::<u8>().ok()
            }
        };
        Ok(Version {
            major: n(a).ok_or_else(bad)?,
            minor: n(b).ok_or_else(bad)?,
        })
    }
}

/// A NOPRO OPR0020 firmware revision (`R9`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NoproRevision(pub u16);

impl std::fmt::Display for NoproRevision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "R{}", self.0)
    }
}

impl std::str::FromStr for NoproRevision {
    type Err = Error;

    /// Parses `R9` (or `r9`).
    fn from_str(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        t.strip_prefix(['R', 'r'])
            .filter(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|d| d.parse().ok())
            .map(NoproRevision)
            .ok_or_else(|| Error::InvalidArgument {
                what: "OPR0020 firmware",
                expected: "R followed by a revision number (R9)",
                found: format!("{s:?}"),
            })
    }
}

/// The oldest controller software supported (older: unsupported).
pub const CONTROLLER_MIN: Version = Version::new(1, 11);
/// The controller software the application key raises 1.11-1.30 to (at least).
pub const CONTROLLER_RAISED_TO: Version = Version::new(1, 30);
/// The oldest application key software supported.
pub const KEY_MIN: Version = Version::new(1, 4);
/// The oldest ECA 30 remote software supported.
pub const ECA30_MIN: Version = Version::new(1, 30);
/// The oldest NOPRO OPR0020 firmware supported.
pub const OPR0020_MIN: NoproRevision = NoproRevision(9);

/// The outcome of one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Supported as is.
    Ok,
    /// Supported: the application key updates the controller software.
    WillUpdate,
    /// Not supported.
    Unsupported,
}

impl Verdict {
    /// `ok`, `will_update` or `unsupported`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::WillUpdate => "will_update",
            Verdict::Unsupported => "unsupported",
        }
    }
}

/// Which rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Controller software 1.11 or newer (1.11-1.30 raised to at least 1.30).
    ControllerSoftware,
    /// Application key software 1.04 or newer.
    KeySoftware,
    /// ECA 30 remote 1.30 or newer, when present.
    Eca30Software,
    /// NOPRO OPR0020 firmware R9 or newer.
    Opr0020Firmware,
}

/// One rule's result, with the version found and the requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCheck {
    /// The rule.
    pub rule: Rule,
    /// The verdict.
    pub verdict: Verdict,
    /// The version read (`1.20`, `R9`).
    pub found: String,
    /// What the rule requires (`>= 1.11`).
    pub required: String,
    /// One sentence for people.
    pub detail: String,
}

/// The versions read from a controller and its peripherals; `None` = not present (the
/// rule does not apply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Versions {
    /// Controller software (PNU 35).
    pub controller: Option<Version>,
    /// Application key software (PNU 2063).
    pub key: Option<Version>,
    /// ECA 30 remote software, when one is attached. No PNU for it is public: the caller
    /// supplies it (PNU 10213 / 10216 only say whether one is attached).
    pub eca30: Option<Version>,
    /// NOPRO OPR0020 firmware, for that controller.
    pub opr0020: Option<NoproRevision>,
}

/// The verdict on controller software.
pub fn controller_software(v: Version) -> RuleCheck {
    let (verdict, detail) = if v < CONTROLLER_MIN {
        (
            Verdict::Unsupported,
            format!("controller software {v} is older than {CONTROLLER_MIN}: unsupported"),
        )
    } else if v <= CONTROLLER_RAISED_TO {
        (
            Verdict::WillUpdate,
            format!(
                "controller software {v} will be updated by the application key to at least {CONTROLLER_RAISED_TO}"
            ),
        )
    } else {
        (Verdict::Ok, format!("controller software {v}"))
    };
    RuleCheck {
        rule: Rule::ControllerSoftware,
        verdict,
        found: v.to_string(),
        required: format!(">= {CONTROLLER_MIN}"),
        detail,
    }
}

fn at_least<T: PartialOrd + std::fmt::Display>(rule: Rule, what: &str, v: T, min: T) -> RuleCheck {
    let ok = v >= min;
    RuleCheck {
        rule,
        verdict: if ok {
            Verdict::Ok
        } else {
            Verdict::Unsupported
        },
        found: v.to_string(),
        required: format!(">= {min}"),
        detail: if ok {
            format!("{what} {v}")
        } else {
            format!("{what} {v} is older than {min}: unsupported")
        },
    }
}

/// The verdict on application key software.
pub fn key_software(v: Version) -> RuleCheck {
    at_least(Rule::KeySoftware, "application key software", v, KEY_MIN)
}

/// The verdict on ECA 30 software.
pub fn eca30_software(v: Version) -> RuleCheck {
    at_least(Rule::Eca30Software, "ECA 30 software", v, ECA30_MIN)
}

/// The verdict on OPR0020 firmware.
pub fn opr0020_firmware(r: NoproRevision) -> RuleCheck {
    at_least(Rule::Opr0020Firmware, "OPR0020 firmware", r, OPR0020_MIN)
}

/// Every rule that applies to `versions`, in the order of [`Rule`].
pub fn check(versions: &Versions) -> Vec<RuleCheck> {
    let mut out = Vec::new();
    out.extend(versions.controller.map(controller_software));
    out.extend(versions.key.map(key_software));
    out.extend(versions.eca30.map(eca30_software));
    out.extend(versions.opr0020.map(opr0020_firmware));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_print_and_order() {
        assert_eq!(Version::from_raw(557).to_string(), "2.45");
        assert_eq!(Version::from_raw(0x0104), Version::new(1, 4));
        assert_eq!("1.30".parse::<Version>().ok(), Some(Version::new(1, 30)));
        assert!(Version::new(1, 4) < Version::new(1, 30));
        assert!("1".parse::<Version>().is_err() && "1.x".parse::<Version>().is_err());
        assert_eq!("R9".parse::<NoproRevision>().ok(), Some(NoproRevision(9)));
        assert!("9".parse::<NoproRevision>().is_err());
        assert_eq!(Version::new(2, 45).raw(), 557);
    }
}
