//! The requests of one device's poll and the decoding of their answers into readings.
//!
//! The requests are built once per configuration. Decoding gives each reading its
//! [`Quality`]: a decoded value is `Good`; a value the device reports as "not available" (a
//! sentinel, NaN) is `NotAvailable` (the read worked; the device has nothing to give); a
//! service whose request (or scale register's request) got no usable answer is `NoAnswer`;
//! one whose request was answered with an exception, whose answer is too short, or whose
//! registers do not decode is `Invalid`. Only a `Good` reading has a value.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::PollError;
use crate::catalogue::Service;
use crate::plan::{Item, Plan, PlanDevice, PlanError};
use crate::register::{ByteOrder, DataType, FunctionCode, RegisterDef, WordOrder};
use crate::value::{Quality, Reading, Value};

/// The answer to one block: its words (bits as 0/1) and when they arrived, or the quality
/// of the readings it carries when it failed.
pub(crate) type Answer = Result<(Vec<u16>, DateTime<Utc>), Quality>;

/// The quality of the readings of a request that failed with `e`: [`Quality::Invalid`]
/// when the device answered with an exception, [`Quality::NoAnswer`] otherwise (timeout,
/// transport or connection failure, CRC error, an answer that does not match the request:
/// nothing usable arrived).
pub(crate) fn failed_quality(e: &PollError) -> Quality {
    match e {
        PollError::Exception { .. } => Quality::Invalid,
        _ => Quality::NoAnswer,
    }
}

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
    /// The service's conversion worked out once, when it is a plain number (no scale
    /// register); otherwise [`RegisterDef::decode_scaled`] decodes it.
    linear: Option<Linear>,
}

/// How a plain number is read from its words: the type, the word and byte orders and the
/// static scaling of [`RegisterDef::decode_scaled`], with its power of ten computed once.
/// Gives the same values as `decode_scaled` (a test checks every built-in service).
#[derive(Debug, Clone)]
struct Linear {
    kind: NumberKind,
    count: usize,
    swap_bytes: bool,
    reverse_words: bool,
    mult: f64,
    /// `10^|e|` of the decimal exponent `e`, and whether it divides (`e < 0`).
    power: f64,
    divide: bool,
    offset: f64,
    not_available: Vec<u64>,
}

#[derive(Debug, Clone, Copy)]
enum NumberKind {
    Unsigned,
    S16,
    S32,
    S64,
    F32,
    F64,
}

impl Linear {
    fn new(def: &RegisterDef) -> Option<Self> {
        if def.function_code.is_bit_table() || def.scale_register.is_some() {
            return None;
        }
        let kind = match def.data_type {
            DataType::U16 | DataType::U32 | DataType::U64 => NumberKind::Unsigned,
            DataType::S16 => NumberKind::S16,
            DataType::S32 => NumberKind::S32,
            DataType::S64 => NumberKind::S64,
            DataType::F32 => NumberKind::F32,
            DataType::F64 => NumberKind::F64,
            DataType::Bit | DataType::Bcd | DataType::String | DataType::Flags => return None,
        };
        // The codec's split of the scale: a scale that is an exact power of ten joins pow10.
        let (mult, e) = def.decimal_parts();
        let divide = e < 0;
        Some(Self {
            kind,
            count: usize::from(def.count()),
            swap_bytes: def.byte_order == ByteOrder::LowFirst,
            reverse_words: def.word_order == WordOrder::LowFirst,
            mult,
            power: if divide {
                10f64.powi(-e)
            } else {
                10f64.powi(e)
            },
            divide,
            offset: def.offset,
            not_available: def.not_available.clone(),
        })
    }

