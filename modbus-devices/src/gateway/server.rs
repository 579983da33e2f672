//! The client side: Modbus/TCP and Modbus/TCP Security listeners, MBAP framing (several
//! requests may be in flight per connection; each answer carries its request's transaction
//! id), access control and the per-request path to a line.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_modbus::{ExceptionCode, Request, Response};
use tracing::{debug, info, warn};

use super::Inner;
use super::cache::write_range;
use super::line::Job;
use super::stats::ClientStats;
use crate::poll::tls::role_from_cert;
use crate::poll::transport::describe_request;
use crate::sim::rtu::{encode_response, parse_request};
use crate::sim::server::write_echo;

/// Requests one connection may have in flight (pipelined) before the gateway stops reading.
const MAX_IN_FLIGHT: usize = 16;
/// Longest TLS handshake waited for.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most client entries kept in the statistics (closed connections are forgotten first).
pub(crate) const MAX_CLIENT_STATS: usize = 1024;
/// Longest MBAP length field (unit id + a 253-byte PDU).
const MAX_MBAP_LEN: usize = 254;

/// One client connection.
pub(crate) struct Client {
    pub(crate) id: u64,
    pub(crate) addr: SocketAddr,
    pub(crate) role: Option<String>,
    pub(crate) read_only: bool,
    pub(crate) stats: Mutex<ClientStats>,
}

impl Client {
    fn count(&self, f: impl FnOnce(&mut ClientStats)) {
        if let Ok(mut s) = self.stats.lock() {
            f(&mut s);
        }
    }
}

fn is_write(fc: u8) -> bool {
    matches!(fc, 0x05 | 0x06 | 0x0F | 0x10 | 0x16 | 0x17)
}

fn encode(fc: u8, answer: &Result<Response, ExceptionCode>) -> Vec<u8> {
    match answer {
        Ok(Response::Custom(code, data)) => {
            let mut out = vec![*code];
            out.extend_from_slice(data);
            out
        }
        other => encode_response(fc, other),
    }
}

impl Inner {
    /// Answer one request PDU from `client` for `unit`.
    pub(crate) async fn handle(&self, client: &Client, unit: u8, pdu: &[u8]) -> Vec<u8> {
        let fc = pdu.first().copied().unwrap_or(0);
        client.count(|s| s.counters.requests += 1);
        let answer = self.answer(client, unit, fc, pdu).await;
        client.count(|s| match &answer {
            Ok(_) => s.counters.answers += 1,
            Err(code) => s.counters.exception(u8::from(*code)),
        });
        encode(fc, &answer)
    }

    async fn answer(
        &self,
        client: &Client,
        unit: u8,
        fc: u8,
        pdu: &[u8],
    ) -> Result<Response, ExceptionCode> {
        let request = parse_request(pdu)?;
        let write = is_write(fc) || write_range(&request).is_some();
        if write && client.read_only {
            warn!(client = %client.addr, role = ?client.role, unit, request = %describe_request(&request),
                "write refused: read-only client");
            return Err(ExceptionCode::IllegalFunction);
        }
        let now = Instant::now();
        if unit == 0 {
            return self.broadcast(client, request, now);
        }
        let Some((bus, downstream)) = self.routes.resolve(unit) else {
            return Err(ExceptionCode::GatewayPathUnavailable);
        };
        let line = self
            .lines
            .get(bus)
            .ok_or(ExceptionCode::GatewayPathUnavailable)?;
        if write {
            info!(client = %client.addr, role = ?client.role, unit, bus = %line.name,
                downstream, request = ?request, "forwarding write");
        }
        if let Some(hit) = line.cached(downstream, &request) {
            client.count(|s| s.counters.cache_hits += 1);
            return Ok(hit);
        }
        let (tx, rx) = oneshot::channel();
        line.push(Job {
            client: client.id,
            unit: downstream,
            request,
            enqueued: now,
            deadline: now + self.request_timeout,
            reply: Some(tx),
        });
        // The line answers every job it takes; the margin covers a transaction started just
        // before the deadline.
        let wait = self.request_timeout + self.longest_try;
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(answer)) => {
                client.count(|s| s.counters.queue_time.record(now.elapsed()));
                answer
            }
            Ok(Err(_)) => Err(ExceptionCode::GatewayPathUnavailable),
            Err(_) => Err(ExceptionCode::GatewayTargetDevice),
        }
    }

    /// A broadcast (unit 0): writes only, forwarded without waiting for an answer, to the
    /// bus a route for unit 0 names, or to every bus when no route holds unit 0; answered at
    /// once with the write's echo.
    fn broadcast(
        &self,
        client: &Client,
        request: Request<'static>,
        now: Instant,
    ) -> Result<Response, ExceptionCode> {
        let echo = write_echo(&request).ok_or(ExceptionCode::IllegalFunction)?;
        let lines: Vec<_> = match self.routes.resolve(0) {
            Some((bus, _)) => self.lines.get(bus).into_iter().collect(),
            None => self.lines.iter().collect(),
        };
        for line in lines {
            info!(client = %client.addr, role = ?client.role, unit = 0, bus = %line.name,
                request = ?request, "forwarding broadcast write");
            line.push(Job {
                client: client.id,
                unit: 0,
                request: request.clone(),
                enqueued: now,
                deadline: now + self.request_timeout,
                reply: None,
            });
        }
        client.count(|s| s.counters.broadcasts += 1);
        Ok(echo)
    }

    fn new_client(&self, addr: SocketAddr, role: Option<String>) -> Arc<Client> {
        let read_only = self.access.is_read_only(addr.ip(), role.as_deref());
        let id = self
            .next_client
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let client = Arc::new(Client {
            id,
            addr,
            role: role.clone(),
            read_only,
            stats: Mutex::new(ClientStats {
                client: addr.to_string(),
                role,
                read_only,
                counters: Default::default(),
            }),
        });
        if let Ok(mut c) = self.clients.lock() {
            if c.len() >= MAX_CLIENT_STATS {
                // Bounded memory: forget the oldest closed connections (only this list
                // still holds them).
                let mut excess = c.len() + 1 - MAX_CLIENT_STATS / 2;
                c.retain(|x| {
                    let forget = excess > 0 && Arc::strong_count(x) == 1;
                    excess -= usize::from(forget);
                    !forget
                });
            }
            c.push(Arc::clone(&client));
        }
        debug!(%addr, read_only, "gateway client connected");
        client
    }
}

