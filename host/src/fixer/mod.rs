//! The active-entities fixer, as the fork that OpenVidu 3.9 ships runs it: when a node dies,
//! its rooms, participants, egresses and ingresses never get their end events and stay in
//! `active_entities` for ever. Every `fixer_period()` the fixer compares `active_entities`
//! with what LiveKit really has ([`livekit_api`]); for each entity LiveKit no longer lists
//! it prepares an end event built from the start event ([`synthetic`]), and one period later
//! writes it — unless the real end event was stored meanwhile — and removes the entity.
//! Then it upserts `last_alive` (`{_id: "server", last_alive: {seconds, nanos}}`), the time
//! the next synthetic events are dated at.
//!
//! LiveKit unreachable (or a list call refused): nothing of that kind is ended that period;
//! a warning, and [`FixerCounters::livekit_failures`]. With LiveKit's Redis configured,
//! one node fixes per period under the fork's lock ([`lock`]).
//!
//! The synthetic events are written to MongoDB by the fixer itself, in the fork's shape (an
//! ObjectId `_id`, integer timestamps), with `active_entities` and `room_sessions`; then
//! they go through the pipeline to every other sink ([`forward`]): the Redis sink, the file
//! store and the plugins get them like any end event, with the same `_id` (the ObjectId's
//! hex). The MongoDB sink is not given them (it would store each a second time).

pub mod forward;
pub mod livekit_api;
pub mod lock;
pub mod store;
pub mod synthetic;
mod task;

pub use store::{FixerStore, LAST_ALIVE};
pub use task::FixerTask;

use crate::config::Config;
pub use crate::counters::FixerCounters;
use crate::pipeline::Pipeline;
use crate::sinks::mongo::entities::Entity;
use anyhow::Context;
use bson::Document;
use livekit_api::LiveKitApi;
use mongodb::Client;
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use store::EmbeddedActive;
use synthetic::Moment;

/// A synthetic end event prepared by one run, written by the next.
#[derive(Debug, Clone)]
struct Pending {
    entity: Entity,
    id: String,
    /// `None`: no start event is stored; the entity is only removed.
    event: Option<Document>,
}

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// Synthetic end events written now (prepared by the previous run).
    pub written: usize,
    /// Prepared events dropped because the real end event was stored.
    pub superseded: usize,
    /// Entities removed from `active_entities`.
    pub removed: usize,
    /// Entities found gone from LiveKit now (written at the next run).
    pub prepared: usize,
    /// Kinds not checked because LiveKit's API failed.
    pub livekit_failures: usize,
}

/// The fixer of one MongoDB database, or of the embedded store.
pub struct Fixer {
    store: FixerStore,
    api: LiveKitApi,
    expiration: Duration,
    pending: Vec<Pending>,
    counters: Arc<FixerCounters>,
    /// Where the synthetic events go after MongoDB (every other sink), if anywhere; for
    /// the embedded store, every sink (the file store among them).
    pipeline: Option<Arc<Pipeline>>,
    /// Events written to MongoDB (or prepared for the embedded store) that the pipeline
    /// refused (full, or closing): offered again after the next run.
    unforwarded: Vec<Document>,
}

impl Fixer {
    /// The fixer of the configured MongoDB; without `mongo_url`, of the embedded store
    /// when it is on with its index; `None` when there is neither (nothing to fix).
    pub async fn from_config(config: &Config) -> anyhow::Result<Option<Fixer>> {
        let a = &config.analytics;
        let store = match &a.mongo_url {
            Some(url) => {
                let mut options = mongodb::options::ClientOptions::parse(url)
                    .await
                    .context("openvidu.analytics.mongo_url")?;
                options
                    .server_selection_timeout
                    .get_or_insert(Duration::from_secs(5));
                FixerStore::Mongo(Client::with_options(options)?.database(a.database()))
            }
            None if config.file_index_enabled() => {
                FixerStore::Embedded(EmbeddedActive::new(&a.file.dir))
            }
            None => return Ok(None),
        };
        let livekit = a
            .livekit_url
            .clone()
            .unwrap_or_else(|| "http://127.0.0.1:7880".into());
        let api =
            LiveKitApi::new(&livekit, &config.keys).context("openvidu.analytics.livekit_url")?;
        Ok(Some(Fixer::new(store, api, a.expiration)))
    }

    /// A fixer of `store`, asking `api`, writing events that expire after `expiration`.
    pub fn new(store: FixerStore, api: LiveKitApi, expiration: Duration) -> Fixer {
        Fixer {
            store,
            api,
            expiration,
            pending: Vec::new(),
            counters: Arc::default(),
            pipeline: None,
            unforwarded: Vec::new(),
        }
    }

    /// The same, giving its synthetic events to every sink of `pipeline` but MongoDB.
    pub fn with_pipeline(mut self, pipeline: Arc<Pipeline>) -> Fixer {
        self.pipeline = Some(pipeline);
        self
    }

    /// The same, counting into `counters` (kept across restarts of the fixer).
    pub fn with_counters(mut self, counters: Arc<FixerCounters>) -> Fixer {
        self.counters = counters;
        self
    }

