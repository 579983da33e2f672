//! # `eiec`
//!
//! IEC 60364-8-1 (DIN VDE 0100-801) electrical installation efficiency classification.
//!
//! Criteria and class tables are data files, with their confidence stated.
//!
//! This crate is part of the emkit workspace (see the repository's `README.md` and
//! `ARCHITECTURE.md`). Its capability is built by its own issue; until then it only
//! states its purpose and exports nothing.
#![forbid(unsafe_code)]
