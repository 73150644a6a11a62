//! UTC times as the stored documents and file names spell them, written without
//! allocating: `openvidu_expire_at` as RFC 3339 with milliseconds (`2026-12-15T13:13:21.851Z`,
//! what `humantime::format_rfc3339_millis` prints, checked by a test) and the UTC day
//! (`2026-12-15`) of the file store's names.

use std::time::{SystemTime, UNIX_EPOCH};

/// The (year, month, day) of a count of days since 1970-01-01 (proleptic Gregorian).
fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097) as u32; // [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], from March
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = i64::from(yoe) + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn push_digits(out: &mut String, value: u32, width: usize) {
    let mut digits = [b'0'; 4];
    let mut v = value;
    for slot in digits[..width].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.push_str(std::str::from_utf8(&digits[..width]).expect("ASCII digits"));
}

/// Seconds and milliseconds since the epoch, when `time` is in years 1970–9999 (the
/// range the fast writers cover; anything else goes through `humantime`).
fn in_range(time: SystemTime) -> Option<(i64, u32)> {
    let since = time.duration_since(UNIX_EPOCH).ok()?;
    let secs = i64::try_from(since.as_secs()).ok()?;
    (secs < 253_402_300_800).then_some((secs, since.subsec_millis()))
}

/// Appends `time` as RFC 3339 UTC with milliseconds, as `humantime::format_rfc3339_millis`
/// writes it.
pub fn push_rfc3339_millis(out: &mut String, time: SystemTime) {
    let Some((secs, millis)) = in_range(time) else {
        out.push_str(&humantime::format_rfc3339_millis(time).to_string());
        return;
    };
    push_day(out, secs);
    let of_day = secs.rem_euclid(86_400) as u32;
    out.push('T');
    push_digits(out, of_day / 3_600, 2);
    out.push(':');
    push_digits(out, of_day / 60 % 60, 2);
    out.push(':');
    push_digits(out, of_day % 60, 2);
    out.push('.');
    push_digits(out, millis, 3);
    out.push('Z');
}

fn push_day(out: &mut String, secs: i64) {
    let (year, month, day) = civil_date(secs.div_euclid(86_400));
    push_digits(out, year as u32, 4);
    out.push('-');
    push_digits(out, month, 2);
    out.push('-');
    push_digits(out, day, 2);
}

/// The UTC day of `time` as `YYYY-MM-DD`.
pub fn utc_day(time: SystemTime) -> String {
    let mut out = String::with_capacity(10);
    match in_range(time) {
        Some((secs, _)) => push_day(&mut out, secs),
        None => out.push_str(&humantime::format_rfc3339(time).to_string()[..10]),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn writes_what_humantime_writes() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut times = vec![
            UNIX_EPOCH,
            UNIX_EPOCH + Duration::from_millis(951_782_400_000), // 2000-02-29
            UNIX_EPOCH + Duration::from_millis(4_107_542_399_999), // 2100-02-28T23:59:59.999
            UNIX_EPOCH + Duration::from_secs(253_402_300_799),   // 9999-12-31T23:59:59
        ];
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let nanos = (seed >> 34) as u32 % 1_000_000_000;
            times.push(UNIX_EPOCH + Duration::new(seed % 253_402_300_800, nanos));
        }
        for time in times {
            let mut out = String::new();
            push_rfc3339_millis(&mut out, time);
            let expected = humantime::format_rfc3339_millis(time).to_string();
            assert_eq!(out, expected);
            assert_eq!(utc_day(time), expected[..10]);
        }
    }
}
