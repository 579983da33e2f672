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

use crate::Error;

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

mod v3;

/// The version written.
const VERSION: u8 = v3::VERSION;
/// The second layout, still read.
const VERSION_2: u8 = 2;
/// The first layout, still read.
const VERSION_1: u8 = 1;
const XOR_MODE: u8 = 0xFF;
const POW10: [f64; 10] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

struct BitWriter {
    buf: Vec<u8>,
    acc: u64,
    nbits: u32,
}

impl BitWriter {
    fn new(buf: Vec<u8>) -> Self {
        BitWriter {
            buf,
            acc: 0,
            nbits: 0,
        }
    }
    #[inline]
    fn put(&mut self, bits: u64, n: u32) {
        debug_assert!(n <= 32);
        if n == 0 {
            return;
        }
        let bits = bits & ((1u64 << n) - 1);
        self.acc = (self.acc << n) | bits;
        self.nbits += n;
        while self.nbits >= 8 {
            self.nbits -= 8;
            self.buf.push((self.acc >> self.nbits) as u8);
        }
        self.acc &= (1u64 << self.nbits) - 1;
    }
    #[inline]
    fn put64(&mut self, bits: u64) {
        self.put(bits >> 32, 32);
        self.put(bits & 0xFFFF_FFFF, 32);
    }
    fn finish(mut self) -> Vec<u8> {
        if self.nbits > 0 {
            let pad = 8 - self.nbits;
            self.put(0, pad);
        }
        self.buf
    }
}

/// The error of a bit stream read past its end (kept out of line: it is the rare path).
#[cold]
#[inline(never)]
fn overrun(bytes: usize, pos: usize, n: u32) -> Error {
    Error::Decode(format!(
        "bit stream ends at bit {}, needed {n} more bits at bit {pos}",
        bytes * 8
    ))
}

#[derive(Debug)]
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    #[inline]
    fn get(&mut self, n: u32) -> Result<u64, Error> {
        if n == 0 {
            return Ok(0);
        }
        let end = self.pos + n as usize;
        if end > self.data.len() * 8 {
            return Err(overrun(self.data.len(), self.pos, n));
        }
        let byte = self.pos / 8;
        let word = if byte + 8 <= self.data.len() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&self.data[byte..byte + 8]);
            u64::from_be_bytes(b)
        } else {
            let mut b = [0u8; 8];
            let rest = &self.data[byte..];
            b[..rest.len()].copy_from_slice(rest);
            u64::from_be_bytes(b)
        };
        let v = (word << (self.pos % 8)) >> (64 - n);
        self.pos = end;
        Ok(v)
    }
    #[inline]
    fn get64(&mut self) -> Result<u64, Error> {
        Ok((self.get(32)? << 32) | self.get(32)?)
    }
    /// Count leading one bits, at most `max`, consuming them and the terminating zero (if < max).
    #[inline]
    fn prefix(&mut self, max: u32) -> Result<u32, Error> {
        let n = self.peek().leading_ones().min(max);
        self.skip(n + u32::from(n < max))?;
        Ok(n)
    }
    /// The next 57 or more bits, left-aligned (zeros past the end).
    #[inline(always)]
    fn peek(&self) -> u64 {
        let byte = self.pos / 8;
        let word = if byte + 8 <= self.data.len() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&self.data[byte..byte + 8]);
            u64::from_be_bytes(b)
        } else {
            let mut b = [0u8; 8];
            let rest = self.data.get(byte..).unwrap_or(&[]);
            b[..rest.len()].copy_from_slice(rest);
            u64::from_be_bytes(b)
        };
        word << (self.pos % 8)
    }
    #[inline(always)]
    fn skip(&mut self, n: u32) -> Result<(), Error> {
        let end = self.pos + n as usize;
        if end > self.data.len() * 8 {
            return Err(overrun(self.data.len(), self.pos, n));
        }
        self.pos = end;
        Ok(())
    }
    /// A prefix code: up to `max` leading ones select a payload width from `widths`
    /// (index = number of ones); the widest (64 bits) is read in two steps.
    #[inline(always)]
    fn code(&mut self, max: u32, widths: &[u32]) -> Result<i64, Error> {
        let w = self.peek();
        let ones = w.leading_ones().min(max);
        let hdr = ones + u32::from(ones < max);
        let bits = widths[ones as usize];
        if bits == 64 {
            self.skip(hdr)?;
            return Ok(self.get64()? as i64);
        }
        self.skip(hdr + bits)?;
        if bits == 0 {
            return Ok(0);
        }
        Ok(sign_extend((w << hdr) >> (64 - bits), bits))
    }
}

