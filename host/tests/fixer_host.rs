//! The active-entities fixer inside a running `analytics-host run`, against a real
//! livekit-server and a MongoDB-wire server: the synthetic end event of a room LiveKit does
//! not have is written once to MongoDB (the fork's shape) and given to the other sinks
//! through the pipeline (here the file store, with the same `_id`), so the embedded store's
//! read API shows the room ended too. Skipped when no livekit-server can be built, unless
//! `LKA_REQUIRE_LIVEKIT=1`.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use bson::{doc, Bson, Document};
use futures::TryStreamExt;
use kit::livekit::{LiveKit, KEY, SECRET};
use kit::metrics::{get, sample_or_zero};
use kit::process::HostProcess;
use kit::servers::mongo::MongoServer;
use kit::store::read_store;
use kit::wait_until;
use kit::webhook::{now, post, room_started, sign_with};
use serde_json::Value;
use std::time::Duration;

/// The host's config: LiveKit's key (the webhook door and the fixer's API calls use it), the
/// file store, MongoDB, the fixer asking `livekit` every period (2·50 ms + 10 s).
fn config(host: &HostProcess, mongo: Option<&str>, livekit: &str) -> String {
    let mongo = mongo
        .map(|url| format!("    mongo_url: \"{url}\"\n    fixer_interval: 1s\n"))
        .unwrap_or_default();
    format!(
        r#"keys:
  {KEY}: {SECRET}
openvidu:
  analytics:
    interval: 50ms
    node_id: ND_fixer
    livekit_url: "{livekit}"
    file: {{ enabled: true, dir: "{store}" }}
    ingest:
      webhook: {{ listen: "127.0.0.1:{webhook}" }}
      grpc: {{ listen: "127.0.0.1:{grpc}" }}
    telemetry: {{ listen: "127.0.0.1:{telemetry}" }}
{mongo}"#,
        store = host.store().display(),
        webhook = host.webhook_port,
        grpc = host.grpc_port,
        telemetry = host.telemetry_port,
    )
}

async fn room_ended_in_mongo(db: &mongodb::Database) -> Vec<Document> {
    db.collection::<Document>("events")
        .find(doc! {"type": "ROOM_ENDED"})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

fn room_ended_in_store(host: &HostProcess) -> Vec<Value> {
    read_store(&host.store(), "events")
        .into_iter()
        .filter(|d| d["type"] == "ROOM_ENDED")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synthetic_end_event_reaches_every_sink_once() {
    let Some(livekit) = LiveKit::start(None) else {
        return;
    };
    let mongo = MongoServer::start();
    let url = format!("{}&appName=fixer_host", mongo.url());
    let mut host = HostProcess::spawn_config(|h| config(h, Some(&url), &livekit.url()));
    host.wait_healthy().await;
    // A room the host is told about and LiveKit never had (as after a node's crash).
    let body = room_started(7);
    let auth = sign_with(&body, KEY, SECRET, now() - 10, now() + 300);
    assert_eq!(post(&host.webhook_url(), body, Some(auth)).await, 200);

    // Two fixer periods (10.1 s each): prepared by the first run, written by the second.
    wait_until(
        "the synthetic ROOM_ENDED in the file store",
        Duration::from_secs(60),
        || async { !room_ended_in_store(&host).is_empty() },
    )
    .await;
    // One more round of every sink: the MongoDB sink must not store a second copy.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let db = mongodb::Client::with_uri_str(&url)
        .await
        .unwrap()
        .database("openvidu");
    let in_mongo = room_ended_in_mongo(&db).await;
    assert_eq!(in_mongo.len(), 1, "one ROOM_ENDED in MongoDB: {in_mongo:?}");
    let Some(Bson::ObjectId(oid)) = in_mongo[0].get("_id") else {
        panic!("the fork's ObjectId _id: {}", in_mongo[0]);
    };
    let in_store = room_ended_in_store(&host);
    assert_eq!(in_store.len(), 1, "{in_store:?}");
    let stored = &in_store[0];
    eprintln!("MongoDB: {}\nfile store: {stored}", in_mongo[0]);
    assert_eq!(stored["_id"], oid.to_hex(), "the same _id in every sink");
    assert_eq!(stored["room_id"], "RM_7");
    assert_eq!(stored["room"]["sid"], "RM_7");
    let ts = in_mongo[0].get_document("timestamp").unwrap();
    assert_eq!(
        stored["timestamp"]["seconds"],
        ts.get_i64("seconds").unwrap()
    );
    assert!(stored["openvidu_expire_at"].is_string(), "{stored}");
    let active: Vec<Document> = db
        .collection::<Document>("active_entities")
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(active.is_empty(), "{active:?}");
    let metrics = host.metrics().await;
    assert_eq!(
        sample_or_zero(&metrics, "analytics_fixer_forwarded_total"),
        1.0,
        "{metrics}"
    );
    assert_eq!(host.stop(), Some(0));

    // The embedded store's read API (a host on the same store, without MongoDB): ended.
    let mut reader = HostProcess::prepare();
    let text = config(&host, None, &livekit.url())
        .replace(
            &format!("127.0.0.1:{}", host.telemetry_port),
            &format!("127.0.0.1:{}", reader.telemetry_port),
        )
        .replace(
            &format!("127.0.0.1:{}", host.webhook_port),
            &format!("127.0.0.1:{}", reader.webhook_port),
        )
        .replace(
            &format!("127.0.0.1:{}", host.grpc_port),
            &format!("127.0.0.1:{}", reader.grpc_port),
        );
    reader.start(
        kit::process::bin()
            .args(["run", "--log-format", "json"])
            .env("LIVEKIT_CONFIG", text)
            .env("RUST_LOG", "info"),
    );
    reader.wait_healthy().await;
    let (status, body) = get(&format!("{}/api/rooms/RM_7", reader.telemetry())).await;
    assert_eq!(status, 200, "{body}");
    let room: Value = serde_json::from_str(&body).unwrap();
    eprintln!("embedded store's API: {room}");
    assert_eq!(room["session"]["open"], false, "{room}");
    assert_eq!(reader.stop(), Some(0));
}
