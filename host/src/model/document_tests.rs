//! The wire walker against the reference: the same documents as walking a
//! `prost_reflect::DynamicMessage` (the previous implementation), for every message of the
//! LiveKit schema filled with random values.

use super::*;
use base64::Engine as _;
use prost::Message as _;
use prost_reflect::{DynamicMessage, Kind, MapKey, ReflectMessage, Value as Field};

// The reference walker: decode into a DynamicMessage, then walk it.
fn reflect_write(message: &DynamicMessage, out: &mut Map<String, Value>) {
    for field in message.descriptor().fields() {
        let present = if field.supports_presence() || field.is_list() || field.is_map() {
            message.has_field(&field)
        } else {
            matches!(field.kind(), Kind::Enum(_)) || message.has_field(&field)
        };
        if !present {
            continue;
        }
        let value = message.get_field(&field);
        out.insert(
            field.name().to_string(),
            reflect_convert(&value, &field.kind()),
        );
    }
}

fn reflect_convert(value: &Field, kind: &Kind) -> Value {
    match value {
        Field::Bool(b) => Value::Bool(*b),
        Field::I32(n) => Value::from(*n),
        Field::I64(n) => Value::from(*n),
        Field::U32(n) => Value::from(*n),
        Field::U64(n) => Value::from(*n),
        Field::F32(n) => float(n.to_string().parse().unwrap_or(f64::from(*n))),
        Field::F64(n) => float(*n),
        Field::String(s) => Value::String(s.clone()),
        Field::Bytes(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Field::EnumNumber(number) => match kind {
            Kind::Enum(enum_desc) => match enum_desc.get_value(*number) {
                Some(v) => Value::String(v.name().to_string()),
                None => Value::from(*number),
            },
            _ => Value::from(*number),
        },
        Field::Message(m) => {
            if m.descriptor().full_name() == "google.protobuf.Timestamp" {
                return reflect_timestamp(m);
            }
            let mut sub = Map::new();
            reflect_write(m, &mut sub);
            Value::Object(sub)
        }
        Field::List(items) => {
            Value::Array(items.iter().map(|v| reflect_convert(v, kind)).collect())
        }
        Field::Map(entries) => {
            let value_kind = match kind {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                other => other.clone(),
            };
            let mut sub = Map::new();
            for (key, v) in entries {
                sub.insert(map_key(key), reflect_convert(v, &value_kind));
            }
            Value::Object(sub)
        }
    }
}

/// A timestamp keeps both fields, so `timestamp.seconds` is always there to index.
fn reflect_timestamp(m: &DynamicMessage) -> Value {
    let seconds = m
        .get_field_by_name("seconds")
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    let nanos = m
        .get_field_by_name("nanos")
        .and_then(|v| v.as_i32())
        .unwrap_or(0);
    let mut sub = Map::new();
    sub.insert("seconds".into(), Value::from(seconds));
    sub.insert("nanos".into(), Value::from(nanos));
    Value::Object(sub)
}

fn map_key(key: &MapKey) -> String {
    match key {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
        MapKey::String(s) => s.clone(),
    }
}

fn reference(descriptor: &MessageDescriptor, bytes: &[u8]) -> Map<String, Value> {
    let dynamic = DynamicMessage::decode(descriptor.clone(), bytes).unwrap();
    let mut out = Map::new();
    reflect_write(&dynamic, &mut out);
    out
}

fn walked(descriptor: &MessageDescriptor, bytes: &[u8]) -> Map<String, Value> {
    let mut out = Map::new();
    write_message(message_index(descriptor.full_name()), bytes, &mut out).unwrap();
    out
}

/// A random value of `kind`; zero now and then, so absent fields are covered too.
fn random_scalar(rng: &mut fastrand::Rng, kind: &Kind, depth: usize) -> Field {
    let zero = rng.u8(..) < 40;
    match kind {
        Kind::Double => Field::F64(if zero { 0.0 } else { rng.f64() * 1e6 - 5e5 }),
        Kind::Float => Field::F32(if zero { 0.0 } else { rng.f32() * 100.0 }),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Field::I32(if zero { 0 } else { rng.i32(..) })
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            Field::I64(if zero { 0 } else { rng.i64(..) })
        }
        Kind::Uint32 | Kind::Fixed32 => Field::U32(if zero { 0 } else { rng.u32(..) }),
        Kind::Uint64 | Kind::Fixed64 => Field::U64(if zero { 0 } else { rng.u64(..) }),
        Kind::Bool => Field::Bool(!zero),
        Kind::String => Field::String(if zero {
            String::new()
        } else {
            format!("s-{}-é", rng.u32(..))
        }),
        Kind::Bytes => Field::Bytes(if zero {
            Default::default()
        } else {
            vec![rng.u8(..); rng.usize(1..9)].into()
        }),
        Kind::Enum(e) => {
            let values: Vec<i32> = e.values().map(|v| v.number()).collect();
            // Mostly known numbers, sometimes one the schema lacks.
            Field::EnumNumber(if rng.u8(..) < 20 {
                9_999
            } else {
                values[rng.usize(..values.len())]
            })
        }
        Kind::Message(m) => Field::Message(random_message(rng, m, depth + 1)),
    }
}

