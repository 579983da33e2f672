//! The default store: one SQLite file (bundled library) in WAL mode, readings kept as
//! compressed chunks of one channel over a fixed time window.
//!
//! Schema: `channel(id, device, service, unit, kind, interval_min)`,
//! `chunk(channel, window, t_first, t_last, n, data)` keyed by `(channel, window)` where `window`
//! is the chunk's start (`t - t mod span`), and `meta(key, value)` holding the chunk span, the
//! payload byte total and the newest reading time.
//!
//! Durability: every [`Store::write`] is one transaction. In WAL mode a process killed at any
//! moment loses at most the transaction it had not committed, and the file reopens (SQLite
//! rolls back the incomplete WAL tail). With [`StoreOptions::synchronous_full`] a committed batch
//! also survives a power failure; the default (`NORMAL`) may lose the last batches on power loss
//! only. Readers opening their own [`SqliteStore`] on the same file run while a writer writes.
//!
//! Aggregation ([`Store::aggregate_into`]): a chunk lying inside one bin is not turned into
//! `(t, v)` pairs. Its time stream is only run over (to find the last time and whether the
//! readings are evenly spaced) and its values are folded straight from the bit stream with the
//! same floating-point operations, in the same order, as pushing every reading, so the results
//! are bit-identical to a full decode. Other chunks are decoded into one reused buffer.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::Error;
use crate::aggregate::{Aggregator, ValueFold};
use crate::codec::{self, ChunkReader, CodecError, Sample};
use crate::store::{
    Channel, ChannelId, ChannelKind, ChannelSpec, RecordingInterval, Retention, Store, StoreStats,
    WriteReport,
};

/// Options for opening a [`SqliteStore`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoreOptions {
    /// Length of the window one chunk covers, seconds (default 7 days). Fixed when the file is
    /// created; a different value on reopen is ignored in favour of the stored one.
    pub chunk_span_secs: i64,
    /// Retention ring applied after each write.
    pub retention: Retention,
    /// `PRAGMA synchronous = FULL` (survive power loss) instead of `NORMAL` (survive process kill).
    pub synchronous_full: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            chunk_span_secs: 7 * 86_400,
            retention: Retention::default(),
            synchronous_full: false,
        }
    }
}

/// SQLite implementation of [`Store`].
pub struct SqliteStore {
    conn: Connection,
    span: i64,
    retention: Retention,
    known: HashMap<ChannelId, Channel>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("span", &self.span)
            .field("retention", &self.retention)
            .finish()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS channel(
  id INTEGER PRIMARY KEY, device TEXT NOT NULL, service TEXT NOT NULL, unit TEXT NOT NULL,
  kind TEXT NOT NULL, interval_min INTEGER NOT NULL, UNIQUE(device, service));
CREATE TABLE IF NOT EXISTS chunk(
  channel INTEGER NOT NULL, window INTEGER NOT NULL, t_first INTEGER NOT NULL,
  t_last INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL,
  PRIMARY KEY(channel, window)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS chunk_by_window ON chunk(window);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
";

impl SqliteStore {
    /// Open (or create) the store at `path`.
    ///
    /// # Errors
    /// [`Error::Sqlite`] when the file cannot be opened or is not a store.
    ///
    /// ```
    /// use reports::{SqliteStore, StoreOptions, Store, ChannelSpec, ChannelKind, Sample};
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut store = SqliteStore::open(dir.path().join("emkit.db"), StoreOptions::default()).unwrap();
    /// let ch = store.ensure_channel(&ChannelSpec::new("meter1", "energy", "kWh", ChannelKind::Counter)).unwrap();
    /// store.write(&[(ch.id, Sample::new(0, 10.0)), (ch.id, Sample::new(900, 10.5))]).unwrap();
    /// assert_eq!(store.read(ch.id, 0, 1000).unwrap().len(), 2);
    /// ```
    pub fn open(path: impl AsRef<Path>, options: StoreOptions) -> Result<Self, Error> {
        let conn = Connection::open(path.as_ref())?;
        Self::setup(conn, options)
    }

    /// A store in memory (tests, examples).
    ///
    /// # Errors
    /// [`Error::Sqlite`].
    pub fn open_in_memory(options: StoreOptions) -> Result<Self, Error> {
        Self::setup(Connection::open_in_memory()?, options)
    }

    fn setup(conn: Connection, options: StoreOptions) -> Result<Self, Error> {
        if options.chunk_span_secs <= 0 {
            return Err(Error::invalid(
                "chunk span",
                "a positive number of seconds",
                options.chunk_span_secs,
            ));
        }
        conn.busy_timeout(Duration::from_secs(10))?;
        // 16 KiB pages for a new file (ignored for an existing one, which keeps its own): a
        // week's chunk of irregular or noisy readings (1-4 KiB) then stays inside its b-tree
        // page; with 4 KiB pages anything past about 1 KiB spills to an overflow page of its
        // own and the file grows to several times the payload.
        conn.execute_batch("PRAGMA page_size=16384;")?;
        let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        conn.execute_batch(if options.synchronous_full {
            "PRAGMA synchronous=FULL;"
        } else {
            "PRAGMA synchronous=NORMAL;"
        })?;
        conn.execute_batch(SCHEMA)?;
        conn.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('chunk_span', ?1)",
            [options.chunk_span_secs],
        )?;
        conn.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('payload_bytes', 0)",
            [],
        )?;
        let span: i64 =
            conn.query_row("SELECT value FROM meta WHERE key='chunk_span'", [], |r| {
                r.get(0)
            })?;
        let mut store = SqliteStore {
            conn,
            span,
            retention: options.retention,
            known: HashMap::new(),
        };
        for ch in store.channels()? {
            store.known.insert(ch.id, ch);
        }
        Ok(store)
    }

