//! The MongoDB sink against a real MongoDB wire-protocol server (SecantusDB, started by the
//! test support module): indexes, document shape, duplicates, restarts, TTL.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::app::Host;
use analytics_host::model::{DocumentFormat, ItemKind, EXPIRE_FIELD};
use analytics_host::sinks::mongo::{indexed_fields, to_bson, MongoSink};
use analytics_host::sinks::Sink;
use bson::{doc, Bson, Document};
use futures::TryStreamExt;
use kit::items::{event, full_event_as, settings, stat};
use kit::servers::mongo::MongoServer;
use kit::wait_until;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

async fn sink(server: &MongoServer, db: &str) -> MongoSink {
    MongoSink::connect(&server.url(), db).await.expect("client")
}

/// A sink that gives up on an unreachable server after 1 s instead of 5 s.
async fn impatient_sink(server: &MongoServer) -> MongoSink {
    let url = server.url();
    let sep = if url.contains('?') { '&' } else { '?' };
    MongoSink::connect(
        &format!("{url}{sep}serverSelectionTimeoutMS=1000"),
        "openvidu",
    )
    .await
    .expect("client")
}

async fn count(sink: &MongoSink, kind: ItemKind) -> u64 {
    sink.database()
        .collection::<Document>(kind.collection())
        .count_documents(doc! {})
        .await
        .expect("count")
}

