//! Chunk layout version 3: codes chosen per chunk.
//!
//! ```text
//! byte     version (3)
//! varint   count
//! zvarint  first timestamp
//! byte     time mode: 0 = delta-of-delta (the version 2 code), 1 = grid
//! [grid]   varint step S (>= 1), varint width m (1..=S, at most 2^20), zvarint t0 - first grid point
//! varint   time stream length in bytes
//! byte     value mode: 0..=9 = decimal scale k, 0xFF = XOR floats (the version 2 code)
//! [int]    byte order (1 = delta, 2 = delta-of-delta), zvarint first integer, zvarint bias,
//!          byte Rice parameter k (0..=32), byte zero flag (0 or 1)
//! [xor]    8 bytes first value (big endian bits)
//! bytes    time stream (padded to a byte)
//! bits     value stream
//! ```
//!
//! **Grid times** suit a poller whose readings come a few seconds after the points of a fixed
//! grid (`S` seconds apart): a reading whose time is the next grid point plus an offset in
//! `0..m` is one truncated-binary symbol among `m + 1` (the offset, about `log2(m + 1)` bits:
//! 2.6 bits for 0..4 s of jitter); symbol `m` is an escape followed by the interval minus `S`
//! in the delta-of-delta code (a missed reading, a gap), after which the grid resumes at the
//! grid point at or before that reading.
//!
//! **Rice values**: the residual `c` (delta, or delta of deltas, of the scaled integers) minus
//! the chunk's bias is zigzagged to `u` and written as `u >> k` in unary (ones, then a zero)
//! and the `k` low bits; a quotient of 20 or more is 20 ones and then the 64 bits of `u`. With
//! the zero flag, a residual equal to the bias is the single bit `0` and any other is `1`
//! followed by the Rice code of `u - 1`. The writer picks the order, the bias, `k` and the flag
//! by exact bit cost, and the time mode likewise (ties keep delta-of-delta).

use super::bits::{BitReader, BitWriter, get_byte, get_u64, get_varint, put_varint, unzz, zz};
use super::encoder::{decimal_scale, put_xor};
use super::prefix::DOD;
use super::{CodecError, CodecProblem, POW10, Sample, XOR_MODE};

/// This layout's version byte.
pub(super) const VERSION: u8 = 3;
/// Unary quotients from this length on are escapes to 64 raw bits.
const QMAX: u32 = 20;
/// The largest Rice parameter.
const KMAX: u32 = 32;
/// The widest grid offset range.
const MMAX: u64 = 1 << 20;

/// The grid time code of a chunk.
#[derive(Debug, Clone, Copy)]
pub(super) struct Grid {
    pub(super) step: i64,
    pub(super) m: u64,
    /// Bits of the truncated binary code of `m + 1` symbols.
    k: u32,
    /// Symbols below `u` take `k - 1` bits.
    u: u64,
    /// The grid point at or before the first reading.
    pub(super) grid0: i64,
}

impl Grid {
    fn new(step: i64, m: u64, grid0: i64) -> Self {
        let symbols = m + 1;
        let k = 64 - (symbols - 1).leading_zeros();
        Grid {
            step,
            m,
            k,
            u: (1u64 << k) - symbols,
            grid0,
        }
    }

    fn put_symbol(&self, w: &mut BitWriter, s: u64) {
        if s < self.u {
            w.put(s, self.k - 1);
        } else {
            w.put(s + self.u, self.k);
        }
    }

    fn symbol_cost(&self, s: u64) -> u64 {
        u64::from(self.k) - u64::from(s < self.u)
    }

