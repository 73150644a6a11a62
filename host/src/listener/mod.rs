//! The host's listeners, bounded: every connection of the webhook door, the telemetry
//! endpoint (and read API) and the gRPC door holds a slot of its listener ([`Slots`],
//! `connections.max`), and is closed when it sends no whole request within
//! `connections.header_read_timeout` or nothing at all for `connections.idle_timeout`
//! (issue 31: idle and trickling connections had stayed open for good, and 1 100 of them
//! under `ulimit -n 1024` had made every door time out).
//!
//! [`serve_http`] serves an axum router over HTTP/1.1 (optionally TLS) on such slots;
//! [`incoming`] hands tonic its connections through them.

pub mod config;
mod guard;

pub use config::ConnectionLimits;
pub use guard::{Conn, Guarded, SlotCounters, Slots};

use futures::Stream;
use hyper::body::Incoming;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tonic::transport::server::Connected;

/// Accepts the next connection; on an error (out of file descriptors: `EMFILE`) waits a
/// little instead of spinning, as the connections that hold them close.
async fn accept(name: &str, listener: &TcpListener) -> TcpStream {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                return stream;
            }
            Err(err) => {
                tracing::warn!(listener = name, error = %err, "accept failed; retrying in 50 ms");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Serves `app` on `listener` over HTTP/1.1 (over TLS with `tls`) until `stop` turns true,
/// each connection in a slot of `slots`; then lets every open connection finish its
/// request and returns once all are closed (at most `SHUTDOWN_GRACE`, 5 s, later).
pub async fn serve_http(
    slots: Arc<Slots>,
    listener: TcpListener,
    app: axum::Router,
    tls: Option<Arc<ServerConfig>>,
    header_read_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let name = slots.name();
    let acceptor = tls.map(TlsAcceptor::from);
    let mut connections = JoinSet::new();
    loop {
        let stream = tokio::select! {
            stream = accept(name, &listener) => stream,
            stopped = stop.wait_for(|stop| *stop) => {
                drop(stopped);
                break;
            }
        };
        // Reap finished connection tasks as we go.
        while connections.try_join_next().is_some() {}
        let Some(guarded) = slots.admit(stream) else {
            continue; // dropped: closed at once
        };
        let (app, acceptor, stop) = (app.clone(), acceptor.clone(), stop.clone());
        connections.spawn(async move {
            let conn = guarded.conn().clone();
            match acceptor {
                None => serve_connection(guarded, conn, app, header_read_timeout, stop).await,
                Some(acceptor) => {
                    // The handshake is part of the header timeout: the watchdog closes it.
                    match acceptor.accept(guarded).await {
                        Ok(tls) => {
                            serve_connection(tls, conn, app, header_read_timeout, stop).await
                        }
                        Err(err) => {
                            tracing::debug!(listener = name, error = %err, "TLS handshake failed")
                        }
                    }
                }
            }
        });
    }
    drop(listener);
    // Requests in flight finish; a connection still trickling its headers is not waited
    // for past the grace.
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drained).await.is_err() {
        connections.abort_all();
    }
}

/// How long [`serve_http`] waits at shutdown for open connections to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves one connection; on `stop`, finishes its request in flight and closes it.
async fn serve_connection<IO>(
    io: IO,
    conn: Arc<Conn>,
    app: axum::Router,
    header_read_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let tower = TowerToHyperService::new(app);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        conn.served();
        let answering = guard::Answering::new(conn.clone());
        let answered = tower.call(request);
        async move {
            let response = answered.await;
            drop(answering);
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let stopped = async move {
        let _ = stop.wait_for(|stop| *stop).await;
    };
    let served = tokio::select! {
        served = connection.as_mut() => served,
        () = stopped => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(err) = served {
        tracing::debug!(error = %err, "connection ended");
    }
}

/// The connections of `listener`, each in a slot of `slots`, for tonic's
/// `serve_with_incoming`.
pub fn incoming(
    slots: Arc<Slots>,
    listener: TcpListener,
) -> impl Stream<Item = std::io::Result<Guarded<TcpStream>>> {
    futures::stream::unfold((listener, slots), |(listener, slots)| async move {
        loop {
            let stream = accept(slots.name(), &listener).await;
            if let Some(guarded) = slots.admit(stream) {
                return Some((Ok(guarded), (listener, slots)));
            }
        }
    })
}

/// What tonic puts in every request's extensions for a [`Guarded`] connection: the
/// connection's slot (the gRPC door marks it served) and the TCP addresses.
#[derive(Debug, Clone)]
pub struct GuardedInfo {
    /// The connection, as its listener sees it.
    pub conn: Arc<Conn>,
    /// The TCP addresses.
    pub tcp: tonic::transport::server::TcpConnectInfo,
}

impl Connected for Guarded<TcpStream> {
    type ConnectInfo = GuardedInfo;

    fn connect_info(&self) -> GuardedInfo {
        GuardedInfo {
            conn: self.conn().clone(),
            tcp: self.get_ref().connect_info(),
        }
    }
}

/// Marks the connection of a gRPC request served (see [`Conn::served`]), plain or TLS.
pub fn mark_served(extensions: &http::Extensions) {
    if let Some(info) = extensions.get::<GuardedInfo>() {
        info.conn.served();
    } else if let Some(info) =
        extensions.get::<tonic::transport::server::TlsConnectInfo<GuardedInfo>>()
    {
        info.get_ref().conn.served();
    }
}
