//! The MongoDB sink: database `openvidu` (configurable), one collection per kind, the
//! indexes of the contract (TTL on `openvidu_expire_at`), unordered bulk inserts where a
//! duplicate key (code 11000) means "already stored".

pub mod config;
mod raw;

pub use raw::ToBsonError;

use super::{BatchReport, Sink, SinkError};
use crate::model::{Item, ItemKind, SharedItem, EXPIRE_FIELD};
use async_trait::async_trait;
use bson::{Bson, Document, RawDocumentBuf};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, IndexOptions, WriteConcern};
use mongodb::{Client, Database, IndexModel};
use serde_json::Value;
use std::time::Duration;

/// MongoDB's duplicate-key error code.
pub const DUPLICATE_KEY: i32 = 11000;
/// MongoDB's codes for an existing index with other options.
const INDEX_CONFLICTS: [i32; 2] = [85, 86];

/// Stores items in MongoDB.
pub struct MongoSink {
    database: Database,
}

/// The indexed fields of each kind's collection (the TTL index is added to each).
pub fn indexed_fields(kind: ItemKind) -> &'static [&'static str] {
    match kind {
        // `participant.identity`: the read API's `/api/participants` (docs/api.md).
        ItemKind::Event => &[
            "type",
            "room.sid",
            "participant.sid",
            "participant.identity",
            "timestamp.seconds",
        ],
        ItemKind::Stat => &[
            "room_id",
            "participant_id",
            "track_id",
            "kind",
            "time_stamp.seconds",
            "score",
        ],
        ItemKind::NodeRooms => &["node_id", "timestamp.seconds"],
        ItemKind::NodeStats => &["node_id", "timestamp.seconds"],
    }
}

impl MongoSink {
    /// A sink for the database `database` at `url`. Does not connect yet: a MongoDB that is
    /// down at start only delays initialization. Writes are journaled unless the URL sets
    /// `journal=false` (see [`journaled`]).
    pub async fn connect(url: &str, database: &str) -> anyhow::Result<Self> {
        let mut options = ClientOptions::parse(url).await?;
        options
            .app_name
            .get_or_insert_with(|| "livekit-analytics-host".into());
        options
            .server_selection_timeout
            .get_or_insert(Duration::from_secs(5));
        options
            .connect_timeout
            .get_or_insert(Duration::from_secs(5));
        journaled(&mut options);
        let client = Client::with_options(options)?;
        Ok(MongoSink {
            database: client.database(database),
        })
    }

    /// The database written to.
    pub fn database(&self) -> &Database {
        &self.database
    }

    async fn insert_kind(
        &self,
        kind: ItemKind,
        items: &[(usize, &SharedItem)],
        report: &mut BatchReport,
    ) {
        let mut docs = Vec::with_capacity(items.len());
        let mut sent = Vec::with_capacity(items.len());
        for &(position, item) in items {
            match to_raw_bson(item) {
                Ok(doc) => {
                    docs.push(doc);
                    sent.push((position, item));
                }
                Err(err) => {
                    // A key with a NUL character: no BSON document can hold it.
                    report.rejected += 1;
                    report.error.get_or_insert_with(|| {
                        format!("item {} cannot be stored in MongoDB: {err}", item.id)
                    });
                }
            }
        }
        if docs.is_empty() {
            return;
        }
        let items = &sent[..];
        let collection = self
            .database
            .collection::<RawDocumentBuf>(kind.collection());
        let Err(err) = collection.insert_many(docs).ordered(false).await else {
            return;
        };
        match *err.kind {
            ErrorKind::InsertMany(ref failure) => {
                for write_error in failure.write_errors.iter().flatten() {
                    let Some(&(position, _)) = items.get(write_error.index) else {
                        continue;
                    };
                    if write_error.code == DUPLICATE_KEY {
                        report.duplicates += 1;
                    } else {
                        report.retry.push(position);
                        report.error.get_or_insert_with(|| {
                            format!("write error {}: {}", write_error.code, write_error.message)
                        });
                    }
                }
                if let Some(concern) = &failure.write_concern_error {
                    // Inserted but not acknowledged as asked: send again; duplicates are harmless.
                    report.retry.extend(items.iter().map(|(p, _)| *p));
                    report.error = Some(format!(
                        "write concern error {}: {}",
                        concern.code, concern.message
                    ));
                }
            }
            ErrorKind::Write(WriteFailure::WriteError(ref write_error))
                if write_error.code == DUPLICATE_KEY =>
            {
                report.duplicates += items.len();
            }
            _ => {
                // Nothing is known of what was written: send all again; what was written
                // comes back as duplicates.
                report.retry.extend(items.iter().map(|(p, _)| *p));
                report.error = Some(err.to_string());
            }
        }
    }
}