    /// The next reading's time after `t` with the grid at `grid` (both updated); returns
    /// the interval.
    #[inline(always)]
    pub(super) fn next(
        &self,
        r: &mut BitReader<'_>,
        t: &mut i64,
        grid: &mut i64,
    ) -> Result<i64, CodecError> {
        let w = r.peek();
        let short = if self.k > 1 { w >> (65 - self.k) } else { 0 };
        let s = if short < self.u {
            r.skip(self.k - 1)?;
            short
        } else {
            r.skip(self.k)?;
            (w >> (64 - self.k)) - self.u
        };
        let nt = if s < self.m {
            *grid = grid.wrapping_add(self.step);
            grid.wrapping_add(s as i64)
        } else {
            let d = DOD.get(r)?;
            let nt = t.wrapping_add(self.step).wrapping_add(d);
            *grid = nt.wrapping_sub(nt.wrapping_sub(*grid).rem_euclid(self.step));
            nt
        };
        let dt = nt.wrapping_sub(*t);
        *t = nt;
        Ok(dt)
    }

    /// The intervals of the next `out.len()` readings (as [`Grid::next`]), symbols taken from
    /// one loaded word while they fit; the bits are checked when the word is consumed.
    #[inline(always)]
    #[cfg_attr(
        not(feature = "sqlite"),
        allow(dead_code, reason = "used by the SQLite engine's streamed reads")
    )]
    pub(super) fn block(
        &self,
        r: &mut BitReader<'_>,
        t: &mut i64,
        grid: &mut i64,
        out: &mut [i64],
    ) -> Result<(), CodecError> {
        let mut i = 0;
        while i < out.len() {
            let w = r.peek();
            let mut used = 0u32;
            while i < out.len() && used + self.k <= 57 {
                let v = w << used;
                let short = if self.k > 1 { v >> (65 - self.k) } else { 0 };
                let s = if short < self.u {
                    used += self.k - 1;
                    short
                } else {
                    used += self.k;
                    (v >> (64 - self.k)) - self.u
                };
                if s >= self.m {
                    used -= self.k - u32::from(short < self.u);
                    break;
                }
                *grid = grid.wrapping_add(self.step);
                let nt = grid.wrapping_add(s as i64);
                out[i] = nt.wrapping_sub(*t);
                *t = nt;
                i += 1;
            }
            if used > 0 {
                r.skip(used)?;
                continue;
            }
            if i < out.len() {
                out[i] = self.next(r, t, grid)?;
                i += 1;
            }
        }
        Ok(())
    }

    /// Write (or only count, without a writer) the times of readings 1..n; the bit cost.
    fn put_times(&self, samples: &[Sample], mut w: Option<&mut BitWriter>) -> u64 {
        let mut cost = 0;
        let mut grid = self.grid0;
        for p in samples.windows(2) {
            let (t, nt) = (p[0].t, p[1].t);
            let next = grid.wrapping_add(self.step);
            let off = nt.wrapping_sub(next);
            if (0..self.m as i64).contains(&off) {
                grid = next;
                cost += self.symbol_cost(off as u64);
                if let Some(w) = w.as_deref_mut() {
                    self.put_symbol(w, off as u64);
                }
            } else {
                let d = nt.wrapping_sub(t).wrapping_sub(self.step);
                grid = nt.wrapping_sub(nt.wrapping_sub(grid).rem_euclid(self.step));
                cost += self.symbol_cost(self.m) + DOD.cost(d);
                if let Some(w) = w.as_deref_mut() {
                    self.put_symbol(w, self.m);
                    DOD.put(w, d);
                }
            }
        }
        cost
    }

    /// The cheapest grid and its cost: the step is the most frequent interval, the median
    /// one, or the median rounded to 10 s or a minute (whichever codes the times in fewest
    /// bits), and the offsets the shortest arc of the step's residues holding every reading's.
    fn best(samples: &[Sample]) -> Option<(Grid, u64)> {
        let mut deltas: Vec<i64> = samples.windows(2).map(|p| p[1].t - p[0].t).collect();
        if deltas.is_empty() {
            return None;
        }
        deltas.sort_unstable();
        let median = deltas[deltas.len() / 2];
        let (mut mode, mut run, mut best_run) = (median, 0usize, 0usize);
        for (i, &d) in deltas.iter().enumerate() {
            run = if i > 0 && deltas[i - 1] == d {
                run + 1
            } else {
                1
            };
            if run > best_run {
                (best_run, mode) = (run, d);
            }
        }
        let round = |q: i64| median.checked_add(q / 2).map(|x| x - x.rem_euclid(q));
        let mut candidates = vec![Some(mode), Some(median), round(10), round(60)];
        candidates.sort_unstable();
        candidates.dedup();
        candidates
            .into_iter()
            .flatten()
            .filter_map(|step| Grid::fit(samples, step))
            .map(|g| (g, g.put_times(samples, None)))
            .min_by_key(|&(_, cost)| cost)
    }

    /// The grid of `step` whose offsets are the shortest arc of residues holding every
    /// reading's.
    fn fit(samples: &[Sample], step: i64) -> Option<Grid> {
        if step < 2 {
            return None;
        }
        let mut res: Vec<i64> = samples.iter().map(|s| s.t.rem_euclid(step)).collect();
        res.sort_unstable();
        res.dedup();
        let last = *res.last()?;
        // The largest circular gap between consecutive residues; the arc starts after it.
        let (mut gap, mut phase) = (res[0] + step - last, res[0]);
        for p in res.windows(2) {
            if p[1] - p[0] > gap {
                gap = p[1] - p[0];
                phase = p[1];
            }
        }
        let m = (step - gap + 1) as u64;
        if m > MMAX {
            return None;
        }
        let t0 = samples[0].t;
        let grid0 = t0.wrapping_sub(t0.wrapping_sub(phase).rem_euclid(step));
        Some(Grid::new(step, m, grid0))
    }
}

