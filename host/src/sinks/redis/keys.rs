//! The key layout of the Redis sink: one key per item, hash-tagged per room so a Redis
//! Cluster keeps a room on one slot, and the RediSearch indexes over them.

use crate::model::{id, Item, ItemKind};
use std::fmt::Write as _;

/// The RediSearch index over event documents.
pub const EVENTS_INDEX: &str = "idx:events";
/// The RediSearch index over stat documents.
pub const STATS_INDEX: &str = "idx:stats";

/// The RediSearch schema of each kind: (JSON path, attribute name, field type).
pub fn index_schema(kind: ItemKind) -> &'static [(&'static str, &'static str, &'static str)] {
    match kind {
        ItemKind::Event => &[
            ("$.type", "type", "TAG"),
            ("$.room.sid", "room_sid", "TAG"),
            ("$.participant.sid", "participant_sid", "TAG"),
            ("$.timestamp.seconds", "timestamp", "NUMERIC"),
        ],
        ItemKind::Stat => &[
            ("$.room_id", "room_id", "TAG"),
            ("$.participant_id", "participant_id", "TAG"),
            ("$.track_id", "track_id", "TAG"),
            ("$.kind", "kind", "TAG"),
            ("$.time_stamp.seconds", "time_stamp", "NUMERIC"),
            ("$.score", "score", "NUMERIC"),
        ],
        ItemKind::NodeRooms | ItemKind::NodeStats => &[],
    }
}

/// The Redis key of an item (see the module documentation).
pub fn redis_key(item: &Item) -> String {
    let mut key = String::with_capacity(96);
    match item.kind {
        ItemKind::Event => {
            let _ = write!(key, "event:{{{}}}:", item.room_id);
            id::push_parts(&mut key, [item.participant_id.as_str(), &item.track_id]);
            key.push_str(&item.type_name);
        }
        ItemKind::Stat => {
            let _ = write!(
                key,
                "stat:{{{}}}:{}:{}",
                item.room_id, item.participant_id, item.track_id
            );
        }
        ItemKind::NodeRooms | ItemKind::NodeStats => {
            let _ = write!(key, "{}:{{{}}}", item.kind.collection(), item.node_id);
        }
    }
    key.push(':');
    id::push_ts(
        &mut key,
        Some((item.timestamp.seconds, item.timestamp.nanos)),
    );
    key
}

/// The key prefix of each kind (what a RediSearch index covers).
pub(super) fn key_prefix(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Event => "event:",
        ItemKind::Stat => "stat:",
        ItemKind::NodeRooms => "node_rooms:",
        ItemKind::NodeStats => "node_stats:",
    }
}
