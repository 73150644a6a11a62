//! The read API of a real `analytics-host run` over MongoDB and over the file store's
//! SQLite index: sessions folded from the events sent through the gRPC door, one page at a
//! time, a room's detail, its call quality from the stats, and the errors (unknown sid 404,
//! bad parameters 400). Both backends and both document formats give the same answers.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::ingest::grpc::AnalyticsRecorderServiceClient;
use futures::stream;
use kit::items::ts;
use kit::process::HostProcess;
use kit::servers::matrix::Wire;
use kit::wait_until;
use livekit_protocol::{
    AnalyticsEvent, AnalyticsEventType as Type, AnalyticsEvents, AnalyticsStat, AnalyticsStats,
    AnalyticsStream, ApiCallInfo, DisconnectReason, ParticipantInfo, Room, RoomEndReason,
    StreamType, TrackInfo, TrackType, WebhookInfo,
};
use serde_json::Value;
use std::time::Duration;

const T0: i64 = 1_764_280_000;

fn event(kind: Type, second: i64, room: &str, participant: &str, track: &str) -> AnalyticsEvent {
    AnalyticsEvent {
        r#type: kind as i32,
        timestamp: ts(T0 + second, 0),
        room_id: room.into(),
        room: Some(Room {
            sid: room.into(),
            name: format!("name-of-{room}"),
            ..Default::default()
        }),
        participant_id: participant.into(),
        participant: (!participant.is_empty()).then(|| ParticipantInfo {
            sid: participant.into(),
            identity: format!("id-{participant}"),
            ..Default::default()
        }),
        track_id: track.into(),
        track: (!track.is_empty()).then(|| TrackInfo {
            sid: track.into(),
            r#type: TrackType::Video as i32,
            mime_type: "video/VP8".into(),
            ..Default::default()
        }),
        node_id: "ND_api".into(),
        ..Default::default()
    }
}

/// A stat of room A's track `TR_1` at `second`: `PA_1` sending it (upstream) or `PA_2`
/// receiving it (downstream), over the 5 s before.
fn stat(second: i64, participant: &str, score: f32, lost: u32) -> AnalyticsStat {
    AnalyticsStat {
        kind: if participant == "PA_1" {
            StreamType::Upstream
        } else {
            StreamType::Downstream
        } as i32,
        time_stamp: ts(T0 + second, 0),
        node: "ND_api".into(),
        room_id: "RM_A".into(),
        room_name: "name-of-RM_A".into(),
        participant_id: participant.into(),
        track_id: "TR_1".into(),
        score,
        min_score: score - 0.5,
        streams: vec![AnalyticsStream {
            ssrc: 7,
            primary_packets: 1000 - lost,
            primary_bytes: 625_000,
            packets_lost: lost,
            rtt: 30 + second as u32,
            jitter: 4,
            start_time: ts(T0 + second - 5, 0),
            end_time: ts(T0 + second, 0),
            ..Default::default()
        }],
        mime: "video/VP8".into(),
        ..Default::default()
    }
}

/// Room A's stats: two buckets of 10 s for the sender, one for the receiver.
fn stats() -> Vec<AnalyticsStat> {
    vec![
        stat(5, "PA_1", 4.5, 0),
        stat(8, "PA_1", 3.5, 20),
        stat(15, "PA_1", 2.0, 100),
        stat(9, "PA_2", 4.0, 10),
    ]
}

/// Room A ends; room B, created later, is still open; room C is outside the range asked.
fn story() -> Vec<AnalyticsEvent> {
    vec![
        event(Type::RoomCreated, 0, "RM_A", "", ""),
        event(Type::ParticipantJoined, 1, "RM_A", "PA_1", ""),
        event(Type::TrackPublished, 2, "RM_A", "PA_1", "TR_1"),
        event(Type::ParticipantJoined, 3, "RM_A", "PA_2", ""),
        event(Type::TrackUnpublished, 40, "RM_A", "PA_1", "TR_1"),
        AnalyticsEvent {
            participant: Some(ParticipantInfo {
                sid: "PA_1".into(),
                identity: "id-PA_1".into(),
                disconnect_reason: DisconnectReason::ClientInitiated as i32,
                ..Default::default()
            }),
            ..event(Type::ParticipantLeft, 41, "RM_A", "PA_1", "")
        },
        event(Type::RoomEnded, 60, "RM_A", "", ""),
        event(Type::RoomCreated, 100, "RM_B", "", ""),
        event(Type::ParticipantJoined, 101, "RM_B", "PA_3", ""),
        event(Type::RoomCreated, 90_000, "RM_C", "", ""),
    ]
}

