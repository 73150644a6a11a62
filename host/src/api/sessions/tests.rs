use super::*;
use serde_json::{json, Value};

fn row(ts: f64, kind: &str, participant: &str, track: &str) -> EventRow {
    EventRow {
        ts,
        kind: kind.into(),
        room_sid: "RM_a".into(),
        room_name: "demo".into(),
        node_id: "ND_1".into(),
        participant_sid: participant.into(),
        identity: if participant.is_empty() { "" } else { "bob" }.into(),
        track_sid: track.into(),
        track_type: if track.is_empty() { "" } else { "AUDIO" }.into(),
        ..Default::default()
    }
}

#[test]
fn a_room_folds_into_its_session() {
    let rows = vec![
        row(10.0, "ROOM_CREATED", "", ""),
        row(11.0, "PARTICIPANT_JOINED", "PA_1", ""),
        row(12.0, "TRACK_PUBLISHED", "PA_1", "TR_1"),
        row(13.0, "PARTICIPANT_JOINED", "PA_2", ""),
        row(20.0, "TRACK_UNPUBLISHED", "PA_1", "TR_1"),
        row(21.0, "PARTICIPANT_LEFT", "PA_1", ""),
        row(30.0, "ROOM_ENDED", "", ""),
    ];
    let detail = detail(&rows).unwrap();
    let s = &detail.session;
    assert_eq!(
        (s.started_at, s.ended_at, s.duration_seconds),
        (10.0, Some(30.0), 20.0)
    );
    assert_eq!(
        (s.participants, s.tracks, s.events, s.open),
        (2, 1, 7, false)
    );
    assert!(detail.participants[0].publisher && !detail.participants[1].publisher);
    assert_eq!(detail.participants[0].left_at, Some(21.0));
    assert_eq!(detail.tracks[0].unpublished_at, Some(20.0));
    assert_eq!(detail.timeline.len(), 7);
    let open = sessions(&rows[..4]);
    assert!(open[0].open && open[0].ended_at.is_none());
    assert_eq!(open[0].duration_seconds, 3.0);
}

#[test]
fn both_document_formats_read_alike() {
    let openvidu = json!({"type": "TRACK_PUBLISHED", "timestamp": {"seconds": 1.7e9, "nanos": 5e8},
        "room": {"sid": "RM_a", "name": "demo"}, "participant": {"sid": "PA_1", "identity": "bob"},
        "track": {"sid": "TR_1", "type": 1.0, "source": "CAMERA", "mime_type": "video/VP8"}});
    let typed = json!({"type": "TRACK_PUBLISHED", "timestamp": {"seconds": 1_700_000_000i64, "nanos": 500_000_000},
        "room": {"sid": "RM_a", "name": "demo"}, "participant": {"sid": "PA_1", "identity": "bob"},
        "track": {"sid": "TR_1", "type": "VIDEO", "source": "CAMERA", "mime_type": "video/VP8"}});
    let a = EventRow::from_document(&openvidu).unwrap();
    assert_eq!(a, EventRow::from_document(&typed).unwrap());
    assert_eq!((a.ts, a.track_type.as_str()), (1_700_000_000.5, "VIDEO"));
    // Audio and an unknown source are zero: the fork's format leaves them out.
    let audio =
        EventRow::from_document(&json!({"type": "TRACK_PUBLISHED", "track": {"sid": "TR_2"}}));
    let audio = audio.unwrap();
    assert_eq!(
        (audio.track_type.as_str(), audio.track_source.as_str()),
        ("AUDIO", "UNKNOWN")
    );
    let none = EventRow::from_document(&json!({"type": "ROOM_CREATED"})).unwrap();
    assert_eq!(none.track_type, "");
}

