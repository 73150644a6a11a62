//! The `typed` format's text (the rules of `document.rs`, written without a map).

use super::super::document::PLANS;
use super::super::walk::{Scalar, Shape, WireKind};
use super::super::wire::{WireError, WireReader, WireValue};
use super::{
    advance, collect, map_entry, push_base64, push_enum_name, push_f32, push_f64, push_map_key,
    push_quoted_key, push_string, push_text, quoted_key, Elements, Stack,
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
/// on the wire, plus enums without presence at their zero value.
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
                push_quoted_key(out, &keys[i], &mut comma);
                value(&field.kind, stack[cursor - 1].value, out, stack)?;
            }
            Shape::List => {
                push_quoted_key(out, &keys[i], &mut comma);
                out.push('[');
                let mut first = true;
                for k in from..cursor {
                    for element in Elements::of(&field.kind, stack[k].value) {
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
                if !(from..cursor).any(|k| matches!(stack[k].value, WireValue::Bytes(_))) {
                    continue;
                }
                let entry = &PLANS[entry].fields;
                push_quoted_key(out, &keys[i], &mut comma);
                out.push('{');
                let mut first = true;
                for k in from..cursor {
                    let WireValue::Bytes(bytes) = stack[k].value else {
                        continue;
                    };
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    let (key, raw) = map_entry(bytes)?;
                    push_map_key(out, &entry[0].kind, key);
                    out.push(':');
                    match raw {
                        Some(raw) => value(&entry[1].kind, raw, out, stack)?,
                        None => absent(&entry[1].kind, out),
                    }
                }
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
    let bits = match raw {
        WireValue::Varint(n) | WireValue::Fixed64(n) => n,
        WireValue::Fixed32(n) => u64::from(n),
        WireValue::Bytes(bytes) => {
            match kind {
                WireKind::String => push_text(out, bytes),
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

/// A timestamp keeps both fields, so `timestamp.seconds` is always there to index.
fn timestamp(bytes: &[u8], out: &mut String) -> Result<(), WireError> {
    let (mut seconds, mut nanos) = (0i64, 0i32);
    let mut reader = WireReader::new(bytes);
    while let Some((number, value)) = reader.field()? {
        match (number, value) {
            (1, WireValue::Varint(n)) => seconds = n as i64,
            (2, WireValue::Varint(n)) => nanos = n as i32,
            _ => {}
        }
    }
    out.push_str("{\"seconds\":");
    out.push_str(itoa::Buffer::new().format(seconds));
    out.push_str(",\"nanos\":");
    out.push_str(itoa::Buffer::new().format(nanos));
    out.push('}');
    Ok(())
}
