//! WebAssembly component plugins: one wasmtime [`PluginEngine`] (epoch deadlines, a
//! compiled-component cache), the `livekit:analytics` contract's bindings, the capability
//! policy ([`inspect`]), and [`Plugin`], a loaded plugin that survives its own traps,
//! timeouts and memory blow-ups by rebuilding its instance.

pub mod engine;
pub mod inspect;
pub mod runtime;

pub use engine::PluginEngine;
pub use inspect::{ComponentInfo, HOST_WIT_VERSION};
pub use runtime::{CallError, Plugin, PluginLog, PluginStats};

/// Host bindings of the `sink` world in `wit/` (generated at build time).
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "sink",
        exports: { default: async },
        // Records passed to the plugin borrow from the host's items: no copies.
        ownership: Borrowing { duplicate_if_necessary: false },
    });
}
