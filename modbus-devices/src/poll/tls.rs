//! Modbus/TCP Security (TLS) for the poller and for servers: client configuration from
//! [`TlsSettings`], the date-tolerant and self-signed-tolerant certificate checks, a server
//! configuration that requires client certificates signed by a CA, and the role extension.
//!
//! tokio-modbus has no TLS of its own: the poller wraps its `TcpStream` with tokio-rustls and
//! attaches the Modbus/TCP client to the TLS stream. Modbus/TCP Security listens on port
//! [`MODBUS_TLS_PORT`] (802) by default.
//!
//! # Certificate options
//! - `check_dates = false` accepts a server certificate (or CA) outside its validity dates,
//!   and *only* that: the chain, its signatures and the server name are still verified, at
//!   a time inside the certificate's validity window.
//! - `accept_self_signed = true` accepts a server certificate that no configured CA signs
//!   when it is self-signed: its issuer is its subject and its signature verifies against
//!   its own public key (it is used as its own trust anchor); the server name is still
//!   checked.
//!
//! # Roles
//! The Modbus/TCP Security specification carries an authorisation role in the client
//! certificate: the X.509v3 extension [`ROLE_OID`] (1.3.6.1.4.1.50316.802.1) holding a
//! `UTF8String`. A server reads it with [`role_from_cert`]; our simulator gives the role
//! [`READ_ONLY_ROLE`] exception 01 (illegal function) on every write.
//!
//! ```
//! use modbus_devices::poll::tls::{encode_role_extension, role_from_cert, ROLE_OID};
//!
//! // The extension value is a DER UTF8String.
//! assert_eq!(encode_role_extension("operator"), b"\x0c\x08operator");
//! assert_eq!(ROLE_OID, &[1, 3, 6, 1, 4, 1, 50316, 802, 1]);
//! // Not a certificate: no role, and no panic.
//! assert_eq!(role_from_cert(b"garbage"), None);
//! ```

use std::fmt;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig,
    SignatureScheme,
};

use super::error::PollError;
use crate::device::TlsSettings;

/// The Modbus/TCP Security port.
pub const MODBUS_TLS_PORT: u16 = 802;

/// OID of the Modbus/TCP Security role extension: 1.3.6.1.4.1.50316.802.1.
pub const ROLE_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 50316, 802, 1];

/// [`ROLE_OID`] in dotted form.
pub const ROLE_OID_STR: &str = "1.3.6.1.4.1.50316.802.1";

/// The role that may read but never write (writes get exception 01 from our servers).
pub const READ_ONLY_ROLE: &str = "read-only";

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_err(what: impl fmt::Display) -> PollError {
    PollError::Tls(what.to_string())
}

