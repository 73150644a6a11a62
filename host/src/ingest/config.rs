//! `openvidu.analytics.ingest`: the doors through which LiveKit data comes in.

use super::tls::TlsConfig;
use crate::listener::ConnectionLimits;
use crate::settings::{bytes, duration};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;

/// The ingest doors: LiveKit webhooks, the gRPC analytics stream and the Prometheus scrape.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// The webhook receiver (livekit-server's `webhook.urls` points here).
    #[serde(default)]
    pub webhook: WebhookConfig,
    /// The gRPC `livekit.AnalyticsRecorderService` server.
    #[serde(default)]
    pub grpc: GrpcConfig,
    /// Scraping livekit-server's Prometheus metrics into node-level documents.
    #[serde(default)]
    pub prometheus: PrometheusConfig,
}

/// The HTTP webhook receiver.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Whether the receiver runs.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Address to listen on (loopback by default).
    #[serde(default = "default_webhook_listen")]
    pub listen: SocketAddr,
    /// URL path that receives the POSTs.
    #[serde(default = "default_webhook_path")]
    pub path: String,
    /// Largest accepted body; larger requests get 413.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// TLS (HTTPS) with these files; absent: plain HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// Longest a request's body may take to arrive once its headers have; past it the
    /// request gets 408 and nothing of it is stored.
    #[serde(default = "default_body_read_timeout", with = "duration")]
    pub body_read_timeout: Duration,
    /// How many connections, and how long each may stay silent.
    #[serde(default)]
    pub connections: ConnectionLimits,
}

/// The gRPC analytics stream server.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcConfig {
    /// Whether the server runs.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Address to listen on (loopback by default).
    #[serde(default = "default_grpc_listen")]
    pub listen: SocketAddr,
    /// Shared secret: when set, every call must carry `authorization: Bearer <token>`
    /// metadata, or it fails with UNAUTHENTICATED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Lets the server listen on a non-loopback address without a `token`: anyone who
    /// reaches the port can then write analytics. Off by default (such a config is refused).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_unauthenticated: bool,
    /// TLS with these files (with `client_ca_file`: mutual TLS); absent: plaintext.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// Largest encoded message (a number or `4MiB`); a larger one ends the stream with
    /// OUT_OF_RANGE before it is read into memory. livekit-server's export sends one
    /// `SendStats`/`SendEvent` call's records per message: a few KiB.
    #[serde(
        default = "default_max_message_bytes",
        deserialize_with = "bytes::deserialize",
        serialize_with = "bytes::serialize"
    )]
    pub max_message_bytes: u64,
    /// Most records in one `AnalyticsEvents`/`AnalyticsStats` message; a message with more is
    /// refused whole with INVALID_ARGUMENT, counted before any item is built.
    #[serde(default = "default_max_message_records")]
    pub max_message_records: usize,
    /// Most memory the items of one message may take (a number or `16MiB`: 4 ×
    /// `max_message_bytes` by default); past it the message is refused whole with
    /// INVALID_ARGUMENT while its items are built.
    #[serde(
        default = "default_max_message_item_bytes",
        deserialize_with = "bytes::deserialize",
        serialize_with = "bytes::serialize"
    )]
    pub max_message_item_bytes: u64,
    /// Longest wait for a stream's next message (or its end), and for a started message's
    /// remaining bytes; past it the stream ends with DEADLINE_EXCEEDED (what it delivered
    /// before stays accepted).
    #[serde(default = "default_message_timeout", with = "duration")]
    pub message_timeout: Duration,
    /// How often the server pings an HTTP/2 connection; one that does not answer within
    /// `keepalive_timeout` is closed.
    #[serde(default = "default_keepalive_interval", with = "duration")]
    pub keepalive_interval: Duration,
    /// How long a keep-alive ping may go unanswered.
    #[serde(default = "default_keepalive_timeout", with = "duration")]
    pub keepalive_timeout: Duration,
    /// How many connections, and how long each may stay silent (pings answered count as
    /// traffic).
    #[serde(default)]
    pub connections: ConnectionLimits,
}

/// The Prometheus scrape of livekit-server (`prometheus_port` in its config).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    /// Metrics URL, e.g. `http://127.0.0.1:6789/metrics`; unset: no scrape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// How often to scrape.
    #[serde(default = "default_scrape_interval", with = "duration")]
    pub interval: Duration,
}

fn default_true() -> bool {
    true
}
fn default_webhook_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7890))
}
fn default_webhook_path() -> String {
    "/webhook".into()
}
fn default_max_body_bytes() -> usize {
    1024 * 1024
}
fn default_grpc_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7891))
}
fn default_body_read_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_message_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_keepalive_interval() -> Duration {
    Duration::from_secs(30)
}
fn default_keepalive_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_max_message_bytes() -> u64 {
    4 << 20
}
fn default_max_message_records() -> usize {
    10_000
}
fn default_max_message_item_bytes() -> u64 {
    16 << 20
}
fn default_scrape_interval() -> Duration {
    Duration::from_secs(10)
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: default_webhook_listen(),
            path: default_webhook_path(),
            max_body_bytes: default_max_body_bytes(),
            tls: None,
            body_read_timeout: default_body_read_timeout(),
            connections: ConnectionLimits::default(),
        }
    }
}
impl Default for GrpcConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: default_grpc_listen(),
            token: None,
            allow_unauthenticated: false,
            tls: None,
            max_message_bytes: default_max_message_bytes(),
            max_message_records: default_max_message_records(),
            max_message_item_bytes: default_max_message_item_bytes(),
            message_timeout: default_message_timeout(),
            keepalive_interval: default_keepalive_interval(),
            keepalive_timeout: default_keepalive_timeout(),
            connections: ConnectionLimits::default(),
        }
    }
}
impl Default for PrometheusConfig {
    fn default() -> Self {
        Self {
            url: None,
            interval: default_scrape_interval(),
        }
    }
}

