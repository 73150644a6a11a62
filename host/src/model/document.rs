//! Turns any LiveKit protobuf message into the document of the storage contract by walking
//! it with its schema: proto field names, enum values by name, `google.protobuf.Timestamp`
//! as `{seconds, nanos}`, 64-bit integers as numbers, zero scalars left out.
//!
//! Enum fields are always written, zero included (`"type": "ROOM_CREATED"`, `"kind":
//! "UPSTREAM"`), so every document can be queried by its type; every other scalar field at
//! its zero value is left out, as are unset messages and empty lists and maps.

use base64::Engine as _;
use prost_reflect::{
    DescriptorPool, DynamicMessage, Kind, MapKey, MessageDescriptor, ReflectMessage, Value as Field,
};
use serde_json::{Map, Number, Value};
use std::sync::LazyLock;

/// The schema of every LiveKit message, compiled from the protocol crate's `.proto` files.
pub static DESCRIPTORS: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(
        &include_bytes!(concat!(env!("OUT_DIR"), "/livekit_descriptors.bin"))[..],
    )
    .expect("the descriptors built by build.rs decode")
});

/// The contract document of `message` (whose protobuf full name is `full_name`), with `_id`
/// first.
pub fn message_document<M: prost::Message>(
    message: &M,
    full_name: &str,
    id: &str,
) -> Map<String, Value> {
    let descriptor = message_descriptor(full_name);
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .expect("a message re-decodes with its own schema");
    let mut document = Map::new();
    document.insert("_id".into(), Value::String(id.into()));
    write_message(&dynamic, &mut document);
    document
}

/// The descriptor of a LiveKit message by full name; panics on a name the protocol lacks,
/// which is a programming error.
pub fn message_descriptor(full_name: &str) -> MessageDescriptor {
    DESCRIPTORS
        .get_message_by_name(full_name)
        .unwrap_or_else(|| panic!("`{full_name}` is not in the LiveKit protocol"))
}

fn write_message(message: &DynamicMessage, out: &mut Map<String, Value>) {
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
        out.insert(field.name().to_string(), convert(&value, &field.kind()));
    }
}

fn convert(value: &Field, kind: &Kind) -> Value {
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
                return timestamp(m);
            }
            let mut sub = Map::new();
            write_message(m, &mut sub);
            Value::Object(sub)
        }
        Field::List(items) => Value::Array(items.iter().map(|v| convert(v, kind)).collect()),
        Field::Map(entries) => {
            let value_kind = match kind {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                other => other.clone(),
            };
            let mut sub = Map::new();
            for (key, v) in entries {
                sub.insert(map_key(key), convert(v, &value_kind));
            }
            Value::Object(sub)
        }
    }
}

/// A timestamp keeps both fields, so `timestamp.seconds` is always there to index.
fn timestamp(m: &DynamicMessage) -> Value {
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

/// JSON has no NaN or infinity: those are written as strings.
fn float(n: f64) -> Value {
    Number::from_f64(n)
        .map(Value::Number)
        .unwrap_or_else(|| Value::String(n.to_string()))
}
