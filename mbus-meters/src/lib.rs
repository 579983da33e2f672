//! # `mbus-meters`
//!
//! EN 13757 M-Bus: frame and record parsing, encoding, meter profiles, the M-Bus master
//! (serial and TCP) and readout scheduling.
//!
//! Decoding is pure and synchronous (no tokio); the master will sit behind a cargo feature.
//!
//! ## Contents
//!
//! | module | what |
//! |---|---|
//! | [`link`] | EN 13757-2 link layer: single character, short, control and long frames; C and A fields; checksum |
//! | [`app`] | EN 13757-3 application layer: CI field, long and short headers, manufacturer, medium, status, fixed data structure, application errors |
//! | [`record`] | data records: DIF/DIFE, VIF tables (primary, 0xFD, 0xFB, plain text, manufacturer), combinable VIFE, data decoding, units, dates |
//! | [`encode`] | building frames and records (for simulators and tests) |
//! | [`owned`] | the owned, serde form of a decoded frame (the `mbus-decode` JSON) |
//! | [`hex`] | hex text in and out |
//! | [`error`] | the error type; every decoding error names its byte offset |
//!
//! | [`timing`] | EN 13757-2 timeouts for a baud rate |
//! | [`sim`] | a simulated bus of slaves built from the encoder (pure request → answer) |
//! | `master` | (cargo feature `master`, tokio) the M-Bus master over serial lines and TCP, primary scan, secondary addressing and wildcard search |
//! | [`schedule`] | the readout scheduler: per-meter minimum interval, readouts spread over the cycle (pure, clock-free) |
//! | [`profile`] | meter profiles: records of known meters mapped to standard channels |
//!
//! The default features decode only; `master` adds tokio and tokio-serial.
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
//! ```
//! use mbus_meters::{Frame, Quantity, Unit, Value};
//!
//! let hex = "68 1F 1F 68 08 00 72 31 77 67 17 2D 2C 01 02 00 00 00 00 2F 2F \
//!            04 83 3B 88 13 00 00 2F 2F 2F 2F 2F 2F 2F 00 16";
//! let bytes = mbus_meters::hex::parse_hex(hex)?;
//! let frame = Frame::parse(&bytes)?;
//! for record in frame.records() {
//!     let record = record?;
//!     assert_eq!(record.quantity(), Quantity::Energy);
//!     assert_eq!(record.unit(), Unit::WattHour);
//!     assert_eq!(record.value(), Value::Number(5000.0));
//! }
//! let owned = mbus_meters::decode(&bytes)?;
//! assert_eq!(owned.header.unwrap().manufacturer.as_deref(), Some("KAM"));
//!
//! // truncated input is an error naming the offset, never a panic
//! let err = Frame::parse(&bytes[..20]).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "truncated at 4: expected 33 byte(s) of frame body (C, A, CI, user data, checksum, stop), found 16"
//! );
//! # Ok::<(), mbus_meters::Error>(())
//! ```
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

pub use app::{Application, Ci, Header, Id, Manufacturer, Medium, SecondaryAddress, Status};
pub use error::Error;
pub use frame::Frame;
pub use link::{Address, Control, FrameKind};
pub use owned::{
    OwnedFrame, OwnedHeader, OwnedRecord, OwnedRecordError, OwnedValue, decode, decode_with,
};
pub use record::{
    ByteOrder, DataField, Date, DateTime, DecodeMode, Function, Invalid, Modifier, Quantity,
    RawData, Record, Records, Recurring, Text, TimeOfDay, Unit, Value, VifTable,
};
