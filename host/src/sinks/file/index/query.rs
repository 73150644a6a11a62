//! The reading side of the query index, for the read API: each query opens its own
//! read-only connection on a blocking thread (WAL: it never waits for the writer).

use super::FILE_NAME;
use crate::api::quality::{Folder, RoomScore, SeriesBuckets};
use crate::api::sessions::{self, EventRow, RoomSession};
use crate::api::IndexReads;
use anyhow::Context;
use rusqlite::{params, Connection, OpenFlags};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Reads the index of one file store.
#[derive(Debug, Clone)]
pub struct IndexQuery {
    path: PathBuf,
}

/// The read API's questions, answered by the methods of the same names below.
#[async_trait::async_trait]
impl IndexReads for IndexQuery {
    async fn sessions_page(
        &self,
        from: f64,
        to: f64,
        name: Option<&str>,
        after: Option<&(f64, String)>,
        limit: usize,
    ) -> anyhow::Result<(Vec<RoomSession>, bool)> {
        IndexQuery::sessions_page(self, from, to, name, after, limit).await
    }

    async fn rooms_of(&self, identity: &str, from: f64, to: f64) -> anyhow::Result<Vec<String>> {
        IndexQuery::rooms_of(self, identity, from, to).await
    }

    async fn room_events(&self, sid: &str) -> anyhow::Result<Vec<EventRow>> {
        IndexQuery::room_events(self, sid).await
    }

    async fn room_identities(&self, sid: &str) -> anyhow::Result<Option<BTreeMap<String, String>>> {
        IndexQuery::room_identities(self, sid).await
    }

    async fn room_quality(&self, sid: &str, bucket: f64) -> anyhow::Result<Vec<SeriesBuckets>> {
        IndexQuery::room_quality(self, sid, bucket).await
    }

    async fn room_scores(&self, sids: &[String]) -> anyhow::Result<BTreeMap<String, RoomScore>> {
        IndexQuery::room_scores(self, sids).await
    }
}

impl IndexQuery {
    /// Reads the index of the file store in `dir`.
    pub fn new(dir: &Path) -> IndexQuery {
        IndexQuery {
            path: dir.join(FILE_NAME),
        }
    }

    /// A page of `limit` sessions whose life (first to last event) overlaps `[from, to)`
    /// (of the rooms named `name` if set) after the cursor `after` (start, sid), newest
    /// start first, each over all its events, and whether more follow. One query on the
    /// `rooms` summaries (kept as events are indexed: the same summary as
    /// [`sessions::sessions`] folds from the events); participants and tracks are counted
    /// for the page's rooms only. The bounds are those of the MongoDB question
    /// (`first_ts < ceil(to)`, `last_ts >= floor(from)`), so both backends list the same.
    pub async fn sessions_page(
        &self,
        from: f64,
        to: f64,
        name: Option<&str>,
        after: Option<&(f64, String)>,
        limit: usize,
    ) -> anyhow::Result<(Vec<RoomSession>, bool)> {
        let name = name.map(str::to_string);
        let (after_start, after_sid) = match after {
            Some((start, sid)) => (Some(*start), Some(sid.clone())),
            None => (None, None),
        };
        let (from, to) = (from.floor(), to.ceil());
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT r.room_sid, r.room_name, r.node_id, r.first_ts, r.last_ts, r.created_ts, \
                   r.ended_ts, \
                   (SELECT COUNT(*) FROM room_participants p WHERE p.room_sid = r.room_sid), \
                   (SELECT COUNT(*) FROM room_tracks t WHERE t.room_sid = r.room_sid), \
                   r.events \
                 FROM (SELECT * FROM rooms \
                       WHERE first_ts < ?2 AND last_ts >= ?1 \
                         AND (?3 IS NULL OR room_name = ?3) \
                         AND (?4 IS NULL OR COALESCE(created_ts, first_ts) < ?4 \
                              OR (COALESCE(created_ts, first_ts) = ?4 AND room_sid > ?5)) \
                       ORDER BY COALESCE(created_ts, first_ts) DESC, room_sid ASC \
                       LIMIT ?6) r",
            )?;
            let rows = statement.query_map(
                params![from, to, name, after_start, after_sid, limit as i64 + 1],
                |r| {
                    let (first, last): (f64, f64) = (r.get(3)?, r.get(4)?);
                    let created: Option<f64> = r.get(5)?;
                    let ended: Option<f64> = r.get(6)?;
                    let started_at = created.unwrap_or(first);
                    Ok(RoomSession {
                        sid: r.get(0)?,
                        name: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                        node_id: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                        started_at,
                        ended_at: ended,
                        duration_seconds: ended.unwrap_or(last) - started_at,
                        open: ended.is_none(),
                        participants: r.get::<_, i64>(7)? as usize,
                        tracks: r.get::<_, i64>(8)? as usize,
                        events: r.get::<_, i64>(9)? as usize,
                        worst_score: None,
                        mean_score: None,
                    })
                },
            )?;
            let mut sessions: Vec<RoomSession> = rows.collect::<rusqlite::Result<_>>()?;
            sessions::order(&mut sessions);
            let more = sessions.len() > limit;
            sessions.truncate(limit);
            Ok((sessions, more))
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

