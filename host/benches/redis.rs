//! `cargo bench --bench redis`: items/s into Redis through the Redis sink, against a raw
//! pipelined `SET key payload PX ttl` of the same keys and payloads in the same run, on the
//! test servers of `scripts/install-test-deps.sh` (plain Redis, and Redis with RedisJSON +
//! RediSearch for the JSON mode). Prints a Markdown table.
//!
//! The sink is called as its worker calls it: `BATCH` items times its `max_in_flight` per
//! call (cases with 1 and with the default 4 pipelines in flight). The raw baseline sends one
//! pipeline of `BATCH` at a time, as the sink did before `max_in_flight`.
//!
//! `LKA_BENCH_ITEMS` sets the number of items per run (default 20000); each case runs
//! five times and the median is shown. JSON-mode rows also show a raw pipelined
//! `JSON.SET` + `PEXPIRE` of the same payloads, the server-side cost of RedisJSON.

// Each bench uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
#[path = "../tests/kit/mod.rs"]
mod kit;

use analytics_host::config::{LiveKitRedisConfig, RedisMode, RedisSinkConfig};
use analytics_host::model::{Item, SharedItem};
use analytics_host::sinks::redis::{redis_key, RedisSink};
use analytics_host::sinks::Sink;
use kit::items::ts;
use kit::servers::redis::{RedisFlavor, RedisServer};
use livekit_protocol::{AnalyticsEvent, AnalyticsEventType, AnalyticsStat, Room, StreamType};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

const BATCH: usize = 1000;
const ROOMS: usize = 50;
const RUNS: usize = 5;

fn items(n: usize) -> Vec<SharedItem> {
    let now = SystemTime::now();
    let expiration = Duration::from_secs(3600);
    (0..n)
        .map(|i| {
            let room = format!("RM_{:06}", i % ROOMS);
            let stamp = ts(1_700_000_000 + i as i64, (i % 1000) as i32);
            let item = if i % 2 == 0 {
                Item::from_event(
                    AnalyticsEvent {
                        r#type: AnalyticsEventType::ParticipantJoined as i32,
                        room_id: room.clone(),
                        room: Some(Room {
                            sid: room,
                            name: "bench-room".into(),
                            ..Default::default()
                        }),
                        participant_id: format!("PA_{i:08}"),
                        node_id: "ND_bench".into(),
                        timestamp: stamp,
                        ..Default::default()
                    },
                    now,
                    expiration,
                )
            } else {
                Item::from_stat(
                    AnalyticsStat {
                        room_id: room,
                        room_name: "bench-room".into(),
                        participant_id: format!("PA_{i:08}"),
                        track_id: format!("TR_{i:08}"),
                        kind: StreamType::Upstream as i32,
                        node: "ND_bench".into(),
                        time_stamp: stamp,
                        score: 4.2,
                        ..Default::default()
                    },
                    now,
                    expiration,
                )
            };
            Arc::new(item)
        })
        .collect()
}

fn flush(server: &RedisServer) {
    server.cmd(&["FLUSHALL"]);
}

fn check_stored(server: &RedisServer, n: usize) {
    let size = server.cmd(&["DBSIZE"]).as_int().unwrap();
    assert_eq!(size, n as i64, "every item must be stored");
}

async fn through_sink(
    server: &RedisServer,
    mode: RedisMode,
    per_room: bool,
    max_in_flight: usize,
    batch: &[SharedItem],
) -> Duration {
    let config = LiveKitRedisConfig {
        address: format!("127.0.0.1:{}", server.port()),
        ..Default::default()
    };
    let settings = RedisSinkConfig {
        enabled: true,
        mode,
        max_in_flight,
    };
    let mut sink = RedisSink::new(&config, &settings)
        .unwrap()
        .with_pipeline_per_room(per_room);
    sink.initialize().await.unwrap();
    let start = Instant::now();
    for chunk in batch.chunks(BATCH * sink.batches_per_call()) {
        let report = sink.send_batch(chunk).await;
        assert_eq!(report, Default::default());
    }
    start.elapsed()
}

