//! The dashboard in a real browser (headless Chromium through ChromeDriver) against a real
//! `analytics-host run` holding a morning of simulated sessions in its embedded store: the
//! sessions list shows the rooms, a session page draws its timeline and quality charts, the
//! health page its sinks, the console stays free of errors, and a host with a token asks
//! for it. The screenshots go to `docs/images/` with `LKA_UPDATE_SCREENSHOTS=1` (the
//! README shows them), else to a temporary directory.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::ingest::grpc::AnalyticsRecorderServiceClient;
use futures::stream;
use kit::browser::Browser;
use kit::process::HostProcess;
use kit::sessions::a_morning;
use kit::wait_until;
use livekit_protocol::{
    AnalyticsEvent, AnalyticsEventType, AnalyticsEvents, AnalyticsStats, ApiCallInfo, WebhookInfo,
};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Two webhook deliveries (the second failed) and an API call for `room`, a minute after it
/// was created in `events` (newer event types, which name the room only inside).
fn deliveries_and_calls(events: &[AnalyticsEvent], room: &str) -> Vec<AnalyticsEvent> {
    let created = events
        .iter()
        .find(|e| e.room_id == room && e.r#type == AnalyticsEventType::RoomCreated as i32)
        .and_then(|e| e.timestamp)
        .expect("the room's ROOM_CREATED");
    let at = |second: i64| {
        Some(pbjson_types::Timestamp {
            seconds: created.seconds + second,
            nanos: 0,
        })
    };
    let webhook = |second: i64, event: &str, status: i32| AnalyticsEvent {
        r#type: AnalyticsEventType::Webhook as i32,
        timestamp: at(second),
        webhook: Some(WebhookInfo {
            event: event.into(),
            room_id: room.into(),
            url: "https://hooks.example.com/livekit".into(),
            http_status_code: status,
            queue_duration_ns: 400_000,
            send_duration_ns: 31_000_000,
            ..Default::default()
        }),
        ..Default::default()
    };
    vec![
        webhook(60, "room_started", 200),
        webhook(61, "participant_joined", 502),
        AnalyticsEvent {
            r#type: AnalyticsEventType::ApiCall as i32,
            timestamp: at(62),
            api_call: Some(ApiCallInfo {
                service: "RoomService".into(),
                method: "UpdateRoomMetadata".into(),
                status: 200,
                room_id: room.into(),
                duration_ns: 2_100_000,
                ..Default::default()
            }),
            ..Default::default()
        },
    ]
}

/// Where the screenshots go.
fn screenshots() -> (PathBuf, Option<tempfile::TempDir>) {
    if std::env::var("LKA_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/images");
        std::fs::create_dir_all(&dir).unwrap();
        (dir, None)
    } else {
        let dir = tempfile::tempdir().unwrap();
        (dir.path().to_path_buf(), Some(dir))
    }
}

async fn save(browser: &Browser, dir: &std::path::Path, name: &str) {
    let png = browser.screenshot().await;
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}: not a PNG");
    assert!(
        png.len() > 20_000,
        "{name}: {} bytes, a blank page?",
        png.len()
    );
    std::fs::write(dir.join(name), png).unwrap();
}

