//! The on-disk spool with real processes: `kill -9` loses nothing acknowledged, SIGTERM
//! leaves nothing behind but the spool, a failing sink keeps its records (also when a reload
//! removes it), a full spool refuses.
//!
//! The "host process" of the crash and SIGTERM tests is this test binary re-executed with
//! `SPOOL_CHILD` set: the `child_host` test then runs a real `Host` with the spool, accepts
//! items one call at a time and prints `ACKED n` after each `accept` returned (mode
//! `concurrent`: from 64 tasks at once, so their appends share group commits).

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::app::{Host, SinkChanges};
use analytics_host::config::{AnalyticsConfig, FileStoreConfig, SpoolConfig, SpoolFullPolicy};
use analytics_host::model::{ItemKind, SharedItem};
use analytics_host::pipeline::AcceptError;
use analytics_host::sinks::file::FileSink;
use analytics_host::sinks::{BatchReport, Sink, SinkError};
use analytics_host::spool::{encode, SpoolCounters};
use async_trait::async_trait;
use kit::items::{event, settings};
use kit::process::{bin, run_ok, HostProcess};
use kit::store::stored_ids;
use kit::wait_until;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn spool_config(dir: &Path) -> SpoolConfig {
    SpoolConfig {
        dir: dir.to_path_buf(),
        max_bytes: 1 << 30,
        full: SpoolFullPolicy::Reject,
    }
}

fn file_sink(dir: &Path) -> FileSink {
    FileSink::new(&FileStoreConfig {
        enabled: Some(true),
        dir: dir.to_path_buf(),
        max_file_bytes: 1 << 30,
    })
}

/// A file store under another name (the spool keys pending rows by sink name).
struct Named(&'static str, FileSink);

#[async_trait]
impl Sink for Named {
    fn name(&self) -> &str {
        self.0
    }
    fn kinds(&self) -> &[ItemKind] {
        self.1.kinds()
    }
    async fn initialize(&mut self) -> Result<(), SinkError> {
        self.1.initialize().await
    }
    async fn send_batch(&mut self, batch: &[SharedItem]) -> BatchReport {
        self.1.send_batch(batch).await
    }
}

/// Waits until every sink's worker has had its first round, which starts at once (the
/// worker initializes its sink, then sends the backlog it finds): after it, a worker with a
/// long interval sends nothing until `flush_soon` or shutdown.
async fn past_first_round(host: &Host) {
    wait_until(
        "every sink initialized",
        Duration::from_secs(30),
        || async {
            host.counters()
                .values()
                .all(|c| c.initialized.load(std::sync::atomic::Ordering::Relaxed))
        },
    )
    .await;
    // The backlog is read right after `initialized` is set, without yielding.
    tokio::time::sleep(Duration::from_millis(20)).await;
}

/// A host with the file sink in `store` that sends only when told (`flush_soon`), and a
/// spool in `spool_dir` capped at `max_bytes`.
fn small_spool_host(spool_dir: &Path, store: &Path, max_bytes: u64) -> Host {
    let config = AnalyticsConfig {
        interval: Duration::from_secs(3600),
        ..settings()
    };
    let spool_cfg = SpoolConfig {
        max_bytes,
        ..spool_config(spool_dir)
    };
    Host::start_with_spool(vec![Box::new(file_sink(store))], &config, &spool_cfg).unwrap()
}

fn merge(a: BTreeMap<String, usize>, b: BTreeMap<String, usize>) -> BTreeMap<String, usize> {
    let mut all = a;
    for (id, n) in b {
        *all.entry(id).or_default() += n;
    }
    all
}

/// Starts a host on `spool_dir` storing to `store`, waits until the spool is empty, stops it.
async fn drain(spool_dir: &Path, store: &Path) -> u64 {
    let host = Host::start_with_spool(
        vec![Box::new(file_sink(store))],
        &settings(),
        &spool_config(spool_dir),
    )
    .unwrap();
    let spool = host.spool().unwrap().clone();
    let recovered = SpoolCounters::get(&spool.counters.recovered);
    wait_until("an empty spool", Duration::from_secs(20), || async {
        spool.size().records == 0
    })
    .await;
    drop(spool);
    host.shutdown().await;
    recovered
}

/// Concurrent accepting tasks of the `concurrent` child.
const CHILD_TASKS: u32 = 64;

/// The child: a host with the spool accepting `event(n)` for n = 0.. until killed or stopped.
#[test]
fn child_host() {
    let Ok(mode) = std::env::var("SPOOL_CHILD") else {
        return;
    };
    let spool_dir = PathBuf::from(std::env::var("SPOOL_DIR").unwrap());
    let store = PathBuf::from(std::env::var("STORE_DIR").unwrap());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let config = AnalyticsConfig {
            // crash: nothing is sent before the kill; sigterm: the sink stores as it goes.
            interval: if mode != "sigterm" {
                Duration::from_secs(3600)
            } else {
                Duration::from_millis(50)
            },
            ..settings()
        };
        let host = Host::start_with_spool(
            vec![Box::new(file_sink(&store))],
            &config,
            &spool_config(&spool_dir),
        )
        .unwrap();
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
        // Past the workers' first (immediate) round: in crash mode nothing is sent at all.
        past_first_round(&host).await;
        let pipeline = host.pipeline.clone();
        if mode == "concurrent" {
            // 64 tasks, task t accepting event(t), event(t + 64), … one item per call.
            for t in 0..CHILD_TASKS {
                let pipeline = pipeline.clone();
                tokio::spawn(async move {
                    for n in (t..1_000_000u32).step_by(CHILD_TASKS as usize) {
                        if pipeline.accept_async(vec![event(n)]).await.is_err() {
                            break;
                        }
                        println!("ACKED {n}");
                    }
                });
            }
            term.recv().await;
            return;
        }
        let accepting = tokio::task::spawn_blocking(move || {
            let mut out = std::io::stdout().lock();
            for n in 0..1_000_000u32 {
                if pipeline.accept(vec![event(n)]).is_err() {
                    break;
                }
                writeln!(out, "ACKED {n}").unwrap();
                out.flush().unwrap();
            }
        });
        term.recv().await;
        let summaries = host.shutdown().await;
        accepting.await.unwrap();
        let left: usize = summaries.iter().map(|s| s.left_queued).sum();
        println!("STOPPED left={left}");
    });
}

