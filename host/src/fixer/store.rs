//! Where the fixer keeps what is live: MongoDB's `active_entities` (the fork's collections:
//! `events`, `active_entities`, `last_alive`), or, on a host without MongoDB, the embedded
//! store's own active set in its query index ([`crate::sinks::file::index::entities`]).

use super::synthetic::{self, Moment};
use crate::sinks::file::index::{entities, FILE_NAME};
use crate::sinks::mongo::entities::{Entity, COLLECTION};
use anyhow::Context;
use bson::{doc, Bson, Document};
use mongodb::Database;
use rusqlite::Connection;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The collection holding the time the fixer last ran.
pub const LAST_ALIVE: &str = "last_alive";

/// The fixer's store.
pub enum FixerStore {
    /// A MongoDB database the MongoDB sink writes.
    Mongo(Database),
    /// The embedded store's query index.
    Embedded(EmbeddedActive),
}

/// The embedded store's active set, through a connection of the fixer's own (opened once
/// the file sink has created the index at this version).
pub struct EmbeddedActive {
    path: PathBuf,
    conn: Mutex<Option<Connection>>,
}

impl EmbeddedActive {
    /// The active set of the store in `dir`.
    pub fn new(dir: &Path) -> EmbeddedActive {
        EmbeddedActive {
            path: dir.join(FILE_NAME),
            conn: Mutex::new(None),
        }
    }

