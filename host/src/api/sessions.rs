//! Sessions from events: a room's life from `ROOM_CREATED` to `ROOM_ENDED` (or still open),
//! its participants and tracks, folded from the stored event documents. The fold reads
//! documents of either format (`openvidu`: numbers as doubles, some enums as numbers;
//! `typed`: integers, every enum named), so every backend gives the same answer.

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One stored event as the API reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventRow {
    /// Seconds since the Unix epoch, with the fraction.
    pub ts: f64,
    /// The event type (`ROOM_CREATED`, `PARTICIPANT_JOINED`, …).
    pub kind: String,
    /// `room.sid` (else `room_id`).
    pub room_sid: String,
    /// `room.name`.
    pub room_name: String,
    /// `node_id`.
    pub node_id: String,
    /// `participant_id` (else `participant.sid`).
    pub participant_sid: String,
    /// `participant.identity`.
    pub identity: String,
    /// `track_id` (else `track.sid`).
    pub track_sid: String,
    /// `track.type`, named (`AUDIO`, `VIDEO`, `DATA`).
    pub track_type: String,
    /// `track.source`, named.
    pub track_source: String,
    /// `track.mime_type`.
    pub mime: String,
    /// `participant.disconnect_reason`, named, when not `UNKNOWN_REASON`.
    pub reason: String,
}

impl EventRow {
    /// The row of an event item, from the fields the item keeps; only the track's type,
    /// source and MIME type are read from the document (when it has a track). The same row
    /// as [`EventRow::from_document`] of its document, without parsing all of it.
    pub fn from_item(item: &crate::model::Item) -> EventRow {
        let mut row = EventRow {
            ts: item.timestamp.seconds as f64 + f64::from(item.timestamp.nanos) / 1e9,
            kind: item.type_name.to_string(),
            room_sid: item.room_id.to_string(),
            room_name: item.room_name.to_string(),
            node_id: item.node_id.to_string(),
            participant_sid: item.participant_id.to_string(),
            identity: item.participant_identity.to_string(),
            track_sid: item.track_id.to_string(),
            ..EventRow::default()
        };
        // Only these few fields are built; serde skips everything else in the document.
        /// `track` and `participant.disconnect_reason`.
        #[derive(serde::Deserialize)]
        struct Fields {
            #[serde(default)]
            track: Option<TrackFields>,
            #[serde(default)]
            participant: Option<ReasonOnly>,
        }
        /// `track.type`, `track.source`, `track.mime_type`.
        #[derive(serde::Deserialize)]
        struct TrackFields {
            #[serde(default, rename = "type")]
            kind: Option<Value>,
            #[serde(default)]
            source: Option<Value>,
            #[serde(default)]
            mime_type: Option<Value>,
        }
        /// Only `participant.disconnect_reason`.
        #[derive(serde::Deserialize)]
        struct ReasonOnly {
            #[serde(default)]
            disconnect_reason: Option<Value>,
        }
        if let Ok(fields) = serde_json::from_str::<Fields>(item.document_text()) {
            if let Some(track) = fields.track {
                row.track_type = named_value(track.kind.as_ref(), true, &TRACK_TYPES);
                row.track_source = named_value(track.source.as_ref(), true, &TRACK_SOURCES);
                row.mime = track
                    .mime_type
                    .as_ref()
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
            }
            if let Some(reason) = fields.participant.and_then(|p| p.disconnect_reason) {
                row.reason = disconnect_reason(&reason);
            }
        }
        row
    }
}

/// The names of `livekit.TrackType` by number (the `openvidu` format stores numbers).
const TRACK_TYPES: [&str; 3] = ["AUDIO", "VIDEO", "DATA"];
/// The names of `livekit.TrackSource` by number.
const TRACK_SOURCES: [&str; 5] = [
    "UNKNOWN",
    "CAMERA",
    "MICROPHONE",
    "SCREEN_SHARE",
    "SCREEN_SHARE_AUDIO",
];

