//! SSH destinations: SFTP folder sync and SCP (one zip per run), as the Legrand connector has
//! them (feature `publish`).
//!
//! Both run over [`russh`] (pure Rust, ring crypto) and [`russh_sftp`]; the SCP bundle is
//! written with the `zip` crate (deflate).
//!
//! # Security
//! - The server's host key is checked against an OpenSSH `known_hosts` file
//!   ([`SshConfig::known_hosts`]; plain `host` / `[host]:port` entries and hashed `|1|` ones).
//!   A key that differs from the recorded one is always refused ([`PublishError::HostKey`]).
//!   An unknown host is refused too, unless [`SshConfig::trust_on_first_use`] is set: then
//!   its key is appended to the file and trusted from then on. Host patterns with
//!   wildcards (`*`, `?`, `!`) and the `@cert-authority` / `@revoked` markers are not
//!   understood (such lines match nothing): record each server as `[host]:port KEY`, as
//!   OpenSSH's own `ssh` writes it.
//! - Credentials: a password or a private key file (OpenSSH or PuTTY format, optionally
//!   encrypted). Ed25519 and ECDSA keys are supported (RSA keys are not compiled in).
//!
//! # SFTP folder sync: what "changed" means
//! A file is sent when the server has no file of that name, or when the remote file's
//! **size or modification time (whole seconds)** differs from the local one. After an upload
//! the remote file's modification time is set to the local one, so the next run finds it
//! equal and skips it ([`Sent::skipped_unchanged`]). The state is the remote folder itself,
//! no local state file: a file deleted or altered on the server is sent again, and a local
//! file rewritten with the same contents (new modification time) is sent again, which is
//! harmless (delivery is idempotent).
//!
//! Each file is written to `NAME.part`, its time set, then renamed to `NAME`. SFTP version 3
//! (OpenSSH) refuses to rename over an existing file, so an existing `NAME` is removed just
//! before the rename: a reader may briefly find no `NAME`, but never a partial one.
//!
//! # SCP: one zip per run
//! The run's files go into one zip ([`Scp::set_archive_name`], each entry named by its
//! [`UploadFile::remote_name`]), which is sent with the SCP protocol (`scp -t` on the
//! server) as `NAME.zip.part`; SCP has no rename, so the destination then runs
//! `mv -f -- NAME.zip.part NAME.zip` over the same SSH connection (the server account needs
//! a shell with `mv` and `mkdir`, which is the case for ordinary OpenSSH accounts; a
//! `scp`-only restricted account fails at that step with [`PublishError::Transfer`] and the
//! `.part` file stays). The zip is built in memory before connecting (export files are
//! small; the 7-file archive of a site is a few megabytes).
//!
//! # Threading
//! [`Destination::send`] is blocking: it runs the SSH session on a small current-thread
//! tokio runtime on a thread of its own and waits for it. It does not panic when called from
//! inside a tokio runtime, but it blocks the calling thread for the whole transfer, so async
//! callers (the monitor) call it from `tokio::task::spawn_blocking`, never from a runtime
//! worker thread.
//!
//! ```no_run
//! use reports::publish::{Destination, UploadFile};
//! use reports::publish::ssh::{Sftp, SshAuth, SshConfig};
//!
//! let mut config = SshConfig::new(
//!     "files.example.net",
//!     "emkit",
//!     SshAuth::KeyFile { path: "/etc/emkit/id_ed25519".into(), passphrase: None },
//!     "/etc/emkit/known_hosts",
//! );
//! config.dir = "upload/site-1".into();
//! let mut sftp = Sftp::new(config);
//! let sent = sftp.send(&[UploadFile {
//!     local: "/var/lib/emkit/export/energy.csv".into(),
//!     remote_name: "energy.csv".into(),
//! }])?;
//! for s in sent {
//!     println!("{}: {} bytes{}", s.file, s.bytes, if s.skipped_unchanged { " (unchanged)" } else { "" });
//! }
//! # Ok::<(), reports::publish::PublishError>(())
//! ```

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use russh::client;
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh_sftp::client::SftpSession;
use russh_sftp::protocol::{FileAttributes, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Destination, PublishError, Sent, UploadFile, check_remote_name};

