//! FTP and FTPS (explicit TLS, `AUTH TLS`) with `suppaftp` over rustls (ring).

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::{Deserialize, Serialize};
use suppaftp::types::FileType;
use suppaftp::{FtpError, RustlsConnector, RustlsFtpStream};

use super::{Destination, PublishError, Sent, UploadFile, check_remote_name, temp_name};

/// Whether the control and data connections are encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FtpTls {
    /// Plain FTP (credentials in clear: only on trusted networks).
    None,
    /// Explicit FTPS: `AUTH TLS` on the control connection, then `PROT P` (encrypted data).
    #[default]
    Explicit,
}

/// An FTP or FTPS server. In TOML:
///
/// ```toml
/// host = "ftp.example.com"
/// port = 21                 # default 21
/// user = "emkit"
/// password = "..."
/// dir = "/incoming"         # folder the files go to (created when missing)
/// tls = "explicit"          # default; "none" for plain FTP
/// ca_file = "ca.pem"        # optional: extra trusted certificates (PEM)
/// allow_self_signed = false # default: the certificate must verify
/// timeout_ms = 30000
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FtpConfig {
    /// Host name or IP address (also the name the certificate must be for).
    pub host: String,
    /// TCP port (default 21).
    #[serde(default = "default_port")]
    pub port: u16,
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
    /// Remote folder (relative to the login folder unless it starts with `/`); created when
    /// missing. Empty: the login folder.
    #[serde(default)]
    pub dir: String,
    /// Plain FTP or explicit FTPS (default).
    #[serde(default)]
    pub tls: FtpTls,
    /// Extra trusted certificates (PEM), besides the Mozilla roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate (self-signed, expired, other name): the connection is
    /// still encrypted but the server is **not authenticated**. Off unless set explicitly;
    /// prefer `ca_file` with the server's certificate.
    #[serde(default)]
    pub allow_self_signed: bool,
    /// Connect, read and write timeout in milliseconds (default 30 000).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

fn default_port() -> u16 {
    21
}

fn default_timeout() -> u64 {
    30_000
}

impl std::fmt::Debug for FtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &"(hidden)")
            .field("dir", &self.dir)
            .field("tls", &self.tls)
            .field("ca_file", &self.ca_file)
            .field("allow_self_signed", &self.allow_self_signed)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

/// An FTP/FTPS destination: one connection per [`Destination::send`], binary transfers in
/// passive mode, each file stored under its temporary name
/// ([`temp_name`](super::temp_name)) and renamed (`RNFR`/`RNTO`) once the server has
/// confirmed the upload.
///
/// ```no_run
/// use reports::publish::{Destination, Ftp, FtpConfig, UploadFile};
/// let cfg: FtpConfig = toml::from_str(r#"
///     host = "ftp.example.com"
///     user = "emkit"
///     password = "s3cret-Pw"
///     dir = "/incoming/%dow"
/// "#).unwrap();
/// let mut ftp = Ftp::new(cfg).unwrap();
/// ftp.send(&[UploadFile { local: "export.csv".into(), remote_name: "export.csv".into() }]).unwrap();
/// ```
#[derive(Debug)]
pub struct Ftp {
    cfg: FtpConfig,
    tls: Option<Arc<ClientConfig>>,
}