/// Room D, far outside the range asked, with what livekit-server reports since the fork's
/// protocol: an aborted join, two webhook deliveries (one failed) and an API call, which
/// name the room only inside, and why the room ended.
fn newer_story() -> Vec<AnalyticsEvent> {
    let at = |second: i64| ts(T0 + 80_000 + second, 0);
    let webhook = |second: i64, event: &str, status: i32| AnalyticsEvent {
        r#type: Type::Webhook as i32,
        timestamp: at(second),
        webhook: Some(WebhookInfo {
            event: event.into(),
            room_id: "RM_D".into(),
            room_name: "name-of-RM_D".into(),
            participant_identity: "id-PA_5".into(),
            url: "http://hooks.example/lk".into(),
            queue_duration_ns: 1_500_000,
            send_duration_ns: 30_000_000,
            http_status_code: status,
            ..Default::default()
        }),
        ..Default::default()
    };
    vec![
        event(Type::RoomCreated, 80_000, "RM_D", "", ""),
        event(Type::ParticipantJoined, 80_001, "RM_D", "PA_5", ""),
        event(
            Type::ParticipantConnectionAborted,
            80_002,
            "RM_D",
            "PA_6",
            "",
        ),
        webhook(3, "participant_joined", 502),
        webhook(4, "room_started", 200),
        AnalyticsEvent {
            r#type: Type::ApiCall as i32,
            timestamp: at(5),
            api_call: Some(ApiCallInfo {
                service: "RoomService".into(),
                method: "RemoveParticipant".into(),
                status: 404,
                twirp_error_code: "not_found".into(),
                twirp_error_message: "participant not found".into(),
                room_id: "RM_D".into(),
                participant_identity: "id-PA_9".into(),
                duration_ns: 2_000_000,
                ..Default::default()
            }),
            ..Default::default()
        },
        AnalyticsEvent {
            room_end_reason: RoomEndReason::RoomEndApiDelete as i32,
            ..event(Type::RoomEnded, 80_010, "RM_D", "", "")
        },
    ]
}

async fn get(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.expect("the API answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    let body =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text}"));
    (status, body)
}

/// Where the API reads from in a run of [`answers`].
enum Store {
    Mongo(Wire),
    Embedded,
}

