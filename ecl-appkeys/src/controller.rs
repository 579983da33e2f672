//! A controller with its application: served ranges, parameter map, sensors, configurable
//! inputs, and its register map as a `modbus-devices` product.
//!
//! [`Controller::product`] composes, it does not duplicate: the product's services and
//! parameters are generated from the key's data, every register lies inside a served range
//! (the product's documented blocks, so the planner never reads across a PNU the
//! controller does not serve) and reads carry at most 123 registers. The same `Poller`,
//! planner, simulator and `Reading`s of `modbus-devices` then serve the controller.
//!
//! ```
//! use ecl_appkeys::{Catalogue, Controller};
//! use modbus_devices::plan::{Plan, PlanDevice};
//!
//! let catalogue = Catalogue::builtin()?;
//! let ecl = Controller::new(&catalogue, "A237.1".parse()?, Some("ecl310"))?;
//! let product = ecl.product("ECL310-A237.1")?;
//! assert_eq!(product.limits.max_registers_per_read, 123);
//! assert!(product.service("s1").is_some());
//! assert!(product.parameter("c1_heat_curve_slope").is_some());
//!
//! // The planner keeps every read inside one served range.
//! let plan = Plan::build([PlanDevice::new("ecl", 1, &product)])?;
//! for (_, r) in plan.requests() {
//!     let first = ecl_appkeys::Pnu::from_wire_address(r.address)?;
//!     let last = ecl_appkeys::Pnu::from_wire_address((r.last_address()) as u16)?;
//!     assert!(ecl.served().serves_range(&ecl_appkeys::PnuRange { from: first, to: last }));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;

use modbus_devices::Unit;
use modbus_devices::catalogue::{
    AddressRange, AlarmKind, AlarmTemplate, Category, ChannelKind, Expect, FieldBus, Measurand,
    Parameter, Priority, Product, RequestLimits, Service, SignatureCheck,
};
use modbus_devices::register::{DataType, FunctionCode, RegisterDef};
use serde::{Deserialize, Serialize};

use crate::catalogue::{
    AppKey, Catalogue, Confidence, ControllerInfo, KeyId, ParameterKind, RawType, ServedRange,
    SubType,
};
use crate::error::Error;
use crate::params::{ParameterDef, ParameterMap};
use crate::pnu::{MAX_REGISTERS_PER_READ, Pnu, PnuRange, ServedRanges};
use crate::schedule::{PERIODS_PER_DAY, period_pnu};
use crate::system::{self, MeterLayout};

/// What an unused input is wired to, for a configurable input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum InputKind {
    /// A Pt1000 temperature sensor, read like S1..S16 (0.01 degC, 192.00 = not connected).
    Pt1000,
    /// A 0-10 V signal. How the controller scales it into the input register is not public:
    /// the caller gives volts per raw unit.
    Voltage {
        /// Volts per raw unit.
        scale: f64,
    },
    /// A digital (on/off) input: 0 off, anything else on (the encoding is inferred).
    Digital,
}

/// An input the application leaves unused, exposed as an extra point with its kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigurableInput {
    /// The input (1..=16).
    pub input: u8,
    /// What it measures, for people.
    pub name: String,
    /// What is wired to it.
    #[serde(flatten)]
    pub kind: InputKind,
}

impl ConfigurableInput {
    /// The value of its raw register (`None`: a Pt1000 that is not connected).
    pub fn decode(&self, raw: u16) -> Option<f64> {
        match self.kind {
            InputKind::Pt1000 => system::decode_sensor(raw),
            InputKind::Voltage { scale } => Some(f64::from(raw) * scale),
            InputKind::Digital => Some(if raw == 0 { 0.0 } else { 1.0 }),
        }
    }

    fn unit(&self) -> Unit {
        match self.kind {
            InputKind::Pt1000 => Unit::DegC,
            InputKind::Voltage { .. } => Unit::V,
            InputKind::Digital => Unit::None,
        }
    }
}

/// One physical input as the application uses it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensorPoint {
    /// 1..=16.
    pub input: u8,
    /// Its PNU (10200 + input).
    pub pnu: Pnu,
    /// Its meaning for the application, when known (or the configured input's name).
    pub meaning: Option<String>,
    /// How sure the meaning is.
    pub confidence: Option<Confidence>,
    /// Unit of the value.
    pub unit: Unit,
}

