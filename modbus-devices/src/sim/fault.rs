//! Fault injection: per unit id, switchable while the simulator runs.

use std::time::Duration;

/// A fault a simulated device shows until it is cleared.
///
/// ```
/// use modbus_devices::sim::Fault;
/// use std::time::Duration;
///
/// let slow = Fault::Delay(Duration::from_millis(300));
/// assert_ne!(slow, Fault::None);
/// assert_eq!(Fault::default(), Fault::None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// Answer normally.
    #[default]
    None,
    /// Never answer: the master times out.
    NoAnswer,
    /// Answer every request with this Modbus exception code (e.g. 4, server device failure).
    Exception(u8),
    /// On RTU framings (serial line, RTU over TCP): answer with the frame's CRC corrupted,
    /// so the master sees a CRC error. Modbus/TCP has no CRC: there the fault behaves as
    /// [`Fault::NoAnswer`] (the frame a master would discard).
    BadCrc,
    /// Answer correctly, but only after this delay.
    Delay(Duration),
    /// Acknowledge every write (FC5, FC6, FC15, FC16) as done without applying it, as a
    /// write-protected device does; reads are answered normally.
    IgnoreWrites,
}

/// What the transport must do with one request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// Send this answer.
    Reply(Result<tokio_modbus::Response, tokio_modbus::ExceptionCode>),
    /// Send this answer with its CRC corrupted (RTU framings only).
    CorruptReply(Result<tokio_modbus::Response, tokio_modbus::ExceptionCode>),
    /// Send nothing.
    Silent,
}