/// Asks for journaled writes (`j: true`) unless the URL says otherwise (`journal=false`).
///
/// The host forgets an item once MongoDB acknowledged it. With MongoDB's default `{w: 1}`
/// the acknowledgement comes before the write reaches the journal, so a MongoDB killed in
/// that window (up to its journal commit interval, 100 ms by default) loses writes it
/// acknowledged: `faults_under_load.rs` lost 15 of 13 138 that way. With `j: true` an
/// acknowledged write survives a crash. `w` and `wtimeout` from the URL are kept.
pub fn journaled(options: &mut ClientOptions) {
    let concern = options
        .write_concern
        .get_or_insert_with(WriteConcern::default);
    concern.journal.get_or_insert(true);
}

#[async_trait]
impl Sink for MongoSink {
    fn name(&self) -> &str {
        "mongo"
    }

    fn kinds(&self) -> &[ItemKind] {
        &ItemKind::ALL
    }

    async fn initialize(&mut self) -> Result<(), SinkError> {
        for kind in ItemKind::ALL {
            let collection = self.database.collection::<Document>(kind.collection());
            let mut models: Vec<IndexModel> = indexed_fields(kind)
                .iter()
                .map(|field| IndexModel::builder().keys(bson::doc! { *field: 1 }).build())
                .collect();
            models.push(
                IndexModel::builder()
                    .keys(bson::doc! { EXPIRE_FIELD: 1 })
                    .options(IndexOptions::builder().expire_after(Duration::ZERO).build())
                    .build(),
            );
            if let Err(err) = collection.create_indexes(models).await {
                match *err.kind {
                    ErrorKind::Command(ref command) if INDEX_CONFLICTS.contains(&command.code) => {
                        tracing::warn!(collection = kind.collection(), error = %command.message,
                            "an index exists with other options; keeping it");
                    }
                    _ => {
                        return Err(SinkError::Unavailable(format!(
                            "creating indexes on {}: {err}",
                            kind.collection()
                        )))
                    }
                }
            }
        }
        Ok(())
    }

    async fn send_batch(&mut self, batch: &[SharedItem]) -> BatchReport {
        let mut report = BatchReport::stored();
        for kind in ItemKind::ALL {
            let items: Vec<(usize, &SharedItem)> = batch
                .iter()
                .enumerate()
                .filter(|(_, i)| i.kind == kind)
                .collect();
            if !items.is_empty() {
                self.insert_kind(kind, &items, &mut report).await;
            }
        }
        report
    }
}

/// The BSON document of an item, as the sink stores it: its contract document plus
/// `openvidu_expire_at` as a date, written straight from the document text (see
/// [`to_bson_reference`] for the types).
pub fn to_raw_bson(item: &Item) -> Result<RawDocumentBuf, ToBsonError> {
    let expire_at = bson::DateTime::from_system_time(item.expire_at);
    raw::document(item.document_text(), (EXPIRE_FIELD, expire_at))
}

/// [`to_raw_bson`] as a [`Document`]; a document no BSON can hold (a key with a NUL
/// character) as [`to_bson_reference`] builds it.
pub fn to_bson(item: &Item) -> Document {
    to_raw_bson(item)
        .ok()
        .and_then(|raw| raw.to_document().ok())
        .unwrap_or_else(|| to_bson_reference(item))
}

/// The reference for [`to_raw_bson`] (what the sink did before, slower): the document
/// text parsed into a map, then converted by [`json_to_bson`], then `openvidu_expire_at`.
pub fn to_bson_reference(item: &Item) -> Document {
    let mut doc = Document::new();
    for (key, value) in &item.document() {
        doc.insert(key.clone(), json_to_bson(value));
    }
    doc.insert(
        EXPIRE_FIELD,
        Bson::DateTime(bson::DateTime::from_system_time(item.expire_at)),
    );
    doc
}

/// JSON to BSON: every integer as int64 (a double beyond its range), so a field has one
/// BSON type whatever its value.
pub fn json_to_bson(value: &Value) -> Bson {
    match value {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Bson::Int64(i)
            } else if let Some(u) = n.as_u64() {
                Bson::Double(u as f64)
            } else {
                Bson::Double(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => Bson::String(s.clone()),
        Value::Array(items) => Bson::Array(items.iter().map(json_to_bson).collect()),
        Value::Object(map) => Bson::Document(
            map.iter()
                .map(|(k, v)| (k.clone(), json_to_bson(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn concern(url: &str) -> WriteConcern {
        let mut options = ClientOptions::parse(url).await.unwrap();
        journaled(&mut options);
        options.write_concern.unwrap()
    }

    #[tokio::test]
    async fn writes_are_journaled_unless_the_url_says_otherwise() {
        let default = concern("mongodb://127.0.0.1:27017").await;
        assert_eq!(default.journal, Some(true));
        assert_eq!(default.w, None);
        let majority = concern("mongodb://127.0.0.1:27017/?w=majority").await;
        assert_eq!(majority.journal, Some(true));
        assert!(majority.w.is_some());
        let off = concern("mongodb://127.0.0.1:27017/?journal=false").await;
        assert_eq!(off.journal, Some(false));
    }
}
