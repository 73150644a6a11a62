//! The `openvidu` document format: the document the OpenVidu fork of livekit-server stores
//! for the same message, built by the fork's rules (measured against its own code: see
//! `host/tests/data/openvidu-format/README.md`).
//!
//! The fork marshals the protobuf Go struct with `encoding/json` into a generic map, then
//! names a few enums. So, walking the wire form with the schema:
//! - keys are proto field names; zero scalars, zero enums, empty lists and maps are left
//!   out (`omitempty`), except fields with explicit presence (proto3 `optional`) and oneof
//!   cases; a present message is written even when empty (`{}`); a `Timestamp` is an
//!   ordinary message (`{seconds, nanos}`, each left out at zero);
//! - every number is a double (int64 and uint64 round as f64 does; a `float` is the f64 of
//!   its shortest decimal form);
//! - a oneof is stored under its Go field name, holding `{<Go case name>: value}`, and as
//!   `null` when unset;
//! - enums are numbers, except the ones `names::NAMED_ENUMS` lists, which get their names (an
//!   unknown number gets its decimal string), at zero too whenever their parent is present.

mod names;

use super::document::DESCRIPTORS;
use super::walk::{map_slot, push_repeated, ValueKind};
use super::wire::{WireError, WireReader, WireValue};
use base64::Engine as _;
pub use names::go_camel_case;
use names::{name_enum, named_enums};
use prost_reflect::{Kind, MessageDescriptor};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use std::sync::LazyLock;

/// The fork's document of `message` (protobuf full name `full_name`), `_id` first.
pub fn message_document<M: prost::Message>(
    message: &M,
    full_name: &str,
    id: &str,
) -> Map<String, Value> {
    let index = *PLAN_INDEX
        .get(full_name)
        .unwrap_or_else(|| panic!("`{full_name}` is not in the LiveKit protocol"));
    let mut document = Map::new();
    document.insert("_id".into(), Value::String(id.into()));
    write_message(index, &message.encode_to_vec(), &mut document)
        .expect("a message the host encoded is well-formed");
    for named in named_enums(full_name) {
        name_enum(&mut document, named.path, named);
    }
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
static PLAN_INDEX: LazyLock<HashMap<String, usize>> = LazyLock::new(|| {
    DESCRIPTORS
        .all_messages()
        .enumerate()
        .map(|(i, m)| (m.full_name().to_string(), i))
        .collect()
});

/// One message type: its fields in declaration order and its (real) oneofs.
struct MessagePlan {
    fields: Vec<FieldPlan>,
    /// Position in `fields` by field number.
    by_number: Vec<Option<usize>>,
    /// The Go field name of each oneof that is not a proto3 `optional`.
    oneofs: Vec<String>,
}

struct FieldPlan {
    /// The key: the proto field name, or for a oneof case its Go name.
    key: String,
    kind: FieldKind,
    shape: Shape,
    /// Written even at its zero value: a oneof case, or a proto3 `optional` field.
    keep_zero: bool,
    /// Index in [`MessagePlan::oneofs`] of its oneof.
    oneof: Option<usize>,
}

#[derive(Clone, Copy)]
enum Shape {
    Single,
    List,
    /// A map; the field's kind is the entry message (fields 1 and 2: key and value).
    Map,
}

#[derive(Clone, Copy)]
enum FieldKind {
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
    Enum,
    /// Index of the message's plan.
    Message(usize),
}

impl MessagePlan {
    fn of(message: &MessageDescriptor) -> MessagePlan {
        let oneofs: Vec<_> = message.oneofs().filter(|o| !o.is_synthetic()).collect();
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
                let oneof = field
                    .containing_oneof()
                    .and_then(|o| oneofs.iter().position(|real| real.name() == o.name()));
                let shape = if field.is_map() {
                    Shape::Map
                } else if field.is_list() {
                    Shape::List
                } else {
                    Shape::Single
                };
                FieldPlan {
                    key: match oneof {
                        Some(_) => go_camel_case(field.name()),
                        None => field.name().to_string(),
                    },
                    kind: FieldKind::of(&field.kind()),
                    shape,
                    keep_zero: oneof.is_some() || field.containing_oneof().is_some(),
                    oneof,
                }
            })
            .collect();
        MessagePlan {
            fields,
            by_number,
            oneofs: oneofs.iter().map(|o| go_camel_case(o.name())).collect(),
        }
    }
}

