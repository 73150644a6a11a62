//! A reader of the protobuf wire format: just enough to walk an encoded message field by
//! field (see `document.rs`), without building an intermediate dynamic message.

/// One field occurrence on the wire.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WireValue<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64(u64),
    /// Wire type 2: a string, bytes, a message or a packed list.
    Bytes(&'a [u8]),
    /// Wire type 5.
    Fixed32(u32),
}

/// The encoded message does not follow the wire format, or (for the document walkers) is
/// written in a way only a decoder reads exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{cause} at byte {offset}")]
pub struct WireError {
    /// Where reading stopped (0 where the walker does not track it).
    pub offset: usize,
    /// Why.
    pub cause: WireCause,
}

/// Why an encoded message was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireCause {
    /// Truncated, an overlong varint, a field number 0 or past 2^29, a wire type 6 or 7.
    Malformed,
    /// A group (wire types 3 and 4): proto2 only, never in LiveKit's proto3 messages.
    Group,
    /// Well-formed, but in a form a canonical encoder does not write (a known field with
    /// another wire type, a singular field twice, an explicit default, two cases of a
    /// oneof, a string that is not UTF-8, a map key twice): the document walkers leave
    /// such a message to prost's decoder, which decides (see `docs/ingest.md`).
    Unusual,
}

impl std::fmt::Display for WireCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WireCause::Malformed => "malformed protobuf",
            WireCause::Group => "protobuf group (not read)",
            WireCause::Unusual => "protobuf in a form left to the decoder",
        })
    }
}

impl WireError {
    /// A well-formed message the walkers leave to the decoder ([`WireCause::Unusual`]).
    pub const UNUSUAL: WireError = WireError {
        offset: 0,
        cause: WireCause::Unusual,
    };

    /// A [`WireCause::Malformed`] error at `offset`.
    pub fn malformed(offset: usize) -> WireError {
        WireError {
            offset,
            cause: WireCause::Malformed,
        }
    }
}

/// Reads the fields of one encoded message in order.
pub struct WireReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> WireReader<'a> {
    /// A reader over an encoded message.
    pub fn new(bytes: &'a [u8]) -> Self {
        WireReader { bytes, pos: 0 }
    }

    /// A varint at the current position.
    #[inline]
    pub fn varint(&mut self) -> Result<u64, WireError> {
        // Most varints on the wire (every field key, short lengths, small numbers) are one byte.
        match self.bytes.get(self.pos) {
            Some(&byte) if byte < 0x80 => {
                self.pos += 1;
                Ok(u64::from(byte))
            }
            _ => self.long_varint(),
        }
    }

    /// [`WireReader::varint`] of more than one byte, or at the end.
    fn long_varint(&mut self) -> Result<u64, WireError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.bytes.get(self.pos).ok_or(self.error())?;
            self.pos += 1;
            // The tenth byte holds bit 63 only: more is an overflow, as prost and Go say.
            if shift == 63 && byte > 1 {
                return Err(self.error());
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(self.error())
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(self.error())?;
        let slice = self.bytes.get(self.pos..end).ok_or(self.error())?;
        self.pos = end;
        Ok(slice)
    }

    #[inline]
    fn error(&self) -> WireError {
        WireError::malformed(self.pos)
    }

    /// How many bytes have been read.
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// Whether everything has been read.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// The next field: its number and value; `None` at the end.
    #[inline]
    pub fn field(&mut self) -> Result<Option<(u32, WireValue<'a>)>, WireError> {
        if self.is_empty() {
            return Ok(None);
        }
        let at = self.pos;
        let key = self.varint()?;
        // As prost and Go read a key: at most 32 bits, field numbers from 1.
        let key = u32::try_from(key).map_err(|_| WireError::malformed(at))?;
        let number = key >> 3;
        if number == 0 {
            return Err(WireError::malformed(at));
        }
        let value = match key & 7 {
            0 => WireValue::Varint(self.varint()?),
            1 => WireValue::Fixed64(u64::from_le_bytes(self.take(8)?.try_into().unwrap())),
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| self.error())?;
                WireValue::Bytes(self.take(len)?)
            }
            5 => WireValue::Fixed32(u32::from_le_bytes(self.take(4)?.try_into().unwrap())),
            // Groups (3, 4) are not used by LiveKit's proto3 messages.
            3 | 4 => {
                return Err(WireError {
                    offset: at,
                    cause: WireCause::Group,
                })
            }
            _ => return Err(WireError::malformed(at)),
        };
        Ok(Some((number, value)))
    }

    /// The next fixed-size value of `width` bytes (4 or 8) of a packed list, little-endian.
    pub fn fixed(&mut self, width: usize) -> Result<u64, WireError> {
        let bytes = self.take(width)?;
        let mut buf = [0u8; 8];
        buf[..width].copy_from_slice(bytes);
        Ok(u64::from_le_bytes(buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_wire_type_and_rejects_truncation() {
        // field 1 varint 150, field 2 bytes "hi", field 3 fixed32 7, field 4 fixed64 9
        let bytes = [
            0x08, 0x96, 0x01, 0x12, 2, b'h', b'i', 0x1d, 7, 0, 0, 0, 0x21, 9, 0, 0, 0, 0, 0, 0, 0,
        ];
        let mut reader = WireReader::new(&bytes);
        assert_eq!(reader.field(), Ok(Some((1, WireValue::Varint(150)))));
        assert_eq!(reader.field(), Ok(Some((2, WireValue::Bytes(b"hi")))));
        assert_eq!(reader.field(), Ok(Some((3, WireValue::Fixed32(7)))));
        assert_eq!(reader.field(), Ok(Some((4, WireValue::Fixed64(9)))));
        assert_eq!(reader.field(), Ok(None));
        assert!(WireReader::new(&bytes[..5]).field().is_ok());
        let mut cut = WireReader::new(&bytes[..5]);
        cut.field().unwrap();
        assert_eq!(cut.field(), Err(WireError::malformed(5)));
        assert_eq!(
            WireReader::new(&[0x0b]).field().map_err(|e| e.cause),
            Err(WireCause::Group),
            "groups are refused"
        );
    }

    #[test]
    fn keys_and_varints_are_bounded_as_prost_bounds_them() {
        // Field number 0.
        assert_eq!(
            WireReader::new(&[0x00, 0x01]).field(),
            Err(WireError::malformed(0))
        );
        // A key past 32 bits (field 2^29 + 1, varint).
        let key = [0x88, 0x80, 0x80, 0x80, 0x10, 0x01];
        assert!(WireReader::new(&key).field().is_err());
        // The largest field number, 2^29 - 1, is read.
        let key = [0xf8, 0xff, 0xff, 0xff, 0x0f, 0x01];
        assert_eq!(
            WireReader::new(&key).field(),
            Ok(Some(((1 << 29) - 1, WireValue::Varint(1))))
        );
        // Ten bytes: the last may hold bit 63 only.
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(WireReader::new(&max).varint(), Ok(u64::MAX));
        let over = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert!(WireReader::new(&over).varint().is_err());
        for bytes in [&max[..], &over[..]] {
            let mut field = vec![0xc0, 0x3e]; // field 1000, unknown to the stat: a varint
            field.extend_from_slice(bytes);
            let prost = <livekit_protocol::AnalyticsStat as prost::Message>::decode(&field[..]);
            let ours = WireReader::new(&field).field();
            assert_eq!(prost.is_ok(), ours.is_ok(), "{bytes:02x?}");
        }
    }
}
