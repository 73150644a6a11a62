//! `analytics-host simulate`: behaves like a LiveKit node towards a running host.
//!
//! The stages, one per file: [`scenario`] generates the lifecycle of rooms, participants,
//! tracks and their stats; this module paces it at the offered rate and batches it into
//! requests; [`send`] signs and sends them through the webhook and gRPC doors; [`report`]
//! counts what was accepted and how many distinct documents the host should store.
//!
//! Usable in-process (tests, benches): build [`SimulateOptions`] and call [`run`].

mod batcher;
mod progress;
pub mod report;
pub mod scenario;
pub mod send;

pub use report::Summary;

use crate::ingest::grpc::node_rooms_id;
use crate::ingest::mapping::webhook_document_id;
use crate::model::{event_id, stat_id};
use batcher::Batcher;
use progress::Progress;
use report::Tally;
use scenario::{Scenario, Shape, Unit};
use send::{Job, Sender, Target};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Which doors carry the simulated traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DoorChoice {
    /// Signed webhooks only (lifecycle events that have a webhook; no stats).
    Webhook,
    /// gRPC only (every lifecycle event, stats and node-room snapshots).
    Grpc,
    /// Both, as a node with webhooks and the analytics stream configured: every event over
    /// gRPC, and a webhook beside each event type that has one.
    #[default]
    Both,
}

impl DoorChoice {
    fn webhook(self) -> bool {
        self != DoorChoice::Grpc
    }
    fn grpc(self) -> bool {
        self != DoorChoice::Webhook
    }
}

/// When the simulation stops generating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// After this long.
    Duration(Duration),
    /// After this many items (a webhook, or one event, stat or snapshot in a gRPC message).
    Items(u64),
}

/// What to simulate and where to send it.
#[derive(Debug, Clone)]
pub struct SimulateOptions {
    /// The host's webhook URL (`http://127.0.0.1:7890/webhook`).
    pub webhook_url: String,
    /// The host's gRPC URL (`http://127.0.0.1:7891`).
    pub grpc_url: String,
    /// Bearer token for gRPC calls (`openvidu.analytics.ingest.grpc.token`).
    pub grpc_token: Option<String>,
    /// API key that signs webhooks (one of the host's `keys:`).
    pub api_key: Option<String>,
    /// Secret of `api_key`.
    pub api_secret: Option<String>,
    /// Which doors to use.
    pub doors: DoorChoice,
    /// Rooms alive at the same time (finished rooms are replaced by new ones).
    pub rooms: usize,
    /// Participants per room.
    pub participants: usize,
    /// Tracks per participant (the first audio, the others video).
    pub tracks: usize,
    /// Offered rate in items/s over all doors; 0 = as fast as the host acknowledges.
    pub rate: f64,
    /// When to stop.
    pub limit: Limit,
    /// Events or stats per gRPC message at most (messages are also sent when a pacing tick
    /// ends, so low rates give small messages).
    pub batch: usize,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Node id written into every record.
    pub node_id: String,
    /// Seed of sids and values; `None`: from the clock. (Webhook ids come from it too: the
    /// same seed against the same store repeats webhook ids, which are then duplicates.)
    pub seed: Option<u64>,
    /// Draw a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
}

impl Default for SimulateOptions {
    fn default() -> Self {
        SimulateOptions {
            webhook_url: "http://127.0.0.1:7890/webhook".into(),
            grpc_url: "http://127.0.0.1:7891".into(),
            grpc_token: None,
            api_key: None,
            api_secret: None,
            doors: DoorChoice::Both,
            rooms: 10,
            participants: 3,
            tracks: 2,
            rate: 1000.0,
            limit: Limit::Duration(Duration::from_secs(10)),
            batch: 100,
            concurrency: 8,
            node_id: "ND_simulate".into(),
            seed: None,
            progress: false,
        }
    }
}

/// Longest backlog the pacer catches up on in a burst: beyond it the schedule slips (the
/// host is not keeping up, and the achieved rate says so).
const MAX_DEBT: Duration = Duration::from_millis(100);

