//! The MongoDB sink's indexes: the list ([`index_list`]: the fork's full set as of OpenVidu
//! 3.9, plus `participant.identity` on `events` and the `room_sessions` summaries' for the
//! read API) and each created on its own ([`create_missing`]); what became of each is kept in `index_book.rs`.
//!
//! Writes never wait for them: the sink's upkeep task (`upkeep.rs`) creates them beside the
//! writes. An index the server refuses (FerretDB refuses TTL indexes: code 238
//! NotImplemented) is logged once with the server's message, reported in the sink's state
//! (`/health`, `/ready`, `/api/health`, `analytics_sink_state`) and tried again on a slow
//! schedule; where the TTL index of a collection is refused, a plain index on
//! `openvidu_expire_at` is created instead and the host deletes expired documents itself.

use super::entities;
use super::index_book::{IndexBook, IndexState, Refusal};
use super::room_sessions;
use crate::model::{ItemKind, EXPIRE_FIELD};
use bson::Document;
use mongodb::error::{Error, ErrorKind};
use mongodb::options::IndexOptions;
use mongodb::{Database, IndexModel};
use std::time::Duration;

/// MongoDB's codes for an existing index with other options (IndexOptionsConflict,
/// IndexKeySpecsConflict).
const INDEX_CONFLICTS: [i32; 2] = [85, 86];
/// MongoDB's code for a collection that already exists.
const NAMESPACE_EXISTS: i32 = 48;
/// Codes of a server answer that may well be different next time (NamespaceExists while a
/// write creates the collection, primary changes, shutdowns, time limits): the index stays
/// pending, not refused.
const TRANSIENT: [i32; 11] = [48, 50, 89, 91, 189, 262, 10107, 11600, 11602, 13435, 13436];

/// The indexed fields of each kind's collection (each gets an ascending index of its own;
/// the TTL index is added to each collection by [`index_list`]).
pub fn indexed_fields(kind: ItemKind) -> &'static [&'static str] {
    match kind {
        // `participant.identity`: the read API's `/api/participants`; `webhook.room_id`,
        // `api_call.room_id`: a room's webhook deliveries and API calls in its detail
        // (docs/api.md).
        ItemKind::Event => &[
            "type",
            "room.sid",
            "participant.sid",
            "participant.identity",
            "timestamp.seconds",
            "webhook.room_id",
            "api_call.room_id",
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

/// One index the sink creates: ascending on `keys` (in order), TTL (`expireAfterSeconds:
/// 0`) when `ttl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    /// The collection.
    pub collection: &'static str,
    /// The fields, each ascending, or descending when written with a leading `-`.
    pub keys: Vec<&'static str>,
    /// A TTL index: the server deletes a document once its date in the (single) key field
    /// has passed.
    pub ttl: bool,
}

impl IndexSpec {
    /// An ascending index on `keys` of `collection`.
    pub fn on(collection: &'static str, keys: &[&'static str]) -> Self {
        IndexSpec {
            collection,
            keys: keys.to_vec(),
            ttl: false,
        }
    }

    /// The TTL index on `openvidu_expire_at` of `collection`.
    pub fn ttl(collection: &'static str) -> Self {
        IndexSpec {
            collection,
            keys: vec![EXPIRE_FIELD],
            ttl: true,
        }
    }

    /// The index's name, as MongoDB names it by default (`room.sid_1`, `a_1_b_1`).
    pub fn name(&self) -> String {
        self.keys
            .iter()
            .map(|k| match k.strip_prefix('-') {
                Some(field) => format!("{field}_-1"),
                None => format!("{k}_1"),
            })
            .collect::<Vec<_>>()
            .join("_")
    }

    /// `collection.name`, with ` TTL` for a TTL index: how reports name it.
    pub fn label(&self) -> String {
        let ttl = if self.ttl { " TTL" } else { "" };
        format!("{}.{}{ttl}", self.collection, self.name())
    }

    /// The key document, `{field: 1, …}`.
    pub fn key_document(&self) -> Document {
        self.keys
            .iter()
            .map(|k| match k.strip_prefix('-') {
                Some(field) => (field.to_string(), (-1).into()),
                None => (k.to_string(), 1.into()),
            })
            .collect()
    }

    pub(super) fn model(&self, ttl: bool) -> IndexModel {
        let options = IndexOptions::builder()
            .name(self.name())
            .expire_after(ttl.then_some(Duration::ZERO))
            .build();
        IndexModel::builder()
            .keys(self.key_document())
            .options(options)
            .build()
    }
}

/// The compound indexes (both keys ascending) of each kind's collection: on `events`, the
/// three the fork added to find an entity's start and end events (its fixer's queries, and
/// the sink's own look-up of end events, `entities.rs`).
pub fn compound_indexes(kind: ItemKind) -> &'static [[&'static str; 2]] {
    match kind {
        ItemKind::Event => &[
            ["participant_id", "type"],
            ["egress_id", "type"],
            ["room.sid", "type"],
        ],
        _ => &[],
    }
}

