//! The gRPC door with a real tonic client over a real loopback socket.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::ingest::grpc::AnalyticsRecorderServiceClient;
use futures::stream;
use kit::grpc::{events, send_garbage, send_raw};
use kit::host::TestHost;
use kit::items::ts;
use kit::NODE;
use livekit_protocol::{
    AnalyticsEvents, AnalyticsNodeRooms, AnalyticsRoom, AnalyticsStat, AnalyticsStats,
    AnalyticsStream, StreamType,
};
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tonic::transport::Channel;
use tonic::{Code, Request};

fn stats(message_no: usize, n: usize) -> AnalyticsStats {
    AnalyticsStats {
        stats: (0..n)
            .map(|i| AnalyticsStat {
                kind: StreamType::Upstream as i32,
                time_stamp: ts(1_764_280_000 + message_no as i64, i as i32 + 1),
                room_id: "RM_s".into(),
                participant_id: "PA_1".into(),
                track_id: format!("TR_{i}"),
                score: 4.5,
                streams: vec![AnalyticsStream {
                    ssrc: 7,
                    primary_packets: 100,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

async fn client(host: &TestHost) -> AnalyticsRecorderServiceClient<Channel> {
    AnalyticsRecorderServiceClient::connect(host.grpc_url())
        .await
        .expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_events_stats_and_node_rooms_over_concurrent_streams() {
    let host = TestHost::start().await;
    const STREAMS: usize = 4;
    const MESSAGES: usize = 50;
    const PER: usize = 20;
    let mut tasks = Vec::new();
    for s in 0..STREAMS {
        let mut c = client(&host).await;
        tasks.push(tokio::spawn(async move {
            let msgs: Vec<_> = (0..MESSAGES).map(|m| events(s, m, PER)).collect();
            c.ingest_events(stream::iter(msgs)).await
        }));
    }
    let mut c = client(&host).await;
    let stat_task = tokio::spawn(async move {
        let msgs: Vec<_> = (0..MESSAGES).map(|m| stats(m, PER)).collect();
        c.ingest_stats(stream::iter(msgs)).await
    });
    let mut c = client(&host).await;
    let rooms: Vec<_> = (0..5u64)
        .map(|seq| AnalyticsNodeRooms {
            node_id: String::new(),
            sequence_number: seq,
            timestamp: ts(1_764_280_000 + seq as i64, 0),
            rooms: vec![AnalyticsRoom {
                id: "RM_1".into(),
                name: "demo".into(),
                ..Default::default()
            }],
        })
        .collect();
    c.ingest_node_room_states(stream::iter(rooms))
        .await
        .expect("node rooms");
    for t in tasks {
        t.await.unwrap().expect("events stream");
    }
    stat_task.await.unwrap().expect("stats stream");

    let n_events = STREAMS * MESSAGES * PER;
    let n_stats = MESSAGES * PER;
    let events = host.wait_for("events", n_events).await;
    let stats = host.wait_for("stats", n_stats).await;
    let rooms = host.wait_for("node_rooms", 5).await;
    assert_eq!(events.len(), n_events);
    assert_eq!(stats.len(), n_stats);
    assert_eq!(rooms.len(), 5);
    let ids: HashSet<_> = events
        .iter()
        .map(|d| d["_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), n_events, "every event has its own id");
    assert!(events
        .iter()
        .all(|d| d["type"] == "TRACK_PUBLISHED" && d["node_id"] == NODE));
    assert!(stats
        .iter()
        .all(|d| d["kind"] == "UPSTREAM" && d["streams"][0]["primary_packets"] == 100.0));
    assert!(rooms
        .iter()
        .all(|d| d["node_id"] == NODE && d["rooms"][0]["id"] == "RM_1"));
    assert_eq!(
        host.doors.counters.grpc_items.load(Ordering::Relaxed) as usize,
        n_events + n_stats + 5
    );
}

/// Stats are walked as received (no decode first): a message is still taken whole or not
/// at all, a stat without node gets the door's, a stat without a timestamp (or room, or
/// participant) is invalid (issue 31: INVALID_ARGUMENT naming the record, counted), and a
/// bad stat inside a message refuses that message only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stats_message_is_taken_whole_or_not_at_all() {
    let host = TestHost::start().await;
    let first = prost::Message::encode_to_vec(&stats(0, 3));
    let mut untimed = stats(1, 3);
    untimed.stats[2].time_stamp = None;
    let untimed = prost::Message::encode_to_vec(&untimed);
    let err = send_raw(&host.grpc_url(), "IngestStats", vec![first, untimed])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        err.message().contains("record 2") && err.message().contains("timestamp"),
        "{err:?}"
    );
    assert_eq!(host.doors.counters.grpc_invalid.load(Ordering::Relaxed), 1);
    // A good stat, then one cut short: field 5 (room_id) says 5 bytes and has 1.
    let mut second = prost::Message::encode_to_vec(&stats(2, 1));
    second.extend_from_slice(&[0x0a, 0x03, 0x2a, 0x05, b'R']);
    let err = send_raw(&host.grpc_url(), "IngestStats", vec![second])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("malformed"), "{err:?}");
    let stored = host.wait_for("stats", 3).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stored_later = host.wait_for("stats", 3).await;
    assert_eq!(stored.len(), 3, "the first message, whole");
    assert_eq!(stored_later.len(), 3, "nothing of the other messages");
    assert!(stored
        .iter()
        .all(|d| d["node"] == NODE && d["room_id"] == "RM_s"));
    let ids: HashSet<_> = stored.iter().map(|d| d["_id"].to_string()).collect();
    assert_eq!(ids.len(), 3);
}

/// The per-message limits (issue 31): the message of 2 000 000 empty records is
/// refused at once, without building anything; so is one over the record limit; and after
/// both, valid messages are stored as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_limits_or_of_empty_records_is_refused_at_once() {
    let host = TestHost::start().await;
    let empty = [0x0a, 0x00].repeat(2_000_000);
    let started = std::time::Instant::now();
    let err = send_raw(&host.grpc_url(), "IngestEvents", vec![empty])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("max_message_records"), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let err = send_raw(
        &host.grpc_url(),
        "IngestEvents",
        vec![[0x0a, 0x00].repeat(10)],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("record 0"), "{err:?}");
    let over = prost::Message::encode_to_vec(&events(1, 0, 10_001));
    let err = send_raw(&host.grpc_url(), "IngestEvents", vec![over])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(host.doors.counters.grpc_invalid.load(Ordering::Relaxed), 3);
    let at_limit = prost::Message::encode_to_vec(&events(2, 0, 10_000));
    send_raw(&host.grpc_url(), "IngestEvents", vec![at_limit])
        .await
        .expect("a message at the limit");
    assert_eq!(host.wait_for("events", 10_000).await.len(), 10_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_gets_an_error_status_and_other_streams_are_unaffected() {
    let host = TestHost::start().await;
    // A healthy stream that keeps sending while the bad ones come and go.
    let mut c = client(&host).await;
    let (tx, rx) = tokio::sync::mpsc::channel::<AnalyticsEvents>(4);
    let healthy = tokio::spawn(async move { c.ingest_events(tokio_stream_from(rx)).await });
    tx.send(events(9, 0, 10)).await.unwrap();

    // A bad protobuf (field 1, length-delimited, length beyond the end), after a good message.
    let good = prost::Message::encode_to_vec(&events(7, 0, 3));
    let bad = vec![0x0a, 0xff, 0xff, 0x03, 0x01];
    let err = send_raw(&host.grpc_url(), "IngestEvents", vec![good, bad.clone()])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let err = send_raw(&host.grpc_url(), "IngestStats", vec![bad.clone()])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let err = send_raw(
        &host.grpc_url(),
        "IngestNodeRoomStates",
        vec![vec![0xff; 16]],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");

    // Raw garbage on a fresh TCP connection instead of an HTTP/2 preface.
    send_garbage(host.doors.grpc_addr.unwrap()).await;

    // The healthy stream goes on and completes.
    tx.send(events(9, 1, 10)).await.unwrap();
    drop(tx);
    healthy
        .await
        .unwrap()
        .expect("the healthy stream is unaffected");
    let docs = host.wait_for("events", 23).await;
    assert_eq!(
        docs.len(),
        23,
        "20 from the healthy stream, 3 before the bad message"
    );
    assert!(
        host.doors
            .counters
            .grpc_stream_errors
            .load(Ordering::Relaxed)
            >= 3
    );
    // And the server still takes new streams.
    let mut c = client(&host).await;
    c.ingest_events(stream::iter(vec![events(8, 0, 1)]))
        .await
        .expect("new stream");
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test]
async fn a_configured_token_is_required() {
    let host = TestHost::start_full("50ms", "", "        token: s3cret").await;
    let mut c = client(&host).await;
    let err = c
        .ingest_events(stream::iter(vec![events(1, 0, 1)]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let mut request = Request::new(stream::iter(vec![events(1, 0, 1)]));
    request
        .metadata_mut()
        .insert("authorization", "Bearer wrong".parse().unwrap());
    assert_eq!(
        c.ingest_events(request).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let mut request = Request::new(stream::iter(vec![events(1, 0, 1)]));
    request
        .metadata_mut()
        .insert("authorization", "Bearer s3cret".parse().unwrap());
    c.ingest_events(request).await.expect("with the token");
    assert_eq!(host.wait_for("events", 1).await.len(), 1);
}

#[tokio::test]
async fn a_full_queue_with_reject_gives_resource_exhausted() {
    let host = TestHost::start_undrained("{ capacity: 5, overflow: reject }").await;
    let mut c = client(&host).await;
    let err = c
        .ingest_events(stream::iter(vec![events(1, 0, 3), events(1, 1, 3)]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert_eq!(host.host.pipeline.queued(), 3);
}
