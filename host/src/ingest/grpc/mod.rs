//! The gRPC door: `livekit.AnalyticsRecorderService`, the native analytics stream.
//!
//! Each of the three client-streaming methods puts every received record into the same
//! pipeline as webhooks, message by message. A stream that breaks (bad frame, bad
//! protobuf) ends with an error status; what it delivered before stays accepted, and no
//! other stream is affected. Node-room snapshots are stored as `node_rooms` items whose
//! `_id` is the hex MD5 of `<node_id>:<sequence_number>:<ts>` (`<ts>` as in event ids).

use super::IngestCounters;
use crate::model::{md5_hex, DocumentFormat, EncodedError, Item, ItemKind, Timestamp};
use crate::pipeline::{AcceptError, Pipeline};
use livekit_protocol::AnalyticsNodeRooms;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tonic::{Request, Response, Status, Streaming};

pub mod limits;
mod wire_batch;

pub use limits::MessageLimits;
pub use wire_batch::WireBatch;

/// The generated service code for `livekit.AnalyticsRecorderService`: the server (taking
/// [`WireBatch`]) and the client (sending the protocol crate's types).
#[allow(missing_docs, clippy::all)]
pub mod proto {
    /// The server side.
    pub mod server {
        include!(concat!(env!("OUT_DIR"), "/server/livekit.rs"));
    }
    /// The client side.
    pub mod client {
        include!(concat!(env!("OUT_DIR"), "/client/livekit.rs"));
    }
}

pub use proto::client::analytics_recorder_service_client::AnalyticsRecorderServiceClient;
pub use proto::server::analytics_recorder_service_server::{
    AnalyticsRecorderService, AnalyticsRecorderServiceServer,
};

/// The service implementation.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// Where received items go.
    pub pipeline: Arc<Pipeline>,
    /// Node id written into events and stats that carry none.
    pub node_id: String,
    /// `openvidu.analytics.expiration`.
    pub expiration: Duration,
    /// `openvidu.analytics.document_format`.
    pub format: DocumentFormat,
    /// Door counters.
    pub counters: Arc<IngestCounters>,
    /// What one message may cost.
    pub limits: MessageLimits,
    /// `ingest.grpc.message_timeout`: the longest wait for a stream's next message.
    pub message_timeout: Duration,
}

fn accept_status(err: AcceptError) -> Status {
    match err {
        AcceptError::Closed => Status::unavailable("the host is shutting down"),
        AcceptError::Full(sink) => {
            Status::resource_exhausted(format!("the queue of sink `{sink}` is full"))
        }
        AcceptError::QueueBytesFull => {
            Status::resource_exhausted("the host's queues hold queue.max_bytes")
        }
        AcceptError::SpoolFull => Status::resource_exhausted("the spool is full"),
        AcceptError::Spool(error) => {
            Status::unavailable(format!("the spool could not write: {error}"))
        }
    }
}

impl Recorder {
    async fn accept(&self, items: Vec<Item>) -> Result<(), Status> {
        if items.is_empty() {
            return Ok(());
        }
        let n = items.len() as u64;
        let kinds: Vec<_> = items.iter().map(|i| i.kind).collect();
        self.pipeline.accept_async(items).await.map_err(|err| {
            self.counters.grpc_refused.fetch_add(1, Ordering::Relaxed);
            accept_status(err)
        })?;
        self.counters.grpc_items.fetch_add(n, Ordering::Relaxed);
        self.counters.record(super::Door::Grpc, kinds);
        Ok(())
    }

    /// The next message of `stream`, within `message_timeout`.
    async fn next<M>(
        &self,
        method: &str,
        stream: &mut Streaming<M>,
    ) -> Result<Result<Option<M>, Status>, Status> {
        match tokio::time::timeout(self.message_timeout, stream.message()).await {
            Ok(next) => Ok(next),
            Err(_) => {
                let status = Status::deadline_exceeded(format!(
                    "no whole message within ingest.grpc.message_timeout ({:?})",
                    self.message_timeout
                ));
                Err(self.stream_error(method, status))
            }
        }
    }

    fn stream_error(&self, method: &str, status: Status) -> Status {
        self.counters
            .grpc_stream_errors
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(method, code = ?status.code(), message = status.message(), "analytics stream broke off");
        if status.code() == tonic::Code::Internal {
            // Undecodable messages surface as INTERNAL; they are the client's fault.
            Status::invalid_argument(format!("malformed stream: {}", status.message()))
        } else {
            status
        }
    }

