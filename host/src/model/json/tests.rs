//! The text writers against their reference walkers (the map builders of `document.rs`
//! and `openvidu/`, serialized by `serde_json`): byte for byte, on random messages.
//!
//! A message is generated from the schema by a seeded generator; proptest draws the seed,
//! how densely fields are set and how deep messages nest, and shrinks a failure towards
//! sparser, shallower messages.

use super::super::{openvidu, DocumentFormat, DESCRIPTORS};
use livekit_protocol::{AnalyticsEvent, AnalyticsStat};
use proptest::prelude::*;
use prost::Message as _;
use prost_reflect::{DynamicMessage, Kind, MapKey, MessageDescriptor, Value as Field};

/// Both formats' text of `message` against the reference's, byte for byte.
fn check<M: prost::Message>(message: &M, full_name: &str) -> Result<(), TestCaseError> {
    let id = "0123456789abcdef0123456789abcdef";
    for format in [DocumentFormat::Openvidu, DocumentFormat::Typed] {
        let reference = serde_json::to_string(&format.document(message, full_name, id)).unwrap();
        let text = format.document_text(message, full_name, id);
        prop_assert_eq!(&text, &reference, "{:?} {}", format, full_name);
    }
    Ok(())
}

/// What the generator may produce.
#[derive(Debug, Clone, Copy)]
pub(in crate::model) struct Shape {
    seed: u64,
    /// Chance (percent) that a field is set.
    density: u8,
    max_depth: usize,
}

pub(in crate::model) fn shapes() -> impl Strategy<Value = Shape> {
    (any::<u64>(), 0u8..=100, 0usize..=6).prop_map(|(seed, density, max_depth)| Shape {
        seed,
        density,
        max_depth,
    })
}

pub(in crate::model) fn random(shape: Shape, name: &str) -> Vec<u8> {
    let descriptor = DESCRIPTORS.get_message_by_name(name).unwrap();
    let mut rng = fastrand::Rng::with_seed(shape.seed);
    message(&mut rng, shape, &descriptor, 0).encode_to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn events_are_written_as_the_reference_writes_them(shape in shapes()) {
        let event = AnalyticsEvent::decode(&random(shape, "livekit.AnalyticsEvent")[..]).unwrap();
        check(&event, "livekit.AnalyticsEvent")?;
    }

    #[test]
    fn stats_are_written_as_the_reference_writes_them(shape in shapes()) {
        let stat = AnalyticsStat::decode(&random(shape, "livekit.AnalyticsStat")[..]).unwrap();
        check(&stat, "livekit.AnalyticsStat")?;
    }
}

#[test]
fn every_livekit_message_is_written_as_the_reference_writes_it() {
    let mut compared = 0;
    for descriptor in DESCRIPTORS.all_messages() {
        if descriptor.is_map_entry() {
            continue;
        }
        for seed in 0..10 {
            let shape = Shape {
                seed,
                density: 50,
                max_depth: 3,
            };
            let mut rng = fastrand::Rng::with_seed(seed);
            let dynamic = message(&mut rng, shape, &descriptor, 0);
            check(&dynamic, descriptor.full_name()).unwrap();
            compared += 1;
        }
    }
    assert!(compared > 1000, "only {compared} messages compared");
}

/// The float shortcut writes what the two-step path (shortest decimal, read back as a
/// double, written as a double) writes: random bit patterns, scores, and the range's edges.
#[test]
fn floats_are_written_as_the_double_of_their_shortest_decimal() {
    let mut rng = fastrand::Rng::with_seed(5);
    let mut values: Vec<f32> = (0..1_000_000)
        .map(|_| f32::from_bits(rng.u32(..)))
        .collect();
    values.extend((0..200_000).map(|_| rng.f32() * 5.0));
    for edge in [1e-4f32, 1e9, 1e7, 1e8, 0.001, 16_777_216.0, 123_456_790.0] {
        let mut n = edge;
        for _ in 0..50 {
            values.extend([n, -n]);
            n = f32::from_bits(n.to_bits() - 1);
        }
        let mut n = edge;
        for _ in 0..50 {
            values.extend([n, -n]);
            n = f32::from_bits(n.to_bits() + 1);
        }
    }
    values.extend([
        0.0,
        -0.0,
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::NAN,
        f32::INFINITY,
    ]);
    for n in values {
        let (mut fast, mut slow) = (String::new(), String::new());
        super::push_f32(&mut fast, n);
        super::push_f64(&mut slow, super::super::walk::shortest_f64(n));
        assert_eq!(fast, slow, "{n:?} ({:#x})", n.to_bits());
    }
}

