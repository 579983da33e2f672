//! The `modbus-read --json` document (issue 2, section 8):
//!
//! ```text
//! { "identification": { "status": "match" | "mismatch" | "error", "detail": "..." },
//!   "values": [ { "service": "...", "name": "...", "quantity": "...", "value": 231.5,
//!                 "unit": "V", "quality": "good" | "not_available" | "no_answer" | "invalid" } ] }
//! ```
//!
//! `identification` is present only when asked for. `value` is a number in the unit given,
//! a string for text values (identification strings), or `null` when the device reports
//! "not available" (quality `not_available`), gave no answer (`no_answer`) or an answer that
//! cannot be used (`invalid`: an exception, words that do not decode). Booleans and bit
//! fields are numbers (0/1, the raw bits).

use modbus_devices::poll::Identification;
use modbus_devices::{Product, Quality, Reading, Value};
use serde_json::{Value as Json, json};

/// A decoded number rounded to 15 significant digits, the precision an `f64` carries
/// exactly: `23192 * 0.01` prints as `231.92`, not `231.92000000000002`.
pub fn tidy(v: f64) -> f64 {
    if !v.is_finite() || v == 0.0 {
        return v;
    }
    format!("{v:.14e}").parse().unwrap_or(v)
}

/// A reading's value as JSON: number, string or null.
pub fn value_json(value: Option<&Value>) -> Json {
    match value {
        None => Json::Null,
        Some(Value::Number(v)) => {
            serde_json::Number::from_f64(tidy(*v)).map_or(Json::Null, Json::Number)
        }
        Some(Value::Bool(b)) => json!(u8::from(*b)),
        Some(Value::Flags(f)) => json!(f),
        Some(Value::Text(t)) => json!(t),
    }
}

/// `"good"`, `"not_available"`, `"no_answer"` or `"invalid"` (the serde form of [`Quality`]).
pub fn quality_str(q: Quality) -> &'static str {
    q.as_str()
}

/// One entry of `values`, with the service's name and quantity from the product.
pub fn reading_json(product: &Product, reading: &Reading) -> Json {
    let service = product.service(&reading.service);
    json!({
        "service": reading.service,
        "name": service.map_or("", |s| s.name.as_str()),
        "quantity": service.map_or("", |s| s.quantity.as_str()),
        "value": value_json(reading.value.as_ref()),
        "unit": reading.unit.symbol(),
        "quality": quality_str(reading.quality),
    })
}

/// The whole document.
pub fn document(
    product: &Product,
    readings: &[Reading],
    identification: Option<&Identification>,
) -> Json {
    let mut doc = serde_json::Map::new();
    if let Some(id) = identification {
        doc.insert(
            "identification".into(),
            json!({ "status": id.status(), "detail": id.detail() }),
        );
    }
    doc.insert(
        "values".into(),
        Json::Array(readings.iter().map(|r| reading_json(product, r)).collect()),
    );
    Json::Object(doc)
}

/// Whether anything at all was read: a value, or a "not available" answer.
pub fn anything_read(readings: &[Reading]) -> bool {
    readings
        .iter()
        .any(|r| matches!(r.quality, Quality::Good | Quality::NotAvailable))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use chrono::Utc;
    use modbus_devices::{Catalogue, Unit};

    fn reading(service: &str, value: Option<Value>, unit: Unit, quality: Quality) -> Reading {
        Reading {
            device: "d".into(),
            service: service.into(),
            value,
            unit,
            timestamp: Utc::now(),
            quality,
        }
    }

    #[test]
    fn tidy_removes_binary_noise_only() {
        assert_eq!(tidy(23192.0 * 0.01), 231.92);
        assert_eq!(tidy(0.1 + 0.2), 0.3);
        assert_eq!(tidy(-1500.0), -1500.0);
        assert_eq!(tidy(123_456_789.012), 123_456_789.012);
        assert_eq!(tidy(1e-9), 1e-9);
        assert_eq!(tidy(0.0), 0.0);
        assert!(tidy(f64::NAN).is_nan());
    }

    #[test]
    fn document_follows_the_contract() {
        let cat = Catalogue::builtin().unwrap();
        let p = cat.get("ECR380D").unwrap();
        let readings = vec![
            reading("v_l1_n", Some(Value::Number(231.5)), Unit::V, Quality::Good),
            reading("v_l2_n", None, Unit::V, Quality::NotAvailable),
            reading("v_l3_n", None, Unit::V, Quality::NoAnswer),
            reading(
                "vendor",
                Some(Value::Text("Hager".into())),
                Unit::None,
                Quality::Good,
            ),
        ];
        let id = Identification::Mismatch {
            declared: "ECR380D".into(),
            found: Some("ECR180D".into()),
            detail: "declared ECR380D but found ECR180D".into(),
        };
        let doc = document(p, &readings, Some(&id));
        assert_eq!(doc["identification"]["status"], "mismatch");
        assert_eq!(
            doc["identification"]["detail"],
            "declared ECR380D but found ECR180D"
        );
        let v = &doc["values"];
        assert_eq!(v[0]["service"], "v_l1_n");
        assert_eq!(v[0]["name"], p.service("v_l1_n").unwrap().name.as_str());
        assert_eq!(v[0]["quantity"], "voltage");
        assert_eq!(v[0]["value"], 231.5);
        assert_eq!(v[0]["unit"], "V");
        assert_eq!(v[0]["quality"], "good");
        assert_eq!(
            (v[1]["value"].clone(), v[1]["quality"].clone()),
            (Json::Null, json!("not_available"))
        );
        assert_eq!(
            (v[2]["value"].clone(), v[2]["quality"].clone()),
            (Json::Null, json!("no_answer"))
        );
        assert_eq!(v[3]["value"], "Hager");
        let obj = v[0].as_object().unwrap();
        let mut keys: Vec<_> = obj.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["name", "quality", "quantity", "service", "unit", "value"]
        );
        assert!(document(p, &readings, None).get("identification").is_none());
        assert!(anything_read(&readings));
        assert!(!anything_read(&readings[2..3]));
    }
}
