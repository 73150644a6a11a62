//! What the two document walkers ([`super::document`] for `typed`, [`super::openvidu`])
//! share: the kinds of field values on the wire, decoding a value's raw bits, repeated
//! fields (packed or not), map entries. Each format says, through [`Format`], how a number
//! and a nested message become JSON.

use super::wire::{WireError, WireReader, WireValue};
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use super::document::DESCRIPTORS;

/// The kind of a field's values, resolved once from the schema.
#[derive(Clone)]
pub(super) enum WireKind {
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
    Enum(Arc<HashMap<i32, String>>),
    /// Index of the message in the descriptor pool's order (both walkers' plan index).
    Message(usize),
}

/// Position of every LiveKit message in [`DESCRIPTORS`]' order, by full name: the index
/// of its plan in both walkers.
static MESSAGE_INDEX: LazyLock<HashMap<String, usize>> = LazyLock::new(|| {
    DESCRIPTORS
        .all_messages()
        .enumerate()
        .map(|(i, m)| (m.full_name().to_string(), i))
        .collect()
});

/// The plan index of a LiveKit message by full name; panics on a name the protocol lacks,
/// which is a programming error.
pub(super) fn message_index(full_name: &str) -> usize {
    // The two the doors ask for per record, without hashing the name.
    static STAT: LazyLock<usize> = LazyLock::new(|| MESSAGE_INDEX["livekit.AnalyticsStat"]);
    static EVENT: LazyLock<usize> = LazyLock::new(|| MESSAGE_INDEX["livekit.AnalyticsEvent"]);
    match full_name {
        "livekit.AnalyticsStat" => return *STAT,
        "livekit.AnalyticsEvent" => return *EVENT,
        _ => {}
    }
    *MESSAGE_INDEX
        .get(full_name)
        .unwrap_or_else(|| panic!("`{full_name}` is not in the LiveKit protocol"))
}

/// How a field occurs: once, repeated, or as a map.
#[derive(Clone, Copy)]
pub(super) enum Shape {
    Single,
    List,
    /// A map; the field's kind is the entry message (fields 1 and 2: key and value).
    Map,
}

impl Shape {
    /// The shape of `field`.
    pub(super) fn of(field: &FieldDescriptor) -> Shape {
        if field.is_map() {
            Shape::Map
        } else if field.is_list() {
            Shape::List
        } else {
            Shape::Single
        }
    }
}

/// Position of each field of `message` in declaration order, by field number.
pub(super) fn positions_by_number(message: &MessageDescriptor) -> Vec<Option<usize>> {
    let mut by_number = Vec::new();
    for (i, field) in message.fields().enumerate() {
        let number = field.number() as usize;
        if by_number.len() <= number {
            by_number.resize(number + 1, None);
        }
        by_number[number] = Some(i);
    }
    by_number
}

/// A numeric value decoded from its raw bits, exactly.
pub(super) enum Scalar<'a> {
    Signed(i64),
    Unsigned(u64),
    Double(f64),
    Float(f32),
    Bool(bool),
    /// An enum's number (and its names).
    Enum(i32, &'a HashMap<i32, String>),
}

impl WireKind {
    /// The kind of `kind`; `message_index` gives a message's position in the pool.
    pub(super) fn of(kind: &Kind, message_index: impl Fn(&str) -> usize) -> WireKind {
        match kind {
            Kind::Double => WireKind::Double,
            Kind::Float => WireKind::Float,
            Kind::Int32 => WireKind::Int32,
            Kind::Int64 => WireKind::Int64,
            Kind::Uint32 => WireKind::Uint32,
            Kind::Uint64 => WireKind::Uint64,
            Kind::Sint32 => WireKind::Sint32,
            Kind::Sint64 => WireKind::Sint64,
            Kind::Fixed32 => WireKind::Fixed32,
            Kind::Fixed64 => WireKind::Fixed64,
            Kind::Sfixed32 => WireKind::Sfixed32,
            Kind::Sfixed64 => WireKind::Sfixed64,
            Kind::Bool => WireKind::Bool,
            Kind::String => WireKind::String,
            Kind::Bytes => WireKind::Bytes,
            Kind::Enum(e) => WireKind::Enum(Arc::new(
                e.values()
                    .map(|v| (v.number(), v.name().to_string()))
                    .collect(),
            )),
            Kind::Message(m) => WireKind::Message(message_index(m.full_name())),
        }
    }

