//! The floor under the webhook door: the HTTP/1.1 server the host runs (axum on tokio's
//! multi-threaded runtime, the same body limit layer) with a webhook route that reads the
//! body and answers `200 ok` — no token check, no parse, nothing stored. Serves on
//! `BENCH_LISTEN` (`127.0.0.1:port`) until killed; `scripts/bench-webhook.sh` drives it
//! with the same `wrk` script as the host, so its req/s is what the request alone (its size,
//! `wrk`'s Lua, the loopback) allows on this machine.
//!
//! `cargo bench -p livekit-analytics-host --bench webhook_floor` (with `BENCH_LISTEN` set;
//! without it, it prints how to use it and exits).

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Reads the body and answers as the host answers a stored webhook.
async fn receive(body: Bytes) -> (StatusCode, &'static str) {
    std::hint::black_box(body);
    (StatusCode::OK, "ok\n")
}

fn main() {
    let Ok(listen) = std::env::var("BENCH_LISTEN") else {
        println!(
            "webhook_floor: set BENCH_LISTEN=127.0.0.1:<port>; scripts/bench-webhook.sh runs it"
        );
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .unwrap_or_else(|e| panic!("listening on {listen}: {e}"));
        let app = Router::new()
            .route("/webhook", post(receive))
            .layer(DefaultBodyLimit::max(1 << 20));
        axum::serve(listener, app).await.expect("serving");
    });
}
