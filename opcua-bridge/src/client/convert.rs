//! Conversions between OPC UA values, status codes and units and the point model.

use opcua::types::{DataTypeId, EUInformation, NodeId, StatusCode, Variant};
use serde::{Deserialize, Serialize};

use crate::model::{PointValue, Quality, ValueKind};
use crate::{UNECE_NAMESPACE_URI, Unit};

/// The quality of a value from its `StatusCode`: `Good*` is good, `Uncertain*` uncertain,
/// every `Bad*` bad-communication (the point model has no finer bad qualities).
///
/// ```
/// use opcua::types::StatusCode;
/// use opcua_bridge::Quality;
/// use opcua_bridge::client::quality_of;
///
/// assert_eq!(quality_of(StatusCode::Good), Quality::Good);
/// assert_eq!(quality_of(StatusCode::UncertainLastUsableValue), Quality::Uncertain);
/// assert_eq!(quality_of(StatusCode::BadSensorFailure), Quality::BadCommunication);
/// ```
pub fn quality_of(status: StatusCode) -> Quality {
    if status.is_good() {
        Quality::Good
    } else if status.is_uncertain() {
        Quality::Uncertain
    } else {
        Quality::BadCommunication
    }
}

/// A value of the point model from an OPC UA variant: numbers (every integer and float
/// type) times `scale`, booleans, strings and localized texts; `None` for anything else
/// (empty, arrays, structures).
pub(super) fn value_of(v: &Variant, scale: f64) -> Option<PointValue> {
    let n = |x: f64| Some(PointValue::Number(x * scale));
    match v {
        Variant::Boolean(b) => Some(PointValue::Bool(*b)),
        Variant::SByte(x) => n(f64::from(*x)),
        Variant::Byte(x) => n(f64::from(*x)),
        Variant::Int16(x) => n(f64::from(*x)),
        Variant::UInt16(x) => n(f64::from(*x)),
        Variant::Int32(x) => n(f64::from(*x)),
        Variant::UInt32(x) => n(f64::from(*x)),
        #[allow(
            clippy::cast_precision_loss,
            reason = "counters above 2^53 lose precision as f64 anyway"
        )]
        Variant::Int64(x) => n(*x as f64),
        #[allow(
            clippy::cast_precision_loss,
            reason = "counters above 2^53 lose precision as f64 anyway"
        )]
        Variant::UInt64(x) => n(*x as f64),
        Variant::Float(x) => n(f64::from(*x)),
        Variant::Double(x) => n(*x),
        Variant::String(s) => Some(PointValue::Text(s.as_ref().to_owned())),
        Variant::LocalizedText(t) => Some(PointValue::Text(t.text.as_ref().to_owned())),
        _ => None,
    }
}

/// The unit of an `EUInformation`: the workspace unit with that UNECE code.
///
/// # Errors
/// The code as text when no workspace unit has it, or the namespace is not UNECE's.
pub(super) fn unit_of_eu(eu: &EUInformation) -> Result<Unit, String> {
    let ns = eu.namespace_uri.as_ref();
    if !ns.is_empty() && ns != UNECE_NAMESPACE_URI {
        return Err(format!(
            "EngineeringUnits namespace {ns:?} is not UNECE's ({UNECE_NAMESPACE_URI})"
        ));
    }
    Unit::ALL
        .into_iter()
        .find(|u| u.unece_code().is_some() && u.unece_unit_id() == eu.unit_id)
        .ok_or_else(|| {
            let code: String = eu
                .unit_id
                .to_be_bytes()
                .iter()
                .filter(|b| **b != 0)
                .map(|b| char::from(*b))
                .collect();
            format!(
                "EngineeringUnits {:?} (UNECE code {code:?}, unitId {}) is not a workspace unit; set `unit` in the mapping",
                eu.display_name.text.as_ref(),
                eu.unit_id
            )
        })
}

