//! Publication: scheduled upload of export files to another system (feature `publish`).
//!
//! The reference products push their exports on a schedule: the Hager server by FTP or FTPS,
//! the Legrand connector by SFTP (folder sync) or SCP (one zip). This module holds the pieces
//! every transport shares:
//!
//! - [`Destination`]: one place files are sent to (a local folder, an FTP/FTPS server, an
//!   SSH server); each implementation uploads to a temporary name and renames when the file
//!   is complete, so a receiver never sees a partial file under its final name;
//! - [`UploadFile`] (what to send) and [`Sent`] (what was sent);
//! - [`PublishError`]: what went wrong and where;
//! - [`schedule::Schedule`] (when: Hager daily / weekly / monthly at a time, Legrand day and
//!   hour with `*`, or only on demand), [`template::Template`] (the remote names: `%date`,
//!   `%day`, `%dow`, `%hour`, `%name`), [`Publisher`] (one run with retries) and
//!   [`AttemptLog`] (every attempt as a JSON line).
//!
//! # A publication, end to end
//!
//! The pieces deserialize from a site file; here the destination is a folder so the example
//! runs anywhere (an FTPS one is an [`FtpConfig`] table given to [`Ftp::new`]):
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use reports::publish::{AttemptLog, Folder, Publisher, RetryPolicy};
//! use reports::publish::{schedule::Schedule, template::Template};
//!
//! #[derive(serde::Deserialize)]
//! struct Publication { name: String, file: Template, schedule: Schedule, retry: RetryPolicy }
//!
//! let p: Publication = toml::from_str(r#"
//!     name = "hall"
//!     file = "%dow/energy_%name_%date.csv"
//!     schedule = { kind = "daily", at = "06:30" }
//!     retry = { attempts = 3, first_delay_ms = 10000 }
//! "#).unwrap();
//! let tz = chrono_tz::Europe::Paris;
//! let now = Utc.with_ymd_and_hms(2026, 3, 28, 12, 0, 0).unwrap();
//! let due = p.schedule.next_after(now, tz).unwrap();
//! assert_eq!(due, Utc.with_ymd_and_hms(2026, 3, 29, 4, 30, 0).unwrap()); // 06:30 CEST
//!
//! // At `due`: export, then send (the export here is a stand-in file).
//! let dir = tempfile::tempdir().unwrap();
//! let export = dir.path().join("export.csv");
//! std::fs::write(&export, "time;kWh\n").unwrap();
//! let file = p.file.upload_file(&export, due, tz, &p.name).unwrap();
//! assert_eq!(file.remote_name, "sun/energy_hall_202603290630.csv");
//! let log = AttemptLog::new(dir.path().join("publish.jsonl"));
//! let mut publisher = Publisher::new(&p.name, Folder::new(dir.path().join("drop")))
//!     .with_retry(p.retry)
//!     .with_log(log.clone());
//! publisher.run(&[file]).unwrap();
//! assert!(dir.path().join("drop/sun/energy_hall_202603290630.csv").exists());
//! assert_eq!(log.last(10).unwrap().len(), 1);
//! ```
//!
//! # Threading
//!
//! Everything here is **blocking** (synchronous I/O, timeouts on every socket). Async callers
//! run a publication on a blocking thread (`tokio::task::spawn_blocking`), never on a runtime
//! worker.
//!
//! ```
//! use reports::publish::{Destination, PublishError, Sent, UploadFile};
//!
//! /// A destination that only counts bytes (a real one writes them somewhere).
//! struct Counter;
//! impl Destination for Counter {
//!     fn describe(&self) -> String { "counter".into() }
//!     fn send(&mut self, files: &[UploadFile]) -> Result<Vec<Sent>, PublishError> {
//!         files.iter().map(|f| {
//!             let bytes = std::fs::metadata(&f.local)
//!                 .map_err(|e| PublishError::Io { path: f.local.clone(), source: e })?
//!                 .len();
//!             Ok(Sent { file: f.remote_name.clone(), bytes, skipped_unchanged: false })
//!         }).collect()
//!     }
//! }
//!
//! let dir = tempfile::tempdir().unwrap();
//! let local = dir.path().join("a.csv");
//! std::fs::write(&local, "time;value\n").unwrap();
//! let sent = Counter.send(&[UploadFile { local, remote_name: "a.csv".into() }]).unwrap();
//! assert_eq!(sent[0].bytes, 11);
//! ```

use std::path::PathBuf;

mod folder;
mod ftp;
mod log;
mod publisher;
pub mod schedule;
pub mod ssh;
pub mod template;

pub use folder::Folder;
pub use ftp::{Ftp, FtpConfig, FtpTls};
pub use log::{Attempt, AttemptLog, Outcome};
pub use publisher::{Publisher, RetryPolicy};

/// One file to send: where it is locally and the name it gets at the destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadFile {
    /// The local file.
    pub local: PathBuf,
    /// The name at the destination, relative to the destination's folder, after template
    /// expansion (may contain `/` for a sub-folder; never absolute, never `..`).
    pub remote_name: String,
}

