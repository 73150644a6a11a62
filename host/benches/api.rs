//! The read API's latency on a real `analytics-host run`, on each backend: a very large
//! room (`RM_big`: 10 000 events, ~100 000 stats) and a busy node's day (5 000 rooms, 26
//! events each, a stat per track every five minutes), sent through the gRPC door and
//! stored by the embedded file store's SQLite index or by a MongoDB-wire server. Each
//! question is asked `BENCH_REQUESTS` times in a row after two warm-ups; the table gives
//! p50 / p95 / max, the answer's size, and the host's memory (RSS before the questions,
//! peak after).
//!
//! `cargo bench -p livekit-analytics-host --bench api`; `BENCH_BACKENDS=embedded,mongo`
//! (`mongo`: SecantusDB; `ferretdb`: FerretDB with its SQLite backend;
//! `ferretdb-postgresql`: FerretDB with its PostgreSQL backend),
//! `BENCH_DAY_ROOMS=5000`, `BENCH_DAY_PEOPLE=4` (people per room), `BENCH_DAY_STAT_EVERY=300`
//! (seconds between a track's stats), `BENCH_BIG_PEOPLE=1250`, `BENCH_REQUESTS=40` choose
//! the runs (issue 29's store: `BENCH_DAY_ROOMS=10000 BENCH_DAY_PEOPLE=12
//! BENCH_DAY_STAT_EVERY=100`, about 1 000 000 events and 2 000 000 stats);
//! `BENCH_HOST_BIN` runs another build.

// Each bench uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
#[path = "../tests/kit/mod.rs"]
mod kit;

use analytics_host::ingest::grpc::AnalyticsRecorderServiceClient;
use futures::stream;
use kit::process::{HostProcess, BIN};
use kit::servers::matrix::Wire;
use kit::sessions::{a_big_room, a_busy_day_part};
use livekit_protocol::{AnalyticsEvents, AnalyticsStats};
use serde_json::Value;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `VmRSS` and `VmHWM` of `pid`, MiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// How many items every sink holds (stored or already had), and how many any dropped.
async fn held(host: &HostProcess) -> (u64, u64) {
    let health = format!("{}/api/health", host.telemetry());
    let body: Value = reqwest::get(&health).await.unwrap().json().await.unwrap();
    let sinks = body["sinks"].as_array().unwrap();
    let count = |s: &Value, key: &str| s[key].as_u64().unwrap_or(0);
    let held = sinks
        .iter()
        .map(|s| count(s, "stored") + count(s, "duplicates"))
        .min()
        .unwrap_or(0);
    let dropped = sinks.iter().map(|s| count(s, "overflowed")).sum();
    (held, dropped)
}

/// The busy day's shape, made [`DAY_PART`] rooms at a time (whole, a million events take
/// gigabytes: the bench ran two backends side by side out of memory).
struct Day {
    end: i64,
    rooms: usize,
    people: usize,
    every: i64,
}

/// Rooms of the busy day made at once.
const DAY_PART: usize = 500;

impl Day {
    /// Each part's rooms, in order.
    fn parts(&self) -> impl Iterator<Item = kit::sessions::Recorder> + '_ {
        (0..self.rooms).step_by(DAY_PART).map(|first| {
            let part = first..(first + DAY_PART).min(self.rooms);
            a_busy_day_part(self.end, self.rooms, self.people, self.every, part)
        })
    }

    /// Its events and stats.
    fn size(&self) -> (usize, usize) {
        self.parts()
            .fold((0, 0), |(e, s), r| (e + r.events.len(), s + r.stats.len()))
    }
}

/// Sends everything (the day a part at a time, then `RM_big`), 10 000 items at a time
/// (waiting for the sinks to hold each part, so no queue overflows), and returns how long
/// it took.
async fn fill(host: &HostProcess, day: &Day, big: &kit::sessions::Recorder) -> Duration {
    let started = Instant::now();
    let mut client = AnalyticsRecorderServiceClient::connect(host.grpc_url())
        .await
        .unwrap();
    let mut sent = 0u64;
    for part in day.parts() {
        send(host, &mut client, &part, &mut sent).await;
    }
    send(host, &mut client, big, &mut sent).await;
    started.elapsed()
}

/// Sends `r`'s events, then its stats, 10 000 at a time, each part held before the next.
async fn send(
    host: &HostProcess,
    client: &mut AnalyticsRecorderServiceClient<tonic::transport::Channel>,
    r: &kit::sessions::Recorder,
    sent: &mut u64,
) {
    for part in r.events.chunks(10_000) {
        let messages: Vec<_> = part
            .chunks(1000)
            .map(|c| AnalyticsEvents { events: c.to_vec() })
            .collect();
        client.ingest_events(stream::iter(messages)).await.unwrap();
        *sent += part.len() as u64;
        settle(host, *sent).await;
    }
    for part in r.stats.chunks(10_000) {
        let messages: Vec<_> = part
            .chunks(1000)
            .map(|c| AnalyticsStats { stats: c.to_vec() })
            .collect();
        client.ingest_stats(stream::iter(messages)).await.unwrap();
        *sent += part.len() as u64;
        settle(host, *sent).await;
    }
}

