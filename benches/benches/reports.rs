//! The `reports` store and aggregation against the same work over plain SQLite rows, and against
//! DuckDB (the engine a user would pick instead for analytics).
//!
//! Two data sets of METERS meters x 4 channels (electricity, heat, water, temperature), one year
//! of 15-minute readings each:
//! - **regular**: `reports::testing` readings on the exact 15-minute grid;
//! - **realistic**: what a poller really records: times a few seconds off the grid (0..4 s of
//!   jitter after a per-meter bus offset), about 1 % missed readings and a 6-hour outage per
//!   meter, an electricity counter reset and a heat meter replacement (the new meter starts from
//!   its own index) per meter, and a temperature with measurement noise (about 0.05 degC) at the
//!   sensor's 0.01 degC resolution (values stay what registers give: integers times a scale).
//!   Deterministic (seeded `reports::testing::Rng`).
//!
//! By default 20 meters (about 2.8 million readings per set, CI-sized); `EMKIT_BENCH_FULL=1`
//! runs 1 000 meters (about 140 million readings per set, several GB of disk);
//! `EMKIT_BENCH_METERS=N` picks any size.
//!
//! Sides, all reading the same readings over the same half-open ranges:
//! - **store**: `SqliteStore` (compressed chunks) through `aggregate_edges`;
//! - **SQLite rows** (the baseline doing the same work): a plain one-row-per-reading table
//!   `plain(channel, t, v)` keyed by `(channel, t)`, read with
//!   `SELECT t, v FROM plain WHERE channel = ? AND t >= ? AND t < ? ORDER BY t` and fed into the
//!   very same `Aggregator` (counter consumption with resets, bin splitting, last value); its
//!   bins are asserted equal to the store's, so only the storage format differs. Both files are
//!   written by the same connection setup (WAL, `synchronous=NORMAL`, the store's default; printed);
//! - **SQL aggregate** (less work, shown for reference, not a peer): count/avg/min/max per
//!   channel in SQLite, without the counter rule;
//! - **DuckDB** (peer, Python package `duckdb`, one thread): the same readings loaded into a table
//!   (load time reported apart), the standard report written as SQL with the same counter rule
//!   (`benches/peers/duckdb_report.py`), results checked equal to ours within 1e-9 relative.
//!   Skipped with a printed reason when `import duckdb` fails, unless `EMKIT_REQUIRE_PEERS=1`.
//!
//! Printed per set: bytes per reading (store payload, store file, plain table file, DuckDB file),
//! write throughput, and the standard (one value per channel for the year) and detailed (one
//! value per channel and local hour) reports with the ratios; criterion's figures follow.
//!
//! ```text
//! cargo bench -p benches --bench reports
//! EMKIT_BENCH_FULL=1 cargo bench -p benches --bench reports
//! ```

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // a bench: failures abort the run

