//! M-Bus decoding (issue 3, section 8): the whole libmbus test corpus decoded, every record to
//! a value scaled to its base unit with that unit, by `mbus-meters` and, in the same run, by
//! the `m-bus-parser` crate (typed values scaled by their decimal exponent, first unit).
//! Prints frames/s, MB/s and the ratio, then criterion's own measurements.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::fs;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use m_bus_parser::WiredFrame;
use m_bus_parser::user_data::data_information::DataType;
use mbus_meters::{Frame, Value};

fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../mbus-meters/tests/corpus/libmbus/test-frames");
    let mut names: Vec<_> = fs::read_dir(&dir)
        .expect("corpus directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "hex"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| mbus_meters::hex::parse_hex(&fs::read_to_string(p).expect("read")).expect("hex"))
        .collect()
}

/// mbus-meters: every record to a scaled value with its unit. Returns (records, checksum).
#[inline(never)]
fn ours(frames: &[Vec<u8>]) -> (usize, f64) {
    let mut n = 0;
    let mut acc = 0.0;
    for bytes in frames {
        let Ok(frame) = Frame::parse(bytes) else {
            continue;
        };
        black_box(frame.header());
        for r in frame.records() {
            let Ok(r) = r else { break };
            n += 1;
            let unit = r.unit();
            match r.value() {
                Value::Number(v) => acc += v,
                other => {
                    black_box(other);
                }
            }
            black_box(unit);
        }
    }
    (n, acc)
}

/// m-bus-parser: every record to a typed value, numbers scaled by the record's decimal
/// exponent, with the first unit. Returns (records, checksum).
#[inline(never)]
fn peer(frames: &[Vec<u8>]) -> (usize, f64) {
    let mut n = 0;
    let mut acc = 0.0;
    for bytes in frames {
        let Ok(WiredFrame::LongFrame { data, .. }) = WiredFrame::try_from(bytes.as_slice()) else {
            continue;
        };
        let Ok(app) = m_bus_parser::user_data::parse_application_layer(data) else {
            continue;
        };
        let Some(records) = app.data_records() else {
            continue;
        };
        for r in records {
            let Ok(r) = r else { break };
            n += 1;
            let vi = r.value_information();
            let unit = vi.and_then(|v| v.first_unit());
            match r.value() {
                Some(DataType::Number(v) | DataType::LossyNumber(v)) => {
                    let e = vi.map_or(0, |v| v.decimal_scale_exponent) as i32;
                    acc += v * 10f64.powi(e);
                }
                other => {
                    black_box(other);
                }
            }
            black_box(unit);
        }
    }
    (n, acc)
}

/// Frames per second of both decoders over the corpus, measured for about `budget` in
/// alternating slices, so that both see the same machine load.
fn rates(frames: &[Vec<u8>], budget: Duration) -> (f64, f64) {
    const SLICE: u32 = 50;
    for _ in 0..200 {
        black_box(ours(black_box(frames)));
        black_box(peer(black_box(frames)));
    }
    let (mut t_ours, mut t_peer) = (Duration::ZERO, Duration::ZERO);
    let mut slices = 0u32;
    let start = Instant::now();
    while start.elapsed() < budget {
        let t = Instant::now();
        for _ in 0..SLICE {
            black_box(ours(black_box(frames)));
        }
        t_ours += t.elapsed();
        let t = Instant::now();
        for _ in 0..SLICE {
            black_box(peer(black_box(frames)));
        }
        t_peer += t.elapsed();
        slices += 1;
    }
    let decoded = f64::from(slices * SLICE) * frames.len() as f64;
    (
        decoded / t_ours.as_secs_f64(),
        decoded / t_peer.as_secs_f64(),
    )
}

fn mbus_decode(c: &mut Criterion) {
    let frames = corpus();
    let bytes: usize = frames.iter().map(Vec::len).sum();
    let (our_records, _) = ours(&frames);
    let (peer_records, _) = peer(&frames);

    let (our_rate, peer_rate) = rates(&frames, Duration::from_secs(6));
    let mb = |frames_per_s: f64| frames_per_s * bytes as f64 / frames.len() as f64 / 1e6;
    println!();
    println!("libmbus corpus: {} frames, {bytes} bytes", frames.len());
    println!(
        "mbus-meters : {our_records} records, {:.2} M frames/s, {:.0} MB/s",
        our_rate / 1e6,
        mb(our_rate)
    );
    println!(
        "m-bus-parser: {peer_records} records, {:.2} M frames/s, {:.0} MB/s",
        peer_rate / 1e6,
        mb(peer_rate)
    );
    println!(
        "ratio mbus-meters / m-bus-parser: {:.2}x",
        our_rate / peer_rate
    );
    println!();

    let mut g = c.benchmark_group("mbus_decode");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("mbus-meters corpus", |b| {
        b.iter(|| ours(black_box(&frames)))
    });
    g.bench_function("m-bus-parser corpus", |b| {
        b.iter(|| peer(black_box(&frames)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = mbus_decode
}
criterion_main!(benches);
