//! A loaded plugin's lifecycle: its pre-linked component, and a live instance rebuilt
//! whenever a call traps, times out, hits the memory cap, or was abandoned mid-call.

use super::config::PluginConfig;
use super::config::{Grants, PluginLimits};
use super::engine::PluginEngine;
use super::inspect::ComponentInfo;
use super::limits;
use super::log::PluginLog;
use super::state::PluginState;
use super::wit::current::livekit::analytics::types as wit;
use super::wit::current::{Sink as SinkWorld, SinkPre};
use anyhow::Context;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::{HasSelf, Linker};
use wasmtime::Store;

/// Failure counters of one plugin.
#[derive(Debug, Default)]
pub struct PluginStats {
    /// Calls that trapped (including memory-cap hits).
    pub traps: AtomicU64,
    /// Calls that ran past the deadline.
    pub timeouts: AtomicU64,
    /// Instances created (the first one and every rebuild).
    pub instantiations: AtomicU64,
}

/// Why a call did not return a result from the plugin.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// The plugin trapped (a bug, a panic, the memory cap); the instance was discarded.
    #[error("plugin trapped: {0}")]
    Trap(String),
    /// The call ran past its deadline; the instance was discarded.
    #[error("plugin call ran past its deadline of {0:?}")]
    Timeout(Duration),
    /// `initialize-database` returned an error.
    #[error("plugin initialization failed: {0}")]
    Init(String),
    /// `initialize-database` returned an error after calling `status.give-up`: it cannot
    /// work with this configuration (the reason it gave, the error it returned).
    #[error("plugin gave up: {0} ({1})")]
    GaveUp(String, String),
    /// The instance could not be created.
    #[error("cannot instantiate plugin: {0}")]
    Instantiate(String),
}

struct Live {
    store: Store<PluginState>,
    sink: SinkWorld,
    /// Set while a call runs; still set afterwards means the call's future was dropped
    /// (e.g. by the scheduler's own timeout) and the instance can no longer be entered.
    in_call: bool,
}

/// A plugin: compiled, checked against its grants, pre-linked, with at most one live
/// instance. Calls never overlap (`&mut self`).
pub struct Plugin {
    name: Arc<str>,
    pre: SinkPre<PluginState>,
    settings: Vec<(String, String)>,
    grants: Grants,
    limits: PluginLimits,
    info: ComponentInfo,
    log: Arc<PluginLog>,
    stats: Arc<PluginStats>,
    live: Option<Live>,
}

impl Plugin {
    /// Compiles (or loads from the cache), checks and links the plugin of `config`.
    pub fn load(engine: &PluginEngine, config: &PluginConfig) -> anyhow::Result<Plugin> {
        let (component, _cached) = engine
            .load_component(&config.path)
            .with_context(|| format!("plugin `{}`", config.name))?;
        Self::from_component(engine, config, &component)
            .with_context(|| format!("plugin `{}` (`{}`)", config.name, config.path.display()))
    }