/// The built-in type a node holds, from its `DataType` attribute; writes are encoded in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeType {
    /// `Boolean`.
    Boolean,
    /// `SByte`.
    SByte,
    /// `Byte`.
    Byte,
    /// `Int16`.
    Int16,
    /// `UInt16`.
    UInt16,
    /// `Int32`.
    Int32,
    /// `UInt32`.
    UInt32,
    /// `Int64`.
    Int64,
    /// `UInt64`.
    UInt64,
    /// `Float`.
    Float,
    /// `Double` (also what an abstract `Number` node is written as).
    Double,
    /// `String`.
    String,
    /// `LocalizedText` (read as text; written as text without locale).
    LocalizedText,
    /// Anything else (dates, arrays, structures): not converted to a point value, not written.
    Other,
}

impl NodeType {
    /// From a `DataType` attribute value.
    pub(super) fn from_data_type(id: &NodeId) -> NodeType {
        let Ok(id) = id.as_data_type_id() else {
            return NodeType::Other;
        };
        match id {
            DataTypeId::Boolean => NodeType::Boolean,
            DataTypeId::SByte => NodeType::SByte,
            DataTypeId::Byte => NodeType::Byte,
            DataTypeId::Int16 => NodeType::Int16,
            DataTypeId::UInt16 => NodeType::UInt16,
            DataTypeId::Int32 => NodeType::Int32,
            DataTypeId::UInt32 => NodeType::UInt32,
            DataTypeId::Int64 => NodeType::Int64,
            DataTypeId::UInt64 => NodeType::UInt64,
            DataTypeId::Float => NodeType::Float,
            DataTypeId::Double | DataTypeId::Number | DataTypeId::Duration => NodeType::Double,
            DataTypeId::String => NodeType::String,
            DataTypeId::LocalizedText => NodeType::LocalizedText,
            _ => NodeType::Other,
        }
    }

    /// The kind of point value the node feeds, `None` when the gateway cannot convert it.
    pub fn kind(self) -> Option<ValueKind> {
        match self {
            NodeType::Boolean => Some(ValueKind::Bool),
            NodeType::String | NodeType::LocalizedText => Some(ValueKind::Text),
            NodeType::Other => None,
            _ => Some(ValueKind::Number),
        }
    }

    /// Encodes a point value (a number divided by `scale` first) in this type.
    ///
    /// # Errors
    /// What does not fit: another kind of value, a number out of the integer type's range,
    /// a fraction for an integer type, or a type the gateway does not write.
    pub(super) fn encode(self, value: &PointValue, scale: f64) -> Result<Variant, String> {
        match (self, value) {
            (NodeType::Boolean, PointValue::Bool(b)) => Ok(Variant::Boolean(*b)),
            (NodeType::String, PointValue::Text(t)) => Ok(Variant::String(t.as_str().into())),
            (NodeType::LocalizedText, PointValue::Text(t)) => Ok(Variant::LocalizedText(Box::new(
                opcua::types::LocalizedText::new("", t),
            ))),
            (t, PointValue::Number(x)) if t.kind() == Some(ValueKind::Number) => {
                t.encode_number(x / scale)
            }
            (t, v) => Err(format!(
                "a {:?} value cannot be written to a node of type {t:?}",
                v.kind()
            )),
        }
    }

    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "range and integrality are checked before each cast"
    )]
    fn encode_number(self, x: f64) -> Result<Variant, String> {
        if !x.is_finite() {
            return Err(format!("{x} is not a finite number"));
        }
        let int = |lo: f64, hi: f64| {
            if x.fract() != 0.0 {
                Err(format!("{x} is not a whole number, the node is {self:?}"))
            } else if x < lo || x > hi {
                Err(format!("{x} is outside {self:?} ({lo}..={hi})"))
            } else {
                Ok(x)
            }
        };
        Ok(match self {
            NodeType::SByte => Variant::SByte(int(-128.0, 127.0)? as i8),
            NodeType::Byte => Variant::Byte(int(0.0, 255.0)? as u8),
            NodeType::Int16 => Variant::Int16(int(-32768.0, 32767.0)? as i16),
            NodeType::UInt16 => Variant::UInt16(int(0.0, 65535.0)? as u16),
            NodeType::Int32 => Variant::Int32(int(-2_147_483_648.0, 2_147_483_647.0)? as i32),
            NodeType::UInt32 => Variant::UInt32(int(0.0, 4_294_967_295.0)? as u32),
            NodeType::Int64 => {
                Variant::Int64(int(-9.223_372_036_854_776e18, 9.223_372_036_854_775e18)? as i64)
            }
            NodeType::UInt64 => Variant::UInt64(int(0.0, 1.844_674_407_370_955e19)? as u64),
            NodeType::Float => {
                if x.abs() > f64::from(f32::MAX) {
                    return Err(format!("{x} is outside Float"));
                }
                Variant::Float(x as f32)
            }
            NodeType::Double => Variant::Double(x),
            t => return Err(format!("the gateway does not write numbers to {t:?} nodes")),
        })
    }
}

