//! Per-sink FIFO queues: one per item kind, bounded in items (`queue.capacity`, per queue)
//! and in bytes (`queue.max_bytes`, one [`QueueBudget`] shared by every queue of the host),
//! with an explicit overflow policy. A queue of one kind reaching half its capacity wakes
//! the sink's worker before its tick ([`SinkQueue::filling`]).
//!
//! Items that a sink failed to store go back to the front, in their order. Re-queued items
//! are never dropped for room: a queue can exceed its bounds by at most one batch.

use crate::counters::SinkCounters;
use crate::model::{ItemKind, SharedItem};
use crate::settings::OverflowPolicy;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The bytes all queues of the host may hold together (`queue.max_bytes`). An item queued
/// for several sinks counts once per queue (its memory is shared, so this overstates it:
/// the bound is conservative).
#[derive(Debug)]
pub struct QueueBudget {
    max: u64,
    used: AtomicU64,
}

impl QueueBudget {
    /// A budget of `max` bytes.
    pub fn new(max: u64) -> Self {
        QueueBudget {
            max,
            used: AtomicU64::new(0),
        }
    }

    /// No bound.
    pub fn unbounded() -> Self {
        Self::new(u64::MAX)
    }

    /// The bound.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Bytes queued now, all sinks.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Whether `bytes` more fit now.
    pub fn has_room(&self, bytes: u64) -> bool {
        self.used().saturating_add(bytes) <= self.max
    }

    /// Takes `bytes` for items still being built, if they fit (see
    /// [`crate::pipeline::Building`]); give them back with [`QueueBudget::release`].
    pub fn reserve(&self, bytes: u64) -> bool {
        self.try_take(bytes)
    }

    /// Gives back bytes taken by [`QueueBudget::reserve`].
    pub fn release(&self, bytes: u64) {
        self.give_back(bytes);
    }

    /// Takes `bytes` if they fit.
    fn try_take(&self, bytes: u64) -> bool {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                let next = used.saturating_add(bytes);
                (next <= self.max).then_some(next)
            })
            .is_ok()
    }

    /// Takes `bytes` whether or not they fit (items already accepted).
    fn force_take(&self, bytes: u64) {
        self.used.fetch_add(bytes, Ordering::Relaxed);
    }

    fn give_back(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// What [`SinkQueue::push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Queued.
    Queued,
    /// Queued, and the oldest item of that kind was dropped to make room.
    DroppedOldest,
    /// Not queued: the queue was full.
    DroppedNew,
}

/// The queues of one sink.
#[derive(Debug)]
pub struct SinkQueue {
    sink: String,
    capacity: usize,
    policy: OverflowPolicy,
    counters: Arc<SinkCounters>,
    budget: Arc<QueueBudget>,
    inner: Mutex<Inner>,
    /// Notified when a queue of one kind reaches [`SinkQueue::flush_at`] items: the worker
    /// sends then instead of waiting for its tick.
    filling: Notify,
}

#[derive(Debug, Default)]
struct Inner {
    fifos: [VecDeque<SharedItem>; 4],
    /// Bytes of the items in `fifos` (see [`crate::model::Item::queued_bytes`]).
    bytes: u64,
    /// The current overflow burst, per kind.
    burst: [Burst; 4],
    /// Whether the worker was told the queue is filling since it last took a batch.
    flush_asked: bool,
}

/// Items dropped (or refused) in one overflow burst of one kind.
#[derive(Debug, Default, Clone, Copy)]
struct Burst {
    /// How many (0: not overflowing).
    dropped: u64,
    /// When the last one was dropped.
    last: Option<Instant>,
}

/// A burst of overflow drops ends when the queue has room again or when nothing was
/// dropped for this long; the next drop after that starts a new burst, logged again.
pub const OVERFLOW_BURST_GAP: Duration = Duration::from_secs(1);

