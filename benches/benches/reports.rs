//! The `reports` store and aggregation against plain SQL.
//!
//! Dataset: a year of 15-minute readings for METERS meters x 4 channels (electricity, heat,
//! water, temperature; see `reports::synthetic`). By default 20 meters (about 2.8 million
//! readings, CI-sized); `EMKIT_BENCH_FULL=1` runs the issue's 1 000 meters (about 140 million
//! readings, several GB of disk for the plain table). `EMKIT_BENCH_METERS=N` picks any size.
//!
//! Measured: write throughput into the store, bytes per reading, a standard report (one value per
//! channel for the year) and a detailed report (one value per channel and local hour) aggregated
//! from the store, and the same aggregation done by SQLite SQL over a plain one-row-per-reading
//! table in the same run; the ratios are printed.
//!
//! ```text
//! CARGO_TARGET_DIR=... cargo bench -p benches --bench reports
//! EMKIT_BENCH_FULL=1 cargo bench -p benches --bench reports
//! ```

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // a bench: failures abort the run

use std::hint::black_box;
use std::time::Instant;

use chrono::{DateTime, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reports::aggregate::{
    Aggregation, CounterRule, Granularity, aggregate_edges, bin_edges, parse_tz,
};
use reports::synthetic::{Generator, Profile};
use reports::{Channel, SqliteStore, Store, StoreOptions};

const START: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const PER_YEAR: i64 = 365 * 96;

fn meters() -> u64 {
    if let Ok(n) = std::env::var("EMKIT_BENCH_METERS") {
        if let Ok(n) = n.parse() {
            return n;
        }
    }
    if std::env::var("EMKIT_BENCH_FULL").is_ok_and(|v| v == "1") {
        1000
    } else {
        20
    }
}

struct Data {
    _dir: std::path::PathBuf,
    store: SqliteStore,
    plain: SqliteStore,
    channels: Vec<Channel>,
    readings: u64,
}

fn build() -> Data {
    let dir = std::env::temp_dir().join(format!("emkit-reports-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut store = SqliteStore::open(dir.join("store.db"), StoreOptions::default()).unwrap();
    let plain = SqliteStore::open(dir.join("plain.db"), StoreOptions::default()).unwrap();
    let pc = plain.connection();
    pc.execute_batch(
        "PRAGMA synchronous=OFF; CREATE TABLE plain(channel INTEGER NOT NULL, t INTEGER NOT NULL, v REAL NOT NULL, PRIMARY KEY(channel, t)) WITHOUT ROWID;",
    )
    .unwrap();
    let n_meters = meters();
    let (mut store_secs, mut plain_secs, mut readings) = (0.0, 0.0, 0u64);
    let mut channels = Vec::new();
    for m in 0..n_meters {
        let mut batch = Vec::with_capacity(4 * PER_YEAR as usize);
        for p in Profile::ALL {
            let ch = store
                .ensure_channel(&p.spec(&format!("meter{m:04}")))
                .unwrap();
            let mut g = Generator::new(p, m);
            batch.extend((0..PER_YEAR).map(|i| (ch.id, g.next(START + i * 900))));
            channels.push(ch);
        }
        readings += batch.len() as u64;
        let t = Instant::now();
        store.write(&batch).unwrap();
        store_secs += t.elapsed().as_secs_f64();
        let t = Instant::now();
        pc.execute_batch("BEGIN").unwrap();
        {
            let mut ins = pc
                .prepare_cached("INSERT INTO plain(channel, t, v) VALUES (?1, ?2, ?3)")
                .unwrap();
            for (id, s) in &batch {
                ins.execute((id.0, s.t, s.v)).unwrap();
            }
        }
        pc.execute_batch("COMMIT").unwrap();
        plain_secs += t.elapsed().as_secs_f64();
    }
    let st = store.stats().unwrap();
    println!(
        "dataset: {n_meters} meters x 4 channels x 1 year = {readings} readings\n\
         write: store {:.2} M readings/s ({store_secs:.2} s), plain table {:.2} M rows/s ({plain_secs:.2} s), ratio {:.1}x\n\
         size: {:.3} payload bytes/reading, {:.3} database bytes/reading (plain table: {:.1} bytes/reading)",
        readings as f64 / store_secs / 1e6,
        readings as f64 / plain_secs / 1e6,
        plain_secs / store_secs,
        st.payload_bytes_per_reading(),
        st.file_bytes_per_reading(),
        plain.stats().unwrap().file_bytes as f64 / readings as f64,
    );
    Data {
        _dir: dir,
        store,
        plain,
        channels,
        readings,
    }
}

fn year() -> (DateTime<Utc>, DateTime<Utc>) {
    (
        DateTime::from_timestamp(START, 0).unwrap(),
        DateTime::from_timestamp(START + 365 * 86_400, 0).unwrap(),
    )
}

/// Standard report from the store: one value per channel for the year.
fn standard_store(d: &Data) -> f64 {
    let (from, to) = year();
    let mut acc = 0.0;
    for ch in &d.channels {
        let bins = aggregate_edges(
            &d.store,
            ch,
            vec![from.timestamp(), to.timestamp()],
            CounterRule::default(),
        )
        .unwrap();
        acc += bins[0]
            .value(Aggregation::default_for(ch.spec.kind))
            .unwrap_or(0.0);
    }
    acc
}

/// Detailed report from the store: one value per channel and local hour (Europe/Paris).
fn detailed_store(d: &Data, edges: &[i64]) -> f64 {
    let mut acc = 0.0;
    for ch in &d.channels {
        let bins = aggregate_edges(&d.store, ch, edges.to_vec(), CounterRule::default()).unwrap();
        let agg = Aggregation::default_for(ch.spec.kind);
        acc += bins.iter().filter_map(|b| b.value(agg)).sum::<f64>();
    }
    acc
}

/// The same by SQL over the plain table: count, mean, min, max, last-minus-first per channel.
fn standard_sql(d: &Data) -> f64 {
    let (from, to) = year();
    let mut stmt = d
        .plain
        .connection()
        .prepare_cached("SELECT channel, count(*), avg(v), min(v), max(v) FROM plain WHERE t >= ?1 AND t <= ?2 GROUP BY channel")
        .unwrap();
    let rows = stmt
        .query_map((from.timestamp(), to.timestamp()), |r| {
            Ok(r.get::<_, f64>(2)? + r.get::<_, f64>(4)? - r.get::<_, f64>(3)?)
        })
        .unwrap();
    rows.map(|r| r.unwrap()).sum()
}

fn detailed_sql(d: &Data) -> f64 {
    let (from, to) = year();
    let mut stmt = d
        .plain
        .connection()
        .prepare_cached(
            "SELECT channel, t / 3600, count(*), avg(v), min(v), max(v) FROM plain WHERE t >= ?1 AND t <= ?2 GROUP BY channel, t / 3600",
        )
        .unwrap();
    let rows = stmt
        .query_map((from.timestamp(), to.timestamp()), |r| {
            Ok(r.get::<_, f64>(3)? + r.get::<_, f64>(5)? - r.get::<_, f64>(4)?)
        })
        .unwrap();
    rows.map(|r| r.unwrap()).sum()
}

fn timed(f: impl Fn() -> f64) -> f64 {
    let t = Instant::now();
    black_box(f());
    t.elapsed().as_secs_f64()
}

fn bench(c: &mut Criterion) {
    let d = build();
    let (from, to) = year();
    let edges = bin_edges(
        from,
        to,
        Granularity::Hour,
        parse_tz("Europe/Paris").unwrap(),
    );
    let n = d.readings as f64;
    // One timed pass of each, printed with the ratios (criterion's figures follow).
    let (ss, qs) = (timed(|| standard_store(&d)), timed(|| standard_sql(&d)));
    let (sd, qd) = (
        timed(|| detailed_store(&d, &edges)),
        timed(|| detailed_sql(&d)),
    );
    println!(
        "standard report: store {:.1} M readings/s, plain SQL {:.1} M readings/s, ratio {:.1}x\n\
         detailed report (hourly): store {:.1} M readings/s, plain SQL {:.1} M readings/s, ratio {:.1}x",
        n / ss / 1e6,
        n / qs / 1e6,
        qs / ss,
        n / sd / 1e6,
        n / qd / 1e6,
        qd / sd
    );

    let mut g = c.benchmark_group("reports");
    g.sample_size(10);
    g.throughput(Throughput::Elements(d.readings));
    g.bench_function("standard_report/store", |b| {
        b.iter(|| black_box(standard_store(&d)))
    });
    g.bench_function("standard_report/plain_sql", |b| {
        b.iter(|| black_box(standard_sql(&d)))
    });
    g.bench_function("detailed_report_hourly/store", |b| {
        b.iter(|| black_box(detailed_store(&d, &edges)))
    });
    g.bench_function("detailed_report_hourly/plain_sql", |b| {
        b.iter(|| black_box(detailed_sql(&d)))
    });
    g.finish();

    // Write throughput on a fresh in-memory store: one meter-month of 4 channels per batch.
    let mut g = c.benchmark_group("reports_write");
    g.sample_size(10);
    let month = 31 * 96;
    g.throughput(Throughput::Elements(4 * month as u64));
    g.bench_function("write_4_channels_month", |b| {
        b.iter_with_setup(
            || {
                let mut s = SqliteStore::open_in_memory(StoreOptions::default()).unwrap();
                let mut batch = Vec::new();
                for p in Profile::ALL {
                    let ch = s.ensure_channel(&p.spec("m")).unwrap();
                    let mut generator = Generator::new(p, 1);
                    batch.extend((0..month).map(|i| (ch.id, generator.next(START + i * 900))));
                }
                (s, batch)
            },
            |(mut s, batch)| {
                s.write(&batch).unwrap();
                s
            },
        )
    });
    g.finish();
    drop(d.store);
    drop(d.plain);
    let _ = std::fs::remove_dir_all(&d._dir);
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = bench
}
criterion_main!(benches);
