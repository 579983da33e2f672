//! What eiec adds to the shared TOML glue ([`crate::toml_file`]): reading a data file,
//! the names of the built-in files, and the error at a span.

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::Error;
use crate::toml_file::{Located, Source};

impl From<Located> for Error {
    fn from(l: Located) -> Self {
        Error::InvalidFile {
            file: l.file,
            line: l.line,
            column: l.column,
            field: l.field,
            message: l.message,
        }
    }
}

/// An [`Error::InvalidFile`] at the start of `span`.
pub(crate) fn invalid(
    src: &Source<'_>,
    span: Range<usize>,
    field: impl Into<String>,
    message: impl Into<String>,
) -> Error {
    src.at(span, field, message).into()
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
