//! Items (events, stats) and host settings.

use analytics_host::config::{AnalyticsConfig, RetryConfig};
use analytics_host::model::{DocumentFormat, Item};
use livekit_protocol as lk;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Host settings for tests: short interval and backoff.
pub fn settings() -> AnalyticsConfig {
    let defaults = AnalyticsConfig::default();
    AnalyticsConfig {
        interval: Duration::from_millis(100),
        retry: RetryConfig {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
        },
        send_timeout: Duration::from_secs(10),
        shutdown_timeout: Duration::from_secs(10),
        ..defaults
    }
}

/// A protobuf timestamp, as the messages' optional fields take it.
pub fn ts(seconds: i64, nanos: i32) -> Option<pbjson_types::Timestamp> {
    Some(pbjson_types::Timestamp { seconds, nanos })
}

/// `PARTICIPANT_JOINED` of participant `PA_<n>` (identity `<who>-<n>`) in room `room`, at
/// `seconds` + `n`.
pub fn joined(room: &str, n: u32, who: &str, seconds: i64) -> lk::AnalyticsEvent {
    lk::AnalyticsEvent {
        r#type: lk::AnalyticsEventType::ParticipantJoined as i32,
        timestamp: ts(seconds + i64::from(n), 0),
        room_id: room.into(),
        participant_id: format!("PA_{n}"),
        participant: Some(lk::ParticipantInfo {
            sid: format!("PA_{n}"),
            identity: format!("{who}-{n}"),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `event` as the host's item, received now, expiring in an hour.
pub fn item_now(event: lk::AnalyticsEvent) -> Item {
    Item::from_event(event, SystemTime::now(), Duration::from_secs(3600))
}

/// A participant-joined event, distinct per `n`.
pub fn event(n: u32) -> Item {
    let event = lk::AnalyticsEvent {
        r#type: lk::AnalyticsEventType::ParticipantJoined as i32,
        timestamp: ts(1_700_000_000 + i64::from(n), 0),
        room_id: "RM_abc".into(),
        room: Some(lk::Room {
            sid: "RM_abc".into(),
            name: "demo".into(),
            ..Default::default()
        }),
        participant_id: format!("PA_{n}"),
        participant: Some(lk::ParticipantInfo {
            sid: format!("PA_{n}"),
            identity: format!("user-{n}"),
            ..Default::default()
        }),
        node_id: "ND_1".into(),
        ..Default::default()
    };
    Item::from_event(event, SystemTime::now(), Duration::from_secs(3600))
}

/// An upstream stat of a participant, distinct per `n`.
pub fn stat(n: u32, participant: &str) -> Item {
    let stat = lk::AnalyticsStat {
        kind: lk::StreamType::Upstream as i32,
        time_stamp: ts(1_700_000_000 + i64::from(n), 500),
        node: "ND_1".into(),
        room_id: "RM_abc".into(),
        room_name: "demo".into(),
        participant_id: participant.into(),
        track_id: "TR_1".into(),
        score: 4.5,
        streams: vec![lk::AnalyticsStream {
            ssrc: 1234,
            primary_packets: 100 + n,
            primary_bytes: 10_000 + u64::from(n),
            video_layers: vec![lk::AnalyticsVideoLayer {
                layer: 1,
                packets: 10,
                bytes: 1000,
                frames: 3,
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    Item::from_stat(stat, SystemTime::now(), Duration::from_secs(3600))
}

/// An event with room, participant, track, client info, egress and ingress, its document
/// in `format`.
pub fn full_event_as(format: DocumentFormat) -> Item {
    let event = lk::AnalyticsEvent {
        r#type: lk::AnalyticsEventType::TrackPublished as i32,
        timestamp: ts(1_700_000_000, 250),
        room_id: "RM_abc".into(),
        room: Some(lk::Room {
            sid: "RM_abc".into(),
            name: "demo".into(),
            ..Default::default()
        }),
        participant_id: "PA_1".into(),
        participant: Some(lk::ParticipantInfo {
            sid: "PA_1".into(),
            identity: "alice".into(),
            attributes: [("role".to_string(), "host".to_string())].into(),
            ..Default::default()
        }),
        track_id: "TR_9".into(),
        track: Some(lk::TrackInfo {
            sid: "TR_9".into(),
            r#type: lk::TrackType::Audio as i32,
            ..Default::default()
        }),
        client_info: Some(lk::ClientInfo {
            sdk: lk::client_info::Sdk::Js as i32,
            os: "linux".into(),
            ..Default::default()
        }),
        egress: Some(lk::EgressInfo {
            egress_id: "EG_1".into(),
            started_at: 1_700_000_000_000_000_000,
            request: Some(lk::egress_info::Request::RoomComposite(
                lk::RoomCompositeEgressRequest {
                    room_name: "demo".into(),
                    file_outputs: vec![lk::EncodedFileOutput {
                        filepath: "a.mp4".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            )),
            ..Default::default()
        }),
        ingress: Some(lk::IngressInfo {
            ingress_id: "IN_1".into(),
            ..Default::default()
        }),
        node_id: "ND_1".into(),
        ..Default::default()
    };
    Item::from_event_as(format, event, SystemTime::now(), Duration::from_secs(3600))
}

/// `n` distinct events (alternating types) in room `RM_test`.
pub fn events(n: usize) -> Vec<Item> {
    let now = SystemTime::now();
    (0..n)
        .map(|i| {
            let event = lk::AnalyticsEvent {
                r#type: if i % 2 == 0 {
                    lk::AnalyticsEventType::ParticipantJoined as i32
                } else {
                    lk::AnalyticsEventType::TrackPublished as i32
                },
                timestamp: ts(1_700_000_000 + i as i64, 0),
                room: Some(lk::Room {
                    sid: "RM_test".into(),
                    name: "test-room".into(),
                    ..Default::default()
                }),
                participant_id: format!("PA_{i}"),
                track_id: format!("TR_{i}"),
                node_id: "ND_1".into(),
                ..Default::default()
            };
            Item::from_event(event, now, Duration::from_secs(86_400))
        })
        .collect()
}

/// `n` stats with the given score for participant `PA_{i % 2}` in room `RM_test`, stamped
/// from now on.
pub fn stats(n: usize, score: f32) -> Vec<Item> {
    let now = SystemTime::now();
    let base = now.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    (0..n)
        .map(|i| {
            let stat = lk::AnalyticsStat {
                kind: lk::StreamType::Upstream as i32,
                time_stamp: ts(base + i as i64, 0),
                room_id: "RM_test".into(),
                room_name: "test-room".into(),
                participant_id: format!("PA_{}", i % 2),
                track_id: format!("TR_{}", i % 2),
                node: "ND_1".into(),
                score,
                ..Default::default()
            };
            Item::from_stat(stat, now, Duration::from_secs(86_400))
        })
        .collect()
}

/// A participant-active event as the simulator sends them, distinct per `n` (benches).
pub fn typical_event(n: usize) -> lk::AnalyticsEvent {
    lk::AnalyticsEvent {
        r#type: lk::AnalyticsEventType::ParticipantActive as i32,
        timestamp: ts(1_700_000_000 + n as i64, 0),
        room_id: format!("RM_{}", n % 50),
        room: Some(lk::Room {
            sid: format!("RM_{}", n % 50),
            name: format!("room-{}", n % 50),
            ..Default::default()
        }),
        participant_id: format!("PA_{n}"),
        participant: Some(lk::ParticipantInfo {
            sid: format!("PA_{n}"),
            identity: format!("user-{n}"),
            state: 2,
            joined_at: 1_700_000_000,
            ..Default::default()
        }),
        client_info: Some(lk::ClientInfo {
            sdk: 1,
            version: "2.5.0".into(),
            os: "linux".into(),
            browser: "chrome".into(),
            ..Default::default()
        }),
        node_id: "ND_bench".into(),
        ..Default::default()
    }
}

/// A typical stat, distinct per `n`: one video stream with one layer (benches).
pub fn typical_stat(n: usize) -> lk::AnalyticsStat {
    lk::AnalyticsStat {
        kind: (n % 2) as i32,
        time_stamp: ts(1_700_000_000 + n as i64, 0),
        node: "ND_bench".into(),
        room_id: format!("RM_{}", n % 50),
        room_name: format!("room-{}", n % 50),
        participant_id: format!("PA_{}", n % 500),
        track_id: format!("TR_{}", n % 1000),
        score: 4.2,
        streams: vec![lk::AnalyticsStream {
            ssrc: 12345,
            primary_packets: 1000,
            primary_bytes: 1_200_000,
            packets_lost: 3,
            rtt: 40,
            jitter: 5,
            video_layers: vec![lk::AnalyticsVideoLayer {
                layer: 2,
                packets: 900,
                bytes: 1_000_000,
                frames: 300,
            }],
            ..Default::default()
        }],
        mime: "video/VP8".into(),
        ..Default::default()
    }
}
