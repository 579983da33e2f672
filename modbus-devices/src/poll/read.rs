//! The requests of one device's poll and the decoding of their answers into readings.
//!
//! The requests are built once per configuration. Decoding follows the JSON contract of
//! `modbus-read`: a value the device reports as "not available" (a sentinel, NaN) is a
//! reading with no value and quality *good* (the read worked; the device has nothing to
//! give); a service whose request failed, or whose registers do not decode, is a reading with
//! no value and quality *bad*.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::catalogue::Service;
use crate::plan::{Item, Plan, PlanDevice, PlanError};
use crate::register::FunctionCode;
use crate::value::{Quality, Reading};

/// One read request: a table, a first address and a count (registers or bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Block {
    pub(crate) function_code: FunctionCode,
    pub(crate) address: u16,
    pub(crate) count: u16,
}

impl Block {
    pub(crate) fn request(&self) -> tokio_modbus::Request<'static> {
        use tokio_modbus::Request;
        match self.function_code {
            FunctionCode::Coils => Request::ReadCoils(self.address, self.count),
            FunctionCode::DiscreteInputs => Request::ReadDiscreteInputs(self.address, self.count),
            FunctionCode::Holding => Request::ReadHoldingRegisters(self.address, self.count),
            FunctionCode::Input => Request::ReadInputRegisters(self.address, self.count),
        }
    }
}

/// Where a register lives in the plan: block index and offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    block: usize,
    offset: usize,
    count: usize,
}

/// A service of the plan with where its registers (and its scale register) are.
#[derive(Debug, Clone)]
struct Planned {
    service: Service,
    value: Option<Slot>,
    scale: Option<Slot>,
}

/// The requests of one device and where each selected service is in their answers.
#[derive(Debug, Clone, Default)]
pub(crate) struct DevicePlan {
    pub(crate) blocks: Vec<Block>,
    services: Vec<Planned>,
}

impl DevicePlan {
    /// The requests the read planner ([`crate::plan`]) chooses for `device` (merged per
    /// function code within the product's limits), kept as owned data.
    pub(crate) fn new(device: PlanDevice<'_>) -> Result<Self, PlanError> {
        let product = device.product;
        let plan = Plan::build([device])?;
        let Some(dp) = plan.devices().first() else {
            return Ok(Self::default());
        };
        let mut blocks = Vec::with_capacity(dp.requests().len());
        let mut by_service: BTreeMap<usize, Slot> = BTreeMap::new();
        let mut scales: BTreeMap<(FunctionCode, u16), Slot> = BTreeMap::new();
        for (ri, r) in dp.requests().iter().enumerate() {
            blocks.push(Block {
                function_code: r.function_code,
                address: r.address,
                count: r.count,
            });
            for slot in r.slots() {
                let at = Slot {
                    block: ri,
                    offset: usize::from(slot.offset),
                    count: usize::from(slot.count),
                };
                match slot.item {
                    Item::Service(i) => {
                        by_service.insert(i, at);
                    }
                    Item::ScaleRegister(a) => {
                        scales.insert((r.function_code, a), at);
                    }
                    _ => {}
                }
            }
        }
        let services = dp
            .services()
            .map(|s| {
                let index = product.services.iter().position(|x| std::ptr::eq(x, s));
                let def = &s.register;
                Planned {
                    service: s.clone(),
                    value: index.and_then(|i| by_service.get(&i).copied()),
                    scale: def.scale_register.and_then(|sr| {
                        scales
                            .get(&(sr.function_code.unwrap_or(def.function_code), sr.address))
                            .copied()
                    }),
                }
            })
            .collect();
        Ok(Self { blocks, services })
    }

    /// The readings of `device` from the answers to [`DevicePlan::blocks`], in order: the
    /// words (bits as 0/1) and the time each arrived, or `None` when the request failed.
    pub(crate) fn decode(
        &self,
        device: &str,
        answers: &[Option<(Vec<u16>, DateTime<Utc>)>],
        failed_at: DateTime<Utc>,
    ) -> Vec<Reading> {
        let words = |slot: Slot| -> Option<(&[u16], DateTime<Utc>)> {
            let (w, t) = answers.get(slot.block)?.as_ref()?;
            w.get(slot.offset..slot.offset + slot.count)
                .map(|x| (x, *t))
        };
        self.services
            .iter()
            .map(|p| {
                let s = &p.service;
                let bad = |timestamp| Reading {
                    device: device.to_string(),
                    service: s.id.clone(),
                    value: None,
                    unit: s.unit,
                    timestamp,
                    quality: Quality::Bad,
                };
                let Some((raw, at)) = p.value.and_then(words) else {
                    return bad(failed_at);
                };
                let scale = match (s.register.scale_register, p.scale.and_then(words)) {
                    (None, _) => None,
                    (Some(_), Some((w, _))) => Some(w[0] as i16),
                    (Some(_), None) => return bad(at),
                };
                match s.register.decode_scaled(raw, scale) {
                    Ok(value) => Reading {
                        device: device.to_string(),
                        service: s.id.clone(),
                        value,
                        unit: s.unit,
                        timestamp: at,
                        quality: Quality::Good,
                    },
                    Err(e) => {
                        tracing::debug!(device, service = %s.id, error = %e, "cannot decode");
                        bad(at)
                    }
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::Catalogue;
    use crate::value::{Quality, Value};

    #[test]
    fn every_builtin_service_is_located_in_a_request() {
        let cat = Catalogue::builtin().unwrap();
        for p in cat.products() {
            let plan = DevicePlan::new(PlanDevice::new("d", 1, p)).unwrap();
            for planned in &plan.services {
                let slot = planned.value.unwrap_or_else(|| {
                    panic!("{} {} not located", p.reference(), planned.service.id)
                });
                let b = plan.blocks[slot.block];
                assert_eq!(slot.count, usize::from(planned.service.register.count()));
                assert_eq!(
                    u32::from(b.address) + slot.offset as u32,
                    u32::from(planned.service.register.address)
                );
                assert!(slot.offset + slot.count <= usize::from(b.count));
                if planned.service.register.scale_register.is_some() {
                    assert!(planned.scale.is_some());
                }
            }
        }
    }

    #[test]
    fn quality_rules_not_available_is_good_failed_is_bad() {
        let cat = Catalogue::builtin().unwrap();
        let p = cat.get("ECR380D").unwrap();
        let v = p.service("v_l1_n").unwrap();
        let plan = DevicePlan::new(PlanDevice::new("d", 1, p).with_services(["v_l1_n"])).unwrap();
        assert_eq!(plan.blocks.len(), 1);
        let n = usize::from(plan.blocks[0].count);
        let now = Utc::now();
        let mut words = vec![0u16; n];
        words[0] = 23150;
        let r = plan.decode("d", &[Some((words.clone(), now))], now);
        assert_eq!(
            (r[0].value.clone(), r[0].quality),
            (Some(Value::Number(231.5)), Quality::Good)
        );
        assert_eq!(r[0].unit, v.unit);
        words[0] = 0xFFFF;
        let r = plan.decode("d", &[Some((words, now))], now);
        assert_eq!(
            (r[0].value.clone(), r[0].quality),
            (None, Quality::Good),
            "not available"
        );
        let r = plan.decode("d", &[None], now);
        assert_eq!(
            (r[0].value.clone(), r[0].quality),
            (None, Quality::Bad),
            "failed read"
        );
        let r = plan.decode("d", &[Some((vec![], now))], now);
        assert_eq!(r[0].quality, Quality::Bad, "short answer");
    }
}
