//! The example plugins of `plugins/` (built by `scripts/build-plugins.sh` into
//! `plugins/dist/`) end to end through the running host: items in, each plugin's effect
//! checked. A missing component is skipped with a note, unless `LKA_REQUIRE_PLUGINS=1`.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::app::Host;
use analytics_host::config::PluginConfig;
use analytics_host::plugin::bindings::livekit::analytics::log::Level;
use analytics_host::plugin::config::{DirGrant, PluginSettings};
use analytics_host::plugin::{PluginEngine, PluginLog};
use analytics_host::sinks::plugin::PluginSink;
use analytics_host::sinks::{Sink, SinkError};
use kit::items::{events, stats};
use kit::plugins::{beside_file_store, file_store_settings, http_server, plugin_config};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The example plugin `name`; a missing one is skipped (`None`), with a note, unless
/// `LKA_REQUIRE_PLUGINS=1`.
fn dist(name: &str) -> Option<PathBuf> {
    let path = kit::plugins::dist(name);
    if path.is_none() {
        let missing = format!("plugins/dist/{name}.wasm is missing");
        if std::env::var("LKA_REQUIRE_PLUGINS").as_deref() == Ok("1") {
            panic!("{missing}: run scripts/build-plugins.sh");
        }
        eprintln!("SKIPPED: {missing} (run scripts/build-plugins.sh)");
    }
    path
}

fn engine() -> PluginEngine {
    // Cache compiled components between test runs (Python/JS compile in seconds).
    PluginEngine::new(Some(std::env::temp_dir().join("lka-test-plugin-cache"))).unwrap()
}

