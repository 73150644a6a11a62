use super::*;

/// The schema of the first index (events only, no `reason`, `user_version` 0).
const SCHEMA_1: &str = "
CREATE TABLE events (
    id TEXT PRIMARY KEY, ts REAL NOT NULL, type TEXT NOT NULL, room_sid TEXT NOT NULL,
    room_name TEXT NOT NULL, node_id TEXT NOT NULL, participant_sid TEXT NOT NULL,
    identity TEXT NOT NULL, track_sid TEXT NOT NULL, track_type TEXT NOT NULL,
    track_source TEXT NOT NULL, mime TEXT NOT NULL, expire_at REAL NOT NULL
);
INSERT INTO events VALUES ('E1', 1.5, 'ROOM_CREATED', 'RM_old', 'old', 'ND', '', '', '', '',
    '', '', 9e12);
";

#[tokio::test]
async fn an_index_of_the_first_schema_is_upgraded_and_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    Connection::open(dir.path().join(FILE_NAME))
        .unwrap()
        .execute_batch(SCHEMA_1)
        .unwrap();
    drop(FileIndex::open(dir.path()).expect("upgraded"));
    // Opening again finds it current.
    drop(FileIndex::open(dir.path()).expect("reopened"));
    let query = IndexQuery::new(dir.path());
    let rows = query.room_events("RM_old").await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].kind.as_str(), rows[0].reason.as_str()),
        ("ROOM_CREATED", "")
    );
    assert!(query.room_quality("RM_old", 10.0).await.unwrap().is_empty());
    // Its room's summary is rebuilt from the events.
    let (sessions, more) = query
        .sessions_page(0.0, 10.0, None, None, 50)
        .await
        .unwrap();
    assert!(!more);
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert_eq!(
        (s.sid.as_str(), s.name.as_str(), s.node_id.as_str()),
        ("RM_old", "old", "ND")
    );
    assert_eq!((s.started_at, s.events, s.open), (1.5, 1, true));
}

#[test]
fn an_index_from_a_newer_host_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    Connection::open(dir.path().join(FILE_NAME))
        .unwrap()
        .execute_batch("PRAGMA user_version = 9;")
        .unwrap();
    let error = format!("{:#}", FileIndex::open(dir.path()).err().expect("refused"));
    assert!(
        error.contains("newer host") && error.contains("schema 9"),
        "{error}"
    );
}

/// The rooms' summaries as rows of text, in order.
fn summaries(conn: &Connection) -> Vec<String> {
    let mut rows = Vec::new();
    for sql in [
        "SELECT * FROM rooms ORDER BY room_sid",
        "SELECT * FROM room_participants ORDER BY 1, 2",
        "SELECT * FROM room_tracks ORDER BY 1, 2",
    ] {
        let mut statement = conn.prepare(sql).unwrap();
        let columns = statement.column_count();
        let mut result = statement.query([]).unwrap();
        while let Some(row) = result.next().unwrap() {
            let values: Vec<String> = (0..columns)
                .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
                .collect();
            rows.push(values.join("|"));
        }
    }
    rows
}

/// Room summaries merged per batch are those merged event by event, and those rebuilt from
/// the events by SQL (the upgrade's `REBUILD_ROOMS`), on random events of a few rooms.
#[test]
fn room_summaries_merged_per_batch_equal_event_by_event_and_rebuilt() {
    use livekit_protocol as lk;
    let kinds = [
        lk::AnalyticsEventType::RoomCreated,
        lk::AnalyticsEventType::ParticipantJoined,
        lk::AnalyticsEventType::TrackPublished,
        lk::AnalyticsEventType::TrackMuted,
        lk::AnalyticsEventType::ParticipantLeft,
        lk::AnalyticsEventType::RoomEnded,
    ];
    let mut rng = fastrand::Rng::with_seed(7);
    let now = SystemTime::now();
    let items: Vec<Item> = (0..400)
        .map(|i| {
            let room = rng.usize(..5);
            let event = lk::AnalyticsEvent {
                r#type: kinds[rng.usize(..kinds.len())] as i32,
                // Distinct times (the SQL rebuild breaks exact ties arbitrarily).
                timestamp: Some(pbjson_types::Timestamp {
                    seconds: 1_764_000_000 + rng.i64(..600),
                    nanos: i,
                }),
                room: Some(lk::Room {
                    sid: format!("RM_{room}"),
                    name: if rng.bool() {
                        format!("room-{room}-{}", rng.u8(..3))
                    } else {
                        String::new()
                    },
                    ..Default::default()
                }),
                participant_id: format!("PA_{}", rng.u8(..6)),
                track_id: format!("TR_{}", rng.u8(..6)),
                node_id: format!("ND_{}", rng.u8(..3)),
                ..Default::default()
            };
            Item::from_event(event, now, Duration::from_secs(60 + rng.u64(..600)))
        })
        .collect();
    let refs: Vec<&Item> = items.iter().collect();
    let (one, each) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut batch = FileIndex::open(one.path()).unwrap();
    // Two batches, the second repeating part of the first (second copies add nothing).
    batch.add(&refs[..300]).unwrap();
    batch.add(&refs[250..]).unwrap();
    let mut single = FileIndex::open(each.path()).unwrap();
    for item in &refs {
        single.add(&[*item]).unwrap();
    }
    let merged = summaries(&batch.conn);
    let rooms: i64 = batch
        .conn
        .query_row("SELECT COUNT(*) FROM rooms", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rooms, 5);
    assert_eq!(merged, summaries(&single.conn));
    batch
        .conn
        .execute_batch(&format!(
            "DELETE FROM rooms; DELETE FROM room_participants; DELETE FROM room_tracks; {REBUILD_ROOMS}"
        ))
        .unwrap();
    assert_eq!(summaries(&batch.conn), merged);
}

