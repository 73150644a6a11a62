//! What a reload changes: the sinks (by name and fingerprint), the doors, the telemetry
//! endpoint, and the settings that only a restart applies.

use crate::config::Config;
use crate::sinks::SinkConfig;
use anyhow::Context;
use std::collections::BTreeMap;

/// Each configured sink's fingerprint, by sink name (see [`SinkConfig::fingerprint`]).
pub type Fingerprints = BTreeMap<String, String>;

/// The sinks `config` enables, with their fingerprints; fails when one cannot be read
/// (a plugin file missing).
pub fn sinks(config: &Config) -> anyhow::Result<Vec<(Box<dyn SinkConfig>, String)>> {
    config
        .sinks()
        .into_iter()
        .map(|sink| {
            let fingerprint = sink
                .fingerprint()
                .with_context(|| format!("{}: {}", config.source, sink.key()))?;
            Ok((sink, fingerprint))
        })
        .collect()
}

/// The fingerprints of `sinks`.
pub fn fingerprints(sinks: &[(Box<dyn SinkConfig>, String)]) -> Fingerprints {
    sinks
        .iter()
        .map(|(sink, fingerprint)| (sink.name(), fingerprint.clone()))
        .collect()
}

/// The sinks of a new configuration sorted by what a reload does to them.
#[derive(Debug, Default)]
pub struct SinkPlan {
    /// Not running now: built and started.
    pub added: Vec<Box<dyn SinkConfig>>,
    /// Running with other settings (or another plugin build): built and swapped in.
    pub changed: Vec<Box<dyn SinkConfig>>,
    /// Running and not configured any more: drained and stopped.
    pub removed: Vec<String>,
    /// Running with the same settings: left alone.
    pub unchanged: Vec<String>,
}

impl SinkPlan {
    /// Compares the running sinks' fingerprints with the new configuration's sinks.
    pub fn new(running: &Fingerprints, next: Vec<(Box<dyn SinkConfig>, String)>) -> SinkPlan {
        let mut plan = SinkPlan::default();
        for (sink, fingerprint) in next {
            match running.get(&sink.name()) {
                None => plan.added.push(sink),
                Some(old) if *old != fingerprint => plan.changed.push(sink),
                Some(_) => plan.unchanged.push(sink.name()),
            }
        }
        let kept: Vec<String> = plan
            .added
            .iter()
            .chain(&plan.changed)
            .map(|s| s.name())
            .chain(plan.unchanged.iter().cloned())
            .collect();
        plan.removed = running
            .keys()
            .filter(|name| !kept.contains(name))
            .cloned()
            .collect();
        plan
    }

    /// Whether the sinks stay as they are.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }

    /// One line for the log: `added [a], changed [b], removed [c]`.
    pub fn summary(&self) -> String {
        let names = |sinks: &[Box<dyn SinkConfig>]| {
            sinks
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "added [{}], changed [{}], removed [{}], unchanged [{}]",
            names(&self.added),
            names(&self.changed),
            self.removed.join(", "),
            self.unchanged.join(", ")
        )
    }
}

/// What the doors are started from: when it changes, a reload rebinds them (`interval` is
/// the webhook door's `Retry-After`).
pub fn doors(config: &Config) -> String {
    let a = &config.analytics;
    format!(
        "{:?} {:?} {:?} {:?} {:?} {} {:?}",
        a.ingest, config.keys, a.node_id, a.expiration, a.document_format, a.enabled, a.interval
    )
}

/// What the telemetry endpoint is started from (the read API on it follows a reload
/// without a rebind).
pub fn telemetry(config: &Config) -> String {
    format!("{:?}", config.analytics.telemetry)
}

/// The settings a reload cannot change (the queues and the spool are built once), named
/// when they differ between `running` and `next`.
pub fn restart_only(running: &Config, next: &Config) -> Vec<&'static str> {
    let (a, b) = (&running.analytics, &next.analytics);
    let mut keys = Vec::new();
    if format!("{:?}", a.queue) != format!("{:?}", b.queue) {
        keys.push("openvidu.analytics.queue");
    }
    if format!("{:?}", a.spool) != format!("{:?}", b.spool) {
        keys.push("openvidu.analytics.spool");
    }
    keys
}

/// What the active-entities fixer runs from: a reload that changes it restarts the fixer.
pub fn fixer(config: &Config) -> String {
    let a = &config.analytics;
    format!(
        "{:?}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        a.mongo_url,
        a.database(),
        a.livekit_url,
        a.fixer_period(),
        a.expiration,
        a.enabled,
        config.keys.0,
        config.redis.as_ref().map(|r| format!("{r:?}"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigSource;

    fn config(yaml: &str) -> Config {
        Config::parse(yaml, ConfigSource::Inline("test".into())).unwrap()
    }

    #[test]
    fn sinks_are_sorted_by_name_and_fingerprint() {
        let dir = std::env::temp_dir();
        let old = config(&format!(
            "openvidu: {{analytics: {{mongo_url: 'mongodb://a:1', file: {{enabled: true, dir: '{}'}}}}}}",
            dir.join("a").display()
        ));
        let running = fingerprints(&sinks(&old).unwrap());
        assert_eq!(running.keys().collect::<Vec<_>>(), ["file", "mongo"]);
        let new = config(&format!(
            "openvidu: {{analytics: {{mongo_url: 'mongodb://b:1', file: {{enabled: true, dir: '{}'}}}}}}",
            dir.join("a").display()
        ));
        let plan = SinkPlan::new(&running, sinks(&new).unwrap());
        assert_eq!(
            plan.changed.iter().map(|s| s.name()).collect::<Vec<_>>(),
            ["mongo"]
        );
        assert_eq!(plan.unchanged, ["file"]);
        assert!(plan.added.is_empty() && plan.removed.is_empty());
        let none = config("openvidu: {analytics: {enabled: false}}");
        let plan = SinkPlan::new(&running, sinks(&none).unwrap());
        assert_eq!(plan.removed, ["file", "mongo"]);
        assert!(restart_only(&old, &none).is_empty());
    }
}
