//! Deterministic, realistic meter data for tests and benches (feature `testing`).
//!
//! This module is for tests: it is not part of the crate's stable API and not covered by
//! semver; it exists only with the `testing` cargo feature.
//!
//! Four channel profiles a building meter typically records every 15 minutes: an electricity
//! index in kWh with 0.01 kWh resolution (office load profile with noise), a heat index in kWh
//! with 1 kWh resolution (weather-driven), a water index in m3 with 1 litre resolution
//! (sporadic draws), and a room temperature in degC with 0.1 degC resolution.

use crate::codec::Sample;
use crate::store::{ChannelKind, ChannelSpec};

/// The four profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Electricity index, kWh, 0.01 resolution.
    Electricity,
    /// Heat index, kWh, 1 kWh resolution.
    Heat,
    /// Water index, m3, 0.001 resolution.
    Water,
    /// Room temperature, degC, 0.1 resolution.
    Temperature,
}

impl Profile {
    /// All profiles, in channel order.
    pub const ALL: [Profile; 4] = [
        Profile::Electricity,
        Profile::Heat,
        Profile::Water,
        Profile::Temperature,
    ];

    /// The channel spec for `device`.
    pub fn spec(self, device: &str) -> ChannelSpec {
        match self {
            Profile::Electricity => ChannelSpec::new(device, "energy", "kWh", ChannelKind::Counter),
            Profile::Heat => ChannelSpec::new(device, "heat", "kWh", ChannelKind::Counter),
            Profile::Water => ChannelSpec::new(device, "volume", "m3", ChannelKind::Counter),
            Profile::Temperature => {
                ChannelSpec::new(device, "temperature", "degC", ChannelKind::Instantaneous)
            }
        }
    }
}

/// A small deterministic generator (xorshift64*).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator (a zero seed is replaced).
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// Next value in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A stateful generator of one channel's readings.
#[derive(Debug, Clone)]
pub struct Generator {
    profile: Profile,
    rng: Rng,
    index: i64,
    temp: f64,
}

impl Generator {
    /// A generator for `profile`, seeded (e.g. with the meter number).
    pub fn new(profile: Profile, seed: u64) -> Self {
        let mut rng = Rng::new(seed.wrapping_add(profile as u64 * 7919));
        let index = (rng.next_f64() * 1e7) as i64;
        Generator {
            profile,
            rng,
            index,
            temp: 20.0,
        }
    }

    /// The reading at Unix second `t` (call with increasing `t`, one call per interval).
    pub fn next(&mut self, t: i64) -> Sample {
        let hour = (t.rem_euclid(86_400)) as f64 / 3600.0;
        let weekday = (t.div_euclid(86_400) + 3).rem_euclid(7) < 5; // 1970-01-01 was a Thursday
        let office = weekday && (7.0..19.0).contains(&hour);
        let season = ((t as f64 / (365.25 * 86_400.0)) * std::f64::consts::TAU).cos(); // +1 in winter
        match self.profile {
            Profile::Electricity => {
                let kw = if office { 40.0 } else { 8.0 } * (0.9 + 0.2 * self.rng.next_f64());
                self.index += (kw * 0.25 * 100.0).round() as i64; // 0.01 kWh units
                Sample::new(t, self.index as f64 / 100.0)
            }
            Profile::Heat => {
                let kw = (25.0 + 20.0 * season).max(0.0)
                    * if office { 1.2 } else { 0.8 }
                    * (0.8 + 0.4 * self.rng.next_f64());
                self.index += (kw * 0.25).round() as i64; // whole kWh
                Sample::new(t, self.index as f64)
            }
            Profile::Water => {
                if office && self.rng.next_f64() < 0.3 {
                    self.index += (self.rng.next_f64() * 200.0) as i64; // litres
                }
                Sample::new(t, self.index as f64 / 1000.0)
            }
            Profile::Temperature => {
                let target = if office { 21.0 } else { 17.0 };
                self.temp += (target - self.temp) * 0.1 + (self.rng.next_f64() - 0.5) * 0.2;
                Sample::new(t, (self.temp * 10.0).round() / 10.0)
            }
        }
    }
}