/// A sink worker sends its whole queue at a tick, in many batches at once: the index thread
/// takes a burst of up to [`writer::BACKLOG_ITEMS`] items (here 200 batches of 100 events,
/// far more batches than it writes while they are handed over) and indexes every one; past
/// the backlog, batches are left out and counted.
#[test]
fn a_burst_of_many_batches_is_indexed_whole_and_past_the_backlog_counted() {
    use livekit_protocol as lk;
    let dir = tempfile::tempdir().unwrap();
    let skipped = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut writer = writer::IndexWriter::start(dir.path(), skipped.clone()).unwrap();
    let now = SystemTime::now();
    let event = |room: &str, n: usize| {
        std::sync::Arc::new(Item::from_event(
            lk::AnalyticsEvent {
                r#type: lk::AnalyticsEventType::ParticipantJoined as i32,
                timestamp: Some(pbjson_types::Timestamp {
                    seconds: 1_764_000_000,
                    nanos: n as i32,
                }),
                room: Some(lk::Room {
                    sid: format!("{room}_{}", n % 50),
                    ..Default::default()
                }),
                participant_id: format!("PA_{n}"),
                ..Default::default()
            },
            now,
            Duration::from_secs(3600),
        ))
    };
    let burst = 200 * 100;
    for batch in 0..200 {
        writer.add((0..100).map(|i| event("RM", batch * 100 + i)).collect());
    }
    // Then two batches as large as the whole backlog: whichever comes while items wait (the
    // second at least: the first takes the thread seconds) is left out.
    let big = writer::BACKLOG_ITEMS;
    for part in 0..2 {
        writer.add((0..big).map(|i| event("RMbig", part * big + i)).collect());
    }
    drop(writer);
    let conn = Connection::open(dir.path().join(FILE_NAME)).unwrap();
    let count =
        |sql: &str| -> usize { conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap() as usize };
    let small = count("SELECT COUNT(*) FROM events WHERE room_sid NOT LIKE 'RMbig%'");
    let large = count("SELECT COUNT(*) FROM events WHERE room_sid LIKE 'RMbig%'");
    let skipped = skipped.load(std::sync::atomic::Ordering::Relaxed) as usize;
    assert_eq!(small, burst, "the burst indexed whole");
    assert!(skipped >= big, "{skipped} left out");
    assert_eq!(large + skipped, 2 * big, "every item indexed or counted");
}

/// A stat item of `room` at `seconds` (the same arguments, the same id) expiring at
/// `expire` (Unix seconds).
fn stat(room: &str, seconds: i64, expire: f64) -> Item {
    let mut item = Item::from_stat(
        livekit_protocol::AnalyticsStat {
            time_stamp: Some(pbjson_types::Timestamp { seconds, nanos: 0 }),
            room_id: room.into(),
            participant_id: "PA_a".into(),
            track_id: "TR_a".into(),
            score: 4.5,
            ..Default::default()
        },
        SystemTime::now(),
        Duration::from_secs(1),
    );
    item.expire_at = UNIX_EPOCH + Duration::from_secs_f64(expire);
    item
}

/// The `ts` of the stats of `room` (each id once), in order.
fn stat_times(conn: &Connection, room: &str) -> Vec<f64> {
    let mut times = Vec::new();
    chunks::room_stats(conn, room, |s| times.push(s.ts)).unwrap();
    times.sort_by(f64::total_cmp);
    times
}

