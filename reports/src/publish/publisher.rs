//! One publication run: files to a destination, retried with backoff, every attempt logged.

use std::time::{Duration, Instant};

use chrono::Utc;

use super::log::{Attempt, AttemptLog, Outcome};
use super::{Destination, PublishError, Sent, UploadFile};

/// How a run retries: up to `attempts` tries, waiting `first_delay`, then twice as long each
/// time, at most `max_delay`. Only transient errors ([`PublishError::is_transient`]) are
/// retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Tries per run, at least 1 (default 3).
    pub attempts: u32,
    /// The wait after the first failure (default 10 s); in configuration files, `first_delay_ms`.
    #[serde(rename = "first_delay_ms", with = "millis")]
    pub first_delay: Duration,
    /// The longest wait (default 5 min); in configuration files, `max_delay_ms`.
    #[serde(rename = "max_delay_ms", with = "millis")]
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            first_delay: Duration::from_secs(10),
            max_delay: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (from 1).
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = reports::publish::RetryPolicy::default();
    /// assert_eq!(p.delay(1), Duration::from_secs(10));
    /// assert_eq!(p.delay(2), Duration::from_secs(20));
    /// assert_eq!(p.delay(10), Duration::from_secs(300));
    /// ```
    #[must_use]
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.first_delay.saturating_mul(factor).min(self.max_delay)
    }
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// Runs a publication: sends files to a [`Destination`], retrying transient failures with
/// backoff ([`RetryPolicy`]) and appending every attempt to an [`AttemptLog`].
///
/// Blocking: call it from a blocking thread. When every attempt fails, [`Publisher::run`]
/// returns the last error and nothing is lost: the files are the caller's (the export
/// archive keeps them), the caller runs the same files again later (at the next scheduled
/// time, or sooner), and since every upload goes to a temporary name and is renamed, sending
/// a file twice only replaces it with the same content.
///
/// ```
/// use reports::publish::{AttemptLog, Folder, Publisher, UploadFile};
/// let dir = tempfile::tempdir().unwrap();
/// let local = dir.path().join("export.csv");
/// std::fs::write(&local, "time;kWh\n").unwrap();
/// let log = AttemptLog::new(dir.path().join("publish.jsonl"));
/// let mut p = Publisher::new("daily", Folder::new(dir.path().join("out"))).with_log(log.clone());
/// let sent = p.run(&[UploadFile { local, remote_name: "e.csv".into() }]).unwrap();
/// assert_eq!(sent[0].bytes, 9);
/// assert_eq!(log.last(1).unwrap()[0].bytes, 9);
/// ```
pub struct Publisher<D: Destination> {
    name: String,
    destination: D,
    log: Option<AttemptLog>,
    retry: RetryPolicy,
}

impl<D: Destination> Publisher<D> {
    /// A publisher named `name` (as the attempt log shows it) sending to `destination`, with
    /// the default [`RetryPolicy`] and no log.
    pub fn new(name: impl Into<String>, destination: D) -> Self {
        Self {
            name: name.into(),
            destination,
            log: None,
            retry: RetryPolicy::default(),
        }
    }

    /// Append every attempt to `log`.
    #[must_use]
    pub fn with_log(mut self, log: AttemptLog) -> Self {
        self.log = Some(log);
        self
    }

    /// Retry with `retry`.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The destination.
    pub fn destination(&self) -> &D {
        &self.destination
    }

    /// Send `files` (see the type's documentation for retries and what a failure means).
    ///
    /// # Errors
    /// The last attempt's [`PublishError`]. A failure to write the attempt log is logged with
    /// `tracing` and does not fail a delivery.
    pub fn run(&mut self, files: &[UploadFile]) -> Result<Vec<Sent>, PublishError> {
        let names: Vec<String> = files.iter().map(|f| f.remote_name.clone()).collect();
        let attempts = self.retry.attempts.max(1);
        let mut n = 1;
        loop {
            let time = Utc::now();
            let started = Instant::now();
            let result = self.destination.send(files);
            let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let (outcome, bytes, sent) = match &result {
                Ok(sent) => (
                    Outcome::Ok,
                    sent.iter().map(|s| s.bytes).sum(),
                    sent.clone(),
                ),
                Err(e) => (
                    Outcome::Failed {
                        kind: e.kind().into(),
                        error: e.to_string(),
                    },
                    0,
                    Vec::new(),
                ),
            };
            let attempt = Attempt {
                time,
                publication: self.name.clone(),
                destination: self.destination.describe(),
                attempt: n,
                files: names.clone(),
                bytes,
                duration_ms,
                outcome,
                sent,
            };
            if let Some(log) = &self.log
                && let Err(e) = log.append(&attempt)
            {
                tracing::warn!(publication = %self.name, error = %e, "cannot write the attempt log");
            }
            match result {
                Ok(sent) => {
                    tracing::info!(publication = %self.name, destination = %attempt.destination,
                        files = files.len(), bytes, attempt = n, "published");
                    return Ok(sent);
                }
                Err(e) if n < attempts && e.is_transient() => {
                    let wait = self.retry.delay(n);
                    tracing::warn!(publication = %self.name, error = %e, attempt = n,
                        retry_in_ms = wait.as_millis() as u64, "publication failed, retrying");
                    std::thread::sleep(wait);
                    n += 1;
                }
                Err(e) => {
                    tracing::warn!(publication = %self.name, error = %e, attempt = n,
                        "publication failed; the files wait for the next run");
                    return Err(e);
                }
            }
        }
    }
}

