//! The query parameters the routes share: time ranges, cursors, bucket sizes.

use super::{bad_request, ApiError};
use base64::Engine as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// The default time range: the last day.
const DEFAULT_RANGE_SECONDS: f64 = 86_400.0;

/// The `[from, to)` of the parameters: by default the last day.
pub(super) fn range(from: Option<&str>, to: Option<&str>) -> Result<(f64, f64), ApiError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let to = to.map(|t| time("to", t)).transpose()?.unwrap_or(now);
    let from = from
        .map(|t| time("from", t))
        .transpose()?
        .unwrap_or(to - DEFAULT_RANGE_SECONDS);
    if from >= to {
        return Err(bad_request(format!(
            "`from` ({from}) must be before `to` ({to})"
        )));
    }
    Ok((from, to))
}

/// A time parameter: Unix seconds (`1764460800`, `1764460800.5`) or RFC 3339.
fn time(name: &str, text: &str) -> Result<f64, ApiError> {
    if let Ok(seconds) = text.parse::<f64>() {
        if seconds.is_finite() {
            return Ok(seconds);
        }
    }
    humantime::parse_rfc3339_weak(text)
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64())
        .ok_or_else(|| {
            bad_request(format!(
                "`{name}` {text:?}: Unix seconds or an RFC 3339 time (2026-11-30T08:00:00Z)"
            ))
        })
}

pub(super) fn encode_cursor(started_at: f64, sid: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{started_at}:{sid}"))
}

pub(super) fn cursor(text: &str) -> Result<(f64, String), ApiError> {
    let bad = || bad_request(format!("`cursor` {text:?} is not one this API gave"));
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (started, sid) = raw.split_once(':').ok_or_else(bad)?;
    // As `from`/`to`: only finite times (`NaN`, `inf`, `1e400` are no session's start).
    let started = started
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite())
        .ok_or_else(bad)?;
    Ok((started, sid.to_string()))
}

/// Smallest and largest quality bucket, and the default, in seconds.
const BUCKET: (f64, f64, f64) = (1.0, 3600.0, 10.0);

/// The `bucket` parameter (`10s`, `1m`, or seconds): default 10 s, from 1 s to 1 h.
pub(super) fn bucket(text: Option<&str>) -> Result<f64, ApiError> {
    let Some(text) = text else {
        return Ok(BUCKET.2);
    };
    let seconds = text.parse::<f64>().ok().or_else(|| {
        humantime::parse_duration(text)
            .ok()
            .map(|d| d.as_secs_f64())
    });
    seconds
        .filter(|s| (BUCKET.0..=BUCKET.1).contains(s))
        .ok_or_else(|| {
            bad_request(format!(
                "`bucket` {text:?}: a duration from 1s to 1h (10s, 1m, or seconds)"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(text: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }

    #[test]
    fn a_cursor_round_trips() {
        let text = encode_cursor(1_764_460_800.5, "RM_A");
        assert_eq!(cursor(&text).ok(), Some((1_764_460_800.5, "RM_A".into())));
    }

    #[test]
    fn a_cursor_with_a_non_finite_start_is_refused_as_from_and_to_are() {
        for start in ["NaN", "nan", "inf", "-inf", "infinity", "1e400", "-1e400"] {
            let text = b64(&format!("{start}:RM_A"));
            let err = cursor(&text).expect_err(start);
            assert_eq!(err.0, axum::http::StatusCode::BAD_REQUEST, "{start}");
            assert!(err.1.contains("cursor"), "{start}: {}", err.1);
            assert!(time("from", start).is_err(), "{start}");
        }
    }
}