    /// Whether a length-delimited occurrence of a list of this kind is a packed run.
    pub(super) fn packable(&self) -> bool {
        !matches!(
            self,
            WireKind::String | WireKind::Bytes | WireKind::Message(_)
        )
    }

    /// Whether `value` has the wire type a value of this kind is written with (a packed
    /// run, which a list may hold, is told apart by the caller): what prost accepts.
    pub(super) fn accepts(&self, value: &WireValue<'_>) -> bool {
        match value {
            WireValue::Bytes(_) => !self.packable(),
            WireValue::Fixed32(_) => self.fixed_width() == 4,
            WireValue::Fixed64(_) => self.fixed_width() == 8,
            WireValue::Varint(_) => self.packable() && self.fixed_width() == 0,
        }
    }

    /// Bytes per packed value: 4 or 8 for fixed-width kinds, 0 for varints.
    pub(super) fn fixed_width(&self) -> usize {
        match self {
            WireKind::Fixed32 | WireKind::Sfixed32 | WireKind::Float => 4,
            WireKind::Fixed64 | WireKind::Sfixed64 | WireKind::Double => 8,
            _ => 0,
        }
    }

    /// The value of a numeric occurrence from its raw bits; `None` for strings, bytes and
    /// messages (length-delimited, never numbers).
    pub(super) fn scalar(&self, bits: u64) -> Option<Scalar<'_>> {
        Some(match self {
            WireKind::Double => Scalar::Double(f64::from_bits(bits)),
            WireKind::Float => Scalar::Float(f32::from_bits(bits as u32)),
            WireKind::Int32 | WireKind::Sfixed32 => Scalar::Signed(i64::from(bits as i32)),
            WireKind::Int64 | WireKind::Sfixed64 => Scalar::Signed(bits as i64),
            WireKind::Uint32 | WireKind::Fixed32 => Scalar::Unsigned(u64::from(bits as u32)),
            WireKind::Uint64 | WireKind::Fixed64 => Scalar::Unsigned(bits),
            WireKind::Sint32 => {
                Scalar::Signed(i64::from(((bits >> 1) as i32) ^ -((bits & 1) as i32)))
            }
            WireKind::Sint64 => Scalar::Signed(((bits >> 1) as i64) ^ -((bits & 1) as i64)),
            WireKind::Bool => Scalar::Bool(bits != 0),
            WireKind::Enum(names) => Scalar::Enum(bits as i32, names),
            WireKind::String | WireKind::Bytes | WireKind::Message(_) => return None,
        })
    }

    /// A map key as text: strings as they are, integers in exact decimal.
    fn key_text(&self, raw: WireValue<'_>) -> String {
        let bits = match raw {
            WireValue::Bytes(bytes) => return String::from_utf8_lossy(bytes).into(),
            WireValue::Varint(n) | WireValue::Fixed64(n) => n,
            WireValue::Fixed32(n) => u64::from(n),
        };
        match self.scalar(bits) {
            Some(Scalar::Signed(n)) => n.to_string(),
            Some(Scalar::Unsigned(n)) => n.to_string(),
            Some(Scalar::Bool(b)) => b.to_string(),
            Some(Scalar::Enum(n, _)) => n.to_string(),
            _ => bits.to_string(),
        }
    }
}

