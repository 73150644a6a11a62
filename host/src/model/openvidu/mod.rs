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

pub(super) mod names;

use super::document::DESCRIPTORS;
use super::walk::{
    message_index, positions_by_number, push_map_entry, push_repeated, shortest_f64, Format,
    Scalar, Shape, WireKind,
};
use super::wire::{WireError, WireReader, WireValue};
pub use names::go_camel_case;
use names::{name_enum, named_enums};
use prost_reflect::MessageDescriptor;
use serde_json::{Map, Number, Value};
use std::sync::LazyLock;

/// The fork's document of `message` (protobuf full name `full_name`), `_id` first.
pub fn message_document<M: prost::Message>(
    message: &M,
    full_name: &str,
    id: &str,
) -> Map<String, Value> {
    let index = message_index(full_name);
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
pub(in crate::model) static PLANS: LazyLock<Vec<MessagePlan>> = LazyLock::new(|| {
    DESCRIPTORS
        .all_messages()
        .map(|m| MessagePlan::of(&m))
        .collect()
});

/// One message type: its fields in declaration order and its (real) oneofs.
pub(in crate::model) struct MessagePlan {
    pub(in crate::model) fields: Vec<FieldPlan>,
    /// Position in `fields` by field number.
    pub(in crate::model) by_number: Vec<Option<usize>>,
    /// The Go field name of each oneof that is not a proto3 `optional`.
    pub(in crate::model) oneofs: Vec<String>,
}

pub(in crate::model) struct FieldPlan {
    /// The key: the proto field name, or for a oneof case its Go name.
    pub(in crate::model) key: String,
    pub(in crate::model) kind: WireKind,
    pub(in crate::model) shape: Shape,
    /// Written even at its zero value: a oneof case, or a proto3 `optional` field.
    pub(in crate::model) keep_zero: bool,
    /// Index in [`MessagePlan::oneofs`] of its oneof.
    pub(in crate::model) oneof: Option<usize>,
}

impl MessagePlan {
    fn of(message: &MessageDescriptor) -> MessagePlan {
        let oneofs: Vec<_> = message.oneofs().filter(|o| !o.is_synthetic()).collect();
        let by_number = positions_by_number(message);
        let fields = message
            .fields()
            .map(|field| {
                let oneof = field
                    .containing_oneof()
                    .and_then(|o| oneofs.iter().position(|real| real.name() == o.name()));
                let shape = Shape::of(&field);
                FieldPlan {
                    key: match oneof {
                        Some(_) => go_camel_case(field.name()),
                        None => field.name().to_string(),
                    },
                    kind: WireKind::of(&field.kind(), message_index),
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

/// The fork's values: every number a double (a `float` as the f64 of its shortest
/// decimal form), enums as numbers (the named ones are renamed afterwards).
struct Fork;

impl Format for Fork {
    fn number(&self, scalar: Scalar<'_>) -> Value {
        let n = match scalar {
            Scalar::Double(n) => n,
            Scalar::Float(n) => shortest_f64(n),
            Scalar::Signed(n) => n as f64,
            Scalar::Unsigned(n) => n as f64,
            Scalar::Enum(n, _) => f64::from(n),
            Scalar::Bool(b) => return Value::Bool(b),
        };
        // JSON has no NaN or infinity (the fork cannot store them either: it panics).
        Number::from_f64(n)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(n.to_string()))
    }

    fn message(&self, index: usize, bytes: &[u8]) -> Result<Value, WireError> {
        let mut sub = Map::new();
        write_message(index, bytes, &mut sub)?;
        Ok(Value::Object(sub))
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
            Shape::Single => slots[i] = Some(Fork.convert(&field.kind, value)?),
            Shape::List => push_repeated(&mut slots[i], &Fork, &field.kind, value)?,
            Shape::Map => {
                if let (WireKind::Message(entry), WireValue::Bytes(bytes)) = (&field.kind, value) {
                    let entry = &PLANS[*entry].fields;
                    let kinds = (&entry[0].kind, &entry[1].kind);
                    push_map_entry(&mut slots[i], &Fork, kinds, bytes)?;
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
