//! The wire-time model of a Modbus RTU line: how long reads occupy the bus.
//!
//! This is a pure *wire-time* model. It counts what the Modbus serial line specification
//! (Modbus over Serial Line V1.02, section 2.5) puts on the wire and nothing else:
//!
//! * **11 bits per character**, whatever the framing: 1 start bit, 8 data bits, 1 parity
//!   bit and 1 stop bit, or 2 stop bits when there is no parity. So one character lasts
//!   `11 / baud` seconds (0.573 ms at 19 200 Bd).
//! * **A silence of 3.5 characters (t3.5) after every frame.** RTU frames are delimited by
//!   this idle time, so a read transaction costs `request + t3.5 + response + t3.5`.
//!   Above 19 200 Bd the specification fixes t3.5 at **1.75 ms** (instead of 3.5
//!   character times, which would get too short for UART interrupt handling); this model
//!   follows it. At 19 200 Bd and below t3.5 = 3.5 × 11 / baud.
//! * **Frame sizes of a read (FC1 to FC4).** Request: address, function code, start
//!   address (2), quantity (2), CRC (2) = 8 bytes. Response: address, function code, byte
//!   count, data, CRC (2) = 5 + data bytes, where the data is 2 bytes per register (FC3,
//!   FC4) or ⌈bits / 8⌉ bytes (FC1, FC2).
//!
//! What a real line adds on top (the slave's processing time before it answers, the
//! master's own turnaround) is not wire time: it is passed in explicitly as a per-device
//! `latency` (zero by default) so the model stays reproducible.
//!
//! ```
//! use modbus_devices::plan::wire::RtuLine;
//! use modbus_devices::FunctionCode;
//! use std::time::Duration;
//!
//! let line = RtuLine::new(19_200);
//! // One character is 11 bits.
//! assert_eq!(line.char_time(), Duration::from_nanos(572_917));
//! // Reading 10 holding registers: 8-byte request, 25-byte response and two t3.5
//! // silences = 33 + 7 = 40 characters, computed exactly and rounded once.
//! let t = line.read_transaction(FunctionCode::Holding, 10);
//! assert_eq!(t, Duration::from_nanos(22_916_667));
//! let parts = line.frame_time(8) + line.frame_time(25) + 2 * line.silence();
//! assert!(t.abs_diff(parts) <= Duration::from_nanos(2));
//! // Above 19 200 Bd the silence is a fixed 1.75 ms.
//! assert_eq!(RtuLine::new(115_200).silence(), Duration::from_micros(1750));
//! ```

use std::time::Duration;

use crate::register::FunctionCode;

/// Bits on the wire per RTU character (start + 8 data + parity + stop, or 2 stop bits
/// without parity).
pub const BITS_PER_CHAR: u64 = 11;

/// The fixed inter-frame silence t3.5 the specification requires above 19 200 Bd.
pub const FIXED_SILENCE: Duration = Duration::from_micros(1750);

/// The highest baud rate at which t3.5 is 3.5 character times.
pub const FIXED_SILENCE_ABOVE_BAUD: u32 = 19_200;

/// Size of a read request frame (FC1 to FC4): address, function code, start address (2),
/// quantity (2), CRC (2).
pub const READ_REQUEST_BYTES: u32 = 8;

/// Bytes of a read response frame around its data: address, function code, byte count,
/// CRC (2).
pub const READ_RESPONSE_OVERHEAD_BYTES: u32 = 5;

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// Data bytes of a read response carrying `count` registers (FC3, FC4) or bits (FC1, FC2).
///
/// ```
/// use modbus_devices::plan::wire::response_data_bytes;
/// use modbus_devices::FunctionCode;
/// assert_eq!(response_data_bytes(FunctionCode::Input, 3), 6);
/// assert_eq!(response_data_bytes(FunctionCode::Coils, 9), 2);
/// ```
pub fn response_data_bytes(function_code: FunctionCode, count: u32) -> u32 {
    if function_code.is_bit_table() {
        count.div_ceil(8)
    } else {
        count.saturating_mul(2)
    }
}

/// Size of the whole read response frame for `count` registers or bits.
pub fn read_response_bytes(function_code: FunctionCode, count: u32) -> u32 {
    READ_RESPONSE_OVERHEAD_BYTES.saturating_add(response_data_bytes(function_code, count))
}

/// An RTU line at a given baud rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RtuLine {
    baud: u32,
}

impl RtuLine {
    /// A line at `baud` bits per second. A baud rate of 0 is taken as 1 (the model never
    /// divides by zero; such a line is simply very slow).
    pub fn new(baud: u32) -> Self {
        Self { baud: baud.max(1) }
    }

    /// The baud rate.
    pub fn baud(&self) -> u32 {
        self.baud
    }

    /// Time in "scaled" units, nanoseconds × baud, where everything is an exact integer:
    /// one character is 11 × 10⁹.
    pub(crate) fn chars_scaled(chars: u64) -> u128 {
        u128::from(chars) * u128::from(BITS_PER_CHAR) * u128::from(NANOS_PER_SECOND)
    }

    /// The silence t3.5 in scaled units (exact).
    pub(crate) fn silence_scaled(&self) -> u128 {
        if self.baud > FIXED_SILENCE_ABOVE_BAUD {
            FIXED_SILENCE.as_nanos() * u128::from(self.baud)
        } else {
            // 3.5 characters.
            7 * u128::from(BITS_PER_CHAR) * u128::from(NANOS_PER_SECOND) / 2
        }
    }

    /// Convert scaled units to a duration, rounding to the nearest nanosecond.
    pub(crate) fn scaled_to_duration(&self, scaled: u128) -> Duration {
        let baud = u128::from(self.baud);
        let ns = (scaled + baud / 2) / baud;
        Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }

    /// Duration of one character (11 bits).
    pub fn char_time(&self) -> Duration {
        self.scaled_to_duration(Self::chars_scaled(1))
    }

    /// The inter-frame silence t3.5: 3.5 character times, or a fixed 1.75 ms above
    /// 19 200 Bd.
    pub fn silence(&self) -> Duration {
        self.scaled_to_duration(self.silence_scaled())
    }

    /// Time to transmit a frame of `bytes` bytes (without the silence).
    pub fn frame_time(&self, bytes: u32) -> Duration {
        self.scaled_to_duration(Self::chars_scaled(u64::from(bytes)))
    }

    /// Wire time of one read transaction of `count` registers or bits:
    /// request frame + t3.5 + response frame + t3.5 (computed exactly, rounded once).
    pub fn read_transaction(&self, function_code: FunctionCode, count: u32) -> Duration {
        let mut t = WireTally::default();
        t.add_read(function_code, count);
        t.time(self)
    }

    /// Wire time of `requests` read transactions carrying `count` registers (bits) in
    /// total (see [`WireTally::add_reads`]).
    pub fn read_transactions(
        &self,
        function_code: FunctionCode,
        requests: u32,
        count: u32,
    ) -> Duration {
        let mut t = WireTally::default();
        t.add_reads(function_code, requests, count);
        t.time(self)
    }
}

/// An exact running total of read transactions on one line: bytes, frames and latency are
/// summed first and converted to time once, so totals compare without rounding drift.
///
/// ```
/// use modbus_devices::plan::wire::{RtuLine, WireTally};
/// use modbus_devices::FunctionCode;
///
/// let mut t = WireTally::default();
/// t.add_read(FunctionCode::Holding, 10);
/// t.add_read(FunctionCode::Holding, 2);
/// let line = RtuLine::new(19_200);
/// let sum = line.read_transaction(FunctionCode::Holding, 10) + line.read_transaction(FunctionCode::Holding, 2);
/// assert!(t.time(&line).abs_diff(sum).as_nanos() <= 2);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireTally {
    /// Characters on the wire (request and response frames).
    pub bytes: u64,
    /// Read transactions (each costs two t3.5 silences).
    pub transactions: u64,
    /// Latency added on top of the wire time.
    pub latency: Duration,
}

impl WireTally {
    /// Add one read transaction of `count` registers (bits).
    pub fn add_read(&mut self, function_code: FunctionCode, count: u32) {
        self.add_reads(function_code, 1, count);
    }

    /// Add `requests` read transactions carrying `count` registers (bits) in total; bits are
    /// counted as ⌈count / 8⌉ bytes over all of them (a lower bound of the real split).
    pub fn add_reads(&mut self, function_code: FunctionCode, requests: u32, count: u32) {
        if requests == 0 {
            return;
        }
        self.bytes += u64::from(requests)
            * u64::from(READ_REQUEST_BYTES + READ_RESPONSE_OVERHEAD_BYTES)
            + u64::from(response_data_bytes(function_code, count));
        self.transactions += u64::from(requests);
    }

    /// Add `latency` once per transaction for `transactions` transactions.
    pub fn add_latency(&mut self, latency: Duration, transactions: usize) {
        let n = u32::try_from(transactions).unwrap_or(u32::MAX);
        self.latency = self.latency.saturating_add(latency.saturating_mul(n));
    }

    /// The total time on `line`, exact until a single final rounding to the nanosecond.
    pub fn time(&self, line: &RtuLine) -> Duration {
        let scaled = RtuLine::chars_scaled(self.bytes)
            + u128::from(self.transactions) * 2 * line.silence_scaled();
        line.scaled_to_duration(scaled).saturating_add(self.latency)
    }
}

impl std::ops::Add for WireTally {
    type Output = WireTally;
    fn add(self, o: WireTally) -> WireTally {
        WireTally {
            bytes: self.bytes + o.bytes,
            transactions: self.transactions + o.transactions,
            latency: self.latency.saturating_add(o.latency),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn character_and_silence_times() {
        let l = RtuLine::new(9600);
        // 11 bits at 9600 Bd = 1.1458 ms; t3.5 = 4.0104 ms.
        assert_eq!(l.char_time(), Duration::from_nanos(1_145_833));
        assert_eq!(l.silence(), Duration::from_nanos(4_010_417));
        let l = RtuLine::new(19_200);
        assert_eq!(l.silence(), Duration::from_nanos(2_005_208));
        // Fixed above 19 200 Bd.
        assert_eq!(RtuLine::new(38_400).silence(), FIXED_SILENCE);
        assert_eq!(RtuLine::new(0).baud(), 1);
    }

    #[test]
    fn read_frames() {
        assert_eq!(read_response_bytes(FunctionCode::Holding, 125), 255);
        assert_eq!(read_response_bytes(FunctionCode::DiscreteInputs, 2000), 255);
        assert_eq!(read_response_bytes(FunctionCode::Coils, 1), 6);
        let l = RtuLine::new(19_200);
        // 1 register: 8 + 7 = 15 characters plus 7 characters of silence = 22 chars.
        let t = l.read_transaction(FunctionCode::Input, 1);
        let chars = t.as_nanos() as f64 / l.char_time().as_nanos() as f64;
        assert!((chars - 22.0).abs() < 1e-3, "{chars}");
        // The aggregated form matches the sum for registers.
        let sum = l.read_transaction(FunctionCode::Holding, 10)
            + l.read_transaction(FunctionCode::Holding, 30);
        let agg = l.read_transactions(FunctionCode::Holding, 2, 40);
        assert!(sum.abs_diff(agg) <= Duration::from_nanos(2));
        assert_eq!(
            l.read_transactions(FunctionCode::Holding, 0, 0),
            Duration::ZERO
        );
    }
}
