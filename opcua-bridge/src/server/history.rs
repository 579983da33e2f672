//! HistoryRead (raw) of points, served from a [`HistorySource`] the caller implements (the
//! monitor backs it with the reports store).
//!
//! With a source registered every point has `Historizing` true and `HistoryRead` in its
//! access level. The OPC UA rules are the bridge's; the source only answers
//! [`HistoryQuery`]s (an inclusive time interval, an order, a limit):
//!
//! - start before end: values with start ≤ time < end, oldest first;
//! - start after end: values with end < time ≤ start, newest first;
//! - start equal to end: the values at that time;
//! - only a start (and a number of values): from the start on, oldest first; only an end:
//!   from the end back, newest first; neither, or only one without a number of values:
//!   `BadHistoryOperationInvalid`.
//!
//! When the client asks for at most N values per node and there are more, it gets N and a
//! continuation point; the next read resumes after the last value it got (values sharing
//! that time are counted, not lost or repeated). The source is asked for N + 1 values (plus
//! those at the resume time already returned); a source that returns more than asked, out
//! of order or outside the interval is tolerated: the bridge filters, orders and truncates.
//! A source error is the node's status ([`HistoryError::status_code`]); modified values
//! (`IsReadModified`) are `BadHistoryOperationUnsupported`, and `ReturnBounds` is ignored.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opcua::types::StatusCode;

use crate::model::{PointValue, Quality};

/// What the bridge asks a [`HistorySource`]: the values of `point` with `from ≤ time ≤ to`
/// (a missing bound is open), in time order (newest first when `newest_first`), at most
/// `limit` of them (the first ones in that order; `None`: all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    /// `device/service`.
    pub point: String,
    /// The earliest time, inclusive.
    pub from: Option<DateTime<Utc>>,
    /// The latest time, inclusive.
    pub to: Option<DateTime<Utc>>,
    /// Newest first instead of oldest first.
    pub newest_first: bool,
    /// At most this many values (a source may return more; the bridge truncates).
    pub limit: Option<usize>,
}

/// One stored value of a point.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoricValue {
    /// The value (`None`: the point had no value then, e.g. the device did not answer).
    pub value: Option<PointValue>,
    /// When it was measured: the source timestamp.
    pub source_time: DateTime<Utc>,
    /// Its quality: the status code, as for live values.
    pub quality: Quality,
}

/// Why a source could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// The point has no history (`BadNoData`).
    #[error("no history for this point")]
    NoHistory,
    /// The store is unavailable now (`BadDataUnavailable`).
    #[error("history unavailable: {0}")]
    Unavailable(String),
    /// The read failed (`BadInternalError`).
    #[error("history read failed: {0}")]
    Failed(String),
}

impl HistoryError {
    /// The status code the client gets for the node.
    pub fn status_code(&self) -> StatusCode {
        match self {
            HistoryError::NoHistory => StatusCode::BadNoData,
            HistoryError::Unavailable(_) => StatusCode::BadDataUnavailable,
            HistoryError::Failed(_) => StatusCode::BadInternalError,
        }
    }
}

/// The caller's store of past values, read by HistoryRead (raw).
///
/// ```
/// use async_trait::async_trait;
/// use opcua_bridge::server::{HistoricValue, HistoryError, HistoryQuery, HistorySource};
///
/// /// Values in memory, oldest first.
/// struct Memory(Vec<(String, HistoricValue)>);
///
/// #[async_trait]
/// impl HistorySource for Memory {
///     async fn read_raw(&self, q: &HistoryQuery) -> Result<Vec<HistoricValue>, HistoryError> {
///         let mut v: Vec<HistoricValue> = self.0.iter()
///             .filter(|(p, h)| *p == q.point
///                 && q.from.is_none_or(|f| h.source_time >= f)
///                 && q.to.is_none_or(|t| h.source_time <= t))
///             .map(|(_, h)| h.clone())
///             .collect();
///         if q.newest_first { v.reverse(); }
///         v.truncate(q.limit.unwrap_or(usize::MAX));
///         Ok(v)
///     }
/// }
/// ```
#[async_trait]
pub trait HistorySource: Send + Sync + 'static {
    /// The values the query asks for.
    ///
    /// # Errors
    /// Why there are none; the client gets [`HistoryError::status_code`].
    async fn read_raw(&self, query: &HistoryQuery) -> Result<Vec<HistoricValue>, HistoryError>;
}

