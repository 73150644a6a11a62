//! The floor under the gRPC door's CPU per item: the HTTP/2 server the host runs (tonic, the
//! same generated `livekit.AnalyticsRecorderService`, messages kept as received) that only
//! splits each message into its records and drops them. It is driven the way
//! `scripts/bench-grpc-cpu.sh` drives the host: `analytics-host simulate --doors grpc` as its
//! own process, and this process's CPU read from `/proc` over the load plus 2 s. What it
//! prints is what receiving alone costs on this machine; the host's figure minus it is what
//! turning records into stored documents costs.
//!
//! With `BENCH_FLOOR_BUILD=1` it also builds each record's item as the host's door does
//! (`Item::from_encoded_stat` / `from_encoded_event`, the default format, quality figures
//! off) and drops it: receiving plus building, the floor under everything but the queues and
//! the sinks.
//!
//! `cargo bench -p livekit-analytics-host --bench grpc_floor`; `BENCH_RATE` (100000),
//! `BENCH_SECONDS` (10), `BENCH_ROUNDS` (1); `BENCH_HOST_BIN` for another `simulate` binary.
//! One table row per round.

use analytics_host::ingest::grpc::{
    AnalyticsRecorderService, AnalyticsRecorderServiceServer, WireBatch,
};
use analytics_host::model::{DocumentFormat, Item};
use livekit_protocol::AnalyticsNodeRooms;
use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tonic::{Request, Response, Status, Streaming};

// The host binary's allocator (see main.rs), so receiving and building allocate as there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Counts the records of every message and keeps nothing.
struct Floor {
    records: Arc<AtomicU64>,
    /// Also build each record's item (and drop it), as the door does.
    build: bool,
}

/// The record kinds of the two encoded streams.
#[derive(Clone, Copy)]
enum Records {
    Stats,
    Events,
}

impl Floor {
    async fn drain(
        &self,
        request: Request<Streaming<WireBatch>>,
        kind: Records,
    ) -> Result<Response<()>, Status> {
        let mut stream = request.into_inner();
        let (format, expiration) = (DocumentFormat::Openvidu, Duration::from_secs(86_400));
        while let Some(message) = stream.message().await? {
            let now = SystemTime::now();
            let mut n = 0;
            for record in message.records().filter_map(Result::ok) {
                n += 1;
                if !self.build {
                    continue;
                }
                let item = match kind {
                    Records::Stats => {
                        Item::from_encoded_stat(format, record, "ND_floor", now, expiration, false)
                    }
                    Records::Events => {
                        Item::from_encoded_event(format, record, "ND_floor", now, expiration)
                    }
                };
                drop(std::hint::black_box(item));
            }
            self.records.fetch_add(n, Ordering::Relaxed);
        }
        Ok(Response::new(()))
    }
}

#[tonic::async_trait]
impl AnalyticsRecorderService for Floor {
    async fn ingest_stats(
        &self,
        request: Request<Streaming<WireBatch>>,
    ) -> Result<Response<()>, Status> {
        self.drain(request, Records::Stats).await
    }

    async fn ingest_events(
        &self,
        request: Request<Streaming<WireBatch>>,
    ) -> Result<Response<()>, Status> {
        self.drain(request, Records::Events).await
    }

    async fn ingest_node_room_states(
        &self,
        request: Request<Streaming<AnalyticsNodeRooms>>,
    ) -> Result<Response<()>, Status> {
        let mut stream = request.into_inner();
        while stream.message().await?.is_some() {}
        Ok(Response::new(()))
    }
}

/// This process's CPU seconds (user + system) so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
    // The fields after the command name (which may hold spaces) in parentheses.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let rate = env_or("BENCH_RATE", 100_000);
    let seconds = env_or("BENCH_SECONDS", 10);
    let rounds = env_or("BENCH_ROUNDS", 1);
    let simulate = std::env::var_os("BENCH_HOST_BIN")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_analytics-host").into());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let records = Arc::new(AtomicU64::new(0));
    let grpc_port = free_port();
    let build = std::env::var("BENCH_FLOOR_BUILD").is_ok_and(|v| v == "1");
    let service = AnalyticsRecorderServiceServer::new(Floor {
        records: records.clone(),
        build,
    });
    runtime.spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve(([127, 0, 0, 1], grpc_port).into()),
    );
    let dir = std::env::temp_dir().join(format!("grpc-floor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "keys:\n  benchkey: bench-secret-that-is-at-least-32-characters\nopenvidu:\n  analytics:\n    \
             ingest:\n      webhook: {{ listen: \"127.0.0.1:{}\" }}\n      grpc: {{ listen: \"127.0.0.1:{grpc_port}\" }}\n",
            free_port()
        ),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    println!("| round | records received | floor CPU s | floor CPU µs per item |");
    println!("|---|---:|---:|---:|");
    for round in 1..=rounds {
        let (before_records, before_cpu) = (records.load(Ordering::Relaxed), cpu_seconds());
        let status = Command::new(&simulate)
            .arg("simulate")
            .arg("--config")
            .arg(&config)
            .args([
                "--doors",
                "grpc",
                "--rooms",
                "50",
                "--participants",
                "4",
                "--tracks",
                "2",
            ])
            .args([
                "--rate",
                &rate.to_string(),
                "--duration",
                &format!("{seconds}s"),
            ])
            .args(["--batch", "500", "--log-level", "error"])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run analytics-host simulate");
        assert!(status.success(), "simulate failed: {status}");
        std::thread::sleep(Duration::from_secs(2));
        let received = records.load(Ordering::Relaxed) - before_records;
        let cpu = cpu_seconds() - before_cpu;
        println!(
            "| {round} | {received} | {cpu:.2} | {:.2} |",
            cpu * 1e6 / received.max(1) as f64
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