#[inline]
fn zz(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}
#[inline]
fn unzz(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}
#[inline]
fn sign_extend(v: u64, n: u32) -> i64 {
    let shift = 64 - n;
    ((v << shift) as i64) >> shift
}

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn get_varint(data: &[u8], pos: &mut usize) -> Result<u64, Error> {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = *data
            .get(*pos)
            .ok_or_else(|| Error::Decode(format!("header ends at byte {}", data.len())))?;
        *pos += 1;
        if shift >= 64 {
            return Err(Error::Decode("varint longer than 10 bytes".into()));
        }
        v |= u64::from(b & 0x7F) << shift;
        if b < 0x80 {
            return Ok(v);
        }
        shift += 7;
    }
}

/// A prefix code for signed integers: `i` leading ones (then a zero, except after the last
/// slot's ones) select slot `i`, whose payload is `widths[i]` bits of two's complement. Slot 0
/// has width 0 and holds only 0; the last slot has width 64 and holds anything. One table
/// serves the writer ([`PrefixCode::put`]), the size estimate ([`PrefixCode::cost`]) and the
/// reader ([`BitReader::code`]), so they cannot disagree.
#[derive(Debug)]
struct PrefixCode(&'static [u32]);

/// Timestamp delta-of-delta code of version 1.
const DOD_V1: PrefixCode = PrefixCode(&[0, 7, 12, 20, 64]);
/// Value residual code (scaled-integer deltas) of version 1.
const INT_V1: PrefixCode = PrefixCode(&[0, 4, 8, 16, 32, 64]);
/// Timestamp delta-of-delta code: a 4-bit slot holds the few seconds a poll time jitters by.
const DOD: PrefixCode = PrefixCode(&[0, 4, 7, 12, 20, 64]);
/// Value residual code: a 12-bit slot for the noisy residuals of fine-resolution counters.
const INT: PrefixCode = PrefixCode(&[0, 4, 8, 12, 16, 32, 64]);

/// The code tables of a chunk version.
fn tables(version: u8) -> Option<(&'static PrefixCode, &'static PrefixCode)> {
    match version {
        VERSION | VERSION_2 => Some((&DOD, &INT)),
        VERSION_1 => Some((&DOD_V1, &INT_V1)),
        _ => None,
    }
}

impl PrefixCode {
    /// The number of ones of the longest prefix.
    #[inline(always)]
    const fn max(&self) -> u32 {
        self.0.len() as u32 - 1
    }

    /// The smallest slot whose width holds `d`.
    #[inline(always)]
    fn slot(&self, d: i64) -> usize {
        self.0
            .iter()
            .position(|&w| match w {
                0 => d == 0,
                64 => true,
                w => (-(1i64 << (w - 1))..(1i64 << (w - 1))).contains(&d),
            })
            .unwrap_or(self.0.len() - 1)
    }

    /// Bits `d` takes: prefix plus payload.
    #[inline(always)]
    fn cost(&self, d: i64) -> u64 {
        let i = self.slot(d);
        let prefix = i as u32 + u32::from((i as u32) < self.max());
        u64::from(prefix + self.0[i])
    }

    #[inline(always)]
    fn put(&self, w: &mut BitWriter, d: i64) {
        let i = self.slot(d) as u32;
        if i < self.max() {
            w.put(((1u64 << i) - 1) << 1, i + 1);
        } else {
            w.put((1u64 << i) - 1, i);
        }
        match self.0[i as usize] {
            64 => w.put64(d as u64),
            bits => w.put(d as u64, bits),
        }
    }

    #[inline(always)]
    fn get(&self, r: &mut BitReader<'_>) -> Result<i64, Error> {
        r.code(self.max(), self.0)
    }
}

#[cfg(test)]
#[inline]
fn put_dod(w: &mut BitWriter, d: i64) {
    DOD.put(w, d);
}

#[cfg(test)]
#[inline]
fn int_cost(d: i64) -> u64 {
    INT.cost(d)
}

#[cfg(test)]
#[inline]
fn put_int(w: &mut BitWriter, d: i64) {
    INT.put(w, d);
}

/// The smallest decimal scale `k` at which every value is an exact integer / 10^k.
fn decimal_scale(values: impl Iterator<Item = f64> + Clone) -> Option<(u8, Vec<i64>)> {
    'k: for (k, p) in POW10.iter().enumerate() {
        let mut ints = Vec::new();
        for v in values.clone() {
            let n = (v * p).round();
            if !n.is_finite() || n.abs() >= 9.0e15 {
                continue 'k;
            }
            let i = n as i64;
            if (i as f64 / p).to_bits() != v.to_bits() {
                continue 'k;
            }
            ints.push(i);
        }
        return Some((k as u8, ints));
    }
    None
}

