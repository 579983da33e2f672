//! The physics behind a simulated meter: a load profile driving voltages, currents, powers,
//! power factor, distortion and temperature, and energy counters that integrate the powers
//! over the simulator's clock.
//!
//! Everything instantaneous is a pure function of `(device seed, time)`: smooth "value
//! noise" (random values at fixed knots, smoothly interpolated), so two reads at the same
//! manual-clock instant see exactly the same values and integration is accurate.
//!
//! Per phase k: `S = V * I`, `P = S * PF`, `Q = sqrt(S^2 - P^2)` (inductive load, so `Q > 0`),
//! totals are sums over the phases the product has. Energy counters integrate `P` (import
//! when positive, export when negative), `Q` and `S` with the trapezoid rule in steps of at
//! most one second.

use std::f64::consts::PI;

use chrono::{DateTime, Timelike, Utc};

use crate::catalogue::{Category, Service};
use crate::value::Unit;

/// Nominal phase-to-neutral voltage (V).
pub const NOMINAL_VOLTAGE: f64 = 230.0;
/// Nominal frequency (Hz).
pub const NOMINAL_FREQUENCY: f64 = 50.0;
/// The firmware (and hardware) version every simulated device reports: in its version
/// registers (major version in the top byte) and as object 0x02 (MajorMinorRevision) of
/// "Read Device Identification".
pub const FIRMWARE_VERSION: &str = "1.0.0";
/// Number of tariffs the counters keep.
pub const TARIFFS: usize = 8;

/// One of the `[-1, 1]` pseudo-random values of a noise stream, fixed for `(seed, stream, knot)`.
fn hashed(seed: u64, stream: u64, knot: i64) -> f64 {
    // SplitMix64 finaliser over the three inputs: a hash, not a generator state.
    let mut z = seed
        ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (knot as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

/// Smooth noise in `[-1, 1]`: random values every `period` seconds, smoothstep in between.
fn noise(seed: u64, stream: u64, t: f64, period: f64) -> f64 {
    let x = t / period;
    let k = x.floor();
    let f = x - k;
    let a = hashed(seed, stream, k as i64);
    let b = hashed(seed, stream, k as i64 + 1);
    a + (b - a) * f * f * (3.0 - 2.0 * f)
}

/// A deterministic seed from a text and a number.
pub(crate) fn seed_of(text: &str, n: u64) -> u64 {
    text.bytes()
        .fold(0xCBF2_9CE4_8422_2325u64 ^ n, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
        })
        .wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Instantaneous electrical state at one instant. Phase arrays always hold three phases;
/// a single-phase device only uses index 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Seconds since the Unix epoch.
    pub t: f64,
    /// Number of phases of the device (1 or 3).
    pub phases: usize,
    /// Phase-to-neutral voltages (V).
    pub v: [f64; 3],
    /// Phase-to-phase voltages L1-L2, L2-L3, L3-L1 (V).
    pub v_ll: [f64; 3],
    /// Phase currents (A).
    pub i: [f64; 3],
    /// Neutral current (A).
    pub i_n: f64,
    /// Power factors (0.85..0.99, lagging).
    pub pf: [f64; 3],
    /// Active powers (W).
    pub p: [f64; 3],
    /// Reactive powers (var).
    pub q: [f64; 3],
    /// Apparent powers (VA).
    pub s: [f64; 3],
    /// Frequency (Hz).
    pub f: f64,
    /// Voltage THD (%).
    pub thd_v: [f64; 3],
    /// Current THD (%).
    pub thd_i: [f64; 3],
    /// Internal temperature (degC).
    pub temperature: f64,
    /// Active tariff, 0-based.
    pub tariff: usize,
}

impl Snapshot {
    fn sum(&self, x: &[f64; 3]) -> f64 {
        x[..self.phases].iter().sum()
    }

    fn avg(&self, x: &[f64; 3]) -> f64 {
        self.sum(x) / self.phases as f64
    }

    /// Total active power (W).
    pub fn p_total(&self) -> f64 {
        self.sum(&self.p)
    }

    /// Total reactive power (var).
    pub fn q_total(&self) -> f64 {
        self.sum(&self.q)
    }

    /// Total apparent power (VA), the arithmetic sum of the phases.
    pub fn s_total(&self) -> f64 {
        self.sum(&self.s)
    }
}

/// The load and supply of one simulated meter.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadModel {
    seed: u64,
    phases: usize,
    /// Mean current per phase at the daily mean load (A).
    base_current: [f64; 3],
    tariff_override: Option<usize>,
}

impl LoadModel {
    /// A load for a device of `phases` phases (1 or 3), reproducible from `seed`.
    pub fn new(seed: u64, phases: usize) -> Self {
        let phases = if phases >= 3 { 3 } else { 1 };
        let level = 6.0 + 14.0 * (hashed(seed, 1, 0) + 1.0) / 2.0; // 6..20 A
        let mut base_current = [0.0; 3];
        for (k, c) in base_current.iter_mut().enumerate() {
            *c = level * (1.0 + 0.12 * hashed(seed, 2, k as i64)); // unbalance +-12 %
        }
        Self {
            seed,
            phases,
            base_current,
            tariff_override: None,
        }
    }

    /// Force the active tariff (0-based), or `None` for the time-of-day scheme
    /// (tariff 1 from 06:00 to 22:00 UTC, tariff 2 at night).
    pub fn set_tariff(&mut self, tariff: Option<usize>) {
        self.tariff_override = tariff.map(|t| t.min(TARIFFS - 1));
    }

    fn tariff_at(&self, time: &DateTime<Utc>) -> usize {
        self.tariff_override
            .unwrap_or(if (6..22).contains(&time.hour()) { 0 } else { 1 })
    }

    /// Daily load shape, 0.2..1.0 around a mean of 0.6.
    fn shape(t: f64) -> f64 {
        let h = (t / 3600.0).rem_euclid(24.0);
        0.6 + 0.25 * (2.0 * PI * (h - 9.0) / 24.0).sin()
            + 0.15 * (4.0 * PI * (h - 7.0) / 24.0).sin()
    }

