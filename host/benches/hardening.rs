//! The attacks of issue 31 against a real `analytics-host run`, with their numbers:
//!
//! - `amplification`: one (then `BENCH_STREAMS`, 4, at once) `IngestEvents` message of
//!   2 000 000 empty records (`0a00`, 4 MB): the answer and how long it took, the host's RSS
//!   before, at its peak (`VmHWM`) and after, and `/health`'s slowest answer meanwhile
//!   (polled every 20 ms);
//! - `slowloris`: `BENCH_CONNECTIONS` (5 000) connections to the webhook door trickling
//!   header lines, the host under `ulimit -n BENCH_NOFILE` (1 024), for `BENCH_SECONDS` (20):
//!   how many connected, were closed by the host (and how fast), stayed open; the host's
//!   open descriptors at most; meanwhile every 200 ms a `/health`, a signed webhook and a
//!   gRPC message: how many answered, the slowest `/health`, and whether everything
//!   acknowledged was stored.
//!
//! `cargo bench -p livekit-analytics-host --bench hardening`; `BENCH_ATTACK=amplification`
//! or `slowloris` for one; `BENCH_HOST_BIN` runs another `analytics-host` binary (an older
//! build: the "before"). Loopback only.

// Each bench uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
#[path = "../tests/kit/mod.rs"]
mod kit;

