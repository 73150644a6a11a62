//! Live reload of a real `analytics-host run`: SIGHUP and `--watch-config`. A reload under
//! load (a sink changed, a plugin added then removed, the doors rebound, a bad file refused)
//! loses nothing accepted; the doors follow a new listen address; a new component at the
//! same path replaces the plugin between batches, keeping its counters; `/metrics` counts
//! reloads and shows the running configuration's hash.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::simulate::{self, Summary};
use analytics_host::supervisor::hash;
use bson::{doc, Document};
use kit::metrics::sample_or_zero;
use kit::plugins::{good_sink, good_sink_quiet, write};
use kit::ports::free_port;
use kit::process::{bin, HostProcess};
use kit::servers::mongo::MongoServer;
use kit::store::read_store;
use kit::webhook::{post_signed, room_started};
use kit::{wait_until, KEY, SECRET};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

const COLLECTIONS: [&str; 4] = ["events", "stats", "node_rooms", "node_stats"];

/// A configuration file for `host`: the file store, both doors and telemetry on the host's
/// ports (the webhook door on `webhook_port`), plus `extra` under `openvidu.analytics`.
fn config_text(host: &HostProcess, webhook_port: u16, extra: &str) -> String {
    format!(
        r#"keys:
  {KEY}: {SECRET}
openvidu:
  analytics:
    node_id: ND_reload
    retry: {{ initial_backoff: 50ms, max_backoff: 100ms }}
    queue: {{ capacity: 500000 }}
    file: {{ enabled: true, dir: "{store}" }}
    ingest:
      webhook: {{ listen: "127.0.0.1:{webhook_port}" }}
      grpc: {{ listen: "127.0.0.1:{grpc}" }}
    telemetry: {{ listen: "127.0.0.1:{telemetry}" }}
{extra}
"#,
        store = host.store().display(),
        grpc = host.grpc_port,
        telemetry = host.telemetry_port,
    )
}

fn config_path(host: &HostProcess) -> PathBuf {
    host.dir.path().join("livekit.yaml")
}

/// Writes the configuration the way deploy tools do: a new file renamed over the old one.
fn install(path: &Path, text: &str) {
    let next = path.with_extension("yaml.new");
    std::fs::write(&next, text).unwrap();
    std::fs::rename(&next, path).unwrap();
}

/// Starts the host on the config file, with `args` after `run`.
async fn start(host: &mut HostProcess, text: &str, args: &[&str]) {
    install(&config_path(host), text);
    let path = config_path(host);
    host.start(
        bin()
            .arg("run")
            .args(args)
            .arg("--config")
            .arg(path)
            .args(["--log-format", "json"])
            .env("RUST_LOG", "info"),
    );
    host.wait_healthy().await;
}

fn sighup(host: &HostProcess) {
    unsafe { libc::kill(host.pid() as i32, libc::SIGHUP) };
}

