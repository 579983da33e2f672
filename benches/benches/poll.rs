//! Poll round trips per second over loopback Modbus/TCP (issue 2, section 10): our poller
//! against our simulator, and a pymodbus client (the peer) against the same simulator, in
//! the same run, reading the same request (FC3, 49 registers at 0xB000 of a simulated Hager
//! ECR380D, the instantaneous block). Before the timed criterion runs it measures both sides
//! over a fixed number of round trips and prints round trips/s and the ratio.
//!
//! The pymodbus side is a long-lived Python process (`benches/peers/pymodbus_client.py`)
//! that keeps its connection open and times its own loop, so neither process start-up nor
//! the pipe is counted. Without pymodbus the peer half is skipped with a printed reason,
//! unless `EMKIT_REQUIRE_PEERS=1`.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use modbus_devices::Catalogue;
use modbus_devices::device::{
    Bus, BusKind, DeviceAddress, DeviceInstance, Installation, TcpSettings,
};
use modbus_devices::poll::Poller;
use modbus_devices::sim::{SimClock, Simulator, SimulatorHandle};

const FIRST: u16 = 0xB000;
const LAST: u16 = 0xB030;
const ROUND_TRIPS: u64 = 3_000;

struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    fn start(port: u16) -> Option<Peer> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/pymodbus_client.py");
        let ok = Command::new("python3")
            .args(["-c", "import pymodbus"])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            if std::env::var("EMKIT_REQUIRE_PEERS").as_deref() == Ok("1") {
                panic!("pymodbus is required (EMKIT_REQUIRE_PEERS=1) but `import pymodbus` failed");
            }
            println!("SKIPPED pymodbus side: python3 with pymodbus is not installed");
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

    /// Time `n` round trips inside the peer.
    fn run(&mut self, n: u64) -> Duration {
        writeln!(self.stdin, "{n} 1 3 {FIRST} {}", LAST - FIRST + 1).unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        Duration::from_nanos(
            line.trim()
                .parse()
                .expect("the peer prints elapsed nanoseconds"),
        )
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn setup(rt: &tokio::runtime::Runtime) -> (Poller, SimulatorHandle, u16) {
    let catalogue = Catalogue::builtin().expect("catalogue");
    let product = catalogue.require("ECR380D").expect("ECR380D").clone();
    let block: Vec<String> = product
        .services
        .iter()
        .filter(|s| (FIRST..=LAST).contains(&s.register.address))
        .map(|s| s.id.clone())
        .collect();
    let sim = Simulator::new(SimClock::real());
    sim.add_device(1, product).expect("unit 1");
    let (addr, handle) = rt
        .block_on(sim.serve_tcp("127.0.0.1:0"))
        .expect("simulator");
    let mut site = Installation::default();
    let mut tcp = TcpSettings::new("127.0.0.1", addr.port());
    tcp.timeout_ms = 2_000;
    site.add_bus(Bus {
        name: "lan".into(),
        kind: BusKind::Tcp(tcp),
    })
    .unwrap();
    let mut dev = DeviceInstance::new("ecr", "ECR380D", "lan", DeviceAddress::Unit(1));
    dev.services = Some(block);
    site.add_device(dev).unwrap();
    let poller = Poller::new(&site, &catalogue).expect("poller");
    assert_eq!(
        poller.requests_per_poll("ecr").unwrap(),
        1,
        "one request per poll"
    );
    (poller, handle, addr.port())
}

fn ours(rt: &tokio::runtime::Runtime, poller: &Poller, n: u64) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..n {
            let r = poller.poll_device("ecr").await.expect("poll");
            assert!(r.iter().all(|r| r.quality == modbus_devices::Quality::Good));
        }
        start.elapsed()
    })
}

fn poll(c: &mut Criterion) {
    // Worker threads keep the simulator answering while the peer (another process) runs.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (poller, _server, port) = setup(&rt);
    let mut peer = Peer::start(port);

    // Warm up both sides, then measure the same number of round trips each.
    ours(&rt, &poller, 200);
    let ours_t = ours(&rt, &poller, ROUND_TRIPS);
    let ours_rate = ROUND_TRIPS as f64 / ours_t.as_secs_f64();
    println!();
    println!("poll round trips over loopback TCP, FC3 49 registers at 0xB000 (ECR380D simulator):");
    println!("  emkit poller      {ours_rate:>10.0} round trips/s");
    if let Some(p) = peer.as_mut() {
        p.run(200);
        let peer_t = p.run(ROUND_TRIPS);
        let peer_rate = ROUND_TRIPS as f64 / peer_t.as_secs_f64();
        println!("  pymodbus client   {peer_rate:>10.0} round trips/s");
        println!("  ratio emkit / pymodbus = {:.2}", ours_rate / peer_rate);
    }
    println!();

    let mut g = c.benchmark_group("poll_roundtrip");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("emkit_poller", |b| b.iter_custom(|n| ours(&rt, &poller, n)));
    if let Some(p) = peer.as_mut() {
        g.bench_function("pymodbus_client", |b| b.iter_custom(|n| p.run(n)));
    }
    g.finish();
}

criterion_group!(benches, poll);
criterion_main!(benches);
