//! Document text straight from the wire: both formats' JSON written while walking the
//! encoded message, with no intermediate map (the map-building walkers in `document.rs` and
//! `openvidu/` stay as the reference a property test compares against, see `tests.rs`).
//!
//! Each message is read once into a run of its known fields' occurrences (one scratch
//! stack per document, shared by the nested messages), put in declaration order, then
//! written. The walk writes what a canonical encoder (prost's, Go's) writes exactly; any
//! other form of a well-formed message — a known field with another wire type, a singular
//! field or a oneof more than once (protobuf keeps the last value, merges messages), a
//! field without presence at its default (protobuf reads it as absent), an empty packed
//! run, a map key twice (the last wins), a string that is not UTF-8 (refused) — stops it
//! with [`WireError::UNUSUAL`], and [`super::DocumentFormat::encoded_document_text`] has
//! prost's decoder read the message instead (see `docs/ingest.md`).

mod fallback;
mod fork;
mod named;
mod typed;

pub(super) use fallback::write as write_document;

pub(super) use fork::document as openvidu_document;
pub(super) use typed::document as typed_document;

use super::walk::WireKind;
use super::wire::{WireError, WireReader, WireValue};

/// Whether `raw`, a value of `kind`, is its default: a canonical encoder leaves it out of a
/// field without presence (prost compares floats with `!=`, so -0.0 is a default too).
fn is_default(kind: &WireKind, raw: &WireValue<'_>) -> bool {
    match (kind, raw) {
        (WireKind::Float, WireValue::Fixed32(bits)) => bits & 0x7fff_ffff == 0,
        (WireKind::Double, WireValue::Fixed64(bits)) => bits & !(1 << 63) == 0,
        (WireKind::Message(_), _) => false,
        (_, WireValue::Varint(n) | WireValue::Fixed64(n)) => *n == 0,
        (_, WireValue::Fixed32(n)) => *n == 0,
        (_, WireValue::Bytes(bytes)) => bytes.is_empty(),
    }
}

/// `raw` when a value of `kind` is written with its wire type, else [`WireError::UNUSUAL`].
fn checked<'a>(kind: &WireKind, raw: WireValue<'a>) -> Result<WireValue<'a>, WireError> {
    if kind.accepts(&raw) {
        Ok(raw)
    } else {
        Err(WireError::UNUSUAL)
    }
}

/// [`WireError::UNUSUAL`] when the keys written into `out` at `keys` (a map's) are not all
/// different: protobuf keeps the last entry of a key, which prost's decoder gives.
fn distinct_keys(out: &str, keys: &[std::ops::Range<usize>]) -> Result<(), WireError> {
    if keys.len() < 2 {
        return Ok(());
    }
    let mut texts: Vec<&str> = keys.iter().map(|r| &out[r.clone()]).collect();
    texts.sort_unstable();
    if texts.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err(WireError::UNUSUAL);
    }
    Ok(())
}

/// One occurrence of a known field in an encoded message.
#[derive(Clone, Copy)]
struct Occurrence<'a> {
    /// Position of the field in its plan (declaration order).
    field: u32,
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
    while let Some((number, value)) = reader.field()? {
        if let Some(Some(i)) = by_number.get(number as usize) {
            stack.push(Occurrence {
                field: *i as u32,
                value,
            });
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
/// several (yielded with the wire type each would have unpacked), anything else is one
/// element.
enum Elements<'a> {
    One(Option<WireValue<'a>>),
    Packed { run: WireReader<'a>, width: usize },
}

impl<'a> Elements<'a> {
    /// The elements of `value`; an empty packed run (which a canonical encoder leaves out)
    /// is [`WireError::UNUSUAL`].
    fn of(kind: &WireKind, value: WireValue<'a>) -> Result<Self, WireError> {
        Ok(match value {
            WireValue::Bytes(packed) if kind.packable() => {
                if packed.is_empty() {
                    return Err(WireError::UNUSUAL);
                }
                Elements::Packed {
                    run: WireReader::new(packed),
                    width: kind.fixed_width(),
                }
            }
            other => Elements::One(Some(other)),
        })
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
                Some(match *width {
                    0 => run.varint().map(WireValue::Varint),
                    4 => run.fixed(4).map(|bits| WireValue::Fixed32(bits as u32)),
                    _ => run.fixed(8).map(WireValue::Fixed64),
                })
            }
        }
    }
}

/// The key (field 1) and value (field 2) of an encoded map entry.
type Entry<'a> = (Option<WireValue<'a>>, Option<WireValue<'a>>);

/// The key and value of an encoded map entry; either twice is [`WireError::UNUSUAL`]
/// (protobuf merges a message value's parts).
fn map_entry(bytes: &[u8]) -> Result<Entry<'_>, WireError> {
    let (mut key, mut value) = (None, None);
    let mut reader = WireReader::new(bytes);
    while let Some((number, raw)) = reader.field()? {
        let slot = match number {
            1 => &mut key,
            2 => &mut value,
            _ => continue,
        };
        if slot.replace(raw).is_some() {
            return Err(WireError::UNUSUAL);
        }
    }
    Ok((key, value))
}

/// Writes a map key as a JSON string: strings as they are, integers in exact decimal; an
/// absent key as its zero; returns where it stands in `out`, to tell repeated keys.
fn push_map_key(
    out: &mut String,
    kind: &WireKind,
    raw: Option<WireValue<'_>>,
) -> Result<std::ops::Range<usize>, WireError> {
    let start = out.len();
    push_map_key_text(out, kind, raw)?;
    Ok(start..out.len())
}

fn push_map_key_text(
    out: &mut String,
    kind: &WireKind,
    raw: Option<WireValue<'_>>,
) -> Result<(), WireError> {
    use super::walk::Scalar;
    let bits = match raw.map(|raw| checked(kind, raw)).transpose()? {
        None => {
            out.push_str(match kind {
                WireKind::String => "\"\"",
                WireKind::Bool => "\"false\"",
                _ => "\"0\"",
            });
            return Ok(());
        }
        Some(WireValue::Bytes(bytes)) => return push_text(out, bytes),
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
    Ok(())
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

/// Writes wire bytes of a `string` as a JSON string; bytes that are not UTF-8 are
/// [`WireError::UNUSUAL`] (prost's decoder, and Go's, refuse them).
fn push_text(out: &mut String, bytes: &[u8]) -> Result<(), WireError> {
    let text = std::str::from_utf8(bytes).map_err(|_| WireError::UNUSUAL)?;
    push_string(out, text);
    Ok(())
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
mod protobuf_tests;
#[cfg(test)]
pub(in crate::model) mod tests;
