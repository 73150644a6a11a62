//! The webhook door's token and body path (see the module `fuzzing`).

use crate::config::ApiKeys;
use crate::ingest::mapping::{event_type, webhook_item};
use crate::ingest::webhook::{Verified, WebhookVerifier};
use crate::model::DocumentFormat;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const KEY: &str = "fuzz-key";
const SECRET: &str = "fuzz-secret-of-at-least-32-bytes!";

static VERIFIER: LazyLock<WebhookVerifier> =
    LazyLock::new(|| WebhookVerifier::new(ApiKeys([(KEY.to_string(), SECRET.to_string())].into())));

/// An HS256 JWT over the claim set `claims` (JSON text, or anything), signed with the key.
fn signed(claims: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims);
    let input = format!("{header}.{payload}");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(ring::hmac::sign(&key, input.as_bytes()));
    format!("{input}.{signature}")
}

/// The token livekit-server would send with `body`.
fn token_for(body: &[u8]) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let claims = serde_json::json!({
        "iss": KEY, "nbf": now - 10, "exp": now + 300,
        "sha256": STANDARD.encode(Sha256::digest(body)),
    });
    signed(claims.to_string().as_bytes())
}

/// One webhook request from the fuzzer's bytes; the first byte picks the case:
/// 0: `rest` is the body, with a good token: it verifies, and a mapped event becomes an
///    item whose document is JSON, in both formats;
/// 1: `rest` is a claim set, signed properly, over an empty body: no panic;
/// else: `rest` is `Authorization value \n body`: no panic.
pub fn body(data: &[u8]) {
    let Some((&case, rest)) = data.split_first() else {
        return;
    };
    match case {
        0 => {
            let token = token_for(rest);
            let verified = VERIFIER
                .verify(Some(&token), rest)
                .unwrap_or_else(|e| panic!("a good token refused: {e}"));
            let Verified::Event(parsed) = verified else {
                return;
            };
            let Some(kind) = event_type(&parsed.event.event) else {
                return;
            };
            for format in [DocumentFormat::Openvidu, DocumentFormat::Typed] {
                let item = webhook_item(
                    parsed.event.clone(),
                    kind,
                    parsed.raw.clone(),
                    "ND_fuzz",
                    SystemTime::now(),
                    Duration::from_secs(3600),
                    format,
                );
                let text = item.document_text();
                if let Err(e) = serde_json::from_str::<serde_json::Value>(text) {
                    panic!("{format:?}: the webhook's document is not JSON ({e}): {text}");
                }
            }
        }
        1 => {
            let token = signed(rest);
            let _ = VERIFIER.verify(Some(&token), b"");
        }
        _ => {
            let split = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let auth = String::from_utf8_lossy(&rest[..split]);
            let body = rest.get(split + 1..).unwrap_or_default();
            let _ = VERIFIER.verify(Some(&auth), body);
        }
    }
}
