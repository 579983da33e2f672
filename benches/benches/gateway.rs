//! The Modbus gateway under load: eight Modbus/TCP clients through the gateway to one RTU
//! line (RTU over TCP to the simulator), with the line's timing simulated at 19 200 Bd: each
//! device answers after the wire time of its request and answer frames plus two t3.5
//! silences (the `plan::wire` model), so the line carries at most 1 / wire-time
//! transactions per second.
//!
//! Figures, printed in one run: transactions per second; line utilisation (transactions ×
//! wire time / elapsed); the per-client share (fairness max/min); p99 latency seen by the
//! clients; and the gateway's CPU (the gateway runs alone on one thread with a
//! current-thread runtime, measured with `getrusage(RUSAGE_THREAD)`, as `poll.rs` does). The
//! baseline is one master alone on the same line, straight to the simulator (a
//! tokio-modbus RTU-over-TCP client, no gateway): the line's capacity as the simulation
//! delivers it; the ratio gateway / alone is the share of that capacity the gateway uses.
//! Then the same eight clients all reading the same block with the cache on (max age 1 s):
//! client transactions per second and the bus reads they cost (counted by the simulator).
//! Last, the same eight meters on a socat pseudo-terminal pair at 115 200 Bd (a pty has no
//! line timing: the gateway and the serial path at full speed), one master alone vs eight
//! clients through the gateway (skipped with a printed reason without socat, unless
//! `EMKIT_REQUIRE_PEERS=1`).
//!
//! Same work on every side: every client reads FC3, 10 registers at 0xB000 of a simulated
//! ECR380D (one unit per client) on a frozen clock, and every answer is checked equal to
//! a direct read made before timing. Targets (issue 16): at least 95 % of the line's
//! capacity with 8 clients, fairness max/min under 1.2, gateway CPU under 5 % of a core.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::TimeZone;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use modbus_devices::Catalogue;
use modbus_devices::device::{Bus, BusKind, RtuSettings, TcpSettings};
use modbus_devices::gateway::{CacheConfig, Gateway, GatewayConfig, GatewayStats};
use modbus_devices::plan::wire::RtuLine;
use modbus_devices::sim::{Fault, SerialSettings, SimClock, Simulator, SimulatorHandle};
use tokio::sync::{mpsc, oneshot};
use tokio_modbus::client::Reader;
use tokio_modbus::prelude::Slave;

const CLIENTS: usize = 8;
const BAUD: u32 = 19_200;
const FIRST: u16 = 0xB000;
const COUNT: u16 = 10;
const RUN: Duration = Duration::from_secs(4);

/// Wire time of one transaction: request (8 bytes) and answer (5 + 2 × COUNT bytes) frames
/// and a t3.5 silence after each.
fn wire_time() -> Duration {
    let line = RtuLine::new(BAUD);
    line.frame_time(8) + line.frame_time(5 + 2 * u32::from(COUNT)) + line.silence() * 2
}

/// CPU time (user + system) of the calling thread.
fn thread_cpu() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    let u = getrusage(UsageWho::RUSAGE_THREAD).expect("getrusage");
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    tv(u.user_time()) + tv(u.system_time())
}

enum Cmd {
    Cpu(oneshot::Sender<Duration>),
    Stats(oneshot::Sender<GatewayStats>),
}

/// A gateway alone on a thread of its own (current-thread runtime).
struct GatewayThread {
    addr: SocketAddr,
    cmd: mpsc::UnboundedSender<Cmd>,
}

impl GatewayThread {
    fn start(kind: BusKind, cache_ms: u64) -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        let (cmd, mut cmds) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("gateway".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let mut config = GatewayConfig::new(vec![Bus {
                        name: "line".into(),
                        kind,
                    }]);
                    config.cache = CacheConfig::all(cache_ms);
                    let gateway = Gateway::start(config).unwrap();
                    let (addr, _server) = gateway.serve_tcp("127.0.0.1:0").await.unwrap();
                    tx.send(addr).unwrap();
                    while let Some(c) = cmds.recv().await {
                        match c {
                            Cmd::Cpu(r) => drop(r.send(thread_cpu())),
                            Cmd::Stats(r) => drop(r.send(gateway.stats())),
                        }
                    }
                });
            })
            .unwrap();
        Self {
            addr: rx.recv().unwrap(),
            cmd,
        }
    }

    async fn cpu(&self) -> Duration {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(Cmd::Cpu(tx)).unwrap();
        rx.await.unwrap()
    }

    async fn stats(&self) -> GatewayStats {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(Cmd::Stats(tx)).unwrap();
        rx.await.unwrap()
    }
}

