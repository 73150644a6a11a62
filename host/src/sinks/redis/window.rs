//! Several pipelines in flight: the items of one call go out in pipelines of
//! [`PIPELINE_ITEMS`] (in a cluster, one per room), at most `max_in_flight` of them awaiting
//! their replies at once. Redis works on one while the host builds the next and reads the
//! replies of the one before, instead of each side waiting for the other.
//!
//! Order: pipelines are started in queue order on the sink's one multiplexed connection, so
//! Redis executes the writes in the queue's order; in a cluster, a room's items are in one
//! pipeline, in queue order. Every item is still settled from its own replies
//! ([`send_pipeline`]).

use super::connect::Conn;
use super::write::{send_pipeline, PipelineOutcome};
use crate::model::SharedItem;
use futures::stream::{FuturesOrdered, StreamExt};
use std::collections::BTreeMap;
use std::time::SystemTime;

/// Items per pipeline outside a cluster: large enough that one round trip carries many
/// writes, small enough that a call of several batches is several pipelines in flight.
pub(super) const PIPELINE_ITEMS: usize = 256;

/// The pipelines of a call, as positions into `batch`, in queue order: one per room when
/// `per_room` (a cluster pipeline must stay on one slot), else chunks of [`PIPELINE_ITEMS`].
pub(super) fn pipelines(batch: &[SharedItem], per_room: bool) -> Vec<Vec<usize>> {
    if per_room {
        let mut rooms: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (position, item) in batch.iter().enumerate() {
            rooms.entry(&item.room_id).or_default().push(position);
        }
        return rooms.into_values().collect();
    }
    let positions: Vec<usize> = (0..batch.len()).collect();
    positions
        .chunks(PIPELINE_ITEMS)
        .map(<[usize]>::to_vec)
        .collect()
}

/// Sends `pipelines` (positions into `batch`) in order, with at most `max_in_flight` awaiting
/// replies at once, and returns their outcomes in the same order. After a pipeline failed at
/// the connection level the ones not yet started are not sent: their items come back in one
/// more outcome, to be retried.
pub(super) async fn send_all(
    conn: &Conn,
    json: bool,
    batch: &[SharedItem],
    pipelines: &[Vec<usize>],
    max_in_flight: usize,
    now: SystemTime,
) -> Vec<PipelineOutcome> {
    let mut outcomes = Vec::with_capacity(pipelines.len() + 1);
    let mut in_flight = FuturesOrdered::new();
    let mut waiting = pipelines.iter();
    let mut broken = false;
    loop {
        while !broken && in_flight.len() < max_in_flight.max(1) {
            let Some(items) = waiting.next() else { break };
            let mut conn = conn.clone();
            // Polled (built and queued on the connection) in the order pushed.
            in_flight
                .push_back(async move { send_pipeline(&mut conn, json, batch, items, now).await });
        }
        let Some(outcome) = in_flight.next().await else {
            break;
        };
        broken |= outcome.failure.is_some();
        outcomes.push(outcome);
    }
    let unsent: Vec<usize> = waiting.flatten().copied().collect();
    if !unsent.is_empty() {
        outcomes.push(PipelineOutcome {
            retry: unsent,
            error: Some("not sent: an earlier pipeline of the batch failed".into()),
            ..PipelineOutcome::default()
        });
    }
    outcomes
}
