//! Errors of polling: typed Modbus exceptions and everything that can go wrong between the
//! poller and a device.

use serde::{Deserialize, Serialize};

use crate::error::{CatalogueError, CodecError, DeviceError};
use crate::plan::PlanError;

/// A Modbus exception code a device answered with (Modbus Application Protocol
/// specification V1.1b3, section 7), typed: the code and its name.
///
/// ```
/// use modbus_devices::poll::ModbusException;
///
/// let e = ModbusException::from_code(2);
/// assert_eq!(e, ModbusException::IllegalDataAddress);
/// assert_eq!((e.code(), e.name()), (2, "illegal data address"));
/// assert_eq!(e.to_string(), "exception 02 (illegal data address)");
/// assert_eq!(ModbusException::from_code(0x42).code(), 0x42);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ModbusException {
    /// 01: the function code is not supported (or, with our TLS server, not allowed for the
    /// client's role).
    #[error("exception 01 (illegal function)")]
    IllegalFunction,
    /// 02: the address range is not served.
    #[error("exception 02 (illegal data address)")]
    IllegalDataAddress,
    /// 03: a value in the request is not allowed.
    #[error("exception 03 (illegal data value)")]
    IllegalDataValue,
    /// 04: the device failed while performing the action.
    #[error("exception 04 (server device failure)")]
    ServerDeviceFailure,
    /// 05: accepted, processing takes long.
    #[error("exception 05 (acknowledge)")]
    Acknowledge,
    /// 06: busy with a long command.
    #[error("exception 06 (server device busy)")]
    ServerDeviceBusy,
    /// 08: memory parity error in a file record.
    #[error("exception 08 (memory parity error)")]
    MemoryParityError,
    /// 0A: a gateway has no path to the target.
    #[error("exception 0A (gateway path unavailable)")]
    GatewayPathUnavailable,
    /// 0B: the gateway's target device did not respond.
    #[error("exception 0B (gateway target device failed to respond)")]
    GatewayTargetFailedToRespond,
    /// Any other code.
    #[error("exception {0:02X} (unknown exception code)")]
    Other(u8),
}

impl ModbusException {
    /// The exception for a code.
    pub fn from_code(code: u8) -> Self {
        match code {
            0x01 => Self::IllegalFunction,
            0x02 => Self::IllegalDataAddress,
            0x03 => Self::IllegalDataValue,
            0x04 => Self::ServerDeviceFailure,
            0x05 => Self::Acknowledge,
            0x06 => Self::ServerDeviceBusy,
            0x08 => Self::MemoryParityError,
            0x0A => Self::GatewayPathUnavailable,
            0x0B => Self::GatewayTargetFailedToRespond,
            other => Self::Other(other),
        }
    }

    /// The code on the wire.
    pub fn code(self) -> u8 {
        match self {
            Self::IllegalFunction => 0x01,
            Self::IllegalDataAddress => 0x02,
            Self::IllegalDataValue => 0x03,
            Self::ServerDeviceFailure => 0x04,
            Self::Acknowledge => 0x05,
            Self::ServerDeviceBusy => 0x06,
            Self::MemoryParityError => 0x08,
            Self::GatewayPathUnavailable => 0x0A,
            Self::GatewayTargetFailedToRespond => 0x0B,
            Self::Other(c) => c,
        }
    }

    /// The name from the specification.
    pub fn name(self) -> &'static str {
        match self {
            Self::IllegalFunction => "illegal function",
            Self::IllegalDataAddress => "illegal data address",
            Self::IllegalDataValue => "illegal data value",
            Self::ServerDeviceFailure => "server device failure",
            Self::Acknowledge => "acknowledge",
            Self::ServerDeviceBusy => "server device busy",
            Self::MemoryParityError => "memory parity error",
            Self::GatewayPathUnavailable => "gateway path unavailable",
            Self::GatewayTargetFailedToRespond => "gateway target device failed to respond",
            Self::Other(_) => "unknown exception code",
        }
    }
}

impl From<tokio_modbus::ExceptionCode> for ModbusException {
    fn from(e: tokio_modbus::ExceptionCode) -> Self {
        Self::from_code(u8::from(e))
    }
}

