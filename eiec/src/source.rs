//! Loading TOML data files with errors that name the file, line, column and field.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::Error;

/// A data file's name and text, for positions in errors.
pub(crate) struct Source<'a> {
    pub(crate) file: &'a Path,
    pub(crate) text: &'a str,
}

impl Source<'_> {
    /// 1-based line and column of a byte offset.
    fn position(&self, offset: usize) -> (usize, usize) {
        let mut end = offset.min(self.text.len());
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let before = &self.text[..end];
        let line = before.matches('\n').count() + 1;
        let column = before
            .rfind('\n')
            .map_or(before.len(), |i| before.len() - i - 1)
            + 1;
        (line, column)
    }

    /// An [`Error::InvalidFile`] at `span`.
    pub(crate) fn err(&self, span: Range<usize>, field: String, message: String) -> Error {
        let (line, column) = self.position(span.start);
        Error::InvalidFile {
            file: self.file.to_path_buf(),
            line,
            column,
            field,
            message,
        }
    }

    /// Deserialize the whole text; a failure names the field by its path.
    pub(crate) fn parse<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let de =
            toml::Deserializer::parse(self.text).map_err(|e| self.toml_error(&e, String::new()))?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            // `Spanned` wrappers appear in the path as private fields nobody wrote.
            let field = e
                .path()
                .to_string()
                .split('.')
                .filter(|segment| !segment.starts_with("$__serde_spanned"))
                .collect::<Vec<_>>()
                .join(".");
            self.toml_error(e.inner(), field)
        })
    }

    fn toml_error(&self, e: &toml::de::Error, field: String) -> Error {
        let span = e.span().unwrap_or(0..0);
        let field = if field.is_empty() || field == "." {
            "(file)".to_string()
        } else {
            field
        };
        self.err(span, field, e.message().trim().to_string())
    }
}

/// Read a file's text, mapping the I/O error.
pub(crate) fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        file: path.to_path_buf(),
        source,
    })
}

/// The name used in errors for a built-in data file.
pub(crate) fn builtin_name(name: &str) -> PathBuf {
    PathBuf::from(format!("<builtin>/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let text = "a = 1\nbé = 2\nc = 3\n";
        let src = Source {
            file: Path::new("x.toml"),
            text,
        };
        assert_eq!(src.position(0), (1, 1));
        assert_eq!(src.position(6), (2, 1));
        // Inside the two-byte "é": clamped to the character boundary.
        assert_eq!(src.position(8), (2, 2));
        assert_eq!(src.position(text.find('c').unwrap()), (3, 1));
        assert_eq!(src.position(10_000).0, 4);
    }
}
