//! Configuration: a LiveKit YAML file extended with the `openvidu.analytics` section.
//!
//! The file is read from `--config PATH` or, as livekit-server does, from the whole YAML text
//! in `LIVEKIT_CONFIG`. Every LiveKit key is accepted; the host reads `keys`/`key_file`,
//! `redis` and `openvidu.analytics`. Unknown keys inside `openvidu.analytics` and bad values
//! are errors that name the key, the value and the source.

//!
//! This module is the root of the YAML tree: the top-level [`Config`] and
//! [`AnalyticsConfig`], the shared helpers ([`duration`], [`ConfigSource`]) and the settings
//! of the pipeline itself (queues, retry). Each stage and sink keeps its own section beside
//! its code (`ingest/config.rs`, `spool/config.rs`, `telemetry/config.rs`,
//! `sinks/<name>/config.rs`); they are re-exported here.

pub mod bytes;
pub mod duration;
mod livekit;

pub use crate::ingest::config::{GrpcConfig, IngestConfig, PrometheusConfig, WebhookConfig};
pub use crate::model::DocumentFormat;
pub use crate::plugin::config::PluginConfig;
pub use crate::sinks::file::config::FileStoreConfig;
pub use crate::sinks::mongo::config::MongoSinkConfig;
pub use crate::sinks::redis::config::{RedisMode, RedisSinkConfig};
pub use crate::spool::config::{SpoolConfig, SpoolFullPolicy};
pub use crate::telemetry::config::TelemetryConfig;
pub use livekit::{ApiKeys, LiveKitRedisConfig, LiveKitRedisTls};

use crate::plugin;
use crate::sinks::{mongo, redis};
use crate::spool;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the configuration text came from; named in every error.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigSource {
    /// A file given with `--config`.
    File(PathBuf),
    /// The YAML text of an environment variable (or `--config-body`).
    Inline(String),
    /// No configuration: built-in defaults.
    Defaults,
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigSource::File(path) => write!(f, "config file `{}`", path.display()),
            ConfigSource::Inline(name) => write!(f, "config from {name}"),
            ConfigSource::Defaults => write!(f, "built-in defaults"),
        }
    }
}

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
    /// MongoDB database name.
    #[serde(default = "default_mongo_database")]
    pub mongo_database: String,
    /// How often each sink sends what is queued.
    #[serde(default = "default_interval", with = "duration")]
    pub interval: Duration,
    /// How long stored items are kept (`openvidu_expire_at` = now + expiration).
    #[serde(default = "default_expiration", with = "duration")]
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
    pub api: crate::api::ApiConfig,
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

/// What a full queue does with a new item. Only `reject` (the default) keeps the promise
/// of an acknowledgement: an item the host answered 200 / OK for is stored, whatever
/// arrives next. The two `drop_*` policies are explicit, lossy choices.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OverflowPolicy {
    /// Lossy: drop the oldest queued item to make room (an item already acknowledged).
    DropOldest,
    /// Lossy: drop the new item after acknowledging it (the sender cannot tell).
    DropNewest,
    /// Refuse the new item at the door (webhook 503 with `Retry-After`, gRPC
    /// RESOURCE_EXHAUSTED) so the sender keeps it and retries; nothing acknowledged is
    /// evicted.
    #[default]
    Reject,
}

/// Exponential backoff with jitter.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// First wait after a failure.
    #[serde(default = "default_initial_backoff", with = "duration")]
    pub initial_backoff: Duration,
    /// Longest wait.
    #[serde(default = "default_max_backoff", with = "duration")]
    pub max_backoff: Duration,
}

fn default_true() -> bool {
    true
}
fn default_mongo_database() -> String {
    "openvidu".into()
}
fn default_interval() -> Duration {
    Duration::from_secs(10)
}
fn default_expiration() -> Duration {
    Duration::from_secs(360 * 3600)
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
fn default_initial_backoff() -> Duration {
    Duration::from_secs(1)
}
fn default_max_backoff() -> Duration {
    Duration::from_secs(60)
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
impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            initial_backoff: default_initial_backoff(),
            max_backoff: default_max_backoff(),
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
        if a.interval.is_zero() {
            bail!("{}: must be greater than zero (got `0`)", key("interval"));
        }
        if a.expiration.is_zero() {
            bail!("{}: must be greater than zero (got `0`)", key("expiration"));
        }
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
        mongo::config::validate(a, key)?;
        a.ingest.validate(key)?;
        a.telemetry
            .connections
            .validate(&key("telemetry.connections"))?;
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

    /// Whether the Redis sink is on.
    pub fn redis_sink_enabled(&self) -> bool {
        self.analytics.redis.as_ref().is_some_and(|r| r.enabled)
    }

    /// The effective settings as YAML, secrets masked (for `check-config`).
    pub fn describe(&self) -> String {
        let mut analytics = self.analytics.clone();
        analytics.mongo_url = analytics.mongo_url.as_deref().map(mask_url);
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

/// Replaces the password of a connection string with `****`.
pub fn mask_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:****{}",
            &url[..scheme_end + 3],
            &authority[..colon],
            &url[scheme_end + 3 + at..]
        ),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests;