    /// The item of one node-room snapshot.
    pub fn node_rooms_item(&self, mut rooms: AnalyticsNodeRooms, now: SystemTime) -> Item {
        if rooms.timestamp.is_none() {
            rooms.timestamp = Some(Timestamp::from_system_time(now).to_proto());
        }
        if rooms.node_id.is_empty() {
            rooms.node_id = self.node_id.clone();
        }
        let ts = rooms.timestamp.unwrap_or_default();
        let id = node_rooms_id(&rooms);
        // Written straight from the wire (the typed format's text writer: the same text as the
        // map `crate::model::message_document` builds, checked for every LiveKit message by
        // `model/json/tests.rs`); the map cost ~340 µs per snapshot of a busy node.
        let document =
            DocumentFormat::Typed.document_text(&rooms, "livekit.AnalyticsNodeRooms", &id);
        let mut item =
            Item::with_document_text(ItemKind::NodeRooms, id, document, now + self.expiration);
        item.timestamp = Timestamp {
            seconds: ts.seconds,
            nanos: ts.nanos,
        };
        item.node_id = rooms.node_id.into();
        item
    }
}

impl Recorder {
    /// Reads a client stream to its end, accepting the items of each message as it comes;
    /// a broken stream ends with an error status (what it delivered before stays accepted).
    async fn ingest<M>(
        &self,
        method: &str,
        request: Request<Streaming<M>>,
        items: impl Fn(M, SystemTime) -> Vec<Item>,
    ) -> Result<Response<()>, Status> {
        let mut stream = request.into_inner();
        loop {
            match self.next(method, &mut stream).await? {
                Ok(Some(message)) => self.accept(items(message, SystemTime::now())).await?,
                Ok(None) => return Ok(Response::new(())),
                Err(status) => return Err(self.stream_error(method, status)),
            }
        }
    }
}

impl Recorder {
    /// Reads a client stream of [`WireBatch`]es to its end, each record walked as received;
    /// a message is accepted whole or not at all (a bad record refuses it with
    /// `INVALID_ARGUMENT`, as a decode error did; what came before stays accepted). `check`
    /// tells an invalid record (see [`limits`]) before `item` builds the item of one record
    /// from its bytes, the receive time and whether to read its quality figures
    /// ([`Pipeline::reads_quality`]).
    async fn ingest_encoded(
        &self,
        method: &str,
        request: Request<Streaming<WireBatch>>,
        kind: ItemKind,
        check: fn(&[u8]) -> Result<(), limits::Invalid>,
        item: impl Fn(&[u8], SystemTime, bool) -> Result<Item, EncodedError>,
    ) -> Result<Response<()>, Status> {
        let mut stream = request.into_inner();
        loop {
            let message = match self.next(method, &mut stream).await? {
                Ok(Some(message)) => message,
                Ok(None) => return Ok(Response::new(())),
                Err(status) => return Err(self.stream_error(method, status)),
            };
            let items = self.build(method, &message, kind, check, &item)?;
            self.accept(items).await?;
        }
    }

