//! Turns any LiveKit protobuf message into the document of the storage contract by walking
//! it with its schema: proto field names, enum values by name, `google.protobuf.Timestamp`
//! as `{seconds, nanos}`, 64-bit integers as numbers, zero scalars left out.
//!
//! Enum fields are always written, zero included (`"type": "ROOM_CREATED"`, `"kind":
//! "UPSTREAM"`), so every document can be queried by its type; every other scalar field at
//! its zero value is left out, as are unset messages and empty lists and maps.

use super::walk::{
    message_index, positions_by_number, push_map_entry, push_repeated, shortest_f64, Format,
    Scalar, Shape, WireKind,
};
use super::wire::{WireError, WireReader, WireValue};
use prost_reflect::{DescriptorPool, MessageDescriptor};
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
///
/// The message is encoded once and its wire form walked with a plan resolved from the schema
/// ahead of time (`PLANS`), which is several times faster than decoding it into a
/// `prost_reflect::DynamicMessage` first; the result is the same (a test compares both).
pub fn message_document<M: prost::Message>(
    message: &M,
    full_name: &str,
    id: &str,
) -> Map<String, Value> {
    let index = message_index(full_name);
    let mut document = Map::new();
    document.insert("_id".into(), Value::String(id.into()));
    // Our own encoding always follows the wire format.
    write_message(index, &message.encode_to_vec(), &mut document)
        .expect("a message the host encoded is well-formed");
    document
}

/// How every message of [`DESCRIPTORS`] is written, in the pool's order.
pub(super) static PLANS: LazyLock<Vec<MessagePlan>> = LazyLock::new(|| {
    DESCRIPTORS
        .all_messages()
        .map(|m| MessagePlan::of(&m))
        .collect()
});

/// One message type, resolved once: its fields in declaration order.
pub(super) struct MessagePlan {
    pub(super) fields: Vec<FieldPlan>,
    /// Position in `fields` by field number.
    pub(super) by_number: Vec<Option<usize>>,
    /// `google.protobuf.Timestamp`: written as `{seconds, nanos}`, both always.
    pub(super) timestamp: bool,
}

pub(super) struct FieldPlan {
    pub(super) name: String,
    pub(super) kind: WireKind,
    pub(super) shape: Shape,
    /// A proto3 enum without presence: written at its zero value when absent.
    pub(super) always: bool,
    /// The field tells "set to its default" from "absent" (a message, a oneof case, a
    /// proto3 `optional`): a canonical encoder writes it at its default too.
    pub(super) presence: bool,
    /// Position of its oneof among the message's (real, not `optional`) oneofs.
    pub(super) oneof: Option<usize>,
}

impl MessagePlan {
    fn of(message: &MessageDescriptor) -> MessagePlan {
        let by_number = positions_by_number(message);
        let oneofs: Vec<_> = message.oneofs().filter(|o| !o.is_synthetic()).collect();
        let fields = message
            .fields()
            .map(|field| {
                let kind = WireKind::of(&field.kind(), message_index);
                let shape = Shape::of(&field);
                FieldPlan {
                    name: field.name().to_string(),
                    presence: field.supports_presence(),
                    oneof: field
                        .containing_oneof()
                        .and_then(|o| oneofs.iter().position(|real| real.name() == o.name())),
                    always: matches!(shape, Shape::Single)
                        && matches!(kind, WireKind::Enum(_))
                        && !field.supports_presence(),
                    kind,
                    shape,
                }
            })
            .collect();
        MessagePlan {
            fields,
            by_number,
            timestamp: message.full_name() == "google.protobuf.Timestamp",
        }
    }

    fn field(&self, number: u32) -> Option<(usize, &FieldPlan)> {
        let i = (*self.by_number.get(number as usize)?)?;
        Some((i, &self.fields[i]))
    }
}

/// The `typed` format's values: exact integers, enums by name, timestamps always
/// `{seconds, nanos}`.
struct Typed;

