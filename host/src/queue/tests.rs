//! Tests of the sink queues (`queue.rs`).

use super::*;
use crate::model::Item;
use std::time::SystemTime;

fn item(kind: ItemKind, id: &str) -> SharedItem {
    Arc::new(Item::new(
        kind,
        id.into(),
        Default::default(),
        SystemTime::now(),
    ))
}

fn ids(items: &[SharedItem]) -> Vec<&str> {
    items.iter().map(|i| i.id.as_str()).collect()
}

#[test]
fn fifo_per_kind_and_requeue_at_front() {
    let q = SinkQueue::new("t", 10, OverflowPolicy::DropOldest, Default::default());
    for id in ["e1", "e2", "e3"] {
        q.push(item(ItemKind::Event, id));
    }
    q.push(item(ItemKind::Stat, "s1"));
    let batch = q.take_batch(2);
    assert_eq!(ids(&batch), ["e1", "e2", "s1"]);
    q.requeue_front(batch);
    assert_eq!(ids(&q.take_batch(10)), ["e1", "e2", "e3", "s1"]);
    assert!(q.is_empty());
}

#[test]
fn overflow_policies_are_applied_and_counted() {
    let counters = Arc::new(SinkCounters::default());
    let q = SinkQueue::new("t", 2, OverflowPolicy::DropOldest, counters.clone());
    for id in ["a", "b", "c"] {
        q.push(item(ItemKind::Event, id));
    }
    assert_eq!(ids(&q.take_batch(10)), ["b", "c"]);
    assert_eq!(counters.snapshot().overflowed, 1);

    let counters = Arc::new(SinkCounters::default());
    let q = SinkQueue::new("t", 2, OverflowPolicy::DropNewest, counters.clone());
    let pushed: Vec<Pushed> = ["a", "b", "c"]
        .iter()
        .map(|id| q.push(item(ItemKind::Event, id)))
        .collect();
    assert_eq!(pushed, [Pushed::Queued, Pushed::Queued, Pushed::DroppedNew]);
    assert!(q.has_room(ItemKind::Stat, 2));
    assert!(!q.has_room(ItemKind::Event, 1));
    assert_eq!(ids(&q.take_batch(10)), ["a", "b"]);
    assert_eq!(counters.snapshot().overflowed, 1);
}

#[test]
fn the_byte_budget_bounds_every_queue_together() {
    let one = item(ItemKind::Event, "a0").queued_bytes();
    let budget = Arc::new(QueueBudget::new(3 * one));
    let counters = Arc::new(SinkCounters::default());
    let oldest = SinkQueue::new("a", 100, OverflowPolicy::DropOldest, counters.clone())
        .with_budget(budget.clone());
    let newest = SinkQueue::new("b", 100, OverflowPolicy::DropNewest, counters.clone())
        .with_budget(budget.clone());
    assert_eq!(oldest.push(item(ItemKind::Event, "a1")), Pushed::Queued);
    assert_eq!(newest.push(item(ItemKind::Event, "b1")), Pushed::Queued);
    assert_eq!(oldest.push(item(ItemKind::Event, "a2")), Pushed::Queued);
    assert_eq!(budget.used(), 3 * one);
    // Full in bytes: drop_newest drops the new item, drop_oldest its own oldest.
    assert_eq!(newest.push(item(ItemKind::Event, "b2")), Pushed::DroppedNew);
    assert_eq!(
        oldest.push(item(ItemKind::Event, "a3")),
        Pushed::DroppedOldest
    );
    assert_eq!(ids(&oldest.take_batch(10)), ["a2", "a3"]);
    assert_eq!(counters.snapshot().overflowed, 2);
    // Taking gives bytes back; re-queueing takes them again, past the bound if need be.
    assert_eq!(budget.used(), one);
    let batch = newest.take_batch(10);
    assert_eq!(budget.used(), 0);
    newest.requeue_front(batch);
    assert_eq!((newest.bytes(), budget.used()), (one, one));
    // drop_oldest with nothing of its own to drop: the new item goes.
    let big = Arc::new(QueueBudget::new(one / 2));
    let q = SinkQueue::new("c", 100, OverflowPolicy::DropOldest, counters.clone())
        .with_budget(big.clone());
    assert_eq!(q.push(item(ItemKind::Event, "c1")), Pushed::DroppedNew);
    assert_eq!(big.used(), 0);
}

#[test]
fn a_burst_ends_after_a_quiet_gap_or_with_room() {
    let counters = Arc::new(SinkCounters::default());
    let q = SinkQueue::new("t", 1, OverflowPolicy::DropNewest, counters.clone());
    q.push(item(ItemKind::Event, "a"));
    let burst = |q: &SinkQueue| q.inner.lock().unwrap().burst[0];
    q.push(item(ItemKind::Event, "b"));
    q.push(item(ItemKind::Event, "c"));
    assert_eq!(burst(&q).dropped, 2);
    q.end_quiet_bursts();
    assert_eq!(burst(&q).dropped, 2, "not quiet long enough yet");
    q.inner.lock().unwrap().burst[0].last =
        Some(Instant::now() - OVERFLOW_BURST_GAP - Duration::from_millis(1));
    q.push(item(ItemKind::Event, "d"));
    assert_eq!(burst(&q).dropped, 1, "a new burst");
    q.inner.lock().unwrap().burst[0].last =
        Some(Instant::now() - OVERFLOW_BURST_GAP - Duration::from_millis(1));
    q.end_quiet_bursts();
    assert_eq!(burst(&q).dropped, 0);
    q.refused(ItemKind::Event, 3);
    assert_eq!(burst(&q).dropped, 3);
    q.take_batch(10);
    q.push(item(ItemKind::Event, "e"));
    assert_eq!(burst(&q).dropped, 0, "room again");
    q.push(item(ItemKind::Event, "f"));
    assert_eq!(burst(&q).dropped, 1);
    q.end_all_bursts();
    assert_eq!(burst(&q).dropped, 0, "shutdown");
    assert_eq!(counters.snapshot().overflowed, 7);
}
