//! The Redis lock that lets one node fix per period: `active-entities-lock`, taken the way
//! the fork's `redislock` takes it (`SET key token NX PX ttl`, a random token, released
//! only by its owner with a compare-and-delete script), so fork nodes and hosts sharing the
//! deployment's Redis exclude each other.
//!
//! The fork holds it for the whole period (TTL = period + 5 s) and retries every half
//! period; the fixer's loop in `mod.rs` does the same.

use crate::settings::LiveKitRedisConfig;
use crate::sinks::redis::config::split_address;
use anyhow::{bail, Context};
use redis::aio::MultiplexedConnection;
use redis::{Client, ConnectionAddr, ConnectionInfo, RedisConnectionInfo};
use std::time::Duration;

/// The lock's key, the fork's.
pub const LOCK_KEY: &str = "active-entities-lock";

/// Deletes the key only when it still holds our token (as `redislock` releases).
const RELEASE: &str =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/// A connection able to take and release the lock.
pub struct FixerLock {
    client: Client,
    conn: Option<MultiplexedConnection>,
    token: Option<String>,
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
        let token = format!("{:032x}", fastrand::u128(..));
        let location = self.location.clone();
        let conn = self.conn().await?;
        let answer: anyhow::Result<Option<String>> = redis::cmd("SET")
            .arg(LOCK_KEY)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .query_async(conn)
            .await
            .map_err(|e| anyhow::anyhow!("Redis at {location}: SET {LOCK_KEY}: {e}"));
        let answer = match answer {
            Ok(answer) => answer,
            Err(err) => {
                self.conn = None;
                return Err(err);
            }
        };
        let taken = answer.is_some();
        if taken {
            self.token = Some(token);
        }
        Ok(taken)
    }

    /// Releases the lock if this node holds it.
    pub async fn release(&mut self) -> anyhow::Result<()> {
        let Some(token) = self.token.take() else {
            return Ok(());
        };
        let location = self.location.clone();
        let conn = self.conn().await?;
        let _: i64 = redis::cmd("EVAL")
            .arg(RELEASE)
            .arg(1)
            .arg(LOCK_KEY)
            .arg(token)
            .query_async(conn)
            .await
            .with_context(|| format!("Redis at {location}: releasing {LOCK_KEY}"))?;
        Ok(())
    }
}
