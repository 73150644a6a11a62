//! Node stats from a stock livekit-server: scrapes its Prometheus endpoint every
//! `interval` and stores one node-level `node_stats` document per scrape.
//!
//! Only `livekit_*` metrics are kept. Counters become deltas since the previous scrape (a
//! value lower than before is a restart: the delta is the new value); histograms become the
//! mean over the interval (Δsum/Δcount) and over the process lifetime (sum/count); gauges
//! are kept as they are. The document says what it is: `"aggregate": "node"`,
//! `"source": "prometheus"` — these are not per-track stats.

use crate::model::{md5_hex, Item, ItemKind, Timestamp};
use crate::pipeline::Pipeline;
use prometheus_parse::{Scrape, Value as Sample};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Turns successive scrapes into documents, remembering the previous counter values.
#[derive(Debug, Default)]
pub struct NodeStatsBuilder {
    node_id: String,
    previous: HashMap<String, f64>,
    last_scrape: Option<SystemTime>,
}

/// One series: metric name plus its labels, sorted.
fn series_key(name: &str, labels: &prometheus_parse::Labels) -> String {
    format!("{name}{{{labels}}}")
}

fn labels_json(labels: &prometheus_parse::Labels) -> Value {
    let sorted: std::collections::BTreeMap<_, _> = labels.iter().collect();
    json!(sorted)
}

fn finite(x: f64) -> Value {
    serde_json::Number::from_f64(x)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

impl NodeStatsBuilder {
    /// A builder for `node_id` (empty: taken from the metrics' `node_id` label).
    pub fn new(node_id: &str) -> Self {
        NodeStatsBuilder {
            node_id: node_id.to_string(),
            ..Default::default()
        }
    }

    /// The document of one scrape of `text` taken at `now`.
    pub fn document(
        &mut self,
        text: &str,
        now: SystemTime,
    ) -> std::io::Result<(String, Map<String, Value>)> {
        let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string())))?;
        let mut sums: HashMap<String, f64> = HashMap::new();
        for s in &scrape.samples {
            if let (Some(base), Sample::Untyped(v)) = (s.metric.strip_suffix("_sum"), &s.value) {
                sums.insert(series_key(base, &s.labels), *v);
            }
        }
        let mut counters = Vec::new();
        let mut gauges = Vec::new();
        let mut histograms = Vec::new();
        let mut resets = Vec::new();
        let mut node_from_labels = None;
        let mut samples: Vec<_> = scrape
            .samples
            .iter()
            .filter(|s| s.metric.starts_with("livekit_"))
            .collect();
        samples.sort_by_key(|s| series_key(&s.metric, &s.labels));
        for s in samples {
            if node_from_labels.is_none() {
                node_from_labels = s.labels.get("node_id").map(str::to_string);
            }
            let key = series_key(&s.metric, &s.labels);
            match &s.value {
                Sample::Counter(v) => {
                    let mut entry = json!({ "name": s.metric, "labels": labels_json(&s.labels), "value": finite(*v) });
                    if let Some(delta) = self.delta(&key, *v, &mut resets) {
                        entry["delta"] = finite(delta);
                    }
                    counters.push(entry);
                }
                Sample::Gauge(v) => gauges.push(json!({ "name": s.metric, "labels": labels_json(&s.labels), "value": finite(*v) })),
                Sample::Histogram(buckets) => {
                    let count = buckets
                        .iter()
                        .find(|b| b.less_than.is_infinite())
                        .or(buckets.last())
                        .map(|b| b.count)
                        .unwrap_or(0.0);
                    let sum = sums.get(&key).copied().unwrap_or(0.0);
                    let mut entry = json!({ "name": s.metric, "labels": labels_json(&s.labels), "count": finite(count) });
                    if count > 0.0 {
                        entry["mean"] = finite(sum / count);
                    }
                    let d_count = self.delta(&format!("{key}#count"), count, &mut resets);
                    let d_sum = self.delta(&format!("{key}#sum"), sum, &mut Vec::new());
                    if let (Some(dc), Some(ds)) = (d_count, d_sum) {
                        entry["delta_count"] = finite(dc);
                        if dc > 0.0 {
                            entry["interval_mean"] = finite(ds / dc);
                        }
                    }
                    histograms.push(entry);
                }
                // `_sum`/`_count` of histograms and untyped metrics.
                Sample::Untyped(_) | Sample::Summary(_) => {}
            }
        }
        let node_id = if self.node_id.is_empty() {
            node_from_labels.unwrap_or_default()
        } else {
            self.node_id.clone()
        };
        let ts = Timestamp::from_system_time(now);
        let ts_key = if ts.nanos > 0 {
            format!("{}{}", ts.seconds, ts.nanos)
        } else {
            ts.seconds.to_string()
        };
        let id = md5_hex(&format!("node_stats:{node_id}:{ts_key}"));
        let mut doc = Map::new();
        doc.insert("_id".into(), Value::String(id.clone()));
        doc.insert("aggregate".into(), json!("node"));
        doc.insert("source".into(), json!("prometheus"));
        doc.insert("node_id".into(), json!(node_id));
        doc.insert(
            "timestamp".into(),
            json!({ "seconds": ts.seconds, "nanos": ts.nanos }),
        );
        if let Some(last) = self.last_scrape {
            let secs = now.duration_since(last).unwrap_or_default().as_secs_f64();
            doc.insert("interval_seconds".into(), finite(secs));
        }
        doc.insert("counters".into(), Value::Array(counters));
        doc.insert("gauges".into(), Value::Array(gauges));
        doc.insert("histograms".into(), Value::Array(histograms));
        if !resets.is_empty() {
            doc.insert("counter_resets".into(), json!(resets));
        }
        self.last_scrape = Some(now);
        Ok((id, doc))
    }

    /// Delta since the last scrape; `None` on the first sight of a series. A decrease is a
    /// counter reset (the source restarted): the delta is the new value.
    fn delta(&mut self, key: &str, value: f64, resets: &mut Vec<String>) -> Option<f64> {
        let previous = self.previous.insert(key.to_string(), value)?;
        if value < previous {
            resets.push(key.to_string());
            Some(value)
        } else {
            Some(value - previous)
        }
    }
}

