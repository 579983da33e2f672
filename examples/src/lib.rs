//! Shared glue for the emkit example binaries (conversions between crates live here).
#![forbid(unsafe_code)]

pub mod alarm_templates;
pub mod catalogue_json;
pub mod cli;
pub mod demo;
pub mod gateway;
pub mod opcua_demo;
pub mod opcua_feed;
pub mod pipeline;
pub mod read_json;
pub mod scan;
pub mod simulation;
pub mod site;
mod toml_file;

/// The repository README's Rust snippets, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