    /// The identity of each participant of room `sid` (by sid); `None` when the room has no
    /// events. One distinct pair per participant, not every event.
    pub async fn room_identities(
        &self,
        sid: &str,
    ) -> anyhow::Result<Option<BTreeMap<String, String>>> {
        let sid = sid.to_string();
        self.read(move |conn| {
            let known: bool = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM events WHERE room_sid = ?1)",
                params![sid],
                |r| r.get(0),
            )?;
            if !known {
                return Ok(None);
            }
            let mut statement = conn.prepare(
                "SELECT DISTINCT participant_sid, identity FROM events \
                 WHERE room_sid = ?1 AND participant_sid != '' AND identity != ''",
            )?;
            let pairs = statement.query_map(params![sid], |r| Ok((r.get(0)?, r.get(1)?)))?;
            pairs.collect::<rusqlite::Result<_>>().map(Some)
        })
        .await
    }

    /// Every event of room `sid`.
    pub async fn room_events(&self, sid: &str) -> anyhow::Result<Vec<EventRow>> {
        let sid = sid.to_string();
        self.read(move |conn| events(conn, "WHERE room_sid = ?1", params![sid]))
            .await
    }

    /// The stats of room `sid` in buckets of `bucket` seconds, read from the room's chunks
    /// and folded as they are read (a [`Folder`]: no stat is kept).
    pub async fn room_quality(&self, sid: &str, bucket: f64) -> anyhow::Result<Vec<SeriesBuckets>> {
        let sid = sid.to_string();
        self.read(move |conn| {
            let mut folder = Folder::new(bucket);
            super::chunks::room_stats(conn, &sid, |s| folder.add(s.ts, s.texts, s.metrics))?;
            Ok(folder.finish())
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
            let mut scores = BTreeMap::new();
            for sid in sids {
                // Over the stats with a score: the lowest `min_score` or score (none when
                // no stat has a `min_score`), their sum and count.
                let (mut lowest_min, mut lowest, mut sum, mut count) =
                    (None, f64::INFINITY, 0.0, 0);
                super::chunks::room_stats(conn, &sid, |s| {
                    let [Some(score), min_score, ..] = s.metrics else {
                        return;
                    };
                    if let Some(m) = min_score {
                        lowest_min = Some(lowest_min.map_or(m, |l: f64| l.min(m)));
                    }
                    lowest = lowest.min(score);
                    sum += score;
                    count += 1;
                })?;
                if count > 0 {
                    let worst = lowest_min.map(|m| m.min(lowest));
                    scores.insert(sid, RoomScore::of(worst, sum, count));
                }
            }
            Ok(scores)
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
            let conn = Connection::open_with_flags(
                &path,
                // NO_MUTEX: one thread uses the connection; the default (serialized) took a
                // mutex per column read, a fifth of a large query's time.
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
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
         track_type, track_source, mime, reason, detail FROM events {condition}"
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
            detail: r.get(12)?,
        })
    })?;
    rows.collect()
}
