//! Optimal planning: the dynamic programme that cuts one (device, function code) group of
//! wanted values into the cheapest valid requests, the request-validity rules it relies
//! on, and the figures a plan is judged by (its wire time, the lower bound, one request per
//! service). Why the programme is optimal is argued in the [module documentation](super).

use std::time::Duration;

use crate::catalogue::RequestLimits;
use crate::register::FunctionCode;

use super::wire::{self, RtuLine, WireTally};
use super::{CostModel, DevicePlan, MAX_READ_BITS, MAX_READ_REGISTERS, Plan, Want};

/// Largest read the product allows in a table.
pub(super) fn max_read(limits: &RequestLimits, fc: FunctionCode) -> u16 {
    if fc.is_bit_table() {
        MAX_READ_BITS
    } else {
        limits.max_registers_per_read.min(MAX_READ_REGISTERS)
    }
}

/// Whether one request may read `[start, end]`.
pub(super) fn readable(limits: &RequestLimits, fc: FunctionCode, start: u32, end: u32) -> bool {
    start <= end
        && end <= u32::from(u16::MAX)
        && end - start < u32::from(max_read(limits, fc))
        && limits.allows(fc, start, end)
}

/// The largest `end` for which [`readable`]`(limits, fc, start, end)` holds, if any.
fn max_end(limits: &RequestLimits, fc: FunctionCode, start: u32) -> Option<u32> {
    let mut cap = (start + u32::from(max_read(limits, fc))).checked_sub(1)?;
    cap = cap.min(u32::from(u16::MAX));
    for f in limits.forbidden.iter().filter(|f| f.function_code == fc) {
        let (from, to) = (u32::from(f.from), u32::from(f.to));
        if from <= start && start <= to {
            return None;
        }
        if from > start {
            cap = cap.min(from - 1);
        }
    }
    if limits.blocks.iter().any(|b| b.function_code == fc) {
        let block_end = limits
            .blocks
            .iter()
            .filter(|b| {
                b.function_code == fc && u32::from(b.from) <= start && start <= u32::from(b.to)
            })
            .map(|b| u32::from(b.to))
            .max()?;
        cap = cap.min(block_end);
    }
    (cap >= start).then_some(cap)
}

/// Sorted, merged union of the wants' intervals (adjacent intervals joined).
fn union_of(wants: &[Want]) -> Vec<(u32, u32)> {
    let mut sorted: Vec<(u32, u32)> = wants.iter().map(|w| (w.start, w.end)).collect();
    sorted.sort_unstable();
    let mut union: Vec<(u32, u32)> = Vec::with_capacity(sorted.len());
    for (s, e) in sorted {
        match union.last_mut() {
            Some(last) if s <= last.1 + 1 => last.1 = last.1.max(e),
            _ => union.push((s, e)),
        }
    }
    union
}

