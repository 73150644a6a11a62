//! What the event types newer than the fork tell about a room, as the read API shows it:
//! why it ended (`room_end_reason` of `ROOM_ENDED`, filled by livekit-server from v1.13.7
//! on), the webhook deliveries made for it (`WEBHOOK`: one per delivery attempt, with its
//! HTTP status, error, queue and send durations) and the server API calls made on it
//! (`API_CALL`: service, method, status, duration).
//!
//! `WEBHOOK` and `API_CALL` events carry their room only inside (`webhook.room_id`,
//! `api_call.room_id`): their rows get that room, and a compact summary ([`WebhookDelivery`],
//! [`ApiCall`]) as [`EventRow::detail`]. They are records *about* a room, not of its life: the
//! session folds (times, participants, event counts) leave them out
//! ([`EventRow::is_room_life`]). Both document formats are read: `openvidu` (numbers as
//! doubles, enums as numbers, 64-bit integers possibly as strings) and `typed`.

use super::event_row::EventRow;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The event type of a webhook delivery.
pub const WEBHOOK: &str = "WEBHOOK";
/// The event type of a server API call.
pub const API_CALL: &str = "API_CALL";
/// The event type of a participant whose connection was aborted before it was established.
pub const CONNECTION_ABORTED: &str = "PARTICIPANT_CONNECTION_ABORTED";

/// One webhook delivery attempt livekit-server made for the room (`WEBHOOK`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct WebhookDelivery {
    /// When it was reported (seconds since the epoch).
    #[serde(default)]
    pub at: f64,
    /// The webhook's event (`room_started`, `participant_joined`, …).
    pub event: String,
    /// Where it was sent.
    pub url: String,
    /// The HTTP status of the answer (0: no answer, or a server older than v1.13.11).
    pub http_status: i64,
    /// Whether the delivery failed: dropped, a send or service error, or a status ≥ 300.
    pub failed: bool,
    /// The error, when there was one (`send_error`, else `service_error`).
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub error: String,
    /// Whether livekit-server dropped it (its webhook queue was full).
    pub dropped: bool,
    /// Time in livekit-server's webhook queue, in milliseconds.
    pub queue_ms: f64,
    /// Time sending it, in milliseconds.
    pub send_ms: f64,
    /// The participant it is about, if any.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub participant: String,
}

/// One server API call made on the room (`API_CALL`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ApiCall {
    /// When it was reported (seconds since the epoch).
    #[serde(default)]
    pub at: f64,
    /// The Twirp service (`RoomService`, …).
    pub service: String,
    /// The method (`CreateRoom`, `RemoveParticipant`, …).
    pub method: String,
    /// The HTTP status it was answered with.
    pub status: i64,
    /// Whether it failed: a Twirp error, or a status ≥ 400.
    pub failed: bool,
    /// The Twirp error code and message, when it failed.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub error: String,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
    /// The participant it was about, if any.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub participant: String,
}

impl EventRow {
    /// Whether this row is part of the room's life (not a webhook delivery or an API call,
    /// which are records about the room): only these make sessions.
    pub fn is_room_life(&self) -> bool {
        self.kind != WEBHOOK && self.kind != API_CALL
    }

    /// The delivery this `WEBHOOK` row summarizes.
    pub fn webhook(&self) -> Option<WebhookDelivery> {
        let mut delivery: WebhookDelivery = serde_json::from_str(&self.detail).ok()?;
        delivery.at = self.ts;
        Some(delivery)
    }

    /// The call this `API_CALL` row summarizes.
    pub fn api_call(&self) -> Option<ApiCall> {
        let mut call: ApiCall = serde_json::from_str(&self.detail).ok()?;
        call.at = self.ts;
        Some(call)
    }
}

/// Whether rows of `kind` need more of the document than the item's own fields (see
/// [`enrich`]).
pub fn reads_more(kind: &str) -> bool {
    matches!(kind, WEBHOOK | API_CALL | "ROOM_ENDED")
}

/// Completes `row` from its event document `doc`: the room end reason, and for `WEBHOOK` and
/// `API_CALL` their room (when the row has none) and summary.
pub fn enrich(row: &mut EventRow, doc: &Value) {
    match row.kind.as_str() {
        "ROOM_ENDED" => row.reason = room_end_reason(&doc["room_end_reason"]),
        WEBHOOK => {
            let w = &doc["webhook"];
            if row.room_sid.is_empty() {
                row.room_sid = text(&w["room_id"]);
            }
            let (http_status, dropped) = (
                number(&w["http_status_code"]) as i64,
                truthy(&w["is_dropped"]),
            );
            let error = first_text(&[&w["send_error"], &w["service_error"]]);
            let delivery = WebhookDelivery {
                at: 0.0,
                event: text(&w["event"]),
                url: text(&w["url"]),
                http_status,
                failed: dropped || !error.is_empty() || http_status >= 300,
                error,
                dropped,
                queue_ms: number(&w["queue_duration_ns"]) / 1e6,
                send_ms: number(&w["send_duration_ns"]) / 1e6,
                participant: text(&w["participant_identity"]),
            };
            row.detail = serde_json::to_string(&delivery).expect("a summary serializes");
        }
        API_CALL => {
            let c = &doc["api_call"];
            if row.room_sid.is_empty() {
                row.room_sid = text(&c["room_id"]);
            }
            let status = number(&c["status"]) as i64;
            let code = text(&c["twirp_error_code"]);
            let message = text(&c["twirp_error_message"]);
            let error = match (code.is_empty(), message.is_empty()) {
                (true, true) => String::new(),
                (false, true) => code.clone(),
                (true, false) => message,
                (false, false) => format!("{code}: {message}"),
            };
            let call = ApiCall {
                at: 0.0,
                service: text(&c["service"]),
                method: text(&c["method"]),
                status,
                failed: !code.is_empty() || status >= 400,
                error,
                duration_ms: number(&c["duration_ns"]) / 1e6,
                participant: text(&c["participant_identity"]),
            };
            row.detail = serde_json::to_string(&call).expect("a summary serializes");
        }
        _ => {}
    }
}

