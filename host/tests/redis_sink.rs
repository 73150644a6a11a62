//! The Redis sink against real redis-server processes: Debian's plain Redis, and a newer
//! Redis with RedisJSON and RediSearch loaded (installed by `scripts/install-test-deps.sh`).

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::app::Host;
use analytics_host::config::{AnalyticsConfig, LiveKitRedisConfig, RedisMode, RedisSinkConfig};
use analytics_host::model::{Item, SharedItem};
use analytics_host::sinks::redis::{redis_key, RedisSink, EVENTS_INDEX, STATS_INDEX};
use analytics_host::sinks::{Sink, SinkError};
use kit::items::ts;
use kit::servers::redis::{RedisFlavor, RedisServer, Resp};
use kit::wait_until;
use livekit_protocol::{
    AnalyticsEvent, AnalyticsEventType, AnalyticsStat, ParticipantInfo, Room, StreamType,
};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const EXPIRATION: Duration = Duration::from_secs(3600);

fn connection(port: u16, password: Option<&str>) -> LiveKitRedisConfig {
    LiveKitRedisConfig {
        address: format!("127.0.0.1:{port}"),
        password: password.unwrap_or_default().into(),
        ..Default::default()
    }
}

fn sink(server: &RedisServer, mode: RedisMode) -> RedisSink {
    let settings = RedisSinkConfig {
        enabled: true,
        mode,
        ..Default::default()
    };
    RedisSink::new(&connection(server.port(), server.password()), &settings).unwrap()
}

fn room_created(room: &str, seconds: i64) -> SharedItem {
    let event = AnalyticsEvent {
        r#type: AnalyticsEventType::RoomCreated as i32,
        room_id: room.into(),
        room: Some(Room {
            sid: room.into(),
            name: format!("name-of-{room}"),
            ..Default::default()
        }),
        timestamp: ts(seconds, 0),
        node_id: "ND_1".into(),
        ..Default::default()
    };
    Arc::new(Item::from_event(event, SystemTime::now(), EXPIRATION))
}

fn participant_joined(room: &str, participant: &str, seconds: i64, nanos: i32) -> SharedItem {
    let event = AnalyticsEvent {
        r#type: AnalyticsEventType::ParticipantJoined as i32,
        room_id: room.into(),
        room: Some(Room {
            sid: room.into(),
            ..Default::default()
        }),
        participant_id: participant.into(),
        participant: Some(ParticipantInfo {
            sid: participant.into(),
            identity: format!("id-{participant}"),
            ..Default::default()
        }),
        timestamp: ts(seconds, nanos),
        ..Default::default()
    };
    Arc::new(Item::from_event(event, SystemTime::now(), EXPIRATION))
}

fn stat(room: &str, participant: &str, track: &str, seconds: i64, nanos: i32) -> SharedItem {
    let stat = AnalyticsStat {
        room_id: room.into(),
        room_name: format!("name-of-{room}"),
        participant_id: participant.into(),
        track_id: track.into(),
        kind: StreamType::Upstream as i32,
        time_stamp: ts(seconds, nanos),
        node: "ND_1".into(),
        score: 4.5,
        ..Default::default()
    };
    Arc::new(Item::from_stat(stat, SystemTime::now(), EXPIRATION))
}

fn text(resp: &Resp) -> String {
    resp.as_str()
        .unwrap_or_else(|| panic!("expected a string reply, got {resp:?}"))
        .to_string()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn dbsize(server: &RedisServer) -> i64 {
    server
        .cmd(&["DBSIZE"])
        .as_int()
        .expect("DBSIZE is an integer")
}

fn assert_ttl(server: &RedisServer, key: &str) {
    let ttl = server.cmd(&["TTL", key]).as_int().unwrap();
    assert!(
        ttl > 0 && ttl <= EXPIRATION.as_secs() as i64,
        "TTL of {key} is {ttl}, expected within (0, {}]",
        EXPIRATION.as_secs()
    );
}

/// Every key of the database.
fn keys(server: &RedisServer) -> Vec<String> {
    let reply = server.cmd(&["KEYS", "*"]);
    let mut keys: Vec<String> = reply
        .as_array()
        .expect("KEYS is an array")
        .iter()
        .map(text)
        .collect();
    keys.sort();
    keys
}

/// Escapes a RediSearch TAG value for a query.
fn tag(value: &str) -> String {
    value
        .chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() {
                vec![c]
            } else {
                vec!['\\', c]
            }
        })
        .collect()
}