impl<D: Destination + ?Sized> Destination for Box<D> {
    fn describe(&self) -> String {
        (**self).describe()
    }

    fn send(&mut self, files: &[UploadFile]) -> Result<Vec<Sent>, PublishError> {
        (**self).send(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails `failures` times with `make_error`, then delivers.
    struct Flaky {
        failures: u32,
        calls: u32,
        make_error: fn() -> PublishError,
    }

    impl Destination for Flaky {
        fn describe(&self) -> String {
            "flaky".into()
        }
        fn send(&mut self, files: &[UploadFile]) -> Result<Vec<Sent>, PublishError> {
            self.calls += 1;
            if self.calls <= self.failures {
                return Err((self.make_error)());
            }
            Ok(files
                .iter()
                .map(|f| Sent {
                    file: f.remote_name.clone(),
                    bytes: 5,
                    skipped_unchanged: false,
                })
                .collect())
        }
    }

    fn connect() -> PublishError {
        PublishError::Connect {
            destination: "flaky".into(),
            message: "refused".into(),
        }
    }

    fn auth() -> PublishError {
        PublishError::Auth {
            destination: "flaky".into(),
            message: "530".into(),
        }
    }

    fn fast(attempts: u32) -> RetryPolicy {
        RetryPolicy {
            attempts,
            first_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(30),
        }
    }

    fn files() -> Vec<UploadFile> {
        vec![UploadFile {
            local: "a".into(),
            remote_name: "a.csv".into(),
        }]
    }

    #[test]
    fn transient_failures_are_retried_with_backoff_and_every_attempt_is_logged() {
        let dir = tempfile::tempdir().unwrap();
        let log = AttemptLog::new(dir.path().join("l.jsonl"));
        let d = Flaky {
            failures: 2,
            calls: 0,
            make_error: connect,
        };
        let mut p = Publisher::new("p", d)
            .with_log(log.clone())
            .with_retry(fast(3));
        let started = Instant::now();
        let sent = p.run(&files()).unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(50),
            "waited 20 + 30 ms"
        );
        assert_eq!(sent.len(), 1);
        let attempts = log.last(10).unwrap();
        let summary: Vec<(u32, u64, bool)> = attempts
            .iter()
            .map(|a| (a.attempt, a.bytes, a.outcome == Outcome::Ok))
            .collect();
        assert_eq!(summary, [(1, 0, false), (2, 0, false), (3, 5, true)]);
        assert_eq!(attempts[0].files, ["a.csv"]);
    }

    #[test]
    fn a_run_that_keeps_failing_returns_the_error_and_a_later_run_delivers() {
        let dir = tempfile::tempdir().unwrap();
        let log = AttemptLog::new(dir.path().join("l.jsonl"));
        let d = Flaky {
            failures: 2,
            calls: 0,
            make_error: connect,
        };
        let mut p = Publisher::new("p", d)
            .with_log(log.clone())
            .with_retry(fast(2));
        assert!(matches!(p.run(&files()), Err(PublishError::Connect { .. })));
        assert!(p.run(&files()).is_ok());
        assert_eq!(log.last(10).unwrap().len(), 3);
    }

    #[test]
    fn permanent_errors_are_not_retried() {
        let d = Flaky {
            failures: 5,
            calls: 0,
            make_error: auth,
        };
        let mut p = Publisher::new("p", d).with_retry(fast(4));
        assert!(matches!(p.run(&files()), Err(PublishError::Auth { .. })));
        assert_eq!(p.destination().calls, 1);
    }

    #[test]
    fn retry_policy_reads_from_toml_with_defaults() {
        let p: RetryPolicy = toml::from_str("attempts = 5\nfirst_delay_ms = 100").unwrap();
        assert_eq!(p.attempts, 5);
        assert_eq!(p.delay(3), Duration::from_millis(400));
        assert_eq!(p.max_delay, Duration::from_secs(300));
        assert!(toml::from_str::<RetryPolicy>("tries = 5").is_err());
    }
}