/// Stores `batch` with raw pipelines of `BATCH` items, `queue` adding each key's commands.
async fn raw_pipelined(
    server: &RedisServer,
    batch: &[SharedItem],
    queue: impl Fn(&mut redis::Pipeline, &str, &str),
) -> Duration {
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/", server.port())).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keyed: Vec<(String, String)> = batch.iter().map(|i| (redis_key(i), i.json())).collect();
    let start = Instant::now();
    for chunk in keyed.chunks(BATCH) {
        let mut pipe = redis::pipe();
        for (key, payload) in chunk {
            queue(&mut pipe, key, payload);
        }
        pipe.query_async::<()>(&mut conn).await.unwrap();
    }
    start.elapsed()
}

/// `SET key payload PX ttl` for each item.
async fn raw_set(server: &RedisServer, batch: &[SharedItem]) -> Duration {
    raw_pipelined(server, batch, |pipe, key, payload| {
        pipe.cmd("SET")
            .arg(key)
            .arg(payload)
            .arg("PX")
            .arg(3_600_000)
            .ignore();
    })
    .await
}

/// `JSON.SET key $ payload` and `PEXPIRE key ttl` for each item.
async fn raw_json_set(server: &RedisServer, batch: &[SharedItem]) -> Duration {
    raw_pipelined(server, batch, |pipe, key, payload| {
        pipe.cmd("JSON.SET").arg(key).arg("$").arg(payload).ignore();
        pipe.cmd("PEXPIRE").arg(key).arg(3_600_000).ignore();
    })
    .await
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

struct Row {
    server: &'static str,
    case: String,
    took: Duration,
    raw: Duration,
    raw_json: Option<Duration>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("LKA_BENCH_ITEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let batch = items(n);
    let payload: usize = batch.iter().map(|i| i.json().len()).sum::<usize>() / n;
    let mut rows = Vec::new();
    for (flavor, label) in [
        (RedisFlavor::Plain, "redis 7 (Debian)"),
        (RedisFlavor::WithModules, "redis 8 + RedisJSON/RediSearch"),
    ] {
        let server = RedisServer::start(flavor);
        let mut cases = vec![
            ("plain, 1 in flight", RedisMode::Plain, false, 1),
            ("plain, 4 in flight (default)", RedisMode::Plain, false, 4),
            ("plain, per room, 4 in flight", RedisMode::Plain, true, 4),
        ];
        if flavor == RedisFlavor::WithModules {
            cases.push(("json, 1 in flight", RedisMode::Json, false, 1));
            cases.push(("json, 4 in flight (default)", RedisMode::Json, false, 4));
        }
        let mut raws = Vec::new();
        for _ in 0..RUNS {
            flush(&server);
            raws.push(raw_set(&server, &batch).await);
            check_stored(&server, n);
        }
        let raw = median(raws);
        let mut raw_json = None;
        if flavor == RedisFlavor::WithModules {
            let mut runs = Vec::new();
            for _ in 0..RUNS {
                flush(&server);
                // The indexes of the JSON-mode sink, so that the same work is done.
                through_sink(&server, RedisMode::Json, false, 1, &[]).await;
                runs.push(raw_json_set(&server, &batch).await);
                check_stored(&server, n);
            }
            raw_json = Some(median(runs));
        }
        for (case, mode, per_room, in_flight) in cases {
            let mut runs = Vec::new();
            for _ in 0..RUNS {
                flush(&server);
                runs.push(through_sink(&server, mode, per_room, in_flight, &batch).await);
                check_stored(&server, n);
            }
            rows.push(Row {
                server: label,
                case: case.to_string(),
                took: median(runs),
                raw,
                raw_json: (mode == RedisMode::Json).then_some(raw_json).flatten(),
            });
        }
    }
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "\n{n} items ({payload} bytes of JSON each on average, {ROOMS} rooms), batches of {BATCH}, median of {RUNS} runs\n"
    );
    println!("| server | sink mode | sink items/s | raw pipelined SET items/s | sink / raw SET | raw JSON.SET+PEXPIRE items/s | sink / raw JSON.SET |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
    for row in rows {
        let (json_rate, json_ratio) = match row.raw_json {
            Some(raw_json) => (
                format!("{:.0}", rate(raw_json)),
                format!("{:.2}", raw_json.as_secs_f64() / row.took.as_secs_f64()),
            ),
            None => ("—".into(), "—".into()),
        };
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.2} | {json_rate} | {json_ratio} |",
            row.server,
            row.case,
            rate(row.took),
            rate(row.raw),
            row.raw.as_secs_f64() / row.took.as_secs_f64()
        );
    }
}
