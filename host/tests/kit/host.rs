//! `TestHost`: the host in this process, with the embedded file store and both doors on
//! loopback ports.

use crate::kit::store::{count, read_store};
use crate::kit::{KEY, NODE, SECRET};
use analytics_host::app::Host;
use analytics_host::config::{Config, ConfigSource};
use analytics_host::ingest::Doors;
use serde_json::Value;
use std::time::{Duration, Instant};

/// A host running in this process; it stores into `dir` and trusts [`KEY`].
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
        let store = dir.path().to_path_buf();
        Self::start_storing_in(dir, &store, interval, extra, grpc_extra).await
    }

    /// A host whose only sink, the file store, cannot start (its directory's parent is a
    /// file), so nothing leaves its queues: neither at a tick nor when one is half full.
    /// `queue` is the YAML flow mapping of `openvidu.analytics.queue`.
    pub async fn start_undrained(queue: &str) -> TestHost {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("not-a-dir"), "").expect("a file");
        let store = dir.path().join("not-a-dir/store");
        let queue = format!("    queue: {queue}");
        Self::start_storing_in(dir, &store, "50ms", &queue, "").await
    }

    /// [`TestHost::start_full`] with the file store in `store`.
    async fn start_storing_in(
        dir: tempfile::TempDir,
        store: &std::path::Path,
        interval: &str,
        extra: &str,
        grpc_extra: &str,
    ) -> TestHost {
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
      dir: {store}
    ingest:
      webhook:
        listen: "127.0.0.1:0"
        max_body_bytes: 65536
      grpc:
        listen: "127.0.0.1:0"
{grpc_extra}
{extra}
"#,
            store = store.display()
        );
        Self::from_yaml(dir, &yaml).await
    }

    /// A host of the whole config `yaml` (its file store, if any, under `dir`).
    pub async fn from_yaml(dir: tempfile::TempDir, yaml: &str) -> TestHost {
        let config = Config::parse(yaml, ConfigSource::Inline("test".into())).expect("config");
        let sinks = analytics_host::app::sinks_from_config(&config)
            .await
            .expect("sinks");
        let host = Host::start(sinks, &config.analytics);
        let doors = Doors::start(&config.doors(), host.pipeline.clone())
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

    /// Waits until the store holds at least `n` documents of `collection` (15 s at most),
    /// and returns all.
    pub async fn wait_for(&self, collection: &str, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while count(self.dir.path(), collection) < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        read_store(self.dir.path(), collection)
    }
}
