//! Connections of the four bus kinds, one transaction at a time, with reconnect back-off.
//!
//! Every connection with RTU framing (serial line, RTU over TCP) is wrapped in a [`Tap`]: it
//! records the bytes received during the current transaction and discards stale bytes
//! before a new request is sent. Modbus/TCP and TLS connections need neither (no CRC; a
//! connection whose answer timed out is closed, so a late answer cannot be taken for the
//! next one) and go to tokio-modbus unwrapped. The recorded
//! bytes tell a CRC error from a silent device: tokio-modbus' RTU decoder has no typed CRC
//! error (it drops bytes looking for a valid frame and keeps waiting, or gives up with an
//! untyped `InvalidData` error), so on RTU framings the classification is ours alone: when
//! the bytes received hold the answer to the request with a CRC-16/MODBUS that does not
//! match ([`frame::check_reply`]), we count a CRC error, whatever tokio-modbus said.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex as StdMutex};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_modbus::client::{Client, Context};
use tokio_modbus::prelude::SlaveContext;
use tokio_modbus::{Request, Response, Slave};
use tracing::{debug, warn};

use super::error::{ModbusException, PollError};
use super::stats::{BusStats, Outcome};
use super::tls;
use crate::device::{BusKind, Parity, RtuSettings, TcpSettings, TlsSettings};
use frame::{ReplyCheck, check_reply};

mod frame;

/// First reconnect delay after a failed connection attempt.
pub const BACKOFF_MIN: Duration = Duration::from_millis(500);
/// Longest reconnect delay: the delay doubles after each failed attempt up to this.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Shortest time allowed to open a TCP connection (and TLS handshake).
const CONNECT_TIMEOUT_MIN: Duration = Duration::from_secs(1);
/// Most bytes remembered per transaction (an RTU frame is at most 256).
const TAP_CAPACITY: usize = 1024;

#[derive(Debug, Default)]
struct TapState {
    /// Bytes received since the current request was prepared.
    rx: Vec<u8>,
    /// Discard pending input before the next write.
    drain: bool,
}

/// A transport wrapper that records received bytes and drains stale input before a request.
struct Tap<T> {
    inner: T,
    state: Arc<StdMutex<TapState>>,
}

impl<T> fmt::Debug for Tap<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tap").finish_non_exhaustive()
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tap<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let new = &buf.filled()[before..];
            if let Ok(mut s) = this.state.lock() {
                let room = TAP_CAPACITY.saturating_sub(s.rx.len());
                s.rx.extend_from_slice(&new[..new.len().min(room)]);
            }
        }
        r
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Tap<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let drain = this
            .state
            .lock()
            .map(|mut s| std::mem::take(&mut s.drain))
            .unwrap_or(false);
        if drain {
            // Discard whatever is already waiting (a late answer to an earlier request), without
            // waiting for more. Bounded: at most 64 reads.
            let mut scratch = [0u8; 256];
            let mut dropped = 0usize;
            for _ in 0..64 {
                let mut rb = ReadBuf::new(&mut scratch);
                match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                    Poll::Ready(Ok(())) if !rb.filled().is_empty() => dropped += rb.filled().len(),
                    _ => break,
                }
            }
            if dropped > 0 {
                debug!(dropped, "discarded stale bytes before a request");
            }
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// How a bus is reached.
pub(crate) enum Endpoint {
    Rtu(RtuSettings),
    Tcp(TcpSettings),
    RtuOverTcp(TcpSettings),
    Tls {
        settings: TlsSettings,
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
    },
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind_name(), self.describe())
    }
}

impl Endpoint {
    /// From the bus settings; TLS material (PEM files) is read here, once.
    pub(crate) fn from_kind(kind: &BusKind) -> Result<Self, PollError> {
        kind.validate()?;
        Ok(match kind {
            BusKind::Rtu(s) => Endpoint::Rtu(s.clone()),
            BusKind::Tcp(t) => Endpoint::Tcp(t.clone()),
            BusKind::RtuOverTcp(t) => Endpoint::RtuOverTcp(t.clone()),
            BusKind::Tls(s) => Endpoint::Tls {
                settings: s.clone(),
                config: tls::client_config(s)?,
                name: tls::server_name(s)?,
            },
        })
    }

