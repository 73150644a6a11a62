//! The projections of the read API's MongoDB queries: of an event document, the fields
//! [`EventRow::from_document`](super::event_row::EventRow::from_document) reads ([`projection`]),
//! and any list of fields ([`only`]).

use bson::Document;

/// The fields of an event document the API reads ([`EventRow::from_document`](super::event_row::EventRow::from_document)'s).
pub fn projection() -> Document {
    only(&[
        "type",
        "timestamp",
        "room.sid",
        "room.name",
        "room_id",
        "node_id",
        "participant.sid",
        "participant.identity",
        "participant_id",
        "track.sid",
        "track.type",
        "track.source",
        "track.mime_type",
        "track_id",
        "participant.disconnect_reason",
        // What `api::side_records` reads.
        "room_end_reason",
        "webhook.event",
        "webhook.url",
        "webhook.room_id",
        "webhook.http_status_code",
        "webhook.is_dropped",
        "webhook.send_error",
        "webhook.service_error",
        "webhook.queue_duration_ns",
        "webhook.send_duration_ns",
        "webhook.participant_identity",
        "api_call.service",
        "api_call.method",
        "api_call.room_id",
        "api_call.status",
        "api_call.twirp_error_code",
        "api_call.twirp_error_message",
        "api_call.duration_ns",
        "api_call.participant_identity",
    ])
}

/// The projection fetching `fields` and nothing else (not even `_id`).
pub fn only(fields: &[&str]) -> Document {
    let mut projection = Document::new();
    for field in fields {
        projection.insert(*field, 1);
    }
    projection.insert("_id", 0);
    projection
}
