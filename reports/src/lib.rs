//! # `reports`
//!
//! Time-series store (embedded SQLite), aggregation, report kinds, tariffs and costs, CSV export,
//! trends and EN 50160 weekly compliance.
//!
//! Time is UTC inside (Unix seconds in the store); report periods and tariff hours use a named
//! time zone (chrono-tz) at the edges.
//!
//! Table of contents:
//! - [`codec`]: the compressed chunk encoding (delta-of-delta times, scaled-integer or XOR values).
//! - [`store`]: channels and the [`Store`] trait; [`sqlite`]: the default SQLite engine;
//!   [`AsyncStore`] (feature `tokio`, default on): the store for async callers.
#![forbid(unsafe_code)]

pub mod aggregate;
#[cfg(feature = "tokio")]
mod async_store;
pub mod building;
#[cfg(feature = "charts")]
pub mod chart;
pub mod codec;
pub mod en50160;
mod error;
pub mod export;
#[cfg(feature = "charts")]
mod raster;
pub mod report;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod store;
pub mod tariff;
#[cfg(feature = "testing")]
pub mod testing;
// Byte-identical in every crate (see its module doc).
mod toml_file;
mod tz;

#[cfg(feature = "tokio")]
pub use async_store::AsyncStore;
pub use codec::Sample;
pub use error::Error;
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteStore, StoreOptions};
pub use store::{
    Channel, ChannelId, ChannelKind, ChannelSpec, RecordingInterval, Retention, Store, StoreStats,
    WriteReport,
};
