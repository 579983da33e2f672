//! Helpers shared by the simulator's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, Utc};
use modbus_devices::catalogue::{Category, Product, Service};
use modbus_devices::{Catalogue, FunctionCode, RegisterDef, Unit, Value};
use tokio_modbus::ExceptionCode;
use tokio_modbus::client::{Context, Reader};

// Peer detection is shared with the poller's tests: a test using this module declares
// `mod peers;` (tests/peers/mod.rs) next to it.
use crate::peers;

/// Two made-up products exercising every rule of the simulator: a three-phase meter with
/// blocks, a forbidden range, parameters (read-write, write-only, a coil), input registers
/// in low-word-first f32, and a signature; and a single-phase meter with "type max"
/// sentinels and no blocks.
pub const TEST_PRODUCTS: &str = r#"
[[product]]
references = ["SIM-3P"]
vendor = "Simco"
model = "SIM-3P"
defaults = { function_code = 3 }

[product.limits]
max_registers_per_read = 100
blocks = [
    { from = 0x0000, to = 0x007F },
    { from = 0x1000, to = 0x101F },
    { function_code = 4, from = 0x0000, to = 0x000F },
]
forbidden = [{ from = 0x0060, to = 0x006F }]

[[product.signature]]
register = { address = 0x1000, type = "string", length = 16 }
prefix = "Simco"

[[product.signature]]
register = { address = 0x1010, type = "string", length = 16 }
any_text = ["SIM-3P", "SIM-3P-X"]

[[product.service]]
id = "v_l1_n"
name = "Voltage L1-N"
quantity = "voltage"
unit = "V"
category = "voltage"
register = { address = 0x0000, type = "u16", scale = 0.01 }

[[product.service]]
id = "v_l2_n"
name = "Voltage L2-N"
quantity = "voltage"
unit = "V"
category = "voltage"
register = { address = 0x0001, type = "u16", scale = 0.01 }

[[product.service]]
id = "v_l3_n"
name = "Voltage L3-N"
quantity = "voltage"
unit = "V"
category = "voltage"
register = { address = 0x0002, type = "u16", scale = 0.01 }

[[product.service]]
id = "v_l1_l2"
name = "Voltage L1-L2"
quantity = "voltage_ll"
unit = "V"
category = "voltage"
register = { address = 0x0003, type = "u16", scale = 0.01 }

[[product.service]]
id = "v_l2_l3"
name = "Voltage L2-L3"
quantity = "voltage_ll"
unit = "V"
category = "voltage"
register = { address = 0x0004, type = "u16", scale = 0.01 }

[[product.service]]
id = "v_l3_l1"
name = "Voltage L3-L1"
quantity = "voltage_ll"
unit = "V"
category = "voltage"
register = { address = 0x0005, type = "u16", scale = 0.01 }

[[product.service]]
id = "freq"
name = "Frequency"
quantity = "frequency"
unit = "Hz"
category = "frequency"
register = { address = 0x0006, type = "u16", scale = 0.01 }

[[product.service]]
id = "i_l1"
name = "Current L1"
quantity = "current"
unit = "A"
category = "current"
register = { address = 0x0008, type = "u32", scale = 0.001 }

[[product.service]]
id = "i_l2"
name = "Current L2"
quantity = "current"
unit = "A"
category = "current"
register = { address = 0x000A, type = "u32", scale = 0.001 }

[[product.service]]
id = "i_l3"
name = "Current L3"
quantity = "current"
unit = "A"
category = "current"
register = { address = 0x000C, type = "u32", scale = 0.001 }

[[product.service]]
id = "i_n"
name = "Neutral current"
quantity = "current"
unit = "A"
category = "current"
register = { address = 0x000E, type = "u32", scale = 0.001 }

[[product.service]]
id = "p_l1"
name = "Active power L1"
quantity = "active_power"
unit = "W"
category = "power"
register = { address = 0x0010, type = "s32", scale = 0.1 }

[[product.service]]
id = "p_l2"
name = "Active power L2"
quantity = "active_power"
unit = "W"
category = "power"
register = { address = 0x0012, type = "s32", scale = 0.1 }

[[product.service]]
id = "p_l3"
name = "Active power L3"
quantity = "active_power"
unit = "W"
category = "power"
register = { address = 0x0014, type = "s32", scale = 0.1 }

[[product.service]]
id = "p_total"
name = "Active power total"
quantity = "active_power"
unit = "W"
category = "power"
register = { address = 0x0016, type = "s32", scale = 0.1 }

[[product.service]]
id = "q_l1"
name = "Reactive power L1"
quantity = "reactive_power"
unit = "var"
category = "power"
register = { address = 0x0018, type = "s32", scale = 0.1 }

