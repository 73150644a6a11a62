//! The whole pipeline under load: a real `analytics-host run` process, fed by the
//! `simulate` load generator over its gRPC door at 1k, 10k and 100k items/s offered, for
//! each sink on its own (embedded file store, Redis, MongoDB-wire server). Prints a table:
//! offered and achieved rates, items stored per second, p99 accept-to-stored latency (from
//! the host's own `analytics_sink_item_latency_seconds` histogram), overflow drops, host
//! peak RSS and CPU.
//!
//! `cargo bench -p livekit-analytics-host --bench load`; `BENCH_SINKS=file,redis,mongo`,
//! `BENCH_RATES=1000,10000,100000`, `BENCH_SECONDS=10` choose the runs; `BENCH_HOST_BIN`
//! runs another `analytics-host` binary (to compare builds in one run).

// Each bench uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
#[path = "../tests/kit/mod.rs"]
mod kit;

use analytics_host::simulate::{self, DoorChoice, Limit, SimulateOptions, Summary};
use kit::metrics::sample_or_zero;
use kit::process::{HostProcess, BIN};
use kit::servers::mongo::MongoServer;
use kit::servers::redis::{RedisFlavor, RedisServer};
use kit::{KEY, SECRET};
use std::process::Command;
use std::time::{Duration, Instant};
/// How long stored counts may stand still before a run is called done.
const SETTLE: Duration = Duration::from_secs(5);
/// The longest wait for a backlog to drain after the load stops.
const DRAIN_LIMIT: Duration = Duration::from_secs(90);

/// A sink under test and the servers it needs.
enum Target {
    File,
    Redis(RedisServer),
    Mongo(MongoServer),
}

impl Target {
    fn name(&self) -> &'static str {
        match self {
            Target::File => "file",
            Target::Redis(_) => "redis",
            Target::Mongo(_) => "mongo",
        }
    }

    /// The kinds of items this sink stores, as the simulator names them.
    fn kinds(&self) -> &'static [&'static str] {
        match self {
            Target::Redis(_) => &["event", "stat"],
            Target::File | Target::Mongo(_) => &["event", "stat", "node_rooms"],
        }
    }

    /// The configuration lines that enable this sink alone.
    fn config(&self, dir: &std::path::Path) -> (String, String) {
        let store = dir.join("store").display().to_string();
        match self {
            Target::File => (
                String::new(),
                format!("    file: {{ enabled: true, dir: \"{store}\" }}\n"),
            ),
            Target::Redis(server) => (
                format!("redis:\n  address: 127.0.0.1:{}\n", server.port()),
                "    file: { enabled: false }\n    redis: { enabled: true, mode: plain }\n".into(),
            ),
            Target::Mongo(server) => (
                String::new(),
                format!(
                    "    file: {{ enabled: false }}\n    mongo_url: \"{}\"\n    mongo_database: bench_{}\n",
                    server.url(),
                    fastrand::u32(..)
                ),
            ),
        }
    }
}

/// Starts the host (`BENCH_HOST_BIN`, or this build's) with `target`'s sink alone and waits
/// until it is ready.
async fn start_host(target: &Target) -> HostProcess {
    let mut host = HostProcess::prepare();
    let (top, sink) = target.config(host.dir.path());
    let (webhook, grpc, telemetry) = (host.webhook_port, host.grpc_port, host.telemetry_port);
    let config = format!(
        "{top}keys:\n  {KEY}: {SECRET}\nopenvidu:\n  analytics:\n    interval: 1s\n    node_id: ND_bench\n    queue: {{ overflow: drop_oldest }}\n{sink}    ingest:\n      webhook: {{ listen: \"127.0.0.1:{webhook}\" }}\n      grpc: {{ listen: \"127.0.0.1:{grpc}\" }}\n    telemetry: {{ listen: \"127.0.0.1:{telemetry}\" }}\n"
    );
    let binary = std::env::var_os("BENCH_HOST_BIN").unwrap_or_else(|| BIN.into());
    host.start(
        Command::new(binary)
            .args(["run", "--log-level", "warn"])
            .env("LIVEKIT_CONFIG", config),
    );
    host.wait_ready().await;
    host
}

/// (peak RSS, current RSS) of process `pid` in MiB, from `/proc`.
fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// CPU seconds (user + system) process `pid` used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// The `q` quantile of a histogram, interpolated within its bucket as Prometheus's
/// `histogram_quantile` does.
fn quantile(text: &str, histogram: &str, sink: &str, q: f64) -> f64 {
    let prefix = format!("{histogram}_bucket{{");
    let mut buckets: Vec<(f64, f64)> = text
        .lines()
        .filter(|l| l.starts_with(&prefix) && l.contains(&format!("sink=\"{sink}\"")))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, l.rsplit(' ').next()?.parse().ok()?))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let Some(&(_, total)) = buckets.last() else {
        return f64::NAN;
    };
    let rank = q * total;
    let mut previous = (0.0, 0.0);
    for &(le, count) in &buckets {
        if count >= rank {
            if le.is_infinite() {
                return previous.0;
            }
            let within = (rank - previous.1) / (count - previous.1).max(1.0);
            return previous.0 + (le - previous.0) * within;
        }
        previous = (le, count);
    }
    f64::NAN
}