    pub(crate) fn kind_name(&self) -> &'static str {
        match self {
            Endpoint::Rtu(_) => "rtu",
            Endpoint::Tcp(_) => "tcp",
            Endpoint::RtuOverTcp(_) => "rtu_over_tcp",
            Endpoint::Tls { .. } => "tls",
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Endpoint::Rtu(s) => s.path.display().to_string(),
            Endpoint::Tcp(t)
            | Endpoint::RtuOverTcp(t)
            | Endpoint::Tls {
                settings: TlsSettings { tcp: t, .. },
                ..
            } => {
                format!("{}:{}", t.host, t.port)
            }
        }
    }

    /// The response timeout of one try.
    pub(crate) fn timeout(&self) -> Duration {
        match self {
            Endpoint::Rtu(s) => s.response_timeout(),
            Endpoint::Tcp(t)
            | Endpoint::RtuOverTcp(t)
            | Endpoint::Tls {
                settings: TlsSettings { tcp: t, .. },
                ..
            } => t.timeout(),
        }
    }

    /// Retries after the first try.
    pub(crate) fn retries(&self) -> u8 {
        match self {
            Endpoint::Rtu(s) => s.retries,
            Endpoint::Tcp(t)
            | Endpoint::RtuOverTcp(t)
            | Endpoint::Tls {
                settings: TlsSettings { tcp: t, .. },
                ..
            } => t.retries,
        }
    }

    fn rtu_framing(&self) -> bool {
        matches!(self, Endpoint::Rtu(_) | Endpoint::RtuOverTcp(_))
    }

    fn over_tcp(&self) -> bool {
        !matches!(self, Endpoint::Rtu(_))
    }

    async fn open(&self, state: Arc<StdMutex<TapState>>) -> Result<Context, String> {
        let connect_timeout = self.timeout().max(CONNECT_TIMEOUT_MIN);
        let tcp = |t: &TcpSettings| {
            let addr = (t.host.clone(), t.port);
            async move {
                let s = tokio::time::timeout(connect_timeout, TcpStream::connect(addr))
                    .await
                    .map_err(|_| {
                        format!("no connection within {} ms", connect_timeout.as_millis())
                    })?
                    .map_err(|e| e.to_string())?;
                // Modbus frames are small and latency matters more than packet count.
                let _ = s.set_nodelay(true);
                Ok::<_, String>(s)
            }
        };
        let slave = Slave(0);
        Ok(match self {
            // Modbus/TCP has no CRC and a timed-out connection is reopened, so no tap: the
            // stream goes to tokio-modbus as it is (no copy, no lock per read).
            Endpoint::Tcp(t) => tokio_modbus::client::tcp::attach_slave(tcp(t).await?, slave),
            Endpoint::RtuOverTcp(t) => tokio_modbus::client::rtu::attach_slave(
                Tap {
                    inner: tcp(t).await?,
                    state,
                },
                slave,
            ),
            Endpoint::Tls {
                settings,
                config,
                name,
            } => {
                let stream = tcp(&settings.tcp).await?;
                let connector = tokio_rustls::TlsConnector::from(config.clone());
                let tls =
                    tokio::time::timeout(connect_timeout, connector.connect(name.clone(), stream))
                        .await
                        .map_err(|_| {
                            format!("no TLS handshake within {} ms", connect_timeout.as_millis())
                        })?
                        .map_err(|e| format!("TLS handshake failed: {e}"))?;
                tokio_modbus::client::tcp::attach_slave(tls, slave)
            }
            Endpoint::Rtu(s) => {
                use tokio_serial::SerialPortBuilderExt;
                let path = s.path.to_string_lossy().into_owned();
                let port = tokio_serial::new(path, s.baud)
                    .data_bits(if s.data_bits == 7 {
                        tokio_serial::DataBits::Seven
                    } else {
                        tokio_serial::DataBits::Eight
                    })
                    .parity(match s.parity {
                        Parity::None => tokio_serial::Parity::None,
                        Parity::Even => tokio_serial::Parity::Even,
                        Parity::Odd => tokio_serial::Parity::Odd,
                    })
                    .stop_bits(if s.effective_stop_bits() == 2 {
                        tokio_serial::StopBits::Two
                    } else {
                        tokio_serial::StopBits::One
                    })
                    .open_native_async()
                    .map_err(|e| format!("cannot open serial port: {e}"))?;
                tokio_modbus::client::rtu::attach_slave(Tap { inner: port, state }, slave)
            }
        })
    }
}

/// Why one try failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Failure {
    Timeout,
    Crc,
    Exception(ModbusException),
    Transport(String),
    Protocol(String),
    /// No connection (connect failed now, or the back-off delay is still running). Nothing
    /// was sent.
    NotConnected(String),
}

