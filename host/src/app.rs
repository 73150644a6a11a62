//! Assembles the host: sinks from the configuration, one worker per sink, the pipeline that
//! feeds them, and an orderly shutdown.

use crate::config::{AnalyticsConfig, Config, QueueConfig, SpoolConfig};
use crate::ingest::IngestCounters;
use crate::model::{SharedItem, SinkScope};
use crate::pipeline::{Pipeline, SinkLane};
use crate::queue::{QueueBudget, SinkQueue};
use crate::sinks::{Sink, SinkContext};
use crate::spool::{Recovered, Spool};
use crate::telemetry::{Observed, SinkCounters};
use crate::worker::{Worker, WorkerSettings, WorkerSummary, WorkerUpdate};
use anyhow::{bail, Context};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

/// A running host: the pipeline to accept items into, and the workers storing them.
pub struct Host {
    /// Where the doors put accepted items.
    pub pipeline: Arc<Pipeline>,
    /// Each sink's worker, with the sink's name (in tests, two sinks may share one).
    workers: Vec<(String, WorkerHandle)>,
    spool: Option<Arc<Spool>>,
    settings: WorkerSettings,
    queue: QueueConfig,
    budget: Arc<QueueBudget>,
    wake: Arc<Notify>,
}

/// One sink's worker as the host drives it.
struct WorkerHandle {
    stop: watch::Sender<bool>,
    updates: mpsc::UnboundedSender<WorkerUpdate>,
    task: JoinHandle<WorkerSummary>,
}

/// What a configuration reload changes in the sinks (see [`Host::reconfigure`]).
#[derive(Default)]
pub struct SinkChanges {
    /// New sinks: a queue, counters and a worker each; they store items accepted from now on.
    pub added: Vec<Box<dyn Sink>>,
    /// Sinks replacing the running ones of the same name, between two batches; the queue
    /// and counters stay.
    pub replaced: Vec<Box<dyn Sink>>,
    /// Names of sinks to stop: they take no new items and drain their queue within
    /// `shutdown_timeout` (with a spool, what is left stays there).
    pub removed: Vec<String>,
}

impl SinkChanges {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.replaced.is_empty() && self.removed.is_empty()
    }
}

/// The sinks a configuration asks for, built (plugins compiled) but not yet started.
pub async fn sinks_from_config(config: &Config) -> anyhow::Result<Vec<Box<dyn Sink>>> {
    build_sinks(config, None).await
}

