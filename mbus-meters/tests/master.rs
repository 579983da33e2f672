//! The M-Bus master end to end against a simulated bus, over loopback TCP and over a socat
//! pseudo-terminal pair (8E1 serial settings on both ends).
#![cfg(feature = "master")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod peers;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mbus_meters::encode::{DataSpec, HeaderSpec, LongHeader, RecordSpec, VifSpec};
use mbus_meters::master::{Master, MasterConfig, Probe, serve};
use mbus_meters::sim::{SimMeter, SimulatedBus};
use mbus_meters::timing::BusTiming;
use mbus_meters::{
    Address, Control, Id, Manufacturer, MasterError, Medium, OwnedValue, SecondaryAddress, Status,
};

fn header(id: u32, manufacturer: &str, medium: Medium) -> LongHeader {
    LongHeader {
        id: Id::from_decimal(id).unwrap(),
        manufacturer: Manufacturer::from_letters(manufacturer).unwrap(),
        version: 1,
        medium,
        access_number: 0,
        status: Status(0),
        signature: 0,
    }
}

/// Energy in kWh (VIF 0x06) as 8-digit BCD.
fn energy(kwh: i64) -> RecordSpec {
    RecordSpec::new(VifSpec::Primary(0x06), DataSpec::bcd(8, kwh).unwrap())
}

/// Volume in litres (VIF 0x13) as 8-digit BCD.
fn volume(l: i64) -> RecordSpec {
    RecordSpec::new(VifSpec::Primary(0x13), DataSpec::bcd(8, l).unwrap())
}

fn meter(primary: u8, id: u32, manufacturer: &str, medium: Medium, kwh: i64) -> SimMeter {
    let h = HeaderSpec::Long(header(id, manufacturer, medium));
    SimMeter::new(primary, vec![(h, vec![energy(kwh)])]).unwrap()
}

/// The bus used by every test:
/// - 1: KAM 12345678 heat, two telegrams (energy, then volume);
/// - 2: KAM 12345679 heat (collides with 1 down to the last digit of the wildcard search);
/// - 3: ZRI 12340000 water (collides with 1 and 2 on the first four digits);
/// - 4: 55555555, never answers;
/// - 5: 87654321, drops its first request (the master's retry gets it);
/// - 6 twice: id 11111111 of two manufacturers sharing primary address 6 (collide on the
///   primary scan and on every digit of the search).
fn bus() -> SimulatedBus {
    let m1 = SimMeter::new(
        1,
        vec![
            (
                HeaderSpec::Long(header(12345678, "KAM", Medium::HEAT)),
                vec![energy(1000)],
            ),
            (
                HeaderSpec::Long(header(12345678, "KAM", Medium::HEAT)),
                vec![volume(2500)],
            ),
        ],
    )
    .unwrap();
    SimulatedBus::new(vec![
        m1,
        meter(2, 12345679, "KAM", Medium::HEAT, 2000),
        meter(3, 12340000, "ZRI", Medium::WATER, 3000),
        meter(4, 55555555, "EFE", Medium::HEAT, 4000).silent(),
        meter(5, 87654321, "LUG", Medium::HEAT, 5000).dropping(1),
        meter(6, 11111111, "SON", Medium::HEAT, 6000),
        meter(6, 11111111, "HYD", Medium::HEAT, 7000),
    ])
}

fn config() -> MasterConfig {
    MasterConfig {
        timing: BusTiming::new(38400).unwrap(),
        ..MasterConfig::default()
    }
}

fn number(v: &OwnedValue) -> f64 {
    match v {
        OwnedValue::Number(n) => *n,
        other => panic!("not a number: {other:?}"),
    }
}

fn sec(id: u32, manufacturer: &str, medium: Medium) -> SecondaryAddress {
    header(id, manufacturer, medium).secondary_address()
}

