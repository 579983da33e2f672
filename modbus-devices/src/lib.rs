#![doc = include_str!("../README.md")]
//!
//! ## Modules
//!
//! | module | what |
//! |---|---|
//! | [`register`] | where a value lives (function code, 0-based address, type, orders, scale, sentinels) and the codec |
//! | [`value`] | decoded values, unit symbols, readings with their quality |
//! | [`catalogue`] | products (references, signature, services, parameters, alarm templates, read limits), built-in and user files |
//! | [`catalogue::file`] | the TOML form of catalogue files, as read |
//! | [`catalogue::format`](mod@catalogue::format) | the catalogue file format, with an annotated example |
//! | [`device`] | device instances (name, product, bus, address), bus settings with the reference defaults, multi-create |
//! | [`plan`] | read planning: the requests of a poll cycle within each product's limits, and decoding their responses |
//! | [`plan::wire`] | the RTU wire-time model the planner minimises |
#![cfg_attr(
    feature = "io",
    doc = "| [`poll`] | (feature `io`) the async poller (TCP, RTU, RTU over TCP, TLS): readings, device states, bus statistics, identification, parameter writes |",
    doc = "| [`poll::tls`] | (feature `io`) Modbus/TCP Security: client and server TLS configuration from PEM files |",
    doc = "| [`gateway`] | (feature `io`) the Modbus gateway: Modbus/TCP and TLS clients reach RTU and TCP buses by unit id, with a fair queue, gateway exceptions 0x0A/0x0B, a read cache, read-only clients and statistics |",
    doc = "| [`scan`] | (feature `io`) the Modbus address scan: which unit ids of a bus answer and which catalogue product each is (signatures, FC43 device identification), with progress |",
    doc = "| [`sim`] | (feature `io`) the device simulator: any product's register map with coherent, time-driven values over TCP, RTU and RTU over TCP, routed by unit id, with fault injection |"
)]
#![cfg_attr(
    not(feature = "io"),
    doc = "| `poll` | (feature `io`) the async poller (TCP, RTU, RTU over TCP, TLS): readings, device states, bus statistics, identification, parameter writes |",
    doc = "| `poll::tls` | (feature `io`) Modbus/TCP Security: client and server TLS configuration from PEM files |",
    doc = "| `gateway` | (feature `io`) the Modbus gateway: Modbus/TCP and TLS clients reach RTU and TCP buses by unit id, with a fair queue, gateway exceptions 0x0A/0x0B, a read cache, read-only clients and statistics |",
    doc = "| `scan` | (feature `io`) the Modbus address scan: which unit ids of a bus answer and which catalogue product each is (signatures, FC43 device identification), with progress |",
    doc = "| `sim` | (feature `io`) the device simulator: any product's register map with coherent, time-driven values over TCP, RTU and RTU over TCP, routed by unit id, with fault injection |"
)]
//! | [`error`] | the typed errors |
#![forbid(unsafe_code)]

pub mod catalogue;
pub mod device;
pub mod error;
#[cfg(feature = "io")]
pub mod gateway;
pub mod plan;
#[cfg(feature = "io")]
pub mod poll;
pub mod register;
#[cfg(feature = "io")]
mod rtu_crc;
#[cfg(feature = "io")]
pub mod scan;
#[cfg(feature = "io")]
pub mod sim;
mod toml_file;
pub mod value;

pub use catalogue::{Catalogue, Product, Service};
pub use error::{CatalogueError, CodecError, DeviceError};
pub use register::{DataType, FunctionCode, RegisterDef};
pub use value::{Quality, Reading, Unit, Value};
