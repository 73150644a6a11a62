//! The fan-out between ingest and sinks: every accepted item is queued once in every sink
//! that stores its kind.

use crate::counters::SinkCounters;
use crate::model::{Item, ItemKind, SharedItem, SinkScope};
use crate::queue::{QueueBudget, SinkQueue};
use crate::settings::OverflowPolicy;
use crate::spool::{Spool, SpoolError};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::Notify;

/// Why items were not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcceptError {
    /// The host is shutting down.
    #[error("the host is shutting down")]
    Closed,
    /// A sink's queue is full and the overflow policy is `reject`.
    #[error("the queue of sink `{0}` is full")]
    Full(String),
    /// The host's queues hold `queue.max_bytes` and the overflow policy is `reject`.
    #[error("the host's queues hold queue.max_bytes")]
    QueueBytesFull,
    /// The on-disk spool is full and its policy is `reject`.
    #[error("the spool is full")]
    SpoolFull,
    /// The on-disk spool could not write the items.
    #[error("the spool could not write: {0}")]
    Spool(String),
}

impl From<SpoolError> for AcceptError {
    fn from(err: SpoolError) -> Self {
        match err {
            SpoolError::Full => AcceptError::SpoolFull,
            SpoolError::Write(reason) => AcceptError::Spool(reason),
        }
    }
}

/// One sink as the pipeline sees it.
#[derive(Debug, Clone)]
pub struct SinkLane {
    /// The sink's name.
    pub name: String,
    /// The kinds it stores.
    pub kinds: Vec<ItemKind>,
    /// Its queues.
    pub queue: Arc<SinkQueue>,
    /// What its worker did (kept across configuration reloads, as the queue is).
    pub counters: Arc<SinkCounters>,
    /// Whether the sink reads `Item::quality` ([`crate::sinks::Sink::reads_quality`]).
    pub reads_quality: bool,
    /// Whether the sink is given the fixer's synthetic end events
    /// ([`crate::sinks::Sink::gets_fixer_events`]).
    pub fixer_events: bool,
}

impl SinkLane {
    /// What it stores, as the spool keeps items for it.
    pub fn scope(&self) -> SinkScope {
        SinkScope {
            kinds: self.kinds.clone(),
            fixer_events: self.fixer_events,
        }
    }
}

/// Accepts items from the doors and queues them for every sink.
#[derive(Debug)]
pub struct Pipeline {
    /// Replaced as a whole by a configuration reload; items are queued under the read lock,
    /// so once [`Pipeline::set_lanes`] returns no item goes into a lane it removed.
    lanes: RwLock<Arc<Vec<SinkLane>>>,
    policy: OverflowPolicy,
    accepting: AtomicBool,
    wake: Arc<Notify>,
    received: [AtomicU64; 4],
    spool: Option<Arc<Spool>>,
}

impl Pipeline {
    /// A pipeline feeding `lanes`; `wake` is notified to flush early (see [`Pipeline::flush_soon`]).
    pub fn new(lanes: Vec<SinkLane>, policy: OverflowPolicy, wake: Arc<Notify>) -> Self {
        Pipeline {
            lanes: RwLock::new(Arc::new(lanes)),
            policy,
            accepting: AtomicBool::new(true),
            wake,
            received: Default::default(),
            spool: None,
        }
    }

    /// The same pipeline, writing every accepted item to `spool` before queueing it.
    pub fn with_spool(mut self, spool: Arc<Spool>) -> Self {
        self.spool = Some(spool);
        self
    }

    /// The on-disk spool, if any.
    pub fn spool(&self) -> Option<&Arc<Spool>> {
        self.spool.as_ref()
    }

    /// Queues items in every sink that stores their kind. With the `reject` policy, nothing
    /// is queued unless every sink has room for all of them. With a spool, the items are on
    /// disk (a durable transaction, possibly shared with concurrent calls) when this returns
    /// `Ok`, and queued only then; this blocks the calling thread until then.
    pub fn accept(&self, mut items: Vec<Item>) -> Result<usize, AcceptError> {
        self.admit(&items)?;
        if let Some(spool) = &self.spool {
            spool.append(&mut items)?;
        }
        Ok(self.enqueue(items))
    }

