//! What one gRPC message may cost ([`MessageLimits`]: `ingest.grpc.max_message_records`
//! and `max_message_item_bytes`; `max_message_bytes` is tonic's decoding limit), and what
//! makes one of its records invalid — checked before the record's item is built, so that a
//! message of millions of tiny records is refused at the cost of a pass over its lengths (issue 31: 2 000 000 empty records in a
//! 4 MB message had made 1 GB of items).
//!
//! A record is valid when it carries a timestamp and the identity its type is about:
//!
//! | record | needs |
//! | --- | --- |
//! | stat | `time_stamp`, `room_id` and `participant_id` |
//! | event `ROOM_*` | `timestamp`, a room (`room_id` or `room.sid`) |
//! | event `PARTICIPANT_*` | `timestamp`, a participant (`participant_id` or `participant.sid`) |
//! | event `TRACK_*` | `timestamp`, a track (`track_id` or `track.sid`) |
//! | event `EGRESS_*` / `INGRESS_*` | `timestamp`, `egress_id`/`egress` / `ingress_id`/`ingress` |
//! | event `SIP_*` | `timestamp`, one of the SIP call, trunk or dispatch rule fields |
//! | any other event | `timestamp`, any of the above |
//!
//! livekit-server fills all of these in every record it sends; the check reads only the
//! top-level fields (and the `sid` of `room`, `participant`, `track`), never the rest.

use crate::model::wire::{WireReader, WireValue};
use livekit_protocol::AnalyticsEventType;

/// What one message may cost (`ingest.grpc.max_message_records`, `max_message_item_bytes`).
#[derive(Debug, Clone, Copy)]
pub struct MessageLimits {
    /// Most records in one message.
    pub records: usize,
    /// Most memory the items of one message may take.
    pub item_bytes: u64,
}

/// Why a record is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// The record does not follow the wire format (the walker says where).
    Malformed,
    /// No timestamp.
    NoTimestamp,
    /// Nothing naming what the record is about (see the module's table).
    NoIdentity(&'static str),
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Invalid::Malformed => write!(f, "not a protobuf message"),
            Invalid::NoTimestamp => write!(f, "no timestamp"),
            Invalid::NoIdentity(what) => write!(f, "no {what}"),
        }
    }
}

/// The identities a record names (bits).
const ROOM: u8 = 1;
const PARTICIPANT: u8 = 2;
const TRACK: u8 = 4;
const EGRESS: u8 = 8;
const INGRESS: u8 = 16;
const SIP: u8 = 32;
const OTHER: u8 = 64;

/// Whether a nested message (`room`, `participant`, `track`) has a non-empty field 1 (`sid`).
fn has_sid(bytes: &[u8]) -> bool {
    let mut reader = WireReader::new(bytes);
    while let Ok(Some((number, value))) = reader.field() {
        if let (1, WireValue::Bytes(sid)) = (number, value) {
            return !sid.is_empty();
        }
    }
    false
}

/// Checks an encoded `livekit.AnalyticsEvent`.
pub fn check_event(record: &[u8]) -> Result<(), Invalid> {
    let mut reader = WireReader::new(record);
    let (mut kind, mut stamped, mut named) = (0u64, false, 0u8);
    loop {
        let (number, value) = match reader.field() {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(_) => return Err(Invalid::Malformed),
        };
        let bytes = match value {
            WireValue::Bytes(bytes) => bytes,
            WireValue::Varint(v) if number == 1 => {
                kind = v;
                continue;
            }
            _ => continue,
        };
        named |= match number {
            2 => {
                stamped = true;
                0
            }
            3 if !bytes.is_empty() => ROOM,
            4 if has_sid(bytes) => ROOM,
            5 if !bytes.is_empty() => PARTICIPANT,
            6 if has_sid(bytes) => PARTICIPANT,
            7 if !bytes.is_empty() => TRACK,
            8 if has_sid(bytes) => TRACK,
            13 | 17 if !bytes.is_empty() => EGRESS,
            18 | 19 if !bytes.is_empty() => INGRESS,
            26..=32 | 36 if !bytes.is_empty() => SIP,
            33..=35 if !bytes.is_empty() => OTHER,
            _ => 0,
        };
    }
    if !stamped {
        return Err(Invalid::NoTimestamp);
    }
    let name = i32::try_from(kind)
        .ok()
        .and_then(|k| AnalyticsEventType::try_from(k).ok())
        .map_or("", |t| t.as_str_name());
    let (needs, what) = if name.starts_with("ROOM_") {
        (ROOM, "room (room_id or room.sid)")
    } else if name.starts_with("PARTICIPANT_") {
        (
            PARTICIPANT,
            "participant (participant_id or participant.sid)",
        )
    } else if name.starts_with("TRACK_") {
        (TRACK, "track (track_id or track.sid)")
    } else if name.starts_with("EGRESS_") {
        (EGRESS, "egress (egress_id or egress)")
    } else if name.starts_with("INGRESS_") {
        (INGRESS, "ingress (ingress_id or ingress)")
    } else if name.starts_with("SIP_") {
        (SIP, "SIP call, trunk or dispatch rule")
    } else {
        (
            u8::MAX,
            "room, participant, track, egress, ingress or SIP identity",
        )
    };
    if named & needs == 0 {
        return Err(Invalid::NoIdentity(what));
    }
    Ok(())
}