    /// Its counters.
    pub fn counters(&self) -> Arc<FixerCounters> {
        self.counters.clone()
    }

    /// Whether it fixes a MongoDB database (the Redis lock is for those: the embedded
    /// store is this host's alone).
    pub fn is_mongo(&self) -> bool {
        self.store.is_mongo()
    }

    /// One run: writes what the previous run prepared (unless superseded), then looks for
    /// entities LiveKit no longer has, then records `last_alive`.
    pub async fn run_once(&mut self) -> anyhow::Result<RunReport> {
        let mut report = RunReport::default();
        self.settle(&mut report).await?;
        self.forward().await;
        let active = self.store.active().await?;
        let last_alive = self.store.last_alive().await?.unwrap_or_else(Moment::now);
        for (entity, ids) in active {
            let live = match entity {
                Entity::Room => self
                    .api
                    .rooms()
                    .await
                    .map(|r| r.into_iter().map(|(sid, _)| sid).collect::<BTreeSet<_>>()),
                Entity::Participant => self.api.participants().await,
                Entity::Egress => self.api.egresses().await,
                Entity::Ingress => self.api.ingresses().await,
            };
            let live = match live {
                Ok(live) => live,
                Err(err) => {
                    tracing::warn!(entity = entity.name(), url = self.api.url(), error = %format!("{err:#}"), "active-entities fixer: LiveKit's API failed; not fixing these this period");
                    self.counters
                        .livekit_failures
                        .fetch_add(1, Ordering::Relaxed);
                    report.livekit_failures += 1;
                    continue;
                }
            };
            for id in ids.into_iter().filter(|id| !live.contains(id)) {
                let event = self
                    .store
                    .start_event(entity, &id)
                    .await?
                    .map(|s| synthetic::end_event(entity, &id, s, last_alive, self.expiration));
                self.pending.push(Pending { entity, id, event });
                report.prepared += 1;
            }
        }
        self.store.set_last_alive(Moment::now()).await?;
        self.counters.runs.fetch_add(1, Ordering::Relaxed);
        Ok(report)
    }

    /// Writes the prepared events whose real end event is not stored, then removes their
    /// entities. On a failed write everything stays prepared for the next run.
    async fn settle(&mut self, report: &mut RunReport) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut write = Vec::new();
        let mut remove = Vec::new();
        for pending in &self.pending {
            let ended = self.store.ended(pending.entity, &pending.id).await?;
            match (&pending.event, ended) {
                (Some(_), true) => report.superseded += 1,
                (Some(event), false) => write.push(event.clone()),
                (None, _) => {}
            }
            remove.push(pending.id.clone());
        }
        if let (false, FixerStore::Mongo(db)) = (write.is_empty(), &self.store) {
            let events = db.collection::<Document>("events");
            // Each keeps the ObjectId it got when prepared, so after a partial failure the
            // retry finds those stored already as duplicates.
            if let Err(err) = events.insert_many(&write).ordered(false).await {
                if !only_duplicates(&err) {
                    return Err(err).context("inserting the synthetic end events");
                }
            }
            // The read API lists rooms from their summaries: a room ended here is ended there.
            crate::sinks::mongo::room_sessions::apply_documents(db, &write)
                .await
                .context("summarizing the synthetic end events into room_sessions")?;
        }
        let removed = self.store.remove(&remove, self.expiration).await?;
        report.written = write.len();
        report.removed = removed as usize;
        let c = &self.counters;
        c.synthetic_events
            .fetch_add(write.len() as u64, Ordering::Relaxed);
        c.superseded
            .fetch_add(report.superseded as u64, Ordering::Relaxed);
        c.removed.fetch_add(removed, Ordering::Relaxed);
        self.unforwarded.extend(write);
        self.pending.clear();
        Ok(())
    }

    /// Gives the events written to MongoDB (this run's and any refused before) to the other
    /// sinks — for the embedded store, to every sink: the file store stores them there. A
    /// refusal keeps them for the next run: a warning, nothing lost while the host runs.
    async fn forward(&mut self) {
        let Some(pipeline) = &self.pipeline else {
            self.unforwarded.clear();
            return;
        };
        if self.unforwarded.is_empty() {
            return;
        }
        let items: Vec<_> = self
            .unforwarded
            .iter()
            .filter_map(forward::item_of)
            .collect();
        let n = items.len() as u64;
        match pipeline.accept_async(items).await {
            Ok(_) => {
                self.counters.forwarded.fetch_add(n, Ordering::Relaxed);
                self.unforwarded.clear();
            }
            Err(err) => tracing::warn!(
                events = n, error = %err,
                "active-entities fixer: the sinks refused the synthetic end events; \
                 offered again after the next run"
            ),
        }
    }
}

/// Whether an insert failed only on documents already stored (code 11000).
fn only_duplicates(err: &mongodb::error::Error) -> bool {
    match &*err.kind {
        mongodb::error::ErrorKind::InsertMany(failure) => {
            failure.write_concern_error.is_none()
                && failure
                    .write_errors
                    .iter()
                    .flatten()
                    .all(|e| e.code == crate::sinks::mongo::DUPLICATE_KEY)
        }
        _ => false,
    }
}
