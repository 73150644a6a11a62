//! A host with the embedded file store and both doors on loopback ports, for ingest tests.

#![allow(dead_code)]

pub mod raw_grpc;

use analytics_host::app::Host;
use analytics_host::config::{Config, ConfigSource};
use analytics_host::ingest::Doors;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// API key and secret the test host trusts.
pub const KEY: &str = "devkey";
/// The secret of [`KEY`].
pub const SECRET: &str = "a-test-secret-that-is-long-enough-for-hs256";
/// Node id the host writes into mapped events.
pub const NODE: &str = "ND_test";

/// A running test host.
pub struct TestHost {
    pub host: Host,
    pub doors: Doors,
    pub dir: tempfile::TempDir,
    pub config: Config,
}

impl TestHost {
    /// Starts a host sending every 50ms.
    pub async fn start() -> TestHost {
        Self::start_with("50ms", "").await
    }

    /// Starts a host sending every `interval`; `extra` is YAML added to
    /// `openvidu.analytics` (indented by 4 spaces).
    pub async fn start_with(interval: &str, extra: &str) -> TestHost {
        Self::start_full(interval, extra, "").await
    }

    /// As [`TestHost::start_with`]; `grpc_extra` is YAML added to `ingest.grpc` (indented
    /// by 8 spaces).
    pub async fn start_full(interval: &str, extra: &str, grpc_extra: &str) -> TestHost {
        let dir = tempfile::tempdir().expect("temp dir");
        let yaml = format!(
            r#"
keys:
  {KEY}: {SECRET}
openvidu:
  analytics:
    interval: {interval}
    node_id: {NODE}
    file:
      enabled: true
      dir: {dir}
    ingest:
      webhook:
        listen: "127.0.0.1:0"
        max_body_bytes: 65536
      grpc:
        listen: "127.0.0.1:0"
{grpc_extra}
{extra}
"#,
            dir = dir.path().display()
        );
        let config = Config::parse(&yaml, ConfigSource::Inline("test".into())).expect("config");
        let sinks = analytics_host::app::sinks_from_config(&config)
            .await
            .expect("sinks");
        let host = Host::start(sinks, &config.analytics);
        let doors = Doors::start(&config, host.pipeline.clone())
            .await
            .expect("doors");
        TestHost {
            host,
            doors,
            dir,
            config,
        }
    }

    /// The webhook URL.
    pub fn webhook_url(&self) -> String {
        format!("http://{}/webhook", self.doors.webhook_addr.unwrap())
    }

    /// The gRPC endpoint.
    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.doors.grpc_addr.unwrap())
    }

    /// Waits until the store holds at least `n` documents of `collection`, and returns all.
    pub async fn wait_for(&self, collection: &str, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let docs = read_store(self.dir.path(), collection);
            if docs.len() >= n || Instant::now() > deadline {
                return docs;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Every document of `collection` in the embedded store at `dir`.
pub fn read_store(dir: &Path, collection: &str) -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    let mut docs = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with(&format!("{collection}-")) || !name.ends_with(".jsonl") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for line in text.lines() {
            if let Ok(doc) = serde_json::from_str(line) {
                docs.push(doc);
            }
        }
    }
    docs
}
