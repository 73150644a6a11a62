//! Every decision of [`TokenKeys`] against LiveKit's own `TokenVerifier` (the verifier the door
//! used before), on tokens crafted to sit on each side of each rule.

use super::{TokenKeys, WebhookClaims};
use crate::config::ApiKeys;
use base64::Engine as _;
use livekit_api::access_token::{AccessToken, Claims, TokenVerifier};
use ring::hmac;
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

const KEY: &str = "APIfirst";
const SECRET: &str = "first-secret-that-is-long-enough-1234";
const OTHER_KEY: &str = "APIsecond";
const OTHER_SECRET: &str = "second-secret-that-is-long-enough-5678";

fn keys() -> ApiKeys {
    ApiKeys(
        [(KEY, SECRET), (OTHER_KEY, OTHER_SECRET)]
            .into_iter()
            .map(|(k, s)| (k.to_string(), s.to_string()))
            .collect(),
    )
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A JWT of `header` and `payload` signed with `secret` by `algorithm` (None: no signature).
fn jwt(
    header: &Value,
    payload: &Value,
    secret: &str,
    algorithm: Option<hmac::Algorithm>,
) -> String {
    let signed = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    );
    let signature = algorithm.map_or(Vec::new(), |algorithm| {
        hmac::sign(
            &hmac::Key::new(algorithm, secret.as_bytes()),
            signed.as_bytes(),
        )
        .as_ref()
        .to_vec()
    });
    format!("{signed}.{}", b64(&signature))
}

fn hs256(payload: &Value, secret: &str) -> String {
    jwt(
        &json!({"alg": "HS256", "typ": "JWT"}),
        payload,
        secret,
        Some(hmac::HMAC_SHA256),
    )
}

fn claims(changes: Value) -> Value {
    let mut claims = json!({
        "iss": KEY, "exp": now() + 600, "nbf": now() - 10, "sha256": "c2lnbmVk",
        "video": {"roomCreate": true}
    });
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    claims
}

/// What LiveKit's verifier says: the secret picked by the unverified issuer, then
/// `TokenVerifier::verify`.
fn livekit_verdict(token: &str) -> Option<(String, String)> {
    let issuer = Claims::from_unverified(token).ok()?.iss;
    let secret = keys().secret(&issuer)?.to_string();
    let claims = TokenVerifier::with_api_key(&issuer, &secret)
        .verify(token)
        .ok()?;
    Some((claims.iss, claims.sha256))
}

fn our_verdict(token: &str) -> Option<(String, String)> {
    TokenKeys::new(&keys())
        .verify(token)
        .ok()
        .map(|WebhookClaims { issuer, sha256 }| (issuer, sha256))
}