use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chrono::{DateTime, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reports::aggregate::{
    Aggregation, Aggregator, BinStats, CounterRule, Granularity, aggregate_edges, bin_edges,
    parse_tz,
};
use reports::testing::{Generator, Profile, Rng};
use reports::{Channel, Sample, SqliteStore, Store, StoreOptions};

const START: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const PER_YEAR: i64 = 365 * 96;
const DAY: i64 = 86_400;

fn meters() -> u64 {
    if let Ok(n) = std::env::var("EMKIT_BENCH_METERS")
        && let Ok(n) = n.parse()
    {
        return n;
    }
    if std::env::var("EMKIT_BENCH_FULL").is_ok_and(|v| v == "1") {
        1000
    } else {
        20
    }
}

/// The regular set: one reading every 15 minutes on the grid.
fn regular(p: Profile, m: u64) -> Vec<Sample> {
    let mut g = Generator::new(p, m);
    (0..PER_YEAR).map(|i| g.next(START + i * 900)).collect()
}

/// A standard-normal-ish draw (sum of four uniforms, variance 1).
fn noise(r: &mut Rng) -> f64 {
    (r.next_f64() + r.next_f64() + r.next_f64() + r.next_f64() - 2.0) * 3f64.sqrt()
}

/// The realistic set (see the module docs).
fn realistic(p: Profile, m: u64) -> Vec<Sample> {
    let mut r = Rng::new(1_000_003 * (m + 1) + p as u64);
    let offset = 2 + (m % 20) as i64; // the meter's place in the poll cycle
    let outage = START + (20 + (r.next_f64() * 300.0) as i64) * DAY + 9 * 3600;
    let event = START + (100 + (r.next_f64() * 150.0) as i64) * DAY; // reset or replacement
    let mut g = Generator::new(p, m);
    let mut temp = 19.0f64;
    let mut base: Option<i64> = None;
    let mut out = Vec::with_capacity(PER_YEAR as usize);
    for i in 0..PER_YEAR {
        let nominal = START + i * 900;
        let t = nominal + offset + (r.next_f64() * 5.0) as i64;
        // The meter's own index at t (the generator's counters in their integer units).
        let v = match p {
            Profile::Electricity => {
                let raw = (g.next(t).v * 100.0).round() as i64;
                if t >= event {
                    // Counter reset: the index restarts from 0 at the event.
                    let b = *base.get_or_insert(raw);
                    (raw - b) as f64 / 100.0
                } else {
                    raw as f64 / 100.0
                }
            }
            Profile::Heat => {
                let raw = g.next(t).v as i64;
                if t >= event {
                    // Meter replacement: the new meter starts from its own small index.
                    let b = *base.get_or_insert(raw - 37);
                    (raw - b) as f64
                } else {
                    raw as f64
                }
            }
            Profile::Water => g.next(t).v,
            Profile::Temperature => {
                let hour = (t.rem_euclid(DAY)) as f64 / 3600.0;
                let target = if (7.0..19.0).contains(&hour) {
                    21.0
                } else {
                    17.5
                };
                temp += (target - temp) * 0.08 + noise(&mut r) * 0.03;
                ((temp + noise(&mut r) * 0.05) * 100.0).round() / 100.0
            }
        };
        let missed = r.next_f64() < 0.01 || (outage..outage + 6 * 3600).contains(&nominal);
        if !missed {
            out.push(Sample::new(t, v));
        }
    }
    out
}

struct Set {
    name: &'static str,
    store: SqliteStore,
    plain: SqliteStore,
    channels: Vec<Channel>,
    readings: u64,
    csv: PathBuf,
}

fn build(dir: &Path, name: &'static str, generate: fn(Profile, u64) -> Vec<Sample>) -> Set {
    let mut store = SqliteStore::open(
        dir.join(format!("{name}-store.db")),
        StoreOptions::default(),
    )
    .unwrap();
    // The plain table lives in a file set up exactly as the store's (WAL, synchronous=NORMAL).
    let plain = SqliteStore::open(
        dir.join(format!("{name}-plain.db")),
        StoreOptions::default(),
    )
    .unwrap();
    let pc = plain.connection();
    pc.execute_batch(
        "CREATE TABLE plain(channel INTEGER NOT NULL, t INTEGER NOT NULL, v REAL NOT NULL, PRIMARY KEY(channel, t)) WITHOUT ROWID;",
    )
    .unwrap();
    let (s_sync, p_sync) = (synchronous(&store), synchronous(&plain));
    assert_eq!(
        s_sync, p_sync,
        "both writers use the same synchronous setting"
    );
    let csv = dir.join(format!("{name}.csv"));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&csv).unwrap());
    writeln!(out, "channel,t,v").unwrap();
    let n_meters = meters();
    let (mut store_secs, mut plain_secs, mut readings) = (0.0, 0.0, 0u64);
    let mut channels = Vec::new();
    for m in 0..n_meters {
        let mut batch = Vec::with_capacity(4 * PER_YEAR as usize);
        for p in Profile::ALL {
            let ch = store
                .ensure_channel(&p.spec(&format!("meter{m:04}")))
                .unwrap();
            batch.extend(generate(p, m).into_iter().map(|s| (ch.id, s)));
            channels.push(ch);
        }
        readings += batch.len() as u64;
        for (id, s) in &batch {
            // `{}` prints the shortest decimal that parses back to the same f64.
            writeln!(out, "{},{},{}", id.0, s.t, s.v).unwrap();
        }
        let t = Instant::now();
        let report = store.write(&batch).unwrap();
        store_secs += t.elapsed().as_secs_f64();
        assert_eq!(report.stored, batch.len() as u64, "{report:?}");
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
    out.flush().unwrap();
    let st = store.stats().unwrap();
    println!(
        "[{name}] dataset: {n_meters} meters x 4 channels x 1 year = {readings} readings\n\
         [{name}] write: store {:.2} M readings/s ({store_secs:.2} s), SQLite rows {:.2} M rows/s ({plain_secs:.2} s), ratio {:.1}x (both synchronous={s_sync}, WAL)\n\
         [{name}] size: store {:.3} payload bytes/reading, {:.3} database bytes/reading; SQLite rows {:.1} database bytes/reading",
        readings as f64 / store_secs / 1e6,
        readings as f64 / plain_secs / 1e6,
        plain_secs / store_secs,
        st.payload_bytes_per_reading(),
        st.file_bytes_per_reading(),
        plain.stats().unwrap().file_bytes as f64 / readings as f64,
    );
    Set {
        name,
        store,
        plain,
        channels,
        readings,
        csv,
    }
}

