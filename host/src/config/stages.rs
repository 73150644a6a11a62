//! What each stage reads of the whole configuration, built here so that the stages never
//! import the root: the sinks a configuration enables ([`Config::sinks`]), the doors'
//! settings ([`Config::doors`]), and the MongoDB sink's settings, whose keys are the fork's
//! flat keys of [`AnalyticsConfig`] (`mongo_url`, `database` or `mongo_database`).

use super::{mask_url, AnalyticsConfig, Config, MongoSinkConfig};
use crate::ingest::DoorSettings;
use crate::sinks::redis::config::RedisTarget;
use crate::sinks::SinkConfig;
use anyhow::bail;

impl Config {
    /// The sinks this configuration enables, in order: MongoDB, Redis, the file store, then
    /// each enabled plugin. None when `openvidu.analytics.enabled` is false.
    pub fn sinks(&self) -> Vec<Box<dyn SinkConfig>> {
        let analytics = &self.analytics;
        let mut sinks: Vec<Box<dyn SinkConfig>> = Vec::new();
        if !analytics.enabled {
            return sinks;
        }
        if let Some(mongo) = analytics.mongo_sink() {
            sinks.push(Box::new(mongo));
        }
        if let Some(redis) =
            RedisTarget::from_sections(self.redis.as_ref(), analytics.redis.as_ref())
        {
            sinks.push(Box::new(redis));
        }
        if self.file_store_enabled() {
            sinks.push(Box::new(analytics.file.clone()));
        }
        for plugin in analytics.plugins.iter().filter(|p| p.enabled) {
            sinks.push(Box::new(plugin.clone()));
        }
        sinks
    }

    /// What the ingest doors read: their section, the API keys and the keys that shape the
    /// items they make.
    pub fn doors(&self) -> DoorSettings {
        let a = &self.analytics;
        DoorSettings {
            source: self.source.clone(),
            keys: self.keys.clone(),
            enabled: a.enabled,
            ingest: a.ingest.clone(),
            node_id: a.node_id.clone(),
            expiration: a.expiration,
            interval: a.interval,
            document_format: a.document_format,
        }
    }
}

impl AnalyticsConfig {
    /// The MongoDB sink's settings, when `mongo_url` is set (which enables the sink).
    pub fn mongo_sink(&self) -> Option<MongoSinkConfig> {
        self.mongo_url.as_ref().map(|url| MongoSinkConfig {
            url: url.clone(),
            database: self.database().to_owned(),
        })
    }

    /// The MongoDB database: `database` (the fork's key), else `mongo_database` (the
    /// host's earlier name), else `openvidu`. `validate_mongo` refuses the two set
    /// differently.
    pub fn database(&self) -> &str {
        self.database
            .as_deref()
            .or(self.mongo_database.as_deref())
            .unwrap_or(DEFAULT_DATABASE)
    }
}

/// The database when neither `database` nor `mongo_database` is set.
pub const DEFAULT_DATABASE: &str = "openvidu";

/// Checks `mongo_url`, `database` and `mongo_database`; `key` names a key of
/// `openvidu.analytics`.
pub(super) fn validate_mongo(
    analytics: &AnalyticsConfig,
    key: impl Fn(&str) -> String,
) -> anyhow::Result<()> {
    if let Some(url) = &analytics.mongo_url {
        if !(url.starts_with("mongodb://") || url.starts_with("mongodb+srv://")) {
            bail!(
                "{}: `{}` is not a MongoDB connection string (mongodb://… or mongodb+srv://…)",
                key("mongo_url"),
                mask_url(url)
            );
        }
    }
    if let (Some(database), Some(alias)) = (&analytics.database, &analytics.mongo_database) {
        if database != alias {
            bail!(
                "{}: `{database}`, but mongo_database (its earlier name) says `{alias}`; \
                 keep one of the two",
                key("database")
            );
        }
    }
    for (name, value) in [
        ("database", &analytics.database),
        ("mongo_database", &analytics.mongo_database),
    ] {
        let Some(value) = value.as_deref() else {
            continue;
        };
        if value.is_empty() {
            bail!("{}: must not be empty", key(name));
        }
        // MongoDB's own rules for database names.
        if let Some(c) = value.chars().find(|c| "/\\. \"$\0".contains(*c)) {
            bail!(
                "{}: `{value}` is not a MongoDB database name (it must not contain {c:?})",
                key(name)
            );
        }
        if value.len() > 63 {
            bail!("{}: `{value}` is longer than MongoDB's 63 bytes", key(name));
        }
    }
    Ok(())
}
