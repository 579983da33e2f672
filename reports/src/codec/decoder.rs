//! The reader: a chunk's header, then its time stream (decoded or skipped) and its value stream
//! (folded value by value), for every layout version; full decoding is built on it.

use super::bits::{BitReader, get_bits, get_byte, get_u64, get_varint, sign_extend, unzz};
use super::prefix::{PrefixCode, tables};
use super::{CodecError, CodecProblem, POW10, Sample, VERSION, XOR_MODE, v3};

/// Number of readings in a chunk, read from its header.
///
/// # Errors
/// [`CodecError`] on a malformed header.
pub fn count(data: &[u8]) -> Result<usize, CodecError> {
    let mut pos = 1;
    Ok(get_varint(data, &mut pos, "count")? as usize)
}

/// Decode a chunk.
///
/// # Errors
/// [`CodecError`] when the bytes are not a chunk of a layout version this crate reads.
///
/// ```
/// use reports::codec::{encode, decode, Sample};
/// let s = vec![Sample::new(0, 21.5), Sample::new(900, 21.6), Sample::new(3600, 21.4)];
/// assert_eq!(decode(&encode(&s).unwrap()).unwrap(), s);
/// ```
pub fn decode(data: &[u8]) -> Result<Vec<Sample>, CodecError> {
    let mut out = Vec::new();
    decode_into(data, &mut out)?;
    Ok(out)
}

