//! Aggregation of stored readings into calendar bins of a named time zone.
//!
//! Bins are `[start, end)` in UTC. Quarter-hours and hours are fixed lengths aligned to the
//! local clock; days, weeks (Monday first), months, quarters and years start at local midnight,
//! so a day at a daylight-saving change lasts 23 or 25 hours.
//!
//! Functions per bin: `mean` (arithmetic mean of the readings in the bin), `last`, `min`, `max`,
//! `sum` of readings, and `delta`, the consumption of a cumulative counter.
//!
//! # Consumption rule (counters)
//! A counter reading is the index at its time stamp. The increase between two consecutive
//! readings belongs to the time between them and is split over the bins that time overlaps in
//! proportion to time (so a day's consumption is the index at its end minus the index at its
//! start, and a gap's consumption is spread over the gap rather than lost). When the index
//! **drops** (a counter reset or a meter replacement, where the new meter starts from its own
//! index) the interval containing the drop is unknown: it contributes nothing, the bin
//! containing the drop counts one `reset`, and counting resumes from the new index. With a
//! known [`CounterRule::rollover`] (a register that wraps at e.g. 10^8), a drop is read as a wrap
//! instead and counts `rollover - previous + new`.
//!
//! Gaps are gaps: a bin with no reading (instantaneous functions) or no counter interval
//! overlapping it (`delta`) has no value (`None`), never zero; [`BinStats::covered_secs`] tells
//! how much of a bin counter intervals covered.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::codec::Sample;
use crate::store::{Channel, ChannelKind, Store};

/// Bin size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// 15 minutes.
    QuarterHour,
    /// 1 hour.
    Hour,
    /// Local day.
    Day,
    /// Local week, Monday to Sunday.
    Week,
    /// Local month.
    Month,
    /// Local calendar quarter.
    Quarter,
    /// Local year.
    Year,
}

/// What to compute per bin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Mean of the readings.
    Mean,
    /// Last reading.
    Last,
    /// Smallest reading.
    Min,
    /// Largest reading.
    Max,
    /// Sum of the readings.
    Sum,
    /// Counter consumption (see the module's rule).
    Delta,
}

impl Aggregation {
    /// The natural function for a channel kind: `delta` for counters, `mean` otherwise.
    pub fn default_for(kind: ChannelKind) -> Self {
        match kind {
            ChannelKind::Counter => Aggregation::Delta,
            ChannelKind::Instantaneous => Aggregation::Mean,
        }
    }
}

/// Parse an IANA time-zone name.
///
/// # Errors
/// [`Error::TimeZone`] for an unknown name.
///
/// ```
/// assert!(reports::aggregate::parse_tz("Europe/Paris").is_ok());
/// assert!(reports::aggregate::parse_tz("Mars/Olympus").is_err());
/// ```
pub fn parse_tz(name: &str) -> Result<Tz, Error> {
    crate::tz::parse_tz(name).map_err(|_| Error::TimeZone {
        found: name.to_string(),
    })
}

/// The UTC instant of local midnight starting `date` (or the first valid local time after it
/// when midnight does not exist that day).
pub fn local_midnight(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let mut naive = date.and_time(chrono::NaiveTime::MIN);
    for _ in 0..8 {
        if let Some(t) = tz.from_local_datetime(&naive).earliest() {
            return t.with_timezone(&Utc);
        }
        naive += chrono::Duration::minutes(30);
    }
    Utc.from_utc_datetime(&date.and_time(chrono::NaiveTime::MIN))
}

fn floor_date(d: NaiveDate, g: Granularity) -> NaiveDate {
    let first_of = |m: u32| NaiveDate::from_ymd_opt(d.year(), m, 1).unwrap_or(d);
    match g {
        Granularity::QuarterHour | Granularity::Hour | Granularity::Day => d,
        Granularity::Week => d - Days::new(u64::from(d.weekday().num_days_from_monday())),
        Granularity::Month => first_of(d.month()),
        Granularity::Quarter => first_of((d.month() - 1) / 3 * 3 + 1),
        Granularity::Year => first_of(1),
    }
}

