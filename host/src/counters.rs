//! Counters of what the host received, stored, retried and dropped, per sink: kept by the
//! queues, the pipeline, the workers and the sinks, read by `telemetry` (which re-exports
//! them) at scrape time. Below all of those, so each of them may import it.

mod fixer;
pub use fixer::FixerCounters;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// What happened to the items of one sink. All counts since start.
#[derive(Debug, Default)]
pub struct SinkCounters {
    /// Items the sink stored.
    pub stored: AtomicU64,
    /// Items the sink already had (e.g. MongoDB duplicate key); never retried.
    pub duplicates: AtomicU64,
    /// Items that failed and went back to the queue.
    pub retried: AtomicU64,
    /// Items the sink refused for good; dropped.
    pub rejected: AtomicU64,
    /// Items dropped because the queue was full (with `reject`: items refused at the door).
    pub overflowed: AtomicU64,
    /// Batches sent.
    pub batches: AtomicU64,
    /// Batches that failed in whole or in part.
    pub failed_batches: AtomicU64,
    /// Whether the sink's `initialize` has succeeded (for `/ready`).
    pub initialized: AtomicBool,
    /// Whether the sink's last round failed (it is backing off).
    pub failing: AtomicBool,
    /// Seconds each `send_batch` took, successful or not.
    pub batch_seconds: BatchLatency,
    /// Seconds from receiving each item to its sink storing it (or reporting it a duplicate).
    pub item_seconds: ItemLatency,
    /// Extra counters a sink may report by name (e.g. a plugin's calls or traps); exported
    /// as `analytics_sink_extra_total{sink, name}`.
    pub extra: ExtraCounters,
    /// Why the sink gave up (it cannot work with its configuration), while it has.
    pub gave_up: Mutex<Option<String>>,
    /// The last error the sink reported (a batch's, or `initialize`'s), with its Unix time
    /// (for `/api/health`).
    pub last_error: Mutex<Option<(f64, String)>>,
    /// What the sink reports of its own state (notes and gauges), read when asked.
    pub state: SinkStateSource,
}

/// Bucket bounds (seconds) of [`BatchLatency`]: 1 ms to about 33 s, doubling.
pub const BATCH_SECONDS_BUCKETS: [f64; 16] = [
    0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096,
    8.192, 16.384, 32.768,
];

/// A histogram of batch durations (a Prometheus histogram, encoded at scrape time).
#[derive(Debug, Clone)]
pub struct BatchLatency(prometheus_client::metrics::histogram::Histogram);

impl Default for BatchLatency {
    fn default() -> Self {
        BatchLatency(prometheus_client::metrics::histogram::Histogram::new(
            BATCH_SECONDS_BUCKETS,
        ))
    }
}

impl BatchLatency {
    /// Records one batch that took `seconds`.
    pub fn observe(&self, seconds: f64) {
        self.0.observe(seconds);
    }

    /// The underlying histogram, for encoding.
    pub fn histogram(&self) -> &prometheus_client::metrics::histogram::Histogram {
        &self.0
    }
}

/// Bucket bounds (seconds) of [`ItemLatency`]: 0.5 ms to about 145 s, factor 1.5, so a
/// p99 read between 1 ms and 120 s is off by at most half a bucket.
pub fn item_seconds_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(0.0005, 1.5, 32)
}

/// A histogram of accept-to-stored latencies, one observation per stored item.
#[derive(Debug, Clone)]
pub struct ItemLatency(prometheus_client::metrics::histogram::Histogram);

impl Default for ItemLatency {
    fn default() -> Self {
        ItemLatency(prometheus_client::metrics::histogram::Histogram::new(
            item_seconds_buckets(),
        ))
    }
}

impl ItemLatency {
    /// Records one item stored `seconds` after it was received.
    pub fn observe(&self, seconds: f64) {
        self.0.observe(seconds);
    }

    /// The underlying histogram, for encoding.
    pub fn histogram(&self) -> &prometheus_client::metrics::histogram::Histogram {
        &self.0
    }
}

/// Reads a sink's own counters (name, value) at scrape time.
pub type ExtraCountersFn = std::sync::Arc<dyn Fn() -> Vec<(&'static str, u64)> + Send + Sync>;

/// Named counters a sink reports beyond the standard ones: added here, or read from the
/// sink's own source (see [`crate::sinks::Sink::extra_counters`]).
#[derive(Default)]
pub struct ExtraCounters {
    added: Mutex<BTreeMap<String, u64>>,
    source: Mutex<Option<ExtraCountersFn>>,
}

impl std::fmt::Debug for ExtraCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.snapshot()).finish()
    }
}

impl ExtraCounters {
    /// Reads the sink's own counters from `source` at every snapshot (replacing the source
    /// of the sink it replaces, on a configuration reload; `None`: the sink has none).
    pub fn set_source(&self, source: Option<ExtraCountersFn>) {
        *self.source.lock().unwrap_or_else(|e| e.into_inner()) = source;
    }

    /// Adds `n` to the counter `name`, creating it at zero first.
    pub fn add(&self, name: &str, n: u64) {
        let mut map = self.added.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry(name.to_string()).or_default() += n;
    }

    /// Every extra counter, by name.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        let mut map = self.added.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let source = self
            .source
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(source) = source {
            for (name, value) in source() {
                *map.entry(name.to_string()).or_default() += value;
            }
        }
        map
    }
}

/// A plain copy of [`SinkCounters`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SinkCounts {
    /// See [`SinkCounters::stored`].
    pub stored: u64,
    /// See [`SinkCounters::duplicates`].
    pub duplicates: u64,
    /// See [`SinkCounters::retried`].
    pub retried: u64,
    /// See [`SinkCounters::rejected`].
    pub rejected: u64,
    /// See [`SinkCounters::overflowed`].
    pub overflowed: u64,
    /// See [`SinkCounters::batches`].
    pub batches: u64,
    /// See [`SinkCounters::failed_batches`].
    pub failed_batches: u64,
}

