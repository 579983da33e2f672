//! Bus timing per EN 13757-2 for a baud rate (pure; used by the master).
//!
//! One character on the wire is 11 bits (start bit, 8 data bits, even parity, stop bit: 8E1).
//! The slave answers no earlier than 11 bit times and no later than **330 bit times + 50 ms**
//! after the last stop bit of the request, as "The M-Bus: A Documentation" (rev. 4.8, section
//! 5.4, the text EN 13757-2 grew from) states it; the clause number in EN 13757-2 itself was
//! not checked (no copy of the standard was at hand). A frame's characters follow one another
//! without idle line in between (the FT 1.2 format of EN 60870-5-1 that EN 13757-2 uses). For
//! comparison, PiiGAB's M-Bus 900S gateway manual (section 9.2.1) sizes its whole-telegram
//! timeout as 261 characters x 11 bits / baud + 0.5 s.
//!
//! The formulas used by the master:
//!
//! - response timeout (first byte of the answer) = 330 bit times + 50 ms + `extra`;
//! - idle timeout between the bytes of one answer = 330 bit times + 50 ms + `extra` too, a
//!   margin over the EN 60870-5-1 "no gap" rule because USB adapters, pseudo-terminals and TCP
//!   gateways deliver bytes in bursts;
//! - turnaround before the next request = 11 bit times.
//!
//! `extra` is 0 on a local serial line and the gateway's round-trip allowance for M-Bus over
//! TCP. At 2400 Bd the response timeout is 137.5 ms + 50 ms = 187.5 ms; at 300 Bd, 1.15 s.
//!
//! ```
//! use mbus_meters::timing::BusTiming;
//! use std::time::Duration;
//! let t = BusTiming::new(2400).unwrap();
//! assert_eq!(t.response_timeout(), Duration::from_micros(187_500));
//! assert_eq!(t.character_time(), Duration::from_micros(4_583));
//! assert!(BusTiming::new(115_200).is_err());
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The baud rates EN 13757-2 names for wired M-Bus.
pub const BAUD_RATES: [u32; 8] = [300, 600, 1200, 2400, 4800, 9600, 19200, 38400];

/// The default baud rate.
pub const DEFAULT_BAUD: u32 = 2400;

/// Bits per character (8E1: start, 8 data, parity, stop).
pub const BITS_PER_CHARACTER: u32 = 11;

/// Timing of one bus at one baud rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusTiming {
    /// Baud rate (one of [`BAUD_RATES`]).
    pub baud: u32,
    /// Extra allowance added to the response and idle timeouts (TCP gateways).
    pub extra: Duration,
}

impl Default for BusTiming {
    fn default() -> Self {
        BusTiming {
            baud: DEFAULT_BAUD,
            extra: Duration::ZERO,
        }
    }
}

impl BusTiming {
    /// Timing for a baud rate from [`BAUD_RATES`]; another rate is
    /// [`Error::InvalidBaudRate`].
    pub fn new(baud: u32) -> Result<BusTiming, Error> {
        if !BAUD_RATES.contains(&baud) {
            return Err(Error::InvalidBaudRate { found: baud });
        }
        Ok(BusTiming {
            baud,
            extra: Duration::ZERO,
        })
    }

    /// The same timing with an extra allowance (TCP gateway round trip).
    pub fn with_extra(self, extra: Duration) -> BusTiming {
        BusTiming { extra, ..self }
    }

    /// The time `bits` bit periods take.
    pub fn bits(&self, bits: u32) -> Duration {
        Duration::from_nanos(u64::from(bits) * 1_000_000_000 / u64::from(self.baud.max(1)))
    }

    /// One character (11 bit times), rounded down to whole nanoseconds.
    pub fn character_time(&self) -> Duration {
        // shown in whole microseconds in the docs: 11/2400 s = 4583.3 us
        Duration::from_micros(self.bits(BITS_PER_CHARACTER).as_micros() as u64)
    }

    /// 330 bit times + 50 ms + extra: how long the master waits for the first byte.
    pub fn response_timeout(&self) -> Duration {
        self.bits(330) + Duration::from_millis(50) + self.extra
    }

    /// How long the line may stay idle inside one answer before the answer is taken as ended.
    pub fn idle_timeout(&self) -> Duration {
        self.response_timeout()
    }

    /// The overall deadline of one answer, from the end of the request: the response
    /// timeout, the time the longest valid frame (261 characters) takes on the wire, and one
    /// idle timeout of margin. A line or gateway that keeps sending past it does not hold
    /// the master (PiiGAB's gateway manual sizes its whole-telegram timeout the same way:
    /// 261 characters x 11 bits / baud + 0.5 s). At 2400 Bd: 187.5 + 1196.25 + 187.5 ms.
    ///
    /// ```
    /// use mbus_meters::timing::BusTiming;
    /// use std::time::Duration;
    /// let t = BusTiming::new(2400).unwrap();
    /// assert_eq!(t.reply_timeout(), Duration::from_micros(1_571_250));
    /// ```
    pub fn reply_timeout(&self) -> Duration {
        self.response_timeout() + self.transmit(crate::link::MAX_FRAME_LEN) + self.idle_timeout()
    }

    /// Pause before the next request: 11 bit times.
    pub fn turnaround(&self) -> Duration {
        self.bits(BITS_PER_CHARACTER)
    }

    /// Time to transmit `n` characters.
    pub fn transmit(&self, n: usize) -> Duration {
        self.bits(BITS_PER_CHARACTER.saturating_mul(n as u32))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn formula_per_baud_rate() {
        for baud in BAUD_RATES {
            let t = BusTiming::new(baud).unwrap();
            let expected_ns = 330u64 * 1_000_000_000 / u64::from(baud) + 50_000_000;
            assert_eq!(t.response_timeout().as_nanos() as u64, expected_ns);
        }
        assert_eq!(
            BusTiming::new(300).unwrap().response_timeout(),
            Duration::from_millis(1150)
        );
        assert_eq!(
            BusTiming::new(38400).unwrap().response_timeout(),
            Duration::from_nanos(58_593_750)
        );
        let tcp = BusTiming::new(9600)
            .unwrap()
            .with_extra(Duration::from_millis(200));
        assert_eq!(tcp.response_timeout(), Duration::from_nanos(284_375_000));
        assert!(BusTiming::new(2401).is_err());
    }
}
