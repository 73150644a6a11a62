//! The MongoDB sink: database `openvidu` (configurable), one collection per kind, the
//! indexes of the contract (TTL on `openvidu_expire_at`; `indexes.rs`), unordered bulk
//! inserts where a duplicate key (code 11000) means "already stored".
//!
//! It never waits for an index: they are created beside the writes (`upkeep.rs`), and one the
//! server refuses is reported and retried while the writes go on; without a TTL index the
//! host expires documents itself.

pub mod config;
pub mod indexes;
mod raw;
mod upkeep;

pub use indexes::{index_list, indexed_fields, IndexBook, IndexSpec, IndexState};
pub use raw::ToBsonError;

use super::{BatchReport, Sink, SinkError};
use crate::model::{Item, ItemKind, SharedItem, EXPIRE_FIELD};
use async_trait::async_trait;
use bson::{Bson, Document, RawDocumentBuf};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, WriteConcern};
use mongodb::{Client, Database};
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use upkeep::Upkeep;

/// MongoDB's duplicate-key error code.
pub const DUPLICATE_KEY: i32 = 11000;
/// The largest document MongoDB stores (`maxBsonObjectSize`); the driver refuses a whole
/// insert that holds a larger one, so the sink refuses that document alone.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;
/// Write error codes that refuse one document for good (sending it again cannot help):
/// BadValue (FerretDB: a key with `.` or a leading `$`), DollarPrefixedFieldName,
/// InvalidDBRef, EmptyFieldName, DottedFieldName, DocumentValidationFailure,
/// BSONObjectTooLarge, KeyTooLong, and a document grown too large.
const REFUSED_DOCUMENT: [i32; 9] = [2, 52, 55, 56, 57, 121, 10334, 17280, 17419];
/// Codes with which a server says the sink's settings cannot work (not worth retrying
/// until a reload changes them): Unauthorized, AuthenticationFailed, InvalidNamespace.
const FATAL: [i32; 3] = [13, 18, 73];

/// Stores items in MongoDB.
pub struct MongoSink {
    database: Database,
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
            indexes: Arc::new(IndexBook::new(
                index_list(),
                INDEX_RETRY_EVERY,
                EXPIRE_EVERY,
            )),
            upkeep: None,
        })
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
        let collection_name = kind.collection();
        for &(position, item) in items {
            match to_raw_bson(item) {
                Ok(doc) if doc.as_bytes().len() > MAX_DOCUMENT_BYTES => {
                    // The driver would refuse the whole insert for it.
                    let why = format!(
                        "{} bytes, more than MongoDB's {MAX_DOCUMENT_BYTES}",
                        doc.as_bytes().len()
                    );
                    refuse(report, collection_name, &item.id, &why);
                }
                Ok(doc) => {
                    docs.push(doc);
                    sent.push((position, item));
                }
                // A key with a NUL character: no BSON document can hold it.
                Err(err) => refuse(report, collection_name, &item.id, &err.to_string()),
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
                    } else if REFUSED_DOCUMENT.contains(&write_error.code) {
                        let why = format!(
                            "{} ({}): {}",
                            write_error.code_name.as_deref().unwrap_or("error"),
                            write_error.code,
                            write_error.message
                        );
                        refuse(
                            report,
                            collection_name,
                            &item_id(items, write_error.index),
                            &why,
                        );
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

/// The `_id` of the `index`th document sent.
fn item_id(items: &[(usize, &SharedItem)], index: usize) -> String {
    items
        .get(index)
        .map_or_else(String::new, |(_, item)| item.id.to_string())
}

/// Records a document refused for good (dropped, counted as rejected), naming it.
fn refuse(report: &mut BatchReport, collection: &str, id: &str, why: &str) {
    let error = format!("{collection}: document {id} refused for good: {why}");
    tracing::error!(sink = "mongo", collection, id, error = %why, "a document was refused for good; dropped");
    report.rejected += 1;
    report.error.get_or_insert(error);
}

/// An error of the first command: fatal (the sink gives up until a reload) when the server
/// refused the credentials or the database name, else the store is unavailable for now.
fn classify(database: &str, err: &mongodb::error::Error) -> SinkError {
    let code = match err.kind.as_ref() {
        ErrorKind::Authentication { .. } | ErrorKind::InvalidArgument { .. } => Some(18),
        ErrorKind::Command(command) => Some(command.code),
        _ => None,
    };
    match code {
        Some(code) if FATAL.contains(&code) => SinkError::Misconfigured(format!(
            "the server refused the database `{database}` or the credentials of mongo_url: {err}"
        )),
        _ => SinkError::Unavailable(format!("database `{database}`: {err}")),
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

    /// Checks that the database answers (and that the credentials are accepted), then starts
    /// the upkeep task that creates the indexes beside the writes: no write waits for them.
    async fn initialize(&mut self) -> Result<(), SinkError> {
        if let Err(err) = self.database.list_collection_names().await {
            return Err(classify(self.database.name(), &err));
        }
        if self.upkeep.is_none() {
            self.upkeep = Some(Upkeep::start(self.database.clone(), self.indexes.clone()));
        }
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
