//! What each MongoDB-wire server of the test matrix does with the queries the read API
//! could send, measured both ways: a server that starts (or stops) implementing one fails
//! here, and `docs/sinks.md`'s server × feature table is updated from it.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use bson::{doc, Bson, Document};
use futures::TryStreamExt;
use kit::servers::matrix::{Feature, Wire};

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
