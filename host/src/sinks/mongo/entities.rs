//! `active_entities`, as the fork that OpenVidu 3.9 ships keeps it: `{_id, entity}`, one
//! document per room, participant, egress and ingress that is live. An entity is added by
//! its start event and removed by its end event:
//!
//! | entity | added on (`_id`) | removed on (`_id`) |
//! |---|---|---|
//! | `ROOM` | `ROOM_CREATED` (`room.sid`) | `ROOM_ENDED` (`room_id`) |
//! | `PARTICIPANT` | `PARTICIPANT_ACTIVE` (`participant_id`) | `PARTICIPANT_LEFT` (`participant_id`) |
//! | `EGRESS` | `EGRESS_STARTED` (`egress_id`) | `EGRESS_ENDED` (`egress_id`) |
//! | `INGRESS` | `INGRESS_STARTED` (`ingress.state.resource_id`) | `INGRESS_ENDED` (`ingress.state.resource_id`) |
//!
//! The fork applies the changes in the order its one node receives them. The host can see
//! them out of order (a retried or spooled start after its end, several hosts writing one
//! database), so it relies on what LiveKit guarantees instead: an id names one entity
//! once (a sid is never reused), so an entity whose end event is stored has ended for
//! good. The changes are idempotent and order-safe: an end deletes; a start adds only if
//! no end event of the entity is stored, and looks again after adding (deleting what ended
//! meanwhile), so a start and its end applied concurrently by two hosts never leave the
//! entity live. See docs/operations.md.

use bson::{doc, Bson, Document};
use mongodb::error::{ErrorKind, Result};
use mongodb::{ClientSession, Database};
use serde_json::Value;
use std::collections::BTreeMap;

/// The collection.
pub const COLLECTION: &str = "active_entities";

/// What an active entity is (the `entity` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Entity {
    /// A room, by sid.
    Room,
    /// A participant, by sid.
    Participant,
    /// An egress, by egress id.
    Egress,
    /// An ingress session, by its resource id.
    Ingress,
}

impl Entity {
    /// Every kind.
    pub const ALL: [Entity; 4] = [
        Entity::Room,
        Entity::Participant,
        Entity::Egress,
        Entity::Ingress,
    ];

    /// The `entity` value the fork writes.
    pub fn name(self) -> &'static str {
        match self {
            Entity::Room => "ROOM",
            Entity::Participant => "PARTICIPANT",
            Entity::Egress => "EGRESS",
            Entity::Ingress => "INGRESS",
        }
    }

    /// The event type that ends it.
    pub fn end_type(self) -> &'static str {
        match self {
            Entity::Room => "ROOM_ENDED",
            Entity::Participant => "PARTICIPANT_LEFT",
            Entity::Egress => "EGRESS_ENDED",
            Entity::Ingress => "INGRESS_ENDED",
        }
    }

    /// The field of a stored end event that holds the entity's id, as the fork looks end
    /// events up (each has one of the fork's compound indexes with `type`, but ingress).
    pub fn end_field(self) -> &'static str {
        match self {
            Entity::Room => "room.sid",
            Entity::Participant => "participant_id",
            Entity::Egress => "egress_id",
            Entity::Ingress => "ingress.state.resource_id",
        }
    }
}

/// What one event does to `active_entities`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The entity starts.
    Start(Entity, String),
    /// The entity ends.
    End(Entity, String),
}

/// The change an event of type `type_name` with document `document` (JSON text, either
/// format) makes, if any. An event without the id the fork reads (a `ROOM_CREATED`
/// without `room`, on which the fork fails) changes nothing; it is stored all the same.
pub fn change_of(type_name: &str, document: &str) -> Option<Change> {
    let (start, entity, path): (bool, Entity, &[&str]) = match type_name {
        "ROOM_CREATED" => (true, Entity::Room, &["room", "sid"]),
        "ROOM_ENDED" => (false, Entity::Room, &["room_id"]),
        "PARTICIPANT_ACTIVE" => (true, Entity::Participant, &["participant_id"]),
        "PARTICIPANT_LEFT" => (false, Entity::Participant, &["participant_id"]),
        "EGRESS_STARTED" => (true, Entity::Egress, &["egress_id"]),
        "EGRESS_ENDED" => (false, Entity::Egress, &["egress_id"]),
        "INGRESS_STARTED" => (true, Entity::Ingress, &["ingress", "state", "resource_id"]),
        "INGRESS_ENDED" => (false, Entity::Ingress, &["ingress", "state", "resource_id"]),
        _ => return None,
    };
    let value: Value = serde_json::from_str(document).ok()?;
    let id = path
        .iter()
        .try_fold(&value, |v, key| v.get(key))?
        .as_str()
        .filter(|id| !id.is_empty())?
        .to_owned();
    Some(if start {
        Change::Start(entity, id)
    } else {
        Change::End(entity, id)
    })
}

/// The changes of one batch of stored events.
#[derive(Debug, Default)]
pub struct Changes {
    /// Entities started, by id.
    pub starts: BTreeMap<String, Entity>,
    /// Entities ended, by id.
    pub ends: BTreeMap<String, Entity>,
}

impl Changes {
    /// Adds one event's change.
    pub fn add(&mut self, change: Change) {
        match change {
            Change::Start(entity, id) => self.starts.insert(id, entity),
            Change::End(entity, id) => self.ends.insert(id, entity),
        };
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty() && self.ends.is_empty()
    }
}

/// Runs a driver action in `session` when there is one.
macro_rules! in_session {
    ($action:expr, $session:expr) => {
        match $session {
            Some(session) => $action.session(&mut **session).await,
            None => $action.await,
        }
    };
}

