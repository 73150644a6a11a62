//! The Redis sink: the LiveKit deployment's own Redis (LiveKit's top-level `redis:` section:
//! one address, sentinel or cluster). Each item is one key, hash-tagged per room —
//! `event:{<room sid>}:[<participant>:][<track>:]<TYPE>:<ts>` and
//! `stat:{<room id>}:<participant>:<track>:<ts>` — whose TTL is the time left until the
//! item's `openvidu_expire_at`. With RedisJSON loaded the value is a JSON document
//! (`JSON.SET`, with RediSearch indexes on the fields the fork indexes); otherwise it is the
//! same JSON text as a plain string. Writes are pipelined, several pipelines in flight
//! (`redis.max_in_flight`, see `window.rs`), every reply is checked, and items whose write
//! failed are reported for retry.

pub mod config;
mod connect;
pub mod keys;
mod sentinel;
mod tls;
mod window;
mod write;

pub use keys::{index_schema, redis_key, EVENTS_INDEX, STATS_INDEX};

use super::{BatchReport, Sink, SinkError};
use crate::model::{ItemKind, SharedItem};
use crate::settings::LiveKitRedisConfig;
use crate::sinks::redis::config::{RedisMode, RedisSinkConfig};
use async_trait::async_trait;
use connect::{
    command_error, connect_error, is_index_exists, manager, module_names, target, Conn, Target,
};
use keys::key_prefix;
use redis::{ErrorKind, RedisError, ServerErrorKind};
use sentinel::{address_of, Sentinels};
use std::time::{Duration, SystemTime};
use tls::RedisTls;

/// Behind sentinels: how long the replicas may take to acknowledge a batch (`WAIT`).
const REPLICA_ACK_TIMEOUT: Duration = Duration::from_millis(500);

/// Stores items in Redis.
pub struct RedisSink {
    target: Target,
    /// TLS settings (for error messages), `None` for a plain connection.
    tls: Option<RedisTls>,
    /// Behind sentinels: each sentinel, asked after every batch which master it names.
    sentinels: Option<Sentinels>,
    /// Behind sentinels: the master the connection goes to (`host:port`).
    master: Option<String>,
    /// For logs and errors: where it connects (no credentials).
    location: String,
    requested: RedisMode,
    /// `Json` or `Plain` once initialized.
    mode: Option<RedisMode>,
    conn: Option<Conn>,
    pipeline_per_room: bool,
    /// Pipelines awaiting their replies at once (`redis.max_in_flight`); also how many
    /// batches the worker hands over per call.
    max_in_flight: usize,
}

impl RedisSink {
    /// A sink for the Redis of LiveKit's `redis:` section. Does not connect yet: a Redis
    /// that is down at start only delays initialization.
    pub fn new(redis: &LiveKitRedisConfig, settings: &RedisSinkConfig) -> anyhow::Result<Self> {
        let tls = RedisTls::from_config(redis)?;
        let (target, location) = target(redis, tls.as_ref())?;
        let cluster = matches!(target, Target::Cluster(_));
        let sentinels = matches!(target, Target::Sentinel(_))
            .then(|| Sentinels::new(redis, tls.as_ref()))
            .transpose()?;
        Ok(RedisSink {
            target,
            tls,
            sentinels,
            master: None,
            location,
            requested: settings.mode,
            mode: None,
            conn: None,
            // A cluster pipeline must stay on one slot; elsewhere one round trip per batch
            // is faster (see `benches/redis.rs`).
            pipeline_per_room: cluster,
            max_in_flight: settings.max_in_flight.max(1),
        })
    }

    /// Sends one pipeline per room (hash tag) instead of one per batch. Always on for a
    /// cluster, where a pipeline must stay on one slot.
    pub fn with_pipeline_per_room(mut self, per_room: bool) -> Self {
        self.pipeline_per_room = per_room || matches!(self.target, Target::Cluster(_));
        self
    }

    /// The storage mode in use (`Json` or `Plain`), once initialized.
    pub fn mode(&self) -> Option<RedisMode> {
        self.mode
    }