/// The DER encoding of a role (a `UTF8String`), the value of the [`ROLE_OID`] extension.
/// Certificate generators (rcgen's `CustomExtension::from_oid_content`) take it as is.
pub fn encode_role_extension(role: &str) -> Vec<u8> {
    let bytes = role.as_bytes();
    let mut out = vec![0x0C];
    let n = bytes.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n <= 0xFF {
        out.extend([0x81, n as u8]);
    } else {
        let n = n.min(0xFFFF);
        out.extend([0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(&bytes[..n.min(bytes.len())]);
    out
}

/// The role carried by a DER certificate's [`ROLE_OID`] extension, if it has one and it is a
/// well-formed `UTF8String`. Anything unparsable gives `None`, never a panic.
pub fn role_from_cert(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let ext = cert
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == ROLE_OID_STR)?;
    let (_, obj) = x509_parser::der_parser::der::parse_der_utf8string(ext.value).ok()?;
    obj.as_str().ok().map(str::to_string)
}

/// The role of the client of a server-side TLS connection (its first certificate's role
/// extension).
pub fn peer_role(conn: &rustls::ServerConnection) -> Option<String> {
    conn.peer_certificates()?
        .first()
        .and_then(|c| role_from_cert(c.as_ref()))
}

/// Parse PEM certificates (all `CERTIFICATE` blocks).
pub fn certs_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, PollError> {
    let certs: Vec<_> = rustls_pemfile::certs(&mut BufReader::new(pem))
        .collect::<Result<_, _>>()
        .map_err(|e| {
            tls_err(format!(
                "expected PEM certificates, found unreadable PEM: {e}"
            ))
        })?;
    if certs.is_empty() {
        return Err(tls_err(
            "expected at least one PEM CERTIFICATE block, found none",
        ));
    }
    Ok(certs)
}

/// Parse a PEM private key (PKCS#8, PKCS#1 or SEC1).
pub fn key_from_pem(pem: &[u8]) -> Result<PrivateKeyDer<'static>, PollError> {
    rustls_pemfile::private_key(&mut BufReader::new(pem))
        .map_err(|e| {
            tls_err(format!(
                "expected a PEM private key, found unreadable PEM: {e}"
            ))
        })?
        .ok_or_else(|| tls_err("expected a PEM PRIVATE KEY block, found none"))
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, PollError> {
    std::fs::read(path).map_err(|e| tls_err(format!("cannot read {what} {}: {e}", path.display())))
}

fn roots_from(certs: Vec<CertificateDer<'static>>) -> Result<RootCertStore, PollError> {
    let mut roots = RootCertStore::empty();
    for c in certs {
        roots
            .add(c)
            .map_err(|e| tls_err(format!("CA certificate refused: {e}")))?;
    }
    Ok(roots)
}

/// The PEM material and options of a TLS client, independent of files.
#[derive(Debug, Clone, Default)]
pub struct ClientTlsOptions {
    /// CA certificate(s) (PEM) that sign the server's certificate.
    pub ca_pem: Option<Vec<u8>>,
    /// Client certificate chain and key (PEM).
    pub client_identity: Option<(Vec<u8>, Vec<u8>)>,
    /// Refuse certificates outside their validity dates.
    pub check_dates: bool,
    /// Accept a self-signed server certificate no CA signs.
    pub accept_self_signed: bool,
}

impl ClientTlsOptions {
    /// Read the files named by [`TlsSettings`].
    pub fn from_settings(settings: &TlsSettings) -> Result<Self, PollError> {
        let ca_pem = settings
            .ca_cert
            .as_deref()
            .map(|p| read_file(p, "CA certificate"))
            .transpose()?;
        let client_identity = match (&settings.client_cert, &settings.client_key) {
            (Some(c), Some(k)) => Some((
                read_file(c, "client certificate")?,
                read_file(k, "client key")?,
            )),
            (None, None) => None,
            _ => {
                return Err(tls_err(
                    "a client certificate and its key go together; found only one of them",
                ));
            }
        };
        Ok(Self {
            ca_pem,
            client_identity,
            check_dates: settings.check_dates,
            accept_self_signed: settings.accept_self_signed,
        })
    }

    /// Build the rustls client configuration.
    pub fn build(&self) -> Result<Arc<ClientConfig>, PollError> {
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?;
        let roots = match &self.ca_pem {
            Some(pem) => Some(Arc::new(roots_from(certs_from_pem(pem)?)?)),
            None => None,
        };
        if roots.is_none() && !self.accept_self_signed {
            return Err(tls_err(
                "a TLS bus needs a CA certificate (ca_cert) or accept_self_signed = true; found neither",
            ));
        }
        let ca = match roots {
            Some(r) => Some(
                WebPkiServerVerifier::builder_with_provider(r, provider.clone())
                    .build()
                    .map_err(tls_err)?,
            ),
            None => None,
        };
        let verifier = Arc::new(TolerantVerifier {
            ca,
            provider,
            check_dates: self.check_dates,
            accept_self_signed: self.accept_self_signed,
        });
        let builder = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match &self.client_identity {
            Some((cert, key)) => builder
                .with_client_auth_cert(certs_from_pem(cert)?, key_from_pem(key)?)
                .map_err(|e| {
                    tls_err(format!(
                        "client certificate and key do not go together: {e}"
                    ))
                })?,
            None => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }
}

/// The rustls client configuration of a TLS bus (reads the PEM files it names).
pub fn client_config(settings: &TlsSettings) -> Result<Arc<ClientConfig>, PollError> {
    ClientTlsOptions::from_settings(settings)?.build()
}

/// The name the server certificate must carry: `server_name`, else the host.
pub fn server_name(settings: &TlsSettings) -> Result<ServerName<'static>, PollError> {
    let name = settings
        .server_name
        .clone()
        .unwrap_or_else(|| settings.tcp.host.clone());
    ServerName::try_from(name.clone()).map_err(|_| {
        tls_err(format!(
            "expected a DNS name or IP address as server name, found {name:?}"
        ))
    })
}

/// Server certificate checks with the two relaxations of [`TlsSettings`]. Every check it
/// does not relax is delegated to rustls' `WebPkiServerVerifier`.
#[derive(Debug)]
struct TolerantVerifier {
    ca: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    check_dates: bool,
    accept_self_signed: bool,
}

impl TolerantVerifier {
    /// Verify with `v`; when dates are not checked and the only complaint is a date, verify
    /// again at a time inside the offending certificate's validity (a few steps at most, for
    /// a chain whose certificates have different windows).
    fn verify_with(
        &self,
        v: &dyn ServerCertVerifier,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut at = now;
        let mut last = None;
        for _ in 0..4 {
            let r = v.verify_server_cert(end_entity, intermediates, name, ocsp, at);
            if self.check_dates {
                return r;
            }
            at = match &r {
                Err(rustls::Error::InvalidCertificate(CertificateError::ExpiredContext {
                    not_after,
                    ..
                })) => UnixTime::since_unix_epoch(Duration::from_secs(
                    not_after.as_secs().saturating_sub(1),
                )),
                Err(rustls::Error::InvalidCertificate(CertificateError::NotValidYetContext {
                    not_before,
                    ..
                })) => UnixTime::since_unix_epoch(Duration::from_secs(
                    not_before.as_secs().saturating_add(1),
                )),
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::Expired | CertificateError::NotValidYet,
                )) => match validity_midpoint(end_entity) {
                    Some(t) if t.as_secs() != at.as_secs() => t,
                    _ => return r,
                },
                _ => return r,
            };
            last = Some(r);
        }
        last.unwrap_or(Err(rustls::Error::InvalidCertificate(
            CertificateError::Expired,
        )))
    }
}

