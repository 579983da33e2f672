//! A controller's parameter map and safe write preparation.
//!
//! A [`ParameterMap`] holds the parameters of one controller with its application (circuit
//! parameters from the catalogue's templates, schedule registers, writable system
//! settings), each with its PNU, scale, unit, range and whether it may be written. A write
//! is prepared before anything is sent: the value, in the parameter's unit, is
//! range-checked, scaled and checked to be representable; a read-only or unknown parameter
//! is refused with a typed error.
//!
//! ```
//! use ecl_appkeys::{Catalogue, Controller, Error};
//!
//! let catalogue = Catalogue::builtin()?;
//! let ecl = Controller::new(&catalogue, "A266.1".parse()?, Some("ecl310"))?;
//! let w = ecl.parameters().prepare_write("c1_room_comfort", 21.5)?;
//! assert_eq!((w.pnu.get(), w.address, w.raw), (11180, 11179, 215));
//! assert!(matches!(
//!     ecl.parameters().prepare_write("c1_room_comfort", 45.0),
//!     Err(Error::OutOfRange { .. })
//! ));
//! assert!(matches!(ecl.parameters().prepare_write("c1_desired_flow", 50.0), Err(Error::ReadOnly { .. })));
//! assert!(matches!(ecl.parameters().prepare_write("no_such", 1.0), Err(Error::UnknownParameter(_))));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use modbus_devices::Unit;
use modbus_devices::register::{DataType, FunctionCode, RegisterDef};
use serde::{Deserialize, Serialize};

use crate::catalogue::{Confidence, ParameterKind, RawType};
use crate::error::Error;
use crate::pnu::Pnu;

/// One parameter of a controller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParameterDef {
    /// Id, unique in the map (`c1_heat_curve_slope`); the service and parameter id of the
    /// generated `modbus-devices` product.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Where it lives.
    pub pnu: Pnu,
    /// The circuit it belongs to, if any.
    pub circuit: Option<u8>,
    /// Register type.
    pub raw_type: RawType,
    /// Value = raw × scale.
    pub scale: f64,
    /// Unit of the value.
    pub unit: Unit,
    /// Range a write must respect, in the unit; `None` when not known (then read-only).
    pub range: Option<(f64, f64)>,
    /// Whether it may be written.
    pub writable: bool,
    /// Setting, computed value or schedule register.
    pub kind: ParameterKind,
    /// How sure the definition is.
    pub confidence: Confidence,
    /// Notes.
    pub description: String,
}

impl ParameterDef {
    /// The value of a raw register, in the unit.
    pub fn decode(&self, raw: u16) -> f64 {
        let v = match self.raw_type {
            RawType::U16 => f64::from(raw),
            RawType::S16 => f64::from(raw as i16),
        };
        v * self.scale
    }

    /// The raw register for a value in the unit, after the checks a write needs: writable,
    /// inside the range, a whole number of steps, fits the register.
    pub fn encode(&self, value: f64) -> Result<u16, Error> {
        let range = match (self.writable, self.range) {
            (true, Some(r)) => r,
            _ => {
                return Err(Error::ReadOnly {
                    id: self.id.clone(),
                    pnu: self.pnu,
                });
            }
        };
        let (min, max) = range;
        if !(value.is_finite() && min <= value && value <= max) {
            return Err(Error::OutOfRange {
                id: self.id.clone(),
                pnu: self.pnu,
                value,
                min,
                max,
                unit: self.unit.symbol().to_string(),
            });
        }
        self.to_raw(value)
    }

    /// The raw register for a value, without the write checks (for simulators and tests).
    pub fn to_raw(&self, value: f64) -> Result<u16, Error> {
        let not_representable = || Error::NotRepresentable {
            id: self.id.clone(),
            pnu: self.pnu,
            value,
            step: self.scale,
        };
        let steps = value / self.scale;
        let whole = steps.round();
        if !steps.is_finite() || (steps - whole).abs() > 1e-6 * whole.abs().max(1.0) {
            return Err(not_representable());
        }
        match self.raw_type {
            RawType::U16 if (0.0..=f64::from(u16::MAX)).contains(&whole) => Ok(whole as u16),
            RawType::S16 if (f64::from(i16::MIN)..=f64::from(i16::MAX)).contains(&whole) => {
                Ok((whole as i16) as u16)
            }
            _ => Err(not_representable()),
        }
    }

    /// The `modbus-devices` register definition (FC3, wire address PNU − 1, scale, and the
    /// write range when writable).
    pub fn register(&self) -> RegisterDef {
        let data_type = match self.raw_type {
            RawType::U16 => DataType::U16,
            RawType::S16 => DataType::S16,
        };
        let def = RegisterDef::new(FunctionCode::Holding, self.pnu.wire_address(), data_type)
            .with_scale(self.scale);
        match (self.writable, self.range) {
            (true, Some((min, max))) => def.with_write_range(min, max),
            _ => def,
        }
    }
}

