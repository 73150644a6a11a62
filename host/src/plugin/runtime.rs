//! A loaded plugin: its pre-linked component, and a live instance rebuilt whenever a call
//! traps, times out, hits the memory cap, or was abandoned mid-call.

use super::bindings::livekit::analytics::{log, types as wit};
use super::bindings::{Sink as SinkWorld, SinkPre};
use super::engine::PluginEngine;
use super::inspect::ComponentInfo;
use crate::config::plugins::{Grants, PluginLimits};
use crate::config::PluginConfig;
use anyhow::Context;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Longest log message kept from a plugin; longer ones are cut.
pub const MAX_LOG_MESSAGE: usize = 4096;
/// How many recent log lines each plugin keeps in memory.
pub const KEPT_LOG_LINES: usize = 1000;

/// Log lines of one plugin: forwarded to `tracing` and counted; recent ones kept for tests
/// and diagnostics.
#[derive(Debug, Default)]
pub struct PluginLog {
    counts: [AtomicU64; 5],
    recent: Mutex<VecDeque<(log::Level, String)>>,
}

impl PluginLog {
    /// Lines logged at `level` so far.
    pub fn count(&self, level: log::Level) -> u64 {
        self.counts[level as usize].load(Ordering::Relaxed)
    }

    /// The most recent lines (up to [`KEPT_LOG_LINES`]), oldest first.
    pub fn recent(&self) -> Vec<(log::Level, String)> {
        self.recent
            .lock()
            .expect("log lock")
            .iter()
            .cloned()
            .collect()
    }

    fn record(&self, plugin: &str, level: log::Level, mut message: String) {
        if message.len() > MAX_LOG_MESSAGE {
            let mut cut = MAX_LOG_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        self.counts[level as usize].fetch_add(1, Ordering::Relaxed);
        match level {
            log::Level::Trace => tracing::trace!(plugin, "{message}"),
            log::Level::Debug => tracing::debug!(plugin, "{message}"),
            log::Level::Info => tracing::info!(plugin, "{message}"),
            log::Level::Warn => tracing::warn!(plugin, "{message}"),
            log::Level::Error => tracing::error!(plugin, "{message}"),
        }
        let mut recent = self.recent.lock().expect("log lock");
        if recent.len() == KEPT_LOG_LINES {
            recent.pop_front();
        }
        recent.push_back((level, message));
    }
}

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
    /// The instance could not be created.
    #[error("cannot instantiate plugin: {0}")]
    Instantiate(String),
}

/// The store data of one instance: WASI contexts restricted to the grants, and limits.
pub struct PluginState {
    name: Arc<str>,
    log: Arc<PluginLog>,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: HttpGuard,
    table: ResourceTable,
    limits: StoreLimits,
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for PluginState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl log::Host for PluginState {
    fn log(&mut self, level: log::Level, message: String) {
        self.log.record(&self.name, level, message);
    }
}

impl wit::Host for PluginState {}

/// Lets outgoing HTTP requests through only to the granted hosts.
struct HttpGuard {
    allow: Arc<[String]>,
}

impl HttpGuard {
    fn allows(&self, uri: &http::Uri) -> bool {
        let Some(host) = uri.host() else {
            return false;
        };
        let port = uri.port_u16().or(match uri.scheme_str() {
            Some("https") => Some(443),
            Some("http") => Some(80),
            _ => None,
        });
        let with_port = port.map(|p| format!("{host}:{p}"));
        self.allow.iter().any(|a| {
            a.eq_ignore_ascii_case(host)
                || with_port
                    .as_deref()
                    .is_some_and(|hp| a.eq_ignore_ascii_case(hp))
        })
    }
}

type SendFuture = Box<
    dyn std::future::Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<wasmtime_wasi_http::WasiBody>,
                Box<dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
            )>,
        > + Send,
>;

impl wasmtime_wasi_http::WasiHttpHooks for HttpGuard {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> SendFuture {
        if !self.allows(request.uri()) {
            tracing::warn!(uri = %request.uri(), "plugin HTTP request denied: host not in grants.http");
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn std::future::Future<Output = _> + Send>,
            ))
        })
    }
}

