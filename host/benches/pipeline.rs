//! Whole-pipeline throughput into a real MongoDB wire-protocol server, against the raw
//! driver's `insert_many` of the same documents in the same run (the conversion cost per
//! item is `benches/conversion.rs`).
//!
//! Run: `cargo bench --bench pipeline` (after `scripts/install-test-deps.sh`).
//! `BENCH_ITEMS` sets how many documents (default 20000).

// Each bench uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
#[path = "../tests/kit/mod.rs"]
mod kit;

use analytics_host::app::Host;
use analytics_host::config::AnalyticsConfig;
use analytics_host::model::Item;
use analytics_host::sinks::mongo::{to_bson, MongoSink};
use analytics_host::sinks::Sink;
use bson::Document;
use kit::items::{typical_event, typical_stat};
use std::time::{Duration, Instant, SystemTime};

const BATCH: usize = 1000;

/// Item `i`: an event when `i` is even, a stat when odd.
fn item(i: usize, now: SystemTime, exp: Duration) -> Item {
    if i.is_multiple_of(2) {
        Item::from_event(typical_event(i), now, exp)
    } else {
        Item::from_stat(typical_stat(i), now, exp)
    }
}

fn items(n: usize) -> Vec<Item> {
    let now = SystemTime::now();
    let exp = Duration::from_secs(3600);
    (0..n).map(|i| item(i, now, exp)).collect()
}

async fn raw_insert(url: &str, docs: &[(usize, Document)]) -> Duration {
    let mut sink = MongoSink::connect(url, "bench_raw").await.unwrap();
    sink.initialize().await.unwrap(); // same indexes as the pipeline's collections
    let db = sink.database().clone();
    let start = Instant::now();
    for kind_docs in [0, 1] {
        let name = if kind_docs == 0 { "events" } else { "stats" };
        let mine: Vec<Document> = docs
            .iter()
            .filter(|(k, _)| *k == kind_docs)
            .map(|(_, d)| d.clone())
            .collect();
        for chunk in mine.chunks(BATCH) {
            db.collection::<Document>(name)
                .insert_many(chunk.to_vec())
                .ordered(false)
                .await
                .unwrap();
        }
    }
    start.elapsed()
}

async fn pipeline(url: &str, n: usize) -> Duration {
    let mut sink = MongoSink::connect(url, "bench_pipeline").await.unwrap();
    sink.initialize().await.unwrap();
    let settings = AnalyticsConfig {
        interval: Duration::from_millis(20),
        batch_size: BATCH,
        ..AnalyticsConfig::default()
    };
    let host = Host::start(vec![Box::new(sink)], &settings);
    let counters = host.counters()["mongo"].clone();
    let start = Instant::now();
    // The whole path: protocol message → item (id, document) → queues → MongoDB.
    let now = SystemTime::now();
    let exp = Duration::from_secs(3600);
    for chunk_start in (0..n).step_by(BATCH) {
        let chunk: Vec<Item> = (chunk_start..(chunk_start + BATCH).min(n))
            .map(|i| item(i, now, exp))
            .collect();
        host.pipeline.accept(chunk).unwrap();
    }
    while counters.snapshot().stored < n as u64 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let took = start.elapsed();
    host.shutdown().await;
    took
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("BENCH_ITEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let prepared = items(n);
    let docs: Vec<(usize, Document)> = prepared
        .iter()
        .map(|i| (i.kind.index(), to_bson(i)))
        .collect();

    let server = kit::servers::mongo::MongoServer::start();
    let url = server.url();
    // Warm up the server and the connection pool.
    let _ = raw_insert(&url, &docs[..BATCH.min(n)]).await;
    let mut rows = Vec::new();
    for round in 1..=2 {
        let raw = {
            let dbs = MongoSink::connect(&url, "bench_raw").await.unwrap();
            dbs.database().drop().await.unwrap();
            raw_insert(&url, &docs).await
        };
        let piped = {
            let dbs = MongoSink::connect(&url, "bench_pipeline").await.unwrap();
            dbs.database().drop().await.unwrap();
            pipeline(&url, n).await
        };
        rows.push((round, raw, piped));
    }
    println!("\nPipeline into a MongoDB wire-protocol server ({n} documents, half events, half stats, batches of {BATCH})\n");
    println!("| round | raw insert_many docs/s | pipeline docs/s | pipeline / raw |");
    println!("|---|---|---|---|");
    for (round, raw, piped) in &rows {
        let raw_rate = n as f64 / raw.as_secs_f64();
        let pipe_rate = n as f64 / piped.as_secs_f64();
        println!(
            "| {round} | {raw_rate:.0} | {pipe_rate:.0} | {:.1}% |",
            100.0 * pipe_rate / raw_rate
        );
    }
}
