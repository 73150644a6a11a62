//! The dashboard: one page (`/`) and its script and stylesheet, built into the binary
//! (`include_str!`; no CDN, no framework, no build step). The page reads the read API
//! from the browser; with `api.token` set it asks for the token and keeps it in the
//! browser's local storage. The assets are public: they hold no data.

use super::ApiState;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

/// The page.
pub const INDEX_HTML: &str = include_str!("index.html");
/// Its script.
pub const APP_JS: &str = include_str!("app.js");
/// Its stylesheet.
pub const STYLE_CSS: &str = include_str!("style.css");

/// A static asset with its content type; the browser may keep it for a minute.
fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "max-age=60"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
}

/// The dashboard's routes: `/`, `/dashboard/app.js`, `/dashboard/style.css`.
pub fn router() -> Router<Arc<ApiState>> {
    Router::new()
        .route(
            "/",
            get(|| async {
                (
                    [(
                        header::CONTENT_SECURITY_POLICY,
                        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
                    )],
                    asset("text/html; charset=utf-8", INDEX_HTML),
                )
            }),
        )
        .route(
            "/dashboard/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/dashboard/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }),
        )
}