    /// Visit, in time order, the stored chunks of `channel` that may hold readings with
    /// `from <= t < to` (the one query behind [`Store::scan`] and [`Store::aggregate_into`]).
    fn for_each_chunk(
        &self,
        channel: ChannelId,
        from: i64,
        to: i64,
        f: &mut dyn FnMut(ChunkRow<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        if to <= from {
            return Ok(());
        }
        // A window stored as text or blob sorts after every number, so the range query below
        // would pass it over in silence: look for one (one index seek) and refuse it.
        let mut odd = self.conn.prepare_cached(
            "SELECT window FROM chunk WHERE channel=?1 AND window > 9223372036854775807 LIMIT 1",
        )?;
        if let Some(w) = odd
            .query_row(params![channel.0], |r| Ok(describe(r.get_ref(0)?)))
            .optional()?
        {
            return Err(corrupt_value(
                channel,
                &w,
                "window",
                "an integer",
                w.clone(),
            ));
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT window, t_first, t_last, n, data FROM chunk WHERE channel=?1 AND window>=?2 AND window<?3 ORDER BY window",
        )?;
        let mut rows = stmt.query(params![channel.0, self.window(from), to])?;
        while let Some(row) = rows.next()? {
            let raw_window = row.get_ref(0)?;
            let ValueRef::Integer(window) = raw_window else {
                let w = describe(raw_window);
                return Err(corrupt_value(
                    channel,
                    &w,
                    "window",
                    "an integer",
                    w.clone(),
                ));
            };
            let int = |i: usize, column: &str| match row.get_ref(i)? {
                ValueRef::Integer(v) => Ok(v),
                other => Err(corrupt_value(
                    channel,
                    window,
                    column,
                    "an integer",
                    describe(other),
                )),
            };
            let (t_first, t_last, n) = (int(1, "t_first")?, int(2, "t_last")?, int(3, "n")?);
            let data = match row.get_ref(4)? {
                ValueRef::Blob(b) => b,
                other => {
                    return Err(corrupt_value(
                        channel,
                        window,
                        "data",
                        "a blob",
                        describe(other),
                    ));
                }
            };
            let chunk = ChunkRow {
                channel,
                window,
                t_first,
                t_last,
                n,
                data,
            };
            if t_first > t_last || self.window(t_first) != window || self.window(t_last) != window {
                return Err(chunk.inconsistent(
                    "t_first, t_last",
                    format!(
                        "t_first <= t_last inside the window [{window}, {})",
                        window.saturating_add(self.span)
                    ),
                    format!("{t_first}, {t_last}"),
                ));
            }
            if n < 1 {
                return Err(chunk.inconsistent("n", "at least 1".into(), n.to_string()));
            }
            if t_last < from || t_first >= to {
                continue;
            }
            f(chunk)?;
        }
        Ok(())
    }

    /// The chunk window length in seconds.
    pub fn chunk_span_secs(&self) -> i64 {
        self.span
    }

    /// Change the retention ring (applied at the next write or [`Store::apply_retention`]).
    pub fn set_retention(&mut self, retention: Retention) {
        self.retention = retention;
    }

    /// The underlying connection (for diagnostics and the plain-SQL comparison bench).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn window(&self, t: i64) -> i64 {
        t.saturating_sub(t.rem_euclid(self.span))
    }

    fn lookup(&mut self, id: ChannelId) -> Result<(), Error> {
        if self.known.contains_key(&id) {
            return Ok(());
        }
        for ch in self.channels()? {
            self.known.insert(ch.id, ch);
        }
        if self.known.contains_key(&id) {
            Ok(())
        } else {
            Err(Error::UnknownChannel(id.to_string()))
        }
    }
}