/// Waits until every sink holds `sent` items.
async fn settle(host: &HostProcess, sent: u64) {
    loop {
        let (held, dropped) = held(host).await;
        assert_eq!(
            dropped, 0,
            "a queue overflowed: the numbers would not be of this data"
        );
        if held >= sent {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asks `url` `n` times (after two warm-ups): sorted latencies and the answer's size.
async fn ask(url: &str, n: usize) -> (Vec<Duration>, usize) {
    let client = reqwest::Client::new();
    let mut size = 0;
    for _ in 0..2 {
        let answer = client.get(url).send().await.unwrap();
        assert!(answer.status().is_success(), "{url}: {}", answer.status());
        size = answer.bytes().await.unwrap().len();
    }
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let answer = client.get(url).send().await.unwrap();
        let _ = answer.bytes().await.unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    (times, size)
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "embedded,mongo".into());
    let rooms = setting("BENCH_DAY_ROOMS", 5000);
    let room_people = setting("BENCH_DAY_PEOPLE", 4);
    let every = setting("BENCH_DAY_STAT_EVERY", 300) as i64;
    let people = setting("BENCH_BIG_PEOPLE", 1250);
    let n = setting("BENCH_REQUESTS", 40);
    let binary = std::env::var("BENCH_HOST_BIN").unwrap_or_else(|_| BIN.into());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let end = now - now % 3600;
    let day = Day {
        end,
        rooms,
        people: room_people,
        every,
    };
    let big = a_big_room(end - 7200, people, 400);
    let (day_events, day_stats) = day.size();
    println!(
        "data: busy day {} rooms, {day_events} events, {day_stats} stats; RM_big {} events, {} stats; {n} requests per row; host {binary}",
        rooms,
        big.events.len(),
        big.stats.len()
    );
    let from = end - 86_400;
    let questions = [
        (
            "sessions list, busy day, first page (50)",
            format!("rooms?from={from}&to={end}"),
        ),
        (
            "sessions list, busy day, by name",
            format!("rooms?from={from}&to={end}&name=room-7"),
        ),
        (
            "sessions of a person, busy day",
            format!("participants?identity=user-7&from={from}&to={end}"),
        ),
        (
            "sessions list, the day's last hour",
            format!("rooms?from={}&to={end}", end - 3600),
        ),
        (
            "one room of the day, detail",
            "rooms/RM_day_00007".to_string(),
        ),
        ("RM_big detail (10k events)", "rooms/RM_big".to_string()),
        (
            "RM_big quality, 10 s buckets",
            "rooms/RM_big/quality?bucket=10s".to_string(),
        ),
        (
            "RM_big quality, 1 min buckets",
            "rooms/RM_big/quality?bucket=1m".to_string(),
        ),
        ("health", "health".to_string()),
    ];
    println!();
    println!("| backend | question | p50 ms | p95 ms | max ms | answer bytes |");
    println!("|---|---|---:|---:|---:|---:|");
    let mut memory_rows = Vec::new();
    for backend in backends.split(',').map(str::trim).filter(|b| !b.is_empty()) {
        let mongo = match backend {
            "mongo" => Some(Wire::Secantus.start()),
            "ferretdb" => Some(Wire::FerretSqlite.start()),
            "ferretdb-postgresql" => Some(Wire::FerretPostgres.start()),
            _ => None,
        };
        let extra = match &mongo {
            Some(m) => format!("    mongo_url: \"{}\"\n", m.url()),
            None => String::new(),
        };
        let mut host = HostProcess::prepare();
        let config = host.standard_config("", &extra);
        host.start(
            std::process::Command::new(&binary)
                .arg("run")
                .env("LIVEKIT_CONFIG", config),
        );
        host.wait_healthy().await;
        let filled = fill(&host, &day, &big).await;
        let before = memory(host.pid());
        for (name, path) in &questions {
            let url = format!("{}/api/{path}", host.telemetry());
            let (times, size) = ask(&url, n).await;
            let p = |q: f64| {
                times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1]
            };
            println!(
                "| {backend} | {name} | {} | {} | {} | {size} |",
                ms(p(0.5)),
                ms(p(0.95)),
                ms(times[times.len() - 1])
            );
        }
        let after = memory(host.pid());
        memory_rows.push((backend.to_string(), filled, before.0, after.1));
        host.stop();
    }
    println!();
    println!("| backend | time to store everything | host RSS before the questions | host peak RSS after |");
    println!("|---|---:|---:|---:|");
    for (backend, filled, rss, peak) in memory_rows {
        println!(
            "| {backend} | {:.1} s | {rss} MiB | {peak} MiB |",
            filled.as_secs_f64()
        );
    }
}
