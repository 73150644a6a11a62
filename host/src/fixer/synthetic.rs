//! The end events the fixer writes for entities LiveKit no longer has, shaped as the fork
//! that OpenVidu 3.9 ships writes them: a few fields of the entity's start event (the same
//! ones the fork projects), the end `type`, a driver ObjectId `_id`, an integer
//! `timestamp: {seconds, nanos}` and `openvidu_expire_at`.
//!
//! The time is the last time the fixer ran (`last_alive`), or a little after the start
//! when that is later: room + 20 s, the others + 5 s.

use crate::sinks::mongo::entities::Entity;
use bson::oid::ObjectId;
use bson::{doc, Bson, Document};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A moment as the fork stores it (`last_alive`, synthetic timestamps): int64 seconds and
/// int32 nanos.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Moment {
    /// Seconds since the Unix epoch.
    pub seconds: i64,
    /// Nanoseconds within the second.
    pub nanos: i32,
}

impl Moment {
    /// Now.
    pub fn now() -> Moment {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Moment {
            seconds: since.as_secs() as i64,
            nanos: since.subsec_nanos() as i32,
        }
    }

    /// The `{seconds, nanos}` document.
    pub fn to_bson(self) -> Document {
        doc! {"seconds": self.seconds, "nanos": self.nanos}
    }

    /// Read back from a `{seconds, nanos}` document (any number type).
    pub fn from_bson(doc: &Document) -> Option<Moment> {
        Some(Moment {
            seconds: integer(doc.get("seconds")?)?,
            nanos: doc.get("nanos").and_then(integer).unwrap_or(0) as i32,
        })
    }

    /// In nanoseconds since the epoch.
    fn total_nanos(self) -> i64 {
        self.seconds * 1_000_000_000 + self.nanos as i64
    }
}

/// The start event's type of an entity.
pub fn start_type(entity: Entity) -> &'static str {
    match entity {
        Entity::Room => "ROOM_CREATED",
        Entity::Participant => "PARTICIPANT_ACTIVE",
        Entity::Egress => "EGRESS_STARTED",
        Entity::Ingress => "INGRESS_STARTED",
    }
}

/// The event types that end an entity for good (an ingress also ends when deleted).
pub fn end_types(entity: Entity) -> &'static [&'static str] {
    match entity {
        Entity::Ingress => &["INGRESS_ENDED", "INGRESS_DELETED"],
        Entity::Room => &["ROOM_ENDED"],
        Entity::Participant => &["PARTICIPANT_LEFT"],
        Entity::Egress => &["EGRESS_ENDED"],
    }
}

/// The field of the start event (and of the end event) that names the entity.
pub fn id_field(entity: Entity) -> &'static str {
    match entity {
        Entity::Room => "room.sid",
        Entity::Participant => "participant_id",
        Entity::Egress => "egress_id",
        Entity::Ingress => "ingress.state.resource_id",
    }
}

/// The fields of the start event the synthetic end event keeps (the fork's projection).
pub fn projection(entity: Entity) -> Document {
    let fields: &[&str] = match entity {
        Entity::Room => &["room.sid", "room.name", "room.creation_time"],
        Entity::Participant => &[
            "room_id",
            "room.sid",
            "participant_id",
            "participant.sid",
            "participant.identity",
            "participant.name",
            "participant.joined_at",
        ],
        Entity::Egress => &[
            "egress_id",
            "egress.room_id",
            "egress.room_name",
            "egress.started_at",
            "egress.updated_at",
            "egress.Request",
            "egress.file_results.filename",
            "egress.stream_results.url",
            "egress.segment_results.playlist_name",
            "timestamp.seconds",
        ],
        Entity::Ingress => &[
            "ingress_id",
            "ingress.state.resource_id",
            "ingress.state.started_at",
        ],
    };
    let mut projection = doc! {"_id": 0};
    for field in fields {
        projection.insert(*field, 1);
    }
    projection
}

/// A number of any BSON type as an integer (the fork's documents hold doubles).
fn integer(value: &Bson) -> Option<i64> {
    match value {
        Bson::Int32(i) => Some(*i as i64),
        Bson::Int64(i) => Some(*i),
        Bson::Double(d) if d.is_finite() => Some(*d as i64),
        _ => None,
    }
}

/// The nested document at `key`, created when missing or not a document.
fn child<'a>(doc: &'a mut Document, key: &str) -> &'a mut Document {
    if !matches!(doc.get(key), Some(Bson::Document(_))) {
        doc.insert(key, Document::new());
    }
    doc.get_document_mut(key).expect("just inserted")
}

/// The later of `last_alive` and `start_seconds + after` (the nanos stay `last_alive`'s).
fn end_moment(last_alive: Moment, start_seconds: Option<i64>, after: i64) -> Moment {
    match start_seconds {
        Some(start) if start >= last_alive.seconds => Moment {
            seconds: start + after,
            ..last_alive
        },
        _ => last_alive,
    }
}

