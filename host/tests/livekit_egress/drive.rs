//! What `livekit_egress.rs` does through livekit-server's Twirp API, and the checks of the
//! stored documents against what that API answered.

use crate::kit::livekit::LiveKit;
use livekit_api::access_token::VideoGrants;
use livekit_protocol as lk;
use std::time::{Duration, Instant};

/// The stream keys of the RTMP outputs: egress redacts them (the worker as the real
/// service), so no stored document may hold one.
pub const STREAM_KEYS: [&str; 2] = ["alpha-stream-key", "bravo-stream-key"];
/// The file output's path, templates unexpanded.
pub const FILEPATH: &str = "recordings/{room_name}-{time}.mp4";

/// What happened, as livekit-server's API reported it.
pub struct Happened {
    pub room: String,
    pub room_sid: String,
    /// Each egress: the key of its request in the fork's documents and its last info.
    pub egresses: Vec<(&'static str, lk::EgressInfo)>,
    /// The URL pull ingress while it published.
    pub pull: lk::IngressInfo,
    /// The RTMP ingress as created.
    pub rtmp: lk::IngressInfo,
}

fn record() -> VideoGrants {
    VideoGrants {
        room_record: true,
        ..Default::default()
    }
}

fn ingress_admin() -> VideoGrants {
    VideoGrants {
        ingress_admin: true,
        ..Default::default()
    }
}

/// Polls `check` every 100 ms for up to 30 s; panics naming `what`.
async fn poll<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn list_egress(livekit: &LiveKit, room: &str) -> Vec<lk::EgressInfo> {
    let request = lk::ListEgressRequest {
        room_name: room.into(),
        ..Default::default()
    };
    let list: lk::ListEgressResponse = livekit
        .twirp("Egress", "ListEgress", record(), &request)
        .await
        .unwrap();
    list.items
}

/// Waits until every egress of `ids` is listed with `status`; their infos, in `ids` order.
async fn egress_in(
    livekit: &LiveKit,
    ids: &[String],
    status: lk::EgressStatus,
) -> Vec<lk::EgressInfo> {
    poll(&format!("egresses {ids:?} {status:?}"), || async move {
        let mut listed = list_egress(livekit, "").await;
        listed.retain(|e| ids.contains(&e.egress_id) && e.status == status as i32);
        (listed.len() == ids.len()).then(|| {
            ids.iter()
                .map(|id| listed.iter().find(|e| &e.egress_id == id).unwrap().clone())
                .collect()
        })
    })
    .await
}

async fn start_egress<M: prost::Message>(
    livekit: &LiveKit,
    method: &str,
    request: &M,
) -> lk::EgressInfo {
    let info: lk::EgressInfo = livekit
        .twirp("Egress", method, record(), request)
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"));
    assert_eq!(
        info.status,
        lk::EgressStatus::EgressStarting as i32,
        "{method}: {info:?}"
    );
    info
}

/// Four egresses started, an UpdateStream, UpdateLayout (refused: no egress joins the
/// room), all stopped; a URL pull ingress created, published, deleted; an RTMP ingress
/// created, updated while inactive, deleted. Each step's answer is checked.
pub async fn drive(livekit: &LiveKit) -> Happened {
    let room = "egress-room".to_string();
    let room_sid = livekit.create_room(&room).await;
    let stream = |key: &str| format!("rtmp://stream.invalid/live/{key}");

    let composite = start_egress(
        livekit,
        "StartRoomCompositeEgress",
        &lk::RoomCompositeEgressRequest {
            room_name: room.clone(),
            layout: "grid".into(),
            file_outputs: vec![lk::EncodedFileOutput {
                file_type: lk::EncodedFileType::Mp4 as i32,
                filepath: FILEPATH.into(),
                ..Default::default()
            }],
            stream_outputs: vec![lk::StreamOutput {
                protocol: lk::StreamProtocol::Rtmp as i32,
                urls: vec![stream(STREAM_KEYS[0])],
            }],
            options: Some(lk::room_composite_egress_request::Options::Preset(
                lk::EncodingOptionsPreset::H264720p30 as i32,
            )),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        composite.room_id, room_sid,
        "livekit-server resolves the room"
    );
    let participant = start_egress(
        livekit,
        "StartParticipantEgress",
        &lk::ParticipantEgressRequest {
            room_name: room.clone(),
            identity: "speaker".into(),
            segment_outputs: vec![lk::SegmentedFileOutput {
                filename_prefix: "segments/speaker".into(),
                segment_duration: 4,
                ..Default::default()
            }],
            ..Default::default()
        },
    )
    .await;
    let track = start_egress(
        livekit,
        "StartTrackEgress",
        &lk::TrackEgressRequest {
            room_name: room.clone(),
            track_id: "TR_camera".into(),
            output: Some(lk::track_egress_request::Output::WebsocketUrl(
                "ws://media.invalid/track/camera".into(),
            )),
            ..Default::default()
        },
    )
    .await;
    let web = start_egress(
        livekit,
        "StartWebEgress",
        &lk::WebEgressRequest {
            url: "https://page.invalid/board".into(),
            file_outputs: vec![lk::EncodedFileOutput {
                file_type: lk::EncodedFileType::Mp4 as i32,
                filepath: "web/board.mp4".into(),
                ..Default::default()
            }],
            ..Default::default()
        },
    )
    .await;
    let ids: Vec<String> = [&composite, &participant, &track, &web]
        .iter()
        .map(|e| e.egress_id.clone())
        .collect();
    egress_in(livekit, &ids, lk::EgressStatus::EgressActive).await;

    let updated: lk::EgressInfo = livekit
        .twirp(
            "Egress",
            "UpdateStream",
            record(),
            &lk::UpdateStreamRequest {
                egress_id: composite.egress_id.clone(),
                add_output_urls: vec![stream(STREAM_KEYS[1])],
                remove_output_urls: vec![stream(STREAM_KEYS[0])],
            },
        )
        .await
        .unwrap();
    let statuses: Vec<i32> = updated.stream_results.iter().map(|s| s.status).collect();
    assert_eq!(
        statuses,
        [
            lk::stream_info::Status::Finished as i32,
            lk::stream_info::Status::Active as i32
        ],
        "UpdateStream: {updated:?}"
    );
    // UpdateLayout sets the metadata of the egress's participant in the room; the worker
    // joins no room, so livekit-server refuses it (a real egress would be there).
    let layout = livekit
        .twirp::<lk::EgressInfo>(
            "Egress",
            "UpdateLayout",
            record(),
            &lk::UpdateLayoutRequest {
                egress_id: composite.egress_id.clone(),
                layout: "speaker".into(),
            },
        )
        .await;
    assert!(
        layout.is_err_and(|e| e.contains("participant")),
        "UpdateLayout"
    );

    for id in &ids {
        let stopped: lk::EgressInfo = livekit
            .twirp(
                "Egress",
                "StopEgress",
                record(),
                &lk::StopEgressRequest {
                    egress_id: id.clone(),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            stopped.status,
            lk::EgressStatus::EgressEnding as i32,
            "StopEgress {id}"
        );
    }
    let ended = egress_in(livekit, &ids, lk::EgressStatus::EgressComplete).await;
    let listed = list_egress(livekit, &room).await;
    assert_eq!(
        listed.len(),
        3,
        "ListEgress by room: all but the web egress"
    );
    let egresses = ["RoomComposite", "Participant", "Track", "Web"]
        .into_iter()
        .zip(ended)
        .collect();

    let (pull, rtmp) = ingresses(livekit, &room, &room_sid).await;
    Happened {
        room,
        room_sid,
        egresses,
        pull,
        rtmp,
    }
}

/// The ingress part of [`drive`]: the pull ingress as it published, the RTMP one as created.
async fn ingresses(
    livekit: &LiveKit,
    room: &str,
    room_sid: &str,
) -> (lk::IngressInfo, lk::IngressInfo) {
    let create = |input: lk::IngressInput, name: &str, url: &str| lk::CreateIngressRequest {
        input_type: input as i32,
        url: url.into(),
        name: name.into(),
        room_name: room.into(),
        participant_identity: format!("{name}-publisher"),
        ..Default::default()
    };
    let created: lk::IngressInfo = livekit
        .twirp(
            "Ingress",
            "CreateIngress",
            ingress_admin(),
            &create(
                lk::IngressInput::UrlInput,
                "pull",
                "https://media.invalid/live.m3u8",
            ),
        )
        .await
        .unwrap();
    let state = created.state.clone().unwrap_or_default();
    assert_eq!(
        state.status,
        lk::ingress_state::Status::EndpointBuffering as i32,
        "{created:?}"
    );
    assert!(state.resource_id.starts_with("UR_"), "{created:?}");
    let rtmp: lk::IngressInfo = livekit
        .twirp(
            "Ingress",
            "CreateIngress",
            ingress_admin(),
            &create(lk::IngressInput::RtmpInput, "rtmp", ""),
        )
        .await
        .unwrap();
    assert!(!rtmp.stream_key.is_empty() && rtmp.reusable, "{rtmp:?}");

    let list = |id: String| async move {
        let request = lk::ListIngressRequest {
            ingress_id: id,
            ..Default::default()
        };
        livekit
            .twirp::<lk::ListIngressResponse>("Ingress", "ListIngress", ingress_admin(), &request)
            .await
            .map(|l| l.items)
    };
    let publishing = lk::ingress_state::Status::EndpointPublishing as i32;
    let pull = poll("the pull ingress publishing", || {
        let id = created.ingress_id.clone();
        async move {
            let items = list(id).await.unwrap();
            items
                .into_iter()
                .find(|i| i.state.as_ref().is_some_and(|s| s.status == publishing))
        }
    })
    .await;
    assert_eq!(pull.state.as_ref().unwrap().room_id, room_sid);

    // An inactive ingress is updated in livekit-server's store only (no event).
    let renamed: lk::IngressInfo = livekit
        .twirp(
            "Ingress",
            "UpdateIngress",
            ingress_admin(),
            &lk::UpdateIngressRequest {
                ingress_id: rtmp.ingress_id.clone(),
                name: "rtmp-renamed".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.name, "rtmp-renamed");
    for id in [&pull.ingress_id, &rtmp.ingress_id] {
        let request = lk::DeleteIngressRequest {
            ingress_id: id.clone(),
        };
        let deleted: lk::IngressInfo = livekit
            .twirp("Ingress", "DeleteIngress", ingress_admin(), &request)
            .await
            .unwrap();
        assert_eq!(deleted.ingress_id, *id);
    }
    let left = livekit
        .twirp::<lk::ListIngressResponse>(
            "Ingress",
            "ListIngress",
            ingress_admin(),
            &lk::ListIngressRequest::default(),
        )
        .await
        .unwrap();
    assert!(
        left.items.is_empty(),
        "ListIngress after the deletes: {left:?}"
    );
    (pull, rtmp)
}
