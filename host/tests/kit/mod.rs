//! The test kit: everything the integration tests and the benches share, one module per role.
//!
//! A test file takes it with `mod kit;`, a bench with `#[path = "../tests/kit/mod.rs"] mod kit;`.
//! Each test crate compiles the whole kit and uses part of it, so the `mod kit;` line carries
//! `#[allow(dead_code)]`; every item here is used by at least one test or bench.
//!
//! | module | what |
//! | --- | --- |
//! | [`items`] | items (events, stats), timestamps, host settings |
//! | [`fork`] | the OpenVidu 3.9 fork's indexes; events that start and end its active entities |
//! | [`ports`] | `free_port`: one registry, a port is never handed out twice |
//! | [`webhook`] | signing LiveKit webhooks, posting them |
//! | [`host`] | `TestHost`: the host in this process, file store and both doors |
//! | [`load`] | `simulate` load against a `TestHost` with a fault; waiting for stores to settle |
//! | [`process`] | `HostProcess`: a real `analytics-host` process; `bin()` |
//! | [`metrics`] | reading `/metrics`: `sample`, `wait_for_sample` |
//! | [`sessions`] | whole sessions (events and stats) of a simulated morning |
//! | [`store`] | reading the embedded file store |
//! | [`grpc`] | gRPC messages, raw bytes as gRPC, garbage on the gRPC port |
//! | [`tap`] | `GrpcTap`: between livekit-server's export and the host, keeps the records as sent |
//! | [`plugins`] | WAT components built against `wit/`, plugin configs, a small HTTP server |
//! | [`pki`] | throw-away certificates: a private CA, server and client certificates |
//! | [`browser`] | headless Chromium through ChromeDriver (WebDriver), for the dashboard |
//! | [`worker`] | the egress/ingress test worker (`livekit/test-worker/`) on livekit-server's Redis |
//! | [`servers`] | MongoDB-wire (SecantusDB, FerretDB: the `matrix`) and Redis server processes (also sentinels, clusters) |

pub mod browser;
pub mod fork;
pub mod grpc;
pub mod host;
pub mod items;
pub mod livekit;
pub mod load;
pub mod metrics;
pub mod pki;
pub mod plugins;
pub mod ports;
pub mod process;
pub mod servers;
pub mod sessions;
pub mod store;
pub mod tap;
pub mod webhook;
pub mod worker;

use std::future::Future;
use std::time::{Duration, Instant};

/// API key the test hosts trust.
pub const KEY: &str = "devkey";
/// The secret of [`KEY`].
pub const SECRET: &str = "a-test-secret-that-is-long-enough-for-hs256";
/// Node id the test hosts write into mapped events.
pub const NODE: &str = "ND_test";

/// Polls `check` until it is true; panics, naming `what`, after `limit`.
pub async fn wait_until<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
