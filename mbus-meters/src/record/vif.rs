//! VIF tables (EN 13757-3 primary table, 0xFD and 0xFB extension tables, the fixed data
//! structure's unit codes) and the scaling of raw values to base units.

use super::quantity::Quantity;
use super::unit::Unit;
use super::vife::Modifier;

/// Powers of ten that are exact in an `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// 10^e as an `f64`.
#[inline]
pub(crate) fn pow10(e: i32) -> f64 {
    if (0..=22).contains(&e) {
        POW10[e as usize]
    } else {
        10f64.powi(e)
    }
}

/// The non-decimal factors of base-unit conversion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Factor {
    One,
    Minute,
    Hour,
    Day,
    /// Mean Gregorian month (365.2425 / 12 days).
    Month,
    /// Mean Gregorian year (365.2425 days).
    Year,
    /// Cubic foot to m3.
    CubicFoot,
    /// US liquid gallon to m3 (and gallon/h to m3/h).
    UsGallon,
    /// US gallon per minute to m3/h.
    UsGallonPerMinute,
    /// International-table calorie to J.
    Calorie,
    /// Degree Fahrenheit to degree Celsius: (F - 32) * 5/9.
    Fahrenheit,
    /// A Fahrenheit difference to K: F * 5/9.
    FahrenheitDifference,
}

impl Factor {
    /// (multiplier, offset).
    #[inline]
    const fn mul_add(self) -> (f64, f64) {
        match self {
            Factor::One => (1.0, 0.0),
            Factor::Minute => (60.0, 0.0),
            Factor::Hour => (3600.0, 0.0),
            Factor::Day => (86400.0, 0.0),
            Factor::Month => (2_629_746.0, 0.0),
            Factor::Year => (31_556_952.0, 0.0),
            Factor::CubicFoot => (0.028_316_846_592, 0.0),
            Factor::UsGallon => (0.003_785_411_784, 0.0),
            Factor::UsGallonPerMinute => (0.003_785_411_784 * 60.0, 0.0),
            Factor::Calorie => (4.1868, 0.0),
            Factor::Fahrenheit => (5.0 / 9.0, -160.0 / 9.0),
            Factor::FahrenheitDifference => (5.0 / 9.0, 0.0),
        }
    }
}

/// Seconds in the EN 13757-3 time units `nn` = 0 (second), 1 (minute), 2 (hour), 3 (day).
const SMHD: [Factor; 4] = [Factor::One, Factor::Minute, Factor::Hour, Factor::Day];
/// Hours, days, months, years (the `pp` of "duration since last cumulation" and "operating
/// time battery").
const HDMY: [Factor; 4] = [Factor::Hour, Factor::Day, Factor::Month, Factor::Year];

const NO_ADD: i8 = i8::MIN;

/// How a raw value is turned into a base-unit value: `raw * 10^exp10`, then a non-decimal
/// factor and offset (time, imperial and Fahrenheit units), then the additive correction of
/// a VIFE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Scale {
    pub(crate) exp10: i8,
    pub(crate) factor: Factor,
    pub(crate) add_exp: i8,
}

impl Scale {
    /// No scaling.
    pub const ONE: Scale = Scale {
        exp10: 0,
        factor: Factor::One,
        add_exp: NO_ADD,
    };

    const fn pow(exp10: i8) -> Scale {
        Scale {
            exp10,
            factor: Factor::One,
            add_exp: NO_ADD,
        }
    }

    const fn times(exp10: i8, factor: Factor) -> Scale {
        Scale {
            exp10,
            factor,
            add_exp: NO_ADD,
        }
    }

    /// The decimal exponent.
    pub fn exp10(self) -> i16 {
        i16::from(self.exp10)
    }

    /// The non-decimal factor (time units, imperial units, calories, Fahrenheit), 1 if none.
    pub fn factor(self) -> f64 {
        self.factor.mul_add().0
    }

    /// The additive offset in the base unit (Fahrenheit, additive correction VIFE).
    pub fn offset(self) -> f64 {
        let add = if self.add_exp == NO_ADD {
            0.0
        } else {
            pow10(i32::from(self.add_exp))
        };
        self.factor.mul_add().1 + add
    }

    /// Applies the scale to a raw value. Negative exponents divide by an exact power of ten,
    /// so that decimal results are correctly rounded (`12345 * 10^-3` gives `12.345`).
    #[inline]
    pub fn apply(self, raw: f64) -> f64 {
        let e = i32::from(self.exp10);
        let mut v = if e >= 0 {
            raw * pow10(e)
        } else if e >= -22 {
            raw / POW10[(-e) as usize]
        } else {
            raw * 10f64.powi(e)
        };
        if self.factor != Factor::One {
            let (m, a) = self.factor.mul_add();
            v = v * m + a;
        }
        if self.add_exp != NO_ADD {
            v += pow10(i32::from(self.add_exp));
        }
        v
    }
}

