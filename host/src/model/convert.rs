//! Events and stats into items: id, document text and the fields the sinks read.

use super::{
    event_key, event_type_name, md5_hex, stat_key, stat_kind_name, DocumentFormat, Item, ItemKind,
    Timestamp,
};
use livekit_protocol::{AnalyticsEvent, AnalyticsStat};
use std::time::{Duration, SystemTime};

const EVENT: &str = "livekit.AnalyticsEvent";
const STAT: &str = "livekit.AnalyticsStat";

impl Item {
    /// Converts an event into the default ([`DocumentFormat::Openvidu`]) document; a
    /// missing timestamp is set to `now` first (the id depends on it).
    pub fn from_event(event: AnalyticsEvent, now: SystemTime, expiration: Duration) -> Self {
        Self::from_event_as(DocumentFormat::default(), event, now, expiration)
    }

    /// Converts an event into a document of `format`; a missing timestamp is set to `now`
    /// first (the id depends on it).
    pub fn from_event_as(
        format: DocumentFormat,
        event: AnalyticsEvent,
        now: SystemTime,
        expiration: Duration,
    ) -> Self {
        Self::event_item(event, None, now, expiration, |event, id| {
            format.document_text(event, EVENT, id)
        })
    }

    /// [`Item::from_event_as`] with the document id `id` instead of the event's own (a
    /// webhook's id comes from LiveKit's webhook id).
    pub fn from_event_with_id(
        format: DocumentFormat,
        event: AnalyticsEvent,
        id: String,
        now: SystemTime,
        expiration: Duration,
    ) -> Self {
        Self::event_item(event, Some(id), now, expiration, |event, id| {
            format.document_text(event, EVENT, id)
        })
    }

    /// [`Item::from_event_as`] through the reference walker (a `serde_json` map, then
    /// serialized), as items were built before `model/json`: the same item, slower. For
    /// tests and benchmarks.
    pub fn from_event_reference(
        format: DocumentFormat,
        event: AnalyticsEvent,
        now: SystemTime,
        expiration: Duration,
    ) -> Self {
        Self::event_item(event, None, now, expiration, |event, id| {
            serde_json::to_string(&format.document(event, EVENT, id)).expect("a map serializes")
        })
    }

    fn event_item(
        mut event: AnalyticsEvent,
        id: Option<String>,
        now: SystemTime,
        expiration: Duration,
        document: impl FnOnce(&AnalyticsEvent, &str) -> String,
    ) -> Self {
        let ts = stamp(&mut event.timestamp, now);
        let type_name = event_type_name(&event);
        let id = id.unwrap_or_else(|| md5_hex(&event_key(&event, &type_name)));
        let document = document(&event, &id);
        let mut item = Item::with_document_text(ItemKind::Event, id, document, now + expiration);
        item.type_name = type_name;
        item.timestamp = ts;
        // The document is written: the strings the item keeps move out of the event.
        let (room_sid, room_name) = event.room.map(|r| (r.sid, r.name)).unzip();
        let (participant_sid, identity) = event.participant.map(|p| (p.sid, p.identity)).unzip();
        item.room_id = room_sid
            .filter(|s| !s.is_empty())
            .unwrap_or(event.room_id)
            .into();
        item.room_name = room_name.unwrap_or_default().into();
        item.participant_id = if event.participant_id.is_empty() {
            participant_sid.unwrap_or_default()
        } else {
            event.participant_id
        }
        .into();
        item.participant_identity = identity.unwrap_or_default().into();
        item.track_id = if event.track_id.is_empty() {
            event.track.map(|t| t.sid).unwrap_or_default()
        } else {
            event.track_id
        }
        .into();
        item.node_id = event.node_id.into();
        item
    }

    /// Converts a stat into the default ([`DocumentFormat::Openvidu`]) document; a missing
    /// timestamp is set to `now` first (the id depends on it).
    pub fn from_stat(stat: AnalyticsStat, now: SystemTime, expiration: Duration) -> Self {
        Self::from_stat_as(DocumentFormat::default(), stat, now, expiration)
    }

    /// Converts a stat into a document of `format`; a missing timestamp is set to `now`
    /// first (the id depends on it).
    pub fn from_stat_as(
        format: DocumentFormat,
        stat: AnalyticsStat,
        now: SystemTime,
        expiration: Duration,
    ) -> Self {
        Self::stat_item(stat, now, expiration, |stat, id| {
            format.document_text(stat, STAT, id)
        })
    }

    /// [`Item::from_stat_as`] through the reference walker (a `serde_json` map, then
    /// serialized), as items were built before `model/json`: the same item, slower. For
    /// tests and benchmarks.
    pub fn from_stat_reference(
        format: DocumentFormat,
        stat: AnalyticsStat,
        now: SystemTime,
        expiration: Duration,
    ) -> Self {
        Self::stat_item(stat, now, expiration, |stat, id| {
            serde_json::to_string(&format.document(stat, STAT, id)).expect("a map serializes")
        })
    }

    fn stat_item(
        mut stat: AnalyticsStat,
        now: SystemTime,
        expiration: Duration,
        document: impl FnOnce(&AnalyticsStat, &str) -> String,
    ) -> Self {
        let ts = stamp(&mut stat.time_stamp, now);
        let kind_name = stat_kind_name(&stat);
        let id = md5_hex(&stat_key(&stat, &kind_name));
        let document = document(&stat, &id);
        let mut item = Item::with_document_text(ItemKind::Stat, id, document, now + expiration);
        item.type_name = kind_name;
        item.timestamp = ts;
        item.room_id = stat.room_id.into();
        item.room_name = stat.room_name.into();
        item.participant_id = stat.participant_id.into();
        item.track_id = stat.track_id.into();
        item.node_id = stat.node.into();
        item.score = stat.score;
        item
    }
}

/// Sets a missing protocol timestamp to `now` (ids depend on it) and returns it.
fn stamp(timestamp: &mut Option<pbjson_types::Timestamp>, now: SystemTime) -> Timestamp {
    let t = *timestamp.get_or_insert_with(|| Timestamp::from_system_time(now).to_proto());
    Timestamp {
        seconds: t.seconds,
        nanos: t.nanos,
    }
}