fn row_to_channel(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<(i64, String, String, String, String, u32)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn to_channel(row: (i64, String, String, String, String, u32)) -> Result<Channel, Error> {
    let (id, device, service, unit, kind, interval) = row;
    let what = |field: &str| format!("stored {field} of channel #{id} {device}/{service}");
    let kind = ChannelKind::parse(&kind).map_err(|_| {
        Error::invalid(
            what("kind"),
            "counter or instantaneous",
            format!("{kind:?}"),
        )
    })?;
    let interval = RecordingInterval::minutes(interval).map_err(|_| {
        Error::invalid(
            what("recording interval"),
            "5, 10, 15, 20, 30 or 50 minutes",
            interval,
        )
    })?;
    Ok(Channel {
        id: ChannelId(id),
        spec: ChannelSpec {
            device,
            service,
            unit,
            kind,
            interval,
        },
    })
}

/// A stored value as the error message shows it.
fn describe(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => format!("the real {f}"),
        ValueRef::Text(t) => format!("the text {:?}", String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => format!("a blob of {} bytes", b.len()),
    }
}

/// [`Error::CorruptValue`] for the chunk `(channel, window)`.
fn corrupt_value(
    channel: ChannelId,
    window: impl std::fmt::Display,
    column: &str,
    expected: &str,
    found: String,
) -> Error {
    Error::CorruptValue {
        channel: channel.0,
        window: window.to_string(),
        column: column.into(),
        expected: expected.into(),
        found,
    }
}

/// Merge `new` (sorted, unique times) into `old` (sorted, unique); new values win on equal times.
/// Counts into `report`: a new time is stored (and late when before `newest`, the channel's newest
/// reading before the write), an equal time with other value bits replaced, with the same bits a
/// duplicate. Returns `None` when nothing changed.
fn merge(
    old: &[Sample],
    new: &[Sample],
    newest: Option<i64>,
    report: &mut WriteReport,
) -> Option<Vec<Sample>> {
    let mut out = Vec::with_capacity(old.len() + new.len());
    let mut changed = false;
    let stored = |s: &Sample, report: &mut WriteReport| {
        report.stored += 1;
        report.late += u64::from(newest.is_some_and(|n| s.t < n));
    };
    let (mut i, mut j) = (0, 0);
    while i < old.len() && j < new.len() {
        match old[i].t.cmp(&new[j].t) {
            std::cmp::Ordering::Less => {
                out.push(old[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                stored(&new[j], report);
                changed = true;
                out.push(new[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                if old[i].v.to_bits() == new[j].v.to_bits() {
                    report.duplicates += 1;
                } else {
                    report.replaced += 1;
                    changed = true;
                }
                out.push(new[j]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&old[i..]);
    for s in &new[j..] {
        stored(s, report);
        changed = true;
    }
    out.extend_from_slice(&new[j..]);
    changed.then_some(out)
}

/// The channel's newest stored reading time (what "late" is measured by), from the statement
/// `SELECT window, t_last ... ORDER BY window DESC LIMIT 1`.
fn newest_stored(last: &mut rusqlite::Statement<'_>, id: ChannelId) -> Result<Option<i64>, Error> {
    last.query_row(params![id.0], |r| {
        Ok((describe(r.get_ref(0)?), r.get_ref(1)?.as_i64().ok()))
    })
    .optional()?
    .map(|(window, t)| {
        t.ok_or_else(|| corrupt_value(id, window, "t_last", "an integer", "another type".into()))
    })
    .transpose()
}

/// A stored chunk's data, first time, last time and count (`None` for a column that is not an
/// integer), from the statement `SELECT data, t_first, t_last, n ... WHERE channel AND window`.
type StoredChunk = (Vec<u8>, Option<i64>, Option<i64>, Option<i64>);

fn stored_chunk(
    get: &mut rusqlite::Statement<'_>,
    id: ChannelId,
    window: i64,
) -> Result<Option<StoredChunk>, Error> {
    get.query_row(params![id.0, window], |r| {
        let int = |i: usize| r.get_ref(i).map(|v| v.as_i64().ok());
        Ok(match r.get_ref(0)? {
            ValueRef::Blob(b) => Ok((b.to_vec(), int(1)?, int(2)?, int(3)?)),
            other => Err(describe(other)),
        })
    })
    .optional()?
    .transpose()
    .map_err(|found| corrupt_value(id, window, "data", "a blob", found))
}

/// A write's readings of one channel in time order, one per time: a stable sort keeps batch
/// order among equal times, the last one wins, and each earlier one is counted as replaced (or
/// duplicate) by the one after it.
fn latest_per_time(mut samples: Vec<Sample>, report: &mut WriteReport) -> Vec<Sample> {
    samples.sort_by_key(|s| s.t);
    let mut unique: Vec<Sample> = Vec::with_capacity(samples.len());
    for s in samples {
        match unique.last_mut() {
            Some(l) if l.t == s.t => {
                if l.v.to_bits() == s.v.to_bits() {
                    report.duplicates += 1;
                } else {
                    report.replaced += 1;
                }
                *l = s;
            }
            _ => unique.push(s),
        }
    }
    unique
}

/// [`ChunkReader::fold_timed_other`] into `f`, out of line: in a function this small the fold's
/// closures are inlined and its state (copied to a local) stays in registers, where inside
/// [`fold_chunk`] the closure was called per reading with the state in memory.
/// The Rice-coded chunks (most of them) and the others go through functions of their own, so
/// the others' value loop (which calls the fold out of line) does not pin the state to memory.
fn fold_timed(
    rd: &mut ChunkReader<'_>,
    f: &mut ValueFold,
) -> Result<Option<Option<i64>>, CodecError> {
    if rd.is_rice() {
        fold_timed_rice(rd, f)
    } else {
        fold_timed_other(rd, f)
    }
}

#[inline(never)]
fn fold_timed_rice(
    rd: &mut ChunkReader<'_>,
    f: &mut ValueFold,
) -> Result<Option<Option<i64>>, CodecError> {
    let mut g = f.clone();
    let r = rd.fold_timed_rice(|v, dt| g.add_timed(v, dt));
    *f = g;
    r
}

#[inline(never)]
fn fold_timed_other(
    rd: &mut ChunkReader<'_>,
    f: &mut ValueFold,
) -> Result<Option<Option<i64>>, CodecError> {
    let mut g = f.clone();
    let r = rd.fold_timed_other(|v, dt| g.add_timed(v, dt));
    *f = g;
    r
}

/// Feed a chunk lying inside one bin of `agg` and inside `[from, to)` to it: the first reading is
/// pushed, the times of the others are skipped (only the last is needed) and their values folded
/// straight from the bit stream ([`crate::aggregate::ValueFold`]); when the fold cannot proceed
/// (a counter drop) the rest of the chunk is decoded and pushed. Returns `false`, having fed
/// nothing, when the decoded chunk turns out not to qualify.
fn fold_chunk(
    chunk: &ChunkRow<'_>,
    from: i64,
    to: i64,
    agg: &mut Aggregator,
    buf: &mut Vec<Sample>,
    intervals: &mut Vec<i64>,
) -> Result<bool, Error> {
    let data = chunk.data;
    let mut rd = ChunkReader::new(data).map_err(|e| chunk.corrupt(e))?;
    let t0 = rd.first_time();
    chunk.check_header(t0, rd.len(), None)?;
    if rd.has_grid() {
        // Grid times (version 3): one pass over times and values side by side; the row's last
        // time places the chunk and is checked against the data's before the fold is applied.
        let t_end = chunk.t_last;
        if t0 < from || t_end >= to {
            return Ok(false);
        }
        let Some(i) = agg.bin_of_span(t0, t_end) else {
            return Ok(false);
        };
        let first = Sample::new(t0, rd.first_value());
        agg.push(&[first]);
        if let Some(mut f) = agg.fold_begin(i, first, t_end, None) {
            let last = fold_timed(&mut rd, &mut f)
                .map_err(|e| chunk.corrupt(e))?
                .flatten();
            if let Some(t) = last {
                chunk.check_header(t0, rd.len(), Some(t))?;
                agg.fold_commit(f);
                return Ok(true);
            }
        }
        buf.clear();
        codec::decode_into(data, buf).map_err(|e| chunk.corrupt(e))?;
        if let Some(l) = buf.last() {
            chunk.check_header(t0, buf.len(), Some(l.t))?;
        }
        if rd.len() > 1 {
            agg.push(&buf[1..]);
        }
        return Ok(true);
    }
    let Some(times) = rd.skip_times().map_err(|e| chunk.corrupt(e))? else {
        return Ok(false);
    };
    let t_end = times.last;
    chunk.check_header(t0, rd.len(), Some(t_end))?;
    if t0 < from || t_end >= to {
        return Ok(false);
    }
    let Some(i) = agg.bin_of_span(t0, t_end) else {
        return Ok(false);
    };
    let first = Sample::new(t0, rd.first_value());
    agg.push(&[first]);
    if let Some(mut f) = agg.fold_begin(i, first, t_end, times.step) {
        // The fold's state lives in locals of this function (registers once inlined).
        let folded = if times.step.is_some() {
            rd.fold_values(|v| f.add(v))
        } else if rd.is_v3() {
            // Version 3: the time stream is read again beside the values (its own stream).
            let mut rt = ChunkReader::new(data).map_err(|e| chunk.corrupt(e))?;
            fold_timed(&mut rt, &mut f).map(|r| r.flatten().is_some())
        } else {
            // Uneven times (a jittering poll): the intervals are read again for the drops.
            intervals.clear();
            let mut rt = ChunkReader::new(data).map_err(|e| chunk.corrupt(e))?;
            rt.read_intervals(intervals).map_err(|e| chunk.corrupt(e))?;
            let mut k = 0;
            rd.fold_values(|v| {
                let dt = intervals.get(k).copied().unwrap_or(0);
                k += 1;
                f.add_timed(v, dt)
            })
        };
        if folded.map_err(|e| chunk.corrupt(e))? {
            agg.fold_commit(f);
            return Ok(true);
        }
    }
    buf.clear();
    codec::decode_into(data, buf).map_err(|e| chunk.corrupt(e))?;
    if rd.len() > 1 {
        agg.push(&buf[1..]);
    }
    Ok(true)
}

impl Store for SqliteStore {
    fn ensure_channel(&mut self, spec: &ChannelSpec) -> Result<Channel, Error> {
        if let Some(ch) = self.channel(&spec.name())? {
            if ch.spec != *spec {
                return Err(Error::ChannelMismatch {
                    name: spec.name(),
                    expected: format!(
                        "{} {} every {} min",
                        spec.unit,
                        spec.kind.as_str(),
                        spec.interval.as_minutes()
                    ),
                    found: format!(
                        "{} {} every {} min",
                        ch.spec.unit,
                        ch.spec.kind.as_str(),
                        ch.spec.interval.as_minutes()
                    ),
                });
            }
            return Ok(ch);
        }
        self.conn.execute(
            "INSERT INTO channel(device, service, unit, kind, interval_min) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![spec.device, spec.service, spec.unit, spec.kind.as_str(), spec.interval.as_minutes()],
        )?;
        let ch = Channel {
            id: ChannelId(self.conn.last_insert_rowid()),
            spec: spec.clone(),
        };
        self.known.insert(ch.id, ch.clone());
        Ok(ch)
    }

    fn channel(&self, name: &str) -> Result<Option<Channel>, Error> {
        let Some((device, service)) = name.rsplit_once('/') else {
            return Err(Error::invalid(
                "channel name",
                "device/service",
                format!("{name:?}"),
            ));
        };
        let row = self
            .conn
            .prepare_cached("SELECT id, device, service, unit, kind, interval_min FROM channel WHERE device=?1 AND service=?2")?
            .query_row([device, service], row_to_channel)
            .optional()?;
        row.map(to_channel).transpose()
    }

    fn channels(&self) -> Result<Vec<Channel>, Error> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, device, service, unit, kind, interval_min FROM channel ORDER BY id",
        )?;
        let rows = stmt
            .query_map([], row_to_channel)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(to_channel).collect()
    }

    fn write(&mut self, batch: &[(ChannelId, Sample)]) -> Result<WriteReport, Error> {
        let mut report = WriteReport::default();
        if batch.is_empty() {
            return Ok(report);
        }
        let mut by_channel: HashMap<ChannelId, Vec<Sample>> = HashMap::new();
        for (id, s) in batch {
            by_channel.entry(*id).or_default().push(*s);
        }
        for id in by_channel.keys().copied().collect::<Vec<_>>() {
            self.lookup(id)?;
        }
        let span = self.span;
        // IMMEDIATE: take the write lock at BEGIN (with the busy timeout) instead of
        // upgrading a read transaction, which fails at once when another connection wrote.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut byte_delta = 0i64;
        let mut newest = i64::MIN;
        {
            let mut get = tx.prepare_cached(
                "SELECT data, t_first, t_last, n FROM chunk WHERE channel=?1 AND window=?2",
            )?;
            let mut put =
                tx.prepare_cached("INSERT OR REPLACE INTO chunk(channel, window, t_first, t_last, n, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?;
            let mut last = tx.prepare_cached(
                "SELECT window, t_last FROM chunk WHERE channel=?1 ORDER BY window DESC LIMIT 1",
            )?;
            for (id, samples) in by_channel {
                let newest_before = newest_stored(&mut last, id)?;
                let unique = latest_per_time(samples, &mut report);
                let mut start = 0;
                while start < unique.len() {
                    let window = unique[start]
                        .t
                        .saturating_sub(unique[start].t.rem_euclid(span));
                    let end = start
                        + unique[start..].partition_point(|s| s.t < window.saturating_add(span));
                    let new = &unique[start..end];
                    let old = stored_chunk(&mut get, id, window)?;
                    let merged = match old.as_ref() {
                        Some((bytes, t_first, t_last, n)) => {
                            let old =
                                codec::decode(bytes).map_err(|source| Error::CorruptChunk {
                                    channel: id.0,
                                    window,
                                    source,
                                })?;
                            let row = ChunkRow {
                                channel: id,
                                window,
                                t_first: t_first.unwrap_or(i64::MIN),
                                t_last: t_last.unwrap_or(i64::MIN),
                                n: n.unwrap_or(-1),
                                data: bytes,
                            };
                            if let (Some(f), Some(l)) = (old.first(), old.last()) {
                                row.check_header(f.t, old.len(), Some(l.t))?;
                            }
                            match merge(&old, new, newest_before, &mut report) {
                                Some(m) => m,
                                None => {
                                    start = end;
                                    continue;
                                }
                            }
                        }
                        None => merge(&[], new, newest_before, &mut report).unwrap_or_default(),
                    };
                    let data = codec::encode(&merged)?;
                    byte_delta += data.len() as i64 - old.as_ref().map_or(0, |o| o.0.len() as i64);
                    let (first, last) = (merged[0].t, merged[merged.len() - 1].t);
                    newest = newest.max(last);
                    put.execute(params![
                        id.0,
                        window,
                        first,
                        last,
                        merged.len() as i64,
                        data
                    ])?;
                    start = end;
                }
            }
        }
        tx.execute(
            "UPDATE meta SET value = value + ?1 WHERE key='payload_bytes'",
            [byte_delta],
        )?;
        tx.execute(
            "INSERT INTO meta(key, value) VALUES ('newest', ?1) ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
            [newest],
        )?;
        tx.commit()?;
        if self.retention != Retention::default() {
            self.apply_retention()?;
        }
        Ok(report)
    }

    fn scan(
        &self,
        channel: ChannelId,
        from: i64,
        to: i64,
        visit: &mut dyn FnMut(&[Sample]),
    ) -> Result<(), Error> {
        let mut buf = Vec::new();
        self.for_each_chunk(channel, from, to, &mut |chunk| {
            let readings = chunk.decode_within(from, to, &mut buf)?;
            if !readings.is_empty() {
                visit(readings);
            }
            Ok(())
        })
    }

    fn aggregate_into(
        &self,
        channel: ChannelId,
        from: i64,
        to: i64,
        agg: &mut Aggregator,
    ) -> Result<(), Error> {
        let (mut buf, mut intervals) = (Vec::new(), Vec::new());
        self.for_each_chunk(channel, from, to, &mut |chunk| {
            let inside = chunk.t_first >= from && chunk.t_last < to;
            if inside
                && agg.bin_of_span(chunk.t_first, chunk.t_last).is_some()
                && fold_chunk(&chunk, from, to, agg, &mut buf, &mut intervals)?
            {
                return Ok(());
            }
            let readings = chunk.decode_within(from, to, &mut buf)?;
            if !readings.is_empty() {
                agg.push(readings);
            }
            Ok(())
        })
    }

    fn stats(&self) -> Result<StoreStats, Error> {
        let (chunks, readings): (i64, Option<i64>) =
            self.conn
                .query_row("SELECT count(*), sum(n) FROM chunk", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
        let channels: i64 = self
            .conn
            .query_row("SELECT count(*) FROM channel", [], |r| r.get(0))?;
        let payload: i64 = self.conn.query_row(
            "SELECT value FROM meta WHERE key='payload_bytes'",
            [],
            |r| r.get(0),
        )?;
        let pages: i64 = self.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let free: i64 = self
            .conn
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        let size: i64 = self.conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        Ok(StoreStats {
            channels: channels as u64,
            chunks: chunks as u64,
            readings: readings.unwrap_or(0) as u64,
            payload_bytes: payload as u64,
            file_bytes: ((pages - free) * size) as u64,
        })
    }

    fn apply_retention(&mut self) -> Result<u64, Error> {
        let mut removed = 0u64;
        // IMMEDIATE: take the write lock at BEGIN (with the busy timeout) instead of
        // upgrading a read transaction, which fails at once when another connection wrote.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(age) = self.retention.max_age_secs {
            let newest: Option<i64> = tx
                .query_row("SELECT value FROM meta WHERE key='newest'", [], |r| {
                    r.get(0)
                })
                .optional()?;
            if let Some(newest) = newest {
                let cut = newest.saturating_sub(age);
                let bytes: Option<i64> = tx.query_row(
                    "SELECT sum(length(data)) FROM chunk WHERE t_last < ?1",
                    [cut],
                    |r| r.get(0),
                )?;
                removed += tx.execute("DELETE FROM chunk WHERE t_last < ?1", [cut])? as u64;
                tx.execute(
                    "UPDATE meta SET value = value - ?1 WHERE key='payload_bytes'",
                    [bytes.unwrap_or(0)],
                )?;
            }
        }
        if let Some(max) = self.retention.max_bytes {
            let mut total: i64 = tx.query_row(
                "SELECT value FROM meta WHERE key='payload_bytes'",
                [],
                |r| r.get(0),
            )?;
            while total > max as i64 {
                let victims: Vec<(i64, i64, i64)> = tx
                    .prepare_cached("SELECT channel, window, length(data) FROM chunk ORDER BY window, channel LIMIT 64")?
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<Result<_, _>>()?;
                if victims.is_empty() {
                    break;
                }
                for (ch, w, len) in victims {
                    if total <= max as i64 {
                        break;
                    }
                    tx.execute("DELETE FROM chunk WHERE channel=?1 AND window=?2", [ch, w])?;
                    total -= len;
                    removed += 1;
                }
            }
            tx.execute(
                "UPDATE meta SET value = ?1 WHERE key='payload_bytes'",
                [total],
            )?;
        }
        tx.commit()?;
        Ok(removed)
    }
}

/// One stored chunk as read by [`SqliteStore::for_each_chunk`].
struct ChunkRow<'a> {
    channel: ChannelId,
    window: i64,
    t_first: i64,
    t_last: i64,
    n: i64,
    data: &'a [u8],
}

impl ChunkRow<'_> {
    fn inconsistent(&self, column: &str, expected: String, found: String) -> Error {
        Error::CorruptValue {
            channel: self.channel.0,
            window: self.window.to_string(),
            column: column.into(),
            expected,
            found,
        }
    }

    /// The row's `t_first`, `n` (and `t_last` when known) against the chunk's own header.
    fn check_header(&self, t_first: i64, n: usize, t_last: Option<i64>) -> Result<(), Error> {
        if t_first != self.t_first || Ok(n) != usize::try_from(self.n) {
            return Err(self.inconsistent(
                "header",
                format!("the row's first time {} and count {}", self.t_first, self.n),
                format!("first time {t_first} and count {n} in the data"),
            ));
        }
        match t_last {
            Some(t) if t != self.t_last => Err(self.inconsistent(
                "data",
                format!("the row's last time {}", self.t_last),
                format!("last time {t} in the data"),
            )),
            _ => Ok(()),
        }
    }

    fn corrupt(&self, source: CodecError) -> Error {
        Error::CorruptChunk {
            channel: self.channel.0,
            window: self.window,
            source,
        }
    }

    /// Decode the chunk into `buf` and return its readings with `from <= t < to`.
    fn decode_within<'b>(
        &self,
        from: i64,
        to: i64,
        buf: &'b mut Vec<Sample>,
    ) -> Result<&'b [Sample], Error> {
        buf.clear();
        codec::decode_into(self.data, buf).map_err(|e| self.corrupt(e))?;
        if let (Some(f), Some(l)) = (buf.first(), buf.last()) {
            self.check_header(f.t, buf.len(), Some(l.t))?;
        }
        let a = if self.t_first >= from {
            0
        } else {
            buf.partition_point(|s| s.t < from)
        };
        let b = if self.t_last < to {
            buf.len()
        } else {
            buf.partition_point(|s| s.t < to)
        };
        Ok(&buf[a..b.max(a)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::CounterRule;

    fn store() -> (SqliteStore, ChannelId) {
        let mut s = SqliteStore::open_in_memory(StoreOptions {
            chunk_span_secs: 86_400,
            ..Default::default()
        })
        .unwrap();
        let ch = s
            .ensure_channel(&ChannelSpec::new(
                "m1",
                "energy",
                "kWh",
                ChannelKind::Counter,
            ))
            .unwrap();
        (s, ch.id)
    }

    #[test]
    fn late_out_of_order_and_duplicates() {
        let (mut s, id) = store();
        s.write(&[(id, Sample::new(1800, 3.0)), (id, Sample::new(0, 1.0))])
            .unwrap();
        s.write(&[(id, Sample::new(900, 2.0)), (id, Sample::new(100_000, 9.0))])
            .unwrap();
        s.write(&[(id, Sample::new(1800, 3.5)), (id, Sample::new(1800, 3.25))])
            .unwrap();
        let got = s.read(id, 0, i64::MAX).unwrap();
        assert_eq!(
            got,
            vec![
                Sample::new(0, 1.0),
                Sample::new(900, 2.0),
                Sample::new(1800, 3.25),
                Sample::new(100_000, 9.0)
            ]
        );
        // A gap stays a gap: nothing is invented between 1800 and 100000.
        assert!(s.read(id, 1801, 100_000).unwrap().is_empty());
        assert_eq!(s.read(id, 900, 1800).unwrap(), vec![Sample::new(900, 2.0)]);
        let st = s.stats().unwrap();
        assert_eq!((st.readings, st.chunks, st.channels), (4, 2, 1));
    }

    fn counts(r: WriteReport) -> (u64, u64, u64, u64) {
        (r.stored, r.late, r.replaced, r.duplicates)
    }

    #[test]
    fn write_reports_stored_late_replaced_and_duplicates() {
        let (mut s, id) = store();
        let other = s
            .ensure_channel(&ChannelSpec::new(
                "m2",
                "energy",
                "kWh",
                ChannelKind::Counter,
            ))
            .unwrap()
            .id;
        // Fresh readings on two channels: all stored, none late.
        let r = s
            .write(&[
                (id, Sample::new(900, 2.0)),
                (id, Sample::new(1800, 3.0)),
                (other, Sample::new(0, 7.0)),
            ])
            .unwrap();
        assert_eq!(counts(r), (3, 0, 0, 0));
        assert_eq!(r.readings(), 3);
        // Late: older than the channel's newest (1800), also in an older chunk; a reading
        // after the newest is not late, and the other channel's newest (0) is its own.
        let r = s
            .write(&[
                (id, Sample::new(0, 1.0)),
                (id, Sample::new(-86_400, 0.5)),
                (id, Sample::new(2700, 4.0)),
                (other, Sample::new(900, 8.0)),
            ])
            .unwrap();
        assert_eq!(counts(r), (4, 2, 0, 0));
        // Same second, other value: replaced; same second, same value: duplicate.
        let r = s
            .write(&[(id, Sample::new(900, 2.5)), (id, Sample::new(1800, 3.0))])
            .unwrap();
        assert_eq!(counts(r), (0, 0, 1, 1));
        // Within one batch: the later reading wins, and is counted against the earlier one.
        let r = s
            .write(&[
                (id, Sample::new(3600, 5.0)),
                (id, Sample::new(3600, 5.5)),
                (id, Sample::new(4500, 6.0)),
                (id, Sample::new(4500, 6.0)),
            ])
            .unwrap();
        assert_eq!(counts(r), (2, 0, 1, 1));
        // -0.0 and 0.0 are different stored values (the store is lossless).
        s.write(&[(other, Sample::new(1800, 0.0))]).unwrap();
        let r = s.write(&[(other, Sample::new(1800, -0.0))]).unwrap();
        assert_eq!(counts(r), (0, 0, 1, 0));
        assert_eq!(
            s.read(id, i64::MIN, i64::MAX).unwrap(),
            vec![
                Sample::new(-86_400, 0.5),
                Sample::new(0, 1.0),
                Sample::new(900, 2.5),
                Sample::new(1800, 3.0),
                Sample::new(2700, 4.0),
                Sample::new(3600, 5.5),
                Sample::new(4500, 6.0),
            ]
        );
        // `stored` is what the store gained.
        assert_eq!(s.stats().unwrap().readings, 7 + 3);
        // A batch of duplicates only leaves the chunks untouched.
        let before: Vec<Vec<u8>> = s
            .connection()
            .prepare("SELECT data FROM chunk ORDER BY channel, window")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let r = s.write(&[(id, Sample::new(0, 1.0))]).unwrap();
        assert_eq!(counts(r), (0, 0, 0, 1));
        let after: Vec<Vec<u8>> = s
            .connection()
            .prepare("SELECT data FROM chunk ORDER BY channel, window")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(before, after);
        assert_eq!(counts(s.write(&[]).unwrap()), (0, 0, 0, 0));
    }

    /// What [`Store::aggregate_into`] must equal: every reading pushed one by one.
    fn reference(
        s: &SqliteStore,
        id: ChannelId,
        edges: &[i64],
        rule: CounterRule,
        from: i64,
        to: i64,
    ) -> String {
        let mut a = Aggregator::new(edges.to_vec(), rule);
        for r in s.read(id, from, to).unwrap() {
            a.push(&[r]);
        }
        format!("{:?}", a.finish())
    }

    fn folded(
        s: &SqliteStore,
        id: ChannelId,
        edges: &[i64],
        rule: CounterRule,
        from: i64,
        to: i64,
    ) -> String {
        let mut a = Aggregator::new(edges.to_vec(), rule);
        s.aggregate_into(id, from, to, &mut a).unwrap();
        format!("{:?}", a.finish())
    }

    #[test]
    fn chunk_fold_equals_reading_by_reading() {
        let (mut s, id) = store();
        let day = 86_400;
        // Four days of a counter with float noise; a reset on day 2, a gap on day 3.
        let mut v = 1000.0;
        let mut b = Vec::new();
        for i in 0..4 * 96 {
            v += 0.1 + (i % 7) as f64 * 0.37;
            if i == 150 {
                v = 2.5;
            }
            if !(250..270).contains(&i) {
                b.push((id, Sample::new(i * 900, v)));
            }
        }
        s.write(&b).unwrap();
        let mut buf = Vec::new();
        let (data, t_first, t_last, n): (Vec<u8>, i64, i64, i64) = s
            .connection()
            .query_row(
                "SELECT data, t_first, t_last, n FROM chunk WHERE window=0",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        let chunk = ChunkRow {
            channel: id,
            window: 0,
            t_first,
            t_last,
            n,
            data: &data,
        };
        // A chunk inside one bin is folded; one straddling bins is not.
        let mut a = Aggregator::new(vec![0, 4 * day], CounterRule::default());
        assert!(fold_chunk(&chunk, 0, 4 * day, &mut a, &mut buf, &mut Vec::new()).unwrap());
        let mut a = Aggregator::new(vec![0, 3600, 4 * day], CounterRule::default());
        assert!(!fold_chunk(&chunk, 0, 4 * day, &mut a, &mut buf, &mut Vec::new()).unwrap());
        assert_eq!(
            format!("{:?}", a.finish()),
            format!(
                "{:?}",
                Aggregator::new(vec![0, 3600, 4 * day], CounterRule::default()).finish()
            ),
            "nothing fed"
        );
        for edges in [
            vec![0, 4 * day],
            vec![-day, 5 * day],
            vec![0, day, 2 * day, 3 * day, 4 * day],
            vec![1800, 2 * day + 900, 3 * day],
        ] {
            for rule in [
                CounterRule::default(),
                CounterRule {
                    rollover: Some(10_000.0),
                },
            ] {
                let (from, to) = (edges[0] - 1800, edges[edges.len() - 1] + 1801);
                assert_eq!(
                    folded(&s, id, &edges, rule, from, to),
                    reference(&s, id, &edges, rule, from, to),
                    "{edges:?} {rule:?}"
                );
            }
        }
    }

    /// A jittering poll (grid-coded times, version 3) with a counter drop and a falling
    /// temperature-like stretch is folded in one pass, equal to pushing every reading.
    #[test]
    fn grid_coded_chunk_fold_equals_reading_by_reading() {
        let (mut s, id) = store();
        let mut b = Vec::new();
        let mut v = 500.0;
        for i in 0..600i64 {
            if i % 50 == 17 {
                continue;
            }
            v = if i == 300 {
                3.0
            } else if (400..450).contains(&i) {
                v - 0.25
            } else {
                v + 0.5
            };
            b.push((id, Sample::new(i * 900 + 3 + (i * 7919) % 5, v)));
        }
        s.write(&b).unwrap();
        let data: Vec<u8> = s
            .connection()
            .query_row("SELECT data FROM chunk WHERE window=0", [], |r| r.get(0))
            .unwrap();
        assert!(ChunkReader::new(&data).unwrap().has_grid());
        for rule in [
            CounterRule::default(),
            CounterRule {
                rollover: Some(1e4),
            },
        ] {
            let edges = vec![0, 7 * 86_400];
            assert_eq!(
                folded(&s, id, &edges, rule, -1800, 7 * 86_400 + 1801),
                reference(&s, id, &edges, rule, -1800, 7 * 86_400 + 1801),
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn chunk_fold_equals_reading_by_reading_for_any_series(
            span in proptest::sample::select(vec![3600i64, 86_400, 7 * 86_400]),
            steps in proptest::collection::vec((0u8..20, -3.0f64..50.0), 1..600),
            float_values in proptest::bool::ANY,
            batches in 1usize..4,
            shuffle_seed in proptest::num::u64::ANY,
            bin in proptest::sample::select(vec![0i64, 900, 3600, 86_400, 7 * 86_400]),
            rollover in proptest::option::of(100.0f64..1e6),
            cut in proptest::option::of((0i64..400_000, 1i64..800_000)),
        ) {
            let mut s = SqliteStore::open_in_memory(StoreOptions {
                chunk_span_secs: span,
                ..Default::default()
            })
            .unwrap();
            let id = s
                .ensure_channel(&ChannelSpec::new("m", "e", "kWh", ChannelKind::Counter))
                .unwrap()
                .id;
            // Mostly 15-minute steps (on the grid or a few seconds off it: grid-coded times),
            // some gaps and odd seconds; counter-like values
            // with drops (negative increments, sign flips), runs of equal values, scaled decimals or
            // arbitrary floats.
            let (mut t, mut v) = (1_767_225_600i64, 500.0f64);
            let mut all = Vec::new();
            for (k, inc) in steps {
                let inc = if k >= 14 { 0.0 } else { inc }; // runs of equal values
                t += match k { 0 => 3 * 3600, 1 => 7, 2 => 86_400 + 900, 4 => 897, 5 => 902, 6 => 1800 + 3, _ => 900 };
                v = if float_values { v + inc * 1.000_000_1 } else { ((v + inc) * 100.0).round() / 100.0 };
                if k == 3 { v = -v; }
                all.push((id, Sample::new(t, v)));
            }
            // Written in several batches in a scrambled order: later batches merge late samples
            // into existing chunks.
            let mut order: Vec<usize> = (0..all.len()).collect();
            let mut x = shuffle_seed | 1;
            for i in (1..order.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                order.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let per = order.len().div_ceil(batches);
            for part in order.chunks(per) {
                let b: Vec<_> = part.iter().map(|&i| all[i]).collect();
                s.write(&b).unwrap();
            }
            let (t0, t1) = (all[0].1.t, all[all.len() - 1].1.t);
            let edges = match (bin, cut) {
                (0, None) => vec![t0 - 10, t1 + 10],
                (0, Some((a, l))) => vec![t0 + a, t0 + a + l],
                (step, _) => {
                    let mut e = vec![t0 - t0.rem_euclid(step)];
                    while *e.last().unwrap() <= t1 { e.push(e.last().unwrap() + step); }
                    e
                }
            };
            let rule = CounterRule { rollover };
            let (from, to) = (edges[0] - 1800, edges[edges.len() - 1] + 1801);
            proptest::prop_assert_eq!(
                folded(&s, id, &edges, rule, from, to),
                reference(&s, id, &edges, rule, from, to)
            );
        }
    }

    #[test]
    fn channel_identity_and_mismatch() {
        let (mut s, id) = store();
        assert_eq!(
            s.ensure_channel(&ChannelSpec::new(
                "m1",
                "energy",
                "kWh",
                ChannelKind::Counter
            ))
            .unwrap()
            .id,
            id
        );
        let e = s
            .ensure_channel(&ChannelSpec::new(
                "m1",
                "energy",
                "MWh",
                ChannelKind::Counter,
            ))
            .unwrap_err();
        assert!(e.to_string().contains("MWh"), "{e}");
        assert!(matches!(
            s.write(&[(ChannelId(99), Sample::new(0, 1.0))]),
            Err(Error::UnknownChannel(_))
        ));
        assert_eq!(s.channel("m1/energy").unwrap().unwrap().spec.unit, "kWh");
        assert!(s.channel("nope/x").unwrap().is_none());
    }

    #[test]
    fn retention_ring_by_bytes_and_age() {
        let (mut s, id) = store();
        let day = 86_400;
        for d in 0..10 {
            let b: Vec<_> = (0..96)
                .map(|i| {
                    (
                        id,
                        Sample::new(d * day + i * 900, (d * 96 + i) as f64 * 0.25),
                    )
                })
                .collect();
            s.write(&b).unwrap();
        }
        assert_eq!(s.stats().unwrap().chunks, 10);
        s.set_retention(Retention {
            max_age_secs: Some(3 * day),
            max_bytes: None,
        });
        assert!(s.apply_retention().unwrap() > 0);
        let first = s.read(id, 0, i64::MAX).unwrap()[0].t;
        assert_eq!(
            first,
            6 * day,
            "chunks ending more than 3 days before the newest reading went"
        );
        let last_two: i64 = s
            .connection()
            .query_row(
                "SELECT sum(length(data)) FROM chunk WHERE window >= ?1",
                [8 * day],
                |r| r.get(0),
            )
            .unwrap();
        let cap = last_two as u64;
        s.set_retention(Retention {
            max_age_secs: None,
            max_bytes: Some(cap),
        });
        s.apply_retention().unwrap();
        assert_eq!(s.stats().unwrap().payload_bytes, cap);
        assert_eq!(
            s.read(id, 0, i64::MAX).unwrap()[0].t,
            8 * day,
            "the oldest went first"
        );
        // A new write keeps the ring bounded.
        s.write(&[(id, Sample::new(10 * day, 1e6))]).unwrap();
        assert!(s.stats().unwrap().payload_bytes <= cap);
        assert_eq!(s.read(id, 0, i64::MAX).unwrap()[0].t, 9 * day);
    }
}