/// `PRAGMA synchronous` of a store's connection (1 = NORMAL, 2 = FULL).
fn synchronous(s: &SqliteStore) -> i64 {
    s.connection()
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap()
}

fn year() -> (i64, i64) {
    (START, START + 365 * DAY)
}

/// The range `aggregate_edges` reads for `edges` (two recording intervals of margin).
fn range(ch: &Channel, edges: &[i64]) -> (i64, i64) {
    let margin = 2 * ch.spec.interval.seconds();
    (edges[0] - margin, edges[edges.len() - 1] + margin + 1)
}

/// All bins of every channel from the store.
fn bins_store(d: &Set, edges: &[i64]) -> Vec<Vec<BinStats>> {
    d.channels
        .iter()
        .map(|ch| aggregate_edges(&d.store, ch, edges.to_vec(), CounterRule::default()).unwrap())
        .collect()
}

/// All bins of every channel from the plain rows, through the same `Aggregator`.
fn bins_rows(d: &Set, edges: &[i64]) -> Vec<Vec<BinStats>> {
    let mut stmt = d
        .plain
        .connection()
        .prepare_cached(
            "SELECT t, v FROM plain WHERE channel = ?1 AND t >= ?2 AND t < ?3 ORDER BY t",
        )
        .unwrap();
    let mut buf = Vec::with_capacity(1024);
    d.channels
        .iter()
        .map(|ch| {
            let (from, to) = range(ch, edges);
            let mut agg = Aggregator::new(edges.to_vec(), CounterRule::default());
            let mut rows = stmt.query((ch.id.0, from, to)).unwrap();
            buf.clear();
            while let Some(r) = rows.next().unwrap() {
                buf.push(Sample::new(r.get(0).unwrap(), r.get(1).unwrap()));
                if buf.len() == buf.capacity() {
                    agg.push(&buf);
                    buf.clear();
                }
            }
            agg.push(&buf);
            agg.finish()
        })
        .collect()
}

/// The report's values (delta for counters, mean otherwise), summed so the work is not elided.
fn value_sum(d: &Set, bins: &[Vec<BinStats>]) -> f64 {
    d.channels
        .iter()
        .zip(bins)
        .map(|(ch, b)| {
            let agg = Aggregation::default_for(ch.spec.kind);
            b.iter().filter_map(|b| b.value(agg)).sum::<f64>()
        })
        .sum()
}