/// Decode a chunk, appending to `out` (which is not cleared).
///
/// # Errors
/// [`CodecError`] when the bytes are not a chunk of a layout version this crate reads.
pub fn decode_into(data: &[u8], out: &mut Vec<Sample>) -> Result<(), CodecError> {
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
#[cfg_attr(
    not(feature = "sqlite"),
    allow(dead_code, reason = "used by the SQLite engine's streamed reads")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Times {
    /// Time of the last reading.
    pub(crate) last: i64,
    /// The interval between consecutive readings when they are all equal (at least two readings).
    pub(crate) step: Option<i64>,
}

/// How a chunk's values are coded, from its header.
#[derive(Debug, Clone, Copy)]
pub(super) enum Vals {
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
    pub(super) vals: Vals,
    /// The time stream (version 3), or times and then values (versions 1 and 2).
    r: BitReader<'a>,
    /// Version 3: the grid time code, when the chunk uses it.
    grid: Option<v3::Grid>,
    /// Version 3: the value stream, apart from the times.
    rv: Option<BitReader<'a>>,
}

#[cfg_attr(
    not(feature = "sqlite"),
    allow(dead_code, reason = "used by the SQLite engine's streamed reads")
)]
impl<'a> ChunkReader<'a> {
    /// Parse the header of `data`.
    pub(crate) fn new(data: &'a [u8]) -> Result<Self, CodecError> {
        let Some((dod, int)) = data.first().and_then(|&v| tables(v)) else {
            let problem = if data.is_empty() {
                CodecProblem::Ends {
                    field: "version byte",
                }
            } else {
                CodecProblem::UnknownVersion
            };
            return Err(CodecError::at(data, 0, problem));
        };
        let mut pos = 1;
        let n = get_varint(data, &mut pos, "count")?;
        if n == 0 || n > data.len() as u64 * 8 + 1 {
            return Err(CodecError::at(
                data,
                1,
                CodecProblem::Count {
                    count: n,
                    bytes: data.len(),
                },
            ));
        }
        let n = n as usize;
        let t0 = unzz(get_varint(data, &mut pos, "first time")?);
        if data[0] == VERSION {
            let h = v3::header(data, pos, t0)?;
            let vals = match h.rice {
                Some((p, first, code)) => Vals::Rice { p, first, code },
                None => Vals::Xor(h.xor_first),
            };
            return Ok(ChunkReader {
                dod,
                int,
                n,
                t0,
                vals,
                r: BitReader::new(&data[..h.values], h.times),
                grid: h.grid,
                rv: Some(BitReader::new(data, h.values)),
            });
        }
        let mode = get_byte(data, &mut pos, "value mode")?;
        let vals = if mode == XOR_MODE {
            Vals::Xor(get_u64(data, &mut pos, "first value")?)
        } else if (mode as usize) < POW10.len() {
            let order = get_byte(data, &mut pos, "order")?;
            if order != 1 && order != 2 {
                return Err(CodecError::at(
                    data,
                    pos - 1,
                    CodecProblem::Field {
                        field: "order",
                        expected: "1 (delta) or 2 (delta of deltas)",
                        found: order.to_string(),
                    },
                ));
            }
            let first = unzz(get_varint(data, &mut pos, "first value")?);
            Vals::Int {
                p: POW10[mode as usize],
                order,
                first,
            }
        } else {
            return Err(CodecError::at(
                data,
                pos - 1,
                CodecProblem::Field {
                    field: "value mode",
                    expected: "0..=9 (decimal scale) or 255 (XOR)",
                    found: mode.to_string(),
                },
            ));
        };
        Ok(ChunkReader {
            dod,
            int,
            n,
            t0,
            vals,
            r: BitReader::new(data, pos),
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
    pub(crate) fn skip_times(&mut self) -> Result<Option<Times>, CodecError> {
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
    pub(crate) fn read_intervals(&mut self, out: &mut Vec<i64>) -> Result<(), CodecError> {
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
    pub(crate) fn fold_values(&mut self, f: impl FnMut(f64) -> bool) -> Result<bool, CodecError> {
        let int = self.int;
        let r = match self.rv.as_mut() {
            Some(rv) => rv,
            None => &mut self.r,
        };
        match self.vals {
            Vals::Rice { p, first, code } => {
                let mut st = v3::RiceState::new(code, first, p);
                st.run(r, self.n - 1, f)
            }
            Vals::Int { p, order, first } => fold_int(r, int, (p, order, first), self.n, f),
            Vals::Xor(first) => fold_xor(r, first, self.n, f),
        }
    }
}

/// The scaled-integer values of versions 1 and 2 (prefix-coded residuals of order 1 or 2), fed
/// to `f` as in [`ChunkReader::fold_values`].
#[inline(always)]
fn fold_int(
    r: &mut BitReader<'_>,
    int: &PrefixCode,
    (p, order, first): (f64, u8, i64),
    n: usize,
    mut f: impl FnMut(f64) -> bool,
) -> Result<bool, CodecError> {
    let mut x = first;
    let mut d = 0i64;
    let mut left = n - 1;
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
    Ok(true)
}

/// The Gorilla XOR values of every version, fed to `f` as in [`ChunkReader::fold_values`].
#[inline(always)]
fn fold_xor(
    r: &mut BitReader<'_>,
    first: u64,
    n: usize,
    mut f: impl FnMut(f64) -> bool,
) -> Result<bool, CodecError> {
    let mut prev = first;
    let (mut lead, mut trail) = (0u32, 0u32);
    for _ in 1..n {
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
                    return Err(r.error(CodecProblem::XorWindow { lead, len }));
                }
                trail = 64 - lead - len;
                prev ^= get_bits(r, len)? << trail;
            }
        }
        if !f(f64::from_bits(prev)) {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg_attr(
    not(feature = "sqlite"),
    allow(dead_code, reason = "used by the SQLite engine's streamed reads")
)]
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
    ) -> Result<Option<Option<i64>>, CodecError> {
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
    ) -> Result<Option<Option<i64>>, CodecError> {
        self.fold_timed_impl(f, false)
    }

    /// The body of [`Self::fold_timed_rice`] and [`Self::fold_timed_other`]: with `rice` only Rice-coded chunks are folded, without
    /// it every chunk goes through the general branch (correct for any chunk).
    #[inline(always)]
    fn fold_timed_impl(
        &mut self,
        mut f: impl FnMut(f64, i64) -> bool,
        rice: bool,
    ) -> Result<Option<Option<i64>>, CodecError> {
        let Some(rv) = self.rv.as_mut() else {
            return Ok(None);
        };
        let r = &mut self.r;
        let mut t = self.t0;
        let (mut grid, mut delta) = (self.grid.map_or(0, |g| g.grid0), 0i64);
        let grid_code = self.grid;
        let dod = self.dod;
        let mut next_dt = move |r: &mut BitReader<'_>| -> Result<i64, CodecError> {
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
