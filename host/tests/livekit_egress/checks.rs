//! The checks of `livekit_egress.rs`'s stored documents against what livekit-server's API
//! answered (see `drive.rs`), in the fork's document shape: the request under
//! `Request.<Go oneof name>`, status names as strings.

use crate::drive::{Happened, FILEPATH};
use serde_json::Value;

/// The string at `path` in `doc`; panics (with the document) when there is none.
fn str_at<'a>(doc: &'a Value, path: &[&str]) -> &'a str {
    path.iter()
        .fold(doc, |v, k| &v[*k])
        .as_str()
        .unwrap_or_else(|| panic!("no string at {path:?} in {doc}"))
}

/// Each egress has its STARTED, UPDATED (active, ending; UpdateStream) and ENDED
/// documents, with its id, room, status name, request options and outputs.
pub fn check_egress_documents(docs: &[&Value], happened: &Happened) {
    for (key, info) in &happened.egresses {
        let id = info.egress_id.as_str();
        let mine: Vec<&Value> = docs
            .iter()
            .copied()
            .filter(|d| d["egress_id"] == id)
            .collect();
        let statuses: Vec<(&str, &str)> = mine
            .iter()
            .map(|d| (str_at(d, &["type"]), str_at(d, &["egress", "status"])))
            .collect();
        let mut want = vec![
            ("EGRESS_STARTED", "EGRESS_STARTING"),
            ("EGRESS_UPDATED", "EGRESS_ACTIVE"),
            ("EGRESS_UPDATED", "EGRESS_ENDING"),
            ("EGRESS_ENDED", "EGRESS_COMPLETE"),
        ];
        if *key == "RoomComposite" {
            want.insert(2, ("EGRESS_UPDATED", "EGRESS_ACTIVE"));
        }
        let mut sorted = statuses.clone();
        sorted.sort_by_key(|(t, s)| (want.iter().position(|w| w == &(*t, *s)), *t));
        assert_eq!(sorted, want, "egress {id} ({key}): documents {statuses:?}");
        for doc in &mine {
            assert_eq!(str_at(doc, &["egress", "egress_id"]), id, "{doc}");
            let request = &doc["egress"]["Request"][key];
            assert!(request.is_object(), "egress {id}: no Request.{key}: {doc}");
            if *key == "Web" {
                assert!(
                    doc.get("room_id").is_none(),
                    "a web egress has no room: {doc}"
                );
                assert_eq!(request["url"], "https://page.invalid/board", "{doc}");
            } else {
                assert_eq!(str_at(doc, &["room_id"]), happened.room_sid, "{doc}");
                assert_eq!(
                    str_at(doc, &["egress", "room_id"]),
                    happened.room_sid,
                    "{doc}"
                );
                assert_eq!(
                    str_at(doc, &["egress", "room_name"]),
                    happened.room,
                    "{doc}"
                );
                assert_eq!(request["room_name"], happened.room.as_str(), "{doc}");
            }
            match *key {
                "RoomComposite" => {
                    assert_eq!(request["layout"], "grid", "{doc}");
                    assert_eq!(request["file_outputs"][0]["file_type"], "MP4", "{doc}");
                    assert_eq!(request["file_outputs"][0]["filepath"], FILEPATH, "{doc}");
                    assert!(request["stream_outputs"][0]["urls"][0].is_string(), "{doc}");
                }
                "Participant" => {
                    assert_eq!(request["identity"], "speaker", "{doc}");
                    assert_eq!(
                        request["segment_outputs"][0]["filename_prefix"], "segments/speaker",
                        "{doc}"
                    );
                }
                "Track" => {
                    assert_eq!(request["track_id"], "TR_camera", "{doc}");
                    assert!(request["Output"]["WebsocketUrl"].is_string(), "{doc}");
                }
                _ => {}
            }
            // The fork names only the enums its parseEvent names: the source type stays
            // a number (SDK = 1; WEB = 0 is left out), as Go's JSON writes it.
            let sdk = ["Participant", "Track"].contains(key);
            let source = doc["egress"]["source_type"].as_f64();
            assert_eq!(source, sdk.then_some(1.0), "source_type: {doc}");
            // The deprecated single result, under its Go name, when there is one output.
            match *key {
                "Web" => assert!(doc["egress"]["Result"]["File"].is_object(), "{doc}"),
                "Participant" => {
                    assert!(doc["egress"]["Result"]["Segments"].is_object(), "{doc}")
                }
                _ => assert!(doc["egress"]["Result"].is_null(), "{doc}"),
            }
        }
        let ended = mine.iter().find(|d| d["type"] == "EGRESS_ENDED").unwrap();
        let egress = &ended["egress"];
        for (i, file) in info.file_results.iter().enumerate() {
            assert_eq!(
                egress["file_results"][i]["filename"],
                file.filename.as_str(),
                "{ended}"
            );
            assert!(
                egress["file_results"][i]["duration"].as_f64() > Some(0.0),
                "{ended}"
            );
        }
        for (i, stream) in info.stream_results.iter().enumerate() {
            assert_eq!(
                egress["stream_results"][i]["url"],
                stream.url.as_str(),
                "{ended}"
            );
        }
        for (i, segments) in info.segment_results.iter().enumerate() {
            let name = segments.playlist_name.as_str();
            assert_eq!(
                egress["segment_results"][i]["playlist_name"], name,
                "{ended}"
            );
        }
        assert!(egress["ended_at"].as_f64() > Some(0.0), "{ended}");
        assert!(
            str_at(egress, &["details"]).contains("StopEgress"),
            "{ended}"
        );
    }
}

