//! The active-entities fixer's counters (`fixer/`), read by `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

/// What the active-entities fixer did since the host started (`fixer/`), for `/metrics`.
#[derive(Debug, Default)]
pub struct FixerCounters {
    /// Runs completed.
    pub runs: AtomicU64,
    /// Synthetic end events written.
    pub synthetic_events: AtomicU64,
    /// Entities removed from `active_entities` by the fixer.
    pub removed: AtomicU64,
    /// Prepared end events dropped because the real end event arrived.
    pub superseded: AtomicU64,
    /// LiveKit API calls that failed (that kind was not fixed that period).
    pub livekit_failures: AtomicU64,
    /// Periods skipped because another node held the lock (or Redis failed).
    pub lock_skips: AtomicU64,
    /// Synthetic end events given to the other sinks (through the pipeline).
    pub forwarded: AtomicU64,
}

/// The fixer's metrics: name and help of each, in [`FixerCounters::values`]' order.
const FIXER_METRICS: [(&str, &str); 7] = [
    (
        "analytics_fixer_runs",
        "Active-entities fixer runs completed.",
    ),
    (
        "analytics_fixer_synthetic_events",
        "Synthetic end events the fixer wrote.",
    ),
    (
        "analytics_fixer_removed",
        "Entities the fixer removed from active_entities.",
    ),
    (
        "analytics_fixer_superseded",
        "Prepared end events dropped: the real one arrived.",
    ),
    (
        "analytics_fixer_livekit_failures",
        "LiveKit API calls failed (kind not fixed).",
    ),
    (
        "analytics_fixer_lock_skips",
        "Periods skipped: lock held elsewhere, or Redis failed.",
    ),
    (
        "analytics_fixer_forwarded",
        "Synthetic end events given to the sinks other than MongoDB.",
    ),
];

impl FixerCounters {
    /// Each counter now.
    pub fn values(&self) -> [u64; 7] {
        [
            &self.runs,
            &self.synthetic_events,
            &self.removed,
            &self.superseded,
        ]
        .into_iter()
        .chain([&self.livekit_failures, &self.lock_skips, &self.forwarded])
        .map(|n| n.load(Ordering::Relaxed))
        .collect::<Vec<_>>()
        .try_into()
        .expect("seven counters")
    }

    /// Writes `analytics_fixer_<name>_total` for each counter.
    pub fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::DescriptorEncoder,
    ) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeMetric;
        use prometheus_client::metrics::{counter::ConstCounter, MetricType};
        for ((name, help), n) in FIXER_METRICS.into_iter().zip(self.values()) {
            let counter = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            ConstCounter::new(n).encode(counter)?;
        }
        Ok(())
    }
}
