//! nom glue: the error type the crate's parsers share, and the few primitive parsers that
//! attach a name to what they read so that a failure becomes a precise [`DecodeError`].

use nom::IResult;
use nom::error::{ErrorKind, ParseError};

use crate::DecodeError;

/// Why a nom parser stopped, with the input that was left at that point.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fail<'a> {
    /// The input remaining where the failure was detected.
    pub at: &'a [u8],
    pub kind: FailKind,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum FailKind {
    /// nom itself failed (only reached through combinators without a named wrapper).
    Nom,
    Truncated {
        what: &'static str,
        needed: usize,
    },
    TooManyDife {
        found: u8,
    },
    TooManyVife {
        found: u8,
    },
    ReservedDif {
        found: u8,
    },
    InvalidVif {
        expected: &'static str,
        found: u8,
    },
    ReservedLvar {
        found: u8,
    },
}

impl<'a> Fail<'a> {
    pub(crate) fn new(at: &'a [u8], kind: FailKind) -> nom::Err<Self> {
        nom::Err::Failure(Fail { at, kind })
    }

    /// Turns the failure into a [`DecodeError`], given the slice the parser started on and that
    /// slice's offset in the frame.
    pub(crate) fn into_error(self, start: &[u8], start_offset: usize) -> DecodeError {
        let offset = start_offset + start.len().saturating_sub(self.at.len());
        match self.kind {
            FailKind::Nom => DecodeError::Truncated {
                offset,
                what: "data",
                needed: 1,
                available: 0,
            },
            FailKind::Truncated { what, needed } => DecodeError::Truncated {
                offset,
                what,
                needed,
                available: self.at.len(),
            },
            FailKind::TooManyDife { found } => DecodeError::TooManyDife { offset, found },
            FailKind::TooManyVife { found } => DecodeError::TooManyVife { offset, found },
            FailKind::ReservedDif { found } => DecodeError::ReservedDif { offset, found },
            FailKind::InvalidVif { expected, found } => DecodeError::InvalidVif {
                offset,
                expected,
                found,
            },
            FailKind::ReservedLvar { found } => DecodeError::ReservedLvar { offset, found },
        }
    }
}

impl<'a> ParseError<&'a [u8]> for Fail<'a> {
    fn from_error_kind(input: &'a [u8], _kind: ErrorKind) -> Self {
        Fail {
            at: input,
            kind: FailKind::Nom,
        }
    }

    fn append(_input: &'a [u8], _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

pub(crate) type PResult<'a, T> = IResult<&'a [u8], T, Fail<'a>>;

/// Converts a nom result into the crate's result.
pub(crate) fn finish<'a, T>(
    result: PResult<'a, T>,
    start: &'a [u8],
    start_offset: usize,
) -> Result<(&'a [u8], T), DecodeError> {
    result.map_err(|e| match e {
        nom::Err::Error(f) | nom::Err::Failure(f) => f.into_error(start, start_offset),
        nom::Err::Incomplete(_) => DecodeError::Truncated {
            offset: start_offset + start.len(),
            what: "data",
            needed: 1,
            available: 0,
        },
    })
}

/// One byte, named for the error message (nom's `u8` for complete input, with the crate's
/// error; written out because nom's generic version is not inlined on the record path).
#[inline]
pub(crate) fn byte<'a>(what: &'static str) -> impl Fn(&'a [u8]) -> PResult<'a, u8> {
    move |input: &'a [u8]| match input.split_first() {
        Some((&b, rest)) => Ok((rest, b)),
        None => Err(Fail::new(input, FailKind::Truncated { what, needed: 1 })),
    }
}

/// `n` bytes, named for the error message (nom's `take` for complete input, with the
/// crate's error).
#[inline]
pub(crate) fn bytes<'a>(
    what: &'static str,
    n: usize,
) -> impl Fn(&'a [u8]) -> PResult<'a, &'a [u8]> {
    move |input: &'a [u8]| match input.split_at_checked(n) {
        Some((taken, rest)) => Ok((rest, taken)),
        None => Err(Fail::new(input, FailKind::Truncated { what, needed: n })),
    }
}
