//! The OpenVidu fork's own rules for its keys, as the fork that OpenVidu 3.9 ships applies
//! them: `interval`, `fixer_interval` and `expiration` written as `0` mean their defaults
//! (10 s, 1 min, 768 h = 32 days), and the active-entities fixer runs every
//! `max(2·interval + 10 s, fixer_interval)`.

use super::AnalyticsConfig;
use std::time::Duration;

/// `interval` when absent or `0`.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// `fixer_interval` when absent or `0`.
pub const DEFAULT_FIXER_INTERVAL: Duration = Duration::from_secs(60);
/// `expiration` when absent or `0`: 32 days.
pub const DEFAULT_EXPIRATION: Duration = Duration::from_secs(768 * 3600);

pub(super) fn default_fixer_interval() -> Duration {
    DEFAULT_FIXER_INTERVAL
}

pub(super) fn default_expiration() -> Duration {
    DEFAULT_EXPIRATION
}

/// Replaces a `0` `interval`, `fixer_interval` or `expiration` by its default, as the fork
/// does when it starts.
pub(super) fn zero_means_default(analytics: &mut AnalyticsConfig) {
    for (value, default) in [
        (&mut analytics.interval, DEFAULT_INTERVAL),
        (&mut analytics.fixer_interval, DEFAULT_FIXER_INTERVAL),
        (&mut analytics.expiration, DEFAULT_EXPIRATION),
    ] {
        if value.is_zero() {
            *value = default;
        }
    }
}

impl AnalyticsConfig {
    /// How often the active-entities fixer runs: `max(2·interval + 10 s, fixer_interval)`,
    /// long enough for a real end event queued on any node to be stored before the fixer
    /// would write a synthetic one.
    pub fn fixer_period(&self) -> Duration {
        (self.interval * 2 + Duration::from_secs(10)).max(self.fixer_interval)
    }
}

/// LiveKit's own default `port`.
pub const LIVEKIT_PORT: u16 = 7880;

/// The URL of LiveKit's server API from its `port` (default 7880) and the first of its
/// `bind_addresses` (default: every interface, reached on loopback).
pub fn livekit_url(port: Option<u16>, bind_addresses: &[String]) -> String {
    let port = port.unwrap_or(LIVEKIT_PORT);
    let host = match bind_addresses.first().map(|a| a.trim()) {
        None | Some("" | "0.0.0.0" | "::" | "[::]") => "127.0.0.1".to_owned(),
        Some(a) if a.contains(':') && !a.starts_with('[') => format!("[{a}]"),
        Some(a) => a.to_owned(),
    };
    format!("http://{host}:{port}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_livekit_url_follows_port_and_bind_addresses() {
        assert_eq!(livekit_url(None, &[]), "http://127.0.0.1:7880");
        assert_eq!(
            livekit_url(Some(7881), &["0.0.0.0".into()]),
            "http://127.0.0.1:7881"
        );
        assert_eq!(
            livekit_url(None, &["10.0.0.5".into()]),
            "http://10.0.0.5:7880"
        );
        assert_eq!(livekit_url(Some(1), &["::1".into()]), "http://[::1]:1");
    }

    #[test]
    fn zero_is_the_default_and_the_period_follows_the_fork() {
        let mut a: AnalyticsConfig =
            serde_yaml::from_str("interval: 0s\nfixer_interval: 0s\nexpiration: 0s\n").unwrap();
        zero_means_default(&mut a);
        assert_eq!(a.interval, Duration::from_secs(10));
        assert_eq!(a.fixer_interval, Duration::from_secs(60));
        assert_eq!(a.expiration, Duration::from_secs(32 * 24 * 3600));
        assert_eq!(a.fixer_period(), Duration::from_secs(60));
        a.interval = Duration::from_secs(30);
        assert_eq!(a.fixer_period(), Duration::from_secs(70));
        a.fixer_interval = Duration::from_secs(300);
        assert_eq!(a.fixer_period(), Duration::from_secs(300));
    }
}