    /// Where this sink connects, without credentials.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The open connection, connecting first when there is none.
    async fn connection(&mut self) -> Result<Conn, SinkError> {
        if let Some(conn) = &self.conn {
            return Ok(conn.clone());
        }
        let conn = match &mut self.target {
            Target::Single(client) => manager((**client).clone()).await.map(Conn::Single),
            Target::Sentinel(sentinel) => match sentinel.async_get_client().await {
                Ok(client) => {
                    self.master = Some(address_of(&client));
                    manager(client).await.map(Conn::Single)
                }
                Err(err) => Err(err),
            },
            Target::Cluster(client) => client.get_async_connection().await.map(Conn::Cluster),
        }
        .map_err(|err| connect_error(&self.location, &err, self.tls.as_ref()))?;
        self.conn = Some(conn.clone());
        Ok(conn)
    }

    /// After a connection-level failure, drops the connection so that the next call
    /// connects again (and, behind sentinels, asks them for the current master).
    fn after_failure(&mut self, err: &RedisError) {
        let stale = err.is_io_error()
            || err.is_connection_dropped()
            || err.is_connection_refusal()
            || err.is_timeout()
            || matches!(err.kind(), ErrorKind::Server(ServerErrorKind::ReadOnly));
        if stale && matches!(self.target, Target::Sentinel(_)) {
            self.conn = None;
            self.master = None;
        }
    }

    /// Behind sentinels, drops the connection to a server that turned replica, so that the
    /// next call asks the sentinels for the current master. (A cluster client follows the
    /// slot map itself; a single address has nowhere else to go.)
    fn forget_connection_to_a_replica(&mut self) {
        if matches!(self.target, Target::Sentinel(_)) && self.conn.is_some() {
            tracing::warn!(location = %self.location,
                "Redis answered READONLY (a replica now): asking the sentinels for the master");
            self.conn = None;
            self.master = None;
        }
    }

    /// Behind sentinels, after a batch was written: `Some(why)` when it must be sent again,
    /// because a sentinel names another master than the one it went to (a failover), or
    /// because, with replicas following the master, none acknowledged it within
    /// [`REPLICA_ACK_TIMEOUT`] (`WAIT 1`; the replica being promoted no longer follows the
    /// old master). Without a replica following (or no sentinel answering), no `WAIT`.
    async fn written_to_a_replaced_master(&mut self, conn: &mut Conn) -> Option<String> {
        let (Some(sentinels), Some(master)) = (&mut self.sentinels, self.master.clone()) else {
            return None;
        };
        let status = sentinels.status().await;
        let why = if let Some(other) = status.masters.iter().find(|named| **named != master) {
            Some(format!(
                "failover: a sentinel names {other} as master, the batch went to {master}"
            ))
        } else if status.healthy_replicas > 0 {
            let mut wait = redis::cmd("WAIT");
            wait.arg(1).arg(REPLICA_ACK_TIMEOUT.as_millis() as u64);
            match conn.command(&wait).await {
                Ok(redis::Value::Int(acked)) if acked >= 1 => None,
                Ok(redis::Value::Int(_)) => Some(format!(
                    "none of the {} replicas following {master} acknowledged the batch within \
                     {REPLICA_ACK_TIMEOUT:?} (a failover under way?)",
                    status.healthy_replicas
                )),
                Ok(other) => Some(format!("WAIT on {master}: unexpected reply {other:?}")),
                Err(err) => {
                    self.after_failure(&err);
                    Some(format!("WAIT on {master}: {err}"))
                }
            }
        } else {
            None
        };
        let why = format!("Redis at {}: {}; sending it again", self.location, why?);
        tracing::warn!(location = %self.location, %master, error = %why,
            "the batch goes again to the current master");
        self.conn = None;
        self.master = None;
        Some(why)
    }

    /// Names of the loaded modules, lower-cased; empty when `MODULE LIST` is refused.
    async fn modules(&mut self, conn: &mut Conn) -> Result<Vec<String>, SinkError> {
        match conn
            .command(&redis::cmd("MODULE").arg("LIST").to_owned())
            .await
        {
            Ok(value) => Ok(module_names(&value)),
            Err(err) if err.kind() == ErrorKind::Server(ServerErrorKind::NoPerm) => {
                tracing::warn!(location = %self.location, error = %err,
                    "MODULE LIST is not allowed; assuming no modules");
                Ok(Vec::new())
            }
            Err(err) => {
                self.after_failure(&err);
                Err(command_error(
                    &self.location,
                    "MODULE LIST",
                    &err,
                    self.tls.as_ref(),
                ))
            }
        }
    }