impl SinkQueue {
    /// Empty queues for the sink `sink`.
    pub fn new(
        sink: &str,
        capacity: usize,
        policy: OverflowPolicy,
        counters: Arc<SinkCounters>,
    ) -> Self {
        SinkQueue {
            sink: sink.into(),
            capacity,
            policy,
            counters,
            budget: Arc::new(QueueBudget::unbounded()),
            inner: Mutex::default(),
            filling: Notify::new(),
        }
    }

    /// The same queues, bounded in bytes by the host-wide `budget`.
    pub fn with_budget(mut self, budget: Arc<QueueBudget>) -> Self {
        self.budget = budget;
        self
    }

    /// Bytes of the items queued now, all kinds.
    pub fn bytes(&self) -> u64 {
        self.inner.lock().expect("queue lock").bytes
    }

    /// Appends an item, applying the overflow policy when its queue is full. Drops are
    /// counted; the first drop of a burst is logged, and so is the burst's end (see
    /// [`OVERFLOW_BURST_GAP`]) with how many were dropped.
    ///
    /// Full means `queue.capacity` items of that kind, or the host's `queue.max_bytes` taken:
    /// `drop_oldest` then drops this queue's oldest items of the kind until the new one fits
    /// (the new one is dropped if it cannot), `drop_newest` drops the new one. With `reject`
    /// the pipeline has checked for room before accepting, so the item is queued.
    pub fn push(&self, item: SharedItem) -> Pushed {
        let kind = item.kind.index();
        let size = item.queued_bytes();
        let mut inner = self.inner.lock().expect("queue lock");
        let mut taken = if self.policy == OverflowPolicy::Reject {
            self.budget.force_take(size);
            true
        } else {
            self.budget.try_take(size)
        };
        let mut dropped = 0;
        let outcome = if inner.fifos[kind].len() < self.capacity && taken {
            Pushed::Queued
        } else if self.policy == OverflowPolicy::DropOldest {
            if inner.fifos[kind].len() >= self.capacity {
                dropped += self.drop_oldest(&mut inner, kind);
            }
            while !taken && self.drop_oldest(&mut inner, kind) == 1 {
                dropped += 1;
                taken = self.budget.try_take(size);
            }
            if taken {
                Pushed::DroppedOldest
            } else {
                Pushed::DroppedNew
            }
        } else {
            if taken {
                self.budget.give_back(size);
                taken = false;
            }
            Pushed::DroppedNew
        };
        if taken {
            inner.fifos[kind].push_back(item);
            inner.bytes += size;
            if !inner.flush_asked && inner.fifos[kind].len() >= self.flush_at() {
                inner.flush_asked = true;
                self.filling.notify_one();
            }
        } else {
            dropped += 1;
        }
        if outcome == Pushed::Queued {
            self.end_burst(&mut inner, kind, "room");
        } else {
            self.overflowed(&mut inner, kind, dropped);
        }
        outcome
    }

    /// Drops the oldest item of `kind`, giving its bytes back; 1 if there was one, else 0.
    fn drop_oldest(&self, inner: &mut Inner, kind: usize) -> u64 {
        match inner.fifos[kind].pop_front() {
            Some(old) => {
                let size = old.queued_bytes();
                inner.bytes -= size;
                self.budget.give_back(size);
                1
            }
            None => 0,
        }
    }

    /// Counts `n` items of `kind` refused because this queue is full (the `reject` policy:
    /// the pipeline refuses them before queueing), logged once per burst like drops.
    pub fn refused(&self, kind: ItemKind, n: usize) {
        let mut inner = self.inner.lock().expect("queue lock");
        self.overflowed(&mut inner, kind.index(), n as u64);
    }

    /// Ends (and logs) every overflow burst with no drop for [`OVERFLOW_BURST_GAP`]; the
    /// sink's worker calls this on every tick.
    pub fn end_quiet_bursts(&self) {
        self.end_bursts_quiet_for(OVERFLOW_BURST_GAP, "quiet");
    }

    /// Ends (and logs) every overflow burst still open; the worker calls this at shutdown.
    pub fn end_all_bursts(&self) {
        self.end_bursts_quiet_for(Duration::ZERO, "shutdown");
    }