/// Scrapes `url` every `interval` until `stop` turns true.
pub async fn run(
    url: String,
    interval: Duration,
    node_id: String,
    expiration: Duration,
    pipeline: Arc<Pipeline>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    counters: Arc<super::IngestCounters>,
) {
    let client = match reqwest::Client::builder()
        .timeout(interval.max(Duration::from_secs(1)))
        .build()
    {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(error = %err, "cannot build the Prometheus HTTP client; no node stats");
            return;
        }
    };
    let mut builder = NodeStatsBuilder::new(&node_id);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let text = match fetch(&client, &url).await {
            Ok(text) => {
                if failing {
                    tracing::info!(%url, "Prometheus scrape works again");
                    failing = false;
                }
                text
            }
            Err(err) => {
                if !failing {
                    tracing::warn!(%url, error = format!("{err:#}"), "Prometheus scrape failed; retrying every interval");
                    failing = true;
                }
                continue;
            }
        };
        let now = SystemTime::now();
        match builder.document(&text, now) {
            Ok((id, doc)) => {
                let mut item = Item::new(ItemKind::NodeStats, id, doc, now + expiration);
                item.timestamp = Timestamp::from_system_time(now);
                item.node_id = builder_node(&item).into();
                match pipeline.accept(vec![item]) {
                    Ok(_) => counters.record(super::Door::Prometheus, [ItemKind::NodeStats]),
                    Err(err) => tracing::warn!(error = %err, "node stats not accepted"),
                }
            }
            Err(err) => tracing::warn!(%url, error = %err, "cannot parse the Prometheus text"),
        }
    }
}

fn builder_node(item: &Item) -> String {
    item.document()
        .get("node_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

async fn fetch(client: &reqwest::Client, url: &str) -> anyhow::Result<String> {
    use anyhow::Context;
    let response = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = response.status();
    anyhow::ensure!(status.is_success(), "GET {url}: HTTP {status}");
    response
        .text()
        .await
        .with_context(|| format!("reading {url}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: &str = r#"# TYPE livekit_packet_total counter
livekit_packet_total{direction="incoming",node_id="ND_1",type="audio"} 100
# TYPE livekit_room_total gauge
livekit_room_total{node_id="ND_1"} 2
# TYPE livekit_jitter_us histogram
livekit_jitter_us_bucket{node_id="ND_1",le="100"} 1
livekit_jitter_us_bucket{node_id="ND_1",le="+Inf"} 4
livekit_jitter_us_sum{node_id="ND_1"} 400
livekit_jitter_us_count{node_id="ND_1"} 4
# TYPE go_goroutines gauge
go_goroutines 42
"#;

    #[test]
    fn counters_become_deltas_histograms_means_and_resets_are_detected() {
        let mut b = NodeStatsBuilder::new("");
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_280_000);
        let (_, d0) = b.document(FIRST, t0).unwrap();
        assert_eq!(d0["aggregate"], "node");
        assert_eq!(d0["node_id"], "ND_1");
        assert_eq!(d0["counters"][0]["value"], 100.0);
        assert!(
            d0["counters"][0].get("delta").is_none(),
            "no delta on the first scrape"
        );
        assert_eq!(d0["gauges"].as_array().unwrap().len(), 1, "go_* left out");
        assert_eq!(d0["histograms"][0]["mean"], 100.0);

        let second = FIRST
            .replace("} 100\n", "} 160\n")
            .replace("le=\"+Inf\"} 4", "le=\"+Inf\"} 6")
            .replace("_sum{node_id=\"ND_1\"} 400", "_sum{node_id=\"ND_1\"} 1000");
        let (id1, d1) = b.document(&second, t0 + Duration::from_secs(10)).unwrap();
        assert_eq!(d1["counters"][0]["delta"], 60.0);
        assert_eq!(d1["histograms"][0]["delta_count"], 2.0);
        assert_eq!(d1["histograms"][0]["interval_mean"], 300.0);
        assert_eq!(d1["interval_seconds"], 10.0);
        assert!(d1.get("counter_resets").is_none());

        let restarted = FIRST.replace("} 100\n", "} 7\n");
        let (id2, d2) = b
            .document(&restarted, t0 + Duration::from_secs(20))
            .unwrap();
        assert_eq!(d2["counters"][0]["delta"], 7.0);
        assert!(!d2["counter_resets"].as_array().unwrap().is_empty());
        assert_ne!(id1, id2);
    }
}