    /// [`Pipeline::accept`] for async callers (the doors): with a spool, waits for the group
    /// commit without holding a thread, so concurrent requests share one fsync. The work runs
    /// in its own task, so a caller that goes away (a closed connection) does not leave items
    /// written to the spool but never queued.
    pub async fn accept_async(self: &Arc<Self>, items: Vec<Item>) -> Result<usize, AcceptError> {
        if self.spool.is_none() {
            return self.accept(items);
        }
        let pipeline = self.clone();
        tokio::spawn(async move {
            let mut items = items;
            pipeline.admit(&items)?;
            if let Some(spool) = &pipeline.spool {
                spool.append_async(&mut items).await?;
            }
            Ok(pipeline.enqueue(items))
        })
        .await
        .unwrap_or_else(|err| Err(AcceptError::Spool(format!("accept task failed: {err}"))))
    }

    /// Whether `items` may be accepted: the host is open and, with the `reject` policy, every
    /// sink has room for them.
    fn admit(&self, items: &[Item]) -> Result<(), AcceptError> {
        if !self.accepting.load(Ordering::Acquire) {
            return Err(AcceptError::Closed);
        }
        if self.policy == OverflowPolicy::Reject {
            let lanes = self.lanes();
            // Bytes first: one budget for every queue, and an item counts once per sink.
            let bytes: u64 = items
                .iter()
                .map(|i| i.queued_bytes() * lanes_for(&lanes, i.kind).count() as u64)
                .sum();
            if let Some(lane) = lanes.first() {
                if !lane.queue.budget().has_room(bytes) {
                    for lane in lanes.iter() {
                        for kind in ItemKind::ALL {
                            let n = items.iter().filter(|i| i.kind == kind).count();
                            if n > 0 && lane.kinds.contains(&kind) {
                                lane.queue.refused(kind, n);
                            }
                        }
                    }
                    return Err(AcceptError::QueueBytesFull);
                }
            }
            for kind in ItemKind::ALL {
                let n = items.iter().filter(|i| i.kind == kind).count();
                if n == 0 {
                    continue;
                }
                if let Some(lane) = lanes_for(&lanes, kind).find(|l| !l.queue.has_room(kind, n)) {
                    lane.queue.refused(kind, n);
                    return Err(AcceptError::Full(lane.name.clone()));
                }
            }
        }
        Ok(())
    }

    /// Whether `n` more items of `kind`, of about `bytes` each way they are queued, would fit
    /// now (with the `reject` policy; other policies make room by dropping): the gRPC door
    /// asks before it builds a message's items, and refuses the message at once when they
    /// would not. Refusals are counted as [`Pipeline::accept`] counts them.
    pub fn room_for(&self, kind: ItemKind, n: usize, bytes: u64) -> Result<(), AcceptError> {
        if self.policy != OverflowPolicy::Reject || n == 0 {
            return Ok(());
        }
        let lanes = self.lanes();
        let copies = lanes_for(&lanes, kind).count() as u64;
        if let Some(lane) = lanes.first() {
            if !lane.queue.budget().has_room(bytes.saturating_mul(copies)) {
                lanes_for(&lanes, kind).for_each(|l| l.queue.refused(kind, n));
                return Err(AcceptError::QueueBytesFull);
            }
        }
        if let Some(lane) = lanes_for(&lanes, kind).find(|l| !l.queue.has_room(kind, n)) {
            lane.queue.refused(kind, n);
            return Err(AcceptError::Full(lane.name.clone()));
        }
        Ok(())
    }

    /// Counts `n` items of `kind` refused at a door because the queues are full, in every
    /// sink that stores the kind (as [`Pipeline::accept`] counts its refusals).
    pub fn refused(&self, kind: ItemKind, n: usize) {
        lanes_for(&self.lanes(), kind).for_each(|l| l.queue.refused(kind, n));
    }