impl SinkCounters {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// A snapshot of every counter.
    pub fn snapshot(&self) -> SinkCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SinkCounts {
            stored: get(&self.stored),
            duplicates: get(&self.duplicates),
            retried: get(&self.retried),
            rejected: get(&self.rejected),
            overflowed: get(&self.overflowed),
            batches: get(&self.batches),
            failed_batches: get(&self.failed_batches),
        }
    }
}

impl SinkCounters {
    /// Records that the sink gave up for `reason`, or (`None`) that it no longer has.
    pub fn set_gave_up(&self, reason: Option<String>) {
        *self.gave_up.lock().expect("sink counters lock") = reason;
    }

    /// Why the sink gave up, if it has.
    pub fn gave_up(&self) -> Option<String> {
        self.gave_up.lock().expect("sink counters lock").clone()
    }

    /// Records `error` as the last one the sink reported, now.
    pub fn set_last_error(&self, error: &str) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        *self.last_error.lock().expect("sink counters lock") = Some((now, error.to_string()));
    }

    /// The last error the sink reported and when (Unix seconds), if any.
    pub fn last_error(&self) -> Option<(f64, String)> {
        self.last_error.lock().expect("sink counters lock").clone()
    }
}

/// Configuration reloads (SIGHUP or `--watch-config`), for `/metrics`.
#[derive(Debug, Default)]
pub struct ReloadCounters {
    /// Reloads applied.
    pub ok: AtomicU64,
    /// Reloads refused (the new configuration was invalid or could not be applied); the
    /// host kept running the configuration it had.
    pub failed: AtomicU64,
    /// Unix time of the last reload applied (0: none yet).
    pub last_ok_unix: AtomicU64,
    /// The SHA-256 of the configuration text running now (hex, first 16 digits).
    pub config_hash: std::sync::Mutex<String>,
}

impl ReloadCounters {
    /// Counters for a host started with the configuration whose text hashes to `hash`.
    pub fn new(hash: String) -> Self {
        ReloadCounters {
            config_hash: std::sync::Mutex::new(hash),
            ..Default::default()
        }
    }

    /// The hash of the configuration running now.
    pub fn hash(&self) -> String {
        self.config_hash
            .lock()
            .expect("reload counters lock")
            .clone()
    }

    /// Records a reload applied, now running the configuration hashed `hash`.
    pub fn applied(&self, hash: String) {
        *self.config_hash.lock().expect("reload counters lock") = hash;
        self.ok.fetch_add(1, Ordering::Relaxed);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.last_ok_unix.store(now, Ordering::Relaxed);
    }

    /// Records a reload refused.
    pub fn refused(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Writes `analytics_config_reloads_total{result}`, `analytics_config_info{hash}` and
    /// `analytics_config_last_reload_success_timestamp_seconds`.
    pub fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::DescriptorEncoder,
    ) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeMetric;
        use prometheus_client::metrics::counter::ConstCounter;
        use prometheus_client::metrics::gauge::ConstGauge;
        use prometheus_client::metrics::MetricType;
        let mut reloads = encoder.encode_descriptor(
            "analytics_config_reloads",
            "Configuration reloads (SIGHUP or --watch-config), by result: ok (applied) or \
             failed (refused; the previous configuration keeps running).",
            None,
            MetricType::Counter,
        )?;
        for (result, n) in [("ok", &self.ok), ("failed", &self.failed)] {
            ConstCounter::new(n.load(Ordering::Relaxed))
                .encode(reloads.encode_family(&[("result", result)])?)?;
        }
        let mut info = encoder.encode_descriptor(
            "analytics_config_info",
            "1, labelled with the SHA-256 (first 16 hex digits) of the configuration running.",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(1i64).encode(info.encode_family(&[("hash", self.hash())])?)?;
        let last = self.last_ok_unix.load(Ordering::Relaxed);
        ConstGauge::new(last as i64).encode(encoder.encode_descriptor(
            "analytics_config_last_reload_success_timestamp_seconds",
            "Unix time of the last configuration reload applied (0: none since start).",
            None,
            MetricType::Gauge,
        )?)?;
        Ok(())
    }
}

/// A sink's own state, as it reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkState {
    /// One line each, for people: e.g. `indexes: 15/19, missing: events.openvidu_expire_at_1
    /// TTL (NotImplemented)`. Empty when there is nothing to say.
    pub notes: Vec<String>,
    /// Gauges by name (e.g. `indexes_missing`), exported as
    /// `analytics_sink_state{sink, name}`.
    pub gauges: Vec<(&'static str, i64)>,
}

/// Reads a sink's [`SinkState`] (a sink hands it out from its `state` method).
pub type SinkStateFn = std::sync::Arc<dyn Fn() -> SinkState + Send + Sync>;

/// Where a sink's [`SinkStateFn`] is kept: set by its worker, replaced with the sink on a
/// configuration reload.
#[derive(Default)]
pub struct SinkStateSource(Mutex<Option<SinkStateFn>>);

impl std::fmt::Debug for SinkStateSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.read().fmt(f)
    }
}

impl SinkStateSource {
    /// Reads the state from `source` from now on (`None`: the sink reports none).
    pub fn set(&self, source: Option<SinkStateFn>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = source;
    }

    /// The sink's state now (empty when it reports none).
    pub fn read(&self) -> SinkState {
        let source = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        source.map(|read| read()).unwrap_or_default()
    }
}
