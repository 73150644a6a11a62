//! The fork's names: Go's names of oneofs and their cases, and the enums the fork's
//! `parseEvent` / `parseStat` / `parseEgressRequest` write by name.

use super::super::document::DESCRIPTORS;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::LazyLock;

/// Go's name of a proto identifier (`protoc-gen-go`'s `GoCamelCase`): `room_composite` →
/// `RoomComposite`, `s3` → `S3`, `aliOSS` → `AliOSS`.
pub fn go_camel_case(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'_' && i == 0 {
            out.push('X');
        } else if c == b'_' && bytes.get(i + 1).is_some_and(u8::is_ascii_lowercase) {
            // "_x" becomes "X" (below, at the next letter).
        } else if c.is_ascii_digit() {
            out.push(c as char);
        } else {
            out.push(c.to_ascii_uppercase() as char);
            while bytes.get(i + 1).is_some_and(u8::is_ascii_lowercase) {
                i += 1;
                out.push(bytes[i] as char);
            }
        }
        i += 1;
    }
    out
}

/// The named enums of documents whose root message is `root` (none for other messages).
pub(in crate::model) fn named_enums(root: &str) -> &'static [NamedEnum] {
    static EVENT: LazyLock<Vec<NamedEnum>> = LazyLock::new(|| by_root("livekit.AnalyticsEvent"));
    static STAT: LazyLock<Vec<NamedEnum>> = LazyLock::new(|| by_root("livekit.AnalyticsStat"));
    match root {
        "livekit.AnalyticsEvent" => &EVENT,
        "livekit.AnalyticsStat" => &STAT,
        _ => &[],
    }
}

/// The entries of [`NAMED_ENUMS`] under `root`.
fn by_root(root: &str) -> Vec<NamedEnum> {
    NAMED_ENUMS
        .iter()
        .filter(|n| n.root == root)
        .map(|n| NamedEnum {
            root: n.root,
            path: n.path,
            names: n.names.clone(),
            case: n.case,
        })
        .collect()
}

/// An enum the fork writes by name: where (from the document's root), and its names.
pub(in crate::model) struct NamedEnum {
    pub(super) root: &'static str,
    pub(in crate::model) path: &'static [&'static str],
    pub(in crate::model) names: HashMap<i32, String>,
    /// A oneof case (`Options.Preset`): named only when it is the case set. Other fields
    /// are named at zero too, whenever their parent is present.
    pub(in crate::model) case: bool,
}

/// Inside each of these egress requests (`egress.Request.<case>`) the fork names the preset,
/// the advanced codecs and the enums of the output lists.
const NAMED_REQUESTS: [&str; 4] = ["RoomComposite", "Web", "Participant", "TrackComposite"];

/// Every enum the fork's `parseEvent` / `parseStat` / `parseEgressRequest` names. `[]` in a
/// path steps into every element of a list.
pub(super) static NAMED_ENUMS: LazyLock<Vec<NamedEnum>> = LazyLock::new(|| {
    const EVENT: &str = "livekit.AnalyticsEvent";
    let mut list = vec![
        (EVENT, &["type"][..], "livekit.AnalyticsEventType"),
        (
            EVENT,
            &["participant", "state"],
            "livekit.ParticipantInfo.State",
        ),
        (EVENT, &["client_info", "sdk"], "livekit.ClientInfo.SDK"),
        (EVENT, &["egress", "status"], "livekit.EgressStatus"),
        (
            EVENT,
            &["ingress", "state", "status"],
            "livekit.IngressState.Status",
        ),
        (EVENT, &["track", "source"], "livekit.TrackSource"),
        ("livekit.AnalyticsStat", &["kind"], "livekit.StreamType"),
    ];
    for request in NAMED_REQUESTS {
        let at = |rest: &'static [&'static str]| -> &'static [&'static str] {
            let mut path = vec!["egress", "Request", request];
            path.extend_from_slice(rest);
            Box::leak(path.into_boxed_slice())
        };
        list.extend([
            (
                EVENT,
                at(&["Options", "Preset"]),
                "livekit.EncodingOptionsPreset",
            ),
            (
                EVENT,
                at(&["Options", "Advanced", "audio_codec"]),
                "livekit.AudioCodec",
            ),
            (
                EVENT,
                at(&["Options", "Advanced", "video_codec"]),
                "livekit.VideoCodec",
            ),
            (
                EVENT,
                at(&["file_outputs", "[]", "file_type"]),
                "livekit.EncodedFileType",
            ),
            (
                EVENT,
                at(&["stream_outputs", "[]", "protocol"]),
                "livekit.StreamProtocol",
            ),
            (
                EVENT,
                at(&["segment_outputs", "[]", "protocol"]),
                "livekit.SegmentedFileProtocol",
            ),
            (
                EVENT,
                at(&["segment_outputs", "[]", "filename_suffix"]),
                "livekit.SegmentedFileSuffix",
            ),
            (
                EVENT,
                at(&["image_outputs", "[]", "filename_suffix"]),
                "livekit.ImageFileSuffix",
            ),
            (
                EVENT,
                at(&["image_outputs", "[]", "image_codec"]),
                "livekit.ImageCodec",
            ),
        ]);
    }
    list.into_iter()
        .map(|(root, path, enum_name)| {
            let names = DESCRIPTORS
                .get_enum_by_name(enum_name)
                .unwrap_or_else(|| panic!("`{enum_name}` is not in the LiveKit protocol"))
                .values()
                .map(|v| (v.number(), v.name().to_string()))
                .collect();
            let case = path.ends_with(&["Options", "Preset"]);
            NamedEnum {
                root,
                path,
                names,
                case,
            }
        })
        .collect()
});

/// Replaces the number at `path` by its name, writing the zero value's name when the field
/// is absent but its parent is present.
pub(super) fn name_enum(object: &mut Map<String, Value>, path: &[&str], named: &NamedEnum) {
    let (first, rest) = path.split_first().expect("paths are not empty");
    if rest.is_empty() {
        let number = match object.get(*first) {
            Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0) as i32,
            None if !named.case => 0,
            _ => return,
        };
        let name = named
            .names
            .get(&number)
            .cloned()
            .unwrap_or_else(|| number.to_string());
        object.insert((*first).to_string(), Value::String(name));
        return;
    }
    match (object.get_mut(*first), rest) {
        (Some(Value::Array(items)), [list, tail @ ..]) if *list == "[]" && !tail.is_empty() => {
            for item in items {
                if let Value::Object(item) = item {
                    name_enum(item, tail, named);
                }
            }
        }
        (Some(Value::Object(child)), _) => name_enum(child, rest, named),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_names() {
        assert_eq!(go_camel_case("room_composite"), "RoomComposite");
        assert_eq!(go_camel_case("s3"), "S3");
        assert_eq!(go_camel_case("aliOSS"), "AliOSS");
        assert_eq!(go_camel_case("websocket_url"), "WebsocketUrl");
        assert_eq!(go_camel_case("dispatch_rule_direct"), "DispatchRuleDirect");
        assert_eq!(go_camel_case("request"), "Request");
    }

    #[test]
    fn every_named_enum_exists() {
        assert_eq!(NAMED_ENUMS.len(), 7 + 4 * 9);
        assert!(NAMED_ENUMS.iter().all(|n| !n.names.is_empty()));
    }
}
