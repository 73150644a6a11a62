//! What became of each index of the MongoDB sink ([`IndexBook`]): present, pending or
//! refused by the server (with its answer), and the sink's state built from it for
//! `/health`, `/ready`, `/api/health` and `analytics_sink_state`.

use super::indexes::IndexSpec;
use crate::model::EXPIRE_FIELD;
use crate::telemetry::SinkState;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The server's refusal of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The server's error code (e.g. 238).
    pub code: i32,
    /// Its name (e.g. `NotImplemented`).
    pub code_name: String,
    /// The server's message.
    pub message: String,
    /// For a refused TTL index: a plain index on the same field was created instead (the
    /// host's own expiry uses it).
    pub plain_instead: bool,
}

/// What became of one index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexState {
    /// Not tried yet, or the last try did not get the server's answer (retried soon).
    Pending,
    /// The index exists (created, or already there).
    Present,
    /// The server refused it (retried on the slow schedule).
    Refused(Refusal),
}

/// Every index of [`index_list`](super::indexes::index_list) and what became of it; shared by the sink, its upkeep
/// task and the telemetry that reads its state.
#[derive(Debug)]
pub struct IndexBook {
    entries: Mutex<Vec<(IndexSpec, IndexState)>>,
    /// Documents the host deleted itself (collections without their TTL index).
    pub expired_by_host: AtomicU64,
    /// How often refused indexes are tried again.
    pub retry_every: Duration,
    /// How often the host deletes expired documents where a TTL index is missing.
    pub expire_every: Duration,
}

impl IndexBook {
    /// The book of `specs`, all pending.
    pub fn new(specs: Vec<IndexSpec>, retry_every: Duration, expire_every: Duration) -> Self {
        IndexBook {
            entries: Mutex::new(
                specs
                    .into_iter()
                    .map(|s| (s, IndexState::Pending))
                    .collect(),
            ),
            expired_by_host: AtomicU64::new(0),
            retry_every,
            expire_every,
        }
    }

    /// Every index and its state now.
    pub fn snapshot(&self) -> Vec<(IndexSpec, IndexState)> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether every index has had the server's answer (present or refused).
    pub fn settled(&self) -> bool {
        self.snapshot()
            .iter()
            .all(|(_, state)| *state != IndexState::Pending)
    }

    /// The collections whose TTL index is missing (refused): the host expires their
    /// documents itself.
    pub fn host_expires(&self) -> Vec<&'static str> {
        self.snapshot()
            .iter()
            .filter(|(spec, state)| spec.ttl && matches!(state, IndexState::Refused(_)))
            .map(|(spec, _)| spec.collection)
            .collect()
    }

    /// Records `state` for the index `spec`; logs a change worth telling once.
    pub(super) fn record(&self, spec: &IndexSpec, state: IndexState) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = entries.iter_mut().find(|(s, _)| s == spec) else {
            return;
        };
        let before = std::mem::replace(&mut entry.1, state.clone());
        drop(entries);
        match (&before, &state) {
            (IndexState::Refused(_), IndexState::Present) => {
                tracing::info!(sink = "mongo", index = %spec.label(), "index created after all")
            }
            (IndexState::Refused(old), IndexState::Refused(new)) if old.code == new.code => {}
            (_, IndexState::Refused(r)) => tracing::warn!(
                sink = "mongo", index = %spec.label(), code = r.code, code_name = %r.code_name,
                error = %r.message, plain_instead = r.plain_instead, retry_every = ?self.retry_every,
                "the server refused an index; writing without it (retried on a slow schedule)"
            ),
            _ => {}
        }
    }

    /// The sink's state: notes for people and gauges.
    pub fn state(&self) -> SinkState {
        let entries = self.snapshot();
        let present = entries
            .iter()
            .filter(|(_, s)| *s == IndexState::Present)
            .count();
        let pending = entries
            .iter()
            .filter(|(_, s)| *s == IndexState::Pending)
            .count();
        let refused: Vec<(&IndexSpec, &Refusal)> = entries
            .iter()
            .filter_map(|(spec, s)| match s {
                IndexState::Refused(r) => Some((spec, r)),
                _ => None,
            })
            .collect();
        let expires = self.host_expires();
        let mut notes = Vec::new();
        if !refused.is_empty() || pending > 0 {
            let mut note = format!("indexes: {present}/{}", entries.len());
            if !refused.is_empty() {
                let missing: Vec<String> = refused
                    .iter()
                    .map(|(spec, r)| format!("{} ({})", spec.label(), r.code_name))
                    .collect();
                note.push_str(&format!(
                    ", missing: {}; retried every {}s and on reload",
                    missing.join(", "),
                    self.retry_every.as_secs()
                ));
            }
            if pending > 0 {
                note.push_str(&format!(", {pending} not created yet"));
            }
            notes.push(note);
        }
        let mut reasons: Vec<(String, Vec<String>)> = Vec::new();
        for (spec, r) in &refused {
            let reason = format!("{} ({}): {}", r.code_name, r.code, r.message);
            match reasons.iter_mut().find(|(text, _)| *text == reason) {
                Some((_, names)) => names.push(spec.label()),
                None => reasons.push((reason, vec![spec.label()])),
            }
        }
        for (reason, names) in reasons {
            notes.push(format!("refused {}: {reason}", names.join(", ")));
        }
        if !expires.is_empty() {
            notes.push(format!(
                "expiry: the host deletes documents past {EXPIRE_FIELD} in {} every {}s \
                 (no TTL index; {} deleted so far)",
                expires.join(", "),
                self.expire_every.as_secs(),
                self.expired_by_host.load(Ordering::Relaxed)
            ));
        }
        SinkState {
            notes,
            gauges: vec![
                ("indexes_present", present as i64),
                ("indexes_missing", refused.len() as i64),
                ("indexes_pending", pending as i64),
                ("host_expiry", i64::from(!expires.is_empty())),
            ],
        }
    }
}
