//! Events as received: an item straight from one encoded `AnalyticsEvent` (the gRPC door's
//! bytes), as `wire_stat.rs` does for stats. The head the item and its id need — type,
//! timestamp, node, the room's, participant's and track's ids, the room name and the
//! identity — is read off the wire; anything a canonical encoder would not write there (a
//! known field with another wire type, one of those messages in two parts, a string that
//! is not UTF-8) goes through prost's decoder instead.

use super::wire::{WireReader, WireValue};
use super::wire_stat::{append_node_and_stamp, text, timestamp, EncodedError};
use super::{id, DocumentFormat, Item, ItemKind, Timestamp};
use livekit_protocol::AnalyticsEvent;
use prost::Message as _;
use std::time::{Duration, SystemTime};

const EVENT: &str = "livekit.AnalyticsEvent";

/// What the item needs from an event's head (the last occurrence of each field).
#[derive(Default)]
struct Head<'a> {
    kind: i32,
    timestamp: Option<(i64, i32)>,
    room_id: &'a str,
    /// `room` is on the wire (its sid and name).
    room: Option<(&'a str, &'a str)>,
    participant_id: &'a str,
    /// `participant`'s sid and identity.
    participant: Option<(&'a str, &'a str)>,
    track_id: &'a str,
    /// `track`'s sid.
    track: Option<&'a str>,
    node_id: &'a str,
}

/// Fields 1 and 2 (strings) of a `Room`, `ParticipantInfo` or `TrackInfo`; `None` when
/// either has another wire type or is not UTF-8.
fn first_two_strings(bytes: &[u8]) -> Option<(&str, &str)> {
    let (mut one, mut two) = ("", "");
    let mut reader = WireReader::new(bytes);
    while let Some((number, value)) = reader.field().ok()? {
        match (number, value) {
            (1, WireValue::Bytes(b)) => one = text(b)?,
            (2, WireValue::Bytes(b)) => two = text(b)?,
            (1 | 2, _) => return None,
            _ => {} // the walk reads the rest
        }
    }
    Some((one, two))
}

/// The head of an event written as a canonical encoder writes it; `None` for anything else.
fn head(bytes: &[u8]) -> Option<Head<'_>> {
    let mut head = Head::default();
    let mut seen = [0u8; 4]; // timestamp, room, participant, track
    let mut reader = WireReader::new(bytes);
    while let Some((number, value)) = reader.field().ok()? {
        match (number, value) {
            (1, WireValue::Varint(n)) => head.kind = n as i32,
            (2, WireValue::Bytes(b)) => {
                seen[0] += 1;
                head.timestamp = Some(timestamp(b)?);
            }
            (3, WireValue::Bytes(b)) => head.room_id = text(b)?,
            (4, WireValue::Bytes(b)) => {
                seen[1] += 1;
                head.room = Some(first_two_strings(b)?);
            }
            (5, WireValue::Bytes(b)) => head.participant_id = text(b)?,
            (6, WireValue::Bytes(b)) => {
                seen[2] += 1;
                head.participant = Some(first_two_strings(b)?);
            }
            (7, WireValue::Bytes(b)) => head.track_id = text(b)?,
            (8, WireValue::Bytes(b)) => {
                seen[3] += 1;
                // TrackInfo's field 2 is its type (a varint): only the sid is read.
                head.track = Some(track_sid(b)?);
            }
            (24, WireValue::Bytes(b)) => head.node_id = text(b)?,
            (10 | 13 | 16 | 19 | 20 | 25 | 26 | 28 | 31, WireValue::Bytes(b)) => {
                text(b)?;
            }
            (11 | 12 | 15 | 17 | 18 | 21 | 27 | 29 | 30 | 32..=36, WireValue::Bytes(_)) => {}
            (14 | 22 | 37, WireValue::Varint(_)) => {}
            (1..=37, _) => return None,
            _ => {} // unknown to this schema: left out by both paths
        }
    }
    seen.iter().all(|&n| n <= 1).then_some(head)
}

/// A `TrackInfo`'s sid (field 1).
fn track_sid(bytes: &[u8]) -> Option<&str> {
    let mut sid = "";
    let mut reader = WireReader::new(bytes);
    while let Some((number, value)) = reader.field().ok()? {
        match (number, value) {
            (1, WireValue::Bytes(b)) => sid = text(b)?,
            (1, _) => return None,
            _ => {}
        }
    }
    Some(sid)
}

impl Item {
    /// The item of one encoded `AnalyticsEvent` as received, in `format`; `node` is written
    /// when the event names none, and a missing timestamp is set to `now`. The same item as
    /// decoding the bytes and calling [`Item::from_event_as`], which a property test checks.
    pub fn from_encoded_event(
        format: DocumentFormat,
        bytes: &[u8],
        node: &str,
        now: SystemTime,
        expiration: Duration,
    ) -> Result<Item, EncodedError> {
        let Some(head) = head(bytes) else {
            let mut event = AnalyticsEvent::decode(bytes)?;
            if event.node_id.is_empty() {
                event.node_id = node.to_string();
            }
            return Ok(Item::from_event_as(format, event, now, expiration));
        };
        let (patched, node, ts) =
            append_node_and_stamp(bytes, (24, head.node_id, node), (2, head.timestamp), now);
        let bytes = patched.as_deref().unwrap_or(bytes);
        let type_name = super::event_type_name_of(head.kind);
        let key = id::event_key_of(
            head.room.map(|(sid, _)| sid),
            [head.participant_id, head.track_id],
            &type_name,
            Some(ts),
        );
        let id = id::md5_hex(&key);
        let document = format.encoded_document_text(bytes, EVENT, &id)?;
        let mut item = Item::with_document_text(ItemKind::Event, id, document, now + expiration);
        item.type_name = type_name;
        item.timestamp = Timestamp {
            seconds: ts.0,
            nanos: ts.1,
        };
        let (room_sid, room_name) = head.room.unzip();
        item.room_id = room_sid
            .filter(|s| !s.is_empty())
            .unwrap_or(head.room_id)
            .into();
        item.room_name = room_name.unwrap_or_default().into();
        let (participant_sid, identity) = head.participant.unzip();
        item.participant_id = if head.participant_id.is_empty() {
            participant_sid.unwrap_or_default()
        } else {
            head.participant_id
        }
        .into();
        item.participant_identity = identity.unwrap_or_default().into();
        item.track_id = if head.track_id.is_empty() {
            head.track.unwrap_or_default()
        } else {
            head.track_id
        }
        .into();
        item.node_id = node.into();
        Ok(item)
    }
}

#[cfg(test)]
#[path = "wire_event_tests.rs"]
mod tests;
