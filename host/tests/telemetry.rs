//! The telemetry endpoint over real HTTP on loopback ports: `/metrics` with exact counts after
//! a signed webhook, `/ready` while a sink cannot initialize and once it can, `/health`, and
//! the binary serving all three with JSON logs.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::app::Host;
use analytics_host::config::{Config, ConfigSource};
use analytics_host::ingest::IngestCounters;
use analytics_host::plugin::HOST_WIT_VERSION;
use analytics_host::telemetry::{Observed, TelemetryServer};
use kit::host::TestHost;
use kit::items::events;
use kit::metrics::{get, sample, wait_for_sample};
use kit::process::{bin, HostProcess};
use kit::webhook::post_signed;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A config with the file store in `dir/store`, blocked by a regular file of that name
/// (remove the returned path to unblock it); `extra` is added to `openvidu.analytics`.
fn blocked_store_config(dir: &std::path::Path, extra: &str) -> (std::path::PathBuf, Config) {
    let blocker = dir.join("store");
    std::fs::write(&blocker, "not a directory").unwrap();
    let yaml = format!(
        r#"
openvidu:
  analytics:
    interval: 50ms
    retry: {{ initial_backoff: 50ms, max_backoff: 100ms }}
    file: {{ enabled: true, dir: "{}" }}
{extra}
"#,
        blocker.display()
    );
    let config = Config::parse(&yaml, ConfigSource::Inline("test".into())).unwrap();
    (blocker, config)
}

/// Serves `observed` on a loopback port; returns the server and its base URL.
async fn serve(observed: Observed) -> (TelemetryServer, String) {
    let config = serde_yaml::from_str("listen: \"127.0.0.1:0\"").unwrap();
    let server = TelemetryServer::start(&config, observed)
        .await
        .unwrap()
        .expect("enabled");
    let base = format!("http://{}", server.addr);
    (server, base)
}

