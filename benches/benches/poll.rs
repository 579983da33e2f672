//! Poll round trips over loopback Modbus/TCP: our poller, the raw tokio-modbus client (the
//! transport our poller is built on) and a pymodbus client (the peer), all reading the same
//! request (FC3, 49 registers at 0xB000 of a simulated Hager ECR380D, the instantaneous
//! block) from the same simulator, in the same run.
//!
//! Wall-clock round trips on loopback are dominated by scheduling (the client, the server and
//! the kernel take turns on two cores), so their ratio varies widely from run to run. The
//! figure that describes the client itself is its **CPU time per round trip**: each client
//! runs in a thread of its own (ours and tokio-modbus, each on a current-thread tokio runtime,
//! measured with `getrusage(RUSAGE_THREAD)`) or in a process of its own (pymodbus, measured
//! with `time.process_time_ns()`), while the simulator runs on other threads. The table
//! printed first alternates the three clients over several runs and gives the median and
//! the spread of both figures; criterion then measures wall and CPU time per round trip.
//!
//! Same work on every side: the same registers are read, and before timing the bench checks
//! that the raw registers returned by tokio-modbus and by pymodbus decode to exactly the
//! values our poller returned (the simulator runs on a frozen clock, so the values do not
//! move). Our side also decodes the 49 registers into 17 typed readings with units each round
//! trip; that is the poller's overhead over the transport which the tokio-modbus column shows.
//!
//! The pymodbus side is a long-lived Python process (`benches/peers/pymodbus_client.py`).
//! Without pymodbus it is skipped with a printed reason, unless `EMKIT_REQUIRE_PEERS=1`.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::TimeZone;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use modbus_devices::device::{
    Bus, BusKind, DeviceAddress, DeviceInstance, Installation, TcpSettings,
};
use modbus_devices::poll::Poller;
use modbus_devices::sim::{SimClock, Simulator, SimulatorHandle};
use modbus_devices::{Catalogue, Product, Quality, Value};
use tokio_modbus::client::Reader;

const FIRST: u16 = 0xB000;
const LAST: u16 = 0xB030;
const COUNT: u16 = LAST - FIRST + 1;
/// The response timeout of the poller's bus, and of the like-for-like tokio-modbus client.
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(2_000);
/// Round trips per run of the printed table.
const ROUND_TRIPS: u64 = 5_000;
/// Runs per client in the printed table (alternating clients).
const RUNS: usize = 7;

/// Wall-clock and client CPU time of `n` round trips; `sys` is the part of `cpu` spent in
/// the kernel (on loopback that includes the TCP stack's work for both ends of a send).
#[derive(Clone, Copy)]
struct Timing {
    wall: Duration,
    cpu: Duration,
    sys: Duration,
}

/// CPU time of the calling thread: (user + system, system).
fn thread_cpu() -> (Duration, Duration) {
    use nix::sys::resource::{UsageWho, getrusage};
    let u = getrusage(UsageWho::RUSAGE_THREAD).expect("getrusage");
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    (tv(u.user_time()) + tv(u.system_time()), tv(u.system_time()))
}

/// A client running in a thread of its own on a current-thread runtime; `run(n)` performs
/// `n` round trips there and returns their timing.
struct ThreadClient<R> {
    tx: Option<mpsc::Sender<u64>>,
    rx: mpsc::Receiver<(Timing, R)>,
    thread: Option<JoinHandle<()>>,
}