fn next_date(d: NaiveDate, g: Granularity) -> NaiveDate {
    match g {
        Granularity::QuarterHour | Granularity::Hour | Granularity::Day => d + Days::new(1),
        Granularity::Week => d + Days::new(7),
        Granularity::Month => d + Months::new(1),
        Granularity::Quarter => d + Months::new(3),
        Granularity::Year => d + Months::new(12),
    }
}

/// The start of the bin containing `t`.
pub fn bin_start(t: DateTime<Utc>, g: Granularity, tz: Tz) -> DateTime<Utc> {
    let local = t.with_timezone(&tz);
    match g {
        Granularity::QuarterHour | Granularity::Hour => {
            let step = if g == Granularity::Hour { 3600 } else { 900 };
            let off = i64::from(local.offset().fix().local_minus_utc());
            let lt = t.timestamp() + off;
            DateTime::from_timestamp(lt - lt.rem_euclid(step) - off, 0).unwrap_or(t)
        }
        _ => {
            let start = local_midnight(floor_date(local.date_naive(), g), tz);
            if start > t {
                local_midnight(floor_date(local.date_naive() - Days::new(1), g), tz)
            } else {
                start
            }
        }
    }
}

/// Bin edges (UTC seconds) covering `[from, to)`: the first edge is the start of the bin
/// containing `from`, the last is at or after `to`. `n` bins give `n + 1` edges.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use reports::aggregate::{bin_edges, parse_tz, Granularity};
/// let tz = parse_tz("Europe/Paris").unwrap();
/// let from = Utc.with_ymd_and_hms(2026, 3, 28, 23, 0, 0).unwrap(); // 29 March, 00:00 in Paris
/// let e = bin_edges(from, from + chrono::Duration::hours(23), Granularity::Day, tz);
/// assert_eq!(e[1] - e[0], 23 * 3600); // spring forward: a 23-hour day
/// ```
pub fn bin_edges(from: DateTime<Utc>, to: DateTime<Utc>, g: Granularity, tz: Tz) -> Vec<i64> {
    let mut edges = Vec::new();
    let mut start = bin_start(from, g, tz);
    let end = to.timestamp();
    match g {
        Granularity::QuarterHour | Granularity::Hour => {
            let step = if g == Granularity::Hour { 3600 } else { 900 };
            let mut t = start.timestamp();
            edges.push(t);
            while t < end {
                t += step;
                edges.push(t);
            }
        }
        _ => {
            let mut date = start.with_timezone(&tz).date_naive();
            date = floor_date(date, g);
            edges.push(start.timestamp());
            while start.timestamp() < end {
                date = next_date(date, g);
                start = local_midnight(date, tz);
                edges.push(start.timestamp());
            }
        }
    }
    if edges.len() == 1 {
        edges.push(edges[0]);
    }
    edges
}

/// How a dropping counter is read.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterRule {
    /// The register wraps to zero at this value; a drop then counts as a wrap.
    /// `None` (default): a drop is a reset or meter replacement and its interval counts nothing.
    pub rollover: Option<f64>,
}

/// Statistics of one bin.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BinStats {
    /// Bin start, UTC seconds.
    pub start: i64,
    /// Bin end (exclusive), UTC seconds.
    pub end: i64,
    /// Readings in the bin.
    pub count: u64,
    /// Sum of readings.
    pub sum: f64,
    /// Smallest reading (`+inf` when none).
    pub min: f64,
    /// Largest reading (`-inf` when none).
    pub max: f64,
    /// Last reading (time, value).
    pub last: Option<(i64, f64)>,
    /// Counter consumption attributed to the bin.
    pub consumption: f64,
    /// Seconds of the bin covered by counter intervals.
    pub covered_secs: f64,
    /// Counter drops (resets, meter replacements) inside the bin.
    pub resets: u32,
}