/// The maximal ranges one request could span ignoring the size limit: the documented
/// blocks of the table (overlapping ones joined) or the whole table, minus forbidden ranges.
fn maximal_blocks(limits: &RequestLimits, fc: FunctionCode) -> Vec<(u32, u32)> {
    let mut base: Vec<(u32, u32)> = limits
        .blocks
        .iter()
        .filter(|b| b.function_code == fc && b.from <= b.to)
        .map(|b| (u32::from(b.from), u32::from(b.to)))
        .collect();
    if base.is_empty() {
        base.push((0, u32::from(u16::MAX)));
    }
    base.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(base.len());
    for (s, e) in base {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    for f in limits.forbidden.iter().filter(|f| f.function_code == fc) {
        let (fs, fe) = (u32::from(f.from), u32::from(f.to));
        merged = merged
            .into_iter()
            .flat_map(|(s, e)| {
                let mut parts = Vec::with_capacity(2);
                if fe < s || fs > e {
                    parts.push((s, e));
                } else {
                    if fs > s {
                        parts.push((s, fs - 1));
                    }
                    if fe < e {
                        parts.push((fe + 1, e));
                    }
                }
                parts
            })
            .collect();
    }
    merged
}

/// Cost of one request of `count` registers (bits): (primary, tie-break), compared
/// lexicographically and summed.
pub(super) type Cost = (u128, u128);

pub(super) fn request_cost(
    model: CostModel,
    latency_ns: u128,
    fc: FunctionCode,
) -> impl Fn(u32) -> Cost {
    // RTU: the wire time times the baud rate, exact in integers (see `RtuLine`):
    // (13 bytes + data) * 11e9 + 2 * t3.5 + baud * latency.
    let (per_request, per_byte, rtu) = match model {
        CostModel::Rtu { baud } => {
            let line = RtuLine::new(baud);
            let fixed = RtuLine::chars_scaled(u64::from(
                wire::READ_REQUEST_BYTES + wire::READ_RESPONSE_OVERHEAD_BYTES,
            )) + 2 * line.silence_scaled()
                + u128::from(line.baud()) * latency_ns;
            (fixed, RtuLine::chars_scaled(1), true)
        }
        CostModel::FewestRequests => (1, 0, false),
    };
    move |count: u32| {
        if rtu {
            let data = u128::from(wire::response_data_bytes(fc, count));
            (per_request + data * per_byte, 1)
        } else {
            (per_request, u128::from(count))
        }
    }
}

/// The DP over one (device, function code) group, sorted by (start, end). Returns the runs
/// `(first, last, hull end)` of the cheapest partition. Every single item must be readable.
pub(super) fn plan_runs(
    limits: &RequestLimits,
    fc: FunctionCode,
    group: &[Want],
    cost: &dyn Fn(u32) -> Cost,
) -> Vec<(usize, usize, u32)> {
    let n = group.len();
    if n == 0 {
        return Vec::new();
    }
    let union = union_of(group);
    let in_union = |x: u32| union.partition_point(|u| u.1 < x);
    // gaps[k]: unused registers between union[k] and union[k + 1].
    let gaps: Vec<u32> = union.windows(2).map(|w| w[1].0 - w[0].1 - 1).collect();
    let uidx_end: Vec<usize> = group.iter().map(|w| in_union(w.end)).collect();
    let max_gap = u32::from(limits.max_gap);

    // The furthest end a request starting at each item may reach (`allows` is monotone in
    // the end address), so the inner loop compares numbers instead of scanning the limits.
    let reach_limit: Vec<Option<u32>> =
        group.iter().map(|w| max_end(limits, fc, w.start)).collect();

    let mut best: Vec<Option<Cost>> = vec![None; n + 1];
    let mut from = vec![0usize; n + 1];
    let mut hull_end = vec![0u32; n + 1];
    best[0] = Some((0, 0));
    for i in 0..n {
        let Some(base) = best[i] else { continue };
        let start = group[i].start;
        let mut end = group[i].end;
        let mut checked = in_union(start);
        let mut reach = uidx_end[i];
        for j in i..n {
            end = end.max(group[j].end);
            reach = reach.max(uidx_end[j]);
            let mut gaps_ok = true;
            while checked < reach {
                if gaps[checked] > max_gap {
                    gaps_ok = false;
                    break;
                }
                checked += 1;
            }
            if !gaps_ok || reach_limit[i].is_none_or(|m| end > m) {
                break;
            }
            debug_assert!(readable(limits, fc, start, end));
            let c = cost(end - start + 1);
            let total = (base.0 + c.0, base.1 + c.1);
            if best[j + 1].is_none_or(|b| total < b) {
                best[j + 1] = Some(total);
                from[j + 1] = i;
                hull_end[j + 1] = end;
            }
        }
    }
    let mut runs = Vec::new();
    let mut j = n;
    while j > 0 {
        let i = from[j];
        runs.push((i, j - 1, hull_end[j]));
        j = i;
    }
    runs.reverse();
    runs
}

impl DevicePlan<'_> {
    fn planned_tally(&self) -> WireTally {
        let mut t = WireTally::default();
        for r in &self.requests {
            t.add_read(r.function_code, u32::from(r.count));
        }
        t.add_latency(self.latency, self.requests.len());
        t
    }

    fn per_service_tally(&self) -> WireTally {
        let mut t = WireTally::default();
        for w in &self.wants {
            t.add_read(w.fc, w.end - w.start + 1);
        }
        t.add_latency(self.latency, self.wants.len());
        t
    }

    fn lower_bound_tally(&self) -> WireTally {
        let mut t = WireTally::default();
        let limits = &self.product.limits;
        let mut k = 0;
        while k < self.wants.len() {
            let fc = self.wants[k].fc;
            let group_end = k + self.wants[k..].iter().take_while(|w| w.fc == fc).count();
            let union = union_of(&self.wants[k..group_end]);
            let cap = u32::from(max_read(limits, fc)).max(1);
            for (a, b) in maximal_blocks(limits, fc) {
                let w: u32 = union
                    .iter()
                    .map(|&(x, y)| {
                        let lo = x.max(a);
                        let hi = y.min(b);
                        if lo <= hi { hi - lo + 1 } else { 0 }
                    })
                    .sum();
                if w > 0 {
                    let requests = w.div_ceil(cap);
                    t.add_reads(fc, requests, w);
                    t.add_latency(self.latency, requests as usize);
                }
            }
            k = group_end;
        }
        t
    }

    /// Planned wire time of this device's requests at `baud`, with its latency.
    pub fn wire_time(&self, baud: u32) -> Duration {
        self.planned_tally().time(&RtuLine::new(baud))
    }

    /// Lower bound of this device's wire time (see the module documentation).
    pub fn lower_bound(&self, baud: u32) -> Duration {
        self.lower_bound_tally().time(&RtuLine::new(baud))
    }

    /// Wire time of one request per item (see the module documentation).
    pub fn per_service(&self, baud: u32) -> Duration {
        self.per_service_tally().time(&RtuLine::new(baud))
    }
}

