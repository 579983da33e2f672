//! One simulated device: a catalogue product's register map filled from the physics model,
//! its parameters (stored writes), and the Modbus request handling with the product's
//! address rules.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tokio_modbus::bytes::Bytes;
use tokio_modbus::prelude::{
    ConformityLevel, DeviceIdObject, ReadCode, ReadDeviceIdentificationResponse,
};
use tokio_modbus::{ExceptionCode, Request, Response};

use super::live::{LiveRegisters, RequestSeen};
use super::model::{
    Base, EnergyCounters, FIRMWARE_VERSION, Identity, LoadModel, Measure, Snapshot, classify,
    is_three_phase, seed_of,
};
use crate::catalogue::{Expect, Measurand, Parameter, Product, Simulated};
use crate::register::{Access, ByteOrder, DataType, FunctionCode, RegisterDef, WordOrder};
use crate::value::Value;

/// Largest number of registers a read may ask for (Modbus spec, FC3/FC4).
const MAX_READ_REGISTERS: u16 = 125;
/// Largest number of bits a read may ask for (Modbus spec, FC1/FC2).
const MAX_READ_BITS: u16 = 2000;
/// Largest number of registers one FC16 may write.
const MAX_WRITE_REGISTERS: usize = 123;
/// Largest number of coils one FC15 may write.
const MAX_WRITE_BITS: usize = 1968;
/// Largest response PDU (Modbus spec).
const MAX_PDU: usize = 253;
/// Bytes of a "Read Device Identification" response PDU before its objects: function code,
/// MEI type, read device id code, conformity level, more follows, next object id, count.
const DEVICE_ID_HEADER: usize = 7;

/// A parameter and its current content.
#[derive(Debug, Clone)]
struct ParamState {
    def: RegisterDef,
    /// Lower-case id and name, for side effects.
    words_of_name: Vec<String>,
    /// The starting value the catalogue gives (`simulated`, or the unit id for a
    /// `unit_id` parameter); `None` falls back to the keyword guess.
    start: Option<Value>,
    /// The stored words (read-write parameters) or zeros (write-only ones).
    words: Vec<u16>,
}

/// A simulated device behind one unit id.
#[derive(Debug)]
pub(crate) struct SimDevice {
    pub(crate) product: Product,
    model: LoadModel,
    energy: EnergyCounters,
    measures: Vec<Measure>,
    signature: Vec<(RegisterDef, Value)>,
    params: Vec<ParamState>,
    /// Content of undocumented registers inside documented blocks.
    fill: u16,
    /// Current raw content of the scale registers, by (table, address).
    scales: BTreeMap<(FunctionCode, u16), i16>,
    /// (table, first, last) of every documented register.
    documented: Vec<(FunctionCode, u32, u32)>,
    cache: Option<(i64, Snapshot)>,
    /// Holding registers a caller computes at each read, and its request observer.
    pub(crate) live: Option<std::sync::Arc<dyn LiveRegisters>>,
}

