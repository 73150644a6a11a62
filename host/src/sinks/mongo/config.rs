//! The MongoDB sink's settings. They keep the fork's flat keys,
//! `openvidu.analytics.mongo_url` and `openvidu.analytics.database` (or the host's earlier
//! `mongo_database`), so they live in [`AnalyticsConfig`] and are read from there.

use super::MongoSink;
use crate::config::{mask_url, AnalyticsConfig};
use crate::sinks::{Sink, SinkConfig, SinkContext};
use anyhow::bail;
use async_trait::async_trait;

/// Where the MongoDB sink writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MongoSinkConfig {
    /// The connection string (`mongodb://…` or `mongodb+srv://…`).
    pub url: String,
    /// The database (`openvidu` by default).
    pub database: String,
}

impl MongoSinkConfig {
    /// The sink's settings, when `mongo_url` is set (which enables the sink).
    pub fn from_analytics(analytics: &AnalyticsConfig) -> Option<Self> {
        analytics.mongo_url.as_ref().map(|url| MongoSinkConfig {
            url: url.clone(),
            database: analytics.database().to_owned(),
        })
    }
}

#[async_trait]
impl SinkConfig for MongoSinkConfig {
    fn key(&self) -> String {
        "openvidu.analytics.mongo_url".into()
    }

    fn name(&self) -> String {
        "mongo".into()
    }

    async fn build(&self, _context: &SinkContext) -> anyhow::Result<Box<dyn Sink>> {
        Ok(Box::new(
            MongoSink::connect(&self.url, &self.database).await?,
        ))
    }
}

/// The database when neither `database` nor `mongo_database` is set.
pub const DEFAULT_DATABASE: &str = "openvidu";

impl AnalyticsConfig {
    /// The MongoDB database: `database` (the fork's key), else `mongo_database` (the
    /// host's earlier name), else `openvidu`. [`validate`] refuses the two set differently.
    pub fn database(&self) -> &str {
        self.database
            .as_deref()
            .or(self.mongo_database.as_deref())
            .unwrap_or(DEFAULT_DATABASE)
    }
}

/// Checks `mongo_url`, `database` and `mongo_database`; `key` names a key of
/// `openvidu.analytics`.
pub fn validate(analytics: &AnalyticsConfig, key: impl Fn(&str) -> String) -> anyhow::Result<()> {
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
        if value.as_deref().is_some_and(str::is_empty) {
            bail!("{}: must not be empty", key(name));
        }
    }
    Ok(())
}
