//! Durations as LiveKit and the OpenVidu fork write them: Go's `time.Duration` syntax
//! (`300ms`, `10s`, `1h30m`, `1.5h`), plus anything humantime reads (`2 days`, `1h 30min`).

use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// Parses a duration in Go's syntax, falling back to humantime's.
pub fn parse(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    parse_go(trimmed)
        .or_else(|go_err| humantime::parse_duration(trimmed).map_err(|_| go_err))
        .map_err(|err| format!("invalid duration `{text}`: {err} (use Go syntax such as `10s`, `1h30m`, `1.5h`, `300ms`)"))
}

/// Go's `time.ParseDuration`, for non-negative values.
fn parse_go(text: &str) -> Result<Duration, String> {
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err("empty".into());
    }
    if text.starts_with('-') {
        return Err("negative durations are not allowed".into());
    }
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    let mut total_nanos: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or("missing unit")?;
        if number_len == 0 {
            return Err(format!("expected a number at `{rest}`"));
        }
        let number: f64 = rest[..number_len]
            .parse()
            .map_err(|_| format!("bad number `{}`", &rest[..number_len]))?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per_unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            other => return Err(format!("unknown unit `{other}`")),
        };
        rest = &rest[unit_len..];
        total_nanos += number * nanos_per_unit;
    }
    if total_nanos > u64::MAX as f64 {
        return Err("too large".into());
    }
    Ok(Duration::from_nanos(total_nanos.round() as u64))
}

/// Formats a duration the way LiveKit and OpenVidu configs write it, the inverse of
/// [`parse`]: whole seconds in Go's form without zero parts (`10s`, `1m`, `1h30m`, `768h` —
/// not humantime's `1month 1day 13h 26m 24s`), anything finer in humantime's (`300ms`).
pub fn format(duration: Duration) -> String {
    if duration.subsec_nanos() != 0 {
        return humantime::format_duration(duration).to_string();
    }
    let seconds = duration.as_secs();
    if seconds == 0 {
        return "0s".into();
    }
    let mut text = String::new();
    for (value, unit) in [
        (seconds / 3600, 'h'),
        (seconds % 3600 / 60, 'm'),
        (seconds % 60, 's'),
    ] {
        if value > 0 {
            text.push_str(&value.to_string());
            text.push(unit);
        }
    }
    text
}

/// Serde deserializer for a [`Duration`] in Go or humantime syntax; with [`serialize`], the
/// module serves `#[serde(with = "duration")]`.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse(&text).map_err(serde::de::Error::custom)
}

/// Serde serializer for a [`Duration`], written the way [`format()`] writes it.
pub fn serialize<S: serde::Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(*duration))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_forms() {
        assert_eq!(parse("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse("360h").unwrap(), Duration::from_secs(360 * 3600));
        assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("300ms").unwrap(), Duration::from_millis(300));
        assert_eq!(parse("1m0.5s").unwrap(), Duration::from_millis(60_500));
        assert_eq!(parse("250us").unwrap(), Duration::from_micros(250));
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
    }

    #[test]
    fn written_as_go_writes_them_and_read_back() {
        for (seconds, text) in [
            (0, "0s"),
            (10, "10s"),
            (60, "1m"),
            (5400, "1h30m"),
            (768 * 3600, "768h"),
            (3661, "1h1m1s"),
        ] {
            assert_eq!(format(Duration::from_secs(seconds)), text);
            assert_eq!(parse(text).unwrap(), Duration::from_secs(seconds));
        }
        assert_eq!(format(Duration::from_millis(300)), "300ms");
        assert_eq!(
            parse(&format(Duration::from_millis(1500))).unwrap(),
            Duration::from_millis(1500)
        );
    }

    #[test]
    fn humantime_forms() {
        assert_eq!(parse("2 days").unwrap(), Duration::from_secs(2 * 86400));
        assert_eq!(parse("1h 30min").unwrap(), Duration::from_secs(5400));
    }

    #[test]
    fn errors_name_the_value() {
        let err = parse("10x").unwrap_err();
        assert!(err.contains("`10x`"), "{err}");
        assert!(parse("-5s").is_err());
        assert!(parse("").is_err());
        assert!(parse("s").is_err());
    }
}