impl BinStats {
    fn new(start: i64, end: i64) -> Self {
        BinStats {
            start,
            end,
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            last: None,
            consumption: 0.0,
            covered_secs: 0.0,
            resets: 0,
        }
    }
    /// The bin's value for `agg`; `None` when the bin has no data for it.
    pub fn value(&self, agg: Aggregation) -> Option<f64> {
        match agg {
            Aggregation::Delta => (self.covered_secs > 0.0).then_some(self.consumption),
            _ if self.count == 0 => None,
            Aggregation::Mean => Some(self.sum / self.count as f64),
            Aggregation::Last => self.last.map(|l| l.1),
            Aggregation::Min => Some(self.min),
            Aggregation::Max => Some(self.max),
            Aggregation::Sum => Some(self.sum),
        }
    }
    /// Bin start as a date-time.
    pub fn start_time(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.start, 0).unwrap_or_default()
    }
}

/// Streaming aggregator: push readings in time order (readings outside the edges only serve as
/// counter neighbours), then [`Aggregator::finish`].
#[derive(Debug, Clone)]
pub struct Aggregator {
    edges: Vec<i64>,
    bins: Vec<BinStats>,
    prev: Option<Sample>,
    prev_idx: Option<usize>,
    cur: usize,
    rule: CounterRule,
}

impl Aggregator {
    /// An aggregator over `edges` (as from [`bin_edges`]; at least two, increasing).
    ///
    /// ```
    /// use reports::aggregate::{Aggregator, Aggregation, CounterRule};
    /// use reports::Sample;
    /// let mut a = Aggregator::new(vec![0, 3600, 7200], CounterRule::default());
    /// a.push(&[Sample::new(0, 10.0), Sample::new(1800, 11.0), Sample::new(3600, 13.0), Sample::new(7200, 14.0)]);
    /// let bins = a.finish();
    /// assert_eq!(bins[0].value(Aggregation::Delta), Some(3.0));
    /// assert_eq!(bins[1].value(Aggregation::Mean), Some(13.0));
    /// ```
    pub fn new(edges: Vec<i64>, rule: CounterRule) -> Self {
        let bins = edges
            .windows(2)
            .map(|w| BinStats::new(w[0], w[1]))
            .collect();
        Aggregator {
            edges,
            bins,
            prev: None,
            prev_idx: None,
            cur: 0,
            rule,
        }
    }

    /// Feed readings (in increasing time across calls).
    pub fn push(&mut self, samples: &[Sample]) {
        let nb = self.bins.len();
        if nb == 0 {
            return;
        }
        let (lo, hi) = (self.edges[0], self.edges[nb]);
        for &s in samples {
            let idx = if s.t >= lo && s.t < hi {
                while s.t >= self.edges[self.cur + 1] {
                    self.cur += 1;
                }
                while s.t < self.edges[self.cur] {
                    self.cur -= 1;
                }
                Some(self.cur)
            } else {
                None
            };
            if let Some(p) = self.prev
                && s.t > p.t
            {
                match idx {
                    // Fast path: both readings in the same bin and the counter did not drop.
                    Some(i) if self.prev_idx == Some(i) && s.v >= p.v => {
                        let b = &mut self.bins[i];
                        b.consumption += s.v - p.v;
                        b.covered_secs += (s.t - p.t) as f64;
                    }
                    _ => self.counter_interval(p, s),
                }
            }
            self.prev = Some(s);
            self.prev_idx = idx;
            if let Some(i) = idx {
                let b = &mut self.bins[i];
                b.count += 1;
                b.sum += s.v;
                b.min = b.min.min(s.v);
                b.max = b.max.max(s.v);
                b.last = Some((s.t, s.v));
            }
        }
    }

    fn index_of(&self, t: i64) -> usize {
        self.edges
            .partition_point(|&e| e <= t)
            .saturating_sub(1)
            .min(self.bins.len() - 1)
    }

