//! # `reports`
//!
//! Time-series store (embedded SQLite), aggregation, report kinds, tariffs and costs, CSV export, trends and EN 50160 weekly compliance.
//!
//! Time is UTC inside; report periods and tariff hours use a named time zone.
//!
//! This crate is part of the emkit workspace (see the repository's `README.md` and
//! `ARCHITECTURE.md`). Its capability is built by its own issue; until then it only
//! states its purpose and exports nothing.
#![forbid(unsafe_code)]