/// Pure SQL (less work: count/avg/min/max, no counter rule): a reference, not a peer.
fn sql_aggregate(d: &Set) -> f64 {
    let (from, to) = year();
    let mut stmt = d
        .plain
        .connection()
        .prepare_cached("SELECT channel, count(*), avg(v), min(v), max(v) FROM plain WHERE t >= ?1 AND t < ?2 GROUP BY channel")
        .unwrap();
    let rows = stmt
        .query_map((from, to), |r| {
            Ok(r.get::<_, f64>(2)? + r.get::<_, f64>(4)? - r.get::<_, f64>(3)?)
        })
        .unwrap();
    rows.map(|r| r.unwrap()).sum()
}

fn timed<T>(f: impl Fn() -> T) -> (f64, T) {
    let t = Instant::now();
    let r = black_box(f());
    (t.elapsed().as_secs_f64(), r)
}

/// Best of `n` runs, seconds.
fn best<T>(n: usize, f: impl Fn() -> T) -> f64 {
    (0..n).map(|_| timed(&f).0).fold(f64::INFINITY, f64::min)
}

/// What DuckDB reported.
struct Duck {
    version: String,
    load_secs: f64,
    db_bytes: u64,
    best_secs: f64,
}

fn duckdb_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import duckdb"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var("EMKIT_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!(
                "duckdb is required (EMKIT_REQUIRE_PEERS=1) but `python3 -c 'import duckdb'` failed: pip install duckdb"
            );
        }
        println!("SKIPPED DuckDB column: python3 cannot `import duckdb` (pip install duckdb)");
    }
    ok
}

