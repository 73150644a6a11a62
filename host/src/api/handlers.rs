//! The routes' handlers: parameters checked (400 naming the bad one), the backend asked
//! (502 when it cannot answer), the answer folded and sent as JSON.

use super::params::{bucket, cursor, encode_cursor, range};
use super::quality::{self, QualitySeries};
use super::sessions::{self, RoomSession};
use super::{bad_request, json, ApiError, ApiState};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A backend's failure, as the API answers it.
fn unavailable(error: anyhow::Error) -> ApiError {
    ApiError(StatusCode::BAD_GATEWAY, format!("{error:#}"))
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
/// How many of a person's rooms `/api/participants` reads at once.
const PARTICIPANT_ROOMS_AT_ONCE: usize = 8;

pub(super) async fn rooms(
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
    let (mut page, more) = query
        .sessions_page(from, to, params.name.as_deref(), after.as_ref(), limit)
        .await
        .map_err(unavailable)?;
    let next_cursor = more
        .then(|| page.last().map(|s| encode_cursor(s.started_at, &s.sid)))
        .flatten();
    let sids: Vec<String> = page.iter().map(|s| s.sid.clone()).collect();
    let scores = query.room_scores(&sids).await.map_err(unavailable)?;
    for session in &mut page {
        if let Some(score) = scores.get(&session.sid) {
            session.worst_score = score.worst;
            session.mean_score = score.mean;
        }
    }
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

pub(super) async fn participants(
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
        .map_err(unavailable)?;
    let sids: Vec<String> = sids.into_iter().take(LIMIT.1).collect();
    // The rooms' scores in one question, their events a few rooms at a time (a question
    // per room, one after another, was a round trip each: seconds over MongoDB for a
    // person in a hundred rooms).
    let scores = backend.room_scores(&sids).await.map_err(unavailable)?;
    let mut events = futures::stream::iter(sids.iter().cloned())
        .map(|sid| async move { backend.room_events(&sid).await })
        .buffered(PARTICIPANT_ROOMS_AT_ONCE);
    let mut rooms = Vec::new();
    let mut sids = sids.iter();
    while let Some(rows) = events.next().await {
        let rows = rows.map_err(unavailable)?;
        let sid = sids.next().expect("one answer per room");
        if let Some(mut detail) = sessions::detail(&rows) {
            if let Some(score) = scores.get(sid) {
                detail.session.worst_score = score.worst;
                detail.session.mean_score = score.mean;
            }
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

pub(super) async fn health(
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
                "notes": s.notes,
                "queued": s.queued,
                "stored": counts.as_ref().map_or(0, |c| c.stored),
                "duplicates": counts.as_ref().map_or(0, |c| c.duplicates),
                "retried": counts.as_ref().map_or(0, |c| c.retried),
                "rejected": counts.as_ref().map_or(0, |c| c.rejected),
                "overflowed": counts.as_ref().map_or(0, |c| c.overflowed),
                "failed_batches": counts.as_ref().map_or(0, |c| c.failed_batches),
                "last_error": counters.get(&s.name).and_then(|c| c.last_error())
                    .map(|(at, error)| serde_json::json!({ "at": at, "error": error })),
                "recent": state.history.rates(&s.name),
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

/// The `{sid}` of a room route; one that does not decode (`%ff%fe` is not UTF-8) is a
/// JSON 400 like every other bad parameter, not axum's plain-text rejection.
fn room_sid(sid: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    match sid {
        Ok(Path(sid)) => Ok(sid),
        Err(rejection) => Err(bad_request(format!(
            "the room sid in the path: {}",
            rejection.body_text()
        ))),
    }
}

pub(super) async fn room(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    sid: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let settings = state.check(&headers)?;
    let sid = room_sid(sid)?;
    let rows = settings
        .backend
        .room_events(&sid)
        .await
        .map_err(unavailable)?;
    let Some(mut detail) = sessions::detail(&rows) else {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no events stored for room `{sid}`"),
        ));
    };
    let scores = settings
        .backend
        .room_scores(std::slice::from_ref(&sid))
        .await
        .map_err(unavailable)?;
    if let Some(score) = scores.get(&sid) {
        detail.session.worst_score = score.worst;
        detail.session.mean_score = score.mean;
    }
    Ok(json(&detail))
}

/// The parameters of `GET /api/rooms/{sid}/quality`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityParams {
    bucket: Option<String>,
}

/// `GET /api/rooms/{sid}/quality`.
#[derive(Debug, Serialize)]
pub struct QualityAnswer {
    /// The room's sid.
    pub room_sid: String,
    /// The bucket size, seconds.
    pub bucket_seconds: f64,
    /// The stats stored for the room.
    pub stats: usize,
    /// One series per participant, track and direction.
    pub series: Vec<QualitySeries>,
}

pub(super) async fn quality(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    sid: Result<Path<String>, PathRejection>,
    params: Result<Query<QualityParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let settings = state.check(&headers)?;
    let sid = room_sid(sid)?;
    let Query(params) = params.map_err(|e| bad_request(e.body_text()))?;
    let bucket = bucket(params.bucket.as_deref())?;
    let (identities, buckets) = tokio::try_join!(
        settings.backend.room_identities(&sid),
        settings.backend.room_quality(&sid, bucket)
    )
    .map_err(unavailable)?;
    let stats: usize = buckets
        .iter()
        .flat_map(|s| s.buckets.values())
        .map(|b| b.stats as usize)
        .sum();
    if identities.is_none() && stats == 0 {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no events or stats stored for room `{sid}`"),
        ));
    }
    let identities = identities.unwrap_or_default();
    Ok(json(&QualityAnswer {
        series: quality::series(buckets, bucket, &identities),
        stats,
        room_sid: sid,
        bucket_seconds: bucket,
    }))
}