/// Runs the simulation (see the module documentation) and returns what it did. Fails only
/// when it cannot start: no API key for the webhook door, or a door that cannot be reached
/// (the error names the URL); refusals and broken requests during the run are counted.
pub async fn run(options: SimulateOptions) -> anyhow::Result<Summary> {
    let doors = options.doors;
    let (api_key, api_secret) = match (&options.api_key, &options.api_secret) {
        (Some(k), Some(s)) if !k.is_empty() && !s.is_empty() => (k.clone(), s.clone()),
        _ if doors.webhook() => anyhow::bail!(
            "no API key to sign webhooks: pass --api-key and --api-secret (one of the host's \
             `keys:`), or --config with a `keys:` section, or --doors grpc"
        ),
        _ => (String::new(), String::new()),
    };
    let concurrency = options.concurrency.max(1);
    let batch = options.batch.max(1);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let target = Target {
        webhook_url: doors.webhook().then(|| options.webhook_url.clone()),
        api_key,
        api_secret,
        grpc_url: doors.grpc().then(|| options.grpc_url.clone()),
        grpc_token: options.grpc_token.clone(),
        grpc_connections: concurrency.min(4),
        http_connections: concurrency,
    };
    let sender = Arc::new(Sender::connect(target, tally.clone()).await?);
    let seed = options.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64
    });
    let mut scenario = Scenario::new(Shape {
        rooms: options.rooms,
        participants: options.participants,
        tracks: options.tracks,
        node_id: options.node_id.clone(),
        seed,
    });

    let (tx, rx) = mpsc::channel::<Job>(concurrency * 2);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let mut workers = Vec::new();
    for worker in 0..concurrency {
        let rx = rx.clone();
        let sender = sender.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let job = rx.lock().await.recv().await;
                match job {
                    Some(job) => sender.send(job, worker).await,
                    None => break,
                }
            }
        }));
    }

    let started = Instant::now();
    let emitted = Arc::new(AtomicU64::new(0));
    let progress = Progress::start(&options, emitted.clone(), tally.clone(), started);
    let mut batcher = Batcher::new(batch);
    let mut schedule = started;
    let mut count: u64 = 0;
    'outer: loop {
        let now = Instant::now();
        let remaining = match options.limit {
            Limit::Duration(d) if now.duration_since(started) >= d => break,
            Limit::Duration(_) => u64::MAX,
            Limit::Items(n) if count >= n => break,
            Limit::Items(n) => n - count,
        };
        let mut due = if options.rate > 0.0 {
            // Items due since the start of the schedule.
            let mut total = now.duration_since(schedule).as_secs_f64() * options.rate;
            if total - count as f64 > MAX_DEBT.as_secs_f64() * options.rate + batch as f64 {
                // Not keeping up: let the schedule slip instead of bursting later.
                schedule = now - Duration::from_secs_f64(count as f64 / options.rate);
                total = count as f64;
            }
            (total as u64).saturating_sub(count)
        } else {
            batch as u64
        };
        if due == 0 {
            let next = schedule + Duration::from_secs_f64((count + 1) as f64 / options.rate);
            tokio::time::sleep_until(next.max(now + Duration::from_millis(1)).into()).await;
            continue;
        }
        due = due.min(remaining);
        let mut left = remaining;
        while due > 0 && left > 0 {
            let added = batcher.add(scenario.next_unit(), doors, left);
            count += added;
            left -= added;
            due = due.saturating_sub(added);
            emitted.store(count, Ordering::Relaxed);
            for job in batcher.take_full() {
                if tx.send(job).await.is_err() {
                    break 'outer;
                }
            }
        }
        for job in batcher.take_all() {
            if tx.send(job).await.is_err() {
                break 'outer;
            }
        }
    }
    for job in batcher.take_all() {
        let _ = tx.send(job).await;
    }
    drop(tx);
    for worker in workers {
        let _ = worker.await;
    }
    let elapsed = started.elapsed();
    progress.finish();
    let tally = std::mem::take(&mut *tally.lock().expect("tally lock"));
    let mut summary = tally.summary(elapsed, options.rate);
    let counts = scenario.counts();
    summary.rooms = counts.rooms;
    summary.participants = counts.participants;
    summary.tracks = counts.tracks;
    Ok(summary)
}

#[cfg(test)]
mod tests;
