//! The items the host carries from ingest to sinks: LiveKit analytics events and stats
//! (the protocol crate's `AnalyticsEvent` / `AnalyticsStat`), each turned once into the
//! document of the storage contract and shared by every sink.

mod convert;
mod document;
mod format;
pub mod id;
mod json;
mod names;
pub mod openvidu;
pub mod quality;
pub mod time;
mod walk;
pub mod wire;
mod wire_event;
mod wire_stat;

pub use format::DocumentFormat;
pub use quality::StatQuality;
pub use wire_stat::EncodedError;

pub use document::{message_document, DESCRIPTORS};
pub use id::{event_key, md5_hex, stat_key};
pub use names::{
    event_id, event_type_name, event_type_name_of, stat_id, stat_kind_name, stat_kind_name_of,
};

/// The inline string type of an item's ids and names (see [`Item`]).
pub use compact_str::CompactString;
#[cfg(test)]
use livekit_protocol::AnalyticsStream;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// What an item is; each kind has its own queue in every sink and its own collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ItemKind {
    /// An `AnalyticsEvent`.
    Event,
    /// An `AnalyticsStat`.
    Stat,
    /// An `AnalyticsNodeRooms` snapshot.
    NodeRooms,
    /// A node-level aggregate scraped from livekit-server's Prometheus metrics.
    NodeStats,
}

impl ItemKind {
    /// Every kind, in queue order.
    pub const ALL: [ItemKind; 4] = [
        ItemKind::Event,
        ItemKind::Stat,
        ItemKind::NodeRooms,
        ItemKind::NodeStats,
    ];

    /// The collection (MongoDB) or file prefix (embedded store) of this kind.
    pub fn collection(self) -> &'static str {
        match self {
            ItemKind::Event => "events",
            ItemKind::Stat => "stats",
            ItemKind::NodeRooms => "node_rooms",
            ItemKind::NodeStats => "node_stats",
        }
    }

    /// Position of this kind in [`ItemKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A `google.protobuf.Timestamp`, as stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    pub seconds: i64,
    /// Nanoseconds within the second.
    pub nanos: i32,
}

impl Timestamp {
    /// The given wall-clock time.
    pub fn from_system_time(time: SystemTime) -> Self {
        let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        Timestamp {
            seconds: since.as_secs() as i64,
            nanos: since.subsec_nanos() as i32,
        }
    }

    /// As a protocol timestamp.
    pub fn to_proto(self) -> pbjson_types::Timestamp {
        pbjson_types::Timestamp {
            seconds: self.seconds,
            nanos: self.nanos,
        }
    }
}

/// An accepted item, converted once and shared (behind an [`Arc`]) by every sink's queue.
#[derive(Debug)]
pub struct Item {
    /// What it is.
    pub kind: ItemKind,
    /// The document `_id`: hex MD5 of the contract's key string.
    pub id: String,
    /// Event type name (`ROOM_CREATED`) or stat kind name (`UPSTREAM`); empty for node kinds.
    pub type_name: CompactString,
    /// When it happened.
    pub timestamp: Timestamp,
    /// Room sid.
    pub room_id: CompactString,
    /// Room name.
    pub room_name: CompactString,
    /// Participant sid.
    pub participant_id: CompactString,
    /// Participant identity, where known.
    pub participant_identity: CompactString,
    /// Track sid.
    pub track_id: CompactString,
    /// LiveKit node id.
    pub node_id: CompactString,
    /// Stat score (0 for other kinds).
    pub score: f32,
    /// A stat's call-quality figures, when the gRPC door read them off the wire (the
    /// query index reads them instead of parsing the document).
    pub quality: Option<Box<StatQuality>>,
    /// The contract document as compact JSON text, `_id` first, without
    /// `openvidu_expire_at`: text takes a fraction of the memory of a map while the item
    /// waits in queues (see [`Item::document`]).
    document: Box<str>,
    /// When the stored copy expires (`openvidu_expire_at`).
    pub expire_at: SystemTime,
    /// Sequence number in the on-disk spool, once written there (see `crate::spool`).
    pub spool_seq: Option<u64>,
    /// When the host built this item (received it, or recovered it from the spool); the
    /// start of `analytics_sink_item_latency_seconds`.
    pub received_at: Instant,
}

