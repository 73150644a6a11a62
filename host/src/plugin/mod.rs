//! WebAssembly component plugins: one wasmtime [`PluginEngine`] (epoch deadlines, a
//! compiled-component cache), the `livekit:analytics` contract's bindings ([`wit`]), the
//! capability policy ([`inspect`]), and [`Plugin`], a loaded plugin that survives its own
//! traps, timeouts and memory blow-ups by rebuilding its instance.
//!
//! By role: [`config`] (a plugin's settings, grants and limits), [`engine`], `limits`
//! (memory cap, epoch yield), `state` (the WASI store of one instance), `http_guard`
//! (the `wasi:http` allow-list), [`log`] (its log lines and stdout), [`runtime`] (the
//! lifecycle).

pub mod config;
pub mod engine;
mod http_guard;
pub mod inspect;
mod limits;
pub mod log;
pub mod runtime;
mod state;
pub mod wit;

pub use engine::PluginEngine;
pub use inspect::{ComponentInfo, HOST_WIT_VERSION};
pub use log::PluginLog;
pub use runtime::{CallError, Plugin, PluginStats};
pub use state::PluginState;

/// Host bindings of the current contract version's `sink` world.
pub use wit::current as bindings;