impl<R: Default + Send + 'static> ThreadClient<R> {
    /// `make` builds the client inside the thread's runtime; `round_trip` performs one read
    /// and returns its result (only the last round trip's is kept).
    fn start<C, Make, MakeFut, Trip>(name: &str, make: Make, mut round_trip: Trip) -> Self
    where
        C: 'static,
        Make: FnOnce() -> MakeFut + Send + 'static,
        MakeFut: Future<Output = C>,
        Trip: AsyncFnMut(&mut C) -> R + Send + 'static,
    {
        let (tx, cmd) = mpsc::channel::<u64>();
        let (out, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let mut client = make().await;
                    while let Ok(n) = cmd.recv() {
                        let mut last = R::default();
                        let cpu0 = thread_cpu();
                        let start = Instant::now();
                        for _ in 0..n {
                            last = round_trip(&mut client).await;
                        }
                        let wall = start.elapsed();
                        let cpu1 = thread_cpu();
                        let timing = Timing {
                            wall,
                            cpu: cpu1.0 - cpu0.0,
                            sys: cpu1.1 - cpu0.1,
                        };
                        if out.send((timing, last)).is_err() {
                            break;
                        }
                    }
                });
            })
            .expect("client thread starts");
        ThreadClient {
            tx: Some(tx),
            rx,
            thread: Some(thread),
        }
    }

    fn run(&mut self, n: u64) -> (Timing, R) {
        self.tx.as_ref().unwrap().send(n).unwrap();
        self.rx.recv().expect("client thread answers")
    }
}

impl<R> Drop for ThreadClient<R> {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The pymodbus client process.
struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    fn start(port: u16) -> Option<Peer> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/pymodbus_client.py");
        let ok = Command::new("python3")
            // The version rule of the tests and of `.ci/run`: pymodbus 3.x.
            .args([
                "-c",
                "import sys, pymodbus; sys.exit(pymodbus.__version__.split('.')[0] != '3')",
            ])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            if std::env::var("EMKIT_REQUIRE_PEERS").as_deref() == Ok("1") {
                panic!("pymodbus 3.x is required (EMKIT_REQUIRE_PEERS=1) but was not found");
            }
            println!("SKIPPED pymodbus side: python3 with pymodbus 3.x is not installed");
            return None;
        }
        let mut child = Command::new("python3")
            .args([script, "127.0.0.1", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Some(Peer {
            child,
            stdin,
            stdout,
        })
    }

    /// `n` round trips inside the peer: their timing and the registers of the last one.
    fn run(&mut self, n: u64) -> (Timing, Vec<u16>) {
        writeln!(self.stdin, "{n} 1 3 {FIRST} {COUNT}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let mut parts = line.split_whitespace();
        let mut ns = || -> Duration {
            Duration::from_nanos(
                parts
                    .next()
                    .and_then(|p| p.parse().ok())
                    .expect("peer prints nanoseconds"),
            )
        };
        let timing = Timing {
            wall: ns(),
            cpu: ns(),
            sys: ns(),
        };
        let regs = parts
            .next()
            .unwrap_or("")
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().expect("register value"))
            .collect();
        (timing, regs)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The services of the ECR380D block read by every side.
fn block(product: &Product) -> Vec<&modbus_devices::catalogue::Service> {
    product
        .services
        .iter()
        .filter(|s| (FIRST..=LAST).contains(&s.register.address))
        .collect()
}

/// Decode raw registers of the block with the catalogue, in the poller's service order.
fn decode_block(product: &Product, services: &[String], regs: &[u16]) -> Vec<Option<Value>> {
    services
        .iter()
        .map(|id| {
            let s = product.service(id).expect("service");
            let at = usize::from(s.register.address - FIRST);
            s.register
                .decode(&regs[at..at + usize::from(s.register.count())])
                .expect("decodes")
        })
        .collect()
}

struct Setup {
    _server: SimulatorHandle,
    port: u16,
    installation: Installation,
    catalogue: Catalogue,
    product: Product,
    services: Vec<String>,
}

fn setup(server_rt: &tokio::runtime::Runtime) -> Setup {
    let catalogue = Catalogue::builtin().expect("catalogue");
    let product = catalogue.require("ECR380D").expect("ECR380D").clone();
    let services: Vec<String> = block(&product).iter().map(|s| s.id.clone()).collect();
    // A frozen clock: the simulated values do not move, so every side must read the same.
    let clock = SimClock::manual(chrono::Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0).unwrap());
    let sim = Simulator::new(clock);
    sim.add_device(1, product.clone()).expect("unit 1");
    let (addr, server) = server_rt
        .block_on(sim.serve_tcp("127.0.0.1:0"))
        .expect("simulator");
    let mut installation = Installation::default();
    let mut tcp = TcpSettings::new("127.0.0.1", addr.port());
    tcp.timeout_ms = RESPONSE_TIMEOUT.as_millis() as u64;
    installation
        .add_bus(Bus {
            name: "lan".into(),
            kind: BusKind::Tcp(tcp),
        })
        .unwrap();
    let mut dev = DeviceInstance::new("ecr", "ECR380D", "lan", DeviceAddress::Unit(1));
    dev.services = Some(services.clone());
    installation.add_device(dev).unwrap();
    Setup {
        _server: server,
        port: addr.port(),
        installation,
        catalogue,
        product,
        services,
    }
}

fn emkit_client(s: &Setup) -> ThreadClient<Vec<modbus_devices::Reading>> {
    let poller = Poller::new(&s.installation, &s.catalogue).expect("poller");
    assert_eq!(
        poller.requests_per_poll("ecr").unwrap(),
        1,
        "one request per poll"
    );
    ThreadClient::start(
        "emkit-client",
        move || async move { poller },
        async |poller: &mut Poller| poller.poll_device("ecr").await.expect("poll"),
    )
}

/// The poller's values in the order of `services` (checked outside the timed loop).
fn values_in_order(
    readings: &[modbus_devices::Reading],
    services: &[String],
) -> Vec<Option<Value>> {
    assert!(readings.iter().all(|r| r.quality == Quality::Good));
    services
        .iter()
        .map(|id| {
            readings
                .iter()
                .find(|r| &r.service == id)
                .and_then(|r| r.value.clone())
        })
        .collect()
}

/// The raw tokio-modbus client; with `timeout`, each request is guarded by it as the
/// poller guards its requests (the like-for-like peer); without, it is a floor (a client
/// that would wait forever for a silent device).
fn tokio_modbus_client(s: &Setup, timeout: Option<Duration>) -> ThreadClient<Vec<u16>> {
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], s.port).into();
    ThreadClient::start(
        if timeout.is_some() {
            "tokio-modbus-timeout"
        } else {
            "tokio-modbus-client"
        },
        move || async move {
            tokio_modbus::client::tcp::connect_slave(addr, tokio_modbus::Slave(1))
                .await
                .expect("connect")
        },
        async move |ctx: &mut tokio_modbus::client::Context| {
            let read = ctx.read_holding_registers(FIRST, COUNT);
            let answer = match timeout {
                Some(t) => tokio::time::timeout(t, read).await.expect("in time"),
                None => read.await,
            };
            answer.expect("transport").expect("no exception")
        },
    )
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn spread(xs: &[f64]) -> (f64, f64) {
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}

