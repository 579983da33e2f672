//! The catalogue file format (TOML) and its conversion to the validated model.
//!
//! This is the only place where the file's conveniences are resolved: product-wide
//! defaults (function code, word order, "not available" policy), shared service sets, and
//! "40001-style" register numbers (converted to 0-based protocol addresses here, and
//! nowhere else). See the crate documentation for a complete annotated example.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::model::*;
use crate::error::CatalogueError;
use crate::toml_file::{Located, Source};
use crate::register::{
    Access, ByteOrder, DataType, FunctionCode, RegisterDef, ScaleRegister, WordOrder, WriteRange,
    modicon_to_protocol,
};
use crate::value::Unit;

/// A whole catalogue file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueFile {
    /// Service lists shared by several products of the file.
    #[serde(default)]
    pub service_set: Vec<Spanned<ServiceSet>>,
    /// The products.
    #[serde(default)]
    pub product: Vec<Spanned<ProductSpec>>,
}

/// A named list of services that products include with `service_sets = [...]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSet {
    /// Name used by `service_sets`.
    pub id: String,
    /// The services.
    pub service: Vec<Spanned<ServiceSpec>>,
}

/// How "not available" raw values are chosen when a register gives none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotAvailablePolicy {
    /// No sentinel.
    #[default]
    None,
    /// All ones for unsigned types, the largest positive value for signed ones (Hager, ABB).
    TypeMax,
}

/// Product-wide defaults for its registers.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Function code of registers that name none.
    pub function_code: Option<FunctionCode>,
    /// Word order of registers that name none.
    pub word_order: Option<WordOrder>,
    /// Byte order of registers that name none.
    pub byte_order: Option<ByteOrder>,
    /// Sentinel policy of registers that give no `not_available` list.
    #[serde(default)]
    pub not_available: NotAvailablePolicy,
    /// Recording interval (minutes) of services that name none; 15 if unset.
    pub recording_interval_min: Option<u32>,
}

/// A product as written in a file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProductSpec {
    /// Order references (at least one).
    pub references: Vec<String>,
    /// Maker.
    pub vendor: String,
    /// The product code the device reports in "Read Device Identification" (FC43 / MEI 14),
    /// when its maker documents that function for it.
    #[serde(default)]
    pub product_code: Option<String>,
    /// Family.
    #[serde(default)]
    pub family: String,
    /// Model.
    pub model: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Field buses.
    #[serde(default)]
    pub field_buses: Vec<FieldBus>,
    /// Whether the whole map is backed by a confident source.
    #[serde(default = "yes")]
    pub verified: bool,
    /// Source and confidence of the map.
    #[serde(default)]
    pub source: String,
    /// Register defaults.
    #[serde(default)]
    pub defaults: Defaults,
    /// Read limits.
    #[serde(default)]
    pub limits: LimitsSpec,
    /// Signature reads.
    #[serde(default)]
    pub signature: Vec<Spanned<SignatureSpec>>,
    /// Shared service sets to include (before `service`).
    #[serde(default)]
    pub service_sets: Vec<String>,
    /// Services of this product only.
    #[serde(default)]
    pub service: Vec<Spanned<ServiceSpec>>,
    /// Parameters.
    #[serde(default)]
    pub parameter: Vec<Spanned<ParameterSpec>>,
    /// Alarm templates.
    #[serde(default)]
    pub alarm: Vec<Spanned<AlarmSpec>>,
}

fn yes() -> bool {
    true
}

/// Read limits as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    /// 1..=125, default 125.
    pub max_registers_per_read: Option<u16>,
    /// Default 0.
    pub max_gap: Option<u16>,
    /// Documented blocks.
    #[serde(default)]
    pub blocks: Vec<RangeSpec>,
    /// Never-read ranges.
    #[serde(default)]
    pub forbidden: Vec<RangeSpec>,
}

/// An inclusive address range as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RangeSpec {
    /// Table (default: the product's function code, else 3).
    pub function_code: Option<FunctionCode>,
    /// First 0-based address.
    pub from: u16,
    /// Last 0-based address (inclusive).
    pub to: u16,
}

