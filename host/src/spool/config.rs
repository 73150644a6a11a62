//! `openvidu.analytics.spool`: the optional on-disk spool that makes accepted items survive
//! a crash (see `docs/spool.md`).

use crate::settings::ConfigSource;
use anyhow::bail;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The on-disk spool. Absent: items live only in memory until stored.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    /// Directory of the spool database (created if missing).
    pub dir: PathBuf,
    /// Bytes of spooled items (encoded) above which the `full` policy applies.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// What `accept` does when the spool is full.
    #[serde(default)]
    pub full: SpoolFullPolicy,
}

/// What a full spool does with new items.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SpoolFullPolicy {
    /// Refuse new items at the door (webhook 503, gRPC RESOURCE_EXHAUSTED) so the sender retries.
    #[default]
    Reject,
    /// Delete the oldest spooled items to make room; they stay queued in memory but are no
    /// longer crash-safe.
    DropOldest,
}

fn default_max_bytes() -> u64 {
    1024 * 1024 * 1024
}

/// Checks the section, naming `source` and the key in errors.
pub fn validate(spool: Option<&SpoolConfig>, source: &ConfigSource) -> anyhow::Result<()> {
    let Some(spool) = spool else {
        return Ok(());
    };
    if spool.dir.as_os_str().is_empty() {
        bail!("{source}: openvidu.analytics.spool.dir: must not be empty");
    }
    if spool.max_bytes == 0 {
        bail!("{source}: openvidu.analytics.spool.max_bytes: must be at least 1 (got `0`)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn parse(text: &str) -> anyhow::Result<Config> {
        Config::parse(text, ConfigSource::Inline("test".into()))
    }

    #[test]
    fn absent_means_memory_only_and_defaults_apply() {
        assert_eq!(parse("").unwrap().analytics.spool, None);
        let config =
            parse("openvidu:\n  analytics:\n    spool:\n      dir: /var/spool/a\n").unwrap();
        let spool = config.analytics.spool.clone().unwrap();
        assert_eq!(spool.dir, PathBuf::from("/var/spool/a"));
        assert_eq!(spool.max_bytes, 1 << 30);
        assert_eq!(spool.full, SpoolFullPolicy::Reject);
        assert!(config.describe().contains("spool:"));
        let config = parse(
            "openvidu:\n  analytics:\n    spool: {dir: s, max_bytes: 1000, full: drop_oldest}\n",
        )
        .unwrap();
        assert_eq!(
            config.analytics.spool.unwrap().full,
            SpoolFullPolicy::DropOldest
        );
    }

    #[test]
    fn bad_values_are_named() {
        let err = |text: &str| parse(text).unwrap_err().to_string();
        let e = err("openvidu:\n  analytics:\n    spool: {dir: s, size: 1}\n");
        assert!(e.contains("spool") && e.contains("size"), "{e}");
        let e = err("openvidu:\n  analytics:\n    spool: {dir: s, max_bytes: 0}\n");
        assert!(e.contains("openvidu.analytics.spool.max_bytes"), "{e}");
        let e = err("openvidu:\n  analytics:\n    spool: {dir: s, full: block}\n");
        assert!(e.contains("full") && e.contains("block"), "{e}");
        let e = err("openvidu:\n  analytics:\n    spool: {dir: ''}\n");
        assert!(e.contains("spool.dir"), "{e}");
        let e = err("openvidu:\n  analytics:\n    spool: {}\n");
        assert!(e.contains("dir"), "{e}");
    }
}
