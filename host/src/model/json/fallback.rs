//! What the writers leave to the decoder: a well-formed message not written as a canonical
//! encoder writes it ([`WireError::UNUSUAL`]), or one they cannot read (a group, which
//! protobuf skips as an unknown field) is decoded by prost and its canonical encoding
//! written instead — protobuf's semantics exactly (last value of a singular field, messages
//! merged, last case of a oneof, defaults as absent, last entry of a map key) — or refused
//! with prost's error.

use super::super::wire::{WireCause, WireError};
use super::super::{DocumentFormat, EncodedError, DESCRIPTORS};
use livekit_protocol::{AnalyticsEvent, AnalyticsNodeRooms, AnalyticsStat};
use prost::Message as _;

/// Writes the document of `bytes` (protobuf `full_name`, plan `index`) into `out` (empty),
/// straight from the wire when they are written canonically, else from prost's reading.
pub(in crate::model) fn write(
    format: DocumentFormat,
    (full_name, index): (&str, usize),
    bytes: &[u8],
    id: &str,
    out: &mut String,
) -> Result<(), EncodedError> {
    let walk = |bytes: &[u8], out: &mut String| match format {
        DocumentFormat::Openvidu => super::openvidu_document(full_name, index, bytes, id, out),
        DocumentFormat::Typed => super::typed_document(index, bytes, id, out),
    };
    match walk(bytes, out) {
        Ok(()) => Ok(()),
        Err(WireError {
            cause: WireCause::Unusual | WireCause::Group,
            ..
        }) => {
            let canonical = canonical(full_name, bytes)?;
            out.clear();
            Ok(walk(&canonical, out)?)
        }
        Err(malformed) => Err(malformed.into()),
    }
}

/// The canonical encoding of `bytes`: prost's decoding of them, encoded again (unknown
/// fields left out for the three messages the doors take).
pub(in crate::model) fn canonical(
    full_name: &str,
    bytes: &[u8],
) -> Result<Vec<u8>, prost::DecodeError> {
    Ok(match full_name {
        "livekit.AnalyticsEvent" => AnalyticsEvent::decode(bytes)?.encode_to_vec(),
        "livekit.AnalyticsStat" => AnalyticsStat::decode(bytes)?.encode_to_vec(),
        "livekit.AnalyticsNodeRooms" => AnalyticsNodeRooms::decode(bytes)?.encode_to_vec(),
        other => {
            let descriptor = DESCRIPTORS
                .get_message_by_name(other)
                .unwrap_or_else(|| panic!("`{other}` is not in the LiveKit protocol"));
            prost_reflect::DynamicMessage::decode(descriptor, bytes)?.encode_to_vec()
        }
    })
}
