//! Sessions from events: a room's life from `ROOM_CREATED` to `ROOM_ENDED` (or still open),
//! its participants and tracks, folded from the stored event documents. The fold reads
//! documents of either format (`openvidu`: numbers as doubles, some enums as numbers;
//! `typed`: integers, every enum named), so every backend gives the same answer.

pub use super::event_row::EventRow;
pub use super::side_records::{ApiCall, WebhookDelivery};
use super::side_records::{API_CALL, CONNECTION_ABORTED, WEBHOOK};
use serde::Serialize;
use std::collections::BTreeMap;

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
    /// Their connection was aborted before it was established
    /// (`PARTICIPANT_CONNECTION_ABORTED`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub aborted: bool,
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
    /// Why the room ended (`room_end_reason`: `ROOM_END_API_DELETE`, `ROOM_END_IDLE_TIMEOUT`,
    /// …), when livekit-server said (v1.13.7 on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<String>,
    /// Participants whose connection was aborted.
    pub aborted_participants: usize,
    /// The webhook deliveries made for it, oldest first (`WEBHOOK`).
    pub webhooks: Vec<WebhookDelivery>,
    /// How many of them failed.
    pub failed_webhooks: usize,
    /// The server API calls made on it, oldest first (`API_CALL`).
    pub api_calls: Vec<ApiCall>,
    /// Every event, oldest first (webhook deliveries and API calls included).
    pub timeline: Vec<TimelineEntry>,
}

/// Folds `rows` (any order) into one session per room sid, newest start first.
pub fn sessions(rows: &[EventRow]) -> Vec<RoomSession> {
    let mut by_room: BTreeMap<&str, Vec<&EventRow>> = BTreeMap::new();
    for row in rows
        .iter()
        .filter(|r| !r.room_sid.is_empty() && r.is_room_life())
    {
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

/// The detail of the room whose events are `rows` (all of one room), or `None` if none of
/// them is of its life (webhook deliveries and API calls alone make no session).
pub fn detail(rows: &[EventRow]) -> Option<RoomDetail> {
    let mut all: Vec<&EventRow> = rows.iter().collect();
    all.sort_by(|a, b| a.ts.total_cmp(&b.ts).then(a.kind.cmp(&b.kind)));
    let life: Vec<&EventRow> = all.iter().copied().filter(|r| r.is_room_life()).collect();
    if life.is_empty() {
        return None;
    }
    let (_, mut detail) = fold(&life);
    detail.webhooks = all
        .iter()
        .filter(|r| r.kind == WEBHOOK)
        .filter_map(|r| r.webhook())
        .collect();
    detail.failed_webhooks = detail.webhooks.iter().filter(|w| w.failed).count();
    detail.api_calls = all
        .iter()
        .filter(|r| r.kind == API_CALL)
        .filter_map(|r| r.api_call())
        .collect();
    detail.timeline = timeline(&all);
    Some(detail)
}

/// Every row as a timeline entry, in the order given.
fn timeline(rows: &[&EventRow]) -> Vec<TimelineEntry> {
    rows.iter()
        .map(|r| TimelineEntry {
            ts: r.ts,
            kind: r.kind.clone(),
            participant_sid: r.participant_sid.clone(),
            track_sid: r.track_sid.clone(),
        })
        .collect()
}

/// The session and detail of one room's life rows (not empty).
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
                        aborted: false,
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
                CONNECTION_ABORTED => p.aborted = true,
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
    let detail = RoomDetail {
        session: session.clone(),
        end_reason: ended.map(|r| r.reason.clone()).filter(|r| !r.is_empty()),
        aborted_participants: participants.iter().filter(|p| p.aborted).count(),
        participants,
        tracks,
        webhooks: Vec::new(),
        failed_webhooks: 0,
        api_calls: Vec::new(),
        timeline: timeline(&rows),
    };
    (session, detail)
}

#[cfg(test)]
mod tests;
