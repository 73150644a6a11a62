//! The Redis sink: the LiveKit deployment's own Redis (LiveKit's top-level `redis:` section:
//! one address, sentinel or cluster). Each item is one key, hash-tagged per room —
//! `event:{<room sid>}:[<participant>:][<track>:]<TYPE>:<ts>` and
//! `stat:{<room id>}:<participant>:<track>:<ts>` — whose TTL is the time left until the
//! item's `openvidu_expire_at`. With RedisJSON loaded the value is a JSON document
//! (`JSON.SET`, with RediSearch indexes on the fields the fork indexes); otherwise it is the
//! same JSON text as a plain string. Writes are pipelined, every reply is checked, and items
//! whose write failed are reported for retry.

pub mod config;
mod connect;
pub mod keys;
mod tls;
mod write;

pub use keys::{index_schema, redis_key, EVENTS_INDEX, STATS_INDEX};

use super::{BatchReport, Sink, SinkError};
use crate::config::{LiveKitRedisConfig, RedisMode, RedisSinkConfig};
use crate::model::{ItemKind, SharedItem};
use async_trait::async_trait;
use connect::{
    command_error, connect_error, is_index_exists, manager, module_names, target, Conn, Target,
};
use keys::key_prefix;
use redis::{ErrorKind, RedisError, ServerErrorKind};
use std::collections::BTreeMap;
use std::time::SystemTime;
use tls::RedisTls;

/// Stores items in Redis.
pub struct RedisSink {
    target: Target,
    /// TLS settings (for error messages), `None` for a plain connection.
    tls: Option<RedisTls>,
    /// For logs and errors: where it connects (no credentials).
    location: String,
    requested: RedisMode,
    /// `Json` or `Plain` once initialized.
    mode: Option<RedisMode>,
    conn: Option<Conn>,
    pipeline_per_room: bool,
}

