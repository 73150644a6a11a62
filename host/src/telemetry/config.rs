//! `openvidu.analytics.telemetry`: the host's own HTTP endpoint for `/metrics` (Prometheus),
//! `/health` (liveness) and `/ready` (readiness).

use crate::listener::{config::with_max, ConnectionLimits};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// The telemetry endpoint.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Whether the endpoint runs (default `true`).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Address to listen on (loopback port 7892 by default).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// How many connections (128 by default), and how long each may stay silent.
    #[serde(default = "default_connections")]
    pub connections: ConnectionLimits,
}

fn default_true() -> bool {
    true
}
fn default_connections() -> ConnectionLimits {
    with_max(128)
}
fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7892))
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: default_listen(),
            connections: default_connections(),
        }
    }
}

impl TelemetryConfig {
    /// Checks values serde cannot; `key` names a key of `openvidu.analytics`.
    pub fn validate(&self, key: impl Fn(&str) -> String) -> anyhow::Result<()> {
        self.connections.validate(&key("telemetry.connections"))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigSource};

    fn parse(telemetry: &str) -> anyhow::Result<Config> {
        let yaml = format!("openvidu:\n  analytics:\n    telemetry:\n{telemetry}\n");
        Config::parse(&yaml, ConfigSource::Inline("test".into()))
    }

    #[test]
    fn defaults_to_loopback_7892_and_can_be_turned_off() {
        let config = Config::parse("", ConfigSource::Inline("test".into())).unwrap();
        let t = &config.analytics.telemetry;
        assert!(t.enabled);
        assert_eq!(t.listen.to_string(), "127.0.0.1:7892");
        let config = parse("      enabled: false\n      listen: \"0.0.0.0:9000\"").unwrap();
        assert!(!config.analytics.telemetry.enabled);
        assert_eq!(config.analytics.telemetry.listen.port(), 9000);
    }

    #[test]
    fn unknown_keys_and_bad_addresses_name_the_key() {
        let err = parse("      port: 1").unwrap_err().to_string();
        assert!(err.contains("telemetry") && err.contains("port"), "{err}");
        let err = parse("      listen: nowhere").unwrap_err().to_string();
        assert!(err.contains("telemetry.listen"), "{err}");
    }
}
