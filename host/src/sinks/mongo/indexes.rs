//! The MongoDB sink's indexes: the list ([`index_list`]), each created on its own
//! ([`create_missing`]), and what became of each ([`IndexBook`]).
//!
//! Writes never wait for them: the sink's upkeep task (`upkeep.rs`) creates them beside the
//! writes. An index the server refuses (FerretDB refuses TTL indexes: code 238
//! NotImplemented) is logged once with the server's message, reported in the sink's state
//! (`/health`, `/ready`, `/api/health`, `analytics_sink_state`) and tried again on a slow
//! schedule; where the TTL index of a collection is refused, a plain index on
//! `openvidu_expire_at` is created instead and the host deletes expired documents itself.

use crate::model::{ItemKind, EXPIRE_FIELD};
use crate::telemetry::SinkState;
use bson::Document;
use mongodb::error::{Error, ErrorKind};
use mongodb::options::IndexOptions;
use mongodb::{Database, IndexModel};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// MongoDB's codes for an existing index with other options (IndexOptionsConflict,
/// IndexKeySpecsConflict).
const INDEX_CONFLICTS: [i32; 2] = [85, 86];
/// Codes of a server answer that may well be different next time (NamespaceExists while a
/// write creates the collection, primary changes, shutdowns, time limits): the index stays
/// pending, not refused.
const TRANSIENT: [i32; 11] = [48, 50, 89, 91, 189, 262, 10107, 11600, 11602, 13435, 13436];

/// The indexed fields of each kind's collection (each gets an ascending index of its own;
/// the TTL index is added to each collection by [`index_list`]).
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

/// One index the sink creates: ascending on `keys` (in order), TTL (`expireAfterSeconds:
/// 0`) when `ttl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    /// The collection.
    pub collection: &'static str,
    /// The fields, each ascending.
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
            .map(|k| format!("{k}_1"))
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
            .map(|k| (k.to_string(), 1.into()))
            .collect()
    }

    fn model(&self, ttl: bool) -> IndexModel {
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

/// Every index the sink creates: for each kind's collection, one per
/// [`indexed_fields`] field, then the TTL index. (Add an index here: it is created, retried
/// and reported like the others.)
pub fn index_list() -> Vec<IndexSpec> {
    let mut list = Vec::new();
    for kind in ItemKind::ALL {
        for field in indexed_fields(kind) {
            list.push(IndexSpec::on(kind.collection(), &[field]));
        }
        list.push(IndexSpec::ttl(kind.collection()));
    }
    list
}

/// The server's refusal of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The server's error code (e.g. 238).
    pub code: i32,
    /// Its name (e.g. `NotImplemented`).
    pub code_name: String,
    /// The server's message.
    pub message: String,
    /// For a refused TTL index: a plain index on the same field was created instead (the
    /// host's own expiry uses it).
    pub plain_instead: bool,
}

/// What became of one index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexState {
    /// Not tried yet, or the last try did not get the server's answer (retried soon).
    Pending,
    /// The index exists (created, or already there).
    Present,
    /// The server refused it (retried on the slow schedule).
    Refused(Refusal),
}

/// Every index of [`index_list`] and what became of it; shared by the sink, its upkeep
/// task and the telemetry that reads its state.
#[derive(Debug)]
pub struct IndexBook {
    entries: Mutex<Vec<(IndexSpec, IndexState)>>,
    /// Documents the host deleted itself (collections without their TTL index).
    pub expired_by_host: AtomicU64,
    /// How often refused indexes are tried again.
    pub retry_every: Duration,
    /// How often the host deletes expired documents where a TTL index is missing.
    pub expire_every: Duration,
}

impl IndexBook {
    /// The book of `specs`, all pending.
    pub fn new(specs: Vec<IndexSpec>, retry_every: Duration, expire_every: Duration) -> Self {
        IndexBook {
            entries: Mutex::new(
                specs
                    .into_iter()
                    .map(|s| (s, IndexState::Pending))
                    .collect(),
            ),
            expired_by_host: AtomicU64::new(0),
            retry_every,
            expire_every,
        }
    }