    /// The state at `time`.
    pub fn snapshot(&self, time: &DateTime<Utc>) -> Snapshot {
        let t = time.timestamp_micros() as f64 / 1e6;
        let sd = self.seed;
        let shape = Self::shape(t);
        let mut v = [0.0; 3];
        let mut i = [0.0; 3];
        let mut pf = [0.0; 3];
        let mut p = [0.0; 3];
        let mut q = [0.0; 3];
        let mut s = [0.0; 3];
        let mut thd_v = [0.0; 3];
        let mut thd_i = [0.0; 3];
        for k in 0..3 {
            let ks = k as u64;
            v[k] = NOMINAL_VOLTAGE
                * (1.0 + 0.008 * noise(sd, 20 + ks, t, 5.0) + 0.006 * noise(sd, 25 + ks, t, 300.0));
            i[k] = self.base_current[k]
                * shape
                * (1.0 + 0.10 * noise(sd, 10 + ks, t, 60.0))
                * (1.0 + 0.01 * noise(sd, 15 + ks, t, 1.0));
            pf[k] = (0.93 + 0.045 * noise(sd, 40 + ks, t, 120.0)).clamp(0.85, 0.99);
            s[k] = v[k] * i[k];
            p[k] = s[k] * pf[k];
            q[k] = (s[k] * s[k] - p[k] * p[k]).max(0.0).sqrt();
            thd_v[k] = 2.5 + 1.2 * noise(sd, 60 + ks, t, 300.0);
            thd_i[k] = 15.0 + 10.0 * noise(sd, 70 + ks, t, 120.0);
        }
        // Phasors: voltage angles 0, -120, +120 degrees; currents lag by acos(PF).
        let angle = |k: usize| -2.0 * PI / 3.0 * k as f64;
        let mut v_ll = [0.0; 3];
        for (k, out) in v_ll.iter_mut().enumerate() {
            let j = (k + 1) % 3;
            let (a, b) = (angle(k), angle(j));
            let re = v[k] * a.cos() - v[j] * b.cos();
            let im = v[k] * a.sin() - v[j] * b.sin();
            *out = re.hypot(im);
        }
        let i_n = if self.phases == 3 {
            let (mut re, mut im) = (0.0, 0.0);
            for k in 0..3 {
                let a = angle(k) - pf[k].acos();
                re += i[k] * a.cos();
                im += i[k] * a.sin();
            }
            re.hypot(im)
        } else {
            i[0]
        };
        let load = i[..self.phases].iter().sum::<f64>()
            / self.base_current[..self.phases].iter().sum::<f64>();
        Snapshot {
            t,
            phases: self.phases,
            v,
            v_ll,
            i,
            i_n,
            pf,
            p,
            q,
            s,
            f: NOMINAL_FREQUENCY + 0.03 * noise(sd, 50, t, 10.0) + 0.02 * noise(sd, 51, t, 600.0),
            thd_v,
            thd_i,
            temperature: 24.0 + 8.0 * load.min(2.0) + 1.5 * noise(sd, 80, t, 600.0),
            tariff: self.tariff_at(time),
        }
    }
}

/// Kind of an energy counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnergyKind {
    /// Wh.
    Active = 0,
    /// varh.
    Reactive = 1,
    /// VAh.
    Apparent = 2,
}

/// Direction of an energy counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Positive power (consumed).
    Import,
    /// Negative power (delivered).
    Export,
    /// Import minus export.
    Net,
    /// Import plus export.
    Sum,
}

const COUNTERS: usize = 3 * 2 * 3 * TARIFFS;

fn idx(kind: EnergyKind, export: bool, phase: usize, tariff: usize) -> usize {
    ((kind as usize * 2 + usize::from(export)) * 3 + phase) * TARIFFS + tariff
}

/// Energy counters (Wh, varh, VAh) per kind, direction, phase and tariff, with the base of
/// the user-resettable partial counters.
#[derive(Debug, Clone, PartialEq)]
pub struct EnergyCounters {
    total: Vec<f64>,
    partial_base: Vec<f64>,
    /// Last integrated instant (seconds since the epoch).
    last: f64,
}

impl EnergyCounters {
    /// Plausible non-zero starting counters, reproducible from the model's seed.
    pub fn new(model: &LoadModel, start: &DateTime<Utc>) -> Self {
        let seed = model.seed;
        let import_kwh = 2_000.0 + 18_000.0 * (hashed(seed, 90, 0) + 1.0) / 2.0;
        let weights: Vec<f64> = (0..3)
            .map(|k| {
                if k < model.phases {
                    model.base_current[k]
                } else {
                    0.0
                }
            })
            .collect();
        let wsum: f64 = weights.iter().sum();
        let mut total = vec![0.0; COUNTERS];
        let split = [0.65, 0.35];
        for (k, w) in weights.iter().enumerate() {
            let share = import_kwh * 1000.0 * w / wsum;
            for (tariff, part) in split.iter().enumerate() {
                let e = share * part;
                total[idx(EnergyKind::Active, false, k, tariff)] = e;
                total[idx(EnergyKind::Active, true, k, tariff)] = e * 0.004;
                total[idx(EnergyKind::Reactive, false, k, tariff)] = e * 0.38;
                total[idx(EnergyKind::Reactive, true, k, tariff)] = e * 0.002;
                total[idx(EnergyKind::Apparent, false, k, tariff)] = e / 0.93;
            }
        }
        // Partial counters were reset some while ago: they hold a tenth of the total.
        let partial_base = total.iter().map(|e| e * 0.9).collect();
        Self {
            total,
            partial_base,
            last: start.timestamp_micros() as f64 / 1e6,
        }
    }

