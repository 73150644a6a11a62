//! The embedded JSON Lines store and the host around it: fan-out, chunking, rotation,
//! shutdown flush.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::app::Host;
use analytics_host::config::{AnalyticsConfig, FileStoreConfig};
use analytics_host::model::ItemKind;
use analytics_host::sinks::file::FileSink;
use analytics_host::sinks::Sink;
use kit::items::{event, settings, stat};
use kit::store::read_store;
use kit::wait_until;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn store(dir: &Path, max_file_bytes: u64) -> FileSink {
    FileSink::new(&FileStoreConfig {
        enabled: Some(true),
        dir: dir.to_path_buf(),
        max_file_bytes,
        ..FileStoreConfig::default()
    })
}

#[tokio::test]
async fn writes_the_contract_json_per_kind_and_rotates_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = store(dir.path(), 2000);
    sink.initialize().await.unwrap();
    let batch: Vec<_> = (0..20)
        .map(|i| Arc::new(event(i)))
        .chain((0..5).map(|i| Arc::new(stat(i, "PA_1"))))
        .collect();
    assert_eq!(sink.send_batch(&batch).await, Default::default());
    for i in 20..40 {
        assert_eq!(
            sink.send_batch(&[Arc::new(event(i))]).await,
            Default::default()
        );
    }
    let events = read_store(dir.path(), "events");
    assert_eq!(events.len(), 40);
    let first = &events[0];
    let expected: Value = serde_json::from_str(&batch[0].json()).unwrap();
    assert_eq!(first, &expected);
    assert_eq!(first["_id"], Value::String(batch[0].id.clone()));
    assert!(first["openvidu_expire_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(read_store(dir.path(), "stats").len(), 5);
    let event_files = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("events-")
        })
        .count();
    assert!(event_files > 1, "rotated by size into several files");
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "jsonl") {
            continue; // the query index (index.sqlite) lives beside the files
        }
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(
            len <= 2000 || std::fs::read_to_string(&path).unwrap().lines().count() == 1,
            "{path:?} is {len} bytes"
        );
    }
}

#[tokio::test]
async fn an_unwritable_directory_keeps_items_queued_until_it_is_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let blocked = dir.path().join("store");
    std::fs::write(&blocked, "a file where the directory should be").unwrap();
    let host = Host::start(vec![Box::new(store(&blocked, 1 << 20))], &settings());
    host.pipeline.accept((0..10).map(event).collect()).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(host.counters()["file"].snapshot().stored, 0);
    assert_eq!(host.pipeline.queued(), 10);
    std::fs::remove_file(&blocked).unwrap();
    wait_until("10 items stored", Duration::from_secs(10), || async {
        host.counters()["file"].snapshot().stored == 10
    })
    .await;
    host.shutdown().await;
    assert_eq!(read_store(&blocked, "events").len(), 10);
}

#[tokio::test]
async fn every_sink_gets_every_item_in_chunks_and_shutdown_flushes() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    // Only the shutdown flush sends, in chunks of 7.
    let config = AnalyticsConfig {
        interval: Duration::from_secs(3600),
        batch_size: 7,
        ..settings()
    };
    let mut second = store(b.path(), 1 << 20);
    let sinks: Vec<Box<dyn Sink>> = vec![
        Box::new(store(a.path(), 1 << 20)),
        Box::new({
            second.initialize().await.unwrap();
            second
        }),
    ];
    let host = Host::start(sinks, &config);
    // Sinks named alike share a counter entry; both are "file" here.
    let accepted = host
        .pipeline
        .accept(
            (0..50)
                .map(event)
                .chain((0..20).map(|i| stat(i, "PA_9")))
                .collect(),
        )
        .unwrap();
    assert_eq!(accepted, 70);
    assert_eq!(host.pipeline.received(ItemKind::Event), 50);
    assert_eq!(host.pipeline.queued(), 140, "one copy per sink");
    let pipeline = host.pipeline.clone();
    let summaries = host.shutdown().await;
    assert!(
        summaries.iter().all(|s| s.left_queued == 0),
        "{summaries:?}"
    );
    assert!(
        pipeline.accept(vec![event(99)]).is_err(),
        "closed after shutdown"
    );
    for dir in [a.path(), b.path()] {
        let events = read_store(dir, "events");
        assert_eq!(events.len(), 50);
        let ids: std::collections::BTreeSet<_> = events
            .iter()
            .map(|e| e["_id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids.len(), 50, "each once");
        assert_eq!(read_store(dir, "stats").len(), 20);
    }
}
