//! `room_sessions`: one summary document per room, kept by the sink beside the fork's
//! collections (which stay exactly as the fork writes them), so the read API lists a
//! page of sessions with one indexed query instead of reading every event of the range.
//!
//! | field | what | kept by |
//! |---|---|---|
//! | `_id` | the room's sid | |
//! | `first_ts`, `last_ts` | its earliest and latest event (seconds) | `$min`, `$max` |
//! | `node_id` | the node of its earliest event | set where `first_ts` is this batch's |
//! | `name_ts`, `name` | the earliest event naming the room, and the name | `$min`; set likewise |
//! | `created_ts`, `ended_ts` | its first `ROOM_CREATED`, last `ROOM_ENDED` | `$min`, `$max` |
//! | `started_at` | `created_ts`, else `first_ts` (the list's order) | set where both are as read |
//! | `participants`, `tracks` | sids of its participants, of its published tracks | `$addToSet` |
//! | `score_min`, `min_score_min` | the lowest `score`, `min_score` of its scored stats | `$min` |
//! | `openvidu_expire_at` | the latest expiry of its documents (TTL) | `$max` |
//!
//! Every write is idempotent and order-free (`$min`, `$max`, `$addToSet`, and sets guarded
//! by the values they were computed from), so retries, replays from the spool and several
//! hosts writing one database all end at the summary the events fold to (`api/sessions.rs`).
//! The events of a batch are applied whether stored now or before (duplicates), so a batch
//! whose summary write failed completes it when sent again. Event counts and mean scores
//! are not kept here (a count is not idempotent): the API counts them for its page.

use crate::api::event_row::EventRow;
use crate::api::mongo::ROOM_SESSIONS;
use crate::api::quality::StatRow;
use crate::model::{SharedItem, EXPIRE_FIELD};
use crate::sinks::BatchReport;
use bson::{doc, Bson, Document};
use futures::TryStreamExt;
use mongodb::error::Result;
use mongodb::options::ReturnDocument;
use mongodb::Database;
use std::collections::{BTreeMap, BTreeSet};
use std::future::IntoFuture;
use std::time::SystemTime;

/// The collection (named by the read API, which reads it).
pub const COLLECTION: &str = ROOM_SESSIONS;
/// The `_id` of the document saying the stored documents were summarized ([`backfill`]).
pub const BACKFILLED: &str = "_backfilled";

/// How many times an upsert is sent again after a duplicate `_id` (below).
const UPSERT_ATTEMPTS: usize = 3;

/// Runs the upsert `op`, again when the server answers 11000 DuplicateKey: another writer
/// (another host, or this one's other batch) inserted the same new summary between this
/// upsert's search and its insert. MongoDB retries such an upsert itself in most cases;
/// FerretDB on PostgreSQL does not. Sent again, the upsert finds the document and updates it.
async fn upsert<T, F, Fut>(mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut attempts = 1;
    loop {
        match op().await {
            Err(err) if attempts < UPSERT_ATTEMPTS && is_duplicate_key(&err) => attempts += 1,
            done => return done,
        }
    }
}

/// Whether `err` is the server's 11000 DuplicateKey (as a command's or a write's error).
fn is_duplicate_key(err: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match err.kind.as_ref() {
        ErrorKind::Command(command) => command.code == super::outcome::DUPLICATE_KEY,
        ErrorKind::Write(WriteFailure::WriteError(write)) => {
            write.code == super::outcome::DUPLICATE_KEY
        }
        _ => false,
    }
}
/// Documents read per chunk of the backfill.
const BACKFILL_CHUNK: usize = 10_000;
/// Attempts of the guarded set when another writer changed the summary meanwhile.
const GUARDED_ATTEMPTS: usize = 4;

/// One room's part of a batch of events.
#[derive(Debug, Default)]
struct Delta {
    /// (time, type, node) of the earliest event.
    first: Option<(f64, String, String)>,
    /// (time, type, name) of the earliest event naming the room.
    name: Option<(f64, String, String)>,
    last: f64,
    created: Option<f64>,
    ended: Option<f64>,
    participants: BTreeSet<String>,
    tracks: BTreeSet<String>,
    expire_at: Option<SystemTime>,
}

impl Delta {
    fn add(&mut self, row: &EventRow, expire_at: SystemTime) {
        let earlier = |held: &Option<(f64, String, String)>| {
            held.as_ref()
                .is_none_or(|(ts, kind, _)| (row.ts, &row.kind) < (*ts, kind))
        };
        if earlier(&self.first) {
            self.first = Some((row.ts, row.kind.clone(), row.node_id.clone()));
        }
        if !row.room_name.is_empty() && earlier(&self.name) {
            self.name = Some((row.ts, row.kind.clone(), row.room_name.clone()));
        }
        self.last = self.last.max(row.ts);
        match row.kind.as_str() {
            "ROOM_CREATED" => self.created = Some(self.created.map_or(row.ts, |c| c.min(row.ts))),
            "ROOM_ENDED" => self.ended = Some(self.ended.map_or(row.ts, |e| e.max(row.ts))),
            "TRACK_PUBLISHED" if !row.track_sid.is_empty() => {
                self.tracks.insert(row.track_sid.clone());
            }
            _ => {}
        }
        if !row.participant_sid.is_empty() {
            self.participants.insert(row.participant_sid.clone());
        }
        self.expire_at = self.expire_at.max(Some(expire_at));
    }
}