    /// Integrate the model's powers from the last integrated instant up to `now`.
    /// Time that has already been integrated (a clock set backwards) is ignored.
    pub fn advance(&mut self, model: &LoadModel, now: &DateTime<Utc>) {
        let t_end = now.timestamp_micros() as f64 / 1e6;
        let dt = t_end - self.last;
        if dt <= 0.0 {
            return;
        }
        let steps = (dt.ceil() as usize).clamp(1, 20_000);
        let h = dt / steps as f64;
        let start = self.last;
        let at = |t: f64| {
            let micros = (t * 1e6).round() as i64;
            let time = DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or(*now);
            model.snapshot(&time)
        };
        let mut a = at(start);
        for n in 1..=steps {
            let b = at(start + h * n as f64);
            let tariff = a.tariff;
            for k in 0..model.phases {
                let pairs = [
                    (EnergyKind::Active, a.p[k], b.p[k]),
                    (EnergyKind::Reactive, a.q[k], b.q[k]),
                    (EnergyKind::Apparent, a.s[k], b.s[k]),
                ];
                for (kind, x, y) in pairs {
                    let e = (x + y) / 2.0 * h / 3600.0;
                    let export = e < 0.0;
                    self.total[idx(kind, export, k, tariff)] += e.abs();
                }
            }
            a = b;
        }
        self.last = t_end;
    }

    /// A counter in Wh / varh / VAh. `phase` and `tariff` are 0-based; `None` sums them.
    pub fn value(
        &self,
        kind: EnergyKind,
        dir: Direction,
        phase: Option<usize>,
        tariff: Option<usize>,
        partial: bool,
    ) -> f64 {
        let one = |export: bool| {
            let mut sum = 0.0;
            for k in 0..3 {
                if phase.is_some_and(|p| p != k) {
                    continue;
                }
                for t in 0..TARIFFS {
                    if tariff.is_some_and(|x| x != t) {
                        continue;
                    }
                    let i = idx(kind, export, k, t);
                    sum += if partial {
                        self.total[i] - self.partial_base[i]
                    } else {
                        self.total[i]
                    };
                }
            }
            sum
        };
        match dir {
            Direction::Import => one(false),
            Direction::Export => one(true),
            Direction::Net => one(false) - one(true),
            Direction::Sum => one(false) + one(true),
        }
    }

    /// Reset every partial counter to zero.
    pub fn reset_partial(&mut self) {
        self.partial_base.clone_from(&self.total);
    }
}

/// Which phase(s) a quantity is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phases {
    /// One phase (0-based).
    One(usize),
    /// Between two phases (phase-to-phase voltage), 0-based.
    Between(usize, usize),
    /// Neutral conductor.
    Neutral,
    /// Average over the phases.
    Average,
    /// Sum over the phases.
    Sum,
}

/// What physical quantity a service shows, decided once from its category, unit and the
/// keywords of its id, quantity and name.
#[derive(Debug, Clone, PartialEq)]
pub enum Measure {
    /// Voltage (V).
    Voltage(Phases),
    /// Current (A).
    Current(Phases),
    /// Active power (W).
    ActivePower(Phases),
    /// Reactive power (var).
    ReactivePower(Phases),
    /// Apparent power (VA).
    ApparentPower(Phases),
    /// Power factor (ratio).
    PowerFactor(Phases),
    /// Frequency (Hz).
    Frequency,
    /// THD in % (`current` true for current THD).
    Thd {
        /// Current rather than voltage.
        current: bool,
        /// Phase.
        phases: Phases,
    },
    /// Harmonic of order `order` in % of the fundamental (or absolute in V / A).
    Harmonic {
        /// Current rather than voltage.
        current: bool,
        /// Order (1 = fundamental).
        order: u32,
        /// Phase.
        phases: Phases,
    },
    /// Temperature (degC).
    Temperature,
    /// An energy counter (Wh / varh / VAh).
    Energy {
        /// Kind.
        kind: EnergyKind,
        /// Direction.
        dir: Direction,
        /// Phase, 0-based.
        phase: Option<usize>,
        /// Tariff, 0-based.
        tariff: Option<usize>,
        /// Partial (resettable) counter.
        partial: bool,
    },
    /// Active tariff, 1-based.
    ActiveTariff,
    /// Pulse count (1 pulse per Wh imported).
    Pulses,
    /// Wiring: 4 (three-phase four-wire) or 1 (single phase), Hager's code.
    NetworkType,
    /// A constant number (status words read 0, configuration 1, ...).
    Constant(f64),
    /// A version: "1.0.0" as text, or a major version of 1 in the top byte of a number
    /// (the "one byte per level from the MSB" coding).
    Version,
    /// A text (identification).
    Text(String),
}

