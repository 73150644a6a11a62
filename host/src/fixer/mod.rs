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
pub mod synthetic;
mod task;

pub use task::FixerTask;

use crate::config::Config;
pub use crate::counters::FixerCounters;
use crate::pipeline::Pipeline;
use crate::sinks::mongo::entities::{Entity, COLLECTION};
use anyhow::Context;
use bson::{doc, Document};
use livekit_api::LiveKitApi;
use mongodb::{Client, Database};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use synthetic::Moment;

/// The collection holding the time the fixer last ran.
pub const LAST_ALIVE: &str = "last_alive";

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

/// The fixer of one MongoDB database.
pub struct Fixer {
    db: Database,
    api: LiveKitApi,
    expiration: Duration,
    pending: Vec<Pending>,
    counters: Arc<FixerCounters>,
    /// Where the synthetic events go after MongoDB (every other sink), if anywhere.
    pipeline: Option<Arc<Pipeline>>,
    /// Events written to MongoDB that the pipeline refused (full, or closing): offered
    /// again after the next run.
    unforwarded: Vec<Document>,
}

impl Fixer {
    /// The fixer of the configured MongoDB; `None` without `mongo_url` (nothing to fix).
    pub async fn from_config(config: &Config) -> anyhow::Result<Option<Fixer>> {
        let a = &config.analytics;
        let Some(url) = &a.mongo_url else {
            return Ok(None);
        };
        let mut options = mongodb::options::ClientOptions::parse(url)
            .await
            .context("openvidu.analytics.mongo_url")?;
        options
            .server_selection_timeout
            .get_or_insert(Duration::from_secs(5));
        let db = Client::with_options(options)?.database(a.database());
        let livekit = a
            .livekit_url
            .clone()
            .unwrap_or_else(|| "http://127.0.0.1:7880".into());
        let api =
            LiveKitApi::new(&livekit, &config.keys).context("openvidu.analytics.livekit_url")?;
        Ok(Some(Fixer::new(db, api, a.expiration)))
    }

    /// A fixer of `db`, asking `api`, writing events that expire after `expiration`.
    pub fn new(db: Database, api: LiveKitApi, expiration: Duration) -> Fixer {
        Fixer {
            db,
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

    /// One run: writes what the previous run prepared (unless superseded), then looks for
    /// entities LiveKit no longer has, then upserts `last_alive`.
    pub async fn run_once(&mut self) -> anyhow::Result<RunReport> {
        let mut report = RunReport::default();
        self.settle(&mut report).await?;
        self.forward().await;
        let active = self.active().await?;
        let last_alive = self.last_alive().await?;
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
                let event = self.prepare(entity, &id, last_alive).await?;
                self.pending.push(Pending { entity, id, event });
                report.prepared += 1;
            }
        }
        self.db
            .collection::<Document>(LAST_ALIVE)
            .update_one(
                doc! {"_id": "server"},
                doc! {"$set": {"last_alive": Moment::now().to_bson()}},
            )
            .upsert(true)
            .await
            .context("upserting last_alive")?;
        self.counters.runs.fetch_add(1, Ordering::Relaxed);
        Ok(report)
    }

    /// Writes the prepared events whose real end event is not stored, then removes their
    /// entities. On a failed write everything stays prepared for the next run.
    async fn settle(&mut self, report: &mut RunReport) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let events = self.db.collection::<Document>("events");
        let mut write = Vec::new();
        let mut remove = Vec::new();
        for pending in &self.pending {
            let filter = doc! {
                synthetic::id_field(pending.entity): &pending.id,
                "type": {"$in": synthetic::end_types(pending.entity)},
            };
            let ended = events
                .find_one(filter)
                .projection(doc! {"_id": 1})
                .await
                .with_context(|| format!("looking for the end event of {}", pending.id))?
                .is_some();
            match (&pending.event, ended) {
                (Some(_), true) => report.superseded += 1,
                (Some(event), false) => write.push(event.clone()),
                (None, _) => {}
            }
            remove.push(pending.id.clone());
        }
        if !write.is_empty() {
            // Each keeps the ObjectId it got when prepared, so after a partial failure the
            // retry finds those stored already as duplicates.
            if let Err(err) = events.insert_many(&write).ordered(false).await {
                if !only_duplicates(&err) {
                    return Err(err).context("inserting the synthetic end events");
                }
            }
            // The read API lists rooms from their summaries: a room ended here is ended there.
            crate::sinks::mongo::room_sessions::apply_documents(&self.db, &write)
                .await
                .context("summarizing the synthetic end events into room_sessions")?;
        }
        let deleted = self
            .db
            .collection::<Document>(COLLECTION)
            .delete_many(doc! {"_id": {"$in": &remove}})
            .await
            .context("removing ended entities from active_entities")?;
        report.written = write.len();
        report.removed = deleted.deleted_count as usize;
        let c = &self.counters;
        c.synthetic_events
            .fetch_add(write.len() as u64, Ordering::Relaxed);
        c.superseded
            .fetch_add(report.superseded as u64, Ordering::Relaxed);
        c.removed
            .fetch_add(deleted.deleted_count, Ordering::Relaxed);
        self.unforwarded.extend(write);
        self.pending.clear();
        Ok(())
    }

    /// Gives the events written to MongoDB (this run's and any refused before) to the other
    /// sinks. A refusal keeps them for the next run (MongoDB holds them meanwhile): a
    /// warning, nothing lost while the host runs.
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
                "active-entities fixer: the other sinks refused the synthetic end events; \
                 offered again after the next run (MongoDB has them)"
            ),
        }
    }

    /// `active_entities`, by kind (entities of an unknown kind are left alone).
    async fn active(&self) -> anyhow::Result<BTreeMap<Entity, Vec<String>>> {
        let mut cursor = self
            .db
            .collection::<Document>(COLLECTION)
            .find(doc! {})
            .await
            .context("reading active_entities")?;
        let mut active: BTreeMap<Entity, Vec<String>> = BTreeMap::new();
        while cursor.advance().await.context("reading active_entities")? {
            let doc = cursor.deserialize_current()?;
            let (Ok(id), Ok(name)) = (doc.get_str("_id"), doc.get_str("entity")) else {
                continue;
            };
            if let Some(entity) = Entity::ALL.into_iter().find(|e| e.name() == name) {
                active.entry(entity).or_default().push(id.to_owned());
            }
        }
        Ok(active)
    }

    /// When the fixer last ran (now when it never did).
    async fn last_alive(&self) -> anyhow::Result<Moment> {
        let found = self
            .db
            .collection::<Document>(LAST_ALIVE)
            .find_one(doc! {"_id": "server"})
            .await
            .context("reading last_alive")?;
        Ok(found
            .and_then(|d| {
                d.get_document("last_alive")
                    .ok()
                    .and_then(Moment::from_bson)
            })
            .unwrap_or_else(Moment::now))
    }

    /// The synthetic end event of an entity gone from LiveKit, from its start event; `None`
    /// when the start event is not stored.
    async fn prepare(
        &self,
        entity: Entity,
        id: &str,
        last_alive: Moment,
    ) -> anyhow::Result<Option<Document>> {
        let filter = doc! {synthetic::id_field(entity): id, "type": synthetic::start_type(entity)};
        let start = self
            .db
            .collection::<Document>("events")
            .find_one(filter)
            .projection(synthetic::projection(entity))
            .await
            .with_context(|| {
                format!(
                    "reading the {} event of {id}",
                    synthetic::start_type(entity)
                )
            })?;
        Ok(start.map(|s| synthetic::end_event(entity, id, s, last_alive, self.expiration)))
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