/// The rooms' summaries of `events` (stored now or before), applied.
pub async fn apply_events(database: &Database, events: &[&SharedItem]) -> Result<()> {
    let rows = events.iter().filter_map(|item| {
        let json = serde_json::from_str(item.document_text()).ok()?;
        Some((EventRow::from_document(&json)?, item.expire_at))
    });
    apply_rows(database, rows).await
}

/// The rooms' summaries of event `documents` written straight to the database (the
/// fixer's synthetic end events, which do not go through the sink), applied.
pub async fn apply_documents(database: &Database, documents: &[Document]) -> Result<()> {
    let rows = documents.iter().filter_map(|document| {
        let expire_at = match document.get(EXPIRE_FIELD) {
            Some(Bson::DateTime(at)) => at.to_system_time(),
            _ => SystemTime::now(),
        };
        let json = Bson::Document(document.clone()).into_relaxed_extjson();
        Some((EventRow::from_document(&json)?, expire_at))
    });
    apply_rows(database, rows).await
}

/// The summaries of event `rows` (each with its document's expiry), applied.
async fn apply_rows(
    database: &Database,
    rows: impl Iterator<Item = (EventRow, SystemTime)>,
) -> Result<()> {
    let mut rooms: BTreeMap<String, Delta> = BTreeMap::new();
    // Webhook deliveries and API calls are about a room, not of its life: no summary.
    for (row, expire_at) in rows.filter(|(row, _)| !row.room_sid.is_empty() && row.is_room_life()) {
        rooms
            .entry(row.room_sid.clone())
            .or_default()
            .add(&row, expire_at);
    }
    for (sid, delta) in rooms {
        apply_room(database, &sid, &delta).await?;
    }
    Ok(())
}

async fn apply_room(database: &Database, sid: &str, delta: &Delta) -> Result<()> {
    let Some((first_ts, _, node)) = &delta.first else {
        return Ok(());
    };
    let mut min = doc! { "first_ts": first_ts };
    let mut max = doc! { "last_ts": delta.last };
    if let Some((ts, _, _)) = &delta.name {
        min.insert("name_ts", ts);
    }
    if let Some(created) = delta.created {
        min.insert("created_ts", created);
    }
    if let Some(ended) = delta.ended {
        max.insert("ended_ts", ended);
    }
    if let Some(expire_at) = delta.expire_at {
        max.insert(EXPIRE_FIELD, bson::DateTime::from_system_time(expire_at));
    }
    let set = |sids: &BTreeSet<String>| doc! { "$each": sids.iter().cloned().collect::<Vec<_>>() };
    let update = doc! {
        "$min": min,
        "$max": max,
        "$addToSet": { "participants": set(&delta.participants), "tracks": set(&delta.tracks) },
    };
    let summaries = database.collection::<Document>(COLLECTION);
    let mut current = upsert(|| {
        summaries
            .find_one_and_update(doc! { "_id": sid }, update.clone())
            .upsert(true)
            .return_document(ReturnDocument::After)
            // No projection: FerretDB's findAndModify has none (238 NotImplemented).
            .into_future()
    })
    .await?
    .unwrap_or_default();
    for _ in 0..GUARDED_ATTEMPTS {
        let number = |key: &str| current.get(key).and_then(Bson::as_f64);
        let started_at = number("created_ts").or(number("first_ts"));
        let mut set = Document::new();
        if number("started_at") != started_at {
            set.insert("started_at", started_at);
        }
        if number("first_ts") == Some(*first_ts) && current.get_str("node_id") != Ok(node) {
            set.insert("node_id", node);
        }
        if let Some((ts, _, name)) = &delta.name {
            if number("name_ts") == Some(*ts) && current.get_str("name") != Ok(name) {
                set.insert("name", name);
            }
        }
        if set.is_empty() {
            return Ok(());
        }
        // Only over the values it was computed from: a writer that changed them meanwhile
        // sets the fields from its own reading.
        let guard = doc! {
            "_id": sid,
            "first_ts": current.get("first_ts").cloned().unwrap_or(Bson::Null),
            "created_ts": current.get("created_ts").cloned().unwrap_or(Bson::Null),
            "name_ts": current.get("name_ts").cloned().unwrap_or(Bson::Null),
        };
        let done = summaries.update_one(guard, doc! { "$set": set }).await?;
        if done.matched_count == 1 {
            return Ok(());
        }
        current = summaries
            .find_one(doc! { "_id": sid })
            .projection(doc! { "participants": 0, "tracks": 0 })
            .await?
            .unwrap_or_default();
    }
    Ok(())
}

