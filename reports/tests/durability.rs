//! Durability and concurrency of the SQLite store: a writer process killed with SIGKILL in the
//! middle of its stream, readers running while a writer writes, and compactness on realistic data.
#![cfg(all(feature = "sqlite", feature = "testing"))] // the SQLite store and the synthetic data of `reports::testing`
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use reports::testing::{Generator, Profile};
use reports::{ChannelId, Sample, SqliteStore, Store, StoreOptions};

const CHILD_ENV: &str = "EMKIT_REPORTS_WRITER_DB";
const PER_BATCH: i64 = 200; // readings per channel per batch

fn batch(ids: &[ChannelId], k: i64) -> Vec<(ChannelId, Sample)> {
    let mut b = Vec::new();
    for (c, id) in ids.iter().enumerate() {
        for i in 0..PER_BATCH {
            let n = k * PER_BATCH + i;
            b.push((*id, Sample::new(n * 900, (n * 4 + c as i64) as f64 * 0.25)));
        }
    }
    b
}

/// Runs only as the child: writes batches until killed, reporting each commit on stdout.
#[test]
fn writer_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut store = SqliteStore::open(&path, StoreOptions::default()).unwrap();
    let ids: Vec<ChannelId> = Profile::ALL
        .iter()
        .map(|p| store.ensure_channel(&p.spec("m1")).unwrap().id)
        .collect();
    let mut out = std::io::stdout().lock();
    for k in 0.. {
        store.write(&batch(&ids, k)).unwrap();
        writeln!(out, "committed {k}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn sigkill_mid_stream_loses_at_most_the_open_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kill.db");
    // Batches that earlier rounds left in the file (each round rewrites from batch 0).
    let mut before = 0i64;
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "writer_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut last_reported = None;
        // Let it commit a few batches (more each round), then kill it with no warning.
        while let Some(Ok(line)) = lines.next() {
            if let Some(k) = line.strip_prefix("committed ") {
                let k: i64 = k.parse().unwrap();
                last_reported = Some(k);
                if k >= 5 + round * 7 {
                    break;
                }
            }
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        // The writer may have committed (and reported) more batches between our last read
        // and the kill: the pipe still holds those reports. After them, at most one more
        // batch can have been committed without being reported.
        for line in lines.map_while(Result::ok) {
            if let Some(k) = line.strip_prefix("committed ") {
                last_reported = Some(k.parse().unwrap());
            }
        }
        let reported = last_reported.expect("the writer committed something");

        let store = SqliteStore::open(&path, StoreOptions::default()).unwrap();
        let chans = store.channels().unwrap();
        assert_eq!(chans.len(), 4);
        let mut batches_seen = None;
        for (c, ch) in chans.iter().enumerate() {
            let got = store.read(ch.id, i64::MIN, i64::MAX).unwrap();
            // Whole batches only: no torn transaction.
            assert_eq!(
                got.len() as i64 % PER_BATCH,
                0,
                "round {round}: {} readings",
                got.len()
            );
            let batches = got.len() as i64 / PER_BATCH;
            assert!(
                batches > reported,
                "round {round}: batch {reported} was reported committed, found {batches} batches"
            );
            // At most the batch committed but not yet reported when the kill landed (or
            // what an earlier round had already written).
            assert!(
                batches <= (reported + 2).max(before),
                "round {round}: {batches} batches after report {reported}"
            );
            for (n, s) in got.iter().enumerate() {
                assert_eq!(
                    *s,
                    Sample::new(n as i64 * 900, (n as i64 * 4 + c as i64) as f64 * 0.25)
                );
            }
            assert_eq!(
                *batches_seen.get_or_insert(batches),
                batches,
                "all channels in one transaction"
            );
        }
        before = batches_seen.unwrap_or(before);
        // The next round's writer rewrites the same batches over the survivors (idempotent).
    }
}

#[test]
fn readers_run_while_a_writer_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rw.db");
    let mut w = SqliteStore::open(&path, StoreOptions::default()).unwrap();
    let ids: Vec<ChannelId> = Profile::ALL
        .iter()
        .map(|p| w.ensure_channel(&p.spec("m1")).unwrap().id)
        .collect();
    w.write(&batch(&ids, 0)).unwrap();
    let reader_path = path.clone();
    let reader = std::thread::spawn(move || {
        let r = SqliteStore::open(&reader_path, StoreOptions::default()).unwrap();
        let ch = r.channel("m1/energy").unwrap().unwrap();
        let mut seen = Vec::new();
        for _ in 0..50 {
            let n = r.read(ch.id, i64::MIN, i64::MAX).unwrap().len() as i64;
            assert_eq!(n % PER_BATCH, 0, "a reader sees whole batches");
            seen.push(n);
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        seen
    });
    for k in 1..40 {
        w.write(&batch(&ids, k)).unwrap();
    }
    let seen = reader.join().unwrap();
    assert!(seen.windows(2).all(|p| p[0] <= p[1]), "monotone: {seen:?}");
    assert_eq!(
        w.read(ids[0], i64::MIN, i64::MAX).unwrap().len() as i64,
        40 * PER_BATCH
    );
}

#[test]
fn realistic_year_fits_in_two_bytes_per_reading() {
    let mut store = SqliteStore::open_in_memory(StoreOptions::default()).unwrap();
    let start = 1_767_225_600; // 2026-01-01T00:00:00Z
    let n = 365 * 96;
    let mut report = Vec::new();
    for meter in 0..3u64 {
        for p in Profile::ALL {
            let ch = store.ensure_channel(&p.spec(&format!("m{meter}"))).unwrap();
            let mut g = Generator::new(p, meter);
            let b: Vec<_> = (0..n).map(|i| (ch.id, g.next(start + i * 900))).collect();
            let before = store.stats().unwrap().payload_bytes;
            store.write(&b).unwrap();
            let after = store.stats().unwrap().payload_bytes;
            report.push((p, (after - before) as f64 / n as f64));
        }
    }
    let st = store.stats().unwrap();
    println!("per profile: {report:?}");
    println!(
        "payload {:.3} B/reading, file {:.3} B/reading",
        st.payload_bytes_per_reading(),
        st.file_bytes_per_reading()
    );
    assert_eq!(st.readings, 12 * n as u64);
    assert!(st.payload_bytes_per_reading() <= 2.0, "{st:?}");
    assert!(st.file_bytes_per_reading() <= 2.0, "{st:?}");
}
