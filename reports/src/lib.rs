#![doc = include_str!("../README.md")]
//!
//! ## Modules
//!
//! The main types are also at the crate root ([`Store`], [`SqliteStore`], [`AsyncStore`],
//! [`Sample`], [`ChannelSpec`], [`ChannelKind`], [`Error`]). Public modules:
//!
//! | module | what |
//! |---|---|
//! | [`store`] | channels (`device/service`, counter or instantaneous, recording interval) and the [`Store`] trait any engine implements; retention and statistics |
//! | [`sqlite`] | (feature `sqlite`, default) the default engine: one SQLite file in WAL mode, readings in compressed chunks per channel and time window |
//! | [`codec`] | the compressed chunk layout (versions 1 to 3, all read; version 3 written) and its typed decode errors |
//! | [`aggregate`] | calendar bins of a named time zone, counter consumption with resets, mean / min / max / last per bin |
//! | [`report`] | report kinds (standard, detailed, cost), periods and saved selections (presets) |
//! | [`tariff`] | tariffs and costs per energy source and local hour, from a TOML file |
//! | [`export`] | CSV export (separator, header, decimals, layouts, file-name templates) and an archive of the last files |
//! | `publish` | (feature `publish`) scheduled upload of exports: schedules, destination templates, folder, FTP/FTPS, SFTP/SCP, attempt log |
//! | [`chart`] | (feature `charts`, default) line, bar and pie charts as PNG and SVG |
//! | [`building`] | the building model: totals and distributions by usage, zone, source, panel and circuit; the 7-day trend |
//! | [`en50160`] | EN 50160 weekly compliance of the supply voltage, with the limits table as data |
//! | `testing` | (feature `testing`, for tests, not covered by semver) deterministic synthetic meter data |
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
#[cfg(feature = "publish")]
pub mod publish;
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