fn config(name: &str, path: PathBuf, settings: &[(&str, &str)]) -> PluginConfig {
    let mut config = plugin_config(name, &path, Duration::from_secs(10), 256 << 20);
    config.config = PluginSettings(
        settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    config
}

/// Runs the plugin beside the file sink, accepts `items`, waits until both stored them all.
async fn run(plugin: PluginSink, items: Vec<analytics_host::model::Item>) -> Host {
    let name = plugin.name().to_string();
    let settings = file_store_settings(tempfile::tempdir().unwrap().keep());
    let host = beside_file_store(plugin, &settings);
    let n = items.len() as u64;
    host.pipeline.accept(items).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let plugin = host.counters()[&name].snapshot();
        let file = host.counters()["file"].snapshot();
        if plugin.stored + plugin.duplicates == n && file.stored == n {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not stored in time: plugin {plugin:?}, file {file:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    host
}

fn lines(log: &PluginLog, level: Level) -> Vec<String> {
    log.recent()
        .into_iter()
        .filter(|(l, _)| *l as u8 == level as u8)
        .map(|(_, m)| m)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_jsonl_writes_files_in_granted_dir() {
    let Some(path) = dist("rust-jsonl") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let mut config = config("jsonl", path, &[("dir", "/data")]);
    config.grants.dirs.push(DirGrant {
        host: out.path().to_path_buf(),
        guest: "/data".into(),
        read_only: false,
    });
    let sink = PluginSink::load(&engine(), &config).unwrap();
    let mut items = events(30);
    items.extend(stats(20, 4.5));
    let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    run(sink, items).await.shutdown().await;
    let mut found = Vec::new();
    for entry in std::fs::read_dir(out.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        assert!(name.ends_with(".jsonl"), "{name}");
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let doc: serde_json::Value = serde_json::from_str(line).unwrap();
            found.push(doc["_id"].as_str().unwrap().to_string());
        }
    }
    found.sort();
    let mut want = ids;
    want.sort();
    assert_eq!(found, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_jsonl_without_grant_fails_to_initialize() {
    let Some(path) = dist("rust-jsonl") else {
        return;
    };
    let mut sink =
        PluginSink::load(&engine(), &config("jsonl", path, &[("dir", "/data")])).unwrap();
    let err = sink.initialize().await.unwrap_err();
    assert!(err.to_string().contains("/data"), "{err}");
    // A directory it cannot create may be a grant not given yet: retried, not given up.
    assert!(!matches!(err, SinkError::Misconfigured(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_jsonl_gives_up_on_a_bad_setting() {
    let Some(path) = dist("rust-jsonl") else {
        return;
    };
    let config = config("jsonl", path, &[("max_bytes", "tiny")]);
    let mut sink = PluginSink::load(&engine(), &config).unwrap();
    match sink.initialize().await {
        Err(SinkError::Misconfigured(reason)) => assert!(reason.contains("max_bytes"), "{reason}"),
        other => panic!("expected the plugin to give up, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_http_posts_ndjson_to_a_granted_host() {
    let Some(path) = dist("js-http") else { return };
    let (port, received) = http_server().await;
    let url = format!("http://127.0.0.1:{port}/ingest");
    let mut config = config("http", path, &[("url", url.as_str())]);
    config.grants.http.push(format!("127.0.0.1:{port}"));
    let sink = PluginSink::load(&engine(), &config).unwrap();
    let mut items = events(12);
    items.extend(stats(8, 4.0));
    let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    run(sink, items).await.shutdown().await;
    let requests = received.lock().unwrap().clone();
    assert!(!requests.is_empty());
    let mut found = Vec::new();
    for (line, body) in &requests {
        assert!(line.starts_with("POST /ingest"), "{line}");
        for doc in body.lines() {
            let doc: serde_json::Value = serde_json::from_str(doc).unwrap();
            assert!(doc["_collection"] == "events" || doc["_collection"] == "stats");
            found.push(doc["_id"].as_str().unwrap().to_string());
        }
    }
    found.sort();
    let mut want = ids;
    want.sort();
    assert_eq!(found, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_http_to_an_ungranted_host_is_denied_and_retried() {
    let Some(path) = dist("js-http") else { return };
    let (port, received) = http_server().await;
    let url = format!("http://127.0.0.1:{port}/ingest");
    let mut config = config("http", path, &[("url", url.as_str())]);
    config.grants.http.push("collector.example:9200".into());
    let mut sink = PluginSink::load(&engine(), &config).unwrap();
    sink.initialize().await.unwrap();
    let batch: Vec<_> = events(3).into_iter().map(Arc::new).collect();
    let report = sink.send_batch(&batch).await;
    assert_eq!(report.retry, vec![0, 1, 2], "{report:?}");
    assert!(received.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_quality_warns_about_low_scores() {
    let Some(path) = dist("python-quality") else {
        return;
    };
    let config = config("quality", path, &[("threshold", "3.0"), ("scope", "both")]);
    let sink = PluginSink::load(&engine(), &config).unwrap();
    let log = sink.log();
    let mut items = stats(8, 1.5);
    items.extend(events(2));
    run(sink, items).await.shutdown().await;
    let warnings = lines(&log, Level::Warn);
    assert!(log.count(Level::Warn) >= 1, "{:?}", log.recent());
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("quality dropped") && w.contains("RM_test")),
        "{warnings:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_count_logs_a_summary() {
    let Some(path) = dist("c-count") else { return };
    let config = config("count", path, &[("every", "1"), ("level", "info")]);
    let sink = PluginSink::load(&engine(), &config).unwrap();
    let log = sink.log();
    let stats_handle = sink.stats();
    let mut items = events(6);
    items.extend(stats(4, 4.0));
    run(sink, items).await.shutdown().await;
    let info = lines(&log, Level::Info);
    let last = info
        .iter()
        .rev()
        .find(|l| l.contains("totals"))
        .expect("a summary line");
    assert!(last.contains("totals: 6 events, 4 stats"), "{info:?}");
    assert!(
        info.iter().any(|l| l.contains("PARTICIPANT_JOINED=")),
        "{info:?}"
    );
    assert_eq!(stats_handle.traps.load(Ordering::Relaxed), 0);
}

/// Issue: a host with a big plugin and a cold compile cache kept its doors closed for the
/// ~13 s of compiling. The doors now open at once, the plugin's queue fills meanwhile,
/// `/ready` names it until it is ready, and the log says what is happening.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doors_open_while_a_plugin_compiles_in_the_background() {
    let Some(path) = dist("python-quality") else {
        return;
    };
    let cache = tempfile::tempdir().unwrap();
    let mut host = kit::process::HostProcess::spawn(&format!(
        "    plugin_cache_dir: {}\n    plugins:\n      - name: quality\n        path: {}\n",
        cache.path().display(),
        path.display()
    ));
    host.wait_healthy().await;
    // Accepted while compiling (the compile of this 18 MB component takes seconds).
    assert_eq!(host.post_signed(kit::webhook::room_started(1)).await, 200);
    let (status, ready) = host.ready().await;
    let already_ready = host.log_text().contains("plugin ready");
    if !already_ready {
        assert_eq!(status, 503, "{ready}");
        assert_eq!(ready["degraded"], serde_json::json!(["quality"]), "{ready}");
    }
    host.wait_ready().await;
    let log = host.log_text();
    assert!(log.contains("compiling plugin in the background"), "{log}");
    assert!(log.contains("plugin ready"), "{log}");
    assert!(already_ready || log.find("webhook receiver listening") < log.find("plugin ready"));
    assert_eq!(host.stop(), Some(0), "{}", host.log_text());
}
