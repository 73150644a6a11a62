//! Configuration: a LiveKit YAML file extended with the `openvidu.analytics` section.
//!
//! The file is read from `--config PATH` or, as livekit-server does, from the whole YAML text
//! in `LIVEKIT_CONFIG`. Every LiveKit key is accepted; the host reads `keys`/`key_file`,
//! `redis` and `openvidu.analytics`. Unknown keys inside `openvidu.analytics` and bad values
//! are errors that name the key, the value and the source.

//!
//! This module is the root of the YAML tree: the top-level [`Config`] and
//! [`AnalyticsConfig`] and the queue bounds. Each stage and sink keeps its own section beside
//! its code (`ingest/config.rs`, `spool/config.rs`, `telemetry/config.rs`,
//! `sinks/<name>/config.rs`); they are re-exported here, as are the shared helpers of
//! [`crate::settings`] ([`duration`], [`ConfigSource`], …). The sections never import this
//! module: it imports them. What each stage reads of the whole (the sinks a configuration
//! enables, the doors' settings) is built here too (`stages.rs`).

mod fork;
mod stages;

pub use crate::api::ApiConfig;
pub use crate::ingest::config::{GrpcConfig, IngestConfig, PrometheusConfig, WebhookConfig};
pub use crate::model::DocumentFormat;
pub use crate::plugin::config::PluginConfig;
pub use crate::settings::{bytes, duration, mask_url, ConfigSource};
pub use crate::settings::{ApiKeys, LiveKitRedisConfig, LiveKitRedisTls};
pub use crate::settings::{OverflowPolicy, RetryConfig};
pub use crate::sinks::file::config::FileStoreConfig;
pub use crate::sinks::mongo::config::MongoSinkConfig;
pub use crate::sinks::redis::config::{RedisMode, RedisSinkConfig};
pub use crate::spool::config::{SpoolConfig, SpoolFullPolicy};
pub use crate::telemetry::config::TelemetryConfig;

use crate::plugin;
use crate::settings::livekit;
use crate::sinks::redis;
use crate::spool;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The whole effective configuration of the host.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it was read from.
    pub source: ConfigSource,
    /// LiveKit API keys (for verifying webhooks).
    pub keys: ApiKeys,
    /// LiveKit's `redis:` section, if present.
    pub redis: Option<LiveKitRedisConfig>,
    /// The `openvidu.analytics` section.
    pub analytics: AnalyticsConfig,
}

/// `openvidu.analytics`: the original keys plus the host's own.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsConfig {
    /// `false`: the host accepts nothing and stores nothing.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// MongoDB connection string; when set, the MongoDB sink is enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mongo_url: Option<String>,
    /// MongoDB database name, the fork's key (default `openvidu`); read it through
    /// [`AnalyticsConfig::database`], which also honours `mongo_database`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// The host's earlier name of `database`, still accepted (an error if both differ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mongo_database: Option<String>,
    /// How often each sink sends what is queued (`0`: the default, 10 s, as the fork).
    #[serde(default = "default_interval", with = "duration")]
    pub interval: Duration,
    /// How often at least the active-entities fixer runs (`0`: the default, 1 min); its
    /// period is `max(2·interval + 10 s, fixer_interval)`, as the fork's.
    #[serde(default = "fork::default_fixer_interval", with = "duration")]
    pub fixer_interval: Duration,
    /// LiveKit's server API, which the active-entities fixer asks what is live (default:
    /// from LiveKit's own `port` and `bind_addresses`, see `fork::livekit_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub livekit_url: Option<String>,
    /// How long stored items are kept (`openvidu_expire_at` = now + expiration; `0`: the
    /// default, 768 h = 32 days, as the fork).
    #[serde(default = "fork::default_expiration", with = "duration")]
    pub expiration: Duration,
    /// How event and stat documents are written: `openvidu` (the default, the fork's
    /// documents field for field) or `typed` (exact integers, every enum named).
    #[serde(default)]
    pub document_format: DocumentFormat,
    /// Node id written into events that carry none (e.g. those mapped from webhooks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    /// Largest batch sent to a sink in one call; larger backlogs are sent in chunks.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// The built-in embedded store (JSON Lines files).
    #[serde(default)]
    pub file: FileStoreConfig,
    /// Per-sink queues.
    #[serde(default)]
    pub queue: QueueConfig,
    /// Backoff between failed attempts.
    #[serde(default)]
    pub retry: RetryConfig,
    /// Longest a single batch may take before it counts as failed and is retried.
    #[serde(default = "default_send_timeout", with = "duration")]
    pub send_timeout: Duration,
    /// On SIGINT/SIGTERM, how long the final flush may take.
    #[serde(default = "default_shutdown_timeout", with = "duration")]
    pub shutdown_timeout: Duration,
    /// The ingest doors (webhook, gRPC, Prometheus scrape).
    #[serde(default)]
    pub ingest: IngestConfig,
    /// WebAssembly component sinks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<PluginConfig>,
    /// Where compiled plugins are cached (default: the user's cache directory, see
    /// `plugin::engine::default_cache_dir`; created private, 0700).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_cache_dir: Option<PathBuf>,
    /// The Redis sink (connection from LiveKit's top-level `redis:` section); off unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisSinkConfig>,
    /// The host's `/metrics`, `/health` and `/ready` endpoint.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    /// The read API (`/api/*`) on the telemetry listener.
    #[serde(default)]
    pub api: ApiConfig,
    /// The on-disk spool; absent: memory only (a crash loses what is not yet stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spool: Option<SpoolConfig>,
}