    fn counter_interval(&mut self, p: Sample, s: Sample) {
        let nb = self.bins.len();
        let (lo, hi) = (self.edges[0], self.edges[nb]);
        if s.t <= lo || p.t >= hi {
            return;
        }
        let inc = if s.v >= p.v {
            s.v - p.v
        } else if let Some(r) = self.rule.rollover {
            r - p.v + s.v
        } else {
            if s.t < hi && s.t >= lo {
                let i = self.index_of(s.t);
                self.bins[i].resets += 1;
            }
            return;
        };
        let i = match self.prev_idx {
            Some(i) if p.t >= lo => i,
            _ => self.index_of(p.t.max(lo)),
        };
        // Fast path: the whole interval inside one bin.
        if p.t >= self.bins[i].start && s.t <= self.bins[i].end {
            self.bins[i].consumption += inc;
            self.bins[i].covered_secs += (s.t - p.t) as f64;
            return;
        }
        let dt = (s.t - p.t) as f64;
        let mut j = i;
        while j < nb && self.bins[j].start < s.t {
            let a = p.t.max(self.bins[j].start);
            let b = s.t.min(self.bins[j].end);
            if b > a {
                let share = (b - a) as f64;
                self.bins[j].consumption += inc * share / dt;
                self.bins[j].covered_secs += share;
            }
            j += 1;
        }
    }

    /// The bin holding every time of `[t_first, t_last]`, when readings there can be folded from
    /// their values alone (see [`ValueFold`]): the span lies inside one bin and after the last
    /// reading pushed.
    #[cfg_attr(
        not(feature = "sqlite"),
        allow(dead_code, reason = "used by the SQLite engine's streamed reads")
    )]
    pub(crate) fn bin_of_span(&self, t_first: i64, t_last: i64) -> Option<usize> {
        let nb = self.bins.len();
        if nb == 0 || t_first > t_last || t_first < self.edges[0] || t_last >= self.edges[nb] {
            return None;
        }
        if self.prev.is_some_and(|p| p.t >= t_first) {
            return None;
        }
        let i = if t_first >= self.edges[self.cur] && t_first < self.edges[self.cur + 1] {
            self.cur
        } else {
            self.index_of(t_first)
        };
        (t_last < self.edges[i + 1]).then_some(i)
    }

    /// Start folding readings 2..n of a span in bin `i` whose first reading was just pushed
    /// (`first`); the span ends at `t_last`. `None` when the fold could not reproduce
    /// [`Aggregator::push`] exactly (covered seconds beyond 2^52), so the caller pushes instead.
    ///
    /// `step` is the interval between consecutive readings when they are all equal: a counter
    /// drop (whose interval counts no covered seconds) can then be folded too.
    #[cfg_attr(
        not(feature = "sqlite"),
        allow(dead_code, reason = "used by the SQLite engine's streamed reads")
    )]
    pub(crate) fn fold_begin(
        &self,
        i: usize,
        first: Sample,
        t_last: i64,
        step: Option<i64>,
    ) -> Option<ValueFold> {
        const EXACT: f64 = (1u64 << 52) as f64;
        let b = &self.bins[i];
        let span = t_last.checked_sub(first.t)?;
        if self.prev_idx != Some(i)
            || self.prev.map(|p| p.t) != Some(first.t)
            || b.covered_secs >= EXACT
            || span as f64 >= EXACT
        {
            return None;
        }
        Some(ValueFold {
            bin: i,
            t_first: first.t,
            t_last,
            count: 0,
            sum: b.sum,
            min: b.min,
            max: b.max,
            consumption: b.consumption,
            prev: first.v,
            rollover: self.rule.rollover,
            step,
            drops: 0,
            dropped_secs: 0,
        })
    }

    /// Apply a completed fold: the bin ends as if every reading had been pushed one by one.
    #[cfg_attr(
        not(feature = "sqlite"),
        allow(dead_code, reason = "used by the SQLite engine's streamed reads")
    )]
    pub(crate) fn fold_commit(&mut self, f: ValueFold) {
        let b = &mut self.bins[f.bin];
        b.count += f.count;
        b.sum = f.sum;
        b.min = f.min;
        b.max = f.max;
        b.consumption = f.consumption;
        b.resets = b
            .resets
            .saturating_add(u32::try_from(f.drops).unwrap_or(u32::MAX));
        // Each interval but the drops added its whole-second length: integers below 2^53 add
        // up exactly. (`drops` is non-zero only with a step.)
        let dropped = f.drops * f.step.unwrap_or(0) + f.dropped_secs;
        b.covered_secs += (f.t_last - f.t_first - dropped) as f64;
        b.last = Some((f.t_last, f.prev));
        self.prev = Some(Sample::new(f.t_last, f.prev));
        self.prev_idx = Some(f.bin);
        self.cur = f.bin;
    }

    /// The bins.
    pub fn finish(self) -> Vec<BinStats> {
        self.bins
    }
}

