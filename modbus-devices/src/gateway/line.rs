//! One downstream bus: its connection (the poller's [`Link`]), a fair queue across clients
//! (round-robin, one request per client in turn) and the task that runs one transaction at
//! a time.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, oneshot};
use tokio_modbus::{ExceptionCode, Request, Response};
use tracing::debug;

use super::cache::{CacheConfig, ReadCache, read_key};
use super::stats::{GatewayCounters, LineStats, ms};
use crate::poll::transport::{Failure, Link};

/// How long the line stays quiet after a broadcast (devices act on it without answering).
pub(crate) const BROADCAST_TURNAROUND: Duration = Duration::from_millis(100);

/// What a request's waiting client gets.
pub(crate) type Answer = Result<Response, ExceptionCode>;

/// One request waiting for the line.
pub(crate) struct Job {
    pub(crate) client: u64,
    /// Downstream unit id (0: broadcast).
    pub(crate) unit: u8,
    pub(crate) request: Request<'static>,
    pub(crate) enqueued: Instant,
    /// After this the request is answered 0x0B without being sent.
    pub(crate) deadline: Instant,
    /// `None` for a broadcast: nobody waits.
    pub(crate) reply: Option<oneshot::Sender<Answer>>,
}

/// Round-robin across clients: each client has its own FIFO; the line takes one request
/// from each client with work in turn, so a client with many requests queued cannot delay
/// another client by more than one transaction per queued client.
#[derive(Default)]
pub(crate) struct FairQueue {
    queues: HashMap<u64, VecDeque<Job>>,
    order: VecDeque<u64>,
}

impl FairQueue {
    pub(crate) fn push(&mut self, job: Job) {
        let q = self.queues.entry(job.client).or_default();
        if q.is_empty() {
            self.order.push_back(job.client);
        }
        q.push_back(job);
    }

    pub(crate) fn pop(&mut self) -> Option<Job> {
        let client = self.order.pop_front()?;
        let q = self.queues.get_mut(&client)?;
        let job = q.pop_front();
        if q.is_empty() {
            self.queues.remove(&client);
        } else {
            self.order.push_back(client);
        }
        job
    }

    pub(crate) fn len(&self) -> usize {
        self.queues.values().map(VecDeque::len).sum()
    }
}

#[derive(Default)]
struct LineState {
    counters: GatewayCounters,
    transactions: u64,
    busy: Duration,
}

/// A downstream bus shared by the server tasks (which queue) and its line task (which runs
/// the transactions).
pub(crate) struct Line {
    pub(crate) name: String,
    pub(crate) kind: &'static str,
    queue: Mutex<FairQueue>,
    notify: Notify,
    state: Mutex<LineState>,
    cache: Mutex<ReadCache>,
    cache_config: CacheConfig,
    started: Instant,
}

impl Line {
    pub(crate) fn new(name: String, kind: &'static str, cache_config: CacheConfig) -> Self {
        Self {
            name,
            kind,
            queue: Mutex::default(),
            notify: Notify::new(),
            state: Mutex::default(),
            cache: Mutex::default(),
            cache_config,
            started: Instant::now(),
        }
    }

    fn state(&self, f: impl FnOnce(&mut LineState)) {
        if let Ok(mut s) = self.state.lock() {
            f(&mut s);
        }
    }

    pub(crate) fn push(&self, job: Job) {
        if let Ok(mut q) = self.queue.lock() {
            q.push(job);
        }
        self.notify.notify_one();
    }

    fn pop(&self) -> Option<Job> {
        self.queue.lock().ok()?.pop()
    }

    /// Requests waiting now.
    pub(crate) fn queued(&self) -> usize {
        self.queue.lock().map(|q| q.len()).unwrap_or(0)
    }

    /// A fresh cached answer to a read of `unit`, counted as a cache hit of the line.
    pub(crate) fn cached(&self, unit: u8, request: &Request<'_>) -> Option<Response> {
        if !self.cache_config.enabled() {
            return None;
        }
        let key = read_key(unit, request)?;
        let max_age = self.cache_config.max_age(key.1, key.2, key.3);
        if max_age.is_zero() {
            return None;
        }
        let hit = self.cache.lock().ok()?.get(&key, max_age, Instant::now())?;
        self.state(|s| s.counters.cache_hits += 1);
        Some(hit)
    }

    fn remember(&self, unit: u8, request: &Request<'_>, response: &Response, at: Instant) {
        if !self.cache_config.enabled() {
            return;
        }
        if let Ok(mut c) = self.cache.lock() {
            c.invalidate(unit, request);
            if let Some(key) = read_key(unit, request)
                && !self.cache_config.max_age(key.1, key.2, key.3).is_zero()
            {
                c.put(key, at, response.clone());
            }
            if c.len() > 4096 {
                let longest = self
                    .cache_config
                    .rules
                    .iter()
                    .map(|r| r.max_age_ms)
                    .chain([self.cache_config.default_max_age_ms])
                    .max()
                    .unwrap_or(0);
                c.expire(at, Duration::from_millis(longest));
            }
        }
    }

