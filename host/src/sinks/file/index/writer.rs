//! The index on its own thread: the file sink hands each stored batch over and goes on; a
//! thread writes the rows. The files are the record and never wait for the index: when the
//! index falls behind by [`BACKLOG`] batches, further batches are left out of it (counted
//! and logged; the read API does not see them, the files have them). Batches that wait
//! behind the one being written are written with the next in one transaction (up to
//! [`GROUP_ITEMS`] items): one commit for all of them.

use super::FileIndex;
use crate::model::{Item, SharedItem};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Batches waiting for the index thread at most.
pub const BACKLOG: usize = 32;
/// Items written in one transaction at most when batches wait (a batch is never split).
pub const GROUP_ITEMS: usize = 8_000;
/// How often a falling-behind index is logged.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// The file sink's handle on the index thread; dropping it lets the thread write what it
/// was given, then waits for it.
pub struct IndexWriter {
    batches: Option<SyncSender<Vec<SharedItem>>>,
    thread: Option<JoinHandle<()>>,
    /// Items left out of the index because it was behind.
    pub skipped: Arc<AtomicU64>,
    warned: Option<Instant>,
}

impl IndexWriter {
    /// Opens the index in `dir` (an error names the file) and starts its thread; items left
    /// out of the index are counted in `skipped`.
    pub fn start(dir: &Path, skipped: Arc<AtomicU64>) -> anyhow::Result<IndexWriter> {
        let mut index = Some(FileIndex::open(dir)?);
        let dir = dir.to_path_buf();
        let (tx, rx) = sync_channel::<Vec<SharedItem>>(BACKLOG);
        let thread = std::thread::Builder::new()
            .name("file-index".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    // Batches waiting behind this one go into the same transaction: one
                    // commit (and one write of each touched page) for all of them.
                    let mut batch = first;
                    while batch.len() < GROUP_ITEMS {
                        match rx.try_recv() {
                            Ok(more) => batch.extend(more),
                            Err(_) => break,
                        }
                    }
                    if index.is_none() {
                        index = FileIndex::open(&dir)
                            .map_err(|e| {
                                tracing::warn!(error = %format!("{e:#}"), "query index unavailable")
                            })
                            .ok();
                    }
                    let Some(open) = index.as_mut() else { continue };
                    let items: Vec<&Item> = batch.iter().map(|i| &**i).collect();
                    if let Err(e) = open.add(&items) {
                        tracing::warn!(error = %format!("{e:#}"), items = items.len(),
                            "query index not updated; the files have the items");
                        index = None;
                    }
                }
            })?;
        Ok(IndexWriter {
            batches: Some(tx),
            thread: Some(thread),
            skipped,
            warned: None,
        })
    }

    /// Hands `items` (stored in the files) to the index thread, or leaves them out of the
    /// index when it is [`BACKLOG`] batches behind.
    pub fn add(&mut self, items: Vec<SharedItem>) {
        let Some(batches) = &self.batches else { return };
        let count = items.len() as u64;
        match batches.try_send(items) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                let skipped = self.skipped.fetch_add(count, Ordering::Relaxed) + count;
                if self.warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                    self.warned = Some(Instant::now());
                    tracing::warn!(
                        skipped,
                        "the query index is behind the store; items left out of it (the files \
                         have them; the read API does not see them)"
                    );
                }
            }
        }
    }
}

impl Drop for IndexWriter {
    fn drop(&mut self) {
        self.batches = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
