//! Items from encoded stats against items from decoded ones, on random stats and on the
//! encodings a canonical encoder does not write.

use super::super::json::tests::{random, shapes};
use super::*;
use proptest::prelude::*;

const EXPIRATION: Duration = Duration::from_secs(3600);

/// The decoded path: what the door did before it read stats off the wire.
fn decoded(
    format: DocumentFormat,
    bytes: &[u8],
    node: &str,
    now: SystemTime,
) -> Result<Item, prost::DecodeError> {
    let mut stat = AnalyticsStat::decode(bytes)?;
    if stat.node.is_empty() {
        stat.node = node.to_string();
    }
    Ok(Item::from_stat_as(format, stat, now, EXPIRATION))
}

fn same(a: &Item, b: &Item) -> Result<(), TestCaseError> {
    prop_assert_eq!(&a.id, &b.id);
    prop_assert_eq!(a.document_text(), b.document_text());
    prop_assert_eq!(&a.type_name, &b.type_name);
    prop_assert_eq!(a.timestamp, b.timestamp);
    prop_assert_eq!(
        (
            &a.room_id,
            &a.room_name,
            &a.participant_id,
            &a.track_id,
            &a.node_id
        ),
        (
            &b.room_id,
            &b.room_name,
            &b.participant_id,
            &b.track_id,
            &b.node_id
        )
    );
    prop_assert_eq!(a.score.to_bits(), b.score.to_bits());
    prop_assert_eq!(a.expire_at, b.expire_at);
    Ok(())
}

/// The query index's row from the figures read off the wire is the row read from the
/// document text (the index reads the text when the figures are absent).
fn same_quality_row(item: &Item) -> Result<(), TestCaseError> {
    use crate::api::quality::StatRow;
    if item.quality.is_some() {
        let text = StatRow::from_text(item.document_text());
        prop_assert!(
            text.is_some(),
            "figures for a document the index cannot read"
        );
        prop_assert_eq!(StatRow::from_item(item), text.map(StatRow::into_cow));
    }
    Ok(())
}

fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let now = SystemTime::UNIX_EPOCH + Duration::new(1_796_044_401, 832_057_774);
    for format in [DocumentFormat::Openvidu, DocumentFormat::Typed] {
        for (node, quality) in [("", true), ("ND_door", true), ("ND_door", false)] {
            let fast = Item::from_encoded_stat(format, bytes, node, now, EXPIRATION, quality);
            match (fast, decoded(format, bytes, node, now)) {
                (Ok(fast), Ok(slow)) => {
                    same(&fast, &slow)?;
                    if quality {
                        same_quality_row(&fast)?;
                    } else {
                        prop_assert!(fast.quality.is_none(), "figures read when not asked for");
                    }
                }
                (Err(_), Err(_)) => {}
                (fast, slow) => prop_assert!(
                    false,
                    "{format:?} node {node:?}: encoded {:?}, decoded {:?}",
                    fast.map(|i| i.id),
                    slow.map(|i| i.id)
                ),
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn encoded_stats_give_the_items_decoded_stats_give(shape in shapes()) {
        check(&random(shape, "livekit.AnalyticsStat"))?;
    }

    /// The same with the stream type upstream or downstream and finite scores, as
    /// livekit-server sends them: the door always reads the quality figures then.
    #[test]
    fn quality_figures_off_the_wire_give_the_row_of_the_document(shape in shapes(), downstream: bool) {
        let mut stat = AnalyticsStat::decode(&random(shape, "livekit.AnalyticsStat")[..]).unwrap();
        stat.kind = i32::from(downstream);
        for score in [&mut stat.score, &mut stat.min_score] {
            if !score.is_finite() {
                *score = 4.5;
            }
        }
        let bytes = stat.encode_to_vec();
        check(&bytes)?;
        let item = Item::from_encoded_stat(DocumentFormat::Openvidu, &bytes, "", SystemTime::now(), EXPIRATION, true).unwrap();
        prop_assert!(item.quality.is_some());
    }
}

/// A stat with a timestamp, a node and two string fields.
fn sample() -> AnalyticsStat {
    AnalyticsStat {
        kind: 1,
        time_stamp: Some(pbjson_types::Timestamp {
            seconds: 1_796_044_401,
            nanos: 5,
        }),
        node: "ND_a".into(),
        room_id: "RM_a".into(),
        track_id: "TR_a".into(),
        score: 4.5,
        ..Default::default()
    }
}

#[test]
fn encodings_a_canonical_encoder_does_not_write_go_through_the_decoder() {
    let canonical = sample().encode_to_vec();
    // The timestamp in two parts (merged by the decoder: seconds from the first).
    let mut split = canonical.clone();
    prost::encoding::message::encode(
        3,
        &pbjson_types::Timestamp {
            seconds: 0,
            nanos: 7,
        },
        &mut split,
    );
    // A known field with another wire type: refused by both.
    let mut wrong_type = canonical.clone();
    encode_key(5, WireType::Varint, &mut wrong_type);
    encode_varint(3, &mut wrong_type);
    // A string that is not UTF-8: refused by both.
    let mut not_utf8 = canonical.clone();
    encode_key(6, WireType::LengthDelimited, &mut not_utf8);
    encode_varint(2, &mut not_utf8);
    not_utf8.extend_from_slice(&[0xc3, 0x28]);
    // Unknown fields: left out by both.
    let mut unknown = canonical.clone();
    encode_key(99, WireType::Varint, &mut unknown);
    encode_varint(1, &mut unknown);
    // Cut short: refused by both.
    let cut = &canonical[..canonical.len() - 2];
    for bytes in [
        &canonical[..],
        &split,
        &wrong_type,
        &not_utf8,
        &unknown,
        cut,
    ] {
        check(bytes).unwrap();
    }
    assert!(head(&split).is_none() && head(&wrong_type).is_none() && head(&not_utf8).is_none());
    assert!(head(&unknown).is_some());
    let now = SystemTime::now();
    let item = Item::from_encoded_stat(DocumentFormat::Openvidu, &split, "", now, EXPIRATION, true);
    assert_eq!(
        item.unwrap().timestamp.nanos,
        7,
        "merged as protobuf merges"
    );
    for bad in [&wrong_type[..], &not_utf8, cut] {
        let refused =
            Item::from_encoded_stat(DocumentFormat::Openvidu, bad, "", now, EXPIRATION, true);
        assert!(refused.is_err());
    }
}
