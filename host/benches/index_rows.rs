//! What the file store's query index costs per stat: `FileIndex::add` (the index thread's
//! whole work: each room's stats of the transaction packed into one chunk row, see
//! `sinks/file/index/chunks.rs`) on items built by the gRPC door's code from the load
//! generator's stats, beside raw `rusqlite` writing a row per stat, the values taken out of
//! the items before the clock starts: into schema 2's `stats` table (clustered by room,
//! `INSERT OR REPLACE`), the same with its index on `expire_at` (what schema 2 wrote), and a
//! plain rowid table with no index (the least a row costs in SQLite). Transactions of `GROUP_ITEMS` rows, as the index thread
//! writes them at 100k items/s; WAL, `synchronous = NORMAL`, as the index opens its file.
//! CPU time of the writing thread, best of `BENCH_ROUNDS` rounds (default 3) of
//! `BENCH_ROWS` stats (default 300 000); prints a table in µs per row.
//!
//! `cargo bench --bench index_rows`.

use analytics_host::model::{DocumentFormat, Item};
use analytics_host::simulate::scenario::{Scenario, Shape, Unit};
use analytics_host::sinks::file::index::{writer::GROUP_ITEMS, FileIndex, FILE_NAME};
use prost::Message as _;
use rusqlite::{params, Connection};
use std::time::{Duration, SystemTime};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// The load generator's stats (`simulate --rooms 50 --participants 4 --tracks 2`), as the
/// gRPC door builds their items (with the quality figures the index reads).
fn items(n: usize) -> Vec<Item> {
    let mut scenario = Scenario::new(Shape {
        rooms: 50,
        participants: 4,
        tracks: 2,
        node_id: "ND_bench".into(),
        seed: 7,
    });
    let now = SystemTime::now();
    let mut items = Vec::with_capacity(n);
    while items.len() < n {
        if let Unit::Stat(stat) = scenario.next_unit() {
            let bytes = stat.encode_to_vec();
            let expiration = Duration::from_secs(15 * 86_400);
            items.push(
                Item::from_encoded_stat(
                    DocumentFormat::Openvidu,
                    &bytes,
                    "",
                    now,
                    expiration,
                    true,
                )
                .expect("a generated stat converts"),
            );
        }
    }
    items
}

/// One stat row's values, in the statement's order.
type Values = (
    String,
    f64,
    String,
    String,
    String,
    String,
    String,
    [Option<f64>; 6],
    f64,
);

fn values(items: &[Item]) -> Vec<Values> {
    use analytics_host::api::quality::StatRow;
    items
        .iter()
        .map(|item| {
            let r = StatRow::from_item(item).expect("a stat row");
            let expire = item
                .expire_at
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64();
            (
                item.id.clone(),
                r.ts,
                r.room_sid.into_owned(),
                r.participant_sid.into_owned(),
                r.track_sid.into_owned(),
                r.kind.into_owned(),
                r.mime.into_owned(),
                [
                    r.score,
                    r.min_score,
                    r.packet_loss,
                    r.jitter,
                    r.rtt,
                    r.bitrate,
                ],
                expire,
            )
        })
        .collect()
}

const INSERT: &str = "INSERT OR REPLACE INTO stats (id, ts, room_sid, participant_sid, \
    track_sid, kind, mime, score, min_score, packet_loss, jitter, rtt, bitrate, expire_at) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";

/// Schema 2's stats table: a row per stat, clustered by room.
const CLUSTERED: &str = "CREATE TABLE stats (room_sid TEXT NOT NULL, ts REAL NOT NULL, \
    id TEXT NOT NULL, participant_sid TEXT NOT NULL, track_sid TEXT NOT NULL, \
    kind TEXT NOT NULL, mime TEXT NOT NULL, score REAL, min_score REAL, packet_loss REAL, \
    jitter REAL, rtt REAL, bitrate REAL, expire_at REAL NOT NULL, \
    PRIMARY KEY (room_sid, ts, id)) WITHOUT ROWID";

/// The same table without its primary key's clustering or any index.
const PLAIN: &str = "CREATE TABLE stats (room_sid TEXT NOT NULL, ts REAL NOT NULL, \
    id TEXT NOT NULL, participant_sid TEXT NOT NULL, track_sid TEXT NOT NULL, \
    kind TEXT NOT NULL, mime TEXT NOT NULL, score REAL, min_score REAL, packet_loss REAL, \
    jitter REAL, rtt REAL, bitrate REAL, expire_at REAL NOT NULL)";

/// µs per row of `FileIndex::add` in a new index.
fn host(items: &[Item]) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let mut index = FileIndex::open(dir.path()).unwrap();
    let refs: Vec<&Item> = items.iter().collect();
    let start = thread_cpu();
    for group in refs.chunks(GROUP_ITEMS) {
        index.add(group).unwrap();
    }
    per_row(start, items.len())
}

/// µs per row of the raw insert into a new index's file, after `prepare` ran on it.
fn raw(rows: &[Values], prepare: &str) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    drop(FileIndex::open(dir.path()).unwrap());
    let mut conn = Connection::open(dir.path().join(FILE_NAME)).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
        .unwrap();
    conn.execute_batch(prepare).unwrap();
    let start = thread_cpu();
    for group in rows.chunks(GROUP_ITEMS) {
        let tx = conn.transaction().unwrap();
        {
            let mut insert = tx.prepare_cached(INSERT).unwrap();
            for (id, ts, room, participant, track, kind, mime, m, expire) in group {
                insert
                    .execute(params![
                        id,
                        ts,
                        room,
                        participant,
                        track,
                        kind,
                        mime,
                        m[0],
                        m[1],
                        m[2],
                        m[3],
                        m[4],
                        m[5],
                        expire
                    ])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    per_row(start, rows.len())
}

fn per_row(start: Duration, rows: usize) -> f64 {
    (thread_cpu() - start).as_secs_f64() * 1e6 / rows as f64
}

fn main() {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (n, rounds) = (env("BENCH_ROWS", 300_000), env("BENCH_ROUNDS", 3));
    let items = items(n);
    let rows = values(&items);
    let variants: [(&str, &dyn Fn() -> f64); 4] = [
        ("`FileIndex::add` (the index thread's work)", &|| {
            host(&items)
        }),
        (
            "raw: a row per stat, clustered by room (schema 2's table)",
            &|| raw(&rows, CLUSTERED),
        ),
        (
            "raw: the same with its index on `expire_at` (schema 2)",
            &|| {
                raw(
                    &rows,
                    &format!("{CLUSTERED}; CREATE INDEX stats_expire ON stats (expire_at);"),
                )
            },
        ),
        (
            "raw: a row per stat in a rowid table with no index",
            &|| raw(&rows, PLAIN),
        ),
    ];
    let mut best = vec![f64::INFINITY; variants.len()];
    for _ in 0..rounds {
        for (i, (_, run)) in variants.iter().enumerate() {
            best[i] = best[i].min(run());
        }
    }
    println!("\n{n} stats, transactions of {GROUP_ITEMS}, best of {rounds} rounds (thread CPU)\n");
    println!("| writer | µs per stat | vs a row per stat |");
    println!("|---|---:|---:|");
    for (i, (name, _)) in variants.iter().enumerate() {
        println!("| {name} | {:.2} | {:.2} |", best[i], best[i] / best[1]);
    }
}