/// An f32 as the f64 of its shortest decimal form (4.3f32 → 4.3, not 4.300000190734863):
/// what printing it and reading the text back as a double gives, as Go's `encoding/json`
/// and Rust's `Display` both print it.
pub(super) fn shortest_f64(n: f32) -> f64 {
    if !n.is_finite() {
        return f64::from(n);
    }
    ryu::Buffer::new()
        .format_finite(n)
        .parse()
        .unwrap_or(f64::from(n))
}

/// A document format's rules for values.
pub(super) trait Format {
    /// The JSON of a number.
    fn number(&self, scalar: Scalar<'_>) -> Value;
    /// The JSON of an encoded message of plan `index`.
    fn message(&self, index: usize, bytes: &[u8]) -> Result<Value, WireError>;

    /// The JSON of one occurrence of a value of `kind`.
    fn convert(&self, kind: &WireKind, value: WireValue<'_>) -> Result<Value, WireError> {
        let bits = match value {
            WireValue::Varint(n) | WireValue::Fixed64(n) => n,
            WireValue::Fixed32(n) => u64::from(n),
            WireValue::Bytes(bytes) => {
                use base64::Engine as _;
                return Ok(match kind {
                    WireKind::String => Value::String(String::from_utf8_lossy(bytes).into()),
                    WireKind::Message(index) => self.message(*index, bytes)?,
                    _ => Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
                });
            }
        };
        Ok(kind.scalar(bits).map_or(Value::Null, |s| self.number(s)))
    }

    /// The JSON of a value of `kind` absent from a map entry (its zero, which a map keeps;
    /// a message is `{}`).
    fn absent(&self, kind: &WireKind) -> Result<Value, WireError> {
        Ok(match kind {
            WireKind::Message(_) => Value::Object(Map::new()),
            WireKind::String | WireKind::Bytes => Value::String(String::new()),
            other => other.scalar(0).map_or(Value::Null, |s| self.number(s)),
        })
    }
}

/// Appends one occurrence of a repeated field of `kind` to its `slot` (a packed run holds
/// several).
pub(super) fn push_repeated(
    slot: &mut Option<Value>,
    format: &impl Format,
    kind: &WireKind,
    value: WireValue<'_>,
) -> Result<(), WireError> {
    let Value::Array(list) = slot.get_or_insert_with(|| Value::Array(Vec::new())) else {
        unreachable!("list slots hold arrays")
    };
    match value {
        WireValue::Bytes(packed) if kind.packable() => {
            let width = kind.fixed_width();
            let mut run = WireReader::new(packed);
            while !run.is_empty() {
                let bits = if width == 0 {
                    run.varint()?
                } else {
                    run.fixed(width)?
                };
                list.push(kind.scalar(bits).map_or(Value::Null, |s| format.number(s)));
            }
        }
        other => list.push(format.convert(kind, other)?),
    }
    Ok(())
}

/// Adds an encoded map entry (`key_kind` and `value_kind` are the entry's fields 1 and 2)
/// to the object in the map field's `slot`: the key as text, an absent part as its zero.
pub(super) fn push_map_entry(
    slot: &mut Option<Value>,
    format: &impl Format,
    (key_kind, value_kind): (&WireKind, &WireKind),
    bytes: &[u8],
) -> Result<(), WireError> {
    let Value::Object(map) = slot.get_or_insert_with(|| Value::Object(Map::new())) else {
        unreachable!("map slots hold objects")
    };
    let (mut key, mut value) = (None, None);
    let mut reader = WireReader::new(bytes);
    while let Some((number, raw)) = reader.field()? {
        match number {
            1 => key = Some(key_kind.key_text(raw)),
            2 => value = Some(format.convert(value_kind, raw)?),
            _ => {}
        }
    }
    let key = key.unwrap_or_else(|| match key_kind {
        WireKind::String => String::new(),
        WireKind::Bool => "false".into(),
        _ => "0".into(),
    });
    let value = match value {
        Some(value) => value,
        None => format.absent(value_kind)?,
    };
    map.insert(key, value);
    Ok(())
}
