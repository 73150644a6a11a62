//! An item's BSON straight from its document text: one pass over the JSON writing BSON
//! bytes, with no map in between (the reference, [`super::to_bson_reference`], parses the
//! text into a `serde_json` map and converts that; a property test compares the bytes).
//!
//! The types are the reference's: an integer is an int64 when it fits one and a double
//! otherwise, every other number a double, so a field has one BSON type whatever its value.

use bson::RawDocumentBuf;

/// The document text cannot be a BSON document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("document text at byte {at}: {what}")]
pub struct ToBsonError {
    /// Where in the text.
    pub at: usize,
    /// What is wrong.
    pub what: &'static str,
}

/// The BSON document of the JSON object `json`, with `extra` (a key and a date) appended
/// to it.
pub fn document(json: &str, extra: (&str, bson::DateTime)) -> Result<RawDocumentBuf, ToBsonError> {
    let mut transcoder = Transcoder {
        src: json.as_bytes(),
        pos: 0,
        out: Vec::with_capacity(json.len() + json.len() / 4 + 64),
    };
    transcoder.skip_whitespace();
    if transcoder.peek() != Some(b'{') {
        return Err(transcoder.error("not an object"));
    }
    transcoder.object(Some(extra))?;
    RawDocumentBuf::from_bytes(transcoder.out).map_err(|_| ToBsonError {
        at: json.len(),
        what: "not a BSON document",
    })
}

const DOUBLE: u8 = 0x01;
const STRING: u8 = 0x02;
const DOCUMENT: u8 = 0x03;
const ARRAY: u8 = 0x04;
const BOOLEAN: u8 = 0x08;
const DATE_TIME: u8 = 0x09;
const NULL: u8 = 0x0a;
const INT64: u8 = 0x12;

struct Transcoder<'a> {
    src: &'a [u8],
    pos: usize,
    out: Vec<u8>,
}

