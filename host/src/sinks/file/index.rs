//! The embedded store's query index: an SQLite database (`<dir>/index.sqlite`) beside the
//! JSON Lines files, written by the file sink in the same batch, so the read API can answer
//! without MongoDB. One row per event with the fields the API reads ([`EventRow`]),
//! indexed by time, room and room name; rows past their `openvidu_expire_at` are deleted
//! (the JSON Lines files are the archive and keep everything).

use crate::api::sessions::EventRow;
use crate::model::{Item, ItemKind};
use anyhow::Context;
use rusqlite::{params, Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The database file in the store's directory.
pub const FILE_NAME: &str = "index.sqlite";
/// How often expired rows are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

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
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
CREATE INDEX IF NOT EXISTS events_room ON events (room_sid, ts);
CREATE INDEX IF NOT EXISTS events_name ON events (room_name, ts);
CREATE INDEX IF NOT EXISTS events_expire ON events (expire_at);
CREATE INDEX IF NOT EXISTS events_identity ON events (identity, ts);
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
    /// Opens (or creates) the index in `dir`.
    pub fn open(dir: &Path) -> anyhow::Result<FileIndex> {
        let path = dir.join(FILE_NAME);
        let conn = Connection::open(&path)
            .with_context(|| format!("opening the query index {}", path.display()))?;
        // WAL: readers (the API) never block the writer; NORMAL: a crash may lose the last
        // transactions of the index, never the JSON Lines files it is rebuilt from.
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
            .and_then(|_| conn.execute_batch(SCHEMA))
            .with_context(|| format!("preparing the query index {}", path.display()))?;
        Ok(FileIndex {
            conn,
            pruned: Instant::now() - PRUNE_EVERY,
        })
    }

    /// Adds the events among `items` (a second copy of an id replaces the first), in one
    /// transaction; deletes expired rows at most once a minute.
    pub fn add(&mut self, items: &[&Item]) -> anyhow::Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO events VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?;
            for item in items.iter().filter(|i| i.kind == ItemKind::Event) {
                let r = EventRow::from_item(item);
                insert.execute(params![
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
                ])?;
            }
        }
        if self.pruned.elapsed() >= PRUNE_EVERY {
            tx.execute(
                "DELETE FROM events WHERE expire_at < ?1",
                params![unix(SystemTime::now())],
            )?;
            self.pruned = Instant::now();
        }
        tx.commit()?;
        Ok(())
    }
}

/// The reader side, for the read API: each query opens its own read-only connection.
#[derive(Debug, Clone)]
pub struct IndexQuery {
    path: PathBuf,
}

impl IndexQuery {
    /// Reads the index of the file store in `dir`.
    pub fn new(dir: &Path) -> IndexQuery {
        IndexQuery {
            path: dir.join(FILE_NAME),
        }
    }

    /// Events with `from <= ts < to`, of rooms named `name` if set.
    pub async fn events_between(
        &self,
        from: f64,
        to: f64,
        name: Option<&str>,
    ) -> anyhow::Result<Vec<EventRow>> {
        let name = name.map(str::to_string);
        self.rows(move |conn| match name {
            Some(name) => select(
                conn,
                "WHERE room_name = ?1 AND ts >= ?2 AND ts < ?3",
                params![name, from, to],
            ),
            None => select(conn, "WHERE ts >= ?1 AND ts < ?2", params![from, to]),
        })
        .await
    }

    /// The sids of the rooms where `identity` has an event with `from <= ts < to`.
    pub async fn rooms_of(
        &self,
        identity: &str,
        from: f64,
        to: f64,
    ) -> anyhow::Result<Vec<String>> {
        let identity = identity.to_string();
        let rows = self
            .rows(move |conn| {
                select(
                    conn,
                    "WHERE identity = ?1 AND ts >= ?2 AND ts < ?3",
                    params![identity, from, to],
                )
            })
            .await?;
        let mut sids: Vec<String> = rows.into_iter().map(|r| r.room_sid).collect();
        sids.sort();
        sids.dedup();
        Ok(sids)
    }

    /// Every event of room `sid`.
    pub async fn room_events(&self, sid: &str) -> anyhow::Result<Vec<EventRow>> {
        let sid = sid.to_string();
        self.rows(move |conn| select(conn, "WHERE room_sid = ?1", params![sid]))
            .await
    }

    async fn rows(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<Vec<EventRow>> + Send + 'static,
    ) -> anyhow::Result<Vec<EventRow>> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            if !path.exists() {
                return Ok(Vec::new());
            }
            let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
                .with_context(|| format!("opening the query index {}", path.display()))?;
            query(&conn).with_context(|| format!("querying {}", path.display()))
        })
        .await
        .context("the index query task failed")?
    }
}

fn select(
    conn: &Connection,
    condition: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<EventRow>> {
    let mut statement = conn.prepare(&format!(
        "SELECT ts, type, room_sid, room_name, node_id, participant_sid, identity, track_sid, \
         track_type, track_source, mime FROM events {condition}"
    ))?;
    let rows = statement.query_map(params, |r| {
        Ok(EventRow {
            ts: r.get(0)?,
            kind: r.get(1)?,
            room_sid: r.get(2)?,
            room_name: r.get(3)?,
            node_id: r.get(4)?,
            participant_sid: r.get(5)?,
            identity: r.get(6)?,
            track_sid: r.get(7)?,
            track_type: r.get(8)?,
            track_source: r.get(9)?,
            mime: r.get(10)?,
        })
    })?;
    rows.collect()
}