/// Checks an encoded `livekit.AnalyticsStat`.
pub fn check_stat(record: &[u8]) -> Result<(), Invalid> {
    let mut reader = WireReader::new(record);
    let (mut stamped, mut room, mut participant) = (false, false, false);
    loop {
        match reader.field() {
            Ok(Some((3, WireValue::Bytes(_)))) => stamped = true,
            Ok(Some((5, WireValue::Bytes(b)))) => room = !b.is_empty(),
            Ok(Some((7, WireValue::Bytes(b)))) => participant = !b.is_empty(),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => return Err(Invalid::Malformed),
        }
    }
    if !stamped {
        Err(Invalid::NoTimestamp)
    } else if !room {
        Err(Invalid::NoIdentity("room_id"))
    } else if !participant {
        Err(Invalid::NoIdentity("participant_id"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livekit_protocol as lk;
    use prost::Message;

    fn ts() -> Option<pbjson_types::Timestamp> {
        Some(pbjson_types::Timestamp {
            seconds: 1,
            nanos: 0,
        })
    }

    #[test]
    fn the_issues_empty_record_is_invalid() {
        assert_eq!(check_event(&[]), Err(Invalid::NoTimestamp));
        assert_eq!(check_stat(&[]), Err(Invalid::NoTimestamp));
        assert_eq!(check_event(&[0x0a, 0x05]), Err(Invalid::Malformed));
    }

    #[test]
    fn each_event_type_needs_its_identity() {
        let event = |kind: lk::AnalyticsEventType, f: &dyn Fn(&mut lk::AnalyticsEvent)| {
            let mut e = lk::AnalyticsEvent {
                r#type: kind as i32,
                timestamp: ts(),
                ..Default::default()
            };
            f(&mut e);
            check_event(&e.encode_to_vec())
        };
        use lk::AnalyticsEventType as T;
        assert!(event(T::RoomCreated, &|_| {}).is_err());
        assert!(event(T::RoomCreated, &|e| e.room_id = "RM".into()).is_ok());
        let room = |e: &mut lk::AnalyticsEvent| {
            e.room = Some(lk::Room {
                sid: "RM".into(),
                ..Default::default()
            })
        };
        assert!(event(T::RoomEnded, &room).is_ok());
        assert!(event(T::ParticipantJoined, &room).is_err());
        assert!(event(T::ParticipantJoined, &|e| e.participant_id = "PA".into()).is_ok());
        assert!(event(T::TrackPublished, &|e| e.participant_id = "PA".into()).is_err());
        assert!(event(T::TrackPublished, &|e| e.track_id = "TR".into()).is_ok());
        assert!(event(T::EgressStarted, &|e| e.egress_id = "EG".into()).is_ok());
        assert!(event(T::EgressStarted, &room).is_err());
        assert!(event(T::IngressStarted, &|e| e.ingress_id = "IN".into()).is_ok());
        assert!(event(T::ApiCall, &room).is_ok());
        assert!(event(T::ApiCall, &|_| {}).is_err());
        let mut e = lk::AnalyticsEvent {
            room_id: "RM".into(),
            ..Default::default()
        };
        assert_eq!(check_event(&e.encode_to_vec()), Err(Invalid::NoTimestamp));
        e.timestamp = ts();
        assert_eq!(check_event(&e.encode_to_vec()), Ok(()));
    }

    #[test]
    fn a_stat_needs_a_time_a_room_and_a_participant() {
        let mut s = lk::AnalyticsStat {
            time_stamp: ts(),
            room_id: "RM".into(),
            ..Default::default()
        };
        assert_eq!(
            check_stat(&s.encode_to_vec()),
            Err(Invalid::NoIdentity("participant_id"))
        );
        s.participant_id = "PA".into();
        assert_eq!(check_stat(&s.encode_to_vec()), Ok(()));
        s.time_stamp = None;
        assert_eq!(check_stat(&s.encode_to_vec()), Err(Invalid::NoTimestamp));
    }
}
