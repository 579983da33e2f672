//! # `ecl-appkeys`
//!
//! Danfoss ECL Comfort application keys: catalogue, detection, firmware rules, parameter maps (built on `modbus-devices` register maps), schedules and data relay.
//!
//! The only library allowed to depend on another (`modbus-devices`).
//!
//! This crate is part of the emkit workspace (see the repository's `README.md` and
//! `ARCHITECTURE.md`). Its capability is built by its own issue; until then it only
//! states its purpose and exports nothing.
#![forbid(unsafe_code)]
