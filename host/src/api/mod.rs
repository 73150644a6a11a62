//! The read API: what the host stored, as sessions a script (or the dashboard) can ask
//! for. JSON over HTTP on the telemetry listener (loopback by default):
//!
//! - `GET /api/rooms?from=&to=&name=&limit=&cursor=`: room sessions with any event in
//!   `[from, to)` (RFC 3339 or Unix seconds; default the last 24 hours), newest first;
//! - `GET /api/rooms/{sid}`: one session: participants, tracks, the event timeline;
//! - `GET /api/participants?identity=&from=&to=`: the sessions a person was in;
//! - `GET /api/health`: what `/ready` knows, with each sink's counts.
//!
//! Answers come from MongoDB when `mongo_url` is set ([`mongo`]), else from the file
//! store's SQLite index (`crate::sinks::file::index`); [`sessions`] folds the events into
//! sessions the same way for any backend. Bad parameters answer 400, an unknown
//! sid 404, both with `{"error": "…"}`.

pub mod config;
pub mod mongo;
pub mod sessions;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::sinks::file::index::IndexQuery;
use crate::telemetry::Observed;
pub use config::ApiConfig;
use mongo::MongoQuery;
use sessions::RoomSession;

/// Where the API reads from.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The MongoDB sink's database.
    Mongo(MongoQuery),
    /// The embedded file store's query index.
    Embedded(IndexQuery),
    /// No queryable store is configured.
    None,
}

