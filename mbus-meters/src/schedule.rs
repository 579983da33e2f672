//! The readout scheduler: pure, clock-free logic (times are [`Duration`]s since any epoch the
//! caller chooses; nothing here reads a clock or sleeps).
//!
//! Every meter gets a fixed slot in the readout cycle: with `n` meters, meter `i` (in the
//! order given) is read at `start + i * cycle / n + k * cycle`, so that readouts spread evenly
//! over the cycle instead of bursting at its start. A meter with a minimum interval (a
//! battery-powered meter that may be read only so often, for example once a day) keeps its
//! slot but skips the cycles that would come too early: after an attempt at time `t`, its next
//! readout is its first slot at or after `t + min_interval` and strictly after `t`.
//!
//! ```
//! use std::time::Duration;
//! use mbus_meters::schedule::{MeterPolicy, Scheduler};
//!
//! let hour = Duration::from_secs(3600);
//! let mut s = Scheduler::new(Duration::ZERO, hour, vec![
//!     ("mains heat meter", MeterPolicy::default()),
//!     ("battery water meter", MeterPolicy::min_interval(24 * hour)),
//! ]);
//! assert_eq!(s.due(Duration::ZERO), vec![&"mains heat meter"]);
//! assert_eq!(s.next_due(&"battery water meter"), Some(hour / 2));
//! s.completed(&"battery water meter", hour / 2);
//! // the next day, same slot
//! assert_eq!(s.next_due(&"battery water meter"), Some(24 * hour + hour / 2));
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How often one meter may be read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterPolicy {
    /// The shortest time between two readouts (zero: once per cycle).
    pub min_interval: Duration,
    /// When the meter was last read, if known (so a restart does not read a battery meter
    /// again too early).
    pub last_read: Option<Duration>,
}

impl MeterPolicy {
    /// A policy with a minimum interval.
    pub fn min_interval(min_interval: Duration) -> Self {
        MeterPolicy {
            min_interval,
            last_read: None,
        }
    }
}

#[derive(Clone, Debug)]
struct Entry<K> {
    key: K,
    policy: MeterPolicy,
    offset: Duration,
    next: Duration,
}

/// The readout plan of one bus.
#[derive(Clone, Debug)]
pub struct Scheduler<K> {
    start: Duration,
    cycle: Duration,
    entries: Vec<Entry<K>>,
}

impl<K: PartialEq> Scheduler<K> {
    /// A plan starting at `start` with readout cycle `cycle` (a zero cycle is taken as 1 s).
    pub fn new(start: Duration, cycle: Duration, meters: Vec<(K, MeterPolicy)>) -> Self {
        let cycle = if cycle.is_zero() {
            Duration::from_secs(1)
        } else {
            cycle
        };
        let n = meters.len().max(1) as u32;
        let entries = meters
            .into_iter()
            .enumerate()
            .map(|(i, (key, policy))| {
                let offset = cycle * i as u32 / n;
                let mut e = Entry {
                    key,
                    policy,
                    offset,
                    next: start + offset,
                };
                let earliest = match policy.last_read {
                    Some(last) => (last + policy.min_interval).max(start),
                    None => start,
                };
                e.next = slot_at_or_after(start, cycle, offset, earliest, None);
                e
            })
            .collect();
        Scheduler {
            start,
            cycle,
            entries,
        }
    }

    /// The cycle.
    pub fn cycle(&self) -> Duration {
        self.cycle
    }

    /// The meter's slot offset within the cycle.
    pub fn offset(&self, key: &K) -> Option<Duration> {
        self.entry(key).map(|e| e.offset)
    }

    fn entry(&self, key: &K) -> Option<&Entry<K>> {
        self.entries.iter().find(|e| &e.key == key)
    }

    /// When the meter is next due.
    pub fn next_due(&self, key: &K) -> Option<Duration> {
        self.entry(key).map(|e| e.next)
    }

    /// The meters due at `now`, earliest first (ties in the given order).
    pub fn due(&self, now: Duration) -> Vec<&K> {
        let mut due: Vec<&Entry<K>> = self.entries.iter().filter(|e| e.next <= now).collect();
        due.sort_by_key(|e| e.next);
        due.into_iter().map(|e| &e.key).collect()
    }

    /// The earliest time any meter is due (when to wake up next).
    pub fn next_wake(&self) -> Option<Duration> {
        self.entries.iter().map(|e| e.next).min()
    }

    /// Records a readout attempt (successful or not: a battery meter pays for both) at `at`,
    /// and moves the meter to its next allowed slot.
    pub fn completed(&mut self, key: &K, at: Duration) {
        let (start, cycle) = (self.start, self.cycle);
        if let Some(e) = self.entries.iter_mut().find(|e| &e.key == key) {
            e.policy.last_read = Some(at);
            e.next = slot_at_or_after(start, cycle, e.offset, at + e.policy.min_interval, Some(at));
        }
    }
}