#[tokio::test]
async fn metrics_count_a_signed_webhook_exactly() {
    let host = TestHost::start().await;
    let observed = host.host.observed(host.doors.counters.clone());
    let (server, base) = serve(observed).await;

    let body = serde_json::to_vec(&json!({
        "event": "room_started",
        "id": "EV_metrics",
        "createdAt": "1764280000",
        "room": { "sid": "RM_abc", "name": "demo" },
    }))
    .unwrap();
    assert_eq!(post_signed(&host.webhook_url(), body).await, 200);

    let text = wait_for_sample(
        &base,
        r#"analytics_sink_stored_total{sink="file"}"#,
        1.0,
        String::new,
    )
    .await;
    let exact = [
        (
            r#"analytics_items_received_total{door="webhook",kind="events"}"#,
            1.0,
        ),
        (
            r#"analytics_items_received_total{door="grpc",kind="events"}"#,
            0.0,
        ),
        (
            r#"analytics_items_received_total{door="prometheus",kind="node_stats"}"#,
            0.0,
        ),
        (
            r#"analytics_webhook_requests_total{result="accepted"}"#,
            1.0,
        ),
        (r#"analytics_sink_stored_total{sink="file"}"#, 1.0),
        (r#"analytics_sink_duplicates_total{sink="file"}"#, 0.0),
        (r#"analytics_sink_retried_total{sink="file"}"#, 0.0),
        (r#"analytics_sink_rejected_total{sink="file"}"#, 0.0),
        (r#"analytics_sink_overflowed_total{sink="file"}"#, 0.0),
        (r#"analytics_sink_batches_total{sink="file"}"#, 1.0),
        (
            r#"analytics_sink_queue_depth{sink="file",kind="events"}"#,
            0.0,
        ),
        (r#"analytics_sink_initialized{sink="file"}"#, 1.0),
        (
            r#"analytics_sink_batch_duration_seconds_count{sink="file"}"#,
            1.0,
        ),
        (
            r#"analytics_sink_batch_duration_seconds_bucket{le="+Inf",sink="file"}"#,
            1.0,
        ),
    ];
    for (series, want) in exact {
        assert_eq!(sample(&text, series), Some(want), "{series}:\n{text}");
    }
    assert!(
        text.contains("# TYPE analytics_sink_batch_duration_seconds histogram"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("# EOF"), "{text}");

    let (status, body) = get(&format!("{base}/ready")).await;
    assert_eq!(status, 200, "{body}");
    let ready: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["ready"], true);
    assert_eq!(
        ready["sinks"],
        json!([{ "name": "file", "initialized": true, "failing": false, "queued": 0 }])
    );
    assert_eq!(get(&format!("{base}/health")).await.0, 200);
    server.close().await;
}

#[tokio::test]
async fn ready_is_503_while_a_sink_cannot_initialize_and_200_once_it_can() {
    let dir = tempfile::tempdir().unwrap();
    let (blocker, config) = blocked_store_config(dir.path(), "");
    let sinks = analytics_host::app::sinks_from_config(&config)
        .await
        .unwrap();
    let host = Host::start(sinks, &config.analytics);
    let observed = host.observed(Arc::new(IngestCounters::default()));
    let (server, base) = serve(observed).await;

    // Wait until the worker has tried (and failed) at least once.
    let started = Instant::now();
    let body = loop {
        let (status, body) = get(&format!("{base}/ready")).await;
        assert_eq!(status, 503, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        if v["sinks"][0]["failing"] == true {
            break v;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(body["ready"], false);
    assert_eq!(body["degraded"], json!(["file"]));
    assert_eq!(body["sinks"][0]["name"], "file");
    assert_eq!(body["sinks"][0]["initialized"], false);
    assert_eq!(get(&format!("{base}/health")).await.0, 200);
    let (_, text) = get(&format!("{base}/metrics")).await;
    assert_eq!(
        sample(&text, r#"analytics_sink_initialized{sink="file"}"#),
        Some(0.0),
        "{text}"
    );

    std::fs::remove_file(&blocker).unwrap();
    let started = Instant::now();
    loop {
        let (status, body) = get(&format!("{base}/ready")).await;
        if status == 200 {
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["ready"], true);
            assert_eq!(v["degraded"], json!([]));
            assert_eq!(v["sinks"][0]["initialized"], true);
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(blocker.is_dir());
    server.close().await;
    host.shutdown().await;
}

#[tokio::test]
async fn the_binary_serves_health_ready_and_metrics_and_logs_json() {
    let mut host = HostProcess::prepare();
    let config = format!(
        r#"
openvidu:
  analytics:
    interval: 100ms
    file: {{ dir: "{}" }}
    ingest:
      webhook: {{ listen: "127.0.0.1:0" }}
      grpc: {{ listen: "127.0.0.1:0" }}
    telemetry: {{ listen: "127.0.0.1:{}" }}
"#,
        host.dir.path().join("data").display(),
        host.telemetry_port
    );
    host.start(
        bin()
            .args(["run", "--log-format", "json"])
            .env("LIVEKIT_CONFIG", config)
            .env("RUST_LOG", "info"),
    );
    host.wait_ready().await;
    assert_eq!(host.health().await, Some(200));
    let text = host.metrics().await;
    assert_eq!(
        sample(&text, r#"analytics_sink_initialized{sink="file"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(host.stop(), Some(0), "{}", host.log_text());
    let lines = host.log();
    assert!(
        lines.iter().any(|l| l["fields"]["message"]
            == "telemetry listening: /metrics, /health, /ready"
            && l["level"] == "INFO"),
        "{}",
        host.log_text()
    );
}

#[tokio::test]
async fn a_plugins_traps_and_rebuilds_are_exported() {
    use analytics_host::config::AnalyticsConfig;
    use analytics_host::plugin::PluginEngine;
    use analytics_host::sinks::plugin::PluginSink;
    use kit::plugins::{
        beside_file_store, component, file_store_settings, plugin_config, sink_wat, wit_text, write,
    };

    let dir = tempfile::tempdir().unwrap();
    let bytes = component(
        &wit_text(),
        "sink",
        &sink_wat(HOST_WIT_VERSION, "unreachable", ""),
    );
    let path = write(dir.path(), "trap", &bytes);
    let engine = PluginEngine::new(None).unwrap();
    let plugin = PluginSink::load(
        &engine,
        &plugin_config("trap", &path, Duration::from_secs(1), 16 << 20),
    )
    .unwrap();
    let settings = AnalyticsConfig {
        retry: serde_yaml::from_str("{ initial_backoff: 50ms, max_backoff: 100ms }").unwrap(),
        ..file_store_settings(dir.path().join("data"))
    };
    let host = beside_file_store(plugin, &settings);
    host.pipeline.accept(events(3)).unwrap();
    let observed = host.observed(Arc::new(IngestCounters::default()));
    let (server, base) = serve(observed).await;
    let traps = r#"analytics_sink_extra_total{sink="trap",name="plugin_traps"}"#;
    let started = Instant::now();
    let text = loop {
        let (_, text) = get(&format!("{base}/metrics")).await;
        if sample(&text, traps).is_some_and(|n| n >= 2.0) {
            break text;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let rebuilds = sample(
        &text,
        r#"analytics_sink_extra_total{sink="trap",name="plugin_instantiations"}"#,
    )
    .unwrap();
    assert!(rebuilds >= 2.0, "{text}");
    assert_eq!(
        sample(&text, r#"analytics_sink_stored_total{sink="trap"}"#),
        Some(0.0)
    );
    assert!(sample(&text, r#"analytics_sink_retried_total{sink="trap"}"#).unwrap() >= 6.0);
    assert_eq!(
        sample(&text, r#"analytics_sink_stored_total{sink="file"}"#),
        Some(3.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            r#"analytics_sink_queue_depth{sink="trap",kind="events"}"#
        )
        .unwrap()
            >= 1.0
    );
    server.close().await;
    host.shutdown().await;
}

#[tokio::test]
async fn the_spool_size_is_exported_while_a_sink_lags() {
    use analytics_host::config::SpoolConfig;
    use analytics_host::sinks::file::FileSink;
    use analytics_host::sinks::Sink;

    let dir = tempfile::tempdir().unwrap();
    let spool = format!(
        "    spool: {{ dir: \"{}\" }}",
        dir.path().join("spool").display()
    );
    let (blocker, config) = blocked_store_config(dir.path(), &spool);
    let a = &config.analytics;
    let spool: &SpoolConfig = a.spool.as_ref().unwrap();
    let sinks: Vec<Box<dyn Sink>> = vec![Box::new(FileSink::new(&a.file))];
    let host = Host::start_with_spool(sinks, a, spool).unwrap();
    host.pipeline.accept(events(2)).expect("accepted");
    let observed = host.observed(Arc::new(IngestCounters::default()));
    let (server, base) = serve(observed).await;
    let (_, text) = get(&format!("{base}/metrics")).await;
    assert_eq!(
        sample(&text, "analytics_spool_records"),
        Some(2.0),
        "{text}"
    );
    assert!(
        sample(&text, "analytics_spool_bytes").unwrap() > 0.0,
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"analytics_spool_items_total{event="written"}"#),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"analytics_spool_items_total{event="completed"}"#),
        Some(0.0),
        "{text}"
    );
    assert!(
        sample(&text, r#"analytics_spool_commits_total{durable="true"}"#).unwrap() >= 1.0,
        "the accept was fsynced: {text}"
    );
    std::fs::remove_file(&blocker).unwrap();
    wait_for_sample(&base, "analytics_spool_records", 0.0, String::new).await;
    let text = wait_for_sample(&base, "analytics_spool_bytes", 0.0, String::new).await;
    assert_eq!(
        sample(&text, r#"analytics_sink_stored_total{sink="file"}"#),
        Some(2.0),
        "{text}"
    );
    server.close().await;
    host.shutdown().await;
}

#[tokio::test]
async fn item_latency_counts_every_stored_item_from_its_receipt() {
    use analytics_host::sinks::file::FileSink;
    use analytics_host::sinks::Sink;

    // The store is blocked while the items wait, so each one's latency is at least `held`.
    let dir = tempfile::tempdir().unwrap();
    let (blocker, config) = blocked_store_config(dir.path(), "");
    let sinks: Vec<Box<dyn Sink>> = vec![Box::new(FileSink::new(&config.analytics.file))];
    let host = Host::start(sinks, &config.analytics);
    let observed = host.observed(Arc::new(IngestCounters::default()));
    let (server, base) = serve(observed).await;

    const N: usize = 7;
    let accepted = Instant::now();
    host.pipeline.accept(events(N)).unwrap();
    let held = Duration::from_millis(500);
    tokio::time::sleep(held).await;
    std::fs::remove_file(&blocker).unwrap();
    let count = r#"analytics_sink_item_latency_seconds_count{sink="file"}"#;
    let text = wait_for_sample(&base, count, N as f64, String::new).await;
    let upper = accepted.elapsed().as_secs_f64();

    assert!(
        text.contains("# TYPE analytics_sink_item_latency_seconds histogram"),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"analytics_sink_stored_total{sink="file"}"#),
        Some(N as f64)
    );
    assert_eq!(
        sample(
            &text,
            r#"analytics_sink_item_latency_seconds_bucket{le="+Inf",sink="file"}"#
        ),
        Some(N as f64),
        "{text}"
    );
    let sum = sample(
        &text,
        r#"analytics_sink_item_latency_seconds_sum{sink="file"}"#,
    )
    .unwrap();
    assert!(
        sum >= N as f64 * held.as_secs_f64() && sum <= N as f64 * upper,
        "sum {sum} not within [{}, {}]",
        N as f64 * held.as_secs_f64(),
        N as f64 * upper
    );
    // Every item waited at least `held`: no observation below the 0.5 ms.. buckets under it.
    let below_held = text
        .lines()
        .filter(|l| l.starts_with("analytics_sink_item_latency_seconds_bucket{"))
        .filter_map(|l| {
            let le: f64 = l.split("le=\"").nth(1)?.split('"').next()?.parse().ok()?;
            (le < held.as_secs_f64()).then(|| l.rsplit(' ').next()?.parse::<f64>().ok())?
        })
        .collect::<Vec<_>>();
    assert!(below_held.len() >= 10, "fine buckets below 0.5 s:\n{text}");
    assert!(below_held.iter().all(|&n| n == 0.0), "{text}");
    // Another 3, stored right away: the count follows exactly.
    host.pipeline.accept(events(3)).unwrap();
    wait_for_sample(&base, count, (N + 3) as f64, String::new).await;
    server.close().await;
    host.shutdown().await;
}
