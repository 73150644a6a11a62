//! The optional on-disk spool: accepted items are written to an embedded database (`redb`)
//! before `accept` returns, and leave it only once every sink that stores their kind has
//! settled them (stored, duplicate or refused for good).
//!
//! Two tables: `records` (sequence number → encoded item) and `pending`
//! ((sequence number, sink name) → ()). After a crash, [`Spool::open`] returns every record
//! still pending, with the sinks it is pending for.
//!
//! **Group commit.** One writer thread owns every write transaction. Callers queue requests
//! (the items of one `accept`, or the sequence numbers one sink settled) with a reply
//! channel; the writer takes everything waiting (up to [`MAX_GROUP_ITEMS`] /
//! [`MAX_GROUP_BYTES`]), applies the requests in arrival order in one transaction, commits
//! once, then answers each caller with its own outcome. A group holding an append commits with
//! `Durability::Immediate` (one fsync for all its callers); a group of settles only commits
//! with `Durability::None`, made durable by the next append's commit or at the latest
//! [`SETTLE_SYNC_INTERVAL`] later (see `docs/spool.md` for why that is safe). A blocking
//! [`Spool::append`] that is the only append under way, with no transaction under way,
//! commits on its own thread, as a group of one, instead of handing it to the writer.

pub mod config;
mod record;
mod recover;
mod writer;

pub use record::{decode, encode};

use crate::model::{Item, SinkScope};
use crate::spool::config::SpoolConfig;
use anyhow::Context;
use record::PENDING;
pub use recover::DamagedSpool;
use redb::ReadableTable;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::time::Duration;
use writer::{Appending, Core, Op, Reply, Request, State};

/// The database file inside the configured directory.
pub const FILE_NAME: &str = "spool.redb";

/// At most this many items (appended or settled) go into one group commit; a single larger
/// request still goes alone.
pub const MAX_GROUP_ITEMS: usize = 8192;
/// At most this many encoded bytes are appended by one group commit; a single larger request
/// still goes alone.
pub const MAX_GROUP_BYTES: u64 = 16 << 20;
/// Settles committed without fsync are made durable at the latest this long after the first
/// of them (earlier if an append commits).
pub const SETTLE_SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// Why the spool refused items.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpoolError {
    /// The items do not fit and the policy is `reject`.
    #[error("the spool is full")]
    Full,
    /// The disk write failed (or the writer thread has stopped).
    #[error("the spool could not write: {0}")]
    Write(String),
}

impl SpoolCounters {
    /// Reads one counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// An item read back from the spool, and the sinks that have not settled it yet.
#[derive(Debug)]
pub struct Recovered {
    /// The item, with [`Item::spool_seq`] set.
    pub item: Item,
    /// Names of the sinks it is still pending for.
    pub sinks: Vec<String>,
}

/// Counts of what the spool did since start.
#[derive(Debug, Default)]
pub struct SpoolCounters {
    /// Items written.
    pub written: AtomicU64,
    /// Records deleted because every sink settled them.
    pub completed: AtomicU64,
    /// Items refused because the spool was full (policy `reject`).
    pub rejected_full: AtomicU64,
    /// Records deleted to make room (policy `drop_oldest`).
    pub dropped_full: AtomicU64,
    /// Records found pending at start.
    pub recovered: AtomicU64,
    /// Write transactions committed (one per group of requests).
    pub commits: AtomicU64,
    /// Of those, the ones committed with an fsync (`Durability::Immediate`).
    pub durable_commits: AtomicU64,
}

/// Size of the spool now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolSize {
    /// Records (items) held.
    pub records: u64,
    /// Their encoded bytes.
    pub bytes: u64,
}

/// The on-disk spool of one host. Dropping it stops its writer thread (after a last durable
/// commit) and closes the database.
pub struct Spool {
    core: Arc<Core>,
    writer: Option<Writer>,
    /// What the spool did.
    pub counters: Arc<SpoolCounters>,
    /// The damaged file found at start and moved aside, if any.
    damaged: Option<DamagedSpool>,
}

