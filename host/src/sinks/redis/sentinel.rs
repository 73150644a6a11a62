//! Behind sentinels: what the sentinels say about the master. During a failover the old
//! master keeps answering writes as a master until the sentinels turn it into a replica,
//! and what it took meanwhile is thrown away when it resyncs from the new one. So after each
//! batch the sink asks every sentinel which master it names and how many replicas follow
//! it, and sends the batch again (a `SET` sent twice is one key) when a sentinel names
//! another master, or when, with replicas following, none acknowledged the writes (`WAIT`):
//! the replica being promoted has stopped following the old master before the sentinels
//! name it. One acknowledgement is enough: the sentinels promote the replica that has
//! replicated the most (after `replica-priority`), and waiting for every replica would stall
//! the sink behind the slowest.

use super::config::split_address;
use super::tls::RedisTls;
use crate::settings::LiveKitRedisConfig;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, ConnectionAddr, IntoConnectionInfo};
use redis::{RedisConnectionInfo, RedisResult};
use std::collections::HashMap;
use std::time::Duration;

/// Longest a sentinel may take to connect or answer.
const SENTINEL_TIMEOUT: Duration = Duration::from_secs(1);

/// A connection (made when first needed) to each sentinel of LiveKit's `redis:` section.
pub(super) struct Sentinels {
    master_name: String,
    clients: Vec<Client>,
    conns: Vec<Option<MultiplexedConnection>>,
    /// No sentinel answered the last time (warned once per such stretch).
    silent: bool,
}

impl Sentinels {
    /// The sentinels of `redis` (which has a `sentinel_master_name`), with their credentials
    /// and TLS.
    pub(super) fn new(redis: &LiveKitRedisConfig, tls: Option<&RedisTls>) -> anyhow::Result<Self> {
        let mut settings = RedisConnectionInfo::default();
        if !redis.sentinel_username.is_empty() {
            settings = settings.set_username(&redis.sentinel_username);
        }
        if !redis.sentinel_password.is_empty() {
            settings = settings.set_password(&redis.sentinel_password);
        }
        let clients = redis
            .sentinel_addresses
            .iter()
            .map(|address| {
                let (host, port) = split_address(address).ok_or_else(|| {
                    anyhow::anyhow!("redis: `{address}` is not a `host:port` address")
                })?;
                let addr = match tls {
                    Some(tls) => ConnectionAddr::TcpTls {
                        host,
                        port,
                        insecure: tls.insecure,
                        tls_params: None,
                    },
                    None => ConnectionAddr::Tcp(host, port),
                };
                let info = addr
                    .into_connection_info()?
                    .set_redis_settings(settings.clone());
                Ok(match tls.and_then(|t| t.certificates.clone()) {
                    Some(certificates) => Client::build_with_tls(info, certificates)?,
                    None => Client::open(info)?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Sentinels {
            master_name: redis.sentinel_master_name.clone(),
            conns: vec![None; clients.len()],
            clients,
            silent: false,
        })
    }

    /// What the sentinels that answer say now: the master each names (`host:port`), and
    /// the most replicas following it (up, link `ok`) any of them knows.
    /// Sentinels that do not answer are left out (and connected again next time).
    pub(super) async fn status(&mut self) -> SentinelStatus {
        let name = self.master_name.clone();
        let asks = self
            .clients
            .iter()
            .zip(self.conns.iter_mut())
            .map(|(client, conn)| ask(client, conn, &name));
        let mut status = SentinelStatus::default();
        let mut answered = 0;
        for (master, replicas) in futures::future::join_all(asks).await.into_iter().flatten() {
            answered += 1;
            status.masters.extend(master);
            status.healthy_replicas = status.healthy_replicas.max(replicas);
        }
        if answered == 0 && !self.silent {
            tracing::warn!(master = %name,
                "no sentinel answered: batches are taken as stored without the failover check \
                 (credentials: redis.sentinel_username, redis.sentinel_password)");
        } else if answered > 0 && self.silent {
            tracing::info!(master = %name, "the sentinels answer again");
        }
        self.silent = answered == 0;
        status
    }
}

/// What the sentinels say about the master, see [`Sentinels::status`].
#[derive(Debug, Default)]
pub(super) struct SentinelStatus {
    /// The master each sentinel names.
    pub masters: Vec<String>,
    /// The most replicas following the master (up, link `ok`) a sentinel knows.
    pub healthy_replicas: usize,
}

/// Asks one sentinel for the master's address and its healthy replicas; `None` (and the
/// connection dropped) when it fails.
async fn ask(
    client: &Client,
    conn: &mut Option<MultiplexedConnection>,
    name: &str,
) -> Option<(Option<String>, usize)> {
    type Replicas = Vec<HashMap<String, String>>;
    let result: RedisResult<(Option<(String, String)>, Replicas)> = async {
        if conn.is_none() {
            let config = AsyncConnectionConfig::new()
                .set_connection_timeout(Some(SENTINEL_TIMEOUT))
                .set_response_timeout(Some(SENTINEL_TIMEOUT));
            *conn = Some(
                client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?,
            );
        }
        let connection = conn.as_mut().expect("connected above");
        redis::pipe()
            .cmd("SENTINEL")
            .arg("GET-MASTER-ADDR-BY-NAME")
            .arg(name)
            .cmd("SENTINEL")
            .arg("REPLICAS")
            .arg(name)
            .query_async(connection)
            .await
    }
    .await;
    match result {
        Ok((master, replicas)) => {
            let healthy = replicas
                .iter()
                .filter(|replica| {
                    // Up and following the master. Not `disconnected`: the sentinels' links
                    // to the replica being promoted drop for a moment (the promotion kills
                    // the clients), and that replica is the one whose acknowledgement
                    // proves a write survives. (A replica still syncing, or the old master
                    // not yet demoted after a failover, has its link `err`.)
                    let flags = replica.get("flags").map(String::as_str).unwrap_or("");
                    let link = replica.get("master-link-status").map(String::as_str);
                    !flags.split(',').any(|f| matches!(f, "s_down" | "o_down"))
                        && link.is_none_or(|l| l == "ok")
                })
                .count();
            Some((master.map(|(host, port)| format!("{host}:{port}")), healthy))
        }
        Err(err) => {
            tracing::debug!(error = %err, "a sentinel did not answer");
            *conn = None;
            None
        }
    }
}

/// `host:port` of a client's address.
pub(super) fn address_of(client: &Client) -> String {
    match client.get_connection_info().addr() {
        ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
            format!("{host}:{port}")
        }
        other => other.to_string(),
    }
}
