//! Plugins built from WAT in the test: a good sink, partial failure, and misbehaving ones
//! (trap, infinite loop, memory hog, wrong world, wrong version, ungranted import). Each
//! proves the host stays up and a second sink (the file store) keeps storing.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::app::Host;
use analytics_host::plugin::{PluginEngine, HOST_WIT_VERSION};
use analytics_host::sinks::plugin::PluginSink;
use analytics_host::sinks::Sink;
use kit::items::{events, stats};
use kit::plugins::{
    beside_file_store, component, file_store_settings, good_sink, plugin_config, sink_wat,
    wit_text, write, GOOD_BODY,
};
use kit::store::read_store;
use kit::wait_until;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECOND: Duration = Duration::from_secs(1);
const MIB: u64 = 1 << 20;

fn engine() -> PluginEngine {
    PluginEngine::new(None).unwrap()
}

fn load(
    engine: &PluginEngine,
    name: &str,
    bytes: &[u8],
    timeout: Duration,
    memory: u64,
) -> anyhow::Result<PluginSink> {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), name, bytes);
    PluginSink::load(engine, &plugin_config(name, &path, timeout, memory))
}

fn shared(items: Vec<analytics_host::model::Item>) -> Vec<Arc<analytics_host::model::Item>> {
    items.into_iter().map(Arc::new).collect()
}

