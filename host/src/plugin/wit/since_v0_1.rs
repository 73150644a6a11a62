//! `livekit:analytics@0.1.x` (now 0.1.1): the host bindings of its `sink` world and the conversions of
//! the host's items into its records. A later contract version gets a file of its own
//! beside this one (as in Zed's `extension_host`), so plugins built for either keep working.

#![allow(missing_docs)] // `bindgen!` generates undocumented items.

use crate::model::Item;
use livekit::analytics::types as wit;

/// The version of the `livekit:analytics` package these bindings implement (`wit/`).
pub const VERSION: &str = "0.1.1";

wasmtime::component::bindgen!({
    path: "../wit",
    world: "sink",
    exports: { default: async },
    // Records passed to the plugin borrow from the host's items: no copies.
    ownership: Borrowing { duplicate_if_necessary: false },
});

/// The contract's `event` record of an item whose JSON document is `json`.
pub fn event_record<'a>(item: &'a Item, json: &'a str) -> wit::Event<'a> {
    wit::Event {
        id: &item.id,
        event_type: &item.type_name,
        timestamp: timestamp(item),
        room_sid: &item.room_id,
        room_name: &item.room_name,
        participant_sid: &item.participant_id,
        participant_identity: &item.participant_identity,
        track_sid: &item.track_id,
        node_id: &item.node_id,
        json,
    }
}

/// The contract's `stat` record of an item whose JSON document is `json`.
pub fn stat_record<'a>(item: &'a Item, json: &'a str) -> wit::Stat<'a> {
    wit::Stat {
        id: &item.id,
        kind: &item.type_name,
        timestamp: timestamp(item),
        room_id: &item.room_id,
        room_name: &item.room_name,
        participant_id: &item.participant_id,
        track_id: &item.track_id,
        node: &item.node_id,
        score: item.score,
        json,
    }
}

fn timestamp(item: &Item) -> wit::Timestamp {
    wit::Timestamp {
        seconds: item.timestamp.seconds,
        nanos: item.timestamp.nanos.clamp(0, 999_999_999) as u32,
    }
}