/// How the data of a record is to be read, beyond its data field coding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// A signed number (type B integers, BCD, real).
    Number,
    /// An unsigned number or bit field (identifiers, flags, counters).
    Unsigned,
    /// A time point: decoded by data size as type G (2 bytes), J (3), F (4) or I (6).
    TimePoint,
    /// Time of day of the fixed data structure (counter digits hhmmss).
    FixedTime,
    /// Date of the fixed data structure (counter digits DDMMYY).
    FixedDate,
}

/// What a VIF (with its VIFE) means: quantity, base unit, scale and reading class.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct VifInfo {
    pub quantity: Quantity,
    pub unit: Unit,
    pub scale: Scale,
    pub class: Class,
}

const fn num(quantity: Quantity, unit: Unit, exp10: i8) -> VifInfo {
    VifInfo {
        quantity,
        unit,
        scale: Scale::pow(exp10),
        class: Class::Number,
    }
}

const fn times(quantity: Quantity, unit: Unit, exp10: i8, factor: Factor) -> VifInfo {
    VifInfo {
        quantity,
        unit,
        scale: Scale::times(exp10, factor),
        class: Class::Number,
    }
}

const fn unsigned(quantity: Quantity) -> VifInfo {
    VifInfo {
        quantity,
        unit: Unit::None,
        scale: Scale::ONE,
        class: Class::Unsigned,
    }
}

const fn raw(quantity: Quantity) -> VifInfo {
    num(quantity, Unit::None, 0)
}

const fn time_point(quantity: Quantity) -> VifInfo {
    VifInfo {
        quantity,
        unit: Unit::None,
        scale: Scale::ONE,
        class: Class::TimePoint,
    }
}

const fn duration(quantity: Quantity, factor: Factor) -> VifInfo {
    times(quantity, Unit::Second, 0, factor)
}

const fn smhd(quantity: Quantity, code: u8) -> VifInfo {
    duration(quantity, SMHD[(code & 3) as usize])
}

const fn fahrenheit(quantity: Quantity, exp10: i8) -> VifInfo {
    times(quantity, Unit::Celsius, exp10, Factor::Fahrenheit)
}

/// Low three bits as an exponent base.
const fn n3(code: u8) -> i8 {
    (code & 7) as i8
}

/// Low two bits as an exponent base.
const fn n2(code: u8) -> i8 {
    (code & 3) as i8
}

/// Low bit as an exponent base.
const fn n1(code: u8) -> i8 {
    (code & 1) as i8
}

/// Low four bits as an exponent base.
const fn n4(code: u8) -> i8 {
    (code & 0x0F) as i8
}

/// The 128 codes of a VIF table, built at compile time.
macro_rules! table {
    ($f:ident) => {{
        let mut t = [raw(Quantity::Reserved); 128];
        let mut i = 0;
        while i < 128 {
            t[i] = $f(i as u8);
            i += 1;
        }
        t
    }};
}

static PRIMARY: [VifInfo; 128] = table!(primary_code);
static FD: [VifInfo; 128] = table!(fd_code);
static FB: [VifInfo; 128] = table!(fb_code);

/// The primary VIF table, `code` without the extension bit.
#[inline]
pub(crate) fn primary(code: u8) -> VifInfo {
    PRIMARY[usize::from(code & 0x7F)]
}

/// The 0xFD extension table.
#[inline]
pub(crate) fn fd(code: u8) -> VifInfo {
    FD[usize::from(code & 0x7F)]
}

/// The 0xFB extension table.
#[inline]
pub(crate) fn fb(code: u8) -> VifInfo {
    FB[usize::from(code & 0x7F)]
}