    fn forget(&self, unit: u8, request: &Request<'_>) {
        if let Ok(mut c) = self.cache.lock() {
            c.invalidate(unit, request);
        }
    }

    pub(crate) fn stats(&self) -> LineStats {
        let elapsed = self.started.elapsed();
        let s = self.state.lock();
        let (counters, transactions, busy) = s
            .map(|s| (s.counters.clone(), s.transactions, s.busy))
            .unwrap_or_default();
        LineStats {
            bus: self.name.clone(),
            kind: self.kind.to_string(),
            transactions,
            busy_ms: ms(busy),
            elapsed_ms: ms(elapsed),
            utilisation: if elapsed.is_zero() {
                0.0
            } else {
                (busy.as_secs_f64() / elapsed.as_secs_f64()).min(1.0)
            },
            counters,
        }
    }
}

/// The answer the gateway gives for a failed try: 0x0B when the target did not answer
/// usably, 0x0A when the path to it is down.
fn gateway_exception(failure: &Failure) -> ExceptionCode {
    match failure {
        Failure::Exception(e) => ExceptionCode::new(e.code()),
        Failure::Timeout | Failure::Crc | Failure::Protocol(_) => {
            ExceptionCode::GatewayTargetDevice
        }
        Failure::Transport(_) | Failure::NotConnected(_) => ExceptionCode::GatewayPathUnavailable,
    }
}

/// Run the line until the gateway is dropped: take the next request in round-robin order,
/// run its transaction, answer.
pub(crate) async fn run(line: Arc<Line>, mut link: Link) {
    loop {
        let job = loop {
            if let Some(job) = line.pop() {
                break job;
            }
            line.notify.notified().await;
        };
        run_job(&line, &mut link, job).await;
    }
}

async fn run_job(line: &Line, link: &mut Link, job: Job) {
    let start = Instant::now();
    line.state(|s| {
        s.counters.requests += 1;
        s.counters
            .queue_time
            .record(start.saturating_duration_since(job.enqueued));
    });
    let Job {
        unit,
        request,
        deadline,
        reply,
        ..
    } = job;
    let Some(reply) = reply else {
        // Broadcast: sent, nothing awaited; the line stays quiet for the turnaround delay.
        line.forget(0, &request);
        let _ = tokio::time::timeout(BROADCAST_TURNAROUND, link.try_once(0, request)).await;
        if link.endpoint.kind_name() != "rtu" {
            // Over TCP an answer may still come: a new connection leaves it behind.
            link.close();
        }
        line.state(|s| {
            s.counters.broadcasts += 1;
            s.transactions += 1;
            s.busy += start.elapsed();
        });
        return;
    };
    if reply.is_closed() {
        return; // the client is gone
    }
    if start >= deadline {
        line.state(|s| s.counters.exception(0x0B));
        let _ = reply.send(Err(ExceptionCode::GatewayTargetDevice));
        return;
    }
    // Another client's identical read may have just filled the cache.
    if let Some(hit) = line.cached(unit, &request) {
        line.state(|s| s.counters.answers += 1);
        let _ = reply.send(Ok(hit));
        return;
    }
    let (result, _) = link.try_once(unit, request.clone()).await;
    let done = Instant::now();
    let answer = match result {
        Ok(response) => {
            line.remember(unit, &request, &response, start);
            Ok(response)
        }
        Err(failure) => {
            // A write that failed may have been applied: forget what it touches.
            line.forget(unit, &request);
            debug!(bus = %line.name, unit, ?failure, "downstream request failed");
            Err(gateway_exception(&failure))
        }
    };
    let sent = !matches!(&answer, Err(ExceptionCode::GatewayPathUnavailable));
    line.state(|s| {
        match &answer {
            Ok(_) => s.counters.answers += 1,
            Err(code) => s.counters.exception(u8::from(*code)),
        }
        if sent {
            s.transactions += 1;
            s.busy += done.saturating_duration_since(start);
        }
    });
    let _ = reply.send(answer);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(client: u64, n: u16) -> Job {
        let now = Instant::now();
        Job {
            client,
            unit: 1,
            request: Request::ReadHoldingRegisters(n, 1),
            enqueued: now,
            deadline: now,
            reply: None,
        }
    }

    #[test]
    fn round_robin_across_clients() {
        let mut q = FairQueue::default();
        for n in 0..4 {
            q.push(job(1, n));
        }
        q.push(job(2, 100));
        q.push(job(3, 200));
        q.push(job(2, 101));
        let order: Vec<_> = std::iter::from_fn(|| q.pop())
            .map(|j| match j.request {
                Request::ReadHoldingRegisters(a, _) => (j.client, a),
                _ => (0, 0),
            })
            .collect();
        assert_eq!(
            order,
            [(1, 0), (2, 100), (3, 200), (1, 1), (2, 101), (1, 2), (1, 3)]
        );
        assert_eq!(q.len(), 0);
    }
}
