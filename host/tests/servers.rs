//! Tests of the test servers themselves (`kit/servers/`): each must really run,
//! answer, keep its data across a restart, and go away when dropped.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use kit::servers::mongo::{mongo_ping, MongoServer};
use kit::servers::redis::{redis_call, RedisFlavor, RedisServer, Resp};
use mongodb::bson::{doc, Document};

fn process_alive(pid: u32) -> bool {
    // A reaped child is gone from the process table: kill(pid, 0) fails.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

#[tokio::test]
async fn mongo_keeps_documents_across_restart() {
    let mut server = MongoServer::start();
    assert!(server.url().starts_with("mongodb://127.0.0.1:"));
    mongo_ping(server.port()).expect("ping after start");

    {
        let client = mongodb::Client::with_uri_str(server.url()).await.unwrap();
        let coll = client.database("lka_test").collection::<Document>("events");
        coll.insert_one(doc! { "_id": "e1", "room": "r1", "n": 7 })
            .await
            .unwrap();
        // A duplicate _id is a write error with code 11000, as with mongod.
        let err = coll
            .insert_one(doc! { "_id": "e1" })
            .await
            .expect_err("duplicate _id must fail");
        match *err.kind {
            mongodb::error::ErrorKind::Write(mongodb::error::WriteFailure::WriteError(ref e)) => {
                assert_eq!(e.code, 11000)
            }
            ref other => panic!("unexpected error kind: {other:?}"),
        }
        client.shutdown().await;
    }

    let pid = server.pid().unwrap();
    server.stop();
    assert!(!server.is_running());
    assert!(!process_alive(pid), "stop() must end the process");
    assert!(
        mongo_ping(server.port()).is_err(),
        "nothing may answer after stop()"
    );

    let port = server.port();
    server.restart();
    assert_eq!(server.port(), port, "restart keeps the port");

    let client = mongodb::Client::with_uri_str(server.url()).await.unwrap();
    let coll = client.database("lka_test").collection::<Document>("events");
    let found = coll.find_one(doc! { "_id": "e1" }).await.unwrap();
    assert_eq!(found, Some(doc! { "_id": "e1", "room": "r1", "n": 7 }));
    client.shutdown().await;

    let dir = server.dir().to_path_buf();
    let pid = server.pid().unwrap();
    drop(server);
    assert!(!process_alive(pid), "drop must kill the process");
    assert!(!dir.exists(), "drop must remove the temporary directory");
}

#[tokio::test]
async fn mongo_ttl_index_expires_documents() {
    let server = MongoServer::start();
    let client = mongodb::Client::with_uri_str(server.url()).await.unwrap();
    let coll = client.database("lka_test").collection::<Document>("ttl");
    let index = mongodb::IndexModel::builder()
        .keys(doc! { "at": 1 })
        .options(
            mongodb::options::IndexOptions::builder()
                .expire_after(std::time::Duration::from_secs(0))
                .build(),
        )
        .build();
    coll.create_index(index).await.unwrap();
    let past = mongodb::bson::DateTime::from_millis(
        mongodb::bson::DateTime::now().timestamp_millis() - 1000,
    );
    coll.insert_one(doc! { "at": past, "old": true })
        .await
        .unwrap();
    // Far in the future: must stay.
    let future = mongodb::bson::DateTime::from_millis(
        mongodb::bson::DateTime::now().timestamp_millis() + 3_600_000,
    );
    coll.insert_one(doc! { "at": future, "old": false })
        .await
        .unwrap();
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 2);

    assert_eq!(server.prune_ttl(), 1);
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 1);
    let left = coll
        .find_one(doc! {})
        .await
        .unwrap()
        .expect("one document left");
    assert_eq!(left.get_bool("old"), Ok(false));
    client.shutdown().await;
}

#[tokio::test]
async fn mongo_url_without_direct_connection_also_works() {
    // The server announces itself as a one-node replica set named after itself;
    // the driver discovers it and still reaches it on the same address.
    let server = MongoServer::start();
    let url = format!(
        "mongodb://127.0.0.1:{}/?serverSelectionTimeoutMS=10000",
        server.port()
    );
    let client = mongodb::Client::with_uri_str(url).await.unwrap();
    let reply = client
        .database("admin")
        .run_command(doc! { "ping": 1 })
        .await
        .unwrap();
    assert_eq!(
        reply
            .get_f64("ok")
            .ok()
            .or(reply.get_i32("ok").ok().map(f64::from)),
        Some(1.0)
    );
    client.shutdown().await;
}

