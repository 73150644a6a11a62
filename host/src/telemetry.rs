//! Counters of what the host received, stored, retried and dropped, per sink.

use std::sync::atomic::{AtomicU64, Ordering};

/// What happened to the items of one sink. All counts since start.
#[derive(Debug, Default)]
pub struct SinkCounters {
    /// Items the sink stored.
    pub stored: AtomicU64,
    /// Items the sink already had (e.g. MongoDB duplicate key); never retried.
    pub duplicates: AtomicU64,
    /// Items that failed and went back to the queue.
    pub retried: AtomicU64,
    /// Items the sink refused for good; dropped.
    pub rejected: AtomicU64,
    /// Items dropped because the queue was full.
    pub overflowed: AtomicU64,
    /// Batches sent.
    pub batches: AtomicU64,
    /// Batches that failed in whole or in part.
    pub failed_batches: AtomicU64,
}

/// A plain copy of [`SinkCounters`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SinkCounts {
    /// See [`SinkCounters::stored`].
    pub stored: u64,
    /// See [`SinkCounters::duplicates`].
    pub duplicates: u64,
    /// See [`SinkCounters::retried`].
    pub retried: u64,
    /// See [`SinkCounters::rejected`].
    pub rejected: u64,
    /// See [`SinkCounters::overflowed`].
    pub overflowed: u64,
    /// See [`SinkCounters::batches`].
    pub batches: u64,
    /// See [`SinkCounters::failed_batches`].
    pub failed_batches: u64,
}

impl SinkCounters {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// A snapshot of every counter.
    pub fn snapshot(&self) -> SinkCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SinkCounts {
            stored: get(&self.stored),
            duplicates: get(&self.duplicates),
            retried: get(&self.retried),
            rejected: get(&self.rejected),
            overflowed: get(&self.overflowed),
            batches: get(&self.batches),
            failed_batches: get(&self.failed_batches),
        }
    }
}
