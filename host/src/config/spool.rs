//! `openvidu.analytics.spool`: the optional on-disk spool that makes accepted items survive
//! a crash (see `docs/spool.md`).

use super::ConfigSource;
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
