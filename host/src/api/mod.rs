//! The read API: what the host stored, as sessions a script (or the dashboard) can ask
//! for. JSON over HTTP on the telemetry listener (loopback by default):
//!
//! - `GET /api/rooms?from=&to=&name=&limit=&cursor=`: room sessions with any event in
//!   `[from, to)` (RFC 3339 or Unix seconds; default the last 24 hours), newest first;
//! - `GET /api/rooms/{sid}`: one session: participants, tracks, the event timeline;
//! - `GET /api/rooms/{sid}/quality?bucket=10s`: score, loss, jitter, round trip and bitrate
//!   per participant and track, a point per bucket ([`quality`]);
//! - `GET /api/participants?identity=&from=&to=`: the sessions a person was in;
//! - `GET /api/health`: what `/ready` knows, with each sink's counts and their recent
//!   throughput ([`history`]).
//!
//! The dashboard ([`dashboard`]) is served at `/` from assets built into the binary and
//! reads these routes.
//!
//! Answers come from MongoDB when `mongo_url` is set ([`mongo`]), else from the file
//! store's SQLite index (`sinks::file::index`, through [`IndexReads`]); [`sessions`] folds the events into
//! sessions the same way for any backend. Bad parameters answer 400, an unknown
//! sid 404, both with `{"error": "…"}`.

pub mod config;
pub mod dashboard;
pub mod event_fields;
pub mod event_row;
mod handlers;
pub mod history;
pub mod mongo;
mod params;
pub mod quality;
pub mod sessions;
pub mod side_records;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use crate::telemetry::Observed;
use async_trait::async_trait;
pub use config::{ApiConfig, ApiStore};
use history::History;
use mongo::MongoQuery;
use quality::{RoomScore, SeriesBuckets};

/// The reads the API asks of the embedded file store's index. The API defines them and the
/// index implements them, so the dependency points one way: the sinks use the API's rows
/// and folds, the API never imports the sinks.
#[async_trait]
pub trait IndexReads: std::fmt::Debug + Send + Sync {
    /// A page of `limit` sessions whose life (first to last event) overlaps `[from, to)`
    /// (named `name` if given) after the cursor `after` (start, sid), newest start first,
    /// and whether more follow: the same question as [`MongoQuery::sessions_page`].
    async fn sessions_page(
        &self,
        from: f64,
        to: f64,
        name: Option<&str>,
        after: Option<&(f64, String)>,
        limit: usize,
    ) -> anyhow::Result<(Vec<sessions::RoomSession>, bool)>;

    /// The sids of the rooms `identity` was in during `[from, to)`.
    async fn rooms_of(&self, identity: &str, from: f64, to: f64) -> anyhow::Result<Vec<String>>;

    /// The events of room session `sid`, in order.
    async fn room_events(&self, sid: &str) -> anyhow::Result<Vec<sessions::EventRow>>;

    /// The identities of the room's participants by sid; `None` when it has no events.
    async fn room_identities(&self, sid: &str) -> anyhow::Result<Option<BTreeMap<String, String>>>;

    /// The room's quality series, a point per `bucket` seconds.
    async fn room_quality(&self, sid: &str, bucket: f64) -> anyhow::Result<Vec<SeriesBuckets>>;

    /// The quality score of each room of `sids` that has stats.
    async fn room_scores(&self, sids: &[String]) -> anyhow::Result<BTreeMap<String, RoomScore>>;
}

/// Where the API reads from.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The MongoDB sink's database.
    Mongo(MongoQuery),
    /// The embedded file store's query index (`sinks::file::index::IndexQuery`, handed in by
    /// the assembly: the API does not import the sinks).
    Embedded(Arc<dyn IndexReads>),
    /// No queryable store is configured.
    None,
}

impl Backend {
    /// A page of `limit` sessions of `[from, to)` after the cursor `after` (start, sid),
    /// newest start first, and whether more follow: each backend pages in its store
    /// (MongoDB's `room_sessions` summaries, the embedded index's `rooms` table).
    async fn sessions_page(
        &self,
        from: f64,
        to: f64,
        name: Option<&str>,
        after: Option<&(f64, String)>,
        limit: usize,
    ) -> anyhow::Result<(Vec<sessions::RoomSession>, bool)> {
        match self {
            Backend::Mongo(q) => q.sessions_page(from, to, name, after, limit).await,
            Backend::Embedded(q) => q.sessions_page(from, to, name, after, limit).await,
            Backend::None => Ok((Vec::new(), false)),
        }
    }

    async fn rooms_of(&self, identity: &str, from: f64, to: f64) -> anyhow::Result<Vec<String>> {
        match self {
            Backend::Mongo(q) => q.rooms_of(identity, from, to).await,
            Backend::Embedded(q) => q.rooms_of(identity, from, to).await,
            Backend::None => Ok(Vec::new()),
        }
    }