/// A register as written: either `address` (0-based, with `function_code` or the product
/// default) or `register` (a 40001-style number that carries its table).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterSpec {
    /// Function code.
    pub function_code: Option<FunctionCode>,
    /// 0-based protocol address.
    pub address: Option<u16>,
    /// 40001-style register number (converted at load).
    pub register: Option<u32>,
    /// Data type.
    #[serde(rename = "type")]
    pub data_type: DataType,
    /// Registers of a string / bcd / flags.
    pub length: Option<u16>,
    /// Bit of a word.
    pub bit: Option<u8>,
    /// Word order.
    pub word_order: Option<WordOrder>,
    /// Byte order.
    pub byte_order: Option<ByteOrder>,
    /// Multiplier.
    pub scale: Option<f64>,
    /// Power of ten.
    pub pow10: Option<i32>,
    /// Scale from another register.
    pub scale_register: Option<ScaleRegister>,
    /// Offset.
    pub offset: Option<f64>,
    /// Access.
    pub access: Option<Access>,
    /// Write range.
    pub write_range: Option<WriteRange>,
    /// "Not available" raw values (overrides the product policy).
    pub not_available: Option<Vec<u64>>,
    /// Bit names of a flags value.
    #[serde(default)]
    pub flags: BTreeMap<u8, String>,
}

/// A service as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Quantity.
    pub quantity: String,
    /// Unit symbol.
    pub unit: Unit,
    /// Category.
    pub category: Category,
    /// Register.
    pub register: RegisterSpec,
    /// Recording interval in minutes.
    pub recording_interval_min: Option<u32>,
    /// Description.
    #[serde(default)]
    pub description: String,
}

/// A parameter as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterSpec {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Unit symbol.
    #[serde(default = "no_unit")]
    pub unit: Unit,
    /// Register (access defaults to read_write).
    pub register: RegisterSpec,
    /// Description.
    #[serde(default)]
    pub description: String,
}

fn no_unit() -> Unit {
    Unit::None
}

/// A signature read as written: exactly one of the expectations.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureSpec {
    /// What to read.
    pub register: RegisterSpec,
    /// Text equals.
    pub text: Option<String>,
    /// Text starts with.
    pub prefix: Option<String>,
    /// Text is one of.
    pub any_text: Option<Vec<String>>,
    /// Number equals.
    pub number: Option<f64>,
    /// Number is one of.
    pub any_number: Option<Vec<f64>>,
    /// Number lies within `min..=max` (a plausibility read, when no identification value
    /// is published).
    pub within: Option<WriteRange>,
}

/// An alarm template as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmSpec {
    /// Id.
    pub id: String,
    /// Watched service.
    pub service: String,
    /// Kind.
    pub kind: AlarmKind,
    /// Text.
    pub text: String,
    /// Priority (default minor).
    pub priority: Option<Priority>,
    /// Threshold.
    pub threshold: Option<f64>,
    /// Pre-alarm threshold.
    pub pre_alarm: Option<f64>,
    /// Hysteresis.
    #[serde(default)]
    pub hysteresis: f64,
    /// Delay in seconds.
    #[serde(default)]
    pub delay_s: u32,
    /// Binary alarm on false.
    #[serde(default)]
    pub on_false: bool,
}

impl From<Located> for CatalogueError {
    fn from(l: Located) -> Self {
        CatalogueError::InvalidFile {
            file: l.file,
            line: l.line,
            column: l.column,
            field: l.field,
            message: l.message,
        }
    }
}

/// Parse and validate a catalogue file's text. `file` is only used in errors.
pub fn parse(file: &Path, text: &str) -> Result<Vec<Product>, CatalogueError> {
    let src = Source::new(file, text);
    let parsed: CatalogueFile = src.parse()?;

    let mut sets: BTreeMap<&str, &Spanned<ServiceSet>> = BTreeMap::new();
    for (i, set) in parsed.service_set.iter().enumerate() {
        if sets.insert(set.get_ref().id.as_str(), set).is_some() {
            return Err(src
                .at(
                    set.span(),
                    format!("service_set[{i}].id"),
                    format!("duplicate service set {:?}", set.get_ref().id),
                )
                .into());
        }
    }
    parsed
        .product
        .iter()
        .enumerate()
        .map(|(i, p)| convert_product(&src, &sets, i, p))
        .collect()
}