/// Readings of one bin folded from their values alone, in time order, with the very same
/// floating-point operations as [`Aggregator::push`] (so the result is bit-identical): used for
/// a compressed chunk lying inside one bin, whose times then need no decoding beyond the first
/// and the last. A counter drop without a rollover rule leaves its interval uncovered, so it
/// needs the interval's length: known when the chunk's readings are evenly spaced, otherwise
/// [`ValueFold::add`] refuses the drop and the caller pushes the chunk instead.
#[cfg_attr(
    not(feature = "sqlite"),
    allow(dead_code, reason = "used by the SQLite engine's streamed reads")
)]
#[derive(Debug, Clone)]
pub(crate) struct ValueFold {
    bin: usize,
    t_first: i64,
    t_last: i64,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    consumption: f64,
    prev: f64,
    rollover: Option<f64>,
    step: Option<i64>,
    drops: i64,
    /// Seconds of the drops folded by [`ValueFold::add_timed`] (their intervals are known).
    dropped_secs: i64,
}

#[cfg_attr(
    not(feature = "sqlite"),
    allow(dead_code, reason = "used by the SQLite engine's streamed reads")
)]
impl ValueFold {
    /// Fold the next value whose interval since the previous reading is `dt` seconds (the fold
    /// of a chunk whose readings are not evenly spaced, with `step` `None`): never refuses.
    #[inline(always)]
    pub(crate) fn add_timed(&mut self, v: f64, dt: i64) -> bool {
        // As `add` with a drop allowed, its interval counted here; with masks, not branches
        // (a temperature goes down half the time, and a branch on it mispredicts).
        let up = v >= self.prev; // not `v >= prev` (a NaN too) is a drop without a rollover rule
        let keep = u64::from(up).wrapping_neg();
        let rise = v - self.prev;
        let (wrap, no_rule) = match self.rollover {
            Some(r) => (r - self.prev + v, 0u64),
            None => (0.0, u64::MAX),
        };
        self.consumption += f64::from_bits((rise.to_bits() & keep) | (wrap.to_bits() & !keep));
        let reset = (!keep & no_rule) as i64;
        self.drops += reset & 1;
        self.dropped_secs += dt & reset;
        self.prev = v;
        self.count += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        true
    }

    /// Fold the next value; `false` (and the fold must be dropped) on a counter drop that needs
    /// its time.
    #[inline(always)]
    pub(crate) fn add(&mut self, v: f64) -> bool {
        let up = v >= self.prev;
        let reset = !up && self.rollover.is_none();
        if reset && self.step.is_none() {
            return false;
        }
        // Written to compile without a branch (a temperature goes down half the time). Adding
        // +0.0 for a reset leaves the consumption unchanged, as pushing does: it starts at +0.0
        // and a sum is -0.0 only when both terms are.
        let rise = v - self.prev;
        let wrap = match self.rollover {
            Some(r) => r - self.prev + v,
            None => 0.0,
        };
        let keep = u64::from(up).wrapping_neg();
        self.consumption += f64::from_bits((rise.to_bits() & keep) | (wrap.to_bits() & !keep));
        // A reset or meter replacement: no consumption, no covered time, one reset.
        self.drops += i64::from(reset);
        self.prev = v;
        self.count += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        true
    }
}

