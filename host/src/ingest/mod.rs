//! The doors through which LiveKit data comes in: signed webhooks ([`webhook`], mapped by
//! [`mapping`]) and the gRPC analytics stream ([`grpc`]), plus the scrape of
//! livekit-server's Prometheus metrics ([`prometheus`]). All put items into the same
//! [`Pipeline`].

pub mod config;

pub mod grpc;
pub mod mapping;
pub mod prometheus;
pub mod tls;
pub mod webhook;

use crate::model::DocumentFormat;
use crate::pipeline::Pipeline;
use crate::settings::{ApiKeys, ConfigSource};
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the doors saw.
#[derive(Debug, Default)]
pub struct IngestCounters {
    /// Webhooks accepted into the queues.
    pub webhook_accepted: AtomicU64,
    /// Webhooks with an event name the host does not map (answered 200, not stored).
    pub webhook_unknown: AtomicU64,
    /// Webhooks parsed leniently (parts newer than the protocol crate left out).
    pub webhook_lenient: AtomicU64,
    /// Webhooks answered 400.
    pub webhook_bad_request: AtomicU64,
    /// Webhooks answered 401.
    pub webhook_unauthorized: AtomicU64,
    /// Webhooks answered 413.
    pub webhook_too_large: AtomicU64,
    /// Webhooks answered 503.
    pub webhook_unavailable: AtomicU64,
    /// Events, stats and node-room snapshots accepted over gRPC.
    pub grpc_items: AtomicU64,
    /// gRPC messages refused because the host could not accept them.
    pub grpc_refused: AtomicU64,
    /// gRPC streams that ended with a malformed frame or message.
    pub grpc_stream_errors: AtomicU64,
    /// gRPC messages refused with INVALID_ARGUMENT before anything of them was stored: a
    /// record without a timestamp or identity, or over a per-message limit.
    pub grpc_invalid: AtomicU64,
    /// Items accepted into the pipeline, per door and kind (see [`IngestCounters::record`]).
    pub items: [[AtomicU64; 4]; 3],
}

/// A door through which items come in (a label of the received-items metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// Signed webhooks.
    Webhook,
    /// The gRPC analytics stream.
    Grpc,
    /// The scrape of livekit-server's Prometheus metrics.
    Prometheus,
}

impl Door {
    /// Every door, in counter order.
    pub const ALL: [Door; 3] = [Door::Webhook, Door::Grpc, Door::Prometheus];

    /// The door's label value.
    pub fn name(self) -> &'static str {
        match self {
            Door::Webhook => "webhook",
            Door::Grpc => "grpc",
            Door::Prometheus => "prometheus",
        }
    }
}

