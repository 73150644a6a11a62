//! The webhook door: an HTTP endpoint for livekit-server's signed webhooks.
//!
//! Answers: 200 once accepted into the queues (and for event names the host does not map,
//! so LiveKit does not retry them); 400 for a body that is not a webhook event; 401 for a
//! missing, malformed, expired or not-yet-valid token, an unknown API key or a body hash
//! mismatch; 408 for a body slower than `body_read_timeout`; 413 over `max_body_bytes`;
//! 503 with `Retry-After` when the host cannot accept (shutting down, or its queues or
//! spool are full: livekit-server retries, so nothing acknowledged is ever evicted to make
//! room).

pub mod token;

use super::mapping::{event_type, parse_webhook, webhook_item, ParsedWebhook};
use super::IngestCounters;
use crate::model::DocumentFormat;
use crate::pipeline::{AcceptError, Pipeline};
use crate::settings::ApiKeys;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::Engine as _;
use livekit_protocol::WebhookEvent;
use sha2::{Digest, Sha256};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use token::TokenKeys;

/// Why a request was refused before parsing.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("no Authorization header")]
    Missing,
    /// The token cannot be decoded.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The token's issuer is not one of the configured API keys.
    #[error("unknown API key `{0}`")]
    UnknownKey(String),
    /// Bad signature, expired, not yet valid, or wrong issuer.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The `sha256` claim does not match the body.
    #[error("the body does not match the token's sha256 claim")]
    BodyHash,
}

/// Verifies webhook requests as livekit-server signs them: the token (see [`token`]), then
/// the body against the token's `sha256` claim, then parses the body.
#[derive(Debug, Clone)]
pub struct WebhookVerifier {
    keys: TokenKeys,
}

/// What a verified request holds.
#[derive(Debug)]
pub enum Verified {
    /// The body is a webhook event (possibly parsed leniently).
    Event(Box<ParsedWebhook>),
    /// The signature and hash are good but the body is not a webhook event.
    NotWebhook(String),
}

impl WebhookVerifier {
    /// A verifier accepting tokens of any of `keys`.
    pub fn new(keys: ApiKeys) -> Self {
        WebhookVerifier {
            keys: TokenKeys::new(&keys),
        }
    }

    /// Verifies `authorization` (a JWT, optionally after `Bearer `) against `body`, then
    /// parses the body.
    pub fn verify(&self, authorization: Option<&str>, body: &[u8]) -> Result<Verified, AuthError> {
        let auth = authorization.ok_or(AuthError::Missing)?.trim();
        let token = auth.strip_prefix("Bearer ").unwrap_or(auth).trim();
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        let claims = self.keys.verify(token)?;
        let signed_hash = base64::engine::general_purpose::STANDARD
            .decode(&claims.sha256)
            .map_err(|_| AuthError::BodyHash)?;
        if signed_hash[..] != Sha256::digest(body)[..] {
            return Err(AuthError::BodyHash);
        }
        let Ok(text) = std::str::from_utf8(body) else {
            return Ok(Verified::NotWebhook("the body is not UTF-8".into()));
        };
        match serde_json::from_str::<WebhookEvent>(text) {
            Ok(event) if event.event.is_empty() => {
                Ok(Verified::NotWebhook("no `event` name".into()))
            }
            Ok(event) => Ok(Verified::Event(Box::new(ParsedWebhook {
                event,
                dropped: Vec::new(),
                raw: None,
            }))),
            // Values this protocol version does not know: kept leniently, with the raw JSON.
            Err(_) => match parse_webhook(body) {
                Ok(parsed) => Ok(Verified::Event(Box::new(parsed))),
                Err(err) => Ok(Verified::NotWebhook(err.to_string())),
            },
        }
    }
}

/// Everything the handler needs.
#[derive(Debug)]
pub struct WebhookState {
    /// Request verification.
    pub verifier: WebhookVerifier,
    /// Where accepted items go.
    pub pipeline: Arc<Pipeline>,
    /// Node id written into mapped events.
    pub node_id: String,
    /// `openvidu.analytics.expiration`.
    pub expiration: Duration,
    /// `openvidu.analytics.document_format`.
    pub format: DocumentFormat,
    /// Door counters.
    pub counters: Arc<IngestCounters>,
    /// The `Retry-After` of a 503: the queues drain once per `openvidu.analytics.interval`.
    pub retry_after: Duration,
    /// `ingest.webhook.body_read_timeout`: a body slower than this gets 408.
    pub body_read_timeout: Duration,
}