/// A controller with its installed (or commissioned) application.
#[derive(Debug, Clone)]
pub struct Controller {
    key: Option<(AppKey, SubType, KeyId)>,
    model: Option<ControllerInfo>,
    served_detail: Vec<ServedRange>,
    served: ServedRanges,
    parameters: ParameterMap,
    meters: MeterLayout,
    inputs: Vec<ConfigurableInput>,
}

impl Controller {
    /// The controller running `key` (key and sub-type must be in the catalogue), of model
    /// `model` (a catalogue controller id such as `ecl310`; `None` when unknown: then the
    /// M-Bus ranges, which only some models serve, are left out).
    pub fn new(catalogue: &Catalogue, key: KeyId, model: Option<&str>) -> Result<Self, Error> {
        let (app, subtype) = catalogue
            .lookup(&key)
            .ok_or_else(|| Error::InvalidArgument {
                what: "application key",
                expected: "a key and sub-type of the catalogue",
                found: key.to_string(),
            })?;
        Self::build(catalogue, Some((app.clone(), subtype.clone(), key)), model)
    }

    /// A controller whose application is not known: only the system ranges every
    /// controller serves (identity, key, sensors, alarms, clock; M-Bus by model).
    pub fn unknown_application(catalogue: &Catalogue, model: Option<&str>) -> Result<Self, Error> {
        Self::build(catalogue, None, model)
    }

    fn build(
        catalogue: &Catalogue,
        key: Option<(AppKey, SubType, KeyId)>,
        model: Option<&str>,
    ) -> Result<Self, Error> {
        let model =
            model
                .map(|m| {
                    catalogue.controller(m).cloned().ok_or_else(|| Error::InvalidArgument {
                    what: "controller model",
                    expected: "a controller id of the catalogue (ecl210, ecl296, ecl310, ...)",
                    found: m.to_string(),
                })
                })
                .transpose()?;
        let has_mbus = model.as_ref().is_some_and(|m| m.mbus);
        let mut served_detail: Vec<ServedRange> = catalogue
            .system_served()
            .iter()
            .filter(|r| has_mbus || !r.needs_mbus)
            .cloned()
            .collect();
        if let Some((_, st, _)) = &key {
            served_detail.extend(
                st.served
                    .iter()
                    .filter(|r| has_mbus || !r.needs_mbus)
                    .cloned(),
            );
        }
        let served = ServedRanges::new(served_detail.iter().map(|r| r.range));
        let mut c = Controller {
            key,
            model,
            served_detail,
            served,
            parameters: ParameterMap::default(),
            meters: MeterLayout::unknown(),
            inputs: Vec::new(),
        };
        c.parameters = ParameterMap::new(c.generate_parameters(catalogue))?;
        Ok(c)
    }

    /// Add the meter-block offsets the caller knows (see [`MeterLayout`]); they join the
    /// served ranges on a model with an M-Bus port, and are refused on others.
    pub fn with_meter_layout(mut self, layout: MeterLayout) -> Result<Self, Error> {
        layout.check()?;
        if !layout.fields.is_empty() && !self.model.as_ref().is_some_and(|m| m.mbus) {
            return Err(Error::InvalidArgument {
                what: "meter layout",
                expected: "a controller model with an M-Bus port (ECL 296 / 310 / 310B)",
                found: self
                    .model
                    .as_ref()
                    .map_or("an unknown model".into(), |m| m.name.clone()),
            });
        }
        for n in 1..=system::METERS {
            let base = system::meter_base(n)?.get();
            for f in &layout.fields {
                let range = PnuRange::new(base + f.offset, base + f.offset + f.words - 1)?;
                self.served_detail.push(ServedRange {
                    range,
                    confidence: Confidence::OneSource,
                    needs_mbus: true,
                    source: "meter layout supplied by the caller".into(),
                });
            }
        }
        self.served = ServedRanges::new(self.served_detail.iter().map(|r| r.range));
        self.meters = layout;
        Ok(self)
    }

