//! The MongoDB sink against real MongoDB wire-protocol servers, each test on every server
//! of the matrix (SecantusDB, FerretDB-SQLite: `kit::servers::matrix`): indexes, document
//! shape, duplicates, restarts, expiry (the TTL index, or the host's own where a server
//! refuses it). Errors and faults: `mongo_errors.rs`.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::app::Host;
use analytics_host::model::{DocumentFormat, ItemKind, EXPIRE_FIELD};
use analytics_host::sinks::mongo::{indexed_fields, to_bson, IndexState, MongoSink};
use analytics_host::sinks::Sink;
use bson::{doc, Bson, Document};
use futures::TryStreamExt;
use kit::items::{event, full_event_as, settings, stat};
use kit::servers::matrix::{Feature, Wire, WireServer};
use kit::wait_until;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

async fn sink(server: &WireServer, db: &str) -> MongoSink {
    MongoSink::connect(&server.url(), db).await.expect("client")
}

/// A sink, initialized, once the server has answered for every index.
async fn settled_sink(server: &WireServer, db: &str) -> MongoSink {
    let mut sink = sink(server, db).await;
    sink.initialize().await.expect("initialize");
    let indexes = sink.indexes().clone();
    wait_until("every index answered", Duration::from_secs(30), || {
        let settled = indexes.settled();
        async move { settled }
    })
    .await;
    sink
}