impl EventRow {
    /// The row of a stored event document (JSON, as every sink has it), if it has a type.
    pub fn from_document(doc: &Value) -> Option<EventRow> {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let kind = doc.get("type")?.as_str()?.to_string();
        let ts = &doc["timestamp"];
        let number = |v: &Value| v.as_f64().unwrap_or(0.0);
        let or = |a: String, b: &Value| if a.is_empty() { text(b) } else { a };
        Some(EventRow {
            ts: number(&ts["seconds"]) + number(&ts["nanos"]) / 1e9,
            kind,
            room_sid: or(text(&doc["room"]["sid"]), &doc["room_id"]),
            room_name: text(&doc["room"]["name"]),
            node_id: text(&doc["node_id"]),
            // The precedence of the item's own fields (see `EventRow::from_item`).
            participant_sid: or(text(&doc["participant_id"]), &doc["participant"]["sid"]),
            identity: text(&doc["participant"]["identity"]),
            track_sid: or(text(&doc["track_id"]), &doc["track"]["sid"]),
            track_type: named(&doc["track"], "type", &TRACK_TYPES),
            track_source: named(&doc["track"], "source", &TRACK_SOURCES),
            mime: text(&doc["track"]["mime_type"]),
            reason: disconnect_reason(&doc["participant"]["disconnect_reason"]),
        })
    }
}

/// `livekit.DisconnectReason`, stored as a name (`typed`) or a number (`openvidu`); empty for
/// none or `UNKNOWN_REASON`.
fn disconnect_reason(value: &Value) -> String {
    let name = match value {
        Value::String(name) => name.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(i) if i.fract() == 0.0 && i >= 0.0 && i <= f64::from(i32::MAX) => {
                livekit_protocol::DisconnectReason::try_from(i as i32)
                    .map_or_else(|_| n.to_string(), |r| r.as_str_name().to_string())
            }
            _ => n.to_string(),
        },
        _ => String::new(),
    };
    if name == "UNKNOWN_REASON" {
        String::new()
    } else {
        name
    }
}

/// The enum `field` of `parent`, stored as a name or as a number (`names` by number). The
/// `openvidu` format leaves a zero enum out: missing in a present `parent` is `names[0]`.
fn named(parent: &Value, field: &str, names: &[&str]) -> String {
    named_value(parent.get(field), parent.is_object(), names)
}

/// [`named`] of the field's value when its parent was already taken apart.
fn named_value(value: Option<&Value>, parent_is_object: bool, names: &[&str]) -> String {
    match value {
        Some(Value::String(name)) => name.clone(),
        Some(Value::Number(n)) => {
            let i = n.as_f64().unwrap_or(-1.0);
            match names.get(i as usize) {
                Some(name) if i >= 0.0 && i.fract() == 0.0 => name.to_string(),
                _ => n.to_string(),
            }
        }
        None if parent_is_object => names[0].to_string(),
        _ => String::new(),
    }
}

/// A room's session, as `GET /api/rooms` lists it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RoomSession {
    /// The room's sid.
    pub sid: String,
    /// The room's name.
    pub name: String,
    /// The node that hosted it (of its first event).
    pub node_id: String,
    /// `ROOM_CREATED`, else its first event (seconds since the epoch).
    pub started_at: f64,
    /// `ROOM_ENDED`, if it ended.
    pub ended_at: Option<f64>,
    /// `ended_at - started_at`, or up to its last event while open.
    pub duration_seconds: f64,
    /// No `ROOM_ENDED` yet.
    pub open: bool,
    /// Distinct participants that joined.
    pub participants: usize,
    /// Distinct tracks published.
    pub tracks: usize,
    /// Events stored for it.
    pub events: usize,
    /// The lowest score of its stats (`min_score`), if any were scored.
    pub worst_score: Option<f64>,
    /// The mean score of its stats, if any were scored.
    pub mean_score: Option<f64>,
}

