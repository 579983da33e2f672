//! The Modbus gateway against the simulator: over RTU over TCP on loopback and over a socat
//! pseudo-terminal pair. Values through the gateway equal a direct read; a silent unit gives
//! 0x0B within the timeout while the others keep working; a dead downstream and an unrouted
//! unit give 0x0A; eight concurrent clients each get their own answers (transaction ids)
//! and a fair share; broadcasts return at once; the cache saves bus reads (counted on the
//! simulator side) and a write forces a fresh read; read-only clients get 0x01.
#![cfg(feature = "io")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod peers;
mod sim_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use modbus_devices::device::{Bus, BusKind, Parity, RtuSettings, TcpSettings};
use modbus_devices::gateway::{
    AccessPolicy, CacheConfig, Gateway, GatewayConfig, Route, RoutingTable, ServerHandle,
};
use modbus_devices::sim::{Fault, SerialSettings, SimClock, Simulator, SimulatorHandle};
use sim_support::{PtyPair, product, t0};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_modbus::ExceptionCode;
use tokio_modbus::client::{Context, Reader, Writer};
use tokio_modbus::prelude::{Slave, SlaveContext};

/// A simulator with SIM-3P meters at `units` on a manual clock (values do not move), served
/// with RTU framing over TCP.
async fn rtu_sim(units: &[u8]) -> (Simulator, SocketAddr, SimulatorHandle) {
    let sim = Simulator::new(SimClock::manual(t0()));
    for &u in units {
        sim.add_device(u, product("SIM-3P")).unwrap();
    }
    let (addr, handle) = sim.serve_rtu_over_tcp("127.0.0.1:0").await.unwrap();
    (sim, addr, handle)
}

fn rtu_over_tcp(addr: SocketAddr, timeout_ms: u64) -> Bus {
    let mut t = TcpSettings::new("127.0.0.1", addr.port());
    t.timeout_ms = timeout_ms;
    t.retries = 0;
    Bus {
        name: format!("line-{}", addr.port()),
        kind: BusKind::RtuOverTcp(t),
    }
}

async fn start(config: GatewayConfig) -> (Gateway, SocketAddr, ServerHandle) {
    let gateway = Gateway::start(config).unwrap();
    let (addr, server) = gateway.serve_tcp("127.0.0.1:0").await.unwrap();
    (gateway, addr, server)
}

async fn client(addr: SocketAddr, unit: u8) -> Context {
    tokio_modbus::client::tcp::connect_slave(addr, Slave(unit))
        .await
        .unwrap()
}

