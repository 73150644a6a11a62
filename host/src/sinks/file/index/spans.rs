//! When the rows of `stats` and `events` expire, without an index on `expire_at` (which
//! took a third of an indexed stat's SQLite time: `cargo bench --bench index_rows`). Each
//! transaction notes, per table and room it wrote rows of, a *span*: the latest `ts` and
//! the latest `expire_at` among those rows. Once a span's `expire_at` has passed, every row
//! it covered has expired, and they all lie in its room's range of an index the table
//! already has (`stats`: its primary key `room_sid, ts, id`; `events`: `events_room`) at or
//! before its `ts`, so the prune deletes that range's expired rows. A row written again
//! (the same stat twice) belongs to its later span too; a row with a later expiry than its
//! neighbours (a late stat) stays until its own span goes. A row is deleted at the first
//! prune after the last expiry of its span's rows: the rows of one transaction were
//! received within moments of each other.

use rusqlite::{params, Transaction};
use std::collections::HashMap;

/// The spans tables (schema version 3).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS stat_spans (
    room_sid TEXT NOT NULL,
    max_ts REAL NOT NULL,
    expire_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS stat_spans_expire ON stat_spans (expire_at);
CREATE TABLE IF NOT EXISTS event_spans (
    room_sid TEXT NOT NULL,
    max_ts REAL NOT NULL,
    expire_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS event_spans_expire ON event_spans (expire_at);
";

/// What version 3 does to a version 2 index: the spans replace the `expire_at` indexes;
/// the rows so far get a span per room and minute of expiry (each goes within a minute of
/// its expiry).
pub const UPGRADE: &str = "
DROP INDEX IF EXISTS stats_expire;
DROP INDEX IF EXISTS events_expire;
INSERT INTO stat_spans SELECT room_sid, MAX(ts), MAX(expire_at) FROM stats
    GROUP BY room_sid, CAST(expire_at / 60 AS INTEGER);
INSERT INTO event_spans SELECT room_sid, MAX(ts), MAX(expire_at) FROM events
    GROUP BY room_sid, CAST(expire_at / 60 AS INTEGER);
PRAGMA user_version = 3;
";

/// A table whose rows expire by spans.
#[derive(Clone, Copy)]
pub enum Table {
    /// `stats`.
    Stats,
    /// `events`.
    Events,
}

impl Table {
    fn spans(self) -> &'static str {
        match self {
            Table::Stats => "stat_spans",
            Table::Events => "event_spans",
        }
    }

    fn rows(self) -> &'static str {
        match self {
            Table::Stats => "stats",
            Table::Events => "events",
        }
    }
}

/// The spans of one transaction's rows of one table, by room.
pub struct Spans {
    table: Table,
    rooms: HashMap<String, (f64, f64)>,
}

impl Spans {
    /// No span yet, for rows of `table`.
    pub fn new(table: Table) -> Self {
        Spans {
            table,
            rooms: HashMap::new(),
        }
    }

    /// Notes a row of `room_sid` at `ts` expiring at `expire_at`.
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
        let sql = format!("INSERT INTO {} VALUES (?1, ?2, ?3)", self.table.spans());
        let mut insert = tx.prepare_cached(&sql)?;
        for (room_sid, (max_ts, expire_at)) in &self.rooms {
            insert.execute(params![room_sid, max_ts, expire_at])?;
        }
        Ok(())
    }
}

/// Deletes the rows of `table` past their `expire_at` that lie in spans past theirs, and
/// those spans: one index range per room.
pub fn prune(tx: &Transaction, table: Table, now: f64) -> rusqlite::Result<()> {
    let (spans, rows) = (table.spans(), table.rows());
    let rooms: Vec<(String, f64)> = {
        let mut due = tx.prepare_cached(&format!(
            "SELECT room_sid, MAX(max_ts) FROM {spans} WHERE expire_at < ?1 GROUP BY room_sid"
        ))?;
        let found = due.query_map(params![now], |r| Ok((r.get(0)?, r.get(1)?)))?;
        found.collect::<rusqlite::Result<_>>()?
    };
    let mut delete = tx.prepare_cached(&format!(
        "DELETE FROM {rows} WHERE room_sid = ?1 AND ts <= ?2 AND expire_at < ?3"
    ))?;
    for (room_sid, max_ts) in &rooms {
        delete.execute(params![room_sid, max_ts, now])?;
    }
    tx.execute(
        &format!("DELETE FROM {spans} WHERE expire_at < ?1"),
        params![now],
    )?;
    Ok(())
}