impl FieldKind {
    fn of(kind: &Kind) -> FieldKind {
        match kind {
            Kind::Double => FieldKind::Double,
            Kind::Float => FieldKind::Float,
            Kind::Int32 => FieldKind::Int32,
            Kind::Int64 => FieldKind::Int64,
            Kind::Uint32 => FieldKind::Uint32,
            Kind::Uint64 => FieldKind::Uint64,
            Kind::Sint32 => FieldKind::Sint32,
            Kind::Sint64 => FieldKind::Sint64,
            Kind::Fixed32 => FieldKind::Fixed32,
            Kind::Fixed64 => FieldKind::Fixed64,
            Kind::Sfixed32 => FieldKind::Sfixed32,
            Kind::Sfixed64 => FieldKind::Sfixed64,
            Kind::Bool => FieldKind::Bool,
            Kind::String => FieldKind::String,
            Kind::Bytes => FieldKind::Bytes,
            Kind::Enum(_) => FieldKind::Enum,
            Kind::Message(m) => FieldKind::Message(
                *PLAN_INDEX
                    .get(m.full_name())
                    .expect("a field's message is in the pool"),
            ),
        }
    }
}

impl FieldKind {
    /// A map key as Go writes it: strings as they are, integers in exact decimal.
    fn key_text(self, raw: WireValue<'_>) -> String {
        let bits = match raw {
            WireValue::Bytes(bytes) => return String::from_utf8_lossy(bytes).into(),
            WireValue::Varint(n) | WireValue::Fixed64(n) => n,
            WireValue::Fixed32(n) => u64::from(n),
        };
        match self {
            FieldKind::Int32 | FieldKind::Sfixed32 | FieldKind::Enum => (bits as i32).to_string(),
            FieldKind::Int64 | FieldKind::Sfixed64 => (bits as i64).to_string(),
            FieldKind::Uint32 | FieldKind::Fixed32 => (bits as u32).to_string(),
            FieldKind::Sint32 => (((bits >> 1) as i32) ^ -((bits & 1) as i32)).to_string(),
            FieldKind::Sint64 => (((bits >> 1) as i64) ^ -((bits & 1) as i64)).to_string(),
            FieldKind::Bool => (bits != 0).to_string(),
            _ => bits.to_string(),
        }
    }
}

impl ValueKind for FieldKind {
    fn packable(&self) -> bool {
        !matches!(
            self,
            FieldKind::String | FieldKind::Bytes | FieldKind::Message(_)
        )
    }

    fn fixed_width(&self) -> usize {
        match self {
            FieldKind::Fixed32 | FieldKind::Sfixed32 | FieldKind::Float => 4,
            FieldKind::Fixed64 | FieldKind::Sfixed64 | FieldKind::Double => 8,
            _ => 0,
        }
    }

    /// The value of one occurrence.
    fn convert(&self, value: WireValue<'_>) -> Result<Value, WireError> {
        let bits = match value {
            WireValue::Varint(n) | WireValue::Fixed64(n) => n,
            WireValue::Fixed32(n) => u64::from(n),
            WireValue::Bytes(bytes) => {
                return Ok(match self {
                    FieldKind::String => Value::String(String::from_utf8_lossy(bytes).into()),
                    FieldKind::Message(index) => {
                        let mut sub = Map::new();
                        write_message(*index, bytes, &mut sub)?;
                        Value::Object(sub)
                    }
                    _ => Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
                })
            }
        };
        Ok(self.number(bits))
    }

