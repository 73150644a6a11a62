//! `AnalyticsStats` and `AnalyticsEvents` as the door receives them: the encoded message,
//! kept as bytes. Each record is then walked once, straight into its document
//! ([`Item::from_encoded_stat`], [`Item::from_encoded_event`]): no protobuf decode into
//! structs and no re-encode for the walk, which together were a quarter of the host's CPU
//! per stat.

use crate::model::wire::{WireError, WireReader, WireValue};
#[cfg(doc)]
use crate::model::Item;
use prost::bytes::{Buf, BufMut, Bytes, BytesMut};
use prost::encoding::{encode_key, encode_varint, skip_field, DecodeContext, WireType};
use prost::DecodeError;

/// An encoded `livekit.AnalyticsStats` or `livekit.AnalyticsEvents` (both: field 1, the
/// repeated record), as received.
#[derive(Clone, Default, Debug, PartialEq)]
pub struct WireBatch {
    /// The encoded message.
    pub bytes: Bytes,
}

impl WireBatch {
    /// The encoded records, in order; an error names where the message stops following the
    /// wire format (field 1 with another wire type, a cut field).
    pub fn records(&self) -> impl Iterator<Item = Result<&[u8], WireError>> {
        let mut reader = WireReader::new(&self.bytes);
        let mut failed = false;
        std::iter::from_fn(move || loop {
            if failed {
                return None;
            }
            let at = reader.offset();
            match reader.field() {
                Ok(None) => return None,
                Ok(Some((1, WireValue::Bytes(record)))) => return Some(Ok(record)),
                Ok(Some((1, _))) => {
                    failed = true;
                    return Some(Err(WireError::malformed(at)));
                }
                Ok(Some(_)) => continue, // unknown fields: left out, as prost does
                Err(e) => {
                    failed = true;
                    return Some(Err(e));
                }
            }
        })
    }
}

impl prost::Message for WireBatch {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.bytes);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        // Only reached by a caller that merges field by field (the door uses `merge`): a
        // record is kept as it came, anything else is skipped as prost skips unknown fields.
        if tag != 1 || wire_type != WireType::LengthDelimited {
            return skip_field(wire_type, tag, buf, ctx);
        }
        let mut record = Vec::new();
        prost::encoding::bytes::merge(wire_type, &mut record, buf, ctx)?;
        let mut out = BytesMut::from(&self.bytes[..]);
        encode_key(1, WireType::LengthDelimited, &mut out);
        encode_varint(record.len() as u64, &mut out);
        out.put_slice(&record);
        self.bytes = out.freeze();
        Ok(())
    }

    fn encoded_len(&self) -> usize {
        self.bytes.len()
    }

    fn clear(&mut self) {
        self.bytes = Bytes::new();
    }

    /// Keeps the whole message as it is (checked later, record by record).
    fn merge(&mut self, mut buf: impl Buf) -> Result<(), DecodeError> {
        let received = buf.copy_to_bytes(buf.remaining());
        if self.bytes.is_empty() {
            self.bytes = received;
        } else {
            let mut joined = BytesMut::from(&self.bytes[..]);
            joined.put(received);
            self.bytes = joined.freeze();
        }
        Ok(())
    }
}