impl RedisSink {
    /// A sink for the Redis of LiveKit's `redis:` section. Does not connect yet: a Redis
    /// that is down at start only delays initialization.
    pub fn new(redis: &LiveKitRedisConfig, settings: &RedisSinkConfig) -> anyhow::Result<Self> {
        let tls = RedisTls::from_config(redis)?;
        let (target, location) = target(redis, tls.as_ref())?;
        let cluster = matches!(target, Target::Cluster(_));
        Ok(RedisSink {
            target,
            tls,
            location,
            requested: settings.mode,
            mode: None,
            conn: None,
            // A cluster pipeline must stay on one slot; elsewhere one round trip per batch
            // is faster (see `benches/redis.rs`).
            pipeline_per_room: cluster,
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
                Ok(client) => manager(client).await.map(Conn::Single),
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
        }
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
        let conn = match self.connection().await {
            Ok(conn) => conn,
            Err(err) => return BatchReport::retry_all(batch.len(), err.to_string()),
        };
        let json = self.mode == Some(RedisMode::Json);
        let now = SystemTime::now();
        let groups: Vec<Vec<usize>> = if self.pipeline_per_room {
            let mut rooms: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
            for (position, item) in batch.iter().enumerate() {
                rooms.entry(&item.room_id).or_default().push(position);
            }
            rooms.into_values().collect()
        } else {
            vec![(0..batch.len()).collect()]
        };
        let outcomes = futures::future::join_all(groups.iter().map(|items| {
            let mut conn = conn.clone();
            async move { write::send_pipeline(&mut conn, json, batch, items, now).await }
        }))
        .await;
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
mod tests {
    use super::connect::*;
    use super::keys::*;
    use super::write::*;
    use super::*;
    use crate::model::Item;
    use livekit_protocol::{AnalyticsEvent, AnalyticsStat, ParticipantInfo, Room};
    use redis::Value;
    use std::time::Duration;

    fn ts(seconds: i64, nanos: i32) -> Option<pbjson_types::Timestamp> {
        Some(pbjson_types::Timestamp { seconds, nanos })
    }

    #[test]
    fn event_keys_are_hash_tagged_per_room() {
        let now = SystemTime::now();
        let event = AnalyticsEvent {
            r#type: livekit_protocol::AnalyticsEventType::RoomCreated as i32,
            room: Some(Room {
                sid: "RM_x".into(),
                ..Default::default()
            }),
            timestamp: ts(1700000000, 0),
            ..Default::default()
        };
        let item = Item::from_event(event, now, Duration::from_secs(60));
        assert_eq!(redis_key(&item), "event:{RM_x}:ROOM_CREATED:1700000000");

        let joined = AnalyticsEvent {
            r#type: livekit_protocol::AnalyticsEventType::ParticipantJoined as i32,
            room: Some(Room {
                sid: "RM_x".into(),
                ..Default::default()
            }),
            participant: Some(ParticipantInfo {
                sid: "PA_y".into(),
                ..Default::default()
            }),
            timestamp: ts(1700000000, 5),
            ..Default::default()
        };
        let item = Item::from_event(joined, now, Duration::from_secs(60));
        assert_eq!(
            redis_key(&item),
            "event:{RM_x}:PA_y:PARTICIPANT_JOINED:17000000005"
        );
    }

    #[test]
    fn stat_keys_are_hash_tagged_per_room() {
        let stat = AnalyticsStat {
            room_id: "RM_x".into(),
            participant_id: "PA_y".into(),
            track_id: "TR_z".into(),
            time_stamp: ts(1700000000, 42),
            ..Default::default()
        };
        let item = Item::from_stat(stat, SystemTime::now(), Duration::from_secs(60));
        assert_eq!(redis_key(&item), "stat:{RM_x}:PA_y:TR_z:170000000042");
    }

    #[test]
    fn module_names_from_resp2_and_resp3() {
        let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        let resp2 = Value::Array(vec![
            Value::Array(vec![
                bulk("name"),
                bulk("ReJSON"),
                bulk("ver"),
                Value::Int(1),
            ]),
            Value::Array(vec![bulk("name"), bulk("search")]),
        ]);
        assert_eq!(module_names(&resp2), ["rejson", "search"]);
        let resp3 = Value::Array(vec![Value::Map(vec![(bulk("name"), bulk("ReJSON"))])]);
        assert_eq!(module_names(&resp3), ["rejson"]);
        assert!(module_names(&Value::Array(vec![])).is_empty());
    }

    #[test]
    fn replies_are_checked() {
        assert!(matches!(
            check_replies(&[Value::Okay], false),
            Reply::Stored
        ));
        assert!(matches!(
            check_replies(&[Value::Okay, Value::Int(0)], true),
            Reply::Retry(_)
        ));
        assert!(matches!(
            check_replies(&[Value::Nil], false),
            Reply::Retry(_)
        ));
    }

    #[test]
    fn targets_follow_livekit_precedence() {
        let single = LiveKitRedisConfig {
            address: "127.0.0.1:6379".into(),
            password: "secret".into(),
            db: 2,
            ..Default::default()
        };
        let (single, location) = target(&single, None).unwrap();
        assert!(matches!(single, Target::Single(_)));
        assert_eq!(location, "redis://127.0.0.1:6379/2");
        assert!(!location.contains("secret"));

        let cluster = LiveKitRedisConfig {
            address: "127.0.0.1:6379".into(),
            cluster_addresses: vec!["127.0.0.1:7000".into(), "127.0.0.1:7001".into()],
            ..Default::default()
        };
        assert!(matches!(
            target(&cluster, None).unwrap().0,
            Target::Cluster(_)
        ));

        let sentinel = LiveKitRedisConfig {
            sentinel_master_name: "mymaster".into(),
            sentinel_addresses: vec!["127.0.0.1:26379".into()],
            cluster_addresses: vec!["127.0.0.1:7000".into()],
            ..Default::default()
        };
        let (sentinel, location) = target(&sentinel, None).unwrap();
        assert!(matches!(sentinel, Target::Sentinel(_)));
        assert!(location.contains("mymaster"));
    }
}