/// How the destination logs in. In TOML, `auth = { password = "..." }` or
/// `auth = { key_file = { path = "/etc/emkit/id_ed25519" } }` (with `passphrase = "..."`
/// when the key is encrypted).
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SshAuth {
    /// Password authentication.
    Password(String),
    /// Public-key authentication with a private key file (OpenSSH or PuTTY format).
    KeyFile {
        /// The private key file.
        path: PathBuf,
        /// The key's passphrase, when it is encrypted.
        #[serde(default)]
        passphrase: Option<String>,
    },
}

impl std::fmt::Debug for SshAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Password(_) => f.write_str("Password(***)"),
            Self::KeyFile { path, passphrase } => f
                .debug_struct("KeyFile")
                .field("path", path)
                .field("passphrase", &passphrase.as_ref().map(|_| "***"))
                .finish(),
        }
    }
}

/// Where and how to connect (shared by [`Sftp`] and [`Scp`]). In TOML:
///
/// ```toml
/// host = "files.example.net"
/// port = 22                        # default 22
/// user = "emkit"
/// auth = { key_file = { path = "/etc/emkit/id_ed25519" } }   # or { password = "..." }
/// known_hosts = "/etc/emkit/known_hosts"
/// trust_on_first_use = false       # default: an unknown host is refused
/// dir = "upload/site-1"            # folder the files go to (created when missing)
/// timeout_ms = 30000
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshConfig {
    /// Server name or address.
    pub host: String,
    /// TCP port (default 22).
    #[serde(default = "default_port")]
    pub port: u16,
    /// The account.
    pub user: String,
    /// Password or key file.
    pub auth: SshAuth,
    /// OpenSSH `known_hosts` file the host key is checked against.
    pub known_hosts: PathBuf,
    /// Trust an unknown host on first use and append its key to [`Self::known_hosts`]
    /// (off by default: an unknown host is refused).
    #[serde(default)]
    pub trust_on_first_use: bool,
    /// Folder on the server the files go to, relative to the account's home folder or
    /// absolute (empty: the home folder). Created when missing.
    #[serde(default)]
    pub dir: String,
    /// Time allowed to connect and log in, and the longest silence during a transfer, in
    /// milliseconds (default 30 000).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

fn default_port() -> u16 {
    22
}

fn default_timeout() -> u64 {
    30_000
}

impl SshConfig {
    /// A configuration with port 22, the home folder, no first-use trust and a 30 s timeout.
    pub fn new(
        host: impl Into<String>,
        user: impl Into<String>,
        auth: SshAuth,
        known_hosts: impl Into<PathBuf>,
    ) -> Self {
        Self {
            host: host.into(),
            port: default_port(),
            user: user.into(),
            auth,
            known_hosts: known_hosts.into(),
            trust_on_first_use: false,
            dir: String::new(),
            timeout_ms: default_timeout(),
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.max(1))
    }

    fn url(&self, scheme: &str, tail: &str) -> String {
        let dir = self.dir.trim_start_matches('/');
        let sep = if tail.is_empty() || dir.is_empty() {
            ""
        } else {
            "/"
        };
        format!(
            "{scheme}://{}@{}:{}/{dir}{sep}{tail}",
            self.user, self.host, self.port
        )
    }

    /// `dir/name` (or `name` when the folder is the home folder).
    fn remote_path(&self, name: &str) -> String {
        let dir = self.dir.trim_end_matches('/');
        if dir.is_empty() {
            if self.dir.starts_with('/') {
                format!("/{name}")
            } else {
                name.to_owned()
            }
        } else {
            format!("{dir}/{name}")
        }
    }
}

/// SFTP folder sync: sends the files the server does not have yet or has in another version
/// (size or modification time), each under a temporary name renamed when complete.
#[derive(Debug, Clone)]
pub struct Sftp {
    config: SshConfig,
}

impl Sftp {
    /// A destination for `config`.
    #[must_use]
    pub fn new(config: SshConfig) -> Self {
        Self { config }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &SshConfig {
        &self.config
    }
}

impl Destination for Sftp {
    fn describe(&self) -> String {
        self.config.url("sftp", "")
    }

    fn send(&mut self, files: &[UploadFile]) -> Result<Vec<Sent>, PublishError> {
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let locals = files
            .iter()
            .map(LocalFile::inspect)
            .collect::<Result<Vec<_>, _>>()?;
        let config = self.config.clone();
        let destination = self.describe();
        run_blocking(async move {
            let session = Session::open(&config, &destination).await?;
            let result = sftp_sync(&session, &config, &destination, &locals).await;
            session.close().await;
            result
        })
    }
}

/// SCP: the run's files in one zip, sent as `NAME.part` and renamed (`mv`) to `NAME`.
#[derive(Debug, Clone)]
pub struct Scp {
    config: SshConfig,
    archive_name: String,
}

impl Scp {
    /// A destination for `config` that sends `archive_name` (for example the expanded
    /// template `export_%date.zip`) inside [`SshConfig::dir`].
    ///
    /// # Errors
    /// [`PublishError::Config`] when `archive_name` is not a plain relative name.
    pub fn new(config: SshConfig, archive_name: impl Into<String>) -> Result<Self, PublishError> {
        let mut scp = Self {
            config,
            archive_name: String::new(),
        };
        scp.set_archive_name(archive_name)?;
        Ok(scp)
    }

    /// Change the zip's name for the next run (each run expands its template again).
    ///
    /// # Errors
    /// [`PublishError::Config`] when `name` is not a plain relative name.
    pub fn set_archive_name(&mut self, name: impl Into<String>) -> Result<(), PublishError> {
        let name = name.into();
        check_remote_name(&name).map_err(|e| match e {
            PublishError::Config { message, .. } => PublishError::Config {
                field: "scp.archive_name".into(),
                message,
            },
            other => other,
        })?;
        self.archive_name = name;
        Ok(())
    }

    /// The zip's name.
    #[must_use]
    pub fn archive_name(&self) -> &str {
        &self.archive_name
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &SshConfig {
        &self.config
    }
}

impl Destination for Scp {
    fn describe(&self) -> String {
        self.config.url("scp", &self.archive_name)
    }

    /// Zips `files` and sends the zip; returns one [`Sent`] per file, whose `bytes` is the
    /// file's size (its contents went inside the zip).
    fn send(&mut self, files: &[UploadFile]) -> Result<Vec<Sent>, PublishError> {
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let locals = files
            .iter()
            .map(LocalFile::inspect)
            .collect::<Result<Vec<_>, _>>()?;
        let zip = build_zip(&locals)?;
        let config = self.config.clone();
        let destination = self.describe();
        let archive = self.archive_name.clone();
        run_blocking(async move {
            let session = Session::open(&config, &destination).await?;
            let result = scp_upload(&session, &config, &destination, &archive, zip).await;
            session.close().await;
            result
        })?;
        Ok(locals
            .into_iter()
            .map(|l| Sent {
                file: l.remote_name,
                bytes: l.size,
                skipped_unchanged: false,
            })
            .collect())
    }
}

/// A local file checked before connecting.
#[derive(Debug, Clone)]
struct LocalFile {
    local: PathBuf,
    remote_name: String,
    size: u64,
    /// Modification time, whole seconds since 1970 (SFTP v3 times are 32-bit seconds).
    mtime: u32,
}

impl LocalFile {
    fn inspect(file: &UploadFile) -> Result<Self, PublishError> {
        check_remote_name(&file.remote_name)?;
        let meta = std::fs::metadata(&file.local).map_err(|source| PublishError::Io {
            path: file.local.clone(),
            source,
        })?;
        if !meta.is_file() {
            return Err(PublishError::Io {
                path: file.local.clone(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file"),
            });
        }
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
        Ok(Self {
            local: file.local.clone(),
            remote_name: file.remote_name.clone(),
            size: meta.len(),
            mtime,
        })
    }

    fn open(&self) -> Result<std::fs::File, PublishError> {
        std::fs::File::open(&self.local).map_err(|source| self.io(source))
    }

    fn io(&self, source: std::io::Error) -> PublishError {
        PublishError::Io {
            path: self.local.clone(),
            source,
        }
    }
}

/// Run `fut` on a current-thread runtime on a thread of its own and wait for it.
fn run_blocking<T: Send>(
    fut: impl Future<Output = Result<T, PublishError>> + Send,
) -> Result<T, PublishError> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|source| PublishError::Io {
                        path: PathBuf::from("<tokio runtime>"),
                        source,
                    })?;
                runtime.block_on(fut)
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// What the host-key check decided (kept to give a typed error after the handshake).
#[derive(Debug, Clone)]
enum HostKeyVerdict {
    Changed { line: usize },
    Unknown,
    Unreadable(String),
    Certificate,
}

struct Handler {
    host: String,
    port: u16,
    known_hosts: PathBuf,
    trust_on_first_use: bool,
    verdict: Arc<Mutex<Option<HostKeyVerdict>>>,
}

impl Handler {
    fn refuse(&self, verdict: HostKeyVerdict) -> bool {
        if let Ok(mut slot) = self.verdict.lock() {
            *slot = Some(verdict);
        }
        false
    }
}

impl client::Handler for Handler {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = server_public_key else {
            return Ok(self.refuse(HostKeyVerdict::Certificate));
        };
        match russh::keys::check_known_hosts_path(&self.host, self.port, key, &self.known_hosts) {
            Ok(true) => Ok(true),
            Ok(false) if self.trust_on_first_use => {
                match russh::keys::known_hosts::learn_known_hosts_path(
                    &self.host,
                    self.port,
                    key,
                    &self.known_hosts,
                ) {
                    Ok(()) => {
                        tracing::warn!(
                            host = %self.host, port = self.port,
                            known_hosts = %self.known_hosts.display(),
                            fingerprint = %key.fingerprint(Default::default()),
                            "unknown SSH host trusted on first use; its key was recorded"
                        );
                        Ok(true)
                    }
                    Err(e) => Ok(self.refuse(HostKeyVerdict::Unreadable(format!(
                        "cannot record the key in {}: {e}",
                        self.known_hosts.display()
                    )))),
                }
            }
            Ok(false) => Ok(self.refuse(HostKeyVerdict::Unknown)),
            Err(russh::keys::Error::KeyChanged { line }) => {
                Ok(self.refuse(HostKeyVerdict::Changed { line }))
            }
            Err(e) => Ok(self.refuse(HostKeyVerdict::Unreadable(format!(
                "{}: {e}",
                self.known_hosts.display()
            )))),
        }
    }
}

/// A logged-in SSH connection.
struct Session {
    handle: client::Handle<Handler>,
    timeout: Duration,
}

impl Session {
    async fn open(config: &SshConfig, destination: &str) -> Result<Self, PublishError> {
        let connect_err = |message: String| PublishError::Connect {
            destination: destination.to_owned(),
            message,
        };
        let verdict = Arc::new(Mutex::new(None));
        let handler = Handler {
            host: config.host.clone(),
            port: config.port,
            known_hosts: config.known_hosts.clone(),
            trust_on_first_use: config.trust_on_first_use,
            verdict: Arc::clone(&verdict),
        };
        let ssh_config = Arc::new(client::Config {
            inactivity_timeout: Some(config.timeout()),
            nodelay: true,
            ..client::Config::default()
        });
        let connected = tokio::time::timeout(
            config.timeout(),
            client::connect(ssh_config, (config.host.as_str(), config.port), handler),
        )
        .await;
        let mut handle = match connected {
            Err(_) => {
                return Err(connect_err(format!(
                    "no SSH session within {:?}",
                    config.timeout()
                )));
            }
            Ok(Ok(handle)) => handle,
            Ok(Err(e)) => {
                let verdict = verdict.lock().ok().and_then(|mut v| v.take());
                return Err(match verdict {
                    Some(v) => host_key_error(config, destination, &v),
                    None => connect_err(e.to_string()),
                });
            }
        };
        let auth = tokio::time::timeout(config.timeout(), authenticate(&mut handle, config)).await;
        let auth_err = |message: String| PublishError::Auth {
            destination: destination.to_owned(),
            message,
        };
        match auth {
            Err(_) => {
                return Err(auth_err(format!("no answer within {:?}", config.timeout())));
            }
            Ok(Err(AuthFailure::Local(e))) => return Err(e),
            Ok(Err(AuthFailure::Protocol(e))) => return Err(auth_err(e.to_string())),
            Ok(Ok(result)) if result.success() => {}
            Ok(Ok(_)) => {
                return Err(auth_err(format!(
                    "the server refused the {} of user {:?}",
                    match config.auth {
                        SshAuth::Password(_) => "password",
                        SshAuth::KeyFile { .. } => "key",
                    },
                    config.user
                )));
            }
        }
        Ok(Self {
            handle,
            timeout: config.timeout(),
        })
    }

    async fn close(self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }

    /// Run `command` in its own channel; returns the exit status and what it wrote on stderr.
    async fn exec(&self, command: &str) -> Result<(u32, String), russh::Error> {
        let mut channel = self.handle.channel_open_session().await?;
        channel.exec(true, command).await?;
        let mut status = None;
        let mut stderr = Vec::new();
        let waited = tokio::time::timeout(self.timeout, async {
            while let Some(msg) = channel.wait().await {
                match msg {
                    russh::ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
                    russh::ChannelMsg::ExtendedData { data, .. } => stderr.extend_from_slice(&data),
                    russh::ChannelMsg::Failure => status = status.or(Some(255)),
                    _ => {}
                }
            }
        })
        .await;
        if waited.is_err() {
            return Err(russh::Error::InactivityTimeout);
        }
        Ok((
            status.unwrap_or(255),
            String::from_utf8_lossy(&stderr).trim().to_owned(),
        ))
    }
}

enum AuthFailure {
    Local(PublishError),
    Protocol(russh::Error),
}

async fn authenticate(
    handle: &mut client::Handle<Handler>,
    config: &SshConfig,
) -> Result<client::AuthResult, AuthFailure> {
    match &config.auth {
        SshAuth::Password(password) => handle
            .authenticate_password(config.user.clone(), password.clone())
            .await
            .map_err(AuthFailure::Protocol),
        SshAuth::KeyFile { path, passphrase } => {
            let key = load_key(path, passphrase.as_deref()).map_err(AuthFailure::Local)?;
            let key = PrivateKeyWithHashAlg::new(Arc::new(key), None);
            handle
                .authenticate_publickey(config.user.clone(), key)
                .await
                .map_err(AuthFailure::Protocol)
        }
    }
}

fn load_key(
    path: &Path,
    passphrase: Option<&str>,
) -> Result<russh::keys::PrivateKey, PublishError> {
    let text = std::fs::read_to_string(path).map_err(|source| PublishError::Io {
        path: path.to_owned(),
        source,
    })?;
    russh::keys::decode_secret_key(&text, passphrase).map_err(|e| PublishError::Config {
        field: "ssh.key_file".into(),
        message: format!(
            "{}: expected an Ed25519 or ECDSA private key (OpenSSH or PuTTY format{}): {e}",
            path.display(),
            if passphrase.is_some() {
                ", with the right passphrase"
            } else {
                "; encrypted keys need the passphrase"
            }
        ),
    })
}

fn host_key_error(config: &SshConfig, destination: &str, verdict: &HostKeyVerdict) -> PublishError {
    let file = config.known_hosts.display();
    let message = match verdict {
        HostKeyVerdict::Changed { line } => format!(
            "the server's key differs from the one recorded in {file} line {line} \
             (possible man-in-the-middle attack; if the server's key really changed, \
             remove that line)"
        ),
        HostKeyVerdict::Unknown => {
            format!("the host is not in {file} (add its key, or allow trust on first use)")
        }
        HostKeyVerdict::Unreadable(message) => message.clone(),
        HostKeyVerdict::Certificate => {
            "the server presented a host certificate; only plain host keys recorded in \
             known_hosts are supported"
                .to_owned()
        }
    };
    PublishError::HostKey {
        destination: destination.to_owned(),
        message,
    }
}

fn transfer_err(destination: &str, file: &str, message: impl std::fmt::Display) -> PublishError {
    PublishError::Transfer {
        destination: destination.to_owned(),
        file: file.to_owned(),
        message: message.to_string(),
    }
}

fn is_no_such_file(e: &russh_sftp::client::error::Error) -> bool {
    matches!(e, russh_sftp::client::error::Error::Status(s) if s.status_code == StatusCode::NoSuchFile)
}

async fn sftp_sync(
    session: &Session,
    config: &SshConfig,
    destination: &str,
    files: &[LocalFile],
) -> Result<Vec<Sent>, PublishError> {
    let channel = session
        .handle
        .channel_open_session()
        .await
        .map_err(|e| transfer_err(destination, "sftp", e))?;
    channel
        .request_subsystem(true, "sftp")
        .await
        .map_err(|e| transfer_err(destination, "sftp", e))?;
    let sftp = tokio::time::timeout(config.timeout(), SftpSession::new(channel.into_stream()))
        .await
        .map_err(|_| transfer_err(destination, "sftp", "no SFTP subsystem answer"))?
        .map_err(|e| transfer_err(destination, "sftp", e))?;
    sftp.set_timeout(config.timeout().as_secs().max(1));

    let mut dirs_ready = HashSet::new();
    let mut sent = Vec::with_capacity(files.len());
    for file in files {
        let remote = config.remote_path(&file.remote_name);
        let unchanged = match sftp.metadata(remote.as_str()).await {
            Ok(attrs) => attrs.size == Some(file.size) && attrs.mtime == Some(file.mtime),
            Err(e) if is_no_such_file(&e) => false,
            Err(e) => return Err(transfer_err(destination, &file.remote_name, e)),
        };
        if unchanged {
            tracing::debug!(destination, file = %file.remote_name, "unchanged on the server");
            sent.push(Sent {
                file: file.remote_name.clone(),
                bytes: 0,
                skipped_unchanged: true,
            });
            continue;
        }
        if let Some((dir, _)) = remote.rsplit_once('/') {
            ensure_dir(&sftp, dir, &mut dirs_ready)
                .await
                .map_err(|e| transfer_err(destination, dir, e))?;
        }
        upload_one(&sftp, file, &remote, destination).await?;
        tracing::info!(destination, file = %file.remote_name, bytes = file.size, "sent by SFTP");
        sent.push(Sent {
            file: file.remote_name.clone(),
            bytes: file.size,
            skipped_unchanged: false,
        });
    }
    let _ = sftp.close().await;
    Ok(sent)
}

/// Create `dir` and its missing parents.
async fn ensure_dir(
    sftp: &SftpSession,
    dir: &str,
    ready: &mut HashSet<String>,
) -> Result<(), russh_sftp::client::error::Error> {
    if dir.is_empty() || ready.contains(dir) {
        return Ok(());
    }
    let mut prefix = String::new();
    for (i, part) in dir.split('/').enumerate() {
        if i > 0 || dir.starts_with('/') {
            prefix.push('/');
        }
        prefix.push_str(part);
        if part.is_empty() || ready.contains(&prefix) {
            continue;
        }
        match sftp.metadata(prefix.as_str()).await {
            Ok(_) => {}
            Err(e) if is_no_such_file(&e) => sftp.create_dir(prefix.as_str()).await?,
            Err(e) => return Err(e),
        }
        ready.insert(prefix.clone());
    }
    Ok(())
}

async fn upload_one(
    sftp: &SftpSession,
    file: &LocalFile,
    remote: &str,
    destination: &str,
) -> Result<(), PublishError> {
    let name = file.remote_name.as_str();
    let part = format!("{remote}.part");
    let mut local = file.open()?;
    let mut out = sftp
        .create(part.as_str())
        .await
        .map_err(|e| transfer_err(destination, name, format!("create {part}: {e}")))?;
    let mut buf = vec![0_u8; 64 * 1024];
    loop {
        let n = local.read(&mut buf).map_err(|e| file.io(e))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])
            .await
            .map_err(|e| transfer_err(destination, name, format!("write {part}: {e}")))?;
    }
    out.shutdown()
        .await
        .map_err(|e| transfer_err(destination, name, format!("write {part}: {e}")))?;
    drop(out);
    let times = FileAttributes {
        mtime: Some(file.mtime),
        atime: Some(file.mtime),
        ..FileAttributes::empty()
    };
    sftp.set_metadata(part.as_str(), times)
        .await
        .map_err(|e| transfer_err(destination, name, format!("set the time of {part}: {e}")))?;
    // SFTP v3 rename does not replace: remove the previous version first.
    match sftp.remove_file(remote).await {
        Ok(()) => {}
        Err(e) if is_no_such_file(&e) => {}
        Err(e) => {
            return Err(transfer_err(
                destination,
                name,
                format!("remove the previous {remote}: {e}"),
            ));
        }
    }
    sftp.rename(part.as_str(), remote)
        .await
        .map_err(|e| transfer_err(destination, name, format!("rename {part} to {remote}: {e}")))
}

