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

/// The encoded message does not follow the wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed protobuf at byte {offset}")]
pub struct WireError {
    /// Where reading stopped.
    pub offset: usize,
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
        WireError { offset: self.pos }
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
        let key = self.varint()?;
        let number = u32::try_from(key >> 3).map_err(|_| self.error())?;
        let value = match key & 7 {
            0 => WireValue::Varint(self.varint()?),
            1 => WireValue::Fixed64(u64::from_le_bytes(self.take(8)?.try_into().unwrap())),
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| self.error())?;
                WireValue::Bytes(self.take(len)?)
            }
            5 => WireValue::Fixed32(u32::from_le_bytes(self.take(4)?.try_into().unwrap())),
            // Groups (3, 4) are not used by LiveKit's proto3 messages.
            _ => return Err(self.error()),
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
        assert_eq!(cut.field(), Err(WireError { offset: 5 }));
        assert!(
            WireReader::new(&[0x0b]).field().is_err(),
            "groups are refused"
        );
    }
}
