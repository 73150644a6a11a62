//! The batching of `simulate`: units of the scenario into requests.

use super::*;

/// Turns units into requests: gRPC events and stats gathered into messages of up to
/// `batch`, webhooks and snapshots one per request.
pub(super) struct Batcher {
    batch: usize,
    events: Vec<livekit_protocol::AnalyticsEvent>,
    event_ids: Vec<String>,
    stats: Vec<livekit_protocol::AnalyticsStat>,
    stat_ids: Vec<String>,
    ready: Vec<Job>,
}

impl Batcher {
    pub(super) fn new(batch: usize) -> Self {
        Batcher {
            batch,
            events: Vec::new(),
            event_ids: Vec::new(),
            stats: Vec::new(),
            stat_ids: Vec::new(),
            ready: Vec::new(),
        }
    }

    /// Adds what `unit` becomes through `doors`, at most `room` items (`room` is what an
    /// `--items` limit leaves; pacing may run one item ahead, the schedule catches up);
    /// returns the items added (0 when the unit does not go through these doors, e.g. a
    /// stat with webhooks only). An event goes through both doors when both are chosen:
    /// the webhook livekit-server would send beside it is never left out for pacing.
    pub(super) fn add(&mut self, unit: Unit, doors: DoorChoice, room: u64) -> u64 {
        match unit {
            Unit::Event { event, webhook } => {
                let mut added = 0;
                if doors.grpc() {
                    self.event_ids.push(event_id(&event));
                    self.events.push(*event);
                    added += 1;
                }
                if let Some(webhook) = webhook.filter(|_| doors.webhook() && added < room) {
                    let id = webhook_document_id(&webhook.id);
                    self.ready.push(Job::Webhook { webhook, id });
                    added += 1;
                }
                if self.events.len() >= self.batch {
                    self.flush_events();
                }
                added
            }
            Unit::Stat(stat) if doors.grpc() => {
                self.stat_ids.push(stat_id(&stat));
                self.stats.push(*stat);
                if self.stats.len() >= self.batch {
                    self.flush_stats();
                }
                1
            }
            Unit::NodeRooms(rooms) if doors.grpc() => {
                let id = node_rooms_id(&rooms);
                self.ready.push(Job::NodeRooms {
                    message: *rooms,
                    id,
                });
                1
            }
            Unit::Stat(_) | Unit::NodeRooms(_) => 0,
        }
    }

    pub(super) fn flush_events(&mut self) {
        if !self.events.is_empty() {
            self.ready.push(Job::Events {
                message: livekit_protocol::AnalyticsEvents {
                    events: std::mem::take(&mut self.events),
                },
                ids: std::mem::take(&mut self.event_ids),
            });
        }
    }

    pub(super) fn flush_stats(&mut self) {
        if !self.stats.is_empty() {
            self.ready.push(Job::Stats {
                message: livekit_protocol::AnalyticsStats {
                    stats: std::mem::take(&mut self.stats),
                },
                ids: std::mem::take(&mut self.stat_ids),
            });
        }
    }

    /// Requests ready to go (full messages, webhooks, snapshots).
    pub(super) fn take_full(&mut self) -> Vec<Job> {
        std::mem::take(&mut self.ready)
    }

    /// Everything, partial messages included.
    pub(super) fn take_all(&mut self) -> Vec<Job> {
        self.flush_events();
        self.flush_stats();
        std::mem::take(&mut self.ready)
    }
}
