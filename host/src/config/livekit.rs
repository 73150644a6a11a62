//! The parts of LiveKit's own configuration that the host reuses: API keys and Redis.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// LiveKit's top-level `redis:` section, with livekit-server's key names.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct LiveKitRedisConfig {
    /// `host:port` of a single Redis.
    #[serde(default)]
    pub address: String,
    /// ACL user name.
    #[serde(default)]
    pub username: String,
    /// Password (masked when printed).
    #[serde(default)]
    pub password: String,
    /// Database number.
    #[serde(default)]
    pub db: i64,
    /// Connect with TLS.
    #[serde(default)]
    pub use_tls: bool,
    /// Sentinel master name; with `sentinel_addresses`, selects sentinel mode.
    #[serde(default)]
    pub sentinel_master_name: String,
    /// Sentinel user name.
    #[serde(default)]
    pub sentinel_username: String,
    /// Sentinel password (masked when printed).
    #[serde(default)]
    pub sentinel_password: String,
    /// `host:port` of each sentinel.
    #[serde(default)]
    pub sentinel_addresses: Vec<String>,
    /// `host:port` of cluster nodes; selects cluster mode.
    #[serde(default)]
    pub cluster_addresses: Vec<String>,
    /// Cluster redirect limit.
    #[serde(default)]
    pub max_redirects: Option<u32>,
}

/// API keys from `keys:` and `key_file:`, as livekit-server loads them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiKeys(pub BTreeMap<String, String>);

impl ApiKeys {
    /// The secret of an API key, if the key is known.
    pub fn secret(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Whether no key is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The LiveKit keys as found in the file, before `key_file` is read.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct RawKeys {
    #[serde(default)]
    pub keys: BTreeMap<String, String>,
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}
