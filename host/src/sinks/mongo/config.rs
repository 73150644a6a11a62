//! The MongoDB sink's settings. They keep the fork's flat keys,
//! `openvidu.analytics.mongo_url` and `openvidu.analytics.database` (or the host's earlier
//! `mongo_database`), so they live in
//! `AnalyticsConfig`; the root config reads and checks them there and makes a
//! [`MongoSinkConfig`] (`config/stages.rs`).

use super::MongoSink;
use crate::sinks::{Sink, SinkConfig, SinkContext};
use async_trait::async_trait;

/// Where the MongoDB sink writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MongoSinkConfig {
    /// The connection string (`mongodb://…` or `mongodb+srv://…`).
    pub url: String,
    /// The database (`openvidu` by default).
    pub database: String,
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
