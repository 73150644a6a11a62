//! The active-entities fixer against real servers: a MongoDB-wire server (SecantusDB), a
//! real livekit-server (the project's build in the cache, `LKA_LIVEKIT_SERVER` to choose
//! one; skipped when none is built unless `LKA_REQUIRE_LIVEKIT=1`) and redis-server.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::config::{ApiKeys, LiveKitRedisConfig};
use analytics_host::fixer::livekit_api::LiveKitApi;
use analytics_host::fixer::lock::FixerLock;
use analytics_host::fixer::{Fixer, FixerStore, LAST_ALIVE};
use analytics_host::model::Item;
use analytics_host::sinks::mongo::MongoSink;
use analytics_host::sinks::Sink;
use bson::{doc, Bson, Document};
use futures::TryStreamExt;
use kit::livekit::{LiveKit, KEY, SECRET};
use kit::ports::free_port;
use kit::servers::mongo::MongoServer;
use kit::servers::redis::{RedisFlavor, RedisServer};
use livekit_protocol as lk;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn keys() -> ApiKeys {
    ApiKeys([(KEY.to_owned(), SECRET.to_owned())].into())
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn item(event: lk::AnalyticsEvent) -> Arc<Item> {
    Arc::new(Item::from_event(
        event,
        SystemTime::now(),
        Duration::from_secs(3600),
    ))
}

fn room(sid: &str, created: i64) -> Option<lk::Room> {
    Some(lk::Room {
        sid: sid.into(),
        name: format!("name-{sid}"),
        creation_time: created,
        ..Default::default()
    })
}

fn room_created(sid: &str, at: i64) -> Arc<Item> {
    item(lk::AnalyticsEvent {
        r#type: lk::AnalyticsEventType::RoomCreated as i32,
        timestamp: kit::items::ts(at, 0),
        room_id: sid.into(),
        room: room(sid, at),
        ..Default::default()
    })
}

fn room_ended(sid: &str, at: i64) -> Arc<Item> {
    item(lk::AnalyticsEvent {
        r#type: lk::AnalyticsEventType::RoomEnded as i32,
        timestamp: kit::items::ts(at, 0),
        room_id: sid.into(),
        room: room(sid, at - 10),
        ..Default::default()
    })
}

fn participant_active(room_sid: &str, sid: &str, at: i64) -> Arc<Item> {
    item(lk::AnalyticsEvent {
        r#type: lk::AnalyticsEventType::ParticipantActive as i32,
        timestamp: kit::items::ts(at, 0),
        room_id: room_sid.into(),
        room: room(room_sid, at),
        participant_id: sid.into(),
        participant: Some(lk::ParticipantInfo {
            sid: sid.into(),
            identity: format!("id-{sid}"),
            name: format!("name-{sid}"),
            joined_at: at,
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn egress_started(id: &str, at: i64) -> Arc<Item> {
    item(lk::AnalyticsEvent {
        r#type: lk::AnalyticsEventType::EgressStarted as i32,
        timestamp: kit::items::ts(at, 0),
        egress_id: id.into(),
        egress: Some(lk::EgressInfo {
            egress_id: id.into(),
            room_id: "RM_gone".into(),
            room_name: "name-RM_gone".into(),
            started_at: at * 1_000_000_000,
            status: lk::EgressStatus::EgressActive as i32,
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn ingress_started(resource: &str, at: i64) -> Arc<Item> {
    item(lk::AnalyticsEvent {
        r#type: lk::AnalyticsEventType::IngressStarted as i32,
        timestamp: kit::items::ts(at, 0),
        ingress: Some(lk::IngressInfo {
            ingress_id: "IN_gone".into(),
            state: Some(lk::IngressState {
                status: lk::ingress_state::Status::EndpointPublishing as i32,
                resource_id: resource.into(),
                started_at: at * 1_000_000_000,
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// A MongoDB sink on database `db`, initialized, that has stored `items`.
async fn stored(mongo: &MongoServer, db: &str, items: &[Arc<Item>]) -> MongoSink {
    let mut sink = MongoSink::connect(&mongo.url(), db).await.unwrap();
    sink.initialize().await.unwrap();
    let report = sink.send_batch(items).await;
    assert_eq!(report, Default::default(), "stored {items:?}");
    sink
}

async fn active(sink: &MongoSink) -> Vec<String> {
    let docs: Vec<Document> = sink
        .database()
        .collection::<Document>("active_entities")
        .find(doc! {})
        .sort(doc! {"_id": 1})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    docs.iter()
        .map(|d| d.get_str("_id").unwrap().to_owned())
        .collect()
}

async fn events_of(sink: &MongoSink, filter: Document) -> Vec<Document> {
    sink.database()
        .collection::<Document>("events")
        .find(filter)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

fn fixer(sink: &MongoSink, livekit_url: &str) -> Fixer {
    let api = LiveKitApi::new(livekit_url, &keys()).unwrap();
    Fixer::new(
        FixerStore::Mongo(sink.database().clone()),
        api,
        Duration::from_secs(3600),
    )
}

/// Entities LiveKit does not have get the fork's end events one run later; the room
/// created through livekit-server stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entities_livekit_no_longer_has_are_ended_in_the_forks_shape() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let redis = RedisServer::start(RedisFlavor::Plain);
    let Some(livekit) = LiveKit::start(Some(redis.port())) else {
        return;
    };
    let mongo = MongoServer::start();
    let live = livekit.create_room("live-room").await;
    let t = now() - 100;
    let items = [
        room_created("RM_gone", t),
        room_created(&live, t),
        participant_active("RM_gone", "PA_gone", t + 1),
        egress_started("EG_gone", t + 2),
        ingress_started("RS_gone", t + 3),
    ];
    let mut sink = stored(&mongo, "fixer_gone", &[]).await;
    let mut fixer = fixer(&sink, &livekit.url());
    // A first run on nothing: it only records when it ran, the time the synthetic events
    // of the next runs are dated at.
    assert_eq!(fixer.run_once().await.unwrap(), Default::default());
    let last_alive = sink
        .database()
        .collection::<Document>(LAST_ALIVE)
        .find_one(doc! {"_id": "server"})
        .await
        .unwrap()
        .expect("last_alive upserted");
    let alive = last_alive.get_document("last_alive").unwrap().clone();
    assert!(
        matches!(alive.get("seconds"), Some(Bson::Int64(_))),
        "{last_alive}"
    );
    assert!(
        matches!(alive.get("nanos"), Some(Bson::Int32(_))),
        "{last_alive}"
    );
    assert_eq!(sink.send_batch(&items).await, Default::default());
    assert_eq!(active(&sink).await.len(), 5);

    let first = fixer.run_once().await.unwrap();
    eprintln!("first run: {first:?}");
    assert_eq!(
        first.written, 0,
        "nothing is written before a period has passed"
    );
    assert!(first.prepared >= 2, "{first:?}");
    assert_eq!(
        active(&sink).await.len(),
        5,
        "still active until the next run"
    );

    let second = fixer.run_once().await.unwrap();
    eprintln!("second run: {second:?}");
    assert_eq!(second.written, first.prepared);
    let ended = events_of(&sink, doc! {"type": "ROOM_ENDED"}).await;
    assert_eq!(ended.len(), 1, "{ended:?}");
    let room = &ended[0];
    eprintln!("synthetic ROOM_ENDED: {room}");
    assert!(matches!(room.get("_id"), Some(Bson::ObjectId(_))), "{room}");
    assert_eq!(room.get_str("room_id").unwrap(), "RM_gone");
    let r = room.get_document("room").unwrap();
    assert_eq!(r.get_str("sid").unwrap(), "RM_gone");
    assert_eq!(r.get_str("name").unwrap(), "name-RM_gone");
    assert!(r.get("creation_time").is_some());
    let ts = room.get_document("timestamp").unwrap();
    assert_eq!(
        ts.get_i64("seconds").unwrap(),
        alive.get_i64("seconds").unwrap()
    );
    assert_eq!(
        ts.get_i32("nanos").unwrap(),
        alive.get_i32("nanos").unwrap()
    );
    assert!(room.get_datetime("openvidu_expire_at").is_ok());
    // The read API's summary of the room says it ended, at the synthetic event's time.
    let summary = sink
        .database()
        .collection::<Document>("room_sessions")
        .find_one(doc! {"_id": "RM_gone"})
        .await
        .unwrap()
        .expect("room_sessions summary of RM_gone");
    assert_eq!(
        summary.get_f64("ended_ts").unwrap(),
        alive.get_i64("seconds").unwrap() as f64 + f64::from(alive.get_i32("nanos").unwrap()) / 1e9,
        "{summary}"
    );
    let left = events_of(&sink, doc! {"type": "PARTICIPANT_LEFT"}).await;
    assert_eq!(left.len(), 1, "{left:?}");
    eprintln!("synthetic PARTICIPANT_LEFT: {}", left[0]);
    assert_eq!(left[0].get_str("participant_id").unwrap(), "PA_gone");
    assert_eq!(
        left[0]
            .get_document("participant")
            .unwrap()
            .get_str("identity")
            .unwrap(),
        "id-PA_gone"
    );
    // Egress and ingress too: livekit-server lists them (it has a Redis here).
    let still = active(&sink).await;
    assert_eq!(still, vec![live], "only the live room stays");
    assert_eq!(
        (first.prepared, first.livekit_failures),
        (4, 0),
        "{first:?}"
    );
    let egress = events_of(&sink, doc! {"type": "EGRESS_ENDED"}).await;
    assert_eq!(egress.len(), 1, "{egress:?}");
    eprintln!("synthetic EGRESS_ENDED: {}", egress[0]);
    let e = egress[0].get_document("egress").unwrap();
    assert_eq!(e.get_str("status").unwrap(), "EGRESS_COMPLETE");
    assert_eq!(e.get_i64("started_at").unwrap(), (t + 2) * 1_000_000_000);
    let ended_at =
        ts.get_i64("seconds").unwrap() * 1_000_000_000 + ts.get_i32("nanos").unwrap() as i64;
    assert_eq!(e.get_i64("ended_at").unwrap(), ended_at);
    let ingress = events_of(&sink, doc! {"type": "INGRESS_ENDED"}).await;
    assert_eq!(ingress.len(), 1, "{ingress:?}");
    eprintln!("synthetic INGRESS_ENDED: {}", ingress[0]);
    let state = ingress[0]
        .get_document("ingress")
        .unwrap()
        .get_document("state")
        .unwrap();
    assert_eq!(state.get_str("status").unwrap(), "ENDPOINT_INACTIVE");
    assert_eq!(state.get_str("resource_id").unwrap(), "RS_gone");
    // A third run changes nothing.
    let third = fixer.run_once().await.unwrap();
    assert_eq!((third.prepared, third.written), (0, 0), "{third:?}");
}

/// A real end event stored within the period: no synthetic one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_end_event_within_the_period_prevents_the_synthetic_one() {
    let Some(livekit) = LiveKit::start(None) else {
        return;
    };
    let mongo = MongoServer::start();
    let t = now() - 50;
    let mut sink = stored(&mongo, "fixer_late", &[room_created("RM_late", t)]).await;
    let mut fixer = fixer(&sink, &livekit.url());
    let first = fixer.run_once().await.unwrap();
    assert_eq!(first.prepared, 1, "{first:?}");
    // The real end event, late (a slow node's queue), arrives before the next run.
    assert_eq!(
        sink.send_batch(&[room_ended("RM_late", t + 30)]).await,
        Default::default()
    );
    let second = fixer.run_once().await.unwrap();
    assert_eq!((second.written, second.superseded), (0, 1), "{second:?}");
    let ended = events_of(&sink, doc! {"type": "ROOM_ENDED"}).await;
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert!(
        matches!(ended[0].get("_id"), Some(Bson::String(_))),
        "the real one: {}",
        ended[0]
    );
    assert!(active(&sink).await.is_empty());
}

/// LiveKit unreachable: nothing is ended, however often the fixer runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn livekit_down_ends_nothing() {
    let mongo = MongoServer::start();
    let t = now() - 50;
    let items = [
        room_created("RM_x", t),
        participant_active("RM_x", "PA_x", t),
    ];
    let sink = stored(&mongo, "fixer_down", &items).await;
    let closed = format!("http://127.0.0.1:{}", free_port());
    let mut fixer = fixer(&sink, &closed);
    for _ in 0..3 {
        let report = fixer.run_once().await.unwrap();
        assert_eq!(
            report.prepared + report.written + report.removed,
            0,
            "{report:?}"
        );
        assert_eq!(report.livekit_failures, 2, "{report:?}");
    }
    assert_eq!(fixer.counters().livekit_failures.load(Ordering::Relaxed), 6);
    // The warning's counter on /metrics.
    let host = analytics_host::app::Host::start(Vec::new(), &kit::items::settings());
    let text = host
        .observed(Default::default())
        .with_fixer(fixer.counters())
        .text();
    assert!(
        text.contains("analytics_fixer_livekit_failures_total 6"),
        "{text}"
    );
    assert!(text.contains("analytics_fixer_runs_total 3"), "{text}");
    host.shutdown().await;
    assert_eq!(active(&sink).await, ["PA_x", "RM_x"]);
    assert!(events_of(
        &sink,
        doc! {"type": {"$in": ["ROOM_ENDED", "PARTICIPANT_LEFT"]}}
    )
    .await
    .is_empty());
}

/// Two fixers sharing one Redis: one run per period between them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_fixers_with_one_redis_run_once_per_period() {
    let mongo = MongoServer::start();
    let redis = RedisServer::start(RedisFlavor::Plain);
    let sink = stored(&mongo, "fixer_lock", &[]).await;
    let config = LiveKitRedisConfig {
        address: format!("127.0.0.1:{}", redis.port()),
        ..Default::default()
    };
    let closed = format!("http://127.0.0.1:{}", free_port());
    let period = Duration::from_secs(2);
    let (a, b) = (fixer(&sink, &closed), fixer(&sink, &closed));
    let (ca, cb) = (a.counters(), b.counters());
    let ta = a.spawn(period, Some(FixerLock::new(&config).unwrap()));
    let tb = b.spawn(period, Some(FixerLock::new(&config).unwrap()));
    tokio::time::sleep(Duration::from_millis(9_000)).await;
    ta.stop().await;
    tb.stop().await;
    let runs = ca.runs.load(Ordering::Relaxed) + cb.runs.load(Ordering::Relaxed);
    let skips = ca.lock_skips.load(Ordering::Relaxed) + cb.lock_skips.load(Ordering::Relaxed);
    eprintln!("runs {runs}, lock skips {skips}");
    // 9 s of 2 s periods: 4 runs at most between both (8 if each ran its own).
    assert!((3..=4).contains(&runs), "runs {runs}");
    assert!(skips > 0);
}

/// A fork node writing a batch holds `analytics-db-operations-lock`: the fixer does not run
/// meanwhile, and runs once the lock is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_nodes_database_lock_holds_the_run_back() {
    let mongo = MongoServer::start();
    let redis = RedisServer::start(RedisFlavor::Plain);
    let sink = stored(&mongo, "fixer_db_lock", &[]).await;
    let config = LiveKitRedisConfig {
        address: format!("127.0.0.1:{}", redis.port()),
        ..Default::default()
    };
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/", redis.port())).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    // The fork node's lock, as its redislock takes it, held for 7 s.
    let _: Option<String> = redis::cmd("SET")
        .arg(analytics_host::fixer::lock::DB_LOCK_KEY)
        .arg("a-fork-node")
        .arg("NX")
        .arg("PX")
        .arg(7_000)
        .query_async(&mut conn)
        .await
        .unwrap();
    let closed = format!("http://127.0.0.1:{}", free_port());
    let a = fixer(&sink, &closed);
    let counters = a.counters();
    let task = a.spawn(
        Duration::from_secs(2),
        Some(FixerLock::new(&config).unwrap()),
    );
    tokio::time::sleep(Duration::from_millis(6_000)).await;
    let held_back = counters.runs.load(Ordering::Relaxed);
    let skips = counters.lock_skips.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(6_000)).await;
    task.stop().await;
    let after = counters.runs.load(Ordering::Relaxed);
    eprintln!("runs while the fork node held the lock {held_back} (skips {skips}), after {after}");
    assert_eq!(
        held_back, 0,
        "the fixer ran under a fork node's database lock"
    );
    assert!(skips > 0);
    assert!(after > 0, "the fixer never ran once the lock was free");
}
