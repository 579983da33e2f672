//! M-Bus decoding (issue 9, section 2): records decoded per second by `mbus-meters` and, in
//! the same run, by the `m-bus-parser` crate, over the frames of the libmbus test corpus that
//! BOTH decode completely (every record to a value scaled to its base unit with that unit;
//! m-bus-parser: typed values scaled by their decimal exponent, first unit). Both sides must
//! return the same number of records on each of those frames (asserted); how many frames each
//! side rejects is printed. Prints records/s, MB/s and the ratio, then criterion's own
//! measurements.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::fs;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use m_bus_parser::WiredFrame;
use m_bus_parser::user_data::data_information::DataType;
use mbus_meters::{DecodeMode, Frame, Value};

fn corpus() -> Vec<(String, Vec<u8>)> {
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
        .map(|p| {
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                mbus_meters::hex::parse_hex(&fs::read_to_string(p).expect("read")).expect("hex"),
            )
        })
        .collect()
}

/// The records mbus-meters decodes from a frame, if it decodes the whole frame (strict mode:
/// no record in error).
fn ours_complete(bytes: &[u8]) -> Option<usize> {
    let frame = Frame::parse(bytes).ok()?;
    frame
        .records_with(DecodeMode::Strict)
        .try_fold(0, |n, r| r.ok().map(|_| n + 1))
}

/// The records m-bus-parser decodes from a frame, if it decodes the whole frame.
fn peer_complete(bytes: &[u8]) -> Option<usize> {
    let Ok(WiredFrame::LongFrame { data, .. }) = WiredFrame::try_from(bytes) else {
        return None;
    };
    let app = m_bus_parser::user_data::parse_application_layer(data).ok()?;
    app.data_records()?
        .try_fold(0, |n, r| r.ok().map(|_| n + 1))
}

/// mbus-meters: every record to a scaled value with its unit. Returns (records, checksum).
#[inline(never)]
fn ours(frames: &[&[u8]]) -> (usize, f64) {
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
fn peer(frames: &[&[u8]]) -> (usize, f64) {
    let mut n = 0;
    let mut acc = 0.0;
    for bytes in frames {
        let Ok(WiredFrame::LongFrame { data, .. }) = WiredFrame::try_from(*bytes) else {
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

/// Records per second of both decoders over `frames` (`records` records per pass), measured
/// for about `budget` in alternating slices, so that both see the same machine load.
fn rates(frames: &[&[u8]], records: usize, budget: Duration) -> (f64, f64) {
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
    let decoded = f64::from(slices * SLICE) * records as f64;
    (
        decoded / t_ours.as_secs_f64(),
        decoded / t_peer.as_secs_f64(),
    )
}

fn mbus_decode(c: &mut Criterion) {
    let corpus = corpus();
    let mut common: Vec<&[u8]> = Vec::new();
    let (mut ours_rejected, mut peer_rejected) = (Vec::new(), Vec::new());
    let mut records = 0usize;
    for (name, bytes) in &corpus {
        let (o, p) = (ours_complete(bytes), peer_complete(bytes));
        if o.is_none() {
            ours_rejected.push(name.as_str());
        }
        if p.is_none() {
            peer_rejected.push(name.as_str());
        }
        if let (Some(o), Some(p)) = (o, p) {
            assert_eq!(o, p, "{name}: mbus-meters {o} records, m-bus-parser {p}");
            common.push(bytes);
            records += o;
        }
    }
    assert!(!common.is_empty(), "no frame both decoders decode");
    let bytes: usize = common.iter().map(|b| b.len()).sum();
    // the timed functions decode exactly those records
    assert_eq!(ours(&common).0, records);
    assert_eq!(peer(&common).0, records);

    let (our_rate, peer_rate) = rates(&common, records, Duration::from_secs(6));
    let mb = |records_per_s: f64| records_per_s / records as f64 * bytes as f64 / 1e6;
    println!();
    println!(
        "libmbus corpus: {} frames; both decode {} of them completely: {records} records, {bytes} bytes",
        corpus.len(),
        common.len()
    );
    println!(
        "rejected (not decoded completely): mbus-meters {} frame(s) {:?}, m-bus-parser {} frame(s) {:?}",
        ours_rejected.len(),
        ours_rejected,
        peer_rejected.len(),
        peer_rejected
    );
    println!(
        "mbus-meters : {:.2} M records/s, {:.0} MB/s",
        our_rate / 1e6,
        mb(our_rate)
    );
    println!(
        "m-bus-parser: {:.2} M records/s, {:.0} MB/s",
        peer_rate / 1e6,
        mb(peer_rate)
    );
    println!(
        "ratio mbus-meters / m-bus-parser (records/s): {:.2}x",
        our_rate / peer_rate
    );
    println!();

    let mut g = c.benchmark_group("mbus_decode");
    g.throughput(Throughput::Elements(records as u64));
    g.bench_function("mbus-meters, frames both decode", |b| {
        b.iter(|| ours(black_box(&common)))
    });
    g.bench_function("m-bus-parser, frames both decode", |b| {
        b.iter(|| peer(black_box(&common)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = mbus_decode
}
criterion_main!(benches);
