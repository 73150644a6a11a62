//! The running host: starts it from a configuration, reloads it on SIGHUP (and, with
//! `--watch-config`, when its files change), and stops it in order on SIGINT/SIGTERM.
//!
//! A reload reads and validates the whole new configuration, builds what changed (plugins
//! compile then, while the old configuration keeps running) and rebinds the doors and the
//! telemetry endpoint if their settings changed; only when all of that worked does it swap
//! the sinks in ([`Host::reconfigure`]). If anything fails the host keeps running what it
//! ran, logs why, and counts the failure (`analytics_config_reloads_total{result="failed"}`).

pub mod plan;
pub mod watch;

use crate::api;
use crate::app::{Host, SinkChanges};
use crate::config::{Config, ConfigSource};
use crate::fixer::{FixerCounters, FixerTask};
use crate::ingest::Doors;
use crate::sinks::file::index::IndexQuery;
use crate::sinks::{Sink, SinkConfig, SinkContext};
use crate::telemetry::{Observed, ReloadCounters, TelemetryServer};
use anyhow::Context;
use plan::{Fingerprints, SinkPlan};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::signal::unix::{signal, SignalKind};
use watch::ConfigWatcher;

/// The read API's settings of `config`: as `api.store` says (by default MongoDB when
/// `mongo_url` is set, else the file store's index when the file store keeps one).
pub async fn api_settings(config: &Config) -> anyhow::Result<api::ApiSettings> {
    let a = &config.analytics;
    let embedded = config.file_index_enabled();
    let backend = match (&a.mongo_url, a.api.store) {
        _ if !a.enabled || !a.api.enabled => api::Backend::None,
        (_, api::ApiStore::Embedded) | (None, api::ApiStore::Auto) if embedded => {
            api::Backend::Embedded(Arc::new(IndexQuery::new(&a.file.dir)))
        }
        (Some(url), api::ApiStore::Auto | api::ApiStore::Mongodb) => {
            api::Backend::Mongo(api::mongo::MongoQuery::connect(url, a.database()).await?)
        }
        _ => api::Backend::None,
    };
    Ok(api::ApiSettings {
        enabled: a.api.enabled,
        backend,
        token: a.api.token.clone(),
    })
}

/// How the host runs.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Reload when the configuration file or a plugin component changes.
    pub watch_config: bool,
    /// The configuration text when it did not come from a file (`LIVEKIT_CONFIG`): a reload
    /// reads it again (only the plugin components it names can have changed).
    pub inline_text: Option<String>,
}

/// Reads the configuration from `source` (a file is read again; `inline_text` is the text
/// of an inline source), with the SHA-256 of its text (see [`hash`]).
pub fn load(source: &ConfigSource, inline_text: Option<&str>) -> anyhow::Result<(Config, String)> {
    let text = match source {
        ConfigSource::File(path) => {
            std::fs::read_to_string(path).with_context(|| format!("cannot read {source}"))?
        }
        ConfigSource::Inline(_) => inline_text.unwrap_or_default().to_string(),
        ConfigSource::Defaults => return Ok((Config::defaults(), hash(""))),
    };
    Ok((Config::parse(&text, source.clone())?, hash(&text)))
}