#[test]
fn whole_doubles_are_written_as_serde_json_writes_them() {
    let mut rng = fastrand::Rng::with_seed(3);
    let mut values: Vec<f64> = (-2000..2000).map(f64::from).collect();
    for exponent in 0..=17 {
        let p = 10f64.powi(exponent);
        values.extend([p - 1.0, p, p + 1.0, -p, 2.0 * p, 0.5 * p, p - 0.5]);
    }
    values.extend((0..20_000).map(|_| rng.i64(-1 << 53..1 << 53) as f64));
    values.extend([
        0.0,
        -0.0,
        1e15 - 0.5,
        999_999_999_999_999.0,
        f64::MAX,
        2f64.powi(63),
    ]);
    for n in values {
        let mut ours = String::new();
        super::push_f64(&mut ours, n);
        assert_eq!(ours, serde_json::to_string(&n).unwrap(), "{n:?}");
    }
}

#[test]
fn the_generator_reaches_every_named_enum() {
    let keys = [
        "type",
        "state",
        "sdk",
        "status",
        "source",
        "Preset",
        "audio_codec",
        "video_codec",
        "file_type",
        "protocol",
        "filename_suffix",
        "image_codec",
    ];
    let mut seen = [0; 12];
    for seed in 0..300 {
        let shape = Shape {
            seed,
            density: 70,
            max_depth: 6,
        };
        let event = AnalyticsEvent::decode(&random(shape, "livekit.AnalyticsEvent")[..]).unwrap();
        let text = DocumentFormat::Openvidu.document_text(&event, "livekit.AnalyticsEvent", "x");
        for (key, seen) in keys.iter().zip(&mut seen) {
            *seen += usize::from(text.contains(&format!("\"{key}\":\"")));
        }
    }
    assert!(seen.iter().all(|&n| n > 0), "{keys:?}: {seen:?}");
}

