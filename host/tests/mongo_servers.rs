//! What each MongoDB-wire server of the test matrix does with the queries the read API
//! could send and the strings the sink writes, measured both ways: a server that starts (or stops) implementing one fails
//! here, and `docs/sinks.md`'s server × feature table is updated from it.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::sinks::mongo::MongoSink;
use analytics_host::sinks::Sink;
use bson::{doc, Bson, Document};
use futures::TryStreamExt;
use kit::items::event;
use kit::servers::matrix::{Feature, Wire};
use std::sync::Arc;

async fn group(
    collection: &mongodb::Collection<Document>,
    accumulators: Document,
) -> mongodb::error::Result<Vec<Document>> {
    let mut stage = doc! { "_id": "$room_id" };
    stage.extend(accumulators);
    collection
        .aggregate([
            doc! { "$match": { "score": { "$gt": 0 } } },
            doc! { "$group": stage },
        ])
        .await?
        .try_collect()
        .await
}

fn number(document: &Document, key: &str) -> Option<f64> {
    match document.get(key) {
        Some(Bson::Double(v)) => Some(*v),
        Some(Bson::Int32(v)) => Some(f64::from(*v)),
        Some(Bson::Int64(v)) => Some(*v as f64),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn group_accumulators_as_each_server_answers_them() {
    for wire in Wire::matrix() {
        let server = wire.start();
        let name = server.name();
        let client = mongodb::Client::with_uri_str(server.url()).await.unwrap();
        let stats = client.database("features").collection::<Document>("stats");
        stats
            .insert_many([
                doc! { "room_id": "RM_A", "score": 4.0 },
                doc! { "room_id": "RM_A", "score": 3.0 },
                doc! { "room_id": "RM_A", "score": 0.0 },
            ])
            .await
            .unwrap();

        // One accumulator per `$group` (what the read API sends): right everywhere.
        let sum = group(&stats, doc! { "v": { "$sum": "$score" } })
            .await
            .unwrap();
        let count = group(&stats, doc! { "v": { "$sum": 1 } }).await.unwrap();
        assert_eq!(number(&sum[0], "v"), Some(7.0), "{name}: {sum:?}");
        assert_eq!(number(&count[0], "v"), Some(2.0), "{name}: {count:?}");

        // Two in one `$group`.
        let both = group(
            &stats,
            doc! { "s": { "$sum": "$score" }, "n": { "$sum": 1 } },
        )
        .await
        .unwrap();
        let answered = (number(&both[0], "s"), number(&both[0], "n"));
        if wire.has(Feature::GroupManyAccumulators) {
            assert_eq!(answered, (Some(7.0), Some(2.0)), "{name}");
        } else {
            assert_eq!(
                answered,
                (Some(7.0), Some(0.0)),
                "{name}: {:?} (the second accumulator answers 0)",
                Feature::GroupManyAccumulators
            );
        }

        // `$min` in `$group`.
        let min = group(&stats, doc! { "v": { "$min": "$score" } }).await;
        if wire.has(Feature::GroupMinMax) {
            assert_eq!(number(&min.unwrap()[0], "v"), Some(3.0), "{name}");
        } else {
            let err = min.expect_err("refused").to_string();
            assert!(
                err.contains("238") || err.contains("NotImplemented"),
                "{name}: {:?}: {err}",
                Feature::GroupMinMax
            );
        }
    }
}

/// A participant whose metadata holds U+0000 (valid in LiveKit's protobuf strings).
fn event_with_nul(n: u32) -> analytics_host::model::Item {
    let mut event = kit::items::joined("RM_nul", n, "nul", 1_700_200_000);
    if let Some(p) = event.participant.as_mut() {
        p.metadata = "before\0after".into();
    }
    kit::items::item_now(event)
}

/// A string with U+0000: stored, or (FerretDB on PostgreSQL) the server fails the whole
/// insert; then the sink refuses that document alone, named, and the others of the batch
/// are stored when sent again.
#[tokio::test(flavor = "multi_thread")]
async fn a_string_with_nul_is_stored_or_its_document_alone_refused() {
    for wire in Wire::matrix() {
        let server = wire.start();
        let name = server.name();
        let client = mongodb::Client::with_uri_str(server.url()).await.unwrap();
        let raw = client.database("features").collection::<Document>("nul");
        let answer = raw
            .insert_many([
                doc! { "_id": 1, "s": "a" },
                doc! { "_id": 2, "s": "a\0b" },
                doc! { "_id": 3, "s": "c" },
            ])
            .ordered(false)
            .await;
        let stored: Vec<Bson> = raw.distinct("_id", doc! {}).await.unwrap();
        if wire.has(Feature::NulInStrings) {
            answer.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(stored.len(), 3, "{name}: {stored:?}");
        } else {
            let err = answer.expect_err("refused").to_string();
            assert!(
                err.contains("SQLSTATE 22P05") && err.contains("InternalError"),
                "{name}: {:?}: {err}",
                Feature::NulInStrings
            );
            // The one before it stored, the one after it not tried.
            assert_eq!(stored, vec![Bson::Int32(1)], "{name}");
        }

        let mut sink = MongoSink::connect(&server.url(), "openvidu").await.unwrap();
        sink.initialize()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let nul = event_with_nul(100);
        let nul_id = nul.id.clone();
        let mut batch: Vec<_> = (0..6).map(|n| Arc::new(event(n))).collect();
        batch.insert(2, Arc::new(nul));
        let report = sink.send_batch(&batch).await;
        let events = client.database("openvidu").collection::<Document>("events");
        if wire.has(Feature::NulInStrings) {
            assert_eq!(report, Default::default(), "{name}");
            assert_eq!(events.count_documents(doc! {}).await.unwrap(), 7, "{name}");
            continue;
        }
        assert_eq!(report.rejected, 1, "{name}: {report:?}");
        let error = report.error.clone().unwrap_or_default();
        assert!(
            error.starts_with(&format!(
                "events: document {nul_id} refused for good: a string with U+0000"
            )),
            "{name}: {error}"
        );
        // The others: sent again (as the pipeline does), all stored.
        assert!(!report.retry.contains(&2), "{name}: {report:?}");
        let again: Vec<_> = report.retry.iter().map(|&p| batch[p].clone()).collect();
        let report = sink.send_batch(&again).await;
        assert_eq!(
            (report.rejected, report.retry.len()),
            (0, 0),
            "{name}: {report:?}"
        );
        assert_eq!(events.count_documents(doc! {}).await.unwrap(), 6, "{name}");
        assert!(events
            .find_one(doc! { "_id": &nul_id })
            .await
            .unwrap()
            .is_none());
    }
}

/// A participant joining room `room`.
fn joined(room: &str, n: u32) -> analytics_host::model::Item {
    kit::items::item_now(kit::items::joined(room, n, "user", 1_700_300_000))
}

/// Two hosts writing one database summarize a new room at once: both upsert its
/// `room_sessions` document. A server that inserts it twice answers one of them 11000
/// DuplicateKey (FerretDB on PostgreSQL does, nearly every time); the sink upserts again,
/// and both batches are stored at once, nothing retried. Where the server applies both
/// updates ([`Feature::ConcurrentUpdates`]) the summary names both participants; FerretDB
/// loses one now and then (counted and printed: a race cannot be asserted both ways).
#[tokio::test(flavor = "multi_thread")]
async fn two_hosts_summarizing_one_new_room_at_once_both_succeed() {
    for wire in Wire::matrix() {
        let server = wire.start();
        let name = server.name();
        let mut a = MongoSink::connect(&server.url(), "openvidu").await.unwrap();
        let mut b = MongoSink::connect(&server.url(), "openvidu").await.unwrap();
        a.initialize()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        b.initialize()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for round in 0..30 {
            let room = format!("RM_race_{round}");
            let one = [Arc::new(joined(&room, 2 * round))];
            let two = [Arc::new(joined(&room, 2 * round + 1))];
            let (ra, rb) = tokio::join!(a.send_batch(&one), b.send_batch(&two));
            assert_eq!(ra, Default::default(), "{name}: round {round}");
            assert_eq!(rb, Default::default(), "{name}: round {round}");
        }
        let client = mongodb::Client::with_uri_str(server.url()).await.unwrap();
        let summaries = client
            .database("openvidu")
            .collection::<Document>("room_sessions");
        let mut lost = 0;
        for round in 0..30u32 {
            let summary = summaries
                .find_one(doc! { "_id": format!("RM_race_{round}") })
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{name}: no summary of round {round}"));
            let participants = summary.get_array("participants").unwrap().len();
            if wire.has(Feature::ConcurrentUpdates) {
                assert_eq!(participants, 2, "{name}: {summary}");
            }
            lost += 2 - participants;
        }
        eprintln!(
            "{name}: {lost} of 60 participants lost by concurrent updates ({:?})",
            Feature::ConcurrentUpdates
        );
    }
}