    /// A charge on the host's queue budget for items being built, before they are accepted
    /// (with the `reject` policy; with the others it charges nothing).
    pub fn building(&self) -> Building {
        let lanes = self.lanes();
        let budget = match lanes.first() {
            Some(lane) if self.policy == OverflowPolicy::Reject => {
                Some(lane.queue.budget().clone())
            }
            _ => None,
        };
        Building {
            budget,
            copies: ItemKind::ALL.map(|kind| lanes_for(&lanes, kind).count() as u64),
            taken: 0,
        }
    }

    /// Queues accepted (and, with a spool, written) items in their sinks.
    fn enqueue(&self, items: Vec<Item>) -> usize {
        let count = items.len();
        let lanes = self.lanes.read().expect("pipeline lanes lock");
        for item in items {
            self.received[item.kind.index()].fetch_add(1, Ordering::Relaxed);
            let kind = item.kind;
            let shared: SharedItem = Arc::new(item);
            let fixer_event = shared.is_fixer_event();
            for lane in lanes_for(&lanes, kind).filter(|l| l.fixer_events || !fixer_event) {
                lane.queue.push(shared.clone());
            }
        }
        count
    }

    /// Stops accepting: later calls to [`Pipeline::accept`] fail with [`AcceptError::Closed`].
    pub fn close(&self) {
        self.accepting.store(false, Ordering::Release);
    }

    /// Whether items are still accepted.
    pub fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::Acquire)
    }

    /// Asks every sink to send now instead of at its next tick.
    pub fn flush_soon(&self) {
        self.wake.notify_waiters();
    }

    /// The sinks fed by this pipeline now.
    pub fn lanes(&self) -> Arc<Vec<SinkLane>> {
        self.lanes.read().expect("pipeline lanes lock").clone()
    }

    /// Feeds `lanes` from now on (a configuration reload). When this returns, no item is
    /// being queued into a lane that is not in `lanes`: a removed sink's worker can drain
    /// its queue knowing nothing more arrives.
    pub fn set_lanes(&self, lanes: Vec<SinkLane>) {
        *self.lanes.write().expect("pipeline lanes lock") = Arc::new(lanes);
    }

    /// Whether a sink fed now reads `Item::quality`: the gRPC door reads a stat's quality
    /// figures only then.
    pub fn reads_quality(&self) -> bool {
        self.lanes
            .read()
            .expect("pipeline lanes lock")
            .iter()
            .any(|l| l.reads_quality)
    }

    /// Items accepted so far, of one kind.
    pub fn received(&self, kind: ItemKind) -> u64 {
        self.received[kind.index()].load(Ordering::Relaxed)
    }

    /// Items queued in all sinks together.
    pub fn queued(&self) -> usize {
        self.lanes().iter().map(|l| l.queue.len()).sum()
    }
}

/// Queue budget taken for items still being built (see [`Pipeline::building`]): the gRPC
/// door charges each item of a message as it builds it, so that concurrent messages cannot
/// together build more than the queues could take; given back when dropped (the items are
/// then accepted, and charged by their queues, or refused).
#[derive(Debug)]
pub struct Building {
    budget: Option<Arc<QueueBudget>>,
    /// Per kind, how many queues store it.
    copies: [u64; 4],
    taken: u64,
}

impl Building {
    /// Charges `item` (once per queue it will go to); `false` when the budget cannot take it.
    pub fn charge(&mut self, item: &Item) -> bool {
        let Some(budget) = &self.budget else {
            return true;
        };
        let bytes = item.queued_bytes() * self.copies[item.kind.index()];
        if !budget.reserve(bytes) {
            return false;
        }
        self.taken += bytes;
        true
    }
}

impl Drop for Building {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            budget.release(self.taken);
        }
    }
}

fn lanes_for(lanes: &[SinkLane], kind: ItemKind) -> impl Iterator<Item = &SinkLane> {
    lanes.iter().filter(move |l| l.kinds.contains(&kind))
}