/// Everything a master does, against the simulated bus.
async fn exercise<S>(master: &mut Master<S>, full_scan: bool)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // multi-telegram readout with FCB toggling
    let frames = master.read(Address(1)).await.unwrap();
    assert_eq!(frames.len(), 2);
    assert!(frames[0].more_records_follow);
    assert!(!frames[1].more_records_follow);
    assert_eq!(number(&frames[0].records[0].value), 1_000_000.0);
    assert_eq!(frames[0].records[0].unit.symbol(), "Wh");
    assert_eq!(number(&frames[1].records[0].value), 2.5);
    assert_eq!(frames[1].records[0].unit.symbol(), "m3");
    // a second readout starts again with the first telegram (SND_NKE resets the slave)
    let again = master.read(Address(1)).await.unwrap();
    assert_eq!(again, frames);

    // retries: meter 5 drops the first SND_NKE
    let frames = master.read(Address(5)).await.unwrap();
    assert_eq!(number(&frames[0].records[0].value), 5_000_000.0);

    // a meter that does not answer
    let err = master.read(Address(4)).await.unwrap_err();
    assert!(
        matches!(err, MasterError::Timeout { attempts: 3, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("primary address 4"), "{err}");

    // two meters on one primary address: a garbled answer
    let err = master.req_ud2(Address(6)).await.unwrap_err();
    assert!(matches!(err, MasterError::Collision { .. }), "{err}");

    // secondary addressing
    let frames = master
        .read_secondary(&sec(12345679, "KAM", Medium::HEAT))
        .await
        .unwrap();
    assert_eq!(
        frames[0].header.as_ref().unwrap().id.as_deref(),
        Some("12345679")
    );
    assert_eq!(number(&frames[0].records[0].value), 2_000_000.0);
    // by id with wildcard manufacturer, version and medium
    let mut mask = SecondaryAddress::wildcard();
    mask.id = Id(0x1234_0000);
    let frames = master.read_secondary(&mask).await.unwrap();
    assert_eq!(
        frames[0].header.as_ref().unwrap().manufacturer.as_deref(),
        Some("ZRI")
    );
    // wildcard digits matching two meters
    mask.id = Id(0x1234_567F);
    assert_eq!(master.probe(&mask).await.unwrap(), Probe::Collision);
    // manufacturer narrows it
    mask.id = Id(0x1234_FFFF);
    mask.manufacturer = Manufacturer::from_letters("ZRI").unwrap();
    assert_eq!(
        master.probe(&mask).await.unwrap(),
        Probe::Single(sec(12340000, "ZRI", Medium::WATER))
    );
    mask.medium = Medium::HEAT;
    assert_eq!(master.probe(&mask).await.unwrap(), Probe::Nothing);

    // the wildcard search
    let search = master
        .search_secondary(SecondaryAddress::wildcard())
        .await
        .unwrap();
    let mut found = search.found.clone();
    found.sort_by_key(|a| a.id);
    assert_eq!(
        found,
        vec![
            sec(12340000, "ZRI", Medium::WATER),
            sec(12345678, "KAM", Medium::HEAT),
            sec(12345679, "KAM", Medium::HEAT),
            sec(87654321, "LUG", Medium::HEAT),
        ]
    );
    // same id, two meters: narrowed to the last digit, still colliding
    assert_eq!(search.unresolved.len(), 1);
    assert_eq!(search.unresolved[0].id, Id(0x1111_1111));
    // restricted to one manufacturer
    let mut kam = SecondaryAddress::wildcard();
    kam.manufacturer = Manufacturer::from_letters("KAM").unwrap();
    let search = master.search_secondary(kam).await.unwrap();
    assert_eq!(search.found.len(), 2);
    assert!(search.unresolved.is_empty());

    // primary scan (one attempt per address)
    let retries = master.config().retries;
    let range = if full_scan { 0..=250 } else { 0..=8 };
    let scan = {
        master.config_mut().retries = 0;
        let scan = master.scan_primary(range).await.unwrap();
        master.config_mut().retries = retries;
        scan
    };
    assert_eq!(scan.found, vec![1, 2, 3, 5]);
    assert_eq!(scan.collisions, vec![6]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_over_loopback_tcp() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let bus = Arc::new(Mutex::new(bus()));
    let server_bus = bus.clone();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        serve(server_bus, stream, Duration::from_micros(300)).await
    });
    let mut master = Master::connect_tcp(&addr.to_string(), config())
        .await
        .unwrap();
    exercise(&mut master, true).await;
    drop(master);
    server.await.unwrap().unwrap();
    let bus = bus.lock().unwrap();
    assert!(bus.collisions > 0);
    assert_eq!(bus.meters[3].answered, 0);
}

struct Socat(std::process::Child);

