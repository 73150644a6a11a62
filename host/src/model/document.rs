//! Turns any LiveKit protobuf message into the document of the storage contract by walking
//! it with its schema: proto field names, enum values by name, `google.protobuf.Timestamp`
//! as `{seconds, nanos}`, 64-bit integers as numbers, zero scalars left out.
//!
//! Enum fields are always written, zero included (`"type": "ROOM_CREATED"`, `"kind":
//! "UPSTREAM"`), so every document can be queried by its type; every other scalar field at
//! its zero value is left out, as are unset messages and empty lists and maps.

use super::walk::{map_slot, push_repeated, ValueKind};
use super::wire::{WireError, WireReader, WireValue};
use base64::Engine as _;
use prost_reflect::{DescriptorPool, Kind, MessageDescriptor};
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
/// ahead of time ([`PLANS`]), which is several times faster than decoding it into a
/// `prost_reflect::DynamicMessage` first; the result is the same (a test compares both).
pub fn message_document<M: prost::Message>(
    message: &M,
    full_name: &str,
    id: &str,
) -> Map<String, Value> {
    let index = plan_index(full_name);
    let mut document = Map::new();
    document.insert("_id".into(), Value::String(id.into()));
    // Our own encoding always follows the wire format.
    write_message(index, &message.encode_to_vec(), &mut document)
        .expect("a message the host encoded is well-formed");
    document
}

/// How every message of [`DESCRIPTORS`] is written, in the pool's order.
static PLANS: LazyLock<Vec<MessagePlan>> = LazyLock::new(|| {
    DESCRIPTORS
        .all_messages()
        .map(|m| MessagePlan::of(&m))
        .collect()
});

/// Position in [`PLANS`] by message full name.
static PLAN_INDEX: LazyLock<std::collections::HashMap<String, usize>> = LazyLock::new(|| {
    DESCRIPTORS
        .all_messages()
        .enumerate()
        .map(|(i, m)| (m.full_name().to_string(), i))
        .collect()
});

/// The plan of a LiveKit message by full name; panics on a name the protocol lacks, which
/// is a programming error.
fn plan_index(full_name: &str) -> usize {
    *PLAN_INDEX
        .get(full_name)
        .unwrap_or_else(|| panic!("`{full_name}` is not in the LiveKit protocol"))
}

/// One message type, resolved once: its fields in declaration order.
struct MessagePlan {
    fields: Vec<FieldPlan>,
    /// Position in `fields` by field number.
    by_number: Vec<Option<usize>>,
    /// `google.protobuf.Timestamp`: written as `{seconds, nanos}`, both always.
    timestamp: bool,
}

struct FieldPlan {
    name: String,
    kind: ScalarKind,
    shape: Shape,
    /// A proto3 enum without presence: written at its zero value when absent.
    always: bool,
}

#[derive(Clone, Copy)]
enum Shape {
    Single,
    List,
    /// A map; the field's kind is the entry message, whose fields 1 and 2 are key and value.
    Map,
}

#[derive(Clone)]
enum ScalarKind {
    Double,
    Float,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Fixed32,
    Fixed64,
    Sfixed32,
    Sfixed64,
    Bool,
    String,
    Bytes,
    /// Value names by number.
    Enum(std::sync::Arc<std::collections::HashMap<i32, String>>),
    /// Index of the message's plan.
    Message(usize),
}