/// The plugin's stdout/stderr: each line becomes a log line of the plugin.
#[derive(Clone)]
struct LogOutput {
    name: Arc<str>,
    log: Arc<PluginLog>,
    level: log::Level,
}

impl wasmtime_wasi::cli::IsTerminal for LogOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdoutStream for LogOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(LineWriter {
            out: self.clone(),
            buf: Vec::new(),
        })
    }
}

struct LineWriter {
    out: LogOutput,
    buf: Vec<u8>,
}

impl LineWriter {
    fn emit(&mut self, upto: usize) {
        let line: Vec<u8> = self.buf.drain(..upto).collect();
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        if !text.is_empty() {
            self.out
                .log
                .record(&self.out.name, self.out.level, text.to_string());
        }
    }
}

impl tokio::io::AsyncWrite for LineWriter {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        this.buf.extend_from_slice(data);
        while let Some(i) = this.buf.iter().position(|b| *b == b'\n') {
            this.emit(i + 1);
        }
        if this.buf.len() >= MAX_LOG_MESSAGE {
            this.emit(this.buf.len());
        }
        std::task::Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let len = this.buf.len();
        this.emit(len);
        std::task::Poll::Ready(Ok(()))
    }
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

    fn new_store(&self) -> anyhow::Result<Store<PluginState>> {
        let mut wasi = WasiCtxBuilder::new();
        for dir in &self.grants.dirs {
            let perms = if dir.read_only {
                wasmtime_wasi::FsPerms::ReadOnly
            } else {
                wasmtime_wasi::FsPerms::ReadWrite
            };
            wasi.preopened_dir(&dir.host, &dir.guest, perms)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("granting directory `{}`", dir.host.display()))?;
        }
        for name in &self.grants.env {
            if let Ok(value) = std::env::var(name) {
                wasi.env(name, value);
            }
        }
        let output = |level| LogOutput {
            name: self.name.clone(),
            log: self.log.clone(),
            level,
        };
        wasi.stdout(output(log::Level::Info));
        wasi.stderr(output(log::Level::Warn));
        let memory = usize::try_from(self.limits.memory).unwrap_or(usize::MAX);
        let state = PluginState {
            name: self.name.clone(),
            log: self.log.clone(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            hooks: HttpGuard {
                allow: self.grants.http.clone().into(),
            },
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(memory)
                .trap_on_grow_failure(true)
                .build(),
        };
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|s| &mut s.limits);
        // Yield to the async runtime on every epoch tick: a busy plugin never holds a
        // worker thread for long, and the per-call timeout below can fire.
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);
        Ok(store)
    }

    /// Makes sure a live, initialized instance exists: creates one (from the pre-linked
    /// component) and calls `initialize-database` with the plugin's settings.
    pub async fn ensure_ready(&mut self) -> Result<(), CallError> {
        if self.is_live() {
            return Ok(());
        }
        self.live = None;
        let timeout = self.limits.timeout;
        let mut store = self
            .new_store()
            .map_err(|e| CallError::Instantiate(format!("{e:#}")))?;
        self.stats.instantiations.fetch_add(1, Ordering::Relaxed);
        let sink = match tokio::time::timeout(timeout, self.pre.instantiate_async(&mut store)).await
        {
            Ok(Ok(sink)) => sink,
            Ok(Err(err)) => return Err(CallError::Instantiate(describe(&err))),
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
            Ok(Ok(Err(message))) => Err(CallError::Init(message)),
            Ok(Err(err)) => {
                self.stats.traps.fetch_add(1, Ordering::Relaxed);
                Err(CallError::Trap(describe(&err)))
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
                Err(CallError::Trap(describe(&err)))
            }
            Err(_) => {
                self.live = None;
                self.stats.timeouts.fetch_add(1, Ordering::Relaxed);
                Err(CallError::Timeout(timeout))
            }
        }
    }
}

/// A trap's message, naming the memory cap when that was the cause.
fn describe(err: &wasmtime::Error) -> String {
    let text = format!("{err:#}");
    if text.contains("forcing trap when growing memory")
        || text.contains("forcing a memory growth failure")
    {
        format!("memory limit reached: {text}")
    } else {
        text
    }
}
