//! The stable list of quantity names.

use core::fmt;

use serde::{Deserialize, Serialize};

macro_rules! quantities {
    ($( $(#[doc = $doc:expr])* $variant:ident => $name:literal, )*) => {
        /// What a data record measures, from its VIF (primary table, the 0xFD and 0xFB
        /// extension tables, plain text, manufacturer-specific) or from the fixed data structure.
        ///
        /// Each quantity has a stable snake_case [name](Quantity::name), used in JSON. The
        /// documentation of each variant gives the unit its values are scaled to; where that
        /// unit is not one of the workspace's unit symbols the value's [`Unit`](crate::Unit) is
        /// `""` and the unit named here is implied.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[non_exhaustive]
        pub enum Quantity {
            $( $(#[doc = $doc])* #[serde(rename = $name)] $variant, )*
        }

        impl Quantity {
            /// Every quantity, in declaration order.
            pub const ALL: &'static [Quantity] = &[$(Quantity::$variant,)*];

            /// The stable snake_case name.
            pub const fn name(self) -> &'static str {
                match self { $(Quantity::$variant => $name,)* }
            }

            /// The quantity with this name.
            pub fn from_name(name: &str) -> Option<Quantity> {
                match name { $($name => Some(Quantity::$variant),)* _ => None }
            }
        }
    };
}

quantities! {
    /// Energy: Wh for the Wh VIFs (primary 0x00-0x07, 0xFB 0x00-0x01), J for the J, GJ and
    /// MCal VIFs (primary 0x08-0x0F, 0xFB 0x08-0x09, 0x0C-0x0F).
    Energy => "energy",
    /// Volume, m3 (litres, cubic feet and US gallons are converted).
    Volume => "volume",
    /// Mass, kg.
    Mass => "mass",
    /// On time, s.
    OnTime => "on_time",
    /// Operating time, s.
    OperatingTime => "operating_time",
    /// Power: W for the W VIFs, J/h for the J/h and GJ/h VIFs.
    Power => "power",
    /// Volume flow, m3/h (m3/min, m3/s and US gallon flows are converted).
    VolumeFlow => "volume_flow",
    /// Mass flow, kg/h.
    MassFlow => "mass_flow",
    /// Flow temperature, degC (degrees Fahrenheit are converted).
    FlowTemperature => "flow_temperature",
    /// Return temperature, degC.
    ReturnTemperature => "return_temperature",
    /// Temperature difference, K.
    TemperatureDifference => "temperature_difference",
    /// External temperature, degC.
    ExternalTemperature => "external_temperature",
    /// Temperature of the fixed data structure (unit code 0x38), degC.
    Temperature => "temperature",
    /// Pressure, bar.
    Pressure => "pressure",
    /// Time point, date (VIF 0x6C): ISO 8601 date text.
    Date => "date",
    /// Time point, date and time (VIF 0x6D): ISO 8601 date-time text (or time of day for a
    /// 3-byte type J value).
    DateTime => "date_time",
    /// Time of day of the fixed data structure (unit code 0x00): `hh:mm:ss` text.
    TimeOfDay => "time_of_day",
    /// Heat cost allocator units, HCA.
    Hca => "hca",
    /// A reserved VIF code: the raw value, no unit.
    Reserved => "reserved",
    /// Averaging duration, s.
    AveragingDuration => "averaging_duration",
    /// Actuality duration, s.
    ActualityDuration => "actuality_duration",
    /// Fabrication number.
    FabricationNumber => "fabrication_number",
    /// (Enhanced) identification.
    EnhancedIdentification => "enhanced_identification",
    /// Bus address.
    BusAddress => "bus_address",
    /// "Any VIF" (used in readout requests).
    AnyVif => "any_vif",
    /// Manufacturer-specific VIF (0x7F/0xFF): the raw value, no unit.
    ManufacturerSpecific => "manufacturer_specific",
    /// Plain-text VIF (0x7C/0xFC): the unit is the record's text; the value is not scaled.
    PlainText => "plain_text",
    /// Manufacturer-specific data block (DIF 0x0F or 0x1F): hex text.
    ManufacturerData => "manufacturer_data",
    /// Global readout request (DIF 0x7F).
    GlobalReadoutRequest => "global_readout_request",
    /// Dimensionless counter of the fixed data structure (unit code 0x3F).
    Dimensionless => "dimensionless",
    /// Credit, in the local legal currency.
    Credit => "credit",
    /// Debit, in the local legal currency.
    Debit => "debit",
    /// Unique message identification (formerly access number).
    UniqueMessageId => "unique_message_id",
    /// Device type (medium code).
    DeviceType => "device_type",
    /// Manufacturer (15-bit code).
    Manufacturer => "manufacturer",
    /// Parameter set identification.
    ParameterSetId => "parameter_set_id",
    /// Model / version.
    ModelVersion => "model_version",
    /// Hardware version number.
    HardwareVersion => "hardware_version",
    /// Metrology (firmware) version number.
    FirmwareVersion => "firmware_version",
    /// Other software version number.
    SoftwareVersion => "software_version",
    /// Customer location.
    CustomerLocation => "customer_location",
    /// Customer.
    Customer => "customer",
    /// Access code, user.
    AccessCodeUser => "access_code_user",
    /// Access code, operator.
    AccessCodeOperator => "access_code_operator",
    /// Access code, system operator.
    AccessCodeSystemOperator => "access_code_system_operator",
    /// Access code, developer.
    AccessCodeDeveloper => "access_code_developer",
    /// Password.
    Password => "password",
    /// Error flags (binary, unsigned).
    ErrorFlags => "error_flags",
    /// Error mask (binary, unsigned).
    ErrorMask => "error_mask",
    /// Security key.
    SecurityKey => "security_key",
    /// Digital output (binary, unsigned).
    DigitalOutput => "digital_output",
    /// Digital input (binary, unsigned).
    DigitalInput => "digital_input",
    /// Baud rate (implied unit: Bd).
    BaudRate => "baud_rate",
    /// Response delay time (implied unit: bit times).
    ResponseDelayTime => "response_delay_time",
    /// Retry.
    Retry => "retry",
    /// Remote control (device specific).
    RemoteControl => "remote_control",
    /// First storage number for cyclic storage.
    FirstStorageNumber => "first_storage_number",
    /// Last storage number for cyclic storage.
    LastStorageNumber => "last_storage_number",
    /// Size of storage block.
    StorageBlockSize => "storage_block_size",
    /// Descriptor for tariff and subunit.
    TariffSubunitDescriptor => "tariff_subunit_descriptor",
    /// Storage interval, s (months and years as their Gregorian mean length).
    StorageInterval => "storage_interval",
    /// Operator-specific data.
    OperatorSpecificData => "operator_specific_data",
    /// Time point, second (0..59), s.
    TimePointSecond => "time_point_second",
    /// Duration since last readout, s.
    DurationSinceLastReadout => "duration_since_last_readout",
    /// Start (date/time) of tariff: ISO 8601 text.
    TariffStart => "tariff_start",
    /// Duration of tariff, s.
    TariffDuration => "tariff_duration",
    /// Period of tariff, s.
    TariffPeriod => "tariff_period",
    /// Dimensionless ("no VIF", 0xFD 0x3A).
    NoUnit => "no_unit",
    /// Data container for the wireless M-Bus protocol.
    WmbusDataContainer => "wmbus_data_container",
    /// Period of nominal data transmissions, s.
    TransmissionPeriod => "transmission_period",
    /// Voltage, V.
    Voltage => "voltage",
    /// Current, A.
    Current => "current",
    /// Reset counter.
    ResetCounter => "reset_counter",
    /// Cumulation counter.
    CumulationCounter => "cumulation_counter",
    /// Control signal.
    ControlSignal => "control_signal",
    /// Day of week.
    DayOfWeek => "day_of_week",
    /// Week number.
    WeekNumber => "week_number",
    /// Time point of day change.
    DayChangeTime => "day_change_time",
    /// State of parameter activation.
    ParameterActivationState => "parameter_activation_state",
    /// Special supplier information.
    SupplierInformation => "supplier_information",
    /// Duration since last cumulation, s.
    DurationSinceLastCumulation => "duration_since_last_cumulation",
    /// Operating time of the battery, s.
    BatteryOperatingTime => "battery_operating_time",
    /// Date and time of battery change: ISO 8601 text.
    BatteryChange => "battery_change",
    /// RF level (implied unit: dBm).
    RfLevel => "rf_level",
    /// Daylight saving (beginning, ending, deviation).
    DaylightSaving => "daylight_saving",
    /// Listening window management.
    ListeningWindow => "listening_window",
    /// Remaining battery life time, s.
    RemainingBatteryLife => "remaining_battery_life",
    /// Number of times the meter was stopped.
    MeterStopCount => "meter_stop_count",
    /// Data container for a manufacturer-specific protocol.
    ManufacturerDataContainer => "manufacturer_data_container",
    /// Reactive energy (implied unit: varh).
    ReactiveEnergy => "reactive_energy",
    /// Reactive power (implied unit: var).
    ReactivePower => "reactive_power",
    /// Apparent power (implied unit: VA).
    ApparentPower => "apparent_power",
    /// Relative humidity (implied unit: %).
    RelativeHumidity => "relative_humidity",
    /// Frequency (implied unit: Hz).
    Frequency => "frequency",
    /// Phase angle voltage to voltage (implied unit: degree).
    PhaseVoltageVoltage => "phase_voltage_voltage",
    /// Phase angle voltage to current (implied unit: degree).
    PhaseVoltageCurrent => "phase_voltage_current",
    /// Cold / warm temperature limit, degC.
    TemperatureLimit => "temperature_limit",
    /// Cumulative count of maximum power, W.
    CumulativeMaxPower => "cumulative_max_power",
    /// Not known: an extension-table VIF (0x7B or 0x7D) without the VIFE that names the
    /// entry (only in [`DecodeMode::Lenient`](crate::DecodeMode)). The value is the raw,
    /// unscaled number; the VIF is in [`Record::vif`](crate::Record::vif).
    Unknown => "unknown",
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
