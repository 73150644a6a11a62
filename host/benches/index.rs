//! Which embedded engine for the read API's index: SQLite (what `sinks/file/index` uses)
//! against redb (the spool's engine) with the same indexes kept by hand, on the same rows:
//! writing `BENCH_ROWS` event rows in batches of 1000 (one transaction each, as the file
//! sink does), then the API's two reads: every event of one room, and the events of one
//! hour of the range. Prints a table of µs per row written and ms per query (median of
//! `BENCH_QUERIES`), and the file sizes.
//!
//! `cargo bench -p livekit-analytics-host --bench index`.

use redb::{Database, Durability, TableDefinition};
use rusqlite::{params, Connection};
use std::time::{Duration, Instant};

/// An event row as the index keeps it (the fields of the API's `EventRow`).
#[derive(Clone)]
struct Row {
    id: String,
    ts: f64,
    kind: &'static str,
    room_sid: String,
    room_name: String,
    participant_sid: String,
    identity: String,
    track_sid: String,
}

fn rows(n: usize) -> Vec<Row> {
    let kinds = [
        "PARTICIPANT_JOINED",
        "TRACK_PUBLISHED",
        "TRACK_MUTED",
        "PARTICIPANT_LEFT",
    ];
    (0..n)
        .map(|i| Row {
            id: format!("{:032x}", i as u128 * 0x9e37_79b9_7f4a_7c15),
            ts: 1_764_000_000.0 + i as f64 * 0.5,
            kind: kinds[i % kinds.len()],
            room_sid: format!("RM_{:05}", (i / 20) % 1000),
            room_name: format!("room-{}", (i / 20) % 300),
            participant_sid: format!("PA_{}", i % 5000),
            identity: format!("user-{}", i % 997),
            track_sid: format!("TR_{}", i % 9000),
        })
        .collect()
}

fn encode(r: &Row) -> String {
    [
        r.id.as_str(),
        &r.ts.to_string(),
        r.kind,
        &r.room_sid,
        &r.room_name,
        &r.participant_sid,
        &r.identity,
        &r.track_sid,
    ]
    .join("\t")
}

const SQLITE_SCHEMA: &str = "
PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
CREATE TABLE events (id TEXT PRIMARY KEY, ts REAL, type TEXT, room_sid TEXT, room_name TEXT,
    participant_sid TEXT, identity TEXT, track_sid TEXT);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_room ON events (room_sid, ts);
CREATE INDEX events_name ON events (room_name, ts);
CREATE INDEX events_identity ON events (identity, ts);
";

