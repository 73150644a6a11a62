//! Whole sessions as livekit-server reports them (events and stats), for the read API's
//! tests, the dashboard's browser test and screenshots, and the API bench.

use super::items::ts;
use livekit_protocol::{
    AnalyticsEvent, AnalyticsEventType as Type, AnalyticsStat, AnalyticsStream, DisconnectReason,
    ParticipantInfo, Room, StreamType, TrackInfo, TrackSource, TrackType,
};

/// A room's sessions under construction: its events and stats.
#[derive(Default, Clone)]
pub struct Recorder {
    /// The events, in order.
    pub events: Vec<AnalyticsEvent>,
    /// The stats.
    pub stats: Vec<AnalyticsStat>,
}

/// Someone in a room: identity, when they join and leave (seconds after the room's start;
/// `None`: still in), and how good their connection is (1.0 perfect) over time.
pub struct Person {
    /// Their identity.
    pub identity: String,
    /// Joins after this many seconds.
    pub joins: i64,
    /// Leaves after this many seconds, if they do.
    pub leaves: Option<i64>,
    /// Their connection's quality at a second of the room (1.0: perfect, 0.0: unusable).
    pub quality: fn(i64) -> f64,
}

fn room(sid: &str, name: &str) -> Room {
    Room {
        sid: sid.into(),
        name: name.into(),
        ..Default::default()
    }
}

impl Recorder {
    fn event(&mut self, kind: Type, at: i64, room: &Room, who: Option<&ParticipantInfo>) {
        self.events.push(AnalyticsEvent {
            r#type: kind as i32,
            timestamp: ts(at, 0),
            room_id: room.sid.clone(),
            room: Some(room.clone()),
            participant_id: who.map(|p| p.sid.clone()).unwrap_or_default(),
            participant: who.cloned(),
            node_id: "ND_demo".into(),
            ..Default::default()
        });
    }

    fn track_event(
        &mut self,
        kind: Type,
        at: i64,
        room: &Room,
        who: &ParticipantInfo,
        track: &TrackInfo,
    ) {
        self.event(kind, at, room, Some(who));
        let last = self.events.last_mut().expect("just pushed");
        last.track_id = track.sid.clone();
        last.track = Some(track.clone());
    }

    /// A room `sid` named `name` during `span` (Unix seconds; ended at its end, or still
    /// open), with `people` each publishing a microphone and a camera, a stat per track
    /// every `every` seconds.
    pub fn room(
        &mut self,
        sid: &str,
        name: &str,
        span: std::ops::Range<i64>,
        open: bool,
        people: &[Person],
        every: i64,
    ) {
        let (start, length) = (span.start, span.end - span.start);
        let room = room(sid, name);
        self.event(Type::RoomCreated, start, &room, None);
        for (n, person) in people.iter().enumerate() {
            let who = ParticipantInfo {
                sid: format!("PA_{sid}_{n}"),
                identity: person.identity.clone(),
                ..Default::default()
            };
            let joined = start + person.joins;
            let left = person.leaves.map_or(start + length, |l| start + l);
            self.event(Type::ParticipantJoined, joined, &room, Some(&who));
            let tracks = [
                (TrackType::Audio, TrackSource::Microphone, "audio/opus", 0),
                (TrackType::Video, TrackSource::Camera, "video/VP8", 1),
            ]
            .map(|(kind, source, mime, i)| TrackInfo {
                sid: format!("TR_{sid}_{n}_{i}"),
                r#type: kind as i32,
                source: source as i32,
                mime_type: mime.into(),
                ..Default::default()
            });
            for track in &tracks {
                self.track_event(Type::TrackPublished, joined + 2, &room, &who, track);
            }
            // A mute in the middle of a long stay.
            if left - joined > 120 {
                let mid = joined + (left - joined) / 2;
                self.track_event(Type::TrackMuted, mid, &room, &who, &tracks[0]);
                self.track_event(Type::TrackUnmuted, mid + 30, &room, &who, &tracks[0]);
            }
            let mut at = joined + every;
            while at < left {
                for (i, track) in tracks.iter().enumerate() {
                    let q = (person.quality)(at - start).clamp(0.0, 1.0);
                    self.stats
                        .push(stat(sid, &who.sid, track, at, every, q, i == 1));
                }
                at += every;
            }
            if person.leaves.is_some() || !open {
                let reason = if person.leaves.is_some() {
                    DisconnectReason::ClientInitiated
                } else {
                    DisconnectReason::RoomClosed
                };
                let who = ParticipantInfo {
                    disconnect_reason: reason as i32,
                    ..who.clone()
                };
                for track in &tracks {
                    self.track_event(Type::TrackUnpublished, left - 1, &room, &who, track);
                }
                self.event(Type::ParticipantLeft, left, &room, Some(&who));
            }
        }
        if !open {
            self.event(Type::RoomEnded, start + length, &room, None);
        }
    }
}