[[product.service]]
id = "q_l2"
name = "Reactive power L2"
quantity = "reactive_power"
unit = "var"
category = "power"
register = { address = 0x001A, type = "s32", scale = 0.1 }

[[product.service]]
id = "q_l3"
name = "Reactive power L3"
quantity = "reactive_power"
unit = "var"
category = "power"
register = { address = 0x001C, type = "s32", scale = 0.1 }

[[product.service]]
id = "q_total"
name = "Reactive power total"
quantity = "reactive_power"
unit = "kvar"
category = "power"
register = { address = 0x001E, type = "s32", scale = 0.0001 }

[[product.service]]
id = "s_l1"
name = "Apparent power L1"
quantity = "apparent_power"
unit = "VA"
category = "power"
register = { address = 0x0020, type = "u32", scale = 0.1 }

[[product.service]]
id = "s_l2"
name = "Apparent power L2"
quantity = "apparent_power"
unit = "VA"
category = "power"
register = { address = 0x0022, type = "u32", scale = 0.1 }

[[product.service]]
id = "s_l3"
name = "Apparent power L3"
quantity = "apparent_power"
unit = "VA"
category = "power"
register = { address = 0x0024, type = "u32", scale = 0.1 }

[[product.service]]
id = "s_total"
name = "Apparent power total"
quantity = "apparent_power"
unit = "VA"
category = "power"
register = { address = 0x0026, type = "u32", scale = 0.1 }

[[product.service]]
id = "pf_l1"
name = "Power factor L1"
quantity = "power_factor"
unit = ""
category = "power_factor"
register = { address = 0x0028, type = "s16", scale = 0.001 }

[[product.service]]
id = "pf_l2"
name = "Power factor L2"
quantity = "power_factor"
unit = ""
category = "power_factor"
register = { address = 0x0029, type = "s16", scale = 0.001 }

[[product.service]]
id = "pf_l3"
name = "Power factor L3"
quantity = "power_factor"
unit = ""
category = "power_factor"
register = { address = 0x002A, type = "s16", scale = 0.001 }

[[product.service]]
id = "pf_total"
name = "Power factor total"
quantity = "power_factor"
unit = "%"
category = "power_factor"
register = { address = 0x002B, type = "s16", scale = 0.1 }

[[product.service]]
id = "thd_v_l1"
name = "THD voltage L1"
quantity = "thd_voltage"
unit = "%"
category = "thd"
register = { address = 0x002C, type = "u16", scale = 0.01 }

[[product.service]]
id = "thd_i_l1"
name = "THD current L1"
quantity = "thd_current"
unit = "%"
category = "thd"
register = { address = 0x002D, type = "u16", scale = 0.01 }

[[product.service]]
id = "v_h3_l1"
name = "Voltage harmonic 3 L1"
quantity = "voltage_harmonic"
unit = "%"
category = "harmonic"
register = { address = 0x002E, type = "u16", scale = 0.01 }

[[product.service]]
id = "i_h5_l1"
name = "Current harmonic 5 L1"
quantity = "current_harmonic"
unit = "%"
category = "harmonic"
register = { address = 0x002F, type = "u16", scale = 0.01 }

[[product.service]]
id = "temperature"
name = "Internal temperature"
quantity = "temperature"
unit = "degC"
category = "temperature"
register = { address = 0x0030, type = "s16", scale = 0.1 }

[[product.service]]
id = "ea_import"
name = "Active energy import"
quantity = "active_energy_import"
unit = "Wh"
category = "energy"
register = { address = 0x0032, type = "u32" }

[[product.service]]
id = "ea_export"
name = "Active energy export"
quantity = "active_energy_export"
unit = "Wh"
category = "energy"
register = { address = 0x0034, type = "u32" }

[[product.service]]
id = "er_import"
name = "Reactive energy import"
quantity = "reactive_energy_import"
unit = "varh"
category = "energy"
register = { address = 0x0036, type = "u32" }

[[product.service]]
id = "ea_import_partial"
name = "Active energy import, partial"
quantity = "active_energy_import_partial"
unit = "Wh"
category = "energy"
register = { address = 0x0038, type = "u32" }

[[product.service]]
id = "ea_import_t1"
name = "Active energy import, tariff 1"
quantity = "active_energy_import"
unit = "Wh"
category = "energy"
register = { address = 0x003A, type = "u32" }

[[product.service]]
id = "ea_import_t2"
name = "Active energy import, tariff 2"
quantity = "active_energy_import"
unit = "Wh"
category = "energy"
register = { address = 0x003C, type = "u32" }

[[product.service]]
id = "alarms"
name = "Alarm flags"
quantity = "alarm_flags"
unit = ""
category = "status"
register = { address = 0x0050, type = "flags" }