/// Every index the sink creates: for each kind's collection, one per [`indexed_fields`]
/// field, its [`compound_indexes`], then the TTL index; `entity` on `active_entities`; on
/// `room_sessions`, the sessions list's order (`started_at` descending, `_id`) and TTL.
/// (Add an index here: it is created, retried and reported like the others.)
pub fn index_list() -> Vec<IndexSpec> {
    let mut list = Vec::new();
    for kind in ItemKind::ALL {
        for field in indexed_fields(kind) {
            list.push(IndexSpec::on(kind.collection(), &[field]));
        }
        for keys in compound_indexes(kind) {
            list.push(IndexSpec::on(kind.collection(), keys));
        }
        list.push(IndexSpec::ttl(kind.collection()));
    }
    list.push(IndexSpec::on(entities::COLLECTION, &["entity"]));
    // The read API's sessions list: newest start first, then by sid.
    list.push(IndexSpec::on(
        room_sessions::COLLECTION,
        &["-started_at", "_id"],
    ));
    list.push(IndexSpec::ttl(room_sessions::COLLECTION));
    list
}

/// Creates each collection of `book`'s indexes that is not in `existing`, before the
/// upkeep's first `createIndexes` and the first insert: neither then creates it
/// implicitly, so the two never race to create the same collection. (SecantusDB 0.7
/// never answers either when they do: a `createIndexes` and the first `insert` into a
/// collection that does not exist yet, sent at the same moment, spin the server at full
/// CPU.) A collection someone else creates meanwhile (NamespaceExists) is fine; any other
/// refusal is logged and left to the implicit creation of the first write.
pub async fn create_collections(database: &Database, book: &IndexBook, existing: &[String]) {
    let mut names: Vec<&'static str> = book.snapshot().iter().map(|(s, _)| s.collection).collect();
    names.sort_unstable();
    names.dedup();
    for name in names
        .into_iter()
        .filter(|n| !existing.iter().any(|e| e == n))
    {
        match database.create_collection(name).await {
            Ok(()) => tracing::debug!(sink = "mongo", collection = name, "collection created"),
            Err(err) if command_code(&err) == Some(NAMESPACE_EXISTS) => {}
            Err(err) => tracing::warn!(sink = "mongo", collection = name, error = %err,
                "cannot create the collection ahead of its first write; the write will"),
        }
    }
}

/// The code of a command error, if `err` is one.
fn command_code(err: &Error) -> Option<i32> {
    match err.kind.as_ref() {
        ErrorKind::Command(c) => Some(c.code),
        _ => None,
    }
}

/// Tries every index of `book` that is not present yet, each on its own; records each
/// answer. Returns how many are still pending (no answer from the server).
pub async fn create_missing(database: &Database, book: &IndexBook) -> usize {
    let mut pending = 0;
    for (spec, state) in book.snapshot() {
        if state == IndexState::Present {
            continue;
        }
        let state = create_one(database, &spec).await;
        pending += usize::from(state == IndexState::Pending);
        book.record(&spec, state);
    }
    pending
}

/// Creates one index and says what became of it.
async fn create_one(database: &Database, spec: &IndexSpec) -> IndexState {
    let collection = database.collection::<Document>(spec.collection);
    let Err(err) = collection.create_index(spec.model(spec.ttl)).await else {
        return IndexState::Present;
    };
    let Some((code, code_name, message)) = refusal(&err) else {
        tracing::debug!(index = %spec.label(), error = %err, "index not created yet; tried again soon");
        return IndexState::Pending;
    };
    if INDEX_CONFLICTS.contains(&code) {
        if !spec.ttl || has_ttl_index(database, spec).await {
            tracing::warn!(index = %spec.label(), error = %message,
                "an index exists with other options; keeping it");
            return IndexState::Present;
        }
        // An index on the field without expireAfterSeconds (ours, from a server that had
        // no TTL, or someone's): the host keeps expiring.
        return IndexState::Refused(Refusal {
            code,
            code_name,
            message: format!("an index on {EXPIRE_FIELD} without TTL exists: {message}"),
            plain_instead: true,
        });
    }
    let plain_instead = spec.ttl && collection.create_index(spec.model(false)).await.is_ok();
    IndexState::Refused(Refusal {
        code,
        code_name,
        message,
        plain_instead,
    })
}

/// The code, code name and message of a server's refusal; `None` for an error that may
/// not happen again (no answer, a transient code).
fn refusal(err: &Error) -> Option<(i32, String, String)> {
    match err.kind.as_ref() {
        ErrorKind::Command(c) if !TRANSIENT.contains(&c.code) => {
            Some((c.code, c.code_name.clone(), c.message.clone()))
        }
        _ => None,
    }
}

/// Whether `spec`'s collection has an index on its keys with `expireAfterSeconds`.
async fn has_ttl_index(database: &Database, spec: &IndexSpec) -> bool {
    use futures::TryStreamExt as _;
    let collection = database.collection::<Document>(spec.collection);
    let Ok(cursor) = collection.list_indexes().await else {
        return false;
    };
    let indexes: Vec<IndexModel> = cursor.try_collect().await.unwrap_or_default();
    let keys = spec.key_document();
    indexes.iter().any(|index| {
        index.keys == keys
            && index
                .options
                .as_ref()
                .is_some_and(|o| o.expire_after.is_some())
    })
}

#[cfg(test)]
#[path = "indexes_tests.rs"]
mod tests;
