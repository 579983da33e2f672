//! From a product as written ([`ProductSpec`]) to the validated [`Product`]: one resolve step
//! per part of the spec (identity, limits, registers, services, parameters, simulated
//! values, signature, alarm templates), all over one [`Ctx`] that knows the source (for line
//! and column), the product's span and index (for field paths) and its defaults.
//! [`convert_product`] only orchestrates them.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;

use toml::Spanned;

use super::file::{
    AlarmSpec, LimitsSpec, NotAvailablePolicy, ParameterSpec, ProductSpec, RangeSpec, RegisterSpec,
    ServiceSet, ServiceSpec, SignatureSpec,
};
use super::model::*;
use crate::error::CatalogueError;
use crate::register::{Access, DataType, FunctionCode, RegisterDef, modicon_to_protocol};
use crate::toml_file::Source;
use crate::value::Value;

/// What every resolve step of one product needs: where the product is (for errors) and
/// its defaults.
pub(super) struct Ctx<'a> {
    src: &'a Source<'a>,
    index: usize,
    span: Range<usize>,
    spec: &'a ProductSpec,
}

impl Ctx<'_> {
    /// `product[i].field`.
    fn path(&self, field: &str) -> String {
        format!("product[{}].{field}", self.index)
    }

    /// An error at `span`.
    fn error_at(
        &self,
        span: Range<usize>,
        field: String,
        message: impl Into<String>,
    ) -> CatalogueError {
        self.src.at(span, field, message).into()
    }

    /// An error at the product's own span, for `product[i].field`.
    fn error(&self, field: &str, message: impl Into<String>) -> CatalogueError {
        self.error_at(self.span.clone(), self.path(field), message)
    }

    fn default_function_code(&self) -> Option<FunctionCode> {
        self.spec.defaults.function_code
    }
}

/// Resolve and validate one product of a file.
pub(super) fn convert_product(
    src: &Source<'_>,
    sets: &BTreeMap<&str, &Spanned<ServiceSet>>,
    index: usize,
    spanned: &Spanned<ProductSpec>,
) -> Result<Product, CatalogueError> {
    let p = spanned.get_ref();
    let ctx = Ctx {
        src,
        index,
        span: spanned.span(),
        spec: p,
    };
    check_identity(&ctx)?;
    let limits = resolve_limits(&ctx, &p.limits)?;
    let mut services = resolve_services(&ctx, sets)?;
    let mut parameters = resolve_parameters(&ctx, &p.parameter)?;
    apply_simulated(&ctx, &mut services, &mut parameters)?;
    let signature = resolve_signature(&ctx, &p.signature)?;
    let alarms = resolve_alarms(&ctx, &p.alarm, &services)?;
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
    check_readable(&ctx, &product)?;
    Ok(product)
}

