//! The lifecycle generator: what a LiveKit node would report about its rooms.
//!
//! A fixed number of room slots run side by side; [`Scenario::next_unit`] advances them in
//! turn, one step each. A room starts (`ROOM_CREATED`), its participants join
//! (`PARTICIPANT_JOINED`, then `PARTICIPANT_ACTIVE`) and publish their tracks (audio first,
//! then video), then stats rounds follow (per track one `UPSTREAM` stat from the publisher
//! and one `DOWNSTREAM` stat per subscriber), then tracks are unpublished, participants
//! leave and the room ends (`ROOM_ENDED`); the slot then starts a new room. Every few
//! stats rounds a node-room snapshot of the live rooms is due.
//!
//! Every timestamp comes from a [`VirtualClock`] that never repeats a value, and every sid
//! is fresh, so every generated item has its own document id.

use livekit_protocol::{
    participant_info, AnalyticsEvent, AnalyticsEventType, AnalyticsNodeRooms, AnalyticsRoom,
    AnalyticsRoomParticipant, AnalyticsStat, AnalyticsStream, AnalyticsVideoLayer, ParticipantInfo,
    Room, StreamType, TrackInfo, TrackSource, TrackType, WebhookEvent,
};
use pbjson_types::Timestamp;
use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

/// Stats rounds per room between the last publish and the first unpublish.
pub const STATS_ROUNDS: usize = 12;
/// A node-room snapshot is due after this many stats rounds (over all rooms).
pub const NODE_ROOMS_EVERY: usize = 20;

/// Timestamps that follow the wall clock but never repeat: each call returns at least one
/// nanosecond more than the previous one.
#[derive(Debug)]
pub struct VirtualClock {
    last: u128,
}

impl VirtualClock {
    /// A clock starting at the current wall-clock time.
    pub fn new() -> Self {
        VirtualClock { last: 0 }
    }

    /// The next timestamp: the wall-clock time, or one nanosecond after the previous value
    /// if the wall clock has not moved on.
    pub fn tick(&mut self) -> Timestamp {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        self.last = wall.max(self.last + 1);
        Timestamp {
            seconds: (self.last / 1_000_000_000) as i64,
            nanos: (self.last % 1_000_000_000) as i32,
        }
    }
}

impl Default for VirtualClock {
    fn default() -> Self {
        Self::new()
    }
}

/// One thing a LiveKit node reports.
#[derive(Debug, Clone)]
pub enum Unit {
    /// A lifecycle event; `webhook` is the webhook livekit-server sends beside it, if any
    /// (`PARTICIPANT_JOINED` has none).
    Event {
        /// The analytics event (gRPC `IngestEvents`).
        event: Box<AnalyticsEvent>,
        /// The webhook (HTTP POST), if this event type has one.
        webhook: Option<Box<WebhookEvent>>,
    },
    /// A per-track stat (gRPC `IngestStats`).
    Stat(Box<AnalyticsStat>),
    /// A snapshot of the node's live rooms (gRPC `IngestNodeRoomStates`).
    NodeRooms(Box<AnalyticsNodeRooms>),
}

/// Shape of the generated load.
#[derive(Debug, Clone)]
pub struct Shape {
    /// Rooms alive at the same time.
    pub rooms: usize,
    /// Participants per room.
    pub participants: usize,
    /// Tracks published per participant (the first is audio, the others video).
    pub tracks: usize,
    /// Node id written into every record.
    pub node_id: String,
    /// Seed of the sids, identities and stat values.
    pub seed: u64,
}

#[derive(Debug, Clone)]
struct Track {
    info: TrackInfo,
    ssrc: u32,
}

#[derive(Debug, Clone)]
struct Participant {
    info: ParticipantInfo,
    tracks: Vec<Track>,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Join(usize),
    Active(usize),
    Publish(usize, usize),
    Stat {
        publisher: usize,
        track: usize,
        subscriber: Option<usize>,
        round: usize,
    },
    RoundDone,
    Unpublish(usize, usize),
    Leave(usize),
    End,
}

#[derive(Debug)]
struct RoomState {
    room: Room,
    created_at: Timestamp,
    participants: Vec<Participant>,
    joined: Vec<Option<Timestamp>>,
    script: VecDeque<Step>,
}

/// Counts of what the scenario has generated.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct ScenarioCounts {
    /// Rooms started.
    pub rooms: u64,
    /// Participants that joined.
    pub participants: u64,
    /// Tracks published.
    pub tracks: u64,
}

/// The generator (see the module documentation).
#[derive(Debug)]
pub struct Scenario {
    shape: Shape,
    rng: fastrand::Rng,
    clock: VirtualClock,
    slots: Vec<Option<RoomState>>,
    cursor: usize,
    pending: VecDeque<Unit>,
    rounds: usize,
    sequence: u64,
    counts: ScenarioCounts,
}

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

