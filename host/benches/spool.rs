//! Accept throughput with and without the on-disk spool: items are pre-built, the only sink
//! (the file store) does not send during the run, so this measures `Pipeline::accept` alone.
//!
//! Two tables: sequential `accept` calls of 1, 100 and 1000 items; then one-item
//! `accept_async` calls from 1, 16, 64 and 256 concurrent tasks (a webhook per event), with
//! the durable commits (fsyncs) the spool made per second.
//!
//! Run: `cargo bench --bench spool`. `BENCH_ITEMS` sets how many items per row (default 20000;
//! rows with one item per call use a tenth of it).

// Each bench uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
#[path = "../tests/kit/mod.rs"]
mod kit;

use analytics_host::app::Host;
use analytics_host::config::{AnalyticsConfig, FileStoreConfig, SpoolConfig, SpoolFullPolicy};
use analytics_host::model::Item;
use analytics_host::sinks::file::FileSink;
use analytics_host::spool::SpoolCounters;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A participant event, distinct per `n` (the tests' own builder).
fn item(n: usize) -> Item {
    kit::items::event(n as u32)
}

/// A host whose only sink (the file store in `dir`) does not send during the run.
fn host(dir: &std::path::Path, spool: bool) -> Host {
    let settings = AnalyticsConfig {
        interval: Duration::from_secs(3600),
        ..AnalyticsConfig::default()
    };
    let sink = FileSink::new(&FileStoreConfig {
        enabled: Some(true),
        dir: dir.join("store"),
        max_file_bytes: 1 << 30,
        ..FileStoreConfig::default()
    });
    if spool {
        let config = SpoolConfig {
            dir: dir.join("spool"),
            max_bytes: 1 << 34,
            full: SpoolFullPolicy::Reject,
        };
        Host::start_with_spool(vec![Box::new(sink)], &settings, &config).expect("spool")
    } else {
        Host::start(vec![Box::new(sink)], &settings)
    }
}

/// Durable commits the host's spool made so far.
fn commits(host: &Host) -> u64 {
    host.spool()
        .map_or(0, |s| SpoolCounters::get(&s.counters.durable_commits))
}

/// Items accepted per second, accepting `total` items `per_call` at a time.
async fn rate(total: usize, per_call: usize, spool: bool) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let host = host(dir.path(), spool);
    let mut items: Vec<Item> = (0..total).map(item).collect();
    let started = Instant::now();
    while !items.is_empty() {
        let call: Vec<Item> = items.drain(..per_call.min(items.len())).collect();
        host.pipeline.accept(call).expect("accepted");
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    drop(host);
    rate
}

/// One-item `accept_async` calls from `tasks` concurrent tasks, `total` items in all:
/// (items per second, durable commits per second).
async fn concurrent_rate(total: usize, tasks: usize, spool: bool) -> (f64, f64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let host = host(dir.path(), spool);
    let per_task = total / tasks;
    let mut work: Vec<Vec<Item>> = (0..tasks)
        .map(|t| (t * per_task..(t + 1) * per_task).map(item).collect())
        .collect();
    let pipeline = host.pipeline.clone();
    let before = commits(&host);
    let started = Instant::now();
    let running: Vec<_> = work
        .drain(..)
        .map(|items| {
            let pipeline: Arc<_> = pipeline.clone();
            tokio::spawn(async move {
                for item in items {
                    pipeline.accept_async(vec![item]).await.expect("accepted");
                }
            })
        })
        .collect();
    for task in running {
        task.await.expect("task");
    }
    let secs = started.elapsed().as_secs_f64();
    let made = commits(&host) - before;
    drop(host);
    ((tasks * per_task) as f64 / secs, made as f64 / secs)
}

fn main() {
    let total: usize = std::env::var("BENCH_ITEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    println!("| items per accept | items | memory only (items/s) | with spool (items/s) | spool / memory |");
    println!("|---:|---:|---:|---:|---:|");
    for per_call in [1, 100, 1000] {
        let n = if per_call == 1 { total / 10 } else { total };
        let (memory, spooled) = runtime.block_on(async {
            (
                rate(n, per_call, false).await,
                rate(n, per_call, true).await,
            )
        });
        println!(
            "| {per_call} | {n} | {memory:.0} | {spooled:.0} | {:.3} |",
            spooled / memory
        );
    }
    println!();
    println!("| concurrent one-item accepts | items | memory only (items/s) | with spool (items/s) | spool commits/s | items per commit |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for tasks in [1, 16, 64, 256] {
        let n = total / 10;
        let ((memory, _), (spooled, commits)) = runtime.block_on(async {
            (
                concurrent_rate(n, tasks, false).await,
                concurrent_rate(n, tasks, true).await,
            )
        });
        println!(
            "| {tasks} | {n} | {memory:.0} | {spooled:.0} | {commits:.0} | {:.1} |",
            spooled / commits.max(f64::MIN_POSITIVE)
        );
    }
}
