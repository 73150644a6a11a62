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
    /// Connect with TLS, trusting the system's roots (LiveKit: deprecated, use `tls`).
    #[serde(default)]
    pub use_tls: bool,
    /// TLS settings, as LiveKit's `redis.tls` (`xtls.Config`); wins over `use_tls` when
    /// `enabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<LiveKitRedisTls>,
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

/// LiveKit's `redis.tls` section (its `xtls.Config`, same key names). Paths are read as
/// livekit-server reads them: relative to the working directory.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LiveKitRedisTls {
    /// Connect with TLS (default `false`: the section is ignored, `use_tls` decides).
    #[serde(default)]
    pub enabled: bool,
    /// Skip the verification of the server's certificate and name.
    #[serde(default)]
    pub insecure: bool,
    /// The name to verify the server's certificate against (LiveKit's `server_name`). Not
    /// supported by the host: certificates are verified against each address's host.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub server_name: String,
    /// PEM file of the CAs to trust instead of the system's roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert_file: Option<PathBuf>,
    /// PEM file of the client certificate (chain) to present (mutual TLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert_file: Option<PathBuf>,
    /// PEM file of the client certificate's private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key_file: Option<PathBuf>,
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

/// The LiveKit keys as found in the file, before `key_file` is read (the root config reads it).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct RawKeys {
    #[serde(default)]
    pub keys: BTreeMap<String, String>,
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}