    async fn create_indexes(&mut self, conn: &mut Conn) -> Result<(), SinkError> {
        for (kind, index) in [
            (ItemKind::Event, EVENTS_INDEX),
            (ItemKind::Stat, STATS_INDEX),
        ] {
            let mut cmd = redis::cmd("FT.CREATE");
            cmd.arg(index)
                .arg("ON")
                .arg("JSON")
                .arg("PREFIX")
                .arg(1)
                .arg(key_prefix(kind))
                .arg("SCHEMA");
            for (path, name, field_type) in index_schema(kind) {
                cmd.arg(*path).arg("AS").arg(*name).arg(*field_type);
                if *field_type == "NUMERIC" {
                    cmd.arg("SORTABLE");
                }
            }
            match conn.command(&cmd).await {
                Ok(_) => tracing::info!(index, "RediSearch index created"),
                Err(err) if is_index_exists(&err) => {
                    tracing::debug!(index, "RediSearch index already exists")
                }
                Err(err) => {
                    self.after_failure(&err);
                    return Err(command_error(
                        &self.location,
                        &format!("FT.CREATE {index}"),
                        &err,
                        self.tls.as_ref(),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Sink for RedisSink {
    fn name(&self) -> &str {
        "redis"
    }

    fn kinds(&self) -> &[ItemKind] {
        &[ItemKind::Event, ItemKind::Stat]
    }

    fn batches_per_call(&self) -> usize {
        self.max_in_flight
    }

    async fn initialize(&mut self) -> Result<(), SinkError> {
        let mut conn = self.connection().await?;
        let modules = self.modules(&mut conn).await?;
        let has_json = modules.iter().any(|m| m == "rejson" || m == "redisjson");
        let has_search = modules.iter().any(|m| m == "search" || m == "ft");
        let mode = match (self.requested, has_json) {
            (RedisMode::Json, false) => {
                return Err(SinkError::Store(format!(
                    "openvidu.analytics.redis.mode is `json` but Redis at {} has no RedisJSON \
                     module (loaded: {modules:?})",
                    self.location
                )))
            }
            (RedisMode::Json, true) | (RedisMode::Auto, true) => RedisMode::Json,
            (RedisMode::Plain, _) | (RedisMode::Auto, false) => RedisMode::Plain,
        };
        if mode == RedisMode::Json {
            if has_search {
                self.create_indexes(&mut conn).await?;
            } else {
                tracing::warn!(location = %self.location,
                    "RediSearch is not loaded: JSON documents are stored without indexes");
            }
        }
        tracing::info!(location = %self.location, requested = %self.requested, %mode,
            modules = ?modules, "Redis sink ready");
        self.mode = Some(mode);
        Ok(())
    }

    async fn send_batch(&mut self, batch: &[SharedItem]) -> BatchReport {
        let mut conn = match self.connection().await {
            Ok(conn) => conn,
            Err(err) => return BatchReport::retry_all(batch.len(), err.to_string()),
        };
        let json = self.mode == Some(RedisMode::Json);
        let now = SystemTime::now();
        let pipelines = window::pipelines(batch, self.pipeline_per_room);
        let outcomes =
            window::send_all(&conn, json, batch, &pipelines, self.max_in_flight, now).await;
        let mut report = BatchReport::stored();
        let mut expired = 0;
        for outcome in outcomes {
            report.retry.extend(outcome.retry);
            report.rejected += outcome.rejected;
            expired += outcome.expired;
            if report.error.is_none() {
                report.error = outcome
                    .error
                    .map(|e| format!("Redis at {}: {e}", self.location));
            }
            if let Some(err) = outcome.failure {
                self.after_failure(&err);
            }
            if outcome.stale {
                // Each write answered READONLY (the pipeline itself succeeded): a master
                // demoted by a failover. Ask the sentinels again.
                self.forget_connection_to_a_replica();
            }
        }
        if let Some(error) = self.written_to_a_replaced_master(&mut conn).await {
            return BatchReport::retry_all(batch.len(), error);
        }
        if expired > 0 {
            report.rejected += expired;
            report.error.get_or_insert_with(|| {
                format!("{expired} items had expired before they could be stored")
            });
        }
        report
    }
}

#[cfg(test)]
mod tests;
