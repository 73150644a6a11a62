//! The host's own telemetry: [`metrics`] that read, at scrape time, the counters the
//! pipeline, queues and workers keep (defined below them, in [`crate::counters`], and
//! re-exported here), and the [`server`] of `/metrics`, `/health`
//! and `/ready`, configured by [`config`] (`openvidu.analytics.telemetry`).

pub mod config;
pub mod metrics;
pub mod server;
pub mod state;

pub use crate::counters::{ExtraCountersFn, ReloadCounters, SinkCounters, SinkCounts};
pub use config::TelemetryConfig;
pub use metrics::{GaugeFn, Observed, Readiness, SinkStatus};
pub use server::{router, TelemetryServer};
pub use state::{SinkState, SinkStateFn};
