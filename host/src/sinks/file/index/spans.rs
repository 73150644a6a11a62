//! When the rows of `events` expire, without an index on `expire_at` (one B-tree insert
//! per event fewer). Each transaction notes, per room it wrote events of, a *span*: the
//! latest `ts` and the latest `expire_at` among those rows. Once a span's `expire_at` has
//! passed, every row it covered has expired, and they all lie in its room's range of
//! `events_room` (`room_sid, ts`) at or before its `ts`, so the prune deletes that range's
//! expired rows. A row with a later expiry than its neighbours stays until its own span
//! goes. A row is deleted at the first prune after the last expiry of its span's rows: the
//! rows of one transaction were received within moments of each other. (Stats expire by
//! their chunks, see `chunks`.)

use rusqlite::{params, Transaction};
use std::collections::HashMap;

/// The spans table (schema version 3).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS event_spans (
    room_sid TEXT NOT NULL,
    max_ts REAL NOT NULL,
    expire_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS event_spans_expire ON event_spans (expire_at);
";

/// What version 3 does to the events of a version 2 index: the spans replace the
/// `expire_at` index; the rows so far get a span per room and minute of expiry (each goes
/// within a minute of its expiry).
pub const UPGRADE: &str = "
DROP INDEX IF EXISTS events_expire;
INSERT INTO event_spans SELECT room_sid, MAX(ts), MAX(expire_at) FROM events
    GROUP BY room_sid, CAST(expire_at / 60 AS INTEGER);
";

/// The spans of one transaction's events, by room.
#[derive(Default)]
pub struct Spans {
    rooms: HashMap<String, (f64, f64)>,
}

impl Spans {
    /// Notes an event of `room_sid` at `ts` expiring at `expire_at`.
    pub fn add(&mut self, room_sid: &str, ts: f64, expire_at: f64) {
        match self.rooms.get_mut(room_sid) {
            Some(span) => *span = (span.0.max(ts), span.1.max(expire_at)),
            None => {
                self.rooms.insert(room_sid.to_string(), (ts, expire_at));
            }
        }
    }

    /// Writes the spans, one row per room.
    pub fn write(&self, tx: &Transaction) -> rusqlite::Result<()> {
        let mut insert = tx.prepare_cached("INSERT INTO event_spans VALUES (?1, ?2, ?3)")?;
        for (room_sid, (max_ts, expire_at)) in &self.rooms {
            insert.execute(params![room_sid, max_ts, expire_at])?;
        }
        Ok(())
    }
}

/// Deletes the events past their `expire_at` that lie in spans past theirs, and those
/// spans: one index range per room.
pub fn prune(tx: &Transaction, now: f64) -> rusqlite::Result<()> {
    let rooms: Vec<(String, f64)> = {
        let mut due = tx.prepare_cached(
            "SELECT room_sid, MAX(max_ts) FROM event_spans WHERE expire_at < ?1 GROUP BY room_sid",
        )?;
        let found = due.query_map(params![now], |r| Ok((r.get(0)?, r.get(1)?)))?;
        found.collect::<rusqlite::Result<_>>()?
    };
    let mut delete = tx
        .prepare_cached("DELETE FROM events WHERE room_sid = ?1 AND ts <= ?2 AND expire_at < ?3")?;
    for (room_sid, max_ts) in &rooms {
        delete.execute(params![room_sid, max_ts, now])?;
    }
    tx.execute("DELETE FROM event_spans WHERE expire_at < ?1", params![now])?;
    Ok(())
}