    /// Every index and its state now.
    pub fn snapshot(&self) -> Vec<(IndexSpec, IndexState)> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether every index has had the server's answer (present or refused).
    pub fn settled(&self) -> bool {
        self.snapshot()
            .iter()
            .all(|(_, state)| *state != IndexState::Pending)
    }

    /// The collections whose TTL index is missing (refused): the host expires their
    /// documents itself.
    pub fn host_expires(&self) -> Vec<&'static str> {
        self.snapshot()
            .iter()
            .filter(|(spec, state)| spec.ttl && matches!(state, IndexState::Refused(_)))
            .map(|(spec, _)| spec.collection)
            .collect()
    }

    /// Records `state` for the index `spec`; logs a change worth telling once.
    fn record(&self, spec: &IndexSpec, state: IndexState) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = entries.iter_mut().find(|(s, _)| s == spec) else {
            return;
        };
        let before = std::mem::replace(&mut entry.1, state.clone());
        drop(entries);
        match (&before, &state) {
            (IndexState::Refused(_), IndexState::Present) => {
                tracing::info!(sink = "mongo", index = %spec.label(), "index created after all")
            }
            (IndexState::Refused(old), IndexState::Refused(new)) if old.code == new.code => {}
            (_, IndexState::Refused(r)) => tracing::warn!(
                sink = "mongo", index = %spec.label(), code = r.code, code_name = %r.code_name,
                error = %r.message, plain_instead = r.plain_instead, retry_every = ?self.retry_every,
                "the server refused an index; writing without it (retried on a slow schedule)"
            ),
            _ => {}
        }
    }

    /// The sink's state: notes for people and gauges.
    pub fn state(&self) -> SinkState {
        let entries = self.snapshot();
        let present = entries
            .iter()
            .filter(|(_, s)| *s == IndexState::Present)
            .count();
        let pending = entries
            .iter()
            .filter(|(_, s)| *s == IndexState::Pending)
            .count();
        let refused: Vec<(&IndexSpec, &Refusal)> = entries
            .iter()
            .filter_map(|(spec, s)| match s {
                IndexState::Refused(r) => Some((spec, r)),
                _ => None,
            })
            .collect();
        let expires = self.host_expires();
        let mut notes = Vec::new();
        if !refused.is_empty() || pending > 0 {
            let mut note = format!("indexes: {present}/{}", entries.len());
            if !refused.is_empty() {
                let missing: Vec<String> = refused
                    .iter()
                    .map(|(spec, r)| format!("{} ({})", spec.label(), r.code_name))
                    .collect();
                note.push_str(&format!(
                    ", missing: {}; retried every {}s and on reload",
                    missing.join(", "),
                    self.retry_every.as_secs()
                ));
            }
            if pending > 0 {
                note.push_str(&format!(", {pending} not created yet"));
            }
            notes.push(note);
        }
        let mut reasons: Vec<(String, Vec<String>)> = Vec::new();
        for (spec, r) in &refused {
            let reason = format!("{} ({}): {}", r.code_name, r.code, r.message);
            match reasons.iter_mut().find(|(text, _)| *text == reason) {
                Some((_, names)) => names.push(spec.label()),
                None => reasons.push((reason, vec![spec.label()])),
            }
        }
        for (reason, names) in reasons {
            notes.push(format!("refused {}: {reason}", names.join(", ")));
        }
        if !expires.is_empty() {
            notes.push(format!(
                "expiry: the host deletes documents past {EXPIRE_FIELD} in {} every {}s \
                 (no TTL index; {} deleted so far)",
                expires.join(", "),
                self.expire_every.as_secs(),
                self.expired_by_host.load(Ordering::Relaxed)
            ));
        }
        SinkState {
            notes,
            gauges: vec![
                ("indexes_present", present as i64),
                ("indexes_missing", refused.len() as i64),
                ("indexes_pending", pending as i64),
                ("host_expiry", i64::from(!expires.is_empty())),
            ],
        }
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
