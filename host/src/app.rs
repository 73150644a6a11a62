//! Assembles the host: sinks from the configuration, one worker per sink, the pipeline that
//! feeds them, and an orderly shutdown.

use crate::config::{AnalyticsConfig, Config, SpoolConfig};
use crate::ingest::IngestCounters;
use crate::model::SharedItem;
use crate::pipeline::{Pipeline, SinkLane};
use crate::queue::{QueueBudget, SinkQueue};
use crate::sinks::{self, Sink, SinkContext};
use crate::spool::{Recovered, Spool};
use crate::telemetry::{Observed, SinkCounters, TelemetryServer};
use crate::worker::{Worker, WorkerSettings, WorkerSummary};
use anyhow::{bail, Context};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

/// A running host: the pipeline to accept items into, and the workers storing them.
pub struct Host {
    /// Where the doors put accepted items.
    pub pipeline: Arc<Pipeline>,
    /// Counters of each sink, by name.
    pub counters: BTreeMap<String, Arc<SinkCounters>>,
    workers: Vec<JoinHandle<WorkerSummary>>,
    shutdown: watch::Sender<bool>,
    spool: Option<Arc<Spool>>,
}

/// The sinks a configuration asks for, built (plugins compiled) but not yet started.
pub async fn sinks_from_config(config: &Config) -> anyhow::Result<Vec<Box<dyn Sink>>> {
    build_sinks(config, None).await
}

/// The sinks of `config`; with `failures`, plugins compile in the background and report a
/// failure to load there.
async fn build_sinks(
    config: &Config,
    failures: Option<tokio::sync::mpsc::UnboundedSender<anyhow::Error>>,
) -> anyhow::Result<Vec<Box<dyn Sink>>> {
    let context = SinkContext {
        plugin_cache_dir: config.analytics.plugin_cache_dir.clone(),
        failures,
        source: config.source.to_string(),
    };
    let mut sinks = Vec::new();
    for sink in sinks::configured(config) {
        let built = sink
            .build(&context)
            .await
            .with_context(|| format!("{}: {}", config.source, sink.key()))?;
        sinks.push(built);
    }
    Ok(sinks)
}

impl Host {
    /// Starts one worker per sink, memory only.
    pub fn start(sinks: Vec<Box<dyn Sink>>, settings: &AnalyticsConfig) -> Host {
        Self::assemble(sinks, settings, None)
    }

    /// Starts one worker per sink with the on-disk spool in `spool.dir`: what a previous run
    /// left there is queued again (for exactly the sinks still missing it) before anything
    /// new is accepted, and every accepted item is on disk before `accept` returns.
    pub fn start_with_spool(
        sinks: Vec<Box<dyn Sink>>,
        settings: &AnalyticsConfig,
        spool: &SpoolConfig,
    ) -> anyhow::Result<Host> {
        let mut lanes: Vec<(String, Vec<_>)> = Vec::new();
        for sink in &sinks {
            if lanes.iter().any(|(name, _)| name == sink.name()) {
                bail!(
                    "two sinks are named `{}`; the spool needs distinct names",
                    sink.name()
                );
            }
            lanes.push((sink.name().to_string(), sink.kinds().to_vec()));
        }
        let (spool, recovered) = Spool::open(spool, lanes)?;
        Ok(Self::assemble(
            sinks,
            settings,
            Some((Arc::new(spool), recovered)),
        ))
    }

    fn assemble(
        sinks: Vec<Box<dyn Sink>>,
        settings: &AnalyticsConfig,
        spool: Option<(Arc<Spool>, Vec<Recovered>)>,
    ) -> Host {
        let (spool, mut recovered) = match spool {
            Some((spool, recovered)) => (Some(spool), by_sink(recovered)),
            None => (None, BTreeMap::new()),
        };
        let wake = Arc::new(Notify::new());
        let (shutdown, shutdown_rx) = watch::channel(false);
        let worker_settings = WorkerSettings {
            interval: settings.interval,
            batch_size: settings.batch_size,
            send_timeout: settings.send_timeout,
            retry: settings.retry.clone(),
            shutdown_timeout: settings.shutdown_timeout,
        };
        let mut lanes = Vec::new();
        let mut workers = Vec::new();
        let mut counters = BTreeMap::new();
        let budget = Arc::new(QueueBudget::new(settings.queue.max_bytes));
        for sink in sinks {
            let name = sink.name().to_string();
            let sink_counters = Arc::new(SinkCounters::default());
            if let Some(source) = sink.extra_counters() {
                sink_counters.extra.set_source(source);
            }
            let queue = Arc::new(
                SinkQueue::new(
                    &name,
                    settings.queue.capacity,
                    settings.queue.overflow,
                    sink_counters.clone(),
                )
                .with_budget(budget.clone()),
            );
            if let Some(items) = recovered.remove(&name) {
                // Ahead of anything new, without the capacity check: they are already accepted.
                queue.requeue_front(items);
            }
            lanes.push(SinkLane {
                name: name.clone(),
                kinds: sink.kinds().to_vec(),
                queue: queue.clone(),
            });
            let mut worker = Worker::new(
                sink,
                queue,
                sink_counters.clone(),
                worker_settings.clone(),
                wake.clone(),
            );
            if let Some(spool) = &spool {
                worker = worker.with_spool(spool.clone());
            }
            workers.push(tokio::spawn(worker.run(shutdown_rx.clone())));
            counters.insert(name, sink_counters);
        }
        if lanes.is_empty() {
            tracing::warn!("no sink is enabled: items are accepted and discarded");
        }
        let mut pipeline = Pipeline::new(lanes, settings.queue.overflow, wake);
        if let Some(spool) = &spool {
            pipeline = pipeline.with_spool(spool.clone());
        }
        Host {
            pipeline: Arc::new(pipeline),
            counters,
            workers,
            shutdown,
            spool,
        }
    }

