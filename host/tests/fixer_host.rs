//! The active-entities fixer inside a running `analytics-host run`, against a real
//! livekit-server and a MongoDB-wire server: the synthetic end event of a room LiveKit does
//! not have is written once to MongoDB (the fork's shape) and given to the other sinks
//! through the pipeline (here the file store, with the same `_id`), so the embedded store's
//! read API shows the room ended too; and a host without MongoDB fixes the embedded store's
//! own active set. Skipped when no livekit-server can be built, unless
//! `LKA_REQUIRE_LIVEKIT=1`.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::ingest::grpc::AnalyticsRecorderServiceClient;
use bson::{doc, Bson, Document};
use futures::{stream, TryStreamExt};
use kit::items::ts;
use kit::livekit::{LiveKit, KEY, SECRET};
use kit::metrics::{get, sample_or_zero};
use kit::process::HostProcess;
use kit::servers::mongo::MongoServer;
use kit::store::read_store;
use kit::wait_until;
use kit::webhook::{now, post, room_started, sign_with};
use livekit_protocol as lk;
use serde_json::Value;
use std::time::Duration;

/// The host's config: LiveKit's key (the webhook door and the fixer's API calls use it), the
/// file store, MongoDB, the fixer asking `livekit` every period (2·50 ms + 10 s).
fn config(host: &HostProcess, mongo: Option<&str>, livekit: &str) -> String {
    let mongo = mongo
        .map(|url| format!("    mongo_url: \"{url}\"\n"))
        .unwrap_or_default();
    let mongo = format!("{mongo}    fixer_interval: 1s\n");
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

/// The events of `kind` in the file store.
fn stored_of(host: &HostProcess, kind: &str) -> Vec<Value> {
    read_store(&host.store(), "events")
        .into_iter()
        .filter(|d| d["type"] == kind)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_mongodb_the_embedded_store_ends_what_livekit_no_longer_has() {
    let Some(livekit) = LiveKit::start(None) else {
        return;
    };
    let live_sid = livekit.create_room("still-live").await;
    let mut host = HostProcess::spawn_config(|h| config(h, None, &livekit.url()));
    host.wait_healthy().await;
    // A room LiveKit has, one it never had, and a participant of that one (as after a
    // node's crash), through the gRPC door as the patched server sends them.
    let t = now();
    let created = |sid: &str, name: &str| lk::AnalyticsEvent {
        r#type: lk::AnalyticsEventType::RoomCreated as i32,
        timestamp: ts(t, 0),
        room_id: sid.into(),
        room: Some(lk::Room {
            sid: sid.into(),
            name: name.into(),
            creation_time: t,
            ..Default::default()
        }),
        ..Default::default()
    };
    let ghost = lk::AnalyticsEvent {
        r#type: lk::AnalyticsEventType::ParticipantActive as i32,
        timestamp: ts(t + 1, 0),
        room_id: "RM_ghost".into(),
        participant_id: "PA_ghost".into(),
        participant: Some(lk::ParticipantInfo {
            sid: "PA_ghost".into(),
            identity: "ghost".into(),
            joined_at: t,
            ..Default::default()
        }),
        ..Default::default()
    };
    let events = vec![
        created(&live_sid, "still-live"),
        created("RM_ghost", "crashed"),
        ghost,
    ];
    let mut client = AnalyticsRecorderServiceClient::connect(host.grpc_url())
        .await
        .unwrap();
    client
        .ingest_events(stream::iter(vec![lk::AnalyticsEvents { events }]))
        .await
        .unwrap();

    // Two fixer periods (10.1 s each): prepared by the first run, stored by the second.
    wait_until(
        "the synthetic ROOM_ENDED and PARTICIPANT_LEFT in the file store",
        Duration::from_secs(60),
        || async {
            !stored_of(&host, "ROOM_ENDED").is_empty()
                && !stored_of(&host, "PARTICIPANT_LEFT").is_empty()
        },
    )
    .await;
    // Another period: nothing is ended twice, the live room not at all.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let ended = stored_of(&host, "ROOM_ENDED");
    let left = stored_of(&host, "PARTICIPANT_LEFT");
    eprintln!("synthetic: {ended:?}\n{left:?}");
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(left.len(), 1, "{left:?}");
    let (room, person) = (&ended[0], &left[0]);
    // The fork's shape: an ObjectId's hex `_id`, `{seconds, nanos}` integers, the start
    // event's projected fields.
    for doc in [room, person] {
        let id = doc["_id"].as_str().unwrap();
        assert!(
            id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{doc}"
        );
        assert!(doc["timestamp"]["seconds"].is_i64(), "{doc}");
        assert!(doc["timestamp"]["nanos"].is_i64(), "{doc}");
    }
    assert_eq!(room["room_id"], "RM_ghost");
    assert_eq!(room["room"]["name"], "crashed");
    // The room ends 20 s after it was created when the fixer's last run is earlier.
    assert!(
        room["timestamp"]["seconds"].as_i64().unwrap() >= t,
        "{room}"
    );
    assert_eq!(person["participant_id"], "PA_ghost");
    assert_eq!(person["participant"]["identity"], "ghost");
    assert_eq!(person["room_id"], "RM_ghost");

    let (status, body) = get(&format!("{}/api/rooms/RM_ghost", host.telemetry())).await;
    assert_eq!(status, 200, "{body}");
    let ghost: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ghost["session"]["open"], false, "{ghost}");
    let (status, body) = get(&format!("{}/api/rooms/{live_sid}", host.telemetry())).await;
    assert_eq!(status, 200, "{body}");
    let live: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(live["session"]["open"], true, "{live}");
    let metrics = host.metrics().await;
    assert_eq!(
        sample_or_zero(&metrics, "analytics_fixer_synthetic_events_total"),
        2.0,
        "{metrics}"
    );
    assert_eq!(host.stop(), Some(0));
}
