//! What a worker does after each batch besides counting: the item latencies, the spool's
//! settles, and the backoff after a failure.

use crate::settings::RetryConfig;
use crate::sinks::BatchReport;
use crate::spool::Spool;
use crate::telemetry::SinkCounters;
use std::sync::Arc;
use std::time::Duration;

/// Observes, for every item of `batch` the sink stored or reported as a duplicate, the time
/// since it was received. The report does not say which items were rejected for good, so
/// `rejected` of the settled items are left out (their latencies hardly differ).
pub(super) fn observe_item_latency(
    c: &SinkCounters,
    batch: &[crate::model::SharedItem],
    report: &BatchReport,
) {
    let now = std::time::Instant::now();
    let mut again = vec![false; batch.len()];
    for &i in &report.retry {
        if let Some(flag) = again.get_mut(i) {
            *flag = true;
        }
    }
    let settled = batch.iter().zip(again).filter(|(_, again)| !again);
    let stored = settled.clone().count().saturating_sub(report.rejected);
    for (item, _) in settled.take(stored) {
        c.item_seconds.observe(
            now.saturating_duration_since(item.received_at)
                .as_secs_f64(),
        );
    }
}

/// Tells the spool which items of `batch` the sink `sink` is done with: all but `retry`.
pub(super) async fn settle(
    spool: Arc<Spool>,
    sink: String,
    batch: &[crate::model::SharedItem],
    retry: &[usize],
) {
    let mut again = vec![false; batch.len()];
    for &i in retry {
        if let Some(flag) = again.get_mut(i) {
            *flag = true;
        }
    }
    let seqs: Vec<u64> = batch
        .iter()
        .zip(again)
        .filter(|(_, again)| !again)
        .filter_map(|(item, _)| item.spool_seq)
        .collect();
    if seqs.is_empty() {
        return;
    }
    let count = seqs.len();
    if let Err(e) = spool.settle_async(&sink, seqs).await {
        tracing::warn!(
            %sink, items = count, error = %format!("{e:#}"),
            "cannot mark items done in the spool; they will be sent again after a restart"
        );
    }
}

/// Exponential backoff with full jitter in [50%, 100%], capped by `max_backoff`.
pub fn backoff(retry: &RetryConfig, failures: u32) -> Duration {
    let exp = 2u32.saturating_pow(failures.saturating_sub(1).min(30));
    let base = retry
        .initial_backoff
        .saturating_mul(exp)
        .min(retry.max_backoff);
    base.mul_f64(0.5 + fastrand::f64() * 0.5)
}
