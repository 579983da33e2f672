//! A product's proposed alarms as `alarms` rules for one device.
//!
//! A catalogue product lists default alarms for its services
//! ([`modbus_devices::catalogue::AlarmTemplate`]); [`alarms::Rule::from_template`] builds a
//! rule from the same plain fields. The glue is a field-by-field copy: `alarms` and
//! `modbus-devices` do not depend on each other, and the words (`high`, `low`, `binary`;
//! `critical`, `major`, `minor`, `warning`) are the same in both.
//!
//! ```
//! use modbus_devices::Catalogue;
//!
//! let catalogue = Catalogue::builtin()?;
//! let product = catalogue.require("ECR380D")?;
//! let rules = examples::alarm_templates::rules_for_device(product, "main")?;
//! assert_eq!(rules.len(), product.alarms.len());
//! assert!(rules.iter().any(|r| r.id == "main/overvoltage_l1"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::Duration;

use alarms::{AppliesTo, Rule, Template};
use modbus_devices::Product;
use modbus_devices::catalogue::AlarmTemplate;

/// The rule of `template` for the device `device`: id `device/TEMPLATE-ID`, watching the
/// point `device/SERVICE`.
pub fn rule_for(device: &str, template: &AlarmTemplate) -> Result<Rule, alarms::Error> {
    let (kind, priority) = (word(&template.kind), word(&template.priority));
    Rule::from_template(
        &format!("{device}/{}", template.id),
        AppliesTo::Points(vec![format!("{device}/{}", template.service)]),
        &Template {
            kind: &kind,
            text: &template.text,
            priority: &priority,
            threshold: template.threshold,
            pre_alarm: template.pre_alarm,
            hysteresis: template.hysteresis,
            delay: Duration::from_secs(u64::from(template.delay_s)),
            on_false: template.on_false,
        },
    )
}

/// The rules of all the alarms `product` proposes, for the device `device`.
pub fn rules_for_device(product: &Product, device: &str) -> Result<Vec<Rule>, alarms::Error> {
    product.alarms.iter().map(|t| rule_for(device, t)).collect()
}

/// The word a catalogue enum is written as in a catalogue file (its serde name); an enum
/// that is not written as a word gives an empty word, which `alarms` refuses by name.
fn word<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(word)) => word,
        _ => String::new(),
    }
}
