//! The M-Bus master (cargo feature `master`, on tokio): serial lines through tokio-serial
//! (300 to 38 400 Bd, default 2 400, 8E1) and M-Bus over TCP (transparent gateways).
//!
//! - [`Master::snd_nke`], [`Master::req_ud2`] (one telegram, FCB per slave, retries),
//!   [`Master::read`] (the whole multi-telegram readout: toggles the FCB while the meter
//!   says "more records follow");
//! - [`Master::scan_primary`]: SND_NKE to each primary address, REQ_UD2 to confirm;
//! - [`Master::select`], [`Master::read_secondary`]: addressing by (wildcard) secondary
//!   address (identification number with F wildcard digits, manufacturer 0xFFFF, version
//!   0xFF, medium 0xFF);
//! - [`Master::search_secondary`]: the wildcard search. Each probe selects a mask and asks the
//!   selected slaves for data; no answer means nobody there, one valid answer is one meter, a
//!   garbled answer is a collision, resolved by fixing the next digit of the identification
//!   number to 0..9 in turn (most significant digit first);
//! - timeouts from [`BusTiming`] (EN 13757-2: 330 bit times + 50 ms; see [`crate::timing`]).
//!
//! A reply is read until it forms a complete frame. Reading is bounded: the buffer never
//! holds more than the longest valid frame ([`MAX_FRAME_LEN`], 261 bytes), and each reply
//! has an overall deadline ([`BusTiming::reply_timeout`]) besides the idle timeout between
//! bytes, so a chattering line or gateway ends in [`MasterError::Overrun`] instead of holding the
//! master. Noise before a frame is skipped: the reader resynchronises on the next start
//! byte (0x68, 0x10, 0xE5) and takes a long, short or control frame found after it (a bare
//! 0xE5 after noise is not taken as an acknowledgement: one noisy byte could fake it). Bytes
//! that end without forming a frame, or extra bytes after one, make it a garbled reply (a
//! collision on the bus).
//!
//! ```no_run
//! # async fn demo() -> Result<(), mbus_meters::Error> {
//! use mbus_meters::master::{Master, MasterConfig};
//! let mut master = Master::connect_tcp("127.0.0.1:10001", MasterConfig::default()).await?;
//! let frames = master.read(mbus_meters::Address(5)).await?;
//! println!("{} telegram(s)", frames.len());
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, timeout_at};

use crate::app::{Id, SecondaryAddress};
use crate::encode::{select_frame, short_frame};
use crate::hex::to_hex;
use crate::link::{
    ACK, Address, Control, FrameKind, LONG_START, MAX_FRAME_LEN, SHORT_START, parse_link_prefix,
};
use crate::sim::SimulatedBus;
use crate::timing::BusTiming;
use crate::{DecodeError, Frame, Manufacturer, MasterError, Medium, OwnedFrame};

/// How the master talks to the bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MasterConfig {
    /// Baud rate and extra allowance.
    pub timing: BusTiming,
    /// Repetitions after a failed attempt (no answer or garbled answer).
    pub retries: u32,
    /// Upper bound of telegrams in one multi-telegram readout.
    pub max_telegrams: usize,
}

impl Default for MasterConfig {
    fn default() -> Self {
        MasterConfig {
            timing: BusTiming::default(),
            retries: 2,
            max_telegrams: 16,
        }
    }
}

/// What arrived after a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Nothing within the response timeout.
    Nothing,
    /// The single character E5.
    Ack,
    /// A complete, valid frame.
    Frame(Vec<u8>),
    /// Bytes that are not one valid frame (collision or line noise).
    Garbled(Vec<u8>),
}

/// Result of probing one secondary address mask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// No slave matched.
    Nothing,
    /// Exactly one slave answered; its address as its header gives it.
    Single(SecondaryAddress),
    /// Several slaves answered at once.
    Collision,
}

/// Result of a primary scan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrimaryScan {
    /// Addresses that acknowledged SND_NKE.
    pub found: Vec<u8>,
    /// Addresses with a garbled answer (two slaves sharing a primary address).
    pub collisions: Vec<u8>,
}

/// Result of a wildcard secondary search.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecondarySearch {
    /// Meters found, in search order.
    pub found: Vec<SecondaryAddress>,
    /// Fully specified identification numbers that still collide (same id, several meters).
    pub unresolved: Vec<SecondaryAddress>,
    /// Probes sent.
    pub probes: u32,
}

/// An M-Bus master over any byte stream.
#[derive(Debug)]
pub struct Master<S> {
    stream: S,
    config: MasterConfig,
    /// Next FCB per address.
    fcb: HashMap<u8, bool>,
    buf: Vec<u8>,
}

