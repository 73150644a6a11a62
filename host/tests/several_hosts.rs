//! Several hosts, one store: two hosts (one beside each LiveKit node, as the fork runs one
//! per node) writing to the same MongoDB and the same Redis. The same happenings delivered
//! through both (a webhook retried to another node's host, a stream replayed) are stored
//! once: ids are deterministic, MongoDB reports the second insert as a duplicate and Redis
//! overwrites the same key.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::ingest::grpc::AnalyticsRecorderServiceClient;
use bson::{doc, Document};
use futures::stream;
use kit::grpc::events;
use kit::host::TestHost;
use kit::servers::mongo::MongoServer;
use kit::servers::redis::{RedisFlavor, RedisServer, Resp};
use kit::wait_until;
use kit::webhook::{post_signed, room_started};
use std::sync::atomic::Ordering;
use std::time::Duration;

async fn host(mongo: &MongoServer, redis: &RedisServer) -> TestHost {
    let extra = format!(
        "    mongo_url: \"{}\"\n    redis: {{ enabled: true }}\nredis:\n  address: \"127.0.0.1:{}\"\n",
        mongo.url(),
        redis.port()
    );
    TestHost::start_with("50ms", &extra).await
}

/// What both hosts receive: 20 webhooks and 3 gRPC messages of 50 events.
async fn deliver(host: &TestHost) {
    for n in 1..=20 {
        assert_eq!(post_signed(&host.webhook_url(), room_started(n)).await, 200);
    }
    let mut client = AnalyticsRecorderServiceClient::connect(host.grpc_url())
        .await
        .expect("connect");
    client
        .ingest_events(stream::iter((0..3).map(|m| events(7, m, 50))))
        .await
        .expect("events");
}

fn redis_keys(redis: &RedisServer) -> i64 {
    match redis.cmd(&["DBSIZE"]) {
        Resp::Int(n) => n,
        other => panic!("DBSIZE: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_share_one_mongodb_and_one_redis_and_store_each_item_once() {
    let mongo = MongoServer::start();
    let redis = RedisServer::start(RedisFlavor::Plain);
    let (a, b) = (host(&mongo, &redis).await, host(&mongo, &redis).await);
    deliver(&a).await;
    deliver(&b).await;
    const DISTINCT: u64 = 20 + 3 * 50;
    let client = mongodb::Client::with_uri_str(mongo.url()).await.unwrap();
    let stored = client.database("openvidu").collection::<Document>("events");
    wait_until(
        "both hosts settled every item",
        Duration::from_secs(20),
        || {
            let (a, b) = (a.host.counters(), b.host.counters());
            async move {
                let settled = |c: &analytics_host::telemetry::SinkCounters| {
                    c.stored.load(Ordering::Relaxed) + c.duplicates.load(Ordering::Relaxed)
                };
                ["mongo", "redis"]
                    .iter()
                    .all(|s| settled(&a[*s]) == DISTINCT && settled(&b[*s]) == DISTINCT)
            }
        },
    )
    .await;
    assert_eq!(stored.count_documents(doc! {}).await.unwrap(), DISTINCT);
    assert_eq!(redis_keys(&redis) as u64, DISTINCT);
    // Whichever host came second found every item already there.
    let dup = |h: &TestHost| {
        h.host.counters()["mongo"]
            .duplicates
            .load(Ordering::Relaxed)
    };
    let new = |h: &TestHost| h.host.counters()["mongo"].stored.load(Ordering::Relaxed);
    assert_eq!(new(&a) + new(&b), DISTINCT);
    assert_eq!(dup(&a) + dup(&b), DISTINCT);
    a.doors.close().await;
    b.doors.close().await;
}
