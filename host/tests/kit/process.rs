//! A real `analytics-host` process: `bin()` for a command that runs to its end, and
//! [`HostProcess`] for one that serves (the standard `run` of the fault tests: the embedded
//! file store, both doors and the telemetry endpoint on free loopback ports, JSON logs in a
//! file that can be read while it runs).

use crate::kit::metrics::{get, wait_for_sample};
use crate::kit::ports::free_port;
use crate::kit::webhook;
use crate::kit::{KEY, SECRET};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The path of the `analytics-host` binary of this build.
pub const BIN: &str = env!("CARGO_BIN_EXE_analytics-host");

/// A command running the `analytics-host` binary of this build.
pub fn bin() -> Command {
    Command::new(BIN)
}

/// Runs `command` to its end; asserts that it succeeded (with its output in the message) and
/// returns its stdout.
pub fn run_ok(command: &mut Command) -> String {
    let out = command.output().expect("run analytics-host");
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 output");
    assert!(
        out.status.success(),
        "{}: {stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A running `analytics-host` (or nothing yet, after [`HostProcess::prepare`]): killed when
/// dropped. Its stderr (the log) goes to `dir/host.log`.
pub struct HostProcess {
    child: Option<Child>,
    /// Scratch directory: the log is `dir/host.log`; the standard config stores in `dir/store`.
    pub dir: tempfile::TempDir,
    /// Webhook door port.
    pub webhook_port: u16,
    /// gRPC door port.
    pub grpc_port: u16,
    /// Telemetry port.
    pub telemetry_port: u16,
}

impl HostProcess {
    /// Starts `analytics-host run` with the standard config; `extra` is YAML added to
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

    /// A scratch directory and three free ports; nothing runs until [`HostProcess::start`].
    /// For a config of the test's own (built from `dir` and the ports).
    pub fn prepare() -> HostProcess {
        HostProcess {
            child: None,
            dir: tempfile::tempdir().unwrap(),
            webhook_port: free_port(),
            grpc_port: free_port(),
            telemetry_port: free_port(),
        }
    }

    /// Spawns `command` (an `analytics-host`: [`bin()`], or another build) with its stdout
    /// discarded and its stderr appended to the log.
    pub fn start(&mut self, command: &mut Command) {
        assert!(self.child.is_none(), "already started");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("host.log"))
            .unwrap();
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start analytics-host");
        self.child = Some(child);
    }

    /// The standard config on this host's ports and store (the file store on, a 50 ms
    /// interval, short retries), with `top` added at the top level and `extra` under
    /// `openvidu.analytics` (indented by 4 spaces).
    pub fn standard_config(&self, top: &str, extra: &str) -> String {
        format!(
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
            store = self.store().display(),
            webhook_port = self.webhook_port,
            grpc_port = self.grpc_port,
            telemetry_port = self.telemetry_port,
        )
    }

    fn spawn_with(top: &str, extra: &str, blocked: bool) -> HostProcess {
        let mut host = HostProcess::prepare();
        if blocked {
            std::fs::write(host.store(), "not a directory").unwrap();
        }
        let config = host.standard_config(top, extra);
        host.start(
            bin()
                .args(["run", "--log-format", "json"])
                .env("LIVEKIT_CONFIG", config)
                .env("RUST_LOG", "info"),
        );
        host
    }

    /// A host on a config of the test's own: `config` is given the prepared host (its
    /// ports, its store) and returns the whole YAML text.
    pub fn spawn_config(config: impl FnOnce(&HostProcess) -> String) -> HostProcess {
        let mut host = HostProcess::prepare();
        let config = config(&host);
        host.start(
            bin()
                .args(["run", "--log-format", "json"])
                .env("LIVEKIT_CONFIG", config)
                .env("RUST_LOG", "info"),
        );
        host
    }

    /// Removes the file that blocks the store: the sink initializes at its next attempt.
    pub fn unblock_store(&self) {
        std::fs::remove_file(self.store()).unwrap();
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("started").id()
    }

    /// The file store's directory (standard config).
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

    /// `simulate` through both doors of this host at `rate` items/s for `duration`
    /// (100 items per message, 8 requests in flight), signed with the kit's key.
    pub fn simulate_options(
        &self,
        rate: f64,
        duration: Duration,
    ) -> analytics_host::simulate::SimulateOptions {
        use analytics_host::simulate::{DoorChoice, Limit, SimulateOptions};
        SimulateOptions {
            webhook_url: self.webhook_url(),
            grpc_url: self.grpc_url(),
            api_key: Some(KEY.into()),
            api_secret: Some(SECRET.into()),
            doors: DoorChoice::Both,
            rate,
            limit: Limit::Duration(duration),
            batch: 100,
            concurrency: 8,
            node_id: "ND_simulate".into(),
            ..Default::default()
        }
    }

    /// The gRPC endpoint.
    pub fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    /// Waits until `/health` answers 200 (the doors listen by then); panics with the log if
    /// the process exits first or 30 s pass.
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

    /// Waits until it is healthy and `/ready` answers 200 (every sink initialized).
    pub async fn wait_ready(&mut self) {
        self.wait_healthy().await;
        let started = Instant::now();
        loop {
            let (status, body) = self.ready().await;
            if status == 200 {
                return;
            }
            // Generous: a plugin's first compile (an 18 MB component, debug host) takes
            // seconds alone and over 30 s on a loaded 2-core machine.
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "never ready: {body}\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The status of `/health`, or `None` if nothing answers.
    pub async fn health(&self) -> Option<u16> {
        let response = reqwest::get(format!("{}/health", self.telemetry())).await;
        response.ok().map(|r| r.status().as_u16())
    }

    /// `/ready`: status and body.
    pub async fn ready(&self) -> (u16, Value) {
        let (status, body) = get(&format!("{}/ready", self.telemetry())).await;
        let body = serde_json::from_str(&body).expect("/ready is JSON");
        (status, body)
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        let (status, text) = get(&format!("{}/metrics", self.telemetry())).await;
        assert_eq!(status, 200, "{text}");
        text
    }

    /// Polls `/metrics` until `series` is `want`; returns that text.
    pub async fn wait_for_sample(&self, series: &str, want: f64) -> String {
        wait_for_sample(&self.telemetry(), series, want, || {
            format!("log:\n{}", self.log_text())
        })
        .await
    }

    /// Posts `body` to the webhook door with `auth` as the Authorization header.
    pub async fn post(&self, body: Vec<u8>, auth: Option<String>) -> u16 {
        webhook::post(&self.webhook_url(), body, auth).await
    }

    /// Posts `body` signed with the trusted key.
    pub async fn post_signed(&self, body: Vec<u8>) -> u16 {
        webhook::post_signed(&self.webhook_url(), body).await
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
