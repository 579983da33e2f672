//! Shared glue for the emkit example binaries (conversions between crates live here).
#![forbid(unsafe_code)]
