//! The wire walker against prost's decoder (see the module `fuzzing`).

use crate::model::{DocumentFormat, Item};
use livekit_protocol::{AnalyticsEvent, AnalyticsNodeRooms, AnalyticsStat};
use prost::Message;
use serde_json::Value;
use std::time::{Duration, SystemTime};

const ID: &str = "0123456789abcdef0123456789abcdef";
const FORMATS: [DocumentFormat; 2] = [DocumentFormat::Openvidu, DocumentFormat::Typed];
const EXPIRATION: Duration = Duration::from_secs(3600);

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::new(1_796_044_401, 832_057_774)
}

/// `ours` and `theirs` are the same document: the same text, or (map entries in another
/// order: prost's maps are hash maps) the same JSON of the same length, so no member twice.
fn same_document(ours: &str, theirs: &str, what: &str) {
    if ours == theirs {
        return;
    }
    let parse = |text: &str| -> Value {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"))
    };
    assert!(
        ours.len() == theirs.len() && parse(ours) == parse(theirs),
        "{what}: the walker wrote\n{ours}\nprost's message gives\n{theirs}"
    );
}

/// The documents of `bytes` (a `full_name` message) straight from the wire against those of
/// prost's decoding (`decoded`), in both formats; and prost's against the reference walkers.
fn documents<M: Message>(full_name: &str, bytes: &[u8], decoded: &Result<M, prost::DecodeError>) {
    for format in FORMATS {
        let ours = format.encoded_document_text(bytes, full_name, ID);
        match (ours, decoded) {
            (Ok(ours), Ok(message)) => {
                let theirs = format.document_text(message, full_name, ID);
                same_document(&ours, &theirs, &format!("{format:?} {full_name}"));
                let reference = Value::Object(format.document(message, full_name, ID));
                let parsed: Value = serde_json::from_str(&theirs).expect("the writer writes JSON");
                assert_eq!(
                    parsed, reference,
                    "{format:?} {full_name}: writer vs reference"
                );
            }
            (Err(_), Err(_)) => {}
            (ours, theirs) => panic!(
                "{format:?} {full_name}: the walker says {:?}, prost says {:?}",
                ours.map(|_| "ok"),
                theirs.as_ref().map(|_| "ok")
            ),
        }
    }
}

/// The item fields both paths set.
fn same_item(fast: &Item, slow: &Item, what: &str) {
    assert_eq!(fast.id, slow.id, "{what}: id");
    same_document(fast.document_text(), slow.document_text(), what);
    assert_eq!(fast.type_name, slow.type_name, "{what}: type");
    assert_eq!(fast.timestamp, slow.timestamp, "{what}: timestamp");
    let names = |i: &Item| {
        [
            i.room_id.clone(),
            i.room_name.clone(),
            i.participant_id.clone(),
            i.participant_identity.clone(),
            i.track_id.clone(),
            i.node_id.clone(),
        ]
    };
    assert_eq!(names(fast), names(slow), "{what}: ids and names");
    assert_eq!(fast.score.to_bits(), slow.score.to_bits(), "{what}: score");
    assert_eq!(fast.expire_at, slow.expire_at, "{what}: expiry");
}

/// An encoded `AnalyticsEvent`: its documents, and the gRPC door's item, against prost's.
pub fn event(bytes: &[u8]) {
    let decoded = AnalyticsEvent::decode(bytes);
    documents("livekit.AnalyticsEvent", bytes, &decoded);
    for format in FORMATS {
        for node in ["", "ND_door"] {
            let fast = Item::from_encoded_event(format, bytes, node, now(), EXPIRATION);
            let slow = decoded.clone().map(|mut event| {
                if event.node_id.is_empty() {
                    event.node_id = node.into();
                }
                Item::from_event_as(format, event, now(), EXPIRATION)
            });
            match (fast, slow) {
                (Ok(fast), Ok(slow)) => same_item(&fast, &slow, &format!("{format:?} event item")),
                (Err(_), Err(_)) => {}
                (fast, slow) => panic!(
                    "{format:?} event item: encoded {:?}, decoded {:?}",
                    fast.map(|i| i.id),
                    slow.map(|i| i.id)
                ),
            }
        }
    }
}

/// An encoded `AnalyticsStat`: its documents, the gRPC door's item (and its call-quality
/// figures against the query index's reading of the document), against prost's.
pub fn stat(bytes: &[u8]) {
    use crate::api::quality::StatRow;
    let decoded = AnalyticsStat::decode(bytes);
    documents("livekit.AnalyticsStat", bytes, &decoded);
    for format in FORMATS {
        for node in ["", "ND_door"] {
            let fast = Item::from_encoded_stat(format, bytes, node, now(), EXPIRATION, true);
            let slow = decoded.clone().map(|mut stat| {
                if stat.node.is_empty() {
                    stat.node = node.into();
                }
                Item::from_stat_as(format, stat, now(), EXPIRATION)
            });
            match (fast, slow) {
                (Ok(fast), Ok(slow)) => {
                    same_item(&fast, &slow, &format!("{format:?} stat item"));
                    if fast.quality.is_some() {
                        let text = StatRow::from_text(fast.document_text());
                        assert!(
                            text.is_some(),
                            "figures for a document the index cannot read"
                        );
                        assert_eq!(
                            StatRow::from_item(&fast),
                            text.map(StatRow::into_cow),
                            "{format:?}: quality figures off the wire vs the document's"
                        );
                    }
                }
                (Err(_), Err(_)) => {}
                (fast, slow) => panic!(
                    "{format:?} stat item: encoded {:?}, decoded {:?}",
                    fast.map(|i| i.id),
                    slow.map(|i| i.id)
                ),
            }
        }
    }
}

/// An encoded `AnalyticsNodeRooms`: its documents against prost's (the door decodes these
/// with prost, then writes the document from prost's encoding).
pub fn node_rooms(bytes: &[u8]) {
    let decoded = AnalyticsNodeRooms::decode(bytes);
    documents("livekit.AnalyticsNodeRooms", bytes, &decoded);
}
