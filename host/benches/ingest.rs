//! Ingest benchmark (not a timed test): webhook requests/s with full verification over
//! loopback HTTP, gRPC events/s over loopback, and the latency from accept to stored in the
//! embedded file store at the configured interval.
//!
//! Run: `cargo bench -p livekit-analytics-host --bench ingest`
//! The host runs on its own one-thread runtime; the load generators on another.

use analytics_host::app::Host;
use analytics_host::config::{Config, ConfigSource};
use analytics_host::ingest::grpc::AnalyticsRecorderServiceClient;
use analytics_host::ingest::Doors;
use base64::Engine as _;
use livekit_protocol::{AnalyticsEvent, AnalyticsEventType, AnalyticsEvents, Room};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const KEY: &str = "benchkey";
const SECRET: &str = "a-bench-secret-that-is-long-enough-for-hs256";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn signed(i: usize) -> (Vec<u8>, String) {
    let body = serde_json::to_vec(&json!({
        "event": "track_published", "id": format!("EV_bench_{i}"), "createdAt": now().to_string(),
        "room": { "sid": "RM_bench", "name": "bench" },
        "participant": { "sid": format!("PA_{}", i % 50), "identity": "bob", "state": "ACTIVE" },
        "track": { "sid": format!("TR_{i}"), "type": "AUDIO", "source": "MICROPHONE" },
    }))
    .unwrap();
    let sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&body));
    let claims = json!({ "iss": KEY, "nbf": now() - 10, "exp": now() + 600, "sha256": sha });
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    (body, token)
}

fn events(stream: usize, message: usize, n: usize) -> AnalyticsEvents {
    AnalyticsEvents {
        events: (0..n)
            .map(|i| AnalyticsEvent {
                r#type: AnalyticsEventType::TrackPublished as i32,
                timestamp: Some(pbjson_types::Timestamp {
                    seconds: 1_764_280_000 + message as i64,
                    nanos: (stream * 10_000 + i + 1) as i32,
                }),
                room: Some(Room {
                    sid: "RM_g".into(),
                    name: "bench".into(),
                    ..Default::default()
                }),
                participant_id: "PA_1".into(),
                track_id: format!("TR_{i}"),
                ..Default::default()
            })
            .collect(),
    }
}

fn count_lines(dir: &std::path::Path, prefix: &str) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                .map(|e| {
                    std::fs::read(e.path())
                        .map(|b| b.iter().filter(|c| **c == b'\n').count())
                        .unwrap_or(0)
                })
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let interval = std::env::var("BENCH_INTERVAL").unwrap_or_else(|_| "1s".into());
    let yaml = format!(
        "keys:\n  {KEY}: {SECRET}\nopenvidu:\n  analytics:\n    interval: {interval}\n    file:\n      enabled: true\n      dir: {}\n    queue:\n      capacity: 10000000\n    ingest:\n      webhook:\n        listen: \"127.0.0.1:0\"\n      grpc:\n        listen: \"127.0.0.1:0\"\n",
        dir.path().display()
    );
    let config = Config::parse(&yaml, ConfigSource::Inline("bench".into())).unwrap();

    // The host: one runtime thread.
    let host_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (host, doors) = host_rt.block_on(async {
        let sinks = analytics_host::app::sinks_from_config(&config)
            .await
            .unwrap();
        let host = Host::start(sinks, &config.analytics);
        let doors = Doors::start(&config, host.pipeline.clone()).await.unwrap();
        (host, doors)
    });
    let webhook_url = format!("http://{}/webhook", doors.webhook_addr.unwrap());
    let grpc_url = format!("http://{}", doors.grpc_addr.unwrap());

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
    while count_lines(dir.path(), "events-") < expected
        && drain.elapsed() < Duration::from_secs(120)
    {
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
            let before = count_lines(dir.path(), "events-");
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
            while count_lines(dir.path(), "events-") <= before {
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
        host.pipeline.close();
        doors.close().await;
        host.shutdown().await;
    });
}