/// `FT.SEARCH` → (total, keys found).
fn search(server: &RedisServer, index: &str, query: &str) -> (i64, Vec<String>) {
    let reply = server.cmd(&["FT.SEARCH", index, query, "NOCONTENT"]);
    let array = reply
        .as_array()
        .unwrap_or_else(|| panic!("FT.SEARCH {index} {query}: {reply:?}"));
    let total = array[0].as_int().unwrap();
    (total, array[1..].iter().map(text).collect())
}

#[tokio::test]
async fn plain_mode_round_trip_with_ttl_and_room_hash_tags() {
    let server = RedisServer::start(RedisFlavor::Plain);
    let mut sink = sink(&server, RedisMode::Auto);
    sink.initialize().await.expect("initialize");
    assert_eq!(sink.mode(), Some(RedisMode::Plain), "no modules: plain");

    let batch = vec![
        room_created("RM_plain", 1_700_000_000),
        participant_joined("RM_plain", "PA_a", 1_700_000_001, 250),
        stat("RM_plain", "PA_a", "TR_v", 1_700_000_002, 7),
    ];
    let report = sink.send_batch(&batch).await;
    assert_eq!(report.stored_count(batch.len()), 3, "{report:?}");
    assert!(
        report.retry.is_empty() && report.error.is_none(),
        "{report:?}"
    );

    assert_eq!(
        keys(&server),
        [
            "event:{RM_plain}:PA_a:PARTICIPANT_JOINED:1700000001250",
            "event:{RM_plain}:ROOM_CREATED:1700000000",
            "stat:{RM_plain}:PA_a:TR_v:17000000027",
        ]
    );
    for item in &batch {
        let key = redis_key(item);
        let stored = server.cmd(&["GET", &key]);
        assert_eq!(json(&text(&stored)), json(&item.json()), "{key}");
        assert_ttl(&server, &key);
    }
    // The document is the contract's, with the id and the expiry time.
    let doc = json(&text(&server.cmd(&["GET", &redis_key(&batch[0])])));
    assert_eq!(doc["_id"], batch[0].id.as_str());
    assert_eq!(doc["type"], "ROOM_CREATED");
    assert_eq!(doc["room"]["sid"], "RM_plain");
    assert!(doc["openvidu_expire_at"].is_string());
}

#[tokio::test]
async fn same_item_twice_is_one_key() {
    let server = RedisServer::start(RedisFlavor::Plain);
    let mut sink = sink(&server, RedisMode::Plain);
    sink.initialize().await.unwrap();
    let a = room_created("RM_dup", 1_700_000_100);
    let b = stat("RM_dup", "PA_b", "TR_b", 1_700_000_101, 0);
    let report = sink.send_batch(&[a.clone(), a.clone(), b.clone()]).await;
    assert_eq!(report, Default::default(), "all stored");
    let report = sink.send_batch(&[b.clone(), a.clone()]).await;
    assert_eq!(
        report,
        Default::default(),
        "sent again: stored (overwritten)"
    );
    assert_eq!(dbsize(&server), 2);
    assert_eq!(
        json(&text(&server.cmd(&["GET", &redis_key(&a)]))),
        json(&a.json())
    );
}