impl Transcoder<'_> {
    fn error(&self, what: &'static str) -> ToBsonError {
        ToBsonError { at: self.pos, what }
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), ToBsonError> {
        self.skip_whitespace();
        if self.peek() != Some(byte) {
            return Err(self.error(what));
        }
        self.pos += 1;
        Ok(())
    }

    /// Starts a document (or array): its length, patched by [`Transcoder::end`].
    fn begin(&mut self) -> usize {
        let start = self.out.len();
        self.out.extend_from_slice(&[0; 4]);
        start
    }

    fn end(&mut self, start: usize) -> Result<(), ToBsonError> {
        self.out.push(0);
        let len = i32::try_from(self.out.len() - start).map_err(|_| self.error("too large"))?;
        self.out[start..start + 4].copy_from_slice(&len.to_le_bytes());
        Ok(())
    }

    /// An object (at `{`) as a document; `extra` is appended to it (the root's date), or
    /// replaces a member of the same key where it stands (as inserting it into a parsed
    /// document did).
    fn object(&mut self, mut extra: Option<(&str, bson::DateTime)>) -> Result<(), ToBsonError> {
        self.pos += 1;
        let start = self.begin();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                let type_at = self.out.len();
                self.out.push(0);
                self.expect(b'"', "a key")?;
                let key_at = self.out.len();
                self.string_body()?;
                if self.out[key_at..].contains(&0) {
                    return Err(self.error("a key holds a NUL character"));
                }
                let replaced = extra.filter(|(key, _)| self.out[key_at..] == *key.as_bytes());
                self.out.push(0);
                self.expect(b':', "`:`")?;
                let value_at = self.out.len();
                self.out[type_at] = self.value()?;
                if let Some((_, date)) = replaced {
                    self.out.truncate(value_at);
                    self.out
                        .extend_from_slice(&date.timestamp_millis().to_le_bytes());
                    self.out[type_at] = DATE_TIME;
                    extra = None;
                }
                self.skip_whitespace();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.error("`,` or `}`")),
                }
            }
        }
        if let Some((key, date)) = extra {
            if key.as_bytes().contains(&0) {
                return Err(self.error("a key holds a NUL character"));
            }
            self.out.push(DATE_TIME);
            self.out.extend_from_slice(key.as_bytes());
            self.out.push(0);
            self.out
                .extend_from_slice(&date.timestamp_millis().to_le_bytes());
        }
        self.end(start)
    }

    /// An array (at `[`) as a document keyed `0`, `1`, …
    fn array(&mut self) -> Result<(), ToBsonError> {
        self.pos += 1;
        let start = self.begin();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return self.end(start);
        }
        let mut index = 0usize;
        loop {
            let type_at = self.out.len();
            self.out.push(0);
            self.out
                .extend_from_slice(itoa::Buffer::new().format(index).as_bytes());
            self.out.push(0);
            self.out[type_at] = self.value()?;
            index += 1;
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return self.end(start);
                }
                _ => return Err(self.error("`,` or `]`")),
            }
        }
    }

    /// Writes one value; returns its BSON element type.
    fn value(&mut self) -> Result<u8, ToBsonError> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'{') => self.object(None).map(|()| DOCUMENT),
            Some(b'[') => self.array().map(|()| ARRAY),
            Some(b'"') => {
                self.pos += 1;
                let start = self.begin();
                self.string_body()?;
                self.out.push(0);
                let len = i32::try_from(self.out.len() - start - 4)
                    .map_err(|_| self.error("too large"))?;
                self.out[start..start + 4].copy_from_slice(&len.to_le_bytes());
                Ok(STRING)
            }
            Some(b't') => self.literal(b"true", &[1]).map(|()| BOOLEAN),
            Some(b'f') => self.literal(b"false", &[0]).map(|()| BOOLEAN),
            Some(b'n') => self.literal(b"null", &[]).map(|()| NULL),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.error("a value")),
        }
    }

    fn literal(&mut self, word: &[u8], bytes: &[u8]) -> Result<(), ToBsonError> {
        if !self.src[self.pos..].starts_with(word) {
            return Err(self.error("a literal"));
        }
        self.pos += word.len();
        self.out.extend_from_slice(bytes);
        Ok(())
    }

    /// A number as `serde_json` reads it and the reference converts it: an integer that
    /// fits an int64 is one (`-0` is the double -0.0), anything else a double.
    fn number(&mut self) -> Result<u8, ToBsonError> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let digits = self.pos;
        let mut magnitude = Some(0u64);
        while let Some(d @ b'0'..=b'9') = self.peek() {
            magnitude = magnitude
                .and_then(|m| m.checked_mul(10))
                .and_then(|m| m.checked_add(u64::from(d - b'0')));
            self.pos += 1;
        }
        if self.pos == digits {
            return Err(self.error("digits"));
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.pos += 1;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integer = false;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
        }
        let as_int = match (integer, magnitude, negative) {
            (true, Some(m), false) => i64::try_from(m).ok().ok_or(m as f64),
            (true, Some(0), true) => Err(-0.0),
            (true, Some(m), true) if m <= 1 << 63 => Ok((m as i64).wrapping_neg()),
            (true, Some(m), true) => Err(-(m as f64)),
            _ => Err(self.parse_f64(start)?),
        };
        match as_int {
            Ok(n) => {
                self.out.extend_from_slice(&n.to_le_bytes());
                Ok(INT64)
            }
            Err(x) => {
                self.out.extend_from_slice(&x.to_le_bytes());
                Ok(DOUBLE)
            }
        }
    }

    fn parse_f64(&self, start: usize) -> Result<f64, ToBsonError> {
        std::str::from_utf8(&self.src[start..self.pos])
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| self.error("a number"))
    }

    /// The rest of a string (after its `"`), unescaped into the output, up to and past
    /// the closing `"`.
    fn string_body(&mut self) -> Result<(), ToBsonError> {
        loop {
            let run = self.src[self.pos..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\')
                .ok_or_else(|| self.error("an unterminated string"))?;
            self.out
                .extend_from_slice(&self.src[self.pos..self.pos + run]);
            self.pos += run;
            let quote = self.src[self.pos] == b'"';
            self.pos += 1;
            if quote {
                return Ok(());
            }
            let escaped = self.peek().ok_or_else(|| self.error("an escape"))?;
            self.pos += 1;
            let byte = match escaped {
                b'"' => b'"',
                b'\\' => b'\\',
                b'/' => b'/',
                b'b' => 0x08,
                b'f' => 0x0c,
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'u' => {
                    let c = self.unicode_escape()?;
                    let mut buf = [0; 4];
                    self.out
                        .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    continue;
                }
                _ => return Err(self.error("an escape")),
            };
            self.out.push(byte);
        }
    }

    /// The character of a `\u` escape (after the `u`), a surrogate pair included.
    fn unicode_escape(&mut self) -> Result<char, ToBsonError> {
        let high = self.hex4()?;
        let code = if (0xd800..0xdc00).contains(&high) {
            if !self.src[self.pos..].starts_with(b"\\u") {
                return Err(self.error("a lone surrogate"));
            }
            self.pos += 2;
            let low = self.hex4()?;
            if !(0xdc00..0xe000).contains(&low) {
                return Err(self.error("a lone surrogate"));
            }
            0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00)
        } else {
            high
        };
        char::from_u32(code).ok_or_else(|| self.error("a lone surrogate"))
    }

    fn hex4(&mut self) -> Result<u32, ToBsonError> {
        let digits = self
            .src
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("four hex digits"))?;
        let text = std::str::from_utf8(digits).map_err(|_| self.error("four hex digits"))?;
        let code = u32::from_str_radix(text, 16).map_err(|_| self.error("four hex digits"))?;
        self.pos += 4;
        Ok(code)
    }
}

#[cfg(test)]
#[path = "raw_tests.rs"]
mod tests;
