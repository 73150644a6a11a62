//! A plugin sink whose component compiles in the background, so the doors open at once:
//! its queue fills meanwhile, `/ready` lists it as not initialized, and its worker's first
//! `initialize` waits for the compile. A plugin that cannot load stops the host (as it
//! would have refused to start), reported through [`SinkContext::failures`].
//!
//! [`SinkContext::failures`]: crate::sinks::SinkContext::failures

use super::PluginSink;
use crate::model::{ItemKind, SharedItem};
use crate::plugin::PluginStats;
use crate::sinks::{BatchReport, Sink, SinkError};
use async_trait::async_trait;
use std::sync::{Arc, OnceLock};
use tokio::sync::oneshot;

/// A plugin sink still compiling, or compiled.
pub struct LoadingPluginSink {
    name: String,
    state: State,
    /// The plugin's counters once loaded (`/metrics` reads them through this).
    stats: Arc<OnceLock<Arc<PluginStats>>>,
}

enum State {
    Compiling(oneshot::Receiver<Result<PluginSink, String>>),
    Ready(Box<PluginSink>),
    Failed(String),
}

impl LoadingPluginSink {
    /// A sink named `name` that becomes the plugin `loaded` delivers (or its error).
    pub fn new(name: &str, loaded: oneshot::Receiver<Result<PluginSink, String>>) -> Self {
        LoadingPluginSink {
            name: name.to_string(),
            state: State::Compiling(loaded),
            stats: Arc::default(),
        }
    }
}

#[async_trait]
impl Sink for LoadingPluginSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn kinds(&self) -> &[ItemKind] {
        &[ItemKind::Event, ItemKind::Stat]
    }

    async fn initialize(&mut self) -> Result<(), SinkError> {
        if let State::Compiling(loaded) = &mut self.state {
            self.state = match loaded.await {
                Ok(Ok(sink)) => {
                    let _ = self.stats.set(sink.stats());
                    State::Ready(Box::new(sink))
                }
                Ok(Err(error)) => State::Failed(error),
                Err(_) => State::Failed("the plugin loader stopped".into()),
            };
        }
        match &mut self.state {
            State::Ready(sink) => sink.initialize().await,
            State::Failed(error) => Err(SinkError::Store(error.clone())),
            State::Compiling(_) => unreachable!("waited for above"),
        }
    }

    fn extra_counters(&self) -> Option<crate::telemetry::ExtraCountersFn> {
        let stats = self.stats.clone();
        Some(Arc::new(move || match stats.get() {
            Some(stats) => super::plugin_counters(stats.clone())(),
            None => Vec::new(),
        }))
    }

    async fn send_batch(&mut self, batch: &[SharedItem]) -> BatchReport {
        match &mut self.state {
            State::Ready(sink) => sink.send_batch(batch).await,
            _ => BatchReport::retry_all(batch.len(), "the plugin is not loaded"),
        }
    }
}
