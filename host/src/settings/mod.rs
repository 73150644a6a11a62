//! The leaf of the configuration: value types and helpers that the stages' own sections
//! (`ingest/config.rs`, `spool/config.rs`, `sinks/<name>/config.rs`, …) and the root
//! (`config`) share. It imports nothing of the host, so every module may use it.
//!
//! - [`duration`] and [`bytes`]: how the YAML writes times (`10s`, `1h30m`) and sizes
//!   (`64MiB`);
//! - [`ConfigSource`]: where the text came from, named in every error; [`mask_url`];
//! - [`livekit`]: the parts of LiveKit's own configuration the host reuses (API keys,
//!   `redis:`);
//! - [`pipeline`]: the settings that several stages read (a full queue's policy, retry).

pub mod bytes;
pub mod duration;
pub mod livekit;
pub mod pipeline;

pub use livekit::{ApiKeys, LiveKitRedisConfig, LiveKitRedisTls};
pub use pipeline::{OverflowPolicy, RetryConfig};

use std::fmt;
use std::path::PathBuf;

/// Where the configuration text came from; named in every error.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigSource {
    /// A file given with `--config`.
    File(PathBuf),
    /// The YAML text of an environment variable (or `--config-body`).
    Inline(String),
    /// No configuration: built-in defaults.
    Defaults,
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigSource::File(path) => write!(f, "config file `{}`", path.display()),
            ConfigSource::Inline(name) => write!(f, "config from {name}"),
            ConfigSource::Defaults => write!(f, "built-in defaults"),
        }
    }
}

/// Replaces the password of a connection string with `****`.
pub fn mask_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:****{}",
            &url[..scheme_end + 3],
            &authority[..colon],
            &url[scheme_end + 3 + at..]
        ),
        _ => url.to_string(),
    }
}
