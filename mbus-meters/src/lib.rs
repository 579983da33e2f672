//! # `mbus-meters`
//!
//! EN 13757 M-Bus: frame and record parsing, encoding, meter profiles, the M-Bus master (serial and TCP) and readout scheduling.
//!
//! Decoding is pure and synchronous (no tokio); the master sits behind a cargo feature.
//!
//! This crate is part of the emkit workspace (see the repository's `README.md` and
//! `ARCHITECTURE.md`). Its capability is built by its own issue; until then it only
//! states its purpose and exports nothing.
#![forbid(unsafe_code)]