    /// Checks and links an already compiled component.
    pub fn from_component(
        engine: &PluginEngine,
        config: &PluginConfig,
        component: &wasmtime::component::Component,
    ) -> anyhow::Result<Plugin> {
        let info = ComponentInfo::of(component, engine.engine());
        info.check_world()?;
        info.check_grants(&config.grants)?;
        let mut linker: Linker<PluginState> = Linker::new(engine.engine());
        SinkWorld::add_to_linker::<_, HasSelf<PluginState>>(&mut linker, |s| s)
            .map_err(anyhow::Error::from)
            .context("linking the log import")?;
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking WASI")?;
        if !config.grants.http.is_empty() {
            wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
                .map_err(anyhow::Error::from)
                .context("linking wasi:http")?;
        }
        let instance_pre = linker
            .instantiate_pre(component)
            .map_err(anyhow::Error::from)
            .context("linking the component's imports")?;
        let pre = SinkPre::new(instance_pre)
            .map_err(anyhow::Error::from)
            .context("the component's exports do not match the `sink` world")?;
        Ok(Plugin {
            name: config.name.as_str().into(),
            pre,
            settings: config.config.0.clone(),
            grants: config.grants.clone(),
            limits: config.limits.clone(),
            info,
            log: Arc::new(PluginLog::default()),
            stats: Arc::new(PluginStats::default()),
            live: None,
        })
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its log lines and counts.
    pub fn log(&self) -> Arc<PluginLog> {
        self.log.clone()
    }

    /// Its failure counters.
    pub fn stats(&self) -> Arc<PluginStats> {
        self.stats.clone()
    }

    /// Its imports and contract version.
    pub fn info(&self) -> &ComponentInfo {
        &self.info
    }

    /// Throws the live instance away; the next call builds and initializes a new one.
    pub fn discard_instance(&mut self) {
        self.live = None;
    }

    /// Whether a usable instance exists.
    pub fn is_live(&self) -> bool {
        self.live.as_ref().is_some_and(|l| !l.in_call)
    }

    /// Makes sure a live, initialized instance exists: creates one (from the pre-linked
    /// component) and calls `initialize-database` with the plugin's settings.
    pub async fn ensure_ready(&mut self) -> Result<(), CallError> {
        if self.is_live() {
            return Ok(());
        }
        self.live = None;
        let timeout = self.limits.timeout;
        let mut store = PluginState::new_store(
            self.pre.engine(),
            &self.name,
            &self.log,
            &self.grants,
            &self.limits,
        )
        .map_err(|e| CallError::Instantiate(format!("{e:#}")))?;
        self.stats.instantiations.fetch_add(1, Ordering::Relaxed);
        let sink = match tokio::time::timeout(timeout, self.pre.instantiate_async(&mut store)).await
        {
            Ok(Ok(sink)) => sink,
            Ok(Err(err)) => return Err(CallError::Instantiate(limits::describe(&err))),
            Err(_) => {
                self.stats.timeouts.fetch_add(1, Ordering::Relaxed);
                return Err(CallError::Timeout(timeout));
            }
        };
        let settings: Vec<(&str, &str)> = self
            .settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let outcome = tokio::time::timeout(
            timeout,
            sink.call_initialize_database(&mut store, &settings),
        )
        .await;
        match outcome {
            Ok(Ok(Ok(()))) => {
                self.live = Some(Live {
                    store,
                    sink,
                    in_call: false,
                });
                Ok(())
            }
            Ok(Ok(Err(message))) => match store.data_mut().take_gave_up() {
                Some(reason) => Err(CallError::GaveUp(reason, message)),
                None => Err(CallError::Init(message)),
            },
            Ok(Err(err)) => {
                self.stats.traps.fetch_add(1, Ordering::Relaxed);
                Err(CallError::Trap(limits::describe(&err)))
            }
            Err(_) => {
                self.stats.timeouts.fetch_add(1, Ordering::Relaxed);
                Err(CallError::Timeout(timeout))
            }
        }
    }

    /// Calls `send-batch`, building and initializing an instance first if needed. On a
    /// trap or timeout the instance is discarded; the next call builds a new one.
    pub async fn send_batch(
        &mut self,
        events: &[wit::Event<'_>],
        stats: &[wit::Stat<'_>],
    ) -> Result<Result<(), wit::SendError>, CallError> {
        self.ensure_ready().await?;
        let timeout = self.limits.timeout;
        let live = self
            .live
            .as_mut()
            .expect("ensure_ready left a live instance");
        live.in_call = true;
        let started = Instant::now();
        let outcome = tokio::time::timeout(
            timeout,
            live.sink.call_send_batch(&mut live.store, events, stats),
        )
        .await;
        match outcome {
            Ok(Ok(result)) => {
                live.in_call = false;
                tracing::trace!(plugin = %self.name, took = ?started.elapsed(), "send-batch returned");
                Ok(result)
            }
            Ok(Err(err)) => {
                self.live = None;
                self.stats.traps.fetch_add(1, Ordering::Relaxed);
                Err(CallError::Trap(limits::describe(&err)))
            }
            Err(_) => {
                self.live = None;
                self.stats.timeouts.fetch_add(1, Ordering::Relaxed);
                Err(CallError::Timeout(timeout))
            }
        }
    }
}
