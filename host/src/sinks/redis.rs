//! The Redis sink: the LiveKit deployment's own Redis (LiveKit's top-level `redis:` section:
//! one address, sentinel or cluster). Each item is one key, hash-tagged per room —
//! `event:{<room sid>}:[<participant>:][<track>:]<TYPE>:<ts>` and
//! `stat:{<room id>}:<participant>:<track>:<ts>` — whose TTL is the time left until the
//! item's `openvidu_expire_at`. With RedisJSON loaded the value is a JSON document
//! (`JSON.SET`, with RediSearch indexes on the fields the fork indexes); otherwise it is the
//! same JSON text as a plain string. Writes are pipelined, every reply is checked, and items
//! whose write failed are reported for retry.

use super::{BatchReport, Sink, SinkError};
use crate::config::redis::split_address;
use crate::config::{LiveKitRedisConfig, RedisMode, RedisSinkConfig};
use crate::model::{Item, ItemKind, SharedItem, Timestamp};
use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    Client, ConnectionAddr, ErrorKind, IntoConnectionInfo, Pipeline, RedisConnectionInfo,
    RedisError, ServerErrorKind, TlsMode, Value,
};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

/// The RediSearch index over event documents.
pub const EVENTS_INDEX: &str = "idx:events";
/// The RediSearch index over stat documents.
pub const STATS_INDEX: &str = "idx:stats";

/// Longest a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a command or pipeline may wait for its reply.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// The RediSearch schema of each kind: (JSON path, attribute name, field type).
pub fn index_schema(kind: ItemKind) -> &'static [(&'static str, &'static str, &'static str)] {
    match kind {
        ItemKind::Event => &[
            ("$.type", "type", "TAG"),
            ("$.room.sid", "room_sid", "TAG"),
            ("$.participant.sid", "participant_sid", "TAG"),
            ("$.timestamp.seconds", "timestamp", "NUMERIC"),
        ],
        ItemKind::Stat => &[
            ("$.room_id", "room_id", "TAG"),
            ("$.participant_id", "participant_id", "TAG"),
            ("$.track_id", "track_id", "TAG"),
            ("$.kind", "kind", "TAG"),
            ("$.time_stamp.seconds", "time_stamp", "NUMERIC"),
            ("$.score", "score", "NUMERIC"),
        ],
        ItemKind::NodeRooms | ItemKind::NodeStats => &[],
    }
}

/// The Redis key of an item (see the module documentation).
pub fn redis_key(item: &Item) -> String {
    let mut key = String::with_capacity(96);
    match item.kind {
        ItemKind::Event => {
            let _ = write!(key, "event:{{{}}}:", item.room_id);
            for part in [&item.participant_id, &item.track_id] {
                if !part.is_empty() {
                    key.push_str(part);
                    key.push(':');
                }
            }
            key.push_str(&item.type_name);
        }
        ItemKind::Stat => {
            let _ = write!(
                key,
                "stat:{{{}}}:{}:{}",
                item.room_id, item.participant_id, item.track_id
            );
        }
        ItemKind::NodeRooms | ItemKind::NodeStats => {
            let _ = write!(key, "{}:{{{}}}", item.kind.collection(), item.node_id);
        }
    }
    key.push(':');
    push_ts(&mut key, item.timestamp);
    key
}

/// `<ts>` as in the document ids: decimal seconds, then decimal nanos when nanos > 0.
fn push_ts(key: &mut String, ts: Timestamp) {
    let _ = write!(key, "{}", ts.seconds);
    if ts.nanos > 0 {
        let _ = write!(key, "{}", ts.nanos);
    }
}

/// The key prefix of each kind (what a RediSearch index covers).
fn key_prefix(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Event => "event:",
        ItemKind::Stat => "stat:",
        ItemKind::NodeRooms => "node_rooms:",
        ItemKind::NodeStats => "node_stats:",
    }
}

/// How to reach the Redis.
enum Target {
    Single(Box<Client>),
    Sentinel(Box<SentinelClient>),
    Cluster(Box<ClusterClient>),
}