/// No console entry of level SEVERE (uncaught errors, failed requests, CSP refusals).
async fn no_console_errors(browser: &Browser, page: &str) {
    let severe: Vec<_> = browser
        .console()
        .await
        .into_iter()
        .filter(|(level, _)| level == "SEVERE")
        .collect();
    assert!(severe.is_empty(), "{page}: console errors {severe:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_sessions_quality_and_health_in_a_real_browser() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let morning = a_morning(now);
    let mut host = HostProcess::spawn("");
    host.wait_healthy().await;
    let mut client = AnalyticsRecorderServiceClient::connect(host.grpc_url())
        .await
        .unwrap();
    let events = AnalyticsEvents {
        events: morning
            .events
            .iter()
            .cloned()
            .chain(deliveries_and_calls(&morning.events, "RM_planning"))
            .collect(),
    };
    client.ingest_events(stream::iter([events])).await.unwrap();
    for chunk in morning.stats.chunks(1000) {
        let stats = AnalyticsStats {
            stats: chunk.to_vec(),
        };
        client.ingest_stats(stream::iter([stats])).await.unwrap();
    }
    let api = format!("{}/api", host.telemetry());
    let quality = format!("{api}/rooms/RM_planning/quality");
    let planning = morning
        .stats
        .iter()
        .filter(|s| s.room_id == "RM_planning")
        .count() as u64;
    wait_until("the morning stored", Duration::from_secs(30), || {
        let quality = quality.clone();
        async move {
            let Ok(answer) = reqwest::get(&quality).await else {
                return false;
            };
            let body: serde_json::Value = answer.json().await.unwrap_or_default();
            body["stats"].as_u64() == Some(planning)
        }
    })
    .await;

    let (dir, _keep) = screenshots();
    let browser = Browser::start(1400, 470).await;
    let page = host.telemetry();

    // The sessions list: every room of the morning, newest first.
    browser.open(&format!("{page}/")).await;
    assert_eq!(browser.wait_for("#sessions tbody tr[data-sid]", 4).await, 4);
    let rooms = browser.texts("#sessions tbody tr td:first-child").await;
    for (row, name) in rooms.iter().zip([
        "all-hands",
        "support-4711",
        "weekly-planning",
        "daily-standup",
    ]) {
        assert!(row.starts_with(name), "rows {rooms:?}");
    }
    assert_eq!(
        browser.count("#sessions .badge.open").await,
        1,
        "all-hands is open"
    );
    save(&browser, &dir, "dashboard-sessions.png").await;
    no_console_errors(&browser, "sessions").await;

    // A session: its timeline, its people, its quality charts.
    browser.resize(1400, 2160).await;
    browser.open(&format!("{page}/#/room/RM_planning")).await;
    browser.wait_for("#quality svg.chart", 4).await;
    // 4 people × 2 tracks, mean and worst score, then loss, jitter, bitrate.
    assert_eq!(browser.count("#quality path.series").await, 8 * 5);
    assert!(browser.count("svg.timeline rect.lane").await == 4);
    assert!(browser.count("svg.timeline rect.mark").await >= 4 * 5);
    let people = browser.texts("#participants tbody tr").await;
    assert_eq!(people.len(), 4, "{people:?}");
    assert!(
        people
            .iter()
            .any(|p| p.starts_with("bob") && p.contains("CLIENT_INITIATED")),
        "bob left early: {people:?}"
    );
    // What the newer event types tell: the deliveries (the failed one marked), the call.
    assert_eq!(browser.count("#webhooks tbody tr").await, 2);
    assert_eq!(browser.count("#webhooks tbody tr.failed").await, 1);
    assert_eq!(browser.count("#api-calls tbody tr").await, 1);
    let cards = browser.texts(".cards .card").await;
    assert!(
        cards
            .iter()
            .any(|c| c.contains("Webhooks failed") && c.contains("1 of 2")),
        "{cards:?}"
    );
    save(&browser, &dir, "dashboard-session.png").await;
    no_console_errors(&browser, "session").await;

    // Health: the file store's row and its throughput while a live room reports (the
    // page refreshes itself every 5 s; the host samples every 5 s).
    browser.resize(1400, 820).await;
    browser.open(&format!("{page}/#/health")).await;
    browser.wait_for("#sinks tbody tr", 1).await;
    let live = kit::sessions::live_stats(now, 600);
    for wave in live.chunks(50) {
        let stats = AnalyticsStats {
            stats: wave.to_vec(),
        };
        client.ingest_stats(stream::iter([stats])).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    // Samples and the live point: a line of at least three points.
    wait_until("a throughput line", Duration::from_secs(20), || async {
        let d = browser
            .eval("const p = document.querySelector('#throughput path.series'); return p ? p.getAttribute('d') : '';")
            .await;
        d.as_str().unwrap_or_default().matches('L').count() >= 2
    })
    .await;
    assert_eq!(
        browser.texts("#sinks tbody tr td:first-child").await,
        ["file"]
    );
    assert_eq!(browser.count("#throughput svg.chart").await, 2);
    save(&browser, &dir, "dashboard-health.png").await;
    no_console_errors(&browser, "health").await;
    browser.quit().await;
    assert_eq!(host.stop(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_the_dashboard_asks_for_it() {
    let mut host = HostProcess::spawn("    api: { token: s3cret }\n");
    host.wait_healthy().await;
    let browser = Browser::start(1200, 800).await;
    browser.open(&format!("{}/", host.telemetry())).await;
    browser.wait_for("input[name=token]", 1).await;
    assert_eq!(browser.count("#sessions").await, 0);
    // The refused request is the only console error: ChromeDriver logs a 401 as one.
    browser.console().await;
    browser
        .eval(
            "const input = document.querySelector('input[name=token]'); \
             input.value = 's3cret'; input.form.requestSubmit();",
        )
        .await;
    browser.wait_for("#sessions tbody tr", 1).await;
    let empty = browser.texts("#sessions tbody tr").await;
    assert_eq!(empty, ["No sessions in this range."]);
    no_console_errors(&browser, "with the token").await;
    browser.quit().await;
    assert_eq!(host.stop(), Some(0));
}