/// The run's files in one zip (deflate), entries named by their remote names and dated by
/// their modification times (UTC).
fn build_zip(files: &[LocalFile]) -> Result<Vec<u8>, PublishError> {
    let zip_err = |file: &LocalFile, e: zip::result::ZipError| {
        file.io(std::io::Error::other(format!(
            "zip entry {}: {e}",
            file.remote_name
        )))
    };
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for file in files {
        let mut options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(file.size >= u64::from(u32::MAX));
        if let Some(time) = zip_time(file.mtime) {
            options = options.last_modified_time(time);
        }
        zip.start_file(file.remote_name.as_str(), options)
            .map_err(|e| zip_err(file, e))?;
        let mut local = file.open()?;
        std::io::copy(&mut local, &mut zip).map_err(|e| file.io(e))?;
    }
    let cursor = zip.finish().map_err(|e| PublishError::Io {
        path: PathBuf::from("<zip>"),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(cursor.into_inner())
}

fn zip_time(mtime: u32) -> Option<zip::DateTime> {
    use chrono::{Datelike, Timelike};
    let t = chrono::DateTime::from_timestamp(i64::from(mtime), 0)?;
    zip::DateTime::from_date_and_time(
        u16::try_from(t.year()).ok()?,
        u8::try_from(t.month()).ok()?,
        u8::try_from(t.day()).ok()?,
        u8::try_from(t.hour()).ok()?,
        u8::try_from(t.minute()).ok()?,
        u8::try_from(t.second()).ok()?,
    )
    .ok()
}

/// Quote `s` for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

async fn scp_upload(
    session: &Session,
    config: &SshConfig,
    destination: &str,
    archive: &str,
    zip: Vec<u8>,
) -> Result<(), PublishError> {
    let remote = config.remote_path(archive);
    let part = format!("{remote}.part");
    let err = |m: String| transfer_err(destination, archive, m);
    if let Some((dir, _)) = remote.rsplit_once('/')
        && !dir.is_empty()
    {
        let (status, stderr) = session
            .exec(&format!("mkdir -p -- {}", shell_quote(dir)))
            .await
            .map_err(|e| err(format!("mkdir {dir}: {e}")))?;
        if status != 0 {
            return Err(err(format!("mkdir {dir}: exit status {status}: {stderr}")));
        }
    }

    let channel = session
        .handle
        .channel_open_session()
        .await
        .map_err(|e| err(e.to_string()))?;
    channel
        .exec(true, format!("scp -t -- {}", shell_quote(&part)))
        .await
        .map_err(|e| err(e.to_string()))?;
    let mut stream = channel.into_stream();
    let part_name = part.rsplit('/').next().unwrap_or(&part).to_owned();
    let protocol = async {
        scp_ack(&mut stream).await?;
        let header = format!("C0644 {} {part_name}\n", zip.len());
        stream.write_all(header.as_bytes()).await?;
        stream.flush().await?;
        scp_ack(&mut stream).await?;
        stream.write_all(&zip).await?;
        stream.write_all(&[0]).await?;
        stream.flush().await?;
        scp_ack(&mut stream).await?;
        stream.shutdown().await
    };
    tokio::time::timeout(session.timeout.saturating_mul(4), protocol)
        .await
        .map_err(|_| err(format!("scp to {part}: no progress")))?
        .map_err(|e| err(format!("scp to {part}: {e}")))?;
    drop(stream);

    let (status, stderr) = session
        .exec(&format!(
            "mv -f -- {} {}",
            shell_quote(&part),
            shell_quote(&remote)
        ))
        .await
        .map_err(|e| err(format!("mv {part} {remote}: {e}")))?;
    if status != 0 {
        return Err(err(format!(
            "mv {part} {remote}: exit status {status}: {stderr}"
        )));
    }
    tracing::info!(destination, bytes = zip.len(), "zip sent by SCP");
    Ok(())
}

/// Read one SCP acknowledgement: 0, or 1/2 followed by a message line.
async fn scp_ack<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<()> {
    let mut code = [0_u8; 1];
    stream.read_exact(&mut code).await?;
    if code[0] == 0 {
        return Ok(());
    }
    let mut message = Vec::new();
    let mut byte = [0_u8; 1];
    while message.len() < 1024 {
        match stream.read(&mut byte).await? {
            0 => break,
            _ if byte[0] == b'\n' => break,
            _ => message.push(byte[0]),
        }
    }
    Err(std::io::Error::other(format!(
        "the server's scp answered {}: {}",
        code[0],
        String::from_utf8_lossy(&message).trim()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &str) -> SshConfig {
        let mut c = SshConfig::new("h", "u", SshAuth::Password("secret".into()), "/kh");
        c.dir = dir.into();
        c
    }

    #[test]
    fn remote_paths_join_the_folder() {
        assert_eq!(config("").remote_path("a.csv"), "a.csv");
        assert_eq!(config("up/").remote_path("a.csv"), "up/a.csv");
        assert_eq!(config("/").remote_path("a.csv"), "/a.csv");
        assert_eq!(config("/srv/in").remote_path("x/a.csv"), "/srv/in/x/a.csv");
    }

    #[test]
    fn descriptions_hide_the_password() {
        let c = config("up");
        assert_eq!(Sftp::new(c.clone()).describe(), "sftp://u@h:22/up");
        let scp = Scp::new(c.clone(), "e.zip").unwrap();
        assert_eq!(scp.describe(), "scp://u@h:22/up/e.zip");
        assert!(!format!("{c:?}").contains("secret"));
        assert!(Scp::new(c, "../e.zip").is_err());
    }

    #[test]
    fn configurations_read_from_toml() {
        let c: SshConfig = toml::from_str(
            r#"
            host = "files.example.net"
            user = "emkit"
            auth = { key_file = { path = "/etc/emkit/id_ed25519" } }
            known_hosts = "/etc/emkit/known_hosts"
            dir = "upload/site-1"
            "#,
        )
        .unwrap();
        let mut expected = SshConfig::new(
            "files.example.net",
            "emkit",
            SshAuth::KeyFile {
                path: "/etc/emkit/id_ed25519".into(),
                passphrase: None,
            },
            "/etc/emkit/known_hosts",
        );
        expected.dir = "upload/site-1".into();
        assert_eq!(c, expected);
        let p: SshConfig = toml::from_str(
            "host = 'h'\nport = 2222\nuser = 'u'\nauth = { password = 'pw' }\n\
             known_hosts = 'kh'\ntrust_on_first_use = true\ntimeout_ms = 5000\n",
        )
        .unwrap();
        assert_eq!(p.auth, SshAuth::Password("pw".into()));
        assert_eq!(
            (p.port, p.trust_on_first_use, p.timeout()),
            (2222, true, Duration::from_secs(5))
        );
        let err = toml::from_str::<SshConfig>(
            "host = 'h'\nuser = 'u'\nauth = { password = 'pw' }\nknown_hosts = 'kh'\nremote_dir = 'x'\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("remote_dir"), "{err}");
    }

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn zip_times_are_utc_fields() {
        // 2026-03-29 01:30:00 UTC
        let t = zip_time(1_774_747_800).unwrap();
        assert_eq!(
            (
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
            (2026, 3, 29, 1, 30, 0)
        );
        // Before 1980 a zip cannot date the entry.
        assert!(zip_time(0).is_none());
    }
}