/// A live connection; cheap to clone (multiplexed).
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Conn {
    async fn pipeline(&mut self, pipe: &Pipeline) -> redis::RedisResult<Vec<Value>> {
        match self {
            Conn::Single(c) => pipe.query_async(c).await,
            Conn::Cluster(c) => pipe.query_async(c).await,
        }
    }

    async fn command(&mut self, cmd: &redis::Cmd) -> redis::RedisResult<Value> {
        match self {
            Conn::Single(c) => cmd.query_async(c).await,
            Conn::Cluster(c) => cmd.query_async(c).await,
        }
    }
}

/// Stores items in Redis.
pub struct RedisSink {
    target: Target,
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
        let (target, location) = target(redis)?;
        let cluster = matches!(target, Target::Cluster(_));
        Ok(RedisSink {
            target,
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
        .map_err(|err| connect_error(&self.location, &err))?;
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
                Err(command_error(&self.location, "MODULE LIST", &err))
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
                    ));
                }
            }
        }
        Ok(())
    }

    /// Sends one pipeline holding the writes of `items` (positions into the batch) and
    /// settles each item from its replies.
    async fn send_pipeline(
        conn: &mut Conn,
        json: bool,
        batch: &[SharedItem],
        items: &[usize],
        now: SystemTime,
    ) -> PipelineOutcome {
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        let mut outcome = PipelineOutcome::default();
        let mut written = Vec::with_capacity(items.len());
        for &position in items {
            let item = &batch[position];
            let ttl = item.expire_at.duration_since(now).unwrap_or_default();
            let ttl_ms = ttl.as_millis().min(i64::MAX as u128) as i64;
            if ttl_ms <= 0 {
                outcome.expired += 1;
                continue;
            }
            let key = redis_key(item);
            if json {
                pipe.cmd("JSON.SET").arg(&key).arg("$").arg(item.json());
                pipe.cmd("PEXPIRE").arg(&key).arg(ttl_ms);
            } else {
                pipe.cmd("SET")
                    .arg(&key)
                    .arg(item.json())
                    .arg("PX")
                    .arg(ttl_ms);
            }
            written.push(position);
        }
        if written.is_empty() {
            return outcome;
        }
        let per_item = if json { 2 } else { 1 };
        let replies = match conn.pipeline(&pipe).await {
            Ok(replies) if replies.len() == written.len() * per_item => replies,
            Ok(replies) => {
                outcome.retry.extend(&written);
                outcome.error = Some(format!(
                    "pipeline of {} commands got {} replies",
                    written.len() * per_item,
                    replies.len()
                ));
                return outcome;
            }
            Err(err) => {
                outcome.retry.extend(&written);
                outcome.error = Some(format!("pipeline failed: {err}"));
                outcome.failure = Some(err);
                return outcome;
            }
        };
        for (position, replies) in written.iter().zip(replies.chunks(per_item)) {
            match check_replies(replies, json) {
                Reply::Stored => {}
                Reply::Retry(error) => {
                    outcome.retry.push(*position);
                    outcome.error.get_or_insert(error);
                }
                Reply::Reject(error) => {
                    outcome.rejected += 1;
                    outcome.error.get_or_insert(error);
                }
            }
        }
        outcome
    }
}

/// What became of one pipeline.
#[derive(Default)]
struct PipelineOutcome {
    retry: Vec<usize>,
    rejected: usize,
    expired: usize,
    error: Option<String>,
    failure: Option<RedisError>,
}

enum Reply {
    Stored,
    Retry(String),
    Reject(String),
}

/// Checks the replies of one item: `OK` for `SET`/`JSON.SET`, `1` for `PEXPIRE`.
fn check_replies(replies: &[Value], json: bool) -> Reply {
    for (i, reply) in replies.iter().enumerate() {
        let command = match (json, i) {
            (false, _) => "SET",
            (true, 0) => "JSON.SET",
            (true, _) => "PEXPIRE",
        };
        match reply {
            Value::Okay | Value::Int(1) => {}
            Value::SimpleString(s) if s == "OK" => {}
            Value::ServerError(err) if err.code() == "WRONGTYPE" => {
                return Reply::Reject(format!("{command}: {err}"))
            }
            Value::ServerError(err) => return Reply::Retry(format!("{command}: {err}")),
            other => return Reply::Retry(format!("{command}: unexpected reply {other:?}")),
        }
    }
    Reply::Stored
}

