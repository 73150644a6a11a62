//! The MongoDB sink through a replica-set connection string (`?replicaSet=`), against
//! SecantusDB, which announces itself as the primary of a one-node replica set named
//! `secantus` (it cannot run more members): items stored through the driver's replica-set
//! discovery; a wrong set name named in the error; and a primary step-down
//! (`replSetStepDown` with `force`: the node is a secondary for a few seconds, refusing
//! writes with `NotWritablePrimary`, then primary again) under load through both doors of a
//! host, with exactly the expected documents stored afterwards.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::model::ItemKind;
use analytics_host::simulate::{self, DoorChoice, Limit, SimulateOptions};
use analytics_host::sinks::mongo::MongoSink;
use analytics_host::sinks::{Sink, SinkError};
use bson::{doc, Document};
use kit::host::TestHost;
use kit::items::{event, stat};
use kit::servers::mongo::{MongoServer, REPLICA_SET};
use kit::{wait_until, KEY, SECRET};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn count(db: &mongodb::Database, collection: &str) -> u64 {
    db.collection::<Document>(collection)
        .count_documents(doc! {})
        .await
        .expect("count")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_set_url_stores_items_and_a_wrong_set_name_is_named() {
    let server = MongoServer::start();
    let url = server.replica_set_url();
    let mut sink = MongoSink::connect(&url, "openvidu").await.expect("client");
    sink.initialize()
        .await
        .expect("initialize through replica-set discovery");
    let batch: Vec<_> = (0..20)
        .flat_map(|i| [Arc::new(event(i)), Arc::new(stat(i, &format!("PA_{i}")))])
        .collect();
    let report = sink.send_batch(&batch).await;
    assert_eq!(report.stored_count(batch.len()), 40, "{report:?}");
    assert_eq!(
        count(sink.database(), ItemKind::Event.collection()).await,
        20
    );
    assert_eq!(
        count(sink.database(), ItemKind::Stat.collection()).await,
        20
    );

    // A set name the server does not announce: no server is selected, and the error says
    // which set the driver looked for.
    let wrong = format!(
        "mongodb://127.0.0.1:{}/?replicaSet=rs0&serverSelectionTimeoutMS=1000",
        server.port()
    );
    let mut sink = MongoSink::connect(&wrong, "openvidu")
        .await
        .expect("client");
    match sink.initialize().await {
        Err(SinkError::Unavailable(message)) => assert!(
            message.contains("rs0") && message.contains("ReplicaSetNoPrimary"),
            "{message}"
        ),
        other => panic!("expected Unavailable naming the set, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_primary_step_down_under_load_loses_nothing() {
    const STEP_DOWN_SECS: i64 = 4;
    let started = Instant::now();
    let server = MongoServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = format!(
        "keys:\n  {KEY}: {SECRET}\nopenvidu:\n  analytics:\n    interval: 100ms\n    \
         retry: {{ initial_backoff: 100ms, max_backoff: 500ms }}\n    \
         queue: {{ capacity: 500000, overflow: drop_oldest }}\n    \
         mongo_url: \"{}\"\n    mongo_database: openvidu\n    \
         file: {{ enabled: true, dir: {} }}\n    ingest:\n      \
         webhook: {{ listen: \"127.0.0.1:0\" }}\n      grpc: {{ listen: \"127.0.0.1:0\" }}\n",
        server.replica_set_url(),
        dir.path().display()
    );
    let host = TestHost::from_yaml(dir, &yaml).await;
    let client = mongodb::Client::with_uri_str(server.url()).await.unwrap();
    let db = client.database("openvidu");

    let options = SimulateOptions {
        webhook_url: host.webhook_url(),
        grpc_url: host.grpc_url(),
        api_key: Some(KEY.into()),
        api_secret: Some(SECRET.into()),
        doors: DoorChoice::Both,
        rooms: 20,
        rate: 300.0,
        limit: Limit::Duration(Duration::from_secs(8)),
        batch: 50,
        concurrency: 4,
        node_id: "ND_rs".into(),
        ..Default::default()
    };
    let load = tokio::spawn(simulate::run(options));
    tokio::time::sleep(Duration::from_secs(2)).await;
    client
        .database("admin")
        .run_command(doc! {
            "replSetStepDown": STEP_DOWN_SECS,
            "secondaryCatchUpPeriodSecs": 1,
            "force": true,
        })
        .await
        .expect("replSetStepDown");
    let hello = client
        .database("admin")
        .run_command(doc! {"hello": 1})
        .await
        .unwrap();
    assert_eq!(
        hello.get_bool("secondary"),
        Ok(true),
        "stepped down: {hello}"
    );
    assert_eq!(hello.get_str("setName"), Ok(REPLICA_SET));
    // Counted once the step-down is seen: a batch that was already on its way when the
    // command ran may still land (a loaded machine stretches that moment), none after.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = count(&db, "stats").await;
    tokio::time::sleep(Duration::from_millis(1700)).await;
    let during = count(&db, "stats").await;
    let summary = load.await.unwrap().expect("the simulation runs");
    assert_eq!(
        summary.refused() + summary.transport_errors(),
        0,
        "{}",
        summary.table()
    );
    assert_eq!(summary.accepted(), summary.sent(), "{}", summary.table());

    // Every document is there once the backlog is stored (the driver finds the primary
    // again within a server-selection timeout, 5 s), and nothing is left queued.
    let expected = |c: &str| summary.expected_documents.get(c).copied().unwrap_or(0);
    let collections = ["events", "stats", "node_rooms"];
    let waited = Instant::now();
    let mut got = Vec::new();
    while waited.elapsed() < Duration::from_secs(40) {
        got.clear();
        for collection in collections {
            got.push((
                collection,
                count(&db, collection).await,
                expected(collection),
            ));
        }
        if got.iter().all(|(_, have, want)| have == want) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_until("the queues to drain", Duration::from_secs(10), || async {
        host.host.pipeline.queued() == 0
    })
    .await;
    eprintln!(
        "replica set step-down: {} items accepted; stats {before} once stepped down, {during} 2 s into \
         the {STEP_DOWN_SECS} s step-down; (collection, stored, expected) {got:?}; test {:.1?}",
        summary.accepted(),
        started.elapsed()
    );
    assert!(during - before < 50, "writes stopped while stepped down");
    for (collection, have, want) in got {
        assert_eq!(have, want, "{collection}\n{}", summary.table());
    }
    host.host.shutdown().await;
}
