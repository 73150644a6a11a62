//! Items from encoded events against items from decoded ones, on random events and on the
//! encodings a canonical encoder does not write.

use super::super::json::tests::{random, shapes};
use super::*;
use proptest::prelude::*;
use prost::encoding::{encode_key, encode_varint, WireType};

const EXPIRATION: Duration = Duration::from_secs(3600);

fn decoded(
    format: DocumentFormat,
    bytes: &[u8],
    node: &str,
    now: SystemTime,
) -> Result<Item, prost::DecodeError> {
    let mut event = AnalyticsEvent::decode(bytes)?;
    if event.node_id.is_empty() {
        event.node_id = node.to_string();
    }
    Ok(Item::from_event_as(format, event, now, EXPIRATION))
}

fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let now = SystemTime::UNIX_EPOCH + Duration::new(1_796_044_401, 832_057_774);
    for format in [DocumentFormat::Openvidu, DocumentFormat::Typed] {
        for node in ["", "ND_door"] {
            let fast = Item::from_encoded_event(format, bytes, node, now, EXPIRATION);
            match (fast, decoded(format, bytes, node, now)) {
                (Ok(a), Ok(b)) => {
                    prop_assert_eq!(&a.id, &b.id);
                    // Map entries: in wire order here, in hash-map order after a decode
                    // (prost's maps are hash maps), so the same object, keys in another order.
                    let (x, y) = (a.document_text(), b.document_text());
                    let same = x == y
                        || serde_json::from_str::<serde_json::Value>(x).unwrap()
                            == serde_json::from_str::<serde_json::Value>(y).unwrap();
                    prop_assert!(same, "{:?}: encoded {} decoded {}", format, x, y);
                    prop_assert_eq!(&a.type_name, &b.type_name);
                    prop_assert_eq!(a.timestamp, b.timestamp);
                    prop_assert_eq!(
                        (
                            &a.room_id,
                            &a.room_name,
                            &a.participant_id,
                            &a.participant_identity
                        ),
                        (
                            &b.room_id,
                            &b.room_name,
                            &b.participant_id,
                            &b.participant_identity
                        )
                    );
                    prop_assert_eq!((&a.track_id, &a.node_id), (&b.track_id, &b.node_id));
                    prop_assert_eq!(a.expire_at, b.expire_at);
                }
                (Err(_), Err(_)) => {}
                (a, b) => prop_assert!(
                    false,
                    "{format:?} node {node:?}: encoded {:?}, decoded {:?}",
                    a.map(|i| i.id),
                    b.map(|i| i.id)
                ),
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn encoded_events_give_the_items_decoded_events_give(shape in shapes()) {
        check(&random(shape, "livekit.AnalyticsEvent"))?;
    }
}

#[test]
fn encodings_a_canonical_encoder_does_not_write_go_through_the_decoder() {
    let event = AnalyticsEvent {
        r#type: 2,
        timestamp: Some(pbjson_types::Timestamp {
            seconds: 1_796_044_401,
            nanos: 5,
        }),
        room: Some(livekit_protocol::Room {
            sid: "RM_a".into(),
            name: "demo".into(),
            ..Default::default()
        }),
        participant: Some(livekit_protocol::ParticipantInfo {
            sid: "PA_a".into(),
            identity: "alice".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let canonical = event.encode_to_vec();
    // The room in two parts: merged by the decoder (sid from the first, name from the second).
    let mut split = canonical.clone();
    prost::encoding::message::encode(
        4,
        &livekit_protocol::Room {
            name: "other".into(),
            ..Default::default()
        },
        &mut split,
    );
    // The participant's identity with another wire type.
    let mut inner = Vec::new();
    encode_key(2, WireType::Varint, &mut inner);
    encode_varint(1, &mut inner);
    let mut wrong_inner = canonical.clone();
    encode_key(6, WireType::LengthDelimited, &mut wrong_inner);
    encode_varint(inner.len() as u64, &mut wrong_inner);
    wrong_inner.extend_from_slice(&inner);
    // A room id that is not UTF-8.
    let mut not_utf8 = canonical.clone();
    encode_key(3, WireType::LengthDelimited, &mut not_utf8);
    encode_varint(2, &mut not_utf8);
    not_utf8.extend_from_slice(&[0xc3, 0x28]);
    let cut = &canonical[..canonical.len() - 2];
    for bytes in [&canonical[..], &split, &wrong_inner, &not_utf8, cut] {
        check(bytes).unwrap();
    }
    assert!(head(&canonical).is_some());
    assert!(head(&split).is_none() && head(&wrong_inner).is_none() && head(&not_utf8).is_none());
    let now = SystemTime::now();
    let item = Item::from_encoded_event(DocumentFormat::Openvidu, &split, "", now, EXPIRATION);
    let item = item.unwrap();
    assert_eq!(
        (item.room_id.as_str(), item.room_name.as_str()),
        ("RM_a", "other")
    );
}