/// `livekit.RoomEndReason`, stored as a name (`typed`) or a number (`openvidu`); empty for
/// none or `ROOM_END_UNKNOWN`.
fn room_end_reason(value: &Value) -> String {
    let name = match value {
        Value::String(name) => name.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(i) if i.fract() == 0.0 && i >= 0.0 && i <= f64::from(i32::MAX) => {
                livekit_protocol::RoomEndReason::try_from(i as i32)
                    .map_or_else(|_| n.to_string(), |r| r.as_str_name().to_string())
            }
            _ => n.to_string(),
        },
        _ => String::new(),
    };
    if name == "ROOM_END_UNKNOWN" {
        String::new()
    } else {
        name
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

fn first_text(values: &[&Value]) -> String {
    values
        .iter()
        .map(|v| text(v))
        .find(|s| !s.is_empty())
        .unwrap_or_default()
}

/// A number stored as a number or as a decimal string (protobuf JSON writes 64-bit
/// integers as strings); 0 when missing.
fn number(value: &Value) -> f64 {
    match value {
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::String(s) => s.parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

fn truthy(value: &Value) -> bool {
    value.as_bool().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(kind: &str) -> EventRow {
        EventRow {
            kind: kind.into(),
            ts: 10.5,
            ..EventRow::default()
        }
    }

    #[test]
    fn a_failed_webhook_delivery_is_summarized_with_its_room() {
        let mut r = row(WEBHOOK);
        let doc = json!({"type": "WEBHOOK", "webhook": {
            "event": "participant_joined", "room_id": "RM_1", "url": "http://hooks/x",
            "http_status_code": 502, "queue_duration_ns": "1500000", "send_duration_ns": 2.5e6,
            "participant_identity": "alice"}});
        enrich(&mut r, &doc);
        assert_eq!(r.room_sid, "RM_1");
        assert!(!r.is_room_life());
        let w = r.webhook().unwrap();
        assert_eq!(
            w,
            WebhookDelivery {
                at: 10.5,
                event: "participant_joined".into(),
                url: "http://hooks/x".into(),
                http_status: 502,
                failed: true,
                error: String::new(),
                dropped: false,
                queue_ms: 1.5,
                send_ms: 2.5,
                participant: "alice".into(),
            }
        );
        let mut ok = row(WEBHOOK);
        enrich(
            &mut ok,
            &json!({"webhook": {"event": "room_started", "http_status_code": 200}}),
        );
        assert!(!ok.webhook().unwrap().failed);
        let mut dropped = row(WEBHOOK);
        enrich(
            &mut dropped,
            &json!({"webhook": {"is_dropped": true, "send_error": "queue full"}}),
        );
        let d = dropped.webhook().unwrap();
        assert!(d.failed && d.dropped && d.error == "queue full", "{d:?}");
    }

    #[test]
    fn an_api_call_is_summarized_with_its_error() {
        let mut r = row(API_CALL);
        enrich(
            &mut r,
            &json!({"api_call": {"service": "RoomService", "method": "RemoveParticipant",
            "status": 404, "twirp_error_code": "not_found", "twirp_error_message": "participant not found",
            "duration_ns": 3000000, "room_id": "RM_2", "participant_identity": "bob"}}),
        );
        assert_eq!(r.room_sid, "RM_2");
        let call = r.api_call().unwrap();
        assert_eq!(
            (call.method.as_str(), call.status, call.failed),
            ("RemoveParticipant", 404, true)
        );
        assert_eq!(call.error, "not_found: participant not found");
        assert_eq!((call.duration_ms, call.participant.as_str()), (3.0, "bob"));
    }

    #[test]
    fn the_room_end_reason_is_named_in_either_format() {
        for value in [json!(1), json!(1.0), json!("ROOM_END_API_DELETE")] {
            let mut r = row("ROOM_ENDED");
            enrich(&mut r, &json!({"room_end_reason": value}));
            assert_eq!(r.reason, "ROOM_END_API_DELETE");
        }
        let mut r = row("ROOM_ENDED");
        enrich(&mut r, &json!({"room_end_reason": 0}));
        assert_eq!(r.reason, "", "unknown is no reason");
        assert!(r.is_room_life());
    }
}
