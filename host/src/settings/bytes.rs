//! Sizes in bytes as the configuration writes them: a number, or `64KiB`, `64MiB`, `1GiB`,
//! `64KB`, `64MB`, `1GB`.

use serde::{Deserialize, Deserializer, Serializer};

/// Parses `123`, `64KiB`, `64MiB`, `1GiB`, `64KB`, `64MB`, `1GB`.
pub fn parse(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size (e.g. `64MiB`)"))?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "`{text}`: unknown unit `{other}` (use KiB, MiB, GiB)"
            ))
        }
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Deserializes a size: a number of bytes, or text such as `64MiB`.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    use serde::de::Error;
    match serde_yaml::Value::deserialize(deserializer)? {
        serde_yaml::Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| D::Error::custom(format!("`{n}` is not a size in bytes"))),
        serde_yaml::Value::String(s) => parse(&s).map_err(D::Error::custom),
        other => Err(D::Error::custom(format!(
            "`{other:?}` is not a size (e.g. `64MiB`)"
        ))),
    }
}

/// Serializes a size as a number of bytes.
pub fn serialize<S: Serializer>(bytes: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(*bytes)
}