/// The Rice value code of a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rice {
    pub(super) order: u8,
    pub(super) bias: i64,
    pub(super) k: u32,
    pub(super) zeros: bool,
}

#[inline(always)]
fn rice_cost(u: u64, k: u32) -> u64 {
    let q = u >> k;
    if q < u64::from(QMAX) {
        q + 1 + u64::from(k)
    } else {
        u64::from(QMAX) + 64
    }
}

impl Rice {
    #[inline(always)]
    fn cost(&self, u: u64) -> u64 {
        match (self.zeros, u) {
            (true, 0) => 1,
            (true, u) => 1 + rice_cost(u - 1, self.k),
            (false, u) => rice_cost(u, self.k),
        }
    }

    fn put(&self, w: &mut BitWriter, u: u64) {
        let u = if self.zeros {
            if u == 0 {
                w.put(0, 1);
                return;
            }
            w.put(1, 1);
            u - 1
        } else {
            u
        };
        let q = u >> self.k;
        if q < u64::from(QMAX) {
            // q ones and a zero (q + 1 <= 20 bits), then the k low bits (at most 32).
            w.put(((1u64 << q) - 1) << 1, q as u32 + 1);
            w.put(u, self.k);
        } else {
            w.put((1u64 << QMAX) - 1, QMAX);
            w.put64(u);
        }
    }

    /// The next residual (bias added back).
    #[inline(always)]
    pub(super) fn get(&self, r: &mut BitReader<'_>) -> Result<i64, CodecError> {
        let w = r.peek();
        let mut hdr = 0u32;
        let mut plus = 0u64;
        if self.zeros {
            if w >> 63 == 0 {
                r.skip(1)?;
                return Ok(self.bias);
            }
            hdr = 1;
            plus = 1;
        }
        let q = (w << hdr).leading_ones();
        if q >= QMAX {
            r.skip(hdr + QMAX)?;
            let u = r.get64()?;
            return Ok(unzz(u.wrapping_add(plus)).wrapping_add(self.bias));
        }
        let used = hdr + q + 1;
        let low = if self.k == 0 {
            0
        } else {
            (w << used) >> (64 - self.k)
        };
        r.skip(used + self.k)?;
        let u = ((u64::from(q) << self.k) | low) + plus;
        Ok(unzz(u).wrapping_add(self.bias))
    }

