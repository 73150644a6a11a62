//! The MongoDB sink's errors against real servers: credentials (refused ones stop the sink
//! for good), database names a server refuses, exact faults (SecantusDB's `failCommand`),
//! and `initialize` errors in `/api/health`.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::sinks::mongo::MongoSink;
use analytics_host::sinks::{Sink, SinkError};
use bson::{doc, Document};
use kit::items::{event, stat};
use kit::process::HostProcess;
use kit::servers::matrix::{Feature, Wire};
use kit::servers::mongo::MongoServer;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// A database name valid for MongoDB (and for the host's check) that a server may refuse.
const UNICODE_DB: &str = "Ünï";

/// A database name the server refuses (FerretDB: 73 InvalidNamespace for `Ünï`) stops the
/// sink for good with the server's answer; a server that takes it stores into it.
#[tokio::test(flavor = "multi_thread")]
async fn a_database_name_the_server_refuses_stops_the_sink_with_its_answer() {
    for wire in Wire::matrix() {
        let server = wire.start();
        let mut sink = MongoSink::connect(&server.url(), UNICODE_DB).await.unwrap();
        let result = sink.initialize().await;
        if wire.has(Feature::NonAsciiDatabaseNames) {
            result.unwrap_or_else(|e| panic!("{}: {e}", wire.name()));
            let report = sink.send_batch(&[Arc::new(event(1))]).await;
            assert_eq!(report, Default::default(), "{}", wire.name());
            continue;
        }
        match result {
            Err(SinkError::Misconfigured(message)) => {
                assert!(
                    message.contains(UNICODE_DB) && message.contains("73"),
                    "{}: {message}",
                    wire.name()
                );
            }
            other => panic!(
                "{}: {:?}: expected a fatal error, got {other:?}",
                wire.name(),
                Feature::NonAsciiDatabaseNames
            ),
        }
    }
}

/// The MongoDB sink's entry of `/api/health`.
async fn mongo_health(host: &HostProcess) -> Value {
    let url = format!("{}/api/health", host.telemetry());
    let health: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    health["sinks"]
        .as_array()
        .and_then(|sinks| sinks.iter().find(|s| s["name"] == "mongo").cloned())
        .unwrap_or_else(|| panic!("no mongo sink in {health}"))
}

