//! # `modbus-devices`
//!
//! Modbus devices as data: the register-map model and value codec, the product catalogue,
//! device instances and bus settings, read planning, async polling and simulation.
//!
//! | module | concept |
//! |---|---|
//! | [`register`] | where a value lives (function code, 0-based address, type, orders, scale, sentinels) and the codec |
//! | [`value`] | decoded values, unit symbols, readings with quality |
//! | [`catalogue`] | products (references, signature, services, parameters, alarm templates, read limits), built-in and user files; the file format with an annotated example is [`catalogue::format`](mod@catalogue::format) |
//! | [`device`] | device instances (name, product, bus, address), bus settings with the reference defaults, multi-create |
//! | [`plan`] | read planning: requests of a poll cycle within each product's limits, RTU wire-time model, decoding the responses |
//! | [`poll`] | the async poller (TCP, RTU, RTU over TCP, TLS): readings, device states, bus statistics, identification, parameter writes (feature `io`) |
//! | [`sim`] | the device simulator: any product's register map with coherent, time-driven values over TCP, RTU and RTU over TCP, routed by unit id, with fault injection (feature `io`) |
//! | [`error`] | the typed errors |
#![forbid(unsafe_code)]

pub mod catalogue;
pub mod device;
pub mod error;
pub mod plan;
#[cfg(feature = "io")]
pub mod poll;
pub mod register;
#[cfg(feature = "io")]
mod rtu_crc;
#[cfg(feature = "io")]
pub mod sim;
mod toml_file;
pub mod value;

pub use catalogue::{Catalogue, Product, Service};
pub use error::{CatalogueError, CodecError, DeviceError};
pub use register::{DataType, FunctionCode, RegisterDef};
pub use value::{Quality, Reading, Unit, Value};
