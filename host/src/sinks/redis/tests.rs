//! Unit tests of the Redis sink: keys, replies, module lists, connection targets.

use super::connect::*;
use super::keys::*;
use super::write::*;
use super::*;
use crate::model::Item;
use livekit_protocol::{AnalyticsEvent, AnalyticsStat, ParticipantInfo, Room};
use redis::Value;
use std::time::Duration;

fn ts(seconds: i64, nanos: i32) -> Option<pbjson_types::Timestamp> {
    Some(pbjson_types::Timestamp { seconds, nanos })
}

#[test]
fn event_keys_are_hash_tagged_per_room() {
    let now = SystemTime::now();
    let event = AnalyticsEvent {
        r#type: livekit_protocol::AnalyticsEventType::RoomCreated as i32,
        room: Some(Room {
            sid: "RM_x".into(),
            ..Default::default()
        }),
        timestamp: ts(1700000000, 0),
        ..Default::default()
    };
    let item = Item::from_event(event, now, Duration::from_secs(60));
    assert_eq!(redis_key(&item), "event:{RM_x}:ROOM_CREATED:1700000000");

    let joined = AnalyticsEvent {
        r#type: livekit_protocol::AnalyticsEventType::ParticipantJoined as i32,
        room: Some(Room {
            sid: "RM_x".into(),
            ..Default::default()
        }),
        participant: Some(ParticipantInfo {
            sid: "PA_y".into(),
            ..Default::default()
        }),
        timestamp: ts(1700000000, 5),
        ..Default::default()
    };
    let item = Item::from_event(joined, now, Duration::from_secs(60));
    assert_eq!(
        redis_key(&item),
        "event:{RM_x}:PA_y:PARTICIPANT_JOINED:17000000005"
    );
}

#[test]
fn stat_keys_are_hash_tagged_per_room() {
    let stat = AnalyticsStat {
        room_id: "RM_x".into(),
        participant_id: "PA_y".into(),
        track_id: "TR_z".into(),
        time_stamp: ts(1700000000, 42),
        ..Default::default()
    };
    let item = Item::from_stat(stat, SystemTime::now(), Duration::from_secs(60));
    assert_eq!(redis_key(&item), "stat:{RM_x}:PA_y:TR_z:170000000042");
}

#[test]
fn module_names_from_resp2_and_resp3() {
    let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
    let resp2 = Value::Array(vec![
        Value::Array(vec![
            bulk("name"),
            bulk("ReJSON"),
            bulk("ver"),
            Value::Int(1),
        ]),
        Value::Array(vec![bulk("name"), bulk("search")]),
    ]);
    assert_eq!(module_names(&resp2), ["rejson", "search"]);
    let resp3 = Value::Array(vec![Value::Map(vec![(bulk("name"), bulk("ReJSON"))])]);
    assert_eq!(module_names(&resp3), ["rejson"]);
    assert!(module_names(&Value::Array(vec![])).is_empty());
}

#[test]
fn replies_are_checked() {
    assert!(matches!(
        check_replies(&[Value::Okay], false),
        Reply::Stored
    ));
    assert!(matches!(
        check_replies(&[Value::Okay, Value::Int(0)], true),
        Reply::Retry(_)
    ));
    assert!(matches!(
        check_replies(&[Value::Nil], false),
        Reply::Retry(_)
    ));
}

#[test]
fn targets_follow_livekit_precedence() {
    let single = LiveKitRedisConfig {
        address: "127.0.0.1:6379".into(),
        password: "secret".into(),
        db: 2,
        ..Default::default()
    };
    let (single, location) = target(&single, None).unwrap();
    assert!(matches!(single, Target::Single(_)));
    assert_eq!(location, "redis://127.0.0.1:6379/2");
    assert!(!location.contains("secret"));

    let cluster = LiveKitRedisConfig {
        address: "127.0.0.1:6379".into(),
        cluster_addresses: vec!["127.0.0.1:7000".into(), "127.0.0.1:7001".into()],
        ..Default::default()
    };
    assert!(matches!(
        target(&cluster, None).unwrap().0,
        Target::Cluster(_)
    ));

    let sentinel = LiveKitRedisConfig {
        sentinel_master_name: "mymaster".into(),
        sentinel_addresses: vec!["127.0.0.1:26379".into()],
        cluster_addresses: vec!["127.0.0.1:7000".into()],
        ..Default::default()
    };
    let (sentinel, location) = target(&sentinel, None).unwrap();
    assert!(matches!(sentinel, Target::Sentinel(_)));
    assert!(location.contains("mymaster"));
}

#[test]
fn a_call_is_split_in_queue_order_or_per_room() {
    use super::window::{pipelines, PIPELINE_ITEMS};
    let now = SystemTime::now();
    let item = |n: usize| {
        let stat = AnalyticsStat {
            room_id: format!("RM_{}", n % 3),
            participant_id: format!("PA_{n}"),
            time_stamp: ts(1700000000, n as i32),
            ..Default::default()
        };
        std::sync::Arc::new(Item::from_stat(stat, now, Duration::from_secs(60)))
    };
    let batch: Vec<_> = (0..2 * PIPELINE_ITEMS + 5).map(item).collect();
    let chunks = pipelines(&batch, false);
    assert_eq!(
        chunks.iter().map(Vec::len).collect::<Vec<_>>(),
        [PIPELINE_ITEMS, PIPELINE_ITEMS, 5]
    );
    assert_eq!(chunks.concat(), (0..batch.len()).collect::<Vec<_>>());
    let rooms = pipelines(&batch, true);
    assert_eq!(rooms.len(), 3);
    for room in &rooms {
        assert!(
            room.windows(2).all(|w| w[0] < w[1]),
            "queue order in a room"
        );
        assert!(room
            .iter()
            .all(|&i| batch[i].room_id == batch[room[0]].room_id));
    }
    assert!(pipelines(&[], false).is_empty());
}
