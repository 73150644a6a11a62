//! Sinks: where items are stored. Each implements [`Sink`], the Rust twin of the original's
//! `DatabaseClient { InitializeDatabase(); SendBatch() }`.

pub mod file;
pub mod mongo;
pub mod plugin;
pub mod redis;

use crate::model::{ItemKind, SharedItem};
use async_trait::async_trait;

/// Why a sink could not initialize or send.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SinkError {
    /// The store could not be reached; worth retrying later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store answered with an error.
    #[error("store error: {0}")]
    Store(String),
}

/// What became of a batch. Positions index into the batch that was sent.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchReport {
    /// Items to send again later; they go back to the front of the queue.
    pub retry: Vec<usize>,
    /// Items the store already had (e.g. duplicate key): stored, never retried.
    pub duplicates: usize,
    /// Items refused for good: dropped and counted.
    pub rejected: usize,
    /// What went wrong, for the log, when anything was retried or rejected.
    pub error: Option<String>,
}

impl BatchReport {
    /// Everything was stored.
    pub fn stored() -> Self {
        Self::default()
    }

    /// Nothing was stored; send all `len` items again later.
    pub fn retry_all(len: usize, error: impl Into<String>) -> Self {
        BatchReport {
            retry: (0..len).collect(),
            error: Some(error.into()),
            ..Self::default()
        }
    }

    /// How many items of a batch of `len` were newly stored.
    pub fn stored_count(&self, len: usize) -> usize {
        len.saturating_sub(self.retry.len() + self.duplicates + self.rejected)
    }
}

/// A destination for items. The scheduler owns each sink and calls it from one task, so
/// calls never overlap.
#[async_trait]
pub trait Sink: Send + 'static {
    /// A short name for logs and metrics (`mongo`, `file`, a plugin's name).
    fn name(&self) -> &str;

    /// The kinds this sink stores; the host queues no other kind for it.
    fn kinds(&self) -> &[ItemKind] {
        &[ItemKind::Event, ItemKind::Stat]
    }

    /// The largest batch this sink takes per kind, if smaller than the configured one.
    fn max_batch(&self) -> Option<usize> {
        None
    }

    /// Prepares the store (indexes, files); called before the first batch and again after
    /// a failure until it succeeds. Must be idempotent.
    async fn initialize(&mut self) -> Result<(), SinkError>;

    /// Stores a batch and reports what failed.
    async fn send_batch(&mut self, batch: &[SharedItem]) -> BatchReport;

    /// Counters of its own the sink reports on `/metrics`
    /// (`analytics_sink_extra_total{sink, name}`), read at scrape time; none by default.
    fn extra_counters(&self) -> Option<crate::telemetry::ExtraCountersFn> {
        None
    }
}
