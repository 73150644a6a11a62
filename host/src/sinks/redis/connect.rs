//! Connections: the target chosen from LiveKit's `redis:` section (one address, sentinel or
//! cluster), multiplexed connections with timeouts, and errors sorted into retryable
//! (unreachable) and not (authentication, refused commands).

use super::config::split_address;
use super::tls::{tls_hint, RedisTls};
use crate::settings::LiveKitRedisConfig;
use crate::sinks::SinkError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    Client, ConnectionAddr, ErrorKind, IntoConnectionInfo, RedisConnectionInfo, RedisError, Value,
};
use std::time::Duration;

/// Longest a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a command or pipeline may wait for its reply.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// How to reach the Redis.
pub(super) enum Target {
    Single(Box<Client>),
    Sentinel(Box<SentinelClient>),
    Cluster(Box<ClusterClient>),
}

/// A live connection; cheap to clone (multiplexed).
#[derive(Clone)]
pub(super) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Conn {
    pub(super) async fn pipeline(
        &mut self,
        pipe: &redis::Pipeline,
    ) -> redis::RedisResult<Vec<Value>> {
        match self {
            Conn::Single(c) => pipe.query_async(c).await,
            Conn::Cluster(c) => pipe.query_async(c).await,
        }
    }

    pub(super) async fn command(&mut self, cmd: &redis::Cmd) -> redis::RedisResult<Value> {
        match self {
            Conn::Single(c) => cmd.query_async(c).await,
            Conn::Cluster(c) => cmd.query_async(c).await,
        }
    }
}

pub(super) async fn manager(client: Client) -> redis::RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_secs(1));
    ConnectionManager::new_with_config(client, config).await
}

pub(super) fn is_auth_error(err: &RedisError) -> bool {
    err.kind() == ErrorKind::AuthenticationFailed
        || matches!(err.code(), Some("WRONGPASS" | "NOAUTH"))
        || err.to_string().contains("WRONGPASS")
}

/// The error of a failed connection: authentication failures are not retried; TLS failures
/// are (a certificate may be renewed) but say what is wrong first.
pub(super) fn connect_error(location: &str, err: &RedisError, tls: Option<&RedisTls>) -> SinkError {
    if is_auth_error(err) {
        SinkError::Store(format!(
            "Redis at {location}: authentication failed (check redis.username and \
             redis.password): {err}"
        ))
    } else if let Some(hint) = tls_hint(err, tls) {
        SinkError::Unavailable(format!(
            "cannot connect to Redis at {location}: {hint}: {err}"
        ))
    } else {
        SinkError::Unavailable(format!("cannot connect to Redis at {location}: {err}"))
    }
}

/// The error of a failed command; the first commands on a new connection also see TLS
/// failures (a refused client certificate shows at the first read).
pub(super) fn command_error(
    location: &str,
    command: &str,
    err: &RedisError,
    tls: Option<&RedisTls>,
) -> SinkError {
    if is_auth_error(err) || tls_hint(err, tls).is_some() {
        return connect_error(location, err, tls);
    }
    if err.is_io_error() || err.is_timeout() || err.is_connection_dropped() {
        SinkError::Unavailable(format!("Redis at {location}: {command}: {err}"))
    } else {
        SinkError::Store(format!("Redis at {location}: {command}: {err}"))
    }
}

/// RediSearch's "Index already exists" (parsed by the client as code `Index`).
pub(super) fn is_index_exists(err: &RedisError) -> bool {
    let text = err.to_string().to_ascii_lowercase();
    text.contains("index") && text.contains("already exists")
}

/// The `name` of each entry of a `MODULE LIST` reply (RESP2 arrays or RESP3 maps).
pub(super) fn module_names(value: &Value) -> Vec<String> {
    let text = |v: &Value| match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).to_ascii_lowercase()),
        Value::SimpleString(s) => Some(s.to_ascii_lowercase()),
        _ => None,
    };
    let (Value::Array(entries) | Value::Set(entries)) = value else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| match entry {
            Value::Array(fields) => fields
                .chunks(2)
                .find(|pair| text(&pair[0]).as_deref() == Some("name"))
                .and_then(|pair| pair.get(1).and_then(text)),
            Value::Map(pairs) => pairs
                .iter()
                .find(|(k, _)| text(k).as_deref() == Some("name"))
                .and_then(|(_, v)| text(v)),
            _ => None,
        })
        .collect()
}

