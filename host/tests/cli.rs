//! The `analytics-host` binary: `check-config`, and a real run that
//! stores to the embedded store and flushes on SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_analytics-host"))
}

#[test]
fn check_config_prints_effective_settings_with_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("livekit.yaml");
    std::fs::write(
        &path,
        "port: 7880\nkeys:\n  devkey: supersecret\nopenvidu:\n  analytics:\n    mongo_url: mongodb://u:dbsecret@db:27017/\n    interval: 1h30m\n",
    )
    .unwrap();
    let out = bin()
        .arg("check-config")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        !text.contains("supersecret") && !text.contains("dbsecret"),
        "{text}"
    );
    assert!(text.contains("interval: 1h 30m"), "{text}");
    assert!(text.contains("# sinks: mongo"), "{text}");
}

#[test]
fn livekit_config_variable_is_read_like_livekit_server_does() {
    let out = bin()
        .arg("check-config")
        .env(
            "LIVEKIT_CONFIG",
            "keys:\n  k1: s1\nopenvidu:\n  analytics:\n    enabled: false\n",
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("LIVEKIT_CONFIG") && text.contains("k1") && text.contains("enabled: false"),
        "{text}"
    );
    assert!(text.contains("storing nothing"), "{text}");
}

#[test]
fn run_on_the_embedded_store_exits_zero_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = format!(
        "openvidu:\n  analytics:\n    interval: 1s\n    file:\n      dir: {}\n",
        data.display()
    );
    let child = bin()
        .arg("run")
        .env("LIVEKIT_CONFIG", config)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !data.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the store directory was never created"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(
        log.contains("sinks=[\"file\"]") && log.contains("stopped"),
        "{log}"
    );
}
