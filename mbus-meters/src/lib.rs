#![doc = include_str!("../README.md")]
//!
//! ## Modules
//!
//! | module | what |
//! |---|---|
//! | [`link`] | EN 13757-2 link layer: single character, short, control and long frames; C and A fields; checksum |
//! | [`app`] | EN 13757-3 application layer: CI field, long and short headers, manufacturer, medium, status, fixed data structure, application errors |
//! | [`record`] | data records: DIF/DIFE, VIF tables (primary, 0xFD, 0xFB, plain text, manufacturer), combinable VIFE, data decoding, units, dates |
//! | [`encode`] | building frames and records (for simulators and tests) |
//! | [`owned`] | the owned, serde form of a decoded frame (the `mbus-decode` JSON) |
//! | [`hex`] | hex text in and out |
//! | [`error`] | the error types: [`DecodeError`] (every variant names its byte offset), `MasterError`, and [`Error`] that holds them |
//! | [`timing`] | EN 13757-2 timeouts for a baud rate |
//! | [`sim`] | a simulated bus of slaves built from the encoder (pure request → answer) |
//! | `master` | (cargo feature `master`, tokio) the M-Bus master over serial lines and TCP, primary scan, secondary addressing and wildcard search |
//! | [`schedule`] | the readout scheduler: per-meter minimum interval, readouts spread over the cycle (pure, clock-free) |
//! | [`profile`] | meter profiles: records of known meters mapped to standard channels, loaded from TOML |
//!
//! ## Decoding
//!
//! [`Frame::parse`] checks a frame and borrows it; [`Frame::records`] walks its records
//! without allocating; each [`Record`] gives its [`Value`] scaled to a base [`Unit`]
//! (Wh or J, m3, kg, W, J/h, m3/h, kg/h, degC, K, bar, s, V, A, HCA), dates as ISO 8601.
//! [`decode`] does all of it into an [`OwnedFrame`].
//!
//! ## Strict and lenient decoding
//!
//! Real meters send records that break a rule of EN 13757-3 inside otherwise valid frames
//! (checksum, lengths and header right). [`DecodeMode`] says what to do with them:
//!
//! - [`DecodeMode::Lenient`], **the default** ([`Frame::records`], [`decode`],
//!   [`OwnedFrame::from_frame`], the master): every record that can be delimited is
//!   returned. A record whose VIF is an extension-table code (0x7B, 0x7D) without its VIFE
//!   comes out with [`Quantity::Unknown`], its raw value and its VIF, as libmbus reports it;
//!   a record that breaks a limit (more than 10 DIFE or VIFE) is a typed `Err` at its offset
//!   (in [`OwnedFrame::errors`] for the owned form) and the records after it are read;
//!   damage that hides the next record boundary (truncation, reserved DIF or LVAR) ends the
//!   records with its error, keeping those before it.
//! - [`DecodeMode::Strict`] ([`Frame::records_with`], [`decode_with`]): the first bad
//!   record is the error of the whole frame. [`Frame::validate`] and the encoder's
//!   `Telegram::from_frame` are always strict.
//!
//! Why lenient by default: libmbus decodes the frames of the first kind (its parser
//! delimits records by DIF and VIF bytes alone and only its unit lookup fails), and a user
//! reading a heat meter wants its energy register even when one other record is odd. No
//! record is lost silently: each one that is not decoded is an error the caller sees. A
//! caller that must refuse any non-conforming frame (a conformance tester, an encoder round
//! trip) asks for `Strict`.
//!
//! A record whose DIF function field is 11, "value during error state", is a value like
//! any other, with [`Function::Error`]; [`Value::Invalid`] (`null` in JSON) is kept for data
//! the meter marks invalid (BCD error digits, invalid date bits).
//!
#![forbid(unsafe_code)]

pub mod app;
pub mod encode;
pub mod error;
mod frame;
pub mod hex;
pub mod link;
#[cfg(feature = "master")]
pub mod master;
pub mod owned;
mod parse;
pub mod profile;
pub mod record;
pub mod schedule;
pub mod sim;
pub mod timing;
// Byte-identical in every crate (see its module doc); not reformatted here.
mod toml_file;

pub use app::{Application, Ci, Header, Id, Manufacturer, Medium, SecondaryAddress, Status};
#[cfg(feature = "master")]
pub use error::MasterError;
pub use error::{DecodeError, Error};
pub use frame::Frame;
pub use link::{Address, Control, FrameKind};
pub use owned::{
    OwnedFrame, OwnedHeader, OwnedRecord, OwnedRecordError, OwnedValue, decode, decode_with,
};
pub use record::unit::UnknownUnit;
pub use record::{
    ByteOrder, DataField, Date, DateTime, DecodeMode, Function, Invalid, Modifier, Quantity,
    RawData, Record, Records, Recurring, Text, TimeOfDay, Unit, Value, VifTable,
};
