//! The MongoDB sink degrades, never stalls: a real `analytics-host` writing into each server
//! of the matrix stores every document `simulate` sent (counted per collection, against
//! the simulation's own count), whatever indexes the server refused, and says what it
//! works without in `/health`, `/ready`, `/api/health` and `/metrics`.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::simulate;
use bson::{doc, Document};
use kit::process::HostProcess;
use kit::servers::matrix::{Feature, Wire};
use serde_json::Value;
use std::time::{Duration, Instant};

const COLLECTIONS: [&str; 4] = ["events", "stats", "node_rooms", "node_stats"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_into_every_server_stores_every_document() {
    for wire in Wire::matrix() {
        let server = wire.start();
        let name = wire.name();
        let mut host = HostProcess::spawn(&format!("    mongo_url: \"{}\"\n", server.url()));
        host.wait_ready().await;
        let summary = simulate::run(host.simulate_options(500.0, Duration::from_secs(5)))
            .await
            .expect("simulation runs");
        assert_eq!(
            summary.refused() + summary.transport_errors(),
            0,
            "{}",
            summary.table()
        );
        let client = mongodb::Client::with_uri_str(server.url()).await.unwrap();
        let db = client.database("openvidu");
        let expected = |c: &str| summary.expected_documents.get(c).copied().unwrap_or(0);
        let counts = || async {
            let mut counts = Vec::new();
            for c in COLLECTIONS {
                let n = db
                    .collection::<Document>(c)
                    .count_documents(doc! {})
                    .await
                    .unwrap_or(0);
                counts.push((c, n));
            }
            counts
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut stored = counts().await;
        while stored.iter().any(|(c, n)| *n < expected(c)) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
            stored = counts().await;
        }
        for (collection, n) in &stored {
            eprintln!(
                "{name}: {collection}: {n} stored of {} sent",
                expected(collection)
            );
            assert_eq!(
                *n,
                expected(collection),
                "{name}: {collection}\n{}",
                summary.table()
            );
        }
        assert!(
            expected("events") > 0 && expected("stats") > 0,
            "{}",
            summary.table()
        );

        // What the sink works without, everywhere the host reports on itself.
        let health = reqwest::get(format!("{}/health", host.telemetry()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let (status, ready) = host.ready().await;
        assert_eq!(
            status, 200,
            "{name}: writes do not wait for indexes: {ready}"
        );
        let api: Value = reqwest::get(format!("{}/api/health", host.telemetry()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let sink = api["sinks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "mongo")
            .cloned()
            .unwrap();
        assert!(sink["last_error"].is_null(), "{name}: {sink}");
        let metrics = host.metrics().await;
        let missing = metrics
            .lines()
            .find(|l| {
                l.starts_with("analytics_sink_state{") && l.contains("name=\"indexes_missing\"")
            })
            .unwrap_or_else(|| panic!("{name}: no indexes_missing gauge:\n{metrics}"));
        if wire.has(Feature::TtlIndex) {
            assert_eq!(health, "ok\n", "{name}");
            assert!(
                sink["notes"].as_array().unwrap().is_empty(),
                "{name}: {sink}"
            );
            assert!(missing.ends_with(" 0"), "{name}: {missing}");
        } else {
            eprintln!("{name}: /health says:\n{health}");
            assert!(
                health.starts_with("ok\nmongo: indexes: 22/27, missing: events.openvidu_expire_at_1 TTL (NotImplemented)"),
                "{name}: {:?}: {health}",
                Feature::TtlIndex
            );
            assert!(health.contains("expiry: the host deletes"), "{health}");
            let notes = sink["notes"].to_string();
            assert!(
                notes.contains("expireAfterSeconds"),
                "{name}: the server's message: {sink}"
            );
            let ready_notes = ready["sinks"].to_string();
            assert!(
                ready_notes.contains("missing: events.openvidu_expire_at_1"),
                "{ready}"
            );
            assert!(missing.ends_with(" 5"), "{name}: {missing}");
        }
        // Each refused index is logged once, with the server's message and the index.
        let refused = host.log_lines(
            "the server refused an index; writing without it (retried on a slow schedule)",
        );
        let ttl_refused = if wire.has(Feature::TtlIndex) { 0 } else { 5 };
        assert_eq!(refused.len(), ttl_refused, "{name}: {refused:?}");
        assert_eq!(host.stop(), Some(0), "{name}");
        let log = host.log_text();
        assert!(!log.contains("items not stored"), "{name}: {log}");
    }
}
