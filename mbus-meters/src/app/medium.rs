//! The medium (device type) field.

use core::fmt;

/// The medium / device type of a meter (EN 13757-3:2013 table 12 "device type").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Medium(pub u8);

impl Medium {
    /// Heat meter, return (outlet) flow.
    pub const HEAT: Medium = Medium(0x04);
    /// Water meter.
    pub const WATER: Medium = Medium(0x07);
    /// Electricity meter.
    pub const ELECTRICITY: Medium = Medium(0x02);

    /// The medium's name.
    pub const fn name(self) -> &'static str {
        match self.0 {
            0x00 => "Other",
            0x01 => "Oil",
            0x02 => "Electricity",
            0x03 => "Gas",
            0x04 => "Heat (outlet)",
            0x05 => "Steam",
            0x06 => "Warm water (30-90 degC)",
            0x07 => "Water",
            0x08 => "Heat cost allocator",
            0x09 => "Compressed air",
            0x0A => "Cooling load meter (outlet)",
            0x0B => "Cooling load meter (inlet)",
            0x0C => "Heat (inlet)",
            0x0D => "Heat / cooling load meter",
            0x0E => "Bus / system component",
            0x0F => "Unknown medium",
            0x10 => "Irrigation water",
            0x11 => "Water data logger",
            0x12 => "Gas data logger",
            0x13 => "Gas converter",
            0x14 => "Calorific value",
            0x15 => "Hot water (>= 90 degC)",
            0x16 => "Cold water",
            0x17 => "Dual register (hot/cold) water",
            0x18 => "Pressure",
            0x19 => "A/D converter",
            0x1A => "Smoke detector",
            0x1B => "Room sensor",
            0x1C => "Gas detector",
            0x20 => "Breaker (electricity)",
            0x21 => "Valve (gas or water)",
            0x25 => "Customer unit (display device)",
            0x28 => "Waste water",
            0x29 => "Garbage",
            0x2A => "Carbon dioxide",
            0x31 => "Communication controller",
            0x32 => "Unidirectional repeater",
            0x33 => "Bidirectional repeater",
            0x36 => "Radio converter (system side)",
            0x37 => "Radio converter (meter side)",
            _ => "Reserved",
        }
    }

    /// The medium of the fixed data structure (four bits) in this table's codes: 0-8 are the
    /// same; "mode 2" variants (0xA-0xE) map to their medium; 9 and 0xF are unknown.
    pub const fn from_fixed(code: u8) -> Medium {
        match code & 0x0F {
            c @ 0..=8 => Medium(c),
            0xA => Medium(0x03),
            0xB => Medium(0x04),
            0xC => Medium(0x06),
            0xD => Medium(0x07),
            0xE => Medium(0x08),
            _ => Medium(0x0F),
        }
    }
}

impl fmt::Display for Medium {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
