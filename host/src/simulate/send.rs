//! The senders: signed webhooks over HTTP and `livekit.AnalyticsRecorderService` calls over
//! gRPC, each request's outcome and latency recorded in the [`Tally`].
//!
//! Webhooks are signed as livekit-server signs them: `Authorization: <JWT>`, HS256 with the
//! API secret, the API key as issuer and the base64 SHA-256 of the body as the `sha256`
//! claim. Each gRPC call is a client stream of one message, so every message gets its own
//! acknowledgement (what a refused call carried is exactly what was refused).

use super::report::{Outcome, Tally};
use crate::ingest::grpc::AnalyticsRecorderServiceClient;
use anyhow::Context;
use base64::Engine as _;
use livekit_protocol::{AnalyticsEvents, AnalyticsNodeRooms, AnalyticsStats, WebhookEvent};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};

/// How long a request may take before it counts as a transport error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// One request to make.
#[derive(Debug)]
pub enum Job {
    /// A webhook POST; `id` is the document id of the event it becomes.
    Webhook {
        /// The webhook.
        webhook: Box<WebhookEvent>,
        /// Its document id.
        id: String,
    },
    /// An `IngestEvents` call with one message; `ids` are the events' document ids.
    Events {
        /// The message.
        message: AnalyticsEvents,
        /// Document ids, one per event.
        ids: Vec<String>,
    },
    /// An `IngestStats` call with one message; `ids` are the stats' document ids.
    Stats {
        /// The message.
        message: AnalyticsStats,
        /// Document ids, one per stat.
        ids: Vec<String>,
    },
    /// An `IngestNodeRoomStates` call with one snapshot.
    NodeRooms {
        /// The snapshot.
        message: AnalyticsNodeRooms,
        /// Its document id.
        id: String,
    },
}

impl Job {
    /// Items this request carries.
    pub fn items(&self) -> usize {
        match self {
            Job::Webhook { .. } | Job::NodeRooms { .. } => 1,
            Job::Events { ids, .. } | Job::Stats { ids, .. } => ids.len(),
        }
    }
}

/// Where and how to send.
#[derive(Debug, Clone)]
pub struct Target {
    /// Webhook URL, if the webhook door is used.
    pub webhook_url: Option<String>,
    /// API key and secret that sign webhooks.
    pub api_key: String,
    /// Secret of `api_key`.
    pub api_secret: String,
    /// gRPC endpoint URL, if the gRPC door is used.
    pub grpc_url: Option<String>,
    /// Bearer token for gRPC calls.
    pub grpc_token: Option<String>,
    /// gRPC connections to open (calls are spread over them).
    pub grpc_connections: usize,
    /// Webhook connections to keep open.
    pub http_connections: usize,
}

/// The connected senders, shared by every worker.
pub struct Sender {
    target: Target,
    http: reqwest::Client,
    grpc: Vec<AnalyticsRecorderServiceClient<Channel>>,
    token: Option<MetadataValue<tonic::metadata::Ascii>>,
    tally: Arc<Mutex<Tally>>,
}