fn validity_midpoint(der: &CertificateDer<'_>) -> Option<UnixTime> {
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    let v = cert.validity();
    let a = v.not_before.timestamp();
    let b = v.not_after.timestamp();
    let mid = a / 2 + b / 2;
    u64::try_from(mid)
        .ok()
        .map(|s| UnixTime::since_unix_epoch(Duration::from_secs(s)))
}

/// Whether a certificate names itself as issuer (a self-signed candidate; the signature is
/// verified afterwards by using it as its own trust anchor).
fn is_self_issued(der: &CertificateDer<'_>) -> bool {
    x509_parser::parse_x509_certificate(der.as_ref())
        .map(|(_, c)| c.tbs_certificate.subject.as_raw() == c.tbs_certificate.issuer.as_raw())
        .unwrap_or(false)
}

impl ServerCertVerifier for TolerantVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let by_ca = match &self.ca {
            Some(v) => self.verify_with(v.as_ref(), end_entity, intermediates, name, ocsp, now),
            None => Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        };
        match by_ca {
            Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer))
                if self.accept_self_signed && is_self_issued(end_entity) =>
            {
                let mut own = RootCertStore::empty();
                own.add(end_entity.clone().into_owned()).map_err(|_| {
                    rustls::Error::InvalidCertificate(CertificateError::BadEncoding)
                })?;
                let v = WebPkiServerVerifier::builder_with_provider(
                    Arc::new(own),
                    self.provider.clone(),
                )
                .build()
                .map_err(|e| rustls::Error::General(e.to_string()))?;
                self.verify_with(v.as_ref(), end_entity, &[], name, ocsp, now)
            }
            other => other,
        }
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

