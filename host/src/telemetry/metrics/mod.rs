//! What `/metrics` and `/ready` report: [`Observed`] gathers the host's counters and encodes
//! them as Prometheus text at scrape time.
//!
//! Metrics are read from the counters the host keeps anyway ([`SinkCounters`],
//! [`IngestCounters`], the queues), so nothing is counted twice.

use crate::counters::{FixerCounters, ReloadCounters, SinkCounters};
use crate::ingest::{Door, IngestCounters};
use crate::model::ItemKind;
use crate::pipeline::Pipeline;
use prometheus_client::collector::Collector;
use prometheus_client::registry::Registry;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A gauge read at scrape time, e.g. the spool's size once a spool exists.
pub type GaugeFn = Arc<dyn Fn() -> i64 + Send + Sync>;

/// What the endpoint reports on: the host's pipeline and counters.
#[derive(Clone)]
pub struct Observed {
    /// The pipeline (its lanes hold each sink's queue and counters).
    pub pipeline: Arc<Pipeline>,
    /// The doors' counters.
    pub ingest: Arc<IngestCounters>,
    /// Extra gauges by metric name, with their help text (hook for the spool size and
    /// other components that are not sinks).
    pub gauges: Vec<(String, String, GaugeFn)>,
    /// The spool's counters, when the host has a spool.
    pub spool: Option<Arc<crate::spool::SpoolCounters>>,
    /// Configuration reloads, when the host can reload.
    pub reloads: Option<Arc<ReloadCounters>>,
    /// The active-entities fixer's counters, when the host runs one.
    pub fixer: Option<Arc<FixerCounters>>,
}

impl std::fmt::Debug for Observed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observed")
            .field("sinks", &self.sinks().keys().cloned().collect::<Vec<_>>())
            .field("gauges", &self.gauges.len())
            .finish()
    }
}

impl Observed {
    /// Observes `pipeline` (its queues, each sink's counters and the spool) and the doors'
    /// `ingest` counters. With a spool, also its size (`analytics_spool_records`,
    /// `analytics_spool_bytes`).
    pub fn new(pipeline: Arc<Pipeline>, ingest: Arc<IngestCounters>) -> Self {
        let spool = pipeline.spool().cloned();
        let observed = Observed {
            pipeline,
            ingest,
            gauges: Vec::new(),
            spool: spool.as_ref().map(|s| s.counters.clone()),
            reloads: None,
            fixer: None,
        };
        let Some(spool) = spool else {
            return observed;
        };
        let records = spool.clone();
        let damaged = i64::from(spool.damaged().is_some());
        observed
            .with_gauge(
                "analytics_spool_damaged_at_start",
                "1 when the spool file was found damaged at start, moved aside and replaced by \
                 a fresh one (its items are not delivered; see the log and /ready).",
                move || damaged,
            )
            .with_gauge(
                "analytics_spool_records",
                "Items held in the on-disk spool (not yet stored by every sink).",
                move || records.size().records as i64,
            )
            .with_gauge(
                "analytics_spool_bytes",
                "Encoded bytes of the items held in the on-disk spool.",
                move || spool.size().bytes as i64,
            )
    }

    /// Adds a gauge `name` read by `read` at every scrape.
    pub fn with_gauge(
        mut self,
        name: &str,
        help: &str,
        read: impl Fn() -> i64 + Send + Sync + 'static,
    ) -> Self {
        self.gauges
            .push((name.to_string(), help.to_string(), Arc::new(read)));
        self
    }

    /// The same, also reporting configuration reloads.
    pub fn with_reloads(mut self, reloads: Arc<ReloadCounters>) -> Self {
        self.reloads = Some(reloads);
        self
    }

    /// The same, also reporting the active-entities fixer.
    pub fn with_fixer(mut self, fixer: Arc<FixerCounters>) -> Self {
        self.fixer = Some(fixer);
        self
    }

    /// Each sink's counters now, by name.
    pub fn sinks(&self) -> BTreeMap<String, Arc<SinkCounters>> {
        self.pipeline
            .lanes()
            .iter()
            .map(|lane| (lane.name.clone(), lane.counters.clone()))
            .collect()
    }

    /// The readiness report: each sink's state, and whether all are initialized.
    pub fn readiness(&self) -> Readiness {
        let sinks: Vec<SinkStatus> = self
            .pipeline
            .lanes()
            .iter()
            .map(|lane| SinkStatus {
                name: lane.name.clone(),
                initialized: lane.counters.initialized.load(Ordering::Relaxed),
                failing: lane.counters.failing.load(Ordering::Relaxed),
                queued: lane.queue.len(),
                gave_up: lane.counters.gave_up(),
                notes: lane.counters.state.read().notes,
            })
            .collect();
        let degraded = sinks
            .iter()
            .filter(|s| !s.initialized)
            .map(|s| s.name.clone())
            .collect::<Vec<_>>();
        let accepting = self.pipeline.is_accepting();
        let spool_damaged = self.pipeline.spool().and_then(|s| s.damaged()).map(|d| {
            format!(
                "the spool file was damaged at start ({}); moved to {}",
                d.reason,
                d.moved_to.display()
            )
        });
        Readiness {
            ready: degraded.is_empty() && accepting,
            accepting,
            degraded,
            sinks,
            spool_damaged,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn text(&self) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(self.clone()));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry)
            .expect("writing to a String cannot fail");
        text
    }
}

/// The body of `/ready`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Readiness {
    /// Every sink is initialized and the host accepts items.
    pub ready: bool,
    /// The host still accepts items (false while shutting down).
    pub accepting: bool,
    /// Sinks not yet initialized.
    pub degraded: Vec<String>,
    /// Every sink.
    pub sinks: Vec<SinkStatus>,
    /// Set when the spool file was found damaged at start: where it was moved and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spool_damaged: Option<String>,
}

/// One sink in `/ready`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SinkStatus {
    /// The sink's name.
    pub name: String,
    /// Its `initialize` succeeded.
    pub initialized: bool,
    /// Its last round failed; it is backing off.
    pub failing: bool,
    /// Items waiting in its queues.
    pub queued: usize,
    /// Set when the sink gave up (it cannot work with its configuration): why. It is not
    /// retried until a configuration reload changes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gave_up: Option<String>,
    /// What the sink says of its own state (e.g. the indexes a MongoDB server refused);
    /// left out when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

mod encode;