    /// The cheapest code of `ints` (at least two): order, bias, `k`, zero flag; and its cost.
    fn fit(ints: &[i64]) -> (Rice, u64) {
        if ints.len() < 2 {
            return (
                Rice {
                    order: 1,
                    bias: 0,
                    k: 0,
                    zeros: true,
                },
                0,
            );
        }
        let mut best: Option<(Rice, u64)> = None;
        let mut res = Vec::with_capacity(ints.len());
        let mut us = Vec::with_capacity(ints.len());
        for order in [1u8, 2] {
            res.clear();
            let mut prev_d = 0i64;
            for p in ints.windows(2) {
                let d = p[1].wrapping_sub(p[0]);
                res.push(if order == 2 {
                    d.wrapping_sub(prev_d)
                } else {
                    d
                });
                prev_d = d;
            }
            let mut sorted = res.clone();
            let mid = sorted.len() / 2;
            let median = *sorted.select_nth_unstable(mid).1;
            for bias in [0, median] {
                us.clear();
                us.extend(res.iter().map(|&c| zz(c.wrapping_sub(bias))));
                for zeros in [false, true] {
                    // Candidates for k around log2 of the mean coded value.
                    let (sum, cnt) = us.iter().fold((0u128, 0u64), |(s, c), &u| {
                        if zeros && u == 0 {
                            (s, c)
                        } else {
                            (s + u128::from(u - u64::from(zeros)), c + 1)
                        }
                    });
                    let mean = if cnt == 0 { 0 } else { sum / u128::from(cnt) };
                    let est = 128 - mean.leading_zeros();
                    let lo = est.saturating_sub(2);
                    for k in lo..=(est + 1).min(KMAX) {
                        let code = Rice {
                            order,
                            bias,
                            k,
                            zeros,
                        };
                        let cost = us.iter().map(|&u| code.cost(u)).sum::<u64>();
                        if best.is_none_or(|(_, c)| cost < c) {
                            best = Some((code, cost));
                        }
                    }
                    if bias == median && median == 0 {
                        break;
                    }
                }
                if median == 0 {
                    break;
                }
            }
        }
        best.unwrap_or((
            Rice {
                order: 1,
                bias: 0,
                k: 0,
                zeros: true,
            },
            0,
        ))
    }
}

/// The state of a Rice value stream being folded: the last integer and delta.
pub(super) struct RiceState {
    code: Rice,
    p: f64,
    x: i64,
    d: i64,
}

impl RiceState {
    pub(super) fn new(code: Rice, first: i64, p: f64) -> Self {
        RiceState {
            code,
            p,
            x: first,
            d: 0,
        }
    }