/// Lower-case alphanumeric tokens of the service's id, quantity and name.
fn tokens(service: &Service) -> Vec<String> {
    [&service.id, &service.quantity, &service.name]
        .iter()
        .flat_map(|s| {
            s.split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|t| !t.is_empty())
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Phases named by the tokens: `l1`, `l2n`, `l1l2`, `l12`, `u23`, `v1`, `i3`, `m3`
/// (sub-meter of a multi-meter), `phase2`, `ph3`. Other letters with a digit (`s2` for a CT
/// secondary side, `t1` for a tariff, `h3` for a harmonic) are not phases.
pub(crate) fn phase_tokens(tokens: &[String]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut push = |d: u8| {
        let p = usize::from(d - b'1');
        if !out.contains(&p) {
            out.push(p);
        }
    };
    let digit = |c: u8| (b'1'..=b'3').contains(&c);
    for t in tokens {
        let b = t.as_bytes();
        if let Some(rest) = t.strip_prefix("phase").or_else(|| t.strip_prefix("ph")) {
            if rest.len() == 1 && digit(rest.as_bytes()[0]) {
                push(rest.as_bytes()[0]);
            }
            continue;
        }
        // letter + one or two phase digits, possibly repeated ("l1l2") and an "n" suffix.
        let mut i = 0;
        let mut found = Vec::new();
        let mut ok = !b.is_empty();
        while i < b.len() {
            let c = b[i];
            if matches!(c, b'l' | b'm' | b'u' | b'v' | b'i') && i + 1 < b.len() && digit(b[i + 1]) {
                found.push(b[i + 1]);
                i += 2;
                if i < b.len() && digit(b[i]) {
                    found.push(b[i]);
                    i += 1;
                }
            } else if c == b'n' && !found.is_empty() && i + 1 == b.len() {
                i += 1;
            } else {
                ok = false;
                break;
            }
        }
        if ok {
            for d in found {
                push(d);
            }
        }
    }
    out
}

fn has(tokens: &[String], words: &[&str]) -> bool {
    tokens.iter().any(|t| words.contains(&t.as_str()))
}

fn has_prefix(tokens: &[String], prefixes: &[&str]) -> bool {
    tokens
        .iter()
        .any(|t| prefixes.iter().any(|p| t.starts_with(p)))
}

fn numbered(tokens: &[String], prefixes: &[&str]) -> Option<u32> {
    for (n, t) in tokens.iter().enumerate() {
        for p in prefixes {
            if let Some(rest) = t.strip_prefix(p) {
                if !rest.is_empty() && rest.bytes().all(|c| c.is_ascii_digit()) {
                    return rest.parse().ok();
                }
                if rest.is_empty()
                    && let Some(next) = tokens.get(n + 1)
                    && !next.is_empty()
                    && next.bytes().all(|c| c.is_ascii_digit())
                {
                    return next.parse().ok();
                }
            }
        }
    }
    None
}

fn phases_of(tokens: &[String], category: Category, three_phase: bool) -> Phases {
    let ph = phase_tokens(tokens);
    match ph.as_slice() {
        [a, b, ..] => Phases::Between(*a, *b),
        [a] => Phases::One(*a),
        [] if category == Category::Current && has(tokens, &["n", "neutral", "vector"]) => {
            Phases::Neutral
        }
        // Only currents and powers add up over the phases; a "total" THD or voltage is an
        // average.
        [] if matches!(category, Category::Current | Category::Power)
            && has(tokens, &["sum", "total", "tot"]) =>
        {
            Phases::Sum
        }
        [] if category == Category::Voltage
            && three_phase
            && (has(tokens, &["ll", "pp", "lines", "between"])
                || has_prefix(tokens, &["phase_to_phase", "line_to_line"])
                || tokens.windows(3).any(|w| {
                    (w[0] == "line" && w[1] == "to" && w[2] == "line")
                        || (w[0] == "phase" && w[1] == "to" && w[2] == "phase")
                })) =>
        {
            Phases::Between(3, 3)
        }
        [] => Phases::Average,
    }
}

/// Whether a service's catalogue data says what it is (a measurand or a simulated value):
/// then the simulator takes everything from the data and nothing from its id or name.
pub fn is_described(service: &Service) -> bool {
    service.measurand.is_some() || service.simulated.is_some()
}

/// Whether a product's services name a second or third phase (else it is single-phase):
/// from their `phase` when the data describes them, else from the keywords of their ids.
pub fn is_three_phase<'a>(services: impl IntoIterator<Item = &'a Service>) -> bool {
    services.into_iter().any(|s| {
        if is_described(s) {
            s.phase
                .is_some_and(|p| p.single().is_some_and(|k| k > 0) || p.is_line_to_line())
        } else {
            phase_tokens(&tokens(s)).iter().any(|p| *p > 0)
        }
    })
}

/// Decide what a service shows: from its catalogue data ([`from_data`]) when it has a
/// measurand or a simulated value, else guessed from the keywords of its id, quantity and
/// name ([`guess`]), the fallback for user files without that data.
pub fn classify(service: &Service, three_phase: bool, ident: &Identity) -> Measure {
    from_data(service, ident).unwrap_or_else(|| guess(service, three_phase, ident))
}

/// What a service shows according to its catalogue data, or `None` when the data does not
/// say (no measurand, no simulated value).
pub fn from_data(service: &Service, ident: &Identity) -> Option<Measure> {
    use crate::catalogue::{Direction as D, Measurand as M, Phase as P, Simulated};
    match &service.simulated {
        Some(Simulated::Number(n)) => return Some(Measure::Constant(*n)),
        Some(Simulated::Text(t)) => return Some(Measure::Text(t.clone())),
        None => {}
    }
    let m = service.measurand?;
    let phase = service.phase;
    let phases = match (phase, phase.and_then(P::single), phase.and_then(P::pair)) {
        (_, Some(k), _) => Phases::One(k),
        (_, _, Some((a, b))) => Phases::Between(a, b),
        (Some(P::LineToLine), ..) => Phases::Between(3, 3),
        (Some(P::N), ..) => Phases::Neutral,
        (Some(P::Total), ..) => Phases::Sum,
        // Powers and energies of the whole device are totals; other values averages.
        (None, ..) if m.is_power() || m.is_energy() => Phases::Sum,
        _ => Phases::Average,
    };
    let energy = |kind| {
        let dir = match service.direction.unwrap_or(D::Import) {
            D::Import => Direction::Import,
            D::Export => Direction::Export,
            D::Sum => Direction::Sum,
            D::Net => Direction::Net,
        };
        Measure::Energy {
            kind,
            dir,
            phase: service.phase.and_then(|p| p.single()),
            tariff: service.tariff.map(|t| usize::from(t) - 1),
            partial: service.partial,
        }
    };
    let order = u32::from(service.harmonic.unwrap_or(3));
    Some(match m {
        M::Voltage => Measure::Voltage(phases),
        M::Current => Measure::Current(phases),
        M::ActivePower => Measure::ActivePower(phases),
        M::ReactivePower => Measure::ReactivePower(phases),
        M::ApparentPower => Measure::ApparentPower(phases),
        M::PowerFactor | M::CosPhi => Measure::PowerFactor(match phases {
            Phases::One(k) => Phases::One(k),
            _ => Phases::Average,
        }),
        M::Frequency => Measure::Frequency,
        M::ThdVoltage | M::ThdCurrent => Measure::Thd {
            current: m == M::ThdCurrent,
            phases,
        },
        M::HarmonicVoltage | M::HarmonicCurrent => Measure::Harmonic {
            current: m == M::HarmonicCurrent,
            order,
            phases,
        },
        M::Temperature => Measure::Temperature,
        M::ActiveEnergy => energy(EnergyKind::Active),
        M::ReactiveEnergy => energy(EnergyKind::Reactive),
        M::ApparentEnergy => energy(EnergyKind::Apparent),
        M::PulseCount => Measure::Pulses,
        M::ActiveTariff => Measure::ActiveTariff,
        M::Vendor => Measure::Text(ident.vendor.clone()),
        M::Model => Measure::Text(ident.model.clone()),
        M::SerialNumber => Measure::Text(ident.serial.clone()),
        M::FirmwareVersion | M::HardwareVersion => Measure::Version,
        M::UnitId => Measure::Constant(f64::from(ident.unit)),
    })
}

/// Guess what a service shows from its category, unit and the keywords of its id,
/// quantity and name: the fallback for services whose catalogue data has no measurand.
pub fn guess(service: &Service, three_phase: bool, ident: &Identity) -> Measure {
    let tk = tokens(service);
    let unit = service.unit;
    let phases = phases_of(&tk, service.category, three_phase);
    let current_hint = matches!(unit, Unit::A)
        || has(
            &tk,
            &[
                "i", "current", "currents", "curr", "ithd", "thdi", "amp", "amps",
            ],
        );
    match service.category {
        Category::Voltage => Measure::Voltage(phases),
        Category::Current => Measure::Current(phases),
        Category::Power => match unit {
            Unit::W | Unit::KW | Unit::MW => Measure::ActivePower(phases),
            Unit::Var | Unit::Kvar => Measure::ReactivePower(phases),
            Unit::VA | Unit::KVA => Measure::ApparentPower(phases),
            _ if has(&tk, &["reactive", "q", "var", "kvar"]) => Measure::ReactivePower(phases),
            _ if has(&tk, &["apparent", "s", "va", "kva"]) => Measure::ApparentPower(phases),
            _ => Measure::ActivePower(phases),
        },
        Category::PowerFactor => Measure::PowerFactor(phases),
        Category::Frequency => Measure::Frequency,
        Category::Thd => Measure::Thd {
            current: current_hint,
            phases,
        },
        Category::Harmonic => Measure::Harmonic {
            current: current_hint,
            order: numbered(&tk, &["h", "harmonic", "harm", "order", "rank"])
                .filter(|o| (1..=63).contains(o))
                .unwrap_or(3),
            phases,
        },
        Category::Temperature => Measure::Temperature,
        Category::Energy => classify_energy(&tk, unit, phases),
        Category::Pulse => Measure::Pulses,
        Category::Status if has_prefix(&tk, &["tariff", "tarif"]) => {
            if has(&tk, &["number", "available", "count", "nb"]) {
                Measure::Constant(TARIFFS as f64)
            } else if has(&tk, &["mode", "input", "driven"]) {
                Measure::Constant(1.0)
            } else {
                Measure::ActiveTariff
            }
        }
        Category::Status | Category::Configuration if has(&tk, &["overflow"]) => {
            if has(&tk, &["value", "limit", "max"]) {
                Measure::Constant(10_000_000.0)
            } else {
                Measure::Constant(0.0)
            }
        }
        Category::Status | Category::Configuration if has(&tk, &["count", "counter"]) => {
            Measure::Constant(1.0)
        }
        Category::Status => Measure::Constant(0.0),
        Category::Configuration if has(&tk, &["network", "wiring"]) => Measure::NetworkType,
        Category::Configuration => Measure::Constant(1.0),
        Category::Identification => {
            if has(&tk, &["url", "www", "web"]) {
                Measure::Text(format!(
                    "http://www.{}.example",
                    ident
                        .vendor
                        .to_ascii_lowercase()
                        .replace(|c: char| !c.is_ascii_alphanumeric(), "")
                ))
            } else if has(&tk, &["vendor", "manufacturer", "maker", "brand"]) {
                Measure::Text(ident.vendor.clone())
            } else if has(&tk, &["serial", "sn"]) {
                Measure::Text(ident.serial.clone())
            } else if has(&tk, &["version", "firmware", "fw", "hw", "sw", "revision"]) {
                Measure::Version
            } else if has(&tk, &["day", "week"]) {
                Measure::Constant(100.0)
            } else if has(&tk, &["year"]) {
                Measure::Constant(2023.0)
            } else if has(&tk, &["site", "country", "plant"]) {
                Measure::Text("I".into())
            } else {
                Measure::Text(ident.model.clone())
            }
        }
    }
}

fn classify_energy(tk: &[String], unit: Unit, phases: Phases) -> Measure {
    let kind = match unit {
        Unit::Varh | Unit::Kvarh => EnergyKind::Reactive,
        _ if has(tk, &["reactive", "er", "varh", "kvarh", "q"]) => EnergyKind::Reactive,
        _ if has(tk, &["apparent", "es", "vah", "kvah", "s"]) => EnergyKind::Apparent,
        _ => EnergyKind::Active,
    };
    let export = has(
        tk,
        &[
            "export",
            "exported",
            "exp",
            "neg",
            "negative",
            "minus",
            "generated",
            "generation",
            "produced",
            "production",
            "feed",
            "feedin",
            "injected",
            "returned",
            "reverse",
            "capacitive",
            "cap",
            "delivered",
        ],
    );
    let import = has(
        tk,
        &[
            "import",
            "imported",
            "imp",
            "pos",
            "positive",
            "plus",
            "consumed",
            "consumption",
            "forward",
            "inductive",
            "ind",
            "received",
        ],
    );
    let dir = if has(tk, &["net"]) {
        Direction::Net
    } else if export && import {
        Direction::Sum
    } else if export {
        Direction::Export
    } else {
        Direction::Import
    };
    let partial = has(
        tk,
        &[
            "partial",
            "part",
            "p",
            "resettable",
            "trip",
            "reset",
            "user",
        ],
    );
    let tariff = numbered(tk, &["t", "tariff", "tarif", "rate"])
        .filter(|t| (1..=TARIFFS as u32).contains(t))
        .map(|t| t as usize - 1);
    let phase = match phases {
        Phases::One(p) => Some(p),
        _ => None,
    };
    Measure::Energy {
        kind,
        dir,
        phase,
        tariff,
        partial,
    }
}

/// Texts identification services fall back to.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// Vendor name.
    pub vendor: String,
    /// Model / product code.
    pub model: String,
    /// Serial number.
    pub serial: String,
    /// The device's unit id.
    pub unit: u8,
}

