//! MongoDB: a SecantusDB server, and a raw OP_MSG client to see that it answers.

use super::installed_path;
use super::process::{connect, Launch, ServerProcess};
use std::io::{self, Read, Write};

/// A file in the server's directory whose presence adds `--auth` to its command line.
const AUTH_FLAG: &str = "auth-on";
/// A file whose presence adds `--enable-test-commands` (`configureFailPoint`).
const TEST_COMMANDS_FLAG: &str = "test-commands-on";
/// A file whose presence adds `--standalone` (no replica set announced, as a plain mongod).
const STANDALONE_FLAG: &str = "standalone-on";

/// The server's configuration file. (Its `[storage] ttl_sweep_seconds` key is
/// accepted but not used by `secantusd-py` 0.7.0b3: TTL indexes are swept every 60 s,
/// as mongod does; call `MongoServer::prune_ttl()` for an immediate pass.)
pub const SECANTUSD_TOML: &str = "[storage]\ncache_size = \"256M\"\n";

/// The name of the one-node replica set SecantusDB announces (it has no flag to change it,
/// nor to add members).
pub const REPLICA_SET: &str = "secantus";

/// A SecantusDB server (`secantusd-py`), speaking MongoDB's wire protocol, storing in
/// WiredTiger under its temporary directory. It announces itself as the primary of a
/// one-node replica set named `secantus`; `url()` asks for a direct connection,
/// `replica_set_url()` for replica-set discovery.
pub struct MongoServer {
    server: ServerProcess,
}

impl MongoServer {
    /// Starts a server on a free loopback port with a fresh storage directory and
    /// waits until it answers a `ping` command.
    pub fn start() -> MongoServer {
        Self::start_as(false)
    }

    /// As [`MongoServer::start`], with `--standalone`: `hello` announces no replica set, as
    /// a plain mongod's does (SecantusDB still accepts transactions then; the host, like a
    /// driver against mongod, does not use them).
    pub fn start_standalone() -> MongoServer {
        Self::start_as(true)
    }

    fn start_as(standalone: bool) -> MongoServer {
        let dir = tempfile::Builder::new()
            .prefix("lka-mongo-")
            .tempdir()
            .expect("create a temporary directory");
        // Our own config file: `--config` also turns off the search for a
        // `secantusd.toml` in the working or home directory.
        std::fs::write(dir.path().join("secantusd.toml"), SECANTUSD_TOML)
            .expect("write secantusd.toml");
        if standalone {
            std::fs::write(dir.path().join(STANDALONE_FLAG), "").expect("write the flag");
        }
        let root = dir.path().to_path_buf();
        let launch = Launch {
            name: "secantusd-py",
            program: installed_path("LKA_SECANTUSD"),
            args: Box::new(move |port| {
                let auth = root.join(AUTH_FLAG).exists().then(|| "--auth".to_string());
                let test_commands = root
                    .join(TEST_COMMANDS_FLAG)
                    .exists()
                    .then(|| "--enable-test-commands".to_string());
                let standalone = root
                    .join(STANDALONE_FLAG)
                    .exists()
                    .then(|| "--standalone".to_string());
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
                .into_iter()
                .chain(auth)
                .chain(test_commands)
                .chain(standalone)
                .collect()
            }),
            ready: Box::new(|port| mongo_ping(port).is_ok()),
            before_retry: |dir| {
                let _ = std::fs::remove_dir_all(dir.join("data"));
            },
            run_as: None,
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

    /// A connection string that discovers the server as a replica set:
    /// `mongodb://127.0.0.1:PORT/?replicaSet=secantus` ([`REPLICA_SET`]).
    pub fn replica_set_url(&self) -> String {
        format!(
            "mongodb://127.0.0.1:{}/?replicaSet={REPLICA_SET}",
            self.port()
        )
    }

    /// Restarts the server with `--auth` (SCRAM-SHA-256 required for everything but the
    /// handshake and `ping`), keeping its data: create users before calling this.
    pub fn require_auth(&mut self) {
        std::fs::write(self.dir().join(AUTH_FLAG), "").expect("write the auth flag");
        self.restart();
    }

    /// Restarts the server with `--enable-test-commands`, so `configureFailPoint` (e.g.
    /// `failCommand`) can make it fail chosen commands with exact errors.
    pub fn enable_failpoints(&mut self) {
        std::fs::write(self.dir().join(TEST_COMMANDS_FLAG), "").expect("write the flag");
        self.restart();
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
