//! The Redis sink with several pipelines in flight (`redis.max_in_flight`), against a real
//! redis-server: a call larger than one pipeline is split, every item is still settled from
//! its own replies, and Redis applies the writes in the queue's order.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::config::{LiveKitRedisConfig, RedisMode, RedisSinkConfig};
use analytics_host::model::{Item, SharedItem};
use analytics_host::sinks::redis::{redis_key, RedisSink};
use analytics_host::sinks::Sink;
use kit::items::ts;
use kit::servers::redis::{RedisFlavor, RedisServer, Resp};
use livekit_protocol::{AnalyticsStat, StreamType};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Items per call: several pipelines' worth (a pipeline holds 256 items).
const ITEMS: usize = 2000;

/// A sink with `max_in_flight` for `server`, as `user` (name, password) if given.
fn sink(
    server: &RedisServer,
    max_in_flight: usize,
    mode: RedisMode,
    user: Option<(&str, &str)>,
) -> RedisSink {
    let (username, password) = user.unwrap_or(("", server.password().unwrap_or_default()));
    let connection = LiveKitRedisConfig {
        address: format!("127.0.0.1:{}", server.port()),
        username: username.into(),
        password: password.into(),
        ..Default::default()
    };
    let settings = RedisSinkConfig {
        enabled: true,
        mode,
        max_in_flight,
    };
    RedisSink::new(&connection, &settings).unwrap()
}

fn sink_for(server: &RedisServer, max_in_flight: usize, mode: RedisMode) -> RedisSink {
    sink(server, max_in_flight, mode, None)
}

/// A stat of one of three rooms; `score` changes the document, not the key.
fn stat(n: usize, score: f32) -> SharedItem {
    let stat = AnalyticsStat {
        room_id: format!("RM_{}", n % 3),
        participant_id: format!("PA_{n}"),
        track_id: "TR_v".into(),
        kind: StreamType::Upstream as i32,
        time_stamp: ts(1_700_000_000, 0),
        node: "ND_1".into(),
        score,
        ..Default::default()
    };
    Arc::new(Item::from_stat(
        stat,
        SystemTime::now(),
        Duration::from_secs(3600),
    ))
}

fn text(resp: &Resp) -> String {
    match resp {
        Resp::Bulk(Some(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

#[tokio::test]
async fn a_call_of_several_pipelines_settles_every_item_from_its_replies() {
    let server = RedisServer::start(RedisFlavor::Plain);
    // A user that may write the keys of room RM_0 only: the others' writes fail (NOPERM).
    let setuser = [
        "ACL",
        "SETUSER",
        "part",
        "on",
        ">part-secret",
        "~stat:{RM_0}:*",
        "-@all",
        "+set",
        "+ping",
        "+hello",
        "+select",
    ];
    assert!(matches!(server.cmd(&setuser), Resp::Simple(_)));
    let mut sink = sink(&server, 4, RedisMode::Plain, Some(("part", "part-secret")));
    sink.initialize().await.unwrap();
    assert_eq!(
        sink.batches_per_call(),
        4,
        "the worker hands over 4 batches"
    );
    let batch: Vec<SharedItem> = (0..ITEMS).map(|n| stat(n, 4.0)).collect();
    let report = sink.send_batch(&batch).await;
    let mut retry = report.retry.clone();
    retry.sort_unstable();
    let others: Vec<usize> = (0..ITEMS).filter(|n| n % 3 != 0).collect();
    assert_eq!(retry, others, "exactly the refused writes are retried");
    assert_eq!(report.stored_count(ITEMS), ITEMS - others.len());
    for (n, item) in batch.iter().enumerate().filter(|(n, _)| n % 3 == 0) {
        assert_eq!(
            text(&server.cmd(&["GET", &redis_key(item)])),
            item.json(),
            "{n}"
        );
    }

    // Every write refused (out of memory): each position of every pipeline comes back once.
    let mut sink = sink_for(&server, 4, RedisMode::Plain);
    sink.initialize().await.unwrap();
    server.cmd(&["FLUSHALL"]);
    server.cmd(&["CONFIG", "SET", "maxmemory", "1"]);
    let report = sink.send_batch(&batch).await;
    let mut retry = report.retry.clone();
    retry.sort_unstable();
    assert_eq!(
        retry,
        (0..ITEMS).collect::<Vec<_>>(),
        "every item retried once"
    );
    assert!(report.error.as_deref().unwrap_or("").contains("OOM"));
    server.cmd(&["CONFIG", "SET", "maxmemory", "0"]);
    let report = sink.send_batch(&batch).await;
    assert_eq!(report, Default::default(), "stored once Redis has room");
}

#[tokio::test]
async fn json_mode_settles_two_replies_per_item_in_any_pipeline_of_a_call() {
    let server = RedisServer::start(RedisFlavor::WithModules);
    let mut sink = sink_for(&server, 4, RedisMode::Json);
    sink.initialize().await.unwrap();
    let batch: Vec<SharedItem> = (0..ITEMS).map(|n| stat(n, 4.0)).collect();
    // Keys holding another type in the first, a middle and the last pipeline: RedisJSON
    // refuses those writes (its own error, not WRONGTYPE, so they are retried).
    let taken = vec![3, 900, ITEMS - 1];
    for &n in &taken {
        server.cmd(&["HSET", &redis_key(&batch[n]), "f", "v"]);
    }
    let report = sink.send_batch(&batch).await;
    assert_eq!(report.retry, taken, "{report:?}");
    assert!(report.error.as_deref().unwrap_or("").contains("JSON.SET"));
    assert_eq!(report.stored_count(ITEMS), ITEMS - taken.len());
    assert_eq!(server.cmd(&["DBSIZE"]), Resp::Int(ITEMS as i64));
}

#[tokio::test]
async fn writes_reach_redis_in_queue_order_across_pipelines() {
    let server = RedisServer::start(RedisFlavor::Plain);
    for max_in_flight in [1, 4, 64] {
        server.cmd(&["FLUSHALL"]);
        let mut sink = sink_for(&server, max_in_flight, RedisMode::Plain);
        sink.initialize().await.unwrap();
        // The same key early (first pipeline) and late (a later pipeline), with different
        // documents: the later one must be what Redis keeps.
        let mut batch: Vec<SharedItem> = (0..ITEMS).map(|n| stat(n, 4.0)).collect();
        let late = stat(7, 1.5);
        batch[ITEMS - 10] = late.clone();
        let report = sink.send_batch(&batch).await;
        assert_eq!(report, Default::default(), "{max_in_flight}");
        let kept = text(&server.cmd(&["GET", &redis_key(&late)]));
        assert_eq!(kept, late.json(), "max_in_flight {max_in_flight}");
    }
}