[[product.service]]
id = "v_l1_n_f"
name = "Voltage L1-N (float)"
quantity = "voltage"
unit = "V"
category = "voltage"
register = { function_code = 4, address = 0x0000, type = "f32", word_order = "low_first" }

[[product.service]]
id = "p_total_kw"
name = "Active power total (float)"
quantity = "active_power"
unit = "kW"
category = "power"
register = { function_code = 4, address = 0x0002, type = "f32", word_order = "low_first" }

[[product.parameter]]
id = "modbus_address"
name = "Modbus address"
register = { address = 0x0070, type = "u16", write_range = { min = 1, max = 247 } }

[[product.parameter]]
id = "ct_ratio"
name = "CT ratio"
register = { address = 0x0072, type = "u32", write_range = { min = 1, max = 10000 } }

[[product.parameter]]
id = "reset_partial"
name = "Reset partial energies"
register = { address = 0x0074, type = "u16", access = "write", write_range = { min = 0, max = 1 } }

[[product.parameter]]
id = "set_tariff"
name = "Set tariff"
register = { address = 0x0075, type = "u16", access = "write", write_range = { min = 1, max = 8 } }

[[product.parameter]]
id = "relay"
name = "Output relay"
register = { function_code = 1, address = 0x0003, type = "bit" }

[[product]]
references = ["SIM-1P"]
vendor = "Simco"
model = "SIM-1P"
defaults = { function_code = 4, not_available = "type_max" }

[[product.service]]
id = "v_l1_n"
name = "Voltage L1-N"
quantity = "voltage"
unit = "V"
category = "voltage"
register = { address = 0x0000, type = "u16", scale = 0.01 }

[[product.service]]
id = "i_l1"
name = "Current L1"
quantity = "current"
unit = "A"
category = "current"
register = { address = 0x0001, type = "u16", scale = 0.001 }

[[product.service]]
id = "p_l1"
name = "Active power L1"
quantity = "active_power"
unit = "W"
category = "power"
register = { address = 0x0002, type = "s32" }

[[product.service]]
id = "p_total"
name = "Active power"
quantity = "active_power"
unit = "W"
category = "power"
register = { address = 0x0004, type = "s32" }

[[product.service]]
id = "pf"
name = "Power factor"
quantity = "power_factor"
unit = ""
category = "power_factor"
register = { address = 0x0006, type = "s16", scale = 0.001 }

[[product.service]]
id = "ea_import"
name = "Active energy import"
quantity = "active_energy_import"
unit = "kWh"
category = "energy"
register = { address = 0x0008, type = "u32", scale = 0.001 }

[[product.service]]
id = "freq"
name = "Frequency"
quantity = "frequency"
unit = "Hz"
category = "frequency"
register = { address = 0x000A, type = "u16", scale = 0.01 }
"#;

/// The built-in catalogue plus [`TEST_PRODUCTS`].
pub fn catalogue() -> Catalogue {
    let mut c = Catalogue::builtin().unwrap();
    c.load_str(Path::new("sim-test-products.toml"), TEST_PRODUCTS)
        .unwrap();
    c
}

/// A product of [`catalogue`].
pub fn product(reference: &str) -> Product {
    catalogue().require(reference).unwrap().clone()
}

/// A fixed start time for manual clocks: Monday 2024-06-03 10:00 UTC (day tariff).
pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-06-03T10:00:00Z")
        .unwrap()
        .to_utc()
}

/// One read of `count` registers (or bits, as 0/1) of a table.
pub async fn read(
    ctx: &mut Context,
    fc: FunctionCode,
    address: u16,
    count: u16,
) -> Result<Vec<u16>, ExceptionCode> {
    let bits = |r: Result<Vec<bool>, ExceptionCode>| {
        r.map(|b| {
            b.into_iter()
                .take(usize::from(count))
                .map(u16::from)
                .collect()
        })
    };
    tokio::time::timeout(Duration::from_secs(5), async {
        match fc {
            FunctionCode::Coils => ctx.read_coils(address, count).await.map(bits),
            FunctionCode::DiscreteInputs => {
                ctx.read_discrete_inputs(address, count).await.map(bits)
            }
            FunctionCode::Holding => ctx.read_holding_registers(address, count).await,
            FunctionCode::Input => ctx.read_input_registers(address, count).await,
        }
    })
    .await
    .expect("the simulator answers within 5 s")
    .expect("transport works")
}

/// Read and decode one register definition (its scale register too, when it has one).
pub async fn read_def(ctx: &mut Context, def: &RegisterDef) -> Option<Value> {
    let words = read(ctx, def.function_code, def.address, def.count())
        .await
        .unwrap_or_else(|e| panic!("read of {:#06x} failed: {e}", def.address));
    let scale = match def.scale_register {
        Some(sr) => {
            let fc = sr.function_code.unwrap_or(def.function_code);
            Some(read(ctx, fc, sr.address, 1).await.unwrap()[0] as i16)
        }
        None => None,
    };
    def.decode_scaled(&words, scale).unwrap()
}

