//! Compressed chunk encoding of one channel's readings.
//!
//! A chunk holds readings `(t, v)` with `t` in Unix seconds, strictly increasing. New chunks are
//! written in layout version 3 (codes chosen per chunk: grid-coded poll times and Rice-coded
//! value residuals, see the `v3` module); versions 1 and 2 are still read. Version 2 layout:
//!
//! ```text
//! byte     version (2)
//! varint   count
//! zvarint  first timestamp
//! byte     value mode: 0..=9 = decimal scale k (values are integers / 10^k), 0xFF = XOR floats
//! [int]    byte order (1 = delta, 2 = delta-of-delta), zvarint first integer
//! [xor]    8 bytes first value (big endian bits)
//! bits     timestamps: delta-of-delta codes for readings 1..count
//! bits     values: residual codes (int) or Gorilla XOR codes (float)
//! ```
//!
//! Timestamp delta-of-delta codes (two's complement payloads): `0` = same step; `10`+4 bits;
//! `110`+7 bits; `1110`+12 bits; `11110`+20 bits; `11111`+64 bits. Integer residuals: `0` = 0;
//! `10`+4 bits; `110`+8 bits; `1110`+12 bits; `11110`+16 bits; `111110`+32 bits; `111111`+64
//! bits. Regular 15-minute meter data therefore costs one bit per timestamp and a few bits per
//! value; a gap is just a larger step; a poll time jittering by a few seconds costs 6 bits.
//!
//! Version 1 (written before) differs only in the code tables: times `0`, `10`+7, `110`+12,
//! `1110`+20, `1111`+64 bits; residuals `0`, `10`+4, `110`+8, `1110`+16, `11110`+32, `11111`+64
//! bits. Both are read.
//!
//! The encoding is lossless: a value is stored as a scaled integer only when dividing the
//! integer by `10^k` gives back the very same `f64` bits; otherwise the chunk uses XOR mode.

use std::fmt;

mod bits;
mod decoder;
mod encoder;
mod prefix;
mod v3;

#[cfg(feature = "sqlite")]
pub(crate) use decoder::ChunkReader;
#[cfg(test)]
use decoder::Times;
pub use decoder::{count, decode, decode_into};
pub use encoder::encode;

/// One stored reading: Unix seconds (UTC) and value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Unix time in seconds, UTC.
    pub t: i64,
    /// The value.
    pub v: f64,
}

impl Sample {
    /// A reading at Unix second `t`.
    pub const fn new(t: i64, v: f64) -> Self {
        Sample { t, v }
    }
    /// The reading's time as a UTC date-time.
    pub fn time(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(self.t, 0).unwrap_or_default()
    }
}

/// The version written.
const VERSION: u8 = v3::VERSION;
/// The second layout, still read.
const VERSION_2: u8 = 2;
/// The first layout, still read.
const VERSION_1: u8 = 1;
const XOR_MODE: u8 = 0xFF;
const POW10: [f64; 10] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/// A chunk that does not decode: the chunk's layout version, the byte where the fault was found
/// and what was wrong there.
///
/// ```
/// use reports::codec::{decode, CodecProblem};
/// let e = decode(&[3, 5]).unwrap_err();
/// assert_eq!((e.version, e.offset), (Some(3), 2));
/// assert_eq!(e.problem, CodecProblem::Ends { field: "first time" });
/// assert_eq!(e.to_string(), "chunk layout version 3, byte 2: the chunk ends before its first time");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError {
    /// The chunk's layout version (its first byte, whether known or not); `None` for an empty chunk.
    pub version: Option<u8>,
    /// Byte offset in the chunk where the fault was found.
    pub offset: usize,
    /// What was wrong.
    pub problem: CodecProblem,
}

impl CodecError {
    /// A fault at byte `offset` of `chunk`.
    #[cold]
    #[inline(never)]
    fn at(chunk: &[u8], offset: usize, problem: CodecProblem) -> Self {
        CodecError {
            version: chunk.first().copied(),
            offset,
            problem,
        }
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.version {
            Some(v) => write!(
                f,
                "chunk layout version {v}, byte {}: {}",
                self.offset, self.problem
            ),
            None => write!(f, "chunk byte {}: {}", self.offset, self.problem),
        }
    }
}

