//! The stored names and ids of events and stats: `type` and `kind` as their enum names (or
//! the number when unknown), and the document `_id` of a record as it is.

use super::{event_key, md5_hex, stat_key, CompactString};
use livekit_protocol::{AnalyticsEvent, AnalyticsEventType, AnalyticsStat, StreamType};

/// The stored `type` of an event: its enum name (`ROOM_CREATED`), or the number if unknown.
pub fn event_type_name(event: &AnalyticsEvent) -> CompactString {
    event_type_name_of(event.r#type)
}

/// [`event_type_name`] of a type number.
pub fn event_type_name_of(n: i32) -> CompactString {
    AnalyticsEventType::try_from(n)
        .map(|t| CompactString::const_new(t.as_str_name()))
        .unwrap_or_else(|_| CompactString::from(itoa::Buffer::new().format(n)))
}

/// The stored `kind` of a stat: its enum name (`UPSTREAM`), or the number if unknown.
pub fn stat_kind_name(stat: &AnalyticsStat) -> CompactString {
    stat_kind_name_of(stat.kind)
}

/// [`stat_kind_name`] of a kind number.
pub fn stat_kind_name_of(n: i32) -> CompactString {
    StreamType::try_from(n)
        .map(|k| CompactString::const_new(k.as_str_name()))
        .unwrap_or_else(|_| CompactString::from(itoa::Buffer::new().format(n)))
}

/// The document `_id` of an event as it is (a missing timestamp counts as 0; the doors set
/// it to the receive time first, see [`super::Item::from_event`]).
pub fn event_id(event: &AnalyticsEvent) -> String {
    md5_hex(&event_key(event, &event_type_name(event)))
}

/// The document `_id` of a stat as it is (a missing timestamp counts as 0; the doors set
/// it to the receive time first, see [`super::Item::from_stat`]).
pub fn stat_id(stat: &AnalyticsStat) -> String {
    md5_hex(&stat_key(stat, &stat_kind_name(stat)))
}
