//! The query backend over MongoDB: finds the event documents a question needs, through the
//! indexes the sink creates (`timestamp.seconds` for a time range, `room.sid` for a room),
//! projected to the fields [`EventRow`] reads.

use super::sessions::EventRow;
use anyhow::Context;
use bson::{doc, Document};
use futures::TryStreamExt;
use mongodb::options::FindOptions;
use mongodb::{Client, Collection};

/// Reads the `events` collection of the sink's database.
#[derive(Debug, Clone)]
pub struct MongoQuery {
    events: Collection<Document>,
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
        Ok(MongoQuery {
            events: client.database(database).collection("events"),
        })
    }

    /// Events whose `timestamp.seconds` is in `[from, to)`, with `room.name` = `name` if set.
    pub async fn events_between(
        &self,
        from: f64,
        to: f64,
        name: Option<&str>,
    ) -> anyhow::Result<Vec<EventRow>> {
        let mut filter = doc! { "timestamp.seconds": { "$gte": from.floor(), "$lt": to.ceil() } };
        if let Some(name) = name {
            filter.insert("room.name", name);
        }
        self.rows(filter).await
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