/// One stat of `track` at `at` over the `every` seconds before, for a connection of quality
/// `q`: score, loss, jitter and round trip follow it.
fn stat(
    room: &str,
    participant: &str,
    track: &TrackInfo,
    at: i64,
    every: i64,
    q: f64,
    video: bool,
) -> AnalyticsStat {
    let packets = if video { 900 } else { 250 } * every as u32 / 5;
    let lost = ((1.0 - q) * 0.12 * f64::from(packets)) as u32;
    let bytes = if video {
        1_400_000.0 * q + 150_000.0
    } else {
        40_000.0
    } * every as f64
        / 8.0;
    let score = (1.0 + 3.6 * q + 0.3 * (at as f64 / 37.0).sin()).clamp(1.0, 4.9) as f32;
    AnalyticsStat {
        kind: StreamType::Upstream as i32,
        time_stamp: ts(at, 0),
        node: "ND_demo".into(),
        room_id: room.into(),
        participant_id: participant.into(),
        track_id: track.sid.clone(),
        score,
        min_score: (score - 0.4).max(1.0),
        median_score: score,
        streams: vec![AnalyticsStream {
            ssrc: 1000 + u32::from(video),
            primary_packets: packets - lost,
            primary_bytes: bytes as u64,
            packets_lost: lost,
            rtt: (40.0 + (1.0 - q) * 260.0) as u32,
            jitter: (3.0 + (1.0 - q) * 40.0) as u32,
            start_time: ts(at - every, 0),
            end_time: ts(at, 0),
            ..Default::default()
        }],
        mime: track.mime_type.clone(),
        ..Default::default()
    }
}

/// A steady connection.
pub fn steady(_: i64) -> f64 {
    0.95
}

/// A connection that goes bad from the 10th to the 14th minute.
pub fn dips(second: i64) -> f64 {
    if (600..840).contains(&second) {
        0.35
    } else {
        0.9
    }
}

/// A so-so connection that slowly improves.
pub fn so_so(second: i64) -> f64 {
    0.55 + (second as f64 / 3600.0).min(0.35)
}

/// The sessions of a morning, relative to `now`: a planning meeting (one person's network
/// fails for four minutes, one leaves early), a support call, a stand-up, and an all-hands
/// still going.
pub fn a_morning(now: i64) -> Recorder {
    let start = now - now % 60 - 3 * 3600;
    let mut r = Recorder::default();
    let p = |identity: &str, joins, leaves, quality| Person {
        identity: identity.to_string(),
        joins,
        leaves,
        quality,
    };
    r.room(
        "RM_standup",
        "daily-standup",
        start..start + 900,
        false,
        &[
            p("alice", 5, None, steady),
            p("bob", 20, None, steady),
            p("chen", 40, Some(600), so_so),
        ],
        10,
    );
    r.room(
        "RM_planning",
        "weekly-planning",
        start + 3600..start + 5400,
        false,
        &[
            p("alice", 10, None, steady),
            p("bob", 25, Some(1200), dips),
            p("chen", 40, None, so_so),
            p("dara", 90, None, steady),
        ],
        10,
    );
    r.room(
        "RM_support",
        "support-4711",
        start + 7200..start + 7800,
        false,
        &[
            p("erin", 3, None, so_so),
            p("customer-88", 30, Some(560), dips),
        ],
        10,
    );
    r.room(
        "RM_allhands",
        "all-hands",
        now - now % 60 - 1200..now - now % 60,
        true,
        &[
            p("alice", 5, None, steady),
            p("bob", 8, None, steady),
            p("chen", 12, None, so_so),
            p("dara", 15, None, steady),
            p("erin", 20, None, dips),
            p("frank", 60, None, so_so),
        ],
        10,
    );
    r
}

/// `n` stats of a room `RM_live` at `now`, for traffic while a test watches.
pub fn live_stats(now: i64, n: usize) -> Vec<AnalyticsStat> {
    let track = TrackInfo {
        sid: "TR_live".into(),
        mime_type: "video/VP8".into(),
        ..Default::default()
    };
    (0..n)
        .map(|i| {
            let participant = format!("PA_live_{}", i % 10);
            stat(
                "RM_live",
                &participant,
                &track,
                now - (n - i) as i64,
                5,
                0.9,
                true,
            )
        })
        .collect()
}

/// One very large room `RM_big` from `start`: `people` participants joining two seconds
/// apart, each for `stay` seconds with a microphone and a camera (eight events each: join,
/// two publications, a mute and unmute, two unpublications, leave) and a stat per track
/// every 10 s.
pub fn a_big_room(start: i64, people: usize, stay: i64) -> Recorder {
    let mut r = Recorder::default();
    let people: Vec<Person> = (0..people)
        .map(|i| Person {
            identity: format!("guest-{i}"),
            joins: 2 * i as i64,
            leaves: Some(2 * i as i64 + stay),
            quality: if i % 7 == 0 { dips } else { steady },
        })
        .collect();
    let length = 2 * people.len() as i64 + stay + 10;
    r.room(
        "RM_big",
        "town-hall",
        start..start + length,
        false,
        &people,
        10,
    );
    r
}

/// The rooms `part` (of `0..rooms`) of a busy node's day before `end`: `rooms` rooms,
/// evenly spread, of `people` people each (eight events a person) for 10 to 20 minutes, a
/// stat per track every `every` seconds. Made a part at a time: a million events held at
/// once take gigabytes (every event carries all its fields).
pub fn a_busy_day_part(
    end: i64,
    rooms: usize,
    people: usize,
    every: i64,
    part: std::ops::Range<usize>,
) -> Recorder {
    let mut r = Recorder::default();
    for n in part {
        // Spread over the whole day (an integer step left the day's last hours empty at
        // 10 000 rooms: 86 400 / 10 000 = 8 s, so the last room started 6 408 s before `end`).
        let start = end - 86_400 + n as i64 * 86_400 / rooms.max(1) as i64;
        let length = 600 + (n as i64 * 37) % 600;
        let people: Vec<Person> = (0..people)
            .map(|i| Person {
                identity: format!("user-{}", (n * people + i) % 997),
                joins: 5 + 10 * i as i64,
                leaves: None,
                quality: if n % 5 == 0 { so_so } else { steady },
            })
            .collect();
        let sid = format!("RM_day_{n:05}");
        r.room(
            &sid,
            &format!("room-{}", n % 300),
            start..start + length,
            false,
            &people,
            every,
        );
    }
    r
}