/// The rooms' lowest scores of `stats` (stored now or before), applied.
pub async fn apply_stats(database: &Database, stats: &[&SharedItem]) -> Result<()> {
    let rows = stats.iter().filter_map(|item| {
        StatRow::from_document(serde_json::from_str(item.document_text()).ok()?)
    });
    apply_stat_rows(database, rows).await
}

/// The lowest scores of stat `rows`, applied.
async fn apply_stat_rows(database: &Database, rows: impl Iterator<Item = StatRow>) -> Result<()> {
    let mut rooms: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for row in rows {
        let Some(score) = row.score.filter(|s| *s > 0.0) else {
            continue;
        };
        if row.room_sid.is_empty() {
            continue;
        }
        let min_score = row.min_score.unwrap_or(score);
        let entry = rooms.entry(row.room_sid).or_insert((score, min_score));
        entry.0 = entry.0.min(score);
        entry.1 = entry.1.min(min_score);
    }
    let summaries = database.collection::<Document>(COLLECTION);
    for (sid, (score, min_score)) in rooms {
        upsert(|| {
            summaries
                .update_one(
                    doc! { "_id": &sid },
                    doc! { "$min": { "score_min": score, "min_score_min": min_score } },
                )
                .upsert(true)
                .into_future()
        })
        .await?;
    }
    Ok(())
}

/// Summarizes what was stored before the summaries existed (a database the fork or an
/// older host wrote), once per database: unless the marker document `_backfilled` is
/// there, every event and scored stat is read (in the API's projection, a chunk at a time)
/// and applied as a batch would be, then the marker is written. Safe beside live writes
/// and when interrupted (every write is idempotent; it starts over next time). Returns the
/// number of documents read, `None` when already done.
pub async fn backfill(database: &Database) -> Result<Option<u64>> {
    let summaries = database.collection::<Document>(COLLECTION);
    if summaries
        .find_one(doc! { "_id": BACKFILLED })
        .await?
        .is_some()
    {
        return Ok(None);
    }
    let mut read = 0;
    let mut projection = crate::api::mongo::projection();
    projection.insert(EXPIRE_FIELD, 1);
    let mut cursor = database
        .collection::<Document>("events")
        .find(doc! {})
        .projection(projection)
        .await?;
    let mut chunk = Vec::new();
    while let Some(document) = cursor.try_next().await? {
        read += 1;
        let expire_at = match document.get(EXPIRE_FIELD) {
            Some(Bson::DateTime(at)) => at.to_system_time(),
            _ => SystemTime::now(),
        };
        let json = Bson::Document(document).into_relaxed_extjson();
        if let Some(row) = EventRow::from_document(&json) {
            chunk.push((row, expire_at));
        }
        if chunk.len() == BACKFILL_CHUNK {
            apply_rows(database, chunk.drain(..)).await?;
        }
    }
    apply_rows(database, chunk.drain(..)).await?;
    let mut cursor = database
        .collection::<Document>("stats")
        .find(doc! { "score": { "$gt": 0 } })
        .projection(doc! { "room_id": 1, "score": 1, "min_score": 1, "_id": 0 })
        .await?;
    let mut chunk = Vec::new();
    while let Some(document) = cursor.try_next().await? {
        read += 1;
        if let Some(row) = StatRow::from_document(Bson::Document(document).into_relaxed_extjson()) {
            chunk.push(row);
        }
        if chunk.len() == BACKFILL_CHUNK {
            apply_stat_rows(database, chunk.drain(..)).await?;
        }
    }
    apply_stat_rows(database, chunk.drain(..)).await?;
    upsert(|| {
        summaries
            .update_one(
                doc! { "_id": BACKFILLED },
                doc! { "$set": { "documents_read": read as i64, "at": bson::DateTime::now() } },
            )
            .upsert(true)
            .into_future()
    })
    .await?;
    Ok(Some(read))
}

/// The summary of `settled` (items stored now or before, with whether each was a
/// duplicate) failed with `err`: each is sent again (it comes back as a duplicate and
/// completes it), unless `report` already says so.
pub(super) fn send_again(
    settled: &[(usize, &SharedItem, bool)],
    report: &mut BatchReport,
    err: &mongodb::error::Error,
) {
    for (position, _, duplicate) in settled {
        if !report.retry.contains(position) {
            report.retry.push(*position);
            report.duplicates -= usize::from(*duplicate);
        }
    }
    report.error = Some(format!("{COLLECTION}: {err}"));
}
