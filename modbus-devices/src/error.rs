//! The crate's error types.

use std::path::PathBuf;

/// Errors of the register codec.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The number of words given does not match the definition.
    #[error("register {address:#06x}: expected {expected} words, found {found}")]
    WrongLength {
        /// first address
        address: u16,
        /// words the type spans
        expected: usize,
        /// words given
        found: usize,
    },
    /// A BCD register held a nibble above 9.
    #[error("register {address:#06x}: invalid BCD digits in {raw:#x}")]
    InvalidBcd {
        /// first address
        address: u16,
        /// raw bits
        raw: u64,
    },
    /// The definition scales from another register whose value was not supplied.
    #[error("register {address:#06x}: needs the value of its scale register")]
    ScaleRegisterMissing {
        /// first address
        address: u16,
    },
    /// The scale register held a power of ten outside -30..30.
    #[error("scale register {address:#06x}: power of ten {raw} is outside -30..30")]
    BadScaleRegister {
        /// scale register address
        address: u16,
        /// raw content
        raw: i16,
    },
    /// A value of the wrong kind was given for the type.
    #[error("expected a value for type {expected}, found {found}")]
    TypeMismatch {
        /// the data type
        expected: &'static str,
        /// the value kind
        found: &'static str,
    },
    /// The value does not fit the type after scaling.
    #[error("value {value} cannot be represented as {data_type} with this scale")]
    NotRepresentable {
        /// the value
        value: f64,
        /// the data type
        data_type: &'static str,
    },
    /// Text longer than the string's registers, or not ASCII.
    #[error("text {text:?} is not ASCII or longer than {max_chars} characters")]
    TextTooLong {
        /// the text
        text: String,
        /// capacity
        max_chars: usize,
    },
    /// A write to a read-only value.
    #[error("register {address:#06x} is read-only")]
    ReadOnly {
        /// address
        address: u16,
    },
    /// A write outside the allowed range.
    #[error("value {value} is outside the allowed range {min}..={max}")]
    OutOfRange {
        /// the value
        value: f64,
        /// minimum
        min: f64,
        /// maximum
        max: f64,
    },
}

/// Errors of loading and editing the product catalogue.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogueError {
    /// A data file is malformed or inconsistent: where, and what was wrong.
    #[error("{}:{line}:{column}: {field}: {message}", file.display())]
    InvalidFile {
        /// The file (built-in files are named `<builtin>/NAME`).
        file: std::path::PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// The field path as written in the file, e.g. `product[2].service[4].type`; `(file)` when no field.
        field: String,
        /// What was expected and what was found.
        message: String,
    },
    /// The file could not be read.
    #[error("{file}: cannot read: {message}")]
    Io {
        /// file name
        file: PathBuf,
        /// the OS error
        message: String,
    },
    /// A reference that already exists in the catalogue.
    #[error("{file}: duplicate reference {reference:?} (already defined by {existing})")]
    DuplicateReference {
        /// file name
        file: PathBuf,
        /// the reference
        reference: String,
        /// where it was first defined
        existing: String,
    },
    /// A product that a configured device still uses.
    #[error("product {reference:?} cannot be removed: it is used by device {device:?}")]
    InUse {
        /// the reference
        reference: String,
        /// the device using it
        device: String,
    },
    /// No product with that reference.
    #[error("unknown product reference {0:?}")]
    UnknownReference(String),
    /// An argument of a product builder (such as `catalogue::generic_energy_meter`) is invalid.
    #[error("invalid {field}: expected {expected}, found {found}")]
    InvalidArgument {
        /// the argument
        field: &'static str,
        /// what is accepted
        expected: &'static str,
        /// what was given
        found: String,
    },
}

/// Errors of device instances and bus settings.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// A value out of its allowed range.
    #[error("{field}: {message}")]
    Invalid {
        /// the field
        field: &'static str,
        /// what was wrong
        message: String,
    },
    /// A device name already taken.
    #[error("a device named {0:?} already exists")]
    DuplicateName(String),
    /// An address already taken on the bus.
    #[error("address {address} on bus {bus:?} is already used by device {device:?}")]
    AddressInUse {
        /// the bus
        bus: String,
        /// the address
        address: String,
        /// the device holding it
        device: String,
    },
    /// Not enough free consecutive addresses.
    #[error("cannot create {wanted} products on bus {bus:?}: no address is available ({message})")]
    NoAddressAvailable {
        /// the bus
        bus: String,
        /// how many were wanted
        wanted: usize,
        /// detail
        message: String,
    },
    /// The bus named by a device is not configured.
    #[error("unknown bus {0:?}")]
    UnknownBus(String),
    /// The product named by a device is not in the catalogue.
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
}