async fn manager(client: Client) -> redis::RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_secs(1));
    ConnectionManager::new_with_config(client, config).await
}

fn is_auth_error(err: &RedisError) -> bool {
    err.kind() == ErrorKind::AuthenticationFailed
        || matches!(err.code(), Some("WRONGPASS" | "NOAUTH"))
        || err.to_string().contains("WRONGPASS")
}

fn connect_error(location: &str, err: &RedisError) -> SinkError {
    if is_auth_error(err) {
        SinkError::Store(format!(
            "Redis at {location}: authentication failed (check redis.username and \
             redis.password): {err}"
        ))
    } else {
        SinkError::Unavailable(format!("cannot connect to Redis at {location}: {err}"))
    }
}

fn command_error(location: &str, command: &str, err: &RedisError) -> SinkError {
    if is_auth_error(err) {
        return connect_error(location, err);
    }
    if err.is_io_error() || err.is_timeout() || err.is_connection_dropped() {
        SinkError::Unavailable(format!("Redis at {location}: {command}: {err}"))
    } else {
        SinkError::Store(format!("Redis at {location}: {command}: {err}"))
    }
}

/// RediSearch's "Index already exists" (parsed by the client as code `Index`).
fn is_index_exists(err: &RedisError) -> bool {
    let text = err.to_string().to_ascii_lowercase();
    text.contains("index") && text.contains("already exists")
}

/// The `name` of each entry of a `MODULE LIST` reply (RESP2 arrays or RESP3 maps).
fn module_names(value: &Value) -> Vec<String> {
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
/// address.
fn target(redis: &LiveKitRedisConfig) -> anyhow::Result<(Target, String)> {
    let tls = redis.use_tls;
    let addr = |address: &str| -> anyhow::Result<ConnectionAddr> {
        let (host, port) = split_address(address)
            .ok_or_else(|| anyhow::anyhow!("redis: `{address}` is not a `host:port` address"))?;
        Ok(if tls {
            ConnectionAddr::TcpTls {
                host,
                port,
                insecure: false,
                tls_params: None,
            }
        } else {
            ConnectionAddr::Tcp(host, port)
        })
    };
    let mut settings = RedisConnectionInfo::default().set_db(redis.db);
    if !redis.username.is_empty() {
        settings = settings.set_username(&redis.username);
    }
    if !redis.password.is_empty() {
        settings = settings.set_password(&redis.password);
    }
    let scheme = if tls { "rediss" } else { "redis" };
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
        if tls {
            builder = builder
                .set_client_to_redis_tls_mode(TlsMode::Secure)
                .set_client_to_sentinel_tls_mode(TlsMode::Secure);
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
        if tls {
            builder = builder.tls(TlsMode::Secure);
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
    Ok((Target::Single(Box::new(Client::open(info)?)), location))
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
            async move { Self::send_pipeline(&mut conn, json, batch, items, now).await }
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
    use super::*;
    use crate::model::Item;
    use livekit_protocol::{AnalyticsEvent, AnalyticsStat, ParticipantInfo, Room};

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
        let (single, location) = target(&single).unwrap();
        assert!(matches!(single, Target::Single(_)));
        assert_eq!(location, "redis://127.0.0.1:6379/2");
        assert!(!location.contains("secret"));

        let cluster = LiveKitRedisConfig {
            address: "127.0.0.1:6379".into(),
            cluster_addresses: vec!["127.0.0.1:7000".into(), "127.0.0.1:7001".into()],
            ..Default::default()
        };
        assert!(matches!(target(&cluster).unwrap().0, Target::Cluster(_)));

        let sentinel = LiveKitRedisConfig {
            sentinel_master_name: "mymaster".into(),
            sentinel_addresses: vec!["127.0.0.1:26379".into()],
            cluster_addresses: vec!["127.0.0.1:7000".into()],
            ..Default::default()
        };
        let (sentinel, location) = target(&sentinel).unwrap();
        assert!(matches!(sentinel, Target::Sentinel(_)));
        assert!(location.contains("mymaster"));
    }
}