impl Failure {
    pub(crate) fn outcome(&self) -> Option<Outcome> {
        Some(match self {
            Failure::Timeout => Outcome::Timeout,
            Failure::Crc => Outcome::Crc,
            Failure::Exception(_) => Outcome::Exception,
            Failure::Transport(_) => Outcome::Transport,
            Failure::Protocol(_) => Outcome::Protocol,
            Failure::NotConnected(_) => return None,
        })
    }
}

/// Reconnect delay: 0.5 s doubling to 30 s after each failed attempt, reset by a successful
/// connection.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    delay: Duration,
    next_attempt: Option<Instant>,
    last_error: Option<String>,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            delay: BACKOFF_MIN,
            next_attempt: None,
            last_error: None,
        }
    }
}

impl Backoff {
    fn fail(&mut self, now: Instant, error: String) {
        self.next_attempt = Some(now + self.delay);
        self.delay = (self.delay * 2).min(BACKOFF_MAX);
        self.last_error = Some(error);
    }

    fn reset(&mut self) {
        *self = Self::default();
    }

    /// How long until a connection may be tried again.
    fn wait(&self, now: Instant) -> Option<Duration> {
        self.next_attempt
            .and_then(|t| t.checked_duration_since(now))
            .filter(|d| !d.is_zero())
    }
}

/// One bus's connection: opened on demand, one transaction at a time (the owner holds it
/// behind an async mutex).
pub(crate) struct Link {
    pub(crate) endpoint: Endpoint,
    ctx: Option<Context>,
    tap: Arc<StdMutex<TapState>>,
    backoff: Backoff,
    stats: Arc<StdMutex<BusStats>>,
}

impl Link {
    pub(crate) fn new(endpoint: Endpoint, stats: Arc<StdMutex<BusStats>>) -> Self {
        Self {
            endpoint,
            ctx: None,
            tap: Arc::default(),
            backoff: Backoff::default(),
            stats,
        }
    }

    fn bus_stats(&self, f: impl FnOnce(&mut BusStats)) {
        if let Ok(mut s) = self.stats.lock() {
            f(&mut s);
        }
    }

    async fn connect(&mut self) -> Result<(), Failure> {
        if self.ctx.is_some() {
            return Ok(());
        }
        let now = Instant::now();
        if let Some(wait) = self.backoff.wait(now) {
            let last = self.backoff.last_error.clone().unwrap_or_default();
            return Err(Failure::NotConnected(format!(
                "{last}; next attempt in {} ms",
                wait.as_millis()
            )));
        }
        match self.endpoint.open(self.tap.clone()).await {
            Ok(ctx) => {
                debug!(endpoint = %self.endpoint.describe(), "connected");
                self.ctx = Some(ctx);
                self.backoff.reset();
                self.bus_stats(|s| {
                    s.connects += 1;
                    s.connected = true;
                });
                Ok(())
            }
            Err(e) => {
                warn!(endpoint = %self.endpoint.describe(), error = %e, "connection failed");
                self.backoff.fail(Instant::now(), e.clone());
                self.bus_stats(|s| {
                    s.connect_failures += 1;
                    s.connected = false;
                    s.last_error = Some(e.clone());
                });
                Err(Failure::NotConnected(e))
            }
        }
    }

    /// Close the connection (the next try reconnects at once; back-off applies only to
    /// failed connection attempts).
    pub(crate) fn close(&mut self) {
        if self.ctx.take().is_some() {
            self.bus_stats(|s| s.connected = false);
        }
    }

