//! # `alarms`
//!
//! Threshold / pre-alarm / hysteresis / delay alarm engine, binary and offline alarms, hierarchy, acknowledgement, priorities and notification routing.
//!
//! The engine is deterministic and clock-free: callers feed samples and ticks.
//!
//! This crate is part of the emkit workspace (see the repository's `README.md` and
//! `ARCHITECTURE.md`). Its capability is built by its own issue; until then it only
//! states its purpose and exports nothing.
#![forbid(unsafe_code)]
