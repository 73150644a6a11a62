//! One stored event as the read API reads it ([`EventRow`]), from a document of either
//! format (`openvidu`: numbers as doubles, some enums as numbers; `typed`: integers, every
//! enum named).

use super::side_records;
use serde_json::Value;

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
    /// Why: `participant.disconnect_reason` (a participant's event) or `room_end_reason`
    /// (`ROOM_ENDED`), named, when known.
    pub reason: String,
    /// `WEBHOOK` and `API_CALL`: the delivery's or call's summary as compact JSON text
    /// ([`super::side_records`]); empty for other types.
    pub detail: String,
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
        if side_records::reads_more(&row.kind) {
            if let Ok(doc) = serde_json::from_str::<Value>(item.document_text()) {
                side_records::enrich(&mut row, &doc);
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
        let mut row = EventRow {
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
            detail: String::new(),
        };
        side_records::enrich(&mut row, doc);
        Some(row)
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