    /// Feed the next `count` values to `f` (stopping when it returns `false`; returns whether
    /// every value was fed). Codes are taken from one loaded word (57 valid bits) while they
    /// fit; the bits are checked against the stream's end when the word is consumed.
    #[inline(always)]
    pub(super) fn run(
        &mut self,
        r: &mut BitReader<'_>,
        count: usize,
        mut f: impl FnMut(f64) -> bool,
    ) -> Result<bool, CodecError> {
        let code = self.code;
        let (p, k, hdr) = (self.p, code.k, u32::from(code.zeros));
        let (mut x, mut d) = (self.x, self.d);
        let mut left = count;
        let mut fed = true;
        while left > 0 && fed {
            let w = r.peek();
            let mut used = 0u32;
            while left > 0 {
                let v = w << used;
                let c = if code.zeros && v >> 63 == 0 {
                    // A run of `0` codes: residuals equal to the bias.
                    let run = (v.leading_zeros().min(57 - used) as usize).min(left);
                    if run == 0 {
                        break;
                    }
                    used += run as u32;
                    left -= run;
                    let c = code.bias;
                    for _ in 0..run {
                        d = if code.order == 2 {
                            d.wrapping_add(c)
                        } else {
                            c
                        };
                        x = x.wrapping_add(d);
                        if !f(x as f64 / p) {
                            fed = false;
                            break;
                        }
                    }
                    if !fed {
                        break;
                    }
                    continue;
                } else {
                    let q = (v << hdr).leading_ones();
                    let len = hdr + q + 1 + k;
                    if q >= QMAX || used + len > 57 {
                        break;
                    }
                    let low = if k == 0 {
                        0
                    } else {
                        (v << (hdr + q + 1)) >> (64 - k)
                    };
                    used += len;
                    unzz(((u64::from(q) << k) | low) + u64::from(hdr)).wrapping_add(code.bias)
                };
                d = if code.order == 2 {
                    d.wrapping_add(c)
                } else {
                    c
                };
                x = x.wrapping_add(d);
                left -= 1;
                if !f(x as f64 / p) {
                    fed = false;
                    break;
                }
            }
            if used > 0 {
                r.skip(used)?;
                continue;
            }
            if !fed {
                break;
            }
            // A code wider than what is left of the word, or an escape.
            let c = code.get(r)?;
            d = if code.order == 2 {
                d.wrapping_add(c)
            } else {
                c
            };
            x = x.wrapping_add(d);
            left -= 1;
            fed = f(x as f64 / p);
        }
        self.x = x;
        self.d = d;
        Ok(fed)
    }
}

/// Encode readings (already checked: at least one, strictly increasing) as version 3.
pub(super) fn encode(samples: &[Sample]) -> Vec<u8> {
    let first = samples[0];
    let mut head = Vec::with_capacity(24 + samples.len() * 2);
    head.push(VERSION);
    put_varint(&mut head, samples.len() as u64);
    put_varint(&mut head, zz(first.t));
    // Times: delta-of-delta unless a grid is cheaper.
    let mut dod_cost = 0u64;
    let mut prev = 0i64;
    for p in samples.windows(2) {
        let delta = p[1].t.wrapping_sub(p[0].t);
        dod_cost += DOD.cost(delta.wrapping_sub(prev));
        prev = delta;
    }
    // The grid's header fields cost about 4 bytes more.
    let grid = Grid::best(samples)
        .filter(|&(_, cost)| cost + 32 < dod_cost)
        .map(|(g, _)| g);
    let mut tw = BitWriter::new(Vec::with_capacity(samples.len()));
    match &grid {
        Some(g) => {
            head.push(1);
            put_varint(&mut head, g.step as u64);
            put_varint(&mut head, g.m);
            put_varint(&mut head, zz(first.t.wrapping_sub(g.grid0)));
            g.put_times(samples, Some(&mut tw));
        }
        None => {
            head.push(0);
            let mut prev = 0i64;
            for p in samples.windows(2) {
                let delta = p[1].t.wrapping_sub(p[0].t);
                DOD.put(&mut tw, delta.wrapping_sub(prev));
                prev = delta;
            }
        }
    }
    let times = tw.finish();
    put_varint(&mut head, times.len() as u64);
    let scaled = decimal_scale(samples.iter().map(|s| s.v));
    let rice = match &scaled {
        Some((k, ints)) => {
            let (code, _) = Rice::fit(ints);
            head.push(*k);
            head.push(code.order);
            put_varint(&mut head, zz(ints[0]));
            put_varint(&mut head, zz(code.bias));
            head.push(code.k as u8);
            head.push(u8::from(code.zeros));
            Some(code)
        }
        None => {
            head.push(XOR_MODE);
            head.extend_from_slice(&first.v.to_bits().to_be_bytes());
            None
        }
    };
    head.extend_from_slice(&times);
    let mut w = BitWriter::new(head);
    match (scaled, rice) {
        (Some((_, ints)), Some(code)) => {
            let mut prev_d = 0i64;
            for p in ints.windows(2) {
                let d = p[1].wrapping_sub(p[0]);
                let c = if code.order == 2 {
                    d.wrapping_sub(prev_d)
                } else {
                    d
                };
                prev_d = d;
                code.put(&mut w, zz(c.wrapping_sub(code.bias)));
            }
        }
        _ => put_xor(&mut w, samples),
    }
    w.finish()
}