/// Opens a serial port with M-Bus framing: `baud`, 8 data bits, even parity, 1 stop bit.
pub fn open_serial(path: &str, baud: u32) -> Result<tokio_serial::SerialStream, MasterError> {
    if !crate::timing::BAUD_RATES.contains(&baud) {
        return Err(MasterError::InvalidBaudRate { found: baud });
    }
    use tokio_serial::SerialPortBuilderExt;
    tokio_serial::new(path, baud)
        .data_bits(tokio_serial::DataBits::Eight)
        .parity(tokio_serial::Parity::Even)
        .stop_bits(tokio_serial::StopBits::One)
        .flow_control(tokio_serial::FlowControl::None)
        .open_native_async()
        .map_err(|e| MasterError::Io {
            context: "opening the serial port",
            message: format!("{path}: {e}"),
        })
}

impl Master<tokio_serial::SerialStream> {
    /// A master on a serial port (8E1 at `config.timing.baud`).
    pub fn open_serial(path: &str, config: MasterConfig) -> Result<Self, MasterError> {
        Ok(Master::new(open_serial(path, config.timing.baud)?, config))
    }
}

impl Master<tokio::net::TcpStream> {
    /// A master through a transparent M-Bus/TCP gateway. Give the gateway's latency in
    /// `config.timing.extra`.
    pub async fn connect_tcp(addr: &str, config: MasterConfig) -> Result<Self, MasterError> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| io_error("connecting to the M-Bus gateway", e))?;
        let _ = stream.set_nodelay(true);
        Ok(Master::new(stream, config))
    }
}

fn io_error(context: &'static str, e: std::io::Error) -> MasterError {
    MasterError::Io {
        context,
        message: e.to_string(),
    }
}

fn target(a: Address) -> String {
    match a.0 {
        253 => "the selected slave (253)".into(),
        254 => "broadcast (254)".into(),
        n => format!("primary address {n}"),
    }
}