impl Scenario {
    /// A generator of `shape` (zero rooms, participants or tracks count as one... except
    /// tracks: zero tracks means participants publish nothing).
    pub fn new(mut shape: Shape) -> Self {
        shape.rooms = shape.rooms.max(1);
        shape.participants = shape.participants.max(1);
        let rng = fastrand::Rng::with_seed(shape.seed);
        let slots = (0..shape.rooms).map(|_| None).collect();
        Scenario {
            shape,
            rng,
            clock: VirtualClock::new(),
            slots,
            cursor: 0,
            pending: VecDeque::new(),
            rounds: 0,
            sequence: 0,
            counts: ScenarioCounts::default(),
        }
    }

    /// What has been generated so far.
    pub fn counts(&self) -> ScenarioCounts {
        self.counts
    }

    fn sid(&mut self, prefix: &str) -> String {
        let mut s = String::with_capacity(prefix.len() + 12);
        s.push_str(prefix);
        for _ in 0..12 {
            s.push(ALPHABET[self.rng.usize(..ALPHABET.len())] as char);
        }
        s
    }

    /// The next unit; the generator never runs dry.
    pub fn next_unit(&mut self) -> Unit {
        loop {
            if let Some(unit) = self.pending.pop_front() {
                return unit;
            }
            let slot = self.cursor % self.slots.len();
            self.cursor = self.cursor.wrapping_add(1);
            let unit = match self.slots[slot].take() {
                None => {
                    let (state, unit) = self.start_room();
                    self.slots[slot] = Some(state);
                    Some(unit)
                }
                Some(mut state) => {
                    let unit = self.step(&mut state);
                    if !state.script.is_empty() {
                        self.slots[slot] = Some(state);
                    }
                    unit
                }
            };
            if let Some(unit) = unit {
                return unit;
            }
        }
    }

    fn step(&mut self, state: &mut RoomState) -> Option<Unit> {
        let step = state.script.pop_front()?;
        let ts = self.clock.tick();
        let room = state.room.clone();
        Some(match step {
            Step::Join(p) => {
                state.joined[p] = Some(ts);
                self.counts.participants += 1;
                let mut info = state.participants[p].info.clone();
                info.joined_at = ts.seconds;
                info.joined_at_ms = ts.seconds * 1000 + i64::from(ts.nanos / 1_000_000);
                info.state = participant_info::State::Joined as i32;
                state.participants[p].info.joined_at = info.joined_at;
                state.participants[p].info.joined_at_ms = info.joined_at_ms;
                self.event(
                    AnalyticsEventType::ParticipantJoined,
                    None,
                    ts,
                    &room,
                    Some(&info),
                    None,
                )
            }
            Step::Active(p) => {
                let info = state.participants[p].info.clone();
                self.event(
                    AnalyticsEventType::ParticipantActive,
                    Some("participant_joined"),
                    ts,
                    &room,
                    Some(&info),
                    None,
                )
            }
            Step::Publish(p, t) => {
                self.counts.tracks += 1;
                let info = state.participants[p].info.clone();
                let track = state.participants[p].tracks[t].info.clone();
                self.event(
                    AnalyticsEventType::TrackPublished,
                    Some("track_published"),
                    ts,
                    &room,
                    Some(&info),
                    Some(&track),
                )
            }
            Step::Stat {
                publisher,
                track,
                subscriber,
                round,
            } => Unit::Stat(Box::new(
                self.stat(state, ts, publisher, track, subscriber, round),
            )),
            Step::RoundDone => {
                self.rounds += 1;
                if !self.rounds.is_multiple_of(NODE_ROOMS_EVERY) {
                    return None;
                }
                Unit::NodeRooms(Box::new(self.node_rooms(ts)))
            }
            Step::Unpublish(p, t) => {
                let info = state.participants[p].info.clone();
                let track = state.participants[p].tracks[t].info.clone();
                self.event(
                    AnalyticsEventType::TrackUnpublished,
                    Some("track_unpublished"),
                    ts,
                    &room,
                    Some(&info),
                    Some(&track),
                )
            }
            Step::Leave(p) => {
                state.joined[p] = None;
                let mut info = state.participants[p].info.clone();
                info.state = participant_info::State::Disconnected as i32;
                self.event(
                    AnalyticsEventType::ParticipantLeft,
                    Some("participant_left"),
                    ts,
                    &room,
                    Some(&info),
                    None,
                )
            }
            Step::End => self.event(
                AnalyticsEventType::RoomEnded,
                Some("room_finished"),
                ts,
                &room,
                None,
                None,
            ),
        })
    }
}

mod records;

#[cfg(test)]
mod tests;
