//! The per-sink worker: every `interval` (and whenever a queue of one kind is half full) it
//! sends what its queues hold, in chunks, and puts back what failed, backing off (exponential with jitter, capped) while the sink fails.
//! On shutdown it flushes once more within a deadline.

use crate::queue::SinkQueue;
use crate::settings::RetryConfig;
use crate::sinks::{BatchReport, Sink, SinkError};
use crate::spool::Spool;
use crate::telemetry::SinkCounters;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

mod settle;
pub use settle::backoff;
use settle::{observe_item_latency, settle};

/// Timing of a worker.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Time between rounds.
    pub interval: Duration,
    /// Items per kind per batch.
    pub batch_size: usize,
    /// Longest a single `send_batch` may take before it counts as failed.
    pub send_timeout: Duration,
    /// Backoff after failures.
    pub retry: RetryConfig,
    /// Deadline of the final flush.
    pub shutdown_timeout: Duration,
}

/// What a worker left behind when it stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSummary {
    /// The sink's name.
    pub sink: String,
    /// Items still queued (not stored) at exit.
    pub left_queued: usize,
}

/// A change a configuration reload makes to a running worker, applied between rounds.
pub struct WorkerUpdate {
    /// A new sink replacing the current one (its settings or its plugin changed); the queue
    /// and the counters stay. It is initialized before its first batch.
    pub sink: Option<Box<dyn Sink>>,
    /// The timing from now on.
    pub settings: WorkerSettings,
}

/// Drives one sink.
pub struct Worker {
    sink: Box<dyn Sink>,
    queue: Arc<SinkQueue>,
    counters: Arc<SinkCounters>,
    settings: WorkerSettings,
    wake: Arc<Notify>,
    initialized: bool,
    failures: u32,
    spool: Option<Arc<Spool>>,
    updates: Option<tokio::sync::mpsc::UnboundedReceiver<WorkerUpdate>>,
    /// Set when the sink said it cannot work with its configuration: no more rounds until
    /// a reload replaces it.
    gave_up: bool,
}

/// Why a round stopped early.
struct RoundFailed(String);

/// How a batch that did not fail went.
#[derive(Debug, PartialEq, Eq)]
enum Sent {
    /// Every item settled (stored, duplicate, or refused for good).
    All,
    /// Some stored, some to be sent again (re-queued).
    Partly,
}

impl Worker {
    /// A worker for `sink`, sending from `queue`; `wake` starts a round before the next tick.
    pub fn new(
        sink: Box<dyn Sink>,
        queue: Arc<SinkQueue>,
        counters: Arc<SinkCounters>,
        settings: WorkerSettings,
        wake: Arc<Notify>,
    ) -> Self {
        observe_sink(&counters, sink.as_ref());
        Worker {
            sink,
            queue,
            counters,
            settings,
            wake,
            initialized: false,
            failures: 0,
            spool: None,
            updates: None,
            gave_up: false,
        }
    }

    /// The same worker, taking [`WorkerUpdate`]s from `updates` between rounds.
    pub fn with_updates(
        mut self,
        updates: tokio::sync::mpsc::UnboundedReceiver<WorkerUpdate>,
    ) -> Self {
        self.updates = Some(updates);
        self
    }

    /// The same worker, marking settled items done in `spool` (grouped with other writes).
    pub fn with_spool(mut self, spool: Arc<Spool>) -> Self {
        self.spool = Some(spool);
        self
    }