/// The router serving `path` with a body limit of `max_body_bytes`.
pub fn router(state: Arc<WebhookState>, path: &str, max_body_bytes: usize) -> Router {
    Router::new()
        .route(path, post(receive))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

async fn receive(State(state): State<Arc<WebhookState>>, request: Request) -> Response {
    let (status, text) = answer(&state, request).await;
    let mut response = (status, text).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        // Whole seconds, at least 1 (RFC 9110 `delay-seconds`).
        let seconds = state.retry_after.as_secs_f64().ceil().max(1.0) as u64;
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// The status and text of the answer to one request.
async fn answer(state: &WebhookState, request: Request) -> (StatusCode, &'static str) {
    let counters = &state.counters;
    // The one header read, taken before the body consumes the request (a `HeaderMap`
    // extractor would copy them all).
    let auth = request.headers().get(header::AUTHORIZATION).cloned();
    let body = tokio::time::timeout(state.body_read_timeout, Bytes::from_request(request, &()));
    let body = match body.await {
        Ok(Ok(body)) => body,
        Err(_) => {
            counters.webhook_bad_request.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("webhook body not read within ingest.webhook.body_read_timeout");
            return (StatusCode::REQUEST_TIMEOUT, "body too slow\n");
        }
        Ok(Err(rejection)) => {
            let status = rejection.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                counters.webhook_too_large.fetch_add(1, Ordering::Relaxed);
                return (status, "body too large\n");
            }
            counters.webhook_bad_request.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%rejection, "webhook body could not be read");
            // A client that breaks off mid-body is bad input, never a 5xx.
            let status = if status.is_server_error() {
                StatusCode::BAD_REQUEST
            } else {
                status
            };
            return (status, "cannot read the body\n");
        }
    };
    let auth = auth.as_ref().and_then(|v| v.to_str().ok());
    let parsed = match state.verifier.verify(auth, &body) {
        Ok(Verified::Event(parsed)) => *parsed,
        Ok(Verified::NotWebhook(reason)) => {
            counters.webhook_bad_request.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%reason, "webhook body is not a webhook event");
            return (StatusCode::BAD_REQUEST, "not a webhook event\n");
        }
        Err(err) => {
            counters
                .webhook_unauthorized
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %err, "webhook refused");
            return (StatusCode::UNAUTHORIZED, "unauthorized\n");
        }
    };
    if !parsed.dropped.is_empty() {
        counters.webhook_lenient.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(event = %parsed.event.event, id = %parsed.event.id, dropped = ?parsed.dropped,
            "webhook carries values this protocol version does not know; kept the rest and the raw JSON");
    }
    let Some(event_kind) = event_type(&parsed.event.event) else {
        counters.webhook_unknown.fetch_add(1, Ordering::Relaxed);
        tracing::info!(event = %parsed.event.event, id = %parsed.event.id, "webhook event name not mapped; acknowledged, not stored");
        return (StatusCode::OK, "ignored\n");
    };
    let item = webhook_item(
        parsed.event,
        event_kind,
        parsed.raw,
        &state.node_id,
        SystemTime::now(),
        state.expiration,
        state.format,
    );
    let kind = item.kind;
    match state.pipeline.accept_async(vec![item]).await {
        Ok(_) => {
            counters.webhook_accepted.fetch_add(1, Ordering::Relaxed);
            counters.record(super::Door::Webhook, [kind]);
            (StatusCode::OK, "ok\n")
        }
        Err(err) => {
            counters.webhook_unavailable.fetch_add(1, Ordering::Relaxed);
            if matches!(err, AcceptError::Full(_) | AcceptError::QueueBytesFull) {
                // The full queue logs once per overflow burst; one line per request would flood.
                tracing::debug!(error = %err, "webhook not accepted");
            } else {
                tracing::warn!(error = %err, "webhook not accepted");
            }
            let text = match err {
                AcceptError::Closed => "shutting down\n",
                AcceptError::Full(_) | AcceptError::QueueBytesFull => "queue full\n",
                AcceptError::SpoolFull => "spool full\n",
                AcceptError::Spool(_) => "spool write failed\n",
            };
            (StatusCode::SERVICE_UNAVAILABLE, text)
        }
    }
}