impl std::error::Error for CodecError {}

/// What was wrong with a chunk ([`CodecError::problem`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecProblem {
    /// The version byte is not a layout this crate reads.
    UnknownVersion,
    /// The chunk ends inside its header, before `field`.
    Ends {
        /// The header field (`count`, `first time`, `value mode`, ...).
        field: &'static str,
    },
    /// A varint header field longer than 10 bytes.
    LongVarint {
        /// The header field.
        field: &'static str,
    },
    /// A reading count of 0, or more than the chunk's bits can hold.
    Count {
        /// The count in the header.
        count: u64,
        /// The chunk's length in bytes.
        bytes: usize,
    },
    /// A header field outside its range.
    Field {
        /// The header field.
        field: &'static str,
        /// What the layout allows.
        expected: &'static str,
        /// What the chunk holds.
        found: String,
    },
    /// A bit stream ends before a code does.
    BitsEnd {
        /// The byte where the stream ends.
        end: usize,
        /// The bit (from the chunk's start) where the code starts.
        bit: u64,
        /// The bits the code needed.
        needed: u32,
    },
    /// A Gorilla XOR code whose window runs past 64 bits.
    XorWindow {
        /// Leading zero bits.
        lead: u32,
        /// Meaningful bits.
        len: u32,
    },
    /// A version 3 time stream longer than what follows the header.
    TimeStream {
        /// The time stream length in the header.
        length: u64,
        /// The bytes after the header.
        left: usize,
    },
}

