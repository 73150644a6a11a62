//! The reading side of the query index, for the read API: each query opens its own
//! read-only connection on a blocking thread (WAL: it never waits for the writer).

use super::FILE_NAME;
use crate::api::quality::{RoomScore, StatRow};
use crate::api::sessions::EventRow;
use anyhow::Context;
use rusqlite::{params, params_from_iter, Connection, OpenFlags};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Reads the index of one file store.
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
        self.read(move |conn| match name {
            Some(name) => events(
                conn,
                "WHERE room_name = ?1 AND ts >= ?2 AND ts < ?3",
                params![name, from, to],
            ),
            None => events(conn, "WHERE ts >= ?1 AND ts < ?2", params![from, to]),
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
        self.read(move |conn| {
            let mut statement = conn.prepare(
                "SELECT DISTINCT room_sid FROM events \
                 WHERE identity = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY room_sid",
            )?;
            let sids = statement.query_map(params![identity, from, to], |r| r.get(0))?;
            sids.collect()
        })
        .await
    }

    /// Every event of room `sid`.
    pub async fn room_events(&self, sid: &str) -> anyhow::Result<Vec<EventRow>> {
        let sid = sid.to_string();
        self.read(move |conn| events(conn, "WHERE room_sid = ?1", params![sid]))
            .await
    }

    /// Every stat of room `sid`.
    pub async fn room_stats(&self, sid: &str) -> anyhow::Result<Vec<StatRow>> {
        let sid = sid.to_string();
        self.read(move |conn| {
            let mut statement = conn.prepare(
                "SELECT ts, room_sid, participant_sid, track_sid, kind, mime, score, min_score, \
                 packet_loss, jitter, rtt, bitrate FROM stats WHERE room_sid = ?1",
            )?;
            let rows = statement.query_map(params![sid], |r| {
                Ok(StatRow {
                    ts: r.get(0)?,
                    room_sid: r.get(1)?,
                    participant_sid: r.get(2)?,
                    track_sid: r.get(3)?,
                    kind: r.get(4)?,
                    mime: r.get(5)?,
                    score: r.get(6)?,
                    min_score: r.get(7)?,
                    packet_loss: r.get(8)?,
                    jitter: r.get(9)?,
                    rtt: r.get(10)?,
                    bitrate: r.get(11)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// The worst and mean score of each of the rooms `sids` that has scored stats.
    pub async fn room_scores(
        &self,
        sids: &[String],
    ) -> anyhow::Result<BTreeMap<String, RoomScore>> {
        if sids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let sids = sids.to_vec();
        self.read(move |conn| {
            let marks = vec!["?"; sids.len()].join(", ");
            let mut statement = conn.prepare(&format!(
                "SELECT room_sid, MIN(MIN(min_score), MIN(score)), SUM(score), COUNT(score) FROM stats \
                 WHERE room_sid IN ({marks}) AND score IS NOT NULL GROUP BY room_sid"
            ))?;
            let rows = statement.query_map(params_from_iter(sids.iter()), |r| {
                let count: i64 = r.get(3)?;
                Ok((
                    r.get::<_, String>(0)?,
                    RoomScore::of(r.get(1)?, r.get(2)?, count as u64),
                ))
            })?;
            rows.collect()
        })
        .await
    }

    async fn read<T: Send + Default + 'static>(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            if !path.exists() {
                return Ok(T::default());
            }
            let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
                .with_context(|| format!("opening the query index {}", path.display()))?;
            query(&conn).with_context(|| format!("querying {}", path.display()))
        })
        .await
        .context("the index query task failed")?
    }
}

fn events(
    conn: &Connection,
    condition: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<EventRow>> {
    let mut statement = conn.prepare(&format!(
        "SELECT ts, type, room_sid, room_name, node_id, participant_sid, identity, track_sid, \
         track_type, track_source, mime, reason FROM events {condition}"
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
            reason: r.get(11)?,
        })
    })?;
    rows.collect()
}
