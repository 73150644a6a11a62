//! Items and settings shared by the integration tests.
#![allow(dead_code)]

use analytics_host::config::{AnalyticsConfig, RetryConfig};
use analytics_host::model::Item;
use livekit_protocol as lk;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

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

fn ts(seconds: i64, nanos: i32) -> Option<pbjson_types::Timestamp> {
    Some(pbjson_types::Timestamp { seconds, nanos })
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

/// An event with room, participant, track, client info, egress and ingress.
pub fn full_event() -> Item {
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
    Item::from_event(event, SystemTime::now(), Duration::from_secs(3600))
}

/// Polls `check` until it is true; panics after `limit`.
pub async fn wait_until<F, Fut>(limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < limit,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
