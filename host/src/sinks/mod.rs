//! Sinks: where items are stored, one folder each (`mod.rs` the sink, `config.rs` its
//! settings and how they build it). Each implements [`Sink`], the Rust twin of the
//! original's `DatabaseClient { InitializeDatabase(); SendBatch() }`; each configuration
//! implements [`SinkConfig`] (the root config lists those it enables: `Config::sinks`).

pub mod file;
pub mod mongo;
pub mod plugin;
pub mod redis;

use crate::model::{ItemKind, SharedItem};
use async_trait::async_trait;
use std::path::PathBuf;

/// The settings of one sink, able to build it (as Vector's `SinkConfig::build`).
#[async_trait]
pub trait SinkConfig: Send + Sync + std::fmt::Debug {
    /// The configuration key the sink comes from, named in errors
    /// (e.g. `openvidu.analytics.mongo_url`).
    fn key(&self) -> String;

    /// The name of the sink it builds (its [`Sink::name`]): a configuration reload keeps
    /// the queue and counters of the sink of the same name.
    fn name(&self) -> String;

    /// What identifies these settings: a reload rebuilds the sink when this changes. By
    /// default every setting (the `Debug` text; secrets included, never logged).
    fn fingerprint(&self) -> anyhow::Result<String> {
        Ok(format!("{self:?}"))
    }

    /// Builds the sink. Sinks whose store is remote do not connect yet: a store that is down
    /// at start only delays their initialization.
    async fn build(&self, context: &SinkContext) -> anyhow::Result<Box<dyn Sink>>;
}

/// What building a sink may need besides its own settings.
#[derive(Debug, Clone, Default)]
pub struct SinkContext {
    /// Where compiled plugins are cached (`openvidu.analytics.plugin_cache_dir`).
    pub plugin_cache_dir: Option<PathBuf>,
    /// Set: plugins compile in the background and a plugin that cannot load is reported
    /// here (the host then stops). Unset: `build` waits for the compile.
    pub failures: Option<tokio::sync::mpsc::UnboundedSender<anyhow::Error>>,
    /// Where the configuration came from, for errors reported later.
    pub source: String,
}

/// Why a sink could not initialize or send.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SinkError {
    /// The store could not be reached; worth retrying later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store answered with an error.
    #[error("store error: {0}")]
    Store(String),
    /// The sink cannot work with its configuration and says retrying will not help (a
    /// plugin that called `status.give-up`): the worker stops initializing it until a
    /// reload replaces it; its queue is kept.
    #[error("cannot work with its configuration: {0}")]
    Misconfigured(String),
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

    /// How many batches (of `batch_size` items per kind) the worker hands this sink per call:
    /// more than 1 for a sink that keeps several of them in flight at once (the Redis sink's
    /// `max_in_flight`). 1 by default.
    fn batches_per_call(&self) -> usize {
        1
    }

    /// Whether it reads a stat's [`crate::model::StatQuality`] (`Item::quality`): the gRPC
    /// door reads those figures off the wire only while some sink does (the file store's
    /// query index); `false` by default.
    fn reads_quality(&self) -> bool {
        false
    }

    /// Whether the pipeline gives it the active-entities fixer's synthetic end events
    /// ([`crate::model::Item::is_fixer_event`]); `true` by default. The MongoDB sink says
    /// `false`: the fixer writes them to MongoDB itself, in the fork's shape.
    fn gets_fixer_events(&self) -> bool {
        true
    }

    /// Prepares the store (indexes, files); called before the first batch and again after
    /// a failure until it succeeds. Must be idempotent.
    async fn initialize(&mut self) -> Result<(), SinkError>;

    /// Stores a batch and reports what failed.
    async fn send_batch(&mut self, batch: &[SharedItem]) -> BatchReport;

    /// What the sink reports of its own state (notes for `/health`, `/ready` and
    /// `/api/health`, gauges for `/metrics`), read when asked; none by default.
    fn state(&self) -> Option<crate::telemetry::SinkStateFn> {
        None
    }

    /// A configuration reload left this sink as it was (its settings did not change): a
    /// sink may take it as a cue to retry what it retries on a slow schedule (the MongoDB
    /// sink's refused indexes). Nothing by default.
    fn reloaded(&mut self) {}

    /// Counters of its own the sink reports on `/metrics`
    /// (`analytics_sink_extra_total{sink, name}`), read at scrape time; none by default.
    fn extra_counters(&self) -> Option<crate::telemetry::ExtraCountersFn> {
        None
    }
}
