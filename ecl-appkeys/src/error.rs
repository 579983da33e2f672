//! The crate's error type.

use std::path::PathBuf;

use crate::pnu::Pnu;
use crate::toml_file::Located;

/// Everything that can go wrong in `ecl-appkeys`: bad data files, bad arguments, refused
/// writes, undecodable register values.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
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
    /// A data file could not be read.
    #[error("{}: cannot read: {message}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// A key defined twice (in two files, or twice in one).
    #[error("{}: application key {key} is already defined in {existing}", file.display())]
    DuplicateKey {
        /// The file defining it again.
        file: PathBuf,
        /// The key (`A266`).
        key: String,
        /// Where it was defined first.
        existing: String,
    },
    /// A call argument is out of its domain.
    #[error("{what}: expected {expected}, found {found}")]
    InvalidArgument {
        /// Which argument.
        what: &'static str,
        /// What is accepted.
        expected: &'static str,
        /// What was given.
        found: String,
    },
    /// A parameter (by id or PNU) that the controller's parameter map does not have.
    #[error("unknown parameter {0}: not in this controller's parameter map")]
    UnknownParameter(String),
    /// A write to a parameter the catalogue marks read-only.
    #[error(
        "parameter {id} (PNU {pnu}) is read-only: the catalogue gives no writable range for it"
    )]
    ReadOnly {
        /// The parameter id.
        id: String,
        /// Its PNU.
        pnu: Pnu,
    },
    /// A value outside the parameter's range (in the parameter's unit).
    #[error("parameter {id} (PNU {pnu}): {value} {unit} is outside {min}..={max} {unit}")]
    OutOfRange {
        /// The parameter id.
        id: String,
        /// Its PNU.
        pnu: Pnu,
        /// The value asked for.
        value: f64,
        /// Smallest value allowed.
        min: f64,
        /// Largest value allowed.
        max: f64,
        /// The unit symbol.
        unit: String,
    },
    /// A value that no register value represents at the parameter's scale (a fraction of
    /// the step, or not finite).
    #[error("parameter {id} (PNU {pnu}): {value} is not a multiple of its step {step}")]
    NotRepresentable {
        /// The parameter id.
        id: String,
        /// Its PNU.
        pnu: Pnu,
        /// The value asked for.
        value: f64,
        /// The step (the scale).
        step: f64,
    },
    /// A PNU that must be read lies outside every range the controller serves.
    #[error(
        "PNU {0} is outside every range this controller serves; reading it would fail the whole request"
    )]
    NotServed(Pnu),
    /// A register value needed for a decoding was not supplied.
    #[error("PNU {0}: value missing")]
    MissingRegister(Pnu),
    /// A register value that does not decode (schedule time, mode, date).
    #[error("PNU {pnu}: raw value {raw} is not {expected}")]
    BadRegister {
        /// Where.
        pnu: Pnu,
        /// What was read.
        raw: u16,
        /// What was expected.
        expected: &'static str,
    },
    /// A configurable input the application uses, or whose use is unknown.
    #[error("input S{input}: {reason}")]
    InputNotConfigurable {
        /// The input number (1..=16).
        input: u8,
        /// Why it cannot be configured.
        reason: String,
    },
    /// The `modbus-devices` simulator refused the simulated controller (unit id taken or 0).
    #[error("simulator: {0}")]
    Simulator(String),
    /// A request to a controller failed (feature `io`): no answer, an exception answer, a
    /// refused write; the poller's error says which.
    #[cfg(feature = "io")]
    #[error(transparent)]
    Poll(#[from] modbus_devices::poll::PollError),
    /// A write was answered, but reading the parameter back did not give the value written
    /// (the controller did not apply it, or changed it).
    #[error("{device}: parameter {id} (PNU {pnu}): wrote raw {wanted}, read back {}", found.map_or("nothing".to_string(), |f| f.to_string()))]
    NotConfirmed {
        /// The device.
        device: String,
        /// The parameter id.
        id: String,
        /// Its PNU.
        pnu: Pnu,
        /// The raw value written.
        wanted: u16,
        /// The raw value read back (`None`: the read-back got no value).
        found: Option<u16>,
    },
    /// A device name the site does not have.
    #[error("no controller named {0:?} in this site")]
    UnknownDevice(String),
    /// The generated `modbus-devices` product was refused by its catalogue.
    #[error("modbus-devices: {0}")]
    Catalogue(#[from] modbus_devices::CatalogueError),
}

impl From<Located> for Error {
    fn from(l: Located) -> Self {
        Error::InvalidFile {
            file: l.file,
            line: l.line,
            column: l.column,
            field: l.field,
            message: l.message,
        }
    }
}
