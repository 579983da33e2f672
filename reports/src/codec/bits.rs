//! Bit-level reading and writing, zigzag and varints: the primitives every layout is made of.
//!
//! A [`BitReader`] spans the chunk from its first byte and starts at the byte where its stream
//! begins, so a position is a position in the chunk and an error names the chunk's layout version
//! (its first byte) and the byte where the stream ran out.

use super::{CodecError, CodecProblem};

/// Writes bits most significant first, appending to a byte vector.
pub(super) struct BitWriter {
    buf: Vec<u8>,
    acc: u64,
    nbits: u32,
}

impl BitWriter {
    pub(super) fn new(buf: Vec<u8>) -> Self {
        BitWriter {
            buf,
            acc: 0,
            nbits: 0,
        }
    }
    #[inline]
    pub(super) fn put(&mut self, bits: u64, n: u32) {
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
    pub(super) fn put64(&mut self, bits: u64) {
        self.put(bits >> 32, 32);
        self.put(bits & 0xFFFF_FFFF, 32);
    }
    pub(super) fn finish(mut self) -> Vec<u8> {
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
fn overrun(data: &[u8], pos: usize, n: u32) -> CodecError {
    CodecError::at(
        data,
        pos / 8,
        CodecProblem::BitsEnd {
            end: data.len(),
            bit: pos as u64,
            needed: n,
        },
    )
}

/// Reads bits most significant first from `data[..]`, the chunk up to the end of the stream.
#[derive(Debug)]
pub(super) struct BitReader<'a> {
    /// The chunk from its first byte up to the end of this stream.
    pub(super) data: &'a [u8],
    /// The bit position in `data`.
    pub(super) pos: usize,
}

impl<'a> BitReader<'a> {
    /// A reader of the stream of `chunk` (cut at the stream's end) that starts at byte `start`.
    #[inline]
    pub(super) fn new(chunk: &'a [u8], start: usize) -> Self {
        BitReader {
            data: chunk,
            pos: start * 8,
        }
    }
    /// An error at the reader's position.
    #[cold]
    #[inline(never)]
    pub(super) fn error(&self, problem: CodecProblem) -> CodecError {
        CodecError::at(self.data, self.pos / 8, problem)
    }
    #[inline]
    pub(super) fn get(&mut self, n: u32) -> Result<u64, CodecError> {
        if n == 0 {
            return Ok(0);
        }
        let end = self.pos + n as usize;
        if end > self.data.len() * 8 {
            return Err(overrun(self.data, self.pos, n));
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
    pub(super) fn get64(&mut self) -> Result<u64, CodecError> {
        Ok((self.get(32)? << 32) | self.get(32)?)
    }
    /// Count leading one bits, at most `max`, consuming them and the terminating zero (if < max).
    #[inline]
    pub(super) fn prefix(&mut self, max: u32) -> Result<u32, CodecError> {
        let n = self.peek().leading_ones().min(max);
        self.skip(n + u32::from(n < max))?;
        Ok(n)
    }
    /// The next 57 or more bits, left-aligned (zeros past the end).
    #[inline(always)]
    pub(super) fn peek(&self) -> u64 {
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
    pub(super) fn skip(&mut self, n: u32) -> Result<(), CodecError> {
        let end = self.pos + n as usize;
        if end > self.data.len() * 8 {
            return Err(overrun(self.data, self.pos, n));
        }
        self.pos = end;
        Ok(())
    }
    /// A prefix code: up to `max` leading ones select a payload width from `widths`
    /// (index = number of ones); the widest (64 bits) is read in two steps.
    #[inline(always)]
    pub(super) fn code(&mut self, max: u32, widths: &[u32]) -> Result<i64, CodecError> {
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
pub(super) fn zz(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}
#[inline]
pub(super) fn unzz(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}
#[inline]
pub(super) fn sign_extend(v: u64, n: u32) -> i64 {
    let shift = 64 - n;
    ((v << shift) as i64) >> shift
}

/// The byte at `*pos` (the header field `field`), moving `*pos` past it.
pub(super) fn get_byte(
    data: &[u8],
    pos: &mut usize,
    field: &'static str,
) -> Result<u8, CodecError> {
    let Some(&b) = data.get(*pos) else {
        return Err(CodecError::at(data, *pos, CodecProblem::Ends { field }));
    };
    *pos += 1;
    Ok(b)
}

/// The 8 big-endian bytes at `*pos` (the header field `field`), moving `*pos` past them.
pub(super) fn get_u64(
    data: &[u8],
    pos: &mut usize,
    field: &'static str,
) -> Result<u64, CodecError> {
    let Some(b) = data.get(*pos..*pos + 8) else {
        return Err(CodecError::at(data, *pos, CodecProblem::Ends { field }));
    };
    *pos += 8;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(u64::from_be_bytes(a))
}

pub(super) fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// The varint at `*pos` (the header field `field`), moving `*pos` past it.
pub(super) fn get_varint(
    data: &[u8],
    pos: &mut usize,
    field: &'static str,
) -> Result<u64, CodecError> {
    let start = *pos;
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let Some(&b) = data.get(*pos) else {
            return Err(CodecError::at(data, *pos, CodecProblem::Ends { field }));
        };
        *pos += 1;
        if shift >= 64 {
            return Err(CodecError::at(
                data,
                start,
                CodecProblem::LongVarint { field },
            ));
        }
        v |= u64::from(b & 0x7F) << shift;
        if b < 0x80 {
            return Ok(v);
        }
        shift += 7;
    }
}

#[inline]
pub(super) fn put_bits(w: &mut BitWriter, v: u64, len: u32) {
    if len > 32 {
        w.put(v >> 32, len - 32);
        w.put(v & 0xFFFF_FFFF, 32);
    } else {
        w.put(v, len);
    }
}

#[inline]
pub(super) fn get_bits(r: &mut BitReader<'_>, len: u32) -> Result<u64, CodecError> {
    if len > 32 {
        Ok((r.get(len - 32)? << 32) | r.get(32)?)
    } else {
        r.get(len)
    }
}
