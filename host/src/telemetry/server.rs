//! The telemetry endpoint's HTTP server: `/metrics` (Prometheus text), `/health` (liveness,
//! with what sinks work without) and `/ready` (every sink initialized).

use super::config::TelemetryConfig;
use super::metrics::Observed;
use anyhow::Context;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The router of `/metrics`, `/health` and `/ready`.
pub fn router(observed: Arc<Observed>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .with_state(observed)
}

async fn metrics(State(observed): State<Arc<Observed>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        observed.text(),
    )
        .into_response()
}

/// `ok`, then a line per note of a sink (`mongo: indexes: 15/19, missing: …`): the host
/// is alive either way; the notes say what it works without.
async fn health(State(observed): State<Arc<Observed>>) -> Response {
    let mut body = String::from("ok\n");
    for (name, counters) in observed.sinks() {
        for note in counters.state.read().notes {
            body.push_str(&format!("{name}: {note}\n"));
        }
    }
    (StatusCode::OK, body).into_response()
}

async fn ready(State(observed): State<Arc<Observed>>) -> Response {
    let readiness = observed.readiness();
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::to_string(&readiness).expect("readiness serializes");
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The running telemetry endpoint.
pub struct TelemetryServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl TelemetryServer {
    /// Binds `config.listen` and serves `observed`; `None` when `config.enabled` is false.
    pub async fn start(
        config: &TelemetryConfig,
        observed: Observed,
    ) -> anyhow::Result<Option<TelemetryServer>> {
        Self::start_with(config, observed, Router::new()).await
    }

    /// [`TelemetryServer::start`], also serving the routes of `extra` (the read API).
    pub async fn start_with(
        config: &TelemetryConfig,
        observed: Observed,
        extra: Router,
    ) -> anyhow::Result<Option<TelemetryServer>> {
        if !config.enabled {
            return Ok(None);
        }
        let listener = TcpListener::bind(config.listen).await.with_context(|| {
            format!(
                "openvidu.analytics.telemetry.listen: cannot listen on {}",
                config.listen
            )
        })?;
        let addr = listener
            .local_addr()
            .context("telemetry listener address")?;
        let (stop, rx) = watch::channel(false);
        let app = router(Arc::new(observed)).merge(extra);
        let slots = crate::listener::Slots::new("telemetry", config.connections.clone());
        let header_timeout = config.connections.header_read_timeout;
        let task = tokio::spawn(crate::listener::serve_http(
            slots,
            listener,
            app,
            None,
            header_timeout,
            rx,
        ));
        tracing::info!(%addr, "telemetry listening: /metrics, /health, /ready");
        Ok(Some(TelemetryServer { addr, stop, task }))
    }

    /// Stops listening.
    pub async fn close(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
