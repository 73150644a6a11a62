//! `openvidu.analytics.redis`: the host's switch for the Redis sink. The connection itself
//! comes from LiveKit's own top-level `redis:` section ([`crate::settings::LiveKitRedisConfig`]).

use super::RedisSink;
use crate::settings::{ConfigSource, LiveKitRedisConfig};
use crate::sinks::{Sink, SinkConfig, SinkContext};
use anyhow::bail;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// The Redis sink's switch, storage mode and write concurrency.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RedisSinkConfig {
    /// Store items in the Redis of LiveKit's `redis:` section (default `false`).
    #[serde(default)]
    pub enabled: bool,
    /// How documents are stored: `auto` (RedisJSON when the module is loaded, else plain
    /// strings), `json` or `plain`.
    #[serde(default)]
    pub mode: RedisMode,
    /// Pipelines awaiting Redis's replies at once, and batches of `batch_size` the worker
    /// hands the sink per call ([`DEFAULT_MAX_IN_FLIGHT`]; 1 to [`MAX_IN_FLIGHT_LIMIT`]).
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
}

/// Default of `openvidu.analytics.redis.max_in_flight`.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 4;
/// Largest `openvidu.analytics.redis.max_in_flight` accepted.
pub const MAX_IN_FLIGHT_LIMIT: usize = 64;

fn default_max_in_flight() -> usize {
    DEFAULT_MAX_IN_FLIGHT
}

impl Default for RedisSinkConfig {
    fn default() -> Self {
        RedisSinkConfig {
            enabled: false,
            mode: RedisMode::default(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

/// How the Redis sink stores a document.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RedisMode {
    /// Detect at start: `json` when RedisJSON is loaded, else `plain`.
    #[default]
    Auto,
    /// `JSON.SET` with RediSearch indexes; needs the RedisJSON (and RediSearch) modules.
    Json,
    /// `SET` of the JSON text.
    Plain,
}

impl std::fmt::Display for RedisMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RedisMode::Auto => "auto",
            RedisMode::Json => "json",
            RedisMode::Plain => "plain",
        })
    }
}

/// Checks that an enabled Redis sink has a usable `redis:` section.
pub fn validate(
    sink: Option<&RedisSinkConfig>,
    redis: Option<&LiveKitRedisConfig>,
    source: &ConfigSource,
) -> anyhow::Result<()> {
    if let Some(n) = sink
        .map(|s| s.max_in_flight)
        .filter(|n| !(1..=MAX_IN_FLIGHT_LIMIT).contains(n))
    {
        bail!(
            "{source}: openvidu.analytics.redis.max_in_flight: {n} is out of range (1 to \
             {MAX_IN_FLIGHT_LIMIT})"
        );
    }
    if !sink.is_some_and(|s| s.enabled) {
        return Ok(());
    }
    let Some(redis) = redis else {
        bail!(
            "{source}: openvidu.analytics.redis.enabled is true but the top-level `redis` \
             section (LiveKit's Redis: address, or sentinel_master_name + sentinel_addresses, \
             or cluster_addresses) is missing"
        );
    };
    let sentinel = !redis.sentinel_master_name.is_empty();
    if sentinel && redis.sentinel_addresses.is_empty() {
        bail!("{source}: redis.sentinel_addresses: must not be empty when redis.sentinel_master_name is set");
    }
    if !sentinel && redis.cluster_addresses.is_empty() && redis.address.is_empty() {
        bail!(
            "{source}: redis.address: must be set (or sentinel_master_name + sentinel_addresses, \
             or cluster_addresses) when openvidu.analytics.redis.enabled is true"
        );
    }
    let addresses = std::iter::once(&redis.address)
        .filter(|a| !a.is_empty())
        .chain(&redis.sentinel_addresses)
        .chain(&redis.cluster_addresses);
    for address in addresses {
        if split_address(address).is_none() {
            bail!("{source}: redis: `{address}` is not a `host:port` address");
        }
    }
    if let Some(tls) = redis.tls.as_ref().filter(|t| t.enabled) {
        if tls.client_cert_file.is_some() != tls.client_key_file.is_some() {
            bail!(
                "{source}: redis.tls: client_cert_file and client_key_file go together \
                 (mutual TLS needs both)"
            );
        }
        if !tls.server_name.is_empty() {
            bail!(
                "{source}: redis.tls.server_name (`{}`) is not supported by the analytics \
                 host: it verifies the certificate against the host of each address, so \
                 write the addresses with the name the certificate carries",
                tls.server_name
            );
        }
    }
    Ok(())
}

/// Splits `host:port` (`[v6]:port` too); `None` when it is not of that form.
pub fn split_address(address: &str) -> Option<(String, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = port.parse().ok()?;
    (!host.is_empty()).then(|| (host.to_string(), port))
}

/// The Redis sink as configured: LiveKit's `redis:` connection and the host's switch.
#[derive(Debug, Clone)]
pub struct RedisTarget {
    /// LiveKit's top-level `redis:` section.
    pub connection: LiveKitRedisConfig,
    /// `openvidu.analytics.redis`.
    pub settings: RedisSinkConfig,
}

