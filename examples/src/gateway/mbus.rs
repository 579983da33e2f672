//! M-Bus heat meters read over TCP: each meter's records become readings `METER/QUANTITY`
//! with the record's unit, so they travel the same way as Modbus readings (store, alarms,
//! OPC UA).

use chrono::Utc;
use mbus_meters::master::{Master, MasterConfig};
use mbus_meters::{Address, OwnedValue};
use modbus_devices::{Quality, Reading, Value};

use super::tree::HEAT_METER_POINTS;
use crate::site::{Meter, Site};

/// The unit of a record in the workspace's symbols (`None` for one the workspace lacks).
fn unit(u: mbus_meters::Unit) -> Option<modbus_devices::Unit> {
    u.to_string().parse().ok()
}

/// Readings of one meter that did not answer: every point with quality no answer.
fn no_answer(meter: &Meter, at: chrono::DateTime<Utc>) -> Vec<Reading> {
    HEAT_METER_POINTS
        .iter()
        .map(|(q, u)| Reading {
            device: meter.name.clone(),
            service: (*q).to_string(),
            value: None,
            unit: u.parse().unwrap_or(modbus_devices::Unit::None),
            timestamp: at,
            quality: Quality::NoAnswer,
        })
        .collect()
}

async fn read_one(
    master: &mut Master<tokio::net::TcpStream>,
    meter: &Meter,
) -> Result<Vec<Reading>, String> {
    // the whole readout: SND_NKE, then REQ_UD2 while "more records follow"
    let frames = master
        .read(Address(meter.primary))
        .await
        .map_err(|e| e.to_string())?;
    let at = Utc::now();
    let mut out = Vec::new();
    for r in frames.iter().flat_map(|f| &f.records) {
        let name = r.quantity.name();
        if !HEAT_METER_POINTS.iter().any(|(q, _)| *q == name) {
            continue;
        }
        if r.storage != 0
            || r.tariff != 0
            || r.subunit != 0
            || out.iter().any(|x: &Reading| x.service == name)
        {
            continue;
        }
        let (value, quality) = match &r.value {
            OwnedValue::Number(x) => (Some(Value::Number(*x)), Quality::Good),
            _ => (None, Quality::Invalid),
        };
        out.push(Reading {
            device: meter.name.clone(),
            service: name.to_string(),
            value,
            unit: unit(r.unit).unwrap_or(modbus_devices::Unit::None),
            timestamp: at,
            quality,
        });
    }
    Ok(out)
}

/// Read every meter of every M-Bus bus once by its primary address (one TCP connection per
/// bus for the round; each meter's whole readout, [`Master::read`]); a meter or bus that
/// does not answer gives no-answer readings. The first current value (storage 0, tariff 0,
/// subunit 0) of each quantity of [`HEAT_METER_POINTS`] is kept. The buses are read at the
/// same time (each is its own line), the meters of a bus one after the other; readings come
/// in site order of the buses.
pub async fn read_all(site: &Site) -> Vec<Reading> {
    let tasks: Vec<_> = site
        .mbus_buses
        .iter()
        .map(|bus| {
            let meters: Vec<Meter> = site
                .meters
                .iter()
                .filter(|m| m.bus == bus.name)
                .cloned()
                .collect();
            let task = tokio::spawn(read_bus(bus.clone(), meters.clone()));
            (task, meters)
        })
        .collect();
    let mut out = Vec::new();
    for (task, meters) in tasks {
        match task.await {
            Ok(readings) => out.extend(readings),
            Err(e) => {
                tracing::error!("M-Bus readout task failed: {e}");
                let now = Utc::now();
                out.extend(meters.iter().flat_map(|m| no_answer(m, now)));
            }
        }
    }
    out
}

async fn read_bus(bus: crate::site::MbusBus, meters: Vec<Meter>) -> Vec<Reading> {
    let mut out = Vec::new();
    let mut master = match Master::connect_tcp(&bus.address, MasterConfig::default()).await {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!(bus = %bus.name, address = %bus.address, "M-Bus connection failed: {e}");
            None
        }
    };
    for m in &meters {
        let got = match master.as_mut() {
            Some(master) => read_one(master, m).await,
            None => Err("no connection".into()),
        };
        match got {
            Ok(readings) => out.extend(readings),
            Err(e) => {
                tracing::debug!(meter = %m.name, "M-Bus meter did not answer: {e}");
                out.extend(no_answer(m, Utc::now()));
            }
        }
    }
    out
}
