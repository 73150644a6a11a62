//! LiveKit analytics host: receives LiveKit analytics events and stats and stores them in
//! MongoDB, in an embedded file store, and in other sinks.
//!
//! The modules follow the data flow: [`config`] → [`model`] (items and documents) →
//! [`pipeline`] (fan-out) → [`queue`] (per-sink FIFOs) → [`scheduler`] (per-sink workers)
//! → [`sinks`]. [`spool`] optionally keeps accepted items on disk until every sink has
//! them. [`app`] assembles them; [`observe`] serves `/metrics`, `/health` and `/ready`.
//! [`simulate`] is the other side: a load generator that behaves like a LiveKit node.

pub mod app;
pub mod config;
pub mod ingest;
pub mod model;
pub mod observe;
pub mod pipeline;
pub mod plugin;
pub mod queue;
pub mod scheduler;
pub mod simulate;
pub mod sinks;
pub mod spool;
pub mod telemetry;
