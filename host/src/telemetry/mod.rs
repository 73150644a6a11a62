//! The host's own telemetry: [`counters`] kept by the pipeline, queues and workers,
//! [`metrics`] that read them at scrape time, and the [`server`] of `/metrics`, `/health`
//! and `/ready`, configured by [`config`] (`openvidu.analytics.telemetry`).

pub mod config;
pub mod counters;
pub mod metrics;
pub mod server;
pub mod state;

pub use config::TelemetryConfig;
pub use counters::{ExtraCountersFn, ReloadCounters, SinkCounters, SinkCounts};
pub use metrics::{GaugeFn, Observed, Readiness, SinkStatus};
pub use server::{router, TelemetryServer};
pub use state::{SinkState, SinkStateFn};
