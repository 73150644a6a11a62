//! Real servers for integration tests: SecantusDB (a MongoDB wire-protocol server on
//! WiredTiger) and Redis, plain or with the RedisJSON and RediSearch modules.
//!
//! Include it from a test file with:
//!
//! ```ignore
//! #[path = "support/servers.rs"]
//! mod servers;
//! ```
//!
//! The binaries are installed by `scripts/install-test-deps.sh`, which writes
//! `test-env.sh` into its cache directory (`$LKA_CACHE_DIR`, by default
//! `$HOME/.cache/livekit-analytics-host`). The paths are taken from the environment
//! variables `LKA_SECANTUSD`, `LKA_REDIS_SERVER`, `LKA_REDIS_STACK_SERVER`,
//! `LKA_REDISJSON_SO` and `LKA_REDISEARCH_SO` when set, and otherwise from the
//! `export K=V` lines of that file, so a plain `cargo test` works after the install.
//!
//! Every server listens on a free loopback port, keeps its files (and its log,
//! `server.log`) in a fresh temporary directory, and is killed, with the directory
//! removed, when its handle is dropped. Everything here is blocking; async tests may
//! call it directly (start-up takes well under a second to a few seconds).
#![allow(dead_code)]

use std::collections::HashMap;
use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a server may take to answer after it was started: 60 s, or
/// `$LKA_SERVER_START_TIMEOUT` seconds.
pub fn start_timeout() -> Duration {
    std::env::var("LKA_SERVER_START_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(60))
}
/// How long `stop()` waits after SIGTERM before it sends SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
const LOG_FILE: &str = "server.log";

// ---------------------------------------------------------------------------
// Locating the installed binaries
// ---------------------------------------------------------------------------

/// The cache directory used by `scripts/install-test-deps.sh`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LKA_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .expect("neither LKA_CACHE_DIR nor HOME is set");
    Path::new(&home)
        .join(".cache")
        .join("livekit-analytics-host")
}

fn env_file() -> PathBuf {
    cache_dir().join("test-env.sh")
}

/// `export K=V`, `export K='V'`, `K="V"` lines of the env file.
fn env_file_vars() -> &'static HashMap<String, String> {
    static VARS: OnceLock<HashMap<String, String>> = OnceLock::new();
    VARS.get_or_init(|| {
        let mut vars = HashMap::new();
        let Ok(text) = std::fs::read_to_string(env_file()) else {
            return vars;
        };
        for line in text.lines() {
            let line = line.trim();
            let line = line.strip_prefix("export ").unwrap_or(line).trim();
            if line.starts_with('#') {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let v = v.trim();
            let v = v
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .or_else(|| v.strip_prefix('"').and_then(|v| v.strip_suffix('"')))
                .unwrap_or(v);
            vars.insert(k.trim().to_string(), v.to_string());
        }
        vars
    })
}

/// The path named by `var` (from the environment, else from the env file), which
/// must exist. Panics with instructions when it is missing.
pub fn installed_path(var: &str) -> PathBuf {
    let value = std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(|| env_file_vars().get(var).cloned());
    let Some(value) = value else {
        panic!(
            "{var} is not set and {} does not define it: run `scripts/install-test-deps.sh` \
             (it writes that file; `source` it, or just run `cargo test` again), or use \
             `scripts/test.sh`, which does both",
            env_file().display()
        );
    };
    let path = PathBuf::from(value);
    if !path.exists() {
        panic!(
            "{var}={} does not exist: run `scripts/install-test-deps.sh` again",
            path.display()
        );
    }
    path
}

// ---------------------------------------------------------------------------
// Ports and processes
// ---------------------------------------------------------------------------

/// A loopback port that was free a moment ago (bind port 0, then release it). A
/// port is never handed out twice by one test process.
pub fn free_port() -> u16 {
    static GIVEN: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let given = GIVEN.get_or_init(Default::default);
    loop {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a loopback port");
        let port = listener.local_addr().expect("local address").port();
        drop(listener);
        if given.lock().unwrap().insert(port) {
            return port;
        }
    }
}

fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// One running server process, its output appended to `log`.
struct Proc {
    child: Child,
}

impl Proc {
    fn spawn(program: &Path, args: &[String], log: &Path) -> Proc {
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("open {}: {e}", log.display()));
        let err = out.try_clone().expect("clone log file handle");
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
        Proc { child }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, wait up to `STOP_TIMEOUT`, then SIGKILL.
    fn terminate(mut self) {
        if self.exited().is_some() {
            return;
        }
        // SAFETY: plain kill(2) on the pid of a child we have not reaped yet.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
    }
}

/// Why a server did not come up.
struct StartError {
    message: String,
    /// The process exited (e.g. its port was taken meanwhile): worth another port.
    exited: bool,
}

/// Polls `ready` until it returns true, the process exits, or `start_timeout()` passes.
fn wait_ready(
    name: &str,
    proc: &mut Proc,
    log: &Path,
    mut ready: impl FnMut() -> bool,
) -> Result<Duration, StartError> {
    let t0 = Instant::now();
    let timeout = start_timeout();
    loop {
        if ready() {
            eprintln!("{name} answered after {:.2?}", t0.elapsed());
            return Ok(t0.elapsed());
        }
        if let Some(status) = proc.exited() {
            return Err(StartError {
                message: format!(
                    "{name} exited ({status}) before it answered; tail of {}:\n{}",
                    log.display(),
                    log_tail(log, 40)
                ),
                exited: true,
            });
        }
        if t0.elapsed() > timeout {
            return Err(StartError {
                message: format!(
                    "{name} did not answer within {timeout:?}; tail of {}:\n{}",
                    log.display(),
                    log_tail(log, 40)
                ),
                exited: false,
            });
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn connect(port: u16) -> io::Result<TcpStream> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// How to launch one kind of server and see that it answers.
struct Launch {
    /// Name in messages and in the log.
    name: &'static str,
    program: PathBuf,
    /// The command-line arguments for a port.
    args: Box<dyn Fn(u16) -> Vec<String> + Send + Sync>,
    /// Whether the server on a port answers.
    ready: Box<dyn Fn(u16) -> bool + Send + Sync>,
    /// Cleans the directory before a retry on another port.
    before_retry: fn(&Path),
}

/// A server process on a loopback port, its files and its log (`server.log`) in a
/// temporary directory. Killed, and the directory removed, when dropped.
pub struct ServerProcess {
    launch: Launch,
    port: u16,
    proc: Option<Proc>,
    dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts the server on a free port and waits until it answers; a port taken by
    /// someone else between the check and the bind is retried on another (3 tries).
    fn start(dir: tempfile::TempDir, launch: Launch) -> ServerProcess {
        let mut server = ServerProcess {
            launch,
            port: free_port(),
            proc: None,
            dir,
        };
        let mut first_err = None;
        for attempt in 0..3 {
            if attempt > 0 {
                server.port = free_port();
                (server.launch.before_retry)(server.dir.path());
            }
            match server.spawn_and_wait() {
                Ok(()) => return server,
                Err(e) => {
                    server.kill();
                    if !e.exited {
                        panic!("{}", e.message);
                    }
                    first_err.get_or_insert(e.message);
                }
            }
        }
        panic!(
            "{} failed to start 3 times; first error: {}",
            server.launch.name,
            first_err.unwrap()
        )
    }

    fn spawn_and_wait(&mut self) -> Result<(), StartError> {
        let log = self.log_path();
        writeln!(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .unwrap(),
            "=== starting {} on port {}",
            self.launch.program.display(),
            self.port
        )
        .unwrap();
        let args = (self.launch.args)(self.port);
        let mut proc = Proc::spawn(&self.launch.program, &args, &log);
        let (port, ready) = (self.port, &self.launch.ready);
        let result = wait_ready(self.launch.name, &mut proc, &log, || ready(port));
        self.proc = Some(proc);
        result.map(|_| ())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temporary directory (data files and `server.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join(LOG_FILE)
    }

    pub fn pid(&self) -> Option<u32> {
        self.proc.as_ref().map(Proc::pid)
    }

    pub fn is_running(&self) -> bool {
        self.proc.is_some()
    }

    /// Stops the server gracefully (SIGTERM, then SIGKILL after a while) and waits
    /// for it. The directory is kept.
    pub fn stop(&mut self) {
        if let Some(p) = self.proc.take() {
            p.terminate();
        }
    }

    /// Kills the server at once (SIGKILL), as a crash would. The directory is kept.
    pub fn kill(&mut self) {
        if let Some(p) = self.proc.take() {
            p.kill();
        }
    }

    /// Stops the server if it runs, then starts it again on the same port with the
    /// same directory, and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(e) = self.spawn_and_wait() {
            self.kill();
            panic!("{}", e.message);
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------
// MongoDB (SecantusDB)
// ---------------------------------------------------------------------------

/// The server's configuration file. (Its `[storage] ttl_sweep_seconds` key is
/// accepted but not used by `secantusd-py` 0.7.0b3: TTL indexes are swept every 60 s,
/// as mongod does; call `MongoServer::prune_ttl()` for an immediate pass.)
pub const SECANTUSD_TOML: &str = "[storage]\ncache_size = \"256M\"\n";

/// A SecantusDB server (`secantusd-py`), speaking MongoDB's wire protocol, storing in
/// WiredTiger under its temporary directory. It announces itself as the primary of a
/// one-node replica set named `secantus`; `url()` asks for a direct connection.
pub struct MongoServer {
    server: ServerProcess,
}

impl MongoServer {
    /// Starts a server on a free loopback port with a fresh storage directory and
    /// waits until it answers a `ping` command.
    pub fn start() -> MongoServer {
        let dir = tempfile::Builder::new()
            .prefix("lka-mongo-")
            .tempdir()
            .expect("create a temporary directory");
        // Our own config file: `--config` also turns off the search for a
        // `secantusd.toml` in the working or home directory.
        std::fs::write(dir.path().join("secantusd.toml"), SECANTUSD_TOML)
            .expect("write secantusd.toml");
        let root = dir.path().to_path_buf();
        let launch = Launch {
            name: "secantusd-py",
            program: installed_path("LKA_SECANTUSD"),
            args: Box::new(move |port| {
                vec![
                    "--config".to_string(),
                    root.join("secantusd.toml").display().to_string(),
                    "--host".into(),
                    "127.0.0.1".into(),
                    "--port".into(),
                    port.to_string(),
                    "--storage-path".into(),
                    root.join("data").display().to_string(),
                ]
            }),
            ready: Box::new(|port| mongo_ping(port).is_ok()),
            before_retry: |dir| {
                let _ = std::fs::remove_dir_all(dir.join("data"));
            },
        };
        MongoServer {
            server: ServerProcess::start(dir, launch),
        }
    }

    /// A connection string for the official driver:
    /// `mongodb://127.0.0.1:PORT/?directConnection=true`.
    pub fn url(&self) -> String {
        format!("mongodb://127.0.0.1:{}/?directConnection=true", self.port())
    }

    /// Deletes the documents that TTL indexes have expired now, instead of at the
    /// next sweep (every 60 s), with SecantusDB's `secantusAdmin.pruneTtl` command.
    /// Returns how many it deleted.
    pub fn prune_ttl(&self) -> u64 {
        let reply = mongo_admin_command(self.port(), "secantusAdmin.pruneTtl")
            .unwrap_or_else(|e| panic!("secantusAdmin.pruneTtl: {e}"));
        bson_top_level_number(&reply, "pruned").unwrap_or(0.0) as u64
    }
}

impl std::ops::Deref for MongoServer {
    type Target = ServerProcess;
    fn deref(&self) -> &ServerProcess {
        &self.server
    }
}

impl std::ops::DerefMut for MongoServer {
    fn deref_mut(&mut self) -> &mut ServerProcess {
        &mut self.server
    }
}

/// Sends `{ping: 1, $db: "admin"}` as an OP_MSG and checks for `ok: 1`.
pub fn mongo_ping(port: u16) -> io::Result<()> {
    mongo_admin_command(port, "ping").map(|_| ())
}

/// Runs `{<name>: 1, $db: "admin"}` over a raw OP_MSG and returns the reply document
/// (BSON bytes) if it has `ok: 1`.
pub fn mongo_admin_command(port: u16, name: &str) -> io::Result<Vec<u8>> {
    let mut stream = connect(port)?;
    // BSON {<name>: int32 1, $db: "admin"}
    let mut doc = Vec::new();
    doc.extend_from_slice(&[0; 4]);
    doc.push(0x10);
    doc.extend_from_slice(name.as_bytes());
    doc.push(0);
    doc.extend_from_slice(&1i32.to_le_bytes());
    doc.push(0x02);
    doc.extend_from_slice(b"$db\0");
    doc.extend_from_slice(&6i32.to_le_bytes());
    doc.extend_from_slice(b"admin\0");
    doc.push(0);
    let n = doc.len() as i32;
    doc[..4].copy_from_slice(&n.to_le_bytes());

    let mut msg = Vec::new();
    let len = 16 + 4 + 1 + doc.len();
    msg.extend_from_slice(&(len as i32).to_le_bytes());
    msg.extend_from_slice(&1i32.to_le_bytes()); // requestID
    msg.extend_from_slice(&0i32.to_le_bytes()); // responseTo
    msg.extend_from_slice(&2013i32.to_le_bytes()); // OP_MSG
    msg.extend_from_slice(&0u32.to_le_bytes()); // flagBits
    msg.push(0); // section kind 0: body
    msg.extend_from_slice(&doc);
    stream.write_all(&msg)?;

    let mut header = [0u8; 16];
    stream.read_exact(&mut header)?;
    let len = i32::from_le_bytes(header[..4].try_into().unwrap());
    let op = i32::from_le_bytes(header[12..16].try_into().unwrap());
    if !(21..=48_000_000).contains(&len) || op != 2013 {
        return Err(io::Error::other(format!(
            "unexpected reply: length {len}, opcode {op}"
        )));
    }
    let mut body = vec![0u8; len as usize - 16];
    stream.read_exact(&mut body)?;
    // flagBits (4), kind 0 (1), then the document.
    if body[4] != 0 {
        return Err(io::Error::other("reply has no body section"));
    }
    let reply = body.split_off(5);
    match bson_top_level_number(&reply, "ok") {
        Some(1.0) => Ok(reply),
        other => Err(io::Error::other(format!("{name} answered ok: {other:?}"))),
    }
}

/// Reads a numeric field of a BSON document's top level.
pub fn bson_top_level_number(doc: &[u8], field: &str) -> Option<f64> {
    let total = i32::from_le_bytes(doc.get(..4)?.try_into().ok()?) as usize;
    let doc = doc.get(..total)?;
    let mut i = 4;
    let le_i32 = |at: usize| -> Option<usize> {
        Some(i32::from_le_bytes(doc.get(at..at + 4)?.try_into().ok()?) as usize)
    };
    while i < doc.len() && doc[i] != 0 {
        let kind = doc[i];
        i += 1;
        let name_end = i + doc[i..].iter().position(|&b| b == 0)?;
        let name = &doc[i..name_end];
        i = name_end + 1;
        let value_len = match kind {
            0x01 | 0x09 | 0x11 | 0x12 => 8,
            0x02 | 0x0D | 0x0E => 4 + le_i32(i)?,
            0x03 | 0x04 | 0x0F => le_i32(i)?,
            0x05 => 5 + le_i32(i)?,
            0x07 => 12,
            0x08 => 1,
            0x0A | 0x06 | 0x7F | 0xFF => 0,
            0x10 => 4,
            0x13 => 16,
            _ => return None,
        };
        if name == field.as_bytes() {
            let v = doc.get(i..i + value_len)?;
            return match kind {
                0x01 => Some(f64::from_le_bytes(v.try_into().ok()?)),
                0x10 => Some(i32::from_le_bytes(v.try_into().ok()?) as f64),
                0x12 => Some(i64::from_le_bytes(v.try_into().ok()?) as f64),
                0x08 => Some(v[0] as f64),
                _ => None,
            };
        }
        i += value_len;
    }
    None
}

// ---------------------------------------------------------------------------
// Redis
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedisFlavor {
    /// Debian's redis-server (`LKA_REDIS_SERVER`), no modules.
    Plain,
    /// The newer redis-server (`LKA_REDIS_STACK_SERVER`) with RedisJSON and
    /// RediSearch loaded.
    WithModules,
}

/// A redis-server on a loopback port, its files in a temporary directory. It keeps an
/// append-only file, so data written before `stop()` is there after `restart()`.
pub struct RedisServer {
    flavor: RedisFlavor,
    password: Option<String>,
    server: ServerProcess,
}

impl RedisServer {
    /// Starts a server without a password and waits until it answers PING.
    pub fn start(flavor: RedisFlavor) -> RedisServer {
        Self::start_inner(flavor, None, false)
    }

    /// Starts a server without a password that fsyncs its append-only file before it
    /// answers each write (`appendfsync always`), so that every write it acknowledged is
    /// still there after `kill()` and `restart()`. (With the default `everysec`, Redis may
    /// answer before a write reaches the file when an fsync is slow, and such writes are
    /// lost by a SIGKILL: Redis's durability, not the client's.)
    pub fn start_durable(flavor: RedisFlavor) -> RedisServer {
        Self::start_inner(flavor, None, true)
    }

    /// Starts a server whose default user needs `password` (`requirepass`).
    pub fn start_with_password(flavor: RedisFlavor, password: &str) -> RedisServer {
        Self::start_inner(flavor, Some(password.to_string()), false)
    }

    fn start_inner(flavor: RedisFlavor, password: Option<String>, durable: bool) -> RedisServer {
        let dir = tempfile::Builder::new()
            .prefix("lka-redis-")
            .tempdir()
            .expect("create a temporary directory");
        let (program, modules) = match flavor {
            RedisFlavor::Plain => (installed_path("LKA_REDIS_SERVER"), vec![]),
            RedisFlavor::WithModules => (
                installed_path("LKA_REDIS_STACK_SERVER"),
                vec![
                    installed_path("LKA_REDISJSON_SO"),
                    installed_path("LKA_REDISEARCH_SO"),
                ],
            ),
        };
        let root = dir.path().display().to_string();
        let pw = password.clone();
        let args = move |port: u16| {
            let mut args: Vec<String> = [
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--dir",
                &root,
                "--save",
                "",
                "--appendonly",
                "yes",
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            if durable {
                args.push("--appendfsync".into());
                args.push("always".into());
            }
            if let Some(pw) = &pw {
                args.push("--requirepass".into());
                args.push(pw.clone());
            }
            for m in &modules {
                args.push("--loadmodule".into());
                args.push(m.display().to_string());
            }
            args
        };
        let pw = password.clone();
        let launch = Launch {
            name: "redis-server",
            program,
            args: Box::new(args),
            ready: Box::new(move |port| {
                matches!(
                    redis_call(port, pw.as_deref(), &["PING"]),
                    Ok(Resp::Simple(s)) if s == "PONG"
                )
            }),
            before_retry: |_| {},
        };
        RedisServer {
            flavor,
            password,
            server: ServerProcess::start(dir, launch),
        }
    }

    /// `redis://127.0.0.1:PORT/`, or `redis://:PASSWORD@127.0.0.1:PORT/` (the
    /// password percent-encoded).
    pub fn url(&self) -> String {
        match &self.password {
            None => format!("redis://127.0.0.1:{}/", self.port()),
            Some(pw) => format!("redis://:{}@127.0.0.1:{}/", percent_encode(pw), self.port()),
        }
    }

    pub fn flavor(&self) -> RedisFlavor {
        self.flavor
    }

    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// Runs one command on a new connection, authenticated with the server's
    /// password if it has one. Panics on an I/O error; a Redis error is returned
    /// as `Resp::Error`.
    pub fn cmd(&self, args: &[&str]) -> Resp {
        redis_call(self.port(), self.password.as_deref(), args)
            .unwrap_or_else(|e| panic!("redis {args:?} on port {}: {e}", self.port()))
    }
}

impl std::ops::Deref for RedisServer {
    type Target = ServerProcess;
    fn deref(&self) -> &ServerProcess {
        &self.server
    }
}

impl std::ops::DerefMut for RedisServer {
    fn deref_mut(&mut self) -> &mut ServerProcess {
        &mut self.server
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A RESP2 reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resp {
    Simple(String),
    /// `-CODE message`: the whole line without the dash.
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Resp>>),
}

impl Resp {
    /// The error code of an error reply: its first word (`WRONGPASS`, `NOAUTH`, `ERR`…).
    pub fn error_code(&self) -> Option<&str> {
        match self {
            Resp::Error(e) => e.split_whitespace().next(),
            _ => None,
        }
    }

    /// A simple or bulk string as text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Resp::Simple(s) => Some(s),
            Resp::Bulk(Some(b)) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Resp::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Resp]> {
        match self {
            Resp::Array(Some(a)) => Some(a),
            _ => None,
        }
    }
}

/// Opens a connection to 127.0.0.1:`port`, sends `AUTH password` first when given
/// (an error reply to it is returned as is), then `args`, and returns the reply.
pub fn redis_call(port: u16, password: Option<&str>, args: &[&str]) -> io::Result<Resp> {
    let stream = connect(port)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    if let Some(pw) = password {
        writer.write_all(&encode_command(&["AUTH", pw]))?;
        let reply = read_resp(&mut reader)?;
        if matches!(reply, Resp::Error(_)) {
            return Ok(reply);
        }
    }
    writer.write_all(&encode_command(args))?;
    read_resp(&mut reader)
}

fn encode_command(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn read_resp(r: &mut impl BufRead) -> io::Result<Resp> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    let line = line.trim_end_matches(['\r', '\n']);
    let (kind, rest) = line.split_at(1.min(line.len()));
    let bad = || io::Error::other(format!("bad RESP line {line:?}"));
    Ok(match kind {
        "+" => Resp::Simple(rest.to_string()),
        "-" => Resp::Error(rest.to_string()),
        ":" => Resp::Int(rest.parse().map_err(|_| bad())?),
        "$" => {
            let n: i64 = rest.parse().map_err(|_| bad())?;
            if n < 0 {
                Resp::Bulk(None)
            } else {
                let mut buf = vec![0u8; n as usize + 2];
                r.read_exact(&mut buf)?;
                buf.truncate(n as usize);
                Resp::Bulk(Some(buf))
            }
        }
        "*" => {
            let n: i64 = rest.parse().map_err(|_| bad())?;
            if n < 0 {
                Resp::Array(None)
            } else {
                let mut items = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    items.push(read_resp(r)?);
                }
                Resp::Array(Some(items))
            }
        }
        _ => return Err(bad()),
    })
}