/// `initialize` errors are the sink's last error in `/api/health`: a server that does not
/// answer (retried), and a database the server refuses (the sink gives up, `/ready` says
/// why).
#[tokio::test(flavor = "multi_thread")]
async fn initialize_errors_are_in_api_health() {
    let nobody = kit::ports::free_port();
    let mut host = HostProcess::spawn(&format!(
        "    mongo_url: \"mongodb://127.0.0.1:{nobody}/?directConnection=true&serverSelectionTimeoutMS=300\"\n"
    ));
    host.wait_healthy().await;
    kit::wait_until("an initialize error", Duration::from_secs(20), || async {
        !mongo_health(&host).await["last_error"].is_null()
    })
    .await;
    let sink = mongo_health(&host).await;
    let error = sink["last_error"]["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("initialize: store unavailable"), "{sink}");
    assert!(
        error.contains(&nobody.to_string()),
        "names the server: {sink}"
    );
    assert_eq!(sink["initialized"], false, "{sink}");
    assert!(sink["gave_up"].is_null(), "retried: {sink}");

    let Some(wire) = Wire::matrix()
        .into_iter()
        .find(|w| !w.has(Feature::NonAsciiDatabaseNames))
    else {
        return;
    };
    let server = wire.start();
    let mut host = HostProcess::spawn(&format!(
        "    mongo_url: \"{}\"\n    mongo_database: \"{UNICODE_DB}\"\n",
        server.url()
    ));
    host.wait_healthy().await;
    kit::wait_until("the sink gives up", Duration::from_secs(20), || async {
        !mongo_health(&host).await["gave_up"].is_null()
    })
    .await;
    let sink = mongo_health(&host).await;
    let error = sink["last_error"]["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("initialize: cannot work with its configuration") && error.contains("73"),
        "{}: {sink}",
        wire.name()
    );
    let (status, ready) = host.ready().await;
    assert_eq!(status, 503, "{ready}");
    assert!(ready.to_string().contains(UNICODE_DB), "{ready}");
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_in_mongo_url_authenticate_and_a_wrong_password_is_named() {
    for wire in Wire::matrix()
        .into_iter()
        .filter(|w| !w.has(Feature::ScramUsers))
    {
        eprintln!(
            "{}: no SCRAM users ({:?}): credentials not tested there",
            wire.name(),
            Feature::ScramUsers
        );
    }
    if !Wire::matrix().contains(&Wire::Secantus) {
        return;
    }
    let mut server = MongoServer::start();
    let admin = mongodb::Client::with_uri_str(server.url()).await.unwrap();
    admin
        .database("admin")
        .run_command(doc! {
            "createUser": "analytics",
            "pwd": "s3cret",
            "roles": [{"role": "readWrite", "db": "openvidu"}],
        })
        .await
        .expect("createUser");
    server.require_auth();
    let with = |user: &str| {
        format!(
            "mongodb://{user}@127.0.0.1:{}/?directConnection=true&authSource=admin&serverSelectionTimeoutMS=2000",
            server.port()
        )
    };

    // The right credentials: indexes and documents, as without auth.
    let mut sink = MongoSink::connect(&with("analytics:s3cret"), "openvidu")
        .await
        .unwrap();
    sink.initialize()
        .await
        .expect("initialize with credentials");
    let items = vec![Arc::new(event(1)), Arc::new(stat(2, "PA_1"))];
    assert_eq!(sink.send_batch(&items).await, Default::default());

    // A wrong password and no credentials: initialization fails for good (the worker gives
    // up until a reload), saying why.
    for (url, why) in [
        (with("analytics:wrong"), "authentication failed"),
        (
            format!("{}&serverSelectionTimeoutMS=2000", server.url()),
            "requires authentication",
        ),
    ] {
        let mut sink = MongoSink::connect(&url, "openvidu").await.unwrap();
        let err = sink.initialize().await.unwrap_err();
        assert!(matches!(err, SinkError::Misconfigured(_)), "{url}: {err:?}");
        let err = err.to_string();
        assert!(err.to_lowercase().contains(why), "{url}: {err}");
        assert!(
            !err.contains("wrong"),
            "the password is not in the error: {err}"
        );
    }
    // check-config masks the password.
    let yaml = format!(
        "openvidu:\n  analytics:\n    mongo_url: \"{}\"\n",
        with("analytics:s3cret")
    );
    let text = kit::process::run_ok(
        kit::process::bin()
            .arg("check-config")
            .env("LIVEKIT_CONFIG", &yaml),
    );
    assert!(
        !text.contains("s3cret") && text.contains("analytics:****@"),
        "{text}"
    );
}

/// Exact server answers through SecantusDB's `failCommand` failpoint: an insert refused with
/// a retryable error (the driver's own retry refused too), and a connection closed under
/// the insert. Each time the whole batch comes back for retry with the error named, and
/// sending it again (as the worker does) stores each item once.
#[tokio::test(flavor = "multi_thread")]
async fn failed_inserts_are_retried_and_stored_once() {
    for wire in Wire::matrix()
        .into_iter()
        .filter(|w| !w.has(Feature::FailPoints))
    {
        eprintln!(
            "{}: no failCommand ({:?}): exact faults not tested there",
            wire.name(),
            Feature::FailPoints
        );
    }
    if !Wire::matrix().contains(&Wire::Secantus) {
        return;
    }
    let mut server = MongoServer::start();
    server.enable_failpoints();
    let mut sink = MongoSink::connect(&server.url(), "openvidu")
        .await
        .expect("client");
    sink.initialize().await.unwrap();
    let admin = mongodb::Client::with_uri_str(server.url()).await.unwrap();
    let events = sink.database().collection::<Document>("events");
    let mut sent = 0;
    for (what, data, named) in [
        (
            "ShutdownInProgress",
            doc! {"failCommands": ["insert"], "errorCode": 91},
            "91",
        ),
        (
            "connection closed",
            doc! {"failCommands": ["insert"], "closeConnection": true},
            "",
        ),
    ] {
        let batch: Vec<_> = (sent..sent + 20).map(|i| Arc::new(event(i))).collect();
        sent += 20;
        admin
            .database("admin")
            .run_command(doc! {
                "configureFailPoint": "failCommand",
                "mode": {"times": 2},
                "data": data,
            })
            .await
            .expect("configureFailPoint");
        let report = sink.send_batch(&batch).await;
        assert_eq!(report.retry.len(), batch.len(), "{what}: {report:?}");
        let error = report.error.unwrap_or_default();
        assert!(
            !error.is_empty() && error.contains(named),
            "{what}: {error}"
        );
        // As the worker does: send again (after the driver has found the server again,
        // which takes a heartbeat after a "shutting down" answer) until it is stored.
        let deadline = std::time::Instant::now() + Duration::from_secs(40);
        let mut stored = 0;
        loop {
            let report = sink.send_batch(&batch).await;
            stored += report.stored_count(batch.len()) + report.duplicates;
            if report.retry.is_empty() {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{what}: {report:?}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert_eq!(stored, batch.len(), "{what}");
        assert_eq!(
            events.count_documents(doc! {}).await.unwrap(),
            u64::from(sent),
            "{what}"
        );
    }
}

/// A participant-joined event of `n` whose participant has `attributes` and `metadata`.
fn event_with(
    n: u32,
    attributes: &[(&str, &str)],
    metadata: String,
) -> analytics_host::model::Item {
    use livekit_protocol as lk;
    let event = lk::AnalyticsEvent {
        r#type: lk::AnalyticsEventType::ParticipantJoined as i32,
        timestamp: kit::items::ts(1_700_100_000 + i64::from(n), 0),
        room_id: "RM_bad".into(),
        room: Some(lk::Room {
            sid: "RM_bad".into(),
            ..Default::default()
        }),
        participant_id: format!("PA_{n}"),
        participant: Some(lk::ParticipantInfo {
            sid: format!("PA_{n}"),
            identity: format!("agent-{n}"),
            metadata,
            attributes: attributes
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }),
        ..Default::default()
    };
    analytics_host::model::Item::from_event(
        event,
        std::time::SystemTime::now(),
        Duration::from_secs(3600),
    )
}

/// One document of a batch that a server refuses for good is dropped, counted and named
/// (its `_id` and collection); the rest of the batch is stored, nothing is retried. A
/// document larger than 16 MiB (the driver would refuse the whole insert for it) is refused
/// alone on every server; a LiveKit agent's attribute key with a dot (`lk.agent.state`) is
/// stored by SecantusDB and refused by FerretDB (2 BadValue).
#[tokio::test(flavor = "multi_thread")]
async fn a_document_the_server_refuses_is_dropped_and_named_and_the_batch_stored() {
    for wire in Wire::matrix() {
        let server = wire.start();
        let name = wire.name();
        let sink = MongoSink::connect(&server.url(), "openvidu").await.unwrap();
        let host = analytics_host::app::Host::start(vec![Box::new(sink)], &kit::items::settings());
        let agent = event_with(100, &[("lk.agent.state", "listening")], String::new());
        let huge = event_with(101, &[], "x".repeat(17 * 1024 * 1024));
        let (agent_id, huge_id) = (agent.id.clone(), huge.id.clone());
        let mut items: Vec<_> = (0..10).map(event).collect();
        items.insert(3, agent);
        items.insert(7, huge);
        host.pipeline.accept(items).unwrap();
        let dotted_keys = wire.has(Feature::DottedKeys);
        let stored = if dotted_keys { 11 } else { 10 };
        let counters = host.counters()["mongo"].clone();
        kit::wait_until("the batch settled", Duration::from_secs(30), || {
            let c = counters.snapshot();
            async move { c.stored + c.rejected == 12 }
        })
        .await;
        let counts = counters.snapshot();
        assert_eq!(
            (counts.stored, counts.rejected, counts.retried),
            (stored, 12 - stored, 0),
            "{name}: {counts:?}"
        );
        let (_, error) = counters.last_error().expect("an error");
        assert!(
            error.starts_with("events: document ") && error.contains("refused for good"),
            "{name}: {error}"
        );
        // The first refused document of the batch: the one too large for any server.
        assert!(
            error.contains(huge_id.as_str()),
            "{name}: names the document: {error}"
        );
        let client = mongodb::Client::with_uri_str(server.url()).await.unwrap();
        let events = client.database("openvidu").collection::<Document>("events");
        assert_eq!(
            events.count_documents(doc! {}).await.unwrap(),
            stored,
            "{name}"
        );
        let agent_stored = events
            .find_one(doc! {"_id": &agent_id})
            .await
            .unwrap()
            .is_some();
        assert_eq!(
            agent_stored,
            dotted_keys,
            "{name}: {:?} (lk.agent.state)",
            Feature::DottedKeys
        );
        assert!(events
            .find_one(doc! {"_id": &huge_id})
            .await
            .unwrap()
            .is_none());
        if !dotted_keys {
            // Alone in its batch: the server's answer, naming the document.
            let agent = event_with(102, &[("lk.agent.state", "speaking")], String::new());
            let id = agent.id.clone();
            host.pipeline.accept(vec![agent, event(20)]).unwrap();
            kit::wait_until("the second batch settled", Duration::from_secs(30), || {
                let c = counters.snapshot();
                async move { c.stored + c.rejected == 14 }
            })
            .await;
            let (_, error) = counters.last_error().expect("an error");
            assert_eq!(
                error,
                format!(
                    "events: document {id} refused for good: BadValue (2): invalid key: \
                     \"lk.agent.state\" (key must not contain '.' sign)"
                ),
                "{name}: {:?}",
                Feature::DottedKeys
            );
        }
        let summaries = host.shutdown().await;
        assert_eq!(summaries[0].left_queued, 0, "{name}");
    }
}