#[tokio::test]
async fn json_mode_with_search_indexes() {
    let server = RedisServer::start(RedisFlavor::WithModules);
    let mut sink = sink(&server, RedisMode::Auto);
    sink.initialize().await.expect("initialize");
    assert_eq!(sink.mode(), Some(RedisMode::Json), "RedisJSON loaded: json");
    // Idempotent: the indexes exist now.
    sink.initialize().await.expect("initialize again");

    let batch = vec![
        room_created("RM_search", 1_700_000_200),
        room_created("RM_other", 1_700_000_200),
        participant_joined("RM_search", "PA_found", 1_700_000_201, 1),
        stat("RM_search", "PA_found", "TR_1", 1_700_000_202, 0),
        stat("RM_search", "PA_else", "TR_2", 1_700_000_202, 0),
    ];
    let report = sink.send_batch(&batch).await;
    assert_eq!(report, Default::default());
    assert_eq!(dbsize(&server), 5);

    for item in &batch {
        let key = redis_key(item);
        assert_eq!(text(&server.cmd(&["TYPE", &key])), "ReJSON-RL", "{key}");
        let stored = text(&server.cmd(&["JSON.GET", &key, "$"]));
        assert_eq!(
            json(&stored),
            serde_json::json!([json(&item.json())]),
            "{key}"
        );
        assert_ttl(&server, &key);
    }

    let (total, found) = search(
        &server,
        EVENTS_INDEX,
        &format!("@room_sid:{{{}}}", tag("RM_search")),
    );
    assert_eq!(total, 2, "{found:?}");
    assert!(found.contains(&redis_key(&batch[0])), "{found:?}");
    let (total, found) = search(
        &server,
        EVENTS_INDEX,
        &format!(
            "@room_sid:{{{}}} @type:{{{}}}",
            tag("RM_search"),
            tag("ROOM_CREATED")
        ),
    );
    assert_eq!((total, found), (1, vec![redis_key(&batch[0])]));

    let (total, found) = search(
        &server,
        STATS_INDEX,
        &format!("@participant_id:{{{}}}", tag("PA_found")),
    );
    assert_eq!((total, found), (1, vec![redis_key(&batch[3])]));
    let (total, _) = search(&server, STATS_INDEX, "@time_stamp:[1700000202 1700000202]");
    assert_eq!(total, 2);
    let (total, _) = search(&server, STATS_INDEX, "@score:[4 5]");
    assert_eq!(total, 2);
}

#[tokio::test]
async fn plain_mode_can_be_forced_and_json_mode_needs_the_module() {
    let stack = RedisServer::start(RedisFlavor::WithModules);
    let mut forced = sink(&stack, RedisMode::Plain);
    forced.initialize().await.unwrap();
    assert_eq!(forced.mode(), Some(RedisMode::Plain));
    let item = room_created("RM_forced", 1_700_000_300);
    assert_eq!(
        forced.send_batch(std::slice::from_ref(&item)).await,
        Default::default()
    );
    assert_eq!(text(&stack.cmd(&["TYPE", &redis_key(&item)])), "string");

    let plain = RedisServer::start(RedisFlavor::Plain);
    let err = sink(&plain, RedisMode::Json)
        .initialize()
        .await
        .expect_err("json mode without RedisJSON must fail");
    assert!(err.to_string().contains("RedisJSON"), "{err}");
}

#[tokio::test]
async fn wrong_or_missing_password_is_a_clear_auth_error() {
    let server = RedisServer::start_with_password(RedisFlavor::Plain, "right-secret");
    let settings = RedisSinkConfig {
        enabled: true,
        mode: RedisMode::Auto,
        ..Default::default()
    };
    for password in [Some("wrong-secret"), None] {
        let mut sink = RedisSink::new(&connection(server.port(), password), &settings).unwrap();
        let err = sink
            .initialize()
            .await
            .expect_err("bad credentials must fail");
        let message = err.to_string();
        assert!(
            matches!(err, SinkError::Store(_)),
            "{password:?}: {message}"
        );
        assert!(
            message.contains("authentication failed") && message.contains("redis.password"),
            "{password:?}: {message}"
        );
        assert!(!message.contains("wrong-secret"), "{message}");
        let report = sink.send_batch(&[room_created("RM_auth", 1)]).await;
        assert_eq!(report.retry, [0], "{report:?}");
    }
    let mut sink = sink(&server, RedisMode::Auto);
    sink.initialize().await.expect("the right password works");
    assert_eq!(
        sink.send_batch(&[room_created("RM_auth", 1)]).await,
        Default::default()
    );
    assert_eq!(dbsize(&server), 1);
}