    /// Expose unused inputs as extra points. An input the application uses, or one whose use
    /// is not known (no list of unused inputs for the sub-type), is
    /// [`Error::InputNotConfigurable`].
    pub fn with_configurable_inputs(
        mut self,
        inputs: Vec<ConfigurableInput>,
    ) -> Result<Self, Error> {
        let unused: Vec<u8> = self
            .key
            .as_ref()
            .and_then(|(_, st, _)| st.unused_inputs.as_ref())
            .map(|f| f.value.clone())
            .unwrap_or_default();
        let mut seen = std::collections::BTreeSet::new();
        for i in &inputs {
            system::sensor_pnu(i.input)?;
            if !seen.insert(i.input) {
                return Err(Error::InputNotConfigurable {
                    input: i.input,
                    reason: "configured twice".into(),
                });
            }
            if let Some(s) = self.sensor_meaning(i.input) {
                return Err(Error::InputNotConfigurable {
                    input: i.input,
                    reason: format!("the application uses it ({})", s.meaning),
                });
            }
            if !unused.contains(&i.input) {
                return Err(Error::InputNotConfigurable {
                    input: i.input,
                    reason: "the catalogue does not say the application leaves it unused".into(),
                });
            }
            if let InputKind::Voltage { scale } = i.kind
                && !(scale.is_finite() && scale > 0.0)
            {
                return Err(Error::InputNotConfigurable {
                    input: i.input,
                    reason: format!("a 0-10 V input needs a finite scale above 0, found {scale}"),
                });
            }
        }
        self.inputs = inputs;
        Ok(self)
    }