/// The last `openvidu_expire_at` text written, by the expiry it was written for.
#[derive(Debug, Default)]
pub struct ExpiryText {
    at: Option<SystemTime>,
    text: String,
}

impl ExpiryText {
    /// `at` as RFC 3339 UTC with milliseconds, formatted only when it differs from the last.
    pub fn of(&mut self, at: SystemTime) -> &str {
        if self.at != Some(at) {
            self.text.clear();
            time::push_rfc3339_millis(&mut self.text, at);
            self.at = Some(at);
        }
        &self.text
    }
}

/// What one sink stores: the kinds, and whether it is given the active-entities fixer's
/// synthetic end events ([`Item::is_fixer_event`]). The pipeline queues and the spool keeps
/// an item for the sinks whose scope [takes](SinkScope::takes) it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkScope {
    /// The kinds it stores.
    pub kinds: Vec<ItemKind>,
    /// Whether it gets the fixer's events ([`crate::sinks::Sink::gets_fixer_events`]).
    pub fixer_events: bool,
}

impl SinkScope {
    /// A sink storing `kinds`, the fixer's events included.
    pub fn of_kinds(kinds: Vec<ItemKind>) -> Self {
        SinkScope {
            kinds,
            fixer_events: true,
        }
    }

    /// Whether `item` goes to this sink.
    pub fn takes(&self, item: &Item) -> bool {
        self.kinds.contains(&item.kind) && (self.fixer_events || !item.is_fixer_event())
    }
}

/// An item shared between queues.
pub type SharedItem = Arc<Item>;

/// The length of the `_id` of the fixer's events: an ObjectId's hex (see
/// [`Item::is_fixer_event`]).
pub const FIXER_ID_LEN: usize = 24;

/// The name of `openvidu_expire_at`, the TTL field.
pub const EXPIRE_FIELD: &str = "openvidu_expire_at";