impl IngestCounters {
    /// Counts accepted items of `kinds` as received through `door`.
    pub fn record(&self, door: Door, kinds: impl IntoIterator<Item = crate::model::ItemKind>) {
        for kind in kinds {
            self.items[door as usize][kind.index()]
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Items of `kind` accepted through `door` so far.
    pub fn received(&self, door: Door, kind: crate::model::ItemKind) -> u64 {
        self.items[door as usize][kind.index()].load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The running doors.
pub struct Doors {
    /// Where the webhook receiver listens, if it runs.
    pub webhook_addr: Option<SocketAddr>,
    /// Where the gRPC server listens, if it runs.
    pub grpc_addr: Option<SocketAddr>,
    /// Door counters.
    pub counters: Arc<IngestCounters>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// What the doors read of the configuration (the root config builds it: `Config::doors`).
#[derive(Debug, Clone)]
pub struct DoorSettings {
    /// Where the configuration came from, named in errors.
    pub source: ConfigSource,
    /// LiveKit API keys (for verifying webhooks).
    pub keys: ApiKeys,
    /// `openvidu.analytics.enabled`: false opens no door.
    pub enabled: bool,
    /// `openvidu.analytics.ingest`.
    pub ingest: config::IngestConfig,
    /// `openvidu.analytics.node_id`.
    pub node_id: Option<String>,
    /// `openvidu.analytics.expiration`.
    pub expiration: Duration,
    /// `openvidu.analytics.interval`: how often the queues drain, the webhook door's
    /// `Retry-After` when it cannot accept.
    pub interval: Duration,
    /// `openvidu.analytics.document_format`.
    pub document_format: DocumentFormat,
}

impl Doors {
    /// Binds and starts the doors that `config` enables, feeding `pipeline`; none when
    /// `openvidu.analytics.enabled` is false.
    pub async fn start(config: &DoorSettings, pipeline: Arc<Pipeline>) -> anyhow::Result<Doors> {
        Self::start_counting(config, pipeline, Arc::new(IngestCounters::default())).await
    }

    /// [`Doors::start`] counting into `counters` (those of the doors a reload replaced).
    pub async fn start_counting(
        config: &DoorSettings,
        pipeline: Arc<Pipeline>,
        counters: Arc<IngestCounters>,
    ) -> anyhow::Result<Doors> {
        let ingest = &config.ingest;
        let node_id = config.node_id.clone().unwrap_or_default();
        let expiration = config.expiration;
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        if !config.enabled {
            tracing::warn!("openvidu.analytics.enabled is false: no ingest door is opened");
            return Ok(Doors {
                webhook_addr: None,
                grpc_addr: None,
                counters,
                stop,
                tasks,
            });
        }
        let mut webhook_addr = None;
        if ingest.webhook.enabled {
            if config.keys.is_empty() {
                tracing::warn!("no LiveKit API keys configured (`keys`/`key_file`): every webhook will be refused with 401");
            }
            let listener = TcpListener::bind(ingest.webhook.listen)
                .await
                .with_context(|| {
                    format!(
                        "{}: openvidu.analytics.ingest.webhook.listen: cannot listen on {}",
                        config.source, ingest.webhook.listen
                    )
                })?;
            let addr = listener.local_addr().context("webhook listener address")?;
            let state = Arc::new(webhook::WebhookState {
                verifier: webhook::WebhookVerifier::new(config.keys.clone()),
                pipeline: pipeline.clone(),
                node_id: node_id.clone(),
                expiration,
                format: config.document_format,
                counters: counters.clone(),
                retry_after: config.interval,
                body_read_timeout: ingest.webhook.body_read_timeout,
            });
            let app = webhook::router(state, &ingest.webhook.path, ingest.webhook.max_body_bytes);
            let tls = match &ingest.webhook.tls {
                Some(tls) => Some(tls.server_config().with_context(|| {
                    format!("{}: openvidu.analytics.ingest.webhook.tls", config.source)
                })?),
                None => None,
            };
            let https = tls.is_some();
            let slots = crate::listener::Slots::new("webhook", ingest.webhook.connections.clone());
            let header_timeout = ingest.webhook.connections.header_read_timeout;
            let rx = stop_rx.clone();
            tasks.push(tokio::spawn(crate::listener::serve_http(
                slots,
                listener,
                app,
                tls,
                header_timeout,
                rx,
            )));
            tracing::info!(%addr, path = %ingest.webhook.path, https, "webhook receiver listening");
            webhook_addr = Some(addr);
        }
        let mut grpc_addr = None;
        if ingest.grpc.enabled {
            let listener = TcpListener::bind(ingest.grpc.listen)
                .await
                .with_context(|| {
                    format!(
                        "{}: openvidu.analytics.ingest.grpc.listen: cannot listen on {}",
                        config.source, ingest.grpc.listen
                    )
                })?;
            let addr = listener.local_addr().context("gRPC listener address")?;
            let grpc_config = &ingest.grpc;
            let mut server = tonic::transport::Server::builder()
                .http2_keepalive_interval(Some(grpc_config.keepalive_interval))
                .http2_keepalive_timeout(Some(grpc_config.keepalive_timeout));
            let tls_on = ingest.grpc.tls.is_some();
            if let Some(tls) = &ingest.grpc.tls {
                server = tls
                    .tonic_config()
                    .and_then(|tls| server.tls_config(tls).map_err(anyhow::Error::from))
                    .with_context(|| {
                        format!("{}: openvidu.analytics.ingest.grpc.tls", config.source)
                    })?;
            }
            let recorder = grpc::Recorder {
                pipeline: pipeline.clone(),
                node_id: node_id.clone(),
                expiration,
                format: config.document_format,
                counters: counters.clone(),
                limits: grpc::MessageLimits {
                    records: ingest.grpc.max_message_records,
                    item_bytes: ingest.grpc.max_message_item_bytes,
                },
                message_timeout: ingest.grpc.message_timeout,
            };
            let service = tonic::service::interceptor::InterceptedService::new(
                grpc::AnalyticsRecorderServiceServer::new(recorder)
                    .max_decoding_message_size(ingest.grpc.max_message_bytes as usize),
                grpc::TokenCheck::new(ingest.grpc.token.as_deref()),
            );
            let slots = crate::listener::Slots::new("grpc", ingest.grpc.connections.clone());
            let mut rx = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                let shutdown = async move {
                    let _ = rx.wait_for(|stop| *stop).await;
                };
                let incoming = crate::listener::incoming(slots, listener);
                if let Err(err) = server
                    .add_service(service)
                    .serve_with_incoming_shutdown(incoming, shutdown)
                    .await
                {
                    tracing::error!(error = %err, "gRPC server failed");
                }
            }));
            tracing::info!(%addr, tls = tls_on, "gRPC AnalyticsRecorderService listening");
            grpc_addr = Some(addr);
        }
        if let Some(url) = &ingest.prometheus.url {
            tasks.push(tokio::spawn(prometheus::run(
                url.clone(),
                ingest.prometheus.interval,
                node_id.clone(),
                expiration,
                pipeline.clone(),
                stop_rx.clone(),
                counters.clone(),
            )));
            tracing::info!(%url, interval = ?ingest.prometheus.interval, "scraping livekit-server's Prometheus metrics into node_stats");
        }
        Ok(Doors {
            webhook_addr,
            grpc_addr,
            counters,
            stop,
            tasks,
        })
    }

    /// No door open, counting into `counters` (a placeholder while doors are rebound).
    pub fn none(counters: Arc<IngestCounters>) -> Doors {
        Doors {
            webhook_addr: None,
            grpc_addr: None,
            counters,
            stop: watch::channel(false).0,
            tasks: Vec::new(),
        }
    }

    /// Checks what [`Doors::start`] would read besides binding: the TLS certificates and
    /// keys. A reload calls it before closing the running doors.
    pub fn check(config: &DoorSettings) -> anyhow::Result<()> {
        let ingest = &config.ingest;
        if let Some(tls) = ingest
            .webhook
            .tls
            .as_ref()
            .filter(|_| ingest.webhook.enabled)
        {
            tls.server_config().with_context(|| {
                format!("{}: openvidu.analytics.ingest.webhook.tls", config.source)
            })?;
        }
        if let Some(tls) = ingest.grpc.tls.as_ref().filter(|_| ingest.grpc.enabled) {
            tls.tonic_config().with_context(|| {
                format!("{}: openvidu.analytics.ingest.grpc.tls", config.source)
            })?;
        }
        Ok(())
    }

    /// Stops listening and waits until in-flight requests are answered.
    pub async fn close(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
