//! Combinable (orthogonal) VIFE codes (EN 13757-3:2013 tables 15 and 16).

use core::fmt;

use super::vif::Effect;

/// One combinable (orthogonal) VIFE of a record: an error code, a "per time" or "per unit"
/// qualifier, a limit or date-of code, a correction factor, and so on.
///
/// [`name`](Modifier::name) gives a stable snake_case name for each code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Modifier {
    code: u8,
    extension: Option<u8>,
}

const NAMES: [&str; 128] = [
    // E000 xxxx: record errors (slave to master), table 16
    "error_none",
    "error_too_many_difes",
    "error_storage_number_not_implemented",
    "error_unit_number_not_implemented",
    "error_tariff_number_not_implemented",
    "error_function_not_implemented",
    "error_data_class_not_implemented",
    "error_data_size_not_implemented",
    "error_reserved_08",
    "error_reserved_09",
    "error_reserved_0a",
    "error_too_many_vifes",
    "error_illegal_vif_group",
    "error_illegal_vif_exponent",
    "error_vif_dif_mismatch",
    "error_unimplemented_action",
    // E001 xxxx
    "error_reserved_10",
    "error_reserved_11",
    "error_reserved_12",
    "error_reserved_13",
    "error_reserved_14",
    "error_no_data_available",
    "error_data_overflow",
    "error_data_underflow",
    "error_data_error",
    "error_reserved_19",
    "error_reserved_1a",
    "error_reserved_1b",
    "error_premature_end_of_record",
    "error_reserved_1d",
    "error_reserved_1e",
    "error_reserved_1f",
    // E010 xxxx
    "per_second",
    "per_minute",
    "per_hour",
    "per_day",
    "per_week",
    "per_month",
    "per_year",
    "per_revolution",
    "increment_per_input_pulse_0",
    "increment_per_input_pulse_1",
    "increment_per_output_pulse_0",
    "increment_per_output_pulse_1",
    "per_litre",
    "per_m3",
    "per_kg",
    "per_kelvin",
    // E011 xxxx
    "per_kwh",
    "per_gj",
    "per_kw",
    "per_kelvin_litre",
    "per_volt",
    "per_ampere",
    "times_second",
    "times_second_per_volt",
    "times_second_per_ampere",
    "start_date_of",
    "uncorrected_unit",
    "accumulation_if_positive",
    "accumulation_if_negative",
    "non_metric_units",
    "value_at_base_conditions",
    "obis_declaration",
    // E100 xxxx
    "lower_limit",
    "lower_limit_exceed_count",
    "date_of_first_lower_limit_exceed_begin",
    "date_of_first_lower_limit_exceed_end",
    "reserved_44",
    "reserved_45",
    "date_of_last_lower_limit_exceed_begin",
    "date_of_last_lower_limit_exceed_end",
    "upper_limit",
    "upper_limit_exceed_count",
    "date_of_first_upper_limit_exceed_begin",
    "date_of_first_upper_limit_exceed_end",
    "reserved_4c",
    "reserved_4d",
    "date_of_last_upper_limit_exceed_begin",
    "date_of_last_upper_limit_exceed_end",
    // E101 ufnn: duration of limit exceed
    "duration_of_first_lower_limit_exceed",
    "duration_of_first_lower_limit_exceed",
    "duration_of_first_lower_limit_exceed",
    "duration_of_first_lower_limit_exceed",
    "duration_of_last_lower_limit_exceed",
    "duration_of_last_lower_limit_exceed",
    "duration_of_last_lower_limit_exceed",
    "duration_of_last_lower_limit_exceed",
    "duration_of_first_upper_limit_exceed",
    "duration_of_first_upper_limit_exceed",
    "duration_of_first_upper_limit_exceed",
    "duration_of_first_upper_limit_exceed",
    "duration_of_last_upper_limit_exceed",
    "duration_of_last_upper_limit_exceed",
    "duration_of_last_upper_limit_exceed",
    "duration_of_last_upper_limit_exceed",
    // E110 0fnn: duration of; E110 1xxx
    "duration_of_first",
    "duration_of_first",
    "duration_of_first",
    "duration_of_first",
    "duration_of_last",
    "duration_of_last",
    "duration_of_last",
    "duration_of_last",
    "value_during_lower_limit_exceed",
    "leakage_values",
    "date_of_first_begin",
    "date_of_first_end",
    "value_during_upper_limit_exceed",
    "overflow_values",
    "date_of_last_begin",
    "date_of_last_end",
    // E111 xxxx
    "correction_factor_1e-6",
    "correction_factor_1e-5",
    "correction_factor_1e-4",
    "correction_factor_1e-3",
    "correction_factor_1e-2",
    "correction_factor_1e-1",
    "correction_factor_1e0",
    "correction_factor_1e1",
    "correction_offset_1e-3",
    "correction_offset_1e-2",
    "correction_offset_1e-1",
    "correction_offset_1e0",
    "extension",
    "correction_factor_1e3",
    "future_value",
    "manufacturer_specific",
];

