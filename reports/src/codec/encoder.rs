//! The writer: checks the readings, finds the decimal scale of the values, writes the Gorilla
//! XOR value code, and hands the chunk to the layout written (version 3); the version 2 writer is
//! kept for tests that check version 2 chunks still read.

use super::bits::{BitWriter, put_bits};
#[cfg(test)]
use super::bits::{put_varint, zz};
#[cfg(test)]
use super::prefix::{DOD, INT};
use super::{POW10, Sample, v3};
#[cfg(test)]
use super::{VERSION_2, XOR_MODE};
use crate::Error;

/// The smallest decimal scale `k` at which every value is an exact integer / 10^k.
pub(super) fn decimal_scale(values: impl Iterator<Item = f64> + Clone) -> Option<(u8, Vec<i64>)> {
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
pub(super) fn put_xor(w: &mut BitWriter, samples: &[Sample]) {
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
pub(super) fn encode_v2(samples: &[Sample]) -> Result<Vec<u8>, Error> {
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
                c1 += INT.cost(d);
                let dd = if i >= 2 {
                    d.wrapping_sub(ints[i - 1].wrapping_sub(ints[i - 2]))
                } else {
                    d
                };
                c2 += INT.cost(dd);
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
        DOD.put(&mut w, delta - prev_delta);
        prev_delta = delta;
    }
    match scaled {
        Some((_, ints)) => {
            let mut prev_d = 0i64;
            for i in 1..ints.len() {
                let d = ints[i].wrapping_sub(ints[i - 1]);
                if order2 {
                    INT.put(&mut w, d.wrapping_sub(prev_d));
                    prev_d = d;
                } else {
                    INT.put(&mut w, d);
                }
            }
        }
        None => put_xor(&mut w, samples),
    }
    Ok(w.finish())
}
