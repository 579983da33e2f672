//! The store for async callers (feature `tokio`): a [`Store`] shared behind a mutex, each call
//! run on tokio's blocking pool, so a poller or server on tokio never blocks its runtime on
//! SQLite I/O. The engines themselves stay synchronous, which keeps them usable without a
//! runtime and lets the benches measure them directly.
//!
//! ```
//! # #[cfg(not(feature = "sqlite"))] fn main() {} // the example's store is the SQLite one
//! # #[cfg(feature = "sqlite")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), reports::Error> {
//! use reports::{AsyncStore, Sample, SqliteStore, StoreOptions};
//! use reports::store::{ChannelSpec, ChannelKind};
//!
//! let store = AsyncStore::new(SqliteStore::open_in_memory(StoreOptions::default())?);
//! let ch = store.ensure_channel(ChannelSpec::new("meter1", "energy", "kWh", ChannelKind::Counter)).await?;
//! store.write(vec![(ch.id, Sample::new(0, 10.0)), (ch.id, Sample::new(900, 10.5))]).await?;
//! assert_eq!(store.read(ch.id, 0, 1000).await?.len(), 2);
//! # Ok(()) }
//! ```

use std::sync::{Arc, Mutex};

use crate::store::{Channel, ChannelId, ChannelSpec, Store, WriteReport};
use crate::{Error, Sample};

/// A [`Store`] usable from async code; cheap to clone (clones share the store).
#[derive(Debug)]
pub struct AsyncStore<S> {
    inner: Arc<Mutex<S>>,
}

impl<S> Clone for AsyncStore<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S: Store + Send + 'static> AsyncStore<S> {
    /// Share `store` with async callers.
    pub fn new(store: S) -> Self {
        Self {
            inner: Arc::new(Mutex::new(store)),
        }
    }

    /// Run `f` with the store on the blocking pool. A panic in an earlier call does not
    /// poison later ones: the store's own transactions keep it consistent.
    pub async fn with<R, F>(&self, f: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&mut S) -> Result<R, Error> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut guard = inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(|e| Error::Background(e.to_string()))?
    }

    /// [`Store::ensure_channel`].
    pub async fn ensure_channel(&self, spec: ChannelSpec) -> Result<Channel, Error> {
        self.with(move |s| s.ensure_channel(&spec)).await
    }

    /// [`Store::write`]: what the store did with each reading (see [`WriteReport`]).
    pub async fn write(&self, batch: Vec<(ChannelId, Sample)>) -> Result<WriteReport, Error> {
        self.with(move |s| s.write(&batch)).await
    }

    /// [`Store::read`].
    pub async fn read(&self, channel: ChannelId, from: i64, to: i64) -> Result<Vec<Sample>, Error> {
        self.with(move |s| s.read(channel, from, to)).await
    }

    /// [`Store::channels`].
    pub async fn channels(&self) -> Result<Vec<Channel>, Error> {
        self.with(|s| s.channels()).await
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;
    use crate::store::ChannelKind;
    use crate::{SqliteStore, StoreOptions};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_share_one_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = AsyncStore::new(
            SqliteStore::open(dir.path().join("a.db"), StoreOptions::default()).unwrap(),
        );
        let ch = store
            .ensure_channel(ChannelSpec::new(
                "m",
                "t",
                "degC",
                ChannelKind::Instantaneous,
            ))
            .await
            .unwrap();
        let tasks: Vec<_> = (0..8i64)
            .map(|k| {
                let s = store.clone();
                tokio::spawn(async move {
                    let batch = (0..100)
                        .map(|i| (ch.id, Sample::new((k * 100 + i) * 900, i as f64)))
                        .collect();
                    s.write(batch).await
                })
            })
            .collect();
        let mut total = WriteReport::default();
        for t in tasks {
            total.add(t.await.unwrap().unwrap());
        }
        assert_eq!(
            (total.stored, total.replaced, total.duplicates),
            (800, 0, 0)
        );
        // The report comes back through the blocking pool.
        let again = store
            .write(vec![(ch.id, Sample::new(0, 1.0))])
            .await
            .unwrap();
        assert_eq!((again.stored, again.replaced, again.duplicates), (0, 1, 0));
        assert_eq!(
            store.read(ch.id, i64::MIN, i64::MAX).await.unwrap().len(),
            800
        );
        let err = store
            .with(|_| -> Result<(), Error> { panic!("boom") })
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Background(_)), "{err}");
        // The store is still usable after a panicking call.
        assert_eq!(store.channels().await.unwrap().len(), 1);
    }
}