use analytics_host::ingest::grpc::AnalyticsRecorderServiceClient;
use futures::stream;
use kit::grpc::{events, send_raw};
use kit::metrics::sample_or_zero;
use kit::process::{HostProcess, BIN};
use kit::webhook::{post_signed, room_started};
use kit::{KEY, SECRET};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A host (`BENCH_HOST_BIN` or this build) on the defaults (file store), its descriptors
/// limited to `nofile` (the soft limit, at most the hard one).
async fn start_host(nofile: u64) -> HostProcess {
    let mut host = HostProcess::prepare();
    let (w, g, t) = (host.webhook_port, host.grpc_port, host.telemetry_port);
    let config = format!(
        "keys:\n  {KEY}: {SECRET}\nopenvidu:\n  analytics:\n    interval: 1s\n    node_id: ND_bench\n    file: {{ enabled: true, dir: \"{}\" }}\n    ingest:\n      webhook: {{ listen: \"127.0.0.1:{w}\" }}\n      grpc: {{ listen: \"127.0.0.1:{g}\" }}\n    telemetry: {{ listen: \"127.0.0.1:{t}\" }}\n",
        host.store().display()
    );
    let binary = std::env::var_os("BENCH_HOST_BIN").unwrap_or_else(|| BIN.into());
    let mut command = Command::new(binary);
    command
        .args(["run", "--log-level", "warn"])
        .env("LIVEKIT_CONFIG", config);
    unsafe {
        command.pre_exec(move || {
            // The soft limit is what `ulimit -n` sets; the hard one stays (raising it past
            // this shell's is not permitted).
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            limit.rlim_cur = nofile.min(limit.rlim_max);
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    host.start(&mut command);
    host.wait_ready().await;
    host
}

/// `VmRSS` and `VmHWM` of `pid`, MB.
fn rss(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Polls `/health` every 20 ms until `stop`: the slowest answer (µs) and the failures
/// (no 200 within 5 s).
fn probe_health(url: String, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<(u64, u64, u64)> {
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        let (mut slowest, mut failed, mut asked) = (0u64, 0u64, 0u64);
        while !stop.load(Ordering::Relaxed) {
            let started = Instant::now();
            let answer =
                tokio::time::timeout(Duration::from_secs(5), client.get(&url).send()).await;
            asked += 1;
            match answer {
                Ok(Ok(r)) if r.status() == 200 => {
                    slowest = slowest.max(started.elapsed().as_micros() as u64)
                }
                _ => failed += 1,
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (slowest, failed, asked)
    })
}

async fn amplification(streams: usize) {
    let host = start_host(65_536).await;
    let (before, _) = rss(host.pid());
    let stop = Arc::new(AtomicBool::new(false));
    let health = probe_health(format!("{}/health", host.telemetry()), stop.clone());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let empty = [0x0a, 0x00].repeat(2_000_000);
    let started = Instant::now();
    let sends: Vec<_> = (0..streams)
        .map(|_| {
            let (url, message) = (host.grpc_url(), empty.clone());
            tokio::spawn(async move { send_raw(&url, "IngestEvents", vec![message]).await })
        })
        .collect();
    let mut answers = Vec::new();
    for send in sends {
        answers.push(match send.await.unwrap() {
            Ok(()) => "OK".to_string(),
            Err(status) => format!("{:?}", status.code()),
        });
    }
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let (slowest, failed, asked) = health.await.unwrap();
    let (after, peak) = rss(host.pid());
    answers.dedup();
    println!(
        "| {streams} × 4 MB of `0a00` | {} | {:.3} s | {before:.0} MB | {peak:.0} MB | {after:.0} MB | {:.1} ms | {failed} of {asked} |",
        answers.join(", "),
        took.as_secs_f64(),
        slowest as f64 / 1000.0,
    );
}

/// A connection trickling a header line every second until `until`; when the host closed
/// it, ms after it connected (0: still open at `until`, `u64::MAX`: never connected).
async fn trickle(addr: SocketAddr, until: Instant) -> u64 {
    let connected =
        tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr)).await;
    let Ok(Ok(mut conn)) = connected else {
        return u64::MAX;
    };
    let started = Instant::now();
    if conn
        .write_all(b"POST /webhook HTTP/1.1\r\nHost: x\r\n")
        .await
        .is_err()
    {
        return started.elapsed().as_millis().max(1) as u64;
    }
    let mut buf = [0u8; 256];
    while Instant::now() < until {
        let read = tokio::time::timeout(Duration::from_secs(1), async {
            tokio::io::AsyncReadExt::read(&mut conn, &mut buf).await
        })
        .await;
        match read {
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed().as_millis().max(1) as u64,
            Ok(Ok(_)) => {}
            Err(_) => {
                if conn.write_all(b"X-a: b\r\n").await.is_err() {
                    return started.elapsed().as_millis().max(1) as u64;
                }
            }
        }
    }
    0
}

/// Open descriptors of `pid`.
fn fds(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64)
}

async fn slowloris(connections: usize, nofile: u64, seconds: u64) {
    // This process holds every attacking connection: its own limit up to the hard one.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
    let host = start_host(nofile).await;
    let pid = host.pid();
    let until = Instant::now() + Duration::from_secs(seconds);
    let webhook = SocketAddr::from(([127, 0, 0, 1], host.webhook_port));
    let attacks: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(trickle(webhook, until)))
        .collect();
    let peak_fds = Arc::new(AtomicU64::new(0));
    let (mut health_ok, mut health_slowest, mut health_failed) = (0u64, 0u64, 0u64);
    let (mut hooks_ok, mut hooks_failed, mut grpc_ok, mut grpc_failed) = (0u64, 0u64, 0u64, 0u64);
    let mut n = 0u32;
    let client = reqwest::Client::new();
    while Instant::now() < until {
        peak_fds.fetch_max(fds(pid), Ordering::Relaxed);
        let started = Instant::now();
        let url = format!("{}/health", host.telemetry());
        match tokio::time::timeout(Duration::from_secs(2), client.get(&url).send()).await {
            Ok(Ok(r)) if r.status() == 200 => {
                health_ok += 1;
                health_slowest = health_slowest.max(started.elapsed().as_micros() as u64);
            }
            _ => health_failed += 1,
        }
        n += 1;
        let webhook_url = host.webhook_url();
        let hook = post_signed(&webhook_url, room_started(n));
        match tokio::time::timeout(Duration::from_secs(2), hook).await {
            Ok(200) => hooks_ok += 1,
            _ => hooks_failed += 1,
        }
        let grpc = async {
            let mut c = AnalyticsRecorderServiceClient::connect(host.grpc_url()).await?;
            c.ingest_events(stream::iter([events(n as usize, 0, 10)]))
                .await
                .map_err(anyhow::Error::from)?;
            anyhow::Ok(())
        };
        match tokio::time::timeout(Duration::from_secs(2), grpc).await {
            Ok(Ok(())) => grpc_ok += 1,
            _ => grpc_failed += 1,
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut closed = Vec::new();
    let (mut open, mut never) = (0, 0);
    for attack in attacks {
        match attack.await.unwrap() {
            0 => open += 1,
            u64::MAX => never += 1,
            ms => closed.push(ms),
        }
    }
    closed.sort_unstable();
    let median = closed.get(closed.len() / 2).copied().unwrap_or(0);
    let expected = hooks_ok + 10 * grpc_ok;
    let mut stored = 0.0;
    for _ in 0..100 {
        let text = kit::metrics::get(&format!("{}/metrics", host.telemetry()))
            .await
            .1;
        stored = sample_or_zero(&text, r#"analytics_sink_stored_total{sink="file"}"#);
        if stored >= expected as f64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "slowloris: {connections} connections under ulimit -n {nofile} for {seconds} s: {} connected, {} closed by the host (median after {median} ms), {open} still open at the end, {never} never connected; host descriptors at most {}",
        connections - never,
        closed.len(),
        peak_fds.load(Ordering::Relaxed)
    );
    println!(
        "meanwhile: /health {health_ok} answered (slowest {:.1} ms), {health_failed} failed; webhooks {hooks_ok} stored-acknowledged, {hooks_failed} failed; gRPC messages {grpc_ok} acknowledged, {grpc_failed} failed; stored {stored} of {expected} acknowledged items",
        health_slowest as f64 / 1000.0
    );
}

#[tokio::main]
async fn main() {
    let attack = std::env::var("BENCH_ATTACK").unwrap_or_default();
    if attack.is_empty() || attack == "amplification" {
        println!("| attack | answer | time | RSS before | RSS peak | RSS after | slowest /health | /health failed |");
        println!("|---|---|---|---|---|---|---|---|");
        amplification(1).await;
        amplification(env_or("BENCH_STREAMS", 4) as usize).await;
    }
    if attack.is_empty() || attack == "slowloris" {
        slowloris(
            env_or("BENCH_CONNECTIONS", 5000) as usize,
            env_or("BENCH_NOFILE", 1024),
            env_or("BENCH_SECONDS", 20),
        )
        .await;
    }
}