/// Encode readings (strictly increasing times) into a chunk.
///
/// # Errors
/// [`Error::Invalid`] when `samples` is empty or times are not strictly increasing.
///
/// ```
/// use reports::codec::{encode, decode, Sample};
/// let s: Vec<Sample> = (0..96).map(|i| Sample::new(i * 900, 1000.0 + i as f64 * 0.25)).collect();
/// let bytes = encode(&s).unwrap();
/// assert!(bytes.len() < 96 * 2);
/// assert_eq!(decode(&bytes).unwrap(), s);
/// ```
pub fn encode(samples: &[Sample]) -> Result<Vec<u8>, Error> {
    check_times(samples)?;
    Ok(v3::encode(samples))
}

/// At least one reading, times strictly increasing.
fn check_times(samples: &[Sample]) -> Result<(), Error> {
    if samples.is_empty() {
        return Err(Error::invalid("chunk", "at least one reading", "none"));
    }
    if let Some(w) = samples.windows(2).find(|w| w[1].t <= w[0].t) {
        return Err(Error::invalid(
            "chunk times",
            "strictly increasing",
            format!("{} then {}", w[0].t, w[1].t),
        ));
    }
    Ok(())
}

/// Gorilla XOR codes of readings 1..n (version 2 and 3).
fn put_xor(w: &mut BitWriter, samples: &[Sample]) {
    let mut prev = samples[0].v.to_bits();
    let (mut lead, mut trail) = (u32::MAX, 0u32);
    for s in &samples[1..] {
        let bits = s.v.to_bits();
        let x = bits ^ prev;
        prev = bits;
        if x == 0 {
            w.put(0, 1);
            continue;
        }
        let l = x.leading_zeros().min(31);
        let t = x.trailing_zeros();
        if lead != u32::MAX && l >= lead && t >= trail {
            w.put(0b10, 2);
            let len = 64 - lead - trail;
            put_bits(w, x >> trail, len);
        } else {
            lead = l;
            trail = t;
            let len = 64 - l - t; // 1..=64
            w.put(0b11, 2);
            w.put(u64::from(l), 5);
            w.put(u64::from(len - 1), 6);
            put_bits(w, x >> t, len);
        }
    }
}

