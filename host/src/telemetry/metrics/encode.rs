//! `/metrics`: [`Observed`] encoded as Prometheus text families, one per counter the host
//! keeps (received, stored, queued, … by door, kind and sink), at scrape time.

use super::*;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

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
        counter_family(
            &mut encoder,
            "analytics_grpc_invalid_messages",
            "gRPC messages refused whole with INVALID_ARGUMENT: a record without a timestamp or identity, or over a per-message limit.",
            [(vec![], w.grpc_invalid.load(Ordering::Relaxed))],
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
        crate::telemetry::state::encode(&mut encoder, &states)?;
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