/// One row of the table.
struct Row {
    sink: &'static str,
    offered: f64,
    summary: Summary,
    accepted: u64,
    stored: f64,
    stored_rate: f64,
    overflowed: f64,
    p50: f64,
    p99: f64,
    peak_rss: f64,
    cores: f64,
}

async fn run(target: &Target, rate: f64, seconds: u64) -> Row {
    let sink = target.name();
    let host = start_host(target).await;
    let cpu_before = cpu_seconds(host.pid());
    let started = Instant::now();
    let options = SimulateOptions {
        webhook_url: host.webhook_url(),
        grpc_url: host.grpc_url(),
        api_key: Some(KEY.into()),
        api_secret: Some(SECRET.into()),
        doors: DoorChoice::Grpc,
        rooms: 50,
        participants: 4,
        tracks: 2,
        rate,
        limit: Limit::Duration(Duration::from_secs(seconds)),
        batch: 500,
        concurrency: 8,
        ..SimulateOptions::default()
    };
    let summary = simulate::run(options).await.expect("simulate");
    // What this sink should store: the accepted items of the kinds it takes.
    let accepted: u64 = summary
        .doors
        .values()
        .flat_map(|door| door.kinds.iter())
        .filter(|(kind, _)| target.kinds().contains(&kind.as_str()))
        .map(|(_, counts)| counts.accepted)
        .sum();
    let series = |name: &str| format!("{name}{{sink=\"{sink}\"}}");
    // Wait until everything accepted is stored or dropped, or the counts stand still.
    let (mut last, mut last_change) = (-1.0, Instant::now());
    let mut done_at = Instant::now();
    let drain_started = Instant::now();
    let text = loop {
        let text = host.metrics().await;
        let settled = sample_or_zero(&text, &series("analytics_sink_stored_total"))
            + sample_or_zero(&text, &series("analytics_sink_duplicates_total"));
        if settled != last {
            last = settled;
            last_change = Instant::now();
            done_at = last_change;
        }
        let dropped = sample_or_zero(&text, &series("analytics_sink_overflowed_total"));
        if settled + dropped >= accepted as f64
            || last_change.elapsed() > SETTLE
            || drain_started.elapsed() > DRAIN_LIMIT
        {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let stored = sample_or_zero(&text, &series("analytics_sink_stored_total"))
        + sample_or_zero(&text, &series("analytics_sink_duplicates_total"));
    let elapsed = done_at.duration_since(started).as_secs_f64();
    let cores = (cpu_seconds(host.pid()) - cpu_before) / elapsed;
    let histogram = "analytics_sink_item_latency_seconds";
    Row {
        sink,
        offered: rate,
        accepted,
        stored,
        stored_rate: stored / elapsed,
        overflowed: sample_or_zero(&text, &series("analytics_sink_overflowed_total")),
        p50: quantile(&text, histogram, sink, 0.5),
        p99: quantile(&text, histogram, sink, 0.99),
        peak_rss: rss_mib(host.pid()).0,
        cores,
        summary,
    }
}

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[tokio::main]
async fn main() {
    let sinks = env_list("BENCH_SINKS", "file,redis,mongo");
    let rates: Vec<f64> = env_list("BENCH_RATES", "1000,10000,100000")
        .iter()
        .map(|r| r.parse().expect("BENCH_RATES: numbers"))
        .collect();
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let mut rows = Vec::new();
    for sink in &sinks {
        let target = match sink.as_str() {
            "file" => Target::File,
            "redis" => Target::Redis(RedisServer::start(RedisFlavor::Plain)),
            "mongo" => Target::Mongo(MongoServer::start()),
            other => panic!("BENCH_SINKS: unknown sink `{other}` (file, redis, mongo)"),
        };
        for &rate in &rates {
            let row = run(&target, rate, seconds).await;
            eprintln!(
                "{} at {:.0}/s: accepted {}, stored {}, p99 {:.3} s",
                row.sink, rate, row.accepted, row.stored, row.p99
            );
            rows.push(row);
        }
    }
    println!(
        "\nWhole pipeline: `analytics-host run` fed over gRPC by `simulate` for {seconds} s per row \
         (50 rooms × 4 participants × 2 tracks, up to 500 records per message), interval 1s, \
         batch_size 1000, queue capacity 100000, max_bytes 256MiB (the defaults), overflow drop_oldest (set: the default is reject)\n"
    );
    println!(
        "| sink | offered items/s | sent items/s | accepted (kinds the sink takes) | stored | stored items/s | dropped (overflow) | p50 accept→stored | p99 accept→stored | host peak RSS | host CPU |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for row in &rows {
        println!(
            "| {} | {:.0} | {:.0} | {} | {:.0} | {:.0} | {:.0} | {:.2} s | {:.2} s | {:.0} MiB | {:.2} cores |",
            row.sink,
            row.offered,
            row.summary.sent_rate,
            row.accepted,
            row.stored,
            row.stored_rate,
            row.overflowed,
            row.p50,
            row.p99,
            row.peak_rss,
            row.cores
        );
    }
}
