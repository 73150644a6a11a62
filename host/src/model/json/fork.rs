//! The `openvidu` format's text (the rules of `openvidu/mod.rs`, written without a map).
//!
//! The reference names the fork's enums after building the map (`names::name_enum`): a
//! number found at a path becomes its name in place, and an absent one (left out at zero)
//! is appended to its parent object. Here the paths are a tree ([`Node`]) followed during
//! the walk: a named field is written by name where it stands, and the parent appends the
//! zero names of the ones it did not write, after its oneofs, in `NAMED_ENUMS` order.

use super::super::openvidu::PLANS;
use super::super::walk::{shortest_f64, Scalar, Shape, WireKind};
use super::super::wire::{WireError, WireValue};
use super::named::{At, Child, Named, Node};
use super::{
    advance, checked, collect, distinct_keys, map_entry, push_base64, push_f32, push_f64,
    push_map_key, push_quoted_key, push_string, push_text, quoted_key, Elements, Stack,
};
use std::sync::LazyLock;

/// Appends to `out` the fork's document text of the encoded message of plan `index`
/// (protobuf full name `full_name`), `_id` first.
pub(in crate::model) fn document(
    full_name: &str,
    index: usize,
    bytes: &[u8],
    id: &str,
    out: &mut String,
) -> Result<(), WireError> {
    static EVENT: LazyLock<Node> = LazyLock::new(|| Node::of("livekit.AnalyticsEvent"));
    static STAT: LazyLock<Node> = LazyLock::new(|| Node::of("livekit.AnalyticsStat"));
    let named = match full_name {
        "livekit.AnalyticsEvent" => Some(&*EVENT),
        "livekit.AnalyticsStat" => Some(&*STAT),
        _ => None,
    };
    out.push_str("{\"_id\":");
    push_string(out, id);
    let mut stack = Vec::with_capacity(32);
    fields(index, bytes, out, &mut stack, true, named)?;
    out.push('}');
    Ok(())
}

/// The [`quoted_key`]s of a plan: of its fields, and of its oneofs.
type Keys = (Vec<Box<str>>, Vec<Box<str>>);

/// The [`Keys`] of every plan.
static KEYS: LazyLock<Vec<Keys>> = LazyLock::new(|| {
    PLANS
        .iter()
        .map(|plan| {
            let fields = plan.fields.iter().map(|f| quoted_key(&f.key)).collect();
            (fields, plan.oneofs.iter().map(|o| quoted_key(o)).collect())
        })
        .collect()
});