    /// The value of `words` (exactly [`Linear::count`] of them, else `None` and the codec
    /// decides), `Some(None)` for "not available".
    fn decode(&self, words: &[u16]) -> Option<Option<Value>> {
        if words.len() != self.count {
            return None;
        }
        let word = |w: &u16| u64::from(if self.swap_bytes { w.swap_bytes() } else { *w });
        let raw = if self.reverse_words {
            words
                .iter()
                .rev()
                .fold(0u64, |acc, w| (acc << 16) | word(w))
        } else {
            words.iter().fold(0u64, |acc, w| (acc << 16) | word(w))
        };
        if self.not_available.contains(&raw) {
            return Some(None);
        }
        let v = match self.kind {
            NumberKind::Unsigned => raw as f64,
            NumberKind::S16 => f64::from(raw as u16 as i16),
            NumberKind::S32 => f64::from(raw as u32 as i32),
            NumberKind::S64 => raw as i64 as f64,
            NumberKind::F32 => {
                let v = f32::from_bits(raw as u32);
                if !v.is_finite() {
                    return Some(None);
                }
                f64::from(v)
            }
            NumberKind::F64 => {
                let v = f64::from_bits(raw);
                if !v.is_finite() {
                    return Some(None);
                }
                v
            }
        };
        let v = v * self.mult;
        let v = if self.divide {
            v / self.power
        } else {
            v * self.power
        };
        Some(Some(Value::Number(v + self.offset)))
    }
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
                    linear: Linear::new(def),
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
    /// words (bits as 0/1) and the time each arrived, or, when the request failed, the
    /// quality its services read with ([`Quality::NoAnswer`] or [`Quality::Invalid`], see
    /// [`failed_quality`]). `failed_at` gives the time of the readings of failed requests;
    /// it is called at most once, and only when there is such a reading.
    pub(crate) fn decode(
        &self,
        device: &str,
        answers: &[Answer],
        failed_at: impl FnOnce() -> DateTime<Utc>,
    ) -> Vec<Reading> {
        // The words of a slot and when they arrived; the quality of the failure otherwise
        // (no entry for the block: not asked, no answer).
        let words = |slot: Slot| -> Result<(&[u16], DateTime<Utc>), Quality> {
            let (w, t) = match answers.get(slot.block) {
                Some(Ok((w, t))) => (w, t),
                Some(Err(q)) => return Err(*q),
                None => return Err(Quality::NoAnswer),
            };
            w.get(slot.offset..slot.offset + slot.count)
                .map(|x| (x, *t))
                .ok_or(Quality::Invalid)
        };
        let mut failed_at = Some(failed_at);
        let mut failed_time: Option<DateTime<Utc>> = None;
        let mut readings = Vec::with_capacity(self.services.len());
        for p in &self.services {
            let s = &p.service;
            let reading = |value: Option<Value>, timestamp, quality| Reading {
                device: device.to_string(),
                service: s.id.clone(),
                value,
                unit: s.unit,
                timestamp,
                quality,
            };
            // A value is kept only when good; "not available" has none.
            let decoded = |value: Option<Value>, at| match value {
                Some(v) => reading(Some(v), at, Quality::Good),
                None => reading(None, at, Quality::NotAvailable),
            };
            let (raw, at) = match p.value.ok_or(Quality::NoAnswer).and_then(words) {
                Ok(found) => found,
                Err(quality) => {
                    let t = *failed_time
                        .get_or_insert_with(|| failed_at.take().map_or_else(Utc::now, |f| f()));
                    readings.push(reading(None, t, quality));
                    continue;
                }
            };
            if let Some(value) = p.linear.as_ref().and_then(|l| l.decode(raw)) {
                readings.push(decoded(value, at));
                continue;
            }
            let scale = match (s.register.scale_register, p.scale.map(words)) {
                (None, _) => None,
                (Some(_), Some(Ok((w, _)))) => Some(w[0] as i16),
                (Some(_), Some(Err(quality))) => {
                    readings.push(reading(None, at, quality));
                    continue;
                }
                (Some(_), None) => {
                    // Not located by the plan (it always is): the value cannot be scaled.
                    readings.push(reading(None, at, Quality::Invalid));
                    continue;
                }
            };
            readings.push(match s.register.decode_scaled(raw, scale) {
                Ok(value) => decoded(value, at),
                Err(e) => {
                    tracing::debug!(device, service = %s.id, error = %e, "cannot decode");
                    reading(None, at, Quality::Invalid)
                }
            });
        }
        readings
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

    /// The precomputed conversion gives exactly what the codec gives, for every built-in
    /// plain-number service (and hand-made definitions covering every scale, order and
    /// type), on edge and pseudo-random words.
    #[test]
    fn linear_decoding_equals_the_codec() {
        use crate::register::ScaleRegister;
        let mut defs: Vec<RegisterDef> = Vec::new();
        let cat = Catalogue::builtin().unwrap();
        for p in cat.products() {
            defs.extend(p.services.iter().map(|s| s.register.clone()));
        }
        let types = [
            DataType::U16,
            DataType::S16,
            DataType::U32,
            DataType::S32,
            DataType::U64,
            DataType::S64,
            DataType::F32,
            DataType::F64,
        ];
        let scales = [1.0, 10.0, 0.1, 1e3, 1e-6, 1e6, 2.5, 0.37];
        for (i, t) in types.into_iter().enumerate() {
            for (j, scale) in scales.into_iter().enumerate() {
                let mut d = RegisterDef::new(FunctionCode::Holding, 0, t);
                d.scale = scale;
                d.pow10 = j as i32 - 4;
                d.offset = if i % 2 == 0 { 0.0 } else { -273.15 };
                d.word_order = if j % 2 == 0 {
                    WordOrder::HighFirst
                } else {
                    WordOrder::LowFirst
                };
                d.byte_order = if (i + j) % 3 == 0 {
                    ByteOrder::LowFirst
                } else {
                    ByteOrder::HighFirst
                };
                d.not_available = vec![0xFFFF, 0x7FFF_FFFF];
                defs.push(d);
            }
        }
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u16
        };
        let mut linear = 0;
        for def in &defs {
            let Some(l) = Linear::new(def) else {
                assert!(
                    def.scale_register.is_some()
                        || def.function_code.is_bit_table()
                        || matches!(
                            def.data_type,
                            DataType::Bit | DataType::Bcd | DataType::String | DataType::Flags
                        )
                );
                continue;
            };
            linear += 1;
            let n = usize::from(def.count());
            let mut cases: Vec<Vec<u16>> = [0u16, 1, 0x7FFF, 0x8000, 0xFFFF, 0x7F80, 0xFF80]
                .iter()
                .map(|w| vec![*w; n])
                .collect();
            cases.extend((0..200).map(|_| (0..n).map(|_| next()).collect()));
            for w in &cases {
                let codec = def.decode(w).unwrap();
                let fast = l.decode(w).unwrap();
                match (&codec, &fast) {
                    (Some(Value::Number(a)), Some(Value::Number(b))) => {
                        assert_eq!(a.to_bits(), b.to_bits(), "{def:?} {w:?}")
                    }
                    _ => assert_eq!(codec, fast, "{def:?} {w:?}"),
                }
            }
            assert!(
                l.decode(&vec![0; n + 1]).is_none(),
                "wrong length goes to the codec"
            );
        }
        assert!(
            linear > 100,
            "only {linear} plain-number definitions checked"
        );
        let mut scaled = RegisterDef::new(FunctionCode::Holding, 0, DataType::U16);
        scaled.scale_register = Some(ScaleRegister {
            address: 1,
            function_code: None,
            pow10: true,
        });
        assert!(
            Linear::new(&scaled).is_none(),
            "a scale register goes to the codec"
        );
    }

