//! A real `analytics-host run` process for fault tests: the embedded file store, both doors
//! and the telemetry endpoint on loopback ports, JSON logs captured to a file that can be
//! read while it runs, and signed webhooks.
//!
//! Needs `mod ingest_support;` next to it in the test crate (for the trusted key).
#![allow(dead_code)]

use crate::ingest_support::{KEY, SECRET};
use base64::Engine as _;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A LiveKit webhook token over `body`: HS256, `iss` = key, `sha256` = base64(SHA-256(body)).
pub fn sign_with(body: &[u8], key: &str, secret: &str, nbf: i64, exp: i64) -> String {
    let sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body));
    let claims = json!({ "iss": key, "nbf": nbf, "exp": exp, "sha256": sha });
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// A valid token over `body` for the trusted key.
pub fn sign(body: &[u8]) -> String {
    sign_with(body, KEY, SECRET, now() - 10, now() + 300)
}

/// A `room_started` webhook for room `RM_<n>` (distinct per `n`).
pub fn room_started(n: u32) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "event": "room_started",
        "id": format!("EV_{n}"),
        "createdAt": (1_764_280_000 + i64::from(n)).to_string(),
        "room": { "sid": format!("RM_{n}"), "name": "demo" },
    }))
    .unwrap()
}

/// The value of the sample `series` (name with labels, exactly as exposed).
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().expect("a number"))
}

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `analytics-host` binary.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_analytics-host"))
}

/// A running `analytics-host run`.
pub struct HostProcess {
    child: Option<Child>,
    /// Scratch directory: the store is `dir/store`, the log `dir/host.log`.
    pub dir: tempfile::TempDir,
    /// Webhook door port.
    pub webhook_port: u16,
    /// gRPC door port.
    pub grpc_port: u16,
    /// Telemetry port.
    pub telemetry_port: u16,
}

impl HostProcess {
    /// Starts the host with the file store in `dir/store`; `extra` is YAML added to
    /// `openvidu.analytics` (indented by 4 spaces). Does not wait for readiness.
    pub fn spawn(extra: &str) -> HostProcess {
        Self::spawn_with("", extra, false)
    }

    /// As [`HostProcess::spawn`], with `top` added at the top level of the config (e.g. a
    /// `redis:` section, unindented).
    pub fn spawn_full(top: &str, extra: &str) -> HostProcess {
        Self::spawn_with(top, extra, false)
    }

    /// As [`HostProcess::spawn`], with a regular file where the store's directory should be,
    /// so the file sink cannot initialize (and stores nothing) until
    /// [`HostProcess::unblock_store`].
    pub fn spawn_blocked(extra: &str) -> HostProcess {
        Self::spawn_with("", extra, true)
    }

    /// Removes the file that blocks the store: the sink initializes at its next attempt.
    pub fn unblock_store(&self) {
        std::fs::remove_file(self.store()).unwrap();
    }

    fn spawn_with(top: &str, extra: &str, blocked: bool) -> HostProcess {
        let dir = tempfile::tempdir().unwrap();
        if blocked {
            std::fs::write(dir.path().join("store"), "not a directory").unwrap();
        }
        let (webhook_port, grpc_port, telemetry_port) = (free_port(), free_port(), free_port());
        let config = format!(
            r#"
keys:
  {KEY}: {SECRET}
{top}
openvidu:
  analytics:
    interval: 50ms
    node_id: ND_test
    retry: {{ initial_backoff: 50ms, max_backoff: 100ms }}
    file: {{ enabled: true, dir: "{store}" }}
    ingest:
      webhook: {{ listen: "127.0.0.1:{webhook_port}", max_body_bytes: 65536 }}
      grpc: {{ listen: "127.0.0.1:{grpc_port}" }}
    telemetry: {{ listen: "127.0.0.1:{telemetry_port}" }}
{extra}
"#,
            store = dir.path().join("store").display()
        );
        let log = std::fs::File::create(dir.path().join("host.log")).unwrap();
        let child = bin()
            .args(["run", "--log-format", "json"])
            .env("LIVEKIT_CONFIG", config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        HostProcess {
            child: Some(child),
            dir,
            webhook_port,
            grpc_port,
            telemetry_port,
        }
    }

    /// The file store's directory.
    pub fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// `http://127.0.0.1:<telemetry port>`.
    pub fn telemetry(&self) -> String {
        format!("http://127.0.0.1:{}", self.telemetry_port)
    }

    /// The webhook URL.
    pub fn webhook_url(&self) -> String {
        format!("http://127.0.0.1:{}/webhook", self.webhook_port)
    }

    /// The gRPC endpoint.
    pub fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    /// Waits until `/health` answers 200 (the doors listen by then).
    pub async fn wait_healthy(&mut self) {
        let started = Instant::now();
        loop {
            if self.health().await == Some(200) {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "the host exited ({status}) before it was healthy:\n{}",
                    self.log_text()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "never healthy:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The status of `/health`, or `None` if nothing answers.
    pub async fn health(&self) -> Option<u16> {
        let response = reqwest::get(format!("{}/health", self.telemetry())).await;
        response.ok().map(|r| r.status().as_u16())
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        let response = reqwest::get(format!("{}/metrics", self.telemetry()))
            .await
            .expect("/metrics");
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// Polls `/metrics` until `series` is `want`; returns that text.
    pub async fn wait_for_sample(&self, series: &str, want: f64) -> String {
        let started = Instant::now();
        loop {
            let text = self.metrics().await;
            if sample(&text, series) == Some(want) {
                return text;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "{series} never reached {want}:\n{text}\nlog:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Posts `body` to the webhook door with `auth` as the Authorization header.
    pub async fn post(&self, body: Vec<u8>, auth: Option<String>) -> u16 {
        let mut request = reqwest::Client::new()
            .post(self.webhook_url())
            .header("content-type", "application/webhook+json")
            .body(body);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.send().await.expect("request").status().as_u16()
    }

    /// Posts `body` signed with the trusted key.
    pub async fn post_signed(&self, body: Vec<u8>) -> u16 {
        let auth = sign(&body);
        self.post(body, Some(auth)).await
    }

    /// The log so far, as text.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("host.log")).unwrap_or_default()
    }

    /// The log so far, one JSON object per line (panics on a line that is not JSON).
    pub fn log(&self) -> Vec<Value> {
        self.log_text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// Log lines whose message is `message`.
    pub fn log_lines(&self, message: &str) -> Vec<Value> {
        self.log()
            .into_iter()
            .filter(|l| l["fields"]["message"] == message)
            .collect()
    }

    /// Polls the log until `n` lines have the message `message`; returns them.
    pub async fn wait_for_log(&self, message: &str, n: usize) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let lines = self.log_lines(message);
            if lines.len() >= n {
                return lines;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "never {n} lines `{message}`:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGTERM and waits for the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        child.wait().unwrap().code()
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The `room_id` of every document of `collection` in the store at `dir`, sorted.
pub fn stored_rooms(dir: &Path, collection: &str) -> Vec<String> {
    let mut rooms: Vec<String> = crate::ingest_support::read_store(dir, collection)
        .iter()
        .map(|d| d["room_id"].as_str().unwrap_or_default().to_string())
        .collect();
    rooms.sort();
    rooms
}