struct Writer {
    requests: mpsc::Sender<Request>,
    thread: std::thread::JoinHandle<()>,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("path", &self.core.path)
            .field("size", &self.size())
            .finish_non_exhaustive()
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if let Some(Writer { requests, thread }) = self.writer.take() {
            drop(requests);
            if thread.join().is_err() {
                tracing::error!(spool = %self.core.path.display(), "the spool writer panicked");
            }
        }
    }
}

impl Spool {
    /// Opens (or creates) the spool in `config.dir` for these sinks (name, what it stores) and
    /// returns what a previous run left pending, oldest first. Pending rows of sinks no longer
    /// configured are dropped with a warning; records pending for nobody are deleted.
    pub fn open(
        config: &SpoolConfig,
        sinks: Vec<(String, SinkScope)>,
    ) -> anyhow::Result<(Spool, Vec<Recovered>)> {
        std::fs::create_dir_all(&config.dir)
            .with_context(|| format!("creating the spool directory {}", config.dir.display()))?;
        let path = config.dir.join(FILE_NAME);
        let (db, (recovered, records, bytes, next_seq), damaged) = recover::open(&path, &sinks)?;
        let counters = Arc::new(SpoolCounters::default());
        let core = Arc::new(Core {
            db,
            path,
            max_bytes: config.max_bytes,
            full: config.full,
            sinks: RwLock::new(Arc::new(sinks)),
            state: Mutex::new(State {
                next_seq,
                records,
                bytes,
                full_burst: false,
            }),
            counters: counters.clone(),
            committing: Mutex::new(()),
            appending: AtomicUsize::new(0),
        });
        let (requests, queue) = mpsc::channel();
        let thread = {
            let core = core.clone();
            std::thread::Builder::new()
                .name("spool-writer".into())
                .spawn(move || core.run(queue))
                .context("starting the spool writer thread")?
        };
        let spool = Spool {
            core,
            writer: Some(Writer { requests, thread }),
            counters,
            damaged,
        };
        SpoolCounters::add(&spool.counters.recovered, recovered.len() as u64);
        if !recovered.is_empty() {
            tracing::info!(
                spool = %spool.core.path.display(), items = recovered.len(), bytes,
                "items left in the spool by the previous run are queued again"
            );
        }
        Ok((spool, recovered))
    }

    /// Changes the sinks new items are kept for (a configuration reload added or removed
    /// some). Rows already written are left as they are: those of a removed sink stay until
    /// it comes back or the next start drops them (see [`Spool::open`]).
    pub fn set_sinks(&self, sinks: Vec<(String, SinkScope)>) {
        *self.core.sinks.write().expect("spool sinks lock") = Arc::new(sinks);
    }

    /// The sinks new items are kept for.
    fn sinks(&self) -> writer::SpoolSinks {
        self.core.sinks.read().expect("spool sinks lock").clone()
    }

    /// The damaged spool file found at start and moved aside (the host then started on a
    /// fresh spool), if any.
    pub fn damaged(&self) -> Option<&DamagedSpool> {
        self.damaged.as_ref()
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.core.path
    }

    /// Records and bytes held now.
    pub fn size(&self) -> SpoolSize {
        let state = self.core.state.lock().expect("spool lock");
        SpoolSize {
            records: state.records,
            bytes: state.bytes,
        }
    }

    /// Writes `items` (those some sink stores) durably and sets their [`Item::spool_seq`];
    /// blocks until their group commit is on disk. Fails with [`SpoolError::Full`]
    /// when this call's items do not fit and the policy is `reject`, or
    /// [`SpoolError::Write`] when the disk write fails; then none of them is written.
    pub fn append(&self, items: &mut [Item]) -> Result<(), SpoolError> {
        let Some((op, indexes)) = self.encode_append(items) else {
            return Ok(());
        };
        let _appending = Appending::enter(&self.core.appending);
        let op = match self.core.commit_alone(op) {
            Ok(outcome) => {
                set_seqs(items, &indexes, outcome?);
                return Ok(());
            }
            Err(op) => op,
        };
        let (tx, rx) = mpsc::sync_channel(1);
        self.submit(op, Reply::Blocking(tx))?;
        let first = rx.recv().map_err(|_| self.writer_gone())??;
        set_seqs(items, &indexes, first);
        Ok(())
    }