/// The sinks of `config`; with `failures`, plugins compile in the background and report a
/// failure to load there.
pub(crate) async fn build_sinks(
    config: &Config,
    failures: Option<tokio::sync::mpsc::UnboundedSender<anyhow::Error>>,
) -> anyhow::Result<Vec<Box<dyn Sink>>> {
    let context = SinkContext {
        plugin_cache_dir: config.analytics.plugin_cache_dir.clone(),
        failures,
        source: config.source.to_string(),
    };
    let mut sinks = Vec::new();
    for sink in config.sinks() {
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
        let mut lanes: Vec<(String, SinkScope)> = Vec::new();
        for sink in &sinks {
            if lanes.iter().any(|(name, _)| name == sink.name()) {
                bail!(
                    "two sinks are named `{}`; the spool needs distinct names",
                    sink.name()
                );
            }
            lanes.push((sink.name().to_string(), scope_of(&**sink)));
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
        let mut host = Host {
            pipeline: Arc::new(Pipeline::new(
                Vec::new(),
                settings.queue.overflow,
                wake.clone(),
            )),
            workers: Vec::new(),
            spool: spool.clone(),
            settings: worker_settings(settings),
            queue: settings.queue.clone(),
            budget: Arc::new(QueueBudget::new(settings.queue.max_bytes)),
            wake: wake.clone(),
        };
        let mut lanes = Vec::new();
        for sink in sinks {
            let lane = host.start_worker(sink);
            if let Some(items) = recovered.remove(&lane.name) {
                // Ahead of anything new, without the capacity check: they are already accepted.
                lane.queue.requeue_front(items);
            }
            lanes.push(lane);
        }
        if lanes.is_empty() {
            tracing::warn!("no sink is enabled: items are accepted and discarded");
        }
        let mut pipeline = Pipeline::new(lanes, settings.queue.overflow, wake);
        if let Some(spool) = &spool {
            pipeline = pipeline.with_spool(spool.clone());
        }
        host.pipeline = Arc::new(pipeline);
        host
    }

    /// A queue, counters and a running worker for `sink`; the lane that feeds it.
    fn start_worker(&mut self, sink: Box<dyn Sink>) -> SinkLane {
        let name = sink.name().to_string();
        let counters = Arc::new(SinkCounters::default());
        let queue = Arc::new(
            SinkQueue::new(
                &name,
                self.queue.capacity,
                self.queue.overflow,
                counters.clone(),
            )
            .with_budget(self.budget.clone()),
        );
        let lane = SinkLane {
            name: name.clone(),
            kinds: sink.kinds().to_vec(),
            queue: queue.clone(),
            counters: counters.clone(),
            reads_quality: sink.reads_quality(),
            fixer_events: sink.gets_fixer_events(),
        };
        let (updates, updates_rx) = mpsc::unbounded_channel();
        let (stop, stop_rx) = watch::channel(false);
        let mut worker = Worker::new(
            sink,
            queue,
            counters,
            self.settings.clone(),
            self.wake.clone(),
        )
        .with_updates(updates_rx);
        if let Some(spool) = &self.spool {
            worker = worker.with_spool(spool.clone());
        }
        let task = tokio::spawn(worker.run(stop_rx));
        self.workers.push((
            name,
            WorkerHandle {
                stop,
                updates,
                task,
            },
        ));
        lane
    }

    /// Applies a configuration reload to the sinks: `settings` (timing) to every worker, and
    /// `changes`. A replaced sink that stores other kinds than before is removed and added
    /// (its queue cannot be kept). Returns, once the removed sinks have drained (within
    /// `shutdown_timeout`), what each of them left unstored.
    pub async fn reconfigure(
        &mut self,
        mut changes: SinkChanges,
        settings: &AnalyticsConfig,
    ) -> Vec<WorkerSummary> {
        let lanes = self.pipeline.lanes();
        let mut replaced = Vec::new();
        for sink in std::mem::take(&mut changes.replaced) {
            let same_kinds = lanes
                .iter()
                .any(|l| l.name == sink.name() && l.kinds == sink.kinds());
            if same_kinds {
                replaced.push(sink);
            } else {
                tracing::warn!(
                    sink = sink.name(),
                    "the reloaded sink stores other kinds: it starts with a new queue"
                );
                changes.removed.push(sink.name().to_string());
                changes.added.push(sink);
            }
        }
        self.settings = worker_settings(settings);
        let mut next: Vec<SinkLane> = lanes
            .iter()
            .filter(|l| !changes.removed.contains(&l.name))
            .cloned()
            .collect();
        let (removed, kept) = std::mem::take(&mut self.workers)
            .into_iter()
            .partition(|(name, _)| changes.removed.contains(name));
        let removed: Vec<(String, WorkerHandle)> = removed;
        self.workers = kept;
        for sink in changes.added {
            next.push(self.start_worker(sink));
        }
        if let Some(spool) = &self.spool {
            spool.set_sinks(next.iter().map(|l| (l.name.clone(), l.scope())).collect());
        }
        self.pipeline.set_lanes(next);
        let mut replaced: BTreeMap<String, Box<dyn Sink>> = replaced
            .into_iter()
            .map(|s| (s.name().to_string(), s))
            .collect();
        for (name, worker) in &self.workers {
            let update = WorkerUpdate {
                sink: replaced.remove(name.as_str()),
                settings: self.settings.clone(),
            };
            let _ = worker.updates.send(update);
        }
        let mut summaries = Vec::new();
        for (name, worker) in removed {
            tracing::info!(sink = %name, "sink removed by a configuration reload: draining its queue");
            let _ = worker.stop.send(true);
            match worker.task.await {
                Ok(summary) => summaries.push(summary),
                Err(err) => tracing::error!(sink = %name, error = %err, "a sink worker panicked"),
            }
        }
        summaries
    }

    /// The names of the running sinks, in order.
    pub fn sink_names(&self) -> Vec<String> {
        self.pipeline
            .lanes()
            .iter()
            .map(|l| l.name.clone())
            .collect()
    }

    /// Each running sink's counters, by name.
    pub fn counters(&self) -> BTreeMap<String, Arc<SinkCounters>> {
        self.pipeline
            .lanes()
            .iter()
            .map(|l| (l.name.clone(), l.counters.clone()))
            .collect()
    }

    /// What the telemetry endpoint reports on for this host, with the doors' `ingest`
    /// counters.
    pub fn observed(&self, ingest: Arc<IngestCounters>) -> Observed {
        Observed::new(self.pipeline.clone(), ingest)
    }

    /// The on-disk spool, if the host has one.
    pub fn spool(&self) -> Option<&Arc<Spool>> {
        self.spool.as_ref()
    }

    /// Stops accepting, flushes every sink once more within its deadline, and reports what
    /// each left unstored.
    pub async fn shutdown(self) -> Vec<WorkerSummary> {
        self.pipeline.close();
        for (_, worker) in &self.workers {
            let _ = worker.stop.send(true);
        }
        let mut summaries = Vec::new();
        for (_, worker) in self.workers {
            match worker.task.await {
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

/// The workers' timing in `settings`.
fn worker_settings(settings: &AnalyticsConfig) -> WorkerSettings {
    WorkerSettings {
        interval: settings.interval,
        batch_size: settings.batch_size,
        send_timeout: settings.send_timeout,
        retry: settings.retry.clone(),
        shutdown_timeout: settings.shutdown_timeout,
    }
}

/// What `sink` stores, as the spool keeps items for it.
fn scope_of(sink: &dyn Sink) -> SinkScope {
    SinkScope {
        kinds: sink.kinds().to_vec(),
        fixer_events: sink.gets_fixer_events(),
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
