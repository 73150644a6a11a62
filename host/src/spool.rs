//! The optional on-disk spool: accepted items are written to an embedded database (`redb`)
//! before `accept` returns, and leave it only once every sink that stores their kind has
//! settled them (stored, duplicate or refused for good).
//!
//! Two tables: `records` (sequence number → encoded item) and `pending`
//! ((sequence number, sink name) → ()). One durable write transaction per `accept` call and
//! one per settled batch. After a crash, [`Spool::open`] returns every record still pending,
//! with the sinks it is pending for.

use crate::config::{SpoolConfig, SpoolFullPolicy};
use crate::model::{Item, ItemKind, Timestamp};
use crate::pipeline::AcceptError;
use anyhow::Context;
use redb::{Database, Durability, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, UNIX_EPOCH};

const RECORDS: TableDefinition<u64, &[u8]> = TableDefinition::new("records");
const PENDING: TableDefinition<(u64, &str), ()> = TableDefinition::new("pending");

/// The database file inside the configured directory.
pub const FILE_NAME: &str = "spool.redb";

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
}

/// Size of the spool now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolSize {
    /// Records (items) held.
    pub records: u64,
    /// Their encoded bytes.
    pub bytes: u64,
}

/// The on-disk spool of one host.
pub struct Spool {
    db: Database,
    path: PathBuf,
    max_bytes: u64,
    full: SpoolFullPolicy,
    /// Each sink's name and the kinds it stores.
    sinks: Vec<(String, Vec<ItemKind>)>,
    state: Mutex<State>,
    /// What the spool did.
    pub counters: SpoolCounters,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("path", &self.path)
            .field("size", &self.size())
            .finish_non_exhaustive()
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
        let spool = Spool {
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
            counters: SpoolCounters::default(),
        };
        SpoolCounters::add(&spool.counters.recovered, recovered.len() as u64);
        if !recovered.is_empty() {
            tracing::info!(
                spool = %spool.path.display(), items = recovered.len(), bytes,
                "items left in the spool by the previous run are queued again"
            );
        }
        Ok((spool, recovered))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records and bytes held now.
    pub fn size(&self) -> SpoolSize {
        let state = self.state.lock().expect("spool lock");
        SpoolSize {
            records: state.records,
            bytes: state.bytes,
        }
    }

    /// Writes `items` (those some sink stores) in one durable transaction and sets their
    /// [`Item::spool_seq`]. Fails with [`AcceptError::SpoolFull`] when full and the policy is
    /// `reject`, or [`AcceptError::Spool`] when the disk write fails; then nothing is written.
    pub fn append(&self, items: &mut [Item]) -> Result<(), AcceptError> {
        let encoded: Vec<(usize, Vec<u8>, Vec<&str>)> = items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let sinks = self.sinks_for(item.kind);
                (!sinks.is_empty()).then(|| (i, encode(item), sinks))
            })
            .collect();
        if encoded.is_empty() {
            return Ok(());
        }
        let new_bytes: u64 = encoded.iter().map(|(_, b, _)| b.len() as u64).sum();
        let mut state = self.state.lock().expect("spool lock");
        let mut drop_oldest = 0;
        if state.bytes + new_bytes > self.max_bytes {
            match self.full {
                SpoolFullPolicy::Reject => {
                    SpoolCounters::add(&self.counters.rejected_full, encoded.len() as u64);
                    if !state.full_burst {
                        tracing::warn!(
                            spool = %self.path.display(), bytes = state.bytes, max_bytes = self.max_bytes,
                            "spool full: refusing new items until sinks catch up"
                        );
                        state.full_burst = true;
                    }
                    return Err(AcceptError::SpoolFull);
                }
                SpoolFullPolicy::DropOldest => {
                    drop_oldest = state.bytes + new_bytes - self.max_bytes
                }
            }
        } else if state.full_burst {
            tracing::info!(spool = %self.path.display(), "spool has room again");
            state.full_burst = false;
        }
        let first = state.next_seq;
        let written = (|| -> Result<(u64, u64), anyhow::Error> {
            let mut txn = self.db.begin_write()?;
            txn.set_durability(Durability::Immediate);
            let mut freed = (0, 0);
            {
                let mut records = txn.open_table(RECORDS)?;
                let mut pending = txn.open_table(PENDING)?;
                if drop_oldest > 0 {
                    freed = remove_oldest(&mut records, &mut pending, drop_oldest)?;
                }
                for (n, (_, bytes, sinks)) in encoded.iter().enumerate() {
                    let seq = first + n as u64;
                    records.insert(seq, bytes.as_slice())?;
                    for sink in sinks {
                        pending.insert((seq, *sink), ())?;
                    }
                }
            }
            txn.commit()?;
            Ok(freed)
        })();
        let (freed_records, freed_bytes) = written.map_err(|e| {
            tracing::error!(spool = %self.path.display(), error = %e, "spool write failed; items refused");
            AcceptError::Spool(format!("{}: {e}", self.path.display()))
        })?;
        if freed_records > 0 {
            SpoolCounters::add(&self.counters.dropped_full, freed_records);
            tracing::warn!(
                spool = %self.path.display(), dropped = freed_records,
                "spool full: oldest items deleted from the spool (still queued in memory)"
            );
        }
        state.next_seq += encoded.len() as u64;
        state.records = state.records + encoded.len() as u64 - freed_records;
        state.bytes = state.bytes + new_bytes - freed_bytes;
        drop(state);
        SpoolCounters::add(&self.counters.written, encoded.len() as u64);
        for (n, (i, _, _)) in encoded.iter().enumerate() {
            items[*i].spool_seq = Some(first + n as u64);
        }
        Ok(())
    }

    /// Marks `seqs` done for `sink` in one durable transaction, deleting records no sink
    /// still needs. Returns how many records were deleted.
    pub fn settle(&self, sink: &str, seqs: &[u64]) -> anyhow::Result<u64> {
        if seqs.is_empty() {
            return Ok(0);
        }
        let mut state = self.state.lock().expect("spool lock");
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate);
        let (mut deleted, mut freed) = (0, 0);
        {
            let mut records = txn.open_table(RECORDS)?;
            let mut pending = txn.open_table(PENDING)?;
            for &seq in seqs {
                pending.remove((seq, sink))?;
                let others = pending.range((seq, "")..(seq + 1, ""))?.next().is_some();
                if !others {
                    if let Some(bytes) = records.remove(seq)? {
                        deleted += 1;
                        freed += bytes.value().len() as u64;
                    }
                }
            }
        }
        txn.commit()
            .with_context(|| format!("settling {} items of `{sink}`", seqs.len()))?;
        state.records -= deleted;
        state.bytes -= freed;
        SpoolCounters::add(&self.counters.completed, deleted);
        Ok(deleted)
    }

    /// Sequence numbers still pending for `sink`, in order (reads the database).
    pub fn pending_for(&self, sink: &str) -> anyhow::Result<Vec<u64>> {
        let txn = self.db.begin_read()?;
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

    fn sinks_for(&self, kind: ItemKind) -> Vec<&str> {
        self.sinks
            .iter()
            .filter(|(_, kinds)| kinds.contains(&kind))
            .map(|(name, _)| name.as_str())
            .collect()
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
    document: &'a Map<String, Value>,
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
    document: Map<String, Value>,
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
        document: &item.document,
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
    let mut item = Item::new(kind, r.id, r.document, expire_at);
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
