//! TOML loading with errors that name the file, line, column and field.

use crate::Error;

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// An error positioned at byte `offset` of `text`.
pub(crate) fn positioned(
    file: &str,
    text: &str,
    offset: usize,
    field: &str,
    message: impl Into<String>,
) -> Error {
    let (line, column) = line_col(text, offset);
    Error::Config {
        file: file.to_string(),
        line,
        column,
        field: field.to_string(),
        message: message.into(),
    }
}

/// Byte offset of the first `key =` after the `n`-th occurrence of the table header `header`
/// (for semantic errors found after deserialisation); 0 when not found.
pub(crate) fn key_offset(text: &str, header: &str, n: usize, key: &str) -> usize {
    let mut start = 0;
    if !header.is_empty() {
        let idx = text.match_indices(header).nth(n).map(|(i, _)| i);
        match idx {
            Some(i) => start = i,
            None => return 0,
        }
    }
    let mut at = start;
    for line in text[start..].split_inclusive('\n') {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix(key)
            && rest.trim_start().starts_with('=')
        {
            return at + (line.len() - t.len());
        }
        at += line.len();
    }
    start
}

/// Deserialize TOML, naming file, line, column and field on error.
pub(crate) fn from_toml<T: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
) -> Result<T, Error> {
    let conv = |e: &toml::de::Error, field: String| {
        let offset = e.span().map_or(0, |s| s.start);
        let field = if field.is_empty() || field == "." {
            "(file)".to_string()
        } else {
            field
        };
        positioned(file, text, offset, &field, e.message().trim())
    };
    let de = toml::Deserializer::parse(text).map_err(|e| conv(&e, String::new()))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        conv(e.inner(), field)
    })
}
