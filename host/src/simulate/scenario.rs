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

    fn start_room(&mut self) -> (RoomState, Unit) {
        let ts = self.clock.tick();
        let n = self.counts.rooms;
        self.counts.rooms += 1;
        let room = Room {
            sid: self.sid("RM_"),
            name: format!("sim-room-{n}"),
            empty_timeout: 300,
            departure_timeout: 20,
            max_participants: 0,
            creation_time: ts.seconds,
            creation_time_ms: ts.seconds * 1000 + i64::from(ts.nanos / 1_000_000),
            enabled_codecs: Vec::new(),
            ..Default::default()
        };
        let mut participants = Vec::new();
        for p in 0..self.shape.participants {
            let identity = format!("user-{n}-{p}");
            let info = ParticipantInfo {
                sid: self.sid("PA_"),
                identity: identity.clone(),
                name: identity,
                state: participant_info::State::Active as i32,
                ..Default::default()
            };
            let tracks = (0..self.shape.tracks)
                .map(|t| {
                    let audio = t == 0;
                    Track {
                        info: TrackInfo {
                            sid: self.sid("TR_"),
                            r#type: if audio {
                                TrackType::Audio as i32
                            } else {
                                TrackType::Video as i32
                            },
                            source: if audio {
                                TrackSource::Microphone as i32
                            } else if t == 1 {
                                TrackSource::Camera as i32
                            } else {
                                TrackSource::ScreenShare as i32
                            },
                            name: if audio {
                                "microphone".into()
                            } else {
                                format!("video-{t}")
                            },
                            mime_type: if audio {
                                "audio/opus".into()
                            } else {
                                "video/VP8".into()
                            },
                            width: if audio { 0 } else { 1280 },
                            height: if audio { 0 } else { 720 },
                            ..Default::default()
                        },
                        ssrc: self.rng.u32(1..u32::MAX),
                    }
                })
                .collect();
            participants.push(Participant { info, tracks });
        }
        let mut script = VecDeque::new();
        let np = participants.len();
        for (p, participant) in participants.iter().enumerate() {
            script.push_back(Step::Join(p));
            script.push_back(Step::Active(p));
            for t in 0..participant.tracks.len() {
                script.push_back(Step::Publish(p, t));
            }
        }
        for round in 0..STATS_ROUNDS {
            for (p, participant) in participants.iter().enumerate() {
                for t in 0..participant.tracks.len() {
                    script.push_back(Step::Stat {
                        publisher: p,
                        track: t,
                        subscriber: None,
                        round,
                    });
                    for s in (0..np).filter(|&s| s != p) {
                        script.push_back(Step::Stat {
                            publisher: p,
                            track: t,
                            subscriber: Some(s),
                            round,
                        });
                    }
                }
            }
            script.push_back(Step::RoundDone);
        }
        for (p, participant) in participants.iter().enumerate() {
            for t in 0..participant.tracks.len() {
                script.push_back(Step::Unpublish(p, t));
            }
            script.push_back(Step::Leave(p));
        }
        script.push_back(Step::End);
        let state = RoomState {
            room: room.clone(),
            created_at: ts,
            joined: vec![None; participants.len()],
            participants,
            script,
        };
        let unit = self.event(
            AnalyticsEventType::RoomCreated,
            Some("room_started"),
            ts,
            &room,
            None,
            None,
        );
        (state, unit)
    }

    fn event(
        &mut self,
        kind: AnalyticsEventType,
        webhook: Option<&str>,
        ts: Timestamp,
        room: &Room,
        participant: Option<&ParticipantInfo>,
        track: Option<&TrackInfo>,
    ) -> Unit {
        let event = AnalyticsEvent {
            id: self.sid("AE_"),
            r#type: kind as i32,
            timestamp: Some(ts),
            room_id: room.sid.clone(),
            room: Some(room.clone()),
            participant_id: participant.map(|p| p.sid.clone()).unwrap_or_default(),
            participant: participant.cloned(),
            track_id: track.map(|t| t.sid.clone()).unwrap_or_default(),
            track: track.cloned(),
            mime: track.map(|t| t.mime_type.clone()).unwrap_or_default(),
            node_id: self.shape.node_id.clone(),
            ..Default::default()
        };
        let webhook = webhook.map(|name| {
            Box::new(WebhookEvent {
                event: name.to_string(),
                room: Some(room.clone()),
                participant: participant.cloned(),
                track: track.cloned(),
                id: self.sid("EV_"),
                created_at: ts.seconds,
                ..Default::default()
            })
        });
        Unit::Event {
            event: Box::new(event),
            webhook,
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

    fn stat(
        &mut self,
        state: &RoomState,
        ts: Timestamp,
        publisher: usize,
        track: usize,
        subscriber: Option<usize>,
        round: usize,
    ) -> AnalyticsStat {
        let rng = &mut self.rng;
        let owner = &state.participants[publisher];
        let t = &owner.tracks[track];
        let audio = t.info.r#type == TrackType::Audio as i32;
        let participant = match subscriber {
            None => owner.info.sid.clone(),
            Some(s) => state.participants[s].info.sid.clone(),
        };
        // Ten seconds of media per stat: ~50 packets/s of ~120 B (opus) or ~300 packets/s of
        // ~1 KB spread over three simulcast layers (VP8, 720p/360p/180p).
        let seconds = 10u32;
        let (packets, bytes_per, frames) = if audio {
            (50 * seconds + rng.u32(0..20), 110 + rng.u64(0..30), 0)
        } else {
            (
                300 * seconds + rng.u32(0..300),
                950 + rng.u64(0..150),
                30 * seconds - rng.u32(0..10),
            )
        };
        let lost = if rng.u8(0..10) == 0 {
            rng.u32(1..packets / 50 + 2)
        } else {
            0
        };
        let rtt = 20 + rng.u32(0..60);
        let jitter = if audio {
            rng.u32(200..3000)
        } else {
            rng.u32(1000..15000)
        };
        let video_layers = if audio {
            Vec::new()
        } else {
            [(2, 0.65), (1, 0.25), (0, 0.10)]
                .iter()
                .map(|&(layer, share)| AnalyticsVideoLayer {
                    layer,
                    packets: (f64::from(packets) * share) as u32,
                    bytes: (packets as f64 * share * bytes_per as f64) as u64,
                    frames: frames / 3,
                })
                .collect()
        };
        let retransmits = lost / 2;
        let stream = AnalyticsStream {
            ssrc: t.ssrc.wrapping_add(subscriber.map_or(0, |s| s as u32 + 1)),
            primary_packets: packets,
            primary_bytes: u64::from(packets) * bytes_per,
            retransmit_packets: retransmits,
            retransmit_bytes: u64::from(retransmits) * bytes_per,
            padding_packets: if audio { 0 } else { rng.u32(0..20) },
            padding_bytes: 0,
            packets_lost: lost,
            frames,
            rtt,
            jitter,
            nacks: lost,
            plis: if audio { 0 } else { rng.u32(0..2) },
            firs: 0,
            video_layers,
            start_time: Some(Timestamp {
                seconds: ts.seconds - i64::from(seconds),
                nanos: ts.nanos,
            }),
            end_time: Some(ts),
            packets_out_of_order: rng.u32(0..3),
        };
        // Score 1..5 (MOS-like): mostly excellent, worse with loss and jitter.
        let score = (4.8 - lost as f32 / packets as f32 * 40.0 - jitter as f32 / 30_000.0
            + rng.f32() * 0.2)
            .clamp(1.0, 5.0);
        AnalyticsStat {
            id: String::new(),
            analytics_key: String::new(),
            kind: if subscriber.is_some() {
                StreamType::Downstream as i32
            } else {
                StreamType::Upstream as i32
            },
            time_stamp: Some(ts),
            node: self.shape.node_id.clone(),
            room_id: state.room.sid.clone(),
            room_name: state.room.name.clone(),
            participant_id: participant,
            track_id: t.info.sid.clone(),
            score,
            streams: vec![stream],
            mime: t.info.mime_type.clone(),
            min_score: (score - 0.3 * (round % 3) as f32).max(1.0),
            median_score: score,
        }
    }

    fn node_rooms(&mut self, ts: Timestamp) -> AnalyticsNodeRooms {
        self.sequence += 1;
        let rooms = self
            .slots
            .iter()
            .flatten()
            .map(|state| AnalyticsRoom {
                id: state.room.sid.clone(),
                name: state.room.name.clone(),
                project_id: String::new(),
                created_at: Some(state.created_at),
                participants: state
                    .participants
                    .iter()
                    .zip(&state.joined)
                    .filter_map(|(p, joined)| {
                        joined.map(|at| AnalyticsRoomParticipant {
                            id: p.info.sid.clone(),
                            identity: p.info.identity.clone(),
                            name: p.info.name.clone(),
                            state: participant_info::State::Active as i32,
                            joined_at: Some(at),
                        })
                    })
                    .collect(),
            })
            .collect();
        AnalyticsNodeRooms {
            node_id: self.shape.node_id.clone(),
            sequence_number: self.sequence,
            timestamp: Some(ts),
            rooms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::grpc::node_rooms_id;
    use crate::ingest::mapping::webhook_document_id;
    use crate::model::{event_id, stat_id};
    use std::collections::HashSet;

    #[test]
    fn every_unit_has_its_own_id_and_rooms_run_their_whole_lifecycle() {
        let mut scenario = Scenario::new(Shape {
            rooms: 3,
            participants: 3,
            tracks: 2,
            node_id: "ND_sim".into(),
            seed: 7,
        });
        let mut ids = HashSet::new();
        let mut types = HashSet::new();
        let mut node_rooms = 0;
        for _ in 0..20_000 {
            match scenario.next_unit() {
                Unit::Event { event, webhook } => {
                    types.insert(event.r#type);
                    assert!(ids.insert(event_id(&event)));
                    if let Some(w) = webhook {
                        assert!(ids.insert(webhook_document_id(&w.id)));
                    }
                }
                Unit::Stat(stat) => assert!(ids.insert(stat_id(&stat))),
                Unit::NodeRooms(rooms) => {
                    node_rooms += 1;
                    assert!(ids.insert(node_rooms_id(&rooms)));
                }
            }
        }
        assert_eq!(types.len(), 7, "{types:?}");
        assert!(node_rooms > 0);
        assert!(scenario.counts().rooms > 3);
    }
}