#[test]
fn named_enums_at_zero_and_oneof_cases() {
    let empty = AnalyticsEvent::default();
    let text = DocumentFormat::Openvidu.document_text(&empty, "livekit.AnalyticsEvent", "x");
    assert_eq!(text, r#"{"_id":"x","type":"ROOM_CREATED"}"#);
    let reference = openvidu::message_document(&empty, "livekit.AnalyticsEvent", "x");
    assert_eq!(text, serde_json::to_string(&reference).unwrap());
}

fn message(
    rng: &mut fastrand::Rng,
    shape: Shape,
    descriptor: &MessageDescriptor,
    depth: usize,
) -> DynamicMessage {
    let mut message = DynamicMessage::new(descriptor.clone());
    for field in descriptor.fields() {
        if rng.u8(..100) >= shape.density {
            continue;
        }
        let kind = field.kind();
        if depth >= shape.max_depth && matches!(kind, Kind::Message(_)) {
            continue;
        }
        let value = if field.is_map() {
            let entry = kind.as_message().unwrap().clone();
            let (k, v) = (
                entry.map_entry_key_field().kind(),
                entry.map_entry_value_field().kind(),
            );
            if depth >= shape.max_depth && matches!(v, Kind::Message(_)) {
                continue;
            }
            Field::Map(
                (0..rng.usize(0..4))
                    .map(|_| (map_key(rng, &k), value(rng, shape, &v, depth)))
                    .collect(),
            )
        } else if field.is_list() {
            Field::List(
                (0..rng.usize(0..4))
                    .map(|_| value(rng, shape, &kind, depth))
                    .collect(),
            )
        } else {
            value(rng, shape, &kind, depth)
        };
        message.set_field(&field, value);
    }
    message
}

/// A random value of `kind`, extremes and zeros often.
fn value(rng: &mut fastrand::Rng, shape: Shape, kind: &Kind, depth: usize) -> Field {
    let pick = rng.u8(..8);
    match kind {
        Kind::Double => Field::F64(match pick {
            0 => 0.0,
            1 => [-0.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY][rng.usize(..4)],
            2 => [f64::MAX, f64::MIN, f64::MIN_POSITIVE, 5e-324, 1e21, 1e-7][rng.usize(..6)],
            3 => f64::from_bits(rng.u64(..)),
            4 => rng.i64(..) as f64,
            _ => (rng.f64() - 0.5) * 10f64.powi(rng.i32(-10..20)),
        }),
        Kind::Float => Field::F32(match pick {
            0 => 0.0,
            1 => [-0.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY][rng.usize(..4)],
            2 => [f32::MAX, f32::MIN, f32::MIN_POSITIVE, 1e-45, 4.3, 0.1][rng.usize(..6)],
            3 => f32::from_bits(rng.u32(..)),
            _ => (rng.f32() - 0.5) * 10f32.powi(rng.i32(-10..10)),
        }),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Field::I32([0, 1, -1, i32::MIN, i32::MAX, rng.i32(..), rng.i32(..), 7][pick as usize])
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Field::I64(
            [
                0,
                1,
                -1,
                i64::MIN,
                i64::MAX,
                rng.i64(..),
                1 << 53,
                (1 << 53) + 1,
            ][pick as usize],
        ),
        Kind::Uint32 | Kind::Fixed32 => {
            Field::U32([0, 1, u32::MAX, rng.u32(..), rng.u32(..), 7, 1 << 31, 2][pick as usize])
        }
        Kind::Uint64 | Kind::Fixed64 => {
            Field::U64([0, 1, u64::MAX, rng.u64(..), 1 << 63, (1 << 53) + 1, 7, 9][pick as usize])
        }
        Kind::Bool => Field::Bool(rng.bool()),
        Kind::String => Field::String(text(rng)),
        Kind::Bytes => Field::Bytes((0..rng.usize(0..10)).map(|_| rng.u8(..)).collect()),
        Kind::Enum(e) => {
            let values: Vec<i32> = e.values().map(|v| v.number()).collect();
            Field::EnumNumber(match pick {
                0 => rng.i32(..),
                1 => 0,
                _ => values[rng.usize(..values.len())],
            })
        }
        Kind::Message(m) => Field::Message(message(rng, shape, m, depth + 1)),
    }
}

fn map_key(rng: &mut fastrand::Rng, kind: &Kind) -> MapKey {
    match kind {
        Kind::String => MapKey::String(text(rng)),
        Kind::Bool => MapKey::Bool(rng.bool()),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => MapKey::I32(rng.i32(..)),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => MapKey::I64(rng.i64(..)),
        Kind::Uint32 | Kind::Fixed32 => MapKey::U32(rng.u32(..)),
        _ => MapKey::U64(rng.u64(..)),
    }
}

/// Empty now and then; otherwise quotes, backslashes, control characters, multi-byte and
/// astral characters, U+2028, and any character at all.
fn text(rng: &mut fastrand::Rng) -> String {
    const SPECIAL: [char; 14] = [
        '"', '\\', '\n', '\r', '\t', '\u{0}', '\u{8}', '\u{c}', '\u{1f}', '\u{7f}', 'é', '€', '😀',
        '\u{2028}',
    ];
    (0..rng.usize(0..12))
        .map(|_| match rng.u8(..3) {
            0 => SPECIAL[rng.usize(..SPECIAL.len())],
            1 => rng.alphanumeric(),
            _ => rng.char(..),
        })
        .collect()
}
