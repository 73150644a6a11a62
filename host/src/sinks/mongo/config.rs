//! The MongoDB sink's settings. They keep the fork's flat keys,
//! `openvidu.analytics.mongo_url` and `openvidu.analytics.mongo_database`, so they live in
//! [`AnalyticsConfig`] and are read from there.

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
            database: analytics.mongo_database.clone(),
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

/// Checks `mongo_url` and `mongo_database`; `key` names a key of `openvidu.analytics`.
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
    let database = &analytics.mongo_database;
    if database.is_empty() {
        bail!("{}: must not be empty", key("mongo_database"));
    }
    // MongoDB's own rules for database names.
    if let Some(c) = database.chars().find(|c| "/\\. \"$\0".contains(*c)) {
        bail!(
            "{}: `{database}` is not a MongoDB database name (it must not contain {c:?})",
            key("mongo_database")
        );
    }
    if database.len() > 63 {
        bail!(
            "{}: `{database}` is longer than MongoDB's 63 bytes",
            key("mongo_database")
        );
    }
    Ok(())
}
