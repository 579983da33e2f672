//! The data-file format (TOML) and its validation into the model.
//!
//! One file may hold any of four tables; the built-in files and user files go through
//! this one path. See the crate documentation ("Data files") for the format.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::model::{
    AlarmMeaning, AppKey, Circuit, Confidence, ControllerInfo, Fact, Output, ParameterKind,
    ParameterTemplate, RawType, Role, Sensor, ServedRange, SubType,
};
use crate::error::Error;
use crate::pnu::PnuRange;
use crate::toml_file::Source;

/// A whole data file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    #[serde(default)]
    controller: Vec<Spanned<ControllerSpec>>,
    #[serde(default)]
    served: Vec<Spanned<ServedSpec>>,
    #[serde(default)]
    parameter: Vec<Spanned<ParameterSpec>>,
    #[serde(default)]
    key: Vec<Spanned<KeySpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ControllerSpec {
    id: String,
    name: String,
    #[serde(default)]
    code_numbers: Vec<Fact<u16>>,
    mbus: bool,
    ethernet: bool,
    detects_key: bool,
    confidence: Confidence,
    source: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServedSpec {
    from: u16,
    to: u16,
    confidence: Confidence,
    #[serde(default)]
    mbus: bool,
    #[serde(default)]
    source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParameterSpec {
    id: String,
    name: String,
    offset: u16,
    roles: Vec<Role>,
    #[serde(rename = "type")]
    raw_type: RawType,
    #[serde(default = "one")]
    scale: f64,
    unit: modbus_devices::Unit,
    min: Option<f64>,
    max: Option<f64>,
    #[serde(default)]
    writable: bool,
    #[serde(default = "setting")]
    kind: ParameterKind,
    confidence: Confidence,
    source: String,
    #[serde(default)]
    description: String,
}

fn one() -> f64 {
    1.0
}

fn setting() -> ParameterKind {
    ParameterKind::Setting
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeySpec {
    prefix: String,
    #[serde(rename = "type")]
    number: u16,
    confidence: Confidence,
    function: Option<Fact<String>>,
    controllers: Option<Fact<Vec<String>>>,
    guide: Option<String>,
    source: String,
    #[serde(default)]
    subtype: Vec<Spanned<SubTypeSpec>>,
    #[serde(default)]
    unknowns: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubTypeSpec {
    number: u16,
    function: Option<Fact<String>>,
    #[serde(default)]
    circuits: Vec<Circuit>,
    #[serde(default)]
    sensors: Vec<Sensor>,
    unused_inputs: Option<Fact<Vec<u8>>>,
    #[serde(default)]
    outputs: Vec<Output>,
    #[serde(default)]
    served: Vec<ServedSpec>,
    #[serde(default)]
    alarms: Vec<AlarmMeaning>,
    #[serde(default)]
    unknowns: Vec<String>,
}

/// What one file adds to a catalogue.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub(crate) controllers: Vec<ControllerInfo>,
    pub(crate) served: Vec<ServedRange>,
    pub(crate) parameters: Vec<ParameterTemplate>,
    pub(crate) keys: Vec<AppKey>,
}

/// Parse and validate one file. `known_controllers` are the controller ids loaded before;
/// a key may name those and the ones of this file.
pub(crate) fn parse(
    file: &Path,
    text: &str,
    known_controllers: &BTreeSet<String>,
) -> Result<Parsed, Error> {
    let src = Source::new(file, text);
    let spec: FileSpec = src.parse()?;
    let mut out = Parsed::default();
    let mut controllers = known_controllers.clone();
    for (i, c) in spec.controller.into_iter().enumerate() {
        let span = c.span();
        let c = c.into_inner();
        if !controllers.insert(c.id.clone()) {
            return Err(src
                .at(
                    span,
                    format!("controller[{i}].id"),
                    format!("controller id {:?} is defined twice", c.id),
                )
                .into());
        }
        out.controllers.push(ControllerInfo {
            id: c.id,
            name: c.name,
            code_numbers: c.code_numbers,
            mbus: c.mbus,
            ethernet: c.ethernet,
            detects_key: c.detects_key,
            confidence: c.confidence,
            source: c.source,
        });
    }
    for (i, s) in spec.served.into_iter().enumerate() {
        let span = s.span();
        out.served
            .push(served(s.get_ref()).map_err(|m| src.at(span, format!("served[{i}]"), m))?);
    }
    let mut ids = BTreeSet::new();
    for (i, p) in spec.parameter.into_iter().enumerate() {
        let span = p.span();
        let t = parameter(p.into_inner())
            .map_err(|(f, m)| src.at(span.clone(), format!("parameter[{i}].{f}"), m))?;
        if !ids.insert(t.id.clone()) {
            return Err(src
                .at(
                    span,
                    format!("parameter[{i}].id"),
                    format!("parameter id {:?} is defined twice", t.id),
                )
                .into());
        }
        out.parameters.push(t);
    }
    for (i, k) in spec.key.into_iter().enumerate() {
        let span = k.span();
        out.keys
            .push(key(&src, i, span, k.into_inner(), &controllers)?);
    }
    Ok(out)
}

fn served(s: &ServedSpec) -> Result<ServedRange, String> {
    let range = PnuRange::new(s.from, s.to).map_err(|_| {
        format!(
            "expected 1 <= from <= to, found from = {}, to = {}",
            s.from, s.to
        )
    })?;
    Ok(ServedRange {
        range,
        confidence: s.confidence,
        needs_mbus: s.mbus,
        source: s.source.clone(),
    })
}

fn parameter(p: ParameterSpec) -> Result<ParameterTemplate, (&'static str, String)> {
    if p.id.trim().is_empty() || p.id.contains(char::is_whitespace) {
        return Err((
            "id",
            format!("expected a non-empty id without spaces, found {:?}", p.id),
        ));
    }
    if p.offset >= 1000 {
        return Err((
            "offset",
            format!(
                "expected an offset within a circuit's thousand (0..=999), found {}",
                p.offset
            ),
        ));
    }
    if p.roles.is_empty() {
        return Err(("roles", "expected at least one circuit role".into()));
    }
    if !(p.scale.is_finite() && p.scale > 0.0) {
        return Err((
            "scale",
            format!("expected a finite number above 0, found {}", p.scale),
        ));
    }
    let range = match (p.min, p.max) {
        (Some(min), Some(max)) if min.is_finite() && max.is_finite() && min <= max => {
            Some((min, max))
        }
        (None, None) => None,
        (min, max) => {
            return Err((
                "min",
                format!(
                    "expected both min and max, finite, min <= max; found min = {min:?}, max = {max:?}"
                ),
            ));
        }
    };
    if p.writable && range.is_none() {
        return Err((
            "writable",
            "a writable parameter needs its range (min and max): writes are range-checked".into(),
        ));
    }
    Ok(ParameterTemplate {
        id: p.id,
        name: p.name,
        offset: p.offset,
        roles: p.roles,
        raw_type: p.raw_type,
        scale: p.scale,
        unit: p.unit,
        range,
        writable: p.writable,
        kind: p.kind,
        confidence: p.confidence,
        source: p.source,
        description: p.description,
    })
}

type Fault = (String, String);

fn key(
    src: &Source<'_>,
    i: usize,
    span: std::ops::Range<usize>,
    k: KeySpec,
    controllers: &BTreeSet<String>,
) -> Result<AppKey, Error> {
    let at_key =
        |f: &str, m: String| -> Error { src.at(span.clone(), format!("key[{i}].{f}"), m).into() };
    let mut chars = k.prefix.chars();
    let prefix = match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_uppercase() => c,
        _ => {
            return Err(at_key(
                "prefix",
                format!("expected one upper-case letter, found {:?}", k.prefix),
            ));
        }
    };
    let mut listed = k.controllers.iter().flat_map(|c| c.value.iter());
    if let Some(bad) = listed.find(|c| !controllers.contains(*c)) {
        return Err(at_key(
            "controllers",
            format!("unknown controller id {bad:?}; expected one of {controllers:?}"),
        ));
    }
    let mut subtypes = Vec::new();
    let mut numbers = BTreeSet::new();
    for (j, s) in k.subtype.into_iter().enumerate() {
        let span = s.span();
        let st = subtype(s.into_inner())
            .map_err(|(f, m)| src.at(span.clone(), format!("key[{i}].subtype[{j}].{f}"), m))?;
        if !numbers.insert(st.number) {
            return Err(src
                .at(
                    span,
                    format!("key[{i}].subtype[{j}].number"),
                    format!("sub-type {} is defined twice", st.number),
                )
                .into());
        }
        subtypes.push(st);
    }
    Ok(AppKey {
        prefix,
        number: k.number,
        confidence: k.confidence,
        function: k.function,
        controllers: k.controllers,
        guide: k.guide,
        source: k.source,
        subtypes,
        unknowns: k.unknowns,
    })
}

fn subtype(s: SubTypeSpec) -> Result<SubType, Fault> {
    let mut seen = BTreeSet::new();
    for (n, c) in s.circuits.iter().enumerate() {
        if !(1..=3).contains(&c.number) || !seen.insert(c.number) {
            return Err((
                format!("circuits[{n}].number"),
                format!(
                    "expected a circuit 1, 2 or 3 listed once, found {}",
                    c.number
                ),
            ));
        }
    }
    let mut inputs = BTreeSet::new();
    for (n, x) in s.sensors.iter().enumerate() {
        if !(1..=16).contains(&x.input) || !inputs.insert(x.input) {
            return Err((
                format!("sensors[{n}].input"),
                format!("expected an input 1..=16 listed once, found {}", x.input),
            ));
        }
    }
    if let Some(unused) = &s.unused_inputs {
        for (n, u) in unused.value.iter().enumerate() {
            if !(1..=16).contains(u) || inputs.contains(u) {
                return Err((
                    format!("unused_inputs.value[{n}]"),
                    format!(
                        "expected an input 1..=16 that no sensor of the sub-type uses, found {u}"
                    ),
                ));
            }
        }
    }
    for (n, a) in s.alarms.iter().enumerate() {
        if !(1..=32).contains(&a.number) {
            return Err((
                format!("alarms[{n}].number"),
                format!("expected an alarm number 1..=32, found {}", a.number),
            ));
        }
    }
    let served = s
        .served
        .iter()
        .enumerate()
        .map(|(n, r)| served(r).map_err(|m| (format!("served[{n}]"), m)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SubType {
        number: s.number,
        function: s.function,
        circuits: s.circuits,
        sensors: s.sensors,
        unused_inputs: s.unused_inputs,
        outputs: s.outputs,
        served,
        alarms: s.alarms,
        unknowns: s.unknowns,
    })
}