/// References, and the texts a product code sends as device identification objects.
fn check_identity(ctx: &Ctx<'_>) -> Result<(), CatalogueError> {
    let p = ctx.spec;
    if p.references.is_empty() || p.references.iter().any(|r| r.trim().is_empty()) {
        return Err(ctx.error("references", "at least one non-empty reference is required"));
    }
    if let Some(code) = &p.product_code {
        // Both texts go out as objects of "Read Device Identification" (FC43 / MEI 14).
        for (field, text) in [("product_code", code), ("vendor", &p.vendor)] {
            if !is_device_id_text(text) {
                return Err(ctx.error(
                    field,
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
    Ok(())
}

fn resolve_range(
    ctx: &Ctx<'_>,
    r: &RangeSpec,
    field: &str,
) -> Result<AddressRange, CatalogueError> {
    if r.from > r.to {
        return Err(ctx.error(
            field,
            format!("from {:#06x} is after to {:#06x}", r.from, r.to),
        ));
    }
    Ok(AddressRange {
        function_code: r
            .function_code
            .or(ctx.default_function_code())
            .unwrap_or(FunctionCode::Holding),
        from: r.from,
        to: r.to,
    })
}

fn resolve_limits(ctx: &Ctx<'_>, l: &LimitsSpec) -> Result<RequestLimits, CatalogueError> {
    let max_read = l.max_registers_per_read.unwrap_or(125);
    if !(1..=125).contains(&max_read) {
        return Err(ctx.error(
            "limits.max_registers_per_read",
            format!("must be 1..=125, found {max_read}"),
        ));
    }
    let ranges = |list: &[RangeSpec], name: &str| -> Result<Vec<AddressRange>, CatalogueError> {
        list.iter()
            .enumerate()
            .map(|(i, r)| resolve_range(ctx, r, &format!("limits.{name}[{i}]")))
            .collect()
    };
    Ok(RequestLimits {
        max_registers_per_read: max_read,
        max_gap: l.max_gap.unwrap_or(0),
        blocks: ranges(&l.blocks, "blocks")?,
        forbidden: ranges(&l.forbidden, "forbidden")?,
    })
}

/// The table and 0-based address of a register: `address` (with the function code or the
/// product's default) or a 40001-style `register` number.
fn resolve_address(
    ctx: &Ctx<'_>,
    r: &RegisterSpec,
    span: &Range<usize>,
    field: &str,
) -> Result<(FunctionCode, u16), CatalogueError> {
    match (r.address, r.register) {
        (Some(a), None) => Ok((
            r.function_code
                .or(ctx.default_function_code())
                .unwrap_or(FunctionCode::Holding),
            a,
        )),
        (None, Some(n)) => {
            let (fc, a) = modicon_to_protocol(n).ok_or_else(|| {
                ctx.error_at(
                    span.clone(),
                    format!("{field}.register"),
                    format!("{n} is not a 00001/10001/30001/40001-style register number"),
                )
            })?;
            if r.function_code.is_some_and(|f| f != fc) {
                return Err(ctx.error_at(
                    span.clone(),
                    format!("{field}.function_code"),
                    format!("register {n} is in the {fc} table, which contradicts function_code"),
                ));
            }
            Ok((fc, a))
        }
        (Some(_), Some(_)) => Err(ctx.error_at(
            span.clone(),
            field.to_string(),
            "give either `address` (0-based) or `register` (40001-style), not both",
        )),
        (None, None) => Err(ctx.error_at(
            span.clone(),
            field.to_string(),
            "missing `address` (0-based) or `register` (40001-style)",
        )),
    }
}

/// A register with the product's defaults applied, checked; a parameter's (`writable`)
/// must be writable.
fn resolve_register(
    ctx: &Ctx<'_>,
    r: &RegisterSpec,
    span: &Range<usize>,
    field: &str,
    writable: bool,
) -> Result<RegisterDef, CatalogueError> {
    let d = &ctx.spec.defaults;
    let (function_code, address) = resolve_address(ctx, r, span, field)?;
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
        function_code,
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
        ctx.error_at(span.clone(), format!("{field}{sub}"), msg)
    })?;
    if writable && !def.is_writable() {
        return Err(ctx.error_at(
            span.clone(),
            format!("{field}.access"),
            "a parameter must be writable (function code 1 or 3, access read_write or write)",
        ));
    }
    Ok(def)
}

/// The services of the product: those of its service sets, then its own; ids unique.
fn resolve_services(
    ctx: &Ctx<'_>,
    sets: &BTreeMap<&str, &Spanned<ServiceSet>>,
) -> Result<Vec<Service>, CatalogueError> {
    let p = ctx.spec;
    let mut services = Vec::new();
    let mut ids = HashSet::new();
    for (k, name) in p.service_sets.iter().enumerate() {
        let set = sets.get(name.as_str()).ok_or_else(|| {
            ctx.error(
                &format!("service_sets[{k}]"),
                format!("unknown service set {name:?}"),
            )
        })?;
        for (j, s) in set.get_ref().service.iter().enumerate() {
            let field = format!("service_set[{name}].service[{j}]");
            services.push(resolve_service(ctx, s, &field, &mut ids)?);
        }
    }
    for (j, s) in p.service.iter().enumerate() {
        let field = ctx.path(&format!("service[{j}]"));
        services.push(resolve_service(ctx, s, &field, &mut ids)?);
    }
    if services.is_empty() {
        return Err(ctx.error("service", "a product needs at least one service"));
    }
    Ok(services)
}

fn resolve_service(
    ctx: &Ctx<'_>,
    s: &Spanned<ServiceSpec>,
    field: &str,
    ids: &mut HashSet<String>,
) -> Result<Service, CatalogueError> {
    let spec = s.get_ref();
    let span = s.span();
    let fail =
        |sub: &str, message: String| ctx.error_at(span.clone(), format!("{field}.{sub}"), message);
    if !ids.insert(spec.id.clone()) {
        return Err(fail("id", format!("duplicate service id {:?}", spec.id)));
    }
    if spec.id.is_empty() || spec.id.contains('/') || spec.id.contains(char::is_whitespace) {
        return Err(fail(
            "id",
            format!(
                "service id {:?} must be non-empty, without '/' or spaces",
                spec.id
            ),
        ));
    }
    let interval = spec
        .recording_interval_min
        .or(ctx.spec.defaults.recording_interval_min)
        .unwrap_or(15);
    if !RECORDING_INTERVALS_MIN.contains(&interval) {
        return Err(fail(
            "recording_interval_min",
            format!("must be one of {RECORDING_INTERVALS_MIN:?}, found {interval}"),
        ));
    }
    check_measurand(spec).map_err(|(sub, message)| fail(sub, message))?;
    let register = resolve_register(
        ctx,
        &spec.register,
        &span,
        &format!("{field}.register"),
        false,
    )?;
    if let Some(value) = &spec.simulated {
        check_simulated(&register, value).map_err(|m| fail("simulated", m))?;
    }
    let counter = spec
        .measurand
        .is_some_and(|m| m.is_energy() || m == Measurand::PulseCount)
        || matches!(spec.category, Category::Energy | Category::Pulse);
    Ok(Service {
        id: spec.id.clone(),
        name: spec.name.clone(),
        quantity: spec.quantity.clone(),
        unit: spec.unit,
        category: spec.category,
        register,
        recording_interval_min: interval,
        description: spec.description.clone(),
        measurand: spec.measurand,
        phase: spec.phase,
        direction: spec.direction,
        tariff: spec.tariff,
        harmonic: spec.harmonic,
        partial: spec.partial,
        channel_kind: spec.channel_kind.unwrap_or(if counter {
            ChannelKind::Counter
        } else {
            ChannelKind::Instantaneous
        }),
        simulated: spec.simulated.clone(),
    })
}

/// The highest harmonic order a service may name.
const MAX_HARMONIC: u8 = 63;

/// Whether the measurand's companions (unit, phase, direction, tariff, harmonic order,
/// partial) fit it; on error, the field at fault and why.
fn check_measurand(spec: &ServiceSpec) -> Result<(), (&'static str, String)> {
    let Some(m) = spec.measurand else {
        let given = [
            ("phase", spec.phase.is_some()),
            ("direction", spec.direction.is_some()),
            ("tariff", spec.tariff.is_some()),
            ("harmonic", spec.harmonic.is_some()),
            ("partial", spec.partial),
        ];
        return match given.iter().find(|(_, set)| *set) {
            Some((name, _)) => Err((*name, format!("`{name}` needs a `measurand`"))),
            None => Ok(()),
        };
    };
    let units = m.units();
    if !units.is_empty() && !units.contains(&spec.unit) {
        let names: Vec<String> = units.iter().map(|u| format!("{:?}", u.symbol())).collect();
        return Err((
            "unit",
            format!(
                "a {m} service's unit is one of {}, found {:?}",
                names.join(", "),
                spec.unit.symbol()
            ),
        ));
    }
    if let Some(phase) = spec.phase {
        check_phase(m, phase).map_err(|message| ("phase", message))?;
    }
    if spec.direction.is_some() && !(m.is_power() || m.is_energy()) {
        return Err((
            "direction",
            format!("a {m} value has no direction (powers and energies have one)"),
        ));
    }
    match spec.tariff {
        Some(_) if !m.is_energy() => {
            return Err((
                "tariff",
                format!("only energy counters have a tariff, not {m}"),
            ));
        }
        Some(0) => return Err(("tariff", "tariffs count from 1, found 0".into())),
        _ => {}
    }
    let harmonic = matches!(m, Measurand::HarmonicVoltage | Measurand::HarmonicCurrent);
    match spec.harmonic {
        None if harmonic => {
            return Err((
                "harmonic",
                format!("a {m} service needs its `harmonic` order"),
            ));
        }
        Some(_) if !harmonic => {
            return Err((
                "harmonic",
                format!("only harmonic measurands have an order, not {m}"),
            ));
        }
        Some(order) if !(1..=MAX_HARMONIC).contains(&order) => {
            return Err((
                "harmonic",
                format!("must be 1..={MAX_HARMONIC}, found {order}"),
            ));
        }
        _ => {}
    }
    if spec.partial && !m.is_energy() {
        return Err((
            "partial",
            format!("only energy counters are partial, not {m}"),
        ));
    }
    Ok(())
}

/// Whether `phase` makes sense for `m`.
fn check_phase(m: Measurand, phase: Phase) -> Result<(), String> {
    let ok = match phase {
        _ if !m.has_phases() => false,
        Phase::L1 | Phase::L2 | Phase::L3 => true,
        Phase::L1L2 | Phase::L2L3 | Phase::L3L1 | Phase::LineToLine => m.is_voltage(),
        Phase::N => m.is_current(),
        Phase::Total => {
            m.is_power()
                || m.is_energy()
                || matches!(
                    m,
                    Measurand::Current | Measurand::PowerFactor | Measurand::CosPhi
                )
        }
        Phase::Average => !(m.is_power() || m.is_energy()),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "a {m} value cannot be about {phase:?} (\"{phase}\")"
        ))
    }
}

/// Whether a simulated value can be served in `def`: a text only in a string register, a
/// number in any other, encodable (and within the write range of a parameter).
fn check_simulated(def: &RegisterDef, value: &Simulated) -> Result<(), String> {
    let bit = def.function_code.is_bit_table() || def.data_type == DataType::Bit;
    let v = match (value, def.data_type) {
        (Simulated::Text(t), DataType::String) => Value::Text(t.clone()),
        (Simulated::Text(t), other) => {
            return Err(format!(
                "a text ({t:?}) needs a string register, this one is {}",
                other.name()
            ));
        }
        (Simulated::Number(n), _) if !n.is_finite() => {
            return Err(format!("must be finite, found {n}"));
        }
        (Simulated::Number(n), DataType::String) => Value::Text(n.to_string()),
        (Simulated::Number(n), _) if bit => Value::Bool(*n != 0.0),
        (Simulated::Number(n), DataType::Flags) if *n >= 0.0 && n.fract() == 0.0 => {
            Value::Flags(*n as u64)
        }
        (Simulated::Number(n), _) => Value::Number(*n),
    };
    if let (Some(r), Value::Number(n)) = (def.write_range, &v)
        && !(r.min..=r.max).contains(n)
    {
        return Err(format!(
            "{n} is outside the write range {}..={}",
            r.min, r.max
        ));
    }
    // A value scaled by another register is checked by the simulator, which picks the scale.
    if def.scale_register.is_none() {
        def.encode_scaled(&v, None)
            .map_err(|e| format!("{value} cannot be served in this register: {e}"))?;
    }
    Ok(())
}

fn resolve_parameters(
    ctx: &Ctx<'_>,
    specs: &[Spanned<ParameterSpec>],
) -> Result<Vec<Parameter>, CatalogueError> {
    let mut parameters: Vec<Parameter> = Vec::new();
    for (j, s) in specs.iter().enumerate() {
        let spec = s.get_ref();
        let field = ctx.path(&format!("parameter[{j}]"));
        let fail =
            |sub: &str, message: String| ctx.error_at(s.span(), format!("{field}.{sub}"), message);
        if parameters.iter().any(|x| x.id == spec.id) {
            return Err(fail("id", format!("duplicate parameter id {:?}", spec.id)));
        }
        if let Some(m) = spec.measurand.filter(|m| *m != Measurand::UnitId) {
            return Err(fail(
                "measurand",
                format!("a parameter's measurand can only be \"unit_id\", found {m:?} (\"{m}\")"),
            ));
        }
        let register = resolve_register(
            ctx,
            &spec.register,
            &s.span(),
            &format!("{field}.register"),
            true,
        )?;
        if let Some(value) = &spec.simulated {
            check_simulated(&register, value).map_err(|m| fail("simulated", m))?;
        }
        parameters.push(Parameter {
            id: spec.id.clone(),
            name: spec.name.clone(),
            unit: spec.unit,
            register,
            description: spec.description.clone(),
            measurand: spec.measurand,
            simulated: spec.simulated.clone(),
        });
    }
    Ok(parameters)
}

/// The product's `simulated` table: values for its services and parameters (including
/// those of shared service sets) that replace theirs.
fn apply_simulated(
    ctx: &Ctx<'_>,
    services: &mut [Service],
    parameters: &mut [Parameter],
) -> Result<(), CatalogueError> {
    for (id, value) in &ctx.spec.simulated {
        let field = ctx.path(&format!("simulated.{id}"));
        let fail = |message: String| ctx.error_at(value.span(), field.clone(), message);
        let value = value.get_ref();
        let (def, slot) = if let Some(s) = services.iter_mut().find(|s| &s.id == id) {
            (&s.register, &mut s.simulated)
        } else if let Some(p) = parameters.iter_mut().find(|p| &p.id == id) {
            (&p.register, &mut p.simulated)
        } else {
            return Err(fail(format!(
                "the product has no service or parameter {id:?}"
            )));
        };
        check_simulated(def, value).map_err(fail)?;
        *slot = Some(value.clone());
    }
    Ok(())
}

fn resolve_signature(
    ctx: &Ctx<'_>,
    specs: &[Spanned<SignatureSpec>],
) -> Result<Vec<SignatureCheck>, CatalogueError> {
    let mut signature = Vec::new();
    for (j, s) in specs.iter().enumerate() {
        let spec = s.get_ref();
        let field = ctx.path(&format!("signature[{j}]"));
        let expect = resolve_expect(spec)
            .map_err(|(sub, message)| ctx.error_at(s.span(), format!("{field}{sub}"), message))?;
        let register = resolve_register(
            ctx,
            &spec.register,
            &s.span(),
            &format!("{field}.register"),
            false,
        )?;
        signature.push(SignatureCheck { register, expect });
    }
    Ok(signature)
}

/// The one expectation of a signature read; on error the sub-field (`""` or `.within`).
fn resolve_expect(spec: &SignatureSpec) -> Result<Expect, (&'static str, String)> {
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
            return Err((
                ".within",
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
    match (expects.pop(), expects.is_empty()) {
        (Some(e), true) => Ok(e),
        _ => Err((
            "",
            "give exactly one of text, prefix, any_text, number, any_number, within".into(),
        )),
    }
}

fn resolve_alarms(
    ctx: &Ctx<'_>,
    specs: &[Spanned<AlarmSpec>],
    services: &[Service],
) -> Result<Vec<AlarmTemplate>, CatalogueError> {
    let mut alarms = Vec::new();
    for (j, s) in specs.iter().enumerate() {
        let a = s.get_ref();
        let field = ctx.path(&format!("alarm[{j}]"));
        if !services.iter().any(|x| x.id == a.service) {
            return Err(ctx.error_at(
                s.span(),
                format!("{field}.service"),
                format!("unknown service {:?}", a.service),
            ));
        }
        check_alarm(a)
            .map_err(|(sub, message)| ctx.error_at(s.span(), format!("{field}.{sub}"), message))?;
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
    Ok(alarms)
}

/// Hysteresis, and thresholds that fit the alarm's kind; on error the field and why.
fn check_alarm(a: &AlarmSpec) -> Result<(), (&'static str, String)> {
    if a.hysteresis < 0.0 || !a.hysteresis.is_finite() {
        return Err((
            "hysteresis",
            format!("must be >= 0, found {}", a.hysteresis),
        ));
    }
    match (a.kind, a.threshold, a.pre_alarm) {
        (AlarmKind::Binary, Some(_), _) | (AlarmKind::Binary, _, Some(_)) => {
            Err(("threshold", "a binary alarm takes no threshold".into()))
        }
        (AlarmKind::High | AlarmKind::Low, None, _) => {
            Err(("threshold", "a threshold alarm needs `threshold`".into()))
        }
        (AlarmKind::High, Some(t), Some(pre)) if pre >= t => Err((
            "pre_alarm",
            format!("a high alarm's pre-alarm must be below its threshold {t}, found {pre}"),
        )),
        (AlarmKind::Low, Some(t), Some(pre)) if pre <= t => Err((
            "pre_alarm",
            format!("a low alarm's pre-alarm must be above its threshold {t}, found {pre}"),
        )),
        _ => Ok(()),
    }
}

/// Every service and signature read must be readable under the product's limits.
fn check_readable(ctx: &Ctx<'_>, product: &Product) -> Result<(), CatalogueError> {
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
            return Err(ctx.error(
                "limits",
                format!(
                    "{what} at {} {:#06x} cannot be read within the product's limits (blocks, \
                     forbidden ranges, max registers)",
                    r.function_code, r.address
                ),
            ));
        }
    }
    Ok(())
}