/// One file a destination handled.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sent {
    /// The name at the destination (the [`UploadFile::remote_name`]).
    pub file: String,
    /// Bytes transferred (0 when skipped).
    pub bytes: u64,
    /// True when the destination already had this exact file and it was not sent again
    /// (SFTP folder sync).
    pub skipped_unchanged: bool,
}

/// One place files are published to.
///
/// Implementations are blocking and are called from a blocking thread. `send` either
/// delivers every file (each written under a temporary name, then renamed to its final
/// name) or returns an error; files already renamed before the error stay, and sending the
/// same files again is harmless (delivery is at least once and idempotent).
pub trait Destination {
    /// A short description for logs and the attempt log, without secrets
    /// (`ftps://user@host:21/dir`).
    fn describe(&self) -> String;

    /// Send `files`; returns one [`Sent`] per file, in order.
    ///
    /// # Errors
    /// A [`PublishError`] saying what failed and where.
    fn send(&mut self, files: &[UploadFile]) -> Result<Vec<Sent>, PublishError>;
}

/// What went wrong during a publication.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The local path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The server could not be reached (refused, timed out, name not resolved).
    #[error("{destination}: cannot connect: {message}")]
    Connect {
        /// The destination ([`Destination::describe`]).
        destination: String,
        /// What happened.
        message: String,
    },
    /// The server refused the credentials.
    #[error("{destination}: authentication failed: {message}")]
    Auth {
        /// The destination.
        destination: String,
        /// What happened.
        message: String,
    },
    /// The SSH host key is unknown or differs from the known-hosts file.
    #[error("{destination}: host key refused: {message}")]
    HostKey {
        /// The destination.
        destination: String,
        /// What happened.
        message: String,
    },
    /// The TLS handshake failed (certificate not trusted, name mismatch, protocol).
    #[error("{destination}: TLS: {message}")]
    Tls {
        /// The destination.
        destination: String,
        /// What happened.
        message: String,
    },
    /// A transfer (upload, rename, directory creation) failed after connecting.
    #[error("{destination}: {file}: {message}")]
    Transfer {
        /// The destination.
        destination: String,
        /// The remote file name (or folder) concerned.
        file: String,
        /// What happened.
        message: String,
    },
    /// A configuration value is invalid.
    #[error("{field}: {message}")]
    Config {
        /// The field, as written in the configuration (`publication.schedule.time`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A line of the attempt log is not an attempt.
    #[error("{}: line {line}: {message}", path.display())]
    Log {
        /// The log file.
        path: PathBuf,
        /// The line number (from 1).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A file-name template is invalid.
    #[error("template {template:?}: {message}")]
    Template {
        /// The template.
        template: String,
        /// What is wrong (with the offending position).
        message: String,
    },
}

impl PublishError {
    /// A short name of the variant for logs (`"connect"`, `"auth"`, `"tls"`...).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Io { .. } => "io",
            Self::Connect { .. } => "connect",
            Self::Auth { .. } => "auth",
            Self::HostKey { .. } => "host_key",
            Self::Tls { .. } => "tls",
            Self::Transfer { .. } => "transfer",
            Self::Config { .. } => "config",
            Self::Log { .. } => "log",
            Self::Template { .. } => "template",
        }
    }

    /// Whether trying again soon may succeed (the server was unreachable or a transfer
    /// broke). Wrong credentials, host keys, certificates and configuration are not retried
    /// within a run: they need a person.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Connect { .. } | Self::Transfer { .. } | Self::Io { .. }
        )
    }
}

/// The temporary name a file is uploaded under before it is renamed to `remote_name`: the
/// same folder, a leading dot and a `.part` suffix (`sub/a.csv` -> `sub/.a.csv.part`), so
/// receivers that pick up `*.csv` never see a partial file.
///
/// ```
/// assert_eq!(reports::publish::temp_name("sub/a.csv"), "sub/.a.csv.part");
/// assert_eq!(reports::publish::temp_name("a.csv"), ".a.csv.part");
/// ```
#[must_use]
pub fn temp_name(remote_name: &str) -> String {
    match remote_name.rsplit_once('/') {
        Some((dir, file)) => format!("{dir}/.{file}.part"),
        None => format!(".{remote_name}.part"),
    }
}

/// Check that `name` is a relative remote name without `..`, empty or absolute parts.
///
/// # Errors
/// [`PublishError::Config`] naming the file.
pub fn check_remote_name(name: &str) -> Result<(), PublishError> {
    let bad = name.is_empty()
        || name.starts_with('/')
        || name.contains('\\')
        || name
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..");
    if bad {
        return Err(PublishError::Config {
            field: "remote_name".into(),
            message: format!(
                "expected a relative name without empty, '.' or '..' parts, found {name:?}"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_names_must_stay_inside_the_destination() {
        assert!(check_remote_name("a.csv").is_ok());
        assert!(check_remote_name("2026/a.csv").is_ok());
        for bad in ["", "/a", "../a", "a/../b", "a//b", "./a", "a\\b"] {
            assert!(check_remote_name(bad).is_err(), "{bad}");
        }
    }
}
