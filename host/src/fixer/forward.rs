//! The fixer's end events for every other sink: after the fixer has written a synthetic end
//! event to MongoDB (in the fork's shape), the same event goes through the pipeline, so the
//! Redis sink, the file store (and the dashboard reading it) and the plugins learn that the
//! room, participant, egress or ingress ended, like any end event. The MongoDB sink is left
//! out (see [`crate::model::Item::is_fixer_event`]).

use super::synthetic::Moment;
use crate::model::{Item, ItemKind, Timestamp, EXPIRE_FIELD, FIXER_ID_LEN};
use bson::Document;
use serde_json::{Map, Value};

/// The pipeline item of a synthetic end event, as [`super::synthetic::end_event`] made it:
/// the same document as JSON (`_id` the ObjectId's hex, numbers as they are), its
/// `openvidu_expire_at` as the item's expiry, and the ids the sinks index by. `None` for a
/// document without an ObjectId `_id` or an expiry (not one of the fixer's).
pub fn item_of(event: &Document) -> Option<Item> {
    let id = event.get_object_id("_id").ok()?.to_hex();
    debug_assert_eq!(id.len(), FIXER_ID_LEN);
    let expire_at = event.get_datetime(EXPIRE_FIELD).ok()?.to_system_time();
    let mut document = Map::new();
    document.insert("_id".into(), Value::String(id.clone()));
    for (key, value) in event {
        if key != "_id" && key != EXPIRE_FIELD {
            document.insert(key.clone(), value.clone().into_relaxed_extjson());
        }
    }
    let mut item = Item::new(ItemKind::Event, id, document, expire_at);
    let text = |path: &[&str]| -> String {
        let mut doc = event;
        for key in &path[..path.len() - 1] {
            match doc.get_document(key) {
                Ok(inner) => doc = inner,
                Err(_) => return String::new(),
            }
        }
        doc.get_str(path[path.len() - 1])
            .unwrap_or_default()
            .to_string()
    };
    let first = |paths: &[&[&str]]| -> String {
        paths
            .iter()
            .map(|p| text(p))
            .find(|s| !s.is_empty())
            .unwrap_or_default()
    };
    item.type_name = text(&["type"]).into();
    if let Some(moment) = event
        .get_document("timestamp")
        .ok()
        .and_then(Moment::from_bson)
    {
        item.timestamp = Timestamp {
            seconds: moment.seconds,
            nanos: moment.nanos,
        };
    }
    item.room_id = first(&[&["room_id"], &["room", "sid"], &["egress", "room_id"]]).into();
    item.room_name = first(&[&["room", "name"], &["egress", "room_name"]]).into();
    item.participant_id = first(&[&["participant_id"], &["participant", "sid"]]).into();
    item.participant_identity = text(&["participant", "identity"]).into();
    Some(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixer::synthetic::end_event;
    use crate::sinks::mongo::entities::Entity;
    use bson::doc;
    use std::time::Duration;

    const ALIVE: Moment = Moment {
        seconds: 1_000,
        nanos: 7,
    };

    #[test]
    fn a_synthetic_room_end_becomes_an_item_the_other_sinks_take() {
        let start = doc! {"room": {"sid": "RM_1", "name": "daily", "creation_time": 900.0}};
        let event = end_event(Entity::Room, "RM_1", start, ALIVE, Duration::from_secs(60));
        let item = item_of(&event).expect("an item");
        assert!(item.is_fixer_event());
        assert_eq!(item.id, event.get_object_id("_id").unwrap().to_hex());
        assert_eq!(item.type_name.as_str(), "ROOM_ENDED");
        assert_eq!(
            (item.room_id.as_str(), item.room_name.as_str()),
            ("RM_1", "daily")
        );
        assert_eq!(
            item.timestamp,
            Timestamp {
                seconds: 1_000,
                nanos: 7
            }
        );
        let document = item.document();
        assert_eq!(document["_id"], Value::String(item.id.clone()));
        assert_eq!(document["timestamp"]["seconds"], 1_000);
        assert!(
            !document.contains_key(EXPIRE_FIELD),
            "the expiry is the item's"
        );
        let json: Value = serde_json::from_str(&item.json()).unwrap();
        assert!(json[EXPIRE_FIELD].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn participants_and_egresses_keep_their_room_and_ids() {
        let start = doc! {"room_id": "RM_2", "participant_id": "PA_1",
        "participant": {"sid": "PA_1", "identity": "alice", "joined_at": 10.0}};
        let event = end_event(Entity::Participant, "PA_1", start, ALIVE, Duration::ZERO);
        let item = item_of(&event).unwrap();
        assert_eq!(item.type_name.as_str(), "PARTICIPANT_LEFT");
        assert_eq!(
            (item.room_id.as_str(), item.participant_id.as_str()),
            ("RM_2", "PA_1")
        );
        assert_eq!(item.participant_identity.as_str(), "alice");
        let start = doc! {"egress_id": "EG_1", "egress": {"room_id": "RM_3", "room_name": "rec"}};
        let event = end_event(Entity::Egress, "EG_1", start, ALIVE, Duration::ZERO);
        let item = item_of(&event).unwrap();
        assert_eq!(
            (item.room_id.as_str(), item.room_name.as_str()),
            ("RM_3", "rec")
        );
        assert_eq!(item.document()["egress"]["status"], "EGRESS_COMPLETE");
    }

    #[test]
    fn a_document_that_is_not_the_fixers_is_not_forwarded() {
        assert!(item_of(&doc! {"_id": "abc", "type": "ROOM_ENDED"}).is_none());
    }
}