/// Runs a host storing in `format` (into a fresh MongoDB, or only into the file store and
/// its index), sends the story, and returns the answers of the API to the questions below
/// (after checking the errors).
async fn answers(format: &str, store: Store) -> Vec<Value> {
    let mongo = match &store {
        Store::Mongo(wire) => Some(wire.start()),
        Store::Embedded => None,
    };
    let mongo_url = match &mongo {
        Some(server) => format!("    mongo_url: \"{}\"\n", server.url()),
        None => String::new(),
    };
    let mut host = HostProcess::spawn(&format!("{mongo_url}    document_format: {format}\n"));
    host.wait_healthy().await;
    let mut client = AnalyticsRecorderServiceClient::connect(host.grpc_url())
        .await
        .unwrap();
    let message = AnalyticsEvents {
        events: story().into_iter().chain(newer_story()).collect(),
    };
    client.ingest_events(stream::iter([message])).await.unwrap();
    let message = AnalyticsStats { stats: stats() };
    client.ingest_stats(stream::iter([message])).await.unwrap();
    let api = format!("{}/api", host.telemetry());
    let range = format!("from={}&to={}", T0 - 10, T0 + 1000);
    wait_until("the story stored", Duration::from_secs(20), || {
        let url = format!("{api}/rooms/RM_A");
        async move { get(&url).await.1["session"]["events"] == 7 }
    })
    .await;
    wait_until("room D stored", Duration::from_secs(20), || {
        let url = format!("{api}/rooms/RM_D");
        async move { get(&url).await.1["timeline"].as_array().map(Vec::len) == Some(7) }
    })
    .await;
    wait_until("the stats stored", Duration::from_secs(20), || {
        let url = format!("{api}/rooms/RM_A/quality");
        async move { get(&url).await.1["stats"] == 4 }
    })
    .await;

    let (status, all) = get(&format!("{api}/rooms?{range}")).await;
    assert_eq!(status, 200, "{all}");
    let (status, first) = get(&format!("{api}/rooms?{range}&limit=1")).await;
    assert_eq!(status, 200, "{first}");
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let (status, second) = get(&format!("{api}/rooms?{range}&limit=1&cursor={cursor}")).await;
    assert_eq!(status, 200, "{second}");
    assert!(second.get("next_cursor").is_none(), "{second}");
    let (_, named) = get(&format!("{api}/rooms?{range}&name=name-of-RM_A")).await;
    let (status, detail) = get(&format!("{api}/rooms/RM_A")).await;
    assert_eq!(status, 200, "{detail}");
    let (status, newer) = get(&format!("{api}/rooms/RM_D")).await;
    assert_eq!(status, 200, "{newer}");
    let (status, quality) = get(&format!("{api}/rooms/RM_A/quality?bucket=10s")).await;
    assert_eq!(status, 200, "{quality}");
    let (status, minute) = get(&format!("{api}/rooms/RM_A/quality?bucket=60")).await;
    assert_eq!(status, 200, "{minute}");
    for bad in ["bucket=0s", "bucket=2h", "bucket=soon", "colour=red"] {
        let (status, body) = get(&format!("{api}/rooms/RM_A/quality?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, body) = get(&format!("{api}/rooms/RM_nope/quality")).await;
    assert_eq!(status, 404, "{body}");
    let (status, person) = get(&format!("{api}/participants?identity=id-PA_1&{range}")).await;
    assert_eq!(status, 200, "{person}");
    let (status, health) = get(&format!("{api}/health")).await;
    assert_eq!(status, 200, "{health}");
    let file = health["sinks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "file")
        .unwrap_or_else(|| panic!("{health}"));
    assert_eq!(
        (file["stored"].as_u64(), file["queued"].as_u64()),
        (Some(21), Some(0)),
        "{health}"
    );
    assert!(file["recent"].is_array(), "{health}");
    let (status, _) = get(&format!("{api}/participants?{range}")).await;
    assert_eq!(status, 400, "identity is required");

    let (status, body) = get(&format!("{api}/rooms/RM_nope")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("no events stored for room `RM_nope`"))
    );
    for bad in [
        "limit=0",
        "limit=many",
        "from=yesterday",
        "cursor=xyz",
        // `NaN:x`, `inf:x`, `1e400:x`: cursors with a start no session has.
        "cursor=TmFOOng",
        "cursor=aW5mOng",
        "cursor=MWU0MDA6eA",
        "colour=red",
    ] {
        let (status, body) = get(&format!("{api}/rooms?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{bad}: {body}"
        );
    }
    let (status, body) = get(&format!("{api}/rooms?from={}&to={}", T0 + 5, T0)).await;
    assert_eq!(status, 400, "{body}");
    // A sid that is not UTF-8 once decoded: the JSON 400 of docs/api.md, not plain text.
    for path in ["rooms/%ff%fe", "rooms/%ff%fe/quality"] {
        let (status, body) = get(&format!("{api}/{path}")).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains("sid")),
            "{path}: {body}"
        );
    }
    assert_eq!(host.stop(), Some(0));
    vec![
        all, first, second, named, detail, person, quality, minute, newer,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_from_mongodb_and_the_embedded_index_in_both_formats() {
    let first_server = Wire::matrix()[0];
    let openvidu = answers("openvidu", Store::Mongo(first_server)).await;
    let [all, first, second, named, detail, person, quality, minute, newer] = &openvidu[..] else {
        unreachable!()
    };
    let sids = |page: &Value| -> Vec<String> {
        page["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["sid"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        sids(all),
        ["RM_B", "RM_A"],
        "newest first, RM_C out of range: {all}"
    );
    assert_eq!(sids(first), ["RM_B"]);
    assert_eq!(sids(second), ["RM_A"]);
    assert_eq!(sids(named), ["RM_A"]);
    let a = &all["rooms"][1];
    assert_eq!(a["started_at"], T0 as f64);
    assert_eq!(a["ended_at"], (T0 + 60) as f64);
    assert_eq!(a["duration_seconds"], 60.0);
    assert_eq!(
        (a["participants"].as_u64(), a["tracks"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(a["open"], false);
    let b = &all["rooms"][0];
    assert_eq!(
        (b["open"].as_bool(), b["ended_at"].is_null()),
        (Some(true), true)
    );
    assert_eq!(b["name"], "name-of-RM_B");
    let people = detail["participants"].as_array().unwrap();
    assert_eq!(people.len(), 2);
    assert_eq!(people[0]["identity"], "id-PA_1");
    assert_eq!(
        (
            people[0]["publisher"].as_bool(),
            people[0]["left_at"].as_f64()
        ),
        (Some(true), Some((T0 + 41) as f64))
    );
    assert_eq!(people[0]["disconnect_reason"], "CLIENT_INITIATED");
    assert_eq!(people[0]["duration_seconds"], 40.0);
    assert_eq!(people[1]["left_at"], Value::Null);
    assert_eq!(people[1]["duration_seconds"], 57.0, "to the room's end");
    assert!(people[1].get("disconnect_reason").is_none(), "{detail}");
    assert_eq!(
        (a["worst_score"].as_f64(), a["mean_score"].as_f64()),
        (Some(1.5), Some(3.5)),
        "the lowest min_score and the mean of the four scores: {a}"
    );
    assert_eq!(b["worst_score"], Value::Null, "no stats: {b}");
    assert_eq!(detail["session"]["worst_score"], 1.5);

    // Quality: the sender's two buckets, the receiver's one.
    assert_eq!(quality["stats"], 4, "{quality}");
    let series = quality["series"].as_array().unwrap();
    assert_eq!(series.len(), 2, "{quality}");
    let sender = &series[0];
    assert_eq!(
        (sender["identity"].as_str(), sender["kind"].as_str()),
        (Some("id-PA_1"), Some("UPSTREAM"))
    );
    assert_eq!(sender["mime"], "video/VP8");
    let at = |metric: &str, side: &str, i: usize| sender[metric][side][i].clone();
    assert_eq!(sender["t"].as_array().unwrap().len(), 2, "{sender}");
    assert_eq!(sender["t"][0], T0 as f64);
    assert_eq!(sender["stats"][0], 2);
    assert_eq!(at("score", "worst", 0), 3.0, "the lower min_score");
    assert_eq!(at("score", "mean", 0), 4.0);
    assert_eq!(at("packet_loss", "worst", 0), 2.0, "20 of 1000");
    assert_eq!(at("packet_loss", "mean", 0), 1.0);
    assert_eq!(at("bitrate", "mean", 0), 1_000_000.0, "625 kB over 5 s");
    assert_eq!(at("rtt", "worst", 0), 38.0);
    assert_eq!(at("packet_loss", "mean", 1), 10.0);
    assert_eq!(series[1]["kind"], "DOWNSTREAM");
    assert_eq!(series[1]["identity"], "id-PA_2");
    let minute_buckets = minute["series"][0]["stats"].as_array().unwrap();
    assert_eq!(minute_buckets.len(), 1, "one bucket of 60 s: {minute}");
    assert_eq!(minute_buckets[0], 3);
    let track = &detail["tracks"][0];
    assert_eq!(
        (track["kind"].as_str(), track["mime"].as_str()),
        (Some("VIDEO"), Some("video/VP8"))
    );
    assert_eq!(detail["timeline"].as_array().unwrap().len(), 7);
    assert_eq!(person["rooms"].as_array().unwrap().len(), 1, "{person}");
    assert_eq!(person["rooms"][0]["room"]["sid"], "RM_A");
    assert_eq!(person["rooms"][0]["participants"][0]["sid"], "PA_1");

    // Room D: why it ended, the aborted join, the webhook deliveries and the API call.
    eprintln!("room D: {newer}");
    assert_eq!(newer["end_reason"], "ROOM_END_API_DELETE", "{newer}");
    assert_eq!(newer["aborted_participants"], 1, "{newer}");
    let aborted: Vec<&Value> = newer["participants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["aborted"] == true)
        .collect();
    assert_eq!(aborted.len(), 1, "{newer}");
    assert_eq!(aborted[0]["sid"], "PA_6");
    let hooks = newer["webhooks"].as_array().unwrap();
    assert_eq!(hooks.len(), 2, "{newer}");
    assert_eq!(newer["failed_webhooks"], 1);
    assert_eq!(
        (
            &hooks[0]["event"],
            &hooks[0]["http_status"],
            &hooks[0]["failed"]
        ),
        (
            &Value::from("participant_joined"),
            &Value::from(502),
            &Value::from(true)
        )
    );
    assert_eq!(
        (hooks[0]["queue_ms"].as_f64(), hooks[0]["send_ms"].as_f64()),
        (Some(1.5), Some(30.0))
    );
    assert_eq!(hooks[0]["at"], (T0 + 80_003) as f64);
    assert_eq!(hooks[1]["failed"], false);
    let calls = newer["api_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "{newer}");
    assert_eq!(calls[0]["method"], "RemoveParticipant");
    assert_eq!(calls[0]["status"], 404);
    assert_eq!(calls[0]["error"], "not_found: participant not found");
    assert_eq!(calls[0]["duration_ms"], 2.0);
    assert_eq!(calls[0]["participant"], "id-PA_9");
    // Deliveries and calls are about the room, not of its life.
    assert_eq!(newer["session"]["events"], 4, "{newer}");
    assert_eq!(newer["session"]["ended_at"], (T0 + 80_010) as f64);
    assert!(detail["webhooks"].as_array().unwrap().is_empty());
    assert!(detail.get("end_reason").is_none(), "{detail}");

    // The other document format stores other documents, the file store's index other
    // rows; the answers are the same.
    // Every server of the matrix, in both formats.
    let mut others: Vec<(String, Store)> = Vec::new();
    for wire in Wire::matrix() {
        for format in ["openvidu", "typed"] {
            if (wire, format) != (first_server, "openvidu") {
                others.push((format!("{format} on {}", wire.name()), Store::Mongo(wire)));
            }
        }
    }
    others.push(("openvidu, embedded".into(), Store::Embedded));
    others.push(("typed, embedded".into(), Store::Embedded));
    for (label, store) in others {
        let format = label.split([' ', ',']).next().unwrap().to_string();
        let other = answers(&format, store).await;
        for (a, b) in openvidu.iter().zip(&other) {
            assert_eq!(a, b, "{label}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_guards_the_api_and_is_required_off_loopback() {
    let mut host = HostProcess::spawn("    api: { token: s3cret }\n");
    host.wait_healthy().await;
    let url = format!("{}/api/rooms", host.telemetry());
    let (status, body) = get(&url).await;
    assert_eq!(status, 401, "{body}");
    let with = |token: &str| reqwest::Client::new().get(&url).bearer_auth(token).send();
    assert_eq!(with("wrong").await.unwrap().status().as_u16(), 401);
    let response = with("s3cret").await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.text().await.unwrap(), r#"{"rooms":[]}"#);
    assert_eq!(host.stop(), Some(0));

    let out = kit::process::bin()
        .args(["check-config", "--config-body"])
        .arg("openvidu: {analytics: {telemetry: {listen: '0.0.0.0:7892'}}}")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("openvidu.analytics.api") && err.contains("api.token"),
        "{err}"
    );
}

/// `api.store: embedded` beside MongoDB: the API reads the file store's index (the same
/// items: every sink gets them all), so it answers with MongoDB gone, where reading
/// MongoDB answers 502.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_reads_the_embedded_copy_when_told_even_with_mongodb() {
    let server = Wire::matrix()[0].start();
    let mut host = HostProcess::spawn(&format!(
        // (The kit's config has the file store on.)
        "    mongo_url: \"{}\"\n    api: {{ store: embedded }}\n",
        server.url()
    ));
    host.wait_healthy().await;
    let mut client = AnalyticsRecorderServiceClient::connect(host.grpc_url())
        .await
        .unwrap();
    let message = AnalyticsEvents { events: story() };
    client.ingest_events(stream::iter([message])).await.unwrap();
    let api = format!("{}/api", host.telemetry());
    wait_until("the story stored", Duration::from_secs(20), || {
        let url = format!("{api}/rooms/RM_A");
        async move { get(&url).await.1["session"]["events"] == 7 }
    })
    .await;
    drop(server);
    let range = format!("from={}&to={}", T0 - 10, T0 + 1000);
    let (status, all) = get(&format!("{api}/rooms?{range}")).await;
    assert_eq!(status, 200, "{all}");
    let listed = all["rooms"].as_array().expect("a list");
    assert!(listed.iter().any(|r| r["sid"] == "RM_A"), "{all}");
    let (status, detail) = get(&format!("{api}/rooms/RM_A")).await;
    assert_eq!(
        (status, &detail["session"]["events"]),
        (200, &Value::from(7))
    );
    // (Its MongoDB sink may still hold items for the server that is gone: no exit code.)
    host.stop();
}
