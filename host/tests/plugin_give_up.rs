//! A plugin that says it can never work with its configuration (`status.give-up` in
//! `initialize-database`, contract 0.1.1) is not retried: one error, `/ready` and
//! `/metrics` say why, its items stay queued; a reload that replaces it (fixed settings or
//! a new build) stores them. A plugin built for contract 0.1.0 still loads and works.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::app::SinkChanges;
use analytics_host::ingest::IngestCounters;
use analytics_host::plugin::PluginEngine;
use analytics_host::sinks::plugin::PluginSink;
use analytics_host::sinks::Sink;
use kit::items::events;
use kit::metrics::sample_or_zero;
use kit::plugins::{
    beside_file_store, file_store_settings, giving_up_sink, good_sink, good_sink_built_for_0_1_0,
    plugin_config, write,
};
use kit::wait_until;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

fn load(name: &str, bytes: &[u8]) -> (PluginSink, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), name, bytes);
    let config = plugin_config(name, &path, Duration::from_secs(2), 64 << 20);
    let sink = PluginSink::load(&PluginEngine::shared().unwrap(), &config).unwrap();
    (sink, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_gives_up_is_not_retried_and_a_reload_replacing_it_stores_its_queue() {
    let (plugin, _dir) = load("picky", &giving_up_sink());
    let stats = plugin.stats();
    let log = plugin.log();
    let data = tempfile::tempdir().unwrap();
    // Backoff of 50–100 ms: a retried initialization would run 10+ times below.
    let settings = file_store_settings(data.path().to_path_buf());
    let mut host = beside_file_store(plugin, &settings);
    host.pipeline.accept(events(10)).unwrap();
    let counters = host.counters()["picky"].clone();
    wait_until("the plugin gave up", Duration::from_secs(10), || async {
        counters.gave_up().is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        stats.instantiations.load(Ordering::Relaxed),
        1,
        "never retried"
    );
    let recent = log.recent();
    let inits = recent.iter().filter(|(_, l)| l == "init").count();
    assert_eq!(inits, 1, "{recent:?}");
    let reason = counters.gave_up().unwrap();
    assert!(
        reason.contains("bad setting: dir") && reason.contains("cannot work"),
        "{reason}"
    );
    assert_eq!(counters.snapshot().stored, 0);
    assert_eq!(
        host.counters()["file"].snapshot().stored,
        10,
        "other sinks go on"
    );

    let observed = host.observed(Arc::new(IngestCounters::default()));
    let ready = observed.readiness();
    let picky = ready.sinks.iter().find(|s| s.name == "picky").unwrap();
    assert_eq!(picky.queued, 10, "its items stay queued");
    assert_eq!(picky.gave_up.as_deref(), Some(reason.as_str()));
    assert!(!ready.ready && ready.degraded == ["picky"], "{ready:?}");
    let text = observed.text();
    assert_eq!(
        sample_or_zero(&text, r#"analytics_sink_gave_up{sink="picky"}"#),
        1.0,
        "{text}"
    );

    // A reload brings a build that works: it stores the queue; the counters go on.
    let (fixed, _fixed_dir) = load("picky", &good_sink());
    let changes = SinkChanges {
        replaced: vec![Box::new(fixed) as Box<dyn Sink>],
        ..SinkChanges::default()
    };
    host.reconfigure(changes, &settings).await;
    wait_until(
        "the queue stored by the new build",
        Duration::from_secs(10),
        || async { counters.snapshot().stored == 10 },
    )
    .await;
    assert!(counters.gave_up().is_none());
    assert!(observed.readiness().ready);
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_built_for_contract_0_1_0_still_works() {
    let (mut plugin, _dir) = load("older", &good_sink_built_for_0_1_0());
    let version = plugin.plugin_mut().info().wit_version.clone();
    assert_eq!(version.as_deref(), Some("0.1.0"));
    let data = tempfile::tempdir().unwrap();
    let host = beside_file_store(plugin, &file_store_settings(data.path().to_path_buf()));
    host.pipeline.accept(events(5)).unwrap();
    let counters = host.counters()["older"].clone();
    wait_until("5 items stored", Duration::from_secs(10), || async {
        counters.snapshot().stored == 5
    })
    .await;
    host.shutdown().await;
}
