//! The fixer running on its own: every period, under the Redis lock when there is one, until
//! stopped.

use super::lock::FixerLock;
use super::Fixer;
use crate::config::Config;
use crate::pipeline::Pipeline;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::FixerCounters;

impl Fixer {
    /// Runs every `period` until stopped, under the Redis lock when `lock` is given.
    pub fn spawn(self, period: Duration, lock: Option<FixerLock>) -> FixerTask {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run_loop(self, period, lock, stopped));
        FixerTask { stop, task }
    }
}

/// Sleeps `period`; `false` when stopped meanwhile.
async fn sleep_or_stop(period: Duration, stopped: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(period) => !*stopped.borrow(),
        _ = stopped.changed() => false,
    }
}

async fn run_loop(
    mut fixer: Fixer,
    period: Duration,
    mut lock: Option<FixerLock>,
    mut stopped: watch::Receiver<bool>,
) {
    // The fork's timings: the lock outlives the period by 5 s, and a node that did not get
    // it tries again every half period.
    let ttl = period + Duration::from_secs(5);
    let retry = period / 2;
    loop {
        if let Some(lock) = &mut lock {
            match lock.try_take(ttl).await {
                Ok(true) => {}
                Ok(false) => {
                    fixer.counters.lock_skips.fetch_add(1, Ordering::Relaxed);
                    if !sleep_or_stop(retry, &mut stopped).await {
                        return;
                    }
                    continue;
                }
                Err(err) => {
                    tracing::warn!(error = %format!("{err:#}"), "active-entities fixer: cannot take the Redis lock; not fixing this period");
                    fixer.counters.lock_skips.fetch_add(1, Ordering::Relaxed);
                    if !sleep_or_stop(retry, &mut stopped).await {
                        return;
                    }
                    continue;
                }
            }
        }
        let go_on = sleep_or_stop(period, &mut stopped).await;
        // The run itself under the fork's database lock, as the fork's nodes run theirs
        // (and write their batches): given up after half a period, as a lost period lock.
        let db_locked = match (&mut lock, go_on) {
            (Some(lock), true) => match lock.take_db_operations(retry).await {
                Ok(taken) => taken,
                Err(err) => {
                    tracing::warn!(error = %format!("{err:#}"), "active-entities fixer: cannot take the Redis database lock; not fixing this period");
                    false
                }
            },
            _ => true,
        };
        if go_on && !db_locked {
            fixer.counters.lock_skips.fetch_add(1, Ordering::Relaxed);
        }
        if go_on && db_locked {
            match fixer.run_once().await {
                Ok(report) => tracing::info!(?report, "active-entities fixer ran"),
                Err(err) => {
                    tracing::warn!(error = %format!("{err:#}"), "active-entities fixer: run failed")
                }
            }
        }
        if let Some(lock) = &mut lock {
            if let Err(err) = lock.release_db_operations().await {
                tracing::warn!(error = %format!("{err:#}"), "active-entities fixer: releasing the Redis database lock");
            }
            if let Err(err) = lock.release().await {
                tracing::warn!(error = %format!("{err:#}"), "active-entities fixer: releasing the Redis lock");
            }
        }
        if !go_on {
            return;
        }
    }
}

/// A running fixer.
pub struct FixerTask {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl FixerTask {
    /// Starts the fixer `config` asks for, counting into `counters`, giving its synthetic
    /// events to the sinks of `pipeline` after MongoDB: with `mongo_url`, every
    /// `fixer_period()`, under the Redis lock when LiveKit's `redis` is set; without it, of
    /// the embedded store's active set (no lock: that store is this host's alone). `None`
    /// when there is nothing to fix.
    pub async fn start(
        config: &Config,
        counters: Arc<FixerCounters>,
        pipeline: Arc<Pipeline>,
    ) -> anyhow::Result<Option<FixerTask>> {
        if !config.analytics.enabled {
            return Ok(None);
        }
        let Some(fixer) = Fixer::from_config(config).await? else {
            return Ok(None);
        };
        // The lock is for a database several hosts share; the embedded store is this host's.
        let lock = match &config.redis {
            Some(redis) if fixer.is_mongo() => match FixerLock::new(redis) {
                Ok(lock) => Some(lock),
                Err(err) => {
                    tracing::warn!(error = %format!("{err:#}"), "active-entities fixer runs without the Redis lock: run one such host per deployment");
                    None
                }
            },
            _ => None,
        };
        let fixer = fixer.with_counters(counters).with_pipeline(pipeline);
        let period = config.analytics.fixer_period();
        tracing::info!(
            ?period,
            url = fixer.api.url(),
            locked = lock.is_some(),
            "active-entities fixer started"
        );
        Ok(Some(fixer.spawn(period, lock)))
    }

    /// Stops it (a run in progress finishes first).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
