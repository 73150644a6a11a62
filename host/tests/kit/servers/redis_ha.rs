//! Redis topologies from plain redis-server processes: a primary with a replica watched by
//! sentinels ([`SentinelSet`]), and a cluster of masters ([`RedisCluster`]) made by
//! `redis-cli --cluster create` (`LKA_REDIS_CLI`).

use super::installed_path;
use super::process::{Launch, ServerProcess};
use super::redis::{redis_call, RedisFlavor, RedisServer, Resp};
use crate::kit::pki::Pki;
use crate::kit::ports::free_port;
use std::process::Command;
use std::time::{Duration, Instant};

/// The master name the sentinels watch.
pub const MASTER_NAME: &str = "analytics";

/// Polls `check` every 50 ms until it is true; panics naming `what` after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One field of an `INFO` reply (`role`, `cluster_state`…) of the server on `port`.
pub fn info_field(port: u16, password: Option<&str>, section: &str, field: &str) -> Option<String> {
    let reply = redis_call(port, password, &["INFO", section]).ok()?;
    let text = reply.as_str()?.to_string();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
}

/// The arguments of a TLS port `port` with `pki`'s server certificate, clients not asked
/// for one, and TLS towards the other servers (replication; a sentinel's links).
pub fn tls_args(pki: &Pki, port: u16) -> Vec<String> {
    [
        "--tls-port".to_string(),
        port.to_string(),
        "--tls-cert-file".into(),
        pki.cert.display().to_string(),
        "--tls-key-file".into(),
        pki.key.display().to_string(),
        "--tls-ca-cert-file".into(),
        pki.ca.display().to_string(),
        "--tls-auth-clients".into(),
        "no".into(),
        "--tls-replication".into(),
        "yes".into(),
    ]
    .to_vec()
}

/// A redis-server in sentinel mode on a loopback port, watching [`MASTER_NAME`]. Quick to
/// decide: the master is down after 1 s without an answer; quorum 2.
pub struct Sentinel {
    server: ServerProcess,
    /// The port clients use: the TLS port, if any, else the plain one.
    client_port: u16,
    /// The password the sentinel asks of its clients (`requirepass`), if any.
    password: Option<String>,
}

/// Passwords of a sentinel set: the servers' default user, and the sentinels'.
#[derive(Clone, Copy, Debug)]
pub struct SentinelAuth<'a> {
    pub redis_password: &'a str,
    pub sentinel_password: &'a str,
}

impl Sentinel {
    /// Starts a sentinel watching the master on `master_port` and waits until it answers;
    /// `tls`: it also listens with TLS and talks TLS to the servers and other sentinels.
    /// With `auth`, it logs in to the servers and asks its clients and the other sentinels
    /// for the sentinel password.
    pub fn start(master_port: u16, tls: Option<&Pki>, auth: Option<SentinelAuth>) -> Sentinel {
        let tls_port = tls.map(|_| free_port());
        let extra = tls
            .zip(tls_port)
            .map(|(pki, port)| tls_args(pki, port))
            .unwrap_or_default();
        let dir = tempfile::Builder::new()
            .prefix("lka-sentinel-")
            .tempdir()
            .expect("create a temporary directory");
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n\
                 sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
                 sentinel failover-timeout {MASTER_NAME} 10000\n\
                 sentinel parallel-syncs {MASTER_NAME} 1\n{}",
                auth.map(|a| format!(
                    "sentinel auth-pass {MASTER_NAME} {}\nrequirepass {}\n\
                     sentinel sentinel-pass {}\n",
                    a.redis_password, a.sentinel_password, a.sentinel_password
                ))
                .unwrap_or_default()
            ),
        )
        .expect("write sentinel.conf");
        let root = dir.path().display().to_string();
        let password = auth.map(|a| a.sentinel_password.to_string());
        let launch = Launch {
            name: "redis-sentinel",
            program: installed_path("LKA_REDIS_SERVER"),
            args: Box::new(move |port| {
                [
                    conf.display().to_string(),
                    "--sentinel".into(),
                    "--bind".into(),
                    "127.0.0.1".into(),
                    "--port".into(),
                    port.to_string(),
                    "--dir".into(),
                    root.clone(),
                ]
                .into_iter()
                .chain(extra.iter().cloned())
                .collect()
            }),
            ready: Box::new(move |port| {
                let reply = redis_call(port, password.as_deref(), &["PING"]);
                matches!(reply, Ok(Resp::Simple(s)) if s == "PONG")
            }),
            before_retry: |_| {},
            run_as: None,
        };
        let server = ServerProcess::start(dir, launch);
        Sentinel {
            client_port: tls_port.unwrap_or(server.port()),
            server,
            password: auth.map(|a| a.sentinel_password.to_string()),
        }
    }

    /// `host:port` of the master the sentinel names now.
    pub fn master_address(&self) -> Option<String> {
        let reply = redis_call(
            self.port(),
            self.password.as_deref(),
            &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME],
        )
        .ok()?;
        let parts = reply.as_array()?;
        Some(format!(
            "{}:{}",
            parts.first()?.as_str()?,
            parts.get(1)?.as_str()?
        ))
    }

    /// Runs a command on the sentinel.
    pub fn cmd(&self, args: &[&str]) -> Resp {
        redis_call(self.port(), self.password.as_deref(), args)
            .unwrap_or_else(|e| panic!("sentinel {args:?} on port {}: {e}", self.port()))
    }
}

