//! LiveKit analytics host: receives LiveKit analytics events and stats and stores them in
//! MongoDB, in an embedded file store, and in other sinks.
//!
//! The modules follow the data flow (see `ARCHITECTURE.md`): [`config`] → [`ingest`] (the
//! doors) → [`model`] (items and documents) → [`pipeline`] (fan-out) → [`queue`] (per-sink
//! FIFOs) → [`worker`] (one per sink) → [`sinks`] (one folder per sink; [`plugin`] runs the
//! WebAssembly ones). [`spool`] optionally keeps accepted items on disk until every sink has
//! them. [`app`] assembles them; [`supervisor`] runs, reloads and stops the whole;
//! [`telemetry`] counts and serves `/metrics`, `/health` and
//! `/ready`, and [`api`] answers queries over what was stored. [`simulate`] is the other side: a load generator that behaves like a LiveKit
//! node.

#![deny(missing_docs)]

pub mod api;
pub mod app;
pub mod config;
pub mod counters;
pub mod fixer;
#[doc(hidden)]
pub mod fuzzing;
pub mod ingest;
pub mod listener;
pub mod model;
pub mod pipeline;
pub mod plugin;
pub mod queue;
pub mod settings;
pub mod simulate;
pub mod sinks;
pub mod spool;
pub mod supervisor;
pub mod telemetry;
pub mod worker;
