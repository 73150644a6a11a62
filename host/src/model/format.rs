//! [`DocumentFormat`]: the two ways event and stat documents are written, and the entry
//! points that write a message's document in either.

use super::{json, message_document, openvidu, walk, EncodedError};
use serde_json::{Map, Value};

/// How event and stat documents are written (`openvidu.analytics.document_format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentFormat {
    /// The OpenVidu fork's documents, field for field ([`openvidu`]): every number a
    /// double, zero values left out, most enums as numbers, oneofs under their Go names.
    /// Queries written against the fork keep working.
    #[default]
    Openvidu,
    /// The host's own cleaner format ([`message_document`]): integers exact (int64), every
    /// enum by name, zero enums written, oneof cases flat under their proto names,
    /// timestamps always `{seconds, nanos}`.
    Typed,
}

impl DocumentFormat {
    /// The document of `message` (protobuf full name `full_name`) in this format, `_id`
    /// first, built as a map by the reference walkers (`document.rs`, `openvidu/`); items
    /// carry [`DocumentFormat::document_text`], the same document written without a map.
    pub fn document<M: prost::Message>(
        self,
        message: &M,
        full_name: &str,
        id: &str,
    ) -> Map<String, Value> {
        match self {
            DocumentFormat::Openvidu => openvidu::message_document(message, full_name, id),
            DocumentFormat::Typed => message_document(message, full_name, id),
        }
    }

    /// The document of `message` as [`DocumentFormat::document`] builds it, as compact JSON
    /// text, written straight from the encoded message (no map in between; the same text
    /// as serializing [`DocumentFormat::document`], which a property test checks).
    pub fn document_text<M: prost::Message>(
        self,
        message: &M,
        full_name: &str,
        id: &str,
    ) -> String {
        thread_local! {
            /// The encoded message, reused from one document to the next.
            static ENCODED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        ENCODED
            .with_borrow_mut(|bytes| {
                bytes.clear();
                message.encode(bytes).expect("a Vec grows as needed");
                let text = self.encoded_document_text(bytes, full_name, id);
                if bytes.capacity() > 1 << 16 {
                    *bytes = Vec::new(); // not kept after an unusually large message
                }
                text
            })
            .expect("a message the host encoded is well-formed")
    }

    /// [`DocumentFormat::document_text`] of a message as encoded on the wire (`bytes`, of
    /// protobuf type `full_name`), read as protobuf reads it: a form a canonical encoder
    /// does not write (a singular field twice, an explicit default, two oneof cases, …) is
    /// read by prost's decoder, whose error a message it refuses gets (`docs/ingest.md`).
    pub fn encoded_document_text(
        self,
        bytes: &[u8],
        full_name: &str,
        id: &str,
    ) -> Result<String, EncodedError> {
        thread_local! {
            /// The text being written, reused from one document to the next: the walk writes
            /// into memory that is already in cache, and the document gets one exact allocation.
            static TEXT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        let index = walk::message_index(full_name);
        TEXT.with_borrow_mut(|out| {
            out.clear();
            json::write_document(self, (full_name, index), bytes, id, out)?;
            let text = out.as_str().to_owned();
            if out.capacity() > 1 << 16 {
                *out = String::new(); // not kept after an unusually large document
            }
            Ok(text)
        })
    }
}
