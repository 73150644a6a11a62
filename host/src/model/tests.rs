use super::*;
use livekit_protocol as lk;
use livekit_protocol::{AnalyticsEvent, AnalyticsEventType, AnalyticsStat, StreamType};
use serde_json::json;
use std::time::Duration;

fn ts(seconds: i64, nanos: i32) -> Option<pbjson_types::Timestamp> {
    Some(pbjson_types::Timestamp { seconds, nanos })
}

fn room(sid: &str) -> Option<lk::Room> {
    Some(lk::Room {
        sid: sid.into(),
        name: "demo".into(),
        ..Default::default()
    })
}

const NOW: Duration = Duration::from_secs(1_800_000_000);
const DAY: Duration = Duration::from_secs(86_400);

/// Documents of the `typed` format (the `openvidu` format is checked against the fork's
/// golden documents in `host/tests/openvidu_format.rs`).
fn event_item(event: AnalyticsEvent) -> Item {
    Item::from_event_as(DocumentFormat::Typed, event, UNIX_EPOCH + NOW, DAY)
}

// Expected ids computed independently: printf '%s' KEY | md5sum
#[test]
fn event_id_with_room_participant_track_nanos_zero() {
    let event = AnalyticsEvent {
        r#type: AnalyticsEventType::TrackPublished as i32,
        timestamp: ts(1_700_000_000, 0),
        room: room("RM_abc"),
        participant_id: "PA_1".into(),
        track_id: "TR_9".into(),
        ..Default::default()
    };
    assert_eq!(
        event_key(&event, "TRACK_PUBLISHED"),
        "RM_abc:PA_1:TR_9:TRACK_PUBLISHED:1700000000"
    );
    assert_eq!(event_item(event).id, "ebf093c98831eba1207978e6c51fe3fa");
}

#[test]
fn event_id_with_nanos_and_no_participant_or_track() {
    let event = AnalyticsEvent {
        r#type: AnalyticsEventType::RoomCreated as i32,
        timestamp: ts(1_700_000_000, 5000),
        room: room("RM_abc"),
        ..Default::default()
    };
    assert_eq!(event_item(event).id, "9dd0d686d192f29435ab27e4424f725f");
}

#[test]
fn event_id_without_room() {
    let event = AnalyticsEvent {
        r#type: AnalyticsEventType::ParticipantJoined as i32,
        timestamp: ts(1_700_000_001, 0),
        room_id: "RM_ignored_without_room_message".into(),
        participant_id: "PA_1".into(),
        ..Default::default()
    };
    assert_eq!(event_item(event).id, "f7f7eae45ffd6fe84fe7d55c72cd3a0d");
}

#[test]
fn stat_ids() {
    let stat = AnalyticsStat {
        kind: StreamType::Upstream as i32,
        time_stamp: ts(1_700_000_002, 123_456_789),
        room_id: "RM_abc".into(),
        participant_id: "PA_1".into(),
        track_id: "TR_9".into(),
        node: "ND_1".into(),
        ..Default::default()
    };
    let item = Item::from_stat_as(DocumentFormat::Typed, stat, UNIX_EPOCH + NOW, DAY);
    assert_eq!(item.id, "474a4a4840b17e34031c1d4e630ed77f");
    let stat = AnalyticsStat {
        kind: StreamType::Downstream as i32,
        time_stamp: ts(1_700_000_003, 0),
        room_id: "RM_abc".into(),
        node: "ND_1".into(),
        ..Default::default()
    };
    assert_eq!(
        Item::from_stat_as(DocumentFormat::Typed, stat, UNIX_EPOCH + NOW, DAY).id,
        "637fca6911352af9b973fd3fbc2f7b5f"
    );
}

#[test]
fn missing_timestamp_is_the_receive_time() {
    let item = event_item(AnalyticsEvent {
        room: room("RM_x"),
        ..Default::default()
    });
    assert_eq!(
        item.timestamp,
        Timestamp {
            seconds: NOW.as_secs() as i64,
            nanos: 0
        }
    );
    assert_eq!(
        item.id,
        md5_hex(&format!("RM_x:ROOM_CREATED:{}", NOW.as_secs()))
    );
    assert_eq!(
        item.document()["timestamp"],
        json!({"seconds": NOW.as_secs(), "nanos": 0})
    );
}