async fn holding(ctx: &mut Context, addr: u16, n: u16) -> Result<Vec<u16>, ExceptionCode> {
    tokio::time::timeout(Duration::from_secs(10), ctx.read_holding_registers(addr, n))
        .await
        .expect("the gateway answers within 10 s")
        .expect("transport works")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_writes_through_the_gateway_equal_direct_ones() {
    let (_sim, sim_addr, _h) = rtu_sim(&[1, 2]).await;
    let mut config = GatewayConfig::new(vec![rtu_over_tcp(sim_addr, 500)]);
    // Unit 11 is unit 1 downstream; unit 2 passes unchanged.
    config.routes = RoutingTable {
        routes: vec![Route::new(11, 11, 0).remapped(1), Route::new(2, 2, 0)],
    };
    let (gateway, addr, _server) = start(config).await;

    let stream = TcpStream::connect(sim_addr).await.unwrap();
    let mut direct = tokio_modbus::client::rtu::attach_slave(stream, Slave(1));
    for (gw_unit, unit) in [(11u8, 1u8), (2, 2)] {
        direct.set_slave(Slave(unit));
        let want = holding(&mut direct, 0, 0x3E).await.unwrap();
        let mut c = client(addr, gw_unit).await;
        assert_eq!(
            holding(&mut c, 0, 0x3E).await.unwrap(),
            want,
            "unit {gw_unit}"
        );
        // A write through the gateway reads back directly.
        let value = 40 + u16::from(unit);
        c.write_single_register(0x0070, value)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(holding(&mut direct, 0x0070, 1).await.unwrap(), [value]);
        // The device's own exception is passed through.
        assert_eq!(
            c.write_single_register(0x0070, 300).await.unwrap(),
            Err(ExceptionCode::IllegalDataValue)
        );
    }
    // No route: 0x0A.
    let mut c = client(addr, 1).await;
    assert_eq!(
        holding(&mut c, 0, 1).await,
        Err(ExceptionCode::GatewayPathUnavailable)
    );
    let stats = gateway.stats();
    let bus = &stats.buses[0];
    assert_eq!(bus.counters.answers, 4, "{bus:?}");
    assert_eq!(bus.counters.exceptions_with(0x03), 2, "{bus:?}");
    assert!(bus.utilisation > 0.0 && bus.transactions == 6, "{bus:?}");
    assert_eq!(stats.clients.len(), 3);
    assert_eq!(stats.clients[2].counters.exceptions_with(0x0A), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_unit_gives_0x0b_within_the_timeout_while_others_keep_working() {
    let (sim, sim_addr, _h) = rtu_sim(&[1, 2, 3]).await;
    sim.set_fault(3, Fault::NoAnswer);
    let (_gateway, addr, _server) =
        start(GatewayConfig::new(vec![rtu_over_tcp(sim_addr, 300)])).await;

    let silent = tokio::spawn(async move {
        let mut c = client(addr, 3).await;
        let mut results = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            results.push((holding(&mut c, 0, 4).await, t.elapsed()));
        }
        results
    });
    let mut others = Vec::new();
    for unit in [1u8, 2] {
        others.push(tokio::spawn(async move {
            let mut c = client(addr, unit).await;
            let mut ok = 0;
            for _ in 0..10 {
                ok += usize::from(holding(&mut c, 0, 4).await.is_ok());
            }
            ok
        }));
    }
    for (r, took) in silent.await.unwrap() {
        assert_eq!(r, Err(ExceptionCode::GatewayTargetDevice));
        // The device's timeout (300 ms), plus at most one transaction of each other client
        // ahead of it in the queue.
        assert!(took < Duration::from_millis(900), "0x0B after {took:?}");
        assert!(
            took >= Duration::from_millis(250),
            "0x0B after only {took:?}"
        );
    }
    for o in others {
        assert_eq!(o.await.unwrap(), 10, "the other units keep answering");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_downstream_gives_0x0a() {
    // A port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let (_sim, sim_addr, _h) = rtu_sim(&[5]).await;
    let mut config = GatewayConfig::new(vec![rtu_over_tcp(port, 300), rtu_over_tcp(sim_addr, 300)]);
    config.routes = RoutingTable {
        routes: vec![Route::new(1, 4, 0), Route::new(5, 5, 1)],
    };
    let (gateway, addr, _server) = start(config).await;
    let mut dead = client(addr, 1).await;
    let mut alive = client(addr, 5).await;
    for _ in 0..3 {
        let t = Instant::now();
        assert_eq!(
            holding(&mut dead, 0, 2).await,
            Err(ExceptionCode::GatewayPathUnavailable)
        );
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        assert!(holding(&mut alive, 0, 2).await.is_ok());
    }
    let stats = gateway.stats();
    assert_eq!(stats.buses[0].counters.exceptions_with(0x0A), 3);
    assert_eq!(
        stats.buses[0].transactions, 0,
        "nothing was sent on a dead bus"
    );
    assert_eq!(stats.buses[1].counters.answers, 3);
}

/// A raw Modbus/TCP client: sends `depth` requests at once with distinct transaction ids,
/// then one new request per answer; checks each answer against its request.
async fn raw_client(
    addr: SocketAddr,
    unit: u8,
    reg: u16,
    count: u16,
    run: Duration,
    depth: u16,
) -> u64 {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    let mut next_tid: u16 = 1;
    let mut pending = std::collections::HashSet::new();
    let request = |tid: u16| {
        let mut f = Vec::new();
        f.extend(tid.to_be_bytes());
        f.extend([0, 0, 0, 6, unit, 0x03]);
        f.extend(reg.to_be_bytes());
        f.extend(count.to_be_bytes());
        f
    };
    for _ in 0..depth {
        s.write_all(&request(next_tid)).await.unwrap();
        pending.insert(next_tid);
        next_tid += 1;
    }
    let end = Instant::now() + run;
    let mut answers = 0;
    while !pending.is_empty() {
        let mut h = [0u8; 9];
        s.read_exact(&mut h).await.unwrap();
        let tid = u16::from_be_bytes([h[0], h[1]]);
        assert!(
            pending.remove(&tid),
            "answer with a transaction id {tid} never sent or sent twice"
        );
        assert_eq!(h[6], unit);
        assert_eq!(h[7], 0x03, "a normal answer, not an exception");
        assert_eq!(
            usize::from(h[8]),
            2 * usize::from(count),
            "the answer to this client's request"
        );
        let mut data = vec![0u8; usize::from(h[8])];
        s.read_exact(&mut data).await.unwrap();
        answers += 1;
        if Instant::now() < end {
            s.write_all(&request(next_tid)).await.unwrap();
            pending.insert(next_tid);
            next_tid = next_tid.wrapping_add(1);
        }
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_concurrent_clients_get_their_own_answers_and_a_fair_share() {
    let (sim, sim_addr, _h) = rtu_sim(&[1, 2]).await;
    // A line that takes 2 ms per transaction, so the queue is always full.
    sim.set_fault(1, Fault::Delay(Duration::from_millis(2)));
    sim.set_fault(2, Fault::Delay(Duration::from_millis(2)));
    let (gateway, addr, _server) =
        start(GatewayConfig::new(vec![rtu_over_tcp(sim_addr, 1000)])).await;
    let run = Duration::from_millis(1500);
    let mut tasks = Vec::new();
    for i in 0..8u16 {
        // Client 0 pipelines 8 requests, the others one at a time: round-robin keeps shares equal.
        let depth = if i == 0 { 8 } else { 1 };
        let unit = 1 + (i % 2) as u8;
        tasks.push(tokio::spawn(raw_client(
            addr,
            unit,
            i * 4,
            1 + i,
            run,
            depth,
        )));
    }
    let mut counts = Vec::new();
    for t in tasks {
        counts.push(t.await.unwrap());
    }
    let (min, max) = (*counts.iter().min().unwrap(), *counts.iter().max().unwrap());
    assert!(min > 10, "every client was served: {counts:?}");
    assert!(max as f64 / min as f64 <= 1.5, "fair shares: {counts:?}");
    let stats = gateway.stats();
    assert_eq!(stats.clients.len(), 8);
    assert_eq!(stats.buses[0].counters.answers, counts.iter().sum::<u64>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_writes_return_at_once_and_reach_every_device() {
    // Two buses; no route holds unit 0, so a broadcast goes to both.
    let (_sim_a, line_a, _ha) = rtu_sim(&[1, 2]).await;
    let (_sim_b, line_b, _hb) = rtu_sim(&[3]).await;
    let buses = vec![rtu_over_tcp(line_a, 2_000), rtu_over_tcp(line_b, 2_000)];
    let mut config = GatewayConfig::new(buses);
    config.routes = RoutingTable {
        routes: vec![Route::new(1, 2, 0), Route::new(3, 3, 1)],
    };
    let (gateway, addr, _server) = start(config).await;
    let mut c = client(addr, 0).await;
    let t = Instant::now();
    c.write_multiple_registers(0x0072, &[0, 500])
        .await
        .unwrap()
        .unwrap();
    // At once: not after the line's answer timeout (2 s).
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    // A read to unit 0 makes no sense.
    assert_eq!(
        holding(&mut c, 0x0072, 2).await,
        Err(ExceptionCode::IllegalFunction)
    );
    for unit in [1u8, 2, 3] {
        let mut c = client(addr, unit).await;
        assert_eq!(
            holding(&mut c, 0x0072, 2).await.unwrap(),
            [0, 500],
            "unit {unit}"
        );
    }
    let stats = gateway.stats();
    assert_eq!(stats.buses[0].counters.broadcasts, 1);
    assert_eq!(stats.buses[1].counters.broadcasts, 1);
    assert_eq!(stats.clients[0].counters.broadcasts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_turns_many_reads_into_one_and_writes_force_a_fresh_read() {
    let (sim, sim_addr, _h) = rtu_sim(&[1]).await;
    let mut config = GatewayConfig::new(vec![rtu_over_tcp(sim_addr, 500)]);
    config.cache = CacheConfig::all(60_000);
    let (gateway, addr, _server) = start(config).await;
    let before = sim.request_count(1);
    let mut tasks = Vec::new();
    for _ in 0..6 {
        tasks.push(tokio::spawn(async move {
            let mut c = client(addr, 1).await;
            holding(&mut c, 0x0070, 4).await.unwrap()
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    assert_eq!(
        sim.request_count(1) - before,
        1,
        "six clients, one bus read"
    );
    // A write to a register of the block: the next read goes to the device.
    let mut c = client(addr, 1).await;
    c.write_single_register(0x0071, 0).await.unwrap().ok();
    let after_write = sim.request_count(1);
    let fresh = holding(&mut c, 0x0070, 4).await.unwrap();
    assert_eq!(
        sim.request_count(1) - after_write,
        1,
        "a fresh read after the write"
    );
    assert_eq!(fresh[0], answers[0][0]);
    // A write elsewhere keeps the block cached.
    c.write_single_register(0x0000, 1).await.unwrap().ok();
    let n = sim.request_count(1);
    holding(&mut c, 0x0070, 4).await.unwrap();
    assert_eq!(sim.request_count(1), n, "served from the cache");
    assert!(gateway.stats().buses[0].counters.cache_hits >= 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_sources_are_refused_writes_with_0x01() {
    let (sim, sim_addr, _h) = rtu_sim(&[1]).await;
    let mut config = GatewayConfig::new(vec![rtu_over_tcp(sim_addr, 500)]);
    config.access = AccessPolicy {
        read_only_sources: vec!["127.0.0.0/8".into()],
        ..AccessPolicy::default()
    };
    let (gateway, addr, _server) = start(config).await;
    let mut c = client(addr, 1).await;
    let before = sim.request_count(1);
    assert_eq!(
        c.write_single_register(0x0070, 9).await.unwrap(),
        Err(ExceptionCode::IllegalFunction)
    );
    assert_eq!(
        sim.request_count(1),
        before,
        "the write never reached the bus"
    );
    assert_eq!(
        holding(&mut c, 0x0070, 1).await.unwrap(),
        [1],
        "reads still work"
    );
    let stats = gateway.stats();
    assert!(stats.clients[0].read_only);
    assert_eq!(stats.clients[0].counters.exceptions_with(0x01), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serial_line_over_a_socat_pty_pair() {
    let Some(pty) = PtyPair::new() else {
        return;
    };
    let sim = Simulator::new(SimClock::manual(t0()));
    sim.add_device(1, product("SIM-3P")).unwrap();
    sim.add_device(7, product("SIM-3P")).unwrap();
    sim.set_fault(7, Fault::NoAnswer);
    let _h = sim
        .serve_rtu(&pty.a, &SerialSettings::default())
        .await
        .unwrap();
    let mut line = RtuSettings::new(&pty.b);
    line.parity = Parity::Even;
    line.response_timeout_ms = 250;
    line.retries = 0;
    let bus = Bus {
        name: "pty".into(),
        kind: BusKind::Rtu(line.clone()),
    };

    // The direct read first (one master on a line at a time).
    let want = {
        use tokio_serial::SerialPortBuilderExt;
        let port = tokio_serial::new(pty.b.to_string_lossy(), line.baud)
            .parity(tokio_serial::Parity::Even)
            .open_native_async()
            .unwrap();
        let mut direct = tokio_modbus::client::rtu::attach_slave(port, Slave(1));
        holding(&mut direct, 0, 0x3E).await.unwrap()
    };
    let (gateway, addr, _server) = start(GatewayConfig::new(vec![bus])).await;
    let mut c = client(addr, 1).await;
    assert_eq!(holding(&mut c, 0, 0x3E).await.unwrap(), want);
    c.write_single_register(0x0070, 33).await.unwrap().unwrap();
    assert_eq!(holding(&mut c, 0x0070, 1).await.unwrap(), [33]);
    let mut silent = client(addr, 7).await;
    let t = Instant::now();
    assert_eq!(
        holding(&mut silent, 0, 1).await,
        Err(ExceptionCode::GatewayTargetDevice)
    );
    assert!(
        t.elapsed() < Duration::from_millis(1_000),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(
        holding(&mut c, 0x0070, 1).await.unwrap(),
        [33],
        "the line recovers"
    );
    assert_eq!(gateway.stats().buses[0].kind, "rtu");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downstream_modbus_tcp_device() {
    let sim = Simulator::new(SimClock::manual(t0()));
    sim.add_device(4, product("SIM-3P")).unwrap();
    let (sim_addr, _h) = sim.serve_tcp("127.0.0.1:0").await.unwrap();
    let mut t = TcpSettings::new("127.0.0.1", sim_addr.port());
    t.timeout_ms = 500;
    let bus = Bus {
        name: "tcp".into(),
        kind: BusKind::Tcp(t),
    };
    let (gateway, addr, _server) = start(GatewayConfig::new(vec![bus])).await;
    let mut direct = client(sim_addr, 4).await;
    let want = holding(&mut direct, 0, 0x3E).await.unwrap();
    let mut c = client(addr, 4).await;
    assert_eq!(holding(&mut c, 0, 0x3E).await.unwrap(), want);
    c.write_single_register(0x0070, 99).await.unwrap().unwrap();
    assert_eq!(holding(&mut direct, 0x0070, 1).await.unwrap(), [99]);
    // The downstream device's own 0x0B (a unit it does not have) passes through.
    let mut other = client(addr, 9).await;
    assert_eq!(
        holding(&mut other, 0, 1).await,
        Err(ExceptionCode::GatewayTargetDevice)
    );
    assert_eq!(gateway.stats().buses[0].kind, "tcp");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitors_poller_shares_the_line_with_other_clients() {
    use modbus_devices::Quality;
    use modbus_devices::device::{DeviceAddress, DeviceInstance, Installation};
    use modbus_devices::poll::Poller;

    let (_sim, sim_addr, _h) = rtu_sim(&[1, 2]).await;
    let (gateway, addr, _server) =
        start(GatewayConfig::new(vec![rtu_over_tcp(sim_addr, 500)])).await;
    // The poller reaches unit 1 through the gateway; another client reads unit 2 meanwhile.
    let mut site = Installation::default();
    site.add_bus(Bus {
        name: "gateway".into(),
        kind: BusKind::Tcp(TcpSettings::new("127.0.0.1", addr.port())),
    })
    .unwrap();
    site.add_device(DeviceInstance::new(
        "meter",
        "SIM-3P",
        "gateway",
        DeviceAddress::Unit(1),
    ))
    .unwrap();
    let catalogue = sim_support::catalogue();
    let poller = Poller::new(&site, &catalogue).unwrap();
    let other = tokio::spawn(async move {
        let mut c = client(addr, 2).await;
        let mut ok = 0;
        for _ in 0..30 {
            ok += usize::from(holding(&mut c, 0, 0x3E).await.is_ok());
        }
        ok
    });
    for _ in 0..3 {
        let readings = poller.poll_once().await;
        assert!(
            !readings.is_empty() && readings.iter().all(|r| r.quality == Quality::Good),
            "{readings:?}"
        );
    }
    assert_eq!(other.await.unwrap(), 30);
    let stats = gateway.stats();
    assert_eq!(stats.clients.len(), 2);
    assert!(stats.clients.iter().all(|c| c.counters.answers > 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_statistics_stay_bounded_and_keep_open_connections() {
    let (_sim, sim_addr, _h) = rtu_sim(&[1]).await;
    let (gateway, addr, _server) =
        start(GatewayConfig::new(vec![rtu_over_tcp(sim_addr, 500)])).await;
    let mut kept = client(addr, 1).await;
    holding(&mut kept, 0, 1).await.unwrap();
    for _ in 0..1100 {
        // Connect and close at once, as one-shot tools (mbpoll) do.
        drop(TcpStream::connect(addr).await.unwrap());
    }
    holding(&mut kept, 0, 1).await.unwrap();
    // Let the gateway notice the last closed connections.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stats = gateway.stats();
    assert!(stats.clients.len() <= 1024, "{}", stats.clients.len());
    assert!(stats.clients.len() >= 512, "{}", stats.clients.len());
    let first = stats
        .clients
        .iter()
        .find(|c| c.counters.answers == 2)
        .expect("the open connection is kept");
    assert_eq!(first.counters.requests, 2);
}