/// Deletes the ended entities, then adds those started whose end event is not stored; the
/// ids added are returned (for [`recheck`]). In `session` when given (a transaction).
pub async fn apply(
    db: &Database,
    changes: &Changes,
    session: &mut Option<&mut ClientSession>,
) -> Result<Vec<String>> {
    let collection = db.collection::<Document>(COLLECTION);
    if !changes.ends.is_empty() {
        let ids: Vec<&str> = changes.ends.keys().map(String::as_str).collect();
        in_session!(collection.delete_many(doc! {"_id": {"$in": ids}}), session)?;
    }
    let candidates: Vec<(&String, Entity)> = changes
        .starts
        .iter()
        .filter(|(id, _)| !changes.ends.contains_key(*id))
        .map(|(id, entity)| (id, *entity))
        .collect();
    let ended = ended(db, &candidates, session).await?;
    let new: Vec<(&String, Entity)> = candidates
        .into_iter()
        .filter(|(id, _)| !ended.contains(*id))
        .collect();
    if new.is_empty() {
        return Ok(Vec::new());
    }
    // Those already active stay as they are (a repeated PARTICIPANT_ACTIVE, a replay).
    let ids: Vec<&str> = new.iter().map(|(id, _)| id.as_str()).collect();
    let present = in_session!(
        collection.distinct("_id", doc! {"_id": {"$in": &ids}}),
        session
    )?;
    let docs: Vec<Document> = new
        .iter()
        .filter(|(id, _)| !present.iter().any(|p| p.as_str() == Some(id.as_str())))
        .map(|(id, entity)| doc! {"_id": id.as_str(), "entity": entity.name()})
        .collect();
    if !docs.is_empty() {
        if let Err(err) = in_session!(collection.insert_many(docs).ordered(false), session) {
            if !only_duplicates(&err) {
                return Err(err);
            }
        }
    }
    Ok(ids.into_iter().map(str::to_owned).collect())
}

/// After [`apply`] (and after its transaction committed): deletes those of `added` whose
/// end event is stored now — an end another host stored meanwhile, which it could not
/// delete before this host added the entity.
pub async fn recheck(db: &Database, added: &[String], changes: &Changes) -> Result<()> {
    if added.is_empty() {
        return Ok(());
    }
    let candidates: Vec<(&String, Entity)> = added
        .iter()
        .filter_map(|id| changes.starts.get(id).map(|entity| (id, *entity)))
        .collect();
    let ended = ended(db, &candidates, &mut None).await?;
    if !ended.is_empty() {
        db.collection::<Document>(COLLECTION)
            .delete_many(doc! {"_id": {"$in": ended}})
            .await?;
    }
    Ok(())
}

/// The ids among `candidates` whose end event is stored in `events`.
async fn ended(
    db: &Database,
    candidates: &[(&String, Entity)],
    session: &mut Option<&mut ClientSession>,
) -> Result<Vec<String>> {
    let events = db.collection::<Document>("events");
    let mut found = Vec::new();
    for entity in Entity::ALL {
        let ids: Vec<&str> = candidates
            .iter()
            .filter(|(_, e)| *e == entity)
            .map(|(id, _)| id.as_str())
            .collect();
        if ids.is_empty() {
            continue;
        }
        let field = entity.end_field();
        let filter = doc! {field: {"$in": &ids}, "type": entity.end_type()};
        let values = in_session!(events.distinct(field, filter), session)?;
        found.extend(values.into_iter().filter_map(|v| match v {
            Bson::String(s) => Some(s),
            _ => None,
        }));
    }
    Ok(found)
}

/// Whether an insert failed only on duplicate keys (documents already there).
fn only_duplicates(err: &mongodb::error::Error) -> bool {
    match &*err.kind {
        ErrorKind::InsertMany(failure) => {
            failure.write_concern_error.is_none()
                && failure
                    .write_errors
                    .iter()
                    .flatten()
                    .all(|e| e.code == super::DUPLICATE_KEY)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_type_names_the_forks_id() {
        let room = r#"{"_id":"x","type":"ROOM_CREATED","room":{"sid":"RM_1"},"room_id":"RM_0"}"#;
        assert_eq!(
            change_of("ROOM_CREATED", room),
            Some(Change::Start(Entity::Room, "RM_1".into()))
        );
        let ended = r#"{"type":"ROOM_ENDED","room":{"sid":"RM_9"},"room_id":"RM_1"}"#;
        assert_eq!(
            change_of("ROOM_ENDED", ended),
            Some(Change::End(Entity::Room, "RM_1".into()))
        );
        let active = r#"{"participant_id":"PA_1","participant":{"sid":"PA_2"}}"#;
        assert_eq!(
            change_of("PARTICIPANT_ACTIVE", active),
            Some(Change::Start(Entity::Participant, "PA_1".into()))
        );
        let ingress = r#"{"ingress":{"state":{"resource_id":"IN_r"}}}"#;
        assert_eq!(
            change_of("INGRESS_ENDED", ingress),
            Some(Change::End(Entity::Ingress, "IN_r".into()))
        );
        assert_eq!(
            change_of("EGRESS_STARTED", r#"{"egress_id":"EG_1"}"#),
            Some(Change::Start(Entity::Egress, "EG_1".into()))
        );
        // No id where the fork reads it: no change (the fork fails on a ROOM_CREATED
        // without `room`); other types: none.
        assert_eq!(change_of("ROOM_CREATED", r#"{"room_id":"RM_1"}"#), None);
        assert_eq!(
            change_of("PARTICIPANT_LEFT", r#"{"participant_id":""}"#),
            None
        );
        assert_eq!(change_of("TRACK_PUBLISHED", active), None);
    }
}
