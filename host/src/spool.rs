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
//! [`SETTLE_SYNC_INTERVAL`] later (see `docs/spool.md` for why that is safe).

use crate::config::{SpoolConfig, SpoolFullPolicy};
use crate::model::{Item, ItemKind, Timestamp};
use crate::pipeline::AcceptError;
use anyhow::Context;
use redb::{Database, Durability, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

const RECORDS: TableDefinition<u64, &[u8]> = TableDefinition::new("records");
const PENDING: TableDefinition<(u64, &str), ()> = TableDefinition::new("pending");

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
}

/// What the writer thread and the callers share.
struct Core {
    db: Database,
    path: PathBuf,
    max_bytes: u64,
    full: SpoolFullPolicy,
    /// Each sink's name and the kinds it stores.
    sinks: Vec<(String, Vec<ItemKind>)>,
    state: Mutex<State>,
    counters: Arc<SpoolCounters>,
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

#[derive(Debug)]
struct State {
    next_seq: u64,
    records: u64,
    bytes: u64,
    /// Inside a burst of refusals (logged once per burst).
    full_burst: bool,
}

/// One caller's request to the writer.
struct Request {
    op: Op,
    reply: Reply,
}

enum Op {
    /// Encoded items and, for each, the indexes of the sinks it is pending for.
    Append {
        records: Vec<(Vec<u8>, Vec<usize>)>,
        bytes: u64,
    },
    /// Sequence numbers the sink (by index) is done with.
    Settle { sink: usize, seqs: Vec<u64> },
}

impl Op {
    fn items(&self) -> usize {
        match self {
            Op::Append { records, .. } => records.len(),
            Op::Settle { seqs, .. } => seqs.len(),
        }
    }

