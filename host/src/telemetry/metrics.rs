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
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
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

/// Reads one count out of a sink's snapshot.
type ReadCount = fn(&crate::telemetry::SinkCounts) -> u64;

fn counter_family(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (Vec<(&'static str, String)>, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in rows {
        ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for Observed {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut received = Vec::new();
        for door in Door::ALL {
            for kind in ItemKind::ALL {
                let labels = vec![
                    ("door", door.name().to_string()),
                    ("kind", kind.collection().to_string()),
                ];
                received.push((labels, self.ingest.received(door, kind)));
            }
        }
        counter_family(
            &mut encoder,
            "analytics_items_received",
            "Items accepted into the pipeline, by door and kind.",
            received,
        )?;
        let w = &self.ingest;
        let webhooks = [
            ("accepted", &w.webhook_accepted),
            ("unknown_event", &w.webhook_unknown),
            ("bad_request", &w.webhook_bad_request),
            ("unauthorized", &w.webhook_unauthorized),
            ("too_large", &w.webhook_too_large),
            ("unavailable", &w.webhook_unavailable),
        ];
        counter_family(
            &mut encoder,
            "analytics_webhook_requests",
            "Webhook requests, by outcome.",
            webhooks.map(|(result, c)| {
                (
                    vec![("result", result.to_string())],
                    c.load(Ordering::Relaxed),
                )
            }),
        )?;
        counter_family(
            &mut encoder,
            "analytics_grpc_refused",
            "gRPC messages refused because the host could not accept them.",
            [(vec![], w.grpc_refused.load(Ordering::Relaxed))],
        )?;
        counter_family(
            &mut encoder,
            "analytics_grpc_stream_errors",
            "gRPC streams that ended with a malformed frame or message.",
            [(vec![], w.grpc_stream_errors.load(Ordering::Relaxed))],
        )?;

        let sinks = self.sinks();
        let snapshots: Vec<_> = sinks
            .iter()
            .map(|(name, c)| (name.clone(), c.snapshot()))
            .collect();
        let per_sink = |get: ReadCount| {
            snapshots
                .iter()
                .map(move |(name, s)| (vec![("sink", name.clone())], get(s)))
                .collect::<Vec<_>>()
        };
        let families: [(&str, &str, ReadCount); 7] = [
            ("analytics_sink_stored", "Items the sink stored.", |s| {
                s.stored
            }),
            (
                "analytics_sink_duplicates",
                "Items the sink already had; never retried.",
                |s| s.duplicates,
            ),
            (
                "analytics_sink_retried",
                "Items that failed and went back to the queue.",
                |s| s.retried,
            ),
            (
                "analytics_sink_rejected",
                "Items the sink refused for good; dropped.",
                |s| s.rejected,
            ),
            (
                "analytics_sink_overflowed",
                "Items dropped (drop_oldest, drop_newest) or refused (reject) because the sink's queue was full.",
                |s| s.overflowed,
            ),
            ("analytics_sink_batches", "Batches sent.", |s| s.batches),
            (
                "analytics_sink_failed_batches",
                "Batches that failed in whole or in part.",
                |s| s.failed_batches,
            ),
        ];
        for (name, help, get) in families {
            counter_family(&mut encoder, name, help, per_sink(get))?;
        }
        counter_family(
            &mut encoder,
            "analytics_sink_extra",
            "Counters a sink reports beyond the standard ones (e.g. plugin calls and traps).",
            sinks.iter().flat_map(|(sink, c)| {
                c.extra
                    .snapshot()
                    .into_iter()
                    .map(move |(name, value)| (vec![("sink", sink.clone()), ("name", name)], value))
            }),
        )?;

        let mut depth = encoder.encode_descriptor(
            "analytics_sink_queue_depth",
            "Items waiting in the sink's queues, by kind.",
            None,
            MetricType::Gauge,
        )?;
        let lanes = self.pipeline.lanes();
        for lane in lanes.iter() {
            for kind in &lane.kinds {
                let labels = [
                    ("sink", lane.name.clone()),
                    ("kind", kind.collection().to_string()),
                ];
                ConstGauge::new(lane.queue.len_of(*kind) as i64)
                    .encode(depth.encode_family(&labels)?)?;
            }
        }
        let mut bytes = encoder.encode_descriptor(
            "analytics_sink_queue_bytes",
            "Bytes of the items waiting in the sink's queues (their share of queue.max_bytes).",
            None,
            MetricType::Gauge,
        )?;
        for lane in lanes.iter() {
            ConstGauge::new(lane.queue.bytes() as i64)
                .encode(bytes.encode_family(&[("sink", lane.name.clone())])?)?;
        }
        if let Some(budget) = lanes.first().map(|l| l.queue.budget()) {
            for (name, help, value) in [
                (
                    "analytics_queue_bytes",
                    "Bytes queued in all sinks together (an item counts once per sink).",
                    budget.used(),
                ),
                (
                    "analytics_queue_max_bytes",
                    "queue.max_bytes: the bound of analytics_queue_bytes.",
                    budget.max(),
                ),
            ] {
                ConstGauge::new(value.min(i64::MAX as u64) as i64)
                    .encode(encoder.encode_descriptor(name, help, None, MetricType::Gauge)?)?;
            }
        }
        let readiness = self.readiness();
        let mut up = encoder.encode_descriptor(
            "analytics_sink_initialized",
            "1 once the sink's initialize succeeded, else 0.",
            None,
            MetricType::Gauge,
        )?;
        for sink in &readiness.sinks {
            ConstGauge::new(i64::from(sink.initialized))
                .encode(up.encode_family(&[("sink", sink.name.clone())])?)?;
        }
        let mut failing = encoder.encode_descriptor(
            "analytics_sink_failing",
            "1 while the sink's last round failed (backing off), else 0.",
            None,
            MetricType::Gauge,
        )?;
        for sink in &readiness.sinks {
            ConstGauge::new(i64::from(sink.failing))
                .encode(failing.encode_family(&[("sink", sink.name.clone())])?)?;
        }
        let mut gave_up = encoder.encode_descriptor(
            "analytics_sink_gave_up",
            "1 while the sink has given up (it cannot work with its configuration and is not \
             retried until a configuration reload changes it), else 0.",
            None,
            MetricType::Gauge,
        )?;
        for sink in &readiness.sinks {
            ConstGauge::new(i64::from(sink.gave_up.is_some()))
                .encode(gave_up.encode_family(&[("sink", sink.name.clone())])?)?;
        }
        let states: Vec<_> = sinks
            .iter()
            .map(|(name, c)| (name.clone(), c.state.read()))
            .collect();
        super::state::encode(&mut encoder, &states)?;
        let mut latency = encoder.encode_descriptor(
            "analytics_sink_batch_duration_seconds",
            "Time each batch took to send, successful or not.",
            None,
            MetricType::Histogram,
        )?;
        for (name, c) in &sinks {
            c.batch_seconds
                .histogram()
                .encode(latency.encode_family(&[("sink", name.clone())])?)?;
        }
        let mut item_latency = encoder.encode_descriptor(
            "analytics_sink_item_latency_seconds",
            "Time from receiving each item to the sink storing it (or reporting it a duplicate).",
            None,
            MetricType::Histogram,
        )?;
        for (name, c) in &sinks {
            c.item_seconds
                .histogram()
                .encode(item_latency.encode_family(&[("sink", name.clone())])?)?;
        }
        if let Some(spool) = &self.spool {
            let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
            let items = [
                ("written", get(&spool.written)),
                ("completed", get(&spool.completed)),
                ("rejected_full", get(&spool.rejected_full)),
                ("dropped_full", get(&spool.dropped_full)),
                ("recovered", get(&spool.recovered)),
            ];
            counter_family(
                &mut encoder,
                "analytics_spool_items",
                "Spool records by what happened to them: written, completed (every sink stored \
                 it), rejected_full, dropped_full, recovered (found pending at start).",
                items.map(|(event, n)| (vec![("event", event.to_string())], n)),
            )?;
            let durable = get(&spool.durable_commits);
            counter_family(
                &mut encoder,
                "analytics_spool_commits",
                "Spool write transactions (one per group of requests), by whether they \
                 fsynced.",
                [
                    (vec![("durable", "true".to_string())], durable),
                    (
                        vec![("durable", "false".to_string())],
                        get(&spool.commits).saturating_sub(durable),
                    ),
                ],
            )?;
        }
        if let Some(reloads) = &self.reloads {
            reloads.encode(&mut encoder)?;
        }
        if let Some(fixer) = &self.fixer {
            fixer.encode(&mut encoder)?;
        }
        for (name, help, read) in &self.gauges {
            let gauge = ConstGauge::new(read());
            gauge.encode(encoder.encode_descriptor(name, help, None, MetricType::Gauge)?)?;
        }
        Ok(())
    }
}
