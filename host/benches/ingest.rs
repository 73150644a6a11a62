//! Ingest benchmark (not a timed test): webhook requests/s with full verification over
//! loopback HTTP, gRPC events/s over loopback, and the latency from accept to stored in the
//! embedded file store at the configured interval.
//!
//! Run: `cargo bench -p livekit-analytics-host --bench ingest`
//! The host runs on its own one-thread runtime; the load generators on another.

// Each bench uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
#[path = "../tests/kit/mod.rs"]
mod kit;

use analytics_host::ingest::grpc::AnalyticsRecorderServiceClient;
use kit::grpc::events;
use kit::host::TestHost;
use kit::store::count;
use kit::webhook::{now, sign_with};
use kit::{KEY, SECRET};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Track-published webhook `i` and its token.
fn signed(i: usize) -> (Vec<u8>, String) {
    let body = serde_json::to_vec(&json!({
        "event": "track_published", "id": format!("EV_bench_{i}"), "createdAt": now().to_string(),
        "room": { "sid": "RM_bench", "name": "bench" },
        "participant": { "sid": format!("PA_{}", i % 50), "identity": "bob", "state": "ACTIVE" },
        "track": { "sid": format!("TR_{i}"), "type": "AUDIO", "source": "MICROPHONE" },
    }))
    .unwrap();
    let token = sign_with(&body, KEY, SECRET, now() - 10, now() + 600);
    (body, token)
}

fn main() {
    let interval = std::env::var("BENCH_INTERVAL").unwrap_or_else(|_| "1s".into());

    // The host: one runtime thread.
    let host_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let host = host_rt.block_on(TestHost::start_with(
        &interval,
        "    queue:\n      capacity: 10000000\n      max_bytes: 64GiB",
    ));
    let dir = host.dir.path();
    let webhook_url = host.webhook_url();
    let grpc_url = host.grpc_url();

    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut rows: Vec<(String, String)> = Vec::new();

    // 1. Webhooks/s: 16 keep-alive connections, pre-signed bodies.
    let requests = 20_000usize;
    let signed: Arc<Vec<(Vec<u8>, String)>> = Arc::new((0..requests).map(signed).collect());
    let webhook_rate = client_rt.block_on(async {
        let next = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (next, signed, url) = (next.clone(), signed.clone(), webhook_url.clone());
            tasks.push(tokio::spawn(async move {
                let client = reqwest::Client::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if i >= signed.len() {
                        break;
                    }
                    let (body, token) = &signed[i];
                    let status = client
                        .post(&url)
                        .header("authorization", token)
                        .header("content-type", "application/webhook+json")
                        .body(body.clone())
                        .send()
                        .await
                        .unwrap()
                        .status();
                    assert_eq!(status, 200);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        requests as f64 / start.elapsed().as_secs_f64()
    });
    rows.push((
        "webhook requests/s (verified, 16 connections)".into(),
        format!("{webhook_rate:.0}"),
    ));

    // 2. gRPC events/s: 4 concurrent streams of 250 messages x 100 events.
    let (streams, messages, per) = (4usize, 250usize, 100usize);
    let grpc_rate = client_rt.block_on(async {
        let start = Instant::now();
        let mut tasks = Vec::new();
        for s in 0..streams {
            let url = grpc_url.clone();
            tasks.push(tokio::spawn(async move {
                let mut client = AnalyticsRecorderServiceClient::connect(url).await.unwrap();
                let msgs: Vec<_> = (0..messages).map(|m| events(s, m, per)).collect();
                client
                    .ingest_events(futures::stream::iter(msgs))
                    .await
                    .unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        (streams * messages * per) as f64 / start.elapsed().as_secs_f64()
    });
    rows.push((
        "gRPC events/s (4 streams, 100 events/message)".into(),
        format!("{grpc_rate:.0}"),
    ));

    // 3. Accept → stored latency at the configured interval (drain the backlog first).
    let expected = requests + streams * messages * per;
    let drain = Instant::now();
    while count(dir, "events") < expected && drain.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(20));
    }
    rows.push((
        "backlog of all the above stored in (s)".into(),
        format!("{:.2}", drain.elapsed().as_secs_f64()),
    ));
    let mut latencies = Vec::new();
    client_rt.block_on(async {
        let client = reqwest::Client::new();
        for i in 0..5 {
            let before = count(dir, "events");
            let (body, token) = self::signed(1_000_000 + i);
            let start = Instant::now();
            let status = client
                .post(&webhook_url)
                .header("authorization", token)
                .body(body)
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 200);
            while count(dir, "events") <= before {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            latencies.push(start.elapsed().as_secs_f64() * 1000.0);
        }
    });
    let mean = latencies.iter().sum::<f64>() / latencies.len() as f64;
    let max = latencies.iter().cloned().fold(0.0, f64::max);
    rows.push((
        format!("accept → stored latency, interval {interval} (mean / max ms, 5 samples)"),
        format!("{mean:.0} / {max:.0}"),
    ));

    println!("\n| measure | value |\n| --- | --- |");
    for (k, v) in rows {
        println!("| {k} | {v} |");
    }
    host_rt.block_on(async {
        host.host.pipeline.close();
        host.doors.close().await;
        host.host.shutdown().await;
    });
}
