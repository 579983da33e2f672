//! From the poller's cycles to the OPC UA bridge: every reading of a [`Cycle`] becomes one
//! [`opcua_bridge::Update`] of the point `device/service`, for one
//! [`opcua_bridge::server::Bridge::update`] batch per cycle (whose report says which points
//! the tree does not have).
//!
//! - values: a number, bit or text as such; a bit field as its integer (a number);
//! - quality: good stays good; "not available" and "invalid" become uncertain (the point
//!   keeps its last value); "no answer" becomes bad-communication;
//! - time: the reading's own answer time (UTC) is the source time.
//!
//! Building the tree itself (which services of which devices, with their units and ranges)
//! from the catalogue is not done yet.

use modbus_devices::poll::Cycle;
use modbus_devices::{Quality, Reading, Value};
use opcua_bridge::{PointValue, Update};

/// The point value of a reading's value.
pub fn point_value(value: &Value) -> PointValue {
    match value {
        Value::Number(x) => PointValue::Number(*x),
        Value::Bool(b) => PointValue::Bool(*b),
        Value::Text(s) => PointValue::Text(s.clone()),
        Value::Flags(bits) => PointValue::Number(*bits as f64),
    }
}

/// The bridge's quality for a reading's quality.
pub fn point_quality(quality: Quality) -> opcua_bridge::Quality {
    match quality {
        Quality::Good => opcua_bridge::Quality::Good,
        Quality::NotAvailable | Quality::Invalid => opcua_bridge::Quality::Uncertain,
        Quality::NoAnswer => opcua_bridge::Quality::BadCommunication,
    }
}

/// One reading as one update.
pub fn update(reading: &Reading) -> Update {
    Update {
        point: reading.point(),
        value: reading.value.as_ref().map(point_value),
        quality: point_quality(reading.quality),
        source_time: reading.timestamp,
    }
}

/// A cycle as one batch, in the cycle's order.
pub fn updates(cycle: &Cycle) -> Vec<Update> {
    cycle.readings.iter().map(update).collect()
}

/// The bridge's unit for a reading's unit (the workspace symbols are shared); `None` for a
/// symbol the bridge does not know.
pub fn point_unit(unit: modbus_devices::Unit) -> Option<opcua_bridge::Unit> {
    unit.symbol().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use opcua_bridge::{Device, Point, PointTree, Site};

    fn reading(service: &str, value: Option<Value>, quality: Quality) -> Reading {
        Reading {
            device: "main".into(),
            service: service.into(),
            value,
            unit: modbus_devices::Unit::V,
            timestamp: Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap(),
            quality,
        }
    }

    #[test]
    fn every_modbus_unit_is_a_bridge_unit() {
        for u in modbus_devices::Unit::ALL {
            assert!(point_unit(u).is_some(), "{u:?}");
        }
    }

    #[test]
    fn a_cycle_becomes_one_batch() {
        let site = Site::new("s").with_device(
            Device::new("main")
                .with_point(Point::number("v", opcua_bridge::Unit::V))
                .with_point(Point::number("i", opcua_bridge::Unit::A))
                .with_point(Point::number("flags", opcua_bridge::Unit::None))
                .with_point(Point::text("model")),
        );
        let mut tree = PointTree::new(site).unwrap();
        let t = Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap();
        let cycle = Cycle {
            number: 1,
            started: t,
            finished: t,
            readings: vec![
                reading("v", Some(Value::Number(231.5)), Quality::Good),
                reading("i", None, Quality::NoAnswer),
                reading("flags", Some(Value::Flags(5)), Quality::Good),
                reading("model", Some(Value::Text("ECR380D".into())), Quality::Good),
                reading("f", Some(Value::Number(50.0)), Quality::Good),
            ],
        };
        let batch = updates(&cycle);
        assert_eq!(batch[1].quality, opcua_bridge::Quality::BadCommunication);
        assert_eq!(batch[1].value, None);
        let report = tree.apply(batch, t);
        assert_eq!(report.applied, [0, 1, 2, 3]);
        assert_eq!(
            report.rejected,
            [("main/f".to_owned(), opcua_bridge::Rejection::UnknownPoint)]
        );
        let flags = tree.point("main/flags").unwrap();
        assert_eq!(flags.state.value, Some(PointValue::Number(5.0)));
        assert_eq!(flags.state.source_time, Some(t));
    }

    #[test]
    fn qualities_map_to_the_bridge_words() {
        assert_eq!(point_quality(Quality::Good), opcua_bridge::Quality::Good);
        assert_eq!(
            point_quality(Quality::NotAvailable),
            opcua_bridge::Quality::Uncertain
        );
        assert_eq!(
            point_quality(Quality::Invalid),
            opcua_bridge::Quality::Uncertain
        );
        assert_eq!(
            point_quality(Quality::NoAnswer),
            opcua_bridge::Quality::BadCommunication
        );
        for q in Quality::ALL {
            assert_eq!(
                Some(point_quality(q)),
                opcua_bridge::Quality::from_workspace_word(q.as_str()),
                "{q:?}"
            );
        }
    }
}