/// Builder of a Modbus/TCP Security server configuration: the server's certificate chain and
/// key, and (normally) the CA that must sign every client certificate.
///
/// ```no_run
/// use modbus_devices::poll::tls::ServerTlsConfig;
/// # fn main() -> Result<(), modbus_devices::poll::PollError> {
/// let config = ServerTlsConfig::from_files("server.pem", "server.key")?
///     .require_client_certs_from_files("clients-ca.pem")?
///     .build()?;
/// let acceptor = tokio_rustls::TlsAcceptor::from(config);
/// # let _ = acceptor; Ok(()) }
/// ```
#[derive(Debug)]
pub struct ServerTlsConfig {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_roots: Option<RootCertStore>,
}

impl ServerTlsConfig {
    /// From a PEM certificate chain and its PEM private key. Without
    /// [`ServerTlsConfig::require_client_certs_from_pem`] clients need no certificate.
    pub fn from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, PollError> {
        Ok(Self {
            chain: certs_from_pem(chain_pem)?,
            key: key_from_pem(key_pem)?,
            client_roots: None,
        })
    }

    /// From PEM files.
    pub fn from_files(chain: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<Self, PollError> {
        Self::from_pem(
            &read_file(chain.as_ref(), "server certificate")?,
            &read_file(key.as_ref(), "server key")?,
        )
    }

    /// Require every client to present a certificate signed by one of these CAs (PEM).
    pub fn require_client_certs_from_pem(mut self, ca_pem: &[u8]) -> Result<Self, PollError> {
        self.client_roots = Some(roots_from(certs_from_pem(ca_pem)?)?);
        Ok(self)
    }

    /// [`ServerTlsConfig::require_client_certs_from_pem`] from a file.
    pub fn require_client_certs_from_files(self, ca: impl AsRef<Path>) -> Result<Self, PollError> {
        let pem = read_file(ca.as_ref(), "client CA certificate")?;
        self.require_client_certs_from_pem(&pem)
    }

    /// The rustls server configuration (for `tokio_rustls::TlsAcceptor::from`).
    pub fn build(self) -> Result<Arc<ServerConfig>, PollError> {
        let provider = provider();
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?;
        let builder = match self.client_roots {
            Some(roots) => {
                let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .map_err(tls_err)?;
                builder.with_client_cert_verifier(v)
            }
            None => builder.with_no_client_auth(),
        };
        let config = builder
            .with_single_cert(self.chain, self.key)
            .map_err(|e| {
                tls_err(format!(
                    "server certificate and key do not go together: {e}"
                ))
            })?;
        Ok(Arc::new(config))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn role_extension_encoding_lengths() {
        assert_eq!(encode_role_extension(""), vec![0x0C, 0]);
        let long = "r".repeat(200);
        let enc = encode_role_extension(&long);
        assert_eq!(&enc[..3], &[0x0C, 0x81, 200]);
        assert_eq!(enc.len(), 203);
        let longer = "r".repeat(300);
        let enc = encode_role_extension(&longer);
        assert_eq!(&enc[..4], &[0x0C, 0x82, 0x01, 0x2C]);
        let (_, obj) = x509_parser::der_parser::der::parse_der_utf8string(&enc).unwrap();
        assert_eq!(obj.as_str().unwrap(), longer);
    }

    #[test]
    fn bad_pem_is_an_error_not_a_panic() {
        assert!(matches!(
            certs_from_pem(b"nothing here"),
            Err(PollError::Tls(_))
        ));
        assert!(matches!(
            key_from_pem(b"-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n"),
            Err(PollError::Tls(_))
        ));
        let none = ClientTlsOptions {
            check_dates: true,
            ..Default::default()
        };
        let err = none.build().unwrap_err().to_string();
        assert!(err.contains("ca_cert"), "{err}");
    }
}
