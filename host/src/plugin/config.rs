//! `openvidu.analytics.plugins`: WebAssembly component sinks, each with its own settings,
//! capability grants (denied by default) and resource limits.

use crate::settings::{bytes, duration};
use anyhow::bail;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::path::PathBuf;
use std::time::Duration;

/// One plugin sink.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// Unique name, used in logs and metrics and as the sink's name.
    pub name: String,
    /// Path of the component (`.wasm`); relative to the config file's folder.
    pub path: PathBuf,
    /// The plugin's own settings, handed to `initialize-database` in this order.
    #[serde(default, skip_serializing_if = "PluginSettings::is_empty")]
    pub config: PluginSettings,
    /// Capabilities given to the plugin; nothing beyond logging unless listed.
    #[serde(default)]
    pub grants: Grants,
    /// Resource limits of each call.
    #[serde(default)]
    pub limits: PluginLimits,
    /// `false` keeps the entry but does not load it.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

/// The plugin's `config` map: (key, value) pairs in file order. YAML numbers and booleans
/// become their text; nested maps and lists are refused.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PluginSettings(pub Vec<(String, String)>);

impl PluginSettings {
    /// No settings.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> Deserialize<'de> for PluginSettings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let map = serde_yaml::Mapping::deserialize(deserializer)?;
        let mut pairs = Vec::with_capacity(map.len());
        for (key, value) in map {
            let key = scalar_text(&key)
                .ok_or_else(|| D::Error::custom("plugin config keys must be strings"))?;
            let value = scalar_text(&value).ok_or_else(|| {
                D::Error::custom(format!(
                    "plugin config `{key}`: values must be strings, numbers or booleans"
                ))
            })?;
            pairs.push((key, value));
        }
        Ok(PluginSettings(pairs))
    }
}

impl Serialize for PluginSettings {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

fn scalar_text(value: &serde_yaml::Value) -> Option<String> {
    match value {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Capabilities granted to a plugin. Everything not listed is denied.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// Host directories the plugin may open (WASI preopens).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dirs: Vec<DirGrant>,
    /// Hosts (`name` or `name:port`) the plugin may send HTTP requests to (`wasi:http`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<String>,
    /// Names of host environment variables the plugin may read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
}

/// One preopened directory.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DirGrant {
    /// The directory on the host; relative to the config file's folder.
    pub host: PathBuf,
    /// The path the plugin sees it as (e.g. `/data`).
    pub guest: String,
    /// `true`: the plugin may read but not write.
    #[serde(default)]
    pub read_only: bool,
}

/// Per-plugin limits.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PluginLimits {
    /// Longest one call (`initialize-database`, `send-batch`) may run; then the instance is
    /// thrown away and the batch retried.
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: Duration,
    /// Largest linear memory of the instance, in bytes (`67108864`) or with a unit
    /// (`64MiB`, `512KiB`, `1GiB`, `100MB`).
    #[serde(
        default = "default_memory",
        deserialize_with = "bytes::deserialize",
        serialize_with = "bytes::serialize"
    )]
    pub memory: u64,
}

impl Default for PluginLimits {
    fn default() -> Self {
        PluginLimits {
            timeout: default_timeout(),
            memory: default_memory(),
        }
    }
}

fn default_true() -> bool {
    true
}
fn default_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_memory() -> u64 {
    256 << 20
}

/// Checks the plugin list; `key` turns `plugins[0].name` into a full key for messages.
pub fn validate(plugins: &[PluginConfig], key: impl Fn(&str) -> String) -> anyhow::Result<()> {
    let mut names = std::collections::BTreeSet::new();
    for (i, plugin) in plugins.iter().enumerate() {
        let at = |field: &str| key(&format!("plugins[{i}].{field}"));
        let name = &plugin.name;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            bail!(
                "{}: `{name}` must be non-empty letters, digits, `-` or `_`",
                at("name")
            );
        }
        if matches!(name.as_str(), "mongo" | "file" | "redis") || !names.insert(name.clone()) {
            bail!("{}: `{name}` is already used by another sink", at("name"));
        }
        if !plugin.enabled {
            continue;
        }
        if !plugin.path.is_file() {
            bail!(
                "{}: `{}` is not a readable file",
                at("path"),
                plugin.path.display()
            );
        }
        for (j, dir) in plugin.grants.dirs.iter().enumerate() {
            if !dir.host.is_dir() {
                bail!(
                    "{}: `{}` is not a directory",
                    at(&format!("grants.dirs[{j}].host")),
                    dir.host.display()
                );
            }
            if dir.guest.is_empty() {
                bail!(
                    "{}: must not be empty",
                    at(&format!("grants.dirs[{j}].guest"))
                );
            }
        }
        for (j, host) in plugin.grants.http.iter().enumerate() {
            if host.is_empty() || host.contains('/') || host.contains(char::is_whitespace) {
                bail!(
                    "{}: `{host}` must be a host name, optionally with `:port` (no scheme, no path)",
                    at(&format!("grants.http[{j}]"))
                );
            }
        }
        if plugin.limits.timeout.is_zero() {
            bail!("{}: must be greater than zero", at("limits.timeout"));
        }
        if plugin.limits.memory < (1 << 16) {
            bail!(
                "{}: `{}` is less than one WebAssembly page (64KiB)",
                at("limits.memory"),
                plugin.limits.memory
            );
        }
    }
    Ok(())
}

/// Makes the plugins' relative paths (component, granted directories) absolute with `resolve`.
pub fn resolve_paths(plugins: &mut [PluginConfig], resolve: impl Fn(&std::path::Path) -> PathBuf) {
    for plugin in plugins {
        plugin.path = resolve(&plugin.path);
        for dir in &mut plugin.grants.dirs {
            dir.host = resolve(&dir.host);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(bytes::parse("65536"), Ok(65536));
        assert_eq!(bytes::parse("64MiB"), Ok(64 << 20));
        assert_eq!(bytes::parse("2 GiB"), Ok(2 << 30));
        assert_eq!(bytes::parse("100MB"), Ok(100_000_000));
        assert!(bytes::parse("12XB").unwrap_err().contains("unknown unit"));
        assert!(bytes::parse("MiB").is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = serde_yaml::from_str::<PluginConfig>("name: a\npath: a.wasm\nlimit: {}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("limit"), "{err}");
        let err = serde_yaml::from_str::<PluginConfig>(
            "name: a\npath: a.wasm\nconfig: { nested: { x: 1 } }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("nested"), "{err}");
    }
}