/// The version 2 writer (kept to test that version 2 chunks still read).
#[cfg(test)]
fn encode_v2(samples: &[Sample]) -> Result<Vec<u8>, Error> {
    check_times(samples)?;
    let first = samples[0];
    let mut head = Vec::with_capacity(16 + samples.len() * 2);
    head.push(VERSION_2);
    put_varint(&mut head, samples.len() as u64);
    put_varint(&mut head, zz(first.t));
    let scaled = decimal_scale(samples.iter().map(|s| s.v));
    let mut order2 = false;
    match &scaled {
        Some((k, ints)) => {
            // Choose delta or delta-of-delta by exact bit cost.
            let (mut c1, mut c2) = (0u64, 0u64);
            for i in 1..ints.len() {
                let d = ints[i].wrapping_sub(ints[i - 1]);
                c1 += int_cost(d);
                let dd = if i >= 2 {
                    d.wrapping_sub(ints[i - 1].wrapping_sub(ints[i - 2]))
                } else {
                    d
                };
                c2 += int_cost(dd);
            }
            head.push(*k);
            order2 = c2 < c1;
            head.push(if order2 { 2 } else { 1 });
            put_varint(&mut head, zz(ints[0]));
        }
        None => {
            head.push(XOR_MODE);
            head.extend_from_slice(&first.v.to_bits().to_be_bytes());
        }
    }
    let mut w = BitWriter::new(head);
    let mut prev_delta = 0i64;
    for i in 1..samples.len() {
        let delta = samples[i].t - samples[i - 1].t;
        put_dod(&mut w, delta - prev_delta);
        prev_delta = delta;
    }
    match scaled {
        Some((_, ints)) => {
            let mut prev_d = 0i64;
            for i in 1..ints.len() {
                let d = ints[i].wrapping_sub(ints[i - 1]);
                if order2 {
                    put_int(&mut w, d.wrapping_sub(prev_d));
                    prev_d = d;
                } else {
                    put_int(&mut w, d);
                }
            }
        }
        None => put_xor(&mut w, samples),
    }
    Ok(w.finish())
}

#[inline]
fn put_bits(w: &mut BitWriter, v: u64, len: u32) {
    if len > 32 {
        w.put(v >> 32, len - 32);
        w.put(v & 0xFFFF_FFFF, 32);
    } else {
        w.put(v, len);
    }
}

#[inline]
fn get_bits(r: &mut BitReader<'_>, len: u32) -> Result<u64, Error> {
    if len > 32 {
        Ok((r.get(len - 32)? << 32) | r.get(32)?)
    } else {
        r.get(len)
    }
}

/// Number of readings in a chunk, read from its header.
///
/// # Errors
/// [`Error::Decode`] on a malformed header.
pub fn count(data: &[u8]) -> Result<usize, Error> {
    let mut pos = 1;
    Ok(get_varint(data, &mut pos)? as usize)
}

/// Decode a chunk.
///
/// # Errors
/// [`Error::Decode`] when the bytes are not a chunk of this version.
///
/// ```
/// use reports::codec::{encode, decode, Sample};
/// let s = vec![Sample::new(0, 21.5), Sample::new(900, 21.6), Sample::new(3600, 21.4)];
/// assert_eq!(decode(&encode(&s).unwrap()).unwrap(), s);
/// ```
pub fn decode(data: &[u8]) -> Result<Vec<Sample>, Error> {
    let mut out = Vec::new();
    decode_into(data, &mut out)?;
    Ok(out)
}

/// Decode a chunk, appending to `out` (which is not cleared).
///
/// # Errors
/// [`Error::Decode`] when the bytes are not a chunk of this version.
pub fn decode_into(data: &[u8], out: &mut Vec<Sample>) -> Result<(), Error> {
    let mut rd = ChunkReader::new(data)?;
    let base = out.len();
    out.reserve(rd.n);
    let mut t = rd.t0;
    let mut delta = 0i64;
    out.push(Sample {
        t,
        v: rd.first_value(),
    });
    match rd.grid {
        Some(g) => {
            let mut grid = g.grid0;
            for _ in 1..rd.n {
                g.next(&mut rd.r, &mut t, &mut grid)?;
                out.push(Sample { t, v: 0.0 });
            }
        }
        None => {
            for _ in 1..rd.n {
                delta = delta.wrapping_add(rd.dod.get(&mut rd.r)?);
                t = t.wrapping_add(delta);
                out.push(Sample { t, v: 0.0 });
            }
        }
    }
    let mut slots = out[base + 1..].iter_mut();
    rd.fold_values(|v| {
        if let Some(s) = slots.next() {
            s.v = v;
        }
        true
    })?;
    Ok(())
}