/// Why the server refused a write (from its `StatusCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WriteFailure {
    /// `BadOutOfRange`: outside the node's range.
    OutOfRange,
    /// `BadUserAccessDenied`, `BadNotWritable`, `BadWriteNotSupported`: not allowed for
    /// this user or node.
    AccessDenied,
    /// `BadTypeMismatch`: the server wanted another type.
    TypeMismatch,
    /// `BadNodeIdUnknown`, `BadNodeIdInvalid`, `BadAttributeIdInvalid`: the node is gone.
    UnknownNode,
    /// The request did not get through (`BadCommunicationError`, `BadTimeout`,
    /// `BadNotConnected`, a closed session or channel, ...).
    Communication,
    /// Any other bad status.
    Other,
}

impl WriteFailure {
    /// The failure a bad `StatusCode` stands for.
    pub fn of(status: StatusCode) -> WriteFailure {
        match status {
            StatusCode::BadOutOfRange => WriteFailure::OutOfRange,
            StatusCode::BadUserAccessDenied
            | StatusCode::BadNotWritable
            | StatusCode::BadWriteNotSupported => WriteFailure::AccessDenied,
            StatusCode::BadTypeMismatch => WriteFailure::TypeMismatch,
            StatusCode::BadNodeIdUnknown
            | StatusCode::BadNodeIdInvalid
            | StatusCode::BadAttributeIdInvalid => WriteFailure::UnknownNode,
            StatusCode::BadCommunicationError
            | StatusCode::BadTimeout
            | StatusCode::BadNotConnected
            | StatusCode::BadConnectionClosed
            | StatusCode::BadServerNotConnected
            | StatusCode::BadSessionClosed
            | StatusCode::BadSessionIdInvalid
            | StatusCode::BadSecureChannelClosed
            | StatusCode::BadRequestTimeout => WriteFailure::Communication,
            _ => WriteFailure::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_to_quality() {
        assert_eq!(quality_of(StatusCode::Good), Quality::Good);
        assert_eq!(quality_of(StatusCode::GoodClamped), Quality::Good);
        assert_eq!(quality_of(StatusCode::Uncertain), Quality::Uncertain);
        assert_eq!(
            quality_of(StatusCode::UncertainSensorNotAccurate),
            Quality::Uncertain
        );
        for bad in [
            StatusCode::Bad,
            StatusCode::BadCommunicationError,
            StatusCode::BadSensorFailure,
            StatusCode::BadWaitingForInitialData,
            StatusCode::BadNodeIdUnknown,
        ] {
            assert_eq!(quality_of(bad), Quality::BadCommunication, "{bad}");
        }
    }

    #[test]
    fn values_and_scale() {
        assert_eq!(
            value_of(&Variant::Int32(1500), 0.001),
            Some(PointValue::Number(1.5))
        );
        assert_eq!(
            value_of(&Variant::Float(2.5), 1.0),
            Some(PointValue::Number(2.5))
        );
        assert_eq!(
            value_of(&Variant::Boolean(true), 10.0),
            Some(PointValue::Bool(true))
        );
        assert_eq!(
            value_of(&Variant::String("on".into()), 1.0),
            Some(PointValue::Text("on".into()))
        );
        assert_eq!(value_of(&Variant::Empty, 1.0), None);
    }

    #[test]
    fn units_from_engineering_units() {
        let eu = |id: i32, ns: &str| EUInformation {
            namespace_uri: ns.into(),
            unit_id: id,
            display_name: opcua::types::LocalizedText::new("", "x"),
            description: opcua::types::LocalizedText::null(),
        };
        for u in Unit::ALL {
            if u.unece_code().is_some() {
                assert_eq!(
                    unit_of_eu(&eu(u.unece_unit_id(), UNECE_NAMESPACE_URI)),
                    Ok(u)
                );
            }
        }
        // 'C','E','L' is degC
        assert_eq!(unit_of_eu(&eu(0x0043_454C, "")), Ok(Unit::DegC));
        let err = unit_of_eu(&eu(0x0046_4152, UNECE_NAMESPACE_URI)).err();
        assert!(err.is_some_and(|e| e.contains("\"FAR\"")));
        assert!(unit_of_eu(&eu(Unit::V.unece_unit_id(), "urn:other")).is_err());
        assert!(unit_of_eu(&eu(-1, UNECE_NAMESPACE_URI)).is_err());
    }

    #[test]
    fn encoding_setpoints() {
        assert_eq!(
            NodeType::Int16.encode(&PointValue::Number(5.5), 0.1),
            Ok(Variant::Int16(55))
        );
        assert!(
            NodeType::Int16
                .encode(&PointValue::Number(5.55), 0.1)
                .is_err()
        );
        assert!(
            NodeType::Byte
                .encode(&PointValue::Number(-1.0), 1.0)
                .is_err()
        );
        assert!(
            NodeType::UInt16
                .encode(&PointValue::Number(70000.0), 1.0)
                .is_err()
        );
        assert_eq!(
            NodeType::Double.encode(&PointValue::Number(55.0), 1.0),
            Ok(Variant::Double(55.0))
        );
        assert!(
            NodeType::Double
                .encode(&PointValue::Number(f64::NAN), 1.0)
                .is_err()
        );
        assert!(
            NodeType::Double
                .encode(&PointValue::Bool(true), 1.0)
                .is_err()
        );
        assert_eq!(
            NodeType::Boolean.encode(&PointValue::Bool(true), 1.0),
            Ok(Variant::Boolean(true))
        );
        assert!(
            NodeType::Other
                .encode(&PointValue::Number(1.0), 1.0)
                .is_err()
        );
        assert_eq!(
            NodeType::from_data_type(&DataTypeId::Int16.into()),
            NodeType::Int16
        );
        assert_eq!(
            NodeType::from_data_type(&NodeId::new(2, 3001)),
            NodeType::Other
        );
    }

    #[test]
    fn write_status_mapping() {
        assert_eq!(
            WriteFailure::of(StatusCode::BadOutOfRange),
            WriteFailure::OutOfRange
        );
        assert_eq!(
            WriteFailure::of(StatusCode::BadUserAccessDenied),
            WriteFailure::AccessDenied
        );
        assert_eq!(
            WriteFailure::of(StatusCode::BadNotWritable),
            WriteFailure::AccessDenied
        );
        assert_eq!(
            WriteFailure::of(StatusCode::BadTypeMismatch),
            WriteFailure::TypeMismatch
        );
        assert_eq!(
            WriteFailure::of(StatusCode::BadNodeIdUnknown),
            WriteFailure::UnknownNode
        );
        assert_eq!(
            WriteFailure::of(StatusCode::BadTimeout),
            WriteFailure::Communication
        );
        assert_eq!(
            WriteFailure::of(StatusCode::BadInternalError),
            WriteFailure::Other
        );
    }
}
