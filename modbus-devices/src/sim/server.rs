//! Serving the simulated devices: request dispatch (routing by unit id, faults), the
//! Modbus/TCP server (tokio-modbus), and the RTU servers (serial line, RTU over TCP) on the
//! simulator's own RTU framing.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_modbus::{ExceptionCode, Request, Response, SlaveRequest};

use super::clock::SimClock;
use super::device::SimDevice;
use super::fault::{Fault, Outcome};
use super::rtu::{FrameLen, encode_response, frame, parse_request, request_frame_len, take_frames};

/// How long an incomplete RTU frame may wait for its remaining bytes before it is dropped.
const PARTIAL_FRAME_TIMEOUT: Duration = Duration::from_millis(500);

/// Which framing a request came in on: decides what "unknown unit" and "bad CRC" mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// Modbus/TCP (MBAP header, no CRC).
    Tcp,
    /// RTU framing (serial line or RTU over TCP).
    Rtu,
}

/// Run-time control data: faults and request counts per unit.
#[derive(Debug, Default)]
pub(crate) struct Control {
    pub(crate) faults: HashMap<u8, Fault>,
    pub(crate) requests: HashMap<u8, u64>,
}

/// State shared by the simulator, its handles and its server tasks.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) clock: SimClock,
    pub(crate) devices: RwLock<BTreeMap<u8, Arc<Mutex<SimDevice>>>>,
    pub(crate) control: Mutex<Control>,
}

/// Lock a mutex, going on with the data if another thread panicked while holding it (the
/// simulator's data stays consistent between statements).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn device(&self, unit: u8) -> Option<Arc<Mutex<SimDevice>>> {
        self.devices
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&unit)
            .cloned()
    }

    /// Route one request to its device, applying that unit's fault.
    pub(crate) async fn dispatch(
        &self,
        unit: u8,
        request: Result<Request<'static>, ExceptionCode>,
        transport: Transport,
    ) -> Outcome {
        let Some(device) = self.device(unit) else {
            tracing::trace!(unit, ?transport, "request for an unknown unit id");
            return match transport {
                Transport::Tcp => Outcome::Reply(Err(ExceptionCode::GatewayTargetDevice)),
                Transport::Rtu => Outcome::Silent,
            };
        };
        let fault = {
            let mut c = lock(&self.control);
            *c.requests.entry(unit).or_insert(0) += 1;
            c.faults.get(&unit).copied().unwrap_or_default()
        };
        match fault {
            Fault::NoAnswer => return Outcome::Silent,
            Fault::Exception(code) => return Outcome::Reply(Err(ExceptionCode::new(code))),
            Fault::BadCrc if transport == Transport::Tcp => return Outcome::Silent,
            Fault::Delay(d) => tokio::time::sleep(d).await,
            Fault::IgnoreWrites => {
                if let Ok(Some(echo)) = request.as_ref().map(write_echo) {
                    return Outcome::Reply(Ok(echo));
                }
            }
            Fault::BadCrc | Fault::None => {}
        }
        let now = self.clock.now();
        let result = request.and_then(|r| lock(&device).handle(&r, &now));
        if fault == Fault::BadCrc {
            Outcome::CorruptReply(result)
        } else {
            Outcome::Reply(result)
        }
    }

    /// An RTU broadcast (unit 0): writes go to every device, nothing is answered.
    fn broadcast(&self, request: &Request<'static>) {
        let writes = matches!(
            request,
            Request::WriteSingleCoil(..)
                | Request::WriteMultipleCoils(..)
                | Request::WriteSingleRegister(..)
                | Request::WriteMultipleRegisters(..)
        );
        if !writes {
            return;
        }
        let now = self.clock.now();
        let devices: Vec<_> = self
            .devices
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        for d in devices {
            let _ = lock(&d).handle(request, &now);
        }
    }
}

/// The answer a device gives to a write it accepted, without applying it; `None` for a
/// request that writes nothing. The gateway answers broadcast writes with it too.
pub(crate) fn write_echo(request: &Request<'_>) -> Option<Response> {
    Some(match request {
        Request::WriteSingleCoil(a, b) => Response::WriteSingleCoil(*a, *b),
        Request::WriteSingleRegister(a, w) => Response::WriteSingleRegister(*a, *w),
        Request::WriteMultipleCoils(a, bs) => Response::WriteMultipleCoils(*a, bs.len() as u16),
        Request::WriteMultipleRegisters(a, ws) => {
            Response::WriteMultipleRegisters(*a, ws.len() as u16)
        }
        _ => return None,
    })
}

/// The tokio-modbus service of the Modbus/TCP server.
#[derive(Debug, Clone)]
struct TcpService {
    shared: Arc<Shared>,
}