/// What [`ChunkReader::skip_times`] learns from a time stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Times {
    /// Time of the last reading.
    pub(crate) last: i64,
    /// The interval between consecutive readings when they are all equal (at least two readings).
    pub(crate) step: Option<i64>,
}

/// How a chunk's values are coded, from its header.
#[derive(Debug, Clone, Copy)]
enum Vals {
    Int { p: f64, order: u8, first: i64 },
    Rice { p: f64, first: i64, code: v3::Rice },
    Xor(u64),
}

/// A chunk being read in stream order: header, then the time stream (decoded or skipped), then
/// the value stream folded value by value. This is what lets an aggregation that needs no
/// individual times (a chunk lying inside one bin) skip building `(t, v)` pairs altogether.
#[derive(Debug)]
pub(crate) struct ChunkReader<'a> {
    dod: &'static PrefixCode,
    int: &'static PrefixCode,
    n: usize,
    t0: i64,
    vals: Vals,
    /// The time stream (version 3), or times and then values (versions 1 and 2).
    r: BitReader<'a>,
    /// Version 3: the grid time code, when the chunk uses it.
    grid: Option<v3::Grid>,
    /// Version 3: the value stream, apart from the times.
    rv: Option<BitReader<'a>>,
}

impl<'a> ChunkReader<'a> {
    /// Parse the header of `data`.
    pub(crate) fn new(data: &'a [u8]) -> Result<Self, Error> {
        let Some((dod, int)) = data.first().and_then(|&v| tables(v)) else {
            return Err(Error::Decode(format!(
                "expected chunk version {VERSION_1}..={VERSION}, found {:?}",
                data.first()
            )));
        };
        let mut pos = 1;
        let n = get_varint(data, &mut pos)? as usize;
        if n == 0 || n > data.len() * 8 + 1 {
            return Err(Error::Decode(format!(
                "implausible count {n} for {} bytes",
                data.len()
            )));
        }
        let t0 = unzz(get_varint(data, &mut pos)?);
        if data[0] == VERSION {
            let h = v3::header(data, pos, t0)?;
            let vals = match (h.rice, h.xor_first) {
                (Some((p, first, code)), _) => Vals::Rice { p, first, code },
                (None, Some(bits)) => Vals::Xor(bits),
                (None, None) => return Err(Error::Decode("no value mode".into())),
            };
            return Ok(ChunkReader {
                dod,
                int,
                n,
                t0,
                vals,
                r: BitReader {
                    data: h.times,
                    pos: 0,
                },
                grid: h.grid,
                rv: Some(BitReader {
                    data: h.values,
                    pos: 0,
                }),
            });
        }
        let mode = *data
            .get(pos)
            .ok_or_else(|| Error::Decode("header ends before value mode".into()))?;
        pos += 1;
        let vals = if mode == XOR_MODE {
            let b = data
                .get(pos..pos + 8)
                .ok_or_else(|| Error::Decode("header ends before first value".into()))?;
            pos += 8;
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            Vals::Xor(u64::from_be_bytes(a))
        } else if (mode as usize) < POW10.len() {
            let order = *data
                .get(pos)
                .ok_or_else(|| Error::Decode("header ends before order".into()))?;
            pos += 1;
            if order != 1 && order != 2 {
                return Err(Error::Decode(format!(
                    "expected order 1 or 2, found {order}"
                )));
            }
            let first = unzz(get_varint(data, &mut pos)?);
            Vals::Int {
                p: POW10[mode as usize],
                order,
                first,
            }
        } else {
            return Err(Error::Decode(format!(
                "expected value mode 0..=9 or 255, found {mode}"
            )));
        };
        Ok(ChunkReader {
            dod,
            int,
            n,
            t0,
            vals,
            r: BitReader {
                data: &data[pos..],
                pos: 0,
            },
            grid: None,
            rv: None,
        })
    }

