//! The plugin sink's settings are the plugin's own (`openvidu.analytics.plugins[]`, defined
//! in [`crate::plugin::config`], since the runtime reads its grants and limits); this file
//! builds the sink from them.

use super::loading::LoadingPluginSink;
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

    fn name(&self) -> String {
        self.name.clone()
    }

    /// The settings and the SHA-256 of the component file, so a new build at the same path
    /// is picked up by a reload.
    fn fingerprint(&self) -> anyhow::Result<String> {
        use sha2::{Digest, Sha256};
        let bytes = std::fs::read(&self.path)
            .with_context(|| format!("cannot read plugin `{}`", self.path.display()))?;
        Ok(format!(
            "{self:?} sha256={}",
            hex::encode(Sha256::digest(&bytes))
        ))
    }

    /// Compiles the component (or loads it from the cache) off the async runtime's threads:
    /// awaited here, or in the background when `context.failures` is set (then a failure
    /// is sent there, with this sink's key).
    async fn build(&self, context: &SinkContext) -> anyhow::Result<Box<dyn Sink>> {
        let engine = PluginEngine::shared()?;
        let engine = match &context.plugin_cache_dir {
            Some(dir) => engine.with_cache_dir(Some(dir.clone())),
            None => engine,
        };
        let config = self.clone();
        let Some(failures) = context.failures.clone() else {
            let sink = tokio::task::spawn_blocking(move || PluginSink::load(&engine, &config))
                .await
                .context("loading plugins")??;
            return Ok(Box::new(sink));
        };
        // Cheap checks now (the file reads, it is a component), so an obviously bad file
        // still stops the host before it opens its doors.
        let bytes = std::fs::read(&config.path)
            .with_context(|| format!("cannot read plugin `{}`", config.path.display()))?;
        crate::plugin::engine::check_header(&bytes)
            .with_context(|| format!("plugin `{}`", config.path.display()))?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let key = format!("{}: {}", context.source, self.key());
        tracing::info!(plugin = %config.name, path = %config.path.display(),
            "compiling plugin in the background; its queue fills meanwhile");
        let started = std::time::Instant::now();
        tokio::task::spawn_blocking(move || {
            let loaded = match PluginSink::load(&engine, &config) {
                Ok(sink) => {
                    tracing::info!(plugin = %config.name,
                        seconds = started.elapsed().as_secs_f64(), "plugin ready");
                    Ok(sink)
                }
                Err(err) => {
                    let text = format!("{err:#}");
                    tracing::error!(plugin = %config.name, error = %text, "plugin failed to load");
                    let _ = failures.send(err.context(key));
                    Err(text)
                }
            };
            let _ = tx.send(loaded);
        });
        Ok(Box::new(LoadingPluginSink::new(&self.name, rx)))
    }
}