#[tokio::test(flavor = "multi_thread")]
async fn initialize_creates_the_contract_indexes_idempotently() {
    let server = MongoServer::start();
    let mut sink = sink(&server, "openvidu").await;
    sink.initialize().await.expect("first initialize");
    sink.initialize()
        .await
        .expect("second initialize is a no-op");
    for kind in [ItemKind::Event, ItemKind::Stat] {
        let indexes: Vec<_> = sink
            .database()
            .collection::<Document>(kind.collection())
            .list_indexes()
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let keys: Vec<Document> = indexes.iter().map(|i| i.keys.clone()).collect();
        for field in indexed_fields(kind) {
            assert!(
                keys.contains(&doc! { *field: 1 }),
                "{kind:?} lacks an index on {field}: {keys:?}"
            );
        }
        let ttl = indexes
            .iter()
            .find(|i| i.keys == doc! { EXPIRE_FIELD: 1 })
            .unwrap_or_else(|| panic!("{kind:?} has no TTL index"));
        let expire = ttl.options.as_ref().and_then(|o| o.expire_after);
        assert_eq!(expire, Some(Duration::ZERO), "TTL index of {kind:?}");
    }
    // The fork's full set (OpenVidu 3.9), by the names its driver gives them.
    for (collection, names) in kit::fork::FORK_INDEXES {
        let present: Vec<String> = sink
            .database()
            .collection::<Document>(collection)
            .list_index_names()
            .await
            .unwrap();
        for name in *names {
            assert!(
                present.iter().any(|p| p == name),
                "{collection} lacks the fork's index {name}: {present:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stored_documents_have_the_contract_shape() {
    let server = MongoServer::start();
    // The default format: numbers are doubles, as the fork stores them (every field of it
    // is checked against the fork's own documents in `openvidu_format.rs`).
    let event = stored_event(&server, DocumentFormat::Openvidu).await;
    assert_eq!(
        event.get_document("timestamp").unwrap().get("seconds"),
        Some(&Bson::Double(1_700_000_000.0))
    );
    let egress = event.get_document("egress").unwrap();
    assert_eq!(
        egress.get("started_at"),
        Some(&Bson::Double(1_700_000_000_000_000_000.0))
    );
    // `typed`: integers are exact int64.
    let event = stored_event(&server, DocumentFormat::Typed).await;
    assert_eq!(
        event.get_document("timestamp").unwrap().get("seconds"),
        Some(&Bson::Int64(1_700_000_000))
    );
    let egress = event.get_document("egress").unwrap();
    assert_eq!(
        egress.get("started_at"),
        Some(&Bson::Int64(1_700_000_000_000_000_000))
    );
}

/// Stores [`full_event_as`] `format` and a stat in database `db_<format>`, checks every
/// field read back against the item's BSON, and returns the stored event.
async fn stored_event(server: &MongoServer, format: DocumentFormat) -> Document {
    let mut sink = sink(server, &format!("db_{format:?}")).await;
    sink.initialize().await.unwrap();
    let items = vec![Arc::new(full_event_as(format)), Arc::new(stat(7, "PA_1"))];
    let report = sink.send_batch(&items).await;
    assert_eq!(report, Default::default());
    for item in &items {
        let stored = sink
            .database()
            .collection::<Document>(item.kind.collection())
            .find_one(doc! { "_id": &item.id })
            .await
            .unwrap()
            .expect("stored");
        let expected = to_bson(item);
        let stored_keys: Vec<&String> = stored.keys().collect();
        let expected_keys: Vec<&String> = expected.keys().collect();
        assert_eq!(stored_keys, expected_keys, "same fields, same order");
        for (key, value) in &expected {
            if key == EXPIRE_FIELD {
                let Some(Bson::DateTime(date)) = stored.get(key) else {
                    panic!("{key} is not a date")
                };
                assert_eq!(
                    date.timestamp_millis(),
                    bson::DateTime::from_system_time(item.expire_at).timestamp_millis()
                );
            } else {
                assert_eq!(stored.get(key), Some(value), "field {key}");
            }
        }
    }
    let event = sink
        .database()
        .collection::<Document>("events")
        .find_one(doc! {})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event.get_str("type").unwrap(), "TRACK_PUBLISHED");
    assert_eq!(
        event.get_document("room").unwrap().get_str("sid").unwrap(),
        "RM_abc"
    );
    let stat = sink
        .database()
        .collection::<Document>("stats")
        .find_one(doc! {})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stat.get_str("kind").unwrap(), "UPSTREAM");
    event
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_batch_twice_is_stored_once() {
    let server = MongoServer::start();
    let mut sink = sink(&server, "openvidu").await;
    sink.initialize().await.unwrap();
    let batch: Vec<_> = (0..50)
        .map(|i| Arc::new(event(i)))
        .chain((0..30).map(|i| Arc::new(stat(i, "PA_2"))))
        .collect();
    let first = sink.send_batch(&batch).await;
    assert_eq!(first, Default::default());
    let second = sink.send_batch(&batch).await;
    assert_eq!(second.duplicates, 80, "{second:?}");
    assert!(second.retry.is_empty(), "{second:?}");
    assert_eq!(count(&sink, ItemKind::Event).await, 50);
    assert_eq!(count(&sink, ItemKind::Stat).await, 30);
    // a batch where some items are new and some are not
    let mixed: Vec<_> = (40..60).map(|i| Arc::new(event(i))).collect();
    let report = sink.send_batch(&mixed).await;
    assert_eq!(report.duplicates, 10);
    assert_eq!(report.stored_count(mixed.len()), 10);
    assert_eq!(count(&sink, ItemKind::Event).await, 60);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_down_at_start_and_mid_run_loses_nothing() {
    let mut server = MongoServer::start();
    server.stop();
    // Down at start: the host runs and accepts; initialization is retried.
    let host = Host::start(vec![Box::new(impatient_sink(&server).await)], &settings());
    host.pipeline.accept((0..300).map(event).collect()).unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(host.counters()["mongo"].snapshot().stored, 0);
    server.restart();
    let reader = sink(&server, "openvidu").await;
    wait_until("300 events stored", Duration::from_secs(60), || async {
        count(&reader, ItemKind::Event).await == 300
    })
    .await;

    // Down mid-run: items keep arriving, stay queued, and are stored once it is back.
    server.stop();
    host.pipeline
        .accept((300..600).map(event).collect())
        .unwrap();
    host.pipeline
        .accept((0..200).map(|i| stat(i, "PA_3")).collect())
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let counts = host.counters()["mongo"].snapshot();
    assert_eq!(
        counts.stored, 300,
        "nothing more is stored while the database is down: {counts:?}"
    );
    server.restart();
    wait_until(
        "600 events and 200 stats stored",
        Duration::from_secs(60),
        || async {
            count(&reader, ItemKind::Event).await == 600
                && count(&reader, ItemKind::Stat).await == 200
        },
    )
    .await;
    let counts = host.counters()["mongo"].snapshot();
    assert_eq!(counts.stored + counts.duplicates, 800, "{counts:?}");
    assert!(counts.failed_batches > 0, "the outage was seen: {counts:?}");
    let summaries = host.shutdown().await;
    assert_eq!(summaries[0].left_queued, 0);
    // every id exactly once
    let ids: Vec<Document> = reader
        .database()
        .collection::<Document>("events")
        .aggregate([
            doc! { "$group": { "_id": "$_id", "n": { "$sum": 1 } } },
            doc! { "$match": { "n": { "$gt": 1 } } },
        ])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(ids.is_empty(), "duplicated ids: {ids:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_documents_are_removed_by_the_ttl_index() {
    let server = MongoServer::start();
    let mut sink = sink(&server, "openvidu").await;
    sink.initialize().await.unwrap();
    let mut expired = event(1);
    expired.expire_at = SystemTime::now() - Duration::from_secs(60);
    let kept = event(2);
    let report = sink.send_batch(&[Arc::new(expired), Arc::new(kept)]).await;
    assert_eq!(report, Default::default());
    assert_eq!(count(&sink, ItemKind::Event).await, 2);
    // MongoDB's TTL monitor runs every 60 s; allow two passes.
    wait_until(
        "the expired event removed",
        Duration::from_secs(150),
        || async { count(&sink, ItemKind::Event).await == 1 },
    )
    .await;
    let left = sink
        .database()
        .collection::<Document>("events")
        .find_one(doc! {})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(left.get_str("_id").unwrap(), event(2).id);
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_in_mongo_url_authenticate_and_a_wrong_password_is_named() {
    let mut server = MongoServer::start();
    let admin = mongodb::Client::with_uri_str(server.url()).await.unwrap();
    admin
        .database("admin")
        .run_command(doc! {
            "createUser": "analytics",
            "pwd": "s3cret",
            "roles": [{"role": "readWrite", "db": "openvidu"}],
        })
        .await
        .expect("createUser");
    server.require_auth();
    let with = |user: &str| {
        format!(
            "mongodb://{user}@127.0.0.1:{}/?directConnection=true&authSource=admin&serverSelectionTimeoutMS=2000",
            server.port()
        )
    };

    // The right credentials: indexes and documents, as without auth.
    let mut sink = MongoSink::connect(&with("analytics:s3cret"), "openvidu")
        .await
        .unwrap();
    sink.initialize()
        .await
        .expect("initialize with credentials");
    let items = vec![Arc::new(event(1)), Arc::new(stat(2, "PA_1"))];
    assert_eq!(sink.send_batch(&items).await, Default::default());

    // A wrong password and no credentials: initialization fails, saying why.
    for (url, why) in [
        (with("analytics:wrong"), "authentication failed"),
        (
            format!("{}&serverSelectionTimeoutMS=2000", server.url()),
            "requires authentication",
        ),
    ] {
        let mut sink = MongoSink::connect(&url, "openvidu").await.unwrap();
        let err = sink.initialize().await.unwrap_err().to_string();
        assert!(err.to_lowercase().contains(why), "{url}: {err}");
        assert!(
            !err.contains("wrong"),
            "the password is not in the error: {err}"
        );
    }
    // check-config masks the password.
    let yaml = format!(
        "openvidu:\n  analytics:\n    mongo_url: \"{}\"\n",
        with("analytics:s3cret")
    );
    let text = kit::process::run_ok(
        kit::process::bin()
            .arg("check-config")
            .env("LIVEKIT_CONFIG", &yaml),
    );
    assert!(
        !text.contains("s3cret") && text.contains("analytics:****@"),
        "{text}"
    );
}

/// Exact server answers through SecantusDB's `failCommand` failpoint: an insert refused with
/// a retryable error (the driver's own retry refused too), and a connection closed under
/// the insert. Each time the whole batch comes back for retry with the error named, and
/// sending it again (as the worker does) stores each item once.
#[tokio::test(flavor = "multi_thread")]
async fn failed_inserts_are_retried_and_stored_once() {
    let mut server = MongoServer::start();
    server.enable_failpoints();
    let mut sink = sink(&server, "openvidu").await;
    sink.initialize().await.unwrap();
    let admin = mongodb::Client::with_uri_str(server.url()).await.unwrap();
    let events = sink.database().collection::<Document>("events");
    let mut sent = 0;
    for (what, data, named) in [
        (
            "ShutdownInProgress",
            doc! {"failCommands": ["insert"], "errorCode": 91},
            "91",
        ),
        (
            "connection closed",
            doc! {"failCommands": ["insert"], "closeConnection": true},
            "",
        ),
    ] {
        let batch: Vec<_> = (sent..sent + 20).map(|i| Arc::new(event(i))).collect();
        sent += 20;
        admin
            .database("admin")
            .run_command(doc! {
                "configureFailPoint": "failCommand",
                "mode": {"times": 2},
                "data": data,
            })
            .await
            .expect("configureFailPoint");
        let report = sink.send_batch(&batch).await;
        assert_eq!(report.retry.len(), batch.len(), "{what}: {report:?}");
        let error = report.error.unwrap_or_default();
        assert!(
            !error.is_empty() && error.contains(named),
            "{what}: {error}"
        );
        // As the worker does: send again (after the driver has found the server again,
        // which takes a heartbeat after a "shutting down" answer) until it is stored.
        let deadline = std::time::Instant::now() + Duration::from_secs(40);
        let mut stored = 0;
        loop {
            let report = sink.send_batch(&batch).await;
            stored += report.stored_count(batch.len()) + report.duplicates;
            if report.retry.is_empty() {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{what}: {report:?}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert_eq!(stored, batch.len(), "{what}");
        assert_eq!(
            events.count_documents(doc! {}).await.unwrap(),
            u64::from(sent),
            "{what}"
        );
    }
}