/// A sink that gives up on an unreachable server after 1 s instead of 5 s.
async fn impatient_sink(server: &WireServer) -> MongoSink {
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

/// Every index of the contract, each created on its own; where a server refuses the TTL
/// index (FerretDB: 238 NotImplemented), every other index is there, a plain index on
/// `openvidu_expire_at` stands in, and the sink's state says so.
#[tokio::test(flavor = "multi_thread")]
async fn initialize_creates_the_contract_indexes_idempotently() {
    for wire in Wire::matrix() {
        let server = wire.start();
        let mut sink = settled_sink(&server, "openvidu").await;
        sink.initialize()
            .await
            .expect("second initialize is a no-op");
        // Another sink on the same database: the same answers.
        let again = settled_sink(&server, "openvidu").await;
        let states = |sink: &MongoSink| -> Vec<IndexState> {
            sink.indexes()
                .snapshot()
                .into_iter()
                .map(|(_, s)| s)
                .collect()
        };
        assert_eq!(states(&sink), states(&again), "{}", wire.name());
        for kind in ItemKind::ALL {
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
                    "{}: {kind:?} lacks an index on {field}: {keys:?}",
                    wire.name()
                );
            }
            let expiry = indexes
                .iter()
                .find(|i| i.keys == doc! { EXPIRE_FIELD: 1 })
                .unwrap_or_else(|| {
                    panic!("{}: {kind:?} has no index on {EXPIRE_FIELD}", wire.name())
                });
            let expire = expiry.options.as_ref().and_then(|o| o.expire_after);
            if wire.has(Feature::TtlIndex) {
                assert_eq!(expire, Some(Duration::ZERO), "TTL index of {kind:?}");
            } else {
                assert_eq!(
                    expire,
                    None,
                    "{}: a plain index on {EXPIRE_FIELD}",
                    wire.name()
                );
            }
        }
        let book = sink.indexes().snapshot();
        let state = sink.indexes().state();
        if wire.has(Feature::TtlIndex) {
            assert!(
                book.iter().all(|(_, s)| *s == IndexState::Present),
                "{book:?}"
            );
            assert!(state.notes.is_empty(), "{:?}", state.notes);
            assert!(sink.indexes().host_expires().is_empty());
        } else {
            for (spec, s) in &book {
                match s {
                    IndexState::Refused(r) => {
                        assert!(
                            spec.ttl,
                            "{}: only TTL refused: {spec:?} {r:?}",
                            wire.name()
                        );
                        assert_eq!((r.code, r.code_name.as_str()), (238, "NotImplemented"));
                        assert!(r.message.contains("expireAfterSeconds"), "{r:?}");
                        assert!(r.plain_instead, "{r:?}");
                    }
                    other => assert_eq!(*other, IndexState::Present, "{spec:?}"),
                }
            }
            assert_eq!(
                sink.indexes().host_expires(),
                [
                    "events",
                    "stats",
                    "node_rooms",
                    "node_stats",
                    "room_sessions"
                ],
                "{}: the host expires where TTL is missing",
                wire.name()
            );
            let total = book.len();
            let summary = &state.notes[0];
            assert!(
                summary.starts_with(&format!("indexes: {}/{total}, missing: events.openvidu_expire_at_1 TTL (NotImplemented)", total - 5)),
                "{summary}"
            );
            assert!(
                state
                    .notes
                    .iter()
                    .any(|n| n
                        .contains("Index option \"expireAfterSeconds\" is not implemented yet")),
                "the server's message: {:?}",
                state.notes
            );
            assert!(
                state.gauges.contains(&("indexes_missing", 5)),
                "{:?}",
                state.gauges
            );
            assert!(
                state.gauges.contains(&("host_expiry", 1)),
                "{:?}",
                state.gauges
            );
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
                    "{}: {collection} lacks the fork's index {name}: {present:?}",
                    wire.name()
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stored_documents_have_the_contract_shape() {
    for wire in Wire::matrix() {
        let server = wire.start();
        contract_shape(&server).await;
    }
}

async fn contract_shape(server: &WireServer) {
    // The default format: numbers are doubles, as the fork stores them (every field of it
    // is checked against the fork's own documents in `openvidu_format.rs`).
    let event = stored_event(server, DocumentFormat::Openvidu).await;
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
    let event = stored_event(server, DocumentFormat::Typed).await;
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
async fn stored_event(server: &WireServer, format: DocumentFormat) -> Document {
    let mut sink = sink(server, &format!("db_{format:?}")).await;
    sink.initialize().await.unwrap();
    let name = server.name();
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
        assert_eq!(
            stored_keys, expected_keys,
            "{name}: same fields, same order"
        );
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
                assert_eq!(stored.get(key), Some(value), "{name}: field {key}");
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
    for wire in Wire::matrix() {
        let server = wire.start();
        same_batch_twice(&server).await;
    }
}

async fn same_batch_twice(server: &WireServer) {
    let mut sink = sink(server, "openvidu").await;
    sink.initialize().await.unwrap();
    let batch: Vec<_> = (0..50)
        .map(|i| Arc::new(event(i)))
        .chain((0..30).map(|i| Arc::new(stat(i, "PA_2"))))
        .collect();
    let first = sink.send_batch(&batch).await;
    assert_eq!(first, Default::default());
    let second = sink.send_batch(&batch).await;
    assert_eq!(
        second.duplicates,
        80,
        "{}: code 11000: {second:?}",
        server.name()
    );
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
    for wire in Wire::matrix() {
        down_at_start_and_mid_run(wire.start()).await;
    }
}

async fn down_at_start_and_mid_run(mut server: WireServer) {
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
    // And counted: the batch is done once its room summaries are written too.
    wait_until("300 events counted", Duration::from_secs(30), || async {
        host.counters()["mongo"].snapshot().stored == 300
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
    // The batch is counted once its summaries are written too (after the inserts).
    wait_until("800 counted", Duration::from_secs(30), || async {
        let counts = host.counters()["mongo"].snapshot();
        counts.stored + counts.duplicates >= 800
    })
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

/// Documents past `openvidu_expire_at` disappear: through the TTL index (its monitor runs
/// every 60 s) or, on a server that refuses TTL indexes (FerretDB-SQLite), through the
/// host's own `deleteMany` (every second here), so `expiration` holds on both.
#[tokio::test(flavor = "multi_thread")]
async fn expired_documents_are_removed() {
    for wire in Wire::matrix() {
        let server = wire.start();
        let mut sink = sink(&server, "openvidu")
            .await
            .with_schedule(Duration::from_secs(300), Duration::from_secs(1));
        sink.initialize().await.unwrap();
        let indexes = sink.indexes().clone();
        wait_until("every index answered", Duration::from_secs(30), || {
            let settled = indexes.settled();
            async move { settled }
        })
        .await;
        let by_host = !wire.has(Feature::TtlIndex);
        assert_eq!(
            indexes.host_expires().len(),
            if by_host { 5 } else { 0 },
            "{}: who expires documents",
            wire.name()
        );
        let past = SystemTime::now() - Duration::from_secs(60);
        let mut expired = event(1);
        expired.expire_at = past;
        let mut expired_stat = stat(1, "PA_1");
        expired_stat.expire_at = past;
        let batch = [expired, event(2), expired_stat, stat(2, "PA_1")].map(Arc::new);
        let report = sink.send_batch(&batch).await;
        // All four stored (the report says so); the expired ones may be gone already (the
        // host deletes every second here, the TTL monitor whenever it runs), so no count now.
        assert_eq!(report, Default::default());
        let started = std::time::Instant::now();
        // MongoDB's TTL monitor runs every 60 s; allow two passes.
        let deleted = || {
            indexes
                .expired_by_host
                .load(std::sync::atomic::Ordering::Relaxed)
        };
        wait_until(
            "the expired event and stat removed",
            Duration::from_secs(150),
            || async {
                count(&sink, ItemKind::Event).await == 1
                    && count(&sink, ItemKind::Stat).await == 1
                    && (!by_host || deleted() == 2)
            },
        )
        .await;
        eprintln!(
            "{}: expired documents gone after {:.1?} ({})",
            wire.name(),
            started.elapsed(),
            if by_host {
                "by the host"
            } else {
                "by the TTL index"
            }
        );
        assert_eq!(deleted(), if by_host { 2 } else { 0 }, "{}", wire.name());
        let left = sink
            .database()
            .collection::<Document>("events")
            .find_one(doc! {})
            .await
            .unwrap()
            .unwrap();
        assert_eq!(left.get_str("_id").unwrap(), event(2).id);
    }
}