fn lower_tokens(texts: &[&str]) -> Vec<String> {
    texts
        .iter()
        .flat_map(|s| {
            s.split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|t| !t.is_empty())
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The words of a raw bit pattern in a definition's word and byte order.
fn raw_words(def: &RegisterDef, raw: u64) -> Vec<u16> {
    let n = usize::from(def.count());
    let mut words: Vec<u16> = (0..n)
        .rev()
        .map(|i| if i < 4 { (raw >> (16 * i)) as u16 } else { 0 })
        .collect();
    if def.word_order == WordOrder::LowFirst {
        words.reverse();
    }
    if def.byte_order == ByteOrder::LowFirst {
        for w in &mut words {
            *w = w.swap_bytes();
        }
    }
    words
}

/// Number of distinct raw values of an integer type (for counters that wrap).
fn raw_span(def: &RegisterDef) -> Option<f64> {
    match def.data_type {
        DataType::U16 => Some(65_536.0),
        DataType::S16 => Some(32_768.0),
        DataType::U32 => Some(4_294_967_296.0),
        DataType::S32 => Some(2_147_483_648.0),
        DataType::U64 | DataType::S64 => Some(9_007_199_254_740_992.0),
        DataType::Bcd => Some(10f64.powi(4 * i32::from(def.count()))),
        _ => None,
    }
}

fn overlaps(def: &RegisterDef, table: FunctionCode, first: u32, last: u32) -> bool {
    def.function_code == table && u32::from(def.address) <= last && def.last_address() >= first
}

/// The value a signature check must find, or `None` for a plausibility check
/// ([`Expect::Within`]) that the served service values satisfy by themselves.
fn expected_value(expect: &Expect, product: &Product, def: &RegisterDef) -> Option<Value> {
    let pick = |options: &[String]| -> String {
        [product.model.as_str(), product.vendor.as_str()]
            .into_iter()
            .chain(product.references.iter().map(String::as_str))
            .find(|c| options.iter().any(|o| o == c))
            .map(str::to_string)
            .or_else(|| options.first().cloned())
            .unwrap_or_default()
    };
    let text = |t: String| match def.data_type {
        DataType::String => Value::Text(t),
        _ => Value::Number(t.trim().parse().unwrap_or(0.0)),
    };
    let number = |n: f64| match def.data_type {
        DataType::Flags => Value::Flags(n.max(0.0) as u64),
        DataType::Bit => Value::Bool(n != 0.0),
        DataType::String => Value::Text(n.to_string()),
        _ if def.function_code.is_bit_table() => Value::Bool(n != 0.0),
        _ => Value::Number(n),
    };
    Some(match expect {
        Expect::Text(t) => text(t.clone()),
        Expect::Prefix(p) => text(
            [&product.vendor, &product.model]
                .into_iter()
                .chain(product.references.iter())
                .find(|c| c.starts_with(p.as_str()) && c.len() <= usize::from(def.count()) * 2)
                .cloned()
                .unwrap_or_else(|| p.clone()),
        ),
        Expect::AnyText(ts) => text(pick(ts)),
        Expect::Number(n) => number(*n),
        Expect::AnyNumber(ns) => number(ns.first().copied().unwrap_or(0.0)),
        Expect::Within { min, max } => {
            let served = product.services.iter().any(|s| {
                s.register.function_code == def.function_code && s.register.address == def.address
            });
            if served {
                return None;
            }
            number((min + max) / 2.0)
        }
    })
}

impl SimDevice {
    /// A device simulating `product` at `unit`, starting at `now`.
    pub(crate) fn new(unit: u8, product: Product, now: &DateTime<Utc>) -> Self {
        let seed = seed_of(product.reference(), u64::from(unit));
        let three = is_three_phase(&product.services);
        let model = LoadModel::new(seed, if three { 3 } else { 1 });
        let energy = EnergyCounters::new(&model, now);
        let identity = Identity {
            vendor: product.vendor.clone(),
            model: if product.model.is_empty() {
                product.reference().to_string()
            } else {
                product.model.clone()
            },
            serial: format!("{:010}", seed % 10_000_000_000),
            unit,
        };
        let measures = product
            .services
            .iter()
            .map(|s| classify(s, three, &identity))
            .collect();
        let signature = product
            .signature
            .iter()
            .filter_map(|c| {
                expected_value(&c.expect, &product, &c.register).map(|v| (c.register.clone(), v))
            })
            .collect();
        let params = product
            .parameters
            .iter()
            .map(|p| {
                let names = lower_tokens(&[&p.id, &p.name]);
                let start = parameter_start(p, unit);
                let words = if p.register.access == Access::Write {
                    vec![0; usize::from(p.register.count())]
                } else {
                    initial_param_words(&p.register, &names, unit, None, start.as_ref())
                };
                ParamState {
                    def: p.register.clone(),
                    words_of_name: names,
                    start,
                    words,
                }
            })
            .collect();
        let all_ones = |d: &RegisterDef| {
            d.not_available
                .iter()
                .any(|r| matches!(*r, 0xFFFF | 0xFFFF_FFFF | u64::MAX))
        };
        let fill = if product.services.iter().map(|s| &s.register).any(all_ones) {
            0xFFFF
        } else {
            0
        };
        let mut documented = Vec::new();
        let mut doc = |d: &RegisterDef| {
            documented.push((d.function_code, u32::from(d.address), d.last_address()));
            if let Some(sr) = d.scale_register {
                let fc = sr.function_code.unwrap_or(d.function_code);
                documented.push((fc, u32::from(sr.address), u32::from(sr.address)));
            }
        };
        product.services.iter().for_each(|s| doc(&s.register));
        product.parameters.iter().for_each(|p| doc(&p.register));
        product.signature.iter().for_each(|c| doc(&c.register));
        let mut device = Self {
            product,
            model,
            energy,
            measures,
            signature,
            params,
            fill,
            scales: BTreeMap::new(),
            documented,
            cache: None,
            live: None,
        };
        // Parameters scaled by another register start encoded with that register's scale.
        device.prepare(now);
        for i in 0..device.params.len() {
            let p = &device.params[i];
            if p.def.scale_register.is_some() && p.def.access != Access::Write {
                let scale = device.scale_of(&p.def);
                let words =
                    initial_param_words(&p.def, &p.words_of_name, unit, scale, p.start.as_ref());
                device.params[i].words = words;
            }
        }
        device
    }

    /// Bring the counters up to `now` and return the instantaneous state.
    fn prepare(&mut self, now: &DateTime<Utc>) -> Snapshot {
        self.energy.advance(&self.model, now);
        let micros = now.timestamp_micros();
        let snap = match &self.cache {
            Some((t, s)) if *t == micros => s.clone(),
            _ => {
                let s = self.model.snapshot(now);
                self.cache = Some((micros, s.clone()));
                s
            }
        };
        self.update_scales(&snap);
        snap
    }

    fn scale_key(def: &RegisterDef) -> Option<((FunctionCode, u16), bool)> {
        def.scale_register.map(|sr| {
            (
                (sr.function_code.unwrap_or(def.function_code), sr.address),
                sr.pow10,
            )
        })
    }

    /// Choose the content of each scale register: the finest power of ten (from 10^-4) at
    /// which every value using it fits its type with 50 % headroom; multipliers are 1.
    fn update_scales(&mut self, snap: &Snapshot) {
        let mut keys: BTreeMap<(FunctionCode, u16), bool> = BTreeMap::new();
        for d in self
            .product
            .services
            .iter()
            .map(|s| &s.register)
            .chain(self.params.iter().map(|p| &p.def))
        {
            if let Some((k, pow10)) = Self::scale_key(d) {
                keys.insert(k, pow10);
            }
        }
        for (key, pow10) in keys {
            if !pow10 {
                self.scales.insert(key, 1);
                continue;
            }
            let mut users: Vec<(&RegisterDef, f64)> = self
                .product
                .services
                .iter()
                .enumerate()
                .filter(|(_, s)| Self::scale_key(&s.register).is_some_and(|(k, _)| k == key))
                .filter_map(
                    |(i, s)| match self.measures[i].value_in(snap, &self.energy, s.unit) {
                        Base::Number(v, _) => Some((&s.register, v * 1.5)),
                        Base::Text(_) => None,
                    },
                )
                .collect();
            // A parameter scaled by the register must hold both ends of its write range.
            for p in &self.params {
                if Self::scale_key(&p.def).is_some_and(|(k, _)| k == key)
                    && let Some(r) = p.def.write_range
                {
                    users.push((&p.def, r.min));
                    users.push((&p.def, r.max));
                }
            }
            let exponent = (-4i16..=9)
                .find(|e| {
                    users
                        .iter()
                        .all(|(def, v)| def.encode_scaled(&Value::Number(*v), Some(*e)).is_ok())
                })
                .unwrap_or(0);
            self.scales.insert(key, exponent);
        }
    }

    fn scale_of(&self, def: &RegisterDef) -> Option<i16> {
        Self::scale_key(def).and_then(|(k, _)| self.scales.get(&k).copied())
    }

    /// The words a service holds at `snap`.
    fn service_words(&self, index: usize, snap: &Snapshot) -> Vec<u16> {
        let service = &self.product.services[index];
        let def = &service.register;
        let measure = &self.measures[index];
        let scale = self.scale_of(def);
        let base = measure.value_in(snap, &self.energy, service.unit);
        let bit = def.function_code.is_bit_table() || def.data_type == DataType::Bit;
        let chars = usize::from(def.count()) * 2;
        let number = match (&base, measure) {
            (_, Measure::Version) => {
                // Major version 1 in the top byte of the value's registers.
                f64::from(1u32) * 2f64.powi(16 * i32::from(def.count().min(4)) - 8)
            }
            (Base::Number(v, _), _) => *v,
            // Long numbers (serials) keep their last 8 digits so they fit 32 bits.
            (Base::Text(t), _) => t.trim().parse::<f64>().map_or(1.0, |v| v % 1e8),
        };
        let mut value = match (base, def.data_type) {
            _ if bit => Value::Bool(number != 0.0),
            (Base::Text(t), DataType::String) => Value::Text(t.chars().take(chars).collect()),
            (Base::Number(v, _), DataType::String) => {
                Value::Text(format!("{v}").chars().take(chars).collect())
            }
            (_, DataType::Flags) => Value::Flags(number.max(0.0) as u64),
            _ => Value::Number(number),
        };
        if measure.is_counter()
            && let Value::Number(v) = value
        {
            value = Value::Number(self.counter_value(def, v, scale));
        }
        self.encode_or_fallback(def, &value, scale)
    }

    /// A counter truncated to the register's resolution and wrapped at its type's range,
    /// as a meter's display does; never lands on a "not available" sentinel.
    fn counter_value(&self, def: &RegisterDef, v: f64, scale: Option<i16>) -> f64 {
        let Some(span) = raw_span(def) else {
            return v;
        };
        let dynamic = match (def.scale_register, scale) {
            (Some(sr), Some(s)) if sr.pow10 => 10f64.powi(i32::from(s)),
            (Some(_), Some(s)) if s != 0 => f64::from(s),
            _ => 1.0,
        };
        let factor = def.factor() * dynamic;
        if !(factor.is_finite() && factor > 0.0) {
            return v;
        }
        let mut raw = ((v - def.offset) / factor).floor().max(0.0) % span;
        while raw > 0.0 && def.not_available.contains(&(raw as u64)) {
            raw -= 1.0;
        }
        raw * factor + def.offset
    }

    fn encode_or_fallback(&self, def: &RegisterDef, value: &Value, scale: Option<i16>) -> Vec<u16> {
        match def.encode_scaled(value, scale) {
            Ok(w) => w,
            Err(e) => {
                tracing::debug!(address = def.address, error = %e, "simulated value not representable");
                match def.not_available.first() {
                    Some(raw) => raw_words(def, *raw),
                    None => vec![0; usize::from(def.count())],
                }
            }
        }
    }

    /// The content of `[first, first + count)` in `table`, without any address check.
    fn assemble(&self, table: FunctionCode, first: u32, count: u32, snap: &Snapshot) -> Vec<u16> {
        let last = first + count - 1;
        let fill = if table.is_bit_table() { 0 } else { self.fill };
        let mut words = vec![fill; count as usize];
        let mut touched = vec![false; count as usize];
        let mut place = |def: &RegisterDef, w: &[u16]| {
            let bit_in_word = def.data_type == DataType::Bit && !table.is_bit_table();
            for (i, word) in w.iter().enumerate() {
                let a = u32::from(def.address) + i as u32;
                if a < first || a > last {
                    continue;
                }
                let j = (a - first) as usize;
                if bit_in_word {
                    if !touched[j] {
                        words[j] = 0;
                    }
                    // The bit is this definition's: what it holds replaces what an earlier
                    // one (a status word served at the same address) put there.
                    let mask = 1u16 << def.bit.unwrap_or(0).min(15);
                    words[j] = (words[j] & !mask) | (word & mask);
                } else {
                    words[j] = *word;
                }
                touched[j] = true;
            }
        };
        for (i, s) in self.product.services.iter().enumerate() {
            if overlaps(&s.register, table, first, last) {
                place(&s.register, &self.service_words(i, snap));
            }
        }
        for p in &self.params {
            if overlaps(&p.def, table, first, last) {
                place(&p.def, &p.words);
            }
        }
        for (def, value) in &self.signature {
            if overlaps(def, table, first, last) {
                place(
                    def,
                    &self.encode_or_fallback(def, value, self.scale_of(def)),
                );
            }
        }
        for ((fc, address), raw) in &self.scales {
            let a = u32::from(*address);
            if *fc == table && a >= first && a <= last {
                words[(a - first) as usize] = *raw as u16;
            }
        }
        words
    }

    /// Check a read against the product's limits: exception 03 for a bad count, 02 for a
    /// forbidden range or an address outside every documented block.
    fn check_read(&self, table: FunctionCode, addr: u16, count: u16) -> Result<(), ExceptionCode> {
        let max = if table.is_bit_table() {
            MAX_READ_BITS
        } else {
            MAX_READ_REGISTERS.min(self.product.limits.max_registers_per_read.max(1))
        };
        if count == 0 || count > max {
            return Err(ExceptionCode::IllegalDataValue);
        }
        let first = u32::from(addr);
        let last = first + u32::from(count) - 1;
        if last > 0xFFFF {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        let limits = &self.product.limits;
        if limits
            .forbidden
            .iter()
            .any(|r| r.overlaps(table, first, last))
        {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        let blocks: Vec<_> = limits
            .blocks
            .iter()
            .filter(|b| b.function_code == table)
            .collect();
        if !blocks.is_empty() {
            for a in first..=last {
                let in_block = blocks.iter().any(|b| b.contains(table, a, a));
                let documented = self
                    .documented
                    .iter()
                    .any(|(fc, f, l)| *fc == table && *f <= a && a <= *l);
                if !in_block && !documented {
                    return Err(ExceptionCode::IllegalDataAddress);
                }
            }
        }
        Ok(())
    }

    /// FC3 / FC4.
    pub(crate) fn read_words(
        &mut self,
        table: FunctionCode,
        addr: u16,
        count: u16,
        now: &DateTime<Utc>,
    ) -> Result<Vec<u16>, ExceptionCode> {
        self.check_read(table, addr, count)?;
        let snap = self.prepare(now);
        let mut words = self.assemble(table, u32::from(addr), u32::from(count), &snap);
        self.overlay_live(table, u32::from(addr), &mut words, now);
        Ok(words)
    }

    /// Put the live registers (when a hook is set) over `words`, the content of `table`
    /// from `first`.
    fn overlay_live(
        &self,
        table: FunctionCode,
        first: u32,
        words: &mut [u16],
        now: &DateTime<Utc>,
    ) {
        let Some(live) = &self.live else {
            return;
        };
        if table != FunctionCode::Holding {
            return;
        }
        let parameter = |address: u16| {
            self.params
                .iter()
                .find(|p| {
                    p.def.function_code == FunctionCode::Holding
                        && p.def.address == address
                        && p.words.len() == 1
                })
                .map(|p| p.words[0])
        };
        for (address, word) in live.holding(*now, &parameter) {
            let a = u32::from(address);
            if a >= first && ((a - first) as usize) < words.len() {
                words[(a - first) as usize] = word;
            }
        }
    }

    /// FC1 / FC2.
    pub(crate) fn read_bits(
        &mut self,
        table: FunctionCode,
        addr: u16,
        count: u16,
        now: &DateTime<Utc>,
    ) -> Result<Vec<bool>, ExceptionCode> {
        self.read_words(table, addr, count, now)
            .map(|w| w.into_iter().map(|b| b != 0).collect())
    }

    /// FC5 / FC6 / FC15 / FC16: `words` are register words, or 0/1 per coil on the coil
    /// table. Every written address must belong to a writable parameter (else exception 02),
    /// every touched parameter must be written whole and its value must decode inside its
    /// write range (else exception 03). Nothing is stored unless the whole write is valid.
    pub(crate) fn write(
        &mut self,
        table: FunctionCode,
        addr: u16,
        words: &[u16],
        now: &DateTime<Utc>,
    ) -> Result<(), ExceptionCode> {
        let max = if table.is_bit_table() {
            MAX_WRITE_BITS
        } else {
            MAX_WRITE_REGISTERS
        };
        if words.is_empty() || words.len() > max {
            return Err(ExceptionCode::IllegalDataValue);
        }
        let first = u32::from(addr);
        let last = first + words.len() as u32 - 1;
        if last > 0xFFFF {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        let writable = |p: &ParamState| p.def.function_code == table && p.def.is_writable();
        for a in first..=last {
            if !self
                .params
                .iter()
                .any(|p| writable(p) && overlaps(&p.def, table, a, a))
            {
                return Err(ExceptionCode::IllegalDataAddress);
            }
        }
        self.prepare(now);
        let mut updates = Vec::new();
        for (i, p) in self.params.iter().enumerate() {
            if !(writable(p) && overlaps(&p.def, table, first, last)) {
                continue;
            }
            let start = u32::from(p.def.address);
            if start < first || p.def.last_address() > last {
                return Err(ExceptionCode::IllegalDataValue);
            }
            let from = (start - first) as usize;
            let w = &words[from..from + usize::from(p.def.count())];
            let value = match p.def.decode_scaled(w, self.scale_of(&p.def)) {
                Ok(Some(v)) => v,
                _ => return Err(ExceptionCode::IllegalDataValue),
            };
            if let (Some(r), Value::Number(v)) = (p.def.write_range, &value)
                && !(r.min..=r.max).contains(v)
            {
                return Err(ExceptionCode::IllegalDataValue);
            }
            updates.push((i, w.to_vec(), value));
        }
        for (i, w, value) in updates {
            if self.params[i].def.access == Access::ReadWrite {
                self.params[i].words = w;
            }
            self.side_effect(i, &value);
        }
        Ok(())
    }

    /// What a parameter write does besides being stored: "reset" parameters reset the
    /// partial energy counters, "tariff" parameters select the active tariff.
    fn side_effect(&mut self, index: usize, value: &Value) {
        let names = &self.params[index].words_of_name;
        let has = |w: &str| names.iter().any(|n| n.starts_with(w));
        let n = value.as_f64().unwrap_or(0.0);
        if has("reset") {
            if n != 0.0 {
                self.energy.reset_partial();
            }
        } else if has("tarif") && !has("mode") && !has("number") {
            if (1.0..=8.0).contains(&n) {
                self.model.set_tariff(Some(n as usize - 1));
            }
            self.cache = None;
        }
    }

    /// Handle one request.
    pub(crate) fn handle(
        &mut self,
        request: &Request<'_>,
        now: &DateTime<Utc>,
    ) -> Result<Response, ExceptionCode> {
        if let Some(live) = &self.live {
            live.request(RequestSeen::of(request));
        }
        match request {
            Request::ReadCoils(a, n) => self
                .read_bits(FunctionCode::Coils, *a, *n, now)
                .map(Response::ReadCoils),
            Request::ReadDiscreteInputs(a, n) => self
                .read_bits(FunctionCode::DiscreteInputs, *a, *n, now)
                .map(Response::ReadDiscreteInputs),
            Request::ReadHoldingRegisters(a, n) => self
                .read_words(FunctionCode::Holding, *a, *n, now)
                .map(Response::ReadHoldingRegisters),
            Request::ReadInputRegisters(a, n) => self
                .read_words(FunctionCode::Input, *a, *n, now)
                .map(Response::ReadInputRegisters),
            Request::WriteSingleRegister(a, w) => self
                .write(FunctionCode::Holding, *a, &[*w], now)
                .map(|()| Response::WriteSingleRegister(*a, *w)),
            Request::WriteMultipleRegisters(a, ws) => self
                .write(FunctionCode::Holding, *a, ws, now)
                .map(|()| Response::WriteMultipleRegisters(*a, ws.len() as u16)),
            Request::WriteSingleCoil(a, b) => self
                .write(FunctionCode::Coils, *a, &[u16::from(*b)], now)
                .map(|()| Response::WriteSingleCoil(*a, *b)),
            Request::WriteMultipleCoils(a, bs) => {
                let words: Vec<u16> = bs.iter().map(|b| u16::from(*b)).collect();
                self.write(FunctionCode::Coils, *a, &words, now)
                    .map(|()| Response::WriteMultipleCoils(*a, bs.len() as u16))
            }
            Request::ReadWriteMultipleRegisters(ra, rn, wa, ws) => {
                self.write(FunctionCode::Holding, *wa, ws, now)?;
                self.read_words(FunctionCode::Holding, *ra, *rn, now)
                    .map(Response::ReadWriteMultipleRegisters)
            }
            Request::ReadDeviceIdentification(code, object) => {
                self.device_identification(*code, *object)
            }
            _ => Err(ExceptionCode::IllegalFunction),
        }
    }

    /// "Read Device Identification" (FC43 / MEI type 14) with the basic objects: 0x00
    /// VendorName, 0x01 ProductCode, 0x02 MajorMinorRevision; conformity level 0x81 (basic,
    /// stream and individual access). Only products whose catalogue entry has a product code
    /// answer it; the others answer exception 01 (illegal function).
    ///
    /// Stream access (codes 01, 02, 03: regular and extended are answered at the basic level,
    /// as the specification asks of a device asked above its conformity level) sends the
    /// objects from `object` on (from 0x00 when `object` is not one of them), as many as fit
    /// in one response, with "more follows" and the next object id when some do not.
    /// Individual access (code 04) sends `object` alone, or exception 02 (illegal data
    /// address) when it is not one of them.
    fn device_identification(&self, code: ReadCode, object: u8) -> Result<Response, ExceptionCode> {
        let Some(product_code) = &self.product.product_code else {
            return Err(ExceptionCode::IllegalFunction);
        };
        let objects = [
            self.product.vendor.as_str(),
            product_code.as_str(),
            FIRMWARE_VERSION,
        ];
        let object_of = |id: u8| DeviceIdObject {
            id,
            value: Bytes::copy_from_slice(objects[usize::from(id)].as_bytes()),
        };
        let known = usize::from(object) < objects.len();
        let mut response = ReadDeviceIdentificationResponse {
            read_code: code,
            conformity_level: ConformityLevel::BasicIdentification,
            more_follows: false,
            next_object_id: 0,
            device_id_objects: Vec::new(),
        };
        if code == ReadCode::Specific {
            if !known {
                return Err(ExceptionCode::IllegalDataAddress);
            }
            response.device_id_objects.push(object_of(object));
            return Ok(Response::ReadDeviceIdentification(response));
        }
        let mut used = DEVICE_ID_HEADER;
        for id in (if known { object } else { 0 })..objects.len() as u8 {
            let size = 2 + objects[usize::from(id)].len();
            // An object is indivisible: the first always fits (the catalogue bounds its
            // length); a later one that does not is left for the next request.
            if used + size > MAX_PDU && !response.device_id_objects.is_empty() {
                response.more_follows = true;
                response.next_object_id = id;
                break;
            }
            used += size;
            response.device_id_objects.push(object_of(id));
        }
        Ok(Response::ReadDeviceIdentification(response))
    }

    /// Every service decoded from the registers it is served in at `now` (what a poller
    /// reading it would get), in catalogue order.
    pub(crate) fn served_values(&mut self, now: &DateTime<Utc>) -> Vec<(String, Option<Value>)> {
        let snap = self.prepare(now);
        self.product
            .services
            .iter()
            .map(|s| {
                let d = &s.register;
                let mut words = self.assemble(
                    d.function_code,
                    u32::from(d.address),
                    u32::from(d.count()),
                    &snap,
                );
                self.overlay_live(d.function_code, u32::from(d.address), &mut words, now);
                let value = d.decode_scaled(&words, self.scale_of(d)).ok().flatten();
                (s.id.clone(), value)
            })
            .collect()
    }
}

/// The starting value the catalogue gives a parameter: its `simulated` value, or the unit
/// id for a parameter whose measurand is `unit_id`.
fn parameter_start(p: &Parameter, unit: u8) -> Option<Value> {
    let bit = p.register.function_code.is_bit_table() || p.register.data_type == DataType::Bit;
    match (&p.simulated, p.measurand) {
        (Some(Simulated::Text(t)), _) => Some(Value::Text(t.clone())),
        (Some(Simulated::Number(n)), _) if bit => Some(Value::Bool(*n != 0.0)),
        (Some(Simulated::Number(n)), _) if p.register.data_type == DataType::Flags => {
            Some(Value::Flags(n.max(0.0) as u64))
        }
        (Some(Simulated::Number(n)), _) => Some(Value::Number(*n)),
        (None, Some(Measurand::UnitId)) => Some(Value::Number(f64::from(unit))),
        (None, _) => None,
    }
}

/// The starting content of a read-write parameter, as encoded words (with the content of
/// its scale register, for a parameter that has one): the catalogue's `start` value when
/// it gives one; else guessed from the keywords of its id and name (the unit id for an
/// address, 19200 for a baud rate), otherwise the bottom of its write range (or 0).
fn initial_param_words(
    def: &RegisterDef,
    names: &[String],
    unit: u8,
    scale: Option<i16>,
    start: Option<&Value>,
) -> Vec<u16> {
    if let Some(value) = start
        && let Ok(words) = def.encode_scaled(value, scale)
    {
        return words;
    }
    let has = |w: &str| names.iter().any(|n| n == w);
    let value = if def.function_code.is_bit_table() || def.data_type == DataType::Bit {
        Value::Bool(false)
    } else {
        match def.data_type {
            DataType::String => Value::Text(String::new()),
            DataType::Flags => Value::Flags(0),
            _ => {
                let range = def.write_range;
                let wanted = if has("address") || has("slave") || has("unit") {
                    f64::from(unit)
                } else if has("baud") || has("baudrate") {
                    19_200.0
                } else {
                    range.map_or(0.0, |r| r.min)
                };
                match range {
                    Some(r) if !(r.min..=r.max).contains(&wanted) => Value::Number(r.min),
                    _ => Value::Number(wanted),
                }
            }
        }
    };
    def.encode_scaled(&value, scale)
        .unwrap_or_else(|_| vec![0; usize::from(def.count())])
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::Catalogue;

    const TOML: &str = r#"
[[product]]
references = ["T-1"]
vendor = "Test"
model = "T-1"
defaults = { function_code = 3 }

[[product.service]]
id = "v_l1_n"
name = "Voltage L1-N"
quantity = "voltage"
unit = "V"
category = "voltage"
register = { address = 0, type = "s16", scale_register = { address = 10 } }

[[product.service]]
id = "i_l1"
name = "Current L1"
quantity = "current"
unit = "A"
category = "current"
register = { address = 1, type = "s16", scale_register = { address = 11 } }

[[product.service]]
id = "ea_import"
name = "Active energy import"
quantity = "active_energy_import"
unit = "Wh"
category = "energy"
register = { address = 2, type = "u16" }

[[product.service]]
id = "alarm"
name = "Alarm bit"
quantity = "alarm"
unit = ""
category = "status"
register = { address = 3, type = "bit", bit = 4 }

[[product.service]]
id = "serial"
name = "Serial number"
quantity = "serial_number"
unit = ""
category = "identification"
register = { address = 4, type = "u32" }
"#;

    fn device() -> (SimDevice, DateTime<Utc>) {
        let mut c = Catalogue::new();
        c.load_str(std::path::Path::new("t.toml"), TOML).unwrap();
        let now = DateTime::parse_from_rfc3339("2024-06-03T10:00:00Z")
            .unwrap()
            .to_utc();
        (
            SimDevice::new(1, c.require("T-1").unwrap().clone(), &now),
            now,
        )
    }

    fn value(d: &mut SimDevice, id: &str, now: &DateTime<Utc>) -> f64 {
        d.served_values(now)
            .into_iter()
            .find(|(i, _)| i == id)
            .and_then(|(_, v)| v)
            .and_then(|v| v.as_f64())
            .unwrap()
    }

    #[test]
    fn scale_registers_are_chosen_and_served() {
        let (mut d, now) = device();
        let v = value(&mut d, "v_l1_n", &now);
        let i = value(&mut d, "i_l1", &now);
        assert!((220.0..240.0).contains(&v), "{v}");
        assert!(i > 0.5 && i < 60.0, "{i}");
        // The scale registers are readable and hold the finest exponent that fits an s16.
        let w = d.read_words(FunctionCode::Holding, 0, 12, &now).unwrap();
        let (sv, si) = (w[10] as i16, w[11] as i16);
        assert_eq!(
            sv, -1,
            "230 V with 50 % headroom needs 0.1 V steps in an s16"
        );
        assert!((-3..=-2).contains(&si), "{si}");
        assert!((f64::from(w[0] as i16) * 10f64.powi(i32::from(sv)) - v).abs() < 1e-9);
    }

    #[test]
    fn counters_wrap_at_the_type_range_and_status_bits_read_zero() {
        let (mut d, now) = device();
        let e1 = value(&mut d, "ea_import", &now);
        assert!(e1 < 65_536.0);
        let later = now + chrono::Duration::hours(1);
        let snap = d.prepare(&later);
        let e2 = value(&mut d, "ea_import", &later);
        let gained = (e2 - e1).rem_euclid(65_536.0);
        assert!(gained > 1000.0, "an hour of a few kW: {gained} Wh");
        assert!(snap.p_total() > 0.0);
        // A status bit reads 0 (no alarm), and so do the other bits of its word.
        let w = d.read_words(FunctionCode::Holding, 3, 1, &later).unwrap();
        assert_eq!(w, vec![0]);
        // A 10-digit serial keeps 8 digits to fit a u32.
        let serial = value(&mut d, "serial", &later);
        assert!((0.0..1e8).contains(&serial));
    }

    #[test]
    fn configuration_registers_come_from_the_catalogue_data() {
        let catalogue = Catalogue::builtin().unwrap();
        let now = DateTime::parse_from_rfc3339("2024-06-03T10:00:00Z")
            .unwrap()
            .to_utc();
        let device = |reference: &str, unit: u8| {
            SimDevice::new(unit, catalogue.require(reference).unwrap().clone(), &now)
        };
        // ECR180T (Hager workbook, column 3P_1P80): network type 1 (1BL), not MID (0),
        // 4 tariffs. The keyword guess served 4 (three-phase four-wire), 1 and 8.
        let mut d = device("ECR180T", 9);
        assert_eq!(
            d.read_words(FunctionCode::Holding, 0xC000, 4, &now)
                .unwrap()[0],
            1
        );
        assert_eq!(
            d.read_words(FunctionCode::Holding, 0xC003, 1, &now)
                .unwrap(),
            vec![0]
        );
        assert_eq!(
            d.read_words(FunctionCode::Holding, 0xB0B0, 1, &now)
                .unwrap(),
            vec![4]
        );
        // Its Modbus address is its unit id (measurand "unit_id"), its serial settings the
        // reference bus settings 19200 baud, even parity, 1 stop bit (simulated = 0x0404).
        assert_eq!(
            d.read_words(FunctionCode::Holding, 0xC040, 2, &now)
                .unwrap(),
            vec![9, 0x0404]
        );
        // ECR380D: three-phase four-wire (4), MID (1), 8 tariffs.
        let mut d = device("ECR380D", 3);
        assert_eq!(
            d.read_words(FunctionCode::Holding, 0xC000, 4, &now)
                .unwrap(),
            vec![4, 0xFFFF, 0xFFFF, 1]
        );
        assert_eq!(
            d.read_words(FunctionCode::Holding, 0xB0B0, 1, &now)
                .unwrap(),
            vec![8]
        );
        // Eastron SDM630: baud rate code 3 (19200), parity code 1 (even), address = unit id.
        let mut d = device("SDM630", 4);
        let value = |d: &mut SimDevice, address: u16| {
            let w = d
                .read_words(FunctionCode::Holding, address, 2, &now)
                .unwrap();
            f32::from_bits((u32::from(w[0]) << 16) | u32::from(w[1]))
        };
        assert_eq!(value(&mut d, 28), 3.0);
        assert_eq!(value(&mut d, 18), 1.0);
        assert_eq!(value(&mut d, 20), 4.0);
    }

    #[test]
    fn writes_without_parameters_are_refused() {
        let (mut d, now) = device();
        assert_eq!(
            d.write(FunctionCode::Holding, 0, &[1], &now),
            Err(ExceptionCode::IllegalDataAddress)
        );
        assert_eq!(
            d.write(FunctionCode::Holding, 0, &[], &now),
            Err(ExceptionCode::IllegalDataValue)
        );
        assert_eq!(
            d.read_words(FunctionCode::Holding, 0xFFFF, 2, &now),
            Err(ExceptionCode::IllegalDataAddress)
        );
        assert_eq!(
            d.read_words(FunctionCode::Holding, 0, 0, &now),
            Err(ExceptionCode::IllegalDataValue)
        );
    }
}
