//! The group-commit writer: one thread takes every request waiting (up to
//! [`MAX_GROUP_ITEMS`] / [`MAX_GROUP_BYTES`]), applies them in order in one transaction,
//! commits once and answers each caller (see the module docs of [`super`]). A blocking append
//! that is the only one under way commits on its caller's thread instead
//! ([`Core::commit_alone`]): it pays its fsync without two thread hand-offs.

use super::record::{remove_oldest, PENDING, RECORDS};
use super::{SpoolCounters, SpoolError, MAX_GROUP_BYTES, MAX_GROUP_ITEMS, SETTLE_SYNC_INTERVAL};
use crate::model::SinkScope;
use crate::spool::config::SpoolFullPolicy;
use redb::{Database, Durability, ReadableTable};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::time::Instant;

/// The sinks items are kept for: each one's name and what it stores.
pub(super) type SpoolSinks = Arc<Vec<(String, SinkScope)>>;

/// What the writer thread and the callers share.
pub(super) struct Core {
    pub(super) db: Database,
    pub(super) path: PathBuf,
    pub(super) max_bytes: u64,
    pub(super) full: SpoolFullPolicy,
    /// Each sink's name and what it stores; replaced when a reload changes the sinks.
    pub(super) sinks: RwLock<SpoolSinks>,
    pub(super) state: Mutex<State>,
    pub(super) counters: Arc<SpoolCounters>,
    /// Held while a transaction is being applied and committed, by the writer thread or by a
    /// caller committing alone.
    pub(super) committing: Mutex<()>,
    /// Appends under way (from their call to their answer), to tell a caller alone.
    pub(super) appending: AtomicUsize,
}

#[derive(Debug)]
pub(super) struct State {
    pub(super) next_seq: u64,
    pub(super) records: u64,
    pub(super) bytes: u64,
    /// Inside a burst of refusals (logged once per burst).
    pub(super) full_burst: bool,
}

/// One caller's request to the writer.
pub(super) struct Request {
    pub(super) op: Op,
    pub(super) reply: Reply,
}

pub(super) enum Op {
    /// Encoded items and, for each, the indexes (in `sinks`, the list when they were
    /// encoded) of the sinks it is pending for.
    Append {
        records: Vec<(Vec<u8>, Vec<usize>)>,
        bytes: u64,
        sinks: SpoolSinks,
    },
    /// Sequence numbers the sink (by name) is done with.
    Settle { sink: String, seqs: Vec<u64> },
}

impl Op {
    pub(super) fn items(&self) -> usize {
        match self {
            Op::Append { records, .. } => records.len(),
            Op::Settle { seqs, .. } => seqs.len(),
        }
    }

    pub(super) fn bytes(&self) -> u64 {
        match self {
            Op::Append { bytes, .. } => *bytes,
            Op::Settle { .. } => 0,
        }
    }
}

/// An append: `Ok(first sequence number)`; a settle: `Ok(records deleted)`.
pub(super) type Outcome = Result<u64, SpoolError>;

pub(super) enum Reply {
    Blocking(mpsc::SyncSender<Outcome>),
    Async(tokio::sync::oneshot::Sender<Outcome>),
}

impl Reply {
    pub(super) fn send(self, outcome: Outcome) {
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
    /// Commits `op` on the calling thread when it is the only append under way and no
    /// transaction is; gives `op` back otherwise (it then goes to the writer thread, to be
    /// grouped with the others).
    pub(super) fn commit_alone(&self, op: Op) -> Result<Outcome, Op> {
        if !self.alone() {
            return Err(op);
        }
        let Ok(_committing) = self.committing.try_lock() else {
            return Err(op);
        };
        let (reply, outcome) = mpsc::sync_channel(1);
        let request = Request {
            op,
            reply: Reply::Blocking(reply),
        };
        self.commit_group(vec![request], false);
        // `commit_group` answers every request, committed or not.
        Ok(outcome.recv().unwrap_or_else(|_| {
            Err(SpoolError::Write(format!(
                "{}: the commit gave no answer",
                self.path.display()
            )))
        }))
    }

    /// Whether the caller's append is the only one under way (a hint: [`Core::commit_alone`]
    /// checks again, and also that no transaction is under way).
    pub(super) fn alone(&self) -> bool {
        self.appending.load(Ordering::Acquire) <= 1
    }

    /// The writer thread: group commits until every [`Spool`] handle is gone, then a last
    /// durable commit if settles are not yet on disk.
    pub(super) fn run(&self, queue: mpsc::Receiver<Request>) {
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
            let committing = self.committing.lock().expect("spool commit lock");
            let durable = self.commit_group(group, force_sync);
            drop(committing);
            match durable {
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
        let _committing = self.committing.lock().expect("spool commit lock");
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
    pub(super) fn commit_group(&self, group: Vec<Request>, force_sync: bool) -> Option<bool> {
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
                            sinks: names,
                        } => {
                            let mut drop_oldest = 0;
                            if bytes_now + new_bytes > self.max_bytes {
                                match self.full {
                                    SpoolFullPolicy::Reject => {
                                        effect.rejected += new.len() as u64;
                                        outcomes.push(Err(SpoolError::Full));
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
                                    pending.insert((next_seq, names[sink].0.as_str()), ())?;
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
                            let sink = sink.as_str();
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
                let error = SpoolError::Write(format!("{}: {e}", self.path.display()));
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

/// One append under way, counted in [`Core::appending`] until dropped.
pub(super) struct Appending<'a>(&'a AtomicUsize);

impl<'a> Appending<'a> {
    pub(super) fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Appending(count)
    }
}

impl Drop for Appending<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl SpoolCounters {
    pub(super) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}