    /// One try of one request to `unit`: returns the answer and the time it took.
    pub(crate) async fn try_once(
        &mut self,
        unit: u8,
        request: Request<'static>,
    ) -> (Result<Response, Failure>, Duration) {
        if let Err(f) = self.connect().await {
            return (Err(f), Duration::ZERO);
        }
        let timeout = self.endpoint.timeout();
        let rtu_framing = self.endpoint.rtu_framing();
        if rtu_framing && let Ok(mut s) = self.tap.lock() {
            s.rx.clear();
            s.drain = true;
        }
        let Some(ctx) = self.ctx.as_mut() else {
            return (
                Err(Failure::NotConnected("disconnected".into())),
                Duration::ZERO,
            );
        };
        ctx.set_slave(Slave(unit));
        let function = request.function_code().value();
        // One clock reading for both the deadline and the latency (`timeout` would read it
        // again); tokio's `Instant` is the standard one unless a test pauses time.
        let start = tokio::time::Instant::now();
        let call = ctx.call(request);
        let result = match start.checked_add(timeout) {
            Some(deadline) => tokio::time::timeout_at(deadline, call).await,
            None => tokio::time::timeout(timeout, call).await,
        };
        let elapsed = start.elapsed();
        // Judged from the bytes received, never from tokio-modbus' error text.
        let received_bad_crc = || {
            rtu_framing
                && self
                    .tap
                    .lock()
                    .is_ok_and(|s| check_reply(&s.rx, unit, function) == ReplyCheck::BadCrc)
        };
        let outcome = match result {
            Ok(Ok(Ok(response))) => Ok(response),
            Ok(Ok(Err(code))) => Err(Failure::Exception(code.into())),
            Ok(Err(tokio_modbus::Error::Transport(e))) => {
                if received_bad_crc() {
                    Err(Failure::Crc)
                } else {
                    Err(Failure::Transport(e.to_string()))
                }
            }
            Ok(Err(tokio_modbus::Error::Protocol(p))) => Err(Failure::Protocol(p.to_string())),
            Err(_) if received_bad_crc() => Err(Failure::Crc),
            Err(_) => Err(Failure::Timeout),
        };
        if let Err(f) = &outcome {
            let close = match f {
                // tokio-modbus' framed decoder cannot resume after a decoding error (a bad
                // CRC it gave up on, an answer that does not parse): reopen.
                Failure::Transport(_) | Failure::Crc | Failure::Protocol(_) => true,
                // Over TCP a late answer would be taken for the next one; a new connection
                // leaves it behind. A serial line keeps its port (stale bytes are drained).
                Failure::Timeout => self.endpoint.over_tcp(),
                Failure::Exception(_) | Failure::NotConnected(_) => false,
            };
            if close {
                if let Failure::Transport(m) = f {
                    let m = m.clone();
                    self.bus_stats(|s| s.last_error = Some(m));
                }
                self.close();
            }
        }
        (outcome, elapsed)
    }

    /// Close the connection gracefully (end of polling).
    pub(crate) async fn shutdown(&mut self) {
        if let Some(mut ctx) = self.ctx.take() {
            let _ = tokio::time::timeout(Duration::from_millis(200), ctx.disconnect()).await;
            self.bus_stats(|s| s.connected = false);
        }
    }
}

/// `FC3 0xB000+49` style description of a request, for error messages.
pub(crate) fn describe_request(request: &Request<'_>) -> String {
    match request {
        Request::ReadCoils(a, n) => format!("FC1 {a:#06x}+{n}"),
        Request::ReadDiscreteInputs(a, n) => format!("FC2 {a:#06x}+{n}"),
        Request::ReadHoldingRegisters(a, n) => format!("FC3 {a:#06x}+{n}"),
        Request::ReadInputRegisters(a, n) => format!("FC4 {a:#06x}+{n}"),
        Request::WriteSingleCoil(a, _) => format!("FC5 {a:#06x}"),
        Request::WriteSingleRegister(a, _) => format!("FC6 {a:#06x}"),
        Request::WriteMultipleCoils(a, v) => format!("FC15 {a:#06x}+{}", v.len()),
        Request::WriteMultipleRegisters(a, v) => format!("FC16 {a:#06x}+{}", v.len()),
        other => format!("{:?}", other.function_code()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_check_tells_good_from_bad_frames() {
        // 01 03 02 00 2A + CRC
        let mut frame = vec![0x01, 0x03, 0x02, 0x00, 0x2A];
        let crc = crate::rtu_crc::crc16(&frame);
        frame.extend(crc.to_le_bytes());
        let has_bad_crc = |rx: &[u8]| check_reply(rx, 0x01, 0x03) == ReplyCheck::BadCrc;
        assert!(!has_bad_crc(&frame));
        let mut bad = frame.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0xFF;
        assert!(has_bad_crc(&bad));
        assert!(!has_bad_crc(&[0x01, 0x03]), "too short to judge");
    }

    #[test]
    fn backoff_doubles_to_the_cap_and_resets() {
        let mut b = Backoff::default();
        let t0 = Instant::now();
        let mut delays = Vec::new();
        for _ in 0..10 {
            b.fail(t0, "refused".into());
            delays.push(b.wait(t0).unwrap_or_default());
        }
        assert_eq!(delays[0], Duration::from_millis(500));
        assert_eq!(delays[1], Duration::from_secs(1));
        assert_eq!(delays[2], Duration::from_secs(2));
        assert_eq!(*delays.last().unwrap_or(&Duration::ZERO), BACKOFF_MAX);
        assert!(delays.windows(2).all(|w| w[1] >= w[0]));
        b.reset();
        assert_eq!(b.wait(t0), None);
        b.fail(t0, "again".into());
        assert_eq!(b.wait(t0), Some(BACKOFF_MIN));
    }
}