/// Where a raw read is, kept in the continuation point between pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Window {
    pub(super) point: String,
    pub(super) from: Option<DateTime<Utc>>,
    pub(super) to: Option<DateTime<Utc>>,
    /// The end time of the request, excluded (when start and end differ).
    pub(super) excluded: Option<DateTime<Utc>>,
    pub(super) newest_first: bool,
    /// Values at the resume time (`from`, or `to` when newest first) already returned.
    pub(super) skip: usize,
    /// Values per page (`None`: all at once).
    pub(super) max: Option<usize>,
}

impl Window {
    /// The window of a request, or `BadHistoryOperationInvalid`.
    pub(super) fn of_request(
        point: String,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
        max: u32,
    ) -> Result<Window, StatusCode> {
        let max = (max > 0).then(|| usize::try_from(max).unwrap_or(usize::MAX));
        let (from, to, excluded, newest_first) = match (start, end) {
            (Some(s), Some(e)) if s < e => (Some(s), Some(e), Some(e), false),
            (Some(s), Some(e)) if s > e => (Some(e), Some(s), Some(e), true),
            (Some(s), Some(_)) => (Some(s), Some(s), None, false),
            (Some(s), None) if max.is_some() => (Some(s), None, None, false),
            (None, Some(e)) if max.is_some() => (None, Some(e), None, true),
            _ => return Err(StatusCode::BadHistoryOperationInvalid),
        };
        Ok(Window {
            point,
            from,
            to,
            excluded,
            newest_first,
            skip: 0,
            max,
        })
    }

    /// What to ask the source for this page.
    pub(super) fn query(&self) -> HistoryQuery {
        HistoryQuery {
            point: self.point.clone(),
            from: self.from,
            to: self.to,
            newest_first: self.newest_first,
            limit: self
                .max
                .map(|m| m.saturating_add(self.skip).saturating_add(1)),
        }
    }

    /// The resume time: where this page starts.
    fn resume_at(&self) -> Option<DateTime<Utc>> {
        if self.newest_first {
            self.to
        } else {
            self.from
        }
    }