/// One participant of a session.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ParticipantSession {
    /// The participant's sid.
    pub sid: String,
    /// Their identity.
    pub identity: String,
    /// `PARTICIPANT_JOINED` (else their first event).
    pub joined_at: f64,
    /// `PARTICIPANT_LEFT`, if they left.
    pub left_at: Option<f64>,
    /// Whether they published a track.
    pub publisher: bool,
    /// From joining to leaving (or to the room's end, or its last event, while present).
    pub duration_seconds: f64,
    /// Why they left (`CLIENT_INITIATED`, `ROOM_DELETED`, …), when the event says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disconnect_reason: Option<String>,
}

/// One track of a session.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrackSession {
    /// The track's sid.
    pub sid: String,
    /// Who published it.
    pub participant_sid: String,
    /// `AUDIO`, `VIDEO` or `DATA`.
    pub kind: String,
    /// `CAMERA`, `MICROPHONE`, …
    pub source: String,
    /// Its MIME type.
    pub mime: String,
    /// `TRACK_PUBLISHED`.
    pub published_at: Option<f64>,
    /// `TRACK_UNPUBLISHED`.
    pub unpublished_at: Option<f64>,
}

/// One line of a session's timeline.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TimelineEntry {
    /// When (seconds since the epoch).
    pub ts: f64,
    /// The event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The participant's sid, if any.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub participant_sid: String,
    /// The track's sid, if any.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub track_sid: String,
}

/// `GET /api/rooms/{sid}`: the session, its people and tracks, and its timeline.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RoomDetail {
    /// The session.
    pub session: RoomSession,
    /// Participants, by join time.
    pub participants: Vec<ParticipantSession>,
    /// Tracks, by publish time.
    pub tracks: Vec<TrackSession>,
    /// Every event, oldest first.
    pub timeline: Vec<TimelineEntry>,
}

/// Folds `rows` (any order) into one session per room sid, newest start first.
pub fn sessions(rows: &[EventRow]) -> Vec<RoomSession> {
    let mut by_room: BTreeMap<&str, Vec<&EventRow>> = BTreeMap::new();
    for row in rows.iter().filter(|r| !r.room_sid.is_empty()) {
        by_room.entry(&row.room_sid).or_default().push(row);
    }
    let mut sessions: Vec<RoomSession> = by_room.into_values().map(|r| fold(&r).0).collect();
    order(&mut sessions);
    sessions
}

/// The identity of each participant sid that `rows` name one for.
pub fn identities(rows: &[EventRow]) -> BTreeMap<String, String> {
    rows.iter()
        .filter(|e| !e.participant_sid.is_empty() && !e.identity.is_empty())
        .map(|e| (e.participant_sid.clone(), e.identity.clone()))
        .collect()
}

/// Sorts sessions as the API lists them: newest start first, then by sid.
pub fn order(sessions: &mut [RoomSession]) {
    sessions.sort_by(|a, b| {
        b.started_at
            .total_cmp(&a.started_at)
            .then(a.sid.cmp(&b.sid))
    });
}

/// The detail of the room whose events are `rows` (all of one room), or `None` if empty.
pub fn detail(rows: &[EventRow]) -> Option<RoomDetail> {
    let rows: Vec<&EventRow> = rows.iter().collect();
    if rows.is_empty() {
        return None;
    }
    Some(fold(&rows).1)
}

