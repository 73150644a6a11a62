//! The records the lifecycle generator builds: a room's start, its events, each track's
//! stats and the node-room snapshot (methods of [`Scenario`] beside its stepping in
//! `mod.rs`).

use super::*;

impl Scenario {
    pub(super) fn start_room(&mut self) -> (RoomState, Unit) {
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

    pub(super) fn event(
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

    pub(super) fn stat(
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

    pub(super) fn node_rooms(&mut self, ts: Timestamp) -> AnalyticsNodeRooms {
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