impl Item {
    /// Builds an item from its parts; `document` must already hold `_id`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kind: ItemKind,
        id: String,
        document: Map<String, Value>,
        expire_at: SystemTime,
    ) -> Self {
        let document = serde_json::to_string(&document).expect("a JSON map serializes");
        Self::with_document_text(kind, id, document, expire_at)
    }

    /// As [`Item::new`], with the document already as JSON text (an object holding `_id`).
    pub fn with_document_json(
        kind: ItemKind,
        id: String,
        document: Box<RawValue>,
        expire_at: SystemTime,
    ) -> Self {
        Self::with_document_text(kind, id, Box::<str>::from(document), expire_at)
    }

    /// As [`Item::new`], with the document as compact JSON text the host wrote itself (an
    /// object holding `_id`; not checked).
    pub(crate) fn with_document_text(
        kind: ItemKind,
        id: String,
        document: impl Into<Box<str>>,
        expire_at: SystemTime,
    ) -> Self {
        let document = document.into();
        Item {
            kind,
            id,
            type_name: CompactString::default(),
            timestamp: Timestamp::default(),
            room_id: CompactString::default(),
            room_name: CompactString::default(),
            participant_id: CompactString::default(),
            participant_identity: CompactString::default(),
            track_id: CompactString::default(),
            node_id: CompactString::default(),
            score: 0.0,
            quality: None,
            document,
            expire_at,
            spool_seq: None,
            received_at: Instant::now(),
        }
    }

    /// Whether this is an end event the active-entities fixer made up (`crate::fixer`) for
    /// an entity LiveKit no longer has. The host's own ids are 32 hex digits (an MD5); the
    /// fixer's events keep the 24-hex-digit ObjectId `_id` the fork gives them, which it
    /// has written to MongoDB itself, in the fork's shape: the pipeline gives them to every
    /// other sink (see [`crate::sinks::Sink::gets_fixer_events`]). The rule is read off the
    /// item alone, so it holds for items recovered from the spool as well.
    pub fn is_fixer_event(&self) -> bool {
        self.kind == ItemKind::Event && self.id.len() == FIXER_ID_LEN
    }

    /// What this item takes in memory, as the queues count it: the struct, its strings on
    /// the heap (the id; a name or sid only when it is too long to be held inline) and its
    /// document text.
    pub fn queued_bytes(&self) -> u64 {
        let inline = [
            &self.type_name,
            &self.room_id,
            &self.room_name,
            &self.participant_id,
            &self.participant_identity,
            &self.track_id,
            &self.node_id,
        ];
        let heap: usize = inline
            .iter()
            .filter(|s| s.is_heap_allocated())
            .map(|s| s.len())
            .sum();
        let quality = self
            .quality
            .as_ref()
            .map_or(0, |q| std::mem::size_of::<StatQuality>() + q.mime.len());
        (std::mem::size_of::<Item>() + self.id.len() + heap + self.document.len() + quality) as u64
    }

    /// The contract document (without `openvidu_expire_at`), parsed from its text.
    pub fn document(&self) -> Map<String, Value> {
        serde_json::from_str(&self.document).expect("the host wrote this JSON object")
    }

    /// The contract document as compact JSON text (without `openvidu_expire_at`).
    pub fn document_text(&self) -> &str {
        &self.document
    }

    /// [`Item::document_text`] as a `serde_json` raw value: a checked copy (the item keeps
    /// plain text, written by the host), for code that wants one; prefer
    /// [`Item::document_text`].
    pub fn document_json(&self) -> Box<RawValue> {
        RawValue::from_string(self.document.to_string()).expect("the host wrote this JSON object")
    }

    /// Appends `key: value` as the document's last field; `key` must not be in it yet.
    pub fn append_field(&mut self, key: &str, value: &Value) {
        let body = self
            .document
            .strip_suffix('}')
            .expect("the document is a JSON object");
        let mut text = String::with_capacity(self.document.len() + key.len() + 64);
        text.push_str(body);
        if body.len() > 1 {
            text.push(',');
        }
        text.push_str(&Value::String(key.to_string()).to_string());
        text.push(':');
        text.push_str(&value.to_string());
        text.push('}');
        self.document = text.into();
    }

    /// Sets one field of the document (replacing it where it is, else appending it).
    pub fn set_field(&mut self, key: &str, value: Value) {
        let mut document = self.document();
        document.insert(key.into(), value);
        self.document = serde_json::to_string(&document)
            .expect("a JSON map serializes")
            .into();
    }

    /// The JSON document given to non-MongoDB sinks: the contract document plus
    /// `openvidu_expire_at` as an RFC 3339 UTC string, appended to the stored text.
    pub fn json(&self) -> String {
        let mut out = String::with_capacity(self.json_len());
        self.push_json(&mut out);
        out
    }

    /// The length of [`Item::json`] (for an expiry in years 1970–9999).
    pub fn json_len(&self) -> usize {
        self.document.len() + EXPIRE_FIELD.len() + 30
    }

    /// Appends [`Item::json`] to `out`, with no allocation of its own.
    pub fn push_json(&self, out: &mut String) {
        self.push_json_head(out);
        time::push_rfc3339_millis(out, self.expire_at);
        out.push_str("\"}");
    }

    /// [`Item::push_json`], the expiry's text taken from `expiry` when it holds this item's
    /// (the items of one message share their expiry: a batch formats it about once).
    pub fn push_json_with(&self, out: &mut String, expiry: &mut ExpiryText) {
        self.push_json_head(out);
        out.push_str(expiry.of(self.expire_at));
        out.push_str("\"}");
    }

    /// The document without its closing brace, then `"openvidu_expire_at":"`.
    fn push_json_head(&self, out: &mut String) {
        let body = self
            .document
            .strip_suffix('}')
            .expect("the document is a JSON object");
        out.push_str(body);
        out.push_str(if body.len() > 1 { ",\"" } else { "\"" });
        out.push_str(EXPIRE_FIELD);
        out.push_str("\":\"");
    }

    /// `openvidu_expire_at` as an RFC 3339 UTC string with milliseconds.
    pub fn expire_at_rfc3339(&self) -> String {
        let mut out = String::with_capacity(24);
        time::push_rfc3339_millis(&mut out, self.expire_at);
        out
    }
}

#[cfg(test)]
mod tests;