    /// Add a parameter the catalogue does not have, as the caller knows it (e.g. the PNU at
    /// which a site's controllers take a relayed outdoor temperature: no public source
    /// names one). Its PNU joins the served ranges (with the parameter's confidence); an id
    /// or PNU the map already has is refused.
    ///
    /// ```
    /// use ecl_appkeys::{Catalogue, Controller, ParameterDef, Pnu, Confidence};
    /// use ecl_appkeys::catalogue::{ParameterKind, RawType};
    ///
    /// let catalogue = Catalogue::builtin()?;
    /// let ecl = Controller::new(&catalogue, "A266.1".parse()?, Some("ecl310"))?.with_parameter(ParameterDef {
    ///     id: "relayed_outdoor".into(),
    ///     name: "Outdoor temperature relayed from the master controller".into(),
    ///     pnu: Pnu::new(11600)?,
    ///     circuit: None,
    ///     raw_type: RawType::S16,
    ///     scale: 0.1,
    ///     unit: modbus_devices::Unit::DegC,
    ///     range: Some((-50.0, 50.0)),
    ///     writable: true,
    ///     kind: ParameterKind::Setting,
    ///     confidence: Confidence::Inferred,
    ///     description: "site-specific".into(),
    /// })?;
    /// assert!(ecl.served().serves(Pnu::new(11600)?));
    /// assert_eq!(ecl.parameters().prepare_write("relayed_outdoor", -3.5)?.raw, (-35i16) as u16);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_parameter(mut self, def: ParameterDef) -> Result<Self, Error> {
        let mut params: Vec<ParameterDef> = self.parameters.iter().cloned().collect();
        params.push(def.clone());
        self.parameters = ParameterMap::new(params)?;
        if !self.served.serves(def.pnu) {
            self.served_detail.push(ServedRange {
                range: PnuRange::single(def.pnu),
                confidence: def.confidence,
                needs_mbus: false,
                source: format!("parameter {} supplied by the caller", def.id),
            });
            self.served = ServedRanges::new(self.served_detail.iter().map(|r| r.range));
        }
        Ok(self)
    }

    /// The installed key, when known.
    pub fn key(&self) -> Option<KeyId> {
        self.key.as_ref().map(|(_, _, k)| *k)
    }

    /// The catalogue entry of the key and its sub-type, when known.
    pub fn application(&self) -> Option<(&AppKey, &SubType)> {
        self.key.as_ref().map(|(k, s, _)| (k, s))
    }

    /// The controller model, when known.
    pub fn model(&self) -> Option<&ControllerInfo> {
        self.model.as_ref()
    }

    /// The served PNU ranges (joined).
    pub fn served(&self) -> &ServedRanges {
        &self.served
    }

    /// The served ranges as listed, with confidence and source.
    pub fn served_detail(&self) -> &[ServedRange] {
        &self.served_detail
    }

    /// The parameter map.
    pub fn parameters(&self) -> &ParameterMap {
        &self.parameters
    }

    /// The configured inputs.
    pub fn configurable_inputs(&self) -> &[ConfigurableInput] {
        &self.inputs
    }

    /// The meter layout in use.
    pub fn meter_layout(&self) -> &MeterLayout {
        &self.meters
    }

    fn sensor_meaning(&self, input: u8) -> Option<&crate::catalogue::Sensor> {
        self.key.as_ref().and_then(|(_, st, _)| st.sensor(input))
    }

    /// The 16 inputs with their meaning for the application (or configured name).
    pub fn sensors(&self) -> Vec<SensorPoint> {
        (1..=16u8)
            .filter_map(|input| {
                let pnu = system::sensor_pnu(input).ok()?;
                let configured = self.inputs.iter().find(|i| i.input == input);
                let known = self.sensor_meaning(input);
                Some(SensorPoint {
                    input,
                    pnu,
                    meaning: configured
                        .map(|c| c.name.clone())
                        .or_else(|| known.map(|s| s.meaning.clone())),
                    confidence: known.map(|s| s.confidence),
                    unit: configured.map_or(Unit::DegC, ConfigurableInput::unit),
                })
            })
            .collect()
    }

    /// Parameters from the catalogue templates for each circuit role, schedule registers
    /// and writable system settings: those whose PNU is served.
    fn generate_parameters(&self, catalogue: &Catalogue) -> Vec<ParameterDef> {
        let mut out = Vec::new();
        let circuits = self
            .key
            .as_ref()
            .map(|(_, st, _)| st.circuits.clone())
            .unwrap_or_default();
        for c in &circuits {
            for t in catalogue
                .parameter_templates()
                .iter()
                .filter(|t| t.roles.contains(&c.role))
            {
                let Some(pnu) = t.pnu(c.number).filter(|p| self.served.serves(*p)) else {
                    continue;
                };
                out.push(ParameterDef {
                    id: format!("c{}_{}", c.number, t.id),
                    name: format!("Circuit {}: {}", c.number, t.name),
                    pnu,
                    circuit: Some(c.number),
                    raw_type: t.raw_type,
                    scale: t.scale,
                    unit: t.unit,
                    range: t.range,
                    writable: t.writable,
                    kind: t.kind,
                    confidence: t.confidence.max(c.confidence),
                    description: t.description.clone(),
                });
            }
            out.extend(self.schedule_parameters(c.number, c.confidence));
            if let Ok(pnu) = system::mode_pnu(c.number)
                && self.served.serves(pnu)
            {
                out.push(ParameterDef {
                    id: format!("c{}_mode", c.number),
                    name: format!("Circuit {}: operating mode", c.number),
                    pnu,
                    circuit: Some(c.number),
                    raw_type: RawType::U16,
                    scale: 1.0,
                    unit: Unit::None,
                    // Manual (0) is left out on purpose: it puts every circuit in manual and
                    // disables frost protection.
                    range: Some((1.0, 4.0)),
                    writable: true,
                    kind: ParameterKind::Setting,
                    confidence: Confidence::Confirmed,
                    description: "1 scheduled, 2 constant comfort, 3 constant saving, 4 frost protection (0 manual is not written: it stops every circuit's control and frost protection)".into(),
                });
            }
        }
        for n in 1..=6u8 {
            if let Ok(pnu) = system::override_pnu(n)
                && self.served.serves(pnu)
            {
                out.push(ParameterDef {
                    id: format!("relay{n}_override"),
                    name: format!("Relay {n} output override"),
                    pnu,
                    circuit: None,
                    raw_type: RawType::U16,
                    scale: 1.0,
                    unit: Unit::None,
                    range: Some((0.0, 2.0)),
                    writable: true,
                    kind: ParameterKind::Setting,
                    confidence: Confidence::OneSource,
                    description: "0 auto, 1 forced off, 2 forced on (stays until released)".into(),
                });
            }
        }
        out
    }

    fn schedule_parameters(&self, circuit: u8, confidence: Confidence) -> Vec<ParameterDef> {
        const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let mut out = Vec::new();
        for (d, day) in (0u8..).zip(DAYS) {
            for p in 0..PERIODS_PER_DAY as u8 {
                for stop in [false, true] {
                    let Ok(pnu) = period_pnu(circuit, d, p, stop) else {
                        continue;
                    };
                    if !self.served.serves(pnu) {
                        continue;
                    }
                    let edge = if stop { "stop" } else { "start" };
                    out.push(ParameterDef {
                        id: format!("c{circuit}_schedule_{day}_p{}_{edge}", p + 1),
                        name: format!("Circuit {circuit}: {day} comfort period {} {edge} (HHMM)", p + 1),
                        pnu,
                        circuit: Some(circuit),
                        raw_type: RawType::U16,
                        scale: 1.0,
                        unit: Unit::None,
                        range: Some((0.0, 2400.0)),
                        writable: true,
                        kind: ParameterKind::Schedule,
                        confidence: confidence.max(Confidence::OneSource),
                        description: "HHMM (630 = 06:30, 2400 = end of day); write whole schedules through schedule::WeeklySchedule, which checks the minutes".into(),
                    });
                }
            }
        }
        out
    }

    /// The register map as a `modbus-devices` product named `reference`: every service and
    /// parameter inside a served range, the served ranges as the product's blocks (FC3),
    /// at most 123 registers per read, the key registers as its signature, and one binary
    /// alarm template per controller alarm.
    pub fn product(&self, reference: &str) -> Result<Product, Error> {
        let mut services = Vec::new();
        self.system_services(&mut services);
        let mut parameters = Vec::new();
        for p in self.parameters.iter() {
            let category = match p.kind {
                ParameterKind::Computed if p.unit == Unit::DegC => Category::Temperature,
                ParameterKind::Computed => Category::Status,
                _ if p.id.ends_with("_mode") => Category::Status,
                _ => Category::Configuration,
            };
            services.push(service(
                &p.id,
                &p.name,
                p.unit,
                category,
                p.register(),
                &p.description,
            ));
            if p.writable {
                parameters.push(Parameter {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    unit: p.unit,
                    register: p.register(),
                    description: p.description.clone(),
                    measurand: None,
                    simulated: None,
                });
            }
        }
        // System points exist only where the application serves them.
        services.retain(|s| self.serves_register(&s.register));
        let alarms = self.alarm_templates(&services);
        let (name, verified) = self.describe();
        let blocks = self
            .served
            .ranges()
            .iter()
            .map(|r| AddressRange {
                function_code: FunctionCode::Holding,
                from: r.from.wire_address(),
                to: r.to.wire_address(),
            })
            .collect();
        Ok(Product {
            references: vec![reference.to_string()],
            vendor: "Danfoss".into(),
            product_code: None,
            family: "ECL Comfort".into(),
            model: name.clone(),
            description: format!(
                "{name}: register map generated by ecl-appkeys from the application-key catalogue"
            ),
            field_buses: match &self.model {
                Some(m) if !m.ethernet => vec![FieldBus::Rtu],
                _ => vec![FieldBus::Rtu, FieldBus::Tcp],
            },
            verified,
            source: self.source_text(),
            limits: RequestLimits {
                max_registers_per_read: MAX_REGISTERS_PER_READ,
                max_gap: MAX_REGISTERS_PER_READ,
                blocks,
                forbidden: Vec::new(),
            },
            signature: self.signature(),
            services,
            parameters,
            alarms,
        })
    }

    fn serves_register(&self, def: &RegisterDef) -> bool {
        let first = Pnu::from_wire_address(def.address);
        let last = u16::try_from(def.last_address())
            .ok()
            .map(Pnu::from_wire_address);
        match (first, last) {
            (Ok(from), Some(Ok(to))) => self.served.serves_range(&PnuRange { from, to }),
            _ => false,
        }
    }

    fn describe(&self) -> (String, bool) {
        let model = self
            .model
            .as_ref()
            .map_or("ECL Comfort".to_string(), |m| m.name.clone());
        let name = match self.key() {
            Some(k) => format!("{model} {k}"),
            None => format!("{model} (application not known)"),
        };
        let verified = self
            .served_detail
            .iter()
            .all(|r| r.confidence == Confidence::Confirmed)
            && self
                .parameters
                .iter()
                .all(|p| p.confidence == Confidence::Confirmed);
        (name, verified)
    }

    fn source_text(&self) -> String {
        let mut counts: BTreeMap<Confidence, usize> = BTreeMap::new();
        for r in &self.served_detail {
            *counts.entry(r.confidence).or_default() += 1;
        }
        let ranges: Vec<String> = counts.iter().map(|(c, n)| format!("{n} {c}")).collect();
        format!(
            "ecl-appkeys catalogue (Danfoss communication description and community sources; served ranges: {})",
            ranges.join(", ")
        )
    }

    fn signature(&self) -> Vec<SignatureCheck> {
        let Some(key) = self.key() else {
            return Vec::new();
        };
        let check = |pnu: Pnu, value: u16| SignatureCheck {
            register: RegisterDef::new(FunctionCode::Holding, pnu.wire_address(), DataType::U16),
            expect: Expect::Number(f64::from(value)),
        };
        vec![
            check(system::KEY_PREFIX, u16::from(key.prefix as u8)),
            check(system::KEY_TYPE, key.number),
            check(system::KEY_SUBTYPE, key.subtype),
        ]
    }

    fn alarm_templates(&self, services: &[Service]) -> Vec<AlarmTemplate> {
        let meanings = self
            .key
            .as_ref()
            .map(|(_, st, _)| st.alarms.as_slice())
            .unwrap_or(&[]);
        (1..=32u8)
            .filter(|n| services.iter().any(|s| s.id == format!("alarm_{n}")))
            .map(|n| {
                let text = meanings.iter().find(|a| a.number == n).map_or_else(
                    || format!("ECL alarm {n} (meaning: see the application's operating guide)"),
                    |a| format!("ECL alarm {n}: {}", a.text),
                );
                AlarmTemplate {
                    id: format!("alarm_{n}"),
                    service: format!("alarm_{n}"),
                    kind: AlarmKind::Binary,
                    text,
                    priority: Priority::Major,
                    threshold: None,
                    pre_alarm: None,
                    hysteresis: 0.0,
                    delay_s: 0,
                    on_false: false,
                }
            })
            .collect()
    }

    fn system_services(&self, out: &mut Vec<Service>) {
        identity_services(out);
        alarm_services(out);
        clock_services(out);
        self.sensor_services(out);
        self.output_services(out);
        self.mbus_services(out);
    }

    fn sensor_services(&self, out: &mut Vec<Service>) {
        for s in self.sensors() {
            let configured = self.inputs.iter().find(|i| i.input == s.input);
            let name = match &s.meaning {
                Some(m) => format!("S{} {m}", s.input),
                None => format!("S{}", s.input),
            };
            let def = match configured.map(|c| c.kind) {
                Some(InputKind::Voltage { scale }) => reg(s.pnu, DataType::U16).with_scale(scale),
                Some(InputKind::Digital) => reg(s.pnu, DataType::U16),
                _ => reg(s.pnu, DataType::S16)
                    .with_scale(0.01)
                    .with_not_available(&[u64::from(system::SENSOR_NOT_CONNECTED.unsigned_abs())]),
            };
            let mut svc = service(
                &format!("s{}", s.input),
                &name,
                s.unit,
                Category::Temperature,
                def,
                "",
            );
            if s.unit == Unit::DegC {
                svc.measurand = Some(Measurand::Temperature);
            } else {
                svc.category = Category::Status;
            }
            out.push(svc);
        }
    }

    fn output_services(&self, out: &mut Vec<Service>) {
        let mut bits = BTreeMap::new();
        for b in 0..6u8 {
            bits.insert(b, format!("triac {}", b + 1));
            bits.insert(b + 6, format!("relay {}", b + 1));
        }
        let mut mask = reg(system::OUTPUT_BITMASK, DataType::Flags);
        mask.flags = bits;
        out.push(service(
            "outputs",
            "Output states",
            Unit::None,
            Category::Status,
            mask,
            "from controller software 1.10",
        ));
        for n in 1..=6u8 {
            if let Ok(p) = system::triac_pnu(n) {
                out.push(service(
                    &format!("triac{n}"),
                    &format!("Triac {n}"),
                    Unit::None,
                    Category::Status,
                    reg(p, DataType::U16),
                    "0/1",
                ));
            }
            if let Ok(p) = system::relay_pnu(n) {
                out.push(service(
                    &format!("relay{n}"),
                    &format!("Relay {n}"),
                    Unit::None,
                    Category::Status,
                    reg(p, DataType::U16),
                    "0/1",
                ));
            }
        }
        for n in 1..=3u16 {
            if let Some(p) = Pnu::const_new(4015 + n) {
                out.push(service(
                    &format!("ao{n}"),
                    &format!("ECA 32 analogue output AO{n}"),
                    Unit::Percent,
                    Category::Status,
                    reg(p, DataType::U16).with_scale(0.1),
                    "",
                ));
            }
        }
        for c in 1..=3u8 {
            if let Ok(p) = system::status_pnu(c) {
                out.push(service(
                    &format!("c{c}_status"),
                    &format!("Circuit {c}: status"),
                    Unit::None,
                    Category::Status,
                    reg(p, DataType::U16),
                    "0 saving, 1 pre-comfort, 2 comfort, 3 pre-saving",
                ));
            }
        }
    }

    fn mbus_services(&self, out: &mut Vec<Service>) {
        out.push(service(
            "mbus_baud",
            "M-Bus baud",
            Unit::None,
            Category::Configuration,
            reg(system::MBUS_BAUD, DataType::U16),
            "0 = 300, 1 = 600, 2 = 1200, 3 = 2400",
        ));
        out.push(service(
            "mbus_command",
            "M-Bus command",
            Unit::None,
            Category::Configuration,
            reg(system::MBUS_COMMAND, DataType::U16),
            "0 none, 1 init, 2 scan",
        ));
        out.push(service(
            "mbus_state",
            "M-Bus state",
            Unit::None,
            Category::Status,
            reg(system::MBUS_STATE, DataType::U16),
            "0 reset, 1 init, 2 scanning, 3 idle",
        ));
        for n in 1..=system::METERS {
            let Ok(base) = system::meter_base(n) else {
                continue;
            };
            out.push(service(
                &format!("meter{n}_address"),
                &format!("Meter {n} primary M-Bus address"),
                Unit::None,
                Category::Configuration,
                reg(base, DataType::U16),
                "",
            ));
            for f in &self.meters.fields {
                let Some(p) = base.offset(f.offset) else {
                    continue;
                };
                let t = if f.words == 2 {
                    DataType::U32
                } else {
                    DataType::U16
                };
                let category = match f.unit {
                    Unit::Wh | Unit::KWh | Unit::MWh | Unit::J | Unit::GJ => Category::Energy,
                    Unit::W | Unit::KW | Unit::MW => Category::Power,
                    Unit::DegC | Unit::K => Category::Temperature,
                    _ => Category::Status,
                };
                let mut svc = service(
                    &format!("meter{n}_{}", f.id),
                    &format!("Meter {n}: {}", f.name),
                    f.unit,
                    category,
                    reg(p, t).with_scale(f.scale),
                    "",
                );
                if category == Category::Energy {
                    svc.channel_kind = ChannelKind::Counter;
                }
                out.push(svc);
            }
        }
    }
}

