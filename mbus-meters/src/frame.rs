//! The borrowed view of a whole frame: link layer, application layer and records.

use crate::DecodeError;
use crate::app::{self, Application, Ci, Header};
use crate::link::{self, Address, Control, FrameKind, LinkFrame};
use crate::record::{DecodeMode, Records};

/// A decoded frame, borrowing its bytes: the link layer (format, C, A, CI), the application
/// layer (header, fixed data, application error, ...) and an iterator over the records.
///
/// Parsing checks the link layer and the application header; the records are read as the
/// iterator from [`Frame::records`] advances, each without allocating.
///
/// ```
/// use mbus_meters::{Frame, Quantity, Unit, Value};
/// let bytes = mbus_meters::hex::parse_hex(
///     "68 1F 1F 68 08 00 72 31 77 67 17 2D 2C 01 02 00 00 00 00 2F 2F \
///      04 83 3B 88 13 00 00 2F 2F 2F 2F 2F 2F 2F 00 16",
/// )
/// .unwrap();
/// let frame = Frame::parse(&bytes).unwrap();
/// let header = frame.header().unwrap();
/// assert_eq!(header.id.unwrap().to_string(), "17677731");
/// assert_eq!(header.manufacturer.unwrap().to_string(), "KAM");
/// let record = frame.records().next().unwrap().unwrap();
/// assert_eq!(record.quantity(), Quantity::Energy);
/// assert_eq!(record.unit(), Unit::WattHour);
/// assert_eq!(record.value(), Value::Number(5000.0));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    bytes: &'a [u8],
    link: LinkFrame<'a>,
    app: Application<'a>,
}

impl<'a> Frame<'a> {
    /// Parses exactly one frame (`bytes` must end with it).
    pub fn parse(bytes: &'a [u8]) -> Result<Frame<'a>, DecodeError> {
        let link = link::parse_link(bytes)?;
        Self::from_link(bytes, link)
    }

    /// Parses the frame at the start of `bytes`, returning it and the bytes after it.
    pub fn parse_prefix(bytes: &'a [u8]) -> Result<(Frame<'a>, &'a [u8]), DecodeError> {
        let link = link::parse_link_prefix(bytes)?;
        let (frame, rest) = bytes.split_at(link.len);
        Ok((Self::from_link(frame, link)?, rest))
    }

    fn from_link(bytes: &'a [u8], link: LinkFrame<'a>) -> Result<Frame<'a>, DecodeError> {
        let app = app::parse_application(&link)?;
        Ok(Frame { bytes, link, app })
    }

    /// The frame's bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The link-layer view.
    pub fn link(&self) -> &LinkFrame<'a> {
        &self.link
    }

    /// The frame format.
    pub fn kind(&self) -> FrameKind {
        self.link.kind
    }

    /// The C field.
    pub fn control(&self) -> Option<Control> {
        self.link.control
    }

    /// The A field.
    pub fn address(&self) -> Option<Address> {
        self.link.address
    }

    /// The CI field.
    pub fn ci(&self) -> Option<Ci> {
        self.link.ci.map(Ci)
    }

    /// What the application layer carries.
    pub fn application(&self) -> &Application<'a> {
        &self.app
    }

    /// The data header: long or short header of variable data, or the header fields of the
    /// fixed data structure.
    pub fn header(&self) -> Option<Header> {
        match &self.app {
            Application::Variable { header, .. } => *header,
            Application::Fixed(f) => Some(f.header()),
            _ => None,
        }
    }

    /// The data records, in frame order, in the default [`DecodeMode`] (lenient: every
    /// record that can be delimited, each bad one as its own `Err`).
    pub fn records(&self) -> Records<'a> {
        self.records_with(DecodeMode::default())
    }

    /// The data records, in frame order, in the given mode.
    ///
    /// ```
    /// use mbus_meters::{DecodeError, DecodeMode, Frame, Quantity};
    /// // record 1: VIF 0x7D without the VIFE that names the 0xFD table entry;
    /// // record 2: volume, 1234 l
    /// let bytes = mbus_meters::hex::parse_hex(
    ///     "68 16 16 68 08 00 72 78 56 34 12 24 40 01 07 55 00 00 00 \
    ///      01 7D 07 02 13 D2 04 BF 16",
    /// )?;
    /// let frame = Frame::parse(&bytes)?;
    /// let lenient: Vec<_> = frame.records_with(DecodeMode::Lenient).collect::<Result<_, _>>()?;
    /// assert_eq!(lenient[0].quantity(), Quantity::Unknown);
    /// assert_eq!(lenient[1].quantity(), Quantity::Volume);
    /// let strict = frame.records_with(DecodeMode::Strict).next().unwrap();
    /// assert!(matches!(strict, Err(DecodeError::InvalidVif { offset: 20, found: 0x7D, .. })));
    /// # Ok::<(), mbus_meters::Error>(())
    /// ```
    pub fn records_with(&self, mode: DecodeMode) -> Records<'a> {
        match &self.app {
            Application::Variable {
                records,
                records_offset,
                order,
                ..
            } => Records::variable(records, *records_offset, *order, mode),
            Application::Selection {
                records,
                records_offset,
                ..
            } => Records::variable(
                records,
                *records_offset,
                crate::record::ByteOrder::LsbFirst,
                mode,
            ),
            Application::Fixed(f) => Records::fixed(f),
            _ => Records::empty(),
        }
    }

    /// Whether the frame ends with a "more records follow" DIF (0x1F): the slave has more
    /// data for the next REQ_UD2. Reads the records; `Err` if one is malformed.
    pub fn more_records_follow(&self) -> Result<bool, DecodeError> {
        let mut records = self.records();
        for r in records.by_ref() {
            r?;
        }
        Ok(records.more_records_follow())
    }

    /// Checks every record strictly ([`DecodeMode::Strict`]), returning the number of
    /// records.
    pub fn validate(&self) -> Result<usize, DecodeError> {
        let mut n = 0;
        for r in self.records_with(DecodeMode::Strict) {
            r?;
            n += 1;
        }
        Ok(n)
    }
}