    fn end_bursts_quiet_for(&self, gap: Duration, ended: &str) {
        let mut inner = self.inner.lock().expect("queue lock");
        for kind in 0..inner.burst.len() {
            if inner.burst[kind]
                .last
                .is_some_and(|last| last.elapsed() >= gap)
            {
                self.end_burst(&mut inner, kind, ended);
            }
        }
    }

    fn overflowed(&self, inner: &mut Inner, kind: usize, n: u64) {
        if inner.burst[kind]
            .last
            .is_some_and(|last| last.elapsed() >= OVERFLOW_BURST_GAP)
        {
            self.end_burst(inner, kind, "quiet");
        }
        if inner.burst[kind].dropped == 0 {
            let message = if self.policy == OverflowPolicy::Reject {
                "queue full: refusing items"
            } else {
                "queue full: dropping items"
            };
            tracing::warn!(
                sink = %self.sink, kind = ItemKind::ALL[kind].collection(), capacity = self.capacity,
                queued_bytes = self.budget.used(), max_bytes = self.budget.max(),
                policy = ?self.policy, "{message}"
            );
        }
        inner.burst[kind].dropped += n;
        inner.burst[kind].last = Some(Instant::now());
        SinkCounters::add(&self.counters.overflowed, n as usize);
    }

    fn end_burst(&self, inner: &mut Inner, kind: usize, ended: &str) {
        let burst = std::mem::take(&mut inner.burst[kind]);
        if burst.dropped > 0 {
            tracing::warn!(
                sink = %self.sink, kind = ItemKind::ALL[kind].collection(), dropped = burst.dropped,
                policy = ?self.policy, ended, "queue overflow burst over"
            );
        }
    }

    /// Whether `n` more items of `kind` fit in this queue's capacity without dropping any
    /// (the bytes are checked once for all sinks, on the shared [`QueueBudget`]).
    pub fn has_room(&self, kind: ItemKind, n: usize) -> bool {
        self.inner.lock().expect("queue lock").fifos[kind.index()].len() + n <= self.capacity
    }

    /// The host-wide byte budget these queues share.
    pub fn budget(&self) -> &Arc<QueueBudget> {
        &self.budget
    }

    /// Items of one kind at which the worker is woken before its tick: half the capacity.
    /// At a rate its `interval` would let overflow (e.g. 100 000 items/s with the default
    /// 10 s and capacity 100 000), the sink sends every half queue instead of dropping.
    pub fn flush_at(&self) -> usize {
        (self.capacity / 2).max(1)
    }

    /// Resolves when a queue of one kind has reached [`SinkQueue::flush_at`] items since the
    /// last [`SinkQueue::take_batch`] (a wake-up that came while nobody waited is kept).
    pub async fn filling(&self) {
        self.filling.notified().await
    }

    /// Takes up to `max` items of each kind, oldest first, events first.
    pub fn take_batch(&self, max: usize) -> Vec<SharedItem> {
        let mut inner = self.inner.lock().expect("queue lock");
        inner.flush_asked = false;
        let mut batch = Vec::new();
        for fifo in inner.fifos.iter_mut() {
            let n = fifo.len().min(max);
            batch.extend(fifo.drain(..n));
        }
        let size: u64 = batch.iter().map(|i| i.queued_bytes()).sum();
        inner.bytes -= size;
        self.budget.give_back(size);
        batch
    }

    /// Puts items back at the front of their queues, keeping their order (never dropped,
    /// even past the bounds: they are already accepted).
    pub fn requeue_front(&self, items: Vec<SharedItem>) {
        let mut inner = self.inner.lock().expect("queue lock");
        for item in items.into_iter().rev() {
            let size = item.queued_bytes();
            inner.bytes += size;
            self.budget.force_take(size);
            inner.fifos[item.kind.index()].push_front(item);
        }
    }

    /// Items queued, all kinds.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .expect("queue lock")
            .fifos
            .iter()
            .map(VecDeque::len)
            .sum()
    }

    /// Items of one kind queued.
    pub fn len_of(&self, kind: ItemKind) -> usize {
        self.inner.lock().expect("queue lock").fifos[kind.index()].len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests;
