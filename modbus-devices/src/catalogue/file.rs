//! The catalogue file format (TOML) and its conversion to the validated model.
//!
//! This is the only place where the file's conveniences are resolved: product-wide
//! defaults (function code, word order, "not available" policy), shared service sets, and
//! "40001-style" register numbers (converted to 0-based protocol addresses here, and
//! nowhere else). See the crate documentation for a complete annotated example.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::model::*;
use super::resolve;
use crate::error::CatalogueError;
use crate::register::{
    Access, ByteOrder, DataType, FunctionCode, ScaleRegister, WordOrder, WriteRange,
};
use crate::toml_file::{Located, Source};
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
    /// Simulated values by service or parameter id, replacing theirs (for services of
    /// shared sets whose value differs between products).
    #[serde(default)]
    pub simulated: BTreeMap<String, Spanned<Simulated>>,
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
    /// What the value is, from a fixed list.
    #[serde(default)]
    pub measurand: Option<Measurand>,
    /// Conductor(s).
    #[serde(default)]
    pub phase: Option<Phase>,
    /// Energy direction (powers and energies).
    #[serde(default)]
    pub direction: Option<Direction>,
    /// Tariff, 1-based (energies).
    #[serde(default)]
    pub tariff: Option<u8>,
    /// Harmonic order (harmonic measurands).
    #[serde(default)]
    pub harmonic: Option<u8>,
    /// Partial (resettable) energy counter.
    #[serde(default)]
    pub partial: bool,
    /// `counter` or `instantaneous` (default: `counter` for energies and pulse counts).
    #[serde(default)]
    pub channel_kind: Option<ChannelKind>,
    /// What the simulator serves.
    #[serde(default)]
    pub simulated: Option<Simulated>,
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
    /// `unit_id` when it holds the device's own unit id.
    #[serde(default)]
    pub measurand: Option<Measurand>,
    /// What the simulator starts it with.
    #[serde(default)]
    pub simulated: Option<Simulated>,
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
        .map(|(i, p)| resolve::convert_product(&src, &sets, i, p))
        .collect()
}