/// Errors of the poller.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PollError {
    /// The device answered with a Modbus exception.
    #[error("device {device:?}: {request}: {exception}")]
    Exception {
        /// The device.
        device: String,
        /// The request, e.g. `FC3 0xB000+49`.
        request: String,
        /// What it answered.
        exception: ModbusException,
    },
    /// No answer within the response timeout, on every try.
    #[error("device {device:?}: {request}: no answer within {timeout_ms} ms ({tries} tries)")]
    Timeout {
        /// The device.
        device: String,
        /// The request.
        request: String,
        /// The response timeout.
        timeout_ms: u64,
        /// Tries made (1 + retries).
        tries: u32,
    },
    /// Answers arrived with a bad CRC (RTU framing), on the last try.
    #[error("device {device:?}: {request}: answer with a bad CRC ({tries} tries)")]
    Crc {
        /// The device.
        device: String,
        /// The request.
        request: String,
        /// Tries made.
        tries: u32,
    },
    /// The connection failed during the transaction.
    #[error("device {device:?}: {request}: transport error: {message}")]
    Transport {
        /// The device.
        device: String,
        /// The request.
        request: String,
        /// The I/O error.
        message: String,
    },
    /// The answer did not match the request (unit id, transaction id or function code).
    #[error("device {device:?}: {request}: protocol error: {message}")]
    Protocol {
        /// The device.
        device: String,
        /// The request.
        request: String,
        /// What did not match.
        message: String,
    },
    /// The bus could not be opened (TCP connect, TLS handshake, serial port).
    #[error("bus {bus:?}: cannot connect to {endpoint}: {message}")]
    Connect {
        /// The bus.
        bus: String,
        /// `host:port` or the serial port.
        endpoint: String,
        /// Why (the last connection error, or the back-off still running).
        message: String,
    },
    /// A TLS configuration problem (certificate or key files).
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// No device with this name.
    #[error("unknown device {0:?}")]
    UnknownDevice(String),
    /// The product has no parameter (or service) with this id.
    #[error("device {device:?}: product {product:?} has no {what} {id:?}")]
    UnknownId {
        /// The device.
        device: String,
        /// Its product.
        product: String,
        /// `parameter` or `service`.
        what: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The device is disabled.
    #[error("device {0:?} is disabled")]
    Disabled(String),
    /// A write refused before anything went on the wire (read-only, out of range, wrong type).
    #[error("device {device:?}, {id}: write refused: {source}")]
    WriteRefused {
        /// The device.
        device: String,
        /// Parameter id.
        id: String,
        /// Why.
        source: CodecError,
    },
    /// A bit written by read-modify-write reads back different from what was written
    /// (a write-protected device, or another master writing the register meanwhile).
    #[error(
        "device {device:?}, {id}: bit {bit} of register {address:#06x} reads {found} after writing {wanted}"
    )]
    WriteNotApplied {
        /// The device.
        device: String,
        /// Parameter id.
        id: String,
        /// The holding register.
        address: u16,
        /// The bit (0 = LSB).
        bit: u8,
        /// What was written.
        wanted: bool,
        /// What the re-read found.
        found: bool,
    },
    /// The scale register of a parameter holds a value that cannot scale a write; nothing
    /// was written.
    #[error("device {device:?}, {id}: scale register {address:#06x} holds {raw}: {reason}")]
    BadScale {
        /// The device.
        device: String,
        /// Parameter id.
        id: String,
        /// The scale register.
        address: u16,
        /// Its content (signed).
        raw: i16,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// The installation is not consistent (unknown bus, invalid settings).
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// A device names a product the catalogue lacks.
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    /// A device's services cannot be planned (unknown service id, unreadable value).
    #[error(transparent)]
    Plan(#[from] PlanError),
}

impl PollError {
    /// The Modbus exception, when the device answered with one.
    pub fn exception(&self) -> Option<ModbusException> {
        match self {
            PollError::Exception { exception, .. } => Some(*exception),
            _ => None,
        }
    }

    /// Whether the device gave no usable answer at all (timeout, bad CRC, transport, connect):
    /// what makes a device "not communicating".
    pub fn is_no_answer(&self) -> bool {
        matches!(
            self,
            PollError::Timeout { .. }
                | PollError::Crc { .. }
                | PollError::Transport { .. }
                | PollError::Connect { .. }
        )
    }

    /// A short kind name (`timeout`, `crc`, `exception`, ...), for tables and JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            PollError::Exception { .. } => "exception",
            PollError::Timeout { .. } => "timeout",
            PollError::Crc { .. } => "crc",
            PollError::Transport { .. } => "transport",
            PollError::Protocol { .. } => "protocol",
            PollError::Connect { .. } => "connect",
            PollError::Tls(_) => "tls",
            PollError::UnknownDevice(_) | PollError::UnknownId { .. } => "unknown",
            PollError::Disabled(_) => "disabled",
            PollError::WriteRefused { .. } => "write_refused",
            PollError::WriteNotApplied { .. } => "write_not_applied",
            PollError::BadScale { .. } => "bad_scale",
            PollError::Device(_) | PollError::Catalogue(_) | PollError::Plan(_) => "configuration",
        }
    }
}