    /// Whether the chunk is of layout version 3 (times and values in streams of their own).
    pub(crate) fn is_v3(&self) -> bool {
        self.rv.is_some()
    }

    /// Whether the chunk's times use the grid code (version 3).
    pub(crate) fn has_grid(&self) -> bool {
        self.grid.is_some()
    }

    /// Number of readings.
    pub(crate) fn len(&self) -> usize {
        self.n
    }

    /// Time of the first reading.
    pub(crate) fn first_time(&self) -> i64 {
        self.t0
    }

    /// Value of the first reading.
    pub(crate) fn first_value(&self) -> f64 {
        match self.vals {
            Vals::Int { p, first, .. } | Vals::Rice { p, first, .. } => first as f64 / p,
            Vals::Xor(bits) => f64::from_bits(bits),
        }
    }

    /// Run over the time stream without storing it (must come before [`Self::fold_values`]).
    /// `None` when the times are not strictly increasing without overflow (never for a chunk
    /// [`encode`] wrote; a caller then decodes in full).
    ///
    /// Regular data is a run of `0` codes (same step), skipped up to 56 at a time.
    pub(crate) fn skip_times(&mut self) -> Result<Option<Times>, Error> {
        if let Some(g) = self.grid {
            let (mut t, mut grid) = (self.t0, g.grid0);
            let (mut ok, mut first_dt, mut even) = (true, None, true);
            for _ in 1..self.n {
                let prev = t;
                let dt = g.next(&mut self.r, &mut t, &mut grid)?;
                ok &= t > prev;
                even &= *first_dt.get_or_insert(dt) == dt;
            }
            return Ok(ok.then_some(Times {
                last: t,
                step: first_dt.filter(|_| even),
            }));
        }
        let mut t = self.t0;
        let mut delta = 0i64;
        let mut ok = true;
        let mut changes = 0u32;
        let mut left = self.n - 1;
        while left > 0 {
            let zeros = (self.r.peek().leading_zeros().min(56) as usize).min(left);
            if zeros > 0 {
                self.r.skip(zeros as u32)?;
                ok &= delta > 0;
                match delta
                    .checked_mul(zeros as i64)
                    .and_then(|d| t.checked_add(d))
                {
                    Some(x) => t = x,
                    None => {
                        ok = false;
                        t = t.wrapping_add(delta.wrapping_mul(zeros as i64));
                    }
                }
                left -= zeros;
                continue;
            }
            let dod = self.dod.get(&mut self.r)?;
            changes += u32::from(dod != 0);
            delta = delta.wrapping_add(dod);
            ok &= delta > 0;
            match t.checked_add(delta) {
                Some(x) => t = x,
                None => {
                    ok = false;
                    t = t.wrapping_add(delta);
                }
            }
            left -= 1;
        }
        Ok(ok.then_some(Times {
            last: t,
            step: (self.n > 1 && changes <= 1).then_some(delta),
        }))
    }

    /// Decode the time stream into the intervals between consecutive readings (`n - 1` of
    /// them, appended to `out`); must come before [`Self::fold_values`].
    pub(crate) fn read_intervals(&mut self, out: &mut Vec<i64>) -> Result<(), Error> {
        let mut delta = 0i64;
        out.reserve(self.n - 1);
        if let Some(g) = self.grid {
            let (mut t, mut grid) = (self.t0, g.grid0);
            for _ in 1..self.n {
                out.push(g.next(&mut self.r, &mut t, &mut grid)?);
            }
            return Ok(());
        }
        for _ in 1..self.n {
            delta = delta.wrapping_add(self.dod.get(&mut self.r)?);
            out.push(delta);
        }
        Ok(())
    }

