//! The attempt log: one JSON line per attempt, appended to a file the monitor shows.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{PublishError, Sent};

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// Every file was delivered.
    Ok,
    /// The attempt failed.
    Failed {
        /// [`PublishError::kind`] (`"connect"`, `"auth"`, `"tls"`...).
        kind: String,
        /// The error message.
        error: String,
    },
}

/// One attempt to send a publication's files to its destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// When the attempt started.
    pub time: DateTime<Utc>,
    /// The publication's name.
    pub publication: String,
    /// The destination ([`Destination::describe`](super::Destination::describe), no secrets).
    pub destination: String,
    /// The attempt number within the run, from 1.
    pub attempt: u32,
    /// The remote names of the files of the run.
    pub files: Vec<String>,
    /// Bytes transferred (0 when the attempt failed).
    pub bytes: u64,
    /// How long the attempt took, in milliseconds.
    pub duration_ms: u64,
    /// How it ended (flattened: `"result": "ok"` or `"result": "failed", "kind", "error"`).
    #[serde(flatten)]
    pub outcome: Outcome,
    /// What was sent, per file (empty when the attempt failed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sent: Vec<Sent>,
}

/// A JSON-lines file of [`Attempt`]s (append only; rotate it like any log).
///
/// ```
/// use reports::publish::{Attempt, AttemptLog, Outcome};
/// let dir = tempfile::tempdir().unwrap();
/// let log = AttemptLog::new(dir.path().join("publish.jsonl"));
/// log.append(&Attempt {
///     time: chrono::Utc::now(), publication: "daily".into(), destination: "file:///srv".into(),
///     attempt: 1, files: vec!["a.csv".into()], bytes: 10, duration_ms: 3,
///     outcome: Outcome::Ok, sent: vec![],
/// }).unwrap();
/// assert_eq!(log.last(10).unwrap()[0].publication, "daily");
/// ```
#[derive(Debug, Clone)]
pub struct AttemptLog {
    path: PathBuf,
}

impl AttemptLog {
    /// A log at `path` (created on the first append, with its folder).
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self {
            path: path.as_ref().to_path_buf(),
        }
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one attempt as one line (one `write` call, so concurrent writers do not
    /// interleave lines).
    ///
    /// # Errors
    /// [`PublishError::Io`].
    pub fn append(&self, a: &Attempt) -> Result<(), PublishError> {
        let io = |source| PublishError::Io {
            path: self.path.clone(),
            source,
        };
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut line = serde_json::to_vec(a).map_err(|e| io(std::io::Error::other(e)))?;
        line.push(b'\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        f.write_all(&line).map_err(io)
    }

    /// The last `n` attempts, oldest first (none when the file does not exist yet).
    ///
    /// # Errors
    /// [`PublishError::Io`], or [`PublishError::Log`] naming the line that is not an attempt.
    pub fn last(&self, n: usize) -> Result<Vec<Attempt>, PublishError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(PublishError::Io {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let lines: Vec<(usize, &str)> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .collect();
        let skip = lines.len().saturating_sub(n);
        lines[skip..]
            .iter()
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|e| PublishError::Log {
                    path: self.path.clone(),
                    line: i + 1,
                    message: e.to_string(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(n: u32, outcome: Outcome) -> Attempt {
        Attempt {
            time: DateTime::from_timestamp(1_780_000_000 + i64::from(n), 0).unwrap(),
            publication: "p".into(),
            destination: "ftp://u@h:21/d".into(),
            attempt: n,
            files: vec!["a.csv".into()],
            bytes: u64::from(n) * 10,
            duration_ms: 1,
            outcome,
            sent: vec![],
        }
    }

    #[test]
    fn attempts_round_trip_as_json_lines_and_last_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let log = AttemptLog::new(dir.path().join("sub/log.jsonl"));
        assert!(log.last(5).unwrap().is_empty());
        let failed = Outcome::Failed {
            kind: "connect".into(),
            error: "refused".into(),
        };
        for n in 1..=4 {
            log.append(&attempt(
                n,
                if n % 2 == 0 {
                    Outcome::Ok
                } else {
                    failed.clone()
                },
            ))
            .unwrap();
        }
        let text = std::fs::read_to_string(log.path()).unwrap();
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["result"], "failed");
        assert_eq!(first["kind"], "connect");
        let last = log.last(2).unwrap();
        assert_eq!(last, vec![attempt(3, failed), attempt(4, Outcome::Ok)]);
    }

    #[test]
    fn a_damaged_line_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let log = AttemptLog::new(dir.path().join("log.jsonl"));
        log.append(&attempt(1, Outcome::Ok)).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap()
            .write_all(b"{\"time\": 3}\n")
            .unwrap();
        match log.last(10) {
            Err(PublishError::Log { line, .. }) => assert_eq!(line, 2),
            other => panic!("{other:?}"),
        }
    }
}
