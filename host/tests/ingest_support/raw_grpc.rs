//! Raw bytes as gRPC messages: a way to put a bad protobuf on the wire.

use bytes::{Buf, BufMut};
use futures::stream;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::{Request, Status};

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
    let channel = Channel::from_shared(url.to_string())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = format!("/livekit.AnalyticsRecorderService/{method}")
        .parse()
        .unwrap();
    grpc.client_streaming::<_, Vec<u8>, Vec<u8>, _>(
        Request::new(stream::iter(messages)),
        path,
        RawCodec,
    )
    .await
    .map(|_| ())
}