fn random_map_key(rng: &mut fastrand::Rng, kind: &Kind) -> MapKey {
    match kind {
        Kind::String => MapKey::String(format!("k{}", rng.u16(..))),
        Kind::Bool => MapKey::Bool(rng.bool()),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => MapKey::I32(rng.i32(..)),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => MapKey::I64(rng.i64(..)),
        Kind::Uint32 | Kind::Fixed32 => MapKey::U32(rng.u32(..)),
        _ => MapKey::U64(rng.u64(..)),
    }
}

fn random_message(
    rng: &mut fastrand::Rng,
    descriptor: &MessageDescriptor,
    depth: usize,
) -> DynamicMessage {
    let mut message = DynamicMessage::new(descriptor.clone());
    if depth > 3 {
        return message;
    }
    for field in descriptor.fields() {
        if rng.u8(..) < 60 {
            continue; // left unset
        }
        let kind = field.kind();
        let value = if field.is_map() {
            let entry = kind.as_message().unwrap().clone();
            let (k, v) = (
                entry.map_entry_key_field().kind(),
                entry.map_entry_value_field().kind(),
            );
            Field::Map(
                (0..rng.usize(1..4))
                    .map(|_| (random_map_key(rng, &k), random_scalar(rng, &v, depth)))
                    .collect(),
            )
        } else if field.is_list() {
            Field::List(
                (0..rng.usize(1..4))
                    .map(|_| random_scalar(rng, &kind, depth))
                    .collect(),
            )
        } else {
            random_scalar(rng, &kind, depth)
        };
        message.set_field(&field, value);
    }
    message
}

#[test]
fn every_livekit_message_walks_like_the_reflecting_reference() {
    let mut rng = fastrand::Rng::with_seed(7);
    let mut compared = 0;
    for descriptor in DESCRIPTORS.all_messages() {
        if descriptor.is_map_entry() {
            continue;
        }
        for _ in 0..20 {
            let bytes = random_message(&mut rng, &descriptor, 0).encode_to_vec();
            assert_eq!(
                walked(&descriptor, &bytes),
                reference(&descriptor, &bytes),
                "{}",
                descriptor.full_name()
            );
            compared += 1;
        }
    }
    assert!(compared > 1000, "only {compared} messages compared");
}

#[test]
fn analytics_messages_with_default_and_full_values() {
    for name in [
        "livekit.AnalyticsEvent",
        "livekit.AnalyticsStat",
        "livekit.AnalyticsNodeRooms",
    ] {
        let descriptor = DESCRIPTORS.get_message_by_name(name).unwrap();
        let empty = walked(&descriptor, &[]);
        assert_eq!(empty, reference(&descriptor, &[]), "{name}");
        let bytes =
            random_message(&mut fastrand::Rng::with_seed(1), &descriptor, 0).encode_to_vec();
        assert_eq!(
            walked(&descriptor, &bytes),
            reference(&descriptor, &bytes),
            "{name}"
        );
    }
    let event = livekit_protocol::AnalyticsEvent::default();
    let document = message_document(&event, "livekit.AnalyticsEvent", "x");
    assert_eq!(document["type"], "ROOM_CREATED", "zero enums are written");
    assert!(
        document.values().all(Value::is_string),
        "only enums (and _id) in an empty event: {document:?}"
    );
}

#[test]
fn malformed_wire_is_an_error_not_a_panic() {
    let descriptor = DESCRIPTORS
        .get_message_by_name("livekit.AnalyticsEvent")
        .unwrap();
    let mut out = Map::new();
    assert!(write_message(
        message_index(descriptor.full_name()),
        &[0x0a, 0x05, 1],
        &mut out
    )
    .is_err());
}
