//! The query backend over MongoDB: finds the documents a question needs, through the
//! indexes the sink creates (events: `timestamp.seconds` for a time range, `room.sid` for a
//! room, `participant.identity` for a person; stats: `room_id`), projected to the fields
//! [`EventRow`] and [`StatRow`] read. The sessions list reads the rooms' summaries
//! ([`ROOM_SESSIONS`]) a page at a time; a room's mean score is one `$group` over its
//! stats. Every query uses only what each server of the test matrix implements
//! (SecantusDB, FerretDB: `$group` with `$sum`, no `$min`).

use super::quality::{self, RoomScore, SeriesBuckets, StatRow};
use super::sessions::{EventRow, RoomSession};
use anyhow::Context;
use bson::{doc, Document};
use futures::TryStreamExt;
use mongodb::options::FindOptions;
use mongodb::{Client, Collection};
use std::collections::BTreeMap;

/// The collection of the rooms' summaries the MongoDB sink keeps
/// (`sinks::mongo::room_sessions`, which documents its fields).
pub const ROOM_SESSIONS: &str = "room_sessions";

/// The worst score of a room's summary: the lowest `min_score` when positive, with the
/// lowest `score` (as a `$group` over the room's scored stats would compute it).
pub fn worst_score(summary: &Document) -> Option<f64> {
    let lowest = |key: &str| number(summary, key);
    match (
        lowest("min_score_min").filter(|v| *v > 0.0),
        lowest("score_min"),
    ) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Reads the `events` collection of the sink's database.
#[derive(Debug, Clone)]
pub struct MongoQuery {
    events: Collection<Document>,
    stats: Collection<Document>,
    sessions: Collection<Document>,
}

pub use super::event_fields::projection;

impl MongoQuery {
    /// Queries `database` through `url` (the sink's `mongo_url`); connects lazily.
    pub async fn connect(url: &str, database: &str) -> anyhow::Result<MongoQuery> {
        let client = Client::with_uri_str(url)
            .await
            .context("openvidu.analytics.mongo_url: the query API cannot use it")?;
        let database = client.database(database);
        Ok(MongoQuery {
            events: database.collection("events"),
            stats: database.collection("stats"),
            sessions: database.collection(ROOM_SESSIONS),
        })
    }

    /// A page of `limit` sessions whose life (first to last event) overlaps `[from, to)`
    /// (named `name` if set), after the cursor `after`, newest start first, and whether
    /// more follow: one query on the `room_sessions` summaries through their
    /// `started_at_-1__id_1` index, then one `$group` counting the page's events.
    pub async fn sessions_page(
        &self,
        from: f64,
        to: f64,
        name: Option<&str>,
        after: Option<&(f64, String)>,
        limit: usize,
    ) -> anyhow::Result<(Vec<RoomSession>, bool)> {
        let mut filter = doc! {
            "first_ts": { "$lt": to.ceil() },
            "last_ts": { "$gte": from.floor() },
        };
        if let Some(name) = name {
            filter.insert("name", name);
        }
        if let Some((started, sid)) = after {
            filter.insert(
                "$or",
                vec![
                    doc! { "started_at": { "$lt": started } },
                    doc! { "started_at": started, "_id": { "$gt": sid } },
                ],
            );
        }
        let options = FindOptions::builder()
            .sort(doc! { "started_at": -1, "_id": 1 })
            .limit(limit as i64 + 1)
            .projection(doc! { "participants": 0, "tracks": 0 })
            .build();
        let mut summaries: Vec<Document> = self
            .sessions
            .find(filter)
            .with_options(options)
            .await
            .context("querying MongoDB's room_sessions")?
            .try_collect()
            .await
            .context("reading MongoDB's room_sessions")?;
        let more = summaries.len() > limit;
        summaries.truncate(limit);
        let sids: Vec<String> = summaries
            .iter()
            .filter_map(|d| d.get_str("_id").ok().map(str::to_string))
            .collect();
        let sizes = self.sizes(&sids).await?;
        let counts = self.event_counts(&sids).await?;
        let page = summaries
            .iter()
            .filter_map(|summary| {
                let sid = summary.get_str("_id").ok()?;
                let (participants, tracks) = sizes.get(sid).copied().unwrap_or_default();
                let events = counts.get(sid).copied().unwrap_or_default();
                Some(summary_session(summary, participants, tracks, events))
            })
            .collect();
        Ok((page, more))
    }

    /// The number of participants and published tracks of each room of `sids`, from its
    /// summary (the sids themselves read once, for the page only).
    async fn sizes(&self, sids: &[String]) -> anyhow::Result<BTreeMap<String, (usize, usize)>> {
        let mut cursor = self
            .sessions
            .find(doc! { "_id": { "$in": sids.to_vec() } })
            .projection(doc! { "participants": 1, "tracks": 1 })
            .await
            .context("querying MongoDB's room_sessions")?;
        let mut sizes = BTreeMap::new();
        while let Some(d) = cursor
            .try_next()
            .await
            .context("reading MongoDB's room_sessions")?
        {
            let len = |key: &str| d.get_array(key).map_or(0, Vec::len);
            if let Ok(sid) = d.get_str("_id") {
                sizes.insert(sid.to_string(), (len("participants"), len("tracks")));
            }
        }
        Ok(sizes)
    }

    /// The number of events of each room of `sids`: one `$group` (`$sum`, which every
    /// server of the test matrix implements) through the `room.sid` index.
    async fn event_counts(&self, sids: &[String]) -> anyhow::Result<BTreeMap<String, usize>> {
        if sids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let pipeline = [
            doc! { "$match": { "room.sid": { "$in": sids.to_vec() } } },
            doc! { "$group": { "_id": "$room.sid", "events": { "$sum": 1 } } },
        ];
        let mut cursor = self
            .events
            .aggregate(pipeline)
            .await
            .context("counting MongoDB's events")?;
        let mut counts = BTreeMap::new();
        while let Some(group) = cursor
            .try_next()
            .await
            .context("counting MongoDB's events")?
        {
            if let (Ok(sid), Some(n)) = (group.get_str("_id"), number(&group, "events")) {
                counts.insert(sid.to_string(), n as usize);
            }
        }
        Ok(counts)
    }

    /// The sids of the rooms where `identity` has an event, with `timestamp.seconds` in
    /// `[from, to)`.
    pub async fn rooms_of(
        &self,
        identity: &str,
        from: f64,
        to: f64,
    ) -> anyhow::Result<Vec<String>> {
        let filter = doc! {
            "participant.identity": identity,
            "timestamp.seconds": { "$gte": from.floor(), "$lt": to.ceil() },
        };
        let rows = self.rows(filter).await?;
        let mut sids: Vec<String> = rows.into_iter().map(|r| r.room_sid).collect();
        sids.sort();
        sids.dedup();
        Ok(sids)
    }

    /// Every event of the room `sid`.
    pub async fn room_events(&self, sid: &str) -> anyhow::Result<Vec<EventRow>> {
        // Webhook deliveries and API calls name their room only inside (each its own index).
        self.rows(doc! { "$or": [
            { "room.sid": sid },
            { "webhook.room_id": sid },
            { "api_call.room_id": sid },
        ] })
        .await
    }

    /// The stats of the room `sid` in buckets of `bucket` seconds: found through `room_id`,
    /// projected, folded by [`quality::buckets`].
    pub async fn room_quality(&self, sid: &str, bucket: f64) -> anyhow::Result<Vec<SeriesBuckets>> {
        Ok(quality::buckets(&self.room_stats(sid).await?, bucket))
    }

    /// Every stat of the room `sid`.
    pub async fn room_stats(&self, sid: &str) -> anyhow::Result<Vec<StatRow>> {
        let projection = super::event_fields::only(&[
            "time_stamp",
            "room_id",
            "participant_id",
            "track_id",
            "kind",
            "mime",
            "score",
            "min_score",
            "streams.primary_packets",
            "streams.primary_bytes",
            "streams.packets_lost",
            "streams.jitter",
            "streams.rtt",
            "streams.start_time",
            "streams.end_time",
        ]);
        let options = FindOptions::builder().projection(projection).build();
        let mut cursor = self
            .stats
            .find(doc! { "room_id": sid })
            .with_options(options)
            .await
            .context("querying MongoDB's stats")?;
        let mut rows = Vec::new();
        while let Some(document) = cursor.try_next().await.context("reading MongoDB's stats")? {
            if let Some(row) =
                StatRow::from_document(bson::Bson::Document(document).into_relaxed_extjson())
            {
                rows.push(row);
            }
        }
        Ok(rows)
    }

    /// The worst and mean score of each of the rooms `sids` that has scored stats: the
    /// worst from the rooms' summaries, the mean from one `$group` over their scored stats
    /// (`$sum` only, through the `room_id` index).
    pub async fn room_scores(
        &self,
        sids: &[String],
    ) -> anyhow::Result<BTreeMap<String, RoomScore>> {
        if sids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut worst = BTreeMap::new();
        let mut cursor = self
            .sessions
            .find(doc! { "_id": { "$in": sids.to_vec() } })
            .projection(doc! { "score_min": 1, "min_score_min": 1 })
            .await
            .context("querying MongoDB's room_sessions")?;
        while let Some(d) = cursor
            .try_next()
            .await
            .context("reading MongoDB's room_sessions")?
        {
            if let Ok(sid) = d.get_str("_id") {
                worst.insert(sid.to_string(), worst_score(&d));
            }
        }
        // One accumulator per `$group`: FerretDB 1.24 computes only a group's first (the
        // others answer 0).
        let sums = self.scored_stats(sids, doc! { "$sum": "$score" }).await?;
        let counts = self.scored_stats(sids, doc! { "$sum": 1 }).await?;
        let mut scores = BTreeMap::new();
        for (sid, count) in counts {
            let sum = sums.get(&sid).copied().unwrap_or(0.0);
            let worst = worst.get(&sid).copied().flatten();
            scores.insert(sid, RoomScore::of(worst, sum, count as u64));
        }
        Ok(scores)
    }

    /// `accumulator` over the scored stats (`score > 0`) of each room of `sids`, by room.
    async fn scored_stats(
        &self,
        sids: &[String],
        accumulator: Document,
    ) -> anyhow::Result<BTreeMap<String, f64>> {
        let pipeline = [
            doc! { "$match": { "room_id": { "$in": sids.to_vec() }, "score": { "$gt": 0 } } },
            doc! { "$group": { "_id": "$room_id", "value": accumulator } },
        ];
        let mut cursor = self
            .stats
            .aggregate(pipeline)
            .await
            .context("aggregating MongoDB's stats")?;
        let mut values = BTreeMap::new();
        while let Some(group) = cursor.try_next().await.context("reading MongoDB's stats")? {
            if let (Ok(sid), Some(value)) = (group.get_str("_id"), number(&group, "value")) {
                values.insert(sid.to_string(), value);
            }
        }
        Ok(values)
    }

    async fn rows(&self, filter: Document) -> anyhow::Result<Vec<EventRow>> {
        let options = FindOptions::builder().projection(projection()).build();
        let mut cursor = self
            .events
            .find(filter)
            .with_options(options)
            .await
            .context("querying MongoDB's events")?;
        let mut rows = Vec::new();
        while let Some(document) = cursor
            .try_next()
            .await
            .context("reading MongoDB's events")?
        {
            let json = bson::Bson::Document(document).into_relaxed_extjson();
            if let Some(row) = EventRow::from_document(&json) {
                rows.push(row);
            }
        }
        Ok(rows)
    }
}

/// A number of any BSON numeric type.
fn number(document: &Document, key: &str) -> Option<f64> {
    match document.get(key) {
        Some(bson::Bson::Double(v)) => Some(*v),
        Some(bson::Bson::Int32(v)) => Some(f64::from(*v)),
        Some(bson::Bson::Int64(v)) => Some(*v as f64),
        _ => None,
    }
}

/// A session from its room's summary and the page's counts.
fn summary_session(
    summary: &Document,
    participants: usize,
    tracks: usize,
    events: usize,
) -> RoomSession {
    let first = number(summary, "first_ts").unwrap_or(0.0);
    let last = number(summary, "last_ts").unwrap_or(first);
    let started_at = number(summary, "created_ts").unwrap_or(first);
    let ended_at = number(summary, "ended_ts");
    RoomSession {
        sid: summary.get_str("_id").unwrap_or_default().to_string(),
        name: summary.get_str("name").unwrap_or_default().to_string(),
        node_id: summary.get_str("node_id").unwrap_or_default().to_string(),
        started_at,
        ended_at,
        duration_seconds: ended_at.unwrap_or(last) - started_at,
        open: ended_at.is_none(),
        participants,
        tracks,
        events,
        worst_score: None,
        mean_score: None,
    }
}