    #[test]
    fn quality_rules_each_word_from_its_cause() {
        let cat = Catalogue::builtin().unwrap();
        let p = cat.get("ECR380D").unwrap();
        let v = p.service("v_l1_n").unwrap();
        let plan = DevicePlan::new(PlanDevice::new("d", 1, p).with_services(["v_l1_n"])).unwrap();
        assert_eq!(plan.blocks.len(), 1);
        let n = usize::from(plan.blocks[0].count);
        let now = Utc::now();
        let mut words = vec![0u16; n];
        words[0] = 23150;
        let r = plan.decode("d", &[Ok((words.clone(), now))], || now);
        assert_eq!(
            (r[0].value.clone(), r[0].quality),
            (Some(Value::Number(231.5)), Quality::Good)
        );
        assert_eq!(r[0].unit, v.unit);
        words[0] = 0xFFFF;
        let r = plan.decode("d", &[Ok((words, now))], || now);
        assert_eq!(
            (r[0].value.clone(), r[0].quality),
            (None, Quality::NotAvailable),
            "not available"
        );
        for q in [Quality::NoAnswer, Quality::Invalid] {
            let r = plan.decode("d", &[Err(q)], || now);
            assert_eq!((r[0].value.clone(), r[0].quality), (None, q), "failed read");
        }
        let r = plan.decode("d", &[], || now);
        assert_eq!(r[0].quality, Quality::NoAnswer, "no answer listed");
        let r = plan.decode("d", &[Ok((vec![], now))], || now);
        assert_eq!(r[0].quality, Quality::Invalid, "short answer");
    }

