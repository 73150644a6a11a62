//! `connections:` of each listener (`ingest.webhook`, `ingest.grpc`, `telemetry`): how many
//! connections it holds and how long it waits for each.

use crate::settings::duration;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The bounds of one listener's connections. The defaults keep the three listeners
/// together (2 × 256 + 128 descriptors) well under systemd's `ulimit -n` of 1 024, leaving
/// the rest for the store, the spool and the sinks' own connections.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConnectionLimits {
    /// Most connections open at once. At the cap, a new connection takes the place of the
    /// oldest one that has not yet sent a whole request (it is closed); when every open
    /// connection has, the new one is closed at once.
    #[serde(default = "default_max")]
    pub max: usize,
    /// Longest a new connection may take to send its first request's headers (HTTP/1.1;
    /// for HTTP/2 and gRPC: the preface and the first request's headers); later requests'
    /// headers on the same connection too (HTTP/1.1).
    #[serde(default = "default_header_read_timeout", with = "duration")]
    pub header_read_timeout: Duration,
    /// A connection from which nothing arrives for this long is closed (a keep-alive
    /// connection between requests, a client gone silent). HTTP/2 keep-alive pings count
    /// as traffic, so a live gRPC sender's idle channel stays open.
    #[serde(default = "default_idle_timeout", with = "duration")]
    pub idle_timeout: Duration,
}

/// The limits of a listener with `max` connections and the default timeouts.
pub fn with_max(max: usize) -> ConnectionLimits {
    ConnectionLimits {
        max,
        header_read_timeout: default_header_read_timeout(),
        idle_timeout: default_idle_timeout(),
    }
}

fn default_max() -> usize {
    256
}
fn default_header_read_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_idle_timeout() -> Duration {
    Duration::from_secs(60)
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        with_max(default_max())
    }
}

impl ConnectionLimits {
    /// Checks values serde cannot; `key` is the section's key (`ingest.webhook.connections`).
    pub fn validate(&self, key: &str) -> anyhow::Result<()> {
        if self.max == 0 {
            anyhow::bail!("{key}.max: must be at least 1 (got `0`)");
        }
        for (name, value) in [
            ("header_read_timeout", self.header_read_timeout),
            ("idle_timeout", self.idle_timeout),
        ] {
            if value.is_zero() {
                anyhow::bail!("{key}.{name}: must be greater than zero (got `0`)");
            }
        }
        Ok(())
    }
}
