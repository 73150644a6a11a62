//! Stats as received: an item straight from one encoded `AnalyticsStat` (the gRPC door's
//! bytes), with no protobuf decode and no re-encode. The top-level fields the item needs
//! are read off the wire, then the document is walked from the same bytes.
//!
//! What a canonical encoder (livekit-server's, prost's) never writes at the top level of a
//! stat — a known field with another wire type, the timestamp in two parts, a string that
//! is not UTF-8 — goes through prost's decoder instead: the same item, or its error. A
//! missing `node` or timestamp is appended to a copy of the bytes (the last occurrence of a
//! field is its value), so the document and the id see them as the decoded path does.

use super::wire::{WireError, WireReader, WireValue};
use super::{id, DocumentFormat, Item, ItemKind, Timestamp};
use livekit_protocol::AnalyticsStat;
use prost::encoding::{encode_key, encode_varint, WireType};
use prost::Message as _;
use std::time::{Duration, SystemTime};

const STAT: &str = "livekit.AnalyticsStat";

/// A record the door cannot store: its bytes do not follow the wire format.
#[derive(Debug, thiserror::Error)]
pub enum EncodedError {
    /// The walk stopped.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// prost's decoder refused it.
    #[error("{0}")]
    Decode(#[from] prost::DecodeError),
}

/// What the item needs from a stat's top-level fields (the last occurrence of each).
#[derive(Default)]
struct Head<'a> {
    kind: i32,
    time_stamp: Option<(i64, i32)>,
    node: &'a str,
    room_id: &'a str,
    room_name: &'a str,
    participant_id: &'a str,
    track_id: &'a str,
    score: f32,
}

pub(super) fn text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

/// A `google.protobuf.Timestamp`'s seconds and nanos, as prost decodes them.
pub(super) fn timestamp(bytes: &[u8]) -> Option<(i64, i32)> {
    let (mut seconds, mut nanos) = (0, 0);
    let mut reader = WireReader::new(bytes);
    while let Some((number, value)) = reader.field().ok()? {
        match (number, value) {
            (1, WireValue::Varint(n)) => seconds = n as i64,
            (2, WireValue::Varint(n)) => nanos = n as i32,
            (1 | 2, _) => return None,
            _ => {}
        }
    }
    Some((seconds, nanos))
}

/// The head of a stat written as a canonical encoder writes it; `None` for anything else.
fn head(bytes: &[u8]) -> Option<Head<'_>> {
    let mut head = Head::default();
    let mut stamps = 0;
    let mut reader = WireReader::new(bytes);
    while let Some((number, value)) = reader.field().ok()? {
        match (number, value) {
            (2, WireValue::Varint(n)) => head.kind = n as i32,
            (3, WireValue::Bytes(b)) => {
                stamps += 1;
                head.time_stamp = Some(timestamp(b)?);
            }
            (4, WireValue::Bytes(b)) => head.node = text(b)?,
            (5, WireValue::Bytes(b)) => head.room_id = text(b)?,
            (6, WireValue::Bytes(b)) => head.room_name = text(b)?,
            (7, WireValue::Bytes(b)) => head.participant_id = text(b)?,
            (8, WireValue::Bytes(b)) => head.track_id = text(b)?,
            (9, WireValue::Fixed32(bits)) => head.score = f32::from_bits(bits),
            (1 | 11 | 14, WireValue::Bytes(b)) => {
                text(b)?;
            }
            (10, WireValue::Bytes(_)) | (12 | 13, WireValue::Fixed32(_)) => {}
            (1..=14, _) => return None,
            _ => {} // unknown to this schema: left out by both paths
        }
    }
    (stamps <= 1).then_some(head)
}

/// The record's node (the door's when it names none) and timestamp (`now` when it has
/// none), and a copy of its bytes with what it lacked appended, if it lacked something:
/// `node` is (its field number, the one on the wire, the door's), `stamp` (its field
/// number, the one on the wire).
pub(super) fn append_node_and_stamp<'a>(
    bytes: &[u8],
    (node_field, wire_node, door_node): (u32, &'a str, &'a str),
    (stamp_field, wire_stamp): (u32, Option<(i64, i32)>),
    now: SystemTime,
) -> (Option<Vec<u8>>, &'a str, (i64, i32)) {
    let node = if wire_node.is_empty() {
        door_node
    } else {
        wire_node
    };
    let ts = wire_stamp.unwrap_or_else(|| {
        let t = Timestamp::from_system_time(now);
        (t.seconds, t.nanos)
    });
    let add_node = wire_node.is_empty() && !node.is_empty();
    if !add_node && wire_stamp.is_some() {
        return (None, node, ts);
    }
    let mut copy = Vec::with_capacity(bytes.len() + node.len() + 32);
    copy.extend_from_slice(bytes);
    if add_node {
        encode_key(node_field, WireType::LengthDelimited, &mut copy);
        encode_varint(node.len() as u64, &mut copy);
        copy.extend_from_slice(node.as_bytes());
    }
    if wire_stamp.is_none() {
        let stamp = pbjson_types::Timestamp {
            seconds: ts.0,
            nanos: ts.1,
        };
        prost::encoding::message::encode(stamp_field, &stamp, &mut copy);
    }
    (Some(copy), node, ts)
}

impl Item {
    /// The item of one encoded `AnalyticsStat` as received, in `format`; `node` is written
    /// when the stat names none, and a missing timestamp is set to `now` (the id depends on
    /// it). The same item as decoding the bytes and calling [`Item::from_stat_as`], which a
    /// property test checks; with `quality`, its [`Item::quality`] is read too (what a sink
    /// that [reads it](crate::sinks::Sink::reads_quality) wants; else it stays `None`).
    pub fn from_encoded_stat(
        format: DocumentFormat,
        bytes: &[u8],
        node: &str,
        now: SystemTime,
        expiration: Duration,
        quality: bool,
    ) -> Result<Item, EncodedError> {
        let Some(head) = head(bytes) else {
            let mut stat = AnalyticsStat::decode(bytes)?;
            if stat.node.is_empty() {
                stat.node = node.to_string();
            }
            return Ok(Item::from_stat_as(format, stat, now, expiration));
        };
        let (patched, node, ts) =
            append_node_and_stamp(bytes, (4, head.node, node), (3, head.time_stamp), now);
        let bytes = patched.as_deref().unwrap_or(bytes);
        let kind_name = super::stat_kind_name_of(head.kind);
        let key = id::stat_key_of(
            [
                head.room_id,
                head.participant_id,
                head.track_id,
                &kind_name,
                node,
            ],
            Some(ts),
        );
        let id = id::md5_hex(&key);
        let document = format.encoded_document_text(bytes, STAT, &id)?;
        let mut item = Item::with_document_text(ItemKind::Stat, id, document, now + expiration);
        item.type_name = kind_name;
        item.timestamp = Timestamp {
            seconds: ts.0,
            nanos: ts.1,
        };
        item.room_id = head.room_id.into();
        item.room_name = head.room_name.into();
        item.participant_id = head.participant_id.into();
        item.track_id = head.track_id.into();
        item.node_id = node.into();
        item.score = head.score;
        if quality {
            item.quality = super::StatQuality::from_wire(bytes, head.kind).map(Box::new);
        }
        Ok(item)
    }
}

#[cfg(test)]
#[path = "wire_stat_tests.rs"]
mod tests;
