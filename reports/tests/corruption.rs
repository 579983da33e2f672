//! A damaged database file is an error naming the channel and the chunk, never a silent 0 or a
//! silently missing chunk: each test corrupts one stored value of a real SQLite file (with
//! rusqlite, as a bad disk, a foreign tool or a hand edit would), reopens it and reads.
#![cfg(feature = "sqlite")] // the SQLite store
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use reports::aggregate::{CounterRule, aggregate_edges};
use reports::{Channel, ChannelKind, ChannelSpec, Error, Sample, SqliteStore, Store, StoreOptions};

const DAY: i64 = 86_400;

/// A file with two channels, three days of readings in one-day chunks; returns the path's
/// directory guard and the first channel.
fn fixture() -> (tempfile::TempDir, std::path::PathBuf, Channel) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut s = SqliteStore::open(
        &path,
        StoreOptions {
            chunk_span_secs: DAY,
            ..Default::default()
        },
    )
    .unwrap();
    let a = s
        .ensure_channel(&ChannelSpec::new(
            "m1",
            "energy",
            "kWh",
            ChannelKind::Counter,
        ))
        .unwrap();
    let b = s
        .ensure_channel(&ChannelSpec::new(
            "m2",
            "energy",
            "kWh",
            ChannelKind::Counter,
        ))
        .unwrap();
    let mut batch = Vec::new();
    for i in 0..3 * 96 {
        batch.push((a.id, Sample::new(i * 900, 100.0 + i as f64 * 0.25)));
        batch.push((b.id, Sample::new(i * 900, 5.0 + i as f64)));
    }
    s.write(&batch).unwrap();
    (dir, path, a)
}

/// Run `sql` on the file (one row of channel m1's chunk of day 1 is the usual target).
fn corrupt(path: &std::path::Path, sql: &str) {
    let c = rusqlite::Connection::open(path).unwrap();
    let n = c.execute(sql, []).unwrap();
    assert!(n >= 1, "{sql} changed nothing");
}

fn open(path: &std::path::Path) -> SqliteStore {
    SqliteStore::open(path, StoreOptions::default()).unwrap()
}

/// Every read path fails with an error whose text names channel #1 and `window`.
fn assert_reads_fail(path: &std::path::Path, ch: &Channel, window: &str, column: &str) {
    assert_fails(path, ch, window, column, Some(DAY + 10));
}

/// As [`assert_reads_fail`]; a write at `write_at` (into the damaged chunk) must fail too.
fn assert_fails(
    path: &std::path::Path,
    ch: &Channel,
    window: &str,
    column: &str,
    write_at: Option<i64>,
) {
    let mut s = open(path);
    let check = |what: &str, e: Error| {
        let msg = e.to_string();
        assert!(
            matches!(e, Error::CorruptValue { .. } | Error::CorruptChunk { .. }),
            "{what}: {msg}"
        );
        assert!(
            msg.contains("channel 1 ") && msg.contains(window) && msg.contains(column),
            "{what}: {msg} should name channel 1, window {window}, {column}"
        );
    };
    check("read", s.read(ch.id, 0, 3 * DAY).unwrap_err());
    check(
        "aggregate one bin",
        aggregate_edges(&s, ch, vec![0, 3 * DAY], CounterRule::default()).unwrap_err(),
    );
    check(
        "aggregate daily",
        aggregate_edges(
            &s,
            ch,
            vec![0, DAY, 2 * DAY, 3 * DAY],
            CounterRule::default(),
        )
        .unwrap_err(),
    );
    // The other channel is untouched and still reads.
    let other = s.channel("m2/energy").unwrap().unwrap();
    assert_eq!(s.read(other.id, 0, 3 * DAY).unwrap().len(), 3 * 96);
    // A write into the damaged chunk is refused too, and leaves the file as it was.
    if let Some(t) = write_at {
        let before = s.stats().unwrap();
        let e = s.write(&[(ch.id, Sample::new(t, 1.0))]).unwrap_err();
        check("write", e);
        assert_eq!(
            s.stats().unwrap(),
            before,
            "a refused write changes nothing"
        );
    }
}

