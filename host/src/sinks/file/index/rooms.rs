//! Each room's summary, kept up to date as its events are indexed, so the sessions list of
//! a busy day reads one row per room instead of every event: first and last event, creation
//! and end, the name and node of its earliest event, its event count, and its distinct
//! participants and published tracks (in their own tables).

use crate::api::sessions::EventRow;
use rusqlite::{params, Transaction};

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

/// Adds a newly indexed event (not a second copy of one) to its room's summary. "Earliest"
/// orders by time, then by type, as the API's fold does.
pub fn add(tx: &Transaction, r: &EventRow, expire_at: f64) -> rusqlite::Result<()> {
    if r.room_sid.is_empty() {
        return Ok(());
    }
    let named = !r.room_name.is_empty();
    tx.prepare_cached(
        "INSERT INTO rooms VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?2, ?8, ?9, 1, ?10) \
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
           events = events + 1, \
           expire_at = max(expire_at, excluded.expire_at)",
    )?
    .execute(params![
        r.room_sid,
        r.ts,
        r.kind,
        r.node_id,
        named.then_some(r.ts),
        named.then_some(r.kind.as_str()),
        r.room_name,
        (r.kind == "ROOM_CREATED").then_some(r.ts),
        (r.kind == "ROOM_ENDED").then_some(r.ts),
        expire_at,
    ])?;
    if !r.participant_sid.is_empty() {
        tx.prepare_cached("INSERT OR IGNORE INTO room_participants VALUES (?1, ?2)")?
            .execute(params![r.room_sid, r.participant_sid])?;
    }
    if r.kind == "TRACK_PUBLISHED" && !r.track_sid.is_empty() {
        tx.prepare_cached("INSERT OR IGNORE INTO room_tracks VALUES (?1, ?2)")?
            .execute(params![r.room_sid, r.track_sid])?;
    }
    Ok(())
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