/// Run the DuckDB peer on the set's CSV and check its standard report against `ours`.
fn duckdb(d: &Set, dir: &Path, ours: &[Vec<BinStats>]) -> Duck {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/duckdb_report.py");
    let (lo, hi) = year();
    let margin = 2 * d.channels[0].spec.interval.seconds();
    assert!(
        d.channels
            .iter()
            .all(|c| 2 * c.spec.interval.seconds() == margin),
        "one margin for all channels"
    );
    let db = dir.join(format!("{}.duckdb", d.name));
    let out = Command::new("python3")
        .arg(script)
        .arg(&d.csv)
        .arg(&db)
        .args([lo, hi, margin, 5].map(|x| x.to_string()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "duckdb peer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["rows"].as_u64().unwrap(), d.readings);
    let result = j["result"].as_array().unwrap();
    assert_eq!(result.len(), d.channels.len());
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
    for ((ch, bins), row) in d.channels.iter().zip(ours).zip(result) {
        let b = &bins[0];
        let f = |i: usize| row[i].as_f64();
        assert_eq!(f(0), Some(ch.id.0 as f64));
        assert_eq!(f(1), Some(b.count as f64), "count of {}", ch.spec.name());
        if b.count > 0 {
            let mean = b.value(Aggregation::Mean).unwrap();
            assert!(close(f(2).unwrap(), mean), "mean of {}", ch.spec.name());
            assert_eq!(f(3), Some(b.min), "min of {}", ch.spec.name());
            assert_eq!(f(4), Some(b.max), "max of {}", ch.spec.name());
        }
        assert!(
            close(f(5).unwrap(), b.consumption),
            "consumption of {}: duckdb {:?}, ours {}",
            ch.spec.name(),
            f(5),
            b.consumption
        );
        assert_eq!(f(6), Some(b.covered_secs), "covered of {}", ch.spec.name());
        assert_eq!(
            f(7),
            Some(f64::from(b.resets)),
            "resets of {}",
            ch.spec.name()
        );
    }
    let best_secs = j["query_secs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .fold(f64::INFINITY, f64::min);
    Duck {
        version: j["version"].as_str().unwrap_or("?").to_string(),
        load_secs: j["load_secs"].as_f64().unwrap(),
        db_bytes: j["db_bytes"].as_u64().unwrap(),
        best_secs,
    }
}

/// One timed comparison per set, printed with the ratios (criterion's figures follow).
fn compare(d: &Set, dir: &Path, hourly: &[i64], with_duck: bool) {
    let (lo, hi) = year();
    let standard = [lo, hi];
    let n = d.readings as f64;
    let name = d.name;
    // Same work, same results: the rows path's bins equal the store's, bit for bit.
    let ours = bins_store(d, &standard);
    assert_eq!(ours, bins_rows(d, &standard), "standard report differs");
    assert_eq!(
        bins_store(d, hourly),
        bins_rows(d, hourly),
        "detailed report differs"
    );
    let resets: u32 = d
        .channels
        .iter()
        .zip(&ours)
        .filter(|(c, _)| c.spec.kind == reports::ChannelKind::Counter)
        .map(|(_, b)| b[0].resets)
        .sum();
    let ss = best(3, || value_sum(d, &bins_store(d, &standard)));
    let sr = best(3, || value_sum(d, &bins_rows(d, &standard)));
    let sq = best(3, || sql_aggregate(d));
    let ds = best(3, || value_sum(d, &bins_store(d, hourly)));
    let dr = best(3, || value_sum(d, &bins_rows(d, hourly)));
    println!(
        "[{name}] standard report (year, {resets} counter drops): store {:.1} M readings/s, SQLite rows -> same Aggregator {:.1} M readings/s, ratio {:.1}x; \
         SQL aggregate (less work, no counter rule; reference) {:.1} M readings/s, ratio {:.1}x",
        n / ss / 1e6,
        n / sr / 1e6,
        sr / ss,
        n / sq / 1e6,
        sq / ss,
    );
    println!(
        "[{name}] detailed report (hourly, Europe/Paris): store {:.1} M readings/s, SQLite rows -> same Aggregator {:.1} M readings/s, ratio {:.1}x",
        n / ds / 1e6,
        n / dr / 1e6,
        dr / ds,
    );
    if with_duck {
        let k = duckdb(d, dir, &ours);
        let st = d.store.stats().unwrap();
        println!(
            "[{name}] DuckDB {} (1 thread, results checked equal): standard report {:.1} M readings/s (best of 5), store/DuckDB speed ratio {:.2}x; \
             load {:.2} s (not timed above); size: DuckDB {:.3} database bytes/reading, store {:.3} (ratio {:.2}x)",
            k.version,
            n / k.best_secs / 1e6,
            k.best_secs / ss,
            k.load_secs,
            k.db_bytes as f64 / n,
            st.file_bytes_per_reading(),
            k.db_bytes as f64 / st.file_bytes as f64,
        );
    }
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("emkit-reports-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (lo, hi) = year();
    let hourly = bin_edges(
        DateTime::<Utc>::from_timestamp(lo, 0).unwrap(),
        DateTime::<Utc>::from_timestamp(hi, 0).unwrap(),
        Granularity::Hour,
        parse_tz("Europe/Paris").unwrap(),
    );
    let with_duck = duckdb_available();
    let sets = [
        build(&dir, "regular", regular),
        build(&dir, "realistic", realistic),
    ];
    for d in &sets {
        compare(d, &dir, &hourly, with_duck);
    }

    for d in &sets {
        let mut g = c.benchmark_group(format!("reports_{}", d.name));
        g.sample_size(10);
        g.throughput(Throughput::Elements(d.readings));
        let standard = [lo, hi];
        g.bench_function("standard_report/store", |b| {
            b.iter(|| value_sum(d, &bins_store(d, &standard)))
        });
        g.bench_function("standard_report/sqlite_rows_same_aggregator", |b| {
            b.iter(|| value_sum(d, &bins_rows(d, &standard)))
        });
        g.bench_function("standard_report/sql_aggregate_less_work", |b| {
            b.iter(|| sql_aggregate(d))
        });
        g.bench_function("detailed_report_hourly/store", |b| {
            b.iter(|| value_sum(d, &bins_store(d, &hourly)))
        });
        g.bench_function("detailed_report_hourly/sqlite_rows_same_aggregator", |b| {
            b.iter(|| value_sum(d, &bins_rows(d, &hourly)))
        });
        g.finish();
    }

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
    drop(sets);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = bench
}
criterion_main!(benches);