/// The connection target of LiveKit's `redis:` section, chosen as livekit-server does:
/// sentinel when a master name is set, else cluster when cluster addresses are, else one
/// address. `tls` is [`RedisTls::from_config`] of the same section.
pub(super) fn target(
    redis: &LiveKitRedisConfig,
    tls: Option<&RedisTls>,
) -> anyhow::Result<(Target, String)> {
    let addr = |address: &str| -> anyhow::Result<ConnectionAddr> {
        let (host, port) = split_address(address)
            .ok_or_else(|| anyhow::anyhow!("redis: `{address}` is not a `host:port` address"))?;
        Ok(match tls {
            Some(tls) => ConnectionAddr::TcpTls {
                host,
                port,
                insecure: tls.insecure,
                tls_params: None,
            },
            None => ConnectionAddr::Tcp(host, port),
        })
    };
    let certificates = tls.and_then(|t| t.certificates.clone());
    let mut settings = RedisConnectionInfo::default().set_db(redis.db);
    if !redis.username.is_empty() {
        settings = settings.set_username(&redis.username);
    }
    if !redis.password.is_empty() {
        settings = settings.set_password(&redis.password);
    }
    let scheme = if tls.is_some() { "rediss" } else { "redis" };
    if !redis.sentinel_master_name.is_empty() {
        let sentinels = redis
            .sentinel_addresses
            .iter()
            .map(|a| addr(a))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut builder = SentinelClientBuilder::new(
            sentinels,
            &redis.sentinel_master_name,
            SentinelServerType::Master,
        )?
        .set_client_to_redis_db(redis.db);
        if !redis.username.is_empty() {
            builder = builder.set_client_to_redis_username(&redis.username);
        }
        if !redis.password.is_empty() {
            builder = builder.set_client_to_redis_password(&redis.password);
        }
        if !redis.sentinel_username.is_empty() {
            builder = builder.set_client_to_sentinel_username(&redis.sentinel_username);
        }
        if !redis.sentinel_password.is_empty() {
            builder = builder.set_client_to_sentinel_password(&redis.sentinel_password);
        }
        if let Some(tls) = tls {
            builder = builder
                .set_client_to_redis_tls_mode(tls.mode())
                .set_client_to_sentinel_tls_mode(tls.mode());
        }
        if let Some(certificates) = certificates {
            builder = builder
                .set_client_to_redis_certificates(certificates.clone())
                .set_client_to_sentinel_certificates(certificates);
        }
        let location = format!(
            "sentinel master `{}` via {}",
            redis.sentinel_master_name,
            redis.sentinel_addresses.join(",")
        );
        return Ok((Target::Sentinel(Box::new(builder.build()?)), location));
    }
    if !redis.cluster_addresses.is_empty() {
        let nodes = redis
            .cluster_addresses
            .iter()
            .map(|a| addr(a)?.into_connection_info().map_err(Into::into))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut builder = ClusterClientBuilder::new(nodes)
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(RESPONSE_TIMEOUT)
            .retries(2);
        if !redis.username.is_empty() {
            builder = builder.username(&redis.username);
        }
        if !redis.password.is_empty() {
            builder = builder.password(&redis.password);
        }
        if let Some(tls) = tls {
            builder = builder.tls(tls.mode());
        }
        if let Some(certificates) = certificates {
            builder = builder.certs(certificates);
        }
        if let Some(redirects) = redis.max_redirects {
            builder = builder.retries(redirects.max(1));
        }
        let location = format!("cluster {scheme}://{}", redis.cluster_addresses.join(","));
        return Ok((Target::Cluster(Box::new(builder.build()?)), location));
    }
    let info = addr(&redis.address)?
        .into_connection_info()?
        .set_redis_settings(settings);
    let location = format!("{scheme}://{}/{}", redis.address, redis.db);
    let client = match certificates {
        Some(certificates) => Client::build_with_tls(info, certificates)?,
        None => Client::open(info)?,
    };
    Ok((Target::Single(Box::new(client)), location))
}