    /// Runs `f` on the connection, opening it first.
    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> anyhow::Result<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if conn.is_none() {
            anyhow::ensure!(
                self.path.exists(),
                "the query index {} is not there yet (the file store creates it)",
                self.path.display()
            );
            let opened = Connection::open(&self.path)
                .with_context(|| format!("opening the query index {}", self.path.display()))?;
            opened.busy_timeout(Duration::from_secs(10))?;
            let version: i64 = opened.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            anyhow::ensure!(
                version >= 5,
                "the query index {} has no active set yet (schema {version})",
                self.path.display()
            );
            *conn = Some(opened);
        }
        let result = f(conn.as_ref().expect("opened above"));
        if result.is_err() {
            *conn = None;
        }
        result.with_context(|| format!("the active set in {}", self.path.display()))
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl FixerStore {
    /// Whether it is MongoDB (which the fixer writes itself; the pipeline brings the
    /// embedded store its events).
    pub fn is_mongo(&self) -> bool {
        matches!(self, FixerStore::Mongo(_))
    }

    /// The active entities, by kind (entities of an unknown kind are left alone).
    pub async fn active(&self) -> anyhow::Result<BTreeMap<Entity, Vec<String>>> {
        let mut active: BTreeMap<Entity, Vec<String>> = BTreeMap::new();
        let mut add = |name: &str, id: String| {
            if let Some(entity) = Entity::ALL.into_iter().find(|e| e.name() == name) {
                active.entry(entity).or_default().push(id);
            }
        };
        match self {
            FixerStore::Mongo(db) => {
                let mut cursor = db
                    .collection::<Document>(COLLECTION)
                    .find(doc! {})
                    .await
                    .context("reading active_entities")?;
                while cursor.advance().await.context("reading active_entities")? {
                    let doc = cursor.deserialize_current()?;
                    if let (Ok(id), Ok(name)) = (doc.get_str("_id"), doc.get_str("entity")) {
                        add(name, id.to_owned());
                    }
                }
            }
            FixerStore::Embedded(e) => {
                for (name, id, _) in e.with(entities::active)? {
                    add(&name, id);
                }
            }
        }
        Ok(active)
    }

    /// When the fixer last ran (`None` when it never did).
    pub async fn last_alive(&self) -> anyhow::Result<Option<Moment>> {
        match self {
            FixerStore::Mongo(db) => {
                let found = db
                    .collection::<Document>(LAST_ALIVE)
                    .find_one(doc! {"_id": "server"})
                    .await
                    .context("reading last_alive")?;
                Ok(found.and_then(|d| {
                    d.get_document("last_alive")
                        .ok()
                        .and_then(Moment::from_bson)
                }))
            }
            FixerStore::Embedded(e) => Ok(e
                .with(entities::last_alive)?
                .map(|(seconds, nanos)| Moment { seconds, nanos })),
        }
    }

    /// Records that the fixer ran at `now`.
    pub async fn set_last_alive(&self, now: Moment) -> anyhow::Result<()> {
        match self {
            FixerStore::Mongo(db) => {
                db.collection::<Document>(LAST_ALIVE)
                    .update_one(
                        doc! {"_id": "server"},
                        doc! {"$set": {"last_alive": now.to_bson()}},
                    )
                    .upsert(true)
                    .await
                    .context("upserting last_alive")?;
            }
            FixerStore::Embedded(e) => {
                e.with(|c| entities::set_last_alive(c, now.seconds, now.nanos))?
            }
        }
        Ok(())
    }

    /// The start event of `entity` `id`, projected as the fork projects it; `None` when it
    /// is not stored.
    pub async fn start_event(&self, entity: Entity, id: &str) -> anyhow::Result<Option<Document>> {
        let projection = synthetic::projection(entity);
        match self {
            FixerStore::Mongo(db) => {
                let filter =
                    doc! {synthetic::id_field(entity): id, "type": synthetic::start_type(entity)};
                db.collection::<Document>("events")
                    .find_one(filter)
                    .projection(projection)
                    .await
                    .with_context(|| {
                        format!(
                            "reading the {} event of {id}",
                            synthetic::start_type(entity)
                        )
                    })
            }
            FixerStore::Embedded(e) => {
                let start = e.with(|c| {
                    c.query_row(
                        "SELECT start FROM active_entities WHERE id = ?1",
                        [id],
                        |r| r.get::<_, String>(0),
                    )
                });
                Ok(start.ok().and_then(|text| project(&text, &projection)))
            }
        }
    }

    /// Whether the real end event of `entity` `id` is stored.
    pub async fn ended(&self, entity: Entity, id: &str) -> anyhow::Result<bool> {
        match self {
            FixerStore::Mongo(db) => {
                let filter = doc! {
                    synthetic::id_field(entity): id,
                    "type": {"$in": synthetic::end_types(entity)},
                };
                Ok(db
                    .collection::<Document>("events")
                    .find_one(filter)
                    .projection(doc! {"_id": 1})
                    .await
                    .with_context(|| format!("looking for the end event of {id}"))?
                    .is_some())
            }
            FixerStore::Embedded(e) => Ok(!e.with(|c| entities::is_active(c, id))?),
        }
    }

    /// Removes ended entities from the active set; how many were there.
    pub async fn remove(&self, ids: &[String], expiration: Duration) -> anyhow::Result<u64> {
        match self {
            FixerStore::Mongo(db) => Ok(db
                .collection::<Document>(COLLECTION)
                .delete_many(doc! {"_id": {"$in": ids}})
                .await
                .context("removing ended entities from active_entities")?
                .deleted_count),
            FixerStore::Embedded(e) => {
                let expire_at = unix_now() + expiration.as_secs_f64();
                e.with(|c| {
                    let mut removed = 0;
                    for id in ids {
                        removed += u64::from(entities::is_active(c, id)?);
                        entities::end(c, id, expire_at)?;
                    }
                    Ok(removed)
                })
            }
        }
    }
}

/// The fields of `projection` (dotted paths) found in the JSON document `text`.
fn project(text: &str, projection: &Document) -> Option<Document> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let mut out = Document::new();
    for (path, _) in projection.iter().filter(|(path, _)| *path != "_id") {
        let keys: Vec<&str> = path.split('.').collect();
        let Some(found) = keys.iter().try_fold(&value, |v, key| v.get(key)) else {
            continue;
        };
        let Ok(found) = bson::to_bson(found) else {
            continue;
        };
        let mut at = &mut out;
        for key in &keys[..keys.len() - 1] {
            if !matches!(at.get(*key), Some(Bson::Document(_))) {
                at.insert(*key, Document::new());
            }
            at = at.get_document_mut(key).expect("inserted above");
        }
        at.insert(keys[keys.len() - 1], found);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_document_is_projected_as_the_fork_projects_it() {
        let text = r#"{"_id":"x","type":"PARTICIPANT_ACTIVE","room_id":"RM_1",
            "participant_id":"PA_1","participant":{"sid":"PA_1","identity":"ann",
            "joined_at":12,"state":"ACTIVE"},"node_id":"ND_1"}"#;
        let start = project(text, &synthetic::projection(Entity::Participant)).unwrap();
        assert_eq!(
            start,
            doc! {"room_id": "RM_1", "participant_id": "PA_1",
            "participant": {"sid": "PA_1", "identity": "ann", "joined_at": 12i64}}
        );
    }
}