impl Sender {
    /// Connects to the doors in `target` (the gRPC channels, and one request to the webhook
    /// URL to see that something answers there); an error names the URL that failed.
    pub async fn connect(target: Target, tally: Arc<Mutex<Tally>>) -> anyhow::Result<Sender> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(target.http_connections.max(1))
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("building the HTTP client")?;
        if let Some(url) = &target.webhook_url {
            // Any HTTP answer (the door answers a GET with 405) means the URL is reachable.
            http.get(url)
                .send()
                .await
                .with_context(|| format!("cannot reach the webhook door at {url}"))?;
        }
        let mut grpc = Vec::new();
        if let Some(url) = &target.grpc_url {
            let endpoint = Endpoint::from_shared(url.clone())
                .with_context(|| format!("not a gRPC URL: {url}"))?
                .timeout(REQUEST_TIMEOUT)
                .connect_timeout(Duration::from_secs(5));
            for _ in 0..target.grpc_connections.max(1) {
                let channel = endpoint
                    .connect()
                    .await
                    .with_context(|| format!("cannot connect to the gRPC door at {url}"))?;
                grpc.push(AnalyticsRecorderServiceClient::new(channel));
            }
        }
        let token = match &target.grpc_token {
            Some(token) => Some(
                format!("Bearer {token}")
                    .parse()
                    .context("the gRPC token is not valid metadata")?,
            ),
            None => None,
        };
        Ok(Sender {
            target,
            http,
            grpc,
            token,
            tally,
        })
    }

    fn record(
        &self,
        door: &'static str,
        kind: &'static str,
        collection: &'static str,
        ids: &[String],
        outcome: Outcome<'_>,
        latency: Option<Duration>,
    ) {
        self.tally
            .lock()
            .expect("tally lock")
            .record(door, kind, collection, ids, outcome, latency);
    }

    /// Sends `job` (worker number `worker` picks the gRPC connection) and records it.
    pub async fn send(&self, job: Job, worker: usize) {
        match job {
            Job::Webhook { webhook, id } => self.webhook(&webhook, id).await,
            Job::Events { message, ids } => {
                let mut client = self.client(worker);
                let request = self.request(message);
                let started = Instant::now();
                let result = client.ingest_events(request).await;
                self.grpc_outcome("event", "events", &ids, result.map(|_| ()), started);
            }
            Job::Stats { message, ids } => {
                let mut client = self.client(worker);
                let request = self.request(message);
                let started = Instant::now();
                let result = client.ingest_stats(request).await;
                self.grpc_outcome("stat", "stats", &ids, result.map(|_| ()), started);
            }
            Job::NodeRooms { message, id } => {
                let mut client = self.client(worker);
                let request = self.request(message);
                let started = Instant::now();
                let result = client.ingest_node_room_states(request).await;
                self.grpc_outcome(
                    "node_rooms",
                    "node_rooms",
                    &[id],
                    result.map(|_| ()),
                    started,
                );
            }
        }
    }

    fn client(&self, worker: usize) -> AnalyticsRecorderServiceClient<Channel> {
        self.grpc[worker % self.grpc.len()].clone()
    }

    fn request<M: Send + 'static>(
        &self,
        message: M,
    ) -> tonic::Request<futures::stream::Iter<std::iter::Once<M>>> {
        let mut request = tonic::Request::new(futures::stream::iter(std::iter::once(message)));
        if let Some(token) = &self.token {
            request
                .metadata_mut()
                .insert("authorization", token.clone());
        }
        request
    }

    fn grpc_outcome(
        &self,
        kind: &'static str,
        collection: &'static str,
        ids: &[String],
        result: Result<(), tonic::Status>,
        started: Instant,
    ) {
        let latency = started.elapsed();
        match result {
            Ok(()) => self.record(
                "grpc",
                kind,
                collection,
                ids,
                Outcome::Accepted,
                Some(latency),
            ),
            Err(status) if is_transport_error(&status) => {
                self.record("grpc", kind, collection, ids, Outcome::TransportError, None)
            }
            Err(status) => self.record(
                "grpc",
                kind,
                collection,
                ids,
                Outcome::Refused(code_name(status.code())),
                Some(latency),
            ),
        }
    }

    async fn webhook(&self, webhook: &WebhookEvent, id: String) {
        let ids = [id];
        let url = self
            .target
            .webhook_url
            .as_deref()
            .expect("webhook jobs only with a webhook URL");
        let body = serde_json::to_vec(webhook).expect("a webhook serializes");
        let token = match sign(&self.target.api_key, &self.target.api_secret, &body) {
            Ok(token) => token,
            Err(err) => {
                tracing::warn!(error = %err, "cannot sign the webhook");
                self.record(
                    "webhook",
                    "event",
                    "events",
                    &ids,
                    Outcome::Refused("unsigned"),
                    None,
                );
                return;
            }
        };
        let started = Instant::now();
        let result = self
            .http
            .post(url)
            .header("content-type", "application/webhook+json")
            .header("authorization", token)
            .body(body)
            .send()
            .await;
        let latency = started.elapsed();
        match result {
            Ok(response) if response.status().is_success() => self.record(
                "webhook",
                "event",
                "events",
                &ids,
                Outcome::Accepted,
                Some(latency),
            ),
            Ok(response) => self.record(
                "webhook",
                "event",
                "events",
                &ids,
                Outcome::Refused(response.status().as_str()),
                Some(latency),
            ),
            Err(_) => self.record(
                "webhook",
                "event",
                "events",
                &ids,
                Outcome::TransportError,
                None,
            ),
        }
    }
}

/// The `Authorization` value livekit-server sends with a webhook `body`: a JWT signed with
/// `secret` (HS256), issuer `key`, claim `sha256` = base64(SHA-256(body)).
pub fn sign(key: &str, secret: &str, body: &[u8]) -> anyhow::Result<String> {
    let sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body));
    livekit_api::access_token::AccessToken::with_api_key(key, secret)
        .with_sha256(&sha)
        .to_jwt()
        .context("signing a webhook")
}

/// Whether a failed call never got an answer from the server (connection refused, reset,
/// timeout) rather than a status it sent.
fn is_transport_error(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
    ) && std::error::Error::source(status).is_some()
        || status.code() == tonic::Code::DeadlineExceeded
}

/// The gRPC code name as in the gRPC specification (`RESOURCE_EXHAUSTED`).
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}
