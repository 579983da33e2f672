//! The OPC UA point tree of a site: areas, devices and their points with units, from the
//! site file and the catalogue.

use modbus_devices::Product;
use opcua_bridge::{Area, Device, Point, Site as TreeSite};

use crate::site::Site;

/// The quantities a heat meter's points carry (`METER/QUANTITY`) and their units.
pub const HEAT_METER_POINTS: [(&str, &str); 7] = [
    ("energy", "Wh"),
    ("volume", "m3"),
    ("power", "W"),
    ("volume_flow", "m3/h"),
    ("flow_temperature", "degC"),
    ("return_temperature", "degC"),
    ("temperature_difference", "K"),
];

fn unit(symbol: &str) -> opcua_bridge::Unit {
    symbol.parse().unwrap_or(opcua_bridge::Unit::None)
}

/// The point of a catalogue service: bits are booleans, strings text, everything else a
/// number with the service's unit.
fn service_point(s: &modbus_devices::catalogue::Service) -> Point {
    use modbus_devices::register::DataType;
    let p = match s.register.data_type {
        DataType::Bit => Point::bool(&s.id),
        DataType::String => Point::text(&s.id),
        _ => Point::number(&s.id, unit(s.unit.symbol())),
    };
    p.with_description(&s.name)
}

/// Every device of the site with its points: catalogue devices with their product's
/// services, ECL controllers with their parameter map's (`ecls`: device name and product,
/// from detection), M-Bus heat meters with [`HEAT_METER_POINTS`].
pub fn devices(site: &Site, ecls: &[(String, Product)]) -> Vec<(Option<String>, Device)> {
    let mut out = Vec::new();
    let with_services = |name: &str, description: &str, product: &Product| {
        let mut dev = Device::new(name).with_description(description);
        for s in &product.services {
            dev = dev.with_point(service_point(s));
        }
        dev
    };
    for d in &site.devices {
        let Some(product) = site.catalogue().get(&d.product) else {
            continue;
        };
        out.push((d.area.clone(), with_services(&d.name, &d.product, product)));
    }
    for e in &site.ecls {
        if let Some((_, product)) = ecls.iter().find(|(n, _)| *n == e.name) {
            let description = format!("ECL Comfort 310, application {}", e.key);
            out.push((
                e.area.clone(),
                with_services(&e.name, &description, product),
            ));
        }
    }
    for m in &site.meters {
        let mut dev = Device::new(&m.name).with_description("M-Bus heat meter");
        for (q, u) in HEAT_METER_POINTS {
            dev = dev.with_point(Point::number(q, unit(u)));
        }
        out.push((m.area.clone(), dev));
    }
    out
}

/// The site as an OPC UA tree: one folder per area (in first-seen order), devices without
/// an area at the root.
pub fn tree(site: &Site, ecls: &[(String, Product)]) -> TreeSite {
    let mut areas: Vec<(String, Area)> = Vec::new();
    let mut root = TreeSite::new(&site.site.name);
    for (area, dev) in devices(site, ecls) {
        match area {
            None => root = root.with_device(dev),
            Some(name) => match areas.iter_mut().find(|(n, _)| *n == name) {
                Some((_, a)) => *a = std::mem::replace(a, Area::new("")).with_device(dev),
                None => areas.push((name.clone(), Area::new(name).with_device(dev))),
            },
        }
    }
    for (_, a) in areas {
        root = root.with_area(a);
    }
    root
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_demo_tree_has_every_device_with_units() {
        let site = Site::demo().unwrap();
        let tree = opcua_bridge::PointTree::new(tree(&site, &[])).unwrap();
        let v = tree.point("main/v_l1_n").unwrap();
        assert_eq!(v.unit, opcua_bridge::Unit::V);
        let e = tree.point("hm1/energy").unwrap();
        assert_eq!(e.unit, opcua_bridge::Unit::Wh);
        assert!(tree.points().iter().any(|p| p.name.starts_with("pv/")));
    }
}