/// A room's stats of a transaction are one chunk: a stat stored again in a later one is
/// read once, and a chunk goes once its last stat expired, leaving the stats of later
/// chunks (a late stat with an older `ts`, a stat written again with a later expiry).
#[test]
fn stats_are_read_once_and_expire_with_their_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let mut index = FileIndex::open(dir.path()).unwrap();
    let now = unix(SystemTime::now());
    let (past, future) = (now - 10.0, now + 3600.0);
    index.pruned = Instant::now();
    let first = [
        stat("RM_a", 100, past),
        stat("RM_a", 101, past),
        stat("RM_b", 100, future),
    ];
    index.add(&first.iter().collect::<Vec<_>>()).unwrap();
    let second = [
        stat("RM_a", 99, future),
        stat("RM_a", 101, future),
        stat("RM_a", 102, future),
    ];
    index.add(&second.iter().collect::<Vec<_>>()).unwrap();
    assert_eq!(stat_times(&index.conn, "RM_a"), [99.0, 100.0, 101.0, 102.0]);
    index.pruned = Instant::now() - PRUNE_EVERY;
    index.add(&[]).unwrap();
    assert_eq!(stat_times(&index.conn, "RM_a"), [99.0, 101.0, 102.0]);
    assert_eq!(stat_times(&index.conn, "RM_b"), [100.0]);
    let chunks: i64 = index
        .conn
        .query_row("SELECT COUNT(*) FROM stat_chunks", [], |r| r.get(0))
        .unwrap();
    assert_eq!(chunks, 2, "the expired chunk is gone");
}

/// A room's stats past [`chunks::CHUNK_STATS`] in one transaction go into several chunks,
/// every stat read back with its figures.
#[test]
fn a_room_past_a_chunk_of_stats_gets_several() {
    let dir = tempfile::tempdir().unwrap();
    let mut index = FileIndex::open(dir.path()).unwrap();
    let future = unix(SystemTime::now()) + 3600.0;
    let n = chunks::CHUNK_STATS + 10;
    let stats: Vec<Item> = (0..n).map(|i| stat("RM_a", i as i64, future)).collect();
    index.add(&stats.iter().collect::<Vec<_>>()).unwrap();
    let count: i64 = index
        .conn
        .query_row("SELECT COUNT(*) FROM stat_chunks", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 2);
    let mut read = Vec::new();
    chunks::room_stats(&index.conn, "RM_a", |s| {
        read.push((s.ts, s.texts.map(str::to_string), s.metrics[0]))
    })
    .unwrap();
    assert_eq!(read.len(), n);
    let kind = StatRow::from_item(&stats[0]).unwrap().kind.into_owned();
    assert!(read.iter().enumerate().all(|(i, (ts, texts, score))| {
        *ts == i as f64
            && texts[..3] == ["PA_a".to_string(), "TR_a".into(), kind.clone()]
            && *score == Some(4.5)
    }));
}

/// An index of schema 2 (`stats` rows, `expire_at` indexes) is brought to 3: its stats
/// moved into chunks, the events' expiry index dropped for spans; rows expire as before.
#[test]
fn an_index_of_schema_2_gets_chunks_and_spans() {
    let dir = tempfile::tempdir().unwrap();
    let now = unix(SystemTime::now());
    {
        let conn = Connection::open(dir.path().join(FILE_NAME)).unwrap();
        conn.execute_batch(&format!("{SCHEMA} {SCHEMA_2} {}", rooms::SCHEMA))
            .unwrap();
        let mut insert = conn
            .prepare(
                "INSERT INTO stats (room_sid, ts, id, participant_sid, track_sid, kind, mime, \
                 expire_at) VALUES (?1, ?2, ?3, '', '', 'UPSTREAM', '', ?4)",
            )
            .unwrap();
        for (ts, id, expire) in [(1.0, "S1", now - 120.0), (2.0, "S2", now + 3600.0)] {
            insert.execute(params!["RM_a", ts, id, expire]).unwrap();
        }
        let mut insert = conn
            .prepare(
                "INSERT INTO events VALUES (?1, ?2, 'TRACK_MUTED', 'RM_a', '', '', '', '', '', \
                 '', '', '', ?3, '')",
            )
            .unwrap();
        for (ts, id, expire) in [(1.0, "E1", now - 120.0), (2.0, "E2", now + 3600.0)] {
            insert.execute(params![id, ts, expire]).unwrap();
        }
    }
    let mut index = FileIndex::open(dir.path()).expect("upgraded");
    let version: i64 = index
        .conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    let expire_indexes = |conn: &Connection| -> i64 {
        let sql = "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '%s_expire'";
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    };
    // Left: the rooms', the spans' and the chunks' own.
    assert_eq!((version, expire_indexes(&index.conn)), (super::VERSION, 3));
    let stats_table: i64 = index
        .conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'stats'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stats_table, 0, "the stats are in chunks");
    index.add(&[]).unwrap();
    assert_eq!(stat_times(&index.conn, "RM_a"), [2.0]);
    let events: Vec<String> = {
        let mut statement = index.conn.prepare("SELECT id FROM events").unwrap();
        let ids = statement.query_map([], |r| r.get(0)).unwrap();
        ids.collect::<rusqlite::Result<_>>().unwrap()
    };
    assert_eq!(events, ["E2"]);
    drop(index);
    let index = FileIndex::open(dir.path()).expect("reopened");
    assert_eq!(
        expire_indexes(&index.conn),
        3,
        "opening again adds no expiry index"
    );
}

