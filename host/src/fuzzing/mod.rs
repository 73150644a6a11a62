//! Entry points for the coverage-guided fuzz targets in `fuzz/` (cargo-fuzz; run them all
//! with `scripts/fuzz.sh SECONDS`). Not an API: each function takes the fuzzer's bytes,
//! drives one of the host's readers of outside input and panics when a property fails, so
//! the fuzzer keeps the input. The same functions serve as unit tests of the inputs the
//! fuzzers found (`tests.rs`).
//!
//! - [`walk::event`], [`walk::stat`], [`walk::node_rooms`]: the wire walker against prost.
//!   Whatever prost decodes, the walker accepts and writes the document of prost's message
//!   (both formats) and the same item (id, head fields); whatever prost refuses, the walker
//!   refuses too (`docs/ingest.md`, "Protobuf semantics of the walk").
//! - [`webhook::body`]: the webhook door's token and body path, with a token signed over the
//!   fuzzed body, a fuzzed claim set signed properly, or a fuzzed `Authorization` value.
//! - [`config::yaml`]: the configuration loader: a `Config` or an error, never a panic.
//! - [`api::request`]: the read API's routes with fuzzed paths, parameters and cursors:
//!   never a panic or a 5xx, and every refusal a JSON `{"error": …}`.

pub mod api;
pub mod config;
pub mod walk;
pub mod webhook;

#[cfg(test)]
mod tests;
