//! The index on its own thread: the file sink hands each stored batch over and goes on; a
//! thread writes the rows. The files are the record and never wait for the index: when
//! [`BACKLOG_ITEMS`] items already wait for the index, further batches are left out of it
//! (counted and logged; the read API does not see them, the files have them). Batches that
//! wait behind the one being written are written with the next in one transaction (up to
//! [`GROUP_ITEMS`] items): one commit for all of them.
//!
//! The backlog is counted in items, not batches: a sink worker sends its whole queue at
//! each tick (up to the queue's capacity, 100 000 items by default, in batches of
//! `batch_size`), so the index must take a tick's burst and write it over the interval.

use super::FileIndex;
use crate::model::{Item, SharedItem};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Items waiting for the index thread at most (the default queue capacity: one full
/// queue's burst). A batch is taken whole when nothing waits, whatever its size.
pub const BACKLOG_ITEMS: usize = 100_000;
/// Items written in one transaction at most when batches wait (a batch is never split).
/// Stats are clustered by room, so a transaction touches a page per active room whatever
/// its size: larger groups write each page once for more rows (8 000 → 50 000 took 7 % off
/// the index thread's CPU per row at 100k items/s).
pub const GROUP_ITEMS: usize = 50_000;
/// How often a falling-behind index is logged.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// The file sink's handle on the index thread; dropping it lets the thread write what it
/// was given, then waits for it.
pub struct IndexWriter {
    batches: Option<Sender<Vec<SharedItem>>>,
    /// Items handed over and not yet written.
    waiting: Arc<AtomicUsize>,
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
        let (tx, rx) = channel::<Vec<SharedItem>>();
        let waiting = Arc::new(AtomicUsize::new(0));
        let taken = waiting.clone();
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
                    write(&mut index, &dir, &batch);
                    let written = batch.len();
                    drop(batch);
                    taken.fetch_sub(written, Ordering::Release);
                }
            })?;
        Ok(IndexWriter {
            batches: Some(tx),
            waiting,
            thread: Some(thread),
            skipped,
            warned: None,
        })
    }

    /// Hands `items` (stored in the files) to the index thread, or leaves them out of the
    /// index when [`BACKLOG_ITEMS`] items already wait for it.
    pub fn add(&mut self, items: Vec<SharedItem>) {
        let Some(batches) = &self.batches else { return };
        let count = items.len();
        let waiting = self.waiting.load(Ordering::Acquire);
        let room = waiting == 0 || waiting + count <= BACKLOG_ITEMS;
        if room {
            self.waiting.fetch_add(count, Ordering::AcqRel);
        }
        if room && batches.send(items).is_ok() {
            return;
        }
        if room {
            // The thread is gone (it only ends when this handle is dropped).
            self.waiting.fetch_sub(count, Ordering::AcqRel);
        }
        let count = count as u64;
        let skipped = self.skipped.fetch_add(count, Ordering::Relaxed) + count;
        if self.warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
            self.warned = Some(Instant::now());
            tracing::warn!(
                skipped,
                "the query index is behind the store; items left out of it (the files have \
                 them; the read API does not see them)"
            );
        }
    }
}

/// Writes `batch` into the index, opening it again first if an earlier error closed it; an
/// error is logged and closes it (the files have the items).
fn write(index: &mut Option<FileIndex>, dir: &Path, batch: &[SharedItem]) {
    if index.is_none() {
        *index = FileIndex::open(dir)
            .map_err(|e| tracing::warn!(error = %format!("{e:#}"), "query index unavailable"))
            .ok();
    }
    let Some(open) = index.as_mut() else { return };
    let items: Vec<&Item> = batch.iter().map(|i| &**i).collect();
    if let Err(e) = open.add(&items) {
        tracing::warn!(error = %format!("{e:#}"), items = items.len(),
            "query index not updated; the files have the items");
        *index = None;
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
