//! The `typed` format's text (the rules of `document.rs`, written without a map).

use super::super::document::PLANS;
use super::super::walk::{Scalar, Shape, WireKind};
use super::super::wire::{WireError, WireReader, WireValue};
use super::{
    advance, checked, collect, distinct_keys, is_default, map_entry, push_base64, push_enum_name,
    push_f32, push_f64, push_map_key, push_quoted_key, push_string, push_text, quoted_key,
    Elements, Stack,
};
use std::sync::LazyLock;

/// The [`quoted_key`] of every field of every plan.
static KEYS: LazyLock<Vec<Vec<Box<str>>>> = LazyLock::new(|| {
    PLANS
        .iter()
        .map(|plan| plan.fields.iter().map(|f| quoted_key(&f.name)).collect())
        .collect()
});

/// Appends to `out` the `typed` document text of the encoded message of plan `index`,
/// `_id` first.
pub(in crate::model) fn document(
    index: usize,
    bytes: &[u8],
    id: &str,
    out: &mut String,
) -> Result<(), WireError> {
    out.push_str("{\"_id\":");
    push_string(out, id);
    let mut stack = Vec::with_capacity(32);
    fields(index, bytes, out, &mut stack, true)?;
    out.push('}');
    Ok(())
}

/// Writes the members of the encoded message of plan `index` in declaration order: fields
/// on the wire, plus enums without presence at their zero value. Anything but a canonical
/// encoding is [`WireError::UNUSUAL`] (see the module `json`).
fn fields<'a>(
    index: usize,
    bytes: &'a [u8],
    out: &mut String,
    stack: &mut Stack<'a>,
    mut comma: bool,
) -> Result<(), WireError> {
    let plan = &PLANS[index];
    let keys = &KEYS[index];
    let start = collect(&plan.by_number, bytes, stack)?;
    let end = stack.len();
    let mut cursor = start;
    // The oneofs with a case on the wire (a later case would replace an earlier one).
    let mut oneofs = 0u64;
    for (i, field) in plan.fields.iter().enumerate() {
        let from = advance(stack, &mut cursor, end, i);
        if from == cursor {
            if let (true, WireKind::Enum(names)) = (field.always, &field.kind) {
                push_quoted_key(out, &keys[i], &mut comma);
                push_enum_name(out, names, 0);
            }
            continue;
        }
        match field.shape {
            Shape::Single => {
                let raw = stack[from].value;
                if cursor - from > 1 || (!field.presence && is_default(&field.kind, &raw)) {
                    return Err(WireError::UNUSUAL);
                }
                if let Some(o) = field.oneof {
                    let bit = 1u64 << (o % 64);
                    if oneofs & bit != 0 {
                        return Err(WireError::UNUSUAL);
                    }
                    oneofs |= bit;
                }
                push_quoted_key(out, &keys[i], &mut comma);
                value(&field.kind, raw, out, stack)?;
            }
            Shape::List => {
                push_quoted_key(out, &keys[i], &mut comma);
                out.push('[');
                let mut first = true;
                for k in from..cursor {
                    for element in Elements::of(&field.kind, stack[k].value)? {
                        if !first {
                            out.push(',');
                        }
                        first = false;
                        value(&field.kind, element?, out, stack)?;
                    }
                }
                out.push(']');
            }
            Shape::Map => {
                let WireKind::Message(entry) = field.kind else {
                    continue;
                };
                let entry = &PLANS[entry].fields;
                push_quoted_key(out, &keys[i], &mut comma);
                out.push('{');
                let mut written = Vec::with_capacity(cursor - from);
                for k in from..cursor {
                    let WireValue::Bytes(bytes) = stack[k].value else {
                        return Err(WireError::UNUSUAL);
                    };
                    if !written.is_empty() {
                        out.push(',');
                    }
                    let (key, raw) = map_entry(bytes)?;
                    written.push(push_map_key(out, &entry[0].kind, key)?);
                    out.push(':');
                    match raw {
                        Some(raw) => value(&entry[1].kind, raw, out, stack)?,
                        None => absent(&entry[1].kind, out),
                    }
                }
                distinct_keys(out, &written)?;
                out.push('}');
            }
        }
    }
    stack.truncate(start);
    Ok(())
}

/// Writes one occurrence of a value of `kind`.
fn value<'a>(
    kind: &WireKind,
    raw: WireValue<'a>,
    out: &mut String,
    stack: &mut Stack<'a>,
) -> Result<(), WireError> {
    let bits = match checked(kind, raw)? {
        WireValue::Varint(n) | WireValue::Fixed64(n) => n,
        WireValue::Fixed32(n) => u64::from(n),
        WireValue::Bytes(bytes) => {
            match kind {
                WireKind::String => push_text(out, bytes)?,
                WireKind::Message(index) if PLANS[*index].timestamp => timestamp(bytes, out)?,
                WireKind::Message(index) => {
                    out.push('{');
                    fields(*index, bytes, out, stack, false)?;
                    out.push('}');
                }
                _ => push_base64(out, bytes),
            }
            return Ok(());
        }
    };
    match kind.scalar(bits) {
        Some(scalar) => number(scalar, out),
        None => out.push_str("null"),
    }
    Ok(())
}

/// A map value absent from its entry: its zero (a message is `{}`, a timestamp
/// `{seconds: 0, nanos: 0}`).
fn absent(kind: &WireKind, out: &mut String) {
    match kind {
        WireKind::Message(index) if PLANS[*index].timestamp => {
            out.push_str("{\"seconds\":0,\"nanos\":0}")
        }
        WireKind::Message(_) => out.push_str("{}"),
        WireKind::String | WireKind::Bytes => out.push_str("\"\""),
        other => match other.scalar(0) {
            Some(scalar) => number(scalar, out),
            None => out.push_str("null"),
        },
    }
}

/// Exact integers, floats by their shortest decimal, enums by name.
fn number(scalar: Scalar<'_>, out: &mut String) {
    match scalar {
        Scalar::Double(n) => push_f64(out, n),
        Scalar::Float(n) => push_f32(out, n),
        Scalar::Signed(n) => out.push_str(itoa::Buffer::new().format(n)),
        Scalar::Unsigned(n) => out.push_str(itoa::Buffer::new().format(n)),
        Scalar::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        Scalar::Enum(n, names) => push_enum_name(out, names, n),
    }
}

/// A timestamp keeps both fields, so `timestamp.seconds` is always there to index; a part
/// twice, at zero or of another wire type is [`WireError::UNUSUAL`].
fn timestamp(bytes: &[u8], out: &mut String) -> Result<(), WireError> {
    let (mut seconds, mut nanos) = (None, None);
    let mut reader = WireReader::new(bytes);
    while let Some((number, value)) = reader.field()? {
        let (slot, n) = match (number, value) {
            (1, WireValue::Varint(n)) => (&mut seconds, n),
            (2, WireValue::Varint(n)) => (&mut nanos, n),
            (1 | 2, _) => return Err(WireError::UNUSUAL),
            _ => continue,
        };
        if n == 0 || slot.replace(n).is_some() {
            return Err(WireError::UNUSUAL);
        }
    }
    let (seconds, nanos) = (seconds.unwrap_or(0) as i64, nanos.unwrap_or(0) as i32);
    out.push_str("{\"seconds\":");
    out.push_str(itoa::Buffer::new().format(seconds));
    out.push_str(",\"nanos\":");
    out.push_str(itoa::Buffer::new().format(nanos));
    out.push('}');
    Ok(())
}