impl<'a> Plan<'a> {
    fn tally(&self, f: impl Fn(&DevicePlan<'a>) -> WireTally) -> WireTally {
        self.devices
            .iter()
            .map(f)
            .fold(WireTally::default(), |a, b| a + b)
    }

    /// Wire time of the planned cycle if every device sat on one RTU line at `baud`
    /// (including each device's latency per request).
    pub fn wire_time(&self, baud: u32) -> Duration {
        self.tally(DevicePlan::planned_tally)
            .time(&RtuLine::new(baud))
    }

    /// The lower bound: per device and maximal block, the fewest requests that can carry
    /// the wanted registers, carrying nothing else (see the module documentation).
    pub fn lower_bound(&self, baud: u32) -> Duration {
        self.tally(DevicePlan::lower_bound_tally)
            .time(&RtuLine::new(baud))
    }

    /// The baseline of one request per service (and per signature read, scale register).
    pub fn per_service(&self, baud: u32) -> Duration {
        self.tally(DevicePlan::per_service_tally)
            .time(&RtuLine::new(baud))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::catalogue::AddressRange;

    fn range(fc: FunctionCode, from: u16, to: u16) -> AddressRange {
        AddressRange {
            function_code: fc,
            from,
            to,
        }
    }

    #[test]
    fn maximal_blocks_join_and_cut() {
        let h = FunctionCode::Holding;
        let limits = RequestLimits {
            max_registers_per_read: 10,
            max_gap: 0,
            blocks: vec![range(h, 0, 10), range(h, 5, 20), range(h, 30, 40)],
            forbidden: vec![
                range(h, 8, 9),
                range(h, 40, 50),
                range(FunctionCode::Input, 0, 100),
            ],
        };
        assert_eq!(maximal_blocks(&limits, h), vec![(0, 7), (10, 20), (30, 39)]);
        assert_eq!(
            maximal_blocks(&limits, FunctionCode::Input),
            vec![(101, 65535)]
        );
        assert_eq!(
            maximal_blocks(&limits, FunctionCode::Coils),
            vec![(0, 65535)]
        );
    }

    #[test]
    fn max_end_agrees_with_allows() {
        let h = FunctionCode::Holding;
        let limits = RequestLimits {
            max_registers_per_read: 20,
            max_gap: 0,
            blocks: vec![range(h, 0, 10), range(h, 5, 40), range(h, 60, 70)],
            forbidden: vec![range(h, 30, 31), range(h, 65, 65)],
        };
        for fc in [h, FunctionCode::Input, FunctionCode::Coils] {
            for start in 0..100u32 {
                let by_scan = (start..start + 2100)
                    .take_while(|&e| readable(&limits, fc, start, e))
                    .last();
                assert_eq!(max_end(&limits, fc, start), by_scan, "{fc} {start}");
            }
        }
        assert_eq!(max_end(&limits, FunctionCode::Input, 65_530), Some(65_535));
        let zero = RequestLimits {
            max_registers_per_read: 0,
            ..RequestLimits::default()
        };
        assert_eq!(max_end(&zero, h, 0), None);
    }

    #[test]
    fn readable_checks_protocol_and_product_limits() {
        let l = RequestLimits::default();
        assert!(readable(&l, FunctionCode::Holding, 0, 124));
        assert!(!readable(&l, FunctionCode::Holding, 0, 125));
        assert!(readable(&l, FunctionCode::Coils, 0, 1999));
        assert!(!readable(&l, FunctionCode::Coils, 0, 2000));
        assert!(!readable(&l, FunctionCode::Holding, 65535, 65536));
        let mut l = l;
        l.max_registers_per_read = 200; // hand-built products cannot exceed the protocol
        assert!(!readable(&l, FunctionCode::Input, 0, 125));
    }
}