    /// Feed the values of readings 1..n (the first is [`Self::first_value`]) to `f`, in order,
    /// after the time stream was read or skipped. Stops as soon as `f` returns `false`; returns
    /// whether every value was fed.
    #[inline(always)]
    pub(crate) fn fold_values(&mut self, mut f: impl FnMut(f64) -> bool) -> Result<bool, Error> {
        let int = self.int;
        let r = match self.rv.as_mut() {
            Some(rv) => rv,
            None => &mut self.r,
        };
        match self.vals {
            Vals::Rice { p, first, code } => {
                let mut st = v3::RiceState::new(code, first, p);
                return st.run(r, self.n - 1, f);
            }
            Vals::Int { p, order, first } => {
                let mut x = first;
                let mut d = 0i64;
                let mut left = self.n - 1;
                while left > 0 {
                    // Codes are taken from one loaded word (57 valid bits) while they fit, so
                    // the bit position is not reloaded from memory per code; a code is checked
                    // against the end of the stream when the word's bits are consumed.
                    let w = r.peek();
                    let mut used = 0u32;
                    while left > 0 && used <= 37 {
                        let v = w << used;
                        let zeros = v.leading_zeros();
                        if zeros > 0 {
                            // A run of `0` codes (zero residuals): in delta order the value
                            // repeats, in delta-of-delta order the step repeats.
                            let run = (zeros.min(57 - used) as usize).min(left);
                            used += run as u32;
                            left -= run;
                            if order == 2 {
                                for _ in 0..run {
                                    x = x.wrapping_add(d);
                                    if !f(x as f64 / p) {
                                        return Ok(false);
                                    }
                                }
                            } else {
                                d = 0;
                                let v = x as f64 / p;
                                for _ in 0..run {
                                    if !f(v) {
                                        return Ok(false);
                                    }
                                }
                            }
                            continue;
                        }
                        // `10`+4, `110`+8, then `1110`+16 (version 1) or +12 bits (at most
                        // 20 bits: fits); wider codes take the general path below.
                        let ones = v.leading_ones();
                        if ones >= 4 {
                            break;
                        }
                        let hdr = ones + 1;
                        let bits = int.0[ones as usize];
                        let c = sign_extend((v << hdr) >> (64 - bits), bits);
                        used += hdr + bits;
                        if order == 2 {
                            d = d.wrapping_add(c);
                        } else {
                            d = c;
                        }
                        x = x.wrapping_add(d);
                        left -= 1;
                        if !f(x as f64 / p) {
                            return Ok(false);
                        }
                    }
                    if used > 0 {
                        r.skip(used)?;
                        continue;
                    }
                    let c = int.get(r)?;
                    if order == 2 {
                        d = d.wrapping_add(c);
                    } else {
                        d = c;
                    }
                    x = x.wrapping_add(d);
                    left -= 1;
                    if !f(x as f64 / p) {
                        return Ok(false);
                    }
                }
            }
            Vals::Xor(first) => {
                let mut prev = first;
                let (mut lead, mut trail) = (0u32, 0u32);
                for _ in 1..self.n {
                    match r.prefix(2)? {
                        0 => {}
                        1 => {
                            let len = 64 - lead - trail;
                            prev ^= get_bits(r, len)? << trail;
                        }
                        _ => {
                            lead = r.get(5)? as u32;
                            let len = r.get(6)? as u32 + 1;
                            if lead + len > 64 {
                                return Err(Error::Decode(format!(
                                    "XOR window {lead}+{len} exceeds 64 bits"
                                )));
                            }
                            trail = 64 - lead - len;
                            prev ^= get_bits(r, len)? << trail;
                        }
                    }
                    if !f(f64::from_bits(prev)) {
                        return Ok(false);
                    }
                }
            }
        }
        Ok(true)
    }
}

