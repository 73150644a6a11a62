//! Egress and ingress events end to end, through a real livekit-server: redis-server, the
//! patched livekit-server (`livekit/build.sh`) with `analytics_export` pointing at the
//! host's gRPC door, the host (file store) and the test worker (`livekit/test-worker/`),
//! which registers on livekit-server's psrpc bus as LiveKit's egress and ingress services
//! do and reports their progress, standing in for the media pipeline only. The test drives
//! everything through livekit-server's public Twirp API and checks that each egress and
//! ingress event type is stored once per happening, in the fork's document shape.
//!
//! Skipped, with the reason printed, when Go, livekit-server or the worker cannot be
//! built, unless `LKA_REQUIRE_LIVEKIT=1` (then that fails).

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

#[path = "livekit_egress/checks.rs"]
mod checks;
#[path = "livekit_egress/drive.rs"]
mod drive;

use drive::STREAM_KEYS;
use kit::livekit::LiveKit;
use kit::process::HostProcess;
use kit::servers::redis::{RedisFlavor, RedisServer};
use kit::store::read_store;
use kit::tap::GrpcTap;
use kit::worker::TestWorker;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// How many documents of each type the drive produces (see `drive.rs`): four egresses
/// (room composite, participant, track, web), each STARTED, UPDATED when active and when
/// ending, ENDED; one more UPDATED for UpdateStream; a URL pull ingress (CREATED, UPDATED
/// while buffering, STARTED, ENDED, DELETED) and an RTMP one (CREATED, DELETED).
const EXPECTED: [(&str, usize); 8] = [
    ("EGRESS_STARTED", 4),
    ("EGRESS_UPDATED", 9),
    ("EGRESS_ENDED", 4),
    ("INGRESS_CREATED", 2),
    ("INGRESS_UPDATED", 1),
    ("INGRESS_STARTED", 1),
    ("INGRESS_ENDED", 1),
    ("INGRESS_DELETED", 2),
];

#[tokio::test(flavor = "multi_thread")]
async fn egress_and_ingress_events_through_livekit_server() {
    let redis = RedisServer::start(RedisFlavor::Plain);
    let mut host = HostProcess::spawn("");
    host.wait_healthy().await;
    // livekit-server exports through a tap, which keeps each event as it was sent.
    let tap = GrpcTap::start(&host.grpc_url()).await;
    let extra = format!(
        "analytics_export:\n  url: {}\n  node_rooms_interval: 2s\n\
         ingress:\n  rtmp_base_url: rtmp://127.0.0.1:1935/live\n",
        tap.url()
    );
    let Some(livekit) = LiveKit::start_with(Some(redis.port()), &extra) else {
        return;
    };
    let Some(worker) = TestWorker::start(redis.port(), &livekit.url(), Duration::from_millis(300))
    else {
        return;
    };

    let happened = drive::drive(&livekit).await;

    let store = host.store();
    let counts = |docs: &[Value]| {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for doc in docs {
            let kind = doc["type"].as_str().unwrap_or_default();
            if kind.starts_with("EGRESS_") || kind.starts_with("INGRESS_") {
                *counts.entry(kind.to_string()).or_default() += 1;
            }
        }
        counts
    };
    let expected: BTreeMap<String, usize> =
        EXPECTED.iter().map(|(t, n)| (t.to_string(), *n)).collect();
    let limit = Duration::from_secs(60);
    let start = std::time::Instant::now();
    loop {
        let got = counts(&read_store(&store, "events"));
        if got == expected {
            break;
        }
        assert!(
            start.elapsed() < limit && got.iter().all(|(t, n)| expected.get(t) >= Some(n)),
            "stored egress/ingress events {got:?}, want {expected:?}\n\
             livekit-server:\n{}\nworker:\n{}\nhost:\n{}",
            livekit.log_text(),
            worker.log_text(),
            host.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Nothing more arrives later (each happening is stored once).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let docs = read_store(&store, "events");
    assert_eq!(counts(&docs), expected, "after 2 s more");

    let docs: Vec<&Value> = docs
        .iter()
        .filter(|d| {
            let kind = d["type"].as_str().unwrap_or_default();
            kind.starts_with("EGRESS_") || kind.starts_with("INGRESS_")
        })
        .collect();
    let ids: std::collections::BTreeSet<&str> =
        docs.iter().map(|d| d["_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), docs.len(), "every document has its own _id");
    for doc in &docs {
        let text = doc.to_string();
        for key in STREAM_KEYS {
            assert!(!text.contains(key), "a stream key is stored: {text}");
        }
        assert!(
            doc["node_id"]
                .as_str()
                .is_some_and(|n| n.starts_with("ND_")),
            "node id: {doc}"
        );
        assert!(doc["timestamp"]["seconds"].is_number(), "timestamp: {doc}");
    }
    checks::check_egress_documents(&docs, &happened);
    checks::check_ingress_documents(&docs, &happened);
    for (kind, _) in EXPECTED {
        let doc = docs.iter().find(|d| d["type"] == kind).unwrap();
        eprintln!("{kind}: {doc}");
    }
    // The tap saw each of them as livekit-server sent it.
    let sent = sent_corpus(&tap);
    assert_eq!(
        sent.len(),
        docs.len(),
        "egress/ingress events through the tap"
    );
    if let Ok(path) = std::env::var("LKA_CAPTURE_CORPUS") {
        let lines: Vec<String> = sent.iter().map(Value::to_string).collect();
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        eprintln!("wrote {} corpus lines to {path}", lines.len());
    }
    drop(worker);
}

/// The egress and ingress events the tap saw, as lines of the golden corpus
/// (`tests/data/openvidu-format/`): `{"name": "live_<type>_<n>", "kind": "event", "proto"}`,
/// `<n>` counting from 1 per type, in the order they were sent.
fn sent_corpus(tap: &GrpcTap) -> Vec<Value> {
    use base64::Engine as _;
    use prost::Message as _;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut lines = Vec::new();
    for record in tap.events() {
        let event = livekit_protocol::AnalyticsEvent::decode(&record[..]).expect("an event");
        let kind = event.r#type().as_str_name().to_ascii_lowercase();
        if !(kind.starts_with("egress_") || kind.starts_with("ingress_")) {
            continue;
        }
        let n = seen.entry(kind.clone()).or_default();
        *n += 1;
        lines.push(serde_json::json!({
            "name": format!("live_{kind}_{n}"),
            "kind": "event",
            "proto": base64::engine::general_purpose::STANDARD.encode(&record),
        }));
    }
    lines
}
