//! Reading the telemetry endpoint: `/metrics` samples.

use std::time::{Duration, Instant};

/// GETs `url`: status and body.
pub async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.expect("request");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// The value of the sample `series` (name with labels, exactly as exposed).
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().expect("a number"))
}

/// The value of the sample `series`, 0 when it is absent.
pub fn sample_or_zero(text: &str, series: &str) -> f64 {
    sample(text, series).unwrap_or(0.0)
}

/// Polls `<base>/metrics` until `series` is `want`; returns that text. Panics after 15 s with
/// the last text and `context()` (e.g. the host's log).
pub async fn wait_for_sample(
    base: &str,
    series: &str,
    want: f64,
    context: impl Fn() -> String,
) -> String {
    let started = Instant::now();
    loop {
        let (status, text) = get(&format!("{base}/metrics")).await;
        assert_eq!(status, 200, "{text}");
        if sample(&text, series) == Some(want) {
            return text;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{series} never reached {want}:\n{text}\n{}",
            context()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
