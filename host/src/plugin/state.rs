//! The store data of one plugin instance: WASI and `wasi:http` contexts restricted to the
//! plugin's grants, its log, and its resource limits.

use super::config::{Grants, PluginLimits};
use super::http_guard::HttpGuard;
use super::limits;
use super::log::{LogOutput, PluginLog};
use super::wit::current::livekit::analytics::{log, status, types as wit};
use anyhow::Context;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime::{Store, StoreLimits};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// The store data of one instance: WASI contexts restricted to the grants, and limits.
pub struct PluginState {
    name: Arc<str>,
    log: Arc<PluginLog>,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: HttpGuard,
    table: ResourceTable,
    limits: StoreLimits,
    /// The reason given to `status.give-up`, if the plugin called it.
    gave_up: Option<String>,
}

impl PluginState {
    /// A store for one instance of plugin `name`: WASI with only the granted directories,
    /// environment variables and hosts, stdout/stderr into `log`, and the limits.
    pub(super) fn new_store(
        engine: &wasmtime::Engine,
        name: &Arc<str>,
        log: &Arc<PluginLog>,
        grants: &Grants,
        limits: &PluginLimits,
    ) -> anyhow::Result<Store<PluginState>> {
        let mut wasi = WasiCtxBuilder::new();
        for dir in &grants.dirs {
            let perms = if dir.read_only {
                wasmtime_wasi::FsPerms::ReadOnly
            } else {
                wasmtime_wasi::FsPerms::ReadWrite
            };
            wasi.preopened_dir(&dir.host, &dir.guest, perms)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("granting directory `{}`", dir.host.display()))?;
        }
        for name in &grants.env {
            if let Ok(value) = std::env::var(name) {
                wasi.env(name, value);
            }
        }
        let output = |level| LogOutput {
            name: name.clone(),
            log: log.clone(),
            level,
        };
        wasi.stdout(output(log::Level::Info));
        wasi.stderr(output(log::Level::Warn));
        let state = PluginState {
            name: name.clone(),
            log: log.clone(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            hooks: HttpGuard::new(&grants.http),
            table: ResourceTable::new(),
            limits: limits::store_limits(limits),
            gave_up: None,
        };
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limits);
        limits::yield_on_every_tick(&mut store);
        Ok(store)
    }
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

impl status::Host for PluginState {
    fn give_up(&mut self, reason: String) {
        self.gave_up = Some(reason);
    }
}

impl PluginState {
    /// The reason the plugin gave to `status.give-up`, taken (the next call starts clear).
    pub(super) fn take_gave_up(&mut self) -> Option<String> {
        self.gave_up.take()
    }
}

impl wit::Host for PluginState {}