impl std::ops::Deref for Sentinel {
    type Target = ServerProcess;
    fn deref(&self) -> &ServerProcess {
        &self.server
    }
}

/// A primary, one replica and three sentinels, ready: the replica is in sync and the
/// sentinels see each other (`SENTINEL CKQUORUM` passes).
pub struct SentinelSet {
    /// The first primary and its replica, in the order they were started.
    pub servers: Vec<RedisServer>,
    /// The port of each server the sentinels name and clients use (TLS, or plain).
    pub client_ports: Vec<u16>,
    pub sentinels: Vec<Sentinel>,
}

impl SentinelSet {
    /// Starts the set (durable servers: `appendfsync always`).
    pub fn start() -> SentinelSet {
        Self::start_with(None, None)
    }

    /// Starts the set; with `tls`, everything speaks TLS with `pki`'s certificates (the
    /// kit still reaches each process on its plain loopback port); with `auth`, the servers
    /// and the sentinels need their passwords.
    pub fn start_with(tls: Option<&Pki>, auth: Option<SentinelAuth>) -> SentinelSet {
        let password = auth.map(|a| a.redis_password);
        let server = |mut extra: Vec<String>| {
            if let Some(pw) = password {
                extra.extend(["--masterauth".to_string(), pw.to_string()]);
            }
            let tls_port = tls.map(|_| free_port());
            let mut args: Vec<String> = tls
                .zip(tls_port)
                .map(|(pki, port)| tls_args(pki, port))
                .unwrap_or_default();
            args.extend(extra);
            let server = RedisServer::start_with_args(RedisFlavor::Plain, password, args);
            let port = tls_port.unwrap_or(server.port());
            (server, port)
        };
        let (primary, primary_port) = server(Vec::new());
        let (replica, replica_port) = server(vec![
            "--replicaof".into(),
            "127.0.0.1".into(),
            primary_port.to_string(),
        ]);
        wait_for("the replica to sync", Duration::from_secs(20), || {
            info_field(
                replica.port(),
                password,
                "replication",
                "master_link_status",
            )
            .as_deref()
                == Some("up")
        });
        let sentinels: Vec<Sentinel> = (0..3)
            .map(|_| Sentinel::start(primary_port, tls, auth))
            .collect();
        wait_for(
            "the sentinels to find each other and the replica",
            Duration::from_secs(30),
            || {
                sentinels.iter().all(|s| {
                    let quorum = s.cmd(&["SENTINEL", "CKQUORUM", MASTER_NAME]);
                    let replicas = s.cmd(&["SENTINEL", "REPLICAS", MASTER_NAME]);
                    matches!(quorum, Resp::Simple(_))
                        && replicas.as_array().is_some_and(|r| !r.is_empty())
                        && quorum.as_str().is_some_and(|q| q.contains("3 usable"))
                })
            },
        );
        SentinelSet {
            servers: vec![primary, replica],
            client_ports: vec![primary_port, replica_port],
            sentinels,
        }
    }