/// Serve MBAP frames on one connection until it closes or sends something that is not MBAP.
async fn serve_connection<T>(io: T, inner: Arc<Inner>, client: Arc<Client>)
where
    T: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(io);
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(MAX_IN_FLIGHT);
    let writer = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if wr.write_all(&frame).await.is_err() {
                break;
            }
        }
    });
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut requests = JoinSet::new();
    loop {
        let mut header = [0u8; 7];
        if rd.read_exact(&mut header).await.is_err() {
            break;
        }
        let len = usize::from(u16::from_be_bytes([header[4], header[5]]));
        if header[2..4] != [0, 0] || !(2..=MAX_MBAP_LEN).contains(&len) {
            debug!(client = %client.addr, "not a Modbus/TCP frame: closing");
            break;
        }
        let mut pdu = vec![0u8; len - 1];
        if rd.read_exact(&mut pdu).await.is_err() {
            break;
        }
        let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
            break;
        };
        let (tx, inner, client) = (tx.clone(), Arc::clone(&inner), Arc::clone(&client));
        requests.spawn(async move {
            let unit = header[6];
            let answer = inner.handle(&client, unit, &pdu).await;
            let mut frame = Vec::with_capacity(7 + answer.len());
            frame.extend_from_slice(&header[0..4]);
            frame.extend_from_slice(&((answer.len() + 1) as u16).to_be_bytes());
            frame.push(unit);
            frame.extend_from_slice(&answer);
            let _ = tx.send(frame).await;
            drop(permit);
        });
        while requests.try_join_next().is_some() {}
    }
    drop(tx);
    while requests.join_next().await.is_some() {}
    let _ = writer.await;
    debug!(client = %client.addr, "gateway client disconnected");
}

pub(crate) async fn run_tcp(listener: TcpListener, inner: Arc<Inner>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let client = inner.new_client(peer, None);
                    connections.spawn(serve_connection(stream, Arc::clone(&inner), client));
                }
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

pub(crate) async fn run_tls(
    listener: TcpListener,
    inner: Arc<Inner>,
    acceptor: tokio_rustls::TlsAcceptor,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let (acceptor, inner) = (acceptor.clone(), Arc::clone(&inner));
                    connections.spawn(async move {
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                            Ok(Ok(tls)) => {
                                let role = tls
                                    .get_ref()
                                    .1
                                    .peer_certificates()
                                    .and_then(|c| c.first())
                                    .and_then(|c| role_from_cert(c.as_ref()));
                                let client = inner.new_client(peer, role);
                                serve_connection(tls, inner, client).await;
                            }
                            Ok(Err(e)) => debug!(%peer, error = %e, "TLS handshake refused"),
                            Err(_) => debug!(%peer, "TLS handshake timed out"),
                        }
                    });
                }
                Err(e) => {
                    warn!(error = %e, "TLS accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