impl Ftp {
    /// Check the configuration and prepare the TLS settings (reads `ca_file`).
    ///
    /// # Errors
    /// [`PublishError::Config`] (empty host or user, unreadable or empty `ca_file`).
    pub fn new(cfg: FtpConfig) -> Result<Self, PublishError> {
        let field = |f: &str, m: &str| PublishError::Config {
            field: f.into(),
            message: m.into(),
        };
        if cfg.host.trim().is_empty() {
            return Err(field(
                "host",
                "expected a host name or address, found nothing",
            ));
        }
        if cfg.user.is_empty() {
            return Err(field("user", "expected a user name, found nothing"));
        }
        if cfg.timeout_ms == 0 {
            return Err(field("timeout_ms", "expected a timeout above 0"));
        }
        let tls = match cfg.tls {
            FtpTls::None => None,
            FtpTls::Explicit => Some(Arc::new(client_config(&cfg)?)),
        };
        Ok(Self { cfg, tls })
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.cfg.timeout_ms)
    }

    fn connect(&self) -> Result<RustlsFtpStream, PublishError> {
        let dest = self.describe();
        let connect_err = |message: String| PublishError::Connect {
            destination: dest.clone(),
            message,
        };
        let addrs: Vec<SocketAddr> = (self.cfg.host.as_str(), self.cfg.port)
            .to_socket_addrs()
            .map_err(|e| connect_err(format!("cannot resolve {}: {e}", self.cfg.host)))?
            .collect();
        let mut last = String::from("no address");
        let mut stream = None;
        for a in addrs {
            match open(a, self.timeout()) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = format!("{a}: {e}"),
            }
        }
        let stream = stream.ok_or_else(|| connect_err(last))?;
        let timeout = self.timeout();
        let ftp = RustlsFtpStream::connect_with_stream(stream)
            .map_err(|e| connect_err(format!("no FTP greeting: {e}")))?
            .passive_stream_builder(move |addr| {
                open(addr, timeout).map_err(FtpError::ConnectionError)
            });
        match &self.tls {
            None => Ok(ftp),
            Some(cfg) => ftp
                .into_secure(RustlsConnector::from(Arc::clone(cfg)), &self.cfg.host)
                .map_err(|e| PublishError::Tls {
                    destination: dest.clone(),
                    message: tls_message(&e),
                }),
        }
    }

    fn upload_all(
        &self,
        ftp: &mut RustlsFtpStream,
        files: &[UploadFile],
    ) -> Result<Vec<Sent>, PublishError> {
        let dest = self.describe();
        let transfer = |file: &str, e: FtpError| PublishError::Transfer {
            destination: dest.clone(),
            file: file.into(),
            message: e.to_string(),
        };
        ftp.login(self.cfg.user.as_str(), self.cfg.password.as_str())
            .map_err(|e| match e {
                FtpError::UnexpectedResponse(_) => PublishError::Auth {
                    destination: dest.clone(),
                    message: e.to_string(),
                },
                e => transfer("(login)", e),
            })?;
        ftp.transfer_type(FileType::Binary)
            .map_err(|e| transfer("(TYPE I)", e))?;
        if !self.cfg.dir.is_empty() {
            enter_dir(ftp, &self.cfg.dir).map_err(|e| transfer(&self.cfg.dir, e))?;
        }
        let mut sent = Vec::with_capacity(files.len());
        for f in files {
            check_remote_name(&f.remote_name)?;
            if let Some((sub, _)) = f.remote_name.rsplit_once('/') {
                make_dirs(ftp, sub).map_err(|e| transfer(sub, e))?;
            }
            let tmp = temp_name(&f.remote_name);
            let mut local = std::fs::File::open(&f.local).map_err(|source| PublishError::Io {
                path: f.local.clone(),
                source,
            })?;
            let bytes = ftp
                .put_file(tmp.as_str(), &mut local)
                .map_err(|e| transfer(&tmp, e))?;
            if ftp.rename(tmp.as_str(), f.remote_name.as_str()).is_err() {
                // Some servers refuse to rename over an existing file: remove it, rename again.
                let _ = ftp.rm(f.remote_name.as_str());
                ftp.rename(tmp.as_str(), f.remote_name.as_str())
                    .map_err(|e| transfer(&f.remote_name, e))?;
            }
            tracing::debug!(file = %f.remote_name, bytes, "uploaded");
            sent.push(Sent {
                file: f.remote_name.clone(),
                bytes,
                skipped_unchanged: false,
            });
        }
        Ok(sent)
    }
}

impl Destination for Ftp {
    fn describe(&self) -> String {
        let scheme = match self.cfg.tls {
            FtpTls::None => "ftp",
            FtpTls::Explicit => "ftps",
        };
        let dir = self.cfg.dir.trim_start_matches('/');
        format!(
            "{scheme}://{}@{}:{}/{dir}",
            self.cfg.user, self.cfg.host, self.cfg.port
        )
    }

