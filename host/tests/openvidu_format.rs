//! The `openvidu` document format against the fork's own documents: the golden corpus in
//! `tests/data/openvidu-format/` (messages, and the documents the OpenVidu fork's unmodified
//! code made of them; see the README there) converted by the host, compared field by field
//! with BSON types; then stored through the MongoDB sink into each MongoDB-wire server of
//! the matrix (SecantusDB, FerretDB-SQLite) and read back; and a set of typical queries
//! answered alike on the fork's documents and the host's, on each server.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

#[path = "openvidu_format/live.rs"]
mod live;

use analytics_host::model::{DocumentFormat, Item};
use analytics_host::sinks::mongo::{room_sessions, to_bson, MongoSink};
use analytics_host::sinks::Sink;
use base64::Engine as _;
use bson::{doc, Bson, Document};
use futures::TryStreamExt as _;
use kit::servers::matrix::{Feature, Wire, WireServer};
use livekit_protocol::{AnalyticsEvent, AnalyticsStat};
use prost::Message as _;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Corpus messages this protocol version cannot decode, and why: upstream changed the type
/// of a field since the fork's protocol (`SipUri.port`: string then, uint32 now), so a
/// server of either version cannot send these to the other. Every other message must give
/// the fork's document.
const UNDECODABLE: &[(&str, &str)] = &[
    ("sip_call_incoming_status0_transport0", "SipUri.port"),
    ("sip_call_started_with_room", "SipUri.port"),
    ("sip_call_ended_disconnect_reason", "SipUri.port"),
    ("sip_participant_created", "SipUri.port"),
    ("all_fields_set_max_enums_oneof_pick0", "SipUri.port"),
    ("all_fields_set_max_enums_oneof_pick1", "SipUri.port"),
    ("all_fields_set_max_enums_oneof_pick2", "SipUri.port"),
    ("all_fields_set_max_enums_oneof_pick3", "SipUri.port"),
    ("all_fields_set_max_enums_oneof_pick4", "SipUri.port"),
    ("all_fields_set_unknown_enums_oneof_pick0", "SipUri.port"),
    ("all_fields_set_unknown_enums_oneof_pick1", "SipUri.port"),
];

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/openvidu-format");

/// One corpus message and the fork's document of it.
struct Golden {
    name: String,
    kind: String,
    proto: Vec<u8>,
    id: String,
    /// The fork's BSON document, `openvidu_expire_at` replaced by the string `<date>`.
    doc: Document,
}

fn read_jsonl(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(format!("{DATA}/{file}")).expect("golden data");
    text.lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

fn golden() -> Vec<Golden> {
    golden_of("corpus.jsonl", "expected.jsonl")
}

/// The messages of `corpus` paired with the fork's documents of them in `expected`.
fn golden_of(corpus: &str, expected: &str) -> Vec<Golden> {
    let corpus = read_jsonl(corpus);
    let expected = read_jsonl(expected);
    assert_eq!(
        corpus.len(),
        expected.len(),
        "corpus and expected lines pair up"
    );
    corpus
        .into_iter()
        .zip(expected)
        .map(|(c, e)| {
            assert_eq!(c["name"], e["name"]);
            let doc = match Bson::try_from(e["doc"].clone()).expect("canonical extended JSON") {
                Bson::Document(doc) => doc,
                other => panic!("not a document: {other:?}"),
            };
            Golden {
                name: c["name"].as_str().unwrap().to_string(),
                kind: c["kind"].as_str().unwrap().to_string(),
                proto: base64::engine::general_purpose::STANDARD
                    .decode(c["proto"].as_str().unwrap())
                    .unwrap(),
                id: e["_id"].as_str().unwrap().to_string(),
                doc,
            }
        })
        .collect()
}

/// The host's item of a corpus message, or why this protocol version cannot decode it.
fn item(golden: &Golden, format: DocumentFormat) -> Result<Item, prost::DecodeError> {
    let now = SystemTime::now();
    let day = Duration::from_secs(86_400);
    Ok(match golden.kind.as_str() {
        "event" => {
            let event = AnalyticsEvent::decode(&golden.proto[..])?;
            Item::from_event_as(format, event, now, day)
        }
        "stat" => {
            let stat = AnalyticsStat::decode(&golden.proto[..])?;
            Item::from_stat_as(format, stat, now, day)
        }
        other => panic!("unknown kind {other}"),
    })
}

/// Where `ours` and `theirs` differ, as `path: ours vs theirs` lines: keys, BSON types and
/// values (doubles compared as numbers; `openvidu_expire_at` must be a date on our side).
fn differences(path: &str, ours: &Bson, theirs: &Bson, out: &mut Vec<String>) {
    match (ours, theirs) {
        (Bson::Document(a), Bson::Document(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let at = format!("{path}.{key}");
                match (a.get(key), b.get(key)) {
                    (Some(Bson::DateTime(_)), Some(Bson::String(s)))
                        if key == "openvidu_expire_at" && s == "<date>" => {}
                    (Some(x), Some(y)) => differences(&at, x, y, out),
                    (Some(x), None) => out.push(format!("{at}: only ours ({x})")),
                    (None, Some(y)) => out.push(format!("{at}: only the fork's ({y})")),
                    (None, None) => unreachable!(),
                }
            }
        }
        (Bson::Array(a), Bson::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                differences(&format!("{path}[{i}]"), x, y, out);
            }
        }
        (Bson::Double(a), Bson::Double(b)) if a == b || (a.is_nan() && b.is_nan()) => {}
        (a, b) if a == b => {}
        (a, b) => out.push(format!(
            "{path}: ours {a} ({:?}) vs the fork's {b} ({:?})",
            a.element_type(),
            b.element_type()
        )),
    }
}