impl Format for Typed {
    fn number(&self, scalar: Scalar<'_>) -> Value {
        match scalar {
            Scalar::Double(n) => float(n),
            Scalar::Float(n) => float(shortest_f64(n)),
            Scalar::Signed(n) => Value::from(n),
            Scalar::Unsigned(n) => Value::from(n),
            Scalar::Bool(b) => Value::Bool(b),
            Scalar::Enum(n, names) => enum_value(names, n),
        }
    }

    fn message(&self, index: usize, bytes: &[u8]) -> Result<Value, WireError> {
        if PLANS[index].timestamp {
            return timestamp(bytes);
        }
        let mut sub = Map::new();
        write_message(index, bytes, &mut sub)?;
        Ok(Value::Object(sub))
    }

    fn absent(&self, kind: &WireKind) -> Result<Value, WireError> {
        match kind {
            WireKind::Message(index) if PLANS[*index].timestamp => timestamp(&[]),
            WireKind::Message(_) => Ok(Value::Object(Map::new())),
            WireKind::String | WireKind::Bytes => Ok(Value::String(String::new())),
            other => Ok(other.scalar(0).map_or(Value::Null, |s| self.number(s))),
        }
    }
}

fn enum_value(names: &std::collections::HashMap<i32, String>, number: i32) -> Value {
    match names.get(&number) {
        Some(name) => Value::String(name.clone()),
        None => Value::from(number),
    }
}

/// Writes the fields of the encoded message of plan `index` into `out`, in declaration
/// order: fields on the wire, plus enums without presence at their zero value.
fn write_message(
    index: usize,
    bytes: &[u8],
    out: &mut Map<String, Value>,
) -> Result<(), WireError> {
    let plan = &PLANS[index];
    let mut slots: Vec<Option<Value>> = vec![None; plan.fields.len()];
    let mut reader = WireReader::new(bytes);
    while let Some((number, value)) = reader.field()? {
        let Some((i, field)) = plan.field(number) else {
            continue; // unknown to this schema
        };
        match field.shape {
            Shape::Single => slots[i] = Some(Typed.convert(&field.kind, value)?),
            Shape::List => push_repeated(&mut slots[i], &Typed, &field.kind, value)?,
            Shape::Map => {
                if let (WireKind::Message(entry), WireValue::Bytes(bytes)) = (&field.kind, value) {
                    let entry = &PLANS[*entry].fields;
                    let kinds = (&entry[0].kind, &entry[1].kind);
                    push_map_entry(&mut slots[i], &Typed, kinds, bytes)?;
                }
            }
        }
    }
    for (field, slot) in plan.fields.iter().zip(slots) {
        match (slot, &field.kind) {
            (Some(value), _) => {
                out.insert(field.name.clone(), value);
            }
            (None, WireKind::Enum(names)) if field.always => {
                out.insert(field.name.clone(), enum_value(names, 0));
            }
            (None, _) => {}
        }
    }
    Ok(())
}

/// A timestamp keeps both fields, so `timestamp.seconds` is always there to index.
fn timestamp(bytes: &[u8]) -> Result<Value, WireError> {
    let (mut seconds, mut nanos) = (0i64, 0i32);
    let mut reader = WireReader::new(bytes);
    while let Some((number, value)) = reader.field()? {
        match (number, value) {
            (1, WireValue::Varint(n)) => seconds = n as i64,
            (2, WireValue::Varint(n)) => nanos = n as i32,
            _ => {}
        }
    }
    let mut sub = Map::new();
    sub.insert("seconds".into(), Value::from(seconds));
    sub.insert("nanos".into(), Value::from(nanos));
    Ok(Value::Object(sub))
}

/// JSON has no NaN or infinity: those are written as strings.
fn float(n: f64) -> Value {
    Number::from_f64(n)
        .map(Value::Number)
        .unwrap_or_else(|| Value::String(n.to_string()))
}

#[cfg(test)]
#[path = "document_tests.rs"]
mod tests;
