//! A gRPC tap between livekit-server's analytics export and the host's gRPC door: it keeps
//! every event record as it came on the wire and passes each message on to the host as it
//! came, so a test sees exactly the bytes livekit-server sent (e.g. to capture a corpus
//! for the fork's own code: `tests/data/openvidu-format/`).

use crate::kit::grpc::send_raw_stream;
use crate::kit::ports::free_port;
use analytics_host::ingest::grpc::{
    AnalyticsRecorderService, AnalyticsRecorderServiceServer, WireBatch,
};
use futures::stream;
use livekit_protocol::AnalyticsNodeRooms;
use prost::Message as _;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use tonic::{Request, Response, Status, Streaming};

/// A running tap (stopped when dropped).
pub struct GrpcTap {
    port: u16,
    events: Arc<Mutex<Vec<Vec<u8>>>>,
    _stop: oneshot::Sender<()>,
}

impl GrpcTap {
    /// Listens on a free loopback port and passes every call on to the gRPC door at
    /// `forward` (e.g. `HostProcess::grpc_url`).
    pub async fn start(forward: &str) -> GrpcTap {
        let port = free_port();
        let events = Arc::new(Mutex::new(Vec::new()));
        let tap = Tap {
            forward: forward.to_string(),
            events: events.clone(),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let addr = ([127, 0, 0, 1], port).into();
        let server = tonic::transport::Server::builder()
            .add_service(AnalyticsRecorderServiceServer::new(tap))
            .serve_with_shutdown(addr, async {
                let _ = stopped.await;
            });
        tokio::spawn(async move {
            if let Err(e) = server.await {
                eprintln!("gRPC tap on port {port}: {e}");
            }
        });
        crate::kit::wait_until(
            "the gRPC tap to listen",
            std::time::Duration::from_secs(10),
            || async move {
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
            },
        )
        .await;
        GrpcTap {
            port,
            events,
            _stop: stop,
        }
    }

    /// Where livekit-server should export to.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every encoded `AnalyticsEvent` received so far, in order.
    pub fn events(&self) -> Vec<Vec<u8>> {
        self.events.lock().unwrap().clone()
    }
}

struct Tap {
    forward: String,
    events: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Tap {
    /// Passes each message of `incoming` on (its bytes from `encode`) to the same method of
    /// the host, and answers with the host's answer.
    async fn pass<M: Send + 'static>(
        &self,
        method: &str,
        mut incoming: Streaming<M>,
        mut encode: impl FnMut(M) -> Vec<u8>,
    ) -> Result<Response<()>, Status> {
        let (tx, rx) = mpsc::channel::<Vec<u8>>(64);
        let messages = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
        let (url, method) = (self.forward.clone(), method.to_string());
        let call = tokio::spawn(async move { send_raw_stream(&url, &method, messages).await });
        while let Some(message) = incoming.message().await? {
            if tx.send(encode(message)).await.is_err() {
                break; // the host's call ended: its answer says why
            }
        }
        drop(tx);
        call.await
            .map_err(|e| Status::internal(format!("the tap's call: {e}")))??;
        Ok(Response::new(()))
    }
}

#[tonic::async_trait]
impl AnalyticsRecorderService for Tap {
    async fn ingest_stats(
        &self,
        request: Request<Streaming<WireBatch>>,
    ) -> Result<Response<()>, Status> {
        self.pass("IngestStats", request.into_inner(), |batch| {
            batch.bytes.to_vec()
        })
        .await
    }

    async fn ingest_events(
        &self,
        request: Request<Streaming<WireBatch>>,
    ) -> Result<Response<()>, Status> {
        let events = self.events.clone();
        self.pass("IngestEvents", request.into_inner(), move |batch| {
            let mut kept = events.lock().unwrap();
            kept.extend(batch.records().map_while(Result::ok).map(<[u8]>::to_vec));
            batch.bytes.to_vec()
        })
        .await
    }

    async fn ingest_node_room_states(
        &self,
        request: Request<Streaming<AnalyticsNodeRooms>>,
    ) -> Result<Response<()>, Status> {
        self.pass("IngestNodeRoomStates", request.into_inner(), |rooms| {
            rooms.encode_to_vec()
        })
        .await
    }
}