/// The pull ingress has CREATED, UPDATED, STARTED, ENDED and DELETED documents, the RTMP
/// one CREATED and DELETED, each with its id, state status name and resource id.
pub fn check_ingress_documents(docs: &[&Value], happened: &Happened) {
    let pull = &happened.pull;
    let resource = pull.state.as_ref().unwrap().resource_id.as_str();
    for (info, want) in [
        (
            pull,
            vec![
                ("INGRESS_CREATED", "ENDPOINT_BUFFERING"),
                ("INGRESS_UPDATED", "ENDPOINT_BUFFERING"),
                ("INGRESS_STARTED", "ENDPOINT_PUBLISHING"),
                ("INGRESS_ENDED", "ENDPOINT_COMPLETE"),
                ("INGRESS_DELETED", "ENDPOINT_INACTIVE"),
            ],
        ),
        (
            &happened.rtmp,
            vec![
                ("INGRESS_CREATED", "ENDPOINT_INACTIVE"),
                ("INGRESS_DELETED", "ENDPOINT_INACTIVE"),
            ],
        ),
    ] {
        let id = info.ingress_id.as_str();
        let mine: Vec<&Value> = docs
            .iter()
            .copied()
            .filter(|d| d["ingress_id"] == id)
            .collect();
        let mut got: Vec<(&str, &str)> = mine
            .iter()
            .map(|d| {
                (
                    str_at(d, &["type"]),
                    str_at(d, &["ingress", "state", "status"]),
                )
            })
            .collect();
        got.sort_by_key(|g| want.iter().position(|w| w == g));
        assert_eq!(got, want, "ingress {id}");
        for doc in &mine {
            let ingress = &doc["ingress"];
            assert_eq!(str_at(ingress, &["ingress_id"]), id, "{doc}");
            assert_eq!(str_at(ingress, &["room_name"]), happened.room, "{doc}");
            assert_eq!(
                str_at(ingress, &["participant_identity"]),
                info.participant_identity,
                "{doc}"
            );
            if info.ingress_id == pull.ingress_id {
                assert_eq!(
                    str_at(ingress, &["state", "resource_id"]),
                    resource,
                    "{doc}"
                );
                assert_eq!(str_at(ingress, &["url"]), pull.url, "{doc}");
                // Not named by the fork: URL_INPUT stays the number 2.
                assert_eq!(ingress["input_type"].as_f64(), Some(2.0), "{doc}");
            } else {
                // RTMP_INPUT is 0: left out, as Go's JSON leaves out zeros.
                assert!(ingress.get("input_type").is_none(), "{doc}");
                assert!(ingress["reusable"].as_bool().unwrap_or(false), "{doc}");
            }
            if str_at(doc, &["type"]) == "INGRESS_DELETED" && info.ingress_id != pull.ingress_id {
                let name = str_at(ingress, &["name"]);
                assert_eq!(name, "rtmp-renamed", "the update is in the deletion: {doc}");
            }
            let kind = str_at(doc, &["type"]);
            if info.ingress_id == pull.ingress_id
                && ["INGRESS_STARTED", "INGRESS_ENDED"].contains(&kind)
            {
                assert_eq!(
                    str_at(ingress, &["state", "room_id"]),
                    happened.room_sid,
                    "{doc}"
                );
            }
        }
    }
}