#[test]
fn a_window_that_is_not_an_integer() {
    let (_d, path, ch) = fixture();
    corrupt(
        &path,
        "UPDATE chunk SET window = 'abc' WHERE channel = 1 AND window = 86400",
    );
    assert_fails(&path, &ch, "\"abc\"", "window", None);
    let (_d, path, ch) = fixture();
    corrupt(
        &path,
        "UPDATE chunk SET window = 86400.5 WHERE channel = 1 AND window = 86400",
    );
    assert_fails(&path, &ch, "86400.5", "window", None);
}

#[test]
fn a_window_that_does_not_hold_its_times() {
    let (_d, path, ch) = fixture();
    corrupt(
        &path,
        "UPDATE chunk SET window = 3600 WHERE channel = 1 AND window = 0",
    );
    assert_fails(&path, &ch, "window 3600", "t_first", None);
}

#[test]
fn times_and_counts_that_are_not_integers_or_disagree_with_the_data() {
    for (sql, column) in [
        (
            "UPDATE chunk SET t_first = 'x' WHERE channel = 1 AND window = 86400",
            "t_first",
        ),
        (
            "UPDATE chunk SET t_last = 'later' WHERE channel = 1 AND window = 86400",
            "t_last",
        ),
        (
            "UPDATE chunk SET n = 'many' WHERE channel = 1 AND window = 86400",
            "n",
        ),
        (
            "UPDATE chunk SET n = 0 WHERE channel = 1 AND window = 86400",
            "n",
        ),
        (
            "UPDATE chunk SET n = 95 WHERE channel = 1 AND window = 86400",
            "header",
        ),
        (
            "UPDATE chunk SET t_first = 87300 WHERE channel = 1 AND window = 86400",
            "header",
        ),
        (
            "UPDATE chunk SET t_last = 170000 WHERE channel = 1 AND window = 86400",
            "data",
        ),
    ] {
        let (_d, path, ch) = fixture();
        corrupt(&path, sql);
        let s = open(&path);
        let e = s.read(ch.id, 0, 3 * DAY).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("channel 1 ") && msg.contains("window 86400") && msg.contains(column),
            "{sql}: {msg}"
        );
        let e = aggregate_edges(&s, &ch, vec![0, 3 * DAY], CounterRule::default()).unwrap_err();
        assert!(e.to_string().contains("window 86400"), "{sql}: {e}");
    }
}

#[test]
fn data_that_is_not_a_blob_or_does_not_decode() {
    let (_d, path, ch) = fixture();
    corrupt(
        &path,
        "UPDATE chunk SET data = 'text' WHERE channel = 1 AND window = 86400",
    );
    assert_reads_fail(&path, &ch, "window 86400", "data");
    let (_d, path, ch) = fixture();
    corrupt(
        &path,
        "UPDATE chunk SET data = substr(data, 1, length(data) / 2) WHERE channel = 1 AND window = 86400",
    );
    assert_reads_fail(&path, &ch, "window starting 86400", "corrupt chunk");
    let (_d, path, ch) = fixture();
    corrupt(
        &path,
        "UPDATE chunk SET data = X'00' WHERE channel = 1 AND window = 86400",
    );
    assert_reads_fail(&path, &ch, "window starting 86400", "version");
    // Another chunk's data (valid, but not this row's): the header disagrees with the row.
    let (_d, path, ch) = fixture();
    corrupt(
        &path,
        "UPDATE chunk SET data = (SELECT data FROM chunk WHERE channel = 1 AND window = 0) WHERE channel = 1 AND window = 86400",
    );
    assert_reads_fail(&path, &ch, "window 86400", "header");
}

#[test]
fn a_stored_channel_kind_that_does_not_parse_names_the_channel() {
    let (_d, path, _ch) = fixture();
    corrupt(&path, "UPDATE channel SET kind = 'gauge' WHERE id = 2");
    let e = SqliteStore::open(&path, StoreOptions::default()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("#2") && msg.contains("m2/energy") && msg.contains("gauge"),
        "{msg}"
    );
}