#[tokio::test]
async fn an_acl_user_with_the_commands_it_needs_is_enough() {
    // LiveKit's `redis.username` + `redis.password`: a Redis 6+ ACL user allowed only the
    // commands the sink uses. (RediSearch's FT.CREATE needs access to every key, `~*`,
    // even though the indexes cover only `event:` and `stat:` keys.)
    let server = RedisServer::start(RedisFlavor::WithModules);
    let setuser = [
        "ACL",
        "SETUSER",
        "analytics",
        "on",
        ">acl-secret",
        "~*",
        "-@all",
        "+module|list",
        "+ft.create",
        "+json.set",
        "+pexpire",
        "+set",
        "+ping",
        "+hello",
        "+select",
    ];
    assert!(matches!(server.cmd(&setuser), Resp::Simple(_)));
    let settings = RedisSinkConfig {
        enabled: true,
        mode: RedisMode::Json,
        ..Default::default()
    };
    let user = |name: &str, password: &str| LiveKitRedisConfig {
        username: name.into(),
        ..connection(server.port(), Some(password))
    };
    let mut sink = RedisSink::new(&user("analytics", "acl-secret"), &settings).unwrap();
    sink.initialize().await.expect("the ACL user initializes");
    assert_eq!(sink.mode(), Some(RedisMode::Json));
    let items = [
        room_created("RM_acl", 1),
        stat("RM_acl", "PA_1", "TR_1", 2, 0),
    ];
    assert_eq!(sink.send_batch(&items).await, Default::default());
    assert_eq!(dbsize(&server), 2);
    let mut wrong = RedisSink::new(&user("analytics", "nope"), &settings).unwrap();
    let message = wrong.initialize().await.unwrap_err().to_string();
    assert!(message.contains("authentication failed"), "{message}");
    assert!(message.contains("redis.username"), "{message}");

    // Without the modules: plain SETs on the sink's own key prefixes are enough (MODULE LIST
    // refused is taken as "no modules").
    let plain = RedisServer::start(RedisFlavor::Plain);
    let setuser = [
        "ACL",
        "SETUSER",
        "analytics",
        "on",
        ">acl-secret",
        "~event:*",
        "~stat:*",
        "-@all",
        "+set",
        "+pexpire",
        "+ping",
        "+hello",
        "+select",
    ];
    let reply = plain.cmd(&setuser);
    assert!(matches!(reply, Resp::Simple(_)), "{reply:?}");
    let connection = LiveKitRedisConfig {
        username: "analytics".into(),
        ..connection(plain.port(), Some("acl-secret"))
    };
    let auto = RedisSinkConfig {
        enabled: true,
        mode: RedisMode::Auto,
        ..Default::default()
    };
    let mut sink = RedisSink::new(&connection, &auto).unwrap();
    sink.initialize()
        .await
        .expect("the plain ACL user initializes");
    assert_eq!(sink.mode(), Some(RedisMode::Plain));
    assert_eq!(sink.send_batch(&items).await, Default::default());
    assert_eq!(dbsize(&plain), 2);
}

