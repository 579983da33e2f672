//! Sending the site's `[[publication]]` folders to their destinations
//! ([`crate::site::Publication`]): the folder's files (the archive, up to `keep`) go to the
//! `[publication.destination]` through [`reports::publish::Publisher`] (retries with
//! backoff inside a run), every attempt appended to the publication's attempt log.
//!
//! When a publication runs is decided by [`super::schedule::Publications`]: on its
//! `schedule` in the site's time zone, or after one of its reports was written when it has
//! none; a run that fails leaves the files waiting and runs again at a later cycle, after
//! the retry policy's backoff. In the monitor, runs happen on a blocking thread
//! (`tokio::task::spawn_blocking`), like the report runs ([`super::report::Background`]).
//! `monitor publish --now NAME` runs one at once ([`publish_now`]).
//!
//! ```
//! use examples::gateway::publish::publish_now;
//! use examples::site::Site;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let text = examples::site::DEMO_TEXT.replace(
//!     "keep = 7",
//!     "keep = 7\n[publication.destination]\ntype = \"folder\"\npath = \"drop\"",
//! );
//! let file = dir.path().join("site.toml");
//! std::fs::write(&file, text).unwrap();
//! let site = Site::load(&file).unwrap();
//! let folder = site.output_dir().join(&site.publications[0].folder);
//! std::fs::create_dir_all(&folder).unwrap();
//! std::fs::write(folder.join("a.csv"), "time;kWh\n").unwrap();
//! std::fs::write(folder.join(".archive"), "a.csv\n").unwrap();
//! let name = site.publications[0].name.clone();
//! let run = publish_now(&site, &name, chrono::Utc::now()).unwrap();
//! assert!(run.result.is_ok(), "{}", run.line());
//! assert!(dir.path().join("drop/a.csv").exists());
//! assert_eq!(run.attempts.len(), 1);
//! ```

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use reports::publish::ssh::{Scp, Sftp, SshAuth, SshConfig};
use reports::publish::{
    Attempt, AttemptLog, Destination, Folder, Ftp, PublishError, Publisher, Sent, UploadFile,
};

use crate::site::{Publication, PublicationDestination, Site};

/// The default attempt log's file name in `[output] dir`.
pub const DEFAULT_LOG: &str = "publications.jsonl";

/// A publication could not be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublicationError {
    /// No `[[publication]]` of that name.
    #[error("no publication {name:?} in {}; expected one of: {known}", file.display())]
    Unknown {
        /// The name asked for.
        name: String,
        /// The site file.
        file: PathBuf,
        /// The publications of the site, comma-separated.
        known: String,
    },
    /// The publication has no `[publication.destination]`.
    #[error("publication {0:?} has no [publication.destination]: its files stay in its folder")]
    NoDestination(String),
    /// The archive folder cannot be read.
    #[error("publication {name:?}: {source}")]
    Archive {
        /// The publication.
        name: String,
        /// The archive's error.
        #[source]
        source: Box<reports::Error>,
    },
}

/// One run of a publication.
#[derive(Debug, Clone)]
pub struct PublicationRun {
    /// The `[[publication]]` name.
    pub publication: String,
    /// The destination ([`Destination::describe`], no secrets).
    pub destination: String,
    /// The files of the run (remote names).
    pub files: Vec<String>,
    /// What was sent, or the last attempt's error.
    pub result: Result<Vec<Sent>, String>,
    /// The attempts of this run, as logged.
    pub attempts: Vec<Attempt>,
}

impl PublicationRun {
    /// One plain line: `publication NAME sent N file(s), B bytes to DEST` or
    /// `publication NAME failed after N attempt(s): ERROR`.
    pub fn line(&self) -> String {
        match &self.result {
            Ok(sent) => format!(
                "publication {} sent {} file(s), {} bytes to {}",
                self.publication,
                sent.iter().filter(|s| !s.skipped_unchanged).count(),
                sent.iter().map(|s| s.bytes).sum::<u64>(),
                self.destination
            ),
            Err(e) => format!(
                "publication {} failed after {} attempt(s): {e}",
                self.publication,
                self.attempts.len()
            ),
        }
    }
}

/// The publication's attempt log (`log`, default `[output] dir/publications.jsonl`).
pub fn attempt_log(site: &Site, p: &Publication) -> AttemptLog {
    AttemptLog::new(
        p.log
            .as_deref()
            .map_or_else(|| site.output_dir().join(DEFAULT_LOG), |l| site.resolve(l)),
    )
}

/// The publication's folder (`[output] dir/FOLDER`).
pub fn folder(site: &Site, p: &Publication) -> PathBuf {
    site.output_dir().join(&p.folder)
}

