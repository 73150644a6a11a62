//! The lifecycle generator's own tests.

use super::*;
use crate::ingest::grpc::node_rooms_id;
use crate::ingest::mapping::webhook_document_id;
use crate::model::{event_id, stat_id};
use std::collections::HashSet;

#[test]
fn every_unit_has_its_own_id_and_rooms_run_their_whole_lifecycle() {
    let mut scenario = Scenario::new(Shape {
        rooms: 3,
        participants: 3,
        tracks: 2,
        node_id: "ND_sim".into(),
        seed: 7,
    });
    let mut ids = HashSet::new();
    let mut types = HashSet::new();
    let mut node_rooms = 0;
    for _ in 0..20_000 {
        match scenario.next_unit() {
            Unit::Event { event, webhook } => {
                types.insert(event.r#type);
                assert!(ids.insert(event_id(&event)));
                if let Some(w) = webhook {
                    assert!(ids.insert(webhook_document_id(&w.id)));
                }
            }
            Unit::Stat(stat) => assert!(ids.insert(stat_id(&stat))),
            Unit::NodeRooms(rooms) => {
                node_rooms += 1;
                assert!(ids.insert(node_rooms_id(&rooms)));
            }
        }
    }
    assert_eq!(types.len(), 7, "{types:?}");
    assert!(node_rooms > 0);
    assert!(scenario.counts().rooms > 3);
}