/// Aggregate one channel of a store over `[from, to)` into `g` bins of `tz`.
///
/// Readings up to two recording intervals outside the range are read too, so the counter
/// intervals crossing the range's edges are split correctly.
///
/// # Errors
/// Store errors.
///
/// ```
/// # #[cfg(not(feature = "sqlite"))] fn main() {} // the example uses the SQLite store
/// # #[cfg(feature = "sqlite")] fn main() {
/// use chrono::{TimeZone, Utc};
/// use reports::aggregate::{aggregate_channel, parse_tz, Aggregation, CounterRule, Granularity};
/// use reports::{ChannelSpec, ChannelKind, Sample, SqliteStore, Store, StoreOptions};
/// let mut store = SqliteStore::open_in_memory(StoreOptions::default()).unwrap();
/// let ch = store.ensure_channel(&ChannelSpec::new("m1", "energy", "kWh", ChannelKind::Counter)).unwrap();
/// let t0 = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap().timestamp();
/// let b: Vec<_> = (0..=96).map(|i| (ch.id, Sample::new(t0 + i * 900, i as f64))).collect();
/// store.write(&b).unwrap();
/// let from = Utc.timestamp_opt(t0, 0).unwrap();
/// let bins = aggregate_channel(&store, &ch, from, from + chrono::Duration::days(1),
///     Granularity::Hour, parse_tz("UTC").unwrap(), CounterRule::default()).unwrap();
/// assert_eq!(bins.len(), 24);
/// assert_eq!(bins[0].value(Aggregation::Delta), Some(4.0));
/// # }
/// ```
pub fn aggregate_channel(
    store: &dyn Store,
    channel: &Channel,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    g: Granularity,
    tz: Tz,
    rule: CounterRule,
) -> Result<Vec<BinStats>, Error> {
    let edges = bin_edges(from, to, g, tz);
    aggregate_edges(store, channel, edges, rule)
}

/// As [`aggregate_channel`] with explicit edges: at least two, never decreasing (a bin may be
/// empty, as [`bin_edges`] gives for an empty range).
///
/// # Errors
/// [`Error::BadEdges`] for fewer than two edges or a decreasing pair; store errors.
///
/// ```
/// # #[cfg(not(feature = "sqlite"))] fn main() {} // the example uses the SQLite store
/// # #[cfg(feature = "sqlite")] fn main() {
/// use reports::aggregate::{aggregate_edges, CounterRule};
/// use reports::{ChannelSpec, ChannelKind, SqliteStore, Store, StoreOptions};
/// let mut store = SqliteStore::open_in_memory(StoreOptions::default()).unwrap();
/// let ch = store.ensure_channel(&ChannelSpec::new("m1", "energy", "kWh", ChannelKind::Counter)).unwrap();
/// assert_eq!(aggregate_edges(&store, &ch, vec![0, 3600], CounterRule::default()).unwrap().len(), 1);
/// assert!(aggregate_edges(&store, &ch, vec![], CounterRule::default()).is_err());
/// # }
/// ```
pub fn aggregate_edges(
    store: &dyn Store,
    channel: &Channel,
    edges: Vec<i64>,
    rule: CounterRule,
) -> Result<Vec<BinStats>, Error> {
    let (lo, hi) = check_edges(&edges)?;
    let margin = 2 * channel.spec.interval.seconds();
    let mut agg = Aggregator::new(edges, rule);
    store.aggregate_into(
        channel.id,
        lo.saturating_sub(margin),
        hi.saturating_add(margin + 1),
        &mut agg,
    )?;
    Ok(agg.finish())
}