/// The first 16 hex digits of the SHA-256 of `text`.
pub fn hash(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

/// Runs the host until SIGINT or SIGTERM, reloading on SIGHUP, then shuts down in order.
/// `hash` is the hash of the configuration text (see [`load`]).
pub async fn run(config: Config, hash: String, options: RunOptions) -> anyhow::Result<()> {
    if options.watch_config && !matches!(config.source, ConfigSource::File(_)) {
        anyhow::bail!("--watch-config needs a configuration file (--config)");
    }
    if !config.analytics.enabled {
        tracing::warn!("openvidu.analytics.enabled is false: the host stores nothing");
    }
    let mut watcher = match options.watch_config {
        true => Some(ConfigWatcher::start(&config)?),
        false => None,
    };
    let mut hangup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let mut terminate =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    // Plugins compile in the background: the doors open at once.
    let (failures, mut failed) = tokio::sync::mpsc::unbounded_channel();
    let mut running = Running::start(config, hash, failures).await?;
    running.inline_text = options.inline_text;
    let failure = loop {
        tokio::select! {
            _ = terminate.recv() => break None,
            _ = interrupt.recv() => break None,
            Some(err) = failed.recv() => break Some(err),
            Some(()) = hangup.recv() => running.reload("SIGHUP").await,
            Some(file) = changed(&mut watcher) => {
                tracing::info!(file = %file.display(), "configuration file changed");
                running.reload("--watch-config").await;
                if let Some(w) = &watcher {
                    if let Ok(next) = ConfigWatcher::start(&running.config) {
                        if next.files() != w.files() {
                            watcher = Some(next);
                        }
                    }
                }
            }
        }
    };
    if failure.is_some() {
        tracing::error!("a plugin could not be loaded: stopping");
    }
    running.stop().await;
    match failure {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

async fn changed(watcher: &mut Option<ConfigWatcher>) -> Option<std::path::PathBuf> {
    match watcher {
        Some(watcher) => watcher.changed().await,
        None => std::future::pending().await,
    }
}

/// What runs now, and the configuration it runs.
struct Running {
    config: Config,
    sinks: Fingerprints,
    host: Host,
    doors: Doors,
    telemetry: Option<TelemetryServer>,
    observed: Observed,
    api: api::Api,
    reloads: Arc<ReloadCounters>,
    inline_text: Option<String>,
    fixer: Option<FixerTask>,
    fixer_counters: Arc<FixerCounters>,
}

impl Running {
    async fn start(
        config: Config,
        hash: String,
        failures: tokio::sync::mpsc::UnboundedSender<anyhow::Error>,
    ) -> anyhow::Result<Running> {
        let configured = plan::sinks(&config)?;
        let sinks = plan::fingerprints(&configured);
        let context = SinkContext {
            plugin_cache_dir: config.analytics.plugin_cache_dir.clone(),
            failures: Some(failures),
            source: config.source.to_string(),
        };
        let built = build(configured.into_iter().map(|(s, _)| s), &context, &config).await?;
        let names: Vec<&str> = built.iter().map(|s| s.name()).collect();
        tracing::info!(source = %config.source, sinks = ?names, interval = ?config.analytics.interval, config_hash = %hash, "analytics host starting");
        let host = match &config.analytics.spool {
            Some(spool) => Host::start_with_spool(built, &config.analytics, spool)
                .with_context(|| format!("{}: openvidu.analytics.spool", config.source))?,
            None => Host::start(built, &config.analytics),
        };
        let doors = Doors::start(&config.doors(), host.pipeline.clone()).await?;
        let reloads = Arc::new(ReloadCounters::new(hash));
        let fixer_counters = Arc::new(FixerCounters::default());
        let observed = host
            .observed(doors.counters.clone())
            .with_reloads(reloads.clone())
            .with_fixer(fixer_counters.clone());
        let api = api::Api::new(api_settings(&config).await?, observed.clone());
        let telemetry = TelemetryServer::start_with(
            &config.analytics.telemetry,
            observed.clone(),
            api.router(),
        )
        .await?;
        let fixer = start_fixer(&config, &fixer_counters, &host.pipeline).await;
        Ok(Running {
            config,
            sinks,
            host,
            doors,
            telemetry,
            observed,
            api,
            reloads,
            inline_text: None,
            fixer,
            fixer_counters,
        })
    }

    /// Reloads, logging and counting the outcome; on failure the host runs on unchanged.
    async fn reload(&mut self, cause: &str) {
        tracing::info!(cause, source = %self.config.source, "reloading the configuration");
        match self.try_reload().await {
            Ok(hash) => {
                tracing::info!(cause, config_hash = %hash, sinks = ?self.host.sink_names(), "configuration reloaded");
                self.reloads.applied(hash);
            }
            Err(err) => {
                tracing::error!(cause, error = %format!("{err:#}"), "configuration reload refused; still running the previous configuration");
                self.reloads.refused();
            }
        }
    }

    async fn try_reload(&mut self) -> anyhow::Result<String> {
        let (next, hash) = load(&self.config.source, self.inline_text.as_deref())?;
        let configured = plan::sinks(&next)?;
        let fingerprints = plan::fingerprints(&configured);
        let plan = SinkPlan::new(&self.sinks, configured);
        let context = SinkContext {
            plugin_cache_dir: next.analytics.plugin_cache_dir.clone(),
            failures: None,
            source: next.source.to_string(),
        };
        let summary = (!plan.is_empty()).then(|| plan.summary());
        let SinkPlan {
            added,
            changed,
            removed,
            ..
        } = plan;
        // Everything that can fail comes before anything changes.
        let added = build(added, &context, &next).await?;
        let replaced = build(changed, &context, &next).await?;
        let api_settings = api_settings(&next).await?;
        let doors_changed = plan::doors(&self.config) != plan::doors(&next);
        if doors_changed {
            Doors::check(&next.doors())?;
        }
        for key in plan::restart_only(&self.config, &next) {
            tracing::warn!(key, "changed, but applied only at the next start");
        }
        if doors_changed {
            self.rebind_doors(&next).await?;
        }
        if plan::telemetry(&self.config) != plan::telemetry(&next) {
            if let Err(err) = self.rebind_telemetry(&next).await {
                if doors_changed {
                    let previous = self.config.clone();
                    let _ = self.rebind_doors(&previous).await;
                }
                return Err(err);
            }
        }
        if let Some(summary) = summary {
            tracing::info!(plan = %summary, "sinks");
        }
        let changes = SinkChanges {
            added,
            replaced,
            removed,
        };
        for summary in self.host.reconfigure(changes, &next.analytics).await {
            if summary.left_queued > 0 {
                tracing::warn!(sink = %summary.sink, left = summary.left_queued, "removed sink stopped with items not stored");
            }
        }
        self.api.update(api_settings);
        self.sinks = fingerprints;
        if plan::fixer(&self.config) != plan::fixer(&next) {
            if let Some(fixer) = self.fixer.take() {
                fixer.stop().await;
            }
            self.fixer = start_fixer(&next, &self.fixer_counters, &self.host.pipeline).await;
        }
        self.config = next;
        Ok(hash)
    }

    /// Closes the doors and opens them as `config` says; if that fails, opens them again as
    /// they were.
    async fn rebind_doors(&mut self, config: &Config) -> anyhow::Result<()> {
        let counters = self.doors.counters.clone();
        let pipeline = self.host.pipeline.clone();
        let old = std::mem::replace(&mut self.doors, Doors::none(counters.clone()));
        old.close().await;
        match Doors::start_counting(&config.doors(), pipeline.clone(), counters.clone()).await {
            Ok(doors) => {
                self.doors = doors;
                Ok(())
            }
            Err(err) => {
                match Doors::start_counting(&self.config.doors(), pipeline, counters).await {
                    Ok(doors) => self.doors = doors,
                    Err(again) => {
                        tracing::error!(error = %format!("{again:#}"), "the doors could not be opened again as they were: no items are accepted")
                    }
                }
                Err(err)
            }
        }
    }

    async fn rebind_telemetry(&mut self, config: &Config) -> anyhow::Result<()> {
        if let Some(old) = self.telemetry.take() {
            old.close().await;
        }
        let (telemetry, observed) = (&config.analytics.telemetry, self.observed.clone());
        match TelemetryServer::start_with(telemetry, observed, self.api.router()).await {
            Ok(server) => {
                self.telemetry = server;
                Ok(())
            }
            Err(err) => {
                let (telemetry, observed) =
                    (&self.config.analytics.telemetry, self.observed.clone());
                self.telemetry =
                    TelemetryServer::start_with(telemetry, observed, self.api.router())
                        .await
                        .unwrap_or_default();
                Err(err)
            }
        }
    }

    async fn stop(self) {
        tracing::info!("shutting down: no longer accepting; flushing queues");
        if let Some(fixer) = self.fixer {
            fixer.stop().await;
        }
        self.host.pipeline.close();
        self.doors.close().await;
        let spooled = self.host.spool().is_some();
        let summaries = self.host.shutdown().await;
        if let Some(telemetry) = self.telemetry {
            telemetry.close().await;
        }
        let lost: usize = summaries.iter().map(|s| s.left_queued).sum();
        if lost > 0 && spooled {
            tracing::warn!(
                left = lost,
                "stopped with items not stored: kept in the spool, delivered after restart"
            );
        } else if lost > 0 {
            tracing::error!(lost, "stopped with items not stored");
        }
        tracing::info!("stopped");
    }
}

/// Starts the active-entities fixer `config` asks for; one that cannot start is logged, and
/// the host runs without it.
async fn start_fixer(
    config: &Config,
    counters: &Arc<FixerCounters>,
    pipeline: &Arc<crate::pipeline::Pipeline>,
) -> Option<FixerTask> {
    match FixerTask::start(config, counters.clone(), pipeline.clone()).await {
        Ok(task) => task,
        Err(err) => {
            tracing::warn!(error = %format!("{err:#}"), "the active-entities fixer is off");
            None
        }
    }
}

/// Builds `sinks` in order, naming the configuration key of one that fails.
async fn build(
    sinks: impl IntoIterator<Item = Box<dyn SinkConfig>>,
    context: &SinkContext,
    config: &Config,
) -> anyhow::Result<Vec<Box<dyn Sink>>> {
    let mut built = Vec::new();
    for sink in sinks {
        built.push(
            sink.build(context)
                .await
                .with_context(|| format!("{}: {}", config.source, sink.key()))?,
        );
    }
    Ok(built)
}
