//! `openvidu.analytics.api`: the read API on the telemetry listener.

use serde::{Deserialize, Serialize};

/// The read API's settings.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Serve `/api/*` on the telemetry listener (default `true`).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// When set, every request needs `Authorization: Bearer <token>`. Required when the
    /// telemetry listener is not on loopback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

fn default_true() -> bool {
    true
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            enabled: true,
            token: None,
        }
    }
}