impl Modifier {
    pub(crate) const fn new(code: u8, extension: Option<u8>) -> Self {
        Modifier {
            code: code & 0x7F,
            extension,
        }
    }

    /// The VIFE code without its extension bit.
    pub const fn code(self) -> u8 {
        self.code
    }

    /// For code 0x7C (extension of the combinable table), the following VIFE, which comes from
    /// the second combinable table.
    pub const fn extension(self) -> Option<u8> {
        self.extension
    }

    /// The stable snake_case name of the code.
    pub const fn name(self) -> &'static str {
        NAMES[(self.code & 0x7F) as usize]
    }

    /// Whether this is a record error code (E00x xxxx, slave to master).
    pub const fn is_error(self) -> bool {
        self.code < 0x20
    }

    /// Whether the decoder already applied this code to the value (correction factors and
    /// offsets); such codes say nothing more about what the value means.
    pub fn is_applied_scale(self) -> bool {
        matches!(
            Self::effect(self.code),
            Effect::Exp10(_) | Effect::Offset(_)
        )
    }

    /// The effect of a code on the value.
    pub(crate) const fn effect(code: u8) -> Effect {
        match code & 0x7F {
            c @ 0x70..=0x77 => Effect::Exp10((c & 7) as i8 - 6),
            c @ 0x78..=0x7B => Effect::Offset((c & 3) as i8 - 3),
            0x7D => Effect::Exp10(3),
            0x7C => Effect::SkipNext,
            0x7F => Effect::Stop,
            0x39 | 0x42 | 0x43 | 0x46 | 0x47 | 0x4A | 0x4B | 0x4E | 0x4F | 0x6A | 0x6B | 0x6E
            | 0x6F => Effect::TimePoint,
            0x41 | 0x49 => Effect::Count,
            c @ 0x50..=0x67 => Effect::Duration(c & 3),
            _ => Effect::None,
        }
    }
}

impl fmt::Display for Modifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The combinable VIFE of a record, in frame order (see [`Record::modifiers`](crate::Record::modifiers)).
#[derive(Clone, Debug)]
pub struct Modifiers<'a> {
    rest: &'a [u8],
}

impl<'a> Modifiers<'a> {
    pub(crate) fn new(vifes: &'a [u8]) -> Self {
        Modifiers { rest: vifes }
    }
}

impl Iterator for Modifiers<'_> {
    type Item = Modifier;

    fn next(&mut self) -> Option<Modifier> {
        let (&b, rest) = self.rest.split_first()?;
        let code = b & 0x7F;
        match code {
            0x7C => {
                let (ext, rest) = match rest.split_first() {
                    Some((&e, r)) => (Some(e & 0x7F), r),
                    None => (None, rest),
                };
                self.rest = rest;
                Some(Modifier::new(code, ext))
            }
            0x7F => {
                // the rest is manufacturer specific
                self.rest = &[];
                Some(Modifier::new(code, None))
            }
            _ => {
                self.rest = rest;
                Some(Modifier::new(code, None))
            }
        }
    }
}