#[test]
fn every_document_is_the_forks() {
    let mut failures = Vec::new();
    for golden in golden() {
        let expected_failure = UNDECODABLE.iter().find(|(name, _)| *name == golden.name);
        let item = match (item(&golden, DocumentFormat::Openvidu), expected_failure) {
            (Ok(item), None) => item,
            (Err(err), Some((_, field))) if err.to_string().contains(field) => continue,
            (Err(err), _) => {
                failures.push(format!("{}: does not decode: {err}", golden.name));
                continue;
            }
            (Ok(_), Some(_)) => {
                failures.push(format!(
                    "{}: decodes, but is listed as undecodable",
                    golden.name
                ));
                continue;
            }
        };
        assert_eq!(item.id, golden.id, "{}: _id", golden.name);
        let mut diffs = Vec::new();
        differences(
            "",
            &Bson::Document(to_bson(&item)),
            &Bson::Document(golden.doc.clone()),
            &mut diffs,
        );
        if !diffs.is_empty() {
            failures.push(format!("{}:\n  {}", golden.name, diffs.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of the fork's documents differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The corpus (less [`UNDECODABLE`]) as the host's items of `format`, with the fork's
/// golden data beside each.
fn decodable(format: DocumentFormat) -> Vec<(Golden, Item)> {
    golden()
        .into_iter()
        .filter(|g| !UNDECODABLE.iter().any(|(name, _)| *name == g.name))
        .map(|g| {
            let item = item(&g, format).expect("decodable");
            (g, item)
        })
        .collect()
}

/// [`decodable`] in the fork's format, less the documents `server` cannot hold: on a server
/// without [`Feature::DottedKeys`] (FerretDB) those with a key holding a `.` (participant
/// attributes such as `sip.phoneNumber`), which the fork could not store there either and
/// the sink refuses alone, naming them (`mongo_errors.rs`).
fn storable_on(server: &WireServer) -> Vec<(Golden, Item)> {
    let corpus = decodable(DocumentFormat::Openvidu);
    if server.wire().has(Feature::DottedKeys) {
        return corpus;
    }
    let before = corpus.len();
    let corpus: Vec<_> = corpus
        .into_iter()
        .filter(|(g, _)| !has_dotted_key(&g.doc))
        .collect();
    eprintln!(
        "{}: {} of the fork's documents hold a dotted key ({:?}): not stored there",
        server.name(),
        before - corpus.len(),
        Feature::DottedKeys
    );
    corpus
}

/// Whether a key anywhere in `doc` holds a `.` or starts with `$`.
fn has_dotted_key(doc: &Document) -> bool {
    fn in_value(value: &Bson) -> bool {
        match value {
            Bson::Document(d) => has_dotted_key(d),
            Bson::Array(items) => items.iter().any(in_value),
            _ => false,
        }
    }
    doc.iter()
        .any(|(k, v)| k.contains('.') || k.starts_with('$') || in_value(v))
}

/// Stores `items` through the host's MongoDB sink into database `db`.
async fn store(server: &WireServer, db: &str, items: Vec<Item>) -> mongodb::Database {
    let mut sink = MongoSink::connect(&server.url(), db).await.expect("client");
    sink.initialize().await.expect("indexes");
    let items: Vec<_> = items.into_iter().map(Arc::new).collect();
    let report = sink.send_batch(&items).await;
    assert_eq!(
        report.stored_count(items.len()),
        items.len(),
        "{}: {report:?}",
        server.name()
    );
    sink.database().clone()
}

/// Every collection's documents by `_id`.
async fn by_id(db: &mongodb::Database, collection: &str) -> Vec<(String, Document)> {
    let docs: Vec<Document> = db
        .collection::<Document>(collection)
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    docs.into_iter()
        .map(|d| (d.get_str("_id").unwrap().to_string(), d))
        .collect()
}

#[tokio::test]
async fn stored_in_mongodb_as_the_fork_stores_them() {
    for wire in Wire::matrix() {
        stored_as_the_fork_stores_them(&wire.start()).await;
    }
}

async fn stored_as_the_fork_stores_them(server: &WireServer) {
    let corpus = storable_on(server);
    let expected: Vec<(String, Document)> = corpus
        .iter()
        .map(|(g, _)| (g.id.clone(), g.doc.clone()))
        .collect();
    let db = store(
        server,
        "openvidu",
        corpus.into_iter().map(|(_, i)| i).collect(),
    )
    .await;
    let mut stored = by_id(&db, "events").await;
    stored.extend(by_id(&db, "stats").await);
    assert_eq!(
        stored.len(),
        expected.len(),
        "{}: one document per message",
        server.name()
    );
    let mut failures = Vec::new();
    for (id, theirs) in &expected {
        let ours = stored
            .iter()
            .find(|(stored_id, _)| stored_id == id)
            .unwrap_or_else(|| panic!("{id} not stored"));
        let mut diffs = Vec::new();
        differences(
            "",
            &Bson::Document(ours.1.clone()),
            &Bson::Document(theirs.clone()),
            &mut diffs,
        );
        if !diffs.is_empty() {
            failures.push(format!("{id}:\n  {}", diffs.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "read back from {}:\n{}",
        server.name(),
        failures.join("\n")
    );
}

/// The fork's golden documents as the fork would have inserted them (a date for
/// `openvidu_expire_at`).
fn fork_documents(corpus: &[(Golden, Item)], kind: &str) -> Vec<Document> {
    corpus
        .iter()
        .filter(|(g, _)| g.kind == kind)
        .map(|(g, _)| {
            let mut doc = g.doc.clone();
            doc.insert("openvidu_expire_at", bson::DateTime::now());
            doc
        })
        .collect()
}

#[tokio::test]
async fn typical_queries_answer_alike_on_the_forks_documents_and_the_hosts() {
    for wire in Wire::matrix() {
        typical_queries_answer_alike(&wire.start()).await;
    }
}

async fn typical_queries_answer_alike(server: &WireServer) {
    let corpus = storable_on(server);
    let client = mongodb::Client::with_uri_str(server.url()).await.unwrap();
    let fork = client.database("fork");
    for (collection, kind) in [("events", "event"), ("stats", "stat")] {
        fork.collection::<Document>(collection)
            .insert_many(fork_documents(&corpus, kind))
            .await
            .unwrap();
    }
    let host = store(server, "host", corpus.into_iter().map(|(_, i)| i).collect()).await;
    let queries: Vec<(&str, Document)> = vec![
        ("events", doc! {"type": "PARTICIPANT_JOINED"}),
        (
            "events",
            doc! {"type": {"$in": ["ROOM_CREATED", "ROOM_ENDED"]}},
        ),
        ("events", doc! {"room.sid": "RM_pK8sT3mWq2Lx"}),
        ("events", doc! {"room.name": "daily-standup"}),
        ("events", doc! {"participant.identity": {"$exists": true}}),
        ("events", doc! {"participant.kind": 3}),
        ("events", doc! {"participant.state": "ACTIVE"}),
        ("events", doc! {"track.type": 1}),
        ("events", doc! {"track.source": "CAMERA"}),
        (
            "events",
            doc! {"timestamp.seconds": {"$gte": 1_729_500_000i64, "$lt": 1_729_500_100i64}},
        ),
        ("events", doc! {"timestamp.nanos": {"$exists": false}}),
        (
            "events",
            doc! {"egress.Request.RoomComposite.room_name": {"$exists": true}},
        ),
        ("events", doc! {"egress.status": "EGRESS_COMPLETE"}),
        ("events", doc! {"client_info.sdk": "JS"}),
        ("stats", doc! {"kind": "UPSTREAM"}),
        ("stats", doc! {"score": {"$gt": 3.5}}),
        ("stats", doc! {"score": {"$exists": false}}),
        (
            "stats",
            doc! {"time_stamp.seconds": {"$gte": 1_729_500_000i64}},
        ),
    ];
    let mut nonempty = 0;
    for (collection, filter) in queries {
        let ids = |db: mongodb::Database, filter: Document| async move {
            let docs: Vec<Document> = db
                .collection::<Document>(collection)
                .find(filter)
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            docs.iter()
                .map(|d| d.get_str("_id").unwrap().to_string())
                .collect::<BTreeSet<_>>()
        };
        let theirs = ids(fork.clone(), filter.clone()).await;
        let ours = ids(host.clone(), filter.clone()).await;
        assert_eq!(ours, theirs, "{}: {collection} {filter}", server.name());
        nonempty += usize::from(!theirs.is_empty());
    }
    assert!(
        nonempty >= 15,
        "the queries select something ({nonempty} of 18 did)"
    );
    // The rooms' summaries the read API lists: made from the fork's documents by the
    // backfill (a database the fork wrote), as the sink made them while storing.
    let backfilled = room_sessions::backfill(&fork).await.unwrap();
    assert!(backfilled.is_some_and(|read| read > 0), "{}", server.name());
    let theirs = summaries(&fork).await;
    assert!(
        theirs.iter().any(|d| d.contains_key("first_ts")),
        "{}: {theirs:?}",
        server.name()
    );
    assert_eq!(
        summaries(&host).await,
        theirs,
        "{}: room_sessions",
        server.name()
    );
}

/// The rooms' summaries of `db`, without their expiry (the fork's documents got theirs in
/// this test) and the backfill's marker, sids in order.
async fn summaries(db: &mongodb::Database) -> Vec<Document> {
    let mut docs: Vec<Document> = db
        .collection::<Document>(room_sessions::COLLECTION)
        .find(doc! { "_id": { "$ne": room_sessions::BACKFILLED } })
        .sort(doc! { "_id": 1 })
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    for doc in &mut docs {
        doc.remove("openvidu_expire_at");
        for key in ["participants", "tracks"] {
            if let Ok(sids) = doc.get_array_mut(key) {
                sids.sort_by_key(|s| s.as_str().unwrap_or_default().to_string());
            }
        }
    }
    docs
}

/// The `typed` format against its own golden documents (`typed-expected.jsonl`, written by
/// this test with `LKA_BLESS=1` after a deliberate change of the format, and reviewed).
#[test]
fn typed_documents_match_their_golden_file() {
    let path = format!("{DATA}/typed-expected.jsonl");
    let lines: Vec<String> = decodable(DocumentFormat::Typed)
        .iter()
        .map(|(g, item)| {
            serde_json::to_string(&serde_json::json!({"name": g.name, "doc": item.document()}))
                .unwrap()
        })
        .collect();
    if std::env::var("LKA_BLESS").as_deref() == Ok("1") {
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    }
    let expected = std::fs::read_to_string(&path).expect("typed-expected.jsonl");
    let expected: Vec<&str> = expected.lines().collect();
    assert_eq!(lines.len(), expected.len());
    for (ours, theirs) in lines.iter().zip(expected) {
        let (a, b): (Value, Value) = (
            serde_json::from_str(ours).unwrap(),
            serde_json::from_str(theirs).unwrap(),
        );
        assert_eq!(a, b, "typed document changed");
    }
}