#[allow(
    clippy::too_many_lines,
    reason = "the bench's sequence (servers, equality check, alternating rounds, table, criterion groups) in the order it prints"
)]
fn poll(c: &mut Criterion) {
    // The simulator's own runtime: two worker threads, apart from every client thread.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let s = setup(&server_rt);
    let mut ours = emkit_client(&s);
    let mut raw = tokio_modbus_client(&s, Some(RESPONSE_TIMEOUT));
    let mut floor = tokio_modbus_client(&s, None);
    let mut peer = Peer::start(s.port);

    // Same work: every side's result decodes to our poller's values.
    let expected = values_in_order(&ours.run(1).1, &s.services);
    assert_eq!(expected.len(), s.services.len());
    assert!(expected.iter().all(Option::is_some), "the block has values");
    for client in [&mut raw, &mut floor] {
        let (_, raw_regs) = client.run(1);
        assert_eq!(
            decode_block(&s.product, &s.services, &raw_regs),
            expected,
            "tokio-modbus registers decode to the poller's values"
        );
    }
    if let Some(p) = peer.as_mut() {
        let (_, regs) = p.run(1);
        assert_eq!(
            decode_block(&s.product, &s.services, &regs),
            expected,
            "pymodbus registers decode to the poller's values"
        );
    }

    // Warm up, then alternate the clients over RUNS runs of ROUND_TRIPS each.
    ours.run(300);
    raw.run(300);
    floor.run(300);
    if let Some(p) = peer.as_mut() {
        p.run(300);
    }
    let names = [
        "emkit poller",
        "tokio-modbus client, same timeout",
        "pymodbus client",
        "floor: tokio-modbus, no timeout",
    ];
    let mut wall: [Vec<f64>; 4] = Default::default();
    let mut cpu: [Vec<f64>; 4] = Default::default();
    let mut sys: [Vec<f64>; 4] = Default::default();
    let per_trip = |d: Duration| d.as_secs_f64() * 1e6 / ROUND_TRIPS as f64;
    for _ in 0..RUNS {
        let mut record = |i: usize, t: Timing| {
            wall[i].push(per_trip(t.wall));
            cpu[i].push(per_trip(t.cpu));
            sys[i].push(per_trip(t.sys));
        };
        record(0, ours.run(ROUND_TRIPS).0);
        record(1, raw.run(ROUND_TRIPS).0);
        if let Some(p) = peer.as_mut() {
            record(2, p.run(ROUND_TRIPS).0);
        }
        record(3, floor.run(ROUND_TRIPS).0);
    }
    println!();
    println!(
        "poll round trips over loopback TCP, FC3 {COUNT} registers at 0x{FIRST:04X} (ECR380D simulator),"
    );
    println!(
        "{RUNS} alternating runs of {ROUND_TRIPS} round trips per client; median [min..max] per round trip:"
    );
    println!(
        "  {:<38} {:>24} {:>14} {:>24}",
        "client", "client CPU µs", "of it kernel", "wall µs"
    );
    for i in 0..4 {
        if cpu[i].is_empty() {
            continue;
        }
        let (clo, chi) = spread(&cpu[i]);
        let (wlo, whi) = spread(&wall[i]);
        println!(
            "  {:<38} {:>8.2} [{:>5.2}..{:>5.2}] {:>14.2} {:>8.2} [{:>5.2}..{:>5.2}]",
            names[i],
            median(cpu[i].clone()),
            clo,
            chi,
            median(sys[i].clone()),
            median(wall[i].clone()),
            wlo,
            whi
        );
    }
    let user =
        |i: usize| -> f64 { median(cpu[i].iter().zip(&sys[i]).map(|(c, k)| c - k).collect()) };
    let (c0, c1) = (median(cpu[0].clone()), median(cpu[1].clone()));
    println!(
        "  CPU per read: emkit / tokio-modbus with the same timeout = {:.2} (target <= 1.25); user space only: {:.2}",
        c0 / c1,
        user(0) / user(1)
    );
    println!(
        "  CPU per read: emkit / floor (tokio-modbus without timeout) = {:.2}; user space only: {:.2}",
        c0 / median(cpu[3].clone()),
        user(0) / user(3)
    );
    if !cpu[2].is_empty() {
        let c2 = median(cpu[2].clone());
        let w2 = median(wall[2].clone());
        println!(
            "  CPU per read: pymodbus / emkit = {:.2} (target >= 4); user space only: {:.2}; wall: {:.2}",
            c2 / c0,
            user(2) / user(0),
            w2 / median(wall[0].clone())
        );
    }
    println!(
        "  (kernel time includes the loopback TCP work both ends' sends cause; the user/kernel split is the kernel's tick-sampled estimate)"
    );
    println!();

    let mut g = c.benchmark_group("poll_roundtrip_wall");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(4));
    g.bench_function("emkit_poller", |b| b.iter_custom(|n| ours.run(n).0.wall));
    g.bench_function("tokio_modbus_client_same_timeout", |b| {
        b.iter_custom(|n| raw.run(n).0.wall)
    });
    if let Some(p) = peer.as_mut() {
        g.bench_function("pymodbus_client", |b| b.iter_custom(|n| p.run(n).0.wall));
    }
    g.finish();
    // The same round trips, with the client's CPU time as the measurement.
    let mut g = c.benchmark_group("poll_roundtrip_client_cpu");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(4));
    g.bench_function("emkit_poller", |b| b.iter_custom(|n| ours.run(n).0.cpu));
    g.bench_function("tokio_modbus_client_same_timeout", |b| {
        b.iter_custom(|n| raw.run(n).0.cpu)
    });
    if let Some(p) = peer.as_mut() {
        g.bench_function("pymodbus_client", |b| b.iter_custom(|n| p.run(n).0.cpu));
    }
    g.finish();
}

criterion_group!(benches, poll);
criterion_main!(benches);