/// Per-sink queue bounds.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Items each queue (one per kind per sink) holds at most.
    #[serde(default = "default_capacity")]
    pub capacity: usize,
    /// What happens when a queue is full.
    #[serde(default)]
    pub overflow: OverflowPolicy,
    /// Bytes all queues of the host hold together at most (a number or `256MiB`); full
    /// applies `overflow` as a full queue does. An item queued for several sinks counts
    /// once per sink.
    #[serde(
        default = "default_queue_max_bytes",
        deserialize_with = "bytes::deserialize",
        serialize_with = "bytes::serialize"
    )]
    pub max_bytes: u64,
}

fn default_true() -> bool {
    true
}
fn default_interval() -> Duration {
    fork::DEFAULT_INTERVAL
}
fn default_batch_size() -> usize {
    1000
}
fn default_send_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_shutdown_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_queue_max_bytes() -> u64 {
    256 << 20
}
fn default_capacity() -> usize {
    100_000
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            capacity: default_capacity(),
            overflow: OverflowPolicy::default(),
            max_bytes: default_queue_max_bytes(),
        }
    }
}
impl Default for AnalyticsConfig {
    fn default() -> Self {
        serde_yaml::from_str("{}").expect("defaults deserialize")
    }
}

/// The shape of a LiveKit config file as far as the host reads it; other keys are ignored.
#[derive(Deserialize)]
struct LiveKitFile {
    #[serde(flatten)]
    keys: livekit::RawKeys,
    #[serde(default)]
    redis: Option<LiveKitRedisConfig>,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    bind_addresses: Vec<String>,
    #[serde(default)]
    openvidu: Option<OpenViduSection>,
}

#[derive(Deserialize)]
struct OpenViduSection {
    #[serde(default)]
    analytics: Option<AnalyticsConfig>,
}