/// A holding-register definition at a PNU (wire address PNU − 1).
fn reg(pnu: Pnu, data_type: DataType) -> RegisterDef {
    RegisterDef::new(FunctionCode::Holding, pnu.wire_address(), data_type)
}

/// Identity and communication settings (PNU 8, 19, 34-39, 2060-2063, 2099).
#[allow(
    clippy::too_many_lines,
    reason = "a table of one row per identity register, spread over lines by rustfmt"
)]
fn identity_services(out: &mut Vec<Service>) {
    use Category::{Configuration, Identification};
    let table: [(&str, &str, Category, Pnu, DataType, &str); 12] = [
        (
            "build",
            "Software build",
            Identification,
            system::BUILD,
            DataType::U16,
            "v1.00 = 2410",
        ),
        (
            "code_number",
            "Code number (after 087H)",
            Identification,
            system::CODE_NUMBER,
            DataType::U16,
            "",
        ),
        (
            "hardware",
            "Hardware revision",
            Identification,
            system::HARDWARE,
            DataType::U16,
            "high byte an ASCII letter, low byte a number",
        ),
        (
            "software",
            "Controller software version",
            Identification,
            system::SOFTWARE,
            DataType::U16,
            "high byte major, low byte minor",
        ),
        (
            "serial",
            "Serial number",
            Identification,
            system::SERIAL_HIGH,
            DataType::U32,
            "",
        ),
        (
            "modbus_address",
            "Modbus address",
            Configuration,
            system::MODBUS_ADDRESS,
            DataType::U16,
            "",
        ),
        (
            "baud_code",
            "RS-485 baud code",
            Configuration,
            system::BAUD_CODE,
            DataType::U16,
            "9, 19 or 38",
        ),
        (
            "key_prefix",
            "Application prefix (character code)",
            Identification,
            system::KEY_PREFIX,
            DataType::U16,
            "65 = A",
        ),
        (
            "key_type",
            "Application type",
            Identification,
            system::KEY_TYPE,
            DataType::U16,
            "",
        ),
        (
            "key_subtype",
            "Application sub-type",
            Identification,
            system::KEY_SUBTYPE,
            DataType::U16,
            "",
        ),
        (
            "key_version",
            "Application key version",
            Identification,
            system::KEY_VERSION,
            DataType::U16,
            "high byte major, low byte minor",
        ),
        (
            "production",
            "Production year and week",
            Identification,
            system::PRODUCTION,
            DataType::U16,
            "high byte year - 2000, low byte ISO week",
        ),
    ];
    for (id, name, category, pnu, t, desc) in table {
        out.push(service(id, name, Unit::None, category, reg(pnu, t), desc));
    }
}