fn sqlite_write(conn: &mut Connection, rows: &[Row]) -> Duration {
    let started = Instant::now();
    for batch in rows.chunks(1000) {
        let tx = conn.transaction().unwrap();
        {
            let mut insert = tx
                .prepare_cached("INSERT OR REPLACE INTO events VALUES (?1,?2,?3,?4,?5,?6,?7,?8)")
                .unwrap();
            for r in batch {
                insert
                    .execute(params![
                        r.id,
                        r.ts,
                        r.kind,
                        r.room_sid,
                        r.room_name,
                        r.participant_sid,
                        r.identity,
                        r.track_sid
                    ])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    started.elapsed()
}

fn sqlite_query(conn: &Connection, sql: &str, param: (&str, f64, f64)) -> usize {
    let mut statement = conn.prepare_cached(sql).unwrap();
    let id = |r: &rusqlite::Row| r.get::<_, String>(0);
    if sql.contains("room_sid = ?1") {
        statement.query_map(params![param.0], id).unwrap().count()
    } else {
        statement
            .query_map(params![param.1, param.2], id)
            .unwrap()
            .count()
    }
}

const EVENTS: TableDefinition<&str, &str> = TableDefinition::new("events");
const BY_TS: TableDefinition<(u64, &str), ()> = TableDefinition::new("by_ts");
const BY_ROOM: TableDefinition<(&str, u64, &str), ()> = TableDefinition::new("by_room");
const BY_NAME: TableDefinition<(&str, u64, &str), ()> = TableDefinition::new("by_name");
const BY_IDENTITY: TableDefinition<(&str, u64, &str), ()> = TableDefinition::new("by_identity");

/// A timestamp as an order-keeping key (milliseconds).
fn key(ts: f64) -> u64 {
    (ts * 1000.0) as u64
}

fn redb_write(db: &Database, rows: &[Row], durability: Durability) -> Duration {
    let started = Instant::now();
    for batch in rows.chunks(1000) {
        let mut tx = db.begin_write().unwrap();
        tx.set_durability(durability);
        {
            let mut events = tx.open_table(EVENTS).unwrap();
            let mut by_ts = tx.open_table(BY_TS).unwrap();
            let mut by_room = tx.open_table(BY_ROOM).unwrap();
            let mut by_name = tx.open_table(BY_NAME).unwrap();
            let mut by_identity = tx.open_table(BY_IDENTITY).unwrap();
            for r in batch {
                // A replaced row leaves its old index entries: a real index would read the
                // old row first and delete them (not needed here: ids are distinct).
                events.insert(r.id.as_str(), encode(r).as_str()).unwrap();
                let t = key(r.ts);
                by_ts.insert((t, r.id.as_str()), ()).unwrap();
                by_room
                    .insert((r.room_sid.as_str(), t, r.id.as_str()), ())
                    .unwrap();
                by_name
                    .insert((r.room_name.as_str(), t, r.id.as_str()), ())
                    .unwrap();
                by_identity
                    .insert((r.identity.as_str(), t, r.id.as_str()), ())
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    started.elapsed()
}

fn redb_room(db: &Database, sid: &str) -> usize {
    let tx = db.begin_read().unwrap();
    let by_room = tx.open_table(BY_ROOM).unwrap();
    let events = tx.open_table(EVENTS).unwrap();
    let mut n = 0;
    for entry in by_room.range((sid, 0, "")..(sid, u64::MAX, "")).unwrap() {
        let (k, _) = entry.unwrap();
        let row = events.get(k.value().2).unwrap().unwrap();
        n += usize::from(!row.value().is_empty());
    }
    n
}

fn redb_hour(db: &Database, from: f64, to: f64) -> usize {
    let tx = db.begin_read().unwrap();
    let by_ts = tx.open_table(BY_TS).unwrap();
    let events = tx.open_table(EVENTS).unwrap();
    let mut n = 0;
    for entry in by_ts.range((key(from), "")..(key(to), "")).unwrap() {
        let (k, _) = entry.unwrap();
        let row = events.get(k.value().1).unwrap().unwrap();
        n += usize::from(!row.value().is_empty());
    }
    n
}

/// Runs both queries `n` times, alternating: (median ms, rows) of each.
fn measure(
    n: usize,
    mut room: impl FnMut() -> usize,
    mut hour: impl FnMut() -> usize,
) -> ((f64, usize), (f64, usize)) {
    let (mut room_runs, mut hour_runs) = (Vec::new(), Vec::new());
    let (mut room_rows, mut hour_rows) = (0, 0);
    for _ in 0..n {
        let started = Instant::now();
        room_rows = room();
        room_runs.push(started.elapsed());
        let started = Instant::now();
        hour_rows = hour();
        hour_runs.push(started.elapsed());
    }
    (
        (median(room_runs), room_rows),
        (median(hour_runs), hour_rows),
    )
}

fn median(mut runs: Vec<Duration>) -> f64 {
    runs.sort();
    runs[runs.len() / 2].as_secs_f64() * 1000.0
}

fn size(path: &std::path::Path) -> f64 {
    let mut total = 0;
    for suffix in ["", "-wal", "-shm"] {
        let p = format!("{}{suffix}", path.display());
        total += std::fs::metadata(p).map_or(0, |m| m.len());
    }
    total as f64 / (1024.0 * 1024.0)
}

fn main() {
    let n: usize = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let queries: usize = std::env::var("BENCH_QUERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let rows = rows(n);
    let (from, to) = (rows[n / 2].ts, rows[n / 2].ts + 3600.0);
    let dir = tempfile::tempdir().unwrap();
    println!("{n} event rows, 4 secondary indexes, batches of 1000; queries: median of {queries}");
    println!();
    println!("| engine | write µs/row | one room's events (ms) | rows | one hour's events (ms) | rows | file MiB |");
    println!("|---|---:|---:|---:|---:|---:|---:|");

    let path = dir.path().join("index.sqlite");
    let mut conn = Connection::open(&path).unwrap();
    conn.execute_batch(SQLITE_SCHEMA).unwrap();
    let wrote = sqlite_write(&mut conn, &rows);
    let reader = Connection::open(&path).unwrap();
    let room_sql = "SELECT id FROM events WHERE room_sid = ?1";
    let hour_sql = "SELECT id FROM events WHERE ts >= ?1 AND ts < ?2";
    let room = ("RM_00500", 0.0, 0.0);
    let ((room_ms, room_rows), (hour_ms, hour_rows)) = measure(
        queries,
        || sqlite_query(&reader, room_sql, room),
        || sqlite_query(&reader, hour_sql, ("", from, to)),
    );
    println!(
        "| SQLite (WAL, synchronous=NORMAL) | {:.2} | {room_ms:.2} | {room_rows} | {hour_ms:.2} | {hour_rows} | {:.1} |",
        wrote.as_secs_f64() * 1e6 / n as f64,
        size(&path)
    );

    for (name, durability) in [
        ("redb (Eventual)", Durability::Eventual),
        ("redb (Immediate)", Durability::Immediate),
    ] {
        let path = dir
            .path()
            .join(format!("{name}.redb").replace([' ', '(', ')'], ""));
        let db = Database::create(&path).unwrap();
        let wrote = redb_write(&db, &rows, durability);
        let ((room_ms, room_rows), (hour_ms, hour_rows)) = measure(
            queries,
            || redb_room(&db, room.0),
            || redb_hour(&db, from, to),
        );
        println!(
            "| {name} | {:.2} | {room_ms:.2} | {room_rows} | {hour_ms:.2} | {hour_rows} | {:.1} |",
            wrote.as_secs_f64() * 1e6 / n as f64,
            size(&path)
        );
    }
}
