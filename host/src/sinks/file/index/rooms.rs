//! Each room's summary, kept up to date as its events are indexed, so the sessions list of
//! a busy day reads one row per room instead of every event: first and last event, creation
//! and end, the name and node of its earliest event, its event count, and its distinct
//! participants and published tracks (in their own tables).

use crate::api::sessions::EventRow;
use rusqlite::{params, Transaction};
use std::collections::{HashMap, HashSet};

/// The summary tables (part of schema version 2).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS rooms (
    room_sid TEXT PRIMARY KEY,
    first_ts REAL NOT NULL,
    first_type TEXT NOT NULL,
    node_id TEXT NOT NULL,
    name_ts REAL,
    name_type TEXT,
    room_name TEXT NOT NULL,
    last_ts REAL NOT NULL,
    created_ts REAL,
    ended_ts REAL,
    events INTEGER NOT NULL,
    expire_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS rooms_expire ON rooms (expire_at);
CREATE TABLE IF NOT EXISTS room_participants (
    room_sid TEXT NOT NULL, participant_sid TEXT NOT NULL,
    PRIMARY KEY (room_sid, participant_sid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS room_tracks (
    room_sid TEXT NOT NULL, track_sid TEXT NOT NULL,
    PRIMARY KEY (room_sid, track_sid)
) WITHOUT ROWID;
";

/// What a batch's newly indexed events (not second copies) add to their rooms' summaries,
/// merged in memory and written with one upsert per room (an upsert per event was a third
/// of an event's indexing time). "Earliest" orders by time, then by type, as the API's
/// fold does; of equals, the first seen is kept, as the database keeps the first written.
#[derive(Default)]
pub struct RoomDeltas {
    rooms: HashMap<String, Delta>,
    participants: HashSet<(String, String)>,
    tracks: HashSet<(String, String)>,
}

/// One room's part of a batch.
struct Delta {
    first_ts: f64,
    first_type: String,
    node_id: String,
    /// (time, type, name) of the earliest event naming the room.
    name: Option<(f64, String, String)>,
    last_ts: f64,
    created_ts: Option<f64>,
    ended_ts: Option<f64>,
    events: i64,
    expire_at: f64,
}

impl RoomDeltas {
    /// Adds a newly indexed event.
    pub fn add(&mut self, r: &EventRow, expire_at: f64) {
        // Webhook deliveries and API calls are about a room, not of its life: no summary.
        if r.room_sid.is_empty() || !r.is_room_life() {
            return;
        }
        let named = (!r.room_name.is_empty()).then(|| (r.ts, r.kind.clone(), r.room_name.clone()));
        let created = (r.kind == "ROOM_CREATED").then_some(r.ts);
        let ended = (r.kind == "ROOM_ENDED").then_some(r.ts);
        match self.rooms.get_mut(&r.room_sid) {
            None => {
                self.rooms.insert(
                    r.room_sid.clone(),
                    Delta {
                        first_ts: r.ts,
                        first_type: r.kind.clone(),
                        node_id: r.node_id.clone(),
                        name: named,
                        last_ts: r.ts,
                        created_ts: created,
                        ended_ts: ended,
                        events: 1,
                        expire_at,
                    },
                );
            }
            Some(d) => {
                if (r.ts, r.kind.as_str()) < (d.first_ts, d.first_type.as_str()) {
                    d.first_ts = r.ts;
                    d.first_type = r.kind.clone();
                    d.node_id = r.node_id.clone();
                }
                if let Some(name) = named {
                    let earlier = d.name.as_ref().is_none_or(|(ts, kind, _)| {
                        (name.0, name.1.as_str()) < (*ts, kind.as_str())
                    });
                    if earlier {
                        d.name = Some(name);
                    }
                }
                d.last_ts = d.last_ts.max(r.ts);
                d.created_ts = match (d.created_ts, created) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                d.ended_ts = match (d.ended_ts, ended) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
                d.events += 1;
                d.expire_at = d.expire_at.max(expire_at);
            }
        }
        if !r.participant_sid.is_empty() {
            self.participants
                .insert((r.room_sid.clone(), r.participant_sid.clone()));
        }
        if r.kind == "TRACK_PUBLISHED" && !r.track_sid.is_empty() {
            self.tracks
                .insert((r.room_sid.clone(), r.track_sid.clone()));
        }
    }

    /// Merges the batch into the stored summaries.
    pub fn write(self, tx: &Transaction) -> rusqlite::Result<()> {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO rooms VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
             ON CONFLICT (room_sid) DO UPDATE SET \
               node_id = CASE WHEN (excluded.first_ts, excluded.first_type) < (first_ts, first_type) \
                 THEN excluded.node_id ELSE node_id END, \
               first_type = CASE WHEN (excluded.first_ts, excluded.first_type) < (first_ts, first_type) \
                 THEN excluded.first_type ELSE first_type END, \
               first_ts = min(first_ts, excluded.first_ts), \
               room_name = CASE WHEN excluded.name_ts IS NOT NULL AND (name_ts IS NULL \
                 OR (excluded.name_ts, excluded.name_type) < (name_ts, name_type)) \
                 THEN excluded.room_name ELSE room_name END, \
               name_type = CASE WHEN excluded.name_ts IS NOT NULL AND (name_ts IS NULL \
                 OR (excluded.name_ts, excluded.name_type) < (name_ts, name_type)) \
                 THEN excluded.name_type ELSE name_type END, \
               name_ts = CASE WHEN excluded.name_ts IS NOT NULL AND (name_ts IS NULL \
                 OR (excluded.name_ts, excluded.name_type) < (name_ts, name_type)) \
                 THEN excluded.name_ts ELSE name_ts END, \
               last_ts = max(last_ts, excluded.last_ts), \
               created_ts = CASE WHEN created_ts IS NULL THEN excluded.created_ts \
                 ELSE min(created_ts, coalesce(excluded.created_ts, created_ts)) END, \
               ended_ts = max(coalesce(ended_ts, excluded.ended_ts), \
                 coalesce(excluded.ended_ts, ended_ts)), \
               events = events + excluded.events, \
               expire_at = max(expire_at, excluded.expire_at)",
        )?;
        for (room_sid, d) in &self.rooms {
            let (name_ts, name_type, room_name) = match &d.name {
                Some((ts, kind, name)) => (Some(*ts), Some(kind.as_str()), name.as_str()),
                None => (None, None, ""),
            };
            upsert.execute(params![
                room_sid,
                d.first_ts,
                d.first_type,
                d.node_id,
                name_ts,
                name_type,
                room_name,
                d.last_ts,
                d.created_ts,
                d.ended_ts,
                d.events,
                d.expire_at,
            ])?;
        }
        let mut participant =
            tx.prepare_cached("INSERT OR IGNORE INTO room_participants VALUES (?1, ?2)")?;
        for (room_sid, participant_sid) in &self.participants {
            participant.execute(params![room_sid, participant_sid])?;
        }
        let mut track = tx.prepare_cached("INSERT OR IGNORE INTO room_tracks VALUES (?1, ?2)")?;
        for (room_sid, track_sid) in &self.tracks {
            track.execute(params![room_sid, track_sid])?;
        }
        Ok(())
    }
}

/// Deletes the summaries of rooms past their `expire_at` (their events go at the same time).
pub fn prune(tx: &Transaction, now: f64) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM rooms WHERE expire_at < ?1", params![now])?;
    tx.execute(
        "DELETE FROM room_participants WHERE room_sid NOT IN (SELECT room_sid FROM rooms)",
        [],
    )?;
    tx.execute(
        "DELETE FROM room_tracks WHERE room_sid NOT IN (SELECT room_sid FROM rooms)",
        [],
    )?;
    Ok(())
}