type BoxedReply = Pin<Box<dyn Future<Output = Result<Option<Response>, ExceptionCode>> + Send>>;

impl tokio_modbus::server::Service for TcpService {
    type Request = SlaveRequest<'static>;
    type Response = Option<Response>;
    type Exception = ExceptionCode;
    type Future = BoxedReply;

    fn call(&self, req: SlaveRequest<'static>) -> BoxedReply {
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            match shared
                .dispatch(req.slave, Ok(req.request), Transport::Tcp)
                .await
            {
                Outcome::Reply(Ok(r)) => Ok(Some(r)),
                Outcome::Reply(Err(e)) => Err(e),
                Outcome::CorruptReply(_) | Outcome::Silent => Ok(None),
            }
        })
    }
}

/// Serve Modbus/TCP on a bound listener until the task is aborted.
pub(crate) async fn run_tcp(listener: TcpListener, shared: Arc<Shared>) {
    let server = tokio_modbus::server::tcp::Server::new(listener);
    let on_connected = |stream: TcpStream, peer: SocketAddr| {
        let service = TcpService {
            shared: Arc::clone(&shared),
        };
        async move {
            tracing::debug!(%peer, "Modbus/TCP client connected");
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
            }
            Ok(Some((service, stream)))
        }
    };
    let on_error = |e: std::io::Error| tracing::debug!(error = %e, "Modbus/TCP connection ended");
    if let Err(e) = server.serve(&on_connected, on_error).await {
        tracing::warn!(error = %e, "Modbus/TCP simulator stopped accepting connections");
    }
}

/// Serve RTU framing over TCP connections until the task is aborted (which also ends every
/// connection).
pub(crate) async fn run_rtu_over_tcp(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tracing::debug!(%peer, "RTU-over-TCP client connected");
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve_rtu_stream(
                        stream,
                        Arc::clone(&shared),
                        Duration::from_millis(5),
                        false,
                    ));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "RTU-over-TCP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Serve RTU requests on a byte stream: a serial port (`persistent`: read errors and end of
/// file are waited out, the line stays open) or one TCP connection (ends with it).
///
/// Frames are delimited by the length their function code implies; a frame with a bad CRC
/// is never answered and the slave resynchronises on the next valid frame (see
/// [`take_frames`]). Unknown function codes are delimited by `silence`; an incomplete frame
/// is dropped after half a second without bytes.
pub(crate) async fn serve_rtu_stream<T>(
    mut io: T,
    shared: Arc<Shared>,
    silence: Duration,
    persistent: bool,
) where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf: Vec<u8> = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    loop {
        let read = if buf.is_empty() {
            Some(io.read(&mut chunk).await)
        } else {
            let wait = if request_frame_len(&buf) == FrameLen::Unknown {
                silence
            } else {
                PARTIAL_FRAME_TIMEOUT
            };
            tokio::time::timeout(wait, io.read(&mut chunk)).await.ok()
        };
        let frames = match read {
            Some(Ok(n)) if n > 0 => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > 1024 {
                    tracing::debug!(bytes = buf.len(), "RTU receive buffer overflow; discarded");
                    buf.clear();
                }
                take_frames(&mut buf, false)
            }
            Some(result) => {
                if !persistent {
                    return;
                }
                if let Err(e) = result {
                    tracing::trace!(error = %e, "serial read failed; retrying");
                }
                buf.clear();
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            // Silence: it ends a frame of unknown length, or abandons an incomplete one.
            None => take_frames(&mut buf, true),
        };
        for adu in frames {
            if let Err(e) = respond(&mut io, &shared, &adu).await {
                tracing::debug!(error = %e, "cannot send RTU response");
                if !persistent {
                    return;
                }
            }
        }
    }
}

/// Answer one RTU request ADU (CRC already checked).
async fn respond<T: AsyncWrite + Unpin>(
    io: &mut T,
    shared: &Shared,
    adu: &[u8],
) -> std::io::Result<()> {
    let unit = adu[0];
    let pdu = &adu[1..adu.len() - 2];
    let Some(&fc) = pdu.first() else {
        return Ok(());
    };
    let request = parse_request(pdu);
    if unit == 0 {
        if let Ok(r) = &request {
            shared.broadcast(r);
        }
        return Ok(());
    }
    let (result, corrupt) = match shared.dispatch(unit, request, Transport::Rtu).await {
        Outcome::Silent => return Ok(()),
        Outcome::Reply(r) => (r, false),
        Outcome::CorruptReply(r) => (r, true),
    };
    let bytes = frame(unit, &encode_response(fc, &result), corrupt);
    io.write_all(&bytes).await?;
    io.flush().await
}