/// A chunk this host did not write (another format, cut short) is an error that says what
/// to do, not a wrong answer.
#[test]
fn an_unreadable_chunk_is_named() {
    let message = |e: chunks::ChunkError| e.to_string();
    assert!(chunks::stats(&[])
        .map(|_| ())
        .map_err(message)
        .unwrap_err()
        .contains("empty"));
    let other = chunks::stats(&[9])
        .map(|_| ())
        .map_err(message)
        .unwrap_err();
    assert!(
        other.contains("unknown format") && other.contains("index.sqlite"),
        "{other}"
    );
    let mut cut = chunks::stats(&[1, 40, b'a']).unwrap();
    let error = cut.next().unwrap().unwrap_err().to_string();
    assert!(error.contains("truncated"), "{error}");
    assert!(cut.next().is_none(), "nothing is read past a broken stat");
}

/// The sessions list pages in SQL over the rooms' summaries: a room is listed when its
/// life (first to last event, in whole seconds) overlaps `[from, to)`, even with no event
/// inside the range, newest start first, the cursor resuming after (start, sid).
#[tokio::test]
async fn the_sessions_list_pages_the_summaries_by_life_overlap() {
    use crate::api::sessions::RoomSession;
    use livekit_protocol as lk;
    let dir = tempfile::tempdir().unwrap();
    let mut index = FileIndex::open(dir.path()).unwrap();
    let now = SystemTime::now();
    let at = |kind: lk::AnalyticsEventType, sid: &str, name: &str, seconds: i64| {
        Item::from_event(
            lk::AnalyticsEvent {
                r#type: kind as i32,
                timestamp: Some(pbjson_types::Timestamp { seconds, nanos: 0 }),
                room: Some(lk::Room {
                    sid: sid.into(),
                    name: name.into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            now,
            Duration::from_secs(3600),
        )
    };
    use lk::AnalyticsEventType::{RoomCreated, RoomEnded};
    // Lives: A [100, 200], B [150, 400] (named "b"), C [150, 160], D [500, 600].
    let items = [
        at(RoomCreated, "RM_A", "a", 100),
        at(RoomEnded, "RM_A", "", 200),
        at(RoomCreated, "RM_B", "b", 150),
        at(RoomEnded, "RM_B", "", 400),
        at(RoomCreated, "RM_C", "c", 150),
        at(RoomEnded, "RM_C", "", 160),
        at(RoomCreated, "RM_D", "d", 500),
        at(RoomEnded, "RM_D", "", 600),
    ];
    index.add(&items.iter().collect::<Vec<_>>()).unwrap();
    let query = IndexQuery::new(dir.path());
    let sids = |page: &[RoomSession]| page.iter().map(|s| s.sid.clone()).collect::<Vec<_>>();
    let list = |from: f64, to: f64, name: Option<&'static str>| {
        let query = query.clone();
        async move {
            let (page, more) = query.sessions_page(from, to, name, None, 50).await.unwrap();
            assert!(!more);
            sids(&page)
        }
    };
    // No event of A or B between 250 and 300, but their lives overlap it (B's does).
    assert_eq!(list(250.0, 300.0, None).await, ["RM_B"]);
    // A's life starts at 100: `[0, 100)` misses it, `[0, 100.5)` (to 101) holds it.
    assert!(list(0.0, 100.0, None).await.is_empty());
    assert_eq!(list(0.0, 100.5, None).await, ["RM_A"]);
    // Newest start first, then sid; by name.
    assert_eq!(
        list(0.0, 1000.0, None).await,
        ["RM_D", "RM_B", "RM_C", "RM_A"]
    );
    assert_eq!(list(0.0, 1000.0, Some("b")).await, ["RM_B"]);
    // Pages of two, resumed after the last one's (start, sid).
    let (first, more) = query
        .sessions_page(0.0, 1000.0, None, None, 2)
        .await
        .unwrap();
    assert_eq!(
        (sids(&first), more),
        (vec!["RM_D".into(), "RM_B".into()], true)
    );
    let last = (first[1].started_at, first[1].sid.clone());
    let (second, more) = query
        .sessions_page(0.0, 1000.0, None, Some(&last), 2)
        .await
        .unwrap();
    assert_eq!(
        (sids(&second), more),
        (vec!["RM_C".into(), "RM_A".into()], false)
    );
    // Counted over all the room's events, as the fold does.
    assert_eq!((first[1].events, first[1].started_at), (2, 150.0));
}
