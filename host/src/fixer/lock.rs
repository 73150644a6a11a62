//! The Redis lock that lets one node fix per period: `active-entities-lock`, taken the way
//! the fork's `redislock` takes it (`SET key token NX PX ttl`, a random token, released
//! only by its owner with a compare-and-delete script), so fork nodes and hosts sharing the
//! deployment's Redis exclude each other.
//!
//! The fork holds it for the whole period (TTL = period + 5 s) and retries every half
//! period; the fixer's loop (`task.rs`) does the same. Around the run itself the fork also
//! takes `analytics-db-operations-lock` (TTL 2 s, retried every second), the lock its nodes
//! take around each batch write, so a run never interleaves with a fork node's batch: the
//! loop takes it too ([`FixerLock::take_db_operations`]).

use crate::settings::LiveKitRedisConfig;
use crate::sinks::redis::config::split_address;
use anyhow::{bail, Context};
use redis::aio::MultiplexedConnection;
use redis::{Client, ConnectionAddr, ConnectionInfo, RedisConnectionInfo};
use std::time::Duration;

/// The lock's key, the fork's.
pub const LOCK_KEY: &str = "active-entities-lock";
/// The fork's lock around database writes (each node's batches, the fixer's run).
pub const DB_LOCK_KEY: &str = "analytics-db-operations-lock";
/// Its TTL and retry step, the fork's.
const DB_LOCK_TTL: Duration = Duration::from_secs(2);
const DB_LOCK_RETRY: Duration = Duration::from_secs(1);

/// Deletes the key only when it still holds our token (as `redislock` releases).
const RELEASE: &str =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/// A connection able to take and release the lock.
pub struct FixerLock {
    client: Client,
    conn: Option<MultiplexedConnection>,
    token: Option<String>,
    db_token: Option<String>,
    location: String,
}

impl FixerLock {
    /// A lock in LiveKit's Redis. Only a single `address` is supported (not sentinel,
    /// cluster or TLS): an error names what is missing.
    pub fn new(redis: &LiveKitRedisConfig) -> anyhow::Result<FixerLock> {
        if !redis.sentinel_addresses.is_empty() || !redis.cluster_addresses.is_empty() {
            bail!(
                "the fixer's Redis lock supports a single redis.address, not sentinel or cluster"
            );
        }
        if redis.use_tls || redis.tls.as_ref().is_some_and(|t| t.enabled) {
            bail!("the fixer's Redis lock does not support TLS yet");
        }
        let (host, port) = split_address(&redis.address)
            .with_context(|| format!("redis.address `{}` is not host:port", redis.address))?;
        let mut settings = RedisConnectionInfo::default().set_db(redis.db);
        if !redis.username.is_empty() {
            settings = settings.set_username(&redis.username);
        }
        if !redis.password.is_empty() {
            settings = settings.set_password(&redis.password);
        }
        let info: ConnectionInfo =
            redis::IntoConnectionInfo::into_connection_info(ConnectionAddr::Tcp(host, port))?
                .set_redis_settings(settings);
        Ok(FixerLock {
            client: Client::open(info)?,
            conn: None,
            token: None,
            db_token: None,
            location: redis.address.clone(),
        })
    }

    async fn conn(&mut self) -> anyhow::Result<&mut MultiplexedConnection> {
        if self.conn.is_none() {
            let conn = tokio::time::timeout(
                Duration::from_secs(5),
                self.client.get_multiplexed_async_connection(),
            )
            .await
            .with_context(|| format!("Redis at {}: connect timed out", self.location))?
            .with_context(|| format!("cannot connect to Redis at {}", self.location))?;
            self.conn = Some(conn);
        }
        Ok(self.conn.as_mut().expect("just connected"))
    }

    /// Tries once to take the lock for `ttl`; `false` when another node holds it.
    pub async fn try_take(&mut self, ttl: Duration) -> anyhow::Result<bool> {
        self.token = self.set_nx(LOCK_KEY, ttl).await?;
        Ok(self.token.is_some())
    }

    /// Releases the lock if this node holds it.
    pub async fn release(&mut self) -> anyhow::Result<()> {
        match self.token.take() {
            Some(token) => self.delete_if(LOCK_KEY, token).await,
            None => Ok(()),
        }
    }

    /// Takes `analytics-db-operations-lock` as the fork does (TTL 2 s, tried every second),
    /// giving up after `patience`: `false` then (a fork node is writing for that long).
    pub async fn take_db_operations(&mut self, patience: Duration) -> anyhow::Result<bool> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            self.db_token = self.set_nx(DB_LOCK_KEY, DB_LOCK_TTL).await?;
            if self.db_token.is_some() {
                return Ok(true);
            }
            if tokio::time::Instant::now() + DB_LOCK_RETRY > deadline {
                return Ok(false);
            }
            tokio::time::sleep(DB_LOCK_RETRY).await;
        }
    }

    /// Releases `analytics-db-operations-lock` if this node holds it.
    pub async fn release_db_operations(&mut self) -> anyhow::Result<()> {
        match self.db_token.take() {
            Some(token) => self.delete_if(DB_LOCK_KEY, token).await,
            None => Ok(()),
        }
    }

    /// `SET key token NX PX ttl` with a new random token: the token when taken.
    async fn set_nx(&mut self, key: &str, ttl: Duration) -> anyhow::Result<Option<String>> {
        let token = format!("{:032x}", fastrand::u128(..));
        let location = self.location.clone();
        let conn = self.conn().await?;
        let answer: anyhow::Result<Option<String>> = redis::cmd("SET")
            .arg(key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .query_async(conn)
            .await
            .map_err(|e| anyhow::anyhow!("Redis at {location}: SET {key}: {e}"));
        match answer {
            Ok(answer) => Ok(answer.map(|_| token)),
            Err(err) => {
                self.conn = None;
                Err(err)
            }
        }
    }

    /// Deletes `key` if it still holds `token`.
    async fn delete_if(&mut self, key: &str, token: String) -> anyhow::Result<()> {
        let location = self.location.clone();
        let conn = self.conn().await?;
        let _: i64 = redis::cmd("EVAL")
            .arg(RELEASE)
            .arg(1)
            .arg(key)
            .arg(token)
            .query_async(conn)
            .await
            .with_context(|| format!("Redis at {location}: releasing {key}"))?;
        Ok(())
    }
}
