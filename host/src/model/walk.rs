//! What the two document walkers ([`super::document`] for `typed`, [`super::openvidu`])
//! share: turning the occurrences of a repeated or map field into JSON.

use super::wire::{WireError, WireReader, WireValue};
use serde_json::{Map, Value};

/// How a walker writes the values of one field kind.
pub(super) trait ValueKind {
    /// Whether a length-delimited occurrence of a list of this kind is a packed run.
    fn packable(&self) -> bool;
    /// Bytes per packed value: 4 or 8 for fixed-width kinds, 0 for varints.
    fn fixed_width(&self) -> usize;
    /// The value of a numeric occurrence from its raw bits.
    fn number(&self, bits: u64) -> Value;
    /// The value of one occurrence.
    fn convert(&self, value: WireValue<'_>) -> Result<Value, WireError>;
}

/// Appends one occurrence of a repeated field to its `slot` (a packed run holds several).
pub(super) fn push_repeated(
    slot: &mut Option<Value>,
    kind: &impl ValueKind,
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
                list.push(kind.number(bits));
            }
        }
        other => list.push(kind.convert(other)?),
    }
    Ok(())
}

/// The object of a map field's `slot`, created empty at its first entry.
pub(super) fn map_slot(slot: &mut Option<Value>) -> &mut Map<String, Value> {
    let Value::Object(map) = slot.get_or_insert_with(|| Value::Object(Map::new())) else {
        unreachable!("map slots hold objects")
    };
    map
}
