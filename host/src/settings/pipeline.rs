//! Settings of the pipeline that more than one stage reads: what a full queue does (the
//! queues and the pipeline), and the backoff between failed attempts (the workers). They
//! are keys of `openvidu.analytics` (`queue.overflow`, `retry`).

use super::duration;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What a full queue does with a new item. Only `reject` (the default) keeps the promise
/// of an acknowledgement: an item the host answered 200 / OK for is stored, whatever
/// arrives next. The two `drop_*` policies are explicit, lossy choices.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OverflowPolicy {
    /// Lossy: drop the oldest queued item to make room (an item already acknowledged).
    DropOldest,
    /// Lossy: drop the new item after acknowledging it (the sender cannot tell).
    DropNewest,
    /// Refuse the new item at the door (webhook 503 with `Retry-After`, gRPC
    /// RESOURCE_EXHAUSTED) so the sender keeps it and retries; nothing acknowledged is
    /// evicted.
    #[default]
    Reject,
}

/// Exponential backoff with jitter.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// First wait after a failure.
    #[serde(default = "default_initial_backoff", with = "duration")]
    pub initial_backoff: Duration,
    /// Longest wait.
    #[serde(default = "default_max_backoff", with = "duration")]
    pub max_backoff: Duration,
}

fn default_initial_backoff() -> Duration {
    Duration::from_secs(1)
}
fn default_max_backoff() -> Duration {
    Duration::from_secs(60)
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            initial_backoff: default_initial_backoff(),
            max_backoff: default_max_backoff(),
        }
    }
}
