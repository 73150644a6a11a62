//! Fault matrix row 7, bad input of every class. Ingest (webhook, gRPC) against ONE running
//! `analytics-host run`: after each bad input, `/health` is 200 and a good signed webhook
//! sent right after is stored; exact counts at the end. Configuration and plugin files
//! through the binary: a non-zero exit with stderr naming the key, value, file or cause.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::plugin::HOST_WIT_VERSION;
use kit::grpc::{send_garbage, send_raw};
use kit::metrics::sample;
use kit::plugins::{self, component, sink_wat, wit_text, GOOD_BODY};
use kit::process::{bin, HostProcess};
use kit::store::stored_rooms;
use kit::webhook::{now, room_started, sign, sign_with};
use kit::KEY;
use serde_json::json;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use tonic::Code;

/// The host is alive, and the `n`th good webhook, sent now, is stored (exactly `n` so far).
async fn still_serving(host: &HostProcess, n: u32, after: &str) {
    assert_eq!(host.health().await, Some(200), "after {after}");
    assert_eq!(
        host.post_signed(room_started(n)).await,
        200,
        "good webhook after {after}"
    );
    host.wait_for_sample(r#"analytics_sink_stored_total{sink="file"}"#, f64::from(n))
        .await;
}

#[tokio::test]
async fn every_bad_ingest_input_gets_its_error_and_the_host_keeps_storing() {
    let mut host = HostProcess::spawn("");
    host.wait_healthy().await;
    let mut good = 0;
    let mut next = || {
        good += 1;
        good
    };
    still_serving(&host, next(), "start").await;

    // Webhook without Authorization: 401.
    let body = room_started(100);
    assert_eq!(host.post(body, None).await, 401);
    still_serving(&host, next(), "no Authorization").await;

    // Webhook signed with the wrong secret: 401.
    let body = room_started(101);
    let t = now();
    let forged = sign_with(
        &body,
        KEY,
        "not-the-secret-not-the-secret-not-it",
        t - 10,
        t + 300,
    );
    assert_eq!(host.post(body, Some(forged)).await, 401);
    still_serving(&host, next(), "bad signature").await;

    // A body over max_body_bytes (64 KiB here): 413, whether or not it is signed.
    let mut huge: serde_json::Value = serde_json::from_slice(&room_started(102)).unwrap();
    huge["room"]["metadata"] = json!("x".repeat(70_000));
    let huge = serde_json::to_vec(&huge).unwrap();
    let auth = sign(&huge);
    assert_eq!(host.post(huge, Some(auth)).await, 413);
    still_serving(&host, next(), "body over max_body_bytes").await;

    // Signed, but not JSON: 400.
    let body = b"{ this is not json".to_vec();
    let auth = sign(&body);
    assert_eq!(host.post(body, Some(auth)).await, 400);
    still_serving(&host, next(), "invalid JSON").await;

    // Signed, with an event name the host does not map: 200 (so LiveKit does not retry),
    // counted as unknown_event, not stored.
    let body = serde_json::to_vec(&json!({
        "event": "room_migrated_to_mars",
        "id": "EV_mars",
        "createdAt": "1764280000",
        "room": { "sid": "RM_mars", "name": "demo" },
    }))
    .unwrap();
    assert_eq!(host.post_signed(body).await, 200);
    still_serving(&host, next(), "unknown event").await;

    // gRPC: a frame that is not a protobuf of the method's message: INVALID_ARGUMENT.
    let err = send_raw(
        &host.grpc_url(),
        "IngestEvents",
        vec![vec![0x0a, 0xff, 0xff, 0x03, 0x01]],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    still_serving(&host, next(), "gRPC garbage frame").await;

    // gRPC port: bytes that are not HTTP/2 at all; the connection is dropped.
    send_garbage(SocketAddr::from(([127, 0, 0, 1], host.grpc_port))).await;
    still_serving(&host, next(), "garbage on the gRPC port").await;

    // Exact counts at the end.
    let good = f64::from(good);
    let text = host.metrics().await;
    let exact = [
        (
            r#"analytics_webhook_requests_total{result="accepted"}"#,
            good,
        ),
        (
            r#"analytics_webhook_requests_total{result="unauthorized"}"#,
            2.0,
        ),
        (
            r#"analytics_webhook_requests_total{result="too_large"}"#,
            1.0,
        ),
        (
            r#"analytics_webhook_requests_total{result="bad_request"}"#,
            1.0,
        ),
        (
            r#"analytics_webhook_requests_total{result="unknown_event"}"#,
            1.0,
        ),
        (
            r#"analytics_webhook_requests_total{result="unavailable"}"#,
            0.0,
        ),
        (r#"analytics_grpc_stream_errors_total"#, 1.0),
        (
            r#"analytics_items_received_total{door="webhook",kind="events"}"#,
            good,
        ),
        (
            r#"analytics_items_received_total{door="grpc",kind="events"}"#,
            0.0,
        ),
        (r#"analytics_sink_stored_total{sink="file"}"#, good),
        (r#"analytics_sink_rejected_total{sink="file"}"#, 0.0),
    ];
    for (series, want) in exact {
        assert_eq!(sample(&text, series), Some(want), "{series}:\n{text}");
    }
    let want: Vec<String> = {
        let mut v: Vec<String> = (1..=good as u32).map(|n| format!("RM_{n}")).collect();
        v.sort();
        v
    };
    assert_eq!(stored_rooms(&host.store(), "events"), want);
    assert_eq!(host.stop(), Some(0), "{}", host.log_text());
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `analytics-host <args>` to its end (it must not keep running).
fn run_to_exit(args: &[&str], config: Option<&Path>) -> Output {
    let mut cmd = bin();
    cmd.args(args).env_remove("LIVEKIT_CONFIG");
    if let Some(path) = config {
        cmd.arg("--config").arg(path);
    }
    cmd.output().unwrap()
}

#[test]
fn bad_config_names_the_key_the_value_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // (file name, content, what stderr must name)
    let cases: [(&str, &str, &[&str]); 3] = [
        (
            "unknown-key.yaml",
            "openvidu:\n  analytics:\n    intervall: 1s\n",
            &[
                "unknown-key.yaml",
                "openvidu.analytics.intervall",
                "unknown field",
            ],
        ),
        (
            "bad-duration.yaml",
            "openvidu:\n  analytics:\n    interval: 10 parsecs\n",
            &[
                "bad-duration.yaml",
                "openvidu.analytics.interval",
                "`10 parsecs`",
            ],
        ),
        (
            "bad.yaml",
            "openvidu:\n  analytics:\n    expiration: forever\n",
            &["bad.yaml", "expiration", "`forever`"],
        ),
    ];
    for (name, content, named) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        for command in ["check-config", "run"] {
            let out = run_to_exit(&[command], Some(&path));
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{command} {name}: {err}");
            for word in named {
                assert!(
                    err.contains(word),
                    "{command} {name}: `{word}` not in {err}"
                );
            }
        }
    }
    // Unreadable: missing, and a directory where the file should be.
    let missing = dir.path().join("missing.yaml");
    let a_dir = dir.path().join("a-directory.yaml");
    std::fs::create_dir(&a_dir).unwrap();
    for path in [missing, a_dir] {
        let out = run_to_exit(&["run"], Some(&path));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("cannot read config file") && err.contains(&path.display().to_string()),
            "{err}"
        );
    }
}

/// The three bad plugin files: not wasm, a component of another world, a sink built for
/// another contract version. With what `plugin check` and `run` must name.
fn bad_plugins(dir: &Path) -> Vec<(PathBuf, &'static [&'static str])> {
    let not_wasm = dir.join("notes.wasm");
    std::fs::write(&not_wasm, "these are my notes, not a plugin\n").unwrap();
    let other = component(
        "package acme:other@0.1.0;\nworld other { export hello: func(); }\n",
        "other",
        r#"(module (func (export "hello")))"#,
    );
    let future_wit = wit_text().replace(
        &format!("livekit:analytics@{HOST_WIT_VERSION}"),
        "livekit:analytics@0.2.0",
    );
    let future = component(&future_wit, "sink", &sink_wat("0.2.0", GOOD_BODY, ""));
    vec![
        (not_wasm, &["not a WebAssembly file", "`\\0asm` header"]),
        (
            plugins::write(dir, "other-world", &other),
            &["not a livekit:analytics `sink`", "`send-batch`", "hello"],
        ),
        (
            plugins::write(dir, "future", &future),
            &[
                "livekit:analytics@0.2.0",
                "this host supports livekit:analytics@0.1.",
            ],
        ),
    ]
}

#[test]
fn plugin_check_names_the_cause_of_each_bad_plugin_file() {
    let dir = tempfile::tempdir().unwrap();
    for (path, named) in bad_plugins(dir.path()) {
        let out = run_to_exit(&["plugin", "check", path.to_str().unwrap()], None);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(text.contains(&path.display().to_string()), "{text}");
        for word in named {
            assert!(text.contains(word), "`{word}` not in {text}");
        }
    }
}

/// A bad plugin file configured as a sink: `run` refuses to start (exit 1) with an error
/// naming the plugin, its file and the cause; nothing is left listening.
#[test]
fn run_refuses_to_start_with_a_bad_plugin_naming_the_plugin_and_file() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (path, named)) in bad_plugins(dir.path()).into_iter().enumerate() {
        let config = format!(
            r#"openvidu:
  analytics:
    file: {{ dir: "{store}" }}
    ingest:
      webhook: {{ listen: "127.0.0.1:0" }}
      grpc: {{ listen: "127.0.0.1:0" }}
    telemetry: {{ listen: "127.0.0.1:0" }}
    plugins:
      - {{ name: bad{i}, path: "{path}" }}
"#,
            store = dir.path().join("store").display(),
            path = path.display()
        );
        let file = dir.path().join(format!("config{i}.yaml"));
        std::fs::write(&file, config).unwrap();
        let out = run_to_exit(&["run"], Some(&file));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!("openvidu.analytics.plugins `bad{i}`")),
            "{err}"
        );
        assert!(err.contains(&path.display().to_string()), "{err}");
        for word in named {
            assert!(err.contains(word), "`{word}` not in {err}");
        }
    }
}