    /// The value of a numeric occurrence from its raw bits: a double (or a bool).
    fn number(&self, bits: u64) -> Value {
        let n = match self {
            FieldKind::Double => f64::from_bits(bits),
            FieldKind::Float => {
                let n = f32::from_bits(bits as u32);
                n.to_string().parse().unwrap_or(f64::from(n))
            }
            FieldKind::Int32 | FieldKind::Sfixed32 | FieldKind::Enum => f64::from(bits as i32),
            FieldKind::Int64 | FieldKind::Sfixed64 => bits as i64 as f64,
            FieldKind::Uint32 | FieldKind::Fixed32 => f64::from(bits as u32),
            FieldKind::Uint64 | FieldKind::Fixed64 => bits as f64,
            FieldKind::Sint32 => f64::from(((bits >> 1) as i32) ^ -((bits & 1) as i32)),
            FieldKind::Sint64 => (((bits >> 1) as i64) ^ -((bits & 1) as i64)) as f64,
            FieldKind::Bool => return Value::Bool(bits != 0),
            // Strings, bytes and messages are length-delimited, never numbers.
            FieldKind::String | FieldKind::Bytes | FieldKind::Message(_) => return Value::Null,
        };
        // JSON has no NaN or infinity (the fork cannot store them either: it panics).
        Number::from_f64(n)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(n.to_string()))
    }
}

/// Whether `value` is what Go's `omitempty` leaves out.
fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(_) => false,
    }
}

/// Writes the encoded message of plan `index` into `out` by the fork's rules.
fn write_message(
    index: usize,
    bytes: &[u8],
    out: &mut Map<String, Value>,
) -> Result<(), WireError> {
    let plan = &PLANS[index];
    let mut slots: Vec<Option<Value>> = vec![None; plan.fields.len()];
    let mut reader = WireReader::new(bytes);
    while let Some((number, value)) = reader.field()? {
        let Some(i) = plan.by_number.get(number as usize).copied().flatten() else {
            continue; // unknown to this schema
        };
        let field = &plan.fields[i];
        if let Some(oneof) = field.oneof {
            // A later case of the same oneof replaces an earlier one.
            for (j, other) in plan.fields.iter().enumerate() {
                if j != i && other.oneof == Some(oneof) {
                    slots[j] = None;
                }
            }
        }
        match field.shape {
            Shape::Single => slots[i] = Some(field.kind.convert(value)?),
            Shape::List => push_repeated(&mut slots[i], &field.kind, value)?,
            Shape::Map => {
                let map = map_slot(&mut slots[i]);
                if let (FieldKind::Message(entry), WireValue::Bytes(entry_bytes)) =
                    (field.kind, value)
                {
                    let (key, value) = map_entry(entry, entry_bytes)?;
                    map.insert(key, value);
                }
            }
        }
    }
    let mut oneofs: Vec<Option<Value>> = vec![None; plan.oneofs.len()];
    for (field, slot) in plan.fields.iter().zip(slots) {
        let Some(value) = slot else { continue };
        if let Some(oneof) = field.oneof {
            let mut case = Map::new();
            case.insert(field.key.clone(), value);
            oneofs[oneof] = Some(Value::Object(case));
        } else if field.keep_zero || !is_zero(&value) {
            out.insert(field.key.clone(), value);
        }
    }
    for (name, value) in plan.oneofs.iter().zip(oneofs) {
        out.insert(name.clone(), value.unwrap_or(Value::Null));
    }
    Ok(())
}

/// The key (as Go's `encoding/json` writes map keys) and value of an encoded map entry;
/// absent parts are their zero, which a map keeps.
fn map_entry(entry: usize, bytes: &[u8]) -> Result<(String, Value), WireError> {
    let plan = &PLANS[entry];
    let (key_kind, value_kind) = (plan.fields[0].kind, plan.fields[1].kind);
    let (mut key, mut value) = (None, None);
    let mut reader = WireReader::new(bytes);
    while let Some((number, raw)) = reader.field()? {
        match number {
            1 => key = Some(key_kind.key_text(raw)),
            2 => value = Some(value_kind.convert(raw)?),
            _ => {}
        }
    }
    let key = key.unwrap_or_else(|| match key_kind {
        FieldKind::String => String::new(),
        FieldKind::Bool => "false".into(),
        _ => "0".into(),
    });
    let value = match (value, value_kind) {
        (Some(v), _) => v,
        (None, FieldKind::Message(_)) => Value::Object(Map::new()),
        (None, FieldKind::String | FieldKind::Bytes) => Value::String(String::new()),
        (None, kind) => kind.number(0),
    };
    Ok((key, value))
}