    #[test]
    fn a_failed_request_reads_invalid_only_for_an_exception() {
        use crate::poll::ModbusException;
        let e = |exception| PollError::Exception {
            device: "d".into(),
            request: "FC3 0xB000+1".into(),
            exception,
        };
        assert_eq!(
            failed_quality(&e(ModbusException::IllegalDataAddress)),
            Quality::Invalid
        );
        assert_eq!(
            failed_quality(&e(ModbusException::GatewayTargetFailedToRespond)),
            Quality::Invalid
        );
        let timeout = PollError::Timeout {
            device: "d".into(),
            request: "FC3 0xB000+1".into(),
            timeout_ms: 100,
            tries: 2,
        };
        assert_eq!(failed_quality(&timeout), Quality::NoAnswer);
        let protocol = PollError::Protocol {
            device: "d".into(),
            request: "FC3 0xB000+1".into(),
            message: "expected 1 values, found 0".into(),
        };
        assert_eq!(failed_quality(&protocol), Quality::NoAnswer);
    }

    /// A service with a scale register in another request reads with that request's
    /// failure.
    #[test]
    fn a_failed_scale_register_gives_its_quality() {
        let mut cat = Catalogue::new();
        cat.load_str(
            std::path::Path::new("scaled.toml"),
            r#"
            [[product]]
            references = ["SCALED"]
            vendor = "Demo"
            model = "Scaled"
            defaults = { function_code = 3 }
            limits = { max_registers_per_read = 8, max_gap = 0 }

            [[product.service]]
            id = "p"
            name = "Power"
            quantity = "active_power"
            unit = "W"
            category = "power"
            register = { address = 0, type = "s16", scale_register = { address = 100 } }
            "#,
        )
        .unwrap();
        let product = cat.get("SCALED").unwrap();
        let plan = DevicePlan::new(PlanDevice::new("d", 1, product)).unwrap();
        assert_eq!(plan.blocks.len(), 2, "{:?}", plan.blocks);
        let value_block = plan.blocks.iter().position(|b| b.address == 0).unwrap();
        let now = Utc::now();
        let words = vec![0u16; usize::from(plan.blocks[value_block].count)];
        for q in [Quality::NoAnswer, Quality::Invalid] {
            let mut answers: Vec<Answer> = vec![Err(q), Err(q)];
            answers[value_block] = Ok((words.clone(), now));
            let r = plan.decode("d", &answers, || now);
            assert_eq!((r[0].value.clone(), r[0].quality), (None, q));
        }
    }
}
