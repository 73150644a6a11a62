//! Each sink's recent throughput, for `/api/health` and the dashboard's health page: the
//! sinks' counts sampled every [`EVERY`], the last [`KEEP`] samples kept in memory, and a
//! last point from the sample before to the moment of the request.

use crate::telemetry::Observed;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often the counts are sampled.
pub const EVERY: Duration = Duration::from_secs(5);
/// How many samples are kept: ten minutes.
pub const KEEP: usize = 120;

/// One sample of one sink: its rates since the sample before.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Rate {
    /// The end of the interval, Unix seconds.
    pub t: f64,
    /// Items stored per second (duplicates included: the store has them).
    pub stored_per_second: f64,
    /// Items dropped (overflow or refused for good) per second.
    pub dropped_per_second: f64,
    /// Items queued at the sample.
    pub queued: usize,
}

#[derive(Debug, Default)]
struct Samples {
    /// Per sink: the counts at the last sample (stored, dropped).
    last: BTreeMap<String, (u64, u64)>,
    /// When the last sample was taken.
    last_at: Option<f64>,
    /// Per sink: the rates, oldest first.
    rates: BTreeMap<String, VecDeque<Rate>>,
}

/// The sampled history, shared with its sampling task (which ends when the last
/// [`History`] is dropped).
#[derive(Debug, Clone)]
pub struct History {
    samples: Arc<Mutex<Samples>>,
    observed: Observed,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// What a sink's rates count: (stored, duplicates included, as the store has them; dropped:
/// overflowed or refused for good).
fn totals(counts: &crate::telemetry::SinkCounts) -> (u64, u64) {
    (
        counts.stored + counts.duplicates,
        counts.overflowed + counts.rejected,
    )
}

/// The rate from `before` to `now`, `seconds` apart, ending at `t`.
fn rate(t: f64, seconds: f64, before: (u64, u64), now: (u64, u64), queued: usize) -> Rate {
    Rate {
        t,
        stored_per_second: now.0.saturating_sub(before.0) as f64 / seconds,
        dropped_per_second: now.1.saturating_sub(before.1) as f64 / seconds,
        queued,
    }
}

impl History {
    /// Starts sampling `observed` every [`EVERY`] (on the current Tokio runtime).
    pub fn sampling(observed: Observed) -> History {
        let history = History {
            samples: Arc::new(Mutex::new(Samples::default())),
            observed,
        };
        sample(&history.samples, &history.observed, now());
        let weak: Weak<Mutex<Samples>> = Arc::downgrade(&history.samples);
        let observed = history.observed.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(samples) = weak.upgrade() else {
                    return;
                };
                sample(&samples, &observed, now());
            }
        });
        history
    }

    /// The rates of the sink `name`, oldest first, the last one from the last sample to now.
    pub fn rates(&self, name: &str) -> Vec<Rate> {
        let t = now();
        let (mut rates, base) = {
            let samples = self.samples.lock().expect("history lock");
            let rates: Vec<Rate> = samples
                .rates
                .get(name)
                .map(|r| r.iter().copied().collect())
                .unwrap_or_default();
            (rates, samples.last_at.zip(samples.last.get(name).copied()))
        };
        let counts = self.observed.sinks().get(name).map(|c| c.snapshot());
        if let (Some((at, before)), Some(counts)) = (base, counts) {
            if t - at >= 0.5 {
                let queued = self
                    .observed
                    .readiness()
                    .sinks
                    .iter()
                    .find(|s| s.name == name)
                    .map_or(0, |s| s.queued);
                rates.push(rate(t, t - at, before, totals(&counts), queued));
            }
        }
        rates
    }
}

/// Takes one sample of `observed` at `t` into `samples`.
fn sample(samples: &Mutex<Samples>, observed: &Observed, t: f64) {
    let readiness = observed.readiness();
    let counters = observed.sinks();
    let mut samples = samples.lock().expect("history lock");
    let elapsed = samples.last_at.map(|at| t - at).filter(|s| *s > 0.0);
    let mut last = BTreeMap::new();
    for status in &readiness.sinks {
        let Some(counts) = counters.get(&status.name).map(|c| c.snapshot()) else {
            continue;
        };
        let now = totals(&counts);
        if let (Some(seconds), Some(before)) = (elapsed, samples.last.get(&status.name)) {
            let rate = rate(t, seconds, *before, now, status.queued);
            let rates = samples.rates.entry(status.name.clone()).or_default();
            rates.push_back(rate);
            while rates.len() > KEEP {
                rates.pop_front();
            }
        }
        last.insert(status.name.clone(), now);
    }
    // A sink removed by a reload leaves the history with its counts.
    samples.rates.retain(|name, _| last.contains_key(name));
    samples.last = last;
    samples.last_at = Some(t);
}