#[test]
fn redis_plain_set_get_and_restart() {
    let mut server = RedisServer::start(RedisFlavor::Plain);
    assert_eq!(
        server.url(),
        format!("redis://127.0.0.1:{}/", server.port())
    );
    assert_eq!(server.cmd(&["PING"]), Resp::Simple("PONG".into()));
    assert_eq!(server.cmd(&["SET", "k", "v1"]), Resp::Simple("OK".into()));
    assert_eq!(server.cmd(&["GET", "k"]).as_str(), Some("v1"));

    let pid = server.pid().unwrap();
    server.stop();
    assert!(!process_alive(pid));
    assert!(redis_call(server.port(), None, &["PING"]).is_err());

    server.restart();
    assert_eq!(server.cmd(&["PING"]), Resp::Simple("PONG".into()));
    // The append-only file brings the data back.
    assert_eq!(server.cmd(&["GET", "k"]).as_str(), Some("v1"));

    let dir = server.dir().to_path_buf();
    let pid = server.pid().unwrap();
    drop(server);
    assert!(!process_alive(pid));
    assert!(!dir.exists());
}

#[test]
fn redis_with_modules_json_and_search() {
    let server = RedisServer::start(RedisFlavor::WithModules);
    let modules = server.cmd(&["MODULE", "LIST"]);
    let names: Vec<String> = modules
        .as_array()
        .expect("MODULE LIST array")
        .iter()
        .filter_map(|m| {
            let fields = m.as_array()?;
            let i = fields.iter().position(|f| f.as_str() == Some("name"))?;
            Some(fields.get(i + 1)?.as_str()?.to_string())
        })
        .collect();
    assert!(names.iter().any(|n| n == "ReJSON"), "modules: {names:?}");
    assert!(names.iter().any(|n| n == "search"), "modules: {names:?}");

    assert_eq!(
        server.cmd(&[
            "FT.CREATE",
            "idx:events",
            "ON",
            "JSON",
            "PREFIX",
            "1",
            "ev:",
            "SCHEMA",
            "$.room",
            "AS",
            "room",
            "TAG",
            "$.n",
            "AS",
            "n",
            "NUMERIC",
        ]),
        Resp::Simple("OK".into())
    );
    assert_eq!(
        server.cmd(&["JSON.SET", "ev:1", "$", r#"{"room":"r1","n":3}"#]),
        Resp::Simple("OK".into())
    );
    assert_eq!(
        server.cmd(&["JSON.SET", "ev:2", "$", r#"{"room":"r2","n":9}"#]),
        Resp::Simple("OK".into())
    );
    assert_eq!(
        server.cmd(&["JSON.GET", "ev:1", "$.n"]).as_str(),
        Some("[3]")
    );

    let found = server.cmd(&["FT.SEARCH", "idx:events", "@room:{r1}"]);
    let found = found.as_array().expect("FT.SEARCH array");
    assert_eq!(found[0].as_int(), Some(1), "{found:?}");
    assert_eq!(found[1].as_str(), Some("ev:1"));

    let found = server.cmd(&["FT.SEARCH", "idx:events", "@n:[5 10]"]);
    let found = found.as_array().expect("FT.SEARCH array");
    assert_eq!(found[0].as_int(), Some(1), "{found:?}");
    assert_eq!(found[1].as_str(), Some("ev:2"));
}

#[test]
fn redis_password_is_required_and_checked() {
    for flavor in [RedisFlavor::Plain, RedisFlavor::WithModules] {
        let server = RedisServer::start_with_password(flavor, "s3cret p@ss");
        assert_eq!(
            server.url(),
            format!("redis://:s3cret%20p%40ss@127.0.0.1:{}/", server.port())
        );
        assert_eq!(server.cmd(&["PING"]), Resp::Simple("PONG".into()));

        let wrong = redis_call(server.port(), Some("wrong"), &["PING"]).unwrap();
        assert_eq!(
            wrong.error_code(),
            Some("WRONGPASS"),
            "{flavor:?}: {wrong:?}"
        );

        let none = redis_call(server.port(), None, &["GET", "k"]).unwrap();
        assert_eq!(none.error_code(), Some("NOAUTH"), "{flavor:?}: {none:?}");
    }
}
