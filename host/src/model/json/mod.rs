//! Document text straight from the wire: both formats' JSON written while walking the
//! encoded message, with no intermediate map (the map-building walkers in `document.rs` and
//! `openvidu/` stay as the reference a property test compares against, see `tests.rs`).
//!
//! Each message is read once into a run of its known fields' occurrences (one scratch
//! stack per document, shared by the nested messages), put in declaration order, then
//! written. The walk only ever sees prost's encoding of a message: each map key occurs
//! once (prost's maps are hash maps); a singular field repeated on the wire keeps its last
//! value and a oneof its last case, as in the reference.

mod fork;
mod named;
mod typed;

pub(super) use fork::document as openvidu_document;
pub(super) use typed::document as typed_document;

use super::walk::WireKind;
use super::wire::{WireError, WireReader, WireValue};

/// One occurrence of a known field in an encoded message.
#[derive(Clone, Copy)]
struct Occurrence<'a> {
    /// Position of the field in its plan (declaration order).
    field: u32,
    /// Position on the wire within its message (the last oneof case wins).
    seq: u32,
    value: WireValue<'a>,
}

/// The occurrences of the messages being written, innermost last.
type Stack<'a> = Vec<Occurrence<'a>>;

/// Reads the fields of `bytes` that `by_number` knows onto `stack`, in declaration order
/// (wire order kept within a field); returns where they start.
fn collect<'a>(
    by_number: &[Option<usize>],
    bytes: &'a [u8],
    stack: &mut Stack<'a>,
) -> Result<usize, WireError> {
    let start = stack.len();
    let mut reader = WireReader::new(bytes);
    let mut seq = 0;
    while let Some((number, value)) = reader.field()? {
        if let Some(Some(i)) = by_number.get(number as usize) {
            stack.push(Occurrence {
                field: *i as u32,
                seq,
                value,
            });
            seq += 1;
        }
    }
    let run = &mut stack[start..];
    if !run.is_sorted_by_key(|o| o.field) {
        run.sort_by_key(|o| o.field);
    }
    Ok(start)
}

/// Moves `cursor` past the occurrences of field `i` in the sorted run ending at `end`;
/// returns where they started.
fn advance(stack: &Stack<'_>, cursor: &mut usize, end: usize, i: usize) -> usize {
    let from = *cursor;
    while *cursor < end && stack[*cursor].field as usize == i {
        *cursor += 1;
    }
    from
}

/// The elements of one occurrence of a repeated field of `kind`: a packed run holds
/// several (yielded as their raw bits), anything else is one element.
enum Elements<'a> {
    One(Option<WireValue<'a>>),
    Packed { run: WireReader<'a>, width: usize },
}

impl<'a> Elements<'a> {
    fn of(kind: &WireKind, value: WireValue<'a>) -> Self {
        match value {
            WireValue::Bytes(packed) if kind.packable() => Elements::Packed {
                run: WireReader::new(packed),
                width: kind.fixed_width(),
            },
            other => Elements::One(Some(other)),
        }
    }

    /// Whether this occurrence holds no element (an empty packed run).
    fn is_empty(kind: &WireKind, value: &WireValue<'_>) -> bool {
        matches!(value, WireValue::Bytes(b) if kind.packable() && b.is_empty())
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = Result<WireValue<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Elements::One(value) => value.take().map(Ok),
            Elements::Packed { run, width } => {
                if run.is_empty() {
                    return None;
                }
                let bits = if *width == 0 {
                    run.varint()
                } else {
                    run.fixed(*width)
                };
                Some(bits.map(WireValue::Varint))
            }
        }
    }
}

/// The last key (field 1) and value (field 2) of an encoded map entry.
type Entry<'a> = (Option<WireValue<'a>>, Option<WireValue<'a>>);

fn map_entry(bytes: &[u8]) -> Result<Entry<'_>, WireError> {
    let (mut key, mut value) = (None, None);
    let mut reader = WireReader::new(bytes);
    while let Some((number, raw)) = reader.field()? {
        match number {
            1 => key = Some(raw),
            2 => value = Some(raw),
            _ => {}
        }
    }
    Ok((key, value))
}

/// Writes a map key as a JSON string: strings as they are, integers in exact decimal; an
/// absent key as its zero.
fn push_map_key(out: &mut String, kind: &WireKind, raw: Option<WireValue<'_>>) {
    use super::walk::Scalar;
    let bits = match raw {
        None => {
            out.push_str(match kind {
                WireKind::String => "\"\"",
                WireKind::Bool => "\"false\"",
                _ => "\"0\"",
            });
            return;
        }
        Some(WireValue::Bytes(bytes)) => {
            push_text(out, bytes);
            return;
        }
        Some(WireValue::Varint(n) | WireValue::Fixed64(n)) => n,
        Some(WireValue::Fixed32(n)) => u64::from(n),
    };
    out.push('"');
    match kind.scalar(bits) {
        Some(Scalar::Signed(n)) => out.push_str(itoa::Buffer::new().format(n)),
        Some(Scalar::Unsigned(n)) => out.push_str(itoa::Buffer::new().format(n)),
        Some(Scalar::Bool(b)) => out.push_str(if b { "true" } else { "false" }),
        Some(Scalar::Enum(n, _)) => out.push_str(itoa::Buffer::new().format(n)),
        _ => out.push_str(itoa::Buffer::new().format(bits)),
    }
    out.push('"');
}

