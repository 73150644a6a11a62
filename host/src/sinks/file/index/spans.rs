//! When the stats rows expire, without an index on `expire_at` (which took a third of an
//! indexed stat's SQLite time: `cargo bench --bench index_rows`). Each transaction notes,
//! per room it wrote stats of, a *span*: the latest `ts` and the latest `expire_at` among
//! those rows. Once a span's `expire_at` has passed, every row it covered has expired, and
//! they all lie in its room's range of the primary key (`room_sid`, `ts`, `id`) at or before
//! its `ts`, so the prune deletes that range's expired rows. A row written again (the same
//! stat twice) belongs to its later span too; a row with a later expiry than its
//! neighbours (a late stat) stays until its own span goes. A row is deleted at the first
//! prune after the last expiry of its span's rows: the rows of one transaction were
//! received within moments of each other.

use rusqlite::{params, Transaction};
use std::borrow::Cow;
use std::collections::HashMap;

/// The spans table (schema version 3).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS stat_spans (
    room_sid TEXT NOT NULL,
    max_ts REAL NOT NULL,
    expire_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS stat_spans_expire ON stat_spans (expire_at);
";

/// What version 3 does to a version 2 index: the spans replace the `expire_at` index; the
/// rows so far get a span per room and minute of expiry (each goes within a minute of its
/// expiry).
pub const UPGRADE: &str = "
DROP INDEX IF EXISTS stats_expire;
INSERT INTO stat_spans SELECT room_sid, MAX(ts), MAX(expire_at) FROM stats
    GROUP BY room_sid, CAST(expire_at / 60 AS INTEGER);
PRAGMA user_version = 3;
";

/// The spans of one transaction's stats, by room.
#[derive(Default)]
pub struct StatSpans<'a> {
    rooms: HashMap<Cow<'a, str>, (f64, f64)>,
}

impl<'a> StatSpans<'a> {
    /// Notes a stat row of `room_sid` at `ts` expiring at `expire_at`.
    pub fn add(&mut self, room_sid: Cow<'a, str>, ts: f64, expire_at: f64) {
        let span = self.rooms.entry(room_sid).or_insert((ts, expire_at));
        span.0 = span.0.max(ts);
        span.1 = span.1.max(expire_at);
    }

    /// Writes the spans, one row per room.
    pub fn write(&self, tx: &Transaction) -> rusqlite::Result<()> {
        let mut insert = tx.prepare_cached("INSERT INTO stat_spans VALUES (?1, ?2, ?3)")?;
        for (room_sid, (max_ts, expire_at)) in &self.rooms {
            insert.execute(params![room_sid, max_ts, expire_at])?;
        }
        Ok(())
    }
}

/// Deletes the stats rows past their `expire_at` that lie in spans past theirs, and those
/// spans: one range of the primary key per room.
pub fn prune(tx: &Transaction, now: f64) -> rusqlite::Result<()> {
    let rooms: Vec<(String, f64)> = {
        let mut due = tx.prepare_cached(
            "SELECT room_sid, MAX(max_ts) FROM stat_spans WHERE expire_at < ?1 GROUP BY room_sid",
        )?;
        let rows = due.query_map(params![now], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut delete =
        tx.prepare_cached("DELETE FROM stats WHERE room_sid = ?1 AND ts <= ?2 AND expire_at < ?3")?;
    for (room_sid, max_ts) in &rooms {
        delete.execute(params![room_sid, max_ts, now])?;
    }
    tx.execute("DELETE FROM stat_spans WHERE expire_at < ?1", params![now])?;
    Ok(())
}