/// The primary VIF table (EN 13757-3:2013 table 10), `code` without the extension bit.
const fn primary_code(code: u8) -> VifInfo {
    use Quantity as Q;
    match code {
        0x00..=0x07 => num(Q::Energy, Unit::WattHour, n3(code) - 3),
        0x08..=0x0F => num(Q::Energy, Unit::Joule, n3(code)),
        0x10..=0x17 => num(Q::Volume, Unit::CubicMetre, n3(code) - 6),
        0x18..=0x1F => num(Q::Mass, Unit::Kilogram, n3(code) - 3),
        0x20..=0x23 => smhd(Q::OnTime, code),
        0x24..=0x27 => smhd(Q::OperatingTime, code),
        0x28..=0x2F => num(Q::Power, Unit::Watt, n3(code) - 3),
        0x30..=0x37 => num(Q::Power, Unit::JoulePerHour, n3(code)),
        0x38..=0x3F => num(Q::VolumeFlow, Unit::CubicMetrePerHour, n3(code) - 6),
        0x40..=0x47 => times(
            Q::VolumeFlow,
            Unit::CubicMetrePerHour,
            n3(code) - 7,
            Factor::Minute,
        ),
        0x48..=0x4F => times(
            Q::VolumeFlow,
            Unit::CubicMetrePerHour,
            n3(code) - 9,
            Factor::Hour,
        ),
        0x50..=0x57 => num(Q::MassFlow, Unit::KilogramPerHour, n3(code) - 3),
        0x58..=0x5B => num(Q::FlowTemperature, Unit::Celsius, n2(code) - 3),
        0x5C..=0x5F => num(Q::ReturnTemperature, Unit::Celsius, n2(code) - 3),
        0x60..=0x63 => num(Q::TemperatureDifference, Unit::Kelvin, n2(code) - 3),
        0x64..=0x67 => num(Q::ExternalTemperature, Unit::Celsius, n2(code) - 3),
        0x68..=0x6B => num(Q::Pressure, Unit::Bar, n2(code) - 3),
        0x6C => time_point(Q::Date),
        0x6D => time_point(Q::DateTime),
        0x6E => num(Q::Hca, Unit::Hca, 0),
        0x70..=0x73 => smhd(Q::AveragingDuration, code),
        0x74..=0x77 => smhd(Q::ActualityDuration, code),
        0x78 => unsigned(Q::FabricationNumber),
        0x79 => unsigned(Q::EnhancedIdentification),
        0x7A => unsigned(Q::BusAddress),
        0x7C => raw(Q::PlainText),
        0x7E => raw(Q::AnyVif),
        0x7F => raw(Q::ManufacturerSpecific),
        _ => raw(Q::Reserved),
    }
}

/// The main VIFE-code extension table, after VIF 0xFD (EN 13757-3:2013 table 14).
const fn fd_code(code: u8) -> VifInfo {
    use Quantity as Q;
    match code & 0x7F {
        c @ 0x00..=0x03 => num(Q::Credit, Unit::None, n2(c) - 3),
        c @ 0x04..=0x07 => num(Q::Debit, Unit::None, n2(c) - 3),
        0x08 => unsigned(Q::UniqueMessageId),
        0x09 => unsigned(Q::DeviceType),
        0x0A => unsigned(Q::Manufacturer),
        0x0B => unsigned(Q::ParameterSetId),
        0x0C => unsigned(Q::ModelVersion),
        0x0D => unsigned(Q::HardwareVersion),
        0x0E => unsigned(Q::FirmwareVersion),
        0x0F => unsigned(Q::SoftwareVersion),
        0x10 => unsigned(Q::CustomerLocation),
        0x11 => unsigned(Q::Customer),
        0x12 => unsigned(Q::AccessCodeUser),
        0x13 => unsigned(Q::AccessCodeOperator),
        0x14 => unsigned(Q::AccessCodeSystemOperator),
        0x15 => unsigned(Q::AccessCodeDeveloper),
        0x16 => unsigned(Q::Password),
        0x17 => unsigned(Q::ErrorFlags),
        0x18 => unsigned(Q::ErrorMask),
        0x19 => unsigned(Q::SecurityKey),
        0x1A => unsigned(Q::DigitalOutput),
        0x1B => unsigned(Q::DigitalInput),
        0x1C => unsigned(Q::BaudRate),
        0x1D => unsigned(Q::ResponseDelayTime),
        0x1E => unsigned(Q::Retry),
        0x1F => unsigned(Q::RemoteControl),
        0x20 => unsigned(Q::FirstStorageNumber),
        0x21 => unsigned(Q::LastStorageNumber),
        0x22 => unsigned(Q::StorageBlockSize),
        0x23 => unsigned(Q::TariffSubunitDescriptor),
        c @ 0x24..=0x27 => smhd(Q::StorageInterval, c),
        0x28 => duration(Q::StorageInterval, Factor::Month),
        0x29 => duration(Q::StorageInterval, Factor::Year),
        0x2A => unsigned(Q::OperatorSpecificData),
        0x2B => num(Q::TimePointSecond, Unit::Second, 0),
        c @ 0x2C..=0x2F => smhd(Q::DurationSinceLastReadout, c),
        0x30 => time_point(Q::TariffStart),
        c @ 0x31..=0x33 => smhd(Q::TariffDuration, c),
        c @ 0x34..=0x37 => smhd(Q::TariffPeriod, c),
        0x38 => duration(Q::TariffPeriod, Factor::Month),
        0x39 => duration(Q::TariffPeriod, Factor::Year),
        0x3A => raw(Q::NoUnit),
        0x3B => unsigned(Q::WmbusDataContainer),
        c @ 0x3C..=0x3F => smhd(Q::TransmissionPeriod, c),
        c @ 0x40..=0x4F => num(Q::Voltage, Unit::Volt, n4(c) - 9),
        c @ 0x50..=0x5F => num(Q::Current, Unit::Ampere, n4(c) - 12),
        0x60 => unsigned(Q::ResetCounter),
        0x61 => unsigned(Q::CumulationCounter),
        0x62 => unsigned(Q::ControlSignal),
        0x63 => unsigned(Q::DayOfWeek),
        0x64 => unsigned(Q::WeekNumber),
        0x65 => unsigned(Q::DayChangeTime),
        0x66 => unsigned(Q::ParameterActivationState),
        0x67 => unsigned(Q::SupplierInformation),
        c @ 0x68..=0x6B => duration(Q::DurationSinceLastCumulation, HDMY[(c & 3) as usize]),
        c @ 0x6C..=0x6F => duration(Q::BatteryOperatingTime, HDMY[(c & 3) as usize]),
        0x70 => time_point(Q::BatteryChange),
        0x71 => raw(Q::RfLevel),
        0x72 => unsigned(Q::DaylightSaving),
        0x73 => unsigned(Q::ListeningWindow),
        0x74 => duration(Q::RemainingBatteryLife, Factor::Day),
        0x75 => unsigned(Q::MeterStopCount),
        0x76 => unsigned(Q::ManufacturerDataContainer),
        _ => raw(Q::Reserved),
    }
}

