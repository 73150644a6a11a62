//! Deterministic document ids, built exactly as the OpenVidu fork builds them, so a re-sent
//! item never becomes a second document.

use livekit_protocol::{AnalyticsEvent, AnalyticsStat};
use md5::{Digest, Md5};

/// Events: `[room.sid:][participant_id:][track_id:]TYPE:<ts>`, the room part whenever the
/// event has a `room`, even one with an empty sid (giving a leading `:`, as the fork does).
pub fn event_key(event: &AnalyticsEvent, type_name: &str) -> String {
    event_key_of(
        event.room.as_ref().map(|room| room.sid.as_str()),
        [&event.participant_id, &event.track_id],
        type_name,
        event.timestamp.as_ref().map(|t| (t.seconds, t.nanos)),
    )
}

/// [`event_key`] of its parts: the room's sid when the event has a room, the participant
/// and track ids, the type name and the timestamp.
pub fn event_key_of(
    room_sid: Option<&str>,
    parts: [&str; 2],
    type_name: &str,
    ts: Option<(i64, i32)>,
) -> String {
    let mut key = String::with_capacity(96);
    if let Some(sid) = room_sid {
        key.push_str(sid);
        key.push(':');
    }
    push_parts(&mut key, parts);
    key.push_str(type_name);
    key.push(':');
    push_ts(&mut key, ts);
    key
}

/// Stats: `room_id:participant_id:track_id:KIND:node:<ts>`.
pub fn stat_key(stat: &AnalyticsStat, kind_name: &str) -> String {
    stat_key_of(
        [
            &stat.room_id,
            &stat.participant_id,
            &stat.track_id,
            kind_name,
            &stat.node,
        ],
        stat.time_stamp.as_ref().map(|t| (t.seconds, t.nanos)),
    )
}

/// [`stat_key`] of its parts: room id, participant id, track id, kind name and node, then
/// the timestamp.
pub fn stat_key_of(parts: [&str; 5], ts: Option<(i64, i32)>) -> String {
    let mut key = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum::<usize>() + 24);
    for part in parts {
        key.push_str(part);
        key.push(':');
    }
    push_ts(&mut key, ts);
    key
}

/// Appends each non-empty part followed by `:` (the optional participant and track parts
/// of event keys; the Redis sink's keys use the same layout).
pub(crate) fn push_parts<'a>(key: &mut String, parts: impl IntoIterator<Item = &'a str>) {
    for part in parts {
        if !part.is_empty() {
            key.push_str(part);
            key.push(':');
        }
    }
}

/// `<ts>`: the decimal seconds, followed by the decimal nanos when nanos > 0.
pub(crate) fn push_ts(key: &mut String, ts: Option<(i64, i32)>) {
    let (seconds, nanos) = ts.unwrap_or((0, 0));
    key.push_str(itoa::Buffer::new().format(seconds));
    if nanos > 0 {
        key.push_str(itoa::Buffer::new().format(nanos));
    }
}

/// Lower-case hex MD5 of a key string.
pub fn md5_hex(key: &str) -> String {
    let mut hex = [0u8; 32];
    hex::encode_to_slice(Md5::digest(key.as_bytes()), &mut hex).expect("32 hex digits");
    String::from_utf8_lossy(&hex).into_owned()
}