    /// Runs rounds until `shutdown` turns true, then flushes once more. A round starts at
    /// each tick of `interval`, when a queue of one kind reaches half its capacity
    /// ([`SinkQueue::flush_at`]), or at once after a round that left a full call's worth of
    /// items queued (the sink keeps up with a load larger than its queue per interval instead
    /// of dropping while it waits for the tick). A failing sink still waits for its backoff.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> WorkerSummary {
        let mut ticker = tokio::time::interval(self.settings.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut not_before = Instant::now();
        let mut again = false;
        loop {
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => break,
                Some(update) = next_update(&mut self.updates) => {
                    if update.settings.interval != self.settings.interval {
                        ticker = tokio::time::interval(update.settings.interval);
                        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    }
                    if self.apply(update) {
                        not_before = Instant::now();
                    }
                    continue;
                }
                _ = ticker.tick() => {}
                _ = self.wake.notified() => {}
                _ = self.queue.filling() => {}
                _ = std::future::ready(()), if again => {}
            }
            again = false;
            self.queue.end_quiet_bursts();
            if Instant::now() < not_before || self.gave_up {
                continue;
            }
            match self.round().await {
                Ok(()) => {
                    self.failures = 0;
                    self.counters.failing.store(false, Ordering::Relaxed);
                    again = self.queue.len() >= self.batch_size();
                }
                Err(RoundFailed(error)) => {
                    self.failures += 1;
                    self.counters.failing.store(true, Ordering::Relaxed);
                    let wait = backoff(&self.settings.retry, self.failures);
                    not_before = Instant::now() + wait;
                    tracing::warn!(
                        sink = self.sink.name(), failures = self.failures, retry_in = ?wait,
                        queued = self.queue.len(), %error, "sink failed; items stay queued"
                    );
                }
            }
        }
        self.final_flush().await
    }

    /// Applies a reload's update; true when the sink was replaced (its backoff is reset).
    fn apply(&mut self, update: WorkerUpdate) -> bool {
        self.settings = update.settings;
        let Some(sink) = update.sink else {
            self.sink.reloaded();
            return false;
        };
        let old = std::mem::replace(&mut self.sink, sink);
        drop(old);
        observe_sink(&self.counters, self.sink.as_ref());
        self.initialized = false;
        self.failures = 0;
        self.gave_up = false;
        self.counters.initialized.store(false, Ordering::Relaxed);
        self.counters.failing.store(false, Ordering::Relaxed);
        self.counters.set_gave_up(None);
        tracing::info!(
            sink = self.sink.name(),
            queued = self.queue.len(),
            "sink replaced by a configuration reload; its queue is kept"
        );
        true
    }

    /// The sink cannot work with its configuration: stop trying until a reload.
    fn give_up(&mut self, reason: &str) {
        self.gave_up = true;
        self.counters.set_gave_up(Some(reason.to_string()));
        tracing::error!(
            sink = self.sink.name(), %reason, queued = self.queue.len(),
            "sink gave up: it cannot work with its configuration; not retried until a \
             configuration reload changes it; its items stay queued"
        );
    }

    /// One round: initialize if needed, then send the backlog present at its start.
    async fn round(&mut self) -> Result<(), RoundFailed> {
        if !self.initialized {
            if let Err(e) = self.sink.initialize().await {
                let error = format!("initialize: {e}");
                self.counters.set_last_error(&error);
                if let SinkError::Misconfigured(reason) = &e {
                    self.give_up(reason);
                }
                return Err(RoundFailed(error));
            }
            self.initialized = true;
            self.counters.initialized.store(true, Ordering::Relaxed);
            tracing::info!(sink = self.sink.name(), "sink initialized");
        }
        let backlog = self.queue.len();
        let mut sent = 0;
        while sent < backlog {
            let batch = self.queue.take_batch(self.batch_size());
            if batch.is_empty() {
                break;
            }
            sent += batch.len();
            if self.send(batch).await? == Sent::Partly {
                // What is to be retried goes out next round, not again right now.
                break;
            }
        }
        Ok(())
    }

    /// Items per kind per call: `batch_size` times the batches the sink takes per call,
    /// capped by its largest batch.
    fn batch_size(&self) -> usize {
        let size = self
            .settings
            .batch_size
            .saturating_mul(self.sink.batches_per_call().max(1));
        self.sink
            .max_batch()
            .map_or(size, |max| size.min(max.max(1)))
    }

    /// Sends one batch and settles it: counts, re-queues what is to be retried.
    ///
    /// A batch of which the sink stored (or already had) some items and asked to retry
    /// others is [`Sent::Partly`]: those go back to the front of the queue for the next
    /// round, counted in `retried`, logged as a warning; not a failed batch and no backoff,
    /// since the sink works. A batch of which nothing was stored and something is to be
    /// retried is a failure: counted in `failed_batches`, the worker backs off.
    async fn send(&mut self, batch: Vec<crate::model::SharedItem>) -> Result<Sent, RoundFailed> {
        let started = Instant::now();
        let report =
            match tokio::time::timeout(self.settings.send_timeout, self.sink.send_batch(&batch))
                .await
            {
                Ok(report) => report,
                Err(_) => BatchReport::retry_all(
                    batch.len(),
                    format!("no answer within {:?}", self.settings.send_timeout),
                ),
            };
        let c = &self.counters;
        c.batch_seconds.observe(started.elapsed().as_secs_f64());
        SinkCounters::add(&c.batches, 1);
        SinkCounters::add(&c.stored, report.stored_count(batch.len()));
        SinkCounters::add(&c.duplicates, report.duplicates);
        SinkCounters::add(&c.rejected, report.rejected);
        observe_item_latency(c, &batch, &report);
        tracing::debug!(sink = self.sink.name(), items = batch.len(), took = ?started.elapsed(), "batch sent");
        if let Some(spool) = &self.spool {
            settle(
                spool.clone(),
                self.sink.name().to_string(),
                &batch,
                &report.retry,
            )
            .await;
        }
        if let Some(error) = &report.error {
            c.set_last_error(error);
        }
        if report.rejected > 0 {
            tracing::error!(
                sink = self.sink.name(),
                rejected = report.rejected,
                error = report.error.as_deref().unwrap_or(""),
                "items refused for good; dropped"
            );
        }
        if report.retry.is_empty() {
            if report.rejected > 0 {
                SinkCounters::add(&c.failed_batches, 1);
            }
            return Ok(Sent::All);
        }
        let mut retry = report.retry.clone();
        retry.sort_unstable();
        retry.dedup();
        SinkCounters::add(&c.retried, retry.len());
        let len = batch.len();
        let mut slots: Vec<Option<crate::model::SharedItem>> =
            batch.into_iter().map(Some).collect();
        let again: Vec<_> = retry
            .iter()
            .filter_map(|&i| slots.get_mut(i).and_then(Option::take))
            .collect();
        self.queue.requeue_front(again);
        let settled = report.stored_count(len) + report.duplicates;
        let error = report.error.unwrap_or_else(|| "items failed".into());
        if settled > 0 {
            tracing::warn!(
                sink = self.sink.name(), stored = settled, retry = retry.len(), %error,
                "some items of a batch will be sent again next round"
            );
            return Ok(Sent::Partly);
        }
        SinkCounters::add(&c.failed_batches, 1);
        Err(RoundFailed(error))
    }

    /// The last round at shutdown: one attempt at everything, within the deadline.
    async fn final_flush(mut self) -> WorkerSummary {
        self.queue.end_all_bursts();
        let deadline = self.settings.shutdown_timeout;
        let name = self.sink.name().to_string();
        let flushed = tokio::time::timeout(deadline, async {
            let backlog = self.queue.len();
            let mut sent = 0;
            if self.gave_up {
                return;
            }
            if !self.initialized {
                if let Err(e) = self.sink.initialize().await {
                    self.counters.set_last_error(&format!("initialize: {e}"));
                    tracing::error!(sink = %name, error = %e, "cannot initialize for the final flush");
                    return;
                }
                self.initialized = true;
                self.counters.initialized.store(true, Ordering::Relaxed);
            }
            while sent < backlog {
                let batch = self.queue.take_batch(self.batch_size());
                if batch.is_empty() {
                    break;
                }
                sent += batch.len();
                if self.send(batch).await.is_err() {
                    return;
                }
            }
        })
        .await;
        if flushed.is_err() {
            tracing::error!(sink = %name, ?deadline, "final flush ran out of time");
        }
        let left_queued = self.queue.len();
        if left_queued > 0 && self.spool.is_some() {
            tracing::warn!(sink = %name, left_queued, "stopping with items not stored: kept in the spool, delivered after restart");
        } else if left_queued > 0 {
            tracing::error!(sink = %name, left_queued, "stopping with items not stored (no spool: they are lost)");
        } else {
            tracing::info!(sink = %name, "flushed");
        }
        WorkerSummary {
            sink: name,
            left_queued,
        }
    }
}

/// Reads `sink`'s own counters and state into `counters` from now on.
fn observe_sink(counters: &SinkCounters, sink: &dyn Sink) {
    counters.extra.set_source(sink.extra_counters());
    counters.state.set(sink.state());
}

/// The next update, or never when the worker takes none.
async fn next_update(
    updates: &mut Option<tokio::sync::mpsc::UnboundedReceiver<WorkerUpdate>>,
) -> Option<WorkerUpdate> {
    match updates {
        Some(updates) => updates.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