/// The files to send: the archive's kept files (at most `keep`, oldest first) that exist,
/// each under its own name.
///
/// # Errors
/// [`PublicationError::Archive`] when the folder's manifest cannot be read.
pub fn archive_files(site: &Site, p: &Publication) -> Result<Vec<UploadFile>, PublicationError> {
    let dir = folder(site, p);
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let archive = reports::export::Archive::open(&dir, p.keep).map_err(|source| {
        PublicationError::Archive {
            name: p.name.clone(),
            source: Box::new(source),
        }
    })?;
    let names: Vec<&str> = archive.files().collect();
    let skip = names.len().saturating_sub(p.keep);
    Ok(names[skip..]
        .iter()
        .map(|n| UploadFile {
            local: dir.join(n),
            remote_name: (*n).to_string(),
        })
        .filter(|f| f.local.is_file())
        .collect())
}

fn resolve_ssh(site: &Site, c: &SshConfig) -> SshConfig {
    let mut c = c.clone();
    c.known_hosts = site.resolve(&c.known_hosts);
    if let SshAuth::KeyFile { path, .. } = &mut c.auth {
        *path = site.resolve(path);
    }
    c
}

/// The publication's destination, its paths resolved against the site file; an SCP zip is
/// named by its `archive` template expanded at `now`.
///
/// # Errors
/// [`PublishError::Config`] from the destination's checks (FTP host, CA file; zip name).
pub fn destination(
    site: &Site,
    p: &Publication,
    d: &PublicationDestination,
    now: DateTime<Utc>,
) -> Result<Box<dyn Destination + Send>, PublishError> {
    Ok(match d {
        PublicationDestination::Folder(f) => Box::new(Folder::new(site.resolve(&f.path))),
        PublicationDestination::Ftp(c) => {
            let mut c = c.clone();
            c.ca_file = c.ca_file.as_deref().map(|f| site.resolve(f));
            Box::new(Ftp::new(c)?)
        }
        PublicationDestination::Sftp(c) => Box::new(Sftp::new(resolve_ssh(site, c))),
        PublicationDestination::Scp(s) => Box::new(Scp::new(
            resolve_ssh(site, &s.ssh),
            s.archive.expand(now, site.time_zone(), &p.name),
        )?),
    })
}

/// Runs publication `p` once, blocking (call it from a blocking thread): its archive files
/// to its destination with its retry policy, every attempt logged. A folder with no file yet
/// is a run with nothing to send (no attempt).
///
/// # Errors
/// [`PublicationError::NoDestination`], [`PublicationError::Archive`]; a failed delivery is
/// not an error here but the run's `result`.
pub fn run(
    site: &Site,
    p: &Publication,
    now: DateTime<Utc>,
) -> Result<PublicationRun, PublicationError> {
    let d = p
        .destination
        .as_ref()
        .ok_or_else(|| PublicationError::NoDestination(p.name.clone()))?;
    let files = archive_files(site, p)?;
    let names: Vec<String> = files.iter().map(|f| f.remote_name.clone()).collect();
    let log = attempt_log(site, p);
    let mut run = PublicationRun {
        publication: p.name.clone(),
        destination: d.kind().to_string(),
        files: names,
        result: Ok(Vec::new()),
        attempts: Vec::new(),
    };
    if files.is_empty() {
        tracing::info!(publication = %p.name, "nothing to publish yet");
        return Ok(run);
    }
    let before = log.last(usize::MAX).map_or(0, |a| a.len());
    run.result = match destination(site, p, d, now) {
        Ok(dest) => {
            run.destination = dest.describe();
            let mut publisher = Publisher::new(&p.name, dest)
                .with_retry(p.retry)
                .with_log(log.clone());
            publisher.run(&files).map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    };
    run.attempts = log
        .last(usize::MAX)
        .map(|all| {
            all.into_iter()
                .skip(before)
                .filter(|a| a.publication == p.name)
                .collect()
        })
        .unwrap_or_default();
    if let Err(e) = &run.result {
        tracing::warn!(publication = %p.name, "publication failed, the files wait: {e}");
    }
    Ok(run)
}

/// `monitor publish --now NAME`: runs the publication named `name` at once ([`run`]).
///
/// # Errors
/// [`PublicationError::Unknown`] and [`run`]'s.
pub fn publish_now(
    site: &Site,
    name: &str,
    now: DateTime<Utc>,
) -> Result<PublicationRun, PublicationError> {
    let p = site
        .publications
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| PublicationError::Unknown {
            name: name.to_string(),
            file: site.file.clone(),
            known: site
                .publications
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    run(site, p, now)
}

/// One line per attempt: `TIME attempt N DEST: ok, B bytes, F file(s)` or
/// `TIME attempt N DEST: failed (KIND): ERROR`.
pub fn attempt_line(a: &Attempt, tz: chrono_tz::Tz) -> String {
    let time = a.time.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z");
    match &a.outcome {
        reports::publish::Outcome::Ok => format!(
            "{time} attempt {} {}: ok, {} bytes, {} file(s) in {} ms",
            a.attempt,
            a.destination,
            a.bytes,
            a.files.len(),
            a.duration_ms
        ),
        reports::publish::Outcome::Failed { kind, error } => format!(
            "{time} attempt {} {}: failed ({kind}): {error}",
            a.attempt, a.destination
        ),
    }
}
