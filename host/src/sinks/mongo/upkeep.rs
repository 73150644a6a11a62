//! The MongoDB sink's upkeep, a task beside its writes: creates the indexes (each on its
//! own, see `indexes.rs`), tries refused ones again every `retry_every` (and when woken: a
//! configuration reload), pending ones (no answer yet) every `expire_every`, and, in each
//! collection whose TTL index the server refused, deletes the documents past
//! `openvidu_expire_at` every `expire_every` (`deleteMany` through the plain index on that
//! field), so `expiration` holds on servers without TTL indexes (FerretDB); and, once per
//! database, summarizes into `room_sessions` what was stored before the summaries existed.

use super::index_book::IndexBook;
use super::indexes::create_missing;
use super::room_sessions;
use crate::model::EXPIRE_FIELD;
use bson::Document;
use mongodb::Database;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::Notify;
use tokio::time::Instant;

/// The running upkeep task; stopped when dropped (with its sink).
pub struct Upkeep {
    wake: Arc<Notify>,
    task: tokio::task::AbortHandle,
}

impl Upkeep {
    /// Starts the task for `database`, recording into `book`.
    pub fn start(database: Database, book: Arc<IndexBook>) -> Upkeep {
        let wake = Arc::new(Notify::new());
        let task = tokio::spawn(run(database, book, wake.clone())).abort_handle();
        Upkeep { wake, task }
    }

    /// Tries every index that is not present again now.
    pub fn retry_now(&self) {
        self.wake.notify_one();
    }
}

impl Drop for Upkeep {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(database: Database, book: Arc<IndexBook>, wake: Arc<Notify>) {
    let mut next_indexes = Instant::now();
    let mut last_expiry_error: Option<String> = None;
    let mut backfilled = false;
    loop {
        if Instant::now() >= next_indexes {
            let pending = create_missing(&database, &book).await;
            let wait = if pending > 0 {
                book.expire_every.min(book.retry_every)
            } else {
                book.retry_every
            };
            next_indexes = Instant::now() + wait;
            if !backfilled {
                backfilled = backfill(&database).await;
            }
        }
        for collection in book.host_expires() {
            match expire(&database, collection).await {
                Ok(deleted) => {
                    book.expired_by_host.fetch_add(deleted, Ordering::Relaxed);
                    if deleted > 0 {
                        tracing::debug!(
                            sink = "mongo",
                            collection,
                            deleted,
                            "expired documents deleted by the host"
                        );
                    }
                    last_expiry_error = None;
                }
                Err(error) => {
                    if last_expiry_error.as_ref() != Some(&error) {
                        tracing::warn!(sink = "mongo", collection, %error,
                            "cannot delete expired documents (no TTL index); tried again later");
                    }
                    last_expiry_error = Some(error);
                }
            }
        }
        let next_expiry = Instant::now() + book.expire_every;
        tokio::select! {
            _ = tokio::time::sleep_until(next_indexes.min(next_expiry)) => {}
            _ = wake.notified() => next_indexes = Instant::now(),
        }
    }
}

/// Deletes the documents of `collection` whose `openvidu_expire_at` has passed.
async fn expire(database: &Database, collection: &str) -> Result<u64, String> {
    let now = bson::DateTime::now();
    database
        .collection::<Document>(collection)
        .delete_many(bson::doc! { EXPIRE_FIELD: { "$lt": now } })
        .await
        .map(|result| result.deleted_count)
        .map_err(|e| format!("deleting expired documents of {collection}: {e}"))
}

/// The rooms' summaries of what was stored before them (`room_sessions::backfill`); tried
/// again with the indexes when it fails. Whether it is done.
async fn backfill(database: &Database) -> bool {
    let started = std::time::Instant::now();
    match room_sessions::backfill(database).await {
        Ok(None) => true,
        Ok(Some(read)) => {
            tracing::info!(
                sink = "mongo",
                documents = read,
                seconds = started.elapsed().as_secs_f64(),
                "room_sessions: summarized the documents stored before"
            );
            true
        }
        Err(error) => {
            tracing::warn!(sink = "mongo", %error,
                "room_sessions: cannot summarize the documents stored before; tried again later");
            false
        }
    }
}
