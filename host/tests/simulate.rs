//! `analytics-host simulate` against real hosts: in-process through the library API, and
//! the real binary against a real `analytics-host run`; stored documents must equal the
//! summary's `expected_documents` exactly.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::simulate::{self, DoorChoice, Limit, SimulateOptions, Summary};
use kit::host::TestHost;
use kit::ports::free_port;
use kit::process::{bin, run_ok, HostProcess};
use kit::store::{count, read_store};
use kit::{KEY, SECRET};
use serde_json::Value;
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

const COLLECTIONS: [&str; 3] = ["events", "stats", "node_rooms"];

/// Waits until the store at `dir` holds what `summary` expects (or 15 s pass), then checks
/// that it holds exactly that, with every `_id` distinct.
async fn assert_stored_exactly(dir: &Path, summary: &Summary) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let done = COLLECTIONS.iter().all(|c| {
            count(dir, c) as u64 >= summary.expected_documents.get(*c).copied().unwrap_or(0)
        });
        if done || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // One more interval: nothing beyond the expected may arrive.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for collection in COLLECTIONS {
        let docs: Vec<Value> = read_store(dir, collection);
        let ids: HashSet<&str> = docs.iter().filter_map(|d| d["_id"].as_str()).collect();
        assert_eq!(ids.len(), docs.len(), "{collection}: duplicate _ids");
        assert_eq!(
            docs.len() as u64,
            summary
                .expected_documents
                .get(collection)
                .copied()
                .unwrap_or(0),
            "{collection}: stored vs expected\n{}",
            summary.table()
        );
    }
}

