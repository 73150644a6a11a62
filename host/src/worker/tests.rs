//! Unit tests of the worker: batches, partial batches, backoff.

use super::*;
use crate::config::OverflowPolicy;
use crate::model::{ItemKind, SharedItem};
use crate::sinks::SinkError;
use std::sync::Mutex;

/// Stores everything, except that its first batch asks to retry the item at position 0.
struct RetriesFirstItemOnce {
    calls: Arc<Mutex<Vec<Vec<String>>>>,
}

#[async_trait::async_trait]
impl Sink for RetriesFirstItemOnce {
    fn name(&self) -> &str {
        "partly"
    }
    async fn initialize(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    async fn send_batch(&mut self, batch: &[SharedItem]) -> BatchReport {
        let mut calls = self.calls.lock().unwrap();
        calls.push(batch.iter().map(|i| i.id.clone()).collect());
        if calls.len() == 1 {
            BatchReport {
                retry: vec![0],
                error: Some("try later".into()),
                ..BatchReport::default()
            }
        } else {
            BatchReport::stored()
        }
    }
}

#[tokio::test]
async fn a_partly_stored_batch_is_not_a_failure() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let counters = Arc::new(SinkCounters::default());
    let queue = Arc::new(SinkQueue::new(
        "partly",
        100,
        OverflowPolicy::DropOldest,
        counters.clone(),
    ));
    for n in 0..3 {
        queue.push(Arc::new(crate::model::Item::new(
            ItemKind::Event,
            format!("e{n}"),
            Default::default(),
            std::time::SystemTime::now(),
        )));
    }
    let settings = WorkerSettings {
        interval: Duration::from_millis(20),
        batch_size: 100,
        send_timeout: Duration::from_secs(5),
        retry: RetryConfig {
            initial_backoff: Duration::from_secs(3600),
            max_backoff: Duration::from_secs(3600),
        },
        shutdown_timeout: Duration::from_secs(5),
    };
    let sink = RetriesFirstItemOnce {
        calls: calls.clone(),
    };
    let (stop, task) = run(sink, &queue, &counters, settings);
    // With a backoff of an hour, the retried item is stored only if the partial batch
    // did not count as a failure.
    let deadline = Instant::now() + Duration::from_secs(10);
    while counters.snapshot().stored < 3 {
        assert!(Instant::now() < deadline, "{:?}", counters.snapshot());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!counters.failing.load(Ordering::Relaxed));
    let _ = stop.send(true);
    task.await.unwrap();
    let counts = counters.snapshot();
    assert_eq!((counts.retried, counts.failed_batches), (1, 0));
    let calls = calls.lock().unwrap();
    assert_eq!(calls[0], ["e0", "e1", "e2"]);
    assert_eq!(calls[1], ["e0"], "sent again in a later round, alone");
}

/// Stores everything; while sending its first `refills` calls, `per_refill` new events
/// arrive in its queue. Takes `per_call` batches per call.
struct ArrivalsWhileSending {
    queue: Arc<SinkQueue>,
    refills: usize,
    per_refill: usize,
    per_call: usize,
    calls: Arc<Mutex<Vec<usize>>>,
}