impl MessagePlan {
    fn of(message: &MessageDescriptor) -> MessagePlan {
        let mut by_number = Vec::new();
        let fields = message
            .fields()
            .enumerate()
            .map(|(i, field)| {
                let number = field.number() as usize;
                if by_number.len() <= number {
                    by_number.resize(number + 1, None);
                }
                by_number[number] = Some(i);
                let kind = ScalarKind::of(&field.kind());
                let shape = if field.is_map() {
                    Shape::Map
                } else if field.is_list() {
                    Shape::List
                } else {
                    Shape::Single
                };
                FieldPlan {
                    name: field.name().to_string(),
                    always: matches!(shape, Shape::Single)
                        && matches!(kind, ScalarKind::Enum(_))
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

impl ScalarKind {
    fn of(kind: &Kind) -> ScalarKind {
        match kind {
            Kind::Double => ScalarKind::Double,
            Kind::Float => ScalarKind::Float,
            Kind::Int32 => ScalarKind::Int32,
            Kind::Int64 => ScalarKind::Int64,
            Kind::Uint32 => ScalarKind::Uint32,
            Kind::Uint64 => ScalarKind::Uint64,
            Kind::Sint32 => ScalarKind::Sint32,
            Kind::Sint64 => ScalarKind::Sint64,
            Kind::Fixed32 => ScalarKind::Fixed32,
            Kind::Fixed64 => ScalarKind::Fixed64,
            Kind::Sfixed32 => ScalarKind::Sfixed32,
            Kind::Sfixed64 => ScalarKind::Sfixed64,
            Kind::Bool => ScalarKind::Bool,
            Kind::String => ScalarKind::String,
            Kind::Bytes => ScalarKind::Bytes,
            Kind::Enum(e) => ScalarKind::Enum(std::sync::Arc::new(
                e.values()
                    .map(|v| (v.number(), v.name().to_string()))
                    .collect(),
            )),
            Kind::Message(m) => ScalarKind::Message(plan_index(m.full_name())),
        }
    }
}

impl ValueKind for ScalarKind {
    fn packable(&self) -> bool {
        !matches!(
            self,
            ScalarKind::String | ScalarKind::Bytes | ScalarKind::Message(_)
        )
    }

    fn fixed_width(&self) -> usize {
        match self {
            ScalarKind::Fixed32 | ScalarKind::Sfixed32 | ScalarKind::Float => 4,
            ScalarKind::Fixed64 | ScalarKind::Sfixed64 | ScalarKind::Double => 8,
            _ => 0,
        }
    }

    /// The JSON value of one occurrence.
    fn convert(&self, value: WireValue<'_>) -> Result<Value, WireError> {
        let bits = match value {
            WireValue::Varint(n) | WireValue::Fixed64(n) => n,
            WireValue::Fixed32(n) => u64::from(n),
            WireValue::Bytes(bytes) => {
                return Ok(match self {
                    ScalarKind::String => Value::String(String::from_utf8_lossy(bytes).into()),
                    ScalarKind::Message(index) => {
                        let plan = &PLANS[*index];
                        if plan.timestamp {
                            timestamp(bytes)?
                        } else {
                            let mut sub = Map::new();
                            write_message(*index, bytes, &mut sub)?;
                            Value::Object(sub)
                        }
                    }
                    _ => Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
                })
            }
        };
        Ok(self.number(bits))
    }

    /// The JSON value of a numeric occurrence from its raw bits.
    fn number(&self, bits: u64) -> Value {
        match self {
            ScalarKind::Double => float(f64::from_bits(bits)),
            ScalarKind::Float => {
                let n = f32::from_bits(bits as u32);
                float(n.to_string().parse().unwrap_or(f64::from(n)))
            }
            ScalarKind::Int32 | ScalarKind::Sfixed32 => Value::from(bits as i32),
            ScalarKind::Int64 | ScalarKind::Sfixed64 => Value::from(bits as i64),
            ScalarKind::Uint32 | ScalarKind::Fixed32 => Value::from(bits as u32),
            ScalarKind::Uint64 | ScalarKind::Fixed64 => Value::from(bits),
            ScalarKind::Sint32 => Value::from(((bits >> 1) as i32) ^ -((bits & 1) as i32)),
            ScalarKind::Sint64 => Value::from(((bits >> 1) as i64) ^ -((bits & 1) as i64)),
            ScalarKind::Bool => Value::Bool(bits != 0),
            ScalarKind::Enum(names) => enum_value(names, bits as i32),
            // Strings, bytes and messages are length-delimited, never numbers.
            ScalarKind::String | ScalarKind::Bytes | ScalarKind::Message(_) => Value::Null,
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
            Shape::Single => slots[i] = Some(field.kind.convert(value)?),
            Shape::List => push_repeated(&mut slots[i], &field.kind, value)?,
            Shape::Map => {
                let map = map_slot(&mut slots[i]);
                let (ScalarKind::Message(entry), WireValue::Bytes(entry_bytes)) =
                    (&field.kind, value)
                else {
                    continue;
                };
                let (key, value) = map_entry(*entry, entry_bytes)?;
                map.insert(key, value);
            }
        }
    }
    for (field, slot) in plan.fields.iter().zip(slots) {
        match (slot, &field.kind) {
            (Some(value), _) => {
                out.insert(field.name.clone(), value);
            }
            (None, ScalarKind::Enum(names)) if field.always => {
                out.insert(field.name.clone(), enum_value(names, 0));
            }
            (None, _) => {}
        }
    }
    Ok(())
}

/// The key (as a string) and value of an encoded map entry; absent parts are their zero.
fn map_entry(entry: usize, bytes: &[u8]) -> Result<(String, Value), WireError> {
    let plan = &PLANS[entry];
    let (key_kind, value_kind) = (&plan.fields[0].kind, &plan.fields[1].kind);
    let (mut key, mut value) = (None, None);
    let mut reader = WireReader::new(bytes);
    while let Some((number, raw)) = reader.field()? {
        match number {
            1 => key = Some(key_kind.convert(raw)?),
            2 => value = Some(value_kind.convert(raw)?),
            _ => {}
        }
    }
    let key = match key {
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
        None if matches!(key_kind, ScalarKind::String) => String::new(),
        None if matches!(key_kind, ScalarKind::Bool) => "false".into(),
        None => "0".into(),
    };
    let value = match (value, value_kind) {
        (Some(v), _) => v,
        (None, ScalarKind::Message(index)) if PLANS[*index].timestamp => timestamp(&[])?,
        (None, ScalarKind::Message(_)) => Value::Object(Map::new()),
        (None, ScalarKind::String) => Value::String(String::new()),
        (None, ScalarKind::Bytes) => Value::String(String::new()),
        (None, kind) => kind.number(0),
    };
    Ok((key, value))
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