impl ChunkReader<'_> {
    /// Whether the values use the Rice code (version 3, scaled integers).
    pub(crate) fn is_rice(&self) -> bool {
        matches!(self.vals, Vals::Rice { .. })
    }

    /// [`Self::fold_timed_other`] for a chunk whose values use the Rice code ([`Self::is_rice`];
    /// `None`, nothing read, for any other chunk); a caller whose fold state should stay in
    /// registers calls it apart from [`Self::fold_timed_other`], whose value loop does not
    /// inline the fold.
    #[inline(always)]
    pub(crate) fn fold_timed_rice(
        &mut self,
        f: impl FnMut(f64, i64) -> bool,
    ) -> Result<Option<Option<i64>>, Error> {
        self.fold_timed_impl(f, true)
    }

    /// Version 3 only (`None` otherwise, nothing read): feed readings 1..n to `f` as their value
    /// and their interval since the previous reading, decoding times and values side by side
    /// in one pass. `Some(None)` when `f` stopped or an interval is not positive (never for a
    /// chunk [`encode`] wrote); `Some(Some(t))` with the last time when every reading was fed.
    /// Any version 3 chunk; a Rice-coded one is folded faster by [`Self::fold_timed_rice`].
    #[inline(always)]
    pub(crate) fn fold_timed_other(
        &mut self,
        f: impl FnMut(f64, i64) -> bool,
    ) -> Result<Option<Option<i64>>, Error> {
        self.fold_timed_impl(f, false)
    }

    /// The body of [`Self::fold_timed_rice`] and [`Self::fold_timed_other`]: with `rice` only Rice-coded chunks are folded, without
    /// it every chunk goes through the general branch (correct for any chunk).
    #[inline(always)]
    fn fold_timed_impl(
        &mut self,
        mut f: impl FnMut(f64, i64) -> bool,
        rice: bool,
    ) -> Result<Option<Option<i64>>, Error> {
        let Some(rv) = self.rv.as_mut() else {
            return Ok(None);
        };
        let r = &mut self.r;
        let mut t = self.t0;
        let (mut grid, mut delta) = (self.grid.map_or(0, |g| g.grid0), 0i64);
        let grid_code = self.grid;
        let dod = self.dod;
        let mut next_dt = move |r: &mut BitReader<'_>| -> Result<i64, Error> {
            match &grid_code {
                Some(g) => g.next(r, &mut t, &mut grid),
                None => {
                    delta = delta.wrapping_add(dod.get(r)?);
                    Ok(delta)
                }
            }
        };
        let mut last = self.t0;
        match self.vals {
            Vals::Rice { p, first, code } if rice => {
                // Blocks of intervals, then the block's values.
                let mut st = v3::RiceState::new(code, first, p);
                let mut dts = [0i64; 64];
                let mut left = self.n - 1;
                while left > 0 {
                    let m = left.min(dts.len());
                    let mut ok = true;
                    match &grid_code {
                        Some(g) => g.block(r, &mut t, &mut grid, &mut dts[..m])?,
                        None => {
                            for dt in &mut dts[..m] {
                                *dt = next_dt(r)?;
                            }
                        }
                    }
                    for dt in &dts[..m] {
                        ok &= *dt > 0;
                        last = last.wrapping_add(*dt);
                    }
                    if !ok {
                        return Ok(Some(None));
                    }
                    let mut k = 0;
                    let all = st.run(rv, m, |v| {
                        let dt = dts.get(k).copied().unwrap_or(1);
                        k += 1;
                        f(v, dt)
                    })?;
                    if !all {
                        return Ok(Some(None));
                    }
                    left -= m;
                }
            }
            // Not compiled into `fold_timed_rice` (whose fold can then stay in registers).
            _ if rice => return Ok(None),
            _ => {
                let mut dts = Vec::with_capacity(self.n - 1);
                for _ in 1..self.n {
                    dts.push(next_dt(r)?);
                }
                let mut k = 0;
                let mut ok = true;
                let all = self.fold_values(|v| {
                    let dt = dts.get(k).copied().unwrap_or(0);
                    k += 1;
                    last = last.wrapping_add(dt);
                    ok &= dt > 0;
                    ok && f(v, dt)
                })?;
                if !all {
                    return Ok(Some(None));
                }
            }
        }
        Ok(Some(Some(last)))
    }
}

#[cfg(test)]
mod tests {
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
        get_varint(&b, &mut pos).unwrap();
        get_varint(&b, &mut pos).unwrap();
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
        put_dod(&mut w, i64::MAX);
        put_dod(&mut w, 0);
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
