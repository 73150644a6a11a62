//! The BSON written from the text against the reference's (the text parsed into a map,
//! converted, serialized by the `bson` crate): byte for byte.

use super::super::{json_to_bson, EXPIRE_FIELD};
use super::*;
use bson::{Bson, Document};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn date() -> bson::DateTime {
    bson::DateTime::from_millis(1_764_000_000_123)
}

/// The reference's bytes for `text`.
fn reference(text: &str) -> Vec<u8> {
    let map: Map<String, Value> = serde_json::from_str(text).unwrap();
    let mut doc = Document::new();
    for (key, value) in &map {
        doc.insert(key.clone(), json_to_bson(value));
    }
    doc.insert(EXPIRE_FIELD, Bson::DateTime(date()));
    RawDocumentBuf::from_document(&doc).unwrap().into_bytes()
}

fn ours(text: &str) -> Vec<u8> {
    document(text, (EXPIRE_FIELD, date())).unwrap().into_bytes()
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from), // NaN and infinities become null
        prop_oneof![Just(-0.0), Just(1e300), Just(5e-324), Just(2f64.powi(63))]
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        "[\"\\\\\u{0}-\u{1f}é😀\u{2028}a-z]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

/// Any key BSON can hold (no NUL).
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>().prop_map(|k| k.replace('\0', "")),
        "[a-z_\"\\\\\u{1}é]{0,6}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn bson_from_text_is_the_references(
        members in prop::collection::vec((key(), json()), 0..8),
    ) {
        let text = serde_json::to_string(&Value::Object(members.into_iter().collect())).unwrap();
        prop_assert_eq!(ours(&text), reference(&text), "{}", text);
    }
}

#[test]
fn numbers_take_the_references_types() {
    for text in [
        r#"{"a":0,"b":-0,"c":-0.0,"d":9223372036854775807,"e":9223372036854775808}"#,
        r#"{"a":-9223372036854775808,"b":-9223372036854775809,"c":18446744073709551615}"#,
        r#"{"a":18446744073709551616,"b":-18446744073709551616,"c":1e5,"d":1E-5,"e":2.50}"#,
        r#"{"a":123456789012345678901234567890,"b":0.1,"c":1e-45,"d":[1,2.0,-3]}"#,
        r#"{ "a" : "\u00e9\ud83d\ude00\/\b\f\n\r\t\"\\" , "b" : { } , "c" : [ ] , "d" : null }"#,
        r#"{"a":1,"openvidu_expire_at":"x","b":{"openvidu_expire_at":2}}"#,
    ] {
        assert_eq!(ours(text), reference(text), "{text}");
    }
}

#[test]
fn what_bson_cannot_hold_is_an_error() {
    for text in [
        r#"{"a\u0000b":1}"#,
        r#"[1]"#,
        r#"{"a":1"#,
        r#"{"a":"\ud800"}"#,
        r#"{"a":tru}"#,
    ] {
        assert!(document(text, (EXPIRE_FIELD, date())).is_err(), "{text}");
    }
}
