//! HistoryRead over OPC UA from the store: a [`HistorySource`] reading `reports` channels
//! (`device/service`), on its own connection to the SQLite file (WAL: it reads what the
//! monitor committed while the monitor writes).

use std::path::Path;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opcua_bridge::server::{HistoricValue, HistoryError, HistoryQuery, HistorySource};
use opcua_bridge::{PointValue, Quality};
use reports::{SqliteStore, Store, StoreOptions};

/// The store as a history source. Stored samples are good values (the monitor stores only
/// good readings), stamped with their cycle's start in whole seconds.
#[derive(Debug)]
pub struct StoreHistory {
    store: Mutex<SqliteStore>,
}

impl StoreHistory {
    /// A reader of the store file at `path`.
    ///
    /// # Errors
    /// The store's, when the file cannot be opened.
    pub fn open(path: &Path) -> Result<StoreHistory, reports::Error> {
        Ok(StoreHistory {
            store: Mutex::new(SqliteStore::open(path, StoreOptions::default())?),
        })
    }

    /// The values of a query (synchronous; [`HistorySource::read_raw`] calls it).
    ///
    /// # Errors
    /// [`HistoryError::NoHistory`] for a point the store has no channel for, `Failed` for a
    /// store error.
    pub fn read(&self, q: &HistoryQuery) -> Result<Vec<HistoricValue>, HistoryError> {
        let store = self
            .store
            .lock()
            .map_err(|_| HistoryError::Unavailable("the store reader panicked".into()))?;
        let channel = store
            .channel(&q.point)
            .map_err(|e| HistoryError::Failed(e.to_string()))?
            .ok_or(HistoryError::NoHistory)?;
        let from = q.from.map_or(i64::MIN, |t| t.timestamp());
        // `to` is inclusive: the store's end is exclusive, in whole seconds
        let to = q.to.map_or(i64::MAX, |t| t.timestamp().saturating_add(1));
        let mut samples = store
            .read(channel.id, from, to)
            .map_err(|e| HistoryError::Failed(e.to_string()))?;
        if q.newest_first {
            samples.reverse();
        }
        let mut out = Vec::with_capacity(samples.len().min(q.limit.unwrap_or(usize::MAX)));
        for s in samples {
            let Some(t) = DateTime::<Utc>::from_timestamp(s.t, 0) else {
                continue;
            };
            if q.from.is_some_and(|f| t < f) || q.to.is_some_and(|e| t > e) {
                continue;
            }
            out.push(HistoricValue {
                value: Some(PointValue::Number(s.v)),
                source_time: t,
                quality: Quality::Good,
            });
            if q.limit.is_some_and(|l| out.len() >= l) {
                break;
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl HistorySource for StoreHistory {
    async fn read_raw(&self, query: &HistoryQuery) -> Result<Vec<HistoricValue>, HistoryError> {
        self.read(query)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use reports::{ChannelKind, ChannelSpec, Sample};

    #[test]
    fn queries_read_the_store_in_either_order_with_inclusive_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let mut store = SqliteStore::open(&path, StoreOptions::default()).unwrap();
        let ch = store
            .ensure_channel(&ChannelSpec::new(
                "main",
                "p",
                "W",
                ChannelKind::Instantaneous,
            ))
            .unwrap();
        let batch: Vec<_> = (0..10)
            .map(|i| (ch.id, Sample::new(1_000 + i * 60, i as f64)))
            .collect();
        store.write(&batch).unwrap();
        let history = StoreHistory::open(&path).unwrap();
        let at = |s: i64| DateTime::<Utc>::from_timestamp(s, 0);
        let q = |from: Option<i64>, to: Option<i64>, newest_first, limit| HistoryQuery {
            point: "main/p".into(),
            from: from.and_then(at),
            to: to.and_then(at),
            newest_first,
            limit,
        };
        let values = |r: Vec<HistoricValue>| -> Vec<f64> {
            r.iter()
                .map(|h| match h.value {
                    Some(PointValue::Number(x)) => x,
                    _ => f64::NAN,
                })
                .collect()
        };
        let got = history
            .read(&q(Some(1_060), Some(1_180), false, None))
            .unwrap();
        assert_eq!(values(got), [1.0, 2.0, 3.0]);
        let got = history.read(&q(Some(1_060), None, true, Some(2))).unwrap();
        assert_eq!(values(got), [9.0, 8.0]);
        assert_eq!(
            history.read(&q(None, None, false, None)).unwrap()[0].source_time,
            at(1_000).unwrap()
        );
        let mut none = q(None, None, false, None);
        none.point = "main/q".into();
        assert_eq!(history.read(&none), Err(HistoryError::NoHistory));
    }
}
