//! What bounds a plugin instance: its memory cap (a trap when it would grow past it) and
//! the epoch ticks that let a busy plugin yield and its per-call deadline fire.

use super::config::PluginLimits;
use wasmtime::{Store, StoreLimits, StoreLimitsBuilder};

/// The store limits of `limits`: linear memory capped at `limits.memory` bytes, growth past
/// it traps.
pub(super) fn store_limits(limits: &PluginLimits) -> StoreLimits {
    let memory = usize::try_from(limits.memory).unwrap_or(usize::MAX);
    StoreLimitsBuilder::new()
        .memory_size(memory)
        .trap_on_grow_failure(true)
        .build()
}

/// Yield to the async runtime on every epoch tick: a busy plugin never holds a worker
/// thread for long, and the per-call timeout can fire.
pub(super) fn yield_on_every_tick<T>(store: &mut Store<T>) {
    store.set_epoch_deadline(1);
    store.epoch_deadline_async_yield_and_update(1);
}

/// A trap's message, naming the memory cap when that was the cause.
pub(super) fn describe(err: &wasmtime::Error) -> String {
    let text = format!("{err:#}");
    if text.contains("forcing trap when growing memory")
        || text.contains("forcing a memory growth failure")
    {
        format!("memory limit reached: {text}")
    } else {
        text
    }
}