    /// The items of one message, bounded before and while they are built: its records
    /// counted first (a pass over their lengths), room in the queues asked for, every record
    /// checked before its item is built, and each item charged to the queue budget and to
    /// the message's `max_message_item_bytes` as it is built.
    fn build(
        &self,
        method: &str,
        message: &WireBatch,
        kind: ItemKind,
        check: fn(&[u8]) -> Result<(), limits::Invalid>,
        item: &impl Fn(&[u8], SystemTime, bool) -> Result<Item, EncodedError>,
    ) -> Result<Vec<Item>, Status> {
        let invalid = |status: Status| {
            self.counters.grpc_invalid.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                method,
                message = status.message(),
                "analytics message refused"
            );
            status
        };
        let n = message.records().count();
        if n > self.limits.records {
            return Err(invalid(Status::invalid_argument(format!(
                "the message has {n} records, more than ingest.grpc.max_message_records \
                 ({})",
                self.limits.records
            ))));
        }
        // The items take at least their wire size: no room for that, no building.
        let wire = message.bytes.len() as u64;
        self.pipeline.room_for(kind, n, wire).map_err(|err| {
            self.counters.grpc_refused.fetch_add(1, Ordering::Relaxed);
            accept_status(err)
        })?;
        let now = SystemTime::now();
        // Asked per message: a reload may add or remove the sink that reads them.
        let quality = self.pipeline.reads_quality();
        let mut building = self.pipeline.building();
        let (mut items, mut item_bytes) = (Vec::with_capacity(n), 0u64);
        for (index, record) in message.records().enumerate() {
            let record = match record {
                Ok(record) => record,
                Err(error) => {
                    let status = Status::internal(format!("decoding the message: {error}"));
                    return Err(self.stream_error(method, status));
                }
            };
            match check(record) {
                Ok(()) => {}
                Err(limits::Invalid::Malformed) => {} // the walker names where, below
                Err(why) => {
                    return Err(invalid(Status::invalid_argument(format!(
                        "record {index} of the message is invalid: {why}; nothing of the \
                         message was stored"
                    ))))
                }
            }
            let built = match item(record, now, quality) {
                Ok(built) => built,
                Err(error) => {
                    let status =
                        Status::internal(format!("decoding the message: record {index}: {error}"));
                    return Err(self.stream_error(method, status));
                }
            };
            item_bytes += built.queued_bytes();
            if item_bytes > self.limits.item_bytes {
                return Err(invalid(Status::invalid_argument(format!(
                    "the items of the message take more than \
                     ingest.grpc.max_message_item_bytes ({} bytes) by record {index}",
                    self.limits.item_bytes
                ))));
            }
            if !building.charge(&built) {
                self.counters.grpc_refused.fetch_add(1, Ordering::Relaxed);
                self.pipeline.refused(kind, n);
                return Err(accept_status(AcceptError::QueueBytesFull));
            }
            items.push(built);
        }
        // Given back here: accepting charges the queues themselves.
        drop(building);
        Ok(items)
    }
}

#[tonic::async_trait]
impl AnalyticsRecorderService for Recorder {
    async fn ingest_stats(
        &self,
        request: Request<Streaming<WireBatch>>,
    ) -> Result<Response<()>, Status> {
        let check = limits::check_stat;
        self.ingest_encoded(
            "IngestStats",
            request,
            ItemKind::Stat,
            check,
            |bytes, now, quality| {
                let node = &self.node_id;
                Item::from_encoded_stat(self.format, bytes, node, now, self.expiration, quality)
            },
        )
        .await
    }

    async fn ingest_events(
        &self,
        request: Request<Streaming<WireBatch>>,
    ) -> Result<Response<()>, Status> {
        let check = limits::check_event;
        self.ingest_encoded(
            "IngestEvents",
            request,
            ItemKind::Event,
            check,
            |bytes, now, _| {
                Item::from_encoded_event(self.format, bytes, &self.node_id, now, self.expiration)
            },
        )
        .await
    }

    async fn ingest_node_room_states(
        &self,
        request: Request<Streaming<AnalyticsNodeRooms>>,
    ) -> Result<Response<()>, Status> {
        self.ingest("IngestNodeRoomStates", request, |message, now| {
            vec![self.node_rooms_item(message, now)]
        })
        .await
    }
}

/// The document `_id` of a node-room snapshot as it is: the hex MD5 of
/// `<node_id>:<sequence_number>:<ts>` (`<ts>` as in event ids; a missing timestamp counts
/// as 0, the door sets it to the receive time first).
pub fn node_rooms_id(rooms: &AnalyticsNodeRooms) -> String {
    let ts = rooms.timestamp.unwrap_or_default();
    let ts_key = if ts.nanos > 0 {
        format!("{}{}", ts.seconds, ts.nanos)
    } else {
        ts.seconds.to_string()
    };
    md5_hex(&format!(
        "{}:{}:{}",
        rooms.node_id, rooms.sequence_number, ts_key
    ))
}

/// Checks `authorization: Bearer <token>` metadata when a token is configured.
#[derive(Clone)]
pub struct TokenCheck {
    token: Option<Arc<str>>,
}

impl TokenCheck {
    /// A check for `token` (`None`: every call passes).
    pub fn new(token: Option<&str>) -> Self {
        TokenCheck {
            token: token.map(Arc::from),
        }
    }
}

impl tonic::service::Interceptor for TokenCheck {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        // A whole request arrived on its connection: no longer one to close for silence
        // before its first request, nor the first to make room at the cap.
        crate::listener::mark_served(request.extensions());
        let Some(expected) = &self.token else {
            return Ok(request);
        };
        let given = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        // Compare without an early exit on the first differing byte.
        let same = given.len() == expected.len()
            && given
                .bytes()
                .zip(expected.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if same {
            Ok(request)
        } else {
            Err(Status::unauthenticated("missing or wrong bearer token"))
        }
    }
}
