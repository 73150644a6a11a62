//! From a LiveKit `WebhookEvent` to the `AnalyticsEvent` livekit-server emits beside it, and
//! a lenient parser that keeps webhooks carrying enum values or fields newer than the
//! protocol crate.
//!
//! | webhook `event` | `AnalyticsEventType` |
//! | --- | --- |
//! | `room_started` | `ROOM_CREATED` |
//! | `room_finished` | `ROOM_ENDED` |
//! | `participant_joined` | `PARTICIPANT_ACTIVE` (livekit-server sends this webhook when the participant becomes active, beside its own `PARTICIPANT_ACTIVE` event; `PARTICIPANT_JOINED` is emitted earlier, at signal connection, with no webhook) |
//! | `participant_left` | `PARTICIPANT_LEFT` |
//! | `participant_connection_aborted` | `PARTICIPANT_CONNECTION_ABORTED` |
//! | `track_published` / `track_unpublished` | `TRACK_PUBLISHED` / `TRACK_UNPUBLISHED` |
//! | `egress_started` / `egress_updated` / `egress_ended` | `EGRESS_STARTED` / `EGRESS_UPDATED` / `EGRESS_ENDED` |
//! | `ingress_started` / `ingress_ended` | `INGRESS_STARTED` / `INGRESS_ENDED` |

use crate::model::{md5_hex, DocumentFormat, Item, Timestamp};
use livekit_protocol::{AnalyticsEvent, AnalyticsEventType, WebhookEvent};
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// Document field holding the original webhook JSON when parts of it were newer than the
/// protocol crate and had to be left out of the typed event.
pub const RAW_WEBHOOK_FIELD: &str = "webhook_raw";

/// The analytics event type of a webhook event name; `None` for names the host does not map.
pub fn event_type(name: &str) -> Option<AnalyticsEventType> {
    use AnalyticsEventType as T;
    Some(match name {
        "room_started" => T::RoomCreated,
        "room_finished" => T::RoomEnded,
        "participant_joined" => T::ParticipantActive,
        "participant_left" => T::ParticipantLeft,
        "participant_connection_aborted" => T::ParticipantConnectionAborted,
        "track_published" => T::TrackPublished,
        "track_unpublished" => T::TrackUnpublished,
        "egress_started" => T::EgressStarted,
        "egress_updated" => T::EgressUpdated,
        "egress_ended" => T::EgressEnded,
        "ingress_started" => T::IngressStarted,
        "ingress_ended" => T::IngressEnded,
        _ => return None,
    })
}

/// The analytics event of a webhook whose name maps to `kind` (see [`event_type`]). The
/// event's `id` is the webhook's `id`; its timestamp is the webhook's `createdAt` (or `now`
/// if absent). The webhook's parts move into the event.
pub fn map_webhook(
    webhook: WebhookEvent,
    kind: AnalyticsEventType,
    node_id: &str,
    now: SystemTime,
) -> AnalyticsEvent {
    let timestamp = if webhook.created_at > 0 {
        Timestamp {
            seconds: webhook.created_at,
            nanos: 0,
        }
    } else {
        Timestamp::from_system_time(now)
    };
    let WebhookEvent {
        room,
        participant,
        track,
        egress_info: egress,
        ingress_info: ingress,
        id,
        room_end_reason,
        ..
    } = webhook;
    let room_id = room
        .as_ref()
        .map(|r| r.sid.clone())
        .filter(|s| !s.is_empty())
        .or_else(|| egress.as_ref().map(|e| e.room_id.clone()))
        .unwrap_or_default();
    AnalyticsEvent {
        id,
        r#type: kind as i32,
        timestamp: Some(timestamp.to_proto()),
        room_id,
        room,
        participant_id: participant
            .as_ref()
            .map(|p| p.sid.clone())
            .unwrap_or_default(),
        participant,
        track_id: track.as_ref().map(|t| t.sid.clone()).unwrap_or_default(),
        track,
        egress_id: egress
            .as_ref()
            .map(|e| e.egress_id.clone())
            .unwrap_or_default(),
        egress,
        ingress_id: ingress
            .as_ref()
            .map(|i| i.ingress_id.clone())
            .unwrap_or_default(),
        ingress,
        node_id: node_id.to_string(),
        room_end_reason,
        ..Default::default()
    }
}