impl Config {
    /// Reads the configuration file at `path`.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let source = ConfigSource::File(path.to_path_buf());
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read {source}"))?;
        Self::parse(&text, source)
    }

    /// Parses configuration YAML text, naming `source` in errors.
    pub fn parse(text: &str, source: ConfigSource) -> anyhow::Result<Self> {
        let file: LiveKitFile = if text.trim().is_empty() {
            serde_yaml::from_str("{}")?
        } else {
            serde_path_to_error::deserialize(serde_yaml::Deserializer::from_str(text))
                .map_err(|err| anyhow::anyhow!("{source}: key `{}`: {}", err.path(), err.inner()))?
        };
        let mut keys = file.keys.keys;
        if let Some(key_file) = &file.keys.key_file {
            let key_path = resolve_relative(&source, key_file);
            let key_text = std::fs::read_to_string(&key_path).with_context(|| {
                format!("{source}: key_file `{}` cannot be read", key_path.display())
            })?;
            let more: BTreeMap<String, String> =
                serde_yaml::from_str(&key_text).map_err(|err| {
                    anyhow::anyhow!("{source}: key_file `{}`: {err}", key_path.display())
                })?;
            keys.extend(more);
        }
        let mut analytics = file.openvidu.and_then(|o| o.analytics).unwrap_or_default();
        fork::zero_means_default(&mut analytics);
        if analytics.livekit_url.is_none() {
            analytics.livekit_url = Some(fork::livekit_url(file.port, &file.bind_addresses));
        }
        plugin::config::resolve_paths(&mut analytics.plugins, |p| resolve_relative(&source, p));
        let config = Config {
            source,
            keys: ApiKeys(keys),
            redis: file.redis,
            analytics,
        };
        config.validate()?;
        Ok(config)
    }

    /// Built-in defaults: no keys, the embedded store only.
    pub fn defaults() -> Self {
        Config {
            source: ConfigSource::Defaults,
            keys: ApiKeys::default(),
            redis: None,
            analytics: AnalyticsConfig::default(),
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        let a = &self.analytics;
        let src = &self.source;
        let key = |name: &str| format!("{src}: openvidu.analytics.{name}");
        if a.batch_size == 0 {
            bail!("{}: must be at least 1 (got `0`)", key("batch_size"));
        }
        if a.queue.capacity == 0 {
            bail!("{}: must be at least 1 (got `0`)", key("queue.capacity"));
        }
        if a.queue.max_bytes == 0 {
            bail!("{}: must be at least 1 (got `0`)", key("queue.max_bytes"));
        }
        if a.retry.initial_backoff > a.retry.max_backoff {
            bail!(
                "{}: `{}` is longer than retry.max_backoff `{}`",
                key("retry.initial_backoff"),
                duration::format(a.retry.initial_backoff),
                duration::format(a.retry.max_backoff)
            );
        }
        stages::validate_mongo(a, key)?;
        a.ingest.validate(key)?;
        a.telemetry.validate(key)?;
        if a.api.enabled
            && a.telemetry.enabled
            && a.api.token.is_none()
            && !a.telemetry.listen.ip().is_loopback()
        {
            bail!(
                "{}: the read API would serve the stored analytics to anyone who reaches {} \
                 (telemetry.listen); set openvidu.analytics.api.token, listen on loopback, or \
                 set api.enabled: false",
                key("api"),
                a.telemetry.listen
            );
        }
        a.api
            .validate(a.mongo_url.is_some(), self.file_index_enabled(), key)?;
        plugin::config::validate(&a.plugins, key)?;
        redis::config::validate(a.redis.as_ref(), self.redis.as_ref(), src)?;
        spool::config::validate(a.spool.as_ref(), src)?;
        Ok(())
    }

    /// Whether the embedded file store is on: explicitly, or because no other sink is
    /// (MongoDB, Redis, or an enabled plugin).
    pub fn file_store_enabled(&self) -> bool {
        let a = &self.analytics;
        a.file.enabled.unwrap_or(
            a.mongo_url.is_none()
                && !self.redis_sink_enabled()
                && !a.plugins.iter().any(|p| p.enabled),
        )
    }

    /// Whether the file store is on with its query index (which the embedded read API,
    /// the dashboard and the fixer without MongoDB read).
    pub fn file_index_enabled(&self) -> bool {
        self.file_store_enabled() && self.analytics.file.index
    }

    /// Whether the Redis sink is on.
    pub fn redis_sink_enabled(&self) -> bool {
        self.analytics.redis.as_ref().is_some_and(|r| r.enabled)
    }

    /// The effective settings as YAML, secrets masked (for `check-config`).
    pub fn describe(&self) -> String {
        let mut analytics = self.analytics.clone();
        analytics.mongo_url = analytics.mongo_url.as_deref().map(mask_url);
        analytics.database = Some(self.analytics.database().to_owned());
        analytics.mongo_database = None;
        if analytics.ingest.grpc.token.is_some() {
            analytics.ingest.grpc.token = Some("********".into());
        }
        let keys: BTreeMap<&str, &str> = self
            .keys
            .0
            .keys()
            .map(|k| (k.as_str(), "********"))
            .collect();
        let redis = self.redis.clone().map(|mut r| {
            if !r.password.is_empty() {
                r.password = "********".into();
            }
            if !r.sentinel_password.is_empty() {
                r.sentinel_password = "********".into();
            }
            r
        });
        #[derive(Serialize)]
        struct Effective<'a> {
            keys: BTreeMap<&'a str, &'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            redis: Option<LiveKitRedisConfig>,
            openvidu: BTreeMap<&'static str, AnalyticsConfig>,
        }
        let effective = Effective {
            keys,
            redis,
            openvidu: BTreeMap::from([("analytics", analytics)]),
        };
        serde_yaml::to_string(&effective).expect("config serializes")
    }
}

/// A relative `key_file` (or plugin path) is taken relative to the config file's folder.
fn resolve_relative(source: &ConfigSource, path: &Path) -> PathBuf {
    match source {
        ConfigSource::File(file) if path.is_relative() => file
            .parent()
            .map(|dir| dir.join(path))
            .unwrap_or_else(|| path.to_path_buf()),
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests;
