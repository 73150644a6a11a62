use super::*;
use std::sync::atomic::Ordering;

fn refusal() -> Refusal {
    Refusal {
        code: 238,
        code_name: "NotImplemented".into(),
        message: "Index option \"expireAfterSeconds\" is not implemented yet".into(),
        plain_instead: true,
    }
}

#[test]
fn names_are_mongodbs_default_names() {
    assert_eq!(IndexSpec::on("events", &["room.sid"]).name(), "room.sid_1");
    assert_eq!(
        IndexSpec::on("events", &["participant_id", "type"]).name(),
        "participant_id_1_type_1"
    );
    assert_eq!(
        IndexSpec::ttl("stats").label(),
        "stats.openvidu_expire_at_1 TTL"
    );
    let sessions = IndexSpec::on("room_sessions", &["-started_at", "_id"]);
    assert_eq!(sessions.name(), "started_at_-1__id_1");
    assert_eq!(
        sessions.key_document(),
        bson::doc! { "started_at": -1, "_id": 1 }
    );
    let list = index_list();
    assert_eq!(list.len(), 27);
    assert_eq!(
        list.iter().filter(|s| s.ttl).count(),
        ItemKind::ALL.len() + 1
    );
}

#[test]
fn the_state_names_each_missing_index_and_the_servers_answer() {
    let book = IndexBook::new(
        index_list(),
        Duration::from_secs(300),
        Duration::from_secs(60),
    );
    let state = book.state();
    assert_eq!(state.notes, ["indexes: 0/27, 27 not created yet"]);
    assert!(!book.settled());
    for (spec, _) in book.snapshot() {
        let state = if spec.ttl && !["node_stats", "room_sessions"].contains(&spec.collection) {
            IndexState::Refused(refusal())
        } else {
            IndexState::Present
        };
        book.record(&spec, state);
    }
    assert!(book.settled());
    assert_eq!(book.host_expires(), ["events", "stats", "node_rooms"]);
    book.expired_by_host.store(7, Ordering::Relaxed);
    let state = book.state();
    assert_eq!(
        state.notes,
        [
            "indexes: 24/27, missing: events.openvidu_expire_at_1 TTL (NotImplemented), \
             stats.openvidu_expire_at_1 TTL (NotImplemented), node_rooms.openvidu_expire_at_1 \
             TTL (NotImplemented); retried every 300s and on reload",
            "refused events.openvidu_expire_at_1 TTL, stats.openvidu_expire_at_1 TTL, \
             node_rooms.openvidu_expire_at_1 TTL: NotImplemented (238): Index option \
             \"expireAfterSeconds\" is not implemented yet",
            "expiry: the host deletes documents past openvidu_expire_at in events, stats, \
             node_rooms every 60s (no TTL index; 7 deleted so far)",
        ]
    );
    assert_eq!(
        state.gauges,
        [
            ("indexes_present", 24),
            ("indexes_missing", 3),
            ("indexes_pending", 0),
            ("host_expiry", 1),
        ]
    );
    // Once created after all, nothing is left to say.
    for (spec, _) in book.snapshot() {
        book.record(&spec, IndexState::Present);
    }
    assert!(book.state().notes.is_empty());
    assert!(book.host_expires().is_empty());
}
