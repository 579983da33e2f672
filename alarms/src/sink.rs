//! Where log entries go besides memory: a trait, a JSON-lines file, a test sink.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::Error;
use crate::log::LogEntry;

/// Receives every log entry as it is recorded.
pub trait EventSink {
    /// Store one entry durably enough for the caller's needs.
    fn write(&mut self, entry: &LogEntry) -> Result<(), Error>;
}

/// Appends each entry as one JSON line and flushes it, so a restart loses nothing that was
/// recorded; [`crate::Book::replay_file`] restores the open occurrences from it.
#[derive(Debug)]
pub struct JsonLinesSink {
    path: PathBuf,
    out: BufWriter<File>,
}

impl JsonLinesSink {
    /// Open (create or append to) a JSON-lines file.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let sink = alarms::JsonLinesSink::open(dir.path().join("events.jsonl"))?;
    /// # Ok::<(), alarms::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<JsonLinesSink, Error> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::Io {
                file: path.clone(),
                message: format!("cannot open for appending: {e}"),
            })?;
        Ok(JsonLinesSink {
            path,
            out: BufWriter::new(file),
        })
    }
}

impl EventSink for JsonLinesSink {
    fn write(&mut self, entry: &LogEntry) -> Result<(), Error> {
        let io = |e: std::io::Error| Error::Io {
            file: self.path.clone(),
            message: format!("cannot write: {e}"),
        };
        let line = serde_json::to_string(entry).map_err(|e| Error::Io {
            file: self.path.clone(),
            message: format!("cannot encode entry: {e}"),
        })?;
        self.out.write_all(line.as_bytes()).map_err(io)?;
        self.out.write_all(b"\n").map_err(io)?;
        self.out.flush().map_err(io)
    }
}

/// Keeps entries in a vector (tests, or handing entries on in-process).
#[derive(Debug, Default, Clone)]
pub struct MemorySink {
    /// Everything written.
    pub entries: Vec<LogEntry>,
}

impl EventSink for MemorySink {
    fn write(&mut self, entry: &LogEntry) -> Result<(), Error> {
        self.entries.push(entry.clone());
        Ok(())
    }
}
