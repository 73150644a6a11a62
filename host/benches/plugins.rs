//! Plugin boundary benchmark (not a timed test). Prints a table:
//! `send-batch` cost per call and per item at 1 / 100 / 10,000 items for each available
//! plugin (a WAT no-op built here, and `plugins/dist/*.wasm` when built) against a native
//! Rust no-op sink in the same run; instantiate(+initialize) time; cold start with and
//! without the precompiled cache. With `LKA_BENCH_MONGO_URL` set, a MongoDB insert of the
//! same batches too.
//!
//!     cargo bench -p livekit-analytics-host --bench plugins

// Each bench uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
#[path = "../tests/kit/mod.rs"]
mod kit;

use analytics_host::config::PluginConfig;
use analytics_host::model::SharedItem;
use analytics_host::plugin::config::{DirGrant, PluginSettings};
use analytics_host::plugin::{Plugin, PluginEngine};
use analytics_host::sinks::plugin::PluginSink;
use analytics_host::sinks::{BatchReport, Sink, SinkError};
use async_trait::async_trait;
use kit::items::ts;
use kit::plugins::{dist, good_sink_quiet, http_server, plugin_config, write};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SIZES: [usize; 3] = [1, 100, 10_000];

struct NoopSink;

#[async_trait]
impl Sink for NoopSink {
    fn name(&self) -> &str {
        "native-noop"
    }
    async fn initialize(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    async fn send_batch(&mut self, batch: &[SharedItem]) -> BatchReport {
        std::hint::black_box(batch.len());
        BatchReport::stored()
    }
}

fn batch(n: usize) -> Vec<SharedItem> {
    let mut items = kit::items::events(n.div_ceil(2));
    items.extend(kit::items::stats(n / 2, 4.2));
    items.truncate(n);
    items.into_iter().map(Arc::new).collect()
}

/// A batch like [`batch`] whose ids are unique to `run` (and to this process).
fn unique_batch(n: usize, run: usize) -> Vec<SharedItem> {
    let tag = format!("RM_{}_{run}", std::process::id());
    let now = std::time::SystemTime::now();
    (0..n)
        .map(|i| {
            let event = livekit_protocol::AnalyticsEvent {
                r#type: livekit_protocol::AnalyticsEventType::ParticipantJoined as i32,
                timestamp: ts(1_700_000_000 + i as i64, 0),
                room: Some(livekit_protocol::Room {
                    sid: tag.clone(),
                    name: "bench-room".into(),
                    ..Default::default()
                }),
                participant_id: format!("PA_{i}"),
                node_id: "ND_1".into(),
                ..Default::default()
            };
            let item =
                analytics_host::model::Item::from_event(event, now, Duration::from_secs(3600));
            Arc::new(item)
        })
        .collect()
}

/// Mean time of one `send_batch` call over enough repetitions.
async fn time_sink(sink: &mut dyn Sink, batch: &[SharedItem]) -> Duration {
    let report = sink.send_batch(batch).await; // warm-up
    assert!(report.retry.is_empty(), "{}: {report:?}", sink.name());
    let reps = (20_000 / batch.len()).clamp(3, 2_000);
    let started = Instant::now();
    for _ in 0..reps {
        std::hint::black_box(sink.send_batch(batch).await);
    }
    started.elapsed() / reps as u32
}

fn fmt(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 10_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{us:.2} µs")
    }
}

struct Candidate {
    label: &'static str,
    config: PluginConfig,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let work = tempfile::tempdir().unwrap();
    let (port, _received) = http_server().await;
    let noop_wat = write(work.path(), "wat-noop", &good_sink_quiet());
    let mut candidates = vec![Candidate {
        label: "WAT no-op",
        config: plugin_config("wat", &noop_wat, Duration::from_secs(30), 1 << 30),
    }];
    let settings = |pairs: &[(&str, String)]| {
        PluginSettings(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    };
    // An example plugin of `plugins/dist/`, when it is built.
    let example =
        |file: &str, name: &str, label: &'static str, timeout: u64, pairs: &[(&str, String)]| {
            dist(file).map(|path| {
                let mut config = plugin_config(name, &path, Duration::from_secs(timeout), 1 << 30);
                config.config = settings(pairs);
                Candidate { label, config }
            })
        };
    let jsonl = example(
        "rust-jsonl",
        "jsonl",
        "Rust rust-jsonl (writes files)",
        30,
        &[("dir", "/data".into())],
    );
    if let Some(mut jsonl) = jsonl {
        std::fs::create_dir_all(work.path().join("jsonl")).unwrap();
        jsonl.config.grants.dirs.push(DirGrant {
            host: work.path().join("jsonl"),
            guest: "/data".into(),
            read_only: false,
        });
        candidates.push(jsonl);
    }
    candidates.extend(example(
        "c-count",
        "count",
        "C c-count",
        30,
        &[("every", "1000000".into())],
    ));
    candidates.extend(example(
        "python-quality",
        "quality",
        "Python python-quality",
        60,
        &[("threshold", "3.0".into())],
    ));
    let http = example(
        "js-http",
        "http",
        "JS js-http (POST to local server)",
        60,
        &[("url", format!("http://127.0.0.1:{port}/bulk"))],
    );
    if let Some(mut http) = http {
        http.config.grants.http.push(format!("127.0.0.1:{port}"));
        candidates.push(http);
    }

