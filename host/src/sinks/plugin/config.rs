//! The plugin sink's settings are the plugin's own (`openvidu.analytics.plugins[]`, defined
//! in [`crate::plugin::config`], since the runtime reads its grants and limits); this file
//! builds the sink from them.

use super::PluginSink;
use crate::plugin::config::PluginConfig;
use crate::plugin::PluginEngine;
use crate::sinks::{Sink, SinkConfig, SinkContext};
use anyhow::Context;
use async_trait::async_trait;

#[async_trait]
impl SinkConfig for PluginConfig {
    fn key(&self) -> String {
        format!("openvidu.analytics.plugins `{}`", self.name)
    }

    /// Compiles the component (or loads it from the cache) off the async runtime's threads.
    async fn build(&self, context: &SinkContext) -> anyhow::Result<Box<dyn Sink>> {
        let engine = PluginEngine::shared()?;
        let engine = match &context.plugin_cache_dir {
            Some(dir) => engine.with_cache_dir(Some(dir.clone())),
            None => engine,
        };
        let config = self.clone();
        let sink = tokio::task::spawn_blocking(move || PluginSink::load(&engine, &config))
            .await
            .context("loading plugins")??;
        Ok(Box::new(sink))
    }
}
