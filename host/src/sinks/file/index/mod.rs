//! The embedded store's query index: an SQLite database (`<dir>/index.sqlite`) beside the
//! JSON Lines files, written by the file sink in the same batch, so the read API can answer
//! without MongoDB. One row per event with the fields the API reads ([`EventRow`]), indexed
//! by time, room, room name and identity, and each room's stats with their quality metrics
//! ([`StatRow`]) packed in one row per transaction (`chunks`); rows past their
//! `openvidu_expire_at` are deleted (the JSON Lines files are the archive and keep
//! everything): events by their `spans`, stats with their chunk. [`query`] is the reading
//! side.

mod chunks;
pub mod entities;
pub mod query;
mod rooms;
mod spans;
pub mod writer;

use crate::api::quality::StatRow;
use crate::api::sessions::EventRow;
use crate::model::{Item, ItemKind};
use anyhow::Context;
pub use query::IndexQuery;
use rusqlite::{params, Connection};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The database file in the store's directory.
pub const FILE_NAME: &str = "index.sqlite";
/// How often expired rows are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// The schema's version (`PRAGMA user_version`): 0 for a new file, 1 for an index of events
/// only (no `reason`), 2 with the stats table, 3 with the stats in chunks (`chunks`) and
/// the events' expiry by spans (`spans`), 4 with the webhook and API-call summaries
/// (`detail`, see `api::side_records`), 5 with the active set the fixer of a host without
/// MongoDB reads ([`entities`]).
const VERSION: i64 = 5;

/// What version 4 adds: the summary of a `WEBHOOK` or `API_CALL` event (its rows written by
/// an older host keep an empty one).
const SCHEMA_4: &str = "
ALTER TABLE events ADD COLUMN detail TEXT NOT NULL DEFAULT '';
PRAGMA user_version = 4;
";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    ts REAL NOT NULL,
    type TEXT NOT NULL,
    room_sid TEXT NOT NULL,
    room_name TEXT NOT NULL,
    node_id TEXT NOT NULL,
    participant_sid TEXT NOT NULL,
    identity TEXT NOT NULL,
    track_sid TEXT NOT NULL,
    track_type TEXT NOT NULL,
    track_source TEXT NOT NULL,
    mime TEXT NOT NULL,
    expire_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_room ON events (room_sid, ts);
CREATE INDEX IF NOT EXISTS events_name ON events (room_name, ts);
CREATE INDEX IF NOT EXISTS events_identity ON events (identity, ts);
";

