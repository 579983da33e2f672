//! The crate's one error type.

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The SQLite engine reported an error.
    #[cfg(feature = "sqlite")]
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored chunk could not be decoded.
    #[error("corrupt chunk of channel {channel} (window starting {window}): {source}")]
    CorruptChunk {
        /// Channel id.
        channel: i64,
        /// Window start, Unix seconds.
        window: i64,
        /// Where in the chunk and what was wrong.
        source: crate::codec::CodecError,
    },
    /// A stored value of a chunk that is not what the schema or the chunk's data says (a window,
    /// time or count that is not an integer, data that is not a blob, a header that disagrees
    /// with the row): never read as 0.
    #[error(
        "corrupt chunk of channel {channel} (window {window}): {column}: expected {expected}, found {found}"
    )]
    CorruptValue {
        /// Channel id.
        channel: i64,
        /// The chunk's window as stored (Unix seconds, or the raw value when that is corrupt).
        window: String,
        /// The column or part that is wrong.
        column: String,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// Caller-given bin edges that cannot be aggregated.
    #[error("bin edges: expected at least two, in increasing order, found {found}")]
    BadEdges {
        /// What was given.
        found: String,
    },
    /// A chunk decode error without the store's context (the store reports
    /// [`Error::CorruptChunk`], which names the channel and window).
    #[error("corrupt chunk: {0}")]
    Decode(#[from] crate::codec::CodecError),
    /// No channel with this name or id.
    #[error("unknown channel {0:?}: expected a channel created with ensure_channel")]
    UnknownChannel(String),
    /// A channel exists with other settings.
    #[error("channel {name:?} exists with {found}, the request asked for {expected}")]
    ChannelMismatch {
        /// `device/service`.
        name: String,
        /// Requested settings.
        expected: String,
        /// Stored settings.
        found: String,
    },
    /// Recording interval outside 5, 10, 15, 20, 30, 50 minutes.
    #[error("recording interval: expected 5, 10, 15, 20, 30 or 50 minutes, found {found} minutes")]
    BadInterval {
        /// Minutes given.
        found: u32,
    },
    /// A time-zone name chrono-tz does not know.
    #[error("time zone: expected {}, found {found:?}", crate::tz::EXPECTED)]
    TimeZone {
        /// The name given.
        found: String,
    },
    /// Currency code not in ISO 4217.
    #[error("currency: expected an ISO 4217 code such as EUR, found {found:?}")]
    UnknownCurrency {
        /// Code given.
        found: String,
    },
    /// An hour is assigned to a tariff that is missing or disabled.
    #[error(
        "source {source_name:?}: {day} hour {hour:02} is assigned to tariff {tariff:?}, which is {why}"
    )]
    TariffAssignment {
        /// Energy source.
        source_name: String,
        /// Day type.
        day: String,
        /// Local hour 0..23.
        hour: usize,
        /// Tariff name.
        tariff: String,
        /// "missing" or "disabled".
        why: &'static str,
    },
    /// A price below zero.
    #[error(
        "source {source_name:?}: tariff {tariff:?} has a negative price {price}: expected a price >= 0"
    )]
    NegativePrice {
        /// Energy source.
        source_name: String,
        /// Tariff name.
        tariff: String,
        /// The price.
        price: f64,
    },
    /// A data file is malformed or inconsistent: where, and what was wrong.
    #[error("{}:{line}:{column}: {field}: {message}", file.display())]
    InvalidFile {
        /// The file (built-in files are named `<builtin>/NAME`).
        file: std::path::PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// The field path as written in the file, e.g. `product[2].service[4].type`; `(file)` when no field.
        field: String,
        /// What was expected and what was found.
        message: String,
    },
    /// A CSV input that does not parse.
    #[error("{file}:{line}: field {field}: expected {expected}, found {found:?}")]
    Csv {
        /// File name.
        file: String,
        /// 1-based line.
        line: u64,
        /// Column name.
        field: String,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// Any other invalid argument.
    #[error("{what}: expected {expected}, found {found}")]
    Invalid {
        /// What was checked.
        what: String,
        /// Expected.
        expected: String,
        /// Found.
        found: String,
    },
    /// File system error.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Chart drawing failed.
    #[error("chart: {0}")]
    Chart(String),
    /// A store call on tokio's blocking pool panicked or was cancelled.
    #[error("store task failed: {0}")]
    Background(String),
}

impl Error {
    pub(crate) fn invalid(
        what: impl Into<String>,
        expected: impl Into<String>,
        found: impl std::fmt::Display,
    ) -> Self {
        Error::Invalid {
            what: what.into(),
            expected: expected.into(),
            found: found.to_string(),
        }
    }
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

impl From<crate::toml_file::Located> for Error {
    fn from(l: crate::toml_file::Located) -> Self {
        Error::InvalidFile {
            file: l.file,
            line: l.line,
            column: l.column,
            field: l.field,
            message: l.message,
        }
    }
}