/// What a version 3 header says beyond the count and first time.
pub(super) struct Header {
    pub(super) grid: Option<Grid>,
    /// Scale, first integer and Rice code of scaled-integer values; `None` for XOR values.
    pub(super) rice: Option<(f64, i64, Rice)>,
    /// The first value's bits (XOR values).
    pub(super) xor_first: u64,
    /// Byte offset of the time stream in the chunk.
    pub(super) times: usize,
    /// Byte offset of the value stream (the end of the time stream).
    pub(super) values: usize,
}

/// A header field out of range, at byte `at`.
#[cold]
fn out_of_range(
    data: &[u8],
    at: usize,
    field: &'static str,
    expected: &'static str,
    found: String,
) -> CodecError {
    CodecError::at(
        data,
        at,
        CodecProblem::Field {
            field,
            expected,
            found,
        },
    )
}

/// Parse the header after the count and first time (at `pos`).
pub(super) fn header(data: &[u8], mut pos: usize, t0: i64) -> Result<Header, CodecError> {
    let grid = match get_byte(data, &mut pos, "time mode")? {
        0 => None,
        1 => {
            let at = pos;
            let step = get_varint(data, &mut pos, "grid step")?;
            let m = get_varint(data, &mut pos, "grid width")?;
            let back = unzz(get_varint(data, &mut pos, "grid offset")?);
            if step < 2 || step > i64::MAX as u64 || m == 0 || m > step || m > MMAX {
                return Err(out_of_range(
                    data,
                    at,
                    "grid step and width",
                    "a step of at least 2 s and a width of 1..=min(step, 2^20)",
                    format!("step {step}, width {m}"),
                ));
            }
            Some(Grid::new(step as i64, m, t0.wrapping_sub(back)))
        }
        other => {
            return Err(out_of_range(
                data,
                pos - 1,
                "time mode",
                "0 (delta of deltas) or 1 (grid)",
                other.to_string(),
            ));
        }
    };
    let tlen = get_varint(data, &mut pos, "time stream length")?;
    let mode = get_byte(data, &mut pos, "value mode")?;
    let (mut rice, mut xor_first) = (None, 0);
    if mode == XOR_MODE {
        xor_first = get_u64(data, &mut pos, "first value")?;
    } else if (mode as usize) < POW10.len() {
        let at = pos;
        let order = get_byte(data, &mut pos, "order")?;
        let first = unzz(get_varint(data, &mut pos, "first value")?);
        let bias = unzz(get_varint(data, &mut pos, "bias")?);
        let k = u32::from(get_byte(data, &mut pos, "Rice parameter")?);
        let zeros = get_byte(data, &mut pos, "zero flag")?;
        if !(1..=2).contains(&order) || k > KMAX || zeros > 1 {
            return Err(out_of_range(
                data,
                at,
                "value code",
                "order 1 or 2, Rice parameter 0..=32, zero flag 0 or 1",
                format!("order {order}, Rice parameter {k}, zero flag {zeros}"),
            ));
        }
        rice = Some((
            POW10[mode as usize],
            first,
            Rice {
                order,
                bias,
                k,
                zeros: zeros == 1,
            },
        ));
    } else {
        return Err(out_of_range(
            data,
            pos - 1,
            "value mode",
            "0..=9 (decimal scale) or 255 (XOR)",
            mode.to_string(),
        ));
    }
    let left = data.len() - pos;
    let tlen = usize::try_from(tlen)
        .ok()
        .filter(|&l| l <= left)
        .ok_or_else(|| {
            CodecError::at(data, pos, CodecProblem::TimeStream { length: tlen, left })
        })?;
    Ok(Header {
        grid,
        rice,
        xor_first,
        times: pos,
        values: pos + tlen,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(f: impl FnOnce(&mut BitWriter)) -> Vec<u8> {
        let mut w = BitWriter::new(Vec::new());
        f(&mut w);
        w.finish()
    }

    /// The version 3 codes keep their layout: truncated binary grid symbols and Rice codes
    /// written as their explicit bits, their costs the bits written, read back the same.
    #[test]
    fn version_3_codes_keep_the_stored_layout() {
        // m = 5: six symbols in k = 3 bits, u = 2: symbols 0, 1 in 2 bits; 2..=5 as s + 2 in 3.
        let g = Grid::new(900, 5, 0);
        for (s, expected, len) in [
            (0u64, 0b00u64, 2u32),
            (1, 0b01, 2),
            (2, 0b100, 3),
            (4, 0b110, 3),
            (5, 0b111, 3),
        ] {
            assert_eq!(bits(|w| g.put_symbol(w, s)), bits(|w| w.put(expected, len)));
            assert_eq!(g.symbol_cost(s), u64::from(len));
        }
        // m = 1: two symbols, one bit each.
        let g1 = Grid::new(900, 1, 0);
        assert_eq!(bits(|w| g1.put_symbol(w, 1)), bits(|w| w.put(1, 1)));
        // Rice k = 3: 21 = 0b10101 -> q = 2 (`110`), low `101`.
        let r = Rice {
            order: 1,
            bias: 0,
            k: 3,
            zeros: false,
        };
        let u = zz(-11); // 21
        assert_eq!(bits(|w| r.put(w, u)), bits(|w| w.put(0b110_101, 6)));
        assert_eq!(r.cost(u), 6);
        // With the zero flag: 0 is `0`; 21 is `1` then the code of 20 (q = 2, low `100`).
        let z = Rice { zeros: true, ..r };
        assert_eq!(bits(|w| z.put(w, 0)), bits(|w| w.put(0, 1)));
        assert_eq!(bits(|w| z.put(w, u)), bits(|w| w.put(0b1_110_100, 7)));
        // An escape: 20 ones and 64 raw bits.
        let big = u64::MAX - 3;
        assert_eq!(
            bits(|w| r.put(w, big)),
            bits(|w| {
                w.put((1 << 20) - 1, 20);
                w.put64(big);
            })
        );
        assert_eq!(r.cost(big), 84);
        for (code, u) in [(r, u), (z, 0), (z, u), (r, big), (z, big)] {
            let data = bits(|w| code.put(w, u));
            let mut rd = BitReader {
                data: &data,
                pos: 0,
            };
            assert_eq!(code.get(&mut rd).unwrap(), unzz(u));
        }
    }

    /// Readings 0..4 s after a 15-minute grid point, with a missed reading and a gap, take the
    /// grid code (about 2.6 bits a reading) and read back exactly.
    #[test]
    fn jittered_poll_times_take_the_grid_code() {
        let mut s = Vec::new();
        for i in 0..672i64 {
            if i % 100 == 37 || (300..320).contains(&i) {
                continue;
            }
            s.push(Sample::new(
                1_767_225_600 + 7 + i * 900 + (i * 7919 % 5),
                0.0,
            ));
        }
        let b = encode(&s);
        let d = super::super::decode(&b).unwrap();
        assert_eq!(d, s);
        let mut pos = 1;
        get_varint(&b, &mut pos, "count").unwrap();
        get_varint(&b, &mut pos, "first time").unwrap();
        let h = header(&b, pos, s[0].t).unwrap();
        let g = h.grid.expect("grid time mode");
        assert_eq!((g.step, g.m), (900, 5));
        let times = h.values - h.times;
        assert!(times * 8 <= s.len() * 29 / 10, "{times}");
    }
}