/// Share of harmonic `order` in % of the fundamental, given the THD.
fn harmonic_percent(order: u32, thd: f64, current: bool) -> f64 {
    if order <= 1 {
        return 100.0;
    }
    if order.is_multiple_of(2) {
        return thd * 0.03;
    }
    // Odd orders fall off roughly as 1/h; triplens are strong in currents (neutral loads).
    let weight = match (order, current) {
        (3, true) => 0.70,
        (3, false) => 0.45,
        (5, _) => 0.60,
        (7, _) => 0.40,
        (9, _) => 0.20,
        (11, _) => 0.22,
        (13, _) => 0.15,
        (h, _) => 1.2 / f64::from(h),
    };
    thd * weight
}

/// A value in the model's base unit.
#[derive(Debug, Clone, PartialEq)]
pub enum Base {
    /// A number in V, A, W, var, VA, Wh, varh, VAh, Hz, degC, %, a ratio or a count.
    Number(f64, BaseUnit),
    /// A text.
    Text(String),
}

/// The base units of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseUnit {
    /// Volt.
    Volt,
    /// Ampere.
    Ampere,
    /// Watt.
    Watt,
    /// var.
    Var,
    /// Volt-ampere.
    VoltAmpere,
    /// Energy (Wh / varh / VAh).
    WattHour,
    /// Hertz.
    Hertz,
    /// Degree Celsius.
    Celsius,
    /// Percent.
    Percent,
    /// A ratio (power factor).
    Ratio,
    /// A plain count or code.
    Count,
}

