//! The MongoDB sink: database `openvidu` (configurable), one collection per kind, the
//! indexes of the contract (TTL on `openvidu_expire_at`; `indexes.rs`), unordered bulk
//! inserts where a duplicate key (code 11000) means "already stored", and the fork's
//! `active_entities` kept beside the events (`entities.rs`, `events.rs`).
//!
//! It never waits for an index: they are created beside the writes (`upkeep.rs`), and one the
//! server refuses is reported and retried while the writes go on (`index_book.rs`); without
//! a TTL index the host expires documents itself. What the server answered to an insert is
//! sorted out in `outcome.rs`.

pub mod config;
pub mod entities;
mod events;
pub mod index_book;
pub mod indexes;
mod outcome;
mod raw;
pub mod room_sessions;
mod upkeep;

pub use index_book::{IndexBook, IndexState, Refusal};
use indexes::create_collections;
pub use indexes::{compound_indexes, index_list, indexed_fields, IndexSpec};
pub use outcome::{DUPLICATE_KEY, MAX_DOCUMENT_BYTES};
pub use raw::ToBsonError;

use super::{BatchReport, Sink, SinkError};
use crate::model::{Item, ItemKind, SharedItem, EXPIRE_FIELD};
use async_trait::async_trait;
use bson::{Bson, Document, RawDocumentBuf};
use mongodb::options::{ClientOptions, WriteConcern};
use mongodb::{Client, Database};
use outcome::{classify, refuse, settle_insert};
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use upkeep::Upkeep;

/// Stores items in MongoDB.
pub struct MongoSink {
    database: Database,
    /// Whether events and their `active_entities` changes are written in one transaction:
    /// the server is a replica-set member or a mongos (found at `initialize`), and has not
    /// refused a transaction since.
    transactions: bool,
    indexes: Arc<IndexBook>,
    upkeep: Option<Upkeep>,
}