#[test]
fn a_row_from_the_item_is_the_row_from_its_document() {
    use crate::model::{DocumentFormat, Item};
    use livekit_protocol as lk;
    use std::time::{Duration, UNIX_EPOCH};
    for format in [DocumentFormat::Openvidu, DocumentFormat::Typed] {
        for (track_type, source) in [(0, 0), (1, 1), (2, 3)] {
            let event = lk::AnalyticsEvent {
                r#type: lk::AnalyticsEventType::TrackPublished as i32,
                timestamp: Some(pbjson_types::Timestamp {
                    seconds: 1_764_280_000,
                    nanos: 250,
                }),
                room_id: "RM_1".into(),
                room: Some(lk::Room {
                    sid: "RM_1".into(),
                    name: "demo".into(),
                    ..Default::default()
                }),
                participant_id: "PA_1".into(),
                participant: Some(lk::ParticipantInfo {
                    sid: "PA_1".into(),
                    identity: "alice".into(),
                    ..Default::default()
                }),
                track_id: "TR_1".into(),
                track: Some(lk::TrackInfo {
                    sid: "TR_1".into(),
                    r#type: track_type,
                    source,
                    mime_type: "video/VP8".into(),
                    ..Default::default()
                }),
                node_id: "ND_1".into(),
                ..Default::default()
            };
            let item = Item::from_event_as(format, event, UNIX_EPOCH, Duration::from_secs(60));
            let document: Value = serde_json::from_str(item.document_text()).unwrap();
            let from_document = EventRow::from_document(&document).unwrap();
            assert_eq!(
                EventRow::from_item(&item),
                from_document,
                "{format:?} {document}"
            );
        }
    }
}

#[test]
fn rows_of_the_newer_event_types_from_the_item_and_from_the_document_agree() {
    use crate::model::{DocumentFormat, Item};
    use livekit_protocol as lk;
    use std::time::{Duration, UNIX_EPOCH};
    let at = Some(pbjson_types::Timestamp {
        seconds: 1_764_280_000,
        nanos: 0,
    });
    let events = [
        lk::AnalyticsEvent {
            r#type: lk::AnalyticsEventType::Webhook as i32,
            timestamp: at,
            webhook: Some(lk::WebhookInfo {
                event: "room_started".into(),
                room_id: "RM_1".into(),
                http_status_code: 500,
                queue_duration_ns: 7_000_000,
                send_duration_ns: 1_000_000,
                url: "http://hooks".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
        lk::AnalyticsEvent {
            r#type: lk::AnalyticsEventType::ApiCall as i32,
            timestamp: at,
            api_call: Some(lk::ApiCallInfo {
                service: "RoomService".into(),
                method: "CreateRoom".into(),
                status: 200,
                room_id: "RM_1".into(),
                duration_ns: 9_000_000,
                ..Default::default()
            }),
            ..Default::default()
        },
        lk::AnalyticsEvent {
            r#type: lk::AnalyticsEventType::RoomEnded as i32,
            timestamp: at,
            room_id: "RM_1".into(),
            room_end_reason: lk::RoomEndReason::RoomEndIdleTimeout as i32,
            ..Default::default()
        },
    ];
    for format in [DocumentFormat::Openvidu, DocumentFormat::Typed] {
        for event in events.clone() {
            let item = Item::from_event_as(format, event, UNIX_EPOCH, Duration::from_secs(60));
            let document: Value = serde_json::from_str(item.document_text()).unwrap();
            let row = EventRow::from_item(&item);
            assert_eq!(
                row,
                EventRow::from_document(&document).unwrap(),
                "{format:?} {document}"
            );
            assert_eq!(row.room_sid, "RM_1", "{document}");
            match row.kind.as_str() {
                "WEBHOOK" => {
                    let w = row.webhook().expect("a delivery");
                    assert_eq!((w.http_status, w.failed, w.queue_ms), (500, true, 7.0));
                }
                "API_CALL" => {
                    let c = row.api_call().expect("a call");
                    assert_eq!(
                        (c.method.as_str(), c.failed, c.duration_ms),
                        ("CreateRoom", false, 9.0)
                    );
                }
                _ => assert_eq!(row.reason, "ROOM_END_IDLE_TIMEOUT", "{document}"),
            }
        }
    }
}