/// A write checked and encoded, ready for function code 6.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreparedWrite {
    /// The parameter id.
    pub id: String,
    /// Its PNU.
    pub pnu: Pnu,
    /// The 0-based wire address (PNU − 1).
    pub address: u16,
    /// The register value to write (and to expect on read-back).
    pub raw: u16,
    /// The value, in the parameter's unit.
    pub value: f64,
    /// The unit.
    pub unit: Unit,
}

/// The parameters of one controller, ordered by PNU.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ParameterMap {
    params: Vec<ParameterDef>,
}

impl ParameterMap {
    /// A map of these parameters; two with the same id or PNU are refused.
    pub fn new(mut params: Vec<ParameterDef>) -> Result<Self, Error> {
        params.sort_by_key(|p| p.pnu);
        let mut ids = std::collections::BTreeSet::new();
        for w in params.windows(2) {
            if w[0].pnu == w[1].pnu {
                return Err(Error::InvalidArgument {
                    what: "parameter map",
                    expected: "one parameter per PNU",
                    found: format!("{} and {} at PNU {}", w[0].id, w[1].id, w[0].pnu),
                });
            }
        }
        for p in &params {
            if !ids.insert(p.id.as_str()) {
                return Err(Error::InvalidArgument {
                    what: "parameter map",
                    expected: "unique ids",
                    found: p.id.clone(),
                });
            }
        }
        Ok(ParameterMap { params })
    }

    /// Every parameter, by PNU.
    pub fn iter(&self) -> impl Iterator<Item = &ParameterDef> {
        self.params.iter()
    }

    /// The number of parameters.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// A parameter by id.
    pub fn get(&self, id: &str) -> Option<&ParameterDef> {
        self.params.iter().find(|p| p.id == id)
    }

    /// A parameter by PNU.
    pub fn by_pnu(&self, pnu: Pnu) -> Option<&ParameterDef> {
        self.params
            .binary_search_by_key(&pnu, |p| p.pnu)
            .ok()
            .map(|i| &self.params[i])
    }

    /// Prepare a write of `value` (in the parameter's unit) to parameter `id`.
    pub fn prepare_write(&self, id: &str, value: f64) -> Result<PreparedWrite, Error> {
        let p = self
            .get(id)
            .ok_or_else(|| Error::UnknownParameter(id.to_string()))?;
        Self::prepare(p, value)
    }

    /// Prepare a write of `value` to the parameter at `pnu`.
    pub fn prepare_write_pnu(&self, pnu: Pnu, value: f64) -> Result<PreparedWrite, Error> {
        let p = self
            .by_pnu(pnu)
            .ok_or_else(|| Error::UnknownParameter(format!("PNU {pnu}")))?;
        Self::prepare(p, value)
    }

    fn prepare(p: &ParameterDef, value: f64) -> Result<PreparedWrite, Error> {
        let raw = p.encode(value)?;
        Ok(PreparedWrite {
            id: p.id.clone(),
            pnu: p.pnu,
            address: p.pnu.wire_address(),
            raw,
            value,
            unit: p.unit,
        })
    }

    /// Whether a read-back register value confirms a prepared write.
    pub fn confirms(write: &PreparedWrite, read_back: u16) -> bool {
        write.raw == read_back
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(raw_type: RawType, scale: f64, range: Option<(f64, f64)>) -> ParameterDef {
        ParameterDef {
            id: "p".into(),
            name: "p".into(),
            pnu: Pnu::new(11180).unwrap_or_else(|_| unreachable!()),
            circuit: Some(1),
            raw_type,
            scale,
            unit: Unit::DegC,
            range,
            writable: range.is_some(),
            kind: ParameterKind::Setting,
            confidence: Confidence::Confirmed,
            description: String::new(),
        }
    }

    #[test]
    fn encode_scales_checks_and_round_trips() {
        let d = def(RawType::S16, 0.1, Some((5.0, 40.0)));
        assert_eq!(d.encode(21.5).ok(), Some(215));
        assert_eq!(d.decode(215), 21.5);
        assert_eq!(d.encode(5.0).ok(), Some(50));
        assert_eq!(d.encode(40.0).ok(), Some(400));
        assert!(matches!(d.encode(4.9), Err(Error::OutOfRange { .. })));
        assert!(matches!(d.encode(40.1), Err(Error::OutOfRange { .. })));
        assert!(matches!(d.encode(f64::NAN), Err(Error::OutOfRange { .. })));
        assert!(matches!(
            d.encode(21.55),
            Err(Error::NotRepresentable { .. })
        ));
        let neg = def(RawType::S16, 1.0, Some((-60.0, 20.0)));
        assert_eq!(neg.encode(-5.0).ok(), Some((-5i16) as u16));
        assert_eq!(neg.decode((-5i16) as u16), -5.0);
        let ro = def(RawType::U16, 1.0, None);
        assert!(matches!(ro.encode(1.0), Err(Error::ReadOnly { .. })));
    }
}