/// What version 2 adds to a version 1 (or new) index.
const SCHEMA_2: &str = "
ALTER TABLE events ADD COLUMN reason TEXT NOT NULL DEFAULT '';
CREATE TABLE IF NOT EXISTS stats (
    room_sid TEXT NOT NULL,
    ts REAL NOT NULL,
    id TEXT NOT NULL,
    participant_sid TEXT NOT NULL,
    track_sid TEXT NOT NULL,
    kind TEXT NOT NULL,
    mime TEXT NOT NULL,
    score REAL,
    min_score REAL,
    packet_loss REAL,
    jitter REAL,
    rtt REAL,
    bitrate REAL,
    expire_at REAL NOT NULL,
    PRIMARY KEY (room_sid, ts, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS stats_expire ON stats (expire_at);
DROP INDEX IF EXISTS events_ts;
CREATE INDEX IF NOT EXISTS events_ts_room ON events (ts, room_sid);
PRAGMA user_version = 2;
";

/// The room summaries of an index of version 1, from its events (name and node of the
/// earliest event, ties by type, as [`rooms::RoomDeltas`] keeps them).
const REBUILD_ROOMS: &str = "
INSERT OR REPLACE INTO rooms
SELECT room_sid,
  MIN(ts), (SELECT x.type FROM events x WHERE x.room_sid = e.room_sid ORDER BY x.ts, x.type LIMIT 1),
  (SELECT x.node_id FROM events x WHERE x.room_sid = e.room_sid ORDER BY x.ts, x.type LIMIT 1),
  (SELECT x.ts FROM events x WHERE x.room_sid = e.room_sid AND x.room_name != ''
     ORDER BY x.ts, x.type LIMIT 1),
  (SELECT x.type FROM events x WHERE x.room_sid = e.room_sid AND x.room_name != ''
     ORDER BY x.ts, x.type LIMIT 1),
  coalesce((SELECT x.room_name FROM events x WHERE x.room_sid = e.room_sid
     AND x.room_name != '' ORDER BY x.ts, x.type LIMIT 1), ''),
  MAX(ts), MIN(CASE WHEN type = 'ROOM_CREATED' THEN ts END),
  MAX(CASE WHEN type = 'ROOM_ENDED' THEN ts END), COUNT(*), MAX(expire_at)
FROM events e WHERE room_sid != '' GROUP BY room_sid;
INSERT OR IGNORE INTO room_participants
  SELECT room_sid, participant_sid FROM events WHERE room_sid != '' AND participant_sid != '';
INSERT OR IGNORE INTO room_tracks SELECT room_sid, track_sid FROM events
  WHERE room_sid != '' AND type = 'TRACK_PUBLISHED' AND track_sid != '';
";

/// The writer side, owned by the file sink.
pub struct FileIndex {
    conn: Connection,
    pruned: Instant,
}

fn unix(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl FileIndex {
    /// Opens (or creates, or brings up to this version) the index in `dir`.
    pub fn open(dir: &Path) -> anyhow::Result<FileIndex> {
        let path = dir.join(FILE_NAME);
        let mut conn = Connection::open(&path)
            .with_context(|| format!("opening the query index {}", path.display()))?;
        // WAL: readers (the API) never block the writer; NORMAL: a crash may lose the last
        // transactions of the index, never the JSON Lines files.
        // The fixer writes its state through a connection of its own: wait for it.
        conn.busy_timeout(Duration::from_secs(10))
            .with_context(|| format!("opening the query index {}", path.display()))?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
            .and_then(|_| conn.execute_batch(SCHEMA))
            .with_context(|| format!("preparing the query index {}", path.display()))?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .with_context(|| format!("reading the version of {}", path.display()))?;
        if version > VERSION {
            anyhow::bail!(
                "the query index {} was written by a newer host (schema {version}, this one \
                 knows {VERSION}); move it away and this host starts a new one",
                path.display()
            );
        }
        if version < 2 {
            conn.execute_batch(&format!(
                "BEGIN; {SCHEMA_2} {} {REBUILD_ROOMS} COMMIT;",
                rooms::SCHEMA
            ))
            .with_context(|| format!("upgrading the query index {}", path.display()))?;
        }
        if version < 3 {
            // Once per index: a version 2 index's stats rows are re-packed into chunks.
            let started = Instant::now();
            let tx = conn.transaction()?;
            tx.execute_batch(&format!(
                "{} {} {}",
                chunks::SCHEMA,
                spans::SCHEMA,
                spans::UPGRADE
            ))
            .and_then(|_| chunks::from_stats_table(&tx))
            .and_then(|_| tx.execute_batch("PRAGMA user_version = 3;"))
            .and_then(|_| tx.commit())
            .with_context(|| format!("upgrading the query index {}", path.display()))?;
            if version > 0 {
                tracing::info!(index = %path.display(), from = version, to = VERSION,
                    seconds = started.elapsed().as_secs_f64(), "query index upgraded");
            }
        }
        if version < 4 {
            conn.execute_batch(&format!("BEGIN; {SCHEMA_4} COMMIT;"))
                .with_context(|| format!("upgrading the query index {}", path.display()))?;
        }
        if version < 5 {
            conn.execute_batch(&format!("BEGIN; {} COMMIT;", entities::SCHEMA))
                .with_context(|| format!("upgrading the query index {}", path.display()))?;
        }
        Ok(FileIndex {
            conn,
            pruned: Instant::now() - PRUNE_EVERY,
        })
    }

    /// Adds the events (and their rooms' summaries) and stats among `items` (a second copy
    /// of an id is ignored: the same id is the same document), in one transaction; deletes
    /// expired rows at most once a minute.
    pub fn add(&mut self, items: &[&Item]) -> anyhow::Result<()> {
        let tx = self.conn.transaction()?;
        {
            // A second copy of an event (same id, same content) changes nothing.
            let mut event = tx.prepare_cached(
                "INSERT OR IGNORE INTO events (id, ts, type, room_sid, room_name, node_id, \
                 participant_sid, identity, track_sid, track_type, track_source, mime, \
                 expire_at, reason, detail) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )?;
            let mut deltas = rooms::RoomDeltas::default();
            let mut stat_chunks = chunks::ChunkWriter::default();
            let mut event_spans = spans::Spans::default();
            for item in items {
                match item.kind {
                    ItemKind::Event => {
                        let r = EventRow::from_item(item);
                        let added = event.execute(params![
                            item.id,
                            r.ts,
                            r.kind,
                            r.room_sid,
                            r.room_name,
                            r.node_id,
                            r.participant_sid,
                            r.identity,
                            r.track_sid,
                            r.track_type,
                            r.track_source,
                            r.mime,
                            unix(item.expire_at),
                            r.reason,
                            r.detail,
                        ])?;
                        if added > 0 {
                            deltas.add(&r, unix(item.expire_at));
                            event_spans.add(&r.room_sid, r.ts, unix(item.expire_at));
                            entities::apply(&tx, item, unix(item.expire_at))?;
                        }
                    }
                    ItemKind::Stat => {
                        let Some(r) = StatRow::from_item(item) else {
                            continue;
                        };
                        stat_chunks.add(&tx, &item.id, &r, unix(item.expire_at))?;
                    }
                    _ => {}
                }
            }
            deltas.write(&tx)?;
            stat_chunks.write(&tx)?;
            event_spans.write(&tx)?;
        }
        if self.pruned.elapsed() >= PRUNE_EVERY {
            let now = unix(SystemTime::now());
            spans::prune(&tx, now)?;
            chunks::prune(&tx, now)?;
            rooms::prune(&tx, now)?;
            entities::prune(&tx, now)?;
            self.pruned = Instant::now();
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
