//! # `modbus-devices`
//!
//! Modbus devices as data: the register-map model and value codec, the product catalogue,
//! device instances and bus settings, read planning, async polling and simulation.
//!
//! | module | concept |
//! |---|---|
//! | [`register`] | where a value lives (function code, 0-based address, type, orders, scale, sentinels) and the codec |
//! | [`value`] | decoded values, unit symbols, readings with quality |
//! | [`catalogue`] | products (references, signature, services, parameters, alarm templates, read limits), built-in and user files |
//! | [`device`] | device instances (name, product, bus, address), bus settings with the reference defaults, multi-create |
//! | [`error`] | the typed errors |
#![forbid(unsafe_code)]

pub mod catalogue;
pub mod device;
pub mod error;
pub mod register;
pub mod value;

pub use catalogue::{Catalogue, Product, Service};
pub use error::{CatalogueError, CodecError, DeviceError};
pub use register::{DataType, FunctionCode, RegisterDef};
pub use value::{Quality, Reading, Unit, Value};
