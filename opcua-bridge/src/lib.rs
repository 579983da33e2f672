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

pub mod model;
#[cfg(feature = "server")]
pub mod server;
pub mod unit;

pub use model::{
    Access, ApplyReport, Area, Device, Folder, FolderKind, ModelError, Point, PointEntry,
    PointState, PointTree, PointValue, Quality, Range, Rejection, Site, Update, ValueKind,
};
pub use unit::{UNECE_NAMESPACE_URI, Unit, UnknownUnit};