    async fn room_events(&self, sid: &str) -> anyhow::Result<Vec<sessions::EventRow>> {
        match self {
            Backend::Mongo(q) => q.room_events(sid).await,
            Backend::Embedded(q) => q.room_events(sid).await,
            Backend::None => Ok(Vec::new()),
        }
    }

    /// The identities of the room's participants by sid; `None` when it has no events.
    async fn room_identities(&self, sid: &str) -> anyhow::Result<Option<BTreeMap<String, String>>> {
        match self {
            Backend::Mongo(q) => {
                let rows = q.room_events(sid).await?;
                Ok((!rows.is_empty()).then(|| sessions::identities(&rows)))
            }
            Backend::Embedded(q) => q.room_identities(sid).await,
            Backend::None => Ok(None),
        }
    }

    async fn room_quality(&self, sid: &str, bucket: f64) -> anyhow::Result<Vec<SeriesBuckets>> {
        match self {
            Backend::Mongo(q) => q.room_quality(sid, bucket).await,
            Backend::Embedded(q) => q.room_quality(sid, bucket).await,
            Backend::None => Ok(Vec::new()),
        }
    }

    async fn room_scores(&self, sids: &[String]) -> anyhow::Result<BTreeMap<String, RoomScore>> {
        match self {
            Backend::Mongo(q) => q.room_scores(sids).await,
            Backend::Embedded(q) => q.room_scores(sids).await,
            Backend::None => Ok(BTreeMap::new()),
        }
    }
}

/// What the API serves from; a configuration reload replaces it (the listener stays).
#[derive(Debug)]
pub struct ApiSettings {
    /// `api.enabled`: when false, `/api/*` answers 404 saying so.
    pub enabled: bool,
    /// Where answers come from.
    pub backend: Backend,
    /// `api.token`.
    pub token: Option<String>,
}

/// What the handlers share.
#[derive(Debug)]
pub struct ApiState {
    settings: RwLock<Arc<ApiSettings>>,
    observed: Observed,
    history: History,
}

/// The running API: its routes, and the settings a reload can replace.
#[derive(Debug, Clone)]
pub struct Api {
    state: Arc<ApiState>,
}

impl Api {
    /// An API serving from `settings`, and `/api/health` from `observed` (whose sinks'
    /// counts it samples from now on, for their recent throughput: needs a Tokio runtime).
    pub fn new(settings: ApiSettings, observed: Observed) -> Api {
        let history = History::sampling(observed.clone());
        Api {
            state: Arc::new(ApiState {
                settings: RwLock::new(Arc::new(settings)),
                observed,
                history,
            }),
        }
    }

    /// The routes (with `token`, every `/api` request must carry `Authorization: Bearer
    /// <token>`; the dashboard's assets are public and ask for it).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/api/rooms", get(handlers::rooms))
            .route("/api/rooms/{sid}", get(handlers::room))
            .route("/api/rooms/{sid}/quality", get(handlers::quality))
            .route("/api/participants", get(handlers::participants))
            .route("/api/health", get(handlers::health))
            .merge(dashboard::router())
            .with_state(self.state.clone())
    }

    /// Serves from `settings` from now on (a reload).
    pub fn update(&self, settings: ApiSettings) {
        *self.state.settings.write().expect("API settings lock") = Arc::new(settings);
    }
}

/// An error answer: its status and `{"error": message}`.
pub(crate) struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.1 }).to_string();
        (self.0, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message.into())
}

fn json<T: Serialize>(value: &T) -> Response {
    let body = serde_json::to_string(value).expect("API answers serialize");
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

impl ApiState {
    /// The settings, once the request is authorized and a backend can answer.
    fn check(&self, headers: &HeaderMap) -> Result<Arc<ApiSettings>, ApiError> {
        let settings = self.authorize(headers)?;
        match &settings.backend {
            Backend::None => Err(ApiError(
                StatusCode::NOT_IMPLEMENTED,
                "the query API reads MongoDB (openvidu.analytics.mongo_url) or the file \
                 store's index (file.index); neither is configured"
                    .into(),
            )),
            _ => Ok(settings),
        }
    }

    fn authorize(&self, headers: &HeaderMap) -> Result<Arc<ApiSettings>, ApiError> {
        let settings = self.settings.read().expect("API settings lock").clone();
        if !settings.enabled {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                "the read API is off (openvidu.analytics.api.enabled: false)".into(),
            ));
        }
        if let Some(token) = &settings.token {
            let given = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            if given != Some(token.as_str()) {
                return Err(ApiError(
                    StatusCode::UNAUTHORIZED,
                    "this API needs `Authorization: Bearer <openvidu.analytics.api.token>`".into(),
                ));
            }
        }
        Ok(settings)
    }
}