impl fmt::Display for CodecProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecProblem::UnknownVersion => write!(
                f,
                "expected layout version {VERSION_1}..={VERSION}, found another version byte"
            ),
            CodecProblem::Ends { field } => write!(f, "the chunk ends before its {field}"),
            CodecProblem::LongVarint { field } => {
                write!(
                    f,
                    "{field}: expected a varint of at most 10 bytes, found a longer one"
                )
            }
            CodecProblem::Count { count, bytes } => write!(
                f,
                "count: expected 1 to {} readings for {bytes} bytes, found {count}",
                bytes * 8 + 1
            ),
            CodecProblem::Field {
                field,
                expected,
                found,
            } => write!(f, "{field}: expected {expected}, found {found}"),
            CodecProblem::BitsEnd { end, bit, needed } => write!(
                f,
                "bit stream ends at byte {end}: {needed} more bits needed at bit {bit}"
            ),
            CodecProblem::XorWindow { lead, len } => write!(
                f,
                "XOR code: expected a window within 64 bits, found {lead} leading zeros and {len} bits"
            ),
            CodecProblem::TimeStream { length, left } => write!(
                f,
                "time stream: expected at most the {left} bytes after the header, found {length} bytes"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bits::{BitReader, BitWriter, get_varint, put_varint, zz};
    use super::decoder::{ChunkReader, Vals};
    use super::encoder::encode_v2;
    use super::prefix::{DOD, DOD_V1, INT, INT_V1, PrefixCode};
    use super::*;
    use proptest::prelude::*;

    /// The prefix codes keep the stored layout: each boundary value is written as its
    /// explicit prefix and payload, and its cost is the number of bits written.
    #[test]
    fn prefix_codes_keep_the_stored_layout() {
        fn bits(f: impl FnOnce(&mut BitWriter)) -> Vec<u8> {
            let mut w = BitWriter::new(Vec::new());
            f(&mut w);
            w.finish()
        }
        // (code, value, prefix bits, prefix length, payload width)
        let cases: &[(&PrefixCode, i64, u64, u32, u32)] = &[
            // Version 1 (still read).
            (&DOD_V1, 0, 0, 1, 0),
            (&DOD_V1, 63, 0b10, 2, 7),
            (&DOD_V1, -64, 0b10, 2, 7),
            (&DOD_V1, 64, 0b110, 3, 12),
            (&DOD_V1, -2049, 0b1110, 4, 20),
            (&DOD_V1, 1 << 19, 0b1111, 4, 64),
            (&INT_V1, 0, 0, 1, 0),
            (&INT_V1, 7, 0b10, 2, 4),
            (&INT_V1, -8, 0b10, 2, 4),
            (&INT_V1, 8, 0b110, 3, 8),
            (&INT_V1, 128, 0b1110, 4, 16),
            (&INT_V1, -32769, 0b11110, 5, 32),
            (&INT_V1, 1 << 31, 0b11111, 5, 64),
            (&INT_V1, i64::MIN, 0b11111, 5, 64),
            // Version 2 (written).
            (&DOD, 0, 0, 1, 0),
            (&DOD, 7, 0b10, 2, 4),
            (&DOD, -8, 0b10, 2, 4),
            (&DOD, 8, 0b110, 3, 7),
            (&DOD, -64, 0b110, 3, 7),
            (&DOD, 64, 0b1110, 4, 12),
            (&DOD, -2049, 0b11110, 5, 20),
            (&DOD, 1 << 19, 0b11111, 5, 64),
            (&INT, 0, 0, 1, 0),
            (&INT, 7, 0b10, 2, 4),
            (&INT, -8, 0b10, 2, 4),
            (&INT, 8, 0b110, 3, 8),
            (&INT, 128, 0b1110, 4, 12),
            (&INT, -2048, 0b1110, 4, 12),
            (&INT, 2048, 0b11110, 5, 16),
            (&INT, -32769, 0b111110, 6, 32),
            (&INT, 1 << 31, 0b111111, 6, 64),
            (&INT, i64::MIN, 0b111111, 6, 64),
        ];
        for &(code, d, prefix, len, width) in cases {
            let expected = bits(|w| {
                w.put(prefix, len);
                match width {
                    64 => w.put64(d as u64),
                    n => w.put(d as u64, n),
                }
            });
            assert_eq!(bits(|w| code.put(w, d)), expected, "value {d}");
            assert_eq!(code.cost(d), u64::from(len + width), "cost of {d}");
            let data = bits(|w| code.put(w, d));
            let mut r = BitReader {
                data: &data,
                pos: 0,
            };
            assert_eq!(code.get(&mut r).unwrap(), d);
        }
    }

    /// Chunks written by version 1 of the layout (bytes captured from its encoder) still decode
    /// to what was written, through the full decode and the streamed reader.
    #[test]
    fn version_1_chunks_still_read() {
        let v1_scaled: &[u8] = &[
            1, 21, 128, 196, 159, 213, 12, 2, 2, 192, 154, 12, 199, 12, 189, 193, 111, 112, 85,
            238, 11, 123, 130, 175, 112, 91, 220, 21, 123, 130, 240, 160, 37, 226, 92, 149, 146,
            178, 86, 74, 201, 89, 43, 37, 100, 172, 149, 146, 178, 86, 74, 201, 89, 43, 37, 100,
            172, 149, 146, 189, 255, 252, 130, 112,
        ];
        let v1_xor: &[u8] = &[
            1, 6, 0, 255, 0, 0, 0, 0, 0, 0, 0, 0, 158, 6, 47, 63, 234, 237, 84, 143, 9, 12, 239, 0,
            15, 235, 68, 203, 177, 113, 83, 86, 183, 132, 103, 67, 179, 176, 142, 224, 254, 0, 168,
            158, 6, 193, 171, 47, 214, 0, 6, 152, 56, 40, 60, 135, 157,
        ];
        let mut scaled: Vec<Sample> = (0..20)
            .map(|i| {
                Sample::new(
                    1_700_000_000 + i * 900 + (i * 7 % 5),
                    1000.0 + (i * i) as f64 * 0.37,
                )
            })
            .collect();
        scaled.push(Sample::new(1_700_100_000, 3.5));
        let xor: Vec<Sample> = (0..6)
            .map(|i| Sample::new(i * 60, (i as f64).sin()))
            .collect();
        for (bytes, want) in [(v1_scaled, &scaled), (v1_xor, &xor)] {
            let got = decode(bytes).unwrap();
            assert_eq!(got.len(), want.len());
            for (a, b) in got.iter().zip(want.iter()) {
                assert_eq!((a.t, a.v.to_bits()), (b.t, b.v.to_bits()));
            }
            let (t0, times, vals) = stream_read(bytes);
            assert_eq!(t0, want[0].t);
            assert_eq!(times.map(|t| t.last), Some(want[want.len() - 1].t));
            let want_bits: Vec<u64> = want.iter().map(|s| s.v.to_bits()).collect();
            assert_eq!(
                vals.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                want_bits
            );
            // New chunks of the same readings are version 3 (the jittered one smaller).
            let v2 = encode(want).unwrap();
            assert_eq!(v2[0], VERSION);
            assert_eq!(decode(&v2).unwrap().len(), want.len());
            if bytes.len() > 60 {
                assert!(v2.len() < bytes.len(), "{} >= {}", v2.len(), bytes.len());
            }
        }
    }

    /// A poll time a few seconds off the grid costs 6 bits (`10`+4), not 9 as in version 1.
    #[test]
    fn jittered_times_are_cheap() {
        let s: Vec<Sample> = (0..672i64)
            .map(|i| Sample::new(1_700_000_000 + i * 900 + (i * 7919 % 5), 0.0))
            .collect();
        let n = roundtrip(&s);
        assert!(n * 8 <= 16 + 672 * 6 + 672, "{n} bytes");
    }

    fn roundtrip(s: &[Sample]) -> usize {
        let b = encode(s).unwrap();
        let d = decode(&b).unwrap();
        assert_eq!(d.len(), s.len());
        for (a, b) in d.iter().zip(s) {
            assert_eq!(a.t, b.t);
            assert_eq!(a.v.to_bits(), b.v.to_bits());
        }
        b.len()
    }

    #[test]
    fn regular_counter_is_small() {
        let s: Vec<Sample> = (0..672)
            .map(|i| Sample::new(1_700_000_000 + i * 900, 12345.67 + i as f64 * 0.5))
            .collect();
        let n = roundtrip(&s);
        assert!(n * 8 < s.len() * 4, "{n} bytes for {} readings", s.len());
    }

    #[test]
    fn gaps_and_irregular_times() {
        let s = vec![
            Sample::new(0, 1.0),
            Sample::new(900, 1.5),
            Sample::new(90_000, 2.0),
            Sample::new(90_007, -3.25),
        ];
        roundtrip(&s);
    }

    #[test]
    fn non_decimal_values_use_xor() {
        let s: Vec<Sample> = (0..100)
            .map(|i| Sample::new(i * 10, (i as f64).sin() * 230.0))
            .collect();
        let b = encode(&s).unwrap();
        assert!(matches!(ChunkReader::new(&b).unwrap().vals, Vals::Xor(_)));
        let b = encode_v2(&s).unwrap();
        let mut pos = 1;
        get_varint(&b, &mut pos, "count").unwrap();
        get_varint(&b, &mut pos, "first time").unwrap();
        assert_eq!(b[pos], XOR_MODE);
        roundtrip(&s);
    }

    #[test]
    fn special_values() {
        let s = vec![
            Sample::new(-5, f64::NAN),
            Sample::new(0, f64::INFINITY),
            Sample::new(1, -0.0),
            Sample::new(2, f64::MIN_POSITIVE),
            Sample::new(3, f64::MAX),
        ];
        roundtrip(&s);
        roundtrip(&[
            Sample::new(i64::MIN / 4, 0.0),
            Sample::new(i64::MAX / 4, 1e300),
        ]);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(encode(&[]).is_err());
        assert!(encode(&[Sample::new(1, 0.0), Sample::new(1, 0.0)]).is_err());
        assert!(decode(&[]).is_err());
        assert!(decode(&[1, 5, 0, 0]).is_err());
        let good = encode(&[
            Sample::new(1, 0.5),
            Sample::new(2, 0.7),
            Sample::new(9, 1.0),
        ])
        .unwrap();
        assert!(decode(&good[..good.len() - 1]).is_err());
    }

    /// A chunk that does not decode says its layout version, the byte where the fault was found
    /// and what was wrong there.
    #[test]
    fn decode_errors_say_where_and_what() {
        let e = decode(&[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "chunk byte 0: the chunk ends before its version byte"
        );
        let e = decode(&[9, 1, 0]).unwrap_err();
        assert_eq!((e.version, e.offset), (Some(9), 0));
        assert_eq!(e.problem, CodecProblem::UnknownVersion);
        // Version 2, one reading at t = 0, value mode 12 (no such mode) at byte 3.
        let e = decode(&[2, 1, 0, 12]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "chunk layout version 2, byte 3: value mode: expected 0..=9 (decimal scale) or 255 (XOR), found 12"
        );
        // A count that 3 bytes cannot hold.
        let e = decode(&[1, 100, 0]).unwrap_err();
        assert_eq!(
            (e.offset, e.problem),
            (
                1,
                CodecProblem::Count {
                    count: 100,
                    bytes: 3
                }
            )
        );
        // A version 2 chunk cut inside its bit stream: the fault is at the cut, in chunk bytes.
        let s: Vec<Sample> = (0..50)
            .map(|i| Sample::new(i * 900 + i % 3, f64::from(i as u32).sqrt()))
            .collect();
        let b = encode_v2(&s).unwrap();
        let cut = &b[..b.len() - 4];
        let e = decode(cut).unwrap_err();
        assert_eq!(e.version, Some(2));
        match e.problem {
            CodecProblem::BitsEnd { end, bit, needed } => {
                assert_eq!(end, cut.len());
                assert_eq!(e.offset, (bit / 8) as usize);
                assert!(bit + u64::from(needed) > 8 * cut.len() as u64, "{e}");
            }
            other => panic!("expected the bit stream to end, found {other:?}"),
        }
        // Version 3: the time stream length in the header runs past the chunk.
        let b = encode(&s).unwrap();
        let e = decode(&b[..b.len() / 2]).unwrap_err();
        assert_eq!(e.version, Some(3));
        assert!(
            matches!(
                e.problem,
                CodecProblem::TimeStream { .. } | CodecProblem::BitsEnd { .. }
            ),
            "{e}"
        );
        // The store's error keeps the codec error as its source.
        let e = crate::Error::from(e);
        assert!(
            e.to_string()
                .starts_with("corrupt chunk: chunk layout version 3, byte "),
            "{e}"
        );
    }

    fn stream_read(bytes: &[u8]) -> (i64, Option<Times>, Vec<f64>) {
        let mut rd = ChunkReader::new(bytes).unwrap();
        let t0 = rd.first_time();
        let last = rd.skip_times().unwrap();
        let mut vals = vec![rd.first_value()];
        assert!(
            rd.fold_values(|v| {
                vals.push(v);
                true
            })
            .unwrap()
        );
        (t0, last, vals)
    }

    #[test]
    fn streamed_reading_stops_when_asked_and_flags_odd_times() {
        let s: Vec<Sample> = (0..200).map(|i| Sample::new(i * 900, i as f64)).collect();
        let b = encode(&s).unwrap();
        let mut rd = ChunkReader::new(&b).unwrap();
        assert_eq!(
            rd.skip_times().unwrap(),
            Some(Times {
                last: 199 * 900,
                step: Some(900)
            })
        );
        let mut seen = 0;
        assert!(
            !rd.fold_values(|_| {
                seen += 1;
                seen < 10
            })
            .unwrap()
        );
        assert_eq!(seen, 10);
        // Times that overflow i64 on the way are reported as not usable for skipping.
        let mut w = BitWriter::new(Vec::new());
        DOD.put(&mut w, i64::MAX);
        DOD.put(&mut w, 0);
        let mut data = vec![VERSION_2];
        put_varint(&mut data, 3);
        put_varint(&mut data, zz(0));
        data.extend_from_slice(&[0, 1, 0]);
        data.extend_from_slice(&w.finish());
        let mut rd = ChunkReader::new(&data).unwrap();
        assert_eq!(rd.skip_times().unwrap(), None);
        // A truncated time stream is an error, as in a full decode (version 3 knows the
        // stream's length from its header).
        assert!(ChunkReader::new(&b[..b.len() / 2]).is_err());
        let b = encode_v2(&s).unwrap();
        let mut rd = ChunkReader::new(&b[..b.len() / 2]).unwrap();
        assert!(
            rd.skip_times()
                .and_then(|_| rd.fold_values(|_| true))
                .is_err()
        );
    }

    proptest! {
        #[test]
        fn streamed_reading_equals_decode(ts in proptest::collection::btree_set(-1_000_000_000i64..4_000_000_000, 1..400),
                                          regular in any::<bool>(),
                                          vals in proptest::collection::vec(any::<f64>(), 400),
                                          shape in 0u8..3,
                                          scaled in any::<bool>()) {
            let ts: Vec<i64> = if regular {
                let t0 = *ts.iter().next().unwrap();
                (0..ts.len() as i64).map(|i| t0 + i * 900 + if i % 97 == 96 { 7 } else { 0 }).collect()
            } else {
                ts.into_iter().collect()
            };
            // Random values, runs of equal values, or ramps with jumps (zero-residual runs in
            // delta and delta-of-delta order).
            let s: Vec<Sample> = ts.iter().enumerate().map(|(i, &t)| {
                let v = match shape {
                    0 => vals[i],
                    1 => vals[i / 9],
                    _ => vals[i / 50] + (i % 50) as f64 * 0.25,
                };
                let v = if scaled { (v % 1e6 * 100.0).round() / 100.0 } else { v };
                Sample::new(t, v)
            }).collect();
            // Version 2 chunks (still read) decode to the same readings, in full and streamed.
            let b2 = encode_v2(&s).unwrap();
            let d2 = decode(&b2).unwrap();
            let (_, last2, got2) = stream_read(&b2);
            let b = encode(&s).unwrap();
            let d = decode(&b).unwrap();
            prop_assert_eq!(d.len(), s.len());
            for ((a, b), c) in d.iter().zip(&s).zip(&d2) {
                prop_assert_eq!(a.v.to_bits(), b.v.to_bits());
                prop_assert_eq!((a.t, a.v.to_bits()), (c.t, c.v.to_bits()));
            }
            let (t0, last, got) = stream_read(&b);
            prop_assert_eq!(last2, last);
            prop_assert_eq!(
                got2.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                got.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
            prop_assert_eq!(t0, d[0].t);
            let steps: std::collections::BTreeSet<i64> = d.windows(2).map(|w| w[1].t - w[0].t).collect();
            let step = (steps.len() == 1).then(|| *steps.iter().next().unwrap());
            prop_assert_eq!(last, Some(Times { last: d[d.len() - 1].t, step }));
            let want: Vec<u64> = d.iter().map(|s| s.v.to_bits()).collect();
            let got: Vec<u64> = got.iter().map(|v| v.to_bits()).collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn any_series_roundtrips(mut ts in proptest::collection::btree_set(-1_000_000_000i64..4_000_000_000, 1..300),
                                 vals in proptest::collection::vec(any::<f64>(), 300),
                                 scaled in any::<bool>()) {
            let ts: Vec<i64> = std::mem::take(&mut ts).into_iter().collect();
            let s: Vec<Sample> = ts.iter().zip(&vals).map(|(&t, &v)| {
                let v = if scaled { (v % 1e6 * 100.0).round() / 100.0 } else { v };
                Sample::new(t, v)
            }).collect();
            roundtrip(&s);
        }
    }
}