/// The share of gRPC events that went with a webhook, in a run at `rate` items/s (0: as
/// fast as possible) of `limit`.
async fn webhook_share(host: &TestHost, rate: f64, limit: Limit) -> f64 {
    let summary = simulate::run(SimulateOptions {
        webhook_url: host.webhook_url(),
        grpc_url: host.grpc_url(),
        api_key: Some(KEY.into()),
        api_secret: Some(SECRET.into()),
        doors: DoorChoice::Both,
        rate,
        limit,
        seed: Some(11),
        ..Default::default()
    })
    .await
    .expect("simulation runs");
    let webhooks = summary.doors["webhook"].kinds["event"].sent as f64;
    let events = summary.doors["grpc"].kinds["event"].sent as f64;
    assert!(events > 0.0, "{}", summary.table());
    webhooks / events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_doors_at_a_low_rate_send_every_webhook() {
    // At 200 items/s a tick has room for one item: the webhook beside an event used to be
    // dropped then (0-5 of ~100 sent). The share must match an unpaced run of the same seed.
    let host = TestHost::start().await;
    let paced = webhook_share(&host, 200.0, Limit::Duration(Duration::from_secs(2))).await;
    let unpaced = webhook_share(&host, 0.0, Limit::Items(2000)).await;
    assert!(unpaced > 0.2, "{unpaced}");
    assert!(
        paced >= 0.8 * unpaced,
        "webhooks per gRPC event: {paced:.2} at 200/s vs {unpaced:.2} unpaced"
    );
    host.doors.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_simulation_over_both_doors_is_stored_exactly() {
    let host = TestHost::start().await;
    let summary = simulate::run(SimulateOptions {
        webhook_url: host.webhook_url(),
        grpc_url: host.grpc_url(),
        api_key: Some(KEY.into()),
        api_secret: Some(SECRET.into()),
        doors: DoorChoice::Both,
        rooms: 4,
        participants: 3,
        tracks: 2,
        rate: 5000.0,
        limit: Limit::Items(4000),
        batch: 50,
        concurrency: 8,
        seed: Some(42),
        ..Default::default()
    })
    .await
    .expect("simulation runs");
    assert_eq!(summary.sent(), 4000, "{}", summary.table());
    assert_eq!(summary.accepted(), 4000, "{}", summary.table());
    assert_eq!(summary.refused() + summary.transport_errors(), 0);
    let webhook = &summary.doors["webhook"].kinds["event"];
    let grpc = &summary.doors["grpc"];
    assert!(webhook.accepted > 0);
    for kind in ["event", "stat", "node_rooms"] {
        assert!(grpc.kinds[kind].accepted > 0, "{kind}: {}", summary.table());
    }
    // Every accepted item has its own id.
    assert_eq!(
        summary.expected_documents.values().sum::<u64>(),
        4000,
        "{}",
        summary.table()
    );
    assert!(summary.rooms > 4 && summary.participants > 12 && summary.tracks > 24);
    assert!(summary.doors["grpc"].latency.requests > 0);
    assert_stored_exactly(host.dir.path(), &summary).await;
    // Every event type the lifecycle goes through is stored, webhook-mapped ones included.
    let types: HashSet<String> = read_store(host.dir.path(), "events")
        .iter()
        .filter_map(|d| d["type"].as_str().map(str::to_string))
        .collect();
    for t in [
        "ROOM_CREATED",
        "PARTICIPANT_JOINED",
        "PARTICIPANT_ACTIVE",
        "TRACK_PUBLISHED",
        "TRACK_UNPUBLISHED",
        "PARTICIPANT_LEFT",
        "ROOM_ENDED",
    ] {
        assert!(types.contains(t), "{t} missing: {types:?}");
    }
    host.doors.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secret_and_token_are_counted_as_refusals() {
    let host = TestHost::start_full("50ms", "", "        token: s3cret").await;
    let summary = simulate::run(SimulateOptions {
        webhook_url: host.webhook_url(),
        grpc_url: host.grpc_url(),
        api_key: Some(KEY.into()),
        api_secret: Some("not-the-secret-but-long-enough-for-hs256".into()),
        grpc_token: Some("wrong".into()),
        rate: 0.0,
        limit: Limit::Items(300),
        seed: Some(1),
        ..Default::default()
    })
    .await
    .expect("simulation runs");
    assert_eq!(summary.accepted(), 0, "{}", summary.table());
    assert_eq!(summary.sent(), 300);
    let webhook = &summary.doors["webhook"].kinds["event"];
    assert_eq!(webhook.refused.get("401"), Some(&webhook.sent));
    let grpc_events = &summary.doors["grpc"].kinds["event"];
    assert_eq!(
        grpc_events.refused.get("UNAUTHENTICATED"),
        Some(&grpc_events.sent)
    );
    assert!(summary.expected_documents.is_empty());
    host.doors.close().await;
}

#[tokio::test]
async fn no_key_and_unreachable_urls_are_clear_errors() {
    let err = simulate::run(SimulateOptions {
        limit: Limit::Items(10),
        ..Default::default()
    })
    .await
    .unwrap_err();
    assert!(format!("{err:#}").contains("--api-key"), "{err:#}");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let err = simulate::run(SimulateOptions {
        grpc_url: url.clone(),
        doors: DoorChoice::Grpc,
        limit: Limit::Items(10),
        ..Default::default()
    })
    .await
    .unwrap_err();
    assert!(format!("{err:#}").contains(&url), "{err:#}");
}

async fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_simulates_against_a_host_started_with_the_same_config() {
    let mut host = HostProcess::prepare();
    let data = host.dir.path().join("data");
    let (webhook_port, grpc_port) = (host.webhook_port, host.grpc_port);
    let config = host.dir.path().join("livekit.yaml");
    std::fs::write(
        &config,
        format!(
            "keys:\n  {KEY}: {SECRET}\nopenvidu:\n  analytics:\n    interval: 100ms\n    node_id: ND_bin\n    file: {{ enabled: true, dir: {} }}\n    telemetry: {{ enabled: false }}\n    ingest:\n      webhook: {{ listen: \"0.0.0.0:{webhook_port}\", path: /hooks/lk }}\n      grpc: {{ listen: \"127.0.0.1:{grpc_port}\", token: t0ken }}\n",
            data.display()
        ),
    )
    .unwrap();
    host.start(bin().arg("--config").arg(&config).arg("run"));
    wait_listening(webhook_port).await;
    wait_listening(grpc_port).await;
    let json = host.dir.path().join("out.json");
    let stdout = tokio::task::spawn_blocking({
        let (config, json) = (config.clone(), json.clone());
        move || {
            run_ok(
                bin()
                    .arg("--config")
                    .arg(&config)
                    .args(["simulate", "--items", "2000", "--quiet", "--summary-json"])
                    .arg(&json),
            )
        }
    })
    .await
    .unwrap();
    assert!(stdout.contains("expected documents"), "{stdout}");
    let summary: Summary = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(summary.sent(), 2000);
    assert_eq!(summary.accepted(), 2000, "{}", summary.table());
    assert!(summary.doors.contains_key("webhook") && summary.doors.contains_key("grpc"));
    assert_stored_exactly(&data, &summary).await;
    // Records carry the node id of the config.
    let stats = read_store(&data, "stats");
    assert!(stats.iter().all(|d| d["node"] == "ND_bin"));
    drop(host);
}

#[test]
fn the_binary_names_what_is_missing() {
    // No key anywhere.
    let out = bin()
        .env_remove("LIVEKIT_CONFIG")
        .args(["simulate", "--items", "10", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--api-key") && err.contains("--api-secret"),
        "{err}"
    );
    // Nothing listening.
    let port = free_port();
    let out = bin()
        .env_remove("LIVEKIT_CONFIG")
        .args(["simulate", "--items", "10", "--quiet"])
        .args(["--api-key", KEY, "--api-secret", SECRET])
        .arg("--webhook-url")
        .arg(format!("http://127.0.0.1:{port}/webhook"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("http://127.0.0.1:{port}/webhook")),
        "{err}"
    );
}