fn reloads(text: &str, result: &str) -> f64 {
    sample_or_zero(
        text,
        &format!(r#"analytics_config_reloads_total{{result="{result}"}}"#),
    )
}

/// Waits until `/metrics` counts `ok` applied and `failed` refused reloads.
async fn wait_reloads(host: &HostProcess, ok: f64, failed: f64) -> String {
    let mut text = String::new();
    for _ in 0..600 {
        text = host.metrics().await;
        if reloads(&text, "ok") == ok && reloads(&text, "failed") == failed {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "expected {ok} ok and {failed} failed reloads:\n{text}\n{}",
        host.log_text()
    );
}

/// How many documents of one collection the load should have left, and each store holds.
#[derive(Debug)]
#[allow(dead_code)] // read by the Debug output of a failure
struct Stored {
    collection: &'static str,
    want: u64,
    mongo: u64,
    file: u64,
    file_distinct: usize,
}

async fn stored_counts(
    db: &mongodb::Database,
    host: &HostProcess,
    summary: &Summary,
) -> Vec<Stored> {
    let mut counts = Vec::new();
    for collection in COLLECTIONS {
        let mongo = db
            .collection::<Document>(collection)
            .count_documents(doc! {})
            .await
            .unwrap_or(0);
        let docs = read_store(&host.store(), collection);
        let ids: HashSet<&str> = docs.iter().filter_map(|d| d["_id"].as_str()).collect();
        counts.push(Stored {
            collection,
            want: expected(summary, collection),
            mongo,
            file: docs.len() as u64,
            file_distinct: ids.len(),
        });
    }
    counts
}

fn expected(summary: &Summary, collection: &str) -> u64 {
    summary
        .expected_documents
        .get(collection)
        .copied()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_under_load_changes_sinks_and_doors_and_loses_nothing() {
    let mongo = MongoServer::start();
    let mut host = HostProcess::prepare();
    let port = host.webhook_port;
    let plugin = write(host.dir.path(), "good", &good_sink());
    let mongo_at = |app: &str| {
        format!(
            "    mongo_url: \"{}&appName={app}\"\n    interval: 50ms\n",
            mongo.url()
        )
    };
    let with_plugin = format!(
        "    plugins:\n      - {{ name: good, path: \"{}\" }}\n",
        plugin.display()
    );
    let first = config_text(&host, port, &mongo_at("first"));
    start(&mut host, &first, &[]).await;

    let options = host.simulate_options(1500.0, Duration::from_secs(8));
    let load = tokio::spawn(simulate::run(options));
    let path = config_path(&host);
    let step = Duration::from_millis(1300);

    // 1. MongoDB's settings change (the sink is rebuilt, its queue kept), a plugin is added,
    //    the interval changes.
    tokio::time::sleep(step).await;
    let second = config_text(
        &host,
        port,
        &format!(
            "{}{with_plugin}",
            mongo_at("second").replace("50ms", "80ms")
        ),
    );
    install(&path, &second);
    sighup(&host);
    wait_reloads(&host, 1.0, 0.0).await;
    // 2. The doors rebind on the same ports (a door setting changed).
    tokio::time::sleep(step).await;
    let third = second.replace(
        &format!("webhook: {{ listen: \"127.0.0.1:{port}\" }}"),
        &format!("webhook: {{ listen: \"127.0.0.1:{port}\", max_body_bytes: 2000000 }}"),
    );
    assert_ne!(third, second);
    install(&path, &third);
    sighup(&host);
    wait_reloads(&host, 2.0, 0.0).await;
    // 3. A file that does not validate: refused, the host runs on.
    tokio::time::sleep(step).await;
    install(&path, &third.replace("interval: 80ms", "interval: soon"));
    sighup(&host);
    wait_reloads(&host, 2.0, 1.0).await;
    // 4. The plugin is removed (it drains) and MongoDB changes back.
    tokio::time::sleep(step).await;
    let last = third
        .replace(&with_plugin, "")
        .replace("appName=second", "appName=last");
    install(&path, &last);
    sighup(&host);
    let text = wait_reloads(&host, 3.0, 1.0).await;
    assert!(
        !text.contains(r#"sink="good""#),
        "the removed plugin is still reported:\n{text}"
    );

    let summary = load.await.unwrap().expect("simulate ran");
    assert!(summary.accepted() > 5000, "{}", summary.table());
    let client = mongodb::Client::with_uri_str(mongo.url()).await.unwrap();
    let db = client.database("openvidu");
    let started = std::time::Instant::now();
    loop {
        let counts = stored_counts(&db, &host, &summary).await;
        if counts.iter().all(|c| c.mongo == c.want && c.file == c.want) {
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let log = host.log_text();
            let warnings: Vec<&str> = log
                .lines()
                .filter(|l| l.contains(r#""level":"WARN""#) || l.contains(r#""level":"ERROR""#))
                .collect();
            panic!(
                "after 30 s not every accepted item is stored once:\n{counts:#?}\n{}\n\
                 warnings and errors of the host:\n{}\n{}",
                summary.table(),
                warnings.join("\n"),
                host.metrics().await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for collection in COLLECTIONS {
        let docs = read_store(&host.store(), collection);
        let ids: HashSet<&str> = docs.iter().filter_map(|d| d["_id"].as_str()).collect();
        assert_eq!(ids.len(), docs.len(), "file store {collection}: duplicates");
    }
    let text = host.metrics().await;
    for sink in ["mongo", "file"] {
        for counter in ["overflowed", "rejected"] {
            let series = format!(r#"analytics_sink_{counter}_total{{sink="{sink}"}}"#);
            assert_eq!(sample_or_zero(&text, &series), 0.0, "{series}:\n{text}");
        }
    }
    let log = host.log_text();
    assert!(
        log.contains("sink replaced by a configuration reload; its queue is kept"),
        "{log}"
    );
    assert!(
        log.contains("sink removed by a configuration reload"),
        "{log}"
    );
    let refused =
        host.log_lines("configuration reload refused; still running the previous configuration");
    assert_eq!(refused.len(), 1, "{log}");
    let error = refused[0]["fields"]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("openvidu.analytics.interval"),
        "the refusal names the key: {error}"
    );
    let info = format!(r#"analytics_config_info{{hash="{}"}}"#, hash(&last));
    assert_eq!(sample_or_zero(&text, &info), 1.0, "{info}:\n{text}");
    assert_eq!(host.stop(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_config_moves_the_webhook_door_switches_the_api_and_keeps_running_on_a_bad_file() {
    let mut host = HostProcess::prepare();
    let (old_port, new_port) = (host.webhook_port, free_port());
    let first = config_text(&host, old_port, "    interval: 50ms\n");
    start(&mut host, &first, &["--watch-config"]).await;
    host.wait_for_log("watching the configuration for changes", 1)
        .await;
    assert_eq!(post_signed(&host.webhook_url(), room_started(1)).await, 200);

    let path = config_path(&host);
    install(&path, &config_text(&host, new_port, "    interval: 50ms\n"));
    wait_reloads(&host, 1.0, 0.0).await;
    let moved = format!("http://127.0.0.1:{new_port}/webhook");
    assert_eq!(post_signed(&moved, room_started(2)).await, 200);
    let refused = reqwest::Client::new()
        .post(host.webhook_url())
        .body("{}")
        .send()
        .await;
    assert!(refused.is_err(), "the old address still answers");

    // The read API follows the reload without a rebind of the telemetry listener.
    let api = format!("{}/api/rooms", host.telemetry());
    let status = |url: String| async move { reqwest::get(url).await.unwrap().status().as_u16() };
    assert_eq!(status(api.clone()).await, 200);
    let off = config_text(
        &host,
        new_port,
        "    interval: 50ms\n    api: { enabled: false }\n",
    );
    install(&path, &off);
    wait_reloads(&host, 2.0, 0.0).await;
    assert_eq!(status(api.clone()).await, 404);

    install(&path, "openvidu: [this is not a mapping");
    wait_reloads(&host, 2.0, 1.0).await;
    assert_eq!(post_signed(&moved, room_started(3)).await, 200);
    wait_until("three rooms stored", Duration::from_secs(10), || {
        let store = host.store();
        async move { read_store(&store, "events").len() == 3 }
    })
    .await;
    assert_eq!(host.stop(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_component_at_the_same_path_replaces_the_plugin_keeping_its_counters() {
    let mut host = HostProcess::prepare();
    let port = host.webhook_port;
    let plugin = write(host.dir.path(), "swap", &good_sink());
    let extra = format!(
        "    interval: 50ms\n    plugins:\n      - {{ name: swap, path: \"{}\" }}\n",
        plugin.display()
    );
    let text = config_text(&host, port, &extra);
    start(&mut host, &text, &[]).await;
    for n in 1..=5 {
        assert_eq!(post_signed(&host.webhook_url(), room_started(n)).await, 200);
    }
    let series = r#"analytics_sink_stored_total{sink="swap"}"#;
    host.wait_for_sample(series, 5.0).await;

    // The same config, the same path, another build: a SIGHUP picks it up by its hash.
    sighup(&host);
    wait_reloads(&host, 1.0, 0.0).await;
    assert!(host
        .log_lines("sink replaced by a configuration reload; its queue is kept")
        .is_empty());
    std::fs::write(&plugin, good_sink_quiet()).unwrap();
    sighup(&host);
    wait_reloads(&host, 2.0, 0.0).await;
    let replaced = host
        .wait_for_log(
            "sink replaced by a configuration reload; its queue is kept",
            1,
        )
        .await;
    assert_eq!(replaced[0]["fields"]["sink"], "swap");
    for n in 6..=8 {
        assert_eq!(post_signed(&host.webhook_url(), room_started(n)).await, 200);
    }
    host.wait_for_sample(series, 8.0).await;
    assert_eq!(host.stop(), Some(0));
}
