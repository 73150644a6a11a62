//! The gRPC door: messages to send, raw bytes as gRPC messages (a way to put a bad protobuf
//! on the wire), and bytes that are not HTTP/2 at all.

use crate::kit::items::ts;
use bytes::{Buf, BufMut};
use futures::stream;
use livekit_protocol::{AnalyticsEvent, AnalyticsEventType, AnalyticsEvents, Room};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::{Request, Status};

/// Message `message_no` of stream `stream_no`: `n` track-published events in room
/// `RM_<stream_no>`, each with its own id across streams and messages (up to 1000 events a
/// message, 1000 messages a stream).
pub fn events(stream_no: usize, message_no: usize, n: usize) -> AnalyticsEvents {
    AnalyticsEvents {
        events: (0..n)
            .map(|i| AnalyticsEvent {
                r#type: AnalyticsEventType::TrackPublished as i32,
                timestamp: ts(
                    1_764_280_000,
                    (stream_no * 1_000_000 + message_no * 1000 + i + 1) as i32,
                ),
                room_id: format!("RM_{stream_no}"),
                room: Some(Room {
                    sid: format!("RM_{stream_no}"),
                    name: "demo".into(),
                    ..Default::default()
                }),
                participant_id: "PA_1".into(),
                track_id: format!("TR_{i}"),
                ..Default::default()
            })
            .collect(),
    }
}

/// Opens a TCP connection to the gRPC door at `addr` and sends bytes that are not an
/// HTTP/2 preface; waits (5 s at most) for the server to answer or drop the connection.
pub async fn send_garbage(addr: SocketAddr) {
    let mut raw = tokio::net::TcpStream::connect(addr).await.unwrap();
    raw.write_all(b"\x00\x00\x12\x04garbage-not-http2\r\n\r\n\xde\xad\xbe\xef")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let _ = tokio::time::timeout(Duration::from_secs(5), raw.read(&mut buf)).await;
}

/// A codec that sends and receives messages as they are.
#[derive(Clone, Default)]
pub struct RawCodec;
/// Encoder of [`RawCodec`].
pub struct RawEncoder;
/// Decoder of [`RawCodec`].
pub struct RawDecoder;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}
impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}
impl Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

/// Streams `messages` (raw bytes each) to `livekit.AnalyticsRecorderService/<method>` at
/// `url` and returns the call's status.
pub async fn send_raw(url: &str, method: &str, messages: Vec<Vec<u8>>) -> Result<(), Status> {
    send_raw_stream(url, method, stream::iter(messages)).await
}

/// As [`send_raw`], the messages coming from a stream (each sent when it comes).
pub async fn send_raw_stream(
    url: &str,
    method: &str,
    messages: impl futures::Stream<Item = Vec<u8>> + Send + 'static,
) -> Result<(), Status> {
    let channel = Channel::from_shared(url.to_string())
        .unwrap()
        .connect()
        .await
        .map_err(|e| Status::unavailable(format!("connecting to {url}: {e}")))?;
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("{url} not ready: {e}")))?;
    let path = format!("/livekit.AnalyticsRecorderService/{method}")
        .parse()
        .unwrap();
    grpc.client_streaming::<_, Vec<u8>, Vec<u8>, _>(Request::new(messages), path, RawCodec)
        .await
        .map(|_| ())
}