impl Measure {
    /// The value at a snapshot, in the model's base unit.
    pub fn base_value(&self, s: &Snapshot, e: &EnergyCounters) -> Base {
        let pick = |x: &[f64; 3], ph: Phases| -> f64 {
            match ph {
                Phases::One(k) => x[k.min(2)],
                Phases::Sum => s.sum(x),
                Phases::Average | Phases::Neutral | Phases::Between(..) => s.avg(x),
            }
        };
        let n = |v: f64, u: BaseUnit| Base::Number(v, u);
        match self {
            Measure::Voltage(Phases::Between(a, b)) if *a < 3 && *b < 3 => {
                // L1-L2 = index 0, L2-L3 = 1, L3-L1 = 2.
                let i = match (a.min(b), a.max(b)) {
                    (0, 1) => 0,
                    (1, 2) => 1,
                    _ => 2,
                };
                n(s.v_ll[i], BaseUnit::Volt)
            }
            Measure::Voltage(Phases::Between(..)) => {
                n(s.v_ll.iter().sum::<f64>() / 3.0, BaseUnit::Volt)
            }
            Measure::Voltage(ph) => n(pick(&s.v, *ph), BaseUnit::Volt),
            Measure::Current(Phases::Neutral) => n(s.i_n, BaseUnit::Ampere),
            Measure::Current(ph) => n(pick(&s.i, *ph), BaseUnit::Ampere),
            Measure::ActivePower(Phases::One(k)) => n(s.p[(*k).min(2)], BaseUnit::Watt),
            Measure::ActivePower(_) => n(s.p_total(), BaseUnit::Watt),
            Measure::ReactivePower(Phases::One(k)) => n(s.q[(*k).min(2)], BaseUnit::Var),
            Measure::ReactivePower(_) => n(s.q_total(), BaseUnit::Var),
            Measure::ApparentPower(Phases::One(k)) => n(s.s[(*k).min(2)], BaseUnit::VoltAmpere),
            Measure::ApparentPower(_) => n(s.s_total(), BaseUnit::VoltAmpere),
            Measure::PowerFactor(Phases::One(k)) => {
                let k = (*k).min(2);
                n(s.p[k] / s.s[k], BaseUnit::Ratio)
            }
            Measure::PowerFactor(_) => n(s.p_total() / s.s_total(), BaseUnit::Ratio),
            Measure::Frequency => n(s.f, BaseUnit::Hertz),
            Measure::Thd { current, phases } => {
                let x = if *current { &s.thd_i } else { &s.thd_v };
                n(pick(x, *phases), BaseUnit::Percent)
            }
            Measure::Harmonic {
                current,
                order,
                phases,
            } => {
                let x = if *current { &s.thd_i } else { &s.thd_v };
                n(
                    harmonic_percent(*order, pick(x, *phases), *current),
                    BaseUnit::Percent,
                )
            }
            Measure::Temperature => n(s.temperature, BaseUnit::Celsius),
            Measure::Energy {
                kind,
                dir,
                phase,
                tariff,
                partial,
            } => n(
                e.value(*kind, *dir, *phase, *tariff, *partial),
                BaseUnit::WattHour,
            ),
            Measure::ActiveTariff => n(s.tariff as f64 + 1.0, BaseUnit::Count),
            Measure::Pulses => n(
                e.value(EnergyKind::Active, Direction::Import, None, None, false),
                BaseUnit::WattHour,
            ),
            Measure::NetworkType => n(if s.phases == 3 { 4.0 } else { 1.0 }, BaseUnit::Count),
            Measure::Constant(c) => n(*c, BaseUnit::Count),
            Measure::Version => Base::Text(FIRMWARE_VERSION.into()),
            Measure::Text(t) => Base::Text(t.clone()),
        }
    }

    /// Whether this is a counter that only grows (energy, pulses): such values are
    /// truncated to the register's resolution and wrap at the type's range, like a meter.
    pub fn is_counter(&self) -> bool {
        matches!(self, Measure::Energy { .. } | Measure::Pulses)
    }

    /// The value at a snapshot, converted to `unit`.
    pub fn value_in(&self, s: &Snapshot, e: &EnergyCounters, unit: Unit) -> Base {
        match self.base_value(s, e) {
            Base::Number(v, b) => Base::Number(convert(v, b, unit), b),
            text => text,
        }
    }
}