#[async_trait::async_trait]
impl Sink for ArrivalsWhileSending {
    fn name(&self) -> &str {
        "arrivals"
    }
    fn batches_per_call(&self) -> usize {
        self.per_call
    }
    async fn initialize(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    async fn send_batch(&mut self, batch: &[SharedItem]) -> BatchReport {
        let mut calls = self.calls.lock().unwrap();
        calls.push(batch.len());
        if calls.len() <= self.refills {
            for n in 0..self.per_refill {
                self.queue.push(event(&format!("c{}-{n}", calls.len())));
            }
        }
        BatchReport::stored()
    }
}

/// Runs a worker for `sink` whose first tick comes at once and the next one only after any
/// test's deadline (an hour), sending up to `batch_size` items per kind per batch.
fn run_hourly(
    sink: impl Sink + 'static,
    queue: &Arc<SinkQueue>,
    counters: &Arc<SinkCounters>,
    batch_size: usize,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<WorkerSummary>) {
    let settings = WorkerSettings {
        interval: Duration::from_secs(3600),
        batch_size,
        send_timeout: Duration::from_secs(5),
        retry: RetryConfig::default(),
        shutdown_timeout: Duration::from_secs(5),
    };
    run(sink, queue, counters, settings)
}

/// Runs a worker for `sink` with `settings`; stop it through the sender.
fn run(
    sink: impl Sink + 'static,
    queue: &Arc<SinkQueue>,
    counters: &Arc<SinkCounters>,
    settings: WorkerSettings,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<WorkerSummary>) {
    let worker = Worker::new(
        Box::new(sink),
        queue.clone(),
        counters.clone(),
        settings,
        Arc::new(Notify::new()),
    );
    let (stop, stop_rx) = watch::channel(false);
    (stop, tokio::spawn(worker.run(stop_rx)))
}

fn event(id: &str) -> SharedItem {
    Arc::new(crate::model::Item::new(
        ItemKind::Event,
        id.into(),
        Default::default(),
        std::time::SystemTime::now(),
    ))
}

#[tokio::test]
async fn a_full_call_waiting_after_a_round_goes_out_without_waiting_for_the_tick() {
    let counters = Arc::new(SinkCounters::default());
    let queue = Arc::new(SinkQueue::new(
        "arrivals",
        1000,
        OverflowPolicy::DropOldest,
        counters.clone(),
    ));
    for n in 0..50 {
        queue.push(event(&format!("e{n}")));
    }
    let calls = Arc::new(Mutex::new(Vec::new()));
    let sink = ArrivalsWhileSending {
        queue: queue.clone(),
        refills: 3,
        per_refill: 30,
        per_call: 3,
        calls: calls.clone(),
    };
    let (stop, task) = run_hourly(sink, &queue, &counters, 10);
    let deadline = Instant::now() + Duration::from_secs(10);
    // 50 + 3 × 30 arrive; rounds go on while a full call (3 × 10) is waiting: 4 calls of
    // 30, then the last 20 wait for the next tick.
    while counters.snapshot().stored < 120 {
        assert!(Instant::now() < deadline, "{:?}", counters.snapshot());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!((counters.snapshot().stored, queue.len()), (120, 20));
    let _ = stop.send(true);
    task.await.unwrap();
    let calls = calls.lock().unwrap();
    assert_eq!(
        calls[..4],
        [30, 30, 30, 30],
        "batch_size × batches_per_call items per call"
    );
}

#[tokio::test]
async fn a_half_full_queue_goes_out_without_waiting_for_the_tick() {
    let counters = Arc::new(SinkCounters::default());
    let queue = Arc::new(SinkQueue::new(
        "arrivals",
        100,
        OverflowPolicy::DropOldest,
        counters.clone(),
    ));
    let calls = Arc::new(Mutex::new(Vec::new()));
    let sink = ArrivalsWhileSending {
        queue: queue.clone(),
        refills: 0,
        per_refill: 0,
        per_call: 1,
        calls: calls.clone(),
    };
    // The first tick comes at once (nothing queued yet).
    let (stop, task) = run_hourly(sink, &queue, &counters, 1000);
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Below half the capacity: waits for the tick.
    for n in 0..49 {
        queue.push(event(&format!("a{n}")));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!((counters.snapshot().stored, queue.len()), (0, 49));
    // Half full: sent now; twice over, so the wake-up is asked again after each round.
    for round in 1..=2u64 {
        for n in 0..queue.flush_at() - queue.len() {
            queue.push(event(&format!("b{round}-{n}")));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while counters.snapshot().stored < 50 * round {
            assert!(Instant::now() < deadline, "{:?}", counters.snapshot());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    assert_eq!(counters.snapshot().overflowed, 0);
    let _ = stop.send(true);
    task.await.unwrap();
    assert_eq!(calls.lock().unwrap()[..], [50, 50]);
}

#[test]
fn backoff_grows_and_is_capped() {
    let retry = RetryConfig {
        initial_backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(8),
    };
    for (failures, max) in [(1, 1), (2, 2), (3, 4), (4, 8), (10, 8), (100, 8)] {
        let wait = backoff(&retry, failures);
        assert!(wait <= Duration::from_secs(max), "{failures}: {wait:?}");
        assert!(wait >= Duration::from_secs(max) / 2, "{failures}: {wait:?}");
    }
}
