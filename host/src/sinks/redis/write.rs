//! Pipelined writes: the commands of a batch (or of one room's items) in one round trip,
//! each item settled from its own replies.

use super::connect::Conn;
use super::keys::redis_key;
use crate::model::SharedItem;
use redis::{RedisError, Value};
use std::time::SystemTime;

/// Sends one pipeline holding the writes of `items` (positions into `batch`) and settles each
/// item from its replies: `JSON.SET` + `PEXPIRE` when `json`, else `SET … PX`.
pub(super) async fn send_pipeline(
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
            Reply::Demoted(error) => {
                outcome.stale = true;
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

/// What became of one pipeline.
#[derive(Default)]
pub(super) struct PipelineOutcome {
    /// Positions to send again.
    pub retry: Vec<usize>,
    /// Items refused for good.
    pub rejected: usize,
    /// Items whose expiry had passed before they could be written.
    pub expired: usize,
    /// The first error, for the log.
    pub error: Option<String>,
    /// A connection-level failure, if the whole pipeline failed.
    pub failure: Option<RedisError>,
    /// A write was refused with `READONLY`: the server is a replica now (demoted by a
    /// failover), so the connection must be made again to the current master.
    pub stale: bool,
}

pub(super) enum Reply {
    Stored,
    Retry(String),
    /// `READONLY`: the server is a replica now; retry on the current master.
    Demoted(String),
    Reject(String),
}

/// Checks the replies of one item: `OK` for `SET`/`JSON.SET`, `1` for `PEXPIRE`.
pub(super) fn check_replies(replies: &[Value], json: bool) -> Reply {
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
            Value::ServerError(err) if err.code() == "READONLY" => {
                return Reply::Demoted(format!("{command}: {err}"))
            }
            Value::ServerError(err) => return Reply::Retry(format!("{command}: {err}")),
            other => return Reply::Retry(format!("{command}: unexpected reply {other:?}")),
        }
    }
    Reply::Stored
}
