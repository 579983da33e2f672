#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
//!
//! # Modules
//!
//! | module | what it holds |
//! |---|---|
//! | [`model`] | the point tree (site / area / device / point), values, ranges, quality, batch updates |
//! | [`unit`](mod@unit) | workspace unit symbols and their UNECE codes for `EUInformation` |
//! | `server` | the OPC UA server on async-opcua (feature `server`, default on) |
//! | `client` | the OPC UA client gateway: an external server's nodes feed points, with units, quality, reconnection and setpoint writes (feature `client`) |

#[cfg(feature = "client")]
pub mod client;
pub mod model;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "client")]
mod toml_file;
pub mod unit;

pub use model::{
    Access, ApplyReport, Area, Device, Folder, FolderKind, ModelError, Point, PointEntry,
    PointState, PointTree, PointValue, Quality, Range, Rejection, Site, Update, ValueKind,
};
pub use unit::{UNECE_NAMESPACE_URI, Unit, UnknownUnit};