impl IngestConfig {
    /// Checks values serde cannot; `key` names a key in errors.
    pub fn validate(&self, key: impl Fn(&str) -> String) -> anyhow::Result<()> {
        if !self.webhook.path.starts_with('/') {
            anyhow::bail!(
                "{}: must start with `/` (got `{}`)",
                key("ingest.webhook.path"),
                self.webhook.path
            );
        }
        if self.webhook.max_body_bytes == 0 {
            anyhow::bail!(
                "{}: must be at least 1 (got `0`)",
                key("ingest.webhook.max_body_bytes")
            );
        }
        let grpc = &self.grpc;
        self.webhook
            .connections
            .validate(&key("ingest.webhook.connections"))?;
        grpc.connections.validate(&key("ingest.grpc.connections"))?;
        for (name, value) in [
            (
                "ingest.webhook.body_read_timeout",
                self.webhook.body_read_timeout,
            ),
            ("ingest.grpc.message_timeout", grpc.message_timeout),
            ("ingest.grpc.keepalive_interval", grpc.keepalive_interval),
            ("ingest.grpc.keepalive_timeout", grpc.keepalive_timeout),
        ] {
            if value.is_zero() {
                anyhow::bail!("{}: must be greater than zero (got `0`)", key(name));
            }
        }
        for (name, value) in [
            ("ingest.grpc.max_message_bytes", grpc.max_message_bytes),
            (
                "ingest.grpc.max_message_records",
                grpc.max_message_records as u64,
            ),
            (
                "ingest.grpc.max_message_item_bytes",
                grpc.max_message_item_bytes,
            ),
        ] {
            if value == 0 {
                anyhow::bail!("{}: must be at least 1 (got `0`)", key(name));
            }
        }
        if grpc.max_message_bytes > u64::from(u32::MAX) {
            anyhow::bail!(
                "{}: at most 4GiB (a gRPC message's length is 32 bits; got `{}`)",
                key("ingest.grpc.max_message_bytes"),
                grpc.max_message_bytes
            );
        }
        let mutual_tls = grpc
            .tls
            .as_ref()
            .is_some_and(|t| t.client_ca_file.is_some());
        if grpc.enabled
            && !grpc.listen.ip().is_loopback()
            && grpc.token.as_deref().unwrap_or("").is_empty()
            && !mutual_tls
            && !grpc.allow_unauthenticated
        {
            anyhow::bail!(
                "{}: `{}` is reachable from other machines but ingest.grpc.token is not set, so \
                 anyone who reaches the port could write analytics. Set ingest.grpc.token (and \
                 the same token in the sender), require client certificates \
                 (ingest.grpc.tls.client_ca_file), listen on a loopback address, or set \
                 ingest.grpc.allow_unauthenticated: true",
                key("ingest.grpc.listen"),
                grpc.listen
            );
        }
        if self.prometheus.interval.is_zero() {
            anyhow::bail!(
                "{}: must be greater than zero (got `0`)",
                key("ingest.prometheus.interval")
            );
        }
        if let Some(url) = &self.prometheus.url {
            if !url.starts_with("http://") {
                anyhow::bail!(
                    "{}: `{url}` is not an http:// URL",
                    key("ingest.prometheus.url")
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigSource};

    fn parse(ingest: &str) -> anyhow::Result<Config> {
        let yaml = format!("openvidu:\n  analytics:\n    ingest:\n{ingest}\n");
        Config::parse(&yaml, ConfigSource::Inline("test".into()))
    }

    #[test]
    fn defaults_are_loopback() {
        let config = parse("      {}").unwrap();
        let ingest = &config.analytics.ingest;
        assert!(ingest.webhook.listen.ip().is_loopback());
        assert!(ingest.grpc.listen.ip().is_loopback());
        assert_eq!(ingest.webhook.path, "/webhook");
        assert!(ingest.prometheus.url.is_none());
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let err = parse("      webhook:\n        lisen: 1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("ingest.webhook"), "{err}");
        assert!(err.contains("lisen"), "{err}");
        let err = parse("      webhook:\n        path: hook")
            .unwrap_err()
            .to_string();
        assert!(err.contains("ingest.webhook.path"), "{err}");
        let err = parse("      prometheus:\n        url: ftp://x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("ingest.prometheus.url"), "{err}");
        let err = parse("      grpc:\n        listen: nowhere")
            .unwrap_err()
            .to_string();
        assert!(err.contains("ingest.grpc.listen"), "{err}");
    }

    #[test]
    fn a_grpc_door_open_to_other_machines_needs_a_token() {
        let err = parse("      grpc:\n        listen: \"0.0.0.0:7891\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("openvidu.analytics.ingest.grpc.listen"),
            "{err}"
        );
        assert!(err.contains("0.0.0.0:7891"), "{err}");
        assert!(err.contains("ingest.grpc.token"), "{err}");
        assert!(err.contains("allow_unauthenticated"), "{err}");
        for ok in [
            "      grpc:\n        listen: \"0.0.0.0:7891\"\n        token: t",
            "      grpc:\n        listen: \"0.0.0.0:7891\"\n        allow_unauthenticated: true",
            "      grpc:\n        listen: \"[::1]:7891\"",
            "      grpc:\n        listen: \"0.0.0.0:7891\"\n        enabled: false",
        ] {
            parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn the_grpc_token_is_masked() {
        let config = parse("      grpc:\n        token: s3cret").unwrap();
        let described = config.describe();
        assert!(!described.contains("s3cret"), "{described}");
    }
}
