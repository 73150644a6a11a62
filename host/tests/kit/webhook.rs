//! LiveKit webhooks: signed here with the `jsonwebtoken` 9 crate, independently of the host's
//! verifier (the LiveKit API crate), and posted over HTTP.

use crate::kit::{KEY, SECRET};
use base64::Engine as _;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A LiveKit webhook token over `body`: HS256, `iss` = key, `sha256` = base64(SHA-256(body)).
pub fn sign_with(body: &[u8], key: &str, secret: &str, nbf: i64, exp: i64) -> String {
    let sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body));
    let claims = json!({ "iss": key, "nbf": nbf, "exp": exp, "sha256": sha });
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// A valid token over `body` for the trusted key.
pub fn sign(body: &[u8]) -> String {
    sign_with(body, KEY, SECRET, now() - 10, now() + 300)
}

/// A `room_started` webhook for room `RM_<n>` (distinct per `n`).
pub fn room_started(n: u32) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "event": "room_started",
        "id": format!("EV_{n}"),
        "createdAt": (1_764_280_000 + i64::from(n)).to_string(),
        "room": { "sid": format!("RM_{n}"), "name": "demo" },
    }))
    .unwrap()
}

/// Posts `body` to the webhook `url` with `auth` as the Authorization header; the status.
pub async fn post(url: &str, body: Vec<u8>, auth: Option<String>) -> u16 {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/webhook+json")
        .body(body);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    request.send().await.expect("request").status().as_u16()
}

/// Posts `body` to `url` signed with the trusted key; the status.
pub async fn post_signed(url: &str, body: Vec<u8>) -> u16 {
    let auth = sign(&body);
    post(url, body, Some(auth)).await
}
