//! The JSON-lines event file transport.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::error::DeliveryStage;
use crate::notify::{Notification, Transport};
use crate::transport::{NotificationJson, delivery};

/// Configuration of [`JsonLinesFile`] (`type = "json-lines"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonLinesConfig {
    /// The file (created when missing, with its directory; appended to).
    pub path: PathBuf,
}

/// Appends each notification to a file as one line of JSON ([`NotificationJson`]), written
/// in one `write` and flushed to the operating system before `send` returns.
///
/// The file is opened for each notification (notifications are rare), so a file moved
/// away by log rotation is created again. A failed write is a temporary [`Error::Delivery`]
/// (an [`crate::Outbox`] retries it); a line is only ever written whole or not at all as far
/// as the process can tell (a disk that fills mid-write can leave a partial line, which a
/// reader skips as invalid JSON).
///
/// ```
/// use alarms::Transport;
/// use alarms::transport::{JsonLinesFile, NotificationJson};
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("events/notifications.jsonl");
/// let mut file = JsonLinesFile::new(path.clone());
/// let n = alarms::Notification::Digest {
///     recipient: "ops".into(),
///     address: "ops@example.com".into(),
///     time_zone: chrono_tz::UTC,
///     at: chrono::DateTime::UNIX_EPOCH,
///     items: Vec::new(),
/// };
/// file.send(&n)?;
/// file.send(&n)?;
/// let text = std::fs::read_to_string(&path).unwrap();
/// assert_eq!(text.lines().count(), 2);
/// let first: NotificationJson = serde_json::from_str(text.lines().next().unwrap()).unwrap();
/// assert_eq!(first, NotificationJson::new(&n));
/// # Ok::<(), alarms::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct JsonLinesFile {
    path: PathBuf,
}

impl JsonLinesFile {
    /// A transport appending to `path`.
    pub fn new(path: PathBuf) -> JsonLinesFile {
        JsonLinesFile { path }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Transport for JsonLinesFile {
    fn name(&self) -> &str {
        "json-lines"
    }

    fn send(&mut self, n: &Notification) -> Result<(), Error> {
        let mut line = NotificationJson::new(n).to_line();
        line.push('\n');
        let fail = |e: std::io::Error| {
            delivery(
                "json-lines",
                &self.path.display().to_string(),
                DeliveryStage::Write,
                e.to_string(),
                false,
            )
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(fail)?;
        f.write_all(line.as_bytes()).map_err(fail)?;
        f.flush().map_err(fail)
    }
}