/// What the clients of one run saw.
struct Run {
    counts: Vec<u64>,
    latencies_ms: Vec<f64>,
    elapsed: Duration,
}

impl Run {
    fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
    fn per_second(&self) -> f64 {
        self.total() as f64 / self.elapsed.as_secs_f64()
    }
    fn fairness(&self) -> f64 {
        let max = *self.counts.iter().max().unwrap() as f64;
        let min = (*self.counts.iter().min().unwrap()).max(1) as f64;
        max / min
    }
    fn p99_ms(&self) -> f64 {
        let mut l = self.latencies_ms.clone();
        l.sort_by(f64::total_cmp);
        l[((l.len() as f64 * 0.99) as usize).min(l.len() - 1)]
    }
}

/// `CLIENTS` Modbus/TCP clients at `addr` reading until `stop` (a duration or a total count
/// of answers); client `i` reads unit `units(i)`; every answer is checked against `want`.
async fn clients(
    addr: SocketAddr,
    units: impl Fn(usize) -> u8,
    want: &[Vec<u16>],
    run: Duration,
    total: Option<u64>,
) -> Run {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let nth = std::sync::Arc::new(std::sync::OnceLock::new());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let unit = units(i);
        let want = want[usize::from(unit) - 1].clone();
        let (done, nth) = (done.clone(), nth.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = tokio_modbus::client::tcp::connect_slave(addr, Slave(unit))
                .await
                .unwrap();
            let (mut n, mut lat) = (0u64, Vec::new());
            loop {
                let stop = match total {
                    Some(t) => done.load(std::sync::atomic::Ordering::Relaxed) >= t,
                    None => start.elapsed() >= run,
                };
                if stop {
                    break;
                }
                let t = Instant::now();
                let words = c
                    .read_holding_registers(FIRST, COUNT)
                    .await
                    .unwrap()
                    .unwrap();
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                assert_eq!(words, want, "unit {unit}: the same values as a direct read");
                n += 1;
                let before = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if total == Some(before + 1) {
                    // The n-th answer: the time criterion gets (requests still queued by
                    // the other clients are not part of the n).
                    let _ = nth.set(start.elapsed());
                }
            }
            (n, lat)
        }));
    }
    let mut out = Run {
        counts: Vec::new(),
        latencies_ms: Vec::new(),
        elapsed: Duration::ZERO,
    };
    for t in tasks {
        let (n, lat) = t.await.unwrap();
        out.counts.push(n);
        out.latencies_ms.extend(lat);
    }
    out.elapsed = nth.get().copied().unwrap_or_else(|| start.elapsed());
    out
}

/// An RTU-over-TCP master on `line`, talking to unit 1.
async fn rtu_over_tcp_master(line: SocketAddr) -> tokio_modbus::client::Context {
    let stream = tokio::net::TcpStream::connect(line).await.unwrap();
    stream.set_nodelay(true).unwrap();
    tokio_modbus::client::rtu::attach_slave(stream, Slave(1))
}

/// One master alone on the line, no gateway: `n` back-to-back reads of unit 1 (or for `run`).
async fn alone(
    mut c: tokio_modbus::client::Context,
    want: &[u16],
    run: Duration,
    n: Option<u64>,
) -> Run {
    let start = Instant::now();
    let (mut count, mut lat) = (0u64, Vec::new());
    while n.map_or(start.elapsed() < run, |n| count < n) {
        let t = Instant::now();
        let words = c
            .read_holding_registers(FIRST, COUNT)
            .await
            .unwrap()
            .unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(words, want);
        count += 1;
    }
    Run {
        counts: vec![count],
        latencies_ms: lat,
        elapsed: start.elapsed(),
    }
}

struct Line {
    sim: Simulator,
    addr: SocketAddr,
    _handle: SimulatorHandle,
    want: Vec<Vec<u16>>,
}

/// The simulated 19 200 Bd line: eight ECR380D on a frozen clock, each answering after the
/// transaction's wire time; the direct reads every answer is checked against.
async fn line() -> Line {
    let catalogue = Catalogue::builtin().unwrap();
    let t0 = chrono::Utc.with_ymd_and_hms(2024, 6, 3, 10, 0, 0).unwrap();
    let sim = Simulator::new(SimClock::manual(t0));
    for unit in 1..=CLIENTS as u8 {
        sim.add_device(unit, catalogue.require("ECR380D").unwrap().clone())
            .unwrap();
    }
    let (addr, handle) = sim.serve_rtu_over_tcp("127.0.0.1:0").await.unwrap();
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut c = tokio_modbus::client::rtu::attach_slave(stream, Slave(1));
    let mut want = Vec::new();
    for unit in 1..=CLIENTS as u8 {
        use tokio_modbus::prelude::SlaveContext;
        c.set_slave(Slave(unit));
        want.push(
            c.read_holding_registers(FIRST, COUNT)
                .await
                .unwrap()
                .unwrap(),
        );
        sim.set_fault(unit, Fault::Delay(wire_time()));
    }
    Line {
        sim,
        addr,
        _handle: handle,
        want,
    }
}