    let batches: Vec<Vec<SharedItem>> = SIZES.iter().map(|&n| batch(n)).collect();
    println!("\n## send-batch cost (mean per call; per item in parentheses)\n");
    println!("| sink | 1 item | 100 items | 10,000 items |");
    println!("|---|---|---|---|");
    let row = |label: &str, times: &[Duration]| {
        let cells: Vec<String> = times
            .iter()
            .zip(SIZES)
            .map(|(t, n)| format!("{} ({}/item)", fmt(*t), fmt(*t / n as u32)))
            .collect();
        println!("| {label} | {} |", cells.join(" | "));
    };
    let mut noop = NoopSink;
    let mut times = Vec::new();
    for b in &batches {
        times.push(time_sink(&mut noop, b).await);
    }
    row("native Rust no-op `Sink`", &times);
    // What the host itself spends turning items into the contract's records.
    let mut times = Vec::new();
    for b in &batches {
        let reps = (20_000 / b.len()).clamp(3, 2_000);
        let started = Instant::now();
        for _ in 0..reps {
            let jsons: Vec<String> = b.iter().map(|i| i.json()).collect();
            let records: Vec<_> = b
                .iter()
                .zip(&jsons)
                .map(|(i, json)| analytics_host::plugin::wit::current::event_record(i, json))
                .collect();
            std::hint::black_box(records);
        }
        times.push(started.elapsed() / reps as u32);
    }
    row("(host-side item → record conversion only)", &times);
    if let Ok(url) = std::env::var("LKA_BENCH_MONGO_URL") {
        let mut mongo = analytics_host::sinks::mongo::MongoSink::connect(&url, "lka_bench")
            .await
            .unwrap();
        mongo.initialize().await.unwrap();
        let mut times = Vec::new();
        for &n in &SIZES {
            // Fresh documents for every call: new inserts, not duplicates.
            let reps = (20_000 / n).clamp(3, 200);
            let fresh: Vec<Vec<SharedItem>> = (0..reps).map(|r| unique_batch(n, r)).collect();
            let started = Instant::now();
            for b in &fresh {
                let report = mongo.send_batch(b).await;
                assert!(report.retry.is_empty(), "{report:?}");
            }
            times.push(started.elapsed() / reps as u32);
        }
        row("MongoDB insert (same items, fresh ids)", &times);
    }

    let engine = PluginEngine::new(Some(work.path().join("cache"))).unwrap();
    let mut loaded = Vec::new();
    for candidate in &candidates {
        let mut sink = PluginSink::load(&engine, &candidate.config).unwrap();
        sink.initialize().await.unwrap();
        let mut times = Vec::new();
        for b in &batches {
            times.push(time_sink(&mut sink, b).await);
        }
        row(candidate.label, &times);
        loaded.push((candidate, sink));
    }

    println!("\n## instantiate + initialize-database (fresh instance from InstancePre)\n");
    println!("| plugin | mean |");
    println!("|---|---|");
    for (candidate, sink) in &mut loaded {
        let plugin: &mut Plugin = sink.plugin_mut();
        let reps = 20;
        let started = Instant::now();
        for _ in 0..reps {
            plugin.discard_instance();
            plugin.ensure_ready().await.unwrap();
        }
        println!(
            "| {} | {} |",
            candidate.label,
            fmt(started.elapsed() / reps)
        );
    }

    println!("\n## cold start: load (compile or read cache) + link + first instance\n");
    println!("| plugin | component size | no cache (compile) | precompiled cache hit |");
    println!("|---|---|---|---|");
    for candidate in &candidates {
        let size = std::fs::metadata(&candidate.config.path).unwrap().len();
        let cache = tempfile::tempdir().unwrap();
        let mut cold = Vec::new();
        for _ in 0..2 {
            let engine = PluginEngine::new(Some(cache.path().to_path_buf())).unwrap();
            let started = Instant::now();
            let mut plugin = Plugin::load(&engine, &candidate.config).unwrap();
            plugin.ensure_ready().await.unwrap();
            cold.push(started.elapsed());
        }
        println!(
            "| {} | {:.1} MB | {} | {} |",
            candidate.label,
            size as f64 / 1e6,
            fmt(cold[0]),
            fmt(cold[1])
        );
    }
}
