//! Redis: a redis-server, plain or with modules, and a raw RESP2 client.

use super::installed_path;
use super::process::{connect, Launch, ServerProcess};
use std::io::{self, BufRead, BufReader, Write};

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
    password: Option<String>,
    server: ServerProcess,
}

impl RedisServer {
    /// Starts a server without a password and waits until it answers PING.
    pub fn start(flavor: RedisFlavor) -> RedisServer {
        Self::start_inner(flavor, None, false, Vec::new())
    }

    /// Starts a server without a password that fsyncs its append-only file before it
    /// answers each write (`appendfsync always`), so that every write it acknowledged is
    /// still there after `kill()` and `restart()`. (With the default `everysec`, Redis may
    /// answer before a write reaches the file when an fsync is slow, and such writes are
    /// lost by a SIGKILL: Redis's durability, not the client's.)
    pub fn start_durable(flavor: RedisFlavor) -> RedisServer {
        Self::start_inner(flavor, None, true, Vec::new())
    }

    /// Starts a durable server (as [`RedisServer::start_durable`]) with `extra` arguments
    /// after the kit's own (a later argument wins): a TLS port, `--replicaof`, cluster mode;
    /// with `password`, its default user needs it. The kit still reaches it on its plain
    /// loopback port ([`ServerProcess::port`]).
    pub fn start_with_args(
        flavor: RedisFlavor,
        password: Option<&str>,
        extra: Vec<String>,
    ) -> RedisServer {
        Self::start_inner(flavor, password.map(str::to_string), true, extra)
    }

    /// Starts a server whose default user needs `password` (`requirepass`).
    pub fn start_with_password(flavor: RedisFlavor, password: &str) -> RedisServer {
        Self::start_inner(flavor, Some(password.to_string()), false, Vec::new())
    }

    fn start_inner(
        flavor: RedisFlavor,
        password: Option<String>,
        durable: bool,
        extra: Vec<String>,
    ) -> RedisServer {
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
            args.extend(extra.iter().cloned());
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
            run_as: None,
        };
        RedisServer {
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
