//! The MongoDB layout of the fork that OpenVidu 3.9 ships: its indexes, and events that
//! start and end the entities of its `active_entities`.

use analytics_host::model::{DocumentFormat, Item};
use livekit_protocol as lk;
use std::time::{Duration, SystemTime};

/// Every index the fork creates, by collection, by the names its driver gives them.
pub const FORK_INDEXES: &[(&str, &[&str])] = &[
    (
        "events",
        &[
            "type_1",
            "room.sid_1",
            "participant.sid_1",
            "timestamp.seconds_1",
            "openvidu_expire_at_1",
            "participant_id_1_type_1",
            "egress_id_1_type_1",
            "room.sid_1_type_1",
        ],
    ),
    (
        "stats",
        &[
            "room_id_1",
            "participant_id_1",
            "track_id_1",
            "kind_1",
            "time_stamp.seconds_1",
            "score_1",
            "openvidu_expire_at_1",
        ],
    ),
    ("active_entities", &["entity_1"]),
];

/// An event of type `kind` for the entity `id` at `seconds`, with the fields the fork reads
/// the entity's id from (and a room, as LiveKit sends it), in the default format.
pub fn entity_event(kind: lk::AnalyticsEventType, id: &str, seconds: i64) -> Item {
    entity_event_as(DocumentFormat::Openvidu, kind, id, seconds)
}

/// [`entity_event`] in `format`.
pub fn entity_event_as(
    format: DocumentFormat,
    kind: lk::AnalyticsEventType,
    id: &str,
    seconds: i64,
) -> Item {
    use lk::AnalyticsEventType as T;
    let room_sid = match kind {
        T::RoomCreated | T::RoomEnded => id.to_string(),
        _ => "RM_fork".to_string(),
    };
    let mut event = lk::AnalyticsEvent {
        r#type: kind as i32,
        timestamp: Some(pbjson_types::Timestamp { seconds, nanos: 0 }),
        room_id: room_sid.clone(),
        room: Some(lk::Room {
            sid: room_sid,
            name: "fork".into(),
            creation_time: seconds,
            ..Default::default()
        }),
        node_id: "ND_fork".into(),
        ..Default::default()
    };
    match kind {
        T::ParticipantActive | T::ParticipantLeft => {
            event.participant_id = id.into();
            event.participant = Some(lk::ParticipantInfo {
                sid: id.into(),
                identity: format!("user-{id}"),
                joined_at: seconds,
                ..Default::default()
            });
        }
        T::EgressStarted | T::EgressEnded => event.egress_id = id.into(),
        T::IngressStarted | T::IngressEnded => {
            event.ingress = Some(lk::IngressInfo {
                ingress_id: format!("IN_{id}"),
                state: Some(lk::IngressState {
                    resource_id: id.into(),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        _ => {}
    }
    Item::from_event_as(format, event, SystemTime::now(), Duration::from_secs(3600))
}