#[test]
fn every_decision_matches_livekits_verifier() {
    let t = now();
    let mut cases: Vec<(&str, String)> = vec![
        ("valid", hs256(&claims(json!({})), SECRET)),
        (
            "livekit's own token",
            AccessToken::with_api_key(KEY, SECRET)
                .with_sha256("abc")
                .to_jwt()
                .unwrap(),
        ),
        (
            "the other key",
            hs256(&claims(json!({"iss": OTHER_KEY})), OTHER_SECRET),
        ),
        (
            "other key's secret",
            hs256(&claims(json!({"iss": KEY})), OTHER_SECRET),
        ),
        (
            "wrong secret",
            hs256(&claims(json!({})), "not-the-secret-at-all-0000000000"),
        ),
        (
            "unknown issuer",
            hs256(&claims(json!({"iss": "APInobody"})), SECRET),
        ),
        ("no issuer", hs256(&claims(json!({"iss": null})), SECRET)),
        (
            "issuer not a string",
            hs256(&claims(json!({"iss": 7})), SECRET),
        ),
        ("no exp", hs256(&claims(json!({"exp": null})), SECRET)),
        ("expired", hs256(&claims(json!({"exp": t - 120})), SECRET)),
        (
            "expired within leeway",
            hs256(&claims(json!({"exp": t - 20})), SECRET),
        ),
        (
            "exp a string",
            hs256(&claims(json!({"exp": "9999999999"})), SECRET),
        ),
        (
            "exp a fraction",
            hs256(&claims(json!({"exp": (t + 600) as f64 + 0.5})), SECRET),
        ),
        ("exp negative", hs256(&claims(json!({"exp": -5})), SECRET)),
        ("exp far", hs256(&claims(json!({"exp": u64::MAX})), SECRET)),
        (
            "not yet valid",
            hs256(&claims(json!({"nbf": t + 120})), SECRET),
        ),
        (
            "nbf within leeway",
            hs256(&claims(json!({"nbf": t + 20})), SECRET),
        ),
        ("no nbf", hs256(&claims(json!({"nbf": null})), SECRET)),
        ("nbf a string", hs256(&claims(json!({"nbf": "0"})), SECRET)),
        (
            "audience",
            hs256(&claims(json!({"aud": "somebody"})), SECRET),
        ),
        (
            "audiences",
            hs256(&claims(json!({"aud": ["a", "b"]})), SECRET),
        ),
        (
            "empty audiences",
            hs256(&claims(json!({"aud": []})), SECRET),
        ),
        ("no sha256", hs256(&claims(json!({"sha256": null})), SECRET)),
        (
            "sha256 not a string",
            hs256(&claims(json!({"sha256": 5})), SECRET),
        ),
        (
            "HS384",
            jwt(
                &json!({"alg": "HS384"}),
                &claims(json!({})),
                SECRET,
                Some(hmac::HMAC_SHA384),
            ),
        ),
        (
            "HS512",
            jwt(
                &json!({"alg": "HS512"}),
                &claims(json!({})),
                SECRET,
                Some(hmac::HMAC_SHA512),
            ),
        ),
        (
            "alg none",
            jwt(&json!({"alg": "none"}), &claims(json!({})), SECRET, None),
        ),
        (
            "alg none with an HS256 signature",
            jwt(
                &json!({"alg": "none"}),
                &claims(json!({})),
                SECRET,
                Some(hmac::HMAC_SHA256),
            ),
        ),
        (
            "no alg",
            jwt(
                &json!({"typ": "JWT"}),
                &claims(json!({})),
                SECRET,
                Some(hmac::HMAC_SHA256),
            ),
        ),
        ("payload not JSON", {
            let good = hs256(&claims(json!({})), SECRET);
            let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
            parts[1] = b64(b"not json");
            parts.join(".")
        }),
        ("two parts", "eyJhbGciOiJIUzI1NiJ9.e30".to_string()),
        (
            "four parts",
            format!("{}.x", hs256(&claims(json!({})), SECRET)),
        ),
        ("empty", String::new()),
        ("garbage", "not a token".to_string()),
    ];
    // Each part tampered with, and base64 padding added.
    let good = hs256(&claims(json!({})), SECRET);
    for index in 0..3 {
        let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
        let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&parts[index])
            .unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        parts[index] = b64(&bytes);
        cases.push(("a part tampered with", parts.join(".")));
        let mut padded: Vec<String> = good.split('.').map(str::to_string).collect();
        padded[index].push('=');
        cases.push(("a part padded", padded.join(".")));
    }
    let mut accepted = 0;
    for (name, token) in &cases {
        let theirs = livekit_verdict(token);
        let ours = our_verdict(token);
        assert_eq!(ours, theirs, "{name}: {token}");
        accepted += usize::from(ours.is_some());
    }
    // Both sides of the rules were exercised.
    assert!(
        accepted >= 8 && accepted + 20 < cases.len(),
        "{accepted} of {}",
        cases.len()
    );
}

#[test]
fn refusals_name_their_cause() {
    let keys = TokenKeys::new(&keys());
    let t = now() as u64;
    let expired = hs256(&claims(json!({"exp": t - 120})), SECRET);
    let cases = [
        ("x.y", "three"),
        ("%%%.e30.x", "header is not base64url"),
        (
            &*hs256(&claims(json!({"iss": "APInobody"})), SECRET),
            "unknown API key `APInobody`",
        ),
        (&*hs256(&claims(json!({})), OTHER_SECRET), "bad signature"),
        (&*expired, "expired"),
        (
            &*jwt(
                &json!({"alg": "HS512"}),
                &claims(json!({})),
                SECRET,
                Some(hmac::HMAC_SHA512),
            ),
            "algorithm `HS512`",
        ),
    ];
    for (token, expected) in cases {
        let err = keys.verify(token).unwrap_err().to_string();
        assert!(err.contains(expected), "{token}: {err}");
    }
    // The secrets never reach a log line.
    assert!(!format!("{keys:?}").contains(SECRET));
}