impl Drop for Socat {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_over_socat_pty_pair() {
    if !peers::socat() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("mbus-pty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("master"), dir.join("slave"));
    let child = std::process::Command::new("socat")
        .arg(format!("pty,raw,echo=0,link={}", a.display()))
        .arg(format!("pty,raw,echo=0,link={}", b.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _socat = Socat(child);
    for _ in 0..100 {
        if a.exists() && b.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        a.exists() && b.exists(),
        "socat did not create the pty pair"
    );

    let bus = Arc::new(Mutex::new(bus()));
    let slave = mbus_meters::master::open_serial(b.to_str().unwrap(), 38400).unwrap();
    let server_bus = bus.clone();
    let server =
        tokio::spawn(async move { serve(server_bus, slave, Duration::from_micros(300)).await });
    let mut master = Master::open_serial(a.to_str().unwrap(), config()).unwrap();
    exercise(&mut master, false).await;
    drop(master);
    server.abort();
    assert!(bus.lock().unwrap().collisions > 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A lost answer in the middle of a multi-telegram readout: the master repeats the request
/// with the same FCB, the meter repeats its telegram instead of moving on.
#[tokio::test]
async fn lost_answer_is_repeated_with_the_same_fcb() {
    let h = HeaderSpec::Long(header(24681357, "EFE", Medium::HEAT));
    let telegrams = (1..=3).map(|i| (h, vec![energy(i * 100)])).collect();
    // requests to the meter: 1 SND_NKE, 2 REQ_UD2 (first), 3 REQ_UD2 (second, answer lost),
    // 4 its repetition, 5 REQ_UD2 (third)
    let m = SimMeter::new(9, telegrams).unwrap().losing(&[3]);
    let bus = Arc::new(Mutex::new(SimulatedBus::new(vec![m])));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server_bus = bus.clone();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        serve(server_bus, stream, Duration::ZERO).await
    });
    let mut master = Master::connect_tcp(&addr.to_string(), config())
        .await
        .unwrap();
    let frames = master.read(Address(9)).await.unwrap();
    let values: Vec<f64> = frames.iter().map(|f| number(&f.records[0].value)).collect();
    assert_eq!(values, [100_000.0, 200_000.0, 300_000.0]);
    drop(master);
    server.await.unwrap().unwrap();
    let bus = bus.lock().unwrap();
    // five requests reached the meter, four answers reached the master
    assert_eq!(bus.requests, 5);
    assert_eq!(bus.meters[0].answered, 4);
}

// ---------------------------------------------------------------------------------------
// Bounded I/O: misbehaving peers on real loopback TCP sockets. Each must end in a typed error
// within the reply deadline, never hold the master.
// ---------------------------------------------------------------------------------------

/// A loopback TCP peer running `behave` on the accepted connection, and a master on it.
async fn misbehaving_peer<F, Fut>(behave: F) -> Master<tokio::net::TcpStream>
where
    F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        behave(stream).await;
    });
    let mut config = config();
    config.retries = 0;
    Master::connect_tcp(&addr.to_string(), config)
        .await
        .unwrap()
}

/// Upper bound of an operation that must end at the reply deadline: the deadline plus
/// scheduling slack on a loaded machine.
fn within(deadline: Duration) -> Duration {
    deadline + Duration::from_millis(700)
}

/// Runs `f`, failing the test (instead of hanging) if it does not end well past `deadline`.
async fn bounded<T>(deadline: Duration, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(within(deadline) * 3, f)
        .await
        .expect("the master must not hang on a misbehaving peer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_streaming_garbage_forever_ends_in_overrun() {
    use tokio::io::AsyncWriteExt;
    let mut master = misbehaving_peer(|mut s| async move {
        // bytes that never form a frame, sprinkled with start bytes, as fast as it can
        let garbage: Vec<u8> = (0..4096u32)
            .map(|i| [0x68, 0x10, 0xE5, 0x00, 0xFF, 0x16][(i % 6) as usize] ^ (i as u8 & 0x40))
            .collect();
        while s.write_all(&garbage).await.is_ok() {}
    })
    .await;
    let deadline = master.config().timing.reply_timeout();
    let t = std::time::Instant::now();
    let err = bounded(deadline, master.req_ud2(Address(1)))
        .await
        .unwrap_err();
    let elapsed = t.elapsed();
    assert!(
        matches!(err, MasterError::Overrun { received, ref kept, .. }
            if received > 10 * mbus_meters::link::MAX_FRAME_LEN && kept.len() <= 3 * mbus_meters::link::MAX_FRAME_LEN),
        "{err}"
    );
    assert!(elapsed >= deadline, "{elapsed:?} < {deadline:?}");
    assert!(elapsed <= within(deadline), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_trickling_one_byte_every_10_ms_ends_in_overrun() {
    use tokio::io::AsyncWriteExt;
    // a valid answer, but one byte every 10 ms: each byte comes within the idle timeout
    // (58.6 ms at 38 400 Bd), so only the overall deadline ends the reply
    let answer = bus().handle(&mbus_meters::encode::short_frame(
        Control::req_ud2(true),
        Address(3),
    ));
    let answer = answer.unwrap();
    let mut master = misbehaving_peer(move |mut s| async move {
        loop {
            for b in &answer {
                if s.write_all(&[*b]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    })
    .await;
    let timing = master.config().timing;
    assert!(timing.idle_timeout() > Duration::from_millis(10));
    let deadline = timing.reply_timeout();
    let t = std::time::Instant::now();
    let err = bounded(deadline, master.req_ud2(Address(3)))
        .await
        .unwrap_err();
    let elapsed = t.elapsed();
    assert!(
        matches!(err, MasterError::Overrun { received, .. } if received >= 5),
        "{err}"
    );
    assert!(elapsed >= deadline, "{elapsed:?} < {deadline:?}");
    assert!(elapsed <= within(deadline), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_closing_mid_frame_ends_in_an_io_error() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut master = misbehaving_peer(|mut s| async move {
        let mut req = [0u8; 5];
        let _ = s.read_exact(&mut req).await;
        // the first 7 bytes of a long frame, then the connection closes
        let _ = s
            .write_all(&[0x68, 0x1F, 0x1F, 0x68, 0x08, 0x01, 0x72])
            .await;
        let _ = s.shutdown().await;
    })
    .await;
    let deadline = master.config().timing.reply_timeout();
    let t = std::time::Instant::now();
    let err = bounded(deadline, master.req_ud2(Address(1)))
        .await
        .unwrap_err();
    let elapsed = t.elapsed();
    assert!(
        matches!(err, MasterError::Io { context: "reading a reply", ref message }
            if message.contains("after 7 byte(s)")),
        "{err}"
    );
    assert!(elapsed <= within(deadline), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_before_an_answer_is_skipped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let answer = bus()
        .handle(&mbus_meters::encode::short_frame(
            Control::req_ud2(true),
            Address(3),
        ))
        .unwrap();
    let sent = answer.clone();
    let mut master = misbehaving_peer(move |mut s| async move {
        let answer = sent;
        let mut req = [0u8; 5];
        let _ = s.read_exact(&mut req).await;
        // line noise with start bytes in it (a lone E5, a broken long frame), then the answer
        let mut bytes = vec![0x00, 0xE5, 0x68, 0x05, 0x06, 0x68, 0x10, 0x7F];
        bytes.extend_from_slice(&answer);
        let _ = s.write_all(&bytes).await;
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest).await;
    })
    .await;
    let frame = master.req_ud2(Address(3)).await.unwrap();
    assert_eq!(frame, answer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secondary_search_reports_progress_after_every_probe() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let bus = Arc::new(Mutex::new(bus()));
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        serve(bus, stream, Duration::from_micros(300)).await
    });
    let mut master = Master::connect_tcp(&addr.to_string(), config())
        .await
        .unwrap();
    // Meter 5 drops its first request: a first search without progress takes that drop (and
    // misses that meter).
    let plain = master
        .search_secondary(SecondaryAddress::wildcard())
        .await
        .unwrap();
    let mut seen: Vec<(u32, usize)> = Vec::new();
    let search = master
        .search_secondary_with_progress(SecondaryAddress::wildcard(), |s| {
            seen.push((s.probes, s.found.len()))
        })
        .await
        .unwrap();
    // One call per probe, in order, the last one with the final counts.
    assert_eq!(seen.len(), search.probes as usize);
    assert!(
        seen.iter()
            .enumerate()
            .all(|(i, (p, _))| *p as usize == i + 1)
    );
    assert!(seen.windows(2).all(|w| w[1].1 >= w[0].1));
    assert_eq!(seen.last(), Some(&(search.probes, search.found.len())));
    assert_eq!(search.found.len(), 4, "{search:?}");
    // The same search as without progress (which missed only the meter that dropped).
    assert_eq!(search.probes, plain.probes);
    assert_eq!(search.unresolved, plain.unresolved);
    assert!(plain.found.iter().all(|a| search.found.contains(a)));
    assert_eq!(plain.found.len(), 3);
    drop(master);
    let _ = server.await;
}