fn convert_product(
    src: &Source<'_>,
    sets: &BTreeMap<&str, &Spanned<ServiceSet>>,
    index: usize,
    spanned: &Spanned<ProductSpec>,
) -> Result<Product, CatalogueError> {
    let p = spanned.get_ref();
    let at = |field: &str| format!("product[{index}].{field}");
    let whole = spanned.span();
    if p.references.is_empty() || p.references.iter().any(|r| r.trim().is_empty()) {
        return Err(err(src, 
            whole,
            at("references"),
            "at least one non-empty reference is required".into(),
        ));
    }
    if let Some(code) = &p.product_code {
        // Both texts go out as objects of "Read Device Identification" (FC43 / MEI 14).
        for (field, text) in [("product_code", code), ("vendor", &p.vendor)] {
            if !is_device_id_text(text) {
                return Err(err(src, 
                    whole.clone(),
                    at(field),
                    format!(
                        "a product with a product code sends its {field} as a device \
                         identification object: 1 to {DEVICE_ID_OBJECT_MAX_LEN} printable \
                         ASCII characters, found {text:?} ({} bytes)",
                        text.len()
                    ),
                ));
            }
        }
    }
    let d = &p.defaults;
    let fc_default = d.function_code;
    let interval_default = d.recording_interval_min.unwrap_or(15);

    let range = |r: &RangeSpec, field: String| -> Result<AddressRange, CatalogueError> {
        if r.from > r.to {
            return Err(err(src, 
                whole.clone(),
                field,
                format!("from {:#06x} is after to {:#06x}", r.from, r.to),
            ));
        }
        Ok(AddressRange {
            function_code: r
                .function_code
                .or(fc_default)
                .unwrap_or(FunctionCode::Holding),
            from: r.from,
            to: r.to,
        })
    };
    let max_read = p.limits.max_registers_per_read.unwrap_or(125);
    if !(1..=125).contains(&max_read) {
        return Err(err(src, 
            whole.clone(),
            at("limits.max_registers_per_read"),
            format!("must be 1..=125, found {max_read}"),
        ));
    }
    let limits = RequestLimits {
        max_registers_per_read: max_read,
        max_gap: p.limits.max_gap.unwrap_or(0),
        blocks: p
            .limits
            .blocks
            .iter()
            .enumerate()
            .map(|(i, r)| range(r, at(&format!("limits.blocks[{i}]"))))
            .collect::<Result<_, _>>()?,
        forbidden: p
            .limits
            .forbidden
            .iter()
            .enumerate()
            .map(|(i, r)| range(r, at(&format!("limits.forbidden[{i}]"))))
            .collect::<Result<_, _>>()?,
    };

    let register = |r: &RegisterSpec,
                    span: std::ops::Range<usize>,
                    field: String,
                    writable: bool|
     -> Result<RegisterDef, CatalogueError> {
        let (fc, address) = match (r.address, r.register) {
            (Some(a), None) => (
                r.function_code
                    .or(fc_default)
                    .unwrap_or(FunctionCode::Holding),
                a,
            ),
            (None, Some(n)) => {
                let (fc, a) = modicon_to_protocol(n).ok_or_else(|| {
                    err(src, 
                        span.clone(),
                        format!("{field}.register"),
                        format!("{n} is not a 00001/10001/30001/40001-style register number"),
                    )
                })?;
                if r.function_code.is_some_and(|f| f != fc) {
                    return Err(err(src, 
                        span.clone(),
                        format!("{field}.function_code"),
                        format!(
                            "register {n} is in the {fc} table, which contradicts function_code"
                        ),
                    ));
                }
                (fc, a)
            }
            (Some(_), Some(_)) => {
                return Err(err(src, 
                    span,
                    field,
                    "give either `address` (0-based) or `register` (40001-style), not both".into(),
                ));
            }
            (None, None) => {
                return Err(err(src, 
                    span,
                    field,
                    "missing `address` (0-based) or `register` (40001-style)".into(),
                ));
            }
        };
        let not_available = match &r.not_available {
            Some(v) => v.clone(),
            None if d.not_available == NotAvailablePolicy::TypeMax => {
                RegisterDef::type_max_sentinel(r.data_type)
                    .into_iter()
                    .collect()
            }
            None => Vec::new(),
        };
        let def = RegisterDef {
            function_code: fc,
            address,
            data_type: r.data_type,
            length: r.length,
            bit: r.bit,
            word_order: r.word_order.or(d.word_order).unwrap_or_default(),
            byte_order: r.byte_order.or(d.byte_order).unwrap_or_default(),
            scale: r.scale.unwrap_or(1.0),
            pow10: r.pow10.unwrap_or(0),
            scale_register: r.scale_register,
            offset: r.offset.unwrap_or(0.0),
            access: r.access.unwrap_or(if writable {
                Access::ReadWrite
            } else {
                Access::Read
            }),
            write_range: r.write_range,
            not_available,
            flags: r.flags.clone(),
        };
        def.check().map_err(|m| {
            let (sub, msg) = m
                .split_once(": ")
                .map_or((String::new(), m.clone()), |(a, b)| {
                    (format!(".{a}"), b.to_string())
                });
            err(src, span.clone(), format!("{field}{sub}"), msg)
        })?;
        if writable && !def.is_writable() {
            return Err(err(src, 
                span,
                format!("{field}.access"),
                "a parameter must be writable (function code 1 or 3, access read_write or write)"
                    .into(),
            ));
        }
        Ok(def)
    };

    let mut services = Vec::new();
    let mut ids = HashSet::new();
    let mut add_service = |s: &Spanned<ServiceSpec>, field: String| -> Result<(), CatalogueError> {
        let spec = s.get_ref();
        if !ids.insert(spec.id.clone()) {
            return Err(err(src, 
                s.span(),
                format!("{field}.id"),
                format!("duplicate service id {:?}", spec.id),
            ));
        }
        if spec.id.is_empty() || spec.id.contains('/') || spec.id.contains(char::is_whitespace) {
            return Err(err(src, 
                s.span(),
                format!("{field}.id"),
                format!(
                    "service id {:?} must be non-empty, without '/' or spaces",
                    spec.id
                ),
            ));
        }
        let interval = spec.recording_interval_min.unwrap_or(interval_default);
        if !RECORDING_INTERVALS_MIN.contains(&interval) {
            return Err(err(src, 
                s.span(),
                format!("{field}.recording_interval_min"),
                format!("must be one of {RECORDING_INTERVALS_MIN:?}, found {interval}"),
            ));
        }
        services.push(Service {
            id: spec.id.clone(),
            name: spec.name.clone(),
            quantity: spec.quantity.clone(),
            unit: spec.unit,
            category: spec.category,
            register: register(&spec.register, s.span(), format!("{field}.register"), false)?,
            recording_interval_min: interval,
            description: spec.description.clone(),
        });
        Ok(())
    };
    for (k, name) in p.service_sets.iter().enumerate() {
        let set = sets.get(name.as_str()).ok_or_else(|| {
            err(src, 
                whole.clone(),
                at(&format!("service_sets[{k}]")),
                format!("unknown service set {name:?}"),
            )
        })?;
        for (j, s) in set.get_ref().service.iter().enumerate() {
            add_service(s, format!("service_set[{name}].service[{j}]"))?;
        }
    }
    for (j, s) in p.service.iter().enumerate() {
        add_service(s, at(&format!("service[{j}]")))?;
    }
    if services.is_empty() {
        return Err(err(src, 
            whole.clone(),
            at("service"),
            "a product needs at least one service".into(),
        ));
    }

    let mut parameters = Vec::new();
    for (j, s) in p.parameter.iter().enumerate() {
        let spec = s.get_ref();
        if parameters.iter().any(|x: &Parameter| x.id == spec.id) {
            return Err(err(src, 
                s.span(),
                at(&format!("parameter[{j}].id")),
                format!("duplicate parameter id {:?}", spec.id),
            ));
        }
        parameters.push(Parameter {
            id: spec.id.clone(),
            name: spec.name.clone(),
            unit: spec.unit,
            register: register(
                &spec.register,
                s.span(),
                at(&format!("parameter[{j}].register")),
                true,
            )?,
            description: spec.description.clone(),
        });
    }

    let mut signature = Vec::new();
    for (j, s) in p.signature.iter().enumerate() {
        let spec = s.get_ref();
        let field = at(&format!("signature[{j}]"));
        let mut expects = Vec::new();
        if let Some(t) = &spec.text {
            expects.push(Expect::Text(t.clone()));
        }
        if let Some(t) = &spec.prefix {
            expects.push(Expect::Prefix(t.clone()));
        }
        if let Some(t) = &spec.any_text {
            expects.push(Expect::AnyText(t.clone()));
        }
        if let Some(n) = spec.number {
            expects.push(Expect::Number(n));
        }
        if let Some(n) = &spec.any_number {
            expects.push(Expect::AnyNumber(n.clone()));
        }
        if let Some(r) = spec.within {
            if !(r.min.is_finite() && r.max.is_finite()) || r.min > r.max {
                return Err(err(src, 
                    s.span(),
                    format!("{field}.within"),
                    format!(
                        "min must be <= max and both finite, found {}..{}",
                        r.min, r.max
                    ),
                ));
            }
            expects.push(Expect::Within {
                min: r.min,
                max: r.max,
            });
        }
        if expects.len() != 1 {
            return Err(err(src, 
                s.span(),
                field,
                "give exactly one of text, prefix, any_text, number, any_number, within".into(),
            ));
        }
        let reg = register(&spec.register, s.span(), format!("{field}.register"), false)?;
        signature.push(SignatureCheck {
            register: reg,
            expect: expects.remove(0),
        });
    }

    let mut alarms = Vec::new();
    for (j, s) in p.alarm.iter().enumerate() {
        let a = s.get_ref();
        let field = at(&format!("alarm[{j}]"));
        if !services.iter().any(|x| x.id == a.service) {
            return Err(err(src, 
                s.span(),
                format!("{field}.service"),
                format!("unknown service {:?}", a.service),
            ));
        }
        if a.hysteresis < 0.0 || !a.hysteresis.is_finite() {
            return Err(err(src, 
                s.span(),
                format!("{field}.hysteresis"),
                format!("must be >= 0, found {}", a.hysteresis),
            ));
        }
        match (a.kind, a.threshold, a.pre_alarm) {
            (AlarmKind::Binary, Some(_), _) | (AlarmKind::Binary, _, Some(_)) => {
                return Err(err(src, 
                    s.span(),
                    format!("{field}.threshold"),
                    "a binary alarm takes no threshold".into(),
                ));
            }
            (AlarmKind::High | AlarmKind::Low, None, _) => {
                return Err(err(src, 
                    s.span(),
                    format!("{field}.threshold"),
                    "a threshold alarm needs `threshold`".into(),
                ));
            }
            (AlarmKind::High, Some(t), Some(pre)) if pre >= t => {
                return Err(err(src, 
                    s.span(),
                    format!("{field}.pre_alarm"),
                    format!(
                        "a high alarm's pre-alarm must be below its threshold {t}, found {pre}"
                    ),
                ));
            }
            (AlarmKind::Low, Some(t), Some(pre)) if pre <= t => {
                return Err(err(src, 
                    s.span(),
                    format!("{field}.pre_alarm"),
                    format!("a low alarm's pre-alarm must be above its threshold {t}, found {pre}"),
                ));
            }
            _ => {}
        }
        alarms.push(AlarmTemplate {
            id: a.id.clone(),
            service: a.service.clone(),
            kind: a.kind,
            text: a.text.clone(),
            priority: a.priority.unwrap_or(Priority::Minor),
            threshold: a.threshold,
            pre_alarm: a.pre_alarm,
            hysteresis: a.hysteresis,
            delay_s: a.delay_s,
            on_false: a.on_false,
        });
    }

    let product = Product {
        references: p.references.clone(),
        vendor: p.vendor.clone(),
        product_code: p.product_code.clone(),
        family: p.family.clone(),
        model: p.model.clone(),
        description: p.description.clone(),
        field_buses: p.field_buses.clone(),
        verified: p.verified,
        source: p.source.clone(),
        limits,
        signature,
        services,
        parameters,
        alarms,
    };
    // Every service, parameter and signature read must be readable under the product's limits.
    let regs = product
        .services
        .iter()
        .map(|s| (format!("service {}", s.id), &s.register))
        .chain(
            product
                .signature
                .iter()
                .enumerate()
                .map(|(i, s)| (format!("signature[{i}]"), &s.register)),
        );
    for (what, r) in regs {
        if !product
            .limits
            .allows(r.function_code, u32::from(r.address), r.last_address())
        {
            return Err(err(src, 
                whole.clone(),
                at("limits"),
                format!("{what} at {} {:#06x} cannot be read within the product's limits (blocks, forbidden ranges, max registers)", r.function_code, r.address),
            ));
        }
    }
    Ok(product)
}

fn err(src: &Source<'_>, span: std::ops::Range<usize>, field: String, message: String) -> CatalogueError {
    src.at(span, field, message).into()
}