/// The synthetic end event of `entity` `id`, from its start event `start` (projected with
/// [`projection`]), at `last_alive` or later, expiring after `expiration`.
pub fn end_event(
    entity: Entity,
    id: &str,
    mut start: Document,
    last_alive: Moment,
    expiration: Duration,
) -> Document {
    start.remove("_id");
    let moment = match entity {
        Entity::Room => {
            let created = start
                .get_document("room")
                .ok()
                .and_then(|r| r.get("creation_time"))
                .and_then(integer);
            start.insert("room_id", id);
            end_moment(last_alive, created, 20)
        }
        Entity::Participant => {
            let joined = start
                .get_document("participant")
                .ok()
                .and_then(|p| p.get("joined_at"))
                .and_then(integer);
            end_moment(last_alive, joined, 5)
        }
        Entity::Egress => {
            let seconds = start
                .get_document("timestamp")
                .ok()
                .and_then(|t| t.get("seconds"))
                .and_then(integer);
            let egress = child(&mut start, "egress");
            let started_nanos = ["started_at", "updated_at"]
                .iter()
                .find_map(|k| egress.get(*k).and_then(integer).filter(|n| *n > 0))
                .or(seconds.map(|s| s * 1_000_000_000));
            if let Some(nanos) = started_nanos {
                egress.insert("started_at", nanos);
            }
            egress.insert("status", "EGRESS_COMPLETE");
            let moment = end_moment(last_alive, started_nanos.map(|n| n / 1_000_000_000), 5);
            egress.insert("updated_at", moment.total_nanos());
            egress.insert("ended_at", moment.total_nanos());
            moment
        }
        Entity::Ingress => {
            let state = child(child(&mut start, "ingress"), "state");
            let started = state
                .get("started_at")
                .and_then(integer)
                .map(|n| n / 1_000_000_000);
            state.insert("status", "ENDPOINT_INACTIVE");
            end_moment(last_alive, started, 5)
        }
    };
    start.insert("type", entity.end_type());
    start.insert("timestamp", moment.to_bson());
    let expire_at = SystemTime::now() + expiration;
    start.insert(
        crate::model::EXPIRE_FIELD,
        bson::DateTime::from_system_time(expire_at),
    );
    start.insert("_id", ObjectId::new());
    start
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALIVE: Moment = Moment {
        seconds: 1_000,
        nanos: 7,
    };

    #[test]
    fn a_room_ends_at_last_alive_or_twenty_seconds_after_it_was_created() {
        let start = doc! {"room": {"sid": "RM_1", "name": "r", "creation_time": 900.0}};
        let end = end_event(Entity::Room, "RM_1", start, ALIVE, Duration::from_secs(60));
        assert_eq!(end.get_str("type").unwrap(), "ROOM_ENDED");
        assert_eq!(end.get_str("room_id").unwrap(), "RM_1");
        assert!(matches!(end.get("_id"), Some(Bson::ObjectId(_))));
        assert_eq!(
            end.get_document("timestamp").unwrap(),
            &doc! {"seconds": 1_000i64, "nanos": 7}
        );
        assert!(end.get_datetime("openvidu_expire_at").is_ok());
        let late = doc! {"room": {"sid": "RM_2", "creation_time": 1_500.0}};
        let end = end_event(Entity::Room, "RM_2", late, ALIVE, Duration::from_secs(60));
        assert_eq!(
            end.get_document("timestamp")
                .unwrap()
                .get_i64("seconds")
                .unwrap(),
            1_520
        );
    }

    #[test]
    fn egress_and_ingress_get_the_forks_statuses_and_times() {
        let start = doc! {"egress_id": "EG_1", "egress": {"started_at": 2_000e9}};
        let end = end_event(Entity::Egress, "EG_1", start, ALIVE, Duration::from_secs(1));
        let egress = end.get_document("egress").unwrap();
        assert_eq!(egress.get_str("status").unwrap(), "EGRESS_COMPLETE");
        assert_eq!(egress.get_i64("started_at").unwrap(), 2_000_000_000_000);
        assert_eq!(egress.get_i64("ended_at").unwrap(), 2_005_000_000_007);
        let start = doc! {"ingress": {"state": {"resource_id": "IN_r", "started_at": 10e9}}};
        let end = end_event(
            Entity::Ingress,
            "IN_r",
            start,
            ALIVE,
            Duration::from_secs(1),
        );
        let state = end
            .get_document("ingress")
            .unwrap()
            .get_document("state")
            .unwrap();
        assert_eq!(state.get_str("status").unwrap(), "ENDPOINT_INACTIVE");
        assert_eq!(end.get_str("type").unwrap(), "INGRESS_ENDED");
        assert_eq!(
            end.get_document("timestamp")
                .unwrap()
                .get_i64("seconds")
                .unwrap(),
            1_000
        );
    }
}