/// The document `_id` of a webhook-derived event whose webhook has the `id` `webhook_id`
/// (non-empty): the hex MD5 of `webhook:<id>`.
pub fn webhook_document_id(webhook_id: &str) -> String {
    md5_hex(&format!("webhook:{webhook_id}"))
}

/// The stored item of a webhook whose name maps to `kind` (see [`event_type`]).
///
/// The `_id` is the hex MD5 of `webhook:<id>` when the webhook has an `id` (livekit-server
/// re-sends the same `id` on retry, so a redelivery is a duplicate, never a second
/// document; two different webhooks in the same second never collide). Without an `id`,
/// the contract's event key is used. `raw`, when given, is stored as [`RAW_WEBHOOK_FIELD`].
pub fn webhook_item(
    webhook: WebhookEvent,
    kind: AnalyticsEventType,
    raw: Option<Value>,
    node_id: &str,
    now: SystemTime,
    expiration: Duration,
    format: DocumentFormat,
) -> Item {
    let id = (!webhook.id.is_empty()).then(|| webhook_document_id(&webhook.id));
    let event = map_webhook(webhook, kind, node_id, now);
    let mut item = match id {
        Some(id) => Item::from_event_with_id(format, event, id, now, expiration),
        None => Item::from_event_as(format, event, now, expiration),
    };
    if let Some(raw) = raw {
        item.append_field(RAW_WEBHOOK_FIELD, &raw);
    }
    item
}

/// A parsed webhook body.
#[derive(Debug)]
pub struct ParsedWebhook {
    /// What the protocol crate could read.
    pub event: WebhookEvent,
    /// JSON paths left out because the protocol crate could not read them (newer enum
    /// values, changed types); empty for a clean parse.
    pub dropped: Vec<String>,
    /// The original JSON, kept when something was left out.
    pub raw: Option<Value>,
}

/// Why a body is not a webhook event.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Not JSON, or not a JSON object.
    #[error("not a JSON object: {0}")]
    NotJson(String),
    /// JSON, but it cannot be read as a `WebhookEvent` even leniently.
    #[error("not a webhook event: {0}")]
    NotWebhook(String),
}

/// Parses `protojson(WebhookEvent)`. If the strict parse fails, every value the protocol
/// crate cannot read is removed (one path at a time) and the parse retried, so a webhook
/// from a newer livekit-server is kept; the original JSON is returned with it.
pub fn parse_webhook(body: &[u8]) -> Result<ParsedWebhook, ParseError> {
    let first = match serde_json::from_slice::<WebhookEvent>(body) {
        Ok(event) => {
            return check(ParsedWebhook {
                event,
                dropped: Vec::new(),
                raw: None,
            })
        }
        Err(err) => err,
    };
    let raw: Value =
        serde_json::from_slice(body).map_err(|e| ParseError::NotJson(e.to_string()))?;
    if !raw.is_object() {
        return Err(ParseError::NotJson("the body is not a JSON object".into()));
    }
    let mut value = raw.clone();
    let mut dropped = Vec::new();
    for _ in 0..256 {
        match serde_path_to_error::deserialize::<_, WebhookEvent>(&value) {
            Ok(event) => {
                return check(ParsedWebhook {
                    event,
                    dropped,
                    raw: Some(raw),
                })
            }
            Err(err) => {
                let path = err.path().clone();
                if !remove_at(&mut value, &path) {
                    return Err(ParseError::NotWebhook(format!("{first}")));
                }
                dropped.push(path.to_string());
            }
        }
    }
    Err(ParseError::NotWebhook(format!("{first}")))
}

fn check(parsed: ParsedWebhook) -> Result<ParsedWebhook, ParseError> {
    if parsed.event.event.is_empty() {
        return Err(ParseError::NotWebhook("no `event` name".into()));
    }
    Ok(parsed)
}

/// Removes the value at `path`; false if the path is empty or does not lead anywhere.
fn remove_at(value: &mut Value, path: &serde_path_to_error::Path) -> bool {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut here = value;
    for segment in parents {
        here = match (segment, here) {
            (Segment::Map { key }, Value::Object(map)) => match map.get_mut(key.as_str()) {
                Some(v) => v,
                None => return false,
            },
            (Segment::Seq { index }, Value::Array(list)) => match list.get_mut(*index) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, here) {
        (Segment::Map { key }, Value::Object(map)) => map.remove(key.as_str()).is_some(),
        (Segment::Seq { index }, Value::Array(list)) if *index < list.len() => {
            list.remove(*index);
            true
        }
        _ => false,
    }
}
