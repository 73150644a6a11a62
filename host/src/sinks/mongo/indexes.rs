//! The indexes the MongoDB sink creates: the fork's full set (OpenVidu 3.9: the single-field
//! ones, the TTL index on `openvidu_expire_at`, three compound ones on `events`, `entity` on
//! `active_entities`), plus `participant.identity` on `events` for the read API.

use super::entities;
use crate::model::{ItemKind, EXPIRE_FIELD};
use crate::sinks::SinkError;
use bson::{doc, Document};
use mongodb::error::ErrorKind;
use mongodb::options::IndexOptions;
use mongodb::{Database, IndexModel};
use std::time::Duration;

/// MongoDB's codes for an existing index with other options.
const INDEX_CONFLICTS: [i32; 2] = [85, 86];

/// The single-field indexes of each kind's collection (the TTL index is added to each).
pub fn indexed_fields(kind: ItemKind) -> &'static [&'static str] {
    match kind {
        // `participant.identity`: the read API's `/api/participants` (docs/api.md).
        ItemKind::Event => &[
            "type",
            "room.sid",
            "participant.sid",
            "participant.identity",
            "timestamp.seconds",
        ],
        ItemKind::Stat => &[
            "room_id",
            "participant_id",
            "track_id",
            "kind",
            "time_stamp.seconds",
            "score",
        ],
        ItemKind::NodeRooms => &["node_id", "timestamp.seconds"],
        ItemKind::NodeStats => &["node_id", "timestamp.seconds"],
    }
}

/// The compound indexes (both keys ascending) of each kind's collection: on `events`, the
/// three the fork added to find an entity's start and end events (its fixer's queries, and
/// the sink's own look-up of end events, `entities.rs`).
pub fn compound_indexes(kind: ItemKind) -> &'static [[&'static str; 2]] {
    match kind {
        ItemKind::Event => &[
            ["participant_id", "type"],
            ["egress_id", "type"],
            ["room.sid", "type"],
        ],
        _ => &[],
    }
}

/// Creates every index (an existing one with other options is kept, with a warning).
pub async fn create(database: &Database) -> Result<(), SinkError> {
    for kind in ItemKind::ALL {
        let mut models: Vec<IndexModel> = indexed_fields(kind)
            .iter()
            .map(|field| IndexModel::builder().keys(doc! { *field: 1 }).build())
            .collect();
        models.extend(
            compound_indexes(kind)
                .iter()
                .map(|[a, b]| IndexModel::builder().keys(doc! { *a: 1, *b: 1 }).build()),
        );
        models.push(
            IndexModel::builder()
                .keys(doc! { EXPIRE_FIELD: 1 })
                .options(IndexOptions::builder().expire_after(Duration::ZERO).build())
                .build(),
        );
        create_in(database, kind.collection(), models).await?;
    }
    let entity = IndexModel::builder().keys(doc! { "entity": 1 }).build();
    create_in(database, entities::COLLECTION, vec![entity]).await
}

async fn create_in(
    database: &Database,
    collection: &str,
    models: Vec<IndexModel>,
) -> Result<(), SinkError> {
    let Err(err) = database
        .collection::<Document>(collection)
        .create_indexes(models)
        .await
    else {
        return Ok(());
    };
    match *err.kind {
        ErrorKind::Command(ref command) if INDEX_CONFLICTS.contains(&command.code) => {
            tracing::warn!(collection, error = %command.message,
                "an index exists with other options; keeping it");
            Ok(())
        }
        _ => Err(SinkError::Unavailable(format!(
            "creating indexes on {collection}: {err}"
        ))),
    }
}
