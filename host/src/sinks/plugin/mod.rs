//! A WebAssembly component plugin as a [`Sink`]: items become the contract's `event` and
//! `stat` records; the plugin's `send-error` becomes a [`BatchReport`].

pub mod config;
pub mod loading;

use super::{BatchReport, Sink, SinkError};
use crate::model::{ItemKind, SharedItem};
use crate::plugin::config::PluginConfig;
use crate::plugin::wit::current::livekit::analytics::types as wit;
use crate::plugin::wit::current::{event_record, stat_record};
use crate::plugin::{CallError, Plugin, PluginEngine, PluginLog, PluginStats};
use async_trait::async_trait;
use std::sync::Arc;

/// A sink backed by a plugin.
pub struct PluginSink {
    plugin: Plugin,
}

impl PluginSink {
    /// Loads the plugin of `config` (compiling it, or from the cache), checking its world,
    /// version and imports against its grants.
    pub fn load(engine: &PluginEngine, config: &PluginConfig) -> anyhow::Result<Self> {
        Ok(PluginSink {
            plugin: Plugin::load(engine, config)?,
        })
    }

    /// Wraps an already loaded plugin.
    pub fn new(plugin: Plugin) -> Self {
        PluginSink { plugin }
    }

    /// The plugin itself.
    pub fn plugin_mut(&mut self) -> &mut Plugin {
        &mut self.plugin
    }

    /// The plugin's log lines and counts.
    pub fn log(&self) -> Arc<PluginLog> {
        self.plugin.log()
    }

    /// The plugin's trap/timeout/instantiation counters.
    pub fn stats(&self) -> Arc<PluginStats> {
        self.plugin.stats()
    }
}

/// Turns the plugin's answer into a report over `batch` positions; `event_pos`/`stat_pos`
/// map each list's index back to the batch.
pub fn report_from_result(
    plugin: &str,
    result: Result<(), wit::SendError>,
    event_pos: &[usize],
    stat_pos: &[usize],
) -> BatchReport {
    let len = event_pos.len() + stat_pos.len();
    match result {
        Ok(()) => BatchReport::stored(),
        Err(wit::SendError::Retry(message)) => BatchReport::retry_all(len, message),
        Err(wit::SendError::Rejected(message)) => BatchReport {
            rejected: len,
            error: Some(format!("batch rejected: {message}")),
            ..BatchReport::default()
        },
        Err(wit::SendError::Partial(failures)) => {
            let mut report = BatchReport::default();
            let mut seen = std::collections::HashSet::new();
            let mut messages = Vec::new();
            for failure in failures {
                let positions = match failure.collection {
                    wit::Collection::Events => event_pos,
                    wit::Collection::Stats => stat_pos,
                };
                let Some(&pos) = positions.get(failure.index as usize) else {
                    tracing::warn!(plugin, index = failure.index, collection = ?failure.collection,
                        "plugin reported a failure for an item it was not sent; ignored");
                    continue;
                };
                if !seen.insert(pos) {
                    continue;
                }
                match failure.disposition {
                    wit::Disposition::Retry => report.retry.push(pos),
                    wit::Disposition::Duplicate => report.duplicates += 1,
                    wit::Disposition::Drop => {
                        report.rejected += 1;
                        if !failure.message.is_empty() {
                            tracing::warn!(plugin, message = %failure.message, "plugin dropped an item");
                        }
                    }
                }
                if !failure.message.is_empty() && messages.len() < 3 {
                    messages.push(failure.message);
                }
            }
            if !report.retry.is_empty() || report.rejected > 0 {
                report.error = Some(if messages.is_empty() {
                    "some items failed".into()
                } else {
                    messages.join("; ")
                });
            }
            report
        }
    }
}

#[async_trait]
impl Sink for PluginSink {
    fn name(&self) -> &str {
        self.plugin.name()
    }

    fn kinds(&self) -> &[ItemKind] {
        &[ItemKind::Event, ItemKind::Stat]
    }

    async fn initialize(&mut self) -> Result<(), SinkError> {
        self.plugin.ensure_ready().await.map_err(|e| match e {
            CallError::Init(message) => SinkError::Store(message),
            CallError::GaveUp(reason, message) => {
                SinkError::Misconfigured(format!("{reason} ({message})"))
            }
            other => SinkError::Unavailable(other.to_string()),
        })
    }

    async fn send_batch(&mut self, batch: &[SharedItem]) -> BatchReport {
        let mut events = Vec::new();
        let mut stats = Vec::new();
        let mut event_pos = Vec::new();
        let mut stat_pos = Vec::new();
        let mut skipped = 0;
        let jsons: Vec<String> = batch.iter().map(|item| item.json()).collect();
        for (pos, (item, json)) in batch.iter().zip(&jsons).enumerate() {
            match item.kind {
                ItemKind::Event => {
                    events.push(event_record(item, json));
                    event_pos.push(pos);
                }
                ItemKind::Stat => {
                    stats.push(stat_record(item, json));
                    stat_pos.push(pos);
                }
                _ => skipped += 1,
            }
        }
        if events.is_empty() && stats.is_empty() {
            return BatchReport {
                rejected: skipped,
                ..BatchReport::default()
            };
        }
        match self.plugin.send_batch(&events, &stats).await {
            Ok(result) => {
                let mut report =
                    report_from_result(self.plugin.name(), result, &event_pos, &stat_pos);
                report.rejected += skipped;
                report
            }
            Err(err) => {
                tracing::error!(plugin = self.plugin.name(), error = %err,
                    "plugin call failed; instance discarded, batch re-queued");
                let mut report = BatchReport::retry_all(0, err.to_string());
                report.retry = event_pos.iter().chain(&stat_pos).copied().collect();
                report.rejected = skipped;
                report
            }
        }
    }

    fn extra_counters(&self) -> Option<crate::telemetry::ExtraCountersFn> {
        Some(plugin_counters(self.plugin.stats()))
    }
}

/// The plugin's counters as `analytics_sink_extra_total` reads them.
pub fn plugin_counters(stats: Arc<PluginStats>) -> crate::telemetry::ExtraCountersFn {
    Arc::new(move || {
        use std::sync::atomic::Ordering::Relaxed;
        vec![
            ("plugin_traps", stats.traps.load(Relaxed)),
            ("plugin_timeouts", stats.timeouts.load(Relaxed)),
            ("plugin_instantiations", stats.instantiations.load(Relaxed)),
        ]
    })
}