/// The first and last of `edges`, when they can be aggregated: at least two, never decreasing.
fn check_edges(edges: &[i64]) -> Result<(i64, i64), Error> {
    let (Some(&lo), Some(&hi)) = (edges.first(), edges.last()) else {
        return Err(Error::BadEdges {
            found: "none".into(),
        });
    };
    if edges.len() < 2 {
        return Err(Error::BadEdges {
            found: format!("one edge ({lo})"),
        });
    }
    if let Some(w) = edges.windows(2).find(|w| w[1] < w[0]) {
        return Err(Error::BadEdges {
            found: format!("{} then {}", w[0], w[1]),
        });
    }
    Ok((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paris() -> Tz {
        parse_tz("Europe/Paris").unwrap()
    }
    fn utc(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn dst_days_last_23_and_25_hours() {
        let tz = paris();
        let e = bin_edges(
            utc(2026, 3, 27, 12),
            utc(2026, 3, 30, 12),
            Granularity::Day,
            tz,
        );
        let lens: Vec<i64> = e.windows(2).map(|w| (w[1] - w[0]) / 3600).collect();
        assert_eq!(lens, vec![24, 24, 23, 24]);
        let e = bin_edges(
            utc(2026, 10, 24, 12),
            utc(2026, 10, 26, 12),
            Granularity::Day,
            tz,
        );
        let lens: Vec<i64> = e.windows(2).map(|w| (w[1] - w[0]) / 3600).collect();
        assert_eq!(lens, vec![24, 25, 24]);
        // Hours of the 25-hour day: 25 bins, each an hour.
        let day = e[1];
        let h = bin_edges(
            DateTime::from_timestamp(day, 0).unwrap(),
            DateTime::from_timestamp(e[2], 0).unwrap(),
            Granularity::Hour,
            tz,
        );
        assert_eq!(h.len() - 1, 25);
    }

    #[test]
    fn dst_day_consumption_counts_real_hours() {
        // 1 kWh per quarter hour, all year round: a 23-hour day consumes 92, a 25-hour day 100.
        let tz = paris();
        let t0 = utc(2026, 3, 27, 0).timestamp();
        let s: Vec<Sample> = (0..(240 * 96))
            .map(|i| Sample::new(t0 + i * 900, i as f64))
            .collect();
        let edges = bin_edges(
            utc(2026, 3, 28, 0),
            utc(2026, 10, 27, 0),
            Granularity::Day,
            tz,
        );
        let mut a = Aggregator::new(edges, CounterRule::default());
        a.push(&s);
        let bins = a.finish();
        let by_day = |m, d| {
            let start =
                local_midnight(NaiveDate::from_ymd_opt(2026, m, d).unwrap(), tz).timestamp();
            bins.iter()
                .find(|b| b.start == start)
                .unwrap()
                .value(Aggregation::Delta)
                .unwrap()
        };
        assert_eq!(by_day(3, 28), 96.0);
        assert_eq!(by_day(3, 29), 92.0);
        assert_eq!(by_day(10, 25), 100.0);
        assert_eq!(by_day(10, 26), 96.0);
    }

    #[test]
    fn calendar_bins_start_at_local_midnight() {
        let tz = paris();
        let t = utc(2026, 5, 13, 10);
        let local = |g| {
            bin_start(t, g, tz)
                .with_timezone(&tz)
                .naive_local()
                .to_string()
        };
        assert_eq!(local(Granularity::QuarterHour), "2026-05-13 12:00:00");
        assert_eq!(local(Granularity::Day), "2026-05-13 00:00:00");
        assert_eq!(local(Granularity::Week), "2026-05-11 00:00:00");
        assert_eq!(local(Granularity::Month), "2026-05-01 00:00:00");
        assert_eq!(local(Granularity::Quarter), "2026-04-01 00:00:00");
        assert_eq!(local(Granularity::Year), "2026-01-01 00:00:00");
        let e = bin_edges(
            utc(2026, 1, 1, 0),
            utc(2026, 12, 31, 0),
            Granularity::Quarter,
            tz,
        );
        assert_eq!(e.len(), 5);
        // Quarter-hours in a half-hour-offset zone align to the local clock.
        let india = parse_tz("Asia/Kolkata").unwrap();
        let q = bin_start(utc(2026, 5, 13, 10), Granularity::Hour, india).with_timezone(&india);
        assert_eq!(q.naive_local().to_string(), "2026-05-13 15:00:00");
    }

    #[test]
    fn functions_and_gaps() {
        let mut a = Aggregator::new(vec![0, 100, 200, 300], CounterRule::default());
        a.push(&[
            Sample::new(10, 5.0),
            Sample::new(20, 1.0),
            Sample::new(90, 3.0),
            Sample::new(250, 7.0),
        ]);
        let b = a.finish();
        assert_eq!(b[0].value(Aggregation::Mean), Some(3.0));
        assert_eq!(b[0].value(Aggregation::Min), Some(1.0));
        assert_eq!(b[0].value(Aggregation::Max), Some(5.0));
        assert_eq!(b[0].value(Aggregation::Sum), Some(9.0));
        assert_eq!(b[0].value(Aggregation::Last), Some(3.0));
        assert_eq!(b[1].value(Aggregation::Mean), None, "a gap is not zero");
        assert_eq!(b[2].value(Aggregation::Last), Some(7.0));
    }

    #[test]
    fn counter_reset_replacement_and_rollover() {
        let s = [
            Sample::new(0, 100.0),
            Sample::new(10, 110.0),
            Sample::new(20, 3.0),
            Sample::new(30, 8.0),
            Sample::new(40, 8.0),
        ];
        let mut a = Aggregator::new(vec![0, 15, 40], CounterRule::default());
        a.push(&s);
        let b = a.finish();
        assert_eq!(b[0].value(Aggregation::Delta), Some(10.0));
        assert_eq!(
            b[1].value(Aggregation::Delta),
            Some(5.0),
            "the dropping interval counts nothing"
        );
        assert_eq!(b[1].resets, 1);
        let mut a = Aggregator::new(
            vec![0, 40],
            CounterRule {
                rollover: Some(1000.0),
            },
        );
        a.push(&[Sample::new(0, 990.0), Sample::new(10, 5.0)]);
        assert_eq!(a.finish()[0].value(Aggregation::Delta), Some(15.0));
    }

    #[test]
    fn counter_gap_is_split_by_time() {
        let mut a = Aggregator::new(vec![0, 100, 200, 300], CounterRule::default());
        a.push(&[Sample::new(50, 0.0), Sample::new(250, 20.0)]);
        let b = a.finish();
        let d: Vec<_> = b.iter().map(|b| b.value(Aggregation::Delta)).collect();
        assert_eq!(d, vec![Some(5.0), Some(10.0), Some(5.0)]);
        let mut a = Aggregator::new(vec![0, 100, 200], CounterRule::default());
        a.push(&[Sample::new(0, 0.0), Sample::new(50, 1.0)]);
        assert_eq!(
            a.finish()[1].value(Aggregation::Delta),
            None,
            "no interval, no value"
        );
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn bad_edges_are_a_typed_error_not_a_panic() {
        let mut store = crate::SqliteStore::open_in_memory(Default::default()).unwrap();
        let ch = store
            .ensure_channel(&crate::ChannelSpec::new(
                "m",
                "e",
                "kWh",
                ChannelKind::Counter,
            ))
            .unwrap();
        for (edges, found) in [
            (vec![], "none"),
            (vec![5], "one edge (5)"),
            (vec![0, 3600, 1800], "3600 then 1800"),
        ] {
            match aggregate_edges(&store, &ch, edges.clone(), CounterRule::default()) {
                Err(Error::BadEdges { found: f }) => assert_eq!(f, found, "{edges:?}"),
                other => panic!("{edges:?}: {other:?}"),
            }
        }
        // An empty bin (equal edges) is allowed, as bin_edges gives for an empty range.
        let bins = aggregate_edges(&store, &ch, vec![7, 7], CounterRule::default()).unwrap();
        assert_eq!(bins.len(), 1);
        assert_eq!(bins[0].value(Aggregation::Mean), None);
    }
}
