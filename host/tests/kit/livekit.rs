//! A real livekit-server on loopback: the project's build in the cache (`livekit/build.sh`,
//! through the end-to-end scripts) or `LKA_LIVEKIT_SERVER`, with one API key; its Twirp
//! API signed with that key.

use super::ports::free_port;
use livekit_api::access_token::{AccessToken, VideoGrants};
use livekit_protocol as lk;
use prost::Message;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The API key livekit-server is started with.
pub const KEY: &str = "fixerkey";
/// Its secret.
pub const SECRET: &str = "a-fixer-test-secret-that-is-long-enough";

/// `LKA_LIVEKIT_SERVER`, else the newest livekit-server the scripts built into the cache,
/// else the one `livekit/build.sh` builds now (a few minutes on a fresh machine; concurrent
/// builds wait for each other). `None` when it cannot be built (no Go, no source).
pub fn livekit_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("LKA_LIVEKIT_SERVER").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    cached_binary().or_else(build_binary)
}

/// The path `livekit/build.sh` prints on its last line, once it built (or found) the binary.
fn build_binary() -> Option<PathBuf> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../livekit/build.sh");
    eprintln!("building livekit-server with livekit/build.sh");
    let out = Command::new("bash")
        .arg(script)
        .stderr(Stdio::inherit())
        .output()
        .expect("running livekit/build.sh");
    if !out.status.success() {
        eprintln!("livekit/build.sh failed ({})", out.status);
        return None;
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout.lines().last().map(|line| PathBuf::from(line.trim()))
}

/// The newest livekit-server the scripts built into the cache.
fn cached_binary() -> Option<PathBuf> {
    let dir = super::servers::cache_dir().join("bin");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with("livekit-server-") && !name.ends_with(".tmp") && p.is_file()
        })
        .collect();
    found.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    found.pop()
}

/// A livekit-server on loopback, killed when dropped.
pub struct LiveKit {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl LiveKit {
    /// Started with `redis` (a port) as its Redis when given: egress and ingress are
    /// listed only then.
    pub fn start(redis: Option<u16>) -> Option<LiveKit> {
        Self::start_with(redis, "")
    }

    /// As [`LiveKit::start`], with `extra` YAML added at the top level of its config (e.g.
    /// an `analytics_export:` or `ingress:` section, unindented).
    pub fn start_with(redis: Option<u16>, extra: &str) -> Option<LiveKit> {
        let Some(bin) = livekit_binary() else {
            if std::env::var("LKA_REQUIRE_LIVEKIT").as_deref() == Ok("1") {
                panic!("livekit/build.sh could not build livekit-server and LKA_REQUIRE_LIVEKIT=1");
            }
            eprintln!("SKIPPED: livekit/build.sh could not build livekit-server");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let (port, tcp) = (free_port(), free_port());
        let udp = 40_000 + (std::process::id() % 10_000) as u16;
        let config = format!(
            "port: {port}\nbind_addresses: [\"127.0.0.1\"]\nrtc:\n  tcp_port: {tcp}\n  \
             port_range_start: {udp}\n  port_range_end: {}\n  use_external_ip: false\n\
             keys:\n  {KEY}: {SECRET}\nlogging:\n  level: warn\n{}{extra}\n",
            udp + 50,
            redis
                .map(|port| format!("redis:\n  address: 127.0.0.1:{port}\n"))
                .unwrap_or_default()
        );
        let path = dir.path().join("livekit.yaml");
        std::fs::write(&path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("livekit.log")).unwrap();
        let child = Command::new(&bin)
            .arg("--config")
            .arg(&path)
            .args(["--bind", "127.0.0.1", "--node-ip", "127.0.0.1"])
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let server = LiveKit {
            child,
            port,
            _dir: dir,
        };
        for _ in 0..300 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("livekit-server did not listen on {port} within 30 s");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What livekit-server has logged so far (level `warn` and up).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("livekit.log")).unwrap_or_default()
    }

    /// Creates a room through LiveKit's API (kept 10 min while empty); its sid.
    pub async fn create_room(&self, name: &str) -> String {
        let grants = VideoGrants {
            room_create: true,
            ..Default::default()
        };
        let request = lk::CreateRoomRequest {
            name: name.into(),
            empty_timeout: 600,
            departure_timeout: 600,
            ..Default::default()
        };
        let room: lk::Room = self
            .twirp("RoomService", "CreateRoom", grants, &request)
            .await
            .unwrap_or_else(|e| panic!("CreateRoom {name}: {e}"));
        room.sid
    }

    /// Calls `livekit.<service>/<method>` of the Twirp API with `request` (protobuf),
    /// signed with a token of `grants`; the decoded answer, or the HTTP status and body of
    /// a refusal.
    pub async fn twirp<R: Message + Default>(
        &self,
        service: &str,
        method: &str,
        grants: VideoGrants,
        request: &impl Message,
    ) -> Result<R, String> {
        let token = AccessToken::with_api_key(KEY, SECRET)
            .with_grants(grants)
            .to_jwt()
            .expect("signing an access token");
        let url = format!("{}/twirp/livekit.{service}/{method}", self.url());
        let response = reqwest::Client::new()
            .post(&url)
            .bearer_auth(token)
            .header("Content-Type", "application/protobuf")
            .body(request.encode_to_vec())
            .send()
            .await
            .map_err(|e| format!("POST {url}: {e}"))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("reading the answer of {url}: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "{service}/{method}: {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
        R::decode(body).map_err(|e| format!("decoding the answer of {service}/{method}: {e}"))
    }
}

impl Drop for LiveKit {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
