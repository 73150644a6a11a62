//! The read API's routes, parameters and cursors (see the module `fuzzing`).

use crate::api::{Api, ApiSettings, Backend};
use crate::config::OverflowPolicy;
use crate::ingest::IngestCounters;
use crate::pipeline::Pipeline;
use crate::telemetry::Observed;
use axum::body::Body;
use axum::http::{Request, StatusCode, Uri};
use axum::Router;
use base64::Engine as _;
use http_body_util::BodyExt as _;
use std::sync::{Arc, LazyLock};

/// One runtime and one API (no store: every query finds nothing) for all requests.
static API: LazyLock<(tokio::runtime::Runtime, Router)> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let router = runtime.block_on(async {
        let pipeline = Arc::new(Pipeline::new(
            Vec::new(),
            OverflowPolicy::Reject,
            Arc::new(tokio::sync::Notify::new()),
        ));
        let observed = Observed::new(pipeline, Arc::new(IngestCounters::default()));
        let settings = ApiSettings {
            enabled: true,
            backend: Backend::None,
            token: None,
        };
        Api::new(settings, observed).router()
    });
    (runtime, router)
});

/// The request target of the fuzzer's bytes; the first byte picks the route, the rest (as
/// text, split at the first `\n` where a route takes two parts) fills it in. `None` for
/// text that is not a request target (the HTTP server refuses it before the API).
fn target(data: &[u8]) -> Option<String> {
    let (&route, rest) = data.split_first()?;
    let text = String::from_utf8_lossy(rest);
    let (a, b) = text.split_once('\n').unwrap_or((&text, ""));
    Some(match route % 6 {
        0 => format!("/api/rooms?{text}"),
        1 => format!("/api/rooms/{text}"),
        2 => format!("/api/rooms/{a}/quality?{b}"),
        3 => format!("/api/participants?{text}"),
        // A cursor of any content, in the encoding the API gives them.
        4 => format!(
            "/api/rooms?cursor={}&{b}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(a)
        ),
        _ => format!("/api/rooms/{a}/quality?bucket={b}"),
    })
}

/// One GET from the fuzzer's bytes: never a panic or a 5xx; a refusal is `{"error": …}`.
pub fn request(data: &[u8]) {
    let Some(target) = target(data) else { return };
    let Ok(uri) = target.parse::<Uri>() else {
        return;
    };
    let (runtime, router) = &*API;
    let request = Request::get(uri)
        .body(Body::empty())
        .expect("a GET request");
    let (status, body) = runtime.block_on(async {
        let mut router = router.clone();
        let response = tower_service::Service::call(&mut router, request)
            .await
            .expect("the router answers");
        let status = response.status();
        let body = response.into_body().collect().await.map(|b| b.to_bytes());
        (status, body.expect("the body is read"))
    });
    // 501: no store configured (this API has none), said as JSON like any refusal.
    let no_store = status == StatusCode::NOT_IMPLEMENTED;
    assert!(
        !status.is_server_error() || no_store,
        "{target}: {status} {body:?}"
    );
    if (status.is_client_error() || no_store) && status != StatusCode::NOT_FOUND {
        // A path segment that is not UTF-8 once decoded (`%ff`) is refused by the router
        // itself, in plain text: issue 31's item 6 makes that JSON on its own branch.
        if body.starts_with(b"Invalid URL") {
            return;
        }
        let json: Result<serde_json::Value, _> = serde_json::from_slice(&body);
        assert!(
            json.is_ok_and(|j| j.get("error").is_some_and(|e| e.is_string())),
            "{target}: {status} without a JSON error: {body:?}"
        );
    }
}