/// The alternate extended VIF-code table, after VIF 0xFB (EN 13757-3:2013 table 12).
const fn fb_code(code: u8) -> VifInfo {
    use Quantity as Q;
    match code & 0x7F {
        // 10^(n-1) MWh
        c @ 0x00..=0x01 => num(Q::Energy, Unit::WattHour, n1(c) + 5),
        // 10^n kvarh
        c @ 0x02..=0x03 => num(Q::ReactiveEnergy, Unit::None, n1(c) + 3),
        // 10^(n-1) GJ
        c @ 0x08..=0x09 => num(Q::Energy, Unit::Joule, n1(c) + 8),
        // 10^(nn-1) MCal
        c @ 0x0C..=0x0F => times(Q::Energy, Unit::Joule, n2(c) + 5, Factor::Calorie),
        // 10^(n+2) m3
        c @ 0x10..=0x11 => num(Q::Volume, Unit::CubicMetre, n1(c) + 2),
        // 10^(nn-3) kvar
        c @ 0x14..=0x17 => num(Q::ReactivePower, Unit::None, n2(c)),
        // 10^(n+2) t
        c @ 0x18..=0x19 => num(Q::Mass, Unit::Kilogram, n1(c) + 5),
        // 10^(n-1) %
        c @ 0x1A..=0x1B => num(Q::RelativeHumidity, Unit::None, n1(c) - 1),
        0x20 => times(Q::Volume, Unit::CubicMetre, 0, Factor::CubicFoot),
        0x21 => times(Q::Volume, Unit::CubicMetre, -1, Factor::CubicFoot),
        0x22 => times(Q::Volume, Unit::CubicMetre, -1, Factor::UsGallon),
        0x23 => times(Q::Volume, Unit::CubicMetre, 0, Factor::UsGallon),
        0x24 => times(
            Q::VolumeFlow,
            Unit::CubicMetrePerHour,
            -3,
            Factor::UsGallonPerMinute,
        ),
        0x25 => times(
            Q::VolumeFlow,
            Unit::CubicMetrePerHour,
            0,
            Factor::UsGallonPerMinute,
        ),
        0x26 => times(Q::VolumeFlow, Unit::CubicMetrePerHour, 0, Factor::UsGallon),
        // 10^(n-1) MW
        c @ 0x28..=0x29 => num(Q::Power, Unit::Watt, n1(c) + 5),
        0x2A => num(Q::PhaseVoltageVoltage, Unit::None, -1),
        0x2B => num(Q::PhaseVoltageCurrent, Unit::None, -1),
        c @ 0x2C..=0x2F => num(Q::Frequency, Unit::None, n2(c) - 3),
        // 10^(n-1) GJ/h
        c @ 0x30..=0x31 => num(Q::Power, Unit::JoulePerHour, n1(c) + 8),
        // 10^(nn-3) kVA
        c @ 0x34..=0x37 => num(Q::ApparentPower, Unit::None, n2(c)),
        c @ 0x58..=0x5B => fahrenheit(Q::FlowTemperature, n2(c) - 3),
        c @ 0x5C..=0x5F => fahrenheit(Q::ReturnTemperature, n2(c) - 3),
        // a difference: K = degF * 5/9, no offset
        c @ 0x60..=0x63 => times(
            Q::TemperatureDifference,
            Unit::Kelvin,
            n2(c) - 3,
            Factor::FahrenheitDifference,
        ),
        c @ 0x64..=0x67 => fahrenheit(Q::ExternalTemperature, n2(c) - 3),
        c @ 0x70..=0x73 => fahrenheit(Q::TemperatureLimit, n2(c) - 3),
        c @ 0x74..=0x77 => num(Q::TemperatureLimit, Unit::Celsius, n2(c) - 3),
        c @ 0x78..=0x7F => num(Q::CumulativeMaxPower, Unit::Watt, n3(c) - 3),
        _ => raw(Q::Reserved),
    }
}