/// How often refused indexes are tried again (also at each configuration reload).
pub const INDEX_RETRY_EVERY: Duration = Duration::from_secs(300);
/// How often the host deletes expired documents where the TTL index is missing (as often
/// as MongoDB's own TTL monitor).
pub const EXPIRE_EVERY: Duration = Duration::from_secs(60);

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
            transactions: false,
            indexes: Arc::new(IndexBook::new(
                index_list(),
                INDEX_RETRY_EVERY,
                EXPIRE_EVERY,
            )),
            upkeep: None,
        })
    }

    /// The database written to.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// The same sink, trying refused indexes again every `retry_every` and deleting
    /// expired documents (where a TTL index is missing) every `expire_every`; before
    /// [`Sink::initialize`].
    pub fn with_schedule(mut self, retry_every: Duration, expire_every: Duration) -> Self {
        self.indexes = Arc::new(IndexBook::new(index_list(), retry_every, expire_every));
        self
    }

    /// Its indexes and what became of each (created beside the writes, after
    /// [`Sink::initialize`]).
    pub fn indexes(&self) -> &Arc<IndexBook> {
        &self.indexes
    }

    /// The BSON documents of `items` (of `kind`), with the positions they were sent for; an
    /// item no BSON document can hold, or one larger than MongoDB takes, is refused alone
    /// (counted as rejected, named in the report).
    fn documents<'a>(
        kind: ItemKind,
        items: &[(usize, &'a SharedItem)],
        report: &mut BatchReport,
    ) -> (Vec<RawDocumentBuf>, Vec<(usize, &'a SharedItem)>) {
        let mut docs = Vec::with_capacity(items.len());
        let mut sent = Vec::with_capacity(items.len());
        let collection = kind.collection();
        for &(position, item) in items {
            match to_raw_bson(item) {
                Ok(doc) if doc.as_bytes().len() > MAX_DOCUMENT_BYTES => {
                    // The driver would refuse the whole insert for it.
                    let why = format!(
                        "{} bytes, more than MongoDB's {MAX_DOCUMENT_BYTES}",
                        doc.as_bytes().len()
                    );
                    refuse(report, collection, &item.id, &why);
                }
                Ok(doc) => {
                    docs.push(doc);
                    sent.push((position, item));
                }
                // A key with a NUL character: no BSON document can hold it.
                Err(err) => refuse(report, collection, &item.id, &err.to_string()),
            }
        }
        (docs, sent)
    }

    /// Inserts `items` of `kind` (unordered); returns those stored now or before, each
    /// with whether it was a duplicate. The others are in `report`.
    async fn insert_kind<'a>(
        &self,
        kind: ItemKind,
        items: &[(usize, &'a SharedItem)],
        report: &mut BatchReport,
    ) -> Vec<(usize, &'a SharedItem, bool)> {
        let (docs, sent) = Self::documents(kind, items, report);
        if docs.is_empty() {
            return Vec::new();
        }
        let collection = self
            .database
            .collection::<RawDocumentBuf>(kind.collection());
        let result = collection.insert_many(docs).ordered(false).await;
        settle_insert(kind.collection(), result.err(), &sent, report)
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

    /// The fixer writes its end events to MongoDB itself, in the fork's shape (an ObjectId
    /// `_id`, integer timestamps) and keeps `active_entities` and `room_sessions` with them.
    fn gets_fixer_events(&self) -> bool {
        false
    }

    /// Checks that the database answers (and that the credentials are accepted), creates the
    /// collections that do not exist yet, then starts the upkeep task that creates the
    /// indexes beside the writes: no write waits for them.
    async fn initialize(&mut self) -> Result<(), SinkError> {
        let existing = match self.database.list_collection_names().await {
            Ok(names) => names,
            Err(err) => return Err(classify(self.database.name(), &err)),
        };
        create_collections(&self.database, &self.indexes, &existing).await;
        if self.upkeep.is_none() {
            self.upkeep = Some(Upkeep::start(self.database.clone(), self.indexes.clone()));
        }
        // The transaction path is off for now: a batch in a transaction retried transient
        // errors itself, so a failed insert or an outage no longer reached the sink's
        // report and counters (mongo_sink.rs caught it). Every server gets the order-safe,
        // idempotent path until that is settled.
        let replica_set = events::has_transactions(&self.database).await;
        self.transactions = false;
        tracing::info!(
            replica_set,
            "events and active_entities written without a transaction (order-safe, idempotent)"
        );
        Ok(())
    }

    fn state(&self) -> Option<crate::telemetry::SinkStateFn> {
        let indexes = self.indexes.clone();
        Some(Arc::new(move || indexes.state()))
    }

    fn extra_counters(&self) -> Option<crate::telemetry::ExtraCountersFn> {
        let indexes = self.indexes.clone();
        Some(Arc::new(move || {
            vec![(
                "expired_by_host",
                indexes.expired_by_host.load(Ordering::Relaxed),
            )]
        }))
    }

    fn reloaded(&mut self) {
        if let Some(upkeep) = &self.upkeep {
            upkeep.retry_now();
        }
    }

    async fn send_batch(&mut self, batch: &[SharedItem]) -> BatchReport {
        let mut report = BatchReport::stored();
        for kind in ItemKind::ALL {
            let items: Vec<(usize, &SharedItem)> = batch
                .iter()
                .enumerate()
                .filter(|(_, i)| i.kind == kind)
                .collect();
            if items.is_empty() {
                continue;
            }
            if kind == ItemKind::Event {
                self.send_events(&items, &mut report).await;
            } else if kind == ItemKind::Stat {
                let settled = self.insert_kind(kind, &items, &mut report).await;
                let stats: Vec<&SharedItem> = settled.iter().map(|(_, item, _)| *item).collect();
                if let Err(err) = room_sessions::apply_stats(&self.database, &stats).await {
                    room_sessions::send_again(&settled, &mut report, &err);
                }
            } else {
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