    /// `host:port` of every sentinel, for clients.
    pub fn addresses(&self) -> Vec<String> {
        self.sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.client_port))
            .collect()
    }

    /// `host:port` of server `i`, as the sentinels name it.
    pub fn address(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.client_ports[i])
    }

    /// The server the sentinels name as master now (they must agree).
    pub fn master(&self) -> &RedisServer {
        let names: Vec<Option<String>> =
            self.sentinels.iter().map(|s| s.master_address()).collect();
        let name = names[0].clone().expect("a master");
        assert!(names.iter().all(|n| n.as_ref() == Some(&name)), "{names:?}");
        let i = (0..self.servers.len())
            .find(|&i| self.address(i) == name)
            .unwrap_or_else(|| panic!("master {name} is none of ours"));
        &self.servers[i]
    }
}

/// `masters` redis-servers in cluster mode joined by `redis-cli --cluster create` (no
/// replicas), each with its append-only file and `nodes.conf`, so a restarted node rejoins.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
    /// The port of each node clients use (TLS, or plain).
    pub client_ports: Vec<u16>,
}

impl RedisCluster {
    /// Starts the nodes, creates the cluster and waits until every node says `ok`.
    pub fn start(masters: usize) -> RedisCluster {
        Self::start_with(masters, None)
    }

    /// As [`RedisCluster::start`]; with `tls`, clients and the cluster bus speak TLS with
    /// `pki`'s certificates (`tls-cluster yes`; the kit still uses the plain ports).
    pub fn start_with(masters: usize, tls: Option<&Pki>) -> RedisCluster {
        let (nodes, client_ports): (Vec<RedisServer>, Vec<u16>) = (0..masters)
            .map(|_| {
                let mut args: Vec<String> = [
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "1000",
                    "--cluster-port",
                    &free_port().to_string(),
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                let tls_port = tls.map(|pki| {
                    let port = free_port();
                    args.extend(tls_args(pki, port));
                    args.extend(["--tls-cluster".to_string(), "yes".to_string()]);
                    port
                });
                let node = RedisServer::start_with_args(RedisFlavor::Plain, None, args);
                let port = tls_port.unwrap_or(node.port());
                (node, port)
            })
            .unzip();
        let mut create = Command::new(installed_path("LKA_REDIS_CLI"));
        if let Some(pki) = tls {
            create.arg("--tls").arg("--cacert").arg(&pki.ca);
        }
        create.arg("--cluster").arg("create");
        for port in &client_ports {
            create.arg(format!("127.0.0.1:{port}"));
        }
        create.args(["--cluster-replicas", "0", "--cluster-yes"]);
        let out = create.output().expect("run redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let cluster = RedisCluster {
            nodes,
            client_ports,
        };
        cluster.wait_ok(Duration::from_secs(30));
        cluster
    }

    /// Waits until every node reports `cluster_state:ok`.
    pub fn wait_ok(&self, limit: Duration) {
        wait_for("cluster_state:ok on every node", limit, || {
            self.nodes.iter().all(|n| {
                info_field(n.port(), None, "cluster", "cluster_enabled").as_deref() == Some("1")
                    && cluster_state(n.port()).as_deref() == Some("ok")
            })
        });
    }

    /// `host:port` of every node, for clients.
    pub fn addresses(&self) -> Vec<String> {
        self.client_ports
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect()
    }
}

/// `cluster_state` of `CLUSTER INFO` on the node at `port`.
pub fn cluster_state(port: u16) -> Option<String> {
    let reply = redis_call(port, None, &["CLUSTER", "INFO"]).ok()?;
    let text = reply.as_str()?.to_string();
    text.lines()
        .find_map(|l| l.strip_prefix("cluster_state:"))
        .map(|v| v.trim().to_string())
}
