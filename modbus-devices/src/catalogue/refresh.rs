//! How often a service is worth reading: the one definition the planner, the poller and
//! the examples use to tell the values that change from the static ones (see [`Refresh`]).

use serde::{Deserialize, Serialize};

use super::model::{Category, Product, Service};
use crate::register::Access;

/// When the poller reads a service by default (see the poller's module documentation).
///
/// The class follows from the service's [`Category`] (the catalogue data every service
/// already carries), so a catalogue file needs no extra field:
///
/// | [`Category`] | [`Refresh`] |
/// |---|---|
/// | `energy`, `power`, `voltage`, `current`, `frequency`, `power_factor`, `thd`, `harmonic`, `temperature`, `pulse` (measurements and energies) | [`Refresh::Cyclic`] |
/// | `status` (states, alarms, tariffs, event counters) | [`Refresh::Cyclic`] |
/// | `identification` (vendor, product code, versions, serial number) | [`Refresh::Identification`] |
/// | `configuration` (settings read back from the device) | [`Refresh::Configuration`] |
///
/// A write-only service (a command register that reads back as 0) has no class: no poll
/// reads it ([`Service::refresh`] is `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refresh {
    /// Values that change: measurements, energies, states and alarms. Read every cycle.
    Cyclic,
    /// Static identification (vendor, product code, versions, serial number). Read when the
    /// device is first reached and again after it comes back from "not communicating".
    Identification,
    /// Configuration read back from the device. Read on a slow refresh (hourly by default).
    Configuration,
}

impl Refresh {
    /// Every class, in this order.
    pub const ALL: [Refresh; 3] = [
        Refresh::Cyclic,
        Refresh::Identification,
        Refresh::Configuration,
    ];
}

impl std::fmt::Display for Refresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refresh::Cyclic => "cyclic",
            Refresh::Identification => "identification",
            Refresh::Configuration => "configuration",
        })
    }
}

impl Category {
    /// The refresh class of the services of this category (the table is in [`Refresh`]).
    ///
    /// ```
    /// use modbus_devices::catalogue::{Category, Refresh};
    ///
    /// assert_eq!(Category::Voltage.refresh(), Refresh::Cyclic);
    /// assert_eq!(Category::Status.refresh(), Refresh::Cyclic);
    /// assert_eq!(Category::Identification.refresh(), Refresh::Identification);
    /// assert_eq!(Category::Configuration.refresh(), Refresh::Configuration);
    /// ```
    pub fn refresh(self) -> Refresh {
        match self {
            Category::Identification => Refresh::Identification,
            Category::Configuration => Refresh::Configuration,
            Category::Energy
            | Category::Power
            | Category::Voltage
            | Category::Current
            | Category::Frequency
            | Category::PowerFactor
            | Category::Thd
            | Category::Harmonic
            | Category::Status
            | Category::Temperature
            | Category::Pulse => Refresh::Cyclic,
        }
    }
}

impl Service {
    /// The refresh class of this service, or `None` for a write-only service, which no
    /// poll reads.
    pub fn refresh(&self) -> Option<Refresh> {
        (self.register.access != Access::Write).then(|| self.category.refresh())
    }
}

impl Product {
    /// The readable services whose refresh class is one of `classes`, in catalogue order.
    ///
    /// ```
    /// use modbus_devices::Catalogue;
    /// use modbus_devices::catalogue::Refresh;
    ///
    /// let catalogue = Catalogue::builtin().unwrap();
    /// let ecr = catalogue.get("ECR380D").unwrap();
    /// let cyclic: Vec<_> = ecr.services_refreshed(&[Refresh::Cyclic]).map(|s| s.id.as_str()).collect();
    /// assert!(cyclic.contains(&"v_l1_n"));
    /// assert!(!cyclic.contains(&"vendor"));
    /// let all = ecr.services_refreshed(&Refresh::ALL).count();
    /// assert!(all > cyclic.len());
    /// ```
    pub fn services_refreshed<'a>(
        &'a self,
        classes: &'a [Refresh],
    ) -> impl Iterator<Item = &'a Service> + 'a {
        self.services
            .iter()
            .filter(move |s| s.refresh().is_some_and(|r| classes.contains(&r)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::Catalogue;

    #[test]
    fn every_builtin_service_has_one_class_and_write_only_none() {
        let catalogue = Catalogue::builtin().unwrap();
        for p in catalogue.products() {
            let by_class: usize = Refresh::ALL
                .iter()
                .map(|c| p.services_refreshed(&[*c]).count())
                .sum();
            let readable = p
                .services
                .iter()
                .filter(|s| s.register.access != Access::Write)
                .count();
            assert_eq!(by_class, readable, "{}", p.reference());
        }
    }

    #[test]
    fn ecr380d_identification_strings_and_configuration_are_not_cyclic() {
        let catalogue = Catalogue::builtin().unwrap();
        let ecr = catalogue.require("ECR380D").unwrap();
        let class = |id: &str| ecr.service(id).and_then(Service::refresh);
        assert_eq!(class("v_l1_n"), Some(Refresh::Cyclic));
        assert_eq!(class("vendor"), Some(Refresh::Identification));
        let ids = ecr.services_refreshed(&[Refresh::Identification]).count();
        let config = ecr.services_refreshed(&[Refresh::Configuration]).count();
        assert!(ids >= 5 && config >= 1, "{ids} {config}");
    }
}
