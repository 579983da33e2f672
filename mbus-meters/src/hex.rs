//! Hexadecimal text: reading frames written as hex bytes (as the libmbus corpus files are),
//! and writing bytes as hex.

use core::fmt;

use crate::Error;

/// Reads whitespace-separated hex bytes. A token of one digit is one byte; longer tokens of
/// an even number of digits are read two digits at a time (so `68 1F` and `681F` both work).
///
/// ```
/// assert_eq!(mbus_meters::hex::parse_hex("68 1f\n0A").unwrap(), [0x68, 0x1F, 0x0A]);
/// assert!(mbus_meters::hex::parse_hex("68 XY").is_err());
/// ```
pub fn parse_hex(text: &str) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(text.len() / 3 + 1);
    let mut pos = 0;
    for token in text.split_ascii_whitespace() {
        // character offset of the token in the text
        let start = text[pos..].find(token).map_or(pos, |p| pos + p);
        pos = start + token.len();
        let bad = || Error::Hex {
            offset: start,
            found: token.to_string(),
        };
        let digits = token.as_bytes();
        if !digits.iter().all(u8::is_ascii_hexdigit) || (digits.len() > 1 && digits.len() % 2 == 1)
        {
            return Err(bad());
        }
        if digits.len() == 1 {
            out.push(nibble(digits[0]));
        } else {
            for pair in digits.chunks_exact(2) {
                out.push((nibble(pair[0]) << 4) | nibble(pair[1]));
            }
        }
    }
    Ok(out)
}

fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c.wrapping_sub(b'A').wrapping_add(10) & 0x0F,
    }
}

/// Bytes shown as space-separated upper-case hex (`68 1F 1F 68`).
#[derive(Clone, Copy)]
pub struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Bytes as space-separated upper-case hex.
pub fn to_hex(bytes: &[u8]) -> String {
    Hex(bytes).to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_and_writes() {
        assert_eq!(parse_hex("").unwrap(), Vec::<u8>::new());
        assert_eq!(parse_hex(" D 04 ").unwrap(), [0x0D, 0x04]);
        assert_eq!(parse_hex("0102ff").unwrap(), [1, 2, 0xFF]);
        assert_eq!(
            parse_hex("68 123").unwrap_err().to_string(),
            "invalid hex at character 3: expected one or two hex digits, found \"123\""
        );
        assert_eq!(to_hex(&[0x68, 0x0A]), "68 0A");
    }
}