impl RedisTarget {
    /// The Redis sink, when `openvidu.analytics.redis.enabled` is true (`sink`) and
    /// LiveKit's `redis:` section (`livekit`) is present.
    pub fn from_sections(
        livekit: Option<&LiveKitRedisConfig>,
        sink: Option<&RedisSinkConfig>,
    ) -> Option<Self> {
        match (livekit, sink) {
            (Some(connection), Some(settings)) if settings.enabled => Some(RedisTarget {
                connection: connection.clone(),
                settings: settings.clone(),
            }),
            _ => None,
        }
    }
}

#[async_trait]
impl SinkConfig for RedisTarget {
    fn key(&self) -> String {
        "redis".into()
    }

    fn name(&self) -> String {
        "redis".into()
    }

    async fn build(&self, _context: &SinkContext) -> anyhow::Result<Box<dyn Sink>> {
        Ok(Box::new(RedisSink::new(&self.connection, &self.settings)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn parse(text: &str) -> anyhow::Result<Config> {
        Config::parse(text, ConfigSource::Inline("test".into()))
    }

    #[test]
    fn off_by_default() {
        let config = parse("redis: {address: 'localhost:6379'}").unwrap();
        assert!(config.analytics.redis.is_none());
    }

    #[test]
    fn enabled_with_mode() {
        let config = parse(
            "redis: {address: 'localhost:6379'}\nopenvidu:\n  analytics:\n    redis: {enabled: true, mode: plain}\n",
        )
        .unwrap();
        let sink = config.analytics.redis.unwrap();
        assert!(sink.enabled);
        assert_eq!(sink.mode, RedisMode::Plain);
        assert_eq!(sink.max_in_flight, DEFAULT_MAX_IN_FLIGHT);
    }

    #[test]
    fn max_in_flight_is_read_and_bounded() {
        let with = |n: &str| {
            parse(&format!(
                "redis: {{address: 'localhost:6379'}}\nopenvidu:\n  analytics:\n    \
                 redis: {{enabled: true, max_in_flight: {n}}}\n"
            ))
        };
        assert_eq!(with("8").unwrap().analytics.redis.unwrap().max_in_flight, 8);
        for bad in ["0", "65"] {
            let err = with(bad).unwrap_err().to_string();
            assert!(
                err.contains("redis.max_in_flight") && err.contains(bad),
                "{err}"
            );
        }
    }

    #[test]
    fn enabled_without_redis_section_names_the_key() {
        let err = parse("openvidu:\n  analytics:\n    redis: {enabled: true}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("openvidu.analytics.redis.enabled"), "{err}");
        assert!(err.contains("`redis`"), "{err}");
    }

    #[test]
    fn unknown_key_and_bad_mode_are_errors() {
        let err = parse("openvidu:\n  analytics:\n    redis: {enabled: true, modes: json}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("redis"), "{err}");
        assert!(err.contains("modes"), "{err}");
        let err = parse("openvidu:\n  analytics:\n    redis: {mode: fast}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("mode"), "{err}");
    }

    #[test]
    fn sentinel_needs_addresses_and_addresses_need_ports() {
        let on = "openvidu:\n  analytics:\n    redis: {enabled: true}\n";
        let err = parse(&format!("redis: {{sentinel_master_name: m}}\n{on}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("redis.sentinel_addresses"), "{err}");
        let err = parse(&format!("redis: {{address: localhost}}\n{on}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("localhost"), "{err}");
        parse(&format!(
            "redis: {{cluster_addresses: ['10.0.0.1:7000', '[::1]:7001']}}\n{on}"
        ))
        .unwrap();
    }

    #[test]
    fn tls_reads_livekits_keys_and_names_what_it_cannot_do() {
        let on = "openvidu:\n  analytics:\n    redis: {enabled: true}\n";
        let config = parse(&format!(
            "redis:\n  address: 'h:6380'\n  tls: {{enabled: true, insecure: false, \
             ca_cert_file: ca.pem, client_cert_file: c.pem, client_key_file: c.key}}\n{on}"
        ))
        .unwrap();
        let tls = config.redis.unwrap().tls.unwrap();
        assert!(tls.enabled && !tls.insecure);
        assert_eq!(tls.ca_cert_file.unwrap().to_str(), Some("ca.pem"));
        assert_eq!(tls.client_key_file.unwrap().to_str(), Some("c.key"));
        // Not LiveKit's key names: refused, naming the expected ones.
        let err = parse(&format!(
            "redis: {{address: 'h:1', tls: {{enabled: true, insecure_skip_verify: true}}}}\n{on}"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("redis.tls") && err.contains("insecure_skip_verify"),
            "{err}"
        );
        assert!(err.contains("`insecure`"), "{err}");
        let err = parse(&format!(
            "redis: {{address: 'h:1', tls: {{enabled: true, client_cert_file: c.pem}}}}\n{on}"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("client_key_file"), "{err}");
        let err = parse(&format!(
            "redis: {{address: 'h:1', tls: {{enabled: true, server_name: r.example}}}}\n{on}"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("redis.tls.server_name"), "{err}");
        // Disabled: ignored, as LiveKit ignores it.
        parse(&format!(
            "redis: {{address: 'h:1', tls: {{enabled: false, server_name: x}}}}\n{on}"
        ))
        .unwrap();
    }

    #[test]
    fn split_addresses() {
        assert_eq!(split_address("h:1"), Some(("h".into(), 1)));
        assert_eq!(split_address("[::1]:6379"), Some(("::1".into(), 6379)));
        assert_eq!(split_address("h"), None);
        assert_eq!(split_address(":1"), None);
    }
}