/// The alarm bitmask (PNU 1024-1025) and each alarm's status (PNU 1040-1071).
fn alarm_services(out: &mut Vec<Service>) {
    let mut mask = reg(system::ALARMS_HIGH, DataType::Flags).with_length(2);
    mask.flags = (0..32u8).map(|b| (b, format!("alarm {}", b + 1))).collect();
    out.push(service(
        "alarms",
        "Active alarms",
        Unit::None,
        Category::Status,
        mask,
        "alarm n = bit n-1 (PNU 1025 alarms 1-16, 1024 alarms 17-32)",
    ));
    for n in 1..=32u8 {
        if let Ok(p) = system::alarm_status_pnu(n) {
            out.push(service(
                &format!("alarm_{n}"),
                &format!("Alarm {n} status"),
                Unit::None,
                Category::Status,
                reg(p, DataType::U16),
                "",
            ));
        }
    }
}

/// The clock (PNU 64045-64049) and automatic summer time (PNU 10198).
fn clock_services(out: &mut Vec<Service>) {
    for (id, name, p) in [
        ("clock_hour", "Clock: hour", system::HOUR),
        ("clock_minute", "Clock: minute", system::MINUTE),
        ("clock_day", "Clock: day", system::DAY),
        ("clock_month", "Clock: month", system::MONTH),
        ("clock_year", "Clock: year", system::YEAR),
    ] {
        out.push(service(
            id,
            name,
            Unit::None,
            Category::Status,
            reg(p, DataType::U16),
            "",
        ));
    }
    out.push(service(
        "auto_summer_time",
        "Automatic summer time",
        Unit::None,
        Category::Configuration,
        reg(system::AUTO_SUMMER_TIME, DataType::U16),
        "0/1",
    ));
}

fn service(
    id: &str,
    name: &str,
    unit: Unit,
    category: Category,
    register: RegisterDef,
    description: &str,
) -> Service {
    let mut service = Service::new(id, name, id, unit, category, register);
    service.description = description.to_string();
    service
}