/// The unit codes of the fixed data structure (EN 1434-3 / EN 13757-3 annex, 6 bits).
/// Code 0x3E ("same as counter 1, historic") is resolved by the caller.
pub(crate) fn fixed(code: u8) -> VifInfo {
    use Quantity as Q;
    let c = code & 0x3F;
    match c {
        0x00 => VifInfo {
            quantity: Q::TimeOfDay,
            unit: Unit::None,
            scale: Scale::ONE,
            class: Class::FixedTime,
        },
        0x01 => VifInfo {
            quantity: Q::Date,
            unit: Unit::None,
            scale: Scale::ONE,
            class: Class::FixedDate,
        },
        0x02..=0x0A => num(Q::Energy, Unit::WattHour, (c - 0x02) as i8),
        0x0B..=0x13 => num(Q::Energy, Unit::Joule, (c - 0x0B) as i8 + 3),
        0x14..=0x1C => num(Q::Power, Unit::Watt, (c - 0x14) as i8),
        0x1D..=0x25 => num(Q::Power, Unit::JoulePerHour, (c - 0x1D) as i8 + 3),
        0x26..=0x2E => num(Q::Volume, Unit::CubicMetre, (c - 0x26) as i8 - 6),
        0x2F..=0x37 => num(Q::VolumeFlow, Unit::CubicMetrePerHour, (c - 0x2F) as i8 - 6),
        0x38 => num(Q::Temperature, Unit::Celsius, -3),
        0x39 => num(Q::Hca, Unit::Hca, 0),
        0x3F => raw(Q::Dimensionless),
        _ => raw(Q::Reserved),
    }
}

/// Applies the combinable (orthogonal) VIFE of a record (EN 13757-3:2013 table 15) to the
/// meaning given by its VIF: correction factors and offsets change the scale, "date of"
/// codes turn the value into a time point, "duration of" codes into seconds, and counts of
/// limit exceeds into plain numbers. Codes after 0xFF (manufacturer-specific) are not read.
pub(crate) fn apply_vifes(info: &mut VifInfo, vifes: &[u8]) {
    let mut skip = false;
    for &b in vifes {
        if skip {
            skip = false;
            continue;
        }
        let code = b & 0x7F;
        match Modifier::effect(code) {
            Effect::None => {}
            Effect::Exp10(e) => info.scale.exp10 = info.scale.exp10.saturating_add(e),
            Effect::Offset(e) => info.scale.add_exp = e,
            Effect::TimePoint => {
                info.class = Class::TimePoint;
                info.unit = Unit::None;
                info.scale = Scale::ONE;
            }
            Effect::Count => {
                info.class = Class::Unsigned;
                info.unit = Unit::None;
                info.scale = Scale::ONE;
            }
            Effect::Duration(nn) => {
                info.class = Class::Number;
                info.unit = Unit::Second;
                info.scale = Scale::times(0, SMHD[usize::from(nn & 3)]);
            }
            Effect::SkipNext => skip = true,
            Effect::Stop => break,
        }
    }
}

/// What a combinable VIFE does to the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    None,
    Exp10(i8),
    Offset(i8),
    TimePoint,
    Count,
    Duration(u8),
    SkipNext,
    Stop,
}
