//! The on-disk format: the two redb tables and how one item is encoded in a record (JSON,
//! short field names, version first), and the deletion of the oldest records when the spool
//! is full ([`remove_oldest`]).

use crate::model::{Item, ItemKind, Timestamp};
use anyhow::Context;
use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::time::{Duration, UNIX_EPOCH};

/// Sequence number → encoded item.
pub(super) const RECORDS: TableDefinition<u64, &[u8]> = TableDefinition::new("records");
/// (sequence number, sink name) → (): the sinks an item is still pending for.
pub(super) const PENDING: TableDefinition<(u64, &str), ()> = TableDefinition::new("pending");

/// How an item is kept on disk (JSON; field names short, version first).
#[derive(Serialize)]
struct RecordOut<'a> {
    v: u8,
    kind: &'static str,
    id: &'a str,
    type_name: &'a str,
    ts: (i64, i32),
    room_id: &'a str,
    room_name: &'a str,
    participant_id: &'a str,
    participant_identity: &'a str,
    track_id: &'a str,
    node_id: &'a str,
    score: f32,
    expire_at: (u64, u32),
    // `document` (last) is spliced in as it is: see `encode`.
}

/// [`RecordOut`] read back.
#[derive(Deserialize)]
struct RecordIn {
    v: u8,
    kind: String,
    id: String,
    type_name: String,
    ts: (i64, i32),
    room_id: String,
    room_name: String,
    participant_id: String,
    participant_identity: String,
    track_id: String,
    node_id: String,
    score: f32,
    expire_at: (u64, u32),
    document: Box<RawValue>,
}

const VERSION: u8 = 1;

/// Encodes an item for the spool.
pub fn encode(item: &Item) -> Vec<u8> {
    let expire = item
        .expire_at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let record = RecordOut {
        v: VERSION,
        kind: item.kind.collection(),
        id: &item.id,
        type_name: &item.type_name,
        ts: (item.timestamp.seconds, item.timestamp.nanos),
        room_id: &item.room_id,
        room_name: &item.room_name,
        participant_id: &item.participant_id,
        participant_identity: &item.participant_identity,
        track_id: &item.track_id,
        node_id: &item.node_id,
        score: item.score,
        expire_at: (expire.as_secs(), expire.subsec_nanos()),
    };
    let mut bytes = serde_json::to_vec(&record).expect("a record serializes");
    // The item's document text, as it is (compact JSON the host wrote), as the last field.
    bytes.pop(); // the closing `}`
    bytes.extend_from_slice(b",\"document\":");
    bytes.extend_from_slice(item.document_text().as_bytes());
    bytes.push(b'}');
    bytes
}

/// Decodes an item written by [`encode`] (without its sequence number).
pub fn decode(bytes: &[u8]) -> anyhow::Result<Item> {
    let r: RecordIn = serde_json::from_slice(bytes).context("decoding a spool record")?;
    if r.v != VERSION {
        anyhow::bail!("spool record version {} is not {VERSION}", r.v);
    }
    let kind = ItemKind::ALL
        .into_iter()
        .find(|k| k.collection() == r.kind)
        .with_context(|| format!("unknown item kind `{}` in the spool", r.kind))?;
    let expire_at = UNIX_EPOCH + Duration::new(r.expire_at.0, r.expire_at.1);
    let mut item = Item::with_document_json(kind, r.id, r.document, expire_at);
    item.type_name = r.type_name.into();
    item.timestamp = Timestamp {
        seconds: r.ts.0,
        nanos: r.ts.1,
    };
    item.room_id = r.room_id.into();
    item.room_name = r.room_name.into();
    item.participant_id = r.participant_id.into();
    item.participant_identity = r.participant_identity.into();
    item.track_id = r.track_id.into();
    item.node_id = r.node_id.into();
    item.score = r.score;
    Ok(item)
}

/// Deletes the oldest records (and their pending rows) until `at_least` bytes are freed or
/// none is left. Returns (records, bytes) freed.
pub(super) fn remove_oldest(
    records: &mut redb::Table<u64, &[u8]>,
    pending: &mut redb::Table<(u64, &str), ()>,
    at_least: u64,
) -> Result<(u64, u64), redb::StorageError> {
    let (mut count, mut freed) = (0, 0);
    while freed < at_least {
        let Some((seq, len)) = records
            .first()?
            .map(|(k, v)| (k.value(), v.value().len() as u64))
        else {
            break;
        };
        records.remove(seq)?;
        let sinks: Vec<String> = pending
            .range((seq, "")..(seq + 1, ""))?
            .map(|row| row.map(|(k, _)| k.value().1.to_string()))
            .collect::<Result<_, _>>()?;
        for sink in &sinks {
            pending.remove((seq, sink.as_str()))?;
        }
        count += 1;
        freed += len;
    }
    Ok((count, freed))
}