/// A value as the fork's map holds it, before it is written.
enum Lit<'a> {
    Null,
    Bool(bool),
    /// Every number is a double.
    Number(f64),
    /// A float, written as the double of its shortest decimal.
    Float(f32),
    Text(&'a [u8]),
    Base64(&'a [u8]),
    Message(usize, &'a [u8]),
}

impl<'a> Lit<'a> {
    /// The value of `raw`; another wire type than the kind's is [`WireError::UNUSUAL`].
    fn of(kind: &WireKind, raw: WireValue<'a>) -> Result<Self, WireError> {
        Ok(Lit::of_checked(kind, checked(kind, raw)?))
    }

    fn of_checked(kind: &WireKind, raw: WireValue<'a>) -> Self {
        let bits = match raw {
            WireValue::Varint(n) | WireValue::Fixed64(n) => n,
            WireValue::Fixed32(n) => u64::from(n),
            WireValue::Bytes(bytes) => {
                return match kind {
                    WireKind::String => Lit::Text(bytes),
                    WireKind::Message(index) => Lit::Message(*index, bytes),
                    _ => Lit::Base64(bytes),
                }
            }
        };
        Lit::scalar(kind, bits)
    }

    fn scalar(kind: &WireKind, bits: u64) -> Self {
        Lit::Number(match kind.scalar(bits) {
            None => return Lit::Null,
            Some(Scalar::Bool(b)) => return Lit::Bool(b),
            Some(Scalar::Double(n)) => n,
            Some(Scalar::Float(n)) => return Lit::Float(n),
            Some(Scalar::Signed(n)) => n as f64,
            Some(Scalar::Unsigned(n)) => n as f64,
            Some(Scalar::Enum(n, _)) => f64::from(n),
        })
    }

    /// What Go's `omitempty` leaves out (a message never).
    fn is_zero(&self) -> bool {
        match self {
            Lit::Null => true,
            Lit::Bool(b) => !b,
            Lit::Number(n) => *n == 0.0,
            Lit::Float(n) => *n == 0.0,
            Lit::Text(b) | Lit::Base64(b) => b.is_empty(),
            Lit::Message(..) => false,
        }
    }

    /// Writes the value; a message gets the named enums below it, a finite number at a
    /// named enum its name.
    fn write(self, out: &mut String, stack: &mut Stack<'a>, at: At<'_>) -> Result<(), WireError> {
        match self {
            Lit::Null => out.push_str("null"),
            Lit::Bool(b) => out.push_str(if b { "true" } else { "false" }),
            Lit::Number(n) => match at {
                At::Leaf(named) if n.is_finite() => super::named::push_name(out, named, n as i32),
                _ => push_f64(out, n),
            },
            Lit::Float(n) => match at {
                At::Leaf(named) if n.is_finite() => {
                    super::named::push_name(out, named, shortest_f64(n) as i32)
                }
                _ => push_f32(out, n),
            },
            Lit::Text(bytes) => push_text(out, bytes)?,
            Lit::Base64(bytes) => push_base64(out, bytes),
            Lit::Message(index, bytes) => {
                let node = match at {
                    At::Object(node) => Some(node),
                    _ => None,
                };
                out.push('{');
                fields(index, bytes, out, stack, false, node)?;
                out.push('}');
            }
        }
        Ok(())
    }
}

/// Writes the members of the encoded message of plan `index` by the fork's rules: fields
/// in declaration order (zeros left out), then the oneofs, then the absent named enums.
fn fields<'a>(
    index: usize,
    bytes: &'a [u8],
    out: &mut String,
    stack: &mut Stack<'a>,
    mut comma: bool,
    node: Option<&Node>,
) -> Result<(), WireError> {
    let plan = &PLANS[index];
    let keys = &KEYS[index];
    let mut named = Named::new(node);
    let start = collect(&plan.by_number, bytes, stack)?;
    let end = stack.len();
    let mut cursor = start;
    for (i, field) in plan.fields.iter().enumerate() {
        let from = advance(stack, &mut cursor, end, i);
        if from == cursor || field.oneof.is_some() {
            continue;
        }
        match field.shape {
            Shape::Single => {
                if cursor - from > 1 {
                    return Err(WireError::UNUSUAL);
                }
                let lit = Lit::of(&field.kind, stack[from].value)?;
                if !field.keep_zero && lit.is_zero() {
                    // Go reads an explicit default as its zero, which `omitempty` leaves
                    // out: the same document as without it (the value is read whole).
                    continue;
                }
                push_quoted_key(out, &keys.0[i], &mut comma);
                let at = At::member(named.take(&field.key));
                lit.write(out, stack, at)?;
            }
            Shape::List => {
                push_quoted_key(out, &keys.0[i], &mut comma);
                let at = At::elements(named.take(&field.key));
                out.push('[');
                let mut first = true;
                for k in from..cursor {
                    for element in Elements::of(&field.kind, stack[k].value)? {
                        if !first {
                            out.push(',');
                        }
                        first = false;
                        let lit = Lit::of(&field.kind, element?)?;
                        lit.write(out, stack, at)?;
                    }
                }
                out.push(']');
            }
            Shape::Map => {
                let WireKind::Message(entry) = field.kind else {
                    continue;
                };
                let entry = &PLANS[entry].fields;
                push_quoted_key(out, &keys.0[i], &mut comma);
                named.take(&field.key);
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
                        Some(raw) => {
                            Lit::of(&entry[1].kind, raw)?.write(out, stack, At::Nothing)?
                        }
                        None => absent(&entry[1].kind, out),
                    }
                }
                distinct_keys(out, &written)?;
                out.push('}');
            }
        }
    }
    for (o, name) in plan.oneofs.iter().enumerate() {
        push_quoted_key(out, &keys.1[o], &mut comma);
        let wrapper = match named.take(name) {
            Some(Child::Object(node)) => Some(node),
            _ => None,
        };
        // A oneof set more than once (a later case replaces an earlier one, a message's
        // parts merge) is left to the decoder.
        let mut cases =
            (start..end).filter(|&k| plan.fields[stack[k].field as usize].oneof == Some(o));
        let Some(k) = cases.next() else {
            out.push_str("null");
            continue;
        };
        if cases.next().is_some() {
            return Err(WireError::UNUSUAL);
        }
        let case_index = stack[k].field as usize;
        let field = &plan.fields[case_index];
        let mut inner = Named::new(wrapper);
        let mut inner_comma = false;
        out.push('{');
        push_quoted_key(out, &keys.0[case_index], &mut inner_comma);
        let lit = match field.shape {
            Shape::Single => Lit::of(&field.kind, stack[k].value)?,
            // Oneofs hold neither lists nor maps.
            Shape::List | Shape::Map => Lit::Null,
        };
        let at = At::member(inner.take(&field.key));
        lit.write(out, stack, at)?;
        inner.append_absent(out, &mut inner_comma);
        out.push('}');
    }
    named.append_absent(out, &mut comma);
    stack.truncate(start);
    Ok(())
}

/// A map value absent from its entry: its zero (a message is `{}`).
fn absent(kind: &WireKind, out: &mut String) {
    match kind {
        WireKind::Message(_) => out.push_str("{}"),
        WireKind::String | WireKind::Bytes => out.push_str("\"\""),
        other => match Lit::scalar(other, 0) {
            Lit::Bool(b) => out.push_str(if b { "true" } else { "false" }),
            Lit::Number(n) => push_f64(out, n),
            Lit::Float(n) => push_f32(out, n),
            _ => out.push_str("null"),
        },
    }
}