/// Writes `,` unless this is an object's first member, then `"key":`.
fn push_key(out: &mut String, key: &str, comma: &mut bool) {
    if *comma {
        out.push(',');
    }
    *comma = true;
    push_string(out, key);
    out.push(':');
}

/// The bytes a JSON string escapes: control characters, `"` and `\`.
static ESCAPED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Writes a JSON string as `serde_json` does: `"` and `\` escaped, control characters as
/// `\n`-style escapes or `\u00XX`, everything else as it is.
fn push_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    while let Some(run) = bytes[start..].iter().position(|&b| ESCAPED[usize::from(b)]) {
        let i = start + run;
        out.push_str(&s[start..i]);
        match bytes[i] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            b => {
                out.push_str("\\u00");
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 0xf)] as char);
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Writes wire bytes as a JSON string: as they are when they are UTF-8 (the usual case,
/// checked by `str::from_utf8`'s fast path), else with U+FFFD for each invalid sequence, as
/// `String::from_utf8_lossy` gives them.
fn push_text(out: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) => push_string(out, text),
        Err(_) => push_string(out, &String::from_utf8_lossy(bytes)),
    }
}

/// `"key":`, quoted and escaped once (the keys of a plan's fields).
fn quoted_key(key: &str) -> Box<str> {
    let mut out = String::with_capacity(key.len() + 3);
    push_string(&mut out, key);
    out.push(':');
    out.into()
}

/// Writes `,` unless this is an object's first member, then a [`quoted_key`].
fn push_quoted_key(out: &mut String, quoted: &str, comma: &mut bool) {
    if *comma {
        out.push(',');
    }
    *comma = true;
    out.push_str(quoted);
}

/// Writes a double as `serde_json` writes a number (shortest round-trip decimal, by the
/// same `zmij`); JSON has
/// no NaN or infinity, so those are strings (`"NaN"`, `"inf"`, `"-inf"`), as both
/// reference walkers write them.
fn push_f64(out: &mut String, n: f64) {
    // Whole numbers (most of the fork's: every integer is a double) print as `<n>.0`
    // below 10^15, faster by `itoa`; -0.0 keeps its sign through `zmij`.
    if n.fract() == 0.0 && n.abs() < 1e15 && (n != 0.0 || n.is_sign_positive()) {
        out.push_str(itoa::Buffer::new().format(n as i64));
        out.push_str(".0");
    } else if n.is_finite() {
        out.push_str(zmij::Buffer::new().format_finite(n));
    } else if n.is_nan() {
        out.push_str("\"NaN\"");
    } else if n > 0.0 {
        out.push_str("\"inf\"");
    } else {
        out.push_str("\"-inf\"");
    }
}

/// Writes a float as [`push_f64`] writes the double of its shortest decimal
/// ([`super::walk::shortest_f64`]). A finite fraction of magnitude in `[1e-4, 1e9)` (a score)
/// prints as that decimal itself: the shortest decimal of the double it reads back as has
/// the same digits, and both print them without an exponent in that range (a test checks
/// this against the two-step path on random floats), so it skips the text-to-double parse.
fn push_f32(out: &mut String, n: f32) {
    if n.fract() != 0.0 && (1e-4..1e9).contains(&n.abs()) {
        let mut buffer = ryu::Buffer::new();
        let text = buffer.format_finite(n);
        if !text.contains('e') {
            out.push_str(text);
            return;
        }
    }
    push_f64(out, super::walk::shortest_f64(n));
}

/// Writes bytes as a base64 (standard alphabet, padded) JSON string.
fn push_base64(out: &mut String, bytes: &[u8]) {
    use base64::Engine as _;
    out.push('"');
    base64::engine::general_purpose::STANDARD.encode_string(bytes, out);
    out.push('"');
}

/// Writes an enum value: its name, or its number when the schema has no name for it.
fn push_enum_name(out: &mut String, names: &std::collections::HashMap<i32, String>, n: i32) {
    match names.get(&n) {
        Some(name) => push_string(out, name),
        None => out.push_str(itoa::Buffer::new().format(n)),
    }
}

#[cfg(test)]
pub(in crate::model) mod tests;