/// The number of a decoded value.
pub fn num(v: &Option<Value>) -> f64 {
    v.as_ref()
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("expected a number, found {v:?}"))
}

/// A service's value in the model's base unit (W, var, VA, Wh, V, A, degC, ratio).
pub fn to_base(v: f64, unit: Unit) -> f64 {
    match unit {
        Unit::KW | Unit::Kvar | Unit::KVA | Unit::KWh | Unit::Kvarh => v * 1e3,
        Unit::MW | Unit::MWh => v * 1e6,
        Unit::J => v / 3600.0,
        Unit::GJ => v * 1e9 / 3600.0,
        Unit::K => v - 273.15,
        _ => v,
    }
}

/// Check that a served value is physically plausible for its service; `Err` says why not.
pub fn plausible(service: &Service, value: &Option<Value>) -> Result<(), String> {
    let Some(value) = value else {
        return Err("served as \"not available\"".into());
    };
    let Some(x) = value.as_f64() else {
        return match (service.category, value) {
            (Category::Identification | Category::Status | Category::Configuration, _) => Ok(()),
            _ => Err(format!("expected a number, found {value:?}")),
        };
    };
    let b = to_base(x, service.unit);
    let within = |lo: f64, hi: f64| {
        if (lo..=hi).contains(&b) {
            Ok(())
        } else {
            Err(format!("{b} is outside {lo}..={hi}"))
        }
    };
    let pf = if service.unit == Unit::Percent {
        b / 100.0
    } else {
        b
    };
    match service.category {
        Category::Voltage => {
            if (200.0..=260.0).contains(&b) || (360.0..=440.0).contains(&b) {
                Ok(())
            } else {
                Err(format!(
                    "voltage {b} V is neither near 230 V nor near 400 V"
                ))
            }
        }
        Category::Current => within(0.0, 200.0),
        Category::Power => within(-150_000.0, 150_000.0),
        Category::PowerFactor => {
            if (0.8..=1.0).contains(&pf) {
                Ok(())
            } else {
                Err(format!("power factor {pf} outside 0.8..1"))
            }
        }
        Category::Frequency => within(49.5, 50.5),
        Category::Thd => within(0.5, 35.0),
        Category::Harmonic => within(0.0, 100.0),
        Category::Temperature => within(0.0, 80.0),
        Category::Energy | Category::Pulse => within(0.0, 1e12),
        _ => Ok(()),
    }
}

/// A pair of connected pseudo-terminals made by `socat`, killed on drop.
pub struct PtyPair {
    child: std::process::Child,
    /// The simulator's end.
    pub a: std::path::PathBuf,
    /// The master's end.
    pub b: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl PtyPair {
    /// Start `socat` with two linked pseudo-terminals in a fresh temporary directory, or
    /// `None` (test skipped) when socat is not installed.
    pub fn new() -> Option<Self> {
        if !peers::socat() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("sim"), dir.path().join("master"));
        let child = Command::new("socat")
            .arg("-d")
            .arg(format!("pty,raw,echo=0,link={}", a.display()))
            .arg(format!("pty,raw,echo=0,link={}", b.display()))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("socat starts");
        let pair = Self {
            child,
            a,
            b,
            _dir: dir,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !(pair.a.exists() && pair.b.exists()) {
            assert!(
                std::time::Instant::now() < deadline,
                "socat did not create its pseudo-terminals within 5 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(pair)
    }
}

impl Drop for PtyPair {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An RTU request ADU with a correct CRC (computed here independently of the simulator).
pub fn rtu_frame(unit: u8, pdu: &[u8]) -> Vec<u8> {
    let mut adu = vec![unit];
    adu.extend_from_slice(pdu);
    let crc = crc16_modbus(&adu);
    adu.extend_from_slice(&crc.to_le_bytes());
    adu
}

/// CRC-16/MODBUS, bit by bit (reflected polynomial 0xA001, initial value 0xFFFF).
pub fn crc16_modbus(data: &[u8]) -> u16 {
    let mut crc = 0xFFFFu16;
    for b in data {
        crc ^= u16::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// Read exactly `n` bytes, or what arrived before `within` elapsed.
pub async fn read_bytes<T: tokio::io::AsyncRead + Unpin>(
    io: &mut T,
    n: usize,
    within: Duration,
) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    let mut buf = [0u8; 256];
    while out.len() < n {
        match tokio::time::timeout_at(deadline, io.read(&mut buf)).await {
            Ok(Ok(k)) if k > 0 => out.extend_from_slice(&buf[..k]),
            _ => break,
        }
    }
    out
}
