//! The egress/ingress test worker (`livekit/test-worker/`): built with its
//! `build.sh` (cached), started on livekit-server's Redis; it stands in for LiveKit's
//! egress and ingress services (their psrpc registration and IOInfo reports, no media).

use super::livekit::{KEY, SECRET};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The worker's binary: `LKA_TEST_WORKER` when set, else what
/// `livekit/test-worker/build.sh` builds (or finds cached). `None` when it cannot be built
/// (no Go, no modules: exit code 77); a failed build panics.
pub fn worker_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("LKA_TEST_WORKER").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../livekit/test-worker/build.sh"
    );
    let out = Command::new("bash")
        .arg(script)
        .stderr(Stdio::inherit())
        .output()
        .expect("running livekit/test-worker/build.sh");
    match out.status.code() {
        Some(0) => {}
        Some(77) => return None,
        _ => panic!("livekit/test-worker/build.sh failed ({})", out.status),
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout.lines().last().map(|line| PathBuf::from(line.trim()))
}

/// A running test worker, killed when dropped; its log is kept in a scratch directory.
pub struct TestWorker {
    child: Child,
    dir: tempfile::TempDir,
}

impl TestWorker {
    /// Builds (if needed) and starts the worker on the Redis at `redis_port`, with
    /// sessions reported active `active_after` after they start and rooms looked up at
    /// `livekit_url` (with the kit's livekit-server key); waits until it has registered.
    /// `None` (with the reason printed) when it cannot be built, unless
    /// `LKA_REQUIRE_LIVEKIT=1`, which makes that a failure.
    pub fn start(redis_port: u16, livekit_url: &str, active_after: Duration) -> Option<TestWorker> {
        let Some(bin) = worker_binary() else {
            if std::env::var("LKA_REQUIRE_LIVEKIT").as_deref() == Ok("1") {
                panic!(
                    "livekit/test-worker/build.sh could not build the worker \
                     and LKA_REQUIRE_LIVEKIT=1"
                );
            }
            eprintln!(
                "SKIPPED: livekit/test-worker/build.sh could not build the test worker \
                 (no Go or no modules)"
            );
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("worker.log")).unwrap();
        let mut child = Command::new(&bin)
            .arg("-redis")
            .arg(format!("127.0.0.1:{redis_port}"))
            .arg("-active-after")
            .arg(format!("{}ms", active_after.as_millis()))
            .args([
                "-livekit-url",
                livekit_url,
                "-api-key",
                KEY,
                "-api-secret",
                SECRET,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.trim() == "ready" {
                    let _ = tx.send(());
                }
            }
        });
        let worker = TestWorker { child, dir };
        if rx.recv_timeout(Duration::from_secs(30)).is_err() {
            panic!(
                "the test worker did not register within 30 s; its log:\n{}",
                worker.log_text()
            );
        }
        Some(worker)
    }

    /// What the worker has logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("worker.log")).unwrap_or_default()
    }
}

impl Drop for TestWorker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