fn spawn_child(mode: &str, spool_dir: &Path, store: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["child_host", "--exact", "--nocapture", "--test-threads=1"])
        .env("SPOOL_CHILD", mode)
        .env("SPOOL_DIR", spool_dir)
        .env("STORE_DIR", store)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The number in an `ACKED n` line (the test harness may print `test child_host ... ` before
/// the first one, on the same line).
fn ack(line: &str) -> Option<u32> {
    let at = line.find("ACKED ")?;
    Some(line[at + 6..].trim().parse().unwrap())
}

/// Reads the child's stdout until `want` acks were seen; returns the acked numbers and the reader.
fn read_acks(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    want: usize,
) -> BTreeSet<u32> {
    let mut acked = BTreeSet::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(n) = ack(&line) {
            acked.insert(n);
            if acked.len() >= want {
                break;
            }
        }
    }
    acked
}

/// Starts the child in `mode`, SIGKILLs it once `at_least` accepts were acknowledged, then
/// restarts from its spool and checks: every acknowledged event stored exactly once, and at
/// most `in_flight` more (accepts written but not yet acknowledged at the kill).
async fn kill_9_then_recover(mode: &str, at_least: usize, in_flight: usize) {
    let spool_dir = tempfile::tempdir().unwrap();
    let first_store = tempfile::tempdir().unwrap();
    let mut child = spawn_child(mode, spool_dir.path(), first_store.path());
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut acked = read_acks(&mut lines, at_least);
    // SIGKILL while the child is still accepting.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    // Acks already in the pipe were acknowledged before the kill too.
    acked.extend(read_acks(&mut lines, usize::MAX));
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed: {status:?}");
    assert!(acked.len() >= at_least);
    assert!(
        stored_ids(first_store.path(), "events").is_empty(),
        "nothing was sent before the kill"
    );

    let store = tempfile::tempdir().unwrap();
    let recovered = drain(spool_dir.path(), store.path()).await;
    let stored = stored_ids(store.path(), "events");
    for n in &acked {
        let id = event(*n).id;
        assert_eq!(stored.get(&id), Some(&1), "acked event {n} stored once");
    }
    assert!(
        stored.len() <= acked.len() + in_flight,
        "{} stored, {} acked",
        stored.len(),
        acked.len()
    );
    assert!(stored.values().all(|&n| n == 1));
    assert_eq!(recovered as usize, stored.len());
    eprintln!(
        "kill -9 ({mode}): {} acked, {recovered} recovered and stored once",
        acked.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_nothing_acknowledged() {
    // One accept at a time: at most that one is in flight at the kill.
    kill_9_then_recover("crash", 300, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_concurrent_one_item_accepts_loses_nothing_acknowledged() {
    // At most one accept in flight per task at the kill.
    kill_9_then_recover("concurrent", 1500, CHILD_TASKS as usize).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_one_item_accepts_share_commits() {
    const TASKS: u32 = 64;
    const EACH: u32 = 50;
    let spool_dir = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let config = AnalyticsConfig {
        interval: Duration::from_secs(3600),
        ..settings()
    };
    let host = Host::start_with_spool(
        vec![Box::new(file_sink(store.path()))],
        &config,
        &spool_config(spool_dir.path()),
    )
    .unwrap();
    let spool = host.spool().unwrap().clone();
    // Past the worker's first (immediate) round: with a 1 h interval nothing is sent after.
    past_first_round(&host).await;
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let pipeline = host.pipeline.clone();
            tokio::spawn(async move {
                for k in 0..EACH {
                    let n = t * EACH + k;
                    assert_eq!(pipeline.accept_async(vec![event(n)]).await, Ok(1));
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let total = u64::from(TASKS * EACH);
    let counters = &spool.counters;
    assert_eq!(SpoolCounters::get(&counters.written), total);
    assert_eq!(spool.size().records, total);
    assert_eq!(spool.pending_for("file").unwrap().len() as u64, total);
    assert_eq!(host.pipeline.queued() as u64, total);
    let durable = SpoolCounters::get(&counters.durable_commits);
    assert!(
        durable < total / 2,
        "{durable} fsyncs for {total} concurrent one-item accepts"
    );
    eprintln!("{total} concurrent one-item accepts: {durable} durable commits");
    drop(spool);
    host.shutdown().await;
    let stored = stored_ids(store.path(), "events");
    assert_eq!(stored.len() as u64, total);
    assert!(stored.values().all(|&n| n == 1));
    // Stored by the final flush and settled: a restart finds nothing pending.
    assert_eq!(drain(spool_dir.path(), store.path()).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_overflows_is_refused_alone_among_concurrent_ones() {
    let spool_dir = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let one = encode(&event(10)).len() as u64;
    let host = small_spool_host(spool_dir.path(), store.path(), one * 10 + one / 2);
    let spool = host.spool().unwrap().clone();
    // Past the worker's first (immediate) round: nothing is sent until `flush_soon`.
    past_first_round(&host).await;
    for round in 0..5u32 {
        let base = 100 + round * 100;
        let big = {
            let pipeline = host.pipeline.clone();
            tokio::spawn(async move {
                pipeline
                    .accept_async((base..base + 20).map(event).collect())
                    .await
            })
        };
        let small: Vec<_> = (0..8)
            .map(|k| {
                let pipeline = host.pipeline.clone();
                tokio::spawn(async move { pipeline.accept_async(vec![event(base + 50 + k)]).await })
            })
            .collect();
        assert_eq!(big.await.unwrap(), Err(AcceptError::SpoolFull));
        for task in small {
            assert_eq!(task.await.unwrap(), Ok(1), "round {round}");
        }
        assert_eq!(spool.size().records, 8);
        assert_eq!(
            SpoolCounters::get(&spool.counters.rejected_full),
            u64::from(20 * (round + 1))
        );
        // Let the sink store them, so the next round starts empty.
        host.pipeline.flush_soon();
        wait_until("an empty spool", Duration::from_secs(10), || async {
            spool.size().records == 0
        })
        .await;
    }
    eprintln!(
        "overflow rounds: {} commits for 45 requests",
        SpoolCounters::get(&spool.counters.commits)
    );
    drop(spool);
    host.shutdown().await;
    assert_eq!(stored_ids(store.path(), "events").len(), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_flushes_or_keeps_everything_accepted() {
    let spool_dir = tempfile::tempdir().unwrap();
    let first_store = tempfile::tempdir().unwrap();
    let mut child = spawn_child("sigterm", spool_dir.path(), first_store.path());
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut acked = read_acks(&mut lines, 500);
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let mut stopped = None;
    for line in lines {
        let line = line.unwrap();
        if let Some(n) = ack(&line) {
            acked.insert(n);
        } else if let Some(left) = line.strip_prefix("STOPPED left=") {
            stopped = Some(left.parse::<usize>().unwrap());
        }
    }
    assert!(child.wait().unwrap().success());
    let left = stopped.expect("the child reported its shutdown");

    let store = tempfile::tempdir().unwrap();
    let recovered = drain(spool_dir.path(), store.path()).await;
    // An accept racing the close may land after the final flush: kept in the spool too.
    assert!(
        recovered as usize >= left,
        "what was not flushed was kept in the spool"
    );
    let stored = merge(
        stored_ids(first_store.path(), "events"),
        stored_ids(store.path(), "events"),
    );
    for n in &acked {
        assert_eq!(
            stored.get(&event(*n).id),
            Some(&1),
            "acked event {n} stored once"
        );
    }
    let extra: Vec<u32> = (0..5000)
        .filter(|n| !acked.contains(n) && stored.contains_key(&event(*n).id))
        .collect();
    assert_eq!(
        stored.len(),
        acked.len(),
        "accepted = acked after a clean stop; not acked but stored: {extra:?}; acked {:?}..{:?}",
        acked.first(),
        acked.last()
    );
    eprintln!(
        "SIGTERM: {} acked, {} flushed at shutdown or before, {} kept in the spool",
        acked.len(),
        acked.len() - left,
        left
    );
}

#[tokio::test]
async fn shutdown_with_a_failing_sink_keeps_items_for_the_next_start() {
    let spool_dir = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let blocked = dir.path().join("store");
    std::fs::write(&blocked, "a file where the directory should be").unwrap();
    let config = AnalyticsConfig {
        shutdown_timeout: Duration::from_secs(1),
        ..settings()
    };
    let host = Host::start_with_spool(
        vec![Box::new(file_sink(&blocked))],
        &config,
        &spool_config(spool_dir.path()),
    )
    .unwrap();
    host.pipeline.accept((0..20).map(event).collect()).unwrap();
    let spool = host.spool().unwrap().clone();
    let summaries = host.shutdown().await;
    assert_eq!(summaries[0].left_queued, 20);
    assert_eq!(spool.size().records, 20);
    drop(spool);

    std::fs::remove_file(&blocked).unwrap();
    assert_eq!(drain(spool_dir.path(), &blocked).await, 20);
    let stored = stored_ids(&blocked, "events");
    assert_eq!(stored.len(), 20);
    assert!(stored.values().all(|&n| n == 1));
    // Nothing left: a third start finds the spool empty.
    assert_eq!(drain(spool_dir.path(), &blocked).await, 0);
}

#[tokio::test]
async fn a_record_stays_until_every_sink_has_it() {
    let spool_dir = tempfile::tempdir().unwrap();
    let good = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let blocked = dir.path().join("store");
    std::fs::write(&blocked, "not a directory").unwrap();
    let sinks = || -> Vec<Box<dyn Sink>> {
        vec![
            Box::new(Named("good", file_sink(good.path()))),
            Box::new(Named("late", file_sink(&blocked))),
        ]
    };
    let config = AnalyticsConfig {
        shutdown_timeout: Duration::from_secs(1),
        ..settings()
    };
    let host = Host::start_with_spool(sinks(), &config, &spool_config(spool_dir.path())).unwrap();
    host.pipeline.accept((0..10).map(event).collect()).unwrap();
    wait_until(
        "10 items stored by `good`",
        Duration::from_secs(10),
        || async { host.counters()["good"].snapshot().stored == 10 },
    )
    .await;
    let spool = host.spool().unwrap().clone();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(spool.size().records, 10);
    assert!(spool.pending_for("good").unwrap().is_empty());
    assert_eq!(spool.pending_for("late").unwrap().len(), 10);
    drop(spool);
    host.shutdown().await;

    // Restarted with the second sink fixed: it gets the items, the first is not sent them again.
    std::fs::remove_file(&blocked).unwrap();
    let host = Host::start_with_spool(sinks(), &config, &spool_config(spool_dir.path())).unwrap();
    let spool = host.spool().unwrap().clone();
    wait_until("an empty spool", Duration::from_secs(10), || async {
        spool.size().records == 0
    })
    .await;
    assert_eq!(host.counters()["good"].snapshot().stored, 0);
    assert_eq!(host.counters()["late"].snapshot().stored, 10);
    drop(spool);
    host.shutdown().await;
    for dir in [good.path(), blocked.as_path()] {
        let stored = stored_ids(dir, "events");
        assert_eq!(stored.len(), 10, "{dir:?}");
        assert!(stored.values().all(|&n| n == 1), "{dir:?}");
    }
}

#[tokio::test]
async fn a_reload_leaves_a_removed_sinks_backlog_in_the_spool_and_an_added_sink_gets_new_items() {
    let spool_dir = tempfile::tempdir().unwrap();
    let (good, added) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let blocked = dir.path().join("store");
    std::fs::write(&blocked, "not a directory").unwrap();
    let config = AnalyticsConfig {
        shutdown_timeout: Duration::from_millis(500),
        ..settings()
    };
    let first: Vec<Box<dyn Sink>> = vec![
        Box::new(Named("good", file_sink(good.path()))),
        Box::new(Named("late", file_sink(&blocked))),
    ];
    let mut host = Host::start_with_spool(first, &config, &spool_config(spool_dir.path())).unwrap();
    host.pipeline.accept((0..10).map(event).collect()).unwrap();
    wait_until(
        "10 items stored by `good`",
        Duration::from_secs(10),
        || async { host.counters()["good"].snapshot().stored == 10 },
    )
    .await;

    // The reload: `late` (still failing) goes, `added` comes.
    let changes = SinkChanges {
        added: vec![Box::new(Named("added", file_sink(added.path())))],
        removed: vec!["late".into()],
        ..SinkChanges::default()
    };
    let summaries = host.reconfigure(changes, &config).await;
    assert_eq!(summaries.len(), 1);
    assert_eq!(
        (summaries[0].sink.as_str(), summaries[0].left_queued),
        ("late", 10)
    );
    assert_eq!(host.sink_names(), ["good", "added"]);
    host.pipeline.accept((10..15).map(event).collect()).unwrap();
    let spool = host.spool().unwrap().clone();
    wait_until(
        "the new items stored by both",
        Duration::from_secs(10),
        || async {
            let c = host.counters();
            c["good"].snapshot().stored == 15 && c["added"].snapshot().stored == 5
        },
    )
    .await;
    wait_until(
        "records only `late` misses",
        Duration::from_secs(10),
        || async { spool.size().records == 10 },
    )
    .await;
    assert_eq!(
        spool.pending_for("late").unwrap(),
        (0..10).collect::<Vec<u64>>()
    );
    drop(spool);
    host.shutdown().await;
    assert_eq!(
        stored_ids(added.path(), "events").len(),
        5,
        "only what came after"
    );

    // Back in the configuration at the next start, fixed: it gets exactly its backlog.
    std::fs::remove_file(&blocked).unwrap();
    let all: Vec<Box<dyn Sink>> = vec![
        Box::new(Named("good", file_sink(good.path()))),
        Box::new(Named("late", file_sink(&blocked))),
        Box::new(Named("added", file_sink(added.path()))),
    ];
    let host = Host::start_with_spool(all, &config, &spool_config(spool_dir.path())).unwrap();
    let spool = host.spool().unwrap().clone();
    wait_until("an empty spool", Duration::from_secs(10), || async {
        spool.size().records == 0
    })
    .await;
    let counts = host.counters();
    assert_eq!(counts["late"].snapshot().stored, 10);
    assert_eq!(
        counts["good"].snapshot().stored + counts["added"].snapshot().stored,
        0
    );
    drop(spool);
    host.shutdown().await;
    assert_eq!(stored_ids(&blocked, "events").len(), 10);
}

#[tokio::test]
async fn a_full_spool_rejects_and_counts() {
    let spool_dir = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let one = encode(&event(0)).len() as u64;
    let host = small_spool_host(spool_dir.path(), store.path(), one * 3 + one / 2);
    for n in 0..3 {
        assert_eq!(host.pipeline.accept(vec![event(n)]), Ok(1));
    }
    assert_eq!(
        host.pipeline.accept(vec![event(3), event(4)]),
        Err(AcceptError::SpoolFull)
    );
    assert_eq!(
        host.pipeline.accept(vec![event(5)]),
        Err(AcceptError::SpoolFull)
    );
    let spool = host.spool().unwrap().clone();
    assert_eq!(SpoolCounters::get(&spool.counters.rejected_full), 3);
    assert_eq!(spool.size().records, 3);
    assert_eq!(
        host.pipeline.queued(),
        3,
        "refused items are not queued either"
    );
    // Once stored, the room is back.
    host.pipeline.flush_soon();
    wait_until("an empty spool", Duration::from_secs(10), || async {
        spool.size().records == 0
    })
    .await;
    assert_eq!(host.pipeline.accept(vec![event(3)]), Ok(1));
    drop(spool);
    host.shutdown().await;
    assert_eq!(stored_ids(store.path(), "events").len(), 4);
}

#[test]
fn the_binary_opens_the_spool_from_its_config_and_stops_on_sigterm() {
    let mut host = HostProcess::prepare();
    let (store, spool_dir) = (host.dir.path().join("store"), host.dir.path().join("spool"));
    for dir in [&store, &spool_dir] {
        std::fs::create_dir(dir).unwrap();
    }
    let yaml = format!(
        "openvidu:\n  analytics:\n    file: {{dir: '{}'}}\n    spool: {{dir: '{}', max_bytes: 1000000, full: drop_oldest}}\n",
        store.display(),
        spool_dir.display()
    );
    let text = run_ok(bin().arg("check-config").env("LIVEKIT_CONFIG", &yaml));
    assert!(
        text.contains("spool:") && text.contains("drop_oldest"),
        "{text}"
    );

    // No subcommand: `run` is the default.
    host.start(bin().env("LIVEKIT_CONFIG", &yaml));
    let file = spool_dir.join(analytics_host::spool::FILE_NAME);
    let started = std::time::Instant::now();
    while !file.exists() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(file.exists(), "the spool file is created at start");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(host.stop(), Some(0), "{}", host.log_text());
}

#[tokio::test]
async fn the_binary_starts_on_a_fresh_spool_when_the_file_is_damaged_and_says_so() {
    let spool_dir = tempfile::tempdir().unwrap();
    let file = spool_dir.path().join(analytics_host::spool::FILE_NAME);
    // Not a database at all: what a partial copy or a failing disk can leave.
    std::fs::write(&file, vec![0xAB; 64 * 1024]).unwrap();
    let mut host = HostProcess::spawn(&format!(
        "    spool: {{dir: '{}'}}\n",
        spool_dir.path().display()
    ));
    host.wait_ready().await;
    let (_, ready) = host.ready().await;
    let damaged = ready["spool_damaged"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        damaged.contains("spool.redb.damaged-"),
        "{ready}\n{}",
        host.log_text()
    );
    let metrics = host.metrics().await;
    assert_eq!(
        kit::metrics::sample(&metrics, "analytics_spool_damaged_at_start"),
        Some(1.0),
        "{metrics}"
    );
    let log = host.log_text();
    let lines = log
        .lines()
        .filter(|l| l.contains("the spool file is damaged"));
    assert_eq!(lines.count(), 1, "{log}");
    let moved: Vec<_> = std::fs::read_dir(spool_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("spool.redb.damaged-"))
        .collect();
    assert_eq!(moved.len(), 1, "the damaged file is kept aside");
    // The fresh spool takes items.
    assert_eq!(host.post_signed(kit::webhook::room_started(1)).await, 200);
    assert_eq!(host.stop(), Some(0), "{}", host.log_text());
}
