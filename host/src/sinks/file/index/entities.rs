//! The embedded store's own active set, for a host without MongoDB: the rooms,
//! participants, egresses and ingresses that started and have not ended, kept by the same
//! rules as the MongoDB sink's `active_entities` ([`crate::sinks::mongo::entities`]), with
//! the start event's document beside each (the fixer builds the synthetic end event from
//! it), and the time the fixer last ran. The fixer ([`crate::fixer`]) reads and trims
//! them through its own connection.
//!
//! Order-safe like the MongoDB sink's: an end removes the entity and is remembered
//! (`ended_entities`, until it expires), so a start indexed after its end (a replay from
//! the spool) does not bring the entity back. Entities that started before the index had
//! this table (schema version 5) are not in it: the fixer cannot end those.

use crate::model::Item;
use crate::sinks::mongo::entities::{change_of, Change};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

/// What schema version 5 adds.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS active_entities (
    id TEXT PRIMARY KEY,
    entity TEXT NOT NULL,
    start TEXT NOT NULL,
    expire_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS ended_entities (
    id TEXT PRIMARY KEY,
    expire_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fixer_state (
    key TEXT PRIMARY KEY,
    seconds INTEGER NOT NULL,
    nanos INTEGER NOT NULL
);
PRAGMA user_version = 5;
";

/// Applies the change an indexed event makes to the active set, if any.
pub fn apply(tx: &Transaction, item: &Item, expire_at: f64) -> rusqlite::Result<()> {
    match change_of(&item.type_name, item.document_text()) {
        Some(Change::Start(entity, id)) => {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO active_entities (id, entity, start, expire_at) \
                 SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM ended_entities WHERE id = ?1)",
            )?
            .execute(params![id, entity.name(), item.document_text(), expire_at])?;
        }
        Some(Change::End(_, id)) => end(tx, &id, expire_at)?,
        None => {}
    }
    Ok(())
}

/// Ends entity `id`: out of the active set, remembered as ended until `expire_at`.
pub fn end(conn: &Connection, id: &str, expire_at: f64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM active_entities WHERE id = ?1")?
        .execute([id])?;
    conn.prepare_cached(
        "INSERT INTO ended_entities (id, expire_at) VALUES (?1, ?2) \
         ON CONFLICT (id) DO UPDATE SET expire_at = max(expire_at, excluded.expire_at)",
    )?
    .execute(params![id, expire_at])?;
    Ok(())
}

/// The active set: `(entity name, id, start document)`.
pub fn active(conn: &Connection) -> rusqlite::Result<Vec<(String, String, String)>> {
    let mut statement = conn.prepare("SELECT entity, id, start FROM active_entities")?;
    let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    rows.collect()
}

/// Whether `id` is still active.
pub fn is_active(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM active_entities WHERE id = ?1")?
        .query_row([id], |_| Ok(()))
        .optional()
        .map(|found| found.is_some())
}

/// When the fixer last ran: `(seconds, nanos)`.
pub fn last_alive(conn: &Connection) -> rusqlite::Result<Option<(i64, i32)>> {
    conn.query_row(
        "SELECT seconds, nanos FROM fixer_state WHERE key = 'last_alive'",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// Records when the fixer ran.
pub fn set_last_alive(conn: &Connection, seconds: i64, nanos: i32) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO fixer_state (key, seconds, nanos) VALUES ('last_alive', ?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET seconds = excluded.seconds, nanos = excluded.nanos",
        params![seconds, nanos],
    )?;
    Ok(())
}

/// Deletes what expired before `now`: entities whose start expired (the store forgot
/// them), ends no replay can still bring.
pub fn prune(tx: &Transaction, now: f64) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM active_entities WHERE expire_at < ?1", [now])?;
    tx.execute("DELETE FROM ended_entities WHERE expire_at < ?1", [now])?;
    Ok(())
}