    fn bytes(&self) -> u64 {
        match self {
            Op::Append { bytes, .. } => *bytes,
            Op::Settle { .. } => 0,
        }
    }
}

/// An append: `Ok(first sequence number)`; a settle: `Ok(records deleted)`.
type Outcome = Result<u64, AcceptError>;

enum Reply {
    Blocking(mpsc::SyncSender<Outcome>),
    Async(tokio::sync::oneshot::Sender<Outcome>),
}

impl Reply {
    fn send(self, outcome: Outcome) {
        // A caller that went away does not need its answer; its items are written anyway.
        match self {
            Reply::Blocking(tx) => {
                let _ = tx.send(outcome);
            }
            Reply::Async(tx) => {
                let _ = tx.send(outcome);
            }
        }
    }
}

impl Spool {
    /// Opens (or creates) the spool in `config.dir` for these sinks (name, kinds stored) and
    /// returns what a previous run left pending, oldest first. Pending rows of sinks no longer
    /// configured are dropped with a warning; records pending for nobody are deleted.
    pub fn open(
        config: &SpoolConfig,
        sinks: Vec<(String, Vec<ItemKind>)>,
    ) -> anyhow::Result<(Spool, Vec<Recovered>)> {
        std::fs::create_dir_all(&config.dir)
            .with_context(|| format!("creating the spool directory {}", config.dir.display()))?;
        let path = config.dir.join(FILE_NAME);
        let db = Database::create(&path)
            .with_context(|| format!("opening the spool {}", path.display()))?;
        let (recovered, records, bytes, next_seq) = recover(&db, &sinks)
            .with_context(|| format!("reading the spool {}", path.display()))?;
        let counters = Arc::new(SpoolCounters::default());
        let core = Arc::new(Core {
            db,
            path,
            max_bytes: config.max_bytes,
            full: config.full,
            sinks,
            state: Mutex::new(State {
                next_seq,
                records,
                bytes,
                full_burst: false,
            }),
            counters: counters.clone(),
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
    /// blocks until their group commit is on disk. Fails with [`AcceptError::SpoolFull`]
    /// when this call's items do not fit and the policy is `reject`, or
    /// [`AcceptError::Spool`] when the disk write fails; then none of them is written.
    pub fn append(&self, items: &mut [Item]) -> Result<(), AcceptError> {
        let Some((op, indexes)) = self.encode_append(items) else {
            return Ok(());
        };
        let (tx, rx) = mpsc::sync_channel(1);
        self.submit(op, Reply::Blocking(tx))?;
        let first = rx.recv().map_err(|_| self.writer_gone())??;
        set_seqs(items, &indexes, first);
        Ok(())
    }

    /// [`Spool::append`] for async callers: waits for the group commit without blocking a
    /// thread. If the caller is dropped while waiting, the items are still written.
    pub async fn append_async(&self, items: &mut [Item]) -> Result<(), AcceptError> {
        let Some((op, indexes)) = self.encode_append(items) else {
            return Ok(());
        };
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
        for (i, item) in items.iter().enumerate() {
            let sinks: Vec<usize> = self
                .core
                .sinks
                .iter()
                .enumerate()
                .filter(|(_, (_, kinds))| kinds.contains(&item.kind))
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
        (!records.is_empty()).then_some((Op::Append { records, bytes }, indexes))
    }

    fn settle_op(&self, sink: &str, seqs: &[u64]) -> anyhow::Result<Option<Op>> {
        if seqs.is_empty() {
            return Ok(None);
        }
        let index = self
            .core
            .sinks
            .iter()
            .position(|(name, _)| name == sink)
            .with_context(|| format!("the spool has no sink `{sink}`"))?;
        Ok(Some(Op::Settle {
            sink: index,
            seqs: seqs.to_vec(),
        }))
    }

    fn submit(&self, op: Op, reply: Reply) -> Result<(), AcceptError> {
        let writer = self.writer.as_ref().ok_or_else(|| self.writer_gone())?;
        writer
            .requests
            .send(Request { op, reply })
            .map_err(|_| self.writer_gone())
    }

    fn writer_gone(&self) -> AcceptError {
        AcceptError::Spool(format!(
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

/// What one group commit changes, applied to [`State`] and the counters once committed.
#[derive(Default)]
struct GroupEffect {
    written: u64,
    rejected: u64,
    completed: u64,
    dropped: u64,
    appended: bool,
}

impl Core {
    /// The writer thread: group commits until every [`Spool`] handle is gone, then a last
    /// durable commit if settles are not yet on disk.
    fn run(&self, queue: mpsc::Receiver<Request>) {
        let mut carry: Option<Request> = None;
        // When the first settle not yet fsync'd was committed.
        let mut unsynced: Option<Instant> = None;
        loop {
            let first = match carry.take() {
                Some(request) => request,
                None => match unsynced {
                    None => match queue.recv() {
                        Ok(request) => request,
                        Err(_) => break,
                    },
                    Some(since) => {
                        let wait = SETTLE_SYNC_INTERVAL.saturating_sub(since.elapsed());
                        match queue.recv_timeout(wait) {
                            Ok(request) => request,
                            Err(mpsc::RecvTimeoutError::Timeout) => {
                                if self.sync() {
                                    unsynced = None;
                                }
                                continue;
                            }
                            Err(mpsc::RecvTimeoutError::Disconnected) => break,
                        }
                    }
                },
            };
            let mut items = first.op.items();
            let mut bytes = first.op.bytes();
            let mut group = vec![first];
            while let Ok(next) = queue.try_recv() {
                if items + next.op.items() > MAX_GROUP_ITEMS
                    || bytes + next.op.bytes() > MAX_GROUP_BYTES
                {
                    carry = Some(next);
                    break;
                }
                items += next.op.items();
                bytes += next.op.bytes();
                group.push(next);
            }
            let force_sync = unsynced.is_some_and(|since| since.elapsed() >= SETTLE_SYNC_INTERVAL);
            match self.commit_group(group, force_sync) {
                Some(true) => unsynced = None,
                Some(false) => {
                    unsynced.get_or_insert_with(Instant::now);
                }
                None => {}
            }
        }
        if unsynced.is_some() {
            self.sync();
        }
    }

    /// An empty durable commit: makes the settles committed without fsync durable.
    fn sync(&self) -> bool {
        let synced = (|| -> Result<(), anyhow::Error> {
            let mut txn = self.db.begin_write()?;
            txn.set_durability(Durability::Immediate);
            txn.commit()?;
            Ok(())
        })();
        match synced {
            Ok(()) => {
                SpoolCounters::add(&self.counters.commits, 1);
                SpoolCounters::add(&self.counters.durable_commits, 1);
                true
            }
            Err(e) => {
                tracing::warn!(spool = %self.path.display(), error = %e, "spool sync failed; settled items may be sent again after a crash");
                false
            }
        }
    }

    /// Applies `group` in one transaction (requests in order; an append that does not fit is
    /// refused alone), commits once, then answers every caller. Returns whether the commit
    /// was durable, or `None` if it failed (every caller then gets the error).
    fn commit_group(&self, group: Vec<Request>, force_sync: bool) -> Option<bool> {
        let mut state = self.state.lock().expect("spool lock");
        let (mut next_seq, mut records_now, mut bytes_now) =
            (state.next_seq, state.records, state.bytes);
        let mut effect = GroupEffect::default();
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(group.len());
        let committed = (|| -> Result<bool, anyhow::Error> {
            let mut txn = self.db.begin_write()?;
            {
                let mut records = txn.open_table(RECORDS)?;
                let mut pending = txn.open_table(PENDING)?;
                for request in &group {
                    match &request.op {
                        Op::Append {
                            records: new,
                            bytes: new_bytes,
                        } => {
                            let mut drop_oldest = 0;
                            if bytes_now + new_bytes > self.max_bytes {
                                match self.full {
                                    SpoolFullPolicy::Reject => {
                                        effect.rejected += new.len() as u64;
                                        outcomes.push(Err(AcceptError::SpoolFull));
                                        continue;
                                    }
                                    SpoolFullPolicy::DropOldest => {
                                        drop_oldest = bytes_now + new_bytes - self.max_bytes
                                    }
                                }
                            }
                            if drop_oldest > 0 {
                                let (count, freed) =
                                    remove_oldest(&mut records, &mut pending, drop_oldest)?;
                                effect.dropped += count;
                                records_now -= count;
                                bytes_now -= freed;
                            }
                            let first = next_seq;
                            for (bytes, sinks) in new {
                                records.insert(next_seq, bytes.as_slice())?;
                                for &sink in sinks {
                                    pending.insert((next_seq, self.sinks[sink].0.as_str()), ())?;
                                }
                                next_seq += 1;
                            }
                            records_now += new.len() as u64;
                            bytes_now += new_bytes;
                            effect.written += new.len() as u64;
                            effect.appended = true;
                            outcomes.push(Ok(first));
                        }
                        Op::Settle { sink, seqs } => {
                            let sink = self.sinks[*sink].0.as_str();
                            let mut deleted = 0;
                            for &seq in seqs {
                                pending.remove((seq, sink))?;
                                let others =
                                    pending.range((seq, "")..(seq + 1, ""))?.next().is_some();
                                if !others {
                                    if let Some(bytes) = records.remove(seq)? {
                                        deleted += 1;
                                        bytes_now -= bytes.value().len() as u64;
                                    }
                                }
                            }
                            records_now -= deleted;
                            effect.completed += deleted;
                            outcomes.push(Ok(deleted));
                        }
                    }
                }
            }
            let durable = effect.appended || force_sync;
            txn.set_durability(if durable {
                Durability::Immediate
            } else {
                Durability::None
            });
            txn.commit()?;
            Ok(durable)
        })();
        let durable = match committed {
            Ok(durable) => durable,
            Err(e) => {
                drop(state);
                tracing::error!(spool = %self.path.display(), error = %e, requests = group.len(), "spool write failed; items refused");
                let error = AcceptError::Spool(format!("{}: {e}", self.path.display()));
                for request in group {
                    request.reply.send(Err(error.clone()));
                }
                return None;
            }
        };
        if effect.rejected > 0 && !state.full_burst {
            tracing::warn!(
                spool = %self.path.display(), bytes = bytes_now, max_bytes = self.max_bytes,
                "spool full: refusing new items until sinks catch up"
            );
            state.full_burst = true;
        } else if effect.rejected == 0 && effect.appended && state.full_burst {
            tracing::info!(spool = %self.path.display(), "spool has room again");
            state.full_burst = false;
        }
        state.next_seq = next_seq;
        state.records = records_now;
        state.bytes = bytes_now;
        drop(state);
        let c = &self.counters;
        SpoolCounters::add(&c.commits, 1);
        if durable {
            SpoolCounters::add(&c.durable_commits, 1);
        }
        SpoolCounters::add(&c.written, effect.written);
        SpoolCounters::add(&c.rejected_full, effect.rejected);
        SpoolCounters::add(&c.completed, effect.completed);
        if effect.dropped > 0 {
            SpoolCounters::add(&c.dropped_full, effect.dropped);
            tracing::warn!(
                spool = %self.path.display(), dropped = effect.dropped,
                "spool full: oldest items deleted from the spool (still queued in memory)"
            );
        }
        for (request, outcome) in group.into_iter().zip(outcomes) {
            request.reply.send(outcome);
        }
        Some(durable)
    }
}

impl SpoolCounters {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads one counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Deletes the oldest records (and their pending rows) until `at_least` bytes are freed or
/// none is left. Returns (records, bytes) freed.
fn remove_oldest(
    records: &mut redb::Table<u64, &[u8]>,
    pending: &mut redb::Table<(u64, &str), ()>,
    at_least: u64,
) -> Result<(u64, u64), redb::StorageError> {
    let (mut count, mut freed) = (0, 0);
    while freed < at_least {
        let Some((seq, len)) = records
            .first()?
            .map(|(k, v)| (k.value(), v.value().len() as u64))
        else {
            break;
        };
        records.remove(seq)?;
        let sinks: Vec<String> = pending
            .range((seq, "")..(seq + 1, ""))?
            .map(|row| row.map(|(k, _)| k.value().1.to_string()))
            .collect::<Result<_, _>>()?;
        for sink in &sinks {
            pending.remove((seq, sink.as_str()))?;
        }
        count += 1;
        freed += len;
    }
    Ok((count, freed))
}

type RecoverOutcome = (Vec<Recovered>, u64, u64, u64);

/// Reads what is pending, cleaning up rows of unknown sinks and records pending for nobody.
fn recover(db: &Database, sinks: &[(String, Vec<ItemKind>)]) -> anyhow::Result<RecoverOutcome> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate);
    let mut recovered = Vec::new();
    let (mut records_left, mut bytes_left, mut next_seq) = (0, 0, 0);
    {
        let mut records = txn.open_table(RECORDS)?;
        let mut pending = txn.open_table(PENDING)?;
        let mut by_seq: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        let mut unknown: Vec<(u64, String)> = Vec::new();
        for row in pending.iter()? {
            let (key, _) = row?;
            let (seq, name) = key.value();
            if sinks.iter().any(|(n, _)| n == name) {
                by_seq.entry(seq).or_default().push(name.to_string());
            } else {
                unknown.push((seq, name.to_string()));
            }
        }
        if !unknown.is_empty() {
            let names: std::collections::BTreeSet<&str> =
                unknown.iter().map(|(_, n)| n.as_str()).collect();
            tracing::warn!(
                sinks = ?names, items = unknown.len(),
                "the spool holds items for sinks no longer configured; they are dropped"
            );
            for (seq, name) in &unknown {
                pending.remove((*seq, name.as_str()))?;
            }
        }
        let mut orphans = Vec::new();
        for row in records.iter()? {
            let (key, value) = row?;
            let seq = key.value();
            next_seq = seq + 1;
            let Some(names) = by_seq.remove(&seq) else {
                orphans.push(seq);
                continue;
            };
            match decode(value.value()) {
                Ok(mut item) => {
                    item.spool_seq = Some(seq);
                    records_left += 1;
                    bytes_left += value.value().len() as u64;
                    recovered.push(Recovered { item, sinks: names });
                }
                Err(err) => {
                    tracing::error!(seq, error = %err, "unreadable spool record dropped");
                    orphans.push(seq);
                    for name in &names {
                        pending.remove((seq, name.as_str()))?;
                    }
                }
            }
        }
        for seq in orphans {
            records.remove(seq)?;
        }
        // Pending rows whose record is gone (cannot happen unless the file was edited).
        for (seq, names) in by_seq {
            for name in names {
                pending.remove((seq, name.as_str()))?;
            }
        }
    }
    txn.commit()?;
    Ok((recovered, records_left, bytes_left, next_seq))
}

/// How an item is kept on disk (JSON; field names short, version first).
#[derive(Serialize)]
struct RecordOut<'a> {
    v: u8,
    kind: &'static str,
    id: &'a str,
    type_name: &'a str,
    ts: (i64, i32),
    room_id: &'a str,
    room_name: &'a str,
    participant_id: &'a str,
    participant_identity: &'a str,
    track_id: &'a str,
    node_id: &'a str,
    score: f32,
    expire_at: (u64, u32),
    document: &'a RawValue,
}

/// [`RecordOut`] read back.
#[derive(Deserialize)]
struct RecordIn {
    v: u8,
    kind: String,
    id: String,
    type_name: String,
    ts: (i64, i32),
    room_id: String,
    room_name: String,
    participant_id: String,
    participant_identity: String,
    track_id: String,
    node_id: String,
    score: f32,
    expire_at: (u64, u32),
    document: Box<RawValue>,
}

const VERSION: u8 = 1;

/// Encodes an item for the spool.
pub fn encode(item: &Item) -> Vec<u8> {
    let expire = item
        .expire_at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let record = RecordOut {
        v: VERSION,
        kind: item.kind.collection(),
        id: &item.id,
        type_name: &item.type_name,
        ts: (item.timestamp.seconds, item.timestamp.nanos),
        room_id: &item.room_id,
        room_name: &item.room_name,
        participant_id: &item.participant_id,
        participant_identity: &item.participant_identity,
        track_id: &item.track_id,
        node_id: &item.node_id,
        score: item.score,
        expire_at: (expire.as_secs(), expire.subsec_nanos()),
        document: item.document_json(),
    };
    serde_json::to_vec(&record).expect("a record serializes")
}

/// Decodes an item written by [`encode`] (without its sequence number).
pub fn decode(bytes: &[u8]) -> anyhow::Result<Item> {
    let r: RecordIn = serde_json::from_slice(bytes).context("decoding a spool record")?;
    if r.v != VERSION {
        anyhow::bail!("spool record version {} is not {VERSION}", r.v);
    }
    let kind = ItemKind::ALL
        .into_iter()
        .find(|k| k.collection() == r.kind)
        .with_context(|| format!("unknown item kind `{}` in the spool", r.kind))?;
    let expire_at = UNIX_EPOCH + Duration::new(r.expire_at.0, r.expire_at.1);
    let mut item = Item::with_document_json(kind, r.id, r.document, expire_at);
    item.type_name = r.type_name;
    item.timestamp = Timestamp {
        seconds: r.ts.0,
        nanos: r.ts.1,
    };
    item.room_id = r.room_id;
    item.room_name = r.room_name;
    item.participant_id = r.participant_id;
    item.participant_identity = r.participant_identity;
    item.track_id = r.track_id;
    item.node_id = r.node_id;
    item.score = r.score;
    Ok(item)
}

#[cfg(test)]
mod tests;