fn fold(rows: &[&EventRow]) -> (RoomSession, RoomDetail) {
    let mut rows = rows.to_vec();
    rows.sort_by(|a, b| a.ts.total_cmp(&b.ts).then(a.kind.cmp(&b.kind)));
    let first = rows[0];
    let last = rows[rows.len() - 1];
    let created = rows.iter().find(|r| r.kind == "ROOM_CREATED");
    let ended = rows.iter().rev().find(|r| r.kind == "ROOM_ENDED");
    let name = rows.iter().map(|r| &r.room_name).find(|n| !n.is_empty());
    let started_at = created.map_or(first.ts, |r| r.ts);
    let mut participants: BTreeMap<&str, ParticipantSession> = BTreeMap::new();
    let mut tracks: BTreeMap<&str, TrackSession> = BTreeMap::new();
    for row in &rows {
        if !row.participant_sid.is_empty() {
            let p =
                participants
                    .entry(&row.participant_sid)
                    .or_insert_with(|| ParticipantSession {
                        sid: row.participant_sid.clone(),
                        identity: String::new(),
                        joined_at: row.ts,
                        left_at: None,
                        publisher: false,
                        duration_seconds: 0.0,
                        disconnect_reason: None,
                    });
            if p.identity.is_empty() {
                p.identity = row.identity.clone();
            }
            match row.kind.as_str() {
                "PARTICIPANT_JOINED" => p.joined_at = row.ts,
                "PARTICIPANT_LEFT" => {
                    p.left_at = Some(row.ts);
                    if !row.reason.is_empty() {
                        p.disconnect_reason = Some(row.reason.clone());
                    }
                }
                "TRACK_PUBLISHED" => p.publisher = true,
                _ => {}
            }
        }
        if !row.track_sid.is_empty() && row.kind.starts_with("TRACK_") {
            let t = tracks
                .entry(&row.track_sid)
                .or_insert_with(|| TrackSession {
                    sid: row.track_sid.clone(),
                    participant_sid: row.participant_sid.clone(),
                    kind: String::new(),
                    source: String::new(),
                    mime: String::new(),
                    published_at: None,
                    unpublished_at: None,
                });
            for (field, value) in [
                (&mut t.kind, &row.track_type),
                (&mut t.source, &row.track_source),
                (&mut t.mime, &row.mime),
            ] {
                if field.is_empty() {
                    *field = value.clone();
                }
            }
            match row.kind.as_str() {
                "TRACK_PUBLISHED" => t.published_at = Some(row.ts),
                "TRACK_UNPUBLISHED" => t.unpublished_at = Some(row.ts),
                _ => {}
            }
        }
    }
    let session = RoomSession {
        sid: first.room_sid.clone(),
        name: name.cloned().unwrap_or_default(),
        node_id: first.node_id.clone(),
        started_at,
        ended_at: ended.map(|r| r.ts),
        duration_seconds: ended.map_or(last.ts, |r| r.ts) - started_at,
        open: ended.is_none(),
        participants: participants.len(),
        tracks: tracks.values().filter(|t| t.published_at.is_some()).count(),
        events: rows.len(),
        worst_score: None,
        mean_score: None,
    };
    let room_end = ended.map_or(last.ts, |r| r.ts);
    let mut participants: Vec<_> = participants.into_values().collect();
    for p in &mut participants {
        p.duration_seconds = (p.left_at.unwrap_or(room_end) - p.joined_at).max(0.0);
    }
    participants.sort_by(|a, b| a.joined_at.total_cmp(&b.joined_at).then(a.sid.cmp(&b.sid)));
    let mut tracks: Vec<_> = tracks.into_values().collect();
    tracks.sort_by(|a, b| {
        let at = |t: &TrackSession| t.published_at.unwrap_or(f64::MAX);
        at(a).total_cmp(&at(b)).then(a.sid.cmp(&b.sid))
    });
    let timeline = rows
        .iter()
        .map(|r| TimelineEntry {
            ts: r.ts,
            kind: r.kind.clone(),
            participant_sid: r.participant_sid.clone(),
            track_sid: r.track_sid.clone(),
        })
        .collect();
    let detail = RoomDetail {
        session: session.clone(),
        participants,
        tracks,
        timeline,
    };
    (session, detail)
}

#[cfg(test)]
mod tests;
