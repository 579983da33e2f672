//! Modbus/TCP Security (TLS) for the simulator, with role-based authorisation.
//!
//! tokio-modbus has no TLS: each accepted connection is wrapped with tokio-rustls and the
//! Modbus/TCP (MBAP) frames are served on the TLS stream. The server configuration comes
//! from [`crate::poll::tls::ServerTlsConfig`], which normally requires client certificates
//! signed by a CA: a client whose certificate is refused never gets a request through.
//!
//! The role of the client is read from its certificate's Modbus/TCP Security role extension
//! ([`crate::poll::tls::ROLE_OID`]). A client with the role
//! [`crate::poll::tls::READ_ONLY_ROLE`] gets exception 01 (illegal function) on every write
//! (FC5, FC6, FC15, FC16, FC22, FC23) and the device is left unchanged; every other client
//! (another role, or none) may read and write.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::task::JoinSet;
use tokio_modbus::ExceptionCode;

use super::fault::Outcome;
use super::rtu::{encode_response, parse_request};
use super::server::{Shared, Transport};
use super::{SimError, Simulator, SimulatorHandle};
use crate::poll::tls::{READ_ONLY_ROLE, role_from_cert};

/// Longest TLS handshake the server waits for.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Function codes that write.
fn is_write(fc: u8) -> bool {
    matches!(fc, 0x05 | 0x06 | 0x0F | 0x10 | 0x16 | 0x17)
}

impl Simulator {
    /// Serve every device on Modbus/TCP Security at `addr` (port 0 picks a free port; the
    /// standard port is [`crate::poll::tls::MODBUS_TLS_PORT`], 802), with the rustls server
    /// configuration `config` (see [`crate::poll::tls::ServerTlsConfig`]). Writes from a
    /// client whose certificate carries the role `read-only` answer exception 01.
    ///
    /// ```no_run
    /// use modbus_devices::Catalogue;
    /// use modbus_devices::poll::tls::ServerTlsConfig;
    /// use modbus_devices::sim::{SimClock, Simulator};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let config = ServerTlsConfig::from_files("server.pem", "server.key")?
    ///     .require_client_certs_from_files("clients-ca.pem")?
    ///     .build()?;
    /// let sim = Simulator::new(SimClock::real());
    /// sim.add_device(1, Catalogue::builtin()?.require("ECR380D")?.clone())?;
    /// let (addr, handle) = sim.serve_tls("127.0.0.1:802", config).await?;
    /// # let _ = (addr, handle); Ok(()) }
    /// ```
    pub async fn serve_tls<A>(
        &self,
        addr: A,
        config: Arc<rustls::ServerConfig>,
    ) -> Result<(SocketAddr, SimulatorHandle), SimError>
    where
        A: ToSocketAddrs + std::fmt::Display,
    {
        let (listener, local) = Self::bind(addr).await?;
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let task = tokio::spawn(run_tls(listener, Arc::clone(&self.shared), acceptor));
        tracing::info!(%local, "simulator serving Modbus/TCP Security (TLS)");
        Ok((
            local,
            self.handle(task, format!("Modbus/TCP Security {local}")),
        ))
    }
}

async fn run_tls(listener: TcpListener, shared: Arc<Shared>, acceptor: tokio_rustls::TlsAcceptor) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let acceptor = acceptor.clone();
                    let shared = Arc::clone(&shared);
                    connections.spawn(async move {
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                            Ok(Ok(tls)) => {
                                let role = tls
                                    .get_ref()
                                    .1
                                    .peer_certificates()
                                    .and_then(|c| c.first())
                                    .and_then(|c| role_from_cert(c.as_ref()));
                                tracing::debug!(%peer, ?role, "Modbus/TCP Security client connected");
                                serve_mbap(tls, &shared, role.as_deref() == Some(READ_ONLY_ROLE)).await;
                            }
                            Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake refused"),
                            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "TLS accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Serve MBAP frames on one stream until it closes or sends something that is not MBAP.
async fn serve_mbap<T: AsyncRead + AsyncWrite + Unpin>(
    mut io: T,
    shared: &Shared,
    read_only: bool,
) {
    loop {
        let mut header = [0u8; 7];
        if io.read_exact(&mut header).await.is_err() {
            return;
        }
        let protocol = u16::from_be_bytes([header[2], header[3]]);
        let length = usize::from(u16::from_be_bytes([header[4], header[5]]));
        let unit = header[6];
        if protocol != 0 || !(2..=254).contains(&length) {
            tracing::debug!(protocol, length, "not a Modbus/TCP frame; closing");
            return;
        }
        let mut pdu = vec![0u8; length - 1];
        if io.read_exact(&mut pdu).await.is_err() {
            return;
        }
        let fc = pdu[0];
        let outcome = if read_only && is_write(fc) {
            tracing::debug!(unit, fc, "write refused to a read-only client");
            Outcome::Reply(Err(ExceptionCode::IllegalFunction))
        } else {
            shared
                .dispatch(unit, parse_request(&pdu), Transport::Tcp)
                .await
        };
        let body = match outcome {
            Outcome::Reply(r) => encode_response(fc, &r),
            Outcome::CorruptReply(_) | Outcome::Silent => continue,
        };
        let mut out = Vec::with_capacity(7 + body.len());
        out.extend_from_slice(&header[..4]);
        out.extend_from_slice(&((body.len() + 1) as u16).to_be_bytes());
        out.push(unit);
        out.extend_from_slice(&body);
        if io.write_all(&out).await.is_err() || io.flush().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_codes() {
        for fc in [5u8, 6, 15, 16, 22, 23] {
            assert!(is_write(fc), "{fc}");
        }
        for fc in [1u8, 2, 3, 4, 43] {
            assert!(!is_write(fc), "{fc}");
        }
    }
}
