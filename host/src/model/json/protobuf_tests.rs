//! The writers read what prost reads: encodings a canonical encoder does not write (explicit
//! defaults, a singular field or a oneof more than once, messages in parts, repeated map
//! keys, empty packed runs, groups in unknown fields) give the document of prost's reading,
//! in both formats; what prost refuses is refused.

use super::super::{DocumentFormat, DESCRIPTORS};
use super::fallback::canonical;
use super::tests::{random, shapes};
use proptest::prelude::*;
use prost::encoding::{encode_key, encode_varint, WireType};
use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor, Value as Field};
use serde_json::Value;

const ID: &str = "0123456789abcdef0123456789abcdef";
const EVENT: &str = "livekit.AnalyticsEvent";
const STAT: &str = "livekit.AnalyticsStat";
const FORMATS: [DocumentFormat; 2] = [DocumentFormat::Openvidu, DocumentFormat::Typed];

fn descriptor(name: &str) -> MessageDescriptor {
    DESCRIPTORS.get_message_by_name(name).unwrap()
}

fn number(message: &str, field: &str) -> u32 {
    descriptor(message)
        .get_field_by_name(field)
        .unwrap()
        .number()
}

/// A length-delimited field.
fn delimited(number: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_key(number, WireType::LengthDelimited, &mut out);
    encode_varint(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}

/// A varint field.
fn varint(number: u32, value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    encode_key(number, WireType::Varint, &mut out);
    encode_varint(value, &mut out);
    out
}

/// The encoding of a message of `name` with the fields `set` (by name).
fn encoded(name: &str, set: &[(&str, Field)]) -> Vec<u8> {
    let mut message = DynamicMessage::new(descriptor(name));
    for (field, value) in set {
        message.set_field_by_name(field, value.clone());
    }
    message.encode_to_vec()
}

fn text(s: &str) -> Field {
    Field::String(s.into())
}

/// The document prost's reading of `bytes` gives, as the reference walkers build it.
fn reference(format: DocumentFormat, name: &str, bytes: &[u8]) -> Option<Value> {
    let bytes = canonical(name, bytes).ok()?;
    let message = DynamicMessage::decode(descriptor(name), &bytes[..]).unwrap();
    Some(Value::Object(format.document(&message, name, ID)))
}

/// The writers' document of `bytes` against prost's reading, in both formats (as JSON
/// values: map entries may come in another order); returns the `typed` text.
fn as_prost_reads(name: &str, bytes: &[u8]) -> Result<Option<String>, TestCaseError> {
    let mut typed = None;
    for format in FORMATS {
        let ours = format.encoded_document_text(bytes, name, ID);
        match (&ours, reference(format, name, bytes)) {
            (Ok(text), Some(theirs)) => {
                let value: Value = serde_json::from_str(text).unwrap();
                prop_assert_eq!(&value, &theirs, "{:?} {}: {:02x?}", format, name, bytes);
            }
            (Err(_), None) => {}
            (ours, theirs) => prop_assert!(
                false,
                "{format:?} {name}: ours {ours:?}, prost's {theirs:?}: {bytes:02x?}"
            ),
        }
        if format == DocumentFormat::Typed {
            typed = ours.ok();
        }
    }
    Ok(typed)
}

fn base_event() -> Vec<u8> {
    let mut bytes = varint(1, 3);
    bytes.extend(delimited(number(EVENT, "room_id"), b"RM_a"));
    bytes
}

#[test]
fn an_explicit_empty_track_id_is_absent() {
    let mut bytes = base_event();
    bytes.extend([0x3a, 0x00]); // track_id = ""
    let typed = as_prost_reads(EVENT, &bytes).unwrap().unwrap();
    assert!(!typed.contains("track_id"), "{typed}");
    for format in FORMATS {
        assert_eq!(
            format.encoded_document_text(&bytes, EVENT, ID).unwrap(),
            format
                .encoded_document_text(&base_event(), EVENT, ID)
                .unwrap()
        );
    }
}

/// Every singular field without presence of an event and a stat, written at its default
/// (and -0.0 for floats): the document of the message without it.
#[test]
fn explicit_defaults_of_every_singular_field_are_absent() {
    let mut checked = 0;
    for (name, base) in [(EVENT, base_event()), (STAT, varint(2, 1))] {
        let plain: Vec<_> = FORMATS
            .map(|f| f.encoded_document_text(&base, name, ID).unwrap())
            .into();
        for field in descriptor(name).fields() {
            let set_by_base = ["type", "kind", "room_id"].contains(&field.name());
            if field.is_list() || field.is_map() || field.supports_presence() || set_by_base {
                continue;
            }
            let mut defaults: Vec<Vec<u8>> = Vec::new();
            let mut key = Vec::new();
            encode_key(field.number(), field.kind().wire_type(), &mut key);
            defaults.push(match field.kind().wire_type() {
                WireType::Varint => varint(field.number(), 0),
                WireType::ThirtyTwoBit => [&key[..], &[0; 4]].concat(),
                WireType::SixtyFourBit => [&key[..], &[0; 8]].concat(),
                _ => delimited(field.number(), b""),
            });
            match field.kind() {
                prost_reflect::Kind::Float => defaults.push([&key[..], &[0, 0, 0, 0x80]].concat()),
                prost_reflect::Kind::Double => {
                    defaults.push([&key[..], &[0, 0, 0, 0, 0, 0, 0, 0x80]].concat())
                }
                _ => {}
            }
            for default in defaults {
                let bytes = [&base[..], &default[..]].concat();
                as_prost_reads(name, &bytes).unwrap();
                for (format, plain) in FORMATS.iter().zip(&plain) {
                    let text = format.encoded_document_text(&bytes, name, ID).unwrap();
                    assert_eq!(&text, plain, "{format:?} {}", field.name());
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 25, "{checked} fields");
}

/// A proto3 `optional` keeps its default: protobuf (and Go's pointer) tells it from absent.
#[test]
fn an_optional_field_keeps_its_explicit_default() {
    let meta = delimited(number("livekit.AnalyticsClientMeta", "geo_hash"), b"");
    let bytes = [base_event(), delimited(number(EVENT, "client_meta"), &meta)].concat();
    let typed = as_prost_reads(EVENT, &bytes).unwrap().unwrap();
    assert!(typed.contains(r#""geo_hash":"""#), "{typed}");
}

/// Two cases of one oneof: the last one only, for every oneof of `EgressInfo`.
#[test]
fn a_oneof_keeps_its_last_case() {
    let egress = descriptor("livekit.EgressInfo");
    let mut checked = 0;
    for oneof in egress.oneofs().filter(|o| !o.is_synthetic()) {
        let cases: Vec<_> = oneof.fields().collect();
        for pair in cases.windows(2) {
            let parts: Vec<Vec<u8>> = pair
                .iter()
                .map(|case| {
                    let mut message = DynamicMessage::new(egress.clone());
                    message.set_field(case, Field::default_value_for_field(case));
                    message.encode_to_vec()
                })
                .collect();
            let inner = parts.concat();
            let bytes = [base_event(), delimited(number(EVENT, "egress"), &inner)].concat();
            let typed = as_prost_reads(EVENT, &bytes).unwrap().unwrap();
            // The document is prost's reading, checked above (the last case only).
            assert!(typed.contains("\"egress\":"), "{typed}");
            checked += 1;
        }
    }
    assert!(checked >= 3, "{checked} pairs");
}

/// A message in two parts is their merge; a scalar twice keeps its last value.
#[test]
fn messages_in_parts_merge_and_scalars_keep_their_last_value() {
    let room = number(EVENT, "room");
    let participant = number(EVENT, "participant");
    let permission = number("livekit.ParticipantInfo", "permission");
    let bytes = [
        base_event(),
        delimited(room, &encoded("livekit.Room", &[("sid", text("RM_1"))])),
        delimited(room, &encoded("livekit.Room", &[("name", text("one"))])),
        delimited(
            participant,
            &delimited(
                permission,
                &encoded(
                    "livekit.ParticipantPermission",
                    &[("can_publish", Field::Bool(true))],
                ),
            ),
        ),
        delimited(
            participant,
            &delimited(
                permission,
                &encoded(
                    "livekit.ParticipantPermission",
                    &[("hidden", Field::Bool(true))],
                ),
            ),
        ),
        delimited(number(EVENT, "room_id"), b"RM_b"),
    ]
    .concat();
    let typed = as_prost_reads(EVENT, &bytes).unwrap().unwrap();
    for part in [
        r#""sid":"RM_1""#,
        r#""name":"one""#,
        r#""can_publish":true"#,
        r#""hidden":true"#,
        r#""room_id":"RM_b""#,
    ] {
        assert!(typed.contains(part), "{part} in {typed}");
    }
    assert!(!typed.contains("RM_a"), "{typed}");
}

/// A map key twice keeps its last entry; an entry's key or value twice keeps its last.
#[test]
fn a_map_key_twice_keeps_its_last_entry() {
    let attributes = number("livekit.ParticipantInfo", "attributes");
    let entry = |parts: &[(u32, &[u8])]| -> Vec<u8> {
        let inner: Vec<u8> = parts.iter().flat_map(|(n, b)| delimited(*n, b)).collect();
        delimited(attributes, &inner)
    };
    let info = [
        entry(&[(1, b"k"), (2, b"1")]),
        entry(&[(1, b"j"), (2, b"x")]),
        entry(&[(1, b"k"), (2, b"2")]),
        entry(&[(1, b"i"), (2, b"a"), (2, b"b")]),
    ]
    .concat();
    let bytes = [base_event(), delimited(number(EVENT, "participant"), &info)].concat();
    let typed = as_prost_reads(EVENT, &bytes).unwrap().unwrap();
    assert_eq!(typed.matches(r#""k":"#).count(), 1, "{typed}");
    assert!(
        typed.contains(r#""k":"2""#) && typed.contains(r#""i":"b""#),
        "{typed}"
    );
}

/// An empty packed run is an empty list, which protobuf leaves out.
#[test]
fn an_empty_packed_run_is_an_empty_list() {
    let mut checked = 0;
    for message in DESCRIPTORS.all_messages() {
        let Some(field) = message.fields().find(|f| {
            f.is_list() && f.is_packed() && !matches!(f.kind(), prost_reflect::Kind::Enum(_))
        }) else {
            continue;
        };
        let bytes = delimited(field.number(), b"");
        let typed = as_prost_reads(message.full_name(), &bytes)
            .unwrap()
            .unwrap();
        assert!(!typed.contains(field.name()), "{typed}");
        checked += 1;
    }
    assert!(checked > 0);
}

/// A group in an unknown field is skipped, as protobuf skips it, at any depth.
#[test]
fn groups_in_unknown_fields_are_skipped() {
    // Field 99: start group, a varint inside, end group.
    let group = [0x9b, 0x06, 0x08, 0x01, 0x9c, 0x06];
    let room = [
        &encoded("livekit.Room", &[("sid", text("RM_1"))])[..],
        &group,
    ]
    .concat();
    for bytes in [
        [&base_event()[..], &group].concat(),
        [base_event(), delimited(number(EVENT, "room"), &room)].concat(),
    ] {
        let typed = as_prost_reads(EVENT, &bytes).unwrap();
        assert!(typed.is_some(), "{bytes:02x?}");
    }
    // An end group without its start, or another field's end, is malformed (prost says so).
    for bytes in [vec![0x9c, 0x06], vec![0x9b, 0x06, 0xa4, 0x06]] {
        assert_eq!(as_prost_reads(EVENT, &bytes).unwrap(), None, "{bytes:02x?}");
    }
}

/// What prost refuses is refused: a string that is not UTF-8 or a known field of another
/// wire type, at any depth.
#[test]
fn what_prost_refuses_is_refused() {
    let room = number(EVENT, "room");
    let name = number("livekit.Room", "name");
    for bytes in [
        [
            base_event(),
            delimited(room, &delimited(name, &[0xff, 0xfe])),
        ]
        .concat(),
        [base_event(), delimited(room, &varint(name, 1))].concat(),
        [base_event(), varint(number(EVENT, "track_id"), 1)].concat(),
        [base_event(), delimited(1, &[1])].concat(),
        [base_event(), vec![0x00, 0x00]].concat(), // field number 0
    ] {
        assert_eq!(as_prost_reads(EVENT, &bytes).unwrap(), None, "{bytes:02x?}");
        for format in FORMATS {
            assert!(format.encoded_document_text(&bytes, EVENT, ID).is_err());
        }
    }
}

/// No LiveKit message holds itself (directly or below): the walk's depth is bounded by
/// the schema, not by the bytes.
#[test]
fn the_schema_has_no_cycle() {
    fn visit(m: &MessageDescriptor, path: &mut Vec<String>) {
        assert!(
            !path.contains(&m.full_name().to_string()),
            "cycle: {path:?} → {}",
            m.full_name()
        );
        path.push(m.full_name().into());
        for f in m.fields() {
            if let prost_reflect::Kind::Message(inner) = f.kind() {
                visit(&inner, path);
            }
        }
        path.pop();
    }
    for name in [EVENT, STAT, "livekit.AnalyticsNodeRooms"] {
        visit(&descriptor(name), &mut Vec::new());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Two encodings one after the other are one message, their merge.
    #[test]
    fn concatenated_events_read_as_their_merge(a in shapes(), b in shapes()) {
        let bytes = [random(a, EVENT), random(b, EVENT)].concat();
        as_prost_reads(EVENT, &bytes)?;
    }

    #[test]
    fn concatenated_stats_read_as_their_merge(a in shapes(), b in shapes()) {
        let bytes = [random(a, STAT), random(b, STAT)].concat();
        as_prost_reads(STAT, &bytes)?;
    }

    #[test]
    fn concatenated_node_rooms_read_as_their_merge(a in shapes(), b in shapes()) {
        let name = "livekit.AnalyticsNodeRooms";
        as_prost_reads(name, &[random(a, name), random(b, name)].concat())?;
    }
}