impl Backend {
    async fn events_between(
        &self,
        from: f64,
        to: f64,
        name: Option<&str>,
    ) -> anyhow::Result<Vec<sessions::EventRow>> {
        match self {
            Backend::Mongo(q) => q.events_between(from, to, name).await,
            Backend::Embedded(q) => q.events_between(from, to, name).await,
            Backend::None => Ok(Vec::new()),
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

impl ApiSettings {
    /// The settings of `config`: MongoDB when `mongo_url` is set, else the file store's
    /// index when the file store keeps one.
    pub async fn of(config: &crate::config::Config) -> anyhow::Result<ApiSettings> {
        let a = &config.analytics;
        let backend = match &a.mongo_url {
            _ if !a.enabled || !a.api.enabled => Backend::None,
            Some(url) => Backend::Mongo(MongoQuery::connect(url, &a.mongo_database).await?),
            None if config.file_store_enabled() && a.file.index => {
                Backend::Embedded(IndexQuery::new(&a.file.dir))
            }
            None => Backend::None,
        };
        Ok(ApiSettings {
            enabled: a.api.enabled,
            backend,
            token: a.api.token.clone(),
        })
    }
}

/// What the handlers share.
#[derive(Debug)]
pub struct ApiState {
    settings: RwLock<Arc<ApiSettings>>,
    observed: Observed,
}

/// The running API: its routes, and the settings a reload can replace.
#[derive(Debug, Clone)]
pub struct Api {
    state: Arc<ApiState>,
}

impl Api {
    /// An API serving from `settings`, and `/api/health` from `observed`.
    pub fn new(settings: ApiSettings, observed: Observed) -> Api {
        Api {
            state: Arc::new(ApiState {
                settings: RwLock::new(Arc::new(settings)),
                observed,
            }),
        }
    }

    /// The routes (with `token`, every request must carry `Authorization: Bearer <token>`).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/api/rooms", get(rooms))
            .route("/api/rooms/{sid}", get(room))
            .route("/api/participants", get(participants))
            .route("/api/health", get(health))
            .with_state(self.state.clone())
    }

    /// Serves from `settings` from now on (a reload).
    pub fn update(&self, settings: ApiSettings) {
        *self.state.settings.write().expect("API settings lock") = Arc::new(settings);
    }
}

/// An error answer: its status and `{"error": message}`.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.1 }).to_string();
        (self.0, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

fn bad_request(message: impl Into<String>) -> ApiError {
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

/// The parameters of `GET /api/rooms`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomsParams {
    from: Option<String>,
    to: Option<String>,
    name: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// One page of `GET /api/rooms`.
#[derive(Debug, Serialize)]
pub struct RoomsPage {
    /// The sessions, newest start first.
    pub rooms: Vec<RoomSession>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Default and largest page sizes.
const LIMIT: (usize, usize) = (50, 1000);
/// The default time range: the last day.
const DEFAULT_RANGE_SECONDS: f64 = 86_400.0;

async fn rooms(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    params: Result<Query<RoomsParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let settings = state.check(&headers)?;
    let query = &settings.backend;
    let Query(params) = params.map_err(|e| bad_request(e.body_text()))?;
    let (from, to) = range(params.from.as_deref(), params.to.as_deref())?;
    let limit = match params.limit.as_deref() {
        None => LIMIT.0,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=LIMIT.1).contains(n))
            .ok_or_else(|| {
                bad_request(format!("`limit` {text:?}: a number from 1 to {}", LIMIT.1))
            })?,
    };
    let after = params.cursor.as_deref().map(cursor).transpose()?;
    let rows = query
        .events_between(from, to, params.name.as_deref())
        .await
        .map_err(|e| ApiError(StatusCode::BAD_GATEWAY, format!("{e:#}")))?;
    let all = sessions::sessions(&rows);
    let start = match &after {
        // The order is newest start first, then sid: resume after the cursor's session.
        Some((started, sid)) => all
            .iter()
            .position(|s| {
                s.started_at < *started
                    || (s.started_at == *started && s.sid.as_str() > sid.as_str())
            })
            .unwrap_or(all.len()),
        None => 0,
    };
    let page: Vec<RoomSession> = all.iter().skip(start).take(limit).cloned().collect();
    let next_cursor = (start + page.len() < all.len())
        .then(|| page.last().map(|s| encode_cursor(s.started_at, &s.sid)))
        .flatten();
    Ok(json(&RoomsPage {
        rooms: page,
        next_cursor,
    }))
}

/// The parameters of `GET /api/participants`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParticipantParams {
    identity: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// One session of a person, as `GET /api/participants` lists it.
#[derive(Debug, Serialize)]
pub struct ParticipantRoom {
    /// The room's session.
    pub room: RoomSession,
    /// The person in it (one entry per participant sid they had: a rejoin is another).
    pub participants: Vec<sessions::ParticipantSession>,
}

async fn participants(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    params: Result<Query<ParticipantParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let settings = state.check(&headers)?;
    let backend = &settings.backend;
    let Query(params) = params.map_err(|e| bad_request(e.body_text()))?;
    let identity = params
        .identity
        .filter(|i| !i.is_empty())
        .ok_or_else(|| bad_request("`identity` is required"))?;
    let (from, to) = range(params.from.as_deref(), params.to.as_deref())?;
    let sids = backend
        .rooms_of(&identity, from, to)
        .await
        .map_err(|e| ApiError(StatusCode::BAD_GATEWAY, format!("{e:#}")))?;
    let mut rooms = Vec::new();
    for sid in sids.iter().take(LIMIT.1) {
        let rows = backend
            .room_events(sid)
            .await
            .map_err(|e| ApiError(StatusCode::BAD_GATEWAY, format!("{e:#}")))?;
        if let Some(detail) = sessions::detail(&rows) {
            let participants = detail
                .participants
                .into_iter()
                .filter(|p| p.identity == identity)
                .collect();
            rooms.push(ParticipantRoom {
                room: detail.session,
                participants,
            });
        }
    }
    rooms.sort_by(|a, b| {
        b.room
            .started_at
            .total_cmp(&a.room.started_at)
            .then(a.room.sid.cmp(&b.room.sid))
    });
    Ok(json(
        &serde_json::json!({ "identity": identity, "rooms": rooms }),
    ))
}

async fn health(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.authorize(&headers)?;
    let readiness = state.observed.readiness();
    let counters = state.observed.sinks();
    let sinks: Vec<serde_json::Value> = readiness
        .sinks
        .iter()
        .map(|s| {
            let counts = counters.get(&s.name).map(|c| c.snapshot());
            serde_json::json!({
                "name": s.name,
                "initialized": s.initialized,
                "failing": s.failing,
                "gave_up": s.gave_up,
                "queued": s.queued,
                "stored": counts.as_ref().map_or(0, |c| c.stored),
                "duplicates": counts.as_ref().map_or(0, |c| c.duplicates),
                "retried": counts.as_ref().map_or(0, |c| c.retried),
                "rejected": counts.as_ref().map_or(0, |c| c.rejected),
                "overflowed": counts.as_ref().map_or(0, |c| c.overflowed),
                "failed_batches": counts.as_ref().map_or(0, |c| c.failed_batches),
            })
        })
        .collect();
    Ok(json(&serde_json::json!({
        "ready": readiness.ready,
        "accepting": readiness.accepting,
        "spool_damaged": readiness.spool_damaged,
        "sinks": sinks,
    })))
}

async fn room(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path(sid): Path<String>,
) -> Result<Response, ApiError> {
    let settings = state.check(&headers)?;
    let rows = settings
        .backend
        .room_events(&sid)
        .await
        .map_err(|e| ApiError(StatusCode::BAD_GATEWAY, format!("{e:#}")))?;
    match sessions::detail(&rows) {
        Some(detail) => Ok(json(&detail)),
        None => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no events stored for room `{sid}`"),
        )),
    }
}

/// The `[from, to)` of the parameters: by default the last day.
fn range(from: Option<&str>, to: Option<&str>) -> Result<(f64, f64), ApiError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let to = to.map(|t| time("to", t)).transpose()?.unwrap_or(now);
    let from = from
        .map(|t| time("from", t))
        .transpose()?
        .unwrap_or(to - DEFAULT_RANGE_SECONDS);
    if from >= to {
        return Err(bad_request(format!(
            "`from` ({from}) must be before `to` ({to})"
        )));
    }
    Ok((from, to))
}

/// A time parameter: Unix seconds (`1764460800`, `1764460800.5`) or RFC 3339.
fn time(name: &str, text: &str) -> Result<f64, ApiError> {
    if let Ok(seconds) = text.parse::<f64>() {
        if seconds.is_finite() {
            return Ok(seconds);
        }
    }
    humantime::parse_rfc3339_weak(text)
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64())
        .ok_or_else(|| {
            bad_request(format!(
                "`{name}` {text:?}: Unix seconds or an RFC 3339 time (2026-11-30T08:00:00Z)"
            ))
        })
}

fn encode_cursor(started_at: f64, sid: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{started_at}:{sid}"))
}

fn cursor(text: &str) -> Result<(f64, String), ApiError> {
    let bad = || bad_request(format!("`cursor` {text:?} is not one this API gave"));
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (started, sid) = raw.split_once(':').ok_or_else(bad)?;
    Ok((started.parse().map_err(|_| bad())?, sid.to_string()))
}