    /// This page out of what the source returned, and the window of the next page if
    /// there are more values.
    pub(super) fn page(
        &self,
        mut values: Vec<HistoricValue>,
    ) -> (Vec<HistoricValue>, Option<Window>) {
        values.retain(|v| {
            self.from.is_none_or(|f| v.source_time >= f)
                && self.to.is_none_or(|t| v.source_time <= t)
                && self.excluded != Some(v.source_time)
        });
        if self.newest_first {
            values.sort_by_key(|v| std::cmp::Reverse(v.source_time));
        } else {
            values.sort_by_key(|v| v.source_time);
        }
        let resume = self.resume_at();
        let already = values
            .iter()
            .take(self.skip)
            .take_while(|v| Some(v.source_time) == resume)
            .count();
        values.drain(..already);
        let Some(max) = self.max else {
            return (values, None);
        };
        if values.len() <= max {
            return (values, None);
        }
        values.truncate(max);
        let Some(last) = values.last().map(|v| v.source_time) else {
            return (values, None);
        };
        let at_last = values
            .iter()
            .rev()
            .take_while(|v| v.source_time == last)
            .count();
        let carried = if resume == Some(last) { self.skip } else { 0 };
        let mut next = self.clone();
        if self.newest_first {
            next.to = Some(last);
        } else {
            next.from = Some(last);
        }
        next.skip = carried + at_last;
        (values, Some(next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    fn v(s: i64, x: f64) -> HistoricValue {
        HistoricValue {
            value: Some(PointValue::Number(x)),
            source_time: t(s),
            quality: Quality::Good,
        }
    }

    /// A store honouring the query as a source should.
    fn answer(store: &[HistoricValue], q: &HistoryQuery) -> Vec<HistoricValue> {
        let mut out: Vec<HistoricValue> = store
            .iter()
            .filter(|h| {
                q.from.is_none_or(|f| h.source_time >= f) && q.to.is_none_or(|e| h.source_time <= e)
            })
            .cloned()
            .collect();
        if q.newest_first {
            out.reverse();
        }
        out.truncate(q.limit.unwrap_or(usize::MAX));
        out
    }

    fn read_all(store: &[HistoricValue], mut w: Window) -> (Vec<f64>, usize) {
        let mut got = Vec::new();
        let mut pages = 0;
        loop {
            pages += 1;
            let (page, next) = w.page(answer(store, &w.query()));
            if let Some(m) = w.max {
                assert!(page.len() <= m);
            }
            got.extend(page.iter().filter_map(|h| match h.value {
                Some(PointValue::Number(x)) => Some(x),
                _ => None,
            }));
            match next {
                Some(n) => w = n,
                None => return (got, pages),
            }
        }
    }

    #[test]
    fn pages_cover_the_interval_once_with_the_end_excluded() {
        let store: Vec<_> = (0..10).map(|i| v(i * 10, i as f64)).collect();
        let w = Window::of_request("p".into(), Some(t(0)), Some(t(90)), 4).unwrap();
        let (got, pages) = read_all(&store, w);
        assert_eq!(got, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        assert_eq!(pages, 3);
        let w = Window::of_request("p".into(), Some(t(90)), Some(t(0)), 4).unwrap();
        let (got, _) = read_all(&store, w);
        assert_eq!(got, [9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0]);
        let w = Window::of_request("p".into(), Some(t(15)), Some(t(55)), 0).unwrap();
        assert_eq!(read_all(&store, w), (vec![2.0, 3.0, 4.0, 5.0], 1));
    }

    #[test]
    fn values_sharing_a_time_are_neither_lost_nor_repeated() {
        let store = vec![
            v(0, 0.0),
            v(10, 1.0),
            v(10, 2.0),
            v(10, 3.0),
            v(10, 4.0),
            v(20, 5.0),
            v(30, 6.0),
        ];
        for max in 1..=7 {
            let w = Window::of_request("p".into(), Some(t(0)), Some(t(100)), max).unwrap();
            let (got, _) = read_all(&store, w);
            assert_eq!(got, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "max {max}");
            let w = Window::of_request("p".into(), Some(t(100)), Some(t(0)), max).unwrap();
            let (got, _) = read_all(&store, w);
            assert_eq!(
                got,
                [6.0, 5.0, 4.0, 3.0, 2.0, 1.0],
                "max {max} newest first"
            );
        }
    }

    #[test]
    fn a_source_returning_everything_unordered_is_tolerated() {
        let store: Vec<_> = (0..10).rev().map(|i| v(i * 10, i as f64)).collect();
        let mut w = Window::of_request("p".into(), Some(t(20)), Some(t(70)), 2).unwrap();
        let mut got = Vec::new();
        loop {
            let (page, next) = w.page(store.clone());
            got.extend(page.iter().map(|h| h.source_time));
            match next {
                Some(n) => w = n,
                None => break,
            }
        }
        assert_eq!(got, [t(20), t(30), t(40), t(50), t(60)]);
    }

    #[test]
    fn open_ends_need_a_count() {
        assert!(Window::of_request("p".into(), Some(t(0)), None, 0).is_err());
        assert!(Window::of_request("p".into(), None, Some(t(0)), 0).is_err());
        assert!(Window::of_request("p".into(), None, None, 5).is_err());
        let store: Vec<_> = (0..10).map(|i| v(i * 10, i as f64)).collect();
        let w = Window::of_request("p".into(), None, Some(t(50)), 3).unwrap();
        assert_eq!(read_all(&store, w).0, [5.0, 4.0, 3.0, 2.0, 1.0, 0.0]);
        let w = Window::of_request("p".into(), Some(t(70)), None, 3).unwrap();
        assert_eq!(read_all(&store, w).0, [7.0, 8.0, 9.0]);
        let w = Window::of_request("p".into(), Some(t(30)), Some(t(30)), 0).unwrap();
        assert_eq!(read_all(&store, w).0, [3.0]);
    }

    #[test]
    fn errors_map_to_bad_statuses() {
        for e in [
            HistoryError::NoHistory,
            HistoryError::Unavailable("x".into()),
            HistoryError::Failed("y".into()),
        ] {
            assert!(e.status_code().is_bad(), "{e}");
        }
    }
}