/// Runs the host with `plugin` and a file sink; accepts 20 items; returns once the file sink
/// stored them all (or fails after 10 s).
async fn host_keeps_storing(plugin: PluginSink) -> Host {
    let data = tempfile::tempdir().unwrap().keep();
    let host = beside_file_store(plugin, &file_store_settings(data.clone()));
    let mut items = events(10);
    items.extend(stats(10, 4.0));
    assert_eq!(host.pipeline.accept(items).unwrap(), 20);
    let deadline = Instant::now() + 10 * SECOND;
    loop {
        let stored = host.counters()["file"].stored.load(Ordering::Relaxed);
        if stored == 20 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "file sink stored only {stored} of 20"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The files really hold the items.
    let stored = read_store(&data, "events").len() + read_store(&data, "stats").len();
    assert_eq!(stored, 20);
    host
}

#[tokio::test]
async fn good_sink_stores_and_logs() {
    let engine = engine();
    let sink = load(&engine, "good", &good_sink(), SECOND, 16 * MIB).unwrap();
    let log = sink.log();
    let host = host_keeps_storing(sink).await;
    let deadline = Instant::now() + 5 * SECOND;
    while host.counters()["good"].stored.load(Ordering::Relaxed) < 20 {
        assert!(Instant::now() < deadline, "plugin did not store everything");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // initialize-database logged "init"; send-batch logged the first event's id.
    let lines: Vec<String> = log.recent().into_iter().map(|(_, m)| m).collect();
    assert_eq!(lines[0], "init");
    let first_id = &events(1)[0].id;
    assert!(lines.contains(first_id), "{lines:?}");
    host.shutdown().await;
}

#[tokio::test]
async fn partial_failure_maps_each_item() {
    // result::err(send-error::partial([ {events,0,retry,"try later"}, {events,1,drop,"bad"},
    // {events,2,duplicate,""}, {events,99,retry,""} ])): a prebuilt return area at 16.
    let data = r#"
  (data (i32.const 64)
    "\00\00\00\00" "\00\00\00\00" "\00\00\00\00" "\c8\00\00\00" "\09\00\00\00"
    "\00\00\00\00" "\01\00\00\00" "\02\00\00\00" "\d4\00\00\00" "\03\00\00\00"
    "\00\00\00\00" "\02\00\00\00" "\01\00\00\00" "\00\00\00\00" "\00\00\00\00"
    "\00\00\00\00" "\63\00\00\00" "\00\00\00\00" "\00\00\00\00" "\00\00\00\00")
  (data (i32.const 200) "try later")
  (data (i32.const 212) "bad")"#;
    let body = r#"
    (i32.store8 (i32.const 16) (i32.const 1))
    (i32.store8 (i32.const 20) (i32.const 0))
    (i32.store (i32.const 24) (i32.const 64))
    (i32.store (i32.const 28) (i32.const 4))
    (i32.const 16)"#;
    let bytes = component(&wit_text(), "sink", &sink_wat(HOST_WIT_VERSION, body, data));
    let engine = engine();
    let mut sink = load(&engine, "partial", &bytes, SECOND, 16 * MIB).unwrap();
    sink.initialize().await.unwrap();
    // Batch: stat, event0, event1, stat, event2, event3 → events at positions 1, 2, 4, 5.
    let ev = events(4);
    let st = stats(2, 3.0);
    let mut batch = Vec::new();
    let mut ev = ev.into_iter();
    let mut st = st.into_iter();
    batch.push(st.next().unwrap());
    batch.push(ev.next().unwrap());
    batch.push(ev.next().unwrap());
    batch.push(st.next().unwrap());
    batch.extend(ev);
    let report = sink.send_batch(&shared(batch)).await;
    assert_eq!(report.retry, vec![1]);
    assert_eq!(report.rejected, 1);
    assert_eq!(report.duplicates, 1);
    assert_eq!(report.stored_count(6), 3);
    assert!(report.error.unwrap().contains("try later"));
}

#[tokio::test]
async fn trap_rebuilds_instance_and_requeues() {
    let bytes = component(
        &wit_text(),
        "sink",
        &sink_wat(HOST_WIT_VERSION, "unreachable", ""),
    );
    let engine = engine();
    let mut sink = load(&engine, "trap", &bytes, SECOND, 16 * MIB).unwrap();
    let stats = sink.stats();
    let log = sink.log();
    sink.initialize().await.unwrap();
    for round in 1..=3u64 {
        let report = sink.send_batch(&shared(events(3))).await;
        assert_eq!(report.retry, vec![0, 1, 2], "round {round}");
        assert!(
            report.error.as_deref().unwrap().contains("trapped"),
            "{report:?}"
        );
        assert_eq!(stats.traps.load(Ordering::Relaxed), round);
    }
    // One instance per call: rebuilt and re-initialized ("init" logged each time).
    assert_eq!(stats.instantiations.load(Ordering::Relaxed), 3);
    assert_eq!(log.recent().iter().filter(|(_, m)| m == "init").count(), 3);
    // In the running host: the file sink keeps storing, the plugin's items stay queued.
    let sink = load(&engine, "trap", &bytes, SECOND, 16 * MIB).unwrap();
    let host = host_keeps_storing(sink).await;
    let counters = host.counters()["trap"].clone();
    wait_until("the plugin's items to be retried", 10 * SECOND, || async {
        counters.retried.load(Ordering::Relaxed) >= 20
    })
    .await;
    assert_eq!(counters.stored.load(Ordering::Relaxed), 0);
    host.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn infinite_loop_hits_deadline_without_blocking_the_runtime() {
    let bytes = component(
        &wit_text(),
        "sink",
        &sink_wat(HOST_WIT_VERSION, "(loop (br 0)) unreachable", ""),
    );
    let engine = engine();
    let mut sink = load(
        &engine,
        "spin",
        &bytes,
        Duration::from_millis(300),
        16 * MIB,
    )
    .unwrap();
    sink.initialize().await.unwrap();
    // A task on the same (single-threaded) runtime keeps ticking while the plugin spins.
    let ticks = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let ticker = tokio::spawn({
        let ticks = ticks.clone();
        async move {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let started = Instant::now();
    let report = sink.send_batch(&shared(events(2))).await;
    let took = started.elapsed();
    ticker.abort();
    assert_eq!(report.retry, vec![0, 1]);
    assert!(report.error.unwrap().contains("deadline"));
    assert!(
        took >= Duration::from_millis(300) && took < 2 * SECOND,
        "{took:?}"
    );
    assert!(
        ticks.load(Ordering::Relaxed) >= 5, // ~30 when idle; 0–1 if the call blocked the thread
        "runtime was blocked: {ticks:?}"
    );
    assert_eq!(sink.stats().timeouts.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn infinite_loop_in_running_host() {
    let bytes = component(
        &wit_text(),
        "sink",
        &sink_wat(HOST_WIT_VERSION, "(loop (br 0)) unreachable", ""),
    );
    let sink = load(
        &engine(),
        "spin",
        &bytes,
        Duration::from_millis(100),
        16 * MIB,
    )
    .unwrap();
    let stats = sink.stats();
    let host = host_keeps_storing(sink).await;
    wait_until("a timeout", 10 * SECOND, || async {
        stats.timeouts.load(Ordering::Relaxed) >= 1
    })
    .await;
    assert_eq!(host.counters()["spin"].snapshot().stored, 0);
    host.shutdown().await;
}

#[tokio::test]
async fn memory_hog_hits_the_cap() {
    let body = "(loop (br_if 0 (i32.ne (memory.grow (i32.const 16)) (i32.const -1)))) unreachable";
    let bytes = component(&wit_text(), "sink", &sink_wat(HOST_WIT_VERSION, body, ""));
    let engine = engine();
    let mut sink = load(&engine, "hog", &bytes, 5 * SECOND, 4 * MIB).unwrap();
    sink.initialize().await.unwrap();
    let report = sink.send_batch(&shared(events(2))).await;
    assert_eq!(report.retry, vec![0, 1]);
    let error = report.error.unwrap();
    assert!(error.contains("memory limit"), "{error}");
    // The next call works on a fresh instance (it hogs again, but the host is fine).
    let report = sink.send_batch(&shared(events(1))).await;
    assert_eq!(report.retry, vec![0]);
    assert_eq!(sink.stats().instantiations.load(Ordering::Relaxed), 2);
    let sink = load(&engine, "hog", &bytes, 5 * SECOND, 4 * MIB).unwrap();
    host_keeps_storing(sink).await.shutdown().await;
}

#[test]
fn wrong_world_is_refused_with_a_clear_error() {
    let wit = "package acme:other@0.1.0;\nworld other { export hello: func(); }\n";
    let wat = r#"(module (func (export "hello")))"#;
    let bytes = component(wit, "other", wat);
    let err = load(&engine(), "other", &bytes, SECOND, 16 * MIB)
        .err()
        .unwrap();
    let text = format!("{err:#}");
    assert!(text.contains("not a livekit:analytics `sink`"), "{text}");
    assert!(
        text.contains("`send-batch`") && text.contains("hello"),
        "{text}"
    );
}

#[test]
fn wrong_version_names_both_versions() {
    let wit = wit_text().replace(
        &format!("livekit:analytics@{HOST_WIT_VERSION}"),
        "livekit:analytics@0.2.0",
    );
    let bytes = component(&wit, "sink", &sink_wat("0.2.0", GOOD_BODY, ""));
    let err = load(&engine(), "future", &bytes, SECOND, 16 * MIB)
        .err()
        .unwrap();
    let text = format!("{err:#}");
    assert!(text.contains("livekit:analytics@0.2.0"), "{text}");
    assert!(
        text.contains(&format!("livekit:analytics@{HOST_WIT_VERSION}")),
        "{text}"
    );
}

fn http_importing_sink() -> Vec<u8> {
    let wit = format!(
        "{}\nworld sink-with-http {{ include sink; import wasi:http/outgoing-handler@0.2.0; }}\n\
         package wasi:http@0.2.0 {{ interface outgoing-handler {{ handle: func(); }} }}\n",
        wit_text()
    );
    let extra = r#"(import "wasi:http/outgoing-handler@0.2.0" "handle" (func $handle))"#;
    let body = format!("(call $handle) {GOOD_BODY}");
    component(
        &wit,
        "sink-with-http",
        &sink_wat(HOST_WIT_VERSION, &body, extra),
    )
}

#[test]
fn ungranted_import_is_refused_naming_it() {
    let err = load(
        &engine(),
        "sneaky",
        &http_importing_sink(),
        SECOND,
        16 * MIB,
    )
    .err()
    .unwrap();
    let text = format!("{err:#}");
    assert!(
        text.contains("`wasi:http/outgoing-handler@0.2.0`"),
        "{text}"
    );
    assert!(text.contains("grants.http"), "{text}");
}

#[tokio::test]
async fn plugins_from_config() {
    use analytics_host::config::{Config, ConfigSource};
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good", &good_sink());
    let sneaky = write(dir.path(), "sneaky", &http_importing_sink());
    let yaml = |path: &std::path::Path, extra: &str| {
        format!(
            "openvidu:\n  analytics:\n    file:\n      enabled: true\n      dir: {data}\n    \
             plugin_cache_dir: {cache}\n    plugins:\n      - name: p1\n        path: {path}\n        \
             config: {{ a: 1, b: true, c: text }}\n        limits: {{ timeout: 2s, memory: 32MiB }}\n{extra}",
            data = dir.path().join("data").display(),
            cache = dir.path().join("cache").display(),
            path = path.display(),
        )
    };
    let config = Config::parse(&yaml(&good, ""), ConfigSource::Inline("test".into())).unwrap();
    let plugin = &config.analytics.plugins[0];
    assert_eq!(plugin.limits.memory, 32 << 20);
    assert_eq!(
        plugin.config.0,
        vec![
            ("a".into(), "1".into()),
            ("b".into(), "true".into()),
            ("c".into(), "text".into())
        ]
    );
    let sinks = analytics_host::app::sinks_from_config(&config)
        .await
        .unwrap();
    let names: Vec<&str> = sinks.iter().map(|s| s.name()).collect();
    assert_eq!(names, ["file", "p1"]);
    // The compiled component is now cached.
    assert_eq!(
        std::fs::read_dir(dir.path().join("cache")).unwrap().count(),
        1
    );

    let config = Config::parse(&yaml(&sneaky, ""), ConfigSource::Inline("test".into())).unwrap();
    let err = analytics_host::app::sinks_from_config(&config)
        .await
        .err()
        .unwrap();
    let text = format!("{err:#}");
    assert!(
        text.contains("plugins `p1`") && text.contains("wasi:http/outgoing-handler"),
        "{text}"
    );

    let bad = Config::parse(
        &yaml(&good, "        grants: { sockets: true }\n"),
        ConfigSource::Inline("test".into()),
    );
    assert!(format!("{:#}", bad.err().unwrap()).contains("sockets"));
    let missing = Config::parse(
        &yaml(&dir.path().join("nope.wasm"), ""),
        ConfigSource::Inline("test".into()),
    );
    assert!(format!("{:#}", missing.err().unwrap()).contains("plugins[0].path"));
}

#[tokio::test]
async fn call_abandoned_by_the_caller_rebuilds_the_instance() {
    // The scheduler's own send_timeout may drop a call mid-way (here: before the plugin's
    // 10 s deadline); the instance can no longer be entered and is rebuilt next time.
    let bytes = component(
        &wit_text(),
        "sink",
        &sink_wat(HOST_WIT_VERSION, "(loop (br 0)) unreachable", ""),
    );
    let mut sink = load(&engine(), "spin", &bytes, 10 * SECOND, 16 * MIB).unwrap();
    sink.initialize().await.unwrap();
    let batch = shared(events(1));
    for _ in 0..2 {
        let dropped =
            tokio::time::timeout(Duration::from_millis(50), sink.send_batch(&batch)).await;
        assert!(dropped.is_err());
        assert!(!sink.plugin_mut().is_live());
    }
    assert_eq!(sink.stats().instantiations.load(Ordering::Relaxed), 2);
}