#[tokio::test]
async fn a_redis_that_is_down_is_unavailable_and_items_are_retried() {
    let mut server = RedisServer::start(RedisFlavor::Plain);
    let mut sink = sink(&server, RedisMode::Auto);
    server.stop();
    let err = sink.initialize().await.expect_err("nothing listens");
    assert!(matches!(err, SinkError::Unavailable(_)), "{err}");
    let batch = [room_created("RM_down", 1), stat("RM_down", "P", "T", 2, 0)];
    let report = sink.send_batch(&batch).await;
    assert_eq!(report.retry, [0, 1], "{report:?}");
    assert!(report.error.is_some());
    server.restart();
    sink.initialize().await.expect("initialize once it is back");
    assert_eq!(sink.send_batch(&batch).await, Default::default());
    assert_eq!(dbsize(&server), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_run_and_restarted_loses_nothing() {
    let mut server = RedisServer::start(RedisFlavor::Plain);
    let mut settings = AnalyticsConfig {
        interval: Duration::from_millis(100),
        send_timeout: Duration::from_secs(3),
        batch_size: 50,
        ..Default::default()
    };
    settings.retry.initial_backoff = Duration::from_millis(100);
    settings.retry.max_backoff = Duration::from_millis(500);
    let host = Host::start(vec![Box::new(sink(&server, RedisMode::Auto))], &settings);
    let counters = host.counters()["redis"].clone();

    let now = SystemTime::now();
    let make = |range: std::ops::Range<i64>| -> Vec<Item> {
        range
            .flat_map(|i| {
                let room = format!("RM_{}", i % 7);
                let event = AnalyticsEvent {
                    r#type: AnalyticsEventType::ParticipantJoined as i32,
                    room: Some(Room {
                        sid: room.clone(),
                        ..Default::default()
                    }),
                    participant_id: format!("PA_{i}"),
                    timestamp: ts(1_700_001_000 + i, 0),
                    ..Default::default()
                };
                let stat = AnalyticsStat {
                    room_id: room,
                    participant_id: format!("PA_{i}"),
                    track_id: format!("TR_{i}"),
                    time_stamp: ts(1_700_001_000 + i, 1),
                    ..Default::default()
                };
                [
                    Item::from_event(event, now, EXPIRATION),
                    Item::from_stat(stat, now, EXPIRATION),
                ]
            })
            .collect()
    };
    let first = make(0..100);
    let second = make(100..250);
    let expected: Vec<String> = first.iter().chain(&second).map(redis_key).collect();

    host.pipeline.accept(first).unwrap();
    wait_until(
        "the first items stored",
        Duration::from_secs(20),
        || async { dbsize(&server) == 200 },
    )
    .await;

    server.stop();
    host.pipeline.accept(second).unwrap();
    wait_until("a failed attempt", Duration::from_secs(20), || async {
        counters.snapshot().failed_batches > 0
    })
    .await;
    // Between attempts, every item not stored is back in the queue.
    wait_until("the items re-queued", Duration::from_secs(10), || async {
        host.pipeline.queued() == 300
    })
    .await;

    server.restart();
    wait_until("every item stored", Duration::from_secs(30), || async {
        host.pipeline.queued() == 0 && dbsize(&server) == 500
    })
    .await;
    let summaries = host.shutdown().await;
    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0].left_queued, 0);

    let mut expected = expected;
    expected.sort();
    assert_eq!(keys(&server), expected);
    for key in expected.iter().step_by(37) {
        assert_ttl(&server, key);
    }
    let counts = counters.snapshot();
    assert_eq!(counts.stored, 500, "{counts:?}");
    assert!(
        counts.retried > 0 && counts.failed_batches > 0,
        "{counts:?}"
    );
}

#[tokio::test]
async fn the_config_switch_builds_the_redis_sink() {
    use analytics_host::config::{Config, ConfigSource};
    let server = RedisServer::start(RedisFlavor::Plain);
    let yaml = format!(
        "redis:\n  address: 127.0.0.1:{}\nopenvidu:\n  analytics:\n    redis: {{enabled: true, mode: plain}}\n",
        server.port()
    );
    let config = Config::parse(&yaml, ConfigSource::Inline("test".into())).unwrap();
    let mut sinks = analytics_host::app::sinks_from_config(&config)
        .await
        .unwrap();
    let names: Vec<&str> = sinks.iter().map(|s| s.name()).collect();
    assert_eq!(names, ["redis"], "the file store is not the default then");
    let sink = &mut sinks[0];
    sink.initialize().await.unwrap();
    let item = room_created("RM_config", 1_700_000_400);
    let report = sink.send_batch(std::slice::from_ref(&item)).await;
    assert_eq!(report, Default::default());
    assert_eq!(
        json(&text(&server.cmd(&["GET", &redis_key(&item)]))),
        json(&item.json())
    );
}