/// Convert a base-unit value to the service's unit (unrelated units leave it unchanged).
pub fn convert(v: f64, base: BaseUnit, unit: Unit) -> f64 {
    use BaseUnit as B;
    match (base, unit) {
        (B::Watt | B::Var | B::VoltAmpere | B::WattHour, Unit::KW | Unit::Kvar | Unit::KVA)
        | (B::WattHour, Unit::KWh | Unit::Kvarh) => v / 1e3,
        (B::Watt | B::Var | B::VoltAmpere | B::WattHour, Unit::MW) | (B::WattHour, Unit::MWh) => {
            v / 1e6
        }
        (B::WattHour, Unit::J) => v * 3600.0,
        (B::WattHour, Unit::GJ) => v * 3600.0 / 1e9,
        (B::Celsius, Unit::K) => v + 273.15,
        (B::Ratio, Unit::Percent) => v * 100.0,
        (B::Percent, Unit::None) => v / 100.0,
        (B::Percent, Unit::V) => NOMINAL_VOLTAGE * v / 100.0,
        _ => v,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::register::{DataType, FunctionCode, RegisterDef};

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-06-03T10:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn svc(id: &str, quantity: &str, unit: Unit, category: Category) -> Service {
        let register = RegisterDef::new(FunctionCode::Holding, 0, DataType::U16);
        Service::new(id, id, quantity, unit, category, register)
    }

    #[test]
    fn snapshot_is_physically_coherent() {
        let m = LoadModel::new(42, 3);
        for minute in 0..(24 * 60) {
            let s = m.snapshot(&(t0() + chrono::Duration::minutes(minute)));
            for k in 0..3 {
                assert!((225.0..235.0).contains(&s.v[k]), "{}", s.v[k]);
                assert!((385.0..412.0).contains(&s.v_ll[k]), "{}", s.v_ll[k]);
                assert!((0.85..=0.99).contains(&s.pf[k]));
                assert!((s.s[k] - s.v[k] * s.i[k]).abs() < 1e-9);
                assert!((s.p[k] - s.s[k] * s.pf[k]).abs() < 1e-9);
                let q = (s.s[k].powi(2) - s.p[k].powi(2)).sqrt();
                assert!((s.q[k] - q).abs() < 1e-6);
                assert!((1.0..=4.0).contains(&s.thd_v[k]));
                assert!((5.0..=30.0).contains(&s.thd_i[k]));
                assert!(s.i[k] > 0.0 && s.i[k] < 40.0);
            }
            assert!((49.9..50.1).contains(&s.f));
            assert!((s.p_total() - s.p.iter().sum::<f64>()).abs() < 1e-9);
            assert!(s.i_n < s.i.iter().cloned().fold(0.0, f64::max));
        }
    }

    #[test]
    fn energy_integrates_power() {
        let m = LoadModel::new(7, 3);
        let mut e = EnergyCounters::new(&m, &t0());
        let before = e.value(EnergyKind::Active, Direction::Import, None, None, false);
        let mut expected = 0.0;
        for s in 0..600 {
            let a = m.snapshot(&(t0() + chrono::Duration::seconds(s)));
            let b = m.snapshot(&(t0() + chrono::Duration::seconds(s + 1)));
            expected += (a.p_total() + b.p_total()) / 2.0 / 3600.0;
        }
        e.advance(&m, &(t0() + chrono::Duration::seconds(600)));
        let after = e.value(EnergyKind::Active, Direction::Import, None, None, false);
        assert!(((after - before) - expected).abs() < 1e-6 * expected);
        // Going back in time changes nothing.
        e.advance(&m, &t0());
        assert_eq!(
            e.value(EnergyKind::Active, Direction::Import, None, None, false),
            after
        );
        let p1 = e.value(EnergyKind::Active, Direction::Import, None, None, true);
        e.reset_partial();
        assert!(p1 > 0.0);
        assert_eq!(
            e.value(EnergyKind::Active, Direction::Import, None, None, true),
            0.0
        );
    }

    #[test]
    fn phase_keywords() {
        let t = |s: &str| s.split('_').map(str::to_string).collect::<Vec<_>>();
        assert_eq!(phase_tokens(&t("v_l1_n")), vec![0]);
        assert_eq!(phase_tokens(&t("v_l2_l3")), vec![1, 2]);
        assert_eq!(phase_tokens(&t("u12")), vec![0, 1]);
        assert_eq!(phase_tokens(&t("v_l1l2")), vec![0, 1]);
        assert_eq!(phase_tokens(&t("ea_imp_m3")), vec![2]);
        assert_eq!(phase_tokens(&t("voltage_l3n")), vec![2]);
        assert!(phase_tokens(&t("ea_imp_t1")).is_empty());
        assert!(phase_tokens(&t("thd_h3")).is_empty());
        assert_eq!(phase_tokens(&t("s2_v_l3_n")), vec![2]);
    }

    #[test]
    fn the_keyword_guess_classifies_services_without_data() {
        let id = Identity {
            vendor: "Hager".into(),
            model: "ECR380D".into(),
            serial: "3424010001".into(),
            unit: 1,
        };
        let m = classify(
            &svc(
                "p_ea_imp_t2",
                "active_energy_import",
                Unit::KWh,
                Category::Energy,
            ),
            true,
            &id,
        );
        assert_eq!(
            m,
            Measure::Energy {
                kind: EnergyKind::Active,
                dir: Direction::Import,
                phase: None,
                tariff: Some(1),
                partial: true
            }
        );
        let m = classify(
            &svc(
                "er_exp_l2",
                "reactive_energy_export",
                Unit::Kvarh,
                Category::Energy,
            ),
            true,
            &id,
        );
        assert_eq!(
            m,
            Measure::Energy {
                kind: EnergyKind::Reactive,
                dir: Direction::Export,
                phase: Some(1),
                tariff: None,
                partial: false
            }
        );
        assert_eq!(
            classify(
                &svc("q_total", "reactive_power", Unit::Kvar, Category::Power),
                true,
                &id
            ),
            Measure::ReactivePower(Phases::Sum)
        );
        assert_eq!(
            classify(
                &svc("i_n", "current", Unit::A, Category::Current),
                true,
                &id
            ),
            Measure::Current(Phases::Neutral)
        );
        assert_eq!(
            classify(
                &svc("thd_i_l2", "thd_current", Unit::Percent, Category::Thd),
                true,
                &id
            ),
            Measure::Thd {
                current: true,
                phases: Phases::One(1)
            }
        );
        assert_eq!(
            classify(
                &svc(
                    "v_h5_l1",
                    "voltage_harmonic",
                    Unit::Percent,
                    Category::Harmonic
                ),
                true,
                &id
            ),
            Measure::Harmonic {
                current: false,
                order: 5,
                phases: Phases::One(0)
            }
        );
    }

    #[test]
    fn the_keyword_guess_names_identification_texts() {
        let id = Identity {
            vendor: "Hager".into(),
            model: "ECR380D".into(),
            serial: "3424010001".into(),
            unit: 1,
        };
        assert_eq!(
            classify(
                &svc(
                    "vendor",
                    "vendor_name",
                    Unit::None,
                    Category::Identification
                ),
                true,
                &id
            ),
            Measure::Text("Hager".into())
        );
    }

    fn identity(p: &crate::Product) -> Identity {
        Identity {
            vendor: p.vendor.clone(),
            model: p.model.clone(),
            serial: "3424010001".into(),
            unit: 7,
        }
    }

    #[test]
    fn every_builtin_service_classifies_from_its_data() {
        let catalogue = crate::Catalogue::builtin().unwrap();
        for p in catalogue.products() {
            for s in &p.services {
                assert!(
                    from_data(s, &identity(p)).is_some(),
                    "{} {}: no measurand and no simulated value",
                    p.reference(),
                    s.id
                );
            }
            // The phases of the load come from the data too (and agree with the keywords).
            let from_keywords = p
                .services
                .iter()
                .any(|s| phase_tokens(&tokens(s)).iter().any(|k| *k > 0));
            assert_eq!(
                is_three_phase(&p.services),
                from_keywords,
                "{}",
                p.reference()
            );
        }
    }

    /// Where the catalogue data says something else than the keyword guess did, because the
    /// guess was wrong: (product, service, what the data says).
    const CORRECTED: &[(&str, &str, &str)] = &[
        // Eastron "Total kWh / kvarh" (and per phase) is import + export, not import (the
        // guess had it right for ea_total only, whose name says "import + export").
        ("SDM630", "er_total", "import+export"),
        ("SDM630", "ea_total_l1", "import+export"),
        ("SDM630", "ea_total_l2", "import+export"),
        ("SDM630", "ea_total_l3", "import+export"),
        ("SDM630", "er_total_l1", "import+export"),
        ("SDM630", "er_total_l2", "import+export"),
        ("SDM630", "er_total_l3", "import+export"),
        ("SDM120", "er_total", "import+export"),
        // Hager workbook, column 3P_1P80: three single-phase meters (1BL), not MID, 4 tariffs.
        ("ECR180T", "network_type", "1"),
        ("ECR180T", "mid_certified", "0"),
        ("ECR180T", "tariff_count", "4"),
        ("ECA180T", "network_type", "1"),
        ("ECA180T", "mid_certified", "0"),
        ("ECA180T", "tariff_count", "4"),
        // Carlo Gavazzi EM340: a three-phase four-wire meter is "3P.n" (0).
        ("EM340", "measuring_system", "0"),
    ];

    #[test]
    fn builtin_data_agrees_with_the_old_guess_except_where_the_guess_was_wrong() {
        let catalogue = crate::Catalogue::builtin().unwrap();
        let mut differ = Vec::new();
        for p in catalogue.products() {
            let three = is_three_phase(&p.services);
            let id = identity(p);
            for s in &p.services {
                let data = from_data(s, &id).unwrap();
                let guessed = match guess(s, three, &id) {
                    // What the wiring guess served: 4 for a three-phase load, else 1.
                    Measure::NetworkType => Measure::Constant(if three { 4.0 } else { 1.0 }),
                    other => other,
                };
                if data != guessed {
                    let says = match (&data, s.direction) {
                        (Measure::Energy { .. }, Some(d)) => d.to_string(),
                        (Measure::Constant(c), _) => c.to_string(),
                        _ => format!("{data:?}"),
                    };
                    differ.push((p.reference().to_string(), s.id.clone(), says));
                }
            }
        }
        let expected: Vec<(String, String, String)> = CORRECTED
            .iter()
            .map(|(p, s, v)| (p.to_string(), s.to_string(), v.to_string()))
            .collect();
        let mut differ_sorted = differ.clone();
        differ_sorted.sort();
        let mut expected_sorted = expected.clone();
        expected_sorted.sort();
        assert_eq!(differ_sorted, expected_sorted);
    }

    #[test]
    fn the_ecr180t_reports_single_phase_wiring_from_its_data() {
        let catalogue = crate::Catalogue::builtin().unwrap();
        let network_type = |reference: &str| {
            let p = catalogue.get(reference).unwrap();
            let s = p.service("network_type").unwrap();
            let m = classify(s, is_three_phase(&p.services), &identity(p));
            let snapshot = LoadModel::new(1, 3).snapshot(&t0());
            let e = EnergyCounters::new(&LoadModel::new(1, 3), &t0());
            m.base_value(&snapshot, &e)
        };
        // Three single-phase meters on three phases: the load is three-phase, the wiring
        // code is 1BL. The keyword guess said 4 (three-phase four-wire).
        let p = catalogue.get("ECR180T").unwrap();
        assert!(is_three_phase(&p.services));
        assert_eq!(network_type("ECR180T"), Base::Number(1.0, BaseUnit::Count));
        assert_eq!(network_type("ECR380D"), Base::Number(4.0, BaseUnit::Count));
        assert_eq!(network_type("ECR140D"), Base::Number(1.0, BaseUnit::Count));
    }

    #[test]
    fn units_convert() {
        assert_eq!(convert(1500.0, BaseUnit::Watt, Unit::KW), 1.5);
        assert_eq!(convert(2e6, BaseUnit::WattHour, Unit::MWh), 2.0);
        assert_eq!(convert(1.0, BaseUnit::WattHour, Unit::J), 3600.0);
        assert_eq!(convert(0.9, BaseUnit::Ratio, Unit::Percent), 90.0);
        assert_eq!(convert(20.0, BaseUnit::Celsius, Unit::K), 293.15);
    }
}