    /// [`Spool::append`] for async callers: waits for the group commit without blocking a
    /// thread. If the caller is dropped while waiting, the items are still written.
    pub async fn append_async(&self, items: &mut [Item]) -> Result<(), SpoolError> {
        let Some((op, indexes)) = self.encode_append(items) else {
            return Ok(());
        };
        let _appending = Appending::enter(&self.core.appending);
        // Always through the writer thread: committing here would hold a runtime thread for
        // the fsync, and measured no faster (docs/spool.md).
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(op, Reply::Async(tx))?;
        let first = rx.await.map_err(|_| self.writer_gone())??;
        set_seqs(items, &indexes, first);
        Ok(())
    }

    /// Marks `seqs` done for `sink`, deleting records no sink still needs; blocks until the
    /// transaction is committed (not necessarily fsync'd: see the module docs). Returns how
    /// many records were deleted.
    pub fn settle(&self, sink: &str, seqs: &[u64]) -> anyhow::Result<u64> {
        let Some(op) = self.settle_op(sink, seqs)? else {
            return Ok(0);
        };
        let (tx, rx) = mpsc::sync_channel(1);
        self.submit(op, Reply::Blocking(tx))?;
        let deleted = rx.recv().map_err(|_| self.writer_gone())??;
        Ok(deleted)
    }

    /// [`Spool::settle`] for async callers.
    pub async fn settle_async(&self, sink: &str, seqs: Vec<u64>) -> anyhow::Result<u64> {
        let Some(op) = self.settle_op(sink, &seqs)? else {
            return Ok(0);
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(op, Reply::Async(tx))?;
        let deleted = rx.await.map_err(|_| self.writer_gone())??;
        Ok(deleted)
    }

    /// Sequence numbers still pending for `sink`, in order (reads the database).
    pub fn pending_for(&self, sink: &str) -> anyhow::Result<Vec<u64>> {
        let txn = self.core.db.begin_read()?;
        let pending = txn.open_table(PENDING)?;
        let mut seqs = Vec::new();
        for row in pending.iter()? {
            let (key, _) = row?;
            let (seq, name) = key.value();
            if name == sink {
                seqs.push(seq);
            }
        }
        Ok(seqs)
    }

    /// The append request for the items some sink stores, and their indexes in `items`.
    fn encode_append(&self, items: &[Item]) -> Option<(Op, Vec<usize>)> {
        let mut indexes = Vec::new();
        let mut records = Vec::new();
        let mut bytes = 0;
        let names = self.sinks();
        for (i, item) in items.iter().enumerate() {
            let sinks: Vec<usize> = names
                .iter()
                .enumerate()
                .filter(|(_, (_, scope))| scope.takes(item))
                .map(|(n, _)| n)
                .collect();
            if sinks.is_empty() {
                continue;
            }
            let encoded = encode(item);
            bytes += encoded.len() as u64;
            records.push((encoded, sinks));
            indexes.push(i);
        }
        (!records.is_empty()).then_some((
            Op::Append {
                records,
                bytes,
                sinks: names,
            },
            indexes,
        ))
    }

    fn settle_op(&self, sink: &str, seqs: &[u64]) -> anyhow::Result<Option<Op>> {
        if seqs.is_empty() {
            return Ok(None);
        }
        Ok(Some(Op::Settle {
            sink: sink.to_string(),
            seqs: seqs.to_vec(),
        }))
    }

    fn submit(&self, op: Op, reply: Reply) -> Result<(), SpoolError> {
        let writer = self.writer.as_ref().ok_or_else(|| self.writer_gone())?;
        writer
            .requests
            .send(Request { op, reply })
            .map_err(|_| self.writer_gone())
    }

    fn writer_gone(&self) -> SpoolError {
        SpoolError::Write(format!(
            "{}: the spool writer has stopped",
            self.core.path.display()
        ))
    }
}

fn set_seqs(items: &mut [Item], indexes: &[usize], first: u64) {
    for (n, &i) in indexes.iter().enumerate() {
        items[i].spool_seq = Some(first + n as u64);
    }
}

#[cfg(test)]
mod tests;
