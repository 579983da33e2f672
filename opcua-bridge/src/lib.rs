//! # `opcua-bridge`
//!
//! OPC UA server exposing a live point tree, and an OPC UA client gateway feeding points.
//!
//! Points are named `device/service` and carry their unit symbol.
//!
//! This crate is part of the emkit workspace (see the repository's `README.md` and
//! `ARCHITECTURE.md`). Its capability is built by its own issue; until then it only
//! states its purpose and exports nothing.
#![forbid(unsafe_code)]
