//! The query backend over MongoDB: finds the documents a question needs, through the
//! indexes the sink creates (events: `timestamp.seconds` for a time range, `room.sid` for a
//! room, `participant.identity` for a person; stats: `room_id`), projected to the fields
//! [`EventRow`] and [`StatRow`] read; a room's scores are one `$group` over its stats.

use super::quality::{self, RoomScore, SeriesBuckets, StatRow};
use super::sessions::{self, EventRow, RoomSession};
use anyhow::Context;
use bson::{doc, Document};
use futures::TryStreamExt;
use mongodb::options::FindOptions;
use mongodb::{Client, Collection};
use std::collections::BTreeMap;

/// Reads the `events` collection of the sink's database.
#[derive(Debug, Clone)]
pub struct MongoQuery {
    events: Collection<Document>,
    stats: Collection<Document>,
}

/// The fields of an event document the API reads.
fn projection() -> Document {
    let mut fields = Document::new();
    for field in [
        "type",
        "timestamp",
        "room.sid",
        "room.name",
        "room_id",
        "node_id",
        "participant.sid",
        "participant.identity",
        "participant_id",
        "track.sid",
        "track.type",
        "track.source",
        "track.mime_type",
        "track_id",
        "participant.disconnect_reason",
    ] {
        fields.insert(field, 1);
    }
    fields.insert("_id", 0);
    fields
}

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
        })
    }

    /// The session of every room with an event whose `timestamp.seconds` is in
    /// `[from, to)` (with `room.name` = `name` if set), each over all its events: the rooms'
    /// sids by `distinct` (through the `timestamp.seconds` index), then their events (through
    /// `room.sid`), folded.
    pub async fn sessions_between(
        &self,
        from: f64,
        to: f64,
        name: Option<&str>,
    ) -> anyhow::Result<Vec<RoomSession>> {
        let mut filter = doc! { "timestamp.seconds": { "$gte": from.floor(), "$lt": to.ceil() } };
        if let Some(name) = name {
            filter.insert("room.name", name);
        }
        let sids: Vec<String> = self
            .events
            .distinct("room.sid", filter)
            .await
            .context("querying MongoDB's events")?
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .filter(|s| !s.is_empty())
            .collect();
        if sids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self.rows(doc! { "room.sid": { "$in": sids } }).await?;
        Ok(sessions::sessions(&rows))
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
        self.rows(doc! { "room.sid": sid }).await
    }

    /// The stats of the room `sid` in buckets of `bucket` seconds: found through `room_id`,
    /// projected, folded by [`quality::buckets`].
    pub async fn room_quality(&self, sid: &str, bucket: f64) -> anyhow::Result<Vec<SeriesBuckets>> {
        Ok(quality::buckets(&self.room_stats(sid).await?, bucket))
    }

    /// Every stat of the room `sid`.
    pub async fn room_stats(&self, sid: &str) -> anyhow::Result<Vec<StatRow>> {
        let mut projection = Document::new();
        for field in [
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
        ] {
            projection.insert(field, 1);
        }
        projection.insert("_id", 0);
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

    /// The worst and mean score of each of the rooms `sids` that has scored stats: one
    /// `$group` over their stats (through the `room_id` index).
    pub async fn room_scores(
        &self,
        sids: &[String],
    ) -> anyhow::Result<BTreeMap<String, RoomScore>> {
        if sids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let pipeline = [
            doc! { "$match": { "room_id": { "$in": sids.to_vec() }, "score": { "$gt": 0 } } },
            doc! { "$group": {
                "_id": "$room_id",
                "min_score": { "$min": "$min_score" },
                "score": { "$min": "$score" },
                "sum": { "$sum": "$score" },
                "count": { "$sum": 1 },
            } },
        ];
        let mut cursor = self
            .stats
            .aggregate(pipeline)
            .await
            .context("aggregating MongoDB's stats")?;
        let mut scores = BTreeMap::new();
        while let Some(group) = cursor.try_next().await.context("reading MongoDB's stats")? {
            let number = |key: &str| match group.get(key) {
                Some(bson::Bson::Double(v)) => Some(*v),
                Some(bson::Bson::Int32(v)) => Some(f64::from(*v)),
                Some(bson::Bson::Int64(v)) => Some(*v as f64),
                _ => None,
            };
            let worst = match (number("min_score").filter(|v| *v > 0.0), number("score")) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let Ok(sid) = group.get_str("_id") else {
                continue;
            };
            let count = number("count").unwrap_or(0.0) as u64;
            scores.insert(
                sid.to_string(),
                RoomScore::of(worst, number("sum").unwrap_or(0.0), count),
            );
        }
        Ok(scores)
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
