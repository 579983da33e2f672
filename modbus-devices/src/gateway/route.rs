//! The routing table: unit-id ranges to downstream buses, with optional unit-id remapping.

use serde::{Deserialize, Serialize};

use super::GatewayError;

/// One route: the units `first..=last` go to bus `bus` (an index into the gateway's buses).
/// With `remap_to`, unit `first` becomes `remap_to` downstream, `first + 1` becomes
/// `remap_to + 1`, and so on; without it the unit id is passed unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// First unit id of the range (as the client sends it).
    pub first: u8,
    /// Last unit id of the range, inclusive.
    pub last: u8,
    /// The downstream bus, numbered from 0 in configuration order.
    pub bus: usize,
    /// The downstream unit id of `first`, when the bus numbers its devices differently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remap_to: Option<u8>,
}

impl Route {
    /// Units `first..=last` to `bus`, unchanged.
    pub fn new(first: u8, last: u8, bus: usize) -> Self {
        Self {
            first,
            last,
            bus,
            remap_to: None,
        }
    }

    /// The same route with unit `first` sent as `to` downstream.
    #[must_use]
    pub fn remapped(mut self, to: u8) -> Self {
        self.remap_to = Some(to);
        self
    }

    fn downstream(&self, unit: u8) -> u8 {
        match self.remap_to {
            // Validated: the remapped range stays within 0..=255.
            Some(to) => to.wrapping_add(unit - self.first),
            None => unit,
        }
    }
}

/// Unit ranges to buses. The first route whose range holds the unit wins; a unit no route
/// holds gets exception 0x0A (gateway path unavailable).
///
/// ```
/// use modbus_devices::gateway::{Route, RoutingTable};
///
/// let table: RoutingTable = serde_json::from_str(
///     r#"{"routes": [{"first": 1, "last": 9, "bus": 0},
///                    {"first": 10, "last": 19, "bus": 1, "remap_to": 1}]}"#,
/// )?;
/// assert_eq!(table.resolve(3), Some((0, 3)));
/// assert_eq!(table.resolve(12), Some((1, 3))); // unit 12 is unit 3 on bus 1
/// assert_eq!(table.resolve(20), None);
/// assert_eq!(RoutingTable::all_to(0).resolve(247), Some((0, 247)));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingTable {
    /// The routes, tried in order.
    pub routes: Vec<Route>,
}

impl RoutingTable {
    /// Every unit (0 to 255) to one bus, unchanged.
    pub fn all_to(bus: usize) -> Self {
        Self {
            routes: vec![Route::new(0, 255, bus)],
        }
    }

    /// The bus and the downstream unit id for a client's unit id.
    pub fn resolve(&self, unit: u8) -> Option<(usize, u8)> {
        self.routes
            .iter()
            .find(|r| (r.first..=r.last).contains(&unit))
            .map(|r| (r.bus, r.downstream(unit)))
    }

    /// Check every route against the number of buses.
    pub fn validate(&self, buses: usize) -> Result<(), GatewayError> {
        for (i, r) in self.routes.iter().enumerate() {
            let bad = |field: &str, message: String| GatewayError::Config {
                field: format!("routes[{i}].{field}"),
                message,
            };
            if r.first > r.last {
                return Err(bad(
                    "last",
                    format!("expected a unit >= first ({}), found {}", r.first, r.last),
                ));
            }
            if r.bus >= buses {
                return Err(bad(
                    "bus",
                    format!(
                        "expected a bus number below {buses} (buses are numbered from 0), found {}",
                        r.bus
                    ),
                ));
            }
            if let Some(to) = r.remap_to
                && u16::from(to) + u16::from(r.last - r.first) > 255
            {
                return Err(bad(
                    "remap_to",
                    format!(
                        "the remapped range {to}..={} goes past unit 255",
                        u16::from(to) + u16::from(r.last - r.first)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Parse the command-line form `UNITS=BUS`, where `UNITS` is `N` or `N-M` and `BUS` is a
    /// bus number, optionally followed by `@UNIT` to remap the range's first unit.
    ///
    /// ```
    /// use modbus_devices::gateway::{Route, RoutingTable};
    /// assert_eq!(RoutingTable::parse_route("1-9=0")?, Route::new(1, 9, 0));
    /// assert_eq!(RoutingTable::parse_route("12=1@3")?, Route::new(12, 12, 1).remapped(3));
    /// assert!(RoutingTable::parse_route("9-1=0").is_ok()); // checked by validate
    /// assert!(RoutingTable::parse_route("x=0").is_err());
    /// # Ok::<(), modbus_devices::gateway::GatewayError>(())
    /// ```
    pub fn parse_route(text: &str) -> Result<Route, GatewayError> {
        let bad = |message: String| GatewayError::Config {
            field: "route".into(),
            message: format!("{message} in {text:?} (expected UNITS=BUS, e.g. 1-9=0 or 12=1@3)"),
        };
        let (units, target) = text.split_once('=').ok_or_else(|| bad("no '='".into()))?;
        let unit = |s: &str| {
            s.trim()
                .parse::<u8>()
                .map_err(|_| bad(format!("expected a unit id 0-255, found {s:?}")))
        };
        let (first, last) = match units.split_once('-') {
            Some((a, b)) => (unit(a)?, unit(b)?),
            None => (unit(units)?, unit(units)?),
        };
        let (bus, remap) = match target.split_once('@') {
            Some((b, u)) => (b, Some(unit(u)?)),
            None => (target, None),
        };
        let bus = bus
            .trim()
            .parse::<usize>()
            .map_err(|_| bad(format!("expected a bus number, found {bus:?}")))?;
        Ok(Route {
            first,
            last,
            bus,
            remap_to: remap,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_route_wins_and_remaps() {
        let t = RoutingTable {
            routes: vec![Route::new(5, 5, 1), Route::new(1, 10, 0).remapped(101)],
        };
        assert_eq!(t.resolve(5), Some((1, 5)));
        assert_eq!(t.resolve(1), Some((0, 101)));
        assert_eq!(t.resolve(10), Some((0, 110)));
        assert_eq!(t.resolve(11), None);
        assert!(t.validate(2).is_ok());
        let err = t.validate(1).unwrap_err().to_string();
        assert!(err.contains("routes[0].bus"), "{err}");
    }

    #[test]
    fn remap_past_255_is_refused() {
        let t = RoutingTable {
            routes: vec![Route::new(1, 10, 0).remapped(250)],
        };
        let err = t.validate(1).unwrap_err().to_string();
        assert!(err.contains("routes[0].remap_to"), "{err}");
    }
}
