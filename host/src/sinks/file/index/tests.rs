use super::*;

/// The schema of the first index (events only, no `reason`, `user_version` 0).
const SCHEMA_1: &str = "
CREATE TABLE events (
    id TEXT PRIMARY KEY, ts REAL NOT NULL, type TEXT NOT NULL, room_sid TEXT NOT NULL,
    room_name TEXT NOT NULL, node_id TEXT NOT NULL, participant_sid TEXT NOT NULL,
    identity TEXT NOT NULL, track_sid TEXT NOT NULL, track_type TEXT NOT NULL,
    track_source TEXT NOT NULL, mime TEXT NOT NULL, expire_at REAL NOT NULL
);
INSERT INTO events VALUES ('E1', 1.5, 'ROOM_CREATED', 'RM_old', 'old', 'ND', '', '', '', '',
    '', '', 9e12);
";

#[tokio::test]
async fn an_index_of_the_first_schema_is_upgraded_and_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    Connection::open(dir.path().join(FILE_NAME))
        .unwrap()
        .execute_batch(SCHEMA_1)
        .unwrap();
    drop(FileIndex::open(dir.path()).expect("upgraded"));
    // Opening again finds it current.
    drop(FileIndex::open(dir.path()).expect("reopened"));
    let query = IndexQuery::new(dir.path());
    let rows = query.room_events("RM_old").await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].kind.as_str(), rows[0].reason.as_str()),
        ("ROOM_CREATED", "")
    );
    assert!(query.room_quality("RM_old", 10.0).await.unwrap().is_empty());
    // Its room's summary is rebuilt from the events.
    let sessions = query.sessions_between(0.0, 10.0, None).await.unwrap();
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert_eq!(
        (s.sid.as_str(), s.name.as_str(), s.node_id.as_str()),
        ("RM_old", "old", "ND")
    );
    assert_eq!((s.started_at, s.events, s.open), (1.5, 1, true));
}

#[test]
fn an_index_from_a_newer_host_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    Connection::open(dir.path().join(FILE_NAME))
        .unwrap()
        .execute_batch("PRAGMA user_version = 9;")
        .unwrap();
    let error = format!("{:#}", FileIndex::open(dir.path()).err().expect("refused"));
    assert!(
        error.contains("newer host") && error.contains("schema 9"),
        "{error}"
    );
}