    /// What the telemetry endpoint reports on for this host, with the doors' `ingest`
    /// counters.
    pub fn observed(&self, ingest: Arc<IngestCounters>) -> Observed {
        Observed::new(self.pipeline.clone(), self.counters.clone(), ingest)
    }

    /// The on-disk spool, if the host has one.
    pub fn spool(&self) -> Option<&Arc<Spool>> {
        self.spool.as_ref()
    }

    /// Stops accepting, flushes every sink once more within its deadline, and reports what
    /// each left unstored.
    pub async fn shutdown(self) -> Vec<WorkerSummary> {
        self.pipeline.close();
        let _ = self.shutdown.send(true);
        let mut summaries = Vec::new();
        for worker in self.workers {
            match worker.await {
                Ok(summary) => summaries.push(summary),
                Err(err) => tracing::error!(error = %err, "a sink worker panicked"),
            }
        }
        if let Some(spool) = &self.spool {
            let size = spool.size();
            if size.records > 0 {
                tracing::warn!(
                    items = size.records, bytes = size.bytes, spool = %spool.path().display(),
                    "items not stored by every sink are kept in the spool, delivered after restart"
                );
            }
        }
        summaries
    }
}

/// Recovered items grouped by the sinks still missing them, oldest first.
fn by_sink(recovered: Vec<Recovered>) -> BTreeMap<String, Vec<SharedItem>> {
    let mut map: BTreeMap<String, Vec<SharedItem>> = BTreeMap::new();
    for Recovered { item, sinks } in recovered {
        let item = Arc::new(item);
        for sink in sinks {
            map.entry(sink).or_default().push(item.clone());
        }
    }
    map
}

/// Runs the host until SIGINT or SIGTERM, then shuts down in order.
pub async fn run(config: Config) -> anyhow::Result<()> {
    if !config.analytics.enabled {
        tracing::warn!("openvidu.analytics.enabled is false: the host stores nothing");
    }
    // Plugins compile in the background: the doors open at once.
    let (failures, mut failed) = tokio::sync::mpsc::unbounded_channel();
    let sinks = build_sinks(&config, Some(failures)).await?;
    let names: Vec<&str> = sinks.iter().map(|s| s.name()).collect();
    tracing::info!(source = %config.source, sinks = ?names, interval = ?config.analytics.interval, "analytics host starting");
    let host = match &config.analytics.spool {
        Some(spool) => Host::start_with_spool(sinks, &config.analytics, spool)
            .with_context(|| format!("{}: openvidu.analytics.spool", config.source))?,
        None => Host::start(sinks, &config.analytics),
    };
    let doors = crate::ingest::Doors::start(&config, host.pipeline.clone()).await?;
    let observed = host.observed(doors.counters.clone());
    let telemetry = TelemetryServer::start(&config.analytics.telemetry, observed).await?;
    let failure = tokio::select! {
        signal = wait_for_signal() => {
            signal?;
            None
        }
        Some(err) = failed.recv() => Some(err),
    };
    if failure.is_some() {
        tracing::error!("a plugin could not be loaded: stopping");
    }
    tracing::info!("shutting down: no longer accepting; flushing queues");
    host.pipeline.close();
    doors.close().await;
    let spooled = host.spool().is_some();
    let summaries = host.shutdown().await;
    if let Some(telemetry) = telemetry {
        telemetry.close().await;
    }
    let lost: usize = summaries.iter().map(|s| s.left_queued).sum();
    if lost > 0 && spooled {
        tracing::warn!(
            left = lost,
            "stopped with items not stored: kept in the spool, delivered after restart"
        );
    } else if lost > 0 {
        tracing::error!(lost, "stopped with items not stored");
    }
    tracing::info!("stopped");
    match failure {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("waiting for SIGINT")?,
        _ = term.recv() => {}
    }
    Ok(())
}
