//! The `analytics-host` binary: `check-config`, and a real run that
//! stores to the embedded store and flushes on SIGTERM.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use kit::process::{bin, run_ok, HostProcess};
use std::time::{Duration, Instant};

#[test]
fn check_config_prints_effective_settings_with_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("livekit.yaml");
    std::fs::write(
        &path,
        "port: 7880\nkeys:\n  devkey: supersecret\nopenvidu:\n  analytics:\n    mongo_url: mongodb://u:dbsecret@db:27017/\n    interval: 1h30m\n",
    )
    .unwrap();
    let text = run_ok(bin().arg("check-config").arg("--config").arg(&path));
    assert!(
        !text.contains("supersecret") && !text.contains("dbsecret"),
        "{text}"
    );
    assert!(text.contains("interval: 1h30m"), "{text}");
    assert!(text.contains("# sinks: mongo"), "{text}");
}

#[test]
fn livekit_config_variable_is_read_like_livekit_server_does() {
    let text = run_ok(bin().arg("check-config").env(
        "LIVEKIT_CONFIG",
        "keys:\n  k1: s1\nopenvidu:\n  analytics:\n    enabled: false\n",
    ));
    assert!(
        text.contains("LIVEKIT_CONFIG") && text.contains("k1") && text.contains("enabled: false"),
        "{text}"
    );
    assert!(text.contains("storing nothing"), "{text}");
}

#[test]
fn run_on_the_embedded_store_exits_zero_on_sigterm() {
    let mut host = HostProcess::prepare();
    let data = host.dir.path().join("data");
    let config = format!(
        "openvidu:\n  analytics:\n    interval: 1s\n    file:\n      dir: {}\n",
        data.display()
    );
    host.start(
        bin()
            .arg("run")
            .env("LIVEKIT_CONFIG", config)
            .env("RUST_LOG", "info"),
    );
    let started = Instant::now();
    while !data.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the store directory was never created"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let code = host.stop();
    let log = host.log_text();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("sinks=[\"file\"]") && log.contains("stopped"),
        "{log}"
    );
}