    fn send(&mut self, files: &[UploadFile]) -> Result<Vec<Sent>, PublishError> {
        let mut ftp = self.connect()?;
        let result = self.upload_all(&mut ftp, files);
        let _ = ftp.quit();
        result
    }
}

fn open(addr: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    Ok(s)
}

/// `cwd` into `dir`, creating each missing component.
fn enter_dir(ftp: &mut RustlsFtpStream, dir: &str) -> Result<(), FtpError> {
    if dir.starts_with('/') {
        ftp.cwd("/")?;
    }
    for part in dir.split('/').filter(|p| !p.is_empty()) {
        if ftp.cwd(part).is_err() {
            ftp.mkdir(part)?;
            ftp.cwd(part)?;
        }
    }
    Ok(())
}

/// Create the relative folders of `sub` (already existing ones are fine).
fn make_dirs(ftp: &mut RustlsFtpStream, sub: &str) -> Result<(), FtpError> {
    let mut path = String::new();
    for part in sub.split('/') {
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(part);
        if ftp.mkdir(path.as_str()).is_err() {
            // Exists already (or cannot be created: the upload will say so).
        }
    }
    Ok(())
}

fn tls_message(e: &FtpError) -> String {
    // rustls errors arrive wrapped in I/O errors; show the innermost message.
    match e {
        FtpError::ConnectionError(io) => match io.get_ref() {
            Some(inner) => inner.to_string(),
            None => io.to_string(),
        },
        e => e.to_string(),
    }
}

fn client_config(cfg: &FtpConfig) -> Result<ClientConfig, PublishError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| PublishError::Config {
            field: "tls".into(),
            message: e.to_string(),
        })?;
    let config = if cfg.allow_self_signed {
        tracing::warn!(host = %cfg.host, "FTPS: allow_self_signed: the server's certificate is not verified");
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate { provider }))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(path) = &cfg.ca_file {
            let bad = |m: String| PublishError::Config {
                field: "ca_file".into(),
                message: format!("{}: {m}", path.display()),
            };
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| bad(e.to_string()))?
                .collect::<Result<_, _>>()
                .map_err(|e| bad(e.to_string()))?;
            if certs.is_empty() {
                return Err(bad("expected PEM certificates, found none".into()));
            }
            for c in certs {
                roots.add(c).map_err(|e| bad(e.to_string()))?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(config)
}

/// `allow_self_signed`: any certificate is accepted; the handshake signatures are still
/// checked (the server holds the key of the certificate it sent).
#[derive(Debug)]
struct AnyCertificate {
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra: &str) -> Result<FtpConfig, toml::de::Error> {
        toml::from_str(&format!(
            "host = \"h\"\nuser = \"u\"\npassword = \"p\"\n{extra}"
        ))
    }

    #[test]
    fn configuration_defaults_describe_and_debug_hide_the_password() {
        let c = cfg("dir = \"/in\"").unwrap();
        assert_eq!(
            (c.port, c.tls, c.allow_self_signed),
            (21, FtpTls::Explicit, false)
        );
        assert!(!format!("{c:?}").contains("\"p\""));
        let f = Ftp::new(c).unwrap();
        assert_eq!(f.describe(), "ftps://u@h:21/in");
        assert!(cfg("tls = \"implicit\"").is_err());
        assert!(cfg("passwd = \"x\"").is_err());
    }

    #[test]
    fn bad_settings_are_config_errors_naming_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        for (c, field) in [
            (
                cfg("").map(|mut c| {
                    c.host = " ".into();
                    c
                }),
                "host",
            ),
            (
                cfg(&format!("ca_file = {:?}", empty.display().to_string())),
                "ca_file",
            ),
            (cfg("ca_file = \"/nonexistent/ca.pem\""), "ca_file"),
            (cfg("timeout_ms = 0"), "timeout_ms"),
        ] {
            match Ftp::new(c.unwrap()) {
                Err(PublishError::Config { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }
}