/// The first `start + offset + k * cycle` (k ≥ 0) that is ≥ `earliest` and > `after`.
fn slot_at_or_after(
    start: Duration,
    cycle: Duration,
    offset: Duration,
    earliest: Duration,
    after: Option<Duration>,
) -> Duration {
    let first = start + offset;
    let c = cycle.as_nanos();
    let mut k = if earliest > first {
        (earliest - first).as_nanos().div_ceil(c)
    } else {
        0
    };
    let slot = |k: u128| first + Duration::from_nanos((k * c).min(u128::from(u64::MAX)) as u64);
    if let Some(after) = after {
        while slot(k) <= after {
            k += 1;
        }
    }
    slot(k)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    /// Runs the plan with a simulated clock stepping 1 s, reading every due meter at once
    /// (`delay` later, as a slow bus would); returns each meter's readout times.
    fn run(
        s: &mut Scheduler<usize>,
        n: usize,
        until: Duration,
        delay: Duration,
    ) -> Vec<Vec<Duration>> {
        let mut reads = vec![Vec::new(); n];
        let mut now = Duration::ZERO;
        while now < until {
            let due: Vec<usize> = s.due(now).into_iter().copied().collect();
            for k in due {
                reads[k].push(now + delay);
                s.completed(&k, now + delay);
            }
            now += Duration::from_secs(1);
        }
        reads
    }

    #[test]
    fn spreads_readouts_over_the_cycle() {
        let cycle = 15 * MIN;
        let meters = (0..5).map(|i| (i, MeterPolicy::default())).collect();
        let mut s = Scheduler::new(Duration::ZERO, cycle, meters);
        let reads = run(&mut s, 5, 4 * cycle, Duration::ZERO);
        for (i, r) in reads.iter().enumerate() {
            assert_eq!(r.len(), 4, "meter {i}: {r:?}");
            // its own slot, every cycle
            for (k, t) in r.iter().enumerate() {
                assert_eq!(*t, cycle * k as u32 + cycle * i as u32 / 5);
            }
        }
        // no two meters at the same time
        let mut all: Vec<_> = reads.concat();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 20);
    }

    #[test]
    fn honours_minimum_interval() {
        let cycle = 60 * MIN;
        let day = 24 * cycle;
        let meters = vec![
            (0, MeterPolicy::default()),
            (1, MeterPolicy::min_interval(day)),
            (2, MeterPolicy::min_interval(90 * MIN)),
            (
                3,
                MeterPolicy {
                    min_interval: day,
                    last_read: Some(Duration::ZERO),
                },
            ),
        ];
        let mut s = Scheduler::new(Duration::from_secs(7200), cycle, meters);
        let until = 3 * day;
        // a slow bus: each readout finishes 40 s after its slot
        let reads = run(&mut s, 4, until, Duration::from_secs(40));
        for (i, min) in [(0, Duration::ZERO), (1, day), (2, 90 * MIN), (3, day)] {
            for w in reads[i].windows(2) {
                assert!(w[1] - w[0] >= min, "meter {i}: {w:?}");
                assert!(
                    w[1] - w[0] >= cycle - Duration::from_secs(40),
                    "meter {i}: {w:?}"
                );
            }
        }
        // hourly meter: every cycle from the start at 2 h; 90-min meter: every second cycle
        assert_eq!(reads[0].len(), 70);
        assert_eq!(reads[2].len(), 35);
        // battery meters: once a day, each in its own slot
        assert_eq!(reads[1].len(), 3);
        assert_eq!(
            reads[1][0],
            Duration::from_secs(7200) + cycle / 4 + Duration::from_secs(40)
        );
        // meter 3 was read at 0 before the restart: not again before one day
        assert!(reads[3][0] >= day);
        assert_eq!(reads[3].len(), 2);
    }

    #[test]
    fn due_order_and_wake() {
        let s = Scheduler::new(
            Duration::from_secs(100),
            Duration::from_secs(30),
            vec![("a", MeterPolicy::default()), ("b", MeterPolicy::default())],
        );
        assert_eq!(s.next_wake(), Some(Duration::from_secs(100)));
        assert_eq!(s.due(Duration::from_secs(99)), Vec::<&&str>::new());
        assert_eq!(s.due(Duration::from_secs(200)), vec![&"a", &"b"]);
        assert_eq!(s.offset(&"b"), Some(Duration::from_secs(15)));
    }

    proptest::proptest! {
        /// Whatever the policies and however late the bus is: consecutive attempts on a meter
        /// are at least its minimum interval apart, and never two in one cycle slot; a meter
        /// is never starved (it is read within one cycle after its minimum interval).
        #[test]
        fn invariants(
            cycle_min in 1u32..30,
            policies in proptest::collection::vec(0u32..300, 1..6),
            delay in 0u64..50,
        ) {
            let cycle = MIN * cycle_min;
            let meters = policies
                .iter()
                .enumerate()
                .map(|(i, m)| (i, MeterPolicy::min_interval(MIN * *m)))
                .collect();
            let mut s = Scheduler::new(Duration::ZERO, cycle, meters);
            let delay = Duration::from_secs(delay);
            let until = MIN * 600;
            let reads = run(&mut s, policies.len(), until, delay);
            for (i, r) in reads.iter().enumerate() {
                let min = MIN * policies[i];
                proptest::prop_assert!(!r.is_empty());
                for w in r.windows(2) {
                    proptest::prop_assert!(w[1] - w[0] >= min);
                    proptest::prop_assert!(w[1] - w[0] + delay >= cycle);
                    proptest::prop_assert!(w[1] - w[0] <= min.max(cycle) + cycle + Duration::from_secs(1));
                }
            }
        }
    }
}
