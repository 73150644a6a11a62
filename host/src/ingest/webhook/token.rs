//! The webhook's bearer token, checked as LiveKit's own verifier checks it, at a fraction
//! of the cost.
//!
//! livekit-server signs each webhook with an HS256 JWT whose `iss` is the API key and whose
//! `sha256` claim is the base64 SHA-256 of the body. `livekit_api`'s `TokenVerifier` checks
//! such a token with `jsonwebtoken`: it decodes the header twice, deserializes LiveKit's whole
//! claim set (grants and all) twice, and derives the HMAC key from the secret on every call —
//! 14 % of the host's CPU per webhook in the profile (see docs/benchmarks.md, Ingest).
//!
//! [`TokenKeys::verify`] makes the same decisions with one pass: the HMAC keys are derived
//! once per API key, the header's `alg` is read, the signature is checked with `ring`'s
//! constant-time `hmac::verify`, and only the claims a webhook needs are read (`iss`, `exp`,
//! `nbf`, `aud`, `sha256`). The rules are `jsonwebtoken`'s defaults as LiveKit sets them:
//! algorithm HS256 only; `exp` required and a number; 60 s of leeway on `exp` and `nbf`; `iss`
//! must be the key whose secret verified the signature; a token with an `aud` claim is refused
//! (no audience is configured). `tests.rs` checks every decision against `TokenVerifier` on
//! crafted tokens. What it does not repeat: parsing LiveKit's grant claims, which a webhook
//! does not use — a signed token whose grants are malformed is accepted here.

use super::AuthError;
use crate::settings::ApiKeys;
use base64::Engine as _;
use ring::hmac;
use serde::de::IgnoredAny;
use std::borrow::Cow;
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds of clock skew allowed on `exp` and `nbf` (`jsonwebtoken`'s default leeway, which
/// LiveKit's verifier keeps).
const LEEWAY_SECONDS: u64 = 60;

/// The HMAC-SHA256 key of every configured API key, derived once.
#[derive(Clone)]
pub struct TokenKeys {
    keys: HashMap<String, hmac::Key>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets.
        f.debug_struct("TokenKeys")
            .field("api_keys", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The claims of a verified webhook token that the door uses.
#[derive(Debug, PartialEq, Eq)]
pub struct WebhookClaims {
    /// The API key that signed the token.
    pub issuer: String,
    /// The SHA-256 of the body, base64 (standard alphabet), as signed.
    pub sha256: String,
}

/// The payload's claims, the ones a webhook token is checked against (strings borrowed from
/// the decoded payload unless they hold escapes).
#[derive(serde::Deserialize)]
struct Claims<'a> {
    #[serde(default, borrow)]
    iss: Option<Cow<'a, str>>,
    /// Any JSON value: a non-number is refused by name rather than failing the parse.
    #[serde(default)]
    exp: Option<serde_json::Value>,
    #[serde(default)]
    nbf: Option<serde_json::Value>,
    /// Only whether it is there.
    #[serde(default)]
    aud: Option<IgnoredAny>,
    #[serde(default, borrow)]
    sha256: Cow<'a, str>,
}

/// The header's one field that matters.
#[derive(serde::Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
}

impl TokenKeys {
    /// The keys of `keys`, each secret's HMAC key derived now.
    pub fn new(keys: &ApiKeys) -> Self {
        let keys = keys
            .0
            .iter()
            .map(|(key, secret)| {
                (
                    key.clone(),
                    hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()),
                )
            })
            .collect();
        TokenKeys { keys }
    }

    /// Verifies `token` (the JWT alone, no `Bearer `) at the current time.
    pub fn verify(&self, token: &str) -> Result<WebhookClaims, AuthError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.verify_at(token, now)
    }

    /// Verifies `token` as at `now` (seconds since the Unix epoch).
    fn verify_at(&self, token: &str, now: u64) -> Result<WebhookClaims, AuthError> {
        let parts = token
            .rsplit_once('.')
            .and_then(|(signed, signature)| Some((signed, signed.split_once('.')?, signature)));
        let Some((signed, (header, payload), signature)) = parts else {
            return Err(AuthError::Malformed(
                "a JWT has three dot-separated parts".into(),
            ));
        };
        if payload.contains('.') {
            return Err(AuthError::Malformed(
                "a JWT has three dot-separated parts".into(),
            ));
        }
        let header = base64url(header, "header")?;
        let header: Header = serde_json::from_slice(&header)
            .map_err(|e| AuthError::Malformed(format!("the header is not JSON: {e}")))?;
        let payload_json = base64url(payload, "payload")?;
        let claims: Claims = serde_json::from_slice(&payload_json)
            .map_err(|e| AuthError::Malformed(format!("the payload is not JSON claims: {e}")))?;
        let issuer = claims.iss.unwrap_or_default();
        let key = self
            .keys
            .get(&*issuer)
            .ok_or_else(|| AuthError::UnknownKey(issuer.to_string()))?;
        if header.alg != "HS256" {
            return Err(AuthError::Invalid(format!(
                "algorithm `{}` (webhooks are signed HS256)",
                header.alg
            )));
        }
        let signature = base64url(signature, "signature")?;
        hmac::verify(key, signed.as_bytes(), &signature)
            .map_err(|_| AuthError::Invalid("bad signature".into()))?;
        let exp = match claims.exp {
            None => return Err(AuthError::Invalid("no `exp` claim".into())),
            Some(value) => value
                .as_u64()
                .ok_or_else(|| AuthError::Invalid("`exp` is not a number of seconds".into()))?,
        };
        if exp < now.saturating_sub(LEEWAY_SECONDS) {
            return Err(AuthError::Invalid("the token has expired".into()));
        }
        if let Some(nbf) = claims.nbf {
            let nbf = nbf
                .as_u64()
                .ok_or_else(|| AuthError::Invalid("`nbf` is not a number of seconds".into()))?;
            if nbf > now + LEEWAY_SECONDS {
                return Err(AuthError::Invalid("the token is not valid yet".into()));
            }
        }
        if claims.aud.is_some() {
            return Err(AuthError::Invalid(
                "the token names an audience (webhook tokens have none)".into(),
            ));
        }
        Ok(WebhookClaims {
            issuer: issuer.into_owned(),
            sha256: claims.sha256.into_owned(),
        })
    }
}

/// A JWT part decoded from base64url without padding, as `jsonwebtoken` reads it.
fn base64url(part: &str, what: &str) -> Result<Vec<u8>, AuthError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| AuthError::Malformed(format!("the {what} is not base64url: {e}")))
}

#[cfg(test)]
mod tests;