fn full_event() -> AnalyticsEvent {
    let track = lk::TrackInfo {
        sid: "TR_9".into(),
        r#type: lk::TrackType::Video as i32,
        name: "camera".into(),
        width: 1280,
        height: 720,
        source: lk::TrackSource::Camera as i32,
        mime_type: "video/VP8".into(),
        ..Default::default()
    };
    let participant = lk::ParticipantInfo {
        sid: "PA_1".into(),
        identity: "alice".into(),
        state: lk::participant_info::State::Active as i32,
        joined_at: 1_700_000_000,
        joined_at_ms: 1_700_000_000_123,
        name: "Alice".into(),
        attributes: [("roleName".to_string(), "host".to_string())].into(),
        ..Default::default()
    };
    let egress = lk::EgressInfo {
        egress_id: "EG_1".into(),
        room_id: "RM_abc".into(),
        room_name: "demo".into(),
        status: lk::EgressStatus::EgressComplete as i32,
        started_at: 1_700_000_000_000_000_000,
        file_results: vec![lk::FileInfo {
            filename: "demo.mp4".into(),
            size: 5_000_000_000,
            duration: 60_000_000_000,
            ..Default::default()
        }],
        request: Some(lk::egress_info::Request::RoomComposite(
            lk::RoomCompositeEgressRequest {
                room_name: "demo".into(),
                layout: "grid".into(),
                file_outputs: vec![lk::EncodedFileOutput {
                    file_type: lk::EncodedFileType::Mp4 as i32,
                    filepath: "recordings/demo.mp4".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )),
        ..Default::default()
    };
    let ingress = lk::IngressInfo {
        ingress_id: "IN_1".into(),
        input_type: lk::IngressInput::WhipInput as i32,
        room_name: "demo".into(),
        enable_transcoding: Some(false),
        state: Some(lk::IngressState {
            status: lk::ingress_state::Status::EndpointPublishing as i32,
            room_id: "RM_abc".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    AnalyticsEvent {
        id: "AE_1".into(),
        r#type: AnalyticsEventType::TrackPublished as i32,
        timestamp: ts(1_700_000_000, 250),
        room_id: "RM_abc".into(),
        room: room("RM_abc"),
        participant_id: "PA_1".into(),
        participant: Some(participant),
        track_id: "TR_9".into(),
        track: Some(track),
        client_info: Some(lk::ClientInfo {
            sdk: lk::client_info::Sdk::Js as i32,
            version: "2.5.0".into(),
            os: "linux".into(),
            browser: "firefox".into(),
            ..Default::default()
        }),
        egress_id: "EG_1".into(),
        egress: Some(egress),
        ingress_id: "IN_1".into(),
        ingress: Some(ingress),
        node_id: "ND_1".into(),
        ..Default::default()
    }
}

#[test]
fn full_event_document_shape() {
    let item = event_item(full_event());
    let doc = Value::Object(item.document());
    let document = item.document();
    let keys: Vec<&str> = document.keys().map(String::as_str).collect();
    assert_eq!(keys[0], "_id");
    assert_eq!(doc["_id"], json!(item.id));
    assert_eq!(doc["type"], json!("TRACK_PUBLISHED"));
    assert_eq!(
        doc["timestamp"],
        json!({"seconds": 1_700_000_000i64, "nanos": 250})
    );
    assert_eq!(doc["room_id"], json!("RM_abc"));
    // zero scalars are left out; enums are always written by name
    assert_eq!(doc["room"], json!({"sid": "RM_abc", "name": "demo"}));
    assert_eq!(
        doc["participant"],
        json!({
            "sid": "PA_1", "identity": "alice", "state": "ACTIVE",
            "joined_at": 1_700_000_000i64, "joined_at_ms": 1_700_000_000_123i64,
            "name": "Alice", "kind": "STANDARD",
            "attributes": {"roleName": "host"}, "disconnect_reason": "UNKNOWN_REASON",
            "client_protocol": 0
        })
        .as_object()
        .map(|o| {
            let mut o = o.clone();
            // client_protocol is a plain int32 in this protocol version: zero is left out
            o.remove("client_protocol");
            Value::Object(o)
        })
        .unwrap()
    );
    assert_eq!(
        doc["track"],
        json!({
            "sid": "TR_9", "type": "VIDEO", "name": "camera", "width": 1280, "height": 720,
            "source": "CAMERA", "mime_type": "video/VP8",
            "encryption": "NONE", "backup_codec_policy": "PREFER_REGRESSION"
        })
    );
    assert_eq!(doc["client_info"]["sdk"], json!("JS"));
    assert_eq!(doc["client_info"]["browser"], json!("firefox"));
    assert!(doc["client_info"].get("address").is_none());
    let egress = &doc["egress"];
    assert_eq!(egress["status"], json!("EGRESS_COMPLETE"));
    assert_eq!(egress["started_at"], json!(1_700_000_000_000_000_000i64));
    assert_eq!(
        egress["file_results"],
        json!([{"filename": "demo.mp4", "duration": 60_000_000_000i64, "size": 5_000_000_000i64}])
    );
    let request = &egress["room_composite"];
    assert_eq!(request["layout"], json!("grid"));
    assert_eq!(request["file_outputs"][0]["file_type"], json!("MP4"));
    assert_eq!(
        request["file_outputs"][0]["filepath"],
        json!("recordings/demo.mp4")
    );
    assert_eq!(doc["ingress"]["input_type"], json!("WHIP_INPUT"));
    assert_eq!(
        doc["ingress"]["enable_transcoding"],
        json!(false),
        "explicit presence keeps false"
    );
    assert_eq!(
        doc["ingress"]["state"]["status"],
        json!("ENDPOINT_PUBLISHING")
    );
    assert_eq!(doc["node_id"], json!("ND_1"));
    assert!(doc.get("error").is_none() && doc.get("mime").is_none());
    assert!(doc.get(EXPIRE_FIELD).is_none());

    assert_eq!(item.type_name, "TRACK_PUBLISHED");
    assert_eq!(item.room_name, "demo");
    assert_eq!(item.participant_identity, "alice");
    let json: Value = serde_json::from_str(&item.json()).unwrap();
    assert_eq!(json[EXPIRE_FIELD], json!("2027-01-16T08:00:00.000Z"));
    assert_eq!(json["type"], doc["type"]);
}

#[test]
fn stat_document_with_streams_and_layers() {
    let stat = AnalyticsStat {
        id: "AS_1".into(),
        kind: StreamType::Upstream as i32,
        time_stamp: ts(1_700_000_002, 5),
        node: "ND_1".into(),
        room_id: "RM_abc".into(),
        room_name: "demo".into(),
        participant_id: "PA_1".into(),
        track_id: "TR_9".into(),
        score: 4.2,
        mime: "video/VP8".into(),
        min_score: 3.5,
        median_score: 4.0,
        streams: vec![AnalyticsStream {
            ssrc: 3_000_000_000,
            primary_packets: 1000,
            primary_bytes: 9_000_000_000,
            packets_lost: 3,
            rtt: 40,
            jitter: 7,
            nacks: 2,
            video_layers: vec![
                lk::AnalyticsVideoLayer {
                    layer: 0,
                    packets: 500,
                    bytes: 400_000,
                    frames: 30,
                },
                lk::AnalyticsVideoLayer {
                    layer: 2,
                    packets: 800,
                    bytes: 900_000,
                    frames: 30,
                },
            ],
            start_time: ts(1_700_000_000, 0),
            end_time: ts(1_700_000_002, 0),
            ..Default::default()
        }],
        ..Default::default()
    };
    let item = Item::from_stat_as(DocumentFormat::Typed, stat, UNIX_EPOCH + NOW, DAY);
    let expected = json!({
        "_id": item.id,
        "id": "AS_1",
        "kind": "UPSTREAM",
        "time_stamp": {"seconds": 1_700_000_002i64, "nanos": 5},
        "node": "ND_1",
        "room_id": "RM_abc",
        "room_name": "demo",
        "participant_id": "PA_1",
        "track_id": "TR_9",
        "score": 4.2,
        "streams": [{
            "ssrc": 3_000_000_000u32,
            "primary_packets": 1000,
            "primary_bytes": 9_000_000_000u64,
            "packets_lost": 3,
            "rtt": 40,
            "jitter": 7,
            "nacks": 2,
            "video_layers": [
                {"packets": 500, "bytes": 400_000, "frames": 30},
                {"layer": 2, "packets": 800, "bytes": 900_000, "frames": 30}
            ],
            "start_time": {"seconds": 1_700_000_000i64, "nanos": 0},
            "end_time": {"seconds": 1_700_000_002i64, "nanos": 0}
        }],
        "mime": "video/VP8",
        "min_score": 3.5,
        "median_score": 4.0
    });
    assert_eq!(Value::Object(item.document()), expected);
    assert_eq!(item.score, 4.2);
    assert_eq!(item.type_name, "UPSTREAM");
}

#[test]
fn an_id_given_and_append_field_write_the_text_set_field_would() {
    for format in [DocumentFormat::Openvidu, DocumentFormat::Typed] {
        let event = || lk::AnalyticsEvent {
            r#type: lk::AnalyticsEventType::RoomCreated as i32,
            timestamp: ts(1_764_280_000, 5),
            room: room("RM_1"),
            ..Default::default()
        };
        let raw = json!({"event": "room_started", "id": "EV_\"1"});
        let now = UNIX_EPOCH + NOW;
        let mut fast = Item::from_event_with_id(format, event(), "webhook-id".into(), now, DAY);
        fast.append_field("raw", &raw);
        let mut slow = Item::from_event_as(format, event(), now, DAY);
        slow.set_field("_id", json!("webhook-id"));
        slow.set_field("raw", raw.clone());
        assert_eq!(fast.document_text(), slow.document_text(), "{format:?}");
        assert!(fast.document_text().starts_with(r#"{"_id":"webhook-id","#));
        assert_eq!(fast.id, "webhook-id");
    }
}

#[test]
fn a_cached_expiry_text_follows_each_item() {
    let mut expiry = ExpiryText::default();
    // Repeats (the cache used), changes back and forth, and a millisecond apart.
    for millis in [
        0,
        0,
        1_000,
        1_000,
        1,
        1_796_076_633_183,
        1_000,
        1_796_076_633_184,
    ] {
        let at = UNIX_EPOCH + Duration::from_millis(millis);
        let item = Item::with_document_text(ItemKind::Event, "x".into(), r#"{"_id":"x"}"#, at);
        let mut line = String::new();
        item.push_json_with(&mut line, &mut expiry);
        assert_eq!(line, item.json(), "expiry {millis} ms");
    }
}