fn describe(reply: &Reply) -> String {
    match reply {
        Reply::Nothing => "nothing".into(),
        Reply::Ack => "E5".into(),
        Reply::Frame(b) | Reply::Garbled(b) => to_hex(b),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Master<S> {
    /// A master over an already open stream.
    pub fn new(stream: S, config: MasterConfig) -> Self {
        Master {
            stream,
            config,
            fcb: HashMap::new(),
            buf: Vec::with_capacity(512),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &MasterConfig {
        &self.config
    }

    /// The configuration, to change (for example fewer retries for a scan).
    pub fn config_mut(&mut self) -> &mut MasterConfig {
        &mut self.config
    }

    /// Gives the stream back.
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// Discards bytes already waiting (late parts of an earlier garbled answer).
    async fn drain_input(&mut self) -> Result<(), MasterError> {
        let mut chunk = [0u8; 300];
        for _ in 0..64 {
            match tokio::time::timeout(Duration::ZERO, self.stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => {}
                Ok(Err(e)) => return Err(io_error("discarding stale input", e)),
                _ => break,
            }
        }
        Ok(())
    }

    /// Sends one request and reads one reply (no retry).
    pub async fn transact(&mut self, request: &[u8]) -> Result<Reply, MasterError> {
        self.drain_input().await?;
        self.stream
            .write_all(request)
            .await
            .map_err(|e| io_error("sending a request", e))?;
        self.stream
            .flush()
            .await
            .map_err(|e| io_error("sending a request", e))?;
        self.read_reply().await
    }

    /// Reads one reply: waits up to the response timeout for the first byte, then reads until
    /// the bytes form a frame, the line stays idle for the idle timeout (the reply is then
    /// garbled, or nothing), or the reply deadline passes with bytes still arriving
    /// ([`MasterError::Overrun`]). At most [`MAX_FRAME_LEN`] bytes are kept; noise before a start
    /// byte is skipped. A peer that closes the connection is an [`MasterError::Io`].
    pub async fn read_reply(&mut self) -> Result<Reply, MasterError> {
        self.buf.clear();
        let timing = self.config.timing;
        let start = Instant::now();
        let overall = start + timing.reply_timeout();
        let mut idle = start + timing.response_timeout();
        let mut chunk = [0u8; 300];
        // the first bytes received, for a garbled reply or an error (bounded)
        let mut seen: Vec<u8> = Vec::new();
        let mut received = 0usize;
        // bytes were skipped before a start byte
        let mut noise = false;
        // a complete frame was followed by more bytes
        let mut trailing = false;
        loop {
            let deadline = idle.min(overall);
            let n = match timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Err(_) if idle <= overall => break,
                Err(_) => {
                    return Err(MasterError::Overrun {
                        waited_ms: timing.reply_timeout().as_millis() as u64,
                        received,
                        kept: to_hex(&seen),
                    });
                }
                Ok(Ok(0)) => {
                    return Err(MasterError::Io {
                        context: "reading a reply",
                        message: if received == 0 {
                            "connection closed by the peer".into()
                        } else {
                            format!(
                                "connection closed by the peer after {received} byte(s) of the answer ({})",
                                to_hex(&seen)
                            )
                        },
                    });
                }
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(io_error("reading a reply", e)),
            };
            let bytes = &chunk[..n];
            received += n;
            let room = MAX_FRAME_LEN - seen.len();
            seen.extend_from_slice(&bytes[..n.min(room)]);
            idle = Instant::now() + timing.idle_timeout();
            if trailing {
                // already garbled: only wait for the line to go quiet
                continue;
            }
            self.buf.extend_from_slice(bytes);
            loop {
                // resynchronise on the next start byte
                match self
                    .buf
                    .iter()
                    .position(|b| matches!(*b, LONG_START | SHORT_START | ACK))
                {
                    Some(0) => {}
                    Some(p) => {
                        self.buf.drain(..p);
                        noise = true;
                    }
                    None => {
                        noise |= !self.buf.is_empty();
                        self.buf.clear();
                        break;
                    }
                }
                match parse_link_prefix(&self.buf) {
                    Ok(link) if link.kind == FrameKind::Ack && noise => {
                        // a lone E5 amid noise proves nothing: keep looking
                        self.buf.drain(..1);
                    }
                    Ok(link) if link.len == self.buf.len() => {
                        return Ok(if link.kind == FrameKind::Ack {
                            Reply::Ack
                        } else {
                            Reply::Frame(std::mem::take(&mut self.buf))
                        });
                    }
                    Ok(_) => {
                        // more than one frame's worth: two answers at once, or a late one
                        trailing = true;
                        self.buf.clear();
                        break;
                    }
                    Err(DecodeError::Truncated { .. }) => break,
                    Err(_) => {
                        // no frame starts here: try the next start byte
                        self.buf.drain(..1);
                        noise = true;
                    }
                }
            }
        }
        Ok(if received == 0 {
            Reply::Nothing
        } else {
            self.buf.clear();
            Reply::Garbled(seen)
        })
    }

    async fn pause(&self) {
        tokio::time::sleep(self.config.timing.turnaround()).await;
    }

    /// SND_NKE (link reset) to `address`; `Ok(true)` when acknowledged, `Ok(false)` when
    /// nothing answered after every retry. A garbled answer after every retry is a collision.
    pub async fn snd_nke(&mut self, address: Address) -> Result<bool, MasterError> {
        let request = short_frame(Control::SND_NKE, address);
        let mut last = Reply::Nothing;
        for _ in 0..=self.config.retries {
            last = self.transact(&request).await?;
            self.pause().await;
            match last {
                Reply::Ack => {
                    self.fcb.insert(address.0, true);
                    return Ok(true);
                }
                Reply::Nothing => {}
                _ => {}
            }
        }
        match last {
            Reply::Nothing => Ok(false),
            other => Err(MasterError::Collision {
                expected: "E5 after SND_NKE",
                target: target(address),
                found: describe(&other),
            }),
        }
    }

    /// One REQ_UD2 with this address's FCB, repeated with the same FCB on failure (so the
    /// slave repeats its answer); the FCB toggles after a valid answer.
    pub async fn req_ud2(&mut self, address: Address) -> Result<Vec<u8>, MasterError> {
        let fcb = *self.fcb.get(&address.0).unwrap_or(&true);
        let request = short_frame(Control::req_ud2(fcb), address);
        let mut last = Reply::Nothing;
        for _ in 0..=self.config.retries {
            last = self.transact(&request).await?;
            self.pause().await;
            if let Reply::Frame(bytes) = &last {
                let frame = Frame::parse(bytes)?;
                if frame.kind() == FrameKind::Long {
                    self.fcb.insert(address.0, !fcb);
                    return Ok(bytes.clone());
                }
                return Err(MasterError::Unexpected {
                    target: target(address),
                    expected: "RSP_UD long frame",
                    found: to_hex(bytes),
                });
            }
        }
        Err(match last {
            Reply::Nothing => MasterError::Timeout {
                expected: "RSP_UD",
                target: target(address),
                waited_ms: self.config.timing.response_timeout().as_millis() as u64,
                attempts: self.config.retries + 1,
            },
            other => MasterError::Collision {
                expected: "RSP_UD",
                target: target(address),
                found: describe(&other),
            },
        })
    }

    /// The whole readout of a slave: SND_NKE, then REQ_UD2 with toggling FCB while the
    /// meter's telegram ends with "more records follow" (DIF 0x1F).
    pub async fn read(&mut self, address: Address) -> Result<Vec<OwnedFrame>, MasterError> {
        if address.0 != 253 && !self.snd_nke(address).await? {
            return Err(MasterError::Timeout {
                expected: "E5 after SND_NKE",
                target: target(address),
                waited_ms: self.config.timing.response_timeout().as_millis() as u64,
                attempts: self.config.retries + 1,
            });
        }
        self.fcb.insert(address.0, true);
        let mut out = Vec::new();
        loop {
            let bytes = self.req_ud2(address).await?;
            let frame = OwnedFrame::from_frame(&Frame::parse(&bytes)?)?;
            let more = frame.more_records_follow;
            out.push(frame);
            if !more || out.len() >= self.config.max_telegrams {
                return Ok(out);
            }
        }
    }

    /// Selects a slave by (wildcard) secondary address: `Ok(true)` when acknowledged.
    pub async fn select(&mut self, mask: &SecondaryAddress) -> Result<bool, MasterError> {
        let request = select_frame(false, mask);
        for _ in 0..=self.config.retries {
            let reply = self.transact(&request).await?;
            self.pause().await;
            match reply {
                Reply::Ack => {
                    self.fcb.insert(253, true);
                    return Ok(true);
                }
                Reply::Nothing => {}
                other => {
                    return Err(MasterError::Collision {
                        expected: "E5 after selection",
                        target: target(Address::SELECTED),
                        found: describe(&other),
                    });
                }
            }
        }
        Ok(false)
    }

    /// Selects the meter by its full secondary address and reads it (multi-telegram), then
    /// deselects it (SND_NKE to 253).
    pub async fn read_secondary(
        &mut self,
        address: &SecondaryAddress,
    ) -> Result<Vec<OwnedFrame>, MasterError> {
        if !self.select(address).await? {
            return Err(MasterError::Timeout {
                expected: "E5 after selection",
                target: format!("secondary address {}", address.id),
                waited_ms: self.config.timing.response_timeout().as_millis() as u64,
                attempts: self.config.retries + 1,
            });
        }
        let frames = self.read(Address::SELECTED).await;
        let _ = self.snd_nke(Address::SELECTED).await;
        frames
    }

    /// SND_NKE to each primary address in `range` (normally 0..=250); an acknowledged address
    /// is then asked for data (REQ_UD2), because identical `E5` from two slaves sharing an
    /// address superimpose into one valid `E5`, while their data telegrams collide.
    pub async fn scan_primary(
        &mut self,
        range: std::ops::RangeInclusive<u8>,
    ) -> Result<PrimaryScan, MasterError> {
        let mut scan = PrimaryScan::default();
        for a in range {
            if a > 250 {
                break;
            }
            match self.snd_nke(Address(a)).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(MasterError::Collision { .. }) => {
                    scan.collisions.push(a);
                    continue;
                }
                Err(e) => return Err(e),
            }
            match self.req_ud2(Address(a)).await {
                Err(MasterError::Collision { .. }) => scan.collisions.push(a),
                // acknowledged: present even if its data did not come
                _ => scan.found.push(a),
            }
        }
        Ok(scan)
    }

    /// Probes one mask: select it, then REQ_UD2 to 253 (one attempt each: an empty mask is the
    /// common case of a search and costs one response timeout).
    pub async fn probe(&mut self, mask: &SecondaryAddress) -> Result<Probe, MasterError> {
        let reply = self.transact(&select_frame(false, mask)).await?;
        self.pause().await;
        match reply {
            Reply::Nothing => return Ok(Probe::Nothing),
            Reply::Ack => {}
            _ => return Ok(Probe::Collision),
        }
        let reply = self
            .transact(&short_frame(Control::req_ud2(true), Address::SELECTED))
            .await?;
        self.pause().await;
        match reply {
            Reply::Nothing => Ok(Probe::Nothing),
            Reply::Frame(bytes) => {
                let frame = Frame::parse(&bytes)?;
                match frame.header() {
                    Some(h) => match (h.id, h.manufacturer, h.version, h.medium) {
                        (Some(id), Some(manufacturer), Some(version), Some(medium)) => {
                            Ok(Probe::Single(SecondaryAddress {
                                id,
                                manufacturer,
                                version,
                                medium,
                            }))
                        }
                        _ => Ok(Probe::Collision),
                    },
                    None => Ok(Probe::Collision),
                }
            }
            _ => Ok(Probe::Collision),
        }
    }

    /// The wildcard secondary search below `base` (give [`SecondaryAddress::wildcard`] to
    /// search everything, or fix manufacturer, version or medium to narrow it). Digits of the
    /// identification number that are not F in `base` stay fixed.
    pub async fn search_secondary(
        &mut self,
        base: SecondaryAddress,
    ) -> Result<SecondarySearch, MasterError> {
        self.search_secondary_with_progress(base, |_| {}).await
    }

    /// [`Master::search_secondary`], calling `progress` after every probe with the search so
    /// far (probes sent, meters found, unresolved collisions), for a progress display: the
    /// number of probes a search needs is not known in advance (it grows with the meters
    /// that share leading digits).
    pub async fn search_secondary_with_progress(
        &mut self,
        base: SecondaryAddress,
        mut progress: impl FnMut(&SecondarySearch),
    ) -> Result<SecondarySearch, MasterError> {
        let mut result = SecondarySearch::default();
        // deselect everything first
        let _ = self
            .transact(&short_frame(Control::SND_NKE, Address::SELECTED))
            .await?;
        self.pause().await;
        let mut stack = vec![base];
        while let Some(mask) = stack.pop() {
            // the most significant wildcard digit
            let Some(pos) = (0..8).rev().find(|i| (mask.id.0 >> (4 * i)) & 0xF == 0xF) else {
                result.probes += 1;
                match self.probe(&mask).await? {
                    Probe::Single(a) if !result.found.contains(&a) => result.found.push(a),
                    Probe::Collision => result.unresolved.push(mask),
                    _ => {}
                }
                progress(&result);
                continue;
            };
            let mut children = Vec::new();
            for digit in 0..=9u32 {
                let id = Id((mask.id.0 & !(0xF << (4 * pos))) | (digit << (4 * pos)));
                let m = SecondaryAddress { id, ..mask };
                result.probes += 1;
                match self.probe(&m).await? {
                    Probe::Nothing => {}
                    Probe::Single(a) => {
                        if !result.found.contains(&a) {
                            result.found.push(a);
                        }
                    }
                    Probe::Collision if pos == 0 => result.unresolved.push(m),
                    Probe::Collision => children.push(m),
                }
                progress(&result);
            }
            // depth first, in ascending digit order
            stack.extend(children.into_iter().rev());
        }
        let _ = self
            .transact(&short_frame(Control::SND_NKE, Address::SELECTED))
            .await?;
        Ok(result)
    }
}

impl SecondaryAddress {
    /// The mask that matches every meter (id FFFFFFFF, manufacturer FFFF, version FF,
    /// medium FF).
    pub const fn wildcard() -> SecondaryAddress {
        SecondaryAddress {
            id: Id(0xFFFF_FFFF),
            manufacturer: Manufacturer(0xFFFF),
            version: 0xFF,
            medium: Medium(0xFF),
        }
    }
}

/// Serves a simulated bus on a byte stream (the slave side of a TCP connection or of a serial
/// line) until the peer closes it. Requests are cut out of the byte stream as frames; bytes
/// that start no frame are skipped. `turnaround` is waited before each answer.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    bus: std::sync::Arc<std::sync::Mutex<SimulatedBus>>,
    mut stream: S,
    turnaround: Duration,
) -> Result<(), MasterError> {
    let mut buf: Vec<u8> = Vec::with_capacity(2 * MAX_FRAME_LEN);
    let mut chunk = [0u8; 300];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| io_error("reading a request", e))?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        // `at` walks the buffer once; the consumed prefix is removed once per chunk
        let mut at = 0;
        while at < buf.len() {
            match parse_link_prefix(&buf[at..]) {
                Ok(link) => {
                    let len = link.len;
                    let answer = match bus.lock() {
                        Ok(mut b) => b.handle(&buf[at..at + len]),
                        Err(_) => None,
                    };
                    at += len;
                    if let Some(answer) = answer {
                        tokio::time::sleep(turnaround).await;
                        stream
                            .write_all(&answer)
                            .await
                            .map_err(|e| io_error("sending an answer", e))?;
                        stream
                            .flush()
                            .await
                            .map_err(|e| io_error("sending an answer", e))?;
                    }
                }
                Err(DecodeError::Truncated { .. }) => break,
                Err(_) => {
                    // skip to the next start byte after this one
                    at += 1;
                    at += buf[at..]
                        .iter()
                        .position(|b| matches!(*b, LONG_START | SHORT_START | ACK))
                        .unwrap_or(buf.len() - at);
                }
            }
        }
        buf.drain(..at);
    }
}
