//! Fault matrix rows 1 and 2: a database killed (SIGKILL) while `analytics-host simulate`
//! load runs through both doors of a real `analytics-host run`, and restarted later. The
//! host keeps accepting, keeps the items queued and retries them; once the database is back,
//! it holds exactly the summary's `expected_documents`, and so does the file store, which
//! kept storing all along. No spool: the queues alone carry the outage.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::simulate::{self, SimulateOptions, Summary};
use bson::{doc, Document};
use kit::metrics::sample_or_zero;
use kit::process::HostProcess;
use kit::servers::mongo::MongoServer;
use kit::servers::process::ServerProcess;
use kit::servers::redis::{RedisFlavor, RedisServer};
use kit::store::read_store;
use serde_json::Value;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tokio::task::block_in_place;

/// Queues far larger than any backlog here, so nothing overflows.
const QUEUE: &str = "    queue: { capacity: 500000, overflow: drop_oldest }";

fn options(host: &HostProcess, rate: f64, duration: Duration) -> SimulateOptions {
    SimulateOptions {
        node_id: "ND_fault".into(),
        ..host.simulate_options(rate, duration)
    }
}

fn stored(text: &str, sink: &str) -> f64 {
    sample_or_zero(
        text,
        &format!(r#"analytics_sink_stored_total{{sink="{sink}"}}"#),
    )
}

/// Items in `sink`'s queues, over every kind.
fn queued(text: &str, sink: &str) -> f64 {
    ["events", "stats", "node_rooms", "node_stats"]
        .iter()
        .map(|kind| {
            sample_or_zero(
                text,
                &format!(r#"analytics_sink_queue_depth{{sink="{sink}",kind="{kind}"}}"#),
            )
        })
        .sum()
}

/// The `sinks` entry of `name` in a `/ready` body.
fn sink_status<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["sinks"]
        .as_array()
        .and_then(|sinks| sinks.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no sink {name} in {body}"))
}

fn expected(summary: &Summary, collection: &str) -> u64 {
    summary
        .expected_documents
        .get(collection)
        .copied()
        .unwrap_or(0)
}

/// The file store holds exactly what `summary` expects, every `_id` once.
fn assert_file_store_exact(host: &HostProcess, summary: &Summary) {
    for collection in ["events", "stats", "node_rooms", "node_stats"] {
        let docs = read_store(&host.store(), collection);
        let ids: HashSet<&str> = docs.iter().filter_map(|d| d["_id"].as_str()).collect();
        assert_eq!(
            ids.len(),
            docs.len(),
            "file store, {collection}: duplicate _ids"
        );
        assert_eq!(
            docs.len() as u64,
            expected(summary, collection),
            "file store, {collection}: stored vs expected\n{}",
            summary.table()
        );
    }
}

/// What the host did during the outage, sampled by [`watch_outage`].
#[derive(Debug, Default)]
struct Outage {
    /// The file sink's stored count when the database was killed and just before the restart.
    file_stored_at_kill: f64,
    file_stored_before_restart: f64,
    /// The database sink's stored count at the same two moments.
    db_stored_at_kill: f64,
    db_stored_before_restart: f64,
    /// Items queued for the database sink just before the restart.
    backlog_at_restart: f64,
    /// `/ready` showed the database sink `failing` at least once.
    seen_failing: bool,
    /// Every `/ready` during the outage answered 200 with nothing degraded.
    always_ready: bool,
    /// How long after the restart the sink's queue was back under 100 items.
    drained_after: Option<Duration>,
}

/// Samples `/ready` every half second for `down`, recording what the `sink` looks like.
async fn watch_outage(host: &HostProcess, sink: &str, down: Duration, outage: &mut Outage) {
    let until = Instant::now() + down;
    outage.always_ready = true;
    while Instant::now() < until {
        let (status, body) = host.ready().await;
        let status_of = sink_status(&body, sink);
        outage.seen_failing |= status_of["failing"] == true;
        outage.always_ready &= status == 200
            && body["degraded"].as_array().is_some_and(|d| d.is_empty())
            && status_of["initialized"] == true;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// After a restart: polls `/metrics` until `sink`'s queue is under 100 items (the backlog
/// is drained; with the load still running, a round's worth keeps arriving).
async fn wait_drained(host: &HostProcess, sink: &str, restarted: Instant, timeout: Duration) {
    loop {
        let text = host.metrics().await;
        if queued(&text, sink) < 100.0 {
            return;
        }
        assert!(
            restarted.elapsed() < timeout,
            "{sink} backlog not drained {timeout:?} after the restart:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The failure warnings of `sink` in the host's log.
fn failure_warnings(host: &HostProcess, sink: &str) -> Vec<Value> {
    host.log_lines("sink failed; items stay queued")
        .into_iter()
        .filter(|l| l["fields"]["sink"] == sink)
        .collect()
}

/// Checks `/metrics` at the end: nothing overflowed, rejected or still queued in `sink` or the
/// file sink; `sink` retried, the file sink never did.
fn assert_drained_after_retries(text: &str, sink: &str) {
    for s in [sink, "file"] {
        for counter in ["overflowed", "rejected"] {
            assert_eq!(
                sample_or_zero(
                    text,
                    &format!(r#"analytics_sink_{counter}_total{{sink="{s}"}}"#)
                ),
                0.0,
                "{s} {counter}:\n{text}"
            );
        }
        assert_eq!(queued(text, s), 0.0, "{s} still queues items:\n{text}");
    }
    assert!(
        sample_or_zero(
            text,
            &format!(r#"analytics_sink_retried_total{{sink="{sink}"}}"#)
        ) > 0.0,
        "{sink} never retried:\n{text}"
    );
    assert_eq!(
        sample_or_zero(text, r#"analytics_sink_retried_total{sink="file"}"#),
        0.0,
        "{text}"
    );
}

/// Checks `/metrics` at the end: [`assert_drained_after_retries`], and the database sink
/// stored (or found as already stored) every accepted item, as did the file sink.
fn assert_final_metrics(text: &str, sink: &str, total: u64) {
    assert_drained_after_retries(text, sink);
    let settled = stored(text, sink)
        + sample_or_zero(
            text,
            &format!(r#"analytics_sink_duplicates_total{{sink="{sink}"}}"#),
        );
    assert_eq!(settled, total as f64, "{sink} stored + duplicates:\n{text}");
    assert_eq!(stored(text, "file"), total as f64, "file stored:\n{text}");
}

async fn mongo_counts(db: &mongodb::Database) -> [u64; 4] {
    let mut counts = [0; 4];
    for (i, collection) in ["events", "stats", "node_rooms", "node_stats"]
        .iter()
        .enumerate()
    {
        counts[i] = db
            .collection::<Document>(collection)
            .count_documents(doc! {})
            .await
            .unwrap_or(0);
    }
    counts
}

/// Prints what one outage run measured (for the numbers in docs/operations.md).
#[allow(clippy::too_many_arguments)]
fn report(
    sink: &str,
    host: &HostProcess,
    summary: &Summary,
    outage: &Outage,
    timing: &Timing,
    settled_after: Duration,
    text: &str,
    test_started: Instant,
) {
    let series = |name: &str| sample_or_zero(text, &format!("{name}{{sink=\"{sink}\"}}"));
    eprintln!(
        "{sink} under load: {} items accepted ({:.0}/s) in {:.1?}; {sink} down {:.1?}; \
         backlog at restart {}; drained {:.1?} after the restart; all stored {:.1?} after it; \
         stored {} + duplicates {}; retried {}; failed batches {}; file stored {} → {} while \
         down; {} failure warnings; test {:.1?}\n{}",
        summary.accepted(),
        summary.achieved_rate,
        timing.sim_done,
        timing.down_for,
        outage.backlog_at_restart,
        outage.drained_after.unwrap(),
        settled_after,
        stored(text, sink),
        series("analytics_sink_duplicates_total"),
        series("analytics_sink_retried_total"),
        series("analytics_sink_failed_batches_total"),
        outage.file_stored_at_kill,
        outage.file_stored_before_restart,
        failure_warnings(host, sink).len(),
        test_started.elapsed(),
        summary.table(),
    );
}

/// When the outage of [`load_through_outage`] happened.
struct Timing {
    restarted: Instant,
    down_for: Duration,
    sim_done: Duration,
}

/// Runs the simulation against `host` at `rate` for `run`; kills `server` (SIGKILL) at
/// `kill_at`, restarts it `down` later, waits (at most `drain_limit` seconds) until the
/// backlog of `sink` drained, and checks that the simulator had every item accepted.
#[allow(clippy::too_many_arguments)]
async fn load_through_outage(
    host: &HostProcess,
    sink: &str,
    server: &mut ServerProcess,
    rate: f64,
    run: Duration,
    kill_at: Duration,
    down: Duration,
    drain_limit: u64,
) -> (Summary, Outage, Timing) {
    let started = Instant::now();
    let run = tokio::spawn(simulate::run(options(host, rate, run)));
    let mut outage = Outage::default();

    tokio::time::sleep(kill_at).await;
    block_in_place(|| server.kill());
    let killed = Instant::now();
    let text = host.metrics().await;
    outage.file_stored_at_kill = stored(&text, "file");
    outage.db_stored_at_kill = stored(&text, sink);

    watch_outage(
        host,
        sink,
        down.saturating_sub(killed.elapsed()),
        &mut outage,
    )
    .await;
    let text = host.metrics().await;
    outage.file_stored_before_restart = stored(&text, "file");
    outage.db_stored_before_restart = stored(&text, sink);
    outage.backlog_at_restart = queued(&text, sink);
    block_in_place(|| server.restart());
    let restarted = Instant::now();
    let down_for = restarted - killed;
    wait_drained(host, sink, restarted, Duration::from_secs(drain_limit)).await;
    outage.drained_after = Some(restarted.elapsed());

    let summary = run.await.unwrap().expect("the simulation runs");
    let sim_done = started.elapsed();
    assert_eq!(
        summary.refused() + summary.transport_errors(),
        0,
        "{}",
        summary.table()
    );
    assert_eq!(summary.accepted(), summary.sent(), "{}", summary.table());
    let total: u64 = summary.expected_documents.values().sum();
    assert_eq!(total, summary.accepted(), "every item has its own id");
    let timing = Timing {
        restarted,
        down_for,
        sim_done,
    };
    (summary, outage, timing)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mongodb_killed_for_30_seconds_under_load_loses_nothing() {
    const RATE: f64 = 300.0;
    const RUN: Duration = Duration::from_secs(45);
    const KILL_AT: Duration = Duration::from_secs(5);
    const DOWN: Duration = Duration::from_secs(30);

    let test_started = Instant::now();
    // The exact count after a SIGKILL relies on the sink's journaled writes (`j: true`): with
    // `{w: 1}` alone, MongoDB acknowledges inserts its journal does not have yet, and this
    // test lost some of them in two runs of four.
    let mut mongo = MongoServer::start();
    // Give up on an unreachable server after 1 s (default 5 s) so rounds fail fast.
    let url = format!("{}&serverSelectionTimeoutMS=1000", mongo.url());
    let mut host = HostProcess::spawn(&format!("    mongo_url: \"{url}\"\n{QUEUE}"));
    host.wait_ready().await;
    let client = mongodb::Client::with_uri_str(&url).await.unwrap();
    let db = client.database("openvidu");

    let (summary, outage, timing) =
        load_through_outage(&host, "mongo", &mut mongo, RATE, RUN, KILL_AT, DOWN, 120).await;
    let restarted = timing.restarted;
    let total = summary.accepted();

    // Wait (bounded) until MongoDB holds everything, then one more second: nothing more.
    let want = [
        expected(&summary, "events"),
        expected(&summary, "stats"),
        expected(&summary, "node_rooms"),
        expected(&summary, "node_stats"),
    ];
    let waited = Instant::now();
    while mongo_counts(&db).await != want && waited.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let settled_after = restarted.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let counts = mongo_counts(&db).await;
    let text = host.metrics().await;
    report(
        "mongo",
        &host,
        &summary,
        &outage,
        &timing,
        settled_after,
        &text,
        test_started,
    );
    for (i, collection) in ["events", "stats", "node_rooms", "node_stats"]
        .iter()
        .enumerate()
    {
        assert_eq!(
            counts[i],
            want[i],
            "mongodb, {collection}: stored vs expected ({outage:?})\n{}\n{text}",
            summary.table()
        );
    }
    assert_file_store_exact(&host, &summary);
    assert_final_metrics(&text, "mongo", total);

    // While MongoDB was down: the file sink kept storing, MongoDB's sink stored nothing.
    assert!(
        outage.file_stored_before_restart > outage.file_stored_at_kill + RATE * 10.0,
        "{outage:?}"
    );
    assert!(
        outage.db_stored_before_restart <= outage.db_stored_at_kill + 1000.0,
        "{outage:?}"
    );
    assert!(outage.backlog_at_restart > RATE * 20.0, "{outage:?}");
    // /ready: the sink had initialized, so the host stays ready; the sink shows `failing`.
    assert!(outage.always_ready, "{outage:?}");
    assert!(outage.seen_failing, "{outage:?}");
    // The log: one warning per failed round naming the sink, its backoff and its queue.
    let warnings = failure_warnings(&host, "mongo");
    assert!(!warnings.is_empty(), "{}", host.log_text());
    assert_eq!(warnings[0]["level"], "WARN");
    assert!(warnings.iter().all(|w| w["fields"]["retry_in"].is_string()));
    assert!(failure_warnings(&host, "file").is_empty());
    assert_eq!(host.stop(), Some(0));
}

/// Keys of Redis matching `pattern`.
fn redis_keys(redis: &RedisServer, pattern: &str) -> u64 {
    redis
        .cmd(&["KEYS", pattern])
        .as_array()
        .expect("KEYS is an array")
        .len() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_killed_and_restarted_under_load_loses_nothing() {
    const RATE: f64 = 1000.0;
    const RUN: Duration = Duration::from_secs(25);
    const KILL_AT: Duration = Duration::from_secs(7);
    const DOWN: Duration = Duration::from_secs(10);

    let test_started = Instant::now();
    // `appendfsync always`: every write Redis acknowledged survives its SIGKILL (see
    // `RedisServer::start_durable`), so the key count can be exact.
    let mut redis = RedisServer::start_durable(RedisFlavor::Plain);
    let mut host = HostProcess::spawn_full(
        &format!("redis: {{ address: \"127.0.0.1:{}\" }}", redis.port()),
        &format!("    redis: {{ enabled: true, mode: plain }}\n{QUEUE}"),
    );
    host.wait_ready().await;

    let (summary, outage, timing) =
        load_through_outage(&host, "redis", &mut redis, RATE, RUN, KILL_AT, DOWN, 60).await;
    let restarted = timing.restarted;
    let total = summary.accepted();

    // The Redis sink stores events and stats (not node snapshots), one key per document.
    let want = (expected(&summary, "events"), expected(&summary, "stats"));
    let waited = Instant::now();
    let count = |redis: &RedisServer| {
        block_in_place(|| (redis_keys(redis, "event:*"), redis_keys(redis, "stat:*")))
    };
    while count(&redis) != want && waited.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let settled_after = restarted.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got = count(&redis);
    let dbsize = block_in_place(|| redis.cmd(&["DBSIZE"]).as_int().unwrap()) as u64;
    let text = host.metrics().await;
    let redis_total = want.0 + want.1;
    report(
        "redis",
        &host,
        &summary,
        &outage,
        &timing,
        settled_after,
        &text,
        test_started,
    );
    assert_eq!(
        got,
        want,
        "redis (event keys, stat keys) vs expected (events, stats) ({outage:?})\n{}\n{text}",
        summary.table()
    );
    assert_eq!(dbsize, redis_total, "no other keys");
    assert_file_store_exact(&host, &summary);

    // /metrics: like MongoDB, except that the Redis sink stores only events and stats, and
    // a SET that is sent again overwrites (it is counted as stored, never as a duplicate).
    assert_drained_after_retries(&text, "redis");
    assert!(stored(&text, "redis") >= redis_total as f64, "{text}");
    assert_eq!(stored(&text, "file"), total as f64, "{text}");

    assert!(
        outage.file_stored_before_restart > outage.file_stored_at_kill + RATE * 3.0,
        "{outage:?}"
    );
    // The queue, not counting the call the worker holds while Redis is away: up to
    // `batch_size` × `redis.max_in_flight` (4) items per kind are out of it, waiting.
    assert!(outage.backlog_at_restart > RATE * 3.0, "{outage:?}");
    assert!(outage.always_ready, "{outage:?}");
    assert!(outage.seen_failing, "{outage:?}");
    let warnings = failure_warnings(&host, "redis");
    assert!(!warnings.is_empty(), "{}", host.log_text());
    assert!(failure_warnings(&host, "file").is_empty());
    assert_eq!(host.stop(), Some(0));
}