fn print_run(name: &str, r: &Run, line_tx: u64, wire: Option<Duration>, cpu: Option<Duration>) {
    print!("  {name:<44} {:>8.1}", r.per_second());
    match wire {
        Some(w) => print!(
            " {:>9.1} %",
            line_tx as f64 * w.as_secs_f64() / r.elapsed.as_secs_f64() * 100.0
        ),
        None => print!(" {:>11}", "-"),
    }
    print!(" {:>9.2} {:>9.1}", r.fairness(), r.p99_ms());
    match cpu {
        Some(c) => println!(
            " {:>9.2} %",
            c.as_secs_f64() / r.elapsed.as_secs_f64() * 100.0
        ),
        None => println!(" {:>11}", "-"),
    }
}

fn print_header() {
    println!(
        "  {:<44} {:>8} {:>11} {:>9} {:>9} {:>11}",
        "", "tx/s", "line use", "max/min", "p99 ms", "gw CPU"
    );
}

/// `socat` linking two pseudo-terminals in a directory of its own; killed (and the
/// directory removed) on drop.
struct PtyPair {
    child: std::process::Child,
    dir: std::path::PathBuf,
}

impl PtyPair {
    fn start() -> Option<Self> {
        use std::process::{Command, Stdio};
        let ok = Command::new("socat")
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var("EMKIT_REQUIRE_PEERS").as_deref() != Ok("1"),
                "socat is not installed and EMKIT_REQUIRE_PEERS=1"
            );
            println!("SKIPPED the pty run: socat is not installed");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("emkit-gateway-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("socat")
            .arg(format!("pty,raw,echo=0,link={}", dir.join("sim").display()))
            .arg(format!(
                "pty,raw,echo=0,link={}",
                dir.join("master").display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pair = Self { child, dir };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !(pair.sim().exists() && pair.master().exists()) {
            assert!(Instant::now() < deadline, "socat made no pseudo-terminals");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(pair)
    }
    fn sim(&self) -> std::path::PathBuf {
        self.dir.join("sim")
    }
    fn master(&self) -> std::path::PathBuf {
        self.dir.join("master")
    }
}

impl Drop for PtyPair {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The same eight meters on a pseudo-terminal pair at 115 200 Bd (a pty has no line timing:
/// this measures the gateway and the serial path at full speed): one master alone, then
/// eight clients through the gateway.
fn pty_run(rt: &tokio::runtime::Runtime) {
    const PTY_BAUD: u32 = 115_200;
    let Some(pair) = PtyPair::start() else {
        return;
    };
    let catalogue = Catalogue::builtin().unwrap();
    let t0 = chrono::Utc.with_ymd_and_hms(2024, 6, 3, 10, 0, 0).unwrap();
    let sim = Simulator::new(SimClock::manual(t0));
    for unit in 1..=CLIENTS as u8 {
        sim.add_device(unit, catalogue.require("ECR380D").unwrap().clone())
            .unwrap();
    }
    let settings = SerialSettings {
        baud_rate: PTY_BAUD,
        ..SerialSettings::default()
    };
    let (_serving, want, base) = rt.block_on(async {
        let serving = sim.serve_rtu(pair.sim(), &settings).await.unwrap();
        use tokio_modbus::prelude::SlaveContext;
        use tokio_serial::SerialPortBuilderExt;
        let port = tokio_serial::new(pair.master().to_string_lossy(), PTY_BAUD)
            .parity(tokio_serial::Parity::Even)
            .open_native_async()
            .unwrap();
        let mut c = tokio_modbus::client::rtu::attach_slave(port, Slave(1));
        let mut want = Vec::new();
        for unit in 1..=CLIENTS as u8 {
            c.set_slave(Slave(unit));
            want.push(
                c.read_holding_registers(FIRST, COUNT)
                    .await
                    .unwrap()
                    .unwrap(),
            );
        }
        c.set_slave(Slave(1));
        let base = alone(c, &want[0], RUN, None).await;
        (serving, want, base)
    });
    let mut line = RtuSettings::new(pair.master());
    line.baud = PTY_BAUD;
    line.response_timeout_ms = 1_000;
    let gw = GatewayThread::start(BusKind::Rtu(line), 0);
    let (through, cpu) = rt.block_on(async {
        let cpu0 = gw.cpu().await;
        let through = clients(gw.addr, |i| i as u8 + 1, &want, RUN, None).await;
        (through, gw.cpu().await - cpu0)
    });
    println!("gateway on a pseudo-terminal pair at {PTY_BAUD} Bd (no line timing: full speed)");
    print_header();
    print_run(
        "one master alone on the pty (baseline)",
        &base,
        base.total(),
        None,
        None,
    );
    print_run(
        "8 clients through the gateway",
        &through,
        through.total(),
        None,
        Some(cpu),
    );
    println!(
        "  gateway / alone: {:.3}; fairness max/min {:.2}; gateway CPU per transaction {:.1} µs",
        through.per_second() / base.per_second(),
        through.fairness(),
        cpu.as_secs_f64() * 1e6 / through.total() as f64
    );
    println!();
    drop(gw);
}

fn gateway(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let line = rt.block_on(line());
    let line_bus = || {
        let mut t = TcpSettings::new("127.0.0.1", line.addr.port());
        t.timeout_ms = 1_000;
        BusKind::RtuOverTcp(t)
    };
    let plain = GatewayThread::start(line_bus(), 0);
    let cached = GatewayThread::start(line_bus(), 1_000);
    let wire = wire_time();

    rt.block_on(async {
        let base = alone(rtu_over_tcp_master(line.addr).await, &line.want[0], RUN, None).await;
        let cpu0 = plain.cpu().await;
        let through = clients(plain.addr, |i| i as u8 + 1, &line.want, RUN, None).await;
        let cpu = plain.cpu().await - cpu0;
        let stats = plain.stats().await;
        let requests0 = (1..=CLIENTS as u8).map(|u| line.sim.request_count(u)).sum::<u64>();
        let cpu1 = cached.cpu().await;
        let cache = clients(cached.addr, |_| 1, &line.want, RUN, None).await;
        let cache_cpu = cached.cpu().await - cpu1;
        let cache_bus = (1..=CLIENTS as u8).map(|u| line.sim.request_count(u)).sum::<u64>() - requests0;

        println!();
        println!(
            "gateway: {CLIENTS} Modbus/TCP clients -> one RTU line at {BAUD} Bd (simulated: {:.2} ms per FC3 {COUNT}-register transaction, capacity {:.1}/s)",
            wire.as_secs_f64() * 1000.0,
            1.0 / wire.as_secs_f64()
        );
        print_header();
        let w = Some(wire);
        print_run("one master alone on the line (baseline)", &base, base.total(), w, None);
        print_run("8 clients through the gateway", &through, through.total(), w, Some(cpu));
        print_run("8 clients, same block, cache 1 s", &cache, cache_bus, w, Some(cache_cpu));
        println!(
            "  gateway / alone: {:.3} of the line's delivered capacity (target >= 0.95); fairness max/min {:.2} (target < 1.2); gateway CPU {:.2} % of a core (target < 5 %)",
            through.per_second() / base.per_second(),
            through.fairness(),
            cpu.as_secs_f64() / through.elapsed.as_secs_f64() * 100.0
        );
        println!(
            "  cache: {} client reads cost {cache_bus} bus reads; without cache, mean queue time {:.1} ms (the gateway's statistics)",
            cache.total(),
            stats.buses[0].counters.queue_time.mean_ms.unwrap_or(0.0)
        );
        println!();
    });

    pty_run(&rt);

    // Criterion: time per line transaction, eight clients through the gateway vs one master
    // alone on the line.
    let mut g = c.benchmark_group("gateway_19200bd_transaction");
    g.throughput(Throughput::Elements(1));
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(6));
    g.bench_function("8_clients_through_gateway", |b| {
        b.iter_custom(|n| {
            rt.block_on(clients(
                plain.addr,
                |i| i as u8 + 1,
                &line.want,
                Duration::MAX,
                Some(n),
            ))
            .elapsed
        })
    });
    g.bench_function("one_master_alone", |b| {
        b.iter_custom(|n| {
            rt.block_on(async {
                alone(
                    rtu_over_tcp_master(line.addr).await,
                    &line.want[0],
                    Duration::MAX,
                    Some(n),
                )
                .await
            })
            .elapsed
        })
    });
    g.finish();
}

criterion_group!(benches, gateway);
criterion_main!(benches);
